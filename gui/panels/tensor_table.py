"""A table model over a 1-D or 2-D numpy array that reads only the cells Qt asks for.

The array is usually a read-only memory map of a checkpoint shard (or a view slicing it), so
showing a 100-million-element tensor costs only the few hundred cells on screen.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

# Qt's headers keep a record per row/column, so a 100-million-row model would allocate gigabytes
# before painting anything. The model shows a window of this many rows (columns) at a time,
# starting at an origin the panel moves.
WINDOW_ROWS = 1_000_000
WINDOW_COLS = 100_000
_DISPLAY = Qt.ItemDataRole.DisplayRole.value
_TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
_ALIGN = Qt.ItemDataRole.TextAlignmentRole.value
_FONT = Qt.ItemDataRole.FontRole.value
_FOREGROUND = Qt.ItemDataRole.ForegroundRole.value
_LEFT = (Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter).value
_RIGHT = (Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value
_CELL_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
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


def make_formatter(dtype: np.dtype, complex_part: str | None = None):
    """A fast ``value -> text`` for one dtype (the table calls it for every visible cell)."""
    kind = dtype.kind
    if kind == "f" and dtype in (np.float32, np.float64, np.float16):
        return lambda v: _float_text(float(v))
    if kind in "iu" and dtype.itemsize >= 1 and dtype.name not in ("int4", "uint4"):
        return lambda v: str(int(v))
    return lambda v: format_value(v, dtype, complex_part)


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
        self._align = _RIGHT
        self._may_be_odd = False
        self._format = make_formatter(self._array.dtype)
        self._row0 = self._col0 = 0
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
        self._row0 = self._col0 = 0
        self._align = _LEFT if array.dtype.kind in "OSU" else _RIGHT
        self._format = make_formatter(array.dtype, complex_part)
        self._may_be_odd = array.dtype.kind in "fcV"
        self.endResetModel()

    def array(self) -> np.ndarray:
        return self._array

    def value_text(self, row: int, column: int) -> str:
        """Text of a visible cell (row and column counted within the window)."""
        return self._format(self._array[row + self._row0, column + self._col0])

    def shape(self) -> tuple[int, int]:
        return int(self._array.shape[0]), int(self._array.shape[1])

    def origin(self) -> tuple[int, int]:
        return self._row0, self._col0

    def needs_paging(self) -> bool:
        rows, cols = self.shape()
        return rows > WINDOW_ROWS or cols > WINDOW_COLS

    def set_origin(self, row0: int, col0: int = 0) -> None:
        """Show the window starting at (row0, col0) of the whole array."""
        rows, cols = self.shape()
        row0 = max(0, min(int(row0), max(0, rows - WINDOW_ROWS)))
        col0 = max(0, min(int(col0), max(0, cols - WINDOW_COLS)))
        if (row0, col0) == (self._row0, self._col0):
            return
        self.beginResetModel()
        self._row0, self._col0 = row0, col0
        self.endResetModel()

    # ---- Qt overrides
    def rowCount(self, parent=QModelIndex()) -> int:
        if parent.isValid():
            return 0
        return min(self._array.shape[0] - self._row0, WINDOW_ROWS)

    def columnCount(self, parent=QModelIndex()) -> int:
        if parent.isValid():
            return 0
        return min(self._array.shape[1] - self._col0, WINDOW_COLS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY):
        # Called for every visible cell and role on each repaint: plain int comparisons only
        # (comparing Qt enum objects costs microseconds each).
        role = int(role)
        if role == _DISPLAY or role == _TOOLTIP:
            if not index.isValid():
                return None
            return self.value_text(index.row(), index.column())
        if role == _ALIGN:
            return self._align
        if role == _FONT:
            return self._mono
        if role == _FOREGROUND and self._may_be_odd and index.isValid():
            v = self._array[index.row() + self._row0, index.column() + self._col0]
            try:
                if not np.isfinite(v):
                    return _ODD_BRUSH
            except TypeError:
                return None
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY):
        if int(role) == _DISPLAY:
            offset = self._row0 if orientation == Qt.Orientation.Vertical else self._col0
            return str(section + offset)
        return None

    def flags(self, index):
        if not index.isValid():
            return Qt.NoItemFlags
        return _CELL_FLAGS
