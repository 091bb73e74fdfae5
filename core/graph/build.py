"""The entry points: a Graph for a GraphDef, a library function, a signature, or whatever
core opened (SavedModel, MetaGraph, frozen graph)."""
from __future__ import annotations

from ..errors import NotFoundError
from .bodies import _Builder, _Namespace
from .families import OUTPUT_OP
from .model import CALL_SEP, ROOT, Edge, Graph, Node
from .specs import _dims, _node_of


def graph_for_graph_def(graph_def, *, op_defs=None, saver_def=None, hide_plumbing=True,
                        open_calls=False, title="graph") -> Graph:
    """The whole graph of a GraphDef (a MetaGraphDef's, a frozen graph, a .meta's).

    Calls of library functions are single nodes unless ``open_calls``."""
    b = _Builder(graph_def.library, op_defs, open_calls, hide_plumbing, saver_def)
    b.graph.title = title
    b.add_body(_Namespace("", ROOT), graph_def.node)
    b.connect()
    return b.finish()


def graph_for_function(library, name: str, *, op_defs=None, hide_plumbing=True,
                       open_calls=True) -> Graph:
    """The body of one library function: its arguments as inputs, its results as outputs;
    calls inside it opened in place when ``open_calls``."""
    functions = {f.signature.name: f for f in library.function}
    fdef = functions.get(name)
    if fdef is None:
        raise NotFoundError(f"no function named {name!r} in the graph's library")
    b = _Builder(library, op_defs, open_calls, hide_plumbing)
    b.graph.title = name
    ns = _Namespace("", ROOT, fdef, None, {}, name)
    for i, arg in enumerate(fdef.signature.input_arg):
        b.add_arg_node(ns, i, arg)
    b.add_body(ns, fdef.node_def)
    b.connect()
    for out in fdef.signature.output_arg:
        ret = fdef.ret.get(out.name)
        src = b.resolve(ns, ret) if ret else None
        _add_output(b.graph, out.name, src, int(out.type), None)
    return b.finish()


def graph_for_signature(meta_graph, key: str, *, hide_plumbing=True, open_calls=True) -> Graph:
    """What a signature computes: from its inputs to its outputs, through the calls it
    makes (opened in place when ``open_calls``). ``meta_graph`` is a core MetaGraph or a
    MetaGraphDef proto."""
    proto = getattr(meta_graph, "proto", meta_graph)
    if key not in proto.signature_def:
        raise NotFoundError(f'Could not find signature "{key}". Please choose from: '
                            f'{", ".join(sorted(proto.signature_def.keys()))}')
    sig = proto.signature_def[key]
    graph_def = proto.graph_def
    by_name = {n.name: n for n in graph_def.node}
    inputs = {}
    for k in sorted(sig.inputs.keys()):
        for tname in _info_tensors(sig.inputs[k]):
            inputs.setdefault(_node_of(tname), []).append((k, sig.inputs[k]))
    # the part of the graph the outputs depend on, stopping at the inputs
    keep, stack = set(), []
    for k in sorted(sig.outputs.keys()):
        stack.extend(_node_of(t) for t in _info_tensors(sig.outputs[k]))
    while stack:
        name = stack.pop()
        if name in keep or name not in by_name:
            continue
        keep.add(name)
        if name in inputs:
            continue
        stack.extend(_node_of(r) for r in by_name[name].input)
    keep |= set(n for n in inputs if n in by_name)
    node_defs = [n for n in graph_def.node if n.name in keep]
    saver = proto.saver_def if proto.HasField("saver_def") else None
    b = _Builder(graph_def.library, proto.meta_info_def.stripped_op_list, open_calls,
                 hide_plumbing, saver)
    b.graph.title = key
    ns = _Namespace("", ROOT)
    b.add_body(ns, node_defs)
    b.connect()
    for name, infos in inputs.items():
        node = b.graph.nodes.get(name)
        if node is None:
            continue
        node.label = ", ".join(k for k, _ in infos)
        info = infos[0][1]
        node.info["signature input"] = node.label
        if not node.output_specs or node.output_specs[0][1] is None:
            node.output_specs = [(int(info.dtype), _dims(info.tensor_shape))]
    for k in sorted(sig.outputs.keys()):
        info = sig.outputs[k]
        for tname in _info_tensors(info):
            src = b.resolve(ns, tname)
            _add_output(b.graph, k, src, int(info.dtype), _dims(info.tensor_shape))
    return b.finish()


def _info_tensors(info) -> list[str]:
    kind = info.WhichOneof("encoding")
    if kind == "coo_sparse":
        c = info.coo_sparse
        return [c.values_tensor_name, c.indices_tensor_name, c.dense_shape_tensor_name]
    if kind == "composite_tensor":
        out = []
        for c in info.composite_tensor.components:
            out.extend(_info_tensors(c))
        return out
    return [info.name] if info.name else []


def _add_output(g: Graph, key: str, src, dtype: int, dims) -> None:
    nid = f"{CALL_SEP}output{CALL_SEP}{key}"
    node = Node(nid, key, OUTPUT_OP, ROOT, None, None)
    node.label = key
    node.info["signature output"] = key
    g.nodes[nid] = node
    g.groups[ROOT].nodes.append(nid)
    if src is None:
        return
    edge = Edge(src[0], nid, src[1], 0, False)
    specs = g.nodes[src[0]].output_specs
    while len(specs) <= src[1]:
        specs.append((None, None))
    old = specs[src[1]]
    specs[src[1]] = (old[0] if old[0] else (dtype or None), old[1] if old[1] is not None else dims)
    g.edges.append(edge)
    node.inputs.append(edge)
    g.nodes[src[0]].outputs.append(edge)


def build_graph(document, select: str | None = None) -> Graph:
    """A Graph for something core opened: a SavedModel (with ``select`` naming
    ``"tags > signature"``, ``"signature"``, ``"tags > function_name"`` or a function name;
    default: serving_default of the first MetaGraph, else the whole graph), a MetaGraph, or
    a GraphModel (frozen GraphDef / .meta; ``select`` may name a library function)."""
    from ..graph_file import GraphModel
    from ..saved_model import MetaGraph, SavedModel
    if isinstance(document, GraphModel):
        gd = document.graph_def
        op_defs = None
        saver = None
        if document.meta_graph_proto is not None:
            op_defs = document.meta_graph_proto.meta_info_def.stripped_op_list
            mg = document.meta_graph_proto
            saver = mg.saver_def if mg.HasField("saver_def") else None
        if select:
            return graph_for_function(gd.library, select.split(">")[-1].strip(), op_defs=op_defs)
        return graph_for_graph_def(gd, op_defs=op_defs, saver_def=saver,
                                   title=document.path.name)
    if isinstance(document, SavedModel):
        tags, item = None, None
        if select:
            parts = [p.strip() for p in select.split(">") if p.strip()]
            item = parts[-1] if parts else None
            for p in parts[:-1]:
                if p.lower() in ("savedmodel", "saved model"):
                    continue
                try:
                    document.meta_graph(p)
                    tags = p
                except Exception:  # noqa: BLE001 - not a tag set: a label to skip
                    continue
        mg = document.meta_graph(tags)
        return _graph_of_meta_graph(mg, item)
    if isinstance(document, MetaGraph):
        return _graph_of_meta_graph(document, select)
    raise NotFoundError(f"can not draw a graph of {type(document).__name__}")


def graph_for_library_function(owner, name: str) -> Graph:
    """The body of library function ``name`` of a MetaGraph or a GraphModel (frozen graph,
    .meta), with the op definitions the owner recorded."""
    from ..graph_file import GraphModel
    from ..saved_model import MetaGraph
    if isinstance(owner, MetaGraph):
        proto = owner.proto
        return graph_for_function(proto.graph_def.library, name,
                                  op_defs=proto.meta_info_def.stripped_op_list)
    if isinstance(owner, GraphModel):
        return build_graph(owner, name)
    raise NotFoundError(f"{type(owner).__name__} has no library of functions")


def _graph_of_meta_graph(mg, item: str | None) -> Graph:
    proto = mg.proto
    op_defs = proto.meta_info_def.stripped_op_list
    if item is None:
        item = "serving_default" if "serving_default" in proto.signature_def else ""
    if item and item in proto.signature_def:
        return graph_for_signature(mg, item)
    if item and item in mg.functions:
        return graph_for_function(proto.graph_def.library, item, op_defs=op_defs)
    if item and item not in ("graph", "graph_def", "MetaGraphDef") and \
            not item.startswith("MetaGraph"):
        if "," not in item and item not in ("serve", "train", "eval", "gpu", "tpu"):
            raise NotFoundError(f"no signature or function named {item!r}")
    saver = proto.saver_def if proto.HasField("saver_def") else None
    return graph_for_graph_def(proto.graph_def, op_defs=op_defs, saver_def=saver,
                               title="MetaGraphDef " + ",".join(mg.tags))
