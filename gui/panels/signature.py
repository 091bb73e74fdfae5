"""A signature: its inputs and outputs as a table, and what calling it means in plain words."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout)

from tensorloupe.core.saved_model import INIT_OP_SIGNATURE_KEY as INIT_OP

from .. import nodes as N
from .base import Panel, subtitle_label, title_label

PREDICT = "tensorflow/serving/predict"
CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"

COLUMNS = ("", "key", "dtype", "shape", "tensor in the graph")


def explain(key: str, method: str, inputs: dict, outputs: dict) -> str:
    """A few sentences on what calling this signature does, for someone new to TensorFlow."""
    if key == INIT_OP:
        return ("This is not a signature to call. TensorFlow runs it once when the model is "
                "loaded, to initialise lookup tables and other resources before any other "
                "signature is used.")
    shapes = " ".join(
        f"{k} is {spec.dtype_name.replace('DT_', '').lower()} shaped {spec.shape_text}."
        for k, spec in list(inputs.items())[:3])
    batch = any(spec.shape and spec.shape[0] == -1 for spec in inputs.values()
                if spec.shape is not None)
    batch_text = (" A -1 in a shape means “any size”: usually the first axis is the batch, "
                  "so several examples can be sent at once." if batch else "")
    if method == PREDICT:
        return ("Predict: send tensors under the input names below and get tensors back under "
                "the output names. This is the general kind of signature; TensorFlow Serving's "
                "Predict API (REST “:predict”) and Keras' model.predict both work this way. "
                + shapes + batch_text)
    if method == CLASSIFY:
        return ("Classify: send serialized tf.Example records (strings) under “inputs”; "
                "get back “classes” (one label per class) and/or “scores” (one number per "
                "class, higher is more likely). TensorFlow Serving's Classify API calls it."
                + batch_text)
    if method == REGRESS:
        return ("Regress: send serialized tf.Example records (strings) under “inputs”; get "
                "back one number per example under “outputs”. TensorFlow Serving's Regress "
                "API calls it." + batch_text)
    if not method:
        return "This signature names no method; treat it as a predict-style function. " + shapes
    return f"Method {method}: a custom method name; inputs and outputs are listed below. " + shapes


class SignaturePanel(Panel):
    name = "signature"

    @classmethod
    def priority(cls, node) -> int:
        return 100 if isinstance(node.payload, N.SignatureRef) else 0

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = title_label()
        self.subtitle = subtitle_label()
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.explanation.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.explanation.setStyleSheet(
            "background: #f3f7fb; border: 1px solid #d6e2ee; padding: 10px;")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        copy = QPushButton("Copy signature key")
        copy.clicked.connect(self.copy_key)
        head = QHBoxLayout()
        titles = QVBoxLayout()
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        head.addLayout(titles, 1)
        head.addWidget(copy, 0, Qt.AlignTop)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.explanation)
        layout.addWidget(self.table, 1)
        self.signature = None

    def show_node(self, node) -> None:
        sig, mg = node.payload.signature, node.payload.meta_graph
        self.signature = sig
        self.title.setText(f"Signature “{sig.key}”")
        tags = ", ".join(mg.tags) if mg is not None else ""
        self.subtitle.setText(f"method {sig.method_name or '(none)'}  ·  "
                              f"{len(sig.inputs)} input(s), {len(sig.outputs)} output(s)"
                              + (f"  ·  MetaGraphDef [{tags}]" if tags else ""))
        self.explanation.setText(explain(sig.key, sig.method_name, sig.inputs, sig.outputs))
        rows = [("input", k, s) for k, s in sig.inputs.items()] + \
               [("output", k, s) for k, s in sig.outputs.items()]
        self.table.setRowCount(len(rows))
        bold = QFont(self.table.font())
        bold.setBold(True)
        for r, (direction, key, spec) in enumerate(rows):
            tensor = spec.name
            if spec.encoding == "coo_sparse":
                c = spec.coo_sparse
                tensor = f"sparse: values {c['values']}, indices {c['indices']}, " \
                         f"dense_shape {c['dense_shape']}"
            elif spec.encoding == "composite_tensor":
                tensor = "composite: " + ", ".join(c.name for c in spec.components)
            values = (direction, key, spec.dtype_name, spec.shape_text, tensor)
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                if c == 1:
                    item.setFont(bold)
                if c == 0:
                    item.setForeground(Qt.darkGreen if direction == "input" else Qt.darkBlue)
                self.table.setItem(r, c, item)

    def copy_key(self) -> None:
        if self.signature is not None:
            QGuiApplication.clipboard().setText(self.signature.key)

    def cell(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item else ""
