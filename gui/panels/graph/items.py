"""The items of the graph view's scene: op nodes, group boxes and edges, and the sizes of
their boxes for the layout.

Items paint themselves from a few cached strings; text is skipped when the view is zoomed
far out (level of detail), so a scene of thousands of boxes still pans smoothly.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import (QBrush, QColor, QFont, QFontMetricsF, QPainterPath, QPen,
                           QPolygonF)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyle

from tensorloupe.core.graph import FAMILIES, FAMILY_LABELS, INPUT_OP, OUTPUT_OP, dims_text

# fill, border per op family (colour-blind friendly-ish, light fills so text stays readable)
FAMILY_COLORS = {
    "math": ("#dbeafe", "#3b6fb6"),
    "nn": ("#fde2c8", "#c0651a"),
    "array": ("#e4f3d8", "#4f8a2b"),
    "control": ("#f3dcf0", "#9a3d8f"),
    "variable": ("#fff3bf", "#a88a12"),
    "string": ("#d9f2f2", "#23827f"),
    "io": ("#e9e2f7", "#6b53a6"),
    "input": ("#ffffff", "#222222"),
    "other": ("#eeeeee", "#777777"),
}
GROUP_FILL = "#f4f6fa"
GROUP_BORDER = "#7c8aa5"
CALL_FILL = "#f7f2e8"
CALL_BORDER = "#a5895a"
HIGHLIGHT = QColor("#ff3d00")
SELECT = QColor("#1565c0")
LOD_TEXT = 0.4          # below this scale, boxes are drawn without text
NODE_W = 168.0
NODE_H = 44.0
SMALL_H = 30.0
GROUP_W = 210.0
GROUP_H = 52.0

_FONTS = None


def _normal_font() -> QFont:
    font = QFont()
    font.setPointSizeF(8.5)
    return font


def _bold_font() -> QFont:
    font = _normal_font()
    font.setBold(True)
    return font


def fonts():
    """Fonts and their metrics for painting, made on first use (Qt needs the application
    first). UI thread only: a layout computed in a worker measures with an ``ItemSizer``."""
    global _FONTS
    if _FONTS is None:
        from types import SimpleNamespace
        normal = _normal_font()
        bold = _bold_font()
        small = QFont()
        small.setPointSizeF(7.5)
        _FONTS = SimpleNamespace(normal=normal, bold=bold, small=small,
                                 fm=QFontMetricsF(normal), fmb=QFontMetricsF(bold),
                                 fms=QFontMetricsF(small))
    return _FONTS


def short_name(name: str, keep: int = 2) -> str:
    parts = name.split("/")
    return "/".join(parts[-keep:])


def count_text(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 10_000:
        return f"{n / 1e3:.0f}k"
    if n >= 1_000:
        return f"{n / 1e3:.1f}k"
    return str(n)


def _elide(fm, text: str, width: float) -> str:
    return fm.elidedText(text, Qt.ElideMiddle, width)


def is_small(node) -> bool:
    """Weights and constants: drawn as small boxes beside the op that uses them."""
    return node.op in ("Const", "VarHandleOp", "VariableV2", "_Arg", "ReadVariableOp")


def node_size(node) -> tuple[float, float]:
    if is_small(node):
        return (NODE_W * 0.8, SMALL_H)
    return (NODE_W, NODE_H)


def group_title(group) -> str:
    if group.kind == "call":
        return f"{group.name} → {group.function}"
    return group.name


def _group_size(fm, group) -> tuple[float, float]:
    text = fm.horizontalAdvance("▸ " + group_title(group)) + 30
    return (max(GROUP_W * 0.8, min(text, GROUP_W * 1.6)), GROUP_H)


def _header_width(fm, group) -> float:
    params = f" · {count_text(group.param_count)} params" if group.param_count else ""
    text = f"▾ {group_title(group)}   ({count_text(group.op_count)} ops{params})"
    return fm.horizontalAdvance(text) + 24


def group_size(group) -> tuple[float, float]:
    """Wide enough for the group's name (up to a limit), so layer names stay readable."""
    return _group_size(fonts().fmb, group)


def open_header_width(group) -> float:
    """Width an open group's frame needs for its header line."""
    return _header_width(fonts().fmb, group)


def item_size(item_id: str, graph) -> tuple[float, float]:
    """The box of a node or a closed group (``core.layout``'s ``size_of``), on the UI thread."""
    node = graph.nodes.get(item_id)
    if node is not None:
        return node_size(node)
    return group_size(graph.groups[item_id])


class ItemSizer:
    """``item_size`` and ``open_header_width`` with font metrics of its own, for a layout
    computed in a worker: Qt's font objects may be used from another thread, but one
    instance must not be shared by two threads at once, and the painting uses ``fonts()``.
    It measures with the same font, so the boxes come out exactly as on the UI thread."""

    def __init__(self) -> None:
        self._fm = QFontMetricsF(_bold_font())

    def size(self, item_id: str, graph) -> tuple[float, float]:
        node = graph.nodes.get(item_id)
        if node is not None:
            return node_size(node)
        return _group_size(self._fm, graph.groups[item_id])

    def header_width(self, group) -> float:
        return _header_width(self._fm, group)


def node_lines(node, graph) -> tuple[str, str]:
    """(title, subtitle) of a node's box."""
    if node.op == OUTPUT_OP:
        spec = ""
        if node.inputs:
            spec = graph.edge_label(node.inputs[0])
        return f"output {node.label}", spec
    if node.op in ("Placeholder", INPUT_OP) and node.label:
        dtype, dims = node.output_specs[0] if node.output_specs else (None, None)
        spec = graph.edge_label(node.outputs[0]) if node.outputs else dims_text(dims)
        return f"input {node.label}", spec
    if node.op in ("VarHandleOp", "VariableV2", "_Arg"):
        spec = ""
        dims = node.declared_shape()
        if dims is not None:
            spec = dims_text(dims)
        elif "variable" in node.info:
            spec = node.info["variable"].split(" ", 1)[-1]
        return node.label.rsplit("/", 2)[-2] + "/" + node.label.rsplit("/", 1)[-1] \
            if node.label.count("/") else (node.label or node.name), spec
    if node.op == "Const":
        spec = ""
        if node.output_specs and node.output_specs[0][1] is not None:
            spec = dims_text(node.output_specs[0][1])
        return short_name(node.name), f"Const {spec}"
    return node.op, short_name(node.name)


class NodeItem(QGraphicsItem):
    """An op: a rounded box coloured by family, op type above the name."""

    def __init__(self, node, graph, rect: QRectF):
        super().__init__()
        self.node = node
        self.graph = graph
        self.rect = QRectF(0, 0, rect.width(), rect.height())
        self.setPos(rect.topLeft())
        self.title, self.subtitle = node_lines(node, graph)
        self.family = node.family
        self.fill_override: QColor | None = None
        self.highlighted = False
        self.setFlag(QGraphicsItem.ItemIsSelectable, True)
        self.setAcceptHoverEvents(False)
        self.setZValue(2)
        self.setToolTip(f"{node.op}  {node.name}")

    @property
    def item_id(self) -> str:
        return self.node.id

    def boundingRect(self) -> QRectF:
        return self.rect.adjusted(-3, -3, 3, 3)

    def paint(self, painter, option, widget=None):
        fill, border = FAMILY_COLORS.get(self.family, FAMILY_COLORS["other"])
        fill_color = self.fill_override if self.fill_override is not None else QColor(fill)
        selected = bool(option.state & QStyle.State_Selected)
        pen = QPen(QColor(border), 1.2)
        if self.highlighted:
            pen = QPen(HIGHLIGHT, 3.0)
        elif selected:
            pen = QPen(SELECT, 2.6)
        if self.node.op == OUTPUT_OP or (self.node.op in ("Placeholder", INPUT_OP)
                                         and self.node.label):
            pen.setWidthF(pen.widthF() + 0.8)
        painter.setPen(pen)
        painter.setBrush(QBrush(fill_color))
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        radius = self.rect.height() / 2.6
        painter.drawRoundedRect(self.rect, radius, radius)
        if lod < LOD_TEXT:
            return
        painter.setPen(QColor("#111"))
        w = self.rect.width() - 12
        h = self.rect.height()
        if self.subtitle:
            painter.setFont(fonts().bold)
            painter.drawText(QRectF(6, 2, w, h / 2), Qt.AlignHCenter | Qt.AlignBottom,
                             _elide(fonts().fmb, self.title, w))
            painter.setFont(fonts().small if is_small(self.node) else fonts().normal)
            fm = fonts().fms if is_small(self.node) else fonts().fm
            painter.setPen(QColor("#333"))
            painter.drawText(QRectF(6, h / 2, w, h / 2 - 2), Qt.AlignHCenter | Qt.AlignTop,
                             _elide(fm, self.subtitle, w))
        else:
            painter.setFont(fonts().bold)
            painter.drawText(QRectF(6, 0, w, h), Qt.AlignCenter, _elide(fonts().fmb, self.title, w))


class GroupItem(QGraphicsItem):
    """A name scope or a call. Closed: a box with its op and parameter counts (double-click
    opens it). Open: a frame around its content with a header (double-click closes it)."""

    HEADER = 26.0

    def __init__(self, group, rect: QRectF, is_open: bool, on_toggle):
        super().__init__()
        self.group = group
        self.is_open = is_open
        self.on_toggle = on_toggle
        self.rect = QRectF(0, 0, rect.width(), rect.height())
        self.setPos(rect.topLeft())
        self.highlighted = False
        self.fill_override: QColor | None = None
        self.setFlag(QGraphicsItem.ItemIsSelectable, True)
        self.setZValue(0 if is_open else 2)
        self.title = group_title(group)
        params = f" · {count_text(group.param_count)} params" if group.param_count else ""
        self.counts = f"{count_text(group.op_count)} ops{params}"
        hint = "close" if is_open else "open"
        self.setToolTip(f"{group.id}\n{self.counts}\nDouble-click to {hint}")

    @property
    def item_id(self) -> str:
        return self.group.id

    def boundingRect(self) -> QRectF:
        return self.rect.adjusted(-4, -4, 6, 6)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        if self.is_open:  # only the header catches clicks, so items inside stay clickable
            path.addRect(QRectF(0, 0, self.rect.width(), self.HEADER))
        else:
            path.addRect(self.rect)
        return path

    def paint(self, painter, option, widget=None):
        call = self.group.kind == "call"
        border = QColor(CALL_BORDER if call else GROUP_BORDER)
        fill = QColor(CALL_FILL if call else GROUP_FILL)
        if self.fill_override is not None:
            fill = self.fill_override
        selected = bool(option.state & QStyle.State_Selected)
        pen = QPen(border, 1.3)
        if self.highlighted:
            pen = QPen(HIGHLIGHT, 3.0)
        elif selected:
            pen = QPen(SELECT, 2.6)
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        r = self.rect
        if self.is_open:
            fill.setAlpha(110)
            painter.setPen(pen)
            painter.setBrush(fill)
            painter.drawRoundedRect(r, 8, 8)
            head = QRectF(r.left(), r.top(), r.width(), self.HEADER)
            painter.setBrush(QColor(border.red(), border.green(), border.blue(), 45))
            painter.setPen(Qt.NoPen)
            painter.drawRoundedRect(head, 8, 8)
            if lod >= LOD_TEXT * 0.6:
                painter.setPen(QColor("#222"))
                painter.setFont(fonts().bold)
                text = f"▾ {self.title}   ({self.counts})"
                painter.drawText(head.adjusted(8, 0, -8, 0), Qt.AlignVCenter | Qt.AlignLeft,
                                 _elide(fonts().fmb, text, head.width() - 16))
            return
        # closed: a stacked box, like a deck of ops
        painter.setPen(QPen(border, 1.0))
        painter.setBrush(fill.darker(108))
        painter.drawRoundedRect(r.translated(4, 4), 7, 7)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRoundedRect(r, 7, 7)
        if lod < LOD_TEXT:
            return
        w = r.width() - 14
        painter.setPen(QColor("#111"))
        painter.setFont(fonts().bold)
        painter.drawText(QRectF(7, 3, w, r.height() / 2), Qt.AlignHCenter | Qt.AlignBottom,
                         _elide(fonts().fmb, "▸ " + self.title, w))
        painter.setFont(fonts().normal)
        painter.setPen(QColor("#444"))
        painter.drawText(QRectF(7, r.height() / 2 + 1, w, r.height() / 2 - 3),
                         Qt.AlignHCenter | Qt.AlignTop, _elide(fonts().fm, self.counts, w))

    def mouseDoubleClickEvent(self, event):
        if not self.is_open or event.pos().y() <= self.HEADER:
            # toggling rebuilds the scene, deleting this item: do it after the event
            gid, toggle = self.group.id, self.on_toggle
            QTimer.singleShot(0, lambda: toggle(gid))
            event.accept()
            return
        super().mouseDoubleClickEvent(event)


class EdgeItem(QGraphicsPathItem):
    """An edge: a smooth path through the layout's bend points, an arrow head, and a
    dtype/shape label near its start. Control edges are dashed, loop back edges red."""

    def __init__(self, route, label: str):
        super().__init__()
        self.route = route
        self.label = label
        pts = [QPointF(x, y) for x, y in route.points]
        path = QPainterPath(pts[0])
        if len(pts) == 2:
            a, b = pts
            dy = max(abs(b.y() - a.y()) * 0.5, 12.0)
            sign = -1 if route.back else 1
            path.cubicTo(QPointF(a.x(), a.y() + sign * dy), QPointF(b.x(), b.y() - sign * dy), b)
        else:
            # straight through the bend points, rounded at the ends
            for i in range(1, len(pts)):
                prev, cur = pts[i - 1], pts[i]
                mid_y = (prev.y() + cur.y()) / 2
                path.cubicTo(QPointF(prev.x(), mid_y), QPointF(cur.x(), mid_y), cur)
        self.setPath(path)
        color = QColor("#c62828") if route.back else QColor("#5f6b7a")
        pen = QPen(color, 1.6 if len(route.edges) > 1 else 1.2)
        if route.control:
            pen.setStyle(Qt.DashLine)
            pen.setColor(QColor("#9aa3ad"))
        pen.setCosmetic(False)
        self.setPen(pen)
        self.setZValue(1)
        self.arrow = self._arrow(pts)
        self._label_pos = None
        if label:
            start, nxt = pts[0], pts[1]
            self._label_pos = QPointF(start.x() + 5, start.y() + min(13.0, abs(nxt.y() - start.y()) / 2 + 4))
        names = ", ".join(f"{e.src.split('::')[-1]}:{e.src_index}" for e in route.edges[:3])
        more = f" (+{len(route.edges) - 3})" if len(route.edges) > 3 else ""
        self.setToolTip(f"{label or 'control' if route.control else label}\n{names}{more}")
        self._bounds = None

    def _arrow(self, pts) -> QPolygonF:
        tip = pts[-1]
        back = -1 if self.route.back else 1
        size = 6.0
        return QPolygonF([tip, QPointF(tip.x() - size * 0.6, tip.y() - size * back),
                          QPointF(tip.x() + size * 0.6, tip.y() - size * back)])

    def boundingRect(self) -> QRectF:
        if self._bounds is None:
            r = super().boundingRect().united(self.arrow.boundingRect())
            if self._label_pos is not None:
                r = r.united(QRectF(self._label_pos.x(), self._label_pos.y() - 10,
                                    fonts().fms.horizontalAdvance(self.label) + 4, 14))
            self._bounds = r.adjusted(-2, -2, 2, 2)
        return self._bounds

    def paint(self, painter, option, widget=None):
        painter.setPen(self.pen())
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self.path())
        painter.setBrush(self.pen().color())
        painter.setPen(Qt.NoPen)
        painter.drawPolygon(self.arrow)
        if self._label_pos is None:
            return
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod < 0.8:
            return
        painter.setFont(fonts().small)
        painter.setPen(QColor("#2c4a6e"))
        painter.drawText(self._label_pos, self.label)


def legend_html() -> str:
    rows = []
    for fam in FAMILIES:
        fill, border = FAMILY_COLORS[fam]
        rows.append(f'<tr><td width=18 bgcolor="{border}">'
                    f'<table width=14 cellspacing=0 cellpadding=0><tr><td bgcolor="{fill}">'
                    f'&nbsp;</td></tr></table></td><td>&nbsp;{FAMILY_LABELS[fam]}</td></tr>')
    return f"<table cellspacing=1 cellpadding=1>{''.join(rows)}</table>"


def heat_color(fraction: float) -> QColor:
    """White to deep orange for 0..1 (time colouring)."""
    f = max(0.0, min(1.0, fraction))
    f = math.sqrt(f)
    return QColor(int(255 - 25 * f), int(255 - 150 * f), int(255 - 230 * f))
