"""The window driven by keys and clicks as a person would: one owner per shortcut, Find going to
the view that shows, Ctrl+R from anywhere, tabs by keyboard, the shortcut list; what opening a
document selects and shows; the tree's filter."""
from __future__ import annotations

import shutil

from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QTableWidget

from tensorloupe.gui import nodes as N
from tensorloupe.gui.panels.info import InfoPanel
from tensorloupe.gui.panels.run import RunPanel
from tensorloupe.gui.workers import wait_idle

from tests.gui.conftest import open_document

CTRL = Qt.ControlModifier


def _press(window, key, modifiers=Qt.NoModifier):
    """A key press where the focus is, as the keyboard would deliver it."""
    target = QApplication.focusWidget() or window
    QTest.keyClick(target, key, modifiers)


def _ready(window, qtbot):
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)


def test_find_goes_to_the_search_box_of_the_view_that_shows(window, fixtures_dir, qtbot, qtlog):
    _ready(window, qtbot)
    open_document(window, fixtures_dir / "saved_models" / "half_plus_two")
    window.select_path(["serve"])
    window.tree.setFocus()
    _press(window, Qt.Key_F, CTRL)
    assert QApplication.focusWidget() is window.filter        # details show: the tree's filter

    window.tree.setFocus()
    _press(window, Qt.Key_G, CTRL)                             # the graph, ready to find in
    graph = window.graph_host.side_tab
    qtbot.waitUntil(lambda: graph.panel is not None and graph.panel.graph is not None,
                    timeout=30_000)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is graph.panel.search, timeout=10_000)
    window.tree.setFocus()
    _press(window, Qt.Key_F, CTRL)
    assert QApplication.focusWidget() is graph.panel.search    # the graph shows: its find box

    _press(window, Qt.Key_PageUp, CTRL)                        # back to Details by keyboard
    assert window.graph_host.outer.currentIndex() == 0
    _press(window, Qt.Key_F, CTRL)
    assert QApplication.focusWidget() is window.filter
    assert not [r.message for r in qtlog.records if "Ambiguous shortcut" in r.message]


def test_ctrl_r_runs_from_the_tree_and_tabs_switch_by_keyboard(window, fixtures_dir, qtbot, qtlog):
    _ready(window, qtbot)
    open_document(window, fixtures_dir / "saved_models" / "keras_mlp")
    window.select_path(["serve", "signatures", "serving_default"])
    panel = window.current_panel()
    assert isinstance(panel, RunPanel)
    window.tree.setFocus()
    with qtbot.waitSignal(panel.result_ready, timeout=60_000) as ran:
        _press(window, Qt.Key_R, CTRL)
    assert ran.args[0].outputs["output_0"].shape[-1] == 3
    assert panel.tab_host().currentWidget() is panel.run_page
    assert wait_idle(timeout=30)
    # With the focus inside the run panel the same key has the same single owner.
    panel.run_button.setFocus()
    with qtbot.waitSignal(panel.result_ready, timeout=60_000):
        _press(window, Qt.Key_R, CTRL)
    assert wait_idle(timeout=30)
    assert not [r.message for r in qtlog.records if "Ambiguous shortcut" in r.message]

    tabs = panel.tab_host()
    start = tabs.currentIndex()
    _press(window, Qt.Key_PageDown, CTRL)
    assert tabs.currentIndex() == (start + 1) % tabs.count()
    _press(window, Qt.Key_PageUp, CTRL)
    assert tabs.currentIndex() == start
    # In the Trace tab, Find goes to the trace's filter.
    tabs.setCurrentWidget(panel.trace_panel)
    _press(window, Qt.Key_F, CTRL)
    assert QApplication.focusWidget() is panel.trace_panel.filter


def test_ctrl_r_elsewhere_says_what_to_select(window, fixtures_dir, qtbot):
    _ready(window, qtbot)
    open_document(window, fixtures_dir / "checkpoints" / "keras_adam")
    window.tree.setFocus()
    _press(window, Qt.Key_R, CTRL)
    assert "signature" in window.statusBar().currentMessage()


def test_help_lists_every_shortcut_and_the_version(window, qtbot):
    import tensorloupe
    _ready(window, qtbot)
    window.tree.setFocus()
    _press(window, Qt.Key_F1)
    qtbot.waitUntil(lambda: getattr(window, "shortcuts_dialog", None) is not None
                    and window.shortcuts_dialog.isVisible(), timeout=5000)
    dialog = window.shortcuts_dialog
    table = dialog.findChild(QTableWidget)
    rows = {(table.item(r, 1).text(), table.item(r, 2).text()) for r in range(table.rowCount())}
    what = {w for w, _ in rows}
    for expected in ("Find…", "Run Signature", "Show Graph", "Next Tab", "Open File…",
                     "Compare Checkpoints…", "Keyboard Shortcuts"):
        assert expected in what, expected
    keys = [k for _, k in rows]
    assert len(keys) == len(set(keys)), "a shortcut with two owners"
    assert any(tensorloupe.__version__ in label.text() for label in dialog.findChildren(
        type(window.hint)))
    dialog.close()


def test_opening_selects_the_new_document_named_after_its_folder(qtbot, fixtures_dir, tmp_path):
    from tensorloupe.gui.main_window import MainWindow
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    window.show()
    window.open_path(fixtures_dir / "checkpoints" / "keras_adam")
    assert wait_idle(timeout=30)
    window.tree.setCurrentIndex(window.proxy.index(0, 0))
    # saved_model.pb opened as a file (File > Open): named after its folder, selected.
    window.open_path(fixtures_dir / "saved_models" / "keras_mlp" / "saved_model.pb")
    assert wait_idle(timeout=30)
    doc = window.model.documents()[-1]
    assert doc.label == "keras_mlp"
    assert window.current_node() is doc
    # A path that fails: its red row is selected and explained, and it is not remembered.
    missing = tmp_path / "no_such_model"
    window.open_path(missing)
    assert wait_idle(timeout=30)
    failed = window.model.documents()[-1]
    assert failed.kind == N.ERROR and window.current_node() is failed
    assert isinstance(window.current_panel(), InfoPanel)
    recent = settings.value("recent")
    assert str(missing) not in recent
    assert str(fixtures_dir / "checkpoints" / "keras_adam") in recent
    # A filter that would hide the newly opened document is cleared, and says so.
    QTest.keyClicks(window.filter, "kernel")
    window.open_path(fixtures_dir / "checkpoints" / "training_run")
    assert wait_idle(timeout=30)
    assert window.filter.text() == ""
    assert window.current_node() is window.model.documents()[-1]
    window.model.close_all()


def test_demo_documents_say_they_are_the_demo(window):
    from tensorloupe.gui.app import demo_paths
    window.open_demo(demo_paths())
    assert wait_idle(timeout=60)
    labels = [d.label for d in window.model.documents()]
    assert labels == ["mobilenet_v2 (demo)", "training_run (demo)"]
    assert window.current_node() is window.model.documents()[0]
    # --select keeps matching the plain name
    assert window.select_path(["mobilenet_v2", "serve"]).label == "serve"
    assert window.hint.text().startswith("Ctrl+O")


def test_filter_by_path_no_matches_escape_and_selection_kept(window, fixtures_dir, qtbot):
    _ready(window, qtbot)
    open_document(window, fixtures_dir / "checkpoints" / "keras_adam")
    chosen = window.select_path(["model", "layer_with_weights-1", "gamma"])
    window.tree.setFocus()
    _press(window, Qt.Key_F, CTRL)
    # The path shown in the tensor panel's header finds the variable.
    QTest.keyClicks(window.filter, "layer_with_weights-0/kernel")
    shown = []
    stack = [window.proxy.index(0, 0)]
    while stack:
        idx = stack.pop()
        shown.append(window.proxy.data(idx))
        stack.extend(window.proxy.index(r, 0, idx) for r in range(window.proxy.rowCount(idx)))
    assert "kernel" in shown and "gamma" not in shown
    assert not window.no_matches.isVisible()
    window.filter.clear()
    QTest.keyClicks(window.filter, "no such thing")
    assert window.no_matches.isVisible()
    QTest.keyClick(window.filter, Qt.Key_Escape)                # Esc clears
    assert window.filter.text() == "" and not window.no_matches.isVisible()
    # The selection survived, in sight, its groups open.
    assert window.current_node() is chosen
    idx = window.tree.currentIndex()
    assert window.tree.isExpanded(idx.parent())
    assert window.tree.visualRect(idx).intersects(window.tree.viewport().rect())


def test_folder_opened_through_a_copy_keeps_its_name(window, fixtures_dir, tmp_path):
    """A SavedModel folder copied elsewhere and opened by its .pbtxt: named after the folder."""
    target = tmp_path / "export_7"
    shutil.copytree(fixtures_dir / "saved_models" / "half_plus_two_pbtxt", target)
    window.open_path(target / "saved_model.pbtxt")
    assert wait_idle(timeout=30)
    assert window.model.documents()[-1].label == "export_7"
