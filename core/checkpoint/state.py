"""The ``checkpoint`` state file of a training directory (text-format CheckpointState).

TensorFlow's Saver and CheckpointManager keep it beside the checkpoints:

    model_checkpoint_path: "ckpt-5"
    all_model_checkpoint_paths: "ckpt-3"
    ...
    all_model_checkpoint_timestamps: 1732550400.12

Paths may be relative to the directory or absolute (TensorFlow writes absolute ones): the
checkpoint a path names is used wherever it is. When it does not exist (the directory was
copied from another machine, maybe a Windows one), the checkpoint of the same base name
inside the directory is used instead, which is what the user almost always means. The
resolved prefix is what every field here holds; ``named`` keeps what the file said.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ..errors import FormatError, NotFoundError

STATE_FILENAME = "checkpoint"


@dataclass(frozen=True)
class RunCheckpoint:
    """One checkpoint of a training run."""
    prefix: str  # resolved: where the checkpoint really is
    timestamp: float | None = None  # seconds since the epoch, when the state file says
    step: int | None = None  # the trailing number of the prefix (ckpt-40 -> 40)
    named: str | None = None  # the state file's own text, when resolving changed it

    @property
    def name(self) -> str:
        return os.path.basename(self.prefix)


@dataclass(frozen=True)
class CheckpointState:
    directory: str
    model_checkpoint_path: str  # resolved (absolute or joined with the directory)
    all_model_checkpoint_paths: tuple[str, ...]
    all_model_checkpoint_timestamps: tuple[float, ...]
    last_preserved_timestamp: float
    # what the file wrote, resolved path -> text, for the paths resolving changed
    named: dict = field(default_factory=dict, compare=False)


def _step(prefix: str) -> int | None:
    m = re.search(r"-(\d+)$", prefix)
    return int(m.group(1)) if m else None


def exists(prefix: str) -> bool:
    """Whether a checkpoint with this prefix is on disk: its .index file (V2), or a V1 file,
    its shards or TensorFlow's pattern for them."""
    if os.path.isfile(prefix + ".index"):
        return True
    from .v1 import is_v1_prefix
    return is_v1_prefix(prefix)


def _base_name(path: str) -> str:
    # Either separator: a state file written on Windows says C:\\runs\\ckpt-5.
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def resolve(directory: str, path: str) -> str:
    """A path from the state file as a usable prefix: the checkpoint it names when that
    exists, else the one of the same base name inside ``directory`` when that exists, else
    the path as named (so that the error about it shows what the file said)."""
    full = path if os.path.isabs(path) else os.path.join(directory, path)
    if exists(full):
        return full
    base = _base_name(path)
    if base and base not in (".", ".."):
        local = os.path.join(directory, base)
        if exists(local):
            return local
    return full


def read_state(directory: str | os.PathLike) -> CheckpointState | None:
    """Parse ``directory/checkpoint``; None when there is no such file."""
    directory = os.fspath(directory)
    path = os.path.join(directory, STATE_FILENAME)
    if not os.path.isfile(path):
        return None
    from google.protobuf import text_format
    from tensorloupe.protos import checkpoint_state_pb2
    from tensorloupe.protos.text import parse_bounded
    try:
        with open(path, "rb") as f:
            text = f.read(1 << 24).decode("utf-8")
        state = parse_bounded(text, checkpoint_state_pb2.CheckpointState())
    except (UnicodeDecodeError, text_format.ParseError) as exc:
        raise FormatError(f"not a checkpoint state file ({str(exc).splitlines()[0]})",
                          path) from None
    named = {}

    def resolved(text: str) -> str:
        out = resolve(directory, text)
        if out != text:
            named[out] = text
        return out

    return CheckpointState(
        directory=directory,
        model_checkpoint_path=(resolved(state.model_checkpoint_path)
                               if state.model_checkpoint_path else ""),
        all_model_checkpoint_paths=tuple(resolved(p) for p in state.all_model_checkpoint_paths),
        all_model_checkpoint_timestamps=tuple(state.all_model_checkpoint_timestamps),
        last_preserved_timestamp=state.last_preserved_timestamp,
        named=named,
    )


def latest_checkpoint(directory: str | os.PathLike) -> str | None:
    """Prefix of the newest checkpoint the state file names, if it exists (as tf.train.latest_checkpoint)."""
    state = read_state(directory)
    if state is None or not state.model_checkpoint_path:
        return None
    return state.model_checkpoint_path if exists(state.model_checkpoint_path) else None


def training_run(directory: str | os.PathLike) -> list[RunCheckpoint]:
    """Every checkpoint of a training directory that is on disk, oldest first.

    Uses the state file's order and timestamps when there is one; otherwise the
    ``*.index`` files of the directory ordered by their trailing step number.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise NotFoundError("no such directory", directory)
    state = read_state(directory)
    out: list[RunCheckpoint] = []
    if state is not None:
        paths = list(state.all_model_checkpoint_paths)
        if state.model_checkpoint_path and state.model_checkpoint_path not in paths:
            paths.append(state.model_checkpoint_path)
        stamps = state.all_model_checkpoint_timestamps
        for i, p in enumerate(paths):
            if exists(p):
                stamp = stamps[i] if len(stamps) == len(state.all_model_checkpoint_paths) \
                    and i < len(stamps) else None
                out.append(RunCheckpoint(p, stamp, _step(p), state.named.get(p)))
        if out:
            return out
    prefixes = [os.path.join(directory, n[:-len(".index")])
                for n in os.listdir(directory) if n.endswith(".index")]
    prefixes.sort(key=lambda p: (_step(p) is None, _step(p) or 0, p))
    return [RunCheckpoint(p, None, _step(p)) for p in prefixes]
