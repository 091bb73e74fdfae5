"""Damaged checkpoints: copies of real fixtures, broken in tmp_path. Each gives a typed error
with one clear sentence (and the byte offset for a corrupt table), never a crash or a huge
allocation; the command line exits 2 without a traceback."""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import cramjam
import google_crc32c
import numpy as np
import pytest

from tensorloupe.core.checkpoint import open_checkpoint
from tensorloupe.core.errors import (ChecksumError, FormatError, NotFoundError,
                                     TensorloupeError)

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "checkpoints"
REPO = Path(__file__).resolve().parents[2]


def copy(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copytree(ROOT / name, dst)
    return dst


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tensorloupe", "inspect", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def assert_clean_cli_error(path: Path, *extra: str) -> str:
    proc = cli("--file_name", str(path), "--all_tensors", *extra)
    assert proc.returncode == 2, proc
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tensorloupe inspect: error: "), proc.stderr
    return lines[0]


# ------------------------------------------------------------- independent table helpers

def varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def put_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        out.append(b | (0x80 if value else 0))
        if not value:
            return bytes(out)


def masked_crc(data: bytes) -> int:
    c = google_crc32c.value(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def block_entries(block: bytes):
    n = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n
    pos, key, out = 0, b"", []
    while pos < end:
        shared, pos = varint(block, pos)
        unshared, pos = varint(block, pos)
        vlen, pos = varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        out.append((key, block[pos:pos + vlen]))
        pos += vlen
    return out


def data_block_handles(index: bytes) -> list[tuple[bytes, int, int]]:
    pos = len(index) - 48
    _, pos = varint(index, pos)
    _, pos = varint(index, pos)
    off, pos = varint(index, pos)
    size, pos = varint(index, pos)
    out = []
    for key, handle in block_entries(index[off:off + size]):
        boff, p = varint(handle, 0)
        bsize, _ = varint(handle, p)
        out.append((key, boff, bsize))
    return out


def make_block(entries) -> bytes:
    body, restarts = bytearray(), []
    for key, value in entries:
        restarts.append(len(body))
        body += put_varint(0) + put_varint(len(key)) + put_varint(len(value)) + key + value
    for r in restarts or [0]:
        body += struct.pack("<I", r)
    return bytes(body + struct.pack("<I", len(restarts or [0])))


def snappy_copy(index: bytes) -> bytes:
    """The same table with every data block Snappy-compressed (as LevelDB writers may do)."""
    out = bytearray()
    handles = []
    for key, off, size in data_block_handles(index):
        packed = bytes(cramjam.snappy.compress_raw(index[off:off + size]))
        handles.append((key, put_varint(len(out)) + put_varint(len(packed))))
        out += packed + b"\x01" + struct.pack("<I", masked_crc(packed + b"\x01"))

    def put_block(block: bytes) -> bytes:
        handle = put_varint(len(out)) + put_varint(len(block))
        out.extend(block + b"\x00" + struct.pack("<I", masked_crc(block + b"\x00")))
        return handle

    meta = put_block(make_block([]))
    idx = put_block(make_block(handles))
    footer = (meta + idx).ljust(40, b"\x00") + struct.pack("<II", 0x8B80FB57, 0xDB477524)
    return bytes(out + footer)


# ------------------------------------------------------------- the cases

def test_snappy_compressed_index_reads_the_same(tmp_path):
    d = copy("keras_adam", tmp_path)
    index = d / "ckpt.index"
    original = index.read_bytes()
    index.write_bytes(snappy_copy(original))
    assert index.read_bytes() != original
    rec = json.loads((ROOT / "keras_adam" / "tensorflow.json").read_text())["checkpoints"]["ckpt"]
    with open_checkpoint(d / "ckpt") as r, open_checkpoint(ROOT / "keras_adam" / "ckpt") as ref:
        assert r.keys() == rec["keys"]
        for key in r.keys():
            np.testing.assert_array_equal(r.read(key), ref.read(key))
        assert r.verify() == []


def test_truncated_index(tmp_path):
    d = copy("tf1_saver", tmp_path)
    index = d / "model.ckpt-2.index"
    data = index.read_bytes()
    for cut in (len(data) // 2, 20, 0):
        index.write_bytes(data[:cut])
        with pytest.raises(FormatError) as err:
            open_checkpoint(d / "model.ckpt-2")
        assert err.value.path == str(index) and err.value.offset is not None
        assert "truncated" in str(err.value)
    line = assert_clean_cli_error(d / "model.ckpt-2")
    assert "model.ckpt-2.index (byte 0)" in line and "footer" in line


def test_bad_magic(tmp_path):
    d = copy("dtypes", tmp_path)
    index = d / "all_dtypes.index"
    size = index.stat().st_size
    flip(index, size - 1)
    with pytest.raises(FormatError, match="magic") as err:
        open_checkpoint(d / "all_dtypes")
    assert err.value.offset == size - 8
    assert "magic" in assert_clean_cli_error(d / "all_dtypes")


def test_flipped_byte_in_index_block(tmp_path):
    d = copy("dtypes", tmp_path)
    index = d / "all_dtypes.index"
    _, off, size = data_block_handles(index.read_bytes())[0]
    flip(index, off + size // 2)
    with pytest.raises(FormatError, match="checksum") as err:
        open_checkpoint(d / "all_dtypes")
    assert err.value.offset == off + size + 1
    assert "checksum" in assert_clean_cli_error(d / "all_dtypes")


def test_corrupt_entry_length_behind_a_valid_crc(tmp_path):
    """A length field that points far past the block (crc fixed up, so only the bounds
    checks stand between it and a bad read)."""
    d = copy("dtypes", tmp_path)
    index = d / "all_dtypes.index"
    data = bytearray(index.read_bytes())
    _, off, size = data_block_handles(bytes(data))[0]
    # Entry 0 starts the block: shared=0, unshared=0 (the "" header key), value_len.
    assert data[off] == 0 and data[off + 1] == 0
    data[off + 2:off + 7] = b"\xff\xff\xff\xff\x0f"  # value_len = 2**32 - 1
    block = bytes(data[off:off + size])
    struct.pack_into("<I", data, off + size + 1, masked_crc(block + bytes((data[off + size],))))
    index.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="past the block") as err:
        open_checkpoint(d / "all_dtypes")
    assert err.value.offset == off


def test_flipped_byte_in_data_is_reported_by_verify(tmp_path):
    d = copy("dtypes", tmp_path)
    with open_checkpoint(d / "all_dtypes") as r:
        entry = r.entries["f64"]
        good = r.read("f64")
    flip(d / "all_dtypes.data-00000-of-00001", entry.offset + 3)
    with open_checkpoint(d / "all_dtypes") as r:
        problems = r.verify()
        assert [p.key for p in problems] == ["f64"]
        assert "crc32c" in problems[0].message
        # Reads refuse the damaged tensor; a reader told not to check returns its bytes.
        with pytest.raises(ChecksumError, match="f64"):
            r.read("f64")
    with open_checkpoint(d / "all_dtypes", verify=False) as r:
        damaged = r.read("f64")
        assert damaged.shape == good.shape and not np.array_equal(damaged, good)
    proc = cli("--file_name", str(d / "all_dtypes"), "--verify")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stdout.splitlines()[0].startswith("f64: crc32c mismatch")
    ok = cli("--file_name", str(ROOT / "dtypes" / "all_dtypes"), "--verify")
    assert ok.returncode == 0 and "match" in ok.stdout


def test_flipped_byte_in_string_data(tmp_path):
    d = copy("dtypes", tmp_path)
    with open_checkpoint(d / "all_dtypes") as r:
        entry = r.entries["str"]
    flip(d / "all_dtypes.data-00000-of-00001", entry.offset + entry.size - 2)
    with open_checkpoint(d / "all_dtypes") as r:
        assert [p.key for p in r.verify()] == ["str"]


def test_huge_string_length_in_data(tmp_path):
    d = copy("dtypes", tmp_path)
    with open_checkpoint(d / "all_dtypes") as r:
        entry = r.entries["str_long"]
    shard = d / "all_dtypes.data-00000-of-00001"
    data = bytearray(shard.read_bytes())
    data[entry.offset:entry.offset + 2] = b"\xff\xff"  # first length becomes enormous
    shard.write_bytes(bytes(data))
    with open_checkpoint(d / "all_dtypes") as r:
        with pytest.raises(FormatError, match="str_long"):
            r.read("str_long")
        assert "str_long" in {p.key for p in r.verify()}
        r.read("f32")  # the rest is still readable


def test_missing_shard(tmp_path):
    d = copy("sharded_tf1", tmp_path)
    missing = d / "model.ckpt.data-00001-of-00002"
    missing.unlink()
    with open_checkpoint(d / "model.ckpt") as r:
        in_missing = sorted(k for k, e in r.entries.items() if e.shard_id == 1)
        present = sorted(k for k, e in r.entries.items() if e.shard_id == 0)
        assert in_missing and present
        assert r.keys() == sorted(in_missing + present)
        for key in present:
            r.read(key)
        with pytest.raises(NotFoundError) as err:
            r.read(in_missing[0])
        assert err.value.path == str(missing)
        problems = r.verify()
        assert sorted(p.key for p in problems) == in_missing
        assert all("missing" in p.message for p in problems)
    line = assert_clean_cli_error(d / "model.ckpt")
    assert "model.ckpt.data-00001-of-00002" in line and "missing" in line


def test_truncated_data_file(tmp_path):
    d = copy("dtypes", tmp_path)
    shard = d / "all_dtypes.data-00000-of-00001"
    shard.write_bytes(shard.read_bytes()[:100])
    with open_checkpoint(d / "all_dtypes") as r:
        late = max(r.entries.values(), key=lambda e: e.offset)
        with pytest.raises(FormatError, match="past the end") as err:
            r.read(late.key)
        assert err.value.path == str(shard)


def test_garbage_file(tmp_path):
    garbage = tmp_path / "garbage.index"
    garbage.write_bytes(bytes(range(256)) * 3)
    with pytest.raises(FormatError, match="magic"):
        open_checkpoint(garbage)
    other = tmp_path / "weights.bin"
    other.write_bytes(b"\x00" * 10)
    with pytest.raises(FormatError):
        open_checkpoint(other)
    assert "garbage.index" in assert_clean_cli_error(garbage)


def test_empty_directory_and_missing_path(tmp_path):
    with pytest.raises(NotFoundError, match="looked for") as err:
        open_checkpoint(tmp_path)
    assert "checkpoint" in str(err.value) and ".index" in str(err.value)
    with pytest.raises(NotFoundError, match="looked for"):
        open_checkpoint(tmp_path / "nope" / "model.ckpt")
    assert "looked for" in assert_clean_cli_error(tmp_path)


def test_state_file_naming_a_deleted_checkpoint(tmp_path):
    d = copy("training_run", tmp_path)
    for p in d.glob("ckpt-5.*"):
        p.unlink()
    with pytest.raises(NotFoundError, match="ckpt-5.index"):
        open_checkpoint(d)


def test_every_error_is_a_tensorloupe_error(tmp_path):
    d = copy("keras_adam", tmp_path)
    index = d / "ckpt.index"
    data = index.read_bytes()
    # Cut the index at every 7th length: whatever the damage, a typed error or success.
    for cut in range(0, len(data), 7):
        index.write_bytes(data[:cut])
        with pytest.raises(TensorloupeError):
            open_checkpoint(d / "ckpt")
