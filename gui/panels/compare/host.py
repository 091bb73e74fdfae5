"""Comparisons inside the main window (``CompareHost``): each one a closable tab beside the
browser, titled ``ckpt-1 vs ckpt-5`` or ``run (5 checkpoints)``, opened from File > Compare
Checkpoints…, from the tree's context menu (a checkpoint, the checkpoints picked together with
Ctrl/Shift+click, a training run) or from a training run's summary page.

The tabs wrap the whole right side of the window (the panel stack with its Details | Graph
bar): a comparison needs the width of the window, has a life of its own (its own selection,
slider and background work) and is closed when done, while the Details | Graph bar follows
the tree's selection and is hidden whenever the selected item has no graph. The bar of these
tabs hides itself while only the browser is open.

What the tree's items are (checkpoint prefixes, a run's directory, where a file dialog should
start) is read from the tree's nodes here; the window only offers the hooks (its tree menu
providers, ``compare``, and asking this host first for Ctrl+W, Find and tab switching).
"""
from __future__ import annotations

import os

from PySide6.QtWidgets import QAbstractItemView, QTabBar, QTabWidget, QVBoxLayout, QWidget

from tensorloupe.core import compare_view as V
from tensorloupe.core.checkpoint.bundle import CheckpointReader

from ... import nodes as N
from ...tree_model import NODE_ROLE
from ...workers import JobSlot
from .panel import ComparePanel

BROWSER_TITLE = "Browser"
# Below this width of the window's right side, a comparison narrows the tree (given back
# when the browser shows again).
COMPARE_WIDTH = 1100
MIN_TREE_WIDTH = 260


class CompareTab(QWidget):
    """One comparison in a tab: its panel and where "Open in A/B" leads."""

    def __init__(self, paths: list[str], parent=None):
        super().__init__(parent)
        self.paths = paths
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.panel = ComparePanel(self)
        layout.addWidget(self.panel)
        # Finding where "Open in A/B" leads in the browser's tree reads the checkpoint.
        self.open_job = JobSlot()


# ---------------------------------------------------------------- the tree's items


def checkpoint_prefix(node) -> str | None:
    """The prefix of a checkpoint item of the tree (opened or not yet); None for others."""
    if node is None or node.kind != N.CHECKPOINT:
        return None
    if isinstance(node.payload, CheckpointReader):
        return node.payload.prefix
    parent = node.parent
    if parent is not None and parent.kind == N.TRAINING_RUN and parent.payload:
        for item in parent.payload:
            if item.name == node.label:
                return item.prefix
    return node.origin or None


def run_directory(node) -> str | None:
    """The directory of a training run item; None for others."""
    if node is None or node.kind != N.TRAINING_RUN:
        return None
    # The tree names the run after the directory whose `checkpoint` file lists it.
    for candidate in (node.detail, node.origin):
        if candidate and os.path.isdir(candidate):
            return candidate
    return os.path.dirname(node.payload[0].prefix) if node.payload else None


def start_directory(node, documents=()) -> str:
    """Where a file dialog for comparing starts: the directory of the selected item's run or
    checkpoint, else of its document; without a selection, of the first open document; the
    home directory when nothing is open."""
    n = node
    while n is not None:
        found = run_directory(n)
        if found is None:
            prefix = checkpoint_prefix(n)
            found = os.path.dirname(prefix) if prefix else None
        if found is None and n.origin:
            found = n.origin if os.path.isdir(n.origin) else os.path.dirname(n.origin)
        if found and os.path.isdir(found):
            return os.path.abspath(found)
        n = n.parent
    for doc in documents:
        if doc is not node and doc.origin:
            return start_directory(doc)
    return os.path.expanduser("~")


def _in_tree_order(nodes: list) -> list:
    def position(node):
        path = []
        while node is not None and node.parent is not None:
            path.append(node.parent.loaded_children().index(node))
            node = node.parent
        return path[::-1]
    return sorted(nodes, key=position)


class CompareHost:
    """The window's comparison tabs (see the module's docstring)."""

    def __init__(self, window):
        self.window = window
        self.tabs: QTabWidget | None = None
        self._browser_sizes: list[int] | None = None  # the splitter before a comparison
    # -- hooks called by the window -----------------------------------------------------
    def wrap(self, browser: QWidget) -> QTabWidget:
        tabs = QTabWidget()
        tabs.setDocumentMode(True)
        tabs.setTabsClosable(True)
        tabs.setTabBarAutoHide(True)   # no bar while only the browser shows
        tabs.addTab(browser, BROWSER_TITLE)
        tabs.setTabToolTip(0, "The tree's selected item")
        # The browser stays: no close button on it (left or right, whichever the style uses).
        for side in (QTabBar.LeftSide, QTabBar.RightSide):
            tabs.tabBar().setTabButton(0, side, None)
        tabs.tabCloseRequested.connect(self.close_tab)
        tabs.currentChanged.connect(self._on_tab)
        self.tabs = tabs
        return tabs

    def install(self) -> None:
        w = self.window
        # Ctrl/Shift+click picks several checkpoints to compare; the panel follows the
        # current item as before.
        w.tree.setSelectionMode(QAbstractItemView.ExtendedSelection)
        w.add_tree_menu_provider(self.fill_tree_menu)

    def close_current(self) -> bool:
        """Ctrl+W: close the comparison that shows; False when the browser shows."""
        index = self.tabs.currentIndex()
        if index <= 0:
            return False
        self.close_tab(index)
        return True

    def search_box(self):
        """Find (Ctrl+F) in a comparison goes to its filter; None while the browser shows."""
        panel = self.current_panel()
        return panel.filter_edit if panel is not None else None

    def switch_bar(self) -> QTabBar | None:
        """The tab bar Ctrl+Tab / Ctrl+PgDown move along while a comparison shows."""
        return self.tabs.tabBar() if self.tabs.currentIndex() > 0 else None

    # -- the tabs -----------------------------------------------------------------------
    def comparison_tabs(self) -> list[CompareTab]:
        return [self.tabs.widget(i) for i in range(1, self.tabs.count())]

    def current_panel(self) -> ComparePanel | None:
        widget = self.tabs.currentWidget()
        return widget.panel if isinstance(widget, CompareTab) else None

    def show_browser(self) -> None:
        self.tabs.setCurrentIndex(0)

    def open(self, paths, title: str | None = None, count: int | None = None) -> ComparePanel:
        """Compare ``paths`` in a new tab (two: a pair; one directory or more: a series)."""
        paths = [os.path.abspath(os.fspath(p)) for p in paths]
        if count is None and len(paths) == 1:
            count = _run_length(paths[0])
        tab = CompareTab(paths)
        w = self.window
        tab.panel.open_tensor.connect(
            lambda prefix, key, t=tab: self._open_tensor(t, prefix, key))
        index = self.tabs.addTab(tab, title or V.tab_title(paths, count))
        self.tabs.setTabToolTip(index, "\n".join(paths) + "\nCtrl+W closes it")
        self.tabs.setCurrentIndex(index)
        from .window import start
        start(tab.panel, paths)
        tab.panel.table.setFocus()
        w.statusBar().showMessage(f"Comparing {self.tabs.tabText(index)}", 3000)
        return tab.panel

    def close_tab(self, index: int) -> None:
        if index <= 0 or index >= self.tabs.count():
            return
        tab = self.tabs.widget(index)
        tab.panel.cancel()
        tab.open_job.cancel()
        self.tabs.removeTab(index)
        tab.deleteLater()

    def _on_tab(self, index: int) -> None:
        splitter = self.window.splitter
        if index <= 0:
            if self._browser_sizes is not None:
                splitter.setSizes(self._browser_sizes)
                self._browser_sizes = None
            return
        # A comparison wants width: narrow the tree while it shows, if the right side is small.
        sizes = splitter.sizes()
        total = sum(sizes)
        if len(sizes) == 2 and total and sizes[1] < COMPARE_WIDTH:
            left = max(MIN_TREE_WIDTH, total - COMPARE_WIDTH)
            if left < sizes[0]:
                if self._browser_sizes is None:
                    self._browser_sizes = sizes
                splitter.setSizes([left, total - left])

    def _open_tensor(self, tab: CompareTab, prefix: str, key: str) -> None:
        from .window import open_in_window
        self.show_browser()
        open_in_window(self.window, prefix, key, tab.open_job)

    # -- the tree's context menu ----------------------------------------------------------
    def selected_checkpoints(self) -> list[str]:
        """Prefixes of the checkpoints picked in the tree, in tree order."""
        w = self.window
        nodes = [i.data(NODE_ROLE) for i in w.tree.selectionModel().selectedRows()]
        picked = [n for n in nodes if checkpoint_prefix(n)]
        return [checkpoint_prefix(n) for n in _in_tree_order(picked)]

    def fill_tree_menu(self, menu, node) -> None:
        prefix = checkpoint_prefix(node)
        directory = run_directory(node)
        if prefix is None and directory is None:
            return
        menu.addSeparator()
        if directory is not None:
            count = len(node.payload) if node.payload else None
            action = menu.addAction(f"Compare the {count} checkpoints of this run" if count
                                    else "Compare the checkpoints of this run")
            action.triggered.connect(lambda: self.open([directory], count=count))
            return
        picked = self.selected_checkpoints()
        if len(picked) >= 2 and prefix in picked:
            names = [V.checkpoint_name(p) for p in picked]
            text = f"Compare {names[0]} with {names[1]}" if len(picked) == 2 else \
                f"Compare the {len(picked)} selected checkpoints"
            action = menu.addAction(text)
            action.triggered.connect(lambda: self.open(picked))
        previous = _previous_in_run(node)
        if previous is not None:
            action = menu.addAction(f"Compare with the previous checkpoint ({previous[0]})")
            action.triggered.connect(lambda: self.open([previous[1], prefix]))
        action = menu.addAction("Compare with…")
        action.triggered.connect(lambda: self.ask_other(prefix))

    def ask_other(self, prefix: str) -> ComparePanel | None:
        """Compare ``prefix`` with a checkpoint chosen in a file dialog (starting beside it)."""
        from .window import choose_checkpoint
        other = choose_checkpoint(self.window, f"Compare {V.checkpoint_name(prefix)} with",
                                  os.path.dirname(prefix))
        return self.open([prefix, other]) if other else None


def _previous_in_run(node) -> tuple[str, str] | None:
    """(name, prefix) of the checkpoint before ``node`` in its training run."""
    parent = node.parent
    if parent is None or parent.kind != N.TRAINING_RUN or not parent.payload:
        return None
    names = [item.name for item in parent.payload]
    if node.label not in names:
        return None
    i = names.index(node.label)
    return (names[i - 1], parent.payload[i - 1].prefix) if i > 0 else None


def _run_length(path: str) -> int | None:
    """How many checkpoints a training directory lists (None for anything else)."""
    if not os.path.isdir(path):
        return None
    from tensorloupe.core.compare import run_checkpoints
    from tensorloupe.core.errors import TensorloupeError
    try:
        return len(run_checkpoints(path))
    except TensorloupeError:
        return None
