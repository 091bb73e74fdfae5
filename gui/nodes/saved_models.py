"""A SavedModel as a tree: MetaGraphDefs, signatures, functions, variables, assets,
collections and the saver."""
from __future__ import annotations

import os
from pathlib import Path

from tensorloupe.core.saved_model import saved_model_variable_names
from tensorloupe.core.summaries import collection_summaries, function_summary, saver_summary

from .checkpoints import checkpoint_variable_nodes
from .node import (ARGUMENT, ASSET, COLLECTION, CONCRETE, FUNCTION, GROUP, INFO, INPUT,
                   LIBRARY_FUNCTION, META_GRAPH, OUTPUT, SAVED_MODEL, SAVER, SIGNATURE, Node,
                   SignatureRef, sum_totals)


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
