"""The ``tensorloupe`` command (also ``python -m tensorloupe``): the subcommand dispatcher.

Subcommands mirror TensorFlow's tools (``show``/``run``/``scan`` as saved_model_cli,
``inspect`` as inspect_checkpoint) plus ``diff`` and ``gui``. Each is a module exposing
``add_arguments(parser)`` and ``main(args) -> int``, imported only when chosen, so start-up
stays fast. The dispatcher lives here, above both ``core`` and ``gui``, because it is the one
place that may name the window: ``core`` never refers to ``gui``, not even by a module name.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
SUBCOMMANDS = {
    "show": ("tensorloupe.core.cli.show", "show what a SavedModel holds (as saved_model_cli show)"),
    "run": ("tensorloupe.core.cli.run", "run a SavedModel signature with numpy (as saved_model_cli run)"),
    "scan": ("tensorloupe.core.cli.scan", "list denylisted or unsupported ops (as saved_model_cli scan)"),
    "inspect": ("tensorloupe.core.cli.inspect", "list or print checkpoint tensors (as inspect_checkpoint)"),
    "diff": ("tensorloupe.core.cli.diff", "compare checkpoints"),
    "gui": ("tensorloupe.gui.app", "open the window (also: tensorloupe PATH ...)"),
}


def _build_parser(chosen: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tensorloupe",
        description="Look inside TensorFlow SavedModels and checkpoints, without TensorFlow.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(p)
            p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `tensorloupe` alone, or `tensorloupe PATH ...`, opens the window.
    if not argv or (argv[0] not in SUBCOMMANDS and not argv[0].startswith("-")):
        argv = ["gui", *argv]
    chosen = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    parser = _build_parser(chosen)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its usage message
        return int(exc.code or 0)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 0
    from tensorloupe.core.errors import TensorloupeError
    if args.command == "gui" and not _display_available(argv):
        print("tensorloupe: error: no display to open the window on (DISPLAY and WAYLAND_DISPLAY "
              "are unset); run it in a desktop session, or add --screenshot OUT.png to render "
              "offscreen", file=sys.stderr)
        return 2
    try:
        return int(args._module.main(args) or 0)
    except TensorloupeError as exc:
        print(f"tensorloupe {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tensorloupe {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except (OSError, MemoryError) as exc:
        print(f"tensorloupe {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug of ours: still one line, with a way to get the details
        import os
        if os.environ.get("TENSORLOUPE_DEBUG"):
            raise
        print(f"tensorloupe {args.command}: internal error: {type(exc).__name__}: {exc} "
              "(set TENSORLOUPE_DEBUG=1 for the traceback, and please report it)", file=sys.stderr)
        return 2


def _display_available(argv: list[str]) -> bool:
    """Qt aborts the process when it finds no platform to draw on; say so in words instead."""
    import os
    if not sys.platform.startswith("linux") or "--screenshot" in argv \
            or any(a.startswith("--screenshot=") for a in argv):
        return True
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


if __name__ == "__main__":
    sys.exit(main())
