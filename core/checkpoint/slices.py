"""Slices of partitioned variables: their keys in the index and their text form.

A partitioned variable's own entry lists its slices (TensorSliceProto) and holds no
data. Each slice is stored under a binary key built with TensorFlow's "ordered code"
(tensorflow/core/util/saved_tensor_slice_util.cc, lib/strings/ordered_code.cc):

    num(0) string(name) num(rank) then per dimension signed(start) signed(length)

where a full dimension is start 0, length -1. ``num`` is a length byte followed by the
big-endian value without leading zeros; ``string`` escapes 0x00 as 00 ff and 0xff as
ff 00 and ends with 00 01; ``signed`` puts the sign and the byte count in the leading
bits so that encodings sort like the numbers.

The text form (``TensorSlice::DebugString``) is ``start,length`` per dimension joined by
``:``, with ``-`` for a full dimension.
"""
from __future__ import annotations

from dataclasses import dataclass

FULL = -1  # length of a dimension that the slice takes whole


@dataclass(frozen=True)
class Extent:
    start: int
    length: int  # FULL (-1) when the slice takes the whole dimension

    @property
    def full(self) -> bool:
        return self.length == FULL


@dataclass(frozen=True)
class TensorSlice:
    extents: tuple[Extent, ...]

    @classmethod
    def from_proto(cls, proto) -> "TensorSlice":
        out = []
        for e in proto.extent:
            if e.WhichOneof("has_length_hack") is None:
                out.append(Extent(0, FULL))
            else:
                out.append(Extent(int(e.start), int(e.length)))
        return cls(tuple(out))

    @classmethod
    def parse(cls, text: str) -> "TensorSlice":
        """Parse ``"0,2:-"`` (the text form); raises ValueError when malformed."""
        out = []
        for part in text.split(":") if text else []:
            if part == "-":
                out.append(Extent(0, FULL))
            else:
                start, length = part.split(",")
                out.append(Extent(int(start), int(length)))
        return cls(tuple(out))

    def __str__(self) -> str:
        return ":".join("-" if e.full else f"{e.start},{e.length}" for e in self.extents)

    def index(self, full_shape) -> tuple[slice, ...]:
        """numpy index of this slice inside the full tensor."""
        return tuple(slice(0, dim) if e.full else slice(e.start, e.start + e.length)
                     for e, dim in zip(self.extents, full_shape))

    def shape(self, full_shape) -> tuple[int, ...]:
        return tuple(dim if e.full else e.length for e, dim in zip(self.extents, full_shape))


# ---------------------------------------------------------------- ordered code

def _num(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
    return bytes((len(body),)) + body


def _escape(text: bytes) -> bytes:
    out = bytearray()
    for byte in text:
        if byte == 0x00:
            out += b"\x00\xff"
        elif byte == 0xFF:
            out += b"\xff\x00"
        else:
            out.append(byte)
    return bytes(out)


def _signed_length(value: int) -> int:
    magnitude = ~value if value < 0 else value
    # n bytes hold numbers in [-2**(7n-1), 2**(7n-1)).
    return min(10, (magnitude.bit_length() + 1 + 6) // 7)


def _header(n: int) -> int:
    """Sign-and-length bits of an n-byte signed encoding, as an n-byte integer."""
    bits16 = ((1 << n) - 1) << (16 - n)
    return bits16 >> 8 if n == 1 else bits16 << (8 * (n - 2))


def _signed(value: int) -> bytes:
    n = _signed_length(value)
    twos = value & ((1 << (8 * n)) - 1)
    return (twos ^ _header(n)).to_bytes(n, "big")


def encode_slice_key(name: str | bytes, tensor_slice: TensorSlice) -> bytes:
    """The index key under which one slice of ``name`` is stored."""
    if isinstance(name, str):
        name = name.encode()
    parts = [_num(0), _escape(name) + b"\x00\x01", _num(len(tensor_slice.extents))]
    for e in tensor_slice.extents:
        parts.append(_signed(e.start))
        parts.append(_signed(e.length))
    return b"".join(parts)


def decode_slice_key(key: bytes) -> tuple[bytes, TensorSlice] | None:
    """(name, slice) of a slice key, or None when ``key`` is not one."""
    pos = 0

    def read_num() -> int:
        nonlocal pos
        if pos >= len(key):
            raise ValueError
        n = key[pos]
        if n > 8 or pos + 1 + n > len(key):
            raise ValueError
        value = int.from_bytes(key[pos + 1:pos + 1 + n], "big")
        pos += 1 + n
        return value

    def read_string() -> bytes:
        nonlocal pos
        out = bytearray()
        while pos + 1 < len(key):
            byte = key[pos]
            if byte == 0x00:
                nxt = key[pos + 1]
                pos += 2
                if nxt == 0x01:
                    return bytes(out)
                if nxt != 0xFF:
                    raise ValueError
                out.append(0)
            elif byte == 0xFF:
                if key[pos + 1] != 0x00:
                    raise ValueError
                out.append(0xFF)
                pos += 2
            else:
                out.append(byte)
                pos += 1
        raise ValueError

    def read_signed() -> int:
        nonlocal pos
        if pos >= len(key):
            raise ValueError
        first16 = key[pos] << 8 | (key[pos + 1] if pos + 1 < len(key) else 0)
        negative = not key[pos] & 0x80
        if negative:
            first16 ^= 0xFFFF
        n = 0
        while n < 16 and first16 & (0x8000 >> n):
            n += 1
        if n == 0 or n > 10 or pos + n > len(key):
            raise ValueError
        value = int.from_bytes(key[pos:pos + n], "big") ^ _header(n)
        pos += n
        return value - (1 << (8 * n)) if negative else value

    try:
        if read_num() != 0:
            return None
        name = read_string()
        rank = read_num()
        extents = []
        for _ in range(rank):
            start = read_signed()
            length = read_signed()
            extents.append(Extent(start, length))
        if pos != len(key):
            return None
    except ValueError:
        return None
    return name, TensorSlice(tuple(extents))
