"""Readable names for checkpoint keys, and which keys are optimizer state.

TF2 object-based checkpoints store ``_CHECKPOINTABLE_OBJECT_GRAPH``, a serialized
TrackableObjectGraph: node 0 is the root object, each node lists its children by local
name, the tensors it saved (attribute name, the variable's own ``full_name`` such as
``dense/kernel``, and the checkpoint key) and, for an optimizer, its slot variables
(original variable node, slot name, slot node). From it:

    model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE
        -> readable "model/layer_with_weights-0/kernel", layer path "dense/kernel", variable
    model/layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE
        -> readable "optimizer/m/model/layer_with_weights-0/kernel", slot "m" of the kernel
    optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE -> optimizer state

Keras 3 optimizers keep no slot table; their ``_momentums``/``_velocities`` lists line
up with ``_trainable_variables`` and are matched by position. TF1 checkpoints have no
object graph: keys are already readable, and TF1 slots (``dense/kernel/Adam``) are
recognised by name.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .keys import OBJECT_GRAPH_KEY

VARIABLE = "variable"
SLOT = "slot"
OPTIMIZER = "optimizer"
OTHER = "other"

_ATTRIBUTES = "/.ATTRIBUTES/"
_OPTIMIZER_CHILDREN = {"iter", "iterations", "_iterations"}
_TF1_SLOTS = {"Adam": "m", "Adam_1": "v", "Momentum": "momentum", "RMSProp": "rms",
              "RMSProp_1": "momentum", "Adagrad": "accumulator", "Ftrl": "accum",
              "Ftrl_1": "linear", "Adadelta": "accum", "Adadelta_1": "accum_update",
              "ExponentialMovingAverage": "average"}
_TF1_OPTIMIZER_KEYS = {"beta1_power", "beta2_power"}
_TF1_OTHER_KEYS = {"global_step"}
_KERAS3_LIST_SKIP = {"_variables", "_trainable_variables", "_trainable_variables_indices"}


@dataclass(frozen=True)
class NameInfo:
    key: str
    readable: str  # object path, e.g. model/layer_with_weights-0/kernel
    kind: str  # "variable", "slot", "optimizer" or "other"
    slot_of: str | None = None  # key of the variable this slot belongs to
    slot_name: str | None = None  # e.g. m, v, momentum
    layer_path: str | None = None  # the variable's own name, e.g. dense/kernel

    @property
    def is_optimizer_state(self) -> bool:
        return self.kind in (SLOT, OPTIMIZER)


def object_graph(reader):
    """Decoded TrackableObjectGraph, or None when the checkpoint has none (TF1)."""
    if OBJECT_GRAPH_KEY not in reader.entries:
        return None
    from google.protobuf.message import DecodeError
    from tensorloupe.protos import trackable_object_graph_pb2
    from ..errors import FormatError
    value = reader.read(OBJECT_GRAPH_KEY)
    try:
        return trackable_object_graph_pb2.TrackableObjectGraph.FromString(bytes(value.reshape(-1)[0]))
    except (DecodeError, IndexError):
        raise FormatError(f"{OBJECT_GRAPH_KEY} is not a TrackableObjectGraph",
                          reader.prefix) from None


def _paths(graph, blocked: set[int]) -> dict[int, str]:
    """Breadth-first path of each node from the root, not walking into ``blocked`` nodes."""
    if not graph.nodes:
        return {}  # a damaged object graph with no root: no readable names
    paths = {0: ""}
    queue = deque([0])
    while queue:
        node_id = queue.popleft()
        for child in graph.nodes[node_id].children:
            cid = child.node_id
            if cid in paths or cid >= len(graph.nodes):
                continue
            base = paths[node_id]
            paths[cid] = f"{base}/{child.local_name}" if base else child.local_name
            if cid not in blocked:
                queue.append(cid)
    return paths


def _plural_to_slot(name: str) -> str:
    name = name.lstrip("_")
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") else name


def _from_graph(reader, graph) -> dict[str, NameInfo]:
    nodes = graph.nodes
    optimizers = {i for i, n in enumerate(nodes)
                  if n.slot_variables or any(c.local_name in _OPTIMIZER_CHILDREN for c in n.children)}
    model_paths = _paths(graph, blocked=optimizers)  # reached without passing an optimizer
    all_paths = _paths(graph, blocked=set())

    def value_key(node_id: int) -> str | None:
        if node_id >= len(nodes):
            return None
        for a in nodes[node_id].attributes:
            if a.name == "VARIABLE_VALUE":
                return a.checkpoint_key
        return None

    slots: dict[int, tuple[int, str, int]] = {}  # slot node -> (variable node, slot name, optimizer)
    for opt in optimizers:
        for s in nodes[opt].slot_variables:
            slots[s.slot_variable_node_id] = (s.original_variable_node_id, s.slot_name, opt)
        children = {c.local_name: c.node_id for c in nodes[opt].children}
        trainable = children.get("_trainable_variables")
        if trainable is None or trainable >= len(nodes):
            continue
        originals = [c.node_id for c in nodes[trainable].children]
        for list_name, list_id in children.items():
            if list_name in _KERAS3_LIST_SKIP or list_id >= len(nodes):
                continue
            members = [c.node_id for c in nodes[list_id].children]
            if len(members) == len(originals) and members and all(
                    value_key(m) for m in members):
                for member, original in zip(members, originals):
                    slots.setdefault(member, (original, _plural_to_slot(list_name), opt))

    def readable_path(node_id: int) -> str:
        if node_id in model_paths and node_id not in slots:
            path = model_paths[node_id]
        else:
            path = all_paths.get(node_id, "")
        # Keras 3 reaches weights through private attributes (model/_functional/_operations/1/
        # _kernel); the variable's own name (sequential/dense/kernel) reads better there.
        if node_id in model_paths and any(part.startswith("_") for part in path.split("/")):
            own = next((a.full_name for a in nodes[node_id].attributes
                        if a.name == "VARIABLE_VALUE" and a.full_name), None)
            if own:
                return own
        return path

    out: dict[str, NameInfo] = {}
    for node_id, node in enumerate(nodes):
        for attr in node.attributes:
            key = attr.checkpoint_key
            if key not in reader.entries:
                continue
            path = readable_path(node_id)
            readable = path if attr.name == "VARIABLE_VALUE" else f"{path}/{attr.name}"
            layer = attr.full_name or None
            if node_id in slots:
                original, slot_name, opt = slots[node_id]
                var_path = readable_path(original)
                opt_path = all_paths.get(opt, "optimizer")
                out[key] = NameInfo(key, f"{opt_path}/{slot_name}/{var_path}", SLOT,
                                    slot_of=value_key(original), slot_name=slot_name,
                                    layer_path=layer)
            elif node_id in model_paths and attr.name == "VARIABLE_VALUE" \
                    and path != "save_counter":
                out[key] = NameInfo(key, readable, VARIABLE, layer_path=layer)
            elif node_id not in model_paths or node_id in optimizers:
                out[key] = NameInfo(key, readable, OPTIMIZER, layer_path=layer)
            else:
                out[key] = NameInfo(key, readable, OTHER, layer_path=layer)
    return out


def _from_keys(keys) -> dict[str, NameInfo]:
    present = set(keys)
    out: dict[str, NameInfo] = {}
    for key in keys:
        base, _, last = key.rpartition("/")
        if base and base in present and (last in _TF1_SLOTS or last.startswith(
                ("Adam", "Momentum", "RMSProp", "Adagrad", "Ftrl"))):
            out[key] = NameInfo(key, key, SLOT, slot_of=base, slot_name=_TF1_SLOTS.get(last, last))
        elif last in _TF1_OPTIMIZER_KEYS:
            out[key] = NameInfo(key, key, OPTIMIZER)
        elif key in _TF1_OTHER_KEYS or key == OBJECT_GRAPH_KEY:
            out[key] = NameInfo(key, key, OTHER)
        else:
            out[key] = NameInfo(key, key, VARIABLE)
    return out


def readable_names(reader) -> dict[str, NameInfo]:
    """Every key of the reader -> NameInfo, in key order."""
    keys = reader.keys()
    graph = object_graph(reader)
    if graph is None:
        return _from_keys(keys)
    found = _from_graph(reader, graph)
    out = {}
    for key in keys:
        if key in found:
            out[key] = found[key]
        else:
            readable = key.split(_ATTRIBUTES)[0] if _ATTRIBUTES in key else key
            out[key] = NameInfo(key, readable, OTHER)
    return out
