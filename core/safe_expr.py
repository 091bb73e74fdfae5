"""Read ``--input_exprs`` values safely: Python literals and a few numpy constructors.

The text is parsed with :mod:`ast` and the tree is walked by hand; nothing is ever
evaluated by Python. Accepted:

- literals: numbers, strings, bytes, True/False/None, lists, tuples, dicts, sets, and
  ``+``/``-``/``*``/``/`` between plain numbers (so ``-1``, ``1e-3``, ``2*3``, ``1+2j``);
- ``np.ones``, ``np.zeros``, ``np.full``, ``np.empty``, ``np.arange``, ``np.linspace``,
  ``np.eye``, ``np.identity``, ``np.array``, ``np.asarray``, ``np.random.rand``,
  ``np.random.randn``, ``np.random.randint``, ``np.random.uniform``, ``np.random.normal``
  (``numpy.`` works too) with literal arguments, and dtypes as ``np.float32`` or strings.

Sizes are checked before anything is allocated, from the element count and the dtype's
item size: at most 2**27 elements and 1 GiB per expression; several expressions (the inputs
of one run) can share a total with an :class:`Allowance`.
"""
from __future__ import annotations

import ast
import math

import numpy as np

from .errors import InputError

MAX_ELEMENTS = 1 << 27
MAX_BYTES = 1 << 30       # one expression's arrays, together (2**27 float64 elements)

_DTYPES = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
           "uint16", "uint32", "uint64", "bool_", "complex64", "complex128", "half", "single",
           "double", "bool", "object_", "bytes_", "str_"}


class Allowance:
    """Bytes that the arrays of several expressions may take together (the inputs of one
    run): pass the same one to each :func:`parse`."""

    def __init__(self, total: int, what: str = "all inputs together"):
        self.total = int(total)
        self.used = 0
        self.what = what

    def left(self) -> int:
        return max(self.total - self.used, 0)


def parse(text: str, max_elements: int = MAX_ELEMENTS, max_bytes: int = MAX_BYTES,
          allowance: Allowance | None = None):
    """The value ``text`` denotes; InputError (one sentence) when it is not allowed.

    Arrays the expression makes may hold ``max_elements`` elements each and ``max_bytes``
    bytes together, and no more than what ``allowance`` has left."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise InputError(f'expression "{text}" is not valid Python syntax ({exc.msg})') from None
    try:
        return _Reader(text, max_elements, max_bytes=max_bytes,
                       allowance=allowance).value(tree.body)
    except RecursionError:
        raise InputError(f'expression "{text}" is nested too deeply') from None


def parse_literal(text: str):
    """Only Python literals (as ``ast.literal_eval``, but without its arithmetic corner cases)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise InputError(f'expression "{text}" is not a valid Python literal ({exc.msg})') from None
    try:
        return _Reader(text, MAX_ELEMENTS, calls=False).value(tree.body)
    except RecursionError:
        raise InputError(f'expression "{text}" is nested too deeply') from None


class _Reader:
    def __init__(self, text: str, max_elements: int, calls: bool = True,
                 max_bytes: int = MAX_BYTES, allowance: Allowance | None = None):
        self.text = text
        self.max_elements = max_elements
        self.calls = calls
        self.max_bytes = max_bytes
        self.allowance = allowance
        self.used = 0

    def fail(self, what: str):
        raise InputError(f'expression "{self.text}": {what}')

    def value(self, node):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (int, float, complex, str, bytes, bool)) or node.value is None:
                return node.value
            self.fail(f"constant {node.value!r} is not allowed")
        if isinstance(node, ast.List):
            return [self.value(e) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.value(e) for e in node.elts)
        if isinstance(node, ast.Set):
            return {self.value(e) for e in node.elts}
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                self.fail("** inside a dict is not allowed")
            return {self.value(k): self.value(v) for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = self.value(node.operand)
            if not _is_number(v):
                self.fail("a sign can only go before a number")
            return -v if isinstance(node.op, ast.USub) else +v
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            a, b = self.value(node.left), self.value(node.right)
            if not (_is_number(a) and _is_number(b)):
                self.fail("arithmetic is only allowed between plain numbers")
            if isinstance(a, int) and isinstance(b, int) and max(abs(a), abs(b)) > 1 << 64:
                self.fail("numbers this large are not allowed")
            try:
                if isinstance(node.op, ast.Add):
                    return a + b
                if isinstance(node.op, ast.Sub):
                    return a - b
                if isinstance(node.op, ast.Mult):
                    return a * b
                return a / b
            except ZeroDivisionError:
                self.fail("division by zero")
        if isinstance(node, ast.Call):
            if not self.calls:
                self.fail("only Python literals are allowed here")
            return self.call(node)
        if isinstance(node, (ast.Attribute, ast.Name)):
            dtype = self.dtype_ref(node)
            if dtype is not None:
                return dtype
            if isinstance(node, ast.Name) and node.id in ("inf", "nan"):
                return float(node.id)
            self.fail(f"name '{ast.unparse(node)}' is not allowed")
        self.fail(f"'{ast.unparse(node)}' is not a literal or an allowed numpy call")

    def dtype_ref(self, node):
        path = _dotted(node)
        if path and len(path) == 2 and path[0] in ("np", "numpy"):
            if path[1] in _DTYPES:
                return np.dtype(getattr(np, path[1]))
            if path[1] in ("inf", "nan", "pi", "e"):
                return float(getattr(np, path[1]))
        return None

    # ------------------------------------------------------------ numpy calls
    def call(self, node: ast.Call):
        path = _dotted(node.func)
        if not path or path[0] not in ("np", "numpy"):
            self.fail(f"call '{ast.unparse(node.func)}' is not allowed")
        name = ".".join(path[1:])
        fn = _CALLS.get(name)
        if fn is None:
            self.fail(f"np.{name} is not one of the allowed numpy functions "
                      f"({', '.join('np.' + n for n in sorted(_CALLS))})")
        args = [self.value(a) for a in node.args]
        if any(isinstance(a, ast.Starred) for a in node.args):
            self.fail("*args is not allowed")
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                self.fail("**kwargs is not allowed")
            kwargs[kw.arg] = self.value(kw.value)
        if "dtype" in kwargs and isinstance(kwargs["dtype"], str):
            kwargs["dtype"] = self.named_dtype(kwargs["dtype"])
        try:
            result = fn(self, *args, **kwargs)
            self.charge(result)
            return result
        except InputError:
            raise
        except (TypeError, ValueError, OverflowError) as exc:
            self.fail(f"np.{name}: {exc}")

    def named_dtype(self, text: str):
        try:
            dt = np.dtype(text)
        except TypeError:
            self.fail(f"'{text}' is not a numpy dtype")
        if dt.kind not in "biufcSU":
            self.fail(f"dtype '{text}' is not allowed")
        return dt

    def dtype(self, dtype, default=float) -> np.dtype:
        """A dtype argument (positional ones too) as a numpy dtype, refusing odd kinds."""
        if dtype is None:
            return np.dtype(default)
        if isinstance(dtype, str):
            return self.named_dtype(dtype)
        try:
            dt = np.dtype(dtype)
        except TypeError:
            self.fail(f"{dtype!r} is not a numpy dtype")
        if dt.kind not in "biufcSU":
            self.fail(f"dtype '{dt}' is not allowed")
        return dt

    def check(self, count, dtype=float) -> None:
        """Refuse ``count`` elements of ``dtype`` before they are made: more than the
        element limit, or more bytes than this expression (and the allowance) may take."""
        try:
            n = int(count)
        except (TypeError, ValueError, OverflowError):
            self.fail("the size is not a number")
        if n > self.max_elements:
            self.fail(f"{n} elements is more than the limit of {self.max_elements}")
        dt = self.dtype(dtype)
        need = n * max(dt.itemsize, 1)
        left = self.max_bytes - self.used
        if need > left:
            self.fail(f"{n} elements of {dt} take {_size(need)}, more than the "
                      f"{_size(self.max_bytes)} one expression may make")
        a = self.allowance
        if a is not None and need > a.left():
            self.fail(f"{n} elements of {dt} take {_size(need)}, more than the "
                      f"{_size(a.left())} left of the {_size(a.total)} {a.what} may take")

    def charge(self, value) -> None:
        """Count what a call made against this expression's bytes and the allowance."""
        n = value.nbytes if isinstance(value, np.ndarray) else 0
        self.used += n
        if self.allowance is not None:
            self.allowance.used += n

    def shape(self, shape, dtype=float):
        dims = shape if isinstance(shape, (tuple, list)) else (shape,)
        for d in dims:
            if not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d < 0:
                self.fail(f"shape {shape!r} must hold non-negative integers")
        self.check(math.prod(int(d) for d in dims), dtype)
        return tuple(int(d) for d in dims)


def _is_number(v) -> bool:
    return isinstance(v, (int, float, complex)) and not isinstance(v, bool)


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def _size(n: int) -> str:
    from .engine.context import size_text
    return size_text(n)


def _filled(kind):
    def make(r: _Reader, shape, dtype=None, order="C"):
        dt = r.dtype(dtype)
        shape = r.shape(shape, dt)
        return getattr(np, kind)(shape, dtype=dt)
    return make


def _full(r: _Reader, shape, fill_value, dtype=None):
    # (the fill value's own dtype counts: a long bytes literal makes every element long)
    dt = r.dtype(dtype) if dtype is not None else np.asarray(fill_value).dtype
    if dt.kind not in "biufcSU":
        r.fail("the fill value must be a number, a string or bytes")
    return np.full(r.shape(shape, dt), fill_value, dtype=dt)


def _arange(r: _Reader, *args, dtype=None, **kw):
    if kw:
        start, stop, step = kw.get("start", 0), kw.get("stop"), kw.get("step", 1)
    else:
        start, stop, step = (0, args[0], 1) if len(args) == 1 else (
            args + (1,) if len(args) == 2 else args)[:3]
    if stop is None or not all(_is_number(v) for v in (start, stop, step)) or step == 0:
        r.fail("np.arange needs numeric start/stop/step and a non-zero step")
    if any(isinstance(v, complex) for v in (start, stop, step)):
        r.fail("np.arange needs real start/stop/step")
    dt = r.dtype(dtype, np.result_type(start, stop, step))
    # (computed in 64 bits whatever the dtype asked for)
    r.check(max(0, math.ceil((stop - start) / step)), dt if dt.itemsize >= 8 else np.float64)
    return np.arange(start, stop, step, dtype=dt)


def _linspace(r: _Reader, start, stop, num=50, endpoint=True, dtype=None):
    dt = r.dtype(dtype)
    # (numpy computes in float64, and more than once the size, then casts)
    r.check(num, np.complex128 if dt.itemsize < 16 else dt)
    return np.linspace(start, stop, int(num), endpoint=endpoint, dtype=dt)


def _eye(r: _Reader, n, m=None, k=0, dtype=float):
    dt = r.dtype(dtype)
    r.shape((n, m if m is not None else n), dt)
    return np.eye(n, m, k, dtype=dt)


def _array(r: _Reader, obj, dtype=None):
    arr = np.array(obj)    # no larger than the text it was written in
    if arr.dtype == object:
        r.fail("the values do not form a regular array")
    if dtype is not None:
        dt = r.dtype(dtype)
        r.check(arr.size, dt)   # (a dtype like 'S100000000' makes each element huge)
        arr = np.array(obj, dtype=dt)
    return arr


def _rand(r: _Reader, *dims):
    return np.random.rand(*r.shape(dims))


def _randn(r: _Reader, *dims):
    return np.random.randn(*r.shape(dims))


def _randint(r: _Reader, low, high=None, size=None, dtype=int):
    dt = r.dtype(dtype, int)
    if size is not None:
        r.shape(size, dt)
    return np.random.randint(low, high, size=size, dtype=dt)


def _uniform(r: _Reader, low=0.0, high=1.0, size=None):
    if size is not None:
        r.shape(size)
    return np.random.uniform(low, high, size)


def _normal(r: _Reader, loc=0.0, scale=1.0, size=None):
    if size is not None:
        r.shape(size)
    return np.random.normal(loc, scale, size)


_CALLS = {
    "ones": _filled("ones"), "zeros": _filled("zeros"), "empty": _filled("zeros"),
    "full": _full, "arange": _arange, "linspace": _linspace, "eye": _eye,
    "identity": lambda r, n, dtype=float: _eye(r, n, dtype=dtype),
    "array": _array, "asarray": _array,
    "random.rand": _rand, "random.randn": _randn, "random.randint": _randint,
    "random.uniform": _uniform, "random.normal": _normal,
}
