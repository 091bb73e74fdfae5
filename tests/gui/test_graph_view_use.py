"""The graph view as people use it, on MobileNetV2: export the whole graph through a save dialog,
Fit that keeps labels readable, an overview that never hides a node, groups that stay put when
opened or closed, a find box that forgets the previous graph, wrappers opened in one go, and
walking the graph with the keyboard."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect, QSettings, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow

import tensorloupe.core as core
from tensorloupe.core import graph as G
from tensorloupe.gui.panels.graph import GraphPanel
from tensorloupe.gui.panels.graph import export as X
from tensorloupe.gui.panels.graph import items as GI
from tensorloupe.gui.panels.graph import navigate as NAV
from tensorloupe.gui.workers import wait_idle

from tests.gui.conftest import open_document


@pytest.fixture(scope="module")
def mobilenet_model(fixtures_dir):
    return core.open_saved_model(fixtures_dir / "saved_models" / "mobilenet_v2")


@pytest.fixture
def mobilenet(mobilenet_model):
    return G.graph_for_signature(mobilenet_model.meta_graph("serve"), "serving_default")


@pytest.fixture
def half_plus_two(fixtures_dir):
    sm = core.open_saved_model(fixtures_dir / "saved_models" / "half_plus_two")
    return G.graph_for_signature(sm.meta_graph("serve"), "regress_x_to_y")


@pytest.fixture
def keras_mlp(fixtures_dir):
    sm = core.open_saved_model(fixtures_dir / "saved_models" / "keras_mlp")
    return G.graph_for_signature(sm.meta_graph("serve"), "serving_default")


@pytest.fixture
def window(qtbot, tmp_path):
    """A main window around the panel: it has a status bar and keeps settings."""
    w = QMainWindow()
    w.settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    panel = GraphPanel()
    w.setCentralWidget(panel)
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    w.panel = panel
    return w


@pytest.fixture
def panel(window):
    return window.panel


def _group(graph, name):
    return next(gid for gid, g in graph.groups.items() if g.name == name)


def _visible(panel):
    return panel.view.mapToScene(panel.view.viewport().rect()).boundingRect()


def _shows_all(panel) -> bool:
    """The whole graph is on screen (to a couple of pixels)."""
    d = 2 / panel.view.zoom()
    return _visible(panel).adjusted(-d, -d, d, d).contains(panel.content_rect())


def _on_screen(panel, item_id) -> QPoint:
    """Where a box's top-left corner is in the view's viewport."""
    return panel.view.mapFromScene(panel.items[item_id].sceneBoundingRect().topLeft())


def _double_click(qtbot, panel, scene_point):
    pos = panel.view.mapFromScene(scene_point)
    qtbot.mouseDClick(panel.view.viewport(), Qt.LeftButton, pos=pos)


def _key(key, modifiers=Qt.NoModifier):
    """A key press where the focus is, as the keyboard would deliver it."""
    QTest.keyClick(QApplication.focusWidget(), key, modifiers)


# -- export ---------------------------------------------------------------------------------
def test_export_writes_the_whole_graph(panel, window, mobilenet, tmp_path):
    panel.model_name = "mobilenet_v2"
    panel.set_graph(mobilenet)
    vp = panel.view.viewport().size()
    png = panel.export(str(tmp_path / "all.png"))
    image = QImage(png)
    # the whole tall graph, not the part on screen
    assert image.height() > 4 * vp.height()
    assert image.height() / image.width() > 8
    # a layer far below what shows is in the SVG, not in an export of the visible part
    far = panel.items[_group(mobilenet, "block_16_project_1")]
    assert not _visible(panel).intersects(far.sceneBoundingRect())
    svg = (tmp_path / "all.svg")
    panel.export(str(svg))
    assert "block_16_project_1" in svg.read_text()
    part = tmp_path / "part.svg"
    panel.export(str(part), whole=False)
    assert "block_16_project_1" not in part.read_text() and "Conv1_1" in part.read_text()
    # the status bar says where it went
    assert str(part) in window.statusBar().currentMessage()


def test_export_dialog_proposes_a_name_and_remembers_the_folder(panel, window, mobilenet,
                                                                tmp_path, qtbot, monkeypatch):
    panel.model_name = "mobilenet_v2"
    panel.set_graph(mobilenet)
    asked = []
    target = tmp_path / "pictures"
    target.mkdir()

    def dialog(parent, caption, start, filters, chosen):
        asked.append(start)
        return str(target / "mine"), "SVG drawing (*.svg)"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
    assert panel.proposed_export_path("png").name == "mobilenet_v2-serving_default.png"
    # a click on the button's face (not its menu arrow) exports the whole graph
    button = panel.export_button
    qtbot.mouseClick(button, Qt.LeftButton, pos=QPoint(8, button.height() // 2))
    assert asked and asked[0].endswith("mobilenet_v2-serving_default.png")
    written = target / "mine.svg"         # no suffix typed: the chosen type's
    assert written.exists() and "block_16_project_1" in written.read_text()
    assert str(written) in window.statusBar().currentMessage()
    # next time the dialog starts in that folder, with that format, and the settings know
    assert panel.proposed_export_path() == target / "mobilenet_v2-serving_default.svg"
    assert window.settings.value(X.FOLDER_KEY) == str(target)


def test_proposed_names():
    assert X.proposed_name("mobilenet_v2", "serving_default", "png") == \
        "mobilenet_v2-serving_default.png"
    assert X.proposed_name("", "__inference_call_7675", "svg") == "__inference_call_7675.svg"
    assert X.proposed_name("frozen", "frozen", "png") == "frozen.png"
    assert "/" not in X.proposed_name("a/b", "MetaGraphDef serve", "png")


def test_in_the_window_ctrl_g_find_then_the_keys(qtbot, fixtures_dir, monkeypatch):
    """The window's graph tab: exports named after the model; Ctrl+G, type, Enter, and the
    arrow keys walk on from the match."""
    from tensorloupe.gui.main_window import MainWindow
    from tensorloupe.gui.panels.run import RunPanel
    from tensorloupe.gui.workers import tracker
    # the run panel remembers its tab for the whole process: leave it as found
    monkeypatch.setattr(RunPanel, "_last_tab", RunPanel._last_tab)
    w = MainWindow(settings=None)
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5000)
    try:
        open_document(w, fixtures_dir / "saved_models" / "mobilenet_v2")
        w.select_path(["serve", "signatures", "serving_default"])
        w.tree.setFocus()
        _key(Qt.Key_G, Qt.ControlModifier)
        panel = w.graph_host.graph_panel()
        qtbot.waitUntil(lambda: panel is not None and panel.graph is not None, timeout=30_000)
        assert panel.proposed_export_path("png").name == "mobilenet_v2-serving_default.png"
        qtbot.waitUntil(lambda: QApplication.focusWidget() is panel.search, timeout=10_000)
        for ch in "block_3_project_1/convolution":
            _key(ch)
        _key(Qt.Key_Return)
        hit = panel.selected_id()
        assert hit is not None and panel.graph.nodes[hit].op == "Conv2D"
        assert QApplication.focusWidget() is panel.view
        _key(Qt.Key_Down)
        assert panel.selected_id() in NAV.neighbours(panel.layout, hit, upwards=False)
        _key(Qt.Key_Up)
        assert panel.selected_id() == hit
        # Esc closes the layer the match was found in, and selects it
        _key(Qt.Key_Escape)
        layer = _group(panel.graph, "block_3_project_1")
        assert layer not in panel.open_groups and panel.selected_id() == layer
    finally:
        tracker.cancel_all()
        assert wait_idle(timeout=20, settle=0.0)
        w.model.close_all()


# -- fit ------------------------------------------------------------------------------------
def test_fit_keeps_labels_readable_and_again_fits_everything(panel, mobilenet, qtbot):
    panel.set_graph(mobilenet)
    content = panel.content_rect()
    readable = panel.readable_zoom()
    assert 0.5 < readable < 0.8       # 7 px labels of an 8.5 pt font
    panel.view.zoom_by(2.5)            # somewhere else, closer
    panel.view.centerOn(content.center())
    qtbot.mouseClick(panel.fit_button, Qt.LeftButton)
    assert panel.view.zoom() >= readable - 1e-6
    # the top of the graph (its input) shows; the rest is a scroll away
    top = panel.items["serving_default_keras_tensor_21"]
    assert _visible(panel).contains(top.sceneBoundingRect())
    assert not _visible(panel).contains(content)
    qtbot.mouseClick(panel.fit_button, Qt.LeftButton)   # again: all of it
    assert _shows_all(panel)
    assert panel.view.zoom() < readable
    panel.view.setFocus()
    _key(Qt.Key_F)                                      # and back to reading
    assert panel.view.zoom() >= readable - 1e-6
    _key(Qt.Key_F, Qt.ShiftModifier)                    # Shift+F: all, whatever shows
    assert _shows_all(panel)


def test_fit_shows_a_small_graph_whole(panel, keras_mlp, qtbot):
    panel.set_graph(keras_mlp)
    panel.view.zoom_by(3.0)
    qtbot.mouseClick(panel.fit_button, Qt.LeftButton)
    assert _shows_all(panel)
    assert panel.view.zoom() <= 1.5 + 1e-6


# -- minimap --------------------------------------------------------------------------------
def _nodes_under(panel, rect: QRect) -> list[str]:
    """Boxes whose visible part on screen meets ``rect`` (view coordinates)."""
    vp = panel.view.viewport().geometry()
    hit = []
    for item_id, item in panel.items.items():
        if isinstance(item, GI.GroupItem) and item.is_open:
            continue
        box = panel.view.mapFromScene(item.sceneBoundingRect()).boundingRect()
        box.translate(vp.topLeft())
        if box.intersected(vp).intersects(rect):
            hit.append(item_id)
    return hit


def test_minimap_never_covers_the_graph(panel, mobilenet, keras_mlp, qtbot):
    panel.set_graph(mobilenet)
    minimap = panel.minimap
    for fit in (panel.initial_view, panel.fit):
        fit()
        # the graph does not fit: the overview shows, in a strip beside the viewport
        assert minimap.isVisible() and minimap.side == "right"
        assert not minimap.geometry().intersects(panel.view.viewport().geometry())
        assert not _nodes_under(panel, minimap.geometry())
    # scrolled to the very end, the last boxes are still clear of it
    panel.view.verticalScrollBar().setValue(panel.view.verticalScrollBar().maximum())
    panel.view.horizontalScrollBar().setValue(panel.view.horizontalScrollBar().maximum())
    assert not _nodes_under(panel, minimap.geometry())
    # a click in the overview goes there
    target = minimap._target()
    qtbot.mouseClick(minimap, Qt.LeftButton, pos=QPoint(int(target.center().x()),
                                                        int(target.top() + 3)))
    assert _visible(panel).contains(panel.items["serving_default_keras_tensor_21"]
                                    .sceneBoundingRect().center())
    # the whole graph on screen: nothing to find one's way in, no overview
    panel.fit(whole=True)
    assert not minimap.isVisible()
    panel.set_graph(keras_mlp)
    assert not minimap.isVisible()
    panel.view.setFocus()
    for _ in range(8):
        _key(Qt.Key_Plus)                     # zoomed in past the view's size: it shows
    assert minimap.isVisible()
    assert not minimap.geometry().intersects(panel.view.viewport().geometry())


# -- opening and closing keeps the group in place ---------------------------------------------
@pytest.mark.parametrize("name", ["Conv1_1", "block_2_expand_1", "block_3_depthwise_BN_1"])
def test_open_and_close_keep_the_group_on_screen(panel, mobilenet, qtbot, name):
    panel.set_graph(mobilenet)
    gid = _group(mobilenet, name)
    box = panel.items[gid]
    panel.view.centerOn(box)
    before = _on_screen(panel, gid)
    _double_click(qtbot, panel, box.sceneBoundingRect().center())
    qtbot.waitUntil(lambda: gid in panel.open_groups, timeout=2000)
    opened = panel.items[gid]
    assert opened.is_open
    assert (_on_screen(panel, gid) - before).manhattanLength() <= 3
    # double-click the open group's header: it closes where it is
    header = opened.sceneBoundingRect().topLeft() + QPoint(40, 12)
    _double_click(qtbot, panel, header)
    qtbot.waitUntil(lambda: gid not in panel.open_groups, timeout=2000)
    assert (_on_screen(panel, gid) - before).manhattanLength() <= 3


def test_opening_in_a_small_graph_does_not_jump(panel, keras_mlp, qtbot):
    """A graph narrower than the view is centred in it; opening a group makes it wider, and
    the group still stays under the mouse."""
    panel.set_graph(keras_mlp, open_groups=())
    closed = [i for i, it in panel.items.items()
              if isinstance(it, GI.GroupItem) and not it.is_open]
    assert closed
    gid = closed[0]
    before = _on_screen(panel, gid)
    _double_click(qtbot, panel, panel.items[gid].sceneBoundingRect().center())
    qtbot.waitUntil(lambda: gid in panel.open_groups, timeout=2000)
    assert (_on_screen(panel, gid) - before).manhattanLength() <= 3


# -- find forgets the previous graph ----------------------------------------------------------
def test_a_new_graph_clears_the_find_box(panel, mobilenet, half_plus_two, qtbot):
    panel.set_graph(mobilenet)
    panel.focus_search()
    qtbot.keyClicks(panel.search, "Relu6")
    qtbot.keyClick(panel.search, Qt.Key_Return)
    assert panel.search_hits and panel.highlighted is not None
    assert panel.search_status.text().startswith("1/")
    panel.set_graph(half_plus_two)
    assert panel.search.text() == "" and panel.search_status.text() == ""
    assert panel.search_hits == [] and panel.highlighted is None
    assert not any(getattr(i, "highlighted", False) for i in panel.items.values())


def test_a_graph_loaded_in_a_worker_clears_the_find_box(panel, mobilenet, fixtures_dir, qtbot):
    panel.set_graph(mobilenet)
    panel.search.setText("Conv2D")
    assert panel.find_next() is not None
    sm = core.open_saved_model(fixtures_dir / "saved_models" / "half_plus_two")
    mg = sm.meta_graph("serve")
    panel.load(lambda: G.graph_for_signature(mg, "regress_x_to_y"), label="regress_x_to_y")
    qtbot.waitUntil(lambda: panel.graph is not mobilenet, timeout=20_000)
    assert panel.search.text() == "" and panel.search_hits == []


# -- a chain of single groups opens at once ---------------------------------------------------
def test_a_chain_of_single_groups_opens_in_one_double_click(panel, mobilenet, qtbot):
    panel.set_graph(mobilenet)
    gid = _group(mobilenet, "expanded_conv_depthwise_1")
    inner = mobilenet.groups[gid].children
    assert len(inner) == 1 and mobilenet.is_group(inner[0])    # a wrapper around one group
    box = panel.items[gid]
    panel.view.centerOn(box)
    _double_click(qtbot, panel, box.sceneBoundingRect().center())
    qtbot.waitUntil(lambda: gid in panel.open_groups, timeout=2000)
    assert inner[0] in panel.open_groups
    ops = [i for i in panel.items.values() if isinstance(i, GI.NodeItem)
           and i.node.op == "DepthwiseConv2dNative" and i.node.group == inner[0]]
    assert len(ops) == 1                   # the op itself shows, not another box


# -- the keyboard -----------------------------------------------------------------------------
def test_keyboard_walks_the_graph(panel, mobilenet, qtbot):
    panel.set_graph(mobilenet)
    layout = lambda: panel.layout
    # a click on the input selects it and gives the keys to the view
    inp = "serving_default_keras_tensor_21"
    pos = panel.view.mapFromScene(panel.items[inp].sceneBoundingRect().center())
    qtbot.mouseClick(panel.view.viewport(), Qt.LeftButton, pos=pos)
    assert panel.selected_id() == inp and QApplication.focusWidget() is panel.view
    path = [inp]
    for _ in range(4):
        _key(Qt.Key_Down)
        now = panel.selected_id()
        assert now in NAV.neighbours(layout(), path[-1], upwards=False)
        path.append(now)
    conv = _group(mobilenet, "Conv1_1")
    assert path[1] == conv
    _key(Qt.Key_Up)
    assert panel.selected_id() == path[-2]
    # scrolled along: the selection stays in view
    for _ in range(30):
        _key(Qt.Key_Down)
    chosen = panel.items[panel.selected_id()]
    assert _visible(panel).contains(chosen.sceneBoundingRect())
    # Left and Right stay in the layer: a Relu6 with a constant beside it
    start = next(i for i in layout().boxes if i.endswith("block_1_expand_relu_1/Relu6"))
    panel.select(start, center=False)
    beside = NAV.same_layer(layout(), start)
    assert beside
    side_key = Qt.Key_Right if layout().boxes[beside[0]].x > layout().boxes[start].x \
        else Qt.Key_Left
    _key(side_key)
    assert panel.selected_id() == beside[0]
    # Enter goes into a closed group: it opens and its first box is selected
    panel.select(conv, center=False)
    _key(Qt.Key_Return)
    assert conv in panel.open_groups
    inside = panel.selected_id()
    assert inside != conv and NAV.inside(layout(), inside, conv)
    # Esc closes the group the selection is in, selecting it
    _key(Qt.Key_Escape)
    assert conv not in panel.open_groups and panel.selected_id() == conv
    panel.select(conv, center=False)
    _key(Qt.Key_Enter, Qt.KeypadModifier)
    assert conv in panel.open_groups
    _key(Qt.Key_Backspace)
    assert conv not in panel.open_groups


def test_keys_work_after_a_find(panel, mobilenet, qtbot):
    panel.set_graph(mobilenet)
    panel.focus_search()
    qtbot.keyClicks(panel.search, "block_2_depthwise_1/depthwise")
    qtbot.keyClick(panel.search, Qt.Key_Return)
    hit = panel.selected_id()
    assert mobilenet.nodes[hit].op == "DepthwiseConv2dNative"
    assert QApplication.focusWidget() is panel.view     # the arrows walk on from the match
    _key(Qt.Key_Down)
    assert panel.selected_id() in NAV.neighbours(panel.layout, hit, upwards=False)
    _key(Qt.Key_Up)
    assert panel.selected_id() == hit
    # Enter on the match goes on to the next one, as in the find box
    panel.search.setText("Relu6")
    panel.find_next()
    first = panel.selected_id()
    panel.view.setFocus()
    _key(Qt.Key_Return)
    assert panel.selected_id() != first and panel.search_status.text().startswith("2/")


def test_arrows_with_nothing_selected_start_at_the_top(panel, mobilenet, qtbot):
    panel.set_graph(mobilenet)
    panel.view.setFocus()
    _key(Qt.Key_Down)
    assert panel.selected_id() == "serving_default_keras_tensor_21"
