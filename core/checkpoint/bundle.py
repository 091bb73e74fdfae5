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
"""
from __future__ import annotations

import mmap
import os
import struct
import threading
from dataclasses import dataclass, field

from .. import dtypes as _dtypes
from ..errors import FormatError, NotFoundError, UnsupportedError
from .keys import OBJECT_GRAPH_KEY  # noqa: F401 - importable from here too
from .slices import TensorSlice, encode_slice_key
from .table import Table, mask_crc, read_varint, unmask_crc

# numpy and google_crc32c are imported where they are used: listing a checkpoint needs
# neither, and the command line starts faster without them.

HEADER_KEY = b""
DT_STRING = 7
_CRC_CHUNK = 1 << 23  # google_crc32c wants bytes: checksum big tensors 8 MiB at a time


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

    def __init__(self, prefix: str | os.PathLike):
        self.prefix = os.fspath(prefix)
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
                size = os.fstat(f.fileno()).st_size
                mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        except FileNotFoundError:
            raise NotFoundError(f"data file missing (needed for tensor {key!r})", path) from None
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

    def _numeric(self, entry: Entry, writable: bool) -> np.ndarray:
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

    def _strings(self, entry: Entry) -> np.ndarray:
        import numpy as np
        buf = self._span(entry)
        path = data_filename(self.prefix, entry.shard_id, self.header.num_shards)
        n = entry.num_elements
        data = bytes(buf[entry.offset:entry.offset + entry.size])
        if n + 4 > len(data) and n > 0:
            raise FormatError(f"string tensor {entry.key!r}: {n} strings cannot fit in "
                              f"{len(data)} bytes", path, entry.offset)
        lengths = []
        pos = 0
        for _ in range(n):
            length, pos = read_varint(data, pos, len(data), path, entry.offset, "string length")
            lengths.append(length)
        if n == 0 and not data:
            return np.empty(entry.shape, dtype=object)
        pos += 4  # masked crc32c of the lengths
        if pos + sum(lengths) != len(data):
            raise FormatError(f"string tensor {entry.key!r}: string lengths do not add up to its "
                              f"stored size", path, entry.offset)
        out = np.empty(n, dtype=object)
        for i, length in enumerate(lengths):
            out[i] = data[pos:pos + length]
            pos += length
        return out.reshape(entry.shape)

    def _read_entry(self, entry: Entry, writable: bool = True) -> np.ndarray:
        if entry.dtype_enum == DT_STRING:
            return self._strings(entry)
        if _dtypes.itemsize(entry.dtype_enum) is None:
            raise UnsupportedError(f"tensor {entry.key!r} has type "
                                   f"{_dtypes.name(entry.dtype_enum)}, which is not readable as "
                                   f"a numpy array")
        return self._numeric(entry, writable)

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

    def read(self, name: str) -> np.ndarray:
        """The tensor as a new numpy array (strings: object array of bytes).

        Partitioned variables are reassembled from their slices. Checksums are not
        checked here (see verify()).
        """
        entry = self.entry(name)
        if not entry.slices:
            return self._read_entry(entry)
        import numpy as np
        parts = [(s, self._slice_entry(entry, s)) for s in entry.slices]
        covered = sum(p.num_elements for _, p in parts)
        if covered < entry.num_elements:
            raise FormatError(f"the slices of partitioned tensor {name!r} do not cover its shape "
                              f"{list(entry.shape)}", self.index_path)
        for _, p in parts:  # bounds of every slice before allocating the whole
            self._span(p)
        dtype = _dtypes.to_numpy(entry.dtype_enum)
        if entry.dtype_enum == DT_STRING:
            out = np.full(entry.shape, b"", dtype=object)
        else:
            out = np.zeros(entry.shape, dtype)
        for s, p in parts:
            out[s.index(entry.shape)] = self._read_entry(p, writable=False)
        return out

    def array(self, name: str) -> np.ndarray:
        """Read-only numpy view over the memory-mapped data (no copy).

        Only for numeric tensors stored whole (not strings, not partitioned variables);
        the view stays valid while the reader is open.
        """
        entry = self.entry(name)
        if entry.slices:
            raise UnsupportedError(f"tensor {name!r} is partitioned into slices; use read()")
        if entry.dtype_enum == DT_STRING or _dtypes.itemsize(entry.dtype_enum) is None:
            raise UnsupportedError(f"tensor {name!r} of type {_dtypes.name(entry.dtype_enum)} "
                                   f"has no zero-copy view; use read()")
        return self._numeric(entry, writable=False)

    # ---------------------------------------------------------------- checksums

    def _crc(self, entry: Entry) -> int:
        import google_crc32c
        buf = self._span(entry)
        view = memoryview(buf)[entry.offset:entry.offset + entry.size]
        try:
            if entry.dtype_enum != DT_STRING:
                crc = 0
                for i in range(0, len(view), _CRC_CHUNK):
                    crc = google_crc32c.extend(crc, bytes(view[i:i + _CRC_CHUNK]))
                return crc
            path = data_filename(self.prefix, entry.shard_id, self.header.num_shards)
            head = bytes(view[:min(len(view), 10 * entry.num_elements + 4)])
            pos = 0
            crc = 0
            for _ in range(entry.num_elements):
                length, pos = read_varint(head, pos, len(head), path, entry.offset, "string length")
                crc = google_crc32c.extend(crc, struct.pack("<I" if length <= 0xFFFFFFFF else "<Q",
                                                            length))
            for i in range(pos, len(view), _CRC_CHUNK):
                crc = google_crc32c.extend(crc, bytes(view[i:i + _CRC_CHUNK]))
            return crc
        finally:
            view.release()

    def verify(self, progress=None) -> list[Problem]:
        """Check every stored entry's crc32c; return what is wrong (empty when all is well).

        ``progress(done_bytes, total_bytes)`` is called after each entry when given.
        """
        todo = [e for e in self._raw.values() if not e.slices]
        total = sum(e.size for e in todo)
        done = 0
        problems: list[Problem] = []
        for entry in todo:
            label = entry.key
            if entry.raw_key.startswith(b"\x00"):
                from .slices import decode_slice_key
                decoded = decode_slice_key(entry.raw_key)
                if decoded:
                    label = f"{_decode_key(decoded[0])} (slice {decoded[1]})"
            try:
                actual = self._crc(entry)
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


__all__ = ["CheckpointReader", "Entry", "Header", "Problem", "data_filename", "mask_crc"]
