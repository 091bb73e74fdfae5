"""Function calls and the plumbing ops every graph has (Identity, NoOp ...).

The plumbing kernels are registered as fallbacks: if the op-family modules register the
same ops, theirs win.
"""
from __future__ import annotations

import numpy as np

from ...errors import ExecutionError, FormatError
from ..registry import FuncRef, kernel


@kernel("PartitionedCall", "StatefulPartitionedCall", outputs=("output:*Tout",),
        defaults={"config": b"", "config_proto": b"", "executor_type": b""}, stateful=True,
        description="calls a function of the graph's library with these inputs")
def call(ctx, inputs, attrs):
    f = attrs.get("f")
    if isinstance(f, str) and f and not f.startswith("$"):
        f = FuncRef(f)
    if not isinstance(f, FuncRef):
        raise FormatError(f"{ctx.where()}: attribute 'f' names no function")
    outputs = ctx.call_function(f, inputs)
    # The planner checked that Tout is a list; the function must return what it promises.
    declared = attrs.get("Tout", [])
    if len(outputs) != len(declared):
        raise ExecutionError(f"{ctx.where()}: function '{f.name}' returned {len(outputs)} "
                             f"outputs, but the call's Tout lists {len(declared)}")
    return outputs


@kernel("Identity", "StopGradient", "PreventGradient", "Snapshot", "PlaceholderWithDefault",
        "RefIdentity", fallback=True, description="passes its input through unchanged")
def identity(ctx, inputs, attrs):
    return inputs[0]


@kernel("IdentityN", outputs=("output:*T",), fallback=True,
        description="passes several inputs through unchanged")
def identity_n(ctx, inputs, attrs):
    return list(inputs)


@kernel("NoOp", outputs=(), fallback=True, description="does nothing; groups control dependencies")
def no_op(ctx, inputs, attrs):
    return ()


@kernel("DisableCopyOnRead", outputs=(), stateful=True, fallback=True,
        description="a hint about variable copies; nothing to do here")
def disable_copy_on_read(ctx, inputs, attrs):
    return ()


@kernel("CheckNumerics", fallback=True, defaults={"message": b""},
        description="fails when its input holds NaN or Inf")
def check_numerics(ctx, inputs, attrs):
    x = inputs[0]
    arr = np.asarray(x)
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        what = "NaN" if np.isnan(arr).any() else "Inf"
        msg = attrs.get("message", b"")
        msg = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
        raise ExecutionError(f"{ctx.where()}: {msg} : Tensor had {what} values")
    return x


@kernel("Assert", outputs=(), stateful=True, fallback=True, defaults={"summarize": 3},
        description="fails the run when its condition is false")
def assert_(ctx, inputs, attrs):
    cond = np.asarray(inputs[0])
    if not bool(cond.all()):
        shown = []
        for v in inputs[1:]:
            a = np.asarray(v)
            if a.dtype == object:
                shown.append(" ".join(x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)
                                      for x in a.reshape(-1)[: attrs.get("summarize", 3)]))
            else:
                shown.append(str(a.reshape(-1)[: attrs.get("summarize", 3)].tolist()))
        raise ExecutionError(f"{ctx.where()}: assertion failed: " + " ".join(shown))
    return ()
