"""Shape and data-movement ops: reshape, slice, concatenate, gather, scatter, pad, tile ...

None of these compute new numbers; they rearrange, copy or check existing ones. Kernels
that make a tensor whose size comes from input *values* (Fill, Tile, Pad, OneHot,
BroadcastTo, ScatterNd, Range) ask ``ctx.check_alloc`` first.
"""
from __future__ import annotations

import numpy as np

from ...errors import ExecutionError, UnsupportedError
from ..registry import np_dtype
from .math import as_ints, check_alloc, norm_axis, op, shape_text, widen

# ----------------------------------------------------------------- pass-through ops


@op("Const", outputs=("output",), description="a fixed tensor stored in the graph")
def _const(ctx, inputs, attrs):
    return attrs["value"]


@op("Identity", "Snapshot", "StopGradient", "PreventGradient", outputs=("output",),
    defaults={"message": b""}, description="passes its input through unchanged")
def _identity(ctx, inputs, attrs):
    return inputs[0]


@op("DeepCopy", outputs=("y",), description="a fresh copy of its input")
def _deep_copy(ctx, inputs, attrs):
    return np.array(inputs[0], copy=True)


@op("PlaceholderWithDefault", outputs=("output",),
    description="an input that uses its default value unless something is fed")
def _placeholder_default(ctx, inputs, attrs):
    return inputs[0]


@op("IdentityN", outputs=("output:*T",), description="passes several inputs through unchanged")
def _identity_n(ctx, inputs, attrs):
    return list(inputs)


@op("NoOp", outputs=(), description="does nothing; used to group control dependencies")
def _noop(ctx, inputs, attrs):
    return []


@op("EnsureShape", outputs=("output",),
    description="checks that a tensor has the expected shape and passes it through")
def _ensure_shape(ctx, inputs, attrs):
    x = inputs[0]
    want = attrs.get("shape")
    if want is not None:
        ok = len(want) == x.ndim and all(w < 0 or w == d for w, d in zip(want, x.shape))
        if not ok:
            shown = "[" + ",".join("?" if w < 0 else str(w) for w in want) + "]"
            raise ExecutionError(f"Shape of tensor input {shape_text(x.shape)} is not "
                                 f"compatible with expected shape {shown}.")
    return x


def _numerics_error(attrs, what):
    msg = attrs.get("message", b"")
    msg = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
    return ExecutionError(f"{msg} : Tensor had {what} values")


@op("CheckNumerics", outputs=("output",),
    description="passes a tensor through, stopping the run if it holds NaN or Inf")
def _check_numerics(ctx, inputs, attrs):
    x = inputs[0]
    w = widen(x)
    nan, inf = bool(np.isnan(w).any()), bool(np.isinf(w).any())
    if nan or inf:
        raise _numerics_error(attrs, "Inf and NaN" if nan and inf else "NaN" if nan else "Inf")
    return x


@op("CheckNumericsV2", outputs=("output",),
    description="passes a tensor through, stopping the run if it holds NaN, -Inf or +Inf")
def _check_numerics_v2(ctx, inputs, attrs):
    x = inputs[0]
    w = widen(x)
    found = [name for name, hit in (("-Inf", np.isneginf(w).any()),
                                    ("+Inf", np.isposinf(w).any()), ("NaN", np.isnan(w).any()))
             if hit]
    if found:
        raise _numerics_error(attrs, " and ".join(found))
    return x


def _summary(x: np.ndarray, n: int) -> str:
    flat = x.reshape(-1)
    items = []
    for v in flat[:n]:
        items.append(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v))
    text = " ".join(items) + ("..." if flat.size > n else "")
    return text if x.ndim == 0 else "[" + text + "]" if x.ndim == 1 else text


@op("Assert", outputs=(), defaults={"summarize": 3}, stateful=True,
    description="stops the run with a message when its condition is false")
def _assert(ctx, inputs, attrs):
    cond, data = inputs[0], inputs[1:]
    if not bool(np.asarray(cond).all()):
        n = int(attrs.get("summarize", 3))
        parts = []
        for d in data:
            d = np.asarray(d)
            parts.append("[" + _summary(d, n).strip("[]") + "]")
        raise ExecutionError("assertion failed: " + " ".join(parts))
    return []


@op("Print", outputs=("output",),
    defaults={"message": b"", "first_n": -1, "summarize": 3}, stateful=True,
    description="passes its input through (printing is left out)")
def _print(ctx, inputs, attrs):
    return inputs[0]


@op("PrintV2", outputs=(), defaults={"output_stream": b"stderr", "end": b"\n"}, stateful=True,
    description="prints a string (Tensorloupe records it instead of printing)")
def _print_v2(ctx, inputs, attrs):
    return []


# ------------------------------------------------------------------------ shapes


@op("Shape", outputs=("output",), defaults={"out_type": 3},
    description="the shape of a tensor, as a vector of sizes")
def _shape(ctx, inputs, attrs):
    return np.asarray(inputs[0].shape, dtype=np_dtype(attrs.get("out_type", 3))).reshape(-1)


@op("ShapeN", outputs=("output:N",), defaults={"out_type": 3},
    description="the shapes of several tensors")
def _shape_n(ctx, inputs, attrs):
    dt = np_dtype(attrs.get("out_type", 3))
    return [np.asarray(x.shape, dtype=dt).reshape(-1) for x in inputs]


@op("Size", outputs=("output",), defaults={"out_type": 3},
    description="the number of elements in a tensor")
def _size(ctx, inputs, attrs):
    return np.asarray(inputs[0].size, dtype=np_dtype(attrs.get("out_type", 3)))


@op("Rank", outputs=("output",), description="the number of dimensions of a tensor")
def _rank(ctx, inputs, attrs):
    return np.asarray(inputs[0].ndim, dtype=np.int32)


@op("Reshape", outputs=("output",), defaults={"Tshape": 3},
    description="gives a tensor a new shape with the same elements in the same order")
def _reshape(ctx, inputs, attrs):
    x, shape = inputs
    dims = as_ints(shape)
    if dims.count(-1) > 1:
        raise ExecutionError(f"Only one input size may be -1, not both in {dims}")
    known = 1
    for d in dims:
        if d != -1:
            if d < 0:
                raise ExecutionError(f"Size {d} in the requested shape {dims} is negative")
            known *= d
    if -1 in dims and known == 0 and x.size == 0:
        dims[dims.index(-1)] = 1
    elif -1 in dims:
        if known == 0 or x.size % known:
            raise ExecutionError(f"Input to reshape is a tensor with {x.size} values, but the "
                                 f"requested shape requires a multiple of {known}")
        dims[dims.index(-1)] = x.size // known
    elif known != x.size:
        raise ExecutionError(f"Input to reshape is a tensor with {x.size} values, but the "
                             f"requested shape has {known}")
    return x.reshape(dims)


@op("Transpose", "ConjugateTranspose", outputs=("y",), defaults={"Tperm": 3},
    description="reorders the axes of a tensor")
def _transpose(ctx, inputs, attrs):
    x, perm = inputs
    p = as_ints(perm)
    if sorted(p) != list(range(x.ndim)):
        raise ExecutionError(f"transpose expects a permutation of 0..{x.ndim - 1}, got {p}")
    y = np.transpose(x, p)
    return np.conj(y) if x.dtype.kind == "c" else y


@op("Squeeze", outputs=("output",), defaults={"squeeze_dims": []},
    description="removes axes of size 1")
def _squeeze(ctx, inputs, attrs):
    x = inputs[0]
    dims = attrs.get("squeeze_dims") or []
    if not dims:
        return x.reshape([d for d in x.shape if d != 1])
    axes = set()
    for d in dims:
        a = norm_axis(d, x.ndim)
        if x.shape[a] != 1:
            raise ExecutionError(f"Can not squeeze dim[{a}], expected a dimension of 1, "
                                 f"got {x.shape[a]}")
        axes.add(a)
    return x.reshape([d for i, d in enumerate(x.shape) if i not in axes])


@op("ExpandDims", outputs=("output",), defaults={"Tdim": 3},
    description="inserts an axis of size 1")
def _expand_dims(ctx, inputs, attrs):
    x, dim = inputs
    a = int(np.asarray(dim).reshape(-1)[0])
    if not -x.ndim - 1 <= a <= x.ndim:
        raise ExecutionError(f"Tried to expand dim index {a} for tensor with {x.ndim} "
                             f"dimensions.")
    return np.expand_dims(x, a if a >= 0 else a + x.ndim + 1)


@op("Pack", outputs=("output",), defaults={"axis": 0},
    description="stacks same-shaped tensors along a new axis")
def _pack(ctx, inputs, attrs):
    axis = int(attrs.get("axis", 0))
    rank = inputs[0].ndim + 1
    axis = norm_axis(axis, rank)
    for x in inputs[1:]:
        if x.shape != inputs[0].shape:
            raise ExecutionError(f"Shapes of all inputs must match: values[0].shape = "
                                 f"{shape_text(inputs[0].shape)} != {shape_text(x.shape)}")
    check_alloc(ctx, (len(inputs),) + inputs[0].shape, inputs[0].dtype)
    return np.stack(inputs, axis=axis)


@op("Unpack", outputs=("output:num",), defaults={"axis": 0},
    description="splits a tensor into slices along an axis, removing that axis")
def _unpack(ctx, inputs, attrs):
    x = inputs[0]
    axis = norm_axis(int(attrs.get("axis", 0)), x.ndim)
    num = int(attrs.get("num", x.shape[axis]))
    if x.shape[axis] != num:
        raise ExecutionError(f"Input shape axis {axis} must equal {num}, got shape "
                             f"{shape_text(x.shape)}")
    return [np.take(x, i, axis=axis) for i in range(num)]


def _concat(ctx, values, axis_arg):
    axis = int(np.asarray(axis_arg).reshape(-1)[0])
    first = values[0]
    axis = norm_axis(axis, first.ndim, "concat dimension")
    for k, x in enumerate(values[1:], start=1):
        if x.ndim != first.ndim:
            raise ExecutionError(f"ConcatOp : Ranks of all input tensors should match: "
                                 f"shape[0] = {shape_text(first.shape)} vs. shape[{k}] = "
                                 f"{shape_text(x.shape)}")
        for d, (a, b) in enumerate(zip(first.shape, x.shape)):
            if d != axis and a != b:
                raise ExecutionError(f"ConcatOp : Dimension {d} in both shapes must be equal: "
                                     f"shape[0] = {shape_text(first.shape)} vs. shape[{k}] = "
                                     f"{shape_text(x.shape)}")
    # (a loop that joins a tensor to itself doubles it every iteration)
    check_alloc(ctx, (sum(x.size for x in values),), first.dtype)
    return np.concatenate(values, axis=axis)


@op("ConcatV2", outputs=("output",), defaults={"Tidx": 3},
    description="joins tensors end to end along an axis")
def _concat_v2(ctx, inputs, attrs):
    return _concat(ctx, inputs[:-1], inputs[-1])


@op("Concat", outputs=("output",), description="joins tensors end to end along an axis")
def _concat_v1(ctx, inputs, attrs):
    return _concat(ctx, inputs[1:], inputs[0])


@op("Split", outputs=("output:num_split",),
    description="cuts a tensor into equal pieces along an axis")
def _split(ctx, inputs, attrs):
    axis_arg, x = inputs
    axis = norm_axis(int(axis_arg), x.ndim)
    n = int(attrs["num_split"])
    if x.shape[axis] % n:
        raise ExecutionError(f"Number of ways to split should evenly divide the split "
                             f"dimension, but got split_dim {axis} (size = {x.shape[axis]}) "
                             f"and num_split {n}")
    size = x.shape[axis] // n
    lead = (slice(None),) * axis
    return [x[lead + (slice(i * size, (i + 1) * size),)] for i in range(n)]


@op("SplitV", outputs=("output:num_split",), defaults={"Tlen": 9},
    description="cuts a tensor into pieces of given sizes along an axis")
def _split_v(ctx, inputs, attrs):
    x, sizes, axis_arg = inputs
    axis = norm_axis(int(axis_arg), x.ndim)
    sizes = as_ints(sizes)
    dim = x.shape[axis]
    if sizes.count(-1) > 1:
        raise ExecutionError("There can only be one -1 in the size_splits input")
    if -1 in sizes:
        sizes[sizes.index(-1)] = dim - (sum(sizes) + 1)
    if sum(sizes) != dim or min(sizes, default=0) < 0:
        raise ExecutionError(f"Determined shape must either match input shape along "
                             f"split_dim exactly if fully specified, or be less than the size "
                             f"of the input along split_dim if not fully specified.  Got: "
                             f"{sum(sizes)}")
    return np.split(x, np.cumsum(sizes)[:-1], axis=axis)


@op("Slice", outputs=("output",), description="cuts out a block given its start and size")
def _slice(ctx, inputs, attrs):
    x, begin, size = inputs
    b, s = as_ints(begin), as_ints(size)
    if len(b) != x.ndim or len(s) != x.ndim:
        raise ExecutionError(f"Expected begin and size arguments to be 1-D tensors of size "
                             f"{x.ndim}, but got shapes {len(b)} and {len(s)} instead.")
    idx = []
    for i, (bi, si, d) in enumerate(zip(b, s, x.shape)):
        if si == -1:
            si = d - bi
        if not 0 <= bi <= d:
            raise ExecutionError(f"Expected begin[{i}] in [0, {d}], but got {bi}")
        if not 0 <= si <= d - bi:
            raise ExecutionError(f"Expected size[{i}] in [0, {d - bi}], but got {si}")
        idx.append(slice(bi, bi + si))
    return x[tuple(idx)]


@op("StridedSlice", outputs=("output",),
    defaults={"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0,
              "shrink_axis_mask": 0},
    description="cuts out a strided block, Python-slice style (x[a:b:c, ..., None, i])")
def _strided_slice(ctx, inputs, attrs):
    x, begin, end, strides = inputs
    return x[strided_index(x.shape, begin, end, strides, attrs)]


def strided_index(shape, begin, end, strides, attrs) -> tuple:
    """TensorFlow's strided-slice spec as a numpy basic index."""
    b, e, s = as_ints(begin), as_ints(end), as_ints(strides)
    if not len(b) == len(e) == len(s):
        raise ExecutionError("Expected begin, end, and strides to be 1D equal size tensors")
    bm, em = int(attrs.get("begin_mask", 0)), int(attrs.get("end_mask", 0))
    ell, new, shrink = (int(attrs.get(k, 0)) for k in
                        ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask"))
    # Which input dimension each spec entry addresses (to check shrink indices).
    n_real = sum(1 for i in range(len(b)) if not (ell >> i) & 1 and not (new >> i) & 1)
    index, dim, seen_ellipsis = [], 0, False
    for i in range(len(b)):
        if (ell >> i) & 1:
            if seen_ellipsis:
                raise ExecutionError("Multiple ellipses in slice spec not allowed")
            seen_ellipsis = True
            index.append(Ellipsis)
            dim += len(shape) - n_real
        elif (new >> i) & 1:
            index.append(np.newaxis)
        elif (shrink >> i) & 1:
            if dim >= len(shape):
                raise ExecutionError(f"Index out of range using input dim {dim}")
            k, size = b[i], shape[dim]
            if not -size <= k < size:
                raise ExecutionError(f"slice index {k} of dimension {dim} out of bounds.")
            index.append(k)
            dim += 1
        else:
            if s[i] == 0:
                raise ExecutionError(f"strides[{i}] must be non-zero")
            index.append(slice(None if (bm >> i) & 1 else b[i],
                               None if (em >> i) & 1 else e[i], s[i]))
            dim += 1
    if dim > len(shape):
        raise ExecutionError(f"Index out of range using input dim {dim - 1}; input has only "
                             f"{len(shape)} dims")
    return tuple(index)


@op("Tile", outputs=("output",), defaults={"Tmultiples": 3},
    description="repeats a tensor a number of times along each axis")
def _tile(ctx, inputs, attrs):
    x, mult = inputs
    m = as_ints(mult)
    if len(m) != x.ndim:
        raise ExecutionError(f"Expected multiples argument to be a vector of length {x.ndim} "
                             f"but got length {len(m)}")
    if any(v < 0 for v in m):
        raise ExecutionError(f"Expected multiples to be non-negative, got {m}")
    check_alloc(ctx, [d * k for d, k in zip(x.shape, m)], x.dtype)
    return np.tile(x, m)


def _paddings(x, paddings):
    p = np.asarray(paddings).reshape(-1, 2) if np.asarray(paddings).size else \
        np.zeros((0, 2), np.int64)
    if p.shape[0] != x.ndim:
        raise ExecutionError(f"The first dimension of paddings must be the rank of inputs"
                             f"{shape_text(np.asarray(paddings).shape)} {shape_text(x.shape)}")
    pads = [(int(a), int(b)) for a, b in p]
    if any(a < 0 or b < 0 for a, b in pads):
        raise ExecutionError(f"Paddings must be non-negative: {pads}")
    return pads


def pad_constant(x, pads, value=0):
    """x surrounded by ``value``: each element is written once (np.pad is far slower)."""
    shape = [d + a + b for d, (a, b) in zip(x.shape, pads)]
    out = np.empty(shape, dtype=x.dtype)
    out[tuple(slice(a, a + d) for d, (a, b) in zip(x.shape, pads))] = x
    for axis, (a, b) in enumerate(pads):
        lead = (slice(None),) * axis
        if a:
            out[lead + (slice(0, a),)] = value
        if b:
            out[lead + (slice(shape[axis] - b, None),)] = value
    return out


def _pad_constant(ctx, x, pads, value):
    check_alloc(ctx, [d + a + b for d, (a, b) in zip(x.shape, pads)], x.dtype)
    return pad_constant(x, pads, value)


@op("Pad", outputs=("output",), defaults={"Tpaddings": 3},
    description="adds zeros around the edges of a tensor")
def _pad(ctx, inputs, attrs):
    x, paddings = inputs
    zero = b"" if x.dtype == object else 0
    return _pad_constant(ctx, x, _paddings(x, paddings), zero)


@op("PadV2", outputs=("output",), defaults={"Tpaddings": 3},
    description="adds a constant value around the edges of a tensor")
def _pad_v2(ctx, inputs, attrs):
    x, paddings, value = inputs
    return _pad_constant(ctx, x, _paddings(x, paddings), np.asarray(value).reshape(()))


@op("MirrorPad", outputs=("output",), defaults={"Tpaddings": 3},
    description="pads a tensor with mirror images of its own edges")
def _mirror_pad(ctx, inputs, attrs):
    x, paddings = inputs
    pads = _paddings(x, paddings)
    mode = attrs["mode"]
    offset = 0 if mode == b"SYMMETRIC" else 1
    for d, (a, b) in zip(x.shape, pads):
        if a > d - offset or b > d - offset:
            if offset:
                raise ExecutionError(f"paddings must be less than the dimension size: "
                                     f"{a}, {b} not less than {d}")
            raise ExecutionError(f"paddings must be no greater than the dimension size: "
                                 f"{a}, {b} greater than {d}")
    check_alloc(ctx, [d + a + b for d, (a, b) in zip(x.shape, pads)], x.dtype)
    return np.pad(x, pads, mode="symmetric" if offset == 0 else "reflect")


@op("Fill", outputs=("output",), defaults={"index_type": 3},
    description="makes a tensor of a given shape with every element set to one value")
def _fill(ctx, inputs, attrs):
    dims, value = inputs
    shape = as_ints(dims)
    if np.asarray(value).ndim:
        raise ExecutionError(f"value must be a scalar, got shape {shape_text(value.shape)}")
    check_alloc(ctx, shape, value.dtype)
    return np.full(shape, value, dtype=value.dtype)


@op("Empty", outputs=("output",), defaults={"init": False},
    description="makes a tensor of a given shape (filled with zeros here)")
def _empty(ctx, inputs, attrs):
    shape = as_ints(inputs[0])
    dt = np_dtype(attrs["dtype"])
    check_alloc(ctx, shape, dt)
    return np.zeros(shape, dtype=dt)


@op("Range", outputs=("output",), defaults={"Tidx": 3},
    description="the numbers from start up to (not including) limit in steps of delta")
def _range(ctx, inputs, attrs):
    start, limit, delta = (np.asarray(v).reshape(()) for v in inputs)
    dt = start.dtype
    s, lim, d = start.item(), limit.item(), delta.item()
    if d == 0:
        raise ExecutionError(f"Requires delta != 0: {d}")
    if d > 0 and s > lim:
        raise ExecutionError(f"Requires start <= limit when delta > 0: {s}/{lim}")
    if d < 0 and s < lim:
        raise ExecutionError(f"Requires start >= limit when delta < 0: {s}/{lim}")
    if np.dtype(dt).kind in "iu":
        n = (abs(lim - s) + abs(d) - 1) // abs(d)
    else:
        n = int(np.ceil(abs((lim - s) / d)))
    check_alloc(ctx, [n], dt)
    w = widen(start)
    return (w + np.arange(n, dtype=w.dtype) * widen(delta)).astype(dt)


@op("ZerosLike", outputs=("y",), description="a tensor of zeros with the input's shape and type")
def _zeros_like(ctx, inputs, attrs):
    x = inputs[0]
    check_alloc(ctx, x.shape, x.dtype)
    return np.full(x.shape, b"", dtype=object) if x.dtype == object else np.zeros_like(x)


@op("OnesLike", outputs=("y",), description="a tensor of ones with the input's shape and type")
def _ones_like(ctx, inputs, attrs):
    check_alloc(ctx, inputs[0].shape, inputs[0].dtype)
    return np.ones_like(inputs[0])


# ------------------------------------------------------------------ gather / scatter


def _check_indices(idx, limit, what="indices"):
    if idx.size and (idx.min() < 0 or idx.max() >= limit):
        bad = np.argwhere((idx < 0) | (idx >= limit))[0]
        pos = ",".join(str(int(v)) for v in bad)
        raise ExecutionError(f"{what}[{pos}] = {int(idx[tuple(bad)])} is not in [0, {limit})")


def gather(params, indices, axis, batch_dims=0, ctx=None):
    axis = norm_axis(axis, params.ndim)
    if batch_dims < 0:
        batch_dims += indices.ndim
    if batch_dims > axis:
        raise ExecutionError(f"batch_dims ({batch_dims}) must be less than or equal to "
                             f"axis ({axis}).")
    if params.shape[:batch_dims] != indices.shape[:batch_dims]:
        raise ExecutionError(f"params.shape[:{batch_dims}] and indices.shape[:{batch_dims}] "
                             f"must match: {shape_text(params.shape)} vs. "
                             f"{shape_text(indices.shape)}")
    idx = indices.astype(np.int64, copy=False)
    _check_indices(idx, params.shape[axis])
    if ctx is not None:
        # (a few indices into rows of a wide tensor can make a large output)
        check_alloc(ctx, params.shape[:axis] + idx.shape[batch_dims:] + params.shape[axis + 1:],
                    params.dtype)
    if batch_dims == 0:
        return np.take(params, idx, axis=axis)
    bshape = params.shape[:batch_dims]
    nb = int(np.prod(bshape))
    p = params.reshape((nb,) + params.shape[batch_dims:])
    i = idx.reshape((nb,) + idx.shape[batch_dims:])
    a = axis - batch_dims + 1                       # gather axis inside p
    p = np.moveaxis(p, a, 1)                        # (B, K, A..., R...)
    bidx = np.arange(nb).reshape((nb,) + (1,) * (i.ndim - 1))
    r = p[bidx, i]                                  # (B, I..., A..., R...)
    n_i, n_a = i.ndim - 1, a - 1
    order = [0] + list(range(1 + n_i, 1 + n_i + n_a)) + list(range(1, 1 + n_i)) + \
        list(range(1 + n_i + n_a, r.ndim))
    r = np.transpose(r, order)
    return r.reshape(bshape + r.shape[1:])


@op("GatherV2", outputs=("output",), defaults={"batch_dims": 0},
    description="picks slices of a tensor at the given positions along an axis "
                "(an embedding lookup)")
def _gather_v2(ctx, inputs, attrs):
    params, indices, axis = inputs
    return gather(params, indices, int(np.asarray(axis).reshape(-1)[0]),
                  int(attrs.get("batch_dims", 0)), ctx)


@op("Gather", outputs=("output",), defaults={"validate_indices": True},
    description="picks rows of a tensor at the given positions")
def _gather_v1(ctx, inputs, attrs):
    params, indices = inputs
    return gather(params, indices, 0, ctx=ctx)


def _nd_index(params_shape, indices, batch_dims=0, what="param shape"):
    idx = indices.astype(np.int64, copy=False)
    depth = idx.shape[-1]
    if depth > len(params_shape) - batch_dims:
        raise ExecutionError(f"index innermost dimension length must be <= params rank; "
                             f"saw: {depth} vs. {len(params_shape) - batch_dims}")
    limits = np.asarray(params_shape[batch_dims:batch_dims + depth], dtype=np.int64)
    bad = ((idx < 0) | (idx >= limits)).any(axis=-1)
    if bad.any():
        where = np.argwhere(bad)[0]
        raise ExecutionError(f"indices{list(map(int, where))} = {list(map(int, idx[tuple(where)]))}"
                             f" does not index into {what} {shape_text(params_shape)}")
    coords = []
    for k in range(batch_dims):
        shape = [1] * (idx.ndim - 1)
        shape[k] = params_shape[k]
        coords.append(np.arange(params_shape[k]).reshape(shape))
    coords += [idx[..., k] for k in range(depth)]
    return tuple(coords)


@op("GatherNd", outputs=("output",), defaults={"batch_dims": 0, "bad_indices_policy": b""},
    description="picks elements or slices of a tensor addressed by index vectors")
def _gather_nd(ctx, inputs, attrs):
    params, indices = inputs
    bd = int(attrs.get("batch_dims", 0))
    if bd and params.shape[:bd] != indices.shape[:bd]:
        raise ExecutionError("batch dimensions of params and indices must match")
    if indices.ndim:
        depth = indices.shape[-1]
        check_alloc(ctx, indices.shape[:-1] + params.shape[bd + depth:], params.dtype)
    return params[_nd_index(params.shape, indices, bd)]


def _scatter(target, indices, updates, how):
    coords = _nd_index(target.shape, indices, what="shape")
    depth = indices.shape[-1]
    want = indices.shape[:-1] + target.shape[depth:]
    if updates.shape != want:
        raise ExecutionError(f"updates must have shape {shape_text(want)}, got "
                             f"{shape_text(updates.shape)}")
    if how == "update":
        target[coords] = updates
    else:
        getattr(np, how).at(target, coords, updates)
    return target


@op("ScatterNd", outputs=("output",), defaults={"bad_indices_policy": b""},
    description="makes a zero tensor and adds the updates at the given index vectors")
def _scatter_nd(ctx, inputs, attrs):
    indices, updates, shape = inputs
    shape = as_ints(shape)
    check_alloc(ctx, shape, updates.dtype)
    return _scatter(np.zeros(shape, dtype=updates.dtype), indices, updates, "add")


def _tensor_scatter(name, how, description):
    def k(ctx, inputs, attrs):
        tensor, indices, updates = inputs
        return _scatter(np.array(tensor, copy=True), indices, updates, how)
    op(name, outputs=("output",), defaults={"bad_indices_policy": b""},
       description=description)(k)


_tensor_scatter("TensorScatterUpdate", "update",
                "copies a tensor, overwriting the elements at the given index vectors")
_tensor_scatter("TensorScatterAdd", "add",
                "copies a tensor, adding updates at the given index vectors")
_tensor_scatter("TensorScatterSub", "subtract",
                "copies a tensor, subtracting updates at the given index vectors")
_tensor_scatter("TensorScatterMax", "maximum",
                "copies a tensor, keeping the larger value at the given index vectors")
_tensor_scatter("TensorScatterMin", "minimum",
                "copies a tensor, keeping the smaller value at the given index vectors")


@op("OneHot", outputs=("output",), defaults={"axis": -1, "TI": 9},
    description="turns class numbers into vectors with a 1 at the class position")
def _one_hot(ctx, inputs, attrs):
    indices, depth, on, off = inputs
    depth = int(depth)
    if depth < 0:
        raise ExecutionError(f"depth must be non-negative, got: {depth}")
    axis = int(attrs.get("axis", -1))
    rank = indices.ndim + 1
    if not -1 <= axis < rank:
        raise ExecutionError(f"Expected axis to be -1 or between [0, {rank}).  But received: "
                             f"{axis}")
    axis = rank - 1 if axis == -1 else axis
    shape = list(indices.shape)
    shape.insert(axis, depth)
    check_alloc(ctx, shape, on.dtype)
    hot = np.expand_dims(indices.astype(np.int64), axis) == np.arange(depth).reshape(
        [depth if i == axis else 1 for i in range(rank)])
    return np.where(hot, on.reshape(()), off.reshape(())).astype(on.dtype)


@op("Where", outputs=("index",), defaults={"T": 10},
    description="the coordinates of every true (non-zero) element")
def _where(ctx, inputs, attrs):
    return np.argwhere(inputs[0]).astype(np.int64)


@op("BroadcastTo", outputs=("output",), defaults={"Tidx": 3},
    description="repeats a tensor so it has a larger, broadcast-compatible shape")
def _broadcast_to(ctx, inputs, attrs):
    x, shape = inputs
    shape = as_ints(shape)
    try:
        out = np.broadcast_shapes(x.shape, tuple(shape))
    except ValueError:
        out = None
    if out is None or list(out) != shape:
        raise ExecutionError(f"Incompatible shapes: {shape_text(x.shape)} vs. "
                             f"{shape_text(shape)}")
    check_alloc(ctx, shape, x.dtype)
    return np.array(np.broadcast_to(x, shape))


@op("BroadcastArgs", outputs=("r0",), defaults={"T": 3},
    description="the shape two shapes broadcast to")
def _broadcast_args(ctx, inputs, attrs):
    s0, s1 = inputs
    try:
        out = np.broadcast_shapes(tuple(as_ints(s0)), tuple(as_ints(s1)))
    except ValueError:
        raise ExecutionError(f"Incompatible shapes: {shape_text(as_ints(s0))} vs. "
                             f"{shape_text(as_ints(s1))}") from None
    return np.asarray(out, dtype=s0.dtype).reshape(-1)


@op("BroadcastGradientArgs", outputs=("r0", "r1"), defaults={"T": 3},
    description="which axes each of two broadcast inputs was stretched along")
def _broadcast_gradient_args(ctx, inputs, attrs):
    s0, s1 = (as_ints(s) for s in inputs)
    try:
        np.broadcast_shapes(tuple(s0), tuple(s1))
    except ValueError:
        raise ExecutionError(f"Incompatible shapes: {shape_text(s0)} vs. "
                             f"{shape_text(s1)}") from None
    n = max(len(s0), len(s1))
    p0 = [1] * (n - len(s0)) + s0
    p1 = [1] * (n - len(s1)) + s1
    if s0 == s1:
        r0 = r1 = []
    else:
        r0 = [i for i in range(n) if p0[i] == 1]
        r1 = [i for i in range(n) if p1[i] == 1]
    dt = inputs[0].dtype
    return np.asarray(r0, dtype=dt), np.asarray(r1, dtype=dt)


@op("ReverseV2", outputs=("output",), defaults={"Tidx": 3},
    description="reverses the order of elements along the given axes")
def _reverse_v2(ctx, inputs, attrs):
    x, axes = inputs
    ax = sorted({norm_axis(a, x.ndim) for a in as_ints(axes)})
    return np.flip(x, ax) if ax else x


@op("Reverse", outputs=("output",),
    description="reverses the order of elements along the axes marked true")
def _reverse(ctx, inputs, attrs):
    x, dims = inputs
    ax = [i for i, f in enumerate(np.asarray(dims).reshape(-1)) if f]
    return np.flip(x, ax) if ax else x


def _unique(x):
    if x.ndim != 1:
        raise ExecutionError(f"unique expects a 1D vector, got shape {shape_text(x.shape)}")
    if x.dtype == object:
        seen: dict = {}
        idx = np.array([seen.setdefault(v, len(seen)) for v in x], dtype=np.int64)
        return np.array(list(seen), dtype=object).reshape(-1), idx, np.bincount(
            idx, minlength=len(seen))
    vals, first, inverse, counts = np.unique(x, return_index=True, return_inverse=True,
                                             return_counts=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return vals[order], rank[inverse.reshape(-1)], counts[order]


@op("Unique", outputs=("y", "idx"), defaults={"out_idx": 3},
    description="the distinct values in order of first appearance, and where each input went")
def _unique_op(ctx, inputs, attrs):
    y, idx, _ = _unique(inputs[0])
    return y, idx.astype(np_dtype(attrs.get("out_idx", 3)))


@op("UniqueWithCounts", outputs=("y", "idx", "count"), defaults={"out_idx": 3},
    description="the distinct values, where each input went, and how often each occurs")
def _unique_counts(ctx, inputs, attrs):
    y, idx, counts = _unique(inputs[0])
    dt = np_dtype(attrs.get("out_idx", 3))
    return y, idx.astype(dt), counts.astype(dt)


@op("InvertPermutation", outputs=("y",), defaults={"T": 3},
    description="the permutation that undoes the given one")
def _invert_permutation(ctx, inputs, attrs):
    p = inputs[0]
    if sorted(as_ints(p)) != list(range(p.size)):
        raise ExecutionError(f"{as_ints(p)} is not a permutation of 0..{p.size - 1}")
    out = np.empty_like(p)
    out[p] = np.arange(p.size, dtype=p.dtype)
    return out


@op("MatrixBandPart", outputs=("band",), defaults={"Tindex": 9},
    description="keeps a band of diagonals of each matrix and zeroes the rest")
def _band_part(ctx, inputs, attrs):
    x, lower, upper = inputs
    lo, up = int(lower), int(upper)
    m, n = x.shape[-2:]
    i = np.arange(m).reshape(-1, 1)
    j = np.arange(n).reshape(1, -1)
    keep = ((lo < 0) | (i - j <= lo)) & ((up < 0) | (j - i <= up))
    return np.where(keep, x, np.zeros((), dtype=x.dtype))


@op("MatrixDiag", outputs=("output",),
    description="makes square matrices with the given vectors on their diagonals")
def _matrix_diag(ctx, inputs, attrs):
    d = inputs[0]
    n = d.shape[-1]
    check_alloc(ctx, d.shape + (n,), d.dtype)
    return d[..., :, None] * np.eye(n, dtype=d.dtype) if d.dtype != object else \
        np.where(np.eye(n, dtype=bool), d[..., :, None], b"")


@op("MatrixDiagPart", outputs=("diagonal",),
    description="the main diagonal of each matrix")
def _matrix_diag_part(ctx, inputs, attrs):
    return np.array(np.diagonal(inputs[0], axis1=-2, axis2=-1))


@op("MatrixSetDiag", outputs=("output",),
    description="copies matrices, replacing their main diagonals")
def _matrix_set_diag(ctx, inputs, attrs):
    x, d = inputs
    out = np.array(x, copy=True)
    k = min(x.shape[-2:])
    i = np.arange(k)
    out[..., i, i] = d
    return out


@op("Bitcast", outputs=("output",),
    description="reinterprets the bytes of a tensor as another data type")
def _bitcast(ctx, inputs, attrs):
    x = inputs[0]
    dt = np_dtype(attrs["type"])
    a, b = x.dtype.itemsize, dt.itemsize
    if a == b:
        return x.view(dt)
    if a > b:
        return np.ascontiguousarray(x).view(dt).reshape(x.shape + (a // b,))
    if not x.ndim or x.shape[-1] != b // a:
        raise ExecutionError(f"Cannot bitcast from {x.dtype} to {dt}: the last dimension "
                             f"must be {b // a}")
    return np.ascontiguousarray(x).view(dt).reshape(x.shape[:-1])


def _space_to_batch(x, block, pads):
    nb = len(block)
    padded = pad_constant(x, [(0, 0)] + pads + [(0, 0)] * (x.ndim - 1 - nb))
    n = x.shape[0]
    shape = [n]
    for k, b in enumerate(block):
        d = padded.shape[1 + k]
        if d % b:
            raise ExecutionError(f"padded shape dimension {d} is not divisible by block "
                                 f"size {b}")
        shape += [d // b, b]
    rest = list(padded.shape[1 + nb:])
    y = padded.reshape(shape + rest)
    # (n, d0, b0, d1, b1, ..., rest) -> (b0, b1, ..., n, d0, d1, ..., rest)
    order = [2 + 2 * k for k in range(nb)] + [0] + [1 + 2 * k for k in range(nb)] + \
        list(range(1 + 2 * nb, y.ndim))
    y = y.transpose(order)
    return y.reshape([n * int(np.prod(block))] + [shape[1 + 2 * k] for k in range(nb)] + rest)


@op("SpaceToBatchND", outputs=("output",), defaults={"Tblock_shape": 3, "Tpaddings": 3},
    description="moves blocks of spatial positions into the batch axis (for dilated convolution)")
def _space_to_batch_nd(ctx, inputs, attrs):
    x, block, paddings = inputs
    block = as_ints(block)
    pads = [(int(a), int(b)) for a, b in np.asarray(paddings).reshape(-1, 2)]
    return _space_to_batch(x, block, pads)


@op("BatchToSpaceND", outputs=("output",), defaults={"Tblock_shape": 3, "Tcrops": 3},
    description="moves batch entries back into blocks of spatial positions")
def _batch_to_space_nd(ctx, inputs, attrs):
    x, block, crops = inputs
    block = as_ints(block)
    nb = len(block)
    crops = [(int(a), int(b)) for a, b in np.asarray(crops).reshape(-1, 2)]
    prod = int(np.prod(block))
    if x.shape[0] % prod:
        raise ExecutionError(f"Input batch dimension ({x.shape[0]}) is not divisible by "
                             f"product of block sizes ({prod})")
    n = x.shape[0] // prod
    spatial = list(x.shape[1:1 + nb])
    rest = list(x.shape[1 + nb:])
    y = x.reshape(block + [n] + spatial + rest)
    # (b0.., n, d0.., rest) -> (n, d0, b0, d1, b1, ..., rest)
    order = [nb]
    for k in range(nb):
        order += [nb + 1 + k, k]
    order += list(range(2 * nb + 1, y.ndim))
    y = y.transpose(order).reshape([n] + [d * b for d, b in zip(spatial, block)] + rest)
    idx = [slice(None)] + [slice(a, y.shape[1 + k] - b) for k, (a, b) in enumerate(crops)]
    return y[tuple(idx)]


def _nhwc(x, attrs):
    return attrs.get("data_format", b"NHWC") == b"NCHW"


@op("DepthToSpace", outputs=("output",), defaults={"data_format": b"NHWC"},
    description="moves groups of channels into blocks of spatial positions (pixel shuffle)")
def _depth_to_space(ctx, inputs, attrs):
    x = inputs[0]
    b = int(attrs["block_size"])
    nchw = _nhwc(x, attrs)
    if nchw:
        x = x.transpose(0, 2, 3, 1)
    n, h, w, c = x.shape
    if c % (b * b):
        raise ExecutionError(f"Input depth dimension {c} should be divisible by: {b * b}")
    y = x.reshape(n, h, w, b, b, c // (b * b)).transpose(0, 1, 3, 2, 4, 5)
    y = y.reshape(n, h * b, w * b, c // (b * b))
    return y.transpose(0, 3, 1, 2) if nchw else y


@op("SpaceToDepth", outputs=("output",), defaults={"data_format": b"NHWC"},
    description="moves blocks of spatial positions into the channel axis")
def _space_to_depth(ctx, inputs, attrs):
    x = inputs[0]
    b = int(attrs["block_size"])
    nchw = _nhwc(x, attrs)
    if nchw:
        x = x.transpose(0, 2, 3, 1)
    n, h, w, c = x.shape
    if h % b or w % b:
        raise ExecutionError(f"Image width {w} and height {h} should be divisible by "
                             f"block_size: {b}")
    y = x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5)
    y = y.reshape(n, h // b, w // b, b * b * c)
    return y.transpose(0, 3, 1, 2) if nchw else y


def _segment(name, how, description, sorted_ids):
    def k(ctx, inputs, attrs):
        data, ids = inputs[0], inputs[1]
        ids = ids.astype(np.int64)
        if sorted_ids:
            n = int(ids.max()) + 1 if ids.size else 0
        else:
            n = int(inputs[2])
        shape = (n,) + data.shape[ids.ndim:]
        check_alloc(ctx, shape, data.dtype)
        flat_ids = ids.reshape(-1)
        flat = data.reshape((flat_ids.size,) + data.shape[ids.ndim:])
        keep = (flat_ids >= 0) & (flat_ids < n)
        flat_ids, flat = flat_ids[keep], flat[keep]
        w = widen(flat)
        if how == "sum" or how == "mean":
            out = np.zeros(shape, dtype=w.dtype)
            np.add.at(out, flat_ids, w)
            if how == "mean":
                cnt = np.bincount(flat_ids, minlength=n).reshape((n,) + (1,) * (len(shape) - 1))
                out = out / np.maximum(cnt, 1) if out.dtype.kind == "f" else out // np.maximum(
                    cnt, 1)
        elif how == "prod":
            out = np.ones(shape, dtype=w.dtype)
            np.multiply.at(out, flat_ids, w)
        else:
            if True:
                info = np.finfo(w.dtype) if w.dtype.kind == "f" else np.iinfo(w.dtype)
                init = info.min if how == "max" else info.max
            out = np.full(shape, init, dtype=w.dtype)
            (np.maximum if how == "max" else np.minimum).at(out, flat_ids, w)
            if sorted_ids:
                empty = np.bincount(flat_ids, minlength=n) == 0
                out[empty] = 0
        return out.astype(data.dtype)
    op(name, outputs=("output",), defaults={"Tnumsegments": 3},
       description=description)(k)


_segment("SegmentSum", "sum", "adds up the rows that share a segment id", True)
_segment("SegmentMean", "mean", "averages the rows that share a segment id", True)
_segment("SegmentMax", "max", "the largest of the rows that share a segment id", True)
_segment("SegmentMin", "min", "the smallest of the rows that share a segment id", True)
_segment("SegmentProd", "prod", "multiplies the rows that share a segment id", True)
_segment("UnsortedSegmentSum", "sum", "adds up the rows that share a segment id", False)
_segment("UnsortedSegmentMax", "max", "the largest of the rows sharing a segment id", False)
_segment("UnsortedSegmentMin", "min", "the smallest of the rows sharing a segment id", False)
_segment("UnsortedSegmentProd", "prod", "multiplies the rows that share a segment id", False)



# ---------------------------------------------------------------- diagonals (V3, one k)


def _single_k(k) -> int:
    ks = as_ints(k)
    if len(ks) == 2 and ks[0] != ks[1]:
        raise UnsupportedError("matrix diagonal ops with a band of several diagonals "
                               "(k = [low, high]) are not supported yet")
    return ks[0]


def _diag_coords(m, n, k):
    length = max(0, min(m + min(k, 0), n - max(k, 0)))
    i = np.arange(length) + max(-k, 0)
    return i, i + k, length


@op("MatrixDiagV3", "MatrixDiagV2", outputs=("output",), defaults={"align": b"RIGHT_LEFT"},
    description="makes matrices with the given vectors on one of their diagonals")
def _matrix_diag_v3(ctx, inputs, attrs):
    d, k, rows, cols, pad = inputs[:5]
    k = _single_k(k)
    length = d.shape[-1]
    m, n = int(rows), int(cols)
    if m <= 0 and n <= 0:
        m = n = length + abs(k)
    elif m <= 0:
        m = length + max(-k, 0)
    elif n <= 0:
        n = length + max(k, 0)
    check_alloc(ctx, d.shape[:-1] + (m, n), d.dtype)
    out = np.full(d.shape[:-1] + (m, n), np.asarray(pad).reshape(()), dtype=d.dtype)
    i, j, dl = _diag_coords(m, n, k)
    if dl != length:
        raise ExecutionError(f"the diagonal has {length} elements, but a {m}x{n} matrix "
                             f"has {dl} on diagonal {k}")
    out[..., i, j] = d
    return out


@op("MatrixDiagPartV3", "MatrixDiagPartV2", outputs=("diagonal",),
    defaults={"align": b"RIGHT_LEFT"}, description="one diagonal of each matrix")
def _matrix_diag_part_v3(ctx, inputs, attrs):
    x, k = inputs[0], _single_k(inputs[1])
    i, j, _ = _diag_coords(x.shape[-2], x.shape[-1], k)
    return np.array(x[..., i, j])


@op("MatrixSetDiagV3", "MatrixSetDiagV2", outputs=("output",),
    defaults={"align": b"RIGHT_LEFT"},
    description="copies matrices, replacing one of their diagonals")
def _matrix_set_diag_v3(ctx, inputs, attrs):
    x, d, k = inputs[0], inputs[1], _single_k(inputs[2])
    i, j, _ = _diag_coords(x.shape[-2], x.shape[-1], k)
    out = np.array(x, copy=True)
    out[..., i, j] = d
    return out


# -------------------------------------------------------------------- sparse tensors
# A sparse tensor travels as three dense ones: indices [N, rank], values [N], shape [rank].


@op("SparseToDense", outputs=("dense",), defaults={"validate_indices": True},
    description="makes a dense tensor from a list of (position, value) pairs and a default")
def _sparse_to_dense(ctx, inputs, attrs):
    idx, shape, values, default = inputs
    dims = as_ints(shape)
    idx = np.asarray(idx, dtype=np.int64).reshape(-1, len(dims)) if len(dims) else \
        np.zeros((np.asarray(idx).size, 0), np.int64)
    check_alloc(ctx, dims, values.dtype)
    out = np.full(dims, np.asarray(default).reshape(()), dtype=values.dtype)
    limits = np.asarray(dims, dtype=np.int64)
    bad = ((idx < 0) | (idx >= limits)).any(axis=1) if idx.size else np.zeros(0, bool)
    if bad.any():
        r = int(np.argmax(bad))
        raise ExecutionError(f"indices[{r}] = {shape_text(idx[r])} is out of bounds: "
                             f"need 0 <= index < {shape_text(dims)}")
    if attrs.get("validate_indices", True) and len(idx) > 1:
        flat = np.ravel_multi_index(idx.T, dims) if dims else np.zeros(len(idx), np.int64)
        step = np.diff(flat)
        if (step <= 0).any():
            r = int(np.argmax(step <= 0)) + 1
            what = "repeated" if step[r - 1] == 0 else "out of order"
            raise ExecutionError(f"indices[{r}] = {shape_text(idx[r])} is {what}. Many "
                                 f"sparse ops require sorted indices.\n    Use "
                                 f"`tf.sparse.reorder` to create a correctly ordered copy.")
    vals = np.broadcast_to(values, (len(idx),)) if values.ndim == 0 else values
    out[tuple(idx.T)] = vals
    return out


@op("SparseReshape", outputs=("output_indices", "output_shape"),
    description="gives a sparse tensor a new shape")
def _sparse_reshape(ctx, inputs, attrs):
    idx, shape, new_shape = inputs
    dims = as_ints(shape)
    new = as_ints(new_shape)
    total = int(np.prod(dims)) if dims else 1
    if new.count(-1) > 1:
        raise ExecutionError("only one output dimension may be -1")
    if -1 in new:
        known = int(np.prod([d for d in new if d != -1]))
        if known == 0 or total % known:
            raise ExecutionError(f"Input to reshape is a SparseTensor with {total} dense "
                                 f"values, but the requested shape requires a multiple of "
                                 f"{known}")
        new[new.index(-1)] = total // known
    if int(np.prod(new)) != total:
        raise ExecutionError(f"Input to reshape is a tensor with {total} dense values, but "
                             f"the requested shape has {int(np.prod(new))}")
    idx = np.asarray(idx, np.int64)
    if idx.shape[0] == 0:
        return np.zeros((0, len(new)), np.int64), np.asarray(new, np.int64)
    flat = np.ravel_multi_index(idx.T, dims)
    out = np.stack(np.unravel_index(flat, new), axis=1).astype(np.int64)
    return out.reshape(-1, len(new)), np.asarray(new, np.int64)


@op("SparseFillEmptyRows",
    outputs=("output_indices", "output_values", "empty_row_indicator", "reverse_index_map"),
    description="gives every empty row of a 2-D sparse tensor one default entry")
def _sparse_fill_empty_rows(ctx, inputs, attrs):
    idx, values, shape, default = inputs
    idx = np.asarray(idx, np.int64).reshape(-1, max(1, len(as_ints(shape))))
    rows = as_ints(shape)[0]
    r = idx[:, 0]
    if r.size and (r.min() < 0 or r.max() >= rows):
        bad = int(np.argmax((r < 0) | (r >= rows)))
        raise ExecutionError(f"indices({bad}, 0) is invalid: {int(r[bad])} >= {rows}")
    counts = np.bincount(r, minlength=rows) if rows else np.zeros(0, np.int64)
    empty = counts == 0
    fill_rows = np.nonzero(empty)[0]
    fill_idx = np.zeros((fill_rows.size, idx.shape[1]), np.int64)
    fill_idx[:, 0] = fill_rows
    all_idx = np.concatenate([idx, fill_idx])
    all_vals = np.concatenate([values, np.full(fill_rows.size, np.asarray(default).reshape(()),
                                               dtype=values.dtype)])
    order = np.argsort(all_idx[:, 0], kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    return (all_idx[order], all_vals[order], empty,
            position[:idx.shape[0]].astype(np.int64))


def _sparse_segment(ctx, data, indices, seg, num, how):
    idx = np.asarray(indices, np.int64)
    seg = np.asarray(seg, np.int64)
    if idx.shape != seg.shape:
        raise ExecutionError("segment_ids and indices should have same size")
    _check_indices(idx, data.shape[0])
    if num is None:
        num = int(seg[-1]) + 1 if seg.size else 0
    if seg.size and (np.any(np.diff(seg) < 0) and how != "unsorted"):
        raise ExecutionError("segment ids are not increasing")
    if seg.size and (seg.min() < 0 or seg.max() >= num):
        raise ExecutionError(f"segment ids must be in [0, {num})")
    rows = widen(data[idx])
    shape = (num,) + data.shape[1:]
    check_alloc(ctx, shape, data.dtype)
    out = np.zeros(shape, dtype=rows.dtype)
    np.add.at(out, seg, rows)
    count = np.bincount(seg, minlength=num).reshape((num,) + (1,) * (data.ndim - 1))
    if how == "mean":
        out = out / np.maximum(count, 1).astype(out.dtype)
    elif how == "sqrtn":
        out = out / np.sqrt(np.maximum(count, 1)).astype(out.dtype)
    return out.astype(data.dtype)


def _register_sparse_segment(how, word):
    name = {"sum": "SparseSegmentSum", "mean": "SparseSegmentMean",
            "sqrtn": "SparseSegmentSqrtN"}[how]
    defaults = {"Tidx": 3, "Tsegmentids": 3, "sparse_gradient": False}

    def k(ctx, inputs, attrs):
        return _sparse_segment(ctx, inputs[0], inputs[1], inputs[2], None, how)
    op(name, outputs=("output",), defaults=defaults,
       description=f"{word} of the chosen rows that share a segment id")(k)

    def k_num(ctx, inputs, attrs):
        return _sparse_segment(ctx, inputs[0], inputs[1], inputs[2], int(inputs[3]), how)
    op(name + "WithNumSegments", outputs=("output",),
       defaults=dict(defaults, Tnumsegments=3),
       description=f"{word} of the chosen rows that share a segment id")(k_num)


_register_sparse_segment("sum", "the sum")
_register_sparse_segment("mean", "the mean")
_register_sparse_segment("sqrtn", "the sum divided by the square root of the count")


@op("SparseTensorDenseMatMul", outputs=("product",),
    defaults={"adjoint_a": False, "adjoint_b": False, "Tindices": 9},
    description="matrix product of a sparse matrix and a dense one")
def _sparse_dense_matmul(ctx, inputs, attrs):
    idx, values, shape, b = inputs
    dims = as_ints(shape)
    a = np.zeros(dims, dtype=values.dtype)
    np.add.at(a, tuple(np.asarray(idx, np.int64).T), values)
    if attrs.get("adjoint_a"):
        a = a.T
    if attrs.get("adjoint_b"):
        b = b.T
    if a.shape[1] != b.shape[0]:
        raise ExecutionError(f"Cannot multiply A and B because inner dimension does not match:"
                             f" {a.shape[1]} vs. {b.shape[0]}")
    return (widen(a) @ widen(b)).astype(values.dtype)


# ---------------------------------------------------------------- ragged and counting


def _ragged_coords(types, partitions, n_values):
    """Index of every value in the dense output: (n_values, ragged_rank + 1), and the
    number of rows of the outermost dimension."""
    types = [t.decode() if isinstance(t, bytes) else t for t in types]
    parts = list(partitions)
    coords = None
    if types and types[0] == "FIRST_DIM_SIZE":
        nrows = int(parts.pop(0))
        types = types[1:]
    else:
        nrows = None
    for kind, part in zip(types, parts):
        part = np.asarray(part, np.int64).reshape(-1)
        if kind == "ROW_SPLITS":
            if part.size == 0 or part[0] != 0 or np.any(np.diff(part) < 0):
                raise ExecutionError("row_splits must start at 0 and never decrease")
            parent = np.repeat(np.arange(part.size - 1), np.diff(part))
            pos = np.arange(part[-1]) - part[parent]
            rows = part.size - 1
        elif kind == "VALUE_ROWIDS":
            if np.any(np.diff(part) < 0) or (part.size and part[0] < 0):
                raise ExecutionError("value_rowids must be sorted and non-negative")
            parent = part
            pos = np.arange(part.size) - np.searchsorted(part, part, side="left")
            rows = nrows if coords is None and nrows is not None else (
                int(part[-1]) + 1 if part.size else 0)
        else:
            raise UnsupportedError(f"ragged partition type {kind} is not supported")
        if coords is None:
            nrows = rows if nrows is None else nrows
            coords = np.stack([parent, pos], axis=1)
        else:
            coords = np.concatenate([coords[parent], pos[:, None]], axis=1)
    if coords is None:
        raise ExecutionError("RaggedTensorToTensor needs at least one row partition")
    if coords.shape[0] != n_values:
        raise ExecutionError(f"the row partitions describe {coords.shape[0]} values, but "
                             f"there are {n_values}")
    return coords, nrows


@op("RaggedTensorToTensor", outputs=("result",), defaults={"Tindex": 9, "Tshape": 9},
    description="pads the rows of a ragged tensor (rows of different lengths) to a "
                "rectangular tensor")
def _ragged_to_tensor(ctx, inputs, attrs):
    shape_arg, values, default = inputs[0], inputs[1], inputs[2]
    coords, nrows = _ragged_coords(attrs["row_partition_types"], inputs[3:], values.shape[0])
    depth = coords.shape[1]
    inner = values.shape[1:]
    natural = [nrows] + [int(coords[:, k].max()) + 1 if coords.size else 0
                         for k in range(1, depth)] + list(inner)
    wanted = as_ints(shape_arg) if np.asarray(shape_arg).ndim else []
    dims = [w if w >= 0 else n for w, n in zip(wanted, natural)] if wanted else natural
    check_alloc(ctx, dims, values.dtype)
    out = np.empty(dims, dtype=values.dtype)
    out[...] = default                   # broadcast against the output's trailing axes
    limits = np.asarray(dims[:depth])
    keep = np.all(coords < limits, axis=1)
    out[tuple(coords[keep].T)] = values[keep][(slice(None),) + tuple(
        slice(0, d) for d in dims[depth:])]
    return out


@op("DenseBincount", outputs=("output",), defaults={"binary_output": False},
    description="counts how often each whole number appears (optionally weighted)")
def _dense_bincount(ctx, inputs, attrs):
    x, size, weights = inputs
    size = int(size)
    if size < 0:
        raise ExecutionError(f"size ({size}) must be non-negative")
    if x.size and x.min() < 0:
        raise ExecutionError("Input arr must be non-negative!")
    dt = weights.dtype
    binary = bool(attrs.get("binary_output", False))
    rows = x.reshape(1, -1) if x.ndim == 1 else x
    w = None if weights.size == 0 else (weights.reshape(1, -1) if x.ndim == 1 else weights)
    check_alloc(ctx, (rows.shape[0], size), dt)
    out = np.zeros((rows.shape[0], size), dtype=widen(np.zeros(0, dt)).dtype)
    keep = rows < size
    r = np.broadcast_to(np.arange(rows.shape[0])[:, None], rows.shape)[keep]
    if binary:
        out[r, rows[keep]] = 1
    elif w is None:
        np.add.at(out, (r, rows[keep]), 1)
    else:
        np.add.at(out, (r, rows[keep]), widen(w)[keep])
    out = out.astype(dt)
    return out[0] if x.ndim == 1 else out


@op("Bincount", outputs=("bins",),
    description="counts how often each whole number appears (optionally weighted)")
def _bincount(ctx, inputs, attrs):
    x, size, weights = inputs
    return _dense_bincount(ctx, [x.reshape(-1), size, weights.reshape(-1)],
                           {"binary_output": False})


@op("LinSpace", outputs=("output",), defaults={"Tidx": 3},
    description="num evenly spaced numbers from start to stop, both included")
def _linspace(ctx, inputs, attrs):
    start, stop, num = inputs
    n = int(num)
    if n <= 0:
        raise ExecutionError(f"Requires num > 0: {n}")
    check_alloc(ctx, [n], start.dtype)
    w0, w1 = widen(start).reshape(()), widen(stop).reshape(())
    if n == 1:
        return np.asarray([w0]).astype(start.dtype)
    step = (w1 - w0) / (n - 1)
    out = w0 + np.arange(n, dtype=w0.dtype) * step
    out[-1] = w1
    return out.astype(start.dtype)


@op("Bucketize", outputs=("output",),
    description="the number of boundaries each value is at or above (which bucket it is in)")
def _bucketize(ctx, inputs, attrs):
    edges = np.asarray(attrs.get("boundaries", []), dtype=np.float64)
    if np.any(np.diff(edges) < 0):
        raise ExecutionError("Expected sorted boundaries")
    x = inputs[0]
    return np.searchsorted(edges, widen(x).astype(np.float64), side="right").astype(np.int32)


@op("Roll", outputs=("output",), defaults={"Tshift": 3, "Taxis": 3},
    description="shifts elements along axes, wrapping around at the end")
def _roll(ctx, inputs, attrs):
    x, shift, axis = inputs
    shifts, axes = as_ints(shift), as_ints(axis)
    if len(shifts) != len(axes):
        raise ExecutionError(f"shift and axis must have the same size, got {len(shifts)} "
                             f"and {len(axes)}")
    if not x.ndim:
        return x
    total = [0] * x.ndim
    for s, a in zip(shifts, axes):
        total[norm_axis(a, x.ndim)] += s
    moved = [(s, a) for a, s in enumerate(total) if s]
    if not moved:
        return x
    return np.roll(x, [s for s, _ in moved], axis=[a for _, a in moved])


@op("ReverseSequence", outputs=("output",), defaults={"batch_dim": 0, "Tlen": 9},
    description="reverses the first seq_lengths[i] elements of each sequence in a batch")
def _reverse_sequence(ctx, inputs, attrs):
    x, lengths = inputs
    seq_dim = norm_axis(int(attrs["seq_dim"]), x.ndim)
    batch_dim = norm_axis(int(attrs.get("batch_dim", 0)), x.ndim)
    lengths = np.asarray(lengths, np.int64)
    t = x.shape[seq_dim]
    if lengths.shape != (x.shape[batch_dim],) or lengths.min(initial=0) < 0 or \
            lengths.max(initial=0) > t:
        raise ExecutionError(f"seq_lengths must have one entry per batch row, each in "
                             f"[0, {t}]")
    pos = np.arange(t)
    src = np.where(pos[None, :] < lengths[:, None], lengths[:, None] - 1 - pos[None, :],
                   pos[None, :])                  # [batch, time]
    shape = [1] * x.ndim
    shape[batch_dim], shape[seq_dim] = x.shape[batch_dim], t
    if batch_dim > seq_dim:
        src = src.T
    idx = np.broadcast_to(src.reshape(shape), x.shape)
    return np.take_along_axis(x, idx, axis=seq_dim)
