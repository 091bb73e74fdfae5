"""The tree of a document, as plain Python objects (no Qt), built from core's readers.

A ``Node`` has a label (what the tree shows and ``--select`` matches), a kind, optional
dtype/shape/size columns, a ``payload`` the detail panels use, and children that are built on
first use by a loader function. Loaders may be slow (opening a document, opening one checkpoint
of a training run): the Qt model runs those in a worker (``Node.slow``).

Errors while building children become an error child, so one bad piece never hides the rest.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tensorloupe.core.checkpoint.bundle import CheckpointReader
from tensorloupe.core.checkpoint.keys import OBJECT_GRAPH_KEY
from tensorloupe.core.errors import TensorloupeError
# Shared with core: the SavedModel summary counts each variable once the same way.
from tensorloupe.core.saved_model import (INIT_OP_SIGNATURE_KEY as INIT_OP, MetaGraph,
                                          Signature, saved_model_variable_names)
from tensorloupe.core.summaries import (ConstTensor, collection_summaries, function_summary,
                                        graph_nodes, saver_summary)

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


def close_document(node: Node) -> None:
    """Release the files a document holds open (checkpoint shards and their memory maps): every
    core object in its tree that owns files is closed once (a SavedModel closes the checkpoint
    of its variables itself)."""
    owners = {}
    stack = [node]
    while stack:
        n = stack.pop()
        stack.extend(n.loaded_children())
        obj = n.payload.reader if isinstance(n.payload, TensorRef) else n.payload
        if isinstance(obj, _closable_types()):
            owners[id(obj)] = obj
    for owner in owners.values():
        owner.close()


def _closable_types() -> tuple[type, ...]:
    from tensorloupe.core.checkpoint.bundle import CheckpointReader
    from tensorloupe.core.graph_file import GraphModel
    from tensorloupe.core.saved_model import SavedModel
    return CheckpointReader, SavedModel, GraphModel


# ---------------------------------------------------------------------- documents
def open_document(path) -> Node:
    """Open ``path`` with core and return its root node (children loaded as needed).

    Runs in a worker. A failure gives an error node labelled with the file name."""
    p = Path(os.fspath(path))
    label = p.name or str(p)
    import tensorloupe.core as core
    from tensorloupe.core.detect import kind_of
    try:
        kind, target = kind_of(p)
        if kind == "saved_model":
            return saved_model_node(core.open_saved_model(target), label)
        if kind == "checkpoint":
            return checkpoint_path_node(target, label)
        return graph_node(core.open_graph(target), label)
    except TensorloupeError as exc:
        node = error_node(exc, label)
        node.detail = str(p)
        return node
    except (OSError, ValueError, MemoryError) as exc:
        node = error_node(exc, label)
        node.detail = str(p)
        return node


def checkpoint_path_node(target: Path, label: str) -> Node:
    """A checkpoint prefix, or a training directory listing its checkpoints."""
    target = Path(target)
    if target.is_dir():
        run = _training_run(target)
        if run is not None:
            return run
    import tensorloupe.core as core
    reader = core.open_checkpoint(target)
    return checkpoint_node(reader, label, str(target))


def _training_run(directory: Path) -> Node | None:
    from tensorloupe.core.checkpoint import state
    try:
        run = state.training_run(directory)
    except TensorloupeError as exc:
        node = error_node(exc, directory.name)
        return node
    prefixes = [Path(item.prefix) for item in run]
    if len(prefixes) < 2:
        return None  # one checkpoint: show it directly
    latest = None
    try:
        latest = state.latest_checkpoint(directory)
    except TensorloupeError:
        pass
    latest = latest or prefixes[-1]
    root = Node(label=directory.name or str(directory), kind=TRAINING_RUN,
                detail=str(directory), payload=run)
    root.info = [("directory", str(directory)), ("checkpoints", str(len(prefixes))),
                 ("latest", Path(latest).name if latest else "–")]
    import datetime
    for item in run:
        when = (datetime.datetime.fromtimestamp(item.timestamp).strftime("%Y-%m-%d %H:%M:%S")
                if item.timestamp else "time not recorded")
        step = f"step {item.step}, " if item.step is not None else ""
        root.info.append((item.name, f"{step}saved {when}"))
    children = []
    for prefix in prefixes:
        name = Path(prefix).name
        child = Node(label=name, kind=CHECKPOINT, detail=str(prefix))
        if latest and Path(prefix) == Path(latest):
            child.detail = f"{prefix} (latest)"
        child.loader = _lazy_checkpoint_loader(child, Path(prefix))
        child.slow = True
        children.append(child)
    root.set_children(children)
    return root


def _lazy_checkpoint_loader(node: Node, prefix: Path):
    def load():
        import tensorloupe.core as core
        reader = core.open_checkpoint(prefix)
        node.payload = reader
        built = checkpoint_node(reader, node.label, str(prefix))
        node.params, node.nbytes, node.info = built.params, built.nbytes, built.info
        return built.children()
    return load


def checkpoint_node(reader, label: str, where: str) -> Node:
    root = Node(label=label, kind=CHECKPOINT, payload=reader, detail=where)
    root.set_children(checkpoint_variable_nodes(reader))
    sum_totals(root)
    n_vars = sum(1 for n in _walk(root) if n.kind == VARIABLE)
    n_slots = sum(1 for n in _walk(root) if n.kind == SLOT)
    root.info = [("path", where), ("tensors", str(len(reader.keys()))),
                 ("variables", str(n_vars)), ("optimizer slots", str(n_slots))]
    return root


def _walk(node: Node):
    for c in node.loaded_children():
        yield c
        yield from _walk(c)


def _readable_names(reader) -> dict:
    """key -> NameInfo of a checkpoint; a Const value (one tensor, no object graph) has none,
    and a damaged object graph leaves the raw keys."""
    if not isinstance(reader, CheckpointReader):
        return {}
    try:
        return reader.readable_names()
    except TensorloupeError:
        return {}


def _tensor_node(reader, key: str, label: str, kind: str, readable: str = "") -> Node:
    node = Node(label=label, kind=kind, payload=TensorRef(reader, key, readable or key))
    try:
        shape = tuple(int(d) for d in reader.shape(key))
        dtype = np.dtype(reader.dtype(key))
        node.shape = shape_text(shape)
        node.dtype = "string" if dtype.kind == "O" else dtype.name
        node.params = _prod(shape)
        node.nbytes = int(reader.nbytes(key))
    except TensorloupeError as exc:
        node.error = str(exc)
    node.detail = key
    return node


def checkpoint_variable_nodes(reader, names: dict[str, str] | None = None) -> list[Node]:
    """Variables grouped by scope, slots under their variable.

    ``names`` (key -> readable name) overrides the checkpoint's own readable names (a
    SavedModel's object graph knows better ones)."""
    infos = _readable_names(reader)
    # Keys of private containers (Keras' `_all_variables/3`) after the public ones, so that a
    # variable stored twice is shown under its public key.
    keys = sorted(reader.keys(), key=lambda k: (k.startswith("_"), k))
    root = Node(label="", kind=GROUP)
    groups: dict[tuple[str, ...], Node] = {(): root}
    by_key: dict[str, Node] = {}
    by_name: dict[str, Node] = {}
    slots = []

    def group_for(parts: tuple[str, ...]) -> Node:
        if parts in groups:
            return groups[parts]
        parent = group_for(parts[:-1])
        g = Node(label=parts[-1], kind=GROUP)
        g._children = []
        parent.add(g)
        groups[parts] = g
        return g

    for key in keys:
        info = infos.get(key)
        kind = info.kind if info is not None else None
        readable = ((names or {}).get(key) or (info.readable if info is not None else None)
                    or _plain_name(key))
        if kind == "slot" or (kind is None and "/.OPTIMIZER_SLOT/" in key):
            slots.append((key, info, readable))
            continue
        node_kind = {"variable": VARIABLE, "optimizer": OPTIMIZER}.get(kind, None)
        if node_kind is None:
            node_kind = OTHER_TENSOR if (key == OBJECT_GRAPH_KEY or kind == "other") else VARIABLE
        parts = tuple(p for p in readable.split("/") if p) or (key,)
        parent = group_for(parts[:-1])
        existing = by_name.get(readable)
        if existing is not None and names:
            # A SavedModel can store one variable under two keys; show it once.
            existing.info.append(("also stored as", key))
            continue
        node = _tensor_node(reader, key, parts[-1], node_kind, readable)
        parent.add(node)
        by_key[key] = node
        by_name[readable] = node

    for key, info, readable in slots:
        owner_ref = info.slot_of if info is not None else None
        slot_name = (info.slot_name if info is not None else None) or readable.rsplit("/", 1)[-1]
        owner = by_key.get(owner_ref) or by_name.get(owner_ref or "")
        if owner is None:
            owner = by_key.get(_slot_owner_key(key))
        node = _tensor_node(reader, key, slot_name, SLOT, readable)
        if owner is not None:
            owner.add(node)
        else:
            # A slot whose variable is not in this checkpoint: keep it where its name says.
            parts = tuple(p for p in readable.split("/") if p) or (key,)
            node.label = parts[-1]
            group_for(parts[:-1]).add(node)
    _sort_tree(root)
    return root.loaded_children()


def _slot_owner_key(key: str) -> str:
    # model/dense/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE
    head = key.split("/.OPTIMIZER_SLOT/")[0]
    return head + _ATTR_SUFFIX


def _plain_name(key: str) -> str:
    if key.endswith(_ATTR_SUFFIX):
        return key[: -len(_ATTR_SUFFIX)]
    return key


def _sort_tree(node: Node) -> None:
    kids = node.loaded_children()
    if not kids:
        return
    # Groups and variables together in natural order; the object graph entry last.
    kids.sort(key=lambda n: (n.kind == OTHER_TENSOR and n.label.startswith("_"),
                             natural_key(n.label)))
    for c in kids:
        if c.kind != VARIABLE:
            _sort_tree(c)


# ---------------------------------------------------------------------- SavedModel
def saved_model_node(sm, label: str) -> Node:
    root = Node(label=label, kind=SAVED_MODEL, payload=sm, detail=str(sm.path))
    children = []
    for mg in sm.meta_graphs:
        tags = ", ".join(mg.tags) or "(no tags)"
        node = Node(label=tags, kind=META_GRAPH, payload=mg,
                    detail=f"MetaGraphDef tagged {tags}")
        node.loader = _meta_graph_loader(sm, mg)
        children.append(node)
    root.set_children(children)
    return root


def _meta_graph_loader(sm, mg):
    def load():
        out = []
        out.append(_signatures_group(mg))
        out.append(_functions_group(mg))
        out.append(_variables_group(sm, mg))
        out.append(_assets_group(sm, mg))
        if sm.assets_extra:
            out.append(_files_group("assets.extra", sm.assets_extra, sm.path / "assets.extra"))
        out.append(_collections_group(mg))
        if mg.saver_def is not None:
            out.append(_saver_node(mg.saver_def))
        return out
    return load


def _signatures_group(mg) -> Node:
    g = Node(label="signatures", kind=GROUP)
    g._children = []
    for key, sig in mg.signatures.items():
        method = sig.method_name.rsplit("/", 1)[-1] if sig.method_name else ""
        node = Node(label=key, kind=SIGNATURE, payload=SignatureRef(sig, mg),
                    detail=sig.method_name, dtype="", shape="")
        node.info = [("method", sig.method_name or "(none)")]
        if method:
            node.kind = SIGNATURE
            node.dtype = method
        node.loader = _signature_loader(sig)
        g.add(node)
    g.detail = f"{len(g.loaded_children())} signatures"
    return g


def _signature_loader(sig):
    def load():
        out = []
        for title, specs, kind in (("inputs", sig.inputs, INPUT), ("outputs", sig.outputs, OUTPUT)):
            g = Node(label=title, kind=GROUP)
            g._children = []
            for key, spec in specs.items():
                g.add(_spec_node(key, spec, kind))
            out.append(g)
        return out
    return load


def _spec_node(key, spec, kind) -> Node:
    from tensorloupe.core import dtypes
    dtype = dtypes.python_name(spec.dtype)
    tensor = spec.name or spec.encoding
    node = Node(label=key, kind=kind, dtype=dtype, shape=spec.shape_text, payload=spec,
                detail=tensor)
    node.info = [("key", key), ("dtype", spec.dtype_name), ("shape", spec.shape_text),
                 ("tensor", tensor)]
    return node


def _functions_group(mg) -> Node:
    g = Node(label="functions", kind=GROUP)

    def load():
        out = []
        for listing in mg.concrete_functions():
            f = Node(label=listing.name, kind=FUNCTION, payload=listing,
                     detail=f"{len(listing.options)} concrete function(s)")
            f._children = []
            for i, option in enumerate(listing.options, 1):
                c = Node(label=f"option {i}", kind=CONCRETE, detail=option.concrete_name,
                         payload=option)
                c.info = [("concrete function", option.concrete_name)]
                c._children = []
                for j, arg in enumerate(option.args, 1):
                    c.add(Node(label=f"argument {j}", kind=ARGUMENT, detail=repr(arg),
                               info=[("value", repr(arg))]))
                for name, value in option.kwargs.items():
                    c.add(Node(label=str(name), kind=ARGUMENT, detail=repr(value),
                               info=[("value", repr(value))]))
                f.add(c)
            out.append(f)
        library = mg.functions
        if library:
            lib = Node(label="library", kind=GROUP, detail=f"{len(library)} FunctionDefs")

            def load_library():
                items = []
                for name, fdef in library.items():
                    summary = function_summary(name, fdef)
                    n = Node(label=name, kind=LIBRARY_FUNCTION, payload=fdef,
                             detail=f"{summary.node_count} nodes")
                    n.info = [("nodes", str(summary.node_count)),
                              ("inputs", ", ".join(summary.inputs)),
                              ("outputs", ", ".join(summary.outputs))]
                    items.append(n)
                return items
            lib.loader = load_library
            out.append(lib)
        return out
    g.loader = load
    return g




def _variables_group(sm, mg) -> Node:
    g = Node(label="variables", kind=GROUP)

    def load():
        reader = sm.variables
        if reader is None:
            return [Node(label="(no variables)", kind=INFO,
                         detail="This SavedModel has no variables/ checkpoint.")]
        g.payload = reader
        names = saved_model_variable_names(mg, reader)
        kids = checkpoint_variable_nodes(reader, names)
        holder = Node(label="", kind=GROUP)
        holder.set_children(kids)
        sum_totals(holder)
        g.params, g.nbytes = holder.params, holder.nbytes
        return kids
    g.loader = load
    g.slow = True
    return g


def _assets_group(sm, mg) -> Node:
    g = Node(label="assets", kind=GROUP)
    g._children = []
    seen = set()
    total = 0
    for a in mg.asset_file_defs:
        path = a.path
        node = _file_node(a.filename, path)
        node.info = [("asset tensor", a.tensor_name), ("file", str(path))] + node.info
        g.add(node)
        seen.add(os.fspath(path) if path else None)
        total += node.nbytes or 0
    for p in sm.assets:
        if os.fspath(p) in seen:
            continue
        rel = os.path.relpath(p, sm.path / "assets")
        node = _file_node(rel, p)
        g.add(node)
        total += node.nbytes or 0
    g.nbytes = total if g.loaded_children() else None
    return g


def _files_group(label: str, files, root: Path) -> Node:
    g = Node(label=label, kind=GROUP)
    g._children = []
    total = 0
    for p in files:
        node = _file_node(os.path.relpath(p, root), p)
        g.add(node)
        total += node.nbytes or 0
    g.nbytes = total if g.loaded_children() else None
    return g


def _file_node(label: str, path) -> Node:
    node = Node(label=label, kind=ASSET, payload=Path(path) if path else None,
                detail=str(path))
    try:
        node.nbytes = os.path.getsize(path)
    except (OSError, TypeError) as exc:
        node.error = f"cannot read {path}: {exc.strerror if isinstance(exc, OSError) else exc}"
    return node


def _collections_group(mg) -> Node:
    g = Node(label="collections", kind=GROUP)
    g._children = []
    for summary in collection_summaries(mg.collections):
        node = Node(label=summary.name, kind=COLLECTION, dtype=summary.value_type,
                    detail=f"{summary.count} item(s)", payload=summary)
        node.info = [("kind", summary.kind), ("items", str(summary.count))]
        node.info += [(f"[{i}]", text) for i, text in enumerate(summary.items)]
        g.add(node)
    return g


def _saver_node(saver_def) -> Node:
    saver = saver_summary(saver_def)
    node = Node(label="saver", kind=SAVER, detail=f"SaverDef {saver.version}", payload=saver)
    node.info = [("filename tensor", saver.filename_tensor),
                 ("save tensor", saver.save_tensor),
                 ("restore op", saver.restore_op),
                 ("max to keep", str(saver.max_to_keep)),
                 ("sharded", "yes" if saver.sharded else "no"),
                 ("keep every n hours", f"{saver.keep_every_n_hours:g}"),
                 ("format", saver.version)]
    return node


# ---------------------------------------------------------------------- GraphDef
def graph_node(gm, label: str) -> Node:
    """A frozen GraphDef, or a TF1 .meta with its MetaGraphDef and the checkpoint beside it."""
    root = Node(label=label, kind=GRAPH, payload=gm, detail=str(gm.path))

    def load():
        out = []
        mg = gm.meta_graph
        if mg is not None:
            out.append(_signatures_group(mg))
            out.append(_collections_group(mg))
            if mg.saver_def is not None:
                out.append(_saver_node(mg.saver_def))
        if gm.checkpoint is not None:
            try:
                reader = gm.open_checkpoint()
            except TensorloupeError as exc:
                out.append(error_node(exc, "variables"))
            else:
                v = Node(label="variables", kind=GROUP, payload=reader,
                         detail=str(gm.checkpoint))
                v.set_children(checkpoint_variable_nodes(reader))
                sum_totals(v)
                out.append(v)
        out.append(_graph_nodes_group(gm.graph_def))
        funcs = gm.functions
        if funcs:
            lib = Node(label="library", kind=GROUP, detail=f"{len(funcs)} FunctionDefs")
            lib._children = []
            for name, fdef in funcs.items():
                lib.add(Node(label=name, kind=LIBRARY_FUNCTION, payload=fdef,
                             detail=f"{function_summary(name, fdef).node_count} nodes"))
            out.append(lib)
        return out
    root.loader = load
    return root


def _graph_nodes_group(graph_def) -> Node:
    """The graph's nodes grouped by op type (the graph view shows how they connect)."""
    nodes = graph_nodes(graph_def)
    g = Node(label="nodes", kind=GROUP, detail=f"{len(nodes)} nodes")

    def load():
        by_op: dict[str, list] = {}
        for node in nodes:
            by_op.setdefault(node.op, []).append(node)
        out = []
        for op in sorted(by_op, key=natural_key):
            group = Node(label=op, kind=GROUP, detail=f"{len(by_op[op])} nodes")
            group._children = []
            for node in by_op[op]:
                if node.has_constant_value:
                    group.add(_const_node(node))
                    continue
                item = Node(label=node.name, kind=INFO, dtype=op, detail=node.name,
                            payload=node.node_def)
                item.info = [("op", node.op), ("inputs", ", ".join(node.inputs) or "none"),
                             ("device", node.device or "(any)")]
                group.add(item)
            out.append(group)
        return out
    g.loader = load
    return g


def _const_node(summary) -> Node:
    reader = ConstTensor(summary.node_def)
    node = _tensor_node(reader, summary.name, summary.name, OTHER_TENSOR, summary.name)
    node.kind = CONSTANT
    node.info = [("op", "Const")]
    return node
