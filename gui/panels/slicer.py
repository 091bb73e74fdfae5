"""Axis selectors: which two axes of an N-D tensor are shown, and where the others are fixed."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QSlider, QSpinBox,
                               QWidget)


def take_slice(array: np.ndarray, row_axis: int, col_axis: int, index: dict[int, int]) -> np.ndarray:
    """The 2-D view ``array[..., i, ...]`` with ``row_axis`` as rows and ``col_axis`` as columns.

    Axes other than the two shown are fixed at ``index[axis]`` (0 when missing). Basic indexing
    only, so a memory-mapped tensor is not read until cells are looked at.
    """
    if array.ndim < 2:
        return array
    key = tuple(slice(None) if ax in (row_axis, col_axis) else int(index.get(ax, 0))
                for ax in range(array.ndim))
    view = array[key]
    if row_axis > col_axis:
        view = view.T
    return view


class SliceSelector(QWidget):
    """Two combo boxes (rows / columns axis) and a slider + spin box for every other axis."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._shape: tuple[int, ...] = ()
        self._row_axis = 0
        self._col_axis = 1
        self._index: dict[int, int] = {}
        self._rows = QComboBox()
        self._cols = QComboBox()
        self._rows.setToolTip("Axis shown as rows (the image's vertical axis)")
        self._cols.setToolTip("Axis shown as columns (the image's horizontal axis)")
        self._rows.activated.connect(lambda i: self._choose_axes(i, self._col_axis, moved="rows"))
        self._cols.activated.connect(lambda i: self._choose_axes(self._row_axis, i, moved="cols"))
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("Rows:"))
        top.addWidget(self._rows)
        top.addSpacing(12)
        top.addWidget(QLabel("Columns:"))
        top.addWidget(self._cols)
        top.addStretch(1)
        self._grid = QGridLayout()
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setColumnStretch(1, 1)
        outer = QGridLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(top, 0, 0)
        outer.addLayout(self._grid, 1, 0)
        self._index_widgets: dict[int, tuple[QSlider, QSpinBox]] = {}

    # ---- state
    def set_shape(self, shape: tuple[int, ...]) -> None:
        self._shape = tuple(int(d) for d in shape)
        n = len(self._shape)
        self._row_axis, self._col_axis = (n - 2, n - 1) if n >= 2 else (0, 1)
        self._index = {ax: 0 for ax in range(n)}
        for combo in (self._rows, self._cols):
            combo.clear()
            for ax, size in enumerate(self._shape):
                combo.addItem(f"axis {ax}  ({size})")
        self._rebuild_index_widgets()
        self.setVisible(n >= 2)

    def axes(self) -> tuple[int, int]:
        return self._row_axis, self._col_axis

    def index(self) -> dict[int, int]:
        return {ax: i for ax, i in self._index.items() if ax not in (self._row_axis, self._col_axis)}

    def set_axes(self, row_axis: int, col_axis: int) -> None:
        self._choose_axes(row_axis, col_axis, moved="rows")

    def set_index(self, axis: int, value: int) -> None:
        if axis in self._index_widgets:
            self._index_widgets[axis][1].setValue(value)  # emits through the spin box
        else:
            self._index[axis] = value

    def take(self, array: np.ndarray) -> np.ndarray:
        return take_slice(array, self._row_axis, self._col_axis, self._index)

    def description(self) -> str:
        """Like numpy indexing text: [:, :, 2, 0] with the shown axes as ':'."""
        if len(self._shape) < 3:
            return ""
        parts = [":" if ax in (self._row_axis, self._col_axis) else str(self._index.get(ax, 0))
                 for ax in range(len(self._shape))]
        text = "[" + ", ".join(parts) + "]"
        if self._row_axis > self._col_axis:
            text += " transposed"
        return text

    # ---- internals
    def _choose_axes(self, row_axis: int, col_axis: int, moved: str) -> None:
        if row_axis == col_axis:  # picking an axis already shown swaps the two
            if moved == "rows":
                col_axis = self._row_axis
            else:
                row_axis = self._col_axis
        self._row_axis, self._col_axis = row_axis, col_axis
        self._rows.setCurrentIndex(row_axis)
        self._cols.setCurrentIndex(col_axis)
        self._rebuild_index_widgets()
        self.changed.emit()

    def _rebuild_index_widgets(self) -> None:
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._index_widgets.clear()
        self._rows.setCurrentIndex(self._row_axis)
        self._cols.setCurrentIndex(self._col_axis)
        row = 0
        for ax, size in enumerate(self._shape):
            if ax in (self._row_axis, self._col_axis) or size <= 1:
                continue  # an axis of length 1 has only index 0: nothing to choose
            label = QLabel(f"axis {ax}:")
            slider = QSlider(Qt.Horizontal)
            slider.setRange(0, max(0, size - 1))
            spin = QSpinBox()
            spin.setRange(0, max(0, size - 1))
            spin.setSuffix(f" / {size - 1}")
            value = min(self._index.get(ax, 0), max(0, size - 1))
            slider.setValue(value)
            spin.setValue(value)
            slider.valueChanged.connect(spin.setValue)
            spin.valueChanged.connect(slider.setValue)
            spin.valueChanged.connect(lambda v, a=ax: self._index_changed(a, v))
            self._grid.addWidget(label, row, 0)
            self._grid.addWidget(slider, row, 1)
            self._grid.addWidget(spin, row, 2)
            self._index_widgets[ax] = (slider, spin)
            row += 1

    def _index_changed(self, axis: int, value: int) -> None:
        if self._index.get(axis) != value:
            self._index[axis] = value
            self.changed.emit()
