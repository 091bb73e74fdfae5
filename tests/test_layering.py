"""The layering protos <- core <- gui <- command is a contract (pyproject's [tool.importlinter]),
checked here on the real package, and shown to fail on a package that breaks it."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lint(config: Path, cwd: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    code = ("import sys\n"
            + (f"sys.path.insert(0, {str(extra_path)!r})\n" if extra_path else "")
            + "from importlinter.cli import lint_imports\n"
            f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True, no_logo=True))\n")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_the_package_keeps_its_import_contracts():
    res = _lint(ROOT / "pyproject.toml", ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 kept, 0 broken" in res.stdout


def _contracts_for(package: str) -> str:
    """Our [tool.importlinter] tables, applied to another root package name."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    start = text.index("[tool.importlinter]")
    section = text[start:]
    end = section.find("\n[tool.", 1)
    section = section if end < 0 else section[:end]
    return section.replace('"tensorloupe', f'"{package}')


def _write(path: Path, body: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body), encoding="utf-8")


def test_each_contract_fails_on_a_violation(tmp_path):
    """A small package with our folder layout where core imports the window, core imports Qt,
    protos imports core and the window imports a protobuf module: all three contracts break."""
    pkg = "tlviolations"
    base = tmp_path / "src" / pkg
    _write(base / "__init__.py")
    _write(base / "command.py", f"import {pkg}.gui.app\n")
    _write(base / "protos" / "__init__.py")
    _write(base / "protos" / "tensor_pb2.py", f"from {pkg}.core import tensors\n")
    _write(base / "core" / "__init__.py")
    _write(base / "core" / "tensors.py", f"from {pkg}.protos import tensor_pb2\n")
    _write(base / "core" / "reader.py", f"from {pkg}.gui import app\n")
    _write(base / "core" / "plot.py", "import PySide6\n")
    _write(base / "gui" / "__init__.py")
    _write(base / "gui" / "app.py", f"from {pkg}.core import tensors\n")
    _write(base / "gui" / "panel.py", f"from {pkg}.protos import tensor_pb2\n")
    config = tmp_path / "contracts.toml"
    config.write_text(_contracts_for(pkg), encoding="utf-8")

    res = _lint(config, tmp_path, extra_path=tmp_path / "src")
    out = res.stdout
    assert res.returncode == 1, out + res.stderr
    assert "0 kept, 3 broken" in out
    assert f"{pkg}.core.reader -> {pkg}.gui.app" in out
    assert f"{pkg}.protos.tensor_pb2 -> {pkg}.core.tensors" in out
    assert f"{pkg}.core.plot -> PySide6" in out
    assert f"{pkg}.gui.panel -> {pkg}.protos.tensor_pb2" in out
