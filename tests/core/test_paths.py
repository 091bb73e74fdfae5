"""A model never makes Tensorloupe read a file outside it.

Copies of SavedModels TensorFlow wrote (vocab_module: TF2, a StaticHashTable over a
vocabulary asset; half_plus_two: TF1, the same through asset_file_def and a main_op), edited
in tmp_path: an asset filename made absolute or ``../..``, an asset or a variables file
replaced by a symlink out of the model. A "secret" file beside the model holds words the
model's vocabulary also has, so a read of it would show in the outputs (the ids).
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import tensorloupe.core as core
from tensorloupe.core import paths
from tensorloupe.core.checkpoint import open_checkpoint, read_state, training_run
from tensorloupe.core.errors import FormatError, NotFoundError
from tensorloupe.core.paths import OutsideModelError
from tensorloupe.protos import saved_model_pb2

MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "saved_models"
CHECKPOINTS = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "checkpoints"

# vocab_module's vocabulary is hello/world/tensor/loupe; the secret puts "loupe" first.
SECRET = "loupe\nhello\nprivate\n"
WORDS = ["hello", "loupe", "private"]


@pytest.fixture
def secret(tmp_path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def copy_model(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / "models" / name
    shutil.copytree(MODELS / name, dst)
    return dst


def edit_pb(model: Path, edit) -> None:
    pb = model / "saved_model.pb"
    proto = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    edit(proto)
    pb.write_bytes(proto.SerializeToString())


def rename_assets(model: Path, filename: str) -> None:
    """Every AssetFileDef names ``filename``: those of asset_file_def (TF2 exports) and the
    Any-packed ones of the saved_model_assets collection (TF1 builders)."""
    from tensorloupe.protos import meta_graph_pb2

    def edit(proto):
        for mg in proto.meta_graphs:
            for a in mg.asset_file_def:
                a.filename = filename
            if "saved_model_assets" in mg.collection_def:
                for packed in mg.collection_def["saved_model_assets"].any_list.value:
                    a = meta_graph_pb2.AssetFileDef.FromString(packed.value)
                    a.filename = filename
                    packed.value = a.SerializeToString()
    edit_pb(model, edit)


def symlink_asset(model: Path, target: Path) -> Path:
    (asset,) = (model / "assets").iterdir()
    asset.unlink()
    asset.symlink_to(target)
    return asset


def lookup_ids(model: Path) -> np.ndarray:
    with core.open_saved_model(model) as sm:
        return sm.run_signature("serving_default", {"text": WORDS})["ids"]


# ---------------------------------------------------------------- the rule itself

def test_inside_and_outside(tmp_path):
    root = tmp_path / "m"
    (root / "assets" / "sub").mkdir(parents=True)
    (root / "assets" / "sub" / "a.txt").write_text("a")
    (tmp_path / "out.txt").write_text("x")
    roots = paths.asset_roots(root)
    assert paths.check_inside(root / "assets" / "sub" / "a.txt", roots, "f")
    # ".." that stays inside is fine; "..", absolute paths and symlinks that leave are not
    assert paths.asset_path(root, "sub/../sub/a.txt") == root / "assets" / "sub/../sub/a.txt"
    for name in ("../../out.txt", str(tmp_path / "out.txt"), "../assets.extra2/x"):
        with pytest.raises(OutsideModelError, match="outside the model's assets/ or "
                                                    "assets.extra/"):
            paths.asset_path(root, name)
    (root / "assets" / "link").symlink_to(tmp_path / "out.txt")
    with pytest.raises(OutsideModelError) as err:
        paths.asset_path(root, "link")
    assert f"resolves to {tmp_path / 'out.txt'}" in str(err.value)
    # a prefix of the directory's name is not the directory
    (tmp_path / "m" / "assets-other").mkdir()
    assert not paths.is_inside(root / "assets-other", roots[0])
    with pytest.raises(OutsideModelError, match="names no file"):
        paths.asset_path(root, "a\x00b")


def test_a_model_opened_through_a_symlinked_directory_is_fine(tmp_path, secret):
    model = copy_model("vocab_module", tmp_path)
    link = tmp_path / "link"
    link.symlink_to(model)
    assert list(lookup_ids(link)) == [0, 3, -1]
    with core.open_saved_model(link) as sm:
        (asset,) = sm.meta_graphs[0].asset_file_defs
        assert asset.error is None and asset.path == link / "assets" / "_vocab.txt"


# ---------------------------------------------------------------- assets, TF2 model

def test_original_model_reads_its_vocabulary(tmp_path):
    assert list(lookup_ids(copy_model("vocab_module", tmp_path))) == [0, 3, -1]


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_asset_outside_the_model_is_refused_by_run_signature(tmp_path, secret, how):
    model = copy_model("vocab_module", tmp_path)
    if how == "absolute":
        rename_assets(model, str(secret))
    elif how == "dotdot":
        rename_assets(model, "../../../secret.txt")
        assert (model / "assets" / "../../../secret.txt").resolve() == secret.resolve()
    else:
        symlink_asset(model, secret)
    with pytest.raises(OutsideModelError) as err:
        lookup_ids(model)
    message = str(err.value)
    assert "\n" not in message
    assert str(secret) in message and "outside the model's assets/" in message
    assert message.startswith(str(model / "saved_model.pb") + ": asset ")


def test_asset_listing_keeps_the_refusal_per_asset(tmp_path, secret):
    model = copy_model("vocab_module", tmp_path)
    rename_assets(model, str(secret))
    with core.open_saved_model(model) as sm:
        mg = sm.meta_graphs[0]
        (asset,) = mg.asset_file_defs           # listing does not raise
        assert asset.filename == str(secret) and asset.path == secret
        assert "outside the model's assets/" in asset.error
        assert mg.signatures and mg.summary()["assets"] == 1   # the rest is browsable
        assert sm.assets == [model / "assets" / "_vocab.txt"]  # the real asset is still there


def test_symlinked_asset_is_left_out_of_the_listing(tmp_path, secret):
    model = copy_model("vocab_module", tmp_path)
    link = symlink_asset(model, secret)
    (model / "assets.extra").mkdir()
    (model / "assets.extra" / "ok.txt").write_text("fine")
    (model / "assets.extra" / "passwd").symlink_to(secret)
    with core.open_saved_model(model) as sm:
        assert sm.assets == []
        assert sm.assets_extra == [model / "assets.extra" / "ok.txt"]
        assert sm.refused_files == [(link, str(secret.resolve())),
                                    (model / "assets.extra" / "passwd", str(secret.resolve()))]
        (asset,) = sm.meta_graphs[0].asset_file_defs
        assert asset.path == link and "resolves to" in asset.error
    # the window's vocabulary guess reads only what the listing holds
    from tensorloupe.core import feeds
    with core.open_saved_model(model) as sm:
        assert feeds.find_vocabulary(sm.assets) is None


def test_symlink_inside_the_model_stays_readable(tmp_path):
    model = copy_model("vocab_module", tmp_path)
    (asset,) = (model / "assets").iterdir()
    moved = model / "assets.extra" / "real_vocab.txt"
    moved.parent.mkdir()
    asset.rename(moved)
    asset.symlink_to(moved)
    assert list(lookup_ids(model)) == [0, 3, -1]


def test_assets_directory_that_is_a_symlink_out_is_refused(tmp_path, secret):
    model = copy_model("vocab_module", tmp_path)
    elsewhere = tmp_path / "elsewhere"
    (model / "assets").rename(elsewhere)
    (model / "assets").symlink_to(elsewhere)
    with core.open_saved_model(model) as sm:
        assert sm.assets == [] and len(sm.refused_files) == 1
    with pytest.raises(OutsideModelError):
        lookup_ids(model)


# ---------------------------------------------------------------- assets, TF1 model

def test_tf1_model_asset_refused(tmp_path, secret):
    model = copy_model("half_plus_two", tmp_path)
    ok = core.open_saved_model(model).run_signature("lookup", {"words": WORDS})
    assert list(ok["ids"]) == [-1, -1, -1]   # cat/dog/bird know none of these
    rename_assets(model, "../../../secret.txt")
    with core.open_saved_model(model) as sm:
        assets = sm.meta_graph("serve").asset_file_defs
        assert assets and all("outside the model" in a.error for a in assets)
        with pytest.raises(OutsideModelError, match=r"asset '\.\./\.\./\.\./secret\.txt'"):
            sm.run_signature("lookup", {"words": WORDS})


def test_vocabulary_path_in_the_graph_itself_is_refused(tmp_path, secret):
    """Without AssetFileDefs nothing overrides the path the graph's constant holds (the
    absolute path the vocabulary had when TensorFlow exported it): the table kernel itself
    refuses to open a file outside the model."""
    model = copy_model("half_plus_two", tmp_path)

    def edit(proto):
        for mg in proto.meta_graphs:
            del mg.asset_file_def[:]
            if "saved_model_assets" in mg.collection_def:
                del mg.collection_def["saved_model_assets"]
            for node in mg.graph_def.node:
                if node.name == "vocab_filename":
                    node.attr["value"].tensor.string_val[:] = [str(secret).encode()]
    edit_pb(model, edit)
    with core.open_saved_model(model) as sm:
        with pytest.raises(OutsideModelError) as err:
            sm.run_signature("lookup", {"words": WORDS})
    text = str(err.value)
    assert "(InitializeTableFromTextFileV2)" in text and "the vocabulary file points to " \
        + str(secret) in text


def test_lone_graph_reads_no_file(tmp_path, secret):
    """A frozen GraphDef has no assets directory: a table over a file is refused."""
    from tensorloupe.core.engine.session import LoadedMetaGraph
    sm = core.open_saved_model(MODELS / "half_plus_two")
    lm = LoadedMetaGraph(sm.meta_graph("serve").proto, None)
    init = lm._init_op_name()
    with pytest.raises(OutsideModelError, match="no directory of files to read"):
        lm.session.run([], {"vocab_filename:0": np.array(str(secret).encode(), object)},
                       [init])


# ---------------------------------------------------------------- variables

def _data_shard(model: Path) -> Path:
    (shard,) = (model / "variables").glob("variables.data-*")
    return shard


@pytest.mark.parametrize("which", ["data", "index"])
def test_variables_file_symlinked_out_is_refused(tmp_path, which):
    model = copy_model("vocab_module", tmp_path)
    victim = _data_shard(model) if which == "data" else model / "variables" / "variables.index"
    # The same bytes outside the model: a read would "work", and must not happen.
    outside = tmp_path / ("outside_" + victim.name)
    shutil.copy(victim, outside)
    victim.unlink()
    victim.symlink_to(outside)
    with core.open_saved_model(model) as sm:
        with pytest.raises(OutsideModelError, match="the variables checkpoint file") as err:
            _ = sm.variables
        assert str(outside) in str(err.value)
        assert sm.summary()["variables"] == 0       # the summary leaves them out
        with pytest.raises(OutsideModelError):
            sm.run_signature("serving_default", {"text": WORDS})
    with pytest.raises(OutsideModelError):
        open_checkpoint(model)                      # inspect/diff on the model directory


def test_variables_directory_symlinked_out_is_refused(tmp_path):
    model = copy_model("vocab_module", tmp_path)
    elsewhere = tmp_path / "elsewhere"
    (model / "variables").rename(elsewhere)
    (model / "variables").symlink_to(elsewhere)
    with core.open_saved_model(model) as sm:
        with pytest.raises(OutsideModelError):
            _ = sm.variables


def test_restore_from_a_prefix_outside_the_model_is_refused(tmp_path):
    """The graph's saver is fed the model's own prefix; a graph whose restore reads a
    constant prefix elsewhere (another checkpoint) is refused by the session."""
    model = copy_model("half_plus_two", tmp_path)
    other = tmp_path / "other"
    shutil.copytree(model / "variables", other)

    def edit(proto):
        for mg in proto.meta_graphs:
            graph = mg.graph_def
            restore = next(n for n in graph.node if n.op == "RestoreV2")
            const = graph.node.add(name="elsewhere", op="Const")
            const.attr["dtype"].type = 7
            const.attr["value"].tensor.dtype = 7
            const.attr["value"].tensor.string_val.append(str(other / "variables").encode())
            restore.input[0] = "elsewhere"
    edit_pb(model, edit)
    with core.open_saved_model(model) as sm:
        with pytest.raises(OutsideModelError, match="the checkpoint to restore"):
            sm.run_signature("predict", {"x": [[1.0]]})


# ---------------------------------------------------------------- checkpoint state files

def _training_copy(tmp_path) -> Path:
    d = tmp_path / "run"
    shutil.copytree(CHECKPOINTS / "tf1_saver", d)
    return d


def test_state_file_may_name_an_absolute_checkpoint_elsewhere(tmp_path):
    """TensorFlow writes absolute paths into the state file: that explicit target is used
    even outside the directory, and it is what core reports."""
    d = _training_copy(tmp_path)
    away = tmp_path / "away"
    away.mkdir()
    for f in d.glob("model.ckpt-2.*"):
        f.rename(away / f.name)
    target = str(away / "model.ckpt-2")
    (d / "checkpoint").write_text(f'model_checkpoint_path: "{target}"\n'
                                  f'all_model_checkpoint_paths: "{target}"\n')
    state = read_state(d)
    assert state.model_checkpoint_path == target and state.named == {}
    assert open_checkpoint(d).prefix == target
    assert [c.prefix for c in training_run(d)] == [target]


@pytest.mark.parametrize("named", ["/machine/that/trained/model.ckpt-1",
                                   "C:\\\\runs\\\\model.ckpt-1",
                                   "../gone/model.ckpt-1"])
def test_missing_state_target_falls_back_to_the_same_name_here(tmp_path, named):
    d = _training_copy(tmp_path)
    (d / "checkpoint").write_text(f'model_checkpoint_path: "{named}"\n'
                                  f'all_model_checkpoint_paths: "{named}"\n')
    state = read_state(d)
    local = str(d / "model.ckpt-1")
    written = named.replace("\\\\", "\\")
    assert state.model_checkpoint_path == local
    assert state.named[local] == written
    assert open_checkpoint(d).prefix == local
    (run,) = training_run(d)
    assert run.prefix == local and run.named == written and run.step == 1


def test_state_target_missing_everywhere_names_what_the_file_said(tmp_path):
    d = _training_copy(tmp_path)
    (d / "checkpoint").write_text('model_checkpoint_path: "/nowhere/ckpt-9"\n')
    with pytest.raises(NotFoundError, match="/nowhere/ckpt-9"):
        open_checkpoint(d)


def test_state_file_nested_too_deeply_is_a_format_error(tmp_path):
    d = _training_copy(tmp_path)
    (d / "checkpoint").write_text("x " + "{ " * 200 + "}" * 200)
    with pytest.raises(FormatError, match="nested 200 levels"):
        read_state(d)


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_core_never_opens_a_refused_file(tmp_path, secret, monkeypatch):
    """Belt and braces: run the refused cases with open() watching for the secret."""
    import builtins
    opened = []
    real_open = builtins.open

    def watching(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and \
                os.path.realpath(os.fspath(file)) == str(secret.resolve()):
            opened.append(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", watching)
    model = copy_model("vocab_module", tmp_path)
    symlink_asset(model, secret)
    with pytest.raises(OutsideModelError):
        lookup_ids(model)
    with core.open_saved_model(model) as sm:
        sm.meta_graphs[0].asset_file_defs, sm.assets, sm.summary()
    assert opened == []
