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
    """Stored data does not match its crc32c."""


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
