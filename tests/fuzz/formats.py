"""Read and write the files TensorFlow writes, for tests that edit them.

- a checkpoint ``.index`` (a LevelDB-style table of BundleEntryProtos): :func:`read_table`,
  :func:`write_table`, :func:`read_index`, :func:`write_index`;
- crc32c as TensorFlow stores it (masked): :func:`masked_crc`;
- protobuf messages serialized with a fixed map order (``deterministic=True``), so that
  the same edit always gives the same bytes.

The table writer keeps one data block with every key a restart point (no prefix
compression): valid for TensorFlow's reader and ours, and simple enough to be obviously
right. The hostile files the tests make are TensorFlow-written ones with a few fields
changed, written back with these functions.
"""
from __future__ import annotations

import struct

import google_crc32c

from tensorloupe.core.checkpoint.table import Table
from tensorloupe.protos import tensor_bundle_pb2

_MASK_DELTA = 0xA282EAD8
_MAGIC = 0xDB4775248B80FB57


def masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(bytes(data))
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = bytearray()
    restarts = []
    for key, value in entries:
        restarts.append(len(body))
        body += _varint(0) + _varint(len(key)) + _varint(len(value)) + key + value
    if not restarts:
        restarts = [0]
    for r in restarts:
        body += struct.pack("<I", r)
    body += struct.pack("<I", len(restarts))
    return bytes(body)


def _with_trailer(block: bytes) -> bytes:
    crc = google_crc32c.extend(google_crc32c.value(block), b"\x00")
    masked = ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF
    return block + b"\x00" + struct.pack("<I", masked)


def write_table(items) -> bytes:
    """A table file holding ``items`` ((key, value) pairs; sorted here)."""
    items = sorted(items, key=lambda kv: kv[0])
    out = bytearray()
    data = _block(items)
    data_handle = (len(out), len(data))
    out += _with_trailer(data)
    meta = _block([])
    meta_handle = (len(out), len(meta))
    out += _with_trailer(meta)
    last = items[-1][0] if items else b""
    index = _block([(last, _varint(data_handle[0]) + _varint(data_handle[1]))] if items else [])
    index_handle = (len(out), len(index))
    out += _with_trailer(index)
    footer = (_varint(meta_handle[0]) + _varint(meta_handle[1]) +
              _varint(index_handle[0]) + _varint(index_handle[1]))
    footer = footer.ljust(40, b"\x00")
    footer += struct.pack("<II", _MAGIC & 0xFFFFFFFF, _MAGIC >> 32)
    return bytes(out + footer)


def read_table(path) -> list[tuple[bytes, bytes]]:
    return list(Table(str(path)).items)


def read_index(path):
    """(BundleHeaderProto, [(raw key, BundleEntryProto)]) of a checkpoint .index file."""
    items = read_table(path)
    header = tensor_bundle_pb2.BundleHeaderProto.FromString(items[0][1])
    entries = [(k, tensor_bundle_pb2.BundleEntryProto.FromString(v)) for k, v in items[1:]]
    return header, entries


def write_index(path, header, entries) -> None:
    items = [(b"", header.SerializeToString(deterministic=True))]
    items += [(k, e.SerializeToString(deterministic=True)) for k, e in entries]
    with open(path, "wb") as f:
        f.write(write_table(items))


def serialize(message) -> bytes:
    """A protobuf message's bytes, map entries in a fixed order."""
    return message.SerializeToString(deterministic=True)
