"""tf.Example parsing: ParseExampleV2, ParseExample and ParseSingleExample.

Dense features take their declared shape (missing ones their default; a leading -1
dimension pads variable-length features with the default). Sparse features come back as
(indices, values, dense_shape); ragged ones as (values, row_splits).
"""
from __future__ import annotations

import numpy as np

from ... import dtypes
from ...errors import ExecutionError
from ..registry import kernel, np_dtype

_KIND = {1: "float_list", 9: "int64_list", 7: "bytes_list"}
_TYPE_TEXT = {"float_list": "float", "int64_list": "int64", "bytes_list": "string"}


def _text(v) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, np.bytes_)) else str(v)


def _examples(ctx, serialized):
    from tensorloupe.protos import example_pb2
    arr = np.asarray(serialized, dtype=object)
    out = []
    for k, s in enumerate(arr.reshape(-1)):
        ex = example_pb2.Example()
        try:
            ex.ParseFromString(s if isinstance(s, bytes) else _text(s).encode())
        except Exception:  # noqa: BLE001 - protobuf's DecodeError and friends
            raise ExecutionError(f"{ctx.where()}: could not parse example input {k}, "
                                 "value: is not a serialized tf.Example") from None
        out.append(ex.features.feature)
    return arr.ndim == 0, out


def _values(ctx, feature, key: str, dtype_enum: int, index: int):
    kind = feature.WhichOneof("kind")
    want = _KIND.get(dtypes.base(dtype_enum))
    if kind is None:
        return None
    if kind != want:
        raise ExecutionError(
            f"{ctx.where()}: feature '{key}' of example {index} holds {_TYPE_TEXT[kind]} values "
            f"but {_TYPE_TEXT.get(want, 'another type')} was expected (data types don't match)")
    lst = getattr(feature, kind).value
    if kind == "bytes_list":
        out = np.empty(len(lst), dtype=object)
        out[:] = list(lst)
        return out
    return np.array(lst, dtype=np_dtype(dtype_enum))


def _dense(ctx, feats, single, key, default, dtype_enum, shape):
    dt = np_dtype(dtype_enum)
    default = np.asarray(default)
    variable = bool(shape) and shape[0] == -1
    rows = []
    for i, f in enumerate(feats):
        feature = f.get(key) if key in f else None
        vals = _values(ctx, feature, key, dtype_enum, i) if feature is not None else None
        if vals is None or (vals.size == 0 and not variable and default.size and
                            int(np.prod(shape)) != 0):
            if variable:
                rows.append(np.zeros((0,) + tuple(shape[1:]), dt))
                continue
            if default.size == 0:
                raise ExecutionError(f"{ctx.where()}: feature '{key}' (data type: "
                                     f"{dtypes.python_name(dtype_enum)}) is required but could "
                                     f"not be found in example {i}")
            rows.append(np.broadcast_to(default.astype(dt), shape).copy())
            continue
        if variable:
            inner = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            if inner == 0 or vals.size % inner:
                raise ExecutionError(f"{ctx.where()}: feature '{key}' of example {i} has "
                                     f"{vals.size} values, not a multiple of {inner}")
            rows.append(vals.reshape((-1,) + tuple(shape[1:])))
            continue
        need = int(np.prod(shape)) if shape else 1
        if vals.size != need:
            raise ExecutionError(
                f"{ctx.where()}: feature '{key}' of example {i} has {vals.size} values but "
                f"its shape {list(shape)} needs {need}")
        rows.append(vals.reshape(shape))
    if variable:
        longest = max((r.shape[0] for r in rows), default=0)
        pad = default.reshape(-1)[0] if default.size else (b"" if dt == object else 0)
        padded = []
        for r in rows:
            if r.shape[0] < longest:
                extra = np.full((longest - r.shape[0],) + r.shape[1:], pad, dtype=dt)
                r = np.concatenate([r.astype(dt), extra])
            padded.append(r)
        rows = padded
    if single:
        return rows[0].astype(dt, copy=False)
    if not rows:
        return np.zeros((0,) + tuple(max(d, 0) for d in shape), dt)
    return np.stack(rows).astype(dt, copy=False)


def _sparse(ctx, feats, single, key, dtype_enum):
    dt = np_dtype(dtype_enum)
    idx, vals, longest = [], [], 0
    for i, f in enumerate(feats):
        feature = f.get(key) if key in f else None
        v = _values(ctx, feature, key, dtype_enum, i) if feature is not None else None
        if v is None or v.size == 0:
            continue
        longest = max(longest, v.size)
        for j in range(v.size):
            idx.append((j,) if single else (i, j))
        vals.append(v)
    rank = 1 if single else 2
    indices = np.array(idx, dtype=np.int64).reshape(-1, rank)
    values = np.concatenate(vals).astype(dt) if vals else np.zeros(0, dt)
    shape = np.array([longest] if single else [len(feats), longest], dtype=np.int64)
    return indices, values, shape


def _ragged(ctx, feats, key, dtype_enum, split_enum):
    dt = np_dtype(dtype_enum)
    vals, splits = [], [0]
    for i, f in enumerate(feats):
        feature = f.get(key) if key in f else None
        v = _values(ctx, feature, key, dtype_enum, i) if feature is not None else None
        if v is not None:
            vals.append(v)
        splits.append(splits[-1] + (0 if v is None else v.size))
    values = np.concatenate(vals).astype(dt) if vals else np.zeros(0, dt)
    return values, np.array(splits, dtype=np_dtype(split_enum))


def _keys(value) -> list[str]:
    return [_text(x) for x in np.asarray(value, dtype=object).reshape(-1)]


def _parse(ctx, serialized, sparse_keys, sparse_types, dense_keys, dense_defaults, tdense,
           dense_shapes, ragged_keys=(), ragged_types=(), ragged_splits=()):
    single, feats = _examples(ctx, serialized)
    if len(sparse_keys) != len(sparse_types) or len(dense_keys) != len(tdense) \
            or len(dense_defaults) != len(dense_keys):
        raise ExecutionError(f"{ctx.where()}: the feature keys, types and defaults do not match")
    s_idx, s_val, s_shape = [], [], []
    for key, dt in zip(sparse_keys, sparse_types):
        i, v, s = _sparse(ctx, feats, single, key, dt)
        s_idx.append(i)
        s_val.append(v)
        s_shape.append(s)
    dense = [_dense(ctx, feats, single, key, default, dt, tuple(shape or ()))
             for key, default, dt, shape in zip(dense_keys, dense_defaults, tdense, dense_shapes)]
    r_val, r_split = [], []
    for key, dt, st in zip(ragged_keys, ragged_types, ragged_splits):
        v, s = _ragged(ctx, feats, key, dt, st)
        r_val.append(v)
        r_split.append(s)
    return s_idx + s_val + s_shape + dense + r_val + r_split


@kernel("ParseExampleV2",
        outputs=("sparse_indices:num_sparse", "sparse_values:*sparse_types",
                 "sparse_shapes:num_sparse", "dense_values:*Tdense",
                 "ragged_values:*ragged_value_types", "ragged_row_splits:*ragged_split_types"),
        defaults={"Tdense": [], "sparse_types": [], "ragged_value_types": [],
                  "ragged_split_types": [], "dense_shapes": [], "num_sparse": 0},
        description="parses serialized tf.Example protos into tensors")
def parse_example_v2(ctx, inputs, attrs):
    serialized = inputs[0]
    sparse_keys = _keys(inputs[2])
    dense_keys = _keys(inputs[3])
    ragged_keys = _keys(inputs[4])
    return _parse(ctx, serialized, sparse_keys, attrs.get("sparse_types", []), dense_keys,
                  list(inputs[5:]), attrs.get("Tdense", []), attrs.get("dense_shapes", []),
                  ragged_keys, attrs.get("ragged_value_types", []),
                  attrs.get("ragged_split_types", []))


@kernel("ParseExample",
        outputs=("sparse_indices:Nsparse", "sparse_values:*sparse_types",
                 "sparse_shapes:Nsparse", "dense_values:*Tdense"),
        defaults={"Tdense": [], "sparse_types": [], "dense_shapes": [], "Nsparse": 0, "Ndense": 0},
        description="parses serialized tf.Example protos into tensors")
def parse_example(ctx, inputs, attrs):
    ns, nd = int(attrs.get("Nsparse", 0)), int(attrs.get("Ndense", 0))
    sparse_keys = [_keys(x)[0] for x in inputs[2:2 + ns]]
    dense_keys = [_keys(x)[0] for x in inputs[2 + ns:2 + ns + nd]]
    defaults = list(inputs[2 + ns + nd:2 + ns + 2 * nd])
    return _parse(ctx, inputs[0], sparse_keys, attrs.get("sparse_types", []), dense_keys,
                  defaults, attrs.get("Tdense", []), attrs.get("dense_shapes", []))


@kernel("ParseSingleExample",
        outputs=("sparse_indices:num_sparse", "sparse_values:*sparse_types",
                 "sparse_shapes:num_sparse", "dense_values:*Tdense"),
        defaults={"Tdense": [], "sparse_types": [], "dense_shapes": [], "num_sparse": 0,
                  "sparse_keys": [], "dense_keys": []},
        description="parses one serialized tf.Example proto into tensors")
def parse_single_example(ctx, inputs, attrs):
    serialized = np.asarray(inputs[0], dtype=object)
    if serialized.ndim != 0:
        raise ExecutionError(f"{ctx.where()}: expects one serialized example (a scalar)")
    return _parse(ctx, serialized, [_text(k) for k in attrs.get("sparse_keys", [])],
                  attrs.get("sparse_types", []), [_text(k) for k in attrs.get("dense_keys", [])],
                  list(inputs[1:]), attrs.get("Tdense", []), attrs.get("dense_shapes", []))
