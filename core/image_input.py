"""Turn a decoded picture (an H x W x 4 uint8 RGBA array) into a model's image input.

Pure numpy: the GUI decodes PNG/JPEG with Qt and hands the pixels here.

    batch = image_to_input(rgba, shape=(-1, 224, 224, 3), dtype=np.float32, scaling="[0,1]")
"""
from __future__ import annotations

import numpy as np

from .errors import InputError

SCALINGS = ("[0,255]", "[0,1]", "[-1,1]")


def image_layout(shape) -> tuple[int | None, int | None, int | None, bool] | None:
    """(height, width, channels, channels_first) of an image-shaped input, -1 dims as None;
    None when the shape is not an image (rank 3 or 4 with 1, 3 or 4 channels)."""
    if shape is None or len(shape) not in (3, 4):
        return None
    dims = [None if d is None or d < 0 else int(d) for d in shape]
    hwc = dims[-3:]
    if hwc[2] in (1, 3, 4) or (hwc[2] is None and hwc[0] not in (1, 3, 4)):
        return hwc[0], hwc[1], hwc[2], False
    if hwc[0] in (1, 3, 4):            # NCHW / CHW
        return hwc[1], hwc[2], hwc[0], True
    return None


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an H x W x C array to height x width (bilinear, pixel centres aligned as
    ``tf.image.resize`` with ``half_pixel_centers``); returns float32."""
    if height <= 0 or width <= 0:
        raise InputError(f"cannot resize an image to {height} x {width}")
    img = np.asarray(image, dtype=np.float32)
    h, w = img.shape[:2]
    if (h, w) == (height, width):
        return img.copy()

    def axis(n_in, n_out):
        pos = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
        pos = np.clip(pos, 0, n_in - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (pos - lo).astype(np.float32)

    y0, y1, fy = axis(h, height)
    x0, x1, fx = axis(w, width)
    fx = fx[None, :, None]
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bottom = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    fy = fy[:, None, None]
    return top * (1 - fy) + bottom * fy


def match_channels(rgba: np.ndarray, channels: int) -> np.ndarray:
    """RGBA pixels as 1 (luma), 3 (RGB) or 4 (RGBA) channels."""
    if channels == 4:
        return rgba
    if channels == 3:
        return rgba[..., :3]
    if channels == 1:
        rgb = rgba[..., :3].astype(np.float32)
        luma = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return luma[..., None]
    raise InputError(f"an image cannot fill {channels} channels (1, 3 or 4 are possible)")


def scale(pixels: np.ndarray, scaling: str) -> np.ndarray:
    """Pixel values 0..255 mapped to [0,255] (unchanged), [0,1] or [-1,1] (float32)."""
    p = np.asarray(pixels, dtype=np.float32)
    if scaling == "[0,255]":
        return p
    if scaling == "[0,1]":
        return p / 255.0
    if scaling == "[-1,1]":
        return p / 127.5 - 1.0
    raise InputError(f"unknown scaling {scaling!r}; choose from {', '.join(SCALINGS)}")


def image_to_input(rgba: np.ndarray, shape, dtype, scaling: str = "[0,255]",
                   batch: int = 1) -> np.ndarray:
    """A batch of ``batch`` copies of the picture shaped like the input ``shape`` (-1 dims:
    the first is the batch, H/W take the picture's own size, channels default to 3)."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise InputError("the decoded picture must be an H x W x 4 (RGBA) array")
    layout = image_layout(shape)
    if layout is None:
        raise InputError(f"an input shaped {tuple(shape) if shape is not None else 'unknown'} "
                         "is not an image (rank 3 or 4 with 1, 3 or 4 channels)")
    height, width, channels, channels_first = layout
    height = height or rgba.shape[0]
    width = width or rgba.shape[1]
    channels = channels or 3
    pixels = match_channels(rgba, channels)
    pixels = resize_bilinear(pixels, height, width)
    values = scale(pixels, scaling)
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    elif dtype.kind not in "f":
        raise InputError(f"an image cannot be fed as {dtype}")
    values = values.astype(dtype)
    if channels_first:
        values = np.transpose(values, (2, 0, 1))
    if len(shape) == 4:
        if shape[0] is not None and shape[0] >= 0:
            batch = int(shape[0])
        values = np.repeat(values[None], max(1, int(batch)), axis=0)
    return values


__all__ = ["SCALINGS", "image_layout", "resize_bilinear", "match_channels", "scale",
           "image_to_input"]
