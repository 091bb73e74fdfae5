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
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import dtypes
from .errors import NotFoundError, TensorloupeError

ROOT = ""
CALL_SEP = "::"
CALL_OPS = frozenset({"StatefulPartitionedCall", "PartitionedCall"})
SAVER_OPS = frozenset({"SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename",
                       "ShardedFilespec", "Save", "SaveSlices", "Restore", "RestoreSlice"})
# Ops without inputs that only provide a value (weights, constants): drawn next to the op
# that uses them rather than where their name would put them.
SOURCE_OPS = frozenset({"VarHandleOp", "VariableV2", "Variable", "Const", "HostConst",
                        "_Arg"})
VARIABLE_OPS = frozenset({"VarHandleOp", "VariableV2", "Variable"})
INPUT_OP = "Input"      # signature input placeholder / function argument
OUTPUT_OP = "Output"    # signature output / function result

# ---------------------------------------------------------------------------------------
# Op families (for colouring)

FAMILIES = ("math", "nn", "array", "control", "variable", "string", "io", "input", "other")
FAMILY_LABELS = {
    "math": "math", "nn": "conv / nn", "array": "shape / array", "control": "control flow",
    "variable": "variables / resources", "string": "strings / tables", "io": "io / saver",
    "input": "inputs / outputs", "other": "other",
}

_MATH = {
    "Abs", "Acos", "Acosh", "Add", "AddN", "AddV2", "All", "Any", "ApproximateEqual", "ArgMax",
    "ArgMin", "Asin", "Asinh", "Atan", "Atan2", "Atanh", "BatchMatMul", "BatchMatMulV2",
    "BatchMatMulV3", "Cast", "Ceil", "Cos", "Cosh", "Cumprod", "Cumsum", "Digamma", "Div",
    "DivNoNan", "Einsum", "Equal", "Erf", "Erfc", "Exp", "Expm1", "Floor", "FloorDiv",
    "FloorMod", "Greater", "GreaterEqual", "Inv", "IsFinite", "IsInf", "IsNan", "Less",
    "LessEqual", "Lgamma", "Log", "Log1p", "LogicalAnd", "LogicalNot", "LogicalOr", "MatMul",
    "Max", "Maximum", "Mean", "Min", "Minimum", "Mod", "Mul", "MulNoNan", "Neg", "NotEqual",
    "Pow", "Prod", "Range", "RealDiv", "Reciprocal", "Round", "Rsqrt", "Sign", "Sin", "Sinh",
    "Sqrt", "Square", "SquaredDifference", "Sub", "Sum", "Tan", "Tanh", "TruncateDiv",
    "TruncateMod", "Xdivy", "Xlogy", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "Invert",
    "LeftShift", "RightShift", "Betainc", "Igamma", "Igammac", "Rint", "ClipByValue",
    "SegmentSum", "UnsortedSegmentSum", "UnsortedSegmentMax", "EuclideanNorm",
}
_NN = {
    "Conv2D", "Conv3D", "Conv1D", "DepthwiseConv2dNative", "Conv2DBackpropInput", "BiasAdd",
    "BiasAddV1", "Relu", "Relu6", "Elu", "Selu", "LeakyRelu", "Softplus", "Softsign",
    "Sigmoid", "Softmax", "LogSoftmax", "MaxPool", "MaxPoolV2", "MaxPool3D", "AvgPool",
    "AvgPool3D", "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "LRN",
    "_FusedConv2D", "_FusedMatMul", "TopKV2", "InTopKV2", "Dilation2D", "Gelu",
    "SparseSoftmaxCrossEntropyWithLogits", "SoftmaxCrossEntropyWithLogits", "L2Loss",
    "ResizeBilinear", "ResizeNearestNeighbor", "ResizeBicubic", "CudnnRNN", "CudnnRNNV3",
}
_ARRAY = {
    "Reshape", "Shape", "ShapeN", "Size", "Rank", "Squeeze", "ExpandDims", "Transpose",
    "ConcatV2", "Concat", "Pack", "Unpack", "Split", "SplitV", "Slice", "StridedSlice",
    "Gather", "GatherV2", "GatherNd", "ScatterNd", "Tile", "Pad", "PadV2", "MirrorPad",
    "Fill", "ZerosLike", "OnesLike", "Identity", "IdentityN", "Snapshot", "StopGradient",
    "Reverse", "ReverseV2", "BroadcastTo", "BroadcastArgs", "BroadcastGradientArgs",
    "Where", "Select", "SelectV2", "OneHot", "DepthToSpace", "SpaceToDepth", "Bitcast",
    "Unique", "TensorScatterUpdate", "MatrixDiag", "MatrixBandPart", "EnsureShape",
    "CheckNumerics", "PreventGradient", "PlaceholderWithDefault", "Cumsum_", "LinSpace",
    "TensorListFromTensor", "TensorListStack", "TensorListReserve", "TensorListGetItem",
    "TensorListSetItem", "TensorListLength", "TensorListElementShape",
}
_CONTROL = {
    "While", "StatelessWhile", "If", "StatelessIf", "Case", "StatelessCase", "Switch",
    "Merge", "Enter", "Exit", "NextIteration", "LoopCond", "NoOp", "ControlTrigger",
    "StatefulPartitionedCall", "PartitionedCall", "Assert", "Print", "PrintV2",
    "_While", "_If", "RefSwitch", "RefEnter", "RefMerge",
}
_VARIABLE = {
    "VarHandleOp", "VariableV2", "Variable", "ReadVariableOp", "AssignVariableOp",
    "AssignAddVariableOp", "AssignSubVariableOp", "VarIsInitializedOp", "Assign",
    "AssignAdd", "AssignSub", "DestroyResourceOp", "ResourceGather", "DisableCopyOnRead",
    "ResourceApplyAdam", "ResourceApplyGradientDescent", "IsVariableInitialized",
    "Const", "HostConst", "_Arg", "ResourceScatterUpdate",
}
_STRING = {
    "StringJoin", "StringSplit", "StringSplitV2", "StringLower", "StringUpper", "StringStrip",
    "StringToNumber", "AsString", "RegexReplace", "StaticRegexReplace", "RegexFullMatch",
    "StaticRegexFullMatch", "Substr", "StringLength", "StringFormat", "DecodeBase64",
    "EncodeBase64", "HashTableV2", "MutableHashTableV2", "LookupTableFindV2",
    "LookupTableImportV2", "LookupTableSizeV2", "InitializeTableV2",
    "InitializeTableFromTextFileV2", "StringToHashBucketFast", "UnicodeDecode",
    "UnicodeEncode", "ParseExample", "ParseExampleV2", "ParseSingleExample", "DecodeRaw",
    "DecodeJpeg", "DecodePng", "DecodeImage", "EncodePng", "EncodeJpeg",
}
_IO = set(SAVER_OPS) | {"ReadFile", "WriteFile", "MatchingFiles"}


def op_family(op: str) -> str:
    """The colour family of an op type: one of FAMILIES."""
    if op in (INPUT_OP, OUTPUT_OP, "Placeholder"):
        return "input"
    for family, ops in (("nn", _NN), ("math", _MATH), ("array", _ARRAY),
                        ("control", _CONTROL), ("variable", _VARIABLE), ("string", _STRING),
                        ("io", _IO)):
        if op in ops:
            return family
    return "other"


# ---------------------------------------------------------------------------------------
# The model

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


def dims_text(dims) -> str:
    if dims is None:
        return "?"
    inner = ", ".join("?" if d is None or d < 0 else str(d) for d in dims)
    return f"({inner},)" if len(dims) == 1 else f"({inner})"


def _dtype_text(enum: int) -> str:
    try:
        return dtypes.python_name(int(enum))
    except Exception:  # noqa: BLE001 - an unknown enum is just shown as a number
        return f"dtype{enum}"


# ---------------------------------------------------------------------------------------
# Attributes and values, decoded for display

@dataclass(frozen=True)
class Attribute:
    """One attribute of a node as plain data.

    ``kind`` names the AttrValue field that is set ("type", "shape", "func", "tensor", "s",
    "i", "f", "b", "list", "placeholder"; "" when none is). ``value`` is a plain Python value:
    a dtype name, dims (None: unknown rank), a function name, a constant's summary text, a
    string, a number, or a list of those. ``text`` is how the details pane shows it, and
    ``functions`` the library functions it names."""
    name: str
    kind: str
    value: object
    text: str
    functions: tuple = ()


def attribute(name: str, attr) -> Attribute:
    """An AttrValue proto as an ``Attribute``."""
    from .tensors import shape_text
    kind = attr.WhichOneof("value") or ""
    if kind == "type":
        text = dtypes.name(int(attr.type))
        return Attribute(name, kind, text, text)
    if kind == "shape":
        return Attribute(name, kind, _dims(attr.shape), shape_text(attr.shape))
    if kind == "func":
        fn = attr.func.name
        return Attribute(name, kind, fn, fn, (fn,))
    if kind == "tensor":
        text = tensor_summary(attr.tensor)
        return Attribute(name, kind, text, text)
    if kind == "s":
        value = attr.s.decode("utf-8", "replace")
        return Attribute(name, kind, value, repr(value)[:200])
    if kind == "list":
        return _list_attribute(name, attr.list)
    if kind in ("i", "f", "b"):
        value = getattr(attr, kind)
        return Attribute(name, kind, value, str(value))
    if kind == "placeholder":
        return Attribute(name, kind, attr.placeholder, "")
    return Attribute(name, kind, None, "")


def _list_attribute(name: str, lst) -> Attribute:
    from .tensors import shape_text
    if lst.type:
        names = [dtypes.name(int(t)) for t in lst.type]
        return Attribute(name, "list", names, ", ".join(names))
    if lst.shape:
        return Attribute(name, "list", [_dims(s) for s in lst.shape],
                         ", ".join(shape_text(s) for s in lst.shape))
    if lst.func:
        names = [f.name for f in lst.func]
        return Attribute(name, "list", names, ", ".join(names), tuple(names))
    if lst.i:
        values = [int(v) for v in lst.i]
        return Attribute(name, "list", values, str(values))
    if lst.f:
        values = [float(v) for v in lst.f]
        return Attribute(name, "list", values, str([round(v, 6) for v in values]))
    if lst.s:
        values = [s.decode("utf-8", "replace") for s in lst.s]
        return Attribute(name, "list", values, str(values[:20]))
    if lst.b:
        values = [bool(v) for v in lst.b]
        return Attribute(name, "list", values, str(values))
    return Attribute(name, "list", [], "[]")


def tensor_summary(proto) -> str:
    """A TensorProto in one line: dtype, shape and its values when there are at most 8,
    else min, max and mean of numbers. A value that can not be decoded is described, not
    raised: the details of a node must show whatever the file holds."""
    import numpy as np

    from .tensors import shape_text, to_numpy
    head = f"{dtypes.name(int(proto.dtype))} {shape_text(proto.tensor_shape)}"
    try:
        arr = to_numpy(proto)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        return f"{head}: ({exc})"
    if arr.size <= 8:
        vals = arr.tolist()
        if isinstance(vals, list):
            vals = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in
                    np.ravel(arr).tolist()]
        elif isinstance(vals, bytes):
            vals = vals.decode("utf-8", "replace")
        return f"{head} = {vals}"
    if arr.dtype.kind in "fiu":
        a = arr.astype(np.float64)
        return (f"{head}: min {np.nanmin(a):.4g}, max {np.nanmax(a):.4g}, "
                f"mean {np.nanmean(a):.4g}")
    return head


# ---------------------------------------------------------------------------------------
# A run's trace on the graph

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


# ---------------------------------------------------------------------------------------
# Building

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


def _drop_dangling_noops(g: Graph) -> None:
    """NoOps inside opened calls only say "wait for these ops" (automatic control
    dependencies of tf.function): they compute nothing, so the view leaves them out."""
    drop = [nid for nid, n in g.nodes.items()
            if n.op == "NoOp" and CALL_SEP in nid and all(e.control for e in n.outputs)
            and all(e.control for e in n.inputs)]
    for nid in drop:
        _remove_node(g, nid)


def _remove_node(g: Graph, nid: str) -> None:
    node = g.nodes.pop(nid)
    g.groups[node.group].nodes.remove(nid)
    dead = set(id(e) for e in node.inputs) | set(id(e) for e in node.outputs)
    for e in node.outputs:
        g.nodes[e.dst].inputs = [x for x in g.nodes[e.dst].inputs if x is not e]
    for e in node.inputs:
        g.nodes[e.src].outputs = [x for x in g.nodes[e.src].outputs if x is not e]
    g.edges = [e for e in g.edges if id(e) not in dead]


def _lca(g: Graph, group_ids) -> str:
    chains = [[gid] + _group_ancestors(g, gid) for gid in group_ids]
    if not chains:
        return ROOT
    common = set(chains[0])
    for c in chains[1:]:
        common &= set(c)
    for gid in chains[0]:
        if gid in common:
            return gid
    return ROOT


def _group_ancestors(g: Graph, gid: str) -> list[str]:
    out = []
    parent = g.groups[gid].parent
    while parent is not None:
        out.append(parent)
        parent = g.groups[parent].parent
    return out


def _move_sources(g: Graph) -> None:
    """Put weights and constants beside the ops that use them: a source node whose users
    all sit deeper than it moves into the innermost group holding all its users."""
    for nid, node in list(g.nodes.items()):
        if node.op not in SOURCE_OPS or node.inputs or not node.outputs:
            continue
        target = _lca(g, {g.nodes[e.dst].group for e in node.outputs})
        if target == node.group or target in _group_ancestors(g, node.group):
            continue
        g.groups[node.group].nodes.remove(nid)
        node.group = target
        g.groups[target].nodes.append(nid)


def _prune_groups(g: Graph) -> None:
    """Remove empty groups; a scope group holding a single node is replaced by the node."""
    def visit(gid: str) -> bool:
        group = g.groups[gid]
        leaf = not group.groups
        group.groups = [c for c in group.groups if visit(c)]
        if gid == ROOT:
            return True
        if not group.groups and not group.nodes:
            del g.groups[gid]
            return False
        if group.kind == "scope" and leaf and _trivial(g, group):
            for nid in group.nodes:
                g.nodes[nid].group = group.parent
                g.groups[group.parent].nodes.append(nid)
            del g.groups[gid]
            return False
        return True
    visit(ROOT)


def _trivial(g: Graph, group: Group) -> bool:
    """A scope not worth a box: one op with the weights it reads (``dense/MatMul`` holding
    ``dense/MatMul/ReadVariableOp``), or a single node."""
    if len(group.nodes) > 4:
        return False
    ops = [n for n in group.nodes if g.nodes[n].op not in _WEIGHT_OPS]
    return len(ops) <= 1


_WEIGHT_OPS = SOURCE_OPS | {"ReadVariableOp"}


def _count(g: Graph) -> None:
    def visit(gid: str, depth: int) -> tuple[int, int]:
        group = g.groups[gid]
        group.depth = depth
        ops = len(group.nodes)
        params = sum(g.nodes[n].params for n in group.nodes)
        for c in group.groups:
            o, p = visit(c, depth + 1)
            ops += o
            params += p
        group.op_count, group.param_count = ops, params
        return ops, params
    visit(ROOT, 0)


# ---------------------------------------------------------------------------------------
# Helpers on protos

def _node_of(tensor_name: str) -> str:
    return tensor_name.lstrip("^").split(":", 1)[0]


def _dims(shape_proto):
    if shape_proto.unknown_rank:
        return None
    return tuple(int(d.size) for d in shape_proto.dim)


def _output_specs(n) -> list:
    shapes = []
    if "_output_shapes" in n.attr:
        shapes = [_dims(s) for s in n.attr["_output_shapes"].list.shape]
    types = []
    for key in ("T", "dtype", "DstT", "out_type", "Tout", "output_type", "type", "Tparams",
                "Toutput_types", "output_types"):
        if key in n.attr:
            a = n.attr[key]
            if a.WhichOneof("value") == "type":
                types = [int(a.type)]
            elif a.WhichOneof("value") == "list":
                types = [int(t) for t in a.list.type]
            break
    if n.op in VARIABLE_OPS or n.op == "HashTableV2":
        types = [20]  # DT_RESOURCE
    if not shapes and n.op in ("Placeholder", "PlaceholderWithDefault") and "shape" in n.attr:
        shapes = [_dims(n.attr["shape"].shape)]
    if not shapes and n.op == "Const" and "value" in n.attr:
        shapes = [_dims(n.attr["value"].tensor.tensor_shape)]
    count = max(len(shapes), len(types))
    return [(types[i] if i < len(types) else (types[0] if len(types) == 1 else None),
             shapes[i] if i < len(shapes) else None) for i in range(count)]


def _is_float(enum: int) -> bool:
    return int(enum) in (1, 2, 14, 19, 101, 102, 114, 119)


def _num_elements(dims) -> int:
    if dims is None or any(d < 0 for d in dims):
        return 0
    total = 1
    for d in dims:
        total *= d
    return total


def _params(n) -> int:
    if n.op in VARIABLE_OPS and "shape" in n.attr:
        dtype = n.attr["dtype"].type if "dtype" in n.attr else 1
        return _num_elements(_dims(n.attr["shape"].shape)) if _is_float(dtype) else 0
    if n.op in ("Const", "HostConst") and "value" in n.attr:
        t = n.attr["value"].tensor
        dims = _dims(t.tensor_shape)
        if _is_float(t.dtype) and dims:
            return _num_elements(dims)
    return 0


def _arg_size(arg, node_def) -> int:
    if arg.number_attr and arg.number_attr in node_def.attr:
        return int(node_def.attr[arg.number_attr].i)
    if arg.type_list_attr and arg.type_list_attr in node_def.attr:
        return len(node_def.attr[arg.type_list_attr].list.type)
    return 1


# ---------------------------------------------------------------------------------------
# Entry points

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
    from .graph_file import GraphModel
    from .saved_model import MetaGraph, SavedModel
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
    from .graph_file import GraphModel
    from .saved_model import MetaGraph
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


def default_open_groups(g: Graph, budget: int = 400) -> set[str]:
    """The groups to open for a first view: while a single group is all there is to open
    (a call wrapping a call wrapping the model's scope), open it; stop at the first level
    showing several groups, which for a Keras model is its layers."""
    opened: set[str] = set()
    visible = list(g.root.children)
    while True:
        groups = [i for i in visible if i in g.groups and i not in g.nodes]
        if len(groups) != 1:
            break
        only = g.groups[groups[0]]
        if len(visible) - 1 + len(only.children) > budget:
            break
        opened.add(only.id)
        visible.remove(only.id)
        visible.extend(only.children)
    return opened
