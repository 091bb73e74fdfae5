"""The graph view inside the main window: a lazy Graph tab beside the signature/run tabs,
Ctrl+G, selection going from graph to tree and back, and colouring by a run's trace."""
import numpy as np
from PySide6.QtCore import Qt

from tensorloupe.gui.panels import graph_items as GI
from tensorloupe.gui.panels.graph import GraphPanel, GraphTab, trace_for_graph
from tensorloupe.gui.panels.run import RunPanel
from tensorloupe.gui.workers import wait_idle

from tests.gui.conftest import open_document


def _signature(window, fixtures_dir, name):
    open_document(window, fixtures_dir / "saved_models" / name)
    window.select_path(["serve", "signatures", "serving_default"])
    panel = window.current_panel()
    assert isinstance(panel, RunPanel)
    return panel


def test_graph_tab_is_lazy_and_ctrl_g_shows_it(window, fixtures_dir, qtbot):
    panel = _signature(window, fixtures_dir, "mobilenet_v2")
    tab = panel.graph_tab
    assert isinstance(tab, GraphTab)
    assert panel.tabs.tabText(panel.tabs.indexOf(tab)) == "Graph"
    assert tab.panel is None          # selecting the signature built no graph
    window.tree.setFocus()
    qtbot.keyClick(window.tree, Qt.Key_G, Qt.ControlModifier)
    assert panel.tabs.currentWidget() is tab
    assert isinstance(tab.panel, GraphPanel) and tab.panel.graph is not None
    assert tab.panel.graph.title == "serving_default"
    names = {i.group.name for i in tab.panel.items.values() if isinstance(i, GI.GroupItem)}
    assert "Conv1_1" in names         # the first view shows MobileNet's layers
    # the MetaGraphDef has a graph too: a tab beside its summary
    window.select_path(["serve"])
    assert window.graph_host.outer.tabBar().isVisible()
    assert window.graph_host.side_tab.panel is None
    window.graph_host.show_graph_tab()
    assert window.graph_host.side_tab.panel.graph.title.startswith("MetaGraphDef")
    # items without a graph hide that tab and go back to their panel
    window.select_path(["serve", "saver"])
    assert not window.graph_host.outer.tabBar().isVisible()
    assert window.graph_host.outer.currentIndex() == 0


def test_graph_node_selects_tree_item_and_back(window, fixtures_dir):
    panel = _signature(window, fixtures_dir, "keras_mlp")
    graph_panel = window.graph_host.show_graph_tab()
    var = [n for n in graph_panel.graph.nodes.values() if n.op == "VarHandleOp"
           and n.name.startswith("hidden/kernel")][0]
    assert graph_panel.select(var.id)
    # the variables group loads in the background; the tree follows when it arrives
    assert wait_idle(timeout=20)
    node = window.current_node()
    assert node.kind == "variable" and node.payload.readable == "hidden/kernel"
    assert window.current_panel() is panel and panel.tabs.currentWidget() is panel.graph_tab
    # "Show in graph" on another variable selects and centres it in the signature's graph
    bias = node.parent.find_child("bias")
    assert window.graph_host.graph_target(bias) is not None
    assert window.graph_host.show_in_graph(bias)
    graph_panel = panel.graph_tab.panel
    chosen = graph_panel.graph.nodes[graph_panel.selected_id()]
    assert chosen.op == "VarHandleOp" and chosen.name.startswith("hidden/bias")
    item = graph_panel.items[chosen.id]
    visible = graph_panel.view.mapToScene(graph_panel.view.viewport().rect()).boundingRect()
    assert visible.contains(item.sceneBoundingRect().center())
    # and the tree came back to that variable
    assert window.current_node() is bias


def test_show_in_graph_for_signature_output(window, fixtures_dir):
    _signature(window, fixtures_dir, "keras_mlp")
    out = window.select_path(["serve", "signatures", "serving_default", "outputs", "output_0"])
    assert window.graph_host.show_in_graph(out)
    graph_panel = window.current_panel().graph_tab.panel
    node = graph_panel.graph.nodes[graph_panel.selected_id()]
    assert node.op == "Output" and node.label == "output_0"


def test_run_trace_colours_the_graph(window, fixtures_dir, qtbot):
    panel = _signature(window, fixtures_dir, "keras_mlp")
    graph_panel = window.graph_host.show_graph_tab()
    panel.editors["features"].set_array(np.array([[1, 2, 3, 4]], np.float32))
    worker = panel.run()
    assert worker is not None
    assert wait_idle(timeout=60)
    assert panel.last_result is not None
    trace = graph_panel.graph.trace
    matmul = [n for n in graph_panel.graph.nodes.values() if n.op == "MatMul"]
    assert matmul and all(n.id in trace for n in matmul)
    # shapes from the run label the edges: batch 1 instead of "?"
    hidden = [n for n in matmul if n.name.startswith("mlp_1/hidden_1/")][0]
    assert tuple(trace[hidden.id]["shapes"][0]) == (1, 8)
    assert any(graph_panel.graph.edge_label(e) == "float32 (1, 8)" for e in hidden.outputs)
    assert trace_for_graph(graph_panel.graph, panel.last_result.trace.records) == trace
    graph_panel.open_all()
    graph_panel.set_color_mode("time")
    coloured = [graph_panel.items[n.id] for n in matmul]
    assert all(i.fill_override is not None for i in coloured)
    graph_panel.set_color_mode("NaN / Inf")
    # finite inputs: every node that ran is green, none red
    assert all(i.fill_override.green() > i.fill_override.red() for i in coloured)
    graph_panel.set_color_mode("op family")
    assert all(i.fill_override is None for i in coloured)
