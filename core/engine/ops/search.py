"""Binary search along the last axis: UpperBound and LowerBound (``tf.searchsorted``).

Both take a batch of sorted rows ``sorted_inputs`` [B, N] and ``values`` [B, M] and give,
for every value, the index in its own row where it would be inserted: after equal
elements (UpperBound, ``side='right'``) or before them (LowerBound, ``side='left'``).
Feature-column bucketization in TFX/Estimator exports comes through here.
"""
from __future__ import annotations

import numpy as np

from ...errors import ExecutionError
from ..registry import np_dtype
from .math import op


def _bound(ctx, inputs, attrs, side: str):
    sorted_inputs, values = (np.asarray(x) for x in inputs)
    # TensorFlow's shape function wants both of rank 2 when the graph is built; a graph
    # edited afterwards reaches the kernel, which refuses the same.
    for name, x in (("sorted_inputs", sorted_inputs), ("values", values)):
        if x.ndim != 2:
            raise ExecutionError(f"{name} must be a matrix (rank 2), got rank {x.ndim}")
    if sorted_inputs.shape[0] != values.shape[0]:
        raise ExecutionError("Leading dim_size of both tensors must match.")
    out_dt = np_dtype(attrs.get("out_type", 3))
    n = sorted_inputs.shape[1]
    if out_dt == np.int32 and n >= 2 ** 31 - 1:
        raise ExecutionError("trailing dim_size must less than INT_MAX for int32 output "
                             f"type, was {n}")
    out = np.empty(values.shape, dtype=out_dt)
    tick = getattr(ctx, "tick", None)
    for i in range(values.shape[0]):
        if tick is not None:
            tick()
        out[i] = np.searchsorted(sorted_inputs[i], values[i], side=side)
    return out


@op("UpperBound", outputs=("output",), defaults={"out_type": 3},
    description="for each value, how many elements of its sorted row are at or below it")
def _upper_bound(ctx, inputs, attrs):
    return _bound(ctx, inputs, attrs, "right")


@op("LowerBound", outputs=("output",), defaults={"out_type": 3},
    description="for each value, how many elements of its sorted row are below it")
def _lower_bound(ctx, inputs, attrs):
    return _bound(ctx, inputs, attrs, "left")
