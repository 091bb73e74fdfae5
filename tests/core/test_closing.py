"""Closing what core opens: checkpoint readers, SavedModels (the checkpoint of their variables)
and graphs all have close(), work in a ``with`` block and may be closed more than once."""
from __future__ import annotations

import gc
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import tensorloupe.core as core
from tensorloupe.core.checkpoint import CheckpointReader
from tensorloupe.core.errors import FormatError
from tensorloupe.core.graph_file import GraphModel
from tensorloupe.core.saved_model import SavedModel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
CHECKPOINT = FIXTURES / "checkpoints" / "keras_adam"
MODEL = FIXTURES / "saved_models" / "half_plus_two"
META = FIXTURES / "graphs" / "tf1_loop" / "model.ckpt.meta"
FROZEN = FIXTURES / "graphs" / "constants.pb"

_PROC_MAPS = Path("/proc/self/maps")


def mapped(path: Path) -> bool:
    """Whether this process has ``path`` memory-mapped (Linux: /proc/self/maps)."""
    target = os.path.realpath(path)
    return any(line.rstrip("\n").endswith(target)
               for line in _PROC_MAPS.read_text().splitlines())


needs_proc = pytest.mark.skipif(not _PROC_MAPS.exists(), reason="needs /proc/self/maps")


def a_numeric_key(reader) -> str:
    return next(k for k in reader.keys() if reader.dtype(k).kind in "fiu")


def test_checkpoint_reader_as_context_manager():
    with core.open_checkpoint(CHECKPOINT) as ckpt:
        assert isinstance(ckpt, CheckpointReader)
        key = a_numeric_key(ckpt)
        before = ckpt.read(key)
    # Closed: the index still answers, values are refused with a sentence.
    assert ckpt.shape(key) == before.shape
    with pytest.raises(FormatError, match="closed"):
        ckpt.read(key)
    ckpt.close()  # a second time: nothing happens
    ckpt.close()


@needs_proc
def test_closing_a_checkpoint_unmaps_its_data():
    ckpt = core.open_checkpoint(CHECKPOINT)
    data = Path(ckpt.shard_paths()[0])
    with ckpt:
        ckpt.read(a_numeric_key(ckpt))  # maps the shard
        assert mapped(data)
    gc.collect()
    assert not mapped(data)


def test_saved_model_closes_the_checkpoint_of_its_variables():
    with core.open_saved_model(MODEL) as sm:
        assert isinstance(sm, SavedModel)
        reader = sm.variables
        key = a_numeric_key(reader)
        value = reader.read(key)
    with pytest.raises(FormatError, match="closed"):
        reader.read(key)
    # The closed reader stays attached (its metadata answers), and closing again is harmless.
    assert sm.variables is reader and reader.shape(key) == value.shape
    sm.close()
    sm.close()


@needs_proc
def test_saved_model_close_unmaps_the_variables_data():
    sm = core.open_saved_model(MODEL)
    data = Path(sm.variables.shard_paths()[0])
    np.asarray(sm.variables.read(a_numeric_key(sm.variables)))
    assert mapped(data)
    sm.close()
    gc.collect()
    assert not mapped(data)


def test_saved_model_close_does_not_open_its_variables():
    sm = core.open_saved_model(MODEL)
    sm.close()
    assert "variables" not in vars(sm)  # nothing was opened just to be closed
    assert sm.variables is not None     # and it can still be asked for afterwards
    sm.close()


def test_a_saved_model_without_variables_closes_too(tmp_path):
    shutil.copy(MODEL / "saved_model.pb", tmp_path / "saved_model.pb")
    with core.open_saved_model(tmp_path) as sm:
        assert sm.variables is None
    sm.close()


@pytest.mark.parametrize("path", [META, FROZEN])
def test_graph_model_as_context_manager(path):
    with core.open_graph(path) as g:
        assert isinstance(g, GraphModel)
        nodes = len(g.graph_def.node)
    assert len(g.graph_def.node) == nodes  # nothing was held open: still readable
    g.close()


def test_checkpoint_beside_a_meta_graph_closes_on_its_own():
    with core.open_graph(META) as g, g.open_checkpoint() as ckpt:
        key = a_numeric_key(ckpt)
        ckpt.read(key)
    with pytest.raises(FormatError, match="closed"):
        ckpt.read(key)


@pytest.mark.parametrize("path", [CHECKPOINT, MODEL, META])
def test_everything_core_open_returns_closes_in_a_with_block(path):
    with core.open(path) as obj:
        assert callable(obj.close)
    obj.close()
