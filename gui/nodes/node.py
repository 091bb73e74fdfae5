"""A tree item: ``Node``, its kinds, and what its payload holds for each kind."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from tensorloupe.core.checkpoint.bundle import CheckpointReader
from tensorloupe.core.errors import TensorloupeError
from tensorloupe.core.saved_model import INIT_OP_SIGNATURE_KEY as INIT_OP
from tensorloupe.core.saved_model import MetaGraph, Signature
from tensorloupe.core.summaries import ConstTensor

# Kinds (shown in the "kind" column; panels are chosen from them)
SAVED_MODEL = "SavedModel"
META_GRAPH = "MetaGraphDef"
GROUP = "group"
SIGNATURE = "signature"
INPUT = "input"
OUTPUT = "output"
FUNCTION = "function"
CONCRETE = "concrete function"
ARGUMENT = "argument"
LIBRARY_FUNCTION = "library function"
VARIABLE = "variable"
SLOT = "slot"
OPTIMIZER = "optimizer"
OTHER_TENSOR = "tensor"
ASSET = "asset"
COLLECTION = "collection"
SAVER = "saver"
CHECKPOINT = "checkpoint"
TRAINING_RUN = "training run"
GRAPH = "GraphDef"
ERROR = "error"
LOADING = "loading…"
INFO = "info"

CONSTANT = "constant"
TENSOR_KINDS = (VARIABLE, SLOT, OPTIMIZER, OTHER_TENSOR, CONSTANT)
DOCUMENT_KINDS = (SAVED_MODEL, CHECKPOINT, TRAINING_RUN, GRAPH)

_ATTR_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


@dataclass
class TensorRef:
    """A tensor stored in a checkpoint (or a Const's value): what the tensor panel reads."""

    reader: CheckpointReader | ConstTensor
    key: str
    readable: str = ""


@dataclass(frozen=True)
class SignatureRef:
    """A signature and the MetaGraphDef it belongs to (which the run and graph views need)."""

    signature: Signature
    meta_graph: MetaGraph

    @property
    def runnable(self) -> bool:
        """Runnable here: a SavedModel's signature other than the init op."""
        return self.signature.key != INIT_OP and self.meta_graph.saved_model is not None


# What ``Node.payload`` holds, by kind (the panels rely on this, and on nothing else):
#   SAVED_MODEL SavedModel · META_GRAPH MetaGraph · SIGNATURE SignatureRef ·
#   INPUT/OUTPUT TensorSpecInfo · FUNCTION FunctionListing · CONCRETE ConcreteOption ·
#   LIBRARY_FUNCTION a FunctionDef (opaque: handed back to core) · tensor kinds TensorRef ·
#   ASSET Path, or None when the asset names no file · COLLECTION CollectionSummary ·
#   SAVER SaverSummary · CHECKPOINT CheckpointReader once opened · TRAINING_RUN
#   list[RunCheckpoint] · GRAPH GraphModel · a "variables" group its CheckpointReader ·
#   a GraphDef node (INFO) its NodeDef (opaque) · everything else None.
Payload = Any


@dataclass(eq=False)
class Node:
    label: str
    kind: str
    dtype: str = ""
    shape: str = ""
    params: int | None = None        # number of values (variables) or total of a group
    nbytes: int | None = None
    detail: str = ""                 # a short line shown as tooltip and in panels
    payload: Payload = None          # typed by kind, see Payload above
    error: str | None = None
    info: list[tuple[str, str]] = field(default_factory=list)  # key/value rows for panels
    loader: Callable[[], list["Node"]] | None = None
    slow: bool = False
    loading: bool = False            # a worker is building the children right now
    origin: str = ""                 # a document: the path it was opened from
    parent: "Node | None" = field(default=None, repr=False)
    _children: list["Node"] | None = field(default=None, repr=False)

    # ---- children
    @property
    def loaded(self) -> bool:
        return self._children is not None

    def may_have_children(self) -> bool:
        return bool(self._children) if self._children is not None else self.loader is not None

    def children(self) -> list["Node"]:
        """Children, building them now if needed (may be slow when ``self.slow``)."""
        if self._children is None:
            self.set_children(self.build_children())
        return self._children

    def loaded_children(self) -> list["Node"]:
        return self._children or []

    def build_children(self) -> list["Node"]:
        """Run the loader without storing the result (workers call this off the UI thread)."""
        if self.loader is None:
            return []
        try:
            return list(self.loader())
        except TensorloupeError as exc:
            return [error_node(exc)]
        except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError,
                MemoryError) as exc:
            return [error_node(exc)]

    def set_children(self, children: list["Node"]) -> None:
        for c in children:
            c.parent = self
        self._children = children
        self.loader = None

    def add(self, child: "Node") -> "Node":
        if self._children is None:
            self._children = []
        child.parent = self
        self._children.append(child)
        return child

    # ---- navigation
    def path(self) -> list[str]:
        out = []
        node = self
        while node is not None and node.parent is not None:
            out.append(node.label)
            node = node.parent
        return out[::-1]

    def document(self) -> "Node":
        node = self
        while node.parent is not None and node.parent.parent is not None:
            node = node.parent
        return node

    def find_child(self, label: str) -> "Node | None":
        want = normalize_label(label)
        for c in self.children():
            if normalize_label(c.label) == want:
                return c
        return None

    def size_text(self) -> str:
        from tensorloupe.core.stats import format_bytes, format_params
        parts = []
        if self.params is not None:
            parts.append(format_params(self.params))
        if self.nbytes is not None:
            parts.append(format_bytes(self.nbytes))
        return "  ·  ".join(parts)


def normalize_label(text: str) -> str:
    """Case-insensitive, without a trailing count like ' (12)' or decorations like '★'."""
    text = re.sub(r"\s*[\(\[][^\)\]]*[\)\]]\s*$", "", text.strip())
    text = text.strip(" *★•·")
    return text.casefold()


def error_node(exc: BaseException, label: str = "error") -> Node:
    message = str(exc) or type(exc).__name__
    if not isinstance(exc, TensorloupeError):
        message = f"{type(exc).__name__}: {message}"
    return Node(label=label, kind=ERROR, error=message, detail=message)


def natural_key(text: str):
    """Sort 'layer-2' before 'layer-10'."""
    return [int(t) if t.isdigit() else t.casefold() for t in re.split(r"(\d+)", text)]


def _prod(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def shape_text(shape) -> str:
    if shape is None:
        return "unknown"
    dims = list(shape)
    if len(dims) == 1:
        return f"({dims[0]},)"
    return "(" + ", ".join(str(d) for d in dims) + ")"


def sum_totals(node: Node) -> None:
    """Fill params/bytes of loaded groups from their loaded descendants (variables only count
    as parameters; every stored tensor counts towards bytes)."""
    for c in node.loaded_children():
        sum_totals(c)
    if node.kind in (GROUP, CHECKPOINT) and node.loaded:
        params = nbytes = 0
        any_param = any_bytes = False
        for c in node.loaded_children():
            if c.kind in (VARIABLE, GROUP, CHECKPOINT) and c.params is not None:
                params += c.params
                any_param = True
            if c.nbytes is not None:
                nbytes += c.nbytes + _slot_bytes(c)
                any_bytes = True
        # Optimizer state is not a parameter count: leave the column empty rather than "0".
        node.params = params if any_param else None
        node.nbytes = nbytes if any_bytes else None


def _slot_bytes(node: Node) -> int:
    if node.kind != VARIABLE:
        return 0
    return sum(c.nbytes or 0 for c in node.loaded_children() if c.kind == SLOT)


def walk(node: Node):
    for c in node.loaded_children():
        yield c
        yield from walk(c)


__all__ = [
    "SAVED_MODEL",
    "META_GRAPH",
    "GROUP",
    "SIGNATURE",
    "INPUT",
    "OUTPUT",
    "FUNCTION",
    "CONCRETE",
    "ARGUMENT",
    "LIBRARY_FUNCTION",
    "VARIABLE",
    "SLOT",
    "OPTIMIZER",
    "OTHER_TENSOR",
    "ASSET",
    "COLLECTION",
    "SAVER",
    "CHECKPOINT",
    "TRAINING_RUN",
    "GRAPH",
    "ERROR",
    "LOADING",
    "INFO",
    "CONSTANT",
    "TENSOR_KINDS",
    "DOCUMENT_KINDS",
    "TensorRef",
    "SignatureRef",
    "Payload",
    "Node",
    "normalize_label",
    "error_node",
    "natural_key",
    "shape_text",
    "sum_totals",
    "walk",
]
