"""Process-wide settings of the window, applied once when the application starts.

Nothing here runs on import: importing a gui module never changes global state. ``apply()`` is
called by ``gui.app`` before the first window is built (and by the window tests' fixture).
"""
from __future__ import annotations

import sys

from .workers import UI_SWITCH_INTERVAL

_applied = False


def apply() -> None:
    """pyqtgraph's look (white plots, row-major images) and the interpreter's switch interval."""
    global _applied
    if _applied:
        return
    import pyqtgraph as pg
    pg.setConfigOptions(background="w", foreground="k", imageAxisOrder="row-major",
                        antialias=False)
    sys.setswitchinterval(UI_SWITCH_INTERVAL)
    _applied = True
