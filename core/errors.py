"""Typed errors. Each one reads as a single sentence a person can act on.

The command line prints ``str(error)`` and exits with status 2; the window shows it
beside the item that failed. Nothing here carries a traceback to the user.
"""
from __future__ import annotations

import os


class TensorloupeError(Exception):
    """Base of every error Tensorloupe raises on purpose."""

    def __init__(self, message: str, path: str | os.PathLike | None = None,
                 offset: int | None = None):
        self.message = message
        self.path = os.fspath(path) if path is not None else None
        self.offset = offset
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.path:
            where = f"{self.path}"
            if self.offset is not None:
                where += f" (byte {self.offset})"
            where += ": "
        return where + self.message


class FormatError(TensorloupeError):
    """A file is not what it claims to be, or is damaged (truncated, bad magic, bad proto)."""


class ChecksumError(FormatError):
    """Stored bytes do not match the crc32c stored with them (an index block, a tensor)."""


class DataLossError(ChecksumError):
    """A tensor's stored data does not match its crc32c: the data file is damaged.

    TensorFlow's name for the same refusal. Raised by every read of the tensor (a reader
    opened with ``verify=False`` reads it anyway). ``key`` names the tensor (with its slice,
    for one slice of a partitioned variable), ``stored`` and ``computed`` are the unmasked
    checksums; ``path`` is the data file and ``offset`` where the tensor starts in it.
    Built with ``mismatch()``; the plain constructor keeps the signature of the others, so
    code that re-raises an error with more context (the engine names the node) can.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None,
                 offset: int | None = None, *, key: str | None = None,
                 stored: int | None = None, computed: int | None = None):
        self.key = key
        self.stored = stored
        self.computed = computed
        super().__init__(message, path, offset)

    @classmethod
    def mismatch(cls, path: str | os.PathLike, key: str, stored: int, computed: int,
                 offset: int | None = None, size: int | None = None) -> "DataLossError":
        span = f" over its {size} bytes" if size is not None else ""
        return cls(f"tensor {key!r} is damaged: its data does not match its checksum (stored "
                   f"crc32c {stored:#010x}, computed {computed:#010x}{span}); open it with "
                   f"verify=False (--no-verify) to read it anyway", path, offset,
                   key=key, stored=stored, computed=computed)


class NotFoundError(TensorloupeError):
    """A path, tensor, tag-set, signature or key that does not exist."""


class UnsupportedError(TensorloupeError):
    """Valid input that this version of Tensorloupe does not handle yet."""


class InputError(TensorloupeError):
    """A user-supplied value (flag, expression, input array) is not acceptable."""


class ExecutionError(TensorloupeError):
    """The engine could not run a graph (unknown op, bad shape, cancelled, too large)."""


class Cancelled(Exception):
    """The caller asked for the work to stop (its cancel callback or event said so).

    Not a TensorloupeError on purpose: the window and the command line catch those to show
    their message as a failure, and a cancellation is not one; it has to reach the code that
    started the work (a worker reports it as cancelled).
    """


class RunCancelled(ExecutionError, Cancelled):
    """A run of the engine was cancelled.

    Also an ExecutionError because the executor lets TensorloupeErrors through (naming the
    node that was running) and turns every other exception into a failure of that node.
    """


class BudgetError(ExecutionError):
    """A run would go over its budget (memory of live tensors, loop iterations or time).

    Raised before the allocation wherever the size is known in advance; the message names
    the node or input and the limit, and how to raise it.
    """
