"""The window's plumbing: drag and drop, recent files and layout in QSettings, the status bar."""
import numpy as np
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent

from tensorloupe.gui import nodes as N
from tensorloupe.gui.main_window import MainWindow
from tensorloupe.gui.panels.tensor import TensorPanel
from tensorloupe.gui.workers import run_in_background, wait_idle


def test_dropping_a_folder_opens_it(window, fixtures_dir):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(fixtures_dir / "checkpoints" / "keras_adam"))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)
    assert wait_idle(timeout=30)
    docs = window.model.documents()
    assert [d.kind for d in docs] == [N.CHECKPOINT] and docs[0].label == "keras_adam"


def test_recent_files_layout_and_open_documents_are_remembered(qtbot, fixtures_dir, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    first = MainWindow(settings=settings)
    qtbot.addWidget(first)
    paths = [fixtures_dir / "checkpoints" / "keras_adam",
             fixtures_dir / "saved_models" / "half_plus_two"]
    first.open_paths(paths)
    assert wait_idle(timeout=30)
    first.splitter.setSizes([300, 900])
    sizes = first.splitter.sizes()
    first.close()
    settings.sync()
    second = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(second)
    assert second._recent()[:2] == [str(paths[1]), str(paths[0])]
    assert second.last_open_documents() == [str(p) for p in paths]
    assert second.splitter.sizes() == sizes
    second.close()


def test_status_bar_shows_long_work_and_cancels_it(window, qtbot):
    def slow(ctx):
        for i in range(400):
            ctx.check()
            ctx.progress(i, 400)
            import time
            time.sleep(0.01)
        return "finished"
    results = []
    job = run_in_background(slow, label="Slow job", on_result=results.append)
    qtbot.waitUntil(lambda: window.busy_widget.isVisible(), timeout=3000)
    assert "Slow job" in window.status_label.text()
    with qtbot.waitSignal(job.cancelled, timeout=5000):
        window.status_cancel.click()
    assert wait_idle(timeout=10)
    assert results == [] and not window.busy_widget.isVisible()


def test_a_failing_job_reports_its_error_without_raising(qtbot):
    errors = []

    def broken(ctx):
        raise ValueError("bad input")
    run_in_background(broken, on_error=errors.append)
    assert wait_idle(timeout=10)
    assert [str(e) for e in errors] == ["bad input"]


def test_stale_results_never_overwrite_a_newer_selection(qtbot):
    panel = TensorPanel()
    qtbot.addWidget(panel)
    panel.set_array("first", np.zeros(3_000_000, np.float32))
    panel.set_array("second", np.arange(5, dtype=np.float32))
    assert wait_idle(timeout=30)
    assert panel.title.text() == "second" and panel.stats.count == 5 and panel.stats.max == 4.0
