"""An overview of the whole graph with the visible part marked, in a strip of its own along the
view's right edge (tall graphs) or bottom edge (wide graphs).

The strip is taken out of the view's scrolling area, so the overview never hides a node; it
shows only while the graph does not fit the view (there is nothing to find your way in
otherwise), and is as thin as the graph's proportions allow.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from .view import GraphView

PAD = 5                 # around the picture inside the strip
MIN_THICKNESS = 22      # a strip thinner than this could not be clicked at comfortably
MAX_THICKNESS = 120     # and never thicker than this (or a seventh of the view)


class Minimap(QWidget):
    """The scene rendered once per layout into the strip; click or drag to move there."""

    def __init__(self, view: GraphView, parent=None):
        super().__init__(parent if parent is not None else view)
        self.view = view
        self.pixmap = QPixmap()
        self.scene_rect = QRectF()
        self.side: str | None = None          # "right", "bottom" or None (hidden)
        self._picture_size = QSize()
        self.setCursor(Qt.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move there")
        self.hide()
        view.zoomed.connect(self.update)
        view.viewport().installEventFilter(self)
        # a resized view gets its strip (and picture) again once resizing has settled, not on
        # every step of the drag
        self._arrange_later = QTimer(self, singleShot=True, interval=80, timeout=self.arrange)

    # -- where the strip goes -------------------------------------------------------------
    def set_content(self, rect: QRectF) -> None:
        """The part of the scene the graph covers (after a new layout): drawn again when
        next arranged."""
        self.scene_rect = QRectF(rect)
        self.pixmap = QPixmap()

    def arrange(self) -> None:
        """Show the strip (on the side that costs the least room) while the graph does not
        fit the view at its current zoom, and hide it otherwise."""
        view = self.view
        rect = self.scene_rect
        margins = view.viewportMargins()
        vp = view.viewport().size()
        full_w = vp.width() + margins.right()
        full_h = vp.height() + margins.bottom()
        zoom = view.zoom()
        if rect.isEmpty() or full_w <= 0 or full_h <= 0 or (
                rect.width() * zoom <= full_w + 1 and rect.height() * zoom <= full_h + 1):
            self._set_side(None, QSize())
            return
        ratio = rect.width() / rect.height()
        most = int(max(MIN_THICKNESS, min(MAX_THICKNESS, min(full_w, full_h) / 7)))
        if ratio <= full_w / full_h:       # taller than the view: a column on the right
            h = full_h - 2 * PAD
            w = ratio * h
            if w > most - 2 * PAD:
                w = most - 2 * PAD
                h = w / ratio
            side, size = "right", QSize(max(1, round(w)), max(1, round(h)))
        else:                              # wider: a band along the bottom
            w = full_w - 2 * PAD
            h = w / ratio
            if h > most - 2 * PAD:
                h = most - 2 * PAD
                w = h * ratio
            side, size = "bottom", QSize(max(1, round(w)), max(1, round(h)))
        self._set_side(side, size)

    def _set_side(self, side, picture: QSize) -> None:
        view = self.view
        if side is None:
            view.reserve(0, 0)
            self.side = None
            self.hide()
            return
        thick = max(MIN_THICKNESS, (picture.width() if side == "right" else picture.height())
                    + 2 * PAD)
        view.reserve(thick if side == "right" else 0, thick if side == "bottom" else 0)
        changed = side != self.side or picture != self._picture_size
        self.side = side
        self._picture_size = picture
        self._place()
        self.show()
        if changed or self.pixmap.isNull():
            self.refresh()

    def _place(self) -> None:
        vp = self.view.viewport().geometry()
        m = self.view.viewportMargins()
        if self.side == "right":
            self.setGeometry(vp.right() + 1, vp.top(), m.right(), vp.height())
        elif self.side == "bottom":
            self.setGeometry(vp.left(), vp.bottom() + 1, vp.width(), m.bottom())

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Resize:
            if self.side is not None:
                self._place()
            self._arrange_later.start()
        return False

    # -- the picture ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Render the scene again (after a new layout, or a new strip size)."""
        scene = self.view.scene()
        rect = self.scene_rect
        size = self._picture_size
        if rect.isEmpty() or self.side is None or size.isEmpty():
            self.pixmap = QPixmap()
            self.update()
            return
        image = QImage(size, QImage.Format_ARGB32_Premultiplied)
        image.fill(QColor("white"))
        p = QPainter(image)
        p.setRenderHints(QPainter.Antialiasing)
        scene.render(p, QRectF(0, 0, size.width(), size.height()), rect)
        p.end()
        self.pixmap = QPixmap.fromImage(image)
        self.update()

    def _target(self) -> QRectF:
        if self.pixmap.isNull():
            return QRectF()
        pw, ph = self.pixmap.width(), self.pixmap.height()
        if self.side == "right":     # at the top of the column, where the graph starts
            return QRectF((self.width() - pw) / 2, PAD, pw, ph)
        return QRectF((self.width() - pw) / 2, (self.height() - ph) / 2, pw, ph)

    def visible_rect(self) -> QRectF:
        """Where the view's visible part is drawn in this widget."""
        target = self._target()
        if target.isEmpty() or self.scene_rect.isEmpty():
            return QRectF()
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        sx = target.width() / self.scene_rect.width()
        sy = target.height() / self.scene_rect.height()
        return QRectF(target.left() + (visible.left() - self.scene_rect.left()) * sx,
                      target.top() + (visible.top() - self.scene_rect.top()) * sy,
                      visible.width() * sx, visible.height() * sy).intersected(target)

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#eceef2"))
        if self.pixmap.isNull():
            return
        target = self._target()
        p.drawPixmap(target.topLeft(), self.pixmap)
        p.setPen(QColor("#a0a6b0"))
        p.setBrush(Qt.NoBrush)
        p.drawRect(target.adjusted(-0.5, -0.5, 0.5, 0.5))
        r = self.visible_rect()
        if r.isEmpty():
            return
        # at least a few pixels tall, so even a deep zoom into a huge graph is visible
        if r.height() < 4:
            r.adjust(0, -(4 - r.height()) / 2, 0, (4 - r.height()) / 2)
        if r.width() < 4:
            r.adjust(-(4 - r.width()) / 2, 0, (4 - r.width()) / 2, 0)
        p.setPen(QPen(QColor("#1565c0"), 1.5))
        p.setBrush(QColor(21, 101, 192, 40))
        p.drawRect(r)

    def _go(self, pos) -> None:
        target = self._target()
        if target.isEmpty():
            return
        fx = min(1.0, max(0.0, (pos.x() - target.left()) / target.width()))
        fy = min(1.0, max(0.0, (pos.y() - target.top()) / target.height()))
        self.view.centerOn(self.scene_rect.left() + fx * self.scene_rect.width(),
                           self.scene_rect.top() + fy * self.scene_rect.height())

    def mousePressEvent(self, event):
        if event.button() == Qt.LeftButton:
            self._go(event.position())

    def mouseMoveEvent(self, event):
        if event.buttons() & Qt.LeftButton:
            self._go(event.position())
