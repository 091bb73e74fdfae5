"""Reading bodies into a Graph: the nodes of a GraphDef or FunctionDef become nodes in
name-scope groups, calls of library functions open in place as call groups, save/restore
plumbing is set aside, and inputs become edges."""
from __future__ import annotations

import re

from .families import CALL_OPS, INPUT_OP, SAVER_OPS, VARIABLE_OPS
from .groups import _count, _drop_dangling_noops, _move_sources, _prune_groups
from .model import CALL_SEP, Edge, Graph, Group, Node
from .specs import (_arg_size, _dims, _dtype_text, _is_float, _node_of, _num_elements,
                    _output_specs, _params, dims_text)

_TENSOR_REF = re.compile(r"^(?P<name>[^:]+)(?::(?P<a>[^:]+))?(?::(?P<b>\d+))?$")


class _Namespace:
    """One body being read: the graph itself, or one instance of a function body."""

    def __init__(self, prefix: str, group: str, fdef=None, parent=None, arg_refs=None,
                 function: str | None = None):
        self.prefix = prefix        # id prefix of the nodes in this body
        self.group = group          # group id that holds the body's top-level scope
        self.fdef = fdef
        self.parent = parent        # the namespace the call sits in
        self.arg_refs = arg_refs or {}  # arg name -> raw ref in the parent namespace
        self.function = function
        self.node_defs: dict = {}
        self.calls: dict[str, "_Namespace"] = {}  # opened call node name -> body namespace
        self.arg_nodes: dict[str, str] = {}       # arg name -> node id (when not resolved)


class _Builder:
    def __init__(self, library=None, op_defs=None, open_calls: bool = True,
                 hide_plumbing: bool = True, saver_def=None, max_call_depth: int = 8):
        self.graph = Graph()
        self.functions = {f.signature.name: f for f in library.function} if library else {}
        self.graph.library = library
        self.op_defs = {o.name: o for o in op_defs.op} if op_defs is not None else {}
        self.open_calls = open_calls
        self.hide_plumbing = hide_plumbing
        self.saver_def = saver_def
        self.max_call_depth = max_call_depth
        self.scope_groups: dict[str, set[str]] = {}
        self.pending: list[tuple[_Namespace, object, Node]] = []   # (ns, node_def, node)
        self._plumbing_fns: dict[str, bool] = {}

    # -- plumbing ---------------------------------------------------------------------
    def function_is_plumbing(self, name: str, depth: int = 0) -> bool:
        if name in self._plumbing_fns:
            return self._plumbing_fns[name]
        self._plumbing_fns[name] = False
        fdef = self.functions.get(name)
        found = False
        if fdef is not None and depth < 4:
            for n in fdef.node_def:
                if n.op in SAVER_OPS:
                    found = True
                    break
                if n.op in CALL_OPS and self.function_is_plumbing(
                        n.attr["f"].func.name, depth + 1):
                    found = True
                    break
        self._plumbing_fns[name] = found
        return found

    def plumbing(self, node_defs, names_prefix: str = "") -> set[str]:
        """Names of save/restore nodes among ``node_defs`` and of what only they use."""
        by_name = {n.name: n for n in node_defs}
        seeds = set()
        saver_scope = None
        if self.saver_def is not None:
            for tname in (self.saver_def.restore_op_name, self.saver_def.save_tensor_name,
                          self.saver_def.filename_tensor_name):
                base = _node_of(tname)
                if base in by_name:
                    seeds.add(base)
            restore = self.saver_def.restore_op_name
            if "/" in restore:
                saver_scope = restore.split("/", 1)[0] + "/"
        for n in node_defs:
            if n.op in SAVER_OPS:
                seeds.add(n.name)
            elif n.op in CALL_OPS and self.function_is_plumbing(n.attr["f"].func.name):
                seeds.add(n.name)
            elif saver_scope and n.name.startswith(saver_scope):
                seeds.add(n.name)
        if not seeds:
            return set()
        consumers: dict[str, set[str]] = {name: set() for name in by_name}
        for n in node_defs:
            for ref in n.input:
                src = _node_of(ref.lstrip("^"))
                if src in consumers:
                    consumers[src].add(n.name)
        hidden = set()
        # forward: whatever consumes plumbing output (restore assigns, their NoOps)
        stack = list(seeds)
        while stack:
            name = stack.pop()
            if name in hidden:
                continue
            hidden.add(name)
            for c in consumers.get(name, ()):
                if c not in hidden:
                    stack.append(c)
        # backward: producers used only by hidden nodes
        changed = True
        while changed:
            changed = False
            for name, users in consumers.items():
                if name not in hidden and users and users <= hidden:
                    hidden.add(name)
                    changed = True
        return hidden

    # -- nodes ----------------------------------------------------------------------
    def add_body(self, ns: _Namespace, node_defs, depth: int = 0) -> None:
        node_defs = list(node_defs)
        hidden = self.plumbing(node_defs) if self.hide_plumbing else set()
        scopes = set()
        for n in node_defs:
            if n.name in hidden:
                continue
            parts = n.name.split("/")
            for i in range(1, len(parts)):
                scopes.add("/".join(parts[:i]))
        for n in node_defs:
            ns.node_defs[n.name] = n
            if n.name in hidden:
                self.graph.hidden.append(ns.prefix + n.name)
                continue
            scope = n.name if n.name in scopes else n.name.rpartition("/")[0]
            group = self.scope_group(ns, scope)
            fname = n.attr["f"].func.name if n.op in CALL_OPS and "f" in n.attr else ""
            if (self.open_calls and fname in self.functions and depth < self.max_call_depth):
                self.add_call(ns, n, group, fname, depth)
                continue
            node = Node(ns.prefix + n.name, n.name, n.op, group, n, ns.function)
            node.output_specs = _output_specs(n)
            self.fill_types(node, n)
            node.params = _params(n)
            if n.op in VARIABLE_OPS:
                node.label = n.attr["shared_name"].s.decode("utf-8", "replace") \
                    if "shared_name" in n.attr else ""
            self.add_node(node)
            self.pending.append((ns, n, node))

    def fill_types(self, node: Node, n) -> None:
        """Output dtypes the op itself fixes (StringStrip -> string), from its OpDef."""
        op_def = self.op_defs.get(n.op)
        if op_def is None:
            return
        types = []
        for out in op_def.output_arg:
            t = int(out.type) if out.type else (
                int(n.attr[out.type_attr].type) if out.type_attr and out.type_attr in n.attr
                else None)
            types.extend([t] * _arg_size(out, n))
        specs = node.output_specs
        while len(specs) < len(types):
            specs.append((None, None))
        for i, t in enumerate(types):
            if t and not specs[i][0]:
                specs[i] = (t, specs[i][1])

    def add_node(self, node: Node) -> None:
        self.graph.nodes[node.id] = node
        self.graph.groups[node.group].nodes.append(node.id)

    def scope_group(self, ns: _Namespace, scope: str) -> str:
        if not scope:
            return ns.group
        gid = ns.prefix + scope + "/"
        if gid in self.graph.groups:
            return gid
        parent_scope = scope.rpartition("/")[0]
        parent = self.scope_group(ns, parent_scope)
        self.graph.groups[gid] = Group(gid, scope.rpartition("/")[2], parent, "scope")
        self.graph.groups[parent].groups.append(gid)
        return gid

    def add_call(self, ns: _Namespace, n, parent_group: str, fname: str, depth: int) -> None:
        gid = ns.prefix + n.name + CALL_SEP
        call_node = Node(ns.prefix + n.name, n.name, n.op, parent_group, n, ns.function)
        call_node.output_specs = _output_specs(n)
        group = Group(gid, n.name, parent_group, "call", call=call_node, function=fname)
        self.graph.groups[gid] = group
        self.graph.groups[parent_group].groups.append(gid)
        fdef = self.functions[fname]
        data_inputs = [r for r in n.input if not r.startswith("^")]
        arg_refs = {}
        for i, arg in enumerate(fdef.signature.input_arg):
            if i < len(data_inputs):
                arg_refs[arg.name] = data_inputs[i]
        body = _Namespace(gid, gid, fdef, ns, arg_refs, fname)
        ns.calls[n.name] = body
        self.add_body(body, fdef.node_def, depth + 1)
        for i, arg in enumerate(fdef.signature.input_arg):
            if arg.name not in arg_refs:  # fewer inputs than args: show the arg itself
                self.add_arg_node(body, i, arg)

    def add_arg_node(self, ns: _Namespace, index: int, arg) -> str:
        nid = ns.prefix + arg.name
        node = Node(nid, arg.name, INPUT_OP, ns.group, None, ns.function)
        dims = None
        fdef = ns.fdef
        if index in fdef.arg_attr and "_output_shapes" in fdef.arg_attr[index].attr:
            shapes = fdef.arg_attr[index].attr["_output_shapes"].list.shape
            if shapes:
                dims = _dims(shapes[0])
        dtype = int(arg.type)
        if arg.handle_data:
            hd = arg.handle_data[0]
            node.info["variable"] = f"{_dtype_text(hd.dtype)} {dims_text(_dims(hd.shape))}"
            node.params = _num_elements(_dims(hd.shape)) if _is_float(hd.dtype) else 0
            node.op = "_Arg"
        node.output_specs = [(dtype, dims)]
        node.label = arg.name
        node.info["argument"] = index
        self.add_node(node)
        ns.arg_nodes[arg.name] = nid
        return nid

    # -- edges ----------------------------------------------------------------------
    def resolve(self, ns: _Namespace, ref: str, depth: int = 0):
        """(node id, output index) of the tensor ``ref`` names in ``ns``, or None."""
        if depth > 64:
            return None
        m = _TENSOR_REF.match(ref)
        if not m:
            return None
        name, a, b = m.group("name"), m.group("a"), m.group("b")
        if ns.fdef is not None:
            if a is None and b is None:  # a bare argument name (or a node's output 0)
                if name in ns.arg_nodes:
                    return ns.arg_nodes[name], 0
                if name in ns.arg_refs:
                    return self.resolve(ns.parent, ns.arg_refs[name], depth + 1)
                index = 0
            elif b is None:              # "node:index" inside a function (rare)
                index = int(a) if a.isdigit() else 0
            else:
                index = self.output_index(ns, name, a, int(b))
        else:
            index = int(a) if a is not None and a.isdigit() else 0
        if name in ns.calls:
            body = ns.calls[name]
            outs = body.fdef.signature.output_arg
            if index >= len(outs):
                return None
            ret = body.fdef.ret.get(outs[index].name)
            if ret is None:
                return None
            return self.resolve(body, ret, depth + 1)
        nid = ns.prefix + name
        if nid in self.graph.nodes:
            return nid, index
        return None

    def output_index(self, ns: _Namespace, node_name: str, arg_name: str, index: int) -> int:
        n = ns.node_defs.get(node_name)
        if n is None:
            return index
        if n.op in CALL_OPS or n.op in self.functions:
            return index
        op_def = self.op_defs.get(n.op)
        if op_def is None:
            return index
        flat = 0
        for out in op_def.output_arg:
            if out.name == arg_name:
                return flat + index
            flat += _arg_size(out, n)
        return index

    def connect(self) -> None:
        g = self.graph
        for ns, n, node in self.pending:
            position = 0
            for ref in n.input:
                control = ref.startswith("^")
                target = ref[1:] if control else ref
                if control:
                    if target in ns.calls:  # waits for an opened call: skip, its body shows
                        continue
                    src = self.resolve(ns, target)
                    if src is None:
                        continue
                    edge = Edge(src[0], node.id, -1, -1, True)
                else:
                    src = self.resolve(ns, target)
                    position += 1
                    if src is None:
                        continue
                    edge = Edge(src[0], node.id, src[1], position - 1, False)
                g.edges.append(edge)
                node.inputs.append(edge)
                g.nodes[edge.src].outputs.append(edge)

    # -- finishing --------------------------------------------------------------------
    def finish(self) -> Graph:
        g = self.graph
        _drop_dangling_noops(g)
        _move_sources(g)
        _prune_groups(g)
        _count(g)
        return g
