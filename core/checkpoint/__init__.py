"""TensorFlow checkpoints (TensorBundle V2), read without TensorFlow.

    from tensorloupe.core.checkpoint import open_checkpoint
    with open_checkpoint("runs/ckpt-40") as ckpt:
        for name in ckpt.keys():
            print(name, ckpt.dtype(name), ckpt.shape(name))
        kernel = ckpt.read("dense/kernel")

``open_checkpoint`` accepts a prefix, its ``.index``, ``.data-*`` or TF1 ``.meta`` file,
a training directory (the latest checkpoint its ``checkpoint`` file names, or the only
``.index`` in it), or a SavedModel directory (its ``variables/variables``). V1 checkpoints
(``Saver(write_version=V1)``: a file, or shards named by a pattern such as
``model.ckpt-?????-of-00002``) open as a ``v1.V1CheckpointReader``, same interface.

Reads check each tensor's crc32c (once) and raise DataLossError on damage; pass
``verify=False`` to read damaged data on purpose, or wrap code whose readers are opened
for it (a run's restore) in ``with verification(False):``.
"""
from __future__ import annotations

import os
import re

from ..errors import NotFoundError
from .bundle import (CheckpointReader, ChecksumStats, Entry, Header, Problem, verification,
                     verifies_by_default)
from .state import latest_checkpoint, read_state, training_run

__all__ = ["open_checkpoint", "find_prefix", "CheckpointReader", "ChecksumStats", "Entry",
           "Header", "Problem", "read_state", "latest_checkpoint", "training_run",
           "verification", "verifies_by_default"]

_DATA_SUFFIX = re.compile(r"\.data-\d{5}-of-\d{5}$")


def _prefix_in_directory(directory: str) -> str:
    looked = []
    state = read_state(directory)
    if state is not None and state.model_checkpoint_path:
        if os.path.isfile(state.model_checkpoint_path + ".index"):
            return state.model_checkpoint_path
        if _is_v1(state.model_checkpoint_path):
            return state.model_checkpoint_path
        raise NotFoundError(
            f"the checkpoint state file names {state.model_checkpoint_path!r}, but "
            f"{state.model_checkpoint_path}.index does not exist", directory)
    looked.append("a 'checkpoint' state file")
    saved_model_vars = os.path.join(directory, "variables", "variables")
    if os.path.isfile(saved_model_vars + ".index") or _is_v1(saved_model_vars):
        from ..paths import variables_prefix
        return variables_prefix(directory)  # refused if one of its files leads out of variables/
    looked.append("variables/variables.index")
    indexes = sorted(n for n in os.listdir(directory) if n.endswith(".index"))
    if len(indexes) == 1:
        return os.path.join(directory, indexes[0][:-len(".index")])
    if indexes:
        shown = ", ".join(indexes[:5]) + (", ..." if len(indexes) > 5 else "")
        raise NotFoundError(f"the directory holds {len(indexes)} checkpoints ({shown}) and no "
                            f"'checkpoint' state file; name one of them", directory)
    looked.append("*.index files")
    raise NotFoundError(f"no checkpoint in this directory (looked for {', '.join(looked)})",
                        directory)


def find_prefix(path: str | os.PathLike) -> str:
    """The checkpoint prefix that ``path`` means (see the module docstring)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return _prefix_in_directory(path)
    if os.path.isfile(path + ".index"):
        return path
    for suffix in (".index", ".meta"):
        if path.endswith(suffix) and os.path.isfile(path[:-len(suffix)] + ".index"):
            return path[:-len(suffix)]
    if path.endswith(".meta") and _is_v1(path[:-len(".meta")]):
        return path[:-len(".meta")]
    if _DATA_SUFFIX.search(path):
        prefix = _DATA_SUFFIX.sub("", path)
        if os.path.isfile(prefix + ".index"):
            return prefix
        raise NotFoundError(f"no index file {prefix}.index beside this data file", path)
    if path.endswith(".index") and os.path.isfile(path):
        return path[:-len(".index")]
    if os.path.isfile(path):
        # Some other file: read it as an index, which says clearly what is wrong with it.
        return path
    if _is_v1(path):  # the prefix of V1 shards, or TensorFlow's pattern for them
        return path
    raise NotFoundError(f"no checkpoint here (looked for {path}.index, and for {path} as an "
                        f".index/.data file or a directory)", path)


def open_checkpoint(path: str | os.PathLike, verify: bool | None = None) -> CheckpointReader:
    """Open a checkpoint lazily: only the index is read.

    ``verify``: check each tensor's crc32c on its first read (None: as ``verification()``
    says, which is yes unless turned off); False reads damaged data without complaint.
    """
    prefix = find_prefix(path)
    if not os.path.isfile(prefix + ".index") and _is_v1(prefix):
        from .v1 import V1CheckpointReader
        return V1CheckpointReader(prefix, verify=verify)
    if not os.path.isfile(prefix + ".index") and os.path.isfile(prefix):
        return _reader_for_index_file(prefix)
    return CheckpointReader(prefix, verify=verify)


def _is_v1(path: str) -> bool:
    """Whether ``path`` is a V1 checkpoint: a file whose table holds SavedTensorSlices, its
    shards (PREFIX-?????-of-NNNNN) or TensorFlow's pattern for them (v1.py)."""
    from .v1 import is_v1_prefix
    return is_v1_prefix(path)


def _reader_for_index_file(path: str) -> CheckpointReader:
    """A file with an unusual name given directly: read it as the index."""
    from .table import Table
    Table(path)  # raises FormatError with the offset when it is not a table
    raise NotFoundError("this file is a table but not named PREFIX.index, so its data files "
                        "cannot be found", path)
