"""Time the numpy engine against TensorFlow running the same SavedModel signatures.

1. Cold start: `tensorloupe run` on the MobileNetV2 fixture with one image, a fresh
   process each time, against `saved_model_cli run` with the same input file.
   Target (issue 4): at least 8x faster.
2. Steady state: per-batch time at batch 32 once the model is loaded and warmed up,
   against a TensorFlow session running the same signature (what saved_model_cli uses).
   Targets: MobileNetV2 within 2x of TensorFlow, Transformer block and LSTM within 3x.

Prints medians and ratios; the TensorFlow side is skipped when it is not installed.

    python benchmarks/bench_run.py [--runs 5] [--batches 20] [--tf-python /opt/tfvenv/bin/python]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "tests" / "fixtures" / "data" / "saved_models"
STEADY = [("mobilenet_v2", 2.0), ("keras_transformer", 3.0), ("keras_lstm", 3.0)]

# Run inside TensorFlow's Python: load like saved_model_cli and time sess.run.
TF_STEADY = r"""
import json, sys, time, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
model, key, batches = sys.argv[1], sys.argv[2], int(sys.argv[3])
feeds = dict(np.load(sys.argv[4]))
v1 = tf.compat.v1
with v1.Session(graph=tf.Graph()) as sess:
    mg = v1.saved_model.loader.load(sess, ["serve"], model)
    sig = mg.signature_def[key]
    fetches = [sig.outputs[k].name for k in sorted(sig.outputs)]
    feed = {sig.inputs[k].name: v for k, v in feeds.items()}
    for _ in range(3):
        sess.run(fetches, feed)
    times = []
    for _ in range(batches):
        t = time.perf_counter(); sess.run(fetches, feed); times.append(time.perf_counter() - t)
print(json.dumps(times))
"""


def batch_inputs(model: str, key: str, batch: int, seed: int = 0) -> dict:
    import tensorloupe.core as core
    sig = core.open_saved_model(MODELS / model).meta_graph().proto.signature_def[key]
    rng = np.random.RandomState(seed)
    from tensorloupe.core import dtypes
    feeds = {}
    for k, info in sig.inputs.items():
        shape = [batch if d.size < 0 else d.size for d in info.tensor_shape.dim]
        dt = dtypes.to_numpy(info.dtype)
        if dt.kind in "iu":
            feeds[k] = rng.randint(0, 10, size=shape).astype(dt)
        else:
            feeds[k] = rng.standard_normal(shape).astype(dt)
    return feeds


def engine_steady(model: str, key: str, feeds: dict, batches: int) -> list[float]:
    import tensorloupe.core as core
    sm = core.open_saved_model(MODELS / model)
    for _ in range(3):
        sm.run_signature(key, feeds)
    times = []
    for _ in range(batches):
        t = time.perf_counter()
        sm.run_signature(key, feeds)
        times.append(time.perf_counter() - t)
    return times


def tf_steady(tf_python: str, model: str, key: str, feeds: dict, batches: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "feeds.npz")
        np.savez(path, **feeds)
        res = subprocess.run([tf_python, "-c", TF_STEADY, str(MODELS / model), key, str(batches),
                              path], capture_output=True, text=True,
                             env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def cold(cmd: list[str], runs: int) -> float:
    times = []
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for _ in range(runs):
        t = time.perf_counter()
        res = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        times.append(time.perf_counter() - t)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr.decode()[-2000:]}")
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per cold-start tool")
    parser.add_argument("--batches", type=int, default=20, help="timed batches in steady state")
    parser.add_argument("--tf-python", default="/opt/tfvenv/bin/python")
    args = parser.parse_args()
    tf_python = args.tf_python if os.path.exists(args.tf_python) else None
    smcli = str(Path(tf_python).with_name("saved_model_cli")) if tf_python else None
    ours = shutil.which("tensorloupe") or str(Path(sys.executable).with_name("tensorloupe"))

    print("== cold start: one MobileNetV2 image, end to end (median of fresh processes)")
    with tempfile.TemporaryDirectory() as tmp:
        image = os.path.join(tmp, "image.npy")
        np.save(image, batch_inputs("mobilenet_v2", "serving_default", 1)[_only_key("mobilenet_v2")])
        flags = ["run", "--dir", str(MODELS / "mobilenet_v2"), "--tag_set", "serve",
                 "--signature_def", "serving_default",
                 "--inputs", f"{_only_key('mobilenet_v2')}={image}"]
        t_ours = cold([ours, *flags], args.runs)
        print(f"tensorloupe run      {t_ours * 1000:9.1f} ms")
        if smcli and os.path.exists(smcli):
            t_tf = cold([smcli, *flags], max(3, args.runs // 2))
            print(f"saved_model_cli run  {t_tf * 1000:9.1f} ms")
            print(f"ratio: tensorloupe is {t_tf / t_ours:.1f}x faster (target >= 8x)")

    print("\n== steady state: batch 32, per batch (median)")
    print(f"{'model':20s} {'engine ms':>10s} {'TF ms':>10s} {'engine/TF':>10s} {'target':>8s}")
    for model, target in STEADY:
        feeds = batch_inputs(model, "serving_default", 32)
        ours_t = statistics.median(engine_steady(model, "serving_default", feeds, args.batches))
        line = f"{model:20s} {ours_t * 1000:10.2f}"
        if tf_python:
            tf_t = statistics.median(tf_steady(tf_python, model, "serving_default", feeds,
                                               args.batches))
            ratio = ours_t / tf_t
            line += f" {tf_t * 1000:10.2f} {ratio:9.2f}x {'<=' + str(target) + 'x':>8s}"
            line += "  ok" if ratio <= target else "  SLOWER THAN TARGET"
        print(line)
    return 0


def _only_key(model: str) -> str:
    import tensorloupe.core as core
    sig = core.open_saved_model(MODELS / model).meta_graph().proto.signature_def["serving_default"]
    (key,) = sig.inputs.keys()
    return key


if __name__ == "__main__":
    sys.exit(main())
