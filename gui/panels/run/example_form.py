"""The tf.Example form: the rows of a string input that a signature parses as tf.Examples."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from tensorloupe.core.errors import InputError
from tensorloupe.core.example_spec import build_examples, parse_values


class ExampleForm(QWidget):
    """One row per example, one column per feature; an empty cell takes the graph's default."""

    changed = Signal()

    def __init__(self, spec, parent=None):
        super().__init__(parent)
        self.spec = spec
        self.table = QTableWidget(1, len(spec.features))
        headers = []
        for c, f in enumerate(spec.features):
            shape = "" if f.shape is None else "×".join(str(d) for d in f.shape)
            headers.append(f"{f.name}\n{f.type_name}{' ' + shape if shape else ''}"
                           f"{' · required' if f.required else ''}")
        self.table.setHorizontalHeaderLabels(headers)
        for c, f in enumerate(spec.features):
            tip = (f"{f.kind} feature “{f.name}”, {f.type_name}"
                   + (f", shape {f.shape}" if f.shape is not None else "")
                   + (f"; default {f.default_text()}" if f.has_default else "; no default: "
                      "every example needs it" if f.kind == "dense" else "")
                   + ". Separate several values with commas.")
            self.table.horizontalHeaderItem(c).setToolTip(tip)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.setMaximumHeight(150)
        self.table.itemChanged.connect(lambda _i: self.changed.emit())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        hint = QLabel("One row per example; an empty cell takes the model's default (shown "
                      "greyed). Values of one feature: comma-separated.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #555;")
        layout.addWidget(hint)
        layout.addWidget(self.table)
        self._fill_placeholders(0)

    def _fill_placeholders(self, start: int) -> None:
        self.table.blockSignals(True)
        for r in range(start, self.table.rowCount()):
            for c, f in enumerate(self.spec.features):
                if self.table.item(r, c) is None:
                    item = QTableWidgetItem("")
                    item.setToolTip(f"default: {f.default_text()}" if f.has_default else
                                    "required")
                    self.table.setItem(r, c, item)
        self.table.blockSignals(False)

    def set_rows(self, n: int) -> None:
        n = max(1, n)
        if n != self.table.rowCount():
            self.table.setRowCount(n)
            self._fill_placeholders(0)
            self.changed.emit()

    def set_cell(self, row: int, feature: str, text: str) -> None:
        col = [f.name for f in self.spec.features].index(feature)
        if row >= self.table.rowCount():
            self.set_rows(row + 1)
        self.table.item(row, col).setText(text)

    def rows_text(self) -> list[dict]:
        out = []
        for r in range(self.table.rowCount()):
            row = {}
            for c, f in enumerate(self.spec.features):
                item = self.table.item(r, c)
                if item is not None and item.text().strip():
                    row[f.name] = item.text()
            out.append(row)
        return out

    def set_rows_text(self, rows: list[dict]) -> None:
        self.set_rows(len(rows))
        self.table.blockSignals(True)
        for r, row in enumerate(rows):
            for c, f in enumerate(self.spec.features):
                self.table.item(r, c).setText(str(row.get(f.name, "")))
        self.table.blockSignals(False)
        self.changed.emit()

    def examples(self) -> np.ndarray:
        rows = []
        for r, row in enumerate(self.rows_text()):
            values = {}
            for f in self.spec.features:
                try:
                    values[f.name] = parse_values(f, row.get(f.name, ""))
                except InputError as exc:
                    raise InputError(f"example {r + 1}: {exc.message}") from None
            rows.append(values)
        try:
            return build_examples(self.spec, rows)
        except InputError as exc:
            raise InputError(exc.message) from None
