"""The run panel: the signature panel with "Run" and "Trace" tabs beside its table.

"Signature" is the inputs/outputs table and the explanation, unchanged; "Run" has one editor
per input, Run/Cancel, the outputs with views chosen by what they mean, save/copy, a history
of runs and their differences; "Trace" lists every node the run executed (``trace.py``).

Background work goes through the panel's job slots: "run" (the run itself, cancellable
between any two nodes), "vocabulary" (the model's word list, for labels and sample text),
"input:<key>" (a file or picture read for one input), "inputs file" / "save inputs" (an .npz of
all inputs) and "save outputs". A new signature cancels the runs and reads of the previous one
and drops what they return.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (QFileDialog, QFrame, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QScrollArea, QSpinBox, QSplitter, QTabWidget,
                               QVBoxLayout, QWidget)

from tensorloupe.core import feeds
from tensorloupe.core.errors import InputError, TensorloupeError
from tensorloupe.core.example_spec import find_example_specs, looks_like_examples

from ... import nodes as N
from ...workers import Worker
from ..base import esc
from ..signature import SignaturePanel
from .budget import BudgetButton
from .inputs import InputEditor, error_message
from .outputs import OutputsView, RunResult

MAX_HISTORY = 8
TRACE_VALUE_BUDGET = 512 << 20   # intermediate tensors kept for the trace tab, in bytes


# ---------------------------------------------------------------- background jobs

def make_trace(budget: int = TRACE_VALUE_BUDGET):
    """A Trace that keeps intermediate tensors until ``budget`` bytes are held."""
    from tensorloupe.core.engine.context import Trace

    class BudgetTrace(Trace):
        held = 0
        budget_hit = False

        def add(self, record):
            if record.values is not None:
                size = sum(int(getattr(v, "nbytes", 0) or 0) for v in record.values)
                if self.held + size > budget:
                    record.values = None
                    self.budget_hit = True
                else:
                    self.held += size
            super().add(record)

    return BudgetTrace(keep=True)


def _run_job(ctx, saved_model, key, inputs, tags, budget=None):
    trace = make_trace()
    t0 = time.perf_counter()
    # A cancelled run raises the engine's RunCancelled, a core.errors.Cancelled: the worker
    # reports it as cancelled, not as a failure. A run past its budget raises BudgetError.
    outputs = saved_model.run_signature(key, inputs, tags=tags, trace=trace,
                                        cancel=ctx.should_stop, budget=budget)
    seconds = time.perf_counter() - t0
    return RunResult({k: outputs[k] for k in sorted(outputs)}, seconds, trace, inputs)


def _read_vocabulary(ctx, saved_model) -> list[str] | None:
    return feeds.find_vocabulary(saved_model.assets)


def _read_inputs(ctx, path: str) -> dict:
    return feeds.read_inputs(path)


def _write_inputs(ctx, path: str, values: dict) -> None:
    feeds.write_inputs(path, values)


def _input_slot(key: str) -> str:
    return f"input:{key}"


# ---------------------------------------------------------------- the panel

class RunPanel(SignaturePanel):
    """The signature panel, with "Run" and "Trace" tabs beside its table."""

    name = "run"
    wants_graph_tab = True
    # A finished run goes out through the base class's ``result_ready`` (a RunResult).
    run_failed = Signal(str)
    run_cancelled = Signal()

    _last_tab = 0   # the tab a person chose last, kept across signatures

    @classmethod
    def priority(cls, node) -> int:
        if isinstance(node.payload, N.SignatureRef) and node.payload.runnable:
            return 110
        return 0

    def __init__(self, parent=None, settings: QSettings | None | bool = False):
        super().__init__(parent)
        # ``settings``: a QSettings, None (remember nothing), or False: the window's.
        self._settings = settings
        info_page = QWidget()
        info_page.setLayout(self.layout())   # the signature panel's content, moved to a tab
        from ..trace import TracePanel
        self.trace_panel = TracePanel()
        self.run_page = self._build_run_page()
        self.tabs = QTabWidget()
        self.tabs.addTab(info_page, "Signature")
        self.tabs.addTab(self.run_page, "Run")
        self.tabs.addTab(self.trace_panel, "Trace")
        self.tabs.currentChanged.connect(self._on_tab)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        # Ctrl+R is the window's Run action (one owner per shortcut): it calls run() here.
        self.saved_model = None
        self.meta_graph = None
        self.editors: dict[str, InputEditor] = {}
        self.history: list[RunResult] = []
        self.last_result: RunResult | None = None
        self.last_error: str | None = None
        # The word list of the SavedModel last read, so that its other signatures need no
        # second read: (saved_model, lines or None).
        self._vocabulary: tuple[object, list[str] | None] | None = None
        self._runs = 0
        self._started = 0.0
        self._clock = QTimer(self)
        self._clock.setInterval(100)
        self._clock.timeout.connect(self._tick)

    def tab_host(self) -> QTabWidget:
        return self.tabs

    # ---- layout
    def _build_run_page(self) -> QWidget:
        page = QWidget()
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 4096)
        self.batch_spin.setPrefix("batch ")
        self.batch_spin.setToolTip("How many examples to send at once: used for generated "
                                   "inputs, images and tf.Example rows (the first -1 dim)")
        self.batch_spin.valueChanged.connect(self._on_batch)
        self.run_button = QPushButton("Run  (Ctrl+R)")
        self.run_button.setStyleSheet("font-weight: bold;")
        self.run_button.clicked.connect(self._run_slot)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(120)
        self.progress.hide()
        self.time_label = QLabel("")
        self.limits_button = BudgetButton()
        load = QPushButton("Load inputs…")
        load.setToolTip("Load all inputs from an .npz (one array per input key)")
        load.clicked.connect(self._ask_load_inputs)
        save = QPushButton("Save inputs…")
        save.setToolTip("Save the current inputs as an .npz (one array per input key)")
        save.clicked.connect(self._ask_save_inputs)
        bar = QHBoxLayout()
        bar.addWidget(self.batch_spin)
        bar.addWidget(self.run_button)
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.progress)
        bar.addWidget(self.time_label, 1)
        bar.addWidget(self.limits_button)
        bar.addWidget(load)
        bar.addWidget(save)
        self.run_error = QLabel()
        self.run_error.setWordWrap(True)
        self.run_error.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.run_error.setStyleSheet(
            "background: #fdecea; color: #8a1f11; border: 1px solid #f5c6cb; padding: 6px;")
        self.run_error.hide()

        self.inputs_box = QWidget()
        self.inputs_layout = QVBoxLayout(self.inputs_box)
        self.inputs_layout.setContentsMargins(0, 0, 0, 0)
        self.inputs_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.inputs_box)
        scroll.setFrameShape(QFrame.NoFrame)
        self.outputs = OutputsView(jobs=self.job_slot("save outputs"))
        self.run_splitter = QSplitter(Qt.Vertical)
        self.run_splitter.addWidget(scroll)
        self.run_splitter.addWidget(self.outputs)
        self.run_splitter.setStretchFactor(0, 2)
        self.run_splitter.setStretchFactor(1, 3)
        self.run_splitter.setSizes([300, 500])
        layout = QVBoxLayout(page)
        layout.addLayout(bar)
        layout.addWidget(self.run_error)
        layout.addWidget(self.run_splitter, 1)
        return page

    def _on_tab(self, index: int) -> None:
        RunPanel._last_tab = index

    def show_run_tab(self) -> None:
        self.tabs.setCurrentWidget(self.run_page)

    # ---- showing a signature
    def show_node(self, node) -> None:
        sig, mg = node.payload.signature, node.payload.meta_graph
        same = self.meta_graph is mg and self.signature_key == sig.key
        if not same:
            # What is still being run or read for the previous signature would land on this
            # one. Saving goes on: the files are wanted whatever is shown.
            self.cancel()
            self.cancel_jobs("vocabulary")
            self.cancel_jobs("inputs file")
        super().show_node(node)
        self.meta_graph = mg
        self.saved_model = mg.saved_model
        if not same:
            self._build_editors(sig, mg)
            self.history = []
            self.last_result = None
            self.last_error = None
            self.run_error.hide()
            self.time_label.setText("")
            self.outputs.set_signature(sig)
            self._find_vocabulary()
            self.trace_panel.clear()
        self.tabs.blockSignals(True)
        self.tabs.setCurrentIndex(RunPanel._last_tab)
        self.tabs.blockSignals(False)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.last_result is None:
            self.fit_inputs()

    @property
    def signature_key(self) -> str | None:
        return self.signature.key if self.signature is not None else None

    def _build_editors(self, sig, mg) -> None:
        for k, ed in self.editors.items():
            self.cancel_jobs(_input_slot(k))
            ed.setParent(None)
            ed.deleteLater()
        self.editors = {}
        try:
            specs = find_example_specs(mg, sig)
        except (TensorloupeError, ValueError, KeyError, IndexError):
            specs = {}
        default_lines = feeds.sample_lines(self._known_vocabulary())
        remembered = self._remembered()
        for k, spec in sig.inputs.items():
            if spec.encoding != "name":
                note = QLabel(f"Input “{esc(k)}” is a sparse or composite tensor, which "
                              "running does not support yet.")
                note.setWordWrap(True)
                self.inputs_layout.insertWidget(self.inputs_layout.count() - 1, note)
                continue
            ed = InputEditor(spec, specs.get(k), looks_like_examples(k, sig), default_lines,
                             jobs=self.job_slot(_input_slot(k)))
            ed.set_batch(self.batch_spin.value())
            if k in remembered:
                ed.restore(remembered[k])
            ed.changed.connect(self._update_run_enabled)
            self.editors[k] = ed
            self.inputs_layout.insertWidget(self.inputs_layout.count() - 1, ed)
        if not sig.inputs:
            note = QLabel("This signature takes no inputs.")
            self.inputs_layout.insertWidget(self.inputs_layout.count() - 1, note)
            self.editors = {}
        self._update_run_enabled()
        self.fit_inputs()

    def fit_inputs(self) -> None:
        """Give the input editors the room they need (up to about half), outputs the rest."""
        total = sum(self.run_splitter.sizes()) or 800
        want = self.inputs_box.sizeHint().height() + 6
        top = min(max(want, 90), int(total * 0.55))
        self.run_splitter.setSizes([top, total - top])

    # ---- the model's vocabulary: labels for score vectors, sample lines for text inputs
    def _known_vocabulary(self) -> list[str] | None:
        if self._vocabulary is not None and self._vocabulary[0] is self.saved_model:
            return self._vocabulary[1]
        return None

    def _find_vocabulary(self) -> None:
        if self.saved_model is None:
            return
        if self._vocabulary is not None and self._vocabulary[0] is self.saved_model:
            self.outputs.set_vocabulary(self._vocabulary[1])
            return
        sm = self.saved_model
        self.submit(_read_vocabulary, sm, slot="vocabulary", label="Reading the vocabulary",
                    on_result=lambda lines: self._on_vocabulary(sm, lines))

    def _on_vocabulary(self, saved_model, lines: list[str] | None) -> None:
        self._vocabulary = (saved_model, lines)
        if saved_model is not self.saved_model:
            return
        self.outputs.set_vocabulary(lines)
        if lines:
            for ed in self.editors.values():
                ed.offer_default_lines(feeds.sample_lines(lines))

    # ---- inputs
    def _on_batch(self, value: int) -> None:
        for ed in self.editors.values():
            ed.set_batch(value)

    def _update_run_enabled(self) -> None:
        busy = self.job_slot("run").is_busy()
        self.run_button.setEnabled(not busy and self.saved_model is not None)

    def input_values(self) -> dict:
        """Every input's value; InputError naming the first bad input (shown beside it)."""
        values = {}
        bad = []
        for k, ed in self.editors.items():
            if ed.validate():
                values[k] = ed.current_value()
            else:
                bad.append((k, ed.error))
        if bad:
            k, msg = bad[0]
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            raise InputError(f"input “{k}” is not valid: {msg}{more}")
        return values

    # ---- settings
    def settings(self) -> QSettings | None:
        if self._settings is False:
            from ...main_window import MainWindow   # late: the window imports the panels
            window = self.window()
            return window.settings if isinstance(window, MainWindow) else None
        return self._settings

    def _settings_key(self) -> str | None:
        if self.saved_model is None or self.signature is None:
            return None
        tags = ",".join(self.meta_graph.tags)
        path = str(Path(self.saved_model.path).resolve()).replace("/", "|")
        return f"runInputs/{path}/{tags}/{self.signature.key}"

    def _remembered(self) -> dict:
        s, key = self.settings(), self._settings_key()
        if s is None or key is None:
            return {}
        raw = s.value(key)
        if not isinstance(raw, str):
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def remember_inputs(self) -> None:
        s, key = self.settings(), self._settings_key()
        if s is None or key is None:
            return
        s.setValue(key, json.dumps({k: ed.state() for k, ed in self.editors.items()}))
        s.sync()

    def save_inputs(self, path) -> None:
        feeds.write_inputs(path, self.input_values())

    def load_inputs(self, path) -> list[str]:
        """Fill inputs from an .npz whose member names are input keys; returns those used."""
        return self._use_inputs(path, feeds.read_inputs(path))

    def _use_inputs(self, path, arrays: dict) -> list[str]:
        name = Path(path).name
        used = []
        for k, arr in arrays.items():
            if k in self.editors:
                self.editors[k].set_array(arr, f"{name}[{k}]")
                used.append(k)
        if not used:
            raise InputError(f"{name} has none of the input keys " + ", ".join(self.editors))
        return used

    def _ask_save_inputs(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save inputs", "inputs.npz",
                                              "NumPy archives (*.npz)")
        if not path:
            return
        try:
            values = self.input_values()
        except TensorloupeError as exc:
            self._show_run_error(exc.message)
            return
        self.submit(_write_inputs, path, values, slot="save inputs",
                    label=f"Saving {Path(path).name}",
                    on_error=lambda exc: self._show_run_error(error_message(exc)))

    def _ask_load_inputs(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load inputs", "", "NumPy archives (*.npz)")
        if path:
            self.read_inputs(path)

    def read_inputs(self, path) -> Worker:
        """``load_inputs`` with the reading in a worker; what goes wrong shows above the
        inputs."""
        return self.submit(_read_inputs, str(path), slot="inputs file",
                           label=f"Reading {Path(path).name}",
                           on_result=lambda arrays: self._inputs_read(path, arrays),
                           on_error=lambda exc: self._show_run_error(error_message(exc)))

    def _inputs_read(self, path, arrays: dict) -> None:
        try:
            self._use_inputs(path, arrays)
        except TensorloupeError as exc:
            self._show_run_error(exc.message)

    # ---- running
    def _run_slot(self) -> None:
        self.run()

    def run(self) -> Worker | None:
        """Check the inputs, then run the signature in a worker. None when refused."""
        if self.saved_model is None or self.signature is None:
            return None
        if self.job_slot("run").is_busy():
            return None
        self.show_run_tab()
        try:
            inputs = self.input_values()
        except InputError as exc:
            self._show_run_error(exc.message + " Nothing was run.")
            self.run_failed.emit(exc.message)
            return None
        self.run_error.hide()
        self.remember_inputs()
        self._started = time.perf_counter()
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.setEnabled(True)
        self.run_button.setEnabled(False)
        self.time_label.setText("running…")
        self._clock.start()
        tags = list(self.meta_graph.tags)
        worker = self.submit(_run_job, self.saved_model, self.signature.key, inputs, tags,
                             self.limits_button.budget(), slot="run", label=f"Running {self.signature.key}",
                             on_result=self._on_result, on_error=self._on_error)
        # The window's Cancel (in the status bar) stops the worker itself: say so here too.
        worker.cancelled.connect(lambda w=worker: self._on_stopped(w))
        return worker

    def cancel(self) -> None:
        """Stop the run; it ends at the next node, and whatever it returns is dropped."""
        if not self.job_slot("run").is_busy():
            return
        self.cancel_jobs("run")
        self._finish()
        self.time_label.setText("cancelled")
        self.run_cancelled.emit()

    def is_busy(self) -> bool:
        return super().is_busy() or self.outputs.tensor.is_busy() or \
            self.trace_panel.is_busy()

    def _tick(self) -> None:
        self.time_label.setText(f"running… {time.perf_counter() - self._started:.1f} s")

    def _finish(self) -> None:
        self._clock.stop()
        self.progress.setRange(0, 1)
        self.progress.hide()
        self.cancel_button.setEnabled(False)
        self._update_run_enabled()

    def _on_result(self, result: RunResult) -> None:
        self._finish()
        self._runs += 1
        result.number = self._runs
        result.when = time.strftime("%H:%M:%S")
        self.history = ([result] + self.history)[:MAX_HISTORY]
        self.last_result = result
        self.last_error = None
        first = " (includes loading the variables)" if self._runs == 1 else ""
        self.time_label.setText(f"run {result.number}: {result.seconds * 1000:.0f} ms{first}")
        self.outputs.set_result(result, self.history)
        self.trace_panel.set_trace(result.trace)
        self.result_ready.emit(result)

    def _on_error(self, exc: Exception) -> None:
        self._finish()
        message = error_message(exc)
        self.last_error = message
        self.time_label.setText("failed")
        self._show_run_error("The run failed: " + message)
        self.run_failed.emit(message)

    def _on_stopped(self, worker: Worker) -> None:
        if self.job_slot("run").worker is not worker:
            return      # cancelled here already, or superseded
        self._finish()
        self.time_label.setText("cancelled")
        self.run_cancelled.emit()

    def _show_run_error(self, message: str) -> None:
        self.run_error.setText(message)
        self.run_error.show()
