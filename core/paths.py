"""Which files an opened model may make Tensorloupe read.

A SavedModel names files in several places: each AssetFileDef's ``filename``, the
vocabulary path a table initializer is given, the data shards and index of its variables.
A hostile or careless model can name ``/etc/passwd``, ``../../secret`` or ship a symlink
that points out of the directory. TensorFlow would read any of them; a browser of models
must not, because a lookup table turns the file's lines into outputs.

The rule: after following every symlink (``os.path.realpath``), an asset must lie inside
``<model>/assets`` or ``<model>/assets.extra`` and a variables file inside
``<model>/variables``. The model directory itself is resolved first, so opening a model
through a symlinked directory is fine. Everything here is pure path arithmetic plus the
stat calls realpath makes; nothing is opened.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import FormatError

ASSETS = "assets"
ASSETS_EXTRA = "assets.extra"
VARIABLES = "variables"

_DATA_SHARD = re.compile(r"\.data-\d{5}-of-\d{5}$")


class OutsideModelError(FormatError):
    """A file a model names resolves outside the directories it may read from."""


def real(path) -> str:
    return os.path.realpath(os.fspath(path))


def is_inside(path, root) -> bool:
    """Whether ``path`` (symlinks followed) is ``root`` itself or lies under it. ``root``
    must already be resolved."""
    target = real(path)
    root = os.fspath(root)
    return target == root or target.startswith(root.rstrip(os.sep) + os.sep)


def asset_roots(model_dir) -> tuple[str, str]:
    """The resolved directories a SavedModel's assets may come from."""
    base = real(model_dir)
    return os.path.join(base, ASSETS), os.path.join(base, ASSETS_EXTRA)


def check_inside(path, roots, what: str, source=None) -> Path:
    """``path`` unchanged when it resolves under one of ``roots`` (resolved directories);
    otherwise OutsideModelError naming ``what`` and where it really points."""
    if any(is_inside(path, r) for r in roots):
        return Path(path)
    target = real(path)
    shown = os.fspath(path)
    where = f"points to {target}" if target == shown else f"({shown}) resolves to {target}"
    if roots:
        allowed = " or ".join(os.path.basename(r) + "/" for r in roots)
        raise OutsideModelError(f"{what} {where}, outside the model's {allowed}; Tensorloupe "
                                "reads no file outside the opened model", source)
    raise OutsideModelError(f"{what} {where}; this model has no directory of files to read, "
                            "and Tensorloupe reads no file outside the opened model", source)


def asset_path(model_dir, filename: str, source=None) -> Path:
    """The file an AssetFileDef's ``filename`` means: ``<model>/assets/<filename>``, as
    TensorFlow's loader joins it, refused (OutsideModelError) when it resolves outside the
    model's assets/ or assets.extra/. This is the one place an asset name becomes a path."""
    joined = Path(os.fspath(model_dir)) / ASSETS / filename
    if not filename or "\x00" in filename:
        raise OutsideModelError(f"asset {filename!r} names no file", source)
    return check_inside(joined, asset_roots(model_dir), f"asset {filename!r}", source)


def check_checkpoint_files(prefix, roots, what: str = "checkpoint file") -> None:
    """Refuse a checkpoint whose index or any data shard on disk (``prefix.index``,
    ``prefix.data-NNNNN-of-MMMMM``) resolves outside ``roots``. Missing files are left for
    the reader to report."""
    prefix = os.fspath(prefix)
    directory, base = os.path.split(prefix)
    candidates = [prefix + ".index"]
    try:
        names = os.listdir(directory or ".")
    except OSError:
        names = []
    candidates += [os.path.join(directory, n) for n in sorted(names)
                   if n.startswith(base + ".data-") and _DATA_SHARD.search(n)]
    # A V1 checkpoint: the file itself, its shards PREFIX-NNNNN-of-MMMMM, or what a pattern
    # for them (PREFIX-?????-of-MMMMM) matches.
    import fnmatch
    v1_shard = re.compile(re.escape(base) + r"-\d{5}-of-\d{5}$")
    candidates += [os.path.join(directory, n) for n in sorted(names)
                   if v1_shard.match(n) or fnmatch.fnmatchcase(n, base)]
    for path in candidates:
        if os.path.lexists(path):
            check_inside(path, roots, what)


def variables_root(model_dir) -> str:
    return os.path.join(real(model_dir), VARIABLES)


def variables_prefix(model_dir) -> str:
    """``<model>/variables/variables``, refused when its index or a data shard is a symlink
    (or lies in a symlinked directory) that leads out of ``<model>/variables``."""
    prefix = os.path.join(os.fspath(model_dir), VARIABLES, VARIABLES)
    check_checkpoint_files(prefix, (variables_root(model_dir),), "the variables checkpoint file")
    return prefix


def list_inside(root, allowed) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files under directory ``root`` (sorted, symlinks to files included): those that
    resolve under ``allowed`` (a resolved directory), and (path, target) of the others."""
    root = Path(root)
    if not root.is_dir():
        return [], []
    inside, outside = [], []
    if not is_inside(root, allowed):
        # The directory itself leads elsewhere: none of its files belong to the model.
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            outside += [(Path(dirpath) / n, real(Path(dirpath) / n)) for n in sorted(filenames)]
        return [], sorted(outside)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if is_inside(path, allowed):
                inside.append(path)
            else:
                outside.append((path, real(path)))
    return sorted(inside), sorted(outside)


def check_asset_file(model_dir, path) -> Path:
    """``path`` (a file the window lists among a SavedModel's assets) when reading it stays
    inside the model's assets/ or assets.extra/, else OutsideModelError."""
    return check_inside(path, asset_roots(model_dir), "this asset")
