"""The tree: qtmodeltester on every model, and each fixture builds the tree TensorFlow implies."""
import json
import re

import pytest

from tensorloupe.gui import nodes as N
from tensorloupe.gui.tree_model import FilterProxy, TreeModel
from tensorloupe.gui.workers import wait_idle

from tests.gui.conftest import open_document, recorded

SAVED_MODELS = ["half_plus_two", "half_plus_two_pbtxt", "keras_cnn", "keras_mlp", "keras_lstm",
                "keras_transformer", "mobilenet_v2"]
CHECKPOINTS = ["dtypes", "keras_adam", "keras3_adam", "partitioned", "sharded_tf1",
               "sharded_tf2", "tf1_saver", "training_run"]


def _load_everything(model: TreeModel, limit: int = 20_000) -> None:
    """Fetch every level, slow loaders included, waiting for the workers."""
    for _ in range(8):
        model.fetch_all(limit=limit)
        pending = []
        stack = [model.root]
        while stack:
            node = stack.pop()
            stack.extend(node.loaded_children())
            if node.loader is not None and node.slow and not model.is_loading(node):
                pending.append(node)
        for node in pending:
            model.fetchMore(model.index_of(node))
        assert wait_idle(timeout=30)
        if not pending:
            return


@pytest.mark.parametrize("name", SAVED_MODELS)
def test_saved_model_tree_passes_qtmodeltester(qapp, qtmodeltester, fixtures_dir, name):
    model = TreeModel()
    model.add_document(fixtures_dir / "saved_models" / name)
    assert wait_idle(timeout=30)
    _load_everything(model, limit=3000)
    qtmodeltester.check(model, force_py=True)
    proxy = FilterProxy()
    proxy.setSourceModel(model)
    proxy.set_pattern("*kernel*")
    qtmodeltester.check(proxy, force_py=True)
    model.close_all()


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_checkpoint_tree_passes_qtmodeltester(qapp, qtmodeltester, fixtures_dir, name):
    model = TreeModel()
    model.add_document(fixtures_dir / "checkpoints" / name)
    assert wait_idle(timeout=30)
    _load_everything(model)
    qtmodeltester.check(model, force_py=True)
    model.close_all()


def _tensor_keys(node):
    out = set()
    stack = [node]
    while stack:
        n = stack.pop()
        stack.extend(n.loaded_children())
        if isinstance(n.payload, N.TensorRef):
            out.add(n.payload.key)
    return out


def test_saved_model_tree_matches_tensorflow(window, fixtures_dir):
    root = fixtures_dir / "saved_models" / "half_plus_two"
    expected = fixtures_dir / "expected" / "half_plus_two"
    doc = open_document(window, root)
    assert doc.kind == N.SAVED_MODEL
    # Tag-sets, as saved_model_cli listed them.
    shown = (expected / "show.txt").read_text().splitlines()[1:]
    tf_tag_sets = {frozenset(t.strip(" '") for t in line.split(",")) for line in shown}
    meta_graphs = [c for c in doc.children() if c.kind == N.META_GRAPH]
    assert {frozenset(t.strip() for t in m.label.split(",")) for m in meta_graphs} == tf_tag_sets
    serve = doc.find_child("serve")
    sigs = serve.find_child("signatures")
    tf_keys = re.findall(r'SignatureDef key: "([^"]+)"',
                         (expected / "show_tag_set_serve.txt").read_text())
    assert [c.label for c in sigs.children()] == sorted(tf_keys)
    # One signature's inputs and outputs, as saved_model_cli printed them.
    text = (expected / "show_signature_serve__regress_x_to_y.txt").read_text()
    sig = sigs.find_child("regress_x_to_y")
    inputs = sig.find_child("inputs").children()
    outputs = sig.find_child("outputs").children()
    assert [n.label for n in inputs] == re.findall(r"inputs\['([^']+)'\]", text)
    assert [n.label for n in outputs] == re.findall(r"outputs\['([^']+)'\]", text)
    assert inputs[0].detail == re.findall(r"name: (\S+)", text)[0]
    assert inputs[0].shape == re.findall(r"shape: (.+)", text)[0]
    assert sig.dtype == re.search(r"Method name is: (\S+)", text).group(1).rsplit("/", 1)[-1]
    # assets.extra files are listed with their sizes.
    extra = doc.find_child("serve").find_child("assets.extra")
    on_disk = sorted(p.name for p in (root / "assets.extra").iterdir())
    assert sorted(c.label for c in extra.children()) == on_disk


def test_keras_saved_model_variables_use_layer_names(window, fixtures_dir):
    doc = open_document(window, fixtures_dir / "saved_models" / "keras_cnn")
    variables = doc.find_child("serve").find_child("variables")
    window.model.fetchMore(window.model.index_of(variables))
    assert wait_idle(timeout=30)
    kernel = variables.find_child("conv").find_child("kernel")
    tf_nodes = json.loads((fixtures_dir / "expected" / "keras_cnn" / "signatures.json").read_text())
    assert tf_nodes["num_nodes"]["serve"] > 0  # the record exists for this fixture
    assert kernel.kind == N.VARIABLE and kernel.payload.key.endswith("/.ATTRIBUTES/VARIABLE_VALUE")
    # Every stored tensor is reachable (the `_all_variables` duplicates are noted, not hidden).
    reader = variables.payload
    seen = _tensor_keys(variables)
    aliases = {v for n in _walk(variables) for k, v in n.info if k == "also stored as"}
    assert seen | aliases == set(reader.keys())


def _walk(node):
    for c in node.loaded_children():
        yield c
        yield from _walk(c)


def test_checkpoint_tree_has_every_key_and_slots_under_variables(window, fixtures_dir):
    ckpt_dir = fixtures_dir / "checkpoints" / "keras_adam"
    meta, _ = recorded(ckpt_dir, "ckpt")
    doc = open_document(window, ckpt_dir)
    assert doc.kind == N.CHECKPOINT
    assert _tensor_keys(doc) == set(meta["keys"])
    kernel = doc.find_child("model").find_child("layer_with_weights-0").find_child("kernel")
    assert kernel.kind == N.VARIABLE
    slots = {c.label: c for c in kernel.children()}
    assert set(slots) == {"m", "v"}
    for name, slot in slots.items():
        assert slot.kind == N.SLOT
        assert f"/.OPTIMIZER_SLOT/optimizer/{name}/" in slot.payload.key
        assert slot.shape == kernel.shape
    # Group totals: parameters of the variables below, as TensorFlow's shapes imply.
    layer = doc.find_child("model").find_child("layer_with_weights-0")
    expected = sum(int(__import__("numpy").prod(info["shape"])) for key, info
                   in meta["tensors"].items()
                   if key.startswith("model/layer_with_weights-0/")
                   and "OPTIMIZER_SLOT" not in key)
    assert layer.params == expected


def test_training_run_lists_checkpoints_of_the_state_file(window, fixtures_dir):
    run_dir = fixtures_dir / "checkpoints" / "training_run"
    tf = json.loads((run_dir / "tensorflow.json").read_text())
    doc = open_document(window, run_dir)
    assert doc.kind == N.TRAINING_RUN
    assert [c.label for c in doc.children()] == tf["prefixes"]
    latest = tf["state"]["latest_checkpoint"]
    assert any(c.detail.endswith("(latest)") and latest.endswith(c.label) for c in doc.children())
    first = doc.children()[0]
    window.model.fetchMore(window.model.index_of(first))
    assert wait_idle(timeout=30)
    meta, _ = recorded(run_dir, first.label)
    assert _tensor_keys(first) == set(meta["keys"])


def test_select_path_is_lenient_and_unknown_paths_list_choices(window, fixtures_dir):
    open_document(window, fixtures_dir / "saved_models" / "half_plus_two")
    node = window.select_path(["SERVE", "Signatures (7)", "predict"])
    assert node.kind == N.SIGNATURE and window.current_node() is node
    from tensorloupe.core.errors import InputError
    with pytest.raises(InputError) as info:
        window.select_path(["serve", "signatures", "no_such_signature"])
    message = str(info.value)
    assert "no_such_signature" in message and "'serving_default'" in message


def test_filter_substring_and_glob(window, fixtures_dir, qtbot):
    open_document(window, fixtures_dir / "checkpoints" / "keras_adam")
    window.set_filter("moving")
    labels = _visible_labels(window)
    assert "moving_mean" in labels and "moving_variance" in labels
    assert "kernel" not in labels
    window.set_filter("*_w?ights-2")
    labels = _visible_labels(window)
    assert "layer_with_weights-2" in labels and "layer_with_weights-0" not in labels
    window.set_filter("")
    assert "layer_with_weights-0" in _visible_labels(window)


def _visible_labels(window):
    proxy = window.proxy
    out = []
    stack = [proxy.index(r, 0) for r in range(proxy.rowCount())]
    while stack:
        idx = stack.pop()
        out.append(idx.data())
        stack.extend(proxy.index(r, 0, idx) for r in range(proxy.rowCount(idx)))
    return out


def test_frozen_graph_lists_nodes_by_op_and_constants_as_tensors(window, fixtures_dir):
    path = fixtures_dir / "saved_models" / "frozen_graph" / "frozen_graph.pb"
    doc = open_document(window, path)
    assert doc.kind == N.GRAPH
    graph_def = doc.payload.graph_def
    groups = doc.find_child("nodes").children()
    assert sum(len(g.children()) for g in groups) == len(graph_def.node)
    assert {g.label for g in groups} == {n.op for n in graph_def.node}
    consts = doc.find_child("nodes").find_child("Const").children()
    assert consts and all(c.kind == N.CONSTANT for c in consts)


def test_tf1_meta_shows_its_checkpoint_variables(window, fixtures_dir):
    ckpt_dir = fixtures_dir / "checkpoints" / "tf1_saver"
    meta, _ = recorded(ckpt_dir, "model.ckpt-2")
    doc = open_document(window, ckpt_dir / "model.ckpt-2.meta")
    variables = doc.find_child("variables")
    assert _tensor_keys(variables) == set(meta["keys"])
    kernel = variables.find_child("dense").find_child("kernel")
    assert {c.label for c in kernel.children()} == {"m", "v"}  # Adam, Adam_1
