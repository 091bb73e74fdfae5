"""Gradient kernels a training step needs: the backward pass of the activations, BiasAdd.

A ``train`` signature computes its gradients in the graph: ``tf.GradientTape`` writes the
backward op of each forward op (TanhGrad for Tanh, ReluGrad for Relu ...) next to the
forward ones. Each is elementwise: the incoming gradient times the activation's derivative,
taken from the activation's output (``y``) or its input (``features``) as TensorFlow's op
says. Computed in the input dtype (float16/bfloat16 through float32, rounded once).
"""
from __future__ import annotations

import numpy as np

from ...errors import ExecutionError
from .math import op, shape_text, widen

# SELU's constants (Klambauer et al.), as TensorFlow's kernels use them.
_SELU_SCALE = 1.0507009873554804934193349852946
_SELU_ALPHA = 1.6732632423543772848170429916717


def _pair(ctx, name, inputs):
    a, b = (np.asarray(x) for x in inputs)
    if a.shape != b.shape:
        node = getattr(ctx, "node_name", "") or name
        raise ExecutionError(f"Inputs to operation {node} of type {name} must have the same "
                             f"size and shape.  Input 0: {shape_text(a.shape)} != input 1: "
                             f"{shape_text(b.shape)}")
    return a, b


def _grad(name, outputs, first, second, fn, description, defaults=None):
    @op(name, outputs=outputs, defaults=defaults, description=description)
    def kernel(ctx, inputs, attrs):
        a, b = _pair(ctx, name, inputs)
        dt = a.dtype
        return np.asarray(fn(widen(a), widen(b), attrs)).astype(dt, copy=False)
    return kernel


# (y, dy): the derivative from the forward op's output.
_grad("TanhGrad", ("z",), "y", "dy", lambda y, dy, _: dy * (1 - y * y),
      "the gradient through tanh, from its output: dy * (1 - y^2)")
_grad("SigmoidGrad", ("z",), "y", "dy", lambda y, dy, _: dy * (y * (1 - y)),
      "the gradient through the sigmoid, from its output: dy * y * (1 - y)")
_grad("SqrtGrad", ("z",), "y", "dy", lambda y, dy, _: dy * np.asarray(0.5, y.dtype) / y,
      "the gradient through sqrt, from its output: dy / (2 y)")
_grad("RsqrtGrad", ("z",), "y", "dy",
      lambda y, dy, _: np.asarray(-0.5, y.dtype) * (dy * y) * (y * y),
      "the gradient through 1/sqrt, from its output: -dy * y^3 / 2")
_grad("ReciprocalGrad", ("z",), "y", "dy", lambda y, dy, _: -dy * (y * y),
      "the gradient through 1/x, from its output: -dy * y^2")
_grad("InvGrad", ("z",), "y", "dy", lambda y, dy, _: -dy * (y * y),
      "the gradient through 1/x, from its output: -dy * y^2")

# (gradients, features): the derivative from the forward op's input.
_grad("ReluGrad", ("backprops",), "gradients", "features",
      lambda g, x, _: np.where(x > 0, g, np.zeros((), g.dtype)),
      "the gradient through ReLU: passed where the input was positive, else 0")
_grad("Relu6Grad", ("backprops",), "gradients", "features",
      lambda g, x, _: np.where((x > 0) & (x < 6), g, np.zeros((), g.dtype)),
      "the gradient through ReLU6: passed where the input was in (0, 6), else 0")
_grad("LeakyReluGrad", ("backprops",), "gradients", "features",
      lambda g, x, attrs: np.where(x > 0, g, g * np.asarray(attrs.get("alpha", 0.2),
                                                            g.dtype)),
      "the gradient through leaky ReLU: passed where the input was positive, else "
      "scaled by alpha", defaults={"alpha": 0.2, "T": 1})
_grad("SoftplusGrad", ("backprops",), "gradients", "features",
      lambda g, x, _: g / (np.exp(-x) + 1),
      "the gradient through softplus: the gradient times sigmoid(input)")
_grad("SoftsignGrad", ("backprops",), "gradients", "features",
      lambda g, x, _: g / np.square(1 + np.abs(x)),
      "the gradient through softsign: the gradient over (1 + |input|)^2")
# (gradients, outputs)
_grad("EluGrad", ("backprops",), "gradients", "outputs",
      lambda g, y, _: np.where(y < 0, g * (y + 1), g),
      "the gradient through ELU, from its output")
_grad("SeluGrad", ("backprops",), "gradients", "outputs",
      lambda g, y, _: np.where(y < 0, g * (y + np.asarray(_SELU_SCALE * _SELU_ALPHA, y.dtype)),
                               g * np.asarray(_SELU_SCALE, y.dtype)),
      "the gradient through SELU, from its output")


@op("BiasAddGrad", outputs=("output",), defaults={"data_format": b"NHWC"},
    description="the gradient of a bias: the incoming gradient summed over all but the "
                "channel axis")
def _bias_add_grad(ctx, inputs, attrs):
    g = np.asarray(inputs[0])
    if g.ndim < 2:
        raise ExecutionError(f"Input tensor must be at least 2D: [{','.join(map(str, g.shape))}]")
    fmt = attrs.get("data_format", b"NHWC")
    fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
    axis = 1 if fmt.startswith("NC") else g.ndim - 1
    others = tuple(i for i in range(g.ndim) if i != axis)
    return widen(g).sum(axis=others, dtype=widen(g).dtype).astype(g.dtype)
