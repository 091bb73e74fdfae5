"""The command line on hostile inputs: never the catch-all "internal error", never a
traceback, never a file from outside the model in its output.

Each input of tests/fixtures/data/hostile (TensorFlow-written, edited in one field; see
manifest.json) goes through the subcommands the manifest lists, in a subprocess, as a user
would run them. A refusal is one line on stderr and exit status 2.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tensorloupe.protos import meta_graph_pb2, saved_model_pb2

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "fixtures" / "data"
HOSTILE = DATA / "hostile"
MANIFEST = json.loads((HOSTILE / "manifest.json").read_text())["inputs"]


def tensorloupe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tensorloupe", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def assert_clean(proc: subprocess.CompletedProcess, command: str) -> str:
    """Exit 0, or exit 2 with exactly one line of error; returns that line (or "")."""
    assert "internal error" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 2), proc
    if proc.returncode == 0:
        return ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tensorloupe {command}: error: "), \
        proc.stderr
    return lines[0]


def _invocations():
    out = []
    for name, info in sorted(MANIFEST.items()):
        path = str(HOSTILE / info["path"])
        if info["kind"] == "checkpoint":
            out.append((name, ["inspect", "--file_name", path, "--all_tensors"]))
            out.append((name, ["inspect", "--file_name", path, "--tensor_name", info["key"]]))
            out.append((name, ["diff", path, path]))
        else:
            for command in info["commands"]:
                out.append((name, [command[0], "--dir", path, *command[1:]]))
    return out


INVOCATIONS = _invocations()


# What the one line says (it names the file and what is wrong), per input and subcommand.
REFUSALS = {
    # (refused for its size by the memory budget; without one, for its stored bytes)
    ("partitioned_huge", "inspect"): "partitioned_huge/model.ckpt.index: tensor 'emb'",
    ("tf2_node_id", "show"): "tf2_node_id/saved_model.pb: object graph child 'f' points at "
                             "node -2147483648",
    ("tf2_args_number", "show"): "tf2_args_number/saved_model.pb: concrete function",
    ("tf2_tout_float", "run"): "tf2_tout_float/saved_model.pb: node 'StatefulPartitionedCall"
                               "': attribute 'Tout' of op StatefulPartitionedCall is a float "
                               "(1.5), not a list",
    ("tf2_input_no_index", "run"): "' reads 'mul/ReadVariableOp:value:', which does not "
                                   "exist",
    ("tf1_restore_untyped", "run"): "tf1_restore_untyped/saved_model.pb: node 'save/RestoreV2"
                                    "': attribute 'dtypes' of op RestoreV2 is set but empty",
    ("tf1_nested_pbtxt", "show"): "saved_model.pbtxt: not a text-format SavedModel (messages "
                                  "are nested 154 levels deep; the limit is 100)",
    ("tf1_nested_pbtxt", "run"): "nested 154 levels deep",
    ("tf1_nested_pbtxt", "scan"): "nested 154 levels deep",
    ("tf1_nested_pb", "show"): "saved_model.pb: not a SavedModel protocol buffer",
}


@pytest.fixture(scope="module")
def outcomes() -> dict:
    """Every invocation's result, run a few at a time (each is a fresh interpreter)."""
    import concurrent.futures
    import os
    with concurrent.futures.ThreadPoolExecutor(max(2, os.cpu_count() or 2)) as pool:
        results = pool.map(lambda item: tensorloupe(*item[1]), INVOCATIONS)
        return {tuple(args): proc for (_, args), proc in zip(INVOCATIONS, results)}


@pytest.mark.parametrize("name,args", INVOCATIONS,
                         ids=[f"{n}-{a[0]}-{i}" for i, (n, a) in enumerate(INVOCATIONS)])
def test_hostile_input_never_reaches_the_catch_all(outcomes, name, args):
    proc = outcomes[tuple(args)]
    line = assert_clean(proc, args[0])
    tf_run = MANIFEST[name].get("tensorflow_run", {})
    if args[0] == "run" and "error" in tf_run:
        assert line, f"TensorFlow refuses to run {name} ({tf_run['error']}), so must we"
    if args[0] == "run" and "output" in tf_run:
        # TensorFlow runs it (the object graph and frame names do not matter to its TF1
        # loader): so do we, with its numbers.
        assert not line and "Result for output key y:" in proc.stdout
    expected = REFUSALS.get((name, args[0]))
    if expected is not None:
        assert expected in line, line


def test_frame_name_not_utf8_prints_what_tensorflow_computes():
    tf_out = MANIFEST["tf1_frame_not_utf8"]["tensorflow_run"]["output"]
    assert tf_out == [[0.125, 2.0, 24.0]]
    proc = tensorloupe("run", "--dir", str(HOSTILE / "models" / "tf1_frame_not_utf8"),
                       "--tag_set", "serve", "--signature_def", "serving_default",
                       "--input_exprs", "x=[[1.0, 2.0, 3.0]]")
    assert assert_clean(proc, "run") == ""
    assert proc.stdout == "Result for output key y:\n[[ 0.125  2.    24.   ]]\n"


# ---------------------------------------------------------------- never read outside the model

SECRET_WORD = "tensorloupe-private-word"


def _vocab_copy(tmp_path: Path) -> tuple[Path, Path]:
    model = tmp_path / "model"
    shutil.copytree(DATA / "saved_models" / "vocab_module", model)
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{SECRET_WORD}\nhello\n")
    return model, secret


def _rename_asset(model: Path, filename: str) -> None:
    pb = model / "saved_model.pb"
    proto = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    for mg in proto.meta_graphs:
        for a in mg.asset_file_def:
            a.filename = filename
    pb.write_bytes(proto.SerializeToString())


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_run_refuses_an_asset_outside_the_model(tmp_path, how):
    model, secret = _vocab_copy(tmp_path)
    if how == "absolute":
        _rename_asset(model, str(secret))
    elif how == "dotdot":
        _rename_asset(model, "../../secret.txt")
    else:
        (asset,) = (model / "assets").iterdir()
        asset.unlink()
        asset.symlink_to(secret)
    args = ["run", "--dir", str(model), "--tag_set", "serve", "--signature_def",
            "serving_default", "--input_exprs", f"text=['{SECRET_WORD}', 'hello']"]
    proc = tensorloupe(*args)
    line = assert_clean(proc, "run")
    assert proc.returncode == 2 and "Result for output key" not in proc.stdout
    assert "outside the model's assets/ or assets.extra/" in line and str(secret) in line
    # the model is still browsable
    proc = tensorloupe("show", "--dir", str(model), "--all")
    assert assert_clean(proc, "show") == "" and "serving_default" in proc.stdout
    assert SECRET_WORD not in proc.stdout


def test_inspect_refuses_a_variables_shard_outside_the_model(tmp_path):
    model, _ = _vocab_copy(tmp_path)
    (shard,) = (model / "variables").glob("variables.data-*")
    outside = tmp_path / shard.name
    shard.rename(outside)
    shard.symlink_to(outside)
    line = assert_clean(tensorloupe("inspect", "--file_name", str(model), "--all_tensors"),
                        "inspect")
    assert "the variables checkpoint file" in line and str(outside) in line
    line = assert_clean(tensorloupe("run", "--dir", str(model), "--tag_set", "serve",
                                    "--signature_def", "serving_default", "--input_exprs",
                                    "text=['hello']"), "run")
    assert str(outside) in line


def test_tf1_collection_asset_outside_the_model(tmp_path):
    """half_plus_two keeps its AssetFileDefs Any-packed in a collection (TF1 builder)."""
    model = tmp_path / "model"
    shutil.copytree(DATA / "saved_models" / "half_plus_two", model)
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{SECRET_WORD}\n")
    pb = model / "saved_model.pb"
    proto = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    for mg in proto.meta_graphs:
        for packed in mg.collection_def["saved_model_assets"].any_list.value:
            a = meta_graph_pb2.AssetFileDef.FromString(packed.value)
            a.filename = str(secret)
            packed.value = a.SerializeToString()
    pb.write_bytes(proto.SerializeToString())
    proc = tensorloupe("run", "--dir", str(model), "--tag_set", "serve", "--signature_def",
                       "lookup", "--input_exprs", f"words=['{SECRET_WORD}']")
    line = assert_clean(proc, "run")
    assert proc.returncode == 2 and "outside the model" in line and not proc.stdout
