"""Anything else in the tree (a function, an argument, a collection, the saver, an error):
its facts as a small table, and its error in words when it has one."""
from __future__ import annotations

from PySide6.QtWidgets import QTextBrowser, QVBoxLayout

from .. import nodes as N
from .base import Panel, error_label, kv_table_html, subtitle_label, title_label

_HINTS = {
    "NotFoundError": "Check the path, or open the folder that holds saved_model.pb or the "
                     "checkpoint's .index file.",
    "ChecksumError": "The file is damaged: copy it again from where it was written.",
    "FormatError": "The file is damaged or is not what its name says: copy it again, or open "
                   "the folder around it.",
}


class InfoPanel(Panel):
    name = "info"

    @classmethod
    def priority(cls, node) -> int:
        if node.kind == N.ERROR or node.error:
            return 90
        return 10

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = title_label()
        self.subtitle = subtitle_label()
        self.error = error_label()
        self.body = QTextBrowser()
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addWidget(self.error)
        layout.addWidget(self.body, 1)

    def show_node(self, node) -> None:
        self.title.setText(node.label)
        self.subtitle.setText(node.kind + (f"  ·  {node.detail}" if node.detail and
                                           node.detail != node.error else ""))
        if node.error:
            self.error.setText(node.error)
            self.error.show()
        else:
            self.error.hide()
        rows = list(node.info)
        if node.dtype:
            rows.append(("dtype", node.dtype))
        if node.shape:
            rows.append(("shape", node.shape))
        path = " > ".join(node.path())
        if path:
            rows.append(("tree path", path))
        self.body.setHtml(kv_table_html(rows))
