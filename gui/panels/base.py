"""What every detail panel has: a score for a tree node, and a way to show it.

The main window keeps one instance of each panel class, created the first time a node needs
it, and shows the panel with the highest ``priority`` for the selected node (as silx's
DataViewer picks among its views).
"""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget


class Panel(QWidget):
    name = ""

    @classmethod
    def priority(cls, node) -> int:
        """How well this panel shows ``node``; 0 = not at all."""
        raise NotImplementedError

    def show_node(self, node) -> None:
        raise NotImplementedError

    def is_busy(self) -> bool:
        return False


def title_label(text: str = "") -> QLabel:
    label = QLabel(text)
    f = label.font()
    f.setPointSizeF(f.pointSizeF() * 1.35)
    f.setBold(True)
    label.setFont(f)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    label.setWordWrap(True)
    return label


def subtitle_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("color: #555;")
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    label.setWordWrap(True)
    return label


def error_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    label.setStyleSheet(
        "background: #fdecea; color: #8a1f11; border: 1px solid #f5c6cb; padding: 8px;")
    label.hide()
    return label


def esc(text) -> str:
    return html.escape(str(text))


def kv_table_html(rows, title: str | None = None) -> str:
    """Key/value rows as a compact two-column HTML table."""
    out = []
    if title:
        out.append(f"<h3 style='margin-bottom:4px'>{esc(title)}</h3>")
    out.append("<table cellspacing='0' cellpadding='3'>")
    for key, value in rows:
        out.append(f"<tr><td style='color:#555; padding-right:14px' align='right'>{esc(key)}</td>"
                   f"<td>{esc(value)}</td></tr>")
    out.append("</table>")
    return "".join(out)
