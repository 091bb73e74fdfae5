"""`tensorloupe run --max_memory/--max_iterations/--timeout`, input expression caps, Ctrl+C.

The models are TensorFlow-written fixtures (tests/fixtures/build_budget.py); what is hostile
here is the input (a loop asked to run for ever, an expression of 2 GiB).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tensorloupe.command import main
from tensorloupe.core.engine.context import default_max_memory, size_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
MODELS = FIXTURES / "budget" / "models"
ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD = 60


def _run(args, capsys):
    code = main(["run", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _spin(*extra):
    return ["--dir", str(MODELS / "loops"), "--tag_set", "serve", "--signature_def", "spin",
            *extra]


def test_help_states_the_defaults(capsys):
    assert main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--max_memory SIZE" in text and "--max_iterations N" in text
    assert "--timeout SECONDS" in text
    assert f"at most 8 GiB: {size_text(default_max_memory())} here" in text
    assert "(default: 100000)" in text and "default: no limit; Ctrl+C" in text


@pytest.mark.parametrize("flag,value", [("--max_memory", "lots"), ("--max_memory", "-1G"),
                                        ("--max_iterations", "1.5"), ("--timeout", "soon"),
                                        ("--timeout", "-3")])
def test_bad_flag_values_are_usage_errors(capsys, flag, value):
    code, _, err = _run(_spin("--input_exprs", "n=3", flag, value), capsys)
    assert code == 2 and f"argument {flag}" in err


def test_flags_change_nothing_for_a_run_within_them(capsys):
    base = ["--dir", str(MODELS / "sized"), "--tag_set", "serve", "--signature_def", "tile",
            "--input_exprs", "x=np.array([1.0, 2.0], dtype=np.float32);k=3"]
    code, plain, _ = _run(base, capsys)
    assert code == 0
    code, limited, _ = _run(base + ["--max_memory", "16MiB", "--max_iterations", "10",
                                    "--timeout", "30"], capsys)
    assert code == 0 and limited == plain
    want = np.load(MODELS / "sized_expected.npz")["tile_t"]
    assert plain == f"Result for output key t:\n{want}\n"


def test_iteration_and_time_limits(capsys):
    code, out, err = _run(_spin("--input_exprs", "n=1000000000000", "--max_iterations", "50"),
                          capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "the limit is 50 loop iterations per run" in err
    code, _, err = _run(_spin("--input_exprs", "n=1000000000000", "--max_iterations", "0",
                              "--timeout", "0.5"), capsys)
    assert code == 2 and "time budget of 0.5 s" in err and "--timeout" in err


def test_memory_limit_names_the_node(capsys):
    code, _, err = _run(["--dir", str(MODELS / "sized"), "--tag_set", "serve",
                         "--signature_def", "zeros", "--input_exprs", "n=100000",
                         "--max_memory", "1GiB"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "node 'zeros' (Fill)" in err and "74.5 GiB" in err and "1.0 GiB" in err


def _measured(argv, timeout=HANG_GUARD) -> dict:
    child = ("import json, resource, subprocess, sys\n"
             "p = subprocess.run(sys.argv[2:], capture_output=True, text=True, "
             "timeout=float(sys.argv[1]))\n"
             "print(json.dumps({'rc': p.returncode, 'err': p.stderr, "
             "'kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n")
    p = subprocess.run([sys.executable, "-c", child, str(timeout), *argv], capture_output=True,
                       text=True, timeout=timeout + 30, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    r["mib"] = r["kib"] / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return r


def test_a_huge_input_expression_is_refused_before_it_is_made():
    r = _measured([sys.executable, "-m", "tensorloupe", "run", *_spin(
        "--input_exprs", "n=np.ones((134217728,), dtype=np.complex128)")])
    assert r["rc"] == 2 and r["err"].count("\n") == 1, r
    assert "134217728 elements of complex128 take 2.0 GiB" in r["err"], r
    assert r["mib"] < 300, r


def test_input_expressions_share_the_memory_budget(capsys):
    args = ["--dir", str(MODELS / "sized"), "--tag_set", "serve", "--signature_def", "outer",
            "--input_exprs", "a=np.ones((6000000, 1), dtype=np.float32);"
                             "b=np.ones((1, 6000000), dtype=np.float32)",
            "--max_memory", "40MiB"]
    code, _, err = _run(args, capsys)
    assert code == 2 and "left of the 40.0 MiB the --input_exprs values together" in err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_ctrl_c_stops_a_run():
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-m", "tensorloupe", "run",
                          *_spin("--input_exprs", "n=1000000000000", "--max_iterations", "0")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                         env=env)
    try:
        time.sleep(3)                 # well into the loop (start-up takes well under that)
        assert p.poll() is None, p.communicate()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=HANG_GUARD)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert err.strip() == "tensorloupe run: interrupted"
