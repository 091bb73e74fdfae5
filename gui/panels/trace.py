"""The trace of a run: every node the engine executed, in order, and the tensor it produced.

Rows are grouped by function call (a StatefulPartitionedCall's body sits under its function)
and, inside each, by name scope (consecutive nodes sharing a scope such as
``functional_1/block_3_expand``). A filter box searches names, ops and descriptions; the
first node whose output holds NaN or Inf is highlighted and one click away. Clicking a row
shows its output in a tensor panel. Op descriptions come from the kernel registry.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import (QAbstractItemModel, QModelIndex, QPersistentModelIndex,
                            QSortFilterProxyModel, Qt, Signal)
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFrame, QHBoxLayout, QHeaderView,
                               QLabel, QLineEdit, QPushButton, QScrollArea, QSplitter, QStackedWidget,
                               QTreeView, QVBoxLayout, QWidget)

from .base import Searchable
from .tensor import TensorPanel

COLUMNS = ("#", "node", "op", "output shape", "dtype", "ms", "NaN/Inf", "what it does")
COL_INDEX, COL_NAME, COL_OP, COL_SHAPE, COL_DTYPE, COL_TIME, COL_FLAG, COL_DESC = range(8)
RECORD_ROLE = Qt.UserRole + 1
BAD_BRUSH = QBrush(QColor("#ffd7d2"))
FIRST_BAD_BRUSH = QBrush(QColor("#ff9e91"))

# Ops the executor handles itself (no kernel registration): said here in the same plain words.
_BUILTIN = {
    "Const": "a constant tensor stored in the graph",
    "HostConst": "a constant tensor stored in the graph",
    "Placeholder": "where a fed input enters the graph",
    "PlaceholderV2": "where a fed input enters the graph",
    "_Arg": "an argument of the function being called",
    "_Retval": "a result of the function being called",
}


def describe(op: str) -> str:
    """One line, in plain words, on what ``op`` does ("" when nobody wrote one)."""
    text = _BUILTIN.get(op)
    if text:
        return text
    try:
        from tensorloupe.core.engine.registry import lookup
        k = lookup(op)
    except Exception:  # noqa: BLE001 - the registry is optional for showing a trace
        return ""
    return (k.description or "") if k is not None else ""


def _shape_text(shapes) -> str:
    parts = []
    for s in shapes:
        if s is None:
            parts.append("–")
        else:
            parts.append("(" + ", ".join(str(d) for d in s) + ("," if len(s) == 1 else "") + ")")
    return " ".join(parts)


class TraceItem:
    __slots__ = ("record", "label", "kind", "children", "parent", "row", "order", "seconds",
                 "bad", "first_bad")

    def __init__(self, kind: str, label: str = "", record=None, order: int = -1, parent=None):
        self.kind = kind            # "root", "function", "scope" or "node"
        self.label = label
        self.record = record
        self.order = order
        self.children: list[TraceItem] = []
        self.parent = parent
        self.row = 0
        self.seconds = record.seconds if record is not None else 0.0
        self.bad = bool(record is not None and (record.has_nan or record.has_inf))
        self.first_bad = False

    def add(self, child: "TraceItem") -> "TraceItem":
        child.parent = self
        child.row = len(self.children)
        self.children.append(child)
        return child


def scope_of(name: str) -> str:
    """The layer-level name scope: at most the first two parts of the node's path
    (``functional_1/block_3_expand`` of ``functional_1/block_3_expand/Conv2D/ReadVariableOp``),
    so that a layer's nodes stay together in one group."""
    parts = name.split("/")
    if len(parts) <= 1:
        return ""
    return "/".join(parts[:min(2, len(parts) - 1)])


def build_tree(records, grouped: bool = True) -> tuple[TraceItem, TraceItem | None]:
    """(root, first NaN/Inf node item) of the trace, grouped or flat."""
    root = TraceItem("root")
    first_bad = None
    # stack of (function path, container item)
    stack: list[tuple[tuple, TraceItem]] = [((), root)]
    for order, rec in enumerate(records):
        item = TraceItem("node", rec.name, rec, order)
        if item.bad and first_bad is None:
            first_bad = item
            item.first_bad = True
        if not grouped:
            root.add(item)
            continue
        path = tuple(rec.function_path or ())
        while len(stack) > 1 and stack[-1][0] != path[:len(stack[-1][0])]:
            stack.pop()
        while len(stack[-1][0]) < len(path):
            depth = len(stack[-1][0])
            fname = path[depth]
            group = stack[-1][1].add(TraceItem("function", fname))
            stack.append((path[:depth + 1], group))
        container = stack[-1][1]
        scope = scope_of(rec.name)
        last = container.children[-1] if container.children else None
        if scope:
            if last is None or last.kind != "scope" or last.label != scope:
                last = container.add(TraceItem("scope", scope))
            last.add(item)
        else:
            container.add(item)
    if grouped:
        _sum_up(root)
    return root, first_bad


def _sum_up(item: TraceItem) -> None:
    """Groups: total time and whether anything inside went NaN/Inf (iteratively)."""
    order = []
    stack = [item]
    while stack:
        it = stack.pop()
        order.append(it)
        stack.extend(c for c in it.children if c.kind != "node")
    for it in reversed(order):
        if it.kind == "node":
            continue
        it.seconds = sum(c.seconds for c in it.children)
        it.bad = any(c.bad for c in it.children)


class TraceModel(QAbstractItemModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.root = TraceItem("root")
        self.first_bad: TraceItem | None = None
        self._bold = QFont()
        self._bold.setBold(True)

    def set_records(self, records, grouped: bool = True) -> None:
        self.beginResetModel()
        self.root, self.first_bad = build_tree(records, grouped)
        self.endResetModel()

    def item(self, index: QModelIndex) -> TraceItem:
        return index.internalPointer() if index.isValid() else self.root

    def index_of(self, item: TraceItem) -> QModelIndex:
        if item is None or item is self.root:
            return QModelIndex()
        return self.createIndex(item.row, 0, item)

    # ---- Qt
    def index(self, row: int, column: int, parent=QModelIndex()) -> QModelIndex:
        p = self.item(parent)
        if 0 <= row < len(p.children) and 0 <= column < len(COLUMNS):
            return self.createIndex(row, column, p.children[row])
        return QModelIndex()

    def parent(self, index=QModelIndex()) -> QModelIndex:
        if not index.isValid():
            return QModelIndex()
        it: TraceItem = index.internalPointer()
        p = it.parent
        if p is None or p is self.root:
            return QModelIndex()
        return self.createIndex(p.row, 0, p)

    def rowCount(self, parent=QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self.item(parent).children)

    def columnCount(self, parent=QModelIndex()) -> int:
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid():
            return None
        it: TraceItem = index.internalPointer()
        col = index.column()
        rec = it.record
        if role == Qt.DisplayRole:
            if it.kind == "function":
                return {COL_NAME: f"ƒ {it.label}", COL_OP: "function call",
                        COL_TIME: f"{it.seconds * 1000:.2f}",
                        COL_FLAG: "⚠" if it.bad else ""}.get(col)
            if it.kind == "scope":
                return {COL_NAME: it.label.rsplit("/", 1)[-1] + "/", COL_TIME: f"{it.seconds * 1000:.2f}",
                        COL_FLAG: "⚠" if it.bad else ""}.get(col)
            if col == COL_INDEX:
                return str(it.order + 1)
            if col == COL_NAME:
                if it.parent is not None and it.parent.kind == "scope" and \
                        rec.name.startswith(it.parent.label + "/"):
                    return rec.name[len(it.parent.label) + 1:]
                return rec.name
            if col == COL_OP:
                return rec.op
            if col == COL_SHAPE:
                return _shape_text(rec.shapes)
            if col == COL_DTYPE:
                return " ".join(str(d) for d in rec.dtypes)
            if col == COL_TIME:
                return f"{rec.seconds * 1000:.3f}"
            if col == COL_FLAG:
                flags = [f for f, on in (("NaN", rec.has_nan), ("Inf", rec.has_inf)) if on]
                return " ".join(flags)
            if col == COL_DESC:
                return describe(rec.op)
            return None
        if role == Qt.ToolTipRole:
            if rec is not None:
                d = describe(rec.op)
                where = " › ".join(rec.function_path) if rec.function_path else "the graph"
                return f"{rec.name}\n{rec.op}: {d or '(no description)'}\nin {where}"
            if it.kind == "function":
                return (f"the body of function {it.label}, called by a StatefulPartitionedCall "
                        f"({self._count(it)} nodes)")
            if it.kind == "scope":
                return f"name scope {it.label}/ ({self._count(it)} nodes)"
            return None
        if role == Qt.BackgroundRole:
            if it.first_bad:
                return FIRST_BAD_BRUSH
            if it.bad:
                return BAD_BRUSH
            return None
        if role == Qt.FontRole and (it.first_bad or it.kind == "function"):
            return self._bold
        if role == Qt.TextAlignmentRole and col in (COL_INDEX, COL_TIME):
            return int(Qt.AlignRight | Qt.AlignVCenter)
        if role == RECORD_ROLE:
            return rec
        return None

    def _count(self, it: TraceItem) -> int:
        n = 0
        stack = [it]
        while stack:
            x = stack.pop()
            for c in x.children:
                if c.kind == "node":
                    n += 1
                else:
                    stack.append(c)
        return n

    def flags(self, index):
        if not index.isValid():
            return Qt.NoItemFlags
        return Qt.ItemIsEnabled | Qt.ItemIsSelectable


class TracePanel(QWidget, Searchable):
    """The trace table above, the selected node's output (a tensor panel) below."""

    record_shown = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.trace = None
        self.records: list = []
        self.model = TraceModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setRecursiveFilteringEnabled(True)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter nodes by name, op or description")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.set_filter)
        self.group_box = QCheckBox("Group by function and name scope")
        self.group_box.setChecked(True)
        self.group_box.toggled.connect(self._rebuild)
        self.summary = QLabel("Run the signature to see every node it executes.")
        self.summary.setStyleSheet("color: #555;")
        self.bad_label = QLabel()
        self.bad_label.setStyleSheet("color: #8a1f11; font-weight: bold;")
        self.bad_button = QPushButton("Show first NaN/Inf")
        self.bad_button.clicked.connect(self.show_first_bad)
        self.bad_button.hide()
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.group_box)
        info = QHBoxLayout()
        info.addWidget(self.summary, 1)
        info.addWidget(self.bad_label)
        info.addWidget(self.bad_button)

        self.view = QTreeView()
        self.view.setModel(self.proxy)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        header = self.view.header()
        header.setStretchLastSection(True)
        for col, width in ((COL_INDEX, 70), (COL_NAME, 210), (COL_OP, 150), (COL_SHAPE, 110),
                           (COL_DTYPE, 60), (COL_TIME, 55), (COL_FLAG, 60)):
            header.resizeSection(col, width)
        header.setSectionResizeMode(QHeaderView.Interactive)
        self.view.selectionModel().currentChanged.connect(self._on_current)

        self.output_combo = QComboBox()
        self.output_combo.currentIndexChanged.connect(self._show_output)
        self.output_combo.hide()
        self.tensor = TensorPanel()
        self.message = QLabel("Click a node to see the tensor it produced.")
        self.message.setAlignment(Qt.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #777;")
        self.lower = QStackedWidget()
        self.lower.addWidget(self.message)
        self.lower.addWidget(self.tensor)
        lower_box = QWidget()
        ll = QVBoxLayout(lower_box)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.output_combo, 0, Qt.AlignLeft)
        ll.addWidget(self.lower, 1)
        # In a scroll area, so that the tensor panel's minimum height never squeezes the table.
        lower_scroll = QScrollArea()
        lower_scroll.setWidgetResizable(True)
        lower_scroll.setFrameShape(QFrame.NoFrame)
        lower_box.setMinimumHeight(380)
        lower_scroll.setWidget(lower_box)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.view)
        split.addWidget(lower_scroll)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([300, 500])
        self.splitter = split
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(info)
        layout.addWidget(split, 1)
        self._record = None

    # ---- content
    def search_box(self):
        return self.filter

    def clear(self) -> None:
        self.trace = None
        self.records = []
        self.model.set_records([], True)
        self.summary.setText("Run the signature to see every node it executes.")
        self.bad_label.clear()
        self.bad_button.hide()
        self.lower.setCurrentWidget(self.message)
        self.output_combo.hide()

    def set_trace(self, trace) -> None:
        self.trace = trace
        self.records = list(getattr(trace, "records", []) or [])
        self._rebuild()
        total = sum(r.seconds for r in self.records)
        dropped = getattr(trace, "dropped", 0)
        text = f"{len(self.records)} nodes executed, {total * 1000:.1f} ms in kernels"
        if dropped:
            text += f" ({dropped} more not recorded)"
        if getattr(trace, "budget_hit", False):
            text += "; later tensors not kept (memory budget)"
        self.summary.setText(text)

    def _rebuild(self) -> None:
        self.model.set_records(self.records, self.group_box.isChecked())
        bad = self.model.first_bad
        if bad is not None:
            r = bad.record
            what = "NaN" if r.has_nan else "Inf"
            self.bad_label.setText(f"First {what}: {r.name} ({r.op})")
            self.bad_button.show()
        else:
            self.bad_label.setText("No NaN or Inf." if self.records else "")
            self.bad_button.hide()
        if self.group_box.isChecked():
            # Open the top level and the first function call: where the model's work is.
            for row in range(self.proxy.rowCount()):
                idx = self.proxy.index(row, 0)
                if self.model.item(self.proxy.mapToSource(idx)).kind == "function":
                    self.view.expand(idx)
        if self.filter.text():
            self.set_filter(self.filter.text())

    def set_filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        if text.strip():
            self.view.expandAll()

    def select_item(self, item: TraceItem) -> None:
        src = self.model.index_of(item)
        idx = self.proxy.mapFromSource(src)
        if not idx.isValid():
            self.filter.clear()
            idx = self.proxy.mapFromSource(src)
        parent = idx.parent()
        while parent.isValid():
            self.view.expand(parent)
            parent = parent.parent()
        self.view.setCurrentIndex(idx)
        self.view.scrollTo(idx, QAbstractItemView.PositionAtCenter)

    def show_first_bad(self) -> None:
        if self.model.first_bad is not None:
            self.select_item(self.model.first_bad)

    def find_items(self, name: str) -> list[TraceItem]:
        out = []
        stack = [self.model.root]
        while stack:
            it = stack.pop()
            if it.record is not None and it.record.name == name:
                out.append(it)
            stack.extend(reversed(it.children))
        return out

    # ---- showing a node's tensor
    def _on_current(self, current: QModelIndex, _prev: QModelIndex) -> None:
        rec = current.data(RECORD_ROLE) if current.isValid() else None
        if rec is None:
            return
        self._record = rec
        values = rec.values
        self.output_combo.blockSignals(True)
        self.output_combo.clear()
        n = len(values) if values is not None else len(rec.shapes)
        for k in range(n):
            self.output_combo.addItem(f"output {k}: {_shape_text([rec.shapes[k]])} "
                                      f"{rec.dtypes[k]}" if k < len(rec.shapes) else f"output {k}")
        self.output_combo.blockSignals(False)
        self.output_combo.setVisible(n > 1)
        self._show_output()
        self.record_shown.emit(rec)

    def _show_output(self) -> None:
        rec = self._record
        if rec is None:
            return
        k = max(0, self.output_combo.currentIndex())
        if not rec.values:
            self.message.setText(f"{rec.name} ({rec.op}) produced no tensor to show."
                                 if not rec.shapes else
                                 f"The values of {rec.name} were not kept for this run.")
            self.lower.setCurrentWidget(self.message)
            return
        value = rec.values[k] if k < len(rec.values) else None
        if not isinstance(value, (np.ndarray, np.generic)):
            self.message.setText(f"{rec.name} ({rec.op}) output {k} is a "
                                 f"{type(value).__name__}, not a tensor: {value!r}"[:400])
            self.lower.setCurrentWidget(self.message)
            return
        title = f"{rec.name}" + (f" : {k}" if k else "")
        self.tensor.set_array(f"{rec.name}:{k}", np.asarray(value), title=title)
        self.lower.setCurrentWidget(self.tensor)

    def is_busy(self) -> bool:
        return self.tensor.is_busy()


__all__ = ["TracePanel", "TraceModel", "build_tree", "describe", "scope_of"]
