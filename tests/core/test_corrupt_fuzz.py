"""Damaged files give typed one-line errors, never another exception or a hang.

Seeded, deterministic mutations of real TensorFlow-written files: truncations and byte flips
anywhere in a checkpoint index, a data shard, a saved_model.pb and a fingerprint. Whatever is
damaged, every call either works or raises core.errors.TensorloupeError.
"""
import random
import shutil
import zlib

import pytest

import tensorloupe.core as core
from tensorloupe.core.errors import TensorloupeError

N_MUTATIONS = 60


def _mutations(data: bytes, seed: int):
    rng = random.Random(seed)
    for i in range(N_MUTATIONS):
        buf = bytearray(data)
        if i % 3 == 0:
            yield bytes(buf[: rng.randrange(len(buf))])
        else:
            for _ in range(rng.choice((1, 1, 4))):
                pos = rng.randrange(len(buf))
                buf[pos] = (buf[pos] + rng.randrange(1, 256)) % 256
            yield bytes(buf)


def _exercise_checkpoint(path) -> int:
    """Open, read every tensor and verify; return how many problems were reported."""
    try:
        reader = core.open_checkpoint(path)
    except TensorloupeError:
        return 1
    problems = 0
    for key in reader.keys():
        for call in (reader.shape, reader.dtype, reader.read):
            try:
                call(key)
            except TensorloupeError:
                problems += 1
    try:
        problems += len(reader.verify())
    except TensorloupeError:
        problems += 1
    reader.close()
    return problems


@pytest.mark.parametrize("fixture,member", [
    ("keras_adam", "index"), ("keras_adam", "data"),
    ("dtypes", "index"), ("dtypes", "data"),
    ("partitioned", "index"),
])
def test_damaged_checkpoint_files(fixtures_dir, tmp_path, fixture, member):
    src_dir = fixtures_dir / "checkpoints" / fixture
    index = next(src_dir.rglob("*.index"))
    prefix = str(index)[: -len(".index")]
    target = index if member == "index" else next(src_dir.rglob(index.name[:-6] + ".data-*"))
    original = target.read_bytes()
    work = tmp_path / "ckpt"
    shutil.copytree(index.parent, work)
    victim = work / target.name
    noticed = 0
    for data in _mutations(original, seed=zlib.crc32(f"{fixture}/{member}".encode())):
        victim.write_bytes(data)
        noticed += _exercise_checkpoint(str(work / (prefix.rsplit("/", 1)[-1]))) > 0
    # Every truncation and nearly every flip is detected (crc32c covers index and data).
    assert noticed >= N_MUTATIONS * 0.9


@pytest.mark.parametrize("model", ["keras_mlp", "half_plus_two", "vocab_module"])
def test_damaged_saved_model_pb(fixtures_dir, tmp_path, model):
    src = fixtures_dir / "saved_models" / model
    work = tmp_path / model
    shutil.copytree(src, work)
    original = (src / "saved_model.pb").read_bytes()
    for data in _mutations(original, seed=zlib.crc32(model.encode())):
        (work / "saved_model.pb").write_bytes(data)
        try:
            sm = core.open_saved_model(work)
            for mg in sm.meta_graphs:
                for sig in mg.signatures.values():
                    list(sig.inputs.values()), list(sig.outputs.values())
                mg.ops_used()
                mg.concrete_functions()
                mg.summary()
        except TensorloupeError:
            pass
