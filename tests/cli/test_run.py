"""`tensorloupe run` against `saved_model_cli run`'s recorded stdout (byte for byte)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tensorloupe.command import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
CLI_DIR = FIXTURES / "expected" / "engine_cli"
CASES = json.loads((CLI_DIR / "cases.json").read_text())


_NUMBER = re.compile(r"(?<![\w'])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w'])|\bnan\b|\binf\b")


def assert_same_printout(got: str, want: str) -> None:
    """Byte-equal text, except that float values computed in a different order may differ
    in their last bits: then the layout (every non-number character; runs of spaces collapsed and
    padding before ']' dropped, since numpy pads columns to the widest value) must match exactly and the
    numbers within float32 tolerance."""
    if got == want:
        return
    def skeleton(text):
        text = re.sub(r"[ ]+", " ", _NUMBER.sub("#", text))
        return text.replace(" ]", "]").replace("[ ", "[")
    assert skeleton(got) == skeleton(want), f"layout differs:\n{got}\n---\n{want}"
    g = np.array([float(x) for x in _NUMBER.findall(got)])
    w = np.array([float(x) for x in _NUMBER.findall(want)])
    np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_printout_comparison_is_strict_about_layout_and_values():
    assert_same_printout("[[1. 2.]]\n", "[[1. 2.]]\n")
    assert_same_printout("[0.3342635  0.5]\n", "[0.33426347 0.5]\n")
    with pytest.raises(AssertionError):
        assert_same_printout("[0.4 0.5]\n", "[0.3 0.5]\n")
    with pytest.raises(AssertionError):
        assert_same_printout("[[0.3 0.5]]\n", "[0.3 0.5]\n")
    with pytest.raises(AssertionError):
        assert_same_printout("[b'a' b'b']\n", "[b'a' b'c']\n")


def _argv(args, tmp_path):
    return ["run"] + [a.replace("{data}", str(FIXTURES)).replace("{tmp}", str(tmp_path))
                      for a in args]


@pytest.mark.parametrize("name", sorted(CASES))
def test_stdout_matches_saved_model_cli(name, tmp_path, capsys):
    code = main(_argv(CASES[name], tmp_path))
    out = capsys.readouterr().out
    assert code == 0, capsys.readouterr().err
    expected = (CLI_DIR / f"{name}.txt").read_text()
    assert_same_printout(out.replace(str(tmp_path), "{tmp}"), expected)


def test_outdir_files_and_overwrite_refusal(tmp_path, capsys):
    args = _argv(CASES["tf1_loop_outdir"], tmp_path)
    assert main(args) == 0
    capsys.readouterr()
    y = np.load(tmp_path / "out" / "y.npy")
    assert y.shape == (1, 3) and y.dtype == np.float32
    assert int(np.load(tmp_path / "out" / "steps.npy")) == 4
    # second time: refused, as saved_model_cli does, unless --overwrite
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err
    assert main(args + ["--overwrite"]) == 0


def test_pickle_refused_without_consent(tmp_path, capsys):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    args = ["run", "--dir", str(FIXTURES / "saved_models" / "keras_mlp"), "--tag_set", "serve",
            "--signature_def", "serving_default", "--inputs", f"features={path}"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--allow_pickle" in err and "Traceback" not in err


def test_precedence_examples_over_exprs_over_inputs(tmp_path, capsys):
    name = "half_plus_two_examples"
    npy = tmp_path / "x.npy"
    np.save(npy, np.array([b"junk"], dtype="S4"))
    args = _argv(CASES[name], tmp_path) + [
        "--inputs", f"inputs={npy}", "--input_exprs", "inputs=['also junk']"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert_same_printout(captured.out, (CLI_DIR / f"{name}.txt").read_text())
    assert "--input_examples will be used" in captured.err


def test_bad_key_and_missing_inputs_are_one_line_errors(capsys):
    base = ["run", "--dir", str(FIXTURES / "saved_models" / "keras_mlp"), "--tag_set", "serve",
            "--signature_def", "serving_default"]
    assert main(base) == 2
    assert "At least one of --inputs" in capsys.readouterr().err
    assert main(base + ["--input_exprs", "nope=[1]"]) == 2
    err = capsys.readouterr().err
    assert '"nope" is not a valid input key' in err and len(err.strip().splitlines()) == 1
    assert main(base + ["--input_exprs", "features=__import__('os')"]) == 2
    assert "not allowed" in capsys.readouterr().err


def test_trace_table_lists_executed_nodes(capsys):
    args = ["run", "--dir", str(FIXTURES / "saved_models" / "keras_mlp"), "--tag_set", "serve",
            "--signature_def", "serving_default", "--input_exprs", "features=np.ones((2,4))",
            "--trace"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Result for output key output_0:" in out
    assert "Trace:" in out and "MatMul" in out and "float32[2, 8]" in out
