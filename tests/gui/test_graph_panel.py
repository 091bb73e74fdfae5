"""The graph view on MobileNetV2 (TensorFlow's export): layers first, open a block, find a node,
export PNG/SVG."""
import pytest
from PySide6.QtGui import QImage

import tensorloupe.core as core
from tensorloupe.core import graph as G
from tensorloupe.gui.panels.graph import GraphPanel, show_graph
from tensorloupe.gui.panels.graph import items as GI
from tensorloupe.gui.workers import wait_idle


@pytest.fixture
def mobilenet(fixtures_dir):
    sm = core.open_saved_model(fixtures_dir / "saved_models" / "mobilenet_v2")
    return G.graph_for_signature(sm.meta_graph("serve"), "serving_default")


@pytest.fixture
def panel(qtbot):
    p = GraphPanel()
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    return p


def _layer(graph, name):
    return [gid for gid, g in graph.groups.items() if g.name == name][0]


def test_first_view_shows_layers(panel, mobilenet):
    panel.set_graph(mobilenet)
    groups = [i for i in panel.items.values() if isinstance(i, GI.GroupItem)]
    closed = [i for i in groups if not i.is_open]
    nodes = [i for i in panel.items.values() if isinstance(i, GI.NodeItem)]
    # the model's layers as boxes, not its 1000+ ops
    assert {"Conv1_1", "bn_Conv1_1", "block_16_project_1"} <= {i.group.name for i in closed}
    assert len(panel.items) < 250
    assert not any(n.node.op in ("Conv2D", "DepthwiseConv2dNative") for n in nodes)
    assert panel.edges
    shapes = {e.label for e in panel.edges}
    assert "float32 (?, 96, 96, 3)" in shapes


def test_open_and_close_a_layer(panel, mobilenet, qtbot):
    panel.set_graph(mobilenet)
    gid = _layer(mobilenet, "block_1_expand_1")
    item = panel.items[gid]
    before = len(panel.items)
    panel.toggle(gid)          # what a double-click does
    assert gid in panel.open_groups
    opened = panel.items[gid]
    assert opened.is_open
    conv = [i for i in panel.items.values()
            if isinstance(i, GI.NodeItem) and i.node.group == gid and i.node.op == "Conv2D"]
    assert len(conv) == 1
    assert opened.sceneBoundingRect().contains(conv[0].sceneBoundingRect())
    assert len(panel.items) > before
    panel.toggle(gid)
    assert gid not in panel.open_groups
    assert len(panel.items) == before
    assert item is not panel.items[gid]


def test_double_click_opens_group(panel, mobilenet, qtbot):
    from PySide6.QtCore import Qt
    panel.set_graph(mobilenet)
    gid = _layer(mobilenet, "Conv1_1")
    item = panel.items[gid]
    panel.view.centerOn(item)
    pos = panel.view.mapFromScene(item.sceneBoundingRect().center())
    qtbot.mouseDClick(panel.view.viewport(), Qt.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: gid in panel.open_groups, timeout=2000)
    assert panel.items[gid].is_open


def test_search_centres_and_selects(panel, mobilenet):
    panel.set_graph(mobilenet)
    panel.search.setText("block_5_depthwise_1/depthwise")
    hit = panel.find_next()
    assert hit is not None
    node = mobilenet.nodes[hit]
    assert node.op == "DepthwiseConv2dNative"
    item = panel.items[hit]           # its layer was opened to show it
    assert item.isSelected() and item.highlighted
    visible = panel.view.mapToScene(panel.view.viewport().rect()).boundingRect()
    assert visible.contains(item.sceneBoundingRect())
    centre = panel.view.mapToScene(panel.view.viewport().rect().center())
    # centred (horizontally as far as the scene lets the view scroll)
    assert abs(centre.y() - item.sceneBoundingRect().center().y()) < 30
    html = panel.details.toHtml()
    assert "DepthwiseConv2dNative" in html and "strides" in html
    panel.search.setText("no such node anywhere")
    assert panel.find_next() is None


def test_export_png_and_svg(panel, mobilenet, tmp_path):
    panel.set_graph(mobilenet)
    png = tmp_path / "graph.png"
    panel.export(str(png))
    image = QImage(str(png))
    assert not image.isNull() and image.width() > 100
    # not blank: boxes were drawn
    colours = {image.pixel(x, y) for x in range(0, image.width(), 17)
               for y in range(0, image.height(), 17)}
    assert len(colours) > 3
    svg = tmp_path / "graph.svg"
    panel.export(str(svg), whole=True)
    text = svg.read_text()
    assert "<svg" in text and "Conv1_1" in text


def test_function_link_opens_function(panel, mobilenet, qtbot):
    panel.set_graph(mobilenet)
    call = [g for g in mobilenet.groups.values() if g.kind == "call"][0]
    panel.open_function(call.function)
    # built and laid out in a worker: the title says so until it is shown
    assert panel.graph is mobilenet and panel.title.text().startswith("Laying out")
    qtbot.waitUntil(lambda: panel.graph is not mobilenet, timeout=20000)
    assert panel.graph.title == call.function
    assert panel.back_button.isVisibleTo(panel)
    panel.go_back()
    assert panel.graph is mobilenet


def test_load_in_background_drops_a_superseded_graph(panel, fixtures_dir, qtbot):
    """``load`` builds and lays out in a worker; a second load before the first arrives
    replaces it, and only the second graph is ever shown."""
    sm = core.open_saved_model(fixtures_dir / "saved_models" / "half_plus_two")
    mg = sm.meta_graph("serve")
    shown = []
    panel.load(lambda: G.graph_for_signature(mg, "regress_x_to_y"), label="regress_x_to_y",
               on_ready=lambda g: shown.append(g.title))
    assert panel.graph is None and panel.loading == "regress_x_to_y"
    assert panel.title.text() == "Laying out regress_x_to_y…"
    panel.load(lambda: G.graph_for_signature(mg, "regress_x_to_y2"), label="regress_x_to_y2",
               on_ready=lambda g: shown.append(g.title))
    qtbot.waitUntil(lambda: panel.graph is not None, timeout=20000)
    assert wait_idle(timeout=20)
    assert shown == ["regress_x_to_y2"] and panel.graph.title == "regress_x_to_y2"
    assert panel.loading is None and panel.title.text().startswith("regress_x_to_y2 — ")
    assert panel.items and panel.layout.boxes.keys() == panel.items.keys()
    # the layout made in the worker is the one the UI thread would make
    fresh = GraphPanel()
    qtbot.addWidget(fresh)
    fresh.set_graph(panel.graph)
    assert {k: (b.x, b.y, b.w, b.h) for k, b in fresh.layout.boxes.items()} == \
        {k: (b.x, b.y, b.w, b.h) for k, b in panel.layout.boxes.items()}


def test_failed_load_is_shown(panel, fixtures_dir, qtbot):
    def build():
        raise core.errors.NotFoundError("no function named 'nothing'")
    panel.load(build, label="nothing")
    qtbot.waitUntil(lambda: panel.loading is None, timeout=20000)
    assert panel.graph is None
    assert "no function named" in panel.details.toPlainText()


def test_trace_colours(panel, mobilenet):
    panel.set_graph(mobilenet)
    relu = [n for n in mobilenet.nodes.values() if n.op == "Relu6"][0]
    panel.set_trace({relu.name: {"seconds": 0.01, "nan": True}})
    panel.set_color_mode("NaN / Inf")
    item = panel.items[mobilenet.visible_item(relu.id, panel.open_groups)]
    assert item.fill_override is not None and item.fill_override.red() > 200
    panel.set_color_mode("op family")
    assert item.fill_override is None


def test_show_graph_screenshot(fixtures_dir, tmp_path, qapp):
    out = tmp_path / "hp2.png"
    assert show_graph(fixtures_dir / "saved_models" / "half_plus_two", "serve > graph",
                      screenshot=str(out), size=(900, 600)) == 0
    image = QImage(str(out))
    assert image.width() >= 900 and image.height() == 600
