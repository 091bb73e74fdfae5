"""Sessions: run a graph like ``tf.compat.v1.Session.run``, and SavedModels like TF's loader.

    sess = Session(graph_def, op_list)              # a GraphDef and its function library
    sess.run(["y:0"], {"x:0": array})               # feeds/fetches by tensor name

    run_signature(saved_model, "serving_default", {"x": array})   # restore, init, run

A session keeps its resources (variables, tables) between runs and caches one plan per
(fetches, feeds, targets) and one per library function. A SavedModel's session is made
once per MetaGraph: the saver's restore op runs with the variables path fed, then the
init op with the asset paths fed, exactly as TensorFlow's loader does; later runs reuse it.
"""
from __future__ import annotations

import contextlib
import os
import threading
import weakref

import numpy as np

from .. import dtypes, paths
from ..errors import ExecutionError, FormatError, InputError, NotFoundError, UnsupportedError
from .context import KernelContext, RunOptions, run_scope
from .executor import execute
from .plan import PLACEHOLDERS, Body, Library, Plan, Unsupported, build_plan
from .resources import ResourceManager, Variable


class Session:
    """Executes a GraphDef (and the functions in its library) with numpy kernels."""

    def __init__(self, graph_def, op_list=None, options: RunOptions | None = None):
        self.graph_def = graph_def
        self.lib = Library(graph_def, op_list)
        self.body = Body(graph_def.node, self.lib)
        self.resources = ResourceManager()
        self.options = options or RunOptions()
        self._plans: dict = {}
        self._function_plans: dict = {}
        self._readers: dict = {}
        self._checked: set = set()
        self._lock = threading.RLock()
        # Where kernels may read files (a vocabulary ...) and checkpoints (restore): resolved
        # directories, or None for no limit. Sessions of opened models set them so that a
        # graph naming /etc/passwd, or a symlink out of the model, reads nothing.
        self.file_roots: tuple[str, ...] | None = None
        self.checkpoint_roots: tuple[str, ...] | None = None
        # Checksum checks of the checkpoints it restores from (None: the default, on); a model
        # opened with verify=False restores damaged data too, for a forensic look.
        self.verify: bool | None = None

    # ---------------------------------------------------------------- planning
    def plan(self, fetches, feeds=(), targets=()) -> Plan:
        key = (tuple(fetches), tuple(feeds), tuple(targets))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = build_plan(self.body, list(fetches), list(feeds),
                                                 list(targets))
        return plan

    def function_plan(self, name: str, attrs: dict | None = None) -> Plan:
        fdef = self.lib.functions.get(name)
        if fdef is None:
            raise ExecutionError(f"function '{name}' is not in the graph's library")
        polymorphic = len(fdef.signature.attr) > 0
        key = (name, repr(sorted(attrs.items()))) if polymorphic and attrs else name
        plan = self._function_plans.get(key)
        if plan is None:
            body = Body(fdef.node_def, self.lib, fdef, attrs if polymorphic else None)
            fetches = []
            for arg in fdef.signature.output_arg:
                ret = fdef.ret.get(arg.name)
                if ret is None:
                    raise ExecutionError(f"function '{name}' does not say what output "
                                         f"'{arg.name}' returns")
                fetches.append(body.tensor_ref(ret))
            targets = sorted(set(fdef.control_ret.values()))
            stateful = [i for i, n in enumerate(body.nodes) if self.lib.is_stateful(n.op)]
            plan = build_plan(body, fetches, [], targets, stateful)
            self._function_plans[key] = plan
        return plan

    # ---------------------------------------------------------------- checking
    def unsupported(self, plans) -> list[Unsupported]:
        """Every op without a kernel in these plans and the functions they reach."""
        found = []
        seen = set()
        stack = []
        for p in plans:
            found.extend(p.unsupported)
            stack.extend(sorted(p.calls))
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            if name not in self.lib.functions:
                found.append(Unsupported(name, "(function call)", None))
                continue
            fp = self.function_plan(name)
            found.extend(fp.unsupported)
            stack.extend(sorted(fp.calls))
        return found

    def check(self, plans) -> None:
        """Raise one ExecutionError naming every op these plans cannot run."""
        todo = [p for p in plans if id(p) not in self._checked]
        if not todo:
            return
        missing = self.unsupported(todo)
        if missing:
            raise ExecutionError(unsupported_text(missing))
        self._checked.update(id(p) for p in todo)

    # ---------------------------------------------------------------- running
    def run(self, fetches, feeds: dict | None = None, targets=(), options: RunOptions | None = None):
        """Fetch tensors by name with ``feeds`` {tensor name: value}; run ``targets`` too.

        ``fetches`` may be a single name (returns one value) or a list (returns a list).
        """
        single = isinstance(fetches, str)
        fetch_list = [fetches] if single else list(fetches)
        feeds = dict(feeds or {})
        names = [_tensor_name(k) for k in feeds]
        # (the run's budget covers planning too: constants are refused before decoding)
        with self._lock, run_scope(options or self.options):
            plan = self.plan([_tensor_name(f) for f in fetch_list], names, list(targets))
            self.check([plan])
            values = [self.convert_feed(name, v) for name, v in zip(names, feeds.values())]
            out = self.execute(plan, values, options)
        return out[0] if single else out

    def execute(self, plan: Plan, feed_values: list, options: RunOptions | None = None) -> list:
        from .ops.math import blas_threads
        ctx = KernelContext(self, options or self.options)
        with np.errstate(all="ignore"), blas_threads():
            out = execute(plan, ctx, feed_values)
        _no_uninitialized(plan, out)
        return out

    def call_function(self, name: str, inputs: list, attrs: dict, ctx: KernelContext) -> list:
        plan = self.function_plan(name, attrs)
        n_args = len(plan.body.args)
        if len(inputs) != n_args:
            raise ExecutionError(f"function '{name}' takes {n_args} inputs, got {len(inputs)}")
        if id(plan) not in self._checked:
            self.check([plan])
        child = KernelContext(self, ctx.options, ctx.function_path + (name,))
        ctx.check_cancelled()
        return execute(plan, child, [], inputs)

    def checkpoint_reader(self, prefix: str):
        reader = self._readers.get(prefix)
        if reader is None:
            from ..checkpoint import find_prefix, open_checkpoint
            if self.checkpoint_roots is not None:
                if "\x00" in prefix:
                    raise paths.OutsideModelError(f"the checkpoint to restore, {prefix!r}, "
                                                  "names no usable file")
                # the name itself first: finding the prefix may read a state file there
                paths.check_inside(prefix, self.checkpoint_roots, "the checkpoint to restore")
                paths.check_checkpoint_files(find_prefix(prefix), self.checkpoint_roots,
                                             "the checkpoint to restore")
            reader = self._readers[prefix] = open_checkpoint(prefix, verify=self.verify)
        return reader

    def model_file(self, path: str, what: str = "the file") -> str:
        """``path`` if kernels may read it (see ``file_roots``), else OutsideModelError."""
        if self.file_roots is None:
            return path
        if "\x00" in path:
            raise paths.OutsideModelError(f"{what} {path!r} names no usable file")
        paths.check_inside(path, self.file_roots, what)
        return path

    def close_readers(self) -> None:
        """Close the checkpoints restore opened (restored values are copies)."""
        for reader in self._readers.values():
            close = getattr(reader, "close", None)
            if close is not None:
                close()
        self._readers.clear()

    # ---------------------------------------------------------------- feeds
    def node_for(self, tensor_name: str):
        name = tensor_name.split(":")[0]
        i = self.body.index.get(name)
        return self.body.nodes[i] if i is not None else None

    def convert_feed(self, tensor_name: str, value, dtype_enum: int | None = None,
                     shape=None):
        """Cast a fed value to the tensor's dtype and check its shape (as Session.run does)."""
        node = self.node_for(tensor_name)
        if node is None:
            raise NotFoundError(f"tensor '{tensor_name}' is not in the graph")
        if dtype_enum is None and node.op in PLACEHOLDERS | {"PlaceholderWithDefault"}:
            if "dtype" in node.attr:
                dtype_enum = node.attr["dtype"].type
            if shape is None and "shape" in node.attr and not node.attr["shape"].shape.unknown_rank:
                shape = tuple(d.size for d in node.attr["shape"].shape.dim)
        array = to_array(value, dtype_enum, tensor_name)
        if shape is not None:
            check_shape(array, shape, tensor_name)
        return array


def _no_uninitialized(plan: Plan, values: list) -> None:
    """A TF1 variable without a value travels as the variable itself (an Assign still has
    to reach it); fetching it, directly or through Identity, fails as in TensorFlow."""
    for (slot, _), value in zip(plan.fetch_refs, values):
        if isinstance(value, Variable):
            node = plan.body.nodes[slot].name if slot < len(plan.body.nodes) else "?"
            raise ExecutionError(f"node '{node}': Attempting to use uninitialized value "
                                 f"{value.name}")


def to_array(value, dtype_enum: int | None, what: str = "value") -> np.ndarray:
    """A fed Python value or array as an array of the tensor's dtype."""
    if dtype_enum is not None and dtypes.base(dtype_enum) == dtypes.DT["DT_STRING"]:
        return to_string_array(value)
    if dtype_enum is None or dtypes.base(dtype_enum) in (20, 21):
        arr = np.asarray(value)
        if arr.dtype.kind in "SU":
            return to_string_array(arr)
        return arr
    target = dtypes.to_numpy(dtype_enum)
    try:
        arr = np.asarray(value)
        if arr.dtype.kind in "SUO" and target.kind not in "SUO":
            raise ValueError(f"strings cannot be fed as {dtypes.python_name(dtype_enum)}")
        return arr.astype(target, copy=False) if arr.dtype != target else arr
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"the value for '{what}' cannot be converted to "
                         f"{dtypes.python_name(dtype_enum)}: {exc}") from None


def to_string_array(value) -> np.ndarray:
    arr = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
    if arr.dtype.kind == "S":
        return arr.astype(object)
    out = np.empty(arr.shape, dtype=object)
    flat = out.reshape(-1)
    for k, v in enumerate(arr.reshape(-1)):
        if isinstance(v, bytes):
            flat[k] = v
        elif isinstance(v, str):
            flat[k] = v.encode("utf-8")
        elif isinstance(v, np.bytes_):
            flat[k] = bytes(v)
        else:
            flat[k] = str(v).encode("utf-8")
    return out


def check_shape(array: np.ndarray, shape, what: str) -> None:
    dims = tuple(shape)
    ok = len(dims) == array.ndim and all(d < 0 or d == s for d, s in zip(dims, array.shape))
    if not ok:
        want = "(" + ", ".join("None" if d < 0 else str(d) for d in dims) + \
            ("," if len(dims) == 1 else "") + ")"
        raise InputError(f"cannot feed a value of shape {tuple(array.shape)} for tensor "
                         f"'{what}', which has shape {want}")


def unsupported_text(missing: list[Unsupported]) -> str:
    by_op: dict[str, list] = {}
    for u in missing:
        by_op.setdefault(u.op, []).append(u)
    parts = []
    for op in sorted(by_op):
        places = by_op[op]
        shown = ", ".join(_place(u) for u in places[:3])
        more = f" and {len(places) - 3} more" if len(places) > 3 else ""
        parts.append(f"{op} ({shown}{more})")
    noun = "operation" if len(by_op) == 1 else "operations"
    return (f"the model uses {len(by_op)} {noun} Tensorloupe cannot run yet: "
            + "; ".join(parts))


def _place(u: Unsupported) -> str:
    text = f"node '{u.node}'"
    if u.function:
        text += f" in function '{u.function}'"
    return text


def _is_v1(prefix: str) -> bool:
    """Whether ``prefix`` is a V1 checkpoint (a file, or shards): restored like a V2 one."""
    from ..checkpoint.v1 import is_v1_prefix
    return is_v1_prefix(prefix)


def _tensor_name(name: str) -> str:
    return name if ":" in name else name + ":0"


# ---------------------------------------------------------------- whole-model checks

def unsupported_ops(meta_graph) -> list[Unsupported]:
    """Every node of a MetaGraph (or GraphDef) and of the functions it reaches whose op has
    no kernel, as :class:`Unsupported` (op, node, function). ``tensorloupe scan`` lists them."""
    from .registry import FuncRef, decode_attr, known_ops
    proto = getattr(meta_graph, "proto", meta_graph)
    graph_def = proto.graph_def if hasattr(proto, "graph_def") else proto
    known = set(known_ops()) | {"Const", "HostConst", "Placeholder", "PlaceholderV2"}
    functions = {f.signature.name: f for f in graph_def.library.function}
    found = []
    stack = []

    def visit(nodes, fname):
        for node in nodes:
            if node.op in functions:
                stack.append(node.op)
            elif node.op not in known:
                found.append(Unsupported(node.op, node.name, fname))
            for value in node.attr.values():
                kind = value.WhichOneof("value")
                if kind == "func" or (kind == "list" and len(value.list.func)):
                    v = decode_attr(value)
                    for f in (v if isinstance(v, list) else [v]):
                        if isinstance(f, FuncRef):
                            stack.append(f.name)

    visit(graph_def.node, None)
    seen = set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        fdef = functions.get(name)
        if fdef is None:
            found.append(Unsupported(name, "(function call)", None))
            continue
        visit(fdef.node_def, name)
    return found


# ---------------------------------------------------------------- SavedModels

class LoadedMetaGraph:
    """A MetaGraph's session, restored and initialized the first time it is needed."""

    def __init__(self, meta_graph_proto, export_dir: str | None, options: RunOptions | None = None):
        self.proto = meta_graph_proto
        self.export_dir = export_dir
        op_list = (meta_graph_proto.meta_info_def.stripped_op_list
                   if meta_graph_proto.HasField("meta_info_def") else None)
        self.session = Session(meta_graph_proto.graph_def, op_list, options)
        self.restored = False
        self.checkpoint_prefix: str | None = None
        # A SavedModel's kernels read its assets/ (and assets.extra/) and restore from its
        # variables/; a graph without one reads no file (a .meta graph's checkpoint: see
        # ``_restore_plans``).
        if export_dir is not None:
            self.session.file_roots = paths.asset_roots(export_dir)
            self.session.checkpoint_roots = (paths.variables_root(export_dir),)
        else:
            self.session.file_roots = self.session.checkpoint_roots = ()

    # -- what TensorFlow's loader would do
    def _restore_plans(self):
        plans = []
        saver = self.proto.saver_def if self.proto.HasField("saver_def") else None
        prefix = self.checkpoint_prefix
        if prefix is None and self.export_dir is not None:
            prefix = paths.variables_prefix(self.export_dir)
        elif prefix is not None and self.export_dir is None:
            # a .meta graph restores from the checkpoint beside it, and from nowhere else
            self.session.checkpoint_roots = (paths.real(os.path.dirname(
                os.path.abspath(prefix))),)
        restore = None
        if saver is not None and saver.restore_op_name and prefix is not None \
                and (os.path.isfile(prefix + ".index") or _is_v1(prefix)):
            fname = _tensor_name(saver.filename_tensor_name)
            restore = (self.session.plan([], [fname], [saver.restore_op_name]), prefix)
            plans.append(restore[0])
        init = None
        init_name = self._init_op_name()
        if init_name:
            feeds = self._asset_feeds()
            names = list(feeds)
            if ":" in init_name:
                plan = self.session.plan([init_name], names, [])
            else:
                plan = self.session.plan([], names, [init_name])
            init = (plan, [feeds[n] for n in names])
            plans.append(plan)
        return restore, init, plans

    def _init_op_name(self) -> str | None:
        sigs = self.proto.signature_def
        if "__saved_model_init_op" in sigs:
            outs = sigs["__saved_model_init_op"].outputs
            if "__saved_model_init_op" in outs:
                name = outs["__saved_model_init_op"].name
                return name.split(":")[0] if name.endswith(":0") and self._is_noop(name) else name
        for key in ("saved_model_main_op", "legacy_init_op"):
            coll = self.proto.collection_def.get(key) if key in self.proto.collection_def else None
            if coll is not None and coll.WhichOneof("kind") == "node_list" and coll.node_list.value:
                return coll.node_list.value[0].split(":")[0]
        return None

    def _is_noop(self, name: str) -> bool:
        node = self.session.node_for(name)
        return node is None or node.op == "NoOp"

    def _asset_feeds(self) -> dict:
        feeds = {}
        if self.export_dir is None:
            return feeds
        assets = list(self.proto.asset_file_def)
        if not assets and "saved_model_assets" in self.proto.collection_def:
            # Older TF1 exports keep AssetFileDefs (packed in Any) in a collection.
            from google.protobuf.message import DecodeError

            from tensorloupe.protos import meta_graph_pb2
            coll = self.proto.collection_def["saved_model_assets"]
            for packed in coll.any_list.value:
                a = meta_graph_pb2.AssetFileDef()
                try:
                    a.ParseFromString(packed.value)
                except DecodeError as exc:
                    raise FormatError(f"an asset entry is not an AssetFileDef ({exc})") from None
                assets.append(a)
        for a in assets:
            if a.tensor_info.name and self.session.node_for(a.tensor_info.name) is not None:
                # Refused (OutsideModelError) when the file resolves outside the model.
                path = os.fspath(paths.asset_path(self.export_dir, a.filename))
                feeds[_tensor_name(a.tensor_info.name)] = np.array(path.encode("utf-8"), dtype=object)
        return feeds

    def prepare(self, extra_plans=()) -> None:
        """Check every op needed (restore, init and ``extra_plans``), then restore and init."""
        if self.restored:
            self.session.check(list(extra_plans))
            return
        restore, init, plans = self._restore_plans()
        self.session.check(plans + list(extra_plans))
        if restore is not None:
            plan, prefix = restore
            try:
                self.session.execute(plan, [np.array(prefix.encode("utf-8"), dtype=object)])
            finally:
                self.session.close_readers()
        if init is not None:
            plan, values = init
            self.session.execute(plan, values)
        self.restored = True

    # -- running
    def run(self, fetches, feeds: dict | None = None, options: RunOptions | None = None):
        single = isinstance(fetches, str)
        fetch_list = [_tensor_name(f) for f in ([fetches] if single else fetches)]
        feeds = dict(feeds or {})
        names = [_tensor_name(k) for k in feeds]
        sess = self.session
        with sess._lock, run_scope(options or sess.options):
            plan = sess.plan(fetch_list, names, [])
            self.prepare([plan])
            values = [sess.convert_feed(n, v) for n, v in zip(names, feeds.values())]
            out = sess.execute(plan, values, options)
        return out[0] if single else out

    def run_signature(self, key: str, inputs: dict, options: RunOptions | None = None) -> dict:
        sigs = self.proto.signature_def
        if key not in sigs:
            raise NotFoundError(f'signature "{key}" does not exist; choose from: '
                                + ", ".join(sorted(k for k in sigs.keys())))
        sig = sigs[key]
        for k in inputs:
            if k not in sig.inputs:
                raise InputError(f'"{k}" is not a valid input key of signature "{key}"; '
                                 'choose from "' + '", "'.join(sorted(sig.inputs.keys())) + '"')
        out_keys = sorted(sig.outputs.keys())
        fetches = [_info_name(sig.outputs[k], k, "output") for k in out_keys]
        names, values = [], []
        sess = self.session
        for k in sorted(inputs):
            info = sig.inputs[k]
            name = _tensor_name(_info_name(info, k, "input"))
            names.append(name)
            values.append(inputs[k])
        with sess._lock, run_scope(options or sess.options):
            plan = sess.plan([_tensor_name(f) for f in fetches], names, [])
            self.prepare([plan])
            converted = []
            for name, k, v in zip(names, sorted(inputs), values):
                info = sig.inputs[k]
                shape = None
                if not info.tensor_shape.unknown_rank:
                    shape = tuple(d.size for d in info.tensor_shape.dim)
                dt = info.dtype if info.dtype else None
                converted.append(sess.convert_feed(name, v, dt, shape))
            out = sess.execute(plan, converted, options)
        return dict(zip(out_keys, out))


def _info_name(info, key: str, what: str) -> str:
    if info.WhichOneof("encoding") != "name":
        raise UnsupportedError(f"signature {what} '{key}' is a sparse or composite tensor, "
                               "which running does not support yet")
    return info.name


_LOADED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_LOADED_LOCK = threading.Lock()


def loaded(meta_graph, export_dir=None, checkpoint_prefix=None) -> LoadedMetaGraph:
    """The cached restored session of a MetaGraph object (made on first use)."""
    with _LOADED_LOCK:
        lm = _LOADED.get(meta_graph)
        if lm is None:
            lm = LoadedMetaGraph(meta_graph.proto, export_dir)
            lm.checkpoint_prefix = checkpoint_prefix
            owner = meta_graph.saved_model
            lm.session.verify = owner.verify if owner is not None else None
            _LOADED[meta_graph] = lm
        return lm


def _saved_model_loaded(saved_model, tags) -> LoadedMetaGraph:
    mg = saved_model.meta_graph(tags)
    return loaded(mg, str(saved_model.path))


def _options(options: RunOptions | None, extra: dict) -> RunOptions | None:
    if not extra:
        return options
    base = options or RunOptions()
    return RunOptions(**{**base.__dict__, **extra})


def run_signature(saved_model, key: str, inputs: dict, tags=None,
                  options: RunOptions | None = None, **extra) -> dict:
    """Run signature ``key`` of a SavedModel's MetaGraph; returns {output key: array}.

    ``extra`` may set RunOptions fields directly (budget=, max_memory=, max_iterations=,
    timeout=, trace=, cancel=).
    """
    with _naming(saved_model.file):
        return _saved_model_loaded(saved_model, tags).run_signature(key, inputs,
                                                                    _options(options, extra))


def run_saved_model(saved_model, fetches, feeds: dict | None = None, tags=None,
                    options: RunOptions | None = None, **extra):
    """Fetch tensors by name from a SavedModel's restored MetaGraph."""
    with _naming(saved_model.file):
        return _saved_model_loaded(saved_model, tags).run(fetches, feeds,
                                                          _options(options, extra))


@contextlib.contextmanager
def _naming(source):
    """A FormatError about the graph (a malformed node, attribute or asset) names the
    model file it came from, as errors from reading the file do."""
    try:
        yield
    except FormatError as exc:
        if exc.path is not None:
            raise
        raise type(exc)(exc.message, source) from None


def run_graph(graph_model, fetches, feeds: dict | None = None,
              options: RunOptions | None = None, **extra):
    """Run a frozen GraphDef, or a .meta graph restored from the checkpoint beside it."""
    options = _options(options, extra)
    if graph_model.meta_graph_proto is not None:
        prefix = graph_model.checkpoint
        lm = loaded(graph_model.meta_graph, None, str(prefix) if prefix else None)
        with _naming(graph_model.path):
            return lm.run(fetches, feeds, options)
    with _LOADED_LOCK:
        sess = _LOADED.get(graph_model)
        if sess is None:
            sess = _LOADED[graph_model] = Session(graph_model.graph_def)
            sess.file_roots = sess.checkpoint_roots = ()  # a lone GraphDef reads no file
    with _naming(graph_model.path):
        return sess.run(fetches, feeds, options=options)


def signature_info(saved_model, key: str, tags=None):
    """The SignatureDef proto of ``key`` (for the CLI)."""
    mg = saved_model.meta_graph(tags)
    sigs = mg.proto.signature_def
    if key not in sigs:
        raise NotFoundError(f'Could not find signature "{key}". Please choose from: '
                            + ", ".join(sigs.keys()))
    return sigs[key]


__all__ = ["Session", "LoadedMetaGraph", "run_signature", "run_saved_model", "run_graph",
           "unsupported_ops", "loaded"]
