"""The ways a tensor can be shown, and how well each fits a given tensor.

Borrowed from silx's DataViews: every view scores the selected data (``priority``; 0 means
"cannot show this"), the panel shows the best one unless the person picked another earlier, and a
view's widgets are created only the first time it is shown. Views that must read many values
(image, plot) do that reading in ``prepare``, which runs in a worker; ``show`` only draws.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel,
                               QPlainTextEdit, QSpinBox, QTableView, QVBoxLayout, QWidget)

from tensorloupe.core.stats import numeric_view, peak_downsample

from .tensor_table import TensorTableModel, format_value



def plain_axes(plot_item) -> None:
    """Tensor values have no unit: no 'x0.001' SI-prefix rescaling of the axes."""
    for name in ("left", "bottom"):
        plot_item.getAxis(name).enableAutoSIPrefix(False)

IMAGE_MAX_SIDE = 2048     # larger slices are strided down for drawing (the table shows every value)
PLOT_MAX_POINTS = 8000    # min/max pairs drawn for a long 1-D tensor
TEXT_MAX_ELEMENTS = 5000  # string elements listed in the text view


@dataclass(frozen=True)
class TensorInfo:
    """What views look at to decide whether they fit."""

    shape: tuple[int, ...]
    dtype: np.dtype
    numeric: bool

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def is_string(self) -> bool:
        return self.dtype.kind in "OSU"


class TensorView:
    name = ""
    title = ""
    needs_worker = False

    def __init__(self) -> None:
        self._widget: QWidget | None = None

    def priority(self, info: TensorInfo, slice_shape: tuple[int, ...]) -> int:
        raise NotImplementedError

    def widget(self) -> QWidget:
        if self._widget is None:
            self._widget = self._create()
        return self._widget

    def has_widget(self) -> bool:
        return self._widget is not None

    def prepare(self, data: np.ndarray, complex_part: str):
        """Runs in a worker: read what ``show`` needs from ``data`` (a view of the tensor)."""
        return None

    def show(self, data: np.ndarray, payload, info: TensorInfo, complex_part: str) -> None:
        raise NotImplementedError

    def plot_item(self):
        """The pyqtgraph item an 'Export plot as PNG' would save, if this view draws one."""
        return None

    def _create(self) -> QWidget:
        raise NotImplementedError


class ValueView(TensorView):
    name, title = "value", "Value"

    def priority(self, info, slice_shape):
        return 100 if info.size == 1 else 0

    def _create(self):
        w = QLabel()
        w.setAlignment(Qt.AlignCenter)
        w.setTextInteractionFlags(Qt.TextSelectableByMouse)
        w.setWordWrap(True)
        font = QFont("DejaVu Sans Mono")
        font.setPointSize(20)
        w.setFont(font)
        return w

    def show(self, data, payload, info, complex_part):
        flat = np.asarray(data).reshape(-1)
        self.widget().setText(format_value(flat[0], flat.dtype))


class TableView(TensorView):
    name, title = "table", "Table"

    def priority(self, info, slice_shape):
        if info.size == 0:
            return 10
        return 50

    def _create(self):
        self.model = TensorTableModel()
        view = QTableView()
        view.setModel(self.model)
        view.setSelectionMode(QAbstractItemView.ContiguousSelection)
        view.setAlternatingRowColors(True)
        view.setWordWrap(False)
        view.setCornerButtonEnabled(True)
        # Fixed sections: Qt never measures all rows or columns.
        for header in (view.horizontalHeader(), view.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.Fixed)
        view.horizontalHeader().setDefaultSectionSize(96)
        view.verticalHeader().setDefaultSectionSize(22)
        self.table = view
        # Paging bar for tensors longer than the model's window.
        self.page_label = QLabel()
        self.page_spin = QSpinBox()
        self.page_spin.setKeyboardTracking(False)
        self.page_spin.setToolTip("First row shown")
        self.page_spin.valueChanged.connect(lambda v: self.model.set_origin(v, 0))
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.page_label)
        bar.addWidget(self.page_spin)
        bar.addStretch(1)
        self.page_bar = QWidget()
        self.page_bar.setLayout(bar)
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.page_bar)
        layout.addWidget(view, 1)
        return box

    def show(self, data, payload, info, complex_part):
        self.widget()
        self.model.set_array(data, complex_part if info.dtype.kind == "c" else None)
        self.table.horizontalHeader().setDefaultSectionSize(260 if info.is_string else 96)
        rows, _cols = self.model.shape()
        paging = self.model.needs_paging()
        self.page_bar.setVisible(paging)
        if paging:
            from .tensor_table import WINDOW_ROWS
            self.page_label.setText(f"{rows:,} rows; {WINDOW_ROWS:,} shown at a time, "
                                    f"starting at row")
            self.page_spin.blockSignals(True)
            self.page_spin.setRange(0, max(0, rows - WINDOW_ROWS))
            self.page_spin.setSingleStep(WINDOW_ROWS // 2)
            self.page_spin.setValue(0)
            self.page_spin.blockSignals(False)

    def selected_text(self) -> str:
        """Selected cells as tab-separated lines (what a spreadsheet pastes)."""
        if self._widget is None:
            return ""
        ranges = self.table.selectionModel().selection()
        if ranges.isEmpty():
            return ""
        r = ranges[0]
        lines = []
        for row in range(r.top(), r.bottom() + 1):  # window rows: value_text offsets them
            lines.append("\t".join(self.model.value_text(row, col)
                                   for col in range(r.left(), r.right() + 1)))
        return "\n".join(lines)


class ImageView(TensorView):
    name, title = "image", "Image"
    needs_worker = True

    def priority(self, info, slice_shape):
        if not info.numeric or info.ndim < 2 or len(slice_shape) != 2:
            return 0
        rows, cols = slice_shape
        if min(rows, cols) >= 2 and rows * cols >= 64:
            return 70
        return 20

    def _create(self):
        w = pg.PlotWidget()
        self.plot = w.getPlotItem()
        self.plot.invertY(True)
        self.plot.setAspectLocked(False)
        self.plot.setLabel("bottom", "column")
        self.plot.setLabel("left", "row")
        self.plot.showGrid(False, False)
        plain_axes(self.plot)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("viridis"),
                                   interactive=True, width=18)
        self.bar.setImageItem(self.image, insert_in=self.plot)
        return w

    def prepare(self, data, complex_part):
        values = numeric_view(data, complex_part)
        rows, cols = values.shape
        step = max(1, math.ceil(max(rows, cols) / IMAGE_MAX_SIDE))
        if step > 1:
            values = values[::step, ::step]
        img = np.array(values, dtype=np.float32)
        finite = img[np.isfinite(img)]
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
        else:
            lo, hi = 0.0, 1.0
        return img, (rows, cols), step, lo, hi

    def show(self, data, payload, info, complex_part):
        self.widget()
        img, (rows, cols), step, lo, hi = payload
        diverging = lo < 0 < hi
        if diverging:
            # Weights centre on zero: a symmetric diverging map shows sign at a glance.
            m = max(-lo, hi)
            lo, hi = -m, m
            cmap = pg.colormap.get("CET-D1")
        else:
            cmap = pg.colormap.get("viridis")
        if hi <= lo:
            hi = lo + 1.0
        self.image.setImage(img, levels=(lo, hi), autoLevels=False)
        self.image.setRect(QRectF(0, 0, cols, rows))
        self.bar.setColorMap(cmap)
        self.bar.setLevels((lo, hi))
        note = f" (every {step}th value drawn)" if step > 1 else ""
        self.plot.setLabel("bottom", f"column{note}")
        self.plot.autoRange(padding=0)

    def plot_item(self):
        return self.plot.scene() if self._widget is not None else None


class PlotView(TensorView):
    name, title = "plot", "Plot"
    needs_worker = True

    def priority(self, info, slice_shape):
        if not info.numeric or info.ndim != 1:
            return 0
        return 70 if info.size >= 8 else 30

    def _create(self):
        w = pg.PlotWidget()
        self.plot = w.getPlotItem()
        self.plot.showGrid(True, True, alpha=0.25)
        self.plot.setLabel("bottom", "index")
        self.plot.setLabel("left", "value")
        plain_axes(self.plot)
        self.curve = self.plot.plot(pen=pg.mkPen((31, 119, 180), width=1), connect="finite",
                                    segmentedLineMode="on")  # drawLines: fast for spikes
        return w

    def prepare(self, data, complex_part):
        return peak_downsample(numeric_view(data, complex_part), PLOT_MAX_POINTS)

    def show(self, data, payload, info, complex_part):
        self.widget()
        x, y = payload
        symbol = "o" if x.size <= 64 else None
        # Without gaps pyqtgraph can draw plain line segments, much faster than a path.
        connect = "all" if np.isfinite(y).all() else "finite"
        self.curve.setData(x, y, symbol=symbol, symbolSize=6, connect=connect,
                           symbolBrush=(31, 119, 180), symbolPen=None)
        self.plot.autoRange()

    def plot_item(self):
        return self.plot.scene() if self._widget is not None else None


class TextView(TensorView):
    name, title = "text", "Text"

    def priority(self, info, slice_shape):
        if info.is_string:
            return 60 if info.size > 1 else 40
        return 5 if info.numeric and 1 < info.size <= 10_000 else 0

    def _create(self):
        w = QPlainTextEdit()
        w.setReadOnly(True)
        w.setLineWrapMode(QPlainTextEdit.NoWrap)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.Monospace)
        w.setFont(font)
        return w

    def show(self, data, payload, info, complex_part):
        w = self.widget()
        arr = np.asarray(data)
        if info.is_string:
            flat = arr.reshape(-1)
            lines = []
            for i, value in enumerate(flat[:TEXT_MAX_ELEMENTS]):
                idx = np.unravel_index(i, arr.shape) if arr.ndim else ()
                where = "[" + ", ".join(str(int(k)) for k in idx) + "]"
                lines.append(f"{where}  {format_value(value, arr.dtype)}")
            if flat.size > TEXT_MAX_ELEMENTS:
                lines.append(f"… {flat.size - TEXT_MAX_ELEMENTS:,} more")
            w.setPlainText("\n".join(lines))
        else:
            with np.printoptions(threshold=10_000, linewidth=120):
                w.setPlainText(np.array2string(numeric_view(arr, complex_part)))


class HistogramPlot(pg.PlotWidget):
    """Counts of values, drawn as steps; sits beside whichever view is chosen."""

    def __init__(self, parent=None):
        super().__init__(parent)
        item = self.getPlotItem()
        item.setLabel("bottom", "value")
        item.setLabel("left", "count")
        item.showGrid(True, True, alpha=0.2)
        item.setMouseEnabled(x=True, y=False)
        plain_axes(item)
        self.curve = item.plot(stepMode="center", fillLevel=0,
                               brush=(31, 119, 180, 150), pen=pg.mkPen((31, 119, 180)))

    def set_counts(self, counts: np.ndarray, edges: np.ndarray) -> None:
        if counts.size == 0:
            self.clear_counts()
            return
        self.curve.setData(edges, counts.astype(np.float64))
        self.getPlotItem().autoRange()

    def clear_counts(self) -> None:
        self.curve.setData([], [])


def all_views() -> list[TensorView]:
    """A fresh set of views for one panel, best-first on ties."""
    return [ValueView(), ImageView(), PlotView(), TextView(), TableView()]


def choose_view(views: list[TensorView], info: TensorInfo, slice_shape: tuple[int, ...],
                preferred: str | None) -> TensorView:
    """The view to show: the person's earlier choice if it fits, else the highest priority."""
    scored = [(v.priority(info, slice_shape), i, v) for i, v in enumerate(views)]
    if preferred:
        for score, _, v in scored:
            if v.name == preferred and score > 0:
                return v
    scored.sort(key=lambda t: (-t[0], t[1]))
    return scored[0][2]
