"""Counting ops Keras preprocessing layers export: bincounts of ragged and sparse inputs,
and counts returned as sparse tensors.

CategoryEncoding, TextVectorization and StringLookup/IntegerLookup with ``count``,
``multi_hot`` or ``tf_idf`` output count token ids per row. Their inputs are ragged (a
tokenized text: row splits + values) or sparse, and the layers ask for dense counts
(RaggedBincount, SparseBincount) or, with ``sparse=True``, sparse ones (the
``*CountSparseOutput`` family). ``binary_output`` turns counts into 0/1; weights, when
given, are added up instead of ones.
"""
from __future__ import annotations

import numpy as np

from ...errors import ExecutionError
from ..registry import np_dtype
from .math import check_alloc, op, widen


def _weights(weights, values, dtype):
    w = np.asarray(weights)
    if w.size == 0:
        return None
    if w.shape != np.asarray(values).shape:
        raise ExecutionError(f"weights and values must have the same shape. Weight shape: "
                             f"[{','.join(map(str, w.shape))}]; values shape: "
                             f"[{','.join(map(str, np.asarray(values).shape))}]")
    return w


@op("RaggedBincount", outputs=("output",), defaults={"binary_output": False},
    description="counts each id (below size) in every row of a ragged tensor")
def _ragged_bincount(ctx, inputs, attrs):
    splits, values, size, weights = (np.asarray(x) for x in inputs)
    size = int(size)
    if size < 0:
        raise ExecutionError(f"size ({size}) must be non-negative")
    splits = splits.reshape(-1).astype(np.int64)
    values = values.reshape(-1)
    if splits.size == 0 or splits[0] != 0 or np.any(np.diff(splits) < 0) \
            or splits[-1] != values.size:
        raise ExecutionError("splits must start at 0, never decrease and end at the "
                             "number of values")
    dt = weights.dtype
    w = _weights(weights, values, dt)
    n_rows = splits.size - 1
    check_alloc(ctx, (n_rows, size), dt)
    rows = np.repeat(np.arange(n_rows), np.diff(splits))
    if values.size and values.min() < 0:
        raise ExecutionError("Input must be non-negative")
    return _table(rows, values, n_rows, size, w, bool(attrs.get("binary_output")), dt)


def _table(rows, values, n_rows, size, w, binary, dt):
    if values.size and values.min() < 0:
        raise ExecutionError(f"Input must be non-negative. Got {values.min()}")
    keep = values < size
    out = np.zeros((n_rows, size), dtype=widen(np.zeros(0, dt)).dtype)
    r, v = rows[keep], values[keep].astype(np.int64)
    if binary:
        out[r, v] = 1
    elif w is None:
        np.add.at(out, (r, v), 1)
    else:
        np.add.at(out, (r, v), widen(w.reshape(-1))[keep])
    return out.astype(dt)


@op("SparseBincount", outputs=("output",), defaults={"binary_output": False},
    description="counts each id (below size) of a sparse tensor, per row when 2-D")
def _sparse_bincount(ctx, inputs, attrs):
    indices, values, shape, size, weights = (np.asarray(x) for x in inputs)
    size = int(size)
    if size < 0:
        raise ExecutionError(f"size ({size}) must be non-negative")
    dims = [int(d) for d in shape.reshape(-1)]
    values = values.reshape(-1)
    dt = weights.dtype
    w = _weights(weights, values, dt)
    binary = bool(attrs.get("binary_output"))
    if len(dims) == 1:
        check_alloc(ctx, (size,), dt)
        return _table(np.zeros(values.size, np.int64), values, 1, size, w, binary, dt)[0]
    if len(dims) != 2:
        raise ExecutionError(f"Indices must be a 1 or 2 dimensional tensor, got rank "
                             f"{len(dims)}")
    check_alloc(ctx, (dims[0], size), dt)
    rows = indices.reshape(-1, 2)[:, 0].astype(np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= dims[0]):
        raise ExecutionError("a sparse index's row is outside the dense shape")
    return _table(rows, values, dims[0], size, w, binary, dt)


# ---------------------------------------------------------------- counts as sparse tensors

def _sparse_counts(ctx, rows, values, n_rows, weights, attrs, rank: int):
    """(indices, values, dense_shape) of the per-row counts, ids in increasing order."""
    minlength = int(attrs.get("minlength", -1))
    maxlength = int(attrs.get("maxlength", -1))
    binary = bool(attrs.get("binary_output", False))
    values = np.asarray(values).reshape(-1).astype(np.int64)
    if values.size and values.min() < 0:
        raise ExecutionError(f"Input values must all be non-negative. Got {values.min()}")
    out_dt = np.asarray(weights).dtype if np.asarray(weights).size else \
        np_dtype(attrs.get("output_type", 9))
    w = None if np.asarray(weights).size == 0 else np.asarray(weights).reshape(-1)
    if w is not None and w.size != values.size:
        raise ExecutionError("Weights and values must have the same shape.")
    keep = values < maxlength if maxlength >= 0 else np.ones(values.size, bool)
    rows, vals = rows[keep], values[keep]
    ws = w[keep] if w is not None else None
    # (with no values at all the width is still 1, as in TensorFlow)
    biggest = int(vals.max()) if vals.size else 0
    width = max(biggest + 1, minlength if minlength >= 0 else 0)
    if maxlength >= 0:
        width = min(width, maxlength)
    order = np.lexsort((vals, rows))
    rows, vals = rows[order], vals[order]
    ws = ws[order] if ws is not None else None
    pairs = rows * (width + 1) + vals
    uniq, first, inverse = np.unique(pairs, return_index=True, return_inverse=True)
    if binary:
        counts = np.ones(uniq.size, widen(np.zeros(0, out_dt)).dtype)
    elif ws is None:
        counts = np.bincount(inverse, minlength=uniq.size)
    else:
        counts = np.zeros(uniq.size, widen(np.zeros(0, out_dt)).dtype)
        np.add.at(counts, inverse, widen(ws))
    if rank == 1:
        indices = vals[first].reshape(-1, 1)
        shape = np.array([width], np.int64)
    else:
        indices = np.stack([rows[first], vals[first]], axis=1)
        shape = np.array([n_rows, width], np.int64)
    return (indices.astype(np.int64).reshape(-1, rank), counts.astype(out_dt).reshape(-1),
            shape)


_COUNT_DEFAULTS = {"minlength": -1, "maxlength": -1}
_COUNT_OUTPUTS = ("output_indices", "output_values", "output_dense_shape")


@op("DenseCountSparseOutput", outputs=_COUNT_OUTPUTS, defaults=_COUNT_DEFAULTS,
    description="counts each id per row of a dense tensor, as a sparse tensor")
def _dense_count_sparse(ctx, inputs, attrs):
    values, weights = (np.asarray(x) for x in inputs)
    if values.ndim not in (1, 2):
        raise ExecutionError(f"Input must be a 1 or 2-dimensional tensor. Got: "
                             f"[{','.join(map(str, values.shape))}]")
    if weights.size and weights.shape != values.shape:
        raise ExecutionError("Weights and values must have the same shape.")
    if values.ndim == 1:
        rows = np.zeros(values.size, np.int64)
        return _sparse_counts(ctx, rows, values, 1, weights, attrs, 1)
    rows = np.repeat(np.arange(values.shape[0]), values.shape[1])
    return _sparse_counts(ctx, rows, values, values.shape[0], weights, attrs, 2)


@op("SparseCountSparseOutput", outputs=_COUNT_OUTPUTS, defaults=_COUNT_DEFAULTS,
    description="counts each id per row of a sparse tensor, as a sparse tensor")
def _sparse_count_sparse(ctx, inputs, attrs):
    indices, values, shape, weights = (np.asarray(x) for x in inputs)
    dims = [int(d) for d in shape.reshape(-1)]
    if len(dims) == 1:
        return _sparse_counts(ctx, np.zeros(values.size, np.int64), values, 1, weights,
                              attrs, 1)
    if len(dims) != 2:
        raise ExecutionError(f"Input must be a 1 or 2-dimensional tensor, got rank "
                             f"{len(dims)}")
    rows = indices.reshape(-1, 2)[:, 0].astype(np.int64)
    return _sparse_counts(ctx, rows, values, dims[0], weights, attrs, 2)


@op("RaggedCountSparseOutput", outputs=_COUNT_OUTPUTS, defaults=_COUNT_DEFAULTS,
    description="counts each id per row of a ragged tensor, as a sparse tensor")
def _ragged_count_sparse(ctx, inputs, attrs):
    splits, values, weights = (np.asarray(x) for x in inputs)
    splits = splits.reshape(-1).astype(np.int64)
    if splits.size == 0 or splits[0] != 0 or np.any(np.diff(splits) < 0) \
            or splits[-1] != values.size:
        raise ExecutionError("splits must start at 0, never decrease and end at the "
                             "number of values")
    n_rows = splits.size - 1
    rows = np.repeat(np.arange(n_rows), np.diff(splits))
    return _sparse_counts(ctx, rows, values, n_rows, weights, attrs, 2)
