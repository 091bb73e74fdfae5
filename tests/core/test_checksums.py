"""Every read checks the stored crc32c: damaged data raises DataLossError naming the file, the
tensor and both checksums; the verdict is computed once and remembered; ``verify=False`` (and
``verification(False)``) reads damaged data on purpose.

The damage is always a flipped bit in a copy of a file TensorFlow wrote. The expected
checksums are computed here with google_crc32c over the original and the damaged bytes, not
taken from the reader under test.
"""
from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import google_crc32c
import numpy as np
import pytest

import tensorloupe as tl
from tensorloupe.core import DataLossError
from tensorloupe.core.checkpoint import bundle, open_checkpoint, verification, verifies_by_default
from tensorloupe.core.checkpoint.table import crc32c_combine
from tensorloupe.core.compare import CHANGED, FAILED, IDENTICAL, compare, compare_series
from tensorloupe.core.compare import tuning
from tensorloupe.core.errors import ChecksumError, FormatError
from tensorloupe.core.saved_model import open_saved_model

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
CKPTS = DATA / "checkpoints"
VARIANTS = DATA / "diff" / "variants"


def flip(path: Path, offset: int, bit: int = 0x01) -> tuple[bytes, bytes]:
    """Flip one bit of ``path`` at ``offset``; return the file's bytes before and after."""
    before = path.read_bytes()
    raw = bytearray(before)
    raw[offset] ^= bit
    path.write_bytes(bytes(raw))
    return before, bytes(raw)


def damage_tensor(prefix: Path, key: str, at: int = 0, raw_key: bytes | None = None):
    """Flip a bit ``at`` bytes into a tensor's stored data; return (good, bad) bytes of it."""
    with open_checkpoint(prefix, verify=False) as r:
        e = r._raw[raw_key] if raw_key is not None else r.entry(key)
        data = Path(r.shard_paths()[e.shard_id])
    before, after = flip(data, e.offset + at)
    span = slice(e.offset, e.offset + e.size)
    return before[span], after[span]


def half_plus_two(tmp_path: Path) -> Path:
    dst = tmp_path / "half_plus_two"
    shutil.copytree(DATA / "saved_models" / "half_plus_two", dst)
    return dst


# ---------------------------------------------------------------- reads refuse


def test_read_and_array_refuse_damaged_data_naming_file_key_and_checksums(tmp_path):
    model = half_plus_two(tmp_path)
    prefix = model / "variables" / "variables"
    good, bad = damage_tensor(prefix, "a", at=2)
    with tl.open_checkpoint(model) as r:
        for read in (r.read, r.array):
            with pytest.raises(DataLossError) as err:
                read("a")
            e = err.value
            assert isinstance(e, ChecksumError) and isinstance(e, FormatError)
            assert e.key == "a"
            assert e.stored == google_crc32c.value(good)
            assert e.computed == google_crc32c.value(bad)
            text = str(e)
            assert "\n" not in text
            assert text.startswith(str(prefix) + ".data-00000-of-00001 (byte 0): ")
            assert "'a'" in text and f"{e.stored:#010x}" in text and f"{e.computed:#010x}" in text
        # Undamaged neighbours in the same file read as TensorFlow wrote them.
        assert float(r.read("b")) == 2.0 and float(r.array("c")) == 3.0
        assert [p.key for p in r.verify()] == ["a"]


def test_opting_out_returns_the_damaged_value(tmp_path):
    model = half_plus_two(tmp_path)
    good, bad = damage_tensor(model / "variables" / "variables", "a", at=2)
    expected = np.frombuffer(bad, "<f4")[0]
    assert expected != 0.5
    with tl.open_checkpoint(model, verify=False) as r:
        assert not r.verifies
        assert r.read("a") == expected and r.array("a") == expected
        assert r.stats.checked == 0
    with tl.open_checkpoint(model) as r:  # or per call, on a checking reader
        assert r.verifies
        assert r.read("a", verify=False) == expected
        with pytest.raises(DataLossError):
            r.read("a")
    with verification(False):
        assert not verifies_by_default()
        with open_checkpoint(model) as r:
            assert r.read("a") == expected
        with open_checkpoint(model, verify=True) as r:  # an explicit choice wins
            with pytest.raises(DataLossError):
                r.read("a")
    assert verifies_by_default()
    sm = open_saved_model(model, verify=False)
    assert not sm.variables.verifies and sm.variables.read("a") == expected
    sm.close()
    sm = tl.open_saved_model(model)
    assert sm.variables.verifies
    with pytest.raises(DataLossError):
        sm.variables.read("a")
    sm.close()


def test_zero_copy_view_is_kept_and_checked_once(tmp_path):
    prefix = CKPTS / "dtypes" / "all_dtypes"
    with open_checkpoint(prefix) as r:
        before = r.stats
        view = r.array("f32")
        assert not view.flags.writeable and not view.flags.owndata  # a view of the map
        first = r.stats
        # Checked once (here, or already by another reader of this unchanged file).
        assert (first.checked - before.checked) + (first.reused - before.reused) == 1
        for _ in range(3):
            r.array("f32")
            r.read("f32")
        again = r.stats
        assert again.checked == first.checked and again.checked_bytes == first.checked_bytes
        assert again.reused == first.reused + 6


def test_the_verdict_is_computed_once_per_reader(tmp_path):
    model = half_plus_two(tmp_path)  # a fresh copy: no reader of this process knows it
    with tl.open_checkpoint(model) as r:
        assert r.stats == type(r.stats)()
        r.read("b")
        assert (r.stats.checked, r.stats.checked_bytes, r.stats.reused) == (1, 4, 0)
        r.read("b")
        r.array("b")
        assert (r.stats.checked, r.stats.reused) == (1, 2)
        assert r.checksum_verdict("b") is True and r.checksum_verdict("a") is None
        assert r.verify() == []  # only the two it had not checked are checksummed now
        assert r.stats.checked == 3 and r.stats.damaged == 0


def test_a_damaged_verdict_is_remembered_too(tmp_path):
    model = half_plus_two(tmp_path)
    damage_tensor(model / "variables" / "variables", "c")
    with tl.open_checkpoint(model) as r:
        for _ in range(3):
            with pytest.raises(DataLossError):
                r.read("c")
        assert (r.stats.checked, r.stats.reused, r.stats.damaged) == (1, 2, 1)
        assert r.checksum_verdict("c") is False


def test_other_readers_of_an_unchanged_file_reuse_the_verdict(tmp_path, monkeypatch):
    # Verdicts on files changed in the last moments stay with their reader (file times are
    # coarse); this copy is new, so that wait is waived here.
    monkeypatch.setattr(bundle, "_SETTLED_NS", 0)
    shutil.copytree(CKPTS / "keras_adam", tmp_path / "keras_adam")
    prefix = tmp_path / "keras_adam" / "ckpt"
    with open_checkpoint(prefix) as first:
        for key in first.keys():
            first.read(key)
        n = len(first.keys())
        assert (first.stats.checked, first.stats.reused) == (n, 0)
    with open_checkpoint(prefix) as second:
        for key in second.keys():
            second.read(key)
        assert (second.stats.checked, second.stats.reused) == (0, n)


def test_a_file_rewritten_in_place_is_checked_again(tmp_path):
    # Same file, same size, and often the same modification time (it ticks coarsely).
    model = half_plus_two(tmp_path)
    prefix = model / "variables" / "variables"
    with open_checkpoint(prefix) as r:
        assert float(r.read("a")) == 0.5
    damage_tensor(prefix, "a")
    with open_checkpoint(prefix) as r:
        with pytest.raises(DataLossError):
            r.read("a")


def test_partitioned_variable_checks_each_slice(tmp_path):
    d = tmp_path / "partitioned"
    shutil.copytree(CKPTS / "partitioned", d)
    prefix = d / "model.ckpt"
    with open_checkpoint(prefix) as r:
        slices = [k for k in r._raw if k.startswith(b"\x00embedding")]
        whole = r.read("embedding")
    damage_tensor(prefix, None, at=5, raw_key=slices[1])
    with open_checkpoint(prefix) as r:
        with pytest.raises(DataLossError) as err:
            r.read("embedding")
        assert err.value.key.startswith("embedding (slice ")
        assert "embedding (slice " in str(err.value)
        np.testing.assert_array_equal(r.read("wide"), r.read("wide"))
        assert r.stats.checked >= 3  # the slices read before the damaged one and wide's
    with open_checkpoint(prefix, verify=False) as r:
        unchecked = r.read("embedding")
        assert unchecked.shape == whole.shape and not np.array_equal(unchecked, whole)


def test_string_tensor_is_checked(tmp_path):
    d = tmp_path / "dtypes"
    shutil.copytree(CKPTS / "dtypes", d)
    prefix = d / "all_dtypes"
    with open_checkpoint(prefix) as r:
        e = r.entry("str")
        good = r.read("str")
    damage_tensor(prefix, "str", at=e.size - 1)  # inside the last string's bytes
    with open_checkpoint(prefix) as r:
        with pytest.raises(DataLossError, match="'str'"):
            r.read("str")
    with open_checkpoint(prefix, verify=False) as r:
        damaged = r.read("str")
        assert damaged.shape == good.shape and damaged.reshape(-1)[-1] != good.reshape(-1)[-1]


def test_crc32c_combine_joins_pieces():
    rng = random.Random(7)
    for _ in range(200):
        a = os.urandom(rng.randrange(0, 200))
        b = os.urandom(rng.choice((0, 1, 7, rng.randrange(0, 70000))))
        joined = crc32c_combine(google_crc32c.value(a), google_crc32c.value(b), len(b))
        assert joined == google_crc32c.value(a + b)


# ---------------------------------------------------------------- comparisons


def _damaged_variant(tmp_path: Path, key: str, at: int = 1) -> Path:
    for f in VARIANTS.glob("changed.*"):
        shutil.copy(f, tmp_path / f.name)
    damage_tensor(tmp_path / "changed", key, at=at)
    return tmp_path / "changed"


def test_compare_fails_the_damaged_variable_with_the_readers_message(tmp_path):
    key = "net/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    b = _damaged_variant(tmp_path, key)
    with open_checkpoint(VARIANTS / "base") as ra, open_checkpoint(b) as rb:
        result = compare(ra, rb)
        v = result.get("net/dense/kernel")
        assert v.status == FAILED
        assert "stored crc32c" in v.error and "net/dense/kernel" in v.error and "damaged" in v.error
        assert [f.name for f in result.failures] == ["net/dense/kernel"]
        # The comparison's checksums are the readers' verdicts: reading again costs nothing.
        assert rb.checksum_verdict(key) is False
        checked = rb.stats.checked
        assert checked >= 1
        with pytest.raises(DataLossError):
            rb.read(key)
        for k in rb.keys():
            if rb.checksum_verdict(k):
                rb.read(k)
        assert rb.stats.checked == checked
    # Opting out measures the damaged data like any other.
    assert compare(VARIANTS / "base", b, verify=False).get("net/dense/kernel").status == CHANGED
    with verification(False):
        assert compare(VARIANTS / "base", b).get("net/dense/kernel").status == CHANGED


def test_compare_checks_identical_and_changed_variables_in_parts(tmp_path, monkeypatch):
    monkeypatch.setattr(tuning, "CHUNK_ELEMENTS", 2)
    monkeypatch.setattr(tuning, "PART_BYTES", 8)  # several parts per variable, on 3 threads
    clean = compare(VARIANTS / "base", VARIANTS / "changed", workers=3)
    assert not clean.failures  # the joined part checksums equal the stored ones
    for key, at in (("net/dense/bias/.ATTRIBUTES/VARIABLE_VALUE", 13),     # identical to base
                    ("net/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE", 33)):  # changed
        sub = tmp_path / key.split("/")[2]
        sub.mkdir()
        b = _damaged_variant(sub, key, at=at)
        result = compare(VARIANTS / "base", b, workers=3)
        assert [v.key_b for v in result.failures] == [key]
        assert compare(VARIANTS / "base", b, workers=3, verify=False).failures == []
    assert clean.get("net/dense/bias").status == IDENTICAL


def test_series_checks_by_default(tmp_path):
    b = _damaged_variant(tmp_path, "net/dense/bias/.ATTRIBUTES/VARIABLE_VALUE")
    series = compare_series([VARIANTS / "base", b, VARIANTS / "changed"])
    assert "net/dense/bias" in {v.name for v in series.consecutive[0].failures}
    unchecked = compare_series([VARIANTS / "base", b, VARIANTS / "changed"], verify=False)
    assert not unchecked.consecutive[0].failures


def test_a_model_opened_without_checks_runs_on_its_damaged_variables(tmp_path):
    """verify=False reaches the engine's restore too: the forensic run computes with the damaged
    value; a default run refuses."""
    model = half_plus_two(tmp_path)
    good, bad = damage_tensor(model / "variables" / "variables", "a", at=2)
    a = float(np.frombuffer(bad, "<f4")[0])
    x = np.array([[1.0], [2.0]], np.float32)
    with tl.open_saved_model(model, verify=False) as sm:
        (y,) = sm.run(["y:0"], {"x:0": x}, tags=("serve",))
        np.testing.assert_allclose(y, a * x + 2.0, rtol=1e-6)
    with tl.open_saved_model(model) as sm:
        with pytest.raises(DataLossError):
            sm.run(["y:0"], {"x:0": x}, tags=("serve",))
