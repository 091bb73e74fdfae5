"""What every detail panel has: a score for a tree node, a way to show it, its background jobs,
and the extension points the window uses.

The window keeps one instance of each registered panel class (``gui.panels.registry``), created
the first time a node needs it. Every panel whose ``priority`` for the selected node is above 0
is offered in the window's view selector; the best one shows unless the user picked another for
that kind of item (as silx's DataViewer does).

Extension points, declared here rather than discovered with ``hasattr``:
- ``tab_host()``: a panel with tabs of its own returns its QTabWidget, and window-wide features
  may add a tab there with ``add_tab``; a panel with ``wants_graph_tab`` gets the graph view of
  what it shows as one of its tabs;
- ``result_ready``: a panel whose work produces something other views show (a run's trace)
  emits it here;
- ``submit``/``cancel_jobs``: background work through ``JobSlot``s, so a new selection cancels
  the previous one's work and stale results are dropped.
"""
from __future__ import annotations

import html
from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QLineEdit, QTabWidget, QWidget

from ..workers import JobSlot, Worker


class Searchable:
    """A view with a search box of its own: the window's Find (Ctrl+F) goes there while the view
    shows, instead of to the tree's filter."""

    def search_box(self) -> QLineEdit | None:
        raise NotImplementedError


class Panel(QWidget):
    name = ""                       # shown in the window's view selector
    wants_graph_tab = False         # shows a signature: the window adds its graph as a tab here
    result_ready = Signal(object)   # a result other views may show (a run with its trace)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._job_slots: dict[str, JobSlot] = {}

    @classmethod
    def priority(cls, node) -> int:
        """How well this panel shows ``node``; 0 = not at all."""
        raise NotImplementedError

    def show_node(self, node) -> None:
        raise NotImplementedError

    # -- background jobs ------------------------------------------------------------------
    def job_slot(self, name: str = "main") -> JobSlot:
        if name not in self._job_slots:
            self._job_slots[name] = JobSlot()
        return self._job_slots[name]

    def submit(self, fn: Callable[..., Any], *args: Any, slot: str = "main", **kwargs: Any) -> Worker:
        """Run ``fn(ctx, *args)`` in the background in ``slot`` (see ``JobSlot.submit``)."""
        return self.job_slot(slot).submit(fn, *args, **kwargs)

    def cancel_jobs(self, slot: str | None = None) -> None:
        """Cancel the job of one slot, or of all of them."""
        for name, job in self._job_slots.items():
            if slot is None or name == slot:
                job.cancel()

    def is_busy(self) -> bool:
        return any(job.is_busy() for job in self._job_slots.values())

    # -- extension points -----------------------------------------------------------------
    def tab_host(self) -> QTabWidget | None:
        """The panel's own tab widget, if it has one that other features may add tabs to."""
        return None

    def search_box(self) -> QLineEdit | None:
        """Where Find goes while this panel shows: the search box of its current tab, if that
        tab is Searchable; None sends Find to the tree's filter."""
        tabs = self.tab_host()
        current = tabs.currentWidget() if tabs is not None else None
        return current.search_box() if isinstance(current, Searchable) else None

    def add_tab(self, widget: QWidget, title: str, tooltip: str = "") -> None:
        tabs = self.tab_host()
        if tabs is None:
            raise TypeError(f"{type(self).__name__} has no tabs to add {title!r} to")
        index = tabs.addTab(widget, title)
        if tooltip:
            tabs.setTabToolTip(index, tooltip)


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
