"""Streamed statistics over tensors of any size.

Pure numpy: a tensor (often a read-only memory map) is walked in flat chunks so that memory
stays bounded and the caller can report progress and stop between chunks. Mean and variance
are merged chunk by chunk with Chan's parallel formula in float64, so a billion float32 values
do not lose precision the way a naive running sum would.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

# Raised by a ``should_stop`` check between chunks. It lives with the other errors;
# ``core.stats.Cancelled`` keeps working for code that imports it from here.
from .errors import Cancelled

# 1 MiB of float32 per chunk: small enough that no single numpy call holds the GIL (or the
# cancel check) back for long, large enough that numpy's per-call overhead is negligible.
DEFAULT_CHUNK = 1 << 18

COMPLEX_PARTS = ("abs", "real", "imag", "phase")


@dataclass
class TensorStats:
    """Summary of a numeric tensor. NaN and Inf are counted apart and left out of min..std."""

    count: int = 0          # all elements
    finite: int = 0         # elements that are neither NaN nor +-Inf
    zeros: int = 0
    nans: int = 0
    posinf: int = 0
    neginf: int = 0
    min: float = math.nan
    max: float = math.nan
    mean: float = math.nan
    std: float = math.nan
    _m2: float = field(default=0.0, repr=False)

    @property
    def infs(self) -> int:
        return self.posinf + self.neginf

    @property
    def sparsity(self) -> float:
        """Fraction of elements that are exactly zero."""
        return self.zeros / self.count if self.count else math.nan


def numeric_view(array: np.ndarray, complex_part: str = "abs") -> np.ndarray:
    """The values of ``array`` as a dtype numpy can do arithmetic on, for display and statistics.

    bfloat16/float16/float8 become float32, int4/uint4 become int8/uint8, bool becomes uint8 and
    a complex tensor becomes one real part of it (``abs``, ``real``, ``imag`` or ``phase``).
    Arrays that already have a plain dtype are returned as they are (no copy).
    """
    dt = array.dtype
    if dt.kind == "c":
        if complex_part == "real":
            return array.real
        if complex_part == "imag":
            return array.imag
        if complex_part == "phase":
            return np.angle(array)
        return np.abs(array)
    if dt == np.bool_:
        return array.astype(np.uint8)
    if dt in _PLAIN:
        return array
    if dt.name in ("int4", "int2"):
        return array.astype(np.int8)
    if dt.name in ("uint4", "uint2"):
        return array.astype(np.uint8)
    return array.astype(np.float32)


_PLAIN = {np.dtype(t) for t in (np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
                                np.uint8, np.uint16, np.uint32, np.uint64)}


def is_numeric(dtype: np.dtype) -> bool:
    """True when statistics and plots make sense for values of ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype.kind in "biufc":
        return True
    # ml_dtypes registers its types with kind 'V'; they convert to float32.
    try:
        np.zeros(1, dtype=dtype).astype(np.float32)
    except (TypeError, ValueError):
        return False
    return dtype.kind != "O"


def iter_chunks(array: np.ndarray, chunk: int = DEFAULT_CHUNK) -> Iterator[np.ndarray]:
    """Flat chunks of ``array`` in C order, without copying a contiguous array."""
    if array.ndim == 0:
        yield array.reshape(1)
        return
    if array.flags.c_contiguous:
        flat = array.reshape(-1)
        for start in range(0, flat.size, chunk):
            yield flat[start:start + chunk]
        return
    # Non-contiguous (a slice of a larger tensor): walk along the first axis in blocks.
    rows = max(1, chunk // max(1, int(np.prod(array.shape[1:], dtype=np.int64))))
    for start in range(0, array.shape[0], rows):
        yield np.ascontiguousarray(array[start:start + rows]).reshape(-1)


class StatsAccumulator:
    """Merges chunk statistics; ``result()`` gives a TensorStats."""

    def __init__(self) -> None:
        self._s = TensorStats()

    def add(self, values: np.ndarray) -> None:
        s = self._s
        n = int(values.size)
        if n == 0:
            return
        s.count += n
        s.zeros += int(np.count_nonzero(values == 0))
        if values.dtype.kind == "f":
            nan_mask = np.isnan(values)
            nans = int(np.count_nonzero(nan_mask))
            posinf = int(np.count_nonzero(values == np.inf))
            neginf = int(np.count_nonzero(values == -np.inf))
            s.nans += nans
            s.posinf += posinf
            s.neginf += neginf
            if nans or posinf or neginf:
                values = values[np.isfinite(values)]
        m = int(values.size)
        if m == 0:
            return
        v64 = values.astype(np.float64, copy=False)
        cmin = float(v64.min())
        cmax = float(v64.max())
        cmean = float(v64.mean())
        cm2 = float(np.square(v64 - cmean).sum())
        if s.finite == 0:
            s.min, s.max, s.mean, s._m2 = cmin, cmax, cmean, cm2
        else:
            s.min = min(s.min, cmin)
            s.max = max(s.max, cmax)
            total = s.finite + m
            delta = cmean - s.mean
            s.mean += delta * m / total
            s._m2 += cm2 + delta * delta * s.finite * m / total
        s.finite += m

    def result(self) -> TensorStats:
        s = self._s
        out = TensorStats(count=s.count, finite=s.finite, zeros=s.zeros, nans=s.nans,
                          posinf=s.posinf, neginf=s.neginf, min=s.min, max=s.max,
                          mean=s.mean, _m2=s._m2)
        out.std = math.sqrt(s._m2 / s.finite) if s.finite else math.nan
        return out


ProgressFn = Callable[[int, int], None]


def compute_stats(array: np.ndarray, *, complex_part: str = "abs", chunk: int = DEFAULT_CHUNK,
                  progress: ProgressFn | None = None,
                  should_stop: Callable[[], bool] | None = None) -> TensorStats:
    """Statistics of a numeric tensor, read chunk by chunk.

    ``progress(done, total)`` is called after each chunk with element counts; ``should_stop()``
    returning True raises Cancelled before the next chunk is read.
    """
    acc = StatsAccumulator()
    total = int(array.size)
    done = 0
    for piece in iter_chunks(array, chunk):
        if should_stop is not None and should_stop():
            raise Cancelled()
        acc.add(numeric_view(piece, complex_part))
        done += piece.size
        if progress is not None:
            progress(done, total)
    return acc.result()


def compute_histogram(array: np.ndarray, bins: int, value_range: tuple[float, float], *,
                      complex_part: str = "abs", chunk: int = DEFAULT_CHUNK,
                      progress: ProgressFn | None = None,
                      should_stop: Callable[[], bool] | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Counts of finite values in ``bins`` equal bins over ``value_range`` and the bin edges."""
    lo, hi = float(value_range[0]), float(value_range[1])
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return np.zeros(0, dtype=np.int64), np.zeros(1)
    if hi <= lo:
        # Every finite value is the same: one bin around it.
        lo, hi = lo - 0.5, hi + 0.5
        bins = 1
    counts = np.zeros(bins, dtype=np.int64)
    edges = np.linspace(lo, hi, bins + 1)
    total = int(array.size)
    done = 0
    for piece in iter_chunks(array, chunk):
        if should_stop is not None and should_stop():
            raise Cancelled()
        values = numeric_view(piece, complex_part)
        if values.dtype.kind == "f":
            values = values[np.isfinite(values)]
        c, _ = np.histogram(values, bins=bins, range=(lo, hi))
        counts += c
        done += piece.size
        if progress is not None:
            progress(done, total)
    return counts, edges


def peak_downsample(values: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y for a line plot of a long 1-D array: min and max of each bucket, so that spikes
    stay visible when a million points are drawn on a few thousand pixels."""
    n = int(values.size)
    if n <= max_points:
        return np.arange(n, dtype=np.float64), np.asarray(values, dtype=np.float64)
    buckets = max(1, max_points // 2)
    per = int(math.ceil(n / buckets))
    usable = (n // per) * per
    # Reduce in the array's own dtype (no full-size float64 copy), then widen the result.
    body = np.asarray(values[:usable]).reshape(-1, per)
    mins = body.min(axis=1).astype(np.float64)
    maxs = body.max(axis=1).astype(np.float64)
    starts = np.arange(body.shape[0], dtype=np.float64) * per
    x = np.empty(2 * body.shape[0])
    y = np.empty(2 * body.shape[0])
    x[0::2] = starts
    x[1::2] = starts + per / 2
    y[0::2] = mins
    y[1::2] = maxs
    if usable < n:
        tail = np.asarray(values[usable:], dtype=np.float64)
        x = np.concatenate([x, [usable, usable + (n - usable) / 2]])
        y = np.concatenate([y, [tail.min(), tail.max()]])
    return x, y


def format_count(n: int) -> str:
    """1234567 -> '1,234,567'."""
    return f"{n:,}"


def format_bytes(n: int) -> str:
    """Bytes in the largest unit that keeps the number >= 1: '1.5 MiB'."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def format_params(n: int) -> str:
    """Parameter counts the way papers write them: 3.5M, 12.3K, 870."""
    if n >= 1_000_000_000:
        return f"{n / 1e9:.2f}B"
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M"
    if n >= 10_000:
        return f"{n / 1e3:.1f}K"
    return str(n)
