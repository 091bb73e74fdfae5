"""One QAbstractItemModel over every open document (each a top-level row).

Children come from ``gui.nodes``: quick loaders run in ``fetchMore``; slow ones (opening a
document, opening one checkpoint of a training run, a SavedModel's variables) run in a worker
while a "loading…" row stands in for them, as in silx's Hdf5TreeModel.
"""
from __future__ import annotations

import os

from PySide6.QtCore import (QAbstractItemModel, QModelIndex, QPersistentModelIndex,
                            QRegularExpression, QSortFilterProxyModel, Qt, Signal)
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap

from . import nodes as N
from .workers import run_in_background

NODE_ROLE = Qt.UserRole + 1

COLUMNS = ("Name", "Kind", "dtype", "Shape", "Values", "Bytes")
COL_NAME, COL_KIND, COL_DTYPE, COL_SHAPE, COL_VALUES, COL_BYTES = range(6)

_KIND_COLOURS = {
    N.SAVED_MODEL: "#2e7d32", N.CHECKPOINT: "#1565c0", N.TRAINING_RUN: "#1565c0",
    N.GRAPH: "#6a1b9a", N.META_GRAPH: "#558b2f", N.SIGNATURE: "#ef6c00",
    N.INPUT: "#ffa726", N.OUTPUT: "#ffcc80", N.FUNCTION: "#8e24aa", N.CONCRETE: "#ab47bc",
    N.LIBRARY_FUNCTION: "#ce93d8", N.ARGUMENT: "#e1bee7", N.VARIABLE: "#1e88e5",
    N.SLOT: "#90caf9", N.CONSTANT: "#26a69a", N.OPTIMIZER: "#64b5f6", N.OTHER_TENSOR: "#b0bec5", N.ASSET: "#8d6e63",
    N.COLLECTION: "#78909c", N.SAVER: "#78909c", N.ERROR: "#d32f2f", N.LOADING: "#bdbdbd",
    N.INFO: "#bdbdbd",
}
_ERROR_BRUSH = QBrush(QColor("#c62828"))
_DIM_BRUSH = QBrush(QColor("#757575"))


def _icon(kind: str, cache: dict = {}) -> QIcon:  # noqa: B006 - deliberate module cache
    if kind in cache:
        return cache[kind]
    colour = QColor(_KIND_COLOURS.get(kind, "#9e9e9e"))
    pix = QPixmap(14, 14)
    pix.fill(Qt.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.Antialiasing)
    p.setBrush(colour)
    p.setPen(colour.darker(130))
    if kind == N.GROUP:
        p.setBrush(QColor("#ffca28"))
        p.setPen(QColor("#c79a00"))
        p.drawRoundedRect(1, 3, 12, 9, 2, 2)
    elif kind in N.DOCUMENT_KINDS or kind == N.META_GRAPH:
        p.drawRoundedRect(1, 1, 12, 12, 3, 3)
    elif kind == N.ERROR:
        p.drawEllipse(1, 1, 12, 12)
        p.setPen(QColor("white"))
        p.drawLine(7, 3, 7, 8)
        p.drawPoint(7, 10)
    else:
        p.drawEllipse(2, 2, 10, 10)
    p.end()
    cache[kind] = QIcon(pix)
    return cache[kind]


class TreeModel(QAbstractItemModel):
    """Documents -> groups -> items. ``add_document(path)`` opens a path in the background."""

    document_loaded = Signal(QModelIndex)   # index of the document's row, once opened
    children_loaded = Signal(QModelIndex)   # a slow node finished loading

    def __init__(self, parent=None):
        super().__init__(parent)
        self.root = N.Node(label="", kind=N.GROUP)
        self.root._children = []
        self._bold = QFont()
        self._bold.setBold(True)

    # ------------------------------------------------------------------ documents
    def add_document(self, path, label: str | None = None) -> QModelIndex:
        path = os.fspath(path)
        label = label or document_label(path)
        placeholder = N.Node(label=label, kind=N.LOADING, detail=path, origin=path)
        row = len(self.root.loaded_children())
        self.beginInsertRows(QModelIndex(), row, row)
        self.root.add(placeholder)
        self.endInsertRows()
        run_in_background(_open_document, path, label=f"Opening {label}",
                          on_result=lambda node, ph=placeholder: self._replace(ph, node))
        return self.index(row, 0)

    def add_node(self, node: N.Node) -> QModelIndex:
        """Add an already-built document node (tests, scripts)."""
        row = len(self.root.loaded_children())
        self.beginInsertRows(QModelIndex(), row, row)
        self.root.add(node)
        self.endInsertRows()
        return self.index(row, 0)

    def remove_document(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        node = self.root._children.pop(row)
        self.endRemoveRows()
        N.close_document(node)

    def close_all(self) -> None:
        """Close every document's files (the window is closing)."""
        for node in self.root.loaded_children():
            N.close_document(node)

    def documents(self) -> list[N.Node]:
        return list(self.root.loaded_children())

    def _replace(self, placeholder: N.Node, node: N.Node) -> None:
        kids = self.root.loaded_children()
        if placeholder not in kids:  # closed while it was opening
            return
        row = kids.index(placeholder)
        node.parent = self.root
        node.label = placeholder.label  # the name chosen when it was opened (a demo says so)
        node.origin = placeholder.detail
        node.detail = node.detail or placeholder.detail
        if node.kind == N.ERROR and placeholder.detail:
            node.info = [("path", placeholder.detail)] + node.info
        self.beginRemoveRows(QModelIndex(), row, row)
        del kids[row]
        self.endRemoveRows()
        self.beginInsertRows(QModelIndex(), row, row)
        kids.insert(row, node)
        self.endInsertRows()
        self.document_loaded.emit(self.index(row, 0))

    # ------------------------------------------------------------------ helpers
    def node(self, index: QModelIndex | QPersistentModelIndex) -> N.Node:
        if not index.isValid():
            return self.root
        return index.internalPointer()

    def index_of(self, node: N.Node, column: int = 0) -> QModelIndex:
        if node is self.root or node.parent is None:
            return QModelIndex()
        siblings = node.parent.loaded_children()
        try:
            return self.createIndex(siblings.index(node), column, node)
        except ValueError:
            return QModelIndex()

    def is_loading(self, node: N.Node) -> bool:
        return node.loading

    def fetch_all(self, parent: QModelIndex = QModelIndex(), limit: int = 100_000) -> int:
        """Load every quick loader under ``parent`` (the filter needs them); slow ones are
        left alone. Returns the number of nodes visited."""
        count = 0
        stack = [parent]
        while stack and count < limit:
            idx = stack.pop()
            node = self.node(idx)
            if node.loader is not None and not node.slow and self.canFetchMore(idx):
                self.fetchMore(idx)
            for row in range(self.rowCount(idx)):
                stack.append(self.index(row, 0, idx))
                count += 1
        return count

    # ------------------------------------------------------------------ Qt overrides
    def index(self, row: int, column: int, parent=QModelIndex()) -> QModelIndex:
        if row < 0 or column < 0 or column >= len(COLUMNS):
            return QModelIndex()
        kids = self.node(parent).loaded_children()
        if row >= len(kids):
            return QModelIndex()
        return self.createIndex(row, column, kids[row])

    def parent(self, index=QModelIndex()) -> QModelIndex:  # noqa: A003 - Qt's name
        if not index.isValid():
            return QModelIndex()
        node = index.internalPointer()
        parent = node.parent
        if parent is None or parent is self.root:
            return QModelIndex()
        grand = parent.parent
        if grand is None:
            return QModelIndex()
        # Nodes compare by identity, so list.index is a C-speed scan.
        return self.createIndex(grand.loaded_children().index(parent), 0, parent)

    def rowCount(self, parent=QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self.node(parent).loaded_children())

    def columnCount(self, parent=QModelIndex()) -> int:
        return len(COLUMNS)

    def hasChildren(self, parent=QModelIndex()) -> bool:
        if parent.isValid() and parent.column() != 0:
            return False
        node = self.node(parent)
        if node is self.root:
            return bool(node.loaded_children())
        return node.may_have_children()

    def canFetchMore(self, parent) -> bool:
        if parent.isValid() and parent.column() != 0:
            return False
        node = self.node(parent)
        return node.loader is not None and not self.is_loading(node)

    def fetchMore(self, parent) -> None:
        if not self.canFetchMore(parent):
            return
        node = self.node(parent)
        if node.slow:
            self._fetch_in_background(parent, node)
            return
        children = node.build_children()
        if children:
            self.beginInsertRows(parent, 0, len(children) - 1)
            node.set_children(children)
            self.endInsertRows()
        else:
            node.set_children([])
            # hasChildren changed from True to False: let views drop the expander.
            self.dataChanged.emit(parent, parent)

    def _fetch_in_background(self, parent, node: N.Node) -> None:
        node.loading = True
        placeholder = N.Node(label="loading…", kind=N.LOADING)
        self.beginInsertRows(parent, 0, 0)
        node._children = [placeholder]
        placeholder.parent = node
        self.endInsertRows()
        run_in_background(_build_children, node, label=f"Loading {node.label}",
                          on_result=lambda kids, n=node: self._children_ready(n, kids))

    def _children_ready(self, node: N.Node, children: list[N.Node]) -> None:
        parent = self.index_of(node)
        if node.parent is None or (node is not self.root and not parent.isValid()):
            node.loading = False
            return  # removed meanwhile
        # Still "loading" until the children are in: a view (or a model tester) asking
        # canFetchMore while the placeholder row is removed must not start a second load.
        self.beginRemoveRows(parent, 0, len(node.loaded_children()) - 1)
        node._children = []
        self.endRemoveRows()
        if children:
            self.beginInsertRows(parent, 0, len(children) - 1)
            node.set_children(children)
            self.endInsertRows()
        else:
            node.set_children([])
        node.loading = False
        last = self.index(parent.row(), len(COLUMNS) - 1, parent.parent())
        self.dataChanged.emit(parent, last)
        self.children_loaded.emit(parent)

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        node: N.Node = index.internalPointer()
        col = index.column()
        if role == Qt.DisplayRole:
            if col == COL_NAME:
                return node.label
            if col == COL_KIND:
                return node.kind
            if col == COL_DTYPE:
                return node.dtype
            if col == COL_SHAPE:
                return node.shape
            if col == COL_VALUES:
                return _values_text(node)
            if col == COL_BYTES:
                return _bytes_text(node)
            return None
        if role == Qt.ToolTipRole:
            return node.error or node.detail or None
        if role == Qt.DecorationRole and col == COL_NAME:
            return _icon(N.ERROR if node.error and node.kind != N.LOADING else node.kind)
        if role == Qt.ForegroundRole:
            if node.error or node.kind == N.ERROR:
                return _ERROR_BRUSH
            if node.kind in (N.LOADING, N.INFO) or col in (COL_KIND, COL_BYTES):
                return _DIM_BRUSH
        if role == Qt.FontRole and col == COL_NAME and node.parent is self.root:
            return self._bold
        if role == Qt.TextAlignmentRole and col in (COL_VALUES, COL_BYTES):
            return int(Qt.AlignRight | Qt.AlignVCenter)
        if role == NODE_ROLE:
            return node
        return None

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def flags(self, index):
        if not index.isValid():
            return Qt.NoItemFlags
        return Qt.ItemIsEnabled | Qt.ItemIsSelectable


def _values_text(node: N.Node) -> str:
    if node.params is None:
        return ""
    from tensorloupe.core.stats import format_params
    return format_params(node.params)


def _bytes_text(node: N.Node) -> str:
    if node.nbytes is None:
        return ""
    from tensorloupe.core.stats import format_bytes
    return format_bytes(node.nbytes)


def _open_document(ctx, path):
    return N.open_document(path)


def _build_children(ctx, node):
    return node.build_children()


def document_label(path: str) -> str:
    """What the tree calls a document: a SavedModel opened through its saved_model.pb is named
    after its folder, as `tensorloupe export/1` would name it."""
    path = os.path.normpath(path)
    name = os.path.basename(path) or path
    if name in ("saved_model.pb", "saved_model.pbtxt"):
        return os.path.basename(os.path.dirname(path)) or name
    return name


class FilterProxy(QSortFilterProxyModel):
    """Keeps rows whose name matches (substring, or a glob when the text has * ? or [),
    with their ancestors; everything under a match stays visible too. Besides the name, a
    row matches by its path in the tree (``dense/kernel``) and a tensor by its checkpoint key
    and readable name, as the tensor panel's header shows them."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setRecursiveFilteringEnabled(True)
        self.setFilterKeyColumn(COL_NAME)
        self.setFilterCaseSensitivity(Qt.CaseInsensitive)
        self.setAutoAcceptChildRows(True)

    def set_pattern(self, text: str) -> None:
        text = text.strip()
        if not text:
            rx = QRegularExpression()
        elif any(ch in text for ch in "*?["):
            rx = QRegularExpression(QRegularExpression.wildcardToRegularExpression(
                text, QRegularExpression.UnanchoredWildcardConversion))
        else:
            rx = QRegularExpression(QRegularExpression.escape(text))
        rx.setPatternOptions(QRegularExpression.CaseInsensitiveOption)
        self.setFilterRegularExpression(rx)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        rx = self.filterRegularExpression()
        if not rx.pattern():
            return True
        index = self.sourceModel().index(source_row, COL_NAME, source_parent)
        node = index.internalPointer()
        if node is None:
            return False
        return any(rx.match(text).hasMatch() for text in _searchable_texts(node))


def _searchable_texts(node: N.Node):
    yield node.label
    if isinstance(node.payload, N.TensorRef):
        yield node.payload.key
        yield node.payload.readable
    path = node.path()
    if len(path) > 1:
        yield "/".join(path[1:])    # below the document: serve/variables/dense/kernel
        yield "/".join(path)

