"""Elementwise arithmetic, comparisons, logic, casts, reductions and matrix products.

TensorFlow's rules, not numpy's: results keep the input dtype (no float32 -> float64
promotion), integer arithmetic wraps, integer ``Div`` truncates toward zero while
``FloorDiv`` rounds down, and float16/bfloat16 are computed in float32 and rounded back
(what TensorFlow's CPU kernels do for half types).

This module also holds the small helpers the other kernel modules share (:func:`op`,
:func:`run_split`). Threads: big elementwise, matrix, convolution and depthwise kernels
split their work over the CPU cores themselves (TENSORLOUPE_THREADS=1 turns that off),
and numpy's BLAS runs on one thread while the engine runs (TENSORLOUPE_BLAS_THREADS=N
chooses another count, 0 leaves BLAS alone): see :func:`blas_threads` for why.
"""
from __future__ import annotations

import contextlib
import functools
import math as _pymath
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import ml_dtypes
import numpy as np

from ...errors import ExecutionError, TensorloupeError
from ..registry import kernel, np_dtype

F32 = np.dtype(np.float32)
LOW_FLOATS = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))
_LOW_TYPES = frozenset(d.type for d in LOW_FLOATS)


# ----------------------------------------------------------------------------- helpers

def op(*names: str, outputs=("output",), defaults=None, description="", stateful=False):
    """Register a kernel, running it with numpy warnings silenced and numpy's own
    exceptions turned into one-sentence ExecutionErrors."""
    def deco(fn):
        @functools.wraps(fn)
        def run(ctx, inputs, attrs):
            try:
                with np.errstate(all="ignore"):
                    out = fn(ctx, inputs, attrs)
            except TensorloupeError:
                raise
            except (ValueError, IndexError, TypeError, OverflowError, MemoryError) as exc:
                raise ExecutionError(f"{names[0]} failed: {exc}") from None
            if isinstance(out, (tuple, list)):
                return [as_array(o) for o in out]
            return as_array(out)
        kernel(*names, outputs=outputs, defaults=defaults, description=description,
               stateful=stateful)(run)
        return fn
    return deco


def as_array(x):
    """numpy scalars (what 0-d arithmetic returns) back to 0-d arrays."""
    if isinstance(x, np.ndarray) or x is None or not isinstance(x, np.generic):
        return x
    return np.asarray(x)


def widen(x: np.ndarray) -> np.ndarray:
    """float16/bfloat16 -> float32 for computing; other dtypes unchanged."""
    return x.astype(F32) if x.dtype.type in _LOW_TYPES else x


def shape_text(shape) -> str:
    return "[" + ",".join(str(int(d)) for d in shape) + "]"


def broadcast_shape(*arrays) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        raise ExecutionError("Incompatible shapes: " +
                             " vs. ".join(shape_text(a.shape) for a in arrays)) from None


def as_ints(x) -> list[int]:
    return [int(v) for v in np.asarray(x).ravel().tolist()]


def norm_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise ExecutionError(f"{what} {axis} is out of range for a tensor of rank {rank}")
    return axis % rank if rank else 0


def is_int(dtype) -> bool:
    return np.dtype(dtype).kind in "iu"


def check_alloc(ctx, shape, dtype) -> None:
    """Ask the run's memory budget before making a tensor sized by input values."""
    n = 1
    for d in shape:
        if d < 0:
            raise ExecutionError(f"dimension {d} is negative in shape {shape_text(shape)}")
        n *= int(d)
    size = np.dtype(dtype).itemsize if np.dtype(dtype) != object else 8
    guard = getattr(ctx, "check_alloc", None)
    if guard is not None:
        guard(n * size)


def check_broadcast(ctx, dtype, *arrays) -> tuple:
    """The broadcast shape of ``arrays``; when it is larger than each of them, the budget
    is asked first (broadcasting [n, 1] against [1, m] makes n*m elements from n + m)."""
    shape = broadcast_shape(*arrays)
    n = 1
    for d in shape:
        n *= d
    if all(n > a.size for a in arrays):
        check_alloc(ctx, shape, dtype)
    return shape


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
# Threads for big kernels; TENSORLOUPE_THREADS=1 turns them off.
WORKERS = max(1, min(_env_int("TENSORLOUPE_THREADS", 0) or os.cpu_count() or 1, 8))


def run_split(n: int, fn, work: int = 1 << 30) -> None:
    """Call ``fn(begin, end)`` on consecutive slices of ``range(n)``, one per CPU core.

    numpy releases the GIL inside its loops, so big kernels use every core the way
    TensorFlow's thread pool does. One slice runs on the calling thread. ``work`` (in
    elements) below _PARALLEL_MIN runs everything on the calling thread: waking threads
    costs more than small kernels. (Measured on MobileNetV2 with another process busy:
    more, smaller slices taken in turn were no steadier and up to 25% slower.)"""
    global _POOL
    k = min(WORKERS, n) if work >= _PARALLEL_MIN else 1
    if k < 2 or getattr(_SPLIT, "inside", False):
        # (a split inside a split runs where it is: the pool's threads are all busy)
        fn(0, n)
        return
    if _POOL is None:
        with _POOL_LOCK:
            if _POOL is None:
                _POOL = ThreadPoolExecutor(WORKERS - 1, thread_name_prefix="tl-kernel")
    bounds = [n * i // k for i in range(k + 1)]
    futures = [_POOL.submit(_inside, fn, bounds[i], bounds[i + 1]) for i in range(1, k)]
    _inside(fn, bounds[0], bounds[1])
    for f in futures:
        f.result()


_SPLIT = threading.local()


def _inside(fn, begin, end):
    _SPLIT.inside = True
    try:
        fn(begin, end)
    finally:
        _SPLIT.inside = False


_PARALLEL_MIN = 1 << 19          # elements; below this one thread is faster


@functools.lru_cache(maxsize=1)
def _blas_controller():
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()


def blas_threads():
    """A context in which numpy's BLAS runs on one thread (TENSORLOUPE_BLAS_THREADS=N to
    choose, 0 to leave it alone); the engine enters it for each run, so nothing changes
    for the rest of the process.

    Measured on MobileNetV2: with another busy process on the machine, OpenBLAS's own
    worker threads wait for each other and a batch took 4-7x longer than on one thread;
    the kernels here split big work across cores themselves (run_split)."""
    want = _env_int("TENSORLOUPE_BLAS_THREADS", 1)
    if want <= 0:
        return contextlib.nullcontext()
    return _blas_controller().limit(limits=want, user_api="blas")


def _channel_broadcast(ufunc, x, y):
    """ufunc(x, y) where one side is a per-channel vector (shape (C,) or (1, .., 1, C))
    and the other a contiguous tensor ending in C: the vector is tiled to a few thousand
    elements so numpy's inner loop runs long (2-3x faster for small C). None if the
    shapes are not of that kind."""
    for big, vec, swap in ((x, y, False), (y, x, True)):
        c = vec.shape[-1] if vec.ndim else 0
        if (c > 1 and big.ndim >= 2 and big.shape[-1] == c and vec.size == c and
                vec.ndim <= big.ndim and big.flags.c_contiguous and big.size >= 1 << 16):
            rows = big.size // c
            k = 1
            for d in (512, 256, 128, 64, 32, 16, 8, 4, 2):
                if rows % d == 0 and d * c <= 8192:
                    k = d
                    break
            if k == 1:
                return None
            tiled = np.tile(vec.reshape(-1), k)
            flat = big.reshape(-1, c * k)
            r = ufunc(tiled, flat) if swap else ufunc(flat, tiled)
            return r.reshape(big.shape)
    return None


def parallel_ufunc(ufunc, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ufunc(x, y) with broadcasting, split along the output's first axis across cores."""
    if x.shape != y.shape:
        r = _channel_broadcast(ufunc, x, y)
        if r is not None:
            return r
    shape = np.broadcast_shapes(x.shape, y.shape)
    size = 1
    for d in shape:
        size *= d
    if size < _PARALLEL_MIN or WORKERS < 2 or shape[0] < 2:
        return ufunc(x, y)
    out = np.empty(shape, dtype=np.result_type(x, y))
    rank = len(shape)

    def part(a, b, e):
        return a[b:e] if a.ndim == rank and a.shape[0] == shape[0] else a

    run_split(shape[0], lambda b, e: ufunc(part(x, b, e), part(y, b, e), out=out[b:e]))
    return out


# ------------------------------------------------------------------- unary elementwise

def _unary(name, fn, description, int_ok=True):
    def k(ctx, inputs, attrs):
        x = inputs[0]
        if not int_ok and (is_int(x.dtype) or x.dtype == np.bool_):
            raise ExecutionError(f"{name} does not accept {x.dtype} tensors")
        return np.asarray(fn(widen(x))).astype(x.dtype, copy=False)
    op(name, outputs=("y",), description=description)(k)


_ERFC_FIT = (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806,
             0.09678418, 0.37409196, 1.00002368, -1.26551223)


def _erfc_tail(z: np.ndarray) -> np.ndarray:
    """erfc(z) for z >= 0 to about 1e-7 relative: the rational Chebyshev fit
    t * exp(-z^2 + P(t)), t = 1 / (1 + z/2) (the form in Numerical Recipes)."""
    t = 1 / (1 + np.float32(0.5) * z)
    poly = np.full_like(z, _ERFC_FIT[0])
    for c in _ERFC_FIT[1:]:
        poly *= t
        poly += np.float32(c)
    poly -= z * z
    np.exp(poly, out=poly)
    return np.multiply(t, poly, out=poly)


def _erf_series(z: np.ndarray) -> np.ndarray:
    """erf by its Taylor series: accurate for |z| < 0.5."""
    z2 = z * z
    term = z.copy()
    acc = z.copy()
    for n in range(1, 8):
        term *= -z2 / n
        acc += term / (2 * n + 1)
    return acc * np.float32(2 / np.sqrt(np.pi))


def _erf_fast(x: np.ndarray) -> np.ndarray:
    """erf in float32 to about 1e-7: the series near zero, 1 - erfc elsewhere."""
    x = x.astype(F32, copy=False)
    z = np.abs(x)
    out = 1 - _erfc_tail(z)
    small = z < 0.5
    if small.any():
        out[small] = _erf_series(z[small])
    return np.copysign(out, x)


def erf(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.float64:
        return np.frompyfunc(_pymath.erf, 1, 1)(x).astype(np.float64)
    return _erf_fast(x)


def erfc(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.float64:
        return np.frompyfunc(_pymath.erfc, 1, 1)(x).astype(np.float64)
    # 1 - erf loses relative accuracy in the tail; use the erfc fit directly there.
    x = x.astype(F32, copy=False)
    z = np.abs(x)
    tail = _erfc_tail(z)
    out = np.where(x >= 0, tail, 2 - tail)
    small = z < 0.5
    if small.any():
        out[small] = 1 - np.copysign(_erf_series(z[small]), x[small])
    return out


def _lgamma(x):
    return np.frompyfunc(lambda v: _pymath.lgamma(v) if np.isfinite(v) and not (
        v <= 0 and v == np.floor(v)) else np.inf, 1, 1)(x.astype(np.float64)).astype(np.float64)


_unary("Neg", np.negative, "flips the sign of every element")
_unary("Abs", np.abs, "absolute value of every element")
_unary("Square", np.square, "multiplies every element by itself")
_unary("Sign", np.sign, "-1, 0 or 1 by the sign of every element")
_unary("Sqrt", np.sqrt, "square root of every element", int_ok=False)
_unary("Rsqrt", lambda x: 1.0 / np.sqrt(x), "one over the square root of every element",
       int_ok=False)
_unary("Exp", np.exp, "e raised to every element", int_ok=False)
_unary("Expm1", np.expm1, "e^x - 1, accurate for small x", int_ok=False)
_unary("Log", np.log, "natural logarithm of every element", int_ok=False)
_unary("Log1p", np.log1p, "log(1 + x), accurate for small x", int_ok=False)
_unary("Floor", np.floor, "rounds every element down to a whole number", int_ok=False)
_unary("Ceil", np.ceil, "rounds every element up to a whole number", int_ok=False)
_unary("Rint", np.rint, "rounds to the nearest whole number, ties to even", int_ok=False)
_unary("Round", lambda x: x if is_int(x.dtype) else np.round(x),
       "rounds to the nearest whole number, ties to even (banker's rounding)")
_unary("Reciprocal", lambda x: _trunc_div(np.ones_like(x), x),
       "one divided by every element")
_unary("Inv", lambda x: _trunc_div(np.ones_like(x), x),
       "one divided by every element (old name of Reciprocal)")
_unary("Sin", np.sin, "sine of every element", int_ok=False)
_unary("Cos", np.cos, "cosine of every element", int_ok=False)
_unary("Tan", np.tan, "tangent of every element", int_ok=False)
_unary("Asin", np.arcsin, "inverse sine of every element", int_ok=False)
_unary("Acos", np.arccos, "inverse cosine of every element", int_ok=False)
_unary("Atan", np.arctan, "inverse tangent of every element", int_ok=False)
_unary("Sinh", np.sinh, "hyperbolic sine of every element", int_ok=False)
_unary("Cosh", np.cosh, "hyperbolic cosine of every element", int_ok=False)
_unary("Asinh", np.arcsinh, "inverse hyperbolic sine of every element", int_ok=False)
_unary("Acosh", np.arccosh, "inverse hyperbolic cosine of every element", int_ok=False)
_unary("Atanh", np.arctanh, "inverse hyperbolic tangent of every element", int_ok=False)
_unary("Erf", erf, "the Gauss error function, used by the exact GELU activation",
       int_ok=False)
_unary("Erfc", erfc, "1 - erf(x), the complementary error function", int_ok=False)
_unary("Lgamma", _lgamma, "log of the absolute value of the gamma function", int_ok=False)
_unary("Invert", np.invert, "flips every bit of an integer")
_unary("Tanh", np.tanh, "squashes every value into (-1, 1) with the hyperbolic tangent",
       int_ok=False)


def _sigmoid(x):
    # 1 / (1 + e^-x); e^-x overflowing to inf correctly gives 0.
    r = np.negative(x, dtype=x.dtype)
    np.exp(r, out=r)
    r += 1
    return np.reciprocal(r, out=r)


_unary("Sigmoid", _sigmoid, "squashes every value into (0, 1) with 1 / (1 + e^-x)",
       int_ok=False)


@op("IsNan", outputs=("y",), description="true where an element is not a number (NaN)")
def _isnan(ctx, inputs, attrs):
    return np.isnan(widen(inputs[0]))


@op("IsInf", outputs=("y",), description="true where an element is plus or minus infinity")
def _isinf(ctx, inputs, attrs):
    return np.isinf(widen(inputs[0]))


@op("IsFinite", outputs=("y",), description="true where an element is neither NaN nor infinite")
def _isfinite(ctx, inputs, attrs):
    return np.isfinite(widen(inputs[0]))


@op("LogicalNot", outputs=("y",), description="true where the input is false")
def _lnot(ctx, inputs, attrs):
    return np.logical_not(inputs[0])


# ------------------------------------------------------------------ binary elementwise

def _check_int_zero(x, y):
    if is_int(y.dtype) and not np.all(y):
        raise ExecutionError("Integer division by zero")


def _trunc_div(x, y):
    if is_int(x.dtype):
        _check_int_zero(x, y)
        if x.dtype.kind == "u":
            return x // y
        q = x // y
        fix = (x % y != 0) & ((x < 0) != (y < 0))
        return q + fix.astype(q.dtype)
    return x / y


def _floor_div(x, y):
    if is_int(x.dtype):
        _check_int_zero(x, y)
        return np.floor_divide(x, y)
    return np.floor(x / y)


def _floor_mod(x, y):
    if is_int(x.dtype):
        _check_int_zero(x, y)
    return np.mod(x, y)


def _trunc_mod(x, y):
    if is_int(x.dtype):
        _check_int_zero(x, y)
    return np.fmod(x, y)


def _pow(x, y):
    if is_int(x.dtype):
        if np.any(y < 0):
            raise ExecutionError("Integers to negative integer powers are not allowed")
    return np.power(x, y)


def _shift(left):
    def fn(x, y):
        bits = x.dtype.itemsize * 8
        y = np.clip(y, 0, bits - 1).astype(x.dtype)
        return np.left_shift(x, y) if left else np.right_shift(x, y)
    return fn


def _xlogy(x, y):
    return np.where(x == 0, np.zeros_like(x), x * np.log(y))


def _xlog1py(x, y):
    return np.where(x == 0, np.zeros_like(x), x * np.log1p(y))


def _xdivy(x, y):
    return np.where(x == 0, np.zeros_like(x), x / y)


def _binary(names, fn, description, out_bool=False, output="z", defaults=None):
    threaded = fn in (np.add, np.subtract, np.multiply, np.maximum, np.minimum)

    def k(ctx, args, attrs):
        x, y = args[0], args[1]
        if (threaded and x.size < _SMALL and y.size < _SMALL and x.dtype == y.dtype and
                x.dtype.kind == "f" and x.dtype.type not in _LOW_TYPES):
            # Small operands (a batch norm's per-channel vectors): one numpy call; the
            # checks below cost more than the arithmetic.
            try:
                return fn(x, y)
            except ValueError:
                broadcast_shape(x, y)
                raise
        if x.shape != y.shape:
            check_broadcast(ctx, np.bool_ if out_bool else x.dtype, x, y)
        if x.dtype != y.dtype and not out_bool:
            y = y.astype(x.dtype)
        if threaded and x.dtype.kind == "f" and x.dtype.type not in _LOW_TYPES:
            return parallel_ufunc(fn, x, y)
        r = fn(widen(x), widen(y))
        return np.asarray(r).astype(np.bool_ if out_bool else x.dtype, copy=False)
    op(*names, outputs=(output,), defaults=defaults, description=description)(k)


_SMALL = 4096     # elements


_binary(("Add", "AddV2"), np.add, "adds two tensors element by element (with broadcasting)")
_binary(("Sub",), np.subtract, "subtracts the second tensor from the first, element by element")
_binary(("Mul",), np.multiply, "multiplies two tensors element by element")
_binary(("RealDiv",), _trunc_div, "divides element by element")
_binary(("Div",), _trunc_div, "divides element by element; integers round toward zero")
_binary(("TruncateDiv",), _trunc_div, "divides integers, rounding toward zero")
_binary(("FloorDiv",), _floor_div, "divides and rounds the result down (like Python's //)")
_binary(("FloorMod",), _floor_mod,
        "remainder with the sign of the divisor (like Python's %)")
_binary(("TruncateMod",), _trunc_mod, "remainder with the sign of the dividend (like C's %)")
_binary(("Mod",), _trunc_mod, "remainder with the sign of the dividend (old name of TruncateMod)")
_binary(("Pow",), _pow, "raises the first tensor to the power of the second")
_binary(("Maximum",), np.maximum, "the larger of two tensors, element by element")
_binary(("Minimum",), np.minimum, "the smaller of two tensors, element by element")
_binary(("SquaredDifference",), lambda x, y: np.square(x - y),
        "(x - y) squared, element by element")
_binary(("DivNoNan",), lambda x, y: np.where(y == 0, np.zeros_like(x), x / np.where(
    y == 0, np.ones_like(y), y)), "divides, giving 0 wherever the divisor is 0")
_binary(("MulNoNan",), lambda x, y: np.where(y == 0, np.zeros_like(x), x * y),
        "multiplies, giving 0 wherever the second factor is 0 (even if the first is NaN)")
_binary(("Atan2",), np.arctan2, "angle of the point (x, y): arctangent of y / x by quadrant")
_binary(("Xlogy",), _xlogy, "x * log(y), and 0 where x is 0")
_binary(("Xlog1py",), _xlog1py, "x * log(1 + y), and 0 where x is 0")
_binary(("Xdivy",), _xdivy, "x / y, and 0 where x is 0")
_binary(("BitwiseAnd",), np.bitwise_and, "bitwise AND of two integer tensors")
_binary(("BitwiseOr",), np.bitwise_or, "bitwise OR of two integer tensors")
_binary(("BitwiseXor",), np.bitwise_xor, "bitwise XOR of two integer tensors")
_binary(("LeftShift",), _shift(True), "shifts the bits of each integer left")
_binary(("RightShift",), _shift(False), "shifts the bits of each integer right")
_binary(("Less",), np.less, "true where x < y", out_bool=True)
_binary(("LessEqual",), np.less_equal, "true where x <= y", out_bool=True)
_binary(("Greater",), np.greater, "true where x > y", out_bool=True)
_binary(("GreaterEqual",), np.greater_equal, "true where x >= y", out_bool=True)
_binary(("LogicalAnd",), np.logical_and, "true where both inputs are true", out_bool=True)
_binary(("LogicalOr",), np.logical_or, "true where either input is true", out_bool=True)


def _equality(name, fn, description):
    def k(ctx, args, attrs):
        x, y = args
        try:
            out_shape = np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            if attrs.get("incompatible_shape_error", True):
                raise ExecutionError(f"Incompatible shapes: {shape_text(x.shape)} vs. "
                                     f"{shape_text(y.shape)}") from None
            return np.asarray(name == "NotEqual")
        if out_shape != x.shape and out_shape != y.shape:
            check_alloc(ctx, out_shape, np.bool_)
        if x.dtype == object or y.dtype == object:
            r = np.frompyfunc(lambda a, b: a == b, 2, 1)(x, y).astype(np.bool_)
            return ~r if name == "NotEqual" else r
        return np.asarray(fn(widen(x), widen(y)), dtype=np.bool_)
    op(name, outputs=("z",), defaults={"incompatible_shape_error": True},
       description=description)(k)


_equality("Equal", np.equal, "true where the two tensors hold equal values")
_equality("NotEqual", np.not_equal, "true where the two tensors hold different values")


@op("ApproximateEqual", outputs=("z",), defaults={"tolerance": 1e-5},
    description="true where |x - y| is below a tolerance")
def _approx_equal(ctx, inputs, attrs):
    x, y = inputs
    broadcast_shape(x, y)
    return np.abs(widen(x) - widen(y)) < attrs["tolerance"]


@op("AddN", outputs=("sum",), description="adds any number of same-shaped tensors together")
def _add_n(ctx, inputs, attrs):
    if not inputs:
        raise ExecutionError("AddN needs at least one input")
    dt = inputs[0].dtype
    total = widen(inputs[0]).copy()
    for x in inputs[1:]:
        if x.shape != total.shape:
            raise ExecutionError(f"AddN inputs must have the same shape: "
                                 f"{shape_text(inputs[0].shape)} vs. {shape_text(x.shape)}")
        total = total + widen(x)
    return total.astype(dt, copy=False)


@op("BiasAdd", "BiasAddV1", outputs=("output",), defaults={"data_format": b"NHWC"},
    description="adds a bias vector to the channel dimension of every position")
def _bias_add(ctx, inputs, attrs):
    x, b = inputs
    if b.ndim != 1:
        raise ExecutionError(f"Biases must be 1D: {shape_text(b.shape)}")
    nchw = attrs.get("data_format", b"NHWC") == b"NCHW" and x.ndim >= 3
    axis = 1 if nchw else x.ndim - 1
    if x.ndim < 2 and not nchw and x.ndim < 1:
        raise ExecutionError("Input tensor must be at least 2D")
    if x.shape[axis] != b.shape[0]:
        where = "channel" if nchw else "last"
        raise ExecutionError(f"Must provide as many biases as the {where} dimension of the "
                             f"input tensor: {shape_text(b.shape)} vs. {shape_text(x.shape)}")
    if not nchw and x.dtype.type not in _LOW_TYPES:
        return parallel_ufunc(np.add, x, b.astype(x.dtype, copy=False))
    shape = [1] * x.ndim
    shape[axis] = b.shape[0]
    return (widen(x) + widen(b).reshape(shape)).astype(x.dtype, copy=False)


@op("Cast", outputs=("y",), defaults={"Truncate": False},
    description="converts a tensor to another data type")
def _cast(ctx, inputs, attrs):
    x = inputs[0]
    dst = np_dtype(attrs["DstT"])
    if x.dtype == dst:
        return x
    if dst.itemsize > x.dtype.itemsize:
        check_alloc(ctx, x.shape, dst)
    if dst == np.bool_:
        return widen(x) != 0
    if x.dtype == object or dst == object:
        raise ExecutionError(f"Cast between {x.dtype} and {dst} is not supported")
    src = x
    if x.dtype in LOW_FLOATS and dst not in LOW_FLOATS:
        src = x.astype(F32)
    if dst.kind in "iu" and src.dtype.kind == "f":
        # Float -> int the way TensorFlow's x86 kernel does it: truncate through int32
        # (int64 for uint32 and 64-bit targets); NaN and out-of-range values become that
        # type's minimum; then keep the low bits of the target type.
        wide = 64 if dst.itemsize >= 8 or dst == np.uint32 else 32
        lo = -(2.0 ** (wide - 1))
        t = np.trunc(src.astype(np.float64))
        bad = ~((t >= lo) & (t < -lo))
        v = np.where(bad, 0, t).astype(np.int64)
        v[bad] = np.iinfo(np.int64).min if wide == 64 else np.iinfo(np.int32).min
        return v.astype(dst)
    if dst in LOW_FLOATS and src.dtype.kind in "iub":
        return src.astype(F32).astype(dst)
    if attrs.get("Truncate") and dst in LOW_FLOATS and src.dtype.kind == "f":
        bits = src.astype(F32).view(np.uint32)
        if dst == np.dtype(ml_dtypes.bfloat16):
            return (bits & np.uint32(0xFFFF0000)).view(F32).astype(dst)
    return src.astype(dst)


@op("ClipByValue", outputs=("output",),
    description="limits every value to lie between a minimum and a maximum")
def _clip(ctx, inputs, attrs):
    t, lo, hi = inputs
    for bound in (lo, hi):
        if bound.ndim and bound.shape != t.shape:
            raise ExecutionError(f"clip bounds must be scalars or match the input shape: "
                                 f"{shape_text(bound.shape)} vs. {shape_text(t.shape)}")
    w, lo, hi = widen(t), widen(lo), widen(hi)
    # TensorFlow applies the upper bound first, so lo wins where lo > hi.
    return np.maximum(np.minimum(w, hi), lo).astype(t.dtype, copy=False)


def _select(ctx, inputs, attrs):
    cond, x, y = inputs
    if x.shape != y.shape:
        raise ExecutionError(f"'then' and 'else' must have the same size. but received: "
                             f"{shape_text(x.shape)} vs. {shape_text(y.shape)}")
    if cond.shape != x.shape:
        if cond.ndim == 1 and x.ndim >= 1 and cond.shape[0] == x.shape[0]:
            cond = cond.reshape((-1,) + (1,) * (x.ndim - 1))
        elif cond.ndim != 0:
            raise ExecutionError(f"condition must be a scalar, a vector matching the first "
                                 f"dimension, or the shape of 'then': {shape_text(cond.shape)} "
                                 f"vs. {shape_text(x.shape)}")
    return np.where(cond, x, y)


op("Select", outputs=("output",),
   description="picks from the second input where the condition is true, else the third")(_select)


@op("SelectV2", outputs=("output",),
    description="picks from the second input where the condition is true, else the third "
                "(with broadcasting)")
def _select_v2(ctx, inputs, attrs):
    cond, x, y = inputs
    check_broadcast(ctx, x.dtype, cond, x, y)
    return np.where(cond, x, y)


# ------------------------------------------------------------------------- reductions

def reduction_axes(x, axis_arg) -> tuple[int, ...]:
    axes = as_ints(axis_arg)
    out = set()
    for a in axes:
        if not -x.ndim <= a < max(x.ndim, 1):
            raise ExecutionError(f"Invalid reduction dimension ({a} for input with "
                                 f"{x.ndim} dimension(s)")
        out.add(a % x.ndim if x.ndim else 0)
    return tuple(sorted(out)) if x.ndim else ()


def _reduce(names, fn, description):
    def k(ctx, inputs, attrs):
        x, axis = inputs
        axes = reduction_axes(x, axis)
        keep = bool(attrs.get("keep_dims", False))
        r = np.asarray(fn(widen(x), axes, keep, x.dtype))
        return r.astype(x.dtype, copy=False)
    op(*names, outputs=("output",), defaults={"keep_dims": False, "Tidx": 3},
       description=description)(k)


def _sum(x, axes, keep, dt):
    return np.sum(x, axis=axes, keepdims=keep, dtype=x.dtype)


def _prod(x, axes, keep, dt):
    return np.prod(x, axis=axes, keepdims=keep, dtype=x.dtype)


def _mean(x, axes, keep, dt):
    count = 1
    for a in axes:
        count *= x.shape[a]
    if is_int(x.dtype):
        s = np.sum(x, axis=axes, keepdims=keep, dtype=x.dtype)
        if count == 0:
            raise ExecutionError("Mean of an empty integer tensor divides by zero")
        return _trunc_div(s, np.asarray(count, dtype=x.dtype))
    return np.mean(x, axis=axes, keepdims=keep, dtype=np.float64 if x.dtype == np.float64
                   else np.float32)


def _extreme(maximum):
    def fn(x, axes, keep, dt):
        if x.dtype == np.bool_:
            return (np.any if maximum else np.all)(x, axis=axes, keepdims=keep)
        if x.dtype.kind == "f":
            init = -np.inf if maximum else np.inf
        else:
            info = np.iinfo(x.dtype)
            init = info.min if maximum else info.max
        f = np.max if maximum else np.min
        return f(x, axis=axes, keepdims=keep, initial=init)
    return fn


def _euclid(x, axes, keep, dt):
    if is_int(x.dtype):
        s = np.sum(x.astype(np.int64) ** 2, axis=axes, keepdims=keep)
        return np.sqrt(s).astype(x.dtype)
    return np.sqrt(np.sum(np.square(x), axis=axes, keepdims=keep))


_reduce(("Sum",), _sum, "adds up the elements along the given axes")
_reduce(("Prod",), _prod, "multiplies the elements along the given axes")
_reduce(("Mean",), _mean, "averages the elements along the given axes")
_reduce(("Max",), _extreme(True), "the largest element along the given axes")
_reduce(("Min",), _extreme(False), "the smallest element along the given axes")
_reduce(("EuclideanNorm",), _euclid, "square root of the sum of squares along the given axes")
_reduce(("All",), lambda x, a, k, d: np.all(x, axis=a, keepdims=k),
        "true if every element along the given axes is true")
_reduce(("Any",), lambda x, a, k, d: np.any(x, axis=a, keepdims=k),
        "true if any element along the given axes is true")


def _arg(name, fn, description):
    def k(ctx, inputs, attrs):
        x, dim = inputs
        axis = norm_axis(int(np.asarray(dim).reshape(-1)[0]), x.ndim, "dimension")
        if x.shape[axis] == 0:
            raise ExecutionError(f"Reduction axis {axis} is empty in shape "
                                 f"{shape_text(x.shape)}")
        return fn(widen(x), axis=axis).astype(np_dtype(attrs.get("output_type", 9)))
    op(name, outputs=("output",), defaults={"output_type": 9, "Tidx": 3},
       description=description)(k)


_arg("ArgMax", np.argmax, "position of the largest value along an axis")
_arg("ArgMin", np.argmin, "position of the smallest value along an axis")


def _cumulative(name, fn, description):
    def k(ctx, inputs, attrs):
        x, axis = inputs
        axis = norm_axis(int(axis), x.ndim)
        w = widen(x)
        if attrs.get("reverse"):
            w = np.flip(w, axis)
        r = fn(w, axis=axis, dtype=w.dtype)
        if attrs.get("exclusive"):
            ident = 0 if fn is np.cumsum else 1
            pad = np.full_like(np.take(r, [0], axis=axis), ident) if r.shape[axis] else r
            r = np.concatenate([pad, np.take(r, np.arange(r.shape[axis] - 1), axis=axis)],
                               axis=axis) if r.shape[axis] else r
        if attrs.get("reverse"):
            r = np.flip(r, axis)
        return np.ascontiguousarray(r).astype(x.dtype, copy=False)
    op(name, outputs=("out",), defaults={"exclusive": False, "reverse": False, "Tidx": 3},
       description=description)(k)


_cumulative("Cumsum", np.cumsum, "running total along an axis")


@op("CumulativeLogsumexp", outputs=("out",),
    defaults={"exclusive": False, "reverse": False, "Tidx": 3},
    description="running log(sum(exp(x))) along an axis, computed stably")
def _cumulative_logsumexp(ctx, inputs, attrs):
    x, axis = inputs
    axis = norm_axis(int(axis), x.ndim)
    w = widen(x)
    if attrs.get("reverse"):
        w = np.flip(w, axis)
    r = np.logaddexp.accumulate(w, axis=axis)
    if attrs.get("exclusive") and r.shape[axis]:
        pad = np.full_like(np.take(r, [0], axis=axis), -np.inf)
        r = np.concatenate([pad, np.take(r, np.arange(r.shape[axis] - 1), axis=axis)], axis)
    if attrs.get("reverse"):
        r = np.flip(r, axis)
    return np.ascontiguousarray(r).astype(x.dtype, copy=False)
_cumulative("Cumprod", np.cumprod, "running product along an axis")


# ------------------------------------------------------------------- matrix products

def matmul(a: np.ndarray, b: np.ndarray, out_dtype=None) -> np.ndarray:
    dt = out_dtype or a.dtype
    if a.dtype in LOW_FLOATS or b.dtype in LOW_FLOATS:
        return np.matmul(a.astype(F32), b.astype(F32)).astype(dt)
    if a.dtype == np.bool_:
        raise ExecutionError("MatMul does not accept bool tensors")
    if a.ndim == 2 and b.ndim == 2 and a.dtype.kind == "f" and a.dtype == b.dtype:
        out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
        return matmul_into(a, b, out).astype(dt, copy=False)
    return np.matmul(a, b).astype(dt, copy=False)


def matmul_into(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = a @ b for 2-D a, b; big products run as row blocks on every core (BLAS
    itself runs on one thread, see blas_threads)."""
    m, k = a.shape
    if m * k * b.shape[1] >= 1 << 24 and m >= 2 * WORKERS:
        run_split(m, lambda s, e: np.matmul(a[s:e], b, out=out[s:e]))
    else:
        np.matmul(a, b, out=out)
    return out


@op("MatMul", outputs=("product",),
    defaults={"transpose_a": False, "transpose_b": False, "grad_a": False, "grad_b": False},
    description="matrix product of two 2-D tensors (a dense layer's main step)")
def _matmul(ctx, inputs, attrs):
    a, b = inputs
    if a.ndim != 2 or b.ndim != 2:
        raise ExecutionError(f"In[0] and In[1] must be matrices: {shape_text(a.shape)} and "
                             f"{shape_text(b.shape)}")
    if attrs.get("transpose_a"):
        a = a.T
    if attrs.get("transpose_b"):
        b = b.T
    if a.shape[1] != b.shape[0]:
        raise ExecutionError(f"Matrix size-incompatible: In[0]: {shape_text(a.shape)}, "
                             f"In[1]: {shape_text(b.shape)}")
    check_alloc(ctx, (a.shape[0], b.shape[1]), a.dtype)
    return matmul(a, b)


def _adjoint(x):
    x = np.swapaxes(x, -1, -2)
    return np.conj(x) if x.dtype.kind == "c" else x


@op("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", outputs=("output",),
    defaults={"adj_x": False, "adj_y": False, "grad_x": False, "grad_y": False},
    description="matrix product of the last two axes, for every matrix in a batch")
def _batch_matmul(ctx, inputs, attrs):
    x, y = inputs
    if x.ndim < 2 or y.ndim < 2:
        raise ExecutionError(f"BatchMatMul needs tensors of rank >= 2: {shape_text(x.shape)} "
                             f"and {shape_text(y.shape)}")
    if attrs.get("adj_x"):
        x = _adjoint(x)
    if attrs.get("adj_y"):
        y = _adjoint(y)
    if x.shape[-1] != y.shape[-2]:
        raise ExecutionError(f"Matrix size-incompatible: In[0]: {shape_text(x.shape)}, "
                             f"In[1]: {shape_text(y.shape)}")
    try:
        batch = np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    except ValueError:
        raise ExecutionError(f"In[0] and In[1] must have compatible batch dimensions: "
                             f"{shape_text(x.shape)} vs. {shape_text(y.shape)}") from None
    check_alloc(ctx, batch + (x.shape[-2], y.shape[-1]), x.dtype)
    tout = attrs.get("Tout")
    return matmul(x, y, np_dtype(tout) if tout is not None else None)


@op("Einsum", outputs=("output",),
    description="sums products of tensors over the axes named by an equation like 'bij,bjk->bik'")
def _einsum(ctx, inputs, attrs):
    eq = attrs["equation"]
    eq = (eq.decode() if isinstance(eq, bytes) else eq).replace(" ", "")
    dt = inputs[0].dtype
    args = [widen(x) for x in inputs]
    try:
        r = np.einsum(eq, *args, optimize=len(args) > 1)
    except ValueError as exc:
        raise ExecutionError(f"Einsum equation {eq!r} does not fit the input shapes "
                             f"{', '.join(shape_text(x.shape) for x in inputs)}: {exc}") from None
    return np.asarray(r).astype(dt, copy=False)


# ------------------------------------------------------------------- linear algebra


def _square_matrices(x, name):
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ExecutionError(f"{name} needs square matrices, got shape {shape_text(x.shape)}")


def _linalg(fn, x):
    try:
        return fn(widen(x))
    except np.linalg.LinAlgError as exc:
        raise ExecutionError("Input is not invertible." if "ingular" in str(exc) else
                             f"the matrix could not be factored: {exc}") from None


@op("MatrixInverse", outputs=("output",), defaults={"adjoint": False},
    description="the inverse of each square matrix")
def _matrix_inverse(ctx, inputs, attrs):
    x = inputs[0]
    _square_matrices(x, "MatrixInverse")
    if attrs.get("adjoint"):
        x = _adjoint(x)
    return _linalg(np.linalg.inv, x).astype(inputs[0].dtype, copy=False)


@op("MatrixDeterminant", outputs=("output",),
    description="the determinant of each square matrix")
def _matrix_determinant(ctx, inputs, attrs):
    x = inputs[0]
    _square_matrices(x, "MatrixDeterminant")
    return np.asarray(np.linalg.det(widen(x))).astype(x.dtype)


@op("LogMatrixDeterminant", outputs=("sign", "log_abs_determinant"),
    description="the sign and log of the absolute determinant of each square matrix")
def _log_matrix_determinant(ctx, inputs, attrs):
    x = inputs[0]
    _square_matrices(x, "LogMatrixDeterminant")
    sign, logdet = np.linalg.slogdet(widen(x))
    return np.asarray(sign).astype(x.dtype), np.asarray(logdet).astype(x.dtype)


@op("Cholesky", outputs=("output",),
    description="the lower-triangular factor L with L times L-transposed equal to the input")
def _cholesky(ctx, inputs, attrs):
    x = inputs[0]
    _square_matrices(x, "Cholesky")
    lower = np.tril(widen(x))
    sym = lower + np.swapaxes(np.tril(lower, -1), -1, -2)   # TF reads the lower triangle
    return _linalg(np.linalg.cholesky, sym).astype(x.dtype, copy=False)


@op("MatrixSolve", outputs=("output",), defaults={"adjoint": False},
    description="solves A X = B for X")
def _matrix_solve(ctx, inputs, attrs):
    a, b = inputs
    _square_matrices(a, "MatrixSolve")
    if attrs.get("adjoint"):
        a = _adjoint(a)
    return _linalg(lambda m: np.linalg.solve(m, widen(b)), a).astype(b.dtype, copy=False)


@op("MatrixTriangularSolve", outputs=("output",), defaults={"lower": True, "adjoint": False},
    description="solves A X = B for X when A is triangular")
def _matrix_triangular_solve(ctx, inputs, attrs):
    a, b = inputs
    _square_matrices(a, "MatrixTriangularSolve")
    tri = np.tril(a) if attrs.get("lower", True) else np.triu(a)
    if attrs.get("adjoint"):
        tri = _adjoint(tri)
    return _linalg(lambda m: np.linalg.solve(m, widen(b)), tri).astype(b.dtype, copy=False)


@op("Diag", outputs=("output",), description="a tensor with the input on its diagonal")
def _diag(ctx, inputs, attrs):
    d = inputs[0]
    check_alloc(ctx, d.shape * 2, d.dtype)
    out = np.zeros((d.size, d.size), dtype=d.dtype)
    out[np.arange(d.size), np.arange(d.size)] = d.reshape(-1)
    return out.reshape(d.shape * 2)


@op("DiagPart", outputs=("diagonal",), description="the diagonal of a tensor made by Diag")
def _diag_part(ctx, inputs, attrs):
    x = inputs[0]
    half = x.ndim // 2
    if x.ndim % 2 or x.shape[:half] != x.shape[half:]:
        raise ExecutionError(f"DiagPart needs a shape like [a, b, a, b], got "
                             f"{shape_text(x.shape)}")
    n = int(np.prod(x.shape[:half]))
    return x.reshape(n, n)[np.arange(n), np.arange(n)].reshape(x.shape[:half])


# ------------------------------------------------------------- complex numbers, FFT

_REAL_OF = {np.dtype(np.complex64): np.dtype(np.float32),
            np.dtype(np.complex128): np.dtype(np.float64)}


def _real_part(name, fn, description):
    def k(ctx, inputs, attrs):
        x = inputs[0]
        return np.asarray(fn(x)).astype(np_dtype(attrs.get("Tout", 1)) if x.dtype.kind == "c"
                                         else x.dtype)
    op(name, outputs=("output" if name != "ComplexAbs" else "y",), defaults={"Tout": 1, "T": 8},
       description=description)(k)


_real_part("Real", np.real, "the real part of complex numbers")
_real_part("Imag", np.imag, "the imaginary part of complex numbers")
_real_part("ComplexAbs", np.abs, "the magnitude of complex numbers")
_real_part("Angle", np.angle, "the phase angle of complex numbers")


@op("Complex", outputs=("out",), defaults={"Tout": 8, "T": 1},
    description="makes complex numbers from real and imaginary parts")
def _complex(ctx, inputs, attrs):
    re_, im = inputs
    check_broadcast(ctx, np_dtype(attrs.get("Tout", 8)), re_, im)
    return (re_ + 1j * im).astype(np_dtype(attrs.get("Tout", 8)))


@op("Conj", outputs=("output",), defaults={"T": 8}, description="the complex conjugate")
def _conj(ctx, inputs, attrs):
    return np.conj(inputs[0])


def _fft(name, fn, ndim, description, real_in=False, real_out=False):
    def k(ctx, inputs, attrs):
        x = inputs[0]
        axes = tuple(range(-ndim, 0))
        if real_in or real_out:
            lengths = as_ints(inputs[1])
            r = fn(x, s=lengths, axes=axes)
        else:
            r = fn(x, axes=axes)
        if real_out:
            return r.astype(np_dtype(attrs.get("Treal", 1)))
        if real_in:
            return r.astype(np_dtype(attrs.get("Tcomplex", 8)))
        return r.astype(x.dtype)
    defaults = {"Treal": 1, "Tcomplex": 8} if (real_in or real_out) else {"Tcomplex": 8}
    op(name, outputs=("output",), defaults=defaults, description=description)(k)


for _n, _nd in (("", 1), ("2D", 2), ("3D", 3)):
    _fft("FFT" + _n, np.fft.fftn, _nd, f"the {_nd}-D discrete Fourier transform of the "
         f"innermost axes")
    _fft("IFFT" + _n, np.fft.ifftn, _nd, f"the inverse {_nd}-D discrete Fourier transform")
    _fft("RFFT" + _n, np.fft.rfftn, _nd, f"the {_nd}-D Fourier transform of a real signal",
         real_in=True)
    _fft("IRFFT" + _n, np.fft.irfftn, _nd, f"the inverse of RFFT{_n}: back to a real signal",
         real_out=True)
