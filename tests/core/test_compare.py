"""core.compare against numpy ground truth computed from the values TensorFlow read back
(tests/fixtures/data/diff, written by build_diff.py)."""
from __future__ import annotations

import json
import math
import shutil
import threading

import pytest

from tensorloupe.core.compare import tuning as cmp
from tensorloupe.core.compare import (CHANGED, DTYPE_CHANGED, FAILED, IDENTICAL, ONLY_A, ONLY_B,
                          SHAPE_CHANGED, KeyMap, compare, compare_series)
from tensorloupe.core.errors import InputError, NotFoundError
from tensorloupe.core.stats import Cancelled
from tests.core.diff_truth import DIFF, keys, metrics, record, value

VARIANTS = DIFF / "variants"
KERAS = DIFF / "keras_run"
TF1 = DIFF / "tf1_run"


def check_against_truth(result, run: str, prefix_a: str, prefix_b: str) -> int:
    """Every common variable's metrics equal numpy's over TensorFlow's values."""
    checked = 0
    for v in result.variables:
        if not v.common or v.status in (SHAPE_CHANGED, FAILED):
            continue
        truth = metrics(value(run, prefix_a, v.key_a), value(run, prefix_b, v.key_b))
        assert v.changed == truth["changed"], v.name
        assert (v.status == IDENTICAL) == (truth["changed"] == 0 and v.status != DTYPE_CHANGED) \
            or v.status == DTYPE_CHANGED, v.name
        if "norm_a" not in truth:
            checked += 1
            continue
        if v.status == IDENTICAL:
            assert v.norm_diff == 0 and v.max_abs_diff == 0 and v.rel_change == 0
        else:
            for k in ("norm_a", "norm_b", "norm_diff", "max_abs_diff", "rel_change"):
                assert getattr(v, k) == pytest.approx(truth[k], rel=1e-5, abs=1e-7), (v.name, k)
            if truth["cosine"] is None:
                assert v.cosine is None
            else:
                assert v.cosine == pytest.approx(truth["cosine"], abs=2e-6), v.name
            for k in ("nan_a", "nan_b", "inf_a", "inf_b"):
                assert getattr(v, k) == truth[k], (v.name, k)
        checked += 1
    return checked


def test_changed_variant_matches_numpy():
    result = compare(VARIANTS / "base", VARIANTS / "changed")
    assert check_against_truth(result, "variants", "base", "changed") == len(keys("variants", "base"))
    by = {v.name: v for v in result.variables}
    assert by["net/dense/bias"].status == IDENTICAL
    assert by["net/mask"].status == IDENTICAL
    assert by["net/dense/kernel"].status == CHANGED
    assert 0 < by["net/dense/kernel"].changed < by["net/dense/kernel"].num_elements
    # a string changed: counted, no norms
    vocab = by["net/vocab"]
    assert (vocab.status, vocab.changed, vocab.norm_a) == (CHANGED, 1, None)
    # NaN and Inf appeared in B: counted, and left out of the norms
    scale = by["net/scale"]
    assert (scale.nan_a, scale.nan_b, scale.inf_a, scale.inf_b) == (0, 1, 0, 1)
    assert scale.changed == 2
    # bfloat16 and float16 are compared in float32
    assert by["net/emb"].dtype_a == "bfloat16" and by["net/half"].dtype_a == "float16"
    assert not result.identical


def test_same_checkpoint_is_identical_everywhere():
    result = compare(VARIANTS / "base", VARIANTS / "base")
    assert result.identical
    assert {v.status for v in result.variables} == {IDENTICAL}
    assert len(result.variables) == len(keys("variants", "base"))


def test_added_removed_reshaped_and_retyped():
    added = compare(VARIANTS / "base", VARIANTS / "added")
    only_b = [v for v in added.variables if v.status == ONLY_B]
    assert [v.name for v in only_b] == ["net/extra"]
    assert only_b[0].shape_b == (2, 3) and only_b[0].key_a is None
    assert added.count(IDENTICAL) == len(keys("variants", "base"))

    removed = compare(VARIANTS / "base", VARIANTS / "removed")
    assert [v.name for v in removed.variables if v.status == ONLY_A] == ["net/dense/bias"]

    reshaped = compare(VARIANTS / "base", VARIANTS / "reshaped")
    by = {v.name: v for v in reshaped.variables}
    kernel = by["net/dense/kernel"]
    assert (kernel.status, kernel.shape_a, kernel.shape_b) == (SHAPE_CHANGED, (3, 4), (4, 3))
    assert kernel.norm_diff is None
    step = by["net/step"]
    assert (step.status, step.dtype_a, step.dtype_b) == (DTYPE_CHANGED, "int64", "int32")
    assert step.changed == 0 and step.norm_diff == 0  # same value, measured across types
    check_against_truth(reshaped, "variants", "base", "reshaped")


def test_renamed_variables_align_through_a_key_map(tmp_path):
    plain = compare(VARIANTS / "base", VARIANTS / "renamed")
    assert plain.count(ONLY_A) == plain.count(ONLY_B) == len(keys("variants", "base"))

    by_prefix = compare(VARIANTS / "base", VARIANTS / "renamed",
                        keymap=KeyMap(replace_prefixes=[("net/", "model/")]))
    assert {v.name for v in by_prefix.variables if v.status != IDENTICAL} == \
        {"net/dense/bias", "model/dense/offset"}

    stripped = compare(VARIANTS / "base", VARIANTS / "renamed",
                       keymap=KeyMap(strip_prefixes=["net/", "model/"],
                                     pairs={"net/dense/bias": "model/dense/offset"}))
    assert stripped.identical
    bias = stripped.get("net/dense/bias")
    assert bias.name_b == "model/dense/offset"
    assert bias.key_b == "model/dense/offset/.ATTRIBUTES/VARIABLE_VALUE"

    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"replace_prefix": {"net/": "model/"},
                                   "rename": {"net/dense/bias": "model/dense/offset"}}))
    assert compare(VARIANTS / "base", VARIANTS / "renamed", keymap=KeyMap.from_file(mapping)).identical
    flat = tmp_path / "flat.json"  # plain {name in A: name in B}, keys or readable names
    flat.write_text(json.dumps({"net/dense/bias/.ATTRIBUTES/VARIABLE_VALUE": "model/dense/offset"}))
    result = compare(VARIANTS / "base", VARIANTS / "renamed", keymap=KeyMap.from_file(flat))
    assert result.get("net/dense/bias").status == IDENTICAL
    assert result.count(ONLY_A) == len(keys("variants", "base")) - 1


@pytest.mark.parametrize("text", ["[1, 2]", "{not json", '{"a": 3}', '{"strip_prefix": 5}'])
def test_bad_mapping_files_are_input_errors(tmp_path, text):
    path = tmp_path / "m.json"
    path.write_text(text)
    with pytest.raises(InputError):
        KeyMap.from_file(path)
    with pytest.raises(NotFoundError):
        KeyMap.from_file(tmp_path / "missing.json")


@pytest.mark.parametrize("i", range(4))
def test_keras_epochs_match_numpy_and_slots_are_grouped_apart(i):
    prefixes = record("keras_run")["prefixes"]
    a, b = prefixes[i], prefixes[i + 1]
    result = compare(KERAS / a, KERAS / b)
    assert check_against_truth(result, "keras_run", a, b) == len(result.variables)
    groups = {}
    for v in result.variables:
        groups.setdefault(v.group, set()).add(v.kind)
    assert groups == {"model": {"variable"}, "optimizer": {"slot", "optimizer"},
                      "other": {"other"}}
    slots = [v for v in result.variables if v.kind == "slot"]
    assert len(slots) == 12 and all(v.slot_of and v.slot_name in ("m", "v") for v in slots)
    head = result.get("model/layer_with_weights-3/kernel")
    assert head.layer == "head" and head.status == CHANGED
    # the frozen layer never moves; save_counter is bookkeeping, compared and reported by value
    assert result.get("model/layer_with_weights-0/kernel").status == IDENTICAL
    counter = result.get("save_counter")
    assert counter.status == CHANGED and counter.is_counter
    assert (counter.value_a, counter.value_b) == (int(value("keras_run", a, counter.key_a)),
                                                  int(value("keras_run", b, counter.key_b)))
    assert compare(KERAS / a, KERAS / b, include_other=False).get("save_counter") is None


def test_layer_aggregates_are_sums_over_their_variables():
    prefixes = record("keras_run")["prefixes"]
    result = compare(KERAS / prefixes[0], KERAS / prefixes[-1])
    layers = {(s.group, s.layer): s for s in result.layers()}
    head = layers[("model", "head")]
    members = [v for v in result.variables if v.layer == "head" and v.group == "model"]
    assert head.variables == len(members) == 2
    diff_sq = sum(metrics(value("keras_run", prefixes[0], v.key_a),
                          value("keras_run", prefixes[-1], v.key_b))["norm_diff"] ** 2
                  for v in members)
    assert head.sum_sq_diff == pytest.approx(diff_sq, rel=1e-5)
    assert head.params == 8 * 3 + 3 and head.params_changed == sum(v.changed for v in members)
    assert layers[("model", "frozen_dense")].rel_change == 0.0
    assert layers[("model", "frozen_dense")].rms_change == 0.0
    # the layer's variables as one vector: ||B - A|| / max(||A||, ||B||)
    sq_a = sum(metrics(value("keras_run", prefixes[0], v.key_a),
                       value("keras_run", prefixes[-1], v.key_b))["norm_a"] ** 2 for v in members)
    sq_b = sum(metrics(value("keras_run", prefixes[0], v.key_a),
                       value("keras_run", prefixes[-1], v.key_b))["norm_b"] ** 2 for v in members)
    assert head.rms_change == pytest.approx((diff_sq / max(sq_a, sq_b)) ** 0.5, rel=1e-5)
    for rank_by in ("rms", "relative", "max_abs"):
        ranked = [s.measure(rank_by) for s in result.layers(rank_by=rank_by)]
        assert ranked == sorted(ranked, reverse=True), rank_by
    # counters are reported by value, never summed into a layer
    assert all(s.layer != "optimizer" or s.changed_variables == 0 for s in result.layers())
    assert ("optimizer", "hidden [m]") in layers


def test_sorted_is_most_changed_first():
    result = compare(VARIANTS / "base", VARIANTS / "changed")
    ranked = [v for v in result.sorted() if not v.is_counter]
    rms = [v.rms_change for v in ranked if v.rms_change is not None]
    assert rms == sorted(rms, reverse=True) and rms[0] > 0
    assert result.sorted()[-1].name == "net/step"  # the counter last
    rels = [v.rel_change for v in result.sorted(rank_by="relative")
            if v.rel_change is not None and not v.is_counter]
    assert rels == sorted(rels, reverse=True)
    with pytest.raises(ValueError):
        result.sorted(rank_by="nonsense")


def test_series_of_a_keras_run_drift_and_frozen():
    series = compare_series(KERAS)
    prefixes = record("keras_run")["prefixes"]
    assert series.names == prefixes and series.steps == [1, 2, 3, 4, 5]
    assert len(series.consecutive) == len(series.from_first) == len(prefixes) - 1
    assert set(series.frozen()) == {"model/layer_with_weights-0/kernel",
                                    "model/layer_with_weights-0/bias"}
    name = "model/layer_with_weights-3/kernel"
    key = series.from_first[0].get(name).key_a
    first = value("keras_run", prefixes[0], key)
    for rank_by, measure in (("rms", "rms_change"), ("relative", "rel_change")):
        drift = series.drift(name, rank_by)
        for i, p in enumerate(prefixes):
            truth = metrics(first, value("keras_run", p, key))[measure]
            assert drift["from_first"][i] == pytest.approx(truth, rel=1e-5, abs=1e-9)
            if i:
                prev = value("keras_run", prefixes[i - 1], key)
                assert drift["step"][i] == pytest.approx(
                    metrics(prev, value("keras_run", p, key))[measure], rel=1e-5)
    assert drift["norm"][-1] == pytest.approx(metrics(first, value("keras_run", prefixes[-1], key))
                                              ["norm_b"], rel=1e-6)
    json.dumps(series.to_dict())  # serialisable


def test_series_of_a_tf1_run_with_global_steps():
    series = compare_series(TF1)
    assert series.steps == [0, 5, 10]
    assert series.frozen() == ["frozen/table"]
    c = series.from_first[-1]
    assert check_against_truth(c, "tf1_run", "model.ckpt-0", "model.ckpt-10") == len(c.variables)
    momentum = c.get("layer1/weights/Momentum")
    assert (momentum.group, momentum.kind, momentum.slot_of) == ("optimizer", "slot", "layer1/weights")
    step = c.get("global_step")  # bookkeeping, but it moved: compared, reported by value
    assert step.status == CHANGED and step.is_counter and (step.value_a, step.value_b) == (0, 10)
    with pytest.raises(InputError):
        compare_series([TF1 / "model.ckpt-0"])


def test_chunks_parts_and_threads_give_the_same_answer(monkeypatch):
    prefixes = record("keras_run")["prefixes"]
    a, b = KERAS / prefixes[0], KERAS / prefixes[-1]
    ref = {v.name: v.to_dict() for v in compare(a, b, workers=1).variables}
    monkeypatch.setattr(cmp, "CHUNK_ELEMENTS", 5)
    monkeypatch.setattr(cmp, "PART_BYTES", 40)   # 2 chunks per part, several parts per variable
    small = {v.name: v.to_dict() for v in compare(a, b, workers=3).variables}
    assert small.keys() == ref.keys()
    for name, d in ref.items():
        for k, x in d.items():
            y = small[name][k]
            if isinstance(x, float):
                assert y == pytest.approx(x, rel=1e-5, abs=1e-6), (name, k)
            else:
                assert y == x, (name, k)
    check_against_truth(compare(a, b, workers=2), "keras_run", prefixes[0], prefixes[-1])


def test_filter_progress_and_cancel():
    seen = []
    result = compare(KERAS / "ckpt-1", KERAS / "ckpt-2", name_filter="*kernel",
                     progress=lambda d, t: seen.append((d, t)))
    assert result.variables and all(v.name.endswith("kernel") for v in result.variables)
    assert seen[-1][0] == seen[-1][1] > 0
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        compare(KERAS / "ckpt-1", KERAS / "ckpt-2", cancel=stop)
    with pytest.raises(Cancelled):
        compare_series(KERAS, cancel=lambda: True)


# ---------------------------------------------------------------- damaged input


def copy_variant(tmp_path, name: str):
    for f in VARIANTS.glob(f"{name}.*"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path / name


def data_range(prefix, key):
    from tensorloupe.core.checkpoint import open_checkpoint
    with open_checkpoint(prefix) as r:
        e = r.entry(key)
        return e.offset, e.size


def test_flipped_bytes_are_caught_and_the_rest_compares(tmp_path):
    b = copy_variant(tmp_path, "changed")
    bias = "net/dense/bias/.ATTRIBUTES/VARIABLE_VALUE"  # identical to base before the damage
    offset, size = data_range(b, bias)
    data = tmp_path / "changed.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[offset + 1] ^= 0x40
    data.write_bytes(bytes(raw))
    result = compare(VARIANTS / "base", b)  # no verify asked: equal checksums, different bytes
    failed = result.failures
    assert [v.name for v in failed] == ["net/dense/bias"]
    assert "crc32c" in failed[0].error and "damaged" in failed[0].error
    rest = [v for v in result.variables if v.status != FAILED]
    assert len(rest) == len(keys("variants", "base")) - 1
    check_against_truth(result, "variants", "base", "changed")


def test_verify_checks_changed_tensors_too(tmp_path):
    b = copy_variant(tmp_path, "changed")
    key = "net/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    offset, _ = data_range(b, key)
    data = tmp_path / "changed.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[offset + 2] ^= 0x01
    data.write_bytes(bytes(raw))
    # Measured anyway only when checks are turned off (a forensic look at the damage).
    assert compare(VARIANTS / "base", b, verify=False).get("net/dense/kernel").status == CHANGED
    verified = compare(VARIANTS / "base", b)
    assert verified.get("net/dense/kernel").status == FAILED
    assert [v.name for v in verified.failures] == ["net/dense/kernel"]


def test_truncated_data_file_fails_only_the_tensors_past_the_end(tmp_path):
    b = copy_variant(tmp_path, "changed")
    data = tmp_path / "changed.data-00000-of-00001"
    cut = data_range(b, "net/half/.ATTRIBUTES/VARIABLE_VALUE")[0] + 3
    data.write_bytes(data.read_bytes()[:cut])
    result = compare(VARIANTS / "base", b)
    failed = {v.name for v in result.failures}
    assert "net/half" in failed
    for v in result.failures:
        assert "past the end" in v.error
    ok = [v for v in result.variables if v.status != FAILED]
    assert ok and len(ok) + len(failed) == len(keys("variants", "base"))
    check_against_truth(result, "variants", "base", "changed")


def test_missing_files(tmp_path):
    b = copy_variant(tmp_path, "changed")
    (tmp_path / "changed.data-00000-of-00001").unlink()
    result = compare(VARIANTS / "base", b)
    assert result.variables and all(v.status == FAILED for v in result.variables)
    assert "data file missing" in result.variables[0].error
    with pytest.raises(NotFoundError):
        compare(VARIANTS / "base", tmp_path / "nothing")


def test_json_form_has_no_nan():
    result = compare(VARIANTS / "base", VARIANTS / "changed")
    text = json.dumps(result.to_dict(), allow_nan=False)
    data = json.loads(text)
    assert data["summary"]["identical"] == 2 and not data["identical"]
    assert not any(isinstance(x, float) and math.isnan(x)
                   for v in data["variables"] for x in v.values())


CHECKPOINTS = DIFF.parent / "checkpoints"


@pytest.mark.parametrize("name,prefix", [("dtypes", "all_dtypes"), ("partitioned", "model.ckpt"),
                                         ("sharded_tf2", "ckpt"), ("sharded_tf1", "model.ckpt")])
def test_every_dtype_slices_and_shards_compare_with_themselves(name, prefix):
    """Strings, complex, unsigned, empty tensors, partitioned variables, several shards."""
    rec = json.loads((CHECKPOINTS / name / "tensorflow.json").read_text())["checkpoints"][prefix]
    keys_ = [k for k in rec["keys"] if k != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    result = compare(CHECKPOINTS / name / prefix, CHECKPOINTS / name / prefix, include_other=True)
    assert sorted(v.key_a for v in result.variables) == keys_
    assert result.identical and not result.failures
