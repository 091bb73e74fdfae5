"""The comparison panel: a sortable table of every variable, and plots of how they changed.

    ComparePanel.compare_pair(A, B)       two checkpoints
    ComparePanel.compare_series(paths)    a training run (a directory or a list), with a
                                          checkpoint slider and drift curves

Above: the counters (global_step, iterations, save_counter) as ``name A → B``. Left: the
variables with their metrics (the change columns coloured on a log scale, most changed first
by the "Rank by" measure, RMS change unless another is picked; filter by text, group and
"changed only"). Right: change per layer, overlaid histograms of A and B for the selected
variable, a heatmap of B - A (one 2-D slice of an N-D tensor, chosen with the spin boxes) --
or, for a one-element variable, its values A, B and B - A -- and, for a series, the
variable's drift curve (a one-element variable's value) with the slider's position marked.
All numbers come from core.compare, computed in background jobs with progress and Cancel;
"Open in A/B" asks the main window to show the tensor in the normal tensor panel.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QProgressBar, QPushButton,
                               QSlider, QSpinBox, QSplitter, QTableView, QVBoxLayout, QWidget)

from tensorloupe.core import compare as C
from tensorloupe.core import compare_view as V
from tensorloupe.core.errors import TensorloupeError

from ...workers import JobSlot, Worker, tracker
from ..base import error_label, subtitle_label, title_label
from .plots import DifferenceImage, DriftPlot, HistogramPlot, LayerChart
from .table import VARIABLE_ROLE, CompareFilter, CompareTableModel

GROUPS = ["", C.MODEL, C.OPTIMIZER, C.OTHER]  # the group box's entries, "All" first


class ComparePanel(QWidget):
    """Compare two checkpoints or a series; emits open_tensor(prefix, key) for "Open in A/B"."""

    open_tensor = Signal(str, str)
    finished = Signal()  # a comparison ended: shown, failed or cancelled

    def __init__(self, parent=None):
        super().__init__(parent)
        self.comparison: C.Comparison | None = None
        self.series: C.Series | None = None
        self._current: C.VariableDiff | None = None
        # One slot per kind of work: a new comparison, selection or slice cancels the previous
        # job of its kind, and what a superseded job still delivers is dropped.
        self.compare_job = JobSlot()
        self.histogram_job = JobSlot()
        self.difference_job = JobSlot()
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

        self.counters_label = QLabel("")
        self.counters_label.setObjectName("counters")
        self.counters_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.counters_label.setStyleSheet("color: #333; padding: 2px 0;")
        self.counters_label.setToolTip("Counters (integer scalars such as global_step or the "
                                       "optimizer's iterations): their values in A and B")
        self.counters_label.hide()
        outer.addWidget(self.counters_label)

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
        self.rank_box = QComboBox()
        for i, (measure, label, tip) in enumerate(V.RANK_CHOICES):
            self.rank_box.addItem(label, measure)
            self.rank_box.setItemData(i, tip, Qt.ToolTipRole)
        self.rank_box.setToolTip("What 'most changed' means for the order of the rows, the "
                                 "layer chart and the drift curves")
        rank_label = QLabel("&Rank by")
        rank_label.setBuddy(self.rank_box)
        filters.addWidget(self.filter_edit, 1)
        filters.addWidget(self.group_box)
        filters.addWidget(self.changed_only)
        filters.addWidget(rank_label)
        filters.addWidget(self.rank_box)
        lv.addLayout(filters)
        self.rank_box.currentIndexChanged.connect(self._on_rank)

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
        self.details = middle
        ml.addWidget(middle, 1)
        # A one-element variable: its values, not a histogram and a one-cell image.
        self.scalar_view = QLabel("")
        self.scalar_view.setObjectName("scalar")
        self.scalar_view.setTextFormat(Qt.RichText)
        self.scalar_view.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.scalar_view.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.scalar_view.setStyleSheet("background: white; border: 1px solid #ddd; padding: 10px;")
        self.scalar_view.hide()
        ml.addWidget(self.scalar_view, 1)
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
        self._start(_compare_pair, os.fspath(a), os.fspath(b), options,
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
        self._start(_compare_series, paths, None, options, label="Comparing a training run")

    def _reset(self, paths_text: str) -> None:
        self._stop_jobs()
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
        self.counters_label.hide()
        self._show_scalar(None)

    def _start(self, fn, a, b, options, label: str) -> None:
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.summary_label.setText("Comparing…")
        # on_cancelled: stopped from elsewhere (the main window's Cancel stops every worker).
        self.compare_job.submit(fn, a, b, options, label=label, on_result=self._on_result,
                                on_error=self._on_error, on_progress=self._on_progress,
                                on_cancelled=self._on_cancelled)

    def _jobs(self) -> tuple[JobSlot, ...]:
        return (self.compare_job, self.histogram_job, self.difference_job)

    def _stop_jobs(self) -> None:
        for job in self._jobs():
            job.cancel()

    def cancel(self) -> None:
        """Stop the comparison and the selected variable's plots."""
        comparing = _pending(self.compare_job)
        self._stop_jobs()
        if comparing:
            self._on_cancelled()

    def is_busy(self) -> bool:
        """Work is pending until its result has been shown here."""
        return any(_pending(job) for job in self._jobs())

    # ------------------------------------------------------------ results
    def _on_progress(self, done, total) -> None:
        self.progress.setValue(int(1000 * done / total) if total else 0)

    def _done(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()

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

    @property
    def rank_by(self) -> str:
        """The measure rows, layer bars and drift curves are ranked and drawn by."""
        return self.rank_box.currentData() or C.RMS

    def set_rank_by(self, rank_by: str) -> None:
        """Pick the "Rank by" measure (as choosing it in the box does)."""
        index = self.rank_box.findData(rank_by)
        if index < 0:
            raise ValueError(f"no measure {rank_by!r}")
        self.rank_box.setCurrentIndex(index)

    def _on_rank(self, _index: int) -> None:
        if self.comparison is not None:
            self.set_comparison(self.comparison)

    def set_comparison(self, comparison: C.Comparison) -> None:
        previous = self._current.name if self._current is not None else None
        self.comparison = comparison
        self.model.set_comparison(comparison, self.rank_by)
        self.table.sortByColumn(-1, Qt.AscendingOrder)  # the model's own order: most changed first
        self.proxy.sort(-1)
        self._fit_columns()
        self.summary_label.setText(V.summary_text(comparison))
        counters = V.counters_text(comparison)
        self.counters_label.setText(f"Counters:  {counters}" if counters else "")
        self.counters_label.setVisible(bool(counters))
        failures = comparison.failures
        if failures:
            self.error.setText(V.failures_text(failures))
            self.error.show()
        else:
            self.error.hide()
        self.layer_chart.set_layers(comparison.layers(C.MODEL, rank_by=self.rank_by),
                                    self.rank_by)
        if not self.select_variable(previous or ""):
            self._select_first()

    def _fit_columns(self) -> None:
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        header.resizeSection(0, min(max(header.sectionSize(0), 160), 300))

    def _select_first(self) -> None:
        for row in range(self.proxy.rowCount()):
            if V.has_values(self.proxy.index(row, 0).data(VARIABLE_ROLE)):
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
        self.proxy.set_filter(group=GROUPS[i])

    def _on_slider(self, value: int) -> None:
        if self.series is None:
            return
        from_first = self.mode.currentIndex() == 0
        comparisons = self.series.from_first if from_first else self.series.consecutive
        comparison = comparisons[value - 1]
        self.slider_label.setText(V.step_text(self.series.names, value, from_first))
        self.paths_label.setText(f"A: {comparison.path_a}\nB: {comparison.path_b}")
        self.set_comparison(comparison)

    # ------------------------------------------------------------ selected variable
    def _on_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        # Whatever was being drawn belongs to the previous row.
        self.histogram_job.cancel()
        self.difference_job.cancel()
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
        self._show_scalar(v if v.is_scalar else None)
        if v.is_scalar:
            return
        why = V.no_details_reason(v)
        if why is not None:
            self.histogram.clear_plot(f"no histogram ({why})")
            self.difference.clear_plot(f"no difference image ({why})")
            return
        self._request_histograms(v)
        self._request_difference(v)

    def _request_histograms(self, v: C.VariableDiff) -> None:
        self.histogram.clear_plot("computing…")
        self.histogram_job.submit(
            _read_histograms, self.comparison.path_a, v.key_a, self.comparison.path_b, v.key_b,
            V.histogram_bins(v.num_elements), label="Histograms",
            on_result=lambda data: self.histogram.set_histograms("values of A and B", data),
            on_error=lambda exc: self.histogram.clear_plot(str(exc)))

    def _request_difference(self, v: C.VariableDiff) -> None:
        index = tuple(s.value() for s in self.slice_spins)
        self.difference_job.submit(
            _read_difference, self.comparison.path_a, v.key_a, self.comparison.path_b, v.key_b,
            index, label="Difference",
            on_result=lambda data: self.difference.set_difference(
                V.difference_title(data["index"]), data),
            on_error=lambda exc: self.difference.clear_plot(str(exc)))

    def _build_slice_controls(self, v: C.VariableDiff) -> None:
        for s in self.slice_spins:
            s.setParent(None)
            s.deleteLater()
        self.slice_spins = []
        shape = v.shape_a or v.shape_b or ()
        self.slice_label.setText(V.slice_label(shape))
        for axis in range(max(0, len(shape) - 2)):
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
        self._request_difference(v)

    def _show_scalar(self, v: C.VariableDiff | None) -> None:
        """Values instead of plots for a one-element variable; the plots otherwise."""
        self.details.setVisible(v is None)
        self.scalar_view.setVisible(v is not None)
        if v is None:
            self.scalar_view.setText("")
            return
        cells = "".join(f"<tr><td style='color:#555; padding-right:18px'>{label}</td>"
                        f"<td align='right'><b>{text}</b></td></tr>"
                        for label, text in V.scalar_rows(v))
        kind = "counter" if v.is_counter else "one value"
        self.scalar_view.setText(
            f"<p style='color:#777'>{kind} ({v.dtype_a or v.dtype_b})</p>"
            f"<table style='font-size:15pt'>{cells}</table>")

    def _show_drift(self, v: C.VariableDiff) -> None:
        if self.series is None:
            return
        values = self.series.values(v.name) if v.is_scalar else None
        if values is not None:
            self.drift.set_values(f"value of {v.name} across the run", self.series.names,
                                  values, self.slider.value())
            return
        self.drift.set_drift(f"drift across the run ({C.MEASURE_TITLES[self.rank_by]})",
                             self.series.names, self.series.drift(v.name, self.rank_by),
                             self.slider.value(), self.rank_by)

    def _open(self, side: str) -> None:
        v = self._current
        if v is None or self.comparison is None:
            return
        if side == "a" and v.key_a:
            self.open_tensor.emit(self.comparison.path_a, v.key_a)
        elif side == "b" and v.key_b:
            self.open_tensor.emit(self.comparison.path_b, v.key_b)


def _pending(job: JobSlot) -> bool:
    """The slot's job has not finished, or its result has not reached this thread yet: the
    tracker lets go of a worker only once its last signal has been handled here."""
    worker: Worker | None = job.worker
    return worker is not None and worker in tracker.running()


# ---------------------------------------------------------------- background jobs
# Each runs on a pool thread; core.compare is looked up when called, so tests may replace it.


def _compare_pair(ctx, a, b, options):
    return C.compare(a, b, progress=ctx.progress, cancel=ctx.should_stop, **options)


def _compare_series(ctx, paths, _unused, options):
    return C.compare_series(paths, progress=ctx.progress, cancel=ctx.should_stop, **options)


def _read_histograms(ctx, a, key_a, b, key_b, bins):
    return C.pair_histograms(a, key_a, b, key_b, bins=bins, should_stop=ctx.should_stop)


def _read_difference(ctx, a, key_a, b, key_b, index):
    ctx.check()
    return C.difference_slice(a, key_a, b, key_b, index)
