"""The tensor panel: statistics, table, image, plot, histogram and text of one tensor.

Give it a ``TensorSource`` (a name, shape, dtype and a function that returns the array, usually
a memory-mapped view of a checkpoint shard). Loading, statistics, histograms and the values an
image or plot needs are read in workers; the table reads only the cells on screen.

A tensor whose stored checksum fails is shown as damaged (the error names both checksums),
its item turns red in the tree (``damaged``), and its values are shown only when asked for.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QMenu, QProgressBar, QPushButton,
                               QSplitter, QStackedWidget, QToolButton, QVBoxLayout,
                               QWidget)

from tensorloupe.core.checkpoint import Problem
from tensorloupe.core.checkpoint.bundle import CheckpointReader
from tensorloupe.core.errors import DataLossError, TensorloupeError, UnsupportedError
from tensorloupe.core.stats import (COMPLEX_PARTS, TensorStats, compute_histogram, compute_stats,
                        format_bytes, format_count, is_numeric)

from .. import nodes as N
from ..workers import Worker, run_in_background
from .base import Panel
from .slicer import SliceSelector
from .tensor_views import HistogramPlot, TableView, TensorInfo, TensorView, all_views, \
    choose_view

HISTOGRAM_MAX_BINS = 128


def histogram_bins(count: int) -> int:
    """Rice's rule (2 * cube root of n), between 5 and 128 bins."""
    return int(min(HISTOGRAM_MAX_BINS, max(5, math.ceil(2 * count ** (1 / 3)))))


@dataclass
class TensorSource:
    """A tensor the panel can show, read lazily."""

    name: str                                   # what "Copy name" copies: the tensor's key
    shape: tuple[int, ...] | None
    dtype: np.dtype | None
    loader: Callable[[], Any]                   # called in a worker; returns an ndarray
    title: str = ""                             # readable name, when it differs from ``name``
    details: list[str] = field(default_factory=list)
    nbytes: int | None = None
    # Reads the values without checking their checksum (for looking at damaged data).
    unchecked_loader: Callable[[], Any] | None = None

    @classmethod
    def from_array(cls, name: str, array, title: str = "", details=None) -> "TensorSource":
        arr = np.asarray(array) if not isinstance(array, np.ndarray) else array
        return cls(name=name, shape=tuple(arr.shape), dtype=arr.dtype, loader=lambda: arr,
                   title=title, details=list(details or []), nbytes=int(arr.nbytes))

    @classmethod
    def from_checkpoint(cls, reader, key: str, title: str = "", details=None) -> "TensorSource":
        shape = tuple(int(d) for d in reader.shape(key))
        dtype = np.dtype(reader.dtype(key))

        # A checkpoint (V2, or V1 which reads into memory) has checksums and may offer a
        # memory-mapped view; a Const's value (ConstTensor) is simply read.
        stored = isinstance(reader, CheckpointReader)

        def load(verify=None):
            if not stored:
                return reader.read(key)
            checks = {} if verify is None else {"verify": verify}
            if dtype.kind != "O":
                try:
                    return reader.array(key, **checks)  # zero-copy memory map
                except UnsupportedError:      # partitioned or V1: reassembled by read()
                    pass
            return reader.read(key, **checks)

        try:
            nbytes = int(reader.nbytes(key))
        except TensorloupeError:  # metadata only; the panel still works without it
            nbytes = None
        unchecked = (lambda: load(verify=False)) if stored else None
        return cls(name=key, shape=shape, dtype=dtype, loader=load, title=title,
                   details=list(details or []), nbytes=nbytes, unchecked_loader=unchecked)


class TensorPanel(Panel):
    """Shows one tensor at a time; ``set_source`` replaces it and cancels the old one's work."""

    name = "tensor"

    @classmethod
    def priority(cls, node) -> int:
        return 100 if isinstance(node.payload, N.TensorRef) else 0

    def show_node(self, node) -> None:
        ref: N.TensorRef = node.payload
        details = []
        if node.kind == N.SLOT and node.parent is not None:
            details.append(f"optimizer slot “{node.label}” of {node.parent.label}")
        for key, value in node.info:
            details.append(f"{key}: {value}")
        self.set_source(TensorSource.from_checkpoint(ref.reader, ref.key,
                                                     title=ref.readable or ref.key,
                                                     details=details))
        self._node = node
        if node.error:  # e.g. a checksum mismatch found by verifying the checkpoint
            self.error_label.setText("This tensor is damaged: " + node.error)
            self.error_label.show()

    # Emitted when a background step finishes (tests and the screenshot mode listen).
    stats_ready = Signal(object)
    histogram_ready = Signal(object, object)
    view_ready = Signal(str)
    load_failed = Signal(str)
    # A tensor's stored checksum failed: ([Problem], its tree node), for the window to mark it.
    damaged = Signal(object, object)

    _preferred_view: str | None = None  # shared by panels: the person's last explicit choice

    def __init__(self, parent=None):
        super().__init__(parent)
        self.source: TensorSource | None = None
        self.array: np.ndarray | None = None
        self.info: TensorInfo | None = None
        self.stats: TensorStats | None = None
        self.histogram: tuple[np.ndarray, np.ndarray] | None = None
        self.error: str | None = None
        self.unchecked = False  # showing values whose checksum failed, because asked to
        self._node = None  # the tree item shown, when the source came from one
        self._complex_part = "abs"
        self._views: list[TensorView] = all_views()
        self._current: TensorView | None = None
        self._build()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.title = QLabel()
        f = self.title.font()
        f.setPointSizeF(f.pointSizeF() * 1.35)
        f.setBold(True)
        self.title.setFont(f)
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.title.setWordWrap(True)
        self.subtitle = QLabel()
        self.subtitle.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.subtitle.setWordWrap(True)
        self.subtitle.setStyleSheet("color: #555;")

        copy_name = QPushButton("Copy name")
        copy_name.setToolTip("Copy the tensor's name (checkpoint key) to the clipboard")
        copy_name.clicked.connect(self.copy_name)
        copy_value = QPushButton("Copy value")
        copy_value.setToolTip("Copy the selected cells, or the whole tensor when it is small")
        copy_value.clicked.connect(self.copy_value)
        export = QToolButton()
        export.setText("Export")
        export.setPopupMode(QToolButton.InstantPopup)
        menu = QMenu(export)
        menu.addAction("Tensor as .npy…", self._ask_export_npy)
        menu.addAction("Shown slice as .csv…", self._ask_export_csv)
        menu.addAction("Plot as PNG…", self._ask_export_png)
        export.setMenu(menu)
        self._buttons = [copy_name, copy_value, export]

        head = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(2)
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        head.addLayout(titles, 1)
        for b in self._buttons:
            head.addWidget(b, 0, Qt.AlignTop)

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.error_label.setStyleSheet(
            "background: #fdecea; color: #8a1f11; border: 1px solid #f5c6cb; padding: 6px;")
        self.error_label.hide()
        self.show_anyway = QPushButton("Show the damaged values anyway")
        self.show_anyway.setToolTip("Read the values without checking their checksum: they "
                                    "are not what was saved")
        self.show_anyway.clicked.connect(self.load_unchecked)
        self.show_anyway.hide()

        # View chooser
        self.view_bar = QHBoxLayout()
        self.view_bar.addWidget(QLabel("Show:"))
        self._view_group = QButtonGroup(self)
        self._view_group.setExclusive(True)
        self._view_buttons: dict[str, QToolButton] = {}
        for v in self._views:
            b = QToolButton()
            b.setText(v.title)
            b.setCheckable(True)
            b.setAutoRaise(False)
            b.clicked.connect(lambda _=False, name=v.name: self.select_view(name, by_user=True))
            self._view_group.addButton(b)
            self._view_buttons[v.name] = b
            self.view_bar.addWidget(b)
        self.view_bar.addSpacing(16)
        self.complex_label = QLabel("Complex:")
        self.complex_combo = QComboBox()
        self.complex_combo.addItems(COMPLEX_PARTS)
        self.complex_combo.currentTextChanged.connect(self.set_complex_part)
        self.view_bar.addWidget(self.complex_label)
        self.view_bar.addWidget(self.complex_combo)
        self.slice_label = QLabel()
        self.slice_label.setStyleSheet("color: #555;")
        self.view_bar.addSpacing(16)
        self.view_bar.addWidget(self.slice_label)
        self.view_bar.addStretch(1)

        self.slicer = SliceSelector()
        self.slicer.hide()
        self._slice_timer = QTimer(self)
        self._slice_timer.setSingleShot(True)
        self._slice_timer.setInterval(40)  # coalesce slider drags into one redraw
        self._slice_timer.timeout.connect(self._refresh_view)
        self.slicer.changed.connect(self._slice_timer.start)

        self.stack = QStackedWidget()
        self.placeholder = QLabel("Select a tensor in the tree.")
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setStyleSheet("color: #777;")
        self.stack.addWidget(self.placeholder)

        # Side column: statistics and histogram
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        stats_box = QGroupBox("Statistics")
        self.stats_form = QFormLayout(stats_box)
        self.stats_form.setLabelAlignment(Qt.AlignRight)
        self._stat_labels: dict[str, QLabel] = {}
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.Monospace)
        for key, label in (("count", "values"), ("min", "min"), ("max", "max"),
                           ("mean", "mean"), ("std", "std"), ("zeros", "zeros"),
                           ("nans", "NaN"), ("infs", "±Inf")):
            value = QLabel("–")
            value.setFont(mono)
            value.setTextInteractionFlags(Qt.TextSelectableByMouse)
            self._stat_labels[key] = value
            self.stats_form.addRow(label + ":", value)
        progress_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("statistics %p%")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.stop_stats)
        self.recompute_button = QPushButton("Compute statistics")
        self.recompute_button.clicked.connect(self._start_stats)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        progress_row.addWidget(self.recompute_button)
        self.progress_widget = QWidget()
        self.progress_widget.setLayout(progress_row)
        progress_row.setContentsMargins(0, 0, 0, 0)
        # Keep its place when hidden: showing it then relayouts nothing, so no full repaint.
        policy = self.progress_widget.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.progress_widget.setSizePolicy(policy)
        self.progress_widget.hide()
        side_layout.addWidget(stats_box)
        side_layout.addWidget(self.progress_widget)
        hist_box = QGroupBox("Histogram")
        hist_layout = QVBoxLayout(hist_box)
        hist_layout.setContentsMargins(4, 4, 4, 4)
        self.histogram_plot = HistogramPlot()
        # Small enough that the window fits a 768 px laptop screen; it grows with the window.
        self.histogram_plot.setMinimumHeight(100)
        hist_layout.addWidget(self.histogram_plot)
        side_layout.addWidget(hist_box, 1)
        self.side = side

        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(self.stack)
        self.splitter.addWidget(side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([700, 300])

        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.error_label)
        layout.addWidget(self.show_anyway, 0, Qt.AlignLeft)
        layout.addLayout(self.view_bar)
        layout.addWidget(self.slicer)
        layout.addWidget(self.splitter, 1)
        self._show_controls(False)

    def _show_controls(self, on: bool) -> None:
        for b in self._view_buttons.values():
            b.setVisible(on)
        for b in self._buttons:
            b.setEnabled(on)
        self.complex_label.setVisible(False)
        self.complex_combo.setVisible(False)

    # ------------------------------------------------------------------ public API
    def set_source(self, source: TensorSource) -> None:
        """Show ``source``; its array is loaded in a worker."""
        self.cancel()
        self.source = source
        self._node = None
        self.unchecked = False
        self.array = None
        self.info = None
        self.stats = None
        self.histogram = None
        self.error = None
        self.error_label.hide()
        self.show_anyway.hide()
        self.title.setText(source.title or source.name)
        self.subtitle.setText(self._describe(source))
        self._clear_stats()
        self.histogram_plot.clear_counts()
        self.slicer.hide()
        self.slice_label.clear()
        self.placeholder.setText("Loading…")
        self.stack.setCurrentWidget(self.placeholder)
        self._show_controls(False)
        self.submit(_load, source.loader, slot="load", label=f"Reading {source.name}",
                    on_result=self._on_loaded, on_error=self._on_load_error)

    def load_unchecked(self) -> None:
        """Read the current tensor again without checking its checksum (damaged values)."""
        source = self.source
        if source is None or source.unchecked_loader is None:
            return
        node = self._node
        self.set_source(TensorSource(source.name, source.shape, source.dtype,
                                     source.unchecked_loader, source.title, source.details,
                                     source.nbytes))
        self._node = node
        self.unchecked = True
        self.error_label.setText("Damaged data: these values do not match their stored checksum; "
                                 "they are not what was saved.")
        self.error_label.show()

    def set_array(self, name: str, array, title: str = "") -> None:
        self.set_source(TensorSource.from_array(name, array, title=title))

    def cancel(self) -> None:
        """Stop every background step of the current tensor."""
        self.cancel_jobs()

    def current_view(self) -> TensorView | None:
        return self._current

    def current_view_name(self) -> str:
        return self._current.name if self._current else ""

    def current_slice(self) -> np.ndarray | None:
        if self.array is None:
            return None
        return self.slicer.take(self.array) if self.array.ndim >= 2 else self.array

    def select_view(self, name: str, by_user: bool = False) -> None:
        for v in self._views:
            if v.name == name:
                if by_user:
                    TensorPanel._preferred_view = name
                self._activate(v)
                return
        raise KeyError(name)

    def set_complex_part(self, part: str) -> None:
        if part == self._complex_part:
            return
        self._complex_part = part
        if self.array is not None:
            self._refresh_view()
            self._start_stats()

    # ------------------------------------------------------------------ loading
    def _describe(self, source: TensorSource) -> str:
        parts = []
        if source.dtype is not None:
            parts.append(_dtype_text(source.dtype))
        if source.shape is not None:
            parts.append("shape " + _shape_text(source.shape))
            n = int(np.prod(source.shape, dtype=np.int64)) if source.shape else 1
            parts.append(f"{format_count(n)} value{'s' if n != 1 else ''}")
        if source.nbytes is not None:
            parts.append(format_bytes(source.nbytes))
        text = "  ·  ".join(parts)
        if source.title and source.title != source.name:
            text += f"\nkey: {source.name}"
        for line in source.details:
            text += "\n" + line
        return text

    def _on_load_error(self, exc: Exception) -> None:
        self.error = str(exc) or type(exc).__name__
        self.error_label.setText("Cannot read this tensor: " + self.error)
        self.error_label.show()
        self.placeholder.setText("No values to show.")
        self.stack.setCurrentWidget(self.placeholder)
        if isinstance(exc, DataLossError):
            self.error_label.setText("This tensor is damaged: its checksum failed. " + self.error)
            self.placeholder.setText("The stored values do not match their checksum.")
            self.show_anyway.setVisible(self.source is not None
                                        and self.source.unchecked_loader is not None)
            node = self._node
            if node is not None and isinstance(node.payload, N.TensorRef):
                self.damaged.emit([Problem(node.payload.key, self.error)], node)
        self.load_failed.emit(self.error)

    def _on_loaded(self, array) -> None:
        array = np.asarray(array) if not isinstance(array, np.ndarray) else array
        self.array = array
        numeric = is_numeric(array.dtype) and array.dtype.kind != "O"
        self.info = TensorInfo(tuple(array.shape), array.dtype, numeric)
        if self.source is not None and self.source.shape is None:
            self.source.shape = tuple(array.shape)
            self.source.dtype = array.dtype
            self.subtitle.setText(self._describe(self.source))
        self.slicer.set_shape(array.shape)
        self.slicer.setVisible(array.ndim >= 2 and array.size > 0)
        is_complex = array.dtype.kind == "c"
        self.complex_label.setVisible(is_complex)
        self.complex_combo.setVisible(is_complex)
        for b in self._buttons:
            b.setEnabled(True)
        self.side.setVisible(numeric)
        self._update_view_buttons()
        view = choose_view(self._views, self.info, self._slice_shape(), TensorPanel._preferred_view)
        self._activate(view)
        if numeric and array.size > 0:
            self._start_stats()
        else:
            self._show_non_numeric_stats()

    def _slice_shape(self) -> tuple[int, ...]:
        s = self.current_slice()
        return tuple(s.shape) if s is not None else ()

    def _update_view_buttons(self) -> None:
        shape = self._slice_shape()
        for v in self._views:
            fits = self.info is not None and v.priority(self.info, shape) > 0
            self._view_buttons[v.name].setVisible(fits)

    # ------------------------------------------------------------------ views
    def _activate(self, view: TensorView) -> None:
        self._current = view
        self._view_buttons[view.name].setChecked(True)
        widget = view.widget()
        if self.stack.indexOf(widget) < 0:
            self.stack.addWidget(widget)
        self._refresh_view()

    def _refresh_view(self) -> None:
        view = self._current
        if view is None or self.array is None:
            return
        self.slice_label.setText(self.slicer.description())
        data = self.current_slice()
        if view.needs_worker:
            self.submit(_prepare, view, data, self._complex_part, slot="view", label="Drawing",
                        on_result=lambda payload, v=view, d=data: self._on_prepared(v, d, payload),
                        on_error=self._on_prepare_error)
        else:
            self.cancel_jobs("view")
            self._show_view(view, data, None)

    def _on_prepared(self, view: TensorView, data, payload) -> None:
        if view is self._current:
            self._show_view(view, data, payload)

    def _on_prepare_error(self, exc: Exception) -> None:
        self.error_label.setText(f"Cannot draw this view: {exc}")
        self.error_label.show()

    def _show_view(self, view: TensorView, data, payload) -> None:
        view.show(data, payload, self.info, self._complex_part)
        self.stack.setCurrentWidget(view.widget())
        self.view_ready.emit(view.name)

    # ------------------------------------------------------------------ statistics
    def _clear_stats(self) -> None:
        for label in self._stat_labels.values():
            label.setText("–")
        self.progress_widget.hide()

    def _start_stats(self) -> None:
        if self.array is None or not self.info or not self.info.numeric:
            return
        self.stats = None
        self.histogram = None
        self._clear_stats()
        self.progress.setValue(0)
        self.progress_widget.setVisible(self.array.size > 2_000_000)
        self.cancel_button.show()
        self.recompute_button.hide()
        self.submit(_stats_and_histogram, self.array, self._complex_part, slot="stats",
                    label=f"Statistics of {self.source.name if self.source else 'tensor'}",
                    on_result=self._on_stats, on_error=self._on_stats_error,
                    on_progress=self._on_progress, on_cancelled=self._on_stats_cancelled)

    def stop_stats(self) -> None:
        """The statistics' own Cancel button: stop them, and offer to compute them again."""
        self.cancel_jobs("stats")
        self._on_stats_cancelled()

    def _on_progress(self, done: int, total: int) -> None:
        if total:
            self.progress.setValue(int(1000 * done / total))

    def _on_stats(self, result) -> None:
        stats, hist = result
        self.stats = stats
        self.histogram = hist
        self._fill_stats(stats)
        self.progress_widget.hide()
        if hist is not None:
            self.histogram_plot.set_counts(*hist)
        self.stats_ready.emit(stats)
        self.histogram_ready.emit(*(hist if hist is not None else (np.zeros(0), np.zeros(1))))

    def _on_stats_error(self, exc: Exception) -> None:
        self.progress_widget.hide()
        self._stat_labels["count"].setText(f"error: {exc}")

    def _on_stats_cancelled(self) -> None:
        self.progress.setFormat("statistics cancelled")
        self.cancel_button.hide()
        self.recompute_button.show()
        self.progress_widget.show()

    def _fill_stats(self, s: TensorStats) -> None:
        L = self._stat_labels
        L["count"].setText(format_count(s.count))
        L["min"].setText(_num(s.min))
        L["max"].setText(_num(s.max))
        L["mean"].setText(_num(s.mean))
        L["std"].setText(_num(s.std))
        pct = f"  ({100 * s.zeros / s.count:.1f}%)" if s.count else ""
        L["zeros"].setText(format_count(s.zeros) + pct)
        L["nans"].setText(format_count(s.nans))
        L["infs"].setText(format_count(s.infs))
        bad = "color: #b00020; font-weight: bold;"
        L["nans"].setStyleSheet(bad if s.nans else "")
        L["infs"].setStyleSheet(bad if s.infs else "")
        self.progress.setFormat("statistics %p%")

    def _show_non_numeric_stats(self) -> None:
        self._clear_stats()
        if self.array is not None:
            self._stat_labels["count"].setText(format_count(int(self.array.size)))

    def stat_text(self, key: str) -> str:
        return self._stat_labels[key].text()

    # ------------------------------------------------------------------ copy / export
    def copy_name(self) -> None:
        if self.source is not None:
            QGuiApplication.clipboard().setText(self.source.name)

    def value_text(self) -> str:
        """What "Copy value" puts on the clipboard."""
        if self.array is None:
            return ""
        if isinstance(self._current, TableView):
            text = self._current.selected_text()
            if text:
                return text
        arr = self.array
        if arr.size <= 100_000:
            if arr.dtype.kind in "OS":
                flat = [v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else str(v)
                        for v in arr.reshape(-1)]
                return "\n".join(flat)
            with np.printoptions(threshold=arr.size + 1, linewidth=200):
                return np.array2string(_display_values(arr), separator=", ")
        return ""

    def copy_value(self) -> None:
        text = self.value_text()
        if text:
            QGuiApplication.clipboard().setText(text)
        else:
            self.error_label.setText("This tensor is too large to copy whole: select cells in "
                                     "the table, or export it as .npy.")
            self.error_label.show()

    def export_npy(self, path: str) -> Worker:
        # Exports are not superseded by anything: each one the person asked for is written.
        return run_in_background(_save_npy, self.array, path, label=f"Saving {path}",
                                 on_error=self._on_export_error)

    def export_csv(self, path: str) -> Worker:
        data = self.current_slice()
        return run_in_background(_save_csv, data, path, label=f"Saving {path}",
                                 on_error=self._on_export_error)

    def export_png(self, path: str) -> None:
        import pyqtgraph.exporters as exporters
        item = self._current.plot_item() if self._current else None
        if item is None:
            item = self.histogram_plot.getPlotItem().scene()
        exporter = exporters.ImageExporter(item)
        exporter.export(path)

    def _on_export_error(self, exc: Exception) -> None:
        self.error_label.setText(f"Export failed: {exc}")
        self.error_label.show()

    def _default_file_name(self, suffix: str) -> str:
        name = (self.source.name if self.source else "tensor")
        for ch in "/\\:. ":
            name = name.replace(ch, "_")
        return name.strip("_") + suffix

    def _ask_export_npy(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export tensor", self._default_file_name(".npy"),
                                              "NumPy array (*.npy)")
        if path:
            self.export_npy(path)

    def _ask_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export shown slice",
                                              self._default_file_name(".csv"), "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def _ask_export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export plot", self._default_file_name(".png"),
                                              "PNG image (*.png)")
        if path:
            self.export_png(path)


# ---------------------------------------------------------------------- worker functions
def _load(ctx, loader):
    return loader()


def _prepare(ctx, view: TensorView, data, complex_part):
    return view.prepare(data, complex_part)


def _stats_and_histogram(ctx, array: np.ndarray, complex_part: str):
    total = 2 * int(array.size)
    stats = compute_stats(array, complex_part=complex_part,
                          progress=lambda d, t: ctx.progress(d, total),
                          should_stop=ctx.should_stop)
    hist = None
    if stats.finite:
        hist = compute_histogram(array, histogram_bins(stats.finite), (stats.min, stats.max),
                                 complex_part=complex_part,
                                 progress=lambda d, t: ctx.progress(t + d, total),
                                 should_stop=ctx.should_stop)
    return stats, hist


def _save_npy(ctx, array, path):
    np.save(path, np.asarray(array), allow_pickle=False)
    return path


def _save_csv(ctx, data, path):
    arr = np.asarray(data)
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    elif arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        values = _display_values(arr)
        for i, row in enumerate(values):
            if i % 256 == 0:
                ctx.check()
            if arr.dtype.kind in "OS":
                writer.writerow([v.decode("utf-8", "backslashreplace") if isinstance(v, bytes)
                                 else str(v) for v in row])
            else:
                writer.writerow([repr(v.item()) if hasattr(v, "item") else v for v in row])
    return path


def _display_values(arr: np.ndarray) -> np.ndarray:
    """Values numpy prints sensibly: ml_dtypes types widened to float32/int8."""
    if arr.dtype.kind in "biufcOSU":
        if arr.dtype.kind == "f" and arr.dtype.itemsize < 4:
            return arr.astype(np.float32)
        return arr
    from tensorloupe.core.stats import numeric_view
    return numeric_view(arr)


def _num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.6g}"


def _dtype_text(dtype: np.dtype) -> str:
    return "string" if dtype.kind in "OS" else np.dtype(dtype).name


def _shape_text(shape) -> str:
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(d) for d in shape) + ")"
