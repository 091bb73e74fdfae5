"""Readable names, optimizer slots, the `checkpoint` state file and slice keys, on the
checkpoints TensorFlow wrote (tests/fixtures/data/checkpoints)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tensorloupe.core.checkpoint import open_checkpoint, read_state, training_run, latest_checkpoint
from tensorloupe.core.checkpoint.slices import TensorSlice, decode_slice_key, encode_slice_key
from tensorloupe.core.errors import FormatError

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "checkpoints"
VALUE = "/.ATTRIBUTES/VARIABLE_VALUE"


def record(name: str) -> dict:
    return json.loads((ROOT / name / "tensorflow.json").read_text())


def test_keras2_names_and_slots_from_the_object_graph():
    with open_checkpoint(ROOT / "keras_adam" / "ckpt") as r:
        graph = r.object_graph()
        assert graph is not None and len(graph.nodes) > 10
        names = r.readable_names()
    assert list(names) == record("keras_adam")["checkpoints"]["ckpt"]["keys"]
    kernel = "model/layer_with_weights-0/kernel" + VALUE
    assert names[kernel].readable == "model/layer_with_weights-0/kernel"
    assert names[kernel].kind == "variable"
    assert names[kernel].layer_path == "dense/kernel"
    m = "model/layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m" + VALUE
    assert names[m].kind == "slot" and names[m].slot_name == "m" and names[m].slot_of == kernel
    assert names[m].is_optimizer_state
    assert names["optimizer/iter" + VALUE].kind == "optimizer"
    assert names["_CHECKPOINTABLE_OBJECT_GRAPH"].kind == "other"
    # Every key that has "OPTIMIZER_SLOT" in it is a slot of a model variable, and only those.
    slots = {k for k, i in names.items() if i.kind == "slot"}
    assert slots == {k for k in names if ".OPTIMIZER_SLOT/" in k}
    assert {names[k].slot_name for k in slots} == {"m", "v"}
    assert all(names[names[k].slot_of].kind == "variable" for k in slots)
    # Moving statistics are model weights without slots.
    assert names["model/layer_with_weights-1/moving_mean" + VALUE].kind == "variable"


def test_keras3_slots_matched_to_trainable_variables():
    with open_checkpoint(ROOT / "keras3_adam" / "ckpt") as r:
        names = r.readable_names()
    slots = [i for i in names.values() if i.kind == "slot"]
    assert sorted({i.slot_name for i in slots}) == ["momentum", "velocity"]
    for info in slots:
        # Keras names each slot after its variable: adam/sequential_dense_kernel_momentum.
        own = names[info.slot_of].layer_path.replace("/", "_")
        assert info.layer_path == f"adam/{own}_{info.slot_name}"
    weights = sorted(i.readable for i in names.values() if i.kind == "variable")
    assert weights == ["sequential/dense/bias", "sequential/dense/kernel",
                       "sequential/dense_1/bias", "sequential/dense_1/kernel"]
    assert names["optimizer/_iterations" + VALUE].kind == "optimizer"


def test_tf1_checkpoint_has_no_object_graph_and_slots_by_name():
    with open_checkpoint(ROOT / "tf1_saver" / "model.ckpt-2") as r:
        assert r.object_graph() is None
        names = r.readable_names()
    assert names["dense/kernel"].kind == "variable"
    assert names["dense/kernel/Adam"].slot_of == "dense/kernel"
    assert names["dense/kernel/Adam"].slot_name == "m"
    assert names["dense/kernel/Adam_1"].slot_name == "v"
    assert names["beta1_power"].kind == "optimizer"
    assert names["global_step"].kind == "other"


def test_state_file_matches_tensorflow():
    for name in ("training_run", "tf1_saver", "partitioned", "sharded_tf1"):
        want = record(name)["state"]
        state = read_state(ROOT / name)
        d = str(ROOT / name)
        assert state.model_checkpoint_path == f"{d}/{want['model_checkpoint_path']}"
        assert [p[len(d) + 1:] for p in state.all_model_checkpoint_paths] == \
            want["all_model_checkpoint_paths"]
        assert list(state.all_model_checkpoint_timestamps) == want["all_model_checkpoint_timestamps"]
        assert latest_checkpoint(ROOT / name) == f"{d}/{want['latest_checkpoint']}"


def test_training_run_lists_checkpoints_in_order_with_timestamps():
    want = record("training_run")["state"]
    run = training_run(ROOT / "training_run")
    assert [c.name for c in run] == want["all_model_checkpoint_paths"]
    assert [c.timestamp for c in run] == want["all_model_checkpoint_timestamps"]
    assert [c.step for c in run] == [3, 4, 5]


def test_training_run_without_state_file_orders_by_step(tmp_path):
    d = tmp_path / "run"
    shutil.copytree(ROOT / "tf1_saver", d)
    (d / "checkpoint").unlink()
    assert [c.name for c in training_run(d)] == ["model.ckpt-0", "model.ckpt-1", "model.ckpt-2"]
    assert latest_checkpoint(d) is None


def test_absolute_paths_in_state_file(tmp_path):
    """A state file naming absolute paths (as TF1 Saver writes by default), including paths
    from a machine where the directory lived elsewhere."""
    d = tmp_path / "run"
    shutil.copytree(ROOT / "training_run", d)
    text = (d / "checkpoint").read_text()
    moved = text.replace('"ckpt-', '"/elsewhere/old/run/ckpt-', 1)
    here = moved.replace('"ckpt-', f'"{d}/ckpt-')
    (d / "checkpoint").write_text(here)
    state = read_state(d)
    assert state.model_checkpoint_path == str(d / "ckpt-5")
    assert all(p.startswith(str(d)) for p in state.all_model_checkpoint_paths)
    assert open_checkpoint(d).prefix == str(d / "ckpt-5")


def test_bad_state_file_is_a_format_error(tmp_path):
    d = tmp_path / "run"
    shutil.copytree(ROOT / "training_run", d)
    (d / "checkpoint").write_bytes(b"model_checkpoint_path: [unclosed\n")
    with pytest.raises(FormatError, match="checkpoint state"):
        open_checkpoint(d)


def test_slice_keys_in_fixtures_decode_and_reencode():
    seen = 0
    for name, prefix in (("partitioned", "model.ckpt"), ("sharded_tf2", "ckpt")):
        with open_checkpoint(ROOT / name / prefix) as r:
            for raw_key, entry in r._raw.items():
                decoded = decode_slice_key(raw_key)
                if decoded is None:
                    assert not raw_key.startswith(b"\x00")
                    continue
                seen += 1
                full = r.entries[decoded[0].decode()]
                assert decoded[1] in full.slices
                assert encode_slice_key(decoded[0], decoded[1]) == raw_key
    assert seen >= 10


@pytest.mark.parametrize("value", [0, 1, -1, 63, 64, -64, -65, 8191, 8192, -(1 << 20), 1 << 40,
                                   (1 << 55) - 1, 1 << 55, (1 << 62), -(1 << 63), (1 << 63) - 1])
def test_signed_ordered_code_round_trips_and_sorts(value):
    s = TensorSlice.parse(f"{value},{abs(value)}")
    name, back = decode_slice_key(encode_slice_key(b"a\x00\xffb", s))
    assert name == b"a\x00\xffb" and back == s
    # Encodings sort like the numbers (that is what ordered code is for).
    if value < (1 << 63) - 1:
        lo = encode_slice_key(b"x", TensorSlice.parse(f"{value},1"))
        hi = encode_slice_key(b"x", TensorSlice.parse(f"{value + 1},1"))
        assert lo < hi


def test_slice_text_form():
    s = TensorSlice.parse("-:2,3")
    assert str(s) == "-:2,3"
    assert s.index((4, 9)) == (slice(0, 4), slice(2, 5))
    assert s.shape((4, 9)) == (4, 3)
