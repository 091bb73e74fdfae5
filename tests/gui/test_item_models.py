"""qtmodeltester on every item model of the window, including the states people see only for a
moment: the tree while a document or a slow group is still loading, a trace regrouped, a tensor
table switching arrays."""
from __future__ import annotations

import numpy as np
import pytest

import tensorloupe.core as core
from tensorloupe.core.engine.context import Trace
from tensorloupe.gui import nodes as N
from tensorloupe.gui.panels.tensor_table import TensorTableModel
from tensorloupe.gui.panels.trace import TraceModel
from tensorloupe.gui.tree_model import TreeModel
from tensorloupe.gui.workers import wait_idle


def test_tree_model_while_documents_and_groups_load(qapp, qtmodeltester, fixtures_dir):
    """The tester stays connected: the loading placeholder rows, their replacement by the opened
    document, and a slow group's placeholder swapped for its children are all checked."""
    model = TreeModel()
    model.add_document(fixtures_dir / "saved_models" / "keras_mlp")
    model.add_document(fixtures_dir / "checkpoints" / "training_run")
    docs = model.documents()
    assert [d.kind for d in docs] == [N.LOADING, N.LOADING]
    qtmodeltester.check(model, force_py=True)
    assert wait_idle(timeout=30)
    saved_model, run = model.documents()
    assert (saved_model.kind, run.kind) == (N.SAVED_MODEL, N.TRAINING_RUN)

    # A slow group (the variables of a SavedModel) shows one "loading…" row meanwhile.
    serve = saved_model.children()[0]
    model.fetchMore(model.index_of(serve))
    variables = serve.find_child("variables")
    model.fetchMore(model.index_of(variables))
    assert model.is_loading(variables)
    assert [c.kind for c in variables.loaded_children()] == [N.LOADING]
    qtmodeltester.check(model, force_py=True)
    # One checkpoint of the training run, opened lazily too.
    first = run.children()[0]
    model.fetchMore(model.index_of(first))
    assert wait_idle(timeout=30)
    assert not model.is_loading(variables)
    assert variables.loaded_children() and all(c.kind != N.LOADING
                                               for c in variables.loaded_children())
    assert first.loaded_children()
    qtmodeltester.check(model, force_py=True)
    model.remove_document(0)
    qtmodeltester.check(model, force_py=True)
    model.close_all()


def _mlp_trace(fixtures_dir):
    with core.open_saved_model(fixtures_dir / "saved_models" / "keras_mlp") as sm:
        trace = Trace(keep=True)
        sm.run_signature("serving_default",
                         {"features": np.array([[0.5, -1.0, np.nan, 0.25]], np.float32)},
                         trace=trace)
        return list(trace.records)


@pytest.mark.parametrize("grouped", [True, False])
def test_trace_model(qapp, qtmodeltester, fixtures_dir, grouped):
    records = _mlp_trace(fixtures_dir)
    assert len(records) > 5
    model = TraceModel()
    qtmodeltester.check(model, force_py=True)          # empty
    model.set_records(records, grouped)
    qtmodeltester.check(model, force_py=True)
    assert model.first_bad is not None                  # the NaN fed in
    model.set_records(records, not grouped)             # regrouped while connected
    qtmodeltester.check(model, force_py=True)
    model.set_records([], grouped)
    qtmodeltester.check(model, force_py=True)


@pytest.mark.parametrize("array", [
    np.arange(12, dtype=np.float32).reshape(3, 4),
    np.array([1 + 2j, 3 - 4j], dtype=np.complex64),
    np.array(7, dtype=np.int64),
    np.array([b"a", b"\xff\x00", "é".encode()], dtype=object),
    np.array([[True, False]]),
    np.zeros((0, 5), dtype=np.float16),
    np.array([np.nan, np.inf, -np.inf, 0.0], dtype=np.float64),
], ids=["float32-2d", "complex", "scalar", "bytes", "bool", "empty", "non-finite"])
def test_tensor_table_model(qapp, qtmodeltester, array):
    model = TensorTableModel()
    qtmodeltester.check(model, force_py=True)
    model.set_array(array, "abs" if array.dtype.kind == "c" else None)
    qtmodeltester.check(model, force_py=True)
    expected = array.reshape(array.shape if array.ndim == 2 else (-1, 1))
    assert (model.rowCount(), model.columnCount()) == expected.shape
    model.set_array(np.ones((2, 2), np.float32))
    qtmodeltester.check(model, force_py=True)
