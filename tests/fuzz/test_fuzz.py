"""The fuzzer in CI: a slice of cases of seed 1, and checks of the fuzzer itself.

The full run (``python tests/fuzz/fuzz.py --cases 100000 --seed 1``) is described in the
README; here a slice sized to finish in about a minute on two cores must find no uncaught
error, no hang and no runaway memory.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import formats
import fuzz

import tensorloupe.core as core

# About 35 s on two idle cores (cases average 15-20 ms of CPU; two workers), 60-90 s on a
# busy machine.
CI_CASES = 4000


def _digest(seed: int, numbers) -> str:
    h = hashlib.sha256()
    for n in numbers:
        case = fuzz.make_case(seed, n)
        h.update(case.target.name.encode() + b"\0" + case.data + b"\0" +
                 "\n".join(case.notes).encode())
    return h.hexdigest()


def test_cases_are_the_same_in_every_process():
    numbers = range(0, 400, 7)
    here = _digest(1, numbers)
    assert _digest(1, numbers) == here
    assert _digest(2, numbers) != here
    code = (f"import sys; sys.path.insert(0, {str(fuzz.HERE)!r}); import test_fuzz; "
            f"print(test_fuzz._digest(1, range(0, 400, 7)))")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=300, check=True).stdout.strip()
    assert out == here


def test_every_file_kind_is_fuzzed():
    by_kind = fuzz.targets_by_kind()
    assert sorted(by_kind) == sorted(fuzz.KINDS)
    kinds = {fuzz.make_case(1, n).target.kind for n in range(200)}
    assert kinds == set(fuzz.KINDS)


def test_rewritten_indexes_read_the_same(tmp_path):
    """The table writer the index mutations use: TensorFlow's tables decoded and written
    back read exactly as the originals."""
    for target in fuzz.targets():
        if target.kind != "index" or target.recipe != "checkpoint":
            continue
        src = fuzz.DATA / target.root
        dst = tmp_path / target.root.replace("/", "_")
        shutil.copytree(src, dst)
        header, entries = formats.read_index(src / target.file)
        formats.write_index(dst / target.file, header, entries)
        assert (dst / target.file).read_bytes() != (src / target.file).read_bytes()
        a = core.open_checkpoint(src / target.entry)
        b = core.open_checkpoint(dst / target.entry)
        assert a.keys() == b.keys()
        for key in a.keys():
            x, y = a.read(key), b.read(key)
            assert x.dtype == y.dtype and x.shape == y.shape
            if x.dtype != object:
                np.testing.assert_array_equal(x, y)
            else:
                assert x.tolist() == y.tolist()
        assert b.verify() == []


def test_each_outcome_is_seen(monkeypatch):
    monkeypatch.setenv("TENSORLOUPE_FUZZ_SELF_TEST", "1")
    summary = fuzz.run(cases=6, seed=1, workers=2, case_seconds=3)
    by_case = {r["case"]: r["outcome"] for r in summary.problems}
    assert by_case == {0: "uncaught", 1: "memory", 2: "memory", 3: "hang"}, summary.report()
    assert summary.counts["ok"] + summary.counts["typed"] == 2   # the pool went on after them
    uncaught = next(r for r in summary.problems if r["case"] == 0)
    assert "ValueError: self-test" in uncaught["traceback"]


@pytest.mark.skipif(sys.platform == "win32", reason="workers use RLIMIT_AS")
def test_fuzz_slice(tmp_path):
    summary = fuzz.run(cases=CI_CASES, seed=1, workers=2, out=str(tmp_path))
    report = summary.report()
    print(report)
    assert summary.counts["uncaught"] == 0, report
    assert summary.counts["hang"] == 0, report
    assert summary.counts["memory"] == 0, report
    assert summary.counts["ok"] + summary.counts["typed"] == CI_CASES
    assert set(summary.by_kind) == set(fuzz.KINDS)


@pytest.mark.parametrize("number", [60662, 78485])
def test_cases_the_full_run_found_stay_fixed(number):
    """The full 100,000-case run's uncaught errors (an object graph key swapped with a
    variable's entry: a graph without nodes), replayed."""
    result = fuzz.replay(1, number)
    assert result["outcome"] in ("ok", "typed"), result
