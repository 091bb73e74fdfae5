"""``tensorloupe gui ... --select SIGNATURE --run [--input KEY=FILE ...]``: run the selected
signature as the window starts.

The files named on the command line are read here, at once: this happens before the window
takes any input, and a file that cannot be used is a command-line error (a message and exit
status 2) rather than a note in the window.
"""
from __future__ import annotations

from pathlib import Path

from tensorloupe.core.errors import InputError

from ...workers import Worker
from .panel import RunPanel

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
ARRAY_SUFFIXES = (".npy", ".npz")


def run_selected(window, input_files=()) -> Worker:
    """Run the window's selected signature, with inputs from files where given (KEY=FILE: an
    image, an .npy/.npz, or text with one string per line) and default inputs elsewhere."""
    panel = window.current_panel()
    if not isinstance(panel, RunPanel) or panel.signature is None:
        raise InputError("--run needs --select to name a signature of a SavedModel, e.g. "
                         "\"serve > signatures > serving_default\"")
    for item in input_files:
        key, sep, path = item.partition("=")
        if not sep or not key or not path:
            raise InputError(f"--input expects KEY=FILE, got {item!r}")
        editor = panel.editors.get(key)
        if editor is None:
            raise InputError(f"--input: the signature has no input {key!r} "
                             f"(its inputs: {', '.join(sorted(panel.editors))})")
        if not Path(path).is_file():
            raise InputError(f"--input {key}: no such file: {path}")
        suffix = Path(path).suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            editor.load_image(path)
        elif suffix in ARRAY_SUFFIXES:
            editor.load_file(path)
        else:
            try:
                lines = Path(path).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"--input {key}: cannot read {path} as text ({exc})") from None
            editor.set_text_lines(lines)
    panel.show_run_tab()
    worker = panel.run()
    if worker is None:
        raise InputError(panel.last_error or panel.run_error.text() or
                         "the signature could not be run")
    return worker
