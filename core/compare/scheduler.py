"""``compare()``: align two checkpoints, then measure every common variable on a thread pool.

The calling thread aligns the variables, makes each one's views (mapping shards as needed)
and hands them to the pool in parts; pool threads compute parts (a memcmp first when the
bytes may be identical, else every metric) and send the results back through a queue, so
the readers and the results are only touched from the calling thread. Each part is
checksummed where it is measured, and the parts' checksums are settled with the readers at
the end (see checksums.py).
"""
from __future__ import annotations

import fnmatch
import math
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable

import numpy as np

from ..checkpoint.keys import OBJECT_GRAPH_KEY
from ..errors import Cancelled, TensorloupeError, UnsupportedError
from . import tuning
from .align import _group, _layer, _sides, align
from .checksums import _checks, _entry_crc, _mapped_side, _part_crcs, _settle
from .keymap import KeyMap
from .metrics import _Acc, _chunk_nonfinite, _equal_count, _stream, scalar_value, work_dtype
from .pages import _BLOCK, _drop_ranges, _PageDropper, bytes_equal
from .readers import _describe, _readers
from .results import (CHANGED, DTYPE_CHANGED, FAILED, IDENTICAL, ONLY_A, ONLY_B,
                      SHAPE_CHANGED, Comparison, VariableDiff)


_DTYPE_NAMES: dict = {}


def _dtype_name(dt: np.dtype) -> str:
    name = _DTYPE_NAMES.get(dt)
    if name is None:
        name = _DTYPE_NAMES[dt] = "string" if dt.kind == "O" else dt.name
    return name


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class _Job:
    """The state of one aligned common variable while its parts are computed."""
    __slots__ = ("diff", "x", "y", "work", "mapped", "acc", "remaining", "crc_a", "crc_b",
                 "part_crcs", "crc_differ", "memcmp", "same_parts", "acc_used")

    def __init__(self, diff: VariableDiff):
        self.diff = diff
        self.x = self.y = None
        self.work = None
        self.mapped = False
        self.acc = _Acc()
        self.remaining = 0
        self.crc_a = self.crc_b = False  # whose parts get checksummed as they are measured
        self.part_crcs: dict[int, tuple] = {}  # part start -> (crc A, crc B, bytes)
        self.crc_differ = False
        self.memcmp = False
        self.same_parts: list[tuple[int, int]] = []
        self.acc_used = False


def compare(a, b, *, keymap: KeyMap | None = None, name_filter: str | Iterable[str] | None = None,
            include_other: bool = True, verify: bool | None = None,
            workers: int | None = None,
            progress: Callable[[int, int], None] | None = None,
            cancel: Callable[[], bool] | threading.Event | None = None,
            executor: ThreadPoolExecutor | None = None) -> Comparison:
    """Compare checkpoint ``a`` with ``b`` (paths or open readers).

    ``name_filter``: glob(s) on readable names or keys; only matching variables are compared.
    ``include_other``: compare bookkeeping tensors too (save_counter, global_step; the
    object graph is never compared); on by default, as a counter that moved is a difference. ``verify``: check the crc32c of every tensor compared
    (a damaged one fails with the reader's DataLossError message); None does as each reader
    does (paths are opened checking, unless ``verification(False)`` is in effect), False
    measures damaged data too (for forensic looks).
    ``progress(done_bytes, total_bytes)`` is called from the calling thread; ``cancel`` (a
    callable or an Event) stops the work between chunks with ``core.errors.Cancelled``.
    Damage limited to some tensors marks those variables FAILED; the rest still compares.
    """
    with _readers(a, b, verify) as (reader_a, reader_b):
        return _compare(reader_a, reader_b, keymap, name_filter, include_other, verify,
                        workers, progress, cancel, executor)


def _should_stop_fn(cancel) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    return cancel


def _matches(patterns: list[str], *names: str | None) -> bool:
    return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in names if n)


def _compare(ra, rb, keymap, name_filter, include_other, verify, workers, progress, cancel,
             executor) -> Comparison:
    should_stop = _should_stop_fn(cancel)
    sides_a, sides_b = _sides(ra), _sides(rb)
    patterns = [name_filter] if isinstance(name_filter, str) else list(name_filter or [])
    result = Comparison(_describe(ra), _describe(rb))
    jobs: list[_Job] = []
    for ka, kb in align(sides_a, sides_b, keymap):
        if OBJECT_GRAPH_KEY in (ka, kb):
            continue
        sa = sides_a.get(ka) if ka is not None else None
        sb = sides_b.get(kb) if kb is not None else None
        main = sa or sb
        if main.kind == "other" and not include_other:
            continue
        if patterns and not _matches(patterns, sa and sa.readable, sb and sb.readable, ka, kb):
            continue
        owner_sides = sides_a if sa else sides_b
        slot_of = None
        if main.slot_of:
            owner = owner_sides.get(main.slot_of)
            slot_of = owner.readable if owner else main.slot_of
        v = VariableDiff(name=main.readable, key_a=ka, key_b=kb,
                         name_b=sb.readable if sa and sb and sb.readable != sa.readable else None,
                         kind=main.kind, group=_group(main.kind),
                         layer=_layer(main, owner_sides), slot_of=slot_of,
                         slot_name=main.slot_name)
        result.variables.append(v)
        try:
            if sa:
                v.dtype_a = _dtype_name(ra.dtype(ka))
                v.shape_a = tuple(ra.shape(ka))
            if sb:
                v.dtype_b = _dtype_name(rb.dtype(kb))
                v.shape_b = tuple(rb.shape(kb))
            reader, key = (ra, ka) if sa else (rb, kb)
            v.num_elements = int(reader.num_elements(key))
            v.nbytes = int(reader.nbytes(key))
        except TensorloupeError as exc:
            v.status, v.error = FAILED, str(exc)
            continue
        if not sb:
            v.status = ONLY_A
        elif not sa:
            v.status = ONLY_B
        elif v.shape_a != v.shape_b:
            v.status = SHAPE_CHANGED
        else:
            v.status = DTYPE_CHANGED if v.dtype_a != v.dtype_b else CHANGED
            jobs.append(_Job(v))

    total = sum(j.diff.nbytes for j in jobs)
    done = 0

    def report(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(min(done, total), total)

    if progress is not None:
        progress(0, total)
    # Views are made (and shards mapped) on this thread: the readers are only used from here.
    # They are made as the pool takes the work, so the first parts run while the rest is
    # still being set up. Largest first, so that no long variable is left for the end.
    jobs.sort(key=lambda j: -j.diff.nbytes)
    live: list[_Job] = []

    def prepared():
        for job in jobs:
            if should_stop():
                raise Cancelled()
            _prepare(job, ra, rb, verify)
            if job.diff.status == FAILED:
                report(job.diff.nbytes)
                continue
            live.append(job)
            yield job

    own_pool = executor is None
    pool = executor or ThreadPoolExecutor(max_workers=workers or _default_workers(),
                                          thread_name_prefix="compare")
    try:
        threads = workers or (_default_workers() if own_pool else
                              getattr(pool, "_max_workers", None) or _default_workers())
        batch = max(1 << 20, min(tuning.BATCH_BYTES, total // (8 * threads)))
        _run(prepared(), pool, should_stop, report, batch)
        for job in live:
            if job.diff.status != FAILED:
                _settle(job, ra, rb)
    finally:
        if own_pool:
            pool.shutdown(wait=True, cancel_futures=True)
    for job in live:
        # One-element tensors are shown by value (counters, learning rates), not by norms.
        if job.diff.status != FAILED and job.work is not None and job.x.shape[0] == 1:
            job.diff.value_a, job.diff.value_b = scalar_value(job.x), scalar_value(job.y)
        job.x = job.y = None
    if progress is not None:
        progress(total, total)
    return result


def _prepare(job: _Job, ra, rb, verify: bool | None) -> None:
    """Both sides as flat arrays (mapped views when possible, else read whole) and the plan."""
    v = job.diff
    check_a, check_b = _checks(ra, verify), _checks(rb, verify)
    try:
        da, db = ra.dtype(v.key_a), rb.dtype(v.key_b)
        job.work = work_dtype(da, db)
        job.mapped = False
        if da.kind != "O" and db.kind != "O":
            try:
                # Unchecked views: their parts are checksummed as they are measured.
                job.x = ra.array(v.key_a, verify=False).reshape(-1)
                job.y = rb.array(v.key_b, verify=False).reshape(-1)
                job.mapped = True
            except UnsupportedError:  # a partitioned variable: reassembled copies
                pass
        if not job.mapped:  # read whole (and checked) by the readers
            job.x = ra.read(v.key_a, verify=check_a).reshape(-1)
            job.y = rb.read(v.key_b, verify=check_b).reshape(-1)
        elif ra.header.endianness == "big" or rb.header.endianness == "big":
            for reader, key, check in ((ra, v.key_a, check_a), (rb, v.key_b, check_b)):
                if check:  # swapped below, so checked here over the stored bytes
                    reader.check(key)
        else:
            job.crc_a = _mapped_side(ra, v.key_a, check_a)
            job.crc_b = _mapped_side(rb, v.key_b, check_b)
    except TensorloupeError as exc:
        v.status, v.error = FAILED, str(exc)
        job.x = job.y = None
        return
    for attr in ("x", "y"):
        arr = getattr(job, attr)
        if arr.dtype.byteorder == ">":
            setattr(job, attr, arr.astype(arr.dtype.newbyteorder("=")))
            # A swapped copy is ordinary memory: its pages must never be dropped (that
            # would zero them), and its bytes are not the stored ones.
            job.mapped = False
    crc_a, crc_b = _entry_crc(ra, v.key_a), _entry_crc(rb, v.key_b)
    job.crc_differ = crc_a is not None and crc_b is not None and crc_a != crc_b
    # With the same dtype, the bytes can only be equal when the stored checksums are.
    job.memcmp = (v.dtype_a == v.dtype_b and job.work is not None and job.mapped
                  and not job.crc_differ)


def _parts(n: int, itemsize: int) -> list[tuple[int, int]]:
    chunk = tuning.CHUNK_ELEMENTS
    per = max(chunk, tuning.PART_BYTES // max(1, itemsize) // chunk * chunk)
    return [(s, min(n, s + per)) for s in range(0, n, per)] or [(0, 0)]


def _run(jobs: Iterable[_Job], pool: ThreadPoolExecutor, should_stop, report,
         batch_limit: int = tuning.BATCH_BYTES) -> None:
    """Every variable in parts on the pool, in the given order; results come back through a
    queue.

    A part first memcmps when that can pay off (same dtype, equal stored checksums); parts
    that differ get every metric. A variable with some identical parts and some not gets the
    norms of the identical parts afterwards (one dot product over A).
    """
    results: queue.SimpleQueue = queue.SimpleQueue()
    stopped = threading.Event()
    dropper = _PageDropper()

    def stop_now() -> bool:
        return stopped.is_set() or should_stop()

    outstanding = 0

    def submit(fn, units: list[tuple[_Job, tuple[int, int]]]) -> None:
        """One pool task for several small units (fewer hand-offs between threads)."""
        nonlocal outstanding
        outstanding += len(units)

        def task():
            # One message per task, not per unit: fewer wake-ups of the collecting thread.
            # The task drops the mapped pages it read itself (in whole huge-page blocks; the
            # edges, shared with neighbouring tasks, go to the collecting thread's dropper).
            done = []
            spans = []
            held = []
            pending = 0
            try:
                for job, part in units:
                    try:
                        done.append((job, part, fn(job, part, stop_now), None))
                    except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                        done.append((job, part, None, exc))
                    x, y = job.x, job.y  # held: the map stays alive until the drop is done
                    if job.mapped and x is not None and y is not None and part[1] > part[0]:
                        held.append((x, y))
                        size = x.itemsize
                        for arr in (x, y):
                            base = arr.ctypes.data
                            spans.append((base + part[0] * size, base + part[1] * size))
                        pending += 2 * (part[1] - part[0]) * size
                        if pending >= 4 * tuning.RELEASE_BYTES and not stopped.is_set():
                            spans = _drop_ranges(spans, _BLOCK)
                            pending = sum(hi - lo for lo, hi in spans)
            finally:
                left = _drop_ranges(spans, _BLOCK) if spans and not stopped.is_set() else []
                held.clear()
                results.put((done, left))
        pool.submit(task)

    batch: list = []
    batch_bytes = 0
    for job in jobs:
        parts = [(0, job.x.shape[0])] if job.work is None else \
            _parts(job.x.shape[0], job.x.itemsize)
        job.remaining = len(parts)
        job.same_parts = []
        for part in parts:
            batch.append((job, part))
            batch_bytes += (part[1] - part[0]) * job.x.itemsize
            if batch_bytes >= batch_limit:
                submit(_part_task, batch)
                batch, batch_bytes = [], 0
    if batch:
        submit(_part_task, batch)
    try:
        inbox: list = []
        while outstanding:
            if not inbox:
                try:
                    inbox, left = results.get(timeout=0.1)
                except queue.Empty:
                    if should_stop():
                        raise Cancelled() from None
                    continue
                for lo, hi in left:
                    dropper.add_range(lo, hi)
                inbox.reverse()
                continue
            job, part, value, exc = inbox.pop()
            outstanding -= 1
            v = job.diff
            if exc is not None:
                if isinstance(exc, (Cancelled, KeyboardInterrupt)):
                    raise exc
                if v.status != FAILED:
                    v.status, v.error = FAILED, f"could not compare: {exc}"
                continue
            if v.status == FAILED:
                continue
            kind, payload = value
            if kind != "norm":
                report((part[1] - part[0]) * job.x.itemsize)
            if kind == "eq":
                v.changed = payload
                if payload == 0 and v.status == CHANGED:
                    v.status = IDENTICAL
            elif kind == "same":
                job.same_parts.append(part)
            else:
                job.acc.merge(payload)
            job.remaining -= 1
            if job.remaining or kind == "eq":
                continue
            if not job.acc_used:  # every part had the same bytes
                v.status = IDENTICAL
                _fill_identical(v)
            elif job.same_parts:
                pending, job.same_parts = job.same_parts, []
                job.remaining = len(pending)
                for p in pending:
                    submit(_norm_task, [(job, p)])
            else:
                _finish(job)
        if should_stop():
            raise Cancelled()
    finally:
        stopped.set()
        dropper.flush(final=True)


def _part_task(job: _Job, part: tuple[int, int], should_stop):
    if should_stop():
        raise Cancelled()
    s, e = part
    x, y = job.x[s:e], job.y[s:e]
    if job.work is None:  # bool / strings: equality only
        result = "eq", _equal_count(x, y)
    elif job.memcmp and bytes_equal(x, y):
        result = "same", None
    else:
        job.acc_used = True
        result = "acc", _stream(x, y, job.work, should_stop, None, job.mapped)
    _part_crcs(job, s, e, same_bytes=result[0] == "same")
    return result


def _norm_task(job: _Job, part: tuple[int, int], should_stop):
    """Norms of a part whose bytes are identical in A and B (a dot product over A)."""
    s, e = part
    x = job.x[s:e]
    acc = _Acc()
    for start in range(0, x.shape[0], tuning.CHUNK_ELEMENTS):
        if should_stop():
            raise Cancelled()
        c = x[start:start + tuning.CHUNK_ELEMENTS]
        if c.dtype != job.work:
            c = c.astype(job.work)
        sq = float(np.vdot(c, c).real)
        if not math.isfinite(sq):
            acc2 = _Acc()
            _chunk_nonfinite(c, c, acc2)
            acc2.nan_b, acc2.inf_b = acc2.nan_a, acc2.inf_a
            acc.merge(acc2)
            continue
        acc.aa += sq
        acc.bb += sq
        acc.ab += sq
    return "norm", acc


def _fill_identical(v: VariableDiff) -> None:
    """An identical variable: its difference metrics are known without reading the values."""
    v.norm_diff = 0.0
    v.max_abs_diff = 0.0
    v.changed = 0


def _finish(job: _Job) -> None:
    v, acc = job.diff, job.acc
    v.norm_a = math.sqrt(acc.aa)
    v.norm_b = math.sqrt(acc.bb)
    v.norm_diff = math.sqrt(acc.dd)
    v.max_abs_diff = acc.maxabs
    v.changed = acc.changed
    v.nan_a, v.nan_b, v.inf_a, v.inf_b = acc.nan_a, acc.nan_b, acc.inf_a, acc.inf_b
    if acc.aa > 0 and acc.bb > 0:
        v.cosine = max(-1.0, min(1.0, acc.ab / math.sqrt(acc.aa * acc.bb)))
    if v.status == CHANGED and acc.changed == 0:
        # Equal values (NaN where NaN, signed zeros aside): the same variable.
        v.status = IDENTICAL
