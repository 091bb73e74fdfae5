"""An asset file: a text preview (up to a size limit) or a hex dump of a binary file."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QPlainTextEdit, QVBoxLayout

from tensorloupe.core import paths
from tensorloupe.core.errors import TensorloupeError
from tensorloupe.core.saved_model import MetaGraph, SavedModel
from tensorloupe.core.stats import format_bytes

from .. import nodes as N
from .base import Panel, error_label, subtitle_label, title_label

TEXT_LIMIT = 256 * 1024
HEX_LIMIT = 4096


def looks_like_text(data: bytes) -> bool:
    """UTF-8 that decodes (allowing a cut last character) with few control characters."""
    if b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(data) - 4:  # not just a character cut by the size limit
            return False
        text = data[:exc.start].decode("utf-8")
    if not text:
        return True
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    return controls / len(text) < 0.01


def hex_dump(data: bytes, start: int = 0) -> str:
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{start + off:08x}  {hexes:<47}  {text}")
    return "\n".join(lines)


def read_preview(path: Path) -> tuple[str, str, int]:
    """("text" | "hex", preview, file size). Reads at most TEXT_LIMIT bytes."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(TEXT_LIMIT)
    if looks_like_text(head):
        text = head.decode("utf-8", errors="replace")
        return "text", text, size
    return "hex", hex_dump(head[:HEX_LIMIT]), size


def owning_model(node):
    """The directory of the SavedModel a tree node belongs to (from the nearest ancestor
    showing a SavedModel or one of its MetaGraphs), or None."""
    while node is not None:
        payload = node.payload
        if isinstance(payload, SavedModel):
            return payload.path
        if isinstance(payload, MetaGraph) and payload.saved_model is not None:
            return payload.saved_model.path
        node = node.parent
    return None


def refusal(node, path) -> str | None:
    """Why core refuses to read ``path`` for the model ``node`` belongs to (it resolves
    outside the model's assets/ and assets.extra/), or None when it may be read."""
    model = owning_model(node)
    if model is None:
        return None
    try:
        paths.check_asset_file(model, path)
    except TensorloupeError as exc:
        return exc.message
    return None


class AssetPanel(Panel):
    name = "asset"

    @classmethod
    def priority(cls, node) -> int:
        return 100 if node.kind == N.ASSET else 0

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = title_label()
        self.subtitle = subtitle_label()
        self.error = error_label()
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.NoWrap)
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.Monospace)
        self.text.setFont(mono)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addWidget(self.error)
        layout.addWidget(self.text, 1)
        self.mode = ""

    def show_node(self, node) -> None:
        self.cancel_jobs()
        path: Path | None = node.payload
        self.title.setText(node.label)
        extra = "".join(f"\n{k}: {v}" for k, v in node.info if k == "asset tensor")
        self.subtitle.setText(f"{path}{extra}")
        self.text.setPlainText("")
        self.error.hide()
        self.mode = ""
        if path is None:
            self._show_error(node.error or "This asset names no file.")
            return
        refused = refusal(node, path)
        if refused or node.error:
            # core's refusal first: the tree may have stat'ed the file and written its own
            self._show_error(refused or node.error)
            return
        self.submit(lambda ctx, p: read_preview(p), path, label=f"Reading {path.name}",
                    on_result=self._on_preview, on_error=lambda exc: self._show_error(str(exc)))

    def _on_preview(self, result) -> None:
        mode, preview, size = result
        self.mode = mode
        what = "text" if mode == "text" else "binary, shown as hex"
        limit = TEXT_LIMIT if mode == "text" else HEX_LIMIT
        cut = f"; first {format_bytes(limit)} shown" if size > limit else ""
        self.subtitle.setText(self.subtitle.text().split("\n")[0] +
                              f"\n{format_bytes(size)} ({what}{cut})")
        self.text.setPlainText(preview)

    def _show_error(self, message: str) -> None:
        self.error.setText("Cannot read this asset: " + message)
        self.error.show()

