"""Unicode ops: decode strings to code points (with byte offsets), encode code points to
strings, transcode, and the script of a code point.

``tf.strings.unicode_split`` / ``unicode_decode`` (TextVectorization with
``split="character"``) and ``unicode_encode`` export these. Decoding follows what
TensorFlow's ICU-based kernels do with bad input: ``errors="replace"`` puts one
replacement character in place of each maximal ill-formed byte sequence (the Unicode
standard's recommended practice, which Python's codecs follow too), ``"ignore"`` drops it
and ``"strict"`` refuses the string.
"""
from __future__ import annotations

import base64
import codecs
import json
import zlib
from functools import lru_cache

import numpy as np

from ...errors import ExecutionError
from ..registry import np_dtype
from .math import op

_CODECS = {"UTF-8": "utf-8", "UTF-16-BE": "utf-16-be", "UTF-32-BE": "utf-32-be",
           "UTF-16-LE": "utf-16-le", "UTF-32-LE": "utf-32-le", "US-ASCII": "ascii",
           "ISO-8859-1": "latin-1"}
_WIDTH = {"utf-16-be": 2, "utf-16-le": 2, "utf-32-be": 4, "utf-32-le": 4, "ascii": 1,
          "latin-1": 1}
_ERRORS = ("strict", "replace", "ignore")

# A lone surrogate never comes out of a valid decode: it marks where bad bytes were.
_MARK = "\udcff"
_spans: list[tuple[int, int]] = []


def _mark_errors(exc):
    _spans.append((exc.start, exc.end))
    return _MARK, exc.end


codecs.register_error("tensorloupe-unicode-mark", _mark_errors)


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _codec(name) -> str:
    name = _text(name).upper()
    codec = _CODECS.get(name)
    if codec is None:
        raise ExecutionError(f"Could not create converter for input encoding: {name}")
    return codec


def _policy(attrs) -> tuple[str, int, bool]:
    errors = _text(attrs.get("errors", b"replace"))
    if errors not in _ERRORS:
        raise ExecutionError(f"errors must be one of {', '.join(_ERRORS)}, got '{errors}'")
    return errors, int(attrs.get("replacement_char", 0xFFFD)), bool(
        attrs.get("replace_control_characters", False))


def _is_control(cp: int) -> bool:
    # (TensorFlow's kernel counts only the C0 range: DEL and C1 pass through)
    return cp < 0x20


def decode_one(data: bytes, codec: str, errors: str, replacement: int, controls: bool):
    """(code points, byte offset where each starts) of one string."""
    _spans.clear()
    text = data.decode(codec, "tensorloupe-unicode-mark")
    spans = list(_spans)
    points, starts = [], []
    pos, bad = 0, 0
    width = _WIDTH.get(codec)
    for ch in text:
        if ch == _MARK and bad < len(spans) and spans[bad][0] == pos:
            start, end = spans[bad]
            bad += 1
            if errors == "strict":
                raise ExecutionError("Invalid formatting on input string")
            if errors == "replace":
                points.append(replacement)
                starts.append(start)
            pos = end
            continue
        cp = ord(ch)
        if controls and _is_control(cp):
            cp = replacement
        points.append(cp)
        starts.append(pos)
        if width is None:
            pos += len(ch.encode("utf-8", "surrogatepass"))
        elif width == 2 and ord(ch) > 0xFFFF:
            pos += 4
        else:
            pos += width
    return points, starts


def _strings(x) -> list[bytes]:
    return [bytes(v) if isinstance(v, (bytes, np.bytes_)) else str(v).encode()
            for v in np.asarray(x, dtype=object).reshape(-1)]


def _decode(ctx, inputs, attrs, offsets: bool):
    codec = _codec(attrs.get("input_encoding", b""))
    errors, replacement, controls = _policy(attrs)
    items = _strings(inputs[0])
    splits, points, starts = [0], [], []
    for s in items:
        if hasattr(ctx, "tick"):
            ctx.tick()
        p, st = decode_one(s, codec, errors, replacement, controls)
        points.extend(p)
        starts.extend(st)
        splits.append(len(points))
    split_dt = np_dtype(attrs.get("Tsplits", 9))
    out = [np.array(splits, split_dt), np.array(points, np.int32)]
    if offsets:
        out.append(np.array(starts, np.int64))
    return tuple(out)


_DECODE_DEFAULTS = {"errors": b"replace", "replacement_char": 65533,
                    "replace_control_characters": False, "Tsplits": 9}


@op("UnicodeDecode", outputs=("row_splits", "char_values"), defaults=_DECODE_DEFAULTS,
    description="splits each string into its Unicode code points (a ragged tensor)")
def _unicode_decode(ctx, inputs, attrs):
    return _decode(ctx, inputs, attrs, offsets=False)


@op("UnicodeDecodeWithOffsets", outputs=("row_splits", "char_values", "char_to_byte_starts"),
    defaults=_DECODE_DEFAULTS,
    description="splits each string into its Unicode code points and where each starts")
def _unicode_decode_offsets(ctx, inputs, attrs):
    return _decode(ctx, inputs, attrs, offsets=True)


def _valid(cp: int) -> bool:
    return 0 <= cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF


def encode_points(points, codec: str, errors: str, replacement: int) -> bytes:
    chars = []
    for cp in points:
        if not _valid(cp):
            if errors == "strict":
                raise ExecutionError("Code point is out of range for Unicode, or is a "
                                     "surrogate.")
            if errors == "ignore":
                continue
            cp = replacement
        chars.append(chr(cp))
    text = "".join(chars)
    try:
        return text.encode(codec)
    except UnicodeEncodeError:
        if errors == "strict":
            raise ExecutionError("Invalid code point for the output encoding") from None
        if errors == "ignore":
            return text.encode(codec, "ignore")
        return "".join(c if c.encode(codec, "ignore") else chr(replacement)
                       for c in text).encode(codec, "replace")


@op("UnicodeEncode", outputs=("output",),
    defaults={"errors": b"replace", "replacement_char": 65533, "Tsplits": 9},
    description="joins rows of Unicode code points into strings")
def _unicode_encode(ctx, inputs, attrs):
    values = np.asarray(inputs[0]).reshape(-1)
    splits = np.asarray(inputs[1]).reshape(-1).astype(np.int64)
    codec = _codec(attrs.get("output_encoding", b""))
    errors, replacement, _ = _policy(attrs)
    if errors == "replace" and not _valid(replacement):
        raise ExecutionError(f"replacement_char {replacement} is not a valid code point")
    if splits.size == 0 or splits[0] != 0 or np.any(np.diff(splits) < 0) \
            or splits[-1] != values.size:
        raise ExecutionError("input_splits must start at 0, never decrease and end at the "
                             "number of values")
    out = np.empty(splits.size - 1, dtype=object)
    vals = values.tolist()
    for i in range(splits.size - 1):
        if hasattr(ctx, "tick"):
            ctx.tick()
        out[i] = encode_points(vals[splits[i]:splits[i + 1]], codec, errors, replacement)
    return out


@op("UnicodeTranscode", outputs=("output",),
    defaults={"errors": b"replace", "replacement_char": 65533,
              "replace_control_characters": False},
    description="re-encodes strings from one Unicode encoding to another")
def _unicode_transcode(ctx, inputs, attrs):
    src = _codec(attrs.get("input_encoding", b""))
    dst = _codec(attrs.get("output_encoding", b""))
    errors, replacement, controls = _policy(attrs)
    x = np.asarray(inputs[0], dtype=object)
    out = np.empty(x.shape, dtype=object)
    flat = out.reshape(-1)
    for i, s in enumerate(_strings(x)):
        if hasattr(ctx, "tick"):
            ctx.tick()
        points, _ = decode_one(s, src, errors, replacement, controls)
        flat[i] = encode_points(points, dst, errors, replacement)
    return out


# ---------------------------------------------------------------- scripts

@lru_cache(maxsize=1)
def _script_ranges():
    """(starts, scripts): code points from starts[i] up to the next start have script
    scripts[i] (ICU's UScriptCode numbers, as TensorFlow reports them)."""
    from .unicode_script_table import TABLE
    data = json.loads(zlib.decompress(base64.b64decode(TABLE)))
    return np.asarray(data["starts"], np.int64), np.asarray(data["scripts"], np.int32)


@op("UnicodeScript", outputs=("output",),
    description="the Unicode script (ICU's script code) of each code point")
def _unicode_script(ctx, inputs, attrs):
    x = np.asarray(inputs[0])
    starts, scripts = _script_ranges()
    cp = x.astype(np.int64)
    at = np.searchsorted(starts, cp, side="right") - 1
    out = scripts[np.clip(at, 0, scripts.size - 1)]
    out = np.where((cp < 0) | (cp > 0x10FFFF), np.int32(-1), out)
    return out.astype(np.int32).reshape(x.shape)
