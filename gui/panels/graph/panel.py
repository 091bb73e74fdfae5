"""GraphPanel: the graph view with its toolbar, details pane, legend and minimap.

    panel = GraphPanel()
    panel.load(lambda: core.graph.graph_for_signature(meta_graph, "serving_default"))

``load`` builds the graph and lays it out in a worker (see ``prepare``) and shows it when it
is ready; ``set_graph`` shows a graph that is already built, laying it out on the spot.

The first view opens only the wrappers around a model (calls, the model's scope), so a Keras
model shows its layers; double-click a box to open it in place (its content is laid out on
its own, see core/layout.py; a wrapper around a single group opens down to the first group
worth seeing), double-click an open group's header to close it; either way the group stays
where it was on screen. Drag to pan, wheel to zoom, Ctrl+F to find a node by name or op.

Fit (F) zooms out only as far as labels stay readable and then shows the top of the graph;
pressed again (or Shift+F) it shows all of it. The keyboard walks the graph: Up and Down
follow the edges, Left and Right stay in the layer, Enter goes into a group, Esc or
Backspace closes the group the selection is in (see navigate.py). The overview sits in a
strip beside the view while the graph does not fit (minimap.py). Export… saves the whole
graph (or the visible part) as PNG or SVG, named after the model and the graph.

The side pane shows the selected node's attributes (decoded by core.graph), its inputs and
outputs as links, and functions it calls as links that open their graph.
"""
from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QPointF, QRectF, QSettings, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGraphicsScene, QHBoxLayout, QLabel,
                               QLineEdit, QMainWindow, QMenu, QSplitter, QTextBrowser,
                               QToolButton, QVBoxLayout, QWidget)

from tensorloupe.core import graph as G
from tensorloupe.core.errors import TensorloupeError
from tensorloupe.core.layout import Layout, NestedLayout

from ..base import Panel
from . import export as X
from . import items as GI
from . import navigate as NAV
from .details import group_html, node_html, summary_html
from .minimap import Minimap
from .source import graph_source
from .view import GraphView

COLOR_MODES = ("op family", "time", "NaN / Inf")
LAYOUT_SLOT = "layout"
READABLE_PX = 7.0      # Fit keeps node labels at least this many pixels high
COMFORTABLE_PX = 10.0  # the first view of a graph: labels read without effort
SCENE_MARGIN = 40.0    # around the graph, so boxes at its border are not glued to the edge


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
    message = Signal(str)              # something done worth a line in a status bar

    def __init__(self, parent=None):
        super().__init__(parent)
        self.graph: G.Graph | None = None
        self.loading: str | None = None    # what a worker is laying out for this panel
        self.layouter: NestedLayout | None = None
        self.layout: Layout | None = None
        self.open_groups: set[str] = set()
        self.items: dict = {}
        self.edges: list = []
        self.history: list = []
        self.search_hits: list[str] = []
        self.search_pos = -1
        self._searched: str | None = None  # the text search_hits were found for
        self.highlighted = None
        self.color_mode = COLOR_MODES[0]
        self.model_name = ""               # the model the graph belongs to, for file names
        self.settings: QSettings | None = None  # where to remember the export folder
        self.last_layout_seconds = 0.0
        self.last_scene_seconds = 0.0
        self._build()

    # -- widgets ----------------------------------------------------------------------
    def _build(self) -> None:
        self.scene = QGraphicsScene(self)
        self.scene.setItemIndexMethod(QGraphicsScene.BspTreeIndex)
        self.scene.selectionChanged.connect(self._on_selection)
        self.view = GraphView(self.scene, self)
        self.view.fit_requested.connect(lambda whole: self.fit(whole=whole))
        self.view.navigate.connect(self.navigate)
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        f = self.title.font()
        f.setBold(True)
        self.title.setFont(f)
        self.back_button = self._button("◀ Back", "Back to the previous graph", self.go_back)
        self.back_button.setVisible(False)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find node by name or op (Ctrl+F)")
        self.search.setToolTip("Enter finds the next match and gives the keys to the graph: "
                               "arrows move, Enter opens, Esc closes, F3 finds the next")
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self._find_from_box)
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
        self.fit_button = self._button(
            "Fit", "Fit the graph as far as its labels stay readable, from the top (F); "
            "again: the whole graph (Shift+F)", self.fit)
        tools.addWidget(self.fit_button)
        tools.addWidget(self._button("Open all", "Open every group (slow for big graphs)",
                                     self.open_all))
        tools.addWidget(self._button("Collapse", "Back to the first view", self.reset_view))
        self.export_button = self._button("Export…", "Save the whole graph as PNG or SVG",
                                          lambda: self.ask_export(whole=True))
        menu = QMenu(self.export_button)
        menu.addAction("Whole graph…", lambda: self.ask_export(whole=True))
        menu.addAction("Visible part only…", lambda: self.ask_export(whole=False))
        self.export_button.setMenu(menu)
        self.export_button.setPopupMode(QToolButton.MenuButtonPopup)
        tools.addWidget(self.export_button)
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
        # the overview takes a strip of the view's own, see minimap.py
        self.minimap = Minimap(self.view)
        self.view.scaled.connect(self.minimap.arrange)
        # Find (Ctrl+F) is the window's, which sends it to self.search while the graph shows;
        # F3 means nothing elsewhere, so the panel keeps it.
        QShortcut(QKeySequence("F3"), self, activated=self.find_next)
        QShortcut(QKeySequence("Shift+F3"), self, activated=lambda: self.find_next(-1))

    def _button(self, text, tip, slot) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.clicked.connect(lambda _checked=False: slot())
        return b

    def showEvent(self, event):
        super().showEvent(event)
        self.minimap.arrange()

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
        self.clear_search()    # what was found in the graph before means nothing here
        self.rebuild(layout, layout_seconds, keep_view=False)
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

    def rebuild(self, layout: Layout | None = None, layout_seconds: float = 0.0,
                keep_view: bool = True) -> None:
        """Lay out the visible part (unless ``layout`` is that, made in a worker) and refill
        the scene. ``keep_view``: the part of the scene on screen stays scrollable to, so
        the view does not move when the graph's size changes under it."""
        if self.graph is None:
            return
        t0 = time.perf_counter()
        if layout is None:
            layout = self.layouter.layout(self.open_groups)
            layout_seconds = time.perf_counter() - t0
        shown = self.visible_scene_rect() if keep_view and self.layout is not None else None
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
        self._set_scene_rect(shown)
        self.apply_colors()
        if self.highlighted in self.items:
            self.items[self.highlighted].highlighted = True
        self.minimap.set_content(self.content_rect())
        self.minimap.arrange()
        self.last_layout_seconds = layout_seconds
        self.last_scene_seconds = time.perf_counter() - t0

    # -- what the view shows ----------------------------------------------------------
    def content_rect(self) -> QRectF:
        """The graph's drawing with a margin (what an export of the whole graph shows)."""
        if self.layout is None:
            return QRectF()
        m = SCENE_MARGIN
        return QRectF(-m, -m, self.layout.width + 2 * m, self.layout.height + 2 * m)

    def visible_scene_rect(self) -> QRectF:
        return self.view.mapToScene(self.view.viewport().rect()).boundingRect()

    def _set_scene_rect(self, keep: QRectF | None = None) -> None:
        """The scrollable area: the graph, and ``keep`` (a part of the scene that must stay
        reachable where it is, though the graph no longer covers it)."""
        rect = self.content_rect()
        if keep is not None and not keep.isEmpty():
            rect = rect.united(keep)
        if rect != self.scene.sceneRect():
            self.scene.setSceneRect(rect)

    def readable_zoom(self, pixels: float = READABLE_PX) -> float:
        """The smallest zoom at which node labels are ``pixels`` high."""
        font = GI.fonts().normal
        size = font.pointSizeF() * self.view.logicalDpiY() / 72.0 if font.pointSizeF() > 0 \
            else float(font.pixelSize())
        return pixels / max(size, 1.0)

    def _area(self) -> tuple[float, float]:
        """The view's size for the graph, the minimap's strip included (it goes when the
        whole graph fits)."""
        m = self.view.viewportMargins()
        vp = self.view.viewport().size()
        return vp.width() + m.right(), vp.height() + m.bottom()

    def initial_view(self) -> None:
        """Readable from the top: the whole graph if it fits with labels read without effort
        (at most 1:1), else its width down to that zoom, starting at the inputs."""
        self._fit_readable(cap=1.0, floor=self.readable_zoom(COMFORTABLE_PX))

    def fit(self, whole: bool = False) -> None:
        """Fit the graph as far as its labels stay readable (the top of a big graph: scroll
        down from there); when that is what shows already, or ``whole``, all of it."""
        if self.graph is None or self.layout is None:
            return
        if not whole:
            before = (self.view.zoom(), self.visible_scene_rect())
            self._fit_readable(cap=1.5, floor=self.readable_zoom())
            after = (self.view.zoom(), self.visible_scene_rect())
            whole = _same_view(before, after)
        if whole:
            self._fit_whole()

    def _fit_whole(self) -> None:
        rect = self.content_rect()
        w, h = self._area()
        if rect.isEmpty() or w <= 0 or h <= 0:
            return
        self._set_scene_rect()
        self.view.set_zoom(min(1.5, (w - 20) / rect.width(), (h - 20) / rect.height()))
        self.minimap.arrange()
        self.view.centerOn(rect.center())
        self.view.zoomed.emit()

    def _fit_readable(self, cap: float, floor: float) -> None:
        rect = self.content_rect()
        w, h = self._area()
        if rect.isEmpty() or w <= 0 or h <= 0:
            return
        self._set_scene_rect()
        readable = min(floor, cap)
        whole = min(cap, (w - 20) / rect.width(), (h - 20) / rect.height())
        if whole >= readable:
            self.view.set_zoom(whole)
            self.minimap.arrange()
            self.view.centerOn(rect.center())
            self.view.zoomed.emit()
            return
        # too big to read whole: the overview strip shows; fit the width that is left
        self.view.set_zoom(readable)
        self.minimap.arrange()
        vp = self.view.viewport().size()
        scale = max(readable, min(cap, (vp.width() - 20) / rect.width()))
        self.view.set_zoom(scale)
        self.minimap.arrange()
        vp = self.view.viewport().size()
        half_w = vp.width() / (2 * scale)
        cx = rect.center().x()
        if rect.width() * scale > vp.width():
            # centre on the boxes at the top (inputs, first layers), not on wide wrappers
            top = rect.top() + vp.height() / scale
            boxes = [it.sceneBoundingRect() for it in self.items.values()
                     if not (isinstance(it, GI.GroupItem) and it.is_open)
                     and it.sceneBoundingRect().top() < top]
            cx = rect.left() + half_w
            if boxes:
                left = min(b.left() for b in boxes)
                right = max(b.right() for b in boxes)
                cx = (left + right) / 2 if (right - left) * scale <= vp.width() - 20 \
                    else left - 10 + half_w
        self.view.centerOn(cx, rect.top() + vp.height() / (2 * scale))
        self.view.zoomed.emit()

    def toggle(self, group_id: str) -> None:
        if group_id in self.open_groups:
            self.close_group(group_id)
        else:
            self.open_group(group_id)

    def chain(self, group_id: str) -> list[str]:
        """``group_id`` and the groups below it that are the only thing their parent holds:
        opening a wrapper around a single group opens that group too, down to the first one
        with several children or with ops."""
        g = self.graph
        out = [group_id]
        group = g.groups[group_id]
        while len(group.children) == 1 and g.is_group(group.children[0]):
            group = g.groups[group.children[0]]
            out.append(group.id)
        return out

    def open_group(self, group_id: str) -> None:
        """Open a group (and the chain of single groups inside it), keeping it where it was on
        the screen."""
        anchor = self._anchor(group_id)
        self.open_groups.update(self.chain(group_id))
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
        return QPointF(self.view.mapFromScene(item.sceneBoundingRect().topLeft()))

    def _restore_anchor(self, item_id, anchor) -> None:
        """Keep the box that was opened or closed where it was on screen: scroll by what it
        moved, widening the scrollable area where the graph no longer reaches."""
        item = self.items.get(item_id)
        if item is None or anchor is None:
            return
        corner = item.sceneBoundingRect().topLeft()
        zoom = self.view.zoom()
        vp = self.view.viewport().size()
        wanted = QRectF(corner.x() - anchor.x() / zoom, corner.y() - anchor.y() / zoom,
                        vp.width() / zoom, vp.height() / zoom)
        self._set_scene_rect(wanted.united(self.visible_scene_rect()))
        h, v = self.view.horizontalScrollBar(), self.view.verticalScrollBar()
        for _ in range(2):   # the scroll bars may come or go with the first step
            d = QPointF(self.view.mapFromScene(corner)) - anchor
            if abs(d.x()) < 1 and abs(d.y()) < 1:
                break
            h.setValue(h.value() + round(d.x()))
            v.setValue(v.value() + round(d.y()))
        self.minimap.update()

    def open_all(self) -> None:
        if self.graph is None:
            return
        self.open_groups = set(self.graph.groups) - {G.ROOT}
        self.rebuild(keep_view=False)
        self.initial_view()

    def reset_view(self) -> None:
        if self.graph is None:
            return
        self.open_groups = G.default_open_groups(self.graph)
        self.rebuild(keep_view=False)
        self.initial_view()

    # -- selection and search ---------------------------------------------------------
    def select(self, item_id: str, center: bool = True) -> bool:
        """Select a node (opening the groups around it) or a group; centre it (``center``)
        or scroll it into view."""
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
            if self.view.zoom() < self.readable_zoom():
                self.view.set_zoom(max(self.readable_zoom(), 0.8))
                self.minimap.arrange()
            self.view.centerOn(item)
            self.view.zoomed.emit()
        else:
            self.reveal(item_id)
        return True

    def reveal(self, item_id: str) -> None:
        """Scroll so the box (an open group: its header) is in view, with some room."""
        item = self.items.get(item_id)
        if item is None:
            return
        rect = item.sceneBoundingRect()
        if isinstance(item, GI.GroupItem) and item.is_open:
            rect.setHeight(GI.GroupItem.HEADER + 8)
        self.view.ensureVisible(rect, 40, 40)

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

    # -- the keyboard ---------------------------------------------------------------------
    def navigate(self, action: str) -> None:
        """What the view's keys do: arrows move the selection along edges (up, down) or in
        its layer (left, right); Enter goes into a group (opening it) or shows a node; Esc
        or Backspace closes the group the selection is in."""
        if self.graph is None or self.layout is None:
            return
        layout = self.layout
        current = self.selected_id()
        if current not in layout.boxes:
            current = None
        if action in (NAV.UP, NAV.DOWN, NAV.LEFT, NAV.RIGHT):
            if current is None:
                r = self.visible_scene_rect()
                target = NAV.start(layout, (r.left(), r.top(), r.right(), r.bottom()))
            else:
                target = NAV.step(layout, current, action)
            if target is not None:
                self.select(target, center=False)
        elif action == "enter" and current is not None:
            self._enter(current)
        elif action == "back" and current is not None:
            box = layout.boxes[current]
            group = current if box.kind == "open" else box.parent
            if group:
                self.close_group(group)
                self.select(group, center=False)

    def _enter(self, item_id: str) -> None:
        g = self.graph
        if g.is_group(item_id):
            if item_id not in self.open_groups:
                self.open_group(item_id)
            # into the innermost group of the chain just opened, at its top
            target = item_id
            while target is not None and self.layout.boxes[target].kind == "open":
                target = NAV.first_inside(self.layout, target)
            if target is not None:
                self.select(target, center=False)
            return
        hits = self.search_hits
        if hits and 0 <= self.search_pos < len(hits) and hits[self.search_pos] == item_id \
                and self.search.text().strip():
            self.find_next()    # Enter goes on through the matches, as in the find box
            return
        self.show_details(item_id)
        sizes = self.splitter.sizes()
        if len(sizes) > 1 and sizes[1] == 0:   # the details pane was pushed shut: open it
            self.splitter.setSizes([max(1, sizes[0] - 300), 300])
        self.reveal(item_id)

    # -- find -----------------------------------------------------------------------------
    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def clear_search(self) -> None:
        """Forget the find box's text, its matches and the highlighted one."""
        old = self.items.get(self.highlighted)
        if old is not None:
            old.highlighted = False
            old.update()
        self.highlighted = None
        self.search.clear()
        self.search_status.clear()
        self.search_hits, self.search_pos, self._searched = [], -1, None

    def find(self, text: str) -> list[str]:
        if self.graph is None:
            return []
        self.search_hits = self.graph.search(text)
        self.search_pos = -1
        return self.search_hits

    def find_next(self, step: int = 1) -> str | None:
        """Go to the next (``step`` -1: the previous) node matching the find box."""
        text = self.search.text()
        if self.graph is None or not text.strip():
            return None
        if not self.search_hits or self._searched != text:
            self.find(text)
            self._searched = text
            if step < 0:
                self.search_pos = 0
        if not self.search_hits:
            self.search_status.setText("no match")
            return None
        self.search_pos = (self.search_pos + step) % len(self.search_hits)
        hit = self.search_hits[self.search_pos]
        self.highlight(hit)
        self.search_status.setText(f"{self.search_pos + 1}/{len(self.search_hits)}")
        return hit

    def _find_from_box(self) -> None:
        # found: the keys go to the graph, so the arrows walk on from the match
        if self.find_next() is not None:
            self.view.setFocus(Qt.OtherFocusReason)

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
        self.minimap.refresh()

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
    def _settings(self) -> QSettings | None:
        if self.settings is not None:
            return self.settings
        settings = getattr(self.window(), "settings", None)
        return settings if isinstance(settings, QSettings) else None

    def proposed_export_path(self, kind: str | None = None) -> Path:
        """Where the save dialog starts: the folder used last, a name after the model and
        the graph (``mobilenet_v2-serving_default.png``)."""
        settings = self._settings()
        kind = kind or X.last_format(settings)
        title = self.graph.title if self.graph is not None else "graph"
        return X.last_folder(settings) / X.proposed_name(self.model_name, title, kind)

    def ask_export(self, whole: bool = True) -> str | None:
        """The save dialog, then the export; returns the path written (None: cancelled)."""
        if self.graph is None:
            return None
        start = self.proposed_export_path()
        png, svg = "PNG image (*.png)", "SVG drawing (*.svg)"
        filters = f"{png};;{svg}" if X.SVG_AVAILABLE else png
        what = "the whole graph" if whole else "the visible part of the graph"
        path, chosen = QFileDialog.getSaveFileName(self, f"Export {what}", str(start), filters,
                                                   svg if start.suffix == ".svg" else png)
        if not path:
            return None
        if Path(path).suffix.lower() not in (".png", ".svg"):
            path += ".svg" if chosen == svg else ".png"
        try:
            return self.export(path, whole=whole)
        except (OSError, TensorloupeError) as exc:   # a full disk, a folder we may not write to
            self._say(f"Export failed: {exc}")
            return None

    def export(self, path: str, whole: bool = True) -> str:
        """Write the whole graph (or the part on screen) as PNG or SVG, say so, and remember
        the folder for the next export."""
        rect = self.content_rect() if whole else self.visible_scene_rect()
        title = self.graph.title if self.graph else "graph"
        written = X.export_scene(self.scene, rect, path, title)
        X.remember(self._settings(), written)
        what = "the whole graph" if whole else "the visible part"
        note = ""
        if not written.lower().endswith(".svg"):
            scale = X.png_scale(rect)
            if scale < 0.75:
                note = f" (scaled to {scale:.0%} to keep the image openable; SVG keeps detail)"
        self._say(f"Exported {what} to {written}{note}")
        return written

    def _say(self, text: str) -> None:
        """A line in the window's status bar (in the find status when the panel is alone)."""
        self.message.emit(text)
        top = self.window()
        if isinstance(top, QMainWindow):
            top.statusBar().showMessage(text, 10000)
        else:
            fm = self.search_status.fontMetrics()
            self.search_status.setText(fm.elidedText(text, Qt.ElideMiddle, 320))
            self.search_status.setToolTip(text)

    # -- tree integration (the main window's panel protocol) -------------------------
    @classmethod
    def priority(cls, node) -> int:
        return 1 if graph_source(node) is not None else 0

    def show_node(self, node) -> None:
        build = graph_source(node)
        if build is not None:
            self.model_name = node.document().label
            self.load(build, label=node.label)


def _same_view(a, b) -> bool:
    """Whether two (zoom, visible scene rect) show the same thing, to a pixel."""
    (za, ra), (zb, rb) = a, b
    if abs(za - zb) > 1e-3 * za:
        return False
    tol = 2.0 / za
    return all(abs(x - y) <= tol for x, y in zip(ra.getCoords(), rb.getCoords()))
