"""Plan-time fusion: a convolution with the per-channel ops that follow it, as one step.

Keras exports a convolution + batch norm + activation as a chain of nodes, each making a
full-size tensor: ``Conv2D -> Mul(scale) -> AddV2(offset) -> Relu6`` (or ``BiasAdd``
instead of the batch norm, or a depthwise convolution, sometimes fed by a zero ``Pad``,
sometimes followed by the ``AddV2`` of a residual connection and another activation).
:func:`fuse_steps` turns each such chain of a flat plan into one step that computes the
convolution with the scale folded into the filter and adds the offset and clips each
block of output while it is still in cache (:func:`core.engine.ops.nn.fused_conv`).

A chain is fused only when nothing else can see its intermediate tensors: each link's
output is read by the next link alone, is not fetched, and no node has a control edge
from it or into it. The scale and offset are whatever values reach the Mul/Add in that
run (nothing is assumed constant): the fused step checks them at run time and, when
they are not plain per-channel float32 vectors (or the scale is not finite), runs the
original nodes one by one instead. Folding the scale into the filter rounds differently
from multiplying afterwards (last-bit float differences, well within the tolerance the
tests check against TensorFlow's outputs); TENSORLOUPE_FUSE=0 turns fusion off.

Traces: a traced run executes the original nodes one by one (the step keeps them in
``parts``), so the trace shows every node with its own output and time, except that the
last node's output is the fused step's (and its time the whole chain's): what the rest of
the graph receives is then exactly what an untraced run computes.
"""
from __future__ import annotations

import os

import numpy as np

from .steps import K_KERNEL, Step

CONVS = {"Conv2D", "DepthwiseConv2dNative"}
SCALES = {"Mul"}
OFFSETS = {"AddV2", "Add", "BiasAdd"}
ACTIVATIONS = {"Relu", "Relu6"}
RESIDUALS = {"AddV2", "Add"}
FLOATS = {1}     # DT_FLOAT: the fused kernel handles float32 only


def enabled() -> bool:
    """TENSORLOUPE_FUSE=0 turns fusion off (to compare, or to rule it out)."""
    return os.environ.get("TENSORLOUPE_FUSE", "1") != "0"


def fuse_steps(steps: list, fetch_refs: list, n_nodes: int) -> list:
    """The flat step list with fusible chains replaced by fused steps.

    (Also tried: running fused convolutions that feed each other a few images at a time,
    to keep the intermediate tensors in cache. No faster on MobileNetV2: the per-call
    cost of the smaller kernels ate the gain.)"""
    return _fuse_chains(steps, fetch_refs)


class _Graph:
    """Who reads what, in a step list."""

    def __init__(self, steps, fetch_refs):
        self.steps = steps
        self.readers: dict[int, list] = {}     # slot -> [(step position, input index)]
        self.ctrl_linked = set()               # nodes with control edges from or to them
        for pos, st in enumerate(steps):
            for k, (s, _) in enumerate(st.inputs):
                self.readers.setdefault(s, []).append((pos, k))
            if st.ctrl:
                self.ctrl_linked.add(st.idx)
                self.ctrl_linked.update(st.ctrl)
            for part in st.parts or ():
                self.ctrl_linked.update(part.ctrl)
        self.fetched = {s for s, _ in fetch_refs}
        self.pos_of = {st.idx: pos for pos, st in enumerate(steps)}

    def sole_reader(self, st):
        """The (step, input index) that alone reads st's output 0, or None."""
        if st.idx in self.fetched or st.idx in self.ctrl_linked or st.nout != 1:
            return None
        r = self.readers.get(st.idx, [])
        if len(r) != 1:
            return None
        pos, k = r[0]
        nxt = self.steps[pos]
        if nxt.kind != K_KERNEL or nxt.idx in self.ctrl_linked or nxt.inputs[k] != (st.idx, 0):
            return None
        return nxt, k


def _fuse_chains(steps, fetch_refs):
    g = _Graph(steps, fetch_refs)
    sole_reader, ctrl_linked, pos_of = g.sole_reader, g.ctrl_linked, g.pos_of
    replace: dict[int, Step] = {}       # position of a chain's last link -> fused step
    drop: set[int] = set()
    for st in steps:
        if st.op not in CONVS or st.kind != K_KERNEL or st.idx in ctrl_linked or \
                len(st.inputs) != 2 or st.idx in drop:
            continue
        if st.attrs.get("T", 1) not in FLOATS or st.attrs.get("data_format", b"NHWC") != b"NHWC":
            continue
        parts = [st]
        ext = [[0, 1]]                   # per part: indices into the fused inputs (None: chain)
        inputs = list(st.inputs)
        roles = {}
        # A zero Pad feeding a VALID convolution becomes the convolution's padding.
        src = st.inputs[0][0]
        pad = steps[pos_of[src]] if src in pos_of else None
        if (pad is not None and pad.op == "Pad" and st.attrs.get("padding") == b"VALID" and
                pad.kind == K_KERNEL and pad.idx not in ctrl_linked and
                len(pad.inputs) == 2 and sole_reader(pad) == (st, 0) and pad.idx not in drop):
            parts = [pad, st]
            inputs = [pad.inputs[0], st.inputs[1], pad.inputs[1]]
            ext = [[0, 2], [None, 1]]
            roles["paddings"] = 2
        cur = st
        for kinds, role in ((SCALES, "scale"), (OFFSETS, "bias"), (ACTIVATIONS, "act"),
                            (RESIDUALS, "residual"), (ACTIVATIONS, "act2")):
            link = sole_reader(cur)
            if link is None or link[0].op not in kinds:
                continue
            nxt, k = link
            if role in ("act", "act2"):
                if len(nxt.inputs) != 1:
                    continue
                roles[role] = nxt.op
                ext.append([None])
            else:
                if len(nxt.inputs) != 2 or (nxt.op == "BiasAdd" and k != 0) or \
                        nxt.attrs.get("data_format", b"NHWC") != b"NHWC":
                    continue
                other = nxt.inputs[1 - k]
                roles[role] = len(inputs)
                inputs.append(other)
                ext.append([None, len(inputs) - 1] if k == 0 else [len(inputs) - 1, None])
            parts.append(nxt)
            cur = nxt
        if len(parts) == 1:
            continue
        last = parts[-1]
        chain = _Chain(st, parts, ext, roles)
        fused = Step(last.idx, last.name, last.op, K_KERNEL, chain, inputs, (),
                     last.attrs, last.nout, last.kernel)
        fused.parts = tuple(parts)
        replace[pos_of[last.idx]] = fused
        drop.update(p.idx for p in parts[:-1])
    if not replace:
        return steps
    return [replace.get(pos, st) for pos, st in enumerate(steps) if st.idx not in drop or
            pos in replace]


class _Chain:
    """The kernel of a fused step: a convolution and the per-channel ops after it."""

    def __init__(self, conv, parts, ext, roles):
        self.conv = conv
        self.parts = parts
        self.ext = ext
        self.i_scale, self.i_bias = roles.get("scale"), roles.get("bias")
        self.i_pad, self.act = roles.get("paddings"), roles.get("act")
        self.i_res, self.act2 = roles.get("residual"), roles.get("act2")

    def prepare(self, x_shape, x_dtype, inputs):
        """apply(x) for the fast path, or None (see prepare_fused_conv)."""
        from .ops.nn import prepare_fused_conv

        def get(i):
            return inputs[i] if i is not None else None
        bias, act, res, act2 = get(self.i_bias), self.act, get(self.i_res), self.act2
        if (bias is not None and res is None and act2 is None and
                isinstance(bias, np.ndarray) and bias.ndim == 4):
            # conv (+ scale) + a whole tensor (+ activation): a residual connection
            bias, act, res, act2 = None, None, bias, act
        return prepare_fused_conv(self.conv.op, x_shape, x_dtype, inputs[1], self.conv.attrs,
                                  get(self.i_scale), bias, act, get(self.i_pad), res, act2)

    def one_by_one(self, ctx, inputs):
        """The original nodes, one after the other (operands the fast path declines)."""
        out = None
        for part, where in zip(self.parts, self.ext):
            ctx.node = part
            args = [out if w is None else inputs[w] for w in where]
            out = part.fn(ctx, args, part.attrs)
            if type(out) in (tuple, list):
                out = out[0]
        return out

    def __call__(self, ctx, inputs, attrs):
        me = ctx.node
        ctx.node = self.conv
        x = inputs[0]
        apply = self.prepare(x.shape, x.dtype, inputs) if isinstance(x, np.ndarray) else None
        out = apply(x) if apply is not None else self.one_by_one(ctx, inputs)
        ctx.node = me
        return out
