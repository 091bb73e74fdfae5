"""GraphPanel: the graph view with its toolbar, details pane, legend and minimap.

    panel = GraphPanel()
    panel.load(lambda: core.graph.graph_for_signature(meta_graph, "serving_default"))

``load`` builds the graph and lays it out in a worker (see ``prepare``) and shows it when it
is ready; ``set_graph`` shows a graph that is already built, laying it out on the spot.

The first view opens only the wrappers around a model (calls, the model's scope), so a Keras
model shows its layers; double-click a box to open it in place (its content is laid out on
its own, see core/layout.py), double-click an open group's header to close it. Drag to pan,
wheel to zoom, F to fit, Ctrl+F to find a node by name or op. The side pane shows the
selected node's attributes (decoded by core.graph), its inputs and outputs as links, and
functions it calls as links that open their graph.
"""
from __future__ import annotations

import html
import time
from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGraphicsScene, QHBoxLayout, QLabel,
                               QLineEdit, QSplitter, QTextBrowser, QToolButton, QVBoxLayout,
                               QWidget)

from tensorloupe.core import graph as G
from tensorloupe.core.layout import Layout, NestedLayout

from ..base import Panel
from . import items as GI
from .details import group_html, node_html, summary_html
from .export import SVG_AVAILABLE, export_scene
from .minimap import Minimap
from .source import graph_source
from .view import GraphView

COLOR_MODES = ("op family", "time", "NaN / Inf")
LAYOUT_SLOT = "layout"


@dataclass
class Prepared:
    """A graph laid out in a worker, ready to be drawn."""
    graph: G.Graph
    layouter: NestedLayout
    open_groups: set
    layout: Layout
    seconds: float             # time the layout took


def prepare(ctx, build: Callable[[], G.Graph], open_groups=None) -> Prepared:
    """Build a graph and lay out its first view (runs in a worker). ``open_groups``: the
    groups to open, a function of the graph giving them, or None for the default view."""
    graph = build()
    ctx.check()
    sizer = GI.ItemSizer()
    layouter = NestedLayout(graph, sizer.size, header_width=sizer.header_width)
    if open_groups is None:
        opened = G.default_open_groups(graph)
    else:
        opened = set(open_groups(graph) if callable(open_groups) else open_groups)
    t0 = time.perf_counter()
    layout = layouter.layout(opened)
    seconds = time.perf_counter() - t0
    # the worker's font metrics stay in the worker; the panel measures with its own
    layouter.size_of = layouter.header_width = None
    return Prepared(graph, layouter, opened, layout, seconds)


class GraphPanel(Panel):
    """The graph view with its toolbar, legend, minimap and details pane."""

    name = "Graph"
    node_selected = Signal(str)        # node id (or group id) chosen in the view
    function_requested = Signal(str)   # a function link was clicked

    def __init__(self, parent=None):
        super().__init__(parent)
        self.graph: G.Graph | None = None
        self.loading: str | None = None    # what a worker is laying out for this panel
        self.layouter: NestedLayout | None = None
        self.open_groups: set[str] = set()
        self.items: dict = {}
        self.edges: list = []
        self.history: list = []
        self.search_hits: list[str] = []
        self.search_pos = -1
        self._searched: str | None = None  # the text search_hits were found for
        self.highlighted = None
        self.color_mode = COLOR_MODES[0]
        self.last_layout_seconds = 0.0
        self.last_scene_seconds = 0.0
        self._build()

    # -- widgets ----------------------------------------------------------------------
    def _build(self) -> None:
        self.scene = QGraphicsScene(self)
        self.scene.setItemIndexMethod(QGraphicsScene.BspTreeIndex)
        self.scene.selectionChanged.connect(self._on_selection)
        self.view = GraphView(self.scene, self)
        self.view.fit_requested.connect(self.fit)
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        f = self.title.font()
        f.setBold(True)
        self.title.setFont(f)
        self.back_button = self._button("◀ Back", "Back to the previous graph", self.go_back)
        self.back_button.setVisible(False)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find node by name or op (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self.find_next)
        self.search.setMaximumWidth(280)
        self.search.setMinimumWidth(170)
        self.search_status = QLabel()
        self.color_box = QComboBox()
        self.color_box.addItems(COLOR_MODES)
        self.color_box.setToolTip("Colour nodes by op family, or by a run's trace")
        self.color_box.currentTextChanged.connect(self.set_color_mode)
        tools = QHBoxLayout()
        tools.setContentsMargins(4, 2, 4, 2)
        tools.addWidget(self.back_button)
        tools.addWidget(self.title, 1)
        tools.addWidget(self.search)
        tools.addWidget(self.search_status)
        tools.addWidget(QLabel("Colour:"))
        tools.addWidget(self.color_box)
        tools.addWidget(self._button("Fit", "Fit the graph in the view (F)", self.fit))
        tools.addWidget(self._button("Open all", "Open every group (slow for big graphs)",
                                     self.open_all))
        tools.addWidget(self._button("Collapse", "Back to the first view", self.reset_view))
        tools.addWidget(self._button("PNG…", "Export the visible graph as PNG",
                                     lambda: self._ask_export("png")))
        svg = self._button("SVG…", "Export the visible graph as SVG",
                           lambda: self._ask_export("svg"))
        svg.setEnabled(SVG_AVAILABLE)
        tools.addWidget(svg)
        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        self.details.anchorClicked.connect(self._on_link)
        self.details.setMinimumWidth(220)
        # The legend sits under the details pane, never over the graph it explains.
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.RichText)
        self.legend.setStyleSheet("padding: 4px; font-size: 8pt;")
        self.legend.setText(GI.legend_html())
        self.legend.setToolTip("Colours of op families")
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.setSpacing(2)
        side_layout.addWidget(self.details, 1)
        side_layout.addWidget(self.legend)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.view)
        split.addWidget(side)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([900, 300])
        split.setCollapsible(0, False)
        self.splitter = split
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(tools)
        layout.addWidget(split, 1)
        self.minimap = Minimap(self.view, self.view)
        self.minimap.resized.connect(self._place_overlays)
        # Find (Ctrl+F) is the window's, which sends it to self.search while the graph shows;
        # F3 means nothing elsewhere, so the panel keeps it.
        QShortcut(QKeySequence("F3"), self, activated=self.find_next)

    def _button(self, text, tip, slot) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        return b

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._place_overlays()

    def showEvent(self, event):
        super().showEvent(event)
        self._place_overlays()

    def _place_overlays(self) -> None:
        vp = self.view.viewport().geometry()
        self.minimap.move(vp.right() - self.minimap.width() - 6,
                          vp.bottom() - self.minimap.height() - 6)

    # -- content ----------------------------------------------------------------------
    def load(self, build: Callable[[], G.Graph], *, label: str = "graph",
             keep_history: bool = False, open_groups=None,
             on_ready: Callable[[G.Graph], None] | None = None):
        """Build the graph ``build()`` returns and lay it out in a worker, then show it (the
        title says "Laying out…" meanwhile). A newer ``load`` drops this one. Returns the
        Worker."""
        self.loading = label
        self.title.setText(f"Laying out {label}…")

        def ready(prepared: Prepared) -> None:
            self.show_prepared(prepared, keep_history=keep_history)
            if on_ready is not None:
                on_ready(prepared.graph)

        return self.prepare_in_background(build, ready, self._load_failed, label=label,
                                          open_groups=open_groups,
                                          on_cancelled=self._load_cancelled)

    def prepare_in_background(self, build: Callable[[], G.Graph], on_result, on_error, *,
                              label: str = "graph", open_groups=None, on_cancelled=None):
        """Run ``prepare`` in this panel's layout slot: ``on_result(Prepared)``,
        ``on_error(exception)`` or (stopped from the status bar) ``on_cancelled()`` follow on
        the UI thread, unless a newer job replaced it."""
        return self.submit(prepare, build, open_groups, slot=LAYOUT_SLOT, on_result=on_result,
                           on_error=on_error, on_cancelled=on_cancelled,
                           label=f"Laying out {label}")

    def cancel_loading(self) -> None:
        self.cancel_jobs(LAYOUT_SLOT)
        if self.loading is not None:
            self.loading = None
            self.title.setText(self._title_text())

    def _load_cancelled(self) -> None:
        self.loading = None
        self.title.setText(self._title_text())

    def _load_failed(self, exc: Exception) -> None:
        self.loading = None
        self.title.setText(self._title_text())
        self.details.setHtml(f"<p style='color:#a00'>{html.escape(str(exc))}</p>")

    def show_prepared(self, prepared: Prepared, keep_history: bool = False) -> None:
        """Show a graph laid out by ``prepare``."""
        self._show(prepared.graph, prepared.layouter, prepared.open_groups, keep_history,
                   layout=prepared.layout, layout_seconds=prepared.seconds)

    def set_graph(self, graph: G.Graph, open_groups=None, keep_history: bool = False) -> None:
        """Show ``graph``, laying it out here (``load`` does that in a worker)."""
        layouter = NestedLayout(graph, GI.item_size, header_width=GI.open_header_width)
        opened = set(open_groups) if open_groups is not None else G.default_open_groups(graph)
        self._show(graph, layouter, opened, keep_history)

    def _show(self, graph, layouter, open_groups, keep_history, layout=None,
              layout_seconds=0.0) -> None:
        self.cancel_loading()
        if keep_history and self.graph is not None:
            self.history.append((self.graph, set(self.open_groups), self.layouter))
        elif not keep_history:
            self.history.clear()
        self.back_button.setVisible(bool(self.history))
        self.graph = graph
        # measured on the UI thread from now on (a worker's layout hands over without them)
        layouter.size_of, layouter.header_width = GI.item_size, GI.open_header_width
        self.layouter = layouter
        self.open_groups = set(open_groups)
        self.title.setText(self._title_text())
        self.search_hits, self.search_pos = [], -1
        self.rebuild(layout, layout_seconds)
        self.initial_view()
        self.show_details(None)

    def _title_text(self) -> str:
        graph = self.graph
        if graph is None:
            return ""
        hidden = f" · {len(graph.hidden)} save/restore nodes hidden" if graph.hidden else ""
        return (f"{graph.title} — {graph.root.op_count} ops, "
                f"{GI.count_text(graph.root.param_count)} params{hidden}")

    def go_back(self) -> None:
        if not self.history:
            return
        graph, opened, layouter = self.history.pop()
        self._show(graph, layouter, opened, keep_history=True)
        self.history.pop()  # _show pushed the graph we left; going back forgets it
        self.back_button.setVisible(bool(self.history))

    def rebuild(self, layout: Layout | None = None, layout_seconds: float = 0.0) -> None:
        """Lay out the visible part (unless ``layout`` is that, made in a worker) and refill
        the scene."""
        if self.graph is None:
            return
        t0 = time.perf_counter()
        if layout is None:
            layout = self.layouter.layout(self.open_groups)
            layout_seconds = time.perf_counter() - t0
        self.layout = layout
        self.scene.clear()
        self.items = {}
        g = self.graph
        for box in sorted(layout.boxes.values(), key=lambda b: b.kind != "open"):
            rect = QRectF(box.x, box.y, box.w, box.h)
            if box.kind == "node":
                item = GI.NodeItem(g.nodes[box.id], g, rect)
            else:
                item = GI.GroupItem(g.groups[box.id], rect, box.kind == "open", self.toggle)
            self.scene.addItem(item)
            self.items[box.id] = item
        self.edges = []
        for route in layout.routes:
            label = "" if route.control else g.edge_label(route.edges[0])
            if len(route.edges) > 1 and label:
                distinct = {e.key for e in route.edges}
                if len(distinct) > 1:
                    label = f"{label} ×{len(distinct)}"
            item = GI.EdgeItem(route, label)
            self.scene.addItem(item)
            self.edges.append(item)
        margin = 40
        self.scene.setSceneRect(QRectF(-margin, -margin, layout.width + 2 * margin,
                                       layout.height + 2 * margin))
        self.apply_colors()
        if self.highlighted in self.items:
            self.items[self.highlighted].highlighted = True
        self.minimap.refresh()
        self.last_layout_seconds = layout_seconds
        self.last_scene_seconds = time.perf_counter() - t0

    def initial_view(self) -> None:
        """Readable from the top: fit the width (at most 1:1) and start at the inputs."""
        rect = self.scene.sceneRect()
        vp = self.view.viewport().size()
        if rect.width() <= 0 or vp.width() <= 0:
            return
        scale = min(1.0, (vp.width() - 20) / rect.width(), 1e9)
        if rect.height() * scale < vp.height():
            scale = min(1.0, (vp.width() - 20) / rect.width(), (vp.height() - 20) / rect.height())
        scale = max(scale, 0.7)  # below this the labels are hard to read: pan instead
        if scale < 0.85 and rect.height() * scale >= vp.height():
            scale = 0.9   # a tall graph wider than the view: readable labels, pan sideways
        self.view.resetTransform()
        self.view.scale(scale, scale)
        half_w = vp.width() / (2 * scale)
        cx = rect.center().x() if rect.width() * scale <= vp.width() else rect.left() + half_w
        if rect.width() * scale > vp.width():
            # centre on the boxes at the top (inputs, first layers), not on wide wrappers
            top = rect.top() + vp.height() / scale
            boxes = [it.sceneBoundingRect() for it in self.items.values()
                     if not (isinstance(it, GI.GroupItem) and it.is_open)
                     and it.sceneBoundingRect().top() < top]
            if boxes:
                left = min(b.left() for b in boxes)
                right = max(b.right() for b in boxes)
                cx = (left + right) / 2 if (right - left) * scale <= vp.width() - 20 \
                    else left - 10 + half_w
        self.view.centerOn(cx, rect.top() + vp.height() / (2 * scale))
        self.view.zoomed.emit()

    def fit(self) -> None:
        self.view.fitInView(self.scene.sceneRect(), Qt.KeepAspectRatio)
        if self.view.zoom() > 1.5:
            self.view.resetTransform()
            self.view.scale(1.5, 1.5)
        self.view.zoomed.emit()

    def toggle(self, group_id: str) -> None:
        if group_id in self.open_groups:
            self.close_group(group_id)
        else:
            self.open_group(group_id)

    def open_group(self, group_id: str) -> None:
        anchor = self._anchor(group_id)
        self.open_groups.add(group_id)
        self.rebuild()
        self._restore_anchor(group_id, anchor)

    def close_group(self, group_id: str) -> None:
        anchor = self._anchor(group_id)
        # ids of groups inside a group start with its id (see core.graph)
        self.open_groups = {g for g in self.open_groups if not g.startswith(group_id)}
        self.rebuild()
        self._restore_anchor(group_id, anchor)

    def _anchor(self, item_id):
        item = self.items.get(item_id)
        if item is None:
            return None
        return self.view.mapFromScene(item.sceneBoundingRect().topLeft())

    def _restore_anchor(self, item_id, anchor) -> None:
        """Keep the box that was opened or closed where it was on screen."""
        item = self.items.get(item_id)
        if item is None or anchor is None:
            return
        now = self.view.mapFromScene(item.sceneBoundingRect().topLeft())
        d = now - anchor
        h, v = self.view.horizontalScrollBar(), self.view.verticalScrollBar()
        h.setValue(h.value() + d.x())
        v.setValue(v.value() + d.y())
        self.minimap.update()

    def open_all(self) -> None:
        if self.graph is None:
            return
        self.open_groups = set(self.graph.groups) - {G.ROOT}
        self.rebuild()
        self.initial_view()

    def reset_view(self) -> None:
        if self.graph is None:
            return
        self.open_groups = G.default_open_groups(self.graph)
        self.rebuild()
        self.initial_view()

    # -- selection and search ---------------------------------------------------------
    def select(self, item_id: str, center: bool = True) -> bool:
        """Select a node (opening the groups around it) or a group; centre it."""
        g = self.graph
        if g is None or (item_id not in g.nodes and item_id not in g.groups):
            return False
        needed = [x for x in (g.open_path(item_id) if item_id in g.nodes
                              else g.ancestors(item_id)) if x != G.ROOT]
        if any(x not in self.open_groups for x in needed):
            self.open_groups |= set(needed)
            self.rebuild()
        item = self.items.get(item_id)
        if item is None:
            return False
        self.scene.clearSelection()
        item.setSelected(True)
        if center:
            if self.view.zoom() < 0.6:
                self.view.resetTransform()
                self.view.scale(0.8, 0.8)
            self.view.centerOn(item)
            self.view.zoomed.emit()
        return True

    def select_name(self, name: str) -> bool:
        """Select the node called ``name`` (its GraphDef name, or an id)."""
        if self.graph is None:
            return False
        if name in self.graph.nodes or name in self.graph.groups:
            return self.select(name)
        for nid, node in self.graph.nodes.items():
            if node.name == name:
                return self.select(nid)
        return False

    def selected_id(self) -> str | None:
        items = self.scene.selectedItems()
        # only boxes are selectable, never edges
        return items[0].item_id if items else None

    def _on_selection(self) -> None:
        item_id = self.selected_id()
        self.show_details(item_id)
        if item_id:
            self.node_selected.emit(item_id)

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def find(self, text: str) -> list[str]:
        if self.graph is None:
            return []
        self.search_hits = self.graph.search(text)
        self.search_pos = -1
        return self.search_hits

    def find_next(self) -> str | None:
        text = self.search.text()
        if self.graph is None or not text.strip():
            return None
        if not self.search_hits or self._searched != text:
            self.find(text)
            self._searched = text
        if not self.search_hits:
            self.search_status.setText("no match")
            return None
        self.search_pos = (self.search_pos + 1) % len(self.search_hits)
        hit = self.search_hits[self.search_pos]
        self.highlight(hit)
        self.search_status.setText(f"{self.search_pos + 1}/{len(self.search_hits)}")
        return hit

    def highlight(self, item_id: str) -> None:
        old = self.items.get(self.highlighted)
        if old is not None:
            old.highlighted = False
            old.update()
        self.highlighted = item_id
        self.select(item_id)
        item = self.items.get(item_id)
        if item is not None:
            item.highlighted = True
            item.update()

    # -- colours ----------------------------------------------------------------------
    def set_trace(self, trace: dict | None) -> None:
        """Attach a run's trace ({node name: {"seconds", "nan", "shapes"}}) and redraw."""
        if self.graph is None:
            return
        self.graph.set_trace(trace)
        self.rebuild()

    def set_color_mode(self, mode: str) -> None:
        self.color_mode = mode
        if self.color_box.currentText() != mode:
            self.color_box.setCurrentText(mode)
        self.apply_colors()

    def apply_colors(self) -> None:
        g = self.graph
        if g is None:
            return
        trace = g.trace or {}
        seconds = {}
        if self.color_mode == "time" and trace:
            for item_id in self.items:
                ids = [item_id] if item_id in g.nodes else g.descendant_nodes(item_id)
                seconds[item_id] = sum(float(trace.get(n, {}).get("seconds") or 0) for n in ids)
        top = max(seconds.values(), default=0.0) or 1.0
        for item_id, item in self.items.items():
            color = None
            if self.color_mode == "time" and trace:
                color = GI.heat_color(seconds.get(item_id, 0.0) / top)
            elif self.color_mode == "NaN / Inf" and trace:
                ids = [item_id] if item_id in g.nodes else g.descendant_nodes(item_id)
                bad = any(trace.get(n, {}).get("nan") for n in ids)
                ran = any(n in trace for n in ids)
                color = QColor("#ff8a80") if bad else (QColor("#c8e6c9") if ran else None)
            item.fill_override = color
            item.update()

    # -- details ----------------------------------------------------------------------
    def show_details(self, item_id: str | None) -> None:
        g = self.graph
        if g is None:
            self.details.setHtml("")
            return
        if item_id is None:
            self.details.setHtml(summary_html(g))
        elif item_id in g.nodes:
            self.details.setHtml(node_html(g, g.nodes[item_id]))
        elif item_id in g.groups:
            self.details.setHtml(group_html(g, g.groups[item_id], item_id in self.open_groups))

    def _on_link(self, url) -> None:
        text = url.toString()
        kind, _, target = text.partition(":")
        from urllib.parse import unquote
        target = unquote(target)
        if kind == "node":
            self.select(target)
        elif kind == "fn":
            self.function_requested.emit(target)
            self.open_function(target)

    def open_function(self, name: str):
        """Show library function ``name`` (laid out in a worker; Back returns here)."""
        g = self.graph
        if g is None or g.library is None:
            return None
        library = g.library
        return self.load(lambda: G.graph_for_function(library, name), label=name,
                         keep_history=True)

    # -- export -----------------------------------------------------------------------
    def _ask_export(self, kind: str) -> None:
        name, _ = QFileDialog.getSaveFileName(self, f"Export graph as {kind.upper()}",
                                              f"graph.{kind}", f"{kind.upper()} (*.{kind})")
        if name:
            self.export(name)

    def export(self, path: str, whole: bool = False) -> str:
        """Write the visible part of the graph (or all of it) as PNG or SVG."""
        rect = self.scene.sceneRect() if whole else \
            self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        title = self.graph.title if self.graph else "graph"
        return export_scene(self.scene, rect, path, title, whole)

    # -- tree integration (the main window's panel protocol) -------------------------
    @classmethod
    def priority(cls, node) -> int:
        return 1 if graph_source(node) is not None else 0

    def show_node(self, node) -> None:
        build = graph_source(node)
        if build is not None:
            self.load(build, label=node.label)
