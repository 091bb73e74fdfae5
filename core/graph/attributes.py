"""Attributes and constant values of a node, decoded into plain data for display."""
from __future__ import annotations

from dataclasses import dataclass

from .. import dtypes
from .specs import _dims


@dataclass(frozen=True)
class Attribute:
    """One attribute of a node as plain data.

    ``kind`` names the AttrValue field that is set ("type", "shape", "func", "tensor", "s",
    "i", "f", "b", "list", "placeholder"; "" when none is). ``value`` is a plain Python value:
    a dtype name, dims (None: unknown rank), a function name, a constant's summary text, a
    string, a number, or a list of those. ``text`` is how the details pane shows it, and
    ``functions`` the library functions it names."""
    name: str
    kind: str
    value: object
    text: str
    functions: tuple = ()


def attribute(name: str, attr) -> Attribute:
    """An AttrValue proto as an ``Attribute``."""
    from ..tensors import shape_text
    kind = attr.WhichOneof("value") or ""
    if kind == "type":
        text = dtypes.name(int(attr.type))
        return Attribute(name, kind, text, text)
    if kind == "shape":
        return Attribute(name, kind, _dims(attr.shape), shape_text(attr.shape))
    if kind == "func":
        fn = attr.func.name
        return Attribute(name, kind, fn, fn, (fn,))
    if kind == "tensor":
        text = tensor_summary(attr.tensor)
        return Attribute(name, kind, text, text)
    if kind == "s":
        value = attr.s.decode("utf-8", "replace")
        return Attribute(name, kind, value, repr(value)[:200])
    if kind == "list":
        return _list_attribute(name, attr.list)
    if kind in ("i", "f", "b"):
        value = getattr(attr, kind)
        return Attribute(name, kind, value, str(value))
    if kind == "placeholder":
        return Attribute(name, kind, attr.placeholder, "")
    return Attribute(name, kind, None, "")


def _list_attribute(name: str, lst) -> Attribute:
    from ..tensors import shape_text
    if lst.type:
        names = [dtypes.name(int(t)) for t in lst.type]
        return Attribute(name, "list", names, ", ".join(names))
    if lst.shape:
        return Attribute(name, "list", [_dims(s) for s in lst.shape],
                         ", ".join(shape_text(s) for s in lst.shape))
    if lst.func:
        names = [f.name for f in lst.func]
        return Attribute(name, "list", names, ", ".join(names), tuple(names))
    if lst.i:
        values = [int(v) for v in lst.i]
        return Attribute(name, "list", values, str(values))
    if lst.f:
        values = [float(v) for v in lst.f]
        return Attribute(name, "list", values, str([round(v, 6) for v in values]))
    if lst.s:
        values = [s.decode("utf-8", "replace") for s in lst.s]
        return Attribute(name, "list", values, str(values[:20]))
    if lst.b:
        values = [bool(v) for v in lst.b]
        return Attribute(name, "list", values, str(values))
    return Attribute(name, "list", [], "[]")


def tensor_summary(proto) -> str:
    """A TensorProto in one line: dtype, shape and its values when there are at most 8,
    else min, max and mean of numbers. A value that can not be decoded is described, not
    raised: the details of a node must show whatever the file holds."""
    import numpy as np

    from ..tensors import shape_text, to_numpy
    head = f"{dtypes.name(int(proto.dtype))} {shape_text(proto.tensor_shape)}"
    try:
        arr = to_numpy(proto)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        return f"{head}: ({exc})"
    if arr.size <= 8:
        vals = arr.tolist()
        if isinstance(vals, list):
            vals = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in
                    np.ravel(arr).tolist()]
        elif isinstance(vals, bytes):
            vals = vals.decode("utf-8", "replace")
        return f"{head} = {vals}"
    if arr.dtype.kind in "fiu":
        a = arr.astype(np.float64)
        return (f"{head}: min {np.nanmin(a):.4g}, max {np.nanmax(a):.4g}, "
                f"mean {np.nanmean(a):.4g}")
    return head
