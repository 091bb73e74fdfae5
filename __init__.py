"""Tensorloupe: look inside TensorFlow SavedModels, checkpoints and graphs, without TensorFlow.

    import tensorloupe as tl

    doc = tl.open("export/1")                 # whatever the path is
    model = tl.open_saved_model("export/1")   # a SavedModel folder or its saved_model.pb/.pbtxt
    ckpt = tl.open_checkpoint("runs/ckpt-40") # a prefix, its .index/.data file, or a training folder
    graph = tl.open_graph("frozen.pb")        # a frozen GraphDef or a TF1 .meta beside its checkpoint

The package holds ``tensorloupe.core`` (pure Python: readers, engine, comparison, command line
subcommands; never Qt), ``tensorloupe.gui`` (the window), ``tensorloupe.protos`` (our schemas)
and ``tensorloupe.resources`` (the demo documents). Importing this module loads only the
error types; each ``open_*`` imports its reader on first use, so scripts and the command line
start quickly.
"""
from __future__ import annotations

from .core import open, open_checkpoint, open_graph, open_saved_model  # noqa: A004
from .core.errors import (ChecksumError, ExecutionError, FormatError, InputError, NotFoundError,
                          TensorloupeError, UnsupportedError)

__version__ = "0.1.0"

__all__ = [
    "open", "open_saved_model", "open_checkpoint", "open_graph",
    "TensorloupeError", "FormatError", "ChecksumError", "NotFoundError", "UnsupportedError",
    "InputError", "ExecutionError", "__version__",
]
