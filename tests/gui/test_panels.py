"""Selecting each kind of item shows the right panel with TensorFlow's numbers."""
import json
import math
import re
import shutil

import numpy as np
import pytest

from tensorloupe.gui import nodes as N
from tensorloupe.gui.panels.asset import AssetPanel
from tensorloupe.gui.panels.info import InfoPanel
from tensorloupe.gui.panels.signature import SignaturePanel
from tensorloupe.gui.panels.summary import SummaryPanel
from tensorloupe.gui.panels.tensor import TensorPanel

from tests.gui.conftest import open_document, recorded


def test_variable_shows_tensor_panel_with_tensorflow_values(window, fixtures_dir, idle):
    ckpt_dir = fixtures_dir / "checkpoints" / "keras_adam"
    meta, values = recorded(ckpt_dir, "ckpt")
    open_document(window, ckpt_dir)
    node = window.select_path(["model", "layer_with_weights-0", "kernel"])
    idle()
    panel = window.current_panel()
    assert isinstance(panel, TensorPanel)
    tf_values = values[node.payload.key].astype(np.float64)
    s = panel.stats
    assert s.count == tf_values.size
    assert s.min == tf_values.min() and s.max == tf_values.max()
    assert math.isclose(s.mean, tf_values.mean(), rel_tol=1e-9)
    assert math.isclose(s.std, tf_values.std(), rel_tol=1e-9)
    assert s.zeros == int(np.count_nonzero(tf_values == 0))
    assert panel.stat_text("min") == f"{tf_values.min():.6g}"
    # The table shows TensorFlow's values, cell by cell.
    panel.select_view("table")
    model = panel.current_view().model
    assert (model.rowCount(), model.columnCount()) == tf_values.shape
    for r in range(tf_values.shape[0]):
        for c in range(tf_values.shape[1]):
            assert float(model.index(r, c).data()) == pytest.approx(tf_values[r, c], rel=1e-5)
    counts, _edges = panel.histogram
    assert counts.sum() == tf_values.size


def test_slot_panel_says_whose_slot_it_is(window, fixtures_dir, idle):
    ckpt_dir = fixtures_dir / "checkpoints" / "keras_adam"
    _, values = recorded(ckpt_dir, "ckpt")
    open_document(window, ckpt_dir)
    node = window.select_path(["model", "layer_with_weights-0", "kernel", "v"])
    idle()
    panel = window.current_panel()
    assert isinstance(panel, TensorPanel)
    assert "slot “v” of kernel" in panel.subtitle.text()
    assert panel.stats.max == values[node.payload.key].max()


@pytest.mark.parametrize("key", ["bf16", "f16", "c64", "i8", "u64", "bool", "scalar_f32"])
def test_every_dtype_is_shown(window, fixtures_dir, idle, key):
    ckpt_dir = fixtures_dir / "checkpoints" / "dtypes"
    meta, values = recorded(ckpt_dir, "all_dtypes")
    open_document(window, ckpt_dir)
    window.select_path([key])
    idle()
    panel = window.current_panel()
    assert isinstance(panel, TensorPanel) and panel.error is None
    expected = values[key]
    info = meta["tensors"][key]
    if "bits" in info:  # bfloat16 is recorded as its bit patterns
        import ml_dtypes
        expected = np.asarray(expected, dtype=np.uint16).view(ml_dtypes.bfloat16)
    expected = np.asarray(expected)
    if expected.dtype.kind == "c":
        expected = np.abs(expected)
    expected = expected.astype(np.float64)
    assert panel.stats.count == expected.size
    assert panel.stats.max == pytest.approx(expected.max())
    assert panel.stats.min == pytest.approx(expected.min())
    if expected.size == 1:
        assert panel.current_view_name() == "value"


def test_strings_are_shown_as_text(window, fixtures_dir, idle):
    ckpt_dir = fixtures_dir / "checkpoints" / "dtypes"
    meta, _ = recorded(ckpt_dir, "all_dtypes")
    open_document(window, ckpt_dir)
    window.select_path(["str"])
    idle()
    panel = window.current_panel()
    panel.select_view("text")
    text = panel.current_view().widget().toPlainText()
    for hex_value in meta["tensors"]["str"]["hex"]:
        decoded = bytes.fromhex(hex_value).decode("utf-8", "backslashreplace")
        assert decoded in text


def test_four_d_slice_shows_the_chosen_axes(qtbot, idle):
    arr = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    panel = TensorPanel()
    qtbot.addWidget(panel)
    panel.set_array("x", arr)
    idle()
    panel.select_view("table")
    panel.slicer.set_axes(1, 3)       # rows: axis 1, columns: axis 3
    panel.slicer.set_index(0, 1)
    panel.slicer.set_index(2, 2)
    idle()
    expected = arr[1, :, 2, :]
    # The slice redraw is coalesced by a short timer: wait for it, not for a fixed time.
    qtbot.waitUntil(lambda: panel.current_view().model.rowCount() == expected.shape[0])
    np.testing.assert_array_equal(panel.current_slice(), expected)
    model = panel.current_view().model
    assert (model.rowCount(), model.columnCount()) == expected.shape
    assert model.index(2, 4).data() == f"{expected[2, 4]:g}"
    assert panel.slicer.description() == "[1, :, 2, :]"
    # Swapping the axes transposes the table.
    panel.slicer.set_axes(3, 1)
    qtbot.waitUntil(lambda: panel.current_view().model.rowCount() == expected.shape[1])
    np.testing.assert_array_equal(panel.current_slice(), expected.T)
    panel.select_view("image")
    idle()
    img = panel.current_view().image.image
    np.testing.assert_array_equal(img, expected.T)


def test_conv_kernel_of_saved_model_slices_like_numpy(window, fixtures_dir, idle, qtbot):
    open_document(window, fixtures_dir / "saved_models" / "keras_cnn")
    node = window.select_path(["serve", "variables", "conv", "kernel"])
    idle()
    panel = window.current_panel()
    full = node.payload.reader.read(node.payload.key)
    assert full.shape == (3, 3, 3, 4)
    panel.slicer.set_index(0, 2)
    panel.slicer.set_index(1, 1)
    qtbot.waitUntil(lambda: panel.slice_label.text().startswith("[2, 1"))
    np.testing.assert_array_equal(panel.current_slice(), full[2, 1])


def test_signature_panel_matches_saved_model_cli(window, fixtures_dir):
    expected = fixtures_dir / "expected" / "half_plus_two"
    open_document(window, fixtures_dir / "saved_models" / "half_plus_two")
    window.select_path(["serve", "signatures", "classify_x_to_y"])
    panel = window.current_panel()
    assert isinstance(panel, SignaturePanel)
    text = (expected / "show_signature_serve__classify_x_to_y.txt").read_text()
    ins = re.findall(r"inputs\['([^']+)'\] tensor_info:\s+dtype: (\S+)\s+shape: (.+)\s+name: (\S+)",
                     text)
    outs = re.findall(r"outputs\['([^']+)'\] tensor_info:\s+dtype: (\S+)\s+shape: (.+)\s+"
                      r"name: (\S+)", text)
    rows = [(panel.cell(r, 0), tuple(panel.cell(r, c) for c in range(1, 5)))
            for r in range(panel.table.rowCount())]
    assert rows == [("input", t) for t in ins] + [("output", t) for t in outs]
    assert "Classify" in panel.explanation.text()
    method = re.search(r"Method name is: (\S+)", text).group(1)
    assert method in panel.subtitle.text()


def test_asset_panel_previews_text_and_binary(window, fixtures_dir, idle):
    root = fixtures_dir / "saved_models" / "half_plus_two"
    open_document(window, root)
    window.select_path(["serve", "assets.extra", "notes.txt"])
    idle()
    panel = window.current_panel()
    assert isinstance(panel, AssetPanel)
    assert panel.mode == "text"
    assert panel.text.toPlainText() == (root / "assets.extra" / "notes.txt").read_text()
    window.select_path(["serve", "assets.extra", "tf_serving_warmup_requests"])
    idle()
    data = (root / "assets.extra" / "tf_serving_warmup_requests").read_bytes()
    assert panel.mode == "hex"
    first = panel.text.toPlainText().splitlines()[0]
    assert first.startswith("00000000  " + " ".join(f"{b:02x}" for b in data[:8]))


def test_meta_graph_summary_counts_match_tensorflow(window, fixtures_dir, idle):
    tf = json.loads((fixtures_dir / "expected" / "keras_cnn" / "signatures.json").read_text())
    open_document(window, fixtures_dir / "saved_models" / "keras_cnn")
    window.select_path(["serve"])
    idle()
    panel = window.current_panel()
    assert isinstance(panel, SummaryPanel)
    assert panel.row_value("graph nodes") == f"{tf['num_nodes']['serve']:,}"
    assert panel.row_value("functions") == f"{tf['num_functions']['serve']:,}"
    assert panel.row_value("distinct ops") == str(len(tf["ops"]["serve"]))
    assert panel.row_value("written by TensorFlow")


def test_checkpoint_summary_verifies_checksums(window, fixtures_dir, idle):
    ckpt_dir = fixtures_dir / "checkpoints" / "keras_adam"
    meta, _ = recorded(ckpt_dir, "ckpt")
    open_document(window, ckpt_dir)
    window.select_path([])
    idle()
    panel = window.current_panel()
    assert isinstance(panel, SummaryPanel)
    assert panel.problems == []
    assert panel.row_value("tensors") == str(len(meta["keys"]))


def test_corrupt_data_shard_is_reported_in_panel_and_tree(window, fixtures_dir, tmp_path, idle):
    src = fixtures_dir / "checkpoints" / "keras_adam"
    dst = tmp_path / "damaged"
    shutil.copytree(src, dst)
    data = dst / "ckpt.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    for i in range(len(raw) // 2, len(raw) // 2 + 16):
        raw[i] ^= 0xFF
    data.write_bytes(bytes(raw))
    doc = open_document(window, dst)
    window.select_path([])
    idle()
    panel = window.current_panel()
    assert panel.problems, "the damaged bytes were not detected"
    assert panel.error.isVisible() and "damaged" in panel.error.text()
    damaged = [n for n in _walk(doc) if n.error]
    assert {n.payload.key for n in damaged} == {p.key for p in panel.problems}


def test_corrupt_index_shows_error_item_and_message(window, fixtures_dir, tmp_path, idle):
    src = fixtures_dir / "checkpoints" / "keras_adam"
    dst = tmp_path / "broken"
    shutil.copytree(src, dst)
    index = dst / "ckpt.index"
    index.write_bytes(index.read_bytes()[:-20])  # cut into the footer
    doc = open_document(window, dst)
    assert doc.kind == N.ERROR and doc.error
    window.tree.setCurrentIndex(window.proxy.mapFromSource(window.model.index_of(doc)))
    panel = window.current_panel()
    assert isinstance(panel, InfoPanel)
    assert panel.error.isVisible() and panel.error.text() == doc.error
    # Another document opened next to it still works.
    other = open_document(window, src)
    assert other.kind == N.CHECKPOINT


def test_missing_path_is_an_error_item(window, tmp_path):
    doc = open_document(window, tmp_path / "nothing-here")
    assert doc.kind == N.ERROR
    assert "no such file" in doc.error or "no checkpoint" in doc.error


def test_export_npy_csv_png_and_copy(qtbot, tmp_path, idle):
    arr = np.array([[1.5, -2.0], [0.0, 3.25]], dtype=np.float32)
    panel = TensorPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    panel.set_array("layer/kernel", arr)
    idle()
    panel.export_npy(str(tmp_path / "t.npy"))
    panel.export_csv(str(tmp_path / "t.csv"))
    idle()
    np.testing.assert_array_equal(np.load(tmp_path / "t.npy"), arr)
    rows = [[float(v) for v in line.split(",")]
            for line in (tmp_path / "t.csv").read_text().splitlines()]
    np.testing.assert_array_equal(np.array(rows, dtype=np.float32), arr)
    panel.select_view("image")
    idle()
    panel.export_png(str(tmp_path / "t.png"))
    assert (tmp_path / "t.png").stat().st_size > 1000
    panel.copy_name()
    from PySide6.QtGui import QGuiApplication
    assert QGuiApplication.clipboard().text() == "layer/kernel"
    assert "3.25" in panel.value_text()


def _walk(node):
    for c in node.loaded_children():
        yield c
        yield from _walk(c)


def test_long_vector_table_pages_through_a_window(qtbot, idle):
    from tensorloupe.gui.panels.tensor_table import WINDOW_ROWS
    arr = np.arange(WINDOW_ROWS + 10, dtype=np.int32)
    panel = TensorPanel()
    qtbot.addWidget(panel)
    panel.set_array("long", arr)
    idle()
    panel.select_view("table")
    view = panel.current_view()
    model = view.model
    assert model.rowCount() == WINDOW_ROWS and model.needs_paging()
    assert view.page_bar.isVisibleTo(panel.stack)
    view.page_spin.setValue(WINDOW_ROWS)  # clamped to the last full window
    assert model.origin() == (10, 0)
    last = model.rowCount() - 1
    assert model.index(last, 0).data() == str(arr[-1])
    from PySide6.QtCore import Qt
    assert model.headerData(last, Qt.Vertical) == str(arr.size - 1)
