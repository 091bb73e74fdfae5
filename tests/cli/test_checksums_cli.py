"""The command line never prints numbers computed from data whose checksum fails: `run` and
`inspect` refuse with one line on stderr (exit 2), `diff` lists the variable under 'Failed';
``--no-verify`` shows the damaged data on purpose.

The damage: one flipped bit in a copy of half_plus_two (y = a * x + b with a = 0.5, b = 2),
written by TensorFlow, and in a copy of the diff fixture's 'changed' checkpoint.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from tensorloupe.command import main
from tensorloupe.core.checkpoint import open_checkpoint

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
VARIANTS = DATA / "diff" / "variants"
REPO = Path(__file__).resolve().parents[2]


def damage(prefix: Path, key: str, at: int) -> float | None:
    """Flip one bit ``at`` bytes into ``key``'s data; return the damaged float32 (if 4 bytes)."""
    with open_checkpoint(prefix, verify=False) as r:
        e = r.entry(key)
        data = Path(r.shard_paths()[e.shard_id])
    raw = bytearray(data.read_bytes())
    raw[e.offset + at] ^= 0x01
    data.write_bytes(bytes(raw))
    chunk = bytes(raw[e.offset:e.offset + e.size])
    return float(np.frombuffer(chunk, "<f4")[0]) if e.size == 4 else None


def damaged_model(tmp_path: Path, key: str = "a") -> tuple[Path, float]:
    model = tmp_path / "half_plus_two"
    shutil.copytree(DATA / "saved_models" / "half_plus_two", model)
    return model, damage(model / "variables" / "variables", key, at=2)


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(err: str, command: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tensorloupe {command}: error: "), err
    assert "Traceback" not in err
    return lines[0]


RUN = ("run", "--tag_set", "serve", "--signature_def", "regress_x_to_y",
       "--input_examples", 'inputs=[{"x":[1.0]}]')


def test_run_refuses_a_damaged_model(tmp_path, capsys):
    model, a = damaged_model(tmp_path)
    code, out, err = cli(capsys, *RUN, "--dir", model)
    assert code == 2 and out == ""
    line = one_line_error(err, "run")
    assert "'a' is damaged" in line and "stored crc32c" in line
    assert "variables.data-00000-of-00001" in line
    # Opted out: the number computed from the damaged a, which TensorFlow would refuse.
    code, out, err = cli(capsys, *RUN, "--dir", model, "--no-verify")
    assert code == 0, err
    assert out.startswith("Result for output key outputs:\n")
    got = float(out.splitlines()[1].strip("[]"))
    assert got == np.float32(np.float32(a) * 1 + 2) != 2.5
    # The undamaged model still runs (and the opt-out did not stay on).
    code, out, _ = cli(capsys, *RUN, "--dir", DATA / "saved_models" / "half_plus_two")
    assert code == 0 and "[[2.5]]" in out
    code, _, err = cli(capsys, *RUN, "--dir", model)
    assert code == 2 and "damaged" in err


def test_run_as_a_command_exits_2_with_one_line(tmp_path):
    model, _ = damaged_model(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "tensorloupe", *RUN, "--dir", str(model)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    one_line_error(proc.stderr, "run")


def test_inspect_stops_at_the_damaged_tensor_as_inspect_checkpoint_does(tmp_path, capsys):
    model, a = damaged_model(tmp_path, "b")
    prefix = model / "variables" / "variables"
    # inspect_checkpoint prints the headings and values up to the damaged tensor's heading,
    # then TensorFlow's DataLossError, and stops; here the error is the one line on stderr.
    code, out, err = cli(capsys, "inspect", "--file_name", prefix, "--all_tensors")
    assert code == 2
    assert out == "tensor: a (float32) []\n0.5\ntensor: b (float32) []\n"
    line = one_line_error(err, "inspect")
    assert "'b' is damaged" in line
    code, out, err = cli(capsys, "inspect", "--file_name", prefix, "--tensor_name", "b")
    assert code == 2 and out == "tensor: b (float32) []\n" and "'b' is damaged" in err
    # Undamaged tensors, and listings that read no values, still work.
    code, out, _ = cli(capsys, "inspect", "--file_name", prefix, "--tensor_name", "c")
    assert code == 0 and out == "tensor: c (float32) []\n3.0\n# Total number of params: 3\n"
    code, out, _ = cli(capsys, "inspect", "--file_name", prefix, "--all_tensor_names")
    assert code == 0 and "tensor: b (float32) []" in out
    code, out, err = cli(capsys, "inspect", "--file_name", prefix, "--all_tensors", "--json")
    assert code == 2 and out == "" and "'b' is damaged" in err
    # Opted out: the damaged value is printed.
    code, out, _ = cli(capsys, "inspect", "--file_name", prefix, "--tensor_name", "b",
                       "--no-verify")
    assert code == 0 and out.splitlines()[1] == str(np.float32(a)) and a != 2.0
    # --verify lists it (exit 1); asking to verify and not to verify is a usage error.
    code, out, _ = cli(capsys, "inspect", "--file_name", prefix, "--verify")
    assert code == 1 and out.startswith("b: crc32c mismatch")
    code, _, err = cli(capsys, "inspect", "--file_name", prefix, "--verify", "--no-verify")
    assert code == 2 and "not allowed with" in err


def test_diff_fails_the_damaged_variable_unless_told_not_to_check(tmp_path, capsys):
    for f in VARIANTS.glob("changed.*"):
        shutil.copy(f, tmp_path / f.name)
    damage(tmp_path / "changed", "net/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE", at=5)
    code, out, err = cli(capsys, "diff", VARIANTS / "base", tmp_path / "changed")
    assert code == 2
    failed = out.split("Failed:\n")[1].splitlines()[0]
    assert failed.startswith("  net/dense/kernel: ") and "stored crc32c" in failed
    assert "net/emb" in out and "net/vocab" in out  # the rest is compared
    assert err.strip().endswith("1 variable(s) could not be compared (listed under 'Failed')")
    code, out, err = cli(capsys, "diff", VARIANTS / "base", tmp_path / "changed", "--no-verify")
    assert code == 1 and "Failed:" not in out and err == ""
    assert "net/dense/kernel" in out.split("Model variables")[1]
    # Series too, both ways.
    series = [VARIANTS / "base", tmp_path / "changed", VARIANTS / "changed"]
    code, out, _ = cli(capsys, "diff", *series)
    assert code == 2 and "net/dense/kernel: base -> changed:" in out
    code, out, _ = cli(capsys, "diff", *series, "--no-verify")
    assert code == 1 and "Failed:" not in out
    code, _, err = cli(capsys, "diff", VARIANTS / "base", tmp_path / "changed", "--verify",
                       "--no-verify")
    assert code == 2 and "not allowed with" in err
