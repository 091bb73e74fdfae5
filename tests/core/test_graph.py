"""core.graph against SavedModels and graphs TensorFlow wrote (counts TensorFlow recorded)."""
import ast
import json
from collections import Counter
from types import SimpleNamespace

import ml_dtypes
import numpy as np
import pytest

import tensorloupe.core as core
from tensorloupe.core import graph as G

KERAS3 = ["keras_mlp", "keras_cnn", "keras_lstm", "keras_transformer", "mobilenet_v2"]


def _expected(fixtures_dir, name):
    return json.loads((fixtures_dir / "expected" / name / "signatures.json").read_text())


def _open(fixtures_dir, name):
    return core.open_saved_model(fixtures_dir / "saved_models" / name)


@pytest.mark.parametrize("name", KERAS3 + ["half_plus_two", "tf_keras_mlp", "vocab_module"])
def test_whole_graph_counts_match_tensorflow(fixtures_dir, name):
    """With nothing hidden and no call opened, the graph holds exactly the GraphDef's nodes
    and ops TensorFlow recorded; hiding plumbing only removes nodes."""
    exp = _expected(fixtures_dir, name)
    mg = _open(fixtures_dir, name).meta_graph("serve")
    full = G.graph_for_graph_def(mg.graph_def, hide_plumbing=False)
    assert len(full.nodes) == exp["num_nodes"]["serve"]
    assert {n.op for n in full.nodes.values()} <= set(exp["ops"]["serve"])
    assert len(full.groups[G.ROOT].nodes) + sum(
        len(g.nodes) for gid, g in full.groups.items() if gid) == exp["num_nodes"]["serve"]
    hidden = G.graph_for_graph_def(mg.graph_def, saver_def=mg.saver_def)
    assert hidden.hidden
    assert len(hidden.nodes) + len(hidden.hidden) == exp["num_nodes"]["serve"]
    assert hidden.root.op_count == len(hidden.nodes)


def test_plumbing_hidden_tf1(fixtures_dir):
    mg = _open(fixtures_dir, "half_plus_two").meta_graph("serve")
    g = G.graph_for_graph_def(mg.graph_def, saver_def=mg.saver_def)
    ops = {n.op for n in g.nodes.values()}
    assert not ops & {"SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename"}
    assert not any(n.name.startswith("save/") for n in g.nodes.values())
    hidden = set(g.hidden)
    assert {"save/SaveV2", "save/RestoreV2", "save/restore_all", "save/Const_1"} <= hidden
    # the variables the saver reads stay: other ops use them
    assert {"a", "b", "c"} <= set(g.nodes)
    shown = G.graph_for_graph_def(mg.graph_def, saver_def=mg.saver_def, hide_plumbing=False)
    assert "save/RestoreV2" in shown.nodes


@pytest.mark.parametrize("name", KERAS3)
def test_signature_opens_calls_into_layers(fixtures_dir, name):
    """serving_default -> StatefulPartitionedCall -> wrapper -> StatefulPartitionedCall ->
    the model's function: its layers are groups of the first view."""
    sm = _open(fixtures_dir, name)
    mg = sm.meta_graph("serve")
    exp = _expected(fixtures_dir, name)["signatures"]["serve"]["serving_default"]
    g = G.graph_for_signature(mg, "serving_default")
    calls = [gr for gr in g.groups.values() if gr.kind == "call"]
    assert len(calls) == 2
    outer = [c for c in calls if c.parent == G.ROOT]
    assert len(outer) == 1
    out_node = exp["outputs"]["output_0"]["name"].split(":")[0]
    assert outer[0].name == out_node
    assert outer[0].function == mg.graph_def.node[
        [n.name for n in mg.graph_def.node].index(out_node)].attr["f"].func.name
    inner = [c for c in calls if c.parent == outer[0].id][0]
    body = mg.functions[inner.function]
    # every op of the model's body is in the view (control-only NoOps aside)
    body_ops = {n.op for n in body.node_def} - {"NoOp"}
    assert body_ops <= {n.op for n in g.nodes.values()}
    assert not {n.op for n in g.nodes.values()} & {"SaveV2", "RestoreV2"}
    # the inputs and outputs of the signature are the ends of the graph
    inputs = [n for n in g.nodes.values() if n.info.get("signature input")]
    assert sorted(n.name for n in inputs) == sorted(
        v["name"].split(":")[0] for v in exp["inputs"].values())
    outputs = [n for n in g.nodes.values() if n.op == G.OUTPUT_OP]
    assert sorted(n.label for n in outputs) == sorted(exp["outputs"])
    for n in outputs:
        assert n.inputs and not n.inputs[0].control
        assert g.nodes[n.inputs[0].src].function == inner.function or \
            g.nodes[n.inputs[0].src].group.startswith(outer[0].id)
    # the first view shows several layers, not one box and not thousands of ops
    opened = G.default_open_groups(g)
    assert outer[0].id in opened and inner.id in opened
    visible = [c for gid in opened for c in g.groups[gid].children if c not in opened]
    layer_groups = [v for v in visible if v in g.groups]
    assert len(layer_groups) >= 2
    assert len(visible) < 300


@pytest.mark.parametrize("name", KERAS3)
def test_signature_parameters_match_checkpoint(fixtures_dir, name):
    """Parameters counted from the captured VarHandleOps' shapes equal the elements of
    the model's variables in the checkpoint TensorFlow wrote (Keras 3 lists each once
    under _all_variables/)."""
    sm = _open(fixtures_dir, name)
    reader = core.open_checkpoint(sm.path / "variables" / "variables")
    total = sum(reader.num_elements(k) for k in reader.keys()
                if k.startswith("_all_variables/") and reader.dtype_enum(k) == 1)
    g = G.graph_for_signature(sm.meta_graph("serve"), "serving_default")
    assert g.root.param_count == total
    layer_params = sum(g.groups[c].param_count for c in g.root.groups)
    assert layer_params == total


def test_edges_resolve_function_output_args(fixtures_dir):
    """``node:out_arg:index`` names map to the producer's flat output index and carry the
    shapes TensorFlow recorded in ``_output_shapes``."""
    sm = _open(fixtures_dir, "mobilenet_v2")
    g = G.graph_for_signature(sm.meta_graph("serve"), "serving_default")
    convs = [n for n in g.nodes.values() if n.op == "Conv2D"]
    assert convs
    first = min(convs, key=lambda n: len(g.ancestors(n.id)) and n.name)
    conv = [n for n in convs if n.name.endswith("/Conv1_1/convolution")][0]
    data = [e for e in conv.inputs if not e.control]
    assert len(data) == 2
    assert g.nodes[data[0].src].info.get("signature input") == "keras_tensor_21"
    assert g.edge_label(data[0]) == "float32 (?, 96, 96, 3)"
    weights = g.nodes[data[1].src]
    assert weights.op == "ReadVariableOp"
    assert g.edge_label(data[1]) == "float32 (3, 3, 3, 16)"
    # the captured variable sits with the layer that reads it, not at the top
    var = g.nodes[weights.inputs[0].src]
    assert var.op == "VarHandleOp" and var.group == conv.group
    assert first is not None


def test_library_function_and_args(fixtures_dir):
    sm = _open(fixtures_dir, "vocab_module")
    mg = sm.meta_graph("serve")
    name = [f for f in mg.functions if f.startswith("__inference_iterate")][0]
    g = G.graph_for_function(mg.graph_def.library, name)
    fdef = mg.functions[name]
    args = [n for n in g.nodes.values() if n.info.get("argument") is not None]
    assert sorted(n.name for n in args) == sorted(a.name for a in fdef.signature.input_arg)
    outs = [n for n in g.nodes.values() if n.op == G.OUTPUT_OP]
    assert sorted(n.label for n in outs) == sorted(a.name for a in fdef.signature.output_arg)
    ops = {n.op for n in g.nodes.values()}
    assert {"StatelessWhile", "If"} <= ops
    while_node = [n for n in g.nodes.values() if n.op == "StatelessWhile"][0]
    assert while_node.node_def.attr["body"].func.name in mg.functions
    with pytest.raises(core.errors.NotFoundError):
        G.graph_for_function(mg.graph_def.library, "no_such_function")


def test_collapse_and_visible_items(fixtures_dir):
    sm = _open(fixtures_dir, "keras_mlp")
    g = G.graph_for_signature(sm.meta_graph("serve"), "serving_default")
    matmul = [n for n in g.nodes.values() if n.op == "MatMul"][0]
    path = g.open_path(matmul.id)
    assert path and all(p in g.groups for p in path)
    assert g.visible_item(matmul.id, set()) == path[-1]           # everything closed
    assert g.visible_item(matmul.id, set(path)) == matmul.id      # all its groups open
    assert g.visible_item(matmul.id, set(path[1:])) == path[0]    # innermost closed
    for gid, group in g.groups.items():
        assert group.op_count == len(g.descendant_nodes(gid))


def test_search(fixtures_dir):
    sm = _open(fixtures_dir, "mobilenet_v2")
    g = G.graph_for_signature(sm.meta_graph("serve"), "serving_default")
    hits = g.search("DepthwiseConv2dNative")
    assert hits and all(g.nodes[h].op == "DepthwiseConv2dNative" for h in hits)
    n_depthwise = sum(1 for f in sm.meta_graph("serve").functions.values()
                      if f.signature.name.startswith("__inference___call")
                      for n in f.node_def if n.op == "DepthwiseConv2dNative")
    assert len(hits) == n_depthwise
    hits = g.search("block_3_project")
    assert hits and all("block_3_project" in g.nodes[h].name for h in hits)
    assert g.search("no such thing at all") == []
    assert g.search("   ") == []


def test_frozen_graph(fixtures_dir):
    gm = core.open_graph(fixtures_dir / "saved_models" / "frozen_graph" / "frozen_graph.pb")
    g = G.build_graph(gm)
    assert set(g.nodes) == {n.name for n in gm.graph_def.node}
    assert g.root.param_count == sum(
        G._params(n) for n in gm.graph_def.node)
    relu = g.nodes["Relu"]
    assert [g.nodes[e.src].name for e in relu.inputs] == ["add"]


def test_tf1_loop_back_edges(fixtures_dir):
    gm = core.open_graph(fixtures_dir / "graphs" / "tf1_loop" / "model.ckpt.meta")
    g = G.build_graph(gm)
    nexts = [n for n in g.nodes.values() if n.op == "NextIteration"]
    assert nexts
    # each NextIteration feeds a Merge: the edges that close the loops
    for n in nexts:
        assert [g.nodes[e.dst].op for e in n.outputs] == ["Merge"]


def test_op_families():
    assert G.op_family("Conv2D") == "nn"
    assert G.op_family("MatMul") == "math"
    assert G.op_family("Reshape") == "array"
    assert G.op_family("While") == "control"
    assert G.op_family("VarHandleOp") == "variable"
    assert G.op_family("StringJoin") == "string"
    assert G.op_family("RestoreV2") == "io"
    assert G.op_family("SomethingNew") == "other"


def test_trace_attaches_by_name(fixtures_dir):
    sm = _open(fixtures_dir, "keras_mlp")
    g = G.graph_for_signature(sm.meta_graph("serve"), "serving_default")
    relu = [n for n in g.nodes.values() if n.op == "Relu"][0]
    g.set_trace({relu.name: {"seconds": 0.5, "nan": False, "shapes": [(2, 16)]}})
    assert g.trace[relu.id]["seconds"] == 0.5
    edge = [e for e in relu.outputs if not e.control][0]
    assert g.edge_label(edge).endswith("(2, 16)")


def test_build_graph_select(fixtures_dir):
    sm = _open(fixtures_dir, "half_plus_two")
    g = G.build_graph(sm, "serve > signatures > regress_x_to_y")
    assert g.title == "regress_x_to_y"
    with pytest.raises(core.errors.NotFoundError):
        G.build_graph(sm, "serve > nonexistent_signature")


# -- what the graph view shows, decoded -------------------------------------------------

@pytest.mark.parametrize("name", ["keras_mlp", "keras_cnn", "mobilenet_v2"])
def test_variable_facts_match_checkpoint(fixtures_dir, name):
    """Each captured VarHandleOp's decoded attributes: its dtype, its shape (the shapes of
    the variables TensorFlow saved in the checkpoint, one each), its shared_name."""
    sm = _open(fixtures_dir, name)
    reader = core.open_checkpoint(sm.path / "variables" / "variables")
    saved = Counter(tuple(reader.shape(k)) for k in reader.keys()
                    if k.startswith("_all_variables/"))
    g = G.graph_for_signature(sm.meta_graph("serve"), "serving_default")
    variables = [n for n in g.nodes.values() if n.op == "VarHandleOp"]
    assert Counter(n.declared_shape() for n in variables) == saved
    for n in variables:
        attrs = {a.name: a for a in n.attributes()}
        assert [a.name for a in n.attributes()] == sorted(attrs)
        assert (attrs["dtype"].kind, attrs["dtype"].value, attrs["dtype"].text) == \
            ("type", "DT_FLOAT", "DT_FLOAT")
        assert attrs["shape"].kind == "shape" and attrs["shape"].value == n.declared_shape()
        assert attrs["shape"].text == "(" + ", ".join(map(str, n.declared_shape())) + ")"
        assert attrs["shared_name"].kind == "s"
        assert attrs["shared_name"].value == n.shared_name() != ""
        assert attrs["shared_name"].text == repr(n.shared_name())


def test_tf1_shared_names_are_checkpoint_keys(fixtures_dir):
    sm = _open(fixtures_dir, "half_plus_two")
    g = G.graph_for_graph_def(sm.meta_graph("serve").graph_def)
    names = {n.shared_name() for n in g.nodes.values() if n.op == "VarHandleOp"}
    assert names == set(core.open_checkpoint(sm.path / "variables" / "variables").keys())


@pytest.mark.parametrize("name", ["half_plus_two", "keras_mlp", "keras_lstm"])
def test_placeholder_shapes_match_signatures(fixtures_dir, name):
    """A signature input's placeholder declares the shape TensorFlow recorded for the input
    (None where it recorded none: no shape attribute, or an unknown rank)."""
    exp = _expected(fixtures_dir, name)["signatures"]["serve"]
    mg = _open(fixtures_dir, name).meta_graph("serve")
    g = G.graph_for_graph_def(mg.graph_def, hide_plumbing=False)
    checked = 0
    for sig in exp.values():
        for info in sig["inputs"].values():
            if info["encoding"] != "name":
                continue
            node = g.nodes[info["name"].split(":")[0]]
            if node.op != "Placeholder":   # an input may be fed into any op (TF1)
                continue
            want = tuple(info["shape"]) if info["shape"] is not None else None
            assert node.declared_shape() == want, info["name"]
            checked += 1
    assert checked


def test_call_attributes_name_functions(fixtures_dir):
    sm = _open(fixtures_dir, "keras_mlp")
    g = G.graph_for_signature(sm.meta_graph("serve"), "serving_default")
    names = g.function_names()
    assert names == set(sm.meta_graph("serve").functions)
    calls = [grp.call for grp in g.groups.values() if grp.kind == "call"]
    assert calls
    for call in calls:
        attrs = {a.name: a for a in call.attributes()}
        f = attrs["f"]
        assert f.kind == "func" and f.value in names and f.functions == (f.value,)
        tin = attrs["Tin"]
        assert tin.kind == "list" and tin.value[0] == "DT_FLOAT"
        assert tin.text == ", ".join(tin.value) and tin.functions == ()
    matmul = [n for n in g.nodes.values() if n.op == "MatMul"][0]
    assert matmul.shared_name() is None and matmul.declared_shape() is None
    assert matmul.value_summary() is None
    output = [n for n in g.nodes.values() if n.op == G.OUTPUT_OP][0]
    assert output.attributes() == [] and output.shared_name() is None


def test_constant_summaries_match_tensorflow(fixtures_dir):
    """A Const's summary: its dtype and shape, then the values TensorFlow wrote
    (tf.make_ndarray, graphs/constants_values.npz) when at most 8, else min, max and mean."""
    g = G.build_graph(core.open_graph(fixtures_dir / "graphs" / "constants.pb"))
    values = np.load(fixtures_dir / "graphs" / "constants_values.npz")
    for name in values.files:
        node = g.nodes[name]
        want = values[name]
        if name.startswith("bfloat16"):
            want = want.view(ml_dtypes.bfloat16)
        dtype = {a.name: a for a in node.attributes()}["dtype"].value
        summary = node.value_summary()
        head = f"{dtype} (" + ", ".join(str(d) for d in want.shape) + ")"
        assert summary.startswith(head), name
        rest = summary[len(head):]
        if want.size <= 8:
            assert rest.startswith(" = "), name
            if want.dtype.kind == "S":
                got = ast.literal_eval(rest[3:])
                assert got == [v.decode("utf-8", "replace") for v in want.ravel()], name
            elif want.dtype.kind != "c":
                got = np.asarray(ast.literal_eval(rest[3:]), dtype=np.float64)
                np.testing.assert_array_equal(got.ravel(),
                                              want.astype(np.float64).ravel(), err_msg=name)
        elif want.dtype.kind in "fiu" and not name.startswith("bfloat16"):
            a = want.astype(np.float64)
            assert rest == (f": min {a.min():.4g}, max {a.max():.4g}, "
                            f"mean {a.mean():.4g}"), name
        else:
            assert rest == "", name
        value = {a.name: a for a in node.attributes()}["value"]
        assert value.kind == "tensor" and value.text == value.value == summary


def test_graph_for_library_function(fixtures_dir):
    mg = _open(fixtures_dir, "vocab_module").meta_graph("serve")
    name = [f for f in mg.functions if f.startswith("__inference_iterate")][0]
    g = G.graph_for_library_function(mg, name)
    want = G.graph_for_function(mg.graph_def.library, name)
    assert g.title == name and set(g.nodes) == set(want.nodes)
    gm = core.open_graph(fixtures_dir / "graphs" / "tf1_loop" / "model.ckpt.meta")
    with pytest.raises(core.errors.NotFoundError):
        G.graph_for_library_function(gm, "no_such_function")
    with pytest.raises(core.errors.NotFoundError):
        G.graph_for_library_function(object(), name)


def test_trace_for_graph_keys_records_by_node_id(fixtures_dir):
    """A trace record names a node inside the functions it ran in; the graph's id of that
    node spells the calls leading to it. Repeated runs (loops) add up."""
    sm = _open(fixtures_dir, "keras_mlp")
    g = G.graph_for_signature(sm.meta_graph("serve"), "serving_default")
    matmul = [n for n in g.nodes.values() if n.op == "MatMul"][0]
    path = [g.groups[x].function for x in reversed(g.ancestors(matmul.id))
            if g.groups[x].kind == "call"]
    assert path

    def record(seconds, nan=False, function_path=path, name=matmul.name):
        return SimpleNamespace(name=name, function_path=function_path, seconds=seconds,
                               has_nan=nan, has_inf=False, shapes=[(1, 8)], dtypes=["float32"])
    trace = G.trace_for_graph(g, [record(0.5), record(0.25, nan=True),
                                  record(1.0, function_path=[], name="nowhere")])
    assert set(trace) == {matmul.id}
    assert trace[matmul.id] == {"seconds": 0.75, "nan": True, "shapes": [(1, 8)],
                                "dtypes": [1]}
