"""The arithmetic of a comparison: partial sums of one variable (or one part of it), the dtype
two sides are compared in, and the chunk-by-chunk scan that fills the sums.

Chunks are flat slices of two arrays of the same length. Finite chunks take a fast path of a
few dot products; a chunk with NaN/Inf (or whose sums overflow) is redone carefully, counting
the non-finite values and leaving them out of the norms.
"""
from __future__ import annotations

import math
import threading

import numpy as np

from ..errors import Cancelled
from . import tuning
from .pages import _BLOCK, _drop_pages


class _Acc:
    """Partial sums of one variable (or one part of it); parts merge by addition."""
    __slots__ = ("aa", "bb", "ab", "dd", "maxabs", "changed", "nan_a", "nan_b", "inf_a", "inf_b")

    def __init__(self):
        self.aa = self.bb = self.ab = self.dd = 0.0
        self.maxabs = 0.0
        self.changed = self.nan_a = self.nan_b = self.inf_a = self.inf_b = 0

    def merge(self, o: "_Acc") -> None:
        self.aa += o.aa
        self.bb += o.bb
        self.ab += o.ab
        self.dd += o.dd
        self.maxabs = max(self.maxabs, o.maxabs)
        self.changed += o.changed
        self.nan_a += o.nan_a
        self.nan_b += o.nan_b
        self.inf_a += o.inf_a
        self.inf_b += o.inf_b


def _plain(dt: np.dtype) -> np.dtype:
    """ml_dtypes types (kind 'V') as the numpy type they compute in."""
    if dt.kind == "V":
        if dt.name.startswith(("bfloat", "float")):
            return np.dtype(np.float32)
        if dt.name.startswith(("int", "uint")):
            return np.dtype(np.float64)
    return dt


_WORK_CACHE: dict = {}


def work_dtype(da: np.dtype, db: np.dtype) -> np.dtype | None:
    """The dtype chunks are compared in, or None for types compared only for equality."""
    key = (da, db)
    if key not in _WORK_CACHE:
        _WORK_CACHE[key] = _work_dtype(da, db)
    return _WORK_CACHE[key]


def _work_dtype(da: np.dtype, db: np.dtype) -> np.dtype | None:
    pa, pb = _plain(np.dtype(da)), _plain(np.dtype(db))
    kinds = {pa.kind, pb.kind}
    if not kinds <= {"f", "i", "u", "c"}:
        return None  # bool, strings
    if "c" in kinds:
        return np.dtype(np.complex128)
    if kinds == {"f"} and pa.itemsize <= 4 and pb.itemsize <= 4:
        return np.dtype(np.float32)  # float32, and float16/bfloat16/float8 widened to it
    return np.dtype(np.float64)  # float64, integers, mixtures


_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


class _Scratch(threading.local):
    """Per-thread buffer for the difference of one chunk."""

    def get(self, dtype: np.dtype, n: int) -> np.ndarray:
        key = (dtype.str, n)
        if getattr(self, "key", None) != key:
            self.key = key
            self.diff = np.empty(n, dtype)
        return self.diff


_scratch = _Scratch()


def _chunk(x: np.ndarray, y: np.ndarray, work: np.dtype, acc: _Acc) -> None:
    """Add one chunk (flat, same length) to the partial sums."""
    if x.dtype != work:
        x = x.astype(work)
    if y.dtype != work:
        y = y.astype(work)
    n = x.shape[0]
    diff = _scratch.get(work, tuning.CHUNK_ELEMENTS)
    d = np.subtract(y, x, out=diff[:n])
    if work.kind == "c":
        dd = float(np.vdot(d, d).real)
        aa = float(np.vdot(x, x).real)
        bb = float(np.vdot(y, y).real)
        ab = float(np.vdot(x, y).real)
    else:
        dd = float(np.dot(d, d))
        aa = float(np.dot(x, x))
        bb = float(np.dot(y, y))
        # <x, y> = (|x|^2 + |y|^2 - |y - x|^2) / 2 saves a pass; each sum is rounded relative
        # to its size, so this is as exact as a dot product unless <x, y> is much smaller than
        # |x|^2 + |y|^2 (nearly orthogonal, or very different norms): then do the dot.
        ab = (aa + bb - dd) / 2
        if not abs(ab) >= 0.25 * (aa + bb):
            ab = float(np.dot(x, y))
    if math.isfinite(dd) and math.isfinite(aa) and math.isfinite(bb) and math.isfinite(ab):
        acc.dd += dd
        acc.aa += aa
        acc.bb += bb
        acc.ab += ab
        if n:
            if work.kind == "c":
                acc.maxabs = max(acc.maxabs, float(np.abs(d).max()))
                acc.changed += int(np.count_nonzero(d))
            else:
                # |d| in place: its bits are zero exactly where B == A (-0 becomes +0), so
                # counting non-zero integers of the same width counts the changed elements.
                np.abs(d, out=d)
                acc.maxabs = max(acc.maxabs, float(d.max()))
                acc.changed += int(np.count_nonzero(d.view(_UINT[d.itemsize])))
        return
    _chunk_nonfinite(x, y, acc)


def _chunk_nonfinite(x: np.ndarray, y: np.ndarray, acc: _Acc) -> None:
    """The careful path, for chunks with NaN/Inf (or sums that overflow float32)."""
    nan_x, nan_y = np.isnan(x), np.isnan(y)
    inf_x, inf_y = np.isinf(x), np.isinf(y)
    acc.nan_a += int(nan_x.sum())
    acc.nan_b += int(nan_y.sum())
    acc.inf_a += int(inf_x.sum())
    acc.inf_b += int(inf_y.sum())
    acc.changed += int(np.count_nonzero(~((x == y) | (nan_x & nan_y))))
    both = ~(nan_x | nan_y | inf_x | inf_y)
    wide = np.complex128 if x.dtype.kind == "c" else np.float64
    xs = x[both].astype(wide)
    ys = y[both].astype(wide)
    d = ys - xs
    acc.dd += float(np.vdot(d, d).real)
    acc.aa += float(np.vdot(xs, xs).real)
    acc.bb += float(np.vdot(ys, ys).real)
    acc.ab += float(np.vdot(xs, ys).real)
    if d.size:
        acc.maxabs = max(acc.maxabs, float(np.abs(d).max()))


def _stream(x: np.ndarray, y: np.ndarray, work: np.dtype, should_stop, on_bytes,
            mapped: bool) -> _Acc:
    """Metrics of two flat arrays, chunk by chunk.

    In a long scan the mapped pages are dropped behind it every RELEASE_BYTES; what is left
    (the tail, short parts) the caller drops, in bigger batches."""
    acc = _Acc()
    n = x.shape[0]
    # Chunks of equal size (a 1 MiB variable is two chunks, not two and a sliver): every
    # chunk costs the same few numpy calls whatever its size.
    step = max(1, -(-n // max(1, -(-n // tuning.CHUNK_ELEMENTS))))
    release_every = max(step, tuning.RELEASE_BYTES // max(1, x.itemsize))
    released = 0
    for start in range(0, n, step):
        if should_stop():
            raise Cancelled()
        stop = min(n, start + step)
        _chunk(x[start:stop], y[start:stop], work, acc)
        if mapped and stop - released >= release_every:
            _drop_pages(x[released:stop], _BLOCK)  # the edges go with the caller's batch
            _drop_pages(y[released:stop], _BLOCK)
            released = stop
        if on_bytes is not None:
            on_bytes((stop - start) * x.itemsize)
    return acc


def scalar_value(x: np.ndarray) -> float | int | None:
    """The value of a one-element numeric tensor as a Python number (int for integer types,
    so that counters print as counters); None for anything else (complex included)."""
    if x is None or x.size != 1:
        return None
    dt = x.dtype
    name = dt.name
    if dt.kind in "iu" or (dt.kind == "V" and name.startswith(("int", "uint"))):
        return int(x.reshape(-1)[:1].astype(np.int64 if dt.kind != "u" else np.uint64)[0])
    if dt.kind == "f" or (dt.kind == "V" and name.startswith(("bfloat", "float"))):
        item = x.reshape(-1)[0]
        try:
            # The shortest decimal that reads back as the same value of its own type: a
            # float32 learning rate of 0.02 is 0.02, not 0.019999999552965164.
            return float(str(item))
        except ValueError:
            return float(np.asarray(item).astype(np.float64))
    return None


def _equal_count(a: np.ndarray, b: np.ndarray) -> int:
    """Elements that differ, for bool and string tensors."""
    return int(np.count_nonzero(a.reshape(-1) != b.reshape(-1)))
