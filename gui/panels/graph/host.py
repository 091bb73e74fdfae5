"""The window's side of the graph view (``GraphHost``): a Graph tab in the panels that ask for
one (``Panel.wants_graph_tab``), a Graph tab beside the other panels for MetaGraphDefs, graphs
and library functions, Ctrl+G, "Show in graph" on tree items, selection going both ways
between the tree and the graph, and colouring by the last run's trace (``Panel.result_ready``).

``select_for_graph`` is ``tensorloupe gui PATH --graph``: select an item and show its graph.
"""
from __future__ import annotations

import re

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from tensorloupe.core import graph as G
from tensorloupe.core.errors import InputError

from ... import nodes as N
from ...tree_model import NODE_ROLE
from ...workers import wait_idle
from ..base import Panel
from .panel import GraphPanel
from .source import graph_source
from .tab import GraphTab, SideTabs


def _strip_copy_suffix(name: str) -> str:
    """``dense/kernel_1`` -> ``dense/kernel`` (Keras 3 uniquifies graph variable names)."""
    return re.sub(r"_\d+$", "", name)


class GraphHost:
    """The main window's side of the graph view: the Graph tab of panels that want one, a
    graph tab beside the other panels for MetaGraphDefs, graphs and library functions,
    Ctrl+G, "Show in graph" on tree items, and selection going both ways."""

    def __init__(self, window):
        self.window = window
        self.syncing = False             # the tree selection is being set from the graph
        self._pending = None             # (graph tab, host, item id) waiting for a slow tree load
        self.side_tab = GraphTab()
        self.side_tab.node_selected.connect(
            lambda host, item: self.reveal_in_tree(host, item, self.side_tab))
        self.panel_tabs: dict[Panel, GraphTab] = {}   # the Graph tab of each panel that has one

    # -- hooks called by the window -----------------------------------------------------
    def wrap(self, panels: QWidget) -> QWidget:
        """Put the window's panel stack in a tab widget whose second tab is the graph
        (its tab bar shows only for items with a graph that no run panel shows)."""
        self.outer = SideTabs(panels, self.side_tab)
        return self.outer

    def install(self) -> None:
        w = self.window
        action = QAction("Show &Graph", w, shortcut=QKeySequence("Ctrl+G"),
                         triggered=self.show_graph_tab)
        action.setShortcutContext(Qt.WindowShortcut)
        w.addAction(action)
        view_menu = w.menu("view")
        view_menu.addSeparator()
        view_menu.addAction(action)
        self.graph_action = action
        w.tree.setContextMenuPolicy(Qt.CustomContextMenu)
        w.tree.customContextMenuRequested.connect(self._tree_menu)
        w.model.children_loaded.connect(self._retry_pending)

    def panel_created(self, panel: Panel) -> None:
        """Give a panel that wants one a Graph tab, fed with the traces of its results."""
        if not panel.wants_graph_tab or panel.tab_host() is None:
            return
        tab = GraphTab()
        tab.node_selected.connect(lambda host, item, t=tab: self.reveal_in_tree(host, item, t))
        panel.add_tab(tab, "Graph", "The signature's graph (Ctrl+G)")
        self.panel_tabs[panel] = tab
        panel.result_ready.connect(lambda result, p=panel: self._on_result(p, result))

    def tab_for(self, panel) -> GraphTab | None:
        """The Graph tab this host added to ``panel`` (None if it has none)."""
        return self.panel_tabs.get(panel)

    def node_shown(self, node, panel) -> None:
        tab = self.tab_for(panel)
        has_graph = tab is None and graph_source(node) is not None
        # a layout still running for an item that is no longer selected is dropped
        for other in (*self.panel_tabs.values(), self.side_tab):
            if other is not tab and not (other is self.side_tab and has_graph) \
                    and other.is_loading():
                other.set_node(None)
        if tab is not None:
            tab.set_node(node)
            self.outer.tabBar().hide()
            self.outer.setCurrentIndex(0)
            return
        self.outer.tabBar().setVisible(has_graph)
        if has_graph:
            self.side_tab.set_node(node)
        elif self.outer.currentIndex() != 0:
            self.outer.setCurrentIndex(0)

    # -- the graph tab ------------------------------------------------------------------
    def current_graph_tab(self) -> GraphTab | None:
        tab = self.tab_for(self.window.current_panel())
        if tab is not None:
            return tab
        return self.side_tab if self.outer.tabBar().isVisible() else None

    def show_graph_tab(self) -> GraphPanel | None:
        """Ctrl+G: switch to the graph of the selected item (None if it has none). Its layout
        may still be running when this returns (``GraphTab.when_ready``)."""
        panel = self.window.current_panel()
        tab = self.tab_for(panel)
        if tab is not None:
            panel.tab_host().setCurrentWidget(tab)
        elif self.outer.tabBar().isVisible():
            self.outer.setCurrentWidget(self.side_tab)
            tab = self.side_tab
        else:
            self.window.statusBar().showMessage("The selected item has no graph to show.", 4000)
            return None
        shown = tab.refresh()
        # Ctrl+G then typing finds a node: the find box has the focus once the graph is there.
        tab.when_ready(lambda panel: panel.focus_search())
        return shown

    def graph_panel(self) -> GraphPanel | None:
        tab = self.current_graph_tab()
        return tab.panel if tab is not None else None

    def _on_result(self, panel, result) -> None:
        # a run's result carries its trace (None when the run was not traced)
        trace = getattr(result, "trace", None)
        tab = self.tab_for(panel)
        node = tab.tree_node if tab is not None else None
        if trace is None or node is None:
            return
        tab.set_run_trace(node, list(trace.records))

    # -- graph -> tree ------------------------------------------------------------------
    def reveal_in_tree(self, host, item_id: str, tab: GraphTab | None = None) -> bool:
        """Select the tree item matching the graph's ``item_id`` (a variable, a signature
        input/output, a function, a frozen graph's node) without leaving the graph."""
        tab = tab or self.current_graph_tab()
        graph = tab.panel.graph if tab is not None and tab.panel is not None else None
        if graph is None:
            return False
        target = self._tree_item_for(host, graph, item_id, tab)
        if target is None:
            return False
        w = self.window
        index = w.proxy.mapFromSource(w.model.index_of(target))
        if not index.isValid():
            return False
        parent = index.parent()
        while parent.isValid():
            w.tree.expand(parent)
            parent = parent.parent()
        self.syncing = True
        try:
            w.tree.setCurrentIndex(index)
        finally:
            self.syncing = False
        w.tree.scrollTo(index)
        return True

    def _tree_item_for(self, host, graph, item_id, tab):
        gnode = graph.nodes.get(item_id)
        group = graph.groups.get(item_id)
        if gnode is None and group is None:
            return None
        if host.kind == N.SIGNATURE and gnode is not None:
            key = gnode.info.get("signature input") or gnode.info.get("signature output")
            if key:
                side = "inputs" if "signature input" in gnode.info else "outputs"
                box = self._child(host, side)
                return self._child(box, key.split(",")[0].strip()) if box else None
        owner = host
        while owner is not None and owner.kind not in (N.META_GRAPH, N.GRAPH):
            owner = owner.parent
        if owner is None:
            return None
        function = group.function if group is not None and group.kind == "call" else None
        if function:
            for lib in self._walk(owner, want=lambda n: n.kind == N.GROUP and n.label == "library"):
                return self._child(lib, function)
            return None
        if gnode is None:
            return None
        if gnode.op in G.VARIABLE_OPS:
            names = {gnode.name, _strip_copy_suffix(gnode.name)}
            shared = gnode.shared_name()
            if shared is not None:
                names |= {shared, _strip_copy_suffix(shared)}
            variables = self._child(owner, "variables")
            if variables is None:
                return None
            if not variables.loaded:
                # a slow load (the checkpoint index): ask for it, answer when it arrives
                self._pending = (tab, host, item_id)
                index = self.window.model.index_of(variables)
                if self.window.model.canFetchMore(index):
                    self.window.model.fetchMore(index)
                return None
            for v in self._walk(variables, want=lambda n: n.kind == N.VARIABLE):
                ref = v.payload
                if ref.readable in names or ref.key in names:
                    return v
            return None
        if owner.kind == N.GRAPH:
            box = self._child(owner, "nodes")
            op_group = self._child(box, gnode.op) if box is not None else None
            if op_group is not None:
                for c in op_group.children():
                    if c.label == gnode.name:
                        return c
        return None

    def _retry_pending(self, _index) -> None:
        if self._pending is None:
            return
        tab, host, item_id = self._pending
        self._pending = None
        if tab.panel is not None and tab.panel.selected_id() == item_id:
            self.reveal_in_tree(host, item_id, tab)

    def _child(self, node, label):
        """A child by label, loading fast children on the way (slow ones only if loaded)."""
        if node is None:
            return None
        if node.slow and not node.loaded:
            return None
        index = self.window.model.index_of(node)
        if self.window.model.canFetchMore(index):
            self.window.model.fetchMore(index)
        for c in node.loaded_children():
            if c.label == label:
                return c
        return None

    def _walk(self, node, want):
        stack = [node]
        while stack:
            n = stack.pop()
            if n is not node and want(n):
                yield n
            if n.loaded:
                stack.extend(reversed(n.loaded_children()))

    # -- tree -> graph ------------------------------------------------------------------
    def graph_target(self, tree_node):
        """(tree item whose graph shows ``tree_node``, name or id to select there or None),
        or None when there is no graph to show it in."""
        if tree_node is None:
            return None
        kind = tree_node.kind
        if kind in (N.INPUT, N.OUTPUT):
            sig = tree_node.parent.parent if tree_node.parent is not None else None
            if sig is None or sig.kind != N.SIGNATURE:
                return None
            if kind == N.OUTPUT:
                return sig, f"{G.CALL_SEP}output{G.CALL_SEP}{tree_node.label}"
            return sig, ("input", tree_node.label)
        if kind == N.LIBRARY_FUNCTION:
            host = self._main_signature(tree_node)
            # a library item is labelled with its function's name
            return (host, ("call", tree_node.label)) if host is not None \
                else (tree_node, None)
        if graph_source(tree_node) is not None:
            return tree_node, None
        if kind in (N.VARIABLE, N.CONSTANT, N.INFO) or (
                kind == N.OTHER_TENSOR and isinstance(tree_node.payload, N.TensorRef)):
            host = self._main_signature(tree_node)
            if host is None:
                host = self._owner_node(tree_node)
            if host is None:
                return None
            payload = tree_node.payload
            if isinstance(payload, N.TensorRef):
                name = payload.readable or payload.key
            elif payload is not None and any(key == "op" for key, _ in tree_node.info):
                name = tree_node.label   # a graph's node, listed under its name
            else:
                return None
            return host, ("name", name)
        return None

    def _owner_node(self, tree_node):
        node = tree_node
        while node is not None and node.kind not in (N.META_GRAPH, N.GRAPH):
            node = node.parent
        return node

    def _main_signature(self, tree_node):
        """The serving signature of the MetaGraph holding ``tree_node`` (SavedModels)."""
        owner = self._owner_node(tree_node)
        if owner is None or owner.kind != N.META_GRAPH:
            return None
        sigs = self._child(owner, "signatures")
        if sigs is None:
            return None
        kids = sigs.loaded_children()
        main = next((c for c in kids if c.label == "serving_default"), None) or next(
            (c for c in kids if not c.label.startswith("__")), None)
        return main

    def show_in_graph(self, tree_node) -> bool:
        """Select the graph holding ``tree_node``, switch to its graph and centre it there."""
        target = self.graph_target(tree_node)
        if target is None:
            return False
        host, what = target
        w = self.window
        index = w.proxy.mapFromSource(w.model.index_of(host))
        if not index.isValid():
            return False
        w.tree.setCurrentIndex(index)
        if self.show_graph_tab() is None:
            return False
        tab = self.current_graph_tab()
        if what is None or tab is None:
            return tab is not None
        # the graph may still be laid out in a worker: select there once it is shown
        done = tab.when_ready(lambda panel: self._select_in(panel, what))
        return True if done is None else done

    def _select_in(self, panel: GraphPanel, what) -> bool:
        g = panel.graph
        if isinstance(what, str):
            return panel.select_name(what)
        kind, value = what
        if kind == "input":
            for nid, node in g.nodes.items():
                labels = [s.strip() for s in str(node.info.get("signature input", "")).split(",")]
                if value in labels:
                    return panel.select(nid)
            return False
        if kind == "call":
            for gid, group in g.groups.items():
                if group.kind == "call" and group.function == value:
                    return panel.select(gid)
            return False
        # a variable or a frozen graph's node: its name, or a uniquified copy of it
        if panel.select_name(value):
            return True
        for nid, node in g.nodes.items():
            if node.op in G.VARIABLE_OPS and _strip_copy_suffix(node.name) == value:
                return panel.select(nid)
        return False

    def _tree_menu(self, pos) -> None:
        w = self.window
        index = w.tree.indexAt(pos)
        if not index.isValid():
            return
        node = index.data(NODE_ROLE)
        menu = QMenu(w.tree)
        action = menu.addAction("Show in graph")
        action.setEnabled(self.graph_target(node) is not None)
        action.triggered.connect(lambda: self.show_in_graph(node))
        w.fill_tree_menu(menu, node)
        menu.exec(w.tree.viewport().mapToGlobal(pos))


def select_for_graph(window, labels: list[str]) -> GraphPanel:
    """``tensorloupe gui PATH --graph``: select the item ``labels`` names (a tree path, or
    the shorter ``tags > signature_or_function``; default the serving signature, else the
    document) and switch to its graph tab, giving the graph most of the window."""
    wait_idle(60)
    node = None
    if labels:
        try:
            node = window.select_path(labels)
        except InputError as first:
            for middle in (["signatures"], ["functions", "library"]):
                if len(labels) < 2:
                    break
                try:
                    node = window.select_path(labels[:-1] + middle + labels[-1:])
                    break
                except InputError:
                    continue
            if node is None:
                raise first
    else:
        docs = window.model.documents()
        doc = docs[0] if docs else None
        if doc is None:
            raise InputError("nothing is open to draw a graph of")
        main = window.graph_host._main_signature(doc.loaded_children()[0]) \
            if doc.kind == N.SAVED_MODEL and doc.loaded_children() else None
        # select_path starts below a document, and names it only to choose among several
        below = main.path()[len(doc.path()):] if main is not None else []
        node = window.select_path(([doc.label] if len(docs) > 1 else []) + below)
    if graph_source(node) is None:
        raise InputError(f"{' > '.join(node.path()) or node.label!r} has no graph; select a "
                         "signature, a MetaGraphDef, a library function or a graph")
    # the tree keeps what is needed to see where the graph belongs; the graph gets the rest
    total = sum(window.splitter.sizes()) or window.width()
    window.splitter.setSizes([min(420, total // 3), total - min(420, total // 3)])
    panel = window.graph_host.show_graph_tab()
    wait_idle(600)   # the graph is laid out in a worker
    if panel is None or panel.graph is None:
        raise InputError(f"the graph of {node.label!r} could not be drawn")
    QCoreApplication.processEvents()
    inner = panel.splitter.width()
    if inner > 700:
        panel.splitter.setSizes([inner - 240, 240])
        QCoreApplication.processEvents()
    panel.initial_view()
    return panel
