"""Checkpoints and training runs as trees: variables grouped by scope, optimizer slots under
their variable, every checkpoint of a run opened on demand."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tensorloupe.core.checkpoint.bundle import CheckpointReader
from tensorloupe.core.checkpoint.keys import OBJECT_GRAPH_KEY
from tensorloupe.core.errors import TensorloupeError

from .node import (_ATTR_SUFFIX, CHECKPOINT, GROUP, OPTIMIZER, OTHER_TENSOR, SLOT, TRAINING_RUN,
                   VARIABLE, Node, TensorRef, _prod, error_node, natural_key, shape_text,
                   sum_totals, walk)


def training_run_node(directory: Path) -> Node | None:
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
    n_vars = sum(1 for n in walk(root) if n.kind == VARIABLE)
    n_slots = sum(1 for n in walk(root) if n.kind == SLOT)
    root.info = [("path", where), ("tensors", str(len(reader.keys()))),
                 ("variables", str(n_vars)), ("optimizer slots", str(n_slots))]
    return root


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
