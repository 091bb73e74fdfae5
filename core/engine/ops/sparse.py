"""Feature crosses of sparse and dense columns: SparseCross, SparseCrossHashed, SparseCrossV2.

``tf.feature_column.crossed_column`` and Keras' ``HashedCrossing`` export these. Every
input is a column of features per batch row: a sparse tensor (indices [N, 2] sorted by
row, values, dense shape) or a dense matrix [batch, k]. For each row the op forms every
combination taking one feature from each column (sparse columns first, then dense, in
order; the last column changes fastest) and emits one value per combination at
[row, combination number]:

- as text, the features joined by a separator (``"_X_"`` for SparseCross);
- hashed: each feature's fingerprint (farmhash Fingerprint64 of a string; an int64 as
  itself) folded left to right with FingerprintCat64, then taken modulo ``num_buckets``.
"""
from __future__ import annotations

import numpy as np

from ...errors import ExecutionError, UnsupportedError
from .math import op
from .strings import fingerprint64

_M64 = (1 << 64) - 1
_INT64_MAX = (1 << 63) - 1
_CAT_MUL = 0xC6A4A7935BD1E995


def _shift_mix(v: int) -> int:
    return v ^ (v >> 47)


def fingerprint_cat64(fp1: int, fp2: int) -> int:
    """Combine two 64-bit fingerprints (order matters), wrapping at 64 bits."""
    result = fp1 ^ _CAT_MUL
    result ^= (_shift_mix((fp2 * _CAT_MUL) & _M64) * _CAT_MUL) & _M64
    result = (result * _CAT_MUL) & _M64
    result = (_shift_mix(result) * _CAT_MUL) & _M64
    return _shift_mix(result)


def _columns(ctx, n_sparse, inputs):
    """(batch size, columns): each column a list per row of that row's features."""
    idx = inputs[:n_sparse]
    vals = inputs[n_sparse:2 * n_sparse]
    shapes = inputs[2 * n_sparse:3 * n_sparse]
    dense = inputs[3 * n_sparse:]
    batch = None
    for s in shapes:
        s = np.asarray(s).reshape(-1)
        if s.size != 2:
            raise ExecutionError(f"Expected D2 of index to be 2 got {s.size}")
        batch = int(s[0]) if batch is None else batch
        if int(s[0]) != batch:
            raise ExecutionError(f"Expected batch size {batch} got {int(s[0])}")
    for d in dense:
        d = np.asarray(d)
        if d.ndim != 2:
            raise ExecutionError(f"Dense inputs should be a matrix but received shape "
                                 f"[{','.join(map(str, d.shape))}]")
        batch = d.shape[0] if batch is None else batch
        if d.shape[0] != batch:
            raise ExecutionError(f"Expected batch size {batch} got {d.shape[0]}")
    batch = batch or 0
    if hasattr(ctx, "check_alloc"):
        ctx.check_alloc(batch * 8 * (len(idx) + len(dense) + 1))
    columns = []
    for i, v in zip(idx, vals):
        i = np.asarray(i).reshape(-1, 2) if np.asarray(i).size else np.zeros((0, 2), np.int64)
        v = np.asarray(v).reshape(-1)
        if i.shape[0] != v.shape[0]:
            raise ExecutionError(f"Expected size of values to be {i.shape[0]} got {v.shape[0]}")
        rows = i[:, 0]
        if rows.size and (rows.min() < 0 or rows.max() >= batch):
            raise ExecutionError("a sparse input's row index is outside the batch")
        per_row = [[] for _ in range(batch)]
        for r, value in zip(rows.tolist(), v.tolist()):
            per_row[r].append(value)
        columns.append((per_row, v.dtype))
    for d in dense:
        d = np.asarray(d)
        columns.append(([list(row) for row in d.tolist()], d.dtype))
    return batch, columns


def _cross(ctx, batch, columns, make):
    """indices, values (a Python list) and shape of every row's combinations."""
    out_idx, out_vals, longest = [], [], 0
    for r in range(batch):
        feats = [col[r] for col, _ in columns]
        total = 1
        for f in feats:
            total *= len(f)
        if not feats:
            total = 0
        longest = max(longest, total)
        if total and hasattr(ctx, "check_alloc"):
            ctx.check_alloc((len(out_vals) + total) * 24)
        for k in range(total):
            if hasattr(ctx, "tick"):
                ctx.tick()
            rest, pick = k, [0] * len(feats)
            for c in range(len(feats) - 1, -1, -1):
                pick[c] = rest % len(feats[c])
                rest //= len(feats[c])
            out_idx.append((r, k))
            out_vals.append(make([feats[c][pick[c]] for c in range(len(feats))]))
    indices = np.array(out_idx, np.int64).reshape(-1, 2)
    return indices, out_vals, np.array([batch, longest], np.int64)


def _text(v) -> bytes:
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v)
    if isinstance(v, str):
        return v.encode()
    return str(int(v)).encode()


def _fp_plain(v) -> int:
    """SparseCross' feature hash: a string's fingerprint, an integer as it is."""
    if isinstance(v, (bytes, np.bytes_, str)):
        return fingerprint64(_text(v))
    return int(v) & _M64


@op("SparseCross", outputs=("output_indices", "output_values", "output_shape"),
    defaults={"sparse_types": [], "dense_types": []},
    description="crosses sparse and dense feature columns: every combination of one "
                "feature per column, as text or hashed into buckets")
def _sparse_cross(ctx, inputs, attrs):
    n = int(attrs.get("N", len(attrs.get("sparse_types", []))))
    batch, columns = _columns(ctx, n, inputs)
    if attrs.get("hashed_output"):
        buckets = int(attrs.get("num_buckets", 0))
        key = int(attrs.get("hash_key", 0)) & _M64

        def make(features):
            h = key
            for f in features:
                h = fingerprint_cat64(h, _fp_plain(f))
            return h % buckets if buckets > 0 else h % _INT64_MAX
        idx, vals, shape = _cross(ctx, batch, columns, make)
        return idx, np.array(vals, np.int64).reshape(-1), shape
    idx, vals, shape = _cross(ctx, batch, columns, lambda fs: b"_X_".join(map(_text, fs)))
    out = np.empty(len(vals), dtype=object)
    out[:] = vals
    return idx, out, shape


@op("SparseCrossV2", outputs=("output_indices", "output_values", "output_shape"),
    defaults={"sparse_types": [], "dense_types": []},
    description="crosses sparse and dense feature columns into text joined by a separator")
def _sparse_cross_v2(ctx, inputs, attrs):
    sep = _text(np.asarray(inputs[-1], dtype=object).reshape(-1)[0])
    n = len(attrs.get("sparse_types", []))
    batch, columns = _columns(ctx, n, inputs[:-1])
    idx, vals, shape = _cross(ctx, batch, columns, lambda fs: sep.join(map(_text, fs)))
    out = np.empty(len(vals), dtype=object)
    out[:] = vals
    return idx, out, shape


@op("SparseCrossHashed", outputs=("output_indices", "output_values", "output_shape"),
    defaults={"sparse_types": [], "dense_types": []},
    description="crosses sparse and dense feature columns, hashing each combination "
                "into buckets")
def _sparse_cross_hashed(ctx, inputs, attrs):
    n = len(attrs.get("sparse_types", []))
    buckets = int(np.asarray(inputs[-3]))
    strong = bool(np.asarray(inputs[-2]))
    if strong:
        # Not checked against TensorFlow: its 2.21 kernel crashes on strong hashing of
        # mixed columns, so there is no reference to match.
        raise UnsupportedError("SparseCrossHashed with strong_hash=True is not supported")
    batch, columns = _columns(ctx, n, inputs[:-3])
    n_sparse = n

    def feature_hash(col: int, v) -> int:
        if isinstance(v, (bytes, np.bytes_, str)):
            data = _text(v)
            return fingerprint64(data)
        # The kernel hashes a sparse integer's first four bytes in memory (it measures
        # the value by the size of its dtype tag); dense integers pass through unhashed.
        raw = int(v).to_bytes(8, "little", signed=True)[:4]
        if col < n_sparse:
            return fingerprint64(raw)
        return int(v) & _M64

    def make(features):
        h = feature_hash(0, features[0])
        for c in range(1, len(features)):
            h = fingerprint_cat64(h, feature_hash(c, features[c]))
        return h % buckets if buckets > 0 else h % _INT64_MAX
    idx, vals, shape = _cross(ctx, batch, columns, make)
    return idx, np.array(vals, np.int64).reshape(-1), shape
