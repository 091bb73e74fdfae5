"""Hostile inputs end in one typed, one-line error (or run as TensorFlow runs them).

Every input is a model or checkpoint TensorFlow wrote, edited in one place by
tests/fixtures/build_hostile.py (see its manifest.json: the edit, and what TensorFlow's own
loader did with the result), or edited here. Each used to escape as another exception:
ValueError, IndexError, TypeError, MemoryError, UnicodeDecodeError or RecursionError.

The variable-write cases compare with what TensorFlow's kernels did for the same graphs
(hostile/assign/cases.json): the same refusals, in TensorFlow's words, and the same value
in the variable afterwards.
"""
from __future__ import annotations

import json
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import tensorloupe.core as core
from tensorloupe.core import tensors
from tensorloupe.core.engine.session import Session, unsupported_ops
from tensorloupe.core.errors import (ExecutionError, FormatError, TensorloupeError,
                                     UnsupportedError)
from tensorloupe.protos import graph_pb2, saved_model_pb2

HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "hostile"
MODELS = HOSTILE.parent / "saved_models"
MANIFEST = json.loads((HOSTILE / "manifest.json").read_text())["inputs"]
X = {"x": np.array([[1.0, 2.0, 3.0]], np.float32)}


def path_of(name: str) -> Path:
    return HOSTILE / MANIFEST[name]["path"]


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text and "Traceback" not in text
    return text


def tensorflow_output(name: str) -> np.ndarray:
    return np.asarray(MANIFEST[name]["tensorflow_run"]["output"], np.float32)


def run(name: str) -> dict:
    with core.open_saved_model(path_of(name)) as sm:
        return sm.run_signature("serving_default", X)


# ---------------------------------------------------------------- 1, 2: shapes numpy cannot hold

def test_zero_by_huge_tensor_lists_but_is_not_read():
    """(0, 2**62) float32: valid for TensorFlow (no element), beyond numpy's index type."""
    info = MANIFEST["zero_by_huge"]
    with core.open_checkpoint(path_of("zero_by_huge")) as r:
        assert r.shape(info["key"]) == (0, 2 ** 62)
        assert r.num_elements(info["key"]) == 0 and r.nbytes(info["key"]) == 0
        for read in (r.read, r.array):
            with pytest.raises(UnsupportedError) as err:
                read(info["key"])
            assert "[0, 4611686018427387904], which numpy cannot hold" in one_line(err.value)
            assert err.value.path == r.index_path


def test_rank_65_tensor_lists_but_is_not_read():
    info = MANIFEST["rank65"]
    with core.open_checkpoint(path_of("rank65")) as r:
        assert r.shape(info["key"]) == (1,) * 65
        with pytest.raises(UnsupportedError, match="has 65 dimensions; numpy arrays have at "
                                                   "most 64") as err:
            r.read(info["key"])
        one_line(err.value)


@pytest.mark.parametrize("dims,error,words", [
    ((0, 2 ** 62), UnsupportedError, "which numpy cannot hold"),
    ((1,) * 65, UnsupportedError, "65 dimensions; numpy arrays have at most 64"),
    ((1,) * 255, FormatError, "255 dimensions; TensorFlow allows at most 254"),
    ((2 ** 32, 2 ** 32, 2 ** 32), FormatError, "more than 2**63 - 1 elements"),
    ((3, -2), FormatError, "negative dimension -2"),
])
def test_constant_with_a_shape_out_of_bounds(tmp_path, dims, error, words):
    """A float constant of half_plus_two (TF1), its shape edited: decoding refuses it before
    anything is allocated, and fetching it says which node."""
    model = tmp_path / "m"
    shutil.copytree(MODELS / "half_plus_two", model)
    pb = model / "saved_model.pb"
    proto = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    const = next(n for n in proto.meta_graphs[0].graph_def.node
                 if n.name == "a/Initializer/initial_value")
    tensor = const.attr["value"].tensor
    assert tensor.dtype == 1 and not tensor.tensor_shape.dim
    tensor.tensor_shape.Clear()
    for d in dims:
        tensor.tensor_shape.dim.add(size=d)
    with pytest.raises(error) as err:
        tensors.to_numpy(tensor)
    assert words in one_line(err.value)
    pb.write_bytes(proto.SerializeToString())
    with core.open_saved_model(model) as sm:
        with pytest.raises(TensorloupeError) as err:
            sm.run(f"{const.name}:0", tags="serve")
    # (the run's memory budget may speak first for a shape that is merely huge)
    assert f"node '{const.name}'" in one_line(err.value)


# ---------------------------------------------------------------- 3: a partitioned giant

def test_partitioned_variable_claiming_4_tib_is_refused_before_allocating():
    """The index says (2**38, 4) float32 and its two slices (2**38, 2); the data file holds
    the 32 bytes TensorFlow wrote. Past the memory budget the read is refused for its size;
    with no budget at all, because the slices' stored bytes cannot hold their shapes.
    Either way before anything is allocated."""
    from tensorloupe.core.engine.context import RunOptions, run_scope
    info = MANIFEST["partitioned_huge"]
    with core.open_checkpoint(path_of("partitioned_huge")) as r:
        assert r.shape(info["key"]) == (2 ** 38, 4)
        tracemalloc.start()
        try:
            with pytest.raises(TensorloupeError) as budget:
                r.read(info["key"])
            with run_scope(RunOptions(max_memory=0)):   # 0: no memory limit
                with pytest.raises(FormatError) as damaged:
                    r.read(info["key"])
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 64 << 20   # (imports of the first read included) nothing near 4 TiB
    assert "'emb'" in one_line(budget.value)
    text = one_line(damaged.value)
    assert "slice 0,274877906944:0,2 of partitioned tensor 'emb': its shape needs " \
           "2199023255552 bytes but 16 are stored" in text
    assert damaged.value.path.endswith("model.ckpt.index")


# ---------------------------------------------------------------- 4, 5: the object graph

def test_object_graph_child_at_a_negative_node():
    with core.open_saved_model(path_of("tf2_node_id")) as sm:
        with pytest.raises(FormatError) as err:
            sm.meta_graphs[0].concrete_functions()
        text = one_line(err.value)
        assert "child 'f' points at node -2147483648" in text
        assert err.value.path == str(sm.file)
        assert sm.meta_graphs[0].signatures  # the rest still reads
    # TensorFlow's TF1 loader does not look at the object graph, and runs it; so do we.
    np.testing.assert_allclose(run("tf2_node_id")["y"], tensorflow_output("tf2_node_id"))
    assert "error" in MANIFEST["tf2_node_id"]["tensorflow_load"]


def test_input_signature_whose_arguments_are_a_number():
    with core.open_saved_model(path_of("tf2_args_number")) as sm:
        with pytest.raises(FormatError) as err:
            sm.meta_graphs[0].concrete_functions()
        text = one_line(err.value)
        assert "positional arguments as int 7, not a tuple" in text
        assert err.value.path == str(sm.file)
    np.testing.assert_allclose(run("tf2_args_number")["y"],
                               tensorflow_output("tf2_args_number"))


# ---------------------------------------------------------------- 6, 7, 8: graph attributes

def test_call_op_whose_tout_is_a_float():
    assert "error" in MANIFEST["tf2_tout_float"]["tensorflow_run"]   # TensorFlow refuses too
    with pytest.raises(FormatError) as err:
        run("tf2_tout_float")
    text = one_line(err.value)
    assert "attribute 'Tout' of op StatefulPartitionedCall is a float (1.5), not a list" in text
    assert err.value.path == str(path_of("tf2_tout_float") / "saved_model.pb")


def test_restore_whose_dtypes_is_set_but_empty():
    assert "dtypes" in MANIFEST["tf1_restore_untyped"]["tensorflow_run"]["error"]
    with pytest.raises(FormatError) as err:
        run("tf1_restore_untyped")
    text = one_line(err.value)
    assert "node 'save/RestoreV2': attribute 'dtypes' of op RestoreV2 is set but empty" in text
    assert err.value.path.endswith("saved_model.pb")


def test_restore_whose_dtypes_is_missing(tmp_path):
    model = tmp_path / "m"
    shutil.copytree(path_of("tf1_restore_untyped"), model)
    pb = model / "saved_model.pb"
    proto = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    restore = next(n for n in proto.meta_graphs[0].graph_def.node if n.op == "RestoreV2")
    del restore.attr["dtypes"]
    pb.write_bytes(proto.SerializeToString())
    with core.open_saved_model(model) as sm:
        with pytest.raises(ExecutionError, match="names, .* slices and 0 dtypes do not match"):
            sm.run_signature("serving_default", X)


def test_function_input_with_an_empty_output_index():
    tf_says = MANIFEST["tf2_input_no_index"]["tensorflow_run"]["error"]
    assert "mul/ReadVariableOp:value: is not found" in tf_says
    with pytest.raises(ExecutionError) as err:
        run("tf2_input_no_index")
    assert "reads 'mul/ReadVariableOp:value:', which does not exist" in one_line(err.value)


@pytest.mark.parametrize("bad", ["mul/ReadVariableOp:value:x", "mul/ReadVariableOp:value:-1",
                                 "mul/ReadVariableOp:value:0:0"])
def test_other_malformed_function_inputs(tmp_path, bad):
    model = tmp_path / "m"
    shutil.copytree(path_of("tf2_input_no_index"), model)
    pb = model / "saved_model.pb"
    proto = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    for fn in proto.meta_graphs[0].graph_def.library.function:
        for node in fn.node_def:
            node.input[:] = [bad if i == "mul/ReadVariableOp:value:" else i for i in node.input]
    pb.write_bytes(proto.SerializeToString())
    with core.open_saved_model(model) as sm:
        with pytest.raises(ExecutionError, match="which does not exist"):
            sm.run_signature("serving_default", X)


def test_graph_input_with_an_empty_index(tmp_path):
    """"raw_y:" in a GraphDef names no output (it used to mean output 0)."""
    model = tmp_path / "m"
    shutil.copytree(MODELS / "half_plus_two", model)
    pb = model / "saved_model.pb"
    proto = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    proto.meta_graphs[0].signature_def["predict"].outputs["y"].name = "raw_y:"
    pb.write_bytes(proto.SerializeToString())
    with core.open_saved_model(model) as sm:
        with pytest.raises(TensorloupeError, match="tensor 'raw_y:' does not exist"):
            sm.run_signature("predict", {"x": [[1.0]]}, tags="serve")


# ---------------------------------------------------------------- 9: frame names are bytes

def test_loop_frame_name_that_is_not_utf8_runs_as_in_tensorflow():
    np.testing.assert_allclose(run("tf1_frame_not_utf8")["y"],
                               tensorflow_output("tf1_frame_not_utf8"))


# ---------------------------------------------------------------- 10: nesting

def test_text_model_nested_too_deeply():
    assert "error" in MANIFEST["tf1_nested_pbtxt"]["tensorflow_run"]
    with pytest.raises(FormatError) as err:
        core.open_saved_model(path_of("tf1_nested_pbtxt"))
    assert "nested 154 levels deep; the limit is 100" in one_line(err.value)
    assert err.value.path.endswith("saved_model.pbtxt")


def test_binary_model_nested_too_deeply():
    assert "MaxDepth" in MANIFEST["tf1_nested_pb"]["tensorflow_run"]["error"]
    with pytest.raises(FormatError, match="not a SavedModel protocol buffer") as err:
        core.open_saved_model(path_of("tf1_nested_pb"))
    one_line(err.value)


def test_nesting_far_past_the_stack_is_measured_not_parsed(tmp_path):
    """Deep enough to exhaust Python's stack inside protobuf's text parser."""
    model = tmp_path / "m"
    shutil.copytree(path_of("tf1_nested_pbtxt"), model)
    text = (model / "saved_model.pbtxt").read_text()
    deep = "experimental_type { " + "args { " * 5000 + "}" * 5000 + " }"
    text = text.replace("experimental_type {", deep + "\n    experimental_type {", 1)
    (model / "saved_model.pbtxt").write_text(text)
    with pytest.raises(FormatError, match="nested 50.. levels deep"):
        core.open_saved_model(model)


def test_text_graph_nested_too_deeply(tmp_path):
    """A .pbtxt GraphDef (frozen_graph's, as TensorFlow wrote it) with one node more, whose
    full type nests 3000 levels: it used to exhaust the stack inside the parser."""
    text = (MODELS / "frozen_graph" / "frozen_graph.pbtxt").read_text()
    at = text.index("node {")
    deep = ('node { name: "deep" op: "NoOp" experimental_type { ' + "args { " * 3000
            + "}" * 3000 + " } }\n")
    path = tmp_path / "deep.pbtxt"
    path.write_text(text[:at] + deep + text[at:])
    with pytest.raises(FormatError) as err:
        core.open_graph(path)
    assert "not a text-format GraphDef (messages are nested 3002 levels deep; the limit is " \
           "100)" in one_line(err.value)


def test_nesting_depth_ignores_strings_and_comments():
    from tensorloupe.protos.text import nesting_depth, parse
    assert nesting_depth('a { s: "{{{" t: \'<<\' } # {{{\n b < c { } >') == 2
    assert nesting_depth('s: "\\" {" x { }') == 1
    from google.protobuf import text_format
    from tensorloupe.protos import struct_pb2
    with pytest.raises(text_format.ParseError, match="nested 101 levels"):
        parse("list_value { values { " * 50 + "none_value {}" + " } }" * 50,
              struct_pb2.StructuredValue())
    value = parse("list_value { values { " * 49 + "none_value {}" + " } }" * 49,
                  struct_pb2.StructuredValue())
    assert value.list_value.values[0].list_value.values


# ---------------------------------------------------------------- every surface, every input

def _exercise(name: str) -> list[str]:
    """Everything core offers on the input; returns the typed errors' messages."""
    info = MANIFEST[name]
    errors = []

    def attempt(call):
        try:
            call()
        except TensorloupeError as exc:
            errors.append(one_line(exc))

    if info["kind"] == "checkpoint":
        with core.open_checkpoint(path_of(name)) as r:
            for key in r.keys():
                for call in (r.shape, r.dtype, r.nbytes, r.read, r.array):
                    attempt(lambda c=call, k=key: c(k))
            attempt(r.verify)
            attempt(r.readable_names)
        return errors
    try:
        sm = core.open_saved_model(path_of(name))
    except TensorloupeError as exc:
        return [one_line(exc)]
    with sm:
        for mg in sm.meta_graphs:
            for call in (mg.summary, mg.concrete_functions, lambda g=mg: g.asset_file_defs,
                         mg.ops_used, lambda g=mg: g.signatures, lambda g=mg: unsupported_ops(g)):
                attempt(call)
        attempt(sm.summary)
        attempt(lambda: sm.variables)
        attempt(lambda: sm.run_signature("serving_default", X))
    return errors


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_only_typed_errors_anywhere(name):
    errors = _exercise(name)
    tf_run = MANIFEST[name].get("tensorflow_run", {})
    if "error" in tf_run:
        assert errors, f"TensorFlow refuses {name}: {tf_run['error']}"


# ---------------------------------------------------------------- variable writes vs TensorFlow

ASSIGN = HOSTILE / "assign"
ASSIGN_CASES = json.loads((ASSIGN / "cases.json").read_text())["cases"]
ASSIGN_ARRAYS = np.load(ASSIGN / "cases.npz")


@pytest.mark.parametrize("case", ASSIGN_CASES, ids=[c["name"] for c in ASSIGN_CASES])
def test_variable_writes_refused_and_kept_as_tensorflow_does(case):
    graph = graph_pb2.GraphDef.FromString((ASSIGN / case["graph"]).read_bytes())
    sess = Session(graph)
    if case["init"]:
        sess.run([], {}, [case["init"]])
    value = ASSIGN_ARRAYS[f"{case['name']}/value"]
    if case["error"] is None:
        sess.run([], {case["feed"]: value}, [case["update"]])
    else:
        with pytest.raises(ExecutionError) as err:
            sess.run([], {case["feed"]: value}, [case["update"]])
        text = one_line(err.value)
        assert text.startswith(f"node 'update' ({case['op']}): ")
        assert text.endswith(case["error"])   # TensorFlow's own words
    after_key = f"{case['name']}/after"
    if case["after_error"] is None:
        after = sess.run(case["read"])
        expected = ASSIGN_ARRAYS[after_key]
        assert after.dtype == expected.dtype and after.shape == expected.shape
        np.testing.assert_array_equal(after, expected)
    else:
        with pytest.raises(ExecutionError) as err:
            sess.run(case["read"])
        assert one_line(err.value).endswith(case["after_error"])


def test_assign_cases_cover_every_variable_write():
    ops = {c["op"] for c in ASSIGN_CASES}
    assert ops >= {"Assign", "AssignAdd", "AssignSub", "AssignVariableOp",
                   "AssignAddVariableOp", "AssignSubVariableOp"}
    assert sum(c["error"] is not None for c in ASSIGN_CASES) >= 12


def test_ref_assign_of_another_type_is_refused(tmp_path):
    """A ref edge has one type, so TensorFlow refuses this graph when importing it: an
    edited graph that writes int32 into a float variable stops at the kernel."""
    case = next(c for c in ASSIGN_CASES if c["name"] == "ref_assign_same")
    graph = graph_pb2.GraphDef.FromString((ASSIGN / case["graph"]).read_bytes())
    for node in graph.node:
        if node.name == "value":
            node.attr["dtype"].type = 3
    sess = Session(graph)
    sess.run([], {}, ["init"])
    with pytest.raises(ExecutionError, match="variable 'v' is float; it cannot be given a "
                                             "int32 value"):
        sess.run([], {"value:0": np.ones((2, 3), np.int32)}, ["update"])
    np.testing.assert_array_equal(sess.run("read:0"), np.ones((2, 3), np.float32))


def test_assign_variable_op_value_of_another_type_than_declared():
    case = next(c for c in ASSIGN_CASES if c["name"] == "res_assign_shape_novalidate")
    graph = graph_pb2.GraphDef.FromString((ASSIGN / case["graph"]).read_bytes())
    for node in graph.node:
        if node.name == "update":
            node.attr["dtype"].type = 2   # double, while the fed value is float
    sess = Session(graph)
    sess.run([], {}, ["init"])
    with pytest.raises(ExecutionError, match="Variable and value dtypes don't match; "
                                             "respectively, double and float"):
        sess.run([], {"value:0": np.ones(2, np.float32)}, ["update"])
    assert sess.run("read:0") == np.float32(1)
