"""A run's trace records keyed by the node ids of a graph."""
from __future__ import annotations

from .. import dtypes
from ..errors import TensorloupeError
from .model import Graph


def trace_for_graph(graph: Graph, records) -> dict:
    """A run's trace records (core.engine NodeRecord) keyed by the graph's node ids, in the
    form ``Graph.set_trace`` takes.

    A record names its node inside the functions it ran in (``function_path``); a graph
    node id spells the call nodes that lead to it, so both are matched through the
    functions of the calls above each graph node. Nodes that ran several times (loops) add
    up their time; NaN/Inf in any run counts."""
    by_key: dict = {}
    for nid, node in graph.nodes.items():
        fns = tuple(graph.groups[gid].function for gid in reversed(graph.ancestors(nid))
                    if graph.groups[gid].kind == "call")
        by_key.setdefault((fns, node.name), nid)
        by_key.setdefault(((), nid), nid)
    out: dict = {}
    for r in records or ():
        nid = by_key.get((tuple(r.function_path), r.name))
        if nid is None and not r.function_path:
            nid = by_key.get(((), r.name))
        if nid is None:
            continue
        entry = out.get(nid)
        bad = bool(r.has_nan or r.has_inf)
        if entry is None:
            out[nid] = {"seconds": float(r.seconds or 0.0), "nan": bad,
                        "shapes": list(r.shapes), "dtypes": _enum_dtypes(r.dtypes)}
        else:
            entry["seconds"] += float(r.seconds or 0.0)
            entry["nan"] = entry["nan"] or bad
    return out


def _enum_dtypes(names) -> list:
    """Trace dtype names (``float32``) as DataType enums for edge labels (None if unknown)."""
    import numpy as np
    out = []
    for name in names:
        try:
            out.append(int(dtypes.from_numpy(np.dtype(name))))
        except (TypeError, ValueError, KeyError, TensorloupeError, AttributeError):
            out.append(None)
    return out
