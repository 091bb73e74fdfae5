"""The scene's view: drag to pan, the wheel zooms around the cursor, F fits, + and - zoom."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QGraphicsView


class GraphView(QGraphicsView):
    """Pan by dragging, zoom with the wheel around the cursor, F asks to fit."""

    zoomed = Signal()          # the visible part of the scene moved or changed scale
    fit_requested = Signal()   # F was pressed: the panel knows what fitting means

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
            self.fit_requested.emit()
            return
        if event.key() in (Qt.Key_Plus, Qt.Key_Equal):
            self.zoom_by(1.25)
            return
        if event.key() == Qt.Key_Minus:
            self.zoom_by(0.8)
            return
        super().keyPressEvent(event)

    def scrollContentsBy(self, dx, dy):
        super().scrollContentsBy(dx, dy)
        self.zoomed.emit()
