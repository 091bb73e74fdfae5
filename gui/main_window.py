"""The browser window: documents in a tree on the left, the selected item's panel on the right."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QModelIndex, QPersistentModelIndex, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QDialogButtonBox,
                               QFileDialog, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QMainWindow, QMenu, QMessageBox, QProgressBar, QPushButton,
                               QSplitter, QStackedWidget, QTableWidget, QTableWidgetItem,
                               QTreeView, QVBoxLayout, QWidget)

from tensorloupe.core.errors import InputError

from . import nodes as N
from .panels import registry
from .panels.base import Panel
from .panels.compare.host import CompareHost
from .panels.graph import GraphHost
from .panels.summary import SummaryPanel
from .panels.tensor import TensorPanel
from .tree_model import COL_NAME, NODE_ROLE, FilterProxy, TreeModel
from .workers import tracker, wait_idle

MAX_RECENT = 10
WELCOME = ("<h2>Tensorloupe</h2><p>Open a SavedModel folder or a checkpoint with "
           "<b>File › Open</b> (Ctrl+O), or drop it on this window.</p>"
           "<p style='color:#666'>Everything is read without TensorFlow; nothing you open is "
           "modified.</p>")


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None):
        super().__init__()
        self.setWindowTitle("Tensorloupe")
        self.setAcceptDrops(True)
        self.settings = settings
        self.model = TreeModel(self)
        self.proxy = FilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._panels: dict[type, Panel] = {}
        self._menus: dict[str, QMenu] = {}
        self._tree_menu_providers: list = []  # see add_tree_menu_provider
        self._view_choice: dict[str, str] = {}  # node kind -> name of the panel the user chose
        self._select_when_loaded: str | None = None  # path whose document gets the selection
        self._remembered_pending: set[str] = set()  # in Open Recent until they fail to open
        self._last_selected = QPersistentModelIndex()  # source index; a filter may hide it
        self._filtering = False   # the filter is moving the current row, not the person
        self.graph_host = GraphHost(self)
        self.compare_host = CompareHost(self)  # comparisons as tabs beside the browser
        self._build()
        self.graph_host.install()
        self.compare_host.install()
        self.model.document_loaded.connect(self._on_document_loaded)
        self.model.children_loaded.connect(self._on_children_loaded)
        tracker.changed.connect(self._update_status)
        self._status_timer = QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.setInterval(300)  # show the bar only for work that is not instant
        self._status_timer.timeout.connect(self._show_busy)
        self._restore_state()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter names (text or glob: *kernel*)  Ctrl+F")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.set_filter)
        clear = QShortcut(QKeySequence(Qt.Key_Escape), self.filter, activated=self.filter.clear)
        clear.setContext(Qt.WidgetShortcut)
        self.no_matches = QLabel("No matches")
        self.no_matches.setStyleSheet("color: #8a1f11; padding: 2px 4px;")
        self.no_matches.hide()
        self.tree = QTreeView()
        self.tree.setModel(self.proxy)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SingleSelection)
        self.tree.setExpandsOnDoubleClick(True)
        self.tree.setAllColumnsShowFocus(True)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(COL_NAME, QHeaderView.Interactive)
        header.resizeSection(COL_NAME, 250)
        for col, width in ((1, 90), (2, 70), (3, 95), (4, 60), (5, 70)):
            header.resizeSection(col, width)
        self.tree.selectionModel().currentChanged.connect(self._on_current_changed)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(4, 4, 0, 4)
        left_layout.addWidget(self.filter)
        left_layout.addWidget(self.no_matches)
        left_layout.addWidget(self.tree, 1)

        self.panels = QStackedWidget()
        self.welcome = QLabel(WELCOME)
        self.welcome.setAlignment(Qt.AlignCenter)
        self.welcome.setWordWrap(True)
        self.panels.addWidget(self.welcome)
        # Every panel that can show the selected item, best first; the user's pick is kept per
        # kind of item (a signature shown as "Signature" rather than "Run", say).
        self.view_selector = QComboBox()
        self.view_selector.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.view_selector.setToolTip("Other views of the selected item (Alt+V)")
        self.view_selector.activated.connect(self._on_view_chosen)
        view_label = QLabel("&View as:")
        view_label.setBuddy(self.view_selector)
        # In the menu bar's corner: always in sight, and no height taken from the panels.
        self.view_bar = QWidget()
        bar_layout = QHBoxLayout(self.view_bar)
        bar_layout.setContentsMargins(6, 0, 6, 0)
        bar_layout.addWidget(view_label)
        bar_layout.addWidget(self.view_selector)
        self.view_bar.hide()

        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.compare_host.wrap(self.graph_host.wrap(self.panels)))
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([660, 740])
        self.setCentralWidget(self.splitter)

        # Status bar: a progress bar and Cancel for whatever runs in the background.
        self.status_label = QLabel()
        self.status_progress = QProgressBar()
        self.status_progress.setRange(0, 1000)
        self.status_progress.setMaximumWidth(220)
        self.status_cancel = QPushButton("Cancel")
        self.status_cancel.clicked.connect(tracker.cancel_all)
        busy = QWidget()
        busy_layout = QHBoxLayout(busy)
        busy_layout.setContentsMargins(0, 0, 0, 0)
        busy_layout.addWidget(self.status_label)
        busy_layout.addWidget(self.status_progress)
        busy_layout.addWidget(self.status_cancel)
        self.busy_widget = busy
        busy.hide()
        self.statusBar().addPermanentWidget(busy)
        self.hint = QLabel("Ctrl+O opens a model or checkpoint · Ctrl+F finds · F1 lists the "
                           "shortcuts")
        self.hint.setStyleSheet("color: #666;")
        self.statusBar().addWidget(self.hint)

        self._build_menus()
        self.menuBar().setCornerWidget(self.view_bar, Qt.TopRightCorner)

    def _add_menu(self, key: str, title: str) -> QMenu:
        menu = self.menuBar().addMenu(title)
        self._menus[key] = menu
        return menu

    def menu(self, key: str) -> QMenu:
        """A menu of the menu bar by its key: "file", "edit", "view" or "help"."""
        return self._menus[key]

    def _build_menus(self) -> None:
        file_menu = self._add_menu("file", "&File")
        open_file = QAction("&Open File…", self, shortcut=QKeySequence.Open,
                            triggered=self.ask_open_file)
        open_dir = QAction("Open &Folder…", self, shortcut=QKeySequence("Ctrl+Shift+O"),
                           triggered=self.ask_open_folder)
        file_menu.addAction(open_file)
        file_menu.addAction(open_dir)
        from .panels.compare import ask_compare
        file_menu.addAction(QAction("Co&mpare Checkpoints…", self, shortcut=QKeySequence("Ctrl+D"),
                                    triggered=lambda: ask_compare(self)))
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        close = QAction("&Close Document", self, triggered=self.close_current_document)
        # Ctrl+W on every platform (some have only Ctrl+F4 as their Close); with a comparison
        # tab showing it closes that tab.
        close_keys = QKeySequence.keyBindings(QKeySequence.Close)
        if QKeySequence("Ctrl+W") not in close_keys:
            close_keys.append(QKeySequence("Ctrl+W"))
        close.setShortcuts(close_keys)
        file_menu.addAction(close)
        file_menu.addSeparator()
        file_menu.addAction(QAction("&Quit", self, shortcut=QKeySequence.Quit,
                                    triggered=self.close))
        edit_menu = self._add_menu("edit", "&Edit")
        # Every shortcut belongs to one window-wide action, so it works wherever the focus is;
        # the action then asks the view that shows what it means there.
        edit_menu.addAction(self._action("&Find…", QKeySequence.Find, self.focus_search,
                                         "Find in the view that shows: the graph's or the trace's "
                                         "search box, otherwise the tree's filter"))
        edit_menu.addAction(self._action("Filter the &Tree", "Ctrl+Shift+F", self.focus_filter))
        edit_menu.addAction(self._action("Copy &Name", "Ctrl+Shift+C", self.copy_current_name))
        view_menu = self._add_menu("view", "&View")
        view_menu.addAction(self._action("&Expand All", None, self._expand_all))
        view_menu.addAction(self._action("&Collapse All", None, self.tree.collapseAll))
        view_menu.addSeparator()
        view_menu.addAction(self._action("Ne&xt Tab", ["Ctrl+PgDown", "Ctrl+Tab"],
                                         lambda: self.switch_tab(+1)))
        view_menu.addAction(self._action("Pre&vious Tab", ["Ctrl+PgUp", "Ctrl+Shift+Tab"],
                                         lambda: self.switch_tab(-1)))
        view_menu.addAction(self._action("Focus the T&ree", "Alt+1", self.tree.setFocus))
        run_menu = self._add_menu("run", "&Run")
        self.run_action = self._action("&Run Signature", "Ctrl+R", self.run_current,
                                       "Run the selected signature with the inputs of its "
                                       "Run tab")
        run_menu.addAction(self.run_action)
        help_menu = self._add_menu("help", "&Help")
        help_menu.addAction(self._action("&Keyboard Shortcuts", QKeySequence.HelpContents,
                                         self.show_shortcuts))
        help_menu.addAction(self._action("&About Tensorloupe", None, self._about))

    def _action(self, text: str, keys, slot, tip: str = "") -> QAction:
        """A window-wide action: its shortcut works whatever has the focus."""
        action = QAction(text, self)
        if keys is not None:
            seqs = [QKeySequence(k) for k in (keys if isinstance(keys, list) else [keys])]
            action.setShortcuts(seqs)
            action.setShortcutContext(Qt.WindowShortcut)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def shortcut_rows(self) -> list[tuple[str, str, str]]:
        """(menu, action, keys) for every action with a shortcut, in menu order."""
        rows = []
        seen = set()
        for key, menu in self._menus.items():
            for action in menu.actions():
                keys = ", ".join(s.toString(QKeySequence.NativeText) for s in action.shortcuts())
                if keys and action not in seen:
                    seen.add(action)
                    rows.append((menu.title().replace("&", ""), action.text().replace("&", ""),
                                 keys))
        extra = [("Graph", "Find next match", "F3"), ("Graph", "Fit the graph", "F"),
                 ("Tree", "Open / close an item", "Right / Left"),
                 ("Filter", "Clear the filter", "Esc"), ("View selector", "Choose a view",
                                                         "Alt+V")]
        return rows + extra

    def show_shortcuts(self) -> QDialog:
        """Help > Keyboard Shortcuts: every shortcut of the window, and the version."""
        import tensorloupe
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard Shortcuts")
        table = QTableWidget(0, 3, dialog)
        table.setHorizontalHeaderLabels(["Where", "What", "Keys"])
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        for row, values in enumerate(self.shortcut_rows()):
            table.insertRow(row)
            for col, text in enumerate(values):
                table.setItem(row, col, QTableWidgetItem(text))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(dialog)
        layout.addWidget(QLabel(f"Tensorloupe {tensorloupe.__version__}"))
        layout.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.Close, parent=dialog)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        dialog.resize(560, 520)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.show()
        self.shortcuts_dialog = dialog
        return dialog

    def search_box(self) -> QLineEdit:
        """The search box Find goes to: the one of the view that shows, else the tree's filter."""
        box = self.compare_host.search_box()
        if box is not None:
            return box
        if self.graph_host.outer.currentIndex() == 1:
            box = self.graph_host.side_tab.search_box()
        else:
            panel = self.current_panel()
            if isinstance(panel, Panel):
                box = panel.search_box()
        return box if box is not None else self.filter

    def focus_search(self) -> None:
        box = self.search_box()
        box.setFocus(Qt.ShortcutFocusReason)
        box.selectAll()

    def switch_tab(self, step: int) -> None:
        """Ctrl+PgDown / Ctrl+PgUp: the next or previous tab of what shows on the right."""
        bar = self.compare_host.switch_bar()
        panel = self.current_panel()
        tabs = panel.tab_host() if isinstance(panel, Panel) else None
        if bar is None and tabs is not None and tabs.isVisible():
            bar = tabs.tabBar()
        if bar is None and self.graph_host.outer.tabBar().isVisible():
            bar = self.graph_host.outer.tabBar()
        if bar is None or bar.count() < 2:
            bar = self.compare_host.tabs.tabBar()  # from the browser to the comparisons
        if bar is None or bar.count() < 2:
            return
        bar.setCurrentIndex((bar.currentIndex() + step) % bar.count())

    def run_current(self) -> None:
        """Ctrl+R: run the selected signature, wherever the focus is."""
        from .panels.run import RunPanel
        panel = self.current_panel()
        if not isinstance(panel, RunPanel):
            self.statusBar().showMessage("Select a signature of a SavedModel to run it.", 4000)
            return
        panel.show_run_tab()
        panel.run()

    # ------------------------------------------------------------------ documents
    def open_paths(self, paths) -> None:
        """Open several paths; the first gets the selection once it has loaded."""
        for i, p in enumerate(paths):
            self.open_path(p, select=(i == 0))

    def open_demo(self, paths) -> None:
        """The demo documents, labelled as such and kept out of Open Recent."""
        for i, p in enumerate(paths):
            self.open_path(p, select=(i == 0), label=f"{Path(p).name} (demo)", remember=False)

    def open_path(self, path, *, select: bool = True, label: str | None = None,
                  remember: bool = True) -> QModelIndex:
        """Open ``path`` in the background. Once loaded it is selected and scrolled to (with
        ``select``), and enters Open Recent if it opened (with ``remember``)."""
        path = os.path.abspath(os.fspath(path))
        if select:
            self._select_when_loaded = path
        if remember:
            # Listed in the order they were opened; dropped again if the path fails to open.
            self._remember_recent(path)
            self._remembered_pending.add(path)
        return self.model.add_document(path, label=label)

    def ask_open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a SavedModel or checkpoint file", self._last_dir(),
            "TensorFlow files (saved_model.pb saved_model.pbtxt *.index *.meta *.pb *.pbtxt "
            "checkpoint *.data-*);;All files (*)")
        if path:
            self.open_path(path)

    def ask_open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Open a SavedModel folder or training directory", self._last_dir())
        if path:
            self.open_path(path)

    def close_current_document(self) -> None:
        if self.compare_host.close_current():  # Ctrl+W on a comparison closes its tab
            return
        index = self.current_source_index()
        if not index.isValid():
            return
        while index.parent().isValid():
            index = index.parent()
        self.model.remove_document(index.row())

    def _on_document_loaded(self, index: QModelIndex) -> None:
        node = self.model.node(index)
        path = node.origin
        if node.kind == N.ERROR and path in self._remembered_pending:
            self._forget_recent(path)
        self._remembered_pending.discard(path)
        wanted = path == self._select_when_loaded
        if wanted:
            self._select_when_loaded = None
            if self.filter.text() and not self.proxy.mapFromSource(index).isValid():
                # The filter would hide what was just opened: show it rather than nothing.
                self.filter.clear()
                self.statusBar().showMessage("Filter cleared to show the document just opened.",
                                             4000)
        proxy_index = self.proxy.mapFromSource(index)
        self.tree.expand(proxy_index)
        if node.kind == N.SAVED_MODEL:
            self._reveal_serving_signature(node)
        current = self.tree.currentIndex()
        if wanted or not current.isValid():
            self.tree.setCurrentIndex(proxy_index)
            self.tree.scrollTo(proxy_index, QAbstractItemView.PositionAtTop)
        self.fit_columns()
        if self.filter.text():
            self.set_filter(self.filter.text())

    def _reveal_serving_signature(self, doc: N.Node) -> None:
        """Open the first MetaGraphDef down to its main signature's inputs and outputs: what
        someone shipping a model checks first."""
        kids = doc.loaded_children()
        if not kids or kids[0].kind != N.META_GRAPH:
            return
        chain = [kids[0]]
        sigs = kids[0].find_child("signatures")
        if sigs is not None and sigs.children():
            chain.append(sigs)
            main = sigs.find_child("serving_default") or next(
                (c for c in sigs.children() if not c.label.startswith("__")), None)
            if main is not None:
                chain.append(main)
                chain.extend(main.children())
        for node in chain:
            index = self.model.index_of(node)
            if self.model.canFetchMore(index):
                self.model.fetchMore(index)
            self.tree.expand(self.proxy.mapFromSource(index))

    def fit_columns(self) -> None:
        """Size the columns to what is shown, the name column within reason."""
        for col in range(1, self.model.columnCount()):
            self.tree.resizeColumnToContents(col)
        self.tree.resizeColumnToContents(COL_NAME)
        header = self.tree.header()
        header.resizeSection(COL_NAME, max(180, min(header.sectionSize(COL_NAME) + 12, 270)))

    # ------------------------------------------------------------------ selection & panels
    def current_source_index(self) -> QModelIndex:
        return self.proxy.mapToSource(self.tree.currentIndex())

    def current_node(self) -> N.Node | None:
        idx = self.tree.currentIndex()
        return idx.data(NODE_ROLE) if idx.isValid() else None

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self.graph_host.syncing:  # the graph chose this item: stay on the graph
            return
        node = current.data(NODE_ROLE) if current.isValid() else None
        if node is None:
            self._show_welcome()
            return
        source = self.proxy.mapToSource(current)
        if not self._filtering:
            self._last_selected = QPersistentModelIndex(source)
        if self.model.canFetchMore(source):
            # Group summaries list the children: load them (slow loaders go to a worker and
            # the panel is refreshed by _on_children_loaded).
            self.model.fetchMore(source)
        self.show_panel_for(node)

    def _on_children_loaded(self, index: QModelIndex) -> None:
        node = self.model.node(index)
        if node is self.current_node():
            self.show_panel_for(node)

    def views_for(self, node: N.Node) -> list[type[Panel]]:
        """The panel classes that can show ``node``, best first."""
        return registry.fitting(node)

    def panel_for(self, node: N.Node) -> Panel:
        """The panel that shows ``node``: the user's pick for this kind of item if it fits,
        otherwise the best fitting one."""
        views = self.views_for(node) or [registry.panel_classes()[-1]]
        chosen = self._view_choice.get(node.kind)
        cls = next((c for c in views if c.name == chosen), views[0])
        return self._panel_instance(cls)

    def _panel_instance(self, cls: type[Panel]) -> Panel:
        panel = self._panels.get(cls)
        if panel is None:
            panel = cls()
            self._panels[cls] = panel
            self.panels.addWidget(panel)
            if isinstance(panel, SummaryPanel):
                panel.verified.connect(self._mark_problems)
                panel.compare_requested.connect(self.compare)
            if isinstance(panel, TensorPanel):
                panel.damaged.connect(self._mark_problems)
            self.graph_host.panel_created(panel)
        return panel

    def show_panel_for(self, node: N.Node) -> Panel:
        panel = self.panel_for(node)
        if node.kind == N.LOADING:
            self._show_welcome()
            return panel
        self._fill_view_selector(node, type(panel))
        panel.show_node(node)
        self.panels.setCurrentWidget(panel)
        self.graph_host.node_shown(node, panel)
        return panel

    def _show_welcome(self) -> None:
        self.view_bar.hide()
        self.panels.setCurrentWidget(self.welcome)
        self.graph_host.node_shown(None, None)

    def _fill_view_selector(self, node: N.Node, shown: type[Panel]) -> None:
        views = self.views_for(node)
        self.view_selector.blockSignals(True)
        self.view_selector.clear()
        for cls in views:
            self.view_selector.addItem(cls.name.capitalize(), cls.name)
        self.view_selector.setCurrentIndex(max(0, self.view_selector.findData(shown.name)))
        self.view_selector.blockSignals(False)
        self.view_bar.setVisible(len(views) > 1)

    def _on_view_chosen(self, row: int) -> None:
        node = self.current_node()
        name = self.view_selector.itemData(row)
        if node is None or name is None:
            return
        self._view_choice[node.kind] = name
        if self.settings is not None:
            self.settings.setValue(f"views/{node.kind}", name)
        self.show_panel_for(node)

    def choose_view(self, name: str) -> Panel:
        """Show the selected item with the panel called ``name`` (as picking it in the selector
        does); remembered for items of the same kind."""
        row = self.view_selector.findData(name)
        if row < 0:
            raise InputError(f"no view {name!r} for the selected item")
        self.view_selector.setCurrentIndex(row)
        self._on_view_chosen(row)
        return self.current_panel()

    # ------------------------------------------------------------------ extension hooks
    def add_tree_menu_provider(self, provider) -> None:
        """Add entries to the tree's context menu: ``provider(menu, node)`` is called with the
        QMenu being built and the item under the cursor, after the built-in entries."""
        self._tree_menu_providers.append(provider)

    def fill_tree_menu(self, menu: QMenu, node) -> None:
        """Let every provider add its entries (called by whoever builds the tree's menu)."""
        for provider in self._tree_menu_providers:
            provider(menu, node)

    def compare(self, paths) -> None:
        """Compare checkpoints in a tab: two paths a pair, a directory or more a series."""
        self.compare_host.open(paths)

    def current_panel(self):
        return self.panels.currentWidget()

    def _mark_problems(self, problems, node=None) -> None:
        """Colour the tensors whose checksums failed, so the tree shows the damage too: those
        below ``node`` (the selected item by default), or ``node`` itself."""
        node = node if node is not None else self.current_node()
        if node is None or not problems:
            return
        bad = {p.key: p.message for p in problems}
        stack = [node]
        while stack:
            n = stack.pop()
            stack.extend(n.loaded_children())
            if isinstance(n.payload, N.TensorRef) and n.payload.key in bad:
                n.error = bad[n.payload.key]
                idx = self.model.index_of(n)
                self.model.dataChanged.emit(idx, idx.siblingAtColumn(5))
                # Open the groups above it, so the red items are in sight.
                parent = self.proxy.mapFromSource(idx).parent()
                while parent.isValid():
                    self.tree.expand(parent)
                    parent = parent.parent()
        self.fit_columns()

    # ------------------------------------------------------------------ select by path
    def select_path(self, labels: list[str], timeout: float = 60.0) -> N.Node:
        """Select the item reached by ``labels`` below a document root, loading as needed.

        With several documents, a first label naming a document chooses it. Raises InputError
        listing the labels available where the path fails."""
        wait_idle(timeout)
        docs = self.model.documents()
        if not docs:
            raise InputError("nothing is open to select from")
        node = docs[0]
        labels = [s for s in labels if s.strip()]
        if len(docs) > 1 and labels:
            for d in docs:
                if N.normalize_label(d.label) == N.normalize_label(labels[0]):
                    node, labels = d, labels[1:]
                    break
        for depth, label in enumerate(labels):
            self._load_children(node, timeout)
            child = node.find_child(label)
            if child is None:
                where = " > ".join([node.label] if depth == 0 else node.path())
                available = ", ".join(repr(c.label) for c in node.loaded_children()) or "none"
                raise InputError(f"no item {label!r} under {where!r}; available: {available}")
            node = child
        index = self.model.index_of(node)
        proxy_index = self.proxy.mapFromSource(index)
        parent = proxy_index.parent()
        while parent.isValid():
            self.tree.expand(parent)
            parent = parent.parent()
        self.tree.setCurrentIndex(proxy_index)
        if node.may_have_children():
            # Show what is inside the selected item too (a group's items, a variable's slots).
            self._load_children(node, timeout)
            self.tree.expand(self.proxy.mapFromSource(self.model.index_of(node)))
        self.fit_columns()
        self.tree.scrollTo(proxy_index, QAbstractItemView.PositionAtCenter)
        return node

    def _load_children(self, node: N.Node, timeout: float) -> None:
        index = self.model.index_of(node)
        if self.model.canFetchMore(index):
            self.model.fetchMore(index)
        if node.slow or self.model.is_loading(node):
            wait_idle(timeout)

    # ------------------------------------------------------------------ filter
    def focus_filter(self) -> None:
        self.filter.setFocus()
        self.filter.selectAll()

    def set_filter(self, text: str) -> None:
        # The person's last choice, even if a filter hid it meanwhile.
        current = QModelIndex(self._last_selected) if self._last_selected.isValid() \
            else self.current_source_index()
        if text.strip():
            self.model.fetch_all()
        self._filtering = True
        try:
            self.proxy.set_pattern(text)
            if text.strip():
                self.tree.expandAll()
        finally:
            self._filtering = False
        self.no_matches.setVisible(bool(text.strip()) and self.proxy.rowCount() == 0)
        # The item that was selected stays selected and in sight when it still shows (after
        # clearing the filter, always), with the groups above it open.
        proxy_index = self.proxy.mapFromSource(current) if current.isValid() else QModelIndex()
        if proxy_index.isValid():
            parent = proxy_index.parent()
            while parent.isValid():
                self.tree.expand(parent)
                parent = parent.parent()
            if self.tree.currentIndex() != proxy_index:
                self.tree.setCurrentIndex(proxy_index)
            self.tree.scrollTo(proxy_index, QAbstractItemView.PositionAtCenter)

    def _expand_all(self) -> None:
        self.model.fetch_all()
        self.tree.expandAll()

    def copy_current_name(self) -> None:
        node = self.current_node()
        if node is None:
            return
        text = node.payload.key if isinstance(node.payload, N.TensorRef) else node.label
        QGuiApplication.clipboard().setText(text)

    # ------------------------------------------------------------------ status bar
    def _update_status(self) -> None:
        running = tracker.running()
        if not running:
            self._status_timer.stop()
            self.busy_widget.hide()
            return
        if not self.busy_widget.isVisible() and not self._status_timer.isActive():
            self._status_timer.start()
        if self.busy_widget.isVisible():
            self._show_busy()

    def _show_busy(self) -> None:
        running = tracker.running()
        if not running:
            return
        w = running[0]
        done, total = w.last_progress
        more = f" (+{len(running) - 1} more)" if len(running) > 1 else ""
        self.status_label.setText(f"{w.label}{more}")
        if total:
            self.status_progress.setRange(0, 1000)
            self.status_progress.setValue(int(1000 * done / total))
        else:
            self.status_progress.setRange(0, 0)  # busy indicator
        self.busy_widget.show()

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_path(url.toLocalFile())
        event.acceptProposedAction()

    # ------------------------------------------------------------------ settings
    def _recent(self) -> list[str]:
        if self.settings is None:
            return []
        value = self.settings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [v for v in (value or []) if isinstance(v, str)]

    def _remember_recent(self, path: str) -> None:
        if self.settings is None:
            return
        recent = [p for p in self._recent() if p != path]
        recent.insert(0, path)
        self.settings.setValue("recent", recent[:MAX_RECENT])

    def _forget_recent(self, path: str) -> None:
        if self.settings is not None:
            self.settings.setValue("recent", [p for p in self._recent() if p != path])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self._recent()
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)
        for path in recent:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))

    def _last_dir(self) -> str:
        recent = self._recent()
        return str(Path(recent[0]).parent) if recent else str(Path.home())

    def open_documents(self) -> list[str]:
        return [n.origin or n.detail for n in self.model.documents() if n.origin or n.detail]

    def _restore_state(self) -> None:
        if self.settings is None:
            return
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = self.settings.value("windowState")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        sizes = self.settings.value("splitter")
        if isinstance(sizes, QByteArray):
            self.splitter.restoreState(sizes)
        self.settings.beginGroup("views")
        try:
            for kind in self.settings.childKeys():
                name = self.settings.value(kind)
                if isinstance(name, str):
                    self._view_choice[kind] = name
        finally:
            self.settings.endGroup()

    def save_state(self) -> None:
        if self.settings is None:
            return
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("windowState", self.saveState())
        self.settings.setValue("splitter", self.splitter.saveState())
        self.settings.setValue("openDocuments", self.open_documents())

    def last_open_documents(self) -> list[str]:
        if self.settings is None:
            return []
        value = self.settings.value("openDocuments", [])
        if isinstance(value, str):
            value = [value]
        return [v for v in (value or []) if isinstance(v, str) and os.path.exists(v)]

    def closeEvent(self, event) -> None:
        self.save_state()
        tracker.cancel_all()
        wait_idle(timeout=5, settle=0.0)
        self.model.close_all()
        super().closeEvent(event)

    def _about(self) -> None:
        import tensorloupe
        QMessageBox.about(self, "About Tensorloupe",
                          f"Tensorloupe {tensorloupe.__version__}\n\nLooks inside TensorFlow "
                          "SavedModels and checkpoints without TensorFlow.")
