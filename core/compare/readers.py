"""The two sides of a comparison as checkpoint readers: paths are opened (and closed again)
here, readers passed in are used as they are.
"""
from __future__ import annotations

import contextlib


def _open(path_or_reader, verify: bool | None = None):
    if hasattr(path_or_reader, "keys") and hasattr(path_or_reader, "array"):
        return path_or_reader, False
    from ..checkpoint import open_checkpoint
    return open_checkpoint(path_or_reader, verify=verify), True


@contextlib.contextmanager
def _readers(a, b, verify: bool | None = None):
    """Both checkpoints as readers (paths are opened, checking their reads as ``verify``
    says); closes only what it opened."""
    with contextlib.ExitStack() as stack:
        readers = []
        for item in (a, b):
            reader, opened = _open(item, verify)
            if opened:
                stack.callback(reader.close)
            readers.append(reader)
        yield readers[0], readers[1]


def _describe(reader) -> str:
    return getattr(reader, "prefix", str(reader))
