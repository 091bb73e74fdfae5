"""A frozen GraphDef or a TF1 .meta as a tree: its nodes by op type, constants as tensors, and
the checkpoint beside a .meta."""
from __future__ import annotations

from tensorloupe.core.errors import TensorloupeError
from tensorloupe.core.summaries import ConstTensor, function_summary, graph_nodes

from .checkpoints import _tensor_node, checkpoint_variable_nodes
from .node import (CONSTANT, GRAPH, GROUP, INFO, LIBRARY_FUNCTION, OTHER_TENSOR, Node, error_node,
                   natural_key, sum_totals)
from .saved_models import _collections_group, _saver_node, _signatures_group


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
