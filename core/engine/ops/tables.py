"""Lookup tables: HashTable(V2), MutableHashTable(V2) and their initializers and lookups.

A table is created when its op first runs and then lives in the session (running the op
again returns the same table, as in TensorFlow); initializers fill it once.
"""
from __future__ import annotations

import os

import numpy as np

from ... import dtypes
from ...errors import ExecutionError
from ..registry import kernel, np_dtype
from ..resources import ResourceHandle

_TABLE_DEFAULTS = {"container": b"", "shared_name": b"", "use_node_name_sharing": False}


class Table:
    __slots__ = ("name", "key_dtype", "value_dtype", "data", "initialized", "mutable")

    def __init__(self, name, key_dtype, value_dtype, mutable=False):
        self.name = name
        self.key_dtype = key_dtype
        self.value_dtype = value_dtype
        self.data: dict = {}
        self.initialized = mutable
        self.mutable = mutable


def _key(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


@kernel("HashTableV2", "HashTable", "MutableHashTableV2", "MutableHashTable",
        outputs=("table_handle",), defaults=_TABLE_DEFAULTS,
        description="a key -> value lookup table")
def hash_table(ctx, inputs, attrs):
    shared = attrs.get("shared_name", b"")
    shared = shared.decode() if isinstance(shared, bytes) else str(shared)
    if not shared or attrs.get("use_node_name_sharing"):
        shared = shared or "/".join(ctx.function_path + (ctx.node_name,))
    c = attrs.get("container", b"")
    handle = ResourceHandle("table", c.decode() if isinstance(c, bytes) else c, shared)
    mutable = ctx.op.startswith("Mutable")
    ctx.resources.get(handle, lambda: Table(shared, attrs.get("key_dtype"),
                                            attrs.get("value_dtype"), mutable))
    return handle


def _table(ctx, handle) -> Table:
    table = ctx.resources.get(handle)
    if not isinstance(table, Table):
        raise ExecutionError(f"{ctx.where()}: '{handle.name}' is not a lookup table")
    return table


def _fill(ctx, table: Table, keys, values) -> None:
    keys = np.asarray(keys).reshape(-1)
    values = np.asarray(values).reshape(-1)
    if keys.shape != values.shape:
        raise ExecutionError(f"{ctx.where()}: {keys.size} keys but {values.size} values")
    table.data.update(zip((_key(k) for k in keys), values))


@kernel("InitializeTableV2", "InitializeTable", outputs=(), stateful=True,
        description="fills a lookup table from two tensors")
def initialize_table(ctx, inputs, attrs):
    table = _table(ctx, inputs[0])
    if table.initialized:
        return ()
    _fill(ctx, table, inputs[1], inputs[2])
    table.initialized = True
    return ()


@kernel("InitializeTableFromTextFileV2", "InitializeTableFromTextFile", outputs=(), stateful=True,
        defaults={"vocab_size": -1, "delimiter": b"\t", "offset": 0},
        description="fills a lookup table from a text file (a vocabulary)")
def initialize_from_text(ctx, inputs, attrs):
    table = _table(ctx, inputs[0])
    if table.initialized:
        return ()
    name = np.asarray(inputs[1]).reshape(()).item()
    path = name.decode("utf-8", "surrogateescape") if isinstance(name, bytes) else str(name)
    # The file must be one of the model's assets (symlinks followed): a graph can name any
    # path here, and the table would hand its lines back as outputs.
    ctx.session.model_file(path, f"{ctx.where()}: the vocabulary file")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ExecutionError(f"{ctx.where()}: cannot read the vocabulary file {path} "
                             f"({exc.strerror or exc})") from None
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    lines = [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]
    vocab_size = int(attrs.get("vocab_size", -1))
    if vocab_size > 0:
        if len(lines) < vocab_size:
            raise ExecutionError(f"{ctx.where()}: {os.path.basename(path)} has {len(lines)} lines, "
                                 f"fewer than vocab_size {vocab_size}")
        lines = lines[:vocab_size]
    delim = attrs.get("delimiter", b"\t")
    delim = delim if isinstance(delim, bytes) else str(delim).encode()
    key_index, value_index = int(attrs["key_index"]), int(attrs["value_index"])
    offset = int(attrs.get("offset", 0))

    def column(line, number, index, dtype_enum):
        if index == -1:  # the line number
            value = number + offset
        elif index == -2:  # the whole line
            value = line
        else:
            cols = line.split(delim)
            if index >= len(cols):
                raise ExecutionError(f"{ctx.where()}: line {number + 1} of {os.path.basename(path)} "
                                     f"has no column {index}")
            value = cols[index]
        if dtype_enum is None:
            return value
        base = dtypes.base(dtype_enum)
        if base == 7:
            return value if isinstance(value, bytes) else str(value).encode()
        try:
            target = np_dtype(base)
            return target.type(int(value) if target.kind in "iu" else float(value)).item()
        except ValueError:
            raise ExecutionError(f"{ctx.where()}: line {number + 1} of {os.path.basename(path)}: "
                                 f"{value!r} is not a number") from None

    for number, line in enumerate(lines):
        k = column(line, number, key_index, table.key_dtype)
        v = column(line, number, value_index, table.value_dtype)
        if k in table.data:
            raise ExecutionError(f"{ctx.where()}: duplicate key {k!r} in {os.path.basename(path)} "
                                 f"(line {number + 1})")
        table.data[k] = v
    table.initialized = True
    return ()


@kernel("LookupTableFindV2", "LookupTableFind", outputs=("values",),
        description="looks keys up in a table (unknown keys get the default)")
def lookup_find(ctx, inputs, attrs):
    table = _table(ctx, inputs[0])
    keys = np.asarray(inputs[1])
    default = np.asarray(inputs[2])
    out_dtype = np_dtype(attrs["Tout"]) if "Tout" in attrs else (
        np_dtype(table.value_dtype) if table.value_dtype is not None else default.dtype)
    if not table.initialized:
        raise ExecutionError(f"{ctx.where()}: table '{table.name}' is not initialized")
    data = table.data
    flat = keys.reshape(-1)
    if default.size == 1:
        d = default.reshape(()).item() if out_dtype != object else default.reshape(-1)[0]
        vals = [data.get(_key(k), d) for k in flat]
        out = np.empty(len(vals), dtype=out_dtype)
        out[:] = vals if out_dtype != object else np.array(vals, dtype=object)
        return out.reshape(keys.shape)
    # a default per element (same shape as keys), or per value row
    dflat = np.broadcast_to(default, keys.shape).reshape(-1)
    out = np.empty(flat.size, dtype=out_dtype)
    for i, k in enumerate(flat):
        out[i] = data.get(_key(k), dflat[i])
    return out.reshape(keys.shape)


@kernel("LookupTableImportV2", "LookupTableImport", outputs=(), stateful=True,
        description="replaces a table's contents")
def lookup_import(ctx, inputs, attrs):
    table = _table(ctx, inputs[0])
    table.data.clear()
    _fill(ctx, table, inputs[1], inputs[2])
    table.initialized = True
    return ()


@kernel("LookupTableInsertV2", "LookupTableInsert", outputs=(), stateful=True,
        description="adds keys to a mutable table")
def lookup_insert(ctx, inputs, attrs):
    table = _table(ctx, inputs[0])
    _fill(ctx, table, inputs[1], inputs[2])
    table.initialized = True
    return ()


@kernel("LookupTableRemoveV2", outputs=(), stateful=True, description="removes keys from a table")
def lookup_remove(ctx, inputs, attrs):
    table = _table(ctx, inputs[0])
    for k in np.asarray(inputs[1]).reshape(-1):
        table.data.pop(_key(k), None)
    return ()


@kernel("LookupTableSizeV2", "LookupTableSize", outputs=("size",),
        description="how many keys a table holds")
def lookup_size(ctx, inputs, attrs):
    return np.array(len(_table(ctx, inputs[0]).data), dtype=np.int64)


@kernel("LookupTableExportV2", "LookupTableExport", outputs=("keys", "values"),
        description="all keys and values of a table")
def lookup_export(ctx, inputs, attrs):
    table = _table(ctx, inputs[0])
    kd = np_dtype(attrs["Tkeys"]) if "Tkeys" in attrs else object
    vd = np_dtype(attrs["Tvalues"]) if "Tvalues" in attrs else object
    keys = np.array(list(table.data.keys()), dtype=kd)
    values = np.array(list(table.data.values()), dtype=vd)
    return keys, values
