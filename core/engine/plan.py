"""Execution plans: which nodes a run needs, in what order, with kernels and attributes ready.

A plan is made once per (graph or function, fetches, feeds, targets) and reused for every
run: inputs are resolved to integer slots, attributes decoded with the op's defaults filled
in, constants decoded, kernels looked up, and each intermediate value is dropped after its
last use. Graphs with TF1 control flow (Switch/Merge/Enter/Exit/NextIteration) get a
frame-structured plan instead of a flat list: each while-loop frame becomes one unit of its
parent frame and is iterated as a whole (see ``executor``).

Values live in one list per run: index ``i < len(nodes)`` holds node ``i``'s output tuple;
higher indices hold function arguments and fed tensors ("pseudo nodes", one output each).
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from ..errors import ExecutionError, FormatError, NotFoundError
from . import fuse, registry
from .registry import FuncRef, decode_attr
from .steps import (K_CONST, K_ENTER, K_EXIT, K_IDENTITY, K_KERNEL, K_MERGE, K_NEXT,
                    K_SWITCH, Step)

# Ops the planner handles itself rather than through a kernel.
PLACEHOLDERS = {"Placeholder", "PlaceholderV2"}
CONSTANTS = {"Const", "HostConst"}
CALL_OPS = {"PartitionedCall", "StatefulPartitionedCall"}

# TF1 control flow: presence of any of these makes the plan frame-aware.
SWITCH_OPS = {"Switch", "RefSwitch"}
MERGE_OPS = {"Merge", "RefMerge"}
ENTER_OPS = {"Enter", "RefEnter"}
EXIT_OPS = {"Exit", "RefExit"}
NEXT_OPS = {"NextIteration", "RefNextIteration"}
LOOPCOND_OPS = {"LoopCond"}
CONTROL_FLOW_V1 = SWITCH_OPS | MERGE_OPS | ENTER_OPS | EXIT_OPS | NEXT_OPS | LOOPCOND_OPS

# Ops that take a TF1 reference variable as their first input (resolved at plan time).
REF_INPUT_OPS = {"Assign", "AssignAdd", "AssignSub", "IsVariableInitialized",
                 "ScatterUpdate", "ScatterAdd", "ScatterSub"}
# The TF1 optimizer updates: how many leading inputs are variables they write (the
# variable and its slots); each is resolved like REF_INPUT_OPS' first input.
REF_UPDATE_OPS = {"ApplyGradientDescent": 1, "ApplyMomentum": 2, "ApplyAdagrad": 2,
                  "ApplyAdagradV2": 2, "ApplyAdam": 3, "ApplyRMSProp": 3,
                  "ApplyCenteredRMSProp": 4, "ApplyFtrl": 3, "ApplyFtrlV2": 3,
                  "ApplyAdadelta": 3}
REF_VARIABLE_OPS = {"VariableV2", "Variable", "TemporaryVariable"}
REF_PASS_OPS = {"Identity", "RefIdentity"}


# ---------------------------------------------------------------- the op knowledge

class Library:
    """Functions of a graph's library plus the OpDefs the export carried, and the registry.

    Answers what the planner needs about an op type: default attributes, output args
    (to turn ``node:out_arg:index`` into flat indices), statefulness, kernel.
    """

    def __init__(self, graph_def, op_list=None):
        self.functions = {f.signature.name: f for f in graph_def.library.function}
        self.op_defs = {op.name: op for op in op_list.op} if op_list is not None else {}
        self._defaults: dict[str, dict] = {}

    def kernel(self, op: str):
        return registry.lookup(op)

    def is_function(self, op: str) -> bool:
        return op in self.functions

    def defaults(self, op: str) -> dict:
        cached = self._defaults.get(op)
        if cached is None:
            cached = {}
            k = registry.lookup(op)
            if k is not None:
                cached.update(k.defaults)
            od = self.op_defs.get(op)
            if od is not None:
                for a in od.attr:
                    if a.HasField("default_value"):
                        cached[a.name] = decode_attr(a.default_value)
            self._defaults[op] = cached
        return cached

    def output_args(self, op: str, attrs: dict) -> list[tuple[str, int]]:
        fdef = self.functions.get(op)
        if fdef is not None:
            return [(a.name, 1) for a in fdef.signature.output_arg]
        if op in CALL_OPS:
            return [("output", _list_size(attrs, "Tout", op))]
        od = self.op_defs.get(op)
        if od is not None:
            sizes = []
            for a in od.output_arg:
                if a.number_attr:
                    sizes.append((a.name, _count_size(attrs, a.number_attr, op)))
                elif a.type_list_attr:
                    sizes.append((a.name, _list_size(attrs, a.type_list_attr, op)))
                else:
                    sizes.append((a.name, 1))
            return sizes
        k = registry.lookup(op)
        if k is not None:
            for spec in k.outputs:  # the attributes the registry will count with
                size = spec.partition(":")[2]
                if size.startswith("*"):
                    _list_size(attrs, size[1:], op)
                elif size:
                    _count_size(attrs, size, op)
            return k.output_arg_sizes(attrs)
        raise KeyError(op)

    def is_stateful(self, op: str) -> bool:
        k = registry.lookup(op)
        return bool(k is not None and k.stateful)


def _list_size(attrs: dict, name: str, op: str) -> int:
    """How many outputs a list attribute stands for; FormatError when the attribute holds
    something else (TensorFlow refuses such a node when the graph is imported)."""
    value = attrs.get(name, ())
    if isinstance(value, (list, tuple)):
        return len(value)
    raise FormatError(f"attribute '{name}' of op {op} is {_attr_kind(value)}, not a list")


def _count_size(attrs: dict, name: str, op: str) -> int:
    value = attrs.get(name, 0)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise FormatError(f"attribute '{name}' of op {op} is {_attr_kind(value)}, not a count")


def _attr_kind(value) -> str:
    if value is None:
        return "set but empty"
    text = repr(value)
    return f"a {type(value).__name__} ({text if len(text) <= 30 else text[:27] + '...'})"


def node_attrs(node, lib: Library, subst: dict | None = None) -> dict:
    """Decoded attributes of a NodeDef with the op's defaults filled in.

    ``subst`` resolves ``$name`` placeholders of polymorphic functions. Attributes whose
    names start with ``_`` (placement, shapes for the grappler) are skipped, except
    ``_output_shapes`` is also skipped: nothing needs it.
    """
    attrs = dict(lib.defaults(node.op))
    for key, value in node.attr.items():
        if key.startswith("_"):
            continue
        if key == "value" and node.op in CONSTANTS:
            continue  # decoded once, by the planner
        val = decode_attr(value)
        if isinstance(val, str) and val.startswith("$") and subst:
            val = subst.get(val[1:], val)
        attrs[key] = val
    return attrs


# ---------------------------------------------------------------- bodies

class Body:
    """A GraphDef's nodes or a FunctionDef's body, indexed for planning."""

    def __init__(self, nodes, lib: Library, function=None, subst: dict | None = None):
        self.nodes = list(nodes)
        self.lib = lib
        self.function = function  # FunctionDef or None
        self.name = function.signature.name if function is not None else None
        self.subst = subst or {}
        self.index = {n.name: i for i, n in enumerate(self.nodes)}
        self.args = [a.name for a in function.signature.input_arg] if function is not None else []
        self.arg_slot = {a: len(self.nodes) + k for k, a in enumerate(self.args)}
        self._attrs: list = [None] * len(self.nodes)
        self._inputs: list = [None] * len(self.nodes)

    def where(self, node_name: str) -> str:
        text = f"node '{node_name}'"
        return text + (f" in function '{self.name}'" if self.name else "")

    def attrs(self, i: int) -> dict:
        a = self._attrs[i]
        if a is None:
            a = self._attrs[i] = node_attrs(self.nodes[i], self.lib, self.subst)
        return a

    def inputs(self, i: int) -> tuple[list, list]:
        """(data refs [(slot, output index)], control node indices) of node ``i``."""
        r = self._inputs[i]
        if r is None:
            node = self.nodes[i]
            data, ctrl = [], []
            for text in node.input:
                if text.startswith("^"):
                    j = self.index.get(text[1:])
                    if j is None:
                        raise ExecutionError(
                            f"{self.where(node.name)} waits for '{text[1:]}', which does not exist")
                    ctrl.append(j)
                else:
                    data.append(self.tensor_ref(text, node.name))
            r = self._inputs[i] = (data, ctrl)
        return r

    def tensor_ref(self, text: str, reader: str | None = None) -> tuple[int, int]:
        """Resolve a tensor name of this body to (slot, flat output index)."""
        if self.function is not None:
            slot = self.arg_slot.get(text)
            if slot is not None:
                return slot, 0
            parts = text.split(":")
            j = self.index.get(parts[0])
            if j is None or len(parts) > 3:
                self._missing(text, reader)
            if len(parts) == 1:
                return j, 0
            if len(parts) == 2 and parts[1].isdigit():  # graph-style name inside a body
                return j, int(parts[1])
            if len(parts) == 3 and not parts[2].isdigit():  # "node:out:" names no output
                self._missing(text, reader)
            index = int(parts[2]) if len(parts) == 3 else 0
            node = self.nodes[j]
            try:
                flat = _flat_index(self.output_sizes(j), parts[1], index)
            except KeyError:
                raise ExecutionError(
                    f"{self.where(node.name)} has no output '{parts[1]}' (op {node.op})") from None
            return j, flat
        name, colon, idx = text.partition(":")
        j = self.index.get(name)
        if j is None or (colon and not idx.isdigit()):
            self._missing(text, reader)
        return j, int(idx) if idx else 0

    def output_sizes(self, i: int) -> list[tuple[str, int]]:
        """(output arg, how many tensors) of node ``i``; KeyError for an op nobody knows,
        FormatError naming the node when its attributes cannot count outputs."""
        node = self.nodes[i]
        try:
            return self.lib.output_args(node.op, self.attrs(i))
        except FormatError as exc:
            raise FormatError(f"{self.where(node.name)}: {exc.message}") from None

    def _missing(self, text, reader):
        if reader is None:
            where = f" in function '{self.name}'" if self.name else " in the graph"
            raise NotFoundError(f"tensor '{text}' does not exist{where}")
        raise ExecutionError(f"{self.where(reader)} reads '{text}', which does not exist")


def _flat_index(sizes, arg_name: str, index: int) -> int:
    offset = 0
    for name, count in sizes:
        if name == arg_name:
            return offset + index
        offset += count
    raise KeyError(arg_name)


# ---------------------------------------------------------------- plans

@dataclass
class Loop:
    """A TF1 while-loop frame: run ``units`` until no NextIteration value is alive."""
    frame: str
    units: list = field(default_factory=list)
    next_iters: list = field(default_factory=list)
    exits: list = field(default_factory=list)


@dataclass
class Unsupported:
    op: str
    node: str
    function: str | None

    def text(self) -> str:
        where = f" in function '{self.function}'" if self.function else ""
        return f"{self.op} (node '{self.node}'{where})"


@dataclass
class Plan:
    body: Body
    n_slots: int
    initial: list                   # per-run starting values (constants pre-decoded)
    feed_slots: list                # slot of each feed, in order
    fetch_refs: list                # (slot, index) of each fetch
    steps: list                     # flat steps, or frame units when ``frames``
    frames: bool = False
    unsupported: list = field(default_factory=list)
    calls: set = field(default_factory=set)   # library functions the needed nodes call
    n_nodes: int = 0


def build_plan(body: Body, fetches: list, feeds: list, targets: list,
               extra_targets: list | None = None) -> Plan:
    """Plan a run of ``body``.

    fetches/feeds: tensor names (graph: ``node:i``; function: as ``ret`` names them) or
    already-resolved ``(slot, index)`` refs. targets: node names to run for their effects.
    """
    nodes = body.nodes
    n = len(nodes)
    n_slots = n + len(body.args)

    # Feeds become pseudo nodes after the arguments.
    feed_slots = []
    redirect = {}
    for f in feeds:
        ref = f if isinstance(f, tuple) else body.tensor_ref(_graph_name(f))
        if ref in redirect:
            feed_slots.append(redirect[ref][0])
            continue
        redirect[ref] = (n_slots, 0)
        feed_slots.append(n_slots)
        n_slots += 1

    fetch_refs = []
    for f in fetches:
        ref = f if isinstance(f, tuple) else body.tensor_ref(_graph_name(f))
        fetch_refs.append(redirect.get(ref, ref))

    roots = []
    for t in list(targets) + list(extra_targets or ()):
        j = t if isinstance(t, int) else body.index.get(t.split(":")[0].lstrip("^"))
        if j is None:
            where = f" in function '{body.name}'" if body.name else " in the graph"
            raise NotFoundError(f"operation '{t}' does not exist{where}")
        roots.append(j)
    roots = [s for s, _ in fetch_refs if s < n] + roots

    def resolved(i):
        data, ctrl = body.inputs(i)
        if redirect:
            data = [redirect.get(r, r) for r in data]
        return data, ctrl

    # Needed nodes, in a topological order (iterative DFS post-order). A NextIteration ->
    # Merge edge closes a loop: it makes the producer needed but does not order it first.
    order: list[int] = []
    state = {}
    ins = {}
    for root in roots:
        if root in state:
            continue
        stack = [(root, 0)]
        state[root] = 1
        while stack:
            i, k = stack.pop()
            if i not in ins:
                ins[i] = resolved(i)
            data, ctrl = ins[i]
            srcs = [s for s, _ in data] + ctrl
            is_merge = nodes[i].op in MERGE_OPS
            advanced = False
            while k < len(srcs):
                s = srcs[k]
                k += 1
                if s >= n or s in state:
                    if s < n and state.get(s) == 1 and not (is_merge and nodes[s].op in NEXT_OPS):
                        raise ExecutionError(
                            f"{body.where(nodes[i].name)} is part of a cycle outside any loop")
                    continue
                if is_merge and nodes[s].op in NEXT_OPS:
                    # Visit later as its own root so the loop body is ordered after the Merge.
                    roots.append(s)
                    continue
                stack.append((i, k))
                stack.append((s, 0))
                state[s] = 1
                advanced = True
                break
            if not advanced:
                state[i] = 2
                order.append(i)

    # Output counts: the largest index anyone reads (kernels may return more).
    nout = {}
    for i in order:
        for s, k in ins[i][0]:
            if s < n and nout.get(s, 0) <= k:
                nout[s] = k + 1
    for s, k in fetch_refs:
        if s < n and nout.get(s, 0) <= k:
            nout[s] = k + 1

    initial: list = [None] * n_slots
    steps_by_node = {}
    unsupported = []
    calls = set()
    frames = any(nodes[i].op in CONTROL_FLOW_V1 for i in order)
    lib = body.lib
    for i in order:
        node = nodes[i]
        op = node.op
        if op in CONSTANTS:
            value = _const_value(node, body)
            if frames and ins[i][1]:
                # Inside a cond branch or loop body a constant waits on the branch's pivot
                # and must turn dead with it, so it stays a step.
                steps_by_node[i] = Step(i, node.name, op, K_CONST, None, [], ins[i][1],
                                        {"_value": value}, 1, None)
            else:
                initial[i] = (value,)
            continue
        if op in PLACEHOLDERS:
            raise ExecutionError(_must_feed(node, body))
        attrs = body.attrs(i)
        data, ctrl = ins[i]
        kern = None
        fn = None
        kind = K_KERNEL
        if op in CONTROL_FLOW_V1:
            kind = (K_SWITCH if op in SWITCH_OPS else K_MERGE if op in MERGE_OPS else
                    K_ENTER if op in ENTER_OPS else K_EXIT if op in EXIT_OPS else
                    K_NEXT if op in NEXT_OPS else K_IDENTITY)
        elif lib.is_function(op):
            calls.add(op)
            fn = _direct_call(op)
        else:
            kern = lib.kernel(op)
            if kern is None:
                unsupported.append(Unsupported(op, node.name, body.name))
            else:
                fn = kern.fn
                body.output_sizes(i)  # attributes that count outputs must be counts/lists
            for v in attrs.values():
                if isinstance(v, FuncRef):
                    calls.add(v.name)
                elif isinstance(v, list) and v and isinstance(v[0], FuncRef):
                    calls.update(f.name for f in v)
        if op in REF_INPUT_OPS and data:
            attrs = dict(attrs, _ref_var=_ref_source(body, node, data[0]))
        elif op in REF_UPDATE_OPS and len(data) >= REF_UPDATE_OPS[op]:
            attrs = dict(attrs, _ref_vars=[_ref_source(body, node, d)
                                           for d in data[:REF_UPDATE_OPS[op]]])
        st = Step(i, node.name, op, kind, fn, data, ctrl, attrs, nout.get(i, 1), kern)
        if kind == K_ENTER:
            st.is_constant = bool(attrs.get("is_constant", False))
        steps_by_node[i] = st

    plan = Plan(body, n_slots, initial, feed_slots, fetch_refs, [], frames,
                unsupported, calls, n)
    if frames:
        plan.steps = _frame_units(body, order, steps_by_node, ins, n)
    else:
        plan.steps = [steps_by_node[i] for i in order if i in steps_by_node]
        if not unsupported and fuse.enabled():
            plan.steps = fuse.fuse_steps(plan.steps, fetch_refs, n)
        _assign_frees(plan)
    return plan


def _graph_name(name: str) -> str:
    return name


def _must_feed(node, body) -> str:
    from .. import dtypes
    dt = node.attr["dtype"].type if "dtype" in node.attr else 0
    shape = ""
    if "shape" in node.attr and not node.attr["shape"].shape.unknown_rank:
        dims = ["?" if d.size < 0 else str(d.size) for d in node.attr["shape"].shape.dim]
        shape = f" and shape [{','.join(dims)}]"
    where = f" in function '{body.name}'" if body.name else ""
    return (f"placeholder '{node.name}'{where} needs a value: feed it with dtype "
            f"{dtypes.python_name(dt)}{shape}")


def _const_value(node, body):
    from ..tensors import to_numpy
    from .context import check_constant, memory_limit
    try:
        check_constant(node.attr["value"].tensor, body.where(node.name))
        value = to_numpy(node.attr["value"].tensor, max_bytes=memory_limit())
    except Exception as exc:  # a damaged constant: say which node
        if isinstance(exc, ExecutionError):
            raise
        raise ExecutionError(f"{body.where(node.name)}: constant cannot be decoded: {exc}") from None
    try:
        value.flags.writeable = False  # shared by every run: kernels must not modify it
    except (AttributeError, ValueError):
        pass
    return value


def _direct_call(name: str):
    def call(ctx, inputs, attrs):
        return ctx.call_function(name, inputs, attrs)
    return call


def _ref_source(body: Body, node, ref) -> str:
    """The TF1 variable a ref input comes from (following Identity chains)."""
    slot, _ = ref
    seen = 0
    while slot < len(body.nodes) and seen < 100:
        src = body.nodes[slot]
        if src.op in REF_VARIABLE_OPS:
            shared = src.attr["shared_name"].s.decode() if "shared_name" in src.attr else ""
            return shared or src.name
        if src.op in REF_PASS_OPS and src.input:
            slot = body.tensor_ref(src.input[0], src.name)[0]
            seen += 1
            continue
        break
    raise ExecutionError(f"{body.where(node.name)} ({node.op}) does not write to a variable")


def _assign_frees(plan: Plan) -> None:
    """Drop each intermediate value right after its last reader (lower peak memory)."""
    keep = {s for s, _ in plan.fetch_refs}
    last = {}
    for pos, st in enumerate(plan.steps):
        for s, _ in st.inputs:
            last[s] = pos
    frees: dict[int, list] = {}
    for s, pos in last.items():
        if s not in keep:
            frees.setdefault(pos, []).append(s)
    for pos, slots in frees.items():
        plan.steps[pos].free = tuple(slots)


# ---------------------------------------------------------------- TF1 frames

class _Frame:
    __slots__ = ("name", "parent", "depth", "children", "loop")

    def __init__(self, name, parent):
        self.name = name
        self.parent = parent
        self.depth = parent.depth + 1 if parent is not None else 0
        self.children = {}
        self.loop = Loop(_frame_text(name)) if parent is not None else None

    def child(self, name):
        f = self.children.get(name)
        if f is None:
            f = self.children[name] = _Frame(name, self)
        return f


def _frame_units(body: Body, order: list, steps: dict, ins: dict, n: int) -> list:
    """Group the needed nodes by while-loop frame; return the root frame's units in order."""
    nodes = body.nodes
    root = _Frame(None, None)
    home = {}       # node -> frame it executes in (Exit: the frame it leaves)
    out_frame = {}  # node -> frame its outputs belong to
    pos = {i: p for p, i in enumerate(order)}
    for i in order:
        node = nodes[i]
        data, ctrl = ins[i]
        in_f = root
        for s in [s for s, _ in data] + ctrl:
            if s >= n or s not in out_frame:
                continue  # feeds, arguments, back edges
            f = out_frame[s]
            if f.depth > in_f.depth:
                in_f = f
        op = node.op
        if op in ENTER_OPS:
            # Frames are told apart by the attribute's raw value: TensorFlow compares bytes
            # and runs a loop whose name is not UTF-8.
            name = steps[i].attrs.get("frame_name", b"")
            f = in_f.child(name if isinstance(name, (bytes, str)) else repr(name))
            home[i] = out_frame[i] = f
        elif op in EXIT_OPS:
            home[i] = in_f
            out_frame[i] = in_f.parent if in_f.parent is not None else in_f
        else:
            home[i] = out_frame[i] = in_f
        if op in NEXT_OPS and in_f.loop is not None:
            in_f.loop.next_iters.append(i)
        if op in EXIT_OPS and in_f.loop is not None:
            in_f.loop.exits.append(i)

    def unit_of(i, frame):
        f = home[i]
        if f is frame:
            return ("n", i)
        while f is not None and f.parent is not frame:
            f = f.parent
        return ("f", f) if f is not None else None

    def schedule(frame) -> list:
        members = [i for i in order if _within(home[i], frame)]
        units = {}
        first = {}
        for i in members:
            u = unit_of(i, frame)
            key = u if u[0] == "n" else ("f", id(u[1]))
            if key not in units:
                units[key] = u
                first[key] = pos[i]
        deps = {k: set() for k in units}
        users = {k: set() for k in units}
        for i in members:
            ku = unit_of(i, frame)
            kd = ku if ku[0] == "n" else ("f", id(ku[1]))
            data, ctrl = ins[i]
            is_merge = nodes[i].op in MERGE_OPS
            for s in [s for s, _ in data] + ctrl:
                if s >= n or s not in home or not _within(home[s], frame):
                    continue
                if is_merge and nodes[s].op in NEXT_OPS:
                    continue
                us = unit_of(s, frame)
                ks = us if us[0] == "n" else ("f", id(us[1]))
                if ks != kd and ks not in deps[kd]:
                    deps[kd].add(ks)
                    users[ks].add(kd)
        pending = {k: len(v) for k, v in deps.items()}
        heap = [(first[k], k) for k, c in pending.items() if c == 0]
        heapq.heapify(heap)
        out = []
        while heap:
            _, k = heapq.heappop(heap)
            u = units[k]
            if u[0] == "n":
                if u[1] in steps:
                    out.append(steps[u[1]])
            else:
                loop = u[1].loop
                loop.units = schedule(u[1])
                out.append(loop)
            for user in users[k]:
                pending[user] -= 1
                if pending[user] == 0:
                    heapq.heappush(heap, (first[user], user))
        if len(out) < len([k for k, u in units.items() if u[0] == "f" or u[1] in steps]):
            raise ExecutionError("the graph's control flow frames form a cycle")
        return out

    return schedule(root)


def _frame_text(name) -> str:
    if isinstance(name, bytes):
        return name.decode("utf-8", "backslashreplace")
    return str(name)


def _within(f, frame) -> bool:
    while f is not None:
        if f is frame:
            return True
        f = f.parent
    return False
