"""The graph view: a signature's computation, a function or a whole graph, opened layer by layer.

    panel = GraphPanel()
    panel.set_graph(core.graph.graph_for_signature(meta_graph, "serving_default"))

The first view opens only the wrappers around a model (calls, the model's scope), so a Keras
model shows its layers; double-click a box to open it in place (its content is laid out on
its own, see core/layout.py), double-click an open group's header to close it. Drag to pan,
wheel to zoom, F to fit, Ctrl+F to find a node by name or op. The side pane shows the
selected node's attributes (decoded), its inputs and outputs as links, and functions it
calls as links that open their graph.

``show_graph(path, select, screenshot)`` opens a window with only this view (used by
``tensorloupe gui PATH --graph``).
"""
from __future__ import annotations

import html
import time

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QKeySequence, QPainter, QPen, QPixmap, QShortcut
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGraphicsScene, QGraphicsView,
                               QHBoxLayout, QLabel, QLineEdit, QSplitter, QTextBrowser,
                               QToolButton, QVBoxLayout, QWidget)

from tensorloupe.core import graph as G
from tensorloupe.core.errors import TensorloupeError
from tensorloupe.core.layout import NestedLayout

from . import graph_items as GI

try:  # QtSvg is part of PySide6-Essentials; keep PNG working if a build lacks it
    from PySide6.QtSvg import QSvgGenerator
except ImportError:  # pragma: no cover - depends on the Qt build
    QSvgGenerator = None

COLOR_MODES = ("op family", "time", "NaN / Inf")


def item_size(item_id: str, graph) -> tuple[float, float]:
    node = graph.nodes.get(item_id)
    if node is not None:
        return GI.node_size(node)
    return GI.group_size(graph.groups[item_id])


class GraphView(QGraphicsView):
    """Pan by dragging, zoom with the wheel around the cursor, F fits."""

    zoomed = Signal()

    def __init__(self, scene, parent=None):
        super().__init__(scene, parent)
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.DontSavePainterState, True)
        self.setCacheMode(QGraphicsView.CacheBackground)
        self.setBackgroundBrush(QColor("#fbfbfc"))
        self.setAlignment(Qt.AlignTop | Qt.AlignHCenter)

    def wheelEvent(self, event):
        delta = event.angleDelta().y()
        if not delta:
            return
        self.zoom_by(1.0015 ** delta)

    def zoom_by(self, factor: float) -> None:
        scale = self.transform().m11()
        factor = max(0.02 / scale, min(4.0 / scale, factor))
        self.scale(factor, factor)
        self.zoomed.emit()

    def zoom(self) -> float:
        return self.transform().m11()

    def keyPressEvent(self, event):
        if event.key() == Qt.Key_F and not event.modifiers():
            self.parent_panel().fit()
            return
        if event.key() in (Qt.Key_Plus, Qt.Key_Equal):
            self.zoom_by(1.25)
            return
        if event.key() == Qt.Key_Minus:
            self.zoom_by(0.8)
            return
        super().keyPressEvent(event)

    def parent_panel(self):
        w = self.parent()
        while w is not None and not isinstance(w, GraphPanel):
            w = w.parent()
        return w

    def scrollContentsBy(self, dx, dy):
        super().scrollContentsBy(dx, dy)
        self.zoomed.emit()


class Minimap(QWidget):
    """An overview of the whole scene (rendered once per layout) with the visible area
    marked; click or drag to move there."""

    def __init__(self, view: GraphView, parent=None):
        super().__init__(parent)
        self.view = view
        self.pixmap = QPixmap()
        self.scene_rect = QRectF()
        self.setFixedSize(170, 200)
        self.setCursor(Qt.PointingHandCursor)
        view.zoomed.connect(self.update)

    def refresh(self) -> None:
        scene = self.view.scene()
        rect = scene.itemsBoundingRect()
        self.scene_rect = rect
        if rect.isEmpty():
            self.pixmap = QPixmap()
            self.update()
            return
        ratio = rect.width() / rect.height()
        w, h = 170, 200
        if ratio > w / h:
            h = max(40, int(w / ratio))
        else:
            w = max(40, int(h * ratio))
        self.setFixedSize(w, h)   # no empty margins around a very tall or wide graph
        panel = self.view.parent_panel()
        if panel is not None:
            panel._place_overlays()
        image = QImage(w, h, QImage.Format_ARGB32_Premultiplied)
        image.fill(QColor(255, 255, 255, 235))
        p = QPainter(image)
        scene.render(p, QRectF(0, 0, w, h), rect)
        p.end()
        self.pixmap = QPixmap.fromImage(image)
        self.update()

    def _target(self) -> QRectF:
        if self.pixmap.isNull():
            return QRectF()
        pw, ph = self.pixmap.width(), self.pixmap.height()
        return QRectF((self.width() - pw) / 2, (self.height() - ph) / 2, pw, ph)

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(255, 255, 255, 200))
        p.setPen(QColor("#999"))
        p.drawRect(self.rect().adjusted(0, 0, -1, -1))
        if self.pixmap.isNull():
            return
        target = self._target()
        p.drawPixmap(target.topLeft(), self.pixmap)
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        sx = target.width() / self.scene_rect.width()
        sy = target.height() / self.scene_rect.height()
        r = QRectF(target.left() + (visible.left() - self.scene_rect.left()) * sx,
                   target.top() + (visible.top() - self.scene_rect.top()) * sy,
                   visible.width() * sx, visible.height() * sy).intersected(target)
        p.setPen(QPen(QColor("#1565c0"), 1.5))
        p.setBrush(QColor(21, 101, 192, 40))
        p.drawRect(r)

    def _go(self, pos) -> None:
        target = self._target()
        if target.isEmpty():
            return
        fx = (pos.x() - target.left()) / target.width()
        fy = (pos.y() - target.top()) / target.height()
        self.view.centerOn(self.scene_rect.left() + fx * self.scene_rect.width(),
                           self.scene_rect.top() + fy * self.scene_rect.height())

    def mousePressEvent(self, event):
        self._go(event.position())

    def mouseMoveEvent(self, event):
        if event.buttons() & Qt.LeftButton:
            self._go(event.position())


class GraphPanel(QWidget):
    """The graph view with its toolbar, legend, minimap and details pane."""

    name = "Graph"
    node_selected = Signal(str)        # node id (or group id) chosen in the view
    function_requested = Signal(str)   # a function link was clicked

    def __init__(self, parent=None):
        super().__init__(parent)
        self.graph: G.Graph | None = None
        self.layouter: NestedLayout | None = None
        self.open_groups: set[str] = set()
        self.items: dict = {}
        self.edges: list = []
        self.history: list = []
        self.search_hits: list[str] = []
        self.search_pos = -1
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
        svg.setEnabled(QSvgGenerator is not None)
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
        QShortcut(QKeySequence.Find, self, activated=self.focus_search)
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
    def set_graph(self, graph: G.Graph, open_groups=None, keep_history: bool = False) -> None:
        if keep_history and self.graph is not None:
            self.history.append((self.graph, set(self.open_groups)))
        elif not keep_history:
            self.history.clear()
        self.back_button.setVisible(bool(self.history))
        self.graph = graph
        self.layouter = NestedLayout(graph, item_size, header_width=GI.open_header_width)
        self.open_groups = set(open_groups) if open_groups is not None else \
            G.default_open_groups(graph)
        hidden = f" · {len(graph.hidden)} save/restore nodes hidden" if graph.hidden else ""
        self.title.setText(f"{graph.title} — {graph.root.op_count} ops, "
                           f"{GI.count_text(graph.root.param_count)} params{hidden}")
        self.search_hits, self.search_pos = [], -1
        self.rebuild()
        self.initial_view()
        self.show_details(None)

    def go_back(self) -> None:
        if not self.history:
            return
        graph, opened = self.history.pop()
        self.set_graph(graph, opened, keep_history=True)
        self.history.pop()  # set_graph pushed the graph we left; going back forgets it
        self.back_button.setVisible(bool(self.history))

    def rebuild(self) -> None:
        """Lay out the visible part and refill the scene."""
        if self.graph is None:
            return
        t0 = time.perf_counter()
        layout = self.layouter.layout(self.open_groups)
        t1 = time.perf_counter()
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
        self.last_layout_seconds = t1 - t0
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
                     if not getattr(it, "is_open", False) and it.sceneBoundingRect().top() < top]
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
        return getattr(items[0], "item_id", None) if items else None

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
        if not self.search_hits or getattr(self, "_searched", None) != text:
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
            self.details.setHtml(self._summary_html())
        elif item_id in g.nodes:
            self.details.setHtml(node_html(g, g.nodes[item_id]))
        elif item_id in g.groups:
            self.details.setHtml(group_html(g, g.groups[item_id], item_id in self.open_groups))

    def _summary_html(self) -> str:
        g = self.graph
        fam = {}
        for n in g.nodes.values():
            fam[n.family] = fam.get(n.family, 0) + 1
        rows = "".join(f"<tr><td>{html.escape(G.FAMILY_LABELS[k])}</td><td align=right>{v}</td></tr>"
                       for k, v in sorted(fam.items(), key=lambda kv: -kv[1]))
        hidden = (f"<p>{len(g.hidden)} save/restore nodes are hidden.</p>" if g.hidden else "")
        return (f"<h3>{html.escape(g.title)}</h3><p>{g.root.op_count} ops in "
                f"{len(g.groups) - 1} groups, {g.root.param_count:,} parameters.</p>{hidden}"
                f"<table>{rows}</table><p style='color:#666'>Double-click a box to open it; "
                f"select a node to see its attributes. Ctrl+F finds a node.</p>")

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

    def open_function(self, name: str) -> None:
        g = self.graph
        if g is None or g.library is None:
            return
        try:
            fg = G.graph_for_function(g.library, name)
        except TensorloupeError as exc:
            self.details.setHtml(f"<p style='color:#a00'>{html.escape(str(exc))}</p>")
            return
        self.set_graph(fg, keep_history=True)

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
        if str(path).lower().endswith(".svg"):
            if QSvgGenerator is None:
                raise TensorloupeError("SVG export needs PySide6.QtSvg, which this Qt lacks")
            gen = QSvgGenerator()
            gen.setFileName(str(path))
            gen.setSize(QSize(int(rect.width()), int(rect.height())))
            gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
            gen.setTitle(self.graph.title if self.graph else "graph")
            p = QPainter(gen)
            self.scene.render(p, QRectF(0, 0, rect.width(), rect.height()), rect)
            p.end()
            return str(path)
        scale = 2.0 if not whole else min(2.0, 8000 / max(rect.width(), rect.height(), 1))
        image = QImage(max(1, int(rect.width() * scale)), max(1, int(rect.height() * scale)),
                       QImage.Format_ARGB32_Premultiplied)
        image.fill(QColor("white"))
        p = QPainter(image)
        p.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.scene.render(p, QRectF(0, 0, image.width(), image.height()), rect)
        p.end()
        if not image.save(str(path)):
            raise TensorloupeError(f"could not write {path}")
        return str(path)

    # -- tree integration (the main window's panel protocol) -------------------------
    @classmethod
    def priority(cls, node) -> int:
        return 1 if graph_source(node) is not None else 0

    def show_node(self, node) -> None:
        graph = graph_source(node)
        if graph is not None:
            self.set_graph(graph())

    def is_busy(self) -> bool:
        return False


def graph_source(tree_node):
    """A function building the Graph for a tree item of gui.nodes, or None."""
    payload = getattr(tree_node, "payload", None)
    kind = getattr(tree_node, "kind", None)
    from tensorloupe.core.graph_file import GraphModel
    from tensorloupe.core.saved_model import MetaGraph
    if kind == "signature" and isinstance(payload, tuple) and len(payload) == 2:
        sig, mg = payload
        return lambda: G.graph_for_signature(mg, sig.key)
    if isinstance(payload, MetaGraph):
        return lambda: G.build_graph(payload, "graph")
    if isinstance(payload, GraphModel):
        return lambda: G.build_graph(payload)
    if kind == "library function" and payload is not None:
        owner = _graph_owner(tree_node)
        name = payload.signature.name
        if isinstance(owner, MetaGraph):
            proto = owner.proto
            return lambda: G.graph_for_function(proto.graph_def.library, name,
                                                op_defs=proto.meta_info_def.stripped_op_list)
        if isinstance(owner, GraphModel):
            return lambda: G.build_graph(owner, name)
    return None


def _graph_owner(tree_node):
    """The MetaGraph or GraphModel a tree item belongs to (None when it has none)."""
    from tensorloupe.core.graph_file import GraphModel
    from tensorloupe.core.saved_model import MetaGraph
    node = tree_node
    while node is not None:
        if isinstance(node.payload, (MetaGraph, GraphModel)):
            return node.payload
        node = node.parent
    return None


# ---------------------------------------------------------------------------------------
# Details pane

def _link(kind: str, target: str, text: str) -> str:
    from urllib.parse import quote
    return f'<a href="{kind}:{quote(target, safe="")}">{html.escape(text)}</a>'


def attr_text(attr, library_names=()) -> str:
    """One attribute value, decoded, as HTML (functions as links)."""
    from tensorloupe.core import dtypes
    from tensorloupe.core.tensors import shape_text
    kind = attr.WhichOneof("value")
    if kind == "type":
        return html.escape(dtypes.name(int(attr.type)))
    if kind == "shape":
        return html.escape(shape_text(attr.shape))
    if kind == "func":
        name = attr.func.name
        return _link("fn", name, name) if name in library_names else html.escape(name)
    if kind == "tensor":
        return html.escape(tensor_summary(attr.tensor))
    if kind == "s":
        return html.escape(repr(attr.s.decode("utf-8", "replace"))[:200])
    if kind == "list":
        lst = attr.list
        if lst.type:
            return html.escape(", ".join(dtypes.name(int(t)) for t in lst.type))
        if lst.shape:
            return html.escape(", ".join(shape_text(s) for s in lst.shape))
        if lst.func:
            return ", ".join(_link("fn", f.name, f.name) for f in lst.func)
        if lst.i:
            return html.escape(str(list(lst.i)))
        if lst.f:
            return html.escape(str([round(v, 6) for v in lst.f]))
        if lst.s:
            return html.escape(str([s.decode("utf-8", "replace") for s in lst.s][:20]))
        if lst.b:
            return html.escape(str(list(lst.b)))
        return "[]"
    if kind in ("i", "f", "b"):
        return html.escape(str(getattr(attr, kind)))
    return ""


def tensor_summary(proto) -> str:
    """A short text for a Const's value: shape, dtype and a few values or statistics."""
    import numpy as np
    from tensorloupe.core import dtypes
    from tensorloupe.core.tensors import shape_text, to_numpy
    head = f"{dtypes.name(int(proto.dtype))} {shape_text(proto.tensor_shape)}"
    try:
        arr = to_numpy(proto)
    except Exception as exc:  # noqa: BLE001 - a value we can't decode is described, not fatal
        return f"{head}: ({exc})"
    if arr.size <= 8:
        vals = arr.tolist()
        if isinstance(vals, list):
            vals = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in
                    np.ravel(arr).tolist()]
        elif isinstance(vals, bytes):
            vals = vals.decode("utf-8", "replace")
        return f"{head} = {vals}"
    if arr.dtype.kind in "fiu":
        a = arr.astype(np.float64)
        return (f"{head}: min {np.nanmin(a):.4g}, max {np.nanmax(a):.4g}, "
                f"mean {np.nanmean(a):.4g}")
    return head


def _edge_row(g, e, incoming: bool) -> str:
    other = e.src if incoming else e.dst
    node = g.nodes[other]
    name = node.label if node.op == G.OUTPUT_OP else node.name
    port = "" if e.control else f":{e.src_index}"
    label = "control" if e.control else g.edge_label(e)
    text = f"^{name}" if e.control else f"{name}{port}" if incoming else name
    return f"<li>{_link('node', other, text)} <span style='color:#666'>{html.escape(label)}</span></li>"


def node_html(g, node) -> str:
    out = [f"<h3>{html.escape(node.op)}</h3><p><b>{html.escape(node.name)}</b></p>"]
    where = g.ancestors(node.id)
    calls = [g.groups[x] for x in where if g.groups[x].kind == "call"]
    if node.function:
        out.append(f"<p>in function {_link('fn', node.function, node.function)}</p>")
    if calls:
        out.append("<p>inside call " + " ← ".join(html.escape(c.name) for c in calls) + "</p>")
    if node.label and node.label != node.name:
        out.append(f"<p>{html.escape(node.label)}</p>")
    for k, v in node.info.items():
        out.append(f"<p>{html.escape(str(k))}: {html.escape(str(v))}</p>")
    if node.params:
        out.append(f"<p>{node.params:,} parameters</p>")
    traced = g.trace.get(node.id) if g.trace else None
    if traced:
        bits = []
        if traced.get("seconds") is not None:
            bits.append(f"{float(traced['seconds']) * 1000:.3f} ms")
        if traced.get("nan"):
            bits.append("<b style='color:#c00'>NaN/Inf in output</b>")
        out.append("<p>run: " + ", ".join(bits) + "</p>")
    if node.inputs:
        out.append("<p><b>Inputs</b></p><ul>" +
                   "".join(_edge_row(g, e, True) for e in node.inputs) + "</ul>")
    if node.outputs:
        out.append("<p><b>Outputs</b></p><ul>" +
                   "".join(_edge_row(g, e, False) for e in node.outputs[:50]) + "</ul>")
        if len(node.outputs) > 50:
            out.append(f"<p>… {len(node.outputs) - 50} more</p>")
    attrs = node.attrs()
    if attrs:
        names = {f.signature.name for f in g.library.function} if g.library else set()
        rows = "".join(f"<tr><td valign=top><i>{html.escape(k)}</i></td>"
                       f"<td>{attr_text(v, names)}</td></tr>"
                       for k, v in attrs.items() if k != "_output_shapes" or True)
        out.append(f"<p><b>Attributes</b></p><table cellspacing=3>{rows}</table>")
    return "".join(out)


def group_html(g, group, is_open: bool) -> str:
    kind = "call of " + _link("fn", group.function, group.function) if group.kind == "call" \
        else "name scope"
    out = [f"<h3>{html.escape(group.name)}</h3><p>{kind}</p>",
           f"<p>{group.op_count} ops, {group.param_count:,} parameters</p>",
           f"<p style='color:#666'>Double-click to {'close' if is_open else 'open'}.</p>"]
    if group.call is not None:
        attrs = group.call.attrs()
        names = {f.signature.name for f in g.library.function} if g.library else set()
        rows = "".join(f"<tr><td><i>{html.escape(k)}</i></td><td>{attr_text(v, names)}</td></tr>"
                       for k, v in attrs.items() if k in ("f", "Tin", "Tout", "config_proto")
                       and k != "config_proto")
        out.append(f"<table>{rows}</table>")
    ops = {}
    for nid in g.descendant_nodes(group.id):
        op = g.nodes[nid].op
        ops[op] = ops.get(op, 0) + 1
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td align=right>{v}</td></tr>"
                   for k, v in sorted(ops.items(), key=lambda kv: -kv[1])[:25])
    out.append(f"<p><b>Ops</b></p><table>{rows}</table>")
    return "".join(out)


# ---------------------------------------------------------------------------------------
# Standalone window

def show_graph(path, select: str | None = None, screenshot: str | None = None,
               size=(1400, 900), open_groups=(), focus: str | None = None) -> int:
    """Open ``path`` (anything core.open reads) and show the graph ``select`` names
    ("serve > serving_default", a function name; default: serving_default or the whole
    graph). With ``screenshot``, render offscreen to that PNG and return."""
    import os
    import sys
    if screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication
    import tensorloupe.core as core
    app = QApplication.instance() or QApplication([sys.argv[0]])
    graph = G.build_graph(core.open(path), select)
    panel = GraphPanel()
    panel.setWindowTitle(f"Tensorloupe graph — {graph.title}")
    panel.resize(*size)
    panel.show()
    app.processEvents()
    panel.set_graph(graph)
    for gid in open_groups:
        match = [x for x in graph.groups if x.rstrip(":/") == gid
                 or x.rstrip(":/").endswith(("::" + gid, "/" + gid))]
        if match:
            panel.open_groups.add(match[0])
    if open_groups:
        panel.rebuild()
        panel.initial_view()
    if focus:
        hits = graph.search(focus)
        if hits:
            panel.select(hits[0])
    if screenshot:
        for _ in range(3):
            app.processEvents()
        from pathlib import Path
        out = Path(screenshot)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not panel.grab().save(str(out)):
            raise TensorloupeError(f"could not write {out}")
        print(out)
        panel.close()
        panel.scene.blockSignals(True)
        panel.deleteLater()
        app.processEvents()
        return 0
    return app.exec()


# ---------------------------------------------------------------------------------------
# In the main window (issue 7): a lazily built "Graph" tab, tree <-> graph selection, and
# colouring by the last run's trace. The window calls GraphHost at a few marked hooks.

def trace_for_graph(graph, records) -> dict:
    """A run's trace records (core.engine NodeRecord) keyed by the graph's node ids.

    A record names its node inside the functions it ran in (``function_path``); a graph
    node id spells the call nodes that lead to it, so both are matched through the
    functions of the calls above each graph node. Nodes that ran several times (loops) add
    up their time; NaN/Inf in any run counts."""
    by_key: dict = {}
    for nid, node in graph.nodes.items():
        fns = tuple(graph.groups[gid].function for gid in reversed(graph.ancestors(nid))
                    if graph.groups[gid].kind == "call")
        by_key.setdefault((fns, node.name), nid)
        by_key.setdefault(((), nid), nid)
    out: dict = {}
    for r in records or ():
        nid = by_key.get((tuple(r.function_path), r.name))
        if nid is None and not r.function_path:
            nid = by_key.get(((), r.name))
        if nid is None:
            continue
        entry = out.get(nid)
        bad = bool(r.has_nan or r.has_inf)
        if entry is None:
            out[nid] = {"seconds": float(r.seconds or 0.0), "nan": bad,
                        "shapes": list(r.shapes), "dtypes": _enum_dtypes(r.dtypes)}
        else:
            entry["seconds"] += float(r.seconds or 0.0)
            entry["nan"] = entry["nan"] or bad
    return out


def _enum_dtypes(names) -> list:
    """Trace dtype names (``float32``) as DataType enums for edge labels (None if unknown)."""
    from tensorloupe.core import dtypes
    import numpy as np
    out = []
    for name in names:
        try:
            out.append(int(dtypes.from_numpy(np.dtype(name))))
        except (TypeError, ValueError, KeyError, TensorloupeError, AttributeError):
            out.append(None)
    return out


def _graph_key(tree_node):
    """What identifies the graph a tree item shows (to avoid rebuilding the same one)."""
    payload = tree_node.payload
    if isinstance(payload, tuple):
        return ("sig", id(payload[1]), payload[0].key)
    return ("obj", id(payload))


class GraphTab(QWidget):
    """Holds a GraphPanel that is created and filled only when this tab is shown, so
    selecting tree items never waits for a graph to be built."""

    node_selected = Signal(object, str)   # (the tree item whose graph this is, item id)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.panel: GraphPanel | None = None
        self.tree_node = None
        self.shown_key = None
        self.traces: dict = {}            # graph key -> trace records of its last run
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.message = QLabel("Select a signature, MetaGraphDef, function or graph.")
        self.message.setAlignment(Qt.AlignCenter)
        self.message.setWordWrap(True)
        self._layout.addWidget(self.message)

    def set_node(self, tree_node) -> None:
        self.tree_node = tree_node
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
        return self.panel

    def refresh(self) -> GraphPanel | None:
        """Build the graph of the current tree item if it is not the one shown."""
        node = self.tree_node
        source = graph_source(node) if node is not None else None
        if source is None:
            return self.panel
        key = _graph_key(node)
        if key == self.shown_key and self.panel is not None:
            return self.panel
        panel = self.ensure_panel()
        try:
            graph = source()
        except TensorloupeError as exc:
            self.message.setText(f"The graph can not be drawn: {exc}")
            self.message.show()
            panel.hide()
            self.shown_key = None
            return panel
        self.message.hide()
        panel.show()
        self.shown_key = key
        panel.set_graph(graph)
        records = self.traces.get(key)
        if records is not None:
            panel.set_trace(trace_for_graph(graph, records))
        return panel

    def set_run_trace(self, tree_node, records) -> None:
        """Remember a run's trace for ``tree_node``'s graph; apply it if that graph is shown."""
        key = _graph_key(tree_node)
        self.traces = {key: records}     # only the last run is kept (traces can be big)
        if self.panel is not None and key == self.shown_key and self.panel.graph is not None:
            self.panel.set_trace(trace_for_graph(self.panel.graph, records))

    def _on_node_selected(self, item_id: str) -> None:
        if self.tree_node is not None:
            self.node_selected.emit(self.tree_node, item_id)


class _SideTabs(QWidget):
    """Details | Graph tabs whose bar, when hidden, takes no room (a QTabWidget would still
    add its height to the window's minimum size)."""

    def __init__(self, details: QWidget, graph: QWidget, parent=None):
        super().__init__(parent)
        from PySide6.QtWidgets import QStackedWidget, QTabBar
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


def _strip_copy_suffix(name: str) -> str:
    """``dense/kernel_1`` -> ``dense/kernel`` (Keras 3 uniquifies graph variable names)."""
    import re
    return re.sub(r"_\d+$", "", name)


class GraphHost:
    """The main window's side of the graph view: the Graph tab in the run panel, a graph
    tab beside the other panels for MetaGraphDefs, graphs and library functions, Ctrl+G,
    "Show in graph" on tree items, and selection going both ways."""

    def __init__(self, window):
        self.window = window
        self.syncing = False             # the tree selection is being set from the graph
        self._pending = None             # (graph tab, item id) waiting for a slow tree load
        self.side_tab = GraphTab()
        self.side_tab.node_selected.connect(
            lambda host, item: self.reveal_in_tree(host, item, self.side_tab))
        self.run_tabs: list = []         # (RunPanel, GraphTab)

    # -- hooks called by the window -----------------------------------------------------
    def wrap(self, panels: QWidget) -> QWidget:
        """Put the window's panel stack in a tab widget whose second tab is the graph
        (its tab bar shows only for items with a graph that no run panel shows)."""
        self.outer = _SideTabs(panels, self.side_tab)
        return self.outer

    def install(self) -> None:
        from PySide6.QtGui import QAction
        w = self.window
        action = QAction("Show &Graph", w, shortcut=QKeySequence("Ctrl+G"),
                         triggered=self.show_graph_tab)
        action.setShortcutContext(Qt.WindowShortcut)
        w.addAction(action)
        for menu_action in w.menuBar().actions():
            if menu_action.text() == "&View":
                menu_action.menu().addSeparator()
                menu_action.menu().addAction(action)
        self.graph_action = action
        w.tree.setContextMenuPolicy(Qt.CustomContextMenu)
        w.tree.customContextMenuRequested.connect(self._tree_menu)
        w.model.children_loaded.connect(self._retry_pending)

    def panel_created(self, panel) -> None:
        tabs = getattr(panel, "tabs", None)
        if tabs is None or not hasattr(panel, "run_finished"):
            return
        tab = GraphTab()
        tab.node_selected.connect(lambda host, item, t=tab: self.reveal_in_tree(host, item, t))
        tabs.addTab(tab, "Graph")
        tabs.setTabToolTip(tabs.indexOf(tab), "The signature's graph (Ctrl+G)")
        panel.graph_tab = tab
        panel.run_finished.connect(lambda result, p=panel: self._on_run(p, result))
        self.run_tabs.append((panel, tab))

    def node_shown(self, node, panel) -> None:
        tab = getattr(panel, "graph_tab", None)
        if tab is not None:
            tab.set_node(node)
            self.outer.tabBar().hide()
            self.outer.setCurrentIndex(0)
            return
        has_graph = graph_source(node) is not None
        self.outer.tabBar().setVisible(has_graph)
        if has_graph:
            self.side_tab.set_node(node)
        elif self.outer.currentIndex() != 0:
            self.outer.setCurrentIndex(0)

    # -- the graph tab ------------------------------------------------------------------
    def current_graph_tab(self) -> GraphTab | None:
        panel = self.window.current_panel()
        tab = getattr(panel, "graph_tab", None)
        if tab is not None:
            return tab
        return self.side_tab if self.outer.tabBar().isVisible() else None

    def show_graph_tab(self) -> GraphPanel | None:
        """Ctrl+G: switch to the graph of the selected item (None if it has none)."""
        panel = self.window.current_panel()
        tab = getattr(panel, "graph_tab", None)
        if tab is not None:
            panel.tabs.setCurrentWidget(tab)
        elif self.outer.tabBar().isVisible():
            self.outer.setCurrentWidget(self.side_tab)
            tab = self.side_tab
        else:
            self.window.statusBar().showMessage("The selected item has no graph to show.", 4000)
            return None
        return tab.refresh()

    def graph_panel(self) -> GraphPanel | None:
        tab = self.current_graph_tab()
        return tab.panel if tab is not None else None

    def _on_run(self, panel, result) -> None:
        trace = getattr(result, "trace", None)
        node = panel.graph_tab.tree_node
        if trace is None or node is None:
            return
        panel.graph_tab.set_run_trace(node, list(trace.records))

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
        from .. import nodes as N
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
            if gnode.node_def is not None and "shared_name" in gnode.node_def.attr:
                shared = gnode.node_def.attr["shared_name"].s.decode("utf-8", "replace")
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
        from .. import nodes as N
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
            return (host, ("call", tree_node.payload.signature.name)) if host is not None \
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
            elif hasattr(payload, "name") and hasattr(payload, "op"):
                name = payload.name
            else:
                return None
            return host, ("name", name)
        return None

    def _owner_node(self, tree_node):
        from .. import nodes as N
        node = tree_node
        while node is not None and node.kind not in (N.META_GRAPH, N.GRAPH):
            node = node.parent
        return node

    def _main_signature(self, tree_node):
        """The serving signature of the MetaGraph holding ``tree_node`` (SavedModels)."""
        from .. import nodes as N
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
        panel = self.show_graph_tab()
        if panel is None or panel.graph is None:
            return False
        if what is None:
            return True
        return self._select_in(panel, what)

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
        from PySide6.QtWidgets import QMenu
        w = self.window
        index = w.tree.indexAt(pos)
        if not index.isValid():
            return
        from ..tree_model import NODE_ROLE
        node = index.data(NODE_ROLE)
        menu = QMenu(w.tree)
        action = menu.addAction("Show in graph")
        action.setEnabled(self.graph_target(node) is not None)
        action.triggered.connect(lambda: self.show_in_graph(node))
        menu.exec(w.tree.viewport().mapToGlobal(pos))


def select_for_graph(window, labels: list[str]) -> GraphPanel:
    """``tensorloupe gui PATH --graph``: select the item ``labels`` names (a tree path, or
    the shorter ``tags > signature_or_function``; default the serving signature, else the
    document) and switch to its graph tab, giving the graph most of the window."""
    from tensorloupe.core.errors import InputError
    from .. import nodes as N
    from ..workers import wait_idle
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
        node = window.select_path(main.path() if main is not None else [])
    if graph_source(node) is None:
        raise InputError(f"{' > '.join(node.path()) or node.label!r} has no graph; select a "
                         "signature, a MetaGraphDef, a library function or a graph")
    # the tree keeps what is needed to see where the graph belongs; the graph gets the rest
    total = sum(window.splitter.sizes()) or window.width()
    window.splitter.setSizes([min(420, total // 3), total - min(420, total // 3)])
    panel = window.graph_host.show_graph_tab()
    if panel is None or panel.graph is None:
        raise InputError(f"the graph of {node.label!r} could not be drawn")
    from PySide6.QtCore import QCoreApplication
    QCoreApplication.processEvents()
    inner = panel.splitter.width()
    if inner > 700:
        panel.splitter.setSizes([inner - 240, 240])
        QCoreApplication.processEvents()
    panel.initial_view()
    return panel
