"""The graph as a picture: PNG (at twice the screen's resolution) or SVG."""
from __future__ import annotations

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QImage, QPainter

from tensorloupe.core.errors import TensorloupeError

try:  # QtSvg is part of PySide6-Essentials; keep PNG working if a build lacks it
    from PySide6.QtSvg import QSvgGenerator
except ImportError:  # pragma: no cover - depends on the Qt build
    QSvgGenerator = None

SVG_AVAILABLE = QSvgGenerator is not None


def export_scene(scene, rect: QRectF, path, title: str = "graph", whole: bool = False) -> str:
    """Render ``rect`` of ``scene`` into ``path``: SVG when it ends with .svg, else PNG
    (``whole``: the entire graph, scaled down to at most 8000 pixels a side)."""
    if str(path).lower().endswith(".svg"):
        if QSvgGenerator is None:
            raise TensorloupeError("SVG export needs PySide6.QtSvg, which this Qt lacks")
        gen = QSvgGenerator()
        gen.setFileName(str(path))
        gen.setSize(QSize(int(rect.width()), int(rect.height())))
        gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
        gen.setTitle(title)
        p = QPainter(gen)
        scene.render(p, QRectF(0, 0, rect.width(), rect.height()), rect)
        p.end()
        return str(path)
    scale = 2.0 if not whole else min(2.0, 8000 / max(rect.width(), rect.height(), 1))
    image = QImage(max(1, int(rect.width() * scale)), max(1, int(rect.height() * scale)),
                   QImage.Format_ARGB32_Premultiplied)
    image.fill(QColor("white"))
    p = QPainter(image)
    p.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
    scene.render(p, QRectF(0, 0, image.width(), image.height()), rect)
    p.end()
    if not image.save(str(path)):
        raise TensorloupeError(f"could not write {path}")
    return str(path)
