"""Tensorloupe installs as one import name, ``tensorloupe``, and lives beside other code that has
its own ``core`` package or its own ``protos/tensor.proto``."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("core", "gui", "protos", "resources")
ROOT_MODULES = ("__init__.py", "__main__.py", "command.py")


def _package_folders() -> set[str]:
    found = {"tensorloupe"}
    for folder in FOLDERS:
        for init in (ROOT / folder).rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            rel = init.parent.relative_to(ROOT)
            found.add(".".join(("tensorloupe", *rel.parts)))
    return found


def test_pyproject_lists_every_package_folder():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"tensorloupe": "."}
    assert set(setuptools["packages"]) == _package_folders()


def _source_files() -> list[Path]:
    files = [ROOT / name for name in ROOT_MODULES]
    for folder in FOLDERS:
        files += [p for p in (ROOT / folder).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    return files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel ``pip install .`` would install, built from a copy of the sources (a build
    writes build/ and *.egg-info beside them)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for path in _source_files() + [ROOT / "pyproject.toml", ROOT / "README.md"]:
        target = src / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    out = tmp / "dist"
    res = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    (built,) = out.glob("tensorloupe-*.whl")
    return built


def test_wheel_installs_exactly_one_top_level_name(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    top = {name.split("/")[0] for name in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"tensorloupe"}
    assert len(dist_info) == 1
    with zipfile.ZipFile(wheel) as zf:
        tops = zf.read(f"{dist_info.pop()}/top_level.txt").decode().split() \
            if any(n.endswith("top_level.txt") for n in names) else ["tensorloupe"]
    assert tops == ["tensorloupe"]


def test_wheel_holds_every_module_and_resource(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    expected = {"tensorloupe/" + p.relative_to(ROOT).as_posix() for p in _source_files()
                if p.suffix in (".py", ".proto") or "resources" in p.relative_to(ROOT).parts}
    assert expected - names == set()


def test_wheel_installs_and_runs_in_a_fresh_environment(wheel, tmp_path):
    """pip puts the wheel into a new folder; only tensorloupe appears there, and it runs from a
    directory that has nothing of ours."""
    target = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                          "--target", str(target), str(wheel)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    entries = {p.name for p in target.iterdir()}
    assert {e for e in entries if not e.endswith(".dist-info") and e != "bin"} == {"tensorloupe"}
    model = ROOT / "tests" / "fixtures" / "data" / "saved_models" / "half_plus_two"
    res = subprocess.run([sys.executable, "-I", "-c", textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(target)!r})
        import tensorloupe as tl
        assert tl.__file__.startswith({str(target)!r}), tl.__file__
        model = tl.open({str(model)!r})
        print(type(model).__name__, model.tag_sets)
        from tensorloupe.gui.app import demo_paths
        print([p.name for p in demo_paths()])
        """)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SavedModel" in res.stdout
    assert "['mobilenet_v2', 'training_run']" in res.stdout


def test_foreign_core_package_and_protos_file_do_not_interfere(tmp_path, fixtures_dir):
    """A research folder with its own core/ package, and another library that registered its own
    protos/tensor.proto in protobuf's global pool: both keep working beside tensorloupe."""
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("WHOSE = 'the user'\n")
    (tmp_path / "protos").mkdir()
    (tmp_path / "protos" / "__init__.py").write_text("")
    ckpt = fixtures_dir / "checkpoints" / "keras_adam" / "ckpt"
    code = textwrap.dedent(f"""
        from google.protobuf import descriptor_pb2, descriptor_pool

        def foreign(package):
            # what another library's generated protos/tensor.proto registers
            fd = descriptor_pb2.FileDescriptorProto(name="protos/tensor.proto", package=package)
            fd.message_type.add(name="TensorProto").field.add(
                name="payload", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
                label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
            return descriptor_pool.Default().Add(fd)

        foreign("before")                # registered before tensorloupe loads
        import core
        import tensorloupe as tl
        with tl.open_checkpoint({str(ckpt)!r}) as reader:
            keys = reader.keys()
            value = reader.read(keys[0])
        import tensorloupe.core.tensors  # decodes TensorProto through our own file
        from tensorloupe.protos import tensor_pb2
        assert tensor_pb2.DESCRIPTOR.name == "tensorloupe/protos/tensor.proto"
        assert tensor_pb2.TensorProto.DESCRIPTOR.full_name == "tensorloupe.TensorProto"
        pool = descriptor_pool.Default()
        assert pool.FindFileByName("protos/tensor.proto").package == "before"
        assert core.WHOSE == "the user"
        import sys
        assert sys.modules["core"].__file__.startswith({str(tmp_path)!r})
        assert not [m for m in sys.modules if m.startswith(("core.", "gui", "protos."))]
        print(len(keys), value.shape)
        """)
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.split()[0].isdigit() and int(res.stdout.split()[0]) > 3
