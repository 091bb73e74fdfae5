"""``tensorloupe gui [PATH ...]`` (and ``tensorloupe [PATH ...]``): open the window.

    tensorloupe export/1 runs/ckpt-40
    tensorloupe gui export/1 --select "serve > signatures > serving_default" \\
        --screenshot docs/screenshots/signature.png --size 1400x900

``--screenshot`` renders offscreen once the selected item's panel has finished its background
work, writes the PNG and exits; it reads and writes no saved window settings.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from tensorloupe.core.errors import InputError, TensorloupeError

DEMO_NAMES = ("mobilenet_v2", "training_run")
DEFAULT_SIZE = (1400, 900)


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="SavedModel folders, saved_model.pb, checkpoints (prefix, .index, "
                             "or a training directory), frozen graphs; none opens the demo")
    parser.add_argument("--select", metavar='"A > B > C"',
                        help="select the tree item at this path of labels below the document "
                             "(case-insensitive), e.g. \"serve > signatures > serving_default\"")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="render the window offscreen, save it as a PNG and exit")
    parser.add_argument("--size", metavar="WxH", default=None,
                        help="window size, default 1400x900")
    parser.add_argument("--graph", action="store_true",
                        help="show the graph tab of the selected item: --select names a "
                             "signature, MetaGraphDef or function (\"serve > signatures > "
                             "serving_default\"; \"serve > serving_default\" works too), "
                             "default the serving signature")
    parser.add_argument("--compare", nargs="+", metavar="CHECKPOINT",
                        help="compare checkpoints: two, several, or one training directory "
                             "(--select VARIABLE selects a variable)")
    parser.add_argument("--run", action="store_true",
                        help="run the selected signature with default inputs (random values "
                             "with a fixed seed) and show its outputs")
    parser.add_argument("--input", action="append", default=[], metavar="KEY=FILE",
                        help="with --run: fill input KEY from FILE (an image, .npy/.npz, or a "
                             "text file with one string per line); repeatable")


def parse_size(text: str | None) -> tuple[int, int]:
    if not text:
        return DEFAULT_SIZE
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--size wants WIDTHxHEIGHT such as 1400x900, not {text!r}") from None
    if not (200 <= w <= 10000 and 150 <= h <= 10000):
        raise InputError(f"--size {text} is out of range (200x150 to 10000x10000)")
    return w, h


def demo_paths() -> list[Path]:
    """The demo documents shipped in resources/demo: the MobileNet SavedModel first (the
    teacher's story), then the training run of checkpoints. Pictures and scripts beside
    them are not documents."""
    demo = demo_dir()
    return [demo / name for name in DEMO_NAMES if (demo / name).is_dir()]


def demo_dir() -> Path:
    """resources/demo as a real folder: the readers memory-map files, so a zipped install (whose
    resources are not files) has no demo."""
    from importlib.resources import files
    found = files("tensorloupe.resources") / "demo"
    return found if isinstance(found, Path) else Path(os.fspath(found))


def application():
    """The QApplication (made if needed), with the process-wide settings of ``gui.theme``
    applied: every way of opening a window starts here."""
    from PySide6.QtWidgets import QApplication

    from . import theme
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Tensorloupe")
    app.setOrganizationName("Tensorloupe")
    theme.apply()
    return app


def split_select(text: str | None) -> list[str]:
    if not text:
        return []
    return [part.strip() for part in text.split(">") if part.strip()]


def main(args) -> int:
    size = parse_size(args.size)
    labels = split_select(args.select)
    if args.compare:
        from .panels.compare import show_compare
        return show_compare(args.compare, args.screenshot, size, select=args.select)
    graph = args.graph
    if graph and not (args.paths or demo_paths()):
        raise InputError("--graph needs a PATH (a SavedModel, frozen graph or .meta)")
    if args.screenshot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QSettings

    if not args.screenshot:
        from .platform_check import uses_xcb, xcb_problem
        problem = xcb_problem() if uses_xcb() else None
        if problem:
            raise TensorloupeError(problem)
    app = application()

    from .main_window import MainWindow
    from .workers import tracker, wait_idle

    settings = None if args.screenshot else QSettings("Tensorloupe", "Tensorloupe")
    window = MainWindow(settings=settings)
    if args.screenshot or settings is None or settings.value("geometry") is None:
        window.resize(*size)
    elif args.size:
        window.resize(*size)
    paths = list(args.paths) or (window.last_open_documents() if settings is not None else [])
    if paths:
        window.open_paths(paths)
    else:
        window.open_demo(demo_paths())
    window.show()

    if args.screenshot:
        try:
            _select_and_run(window, args, graph, labels)
            wait_idle(timeout=120)
            save_screenshot(app, window, args.screenshot)
        finally:
            tracker.cancel_all()
            wait_idle(timeout=10, settle=0.0)
            window.close()
        return 0
    _select_and_run(window, args, graph, labels)
    return app.exec()


def _select_and_run(window, args, graph: bool, labels) -> None:
    """Apply --select (in the graph tab with --graph), then --run with its --input files."""
    if graph:
        from .panels.graph import select_for_graph
        select_for_graph(window, labels)
    elif labels:
        window.select_path(labels)
    if args.run:
        from .panels.run import run_selected
        run_selected(window, args.input)


def save_screenshot(app, window, path) -> None:
    """Let pending paints settle, grab the window into ``path`` (PNG) and print the path."""
    _settle(app)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        raise InputError(f"could not write {out}")
    print(out)


def _settle(app) -> None:
    """Let layouts, deferred paints and the last queued signals run before grabbing."""
    import time
    for _ in range(5):
        app.processEvents()
        time.sleep(0.02)
