"""A window with only the graph view (``tensorloupe gui PATH --graph`` without the browser, and
scripts that want a picture of a graph)."""
from __future__ import annotations

import os
from pathlib import Path

from tensorloupe.core import graph as G
from tensorloupe.core.errors import TensorloupeError

from .export import model_label
from .panel import GraphPanel


def show_graph(path, select: str | None = None, screenshot: str | None = None,
               size=(1400, 900), open_groups=(), focus: str | None = None) -> int:
    """Open ``path`` (anything core.open reads) and show the graph ``select`` names
    ("serve > serving_default", a function name; default: serving_default or the whole
    graph), with the groups named in ``open_groups`` open and the first node matching
    ``focus`` selected. With ``screenshot``, render offscreen to that PNG and return."""
    if screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop
    from PySide6.QtGui import QKeySequence, QShortcut

    import tensorloupe.core as core
    from tensorloupe.gui.app import application
    app = application()
    panel = GraphPanel()
    panel.setWindowTitle("Tensorloupe graph")
    panel.model_name = model_label(path)
    # alone, the panel has no window whose Find could send Ctrl+F to its find box
    QShortcut(QKeySequence.Find, panel, activated=panel.focus_search)
    panel.resize(*size)
    panel.show()
    app.processEvents()
    label = str(select or Path(path).name)
    panel.title.setText(f"Laying out {label}…")
    outcome: dict = {}
    worker = panel.prepare_in_background(lambda: G.build_graph(core.open(path), select),
                                         lambda prepared: outcome.setdefault("ok", prepared),
                                         lambda exc: outcome.setdefault("error", exc),
                                         label=label,
                                         open_groups=lambda g: _first_view(g, open_groups))
    # the window paints and answers while the graph is read and laid out
    loop = QEventLoop()
    finished: list = []
    worker.finished.connect(lambda: finished.append(True))
    worker.finished.connect(loop.quit)
    if not finished:
        loop.exec()
    if "ok" not in outcome:
        panel.close()
        panel.deleteLater()
        error = outcome.get("error")
        if error is not None:
            raise error   # what reading the file said, as if it had been read right here
        raise TensorloupeError(f"drawing the graph of {path} was cancelled")
    prepared = outcome["ok"]
    graph = prepared.graph
    panel.setWindowTitle(f"Tensorloupe graph — {graph.title}")
    panel.show_prepared(prepared)
    if focus:
        hits = graph.search(focus)
        if hits:
            panel.select(hits[0])
    if screenshot:
        for _ in range(3):
            app.processEvents()
        out = Path(screenshot)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not panel.grab().save(str(out)):
            raise TensorloupeError(f"could not write {out}")
        print(out)
        panel.close()
        panel.scene.blockSignals(True)
        panel.deleteLater()
        app.processEvents()
        return 0
    return app.exec()


def _first_view(graph: G.Graph, names) -> set[str]:
    """The default first view, with the groups called ``names`` open too (a scope's or a
    call's name, with or without the scopes around it), as far as the graph has them."""
    opened = G.default_open_groups(graph)
    for name in names:
        match = [x for x in graph.groups if x.rstrip(":/") == name
                 or x.rstrip(":/").endswith(("::" + name, "/" + name))]
        if match:
            opened.add(match[0])
    return opened
