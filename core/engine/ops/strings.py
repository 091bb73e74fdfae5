"""String ops. Strings are numpy object arrays of ``bytes``, as TensorFlow stores them.

Regular expressions: TensorFlow uses RE2. The common subset is translated to Python's
``re`` (RE2's ASCII-only \\d \\w \\s, \\z, POSIX classes, rewrite strings with \\1);
constructs whose meaning differs or that RE2 rejects raise an error instead of
silently matching differently.
"""
from __future__ import annotations

import base64
import binascii
import functools
import re

import numpy as np

from ...errors import ExecutionError, UnsupportedError
from ..context import active_meter
from ..registry import np_dtype
from .math import broadcast_shape, op, reduction_axes, shape_text

# Element loops poll for cancellation and the time budget once per this many elements.
_CHUNK = 1 << 14


def _strings(x) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != object:
        raise ExecutionError(f"expected a string tensor, got {x.dtype}")
    return x


def _map(fn, *arrays, otype=object):
    """Apply a per-element Python function over broadcast object arrays.

    Long maps run in chunks, asking between chunks whether the run was cancelled or is out
    of time (a Python function per element can take seconds on a big tensor)."""
    f = np.frompyfunc(fn, len(arrays), 1)
    meter = active_meter()
    shape = np.broadcast_shapes(*(np.shape(a) for a in arrays))
    n = 1
    for d in shape:
        n *= d
    if meter is None or not meter.polling or n <= _CHUNK:
        r = f(*arrays)
    else:
        flat = [np.broadcast_to(np.asarray(a), shape).reshape(-1) for a in arrays]
        r = np.empty(n, dtype=object)
        for b in range(0, n, _CHUNK):
            meter.poll("a string operation")
            r[b:b + _CHUNK] = f(*(x[b:b + _CHUNK] for x in flat))
        r = r.reshape(shape)
    if not isinstance(r, np.ndarray):          # all inputs were 0-d
        box = np.empty((), dtype=object)
        box[()] = r
        r = box
    return r.astype(otype)


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def _bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _attr_text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _total_length(x: np.ndarray) -> int:
    """Bytes held by the strings of an object array."""
    return sum(len(b) for b in x.reshape(-1) if isinstance(b, (bytes, str)))


def _poll(ctx) -> None:
    """Stop here when the run was cancelled or is out of time."""
    check = getattr(ctx, "check_cancelled", None)   # (kernel tests pass a bare context)
    if check is not None:
        check()


def _check_text(ctx, n_strings: int, n_bytes: int) -> None:
    """Ask the memory budget before making ``n_strings`` strings of ``n_bytes`` in all
    (a string tensor's bytes are not in its numpy size; joins in a loop can double them
    every iteration)."""
    ctx.check_alloc(int(n_strings) * 8 + int(n_bytes))


# ------------------------------------------------------------------- simple ops


@op("StringJoin", outputs=("output",), defaults={"separator": b""},
    description="glues strings together element by element, with an optional separator")
def _string_join(ctx, inputs, attrs):
    sep = attrs.get("separator", b"")
    arrays = [_strings(x) for x in inputs]
    shapes = {a.shape for a in arrays if a.ndim}
    if len(shapes) > 1:
        first = next(a.shape for a in arrays if a.ndim)
        other = next(a.shape for a in arrays if a.ndim and a.shape != first)
        raise ExecutionError(f"Input shapes do not match: {shape_text(first)} vs. "
                             f"{shape_text(other)}")
    shape = shapes.pop() if shapes else ()
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    _check_text(ctx, n, sum(_total_length(a) * (n // max(a.size, 1)) for a in arrays)
                + len(sep) * max(len(arrays) - 1, 0) * n)
    out = np.empty(shape, dtype=object)
    parts = [np.broadcast_to(a, shape) for a in arrays]
    for i, idx in enumerate(np.ndindex(*shape)):
        if not i % _CHUNK:
            _poll(ctx)
        out[idx] = sep.join(p[idx] for p in parts)
    return out


def _case_op(name, method, description):
    def k(ctx, inputs, attrs):
        x = _strings(inputs[0])
        enc = attrs.get("encoding", b"")
        if enc in (b"", None):
            fn = getattr(bytes, method)          # ASCII letters only, like TensorFlow
        elif enc.lower().replace(b"-", b"") == b"utf8":
            def fn(b):
                return _bytes(getattr(_text(b), method)())
        else:
            raise UnsupportedError(f"{name} encoding {enc!r} is not supported")
        return _map(fn, x)
    op(name, outputs=("output",), defaults={"encoding": b""}, description=description)(k)


_case_op("StringLower", "lower", "converts letters to lower case")
_case_op("StringUpper", "upper", "converts letters to upper case")


@op("StringStrip", outputs=("output",),
    description="removes spaces, tabs and newlines from both ends of each string")
def _string_strip(ctx, inputs, attrs):
    return _map(lambda b: b.strip(b" \t\n\v\f\r"), _strings(inputs[0]))


@op("StringLength", outputs=("output",), defaults={"unit": b"BYTE"},
    description="the length of each string, in bytes or in Unicode characters")
def _string_length(ctx, inputs, attrs):
    x = _strings(inputs[0])
    if attrs.get("unit", b"BYTE") == b"UTF8_CHAR":
        return _map(lambda b: sum(1 for c in b if c & 0xC0 != 0x80), x, otype=np.int32)
    return _map(len, x, otype=np.int32)


def _utf8_starts(b: bytes) -> list[int]:
    return [i for i, c in enumerate(b) if c & 0xC0 != 0x80]


@op("Substr", outputs=("output",), defaults={"unit": b"BYTE"},
    description="cuts a piece out of each string, given a start position and length")
def _substr(ctx, inputs, attrs):
    x, pos, length = _strings(inputs[0]), inputs[1], inputs[2]
    if pos.shape != length.shape:
        raise ExecutionError(f"pos and len should have the same shape, got: "
                             f"{shape_text(pos.shape)} vs. {shape_text(length.shape)}")
    utf8 = attrs.get("unit", b"BYTE") == b"UTF8_CHAR"

    def cut(b, p, n):
        p, n = int(p), int(n)
        if utf8:
            starts = _utf8_starts(b)
            size = len(starts)
        else:
            size = len(b)
        if p < -size or p > size:
            raise ExecutionError(f"pos {p} out of range for string b'{_text(b)}' at index 0")
        if p < 0:
            p += size
        end = min(p + max(n, 0), size)
        if not utf8:
            return b[p:end]
        starts.append(len(b))
        return b[starts[p]:starts[end]]
    broadcast_shape(x, pos)
    return _map(cut, x, pos, length)


@op("AsString", outputs=("output",),
    defaults={"precision": -1, "scientific": False, "shortest": False, "width": -1,
              "fill": b""},
    description="turns numbers into text")
def _as_string(ctx, inputs, attrs):
    x = inputs[0]
    if x.dtype == object:
        return x
    if x.dtype == np.bool_:
        return _map(lambda v: b"true" if v else b"false", x)
    prec, width = int(attrs.get("precision", -1)), int(attrs.get("width", -1))
    sci, short = bool(attrs.get("scientific")), bool(attrs.get("shortest"))
    fill = _attr_text(attrs.get("fill", b""))
    if len(fill) > 1:
        raise ExecutionError("Fill string must be one or fewer characters")
    floating = x.dtype.kind in "fc"
    if not floating and (sci or short or prec > -1):
        raise ExecutionError(f"scientific, shortest and precision are not supported for "
                             f"{x.dtype}")
    fmt = "%"
    if width > -1:
        fmt += f"{fill}{width}"
    if prec > -1:
        fmt += f".{prec}"
    fmt += ("g" if short else "e" if sci else "f") if floating else "d"
    if x.dtype.kind == "c":
        return _map(lambda v: ("(" + fmt % v.real + "," + fmt % v.imag + ")").encode(), x)
    conv = float if floating else int
    return _map(lambda v: (fmt % conv(v)).encode(), x)


_INT_RE = re.compile(rb"^\s*[+-]?[0-9]+\s*$")
_FLOAT_RE = re.compile(rb"^\s*[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|"
                       rb"inf(?:inity)?|nan)\s*$", re.IGNORECASE)


@op("StringToNumber", outputs=("output",), defaults={"out_type": 1},
    description="parses text into numbers")
def _string_to_number(ctx, inputs, attrs):
    x = _strings(inputs[0])
    dt = np_dtype(attrs.get("out_type", 1))
    is_int = dt.kind in "iu"
    info = np.iinfo(dt) if is_int else None

    def parse(b):
        if not (_INT_RE if is_int else _FLOAT_RE).match(b):
            raise ExecutionError(f"StringToNumberOp could not correctly convert string: "
                                 f"{_text(b)}")
        if is_int:
            v = int(b)
            if not info.min <= v <= info.max:
                raise ExecutionError(f"StringToNumberOp could not correctly convert string: "
                                     f"{_text(b)}")
            return v
        return float(b)
    return _map(parse, x, otype=np.float64 if not is_int else np.int64).astype(dt)


@op("ReduceJoin", outputs=("output",), defaults={"keep_dims": False, "separator": b""},
    description="joins all strings along the given axes into one")
def _reduce_join(ctx, inputs, attrs):
    x, axes_arg = _strings(inputs[0]), inputs[1]
    axes = reduction_axes(x, axes_arg) if np.asarray(axes_arg).size else ()
    if np.asarray(axes_arg).size == 0:
        axes = tuple(range(x.ndim))   # TensorFlow: an empty axis list reduces everything
    sep = attrs.get("separator", b"")
    keep = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, keep + list(axes))
    lead = moved.shape[:len(keep)]
    flat = moved.reshape(lead + (-1,))
    _check_text(ctx, int(np.prod(lead, dtype=np.int64)),
                _total_length(x) + len(sep) * x.size)
    out = np.empty(lead, dtype=object)
    for i, idx in enumerate(np.ndindex(*lead)):
        if not i % _CHUNK:
            _poll(ctx)
        out[idx] = sep.join(flat[idx])
    if attrs.get("keep_dims"):
        out = out.reshape([1 if a in axes else d for a, d in enumerate(x.shape)])
    return out


@op("EncodeBase64", outputs=("output",), defaults={"pad": False},
    description="encodes bytes as URL-safe base64 text")
def _encode_base64(ctx, inputs, attrs):
    pad = bool(attrs.get("pad", False))
    return _map(lambda b: base64.urlsafe_b64encode(b) if pad else
                base64.urlsafe_b64encode(b).rstrip(b"="), _strings(inputs[0]))


@op("DecodeBase64", outputs=("output",), description="decodes URL-safe base64 text to bytes")
def _decode_base64(ctx, inputs, attrs):
    def dec(b):
        try:
            return base64.urlsafe_b64decode(b.rstrip(b"=") + b"=" * (-len(b.rstrip(b"=")) % 4))
        except (binascii.Error, ValueError):
            raise ExecutionError(f"Invalid character found in base64: {_text(b)!r}") from None
    return _map(dec, _strings(inputs[0]))


# --------------------------------------------------------------------- splitting


def _sparse(rows: list[list[bytes]]):
    indices = [(i, j) for i, row in enumerate(rows) for j in range(len(row))]
    values = np.empty(len(indices), dtype=object)
    values[:] = [v for row in rows for v in row]
    width = max((len(r) for r in rows), default=0)
    return (np.asarray(indices, dtype=np.int64).reshape(-1, 2), values,
            np.asarray([len(rows), width], dtype=np.int64))


@op("StringSplit", outputs=("indices", "values", "shape"), defaults={"skip_empty": True},
    description="splits each string at any of the delimiter characters (a sparse result)")
def _string_split(ctx, inputs, attrs):
    x, delim = _strings(inputs[0]), _strings(inputs[1])
    if x.ndim != 1:
        raise ExecutionError(f"input must be a vector, got shape: {shape_text(x.shape)}")
    d = delim.item()
    skip = bool(attrs.get("skip_empty", True))
    rows = []
    for i, b in enumerate(x):
        if not i % _CHUNK:
            _poll(ctx)
        if not d:
            parts = [b[i:i + 1] for i in range(len(b))]
        else:
            parts = re.split(b"[" + re.escape(d) + b"]", b)
        rows.append([p for p in parts if p or not skip] if b else [])
    return _sparse(rows)


@op("StringSplitV2", outputs=("indices", "values", "shape"), defaults={"maxsplit": -1},
    description="splits each string at a separator, or at runs of whitespace if it is empty")
def _string_split_v2(ctx, inputs, attrs):
    x, sep = _strings(inputs[0]), _strings(inputs[1])
    if x.ndim != 1:
        raise ExecutionError(f"input must be a vector, got shape: {shape_text(x.shape)}")
    s = sep.item()
    maxsplit = int(attrs.get("maxsplit", -1))
    rows = []
    for i, b in enumerate(x):
        if not i % _CHUNK:
            _poll(ctx)
        if s:
            rows.append(b.split(s, maxsplit))
        else:
            rows.append(b.split(None, maxsplit))
    return _sparse(rows)


# ------------------------------------------------------------------------ regexes

_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
_CLASS = {"d": "0-9", "w": "0-9A-Za-z_", "s": "\\t\\n\\f\\r "}


@functools.lru_cache(maxsize=256)
def compile_re2(pattern: bytes) -> re.Pattern:
    """Translate an RE2 pattern to a compiled Python pattern over text."""
    src = _text(pattern)
    out, i, in_class = [], 0, False
    while i < len(src):
        c = src[i]
        if c == "\\":
            if i + 1 >= len(src):
                raise ExecutionError(f"Invalid pattern {src!r}: trailing \\")
            e = src[i + 1]
            if e in _CLASS:
                body = _CLASS[e]
                out.append(body if in_class else f"[{body}]")
            elif e.lower() in "dws" and e.isupper():
                if in_class:
                    raise UnsupportedError(f"regex {src!r}: negated class \\{e} inside [...] "
                                           f"is not supported")
                out.append(f"[^{_CLASS[e.lower()]}]")
            elif e == "z":
                out.append("\\Z")
            elif e == "x" and src[i + 2:i + 3] == "{":
                close = src.index("}", i)
                out.append("\\U%08x" % int(src[i + 3:close], 16))
                i = close + 1
                continue
            elif e.isdigit() and e != "0":
                raise ExecutionError(f"Invalid pattern {src!r}: RE2 has no backreferences")
            elif e in "pPQEC":
                raise UnsupportedError(f"regex {src!r}: RE2's \\{e} is not supported")
            else:
                out.append(c + e)
            i += 2
            continue
        if in_class:
            if src.startswith("[:", i):
                close = src.find(":]", i + 2)
                name = src[i + 2:close] if close > 0 else ""
                neg = name.startswith("^")
                if name.lstrip("^") not in _POSIX or neg:
                    raise UnsupportedError(f"regex {src!r}: class [:{name}:] is not supported")
                out.append(_POSIX[name])
                i = close + 2
                continue
            if c == "]" and out and out[-1] not in ("[", "[^"):
                in_class = False
            elif c == "[":
                out.append("\\[")
                i += 1
                continue
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            if src.startswith("[^", i):
                out.append("[^")
                i += 2
            else:
                out.append("[")
                i += 1
            if i < len(src) and src[i] == "]":   # a leading ] is literal
                out.append("\\]")
                i += 1
            continue
        if c == "(" and src.startswith("(?", i):
            rest = src[i + 2:i + 4]
            if rest[:1] in ("=", "!", ">") or rest in ("<=", "<!") or rest.startswith("P="):
                raise ExecutionError(f"Invalid pattern {src!r}: RE2 does not support "
                                     f"lookaround, atomic groups or backreferences")
            if rest[:1] not in ("P", ":", "<") and "U" in src[i + 2:src.find(")", i)].split(
                    ":")[0]:
                raise UnsupportedError(f"regex {src!r}: the U (ungreedy) flag is not supported")
        if c == "$" and not re.search(r"\(\?[a-zA-Z]*m", src):
            out.append("\\Z")            # RE2's $ is the end of text, never before a final \n
            i += 1
            continue
        if c in "*+?}" and src[i + 1:i + 2] == "+":
            raise ExecutionError(f"Invalid pattern {src!r}: bad repetition operator")
        out.append(c)
        i += 1
    try:
        return re.compile("".join(out))
    except re.error as exc:
        raise ExecutionError(f"Invalid pattern {src!r}: {exc}") from None


def _rewrite(template: bytes):
    """RE2 rewrite string (\\0..\\9 groups, \\\\ a backslash) -> function of a match."""
    t = _text(template)
    parts: list = []
    i = 0
    while i < len(t):
        if t[i] == "\\" and i + 1 < len(t):
            n = t[i + 1]
            if n.isdigit():
                parts.append(int(n))
            elif n == "\\":
                parts.append("\\")
            else:
                raise ExecutionError(f"Invalid rewrite pattern: {t!r}")
            i += 2
        else:
            parts.append(t[i])
            i += 1

    def fill(m):
        return "".join(m.group(p) or "" if isinstance(p, int) else p for p in parts)
    return fill


def _full_match(x, pattern):
    rx = compile_re2(pattern)
    return _map(lambda b: rx.fullmatch(_text(b)) is not None, x, otype=np.bool_)


@op("RegexFullMatch", outputs=("output",),
    description="true where the whole string matches a regular expression")
def _regex_full_match(ctx, inputs, attrs):
    x, pattern = _strings(inputs[0]), _strings(inputs[1])
    return _full_match(x, pattern.item())


@op("StaticRegexFullMatch", outputs=("output",),
    description="true where the whole string matches a fixed regular expression")
def _static_regex_full_match(ctx, inputs, attrs):
    return _full_match(_strings(inputs[0]), attrs["pattern"])


def _replace(x, pattern, rewrite, replace_global):
    rx = compile_re2(pattern)
    fill = _rewrite(rewrite)
    count = 0 if replace_global else 1
    return _map(lambda b: _bytes(rx.sub(fill, _text(b), count=count)), x)


@op("RegexReplace", outputs=("output",), defaults={"replace_global": True},
    description="replaces the parts of each string that match a regular expression")
def _regex_replace(ctx, inputs, attrs):
    x, pattern, rewrite = (_strings(v) for v in inputs)
    return _replace(x, pattern.item(), rewrite.item(), attrs.get("replace_global", True))


@op("StaticRegexReplace", outputs=("output",), defaults={"replace_global": True},
    description="replaces the parts of each string that match a fixed regular expression")
def _static_regex_replace(ctx, inputs, attrs):
    return _replace(_strings(inputs[0]), attrs["pattern"], attrs["rewrite"],
                    attrs.get("replace_global", True))



# ------------------------------------------------------------- fingerprint hashing
# TensorFlow buckets strings with farmhash's Fingerprint64 (the "na" variant of
# Hash64). Reimplemented from the published algorithm with 64-bit wrap-around.

_M64 = (1 << 64) - 1
_K0, _K1, _K2 = 0xC3A5C85C97CB3127, 0xB492B66FBE98F273, 0x9AE16A3B2F90404F


def _rot(v: int, s: int) -> int:
    return ((v >> s) | (v << (64 - s))) & _M64 if s else v


def _u64(b: bytes, i: int) -> int:
    return int.from_bytes(b[i:i + 8], "little")


def _u32(b: bytes, i: int) -> int:
    return int.from_bytes(b[i:i + 4], "little")


def _mix(v: int) -> int:
    return v ^ (v >> 47)


def _pair_hash(u: int, v: int, mul: int) -> int:
    a = _mix(((u ^ v) * mul) & _M64)
    b = _mix(((v ^ a) * mul) & _M64)
    return (b * mul) & _M64


def _short(b: bytes) -> int:
    n = len(b)
    if n >= 8:
        mul = _K2 + n * 2
        a = (_u64(b, 0) + _K2) & _M64
        c = _u64(b, n - 8)
        return _pair_hash((_rot(c, 37) * mul + a) & _M64, ((_rot(a, 25) + c) * mul) & _M64, mul)
    if n >= 4:
        mul = _K2 + n * 2
        return _pair_hash((n + (_u32(b, 0) << 3)) & _M64, _u32(b, n - 4), mul)
    if n:
        y = b[0] + (b[n >> 1] << 8)
        z = n + (b[n - 1] << 2)
        return (_mix(((y * _K2) ^ (z * _K0)) & _M64) * _K2) & _M64
    return _K2


def _medium(b: bytes) -> int:
    n = len(b)
    mul = _K2 + n * 2
    a = (_u64(b, 0) * _K1) & _M64
    c = _u64(b, 8)
    d = (_u64(b, n - 8) * mul) & _M64
    e = (_u64(b, n - 16) * _K2) & _M64
    return _pair_hash((_rot((a + c) & _M64, 43) + _rot(d, 30) + e) & _M64,
                      (a + _rot((c + _K2) & _M64, 18) + d) & _M64, mul)


def _long33(b: bytes) -> int:
    n = len(b)
    mul = _K2 + n * 2
    a = (_u64(b, 0) * _K2) & _M64
    c = _u64(b, 8)
    d = (_u64(b, n - 8) * mul) & _M64
    e = (_u64(b, n - 16) * _K2) & _M64
    y = (_rot((a + c) & _M64, 43) + _rot(d, 30) + e) & _M64
    z = _pair_hash(y, (a + _rot((c + _K2) & _M64, 18) + d) & _M64, mul)
    f = (_u64(b, 16) * mul) & _M64
    g = _u64(b, 24)
    h = ((y + _u64(b, n - 32)) * mul) & _M64
    i = ((z + _u64(b, n - 24)) * mul) & _M64
    return _pair_hash((_rot((f + g) & _M64, 43) + _rot(h, 30) + i) & _M64,
                      (f + _rot((g + a) & _M64, 18) + h) & _M64, mul)


def _weak32(b: bytes, i: int, a: int, c: int) -> tuple[int, int]:
    w, x, y, z = _u64(b, i), _u64(b, i + 8), _u64(b, i + 16), _u64(b, i + 24)
    a = (a + w) & _M64
    c = _rot((c + a + z) & _M64, 21)
    keep = a
    a = (a + x + y) & _M64
    c = (c + _rot(a, 44)) & _M64
    return (a + z) & _M64, (c + keep) & _M64


def fingerprint64(b: bytes) -> int:
    n = len(b)
    if n <= 16:
        return _short(b)
    if n <= 32:
        return _medium(b)
    if n <= 64:
        return _long33(b)
    x = 81
    y = (81 * _K1 + 113) & _M64
    z = (_mix((y * _K2 + 113) & _M64) * _K2) & _M64
    v = (0, 0)
    w = (0, 0)
    x = (x * _K2 + _u64(b, 0)) & _M64
    end = ((n - 1) // 64) * 64
    last = n - 64
    s = 0
    while True:
        x = (_rot((x + y + v[0] + _u64(b, s + 8)) & _M64, 37) * _K1) & _M64
        y = (_rot((y + v[1] + _u64(b, s + 48)) & _M64, 42) * _K1) & _M64
        x ^= w[1]
        y = (y + v[0] + _u64(b, s + 40)) & _M64
        z = (_rot((z + w[0]) & _M64, 33) * _K1) & _M64
        v = _weak32(b, s, (v[1] * _K1) & _M64, (x + w[0]) & _M64)
        w = _weak32(b, s + 32, (z + w[1]) & _M64, (y + _u64(b, s + 16)) & _M64)
        z, x = x, z
        s += 64
        if s == end:
            break
    mul = (_K1 + ((z & 0xFF) << 1)) & _M64
    s = last
    w0 = (w[0] + ((n - 1) & 63)) & _M64
    v0 = (v[0] + w0) & _M64
    w0 = (w0 + v0) & _M64
    v, w = (v0, v[1]), (w0, w[1])
    x = (_rot((x + y + v[0] + _u64(b, s + 8)) & _M64, 37) * mul) & _M64
    y = (_rot((y + v[1] + _u64(b, s + 48)) & _M64, 42) * mul) & _M64
    x ^= (w[1] * 9) & _M64
    y = (y + v[0] * 9 + _u64(b, s + 40)) & _M64
    z = (_rot((z + w[0]) & _M64, 33) * mul) & _M64
    v = _weak32(b, s, (v[1] * mul) & _M64, (x + w[0]) & _M64)
    w = _weak32(b, s + 32, (z + w[1]) & _M64, (y + _u64(b, s + 16)) & _M64)
    z, x = x, z
    return _pair_hash((_pair_hash(v[0], w[0], mul) + _mix(y) * _K0 + z) & _M64,
                      (_pair_hash(v[1], w[1], mul) + x) & _M64, mul)


@op("StringToHashBucketFast", outputs=("output",),
    description="maps each string to one of num_buckets buckets by its fingerprint hash")
def _string_to_hash_bucket_fast(ctx, inputs, attrs):
    n = int(attrs["num_buckets"])
    if n <= 0:
        raise ExecutionError(f"num_buckets must be positive, got {n}")
    return _map(lambda b: fingerprint64(b) % n, _strings(inputs[0]), otype=np.int64)


@op("Fingerprint", outputs=("fingerprint",),
    description="an 8-byte farmhash fingerprint of each row of a tensor")
def _fingerprint(ctx, inputs, attrs):
    data, method = inputs
    if _strings(method).item() != b"farmhash64":
        raise UnsupportedError(f"fingerprint method {method.item()!r} is not supported")
    if data.ndim < 1:
        raise ExecutionError("data must have rank at least one")
    n = data.shape[0]
    out = np.zeros((n, 8), np.uint8)
    for i in range(n):
        if not i % _CHUNK:
            _poll(ctx)
        row = data[i]
        if data.dtype == object:
            flat = np.asarray(row, dtype=object).reshape(-1)
            if flat.size == 1:
                fp = fingerprint64(flat[0])
            else:
                raise UnsupportedError("Fingerprint of string rows with several elements is "
                                       "not supported")
        else:
            fp = fingerprint64(np.ascontiguousarray(row).tobytes())
        out[i] = np.frombuffer(fp.to_bytes(8, "little"), np.uint8)
    return out


# ------------------------------------------------------------------ tensor summaries


def _scalar_text(v) -> str:
    if isinstance(v, bytes):
        return '"' + _text(v) + '"'
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (float, np.floating)):
        # TensorFlow's float printing: 6 (15) significant digits if that reads back as the
        # same float32 (float64), else 9 (17).
        wide = isinstance(v, (float, np.float64))
        short = "%.15g" % v if wide else "%.6g" % float(v)
        same = float(short) == float(v) if wide else np.float32(short) == np.float32(v)
        return short if same or not np.isfinite(v) else ("%.17g" if wide else "%.9g") % float(v)
    return str(v)


def summarize(x: np.ndarray, n: int) -> str:
    """A tensor as tf.print shows it: nested brackets, ``n`` items at each end of long
    axes with ``...`` between (n < 0 shows everything)."""
    x = np.asarray(x)
    if x.ndim == 0:
        return _scalar_text(x[()])

    def walk(a, depth):
        size = a.shape[0]
        if n >= 0 and size > 2 * n:
            head, tail, cut = list(range(n)), list(range(size - n, size)), True
        else:
            head, tail, cut = list(range(size)), [], False
        if a.ndim == 1:
            parts = [_scalar_text(a[i]) for i in head]
            if cut:
                parts.append("...")
                parts += [_scalar_text(a[i]) for i in tail]
            return "[" + " ".join(parts) + "]"
        sep = "\n" * (a.ndim - 1) + " " * (depth + 1)
        parts = [walk(a[i], depth + 1) for i in head]
        if cut:
            parts.append("...")
            parts += [walk(a[i], depth + 1) for i in tail]
        return "[" + sep.join(parts) + "]"
    return walk(x, 0)


@op("StringFormat", outputs=("output",),
    defaults={"template": b"%s", "placeholder": b"%s", "summarize": 3},
    description="fills a text template with printed tensors (what tf.print formats)")
def _string_format(ctx, inputs, attrs):
    template = _text(attrs.get("template", b"%s"))
    holder = _text(attrs.get("placeholder", b"%s"))
    n = int(attrs.get("summarize", 3))
    pieces = template.split(holder)
    if len(pieces) - 1 != len(inputs):
        raise ExecutionError(f"{len(pieces) - 1} placeholders in the template but "
                             f"{len(inputs)} tensors to format")
    out = pieces[0]
    for x, rest in zip(inputs, pieces[1:]):
        out += summarize(x, n) + rest
    return np.asarray(_bytes(out), dtype=object)


def _rotl(v: int, s: int) -> int:
    return ((v << s) | (v >> (64 - s))) & _M64


def siphash24(key: tuple[int, int], data: bytes) -> int:
    """SipHash-2-4 (Aumasson and Bernstein), what StringToHashBucketStrong uses."""
    k0, k1 = key[0] & _M64, key[1] & _M64
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D,
         k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]

    def rounds(count):
        for _ in range(count):
            v[0] = (v[0] + v[1]) & _M64
            v[1] = _rotl(v[1], 13) ^ v[0]
            v[0] = _rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & _M64
            v[3] = _rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & _M64
            v[3] = _rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & _M64
            v[1] = _rotl(v[1], 17) ^ v[2]
            v[2] = _rotl(v[2], 32)

    n = len(data)
    end = n - n % 8
    for i in range(0, end, 8):
        m = int.from_bytes(data[i:i + 8], "little")
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    last = ((n & 0xFF) << 56) | int.from_bytes(data[end:], "little")
    v[3] ^= last
    rounds(2)
    v[0] ^= last
    v[2] ^= 0xFF
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


@op("StringToHashBucketStrong", outputs=("output",),
    description="maps each string to one of num_buckets buckets by a keyed SipHash")
def _string_to_hash_bucket_strong(ctx, inputs, attrs):
    n = int(attrs["num_buckets"])
    key = [int(k) for k in attrs.get("key", [])]
    if n <= 0:
        raise ExecutionError(f"num_buckets must be positive, got {n}")
    if len(key) != 2:
        raise ExecutionError(f"Key must have 2 elements, got {len(key)}")
    return _map(lambda b: siphash24((key[0], key[1]), b) % n, _strings(inputs[0]),
                otype=np.int64)


@op("StringNGrams", outputs=("ngrams", "ngrams_splits"), defaults={"Tsplits": 9},
    description="joins every run of n neighbouring tokens of each row into one string")
def _string_ngrams(ctx, inputs, attrs):
    data, splits = _strings(inputs[0]), np.asarray(inputs[1])
    sep = attrs.get("separator", b" ")
    widths = [int(w) for w in attrs.get("ngram_widths", [])]
    left, right = attrs.get("left_pad", b""), attrs.get("right_pad", b"")
    pad_width = int(attrs.get("pad_width", 0))
    preserve = bool(attrs.get("preserve_short_sequences", False))
    if any(w <= 0 for w in widths):
        raise ExecutionError(f"ngram_widths must contain positive values, got {widths}")
    bounds = [int(v) for v in splits.reshape(-1)]
    if bounds and (bounds[0] != 0 or bounds[-1] != data.size or
                   any(b < a for a, b in zip(bounds, bounds[1:]))):
        raise ExecutionError("data_splits must start at 0, end at the number of tokens and "
                             "never decrease")
    # What the n-grams will take, before making them: wide n-grams padded on both sides
    # make (row length + width) strings of width tokens each, per row.
    token_bytes = _total_length(data)
    count = size = 0
    for a, b in zip(bounds, bounds[1:]):
        for w in widths:
            p = w - 1 if pad_width < 0 else min(pad_width, w - 1)
            k = max(b - a + 2 * p - w + 1, 0)
            count += k
            size += k * w * (len(sep) + 1 + max(len(left), len(right)))
        if preserve:
            count += 1
    size += token_bytes * sum(widths)
    _check_text(ctx, count, size)
    out: list[bytes] = []
    row_splits = [0]
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        if not i % _CHUNK:
            _poll(ctx)
        tokens = list(data[a:b])
        start = len(out)
        for w in widths:
            p = w - 1 if pad_width < 0 else min(pad_width, w - 1)
            padded = [left] * p + tokens + [right] * p
            out.extend(sep.join(padded[i:i + w]) for i in range(len(padded) - w + 1))
        if preserve and len(out) == start and tokens:
            p = (max(widths) - 1 if pad_width < 0 else pad_width) if widths else 0
            out.append(sep.join([left] * p + tokens + [right] * p))
        row_splits.append(len(out))
    values = np.empty(len(out), dtype=object)
    values[:] = out
    return values, np.asarray(row_splits, dtype=splits.dtype)
