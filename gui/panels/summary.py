"""Summaries: a SavedModel, a MetaGraphDef, a checkpoint, a training run, or any group.

Counts come from core (``SavedModel.summary()``, ``MetaGraph.summary()``, the checkpoint
reader) in a worker. A checkpoint's checksums are verified in the background too (with
progress and Cancel), so a damaged shard is reported as soon as the checkpoint is selected.
A training run's page has a Compare button: the window compares its checkpoints as a series
(``compare_requested``).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel,
                               QProgressBar, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from tensorloupe.core.checkpoint.bundle import CheckpointReader
from tensorloupe.core.errors import TensorloupeError
from tensorloupe.core.saved_model import variable_totals
from tensorloupe.core.stats import format_bytes, format_count, format_params

from .. import nodes as N
from .base import Panel, error_label, esc, kv_table_html, subtitle_label, title_label

AUTO_VERIFY_BYTES = 256 * 1024 * 1024  # verify smaller checkpoints without being asked
CHILD_COLUMNS = ("name", "kind", "dtype", "shape", "values", "bytes")


def _count(n) -> str:
    return format_count(int(n)) if n is not None else "–"


def _params(n: int) -> str:
    """1,234,567  (1.23M); small counts once."""
    short = format_params(int(n))
    return f"{_count(n)}  ({short})" if n >= 10_000 else _count(n)


def saved_model_rows(sm) -> list[tuple[str, str]]:
    s = dict(sm.summary())
    reader = sm.variables
    if reader is not None and sm.meta_graphs:
        # Count each variable once (Keras exports store some under two keys).
        s["variables"], s["parameters"], s["variable_bytes"] = \
            variable_totals(sm.meta_graphs[0], reader)
    rows = [("path", str(sm.path)),
            ("MetaGraphDefs", ", ".join("[" + ", ".join(t) + "]" for t in sm.tag_sets)),
            ("signatures", _count(s["signatures"])),
            ("graph nodes", _count(s["nodes"])),
            ("functions", _count(s["functions"])),
            ("distinct ops", _count(s["ops"])),
            ("variables", _count(s["variables"])),
            ("parameters", _params(s["parameters"])),
            ("variable bytes", format_bytes(s["variable_bytes"])),
            ("size on disk", format_bytes(s["bytes"]))]
    versions = sorted({mg.tf_version for mg in sm.meta_graphs if mg.tf_version})
    rows.append(("written by TensorFlow", ", ".join(versions) or "unknown"))
    try:
        fp = sm.fingerprint
    except TensorloupeError as exc:
        rows.append(("fingerprint", f"unreadable: {exc}"))
    else:
        if fp is not None:
            rows.append(("fingerprint checksum", str(fp.saved_model_checksum)))
    rows.append(("assets", _count(len(sm.assets))))
    if sm.assets_extra:
        rows.append(("assets.extra", _count(len(sm.assets_extra))))
    return rows


def meta_graph_rows(mg) -> tuple[list[tuple[str, str]], list[str]]:
    s = mg.summary()
    rows = [("tags", ", ".join(s["tags"]) or "(none)"),
            ("signatures", _count(s["signatures"])),
            ("graph nodes", _count(s["nodes"])),
            ("function nodes", _count(s["function_nodes"])),
            ("functions", _count(s["functions"])),
            ("distinct ops", _count(s["ops"])),
            ("collections", _count(s["collections"])),
            ("assets", _count(s["assets"])),
            ("object graph nodes", _count(s["object_graph_nodes"])),
            ("written by TensorFlow", s["tf_version"] or "unknown")]
    sm = mg.saved_model
    if sm is not None:
        reader = sm.variables
        if reader is not None:
            count, params, nbytes = variable_totals(mg, reader)
            rows += [("variables", _count(count)),
                     ("parameters", _params(params)),
                     ("variable bytes", format_bytes(nbytes))]
    return rows, mg.ops_used()


def checkpoint_rows(node) -> list[tuple[str, str]]:
    reader = node.payload
    rows = list(node.info)
    if node.params is not None:
        rows.append(("parameters", _params(node.params)))
    if node.nbytes is not None:
        rows.append(("tensor bytes", format_bytes(node.nbytes)))
    header = reader.header if isinstance(reader, CheckpointReader) else None  # V2 only
    if header is not None:
        rows += [("data shards", _count(header.num_shards)),
                 ("byte order", header.endianness),
                 ("format version", f"producer {header.producer}, "
                                    f"min consumer {header.min_consumer}")]
    return rows


class SummaryPanel(Panel):
    name = "summary"
    verified = Signal(object)   # list of core.checkpoint.Problem
    compare_requested = Signal(list)   # paths to compare: a training run's directory

    @classmethod
    def priority(cls, node) -> int:
        if node.kind in (N.SAVED_MODEL, N.META_GRAPH, N.CHECKPOINT, N.TRAINING_RUN, N.GRAPH):
            return 80
        if node.kind in (N.GROUP, N.FUNCTION, N.CONCRETE):
            return 40
        return 0

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = title_label()
        self.subtitle = subtitle_label()
        self.error = error_label()
        self.body = QLabel()
        self.body.setTextFormat(Qt.RichText)
        self.body.setWordWrap(True)
        self.body.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.body.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.body.setStyleSheet("background: white; border: 1px solid #ddd; padding: 8px;")
        self.children_table = QTableWidget(0, len(CHILD_COLUMNS))
        self.children_table.setHorizontalHeaderLabels(CHILD_COLUMNS)
        self.children_table.verticalHeader().hide()
        self.children_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.children_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.children_table.setAlternatingRowColors(True)
        self.children_table.verticalHeader().setDefaultSectionSize(24)
        self.children_table.setWordWrap(False)
        h = self.children_table.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeToContents)
        h.setStretchLastSection(True)
        self.verify_status = QLabel()
        self.verify_status.setWordWrap(True)
        self.verify_status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.verify_progress = QProgressBar()
        self.verify_progress.setRange(0, 1000)
        self.verify_progress.setFormat("checking checksums %p%")
        self.verify_button = QPushButton("Verify checksums")
        self.verify_button.clicked.connect(self.start_verify)
        self.verify_cancel = QPushButton("Cancel")
        self.verify_cancel.clicked.connect(self.cancel_verify)
        verify_row = QHBoxLayout()
        verify_row.addWidget(self.verify_status, 1)
        verify_row.addWidget(self.verify_progress)
        verify_row.addWidget(self.verify_cancel)
        verify_row.addWidget(self.verify_button)
        self._verify_widgets = (self.verify_status, self.verify_progress, self.verify_button,
                                self.verify_cancel)
        self.compare_button = QPushButton("Compare checkpoints")
        self.compare_button.setToolTip("Compare every checkpoint of this run with the first "
                                       "and with the one before: what changed, drift curves, "
                                       "frozen variables (opens a tab)")
        self.compare_button.clicked.connect(self.request_compare)
        self.compare_button.hide()
        compare_row = QHBoxLayout()
        compare_row.addWidget(self.compare_button)
        compare_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addWidget(self.error)
        layout.addLayout(compare_row)
        layout.addLayout(verify_row)
        layout.addWidget(self.body, 0)
        layout.addWidget(self.children_table, 1)
        self._filler = QWidget()
        layout.addWidget(self._filler, 1)
        self.node = None
        self.rows: list[tuple[str, str]] = []
        self.problems = None

    # ------------------------------------------------------------------ showing
    def show_node(self, node) -> None:
        self.cancel_jobs()
        self.node = node
        self.rows = []
        self.problems = None
        self.error.hide()
        for w in self._verify_widgets:
            w.hide()
        runs = node.payload if node.kind == N.TRAINING_RUN else None
        self.compare_button.setVisible(bool(runs) and len(runs) >= 2)
        if runs:
            self.compare_button.setText(f"Compare the {len(runs)} checkpoints")
        self.title.setText(node.label)
        self.subtitle.setText(f"{node.kind}" + (f"  ·  {node.detail}" if node.detail else ""))
        self.body.setText("<p style='color:#777'>Counting…</p>")
        self._fill_children(node)
        self.submit(_summarize, node, label=f"Summarising {node.label}",
                    on_result=self._on_summary, on_error=self._on_error)
        if node.kind == N.CHECKPOINT and isinstance(node.payload, CheckpointReader):
            for w in (self.verify_status, self.verify_button):
                w.show()
            self.verify_status.setText("Checksums not checked yet.")
            if (node.nbytes or 0) <= AUTO_VERIFY_BYTES:
                self.start_verify()

    def _fill_children(self, node) -> None:
        kids = node.loaded_children() if node.kind not in (N.SAVED_MODEL, N.META_GRAPH) else []
        t = self.children_table
        t.setVisible(bool(kids))
        self._filler.setVisible(not kids)
        t.setRowCount(len(kids))
        for r, c in enumerate(kids):
            values = (c.label, c.kind, c.dtype, c.shape,
                      format_params(c.params) if c.params is not None else "",
                      format_bytes(c.nbytes) if c.nbytes is not None else "")
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if col >= 4:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if c.error:
                    item.setForeground(Qt.red)
                    item.setToolTip(c.error)
                t.setItem(r, col, item)

    def _on_summary(self, result) -> None:
        rows, ops = result
        self.rows = rows
        html = kv_table_html(rows)
        if ops:
            html += (f"<h4 style='margin-bottom:2px'>Ops used ({len(ops)})</h4>"
                     f"<p style='color:#333'>{esc(', '.join(ops))}</p>")
        self.body.setText(html)

    def _on_error(self, exc) -> None:
        self.error.setText(f"Cannot summarise this: {exc}")
        self.error.show()
        self.body.setText("")

    def request_compare(self) -> None:
        """Ask the window to compare the shown training run's checkpoints as a series."""
        node = self.node
        if node is None or node.kind != N.TRAINING_RUN or not node.payload:
            return
        from .compare.host import run_directory
        directory = run_directory(node)
        if directory:
            self.compare_requested.emit([directory])

    def row_value(self, key: str) -> str | None:
        for k, v in self.rows:
            if k == key:
                return v
        return None

    # ------------------------------------------------------------------ verify
    def start_verify(self) -> None:
        node = self.node
        if node is None or node.kind != N.CHECKPOINT or node.payload is None:
            return
        self.verify_button.hide()
        self.verify_progress.setValue(0)
        self.verify_progress.show()
        self.verify_cancel.show()
        self.verify_status.setText("Checking checksums…")
        self.submit(_verify, node.payload, slot="verify", label=f"Verifying {node.label}",
                    on_result=self._on_verified, on_error=self._on_verify_error,
                    on_progress=lambda d, t: t and self.verify_progress.setValue(
                        int(1000 * d / t)),
                    on_cancelled=self._on_verify_cancelled)

    def cancel_verify(self) -> None:
        self.cancel_jobs("verify")
        self._on_verify_cancelled()

    def _verify_done(self) -> None:
        self.verify_progress.hide()
        self.verify_cancel.hide()
        self.verify_button.show()

    def _on_verified(self, problems) -> None:
        self._verify_done()
        self.problems = list(problems)
        if not problems:
            self.verify_status.setText("✔ All checksums match.")
            self.verify_status.setStyleSheet("color: #2e7d32;")
        else:
            shown = "\n".join(str(p) for p in problems[:8])
            more = f"\n… and {len(problems) - 8} more" if len(problems) > 8 else ""
            self.error.setText(f"{len(problems)} damaged tensor(s):\n{shown}{more}")
            self.error.show()
            self.verify_status.setText("✘ Checksum problems found (see above).")
            self.verify_status.setStyleSheet("color: #c62828;")
        self.verified.emit(self.problems)

    def _on_verify_error(self, exc) -> None:
        self._verify_done()
        self.error.setText(f"Cannot verify this checkpoint: {exc}")
        self.error.show()
        self.verify_status.setText("")

    def _on_verify_cancelled(self) -> None:
        self._verify_done()
        self.verify_status.setText("Checksum check cancelled.")


def _summarize(ctx, node):
    kind = node.kind
    if kind == N.SAVED_MODEL:
        return saved_model_rows(node.payload), []
    if kind == N.META_GRAPH:
        return meta_graph_rows(node.payload)
    if kind == N.GRAPH:
        gm = node.payload
        rows = [(k.replace("_", " "), str(v)) for k, v in gm.summary().items()]
        return rows, gm.ops_used()
    if kind == N.CHECKPOINT and node.payload is not None:
        return checkpoint_rows(node), []
    rows = list(node.info)
    kids = node.loaded_children()
    rows.append(("items", _count(len(kids))))
    if node.params is not None:
        rows.append(("values", _params(node.params)))
    if node.nbytes is not None:
        rows.append(("bytes", format_bytes(node.nbytes)))
    return rows, []


def _verify(ctx, reader):
    def progress(done, total):
        ctx.check()
        ctx.progress(done, total)
    return reader.verify(progress=progress)
