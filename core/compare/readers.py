"""The two sides of a comparison as checkpoint readers: paths are opened (and closed again)
here, readers passed in are used as they are.
"""
from __future__ import annotations

import contextlib


def _open(path_or_reader):
    if hasattr(path_or_reader, "keys") and hasattr(path_or_reader, "array"):
        return path_or_reader, False
    from ..checkpoint import open_checkpoint
    return open_checkpoint(path_or_reader), True


@contextlib.contextmanager
def _readers(a, b):
    """Both checkpoints as readers (paths are opened); closes only what it opened."""
    with contextlib.ExitStack() as stack:
        readers = []
        for item in (a, b):
            reader, opened = _open(item)
            if opened:
                stack.callback(reader.close)
            readers.append(reader)
        yield readers[0], readers[1]


def _describe(reader) -> str:
    return getattr(reader, "prefix", str(reader))
