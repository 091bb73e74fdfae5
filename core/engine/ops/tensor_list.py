"""TensorList ops (what Keras RNN loops and TensorArrays compile to).

A TensorList is a value: every op that changes one returns a new list (sharing the element
arrays), so a list captured earlier in a loop never changes under its reader.
"""
from __future__ import annotations

import numpy as np

from ...errors import ExecutionError
from ..registry import kernel, np_dtype


class TensorList:
    __slots__ = ("items", "element_shape", "element_dtype")

    def __init__(self, items, element_shape, element_dtype):
        self.items = items
        self.element_shape = element_shape  # tuple with -1 for unknown dims, or None
        self.element_dtype = element_dtype

    def __repr__(self):
        return f"<TensorList of {len(self.items)}>"

    def copy(self, items=None):
        return TensorList(list(self.items) if items is None else items, self.element_shape,
                          self.element_dtype)


def _shape(value):
    a = np.asarray(value)
    if a.ndim == 0:
        return None if int(a) == -1 else (int(a),)
    return tuple(int(x) for x in a.reshape(-1))


def _merge_shape(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if len(a) != len(b):
        return a
    return tuple(x if x >= 0 else y for x, y in zip(a, b))


def _list(ctx, v) -> TensorList:
    if not isinstance(v, TensorList):
        raise ExecutionError(f"{ctx.where()}: expected a tensor list, got {type(v).__name__}")
    return v


def _zeros(ctx, shape, dtype_enum):
    if shape is None or any(d < 0 for d in shape):
        raise ExecutionError(f"{ctx.where()}: reading an unset list element whose shape "
                             "is not fully known")
    dt = np_dtype(dtype_enum)
    ctx.check_alloc(int(np.prod(shape, dtype=np.int64)) * max(dt.itemsize, 1))
    return np.zeros(shape, dtype=dt)


@kernel("EmptyTensorList", outputs=("handle",), description="an empty tensor list")
def empty_list(ctx, inputs, attrs):
    return TensorList([], _shape(inputs[0]), attrs.get("element_dtype"))


@kernel("TensorListReserve", outputs=("handle",), description="a tensor list of n unset elements")
def reserve(ctx, inputs, attrs):
    n = int(np.asarray(inputs[1]))
    if n < 0:
        raise ExecutionError(f"{ctx.where()}: negative list size {n}")
    ctx.check_alloc(n * 8)
    return TensorList([None] * n, _shape(inputs[0]), attrs.get("element_dtype"))


@kernel("TensorListFromTensor", outputs=("output_handle",),
        description="splits a tensor along its first axis into a list")
def from_tensor(ctx, inputs, attrs):
    t = np.asarray(inputs[0])
    if t.ndim == 0:
        raise ExecutionError(f"{ctx.where()}: a scalar cannot be split into a list")
    shape = _merge_shape(_shape(inputs[1]), tuple(t.shape[1:]))
    return TensorList(list(t), shape, attrs.get("element_dtype"))


@kernel("TensorListStack", outputs=("tensor",), defaults={"num_elements": -1},
        description="stacks a list's elements into one tensor")
def stack(ctx, inputs, attrs):
    lst = _list(ctx, inputs[0])
    shape = _merge_shape(lst.element_shape, _shape(inputs[1]))
    items = lst.items
    known = next((x for x in items if x is not None), None)
    if known is not None:
        shape = tuple(np.shape(known))
    if not items:
        if shape is None or any(d < 0 for d in shape):
            raise ExecutionError(f"{ctx.where()}: cannot stack an empty list of unknown shape")
        return np.zeros((0,) + shape, dtype=np_dtype(attrs["element_dtype"]))
    arrays = [x if x is not None else _zeros(ctx, shape, attrs["element_dtype"]) for x in items]
    return np.stack(arrays)


@kernel("TensorListGather", outputs=("values",), description="stacks chosen list elements")
def gather(ctx, inputs, attrs):
    lst = _list(ctx, inputs[0])
    idx = np.asarray(inputs[1]).reshape(-1)
    return np.stack([_get(ctx, lst, int(i), attrs) for i in idx]) if idx.size else \
        np.zeros((0,) + tuple(d for d in (_shape(inputs[2]) or ())), np_dtype(attrs["element_dtype"]))


def _get(ctx, lst, i, attrs):
    n = len(lst.items)
    if i < 0 or i >= n:
        raise ExecutionError(f"{ctx.where()}: index {i} is out of range for a list of {n}")
    x = lst.items[i]
    if x is None:
        x = _zeros(ctx, lst.element_shape, attrs.get("element_dtype", lst.element_dtype))
    return x


@kernel("TensorListGetItem", outputs=("item",), description="one element of a list")
def get_item(ctx, inputs, attrs):
    return _get(ctx, _list(ctx, inputs[0]), int(np.asarray(inputs[1])), attrs)


@kernel("TensorListSetItem", outputs=("output_handle",),
        defaults={"resize_if_index_out_of_bounds": False},
        description="a copy of the list with one element replaced")
def set_item(ctx, inputs, attrs):
    lst = _list(ctx, inputs[0])
    i = int(np.asarray(inputs[1]))
    items = list(lst.items)
    if i >= len(items) and attrs.get("resize_if_index_out_of_bounds"):
        items.extend([None] * (i + 1 - len(items)))
    if i < 0 or i >= len(items):
        raise ExecutionError(f"{ctx.where()}: index {i} is out of range for a list of {len(items)}")
    items[i] = np.asarray(inputs[2])
    return lst.copy(items)


@kernel("TensorListPushBack", outputs=("output_handle",), description="a copy of the list, one longer")
def push_back(ctx, inputs, attrs):
    lst = _list(ctx, inputs[0])
    return lst.copy(lst.items + [np.asarray(inputs[1])])


@kernel("TensorListPopBack", outputs=("output_handle", "tensor"),
        description="the list without its last element, and that element")
def pop_back(ctx, inputs, attrs):
    lst = _list(ctx, inputs[0])
    if not lst.items:
        raise ExecutionError(f"{ctx.where()}: cannot pop from an empty list")
    x = _get(ctx, lst, len(lst.items) - 1, attrs)
    return lst.copy(lst.items[:-1]), x


@kernel("TensorListLength", outputs=("length",), description="how many elements a list has")
def length(ctx, inputs, attrs):
    return np.array(len(_list(ctx, inputs[0]).items), dtype=np.int32)


@kernel("TensorListElementShape", outputs=("element_shape",),
        description="the shape of a list's elements")
def element_shape(ctx, inputs, attrs):
    lst = _list(ctx, inputs[0])
    dt = np_dtype(attrs.get("shape_type", 3))
    if lst.element_shape is None:
        return np.array(-1, dtype=dt)
    return np.array(lst.element_shape, dtype=dt)


@kernel("TensorListResize", outputs=("output_handle",), description="a copy of the list, resized")
def resize(ctx, inputs, attrs):
    lst = _list(ctx, inputs[0])
    n = int(np.asarray(inputs[1]))
    items = list(lst.items[:n]) + [None] * max(0, n - len(lst.items))
    return lst.copy(items)


@kernel("TensorListScatterV2", "TensorListScatter", outputs=("output_handle",),
        description="a list made from rows of a tensor at given indices")
def scatter(ctx, inputs, attrs):
    t = np.asarray(inputs[0])
    idx = np.asarray(inputs[1]).reshape(-1)
    n = int(idx.max()) + 1 if idx.size else 0
    if len(inputs) > 3:
        n = max(n, int(np.asarray(inputs[3])))
    items = [None] * n
    for row, i in zip(t, idx):
        items[int(i)] = row
    return TensorList(items, _shape(inputs[2]), attrs.get("element_dtype"))


@kernel("TensorListScatterIntoExistingList", outputs=("output_handle",),
        description="a copy of the list with rows of a tensor placed at given indices")
def scatter_existing(ctx, inputs, attrs):
    lst = _list(ctx, inputs[0])
    items = list(lst.items)
    for row, i in zip(np.asarray(inputs[1]), np.asarray(inputs[2]).reshape(-1)):
        i = int(i)
        if i >= len(items):
            items.extend([None] * (i + 1 - len(items)))
        items[i] = row
    return lst.copy(items)


@kernel("TensorListConcatV2", outputs=("tensor", "lengths"),
        description="concatenates a list's elements along their first axis")
def concat(ctx, inputs, attrs):
    lst = _list(ctx, inputs[0])
    items = [_get(ctx, lst, i, attrs) for i in range(len(lst.items))]
    if not items:
        shape = _shape(inputs[1]) or (0,)
        return (np.zeros((0,) + tuple(max(d, 0) for d in shape[1:]), np_dtype(attrs["element_dtype"])),
                np.zeros(0, np.int64))
    return np.concatenate(items), np.array([len(x) for x in items], dtype=np.int64)
