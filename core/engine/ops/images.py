"""Image codecs: DecodePng, DecodeJpeg, DecodeImage, DecodeBmp, DecodeGif, EncodePng.

Models served on raw image bytes (an image classifier's ``image_bytes`` signature) decode
them in the graph. Decoding goes through Pillow, an optional dependency: a model that
decodes images and a Python without Pillow get a one-line error saying
``pip install pillow``; nothing else needs it. PNG decodes to exactly TensorFlow's
pixels; JPEG too is decoded by libjpeg(-turbo) in both, but TensorFlow asks for its fast
integer DCT and Pillow for the accurate one, so a JPEG pixel may differ by a step or two.
EncodePng writes its own PNG (zlib, no filtering) and needs nothing beyond the standard
library; its bytes differ from TensorFlow's (libpng filters rows), its pixels do not.

The size of the decoded image is read from the header and checked against the run's
memory budget before any pixel is decoded.
"""
from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np

from ...errors import ExecutionError, UnsupportedError
from ..registry import np_dtype
from .math import op


_UNKNOWN = ("Unknown image file format. One of JPEG, JPEG XL, PNG, GIF, BMP, WebP "
            "required.")


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise UnsupportedError("decoding images needs Pillow, which is not installed: "
                               "pip install pillow") from None
    return Image


def _contents(x) -> bytes:
    a = np.asarray(x, dtype=object)
    if a.ndim != 0:
        raise ExecutionError(f"contents must be scalar, got shape "
                             f"[{','.join(map(str, a.shape))}]")
    v = a.item()
    return bytes(v) if isinstance(v, (bytes, bytearray, np.bytes_)) else str(v).encode()


def _open(ctx, data: bytes, what: str):
    Image = _pillow()
    with warnings.catch_warnings():
        # The run's memory budget decides what is too big (checked below), not Pillow's
        # decompression-bomb heuristics.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
        except Exception:  # noqa: BLE001 - Pillow raises many kinds on bad input
            if what == "DecodePng":
                raise ExecutionError("Invalid PNG. Failed to initialize decoder.") from None
            raise ExecutionError(_UNKNOWN) from None
    return im


def _load(ctx, im, nbytes: int, what: str):
    check = getattr(ctx, "check_alloc", None)
    if check is not None:
        check(nbytes)
    Image = _pillow()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im.load()
        except Exception as exc:  # noqa: BLE001
            raise ExecutionError(f"{what}: the image data is damaged or truncated "
                                 f"({type(exc).__name__}: {exc})") from None


def _channels(attrs) -> int:
    c = int(attrs.get("channels", 0))
    if c not in (0, 1, 2, 3, 4):
        raise ExecutionError(f"channels must be 0, 1, 2, 3 or 4, got {c}")
    return c


# ---------------------------------------------------------------- PNG

def _luma(rgb: np.ndarray, maxval: int) -> np.ndarray:
    """RGB -> gray as TensorFlow's PNG decoder makes it: ITU-R 601 weights, rounded
    down."""
    w = rgb.astype(np.float64)
    y = np.floor(0.299 * w[..., 0] + 0.587 * w[..., 1] + 0.114 * w[..., 2])
    return np.minimum(y, maxval).astype(np.int64)[..., None]


def _png_pixels(ctx, data: bytes, channels: int, dtype) -> np.ndarray:
    im = _open(ctx, data, "DecodePng")
    if im.format != "PNG":
        raise ExecutionError("Invalid PNG header, data size " + str(len(data)))
    w, h = im.size
    deep = im.mode.startswith("I;16") or im.mode == "I"
    bits = 16 if deep else 8
    if im.info.get("transparency") is not None and im.mode in ("P", "L", "RGB"):
        im = im.convert("RGBA" if im.mode != "L" else "LA")
    elif im.mode == "P":
        im = im.convert("RGB")
    elif im.mode in ("1",):
        im = im.convert("L")
    native = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}.get(im.mode, 1 if deep else None)
    if native is None:
        raise UnsupportedError(f"PNG images of Pillow mode {im.mode} are not supported")
    want = channels or native
    _load(ctx, im, h * w * max(want, native) * 8, "DecodePng")
    if deep:
        px = np.asarray(im, dtype=np.uint16).reshape(h, w, 1)
        if _png_bit_depth(data) == 16 and _png_color_type(data) not in (0,):
            raise UnsupportedError("16-bit colour PNG images are not supported (Pillow reads "
                                   "them as 8-bit)")
    else:
        px = np.asarray(im, dtype=np.uint8).reshape(h, w, native)
        if _png_bit_depth(data) == 16:
            raise UnsupportedError("16-bit colour PNG images are not supported (Pillow reads "
                                   "them as 8-bit)")
    maxval = (1 << bits) - 1
    px = _convert_channels(px, native, want, maxval)
    return _to_depth(px, bits, dtype)


def _png_bit_depth(data: bytes) -> int:
    return data[24] if len(data) > 25 else 8


def _png_color_type(data: bytes) -> int:
    return data[25] if len(data) > 25 else 0


def _convert_channels(px, native: int, want: int, maxval: int):
    if want == native:
        return px
    has_alpha = native in (2, 4)
    color = px[..., :3] if native >= 3 else np.repeat(px[..., :1], 3, axis=-1)
    alpha = px[..., -1:] if has_alpha else np.full(px.shape[:2] + (1,), maxval, px.dtype)
    if want == 1:
        return (_luma(color, maxval) if native >= 3 else px[..., :1]).astype(px.dtype)
    if want == 2:
        gray = _luma(color, maxval) if native >= 3 else px[..., :1]
        return np.concatenate([gray.astype(px.dtype), alpha], axis=-1)
    if want == 3:
        return color.astype(px.dtype)
    return np.concatenate([color.astype(px.dtype), alpha], axis=-1)


def _to_depth(px, bits: int, dtype):
    if dtype == np.uint16:
        return px.astype(np.uint16) * 257 if bits == 8 else px.astype(np.uint16)
    if dtype == np.uint8:
        return px.astype(np.uint8) if bits == 8 else (px >> 8).astype(np.uint8)
    # float32: the full range of the stored depth scaled to [0, 1]
    return (px.astype(np.float32) / np.float32((1 << bits) - 1)).astype(dtype)


@op("DecodePng", outputs=("image",), defaults={"channels": 0, "dtype": 4},
    description="decodes a PNG image to a height x width x channels tensor")
def _decode_png(ctx, inputs, attrs):
    dtype = np_dtype(attrs.get("dtype", 4))
    return _png_pixels(ctx, _contents(inputs[0]), _channels(attrs), dtype)


# ---------------------------------------------------------------- JPEG

def _jpeg_pixels(ctx, data: bytes, channels: int, ratio: int) -> np.ndarray:
    if ratio not in (1, 2, 4, 8):
        raise ExecutionError(f"ratio must be 1, 2, 4 or 8, got {ratio}")
    im = _open(ctx, data, "DecodeJpeg")
    if im.format != "JPEG":
        raise ExecutionError(_UNKNOWN)
    mode = {1: "L", 3: "RGB"}.get(channels)
    if channels not in (0, 1, 3):
        raise ExecutionError(f"channels must be 0, 1 or 3 for a JPEG image, got {channels}")
    w, h = im.size
    if ratio > 1 or mode == "L":
        # libjpeg scales while decoding (the DCT-domain scaling TensorFlow's ratio asks
        # for) and gives luma directly for one channel.
        # (Pillow picks the largest scale whose floor-divided size still fits)
        im.draft(mode or im.mode, (max(w // ratio, 1), max(h // ratio, 1)))
    _load(ctx, im, h * w * 4, "DecodeJpeg")
    if im.mode == "CMYK":
        raise UnsupportedError("CMYK JPEG images are not supported")
    if mode is not None and im.mode != mode:
        im = im.convert(mode)
    px = np.asarray(im, dtype=np.uint8)
    return px.reshape(px.shape[0], px.shape[1], -1)


_JPEG_DEFAULTS = {"channels": 0, "ratio": 1, "fancy_upscaling": True,
                  "try_recover_truncated": False, "acceptable_fraction": 1.0,
                  "dct_method": b""}


@op("DecodeJpeg", outputs=("image",), defaults=_JPEG_DEFAULTS,
    description="decodes a JPEG image to a height x width x channels uint8 tensor")
def _decode_jpeg(ctx, inputs, attrs):
    data = _contents(inputs[0])
    if _sniff(data) not in ("jpeg", ""):
        # TensorFlow's DecodeJpeg decodes the other formats too (as DecodeImage, uint8).
        return _decode_image(ctx, inputs, {"channels": _channels(attrs), "dtype": 4,
                                           "expand_animations": False})
    return _jpeg_pixels(ctx, data, _channels(attrs), int(attrs.get("ratio", 1)))


# ---------------------------------------------------------------- any format

def _sniff(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:2] == b"BM":
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return ""


def _rgb_frames(ctx, data: bytes, what: str) -> np.ndarray:
    im = _open(ctx, data, what)
    frames = []
    n = getattr(im, "n_frames", 1)
    w, h = im.size
    check = getattr(ctx, "check_alloc", None)
    if check is not None:
        check(n * w * h * 3)
    for k in range(n):
        im.seek(k)
        _load(ctx, im, 0, what)
        frames.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
    return np.stack(frames)


@op("DecodeGif", outputs=("image",),
    description="decodes a GIF's frames to a frames x height x width x 3 uint8 tensor")
def _decode_gif(ctx, inputs, attrs):
    return _rgb_frames(ctx, _contents(inputs[0]), "DecodeGif")


@op("DecodeBmp", outputs=("image",), defaults={"channels": 0},
    description="decodes a BMP image to a height x width x channels uint8 tensor")
def _decode_bmp(ctx, inputs, attrs):
    im = _open(ctx, _contents(inputs[0]), "DecodeBmp")
    w, h = im.size
    _load(ctx, im, w * h * 4, "DecodeBmp")
    channels = _channels(attrs)
    native = 4 if im.mode == "RGBA" else 3 if im.mode != "L" else 1
    want = channels or native
    px = np.asarray(im.convert({1: "L", 3: "RGB", 4: "RGBA"}[want]), dtype=np.uint8)
    return px.reshape(h, w, want)


@op("DecodeImage", outputs=("image",),
    defaults={"channels": 0, "dtype": 4, "expand_animations": True},
    description="decodes a PNG, JPEG, GIF or BMP image (whichever the bytes are)")
def _decode_image(ctx, inputs, attrs):
    data = _contents(inputs[0])
    kind = _sniff(data)
    dtype = np_dtype(attrs.get("dtype", 4))
    channels = _channels(attrs)
    if kind == "png":
        return _png_pixels(ctx, data, channels, dtype)
    if kind == "jpeg":
        px, bits = _jpeg_pixels(ctx, data, channels, 1), 8
    elif kind == "gif":
        px, bits = _rgb_frames(ctx, data, "DecodeImage"), 8
        if not attrs.get("expand_animations", True):
            px = px[0]
        if channels not in (0, 3):
            raise ExecutionError(f"channels must be 0 or 3 for a GIF image, got {channels}")
    elif kind == "bmp":
        px = _decode_bmp(ctx, [np.array(data, dtype=object)], {"channels": channels})
        bits = 8
    else:
        raise ExecutionError(_UNKNOWN)
    return _to_depth(px, bits, dtype)


# ---------------------------------------------------------------- encoding

def _chunk(kind: bytes, body: bytes) -> bytes:
    return (struct.pack(">I", len(body)) + kind + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))


def encode_png(image: np.ndarray, level: int = -1) -> bytes:
    """A PNG of an H x W x C uint8 or uint16 array (C 1-4), rows unfiltered."""
    h, w, c = image.shape
    color = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    depth = 16 if image.dtype == np.uint16 else 8
    rows = image.astype(">u2" if depth == 16 else np.uint8).reshape(h, w * c)
    raw = np.zeros((h, 1 + rows.view(np.uint8).shape[1]), np.uint8)
    raw[:, 1:] = rows.view(np.uint8)
    header = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0)
    body = zlib.compress(raw.tobytes(), level if 0 <= level <= 9 else 6)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body)
            + _chunk(b"IEND", b""))


@op("EncodePng", outputs=("contents",), defaults={"compression": -1, "T": 4},
    description="encodes a height x width x channels uint8/uint16 tensor as PNG bytes")
def _encode_png(ctx, inputs, attrs):
    image = np.asarray(inputs[0])
    if image.ndim != 3:
        raise ExecutionError(f"image must be 3-dimensional[{','.join(map(str, image.shape))}]")
    c = image.shape[2]
    if c not in (1, 2, 3, 4):
        raise ExecutionError(f"image must have 1, 2, 3, or 4 channels, got {c}")
    if image.dtype not in (np.uint8, np.uint16):
        raise ExecutionError(f"image must be uint8 or uint16, got {image.dtype}")
    level = int(attrs.get("compression", -1))
    if not -1 <= level <= 9:
        raise ExecutionError(f"compression should be in [-1,9], got {level}")
    if hasattr(ctx, "check_alloc"):
        ctx.check_alloc(image.nbytes * 2 + 1024)
    return np.array(encode_png(image, level), dtype=object)
