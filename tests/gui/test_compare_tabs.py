"""Comparisons inside the main window, driven as a person would: a training run's Compare
button, the tree's context menu on a checkpoint, on several checkpoints picked with Ctrl+click
and on a run, File > Compare Checkpoints… with its dialogs starting where the selection is;
each comparison a tab titled "A vs B" that Ctrl+W (or its close button) closes. Menus and
dialogs are answered by the tests (conftest refuses any left waiting for a person)."""
from __future__ import annotations

import os
import time

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QMessageBox, QTabBar

from tensorloupe.gui import nodes as N
from tensorloupe.gui.panels.compare import ComparePanel
from tensorloupe.gui.panels.summary import SummaryPanel
from tensorloupe.gui.workers import wait_idle
from tests.core.diff_truth import DIFF, record, value
from tests.gui.conftest import open_document

KERAS = DIFF / "keras_run"
TF1 = DIFF / "tf1_run"
CTRL = Qt.ControlModifier


def _ready(window, qtbot):
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)


def tree_index(window, node):
    return window.proxy.mapFromSource(window.model.index_of(node))


def click_in_tree(qtbot, window, node, modifiers=Qt.NoModifier):
    index = tree_index(window, node)
    window.tree.scrollTo(index)
    rect = window.tree.visualRect(index)
    qtbot.mouseClick(window.tree.viewport(), Qt.LeftButton, modifiers, rect.center())


def tree_menu(window, node, choose: str | None = None, patience: float = 10.0) -> list[str]:
    """Right-click ``node`` in the tree and return the entries of the menu that opens; click
    ``choose`` in it, or close it with Esc. A menu still open after ``patience`` seconds is
    closed, so that the test fails instead of hanging."""
    seen: list[str] = []
    deadline = time.monotonic() + patience

    def pick():
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            if time.monotonic() < deadline:
                QTimer.singleShot(20, pick)
            else:
                for w in QApplication.topLevelWidgets():
                    if isinstance(w, QMenu) and w.isVisible():
                        w.close()
            return
        seen.extend(a.text() for a in menu.actions() if not a.isSeparator())
        action = next((a for a in menu.actions() if a.text() == choose), None)
        if action is None:
            QTest.keyClick(menu, Qt.Key_Escape)
            return
        QTest.mouseClick(menu, Qt.LeftButton, Qt.NoModifier,
                         menu.actionGeometry(action).center())

    QTimer.singleShot(0, pick)
    index = tree_index(window, node)
    window.tree.scrollTo(index)
    rect = window.tree.visualRect(index)
    viewport = window.tree.viewport()
    event = QContextMenuEvent(QContextMenuEvent.Mouse, rect.center(),
                              viewport.mapToGlobal(rect.center()))
    QApplication.sendEvent(viewport, event)
    assert seen, "no context menu opened"
    return seen


def tab_titles(window) -> list[str]:
    tabs = window.compare_host.tabs
    return [tabs.tabText(i) for i in range(tabs.count())]


def wait_compared(qtbot, panel: ComparePanel):
    qtbot.waitUntil(lambda: panel.comparison is not None and not panel.is_busy(),
                    timeout=30000)


def open_run(window, path):
    doc = open_document(window, path)
    assert doc.kind == N.TRAINING_RUN
    return doc


def test_a_runs_compare_button_opens_a_tab_and_ctrl_w_closes_it(window, qtbot):
    _ready(window, qtbot)
    doc = open_run(window, KERAS)
    assert not window.compare_host.tabs.tabBar().isVisible()  # only the browser: no bar
    click_in_tree(qtbot, window, doc)
    panel = window.current_panel()
    assert isinstance(panel, SummaryPanel)
    n = len(record("keras_run")["prefixes"])
    assert panel.compare_button.isVisible() and panel.compare_button.text() == \
        f"Compare the {n} checkpoints"
    tree_width = window.splitter.sizes()[0]
    qtbot.mouseClick(panel.compare_button, Qt.LeftButton)
    assert tab_titles(window) == ["Browser", f"keras_run ({n} checkpoints)"]
    assert window.splitter.sizes()[0] < tree_width   # the comparison gets the room
    compare = window.compare_host.current_panel()
    assert window.compare_host.tabs.tabBar().isVisible()
    wait_compared(qtbot, compare)
    assert compare.series is not None and compare.series.names == record("keras_run")["prefixes"]
    it = [int(value("keras_run", p, "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE"))
          for p in ("ckpt-1", f"ckpt-{n}")]
    assert f"optimizer/iter {it[0]} → {it[1]}" in compare.counters_label.text()
    # Ctrl+W with the focus in the comparison's table closes the tab, not the document
    compare.table.setFocus()
    QTest.keyClick(QApplication.focusWidget(), Qt.Key_W, CTRL)
    assert tab_titles(window) == ["Browser"]
    assert window.model.documents() == [doc] and window.current_panel() is panel
    assert window.splitter.sizes()[0] == tree_width   # and gives it back
    # with the browser showing, Ctrl+W closes the document as before
    window.tree.setFocus()
    QTest.keyClick(window.tree, Qt.Key_W, CTRL)
    assert window.model.documents() == []


def test_context_menu_on_a_checkpoint_and_on_a_run(window, qtbot, monkeypatch):
    _ready(window, qtbot)
    doc = open_run(window, TF1)
    prefixes = record("tf1_run")["prefixes"]
    last = doc.find_child(prefixes[-1])
    entries = tree_menu(window, last)
    assert entries == ["Show in graph", f"Compare with the previous checkpoint ({prefixes[-2]})",
                       "Compare with…"]
    tree_menu(window, last,
              f"Compare with the previous checkpoint ({prefixes[-2]})")
    assert tab_titles(window)[-1] == f"{prefixes[-2]} vs {prefixes[-1]}"
    pair = window.compare_host.current_panel()
    wait_compared(qtbot, pair)
    assert pair.counters_label.text() == "Counters:  global_step 5 → 10"
    assert os.path.basename(pair.comparison.path_a) == prefixes[-2]
    entries = tree_menu(window, doc,
                        f"Compare the {len(prefixes)} checkpoints of this run")
    assert "Show in graph" in entries
    assert tab_titles(window)[-1] == f"tf1_run ({len(prefixes)} checkpoints)"
    series = window.compare_host.current_panel()
    wait_compared(qtbot, series)
    assert series.series.names == prefixes
    # the close button of a tab closes it; the browser has none
    bar = window.compare_host.tabs.tabBar()
    assert bar.tabButton(0, QTabBar.RightSide) is None and bar.tabButton(0, QTabBar.LeftSide) is None
    close = bar.tabButton(bar.count() - 1, QTabBar.RightSide) or \
        bar.tabButton(bar.count() - 1, QTabBar.LeftSide)
    qtbot.mouseClick(close, Qt.LeftButton)
    assert tab_titles(window) == ["Browser", f"{prefixes[-2]} vs {prefixes[-1]}"]


def test_checkpoints_picked_together_are_compared(window, qtbot, monkeypatch):
    _ready(window, qtbot)
    doc = open_run(window, KERAS)
    prefixes = record("keras_run")["prefixes"]
    first, middle, last = (doc.find_child(p) for p in (prefixes[0], prefixes[2], prefixes[-1]))
    click_in_tree(qtbot, window, first)
    click_in_tree(qtbot, window, last, CTRL)
    entries = tree_menu(window, last)
    assert f"Compare {prefixes[0]} with {prefixes[-1]}" in entries
    tree_menu(window, last, f"Compare {prefixes[0]} with {prefixes[-1]}")
    assert tab_titles(window)[-1] == f"{prefixes[0]} vs {prefixes[-1]}"
    pair = window.compare_host.current_panel()
    wait_compared(qtbot, pair)
    assert pair.series is None
    assert [os.path.basename(p) for p in (pair.comparison.path_a, pair.comparison.path_b)] == \
        [prefixes[0], prefixes[-1]]
    # a third one: the three as a series, in the tree's order
    window.compare_host.show_browser()
    click_in_tree(qtbot, window, middle, CTRL)
    tree_menu(window, middle, "Compare the 3 selected checkpoints")
    assert tab_titles(window)[-1] == f"{prefixes[0]} … {prefixes[-1]} (3 checkpoints)"
    series = window.compare_host.current_panel()
    wait_compared(qtbot, series)
    assert series.series.names == [prefixes[0], prefixes[2], prefixes[-1]]


def answer_message_box(monkeypatch, button: str, seen: list) -> None:
    """The next message boxes are answered by clicking ``button``; their buttons go to
    ``seen``."""
    def answer(box):
        seen.append([b.text() for b in box.buttons()])
        next(b for b in box.buttons() if b.text() == button).click()
        return 0
    monkeypatch.setattr(QMessageBox, "exec", answer)


def answer_file_dialogs(monkeypatch, picks: list, seen: list) -> None:
    """The next "open file" dialogs pick ``picks`` in turn; the directory each one starts in
    goes to ``seen``."""
    def answer(_parent, caption="", directory="", *_args, **_kwargs):
        seen.append(os.path.realpath(directory))
        return (str(picks.pop(0)), "") if picks else ("", "")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(answer))


def test_file_compare_dialog_starts_where_the_selection_is(window, qtbot, monkeypatch):
    _ready(window, qtbot)
    doc = open_run(window, KERAS)
    prefixes = record("keras_run")["prefixes"]
    click_in_tree(qtbot, window, doc.find_child(prefixes[2]))
    boxes: list = []
    starts: list = []
    answer_message_box(monkeypatch, "Two checkpoints…", boxes)
    answer_file_dialogs(monkeypatch, [KERAS / f"{prefixes[0]}.index",
                                      KERAS / f"{prefixes[-1]}.index"], starts)
    QTest.keyClick(window.tree, Qt.Key_D, CTRL)   # File > Compare Checkpoints…
    assert boxes == [["Two checkpoints…", "Training directory…", "Cancel"]]
    # not the process's working directory: the selected checkpoint's, then A's
    assert starts == [os.path.realpath(KERAS)] * 2
    assert os.path.realpath(os.getcwd()) != os.path.realpath(KERAS)
    assert tab_titles(window)[-1] == f"{prefixes[0]} vs {prefixes[-1]}"
    wait_compared(qtbot, window.compare_host.current_panel())

    # two picked in the tree: offered as such, no file dialog
    window.compare_host.show_browser()
    click_in_tree(qtbot, window, doc.find_child(prefixes[1]))
    click_in_tree(qtbot, window, doc.find_child(prefixes[3]), CTRL)
    answer_message_box(monkeypatch, "The 2 selected", boxes)
    answer_file_dialogs(monkeypatch, [], starts)
    QTest.keyClick(window.tree, Qt.Key_D, CTRL)
    assert boxes[-1][0] == "The 2 selected" and len(starts) == 2
    assert tab_titles(window)[-1] == f"{prefixes[1]} vs {prefixes[3]}"
    wait_compared(qtbot, window.compare_host.current_panel())


def test_without_a_selection_the_dialog_starts_at_the_open_document(window, qtbot, monkeypatch):
    _ready(window, qtbot)
    open_run(window, TF1)
    window.tree.clearSelection()
    window.tree.setCurrentIndex(QModelIndex())
    assert window.current_node() is None
    boxes: list = []
    starts: list = []
    answer_message_box(monkeypatch, "Two checkpoints…", boxes)
    answer_file_dialogs(monkeypatch, [], starts)   # the person cancels
    compare_action = next(a for a in window.menu("file").actions()
                           if a.text() == "Co&mpare Checkpoints…")
    compare_action.trigger()   # as clicked in the menu
    assert starts == [os.path.realpath(TF1)]
    assert tab_titles(window) == ["Browser"]


def test_compare_with_starts_beside_the_checkpoint(window, qtbot, monkeypatch):
    _ready(window, qtbot)
    doc = open_run(window, TF1)
    prefixes = record("tf1_run")["prefixes"]
    starts: list = []
    answer_file_dialogs(monkeypatch, [TF1 / f"{prefixes[0]}.index"], starts)
    tree_menu(window, doc.find_child(prefixes[1]), "Compare with…")
    assert starts == [os.path.realpath(TF1)]
    assert tab_titles(window)[-1] == f"{prefixes[1]} vs {prefixes[0]}"
    wait_compared(qtbot, window.compare_host.current_panel())


def test_find_and_tab_switching_reach_the_comparison(window, qtbot):
    _ready(window, qtbot)
    open_run(window, TF1)
    window.compare([TF1 / "model.ckpt-0", TF1 / "model.ckpt-10"])
    compare = window.compare_host.current_panel()
    wait_compared(qtbot, compare)
    QTest.keyClick(compare.table, Qt.Key_F, CTRL)
    assert QApplication.focusWidget() is compare.filter_edit     # Find: the comparison's filter
    QTest.keyClick(compare.filter_edit, Qt.Key_PageUp, CTRL)
    assert window.compare_host.tabs.currentIndex() == 0           # back to the browser
    window.tree.setFocus()
    QTest.keyClick(window.tree, Qt.Key_PageDown, CTRL)
    assert window.compare_host.tabs.currentIndex() == 1
    wait_idle(10)
