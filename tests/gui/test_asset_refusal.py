"""The asset panel shows core's refusal of a file outside the model, never its contents.

A copy of vocab_module (TF2, a vocabulary asset) whose asset file is a symlink to a file
beside the model, and one whose AssetFileDef names that file by its absolute path.
"""
from __future__ import annotations

import shutil

import pytest

from tensorloupe.gui.panels.asset import AssetPanel

from tests.gui.conftest import open_document

SECRET = "a line that must not be shown\n"


def _model(tmp_path, fixtures_dir, how: str):
    model = tmp_path / "model"
    shutil.copytree(fixtures_dir / "saved_models" / "vocab_module", model)
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    if how == "symlink":
        (asset,) = (model / "assets").iterdir()
        asset.unlink()
        asset.symlink_to(secret)
        return model, secret, asset.name
    from tensorloupe.protos import saved_model_pb2
    pb = model / "saved_model.pb"
    proto = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    for a in proto.meta_graphs[0].asset_file_def:
        a.filename = str(secret)
    pb.write_bytes(proto.SerializeToString())
    return model, secret, str(secret)


@pytest.mark.parametrize("how", ["symlink", "absolute"])
def test_asset_outside_the_model_shows_the_refusal(window, fixtures_dir, tmp_path, idle, how):
    model, secret, label = _model(tmp_path, fixtures_dir, how)
    open_document(window, model)
    node = window.select_path(["serve", "assets", label])
    idle()
    panel = window.current_panel()
    assert isinstance(panel, AssetPanel)
    assert panel.text.toPlainText() == ""
    assert not panel.error.isHidden()
    text = panel.error.text()
    assert text.startswith("Cannot read this asset: ")
    assert "outside the model's assets/ or assets.extra/" in text and str(secret) in text
    assert node.payload is not None
    # the rest of the model stays browsable
    window.select_path(["serve", "signatures", "serving_default"])
    idle()
    assert not isinstance(window.current_panel(), AssetPanel)


def test_asset_inside_the_model_still_previews(window, fixtures_dir, idle):
    root = fixtures_dir / "saved_models" / "vocab_module"
    open_document(window, root)
    window.select_path(["serve", "assets", "_vocab.txt"])
    idle()
    panel = window.current_panel()
    assert isinstance(panel, AssetPanel) and panel.error.isHidden()
    assert panel.text.toPlainText() == (root / "assets" / "_vocab.txt").read_text()
