"""An overview of the whole graph in a corner of the view, with the visible part marked."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from .view import GraphView

MAX_W, MAX_H = 170, 200


class Minimap(QWidget):
    """The scene rendered once per layout, with the visible area marked; click or drag to
    move there."""

    resized = Signal()   # its size follows the graph's proportions: the owner re-places it

    def __init__(self, view: GraphView, parent=None):
        super().__init__(parent)
        self.view = view
        self.pixmap = QPixmap()
        self.scene_rect = QRectF()
        self.setFixedSize(MAX_W, MAX_H)
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
        w, h = MAX_W, MAX_H
        if ratio > w / h:
            h = max(40, int(w / ratio))
        else:
            w = max(40, int(h * ratio))
        self.setFixedSize(w, h)   # no empty margins around a very tall or wide graph
        self.resized.emit()
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
