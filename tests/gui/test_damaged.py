"""A tensor whose stored checksum fails: the tensor panel says so with both checksums, shows no
values unless asked, its tree item turns red, and the rest of the model stays browsable.

The damage: one flipped bit in a copy of a SavedModel TensorFlow wrote (half_plus_two,
whose variables are a = 0.5, b = 2, c = 3).
"""
from __future__ import annotations

import shutil

import google_crc32c
import numpy as np
from PySide6.QtCore import Qt

from tensorloupe.core.checkpoint import open_checkpoint
from tensorloupe.gui.panels.tensor import TensorPanel
from tensorloupe.gui.tree_model import COL_NAME

from tests.gui.conftest import open_document


def _damaged_copy(fixtures_dir, tmp_path):
    model = tmp_path / "half_plus_two"
    shutil.copytree(fixtures_dir / "saved_models" / "half_plus_two", model)
    data = model / "variables" / "variables.data-00000-of-00001"
    with open_checkpoint(model / "variables" / "variables") as reader:
        entry = reader.entry("a")
    raw = bytearray(data.read_bytes())
    good = bytes(raw[entry.offset:entry.offset + entry.size])
    raw[entry.offset + 2] ^= 0x01
    data.write_bytes(bytes(raw))
    bad = bytes(raw[entry.offset:entry.offset + entry.size])
    return model, good, bad


def test_damaged_tensor_panel_and_tree(window, fixtures_dir, tmp_path, idle, qtbot):
    model, good, bad = _damaged_copy(fixtures_dir, tmp_path)
    open_document(window, model)
    node = window.select_path(["serve", "variables", "a"])
    idle()
    panel = window.current_panel()
    assert isinstance(panel, TensorPanel)
    # No numbers from the damaged bytes: no array, no statistics.
    assert panel.array is None and panel.stats is None
    text = panel.error_label.text()
    assert panel.error_label.isVisible()
    assert "damaged" in text and "checksum failed" in text
    # Both checksums, as TensorFlow wrote one and as the bytes now give the other.
    assert f"{google_crc32c.value(good):#010x}" in text
    assert f"{google_crc32c.value(bad):#010x}" in text
    # The tree item is red, with the same message as its tooltip.
    assert node.error and "checksum" in node.error
    index = window.model.index_of(node).siblingAtColumn(COL_NAME)
    red = window.model.data(index, Qt.ForegroundRole)
    assert red is not None and red.color().red() > 150 and red.color().green() < 100
    assert window.model.data(index, Qt.ToolTipRole) == node.error

    # The rest stays browsable: b reads and shows its value.
    other = window.select_path(["serve", "variables", "b"])
    idle()
    panel = window.current_panel()
    assert panel.error is None and not panel.error_label.isVisible()
    assert panel.stats is not None and panel.stats.max == 2.0
    assert not other.error

    # Asked for, the damaged values are shown, marked as such.
    window.select_path(["serve", "variables", "a"])
    idle()
    panel = window.current_panel()
    assert panel.show_anyway.isVisible()
    qtbot.mouseClick(panel.show_anyway, Qt.LeftButton)
    idle()
    assert panel.unchecked and panel.array is not None
    assert float(panel.array) == float(np.frombuffer(bad, dtype="<f4")[0]) != 0.5
    assert "Damaged data" in panel.error_label.text() and panel.error_label.isVisible()


def test_good_tensor_offers_no_unchecked_view(window, fixtures_dir, idle):
    open_document(window, fixtures_dir / "saved_models" / "half_plus_two")
    node = window.select_path(["serve", "variables", "a"])
    idle()
    panel = window.current_panel()
    assert isinstance(panel, TensorPanel)
    assert panel.error is None and float(panel.array) == 0.5
    assert not panel.show_anyway.isVisible() and not node.error
