"""`tensorloupe diff`: tables, JSON and exit status, against numpy ground truth computed from
the values TensorFlow read back from the diff fixtures (build_diff.py)."""
from __future__ import annotations

import json
import shutil

import pytest

from tensorloupe.command import main as cli_main
from tests.core.diff_truth import DIFF, keys, metrics, record, value

VARIANTS = DIFF / "variants"
KERAS = DIFF / "keras_run"
TF1 = DIFF / "tf1_run"


def run(capsys, *argv):
    code = cli_main(["diff", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def num(x):
    return float(x) if not isinstance(x, str) else float(x)


def test_json_of_a_pair_matches_numpy(capsys):
    code, out, _ = run(capsys, VARIANTS / "base", VARIANTS / "changed", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["summary"]["changed"] == 7 and data["summary"]["identical"] == 2
    assert len(data["variables"]) == len(keys("variants", "base"))
    for v in data["variables"]:
        truth = metrics(value("variants", "base", v["key_a"]), value("variants", "changed", v["key_b"]))
        assert v["changed"] == truth["changed"], v["name"]
        if "norm_a" in truth and v["status"] == "changed":
            for k in ("norm_a", "norm_b", "norm_diff", "max_abs_diff", "rel_change",
                      "rms_change"):
                assert num(v[k]) == pytest.approx(truth[k], rel=1e-5, abs=1e-7), (v["name"], k)
            for k in ("nan_a", "nan_b", "inf_a", "inf_b"):
                assert v[k] == truth[k]
    assert data["rank_by"] == "rms"
    ranked = [v["rms_change"] for v in data["variables"]
              if isinstance(v["rms_change"], float) and not v["counter"]]
    assert ranked == sorted(ranked, reverse=True)  # most changed first
    assert data["variables"][-1]["name"] == "net/step"  # the counter after everything
    assert data["counters"] == [{"name": "net/step", "a": 100, "b": 200}]
    by = {v["name"]: v for v in data["variables"]}
    assert by["net/emb"]["dtype_a"] == "bfloat16" and by["net/vocab"]["dtype_a"] == "string"


def test_text_table_most_changed_first_top_and_filter(capsys):
    code, out, _ = run(capsys, KERAS / "ckpt-1", KERAS / "ckpt-5")
    assert code == 1
    assert "Model variables, most changed first:" in out and "Optimizer state" in out
    assert "Layers, most changed first:" in out
    model = out.split("Model variables, most changed first:")[1].split("\n\n")[0].splitlines()[2:]
    names = [line.split()[0] for line in model]
    # numpy's ranking of the model variables by RMS change
    infos = record("keras_run")["checkpoints"]["ckpt-1"]["tensors"]
    truth = {}
    for key in infos:
        if "/.OPTIMIZER_SLOT/" in key or not key.startswith("model/"):
            continue
        m = metrics(value("keras_run", "ckpt-1", key), value("keras_run", "ckpt-5", key))
        if m["changed"]:
            truth[key.split("/.ATTRIBUTES/")[0]] = m["rms_change"]
    assert names == sorted(truth, key=lambda n: -truth[n])
    assert "model/layer_with_weights-0/kernel" not in out  # frozen: identical, not listed
    code, out, _ = run(capsys, KERAS / "ckpt-1", KERAS / "ckpt-5", "--top", "2")
    model = out.split("Model variables, most changed first:")[1].split("\n\n")[0].splitlines()
    assert [line.split()[0] for line in model[2:4]] == names[:2]
    assert model[4].strip() == f"... {len(names) - 2} more"
    code, out, _ = run(capsys, KERAS / "ckpt-1", KERAS / "ckpt-5", "--filter", "model/*/kernel",
                         "--json")
    data = json.loads(out)
    assert {v["name"] for v in data["variables"]} == {
        f"model/layer_with_weights-{i}/kernel" for i in (0, 1, 3)}
    code, out, _ = run(capsys, KERAS / "ckpt-1", KERAS / "ckpt-5", "--all")
    assert "model/layer_with_weights-0/kernel" in out and "save_counter" in out


def test_identical_checkpoints_exit_0(capsys):
    code, out, err = run(capsys, VARIANTS / "base", VARIANTS / "base")
    assert code == 0 and "The checkpoints are identical." in out and not err


def test_added_removed_reshaped_retyped_sections(capsys):
    code, out, _ = run(capsys, VARIANTS / "base", VARIANTS / "added")
    assert code == 1 and "Only in B:" in out and "net/extra" in out
    code, out, _ = run(capsys, VARIANTS / "base", VARIANTS / "removed")
    assert code == 1 and "Only in A:" in out and "net/dense/bias" in out.split("Only in A:")[1]
    code, out, _ = run(capsys, VARIANTS / "base", VARIANTS / "reshaped")
    assert code == 1
    shape = out.split("Shape changed:")[1]
    assert "net/dense/kernel  float32 [3, 4]  float32 [4, 3]" in shape
    assert "dtype int64 -> int32" in out


def test_renamed_with_map_and_prefixes(capsys, tmp_path):
    code, out, _ = run(capsys, VARIANTS / "base", VARIANTS / "renamed")
    assert code == 1 and "Only in A:" in out and "Only in B:" in out
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"net/dense/bias": "model/dense/offset"}))
    code, out, _ = run(capsys, VARIANTS / "base", VARIANTS / "renamed",
                       "--replace-prefix", "net/=model/", "--map", mapping)
    assert code == 0, out
    code, out, _ = run(capsys, VARIANTS / "base", VARIANTS / "renamed", "--strip-prefix", "net/",
                       "--strip-prefix", "model/")
    assert code == 1 and "net/dense/bias" in out and "model/dense/offset" in out
    assert "Shape changed" not in out and "Model variables" not in out


def test_series_json_drift_matches_numpy(capsys):
    code, out, _ = run(capsys, "--series", KERAS, "--json")
    assert code == 1
    data = json.loads(out)
    prefixes = record("keras_run")["prefixes"]
    assert [c["name"] for c in data["checkpoints"]] == prefixes
    assert sorted(data["frozen"]) == ["model/layer_with_weights-0/bias",
                                      "model/layer_with_weights-0/kernel"]
    key = "model/layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    drift = data["drift"]["model/layer_with_weights-1/kernel"]["from_first"]
    first = value("keras_run", prefixes[0], key)
    assert drift == pytest.approx([metrics(first, value("keras_run", p, key))["rms_change"]
                                   for p in prefixes], rel=1e-5)


def test_series_text_and_paths_list(capsys):
    code, text, _ = run(capsys, "--series", TF1)
    assert code == 1
    assert text.startswith("3 checkpoints, oldest first: model.ckpt-0, model.ckpt-5, model.ckpt-10")
    assert "Frozen (identical in every checkpoint):\n  frozen/table" in text
    assert "layer1/weights/Momentum" in text.split("Optimizer state")[1]
    code, listed, _ = run(capsys, *(TF1 / p for p in ("model.ckpt-0", "model.ckpt-5", "model.ckpt-10")))
    assert code == 1 and listed == text


def test_damaged_checkpoint_still_compares_the_rest(capsys, tmp_path):
    for f in VARIANTS.glob("changed.*"):
        shutil.copy(f, tmp_path / f.name)
    from tensorloupe.core.checkpoint import open_checkpoint
    with open_checkpoint(tmp_path / "changed") as r:
        offset = r.entry("net/dense/bias/.ATTRIBUTES/VARIABLE_VALUE").offset
    data = tmp_path / "changed.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[offset] ^= 0xFF
    data.write_bytes(bytes(raw))
    code, out, err = run(capsys, VARIANTS / "base", tmp_path / "changed")
    assert code == 2
    assert "Failed:\n  net/dense/bias: " in out and "crc32c" in out
    assert "net/dense/kernel" in out  # the readable variables are still compared
    assert err.strip() == ("tensorloupe diff: error: 1 variable(s) could not be compared "
                           "(listed under 'Failed')")


def test_errors_are_one_line_exit_2(capsys, tmp_path):
    code, out, err = run(capsys, VARIANTS / "base", tmp_path / "missing")
    assert code == 2 and not out and err.count("\n") == 1 and "no checkpoint here" in err
    (tmp_path / "junk.index").write_bytes(b"\x00" * 100)
    code, out, err = run(capsys, VARIANTS / "base", tmp_path / "junk")
    assert code == 2 and err.startswith("tensorloupe diff: error: ") and err.count("\n") == 1
    bad = tmp_path / "map.json"
    bad.write_text("[1]")
    code, out, err = run(capsys, VARIANTS / "base", VARIANTS / "renamed", "--map", bad)
    assert code == 2 and "mapping file" in err
    for argv in ([VARIANTS / "base"], ["--series", KERAS, VARIANTS / "base"],
                 [VARIANTS / "base", VARIANTS / "changed", "--top", "0"],
                 [VARIANTS / "base", VARIANTS / "changed", "--filter", "no/such/*"],
                 [VARIANTS / "base", VARIANTS / "changed", "--replace-prefix", "nonsense"]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and err.startswith("tensorloupe diff: error: "), argv


def test_global_step_of_a_tf1_run_is_listed(capsys):
    prefixes = record("tf1_run")["prefixes"]
    steps = [int(value("tf1_run", p, "global_step")) for p in prefixes]
    code, out, _ = run(capsys, TF1 / prefixes[0], TF1 / prefixes[-1])
    assert code == 1
    assert f"Counters: global_step {steps[0]} -> {steps[-1]}" in out.splitlines()
    assert "inf" not in out.split("Counters:")[1].splitlines()[0]
    code, out, _ = run(capsys, TF1 / prefixes[0], TF1 / prefixes[-1], "--json")
    data = json.loads(out)
    assert data["counters"] == [{"name": "global_step", "a": steps[0], "b": steps[-1]}]
    step = next(v for v in data["variables"] if v["name"] == "global_step")
    assert step["status"] == "changed" and step["counter"]
    assert (step["value_a"], step["value_b"]) == (steps[0], steps[-1])
    code, out, _ = run(capsys, "--series", TF1)
    assert "Counters: global_step " + " -> ".join(map(str, steps)) in out
    code, out, _ = run(capsys, "--series", TF1, "--json")
    assert json.loads(out)["counters"] == {"global_step": steps}


def test_keras_counters_and_scalars_read_as_values(capsys):
    code, out, _ = run(capsys, KERAS / "ckpt-1", KERAS / "ckpt-5")
    it = int(value("keras_run", "ckpt-1", "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE"))
    it5 = int(value("keras_run", "ckpt-5", "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE"))
    saves = [int(value("keras_run", p, "save_counter/.ATTRIBUTES/VARIABLE_VALUE"))
             for p in ("ckpt-1", "ckpt-5")]
    assert (f"Counters: optimizer/iter {it} -> {it5}, save_counter {saves[0]} -> {saves[1]}"
            in out.splitlines())
    tables = out.split("Counters:")[1].split("\n", 1)[1]
    assert "optimizer/iter" not in tables and "save_counter" not in tables and "∞" not in tables
    code, out, _ = run(capsys, VARIANTS / "base", VARIANTS / "changed", "--all")
    assert code == 1
    line = next(row for row in out.splitlines() if row.strip().startswith("net/dense/bias"))
    assert "identical" in line


@pytest.mark.parametrize("flag", ["--rank-by", "--rank_by"])
def test_rank_by_changes_the_order(capsys, flag):
    def model_names(out):
        table = out.split("Model variables, most changed first:")[1].split("\n\n")[0]
        return [line.split()[0] for line in table.splitlines()[2:]]
    infos = record("tf1_run")["checkpoints"]["model.ckpt-0"]["tensors"]
    truth = {}
    for key in infos:
        if key in ("global_step", "frozen/table") or "Momentum" in key:
            continue
        truth[key] = metrics(value("tf1_run", "model.ckpt-0", key),
                             value("tf1_run", "model.ckpt-10", key))
    for rank_by, measure in (("rms", "rms_change"), ("max_abs", "max_abs_diff")):
        code, out, _ = run(capsys, TF1 / "model.ckpt-0", TF1 / "model.ckpt-10", flag, rank_by)
        assert code == 1
        got = model_names(out)
        assert [truth[n][measure] for n in got] == sorted(
            (truth[n][measure] for n in got), reverse=True), rank_by
        assert set(got) == set(truth)
    code, out, _ = run(capsys, TF1 / "model.ckpt-0", TF1 / "model.ckpt-10", flag, "relative")
    assert set(model_names(out)[:2]) == {"layer1/biases", "layer2/biases"}  # A = 0: infinite
    assert "Ranked by relative change" in out
    code, out, err = run(capsys, TF1 / "model.ckpt-0", TF1 / "model.ckpt-10", flag, "bogus")
    assert code == 2 and "invalid choice: 'bogus'" in err and not out


def test_help_states_the_default_ranking(capsys):
    assert cli_main(["diff", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--rank-by {rms,relative,max_abs}" in text
    assert "rms (the default) = RMS(B-A) / max(RMS(A), RMS(B))" in text
