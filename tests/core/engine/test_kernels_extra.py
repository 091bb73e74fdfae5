"""Kernels of tests/fixtures/build_ops_extra.py's cases against what TensorFlow computed.

Same record format as test_kernels.py. Optimizer cases name how many leading inputs are
variables (``n_state``): the kernel gets them as TF1 reference variables (ApplyX) or
resource handles (ResourceApplyX) holding the recorded values, and the variables must
hold what TensorFlow's held after the update (``after``); a refused update must leave
them unchanged. Floats within 1e-6 relative (float16 and float64 by their precision),
integers and strings exactly.
"""
from __future__ import annotations

import json
from functools import lru_cache

import ml_dtypes
import numpy as np
import pytest

from tensorloupe.core.engine import registry
from tensorloupe.core.engine.resources import ResourceHandle, ResourceManager
from tensorloupe.core.errors import ExecutionError
from tests.conftest import FIXTURES
from tests.core.engine.test_kernels import _array, _attr

DATA = FIXTURES / "ops_extra"


@lru_cache(maxsize=1)
def _data():
    meta = json.loads((DATA / "cases.json").read_text())
    arrays = np.load(DATA / "cases.npz", allow_pickle=False)
    return meta, {k: arrays[k] for k in arrays.files}


class _Ctx:
    """What kernels reach of the executor's KernelContext: resources, the memory guard."""

    def __init__(self, limit=1 << 30, node_name=""):
        self.limit = limit
        self.resources = ResourceManager()
        self.node_name = node_name      # the recorder names each node after its op

    def check_alloc(self, nbytes):
        if nbytes > self.limit:
            raise ExecutionError(f"refusing to allocate {nbytes} bytes")

    def tick(self):
        pass

    def where(self):
        return "node 'x'"


def _tolerance(dtype):
    if dtype == np.float16:
        return 1e-3, 1e-3
    if dtype == ml_dtypes.bfloat16:
        return 1e-2, 1e-2
    if dtype == np.float64:
        return 1e-12, 1e-14
    return 1e-6, 1e-7


def assert_same(got, exp, what=""):
    assert isinstance(got, np.ndarray), (what, type(got))
    assert got.dtype == exp.dtype, (what, got.dtype, exp.dtype)
    assert got.shape == exp.shape, (what, got.shape, exp.shape)
    if exp.dtype.kind in "fc" or exp.dtype == ml_dtypes.bfloat16:
        rtol, atol = _tolerance(exp.dtype)
        wide = np.complex128 if exp.dtype.kind == "c" else np.float64
        np.testing.assert_allclose(got.astype(wide), exp.astype(wide), rtol=rtol, atol=atol,
                                   equal_nan=True, err_msg=what)
    elif exp.dtype == object:
        assert [bytes(x) for x in got.reshape(-1)] == [bytes(x) for x in exp.reshape(-1)], what
    else:
        np.testing.assert_array_equal(got, exp, err_msg=what)


# Kernels (in ops/array.py) whose refusals are worded in their own words rather than
# TensorFlow 2.21's; for them only the refusal itself is checked.
_OWN_WORDS = {"SparseToDense", "SparseReshape", "SparseSegmentSum", "SparseSegmentMean",
              "SparseSegmentSqrtN"}


# TensorFlow decodes JPEG with libjpeg-turbo's fast integer DCT, Pillow with the accurate
# one: a pixel may differ by this much (same size, same dtype; nearly all pixels equal).
# Recorded: up to 8 on these small sharp-edged images, 1-2.2 on average. With
# dct_method="INTEGER_ACCURATE" ("accurate jpeg" cases) the pixels are equal.
JPEG_TOLERANCE = 8


def _close_jpeg(got, exp):
    assert got.dtype == exp.dtype and got.shape == exp.shape, (got.shape, exp.shape)
    diff = np.abs(got.astype(np.int32) - exp.astype(np.int32))
    assert diff.max() <= JPEG_TOLERANCE, diff.max()
    assert diff.mean() <= 3.0, diff.mean()


def _same_png(got, exp, image):
    """EncodePng's bytes are ours (libpng filters rows, we do not): both decode to the
    encoded pixels, and ours is a PNG TensorFlow's decoder read (see DecodePng cases)."""
    k = registry.lookup("DecodePng")
    dtype = 17 if image.dtype == np.uint16 else 4
    attrs = dict(k.defaults, dtype=dtype)
    assert got.shape == () and got.dtype == object
    assert bytes(got.item())[:8] == b"\x89PNG\r\n\x1a\n"
    if image.dtype == np.uint16 and image.shape[-1] > 1:
        # (16-bit colour is beyond our decoder: read our unfiltered rows directly)
        np.testing.assert_array_equal(_raw_png_rows(bytes(got.item()), image), image)
        return
    for blob in (got, exp):
        np.testing.assert_array_equal(k.fn(_Ctx(), [blob], attrs), image)


def _raw_png_rows(data, like):
    import zlib
    pos, idat = 8, b""
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        if data[pos + 4:pos + 8] == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    h, w, c = like.shape
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, -1)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].copy().view(">u2").reshape(h, w, c).astype(np.uint16)


def _ids():
    meta, _ = _data()
    return [f"{i:03d}-{c['op']}" + (f"-{c['note']}" if c["note"] else "").replace(" ", "_")
            for i, c in enumerate(meta["cases"])]


def _prepare(case, arrays, ctx):
    """(kernel, inputs, attrs, variables) with variables set up for optimizer cases."""
    k = registry.lookup(case["op"])
    assert k is not None, f"no kernel registered for {case['op']}"
    attrs = dict(k.defaults)
    attrs.update({name: _attr(v, arrays) for name, v in case["attrs"].items()})
    inputs = [_array(d, arrays) for d in case["inputs"]]
    variables = []
    n = case.get("n_state", 0)
    for i in range(n):
        name = f"state{i}"
        if case["op"].startswith("Resource"):
            handle = ResourceHandle("variable", "", name)
            var = ctx.resources.get(handle, lambda name=name: _new_var(name))
            var.value = inputs[i]
            inputs[i] = handle
        else:
            var = ctx.resources.ref_variable(name)
            var.value = inputs[i]
        variables.append(var)
    if n and not case["op"].startswith("Resource"):
        attrs["_ref_vars"] = [f"state{i}" for i in range(n)]
    return k, inputs, attrs, variables


def _new_var(name):
    from tensorloupe.core.engine.resources import Variable
    return Variable(name)


@pytest.mark.parametrize("index", range(len(_data()[0]["cases"])), ids=_ids())
def test_kernel_matches_tensorflow(index):
    meta, arrays = _data()
    case = meta["cases"][index]
    ctx = _Ctx(node_name=case["op"])
    k, inputs, attrs, variables = _prepare(case, arrays, ctx)
    before = [np.array(x, copy=True) for x in inputs if isinstance(x, np.ndarray)]
    for x in inputs:          # kernels never write to their inputs
        if isinstance(x, np.ndarray):
            x.flags.writeable = False
    if "error" in case:
        held = [v.value for v in variables]
        with pytest.raises(ExecutionError) as info:
            k.fn(ctx, inputs, attrs)
        if case["op"] not in _OWN_WORDS:
            assert info.value.message == case["error"]
        for v, h in zip(variables, held):
            assert v.value is h, "a refused update changed a variable"
        return
    out = k.fn(ctx, inputs, attrs)
    if not isinstance(out, (list, tuple)):
        out = [out]
    want = [_array(d, arrays) for d in case["outputs"]]
    assert len(out) == len(want)
    if case["op"] == "EncodePng":
        _same_png(out[0], want[0], inputs[0])
        return
    for i, (got, exp) in enumerate(zip(out, want)):
        if case["note"].startswith("jpeg"):
            _close_jpeg(got, exp)
            continue
        assert_same(got, exp, f"output {i}")
    for i, (var, d) in enumerate(zip(variables, case.get("after", []))):
        assert_same(np.asarray(var.value), _array(d, arrays), f"variable {i} after the update")
    after = [x for x in inputs if isinstance(x, np.ndarray)]
    for x, b in zip(after, before):
        np.testing.assert_array_equal(x, b)


def test_every_recorded_op_is_registered():
    meta, _ = _data()
    missing = sorted({c["op"] for c in meta["cases"]} - set(registry.known_ops()))
    assert missing == []


@pytest.mark.parametrize("op", sorted(_data()[0]["opdefs"]))
def test_registration_matches_tensorflow_opdef(op):
    """Output arg names and attribute defaults equal TensorFlow's OpDef (SavedModels strip
    default-valued attributes; function bodies name outputs by arg)."""
    meta, arrays = _data()
    info = meta["opdefs"][op]
    k = registry.lookup(op)
    assert k is not None
    assert list(k.outputs) == info["outputs"]
    for name, enc in info["defaults"].items():
        assert name in k.defaults, f"{op}: no default for attribute {name}"
        want = _attr(enc, arrays)
        if isinstance(want, float):
            assert np.float32(k.defaults[name]) == np.float32(want), name
        else:
            assert k.defaults[name] == want, name


def test_unicode_script_table_is_tensorflows_for_every_code_point():
    """The table UnicodeScript ships agrees with what TensorFlow reported for each of the
    1,114,112 code points (recorded as ranges)."""
    want = json.loads((DATA / "unicode_scripts.json").read_text())
    k = registry.lookup("UnicodeScript")
    cps = np.arange(0x110000, dtype=np.int32)
    got = k.fn(_Ctx(), [cps], dict(k.defaults))
    starts = np.asarray(want["starts"])
    expect = np.repeat(np.asarray(want["scripts"], np.int32),
                       np.diff(np.append(starts, 0x110000)))
    np.testing.assert_array_equal(got, expect)


# ---------------------------------------------------------------- whole SavedModels

PREP_MODELS = ["prep_keras", "prep_tf_keras", "fc_module", "fc_keras"]


@pytest.mark.parametrize("model", PREP_MODELS)
def test_preprocessing_and_feature_column_exports_run_as_in_tensorflow(model):
    """Keras preprocessing layers (Hashing, StringLookup, IntegerLookup, TextVectorization,
    Discretization, CategoryEncoding, HashedCrossing) and tf.feature_column (bucketized,
    vocabulary list/file, hashed, identity, crossed; embedding and indicator columns) in
    a tf.Module or a tf.keras model give TensorFlow's outputs."""
    import tensorloupe.core as core
    from tests.core.engine.test_executor import load_run

    inputs, expected = load_run(DATA / "expected" / model / "run_serve__serving_default.npz")
    sm = core.open_saved_model(DATA / "saved_models" / model)
    assert sm.meta_graph().ops_used()
    out = sm.run_signature("serving_default", inputs)
    assert sorted(out) == sorted(expected)
    for key, want in expected.items():
        got = np.asarray(out[key])
        if want.dtype.kind == "S":
            assert got.dtype == object, key
            assert [bytes(x) for x in got.reshape(-1)] == [bytes(x) for x in want.reshape(-1)]
            assert got.shape == want.shape, key
        else:
            assert_same(got, want, f"{model} {key}")


@pytest.mark.parametrize("model", PREP_MODELS)
def test_scan_finds_nothing_unsupported_in_these_exports(model, capsys):
    from tensorloupe.command import main as cli_main
    code = cli_main(["scan", "--dir", str(DATA / "saved_models" / model), "--unsupported_ops"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "every op can be run by tensorloupe" in out


def test_scan_lists_every_supported_op_with_its_count(capsys):
    from tensorloupe.command import main as cli_main
    assert cli_main(["scan", "--list_supported_ops"]) == 0
    lines = capsys.readouterr().out.splitlines()
    ops = registry.known_ops()
    assert lines[-1] == f"{len(ops)} ops can be run by tensorloupe"
    assert [line.split(":", 1)[0] for line in lines[:-1]] == ops
    for op in ("UpperBound", "ResourceApplyAdam", "ApplyFtrlV2", "UnicodeDecode",
               "DecodePng", "SparseCross", "RaggedBincount"):
        assert op in ops


def test_image_ops_without_pillow_say_how_to_get_it(monkeypatch):
    import sys

    from tensorloupe.core.errors import UnsupportedError
    monkeypatch.setitem(sys.modules, "PIL", None)
    k = registry.lookup("DecodePng")
    with pytest.raises(UnsupportedError, match="pip install pillow"):
        k.fn(_Ctx(), [np.array(b"\x89PNG\r\n\x1a\n", dtype=object)], dict(k.defaults))


def test_image_size_is_checked_against_the_budget_before_decoding():
    k = registry.lookup("EncodePng")
    png = k.fn(_Ctx(), [np.zeros((64, 64, 3), np.uint8)], dict(k.defaults))
    d = registry.lookup("DecodePng")
    with pytest.raises(ExecutionError, match="refusing"):
        d.fn(_Ctx(limit=1000), [png], dict(d.defaults))
