"""Stored checksums during a comparison.

A comparison reads every byte of the variables it measures anyway, so checking their
crc32c costs one more pass over pages already mapped; it is done when asked (``verify``)
and whenever the checksums and the bytes disagree about whether two tensors are equal.
"""
from __future__ import annotations

import numpy as np

from ..errors import TensorloupeError
from .pages import _drop_pages
from .readers import _describe


def _entry_crc(reader, key: str) -> int | None:
    """The stored (masked) crc32c of a tensor stored whole, or None."""
    try:
        e = reader.entry(key)
    except (AttributeError, TensorloupeError):
        return None
    return None if getattr(e, "slices", ()) else getattr(e, "crc32c", None)


def _crc_problem(reader, key: str, view: np.ndarray | None) -> str | None:
    """Whether a tensor's stored bytes match its crc32c, checked over the mapped view.

    Only numeric tensors stored whole are checked here (strings and slices have their own
    layout; ``CheckpointReader.verify`` covers them).
    """
    stored = _entry_crc(reader, key)
    if stored is None or view is None or view.dtype.kind == "O":
        return None
    import google_crc32c
    from ..checkpoint.table import unmask_crc
    raw = view.reshape(-1).view(np.uint8)
    crc = 0
    step = 8 << 20
    for i in range(0, raw.shape[0], step):
        piece = raw[i:i + step]
        try:
            crc = google_crc32c.extend(crc, piece)  # a read-only mapped view: no copy
        except TypeError:
            crc = google_crc32c.extend(crc, piece.tobytes())
    _drop_pages(view)
    if crc != unmask_crc(stored):
        return (f"{_describe(reader)}: the stored data of {key!r} does not match its crc32c "
                f"(the data file is damaged)")
    return None
