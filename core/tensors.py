"""TensorProto <-> numpy, TensorShapeProto -> tuples and text, AttrValue -> Python values.

numpy is imported inside the functions that need it, so that the text helpers (shape
text as saved_model_cli prints it) stay cheap for ``tensorloupe show``.

The rules follow tensorflow/core/framework/tensor.proto and tensor_util:
- ``tensor_content`` holds the raw little-endian bytes of every element;
- otherwise the typed ``*_val`` field holds the values; fewer values than elements means
  the last value repeats (no values at all means zeros);
- float16 and bfloat16 values sit in ``half_val`` as their 16-bit patterns;
- complex values come as (real, imaginary) pairs in ``scomplex_val``/``dcomplex_val``.
"""
from __future__ import annotations

import sys

from .errors import FormatError, UnsupportedError

# A corrupt or hostile shape must not make us allocate without limit: a constant whose
# few stored values would expand beyond this many bytes is refused.
MAX_EXPANDED_BYTES = 1 << 31

# TensorFlow's own bounds on a shape (tensorflow/core/framework/tensor_shape.h/.cc): at most
# MaxDimensions() = 254 dimensions, no negative size, and an element count that fits int64.
# A stored shape outside them is damaged, whatever wrote it.
MAX_RANK = 254
MAX_ELEMENTS = (1 << 63) - 1
# Shapes TensorFlow accepts but numpy cannot hold: more than 64 dimensions, or sizes whose
# product (zeros left out) times the item size overflows numpy's index type, as (0, 2**62)
# float32 does although it holds no element.
NUMPY_MAX_RANK = 64

# DataType enum -> name of the TensorProto field that holds its values.
_VALUE_FIELD = {
    1: "float_val", 2: "double_val", 3: "int_val", 4: "int_val", 5: "int_val",
    6: "int_val", 7: "string_val", 8: "scomplex_val", 9: "int64_val", 10: "bool_val",
    11: "int_val", 12: "int_val", 13: "int_val", 14: "half_val", 15: "int_val",
    16: "int_val", 17: "int_val", 18: "dcomplex_val", 19: "half_val",
    20: "resource_handle_val", 21: "variant_val", 22: "uint32_val", 23: "uint64_val",
    24: "float8_val", 25: "float8_val", 29: "int_val", 30: "int_val",
}


# ---------------------------------------------------------------- shapes

def shape_dims(shape_proto) -> tuple | None:
    """Dimensions of a TensorShapeProto as a tuple (-1 for unknown), None for unknown rank."""
    if shape_proto.unknown_rank:
        return None
    return tuple(int(d.size) for d in shape_proto.dim)


def shape_text(shape_proto) -> str:
    """The shape as saved_model_cli prints a TensorInfo's: ``(-1, 28, 28, 1)``, ``(-1)``,
    ``()`` or ``unknown_rank``."""
    if shape_proto.unknown_rank:
        return "unknown_rank"
    return "(" + ", ".join(str(d.size) for d in shape_proto.dim) + ")"


def shape_python_text(dims: tuple | None) -> str:
    """The shape as TensorFlow's Python TensorShape prints: ``(None, 3)``, ``(2,)``,
    ``()`` or ``<unknown>``."""
    if dims is None:
        return "<unknown>"
    parts = ["None" if d is None or d < 0 else str(d) for d in dims]
    if len(parts) == 1:
        return f"({parts[0]},)"
    return "(" + ", ".join(parts) + ")"


def num_elements(dims, *, what: str = "tensor") -> int:
    """Element count of fully known dims; FormatError for negative sizes."""
    n = 1
    for d in dims:
        if d < 0:
            raise FormatError(f"{what} has an unknown or negative dimension {d}")
        n *= d
    return n


def dims_text(dims) -> str:
    """A shape for a one-line message: ``[0, 4611686018427387904]``, or its rank alone when
    it has too many dimensions to print."""
    dims = list(dims)
    if len(dims) > 8:
        return f"of {len(dims)} dimensions"
    return "[" + ", ".join(str(int(d)) for d in dims) + "]"


def check_shape(dims, what: str = "tensor", path=None) -> int:
    """The element count of a stored, fully known shape; FormatError when TensorFlow itself
    would refuse the shape (too many dimensions, a negative size, more than 2**63 - 1
    elements)."""
    if len(dims) > MAX_RANK:
        raise FormatError(f"{what} has {len(dims)} dimensions; TensorFlow allows at most "
                          f"{MAX_RANK}", path)
    n = 1
    for d in dims:
        if d < 0:
            raise FormatError(f"{what} has a negative dimension {d}", path)
        n *= d
    if n > MAX_ELEMENTS:
        raise FormatError(f"{what} has shape {dims_text(dims)}, more than 2**63 - 1 elements",
                          path)
    return n


def check_numpy_shape(dims, itemsize: int | None, what: str = "tensor", path=None) -> None:
    """UnsupportedError when numpy cannot make an array of this shape (valid for TensorFlow):
    more than 64 dimensions, or sizes too large for numpy's index type even when a zero
    size leaves no element. ``itemsize`` None (strings) counts as a pointer."""
    if len(dims) > NUMPY_MAX_RANK:
        raise UnsupportedError(f"{what} has {len(dims)} dimensions; numpy arrays have at most "
                               f"{NUMPY_MAX_RANK}", path)
    span = itemsize or 8
    for d in dims:
        if d:
            span *= d
    if span > sys.maxsize:
        raise UnsupportedError(f"{what} has shape {dims_text(dims)}, which numpy cannot hold "
                               f"(its sizes multiply past {sys.maxsize} bytes)", path)


def check_stored_bytes(count: int, itemsize: int | None, stored: int, what: str,
                       path=None) -> None:
    """FormatError unless ``stored`` bytes can hold ``count`` elements: exactly
    count x itemsize for fixed-size types, at least one length byte per string. Checked
    before anything of that size is allocated, so a shape edited to claim more than the
    file holds costs nothing."""
    if itemsize is not None:
        if stored != count * itemsize:
            raise FormatError(f"{what}: its shape needs {count * itemsize} bytes but "
                              f"{stored} are stored", path)
    elif count > stored:
        raise FormatError(f"{what}: {count} strings cannot fit in the {stored} bytes stored",
                          path)


# ---------------------------------------------------------------- TensorProto -> numpy

def to_numpy(proto, *, max_bytes: int = MAX_EXPANDED_BYTES):
    """Decode a TensorProto into a numpy array (strings: object array of bytes).

    Raises FormatError when the stored values do not fit the shape, and when the tensor
    would be larger than ``max_bytes``.
    """
    import numpy as np

    from . import dtypes

    enum = dtypes.base(int(proto.dtype))
    dims = shape_dims(proto.tensor_shape)
    if dims is None:
        raise FormatError("constant tensor has an unknown rank")
    n = check_shape(dims, "constant tensor")
    if enum in (20, 21):
        check_numpy_shape(dims, None, "constant tensor")
        return _object_values(proto, enum, dims, n)
    dtype = dtypes.to_numpy(enum)
    itemsize = dtype.itemsize if enum != 7 else 8
    check_numpy_shape(dims, itemsize, "constant tensor")
    if n * itemsize > max_bytes:
        raise FormatError(
            f"constant tensor of shape {list(dims)} would need {n * itemsize} bytes "
            f"(more than the {max_bytes} allowed)")

    if enum == 7:
        values = list(proto.string_val)
        if len(values) > n:
            raise FormatError(f"constant tensor holds {len(values)} strings for {n} elements")
        out = np.empty(n, dtype=object)
        if values:
            out[:len(values)] = values
            out[len(values):] = values[-1]
        else:
            out[:] = b""
        return out.reshape(dims)

    content = proto.tensor_content
    if content:
        if len(content) != n * dtype.itemsize:
            raise FormatError(
                f"constant tensor of shape {list(dims)} and type {dtypes.name(enum)} needs "
                f"{n * dtype.itemsize} bytes of content, found {len(content)}")
        return np.frombuffer(content, dtype=dtype.newbyteorder("<")).astype(
            dtype, copy=True).reshape(dims)

    field = _VALUE_FIELD.get(enum)
    if field is None:
        raise UnsupportedError(f"constant tensors of type {dtypes.name(enum)} are not supported")
    if enum in (8, 18):                       # complex: (re, im) pairs
        raw = np.asarray(proto.scomplex_val if enum == 8 else proto.dcomplex_val,
                         dtype=np.float32 if enum == 8 else np.float64)
        if raw.size % 2:
            raise FormatError("complex constant has an odd number of stored parts")
        values = raw[0::2] + 1j * raw[1::2]
        values = values.astype(dtype)
    elif enum in (14, 19):                    # float16/bfloat16 as bit patterns
        bits = np.asarray(proto.half_val, dtype=np.int64).astype(np.uint16)
        values = bits.view(dtype)
    elif field == "float8_val":
        values = np.frombuffer(proto.float8_val, dtype=np.uint8).view(dtype)
    else:
        stored = getattr(proto, field)
        values = np.asarray(stored, dtype=np.int64 if field == "int_val" else None)
        values = values.astype(dtype) if values.size else np.zeros(0, dtype)
    return _fill(values, n, dims, dtype)


def _fill(values, n: int, dims, dtype):
    import numpy as np

    count = values.shape[0]
    if count > n:
        raise FormatError(f"constant tensor holds {count} values for {n} elements")
    if count == n:
        return values.reshape(dims)
    out = np.empty(n, dtype=dtype)
    if count == 0:
        out[...] = 0
    else:
        out[:count] = values
        out[count:] = values[-1]
    return out.reshape(dims)


def _object_values(proto, enum: int, dims, n: int):
    import numpy as np

    stored = list(proto.resource_handle_val if enum == 20 else proto.variant_val)
    if len(stored) > n:
        raise FormatError(f"constant tensor holds {len(stored)} values for {n} elements")
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = stored[min(i, len(stored) - 1)] if stored else None
    return out.reshape(dims)


# ---------------------------------------------------------------- numpy -> TensorProto

def from_numpy(array, tensor_pb2=None):
    """Encode a numpy array (or scalar) as a TensorProto using ``tensor_content``."""
    import numpy as np

    from . import dtypes
    if tensor_pb2 is None:
        from tensorloupe.protos import tensor_pb2
    array = np.asarray(array)
    enum = dtypes.from_numpy(array.dtype)
    proto = tensor_pb2.TensorProto(dtype=enum)
    for d in array.shape:
        proto.tensor_shape.dim.add(size=d)
    if enum == 7:
        for v in array.reshape(-1):
            proto.string_val.append(v if isinstance(v, bytes) else str(v).encode())
    else:
        proto.tensor_content = np.ascontiguousarray(
            array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return proto


# ---------------------------------------------------------------- AttrValue

def attr_value(attr):
    """A NodeDef attribute as a Python value: bytes, int, float, bool, DataType enum (int),
    shape dims (tuple or None), numpy array (tensor), function name (NameAttrList ->
    (name, attrs)), or a list of these. The placeholder of a function attribute comes back
    as ``('placeholder', name)``."""
    kind = attr.WhichOneof("value")
    if kind is None:
        return None
    if kind == "list":
        lst = attr.list
        for name in ("s", "i", "f", "b", "type", "shape", "tensor", "func"):
            items = getattr(lst, name)
            if len(items):
                return [_scalar_attr(name, v) for v in items]
        return []
    if kind == "placeholder":
        return ("placeholder", attr.placeholder)
    return _scalar_attr(kind, getattr(attr, kind))


def _scalar_attr(kind: str, value):
    if kind == "shape":
        return shape_dims(value)
    if kind == "tensor":
        return to_numpy(value)
    if kind == "func":
        return (value.name, dict(value.attr))
    if kind == "type":
        return int(value)
    return value
