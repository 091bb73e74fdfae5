"""The Graph tabs of the window: ``GraphTab`` holds a GraphPanel made and filled only when the
tab is shown, and ``SideTabs`` puts a Details | Graph bar over the window's panels."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QStackedWidget, QTabBar, QVBoxLayout, QWidget

from tensorloupe.core import graph as G

from ..base import Searchable
from .panel import GraphPanel, Prepared
from .source import graph_key, graph_source

NO_GRAPH = "Select a signature, MetaGraphDef, function or graph."


class GraphTab(QWidget, Searchable):
    """The graph of a tree item, built when the tab is shown: selecting tree items never
    waits for a graph. The graph is built and laid out in a worker while the tab says
    "Laying out…"; a result for an item that is no longer selected is dropped."""

    node_selected = Signal(object, str)   # (the tree item whose graph this is, item id)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.panel: GraphPanel | None = None
        self.tree_node = None
        self.shown_key = None             # graph key of what the panel shows
        self.loading_key = None           # graph key being laid out in a worker
        self.traces: dict = {}            # graph key -> trace records of its last run
        self._waiting: list[Callable[[GraphPanel], object]] = []  # run once the graph is shown
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.message = QLabel(NO_GRAPH)
        self.message.setAlignment(Qt.AlignCenter)
        self.message.setWordWrap(True)
        self._layout.addWidget(self.message)

    def search_box(self):
        """The graph's find box (once a graph shows)."""
        return self.panel.search if self.panel is not None else None

    def set_node(self, tree_node) -> None:
        self.tree_node = tree_node
        key = graph_key(tree_node) if tree_node is not None else None
        if self.loading_key is not None and key != self.loading_key:
            self._stop_loading()         # laid out for an item no longer selected: drop it
        if self.isVisible():
            self.refresh()

    def showEvent(self, event):
        super().showEvent(event)
        self.refresh()

    def ensure_panel(self) -> GraphPanel:
        if self.panel is None:
            self.panel = GraphPanel(self)
            self.panel.node_selected.connect(self._on_node_selected)
            self._layout.addWidget(self.panel)
            self.panel.hide()
        return self.panel

    def is_loading(self) -> bool:
        return self.loading_key is not None

    def refresh(self) -> GraphPanel | None:
        """Show the graph of the current tree item, starting its layout in a worker if it is
        not the one shown. Returns the panel (its graph may still be on its way)."""
        node = self.tree_node
        build = graph_source(node) if node is not None else None
        if build is None:
            return self.panel
        key = graph_key(node)
        if key == self.loading_key:
            return self.panel
        if key == self.shown_key and self.panel is not None:
            self._show_panel()
            return self.panel
        panel = self.ensure_panel()
        self.loading_key = key
        self._show_message(f"Laying out the graph of {node.label}…")
        panel.prepare_in_background(build, lambda prepared, k=key: self._ready(k, prepared),
                                    lambda exc, k=key: self._failed(k, exc), label=node.label,
                                    on_cancelled=lambda k=key: self._cancelled(k))
        return panel

    def when_ready(self, fn: Callable[[GraphPanel], object]):
        """Call ``fn(panel)`` once the current item's graph is shown: now (returning what it
        returns) or when its layout arrives (returning None; dropped if that never comes)."""
        node = self.tree_node
        if self.panel is not None and self.loading_key is None and node is not None \
                and self.shown_key == graph_key(node) and self.panel.graph is not None:
            return fn(self.panel)
        self._waiting.append(fn)
        return None

    def _ready(self, key, prepared: Prepared) -> None:
        if key != self.loading_key:
            return
        self.loading_key = None
        panel = self.panel
        self._show_panel()                # visible first: the first view fits the viewport
        self.shown_key = key
        if self.tree_node is not None:    # exports are named after the model
            panel.model_name = self.tree_node.document().label
        panel.show_prepared(prepared)
        records = self.traces.get(key)
        if records is not None:
            panel.set_trace(G.trace_for_graph(prepared.graph, records))
        waiting, self._waiting = self._waiting, []
        for fn in waiting:
            fn(panel)

    def _failed(self, key, exc: Exception) -> None:
        if key != self.loading_key:
            return
        self.loading_key = None
        self.shown_key = None
        self._waiting = []
        self._show_message(f"The graph can not be drawn: {exc}")

    def _cancelled(self, key) -> None:
        if key != self.loading_key:
            return
        self.loading_key = None
        self._waiting = []
        self._show_message("Laying out the graph was cancelled; Ctrl+G starts it again.")

    def _stop_loading(self) -> None:
        self.loading_key = None
        self._waiting = []
        if self.panel is not None:
            self.panel.cancel_loading()
        self._show_message(NO_GRAPH)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()
        if self.panel is not None:
            self.panel.hide()

    def _show_panel(self) -> None:
        self.message.hide()
        self.panel.show()

    def set_run_trace(self, tree_node, records) -> None:
        """Remember a run's trace for ``tree_node``'s graph; apply it if that graph is shown."""
        key = graph_key(tree_node)
        self.traces = {key: records}     # only the last run is kept (traces can be big)
        if self.panel is not None and key == self.shown_key and self.panel.graph is not None:
            self.panel.set_trace(G.trace_for_graph(self.panel.graph, records))

    def _on_node_selected(self, item_id: str) -> None:
        if self.tree_node is not None:
            self.node_selected.emit(self.tree_node, item_id)


class SideTabs(QWidget):
    """Details | Graph tabs whose bar, when hidden, takes no room (a QTabWidget would still
    add its height to the window's minimum size)."""

    def __init__(self, details: QWidget, graph: QWidget, parent=None):
        super().__init__(parent)
        self._bar = QTabBar()
        self._bar.setDocumentMode(True)
        self._bar.addTab("Details")
        self._bar.addTab("Graph")
        self._bar.setTabToolTip(1, "The graph of the selected item (Ctrl+G)")
        self._bar.hide()
        self._stack = QStackedWidget()
        self._stack.addWidget(details)
        self._stack.addWidget(graph)
        self._bar.currentChanged.connect(self._stack.setCurrentIndex)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._bar, 0, Qt.AlignLeft)
        layout.addWidget(self._stack, 1)

    def tabBar(self):
        return self._bar

    def currentIndex(self) -> int:
        return self._stack.currentIndex()

    def setCurrentIndex(self, index: int) -> None:
        self._bar.setCurrentIndex(index)
        self._stack.setCurrentIndex(index)

    def setCurrentWidget(self, widget: QWidget) -> None:
        self.setCurrentIndex(self._stack.indexOf(widget))
