"""Optimizer updates: the Apply* ops (TF1 reference variables) and ResourceApply* ops.

A training step exported in a SavedModel (a ``train`` signature, an Estimator's train
graph) ends in one of these per variable: it reads the variable and its slots (momentum,
Adam's m and v, Adagrad's accumulator ...), computes the update in the variable's dtype
and writes all of them back. The two forms differ only in how they reach the variables:

- ``ResourceApplyX`` gets resource handles (VarHandleOp) and returns nothing;
- ``ApplyX`` (all but KerasMomentum) gets TF1 reference variables; the planner tells the kernel which variables
  (attribute ``_ref_vars``, one name per ref input) and the op returns the new value.

The arithmetic follows the order of operations of TensorFlow's CPU kernels, in the
variable's own dtype, so float32 results agree to rounding. Before anything is written,
the same checks TensorFlow makes (scalars are scalars, slots and gradient have the
variable's shape), with its words; a refused update leaves every variable as it was.
"""
from __future__ import annotations

import numpy as np

from ...errors import ExecutionError
from ..resources import ResourceHandle, Variable
from .math import op, shape_text

# op -> (the variables it updates, the other inputs in order, the scalar inputs, the
# inputs whose shape must equal the variable's (TensorFlow checks these, in this order))
_SPECS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "GradientDescent": (("var",), ("alpha", "delta"), ("alpha",), ("delta",)),
    "Momentum": (("var", "accum"), ("lr", "grad", "momentum"), ("lr", "momentum"),
                 ("accum", "grad")),
    "KerasMomentum": (("var", "accum"), ("lr", "grad", "momentum"), ("lr", "momentum"),
                      ("accum", "grad")),
    "Adam": (("var", "m", "v"),
             ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon", "grad"),
             ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon"),
             ("m", "v", "grad")),
    "Adagrad": (("var", "accum"), ("lr", "grad"), ("lr",), ("accum", "grad")),
    "AdagradV2": (("var", "accum"), ("lr", "epsilon", "grad"), ("lr", "epsilon"),
                  ("accum", "grad")),
    "RMSProp": (("var", "ms", "mom"), ("lr", "rho", "momentum", "epsilon", "grad"),
                ("lr", "rho", "momentum", "epsilon"), ("ms", "mom", "grad")),
    "CenteredRMSProp": (("var", "mg", "ms", "mom"),
                        ("lr", "rho", "momentum", "epsilon", "grad"),
                        ("lr", "rho", "momentum", "epsilon"), ("mg", "ms", "mom", "grad")),
    "Ftrl": (("var", "accum", "linear"), ("grad", "lr", "l1", "l2", "lr_power"),
             ("lr", "l1", "l2", "lr_power"), ("accum", "linear", "grad")),
    "FtrlV2": (("var", "accum", "linear"),
               ("grad", "lr", "l1", "l2", "l2_shrinkage", "lr_power"),
               ("lr", "l1", "l2", "l2_shrinkage", "lr_power"), ("accum", "linear", "grad")),
    "Adadelta": (("var", "accum", "accum_update"), ("lr", "rho", "epsilon", "grad"),
                 ("lr", "rho", "epsilon"), ("accum", "grad")),
}


# ---------------------------------------------------------------- the updates
# Each takes a dict of the variable and slot arrays and the other inputs (scalars as 0-d
# arrays of the variable's dtype) and returns the new arrays of the variables it changes.

def _gradient_descent(s, a):
    return {"var": s["var"] - a["delta"] * a["alpha"]}


def _momentum(s, a):
    accum = s["accum"] * a["momentum"] + a["grad"]
    if a["use_nesterov"]:
        var = s["var"] - (a["grad"] * a["lr"] + accum * a["momentum"] * a["lr"])
    else:
        var = s["var"] - accum * a["lr"]
    return {"var": var, "accum": accum}


def _keras_momentum(s, a):
    accum = s["accum"] * a["momentum"] - a["grad"] * a["lr"]
    if a["use_nesterov"]:
        var = s["var"] + (accum * a["momentum"] - a["grad"] * a["lr"])
    else:
        var = s["var"] + accum
    return {"var": var, "accum": accum}


def _adam(s, a):
    one = np.ones((), s["var"].dtype)
    # The step size with both bias corrections folded in, computed once as a scalar.
    alpha = a["lr"] * np.sqrt(one - a["beta2_power"]) / (one - a["beta1_power"])
    g = a["grad"]
    m = s["m"] + (g - s["m"]) * (one - a["beta1"])
    v = s["v"] + (np.square(g) - s["v"]) * (one - a["beta2"])
    if a["use_nesterov"]:
        step = ((g * (one - a["beta1"]) + a["beta1"] * m) * alpha) / (np.sqrt(v) + a["epsilon"])
    else:
        step = (m * alpha) / (np.sqrt(v) + a["epsilon"])
    return {"var": s["var"] - step, "m": m, "v": v}


def _adagrad(s, a):
    accum = s["accum"] + np.square(a["grad"]) if a["update_slots"] else s["accum"]
    var = s["var"] - a["grad"] * a["lr"] * (1 / np.sqrt(accum)).astype(accum.dtype)
    return {"var": var, "accum": accum}


def _adagrad_v2(s, a):
    accum = s["accum"] + np.square(a["grad"]) if a["update_slots"] else s["accum"]
    var = s["var"] - a["grad"] * a["lr"] / (np.sqrt(accum) + a["epsilon"])
    return {"var": var, "accum": accum}


def _rmsprop(s, a):
    one = np.ones((), s["var"].dtype)
    g = a["grad"]
    ms = s["ms"] + (np.square(g) - s["ms"]) * (one - a["rho"])
    mom = s["mom"] * a["momentum"] + (g * a["lr"]) / np.sqrt(ms + a["epsilon"])
    return {"var": s["var"] - mom, "ms": ms, "mom": mom}


def _centered_rmsprop(s, a):
    one = np.ones((), s["var"].dtype)
    g = a["grad"]
    ms = s["ms"] + (np.square(g) - s["ms"]) * (one - a["rho"])
    mg = s["mg"] + (g - s["mg"]) * (one - a["rho"])
    denom = (ms - np.square(mg)) + a["epsilon"]
    mom = s["mom"] * a["momentum"] + (g * a["lr"]) / np.sqrt(denom)
    return {"var": s["var"] - mom, "mg": mg, "ms": ms, "mom": mom}


def _pow(x, y):
    """x**y rounded once to x's dtype (TensorFlow's pow is correctly rounded; float32
    powf is not always, and Ftrl subtracts two powers, which magnifies the difference)."""
    return np.power(x.astype(np.float64), y.astype(np.float64)).astype(x.dtype)


def _ftrl(s, a, shrinkage: bool):
    """FTRL-proximal. With ``multiply_linear_by_lr`` the linear slot holds lr times what
    it holds otherwise, and the other terms are scaled to match."""
    var, accum, g = s["var"], s["accum"], a["grad"]
    dt = var.dtype
    lr, l1, l2, power = a["lr"], a["l1"], a["l2"], a["lr_power"]
    two = np.asarray(2, dt)
    g_linear = g + two * a["l2_shrinkage"] * var if shrinkage else g
    new_accum = accum + g * g
    half = power == np.asarray(-0.5, dt)
    if half:
        grow = np.sqrt(new_accum) - np.sqrt(accum)
        scale = np.sqrt(new_accum)
    else:
        scale = _pow(new_accum, -power)
        grow = scale - _pow(accum, -power)
    if a["multiply_linear_by_lr"]:
        linear = s["linear"] + (g_linear * lr - grow * var)
        limit = l1 * lr
        quadratic = scale + np.asarray(two * l2 * lr, dt)
    else:
        linear = s["linear"] + (g_linear - grow / lr * var)
        limit = l1
        quadratic = scale / lr + np.asarray(two * l2, dt)
    x = limit * np.sign(linear) - linear
    new_var = np.where(np.abs(linear) > limit, x / quadratic, np.zeros((), dt))
    return {"var": new_var.astype(dt, copy=False), "accum": new_accum, "linear": linear}


def _adadelta(s, a):
    one = np.ones((), s["var"].dtype)
    g, rho, eps = a["grad"], a["rho"], a["epsilon"]
    accum = s["accum"] * rho + np.square(g) * (one - rho)
    update = np.sqrt(s["accum_update"] + eps) * (1 / np.sqrt(accum + eps)).astype(
        accum.dtype) * g
    accum_update = s["accum_update"] * rho + np.square(update) * (one - rho)
    return {"var": s["var"] - update * a["lr"], "accum": accum, "accum_update": accum_update}


_UPDATES = {
    "GradientDescent": _gradient_descent, "Momentum": _momentum,
    "KerasMomentum": _keras_momentum, "Adam": _adam, "Adagrad": _adagrad,
    "AdagradV2": _adagrad_v2, "RMSProp": _rmsprop, "CenteredRMSProp": _centered_rmsprop,
    "Ftrl": lambda s, a: _ftrl(s, a, False), "FtrlV2": lambda s, a: _ftrl(s, a, True),
    "Adadelta": _adadelta,
}

_DEFAULTS = {
    "GradientDescent": {},
    "Momentum": {"use_nesterov": False},
    "KerasMomentum": {"use_nesterov": False},
    "Adam": {"use_nesterov": False},
    "Adagrad": {"update_slots": True},
    "AdagradV2": {"update_slots": True},
    "RMSProp": {}, "CenteredRMSProp": {}, "Adadelta": {},
    "Ftrl": {"multiply_linear_by_lr": False},
    "FtrlV2": {"multiply_linear_by_lr": False},
}

_WORDS = {
    "GradientDescent": "plain gradient descent: the variable minus the learning rate "
                       "times the gradient",
    "Momentum": "gradient descent with momentum (optionally Nesterov's)",
    "KerasMomentum": "gradient descent with momentum, as Keras' SGD computes it",
    "Adam": "an Adam step (optionally with Nesterov momentum)",
    "Adagrad": "an Adagrad step (the gradient scaled by its accumulated squares)",
    "AdagradV2": "an Adagrad step with epsilon added to the denominator",
    "RMSProp": "an RMSProp step",
    "CenteredRMSProp": "a centered RMSProp step (the variance rather than the mean "
                       "square)",
    "Ftrl": "an FTRL-proximal step",
    "FtrlV2": "an FTRL-proximal step with L2 shrinkage",
    "Adadelta": "an Adadelta step",
}


# ---------------------------------------------------------------- checks and plumbing

def _check(name, spec, states, args) -> None:
    _, _, scalars, same = spec
    for key in scalars:
        if args[key].ndim != 0:
            # (Adam's kernel words it with a space before the colon)
            sep = " :" if name == "Adam" else ":"
            raise ExecutionError(f"{key} is not a scalar{sep} {shape_text(args[key].shape)}")
    var = states["var"]
    for key in same:
        other = states[key] if key in states else args[key]
        if other.shape != var.shape:
            raise ExecutionError(f"var and {key} do not have the same shape"
                                 f"{shape_text(var.shape)} {shape_text(other.shape)}")


def _read_states(ctx, names, handles, ref: bool, attrs) -> list[Variable]:
    out = []
    if ref:
        ref_names = attrs.get("_ref_vars")
        if not ref_names or len(ref_names) < len(names):
            raise ExecutionError("this op updates TF1 variables, but its inputs do not come "
                                 "from variables")
        for var_name in ref_names[:len(names)]:
            out.append(ctx.resources.ref_variable(var_name))
    else:
        for h in handles:
            if not isinstance(h, ResourceHandle):
                raise ExecutionError(f"expected a resource handle, got {type(h).__name__}")
            out.append(ctx.resources.get(h))
    return out


def _make(name: str, ref: bool):
    spec = _SPECS[name]
    state_names, arg_names, _, _ = spec
    update = _UPDATES[name]
    n = len(state_names)

    def kernel(ctx, inputs, attrs):
        if len(inputs) != n + len(arg_names):
            raise ExecutionError(f"expects {n + len(arg_names)} inputs, got {len(inputs)}")
        variables = _read_states(ctx, state_names, inputs[:n], ref, attrs)
        states = {}
        for key, var in zip(state_names, variables):
            value = var.value
            if not isinstance(value, (np.ndarray, np.generic)):
                raise ExecutionError(f"Attempting to use uninitialized variables: {var.name}")
            states[key] = np.asarray(value)
        dt = states["var"].dtype
        args = {}
        for key, value in zip(arg_names, inputs[n:]):
            value = np.asarray(value)
            if value.dtype != dt:
                raise ExecutionError(f"{key} is {value.dtype}, but the variable is {dt}")
            args[key] = value
        for key in state_names[1:]:
            if states[key].dtype != dt:
                raise ExecutionError(f"{key} is {states[key].dtype}, but the variable is {dt}")
        _check(name, spec, states, args)
        for flag, default in _DEFAULTS[name].items():
            args[flag] = bool(attrs.get(flag, default))
        new = update(states, args)
        for key, var in zip(state_names, variables):
            if key in new:
                var.value = np.asarray(new[key]).astype(dt, copy=False)
        if ref:
            return variables[0].value
        return ()

    return kernel


def _register() -> None:
    for name, spec in _SPECS.items():
        flags = dict(_DEFAULTS[name], use_locking=False)
        words = _WORDS[name]
        if name != "KerasMomentum":      # (TensorFlow has it for resource variables only)
            op(f"Apply{name}", outputs=("out",), defaults=flags, stateful=True,
               description=f"{words} (updates TF1 variables)")(_make(name, ref=True))
        op(f"ResourceApply{name}", outputs=(), defaults=flags, stateful=True,
           description=f"{words} (updates resource variables)")(_make(name, ref=False))


_register()
