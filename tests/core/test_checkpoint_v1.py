"""V1 checkpoints (Saver(write_version=V1)) read without TensorFlow, against what TensorFlow
read back from the same files (tests/fixtures/data/v1, written by build_v1.py)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import tensorloupe as tl
from tensorloupe.core.checkpoint import latest_checkpoint, open_checkpoint, training_run
from tensorloupe.core.checkpoint.v1 import (V1CheckpointReader, is_v1_file, shard_files,
                                            unordered_map_order)
from tensorloupe.core.compare import CHANGED, IDENTICAL, compare, compare_series
from tensorloupe.core.detect import kind_of
from tensorloupe.core.errors import DataLossError, FormatError, NotFoundError, UnsupportedError
from tests.core.diff_truth import metrics

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "v1"


def record(name: str) -> dict:
    return json.loads((V1 / name / "tensorflow.json").read_text())


def truth(name: str, prefix: str, key: str) -> np.ndarray:
    """A tensor as TensorFlow's RestoreV2 kernel read it back."""
    checkpoint = record(name)["checkpoints"][prefix]
    info = checkpoint["tensors"][key]
    if "hex" in info:
        out = np.empty(len(info["hex"]), dtype=object)
        out[:] = [bytes.fromhex(h) for h in info["hex"]]
        return out.reshape(info["shape"])
    with np.load(V1 / name / checkpoint["values"]) as values:
        return values[info["npz"]]


READABLE = [(n, p) for n in sorted(p.parent.name for p in V1.glob("*/tensorflow.json"))
            for p, c in record(n)["checkpoints"].items() if c.get("values")]


@pytest.mark.parametrize("name,prefix", READABLE, ids=[f"{n}-{p}" for n, p in READABLE])
def test_every_tensor_reads_as_tensorflow_read_it(name, prefix):
    rec = record(name)["checkpoints"][prefix]
    with open_checkpoint(V1 / name / prefix) as reader:
        assert isinstance(reader, V1CheckpointReader)
        assert reader.keys() == rec["keys"]
        for key, info in rec["tensors"].items():
            assert reader.dtype_enum(key) == info["dtype_enum"], key
            assert list(reader.shape(key)) == info["shape"], key
            assert reader.num_elements(key) == int(np.prod(info["shape"])), key
            want = truth(name, prefix, key)
            got = reader.read(key)
            assert got.shape == want.shape and got.dtype == want.dtype, key
            if want.dtype == object:
                assert got.tolist() == want.tolist(), key
            else:
                np.testing.assert_array_equal(got, want, err_msg=key)
            got[...] = got  # a new, writable array
        assert reader.verify() == []


def test_the_types_get_tensor_refuses_are_read_anyway():
    rec = record("extra_types")["checkpoints"]["model.ckpt"]["tensors"]
    refused = {k for k, info in rec.items() if "get_tensor_error" in info}
    assert refused == {"f16", "c64", "c128", "u16"}
    assert {info["get_tensor_error"] for k, info in rec.items() if k in refused} == \
        {"Data type not supported"}
    with open_checkpoint(V1 / "extra_types" / "model.ckpt") as reader:
        assert reader.read("f16").dtype == np.float16
        assert reader.read("c128")[1, 0] == 2 - 1e300j
    # and what the V1 writer itself refuses, TensorFlow said so
    said = json.loads((V1 / "extra_types" / "refused.json").read_text())
    assert said == {"bf16": "Saving data type bfloat16 not yet supported",
                    "u32": "Tensor slice serialization not implemented for dtype 22",
                    "u64": "Tensor slice serialization not implemented for dtype 23"}


def test_partitioned_tensors_are_assembled_from_slices_in_several_shards():
    with open_checkpoint(V1 / "sharded") as reader:
        assert reader.header.num_shards == 3
        entry = reader.entries["emb"]
        assert entry.partitioned and len(entry.slices) == 3
        assert len({shard for _, shard in entry.parts}) == 2  # its slices span two shards
        assert not reader.entries["a"].partitioned and reader.entries["a"].slices == ()
        assert reader.entries["a"].crc32c is None
        np.testing.assert_array_equal(reader.read("emb"),
                                      truth("sharded", "model.ckpt-?????-of-00003", "emb"))
        assert reader.nbytes("emb") == 7 * 2 * 4
        assert reader.nbytes("b") > 0  # strings: the stored records
        with pytest.raises(UnsupportedError, match="use read"):
            reader.array("emb")
        with pytest.raises(UnsupportedError, match="use read"):
            reader.array("a")
        with pytest.raises(NotFoundError):
            reader.read("nope")


@pytest.mark.parametrize("path", [
    "sharded",                                   # a directory: its `checkpoint` state file
    "sharded/model.ckpt-?????-of-00003",         # TensorFlow's pattern
    "sharded/model.ckpt",                        # the shards' prefix
    "sharded/model.ckpt-00002-of-00003",         # one shard: all of them are read
])
def test_the_ways_to_name_sharded_files(path):
    with open_checkpoint(V1 / path) as reader:
        assert reader.prefix == str(V1 / "sharded" / "model.ckpt-?????-of-00003")
        assert [os.path.basename(p) for p in reader.shard_paths()] == [
            f"model.ckpt-{i:05d}-of-00003" for i in range(3)]
        assert reader.keys() == ["a", "b", "c", "emb", "scope/d"]
    assert kind_of(V1 / path)[0] == "checkpoint"


def test_state_files_naming_v1_checkpoints():
    state = record("meta_graph")["state"]
    assert latest_checkpoint(V1 / "meta_graph") == str(V1 / "meta_graph" /
                                                       state["latest_checkpoint"])
    assert [r.name for r in training_run(V1 / "meta_graph")] == ["model.ckpt-0", "model.ckpt-1"]
    with tl.open_checkpoint(V1 / "meta_graph") as reader:
        assert reader.prefix.endswith("model.ckpt-1")
    # a .meta path means the checkpoint beside it
    with tl.open_checkpoint(V1 / "meta_graph" / "model.ckpt-1.meta") as reader:
        assert reader.prefix.endswith("model.ckpt-1")
    assert record("sharded")["state"]["latest_checkpoint"] == "model.ckpt-?????-of-00003"
    assert latest_checkpoint(V1 / "sharded").endswith("model.ckpt-?????-of-00003")


def test_a_v1_file_is_recognised_by_its_content(tmp_path):
    odd = tmp_path / "weights.bin"
    shutil.copy(V1 / "plain" / "model.ckpt", odd)
    assert is_v1_file(odd) and kind_of(odd) == ("checkpoint", odd)
    with tl.open(odd) as reader:
        assert "dense/kernel" in reader
    # a V2 index is a table too, but not a V1 file
    v2_index = V1.parent / "checkpoints" / "partitioned" / "model.ckpt.index"
    assert not is_v1_file(v2_index)
    other = tmp_path / "notes.txt"
    other.write_text("not a checkpoint\n")
    assert not is_v1_file(other)
    with pytest.raises(UnsupportedError, match="unknown kind"):
        kind_of(other)


def test_session_bundle_and_saved_model_with_v1_variables():
    bundle = tl.open(V1 / "session_bundle" / "00000001")
    assert kind_of(V1 / "session_bundle" / "00000001")[0] == "graph"
    assert bundle.checkpoint == V1 / "session_bundle" / "00000001" / "export"
    with bundle.open_checkpoint() as reader:
        assert reader.keys() == ["b", "w"]
    sm = tl.open(V1 / "saved_model" / "model")
    try:
        assert isinstance(sm.variables, V1CheckpointReader)
        assert sm.variables.keys() == ["label", "w"]
        assert sm.summary()["variables"] == 2
    finally:
        sm.close()


@pytest.mark.parametrize("name", ["meta_graph", "session_bundle"])
def test_graphs_restore_from_v1_checkpoints_as_tensorflow_did(name):
    out = json.loads((V1 / name / "outputs.json").read_text())
    gm = tl.open(V1 / name / out["meta"])
    got = gm.run(out["fetch"], {k: np.array(v, np.float32) for k, v in out["feed"].items()})
    want = out["outputs"][record(name)["prefixes"][-1]]
    np.testing.assert_allclose(got, np.array(want, np.float32), rtol=1e-6)


def test_saved_model_signature_restores_v1_variables_as_tensorflow_did():
    out = json.loads((V1 / "saved_model" / "outputs.json").read_text())
    with tl.open(V1 / "saved_model" / "model") as sm:
        got = sm.run_signature(out["signature"], {"x": np.array(out["feed"]["x:0"], np.float32)})
    np.testing.assert_allclose(got["y"], np.array(out["outputs"]["model/variables/variables"],
                                                  np.float32))


def test_listing_order_is_tensorflows_for_the_order_shards_were_listed():
    rec = record("sharded")["checkpoints"]["model.ckpt-?????-of-00003"]["inspect"]["default"]
    shards = [n for n in rec["listing"] if n.startswith("model.ckpt-")]
    with open_checkpoint(V1 / "sharded") as reader:
        text = reader.debug_string(shard_order=shards)
        assert text + "\n# Total number of params: 22\n" == rec["stdout"]
        # another order, another listing: the order is not an accident of this one
        others = {reader.debug_string(shard_order=list(p)) for p in
                  (shards[::-1], shards[1:] + shards[:1], shards[2:] + shards[:2])}
        assert len(others | {text}) > 1
        with pytest.raises(NotFoundError):
            reader.debug_string(shard_order=["model.ckpt-00007-of-00009"])


def test_hash_map_order_of_a_few_keys():
    # TensorFlow listed these (plain fixture, one file): the meta's order goes in sorted
    listed = [line.split(" (")[0] for line in record("plain")["checkpoints"]["model.ckpt"]
              ["inspect"]["default"]["stdout"].splitlines() if " (" in line]
    keys = [k.encode() for k in sorted(listed)]
    assert [k.decode() for k in unordered_map_order(keys)] == listed
    assert unordered_map_order([]) == []
    assert unordered_map_order([b"a", b"a"]) == [b"a"]


# ---------------------------------------------------------------- damage and limits

def _copy(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copytree(V1 / name, dst)
    return dst


def _flip_value(path: Path, value: bytes) -> None:
    data = bytearray(path.read_bytes())
    at = data.find(value)
    assert at > 0 and data.find(value, at + 1) < 0
    data[at + 1] ^= 0x40
    path.write_bytes(bytes(data))


def test_a_damaged_block_is_refused_unless_verification_is_off(tmp_path):
    d = _copy("plain", tmp_path)
    bias = truth("plain", "model.ckpt", "dense/bias")
    _flip_value(d / "model.ckpt", bias.astype("<f4").tobytes())
    # TensorFlow writes small files as one table block: the list of tensors is in it too
    with pytest.raises(DataLossError, match="list of tensors is damaged"):
        open_checkpoint(d / "model.ckpt")
    with open_checkpoint(d / "model.ckpt", verify=False) as reader:
        got = reader.read("dense/bias")
        assert (got != bias).sum() == 1
        np.testing.assert_array_equal(reader.read("i32"), truth("plain", "model.ckpt", "i32"))
        # known from opening: the block holding the list of tensors holds this one too
        assert reader.checksum_verdict("dense/bias") is False
        with pytest.raises(DataLossError, match="dense/bias") as info:
            reader.read("dense/bias", verify=True)
        assert str(info.value).count("\n") == 0
        with pytest.raises(DataLossError):
            reader.check("dense/bias")
        problems = reader.verify()
        assert len(problems) == 1 and "dense/bias" in problems[0].key
        assert "crc32c mismatch" in problems[0].message
        assert reader.stats.damaged == 1


def test_verdicts_are_remembered():
    with open_checkpoint(V1 / "many") as reader:
        # one table block holds them all, and its crc was checked when the list was read
        assert reader.stats.checked == 1
        assert reader.checksum_verdict("layer_00/w") is True
        reader.check("layer_00/w")
        before = reader.stats
        for key in reader.keys():
            reader.read(key)
        after = reader.stats
        assert after.checked == before.checked  # one block, checked once
        assert after.reused == before.reused + len(reader.keys())
        with pytest.raises(UnsupportedError):
            reader.record_checksum("layer_00/w", 0)


def test_a_shape_the_file_cannot_hold_is_refused_before_allocating():
    rec = record("huge_shape")["checkpoints"]["model.ckpt"]["inspect"]
    assert "w (DT_FLOAT) [274877906944,3]" in rec["default"]["stdout"]
    assert "w not found in checkpoint file" in rec["all_tensors"]["stdout"]  # TensorFlow
    with open_checkpoint(V1 / "huge_shape" / "model.ckpt") as reader:
        assert reader.shape("w") == (2 ** 38, 3)
        with pytest.raises(FormatError, match="cannot fit"):
            reader.read("w")
        np.testing.assert_array_equal(reader.read("ok"), [1, 2])


def test_truncated_and_empty_files_are_format_errors(tmp_path):
    data = (V1 / "plain" / "model.ckpt").read_bytes()
    for size in (0, 20, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{size}"
        path.write_bytes(data[:size])
        assert not is_v1_file(path)
        with pytest.raises(FormatError):
            V1CheckpointReader(path)


def test_missing_and_mismatched_shards(tmp_path):
    d = _copy("sharded", tmp_path)
    (d / "model.ckpt-00001-of-00003").unlink()
    with pytest.raises(NotFoundError, match="model.ckpt-00001-of-00003 .*missing"):
        open_checkpoint(d / "model.ckpt")
    shutil.copy(V1 / "sharded" / "model.ckpt-00001-of-00003", d / "model.ckpt-00001-of-00004")
    with pytest.raises(FormatError, match="disagree"):
        open_checkpoint(d / "model.ckpt")
    assert shard_files(d / "nothing-here") is None


def test_a_closed_reader_refuses_reads():
    reader = open_checkpoint(V1 / "plain")
    reader.close()
    assert reader.keys()  # what was listed stays known
    with pytest.raises(FormatError, match="closed"):
        reader.read("i8")
    reader.close()


# ---------------------------------------------------------------- diff and the window's tree

def test_diff_of_two_v1_checkpoints_matches_numpy():
    name = "meta_graph"
    a, b = record(name)["prefixes"]
    result = compare(V1 / name / a, V1 / name / b)
    by = {v.key_a: v for v in result.variables}
    assert set(by) == {"dense/kernel", "dense/bias", "global_step"}
    for key, v in by.items():
        want = metrics(truth(name, a, key), truth(name, b, key))
        assert v.status == CHANGED and v.changed == want["changed"], key
        for k in ("norm_a", "norm_b", "norm_diff", "max_abs_diff"):
            assert getattr(v, k) == pytest.approx(want[k], rel=1e-6, abs=1e-9), (key, k)
    same = compare(V1 / "sharded", V1 / "sharded" / "model.ckpt-00000-of-00003")
    assert {v.status for v in same.variables} == {IDENTICAL}
    assert len(same.variables) == 5  # strings and the partitioned one too
    series = compare_series(V1 / name)
    assert series.steps == [0, 1]


def test_v1_and_v2_checkpoints_compare_with_each_other():
    v2 = V1.parent / "checkpoints" / "partitioned" / "model.ckpt"
    result = compare(V1 / "partitioned", v2)
    by = {v.name: v for v in result.variables}
    assert by["embedding"].status == IDENTICAL  # the same values, one V1 and one V2
    assert by["wide"].status == IDENTICAL


def test_the_window_tree_of_v1_checkpoints():
    from tensorloupe.gui.nodes import close_document, open_document
    root = open_document(V1 / "sharded")
    try:
        kids = {c.label: c for c in root.children()}
        assert set(kids) == {"a", "b", "c", "emb", "scope"}
        assert kids["emb"].shape == "(7, 2)" and kids["emb"].nbytes == 56
        assert kids["b"].dtype == "string" and not kids["b"].error
        assert [c.label for c in kids["scope"].children()] == ["d"]
    finally:
        close_document(root)
    run = open_document(V1 / "meta_graph")
    try:
        assert [c.label for c in run.children()] == ["model.ckpt-0", "model.ckpt-1"]
    finally:
        close_document(run)


def test_a_saved_model_v1_file_leading_outside_variables_is_refused(tmp_path):
    from tensorloupe.core.paths import OutsideModelError
    model = tmp_path / "model"
    shutil.copytree(V1 / "saved_model" / "model", model)
    (model / "variables" / "variables").unlink()
    (model / "variables" / "variables").symlink_to(V1 / "plain" / "model.ckpt")
    with tl.open(model) as sm:
        with pytest.raises(OutsideModelError, match="outside the model's variables/"):
            sm.variables  # noqa: B018 - the property opens the checkpoint


def test_random_damage_gives_typed_errors_only(tmp_path):
    import random

    from tensorloupe.core.errors import TensorloupeError

    rng = random.Random(5)
    sources = [V1 / "plain" / "model.ckpt", V1 / "partitioned" / "model.ckpt",
               V1 / "sharded" / "model.ckpt-00002-of-00003"]
    path = tmp_path / "damaged"
    for _ in range(300):
        data = bytearray(rng.choice(sources).read_bytes())
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.1:
            del data[rng.randrange(len(data)):]
        path.write_bytes(bytes(data))
        for verify in (True, False):
            try:
                with V1CheckpointReader(path, verify=verify) as reader:
                    reader.debug_string()
                    reader.verify()
                    for key in reader.keys():
                        try:
                            reader.read(key)
                            reader.nbytes(key)
                        except TensorloupeError:
                            pass
            except TensorloupeError as exc:
                assert "\n" not in str(exc)
