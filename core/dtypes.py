"""TensorFlow DataType enum values <-> numpy dtypes.

Enum numbers follow tensorflow/core/framework/types.proto. bfloat16 and the float8
family come from ml_dtypes. Reference types (DT_FLOAT_REF = 101 ...) map to their base.
"""
from __future__ import annotations

from functools import lru_cache

from tensorloupe.protos import types_pb2

# This module must stay importable without numpy: `tensorloupe show` only needs names.

# name -> enum value, as TensorFlow spells them (DT_FLOAT ...), without the _REF variants.
DT = {k: v for k, v in types_pb2.DataType.items() if not k.endswith("_REF")}
DT_NAME = {v: k for k, v in DT.items()}
REF_OFFSET = 100


@lru_cache(maxsize=1)
def _numpy_tables():
    import ml_dtypes
    import numpy as np
    to_np = {
        1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8,
        7: object, 8: np.complex64, 9: np.int64, 10: np.bool_, 11: np.int8, 12: np.uint8,
        13: np.int32, 14: ml_dtypes.bfloat16, 15: np.int16, 16: np.uint16, 17: np.uint16,
        18: np.complex128, 19: np.float16, 22: np.uint32, 23: np.uint64,
        24: ml_dtypes.float8_e5m2, 25: ml_dtypes.float8_e4m3fn, 26: ml_dtypes.float8_e4m3fnuz,
        27: ml_dtypes.float8_e4m3b11fnuz, 28: ml_dtypes.float8_e5m2fnuz,
        29: ml_dtypes.int4, 30: ml_dtypes.uint4,
    }
    to_np = {k: np.dtype(v) for k, v in to_np.items()}
    # The quantized types share numpy dtypes with plain ints; the plain ones win the reverse map.
    quantized = {11, 12, 13, 15, 16}
    from_np = {dt: enum for enum, dt in to_np.items() if enum not in quantized}
    return to_np, from_np


# The short names TensorFlow's Python API prints (tf.float32 ...), used by inspect_checkpoint
# ("<dtype: 'float32'>") and TensorSpec reprs.
_PY_NAME = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8",
    7: "string", 8: "complex64", 9: "int64", 10: "bool", 11: "qint8", 12: "quint8",
    13: "qint32", 14: "bfloat16", 15: "qint16", 16: "quint16", 17: "uint16",
    18: "complex128", 19: "float16", 20: "resource", 21: "variant", 22: "uint32",
    23: "uint64", 24: "float8_e5m2", 25: "float8_e4m3fn", 26: "float8_e4m3fnuz",
    27: "float8_e4m3b11fnuz", 28: "float8_e5m2fnuz", 29: "int4", 30: "uint4",
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


def to_numpy(enum: int):
    """numpy dtype for a DataType enum; strings are object arrays of bytes."""
    try:
        return _numpy_tables()[0][base(enum)]
    except KeyError:
        from .errors import UnsupportedError
        raise UnsupportedError(f"data type {name(enum)} has no numpy equivalent") from None


def from_numpy(dtype) -> int:
    """DataType enum for a numpy dtype (bytes/str arrays count as DT_STRING)."""
    import numpy as np
    dtype = np.dtype(dtype)
    if dtype.kind in "SUO":
        return DT["DT_STRING"]
    try:
        return _numpy_tables()[1][dtype]
    except KeyError:
        from .errors import UnsupportedError
        raise UnsupportedError(f"numpy dtype {dtype} has no TensorFlow equivalent") from None


def itemsize(enum: int) -> int | None:
    """Bytes per element for fixed-size types, None for strings/resources/variants."""
    b = base(enum)
    table = _numpy_tables()[0]
    if b in (7, 20, 21) or b not in table:
        return None
    return table[b].itemsize
