"""A table model over a 1-D or 2-D numpy array that reads only the cells Qt asks for.

The array is usually a read-only memory map of a checkpoint shard (or a view slicing it), so
showing a 100-million-element tensor costs only the few hundred cells on screen.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

_MAX_QT_COUNT = 2**31 - 1
_ODD_BRUSH = QBrush(QColor(200, 30, 30))


def format_value(value, dtype: np.dtype, complex_part: str | None = None) -> str:
    """One element as text: floats with 6 significant digits, bytes decoded as UTF-8."""
    kind = dtype.kind
    if kind == "O" or kind == "S":
        if isinstance(value, bytes):
            text = value.decode("utf-8", errors="backslashreplace")
        else:
            text = str(value)
        return text
    if kind == "U":
        return str(value)
    if kind == "b":
        return "true" if value else "false"
    if kind == "c":
        if complex_part == "real":
            return _float_text(float(value.real))
        if complex_part == "imag":
            return _float_text(float(value.imag))
        if complex_part == "phase":
            return _float_text(float(np.angle(value)))
        if complex_part == "abs":
            return _float_text(float(abs(value)))
        return f"{_float_text(float(value.real))}{'+' if value.imag >= 0 else '-'}" \
               f"{_float_text(abs(float(value.imag)))}j"
    if kind in "iu" and dtype.name not in ("int4", "uint4"):
        return str(int(value))
    if dtype.name in ("int4", "uint4", "int2", "uint2"):
        return str(int(np.asarray(value).astype(np.int16)))
    return _float_text(float(value))


def _float_text(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    return f"{x:.6g}"


class TensorTableModel(QAbstractTableModel):
    """Rows and columns of a 2-D array (a 1-D array is one column, a scalar one cell)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._array: np.ndarray = np.zeros((0, 0))
        self._complex_part: str | None = None
        self._row_label = "row"
        self._col_label = "column"
        self._mono = QFont("DejaVu Sans Mono")
        self._mono.setStyleHint(QFont.Monospace)

    # ---- our API
    def set_array(self, array: np.ndarray, complex_part: str | None = None) -> None:
        self.beginResetModel()
        if array.ndim == 0:
            array = array.reshape(1, 1)
        elif array.ndim == 1:
            array = array.reshape(-1, 1)
        self._array = array
        self._complex_part = complex_part
        self.endResetModel()

    def array(self) -> np.ndarray:
        return self._array

    def value_text(self, row: int, column: int) -> str:
        return format_value(self._array[row, column], self._array.dtype, self._complex_part)

    # ---- Qt overrides
    def rowCount(self, parent=QModelIndex()) -> int:
        if parent.isValid():
            return 0
        return min(self._array.shape[0], _MAX_QT_COUNT)

    def columnCount(self, parent=QModelIndex()) -> int:
        if parent.isValid():
            return 0
        return min(self._array.shape[1], _MAX_QT_COUNT)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid():
            return None
        if role in (Qt.DisplayRole, Qt.ToolTipRole):
            return self.value_text(index.row(), index.column())
        if role == Qt.TextAlignmentRole:
            if self._array.dtype.kind in "OSU":
                return int(Qt.AlignLeft | Qt.AlignVCenter)
            return int(Qt.AlignRight | Qt.AlignVCenter)
        if role == Qt.ForegroundRole and self._array.dtype.kind in "fcV":
            v = self._array[index.row(), index.column()]
            try:
                if not np.isfinite(v):
                    return _ODD_BRUSH
            except TypeError:
                return None
        if role == Qt.FontRole:
            return self._mono
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.DisplayRole):
        if role == Qt.DisplayRole:
            return str(section)
        return None

    def flags(self, index):
        if not index.isValid():
            return Qt.NoItemFlags
        return Qt.ItemIsEnabled | Qt.ItemIsSelectable
