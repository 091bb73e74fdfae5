"""The steps a plan is made of, and their kinds.

Kept apart from ``plan`` so that plan-time fusion (``fuse``), which builds steps of its own,
and the planner, which calls fusion, both depend on this module instead of on each other.
"""
from __future__ import annotations

# Step kinds (the executor dispatches on these in frame-aware plans).
K_KERNEL, K_SWITCH, K_MERGE, K_ENTER, K_EXIT, K_NEXT, K_IDENTITY, K_CONST = range(8)


class Step:
    """One node to execute."""

    __slots__ = ("idx", "name", "op", "kind", "fn", "inputs", "ctrl", "attrs", "nout",
                 "free", "is_constant", "kernel", "parts")

    def __init__(self, idx, name, op, kind, fn, inputs, ctrl, attrs, nout, kernel):
        self.idx = idx
        self.name = name
        self.op = op
        self.kind = kind
        self.fn = fn
        self.inputs = inputs
        self.ctrl = ctrl
        self.attrs = attrs
        self.nout = nout
        self.free = ()
        self.is_constant = False
        self.kernel = kernel
        self.parts = None   # a fused step: the original steps (see ``fuse``)

    def __repr__(self):
        return f"Step({self.name!r}, {self.op})"
