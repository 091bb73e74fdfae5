"""The Run tab: filling each kind of input, refusing bad input, running like core (and like
TensorFlow, from the recorded fixtures), cancel, history, saving, remembering inputs."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QLabel

import tensorloupe.core as core
from tensorloupe.core.errors import InputError
from tensorloupe.core.example_spec import example_values
from tensorloupe.gui import nodes as N
from tensorloupe.gui.panels.run import InputEditor, RunPanel, run_selected
from tensorloupe.gui.panels.run.panel import _run_job
from tensorloupe.gui.panels.signature import SignaturePanel
from tensorloupe.gui.workers import wait_idle


def _panel(qtbot, fixtures_dir, model, key, settings=None, tags="serve"):
    sm = core.open_saved_model(fixtures_dir / "saved_models" / model)
    mg = sm.meta_graph(tags)
    panel = RunPanel(settings=settings)
    qtbot.addWidget(panel)
    panel.resize(1000, 800)
    panel.show()
    node = N.Node(label=key, kind=N.SIGNATURE, payload=N.SignatureRef(mg.signatures[key], mg))
    panel.show_node(node)
    return panel, sm


def _expected(fixtures_dir, model, key):
    return np.load(fixtures_dir / "expected" / model / f"run_serve__{key}.npz")


def _run(qtbot, panel, timeout=60_000):
    with qtbot.waitSignal(panel.result_ready, timeout=timeout) as blocker:
        assert panel.run() is not None
    wait_idle(timeout=30)
    return blocker.args[0]


def test_run_matches_core_and_tensorflow(qtbot, fixtures_dir):
    panel, sm = _panel(qtbot, fixtures_dir, "keras_mlp", "serving_default")
    data = _expected(fixtures_dir, "keras_mlp", "serving_default")
    x = data["in/features"]
    ed = panel.editors["features"]
    ed.set_mode("expr")
    ed.expr_edit.setText(repr(x.tolist()))
    result = _run(qtbot, panel)
    np.testing.assert_array_equal(result.inputs["features"], x)
    ours = sm.run_signature("serving_default", {"features": x})
    np.testing.assert_array_equal(result.outputs["output_0"], ours["output_0"])
    np.testing.assert_allclose(result.outputs["output_0"], data["out/output_0"],
                               rtol=1e-4, atol=1e-5)
    # The outputs are shown: a bar chart of the score vector and the tensor panel.
    assert panel.outputs.key_combo.currentText() == "output_0"
    assert panel.outputs.tabs.tabText(0) == "Bar chart"
    assert panel.outputs.chart.top[0] == int(np.argmax(data["out/output_0"][0]))
    assert "ms" in panel.time_label.text()
    np.testing.assert_array_equal(panel.outputs.tensor.array, result.outputs["output_0"])


def test_signature_tab_is_still_the_signature_panel(qtbot, fixtures_dir):
    panel, _ = _panel(qtbot, fixtures_dir, "half_plus_two", "classify_x_to_y")
    assert isinstance(panel, SignaturePanel)
    assert panel.cell(0, 1) == "inputs"
    assert [panel.tabs.tabText(i) for i in range(3)] == ["Signature", "Run", "Trace"]


def test_generated_inputs_follow_batch_seed_and_kind(qtbot, fixtures_dir):
    panel, _ = _panel(qtbot, fixtures_dir, "keras_mlp", "serving_default")
    ed = panel.editors["features"]
    assert ed.mode == "random"
    panel.batch_spin.setValue(3)
    assert ed.validate()
    a = ed.current_value()
    assert a.shape == (3, 4) and a.dtype == np.float32
    np.testing.assert_array_equal(
        a, np.random.default_rng(0).uniform(0, 1, size=(3, 4)).astype(np.float32))
    ed.seed_spin.setValue(7)
    assert ed.validate()
    assert not np.array_equal(ed.current_value(), a)
    ed.kind_combo.setCurrentText("normal")
    ed.low_spin.setValue(5.0)
    ed.high_spin.setValue(0.5)
    assert ed.validate()
    np.testing.assert_array_equal(
        ed.current_value(),
        np.random.default_rng(7).normal(5.0, 0.5, size=(3, 4)).astype(np.float32))
    for mode, fill in (("zeros", 0), ("ones", 1)):
        ed.set_mode(mode)
        assert ed.validate()
        assert ed.current_value().shape == (3, 4) and (ed.current_value() == fill).all()
    ed.set_mode("random")
    ed.shape_edit.setText("(2, 5)")
    assert not ed.validate()
    assert "shape (2, 5)" in ed.status.text() and "(None, 4)" in ed.status.text()


def test_int_inputs_get_whole_numbers(qtbot, fixtures_dir):
    panel, sm = _panel(qtbot, fixtures_dir, "keras_lstm", "serving_default")
    ed = panel.editors["tokens"]
    panel.batch_spin.setValue(2)
    assert ed.validate()
    v = ed.current_value()
    assert v.dtype == np.int32 and v.shape == (2, 7)
    assert v.min() >= 0 and v.max() < 10
    ed.set_mode("expr")
    ed.expr_edit.setText("[[1.5, 2, 3, 4, 5, 6, 7]]")
    assert not ed.validate()
    assert "whole numbers" in ed.error


def test_bad_input_is_refused_with_the_reason_beside_it(qtbot, fixtures_dir):
    panel, _ = _panel(qtbot, fixtures_dir, "keras_mlp", "serving_default")
    ed = panel.editors["features"]
    ed.set_mode("expr")
    ed.expr_edit.setText("__import__('os').system('true')")
    qtbot.waitUntil(lambda: ed.error is not None, timeout=2000)  # validated as you type
    assert ed.status.text().startswith("✗")
    ed.expr_edit.setText("[[1.0, 2.0, 3.0]]")
    assert not ed.validate()
    assert "(1, 3)" in ed.error and "(None, 4)" in ed.error
    with qtbot.waitSignal(panel.run_failed, timeout=2000) as blocker:
        assert panel.run() is None
    assert "features" in blocker.args[0]
    assert panel.run_error.isVisible() and "Nothing was run" in panel.run_error.text()
    assert panel.last_result is None
    ed.expr_edit.setText("[['a', 'b', 'c', 'd']]")
    assert not ed.validate()
    assert "float32" in ed.error
    ed.expr_edit.setText("np.ones((1, 4))")
    assert ed.validate() and ed.current_value().dtype == np.float32


def test_npy_npz_and_pickle_consent(qtbot, fixtures_dir, tmp_path, monkeypatch):
    panel, _ = _panel(qtbot, fixtures_dir, "keras_mlp", "serving_default")
    ed = panel.editors["features"]
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.save(tmp_path / "x.npy", x)
    ed.load_file(tmp_path / "x.npy")
    assert ed.mode == "file" and ed.validate()
    np.testing.assert_array_equal(ed.current_value(), x)
    np.savez(tmp_path / "two.npz", other=x[:1], features=x * 2)
    ed.load_file(tmp_path / "two.npz")          # the member named like the input wins
    assert ed.validate()
    np.testing.assert_array_equal(ed.current_value(), x * 2)
    ed.member_combo.setCurrentText("other")
    assert ed.validate()
    np.testing.assert_array_equal(ed.current_value(), x[:1])
    # A pickled (object) array: refused unless the person agrees.
    obj = np.empty((1, 4), dtype=object)
    obj[0] = [1.0, 2.0, 3.0, 4.0]
    np.save(tmp_path / "obj.npy", obj, allow_pickle=True)
    asked = []
    monkeypatch.setattr(InputEditor, "confirm_pickle", lambda parent, path: asked.append(path)
                        or False)
    with pytest.raises(InputError, match="consent"):
        ed.load_file(tmp_path / "obj.npy")
    assert asked
    monkeypatch.setattr(InputEditor, "confirm_pickle", lambda parent, path: True)
    ed.load_file(tmp_path / "obj.npy")
    assert ed.validate()
    np.testing.assert_array_equal(ed.current_value(), [[1, 2, 3, 4]])
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(InputError, match="not a NumPy"):
        ed.load_file(tmp_path / "junk.npy")


def _png(tmp_path, w=40, h=30):
    img = QImage(w, h, QImage.Format_RGB32)
    img.fill(QColor(255, 0, 0))
    for x in range(w // 2, w):          # right half blue
        for y in range(h):
            img.setPixelColor(x, y, QColor(0, 0, 255))
    path = tmp_path / "pic.png"
    assert img.save(str(path))
    return path


def test_image_loading_resizes_and_scales(qtbot, fixtures_dir, tmp_path):
    panel, sm = _panel(qtbot, fixtures_dir, "mobilenet_v2", "serving_default")
    ed = panel.editors["keras_tensor_21"]
    assert "image" in ed.modes
    ed.load_image(_png(tmp_path))
    assert ed.mode == "image"
    ed.scaling_combo.setCurrentIndex(ed.scaling_combo.findData("[0,1]"))
    assert ed.validate()
    v = ed.current_value()
    assert v.shape == (1, 96, 96, 3) and v.dtype == np.float32
    np.testing.assert_allclose(v[0, 10, 5], [1.0, 0.0, 0.0])     # left: red
    np.testing.assert_allclose(v[0, 10, 90], [0.0, 0.0, 1.0])    # right: blue
    ed.scaling_combo.setCurrentIndex(ed.scaling_combo.findData("[-1,1]"))
    assert ed.validate()
    np.testing.assert_allclose(ed.current_value()[0, 0, 0], [1.0, -1.0, -1.0])
    assert not ed.preview.isHidden()
    panel.batch_spin.setValue(2)
    assert ed.validate() and ed.current_value().shape == (2, 96, 96, 3)
    result = _run(qtbot, panel)
    ours = sm.run_signature("serving_default", {"keras_tensor_21": ed.current_value()})
    np.testing.assert_array_equal(result.outputs["output_0"], ours["output_0"])
    with pytest.raises(InputError, match="not an image"):
        (tmp_path / "bad.png").write_bytes(b"nope")
        ed.load_image(tmp_path / "bad.png")
    mlp, _ = _panel(qtbot, fixtures_dir, "keras_mlp", "serving_default")
    assert "image" not in mlp.editors["features"].modes


def test_text_lines_match_tensorflow(qtbot, fixtures_dir):
    panel, _ = _panel(qtbot, fixtures_dir, "vocab_module", "serving_default")
    data = _expected(fixtures_dir, "vocab_module", "serving_default")
    ed = panel.editors["text"]
    assert ed.mode == "text"
    ed.set_text_lines([s.decode() for s in data["in/text"]])
    result = _run(qtbot, panel)
    assert [bytes(v) for v in result.outputs["greeting"]] == list(data["out/greeting"])
    np.testing.assert_array_equal(result.outputs["ids"], data["out/ids"])
    np.testing.assert_array_equal(result.outputs["known"], data["out/known"])
    # Strings in, ids out, one row per example.
    table = panel.outputs.overview
    assert panel.outputs.tabs.isTabVisible(1)
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == ["in: text", "greeting", "ids", "known"]
    assert table.item(0, 2).text() == str(data["out/ids"][0])


def test_example_form_builds_examples_like_tensorflows(qtbot, fixtures_dir):
    panel, sm = _panel(qtbot, fixtures_dir, "half_plus_two", "regress_x_to_y")
    data = _expected(fixtures_dir, "half_plus_two", "regress_x_to_y")
    ed = panel.editors["inputs"]
    assert ed.mode == "examples"
    form = ed.example_form
    assert [f.name for f in form.spec.features] == ["x", "x2"]
    tf_rows = [example_values(bytes(s)) for s in data["in/inputs"]]
    panel.batch_spin.setValue(len(tf_rows))
    assert form.table.rowCount() == len(tf_rows)
    for r, row in enumerate(tf_rows):
        for name, values in row.items():
            form.set_cell(r, name, ", ".join(repr(v) for v in values))
    result = _run(qtbot, panel)
    np.testing.assert_allclose(result.outputs["outputs"], data["out/outputs"], rtol=1e-6)
    # x has no default: an empty cell is refused, with the reason under the form.
    form.set_cell(0, "x", "")
    assert not ed.validate()
    assert "'x' has no default" in ed.error
    form.set_cell(0, "x", "one")
    assert not ed.validate() and "example 1" in ed.error and "float" in ed.error


def test_classify_scores_are_labelled_by_classes(qtbot, fixtures_dir):
    panel, _ = _panel(qtbot, fixtures_dir, "engine_linear", "serving_default")
    data = _expected(fixtures_dir, "engine_linear", "serving_default")
    ed = panel.editors["inputs"]
    form = ed.example_form
    assert {f.name for f in form.spec.features} == {"color", "count", "size"}
    form.set_cell(0, "color", "red")
    form.set_cell(0, "size", "1.5")
    form.set_cell(0, "count", "2")
    result = _run(qtbot, panel)
    # TensorFlow's first recorded example is exactly this one (color red, size 1.5, count 2).
    assert example_values(_first_example(data)) == {"color": [b"red"], "count": [2],
                                                    "size": [1.5]}
    np.testing.assert_allclose(result.outputs["scores"][0], data["out/scores"][0], rtol=1e-5)
    assert panel.outputs.key_combo.currentText() == "scores"
    assert panel.outputs.chart.labels == [c.decode() for c in data["out/classes"][0]]


def _first_example(data) -> bytes:
    raw, lengths = data["inraw/inputs"].tobytes(), data["inlen/inputs"]
    return raw[:int(lengths[0])]


def test_cancel(qtbot, fixtures_dir):
    panel, _ = _panel(qtbot, fixtures_dir, "mobilenet_v2", "serving_default")
    panel.batch_spin.setValue(4)
    with qtbot.waitSignal(panel.run_cancelled, timeout=60_000):
        assert panel.run() is not None
        assert panel.cancel_button.isEnabled()
        panel.cancel()
    assert panel.last_result is None and panel.time_label.text() == "cancelled"
    assert panel.run_button.isEnabled()


def test_engine_stops_between_nodes_when_cancelled(fixtures_dir):
    from tensorloupe.core.stats import Cancelled
    sm = core.open_saved_model(fixtures_dir / "saved_models" / "mobilenet_v2")
    x = np.zeros((1, 96, 96, 3), np.float32)
    sm.run_signature("serving_default", {"keras_tensor_21": x})  # restored once

    class Ctx:
        asked = 0

        def should_stop(self):
            Ctx.asked += 1
            return Ctx.asked > 20

    with pytest.raises(Cancelled):
        _run_job(Ctx(), sm, "serving_default", {"keras_tensor_21": x}, ["serve"])
    assert Ctx.asked == 21     # stopped at the first check after it was asked to


def test_history_difference_save_and_copy(qtbot, fixtures_dir, tmp_path):
    panel, _ = _panel(qtbot, fixtures_dir, "keras_mlp", "serving_default")
    ed = panel.editors["features"]
    first = _run(qtbot, panel)
    ed.seed_spin.setValue(1)
    second = _run(qtbot, panel)
    assert [r.number for r in panel.history] == [2, 1]
    out = panel.outputs
    assert out.compared_run() is first
    d = second.outputs["output_0"].astype(np.float64) - first.outputs["output_0"]
    assert out.diff_text("output_0").startswith(f"max |Δ| {np.abs(d).max():.4g}")
    ed.seed_spin.setValue(0)
    _run(qtbot, panel)
    out.compare_combo.setCurrentIndex(out.compare_combo.findData(1))
    assert "0 of 3 values differ" in out.diff_text("output_0")
    # Save as <key>.npy; an existing file is overwritten only when confirmed.
    files = out.save(tmp_path)
    assert [p.name for p in files] == ["output_0.npy"]
    np.testing.assert_array_equal(np.load(files[0]), panel.last_result.outputs["output_0"])
    files[0].write_bytes(b"keep me")
    assert out.save(tmp_path, confirm=lambda existing: False) == []
    assert files[0].read_bytes() == b"keep me"
    assert out.save(tmp_path, confirm=lambda existing: True) == files
    np.testing.assert_array_equal(np.load(files[0]), panel.last_result.outputs["output_0"])
    assert out.text().startswith("Result for output key output_0:\n[[")


def test_strings_are_saved_without_pickle(qtbot, fixtures_dir, tmp_path):
    panel, _ = _panel(qtbot, fixtures_dir, "vocab_module", "serving_default")
    result = _run(qtbot, panel)
    files = {p.name: p for p in panel.outputs.save(tmp_path)}
    greeting = np.load(files["greeting.npy"], allow_pickle=False)
    assert list(greeting) == [bytes(v) for v in result.outputs["greeting"]]


def test_inputs_are_remembered_and_saved_as_npz(qtbot, fixtures_dir, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    panel, _ = _panel(qtbot, fixtures_dir, "keras_mlp", "serving_default", settings)
    ed = panel.editors["features"]
    ed.set_mode("expr")
    ed.expr_edit.setText("[[1.0, 2.0, 3.0, 4.0]]")
    _run(qtbot, panel)
    again, _ = _panel(qtbot, fixtures_dir, "keras_mlp", "serving_default", settings)
    ed2 = again.editors["features"]
    assert ed2.mode == "expr" and ed2.expr_edit.text() == "[[1.0, 2.0, 3.0, 4.0]]"
    # Another signature of another model does not get them.
    other, _ = _panel(qtbot, fixtures_dir, "tf_keras_mlp", "serving_default", settings)
    assert other.editors["x"].mode == "random"
    # Save/load all inputs as an .npz keyed by input name.
    panel.save_inputs(tmp_path / "inputs.npz")
    with np.load(tmp_path / "inputs.npz") as z:
        np.testing.assert_array_equal(z["features"], [[1, 2, 3, 4]])
    fresh, _ = _panel(qtbot, fixtures_dir, "keras_mlp", "serving_default")
    assert fresh.load_inputs(tmp_path / "inputs.npz") == ["features"]
    assert fresh.editors["features"].validate()
    np.testing.assert_array_equal(fresh.editors["features"].current_value(), [[1, 2, 3, 4]])


def test_window_shows_run_tab_and_runs_selected(window, fixtures_dir):
    window.open_path(fixtures_dir / "saved_models" / "keras_mlp")
    assert wait_idle(timeout=30)
    window.select_path(["serve", "signatures", "serving_default"])
    panel = window.current_panel()
    assert isinstance(panel, RunPanel)
    with qtbot_wait(panel):
        run_selected(window)
    assert panel.tabs.currentWidget() is panel.run_page
    assert panel.last_result is not None and panel.last_result.outputs["output_0"].shape == (1, 3)
    # The init op signature is not runnable: the plain signature panel shows it.
    window.select_path(["serve", "signatures", "__saved_model_init_op"])
    assert type(window.current_panel()) is SignaturePanel


class qtbot_wait:
    def __init__(self, panel):
        self.panel = panel

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        assert wait_idle(timeout=60)
        return False


def test_gui_run_with_input_files(window, idle, qtbot, fixtures_dir, tmp_path):
    """`tensorloupe gui M --select ... --run --input KEY=FILE`: the file feeds that input and
    the outputs are TensorFlow's for it; a wrong key or a missing file is a clear error."""
    from tensorloupe.gui.panels.run import run_selected

    data = _expected(fixtures_dir, "keras_mlp", "serving_default")
    np.save(tmp_path / "features.npy", data["in/features"])
    window.open_paths([str(fixtures_dir / "saved_models" / "keras_mlp")])
    window.select_path(["serve", "signatures", "serving_default"])
    panel = window.current_panel()
    with pytest.raises(InputError, match="has no input 'nope'.*features"):
        run_selected(window, ["nope=x.npy"])
    with pytest.raises(InputError, match="no such file"):
        run_selected(window, [f"features={tmp_path / 'missing.npy'}"])
    with qtbot.waitSignal(panel.result_ready, timeout=60_000) as blocker:
        run_selected(window, [f"features={tmp_path / 'features.npy'}"])
    idle()
    result = blocker.args[0]
    np.testing.assert_allclose(result.outputs["output_0"], data["out/output_0"],
                               rtol=1e-4, atol=1e-5)


def test_files_chosen_in_the_window_are_read_in_a_worker(qtbot, fixtures_dir, tmp_path,
                                                         monkeypatch):
    """What the file dialogs start: the reading happens off the UI thread, with the messages
    of the direct loaders."""
    panel, _ = _panel(qtbot, fixtures_dir, "keras_mlp", "serving_default")
    ed = panel.editors["features"]
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.save(tmp_path / "x.npy", x)
    worker = ed.read_file(tmp_path / "x.npy")
    assert worker is not None and ed.mode == "random"     # not read yet on this thread
    qtbot.waitUntil(lambda: ed.mode == "file", timeout=10_000)
    assert ed.validate()
    np.testing.assert_array_equal(ed.current_value(), x)
    obj = np.empty((1, 4), dtype=object)
    obj[0] = [1.0, 2.0, 3.0, 4.0]
    np.save(tmp_path / "obj.npy", obj, allow_pickle=True)
    monkeypatch.setattr(InputEditor, "confirm_pickle", lambda parent, path: False)
    ed.read_file(tmp_path / "obj.npy")
    qtbot.waitUntil(lambda: ed.error is not None, timeout=10_000)
    assert "consent" in ed.error and ed.status.text().startswith("✗")
    monkeypatch.setattr(InputEditor, "confirm_pickle", lambda parent, path: True)
    ed.read_file(tmp_path / "obj.npy")
    qtbot.waitUntil(lambda: ed.error is None, timeout=10_000)
    np.testing.assert_array_equal(ed.current_value(), [[1, 2, 3, 4]])
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    ed.read_file(tmp_path / "junk.npy")
    qtbot.waitUntil(lambda: ed.error is not None, timeout=10_000)
    assert "not a NumPy" in ed.error
    assert wait_idle(timeout=10)


def test_images_chosen_in_the_window_are_decoded_in_a_worker(qtbot, fixtures_dir, tmp_path):
    panel, _ = _panel(qtbot, fixtures_dir, "mobilenet_v2", "serving_default")
    ed = panel.editors["keras_tensor_21"]
    ed.read_image(_png(tmp_path))
    qtbot.waitUntil(lambda: ed.mode == "image", timeout=10_000)
    ed.scaling_combo.setCurrentIndex(ed.scaling_combo.findData("[0,1]"))
    assert ed.validate()
    np.testing.assert_allclose(ed.current_value()[0, 10, 5], [1.0, 0.0, 0.0])
    (tmp_path / "bad.png").write_bytes(b"nope")
    ed.read_image(tmp_path / "bad.png")
    qtbot.waitUntil(lambda: ed.error is not None, timeout=10_000)
    assert "not an image" in ed.error
    mlp, _ = _panel(qtbot, fixtures_dir, "keras_mlp", "serving_default")
    assert mlp.editors["features"].read_image(_png(tmp_path)) is None
    assert "not shaped like an image" in mlp.editors["features"].error
    assert wait_idle(timeout=10)


def test_vocabulary_is_read_in_a_worker(qtbot, fixtures_dir):
    """Labels and sample lines come from the model's word list, read off the UI thread; a text
    that someone typed meanwhile is kept."""
    from tensorloupe.core import feeds
    panel, sm = _panel(qtbot, fixtures_dir, "vocab_module", "serving_default")
    vocab = sm.assets[0].read_text(encoding="utf-8").splitlines()
    assert wait_idle(timeout=10)
    assert panel.outputs.vocabulary == vocab
    ed = panel.editors["text"]
    assert ed.text_edit.toPlainText() == "\n".join(feeds.sample_lines(vocab))
    panel.cancel_jobs()
    panel._vocabulary = None                   # as for a model not read yet
    ed.set_text_lines(["typed"])
    panel._find_vocabulary()
    assert wait_idle(timeout=10)
    assert ed.text_edit.toPlainText() == "typed"


def test_inputs_npz_chosen_in_the_window_is_read_in_a_worker(qtbot, fixtures_dir, tmp_path):
    panel, _ = _panel(qtbot, fixtures_dir, "keras_mlp", "serving_default")
    np.savez(tmp_path / "inputs.npz", features=np.ones((3, 4), np.float32))
    panel.read_inputs(tmp_path / "inputs.npz")
    qtbot.waitUntil(lambda: panel.editors["features"].mode == "file", timeout=10_000)
    assert panel.editors["features"].validate()
    assert panel.editors["features"].current_value().shape == (3, 4)
    np.savez(tmp_path / "other.npz", nothing=np.ones(2))
    panel.read_inputs(tmp_path / "other.npz")
    qtbot.waitUntil(panel.run_error.isVisible, timeout=10_000)
    assert "has none of the input keys features" in panel.run_error.text()


def test_a_remembered_file_is_read_again(qtbot, fixtures_dir, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    panel, _ = _panel(qtbot, fixtures_dir, "keras_mlp", "serving_default", settings)
    x = np.full((2, 4), 7, np.float32)
    np.save(tmp_path / "x.npy", x)
    panel.editors["features"].load_file(tmp_path / "x.npy")
    panel.remember_inputs()
    again, _ = _panel(qtbot, fixtures_dir, "keras_mlp", "serving_default", settings)
    ed = again.editors["features"]
    qtbot.waitUntil(lambda: ed.mode == "file", timeout=10_000)
    assert ed.validate()
    np.testing.assert_array_equal(ed.current_value(), x)
    (tmp_path / "x.npy").unlink()             # gone: skipped quietly
    third, _ = _panel(qtbot, fixtures_dir, "keras_mlp", "serving_default", settings)
    assert wait_idle(timeout=10)
    assert third.editors["features"].mode == "random" and third.editors["features"].error is None


def test_another_signature_cancels_the_run(qtbot, fixtures_dir):
    panel, sm = _panel(qtbot, fixtures_dir, "mobilenet_v2", "serving_default")
    panel.batch_spin.setValue(4)
    finished = []
    panel.result_ready.connect(finished.append)
    with qtbot.waitSignal(panel.run_cancelled, timeout=10_000):
        assert panel.run() is not None
        mlp = core.open_saved_model(fixtures_dir / "saved_models" / "keras_mlp")
        mg = mlp.meta_graph("serve")
        panel.show_node(N.Node(label="serving_default", kind=N.SIGNATURE,
                               payload=N.SignatureRef(mg.signatures["serving_default"], mg)))
    assert wait_idle(timeout=60)
    assert finished == [] and panel.last_result is None
    assert list(panel.editors) == ["features"] and panel.run_button.isEnabled()
    assert _run(qtbot, panel).outputs["output_0"].shape == (4, 3)   # batch 4 is kept


def test_cancel_from_the_status_bar_reaches_the_panel(qtbot, fixtures_dir):
    from tensorloupe.gui.workers import tracker
    panel, _ = _panel(qtbot, fixtures_dir, "mobilenet_v2", "serving_default")
    panel.batch_spin.setValue(4)
    with qtbot.waitSignal(panel.run_cancelled, timeout=60_000):
        assert panel.run() is not None
        tracker.cancel_all()
    assert panel.time_label.text() == "cancelled" and panel.run_button.isEnabled()
    assert not panel.cancel_button.isEnabled()


def test_extension_points_and_settings(qtbot, fixtures_dir, window, tmp_path):
    panel, _ = _panel(qtbot, fixtures_dir, "keras_mlp", "serving_default", settings=False)
    assert panel.wants_graph_tab and panel.tab_host() is panel.tabs
    assert panel.settings() is None             # not in a window: nothing remembered
    extra = QLabel("extra")
    panel.add_tab(extra, "Extra", "an added tab")
    index = panel.tabs.indexOf(extra)
    assert panel.tabs.tabText(index) == "Extra" and panel.tabs.tabToolTip(index) == "an added tab"
    window.settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    window.panels.addWidget(panel)
    assert panel.settings() is window.settings
    window.settings = None
