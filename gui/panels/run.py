"""Run a signature in the window: edit its inputs, run it in the background, look at its outputs.

The panel is the signature panel with three tabs: "Signature" (the inputs/outputs table and
the explanation, unchanged), "Run" (one editor per input, Run/Cancel, the outputs with views
chosen by what they mean, save/copy, a history of runs and their differences) and "Trace"
(every node the run executed, see ``trace.py``).

Inputs are built on the UI thread (they are small, typed by a person); the run itself goes to
a worker and can be cancelled between any two nodes.
"""
from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDoubleSpinBox, QFileDialog, QFrame,
                               QGridLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QMessageBox, QPlainTextEdit, QProgressBar, QPushButton,
                               QScrollArea, QSpinBox, QSplitter, QStackedWidget, QTableWidget,
                               QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from tensorloupe.core import dtypes, safe_expr
from tensorloupe.core.errors import InputError, TensorloupeError
from tensorloupe.core.example_spec import (build_examples, find_example_specs, looks_like_examples,
                               parse_values)
from tensorloupe.core.image_input import SCALINGS, image_layout, image_to_input
from tensorloupe.core.stats import Cancelled

from .. import nodes as N
from ..workers import Worker, run_in_background
from .base import esc
from .signature import CLASSIFY, INIT_OP, SignaturePanel
from .tensor import TensorPanel

MAX_HISTORY = 8
TOP_K = 5
TRACE_VALUE_BUDGET = 512 << 20   # intermediate tensors kept for the trace tab, in bytes
ACCENT = "#b35900"

# Input modes: (name, label)
GENERATED = ("random", "zeros", "ones")
MODE_LABELS = {
    "random": "Random", "zeros": "Zeros", "ones": "Ones", "expr": "Expression",
    "file": "File (.npy/.npz)", "image": "Image file", "text": "Text lines",
    "examples": "tf.Example form",
}


# ---------------------------------------------------------------- small pure helpers

def shape_html(shape) -> str:
    """A TensorInfo shape with its -1 (any size) dims highlighted."""
    if shape is None:
        return f"<span style='color:{ACCENT}'>unknown rank</span>"
    parts = [f"<b style='color:{ACCENT}'>-1</b>" if d is None or d < 0 else str(d)
             for d in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def concrete_shape(shape, batch: int) -> tuple[int, ...]:
    """The spec's shape with the first -1 dim set to ``batch`` and other -1 dims to 1."""
    if shape is None:
        return (batch,)
    out = []
    for i, d in enumerate(shape):
        if d is None or d < 0:
            out.append(batch if i == 0 else 1)
        else:
            out.append(int(d))
    return tuple(out)


def is_string(spec) -> bool:
    return dtypes.base(spec.dtype) == dtypes.DT["DT_STRING"]


def numpy_dtype(spec) -> np.dtype:
    if is_string(spec):
        return np.dtype(object)
    return np.dtype(dtypes.to_numpy(spec.dtype))


def check_value(spec, value) -> np.ndarray:
    """``value`` converted to the input's dtype with its shape checked (InputError if not)."""
    from tensorloupe.core.engine.session import check_shape, to_array
    arr = to_array(value, spec.dtype or None, spec.key)
    if spec.shape is not None:
        check_shape(arr, spec.shape, spec.key)
    return arr


def generate(kind: str, shape, dtype: np.dtype, seed: int = 0, low: float = 0.0,
             high: float = 1.0, normal: bool = False) -> np.ndarray:
    """zeros / ones / random values (uniform in [low, high) or normal(low, high))."""
    n = 1
    for d in shape:
        n *= int(d)
    if n > safe_expr.MAX_ELEMENTS:
        raise InputError(f"{n} values are too many to generate (limit "
                         f"{safe_expr.MAX_ELEMENTS})")
    if dtype.kind == "O":
        return np.full(shape, b"", dtype=object)
    if kind == "zeros":
        return np.zeros(shape, dtype)
    if kind == "ones":
        return np.ones(shape, dtype)
    rng = np.random.default_rng(seed)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        lo, hi = int(np.floor(low)), int(np.ceil(high))
        if hi <= lo:
            hi = lo + 1
        return rng.integers(lo, hi, size=shape).astype(dtype)
    if normal:
        return rng.normal(low, high, size=shape).astype(dtype)
    return rng.uniform(low, high, size=shape).astype(dtype)


def qimage_rgba(image: QImage) -> np.ndarray:
    """A QImage's pixels as an H x W x 4 uint8 RGBA array (a copy)."""
    img = image.convertToFormat(QImage.Format_RGBA8888)
    h, w = img.height(), img.width()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * h)
    return buf.reshape(h, img.bytesPerLine())[:, :w * 4].reshape(h, w, 4).copy()


def array_pixmap(arr: np.ndarray, max_side: int = 160) -> QPixmap | None:
    """A preview of an H x W x C (C in 1, 3, 4) array, min-max scaled to 0..255."""
    a = np.asarray(arr)
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4) or a.dtype.kind not in "fiub":
        return None
    a = a.astype(np.float32)
    finite = np.isfinite(a)
    if not finite.any():
        return None
    lo, hi = float(a[finite].min()), float(a[finite].max())
    if a.dtype.kind in "iu" or (lo >= 0 and hi <= 255 and hi > 1.5):
        lo, hi = 0.0, 255.0
    scaled = np.zeros_like(a) if hi <= lo else (np.nan_to_num(a) - lo) / (hi - lo) * 255.0
    u8 = np.clip(scaled, 0, 255).astype(np.uint8)
    if u8.shape[2] == 1:
        u8 = np.repeat(u8, 3, axis=2)
    if u8.shape[2] == 3:
        u8 = np.concatenate([u8, np.full(u8.shape[:2] + (1,), 255, np.uint8)], axis=2)
    u8 = np.ascontiguousarray(u8)
    h, w = u8.shape[:2]
    img = QImage(u8.data, w, h, w * 4, QImage.Format_RGBA8888).copy()
    pix = QPixmap.fromImage(img)
    side = max(h, w)
    if side != max_side:
        mode = Qt.FastTransformation if side < max_side else Qt.SmoothTransformation
        pix = pix.scaled(max_side, max_side, Qt.KeepAspectRatio, mode)
    return pix


def image_slice(arr: np.ndarray) -> np.ndarray | None:
    """The first example of an image-shaped array as H x W x C, or None."""
    a = np.asarray(arr)
    if a.ndim == 4 and a.shape[0] >= 1:
        a = a[0]
    if a.ndim != 3 or a.dtype.kind not in "fiub":
        return None
    if a.shape[2] in (1, 3, 4) and a.shape[0] >= 4 and a.shape[1] >= 4:
        return a
    if a.shape[0] in (1, 3, 4) and a.shape[1] >= 4 and a.shape[2] >= 4:
        return np.transpose(a, (1, 2, 0))
    return None


def storable(arr: np.ndarray) -> np.ndarray:
    """Object (string) arrays as fixed-width bytes, so that .npy/.npz never need pickle."""
    a = np.asarray(arr)
    if a.dtype.kind == "O":
        flat = [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in a.reshape(-1)]
        width = max([len(v) for v in flat] + [1])
        return np.array(flat, dtype=f"S{width}").reshape(a.shape)
    return a


def _cell_text(v) -> str:
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def array_text(key: str, arr) -> str:
    """``saved_model_cli run``'s way of printing one output."""
    with np.printoptions(threshold=2000):
        return f"Result for output key {key}:\n{np.asarray(arr)}"


def difference(a, b) -> tuple[np.ndarray | None, str]:
    """(a - b, one-line summary) for two outputs of different runs."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return None, f"shapes differ: {a.shape} vs {b.shape}"
    if a.dtype.kind in "OSU" or b.dtype.kind in "OSU":
        same = int(np.sum(storable(a) == storable(b)))
        return None, f"{same} of {a.size} strings equal"
    if a.dtype.kind == "b":
        a, b = a.astype(np.int8), b.astype(np.int8)
    d = a.astype(np.float64) - b.astype(np.float64)
    if d.size == 0:
        return d, "empty"
    ad = np.abs(d)
    finite = ad[np.isfinite(ad)]
    same_nan = np.isnan(a.astype(np.float64)) & np.isnan(b.astype(np.float64))
    changed = int(np.count_nonzero((d != 0) & ~same_nan))
    if finite.size == 0:
        return d, f"no finite differences; {changed} of {d.size} values differ"
    return d, f"max |Δ| {finite.max():.4g}, mean |Δ| {finite.mean():.4g}, " \
              f"{changed} of {d.size} values differ"


# ---------------------------------------------------------------- tf.Example form

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


# ---------------------------------------------------------------- one input

class InputEditor(QFrame):
    """The editor of one signature input: how to fill it, and whether the value is valid."""

    changed = Signal()

    confirm_pickle = None   # tests replace it: callable(parent, path) -> bool

    def __init__(self, spec, example_spec=None, examples_likely=False, default_lines=None,
                 parent=None):
        super().__init__(parent)
        self.spec = spec
        self.example_spec = example_spec
        self.batch = 1
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
        self.modes = self._modes(examples_likely)
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
        self._on_mode()

    # ---- pages
    def _modes(self, examples_likely: bool) -> list[str]:
        if is_string(self.spec):
            modes = ["text", "expr", "file"]
            if self.example_spec is not None:
                modes.insert(0, "examples")
            return modes
        modes = ["random", "zeros", "ones", "expr", "file"]
        if image_layout(self.spec.shape) is not None and numpy_dtype(self.spec).kind in "fiu":
            modes.append("image")
        return modes

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
        int_like = numpy_dtype(self.spec).kind in "iu"
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
        if default_lines:
            self.text_edit.setPlainText("\n".join(default_lines))
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

    # ---- loading
    def _ask_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Load a value for “{self.spec.key}”", "",
                                              "NumPy arrays (*.npy *.npz);;All files (*)")
        if path:
            self.show_error_of(self.load_file, path)

    def _ask_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Load an image for “{self.spec.key}”", "",
                                              "Images (*.png *.jpg *.jpeg *.bmp *.gif);;"
                                              "All files (*)")
        if path:
            self.show_error_of(self.load_image, path)

    def show_error_of(self, fn, *args) -> None:
        try:
            fn(*args)
        except TensorloupeError as exc:
            self._set_error(exc.message)

    def _confirm_pickle(self, path: str) -> bool:
        if InputEditor.confirm_pickle is not None:
            return InputEditor.confirm_pickle(self, path)
        answer = QMessageBox.warning(
            self, "Load a pickled array?",
            f"{Path(path).name} holds Python objects (a pickle). Loading a pickle can run "
            "any code its author put in it. Load it only if you trust where it came from.",
            QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Yes

    def load_file(self, path, member: str | None = None) -> None:
        """Use an array from a .npy or .npz file (pickles only after a confirmation)."""
        path = str(path)
        try:
            loaded = self._np_load(path, allow_pickle=False)
        except ValueError as exc:
            if "pickle" not in str(exc):
                raise InputError(f"{Path(path).name} is not a NumPy array file ({exc})") \
                    from None
            if not self._confirm_pickle(path):
                raise InputError(f"{Path(path).name} holds pickled objects; not loaded "
                                 "without your consent") from None
            loaded = self._np_load(path, allow_pickle=True)
        if isinstance(loaded, dict):
            if not loaded:
                raise InputError(f"{Path(path).name} holds no arrays")
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

    @staticmethod
    def _np_load(path: str, allow_pickle: bool):
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise InputError(f"cannot read {path} ({exc.strerror or exc})") from None
        # numpy treats anything that is not .npy/.npz as a pickle: only accept real pickles.
        if not data.startswith((b"\x93NUMPY", b"PK\x03\x04", b"\x80")):
            raise InputError(f"{Path(path).name} is not a NumPy array file (.npy or .npz)")
        try:
            obj = np.load(io.BytesIO(data), allow_pickle=allow_pickle)
            if isinstance(obj, np.lib.npyio.NpzFile):
                with obj:
                    return {k: obj[k] for k in obj.files}
        except ValueError:
            raise
        except Exception as exc:  # noqa: BLE001 - zip, pickle and format errors alike
            raise InputError(f"{Path(path).name} is not a readable NumPy array file "
                             f"({type(exc).__name__}: {exc})") from None
        return obj

    def _on_member(self) -> None:
        name = self.member_combo.currentText()
        if name in self._npz_members:
            self._file_array = self._npz_members[name]
            self._schedule()

    def set_array(self, array, label: str = "array") -> None:
        """Use this exact array (from a saved .npz of inputs, or a test)."""
        self._file_array = np.asarray(array)
        self._npz_members = {}
        self.member_combo.hide()
        self._file_path = ""
        self.file_label.setText(label)
        self.set_mode("file")

    def load_image(self, path) -> None:
        """Use a PNG/JPEG picture, resized to the input's height and width."""
        if "image" not in self.modes:
            raise InputError(f"input '{self.spec.key}' is not shaped like an image")
        image = QImage(str(path))
        if image.isNull():
            raise InputError(f"{Path(path).name} is not an image Qt can read (PNG, JPEG, BMP, "
                             "GIF)")
        self._image_rgba = qimage_rgba(image)
        self._image_path = str(path)
        h, w = self._image_rgba.shape[:2]
        self.image_label.setText(f"{Path(path).name}  ({w}×{h})")
        self.set_mode("image")

    def set_text_lines(self, lines) -> None:
        self.text_edit.setPlainText("\n".join(lines))
        self.set_mode("text")

    # ---- value
    def _schedule(self) -> None:
        self._timer.start()

    def value(self) -> np.ndarray:
        """The value to feed (checked against the input's dtype and shape); InputError if bad."""
        raw = self._raw_value()
        return check_value(self.spec, raw)

    def _raw_value(self):
        mode = self.mode
        dtype = numpy_dtype(self.spec)
        if mode in GENERATED:
            shape = self._generate_shape()
            return generate(mode, shape, dtype, self.seed_spin.value(), self.low_spin.value(),
                            self.high_spin.value(), self.kind_combo.currentText() == "normal")
        if mode == "expr":
            text = self.expr_edit.text()
            if not text.strip():
                raise InputError("type a value, e.g. [[1.0, 2.0]] or np.ones((1, 4))")
            value = safe_expr.parse(text)
            if dtype.kind != "O" and np.asarray(value).dtype.kind in "fiub" and \
                    np.asarray(value).dtype != dtype:
                value = _cast_checked(np.asarray(value), dtype, self.spec.key)
            return value
        if mode == "file":
            if self._file_array is None:
                raise InputError("choose a .npy or .npz file")
            arr = self._file_array
            if arr.dtype.kind == "O" and dtype.kind != "O":
                try:   # a pickled array of Python numbers
                    arr = arr.astype(dtype)
                except (TypeError, ValueError):
                    raise InputError(f"the array holds objects that are not {dtype} "
                                     "values") from None
            return arr
        if mode == "image":
            if self._image_rgba is None:
                raise InputError("choose an image file")
            return image_to_input(self._image_rgba, self.spec.shape, dtype,
                                  self.scaling_combo.currentData(), self.batch)
        if mode == "text":
            lines = self.text_edit.toPlainText().split("\n")
            if lines and lines[-1] == "":
                lines = lines[:-1]
            arr = np.empty(len(lines), dtype=object)
            arr[:] = [s.encode("utf-8") for s in lines]
            shape = self.spec.shape
            if shape is not None and len(shape) == 0:
                if len(lines) != 1:
                    raise InputError("this input is a single string: type exactly one line")
                return arr.reshape(())
            if shape is not None and len(shape) == 2 and (shape[1] is None or shape[1] < 0
                                                          or shape[1] == 1):
                return arr.reshape(-1, 1)
            return arr
        if mode == "examples":
            return self.example_form.examples()
        raise InputError(f"unknown mode {mode}")

    def _generate_shape(self) -> tuple[int, ...]:
        text = self.shape_edit.text().strip()
        if not text:
            return concrete_shape(self.spec.shape, self.batch)
        value = safe_expr.parse_literal(text)
        if isinstance(value, int):
            value = (value,)
        if not isinstance(value, (tuple, list)) or not all(
                isinstance(d, int) and d >= 0 for d in value):
            raise InputError(f"shape {text!r} must be a tuple of sizes such as (2, 7)")
        return tuple(value)

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

    def _update_preview(self, v: np.ndarray) -> None:
        pix = array_pixmap(image_slice(v), 96) if image_layout(self.spec.shape) else None
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
        """Bring back a remembered state; files that are gone are skipped quietly."""
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
            if mode == "file" and s.get("file") and Path(s["file"]).is_file():
                self.load_file(s["file"])
            elif mode == "image" and s.get("image") and Path(s["image"]).is_file():
                self.load_image(s["image"])
            elif mode in self.modes and mode not in ("file", "image"):
                self.set_mode(mode)
        except TensorloupeError:
            pass


def _cast_checked(value: np.ndarray, dtype: np.dtype, key: str) -> np.ndarray:
    if dtype.kind in "iu" and value.dtype.kind == "f":
        if not np.all(np.isfinite(value)) or not np.all(value == np.round(value)):
            raise InputError(f"input '{key}' wants whole numbers ({dtype}); the value has "
                             "fractions")
    if dtype.kind == "b" and value.dtype.kind != "b":
        raise InputError(f"input '{key}' wants True/False values")
    return value.astype(dtype)


# ---------------------------------------------------------------- output views

class ScoreChart(pg.PlotWidget):
    """A bar chart of one score vector: the top-k bars highlighted and labelled."""

    def __init__(self, parent=None):
        super().__init__(parent, background="w")
        self.setMinimumHeight(200)
        self.plotItem.showGrid(y=True, alpha=0.3)
        self.plotItem.setMenuEnabled(False)
        self.plotItem.hideButtons()
        self.getViewBox().setMouseEnabled(x=True, y=False)
        self.labels: list[str] = []
        self.top: list[int] = []

    def set_scores(self, scores: np.ndarray, labels: list[str] | None, k: int = TOP_K,
                   title: str = "") -> None:
        self.clear()
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        n = len(s)
        self.labels = list(labels) if labels is not None and len(labels) == n else \
            [str(i) for i in range(n)]
        finite = np.where(np.isfinite(s), s, -np.inf)
        self.top = [int(i) for i in np.argsort(-finite, kind="stable")[:min(k, n)]]
        colours = [pg.mkBrush("#e07b00") if i in self.top else pg.mkBrush("#9db4cc")
                   for i in range(n)]
        x = np.arange(n)
        self.addItem(pg.BarGraphItem(x=x, height=np.nan_to_num(s), width=0.8, brushes=colours,
                                     pen=pg.mkPen(None)))
        axis = self.getAxis("bottom")
        if n <= 20:
            axis.setTicks([[(i, self.labels[i]) for i in range(n)]])
        else:
            axis.setTicks([[(i, self.labels[i]) for i in sorted(self.top)]])
        named = labels is not None and len(labels) == n
        for rank, i in enumerate(self.top):
            head = self.labels[i] if named else f"#{rank + 1}"
            text = pg.TextItem(f"{head}\n{s[i]:.3g}", color="#7a3d00", anchor=(0.5, 1.0))
            text.setPos(i, max(float(np.nan_to_num(s[i])), 0.0))
            self.addItem(text)
        ok = s[np.isfinite(s)]
        lo = min(0.0, float(ok.min())) if ok.size else 0.0
        hi = max(0.0, float(ok.max())) if ok.size else 1.0
        if ok.size < n:
            title += f"  ({n - ok.size} NaN/Inf not drawn)"
        span = (hi - lo) or 1.0
        self.setYRange(lo, hi + 0.28 * span, padding=0)
        self.setXRange(-0.6, n - 0.4, padding=0)
        self.setTitle(title, color="#333", size="10pt")


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


class OutputsView(QWidget):
    """The outputs of one run: pick a key; chart/image by meaning, the tensor panel, the
    difference with an earlier run."""

    def __init__(self, parent=None):
        super().__init__(parent)
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

    def set_signature(self, signature, vocabulary) -> None:
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
        columns = [(f"in: {k}", v) for k, v in result.inputs.items()] + \
            [(k, v) for k, v in result.outputs.items()]
        arrays = []
        batch = None
        for name, v in columns:
            a = np.asarray(v)
            if a.ndim == 0 or a.ndim > 2 or (a.ndim == 2 and a.shape[1] > 8):
                return False
            if batch is None:
                batch = a.shape[0]
            if a.shape[0] != batch:
                return False
            arrays.append((name, a))
        if not arrays or not batch or batch > 10_000:
            return False
        self.overview.clear()
        self.overview.setColumnCount(len(arrays))
        self.overview.setRowCount(batch)
        self.overview.setHorizontalHeaderLabels([n for n, _ in arrays])
        for c, (name, a) in enumerate(arrays):
            for r in range(batch):
                row = a[r]
                vals = row.reshape(-1) if isinstance(row, np.ndarray) else [row]
                text = ", ".join(_cell_text(v) for v in vals)
                item = QTableWidgetItem(text)
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
    def meaning_kind(self, key: str):
        """("scores", labels-per-row or None) / ("image", None) / (None, None)."""
        if self.result is None or key not in self.result.outputs:
            return None, None
        arr = np.asarray(self.result.outputs[key])
        method = getattr(self.signature, "method_name", "") or ""
        outs = self.result.outputs
        if arr.dtype.kind == "f":
            if image_slice(arr) is not None and arr.ndim in (3, 4):
                return "image", None
            scoreish = (arr.ndim == 2 and (arr.shape[1] >= 2 or method == CLASSIFY)) or (
                arr.ndim == 1 and arr.shape[0] >= 2 and self._declared_rank(key) == 1
                and not self._declared_batch(key))
            if scoreish:
                labels = None
                classes = outs.get("classes")
                if key != "classes" and classes is not None and \
                        np.asarray(classes).shape == arr.shape:
                    labels = np.asarray(classes)
                elif self.vocabulary and len(self.vocabulary) == arr.shape[-1]:
                    labels = self.vocabulary
                return "scores", labels
        return None, None

    def _declared_rank(self, key):
        spec = self.signature.outputs.get(key) if self.signature is not None else None
        return None if spec is None or spec.shape is None else len(spec.shape)

    def _declared_batch(self, key) -> bool:
        spec = self.signature.outputs.get(key) if self.signature is not None else None
        return spec is not None and spec.shape is not None and bool(spec.shape) and \
            (spec.shape[0] is None or spec.shape[0] < 0)

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
            row_labels = None
            if labels is not None:
                la = np.asarray(labels, dtype=object)
                la = la[row] if la.ndim == 2 else la
                row_labels = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                              for v in la]
            where = f" of example {row}" if arr.ndim == 2 and arr.shape[0] > 1 else ""
            k = min(TOP_K, len(scores))
            self.tabs.setTabText(0, "Bar chart")
            self.chart.set_scores(scores, row_labels, k,
                                  f"“{key}”{where}: top {k} of {len(scores)} highlighted")
            self.meaning.setCurrentWidget(self.chart)
        else:
            img = image_slice(arr[row:row + 1] if arr.ndim == 4 else arr)
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
                _d, text = difference(self.result.outputs[key], other.outputs[key])
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
        return "\n".join(array_text(k, v) for k, v in sorted(self.result.outputs.items()))

    def copy_text(self) -> None:
        QGuiApplication.clipboard().setText(self.text())

    def _ask_save(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save outputs as <key>.npy into")
        if not folder:
            return
        try:
            written = self.save(folder, self._confirm_overwrite)
        except OSError as exc:
            QMessageBox.warning(self, "Could not save", f"Could not save the outputs: {exc}")
            return
        if written:
            QMessageBox.information(self, "Saved", f"Wrote {len(written)} file(s) to {folder}.")

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
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files = {k: folder / f"{k.replace('/', '_')}.npy" for k in self.result.outputs}
        existing = [p for p in files.values() if p.exists()]
        if existing and (confirm is None or not confirm(existing)):
            return []
        for k, p in files.items():
            np.save(p, storable(self.result.outputs[k]), allow_pickle=False)
        return list(files.values())


# ---------------------------------------------------------------- the trace recorder

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


def _run_job(ctx, saved_model, key, inputs, tags):
    from tensorloupe.core.engine.context import Cancelled as EngineCancelled
    trace = make_trace()
    t0 = time.perf_counter()
    try:
        outputs = saved_model.run_signature(key, inputs, tags=tags, trace=trace,
                                            cancel=ctx.should_stop)
    except EngineCancelled:
        raise Cancelled() from None
    seconds = time.perf_counter() - t0
    return RunResult({k: outputs[k] for k in sorted(outputs)}, seconds, trace, inputs)


# ---------------------------------------------------------------- the panel

class RunPanel(SignaturePanel):
    """The signature panel, with "Run" and "Trace" tabs beside its table."""

    name = "run"
    run_finished = Signal(object)   # RunResult
    run_failed = Signal(str)
    run_cancelled = Signal()

    _last_tab = 0   # the tab a person chose last, kept across signatures

    @classmethod
    def priority(cls, node) -> int:
        if node.kind == N.SIGNATURE and node.payload is not None:
            sig, mg = node.payload
            if sig.key != INIT_OP and getattr(mg, "saved_model", None) is not None:
                return 110
        return 0

    def __init__(self, parent=None, settings: QSettings | None | bool = False):
        super().__init__(parent)
        # ``settings``: a QSettings, None (remember nothing), or False: the window's.
        self._settings = settings
        info_page = QWidget()
        info_page.setLayout(self.layout())   # the signature panel's content, moved to a tab
        from .trace import TracePanel
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
        shortcut = QShortcut(QKeySequence("Ctrl+R"), self)
        shortcut.setContext(Qt.WidgetWithChildrenShortcut)
        shortcut.activated.connect(self._run_slot)
        self.saved_model = None
        self.meta_graph = None
        self.editors: dict[str, InputEditor] = {}
        self.history: list[RunResult] = []
        self.last_result: RunResult | None = None
        self.last_error: str | None = None
        self._worker: Worker | None = None
        self._runs = 0
        self._started = 0.0
        self._clock = QTimer(self)
        self._clock.setInterval(100)
        self._clock.timeout.connect(self._tick)

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
        self.outputs = OutputsView()
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
        sig, mg = node.payload
        same = self.meta_graph is mg and self.signature_key == sig.key
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
            self.outputs.set_signature(sig, self._vocabulary())
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
        for ed in self.editors.values():
            ed.setParent(None)
            ed.deleteLater()
        self.editors = {}
        try:
            specs = find_example_specs(mg, sig)
        except (TensorloupeError, ValueError, KeyError, IndexError):
            specs = {}
        default_lines = self._vocabulary_sample()
        remembered = self._remembered()
        for k, spec in sig.inputs.items():
            if spec.encoding != "name":
                note = QLabel(f"Input “{esc(k)}” is a sparse or composite tensor, which "
                              "running does not support yet.")
                note.setWordWrap(True)
                self.inputs_layout.insertWidget(self.inputs_layout.count() - 1, note)
                continue
            ed = InputEditor(spec, specs.get(k), looks_like_examples(k, sig), default_lines)
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

    def _vocabulary_files(self) -> list[Path]:
        sm = self.saved_model
        if sm is None:
            return []
        try:
            return [p for p in sm.assets if p.is_file() and p.stat().st_size < 2 << 20]
        except OSError:
            return []

    def _read_lines(self, path: Path) -> list[str] | None:
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return lines if lines and all(len(s) < 200 for s in lines) else None

    def _vocabulary(self) -> list[str] | None:
        """The lines of the first text asset (labels for score vectors of that length)."""
        for p in self._vocabulary_files():
            lines = self._read_lines(p)
            if lines:
                return lines
        return None

    def _vocabulary_sample(self) -> list[str]:
        vocab = self._vocabulary()
        if vocab:
            return vocab[:3] + ["tensorflow"] if "tensorflow" not in vocab else vocab[:4]
        return ["hello world", "tensorloupe"]

    # ---- inputs
    def _on_batch(self, value: int) -> None:
        for ed in self.editors.values():
            ed.set_batch(value)

    def _update_run_enabled(self) -> None:
        busy = self._worker is not None and not self._worker.is_done()
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
            return getattr(self.window(), "settings", None)
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
        values = self.input_values()
        np.savez(path, **{k: storable(v) for k, v in values.items()})

    def load_inputs(self, path) -> list[str]:
        """Fill inputs from an .npz whose member names are input keys; returns those used."""
        try:
            with np.load(str(path), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError) as exc:
            raise InputError(f"{Path(path).name} is not an .npz of inputs ({exc})") from None
        used = []
        for k, arr in arrays.items():
            if k in self.editors:
                if arr.dtype.kind == "S":
                    arr = arr.astype(object)
                self.editors[k].set_array(arr, f"{Path(path).name}[{k}]")
                used.append(k)
        if not used:
            raise InputError(f"{Path(path).name} has none of the input keys "
                             + ", ".join(self.editors))
        return used

    def _ask_save_inputs(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save inputs", "inputs.npz",
                                              "NumPy archives (*.npz)")
        if path:
            try:
                self.save_inputs(path)
            except (TensorloupeError, OSError) as exc:
                self._show_run_error(getattr(exc, "message", str(exc)))

    def _ask_load_inputs(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load inputs", "", "NumPy archives (*.npz)")
        if path:
            try:
                self.load_inputs(path)
            except TensorloupeError as exc:
                self._show_run_error(exc.message)

    # ---- running
    def _run_slot(self) -> None:
        self.run()

    def run(self) -> Worker | None:
        """Check the inputs, then run the signature in a worker. None when refused."""
        if self.saved_model is None or self.signature is None:
            return None
        if self._worker is not None and not self._worker.is_done():
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
        self._worker = run_in_background(
            _run_job, self.saved_model, self.signature.key, inputs, tags,
            label=f"Running {self.signature.key}",
            on_result=self._on_result, on_error=self._on_error)
        self._worker.cancelled.connect(self._on_cancelled)
        return self._worker

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def is_busy(self) -> bool:
        return (self._worker is not None and not self._worker.is_done()) or \
            self.outputs.tensor.is_busy() or self.trace_panel.is_busy()

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
        self.run_finished.emit(result)

    def _on_error(self, exc: Exception) -> None:
        self._finish()
        message = exc.message if isinstance(exc, TensorloupeError) else (
            str(exc) or type(exc).__name__)
        self.last_error = message
        self.time_label.setText("failed")
        self._show_run_error("The run failed: " + message)
        self.run_failed.emit(message)

    def _on_cancelled(self) -> None:
        self._finish()
        self.time_label.setText("cancelled")
        self.run_cancelled.emit()

    def _show_run_error(self, message: str) -> None:
        self.run_error.setText(message)
        self.run_error.show()


__all__ = ["RunPanel", "InputEditor", "ExampleForm", "OutputsView", "ScoreChart", "RunResult",
           "generate", "check_value", "shape_html", "difference", "storable"]


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def run_selected(window, input_files=()) -> "Worker":
    """``tensorloupe gui ... --run [--input KEY=FILE ...]``: run the selected signature, with
    inputs from files where given and default inputs elsewhere."""
    panel = window.current_panel()
    if not isinstance(panel, RunPanel) or panel.signature is None:
        raise InputError("--run needs --select to name a signature of a SavedModel, e.g. "
                         "\"serve > signatures > serving_default\"")
    for item in input_files:
        key, sep, path = item.partition("=")
        if not sep or not key or not path:
            raise InputError(f"--input expects KEY=FILE, got {item!r}")
        editor = panel.editors.get(key)
        if editor is None:
            raise InputError(f"--input: the signature has no input {key!r} "
                             f"(its inputs: {', '.join(sorted(panel.editors))})")
        if not Path(path).is_file():
            raise InputError(f"--input {key}: no such file: {path}")
        suffix = Path(path).suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            editor.load_image(path)
        elif suffix in (".npy", ".npz"):
            editor.load_file(path)
        else:
            try:
                lines = Path(path).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"--input {key}: cannot read {path} as text ({exc})") from None
            editor.set_text_lines(lines)
    panel.show_run_tab()
    worker = panel.run()
    if worker is None:
        raise InputError(panel.last_error or panel.run_error.text() or
                         "the signature could not be run")
    return worker
