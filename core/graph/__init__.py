"""The structure of a GraphDef or FunctionDef as nodes, edges and nested groups.

    g = graph_for_signature(meta_graph, "serving_default")   # what the signature computes
    g = graph_for_graph_def(graph_def)                         # a whole graph (plumbing hidden)
    g = graph_for_function(graph_def.library, "__inference_f_12")

A ``Graph`` holds ``Node`` objects (one per op, with data and control ``Edge``s between
them) and a tree of ``Group`` objects: name scopes (``dense/MatMul`` lives in group
``dense``, which is how Keras layers show up) and calls of library functions that were
opened in place (a ``StatefulPartitionedCall`` whose body is drawn inside its box).

Node and group ids are unique in a Graph, and never equal: a scope group's id ends with
``/`` (``dense/``), a call group's with ``::`` (``StatefulPartitionedCall_1::``), and the
nodes of an opened call's body are prefixed with the call group's id
(``StatefulPartitionedCall_1::dense/MatMul``). ``:`` never occurs in TensorFlow node names,
and no node name ends with ``/``, so nothing can be confused.

The view never reads the protos itself: ``Node.attributes()``, ``Node.shared_name()``,
``Node.declared_shape()``, ``Node.value_summary()`` and ``Graph.function_names()`` give what it
shows as plain data, and ``trace_for_graph`` keys a run's trace by the graph's node ids.

Pure Python; shared by the graph view (gui/panels/graph/) and usable by the engine.

The parts: ``model`` (Graph, Node, Edge, Group), ``families`` (op kinds and colour
families), ``specs`` (facts read from NodeDef and shape protos), ``attributes`` (decoded
attributes and constant summaries), ``bodies`` (reading GraphDef/FunctionDef bodies),
``groups`` (tidying the group tree, the first view's open groups), ``build`` (the entry
points) and ``trace`` (a run's trace on a graph). Everything public is importable from
here.
"""
from __future__ import annotations

from .attributes import Attribute, attribute, tensor_summary
from .build import (build_graph, graph_for_function, graph_for_graph_def,
                    graph_for_library_function, graph_for_signature)
from .families import (CALL_OPS, FAMILIES, FAMILY_LABELS, INPUT_OP, OUTPUT_OP, SAVER_OPS,
                       SOURCE_OPS, VARIABLE_OPS, op_family)
from .groups import default_open_groups
from .model import CALL_SEP, ROOT, Edge, Graph, Group, Node
# _params is private, but the tests count parameters with it
from .specs import _params, dims_text
from .trace import trace_for_graph

__all__ = [
    "CALL_OPS", "CALL_SEP", "FAMILIES", "FAMILY_LABELS", "INPUT_OP", "OUTPUT_OP", "ROOT",
    "SAVER_OPS", "SOURCE_OPS", "VARIABLE_OPS", "Attribute", "Edge", "Graph", "Group", "Node",
    "attribute", "build_graph", "default_open_groups", "dims_text", "graph_for_function",
    "graph_for_graph_def", "graph_for_library_function", "graph_for_signature", "op_family",
    "tensor_summary", "trace_for_graph",
]
