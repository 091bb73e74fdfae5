"""Time the heavy kernels on MobileNetV2-like shapes at batch 32, against TensorFlow.

    python benchmarks/bench_kernels.py [--repeat 7]

Prints the median time of each kernel and, when TensorFlow is importable in the same
interpreter (e.g. /opt/tfvenv/bin/python with the project on PYTHONPATH), TensorFlow's
median for the same raw op and the ratio ours / TensorFlow's. Our kernels are timed before
TensorFlow runs anything: its thread pools keep spinning after each op and would steal
the CPU from numpy.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tensorloupe.core.engine import registry  # noqa: E402

B = 32
CASES = [
    # name, op, input shapes, attrs
    ("stem conv 3x3/2", "Conv2D", [(B, 112, 112, 3), (3, 3, 3, 32)],
     {"strides": [1, 2, 2, 1], "padding": b"SAME"}),
    ("expand 1x1 24->144", "Conv2D", [(B, 28, 28, 24), (1, 1, 24, 144)],
     {"strides": [1, 1, 1, 1], "padding": b"VALID"}),
    ("project 1x1 576->96", "Conv2D", [(B, 7, 7, 576), (1, 1, 576, 96)],
     {"strides": [1, 1, 1, 1], "padding": b"VALID"}),
    ("conv 3x3 64->64", "Conv2D", [(B, 28, 28, 64), (3, 3, 64, 64)],
     {"strides": [1, 1, 1, 1], "padding": b"SAME"}),
    ("depthwise 3x3 144", "DepthwiseConv2dNative", [(B, 28, 28, 144), (3, 3, 144, 1)],
     {"strides": [1, 1, 1, 1], "padding": b"SAME"}),
    ("depthwise 3x3/2 192", "DepthwiseConv2dNative", [(B, 28, 28, 192), (3, 3, 192, 1)],
     {"strides": [1, 2, 2, 1], "padding": b"SAME"}),
    ("depthwise 3x3 960", "DepthwiseConv2dNative", [(B, 7, 7, 960), (3, 3, 960, 1)],
     {"strides": [1, 1, 1, 1], "padding": b"SAME"}),
    # The MobileNetV2 fixture (alpha 0.35, 96x96) that bench_run.py times end to end.
    ("fx stem conv 3x3/2", "Conv2D", [(B, 96, 96, 3), (3, 3, 3, 16)],
     {"strides": [1, 2, 2, 1], "padding": b"SAME"}),
    ("fx expand 1x1 16->48", "Conv2D", [(B, 48, 48, 16), (1, 1, 16, 48)],
     {"strides": [1, 1, 1, 1], "padding": b"VALID"}),
    ("fx depthwise 3x3 16", "DepthwiseConv2dNative", [(B, 48, 48, 16), (3, 3, 16, 1)],
     {"strides": [1, 1, 1, 1], "padding": b"SAME"}),
    ("fx depthwise 3x3/2 48", "DepthwiseConv2dNative", [(B, 48, 48, 48), (3, 3, 48, 1)],
     {"strides": [1, 2, 2, 1], "padding": b"SAME"}),
    ("fx depthwise 3x3 48", "DepthwiseConv2dNative", [(B, 24, 24, 48), (3, 3, 48, 1)],
     {"strides": [1, 1, 1, 1], "padding": b"SAME"}),
    ("fx depthwise 3x3 144", "DepthwiseConv2dNative", [(B, 6, 6, 144), (3, 3, 144, 1)],
     {"strides": [1, 1, 1, 1], "padding": b"SAME"}),
    ("classifier matmul", "MatMul", [(B, 1280), (1280, 1000)], {}),
    ("dense 256x1024", "MatMul", [(B * 16, 256), (256, 1024)], {}),
]


def median_time(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class _Ctx:
    def check_alloc(self, nbytes):
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    from tensorloupe.core.engine.ops.math import blas_threads
    try:
        blas_threads()
    except ImportError:             # (threadpoolctl is not in every environment)
        import contextlib
        blas_threads = contextlib.nullcontext  # noqa: F811
    rng = np.random.default_rng(0)
    ours = {}
    inputs = {}
    for name, op, shapes, attrs in CASES:
        k = registry.lookup(op)
        inputs[name] = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        full = dict(k.defaults, **attrs)
        with blas_threads():        # as the engine runs them
            ours[name] = median_time(lambda: k.fn(_Ctx(), inputs[name], full), args.repeat)
    try:
        import tensorflow as tf
    except ImportError:
        tf = None
        print("TensorFlow is not importable here: printing our times only.")
    print(f"{'kernel':24s} {'ours ms':>9s} {'tf ms':>9s} {'ratio':>7s}")
    for name, op, shapes, attrs in CASES:
        line = f"{name:24s} {ours[name] * 1e3:9.2f}"
        if tf is not None:
            tin = [tf.constant(x) for x in inputs[name]]
            targs = {key: (v.decode() if isinstance(v, bytes) else v) for key, v in attrs.items()}
            if op == "MatMul":
                call = lambda: tf.raw_ops.MatMul(a=tin[0], b=tin[1]).numpy()  # noqa: E731
            else:
                call = lambda: getattr(tf.raw_ops, op)(  # noqa: E731
                    input=tin[0], filter=tin[1], **targs).numpy()
            theirs = median_time(call, args.repeat)
            line += f" {theirs * 1e3:9.2f} {ours[name] / theirs:7.2f}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
