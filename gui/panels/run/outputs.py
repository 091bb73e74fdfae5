"""The outputs of a run: each output shown by what it means (a bar chart of scores, a
picture), as a table of examples, as a tensor; the difference with an earlier run; save/copy."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout,
                               QHeaderView, QLabel, QMessageBox, QPushButton, QSpinBox,
                               QStackedWidget, QTableWidget, QTableWidgetItem, QTabWidget,
                               QVBoxLayout, QWidget)

from tensorloupe.core import feeds

from ...workers import JobSlot
from ..tensor import TensorPanel
from .images import array_pixmap
from .inputs import error_message
from .score_chart import TOP_K, ScoreChart


@dataclass
class RunResult:
    outputs: dict
    seconds: float
    trace: object = None
    inputs: dict = field(default_factory=dict)
    number: int = 0
    when: str = ""
    error: str | None = None

    def label(self) -> str:
        return f"run {self.number} ({self.when}, {self.seconds * 1000:.0f} ms)"


def _write_arrays(ctx, folder: str, arrays: dict) -> list[Path]:
    # Overwriting was agreed to before the job started.
    return feeds.write_arrays(folder, arrays, confirm=lambda existing: True)


class OutputsView(QWidget):
    """The outputs of one run: pick a key; chart/image by meaning, the tensor panel, the
    difference with an earlier run."""

    def __init__(self, parent=None, jobs: JobSlot | None = None):
        super().__init__(parent)
        # Where outputs are written in the background; the run panel hands over one of its
        # slots.
        self.jobs = jobs if jobs is not None else JobSlot()
        self.result: RunResult | None = None
        self.signature = None
        self.vocabulary: list[str] | None = None
        self.history: list[RunResult] = []
        self.key_combo = QComboBox()
        self.key_combo.currentIndexChanged.connect(self._on_key)
        self.row_spin = QSpinBox()
        self.row_spin.setPrefix("example ")
        self.row_spin.setMinimum(0)
        self.row_spin.valueChanged.connect(self._show_meaning)
        self.save_button = QPushButton("Save outputs…")
        self.save_button.setToolTip("Write each output as <key>.npy into a folder")
        self.save_button.clicked.connect(self._ask_save)
        self.copy_button = QPushButton("Copy as text")
        self.copy_button.clicked.connect(self.copy_text)
        self.compare_combo = QComboBox()
        self.compare_combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.compare_combo.setMinimumContentsLength(16)
        self.compare_combo.setToolTip("Show the difference between this run's outputs and an "
                                      "earlier run's")
        self.compare_combo.currentIndexChanged.connect(self._update_diff)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Output:"))
        bar.addWidget(self.key_combo)
        bar.addWidget(self.row_spin)
        bar.addStretch(1)
        bar.addWidget(QLabel("Compare with:"))
        bar.addWidget(self.compare_combo)
        bar.addWidget(self.save_button)
        bar.addWidget(self.copy_button)

        self.tabs = QTabWidget()
        self.chart = ScoreChart()
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignCenter)
        self.meaning = QStackedWidget()
        self.meaning.addWidget(self.chart)
        self.meaning.addWidget(self.image)
        self.tensor = TensorPanel()
        self.diff_label = QLabel()
        self.diff_label.setWordWrap(True)
        self.diff_table = QTableWidget(0, 2)
        self.diff_table.setHorizontalHeaderLabels(["output", "difference"])
        self.diff_table.horizontalHeader().setStretchLastSection(True)
        self.diff_table.verticalHeader().hide()
        self.diff_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        diff_page = QWidget()
        dl = QVBoxLayout(diff_page)
        dl.addWidget(self.diff_label)
        dl.addWidget(self.diff_table, 1)
        self.overview = QTableWidget(0, 0)
        self.overview.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.overview.setAlternatingRowColors(True)
        self.overview.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.overview.horizontalHeader().setStretchLastSection(True)
        self.tabs.addTab(self.meaning, "Chart")
        self.tabs.addTab(self.overview, "Inputs → outputs")
        self.tabs.addTab(self.tensor, "Tensor")
        self.tabs.addTab(diff_page, "Difference")
        self.placeholder = QLabel("Press Run (Ctrl+R) to see the outputs here.")
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setStyleSheet("color: #777;")
        self.body = QStackedWidget()
        self.body.addWidget(self.placeholder)
        self.body.addWidget(self.tabs)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.bar = QWidget()
        self.bar.setLayout(bar)
        bar.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.body, 1)
        self.bar.setEnabled(False)

    def set_signature(self, signature, vocabulary=None) -> None:
        self.signature = signature
        self.vocabulary = vocabulary
        self.result = None
        self.history = []
        self.key_combo.blockSignals(True)
        self.key_combo.clear()
        self.key_combo.blockSignals(False)
        self.compare_combo.clear()
        self.bar.setEnabled(False)
        self.body.setCurrentWidget(self.placeholder)

    def set_result(self, result: RunResult, history: list[RunResult]) -> None:
        self.result = result
        self.history = history
        previous = self.key_combo.currentText()
        self.key_combo.blockSignals(True)
        self.key_combo.clear()
        keys = list(result.outputs)
        self.key_combo.addItems(keys)
        self.key_combo.blockSignals(False)
        pick = previous if previous in keys else self._best_key(keys)
        self.compare_combo.blockSignals(True)
        self.compare_combo.clear()
        self.compare_combo.addItem("(no comparison)", None)
        for r in history:
            if r is not result:
                self.compare_combo.addItem(r.label(), r.number)
        if self.compare_combo.count() > 1:
            self.compare_combo.setCurrentIndex(1)
        self.compare_combo.blockSignals(False)
        self.bar.setEnabled(True)
        self.body.setCurrentWidget(self.tabs)
        self.tabs.setTabVisible(1, self._fill_overview(result))
        if self.key_combo.currentText() == pick:
            self._on_key()
        else:
            self.key_combo.setCurrentText(pick)
        self._update_diff()

    def _fill_overview(self, result: RunResult) -> bool:
        """One row per example, one column per input and output, when every tensor has one
        small value per example (strings in, ids out). False when they do not line up."""
        arrays = feeds.per_example_columns(result.inputs, result.outputs)
        if arrays is None:
            return False
        batch = arrays[0][1].shape[0]
        self.overview.clear()
        self.overview.setColumnCount(len(arrays))
        self.overview.setRowCount(batch)
        self.overview.setHorizontalHeaderLabels([n for n, _ in arrays])
        for c, (name, a) in enumerate(arrays):
            for r in range(batch):
                item = QTableWidgetItem(feeds.row_text(a[r]))
                if name.startswith("in: "):
                    item.setForeground(QColor("#2e6b2e"))
                self.overview.setItem(r, c, item)
        self.overview.resizeColumnsToContents()
        return True

    def _best_key(self, keys: list[str]) -> str:
        for k in keys:
            if self.meaning_kind(k)[0] is not None:
                return k
        return keys[0] if keys else ""

    # ---- what an output means
    def set_vocabulary(self, vocabulary: list[str] | None) -> None:
        """Labels for score vectors of the vocabulary's length (read after the signature)."""
        self.vocabulary = vocabulary
        if self.result is not None:
            self._show_meaning()

    def meaning_kind(self, key: str):
        """("scores", labels-per-row or None) / ("image", None) / (None, None)."""
        if self.result is None:
            return None, None
        return feeds.output_meaning(key, self.result.outputs, self.signature, self.vocabulary)

    def _on_key(self) -> None:
        key = self.key_combo.currentText()
        if self.result is None or key not in self.result.outputs:
            return
        arr = np.asarray(self.result.outputs[key])
        kind, _ = self.meaning_kind(key)
        rows = arr.shape[0] if kind is not None and arr.ndim >= 2 else 1
        self.row_spin.blockSignals(True)
        self.row_spin.setMaximum(max(0, rows - 1))
        self.row_spin.blockSignals(False)
        self.row_spin.setVisible(rows > 1)
        self.tensor.set_array(key, arr, title=f"output “{key}”")
        self.tabs.setTabVisible(0, kind is not None)
        self._show_meaning()
        if kind is not None:
            self.tabs.setCurrentIndex(0)
        elif self.tabs.isTabVisible(1):
            self.tabs.setCurrentIndex(1)
        else:
            self.tabs.setCurrentWidget(self.tensor)

    def _show_meaning(self) -> None:
        key = self.key_combo.currentText()
        kind, labels = self.meaning_kind(key)
        if kind is None:
            return
        arr = np.asarray(self.result.outputs[key])
        row = min(self.row_spin.value(), arr.shape[0] - 1) if arr.ndim >= 2 else 0
        if kind == "scores":
            scores = arr[row] if arr.ndim == 2 else arr
            row_labels = feeds.label_texts(labels, row) if labels is not None else None
            where = f" of example {row}" if arr.ndim == 2 and arr.shape[0] > 1 else ""
            k = min(TOP_K, len(scores))
            self.tabs.setTabText(0, "Bar chart")
            self.chart.set_scores(scores, row_labels, k,
                                  f"“{key}”{where}: top {k} of {len(scores)} highlighted")
            self.meaning.setCurrentWidget(self.chart)
        else:
            img = feeds.image_slice(arr[row:row + 1] if arr.ndim == 4 else arr)
            pix = array_pixmap(img, 320)
            self.tabs.setTabText(0, "Image")
            if pix is not None:
                self.image.setPixmap(pix)
            self.meaning.setCurrentWidget(self.image)

    # ---- compare
    def compared_run(self) -> RunResult | None:
        number = self.compare_combo.currentData()
        for r in self.history:
            if r.number == number:
                return r
        return None

    def _update_diff(self) -> None:
        other = self.compared_run()
        self.diff_table.setRowCount(0)
        if self.result is None or other is None:
            self.diff_label.setText("Run again (for example with other inputs) and choose an "
                                    "earlier run under “Compare with” to see what changed.")
            return
        self.diff_label.setText(f"run {self.result.number} minus {other.label()}:")
        keys = sorted(set(self.result.outputs) | set(other.outputs))
        self.diff_table.setRowCount(len(keys))
        for r, key in enumerate(keys):
            if key in self.result.outputs and key in other.outputs:
                _d, text = feeds.difference(self.result.outputs[key], other.outputs[key])
            else:
                text = "only in one of the runs"
            self.diff_table.setItem(r, 0, QTableWidgetItem(key))
            self.diff_table.setItem(r, 1, QTableWidgetItem(text))

    def diff_text(self, key: str) -> str:
        for r in range(self.diff_table.rowCount()):
            if self.diff_table.item(r, 0).text() == key:
                return self.diff_table.item(r, 1).text()
        return ""

    # ---- save / copy
    def text(self) -> str:
        if self.result is None:
            return ""
        return "\n".join(feeds.array_text(k, v) for k, v in sorted(self.result.outputs.items()))

    def copy_text(self) -> None:
        QGuiApplication.clipboard().setText(self.text())

    def _ask_save(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save outputs as <key>.npy into")
        if not folder or self.result is None:
            return
        existing = [p for p in feeds.array_files(folder, self.result.outputs).values()
                    if p.exists()]
        if existing and not self._confirm_overwrite(existing):
            return
        self.jobs.submit(_write_arrays, folder, dict(self.result.outputs),
                         label=f"Saving outputs to {folder}",
                         on_result=lambda written: self._saved(folder, written),
                         on_error=self._save_failed)

    def _saved(self, folder: str, written: list[Path]) -> None:
        if written:
            QMessageBox.information(self, "Saved", f"Wrote {len(written)} file(s) to {folder}.")

    def _save_failed(self, exc: Exception) -> None:
        QMessageBox.warning(self, "Could not save",
                            f"Could not save the outputs: {error_message(exc)}")

    def _confirm_overwrite(self, existing: list[Path]) -> bool:
        names = ", ".join(p.name for p in existing[:6]) + (" …" if len(existing) > 6 else "")
        return QMessageBox.question(self, "Overwrite files?",
                                    f"{names} already exist(s). Overwrite?",
                                    QMessageBox.Yes | QMessageBox.No,
                                    QMessageBox.No) == QMessageBox.Yes

    def save(self, folder, confirm=None) -> list[Path]:
        """Write each output as <key>.npy (strings as bytes, never pickled). Existing files
        are overwritten only when ``confirm(existing)`` says yes; returns the files written."""
        if self.result is None:
            return []
        return feeds.write_arrays(folder, self.result.outputs, confirm)
