"""Missing X11 libraries are named in one line instead of Qt aborting the process."""
import ctypes
import sys
from pathlib import Path

import PySide6

from tensorloupe.gui.platform_check import XCB_LIBRARIES, missing_libraries, uses_xcb, xcb_problem


def test_uses_xcb_follows_qt_platform_choice():
    assert uses_xcb({"DISPLAY": ":0"}) is sys.platform.startswith("linux")
    assert not uses_xcb({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"})
    assert not uses_xcb({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"})
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb"}) is sys.platform.startswith("linux")
    assert not uses_xcb({})


def test_missing_libraries_asks_the_dynamic_loader():
    candidates = [("libc.so.6", "libc6"), ("libtensorloupe-no-such-library.so.7", "nothing")]
    assert missing_libraries(candidates) == [("libtensorloupe-no-such-library.so.7", "nothing")]


def _loads(name: str) -> bool:
    try:
        ctypes.CDLL(name)
        return True
    except OSError:
        return False


def test_xcb_problem_names_exactly_what_the_loader_lacks():
    plugin = Path(PySide6.__file__).parent / "Qt" / "lib" / "libQt6XcbQpa.so.6"
    problem = xcb_problem()
    assert (problem is None) == _loads(str(plugin))
    if problem is not None:
        assert "\n" not in problem
        for library, package in XCB_LIBRARIES:
            assert (library in problem) == (not _loads(library))
            assert (f" {package}" in problem) == (not _loads(library))
