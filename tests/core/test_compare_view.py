"""core.compare_view: what the comparison window says about a comparison, checked without Qt
against the values and facts TensorFlow recorded for the diff fixtures."""
from __future__ import annotations

import math

import pytest

import tensorloupe.core.compare as C
from tensorloupe.core import compare_view as V
from tensorloupe.core.checkpoint.names import NameInfo
from tensorloupe.core.compare import format_percent
from tests.core.diff_truth import DIFF, keys, metrics, record, value

VARIANTS = DIFF / "variants"
KERAS = DIFF / "keras_run"
TF1 = DIFF / "tf1_run"


@pytest.fixture(scope="module")
def variants():
    return C.compare(VARIANTS / "base", VARIANTS / "changed")


@pytest.fixture(scope="module")
def keras():
    return C.compare(KERAS / "ckpt-1", KERAS / "ckpt-5")


def tensor_facts(run: str, prefix: str, key: str) -> dict:
    return record(run)["checkpoints"][prefix]["tensors"][key]


# ---------------------------------------------------------------- small texts


def test_dims_text():
    assert V.dims_text((3, 4)) == "[3, 4]"
    assert V.dims_text((7,)) == "[7]"
    assert V.dims_text(()) == "[]"
    assert V.dims_text(None) == V.MISSING == "–"


def test_fraction_text():
    assert V.fraction_text(None) == "–"
    assert V.fraction_text(0.0) == "0.0%"
    assert V.fraction_text(0.0004) == "<0.1%"
    assert V.fraction_text(0.001) == "0.1%"
    assert V.fraction_text(0.25) == "25.0%"
    assert V.fraction_text(1.0) == "100.0%"


# ---------------------------------------------------------------- colour of a change


def test_change_colour_stops():
    assert V.change_rgb(0.0, C.IDENTICAL) == (236, 244, 236)
    assert V.change_rgb(None, C.IDENTICAL) == (236, 244, 236)   # identical wins over unknown
    assert V.change_rgb(None, C.CHANGED) is None
    assert V.change_rgb(math.nan, C.CHANGED) is None
    assert V.change_rgb(math.inf, C.CHANGED) == (165, 0, 38)
    for tiny in (0.0, 1e-9, 1e-6):
        assert V.change_rgb(tiny, C.CHANGED) == (255, 255, 255)
    assert V.change_rgb(1e-3, C.CHANGED) == (255, 236, 140)      # halfway up the log scale
    assert V.change_rgb(1.0, C.CHANGED) == (215, 48, 39)         # 100%
    assert V.change_rgb(250.0, C.CHANGED) == (215, 48, 39)       # and beyond
    # 10**-4.5 is halfway between white (1e-6) and yellow (1e-3)
    assert V.change_rgb(10 ** -4.5, C.CHANGED) == (255, 245, 197)


def test_change_colour_warms_with_the_change():
    rels = [10 ** (e / 4) for e in range(-28, 5)]
    colours = [V.change_rgb(r, C.CHANGED) for r in rels]
    for channel in range(3):
        values = [c[channel] for c in colours]
        assert values == sorted(values, reverse=True)
    assert len(set(colours)) > 20


def test_layer_colour(keras):
    layers = {s.layer: s for s in keras.layers(C.MODEL)}
    frozen = layers["frozen_dense"]
    assert frozen.changed_variables == 0
    assert V.layer_change_rgb(frozen) == V.change_rgb(0.0, C.IDENTICAL)
    head = layers["head"]
    assert V.layer_change_rgb(head) == V.change_rgb(head.rms_change, C.CHANGED)
    assert V.layer_change_rgb(head, C.RELATIVE) == V.change_rgb(head.rel_change, C.CHANGED)
    assert V.layer_change_rgb(head, C.MAX_ABS) == V.change_rgb(head.rms_change, C.CHANGED)


# ---------------------------------------------------------------- table rows


def test_rows_are_grouped_then_most_changed_first(keras):
    rows = V.table_rows(keras)
    assert len(rows) == len(keys("keras_run", "ckpt-1"))
    groups = [v.group for v in rows]
    assert set(groups) == {C.MODEL, C.OPTIMIZER, C.OTHER}
    assert groups == sorted(groups, key=[C.MODEL, C.OPTIMIZER, C.OTHER].index)
    for rank_by, measure in ((C.RMS, "rms_change"), (C.RELATIVE, "rel_change")):
        rows = V.table_rows(keras, rank_by)
        for group in (C.MODEL, C.OPTIMIZER):
            truth = []
            for v in rows:
                if v.group != group or v.is_counter:
                    continue
                m = metrics(value("keras_run", "ckpt-1", v.key_a),
                            value("keras_run", "ckpt-5", v.key_b))
                truth.append(m[measure] if m["changed"] else 0.0)
            assert truth == pytest.approx(sorted(truth, reverse=True), rel=1e-6)
        # counters close their group: iterations always move, and say nothing of the weights
        optimizer = [v for v in rows if v.group == C.OPTIMIZER]
        assert [v.name for v in optimizer if v.is_counter] == ["optimizer/iter"]
        assert optimizer[-1].name == "optimizer/iter"
    assert V.table_rows(None) == []


def test_cells_show_what_tensorflow_recorded(variants):
    for v in V.table_rows(variants):
        a_facts = tensor_facts("variants", "base", v.key_a)
        a = value("variants", "base", v.key_a)
        b = value("variants", "changed", v.key_b)
        truth = metrics(a, b)
        assert V.cell_text(v, "Name") == v.name
        assert V.cell_text(v, "Shape") == "[" + ", ".join(map(str, a_facts["shape"])) + "]"
        assert V.cell_text(v, "DType") == a_facts["dtype"]
        assert V.cell_text(v, "Changed") == f"{truth['changed'] / a.size * 100:.1f}%"
        if v.is_counter:  # the values, never a ratio
            a_int, b_int = int(a.reshape(-1)[0]), int(b.reshape(-1)[0])
            assert V.cell_text(v, "RMS change") == f"{a_int} → {b_int}", v.name
            assert V.cell_text(v, "Rel. change") == "–"
        elif "rel_change" in truth:
            rel = truth["rel_change"] if truth["changed"] else 0.0
            assert V.cell_text(v, "Rel. change") == format_percent(rel, missing="–"), v.name
            rms = truth["rms_change"] if truth["changed"] else 0.0
            assert V.cell_text(v, "RMS change") == format_percent(rms, missing="–"), v.name
        else:  # strings and booleans have no norms
            assert v.dtype_a in ("string", "bool")
        nonfinite = []
        for side in ("a", "b"):
            nan, inf = truth.get(f"nan_{side}", 0), truth.get(f"inf_{side}", 0)
            if nan or inf:
                nonfinite.append(f"{side.upper()} {nan}/{inf}")
        assert V.cell_text(v, "NaN/Inf") == ", ".join(nonfinite), v.name
    scale = variants.get("net/scale")
    assert V.cell_text(scale, "NaN/Inf") == "B 1/1"
    vocab = variants.get("net/vocab")
    assert V.cell_text(vocab, "Cosine") == "–" and V.cell_text(vocab, "‖A‖") == "–"


def test_status_cells_of_shape_dtype_and_missing_variables():
    reshaped = C.compare(VARIANTS / "base", VARIANTS / "reshaped")
    kernel = reshaped.get("net/dense/kernel")
    a_shape = tensor_facts("variants", "base", kernel.key_a)["shape"]
    b_shape = tensor_facts("variants", "reshaped", kernel.key_b)["shape"]
    assert a_shape != b_shape
    assert V.cell_text(kernel, "Status") == f"shape {V.dims_text(a_shape)} → {V.dims_text(b_shape)}"
    step = reshaped.get("net/step")
    a_type = tensor_facts("variants", "base", step.key_a)["dtype"]
    b_type = tensor_facts("variants", "reshaped", step.key_b)["dtype"]
    assert V.cell_text(step, "Status") == f"dtype {a_type} → {b_type}"

    added = C.compare(VARIANTS / "base", VARIANTS / "added").get("net/extra")
    facts = tensor_facts("variants", "added", added.key_b)
    assert V.cell_text(added, "Status") == C.ONLY_B
    assert V.cell_text(added, "Shape") == V.dims_text(facts["shape"])  # B's, as A has none
    assert V.cell_text(added, "DType") == facts["dtype"]
    assert V.cell_text(added, "Rel. change") == "–"
    assert V.no_details_reason(added) == "it is not in both checkpoints"
    assert V.no_details_reason(kernel) == "the shapes differ"
    assert not V.has_values(added) and not V.has_values(kernel) and V.has_values(step)


def test_sort_values(variants):
    rows = V.table_rows(variants)
    by_rel = sorted(rows, key=lambda v: V.sort_value(v, "Rel. change"), reverse=True)
    known = [v.rel_change for v in by_rel if v.rel_change is not None and not v.is_counter]
    assert known == sorted(known, reverse=True)
    by_rms = sorted(rows, key=lambda v: V.sort_value(v, "RMS change"), reverse=True)
    known = [v.rms_change for v in by_rms if v.rms_change is not None and not v.is_counter]
    assert known == sorted(known, reverse=True)
    assert V.sort_value(variants.get("net/step"), "RMS change") == -1.0  # the counter
    vocab = variants.get("net/vocab")  # strings: no relative change, sorted below everything
    assert V.sort_value(vocab, "Rel. change") == -1.0
    assert {v.name for v in by_rel[-2:]} == {"net/vocab", "net/step"}  # and the counter
    for v in rows:
        n = math.prod(tensor_facts("variants", "base", v.key_a)["shape"])
        assert V.sort_value(v, "Shape") == n
        assert V.sort_value(v, "Name") == v.name.lower()
    scale = variants.get("net/scale")
    assert V.sort_value(scale, "NaN/Inf") == 2.0


def test_filter_and_lookup(keras):
    rows = V.table_rows(keras)
    optimizer = [v for v in rows if V.row_matches(v, group=C.OPTIMIZER)]
    assert optimizer and all(v.name.startswith("optimizer/") for v in optimizer)
    changed = [v for v in rows if V.row_matches(v, changed_only=True)]
    assert all(v.status != C.IDENTICAL for v in changed)
    assert {v.layer for v in rows if V.row_matches(v, text="frozen")} == {"frozen_dense"}
    assert all(V.row_matches(v) for v in rows)
    kernel = "model/layer_with_weights-1/kernel"
    row = V.row_of(rows, kernel)
    assert rows[row].name == kernel
    assert V.row_of(rows, rows[row].key_a) == row
    assert V.row_of(rows, "no/such/variable") == -1


def test_tooltip_of_a_slot(keras):
    slot = keras.get("optimizer/m/model/layer_with_weights-1/kernel")
    lines = V.tooltip_text(slot).split("\n")
    assert lines[0] == slot.name
    assert f"A key: {slot.key_a}" in lines and f"B key: {slot.key_b}" in lines
    assert f"slot m of {slot.slot_of}" in lines


# ---------------------------------------------------------------- labels


def test_summary_and_failures(variants):
    assert V.summary_text(variants) == "9 variables: 7 changed, 2 identical"
    broken = [C.VariableDiff(name=f"v{i}", status=C.FAILED, error=f"bad {i}") for i in range(5)]
    assert V.failures_text(broken) == ("5 variable(s) could not be compared: "
                                       "v0: bad 0; v1: bad 1; v2: bad 2")


def test_detail_labels():
    assert [V.histogram_bins(n) for n in (0, 1, 25, 100, 1600, 10 ** 6)] == [10, 10, 10, 20, 80, 80]
    assert V.slice_label((4, 3)) == "" and V.slice_label((2, 4, 3)) == "Slice of [2, 4, 3]:"
    assert V.difference_title(()) == "B − A "
    assert V.difference_title((1, 0)) == "B − A [1, 0, :, :]"
    names = ["ckpt-1", "ckpt-2", "ckpt-3"]
    assert V.step_text(names, 2, from_first=True) == "ckpt-3  (ckpt-1 → ckpt-3)"
    assert V.step_text(names, 2, from_first=False) == "ckpt-3  (ckpt-2 → ckpt-3)"
    assert V.drift_percent([None, 0.5, math.inf])[1:2] == [50.0]
    assert all(math.isnan(x) for x in V.drift_percent([None, math.inf, math.nan]))


def test_layer_chart_data(keras):
    layers = keras.layers(C.MODEL)
    drawn = V.chart_layers(layers, limit=2)
    assert len(drawn) == 2 and all(math.isfinite(s.rel_change) for s in drawn)
    label = V.layer_label(drawn[0])
    assert label == f"{drawn[0].layer} ({drawn[0].params:,})"
    long = C.LayerSummary(group=C.MODEL, layer="a" * 10 + "/" + "b" * 30, params=1234567)
    assert V.layer_label(long) == "…" + long.layer[-27:] + " (1,234,567)"


def test_pair_or_series():
    a, b = str(VARIANTS / "base"), str(VARIANTS / "changed")
    assert V.is_pair([a, b])
    assert not V.is_pair([str(KERAS)])
    assert not V.is_pair([str(KERAS), str(TF1)])       # two directories: a series
    assert not V.is_pair([a, b, str(VARIANTS / "added")])


# ---------------------------------------------------------------- the browser's tree


def test_tree_labels_of_object_based_keys():
    for key in keys("keras_run", "ckpt-1"):
        labels = V.checkpoint_tree_labels(KERAS / "ckpt-1", key)
        # The key spells the object path: owner/.OPTIMIZER_SLOT/optimizer/<slot>/.ATTRIBUTES/...
        if "/.OPTIMIZER_SLOT/" in key:
            owner, rest = key.split("/.OPTIMIZER_SLOT/")
            assert labels == owner.split("/") + [rest.split("/")[1]], key
        else:
            assert labels == key.split("/.ATTRIBUTES/")[0].split("/"), key


def test_tree_labels_of_tf1_keys():
    prefix = record("tf1_run")["prefixes"][0]
    assert V.checkpoint_tree_labels(TF1 / prefix, "layer1/weights") == ["layer1", "weights"]
    # TF1 Momentum slots sit under their variable, named by slot
    assert V.checkpoint_tree_labels(TF1 / prefix, "layer1/weights/Momentum") == \
        ["layer1", "weights", "momentum"]


def test_tree_labels_without_names():
    assert V.tree_labels({}, "a/b/c") == ["a", "b", "c"]
    orphan = NameInfo("x/.OPT/m", "opt/m/x", "slot", slot_of="gone/var", slot_name="m")
    assert V.tree_labels({orphan.key: orphan}, orphan.key) == ["gone", "var", "m"]
