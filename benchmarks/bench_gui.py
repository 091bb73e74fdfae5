"""Window speed: launch to a painted tree, and scrolling the table of big tensors.

    /opt/devvenv/bin/python benchmarks/bench_gui.py [--runs 5] [--model PATH]

1. Launch: a fresh process runs `tensorloupe`'s window on the MobileNet fixture and reports
   when the tree of the loaded model has been painted (target: under 1.5 s). For scale, the
   same run times `saved_model_cli show --dir MODEL --all` (TensorFlow's way to see a model's
   structure) when /opt/tfvenv is present, and prints the ratio.
2. Scrolling: the tensor panel's table over a memory-mapped 4096x4096 float32 tensor and a
   100-million-element vector; each step jumps the scroll bars and repaints the viewport.
   Prints the median and 95th-percentile time per repaint (smooth is well under 16 ms).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / "tests" / "fixtures" / "data" / "saved_models" / "mobilenet_v2"
SAVED_MODEL_CLI = Path("/opt/tfvenv/bin/saved_model_cli")

# Runs in a child process: time from process start to the painted window with the tree.
_LAUNCH_CHILD = r"""
import os, sys, time
start = float(os.environ["BENCH_SPAWN_TIME"])
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtWidgets import QApplication
app = QApplication([])
from tensorloupe.gui.main_window import MainWindow
window = MainWindow(settings=None)
window.resize(1400, 900)
done = []
def loaded(index):
    window.tree.viewport().repaint()
    window.repaint()
    done.append(time.time() - start)
window.model.document_loaded.connect(loaded)
window.open_path(sys.argv[1])
window.show()
deadline = time.time() + 60
while not done and time.time() < deadline:
    app.processEvents()
    time.sleep(0.001)
rows = window.model.rowCount(window.model.index(0, 0))
print(f"{done[0] if done else float('nan'):.4f} {rows}")
os._exit(0)
"""


def bench_launch(model: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        env = dict(os.environ, BENCH_SPAWN_TIME=repr(time.time()), QT_QPA_PLATFORM="offscreen")
        out = subprocess.run([sys.executable, "-c", _LAUNCH_CHILD, str(model)], env=env,
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
        seconds, rows = out.split()
        if int(rows) < 1:
            raise SystemExit("the tree had no rows: the model did not load")
        times.append(float(seconds))
    return times


def bench_saved_model_cli(model: Path, runs: int) -> list[float] | None:
    if not SAVED_MODEL_CLI.exists():
        return None
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([str(SAVED_MODEL_CLI), "show", "--dir", str(model), "--all"],
                       capture_output=True, check=True,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        times.append(time.perf_counter() - t)
    return times


def bench_scroll(array_path: Path, shape: tuple[int, ...], steps: int) -> list[float]:
    import numpy as np
    from PySide6.QtWidgets import QApplication

    from tensorloupe.gui.panels.tensor import TensorPanel, TensorSource
    from tensorloupe.gui.workers import wait_idle

    app = QApplication.instance() or QApplication([])
    data = np.load(array_path, mmap_mode="r")
    assert data.shape == shape
    panel = TensorPanel()
    panel.resize(1200, 800)
    panel.show()
    panel.set_source(TensorSource.from_array(array_path.name, data))
    wait_idle(timeout=300)
    panel.select_view("table")
    wait_idle(timeout=60)
    table = panel.current_view().table
    vbar, hbar = table.verticalScrollBar(), table.horizontalScrollBar()
    rng = np.random.default_rng(0)
    frame_times = []
    for i in range(steps):
        vbar.setValue(int(rng.integers(0, vbar.maximum() + 1)))
        if hbar.maximum() > 0:
            hbar.setValue(int(rng.integers(0, hbar.maximum() + 1)))
        t = time.perf_counter()
        table.viewport().repaint()
        app.processEvents()
        frame_times.append(time.perf_counter() - t)
    panel.cancel()
    wait_idle(timeout=60)
    panel.deleteLater()
    return frame_times


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    launch = bench_launch(args.model, args.runs)
    med = statistics.median(launch)
    print(f"launch to painted tree ({args.model.name}): median {med:.3f} s over {args.runs} runs "
          f"(min {min(launch):.3f} s, max {max(launch):.3f} s); target < 1.5 s: "
          f"{'ok' if med < 1.5 else 'MISSED'}")
    cli = bench_saved_model_cli(args.model, max(1, min(args.runs, 3)))
    if cli:
        cmed = statistics.median(cli)
        print(f"saved_model_cli show --all (TensorFlow): median {cmed:.3f} s; "
              f"window/saved_model_cli = {med / cmed:.2f}")

    import numpy as np
    with tempfile.TemporaryDirectory() as tmp:
        for name, shape in (("square", (4096, 4096)), ("vector", (100_000_000,))):
            path = Path(tmp) / f"{name}.npy"
            arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
            flat = arr.reshape(-1)
            step = max(1, flat.size // 1_000_000)
            flat[::step] = np.arange(flat[::step].size, dtype=np.float32)
            arr.flush()
            del arr, flat
            frames = bench_scroll(path, shape, args.steps)
            frames.sort()
            p95 = frames[int(0.95 * (len(frames) - 1))]
            print(f"table scroll, {name} {shape} float32 (memory-mapped): median "
                  f"{_fmt(statistics.median(frames))}, p95 {_fmt(p95)} per repaint over "
                  f"{len(frames)} jumps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
