"""The engine against TensorFlow: every recorded signature run of every fixture model.

Inputs and outputs were recorded by running the signatures in TensorFlow (see
tests/fixtures/build_saved_models.py and build_engine.py). float32 within rtol 1e-4 /
atol 1e-5, integers, booleans and strings exactly, shapes and dtypes always.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tensorloupe.core as core
from tensorloupe.core.engine.session import run_signature

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "data"


def _runs():
    out = []
    for f in sorted((FIXTURES / "expected").glob("*/run_*.npz")):
        model = f.parent.name
        if not (FIXTURES / "saved_models" / model).is_dir():
            continue
        tags, key = f.stem[len("run_"):].split("__", 1)
        out.append(pytest.param(model, tags, key, f, id=f"{model}-{tags}-{key}"))
    return out


def load_run(path: Path):
    """(inputs, expected outputs) of a recorded run; exact string bytes when recorded."""
    z = np.load(path)
    inputs, outputs = {}, {}
    for name in z.files:
        kind, _, key = name.partition("/")
        if kind == "in":
            inputs[key] = z[name]
        elif kind == "out":
            outputs[key] = z[name]
    for key in list(inputs):
        if f"inraw/{key}" in z.files:
            raw = z[f"inraw/{key}"].tobytes()
            lengths = z[f"inlen/{key}"]
            items, pos = [], 0
            for n in lengths:
                items.append(raw[pos:pos + int(n)])
                pos += int(n)
            arr = np.empty(len(items), dtype=object)
            arr[:] = items
            inputs[key] = arr.reshape(inputs[key].shape)
    return inputs, outputs


def assert_matches(got, want, what=""):
    got = np.asarray(got)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if want.dtype.kind == "S":
        assert got.dtype == object, f"{what}: dtype {got.dtype} is not a string tensor"
        assert [bytes(x) for x in got.reshape(-1)] == [bytes(x) for x in want.reshape(-1)], what
    elif want.dtype.kind in "fc":
        assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=what)
    else:
        assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
        np.testing.assert_array_equal(got, want, err_msg=what)


@pytest.mark.parametrize("model,tags,key,path", _runs())
def test_signature_matches_tensorflow(model, tags, key, path):
    inputs, expected = load_run(path)
    sm = core.open_saved_model(FIXTURES / "saved_models" / model)
    out = run_signature(sm, key, inputs, tags=tags.split("_"))
    assert sorted(out) == sorted(expected)
    for k, want in expected.items():
        assert_matches(out[k], want, f"{model} {key} {k}")


def test_api_names_on_saved_model_and_repeat_runs_reuse_the_session():
    sm = core.open_saved_model(FIXTURES / "saved_models" / "keras_mlp")
    inputs, expected = load_run(FIXTURES / "expected" / "keras_mlp" / "run_serve__serving_default.npz")
    first = sm.run_signature("serving_default", inputs)
    from tensorloupe.core.engine import session
    loaded = session.loaded(sm.meta_graph(None))
    assert loaded.restored
    second = sm.run_signature("serving_default", inputs, tags="serve")
    for k in expected:
        assert_matches(first[k], expected[k], k)
        np.testing.assert_array_equal(first[k], second[k])
    # .run by tensor names gives the same as the signature
    sig = sm.meta_graph().proto.signature_def["serving_default"]
    (in_key, in_info), = sig.inputs.items()
    (out_key, out_info), = sig.outputs.items()
    value = sm.run([out_info.name], {in_info.name: inputs[in_key]})[0]
    assert_matches(value, expected[out_key], "run by name")


def test_frozen_graph_runs_as_tensorflow_did():
    g = core.open_graph(FIXTURES / "saved_models" / "frozen_graph" / "frozen_graph.pb")
    z = np.load(FIXTURES / "saved_models" / "frozen_graph" / "expected_run.npz")
    assert_matches(g.run("probs:0", {"input:0": z["in/input:0"]}), z["out/probs:0"], "probs")
    gt = core.open_graph(FIXTURES / "saved_models" / "frozen_graph" / "frozen_graph.pbtxt")
    assert_matches(gt.run(["probs"], {"input": z["in/input:0"]})[0], z["out/probs:0"], "pbtxt")


@pytest.mark.parametrize("k", [0, 1, 2])
def test_tf1_meta_graph_with_checkpoint_and_v1_control_flow(k):
    g = core.open_graph(FIXTURES / "graphs" / "tf1_loop" / "model.ckpt.meta")
    z = np.load(FIXTURES / "graphs" / "tf1_loop" / f"expected_run_{k}.npz")
    y, steps = g.run(["y:0", "steps:0"], {"x:0": z["in/x:0"], "n:0": z["in/n:0"]})
    assert_matches(y, z["out/y:0"], "y")
    assert_matches(steps, z["out/steps:0"], "steps")


def test_feeding_an_intermediate_tensor_skips_its_producers():
    # Feed the parsed feature x (not a placeholder) as TF allows; y = 0.5 * x + 2.
    sm = core.open_saved_model(FIXTURES / "saved_models" / "half_plus_two")
    inputs, expected = load_run(FIXTURES / "expected" / "half_plus_two" / "run_serve__predict.npz")
    raw = inputs["x"]
    (y,) = sm.run(["y:0"], {"x:0": raw}, tags="serve")
    want = expected["y"]  # predict computes raw_y = a * raw_x + b with the same a, b
    assert_matches(y, want, "y fed through x:0")
