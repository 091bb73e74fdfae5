"""One pair of tensors up close, for the plots of the window: both sides' histograms over a
common range, and B - A of a 2-D slice.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..errors import InputError, TensorloupeError
from .readers import _readers


def _values(reader, key: str) -> np.ndarray:
    """A numeric tensor as a mapped view when possible (read whole otherwise)."""
    try:
        return reader.array(key)
    except TensorloupeError:
        return reader.read(key)


def _float_view(arr: np.ndarray) -> np.ndarray:
    from ..stats import numeric_view
    return numeric_view(arr)


def pair_histograms(a, key_a: str, b, key_b: str, bins: int = 80,
                    should_stop: Callable[[], bool] | None = None) -> dict:
    """Histograms of A's and B's values over one common range, for overlaying.

    Streams each tensor twice (range, then counts); NaN/Inf are left out and counted.
    """
    from ..stats import compute_histogram, compute_stats
    with _readers(a, b) as (ra, rb):
        xa, xb = _values(ra, key_a), _values(rb, key_b)
        if xa.dtype.kind == "O" or xb.dtype.kind == "O":
            raise InputError("strings have no histogram")
        sa = compute_stats(xa, should_stop=should_stop)
        sb = compute_stats(xb, should_stop=should_stop)
        finite = [v for v in (sa.min, sa.max, sb.min, sb.max) if math.isfinite(v)]
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        counts_a, edges = compute_histogram(xa, bins, (lo, hi), should_stop=should_stop)
        counts_b, _ = compute_histogram(xb, bins, (lo, hi), should_stop=should_stop)
        if len(counts_b) != len(counts_a):  # one side has no finite value
            counts_b = np.zeros_like(counts_a)
        return {"edges": edges, "a": counts_a, "b": counts_b, "stats_a": sa, "stats_b": sb}


def difference_slice(a, key_a: str, b, key_b: str, index: tuple[int, ...] = (),
                     max_side: int = 512) -> dict:
    """B - A as a 2-D image: the whole tensor if 2-D, a row if 1-D, one 2-D slice of an N-D
    tensor (``index`` fixes the leading axes). Large sides are sampled every ``step``-th
    value, and only the sampled slice is read from the mapped files."""
    with _readers(a, b) as (ra, rb):
        xa, xb = _values(ra, key_a), _values(rb, key_b)
        if xa.shape != xb.shape:
            raise InputError(f"the shapes differ ({list(xa.shape)} and {list(xb.shape)})")
        if xa.dtype.kind == "O" or xb.dtype.kind == "O":
            raise InputError("strings have no numeric difference")
        shape = xa.shape
        lead = max(0, len(shape) - 2)
        index = tuple(index)[:lead]
        index = index + (0,) * (lead - len(index))
        for i, (k, n) in enumerate(zip(index, shape)):
            if not 0 <= k < n:
                raise InputError(f"index {k} is outside axis {i} of size {n}")
        sa, sb = xa[index], xb[index]
        if sa.ndim == 0:
            sa, sb = sa.reshape(1, 1), sb.reshape(1, 1)
        elif sa.ndim == 1:
            sa, sb = sa.reshape(1, -1), sb.reshape(1, -1)
        rows, cols = sa.shape
        step = max(1, math.ceil(max(rows, cols) / max_side)) if sa.ndim == 2 else 1
        if rows == 1:
            step = max(1, math.ceil(cols / (max_side * 8)))
            sa, sb = sa[:, ::step], sb[:, ::step]
        elif step > 1:
            sa, sb = sa[::step, ::step], sb[::step, ::step]
        diff = (_float_view(np.array(sb)).astype(np.float64)
                - _float_view(np.array(sa)).astype(np.float64)).astype(np.float32)
        return {"diff": diff, "shape": tuple(shape), "index": index, "step": step,
                "rows": rows, "cols": cols}
