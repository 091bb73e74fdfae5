"""The tf.Example parse spec behind a signature input, and serialized examples built from it.

Classify/regress signatures (and any graph that runs ``tf.io.parse_example`` on an input)
take serialized ``tf.Example`` strings. The graph itself says what it expects: a
ParseExample / ParseExampleV2 / ParseSingleExample node fed by the input holds the feature
names (constant key tensors or attributes), their types, the dense shapes and the default
values (constant tensors; an empty default means the feature is required).

    specs = find_example_specs(meta_graph, signature)    # {input key: ExampleSpec}
    spec = specs["inputs"]
    [(f.name, f.type_name, f.shape, f.default) for f in spec.features]
    batch = build_examples(spec, [{"x": [1.0]}, {"x": [2.0], "x2": [3.0]}])  # object array

Pure Python + numpy + our protos; no Qt.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import dtypes
from .errors import InputError

PARSE_OPS = ("ParseExample", "ParseExampleV2", "ParseSingleExample")
# Ops a serialized-example tensor may pass through on its way to the parse node.
_PASS_THROUGH = {"Identity", "Reshape", "Squeeze", "ExpandDims", "StopGradient", "Snapshot"}
_CALL_OPS = {"StatefulPartitionedCall", "PartitionedCall"}

_TYPE_NAMES = {1: "float", 9: "int64", 7: "string"}
_LIST_FIELD = {1: "float_list", 9: "int64_list", 7: "bytes_list"}


@dataclass
class FeatureSpec:
    """One feature the parse node reads."""
    name: str
    kind: str                    # "dense", "sparse" or "ragged"
    dtype: int                   # DataType enum: DT_FLOAT, DT_INT64 or DT_STRING
    shape: tuple | None = None   # dense only: the per-example shape (-1 first = variable length)
    default: np.ndarray | None = None  # dense only; None = required (no default in the graph)
    has_default: bool = False

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES.get(dtypes.base(self.dtype), dtypes.python_name(self.dtype))

    @property
    def required(self) -> bool:
        return self.kind == "dense" and not self.has_default

    @property
    def size(self) -> int | None:
        """How many values a dense feature holds per example (None when variable)."""
        if self.kind != "dense" or self.shape is None or any(d < 0 for d in self.shape):
            return None
        n = 1
        for d in self.shape:
            n *= int(d)
        return n

    def default_text(self) -> str:
        if not self.has_default or self.default is None:
            return ""
        return values_text(self.default.reshape(-1).tolist())


@dataclass
class ExampleSpec:
    """What the parse node fed by one signature input expects."""
    input_key: str
    node: str
    op: str
    function: str | None = None          # the library function holding the node, if any
    features: list[FeatureSpec] = field(default_factory=list)

    @property
    def single(self) -> bool:
        return self.op == "ParseSingleExample"

    def feature(self, name: str) -> FeatureSpec:
        for f in self.features:
            if f.name == name:
                return f
        raise InputError(f"the parse spec of input '{self.input_key}' has no feature '{name}'")


# ---------------------------------------------------------------- finding the spec

class _Body:
    """A graph or function body: nodes by name, consumers of each tensor, constants."""

    def __init__(self, nodes, function=None):
        self.nodes = {n.name: n for n in nodes}
        self.function = function
        self.args = [a.name for a in function.signature.input_arg] if function is not None else []
        self.consumers: dict[str, list] = {}
        for n in nodes:
            for i, ref in enumerate(n.input):
                if ref.startswith("^"):
                    continue
                self.consumers.setdefault(self._canon(ref), []).append((n, i))

    @property
    def name(self) -> str | None:
        return self.function.signature.name if self.function is not None else None

    def _canon(self, ref: str) -> str:
        """One spelling per tensor: 'n:0' for graphs; bodies keep 'n:out:i' and bare args."""
        if self.function is None:
            return ref if ":" in ref else ref + ":0"
        return ref

    def outputs_of(self, node) -> list[str]:
        """The names consumers use for output 0 of ``node`` (the tensors worth following)."""
        if self.function is None:
            return [node.name + ":0"]
        return [f"{node.name}:output:0", f"{node.name}:y:0", f"{node.name}:0"] + [
            ref for ref in self.consumers if ref.startswith(node.name + ":") and ref.endswith(":0")]

    def constant(self, ref: str, depth: int = 0):
        """The value of a tensor made only of constants (Const, Identity, Reshape ...), or
        None when it is computed from anything else."""
        if depth > 16 or ref.startswith("^"):
            return None
        name = ref.split(":")[0]
        node = self.nodes.get(name)
        if node is None:
            return None
        if node.op == "Const":
            from .tensors import to_numpy
            try:
                return to_numpy(node.attr["value"].tensor)
            except Exception:  # noqa: BLE001 - an unreadable constant is just "unknown"
                return None
        if node.op in ("Identity", "StopGradient", "Snapshot") and node.input:
            return self.constant(node.input[0], depth + 1)
        if node.op == "Reshape" and len(node.input) >= 2:
            value = self.constant(node.input[0], depth + 1)
            shape = self.constant(node.input[1], depth + 1)
            if value is None or shape is None:
                return None
            try:
                return np.reshape(value, [int(d) for d in np.asarray(shape).reshape(-1)])
            except ValueError:
                return None
        return None


def _library(graph_def) -> dict:
    return {f.signature.name: f for f in graph_def.library.function}


def _parse_nodes_fed_by(graph_def, tensor_name: str):
    """[(body, parse node)] for every parse node whose serialized input comes from the tensor."""
    functions = _library(graph_def)
    bodies: dict = {}

    def body_of(fname):
        if fname not in bodies:
            bodies[fname] = _Body(functions[fname].node_def, functions[fname])
        return bodies[fname]

    main = _Body(graph_def.node)
    start = tensor_name if ":" in tensor_name else tensor_name + ":0"
    todo = [(main, start)]
    seen = set()
    found = []
    while todo:
        body, ref = todo.pop()
        if (id(body), ref) in seen or len(seen) > 10_000:
            continue
        seen.add((id(body), ref))
        for node, index in body.consumers.get(ref, []):
            if node.op in PARSE_OPS and index == 0:
                found.append((body, node))
            elif node.op in _PASS_THROUGH and index == 0:
                for out in body.outputs_of(node):
                    todo.append((body, out))
            elif node.op in _CALL_OPS and "f" in node.attr:
                fname = node.attr["f"].func.name
                if fname in functions:
                    callee = body_of(fname)
                    if index < len(callee.args):
                        todo.append((callee, callee.args[index]))
    return found


def _list_attr_types(node, name) -> list[int]:
    return list(node.attr[name].list.type) if name in node.attr else []


def _list_attr_shapes(node, name) -> list:
    if name not in node.attr:
        return []
    out = []
    for s in node.attr[name].list.shape:
        out.append(None if s.unknown_rank else tuple(int(d.size) for d in s.dim))
    return out


def _strings(value) -> list[str]:
    if value is None:
        return []
    return [v.decode("utf-8", "replace") if isinstance(v, (bytes, np.bytes_)) else str(v)
            for v in np.asarray(value, dtype=object).reshape(-1)]


def _default(body: _Body, ref: str | None, dtype: int):
    """(has_default, value) for a dense default tensor; an empty tensor means required."""
    if ref is None:
        return False, None
    value = body.constant(ref)
    if value is None:
        return False, None
    value = np.asarray(value)
    if value.size == 0:
        return False, None
    return True, value


def _spec_of(body: _Body, node, input_key: str) -> ExampleSpec:
    op = node.op
    inputs = [r for r in node.input if not r.startswith("^")]
    attr = node.attr
    spec = ExampleSpec(input_key, node.name, op, body.name)
    tdense = _list_attr_types(node, "Tdense")
    shapes = _list_attr_shapes(node, "dense_shapes")
    sparse_types = _list_attr_types(node, "sparse_types")
    nd = len(tdense)
    if op == "ParseExampleV2":
        # serialized, names, sparse_keys, dense_keys, ragged_keys, dense_defaults...
        sparse_keys = _strings(body.constant(inputs[2])) if len(inputs) > 2 else []
        dense_keys = _strings(body.constant(inputs[3])) if len(inputs) > 3 else []
        ragged_keys = _strings(body.constant(inputs[4])) if len(inputs) > 4 else []
        default_refs = inputs[5:5 + nd]
        ragged_types = _list_attr_types(node, "ragged_value_types")
    elif op == "ParseExample":
        # serialized, names, sparse_keys[Nsparse], dense_keys[Ndense], dense_defaults[Ndense]
        ns = int(attr["Nsparse"].i) if "Nsparse" in attr else len(sparse_types)
        nd = int(attr["Ndense"].i) if "Ndense" in attr else nd
        sparse_keys = [k for r in inputs[2:2 + ns] for k in _strings(body.constant(r))]
        dense_keys = [k for r in inputs[2 + ns:2 + ns + nd] for k in _strings(body.constant(r))]
        default_refs = inputs[2 + ns + nd:2 + ns + 2 * nd]
        ragged_keys, ragged_types = [], []
    else:  # ParseSingleExample: serialized, dense_defaults...; keys are attributes
        sparse_keys = [k.decode("utf-8", "replace") for k in attr["sparse_keys"].list.s] \
            if "sparse_keys" in attr else []
        dense_keys = [k.decode("utf-8", "replace") for k in attr["dense_keys"].list.s] \
            if "dense_keys" in attr else []
        default_refs = inputs[1:1 + nd]
        ragged_keys, ragged_types = [], []
    for i, key in enumerate(dense_keys):
        dt = tdense[i] if i < len(tdense) else 0
        has, value = _default(body, default_refs[i] if i < len(default_refs) else None, dt)
        spec.features.append(FeatureSpec(key, "dense", dt, shapes[i] if i < len(shapes) else None,
                                         value, has))
    for i, key in enumerate(sparse_keys):
        dt = sparse_types[i] if i < len(sparse_types) else 0
        spec.features.append(FeatureSpec(key, "sparse", dt))
    for i, key in enumerate(ragged_keys):
        dt = ragged_types[i] if i < len(ragged_types) else 0
        spec.features.append(FeatureSpec(key, "ragged", dt))
    return spec


def find_example_specs(meta_graph, signature) -> dict[str, ExampleSpec]:
    """{input key: ExampleSpec} for the signature's string inputs that feed a parse node.

    ``meta_graph`` is a core MetaGraph (or anything with ``graph_def``), ``signature`` a core
    Signature (``inputs``: key -> TensorSpecInfo with ``name`` and ``dtype``)."""
    graph_def = meta_graph.graph_def
    out = {}
    for key, info in signature.inputs.items():
        name = getattr(info, "name", None)
        if not name or dtypes.base(int(info.dtype or 0)) != dtypes.DT["DT_STRING"]:
            continue
        found = _parse_nodes_fed_by(graph_def, name)
        if found:
            body, node = found[0]
            out[key] = _spec_of(body, node, key)
    return out


def looks_like_examples(key: str, signature) -> bool:
    """True when a string input is conventionally serialized tf.Examples (classify/regress
    ``inputs``, or a name that says so) even if no parse node was found for it."""
    method = getattr(signature, "method_name", "") or ""
    lowered = key.lower()
    if method.endswith(("/classify", "/regress")) and key == "inputs":
        return True
    return "example" in lowered or "serialized" in lowered


# ---------------------------------------------------------------- building examples

def values_text(values) -> str:
    """Feature values as the form shows them: comma-separated, strings unquoted."""
    parts = []
    for v in values:
        if isinstance(v, (bytes, np.bytes_)):
            parts.append(bytes(v).decode("utf-8", "replace"))
        elif isinstance(v, float):
            parts.append(repr(v))
        else:
            parts.append(str(v))
    return ", ".join(parts)


def parse_values(feature: FeatureSpec, text: str) -> list | None:
    """The values typed for ``feature`` (comma-separated; strings as typed, one per comma
    unless the feature holds a single string); None for an empty field. InputError when a
    value is not of the feature's type."""
    text = text.strip()
    if not text:
        return None
    base = dtypes.base(feature.dtype)
    if base == dtypes.DT["DT_STRING"]:
        if feature.size == 1:
            return [text.encode("utf-8")]
        return [p.strip().encode("utf-8") for p in text.split(",")]
    out = []
    for p in text.split(","):
        p = p.strip()
        if not p:
            continue
        try:
            if base == dtypes.DT["DT_INT64"]:
                out.append(int(p))
            else:
                out.append(float(p))
        except ValueError:
            raise InputError(f"feature '{feature.name}' wants {feature.type_name} values; "
                             f"'{p}' is not one") from None
    return out


def check_values(feature: FeatureSpec, values) -> None:
    """InputError when a fixed-size dense feature gets the wrong number of values."""
    size = feature.size
    if size is not None and values is not None and len(values) != size:
        raise InputError(f"feature '{feature.name}' wants {size} value"
                         f"{'' if size == 1 else 's'} per example, got {len(values)}")


def build_example(spec: ExampleSpec | None, values: dict) -> bytes:
    """A serialized tf.Example from {feature name: list of values}. With a spec, values are
    cast to each feature's type, sizes are checked and required features must be present
    (features left out take the graph's default when parsed); without one, the value types
    choose the list kind."""
    from tensorloupe.protos import example_pb2
    ex = example_pb2.Example()
    ex.features.SetInParent()   # TensorFlow writes an empty Features even with no feature
    features = {f.name: f for f in spec.features} if spec is not None else {}
    if spec is not None:
        for f in spec.features:
            if f.required and values.get(f.name) is None:
                raise InputError(f"feature '{f.name}' has no default in the model, so it needs "
                                 "a value")
    for name, vals in values.items():
        if vals is None:
            continue
        if isinstance(vals, (str, bytes, int, float, np.generic)):
            vals = [vals]
        vals = list(np.asarray(vals, dtype=object).reshape(-1)) \
            if isinstance(vals, np.ndarray) else list(vals)
        f = features.get(name)
        if spec is not None and f is None:
            raise InputError(f"the model does not read a feature named '{name}'")
        if f is not None:
            check_values(f, vals)
            kind = _LIST_FIELD.get(dtypes.base(f.dtype))
        else:
            kind = _guess_kind(name, vals)
        feat = ex.features.feature[name]
        try:
            if kind == "bytes_list":
                feat.bytes_list.value.extend(
                    v if isinstance(v, bytes) else bytes(v) if isinstance(v, np.bytes_)
                    else str(v).encode("utf-8") for v in vals)
            elif kind == "int64_list":
                feat.int64_list.value.extend(_as_int(name, v) for v in vals)
            else:
                feat.float_list.value.extend(float(v) for v in vals)
        except (TypeError, ValueError):
            raise InputError(f"feature '{name}' got a value that is not "
                             f"{_TYPE_NAMES.get(dtypes.base(f.dtype), 'a number') if f else 'a number'}"
                             ) from None
    return ex.SerializeToString()


def _as_int(name: str, v) -> int:
    if isinstance(v, float) and not v.is_integer():
        raise InputError(f"feature '{name}' wants int64 values; {v!r} is not a whole number")
    return int(v)


def _guess_kind(name: str, vals: list) -> str:
    if all(isinstance(v, (bytes, str, np.bytes_, np.str_)) for v in vals):
        return "bytes_list"
    if all(isinstance(v, (bool, int, np.integer)) for v in vals):
        return "int64_list"
    if all(isinstance(v, (int, float, np.integer, np.floating)) for v in vals):
        return "float_list"
    raise InputError(f"feature '{name}' mixes values of different kinds")


def build_examples(spec: ExampleSpec | None, rows: list[dict]) -> np.ndarray:
    """A 1-D object array of serialized tf.Examples, one per row."""
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = build_example(spec, row)
    return out


def example_values(serialized: bytes) -> dict:
    """{feature name: list of values} of a serialized tf.Example (strings as bytes)."""
    from tensorloupe.protos import example_pb2
    ex = example_pb2.Example()
    try:
        ex.ParseFromString(bytes(serialized))
    except Exception:  # noqa: BLE001 - protobuf's DecodeError
        raise InputError("the value is not a serialized tf.Example") from None
    out = {}
    for name, feat in ex.features.feature.items():
        kind = feat.WhichOneof("kind")
        out[name] = list(getattr(feat, kind).value) if kind else []
    return out


__all__ = ["FeatureSpec", "ExampleSpec", "find_example_specs", "looks_like_examples",
           "build_example", "build_examples", "example_values", "parse_values",
           "check_values", "values_text", "PARSE_OPS"]
