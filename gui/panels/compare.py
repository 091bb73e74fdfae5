"""Checkpoint comparison: a sortable table of every variable, and plots of how they changed.

    ComparePanel.compare_pair(A, B)       two checkpoints
    ComparePanel.compare_series(paths)    a training run (a directory or a list), with a
                                          checkpoint slider and drift curves

Left: the variables with their metrics (the relative-change column coloured on a log scale,
most changed first; filter by text, group and "changed only"). Right: relative change per
layer, overlaid histograms of A and B for the selected variable, a heatmap of B - A (one 2-D
slice of an N-D tensor, chosen with the spin boxes) and, for a series, the variable's drift
curve with the slider's position marked. All numbers come from core.compare, computed in
workers with progress and Cancel; "Open in A/B" asks the main window to show the tensor in
the normal tensor panel.

``show_compare`` renders the panel standalone (``tensorloupe gui --compare A B
--screenshot OUT.png``).
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import (QAbstractTableModel, QModelIndex, QRectF, QSortFilterProxyModel, Qt,
                            Signal)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QProgressBar, QPushButton,
                               QSlider, QSpinBox, QSplitter, QTableView, QVBoxLayout, QWidget)

from tensorloupe.core import compare as C
from tensorloupe.core.compare import format_number, format_percent
from tensorloupe.core.errors import TensorloupeError

from ..workers import Worker
from .base import error_label, subtitle_label, title_label

# White plots, as the tensor panel draws them.
pg.setConfigOptions(background="w", foreground="k", imageAxisOrder="row-major", antialias=False)

SORT_ROLE = Qt.UserRole + 1
VARIABLE_ROLE = Qt.UserRole + 2

COLOR_A = QColor(31, 119, 180)
COLOR_B = QColor(255, 127, 14)


# ---------------------------------------------------------------- formatting


def fmt_pct(x: float | None) -> str:
    return format_percent(x, missing="–")


def fmt_num(x: float | None) -> str:
    return format_number(x, missing="–")


def change_color(rel: float | None, status: str) -> QColor | None:
    """Background for the relative change: white (1e-6 or less) -> yellow -> red (100%+)."""
    if status == C.IDENTICAL:
        return QColor(236, 244, 236)
    if rel is None or math.isnan(rel):
        return None
    if math.isinf(rel):
        return QColor(165, 0, 38)
    t = 0.0 if rel <= 1e-6 else min(1.0, (math.log10(rel) + 6) / 6)
    stops = [(0.0, (255, 255, 255)), (0.5, (255, 236, 140)), (0.8, (253, 141, 60)),
             (1.0, (215, 48, 39))]
    for (t0, c0), (t1, c1) in zip(stops, stops[1:]):
        if t <= t1:
            f = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
            return QColor(*(int(a + (b - a) * f) for a, b in zip(c0, c1)))
    return QColor(*stops[-1][1])


def shape_text(shape) -> str:
    return "–" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


# ---------------------------------------------------------------- table model


class CompareTableModel(QAbstractTableModel):
    """One row per aligned variable of a Comparison."""

    COLUMNS = ["Name", "Layer", "Status", "Shape", "DType", "Rel. change",
               "Max |B−A|", "Cosine", "Changed", "NaN/Inf", "‖A‖", "‖B‖"]
    REL = 5

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[C.VariableDiff] = []

    def set_comparison(self, comparison: C.Comparison | None) -> None:
        self.beginResetModel()
        if comparison is None:
            self._rows = []
        else:
            # Model weights first, then optimizer state, each most changed first.
            order = {C.MODEL: 0, C.OPTIMIZER: 1, C.OTHER: 2}
            self._rows = sorted(comparison.variables,
                                key=lambda v: (order.get(v.group, 3), *v.sort_key()))
        self.endResetModel()

    def variable(self, row: int) -> C.VariableDiff:
        return self._rows[row]

    def row_of(self, name: str) -> int:
        for i, v in enumerate(self._rows):
            if name in (v.name, v.name_b, v.key_a, v.key_b):
                return i
        return -1

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole and 0 <= section < len(self.COLUMNS):
            return self.COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.DisplayRole):
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        v = self._rows[index.row()]
        col = index.column()
        if role == VARIABLE_ROLE:
            return v
        if role == Qt.DisplayRole:
            return self._text(v, col)
        if role == SORT_ROLE:
            return self._sort_value(v, col)
        if role == Qt.BackgroundRole and col == self.REL:
            color = change_color(v.rel_change, v.status)
            return QBrush(color) if color is not None else None
        if role == Qt.TextAlignmentRole and col >= self.REL:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        if role == Qt.ToolTipRole:
            lines = [v.name]
            if v.name_b:
                lines.append(f"in B: {v.name_b}")
            lines += [f"A key: {v.key_a}" if v.key_a else "not in A",
                      f"B key: {v.key_b}" if v.key_b else "not in B"]
            if v.slot_of:
                lines.append(f"slot {v.slot_name} of {v.slot_of}")
            if v.error:
                lines.append(v.error)
            return "\n".join(lines)
        if role == Qt.ForegroundRole and v.status == C.FAILED:
            return QBrush(QColor(160, 20, 20))
        return None

    def _text(self, v: C.VariableDiff, col: int) -> str:
        name = self.COLUMNS[col]
        if name == "Name":
            return v.name
        if name == "Layer":
            return v.layer
        if name == "Status":
            if v.status == C.SHAPE_CHANGED:
                return f"shape {shape_text(v.shape_a)} → {shape_text(v.shape_b)}"
            if v.status == C.DTYPE_CHANGED:
                return f"dtype {v.dtype_a} → {v.dtype_b}"
            return v.status
        if name == "Shape":
            return shape_text(v.shape_a if v.shape_a is not None else v.shape_b)
        if name == "DType":
            return v.dtype_a or v.dtype_b or "–"
        if name == "Rel. change":
            return fmt_pct(v.rel_change) if v.common else "–"
        if name == "Max |B−A|":
            return fmt_num(v.max_abs_diff)
        if name == "Cosine":
            return "–" if v.cosine is None else f"{v.cosine:.6f}"
        if name == "Changed":
            f = v.fraction_changed
            return "–" if f is None else ("<0.1%" if 0 < f < 0.001 else f"{f * 100:.1f}%")
        if name == "NaN/Inf":
            parts = []
            if v.nan_a or v.inf_a:
                parts.append(f"A {v.nan_a}/{v.inf_a}")
            if v.nan_b or v.inf_b:
                parts.append(f"B {v.nan_b}/{v.inf_b}")
            return ", ".join(parts)
        if name == "‖A‖":
            return fmt_num(v.norm_a)
        if name == "‖B‖":
            return fmt_num(v.norm_b)
        return ""

    def _sort_value(self, v: C.VariableDiff, col: int):
        def num(x):
            if x is None or (isinstance(x, float) and math.isnan(x)):
                return -1.0
            return float(x)
        name = self.COLUMNS[col]
        values = {"Rel. change": v.rel_change, "Max |B−A|": v.max_abs_diff, "Cosine": v.cosine,
                  "Changed": v.fraction_changed, "NaN/Inf": v.nan_a + v.nan_b + v.inf_a + v.inf_b,
                  "‖A‖": v.norm_a, "‖B‖": v.norm_b}
        if name in values:
            return num(values[name])
        if name == "Shape":
            return v.num_elements
        return self._text(v, col).lower()


class CompareFilter(QSortFilterProxyModel):
    """Text (name or layer), group and 'changed only'."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.text = ""
        self.group = ""
        self.changed_only = False

    def set_filter(self, text: str | None = None, group: str | None = None,
                   changed_only: bool | None = None) -> None:
        begin = getattr(self, "beginFilterChange", None)  # Qt >= 6.9; invalidateFilter before
        if begin is not None:
            begin()
        if text is not None:
            self.text = text.lower()
        if group is not None:
            self.group = group
        if changed_only is not None:
            self.changed_only = changed_only
        if begin is not None:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:
        v = self.sourceModel().variable(row)
        if self.group and v.group != self.group:
            return False
        if self.changed_only and v.status == C.IDENTICAL:
            return False
        if self.text and self.text not in v.name.lower() and self.text not in v.layer.lower():
            return False
        return True


# ---------------------------------------------------------------- plots


def _plain(plot_item) -> None:
    for name in ("left", "bottom"):
        plot_item.getAxis(name).enableAutoSIPrefix(False)


class LayerChart(pg.PlotWidget):
    """Horizontal bars: relative change per layer (model weights), most changed on top."""

    MAX_LAYERS = 24

    def __init__(self):
        super().__init__()
        self.plot = self.getPlotItem()
        self.plot.setTitle("Relative change per layer, % (model weights)", size="9pt")
        self.plot.showGrid(x=True, y=False, alpha=0.25)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        _plain(self.plot)
        self.layers: list[C.LayerSummary] = []

    def set_layers(self, layers: list[C.LayerSummary]) -> None:
        self.plot.clear()
        self.layers = [s for s in layers if s.rel_change is not None
                       and math.isfinite(s.rel_change)][:self.MAX_LAYERS]
        n = len(self.layers)
        if not n:
            self.plot.getAxis("left").setTicks([[]])
            return
        values = np.array([s.rel_change * 100 for s in self.layers])
        ys = np.arange(n)[::-1].astype(float)
        brushes = [pg.mkBrush(change_color(s.rel_change, C.CHANGED if s.changed_variables
                                           else C.IDENTICAL).darker(115)) for s in self.layers]
        bars = pg.BarGraphItem(x0=np.zeros(n), y=ys, width=values, height=0.7, brushes=brushes,
                               pen=pg.mkPen(120, 120, 120))
        self.plot.addItem(bars)
        ticks = [(float(y), self._label(s)) for y, s in zip(ys, self.layers)]
        self.plot.getAxis("left").setTicks([ticks])
        self.plot.setYRange(-0.6, n - 0.4, padding=0)
        top = float(values.max()) if values.size else 1.0
        self.plot.setXRange(0, top * 1.08 if top > 0 else 1.0, padding=0)

    @staticmethod
    def _label(s: C.LayerSummary) -> str:
        name = s.layer if len(s.layer) <= 28 else "…" + s.layer[-27:]
        return f"{name} ({s.params:,})"


class HistogramPlot(pg.PlotWidget):
    def __init__(self):
        super().__init__()
        self.plot = self.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("left", "count")
        self.plot.setLabel("bottom", "value")
        self.legend = self.plot.addLegend(offset=(-10, 10))
        _plain(self.plot)

    def clear_plot(self, title: str = "") -> None:
        self.plot.clear()
        self.legend.clear()
        self.plot.setTitle(title, size="9pt")

    def set_histograms(self, title: str, data: dict) -> None:
        self.clear_plot(title)
        edges = data["edges"]
        for counts, color, label in ((data["a"], COLOR_A, "A"), (data["b"], COLOR_B, "B")):
            fill = QColor(color)
            fill.setAlpha(70)
            item = pg.PlotDataItem(edges, counts, stepMode="center", fillLevel=0,
                                   fillBrush=pg.mkBrush(fill), pen=pg.mkPen(color, width=2),
                                   name=label)
            self.plot.addItem(item)
        self.plot.autoRange()


class DifferenceImage(pg.PlotWidget):
    def __init__(self):
        super().__init__()
        self.plot = self.getPlotItem()
        self.plot.invertY(True)
        self.plot.setLabel("bottom", "column")
        self.plot.setLabel("left", "row")
        _plain(self.plot)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(-1, 1), colorMap=pg.colormap.get("CET-D1"),
                                   interactive=False, width=14)
        self.bar.setImageItem(self.image, insert_in=self.plot)

    def clear_plot(self, title: str = "") -> None:
        self.image.clear()
        self.plot.setTitle(title, size="9pt")

    def set_difference(self, title: str, data: dict) -> None:
        diff = data["diff"]
        finite = diff[np.isfinite(diff)]
        m = float(np.abs(finite).max()) if finite.size else 0.0
        m = m if m > 0 else 1.0
        rows, cols = data["rows"], data["cols"]
        self.plot.setLabel("left", "row" if rows > 1 else "")
        self.plot.getAxis("left").setStyle(showValues=rows > 1)
        self.image.setImage(np.nan_to_num(diff, nan=0.0, posinf=m, neginf=-m),
                            levels=(-m, m), autoLevels=False)
        self.image.setRect(QRectF(0, 0, cols, rows))
        self.bar.setLevels((-m, m))
        step = data["step"]
        note = f"  (every {step}th value)" if step > 1 else ""
        self.plot.setTitle(title + note, size="9pt")
        self.plot.autoRange(padding=0)


class DriftPlot(pg.PlotWidget):
    def __init__(self):
        super().__init__()
        self.plot = self.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("left", "relative change (%)")
        self.plot.setLabel("bottom", "checkpoint")
        self.legend = self.plot.addLegend(offset=(10, 10))
        _plain(self.plot)
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen(120, 120, 120, style=Qt.DashLine))

    def set_drift(self, title: str, names: list[str], drift: dict, position: int) -> None:
        self.plot.clear()
        self.legend.clear()
        self.plot.setTitle(title, size="9pt")
        xs = np.arange(len(names), dtype=float)

        def ys(values):
            return np.array([np.nan if v is None or not math.isfinite(v) else v * 100
                             for v in values])
        self.plot.addItem(pg.PlotDataItem(xs, ys(drift["from_first"]), pen=pg.mkPen(COLOR_B, width=2),
                                          symbol="o", symbolSize=6, symbolBrush=COLOR_B,
                                          name=f"from {names[0]}", connect="finite"))
        self.plot.addItem(pg.PlotDataItem(xs, ys(drift["step"]),
                                          pen=pg.mkPen(COLOR_A, width=1.5, style=Qt.DashLine),
                                          symbol="t", symbolSize=6, symbolBrush=COLOR_A,
                                          name="from previous", connect="finite"))
        step = max(1, len(names) // 8)
        self.plot.getAxis("bottom").setTicks([[(float(i), names[i]) for i in range(0, len(names), step)]])
        self.marker.setValue(position)
        self.plot.addItem(self.marker)
        self.plot.autoRange()


# ---------------------------------------------------------------- the panel


class ComparePanel(QWidget):
    """Compare two checkpoints or a series; emits open_tensor(prefix, key) for "Open in A/B"."""

    open_tensor = Signal(str, str)
    finished = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.comparison: C.Comparison | None = None
        self.series: C.Series | None = None
        self._worker = None
        self._detail_workers: list = []
        self._current: C.VariableDiff | None = None
        self._build()

    # ------------------------------------------------------------ layout
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        self.title = title_label("Compare checkpoints")
        self.paths_label = subtitle_label("")
        outer.addWidget(self.title)
        outer.addWidget(self.paths_label)

        bar = QHBoxLayout()
        self.summary_label = QLabel("")
        self.summary_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        bar.addWidget(self.summary_label, 1)
        bar.addWidget(self.progress)
        bar.addWidget(self.cancel_button)
        outer.addLayout(bar)

        self.series_bar = QWidget()
        sb = QHBoxLayout(self.series_bar)
        sb.setContentsMargins(0, 0, 0, 0)
        self.mode = QComboBox()
        self.mode.addItems(["from the first checkpoint", "from the previous checkpoint"])
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setMinimum(1)
        self.slider.setPageStep(1)
        self.slider_label = QLabel("")
        sb.addWidget(QLabel("Change"))
        sb.addWidget(self.mode)
        sb.addWidget(QLabel("to"))
        sb.addWidget(self.slider, 1)
        sb.addWidget(self.slider_label)
        self.series_bar.hide()
        self.slider.valueChanged.connect(self._on_slider)
        self.mode.currentIndexChanged.connect(lambda _i: self._on_slider(self.slider.value()))
        outer.addWidget(self.series_bar)

        self.error = error_label()
        outer.addWidget(self.error)

        split = QSplitter(Qt.Horizontal)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        filters = QHBoxLayout()
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by name or layer…")
        self.group_box = QComboBox()
        self.group_box.addItems(["All", "Model weights", "Optimizer state", "Other"])
        self.changed_only = QCheckBox("Changed only")
        filters.addWidget(self.filter_edit, 1)
        filters.addWidget(self.group_box)
        filters.addWidget(self.changed_only)
        lv.addLayout(filters)

        self.model = CompareTableModel(self)
        self.proxy = CompareFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.setAlternatingRowColors(True)
        self.table.selectionModel().currentRowChanged.connect(self._on_row)
        self.table.doubleClicked.connect(lambda _i: self._open("b" if self._current is not None
                                                                 and self._current.key_b else "a"))
        lv.addWidget(self.table, 1)
        self.filter_edit.textChanged.connect(lambda t: self.proxy.set_filter(text=t))
        self.group_box.currentIndexChanged.connect(self._on_group)
        self.changed_only.toggled.connect(lambda on: self.proxy.set_filter(changed_only=on))

        buttons = QHBoxLayout()
        self.open_a = QPushButton("Open in A")
        self.open_b = QPushButton("Open in B")
        self.open_b.setToolTip("Show this variable of checkpoint B in the tensor panel "
                               "(double-click a row does the same)")
        self.open_a.clicked.connect(lambda: self._open("a"))
        self.open_b.clicked.connect(lambda: self._open("b"))
        self.open_a.setEnabled(False)
        self.open_b.setEnabled(False)
        buttons.addWidget(self.open_a)
        buttons.addWidget(self.open_b)
        buttons.addStretch(1)
        lv.addLayout(buttons)
        split.addWidget(left)

        right = QSplitter(Qt.Vertical)
        self.layer_chart = LayerChart()
        right.addWidget(self.layer_chart)
        middle_box = QWidget()
        ml = QVBoxLayout(middle_box)
        ml.setContentsMargins(0, 4, 0, 0)
        self.variable_label = QLabel("")
        self.variable_label.setStyleSheet("font-weight: bold;")
        self.variable_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        ml.addWidget(self.variable_label)
        middle = QSplitter(Qt.Horizontal)
        ml.addWidget(middle, 1)
        self.histogram = HistogramPlot()
        middle.addWidget(self.histogram)
        diff_box = QWidget()
        dl = QVBoxLayout(diff_box)
        dl.setContentsMargins(0, 0, 0, 0)
        slice_bar = QHBoxLayout()
        self.slice_label = QLabel("")
        slice_bar.addWidget(self.slice_label)
        self.slice_spins: list[QSpinBox] = []
        self.slice_box = QHBoxLayout()
        slice_bar.addLayout(self.slice_box)
        slice_bar.addStretch(1)
        dl.addLayout(slice_bar)
        self.difference = DifferenceImage()
        dl.addWidget(self.difference, 1)
        middle.addWidget(diff_box)
        right.addWidget(middle_box)
        self.drift = DriftPlot()
        right.addWidget(self.drift)
        self.drift.hide()
        for w in (self.layer_chart, self.histogram, self.difference, self.drift):
            w.setMinimumSize(160, 120)
        self.table.setMinimumWidth(320)
        right.setSizes([300, 420, 280])
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([840, 560])
        outer.addWidget(split, 1)

    # ------------------------------------------------------------ starting work
    def compare_pair(self, a, b, **options) -> None:
        self._reset(f"A: {a}\nB: {b}")
        self.title.setText("Compare checkpoints")
        self._start(_pair_job, os.fspath(a), os.fspath(b), options,
                    label=f"Comparing {Path(os.fspath(b)).name} with {Path(os.fspath(a)).name}")

    def compare_series(self, paths, **options) -> None:
        shown = os.fspath(paths) if isinstance(paths, (str, os.PathLike)) else \
            ", ".join(Path(os.fspath(p)).name for p in paths)
        self._reset(f"Series: {shown}")
        self.title.setText("Training run")
        if not isinstance(paths, (str, os.PathLike)):
            paths = [os.fspath(p) for p in paths]
        else:
            paths = os.fspath(paths)
        self._start(_series_job, paths, None, options, label="Comparing a training run")

    def _reset(self, paths_text: str) -> None:
        self.cancel()
        self.comparison = None
        self.series = None
        self._current = None
        self.paths_label.setText(paths_text)
        self.error.hide()
        self.model.set_comparison(None)
        self.layer_chart.set_layers([])
        self.histogram.clear_plot()
        self.difference.clear_plot()
        self.series_bar.hide()
        self.drift.hide()
        self.summary_label.setText("")

    def _start(self, fn, a, b, options, label: str) -> None:
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.summary_label.setText("Comparing…")
        worker = Worker(fn, a, b, options, label=label)
        # A superseded comparison's late signals are ignored: each handler checks its worker.
        worker.succeeded.connect(lambda r, w=worker: self._mine(w) and self._on_result(r))
        worker.failed.connect(lambda e, w=worker: self._mine(w) and self._on_error(e))
        worker.cancelled.connect(lambda w=worker: self._mine(w) and self._on_cancelled())
        worker.progressed.connect(lambda d, t, w=worker: self._mine(w) and self._on_progress(d, t))
        self._worker = worker
        worker.start()

    def _mine(self, worker) -> bool:
        return worker is self._worker

    def cancel(self) -> None:
        if self._worker is not None and not self._worker.is_done():
            self._worker.cancel()
        for w in self._detail_workers:
            w.cancel()

    def is_busy(self) -> bool:
        """Work is pending until its result has been shown (handlers run on this thread)."""
        return self._worker is not None or bool(self._detail_workers)

    def _detail(self, fn, *args, on_result, on_error, label: str):
        """Start a detail job; it counts as pending until its handlers have run here."""
        worker = Worker(fn, *args, label=label)
        worker.succeeded.connect(on_result)
        worker.failed.connect(on_error)
        worker.finished.connect(lambda w=worker: self._untrack(w))
        self._detail_workers.append(worker)
        return worker.start()

    def _untrack(self, worker) -> None:
        if worker in self._detail_workers:
            self._detail_workers.remove(worker)

    # ------------------------------------------------------------ results
    def _on_progress(self, done, total) -> None:
        self.progress.setValue(int(1000 * done / total) if total else 0)

    def _done(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self._worker = None

    def _on_cancelled(self) -> None:
        self._done()
        self.summary_label.setText("Cancelled.")
        self.finished.emit()

    def _on_error(self, exc) -> None:
        self._done()
        self.summary_label.setText("")
        self.error.setText(str(exc) if isinstance(exc, TensorloupeError)
                           else f"Could not compare: {exc}")
        self.error.show()
        self.finished.emit()

    def _on_result(self, result) -> None:
        self._done()
        if isinstance(result, C.Series):
            self.series = result
            n = len(result.names)
            self.slider.blockSignals(True)
            self.slider.setMaximum(n - 1)
            self.slider.setValue(n - 1)
            self.slider.blockSignals(False)
            self.series_bar.show()
            self.drift.show()
            self._on_slider(n - 1)
        else:
            self.set_comparison(result)
        self.finished.emit()

    def set_comparison(self, comparison: C.Comparison) -> None:
        previous = self._current.name if self._current is not None else None
        self.comparison = comparison
        self.model.set_comparison(comparison)
        self.table.sortByColumn(-1, Qt.AscendingOrder)  # the model's own order: most changed first
        self.proxy.sort(-1)
        self._fit_columns()
        counts = comparison.summary()
        parts = [f"{n} {s}" for s, n in counts.items() if n]
        self.summary_label.setText(f"{len(comparison.variables)} variables: " + ", ".join(parts))
        failures = comparison.failures
        if failures:
            self.error.setText(f"{len(failures)} variable(s) could not be compared: "
                               + "; ".join(f"{v.name}: {v.error}" for v in failures[:3]))
            self.error.show()
        else:
            self.error.hide()
        self.layer_chart.set_layers(comparison.layers(C.MODEL))
        if not self.select_variable(previous or ""):
            self._select_first()

    def _fit_columns(self) -> None:
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        header.resizeSection(0, min(max(header.sectionSize(0), 160), 300))

    def _select_first(self) -> None:
        for row in range(self.proxy.rowCount()):
            v = self.proxy.index(row, 0).data(VARIABLE_ROLE)
            if v.common and v.status not in (C.SHAPE_CHANGED, C.FAILED):
                self.table.selectRow(row)
                return
        self.histogram.clear_plot()
        self.difference.clear_plot()

    def select_variable(self, name: str) -> bool:
        """Select a variable by readable name or key; False when it is not in the table."""
        if not name:
            return False
        row = self.model.row_of(name)
        if row < 0:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            self.filter_edit.clear()
            self.group_box.setCurrentIndex(0)
            self.changed_only.setChecked(False)
            index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.table.selectRow(index.row())
        self.table.scrollTo(index, QAbstractItemView.PositionAtCenter)
        return True

    def _on_group(self, i: int) -> None:
        self.proxy.set_filter(group=["", C.MODEL, C.OPTIMIZER, C.OTHER][i])

    def _on_slider(self, value: int) -> None:
        if self.series is None:
            return
        names = self.series.names
        if self.mode.currentIndex() == 0:
            comparison = self.series.from_first[value - 1]
            self.slider_label.setText(f"{names[value]}  ({names[0]} → {names[value]})")
        else:
            comparison = self.series.consecutive[value - 1]
            self.slider_label.setText(f"{names[value]}  ({names[value - 1]} → {names[value]})")
        self.paths_label.setText(f"A: {comparison.path_a}\nB: {comparison.path_b}")
        self.set_comparison(comparison)

    # ------------------------------------------------------------ selected variable
    def _on_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        v = current.data(VARIABLE_ROLE) if current.isValid() else None
        self._current = v
        self.open_a.setEnabled(bool(v and v.key_a))
        self.open_b.setEnabled(bool(v and v.key_b))
        if v is None:
            self.variable_label.setText("")
            return
        self.variable_label.setText(v.name + (f"   →   {v.name_b}" if v.name_b else ""))
        self._show_drift(v)
        self._build_slice_controls(v)
        for w in self._detail_workers:
            w.cancel()
        if not v.common or v.status in (C.SHAPE_CHANGED, C.FAILED) \
                or "string" in (v.dtype_a, v.dtype_b):
            why = {C.SHAPE_CHANGED: "the shapes differ", C.FAILED: v.error or "it failed"}.get(
                v.status, "it is not in both checkpoints" if not v.common else "strings")
            self.histogram.clear_plot(f"no histogram ({why})")
            self.difference.clear_plot(f"no difference image ({why})")
            return
        self._request_details(v)

    def _request_details(self, v: C.VariableDiff) -> None:
        a, b = self.comparison.path_a, self.comparison.path_b
        self.histogram.clear_plot("computing…")
        bins = int(min(80, max(10, 2 * math.sqrt(max(1, v.num_elements)))))
        self._detail(_histogram_job, a, v.key_a, b, v.key_b, bins, label="Histograms",
                     on_result=lambda d, v=v: self._on_histograms(v, d),
                     on_error=lambda e: self.histogram.clear_plot(str(e)))
        index = tuple(s.value() for s in self.slice_spins)
        self._detail(_difference_job, a, v.key_a, b, v.key_b, index, label="Difference",
                     on_result=lambda d, v=v: self._on_difference(v, d),
                     on_error=lambda e: self.difference.clear_plot(str(e)))

    def _on_histograms(self, v: C.VariableDiff, data: dict) -> None:
        if self._current is not v:
            return
        self.histogram.set_histograms("values of A and B", data)

    def _on_difference(self, v: C.VariableDiff, data: dict) -> None:
        if self._current is not v:
            return
        where = ""
        if data["index"]:
            where = "[" + ", ".join(str(i) for i in data["index"]) + ", :, :]"
        self.difference.set_difference(f"B − A {where}", data)

    def _build_slice_controls(self, v: C.VariableDiff) -> None:
        for s in self.slice_spins:
            s.setParent(None)
            s.deleteLater()
        self.slice_spins = []
        shape = v.shape_a or v.shape_b or ()
        lead = max(0, len(shape) - 2)
        self.slice_label.setText(f"Slice of {shape_text(shape)}:" if lead else "")
        for axis in range(lead):
            spin = QSpinBox()
            spin.setRange(0, max(0, shape[axis] - 1))
            spin.setPrefix(f"axis {axis}: ")
            spin.valueChanged.connect(self._on_slice)
            self.slice_box.addWidget(spin)
            self.slice_spins.append(spin)

    def _on_slice(self, _value: int) -> None:
        v = self._current
        if v is None or not v.common:
            return
        index = tuple(s.value() for s in self.slice_spins)
        a, b = self.comparison.path_a, self.comparison.path_b
        self._detail(_difference_job, a, v.key_a, b, v.key_b, index, label="Difference",
                     on_result=lambda d, v=v: self._on_difference(v, d),
                     on_error=lambda e: self.difference.clear_plot(str(e)))

    def _show_drift(self, v: C.VariableDiff) -> None:
        if self.series is None:
            return
        self.drift.set_drift("drift across the run", self.series.names,
                             self.series.drift(v.name), self.slider.value())

    def _open(self, side: str) -> None:
        v = self._current
        if v is None or self.comparison is None:
            return
        if side == "a" and v.key_a:
            self.open_tensor.emit(self.comparison.path_a, v.key_a)
        elif side == "b" and v.key_b:
            self.open_tensor.emit(self.comparison.path_b, v.key_b)


# ---------------------------------------------------------------- worker functions


def _pair_job(ctx, a, b, options):
    return C.compare(a, b, progress=ctx.progress, cancel=ctx.should_stop, **options)


def _series_job(ctx, paths, _unused, options):
    return C.compare_series(paths, progress=ctx.progress, cancel=ctx.should_stop, **options)


def _histogram_job(ctx, a, key_a, b, key_b, bins):
    return C.pair_histograms(a, key_a, b, key_b, bins=bins, should_stop=ctx.should_stop)


def _difference_job(ctx, a, key_a, b, key_b, index):
    ctx.check()
    return C.difference_slice(a, key_a, b, key_b, index)


# ---------------------------------------------------------------- window and standalone use


class CompareWindow(QWidget):
    """A top-level window holding one ComparePanel."""

    def __init__(self, parent=None):
        super().__init__(parent, Qt.Window)
        self.setWindowTitle("Tensorloupe — compare checkpoints")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.panel = ComparePanel(self)
        layout.addWidget(self.panel)

    def closeEvent(self, event) -> None:
        self.panel.cancel()
        super().closeEvent(event)


def start(panel: ComparePanel, paths: list[str]) -> None:
    """Two paths: a pair; one directory or more than two paths: a series."""
    if len(paths) == 2 and not all(os.path.isdir(p) for p in paths):
        panel.compare_pair(paths[0], paths[1])
    elif len(paths) == 1:
        panel.compare_series(paths[0])
    else:
        panel.compare_series(paths)


def ask_compare(main_window) -> CompareWindow | None:
    """File > Compare Checkpoints…: choose two checkpoints (or a training directory)."""
    from PySide6.QtWidgets import QFileDialog, QMessageBox
    box = QMessageBox(main_window)
    box.setWindowTitle("Compare checkpoints")
    box.setText("Compare two checkpoints, or every checkpoint of a training directory?")
    pair = box.addButton("Two checkpoints…", QMessageBox.AcceptRole)
    run = box.addButton("Training directory…", QMessageBox.AcceptRole)
    box.addButton(QMessageBox.Cancel)
    box.exec()
    flt = "Checkpoint index (*.index);;All files (*)"
    if box.clickedButton() is pair:
        a, _ = QFileDialog.getOpenFileName(main_window, "Checkpoint A", "", flt)
        if not a:
            return None
        b, _ = QFileDialog.getOpenFileName(main_window, "Checkpoint B", os.path.dirname(a), flt)
        if not b:
            return None
        paths = [a, b]
    elif box.clickedButton() is run:
        d = QFileDialog.getExistingDirectory(main_window, "Training directory")
        if not d:
            return None
        paths = [d]
    else:
        return None
    return open_compare_window(main_window, paths)


def open_compare_window(main_window, paths: list[str]) -> CompareWindow:
    """Open a comparison window; "Open in A/B" shows the tensor in ``main_window``."""
    window = CompareWindow(main_window)
    window.resize(1400, 900)
    if main_window is not None:
        window.panel.open_tensor.connect(lambda prefix, key: open_in_window(main_window, prefix, key))
        keep = getattr(main_window, "_compare_windows", [])
        keep.append(window)
        main_window._compare_windows = keep
    window.show()
    start(window.panel, [os.fspath(p) for p in paths])
    return window


def open_in_window(main_window, prefix: str, key: str) -> None:
    """Show one checkpoint tensor in the main window's tensor panel."""
    from tensorloupe.core.errors import InputError
    main_window.open_path(prefix)
    docs = main_window.model.documents()
    doc = docs[-1] if docs else None
    for d in docs:
        if os.path.abspath(str(getattr(d, "path", ""))) in (os.path.abspath(prefix),
                                                            os.path.abspath(prefix + ".index")):
            doc = d
    if doc is None:
        return
    try:
        from tensorloupe.core import open_checkpoint
        with open_checkpoint(prefix) as reader:
            info = reader.readable_names().get(key)
        readable = info.readable if info is not None else key
        parts = [p for p in readable.split("/") if p]
        if info is not None and info.kind == "slot" and info.slot_of:
            with open_checkpoint(prefix) as reader:
                owner = reader.readable_names().get(info.slot_of)
            parts = [p for p in (owner.readable if owner else info.slot_of).split("/") if p] \
                + [info.slot_name or parts[-1]]
        main_window.raise_()
        main_window.activateWindow()
        main_window.select_path([doc.label, *parts] if len(docs) > 1 else parts)
    except (TensorloupeError, InputError) as exc:
        main_window.statusBar().showMessage(str(exc), 8000)


def show_compare(paths: list[str], screenshot: str | None, size: tuple[int, int],
                 select: str | None = None) -> int:
    """``tensorloupe gui --compare A B [--select VAR] [--screenshot OUT.png]``."""
    import sys
    if screenshot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication
    from ..workers import tracker, wait_idle
    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = CompareWindow()
    window.resize(*size)
    window.show()
    start(window.panel, list(paths))
    if not screenshot:
        return app.exec()
    try:
        wait_idle(timeout=300)
        if select:
            if not window.panel.select_variable(select):
                from tensorloupe.core.errors import InputError
                raise InputError(f"no variable {select!r} in the comparison")
            wait_idle(timeout=120)
        from ..app import save_screenshot
        save_screenshot(app, window, screenshot)
    finally:
        tracker.cancel_all()
        wait_idle(timeout=10, settle=0.0)
        window.close()
    return 0
