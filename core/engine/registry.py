"""The kernel registry: what the engine knows about each op.

A kernel is a plain function ``fn(ctx, inputs, attrs) -> sequence of outputs``:

- ``inputs`` is the flat list of the node's data inputs (numpy arrays; strings are object
  arrays of ``bytes``; resources are handle objects). Ops whose input args are lists
  (``ConcatV2``'s ``values``, ``Pack``'s ``values`` ...) receive them flattened, in order.
- ``attrs`` maps attribute names to decoded Python values (see :func:`decode_attr`), with
  the op's defaults from the registration already filled in for attributes the graph
  stripped.
- The return value is a tuple/list with one entry per *flat* output; an op with one output
  may return the array alone.
- ``ctx`` is the executor's :class:`KernelContext` (resources, nested function calls,
  allocation guard, cancellation).

Registration records what the executor needs without an OpDef: the output arg names and
how many tensors each stands for (to map ``node:out_arg:index`` names in function bodies to
flat output indices), the attribute defaults, whether the op is stateful (runs even when
nothing consumes it inside a function), and a one-line plain-words description for people.

Output arg spec strings: ``"z"`` one tensor; ``"output:N"`` as many as the int attribute
``N``; ``"output:*T"`` one per entry of the type-list attribute ``T``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .. import dtypes


@dataclass(frozen=True)
class OpKernel:
    op: str
    fn: Callable
    outputs: tuple[str, ...]
    defaults: dict[str, Any]
    description: str
    stateful: bool = False

    def output_arg_sizes(self, attrs: dict) -> list[tuple[str, int]]:
        """[(arg_name, count)] for this node, resolving ``:N`` and ``:*T`` specs."""
        sizes = []
        for spec in self.outputs:
            name, _, size = spec.partition(":")
            if not size:
                sizes.append((name, 1))
            elif size.startswith("*"):
                sizes.append((name, len(attrs.get(size[1:], ()))))
            else:
                sizes.append((name, int(attrs.get(size, 0))))
        return sizes

    def flat_output_index(self, arg_name: str, index: int, attrs: dict) -> int:
        """Flat output index of ``node:arg_name:index`` inside a function body."""
        offset = 0
        for name, count in self.output_arg_sizes(attrs):
            if name == arg_name:
                return offset + index
            offset += count
        raise KeyError(arg_name)


REGISTRY: dict[str, OpKernel] = {}
# Ops registered with ``fallback=True``: a plain registration of the same op replaces them
# (whichever module is imported first), so the executor can offer trivial kernels
# (Identity, NoOp ...) without clashing with the op-family modules.
_FALLBACK: set[str] = set()


def kernel(*op_types: str, outputs: Sequence[str] = ("output",), defaults: dict | None = None,
           description: str = "", stateful: bool = False, fallback: bool = False):
    """Register ``fn`` as the kernel of one or more op types sharing outputs and defaults."""
    def register(fn: Callable) -> Callable:
        for op in op_types:
            if op in REGISTRY:
                if fallback:
                    continue
                if op not in _FALLBACK:
                    raise RuntimeError(f"kernel for {op} registered twice")
                _FALLBACK.discard(op)
            elif fallback:
                _FALLBACK.add(op)
            REGISTRY[op] = OpKernel(op, fn, tuple(outputs), dict(defaults or {}),
                                    description, stateful)
        return fn
    return register


def lookup(op_type: str) -> OpKernel | None:
    _load_all()
    return REGISTRY.get(op_type)


def known_ops() -> list[str]:
    _load_all()
    return sorted(REGISTRY)


_loaded = False


def _load_all() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        import importlib
        import pkgutil

        from . import ops
        for info in pkgutil.iter_modules(ops.__path__):
            importlib.import_module(f"{ops.__name__}.{info.name}")


@dataclass
class FuncRef:
    """A ``func`` attribute: the function's name and the attributes to instantiate it with."""
    name: str
    attrs: dict = field(default_factory=dict)


def decode_attr(value) -> Any:
    """AttrValue proto -> Python value.

    s -> bytes; i -> int; f -> float; b -> bool; type -> DataType enum int (use
    ``core.dtypes.to_numpy``); shape -> tuple of ints (-1 unknown) or None for unknown rank;
    tensor -> numpy array; func -> FuncRef; list -> list of the element kind present
    (empty list when the list is empty); placeholder -> ``"$name"`` string.
    """
    kind = value.WhichOneof("value")
    if kind == "s":
        return value.s
    if kind == "i":
        return int(value.i)
    if kind == "f":
        return float(value.f)
    if kind == "b":
        return bool(value.b)
    if kind == "type":
        return int(value.type)
    if kind == "shape":
        return _shape(value.shape)
    if kind == "tensor":
        from ..tensors import to_numpy
        from .context import check_constant, memory_limit
        check_constant(value.tensor, "a tensor attribute")
        return to_numpy(value.tensor, max_bytes=memory_limit())
    if kind == "func":
        return FuncRef(value.func.name, {k: decode_attr(v) for k, v in value.func.attr.items()})
    if kind == "placeholder":
        return "$" + value.placeholder
    if kind == "list":
        lst = value.list
        for fld in ("s", "i", "f", "b", "type", "shape", "tensor", "func"):
            items = getattr(lst, fld)
            if len(items):
                if fld == "s":
                    return list(items)
                if fld == "i":
                    return [int(x) for x in items]
                if fld == "f":
                    return [float(x) for x in items]
                if fld == "b":
                    return [bool(x) for x in items]
                if fld == "type":
                    return [int(x) for x in items]
                if fld == "shape":
                    return [_shape(x) for x in items]
                if fld == "tensor":
                    from ..tensors import to_numpy
                    from .context import check_constant, memory_limit
                    for x in items:
                        check_constant(x, "a tensor attribute")
                    return [to_numpy(x, max_bytes=memory_limit()) for x in items]
                return [FuncRef(f.name, {k: decode_attr(v) for k, v in f.attr.items()})
                        for f in items]
        return []
    return None


def _shape(shape) -> tuple[int, ...] | None:
    if shape.unknown_rank:
        return None
    return tuple(int(d.size) for d in shape.dim)


def np_dtype(enum: int) -> np.dtype:
    """Shorthand for kernels: DataType attr -> numpy dtype."""
    return dtypes.to_numpy(enum)
