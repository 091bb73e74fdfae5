"""Reader for the LevelDB-style table that is a checkpoint's ``.index`` file.

Layout (tensorflow/core/lib/io/format.h, table_builder.cc): data blocks, a metaindex
block, an index block, then a 48-byte footer holding the metaindex and index block
handles (varint64 offset and size each) and an 8-byte magic number. Every block is
followed by a 5-byte trailer: a compression byte (0 none, 1 Snappy) and the masked
crc32c of the block contents plus that byte.

Inside a block, entries are ``varint32 shared, varint32 non_shared, varint32 value_len,
key_delta, value``; keys are prefix-compressed against the previous key, restarting
from an empty prefix at each offset of the restart array at the end of the block
(``uint32 offsets..., uint32 count``). The index block maps a separator key to the
handle of each data block.

Every length read from the file is checked against the bytes that are really there
before it is used, so a damaged file produces a FormatError naming the byte offset,
never a huge allocation or a crash.
"""
from __future__ import annotations

import os
import struct

import google_crc32c

from ..errors import ChecksumError, FormatError, NotFoundError

FOOTER_SIZE = 48
MAGIC = 0xDB4775248B80FB57
BLOCK_TRAILER_SIZE = 5
NO_COMPRESSION = 0
SNAPPY_COMPRESSION = 1
_MASK_DELTA = 0xA282EAD8
# Snappy cannot expand data by more than this factor (a 64-byte copy costs 3 bytes).
_SNAPPY_MAX_RATIO = 32


def mask_crc(crc: int) -> int:
    """LevelDB's masked crc32c, as stored in block trailers and bundle entries."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


# crc32c of a concatenation from the crcs of its pieces (zlib's crc32_combine, with the
# Castagnoli polynomial): pieces of one tensor checksummed on different threads are joined
# without reading their bytes again. Arithmetic is on polynomials over GF(2) modulo P,
# bit-reflected as the crc itself is.
_CRC32C_POLY = 0x82F63B78


def _multmodp(a: int, b: int) -> int:
    """a(x) * b(x) modulo P(x)."""
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ _CRC32C_POLY if b & 1 else b >> 1


def _x2n_table() -> list[int]:
    table = [1 << 30]  # x^1
    for _ in range(31):
        table.append(_multmodp(table[-1], table[-1]))  # x^(2^(n+1)) = (x^(2^n))^2
    return table


_X2N = _x2n_table()


def crc32c_combine(crc_a: int, crc_b: int, length_b: int) -> int:
    """crc32c of A + B from crc32c(A), crc32c(B) and len(B) (in bytes)."""
    p = 1 << 31  # x^0
    n, k = length_b, 3  # x^(8 * length_b): 2^3 per byte
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return _multmodp(p, crc_a) ^ crc_b


def read_varint(buf, pos: int, limit: int, path, base: int = 0, what: str = "varint",
                max_bytes: int = 10) -> tuple[int, int]:
    """Decode a little-endian base-128 varint in ``buf[pos:limit]``; return (value, new pos).

    ``base`` is the file offset of ``buf[0]``, so errors name the byte in the file.
    """
    result = 0
    shift = 0
    start = pos
    while True:
        if pos >= limit or pos - start >= max_bytes:
            raise FormatError(f"corrupt table: truncated or overlong {what}", path, base + start)
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


class Table:
    """All key/value pairs of a table file, in key order.

    The whole file is read once (index files are small: about 60 bytes per tensor) and
    every block is checked: handles in bounds, trailer crc, restart array, key order.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        try:
            with open(self.path, "rb") as f:
                self._data = f.read()
        except FileNotFoundError:
            raise NotFoundError("no such file", self.path) from None
        except IsADirectoryError:
            raise NotFoundError("is a directory, not a checkpoint index file", self.path) from None
        self.size = len(self._data)
        self.items: list[tuple[bytes, bytes]] = []
        self._parse()

    # -- structure

    def _parse(self) -> None:
        data, path = self._data, self.path
        if self.size < FOOTER_SIZE:
            raise FormatError(
                f"not a checkpoint index: the file is {self.size} bytes, shorter than the "
                f"{FOOTER_SIZE}-byte table footer (truncated?)", path, 0)
        footer = self.size - FOOTER_SIZE
        lo, hi = struct.unpack_from("<II", data, self.size - 8)
        if (hi << 32) | lo != MAGIC:
            raise FormatError("not a checkpoint index: bad table magic number (truncated or not "
                              "a TensorFlow table)", path, self.size - 8)
        pos = footer
        # The metaindex handle is read to validate the footer; the bundle never uses it.
        _meta_off, pos = read_varint(data, pos, self.size - 8, path, what="metaindex offset")
        _meta_size, pos = read_varint(data, pos, self.size - 8, path, what="metaindex size")
        index_off, pos = read_varint(data, pos, self.size - 8, path, what="index offset")
        index_size, pos = read_varint(data, pos, self.size - 8, path, what="index size")
        index_block = self._block(index_off, index_size, footer, "index block")
        previous = None
        for handle_key, handle in self._entries(index_block, index_off):
            hpos = 0
            off, hpos = read_varint(handle, hpos, len(handle), path, what="block handle")
            size, hpos = read_varint(handle, hpos, len(handle), path, what="block handle")
            block = self._block(off, size, index_off, "data block")
            for key, value in self._entries(block, off):
                if previous is not None and key <= previous:
                    raise FormatError("corrupt table: keys out of order", path, off)
                previous = key
                self.items.append((key, value))
            if previous is not None and previous > handle_key:
                raise FormatError("corrupt table: a data block's keys pass its index separator",
                                  path, off)

    def _block(self, offset: int, size: int, limit: int, what: str) -> bytes:
        """Contents of the block at ``offset`` (trailer checked, decompressed)."""
        path = self.path
        end = offset + size + BLOCK_TRAILER_SIZE
        if offset < 0 or end > limit:
            raise FormatError(
                f"corrupt table: {what} handle (offset {offset}, size {size}) points past the "
                f"end of its region ({limit} bytes; truncated?)", path, offset)
        raw = self._data[offset:offset + size]
        kind = self._data[offset + size]
        stored = struct.unpack_from("<I", self._data, offset + size + 1)[0]
        actual = google_crc32c.extend(google_crc32c.value(raw), bytes((kind,)))
        if unmask_crc(stored) != actual:
            raise ChecksumError(f"corrupt table: {what} checksum mismatch", path, offset + size + 1)
        if kind == NO_COMPRESSION:
            return raw
        if kind == SNAPPY_COMPRESSION:
            return self._snappy(raw, offset, what)
        raise FormatError(f"corrupt table: unknown compression type {kind} of {what}",
                          path, offset + size)

    def _snappy(self, raw: bytes, offset: int, what: str) -> bytes:
        length, _ = read_varint(raw, 0, len(raw), self.path, offset, "Snappy length")
        if length > _SNAPPY_MAX_RATIO * len(raw) + 64:
            raise FormatError(f"corrupt table: Snappy {what} claims {length} bytes from "
                              f"{len(raw)}", self.path, offset)
        import cramjam
        try:
            out = bytes(cramjam.snappy.decompress_raw(raw))
        except Exception as exc:  # cramjam raises its own DecompressionError
            raise FormatError(f"corrupt table: bad Snappy {what} ({exc})", self.path,
                              offset) from None
        if len(out) != length:
            raise FormatError(f"corrupt table: Snappy {what} size mismatch", self.path, offset)
        return out

    def _entries(self, block: bytes, base: int):
        """Yield (key, value) of one block; ``base`` is the block's file offset."""
        path = self.path
        n = len(block)
        if n < 4:
            raise FormatError("corrupt table: block too small for its restart count", path, base)
        num_restarts = struct.unpack_from("<I", block, n - 4)[0]
        restarts_at = n - 4 - 4 * num_restarts
        if num_restarts == 0 or restarts_at < 0:
            raise FormatError(f"corrupt table: bad restart count {num_restarts}", path,
                              base + n - 4)
        restarts = struct.unpack_from(f"<{num_restarts}I", block, restarts_at)
        pending = iter(restarts)
        next_restart = next(pending)
        pos = 0
        key = b""
        out = []
        while pos < restarts_at:
            entry_at = pos
            shared, pos = read_varint(block, pos, restarts_at, path, base, "key length", 5)
            unshared, pos = read_varint(block, pos, restarts_at, path, base, "key length", 5)
            value_len, pos = read_varint(block, pos, restarts_at, path, base, "value length", 5)
            if shared > len(key) or pos + unshared + value_len > restarts_at:
                raise FormatError("corrupt table: entry lengths run past the block", path,
                                  base + entry_at)
            if entry_at == next_restart:
                if shared:
                    raise FormatError("corrupt table: restart entry shares a key prefix", path,
                                      base + entry_at)
                next_restart = next(pending, None)
            elif next_restart is not None and entry_at > next_restart:
                raise FormatError("corrupt table: restart offset is not an entry", path,
                                  base + restarts_at)
            key = key[:shared] + block[pos:pos + unshared]
            pos += unshared
            out.append((key, block[pos:pos + value_len]))
            pos += value_len
        if next_restart is not None and not (next_restart == 0 and not out):
            raise FormatError("corrupt table: restart offset is not an entry", path,
                              base + restarts_at)
        return out
