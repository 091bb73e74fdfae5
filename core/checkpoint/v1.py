"""V1 checkpoints (TF1 ``Saver(write_version=V1)``, TF Serving session bundles), read
without TensorFlow.

A V1 checkpoint is one file (``model.ckpt``) or several shards (``model.ckpt-00000-of-00002``
...; TensorFlow names the whole by the pattern ``model.ckpt-?????-of-00002``). Each file is a
table in the same format as a V2 ``.index`` (table.py), and every record holds a serialized
SavedTensorSlices (tensorflow/core/util/saved_tensor_slice.proto):

- the empty key holds the meta: every tensor of this file with its full shape, its type and
  the slices of it this file stores, plus the writer's version;
- each other key is one slice of one tensor, in the ordered-code form that V2 uses for the
  slices of partitioned variables (slices.py; a dimension taken whole is start 0, length
  -1), and holds that slice's values in the typed ``*_val`` field of a TensorProto (never
  ``tensor_content``), exactly as many as the slice has elements.

A tensor saved whole is one slice covering it; a partitioned variable is saved under its
full name as several slices, possibly spread over several shards.

The files are memory-mapped; opening reads the footer, the index block and the meta record
of each shard, nothing else. There is no per-tensor checksum: what protects the data is the
crc32c of each table block, checked (once per block) when a tensor in it is read, unless the
reader was opened with ``verify=False``.
"""
from __future__ import annotations

import bisect
import fnmatch
import itertools
import mmap
import os
import re
import struct
import threading
from dataclasses import dataclass, field

from .. import dtypes as _dtypes
from ..errors import DataLossError, FormatError, NotFoundError, UnsupportedError
from ..tensors import check_numpy_shape, check_shape
from .bundle import CheckpointReader, ChecksumStats, Header, Problem, verifies_by_default
from .slices import FULL, Extent, TensorSlice, decode_slice_key, encode_slice_key
from .table import (BLOCK_TRAILER_SIZE, FOOTER_SIZE, MAGIC, NO_COMPRESSION, SNAPPY_COMPRESSION,
                    Table, read_varint, unmask_crc)

META_KEY = b""
DT_STRING = 7
# A shard of a V1 checkpoint: PREFIX-00000-of-00003.
_SHARD = re.compile(r"^(?P<base>.+)-(?P<index>\d{5})-of-(?P<total>\d{5})$")
_GLOB_CHARS = re.compile(r"[*?[]")

# The TensorProto field the V1 writer puts each type's values in
# (tensorflow/core/util/saved_tensor_slice_util.h), with the fewest bytes one value can take
# there (packed fields; a string costs its tag and its length byte).
_FIELDS = {
    1: ("float_val", 4), 2: ("double_val", 8), 3: ("int_val", 1), 4: ("int_val", 1),
    5: ("int_val", 1), 6: ("int_val", 1), 7: ("string_val", 2), 8: ("scomplex_val", 8),
    9: ("int64_val", 1), 10: ("bool_val", 1), 11: ("int_val", 1), 12: ("int_val", 1),
    13: ("int_val", 1), 14: ("half_val", 1), 15: ("int_val", 1), 16: ("int_val", 1),
    17: ("int_val", 1), 18: ("dcomplex_val", 16), 19: ("half_val", 1), 22: ("uint32_val", 1),
    23: ("uint64_val", 1),
}


def _pb():
    from tensorloupe.protos import saved_tensor_slice_pb2
    return saved_tensor_slice_pb2


# ---------------------------------------------------------------- one shard: a lazy table

class _ShardTable(Table):
    """One file of a V1 checkpoint, memory-mapped; data blocks are read when asked for.

    Unlike ``Table`` (which reads a whole ``.index`` at once), only the footer and the index
    block are parsed up front: a V1 file holds all the tensor data, and may be large.
    """

    def __init__(self, path: str):
        self.path = path
        try:
            with open(path, "rb") as f:
                self.size = os.fstat(f.fileno()).st_size
                self._data = (mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                              if self.size else b"")
        except FileNotFoundError:
            raise NotFoundError("no such file", path) from None
        except IsADirectoryError:
            raise NotFoundError("is a directory, not a checkpoint file", path) from None
        self._cache: tuple[int, list] | None = None  # the last block parsed
        try:
            self._read_index()
        except BaseException:
            self.close()
            raise

    def _read_index(self) -> None:
        data, path, size = self._data, self.path, self.size
        if size < FOOTER_SIZE:
            raise FormatError(f"not a checkpoint file: it is {size} bytes, shorter than the "
                              f"{FOOTER_SIZE}-byte table footer (truncated?)", path, 0)
        lo, hi = struct.unpack_from("<II", data, size - 8)
        if (hi << 32) | lo != MAGIC:
            raise FormatError("not a checkpoint file: bad table magic number (truncated, or not "
                              "a TensorFlow table)", path, size - 8)
        footer = size - FOOTER_SIZE
        pos = footer
        for what in ("metaindex offset", "metaindex size"):
            _, pos = read_varint(data, pos, size - 8, path, what=what)
        index_off, pos = read_varint(data, pos, size - 8, path, what="index offset")
        index_size, pos = read_varint(data, pos, size - 8, path, what="index size")
        index = self._block(index_off, index_size, footer, "index block")  # crc checked
        # (separator key, offset, size) of every data block, in key order
        self.blocks: list[tuple[bytes, int, int]] = []
        for separator, handle in self._entries(index, index_off):
            hpos = 0
            off, hpos = read_varint(handle, hpos, len(handle), path, what="block handle")
            length, hpos = read_varint(handle, hpos, len(handle), path, what="block handle")
            if off + length + BLOCK_TRAILER_SIZE > index_off:
                raise FormatError(f"corrupt table: data block handle (offset {off}, size "
                                  f"{length}) points past the data blocks (truncated?)",
                                  path, index_off)
            if self.blocks and separator <= self.blocks[-1][0]:
                raise FormatError("corrupt table: index keys out of order", path, index_off)
            self.blocks.append((separator, off, length))
        self._separators = [b[0] for b in self.blocks]

    def block_crc(self, i: int) -> tuple[int, int]:
        """(stored, computed) crc32c of data block i (over its contents and type byte)."""
        import google_crc32c
        import numpy as np
        _, off, length = self.blocks[i]
        # A uint8 view of the mapped bytes: checksummed in place, without a copy.
        computed = google_crc32c.value(np.frombuffer(self._data, np.uint8, length + 1, off))
        stored = unmask_crc(struct.unpack_from("<I", self._data, off + length + 1)[0])
        return stored, computed

    def block_entries(self, i: int) -> list[tuple[bytes, bytes]]:
        """The records of data block i, parsed (its crc is the caller's business)."""
        cached = self._cache
        if cached is not None and cached[0] == i:
            return cached[1]
        _, off, length = self.blocks[i]
        raw = self._data[off:off + length]
        kind = self._data[off + length]
        if kind == SNAPPY_COMPRESSION:
            raw = self._snappy(raw, off, "data block")
        elif kind != NO_COMPRESSION:
            raise FormatError(f"corrupt table: unknown compression type {kind} of a data block",
                              self.path, off + length)
        entries = self._entries(raw, off)
        for (a, _), (b, _) in itertools.pairwise(entries):
            if b <= a:
                raise FormatError("corrupt table: keys out of order", self.path, off)
        if entries and entries[-1][0] > self.blocks[i][0]:
            raise FormatError("corrupt table: a data block's keys pass its index separator",
                              self.path, off)
        self._cache = (i, entries)
        return entries

    def block_of(self, key: bytes) -> int | None:
        """The data block that would hold ``key`` (by the index), or None."""
        i = bisect.bisect_left(self._separators, key)
        return i if i < len(self.blocks) else None

    def get(self, key: bytes) -> tuple[bytes, int] | None:
        """(value, block number) of ``key``, or None when the table has no such key."""
        i = self.block_of(key)
        if i is None:
            return None
        for k, v in self.block_entries(i):
            if k == key:
                return v, i
            if k > key:
                break
        return None

    def close(self) -> None:
        data, self._data = self._data, b""
        self._cache = None
        if isinstance(data, mmap.mmap):
            try:
                data.close()
            except BufferError:
                pass  # a view is still alive; the map goes with it


def _parse_meta(value: bytes, path: str):
    """The SavedTensorSliceMeta of a meta record, or None when the record is not one."""
    from google.protobuf.message import DecodeError
    try:
        sts = _pb().SavedTensorSlices.FromString(value)
    except DecodeError:
        return None
    # A V2 bundle header parses too (its fields read as unknown ones) but has no meta.
    return sts.meta if sts.HasField("meta") else None


def read_meta(path: str):
    """The meta of a V1 checkpoint file, or None when ``path`` is a table of another kind.

    Reads the footer, the index and the first data block; checks no block crc (the reader
    does). Raises FormatError/NotFoundError when the file is not a table at all.
    """
    table = _ShardTable(path)
    try:
        found = table.get(META_KEY) if table.blocks else None
        return _parse_meta(found[0], path) if found is not None else None
    finally:
        table.close()


def is_v1_file(path) -> bool:
    """Whether ``path`` is a file of a V1 checkpoint (judged by its content)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        return False
    try:
        return read_meta(path) is not None
    except (FormatError, NotFoundError, OSError):
        return False


# ---------------------------------------------------------------- which files

def _listing(directory: str) -> list[str]:
    try:
        return os.listdir(directory or ".")
    except OSError:
        return []


def _sharded(directory: str, base: str, names: list[str]) -> list[str]:
    """Shards of ``base`` in ``names`` (listing order); FormatError when they disagree on the
    number of shards, NotFoundError when one is missing."""
    found: dict[str, list[str]] = {}
    for n in names:
        m = _SHARD.match(n)
        if m and m.group("base") == base:
            found.setdefault(m.group("total"), []).append(n)
    if not found:
        return []
    if len(found) > 1:
        totals = ", ".join(f"-of-{t}" for t in sorted(found))
        raise FormatError(f"the shards of V1 checkpoint {base!r} disagree on how many there are "
                          f"({totals}); name one set with a pattern such as "
                          f"{base}-?????-of-{min(found)}", directory or ".")
    total, shards = next(iter(found.items()))
    present = {int(_SHARD.match(n).group("index")) for n in shards}
    missing = [i for i in range(int(total)) if i not in present]
    if missing:
        raise NotFoundError(f"shard {base}-{missing[0]:05d}-of-{total} of this V1 checkpoint is "
                            f"missing ({len(missing)} of {int(total)} missing)",
                            os.path.join(directory, base))
    return [os.path.join(directory, n) for n in shards]


def shard_files(path) -> tuple[str, list[str]] | None:
    """(name, files) of the V1 checkpoint ``path`` means, or None when it means no V1 files.

    ``path`` may be one file (``model.ckpt``), one shard (all its sibling shards are taken),
    the prefix of sharded files (``model.ckpt`` for ``model.ckpt-?????-of-00002``) or a glob
    pattern as TensorFlow names sharded V1 checkpoints (``model.ckpt-?????-of-00002``). The
    name is the pattern for sharded checkpoints, else the file. Files come in the order the
    directory lists them, which is the order TensorFlow's reader loads them in. Whether the
    files hold V1 data is not checked here.
    """
    path = os.fspath(path)
    directory, base = os.path.split(path)
    if not base or os.path.isdir(path):
        return None
    if os.path.isfile(path):
        m = _SHARD.match(base)
        if m is None:
            return path, [path]
        shards = _sharded(directory, m.group("base"), _listing(directory))
        pattern = os.path.join(directory, f"{m.group('base')}-?????-of-{m.group('total')}")
        return pattern, shards or [path]
    names = _listing(directory)
    if _GLOB_CHARS.search(base):
        matched = [os.path.join(directory, n) for n in names if fnmatch.fnmatchcase(n, base)
                   and os.path.isfile(os.path.join(directory, n))]
        return (path, matched) if matched else None
    shards = _sharded(directory, base, names)
    if not shards:
        return None
    total = _SHARD.match(os.path.basename(shards[0])).group("total")
    return os.path.join(directory, f"{base}-?????-of-{total}"), shards


def is_v1_prefix(path) -> bool:
    """Whether ``path`` names a V1 checkpoint on disk (a V1 file, its shards or a pattern);
    a V2 checkpoint of the same prefix (``path.index``) wins, as in TensorFlow."""
    path = os.fspath(path)
    if os.path.isfile(path + ".index"):
        return False
    try:
        found = shard_files(path)
    except (FormatError, NotFoundError):
        return True  # V1 shards, though not a usable set: opening it says what is wrong
    return found is not None and bool(found[1]) and is_v1_file(found[1][0])


# ---------------------------------------------------------------- TensorFlow's listing order

# TensorFlow's V1 reader keeps its tensors in a std::unordered_map<string, ...> and its debug
# listing (inspect_checkpoint without flags) walks that map, so the order of the lines is the
# order libstdc++ (the C++ library TensorFlow's Linux builds use) keeps the names in: a hash
# table with prime bucket counts whose nodes form one list, a new key going first in its
# bucket, or at the very front when its bucket was empty. Everything below reproduces it:
# std::hash<std::string> (a 64-bit Murmur hash with a fixed seed), the growth policy and the
# re-linking of nodes when the table grows.

_M64 = (1 << 64) - 1
_MUL = 0xC6A4A7935BD1E995
_SEED = 0xC70F6907
# Bucket counts libstdc++ grows through (its table of primes, up to 2**32).
_PRIMES = (
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
    97, 103, 109, 113, 127, 137, 139, 149, 157, 167, 179, 193, 199, 211, 227, 241, 257, 277,
    293, 313, 337, 359, 383, 409, 439, 467, 503, 541, 577, 619, 661, 709, 761, 823, 887, 953,
    1031, 1109, 1193, 1289, 1381, 1493, 1613, 1741, 1879, 2029, 2179, 2357, 2549, 2753, 2971,
    3209, 3469, 3739, 4027, 4349, 4703, 5087, 5503, 5953, 6427, 6949, 7517, 8123, 8783, 9497,
    10273, 11113, 12011, 12983, 14033, 15173, 16411, 17749, 19183, 20753, 22447, 24281, 26267,
    28411, 30727, 33223, 35933, 38873, 42043, 45481, 49201, 53201, 57557, 62233, 67307, 72817,
    78779, 85229, 92203, 99733, 107897, 116731, 126271, 136607, 147793, 159871, 172933,
    187091, 202409, 218971, 236897, 256279, 277261, 299951, 324503, 351061, 379787, 410857,
    444487, 480881, 520241, 562841, 608903, 658753, 712697, 771049, 834181, 902483, 976369,
    1056323, 1142821, 1236397, 1337629, 1447153, 1565659, 1693859, 1832561, 1982627, 2144977,
    2320627, 2510653, 2716249, 2938679, 3179303, 3439651, 3721303, 4026031, 4355707, 4712381,
    5098259, 5515729, 5967347, 6456007, 6984629, 7556579, 8175383, 8844859, 9569143,
    10352717, 11200489, 12117689, 13109983, 14183539, 15345007, 16601593, 17961079, 19431899,
    21023161, 22744717, 24607243, 26622317, 28802401, 31160981, 33712729, 36473443, 39460231,
    42691603, 46187573, 49969847, 54061849, 58488943, 63278561, 68460391, 74066549, 80131819,
    86693767, 93793069, 101473717, 109783337, 118773397, 128499677, 139022417, 150406843,
    162723577, 176048909, 190465427, 206062531, 222936881, 241193053, 260944219, 282312799,
    305431229, 330442829, 357502601, 386778277, 418451333, 452718089, 489790921, 529899637,
    573292817, 620239453, 671030513, 725980837, 785430967, 849749479, 919334987, 994618837,
    1076067617, 1164186217, 1259520799, 1362662261, 1474249943, 1594975441, 1725587117,
    1866894511, 2019773507, 2185171673, 2364114217, 2557710269, 2767159799, 2993761039,
    3238918481, 3504151727, 3791104843, 4101556399, 4294967291,
)
# Small requests take their bucket count from this table instead of the primes.
_SMALL_BUCKETS = (2, 2, 2, 3, 5, 5, 7, 7, 11, 11, 11, 11, 13, 13)


def _shift_mix(v: int) -> int:
    return v ^ (v >> 47)


def _string_hash(data: bytes) -> int:
    """std::hash<std::string> of libstdc++ on a 64-bit machine."""
    n = len(data)
    h = _SEED ^ ((n * _MUL) & _M64)
    whole = n - n % 8
    for i in range(0, whole, 8):
        word = int.from_bytes(data[i:i + 8], "little")
        h = ((h ^ ((_shift_mix((word * _MUL) & _M64) * _MUL) & _M64)) * _MUL) & _M64
    if n % 8:
        h = ((h ^ int.from_bytes(data[whole:], "little")) * _MUL) & _M64
    return _shift_mix((_shift_mix(h) * _MUL) & _M64)


class _Growth:
    """When the table grows, and to how many buckets (max load factor 1, doubling)."""

    def __init__(self):
        self.next_resize = 0

    def _buckets_for(self, n: int) -> int:
        if n < len(_SMALL_BUCKETS):
            self.next_resize = _SMALL_BUCKETS[n]
            return _SMALL_BUCKETS[n]
        i = bisect.bisect_left(_PRIMES, n, 6)
        if i >= len(_PRIMES) - 1:
            self.next_resize = 1 << 64
            return _PRIMES[-1]
        self.next_resize = _PRIMES[i]
        return _PRIMES[i]

    def grow_to(self, buckets: int, elements: int) -> int | None:
        """The new bucket count before inserting one more element, or None."""
        if elements + 1 <= self.next_resize:
            return None
        wanted = max(elements + 1, 0 if self.next_resize else 11)
        if wanted >= buckets:
            return self._buckets_for(max(wanted + 1, buckets * 2))
        self.next_resize = buckets
        return None


def unordered_map_order(keys) -> list:
    """The order libstdc++'s unordered_map<string, T> iterates ``keys`` (bytes) in after
    inserting them in this order into an empty map (repeated keys are ignored)."""
    begin = object()  # the list head before the first node
    nxt: dict = {begin: None}
    hashes: dict[bytes, int] = {}
    heads: dict[int, object] = {}  # bucket -> the node before its first node
    buckets = 1
    growth = _Growth()
    for key in keys:
        if key in hashes:
            continue
        h = hashes[key] = _string_hash(key)
        grown = growth.grow_to(buckets, len(hashes) - 1)
        if grown is not None:
            buckets = grown
            node, nxt[begin], heads = nxt[begin], None, {}
            front_bucket = None
            while node is not None:
                after = nxt[node]
                b = hashes[node] % buckets
                if b not in heads:
                    nxt[node], nxt[begin] = nxt[begin], node
                    heads[b] = begin
                    if nxt[node] is not None:
                        heads[front_bucket] = node
                    front_bucket = b
                else:
                    before = heads[b]
                    nxt[node], nxt[before] = nxt[before], node
                node = after
        b = h % buckets
        if b in heads:
            before = heads[b]
            nxt[key], nxt[before] = nxt[before], key
        else:
            nxt[key], nxt[begin] = nxt[begin], key
            if nxt[key] is not None:
                heads[hashes[nxt[key]] % buckets] = key
            heads[b] = begin
    out = []
    node = nxt[begin]
    while node is not None:
        out.append(node)
        node = nxt[node]
    return out


# ---------------------------------------------------------------- the reader

@dataclass(frozen=True)
class V1Entry:
    """One tensor of a V1 checkpoint: its full shape and type, and where its slices are."""
    key: str
    dtype_enum: int
    shape: tuple[int, ...]
    # (slice, shard number) of every stored slice; one slice covering all for a whole tensor
    parts: tuple[tuple[TensorSlice, int], ...] = ()
    raw_key: bytes = field(default=b"", repr=False)
    crc32c = None  # V1 keeps no checksum per tensor (the table's blocks have theirs)

    @property
    def num_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def slices(self) -> tuple[TensorSlice, ...]:
        """The slices of a partitioned tensor; () for a tensor stored whole."""
        if len(self.parts) == 1 and all(e.full for e in self.parts[0][0].extents):
            return ()
        return tuple(s for s, _ in self.parts)

    @property
    def partitioned(self) -> bool:
        return bool(self.slices)


@dataclass(frozen=True)
class _Record:
    """One stored slice: the table key of its record and the shard it is in."""
    key: str
    tensor_slice: TensorSlice
    shard: int
    raw_key: bytes


class V1CheckpointReader(CheckpointReader):
    """Read-only view of a V1 checkpoint; the interface of the V2 ``CheckpointReader``.

    ``path``: the file, one of its shards, the prefix of its shards or TensorFlow's pattern
    for them (``model.ckpt-?????-of-00002``). ``verify``: check the crc32c of the table blocks
    a read touches (DataLossError when one does not match); None follows ``verification()``.

    ``array()`` has no zero-copy view to give (the values are stored as protocol buffers)
    and raises UnsupportedError, as the V2 reader does for partitioned variables; ``read()``
    returns every tensor.
    """

    format = "v1"

    def __init__(self, path: str | os.PathLike, verify: bool | None = None):
        # The V2 reader's constructor reads a .index; none of its state applies here.
        path = os.fspath(path)
        found = shard_files(path)
        if found is None or not found[1]:
            raise NotFoundError("no V1 checkpoint file here", path)
        self.prefix, self._load_order = found
        self.verifies = verifies_by_default() if verify is None else bool(verify)
        self._paths = sorted(self._load_order)
        self.index_path = self._paths[0]
        self._lock = threading.Lock()  # GUI workers read from several threads
        self._closed = False
        self._tables: list[_ShardTable] = []
        self._verdicts: dict[tuple[int, int], bool] = {}  # (shard, block) -> crc matches
        self._checked = self._checked_bytes = self._reused = 0
        self._metas: list[list[tuple[str, int, tuple[int, ...], list[TensorSlice]]]] = []
        try:
            producer = min_consumer = None
            bad: set[int] = set()
            for shard, path_i in enumerate(self._paths):
                table = _ShardTable(path_i)
                self._tables.append(table)
                versions, tensors = self._read_meta(shard, table)
                producer = versions.producer if producer is None else producer
                min_consumer = (versions.min_consumer if min_consumer is None
                                else max(min_consumer, versions.min_consumer))
                bad.update(versions.bad_consumers)
                self._metas.append(tensors)
        except BaseException:
            self.close()
            raise
        # TensorFlow reads checkpoints of format version 1, and refuses files whose writer
        # asked for a newer reader or listed version 1 as one that must not read them.
        if (min_consumer and min_consumer > 1) or 1 in bad:
            self.close()
            raise UnsupportedError(f"this V1 checkpoint is for readers of checkpoint version "
                                   f"{max(min_consumer or 0, 2)} or newer (TensorFlow's V1 "
                                   f"reader, like this one, is version 1)", self.prefix)
        self.header = Header(num_shards=len(self._paths), endianness="little",
                             producer=producer or 0, min_consumer=min_consumer or 0,
                             bad_consumers=tuple(sorted(bad)))
        self._build_entries()

    # ---------------------------------------------------------------- opening

    def _read_meta(self, shard: int, table: _ShardTable):
        path = table.path
        found = table.get(META_KEY) if table.blocks else None
        meta = _parse_meta(found[0], path) if found is not None else None
        if meta is None:
            raise FormatError("not a V1 checkpoint file: its table has no SavedTensorSlices "
                              "meta record under the empty key", path)
        block = found[1]
        stored, computed = table.block_crc(block)
        self._verdicts[(shard, block)] = stored == computed
        self._checked += 1
        self._checked_bytes += table.blocks[block][2]
        if stored != computed and self.verifies:
            raise DataLossError(
                f"the table block holding this V1 checkpoint's list of tensors is damaged: "
                f"its crc32c does not match (stored {stored:#010x}, computed "
                f"{computed:#010x}); open it with verify=False (--no-verify) to read it anyway",
                path, table.blocks[block][1], stored=stored, computed=computed)
        tensors = []
        for t in meta.tensor:
            what = f"tensor {t.name!r}"
            if t.shape.unknown_rank or any(d.size < 0 for d in t.shape.dim):
                raise FormatError(f"{what} has an unknown shape in the meta record", path)
            shape = tuple(d.size for d in t.shape.dim)
            check_shape(shape, what, path)
            slices = []
            for proto in t.slice:
                s = TensorSlice.from_proto(proto)
                if len(s.extents) != len(shape) or any(
                        not e.full and (e.start < 0 or e.length < 0 or e.start + e.length > dim)
                        for e, dim in zip(s.extents, shape)):
                    raise FormatError(f"{what} has a slice {s} outside its shape {list(shape)}",
                                      path)
                # TensorFlow writes a dimension taken whole as start 0, length -1.
                s = TensorSlice(tuple(Extent(0, FULL) if e.full else e for e in s.extents))
                slices.append(s)
            if slices:  # TensorFlow registers a tensor with its first slice: none, no tensor
                tensors.append((t.name, int(t.type), shape, slices))
        return meta.versions, tensors

    def _build_entries(self) -> None:
        shard_of = {p: i for i, p in enumerate(self._paths)}
        found: dict[str, tuple[int, tuple[int, ...], list]] = {}
        for path in self._paths:
            shard = shard_of[path]
            for name, dtype_enum, shape, slices in self._metas[shard]:
                known = found.get(name)
                if known is None:
                    known = found[name] = (dtype_enum, shape, [])
                elif known[:2] != (dtype_enum, shape):
                    raise FormatError(
                        f"tensor {name!r} is {_dtypes.name(dtype_enum)} {list(shape)} in one "
                        f"shard and {_dtypes.name(known[0])} {list(known[1])} in another", path)
                seen = {s for s, _ in known[2]}
                for s in slices:
                    if s in seen:
                        raise FormatError(f"tensor {name!r} stores slice {s} twice", path)
                    seen.add(s)
                    known[2].append((s, shard))
        self.entries: dict[str, V1Entry] = {}
        self._raw: dict[bytes, _Record] = {}
        for name, (dtype_enum, shape, parts) in found.items():
            raw = name.encode("utf-8", errors="surrogateescape")
            self.entries[name] = V1Entry(name, dtype_enum, shape, tuple(parts), raw)
            for s, shard in parts:
                key = encode_slice_key(raw, s)
                self._raw[key] = _Record(name, s, shard, key)
        self._keys = sorted(self.entries)

    # ---------------------------------------------------------------- metadata

    def shard_paths(self) -> list[str]:
        return list(self._paths)

    def nbytes(self, name: str) -> int:
        """Bytes of the tensor's values: elements x itemsize, or for strings the size of
        the records that hold them."""
        e = self.entry(name)
        item = _dtypes.itemsize(e.dtype_enum)
        if item is not None:
            return e.num_elements * item
        total = 0
        for s, shard in e.parts:
            value, _ = self._record(e, s, shard)
            total += len(value)
        return total

    def debug_string(self, shard_order=None) -> str:
        """What TensorFlow's reader lists for this checkpoint (inspect_checkpoint without
        flags): ``name (DT_TYPE) [d0,d1]``, ``, N slices`` for a partitioned tensor, one line
        each, in the order TensorFlow's hash map holds them.

        That order depends on the order the shards were loaded in: TensorFlow takes them as
        the directory lists them, and so does this by default; ``shard_order`` (the shard
        paths, or their file names) gives another.
        """
        order = self._load_order if shard_order is None else list(shard_order)
        by_name = {os.path.basename(p): i for i, p in enumerate(self._paths)}
        names = []
        for p in order:
            shard = by_name.get(os.path.basename(os.fspath(p)))
            if shard is None:
                raise NotFoundError(f"{p} is not a shard of this checkpoint", self.prefix)
            names.extend(n.encode("utf-8", errors="surrogateescape")
                         for n, _, _, _ in self._metas[shard])
        from tensorloupe.protos import types_pb2
        lines = []
        for raw in unordered_map_order(names):
            e = self.entries[raw.decode("utf-8", errors="surrogateescape")]
            try:
                type_name = types_pb2.DataType.Name(e.dtype_enum)
            except ValueError:
                type_name = ""
            shape = "[" + ",".join(str(d) for d in e.shape) + "]"
            count = len(e.parts)
            lines.append(f"{e.key} ({type_name}) {shape}"
                         + (f", {count} slices" if count > 1 else "") + "\n")
        return "".join(lines)

    # ---------------------------------------------------------------- data

    def _table(self, shard: int) -> _ShardTable:
        if self._closed:
            raise FormatError("the checkpoint reader is closed", self.prefix)
        return self._tables[shard]

    def _check_block(self, shard: int, block: int, label: str) -> None:
        """DataLossError unless table block ``block`` of ``shard`` matches its crc32c."""
        verdict = self._verdicts.get((shard, block))
        table = self._tables[shard]
        if verdict is None:
            stored, computed = table.block_crc(block)
            verdict = self._verdicts[(shard, block)] = stored == computed
            self._checked += 1
            self._checked_bytes += table.blocks[block][2]
        else:
            self._reused += 1
        if not verdict:
            stored, computed = table.block_crc(block)
            _, off, size = table.blocks[block]
            raise DataLossError.mismatch(table.path, label, stored, computed, off, size)

    def _record(self, entry: V1Entry, s: TensorSlice, shard: int,
                verify: bool = False) -> tuple[bytes, int]:
        """(serialized SavedTensorSlices, block) of one slice; its block checked if asked."""
        label = entry.key if not entry.partitioned else f"{entry.key} (slice {s})"
        with self._lock:
            table = self._table(shard)
            found = table.get(encode_slice_key(entry.raw_key, s))
            if found is None:
                raise FormatError(f"{'slice ' + str(s) + ' of ' if entry.partitioned else ''}"
                                  f"tensor {entry.key!r} is listed in the meta record but has "
                                  f"no record of its own", table.path)
            if verify:
                self._check_block(shard, found[1], label)
        return found

    def _values(self, entry: V1Entry, s: TensorSlice, shard: int, verify: bool):
        """One slice's values as a numpy array of the slice's shape."""
        import numpy as np
        from google.protobuf.message import DecodeError
        value, _ = self._record(entry, s, shard, verify)
        path = self._paths[shard]
        try:
            sts = _pb().SavedTensorSlices.FromString(value)
        except DecodeError:
            raise FormatError(f"the record of tensor {entry.key!r} (slice {s}) is not "
                              f"parseable", path) from None
        shape = s.shape(entry.shape)
        n = 1
        for d in shape:
            n *= d
        base = _dtypes.base(entry.dtype_enum)
        field_name = _FIELDS[base][0]
        data = sts.data.data
        stored = getattr(data, field_name)
        count = len(stored) // 2 if field_name in ("scomplex_val", "dcomplex_val") else len(stored)
        if count != n or (field_name in ("scomplex_val", "dcomplex_val") and len(stored) % 2):
            raise FormatError(f"the record of tensor {entry.key!r} (slice {s}) holds {count} "
                              f"values for its {n} elements", path)
        dtype = _dtypes.to_numpy(base)
        if base == DT_STRING:
            out = np.empty(n, dtype=object)
            for i, v in enumerate(stored):
                out[i] = bytes(v)
        elif field_name in ("scomplex_val", "dcomplex_val"):
            parts = np.array(stored, dtype=np.float32 if base == 8 else np.float64)
            out = (parts[0::2] + 1j * parts[1::2]).astype(dtype)
        elif field_name == "half_val":
            out = np.array(stored, dtype=np.int64).astype(np.uint16).view(dtype)
        elif field_name == "int_val":
            out = np.array(stored, dtype=np.int64).astype(dtype)
        else:
            out = np.array(stored, dtype=dtype)
        return out.reshape(shape)

    def _check_room(self, entry: V1Entry) -> None:
        """FormatError when the files cannot hold what the meta says is stored (checked before
        allocating anything of that size)."""
        per_value = _FIELDS[_dtypes.base(entry.dtype_enum)][1]
        claimed: dict[int, int] = {}
        for s, shard in entry.parts:
            n = 1
            for d in s.shape(entry.shape):
                n *= d
            claimed[shard] = claimed.get(shard, 0) + n
        for shard, n in claimed.items():
            size = self._tables[shard].size
            if n * per_value > size:
                raise FormatError(f"tensor {entry.key!r}: {n} values cannot fit in this "
                                  f"{size}-byte file", self._paths[shard])

    def read(self, name: str, verify: bool | None = None):
        """The tensor as a new numpy array (strings: object array of bytes), partitioned
        tensors assembled from their slices. The crc32c of each table block read is checked
        unless the reader, or this call, says ``verify=False``."""
        import numpy as np
        verify = self.verifies if verify is None else verify
        entry = self.entry(name)
        base = _dtypes.base(entry.dtype_enum)
        if base not in _FIELDS:
            raise UnsupportedError(f"tensor {name!r} has type {_dtypes.name(entry.dtype_enum)}, "
                                   f"which V1 checkpoints do not store")
        dtype = _dtypes.to_numpy(base)
        check_numpy_shape(entry.shape, _dtypes.itemsize(base), f"tensor {name!r}", self.prefix)
        self._check_room(entry)
        if not entry.partitioned:
            s, shard = entry.parts[0]
            return self._values(entry, s, shard, verify)
        covered = 0
        for s, _ in entry.parts:
            n = 1
            for d in s.shape(entry.shape):
                n *= d
            covered += n
        if covered != entry.num_elements:
            raise FormatError(f"the slices of partitioned tensor {name!r} "
                              f"{'overlap' if covered > entry.num_elements else 'do not cover'}"
                              f" its shape {list(entry.shape)}", self.prefix)
        out = (np.full(entry.shape, b"", dtype=object) if base == DT_STRING
               else np.zeros(entry.shape, dtype))
        filled = np.zeros(entry.shape, dtype=bool)
        for s, shard in entry.parts:
            index = s.index(entry.shape)
            out[index] = self._values(entry, s, shard, verify)
            filled[index] = True
        if not filled.all():
            raise FormatError(f"the slices of partitioned tensor {name!r} overlap and leave "
                              f"part of its shape {list(entry.shape)} uncovered", self.prefix)
        return out

    def array(self, name: str, verify: bool | None = None):
        """No zero-copy view exists: V1 stores values as protocol buffers. Use ``read()``."""
        self.entry(name)
        raise UnsupportedError(f"tensor {name!r} is in a V1 checkpoint, whose values are "
                               f"stored as protocol buffers with no mappable view; use read()")

    # ---------------------------------------------------------------- checksums

    def _blocks_of(self, entry: V1Entry) -> list[tuple[int, int | None]]:
        out = []
        for s, shard in entry.parts:
            out.append((shard, self._table(shard).block_of(encode_slice_key(entry.raw_key, s))))
        return out

    def check(self, name: str) -> None:
        """Raise DataLossError unless every table block holding the tensor matches its
        crc32c (checked once per block, then remembered)."""
        entry = self.entry(name)
        for s, shard in entry.parts:
            self._record(entry, s, shard, verify=True)

    def checksum_verdict(self, name: str) -> bool | None:
        """Whether the blocks holding the tensor match their crc32c, when already known."""
        verdict = True
        for shard, block in self._blocks_of(self.entry(name)):
            known = self._verdicts.get((shard, block)) if block is not None else None
            if known is None:
                return None
            verdict = verdict and known
        return verdict

    def record_checksum(self, name: str, computed: int):
        raise UnsupportedError(f"tensor {name!r}: V1 checkpoints keep no checksum per tensor, "
                               f"only per table block")

    @property
    def stats(self) -> ChecksumStats:
        """Blocks checksummed (and their bytes), reads that reused a verdict, bad blocks."""
        with self._lock:
            return ChecksumStats(self._checked, self._checked_bytes, self._reused,
                                 sum(1 for v in self._verdicts.values() if not v))

    def verify(self, progress=None) -> list[Problem]:
        """Check the crc32c of every data block of every shard and that every slice the meta
        lists has its record; return what is wrong (empty when all is well).

        ``progress(done_bytes, total_bytes)`` is called after each block when given.
        """
        problems: list[Problem] = []
        total = sum(b[2] for t in self._tables for b in t.blocks)
        done = 0
        for shard, table in enumerate(self._tables):
            for block, (_, off, size) in enumerate(table.blocks):
                with self._lock:
                    self._table(shard)
                    known = self._verdicts.get((shard, block))
                    if known is None:
                        stored, computed = table.block_crc(block)
                        known = self._verdicts[(shard, block)] = stored == computed
                        self._checked += 1
                        self._checked_bytes += size
                    else:
                        self._reused += 1
                if not known:
                    stored, computed = table.block_crc(block)
                    problems.append(Problem(
                        self._block_label(table, block),
                        f"crc32c mismatch of table block: stored {stored:#010x}, data has "
                        f"{computed:#010x} ({table.path} bytes {off}..{off + size})"))
                done += size
                if progress is not None:
                    progress(done, total)
        for entry in self.entries.values():
            for s, shard in entry.parts:
                try:
                    self._record(entry, s, shard)
                except FormatError as exc:
                    label = entry.key if not entry.partitioned else f"{entry.key} (slice {s})"
                    where = f" ({exc.path}, byte {exc.offset})" if exc.offset is not None else ""
                    problems.append(Problem(label, exc.message + where))
        return problems

    def _block_label(self, table: _ShardTable, block: int) -> str:
        """The tensors (slices) whose records a block holds, for a problem report."""
        try:
            with self._lock:
                keys = [k for k, _ in table.block_entries(block)]
        except FormatError:
            return f"table block {block} of {os.path.basename(table.path)}"
        names = []
        for k in keys:
            if k == META_KEY:
                names.append("(list of tensors)")
                continue
            decoded = decode_slice_key(k)
            if decoded is None:
                names.append(repr(k))
                continue
            raw, s = decoded
            entry = self.entries.get(raw.decode("utf-8", errors="surrogateescape"))
            names.append(entry.key if entry is not None and not entry.partitioned
                         else f"{raw.decode('utf-8', errors='replace')} (slice {s})")
        return ", ".join(names) or f"table block {block} of {os.path.basename(table.path)}"

    # ---------------------------------------------------------------- lifetime

    def close(self) -> None:
        """Release the memory maps; reads afterwards raise FormatError."""
        self._closed = True
        for table in getattr(self, "_tables", []):
            table.close()

    def __repr__(self) -> str:
        return (f"V1CheckpointReader({self.prefix!r}, {len(self._keys)} tensors, "
                f"{len(self._paths)} file(s))")


def open_v1(path, verify: bool | None = None) -> V1CheckpointReader | None:
    """A reader for the V1 checkpoint ``path`` names, or None when it names none."""
    if not is_v1_prefix(path):
        return None
    return V1CheckpointReader(path, verify=verify)


__all__ = ["V1CheckpointReader", "V1Entry", "is_v1_file", "is_v1_prefix", "open_v1", "read_meta",
           "shard_files", "unordered_map_order"]
