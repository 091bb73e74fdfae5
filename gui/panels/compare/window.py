"""File > Compare Checkpoints… (the comparison opens as a tab of the main window, see
``host``), showing a compared tensor in the main window, and the comparison as a window of
its own for ``tensorloupe gui --compare A B [--screenshot OUT.png]``."""
from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QVBoxLayout, QWidget

from tensorloupe.core import compare_view as V
from tensorloupe.core.errors import InputError, TensorloupeError

from ...app import application, save_screenshot
from ...workers import JobSlot, tracker, wait_idle
from .panel import ComparePanel


class CompareWindow(QWidget):
    """A top-level window holding one ComparePanel."""

    def __init__(self, parent=None):
        super().__init__(parent, Qt.Window)
        self.setWindowTitle("Tensorloupe — compare checkpoints")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.panel = ComparePanel(self)
        layout.addWidget(self.panel)
        # Finding where "Open in A/B" leads in the main window's tree reads the checkpoint.
        self.open_job = JobSlot()

    def closeEvent(self, event) -> None:
        self.panel.cancel()
        super().closeEvent(event)


def start(panel: ComparePanel, paths: list[str]) -> None:
    """Two paths: a pair; one directory or more than two paths: a series."""
    if V.is_pair(paths):
        panel.compare_pair(paths[0], paths[1])
    elif len(paths) == 1:
        panel.compare_series(paths[0])
    else:
        panel.compare_series(paths)


CHECKPOINT_FILTER = "Checkpoint index (*.index);;All files (*)"


def choose_checkpoint(parent, caption: str, directory: str) -> str | None:
    """A checkpoint's ``.index`` picked in a file dialog that starts in ``directory``."""
    path, _ = QFileDialog.getOpenFileName(parent, caption, directory, CHECKPOINT_FILTER)
    return path or None


def ask_compare(main_window) -> ComparePanel | None:
    """File > Compare Checkpoints…: the checkpoints picked in the tree, two checkpoints or a
    training directory; the file dialogs start where the selected item is."""
    from .host import start_directory
    host = main_window.compare_host
    picked = host.selected_checkpoints()
    box = QMessageBox(main_window)
    box.setWindowTitle("Compare checkpoints")
    box.setText("Compare two checkpoints, or every checkpoint of a training directory?")
    selected = None
    if len(picked) >= 2:
        selected = box.addButton(f"The {len(picked)} selected", QMessageBox.AcceptRole)
        box.setInformativeText("Selected in the tree: "
                               + ", ".join(V.checkpoint_name(p) for p in picked))
    pair = box.addButton("Two checkpoints…", QMessageBox.AcceptRole)
    run = box.addButton("Training directory…", QMessageBox.AcceptRole)
    box.addButton(QMessageBox.Cancel)
    box.setDefaultButton(selected or pair)
    box.exec()
    start_dir = start_directory(main_window.current_node(), main_window.model.documents())
    if selected is not None and box.clickedButton() is selected:
        paths = picked
    elif box.clickedButton() is pair:
        a = choose_checkpoint(main_window, "Checkpoint A", start_dir)
        if not a:
            return None
        b = choose_checkpoint(main_window, "Checkpoint B", os.path.dirname(a))
        if not b:
            return None
        paths = [a, b]
    elif box.clickedButton() is run:
        d = QFileDialog.getExistingDirectory(main_window, "Training directory", start_dir)
        if not d:
            return None
        paths = [d]
    else:
        return None
    return host.open(paths)


def open_in_window(main_window, prefix: str, key: str, job: JobSlot) -> None:
    """Show one checkpoint tensor in the main window's tensor panel.

    The checkpoint opens as a document of the main window; where the tensor sits in its tree
    is read from the checkpoint in ``job``, and selected when known."""
    index = main_window.open_path(prefix)
    document = main_window.model.node(index).label
    job.submit(_find_in_tree, prefix, key, label="Finding the tensor",
               on_result=lambda labels: _select_in_tree(main_window, document, labels),
               on_error=lambda exc: main_window.statusBar().showMessage(str(exc), 8000))


def _find_in_tree(ctx, prefix: str, key: str) -> list[str]:
    ctx.check()
    return V.checkpoint_tree_labels(prefix, key)


def _select_in_tree(main_window, document: str, labels: list[str]) -> None:
    main_window.raise_()
    main_window.activateWindow()
    main_window.compare_host.show_browser()
    several = len(main_window.model.documents()) > 1
    try:
        main_window.select_path([document, *labels] if several else labels)
    except TensorloupeError as exc:
        main_window.statusBar().showMessage(str(exc), 8000)


def show_compare(paths: list[str], screenshot: str | None, size: tuple[int, int],
                 select: str | None = None) -> int:
    """``tensorloupe gui --compare A B [--select VAR] [--screenshot OUT.png]``."""
    if screenshot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = application()
    window = CompareWindow()
    window.resize(*size)
    window.show()
    start(window.panel, list(paths))
    if not screenshot:
        return app.exec()
    try:
        wait_idle(timeout=300)
        if select:
            if not window.panel.select_variable(select):
                raise InputError(f"no variable {select!r} in the comparison")
            wait_idle(timeout=120)
        save_screenshot(app, window, screenshot)
    finally:
        tracker.cancel_all()
        wait_idle(timeout=10, settle=0.0)
        window.close()
    return 0

