"""PySide6 6.12.0 drops a reference to None on every Qt call returning void, until Python
aborts ("none_dealloc"); pyproject excludes it. This guards against a binding that does."""
import sys

from PySide6.QtCore import QObject


def test_void_qt_calls_keep_none_alive():
    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(1000):
        obj.setObjectName("probe")
    # Other threads may take or drop a few references meanwhile; a leaking binding loses 1000.
    assert sys.getrefcount(None) > before - 100
