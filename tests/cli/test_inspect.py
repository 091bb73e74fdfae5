"""`tensorloupe inspect` prints, byte for byte, what TensorFlow's inspect_checkpoint printed
for the same flags on the same checkpoint (recorded in tests/fixtures/data/checkpoints/
<name>/tensorflow.json by build_checkpoints.py, run from the fixture directory)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tensorloupe.command import main

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "checkpoints"
REPO = Path(__file__).resolve().parents[2]
NAMES = sorted(p.parent.name for p in ROOT.glob("*/tensorflow.json"))


def record(name: str) -> dict:
    return json.loads((ROOT / name / "tensorflow.json").read_text())


RUNS = [(n, p, mode) for n in NAMES for p, c in record(n)["checkpoints"].items()
        for mode in c["inspect"]]


def run(capsys, argv) -> tuple[int, str, str]:
    code = main(["inspect", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name,prefix,mode", RUNS, ids=[f"{n}-{p}-{m}" for n, p, m in RUNS])
def test_output_matches_inspect_checkpoint(name, prefix, mode, capsys, monkeypatch):
    recorded = record(name)["checkpoints"][prefix]["inspect"][mode]
    monkeypatch.chdir(ROOT / name)
    code, out, err = run(capsys, recorded["argv"])
    assert code == 0 and err == ""
    assert out == recorded["stdout"]


def test_all_modes_were_recorded():
    modes = {m for _, _, m in RUNS}
    assert {"default", "all_tensor_names", "all_tensors", "tensor_0", "missing_tensor",
            "printoptions", "exclude"} <= modes


def test_flag_forms_are_equivalent(capsys, monkeypatch):
    recorded = record("partitioned")["checkpoints"]["model.ckpt"]["inspect"]
    monkeypatch.chdir(ROOT / "partitioned")
    want = recorded["tensor_1"]["stdout"]
    for argv in (["--file_name=model.ckpt", "--tensor_name=wide"],
                 ["--file_name", "model.ckpt", "--tensor_name", "wide"],
                 ["model.ckpt", "--tensor_name", "wide"],
                 ["model.ckpt.index", "--tensor_name=wide"]):
        assert run(capsys, argv)[1] == want, argv
    names = recorded["all_tensor_names"]["stdout"]
    assert run(capsys, ["--file_name=model.ckpt", "--all_tensor_names=True"])[1] == names
    # `--all_tensor_names=false` turns the mode off: back to the debug listing.
    assert run(capsys, ["--file_name=model.ckpt", "--all_tensor_names=false"])[1] == \
        recorded["default"]["stdout"]


def test_no_file_name_prints_usage(capsys):
    code, out, _ = run(capsys, [])
    assert code == 1 and out.startswith("Usage: tensorloupe inspect --file_name=")


def test_bad_printoption_is_a_usage_error(capsys):
    code, _, err = run(capsys, ["--file_name=x", "--printoptions", "nosuch=1"])
    assert code == 2 and "'nosuch' is not a valid printoption." in err
    code, _, err = run(capsys, ["--file_name=x", "--printoptions", "precision"])
    assert code == 2 and "'precision' is not in the form k=v." in err


def test_printoptions_do_not_leak(capsys, monkeypatch):
    monkeypatch.chdir(ROOT / "dtypes")
    before = np.get_printoptions()
    run(capsys, ["--file_name=all_dtypes", "--all_tensors", "--printoptions", "precision=1"])
    assert np.get_printoptions() == before


def test_json_listing(capsys):
    code, out, _ = run(capsys, ["--file_name", str(ROOT / "keras_adam" / "ckpt"), "--json"])
    assert code == 0
    doc = json.loads(out)
    rec = record("keras_adam")["checkpoints"]["ckpt"]
    assert [t["key"] for t in doc["tensors"]] == rec["keys"]
    for t in doc["tensors"]:
        assert t["dtype"] == rec["tensors"][t["key"]]["dtype"]
        assert t["shape"] == rec["tensors"][t["key"]]["shape"]
        assert "value" not in t
    kinds = {t["kind"] for t in doc["tensors"]}
    assert kinds == {"variable", "slot", "optimizer", "other"}
    total = rec["inspect"]["all_tensor_names"]["stdout"].splitlines()[-1]
    assert total == f"# Total number of params: {doc['total_params']}"


def test_json_values(capsys):
    path = str(ROOT / "dtypes" / "all_dtypes")
    rec = record("dtypes")["checkpoints"]["all_dtypes"]
    doc = json.loads(run(capsys, ["--file_name", path, "--json", "--all_tensors"])[1])
    by_key = {t["key"]: t for t in doc["tensors"]}
    assert by_key["str"]["value_hex"] == rec["tensors"]["str"]["hex"]
    with np.load(ROOT / "dtypes" / "values-all_dtypes.npz") as values:
        np.testing.assert_array_equal(np.array(by_key["i64"]["value"], np.int64),
                                      values[rec["tensors"]["i64"]["npz"]])
        c = np.array(by_key["c64"]["value"])
        np.testing.assert_array_equal(c[..., 0] + 1j * c[..., 1],
                                      values[rec["tensors"]["c64"]["npz"]])
    one = json.loads(run(capsys, ["--file_name", path, "--json", "--tensor_name=u64"])[1])
    assert [t["key"] for t in one["tensors"]] == ["u64"]
    assert one["tensors"][0]["value"] == [0, 18446744073709551615, 9]


def test_verify_json_and_text(capsys):
    code, out, _ = run(capsys, ["--file_name", str(ROOT / "sharded_tf2" / "ckpt"), "--verify",
                                "--json"])
    doc = json.loads(out)
    assert code == 0 and doc["ok"] and doc["problems"] == []


def test_entry_point_runs_as_a_command():
    proc = subprocess.run([sys.executable, "-m", "tensorloupe", "inspect", "--file_name",
                           "model.ckpt-2", "--all_tensor_names"], cwd=ROOT / "tf1_saver",
                          capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    want = record("tf1_saver")["checkpoints"]["model.ckpt-2"]["inspect"]["all_tensor_names"]
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == want["stdout"]
