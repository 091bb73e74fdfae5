"""Regenerate the ``protos/*_pb2.py`` modules from ``protos/*.proto``.

Usage (from anywhere)::

    python protos/regenerate.py           # rewrite the generated modules in place
    python protos/regenerate.py --check   # regenerate into a temp dir; exit 1 if anything differs

The committed modules were made with grpcio-tools==1.85.1, whose bundled protoc writes
protobuf 7.35.1 gencode (so the runtime needs protobuf>=7.35.1,<8). Another
grpcio-tools version may write different bytes and make ``--check`` fail.
"""
from __future__ import annotations

import argparse
import difflib
import shutil
import sys
import tempfile
from pathlib import Path

PROTOS_DIR = Path(__file__).resolve().parent
EXPECTED_GRPCIO_TOOLS = "1.85.1"


# The installed import path of this folder. protoc names each file by its path below an include
# root, and protobuf registers that name in the process-wide descriptor pool, so the files must be
# known as "tensorloupe/protos/x.proto" (never a bare "protos/x.proto" another library may use too).
IMPORT_DIR = Path("tensorloupe") / "protos"


def proto_files() -> list[str]:
    """Our .proto files as protoc and the descriptor pool name them, sorted."""
    return sorted((IMPORT_DIR / p.name).as_posix() for p in PROTOS_DIR.glob("*.proto"))


def generate(out_dir: Path) -> None:
    """Run protoc (from grpc_tools) on every .proto file, writing modules under
    out_dir/tensorloupe/protos."""
    from grpc_tools import protoc  # test/dev dependency only
    import grpc_tools

    include = str(Path(grpc_tools.__file__).resolve().parent / "_proto")
    with tempfile.TemporaryDirectory() as src:
        # The source folder is not called tensorloupe/ in a checkout: lay the files out as installed.
        staged = Path(src) / IMPORT_DIR
        staged.mkdir(parents=True)
        for proto in PROTOS_DIR.glob("*.proto"):
            shutil.copyfile(proto, staged / proto.name)
        (out_dir / IMPORT_DIR).mkdir(parents=True, exist_ok=True)
        argv = ["protoc", f"-I{src}", f"-I{include}", f"--python_out={out_dir}", *proto_files()]
        # protoc resolves the relative .proto paths against the -I roots, not the cwd.
        status = protoc.main(argv)
    if status != 0:
        raise SystemExit(f"protoc failed with status {status}")


def check() -> list[str]:
    """Regenerate into a temporary directory and describe every difference from protos/."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        generate(tmp_dir)
        fresh = {p.name: p for p in (tmp_dir / IMPORT_DIR).glob("*_pb2.py")}
        current = {p.name: p for p in PROTOS_DIR.glob("*_pb2.py")}
        for name in sorted(fresh.keys() - current.keys()):
            problems.append(f"missing generated module protos/{name}")
        for name in sorted(current.keys() - fresh.keys()):
            problems.append(f"stale module protos/{name} has no .proto file")
        for name in sorted(fresh.keys() & current.keys()):
            new = fresh[name].read_text(encoding="utf-8")
            old = current[name].read_text(encoding="utf-8")
            if new != old:
                diff = difflib.unified_diff(old.splitlines(), new.splitlines(),
                                            f"protos/{name}", f"regenerated/{name}", lineterm="", n=1)
                problems.append(f"protos/{name} is out of date:\n" + "\n".join(list(diff)[:20]))
    return problems


def tool_version() -> str:
    try:
        from importlib.metadata import version
        return version("grpcio-tools")
    except Exception:  # metadata missing: report unknown rather than fail
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only report whether the generated modules are current (exit 1 if not)")
    args = parser.parse_args(argv)
    version = tool_version()
    if version != EXPECTED_GRPCIO_TOOLS:
        print(f"warning: grpcio-tools {version} is installed; the modules were made with "
              f"{EXPECTED_GRPCIO_TOOLS}", file=sys.stderr)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} generated module(s) differ; run python protos/regenerate.py")
            return 1
        print(f"all {len(proto_files())} generated modules are current")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        generate(tmp_dir)
        for old in PROTOS_DIR.glob("*_pb2.py"):
            old.unlink()
        for new in (tmp_dir / IMPORT_DIR).glob("*_pb2.py"):
            shutil.copyfile(new, PROTOS_DIR / new.name)
    print(f"regenerated {len(proto_files())} modules in {PROTOS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
