"""The editor of one signature input: how to fill it (generated values, an expression, a file,
an image, lines of text, a tf.Example form) and whether the value fits the input.

Values are built on the UI thread (they are small, typed by a person); reading a file or
decoding a picture chosen in a dialog goes to a worker through the ``JobSlot`` the panel hands
over, so a new choice supersedes a read still under way.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFrame, QGridLayout,
                               QHBoxLayout, QLabel, QLineEdit, QMessageBox, QPlainTextEdit,
                               QPushButton, QSpinBox, QStackedWidget, QVBoxLayout, QWidget)

from tensorloupe.core import feeds
from tensorloupe.core.errors import InputError, TensorloupeError
from tensorloupe.core.image_input import SCALINGS, image_layout, image_to_input

from ...workers import JobSlot, Worker
from ..base import esc
from .example_form import ExampleForm
from .images import array_pixmap, read_image_rgba

ACCENT = "#b35900"

GENERATED = ("random", "zeros", "ones")
MODE_LABELS = {
    "random": "Random", "zeros": "Zeros", "ones": "Ones", "expr": "Expression",
    "file": "File (.npy/.npz)", "image": "Image file", "text": "Text lines",
    "examples": "tf.Example form",
}


def shape_html(shape) -> str:
    """A TensorInfo shape with its -1 (any size) dims highlighted."""
    return feeds.shape_text(shape, any_size=f"<b style='color:{ACCENT}'>-1</b>",
                            unknown=f"<span style='color:{ACCENT}'>unknown rank</span>")


def error_message(exc: BaseException) -> str:
    """What to tell a person about a failure: our errors' sentence, else the exception."""
    if isinstance(exc, TensorloupeError):
        return exc.message
    return str(exc) or type(exc).__name__


def _read_array(ctx, path: str, allow_pickle: bool):
    return feeds.read_array_file(path, allow_pickle)


def _read_image(ctx, path: str) -> np.ndarray:
    return read_image_rgba(path)


class InputEditor(QFrame):
    """The editor of one signature input: how to fill it, and whether the value is valid."""

    changed = Signal()

    confirm_pickle = None   # tests replace it: callable(parent, path) -> bool

    def __init__(self, spec, example_spec=None, examples_likely=False, default_lines=None,
                 parent=None, jobs: JobSlot | None = None):
        super().__init__(parent)
        self.spec = spec
        self.example_spec = example_spec
        self.batch = 1
        # Where files are read in the background; the run panel hands over one of its slots.
        self.jobs = jobs if jobs is not None else JobSlot()
        self._file_array: np.ndarray | None = None
        self._file_path = ""
        self._image_rgba: np.ndarray | None = None
        self._image_path = ""
        self._value: np.ndarray | None = None
        self.error: str | None = None
        self.setFrameShape(QFrame.StyledPanel)
        self.setObjectName("inputEditor")

        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(8, 6, 8, 6)
        head = QHBoxLayout()
        self.header = QLabel()
        self.header.setTextFormat(Qt.RichText)
        self.header.setText(
            f"<b>{esc(spec.key)}</b>&nbsp;&nbsp;{esc(spec.dtype_name.replace('DT_', '').lower())}"
            f"&nbsp;&nbsp;{shape_html(spec.shape)}"
            f"&nbsp;&nbsp;<span style='color:#777'>{esc(spec.name)}</span>")
        self.header.setToolTip("A highlighted -1 means “any size”; the first one is usually "
                               "the batch.")
        self.mode_combo = QComboBox()
        self.modes = feeds.fill_modes(spec, example_spec is not None)
        for m in self.modes:
            self.mode_combo.addItem(MODE_LABELS[m], m)
        head.addWidget(self.header, 1)
        head.addWidget(QLabel("Fill with:"))
        head.addWidget(self.mode_combo)
        self.layout_.addLayout(head)

        self.stack = QStackedWidget()
        self.pages: dict[str, QWidget] = {}
        self._build_generate_page()
        self._build_expr_page()
        self._build_file_page()
        self._build_image_page()
        self._build_text_page(default_lines)
        self._build_examples_page()
        body = QHBoxLayout()
        body.addWidget(self.stack, 1)
        self.preview = QLabel()
        self.preview.setFixedSize(96, 96)
        self.preview.setAlignment(Qt.AlignCenter)
        self.preview.setStyleSheet("border: 1px solid #ccc; background: #fafafa;")
        self.preview.hide()
        body.addWidget(self.preview, 0, Qt.AlignTop)
        self.layout_.addLayout(body)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.layout_.addWidget(self.status)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(120)   # validate as you type, without recomputing per key
        self._timer.timeout.connect(self._validate_slot)
        self.mode_combo.currentIndexChanged.connect(self._on_mode)
        # A mode picked by hand wins over a file still being read for the previous one.
        self.mode_combo.activated.connect(self._cancel_reading)
        self._on_mode()

    # ---- pages
    def _page(self, name: str) -> QGridLayout:
        page = QWidget()
        grid = QGridLayout(page)
        grid.setContentsMargins(0, 0, 0, 0)
        self.pages[name] = page
        self.stack.addWidget(page)
        return grid

    def _build_generate_page(self) -> None:
        grid = self._page("generate")
        self.kind_combo = QComboBox()
        self.kind_combo.addItems(["uniform", "normal"])
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setPrefix("seed ")
        self.low_spin = QDoubleSpinBox()
        self.high_spin = QDoubleSpinBox()
        for s in (self.low_spin, self.high_spin):
            s.setRange(-1e9, 1e9)
            s.setDecimals(3)
        int_like = feeds.numpy_dtype(self.spec).kind in "iu"
        self.low_spin.setValue(0.0)
        self.high_spin.setValue(10.0 if int_like else 1.0)
        self.low_label = QLabel("low")
        self.high_label = QLabel("high")
        self.shape_edit = QLineEdit()
        self.shape_edit.setPlaceholderText("shape: automatic")
        self.shape_edit.setToolTip("Leave empty: the input's shape with the batch size for the "
                                   "first -1 and 1 for other -1 dims. Or type e.g. (2, 7).")
        self.shape_edit.setMaximumWidth(170)
        self.random_row = [self.kind_combo, self.seed_spin, self.low_label, self.low_spin,
                           self.high_label, self.high_spin]
        for i, w in enumerate(self.random_row):
            grid.addWidget(w, 0, i)
        grid.addWidget(self.shape_edit, 0, len(self.random_row))
        grid.setColumnStretch(len(self.random_row) + 1, 1)
        for w in (self.seed_spin, self.low_spin, self.high_spin):
            w.valueChanged.connect(self._schedule)
        self.kind_combo.currentIndexChanged.connect(self._on_kind)
        self.shape_edit.textChanged.connect(self._schedule)

    def _on_kind(self) -> None:
        normal = self.kind_combo.currentText() == "normal"
        self.low_label.setText("mean" if normal else "low")
        self.high_label.setText("std" if normal else "high")
        self._schedule()

    def _build_expr_page(self) -> None:
        grid = self._page("expr")
        self.expr_edit = QLineEdit()
        self.expr_edit.setPlaceholderText("a Python literal or np.ones((1, 4)), np.arange(12)"
                                          ".reshape… is not allowed; np.linspace(0, 1, 4) is")
        self.expr_edit.setToolTip("Python literals ([[1, 2]], 'text', b'bytes') and "
                                  "np.ones/zeros/full/arange/linspace/eye/array/random.*: "
                                  "parsed, never evaluated.")
        self.expr_edit.textChanged.connect(self._schedule)
        grid.addWidget(self.expr_edit, 0, 0)

    def _build_file_page(self) -> None:
        grid = self._page("file")
        self.file_label = QLabel("no file")
        self.file_label.setStyleSheet("color: #555;")
        browse = QPushButton("Load .npy/.npz…")
        browse.clicked.connect(self._ask_file)
        self.member_combo = QComboBox()
        self.member_combo.hide()
        self.member_combo.currentIndexChanged.connect(self._on_member)
        grid.addWidget(browse, 0, 0)
        grid.addWidget(self.member_combo, 0, 1)
        grid.addWidget(self.file_label, 0, 2)
        grid.setColumnStretch(2, 1)
        self._npz_members: dict[str, np.ndarray] = {}

    def _build_image_page(self) -> None:
        grid = self._page("image")
        browse = QPushButton("Load image…")
        browse.clicked.connect(self._ask_image)
        self.scaling_combo = QComboBox()
        for s in SCALINGS:
            self.scaling_combo.addItem(f"values {s}", s)
        self.scaling_combo.setCurrentIndex(1)
        self.scaling_combo.setToolTip("Many models expect pixels in [0,1] or [-1,1] "
                                      "(MobileNet: [-1,1]); [0,255] feeds them unchanged.")
        self.scaling_combo.currentIndexChanged.connect(self._schedule)
        self.image_label = QLabel("no image: PNG or JPEG, resized to the input's size")
        self.image_label.setStyleSheet("color: #555;")
        grid.addWidget(browse, 0, 0)
        grid.addWidget(self.scaling_combo, 0, 1)
        grid.addWidget(self.image_label, 0, 2)
        grid.setColumnStretch(2, 1)

    def _build_text_page(self, default_lines) -> None:
        grid = self._page("text")
        self.text_edit = QPlainTextEdit()
        self.text_edit.setPlaceholderText("one string per line")
        self.text_edit.setMaximumHeight(90)
        # The text the editor started with: replaced by better defaults only while untouched.
        self._default_text = "\n".join(default_lines or [])
        if default_lines:
            self.text_edit.setPlainText(self._default_text)
        self.text_edit.textChanged.connect(self._schedule)
        grid.addWidget(self.text_edit, 0, 0)

    def _build_examples_page(self) -> None:
        grid = self._page("examples")
        if self.example_spec is None:
            self.example_form = None
            return
        self.example_form = ExampleForm(self.example_spec)
        self.example_form.changed.connect(self._schedule)
        grid.addWidget(self.example_form, 0, 0)

    # ---- mode
    @property
    def mode(self) -> str:
        return self.mode_combo.currentData()

    def set_mode(self, mode: str) -> None:
        i = self.mode_combo.findData(mode)
        if i < 0:
            raise InputError(f"input '{self.spec.key}' cannot be filled with {mode}")
        self.mode_combo.setCurrentIndex(i)
        self._on_mode()

    def _on_mode(self) -> None:
        mode = self.mode
        page = "generate" if mode in GENERATED else mode
        self.stack.setCurrentWidget(self.pages[page])
        for w in self.random_row:
            w.setVisible(mode == "random")
        self.validate()

    def set_batch(self, batch: int) -> None:
        self.batch = batch
        if self.example_form is not None and self.mode == "examples":
            self.example_form.set_rows(batch)
        self._schedule()

    def offer_default_lines(self, lines) -> None:
        """Start the text with ``lines`` (words from the model's vocabulary, found after the
        editor was made) unless the text was typed, restored or loaded meanwhile."""
        if self.text_edit.toPlainText() != self._default_text:
            return
        self._default_text = "\n".join(lines)
        self.text_edit.setPlainText(self._default_text)

    # ---- loading: in the background when chosen in a dialog, at once when called
    def _ask_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Load a value for “{self.spec.key}”", "",
                                              "NumPy arrays (*.npy *.npz);;All files (*)")
        if path:
            self.read_file(path)

    def _ask_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Load an image for “{self.spec.key}”", "",
                                              "Images (*.png *.jpg *.jpeg *.bmp *.gif);;"
                                              "All files (*)")
        if path:
            self.read_image(path)

    def _confirm_pickle(self, path: str) -> bool:
        if InputEditor.confirm_pickle is not None:
            return InputEditor.confirm_pickle(self, path)
        answer = QMessageBox.warning(
            self, "Load a pickled array?",
            f"{Path(path).name} holds Python objects (a pickle). Loading a pickle can run "
            "any code its author put in it. Load it only if you trust where it came from.",
            QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Yes

    def _cancel_reading(self) -> None:
        self.jobs.cancel()

    def is_reading(self) -> bool:
        return self.jobs.is_busy()

    def load_file(self, path, member: str | None = None) -> None:
        """Use an array from a .npy or .npz file (pickles only after a confirmation), read
        now: for the command line and scripts; the window reads with ``read_file``."""
        self.jobs.cancel()
        path = str(path)
        try:
            loaded = feeds.read_array_file(path)
        except feeds.PickledArray:
            if not self._confirm_pickle(path):
                raise
            loaded = feeds.read_array_file(path, allow_pickle=True)
        self._use_file(path, loaded, member)

    def read_file(self, path, member: str | None = None, quiet: bool = False) -> Worker:
        """``load_file`` with the reading in a worker; what goes wrong shows under the field
        (nothing with ``quiet``)."""
        path = str(path)
        if not quiet:
            self._set_busy(f"reading {Path(path).name}…")
        return self.jobs.submit(
            _read_array, path, False, label=f"Reading {Path(path).name}",
            on_result=lambda loaded: self._use_file(path, loaded, member),
            on_error=lambda exc: self._file_refused(path, member, quiet, exc))

    def _file_refused(self, path: str, member: str | None, quiet: bool, exc) -> None:
        if isinstance(exc, feeds.PickledArray) and self._confirm_pickle(path):
            self.jobs.submit(_read_array, path, True, label=f"Reading {Path(path).name}",
                             on_result=lambda loaded: self._use_file(path, loaded, member),
                             on_error=lambda exc: self._reading_failed(quiet, exc))
            return
        self._reading_failed(quiet, exc)

    def _reading_failed(self, quiet: bool, exc) -> None:
        if not quiet:
            self._set_error(error_message(exc))

    def _use_file(self, path: str, loaded, member: str | None) -> None:
        if isinstance(loaded, dict):
            self._npz_members = loaded
            self.member_combo.blockSignals(True)
            self.member_combo.clear()
            self.member_combo.addItems(list(loaded))
            names = list(loaded)
            pick = member if member in loaded else (
                self.spec.key if self.spec.key in loaded else names[0])
            self.member_combo.setCurrentText(pick)
            self.member_combo.blockSignals(False)
            self.member_combo.setVisible(len(loaded) > 1)
            self._file_array = loaded[pick]
        else:
            self._npz_members = {}
            self.member_combo.hide()
            self._file_array = loaded
        self._file_path = path
        self.file_label.setText(Path(path).name)
        self.set_mode("file")

    def _on_member(self) -> None:
        name = self.member_combo.currentText()
        if name in self._npz_members:
            self._file_array = self._npz_members[name]
            self._schedule()

    def set_array(self, array, label: str = "array") -> None:
        """Use this exact array (from a saved .npz of inputs, or a test)."""
        self.jobs.cancel()
        self._file_array = np.asarray(array)
        self._npz_members = {}
        self.member_combo.hide()
        self._file_path = ""
        self.file_label.setText(label)
        self.set_mode("file")

    def _check_image_input(self) -> None:
        if "image" not in self.modes:
            raise InputError(f"input '{self.spec.key}' is not shaped like an image")

    def load_image(self, path) -> None:
        """Use a PNG/JPEG picture, resized to the input's height and width, decoded now (the
        window decodes with ``read_image``)."""
        self.jobs.cancel()
        self._check_image_input()
        self._use_image(str(path), read_image_rgba(path))

    def read_image(self, path, quiet: bool = False) -> Worker | None:
        """``load_image`` with the decoding in a worker; what goes wrong shows under the field
        (nothing with ``quiet``)."""
        path = str(path)
        try:
            self._check_image_input()
        except InputError as exc:
            self._reading_failed(quiet, exc)
            return None
        if not quiet:
            self._set_busy(f"reading {Path(path).name}…")
        return self.jobs.submit(_read_image, path, label=f"Reading {Path(path).name}",
                                on_result=lambda rgba: self._use_image(path, rgba),
                                on_error=lambda exc: self._reading_failed(quiet, exc))

    def _use_image(self, path: str, rgba: np.ndarray) -> None:
        self._image_rgba = rgba
        self._image_path = path
        h, w = rgba.shape[:2]
        self.image_label.setText(f"{Path(path).name}  ({w}×{h})")
        self.set_mode("image")

    def set_text_lines(self, lines) -> None:
        self.jobs.cancel()
        self.text_edit.setPlainText("\n".join(lines))
        self.set_mode("text")

    # ---- value
    def _schedule(self) -> None:
        self._timer.start()

    def value(self) -> np.ndarray:
        """The value to feed (checked against the input's dtype and shape); InputError if bad."""
        raw = self._raw_value()
        return feeds.check_value(self.spec, raw)

    def _raw_value(self):
        mode = self.mode
        dtype = feeds.numpy_dtype(self.spec)
        if mode in GENERATED:
            shape = self._generate_shape()
            return feeds.generate(mode, shape, dtype, self.seed_spin.value(),
                                  self.low_spin.value(), self.high_spin.value(),
                                  self.kind_combo.currentText() == "normal")
        if mode == "expr":
            return feeds.expression_value(self.expr_edit.text(), dtype, self.spec.key)
        if mode == "file":
            if self._file_array is None:
                raise InputError("choose a .npy or .npz file")
            return feeds.file_value(self._file_array, dtype)
        if mode == "image":
            if self._image_rgba is None:
                raise InputError("choose an image file")
            return image_to_input(self._image_rgba, self.spec.shape, dtype,
                                  self.scaling_combo.currentData(), self.batch)
        if mode == "text":
            return feeds.text_value(self.text_edit.toPlainText(), self.spec.shape)
        if mode == "examples":
            return self.example_form.examples()
        raise InputError(f"unknown mode {mode}")

    def _generate_shape(self) -> tuple[int, ...]:
        text = self.shape_edit.text().strip()
        if not text:
            return feeds.concrete_shape(self.spec.shape, self.batch)
        return feeds.parse_shape(text)

    def _validate_slot(self) -> None:
        # Qt slots return nothing: PySide6 mishandles the refcount of a returned bool.
        self.validate()

    def validate(self) -> bool:
        """Recompute the value; show it (or the reason it is refused) under the field."""
        self._timer.stop()
        try:
            self._value = self.value()
        except TensorloupeError as exc:
            self._value = None
            self._set_error(exc.message)
            self.changed.emit()
            return False
        self.error = None
        v = self._value
        shape = "×".join(str(d) for d in v.shape) or "scalar"
        dt = "string" if v.dtype.kind == "O" else str(v.dtype)
        self.status.setText(f"✓ {dt} {shape}")
        self.status.setStyleSheet("color: #2e7d32;")
        self._update_preview(v)
        self.changed.emit()
        return True

    def _set_error(self, message: str) -> None:
        self.error = message
        self.status.setText("✗ " + message)
        self.status.setStyleSheet("color: #b00020;")
        self.preview.hide()

    def _set_busy(self, message: str) -> None:
        self.status.setText(message)
        self.status.setStyleSheet("color: #555;")

    def _update_preview(self, v: np.ndarray) -> None:
        pix = array_pixmap(feeds.image_slice(v), 96) if image_layout(self.spec.shape) else None
        if pix is None:
            self.preview.hide()
        else:
            self.preview.setPixmap(pix)
            self.preview.show()

    def current_value(self) -> np.ndarray | None:
        return self._value

    # ---- remembering
    def state(self) -> dict:
        s = {"mode": self.mode, "seed": self.seed_spin.value(), "low": self.low_spin.value(),
             "high": self.high_spin.value(), "kind": self.kind_combo.currentText(),
             "shape": self.shape_edit.text(), "expr": self.expr_edit.text(),
             "text": self.text_edit.toPlainText(), "scaling": self.scaling_combo.currentData(),
             "file": self._file_path, "image": self._image_path}
        if self.example_form is not None:
            s["examples"] = self.example_form.rows_text()
        return s

    def restore(self, s: dict) -> None:
        """Bring back a remembered state; files are read in the background, and those that
        are gone or unreadable now are skipped quietly."""
        self.seed_spin.setValue(int(s.get("seed", 0)))
        self.low_spin.setValue(float(s.get("low", self.low_spin.value())))
        self.high_spin.setValue(float(s.get("high", self.high_spin.value())))
        self.kind_combo.setCurrentText(str(s.get("kind", "uniform")))
        self.shape_edit.setText(str(s.get("shape", "")))
        self.expr_edit.setText(str(s.get("expr", "")))
        if s.get("text"):
            self.text_edit.setPlainText(str(s["text"]))
        i = self.scaling_combo.findData(s.get("scaling"))
        if i >= 0:
            self.scaling_combo.setCurrentIndex(i)
        if self.example_form is not None and isinstance(s.get("examples"), list):
            self.example_form.set_rows_text([r for r in s["examples"] if isinstance(r, dict)])
        mode = s.get("mode")
        try:
            if mode == "file" and s.get("file"):
                self.read_file(s["file"], quiet=True)
            elif mode == "image" and s.get("image"):
                self.read_image(s["image"], quiet=True)
            elif mode in self.modes and mode not in ("file", "image"):
                self.set_mode(mode)
        except TensorloupeError:
            pass
