"""Helpers for the window tests: a MainWindow without saved settings, and waiting for work."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tensorloupe.gui.workers import tracker, wait_idle


@pytest.fixture(scope="session", autouse=True)
def _application_settings():
    """What gui.app applies when the application starts (plot colours, image axis order)."""
    from tensorloupe.gui import theme
    theme.apply()


@pytest.fixture(autouse=True)
def _no_modal_dialogs(monkeypatch):
    """A modal dialog waits for a person who is not there: the test would hang. Any dialog a
    test does not answer itself (by patching it) fails the test at once instead."""
    from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

    def refuse(name):
        def call(*args, **kwargs):
            raise AssertionError(f"a modal {name} opened during a test; answer it in the test")
        return call
    for name in ("getOpenFileName", "getOpenFileNames", "getExistingDirectory",
                 "getSaveFileName"):
        monkeypatch.setattr(QFileDialog, name, staticmethod(refuse(f"QFileDialog.{name}")))
    for name in ("question", "warning", "information", "critical", "about"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(refuse(f"QMessageBox.{name}")))
    monkeypatch.setattr(QDialog, "exec", refuse("QDialog.exec"))


@pytest.fixture
def window(qtbot):
    from tensorloupe.gui.main_window import MainWindow
    w = MainWindow(settings=None)
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    yield w
    tracker.cancel_all()
    assert wait_idle(timeout=20, settle=0.0)
    w.model.close_all()


@pytest.fixture
def idle():
    """Call to wait until every background job has finished (asserts it did)."""
    def wait(timeout: float = 20.0):
        assert wait_idle(timeout=timeout), "background work did not finish"
    yield wait
    tracker.cancel_all()
    wait_idle(timeout=20, settle=0.0)


def open_document(window, path) -> "object":
    """Open ``path`` in ``window`` and return its document node once loaded."""
    window.open_path(path)
    assert wait_idle(timeout=30)
    return window.model.documents()[-1]


def recorded(checkpoint_dir: Path, name: str) -> tuple[dict, dict]:
    """TensorFlow's record of a checkpoint fixture: tensor facts and values (npz by key)."""
    meta = json.loads((checkpoint_dir / "tensorflow.json").read_text())["checkpoints"][name]
    values = np.load(checkpoint_dir / f"values-{name}.npz", allow_pickle=False)
    arrays = {key: values[info["npz"]] for key, info in meta["tensors"].items() if info.get("npz")}
    return meta, arrays
