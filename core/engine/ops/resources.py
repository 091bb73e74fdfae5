"""Variables and checkpoint restore.

Resource variables (VarHandleOp / ReadVariableOp / AssignVariableOp ...) live in the
session's ResourceManager under (container, shared_name). TF1 reference variables
(VariableV2 + Assign) are kept by name; the planner tells Assign which variable its first
input comes from (attribute ``_ref_var``). RestoreV2 reads our checkpoint reader. Ops that
would write files (SaveV2 ...) refuse: Tensorloupe never writes next to a user's model.
"""
from __future__ import annotations

import numpy as np

from ... import dtypes
from ...errors import ExecutionError, NotFoundError
from ..registry import kernel, np_dtype
from ..resources import ResourceHandle, Variable

ANONYMOUS = "cd2c89b7-88b7-44c8-ad83-06c2a9158347"


def _name(ctx, attrs) -> str:
    shared = attrs.get("shared_name", b"")
    shared = shared.decode() if isinstance(shared, bytes) else str(shared)
    if not shared or shared == ANONYMOUS:
        return "/".join(ctx.function_path + (ctx.node_name,))
    return shared


def _container(attrs) -> str:
    c = attrs.get("container", b"")
    return c.decode() if isinstance(c, bytes) else str(c)


@kernel("VarHandleOp", defaults={"container": b"", "shared_name": b"", "allowed_devices": [],
                                 "debug_name": b""},
        outputs=("resource",), description="names a variable (a handle to it)")
def var_handle(ctx, inputs, attrs):
    return ResourceHandle("variable", _container(attrs), _name(ctx, attrs),
                          attrs.get("dtype"), attrs.get("shape"))


def _variable(ctx, handle) -> Variable:
    return ctx.resources.get(handle, lambda: Variable(handle.name, handle.dtype, handle.shape))


# What TensorFlow's kernels check before a variable is written (resource_variable_ops.cc,
# dense_update_ops.cc, assign_op.h), with their words. A refused write leaves the variable
# as it was.

_TF_TYPE_NAMES = {"float32": "float", "float64": "double", "float16": "half"}


def _type_text(dtype) -> str:
    """A numpy dtype as TensorFlow's DataTypeString spells it (float, int32, string)."""
    try:
        name = dtypes.python_name(dtypes.from_numpy(dtype))
    except Exception:  # noqa: BLE001 - only for a message
        return str(dtype)
    return _TF_TYPE_NAMES.get(name, name)


def _shape_text(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _declared(attrs):
    """The numpy dtype an op's ``dtype`` attribute declares, or None (resource, variant)."""
    dt = attrs.get("dtype")
    if not isinstance(dt, int) or dtypes.base(dt) in (20, 21):
        return None
    return np_dtype(dt)


def _value(var: Variable):
    """A variable's current array, or None while it has none."""
    v = var.value
    return v if isinstance(v, (np.ndarray, np.generic)) else None


@kernel("ReadVariableOp", outputs=("value",), description="reads a variable's value")
def read_variable(ctx, inputs, attrs):
    value = _variable(ctx, inputs[0]).read()
    want = _declared(attrs)
    if want is not None and isinstance(value, np.ndarray) and value.dtype != want:
        raise ExecutionError(f"{ctx.where()}: Trying to read variable with wrong dtype. "
                             f"Expected {_type_text(want)} got {_type_text(value.dtype)}")
    return value


@kernel("AssignVariableOp", outputs=(), defaults={"validate_shape": False}, stateful=True,
        description="sets a variable's value")
def assign_variable(ctx, inputs, attrs):
    var = _variable(ctx, inputs[0])
    value = np.asarray(inputs[1])
    want = _declared(attrs)
    if want is not None and value.dtype != want:
        raise ExecutionError(f"{ctx.where()}: Variable and value dtypes don't match; "
                             f"respectively, {_type_text(want)} and {_type_text(value.dtype)}")
    current = _value(var)
    if current is not None:
        # Once written, a variable keeps its type; its shape too when the op says so.
        if current.dtype != value.dtype:
            raise ExecutionError(f"{ctx.where()}: Trying to assign variable with wrong dtype. "
                                 f"Expected {_type_text(current.dtype)} got "
                                 f"{_type_text(value.dtype)}")
        if attrs.get("validate_shape") and current.shape != value.shape:
            raise ExecutionError(f"{ctx.where()}: Trying to assign to variable with tensor with "
                                 f"wrong shape. Expected {_shape_text(current.shape)} got "
                                 f"{_shape_text(value.shape)}")
    var.value = value
    return ()


@kernel("AssignAddVariableOp", "AssignSubVariableOp", outputs=(), stateful=True,
        description="adds to (or subtracts from) a variable")
def assign_add_variable(ctx, inputs, attrs):
    var = _variable(ctx, inputs[0])
    current = var.read()
    delta = np.asarray(inputs[1])
    want = _declared(attrs)
    if current.dtype != delta.dtype or (want is not None and want != current.dtype):
        raise ExecutionError(f"{ctx.where()}: DType of variable handle and value does not "
                             f"match.")
    if current.shape != delta.shape:
        raise ExecutionError(f"{ctx.where()}: Cannot update variable with shape "
                             f"{_shape_text(current.shape)} using a Tensor with shape "
                             f"{_shape_text(delta.shape)}, shapes must be equal.")
    if ctx.op == "AssignAddVariableOp":
        var.value = np.add(current, delta).astype(current.dtype, copy=False)
    else:
        var.value = np.subtract(current, delta).astype(current.dtype, copy=False)
    return ()


@kernel("VarIsInitializedOp", outputs=("is_initialized",),
        description="whether a variable has a value")
def var_is_initialized(ctx, inputs, attrs):
    var = ctx.resources.find(inputs[0])
    return np.array(var is not None and var.value is not None)


@kernel("DestroyResourceOp", outputs=(), defaults={"ignore_lookup_error": True}, stateful=True,
        description="forgets a resource")
def destroy_resource(ctx, inputs, attrs):
    ctx.resources.delete(inputs[0])
    return ()


@kernel("ResourceGather", defaults={"batch_dims": 0, "validate_indices": True},
        description="reads rows of a variable (an embedding lookup)")
def resource_gather(ctx, inputs, attrs):
    params = _variable(ctx, inputs[0]).read()
    indices = np.asarray(inputs[1])
    if attrs.get("batch_dims", 0):
        raise ExecutionError(f"{ctx.where()}: batch_dims is not supported")
    if indices.size and (indices.min() < -0 or indices.max() >= params.shape[0]):
        bad = indices[(indices < 0) | (indices >= params.shape[0])].reshape(-1)[0]
        raise ExecutionError(f"{ctx.where()}: index {bad} is not in [0, {params.shape[0]})")
    return np.take(params, indices, axis=0)


# ---------------------------------------------------------------- TF1 reference variables

@kernel("VariableV2", "Variable", "TemporaryVariable",
        defaults={"container": b"", "shared_name": b""}, outputs=("ref",),
        description="a TF1 variable (its current value)")
def variable_v2(ctx, inputs, attrs):
    shared = attrs.get("shared_name", b"")
    name = (shared.decode() if isinstance(shared, bytes) else shared) or ctx.node_name
    var = ctx.resources.ref_variable(name)
    if var.dtype is None and _declared(attrs) is not None:
        # What the variable was declared as (a DataType, as resource variables keep it):
        # writes must match its type, and before its first value an Assign that validates
        # shapes compares with this shape.
        var.dtype = dtypes.base(attrs["dtype"])
        shape = attrs.get("shape")
        if isinstance(shape, tuple) and all(isinstance(d, int) and d >= 0 for d in shape):
            var.shape = shape
    return var.value if var.value is not None else var


def _ref(ctx, attrs) -> Variable:
    return ctx.resources.ref_variable(attrs["_ref_var"])


def _check_ref_type(ctx, var: Variable, value) -> None:
    # TensorFlow checks this when the graph is built (a ref edge has one type); an edited
    # graph reaches the kernel, which then must not change the variable's type.
    want = np_dtype(var.dtype) if var.dtype is not None else (
        _value(var).dtype if _value(var) is not None else None)
    if want is not None and value.dtype != want:
        raise ExecutionError(f"{ctx.where()}: variable '{var.name}' is {_type_text(want)}; it "
                             f"cannot be given a {_type_text(value.dtype)} value")


@kernel("Assign", outputs=("output_ref",), defaults={"validate_shape": True, "use_locking": True},
        stateful=True, description="sets a TF1 variable's value")
def assign(ctx, inputs, attrs):
    var = _ref(ctx, attrs)
    value = np.asarray(inputs[1])
    _check_ref_type(ctx, var, value)
    current = _value(var)
    if attrs.get("validate_shape", True):
        lhs = current.shape if current is not None else var.shape
        if lhs is not None and tuple(lhs) != value.shape:
            raise ExecutionError(f"{ctx.where()}: Assign requires shapes of both tensors to "
                                 f"match. lhs shape= {_shape_text(lhs)} rhs shape= "
                                 f"{_shape_text(value.shape)}")
    var.value = value
    return value


@kernel("AssignAdd", "AssignSub", outputs=("output_ref",), defaults={"use_locking": False},
        stateful=True, description="adds to (or subtracts from) a TF1 variable")
def assign_add(ctx, inputs, attrs):
    var = _ref(ctx, attrs)
    cur = _value(var)
    if cur is None:
        raise ExecutionError(f"{ctx.where()}: Attempting to use uninitialized value {var.name}")
    delta = np.asarray(inputs[1])
    _check_ref_type(ctx, var, delta)
    if cur.shape != delta.shape:
        raise ExecutionError(f"{ctx.where()}: Parameters and update must be the same size")
    var.value = (np.add(cur, delta) if ctx.op == "AssignAdd"
                 else np.subtract(cur, delta)).astype(cur.dtype, copy=False)
    return var.value


@kernel("IsVariableInitialized", outputs=("is_initialized",),
        description="whether a TF1 variable has a value")
def is_variable_initialized(ctx, inputs, attrs):
    return np.array(_ref(ctx, attrs).value is not None)


# ---------------------------------------------------------------- checkpoints

def _text(v) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, np.bytes_)) else str(v)


def _read(ctx, reader, name: str, spec: str, dt):
    try:
        value = reader.read(name)
    except (KeyError, NotFoundError):
        raise ExecutionError(f"{ctx.where()}: the checkpoint has no tensor '{name}'") from None
    value = np.asarray(value)
    if spec:
        value = value[_slice_spec(spec, ctx)]
    if dt is not None:
        target = np_dtype(dt)
        if value.dtype != target and not (target == object and value.dtype.kind in "OS"):
            raise ExecutionError(f"{ctx.where()}: checkpoint tensor '{name}' is {value.dtype}, "
                                 f"the graph expects {dtypes.python_name(dt)}")
        if target == object and value.dtype.kind == "S":
            value = value.astype(object)
    return value


def _slice_spec(spec: str, ctx):
    """``"4 3 0,2:-"`` (full shape, then start,length per dim or ``-``) -> index tuple."""
    parts = spec.split(" ")
    extents = parts[-1].split(":") if parts[-1] else []
    index = []
    for e in extents:
        if e == "-":
            index.append(slice(None))
        else:
            try:
                start, length = (int(x) for x in e.split(","))
            except ValueError:
                raise ExecutionError(f"{ctx.where()}: bad slice spec '{spec}'") from None
            index.append(slice(start, start + length))
    return tuple(index)


@kernel("RestoreV2", outputs=("tensors:*dtypes",),
        description="reads tensors from a checkpoint")
def restore_v2(ctx, inputs, attrs):
    prefix = _text(np.asarray(inputs[0]).reshape(()).item())
    names = [_text(x) for x in np.asarray(inputs[1]).reshape(-1)]
    specs = [_text(x) for x in np.asarray(inputs[2]).reshape(-1)]
    dts = attrs.get("dtypes", [])
    if not (len(names) == len(specs) == len(dts)):
        raise ExecutionError(f"{ctx.where()}: {len(names)} names, {len(specs)} slices and "
                             f"{len(dts)} dtypes do not match")
    reader = ctx.open_checkpoint(prefix)
    return [_read(ctx, reader, n, s, d) for n, s, d in zip(names, specs, dts)]


@kernel("RestoreSlice", outputs=("tensor",), defaults={"preferred_shard": -1},
        description="reads a slice of a tensor from a checkpoint")
def restore_slice(ctx, inputs, attrs):
    prefix = _text(np.asarray(inputs[0]).reshape(()).item())
    name = _text(np.asarray(inputs[1]).reshape(()).item())
    spec = _text(np.asarray(inputs[2]).reshape(()).item())
    return _read(ctx, ctx.open_checkpoint(prefix), name, spec, attrs.get("dt"))


@kernel("Restore", outputs=("tensor",), defaults={"preferred_shard": -1},
        description="reads a tensor from a checkpoint")
def restore(ctx, inputs, attrs):
    prefix = _text(np.asarray(inputs[0]).reshape(()).item())
    name = _text(np.asarray(inputs[1]).reshape(()).item())
    return _read(ctx, ctx.open_checkpoint(prefix), name, "", attrs.get("dt"))


@kernel("SaveV2", "Save", "SaveSlices", "MergeV2Checkpoints", outputs=(), stateful=True,
        description="writes a checkpoint (Tensorloupe never does)")
def refuse_save(ctx, inputs, attrs):
    raise ExecutionError(f"{ctx.where()} would write a checkpoint; Tensorloupe never writes files")


@kernel("ShardedFilename", outputs=("filename",), description="names one shard of a checkpoint")
def sharded_filename(ctx, inputs, attrs):
    base = _text(np.asarray(inputs[0]).reshape(()).item())
    shard = int(np.asarray(inputs[1]))
    num = int(np.asarray(inputs[2]))
    return np.array(f"{base}-{shard:05d}-of-{num:05d}".encode(), dtype=object)
