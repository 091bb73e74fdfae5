"""TensorFlow DataType enum values <-> numpy dtypes.

Enum numbers follow tensorflow/core/framework/types.proto. bfloat16 and the float8
family come from ml_dtypes. Reference types (DT_FLOAT_REF = 101 ...) map to their base.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

# name -> enum value, as TensorFlow spells them.
DT = {
    "DT_INVALID": 0, "DT_FLOAT": 1, "DT_DOUBLE": 2, "DT_INT32": 3, "DT_UINT8": 4,
    "DT_INT16": 5, "DT_INT8": 6, "DT_STRING": 7, "DT_COMPLEX64": 8, "DT_INT64": 9,
    "DT_BOOL": 10, "DT_QINT8": 11, "DT_QUINT8": 12, "DT_QINT32": 13, "DT_BFLOAT16": 14,
    "DT_QINT16": 15, "DT_QUINT16": 16, "DT_UINT16": 17, "DT_COMPLEX128": 18,
    "DT_HALF": 19, "DT_RESOURCE": 20, "DT_VARIANT": 21, "DT_UINT32": 22, "DT_UINT64": 23,
    "DT_FLOAT8_E5M2": 24, "DT_FLOAT8_E4M3FN": 25, "DT_INT4": 29, "DT_UINT4": 30,
}
DT_NAME = {v: k for k, v in DT.items()}
REF_OFFSET = 100

_NUMPY = {
    1: np.dtype(np.float32), 2: np.dtype(np.float64), 3: np.dtype(np.int32),
    4: np.dtype(np.uint8), 5: np.dtype(np.int16), 6: np.dtype(np.int8),
    7: np.dtype(object), 8: np.dtype(np.complex64), 9: np.dtype(np.int64),
    10: np.dtype(np.bool_), 11: np.dtype(np.int8), 12: np.dtype(np.uint8),
    13: np.dtype(np.int32), 14: np.dtype(ml_dtypes.bfloat16), 15: np.dtype(np.int16),
    16: np.dtype(np.uint16), 17: np.dtype(np.uint16), 18: np.dtype(np.complex128),
    19: np.dtype(np.float16), 22: np.dtype(np.uint32), 23: np.dtype(np.uint64),
    24: np.dtype(ml_dtypes.float8_e5m2), 25: np.dtype(ml_dtypes.float8_e4m3fn),
    29: np.dtype(ml_dtypes.int4), 30: np.dtype(ml_dtypes.uint4),
}
_FROM_NUMPY = {
    np.dtype(np.float32): 1, np.dtype(np.float64): 2, np.dtype(np.int32): 3,
    np.dtype(np.uint8): 4, np.dtype(np.int16): 5, np.dtype(np.int8): 6,
    np.dtype(object): 7, np.dtype(np.complex64): 8, np.dtype(np.int64): 9,
    np.dtype(np.bool_): 10, np.dtype(ml_dtypes.bfloat16): 14, np.dtype(np.uint16): 17,
    np.dtype(np.complex128): 18, np.dtype(np.float16): 19, np.dtype(np.uint32): 22,
    np.dtype(np.uint64): 23, np.dtype(ml_dtypes.float8_e5m2): 24,
    np.dtype(ml_dtypes.float8_e4m3fn): 25, np.dtype(ml_dtypes.int4): 29,
    np.dtype(ml_dtypes.uint4): 30,
}

# The short names TensorFlow's Python API prints (tf.float32 ...), used by inspect_checkpoint
# ("<dtype: 'float32'>") and TensorSpec reprs.
_PY_NAME = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8",
    7: "string", 8: "complex64", 9: "int64", 10: "bool", 11: "qint8", 12: "quint8",
    13: "qint32", 14: "bfloat16", 15: "qint16", 16: "quint16", 17: "uint16",
    18: "complex128", 19: "float16", 20: "resource", 21: "variant", 22: "uint32",
    23: "uint64", 24: "float8_e5m2", 25: "float8_e4m3fn", 29: "int4", 30: "uint4",
}


def base(enum: int) -> int:
    """Strip the reference flag (DT_FLOAT_REF -> DT_FLOAT)."""
    return enum - REF_OFFSET if enum > REF_OFFSET else enum


def name(enum: int) -> str:
    """The enum's name as TensorFlow prints it: DT_FLOAT, DT_FLOAT_REF, or DT_UNKNOWN_<n>."""
    if enum > REF_OFFSET and base(enum) in DT_NAME:
        return DT_NAME[base(enum)] + "_REF"
    return DT_NAME.get(enum, f"DT_UNKNOWN_{enum}")


def python_name(enum: int) -> str:
    """TensorFlow's Python spelling: 'float32', 'string', 'float32_ref'."""
    b = base(enum)
    text = _PY_NAME.get(b, f"unknown_{b}")
    return text + "_ref" if enum > REF_OFFSET else text


def to_numpy(enum: int) -> np.dtype:
    """numpy dtype for a DataType enum; strings are object arrays of bytes."""
    try:
        return _NUMPY[base(enum)]
    except KeyError:
        from .errors import UnsupportedError
        raise UnsupportedError(f"data type {name(enum)} has no numpy equivalent") from None


def from_numpy(dtype) -> int:
    """DataType enum for a numpy dtype (bytes/str arrays count as DT_STRING)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "SUO":
        return DT["DT_STRING"]
    try:
        return _FROM_NUMPY[dtype]
    except KeyError:
        from .errors import UnsupportedError
        raise UnsupportedError(f"numpy dtype {dtype} has no TensorFlow equivalent") from None


def itemsize(enum: int) -> int | None:
    """Bytes per element for fixed-size types, None for strings/resources/variants."""
    b = base(enum)
    if b in (7, 20, 21) or b not in _NUMPY:
        return None
    return _NUMPY[b].itemsize
