"""Every kernel against what TensorFlow's own kernel computed (tests/fixtures/build_ops.py).

Each recorded case is one raw op on small inputs; the kernel gets the node's attributes
with the registered defaults filled in the way the executor does it.
"""
from __future__ import annotations

import json
from functools import lru_cache

import ml_dtypes
import numpy as np
import pytest

from tensorloupe.core import dtypes
from tensorloupe.core.engine import registry
from tensorloupe.core.errors import ExecutionError
from tests.conftest import FIXTURES

OPS_DIR = FIXTURES / "ops"


@lru_cache(maxsize=1)
def _data():
    meta = json.loads((OPS_DIR / "cases.json").read_text())
    arrays = np.load(OPS_DIR / "cases.npz", allow_pickle=False)
    return meta, {k: arrays[k] for k in arrays.files}


def _array(desc, arrays):
    if "hex" in desc:
        items = [bytes.fromhex(h) for h in desc["hex"]]
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out.reshape(desc["shape"])
    arr = arrays[desc["key"]]
    if desc["dtype"] == dtypes.DT["DT_BFLOAT16"]:
        arr = arr.view(ml_dtypes.bfloat16)
    assert arr.dtype == dtypes.to_numpy(desc["dtype"])
    return arr.reshape(desc["shape"])


def _attr(enc, arrays):
    (kind, value), = enc.items()
    if kind == "s":
        return bytes.fromhex(value)
    if kind == "shape":
        return None if value is None else tuple(value)
    if kind == "tensor":
        return _array(value, arrays)
    if kind == "list":
        if not value:
            return []
        (lk, items), = value.items()
        if lk == "s":
            return [bytes.fromhex(x) for x in items]
        if lk == "shape":
            return [tuple(x) for x in items]
        return list(items)
    return value


class _Ctx:
    """The part of the executor's KernelContext that kernels use."""

    def __init__(self, limit=1 << 30):
        self.limit = limit

    def check_alloc(self, nbytes):
        if nbytes > self.limit:
            raise ExecutionError(f"refusing to allocate {nbytes} bytes")


def _cases():
    meta, _ = _data()
    ids = []
    for i, c in enumerate(meta["cases"]):
        ids.append(f"{i:03d}-{c['op']}" + (f"-{c['note']}" if c["note"] else "")
                   .replace(" ", "_"))
    return list(range(len(meta["cases"]))), ids


_INDEXES, _IDS = _cases()


def _tolerance(dtype):
    if dtype == np.float16:
        return 2e-3, 2e-3
    if dtype == ml_dtypes.bfloat16:
        return 2e-2, 2e-2
    if dtype == np.float64:
        return 1e-10, 1e-12
    return 1e-4, 1e-5


@pytest.mark.parametrize("index", _INDEXES, ids=_IDS)
def test_kernel_matches_tensorflow(index):
    meta, arrays = _data()
    case = meta["cases"][index]
    k = registry.lookup(case["op"])
    assert k is not None, f"no kernel registered for {case['op']}"
    attrs = dict(k.defaults)
    attrs.update({name: _attr(v, arrays) for name, v in case["attrs"].items()})
    inputs = [_array(d, arrays) for d in case["inputs"]]
    before = [x.copy() for x in inputs]
    for x in inputs:          # weights may be read-only memory maps: kernels never write
        x.flags.writeable = False
    if "error" in case:
        with pytest.raises(ExecutionError):
            k.fn(_Ctx(), inputs, attrs)
        return
    out = k.fn(_Ctx(), inputs, attrs)
    if not isinstance(out, (list, tuple)):
        out = [out]
    want = [_array(d, arrays) for d in case["outputs"]]
    assert len(out) == len(want)
    opaque = set(case.get("opaque_outputs", []))
    for i, (got, exp) in enumerate(zip(out, want)):
        if i in opaque:
            continue
        assert isinstance(got, np.ndarray), type(got)
        assert got.dtype == exp.dtype, (got.dtype, exp.dtype)
        assert got.shape == exp.shape, (got.shape, exp.shape)
        if case["random"]:
            _check_random(case["op"], got, case)
            continue
        if exp.dtype.kind in "fc" or exp.dtype == ml_dtypes.bfloat16:
            rtol, atol = _tolerance(exp.dtype)
            wide = np.complex128 if exp.dtype.kind == "c" else np.float64
            np.testing.assert_allclose(got.astype(wide), exp.astype(wide),
                                       rtol=rtol, atol=atol, equal_nan=True)
        else:
            np.testing.assert_array_equal(got, exp)
    for x, b in zip(inputs, before):   # kernels never modify their inputs
        np.testing.assert_array_equal(x, b)


def _check_random(op, got, case):
    """Values differ from TensorFlow's by design; check the distribution's support."""
    if got.dtype.kind == "f":
        w = got.astype(np.float64)
        if "Uniform" in op:
            assert np.all((w >= 0) & (w < 1))
        if "Truncated" in op:
            assert np.all(np.abs(w) <= 2)
    elif "UniformInt" in op:
        meta, arrays = _data()
        lo, hi = (_array(d, arrays) for d in case["inputs"][-2:])
        assert np.all((got >= lo) & (got < hi))


def test_seeded_random_ops_are_deterministic():
    for op, inputs, attrs in [
            ("RandomUniform", [np.array([50], np.int32)], {"dtype": 1, "seed": 3, "seed2": 4}),
            ("StatelessRandomNormal", [np.array([50], np.int32), np.array([1, 2], np.int64)],
             {"dtype": 1}),
            ("StatelessRandomUniformV2", [np.array([50], np.int32), np.array([5], np.uint64),
                                          np.array([0, 1], np.uint64), np.int32(1)],
             {"dtype": 1})]:
        k = registry.lookup(op)
        a = k.fn(_Ctx(), inputs, dict(k.defaults, **attrs))
        b = k.fn(_Ctx(), inputs, dict(k.defaults, **attrs))
        np.testing.assert_array_equal(a, b)
        assert np.unique(a).size > 40


def test_every_recorded_op_is_registered():
    meta, _ = _data()
    missing = sorted({c["op"] for c in meta["cases"]} - set(registry.known_ops()))
    assert missing == []


@pytest.mark.parametrize("op", sorted(_data()[0]["opdefs"]))
def test_registration_matches_tensorflow_opdef(op):
    """Output arg names (function-body tensor names depend on them) and attribute
    defaults (SavedModels strip default-valued attributes) equal TensorFlow's OpDef."""
    meta, arrays = _data()
    info = meta["opdefs"][op]
    k = registry.lookup(op)
    assert k is not None
    assert list(k.outputs) == info["outputs"]
    for name, enc in info["defaults"].items():
        assert name in k.defaults, f"{op}: no default for attribute {name}"
        want = _attr(enc, arrays)
        if isinstance(want, float):   # OpDef floats are float32
            assert np.float32(k.defaults[name]) == np.float32(want), name
        else:
            assert k.defaults[name] == want, name


def test_every_registered_op_has_a_description():
    for op in registry.known_ops():
        desc = registry.lookup(op).description
        assert desc and len(desc) > 10 and "\n" not in desc, op


@pytest.mark.parametrize("pattern", [rb"\pL+", rb"(?U)a+", rb"\Qa.b\E", rb"[[:^alpha:]]"])
def test_re2_constructs_python_cannot_mirror_are_refused(pattern):
    from tensorloupe.core.engine.ops.strings import compile_re2
    from tensorloupe.core.errors import UnsupportedError
    with pytest.raises(UnsupportedError):
        compile_re2(pattern)


@pytest.mark.parametrize("pattern", [rb"(?=a)b", rb"(a)\1", rb"a++", rb"(?<!x)y"])
def test_patterns_re2_rejects_are_errors(pattern):
    from tensorloupe.core.engine.ops.strings import compile_re2
    with pytest.raises(ExecutionError):
        compile_re2(pattern)


def test_allocation_guard_is_asked_before_value_sized_outputs():
    fill = registry.lookup("Fill")
    with pytest.raises(ExecutionError, match="refusing"):
        fill.fn(_Ctx(limit=1000), [np.array([1000, 1000], np.int32), np.float32(1)], {})
    tile = registry.lookup("Tile")
    with pytest.raises(ExecutionError, match="refusing"):
        tile.fn(_Ctx(limit=1000), [np.zeros((10, 10), np.float32),
                                   np.array([100, 100], np.int32)], {})


def test_kernel_outputs_do_not_share_memory_across_calls():
    """Kernels may use scratch buffers internally; what they return must stay intact
    when the kernel runs again."""
    k = registry.lookup("DepthwiseConv2dNative")
    attrs = dict(k.defaults, strides=[1, 1, 1, 1], padding=b"VALID", T=1)
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((2, 2, 6, 6, 3)).astype(np.float32)
    f = rng.standard_normal((1, 1, 3, 1)).astype(np.float32)
    first = k.fn(_Ctx(), [x1, f], attrs)
    kept = first.copy()
    k.fn(_Ctx(), [x2, f], attrs)
    np.testing.assert_array_equal(first, kept)


@pytest.mark.parametrize("op", ["AddV2", "Mul", "Sub", "Maximum", "BiasAdd"])
@pytest.mark.parametrize("shape", [(16, 64, 64, 3), (8, 40, 40, 48), (2, 3, 11, 5000),
                                   (7, 13, 17, 48)])
def test_large_per_channel_broadcasts_take_the_fast_path_correctly(op, shape):
    """Big tensors with a per-channel vector run on a tiled fast path (and across
    threads); the recorded TensorFlow cases are too small to reach it, so compare it
    with numpy's plain broadcasting of the same float32 operation."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape, dtype=np.float32)
    v = rng.standard_normal(shape[-1], dtype=np.float32)
    k = registry.lookup(op)
    plain = {"AddV2": np.add, "Mul": np.multiply, "Sub": np.subtract,
             "Maximum": np.maximum, "BiasAdd": np.add}[op]
    got = k.fn(_Ctx(), [x, v], dict(k.defaults))
    np.testing.assert_array_equal(got, plain(x, v))
    if op != "BiasAdd":
        np.testing.assert_array_equal(k.fn(_Ctx(), [v, x], dict(k.defaults)), plain(v, x))


@pytest.mark.parametrize("strides,padding", [((1, 1), b"SAME"), ((2, 2), b"SAME"),
                                             ((1, 1), b"VALID"), ((2, 2), b"VALID")])
def test_large_depthwise_matches_grouped_convolution(strides, padding):
    """Depthwise convolution of big batches runs in segments across threads; the
    recorded cases are small, so check it against Conv2D with one group per channel
    (itself checked against TensorFlow)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 27, 30, 64), dtype=np.float32)
    f = rng.standard_normal((3, 3, 64, 1), dtype=np.float32)
    attrs = {"strides": [1, *strides, 1], "padding": padding}
    dw = registry.lookup("DepthwiseConv2dNative")
    conv = registry.lookup("Conv2D")
    got = dw.fn(_Ctx(), [x, f], dict(dw.defaults, **attrs))
    want = conv.fn(_Ctx(), [x, f.reshape(3, 3, 1, 64)], dict(conv.defaults, **attrs))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_large_matmul_and_convolution_match_direct_numpy_sums():
    """Big products run in row blocks / image chunks on several threads, which the small
    recorded cases never reach: compare with a direct numpy computation."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((600, 256), dtype=np.float32)
    b = rng.standard_normal((256, 300), dtype=np.float32)
    mm = registry.lookup("MatMul")
    np.testing.assert_allclose(mm.fn(_Ctx(), [a, b], dict(mm.defaults)),
                               a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)
    x = rng.standard_normal((9, 20, 21, 16), dtype=np.float32)
    f = rng.standard_normal((3, 3, 16, 24), dtype=np.float32)
    conv = registry.lookup("Conv2D")
    got = conv.fn(_Ctx(), [x, f], dict(conv.defaults, strides=[1, 1, 1, 1], padding=b"VALID"))
    want = np.zeros((9, 18, 19, 24))
    for i in range(3):
        for j in range(3):
            want += x[:, i:i + 18, j:j + 19].astype(np.float64) @ f[i, j]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


# Errors whose text depends on what the kernel cannot know (the tensor's or node's name)
# or on the regex engine's own parser (RE2's messages are not Python's).
_OWN_WORDS = {"EnsureShape", "GatherNd", "RegexFullMatch"}


@pytest.mark.parametrize("index", [i for i, c in enumerate(_data()[0]["cases"])
                                   if "error" in c and c["op"] not in _OWN_WORDS],
                         ids=lambda i: f"{i:03d}-{_data()[0]['cases'][i]['op']}")
def test_error_messages_read_like_tensorflows(index):
    meta, arrays = _data()
    case = meta["cases"][index]
    k = registry.lookup(case["op"])
    attrs = dict(k.defaults)
    attrs.update({name: _attr(v, arrays) for name, v in case["attrs"].items()})
    with pytest.raises(ExecutionError) as info:
        k.fn(_Ctx(), [_array(d, arrays) for d in case["inputs"]], attrs)
    assert info.value.message == case["error"]
