"""Decide what a path is and open it: SavedModel, checkpoint, frozen graph or TF1 .meta.

    core.open("export/1")                 -> SavedModel
    core.open("export/1/saved_model.pb")  -> SavedModel
    core.open("runs/ckpt-3")              -> checkpoint reader (prefix; .index/.data-* too)
    core.open("runs/")                    -> checkpoint reader (directory with a `checkpoint` file)
    core.open("frozen.pb"), core.open("model.ckpt-1.meta")  -> GraphModel
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import NotFoundError, UnsupportedError

_DATA_SHARD = re.compile(r"^(?P<prefix>.+)\.data-\d{5}-of-\d{5}$")
EXPECTED = ("a SavedModel directory or saved_model.pb(txt), a checkpoint (prefix, .index, "
            ".data-* file, or a directory with a `checkpoint` file), a frozen GraphDef "
            "(.pb/.pbtxt) or a TF1 .meta file")


def kind_of(path) -> tuple[str, Path]:
    """("saved_model" | "checkpoint" | "graph", the path to open it by), or NotFoundError /
    UnsupportedError saying what was found and what is expected."""
    path = Path(os.fspath(path))
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "saved_model", path
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
        raise UnsupportedError(f"found a file of an unknown kind; expected {EXPECTED}", path)
    if Path(str(path) + ".index").is_file():
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
