"""`tensorloupe inspect` on V1 checkpoints prints, byte for byte, what TensorFlow's
inspect_checkpoint printed for the same flags on the same files (recorded in
tests/fixtures/data/v1/<name>/tensorflow.json by build_v1.py, run from the fixture directory).

Where TensorFlow's V1 reader gives up on a value (types its Python reader does not hand back,
partitioned tensors: "Data type not supported", "Sliced checkpoints are not supported") and
stops, ours prints the value, which TensorFlow's RestoreV2 kernel read back from the same
file, and goes on as TensorFlow does when it can."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tensorloupe.command import main

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "v1"
NAMES = sorted(p.parent.name for p in V1.glob("*/tensorflow.json"))
GAVE_UP = ("Data type not supported", "Sliced checkpoints are not supported")


def record(name: str) -> dict:
    return json.loads((V1 / name / "tensorflow.json").read_text())


RUNS = [(n, p, mode) for n in NAMES for p, c in record(n)["checkpoints"].items()
        for mode in c["inspect"]]
# huge_shape: the meta record claims a shape the file cannot hold (see the test below).
HUGE_RUNS = {("huge_shape", "all_tensors"), ("huge_shape", "tensor_1")}


def run(capsys, argv) -> tuple[int, str, str]:
    code = main(["inspect", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def truth(name: str, prefix: str, key: str) -> np.ndarray:
    checkpoint = record(name)["checkpoints"][prefix]
    info = checkpoint["tensors"][key]
    if "hex" in info:
        out = np.empty(len(info["hex"]), dtype=object)
        out[:] = [bytes.fromhex(h) for h in info["hex"]]
        return out.reshape(info["shape"])
    with np.load(V1 / name / checkpoint["values"]) as values:
        return values[info["npz"]]


def value_text(value: np.ndarray) -> str:
    """How inspect_checkpoint prints a value it read (a numpy scalar for rank 0)."""
    return str(value[()] if value.ndim == 0 else value)


def gave_up(stdout: str) -> bool:
    return any(line in GAVE_UP for line in stdout.splitlines())


GAVE_UP_RUNS = [(n, p, m) for n, p, m in RUNS
                if gave_up(record(n)["checkpoints"][p]["inspect"][m]["stdout"])]
# Where TensorFlow printed everything it was asked for.
WHOLE_RUNS = [(n, p, m) for n, p, m in RUNS
              if (n, p, m) not in GAVE_UP_RUNS and (n, m) not in HUGE_RUNS]


def same_listing_order(name: str, recorded: dict) -> bool:
    """Whether the shards are listed now in the order they were when TensorFlow read them
    (its listing follows that order; test_checkpoint_v1 checks every order byte for byte)."""
    shards = [n for n in recorded["listing"] if n.startswith(("model.ckpt", "export"))]
    file_name = recorded["argv"][0].split("=", 1)[-1] if "=" in recorded["argv"][0] else \
        recorded["argv"][1]
    directory = (V1 / name / file_name).parent
    return [n for n in os.listdir(directory) if n in shards] == shards


@pytest.mark.parametrize("name,prefix,mode", WHOLE_RUNS,
                         ids=[f"{n}-{p}-{m}" for n, p, m in WHOLE_RUNS])
def test_output_matches_inspect_checkpoint(name, prefix, mode, capsys, monkeypatch):
    recorded = record(name)["checkpoints"][prefix]["inspect"][mode]
    tf_out = recorded["stdout"]
    monkeypatch.chdir(V1 / name)
    code, out, err = run(capsys, recorded["argv"])
    assert code == 0 and err == ""
    if mode == "default" and not same_listing_order(name, recorded):
        # This checkout lists the shards in another order than TensorFlow saw: the same
        # lines, in the order TensorFlow would print for this listing.
        assert sorted(out.splitlines()) == sorted(tf_out.splitlines())
    else:
        assert out == tf_out


def test_every_recorded_run_is_checked():
    assert len(WHOLE_RUNS) + len(GAVE_UP_RUNS) + len(HUGE_RUNS) == len(RUNS)
    assert {"default", "all_tensor_names", "all_tensors", "tensor_0", "missing_tensor",
            "printoptions"} <= {m for _, _, m in WHOLE_RUNS}


def test_tensorflow_gave_up_where_expected():
    assert {(n, m) for n, _, m in GAVE_UP_RUNS} == {
        ("extra_types", "all_tensors"), ("extra_types", "tensor_0"),
        ("partitioned", "all_tensors"), ("partitioned", "tensor_0"),
        ("sharded", "all_tensors"), ("sharded", "tensor_0")}


@pytest.mark.parametrize("name,prefix,mode", GAVE_UP_RUNS,
                         ids=[f"{n}-{p}-{m}" for n, p, m in GAVE_UP_RUNS])
def test_values_tensorflow_gave_up_on_are_printed(name, prefix, mode, capsys, monkeypatch):
    inspect = record(name)["checkpoints"][prefix]["inspect"]
    recorded = inspect[mode]
    headings = inspect["all_tensor_names"]["stdout"].splitlines()
    total = headings.pop()  # "# Total number of params: N"
    monkeypatch.chdir(V1 / name)
    code, out, err = run(capsys, recorded["argv"])
    assert code == 0 and err == ""
    if mode == "all_tensors":
        shown = headings
    else:
        wanted = next(a.split("=", 1)[1] for a in recorded["argv"] if a.startswith("--tensor_"))
        shown = [h for h in headings if h.startswith(f"tensor: {wanted} (")]
    want = ""
    for heading in shown:
        key = heading[len("tensor: "):].rsplit(" (", 1)[0]
        want += heading + "\n" + value_text(truth(name, prefix, key)) + "\n"
    want += total + "\n"
    assert out == want
    # up to the line where TensorFlow gave up, the same text
    tf_lines = recorded["stdout"].splitlines(keepends=True)
    stop = next(i for i, line in enumerate(tf_lines) if line.strip() in GAVE_UP)
    assert out.startswith("".join(tf_lines[:stop]))


def test_a_shape_the_file_cannot_hold_is_a_one_line_error(capsys, monkeypatch):
    inspect = record("huge_shape")["checkpoints"]["model.ckpt"]["inspect"]
    monkeypatch.chdir(V1 / "huge_shape")
    for mode in ("all_tensors", "tensor_1"):
        recorded = inspect[mode]
        assert recorded["stdout"].splitlines()[-1] == "w not found in checkpoint file"
        code, out, err = run(capsys, recorded["argv"])
        assert code == 2
        assert out == "".join(recorded["stdout"].splitlines(keepends=True)[:-1])
        assert err.count("\n") == 1 and "cannot fit" in err and "Traceback" not in err


def test_other_ways_of_naming_the_checkpoint(capsys, monkeypatch):
    recorded = record("sharded")["checkpoints"]["model.ckpt-?????-of-00003"]["inspect"]
    monkeypatch.chdir(V1 / "sharded")
    want = recorded["tensor_1"]["stdout"]
    for argv in (["model.ckpt-?????-of-00003", "--tensor_name=b"],
                 ["--file_name=model.ckpt", "--tensor_name=b"],
                 ["--file_name", "model.ckpt-00001-of-00003", "--tensor_name", "b"],
                 [".", "--tensor_name=b"]):
        assert run(capsys, argv)[1] == want, argv


def test_json_and_verify(capsys, monkeypatch):
    monkeypatch.chdir(V1 / "partitioned")
    code, out, _ = run(capsys, ["model.ckpt", "--json", "--tensor_name=embedding"])
    assert code == 0
    (item,) = json.loads(out)["tensors"]
    assert item["partitioned"] and item["shape"] == [10, 4]
    assert item["value"] == (np.arange(40).reshape(10, 4) / 4).tolist()
    code, out, _ = run(capsys, ["model.ckpt", "--verify"])
    assert code == 0 and out.endswith("match their crc32c\n")


def test_damaged_file(tmp_path, capsys):
    d = tmp_path / "plain"
    shutil.copytree(V1 / "plain", d)
    data = bytearray((d / "model.ckpt").read_bytes())
    at = data.find(np.array([1.0, 2.0], "<f4").tobytes())  # nested/deeper/name.with-dots
    data[at + 2] ^= 0x01
    (d / "model.ckpt").write_bytes(bytes(data))
    code, out, err = run(capsys, ["--file_name", str(d / "model.ckpt"), "--all_tensors"])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "damaged" in err
    code, out, err = run(capsys, ["--file_name", str(d / "model.ckpt"), "--all_tensors",
                                  "--no-verify"])
    assert code == 0 and "tensor: nested/deeper/name.with-dots (float32) [2]" in out
