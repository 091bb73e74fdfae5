"""Compare checkpoints: what changed between two, and how every variable drifted over a run.

Pure numpy, no Qt. Two checkpoints are aligned by readable name (the TF2 object path, or the
TF1 key), optionally through a ``KeyMap`` for renamed variables. For each pair of common
variables the tensors are streamed in chunks over the readers' memory maps, so a 3 GiB
variable never sits whole in memory, and the work is spread over a thread pool (numpy and
memcmp release the GIL). A variable whose bytes are identical costs one memcmp; when the
stored crc32c of both entries differ the variables cannot be identical and the memcmp is
skipped too.

Metrics per variable (float16/bfloat16/float8 are compared in float32, integers in float64):

    norm_a, norm_b, norm_diff   L2 norms of A, B and B - A
    rel_change                  norm_diff / norm_a (inf when A is all zeros and B is not)
    max_abs_diff                largest |B - A|
    cosine                      <A, B> / (|A| |B|)
    changed                     elements where A != B (NaN against NaN counts as unchanged)
    nan_a/nan_b, inf_a/inf_b    non-finite elements of each side

Positions where A or B is NaN/Inf are counted but left out of the norms, the difference and
the cosine, so one NaN does not hide how much the rest moved. Booleans and strings get only
``changed``; a shape change gets no metrics; a dtype change between numeric types is still
measured (in float64). Identical variables get no norms (that would cost a read); the
per-layer relative change is taken over the variables whose norms are known. Partitioned
(sliced) variables are reassembled whole on both sides before comparing.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fnmatch
import json
import math
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable

import numpy as np

from .errors import InputError, NotFoundError, TensorloupeError
from .stats import Cancelled

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

# Status of one aligned variable.
IDENTICAL = "identical"
CHANGED = "changed"
ONLY_A = "only in A"
ONLY_B = "only in B"
SHAPE_CHANGED = "shape changed"
DTYPE_CHANGED = "dtype changed"
FAILED = "failed"
STATUSES = (CHANGED, DTYPE_CHANGED, SHAPE_CHANGED, ONLY_A, ONLY_B, FAILED, IDENTICAL)

# Groups: model weights apart from optimizer state (slots and the optimizer's own variables).
MODEL = "model"
OPTIMIZER = "optimizer"
OTHER = "other"

CHUNK_ELEMENTS = 1 << 18   # per numpy call: 1 MiB of float32; fewer, larger calls beat
                           # smaller L2-sized ones (threads wait on the GIL between calls)
PART_BYTES = 32 << 20      # large variables are split in parts of this size across threads
RELEASE_BYTES = 8 << 20    # mapped pages are dropped behind the scan every this many bytes
BATCH_BYTES = 32 << 20     # small variables go to the pool in batches of up to this size
                           # (fewer hand-offs and bigger page drops), at least 8 per thread

# ---------------------------------------------------------------- memcmp / madvise via libc


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


# ---------------------------------------------------------------- results


@dataclass
class VariableDiff:
    """One aligned variable: where it is on each side, its status and its metrics."""
    name: str                       # readable name (A's, or B's when only in B)
    key_a: str | None = None
    key_b: str | None = None
    name_b: str | None = None       # B's readable name when it differs (renamed)
    kind: str = "variable"          # variable / slot / optimizer / other (as core.checkpoint.names)
    group: str = MODEL              # model / optimizer / other
    layer: str = ""                 # what the per-layer aggregates group by
    slot_of: str | None = None      # readable name of the variable a slot belongs to
    slot_name: str | None = None
    dtype_a: str | None = None
    dtype_b: str | None = None
    shape_a: tuple | None = None
    shape_b: tuple | None = None
    status: str = CHANGED
    num_elements: int = 0
    nbytes: int = 0                 # bytes of A's data (B's when only in B)
    norm_a: float | None = None
    norm_b: float | None = None
    norm_diff: float | None = None
    max_abs_diff: float | None = None
    cosine: float | None = None
    changed: int | None = None      # elements that differ
    nan_a: int = 0
    nan_b: int = 0
    inf_a: int = 0
    inf_b: int = 0
    error: str | None = None

    @property
    def common(self) -> bool:
        return self.key_a is not None and self.key_b is not None

    @property
    def rel_change(self) -> float | None:
        """||B - A|| / ||A|| (0 for identical variables, inf when A is zero and B is not)."""
        if self.status == IDENTICAL:
            return 0.0
        if self.norm_diff is None or self.norm_a is None:
            return None
        if self.norm_a == 0:
            return 0.0 if self.norm_diff == 0 else math.inf
        return self.norm_diff / self.norm_a

    @property
    def fraction_changed(self) -> float | None:
        if self.changed is None:
            return None
        return self.changed / self.num_elements if self.num_elements else 0.0

    def sort_key(self) -> tuple:
        """Most changed first: by relative change, then fraction of elements, then name."""
        rel = self.rel_change
        frac = self.fraction_changed
        rel = -1.0 if rel is None or math.isnan(rel) else rel
        return (-rel, -(frac or 0.0), self.name)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rel_change"] = self.rel_change
        d["fraction_changed"] = self.fraction_changed
        for k in ("shape_a", "shape_b"):
            if d[k] is not None:
                d[k] = list(d[k])
        return {k: _json_number(v) for k, v in d.items()}


def _json_number(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


@dataclass
class LayerSummary:
    """Aggregate over the variables of one layer (scope)."""
    group: str
    layer: str
    variables: int = 0
    changed_variables: int = 0
    params: int = 0
    params_changed: int = 0
    sum_sq_a: float = 0.0           # over variables whose norm is known
    sum_sq_diff: float = 0.0

    @property
    def rel_change(self) -> float | None:
        if self.sum_sq_a > 0:
            return math.sqrt(self.sum_sq_diff / self.sum_sq_a)
        if self.variables and self.changed_variables == 0:
            return 0.0
        return math.inf if self.sum_sq_diff > 0 else None

    @property
    def fraction_changed(self) -> float:
        return self.params_changed / self.params if self.params else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rel_change"] = _json_number(self.rel_change)
        d["fraction_changed"] = self.fraction_changed
        return d


@dataclass
class Comparison:
    """Everything ``compare`` found, in alignment order (see ``sorted()`` for most changed first)."""
    path_a: str
    path_b: str
    variables: list[VariableDiff] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for v in self.variables if v.status == status)

    @property
    def identical(self) -> bool:
        return all(v.status == IDENTICAL for v in self.variables)

    @property
    def failures(self) -> list[VariableDiff]:
        return [v for v in self.variables if v.status == FAILED]

    def get(self, name: str) -> VariableDiff | None:
        for v in self.variables:
            if name in (v.name, v.name_b, v.key_a, v.key_b):
                return v
        return None

    def sorted(self, group: str | None = None) -> list[VariableDiff]:
        """Common variables, most changed first (optionally one group only)."""
        out = [v for v in self.variables if v.common and (group is None or v.group == group)]
        return sorted(out, key=VariableDiff.sort_key)

    def layers(self, group: str | None = None, depth: int | None = None) -> list[LayerSummary]:
        return aggregate(self.variables, group=group, depth=depth)

    def summary(self) -> dict:
        return {s: self.count(s) for s in STATUSES}

    def to_dict(self) -> dict:
        return {
            "a": self.path_a, "b": self.path_b, "identical": self.identical,
            "summary": self.summary(),
            "variables": [v.to_dict() for v in sorted(self.variables, key=VariableDiff.sort_key)],
            "layers": [s.to_dict() for s in self.layers()],
        }


# ---------------------------------------------------------------- key mapping


@dataclass
class KeyMap:
    """How names of A correspond to names of B when variables were renamed.

    ``strip_prefixes`` are removed from the names of both sides (the first that matches);
    ``replace_prefixes`` (old, new) rewrite names of both sides; ``pairs`` maps a name in A
    (key or readable name) to a name in B (key or readable name) and wins over the rest,
    as the ``{"name_in_checkpoint": variable}`` dict a TF1 Saver takes.
    """
    strip_prefixes: list[str] = field(default_factory=list)
    replace_prefixes: list[tuple[str, str]] = field(default_factory=list)
    pairs: dict[str, str] = field(default_factory=dict)

    def normalize(self, name: str) -> str:
        for p in self.strip_prefixes:
            if p and name.startswith(p):
                name = name[len(p):]
                break
        for old, new in self.replace_prefixes:
            if old and name.startswith(old):
                name = new + name[len(old):]
                break
        return name

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "KeyMap":
        """A JSON object ``{"name in A": "name in B", ...}``; or one with the keys
        ``rename`` (that object), ``strip_prefix`` (list) and ``replace_prefix`` (object)."""
        path = os.fspath(path)
        try:
            with open(path, "rb") as f:
                data = json.loads(f.read(1 << 26).decode("utf-8"))
        except FileNotFoundError:
            raise NotFoundError("mapping file not found", path) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"the mapping file is not JSON ({exc})", path) from None
        if not isinstance(data, dict):
            raise InputError("the mapping file must hold a JSON object of name -> name", path)
        special = {"rename", "strip_prefix", "replace_prefix"}
        if data and set(data) <= special:
            pairs = data.get("rename", {})
            strip = data.get("strip_prefix", [])
            replace = data.get("replace_prefix", {})
            if isinstance(strip, str):
                strip = [strip]
            if not (isinstance(pairs, dict) and isinstance(strip, list)
                    and isinstance(replace, dict)):
                raise InputError("in the mapping file, 'rename' and 'replace_prefix' must be "
                                 "objects and 'strip_prefix' a list", path)
        else:
            pairs, strip, replace = data, [], {}
        items = list(pairs.items()) + list(replace.items())
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in items) or \
                not all(isinstance(s, str) for s in strip):
            raise InputError("every name in the mapping file must be a string", path)
        return cls(strip_prefixes=list(strip), replace_prefixes=list(replace.items()),
                   pairs=dict(pairs))

    def __bool__(self) -> bool:
        return bool(self.strip_prefixes or self.replace_prefixes or self.pairs)


def format_percent(x: float | None, missing: str = "-") -> str:
    """A relative change for people: 0%, 3.7%, 1,250%, 4.2e-03% for tiny ones."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return missing
    if math.isinf(x):
        return "∞ (A = 0)"
    if x == 0:
        return "0%"
    if x < 1e-4:
        return f"{x * 100:.1e}%"
    if x >= 10:
        return f"{x * 100:,.0f}%"
    return f"{x * 100:.3g}%"


def format_number(x: float | None, missing: str = "-") -> str:
    return missing if x is None else f"{x:.4g}"


def parse_replace(spec: str) -> tuple[str, str]:
    """``OLD=NEW`` from the command line."""
    if "=" not in spec:
        raise InputError(f"--replace-prefix wants OLD=NEW, got {spec!r}")
    old, new = spec.split("=", 1)
    return old, new


# ---------------------------------------------------------------- names and alignment


@dataclass
class _Side:
    key: str
    readable: str
    kind: str
    slot_of: str | None
    slot_name: str | None
    layer_path: str | None


def _sides(reader) -> dict[str, _Side]:
    """key -> readable name info, from the reader's object graph (or TF1 naming)."""
    try:
        infos = reader.readable_names()
    except TensorloupeError:
        infos = None  # a damaged object graph: keys still compare
    out = {}
    for key in reader.keys():
        info = infos.get(key) if infos else None
        if info is None:
            readable = key.split("/.ATTRIBUTES/")[0]
            out[key] = _Side(key, readable, "other" if key == OBJECT_GRAPH_KEY else "variable",
                             None, None, None)
        else:
            out[key] = _Side(key, info.readable, info.kind, info.slot_of, info.slot_name,
                             info.layer_path)
    return out


def _group(kind: str) -> str:
    return {"variable": MODEL, "slot": OPTIMIZER, "optimizer": OPTIMIZER}.get(kind, OTHER)


def _layer(side: _Side, sides: dict[str, _Side]) -> str:
    """The scope a variable belongs to, for aggregates: its layer's own name when known."""
    def parent(s: _Side) -> str:
        own = s.layer_path
        if own and "/" in own and own.rsplit("/", 1)[0]:
            return own.rsplit("/", 1)[0]
        return s.readable.rsplit("/", 1)[0] if "/" in s.readable else "(root)"
    if side.kind == "slot" and side.slot_of in sides:
        return f"{parent(sides[side.slot_of])} [{side.slot_name or 'slot'}]"
    if side.kind == "optimizer":
        return side.readable.split("/", 1)[0] if "/" in side.readable else "optimizer"
    return parent(side)


def align(sides_a: dict[str, _Side], sides_b: dict[str, _Side],
          keymap: KeyMap | None = None) -> list[tuple[str | None, str | None]]:
    """Pairs (key in A, key in B); a missing side is None. Order: A's keys, then B's extras."""
    keymap = keymap or KeyMap()
    by_raw_b: dict[str, str] = {}
    by_norm_b: dict[str, str] = {}
    for key, s in sides_b.items():
        by_raw_b.setdefault(key, key)
        by_raw_b.setdefault(s.readable, key)
        by_norm_b.setdefault(keymap.normalize(s.readable), key)
        by_norm_b.setdefault(keymap.normalize(key), key)
    used_b: set[str] = set()
    pairs: list[tuple[str | None, str | None]] = []
    for key, s in sides_a.items():
        target = keymap.pairs.get(key, keymap.pairs.get(s.readable))
        if target is not None:
            kb = by_raw_b.get(target)
        else:
            kb = by_norm_b.get(keymap.normalize(s.readable))
            if kb is None:
                kb = by_norm_b.get(keymap.normalize(key))
        if kb is not None and kb in used_b:
            kb = None
        if kb is not None:
            used_b.add(kb)
        pairs.append((key, kb))
    for key in sides_b:
        if key not in used_b:
            pairs.append((None, key))
    return pairs


# ---------------------------------------------------------------- streamed metrics


class _Acc:
    """Partial sums of one variable (or one part of it); parts merge by addition."""
    __slots__ = ("aa", "bb", "ab", "dd", "maxabs", "changed", "nan_a", "nan_b", "inf_a", "inf_b")

    def __init__(self):
        self.aa = self.bb = self.ab = self.dd = 0.0
        self.maxabs = 0.0
        self.changed = self.nan_a = self.nan_b = self.inf_a = self.inf_b = 0

    def merge(self, o: "_Acc") -> None:
        self.aa += o.aa
        self.bb += o.bb
        self.ab += o.ab
        self.dd += o.dd
        self.maxabs = max(self.maxabs, o.maxabs)
        self.changed += o.changed
        self.nan_a += o.nan_a
        self.nan_b += o.nan_b
        self.inf_a += o.inf_a
        self.inf_b += o.inf_b


def _plain(dt: np.dtype) -> np.dtype:
    """ml_dtypes types (kind 'V') as the numpy type they compute in."""
    if dt.kind == "V":
        if dt.name.startswith(("bfloat", "float")):
            return np.dtype(np.float32)
        if dt.name.startswith(("int", "uint")):
            return np.dtype(np.float64)
    return dt


_WORK_CACHE: dict = {}


def work_dtype(da: np.dtype, db: np.dtype) -> np.dtype | None:
    """The dtype chunks are compared in, or None for types compared only for equality."""
    key = (da, db)
    if key not in _WORK_CACHE:
        _WORK_CACHE[key] = _work_dtype(da, db)
    return _WORK_CACHE[key]


def _work_dtype(da: np.dtype, db: np.dtype) -> np.dtype | None:
    pa, pb = _plain(np.dtype(da)), _plain(np.dtype(db))
    kinds = {pa.kind, pb.kind}
    if not kinds <= {"f", "i", "u", "c"}:
        return None  # bool, strings
    if "c" in kinds:
        return np.dtype(np.complex128)
    if kinds == {"f"} and pa.itemsize <= 4 and pb.itemsize <= 4:
        return np.dtype(np.float32)  # float32, and float16/bfloat16/float8 widened to it
    return np.dtype(np.float64)  # float64, integers, mixtures


_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


class _Scratch(threading.local):
    """Per-thread buffer for the difference of one chunk."""

    def get(self, dtype: np.dtype, n: int) -> np.ndarray:
        key = (dtype.str, n)
        if getattr(self, "key", None) != key:
            self.key = key
            self.diff = np.empty(n, dtype)
        return self.diff


_scratch = _Scratch()


def _chunk(x: np.ndarray, y: np.ndarray, work: np.dtype, acc: _Acc) -> None:
    """Add one chunk (flat, same length) to the partial sums."""
    if x.dtype != work:
        x = x.astype(work)
    if y.dtype != work:
        y = y.astype(work)
    n = x.shape[0]
    diff = _scratch.get(work, CHUNK_ELEMENTS)
    d = np.subtract(y, x, out=diff[:n])
    if work.kind == "c":
        dd = float(np.vdot(d, d).real)
        aa = float(np.vdot(x, x).real)
        bb = float(np.vdot(y, y).real)
        ab = float(np.vdot(x, y).real)
    else:
        dd = float(np.dot(d, d))
        aa = float(np.dot(x, x))
        bb = float(np.dot(y, y))
        # <x, y> = (|x|^2 + |y|^2 - |y - x|^2) / 2 saves a pass; each sum is rounded relative
        # to its size, so this is as exact as a dot product unless <x, y> is much smaller than
        # |x|^2 + |y|^2 (nearly orthogonal, or very different norms): then do the dot.
        ab = (aa + bb - dd) / 2
        if not abs(ab) >= 0.25 * (aa + bb):
            ab = float(np.dot(x, y))
    if math.isfinite(dd) and math.isfinite(aa) and math.isfinite(bb) and math.isfinite(ab):
        acc.dd += dd
        acc.aa += aa
        acc.bb += bb
        acc.ab += ab
        if n:
            if work.kind == "c":
                acc.maxabs = max(acc.maxabs, float(np.abs(d).max()))
                acc.changed += int(np.count_nonzero(d))
            else:
                # |d| in place: its bits are zero exactly where B == A (-0 becomes +0), so
                # counting non-zero integers of the same width counts the changed elements.
                np.abs(d, out=d)
                acc.maxabs = max(acc.maxabs, float(d.max()))
                acc.changed += int(np.count_nonzero(d.view(_UINT[d.itemsize])))
        return
    _chunk_nonfinite(x, y, acc)


def _chunk_nonfinite(x: np.ndarray, y: np.ndarray, acc: _Acc) -> None:
    """The careful path, for chunks with NaN/Inf (or sums that overflow float32)."""
    nan_x, nan_y = np.isnan(x), np.isnan(y)
    inf_x, inf_y = np.isinf(x), np.isinf(y)
    acc.nan_a += int(nan_x.sum())
    acc.nan_b += int(nan_y.sum())
    acc.inf_a += int(inf_x.sum())
    acc.inf_b += int(inf_y.sum())
    acc.changed += int(np.count_nonzero(~((x == y) | (nan_x & nan_y))))
    both = ~(nan_x | nan_y | inf_x | inf_y)
    wide = np.complex128 if x.dtype.kind == "c" else np.float64
    xs = x[both].astype(wide)
    ys = y[both].astype(wide)
    d = ys - xs
    acc.dd += float(np.vdot(d, d).real)
    acc.aa += float(np.vdot(xs, xs).real)
    acc.bb += float(np.vdot(ys, ys).real)
    acc.ab += float(np.vdot(xs, ys).real)
    if d.size:
        acc.maxabs = max(acc.maxabs, float(np.abs(d).max()))


def _stream(x: np.ndarray, y: np.ndarray, work: np.dtype, should_stop, on_bytes,
            mapped: bool) -> _Acc:
    """Metrics of two flat arrays, chunk by chunk.

    In a long scan the mapped pages are dropped behind it every RELEASE_BYTES; what is left
    (the tail, short parts) the caller drops, in bigger batches."""
    acc = _Acc()
    n = x.shape[0]
    # Chunks of equal size (a 1 MiB variable is two chunks, not two and a sliver): every
    # chunk costs the same few numpy calls whatever its size.
    step = max(1, -(-n // max(1, -(-n // CHUNK_ELEMENTS))))
    release_every = max(step, RELEASE_BYTES // max(1, x.itemsize))
    released = 0
    for start in range(0, n, step):
        if should_stop():
            raise Cancelled()
        stop = min(n, start + step)
        _chunk(x[start:stop], y[start:stop], work, acc)
        if mapped and stop - released >= release_every:
            _drop_pages(x[released:stop], _BLOCK)  # the edges go with the caller's batch
            _drop_pages(y[released:stop], _BLOCK)
            released = stop
        if on_bytes is not None:
            on_bytes((stop - start) * x.itemsize)
    return acc


def _equal_count(a: np.ndarray, b: np.ndarray) -> int:
    """Elements that differ, for bool and string tensors."""
    return int(np.count_nonzero(a.reshape(-1) != b.reshape(-1)))


# ---------------------------------------------------------------- compare


def _open(path_or_reader):
    if hasattr(path_or_reader, "keys") and hasattr(path_or_reader, "array"):
        return path_or_reader, False
    from . import open_checkpoint
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


_DTYPE_NAMES: dict = {}


def _dtype_name(dt: np.dtype) -> str:
    name = _DTYPE_NAMES.get(dt)
    if name is None:
        name = _DTYPE_NAMES[dt] = "string" if dt.kind == "O" else dt.name
    return name


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
    from .checkpoint.table import unmask_crc
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


def _verify_job(job: "_Job", ra, rb, should_stop) -> list[str]:
    if should_stop():
        raise Cancelled()
    v = job.diff
    return [p for p in (_crc_problem(ra, v.key_a, job.x if job.mapped else None),
                        _crc_problem(rb, v.key_b, job.y if job.mapped else None)) if p]


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class _Job:
    """The state of one aligned common variable while its parts are computed."""
    __slots__ = ("diff", "x", "y", "work", "mapped", "acc", "remaining", "verify", "crc_differ",
                 "memcmp", "same_parts", "acc_used")

    def __init__(self, diff: VariableDiff):
        self.diff = diff
        self.x = self.y = None
        self.work = None
        self.mapped = False
        self.acc = _Acc()
        self.remaining = 0
        self.verify = False
        self.crc_differ = False
        self.memcmp = False
        self.same_parts: list[tuple[int, int]] = []
        self.acc_used = False


def compare(a, b, *, keymap: KeyMap | None = None, name_filter: str | Iterable[str] | None = None,
            include_other: bool = False, verify: bool = False, workers: int | None = None,
            progress: Callable[[int, int], None] | None = None,
            cancel: Callable[[], bool] | threading.Event | None = None,
            executor: ThreadPoolExecutor | None = None) -> Comparison:
    """Compare checkpoint ``a`` with ``b`` (paths or open readers).

    ``name_filter``: glob(s) on readable names or keys; only matching variables are compared.
    ``include_other``: also compare bookkeeping tensors (save_counter, global_step; the
    object graph is never compared). ``verify``: check the crc32c of every tensor compared
    (without it, damage is still caught when the checksums and the bytes disagree).
    ``progress(done_bytes, total_bytes)`` is called from the calling thread; ``cancel`` (a
    callable or an Event) stops the work between chunks with ``core.stats.Cancelled``.
    Damage limited to some tensors marks those variables FAILED; the rest still compares.
    """
    with _readers(a, b) as (reader_a, reader_b):
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


def _describe(reader) -> str:
    return getattr(reader, "prefix", str(reader))


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
        batch = max(1 << 20, min(BATCH_BYTES, total // (8 * threads)))
        _run(prepared(), pool, should_stop, report, batch)
        # Checksums that disagree with the bytes mean damage: equal checksums over different
        # bytes, or different checksums over equal values. --verify checks every tensor.
        todo = [j for j in live if j.diff.status != FAILED and (
            j.verify or (j.memcmp and j.diff.status != IDENTICAL)
            or (j.crc_differ and j.diff.status == IDENTICAL))]
        futures = [(j, pool.submit(_verify_job, j, ra, rb, should_stop)) for j in todo]
        for job, fut in futures:
            problems = fut.result()
            if problems:
                job.diff.status, job.diff.error = FAILED, "; ".join(problems)
    finally:
        if own_pool:
            pool.shutdown(wait=True, cancel_futures=True)
    for job in live:
        job.x = job.y = None
    if progress is not None:
        progress(total, total)
    return result


def _prepare(job: _Job, ra, rb, verify: bool) -> None:
    """Both sides as flat arrays (mapped views when possible, else read whole) and the plan."""
    v = job.diff
    try:
        da, db = ra.dtype(v.key_a), rb.dtype(v.key_b)
        job.work = work_dtype(da, db)
        if da.kind != "O" and db.kind != "O":
            try:
                job.x = ra.array(v.key_a).reshape(-1)
                job.y = rb.array(v.key_b).reshape(-1)
                job.mapped = True
            except TensorloupeError:  # a partitioned variable: reassembled copies
                job.x = ra.read(v.key_a).reshape(-1)
                job.y = rb.read(v.key_b).reshape(-1)
                job.mapped = False
        else:
            job.x = ra.read(v.key_a).reshape(-1)
            job.y = rb.read(v.key_b).reshape(-1)
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
    job.verify = verify
    crc_a, crc_b = _entry_crc(ra, v.key_a), _entry_crc(rb, v.key_b)
    job.crc_differ = crc_a is not None and crc_b is not None and crc_a != crc_b
    # With the same dtype, the bytes can only be equal when the stored checksums are.
    job.memcmp = (v.dtype_a == v.dtype_b and job.work is not None and job.mapped
                  and not job.crc_differ)


def _parts(n: int, itemsize: int) -> list[tuple[int, int]]:
    per = max(CHUNK_ELEMENTS, PART_BYTES // max(1, itemsize) // CHUNK_ELEMENTS * CHUNK_ELEMENTS)
    return [(s, min(n, s + per)) for s in range(0, n, per)] or [(0, 0)]


def _run(jobs: Iterable[_Job], pool: ThreadPoolExecutor, should_stop, report,
         batch_limit: int = BATCH_BYTES) -> None:
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
                        if pending >= 4 * RELEASE_BYTES and not stopped.is_set():
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
        return "eq", _equal_count(x, y)
    if job.memcmp and bytes_equal(x, y):
        return "same", None
    job.acc_used = True
    return "acc", _stream(x, y, job.work, should_stop, None, job.mapped)


def _norm_task(job: _Job, part: tuple[int, int], should_stop):
    """Norms of a part whose bytes are identical in A and B (a dot product over A)."""
    s, e = part
    x = job.x[s:e]
    acc = _Acc()
    for start in range(0, x.shape[0], CHUNK_ELEMENTS):
        if should_stop():
            raise Cancelled()
        c = x[start:start + CHUNK_ELEMENTS]
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


# ---------------------------------------------------------------- aggregates


def aggregate(variables: Iterable[VariableDiff], group: str | None = None,
              depth: int | None = None) -> list[LayerSummary]:
    """Per-layer sums over common variables, most changed first.

    ``depth`` groups by the first ``depth`` components of the readable name instead of
    the layer.
    """
    out: dict[tuple[str, str], LayerSummary] = {}
    for v in variables:
        if not v.common or v.status in (SHAPE_CHANGED, FAILED) or \
                (group is not None and v.group != group):
            continue
        layer = "/".join(v.name.split("/")[:depth]) if depth else v.layer
        s = out.setdefault((v.group, layer), LayerSummary(v.group, layer))
        s.variables += 1
        s.params += v.num_elements
        if v.status != IDENTICAL:
            s.changed_variables += 1
        s.params_changed += v.changed or 0
        if v.norm_diff is not None:
            s.sum_sq_diff += v.norm_diff ** 2
        if v.norm_a is not None:
            s.sum_sq_a += v.norm_a ** 2
    summaries = list(out.values())

    def key(s: LayerSummary):
        r = s.rel_change
        return (-(r if r is not None else -1.0), -s.fraction_changed, s.layer)
    return sorted(summaries, key=key)


# ---------------------------------------------------------------- series


@dataclass
class Series:
    """Comparisons along a training run: consecutive checkpoints and each one from the first."""
    paths: list[str]
    names: list[str]
    steps: list[int | None]
    consecutive: list[Comparison]       # i -> i+1
    from_first: list[Comparison]        # 0 -> i, for i >= 1

    def variable_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for c in self.from_first:
            for v in c.variables:
                seen.setdefault(v.name, None)
        return list(seen)

    def drift(self, name: str) -> dict:
        """Per checkpoint: relative change from the first, and from the previous one (index 0: 0)."""
        first = [0.0] + [_rel(c.get(name)) for c in self.from_first]
        step = [0.0] + [_rel(c.get(name)) for c in self.consecutive]
        norm = [None] * len(self.paths)
        if self.from_first:
            v0 = self.from_first[0].get(name)
            norm[0] = v0.norm_a if v0 else None
        for i, c in enumerate(self.from_first, start=1):
            v = c.get(name)
            norm[i] = v.norm_b if v else None
        return {"from_first": first, "step": step, "norm": norm}

    def frozen(self, group: str | None = MODEL) -> list[str]:
        """Variables identical in every consecutive pair: never trained (model weights by
        default; ``group=None`` includes constant optimizer settings too)."""
        if not self.consecutive:
            return []
        names = None
        for c in self.consecutive:
            same = {v.name for v in c.variables
                    if v.status == IDENTICAL and (group is None or v.group == group)}
            names = same if names is None else names & same
        order = self.variable_names()
        return [n for n in order if n in (names or set())]

    def to_dict(self) -> dict:
        return {
            "checkpoints": [{"path": p, "name": n, "step": s}
                            for p, n, s in zip(self.paths, self.names, self.steps)],
            "frozen": self.frozen(),
            "drift": {n: {k: [_json_number(x) for x in vals] for k, vals in self.drift(n).items()}
                      for n in self.variable_names()},
            "consecutive": [c.to_dict() for c in self.consecutive],
            "from_first": [c.to_dict() for c in self.from_first],
        }


def _rel(v: VariableDiff | None) -> float | None:
    return None if v is None else v.rel_change


def run_checkpoints(directory: str | os.PathLike) -> list[str]:
    """The checkpoint prefixes of a training directory, oldest first."""
    from .checkpoint.state import training_run
    found = training_run(directory)
    if not found:
        raise NotFoundError("no checkpoints in this directory", directory)
    return [c.prefix for c in found]


def compare_series(paths: str | os.PathLike | list, *, keymap: KeyMap | None = None,
                   name_filter=None, include_other: bool = False, verify: bool = False,
                   workers: int | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   cancel=None) -> Series:
    """Compare a training run (a directory with a ``checkpoint`` file, or a list of paths)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = run_checkpoints(paths)
    paths = [os.fspath(p) for p in paths]
    if len(paths) < 2:
        raise InputError("a series needs at least two checkpoints")
    from . import open_checkpoint
    readers = []
    try:
        for p in paths:
            readers.append(open_checkpoint(p))
        pairs = [(i, i + 1) for i in range(len(paths) - 1)] + \
                [(0, i) for i in range(2, len(paths))]
        totals = [sum(_safe_nbytes(readers[j]) for j in (i, k)) // 2 for i, k in pairs]
        grand = sum(totals) or 1
        base = 0
        results = {}
        with ThreadPoolExecutor(max_workers=workers or _default_workers(),
                                thread_name_prefix="compare") as pool:
            for (i, k), weight in zip(pairs, totals):
                def sub(done, total, _base=base, _w=weight):
                    if progress is not None and total:
                        progress(_base + done * _w // total, grand)
                results[(i, k)] = compare(readers[i], readers[k], keymap=keymap,
                                          name_filter=name_filter, include_other=include_other,
                                          verify=verify, progress=sub, cancel=cancel,
                                          executor=pool)
                base += weight
        if progress is not None:
            progress(grand, grand)
        consecutive = [results[(i, i + 1)] for i in range(len(paths) - 1)]
        from_first = [results[(0, 1)]] + [results[(0, i)] for i in range(2, len(paths))]
        prefixes = [r.prefix for r in readers]
        return Series(paths=prefixes, names=[os.path.basename(p) for p in prefixes],
                      steps=[_step_of(p) for p in prefixes], consecutive=consecutive,
                      from_first=from_first)
    finally:
        for r in readers:
            r.close()


def _step_of(prefix: str) -> int | None:
    """The trailing number of a prefix (ckpt-40 -> 40, model.ckpt-1000 -> 1000)."""
    import re
    m = re.search(r"-(\d+)$", prefix)
    return int(m.group(1)) if m else None


def _safe_nbytes(reader) -> int:
    total = 0
    for k in reader.keys():
        try:
            total += reader.nbytes(k)
        except TensorloupeError:
            pass
    return total


# ---------------------------------------------------------------- one variable, for plots


def _values(reader, key: str) -> np.ndarray:
    """A numeric tensor as a mapped view when possible (read whole otherwise)."""
    try:
        return reader.array(key)
    except TensorloupeError:
        return reader.read(key)


def _float_view(arr: np.ndarray) -> np.ndarray:
    from .stats import numeric_view
    return numeric_view(arr)


def pair_histograms(a, key_a: str, b, key_b: str, bins: int = 80,
                    should_stop: Callable[[], bool] | None = None) -> dict:
    """Histograms of A's and B's values over one common range, for overlaying.

    Streams each tensor twice (range, then counts); NaN/Inf are left out and counted.
    """
    from .stats import compute_histogram, compute_stats
    with _readers(a, b) as (ra, rb):
        xa, xb = _values(ra, key_a), _values(rb, key_b)
        if xa.dtype.kind == "O" or xb.dtype.kind == "O":
            raise InputError("strings have no histogram")
        sa = compute_stats(xa, should_stop=should_stop)
        sb = compute_stats(xb, should_stop=should_stop)
        finite = [v for v in (sa.min, sa.max, sb.min, sb.max) if math.isfinite(v)]
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        counts_a, edges = compute_histogram(xa, bins, (lo, hi), should_stop=should_stop)
        counts_b, _ = compute_histogram(xb, bins, (lo, hi), should_stop=should_stop)
        if len(counts_b) != len(counts_a):  # one side has no finite value
            counts_b = np.zeros_like(counts_a)
        return {"edges": edges, "a": counts_a, "b": counts_b, "stats_a": sa, "stats_b": sb}


def difference_slice(a, key_a: str, b, key_b: str, index: tuple[int, ...] = (),
                     max_side: int = 512) -> dict:
    """B - A as a 2-D image: the whole tensor if 2-D, a row if 1-D, one 2-D slice of an N-D
    tensor (``index`` fixes the leading axes). Large sides are sampled every ``step``-th
    value, and only the sampled slice is read from the mapped files."""
    with _readers(a, b) as (ra, rb):
        xa, xb = _values(ra, key_a), _values(rb, key_b)
        if xa.shape != xb.shape:
            raise InputError(f"the shapes differ ({list(xa.shape)} and {list(xb.shape)})")
        if xa.dtype.kind == "O" or xb.dtype.kind == "O":
            raise InputError("strings have no numeric difference")
        shape = xa.shape
        lead = max(0, len(shape) - 2)
        index = tuple(index)[:lead]
        index = index + (0,) * (lead - len(index))
        for i, (k, n) in enumerate(zip(index, shape)):
            if not 0 <= k < n:
                raise InputError(f"index {k} is outside axis {i} of size {n}")
        sa, sb = xa[index], xb[index]
        if sa.ndim == 0:
            sa, sb = sa.reshape(1, 1), sb.reshape(1, 1)
        elif sa.ndim == 1:
            sa, sb = sa.reshape(1, -1), sb.reshape(1, -1)
        rows, cols = sa.shape
        step = max(1, math.ceil(max(rows, cols) / max_side)) if sa.ndim == 2 else 1
        if rows == 1:
            step = max(1, math.ceil(cols / (max_side * 8)))
            sa, sb = sa[:, ::step], sb[:, ::step]
        elif step > 1:
            sa, sb = sa[::step, ::step], sb[::step, ::step]
        diff = (_float_view(np.array(sb)).astype(np.float64)
                - _float_view(np.array(sa)).astype(np.float64)).astype(np.float32)
        return {"diff": diff, "shape": tuple(shape), "index": index, "step": step,
                "rows": rows, "cols": cols}
