"""What "most changed" means: rankings by RMS change (the default), relative change or max
|B-A|, counters reported by value, one-element variables by value, and drift curves for every
variable -- against numpy over the values TensorFlow read back from the diff fixtures."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tensorloupe.core.compare import (CHANGED, IDENTICAL, MAX_ABS, RELATIVE, RMS, compare,
                                      compare_series, format_values)
from tests.core.diff_truth import DIFF, metrics, record, value

KERAS = DIFF / "keras_run"
TF1 = DIFF / "tf1_run"
VARIANTS = DIFF / "variants"

MEASURES = {RMS: "rms_change", RELATIVE: "rel_change", MAX_ABS: "max_abs_diff"}


def truth_of(run: str, a: str, b: str, v) -> dict:
    return metrics(value(run, a, v.key_a), value(run, b, v.key_b))


@pytest.fixture(scope="module")
def keras_pair():
    prefixes = record("keras_run")["prefixes"]
    return prefixes[0], prefixes[-1], compare(KERAS / prefixes[0], KERAS / prefixes[-1])


@pytest.mark.parametrize("rank_by", [RMS, RELATIVE, MAX_ABS])
def test_keras_ranking_is_numpys_order(keras_pair, rank_by):
    a, b, result = keras_pair
    for group in ("model", "optimizer"):
        ranked = [v for v in result.sorted(group, rank_by) if not v.is_counter]
        got = [v.measure(rank_by) for v in ranked]
        want = [truth_of("keras_run", a, b, v)[MEASURES[rank_by]]
                if v.status != IDENTICAL else 0.0 for v in ranked]
        assert got == pytest.approx(want, rel=1e-5, abs=1e-9), (group, rank_by)
        assert want == sorted(want, reverse=True), (group, rank_by)


def test_rms_change_is_finite_and_bounded(keras_pair):
    _, _, result = keras_pair
    for v in result.variables:
        if v.rms_change is None:
            continue
        assert 0.0 <= v.rms_change <= 2.0 and math.isfinite(v.rms_change), v.name
        # a sign flip (cosine < 0) is more than a whole change
        if v.cosine is not None and v.cosine < 0:
            assert v.rms_change > 1.0, v.name


def test_slots_that_start_near_zero_no_longer_lead(keras_pair):
    a, b, result = keras_pair
    # Adam's second moment of the hidden bias is still almost zero after the first step (some
    # elements exactly zero): its relative change is hundreds of times its size, and that used
    # to head the optimizer's ranking.
    tiny = "optimizer/v/model/layer_with_weights-1/bias"
    v_a = value("keras_run", a, result.get(tiny).key_a)
    assert np.abs(v_a).max() < 1e-3 and np.count_nonzero(v_a == 0) >= 2
    by_relative = [v.name for v in result.sorted("optimizer", RELATIVE) if not v.is_counter]
    assert by_relative[0] == tiny
    by_rms = [v for v in result.sorted("optimizer") if not v.is_counter]
    assert by_rms[0].name != tiny
    # first now: the first moments that reversed direction
    assert by_rms[0].cosine < 0 and by_rms[1].cosine < 0
    assert result.get(tiny).rms_change == pytest.approx(
        truth_of("keras_run", a, b, result.get(tiny))["rms_change"], rel=1e-6)


def test_zero_initialised_variables_read_100_percent():
    result = compare(TF1 / "model.ckpt-0", TF1 / "model.ckpt-10")
    zero_start = []
    for v in result.variables:
        a = value("tf1_run", "model.ckpt-0", v.key_a)
        if v.status == CHANGED and not v.is_counter and not np.any(a):
            zero_start.append(v)
            assert v.rel_change == math.inf and v.rms_change == 1.0, v.name
    names = {v.name for v in zero_start}
    assert names == {"layer1/biases", "layer2/biases", "layer1/biases/Momentum",
                     "layer1/weights/Momentum", "layer2/biases/Momentum",
                     "layer2/weights/Momentum"}
    # Among them (all 100%), the one whose values moved furthest comes first.
    slots = [v for v in result.sorted("optimizer")]
    moved = [truth_of("tf1_run", "model.ckpt-0", "model.ckpt-10", v)["norm_diff"]
             / math.sqrt(v.num_elements) for v in slots]
    assert moved == sorted(moved, reverse=True)
    weights = result.get("layer2/weights")
    assert weights.rms_change == pytest.approx(
        truth_of("tf1_run", "model.ckpt-0", "model.ckpt-10", weights)["rms_change"], rel=1e-6)


def test_counters_are_reported_by_value_as_tensorflow_recorded():
    prefixes = record("keras_run")["prefixes"]
    series = compare_series(KERAS)
    counters = series.counters()
    assert set(counters) == {"optimizer/iter", "save_counter"}
    for name, key in (("optimizer/iter", "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE"),
                      ("save_counter", "save_counter/.ATTRIBUTES/VARIABLE_VALUE")):
        recorded = [int(value("keras_run", p, key)) for p in prefixes]
        assert counters[name] == recorded
        assert all(isinstance(x, int) for x in counters[name])
    last = series.from_first[-1]
    it = last.get("optimizer/iter")
    assert format_values(it) == f"{counters['optimizer/iter'][0]} -> {counters['optimizer/iter'][-1]}"
    # never summed into a layer, never at the top of a ranking
    assert all(s.layer != "optimizer" or s.changed_variables == 0 for s in last.layers())
    assert last.sorted("optimizer")[-1] is it

    tf1 = compare_series(TF1)
    steps = [int(value("tf1_run", p, "global_step")) for p in record("tf1_run")["prefixes"]]
    assert tf1.counters() == {"global_step": steps} and steps == [0, 5, 10]


def test_one_element_variables_have_their_values():
    prefixes = record("keras_run")["prefixes"]
    result = compare(KERAS / prefixes[0], KERAS / prefixes[-1])
    for name in ("optimizer/learning_rate", "optimizer/beta_1", "optimizer/beta_2"):
        v = result.get(name)
        a = value("keras_run", prefixes[0], v.key_a)
        b = value("keras_run", prefixes[-1], v.key_b)
        assert v.is_scalar and not v.is_counter
        # the shortest decimal that is the same float32
        assert np.float32(v.value_a) == a and np.float32(v.value_b) == b
        assert v.value_diff == 0
    variants = compare(VARIANTS / "base", VARIANTS / "changed")
    step = variants.get("net/step")
    assert (step.value_a, step.value_b, step.value_diff) == (100, 200, 100)
    assert not variants.get("net/scale").is_scalar  # four elements: not a scalar


def test_drift_for_every_variable_of_a_run():
    series = compare_series(TF1)
    prefixes = record("tf1_run")["prefixes"]
    for name in series.variable_names():
        drift = series.drift(name)
        assert all(x is not None and math.isfinite(x) for x in drift["from_first"]), name
        assert all(x is not None and math.isfinite(x) for x in drift["step"]), name
        v = series.from_first[-1].get(name)
        truth = metrics(value("tf1_run", prefixes[0], v.key_a),
                        value("tf1_run", prefixes[-1], v.key_b))
        want = truth["rms_change"] if truth["changed"] else 0.0
        assert drift["from_first"][-1] == pytest.approx(want, rel=1e-5), name
    # the classic measure is still there, infinite for what starts at zero
    assert series.drift("layer1/biases", RELATIVE)["from_first"][1] == math.inf
    assert series.values("global_step") == [0, 5, 10]
    assert series.values("layer1/weights") is None


def test_json_names_the_measure_and_the_counters():
    result = compare(TF1 / "model.ckpt-0", TF1 / "model.ckpt-10")
    data = json.loads(json.dumps(result.to_dict(RELATIVE)))
    assert data["rank_by"] == "relative"
    assert data["counters"] == [{"name": "global_step", "a": 0, "b": 10}]
    step = next(v for v in data["variables"] if v["name"] == "global_step")
    assert step["counter"] and step["value_a"] == 0 and step["value_b"] == 10
    assert data["variables"][-1]["name"] == "global_step"
    with pytest.raises(ValueError):
        result.to_dict("nonsense")
