"""The scene's view: drag to pan, the wheel zooms around the cursor, F fits, + and - zoom, the
arrow keys, Enter and Esc walk the graph (the panel decides what they mean)."""
from __future__ import annotations

from PySide6.QtCore import QMargins, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QGraphicsView

MIN_ZOOM, MAX_ZOOM = 0.02, 4.0

_NAVIGATION = {
    Qt.Key_Up: "up", Qt.Key_Down: "down", Qt.Key_Left: "left", Qt.Key_Right: "right",
    Qt.Key_Return: "enter", Qt.Key_Enter: "enter",
    Qt.Key_Backspace: "back", Qt.Key_Escape: "back",
}


class GraphView(QGraphicsView):
    """Pan by dragging, zoom with the wheel around the cursor; F, Shift+F and the navigation
    keys are handed to the panel as signals."""

    zoomed = Signal()          # the visible part of the scene moved or changed scale
    scaled = Signal()          # the user changed the scale (wheel, + or -)
    fit_requested = Signal(bool)   # F (False) or Shift+F (True: the whole graph)
    navigate = Signal(str)     # "up", "down", "left", "right", "enter" or "back"

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
        self.setFocusPolicy(Qt.StrongFocus)

    def wheelEvent(self, event):
        delta = event.angleDelta().y()
        if not delta:
            return
        self.zoom_by(1.0015 ** delta)

    def zoom_by(self, factor: float) -> None:
        scale = self.transform().m11()
        factor = max(MIN_ZOOM / scale, min(MAX_ZOOM / scale, factor))
        self.scale(factor, factor)
        self.zoomed.emit()
        self.scaled.emit()

    def set_zoom(self, zoom: float) -> None:
        self.resetTransform()
        zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        self.scale(zoom, zoom)

    def zoom(self) -> float:
        return self.transform().m11()

    def reserve(self, right: int, bottom: int) -> None:
        """Keep a strip of the view's right or bottom edge out of the scrolling area (the
        minimap lives there, so it never covers the graph)."""
        if self.viewportMargins() != QMargins(0, 0, right, bottom):
            self.setViewportMargins(0, 0, right, bottom)

    def keyPressEvent(self, event):
        key, mods = event.key(), event.modifiers()
        if key == Qt.Key_F and mods in (Qt.NoModifier, Qt.ShiftModifier):
            self.fit_requested.emit(bool(mods & Qt.ShiftModifier))
            return
        if key in (Qt.Key_Plus, Qt.Key_Equal):
            self.zoom_by(1.25)
            return
        if key == Qt.Key_Minus:
            self.zoom_by(0.8)
            return
        if key in _NAVIGATION and not (mods & ~Qt.KeypadModifier):
            self.navigate.emit(_NAVIGATION[key])
            return
        super().keyPressEvent(event)

    def scrollContentsBy(self, dx, dy):
        super().scrollContentsBy(dx, dy)
        self.zoomed.emit()
