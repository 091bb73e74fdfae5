"""The Trace tab: every executed node in order, grouped by function and scope, filterable,
the first NaN/Inf highlighted, a click shows the node's tensor, op descriptions as tooltips."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

import tensorloupe.core as core
from tensorloupe.core.engine.registry import lookup
from tensorloupe.gui import nodes as N
from tensorloupe.gui.panels.run import RunPanel
from tensorloupe.gui.panels.trace import (COL_DESC, COL_FLAG, COL_NAME, COL_OP, COL_SHAPE, FIRST_BAD_BRUSH,
                              RECORD_ROLE)
from tensorloupe.gui.workers import wait_idle


def _run_mlp(qtbot, fixtures_dir, expr):
    sm = core.open_saved_model(fixtures_dir / "saved_models" / "keras_mlp")
    mg = sm.meta_graph("serve")
    panel = RunPanel(settings=None)
    qtbot.addWidget(panel)
    panel.resize(1000, 800)
    panel.show()
    panel.show_node(N.Node(label="serving_default", kind=N.SIGNATURE,
                           payload=N.SignatureRef(mg.signatures["serving_default"], mg)))
    ed = panel.editors["features"]
    ed.set_mode("expr")
    ed.expr_edit.setText(expr)
    with qtbot.waitSignal(panel.result_ready, timeout=60_000) as blocker:
        assert panel.run() is not None
    assert wait_idle(timeout=30)
    return panel, blocker.args[0]


def _rows(view_model, parent=None):
    """Every index of a tree model, depth first, in display order."""
    from PySide6.QtCore import QModelIndex
    parent = parent or QModelIndex()
    out = []
    for r in range(view_model.rowCount(parent)):
        idx = view_model.index(r, 0, parent)
        out.append(idx)
        out.extend(_rows(view_model, idx))
    return out


def test_trace_table_lists_every_node_in_order(qtbot, fixtures_dir):
    panel, result = _run_mlp(qtbot, fixtures_dir, "[[0.5, -1.0, 2.0, 0.25]]")
    tp = panel.trace_panel
    records = result.trace.records
    assert records and tp.records == records
    # Flat: one row per record, in execution order.
    tp.group_box.setChecked(False)
    m = tp.proxy
    assert m.rowCount() == len(records)
    for r, rec in enumerate(records):
        assert m.index(r, 0).data(RECORD_ROLE) is rec
        assert m.index(r, COL_NAME).data() == rec.name
        assert m.index(r, COL_OP).data() == rec.op
    # Grouped: the same records, in the same order, under function calls and name scopes.
    tp.group_box.setChecked(True)
    grouped = [i.data(RECORD_ROLE) for i in _rows(m) if i.data(RECORD_ROLE) is not None]
    assert grouped == records
    tops = [m.index(r, COL_NAME).data() for r in range(m.rowCount())]
    assert any(t.startswith("ƒ __inference_signature_wrapper") for t in tops)
    scopes = [i for i in _rows(m) if i.siblingAtColumn(COL_NAME).data() == "hidden_1/"]
    assert len(scopes) == 1, "the hidden layer's nodes are one group"
    inside = [m.index(r, COL_NAME, scopes[0]).data() for r in range(m.rowCount(scopes[0]))]
    assert inside == [r.name[len("mlp_1/hidden_1/"):] for r in records
                      if r.name.startswith("mlp_1/hidden_1/")]
    # The last node is the call whose output is the signature's output.
    last = records[-1]
    assert last.op == "StatefulPartitionedCall"
    np.testing.assert_array_equal(last.values[0], result.outputs["output_0"])


def test_clicking_a_row_shows_its_tensor(qtbot, fixtures_dir):
    x = [[0.5, -1.0, 2.0, 0.25]]
    panel, result = _run_mlp(qtbot, fixtures_dir, repr(x))
    tp = panel.trace_panel
    item = tp.find_items("mlp_1/hidden_1/MatMul")[0]
    tp.select_item(item)
    assert wait_idle(timeout=30)
    assert tp.lower.currentWidget() is tp.tensor
    shown = tp.tensor.array
    # The same product, recomputed from the kernel the trace read just before it.
    kernel = next(r for r in result.trace.records
                  if r.name == "mlp_1/hidden_1/Cast/ReadVariableOp").values[0]
    assert kernel.shape == (4, 8)
    np.testing.assert_allclose(shown, np.asarray(x, np.float32) @ kernel, rtol=1e-6)
    assert shown.shape == item.record.shapes[0]
    # A node that produced a resource handle says so instead of showing a table.
    handle = next(r for r in result.trace.records if r.op == "VarHandleOp")
    tp.select_item(tp.find_items(handle.name)[0])
    assert tp.lower.currentWidget() is tp.message
    assert "not a tensor" in tp.message.text()


def test_filter_and_descriptions(qtbot, fixtures_dir):
    panel, result = _run_mlp(qtbot, fixtures_dir, "[[1.0, 2.0, 3.0, 4.0]]")
    tp = panel.trace_panel
    tp.group_box.setChecked(False)
    tp.filter.setText("matmul")
    m = tp.proxy
    shown = [m.index(r, 0).data(RECORD_ROLE) for r in range(m.rowCount())]
    assert shown and all(r.op == "MatMul" or "matmul" in r.name.lower() for r in shown)
    assert len(shown) == sum(1 for r in result.trace.records
                             if r.op == "MatMul" or "matmul" in r.name.lower()
                             or "matmul" in (lookup(r.op).description or "").lower())
    # Every op's plain-words description (from the kernel registry) is a column and a tooltip.
    desc = lookup("MatMul").description
    assert desc
    assert m.index(0, COL_DESC).data() == desc
    assert desc in m.index(0, COL_OP).data(Qt.ToolTipRole)
    tp.filter.clear()
    assert m.rowCount() == len(result.trace.records)


def test_first_nan_is_highlighted(qtbot, fixtures_dir):
    panel, result = _run_mlp(qtbot, fixtures_dir, "np.array([[np.nan, 1.0, 2.0, 3.0]])")
    tp = panel.trace_panel
    records = result.trace.records
    first = next(r for r in records if r.has_nan or r.has_inf)
    assert first.name == "mlp_1/hidden_1/MatMul"     # the first op that touches the input
    assert tp.model.first_bad.record is first
    assert "First NaN: mlp_1/hidden_1/MatMul (MatMul)" == tp.bad_label.text()
    tp.show_first_bad()
    current = tp.view.currentIndex()
    assert current.data(RECORD_ROLE) is first
    assert current.data(Qt.BackgroundRole) == FIRST_BAD_BRUSH
    assert current.siblingAtColumn(COL_FLAG).data() == "NaN"
    assert wait_idle(timeout=30)
    assert np.isnan(tp.tensor.array).any()
    # A clean run says so.
    panel2, _ = _run_mlp(qtbot, fixtures_dir, "[[1.0, 1.0, 2.0, 3.0]]")
    assert panel2.trace_panel.model.first_bad is None
    assert panel2.trace_panel.bad_label.text() == "No NaN or Inf."


def test_shapes_column(qtbot, fixtures_dir):
    panel, result = _run_mlp(qtbot, fixtures_dir, "[[1.0, 2.0, 3.0, 4.0], [0, 0, 0, 0]]")
    tp = panel.trace_panel
    tp.group_box.setChecked(False)
    m = tp.proxy
    row = [r for r in range(m.rowCount()) if m.index(r, COL_NAME).data() ==
           "mlp_1/probs_1/Softmax"][0]
    assert m.index(row, COL_SHAPE).data() == "(2, 3)"
