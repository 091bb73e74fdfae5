"""Pixels between numpy and Qt: decoding a picture chosen as an input, previewing an array.

``read_image_rgba`` uses only QImage, which may be used off the UI thread, so decoding runs in
a worker; ``array_pixmap`` makes a QPixmap and must run on the UI thread.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap

from tensorloupe.core.errors import InputError


def qimage_rgba(image: QImage) -> np.ndarray:
    """A QImage's pixels as an H x W x 4 uint8 RGBA array (a copy)."""
    img = image.convertToFormat(QImage.Format_RGBA8888)
    h, w = img.height(), img.width()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * h)
    return buf.reshape(h, img.bytesPerLine())[:, :w * 4].reshape(h, w, 4).copy()


def read_image_rgba(path) -> np.ndarray:
    """The pixels of a PNG/JPEG/BMP/GIF file as H x W x 4 RGBA; InputError if Qt cannot read
    it."""
    image = QImage(str(path))
    if image.isNull():
        raise InputError(f"{Path(path).name} is not an image Qt can read (PNG, JPEG, BMP, "
                         "GIF)")
    return qimage_rgba(image)


def array_pixmap(arr: np.ndarray | None, max_side: int = 160) -> QPixmap | None:
    """A preview of an H x W x C (C in 1, 3, 4) array, min-max scaled to 0..255."""
    a = np.asarray(arr)
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4) or a.dtype.kind not in "fiub":
        return None
    a = a.astype(np.float32)
    finite = np.isfinite(a)
    if not finite.any():
        return None
    lo, hi = float(a[finite].min()), float(a[finite].max())
    if a.dtype.kind in "iu" or (lo >= 0 and hi <= 255 and hi > 1.5):
        lo, hi = 0.0, 255.0
    scaled = np.zeros_like(a) if hi <= lo else (np.nan_to_num(a) - lo) / (hi - lo) * 255.0
    u8 = np.clip(scaled, 0, 255).astype(np.uint8)
    if u8.shape[2] == 1:
        u8 = np.repeat(u8, 3, axis=2)
    if u8.shape[2] == 3:
        u8 = np.concatenate([u8, np.full(u8.shape[:2] + (1,), 255, np.uint8)], axis=2)
    u8 = np.ascontiguousarray(u8)
    h, w = u8.shape[:2]
    img = QImage(u8.data, w, h, w * 4, QImage.Format_RGBA8888).copy()
    pix = QPixmap.fromImage(img)
    side = max(h, w)
    if side != max_side:
        mode = Qt.FastTransformation if side < max_side else Qt.SmoothTransformation
        pix = pix.scaled(max_side, max_side, Qt.KeepAspectRatio, mode)
    return pix
