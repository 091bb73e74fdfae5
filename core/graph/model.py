"""The model: ``Graph`` with its ``Node``s, ``Edge``s and tree of ``Group``s, and the
questions the view asks it (ancestors, what shows a node, edge labels, search)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .attributes import Attribute, attribute, tensor_summary
from .families import op_family
from .specs import _dims, _dtype_text, dims_text

ROOT = ""
CALL_SEP = "::"


@dataclass(eq=False)
class Edge:
    src: str                  # node id of the producer
    dst: str                  # node id of the consumer
    src_index: int = 0        # output index of the producer (-1: control edge)
    dst_index: int = 0        # input position at the consumer
    control: bool = False

    @property
    def key(self) -> tuple[str, int]:
        return (self.src, self.src_index)


@dataclass(eq=False)
class Node:
    id: str
    name: str                 # the node's name in its GraphDef / FunctionDef
    op: str
    group: str = ROOT         # id of the group holding it
    node_def: object = None   # the NodeDef, or None for synthesized nodes
    function: str | None = None  # library function whose body holds it (None: the graph)
    inputs: list = field(default_factory=list)    # Edges, data first
    outputs: list = field(default_factory=list)   # Edges
    output_specs: list = field(default_factory=list)  # [(dtype enum, dims or None)] per output
    params: int = 0           # parameters it holds (variables, float constants)
    label: str = ""           # extra text (signature key, variable name)
    info: dict = field(default_factory=dict)  # extra facts shown when selected

    @property
    def family(self) -> str:
        return op_family(self.op)

    def attributes(self) -> list["Attribute"]:
        """The NodeDef's attributes decoded, sorted by name (none for synthesized nodes)."""
        if self.node_def is None:
            return []
        attr = self.node_def.attr
        return [attribute(k, attr[k]) for k in sorted(attr.keys())]

    def shared_name(self) -> str | None:
        """The ``shared_name`` a variable or resource was created with (None: it has none).
        A checkpoint may list the variable under it rather than under the node's name."""
        if self.node_def is None or "shared_name" not in self.node_def.attr:
            return None
        return self.node_def.attr["shared_name"].s.decode("utf-8", "replace")

    def declared_shape(self) -> tuple | None:
        """The dims of the node's ``shape`` attribute (variables, placeholders, arguments), -1
        for an unknown size; None when it has no such attribute or its rank is unknown."""
        if self.node_def is None or "shape" not in self.node_def.attr:
            return None
        return _dims(self.node_def.attr["shape"].shape)

    def value_summary(self) -> str | None:
        """A constant's value in one line (``tensor_summary``); None for other nodes."""
        if self.op not in ("Const", "HostConst") or self.node_def is None \
                or "value" not in self.node_def.attr:
            return None
        return tensor_summary(self.node_def.attr["value"].tensor)


@dataclass(eq=False)
class Group:
    id: str
    name: str                 # last component of the scope, or the call node's name
    parent: str | None = None
    kind: str = "scope"       # "scope" | "call" | "root"
    groups: list = field(default_factory=list)    # child group ids
    nodes: list = field(default_factory=list)     # member node ids
    call: Node | None = None  # for kind == "call": the call node (not itself a member)
    function: str | None = None
    op_count: int = 0         # nodes anywhere below
    param_count: int = 0
    depth: int = 0

    @property
    def children(self) -> list[str]:
        return self.groups + self.nodes


class Graph:
    """Nodes, edges and groups of one graph, function or signature."""

    def __init__(self, title: str = ""):
        self.title = title
        self.nodes: dict[str, Node] = {}
        self.groups: dict[str, Group] = {ROOT: Group(ROOT, title, None, "root")}
        self.edges: list[Edge] = []
        self.hidden: list[str] = []       # node ids left out as save/restore plumbing
        self.library = None               # FunctionDefLibrary, for links to functions
        self.trace: dict = {}

    def __repr__(self):
        return (f"<Graph {self.title!r} nodes={len(self.nodes)} groups={len(self.groups) - 1} "
                f"edges={len(self.edges)}>")

    @property
    def root(self) -> Group:
        return self.groups[ROOT]

    def function_names(self) -> set[str]:
        """Names of the library functions this graph can link to."""
        if self.library is None:
            return set()
        return {f.signature.name for f in self.library.function}

    # -- structure ------------------------------------------------------------------
    def is_group(self, item: str) -> bool:
        return item in self.groups and item not in self.nodes

    def parent_of(self, item: str) -> str | None:
        node = self.nodes.get(item)
        if node is not None:
            return node.group
        group = self.groups.get(item)
        return group.parent if group is not None else None

    def ancestors(self, item: str) -> list[str]:
        """Group ids holding ``item``, innermost first, ending at ROOT."""
        out = []
        parent = self.parent_of(item)
        while parent is not None:
            out.append(parent)
            parent = self.groups[parent].parent
        return out

    def descendant_nodes(self, group_id: str) -> list[str]:
        out, stack = [], [group_id]
        while stack:
            g = self.groups[stack.pop()]
            out.extend(g.nodes)
            stack.extend(g.groups)
        return out

    def visible_item(self, node_id: str, open_groups) -> str:
        """The item that shows ``node_id`` when only ``open_groups`` (and ROOT) are open:
        the node itself, or its outermost closed group."""
        item = node_id
        chain = self.ancestors(node_id)
        for i, gid in enumerate(chain):
            if gid != ROOT and gid not in open_groups:
                item = gid
        return item

    def open_path(self, node_id: str) -> list[str]:
        """The groups to open so that ``node_id`` itself is visible."""
        return [g for g in self.ancestors(node_id) if g != ROOT]

    # -- facts ----------------------------------------------------------------------
    def edge_spec(self, edge: Edge) -> tuple[int | None, tuple | None]:
        """(dtype enum, dims) of the tensor an edge carries, when known."""
        if edge.control:
            return None, None
        traced = self.trace.get(edge.src) if self.trace else None
        if traced and traced.get("shapes") and edge.src_index < len(traced["shapes"]):
            shape = traced["shapes"][edge.src_index]
            dtype = None
            if traced.get("dtypes") and edge.src_index < len(traced["dtypes"]):
                dtype = traced["dtypes"][edge.src_index]
            if dtype is None:
                dtype = self._static_dtype(edge)
            return dtype, tuple(shape) if shape is not None else None
        return self._static_dtype(edge), self._static_dims(edge)

    def _static_dtype(self, edge):
        specs = self.nodes[edge.src].output_specs
        return specs[edge.src_index][0] if 0 <= edge.src_index < len(specs) else None

    def _static_dims(self, edge):
        specs = self.nodes[edge.src].output_specs
        return specs[edge.src_index][1] if 0 <= edge.src_index < len(specs) else None

    def edge_label(self, edge: Edge) -> str:
        """``float32 (?, 224, 224, 3)``-style text for an edge ("" when nothing is known)."""
        dtype, dims = self.edge_spec(edge)
        parts = []
        if dtype:
            parts.append(_dtype_text(dtype))
        if dims is not None:
            parts.append(dims_text(dims))
        return " ".join(parts)

    def set_trace(self, trace: dict | None) -> None:
        """Attach a run's trace: {node name or id: {"seconds": s, "nan": bool, "shapes":
        [dims per output], "dtypes": [...]}}. Names of nodes inside opened calls match
        their node name when it is unique in the graph."""
        self.trace = {}
        if not trace:
            return
        by_name: dict[str, list[str]] = {}
        for nid, node in self.nodes.items():
            by_name.setdefault(node.name, []).append(nid)
        for key, value in trace.items():
            if key in self.nodes:
                self.trace[key] = value
            elif len(by_name.get(key, ())) == 1:
                self.trace.setdefault(by_name[key][0], value)

    def search(self, text: str, limit: int = 200) -> list[str]:
        """Node ids whose name or op matches ``text`` (case-insensitive): exact op or
        name first, then name suffixes, then substrings of name or op; graph order."""
        needle = text.strip().lower()
        if not needle:
            return []
        ranks = ([], [], [], [])
        for nid, node in self.nodes.items():
            name = node.name.lower()
            op = node.op.lower()
            if name == needle or op == needle or nid.lower() == needle:
                ranks[0].append(nid)
            elif name.endswith("/" + needle) or name.rsplit("/", 1)[-1].startswith(needle):
                ranks[1].append(nid)
            elif needle in name or needle in node.label.lower():
                ranks[2].append(nid)
            elif needle in op:
                ranks[3].append(nid)
        out = [n for r in ranks for n in r]
        return out[:limit]

    def level_edges(self):
        """For each edge: (group id where it is drawn, child item of that group holding the
        source, child item holding the target). The group is the innermost one holding both
        ends; edges inside one item (both ends in the same child) are left out."""
        out = []
        for e in self.edges:
            a_chain = [e.src] + self.ancestors(e.src)
            b_chain = [e.dst] + self.ancestors(e.dst)
            b_index = {g: i for i, g in enumerate(b_chain)}
            for i, g in enumerate(a_chain):
                j = b_index.get(g)
                if j is not None and i > 0 and j > 0:
                    out.append((g, a_chain[i - 1], b_chain[j - 1], e))
                    break
        return out
