"""Frozen GraphDefs and TF1 .meta files, against what TensorFlow's own helpers said about them
(expected/graphs.json, written by tests/fixtures/build_show_extra.py); Const tensors against
tf.make_ndarray (graphs/constants_values.npz); core.open's detection of every path kind."""
from __future__ import annotations

import json
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import tensorloupe.core as core
from tensorloupe.core.detect import kind_of
from tensorloupe.core.errors import FormatError, NotFoundError, UnsupportedError
from tensorloupe.core.graph_file import GraphModel, open_graph
from tensorloupe.core.saved_model import SavedModel
from tensorloupe.core.tensors import shape_python_text, shape_text, to_numpy

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
FACTS = json.loads((FIXTURES / "expected" / "graphs.json").read_text())


@pytest.mark.parametrize("rel", sorted(FACTS))
def test_graph_files_match_tensorflow(rel):
    facts = FACTS[rel]
    g = open_graph(FIXTURES / rel)
    assert len(g.graph_def.node) == facts["num_nodes"]
    assert len(g.functions) == facts["num_functions"]
    assert g.ops_used() == facts["ops_used"]
    if rel.endswith(".meta"):
        assert list(g.meta_graph.tags) == facts["tags"]
        assert g.meta_graph.saver_def.filename_tensor_name == facts["saver_filename_tensor"]
        assert sorted(g.meta_graph.collections) == facts["collections"]
        assert g.checkpoint == (FIXTURES / rel).with_suffix("")
    else:
        assert g.meta_graph is None and g.checkpoint is None


def test_meta_checkpoint_opens():
    metas = [r for r in FACTS if r.endswith(".meta")]
    assert metas
    reader = open_graph(FIXTURES / metas[0]).open_checkpoint()
    assert len(list(reader.keys())) > 0


def test_constants_decode_like_tensorflow():
    g = open_graph(FIXTURES / "graphs" / "constants.pb")
    values = np.load(FIXTURES / "graphs" / "constants_values.npz")
    assert len(values.files) == len(g.graph_def.node) > 60
    for node in g.graph_def.node:
        got = to_numpy(node.attr["value"].tensor)
        want = values[node.name]
        assert got.shape == want.shape, node.name
        if got.dtype == ml_dtypes.bfloat16:
            got = got.view(np.uint16)
        elif got.dtype == object:
            got = got.astype(bytes) if got.size else np.zeros(got.shape, dtype="S1")
        else:
            assert got.dtype == want.dtype, node.name
        np.testing.assert_array_equal(got, want, err_msg=node.name)


def test_corrupt_constant_is_refused():
    g = open_graph(FIXTURES / "graphs" / "constants.pb")
    proto = next(n for n in g.graph_def.node if n.name == "float32_fill").attr["value"].tensor
    huge = type(proto)()
    huge.CopyFrom(proto)
    huge.tensor_shape.dim[0].size = 1 << 40      # one stored value "filling" 2**40 * 3
    with pytest.raises(FormatError):
        to_numpy(huge)
    short = type(proto)()
    short.CopyFrom(next(n for n in g.graph_def.node
                        if n.name == "float32_content").attr["value"].tensor)
    short.tensor_content = short.tensor_content[:-3]
    with pytest.raises(FormatError):
        to_numpy(short)


def test_shape_texts():
    from tensorloupe.protos import tensor_shape_pb2
    s = tensor_shape_pb2.TensorShapeProto()
    assert shape_text(s) == "()"
    s.dim.add(size=-1)
    assert shape_text(s) == "(-1)"
    s.dim.add(size=28)
    assert shape_text(s) == "(-1, 28)"
    assert shape_python_text((-1, 28)) == "(None, 28)" and shape_python_text((3,)) == "(3,)"
    assert shape_text(tensor_shape_pb2.TensorShapeProto(unknown_rank=True)) == "unknown_rank"


# ---------------------------------------------------------------- core.open

def test_open_detects_each_kind():
    sm_dir = FIXTURES / "saved_models" / "half_plus_two"
    assert isinstance(core.open(sm_dir), SavedModel)
    assert isinstance(core.open(sm_dir / "saved_model.pb"), SavedModel)
    assert isinstance(core.open(FIXTURES / "saved_models" / "frozen_graph" / "frozen_graph.pb"),
                      GraphModel)
    meta = next(FIXTURES / r for r in FACTS if r.endswith(".meta"))
    assert isinstance(core.open(meta), GraphModel)
    prefix = meta.with_suffix("")
    for p in (prefix, Path(str(prefix) + ".index"), meta.parent, meta.parent / "checkpoint"):
        assert kind_of(p)[0] == "checkpoint", p
    data = sorted(meta.parent.glob(prefix.name + ".data-*"))[0]
    assert kind_of(data) == ("checkpoint", prefix)


def test_open_explains_what_it_found(tmp_path):
    with pytest.raises(NotFoundError) as err:
        core.open(tmp_path)
    assert "empty directory" in str(err.value) and "expected" in str(err.value)
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(NotFoundError) as err:
        core.open(tmp_path)
    assert "notes.txt" in str(err.value)
    with pytest.raises(UnsupportedError):
        core.open(tmp_path / "notes.txt")
    with pytest.raises(NotFoundError):
        core.open(tmp_path / "absent")


def test_garbage_graph(tmp_path):
    f = tmp_path / "frozen.pb"
    f.write_bytes(b"\xff" * 64)
    with pytest.raises(FormatError) as err:
        open_graph(f)
    assert err.value.path == str(f)
    (tmp_path / "empty.meta").write_bytes(b"")
    with pytest.raises(FormatError):
        open_graph(tmp_path / "empty.meta")
