"""The comparison's table: one row per aligned variable, its filter, and the colours of both.

What a cell says, how a column sorts and which rows a filter keeps is decided in
``core.compare_view``; this module hands it to Qt.
"""
from __future__ import annotations

from PySide6 import __version_info__ as _PYSIDE_VERSION
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor

from tensorloupe.core import compare as C
from tensorloupe.core import compare_view as V

SORT_ROLE = Qt.UserRole + 1
VARIABLE_ROLE = Qt.UserRole + 2

COLOR_A = QColor(31, 119, 180)      # checkpoint A in the plots
COLOR_B = QColor(255, 127, 14)      # checkpoint B
FAILED_TEXT = QColor(160, 20, 20)   # rows that could not be compared

# Qt 6.9 brackets a filter change with beginFilterChange/endFilterChange; older versions only
# have invalidateFilter (PySide's version is the Qt version it wraps).
_FILTER_CHANGE_BRACKETS = tuple(_PYSIDE_VERSION[:2]) >= (6, 9)


def change_color(rel: float | None, status: str) -> QColor | None:
    """Background for a relative change (see ``core.compare_view.change_rgb``)."""
    rgb = V.change_rgb(rel, status)
    return None if rgb is None else QColor(*rgb)


class CompareTableModel(QAbstractTableModel):
    """One row per aligned variable of a Comparison."""

    COLUMNS = list(V.COLUMNS)
    RMS = V.RMS_COLUMN
    REL = V.REL_COLUMN
    # The coloured columns and the change each is coloured by.
    _COLOURED = {V.RMS_COLUMN: "rms_change", V.REL_COLUMN: "rel_change"}

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[C.VariableDiff] = []
        self.rank_by = C.RMS

    def set_comparison(self, comparison: C.Comparison | None, rank_by: str | None = None) -> None:
        """Show ``comparison``, most changed first by ``rank_by`` (default: as before)."""
        if rank_by is not None:
            self.rank_by = rank_by
        self.beginResetModel()
        self._rows = V.table_rows(comparison, self.rank_by)
        self.endResetModel()

    def variable(self, row: int) -> C.VariableDiff:
        return self._rows[row]

    def row_of(self, name: str) -> int:
        return V.row_of(self._rows, name)

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
            return V.cell_text(v, self.COLUMNS[col])
        if role == SORT_ROLE:
            return V.sort_value(v, self.COLUMNS[col])
        if role == Qt.BackgroundRole and col in self._COLOURED and not v.is_counter:
            color = change_color(getattr(v, self._COLOURED[col]), v.status)
            return QBrush(color) if color is not None else None
        if role == Qt.TextAlignmentRole and self.COLUMNS[col] in V.NUMBER_COLUMNS:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        if role == Qt.ToolTipRole:
            return V.tooltip_text(v)
        if role == Qt.ForegroundRole and v.status == C.FAILED:
            return QBrush(FAILED_TEXT)
        if role == Qt.ForegroundRole and col in self._COLOURED and not v.is_counter:
            color = change_color(getattr(v, self._COLOURED[col]), v.status)
            if color is not None and color.lightnessF() < 0.45:
                return QBrush(Qt.white)  # readable on the darkest reds
        return None


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
        if _FILTER_CHANGE_BRACKETS:
            self.beginFilterChange()
        if text is not None:
            self.text = text.lower()
        if group is not None:
            self.group = group
        if changed_only is not None:
            self.changed_only = changed_only
        if _FILTER_CHANGE_BRACKETS:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:
        return V.row_matches(self.sourceModel().variable(row), self.text, self.group,
                             self.changed_only)
