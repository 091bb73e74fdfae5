"""The run budget: memory of live tensors, loop iterations, wall time.

Hostile inputs are TensorFlow-written fixtures (tests/fixtures/build_budget.py and the engine
fixtures) with a field or two edited here: a constant's shape made huge in a file of a few
KB, a loop condition that never turns false, a partitioned string tensor claiming 2**27
elements, a data file of 16 million empty strings. Each must end in a typed one-line error
(or, for the legitimate large read, a result) quickly and without a large allocation: the
hostile ones run in a child process whose peak memory is measured.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tensorloupe.core as core
from tensorloupe.core.engine import Budget, RunOptions
from tensorloupe.core.engine.context import (Cancelled, KernelContext, Meter,
                                             default_max_memory, parse_size, physical_memory)
from tensorloupe.core.errors import BudgetError, ExecutionError, InputError, TensorloupeError
from tensorloupe.protos import saved_model_pb2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
import formats  # noqa: E402  (tests/fuzz/formats.py: writes checkpoint index files)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
BUDGET = FIXTURES / "budget"
MODELS = BUDGET / "models"
HANG_GUARD = 120   # seconds; these all end in a few seconds
MiB = 1 << 20


# ---------------------------------------------------------------- helpers

_CHILD = r"""
import json, resource, subprocess, sys
p = subprocess.run(sys.argv[2:], capture_output=True, text=True, timeout=float(sys.argv[1]))
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": p.returncode, "out": p.stdout[-4000:], "err": p.stderr[-4000:],
                  "peak_kib": peak}))
"""


def measured(argv, timeout=HANG_GUARD) -> dict:
    """Run ``argv`` as the only child of a fresh process; its exit code, output and peak
    resident memory (ru_maxrss of RUSAGE_CHILDREN, in MiB)."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]) + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-c", _CHILD, str(timeout), *argv], capture_output=True,
                       text=True, timeout=timeout + 30, env=env)
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout)
    # (ru_maxrss is in KiB on Linux, in bytes on macOS)
    result["peak_mib"] = result["peak_kib"] / (1024 if sys.platform != "darwin" else 1024 * 1024)
    return result


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _copy_model(name: str, tmp_path: Path, src: Path = MODELS) -> Path:
    dst = tmp_path / name
    shutil.copytree(src / name, dst)
    return dst


def _edit_saved_model(path: Path, edit) -> None:
    sm = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())
    edit(sm)
    (path / "saved_model.pb").write_bytes(sm.SerializeToString(deterministic=True))


def _huge_constant(tmp_path: Path, elements: int) -> Path:
    """const_add with its Const 'c' (float64 [4], one stored value) made ``elements`` long
    and stripped of its value: a few KB of file that would expand to elements * 8 bytes."""
    path = _copy_model("const_add", tmp_path)

    def edit(sm):
        found = 0
        for f in sm.meta_graphs[0].graph_def.library.function:
            for node in f.node_def:
                if node.op == "Const" and node.name == "c":
                    t = node.attr["value"].tensor
                    t.tensor_shape.dim[0].size = elements
                    del t.double_val[:]
                    found += 1
        assert found == 1
    _edit_saved_model(path, edit)
    return path


# ---------------------------------------------------------------- the budget itself

def test_defaults_and_sizes():
    ram = physical_memory()
    assert default_max_memory() == (min(ram // 2, 8 << 30) if ram else 4 << 30)
    b = Budget()
    assert b.max_memory == default_max_memory()
    assert b.max_iterations == 100_000 and b.timeout is None
    assert parse_size("2GiB") == 2 << 30 and parse_size("512MiB") == 512 << 20
    assert parse_size("1.5G") == 3 << 29 and parse_size("1000") == 1000
    assert parse_size("0") == 0
    for bad in ("two gigs", "-1G", "1XB", ""):
        with pytest.raises(InputError):
            parse_size(bad)
    with pytest.raises(InputError):
        Budget(max_memory=-5)
    options = RunOptions(budget=Budget(max_memory=10 * MiB, timeout=3), max_iterations=7)
    assert options.effective_budget() == Budget(max_memory=10 * MiB, max_iterations=7,
                                                timeout=3)
    assert RunOptions(max_alloc_bytes=1000).effective_budget().max_memory == 1000


def test_live_bytes_count_each_buffer_once():
    meter = Meter(budget=Budget(max_memory=100 * MiB))
    a = np.zeros(MiB, np.uint8)
    view = a.reshape(1024, 1024)[::2]
    meter.add((a,))
    meter.add((view, a))           # a view and the array itself: no new bytes
    assert meter.live == MiB
    meter.drop((a,))
    meter.drop((view,))
    assert meter.live == MiB       # still held once
    meter.drop((a,))
    assert meter.live == 0


def test_kernel_context_refuses_before_allocating():
    ctx = KernelContext(None, RunOptions(budget=Budget(max_memory=1000)))
    ctx.check_alloc(1000)
    with pytest.raises(BudgetError, match="more than the limit of the memory budget"):
        ctx.check_alloc(1001)


# ---------------------------------------------------------------- constants

def test_huge_constant_is_refused_before_it_is_decoded(tmp_path):
    path = _huge_constant(tmp_path, 1 << 28)          # 2 GiB of float64 from ~8 KB
    assert (path / "saved_model.pb").stat().st_size < 16 * 1024
    x = np.zeros(4)
    sm = core.open_saved_model(path)
    with pytest.raises(BudgetError) as err:
        sm.run_signature("serving_default", {"x": x}, budget=Budget(max_memory=1 << 30))
    text = str(err.value)
    assert "'c'" in text and "2.0 GiB" in text and "1.0 GiB" in text and "\n" not in text
    # The default budget (half the RAM, at most 8 GiB) refuses 2**31 elements (16 GiB).
    big = _huge_constant(tmp_path / "big", 1 << 31)
    with pytest.raises(BudgetError, match="16.0 GiB"):
        core.open_saved_model(big).run_signature("serving_default", {"x": x})
    # The unedited model still runs, and gives TensorFlow's answer.
    want = np.load(MODELS / "const_add_expected.npz")
    got = core.open_saved_model(MODELS / "const_add").run_signature(
        "serving_default", {"x": want["x"]}, budget=Budget(max_memory=1 << 30))
    np.testing.assert_array_equal(got["y"], want["y"])


def test_huge_constant_in_a_child_stays_small(tmp_path):
    path = _huge_constant(tmp_path, 1 << 28)
    r = measured([sys.executable, "-m", "tensorloupe", "run", "--dir", str(path),
                  "--tag_set", "serve", "--signature_def", "serving_default",
                  "--input_exprs", "x=[0.0, 0.0, 0.0, 0.0]", "--max_memory", "1GiB"])
    assert r["rc"] == 2, r
    assert "BudgetError" not in r["err"] and "Traceback" not in r["err"]
    assert r["err"].count("\n") == 1 and "node 'c'" in r["err"] and "--max_memory" in r["err"]
    assert r["peak_mib"] < 500, r


# ---------------------------------------------------------------- kernels sized by inputs

def test_kernels_sized_by_their_inputs_ask_first():
    sm = core.open_saved_model(MODELS / "sized")
    want = np.load(MODELS / "sized_expected.npz")
    small = Budget(max_memory=64 * MiB)
    got = sm.run_signature("zeros", {"n": want["zeros_n"]}, budget=small)
    np.testing.assert_array_equal(got["z"], want["zeros_z"])
    got = sm.run_signature("tile", {"x": want["tile_x"], "k": want["tile_k"]}, budget=small)
    np.testing.assert_array_equal(got["t"], want["tile_t"])
    got = sm.run_signature("outer", {"a": want["outer_a"], "b": want["outer_b"]}, budget=small)
    np.testing.assert_array_equal(got["p"], want["outer_p"])
    cases = [("zeros", {"n": np.int32(1 << 15)}, "(Fill)"),
             ("tile", {"x": np.ones(8, np.float32), "k": np.int32(1 << 30)}, "(Tile)"),
             ("outer", {"a": np.ones((1 << 14, 1), np.float32),
                        "b": np.ones((1, 1 << 14), np.float32)}, "(Mul)")]
    for key, feeds, op in cases:
        with pytest.raises(BudgetError, match=r"would allocate .* more than the limit") as err:
            sm.run_signature(key, feeds, budget=small)
        assert op in str(err.value) and "64.0 MiB" in str(err.value)
    # Keyword arguments set the same limits.
    with pytest.raises(BudgetError):
        sm.run_signature("zeros", {"n": np.int32(1 << 13)}, max_memory=64 * MiB)


def test_doubling_loop_stops_at_the_budget():
    sm = core.open_saved_model(MODELS / "loops")
    want = np.load(MODELS / "loops_expected.npz")
    got = sm.run_signature("grow", {"x": want["grow_x"], "n": want["grow_n"]})
    np.testing.assert_array_equal(got["y"], want["grow_y"])
    with pytest.raises(BudgetError, match=r"\(ConcatV2\).*256.0 MiB"):
        sm.run_signature("grow", {"x": np.ones(4, np.float32), "n": np.int32(60)},
                         budget=Budget(max_memory=256 * MiB))


def test_doubling_loop_in_a_child_stays_small():
    r = measured([sys.executable, "-m", "tensorloupe", "run", "--dir", str(MODELS / "loops"),
                  "--tag_set", "serve", "--signature_def", "grow",
                  "--input_exprs", "x=np.ones(4, dtype=np.float32);n=60",
                  "--max_memory", "256MiB"])
    assert r["rc"] == 2 and "ConcatV2" in r["err"] and r["err"].count("\n") == 1, r
    assert r["peak_mib"] < 700, r


# ---------------------------------------------------------------- iterations and time

def test_iteration_budget_counts_every_loop_of_the_run():
    sm = core.open_saved_model(MODELS / "loops")
    want = np.load(MODELS / "loops_expected.npz")
    got = sm.run_signature("spin", {"n": want["spin_n"]})
    assert int(got["count"]) == int(want["spin_count"])
    with pytest.raises(BudgetError, match="the limit is 500 loop iterations per run"):
        sm.run_signature("spin", {"n": np.int64(10 ** 12)}, max_iterations=500)
    assert int(sm.run_signature("spin", {"n": np.int64(600)},
                                budget=Budget(max_iterations=600))["count"]) == 600


def _endless_tf1_loop(tmp_path: Path) -> Path:
    """engine_tf1_loop with its outer loop's condition comparing the counter with itself
    (i <= i): the loop never ends, and its inner loop runs i times per iteration."""
    path = _copy_model("engine_tf1_loop", tmp_path, FIXTURES / "saved_models")

    def edit(sm):
        for node in sm.meta_graphs[0].graph_def.node:
            if node.name == "outer/Less":
                node.op = "LessEqual"
                node.input[1] = node.input[0]
                return
        raise AssertionError("outer/Less not found")
    _edit_saved_model(path, edit)
    return path


def test_endless_tf1_loop_ends_at_the_default_budget(tmp_path):
    path = _endless_tf1_loop(tmp_path)
    r = measured([sys.executable, "-m", "tensorloupe", "run", "--dir", str(path), "--tag_set",
                  "serve", "--signature_def", "serving_default",
                  "--input_exprs", "x=[[1.0, 2.0, 3.0]];n=5"])
    assert r["rc"] == 2, r
    assert "100000 loop iterations per run" in r["err"] and r["err"].count("\n") == 1, r
    assert r["peak_mib"] < 500, r


def test_timeout_and_cancel():
    sm = core.open_saved_model(MODELS / "loops")
    feeds = {"n": np.int64(10 ** 12)}
    with pytest.raises(BudgetError, match="time budget of 0.3 s"):
        sm.run_signature("spin", feeds, budget=Budget(max_iterations=None, timeout=0.3))
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 50
    with pytest.raises(Cancelled):
        sm.run_signature("spin", feeds, max_iterations=0, cancel=cancel)
    # The session survives both.
    assert int(sm.run_signature("spin", {"n": np.int64(3)})["count"]) == 3


# ---------------------------------------------------------------- checkpoints

def _strings_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "strings"
    shutil.copytree(BUDGET / "checkpoints" / "strings", dst)
    return dst / "strings"


def test_partitioned_strings_claiming_2_27_elements(tmp_path):
    """The partitioned "words" (2 slices of 3) edited to claim one slice of 2**27 strings:
    the full tensor would be 1 GiB of pointers, the files are a few hundred bytes."""
    from tensorloupe.core.checkpoint.slices import Extent, TensorSlice, encode_slice_key
    prefix = _strings_copy(tmp_path)
    header, entries = formats.read_index(str(prefix) + ".index")
    huge = 1 << 27
    out = []
    first_slice = None
    for key, e in entries:
        if key == b"words":
            e.shape.dim[0].size = huge
            del e.slices[1:]
            e.slices[0].extent[0].Clear()          # the whole dimension
            out.append((key, e))
        elif key.startswith(b"\x00") and first_slice is None:
            first_slice = e
    first_slice.shape.dim[0].size = huge
    out.append((encode_slice_key(b"words", TensorSlice((Extent(0, -1),))), first_slice))
    out += [(k, e) for k, e in entries if k == b"names"]
    formats.write_index(str(prefix) + ".index", header, out)
    size = sum(p.stat().st_size for p in prefix.parent.iterdir() if p.name.startswith("strings."))
    assert size < 400
    reader = core.open_checkpoint(prefix)
    assert reader.shape("words") == (huge,)
    with pytest.raises(TensorloupeError):
        reader.read("words")
    r = measured([sys.executable, "-m", "tensorloupe", "inspect", str(prefix), "--all_tensors"])
    assert r["rc"] == 2 and r["err"].count("\n") == 1 and "Traceback" not in r["err"], r
    assert r["peak_mib"] < 300, r


def _empty_strings(tmp_path: Path, n: int) -> Path:
    """The checkpoint's "names" rewritten as ``n`` empty strings (n zero length bytes and
    the lengths' checksum) with a correct crc32c: a valid file, as TensorFlow writes it."""
    prefix = _strings_copy(tmp_path)
    header, entries = formats.read_index(str(prefix) + ".index")
    lengths = bytes(4 * n)                  # the lengths as the checksums take them: uint32
    crc_bytes = formats.masked_crc(lengths).to_bytes(4, "little")
    data = bytes(n) + crc_bytes             # n one-byte varints of 0, then their checksum
    out = []
    for key, e in entries:
        if key == b"names":
            e.shape.dim[0].size = n
            e.offset, e.size, e.shard_id = 0, len(data), 0
            e.crc32c = formats.masked_crc(lengths + crc_bytes)
            out.append((key, e))
    formats.write_index(str(prefix) + ".index", header, out)
    Path(str(prefix) + ".data-00000-of-00001").write_bytes(data)
    return prefix


def test_sixteen_million_empty_strings_read_quickly(tmp_path):
    n = 16 << 20
    prefix = _empty_strings(tmp_path, n)
    reader = core.open_checkpoint(prefix)
    assert reader.verify() == []
    names = reader.read("names")
    assert names.shape == (n,) and names[0] == b"" and names[-1] == b""
    reader.close()
    code = (f"import tensorloupe as tl; r = tl.open_checkpoint({str(prefix)!r}); "
            "v = r.read('names'); print(v.shape, v[-1])")
    r = measured(python(code), timeout=60)
    assert r["rc"] == 0 and "(16777216,) b''" in r["out"], r
    assert r["peak_mib"] < 700, r


def test_checkpoint_reads_respect_the_budget(tmp_path):
    prefix = _empty_strings(tmp_path, 1 << 20)
    reader = core.open_checkpoint(prefix)
    from tensorloupe.core.engine.context import run_scope
    with run_scope(RunOptions(budget=Budget(max_memory=4 * MiB))):
        with pytest.raises(BudgetError, match="tensor 'names'"):
            reader.read("names")          # 1M pointers: 8 MiB
    assert reader.read("names").shape == (1 << 20,)


# ---------------------------------------------------------------- errors are one line

def test_budget_error_is_an_execution_error():
    assert issubclass(BudgetError, ExecutionError)
    try:
        core.open_saved_model(MODELS / "loops").run_signature(
            "spin", {"n": np.int64(10 ** 9)}, max_iterations=10)
    except BudgetError as exc:
        assert "\n" not in str(exc) and "--max_iterations" in str(exc)
    else:
        raise AssertionError("no BudgetError")
