"""Render every screenshot in docs/screenshots, offscreen, from the committed fixtures.

    python docs/make_screenshots.py            # all of them
    python docs/make_screenshots.py asset run_trace_mobilenet

Each picture is one `tensorloupe gui ... --screenshot` command in a fresh process (the window as a
person opens it), except the trace, which needs a row chosen in the Trace tab after the run.
Look at every picture after rendering: this script only makes them.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
F = ROOT / "tests" / "fixtures" / "data"
MOBILENET = F / "saved_models" / "mobilenet_v2"
SERVING = "serve > signatures > serving_default"

# name -> arguments of `tensorloupe gui` (paths relative to the repository root where shown so)
SHOTS: dict[str, list[str]] = {
    "overview": [],
    "signature": [MOBILENET, "--select", SERVING],
    "tensor_heatmap": [MOBILENET, "--select", "serve > variables > Conv_1 > kernel"],
    "tensor_plot": [MOBILENET, "--select", "serve > variables > Conv_1_bn > moving_variance"],
    "checkpoint_slots": [F / "checkpoints" / "keras_adam", "--select",
                         "model > layer_with_weights-0 > kernel"],
    "checkpoint_summary": [F / "checkpoints" / "keras_adam"],
    "training_run": [F / "checkpoints" / "training_run", "--select", "ckpt-5"],
    "meta_graph": [F / "saved_models" / "half_plus_two", "--select", "serve"],
    "asset": [F / "saved_models" / "half_plus_two", "--select", "serve > assets.extra > notes.txt"],
    "frozen_graph_constant": [F / "saved_models" / "frozen_graph" / "frozen_graph.pb", "--select",
                              "nodes > Const > dense/kernel"],
    "run_mobilenet": [Path("resources/demo/mobilenet_v2"), "--select", SERVING, "--run",
                      "--input", "keras_tensor_21=resources/demo/sample.png"],
    "run_vocab_module": [F / "saved_models" / "vocab_module", "--select", SERVING, "--run"],
    "graph_mobilenet": [MOBILENET, "--select", SERVING, "--graph"],
    "graph_lstm": [F / "saved_models" / "keras_lstm", "--select", SERVING, "--graph"],
    "graph_half_plus_two": [F / "saved_models" / "half_plus_two", "--select", "serve", "--graph"],
    "compare": ["--compare", Path("tests/fixtures/data/diff/keras_run/ckpt-1"),
                Path("tests/fixtures/data/diff/keras_run/ckpt-5"),
                "--select", "model/layer_with_weights-1/kernel"],
    "compare_series": ["--compare", Path("tests/fixtures/data/diff/keras_run"),
                       "--select", "model/layer_with_weights-3/kernel"],
    "compare_variants": ["--compare", Path("tests/fixtures/data/diff/variants/base"),
                         Path("tests/fixtures/data/diff/variants/changed"),
                         "--select", "net/dense/kernel", "--size", "1300x700"],
}
SPECIAL = ("damaged_checkpoint", "run_trace_mobilenet")


def shoot(name: str, args: list) -> None:
    out = OUT / f"{name}.png"
    cmd = [sys.executable, "-m", "tensorloupe", "gui", *map(str, args), "--screenshot", str(out)]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    print(out.relative_to(ROOT))


def damaged_checkpoint() -> None:
    """keras_adam with two bytes flipped in its data file: two tensors fail their checksums."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "damaged"
        shutil.copytree(F / "checkpoints" / "keras_adam", target)
        data = next(target.glob("*.data-00000-of-00001"))
        raw = bytearray(data.read_bytes())
        for offset in (100, 110):   # inside layer_with_weights-1's beta and moving_mean
            raw[offset] ^= 0xFF
        data.write_bytes(bytes(raw))
        shoot("damaged_checkpoint", [target])


def run_trace_mobilenet() -> None:
    """The demo picture through MobileNet, then the Trace tab with one depthwise convolution
    chosen: needs a click after the run, so it drives the window from Python."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from tensorloupe.gui.app import application, save_screenshot
    from tensorloupe.gui.main_window import MainWindow
    from tensorloupe.gui.panels.run import run_selected
    from tensorloupe.gui.workers import tracker, wait_idle

    app = application()
    window = MainWindow(settings=None)
    window.resize(1400, 900)
    window.open_path(ROOT / "resources" / "demo" / "mobilenet_v2")
    window.show()
    window.select_path(["serve", "signatures", "serving_default"])
    run_selected(window, [f"keras_tensor_21={ROOT / 'resources' / 'demo' / 'sample.png'}"])
    assert wait_idle(timeout=120)
    panel = window.current_panel()
    panel.tabs.setCurrentWidget(panel.trace_panel)
    stack, item = [panel.trace_panel.model.root], None
    while stack and item is None:
        it = stack.pop()
        stack.extend(it.children)
        if it.record is not None and it.record.name.endswith("block_1_depthwise_1/depthwise"):
            item = it
    panel.trace_panel.select_item(item)
    assert wait_idle(timeout=60)
    out = OUT / "run_trace_mobilenet.png"
    save_screenshot(app, window, out)
    tracker.cancel_all()
    wait_idle(timeout=10, settle=0.0)
    window.close()


def main(names: list[str]) -> int:
    wanted = names or [*SHOTS, *SPECIAL]
    unknown = [n for n in wanted if n not in SHOTS and n not in SPECIAL]
    if unknown:
        print(f"unknown screenshot(s): {', '.join(unknown)}; known: "
              f"{', '.join([*SHOTS, *SPECIAL])}", file=sys.stderr)
        return 2
    for name in wanted:
        if name in SHOTS:
            shoot(name, SHOTS[name])
        elif name == "damaged_checkpoint":
            damaged_checkpoint()
    if "run_trace_mobilenet" in wanted:
        run_trace_mobilenet()   # last: it builds a window in this process
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
