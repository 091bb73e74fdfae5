"""Opening a path as a document tree, and closing what a document holds open."""
from __future__ import annotations

import os
from pathlib import Path

from tensorloupe.core.errors import TensorloupeError

from .checkpoints import checkpoint_node, training_run_node
from .graphs import graph_node
from .node import Node, TensorRef, error_node
from .saved_models import saved_model_node


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
        run = training_run_node(target)
        if run is not None:
            return run
    import tensorloupe.core as core
    reader = core.open_checkpoint(target)
    return checkpoint_node(reader, label, str(target))
