"""Before the window opens on X11: are the system libraries Qt's xcb platform needs there?

Without them Qt prints a dozen lines about plugins and aborts the process. Checking first lets
`tensorloupe` say in one line which libraries (and which Debian/Ubuntu packages) are missing.
"""
from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

# Libraries Qt 6's xcb platform loads that a minimal desktop may lack, with their packages.
XCB_LIBRARIES = (
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxcb-image.so.0", "libxcb-image0"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"),
    ("libxcb-randr.so.0", "libxcb-randr0"),
    ("libxcb-shape.so.0", "libxcb-shape0"),
    ("libxcb-xkb.so.1", "libxcb-xkb1"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libxkbcommon.so.0", "libxkbcommon0"),
    ("libEGL.so.1", "libegl1"),
    ("libfontconfig.so.1", "libfontconfig1"),
)


def uses_xcb(environ=os.environ) -> bool:
    """Whether Qt will pick its X11 (xcb) platform for a window here."""
    if not sys.platform.startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":")[0].split(";")[0] == "xcb"
    return bool(environ.get("DISPLAY")) and not environ.get("WAYLAND_DISPLAY")


def missing_libraries(candidates=XCB_LIBRARIES) -> list[tuple[str, str]]:
    """(library, package) of every candidate the dynamic loader cannot find."""
    missing = []
    for library, package in candidates:
        try:
            ctypes.CDLL(library)
        except OSError:
            missing.append((library, package))
    return missing


def xcb_problem() -> str | None:
    """One sentence naming what the xcb platform lacks, or None when it can load."""
    try:
        import PySide6
    except ImportError:  # the caller reports a missing PySide6 on its own
        return None
    plugin = Path(PySide6.__file__).parent / "Qt" / "lib" / "libQt6XcbQpa.so.6"
    try:
        if plugin.exists():
            ctypes.CDLL(str(plugin))
        return None
    except OSError as exc:
        detail = str(exc)
    missing = missing_libraries()
    if missing:
        libs = ", ".join(lib for lib, _ in missing)
        packages = " ".join(pkg for _, pkg in missing)
        return (f"the window needs system libraries that are missing: {libs} (on Debian/Ubuntu: "
                f"sudo apt install {packages}); or add --screenshot OUT.png to render offscreen")
    return (f"Qt's X11 platform cannot load ({detail}); or add --screenshot OUT.png to render "
            "offscreen")
