"""Decide what a path is and open it: SavedModel, checkpoint, frozen graph or TF1 .meta.

    core.open("export/1")                 -> SavedModel
    core.open("export/1/saved_model.pb")  -> SavedModel
    core.open("runs/ckpt-3")              -> checkpoint reader (prefix; .index/.data-* too)
    core.open("runs/")                    -> checkpoint reader (directory with a `checkpoint` file)
    core.open("frozen.pb"), core.open("model.ckpt-1.meta")  -> GraphModel
    core.open("v1/model.ckpt"), core.open("v1/model.ckpt-?????-of-00002")
                                          -> V1 checkpoint reader (a file, its shards or pattern)
    core.open("export/00000123")          -> GraphModel of a session bundle (export.meta)

V1 checkpoint files have no telling name (``model.ckpt``, ``export-00000-of-00001``), so a
file of no known kind is judged by its content: a table whose first record is the list of
tensors of a V1 checkpoint.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import NotFoundError, UnsupportedError

_DATA_SHARD = re.compile(r"^(?P<prefix>.+)\.data-\d{5}-of-\d{5}$")
EXPECTED = ("a SavedModel directory or saved_model.pb(txt), a checkpoint (prefix, .index, "
            ".data-* file, V1 checkpoint file, or a directory with a `checkpoint` file), a "
            "frozen GraphDef (.pb/.pbtxt), a TF1 .meta file or a session bundle directory")
# The graph of a TF Serving session bundle, beside its V1 checkpoint export-?????-of-?????.
SESSION_BUNDLE_META = "export.meta"


def _is_v1(path) -> bool:
    from .checkpoint.v1 import is_v1_prefix
    return is_v1_prefix(os.fspath(path))


def kind_of(path) -> tuple[str, Path]:
    """("saved_model" | "checkpoint" | "graph", the path to open it by), or NotFoundError /
    UnsupportedError saying what was found and what is expected."""
    path = Path(os.fspath(path))
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "saved_model", path
        if (path / SESSION_BUNDLE_META).is_file():
            return "graph", path / SESSION_BUNDLE_META
        if (path / "checkpoint").is_file() or any(path.glob("*.index")):
            return "checkpoint", path
        try:
            names = sorted(p.name for p in path.iterdir())
        except OSError:
            names = []
        found = "an empty directory" if not names else (
            "a directory holding " + ", ".join(names[:5]) + (", ..." if len(names) > 5 else ""))
        raise NotFoundError(f"found {found}; expected {EXPECTED}", path)
    if path.is_file():
        name = path.name
        if name in ("saved_model.pb", "saved_model.pbtxt"):
            return "saved_model", path
        if name == "checkpoint":
            return "checkpoint", path.parent
        if name.endswith(".index"):
            return "checkpoint", path.with_suffix("")
        m = _DATA_SHARD.match(name)
        if m:
            return "checkpoint", path.with_name(m.group("prefix"))
        if path.suffix in (".meta", ".pb", ".pbtxt"):
            return "graph", path
        if _is_v1(path):
            return "checkpoint", path
        raise UnsupportedError(f"found a file of an unknown kind; expected {EXPECTED}", path)
    if Path(str(path) + ".index").is_file() or _is_v1(path):
        return "checkpoint", path
    raise NotFoundError("no such file or directory", path)


def open_any(path):
    """Open whatever ``path`` is (see ``kind_of``)."""
    kind, target = kind_of(path)
    if kind == "saved_model":
        from .saved_model import open_saved_model
        return open_saved_model(target)
    if kind == "checkpoint":
        from .checkpoint import open_checkpoint
        return open_checkpoint(target)
    from .graph_file import open_graph
    return open_graph(target)
