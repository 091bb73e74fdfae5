"""Engine behaviour beyond matching TensorFlow: unknown ops, guards, traces, feeds.

Models are the real fixtures; where a test needs a broken model it changes a copy of the
real MetaGraphDef in memory.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tensorloupe.core as core
from tensorloupe.core.engine import RunOptions, Trace, unsupported_ops
from tensorloupe.core.engine.context import Cancelled, KernelContext
from tensorloupe.core.engine.session import LoadedMetaGraph, Session
from tensorloupe.core.errors import ExecutionError, InputError, NotFoundError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "data"
MODELS = FIXTURES / "saved_models"


def _meta(name):
    return core.open_saved_model(MODELS / name).meta_graph()


def _copy(mg):
    proto = type(mg.proto)()
    proto.CopyFrom(mg.proto)
    return proto


def test_every_model_with_recorded_runs_is_fully_supported():
    for model in sorted({p.parent.name for p in (FIXTURES / "expected").glob("*/run_*.npz")}):
        sm = core.open_saved_model(MODELS / model)
        for mg in sm.meta_graphs:
            assert unsupported_ops(mg) == [], model


def test_unknown_ops_are_all_named_before_anything_runs():
    proto = _copy(_meta("vocab_module"))
    for f in proto.graph_def.library.function:
        for node in f.node_def:
            if node.op == "StringLower":
                node.op = "StringLowerFancy"
            if node.op == "TopKV2":
                node.op = "TopKV9"
    found = {(u.op, u.function) for u in unsupported_ops(proto)}
    assert ("StringLowerFancy", "__inference_tokenize_20292") in found
    assert ("TopKV9", "__inference_iterate_20368") in found
    lm = LoadedMetaGraph(proto, str(MODELS / "vocab_module"))
    with pytest.raises(ExecutionError) as err:
        lm.run_signature("serving_default", {"text": np.array([b"hello"], dtype=object)})
    text = str(err.value)
    assert "StringLowerFancy" in text and "__inference_tokenize_20292" in text
    assert "node 'StringLower'" in text
    assert not lm.restored  # refused before restoring or running anything


def test_while_loop_iteration_cap_and_cancel():
    sm = core.open_saved_model(MODELS / "vocab_module")
    feeds = {"x": np.array([1.0, 2.0], np.float32), "k": np.int32(1)}
    with pytest.raises(ExecutionError, match="limit is 2"):
        sm.run_signature("iterate", feeds, max_iterations=2)
    with pytest.raises(Cancelled):
        sm.run_signature("iterate", feeds, cancel=lambda: True)
    out = sm.run_signature("iterate", feeds)  # the session survives both
    assert out["values"].shape == (1,)


def test_tf1_frame_iteration_cap():
    g = core.open_graph(FIXTURES / "graphs" / "tf1_loop" / "model.ckpt.meta")
    feeds = {"x:0": np.zeros((1, 3), np.float32), "n:0": np.int32(5)}
    with pytest.raises(ExecutionError, match="limit is 3"):
        g.run(["y:0"], feeds, max_iterations=3)
    assert g.run(["y:0"], feeds)[0].shape == (1, 3)


def test_allocation_guard():
    ctx = KernelContext(None, RunOptions(max_alloc_bytes=1000))
    ctx.check_alloc(1000)
    with pytest.raises(ExecutionError, match="more than the limit"):
        ctx.check_alloc(1001)


def test_trace_records_nodes_inside_functions():
    sm = core.open_saved_model(MODELS / "keras_mlp")
    trace = Trace(keep=True)
    x = np.array([[1.0, np.nan, 0.0, 2.0]], np.float32)
    sm.run_signature("serving_default", {"features": x}, trace=trace)
    ops = [r.op for r in trace.records]
    assert "MatMul" in ops and "StatefulPartitionedCall" in ops
    matmuls = [r for r in trace.records if r.op == "MatMul"]
    assert all(r.function_path for r in matmuls)
    assert matmuls[0].shapes == [(1, 8)] and matmuls[0].dtypes == ["float32"]
    assert matmuls[0].has_nan and matmuls[0].values[0].shape == (1, 8)
    assert all(r.seconds >= 0 for r in trace.records)


def test_feed_shape_and_key_errors():
    sm = core.open_saved_model(MODELS / "keras_mlp")
    with pytest.raises(InputError, match="shape"):
        sm.run_signature("serving_default", {"features": np.zeros((2, 5), np.float32)})
    with pytest.raises(InputError, match="not a valid input key"):
        sm.run_signature("serving_default", {"nope": np.zeros((2, 4), np.float32)})
    with pytest.raises(NotFoundError):
        sm.run_signature("no_such_signature", {})
    with pytest.raises(ExecutionError, match="needs a value"):
        sm.run_signature("serving_default", {})


def test_python_lists_are_cast_to_the_placeholder_dtype():
    sm = core.open_saved_model(MODELS / "keras_mlp")
    a = sm.run_signature("serving_default", {"features": [[1, 2, 3, 4]]})["output_0"]
    b = sm.run_signature("serving_default",
                         {"features": np.array([[1, 2, 3, 4]], np.float32)})["output_0"]
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


def test_untaken_branch_has_no_value():
    g = core.open_graph(FIXTURES / "graphs" / "tf1_loop" / "model.ckpt.meta")
    proto = g.meta_graph_proto
    switch = next(n.name for n in proto.graph_def.node
                  if n.op == "Switch" and n.name.startswith("final/"))
    sess = LoadedMetaGraph(proto, None)
    sess.checkpoint_prefix = str(FIXTURES / "graphs" / "tf1_loop" / "model.ckpt")
    feeds = {"x:0": np.ones((1, 3), np.float32), "n:0": np.int32(0)}  # total > 0: true branch
    sess.run([f"{switch}:1"], feeds)
    with pytest.raises(ExecutionError, match="has no value"):
        sess.run([f"{switch}:0"], feeds)


def test_frozen_graph_session_feeds_and_targets():
    g = core.open_graph(MODELS / "frozen_graph" / "frozen_graph.pb")
    sess = Session(g.graph_def)
    x = np.random.RandomState(0).rand(2, 3).astype(np.float32)
    probs = sess.run("probs:0", {"input:0": x})
    assert probs.shape == (2, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    with pytest.raises(NotFoundError):
        sess.run("nope:0", {"input:0": x})
