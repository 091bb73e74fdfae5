"""SavedModel directories, read without TensorFlow.

    sm = open_saved_model("export/1")          # directory, saved_model.pb or saved_model.pbtxt
    sm.tag_sets                                 # [("serve",), ("serve", "gpu")]
    mg = sm.meta_graph("serve")                 # or "serve,gpu", or ["serve", "gpu"]
    sig = mg.signatures["serving_default"]
    sig.inputs["x"].dtype_name, sig.inputs["x"].shape      # "DT_FLOAT", (-1, 3)
    mg.ops_used(), mg.concrete_functions(), sm.variables   # variables: checkpoint reader

Everything is lazy: opening parses only saved_model.pb; the variables checkpoint, the
fingerprint and directory listings are read when first asked for. numpy is not imported
until a tensor value is decoded. ``sm.close()``, or leaving ``with open_saved_model(p) as
sm:``, closes the variables checkpoint if it was opened.
"""
from __future__ import annotations

import collections
import os
from functools import cached_property
from pathlib import Path

from . import dtypes, paths
from .errors import FormatError, NotFoundError, TensorloupeError

SAVED_MODEL_PB = "saved_model.pb"
SAVED_MODEL_PBTXT = "saved_model.pbtxt"
FINGERPRINT_PB = "fingerprint.pb"
INIT_OP_SIGNATURE_KEY = "__saved_model_init_op"

# TypeSpecProto.TypeSpecClass -> the Python class name TensorFlow gives it.
_TYPE_SPEC_CLASS_NAMES = {
    1: "SparseTensorSpec", 2: "IndexedSlicesSpec", 3: "RaggedTensorSpec",
    4: "TensorArraySpec", 5: "DatasetSpec", 6: "IteratorSpec", 7: "OptionalSpec",
    8: "PerReplicaSpec", 9: "VariableSpec", 10: "RowPartitionSpec",
}


def open_saved_model(path, verify: bool | None = None) -> "SavedModel":
    """Open a SavedModel by its directory or its saved_model.pb / saved_model.pbtxt file.

    ``verify`` is given to its variables checkpoint (False: read damaged data anyway)."""
    path = Path(os.fspath(path))
    if not path.exists():
        raise NotFoundError("no such file or directory", path)
    if path.is_dir():
        directory = path
        pb, pbtxt = path / SAVED_MODEL_PB, path / SAVED_MODEL_PBTXT
        # TensorFlow prefers the binary file when both exist.
        if pb.is_file():
            proto_file = pb
        elif pbtxt.is_file():
            proto_file = pbtxt
        else:
            try:
                empty = not any(path.iterdir())
            except OSError:
                empty = False
            what = "the directory is empty" if empty else (
                f"no {SAVED_MODEL_PB} or {SAVED_MODEL_PBTXT} in this directory")
            raise NotFoundError(f"not a SavedModel: {what}", path)
    else:
        proto_file = path
        directory = path.parent
    proto = _read_saved_model_proto(proto_file)
    sm = SavedModel(directory, proto_file, proto)
    sm.verify = verify
    return sm


def _read_saved_model_proto(proto_file: Path):
    from google.protobuf import message as pb_message

    from tensorloupe.protos import saved_model_pb2

    try:
        data = proto_file.read_bytes()
    except OSError as exc:
        raise NotFoundError(f"cannot read the file ({exc.strerror or exc})", proto_file) from None
    if not data:
        raise FormatError("the file is empty", proto_file)
    proto = saved_model_pb2.SavedModel()
    if proto_file.suffix == ".pbtxt":
        from google.protobuf import text_format
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"not a text-format SavedModel (invalid UTF-8 at byte {exc.start})",
                              proto_file, exc.start) from None
        # Expanded Any fields name TensorFlow's proto package; ours is `tensorloupe`.
        text = text.replace("type.googleapis.com/tensorflow.", "type.googleapis.com/tensorloupe.")
        from tensorloupe.protos.text import parse_bounded
        try:
            parse_bounded(text, proto, allow_unknown_field=True, allow_unknown_extension=True)
        except text_format.ParseError as exc:
            raise FormatError(f"not a text-format SavedModel ({exc})", proto_file) from None
    else:
        try:
            proto.ParseFromString(data)
        except pb_message.DecodeError as exc:
            raise FormatError(f"not a SavedModel protocol buffer ({exc})", proto_file) from None
    if not proto.meta_graphs:
        raise FormatError("not a SavedModel: it holds no MetaGraphDef", proto_file)
    return proto


def parse_tags(tags) -> tuple[str, ...]:
    """Tags from "serve,gpu" or an iterable; empty items are dropped (as TensorFlow does)."""
    if tags is None:
        return ()
    if isinstance(tags, (bytes, bytearray)):
        tags = tags.decode()
    if isinstance(tags, str):
        items = tags.split(",")
    else:
        items = list(tags)
    return tuple(t.strip() for t in items if t and t.strip())


class SavedModel:
    """A SavedModel directory: its MetaGraphs, assets, fingerprint and variables."""

    def __init__(self, path: Path, proto_file: Path, proto):
        self.path = Path(path)
        self.file = Path(proto_file)
        self.proto = proto
        self.meta_graphs = [MetaGraph(self, mg, i) for i, mg in enumerate(proto.meta_graphs)]

    def __repr__(self):
        return f"<SavedModel {str(self.path)!r} tag-sets={self.tag_sets}>"

    # ---------------------------------------------------------------- lifetime
    # The protos are plain memory; what a SavedModel may hold open is the checkpoint of its
    # variables (memory maps of its data shards), opened the first time ``variables`` is read.

    def close(self) -> None:
        """Close the variables checkpoint if it was opened. Calling it again does nothing.

        The reader stays attached, closed: as with a closed CheckpointReader, its keys and
        shapes still answer and reading values raises FormatError.
        """
        reader = self.__dict__.get("variables")
        if reader is not None:
            reader.close()

    def __enter__(self) -> "SavedModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self.proto.saved_model_schema_version)

    @property
    def tag_sets(self) -> list[tuple[str, ...]]:
        """The tag-set of each MetaGraph, in file order (tags in stored order)."""
        return [mg.tags for mg in self.meta_graphs]

    def meta_graph(self, tags=None) -> "MetaGraph":
        """The MetaGraph whose tag-set equals ``tags`` ("serve,gpu" or an iterable).

        With no tags: the only MetaGraph, else the one tagged exactly "serve".
        """
        if tags is None:
            if len(self.meta_graphs) == 1:
                return self.meta_graphs[0]
            for mg in self.meta_graphs:
                if set(mg.tags) == {"serve"}:
                    return mg
            raise NotFoundError(
                "this SavedModel has several MetaGraphs; choose a tag-set from: "
                + "; ".join(",".join(t) for t in self.tag_sets), self.path)
        wanted = set(parse_tags(tags))
        for mg in self.meta_graphs:
            if set(mg.tags) == wanted:
                return mg
        text = tags if isinstance(tags, str) else ",".join(tags)
        raise NotFoundError(
            f"MetaGraphDef associated with tag-set {text} could not be found in the "
            f"SavedModel. Please use one of the following tag-sets: "
            f"{[','.join(t) for t in self.tag_sets]}")

    @property
    def signatures(self) -> dict:
        """Signatures of the default MetaGraph (see ``meta_graph()``)."""
        return self.meta_graph().signatures

    @cached_property
    def fingerprint(self):
        """The decoded fingerprint.pb (a FingerprintDef), or None when absent."""
        file = self.path / FINGERPRINT_PB
        if not file.is_file():
            return None
        from google.protobuf import message as pb_message

        from tensorloupe.protos import fingerprint_pb2
        proto = fingerprint_pb2.FingerprintDef()
        try:
            proto.ParseFromString(file.read_bytes())
        except pb_message.DecodeError as exc:
            raise FormatError(f"not a FingerprintDef ({exc})", file) from None
        return proto

    @cached_property
    def assets(self) -> list[Path]:
        """Files under assets/, sorted by relative path. A symlink that leads out of the
        model is left out (see ``refused_files``)."""
        return self._listing(paths.ASSETS)[0]

    @cached_property
    def assets_extra(self) -> list[Path]:
        """Files under assets.extra/ (not managed by SavedModel), sorted, as ``assets``."""
        return self._listing(paths.ASSETS_EXTRA)[0]

    @property
    def refused_files(self) -> list[tuple[Path, str]]:
        """(path, where it really points) of each file under assets/ or assets.extra/ that
        resolves outside them: listed nowhere else, and never read."""
        return self._listing(paths.ASSETS)[1] + self._listing(paths.ASSETS_EXTRA)[1]

    def _listing(self, name: str):
        cache = self.__dict__.setdefault("_listings", {})
        if name not in cache:
            cache[name] = paths.list_inside(self.path / name,
                                            os.path.join(paths.real(self.path), name))
        return cache[name]

    @property
    def variables_prefix(self) -> Path:
        """``variables/variables``; OutsideModelError when its index or a data shard leads
        out of variables/ (a symlink), so that nothing reads it."""
        return Path(paths.variables_prefix(self.path))

    def run_signature(self, key: str, inputs: dict, tags=None, **options) -> dict:
        """Run a signature with the numpy engine (see core.engine.session.run_signature)."""
        from .engine.session import run_signature
        return run_signature(self, key, inputs, tags, **options)

    def run(self, fetches, feeds: dict | None = None, tags=None, **options):
        """Fetch tensors by name from the restored MetaGraph (see core.engine.session)."""
        from .engine.session import run_saved_model
        return run_saved_model(self, fetches, feeds, tags, **options)

    verify: bool | None = None  # checksum checks of the variables' reads (None: the default)

    @cached_property
    def variables(self):
        """The variables/ checkpoint opened with core.open_checkpoint, or None when absent."""
        prefix = self.variables_prefix
        from .checkpoint.v1 import is_v1_prefix
        if not (Path(str(prefix) + ".index").is_file() or is_v1_prefix(prefix)):
            return None
        from .checkpoint import open_checkpoint
        return open_checkpoint(prefix, verify=self.verify)

    def summary(self) -> dict:
        """Counts over the whole SavedModel: meta graphs, signatures, nodes, functions, ops,
        variables, parameters and bytes on disk."""
        ops = set()
        nodes = functions = signatures = 0
        for mg in self.meta_graphs:
            s = mg.summary()
            nodes += s["nodes"]
            functions += s["functions"]
            signatures += s["signatures"]
            ops.update(mg.ops_used())
        out = {"meta_graphs": len(self.meta_graphs), "signatures": signatures,
               "nodes": nodes, "functions": functions, "ops": len(ops),
               "variables": 0, "parameters": 0, "variable_bytes": 0,
               "bytes": _tree_size(self.path)}
        try:
            reader = self.variables
        except (TensorloupeError, ImportError):
            reader = None
        if reader is not None:
            mg = self.meta_graphs[0] if self.meta_graphs else None
            (out["variables"], out["parameters"],
             out["variable_bytes"]) = variable_totals(mg, reader)
        return out

    # Room for core.engine: run_signature(key, inputs, tags=None) and
    # run(fetches, feeds, tags=None) are attached by the engine.


def saved_model_variable_names(mg, reader) -> dict[str, str]:
    """Checkpoint key -> the variable's own name (``dense/kernel``), from the SavedObjectGraph.

    The checkpoint's TrackableObjectGraph and the SavedModel's SavedObjectGraph list the same
    objects in the same order, so node i of one is node i of the other."""
    og = mg.object_graph if mg is not None else None
    if og is None:
        return {}
    try:
        tog = reader.object_graph()
    except TensorloupeError:
        return {}
    if tog is None:
        return {}
    out = {}
    for tnode, snode in zip(tog.nodes, og.nodes):
        if snode.WhichOneof("kind") != "variable" or not snode.variable.name:
            continue
        for attr in tnode.attributes:
            if attr.name == "VARIABLE_VALUE":
                out[attr.checkpoint_key] = snode.variable.name
    return out


def variable_totals(mg, reader) -> tuple[int, int, int]:
    """(variables, parameters, bytes) of a SavedModel's checkpoint.

    Keras 3 exports store every variable twice (under ``variables/N`` and
    ``_all_variables/N``); an entry with the same variable name, shape and dtype as one
    already counted is that copy, and is counted once. The object graph entry is not counted.
    """
    # Here, not at the top: importing the checkpoint package costs opening a SavedModel
    # time, and a reader exists (so the package is loaded) by the time this runs.
    from .checkpoint.keys import OBJECT_GRAPH_KEY
    names = saved_model_variable_names(mg, reader)
    seen = set()
    count = params = nbytes = 0
    for key in sorted(reader.keys(), key=lambda k: (k.startswith("_"), k)):
        if key == OBJECT_GRAPH_KEY:
            continue
        shape = tuple(reader.shape(key))
        identity = (names.get(key, key), shape, reader.dtype_enum(key))
        if identity in seen:
            continue
        seen.add(identity)
        count += 1
        n = 1
        for d in shape:
            n *= int(d)
        params += n
        nbytes += int(reader.nbytes(key))
    return count, params, nbytes


def _tree_size(root: Path) -> int:
    total = 0
    for dirpath, _dirs, filenames in os.walk(root):
        for name in filenames:
            try:
                total += os.path.getsize(os.path.join(dirpath, name))
            except OSError:
                pass
    return total


class MetaGraph:
    """One MetaGraphDef of a SavedModel (or of a TF1 .meta file)."""

    def __init__(self, saved_model: SavedModel | None, proto, index: int = 0):
        self.saved_model = saved_model
        self.proto = proto
        self.index = index

    def __repr__(self):
        return f"<MetaGraph tags={list(self.tags)}>"

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self.proto.meta_info_def.tags)

    @property
    def tf_version(self) -> str:
        return self.proto.meta_info_def.tensorflow_version

    @property
    def tf_git_version(self) -> str:
        return self.proto.meta_info_def.tensorflow_git_version

    @property
    def stripped_default_attrs(self) -> bool:
        return bool(self.proto.meta_info_def.stripped_default_attrs)

    @property
    def graph_def(self):
        return self.proto.graph_def

    @cached_property
    def signatures(self) -> dict[str, "Signature"]:
        """Signature key -> Signature, sorted by key."""
        defs = self.proto.signature_def
        return {key: Signature(key, defs[key]) for key in sorted(defs.keys())}

    def signature(self, key: str) -> "Signature":
        sigs = self.signatures
        if key not in sigs:
            raise NotFoundError(
                f'Could not find signature "{key}". Please choose from: '
                f'{", ".join(self.proto.signature_def.keys())}')
        return sigs[key]

    @cached_property
    def functions(self) -> dict:
        """Library FunctionDefs by name, in library order."""
        return {f.signature.name: f for f in self.proto.graph_def.library.function}

    def ops_used(self) -> list[str]:
        """Sorted op names used by the graph and the functions its call ops reach.

        The same set saved_model_cli --list_ops prints (meta_graph.ops_used_by_graph_def):
        functions are followed from ops named after them and from the ``f`` attribute of
        (Stateful)PartitionedCall only, and function names themselves are left out.
        """
        return ops_used_by_graph_def(self.proto.graph_def)

    @property
    def collections(self) -> dict:
        """Collection name -> CollectionDef, sorted by name."""
        c = self.proto.collection_def
        return {k: c[k] for k in sorted(c.keys())}

    @property
    def saver_def(self):
        """The SaverDef, or None when the MetaGraph has none."""
        return self.proto.saver_def if self.proto.HasField("saver_def") else None

    @property
    def asset_file_defs(self) -> list["AssetFile"]:
        """Asset tensors with the file each names, resolved under the SavedModel's assets/.

        An asset whose file resolves outside assets/ and assets.extra/ (an absolute or
        ``..`` name, a symlink out) keeps the path TensorFlow would open, for showing, and
        carries the refusal in ``error``; the other assets are unaffected.
        """
        model = self.saved_model.path if self.saved_model else None
        out = []
        defs = list(self.proto.asset_file_def)
        if not defs and "saved_model_assets" in self.proto.collection_def:
            # TF1 builders keep them in a collection of Any-packed AssetFileDefs.
            from google.protobuf.message import DecodeError

            from tensorloupe.protos import meta_graph_pb2
            for packed in self.proto.collection_def["saved_model_assets"].any_list.value:
                if packed.type_url.rsplit(".", 1)[-1] != "AssetFileDef":
                    continue
                a = meta_graph_pb2.AssetFileDef()
                try:
                    a.ParseFromString(packed.value)
                except DecodeError as exc:
                    raise FormatError(f"an asset entry is not an AssetFileDef ({exc})",
                                      self.saved_model.file if self.saved_model else None
                                      ) from None
                defs.append(a)
        for a in defs:
            path = error = None
            if model is not None:
                try:
                    path = paths.asset_path(model, a.filename)
                except paths.OutsideModelError as exc:
                    path, error = model / paths.ASSETS / a.filename, exc.message
            out.append(AssetFile(a.tensor_info.name, a.filename, path, error))
        return out

    @property
    def object_graph(self):
        """The SavedObjectGraph (TF2 exports), or None."""
        return self.proto.object_graph_def if self.proto.HasField("object_graph_def") else None

    def concrete_functions(self) -> list["FunctionListing"]:
        """The functions saved_model_cli lists under "Concrete Functions": the object
        graph root's children that are functions, sorted by name, each with the argument
        structure of its concrete functions."""
        og = self.object_graph
        if og is None or not og.nodes:
            return []
        order = _load_order(self.proto.graph_def.library)
        out = []
        root = og.nodes[0]
        children = sorted(((c.local_name, c.node_id) for c in root.children),
                          key=lambda item: item[0])
        source = self.saved_model.file if self.saved_model else None
        for local_name, node_id in children:
            if not 0 <= node_id < len(og.nodes):
                raise FormatError(f"object graph child {local_name!r} points at node "
                                  f"{node_id}, but the graph has nodes 0 to {len(og.nodes) - 1}",
                                  source)
            node = og.nodes[node_id]
            kind = node.WhichOneof("kind")
            if kind == "function":
                names = list(node.function.concrete_functions)
                # TensorFlow lists a function's traces by the names they get when loaded,
                # which follow the library's load order.
                names.sort(key=lambda n: order.get(n, len(order)))
                options = []
                for name in names:
                    cf = og.concrete_functions.get(name)
                    if cf is None:
                        continue
                    options.append(_option_from_signature(name, cf.canonicalized_input_signature,
                                                          source))
                out.append(FunctionListing(local_name, "function", options))
            elif kind == "bare_concrete_function":
                bare = node.bare_concrete_function
                name = bare.concrete_function_name
                cf = og.concrete_functions.get(name)
                if cf is not None:
                    option = _option_from_signature(name, cf.canonicalized_input_signature,
                                                    source)
                else:
                    option = ConcreteOption(name, list(bare.argument_keywords), {})
                out.append(FunctionListing(local_name, "bare_concrete_function", [option]))
        return out

    def summary(self) -> dict:
        lib = self.proto.graph_def.library
        return {
            "tags": list(self.tags),
            "signatures": len(self.proto.signature_def),
            "nodes": len(self.proto.graph_def.node),
            "function_nodes": sum(len(f.node_def) for f in lib.function),
            "functions": len(lib.function),
            "ops": len(self.ops_used()),
            "collections": len(self.proto.collection_def),
            "assets": len(self.proto.asset_file_def),
            "object_graph_nodes": len(self.object_graph.nodes) if self.object_graph else 0,
            "tf_version": self.tf_version,
        }


def ops_used_by_graph_def(graph_def) -> list[str]:
    """Sorted op names of a GraphDef, following call ops into its function library."""
    library = {f.signature.name: f for f in graph_def.library.function}
    used: set[str] = set()
    pending = []

    def mark(op: str):
        if op not in used and op in library:
            pending.append(library[op])
        used.add(op)

    def visit(node):
        mark(node.op)
        if node.op in ("PartitionedCall", "StatefulPartitionedCall"):
            f = node.attr.get("f")
            mark(f.func.name if f is not None else "")

    for node in graph_def.node:
        visit(node)
    while pending:
        for node in pending.pop().node_def:
            visit(node)
    return sorted(op for op in used if op not in library)


def _load_order(library) -> dict[str, int]:
    """Position of each library function in the order TensorFlow's loader imports them
    (a topological sort over function references, taken from the end of a ready list)."""
    names = {f.signature.name for f in library.function}
    gradient_names = {g.registered_op_type: g.gradient_func
                      for g in library.registered_gradients if g.registered_op_type}
    edges = collections.defaultdict(list)
    incoming = collections.defaultdict(int)
    for f in library.function:
        deps = set()
        for node in f.node_def:
            grad = None
            if node.op not in ("StatefulPartitionedCall", "PartitionedCall"):
                a = node.attr.get("_gradient_op_type")
                grad = a.s.decode(errors="replace") if a is not None and a.s else None
            if node.op in names:
                deps.add(node.op)
            elif grad and grad in gradient_names:
                deps.add(gradient_names[grad])
            else:
                for _key, value in node.attr.items():
                    kind = value.WhichOneof("value")
                    if kind == "func":
                        deps.add(value.func.name)
                    elif kind == "list":
                        deps.update(fn.name for fn in value.list.func)
        for d in deps:
            edges[d].append(f.signature.name)
            incoming[f.signature.name] += 1
    ready = [f.signature.name for f in library.function if incoming[f.signature.name] == 0]
    order: dict[str, int] = {}
    while ready:
        name = ready.pop()
        order[name] = len(order)
        for dest in edges[name]:
            incoming[dest] -= 1
            if not incoming[dest]:
                ready.append(dest)
    return order


class AssetFile(collections.namedtuple("AssetFile", "tensor_name filename path error",
                                       defaults=(None,))):
    """An asset tensor of the graph and the file it is fed with. ``error`` says why the
    file is refused (it resolves outside the model), else None."""


class FunctionListing(collections.namedtuple("FunctionListing", "name kind options")):
    """A function reachable from the object graph root: its attribute name, its kind
    ("function" or "bare_concrete_function") and one ConcreteOption per trace."""


class ConcreteOption(collections.namedtuple("ConcreteOption", "concrete_name args kwargs")):
    """One trace of a function: positional argument values and keyword argument values
    (TensorSpecValue for tensors, Python values for the rest)."""


def _option_from_signature(name: str, structured, source=None) -> ConcreteOption:
    value = decode_structured_value(structured)
    if isinstance(value, tuple) and len(value) == 2:
        args, kwargs = value
        # TensorFlow stores (args tuple, kwargs dict); anything else cannot be called.
        if args is not None and not isinstance(args, (list, tuple)):
            raise FormatError(f"concrete function {name!r}: its input signature gives the "
                              f"positional arguments as {_kind_text(args)}, not a tuple",
                              source)
        if kwargs is not None and not isinstance(kwargs, dict):
            raise FormatError(f"concrete function {name!r}: its input signature gives the "
                              f"keyword arguments as {_kind_text(kwargs)}, not a dict", source)
        return ConcreteOption(name, list(args) if args is not None else [], kwargs or {})
    return ConcreteOption(name, [], {})


def _kind_text(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


class Signature:
    """A SignatureDef: method name and TensorSpecInfo for each input and output key."""

    def __init__(self, key: str, proto):
        self.key = key
        self.proto = proto
        self.method_name = proto.method_name
        self.inputs = {k: TensorSpecInfo(k, proto.inputs[k]) for k in sorted(proto.inputs.keys())}
        self.outputs = {k: TensorSpecInfo(k, proto.outputs[k])
                        for k in sorted(proto.outputs.keys())}

    def __repr__(self):
        return (f"<Signature {self.key!r} {self.method_name!r} inputs={list(self.inputs)} "
                f"outputs={list(self.outputs)}>")


class TensorSpecInfo:
    """A signature's TensorInfo: dtype, shape, and where the tensor lives in the graph.

    ``encoding`` is "name" (``name`` is the tensor), "coo_sparse" (``coo_sparse`` holds
    values/indices/dense_shape tensor names) or "composite_tensor" (``components``).
    """

    def __init__(self, key: str, proto):
        self.key = key
        self.proto = proto
        self.dtype = int(proto.dtype)
        self.encoding = proto.WhichOneof("encoding") or "name"
        self.name = proto.name
        self.shape = _shape_dims(proto.tensor_shape)

    def __repr__(self):
        return (f"<TensorSpecInfo {self.key!r} {self.dtype_name} {self.shape_text} "
                f"{self.name or self.encoding}>")

    @property
    def dtype_name(self) -> str:
        return dtype_enum_name(self.dtype)

    @property
    def numpy_dtype(self):
        from . import dtypes
        return dtypes.to_numpy(self.dtype)

    @property
    def shape_text(self) -> str:
        from .tensors import shape_text
        return shape_text(self.proto.tensor_shape)

    @property
    def coo_sparse(self) -> dict | None:
        if self.encoding != "coo_sparse":
            return None
        c = self.proto.coo_sparse
        return {"values": c.values_tensor_name, "indices": c.indices_tensor_name,
                "dense_shape": c.dense_shape_tensor_name}

    @property
    def components(self) -> list["TensorSpecInfo"]:
        if self.encoding != "composite_tensor":
            return []
        return [TensorSpecInfo(f"{self.key}[{i}]", c)
                for i, c in enumerate(self.proto.composite_tensor.components)]

    @property
    def type_spec(self):
        """The composite tensor's TypeSpec, decoded (TypeSpecValue), or None."""
        if self.encoding != "composite_tensor":
            return None
        from tensorloupe.protos import struct_pb2
        value = struct_pb2.StructuredValue()
        value.type_spec_value.CopyFrom(self.proto.composite_tensor.type_spec)
        return decode_structured_value(value)


def _shape_dims(shape_proto):
    if shape_proto.unknown_rank:
        return None
    return tuple(int(d.size) for d in shape_proto.dim)


def dtype_enum_name(enum: int) -> str:
    """DataType enum name as types.proto spells it (DT_FLOAT, DT_FLOAT_REF)."""
    return dtypes.name(int(enum))


# ---------------------------------------------------------------- StructuredValue

class TensorShapeValue:
    """A decoded TensorShapeProto that prints like tf.TensorShape."""

    def __init__(self, dims):
        self.dims = dims            # tuple with None for unknown sizes, or None (unknown rank)

    def __iter__(self):
        if self.dims is None:
            raise ValueError("Cannot iterate over a shape with unknown rank.")
        return iter(self.dims)

    def __len__(self):
        if self.dims is None:
            raise ValueError("Cannot take the length of shape with unknown rank.")
        return len(self.dims)

    def __eq__(self, other):
        return isinstance(other, TensorShapeValue) and other.dims == self.dims

    def __hash__(self):
        return hash(self.dims)

    def __str__(self):
        if self.dims is None:
            return "<unknown>"
        parts = ["None" if d is None else str(d) for d in self.dims]
        if len(parts) == 1:
            return f"({parts[0]},)"
        return "(" + ", ".join(parts) + ")"

    def __repr__(self):
        if self.dims is None:
            return "TensorShape(None)"
        return "TensorShape([" + ", ".join("None" if d is None else str(d)
                                             for d in self.dims) + "])"


TensorShapeValue.__name__ = "TensorShape"


class DTypeValue:
    """A decoded DataType that prints like tf.DType."""

    def __init__(self, enum: int):
        self.enum = int(enum)

    @property
    def name(self) -> str:
        return dtypes.python_name(self.enum)

    def __eq__(self, other):
        return isinstance(other, DTypeValue) and other.enum == self.enum

    def __hash__(self):
        return hash(self.enum)

    def __str__(self):
        return f"<dtype: {self.name!r}>"

    def __repr__(self):
        return f"tf.{self.name}"


DTypeValue.__name__ = "DType"


class TensorSpecValue:
    """A decoded TensorSpecProto that prints like tf.TensorSpec."""

    type_name = "TensorSpec"

    def __init__(self, name, shape: TensorShapeValue, dtype: DTypeValue):
        self.name = name
        self.shape = shape
        self.dtype = dtype

    def __eq__(self, other):
        return (type(other) is type(self) and other.name == self.name
                and other.shape == self.shape and other.dtype == self.dtype)

    def __hash__(self):
        return hash((self.name, self.shape, self.dtype))

    def __repr__(self):
        return (f"{self.type_name}(shape={self.shape}, dtype={self.dtype!r}, "
                f"name={self.name!r})")


TensorSpecValue.__name__ = "TensorSpec"


class BoundedTensorSpecValue(TensorSpecValue):
    type_name = "BoundedTensorSpec"

    def __init__(self, name, shape, dtype, minimum, maximum):
        super().__init__(name, shape, dtype)
        self.minimum = minimum
        self.maximum = maximum

    def __repr__(self):
        return (f"BoundedTensorSpec(shape={self.shape}, dtype={self.dtype!r}, "
                f"name={self.name!r}, minimum={self.minimum!r}, maximum={self.maximum!r})")


BoundedTensorSpecValue.__name__ = "BoundedTensorSpec"


class TypeSpecValue:
    """A decoded TypeSpecProto (SparseTensorSpec, RaggedTensorSpec, ...): its class name
    and decoded state, printed as TensorFlow's TypeSpec.__repr__ does."""

    def __init__(self, class_name: str, state, proto=None):
        self.class_name = class_name
        self.state = state
        self.proto = proto

    @property
    def type_name(self) -> str:
        return self.class_name

    def __repr__(self):
        state = self.state if isinstance(self.state, tuple) else (self.state,)
        return f"{self.class_name}{state!r}"


def decode_structured_value(value):
    """Decode a StructuredValue (struct.proto) into Python values, as TensorFlow's
    nested_structure_coder does, with printing stand-ins for TensorFlow types."""
    kind = value.WhichOneof("kind")
    if kind is None or kind == "none_value":
        return None
    if kind in ("float64_value", "bool_value", "string_value"):
        return getattr(value, kind)
    if kind == "int64_value":
        return int(value.int64_value)
    if kind == "list_value":
        return [decode_structured_value(v) for v in value.list_value.values]
    if kind == "tuple_value":
        return tuple(decode_structured_value(v) for v in value.tuple_value.values)
    if kind == "dict_value":
        fields = value.dict_value.fields
        # TensorFlow's order here is the protobuf map's, which varies; ours is sorted.
        return {k: decode_structured_value(fields[k]) for k in sorted(fields.keys())}
    if kind == "named_tuple_value":
        nt = value.named_tuple_value
        keys = [p.key for p in nt.values]
        try:
            cls = collections.namedtuple(nt.name or "NamedTuple", keys)
        except ValueError:
            cls = collections.namedtuple(nt.name if nt.name.isidentifier() else "NamedTuple",
                                         keys, rename=True)
        return cls(*[decode_structured_value(p.value) for p in nt.values])
    if kind == "tensor_shape_value":
        return _shape_value(value.tensor_shape_value)
    if kind == "tensor_dtype_value":
        return DTypeValue(value.tensor_dtype_value)
    if kind == "tensor_spec_value":
        s = value.tensor_spec_value
        return TensorSpecValue(s.name or None, _shape_value(s.shape), DTypeValue(s.dtype))
    if kind == "bounded_tensor_spec_value":
        s = value.bounded_tensor_spec_value
        from .tensors import to_numpy
        return BoundedTensorSpecValue(s.name or None, _shape_value(s.shape), DTypeValue(s.dtype),
                                      to_numpy(s.minimum), to_numpy(s.maximum))
    if kind == "type_spec_value":
        ts = value.type_spec_value
        name = _TYPE_SPEC_CLASS_NAMES.get(int(ts.type_spec_class)) or ts.type_spec_class_name \
            or "TypeSpec"
        return TypeSpecValue(name, decode_structured_value(ts.type_state), ts)
    if kind in ("tensor_value", "numpy_value"):
        from .tensors import to_numpy
        return to_numpy(getattr(value, kind))
    return None


def _shape_value(shape_proto) -> TensorShapeValue:
    if shape_proto.unknown_rank:
        return TensorShapeValue(None)
    return TensorShapeValue(tuple(None if d.size < 0 else int(d.size) for d in shape_proto.dim))
