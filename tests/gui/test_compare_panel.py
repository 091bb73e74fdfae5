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
        if "rel_change" in truth:
            assert text == format_percent(truth["rel_change"] if truth["changed"] else 0.0,
                                          missing=MISSING), v.name
        changed = panel.proxy.index(r, model.COLUMNS.index("Changed")).data()
        n = value("variants", "base", v.key_a).size
        assert changed == f"{truth['changed'] / n * 100:.1f}%", v.name
    # most changed first (all here are model weights)
    rels = [v.rel_change for v in shown if v.rel_change is not None]
    assert rels == sorted(rels, reverse=True)
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
    assert groups == sorted(groups, key=["model", "optimizer"].index)  # weights listed first
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
    values = [v.cosine for v in rows(panel) if v.cosine is not None]
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
    truth = [metrics(first, value("keras_run", p, key))["rel_change"] * 100 for p in prefixes]
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
    cw = P.open_compare_window(window, [KERAS / "ckpt-1", KERAS / "ckpt-5"])
    qtbot.addWidget(cw)
    qtbot.waitUntil(lambda: cw.panel.comparison is not None, timeout=30000)
    wait_details(qtbot, cw.panel)
    cw.panel.select_variable("optimizer/m/model/layer_with_weights-1/kernel")
    wait_details(qtbot, cw.panel)
    cw.panel.open_a.click()
    qtbot.waitUntil(lambda: isinstance(window.current_panel(), TensorPanel), timeout=20000)
    node = window.current_node()
    assert node.payload.key == cw.panel.comparison.get(
        "optimizer/m/model/layer_with_weights-1/kernel").key_a
    cw.close()
