"""The graph view inside the main window: a lazy Graph tab beside the signature/run tabs (laid
out in a worker), Ctrl+G, selection going from graph to tree and back, and colouring by a run's
trace."""
import numpy as np
from PySide6.QtCore import Qt

from tensorloupe.gui.panels.graph import GraphPanel, GraphTab, trace_for_graph
from tensorloupe.gui.panels.graph import items as GI
from tensorloupe.gui.panels.run import RunPanel
from tensorloupe.gui.workers import wait_idle

from tests.gui.conftest import open_document


def _signature(window, fixtures_dir, name):
    open_document(window, fixtures_dir / "saved_models" / name)
    window.select_path(["serve", "signatures", "serving_default"])
    panel = window.current_panel()
    assert isinstance(panel, RunPanel)
    return panel


def _graph_tab(window, panel) -> GraphTab:
    tab = window.graph_host.tab_for(panel)
    assert isinstance(tab, GraphTab)
    return tab


def test_graph_tab_is_lazy_and_ctrl_g_shows_it(window, fixtures_dir, qtbot):
    panel = _signature(window, fixtures_dir, "mobilenet_v2")
    tab = _graph_tab(window, panel)
    tabs = panel.tab_host()
    assert tabs.tabText(tabs.indexOf(tab)) == "Graph"
    assert tab.panel is None          # selecting the signature built no graph
    window.tree.setFocus()
    qtbot.keyClick(window.tree, Qt.Key_G, Qt.ControlModifier)
    assert tabs.currentWidget() is tab
    # built and laid out in a worker; the tab says so meanwhile
    assert tab.is_loading() and tab.message.text().startswith("Laying out")
    assert isinstance(tab.panel, GraphPanel) and tab.panel.graph is None
    qtbot.waitUntil(lambda: tab.panel.graph is not None, timeout=30000)
    assert not tab.is_loading() and tab.panel.isVisible() and not tab.message.isVisible()
    assert tab.panel.graph.title == "serving_default"
    names = {i.group.name for i in tab.panel.items.values() if isinstance(i, GI.GroupItem)}
    assert "Conv1_1" in names         # the first view shows MobileNet's layers
    # the MetaGraphDef has a graph too: a tab beside its summary
    window.select_path(["serve"])
    assert window.graph_host.outer.tabBar().isVisible()
    side = window.graph_host.side_tab
    assert side.panel is None
    window.graph_host.show_graph_tab()
    qtbot.waitUntil(lambda: side.panel.graph is not None, timeout=30000)
    assert side.panel.graph.title.startswith("MetaGraphDef")
    # items without a graph hide that tab and go back to their panel
    window.select_path(["serve", "saver"])
    assert not window.graph_host.outer.tabBar().isVisible()
    assert window.graph_host.outer.currentIndex() == 0


def test_graph_node_selects_tree_item_and_back(window, fixtures_dir):
    panel = _signature(window, fixtures_dir, "keras_mlp")
    tab = _graph_tab(window, panel)
    graph_panel = window.graph_host.show_graph_tab()
    assert wait_idle(timeout=30)
    var = [n for n in graph_panel.graph.nodes.values() if n.op == "VarHandleOp"
           and n.name.startswith("hidden/kernel")][0]
    assert graph_panel.select(var.id)
    # the variables group loads in the background; the tree follows when it arrives
    assert wait_idle(timeout=20)
    node = window.current_node()
    assert node.kind == "variable" and node.payload.readable == "hidden/kernel"
    assert window.current_panel() is panel and panel.tab_host().currentWidget() is tab
    # "Show in graph" on another variable selects and centres it in the signature's graph
    bias = node.parent.find_child("bias")
    assert window.graph_host.graph_target(bias) is not None
    assert window.graph_host.show_in_graph(bias)
    assert wait_idle(timeout=30)
    graph_panel = tab.panel
    chosen = graph_panel.graph.nodes[graph_panel.selected_id()]
    assert chosen.op == "VarHandleOp" and chosen.name.startswith("hidden/bias")
    item = graph_panel.items[chosen.id]
    visible = graph_panel.view.mapToScene(graph_panel.view.viewport().rect()).boundingRect()
    assert visible.contains(item.sceneBoundingRect().center())
    # and the tree came back to that variable
    assert window.current_node() is bias


def test_show_in_graph_for_signature_output(window, fixtures_dir):
    panel = _signature(window, fixtures_dir, "keras_mlp")
    out = window.select_path(["serve", "signatures", "serving_default", "outputs", "output_0"])
    assert window.graph_host.show_in_graph(out)
    # the graph is laid out in a worker; the output is selected once it is shown
    assert wait_idle(timeout=30)
    assert window.current_panel() is panel
    graph_panel = _graph_tab(window, panel).panel
    node = graph_panel.graph.nodes[graph_panel.selected_id()]
    assert node.op == "Output" and node.label == "output_0"


def test_run_trace_colours_the_graph(window, fixtures_dir, qtbot):
    panel = _signature(window, fixtures_dir, "keras_mlp")
    graph_panel = window.graph_host.show_graph_tab()
    assert wait_idle(timeout=30) and graph_panel.graph is not None
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


def test_selecting_another_signature_drops_the_pending_layout(window, fixtures_dir):
    """The graph of a signature still being laid out when another one is selected is never
    shown: the tab lays out the new selection instead."""
    first = _signature(window, fixtures_dir, "keras_mlp")
    tab = _graph_tab(window, first)
    window.graph_host.show_graph_tab()
    assert tab.is_loading()
    shown = []
    show_prepared = tab.panel.show_prepared
    tab.panel.show_prepared = lambda prepared, **kw: (shown.append(prepared.graph.title),
                                                      show_prepared(prepared, **kw))
    other = window.current_node().parent.find_child("serve")
    window.tree.setCurrentIndex(window.proxy.mapFromSource(window.model.index_of(other)))
    assert window.current_panel() is first and tab.tree_node is other and tab.is_loading()
    assert wait_idle(timeout=30)
    assert shown == ["serve"] and tab.panel.graph.title == "serve"


def test_leaving_an_item_drops_its_pending_layout(window, fixtures_dir):
    """Selecting an item without a graph while the side tab lays out a MetaGraphDef's graph
    drops that layout: nothing is drawn for an item no longer selected."""
    open_document(window, fixtures_dir / "saved_models" / "keras_mlp")
    meta = window.select_path(["serve"])
    side = window.graph_host.side_tab
    window.graph_host.show_graph_tab()
    assert side.is_loading()
    saver = meta.find_child("saver")
    window.tree.setCurrentIndex(window.proxy.mapFromSource(window.model.index_of(saver)))
    assert not side.is_loading() and not window.graph_host.outer.tabBar().isVisible()
    assert wait_idle(timeout=30)
    assert side.panel.graph is None
