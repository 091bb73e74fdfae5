"""`tensorloupe gui ... --screenshot`: renders the selected item's panel and exits."""
import argparse

import pytest
from PySide6.QtGui import QImage

from tensorloupe.core.errors import InputError
from tensorloupe.gui import app


def _args(*argv):
    parser = argparse.ArgumentParser()
    app.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_screenshot_of_a_selected_variable(qapp, fixtures_dir, tmp_path):
    out = tmp_path / "shot.png"
    rc = app.main(_args(str(fixtures_dir / "checkpoints" / "keras_adam"),
                        "--select", "Model > layer_with_weights-0 > KERNEL",
                        "--screenshot", str(out), "--size", "900x600"))
    assert rc == 0
    image = QImage(str(out))
    assert (image.width(), image.height()) == (900, 600)


def test_unknown_select_path_lists_what_is_there(qapp, fixtures_dir, tmp_path):
    with pytest.raises(InputError) as info:
        app.main(_args(str(fixtures_dir / "checkpoints" / "keras_adam"),
                       "--select", "model > no_such_layer",
                       "--screenshot", str(tmp_path / "x.png")))
    assert "'layer_with_weights-0'" in str(info.value)
    assert not (tmp_path / "x.png").exists()


def test_bad_size_is_an_input_error():
    with pytest.raises(InputError):
        app.parse_size("big")
    assert app.parse_size(None) == (1400, 900)
    assert app.split_select(" serve >  signatures>serving_default ") == [
        "serve", "signatures", "serving_default"]


def test_no_path_opens_the_demo_model_and_training_run(window, idle):
    """`tensorloupe` alone: the bundled MobileNet and a training run of checkpoints (both
    written by TensorFlow), each a document in the tree; nothing else in resources/demo."""
    paths = app.demo_paths()
    assert [p.name for p in paths] == ["mobilenet_v2", "training_run"]
    window.open_paths([str(p) for p in paths])
    idle()
    window.select_path(["mobilenet_v2", "serve", "signatures", "serving_default"])
    window.select_path(["training_run", "ckpt-5"])
    idle()
