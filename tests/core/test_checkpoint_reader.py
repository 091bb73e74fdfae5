"""core.checkpoint against what TensorFlow recorded about each fixture checkpoint
(tests/fixtures/data/checkpoints/<name>/tensorflow.json and values-<prefix>.npz, written by
tf.train.load_checkpoint in build_checkpoints.py)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import tensorloupe.core as core
from tensorloupe.core.checkpoint import CheckpointReader, find_prefix, open_checkpoint
from tensorloupe.core.errors import NotFoundError, UnsupportedError

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "checkpoints"
NAMES = sorted(p.parent.name for p in ROOT.glob("*/tensorflow.json"))


def record(name: str) -> dict:
    return json.loads((ROOT / name / "tensorflow.json").read_text())


CHECKPOINTS = [(n, p) for n in NAMES for p in record(n)["prefixes"]]


def expected_value(name: str, prefix: str, key: str):
    info = record(name)["checkpoints"][prefix]["tensors"][key]
    if "hex" in info:
        return [bytes.fromhex(h) for h in info["hex"]]
    with np.load(ROOT / name / f"values-{prefix}.npz") as values:
        return values[info["npz"]]


def test_every_kind_of_fixture_is_there():
    assert {"tf1_saver", "partitioned", "sharded_tf1", "sharded_tf2", "keras_adam",
            "keras3_adam", "dtypes", "training_run"} <= set(NAMES)


@pytest.mark.parametrize("name,prefix", CHECKPOINTS)
def test_keys_dtypes_shapes_match_tensorflow(name, prefix):
    rec = record(name)["checkpoints"][prefix]
    with open_checkpoint(ROOT / name / prefix) as reader:
        assert reader.keys() == rec["keys"]
        for key, info in rec["tensors"].items():
            assert list(reader.shape(key)) == info["shape"], key
            assert reader.dtype_enum(key) == info["dtype_enum"], key
            n = int(np.prod(info["shape"], dtype=np.int64))
            assert reader.num_elements(key) == n


@pytest.mark.parametrize("name,prefix", CHECKPOINTS)
def test_values_match_tensorflow(name, prefix):
    rec = record(name)["checkpoints"][prefix]
    with open_checkpoint(ROOT / name / prefix) as reader:
        for key, info in rec["tensors"].items():
            value = reader.read(key)
            assert value.shape == tuple(info["shape"]), key
            expected = expected_value(name, prefix, key)
            if "hex" in info:
                assert value.dtype == object
                assert list(value.reshape(-1)) == expected, key
                continue
            if info.get("bits") == "uint16":
                assert value.dtype == np.dtype(ml_dtypes.bfloat16), key
                value = value.view(np.uint16)
            assert value.dtype == expected.dtype, key
            np.testing.assert_array_equal(value, expected, err_msg=key)
            assert value.flags.writeable


@pytest.mark.parametrize("name,prefix", CHECKPOINTS)
def test_verify_is_clean_on_tensorflow_output(name, prefix):
    with open_checkpoint(ROOT / name / prefix) as reader:
        assert reader.verify() == []


def test_numpy_dtypes():
    with open_checkpoint(ROOT / "dtypes" / "all_dtypes") as r:
        assert r.dtype("bf16") == np.dtype(ml_dtypes.bfloat16)
        assert r.dtype("str") == np.dtype(object)
        assert r.dtype("f16") == np.float16 and r.dtype("c128") == np.complex128
        assert r.dtype("u64") == np.uint64 and r.dtype("bool") == np.bool_
        assert r.nbytes("f32") == 3 * 2 * 4
        assert r.read("str_scalar")[()] == b"just one"
        assert r.read("empty_2d_i32").shape == (2, 0, 3)


def test_array_is_a_read_only_view_on_the_mapped_shard():
    with open_checkpoint(ROOT / "dtypes" / "all_dtypes") as r:
        view = r.array("f64")
        assert not view.flags.writeable and not view.flags.owndata
        np.testing.assert_array_equal(view, expected_value("dtypes", "all_dtypes", "f64"))
        with pytest.raises(ValueError):
            view[0] = 1.0
        with pytest.raises(UnsupportedError):
            r.array("str")
        del view
    with open_checkpoint(ROOT / "partitioned" / "model.ckpt") as r:
        with pytest.raises(UnsupportedError, match="partitioned"):
            r.array("embedding")


def test_opening_and_listing_read_no_data():
    reader = open_checkpoint(ROOT / "sharded_tf1" / "model.ckpt")
    reader.keys()
    reader.shape("a")
    assert reader._maps == {}
    reader.read("a")
    assert list(reader._maps) == [reader.entries["a"].shard_id]
    reader.close()


def test_partitioned_and_sharded_layouts():
    with open_checkpoint(ROOT / "partitioned" / "model.ckpt") as r:
        assert r.entries["embedding"].partitioned and len(r.entries["embedding"].slices) == 3
        assert [str(s) for s in r.entries["wide"].slices] == ["0,3:0,4", "0,3:4,4"]
    with open_checkpoint(ROOT / "sharded_tf1" / "model.ckpt") as r:
        assert r.header.num_shards == 2
        assert {e.shard_id for e in r.entries.values()} == {0, 1}
    with open_checkpoint(ROOT / "sharded_tf2" / "ckpt") as r:
        assert r.header.num_shards > 1
        assert r.entries["big/.ATTRIBUTES/VARIABLE_VALUE"].partitioned


def _copy(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copytree(ROOT / name, dst)
    return dst


def test_open_by_prefix_index_data_meta_and_directory(tmp_path):
    tf1 = ROOT / "tf1_saver"
    want = str(tf1 / "model.ckpt-2")
    assert find_prefix(tf1 / "model.ckpt-2") == want
    assert find_prefix(tf1 / "model.ckpt-2.index") == want
    assert find_prefix(tf1 / "model.ckpt-2.data-00000-of-00001") == want
    assert find_prefix(tf1 / "model.ckpt-2.meta") == want
    assert find_prefix(tf1) == want  # via the `checkpoint` state file
    assert open_checkpoint(tf1 / "model.ckpt-0").prefix == str(tf1 / "model.ckpt-0")
    # No state file but a single .index: that one.
    one = _copy("dtypes", tmp_path)
    assert find_prefix(one) == str(one / "all_dtypes")
    # The package-level entry point is the same function.
    with core.open_checkpoint(one / "all_dtypes.index") as r:
        assert "f32" in r


def test_saved_model_directory_opens_its_variables():
    model = ROOT.parent / "saved_models" / "half_plus_two"
    want = str(model / "variables" / "variables")
    assert find_prefix(model) == want
    with open_checkpoint(model) as r:
        assert r.prefix == want and r.keys()


def test_directory_with_several_checkpoints_and_no_state_file(tmp_path):
    d = _copy("tf1_saver", tmp_path)
    (d / "checkpoint").unlink()
    with pytest.raises(NotFoundError, match="3 checkpoints"):
        open_checkpoint(d)


def test_missing_tensor_is_a_not_found_error():
    with open_checkpoint(ROOT / "dtypes" / "all_dtypes") as r:
        with pytest.raises(NotFoundError, match="no/such"):
            r.read("no/such")
        with pytest.raises(NotFoundError):
            r.shape("no/such")


def test_header_and_double_close():
    reader = CheckpointReader(str(ROOT / "keras_adam" / "ckpt"))
    assert reader.header.endianness == "little" and reader.header.num_shards == 1
    assert reader.header.producer >= 1
    reader.close()
    reader.close()  # closing twice is fine
