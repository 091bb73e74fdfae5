"""The comparison panel: its table, plots and drift curves show numpy's numbers over the values
TensorFlow read back from the diff fixtures; work runs in workers and can be cancelled."""
from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt

import tensorloupe.core.compare as C
from tensorloupe.core.compare import format_percent
from tensorloupe.core.compare_view import MISSING
from tensorloupe.gui.panels import compare as P
from tensorloupe.gui.panels.tensor import TensorPanel
from tests.core.diff_truth import DIFF, metrics, record, value

VARIANTS = DIFF / "variants"
KERAS = DIFF / "keras_run"


@pytest.fixture
def panel(qtbot):
    w = P.ComparePanel()
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    yield w
    w.cancel()
    from tensorloupe.gui.workers import wait_idle
    wait_idle(timeout=20, settle=0.0)


def run_pair(qtbot, panel, a, b):
    with qtbot.waitSignal(panel.finished, timeout=30000):
        panel.compare_pair(a, b)


def rows(panel) -> list:
    return [panel.proxy.index(r, 0).data(P.VARIABLE_ROLE) for r in range(panel.proxy.rowCount())]


def wait_details(qtbot, panel):
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=20000)


def test_table_model_passes_the_model_tester(qtmodeltester):
    model = P.CompareTableModel()
    model.set_comparison(C.compare(VARIANTS / "base", VARIANTS / "changed"))
    qtmodeltester.check(model)


def test_pair_table_shows_numpy_numbers(qtbot, panel):
    run_pair(qtbot, panel, VARIANTS / "base", VARIANTS / "changed")
    shown = rows(panel)
    assert len(shown) == len(record("variants")["checkpoints"]["base"]["keys"]) - 1
    assert "7 changed, 2 identical" in panel.summary_label.text()
    model = panel.model
    rel_col = model.COLUMNS.index("Rel. change")
    for r, v in enumerate(shown):
        truth = metrics(value("variants", "base", v.key_a), value("variants", "changed", v.key_b))
        text = panel.proxy.index(r, rel_col).data()
        rms_text = panel.proxy.index(r, model.COLUMNS.index("RMS change")).data()
        if v.is_counter:  # by value, never as a ratio
            assert rms_text == "100 → 200" and text == MISSING, v.name
        elif "rel_change" in truth:
            assert text == format_percent(truth["rel_change"] if truth["changed"] else 0.0,
                                          missing=MISSING), v.name
            assert rms_text == format_percent(truth["rms_change"] if truth["changed"] else 0.0,
                                              missing=MISSING), v.name
        changed = panel.proxy.index(r, model.COLUMNS.index("Changed")).data()
        n = value("variants", "base", v.key_a).size
        assert changed == f"{truth['changed'] / n * 100:.1f}%", v.name
    # most changed first by RMS change (all here are model weights), the counter last
    ranked = [v.rms_change for v in shown if v.rms_change is not None and not v.is_counter]
    assert ranked == sorted(ranked, reverse=True)
    assert shown[-1].name == "net/step"
    assert panel.counters_label.isVisible()
    assert panel.counters_label.text() == "Counters:  net/step 100 → 200"
    # colour scale: identical rows pale green, big changes red
    ident = next(r for r, v in enumerate(shown) if v.status == C.IDENTICAL)
    bg = panel.proxy.index(ident, rel_col).data(Qt.BackgroundRole).color()
    assert bg.green() > bg.red()
    top = panel.proxy.index(0, rel_col).data(Qt.BackgroundRole).color()
    assert top.red() > 200 and top.green() < 100
    # NaN / Inf counts are shown
    scale = next(r for r, v in enumerate(shown) if v.name == "net/scale")
    assert panel.proxy.index(scale, model.COLUMNS.index("NaN/Inf")).data() == "B 1/1"


def test_filters_and_sorting(qtbot, panel):
    run_pair(qtbot, panel, KERAS / "ckpt-1", KERAS / "ckpt-5")
    everything = rows(panel)
    groups = [v.group for v in everything]
    order = ["model", "optimizer", "other"]
    assert groups == sorted(groups, key=order.index)  # weights listed first
    panel.group_box.setCurrentIndex(2)
    assert {v.group for v in rows(panel)} == {"optimizer"}
    panel.group_box.setCurrentIndex(1)
    assert {v.kind for v in rows(panel)} == {"variable"}
    panel.changed_only.setChecked(True)
    assert all(v.status != C.IDENTICAL for v in rows(panel))
    assert len(rows(panel)) == len([v for v in everything
                                    if v.group == "model" and v.status != C.IDENTICAL])
    panel.filter_edit.setText("head")
    assert {v.layer for v in rows(panel)} == {"head"}
    panel.filter_edit.clear()
    panel.changed_only.setChecked(False)
    panel.group_box.setCurrentIndex(0)
    cos = panel.model.COLUMNS.index("Cosine")
    panel.table.sortByColumn(cos, Qt.AscendingOrder)
    # one-element variables show no cosine (it is only their sign): sorted with the unknown
    values = [v.cosine for v in rows(panel) if v.cosine is not None and not v.is_scalar]
    assert values == sorted(values)


def test_selected_variable_histograms_and_difference(qtbot, panel):
    run_pair(qtbot, panel, KERAS / "ckpt-1", KERAS / "ckpt-5")
    name = "model/layer_with_weights-1/kernel"
    assert panel.select_variable(name)
    wait_details(qtbot, panel)
    key = panel.comparison.get(name).key_a
    a, b = value("keras_run", "ckpt-1", key), value("keras_run", "ckpt-5", key)
    curves = panel.histogram.plot.listDataItems()
    assert len(curves) == 2
    counts = [c.getData()[1] for c in curves]
    assert [int(np.sum(c)) for c in counts] == [a.size, b.size]
    edges = curves[0].getData()[0]
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    assert edges[0] == pytest.approx(lo) and edges[-1] == pytest.approx(hi)
    assert counts[0] == pytest.approx(np.histogram(a, bins=len(edges) - 1, range=(lo, hi))[0])
    image = panel.difference.image.image
    np.testing.assert_allclose(image, b.astype(np.float64) - a, rtol=1e-6, atol=1e-7)
    assert panel.open_a.isEnabled() and panel.open_b.isEnabled()
    with qtbot.waitSignal(panel.open_tensor) as sig:
        panel.open_b.click()
    assert sig.args == [panel.comparison.path_b, key]


def test_nd_slices_and_strings(qtbot, panel, tmp_path):
    run_pair(qtbot, panel, VARIANTS / "base", VARIANTS / "changed")
    panel.select_variable("net/vocab")
    wait_details(qtbot, panel)
    assert "strings" in panel.histogram.plot.titleLabel.text
    panel.select_variable("net/emb")  # bfloat16 [5, 2]
    wait_details(qtbot, panel)
    key = panel.comparison.get("net/emb").key_a
    a = value("variants", "base", key).astype(np.float64)
    b = value("variants", "changed", key).astype(np.float64)
    np.testing.assert_allclose(panel.difference.image.image, b - a, rtol=1e-6)
    # N-D: a slice; the core helper picks the leading index
    data = C.difference_slice(VARIANTS / "base", key, VARIANTS / "changed", key, index=(3,))
    assert data["diff"].shape == (5, 2) and data["index"] == ()


def test_series_slider_and_drift(qtbot, panel):
    with qtbot.waitSignal(panel.finished, timeout=30000):
        panel.compare_series(KERAS)
    prefixes = record("keras_run")["prefixes"]
    assert panel.series_bar.isVisible() and panel.drift.isVisible()
    assert panel.slider.value() == len(prefixes) - 1
    name = "model/layer_with_weights-3/kernel"
    panel.select_variable(name)
    wait_details(qtbot, panel)
    key = panel.comparison.get(name).key_a
    first = value("keras_run", prefixes[0], key)
    curve = panel.drift.plot.listDataItems()[0].getData()[1]
    truth = [metrics(first, value("keras_run", p, key))["rms_change"] * 100 for p in prefixes]
    np.testing.assert_allclose(curve, truth, rtol=1e-5, atol=1e-9)
    panel.slider.setValue(2)
    assert panel.comparison is panel.series.from_first[1]
    assert panel.drift.marker.value() == 2
    panel.mode.setCurrentIndex(1)
    assert panel.comparison is panel.series.consecutive[1]
    rel = panel.comparison.get(name).rel_change
    assert rel == pytest.approx(metrics(value("keras_run", prefixes[1], key),
                                        value("keras_run", prefixes[2], key))["rel_change"],
                                rel=1e-5)


def test_cancel_and_errors(qtbot, panel, monkeypatch, tmp_path):
    started = threading.Event()

    def slow_compare(a, b, progress=None, cancel=None, **_):
        started.set()
        while not cancel():
            threading.Event().wait(0.01)
        raise C.Cancelled()
    monkeypatch.setattr(C, "compare", slow_compare)
    panel.compare_pair(VARIANTS / "base", VARIANTS / "changed")
    assert started.wait(10)
    assert panel.cancel_button.isVisible() and panel.is_busy()
    with qtbot.waitSignal(panel.finished, timeout=10000):
        panel.cancel_button.click()
    assert panel.summary_label.text() == "Cancelled." and not panel.progress.isVisible()
    monkeypatch.undo()

    run_pair(qtbot, panel, VARIANTS / "base", tmp_path / "missing")
    assert panel.error.isVisible() and "no checkpoint here" in panel.error.text()

    for f in VARIANTS.glob("changed.*"):
        shutil.copy(f, tmp_path / f.name)
    data = tmp_path / "changed.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:40])
    run_pair(qtbot, panel, VARIANTS / "base", tmp_path / "changed")
    assert panel.error.isVisible() and "could not be compared" in panel.error.text()
    failed = [v for v in rows(panel) if v.status == C.FAILED]
    assert failed and len(failed) < len(rows(panel))  # the rest still compared


def test_open_in_the_main_window(qtbot, window):
    cp = window.compare_host.open([KERAS / "ckpt-1", KERAS / "ckpt-5"])
    qtbot.waitUntil(lambda: cp.comparison is not None, timeout=30000)
    wait_details(qtbot, cp)
    cp.select_variable("optimizer/m/model/layer_with_weights-1/kernel")
    wait_details(qtbot, cp)
    qtbot.mouseClick(cp.open_a, Qt.LeftButton)
    qtbot.waitUntil(lambda: isinstance(window.current_panel(), TensorPanel), timeout=20000)
    # the browser shows again, with the tensor selected in the tree
    assert window.compare_host.tabs.currentIndex() == 0
    node = window.current_node()
    assert node.payload.key == cp.comparison.get(
        "optimizer/m/model/layer_with_weights-1/kernel").key_a


def click_row(qtbot, panel, name: str) -> None:
    """Click the table row of ``name`` as a person would (scrolling it into view first)."""
    row = next(r for r, v in enumerate(rows(panel)) if v.name == name)
    index = panel.proxy.index(row, 0)
    panel.table.scrollTo(index)
    rect = panel.table.visualRect(index)
    qtbot.mouseClick(panel.table.viewport(), Qt.LeftButton, pos=rect.center())
    assert panel._current is not None and panel._current.name == name


def test_rank_by_box_reorders_rows_chart_and_drift(qtbot, panel):
    with qtbot.waitSignal(panel.finished, timeout=30000):
        panel.compare_series(DIFF / "tf1_run")
    prefixes = record("tf1_run")["prefixes"]
    assert panel.rank_box.currentText() == "RMS change"
    model_rows = [v for v in rows(panel) if v.group == "model"]
    ranked = [metrics(value("tf1_run", prefixes[0], v.key_a),
                      value("tf1_run", prefixes[-1], v.key_b))["rms_change"] for v in model_rows]
    assert ranked == sorted(ranked, reverse=True)
    assert all(np.isfinite(ranked))
    assert panel.layer_chart.plot.titleLabel.text.startswith("RMS change per layer")
    # the person picks "Relative change" with the keyboard
    panel.rank_box.setFocus()
    qtbot.keyClick(panel.rank_box, Qt.Key_Down)
    assert panel.rank_by == C.RELATIVE
    model_rows = [v for v in rows(panel) if v.group == "model"]
    rels = [v.rel_change for v in model_rows]
    assert rels[:2] == [np.inf, np.inf]  # the biases start at zero
    assert rels == sorted(rels, reverse=True)
    assert panel.layer_chart.plot.titleLabel.text.startswith("Relative change per layer")
    qtbot.keyClick(panel.rank_box, Qt.Key_Down)
    assert panel.rank_by == C.MAX_ABS
    model_rows = [v for v in rows(panel) if v.group == "model"]
    biggest = [v.max_abs_diff for v in model_rows]
    assert biggest == sorted(biggest, reverse=True)
    click_row(qtbot, panel, "layer1/weights")
    wait_details(qtbot, panel)
    curve = panel.drift.plot.listDataItems()[0].getData()[1]
    truth = [metrics(value("tf1_run", prefixes[0], "layer1/weights"),
                     value("tf1_run", p, "layer1/weights"))["max_abs_diff"] for p in prefixes]
    np.testing.assert_allclose(curve, truth, rtol=1e-5)
    assert panel.drift.plot.getAxis("left").labelText == "max |B−A|"


def test_every_variable_of_a_run_gets_a_drift_line(qtbot, panel):
    with qtbot.waitSignal(panel.finished, timeout=30000):
        panel.compare_series(DIFF / "tf1_run")
    prefixes = record("tf1_run")["prefixes"]
    steps = [int(value("tf1_run", p, "global_step")) for p in prefixes]
    assert panel.counters_label.text() == f"Counters:  global_step {steps[0]} → {steps[-1]}"
    for v in rows(panel):
        click_row(qtbot, panel, v.name)
        wait_details(qtbot, panel)
        curve = panel.drift.plot.listDataItems()[0].getData()[1]
        assert len(curve) == len(prefixes) and np.all(np.isfinite(curve)), v.name
        if v.is_counter:  # a counter's line is its value at every checkpoint
            assert list(curve) == steps
            assert "value of global_step" in panel.drift.plot.titleLabel.text
        else:
            first = value("tf1_run", prefixes[0], v.key_a)
            truth = [metrics(first, value("tf1_run", p, v.key_a))["rms_change"] * 100
                     for p in prefixes]
            np.testing.assert_allclose(curve, truth, rtol=1e-5, atol=1e-9, err_msg=v.name)


def test_scalars_are_shown_as_values(qtbot, panel):
    run_pair(qtbot, panel, KERAS / "ckpt-1", KERAS / "ckpt-5")
    it_key = "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE"
    a, b = int(value("keras_run", "ckpt-1", it_key)), int(value("keras_run", "ckpt-5", it_key))
    saves = [int(value("keras_run", p, "save_counter/.ATTRIBUTES/VARIABLE_VALUE"))
             for p in ("ckpt-1", "ckpt-5")]
    assert panel.counters_label.text() == (f"Counters:  optimizer/iter {a} → {b}  ·  "
                                           f"save_counter {saves[0]} → {saves[1]}")
    click_row(qtbot, panel, "optimizer/iter")
    wait_details(qtbot, panel)
    assert panel.scalar_view.isVisible() and not panel.details.isVisible()
    text = panel.scalar_view.text()
    assert f"<b>{a}</b>" in text and f"<b>{b}</b>" in text and f"<b>+{b - a}</b>" in text
    assert "counter (int64)" in text
    click_row(qtbot, panel, "optimizer/learning_rate")
    wait_details(qtbot, panel)
    lr = value("keras_run", "ckpt-1", "optimizer/learning_rate/.ATTRIBUTES/VARIABLE_VALUE")
    assert f"<b>{float(str(lr)):.6g}</b>" in panel.scalar_view.text()
    assert "<b>0</b>" in panel.scalar_view.text()  # B − A
    # a tensor again: the histogram and the difference image come back
    click_row(qtbot, panel, "model/layer_with_weights-1/kernel")
    wait_details(qtbot, panel)
    assert panel.details.isVisible() and not panel.scalar_view.isVisible()
    assert len(panel.histogram.plot.listDataItems()) == 2
