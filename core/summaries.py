"""Plain-data views of the protobuf messages a browser lists: collections, the SaverDef, the nodes
of a GraphDef, a FunctionDef's signature and a Const node's value.

The window (and any script) reads these instead of decoding protobuf messages itself, so the
message layout is known in one place: core.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import dtypes
from .tensors import shape_dims, to_numpy

MAX_LISTED_ITEMS = 200   # items of a collection kept for display
MAX_ITEM_CHARS = 300     # each shortened to this many characters

SAVER_VERSIONS = {0: "LEGACY", 1: "V1", 2: "V2"}


@dataclass(frozen=True)
class CollectionSummary:
    name: str
    kind: str                # node_list, bytes_list, int64_list, float_list, any_list or empty
    count: int               # items in the collection
    items: tuple[str, ...]   # the first MAX_LISTED_ITEMS, as text, each shortened

    @property
    def value_type(self) -> str:
        """The kind without its "_list" suffix: node, bytes, int64, float, any, empty."""
        return self.kind.removesuffix("_list")


def collection_summaries(collection_defs: dict) -> list[CollectionSummary]:
    """name -> CollectionDef (as ``MetaGraph.collections`` gives it) as summaries, in order."""
    out = []
    for name, cdef in collection_defs.items():
        kind = cdef.WhichOneof("kind") or "empty"
        values = list(getattr(cdef, kind).value) if kind != "empty" else []
        items = []
        for v in values[:MAX_LISTED_ITEMS]:
            text = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
            items.append(text if len(text) < MAX_ITEM_CHARS else text[:MAX_ITEM_CHARS] + "…")
        out.append(CollectionSummary(name, kind, len(values), tuple(items)))
    return out


@dataclass(frozen=True)
class SaverSummary:
    version: str             # LEGACY, V1 or V2
    filename_tensor: str
    save_tensor: str
    restore_op: str
    max_to_keep: int
    sharded: bool
    keep_every_n_hours: float


def saver_summary(saver_def) -> SaverSummary:
    version = int(saver_def.version)
    return SaverSummary(SAVER_VERSIONS.get(version, str(version)), saver_def.filename_tensor_name,
                        saver_def.save_tensor_name, saver_def.restore_op_name,
                        int(saver_def.max_to_keep), bool(saver_def.sharded),
                        float(saver_def.keep_checkpoint_every_n_hours))


@dataclass(frozen=True)
class FunctionSummary:
    name: str
    node_count: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def function_summary(name: str, fdef) -> FunctionSummary:
    sig = fdef.signature
    return FunctionSummary(name, len(fdef.node_def), tuple(a.name for a in sig.input_arg),
                           tuple(a.name for a in sig.output_arg))


@dataclass(frozen=True)
class NodeSummary:
    """One node of a GraphDef as the tree lists it."""
    name: str
    op: str
    inputs: tuple[str, ...]
    device: str
    node_def: object         # the NodeDef itself, for the graph view and the engine

    @property
    def has_constant_value(self) -> bool:
        return self.op == "Const" and "value" in self.node_def.attr


def graph_nodes(graph_def) -> list[NodeSummary]:
    return [NodeSummary(n.name, n.op, tuple(n.input), n.device, n) for n in graph_def.node]


class ConstTensor:
    """The value of one Const node, with the reading methods of a checkpoint reader (keys, shape,
    dtype, read), so whatever shows a checkpoint tensor shows it too."""

    def __init__(self, node_def):
        if node_def.op != "Const" or "value" not in node_def.attr:
            raise ValueError(f"node {node_def.name!r} is not a Const with a value")
        self._proto = node_def.attr["value"].tensor
        self.name = node_def.name

    def keys(self) -> list[str]:
        return [self.name]

    def shape(self, key: str) -> tuple[int, ...]:
        return shape_dims(self._proto.tensor_shape) or ()

    def dtype(self, key: str) -> np.dtype:
        return dtypes.to_numpy(self._proto.dtype)

    def nbytes(self, key: str) -> int:
        """Bytes of the value in memory (strings count as one pointer each, as numpy holds them)."""
        return int(np.prod(self.shape(key), dtype=np.int64)) * self.dtype(key).itemsize

    def read(self, key: str) -> np.ndarray:
        return to_numpy(self._proto)
