"""Raw memory for the comparison: byte equality and giving mapped pages back to the kernel.

Both go through libc with ctypes: ``memcmp`` compares two mapped views without holding the
GIL, and ``madvise(MADV_DONTNEED)`` drops the pages a finished scan read, so comparing two
large checkpoints does not leave gigabytes of file pages counted against the process.
Without a usable libc (or madvise) equality falls back to numpy and nothing is dropped.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

import numpy as np


def _load_libc():
    try:
        name = ctypes.util.find_library("c")
        lib = ctypes.CDLL(name) if name else ctypes.CDLL(None)
        memcmp = lib.memcmp
        memcmp.restype = ctypes.c_int
        memcmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    except (OSError, AttributeError):
        return None, None
    madvise = getattr(lib, "madvise", None)
    if madvise is not None:
        madvise.restype = ctypes.c_int
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return memcmp, madvise


_MEMCMP, _MADVISE = _load_libc()
_MADV_DONTNEED = 4
_PAGE = getattr(os, "sysconf", lambda _: 4096)("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _huge_page_size() -> int:
    try:
        with open("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "rb") as f:
            size = int(f.read().strip() or 0)
    except (OSError, ValueError):
        size = 0
    return size if size >= _PAGE and size % _PAGE == 0 else 2 << 20


_BLOCK = _huge_page_size()  # mapped pages are dropped in whole blocks of this size


def bytes_equal(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether two contiguous arrays hold the same bytes (libc memcmp, which frees the GIL)."""
    if x.nbytes != y.nbytes:
        return False
    if x.nbytes == 0:
        return True
    if _MEMCMP is not None and x.flags.c_contiguous and y.flags.c_contiguous:
        return _MEMCMP(x.ctypes.data, y.ctypes.data, x.nbytes) == 0
    return bool(np.array_equal(x.reshape(-1).view(np.uint8), y.reshape(-1).view(np.uint8)))


class _PageDropper:
    """Collects the mapped ranges finished parts used and drops them in merged batches.

    Called from one thread (the one collecting results); one madvise per few dozen MiB
    instead of two per variable. Only whole huge-page blocks are dropped: page-cache files
    with large folios are mapped with 2 MiB entries, and dropping part of one splits it
    (which costs more faults ahead); the pieces at the edges wait until their neighbours
    are done too, and ``flush(final=True)`` drops what is left at page granularity.
    """

    def __init__(self, batch: int = 64 << 20):
        self.batch = batch
        self.ranges: list[tuple[int, int]] = []
        self.pending = 0

    def add(self, view: np.ndarray) -> None:
        if _MADVISE is None or view.nbytes == 0:
            return
        start = view.ctypes.data
        self.add_range(start, start + view.nbytes)

    def add_range(self, lo: int, hi: int) -> None:
        if _MADVISE is None or hi <= lo:
            return
        self.ranges.append((lo, hi))
        self.pending += hi - lo
        if self.pending >= self.batch:
            self.flush()

    def flush(self, final: bool = False) -> None:
        if not self.ranges:
            return
        keep = _drop_ranges(self.ranges, _PAGE if final else _BLOCK)
        self.ranges = keep
        self.pending = sum(hi - lo for lo, hi in keep)
        if self.pending >= self.batch // 2:  # many scattered pieces: no use waiting
            self.flush(final=True)


def _drop_ranges(ranges: list[tuple[int, int]], grain: int) -> list[tuple[int, int]]:
    """Drop the mapped pages of the (merged) address ranges in whole ``grain`` blocks;
    return the pieces at the edges that were left (none when ``grain`` is the page size)."""
    if _MADVISE is None or not ranges:
        return []
    ranges = sorted(ranges)
    merged = [list(ranges[0])]
    for lo, hi in ranges[1:]:
        if lo <= merged[-1][1] + _PAGE:  # the page between two finished views is done too
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    keep: list[tuple[int, int]] = []
    for lo, hi in merged:
        a = -(-lo // grain) * grain
        b = hi // grain * grain
        if b > a:
            _MADVISE(a, b - a, _MADV_DONTNEED)
            if grain != _PAGE:
                if lo < a:
                    keep.append((lo, a))
                if b < hi:
                    keep.append((b, hi))
        elif grain != _PAGE:
            keep.append((lo, hi))
    return keep


def _drop_pages(view: np.ndarray, grain: int = _PAGE) -> None:
    """Tell the kernel we are done with the mapped pages under ``view`` (keeps RSS small).

    The mapping is read-only and file-backed: dropped pages come back from the page cache
    if touched again, so this never changes what is read.
    """
    if _MADVISE is None or view.base is None or view.nbytes < 2 * _PAGE:
        return
    start = view.ctypes.data
    lo = -(-start // grain) * grain
    hi = (start + view.nbytes) // grain * grain
    if hi > lo:
        _MADVISE(lo, hi - lo, _MADV_DONTNEED)
