"""The tf.Example parse spec read from graphs TensorFlow wrote, and examples built from it.

Feature names, types, shapes and defaults are those the fixture builders gave
``tf.compat.v1.parse_example`` (tests/fixtures/build_saved_models.py: half_plus_two's
``x`` and ``x2`` with default [0.0]; build_engine.py: engine_linear's color/size/count).
Built examples are checked against the serialized examples TensorFlow fed and the outputs
it computed (tests/fixtures/data/expected/*/run_serve__*.npz).
"""
from __future__ import annotations

import numpy as np
import pytest

import tensorloupe.core as core
from tensorloupe.core.errors import InputError
from tensorloupe.core.example_spec import (build_example, build_examples, example_values,
                               find_example_specs, looks_like_examples, parse_values)
from tensorloupe.protos import example_pb2


def _mg(fixtures_dir, name):
    return core.open_saved_model(fixtures_dir / "saved_models" / name).meta_graph("serve")


def test_half_plus_two_spec(fixtures_dir):
    mg = _mg(fixtures_dir, "half_plus_two")
    for key in ("serving_default", "classify_x_to_y", "regress_x_to_y", "regress_x_to_y2"):
        specs = find_example_specs(mg, mg.signatures[key])
        assert list(specs) == ["inputs"], key
        spec = specs["inputs"]
        assert spec.op == "ParseExampleV2"
        assert [f.name for f in spec.features] == ["x", "x2"]
        x, x2 = spec.features
        assert (x.kind, x.type_name, x.shape) == ("dense", "float", (1,))
        assert x.required and x.default is None
        assert x2.has_default and not x2.required
        np.testing.assert_array_equal(x2.default, np.array([0.0], np.float32))


def test_signatures_without_parsing_have_no_spec(fixtures_dir):
    mg = _mg(fixtures_dir, "half_plus_two")
    assert find_example_specs(mg, mg.signatures["predict"]) == {}
    assert find_example_specs(mg, mg.signatures["lookup"]) == {}   # strings, but not examples
    # regress_x2_to_y3 takes the parsed float, not serialized examples.
    assert find_example_specs(mg, mg.signatures["regress_x2_to_y3"]) == {}


def test_linear_classifier_spec_string_int_float_defaults(fixtures_dir):
    mg = _mg(fixtures_dir, "engine_linear")
    spec = find_example_specs(mg, mg.signatures["serving_default"])["inputs"]
    by_name = {f.name: f for f in spec.features}
    assert sorted(by_name) == ["color", "count", "size"]
    assert by_name["color"].type_name == "string"
    assert list(by_name["color"].default) == [b"unknown"]
    assert by_name["count"].type_name == "int64"
    assert by_name["count"].default.tolist() == [0]
    assert by_name["size"].type_name == "float"
    assert by_name["size"].default.tolist() == [0.0]
    assert not any(f.required for f in spec.features)
    # The predict signature names its input "examples": found through the graph too.
    assert "examples" in find_example_specs(mg, mg.signatures["predict"])


@pytest.mark.parametrize("model,key", [("half_plus_two", "serving_default"),
                                       ("half_plus_two", "classify_x_to_y"),
                                       ("engine_linear", "serving_default")])
def test_rebuilt_examples_equal_tensorflows_and_give_its_outputs(fixtures_dir, model, key):
    data = np.load(fixtures_dir / "expected" / model / f"run_serve__{key}.npz")
    if "inlen/inputs" in data.files:   # strings with NUL bytes are stored raw + lengths
        raw, lengths = data["inraw/inputs"].tobytes(), data["inlen/inputs"]
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        tf_examples = [raw[offsets[i]:offsets[i + 1]] for i in range(len(lengths))]
    else:
        tf_examples = [bytes(s) for s in data["in/inputs"]]
    mg = _mg(fixtures_dir, model)
    spec = find_example_specs(mg, mg.signatures[key])["inputs"]
    rows = [example_values(s) for s in tf_examples]
    built = build_examples(spec, rows)
    for ours, theirs in zip(built, tf_examples):
        a, b = example_pb2.Example(), example_pb2.Example()
        a.ParseFromString(ours)
        b.ParseFromString(theirs)
        assert a == b
    sm = core.open_saved_model(fixtures_dir / "saved_models" / model)
    out = sm.run_signature(key, {"inputs": built}, tags="serve")
    for name in data.files:
        if name.startswith("out/"):
            want = data[name]
            got = out[name[4:]]
            if want.dtype.kind == "S":
                assert [bytes(v) for v in np.asarray(got).reshape(-1)] == \
                    [bytes(v) for v in want.reshape(-1)]
            else:
                np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_missing_feature_takes_the_graph_default(fixtures_dir):
    mg = _mg(fixtures_dir, "half_plus_two")
    spec = find_example_specs(mg, mg.signatures["regress_x_to_y2"])["inputs"]
    sm = core.open_saved_model(fixtures_dir / "saved_models" / "half_plus_two")
    with_default = build_examples(spec, [{"x": [1.0]}])
    explicit = build_examples(spec, [{"x": [1.0], "x2": [0.0]}])
    a = sm.run_signature("regress_x_to_y2", {"inputs": with_default}, tags="serve")
    b = sm.run_signature("regress_x_to_y2", {"inputs": explicit}, tags="serve")
    np.testing.assert_array_equal(a["outputs"], b["outputs"])


def test_bad_values_are_refused(fixtures_dir):
    mg = _mg(fixtures_dir, "engine_linear")
    spec = find_example_specs(mg, mg.signatures["serving_default"])["inputs"]
    count = spec.feature("count")
    assert parse_values(count, "3") == [3]
    assert parse_values(count, "") is None
    with pytest.raises(InputError, match="count"):
        parse_values(count, "three")
    with pytest.raises(InputError, match="1 value"):
        build_example(spec, {"count": [1, 2]})
    with pytest.raises(InputError, match="no feature|does not read"):
        build_example(spec, {"colour": [b"red"]})
    assert parse_values(spec.feature("color"), "light blue, dark") == [b"light blue, dark"]
    h = _mg(fixtures_dir, "half_plus_two")
    hspec = find_example_specs(h, h.signatures["serving_default"])["inputs"]
    with pytest.raises(InputError, match="'x' has no default"):
        build_example(hspec, {"x2": [1.0]})


def test_looks_like_examples(fixtures_dir):
    mg = _mg(fixtures_dir, "half_plus_two")
    assert looks_like_examples("inputs", mg.signatures["classify_x_to_y"])
    assert not looks_like_examples("words", mg.signatures["lookup"])
