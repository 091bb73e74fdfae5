"""CheckpointReader: a TensorBundle (V2 checkpoint) read without TensorFlow.

Opening parses only the ``.index`` table (header and one BundleEntryProto per key); no
tensor data is touched. Each ``.data-NNNNN-of-MMMMM`` shard is memory-mapped the first
time a tensor in it is read, and numeric tensors are numpy views over that map, so
opening and listing cost the same for a 1 MB or a 100 GB checkpoint.

Data layout (tensorflow/core/util/tensor_bundle/tensor_bundle.cc): a numeric tensor is
its raw little-endian bytes at ``[offset, offset + size)`` of its shard, crc32c over
those bytes. A string tensor is n varint64 lengths, a fixed32 masked crc32c of the
lengths (each taken as uint32, or uint64 above 4 GiB), then the bytes of every string;
its entry's crc32c covers the lengths as uint32, the 4 checksum bytes and the strings.

Every read checks the crc32c of the bytes it returns, as TensorFlow's reader does, and a
mismatch raises DataLossError rather than hand back numbers computed from damaged data.
Each entry is checksummed once: the verdict is kept by the reader and, keyed by the data
file's identity (device, inode, size, modification time) and the entry's place, by the
process, so reading again, or opening the same file again, costs nothing. A reader opened
with ``verify=False`` skips the check (to look at damaged data on purpose).
"""
from __future__ import annotations

import contextlib
import contextvars
import mmap
import os
import struct
import threading
import time
from dataclasses import dataclass, field

from .. import dtypes as _dtypes
from ..errors import DataLossError, FormatError, NotFoundError, UnsupportedError
from .keys import OBJECT_GRAPH_KEY  # noqa: F401 - importable from here too
from ..tensors import check_numpy_shape, check_shape, check_stored_bytes
from .slices import TensorSlice, encode_slice_key
from .table import Table, mask_crc, unmask_crc

# numpy and google_crc32c are imported where they are used: listing a checkpoint needs
# neither, and the command line starts faster without them.

HEADER_KEY = b""
DT_STRING = 7
# Big tensors are checksummed 8 MiB per call: google_crc32c holds the GIL while it works,
# and the window's thread must get it between pieces.
_CRC_CHUNK = 1 << 23

# Whether readers opened without an explicit ``verify=`` check what they read. A context
# variable, so that ``verification(False)`` around a run (whose restore opens its own
# readers) affects only that thread of work.
_VERIFY_DEFAULT: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "tensorloupe_verify_checksums", default=True)

# crc32c computed over an entry's bytes, for every reader of this process:
# (device, inode, size, mtime, ctime, offset, size, stored crc) -> computed crc.
_PROCESS_CRCS: dict[tuple, int] = {}
_PROCESS_CRCS_LIMIT = 1 << 20  # entries (about 200 MB); past it the cache starts again
# File times tick coarsely (a few ms), so a file rewritten in place right after it was read
# can keep its size and time. Verdicts on files this fresh stay with their reader only.
_SETTLED_NS = 2_000_000_000


@contextlib.contextmanager
def verification(enabled: bool):
    """Within the block, readers opened without ``verify=`` check checksums iff ``enabled``."""
    token = _VERIFY_DEFAULT.set(bool(enabled))
    try:
        yield
    finally:
        _VERIFY_DEFAULT.reset(token)


def verifies_by_default() -> bool:
    """Whether a reader opened here without ``verify=`` would check what it reads."""
    return _VERIFY_DEFAULT.get()


def string_lengths(data, n: int, path, base: int):
    """The ``n`` varint64 lengths that open a stored string tensor, as a uint64 array, and
    the offset just past them.

    Vectorized: a Python loop over the lengths takes seconds for a few million strings
    (a 16 MiB file of empty strings is 16 million of them). Only as many bytes as the
    lengths can span are scanned, a chunk at a time, so long strings after them are not.
    """
    import numpy as np
    if n == 0:
        return np.zeros(0, np.uint64), 0
    raw = np.frombuffer(data, dtype=np.uint8, count=min(len(data), 10 * n))
    if len(raw) >= n and int(raw[:n].max()) < 0x80:
        return raw[:n].astype(np.uint64), n      # every string shorter than 128 bytes
    ends = []
    found = 0
    pos = 0
    while found < n:
        if pos >= len(raw):
            raise FormatError(f"corrupt string tensor: truncated or overlong string length "
                              f"(found {found} of {n})", path, base + pos)
        chunk = raw[pos:pos + max(n - found, 1 << 12)]
        hits = np.flatnonzero(chunk < 0x80)[:n - found]
        ends.append(hits + pos)
        found += len(hits)
        pos += len(chunk)
    last = np.concatenate(ends)
    first = np.empty(n, np.int64)
    first[0] = 0
    first[1:] = last[:-1] + 1
    width = last - first + 1
    longest = int(width.max())
    if longest > 10:
        bad = int(first[int(np.argmax(width))])
        raise FormatError("corrupt string tensor: overlong string length", path, base + bad)
    values = (raw[first] & 0x7F).astype(np.uint64)
    for k in range(1, longest):
        more = width > k
        values[more] |= (raw[first[more] + k] & 0x7F).astype(np.uint64) << np.uint64(7 * k)
    return values, int(last[-1]) + 1


def length_bytes(lengths) -> bytes:
    """The lengths as TensorFlow checksums them: uint32 each (uint64 above 4 GiB)."""
    if not len(lengths) or int(lengths.max()) <= 0xFFFFFFFF:
        return lengths.astype("<u4").tobytes()
    return b"".join(struct.pack("<I" if v <= 0xFFFFFFFF else "<Q", v)
                    for v in lengths.tolist())


def _check_budget(what: str, nbytes: int, path) -> None:
    """BudgetError when making ``nbytes`` would take the run (or, outside a run, one
    read) over the memory budget; decided before anything is allocated."""
    from ..engine.context import default_max_memory, memory_limit, size_text
    from ..errors import BudgetError
    limit = memory_limit()
    if nbytes > limit:
        raise BudgetError(f"{what} would take {size_text(nbytes)}: more than the "
                          f"{size_text(limit)} left of the memory budget (default: "
                          f"{size_text(default_max_memory())}; a run takes --max_memory or "
                          "Budget(max_memory=...))", path)


def data_filename(prefix: str, shard: int, num_shards: int) -> str:
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


@dataclass(frozen=True)
class Header:
    num_shards: int
    endianness: str  # "little" or "big"
    producer: int
    min_consumer: int
    bad_consumers: tuple[int, ...] = ()


@dataclass(frozen=True)
class Entry:
    """One key of the index: where a tensor (or one slice of it) lives."""
    key: str
    dtype_enum: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int  # masked, as stored
    slices: tuple[TensorSlice, ...] = ()
    raw_key: bytes = field(default=b"", repr=False)

    @property
    def num_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def partitioned(self) -> bool:
        return bool(self.slices)


@dataclass(frozen=True)
class ChecksumStats:
    """What checking a reader's reads has cost so far (``CheckpointReader.stats``)."""
    checked: int = 0        # entries whose bytes were checksummed for this reader
    checked_bytes: int = 0  # bytes checksummed for this reader
    reused: int = 0         # reads answered by a verdict already known (this reader's or the
                            # process's) instead of a checksum
    damaged: int = 0        # entries found not to match their checksum


@dataclass(frozen=True)
class Problem:
    """One thing verify() found wrong."""
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


_PARSER = None


def _entry_parser():
    """(BundleEntryProto.FromString, DecodeError), imported once on first use."""
    global _PARSER
    if _PARSER is None:
        from google.protobuf.message import DecodeError
        from tensorloupe.protos import tensor_bundle_pb2
        _PARSER = (tensor_bundle_pb2.BundleEntryProto.FromString, DecodeError)
    return _PARSER


def _decode_key(raw: bytes) -> str:
    return raw.decode("utf-8", errors="surrogateescape")


class CheckpointReader:
    """Read-only view of one checkpoint ``prefix`` (``prefix.index`` + data shards)."""

    def __init__(self, prefix: str | os.PathLike, verify: bool | None = None):
        """``verify``: check each tensor's crc32c when it is first read (DataLossError when it
        does not match). None follows ``verification()``, which is on unless turned off."""
        self.prefix = os.fspath(prefix)
        self.verifies = verifies_by_default() if verify is None else bool(verify)
        self.index_path = self.prefix + ".index"
        table = Table(self.index_path)
        items = table.items
        if not items or items[0][0] != HEADER_KEY:
            raise FormatError("not a TensorBundle: the index has no header entry", self.index_path)
        self.header = self._parse_header(items[0][1])
        self._raw: dict[bytes, Entry] = {}
        slice_keys: set[bytes] = set()
        for raw_key, value in items[1:]:
            entry = self._parse_entry(raw_key, value)
            self._raw[raw_key] = entry
            for s in entry.slices:
                slice_keys.add(encode_slice_key(raw_key, s))
        # As TensorFlow's CheckpointReader: every key but the header and the slices'
        # own keys is a tensor (partitioned variables appear once, at full shape).
        self.entries: dict[str, Entry] = {
            e.key: e for k, e in self._raw.items() if k not in slice_keys}
        self._keys = sorted(self.entries)
        self._maps: dict[int, object] = {}
        # shard -> (device, inode, size, mtime, ctime) when it may key the process's verdicts
        self._shard_ids: dict[int, tuple] = {}
        self._crcs: dict[bytes, int] = {}  # raw key -> crc32c computed over its bytes
        self._damaged: set[bytes] = set()
        self._checked = self._checked_bytes = self._reused = 0
        self._lock = threading.Lock()  # GUI workers read from several threads
        self._closed = False

    # ---------------------------------------------------------------- parsing

    def _parse_header(self, value: bytes) -> Header:
        from tensorloupe.protos import tensor_bundle_pb2
        from google.protobuf.message import DecodeError
        try:
            h = tensor_bundle_pb2.BundleHeaderProto.FromString(value)
        except DecodeError:
            raise FormatError("the bundle header entry is not parseable", self.index_path) from None
        if h.num_shards < 1:
            raise FormatError(f"the bundle header says {h.num_shards} data shards",
                              self.index_path)
        return Header(num_shards=h.num_shards,
                      endianness="big" if h.endianness == 1 else "little",
                      producer=h.version.producer, min_consumer=h.version.min_consumer,
                      bad_consumers=tuple(h.version.bad_consumers))

    def _parse_entry(self, raw_key: bytes, value: bytes) -> Entry:
        # Called once per key when a checkpoint opens: kept lean (a few µs per entry).
        parse, decode_error = _entry_parser()
        key = _decode_key(raw_key)
        try:
            p = parse(value)
        except decode_error:
            raise FormatError(f"the entry of tensor {key!r} is not parseable",
                              self.index_path) from None
        shape = tuple([d.size for d in p.shape.dim])
        if p.shape.unknown_rank or (shape and min(shape) < 0):
            raise FormatError(f"tensor {key!r} has an unknown shape in the index", self.index_path)
        check_shape(shape, f"tensor {key!r}", self.index_path)  # as TensorFlow bounds it
        offset, size, shard_id = p.offset, p.size, p.shard_id
        if offset < 0 or size < 0 or shard_id < 0:
            raise FormatError(f"tensor {key!r} has a negative offset, size or shard",
                              self.index_path)
        slices = tuple([TensorSlice.from_proto(s) for s in p.slices]) if p.slices else ()
        for s in slices:
            if len(s.extents) != len(shape) or any(
                    not e.full and (e.start < 0 or e.length < 0 or e.start + e.length > dim)
                    for e, dim in zip(s.extents, shape)):
                raise FormatError(f"tensor {key!r} has a slice {s} outside its shape {list(shape)}",
                                  self.index_path)
        return Entry(key, p.dtype, shape, shard_id, offset, size, p.crc32c, slices, raw_key)

    # ---------------------------------------------------------------- metadata

    def keys(self) -> list[str]:
        """Sorted tensor names (as TensorFlow lists them: no header, no slice keys)."""
        return list(self._keys)

    def __contains__(self, name) -> bool:
        return name in self.entries

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def entry(self, name: str) -> Entry:
        try:
            return self.entries[name]
        except KeyError:
            raise NotFoundError(f"tensor {name!r} not found in checkpoint", self.prefix) from None

    def shape(self, name: str) -> tuple[int, ...]:
        return self.entry(name).shape

    def dtype_enum(self, name: str) -> int:
        return self.entry(name).dtype_enum

    def dtype(self, name: str) -> np.dtype:
        """numpy dtype (bfloat16 from ml_dtypes; strings are object arrays of bytes)."""
        return _dtypes.to_numpy(self.entry(name).dtype_enum)

    def num_elements(self, name: str) -> int:
        return self.entry(name).num_elements

    def nbytes(self, name: str) -> int:
        """Bytes of the tensor's data: elements x itemsize, or the stored size of strings."""
        e = self.entry(name)
        item = _dtypes.itemsize(e.dtype_enum)
        if item is not None:
            return e.num_elements * item
        if e.slices:
            return sum(self._slice_entry(e, s).size for s in e.slices)
        return e.size

    def shard_paths(self) -> list[str]:
        n = self.header.num_shards
        return [data_filename(self.prefix, i, n) for i in range(n)]

    def object_graph(self):
        """The decoded TrackableObjectGraph of a TF2 checkpoint, or None (TF1)."""
        from .names import object_graph
        return object_graph(self)

    def readable_names(self):
        """key -> NameInfo (readable name, kind, slot_of, slot_name); see names.py."""
        from .names import readable_names
        return readable_names(self)

    # ---------------------------------------------------------------- data

    def _shard(self, shard_id: int, key: str):
        """The memory map (or bytes, for an empty file) of one data shard."""
        if self._closed:
            raise FormatError("the checkpoint reader is closed", self.prefix)
        found = self._maps.get(shard_id)
        if found is not None:
            return found
        with self._lock:
            found = self._maps.get(shard_id)
            return found if found is not None else self._open_shard(shard_id, key)

    def _open_shard(self, shard_id: int, key: str):
        if shard_id >= self.header.num_shards:
            raise FormatError(f"tensor {key!r} is in shard {shard_id}, but the header says "
                              f"{self.header.num_shards} shards", self.index_path)
        path = data_filename(self.prefix, shard_id, self.header.num_shards)
        # The map keeps its own descriptor, so the file is closed at once: a reader nobody
        # closes leaks no file handles, only maps that go with the last view of them.
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                size = st.st_size
                mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        except FileNotFoundError:
            raise NotFoundError(f"data file missing (needed for tensor {key!r})", path) from None
        if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > _SETTLED_NS:
            self._shard_ids[shard_id] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                                         st.st_ctime_ns)
        self._maps[shard_id] = mapped
        return mapped

    def _span(self, entry: Entry):
        """(shard buffer, path) after checking the entry's bytes lie inside the shard."""
        buf = self._shard(entry.shard_id, entry.key)
        if entry.offset + entry.size > len(buf):
            path = data_filename(self.prefix, entry.shard_id, self.header.num_shards)
            raise FormatError(
                f"tensor {entry.key!r}: bytes [{entry.offset}, {entry.offset + entry.size}) lie "
                f"past the end of the data file ({len(buf)} bytes; truncated?)", path, entry.offset)
        return buf

    def _numeric(self, entry: Entry, writable: bool, verify: bool) -> np.ndarray:
        import numpy as np
        dtype = _dtypes.to_numpy(entry.dtype_enum)
        if self.header.endianness == "big":
            dtype = dtype.newbyteorder(">")
        n = entry.num_elements
        if entry.size != n * dtype.itemsize:
            raise FormatError(
                f"tensor {entry.key!r}: stored size {entry.size} bytes does not match its shape "
                f"{list(entry.shape)} of {dtype.name} ({n * dtype.itemsize} bytes)",
                self.index_path)
        buf = self._span(entry)
        if verify:
            self._check_entry(entry)
        if n == 0:
            out = np.empty(entry.shape, dtype)
            if not writable:
                out.flags.writeable = False
            return out
        view = np.frombuffer(buf, dtype=dtype, count=n, offset=entry.offset).reshape(entry.shape)
        if writable:
            view = view.copy()
            if dtype.byteorder == ">":
                view = view.astype(dtype.newbyteorder("="))
        return view

    def _strings(self, entry: Entry, verify: bool) -> np.ndarray:
        import numpy as np
        buf = self._span(entry)
        if verify:
            self._check_entry(entry)
        path = data_filename(self.prefix, entry.shard_id, self.header.num_shards)
        n = entry.num_elements
        data = bytes(buf[entry.offset:entry.offset + entry.size])
        if n + 4 > len(data) and n > 0:
            raise FormatError(f"string tensor {entry.key!r}: {n} strings cannot fit in "
                              f"{len(data)} bytes", path, entry.offset)
        lengths, pos = string_lengths(data, n, path, entry.offset)
        if n == 0 and not data:
            return np.empty(entry.shape, dtype=object)
        pos += 4  # masked crc32c of the lengths
        if n and (int(lengths.max()) > len(data) or pos + int(lengths.sum()) != len(data)):
            raise FormatError(f"string tensor {entry.key!r}: string lengths do not add up to its "
                              f"stored size", path, entry.offset)
        out = np.empty(n, dtype=object)
        out.fill(b"")
        full = np.flatnonzero(lengths)
        if len(full):
            stops = np.cumsum(lengths, dtype=np.int64) + pos
            starts = stops - lengths.astype(np.int64)
            picked = np.empty(len(full), dtype=object)
            picked[:] = [data[a:b] for a, b in zip(starts[full].tolist(), stops[full].tolist())]
            out[full] = picked
        return out.reshape(entry.shape)

    def _read_entry(self, entry: Entry, verify: bool, writable: bool = True) -> np.ndarray:
        if entry.dtype_enum == DT_STRING:
            return self._strings(entry, verify)
        if _dtypes.itemsize(entry.dtype_enum) is None:
            raise UnsupportedError(f"tensor {entry.key!r} has type "
                                   f"{_dtypes.name(entry.dtype_enum)}, which is not readable as "
                                   f"a numpy array")
        return self._numeric(entry, writable, verify)

    def _slice_entry(self, full: Entry, s: TensorSlice) -> Entry:
        found = self._raw.get(encode_slice_key(full.raw_key, s))
        if found is None:
            raise FormatError(f"slice {s} of partitioned tensor {full.key!r} has no entry in the "
                              f"index", self.index_path)
        if found.shape != s.shape(full.shape) or found.dtype_enum != full.dtype_enum:
            raise FormatError(f"slice {s} of partitioned tensor {full.key!r} has shape "
                              f"{list(found.shape)}, expected {list(s.shape(full.shape))}",
                              self.index_path)
        return found

    def read(self, name: str, verify: bool | None = None) -> np.ndarray:
        """The tensor as a new numpy array (strings: object array of bytes).

        Partitioned variables are reassembled from their slices. The stored crc32c of the
        tensor (of each slice) is checked unless the reader, or this call, says
        ``verify=False``; a mismatch raises DataLossError.
        """
        verify = self.verifies if verify is None else verify
        entry = self.entry(name)
        item = _dtypes.itemsize(entry.dtype_enum)
        check_numpy_shape(entry.shape, item, f"tensor {name!r}", self.index_path)
        _check_budget(f"tensor {name!r} of shape {list(entry.shape)}",
                      entry.num_elements * (item or 8), self.index_path)
        if not entry.slices:
            return self._read_entry(entry, verify)
        import numpy as np
        parts = [(s, self._slice_entry(entry, s)) for s in entry.slices]
        covered = sum(p.num_elements for _, p in parts)
        if covered < entry.num_elements:
            raise FormatError(f"the slices of partitioned tensor {name!r} do not cover its shape "
                              f"{list(entry.shape)}", self.index_path)
        for s, p in parts:  # bounds of every slice before allocating the whole
            self._span(p)
            check_stored_bytes(p.num_elements, item, p.size,
                               f"slice {s} of partitioned tensor {name!r}", self.index_path)
        dtype = _dtypes.to_numpy(entry.dtype_enum)
        if entry.dtype_enum == DT_STRING:
            out = np.full(entry.shape, b"", dtype=object)
        else:
            out = np.zeros(entry.shape, dtype)
        for s, p in parts:
            out[s.index(entry.shape)] = self._read_entry(p, verify, writable=False)
        return out

    def array(self, name: str, verify: bool | None = None) -> np.ndarray:
        """Read-only numpy view over the memory-mapped data (no copy).

        Only for numeric tensors stored whole (not strings, not partitioned variables);
        the view stays valid while the reader is open. Checked as ``read()`` is (one pass
        over the mapped bytes the first time, nothing afterwards).
        """
        verify = self.verifies if verify is None else verify
        entry = self.entry(name)
        if entry.slices:
            raise UnsupportedError(f"tensor {name!r} is partitioned into slices; use read()")
        if entry.dtype_enum == DT_STRING or _dtypes.itemsize(entry.dtype_enum) is None:
            raise UnsupportedError(f"tensor {name!r} of type {_dtypes.name(entry.dtype_enum)} "
                                   f"has no zero-copy view; use read()")
        check_numpy_shape(entry.shape, _dtypes.itemsize(entry.dtype_enum), f"tensor {name!r}",
                          self.index_path)
        return self._numeric(entry, writable=False, verify=verify)

    # ---------------------------------------------------------------- checksums

    def check(self, name: str) -> None:
        """Raise DataLossError unless the tensor's stored bytes (each slice's, for a
        partitioned variable) match their crc32c; checked once, then remembered."""
        entry = self.entry(name)
        for part in ([self._slice_entry(entry, s) for s in entry.slices] if entry.slices
                     else [entry]):
            self._span(part)
            self._check_entry(part)

    def checksum_verdict(self, name: str) -> bool | None:
        """Whether the tensor's bytes match their crc32c, when that is already known (from
        this reader's reads or another reader of the same file), else None. Costs nothing."""
        entry = self.entry(name)
        parts = [self._raw.get(encode_slice_key(entry.raw_key, s)) for s in entry.slices] \
            if entry.slices else [entry]
        verdict = True
        for part in parts:
            if part is None:
                return None
            computed = self._known_crc(part)
            if computed is None:
                return None
            verdict = verdict and computed == unmask_crc(part.crc32c)
        return verdict

    def record_checksum(self, name: str, computed: int) -> DataLossError | None:
        """Take the crc32c a caller computed over all of a whole (unpartitioned) tensor's
        stored bytes, e.g. while comparing them; returns the DataLossError it means, if any
        (not raised), and later reads use the verdict."""
        entry = self.entry(name)
        if entry.slices:
            raise UnsupportedError(f"tensor {name!r} is partitioned; its slices are checked "
                                   f"one by one")
        self._shard(entry.shard_id, entry.key)  # its identity keys the process's cache
        self._remember(entry, computed, counted=True)
        return self._loss(entry, computed)

    @property
    def stats(self) -> ChecksumStats:
        """How many entries and bytes were checksummed, and how many reads reused a verdict."""
        with self._lock:
            return ChecksumStats(self._checked, self._checked_bytes, self._reused,
                                 len(self._damaged))

    def _process_key(self, entry: Entry) -> tuple | None:
        ident = self._shard_ids.get(entry.shard_id)
        return None if ident is None else ident + (entry.offset, entry.size, entry.crc32c)

    def _known_crc(self, entry: Entry) -> int | None:
        computed = self._crcs.get(entry.raw_key)
        if computed is None:
            pkey = self._process_key(entry)
            computed = _PROCESS_CRCS.get(pkey) if pkey is not None else None
            if computed is not None:
                self._crcs[entry.raw_key] = computed
        return computed

    def _remember(self, entry: Entry, computed: int, counted: bool) -> None:
        self._crcs[entry.raw_key] = computed
        pkey = self._process_key(entry)
        if pkey is not None:
            if len(_PROCESS_CRCS) >= _PROCESS_CRCS_LIMIT:
                _PROCESS_CRCS.clear()
            _PROCESS_CRCS[pkey] = computed
        with self._lock:
            if counted:
                self._checked += 1
                self._checked_bytes += entry.size
            if computed != unmask_crc(entry.crc32c):
                self._damaged.add(entry.raw_key)

    def _check_entry(self, entry: Entry) -> None:
        """Raise DataLossError unless the entry's bytes (inside its mapped shard) match."""
        computed = self._known_crc(entry)
        if computed is None:
            computed = self._crc(entry)
            self._remember(entry, computed, counted=True)
        else:
            with self._lock:
                self._reused += 1
        loss = self._loss(entry, computed)
        if loss is not None:
            raise loss

    def _loss(self, entry: Entry, computed: int) -> DataLossError | None:
        stored = unmask_crc(entry.crc32c)
        if computed == stored:
            return None
        with self._lock:
            self._damaged.add(entry.raw_key)
        return DataLossError.mismatch(
            data_filename(self.prefix, entry.shard_id, self.header.num_shards),
            self._label(entry), stored, computed, entry.offset, entry.size)

    @staticmethod
    def _label(entry: Entry) -> str:
        """The tensor's name, with the slice for one slice of a partitioned variable."""
        if entry.raw_key.startswith(b"\x00"):
            from .slices import decode_slice_key
            decoded = decode_slice_key(entry.raw_key)
            if decoded:
                return f"{_decode_key(decoded[0])} (slice {decoded[1]})"
        return entry.key

    def _crc(self, entry: Entry) -> int:
        """crc32c of the entry's stored bytes, as TensorFlow computes it when it writes them."""
        import google_crc32c
        import numpy as np
        buf = self._span(entry)
        if not entry.size:
            return 0
        # A uint8 view of the mapped bytes: google_crc32c reads it in place, without a copy.
        view = np.frombuffer(buf, dtype=np.uint8, count=entry.size, offset=entry.offset)
        crc = 0
        start = 0
        if entry.dtype_enum == DT_STRING:
            path = data_filename(self.prefix, entry.shard_id, self.header.num_shards)
            lengths, start = string_lengths(view, entry.num_elements, path, entry.offset)
            crc = google_crc32c.extend(crc, length_bytes(lengths))
        for i in range(start, entry.size, _CRC_CHUNK):
            crc = google_crc32c.extend(crc, view[i:i + _CRC_CHUNK])
        return crc

    def verify(self, progress=None) -> list[Problem]:
        """Check every stored entry's crc32c; return what is wrong (empty when all is well).

        ``progress(done_bytes, total_bytes)`` is called after each entry when given. Entries
        whose verdict is already known (read before) are not checksummed again.
        """
        todo = [e for e in self._raw.values() if not e.slices]
        total = sum(e.size for e in todo)
        done = 0
        problems: list[Problem] = []
        for entry in todo:
            label = self._label(entry)
            try:
                self._span(entry)  # maps the shard: its identity keys the process's cache
                actual = self._known_crc(entry)
                if actual is None:
                    actual = self._crc(entry)
                    self._remember(entry, actual, counted=True)
            except NotFoundError as exc:
                problems.append(Problem(label, f"data file missing: {exc.path}"))
            except FormatError as exc:
                where = f" ({exc.path}, byte {exc.offset})" if exc.offset is not None else ""
                problems.append(Problem(label, exc.message + where))
            else:
                if actual != unmask_crc(entry.crc32c):
                    problems.append(Problem(
                        label, f"crc32c mismatch: stored {unmask_crc(entry.crc32c):#010x}, data has "
                               f"{actual:#010x} ({data_filename(self.prefix, entry.shard_id, self.header.num_shards)}"
                               f" bytes {entry.offset}..{entry.offset + entry.size})"))
            done += entry.size
            if progress is not None:
                progress(done, total)
        return problems

    # ---------------------------------------------------------------- lifetime

    def close(self) -> None:
        """Release the memory maps (views from array() must not be used afterwards)."""
        self._closed = True
        for m in self._maps.values():
            if isinstance(m, mmap.mmap):
                try:
                    m.close()
                except BufferError:
                    pass  # a view from array() is alive; the map goes when it does
        self._maps.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return (f"CheckpointReader({self.prefix!r}, {len(self._keys)} tensors, "
                f"{self.header.num_shards} shard(s))")


__all__ = ["CheckpointReader", "ChecksumStats", "Entry", "Header", "Problem", "data_filename",
           "mask_crc", "verification", "verifies_by_default"]
