"""Which graph a tree item of ``gui.nodes`` shows, and how it is built (in a worker)."""
from __future__ import annotations

from typing import Callable

from tensorloupe.core import graph as G


def graph_source(tree_node) -> Callable[[], G.Graph] | None:
    """A function building the Graph for a tree item, or None when it has no graph. The
    function does all the reading; call it in a worker."""
    from tensorloupe.core.graph_file import GraphModel
    from tensorloupe.core.saved_model import MetaGraph

    from ... import nodes as N
    if tree_node is None:
        return None
    payload, kind = tree_node.payload, tree_node.kind
    if isinstance(payload, N.SignatureRef):
        return lambda: G.graph_for_signature(payload.meta_graph, payload.signature.key)
    if isinstance(payload, MetaGraph):
        return lambda: G.build_graph(payload, "graph")
    if isinstance(payload, GraphModel):
        return lambda: G.build_graph(payload)
    if kind == N.LIBRARY_FUNCTION and payload is not None:
        owner = graph_owner(tree_node)
        name = tree_node.label   # a library item is labelled with its function's name
        if owner is not None:
            return lambda: G.graph_for_library_function(owner, name)
    return None


def graph_owner(tree_node):
    """The MetaGraph or GraphModel a tree item belongs to (None when it has none)."""
    from tensorloupe.core.graph_file import GraphModel
    from tensorloupe.core.saved_model import MetaGraph
    node = tree_node
    while node is not None:
        if isinstance(node.payload, (MetaGraph, GraphModel)):
            return node.payload
        node = node.parent
    return None


def graph_key(tree_node) -> tuple:
    """What identifies the graph a tree item shows (to avoid rebuilding the same one)."""
    from ... import nodes as N
    payload = tree_node.payload
    if isinstance(payload, N.SignatureRef):
        return ("sig", id(payload.meta_graph), payload.signature.key)
    return ("obj", id(payload))
