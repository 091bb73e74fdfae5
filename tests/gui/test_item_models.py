"""qtmodeltester on every item model of the window, including the states people see only for a
moment: the tree while a document or a slow group is still loading, a trace regrouped, a tensor
table switching arrays."""
from __future__ import annotations

import contextlib
import threading

import numpy as np
import pytest
from pytestqt.modeltest import ModelTester

import tensorloupe.core as core
from tensorloupe.core.engine.context import Trace
from tensorloupe.gui import nodes as N
from tensorloupe.gui.panels.tensor_table import TensorTableModel
from tensorloupe.gui.panels.trace import TraceModel
from tensorloupe.gui.tree_model import TreeModel
from tensorloupe.gui.workers import wait_idle


@contextlib.contextmanager
def _model_tester(model, config):
    """pytest-qt's model tester for one state of the model: connected while the block runs, so
    the changes made inside it are checked as they happen, disconnected after. (Kept connected
    for good, it would fetch more rows from inside the model's own insert signals, which a lazily
    loading tree cannot survive; Qt's C++ tester does the same.)"""
    tester = ModelTester(config)
    tester.check(model, force_py=True)
    try:
        yield tester
    finally:
        tester._cleanup()


def _loaded_tree(fixtures_dir) -> TreeModel:
    model = TreeModel()
    model.add_document(fixtures_dir / "saved_models" / "keras_mlp")
    assert wait_idle(timeout=30)
    for _ in range(4):      # every quick and slow loader, so nothing is left to fetch
        model.fetch_all()
        for node in [n for n in _walk(model.root) if n.loader is not None]:
            model.fetchMore(model.index_of(node))
        assert wait_idle(timeout=30)
    return model


def test_tree_model_while_a_document_opens(qapp, request, fixtures_dir):
    model = TreeModel()
    model.add_document(fixtures_dir / "checkpoints" / "keras_adam")
    # The worker's answer waits in the event queue: the tree holds one "loading" row now.
    assert [d.kind for d in model.documents()] == [N.LOADING]
    with _model_tester(model, request.config):
        assert model.rowCount() == 1 and not model.hasChildren(model.index(0, 0))
    with _model_tester(model, request.config):
        assert wait_idle(timeout=30)            # the placeholder is replaced while checked
    assert model.documents()[0].kind == N.CHECKPOINT
    model.close_all()


def test_tree_model_while_a_slow_group_loads(qapp, request, fixtures_dir):
    """A slow group shows one "loading" row until its children arrive; both states and the swap
    between them are checked. The group's loader waits for the test, so the state holds."""
    model = _loaded_tree(fixtures_dir)
    release = threading.Event()

    def load():
        assert release.wait(30)
        return [N.Node(label=f"item {i}", kind=N.INFO) for i in range(3)]
    group = N.Node(label="slow group", kind=N.GROUP, loader=load, slow=True)
    model.add_node(group)
    with _model_tester(model, request.config):
        model.fetchMore(model.index_of(group))
        assert model.is_loading(group)
        assert [c.kind for c in group.loaded_children()] == [N.LOADING]
    with _model_tester(model, request.config):
        assert not model.canFetchMore(model.index_of(group))
        release.set()
        assert wait_idle(timeout=30)
        assert [c.label for c in group.loaded_children()] == ["item 0", "item 1", "item 2"]
    with _model_tester(model, request.config):
        model.remove_document(0)
        assert model.documents() == [group]
    model.close_all()


def _walk(node):
    for child in node.loaded_children():
        yield child
        yield from _walk(child)


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
    # The tester stays connected and checks the model again after every reset below.
    qtmodeltester.check(model, force_py=True)          # empty
    model.set_records(records, grouped)
    assert model.first_bad is not None                  # the NaN fed in
    assert model.rowCount() > 0
    model.set_records(records, not grouped)             # regrouped
    model.set_records([], grouped)
    assert model.rowCount() == 0


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
    qtmodeltester.check(model, force_py=True)   # stays connected: rechecks after each reset
    model.set_array(array, "abs" if array.dtype.kind == "c" else None)
    expected = array.reshape(array.shape if array.ndim == 2 else (-1, 1))
    assert (model.rowCount(), model.columnCount()) == expected.shape
    model.set_array(np.ones((2, 2), np.float32))
    assert (model.rowCount(), model.columnCount()) == (2, 2)
