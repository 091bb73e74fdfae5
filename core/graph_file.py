"""Graphs outside a SavedModel: a frozen GraphDef (.pb or .pbtxt) and a TF1 ``.meta``
(a MetaGraphDef written by tf.compat.v1.train.Saver next to its checkpoint).

    g = open_graph("frozen.pb")          # g.graph_def, g.ops_used()
    g = open_graph("model.ckpt-2.meta")  # also g.meta_graph and g.checkpoint (the prefix)

A GraphModel keeps nothing open; it still has ``close()`` and works in a ``with`` block, as
every object ``core.open`` returns does.
"""
from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from .errors import FormatError, NotFoundError


def open_graph(path) -> "GraphModel":
    """Open a frozen GraphDef (.pb/.pbtxt) or a TF1 .meta file."""
    path = Path(os.fspath(path))
    if not path.exists():
        raise NotFoundError("no such file or directory", path)
    if path.is_dir():
        raise FormatError("is a directory; expected a GraphDef (.pb, .pbtxt) or a .meta file",
                          path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NotFoundError(f"cannot read the file ({exc.strerror or exc})", path) from None
    if not data:
        raise FormatError("the file is empty", path)
    if path.suffix == ".meta":
        from tensorloupe.protos import meta_graph_pb2
        proto = _parse(meta_graph_pb2.MetaGraphDef(), data, path, "MetaGraphDef")
        if not proto.HasField("graph_def") and not proto.HasField("meta_info_def"):
            raise FormatError("not a MetaGraphDef: it holds no graph", path)
        return GraphModel(path, proto.graph_def, proto)
    from tensorloupe.protos import graph_pb2
    proto = _parse(graph_pb2.GraphDef(), data, path, "GraphDef")
    if not proto.node and not proto.library.function:
        raise FormatError("not a GraphDef: it holds no nodes", path)
    return GraphModel(path, proto, None)


def _parse(proto, data: bytes, path: Path, what: str):
    if path.suffix in (".pbtxt", ".txt"):
        from google.protobuf import text_format
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"not a text-format {what} (invalid UTF-8)", path,
                              exc.start) from None
        text = text.replace("type.googleapis.com/tensorflow.", "type.googleapis.com/tensorloupe.")
        from tensorloupe.protos.text import parse_bounded  # refuses nesting past 100 levels
        try:
            parse_bounded(text, proto, allow_unknown_field=True, allow_unknown_extension=True)
        except text_format.ParseError as exc:
            raise FormatError(f"not a text-format {what} ({exc})", path) from None
        return proto
    from google.protobuf import message as pb_message
    try:
        proto.ParseFromString(data)
    except pb_message.DecodeError as exc:
        raise FormatError(f"not a {what} protocol buffer ({exc})", path) from None
    return proto


class GraphModel:
    """A GraphDef read from a file; for a .meta, its MetaGraph and checkpoint prefix too."""

    def __init__(self, path: Path, graph_def, meta_graph_proto=None):
        self.path = Path(path)
        self.graph_def = graph_def
        self.meta_graph_proto = meta_graph_proto

    def __repr__(self):
        kind = "meta" if self.meta_graph_proto is not None else "graph"
        return f"<GraphModel {kind} {str(self.path)!r} nodes={len(self.graph_def.node)}>"

    # ---------------------------------------------------------------- lifetime
    # A graph is read whole into memory when it opens, so nothing stays open; a checkpoint
    # from ``open_checkpoint()`` belongs to whoever asked for it. These exist so that every
    # object ``core.open`` returns can be closed, or used in a ``with`` block, the same way.

    def close(self) -> None:
        """Nothing to release (see above); safe to call any number of times."""

    def __enter__(self) -> "GraphModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @cached_property
    def meta_graph(self):
        """A core.saved_model.MetaGraph over the .meta file's MetaGraphDef, or None."""
        if self.meta_graph_proto is None:
            return None
        from .saved_model import MetaGraph
        return MetaGraph(None, self.meta_graph_proto)

    @property
    def checkpoint(self) -> Path | None:
        """For a .meta file: the checkpoint prefix beside it (``model.ckpt-2`` for
        ``model.ckpt-2.meta``) when its .index exists, else None."""
        if self.meta_graph_proto is None:
            return None
        prefix = self.path.with_suffix("")
        if Path(str(prefix) + ".index").is_file():
            return prefix
        from .checkpoint.v1 import is_v1_prefix
        if is_v1_prefix(prefix):  # a V1 file, or its shards (a session bundle's export-*)
            return prefix
        return None

    def open_checkpoint(self):
        """The checkpoint beside a .meta file, opened with core.open_checkpoint."""
        prefix = self.checkpoint
        if prefix is None:
            raise NotFoundError("no checkpoint (.index) beside this graph", self.path)
        from .checkpoint import open_checkpoint
        return open_checkpoint(prefix)

    @cached_property
    def functions(self) -> dict:
        return {f.signature.name: f for f in self.graph_def.library.function}

    def ops_used(self) -> list[str]:
        from .saved_model import ops_used_by_graph_def
        return ops_used_by_graph_def(self.graph_def)

    def run(self, fetches, feeds: dict | None = None, **options):
        """Run the graph with the numpy engine (a .meta is restored from its checkpoint)."""
        from .engine.session import run_graph
        return run_graph(self, fetches, feeds, **options)

    def summary(self) -> dict:
        return {"nodes": len(self.graph_def.node),
                "functions": len(self.graph_def.library.function),
                "ops": len(self.ops_used()),
                "checkpoint": str(self.checkpoint) if self.checkpoint else None}
