"""Stored checksums during a comparison.

A comparison reads every byte of the variables it measures, so their crc32c is computed in
the same pass: each part of a tensor is checksummed by the pool thread that measured it,
right after, while its pages are still mapped, and the parts' checksums are joined
(``crc32c_combine``) on the calling thread when the comparison is done. The verdict goes to
the reader, which raises the same DataLossError as a read would and remembers it, so a
later read of the tensor (the window's plots) does not checksum it again. Tensors read
whole (strings, partitioned variables, byte-swapped data) are checked by the reader itself
as it reads them.

Which sides are checked: ``compare(verify=None)`` follows each reader (readers opened from
paths check unless ``verification(False)`` is in effect), True checks both, False neither.
"""
from __future__ import annotations

import numpy as np

from ..errors import TensorloupeError
from .results import FAILED

_PIECE = 4 << 20  # google_crc32c holds the GIL: checksum a part this much at a time


def _entry_crc(reader, key: str) -> int | None:
    """The stored (masked) crc32c of a tensor stored whole, or None."""
    try:
        e = reader.entry(key)
    except (AttributeError, TensorloupeError):
        return None
    return None if getattr(e, "slices", ()) else getattr(e, "crc32c", None)


def _checks(reader, verify: bool | None) -> bool:
    """Whether this side's stored bytes are to be checked."""
    if verify is not None:
        return verify
    return bool(getattr(reader, "verifies", False))


def _mapped_side(reader, key: str, check: bool) -> bool:
    """For a side read as a mapped view: whether its parts must be checksummed.

    A verdict the reader already knows costs nothing: a good one needs no checksum, a bad
    one raises the reader's DataLossError here (the variable fails before it is measured).
    """
    if not check:
        return False
    verdict = reader.checksum_verdict(key)
    if verdict is False:
        reader.check(key)  # raises DataLossError
    return verdict is None


def _crc(arr: np.ndarray) -> int:
    import google_crc32c
    raw = arr.reshape(-1).view(np.uint8)  # contiguous mapped bytes: read in place, no copy
    crc = 0
    for i in range(0, raw.shape[0], _PIECE):
        crc = google_crc32c.extend(crc, raw[i:i + _PIECE])
    return crc


def _part_crcs(job, s: int, e: int, same_bytes: bool) -> None:
    """Checksum part [s, e) of the sides that need it (once when both hold the same bytes).

    Runs on a pool thread; each part writes its own key, read only once all parts are in.
    """
    if not (job.crc_a or job.crc_b):
        return
    ca = _crc(job.x[s:e]) if job.crc_a else None
    if job.crc_b:
        cb = ca if same_bytes and ca is not None else _crc(job.y[s:e])
    else:
        cb = None
    job.part_crcs[s] = (ca, cb, (e - s) * job.x.itemsize)


def _settle(job, ra, rb) -> None:
    """Join each checked side's part checksums and hand the whole to its reader; a mismatch
    fails the variable with the reader's DataLossError message."""
    from ..checkpoint.table import crc32c_combine
    v = job.diff
    problems = []
    for side, (reader, key) in enumerate(((ra, v.key_a), (rb, v.key_b))):
        if not (job.crc_a, job.crc_b)[side]:
            continue
        crc, covered = 0, 0
        for start in sorted(job.part_crcs):
            piece, length = job.part_crcs[start][side], job.part_crcs[start][2]
            crc = crc32c_combine(crc, piece, length) if covered else piece
            covered += length
        if covered != job.x.nbytes:  # a part did not finish (it failed, or was cancelled)
            continue
        loss = reader.record_checksum(key, crc)
        if loss is not None:
            problems.append(str(loss))
    if problems:
        v.status, v.error = FAILED, "; ".join(problems)
