"""The graph as a picture: PNG (at twice the screen's resolution, less for a huge graph) or SVG,
and what the save dialog proposes (a name after the model and the graph, the folder used last).
"""
from __future__ import annotations

import math
import re
from pathlib import Path

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QImage, QPainter

from tensorloupe.core.errors import TensorloupeError

try:  # QtSvg is part of PySide6-Essentials; keep PNG working if a build lacks it
    from PySide6.QtSvg import QSvgGenerator
except ImportError:  # pragma: no cover - depends on the Qt build
    QSvgGenerator = None

SVG_AVAILABLE = QSvgGenerator is not None
FOLDER_KEY = "graph/exportFolder"
FORMAT_KEY = "graph/exportFormat"
MAX_SIDE = 16000            # pixels; QImage and most viewers cope with this
MAX_PIXELS = 60_000_000     # about 240 MB while drawing


def png_scale(rect: QRectF) -> float:
    """Pixels per scene unit of a PNG of ``rect``: twice the screen's resolution, less when
    that would make an image too big to write or to open."""
    w, h = max(rect.width(), 1.0), max(rect.height(), 1.0)
    return min(2.0, MAX_SIDE / max(w, h), math.sqrt(MAX_PIXELS / (w * h)))


def export_scene(scene, rect: QRectF, path, title: str = "graph") -> str:
    """Render ``rect`` of ``scene`` into ``path``: SVG when it ends with .svg, else PNG."""
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
    scale = png_scale(rect)
    image = QImage(max(1, int(rect.width() * scale)), max(1, int(rect.height() * scale)),
                   QImage.Format_ARGB32_Premultiplied)
    if image.isNull():
        raise TensorloupeError(f"not enough memory for a {int(rect.width() * scale)} x "
                               f"{int(rect.height() * scale)} image; export as SVG instead")
    image.fill(QColor("white"))
    p = QPainter(image)
    p.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
    scene.render(p, QRectF(0, 0, image.width(), image.height()), rect)
    p.end()
    if not image.save(str(path)):
        raise TensorloupeError(f"could not write {path}")
    return str(path)


def _safe(text: str) -> str:
    """``text`` as a file name part: no separators or characters some systems refuse."""
    text = re.sub(r"[^\w.+=-]+", "_", text.strip()).strip(". ")
    return text[:80]


def proposed_name(model: str, graph_title: str, kind: str) -> str:
    """``mobilenet_v2-serving_default.png``: the model, then the graph, then the format."""
    parts = [p for p in (_safe(model), _safe(graph_title)) if p]
    # a graph named like its model (a frozen graph) needs its name once
    if len(parts) == 2 and parts[0] == parts[1]:
        parts = parts[:1]
    return f"{'-'.join(parts) or 'graph'}.{kind}"


def model_label(path) -> str:
    """What to call a model opened from ``path`` in a file name: its folder's name for a
    SavedModel (or its saved_model.pb), else the file's name without its suffix."""
    p = Path(path)
    if p.name in ("saved_model.pb", "saved_model.pbtxt"):
        p = p.parent
    return p.name if p.is_dir() else p.stem


# the folder used last when the window keeps no settings (tests, the graph-only window)
_session = {"folder": None, "format": "png"}


def last_folder(settings) -> Path:
    """The folder of the last export (kept in ``settings`` when there are some), else home."""
    value = settings.value(FOLDER_KEY) if settings is not None else _session["folder"]
    if value and Path(str(value)).is_dir():
        return Path(str(value))
    return Path.home()


def last_format(settings) -> str:
    value = settings.value(FORMAT_KEY) if settings is not None else _session["format"]
    return value if value in ("png", "svg") and (value != "svg" or SVG_AVAILABLE) else "png"


def remember(settings, path) -> None:
    """Remember the folder and format of an export for the next save dialog."""
    folder = str(Path(path).parent)
    kind = "svg" if str(path).lower().endswith(".svg") else "png"
    _session.update(folder=folder, format=kind)
    if settings is not None:
        settings.setValue(FOLDER_KEY, folder)
        settings.setValue(FORMAT_KEY, kind)
