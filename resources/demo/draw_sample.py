"""Draws resources/demo/sample.png, the picture the README's run screenshot feeds MobileNet.

Our own drawing (a sky, a sun, hills and a house), so the demo ships no third-party image.
Run: QT_QPA_PLATFORM=offscreen python resources/demo/draw_sample.py
"""
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QLinearGradient, QPainter, QPolygonF


def draw(path: Path, width: int = 320, height: int = 240) -> None:
    image = QImage(width, height, QImage.Format_RGB32)
    p = QPainter(image)
    p.setRenderHint(QPainter.Antialiasing)
    sky = QLinearGradient(0, 0, 0, height)
    sky.setColorAt(0, QColor("#3b7dd8"))
    sky.setColorAt(1, QColor("#bfe3ff"))
    p.fillRect(image.rect(), sky)
    p.setPen(Qt.NoPen)
    p.setBrush(QColor("#ffd23f"))
    p.drawEllipse(QPointF(width * 0.8, height * 0.22), 26, 26)
    p.setBrush(QColor("#4c9a2a"))
    p.drawEllipse(QRectF(-60, height * 0.55, width * 0.8, height * 0.8))
    p.setBrush(QColor("#2f7d1e"))
    p.drawEllipse(QRectF(width * 0.35, height * 0.62, width * 0.9, height * 0.8))
    p.setBrush(QColor("#c8553d"))
    p.drawRect(QRectF(width * 0.18, height * 0.5, 70, 50))
    p.setBrush(QColor("#6b2d1f"))
    p.drawPolygon(QPolygonF([QPointF(width * 0.18 - 8, height * 0.5),
                             QPointF(width * 0.18 + 35, height * 0.5 - 34),
                             QPointF(width * 0.18 + 78, height * 0.5)]))
    p.setBrush(QColor("#f2e8cf"))
    p.drawRect(QRectF(width * 0.18 + 27, height * 0.5 + 22, 16, 28))
    p.end()
    image.save(str(path))


if __name__ == "__main__":
    app = QGuiApplication([])
    draw(Path(__file__).with_name("sample.png"))
