"""Tensorloupe's core: read TensorFlow SavedModels, checkpoints and graphs without TensorFlow.

Pure Python (numpy, protobuf); never imports Qt. The entry points:

    core.open(path)              whatever the path is: SavedModel, checkpoint or graph
    core.open_saved_model(path)  a SavedModel directory or its saved_model.pb/.pbtxt
    core.open_checkpoint(path)   a checkpoint prefix, its .index/.data file, or a training directory
    core.open_graph(path)        a frozen GraphDef (.pb/.pbtxt) or a TF1 .meta beside its checkpoint
"""
from __future__ import annotations

from .errors import (ChecksumError, DataLossError, ExecutionError, FormatError, InputError,
                     NotFoundError, TensorloupeError, UnsupportedError)

__all__ = [
    "open", "open_saved_model", "open_checkpoint", "open_graph",
    "TensorloupeError", "FormatError", "ChecksumError", "DataLossError", "NotFoundError",
    "UnsupportedError", "InputError", "ExecutionError",
]


def open_saved_model(path, verify: bool | None = None):
    """``verify=False``: its variables checkpoint reads damaged data without complaint."""
    from .saved_model import open_saved_model as _open
    return _open(path, verify=verify)


def open_checkpoint(path, verify: bool | None = None):
    """``verify=False``: read tensors whose crc32c does not match instead of raising
    DataLossError (for looking at damaged data on purpose)."""
    from .checkpoint import open_checkpoint as _open
    return _open(path, verify=verify)


def open_graph(path):
    from .graph_file import open_graph as _open
    return _open(path)


def open(path):  # noqa: A001 - mirrors the builtin on purpose: core.open(path)
    from .detect import open_any
    return open_any(path)
