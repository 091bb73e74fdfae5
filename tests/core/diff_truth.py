"""Ground truth for checkpoint comparisons: numpy over the values TensorFlow read back.

The diff fixtures (tests/fixtures/build_diff.py) recorded every tensor as
tf.train.load_checkpoint returned it; these helpers load them and compute each metric the
simple way (whole arrays, float64), with the semantics core.compare documents.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import ml_dtypes
import numpy as np

DIFF = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "diff"


@lru_cache(maxsize=None)
def record(run: str) -> dict:
    return json.loads((DIFF / run / "tensorflow.json").read_text())


def value(run: str, prefix: str, key: str) -> np.ndarray:
    """A tensor as TensorFlow read it (strings as an object array of bytes)."""
    info = record(run)["checkpoints"][prefix]["tensors"][key]
    if "hex" in info:
        out = np.empty(len(info["hex"]), dtype=object)
        out[:] = [bytes.fromhex(h) for h in info["hex"]]
        return out.reshape(info["shape"])
    with np.load(DIFF / run / f"values-{prefix}.npz") as values:
        arr = values[info["npz"]]
    if info.get("bits") == "uint16":
        arr = arr.view(ml_dtypes.bfloat16)
    return arr


def keys(run: str, prefix: str) -> list[str]:
    return [k for k in record(run)["checkpoints"][prefix]["keys"]
            if k != "_CHECKPOINTABLE_OBJECT_GRAPH"]


def metrics(a: np.ndarray, b: np.ndarray) -> dict:
    """What core.compare should report for one pair of same-shape tensors."""
    a, b = a.reshape(-1), b.reshape(-1)
    if a.dtype.kind in "OSb" or b.dtype.kind in "OSb":
        return {"changed": int(np.sum(a != b))}
    x = a.astype(np.float64)
    y = b.astype(np.float64)
    nan_x, nan_y = np.isnan(x), np.isnan(y)
    finite = np.isfinite(x) & np.isfinite(y)
    xs, ys = x[finite], y[finite]
    d = ys - xs
    norm_a, norm_b, norm_d = (float(np.sqrt(np.sum(v * v))) for v in (xs, ys, d))
    out = {
        "norm_a": norm_a, "norm_b": norm_b, "norm_diff": norm_d,
        "max_abs_diff": float(np.abs(d).max()) if d.size else 0.0,
        "changed": int(np.sum(~((x == y) | (nan_x & nan_y)))),
        "nan_a": int(nan_x.sum()), "nan_b": int(nan_y.sum()),
        "inf_a": int(np.isinf(x).sum()), "inf_b": int(np.isinf(y).sum()),
        "cosine": float(np.dot(xs, ys) / (norm_a * norm_b)) if norm_a and norm_b else None,
    }
    if norm_a:
        out["rel_change"] = norm_d / norm_a
    else:
        out["rel_change"] = 0.0 if norm_d == 0 else math.inf
    # RMS(B - A) / max(RMS(A), RMS(B)), from the means (0 when both sides are zero).
    rms = [float(np.sqrt(np.mean(v * v))) if v.size else 0.0 for v in (xs, ys, d)]
    out["rms_change"] = rms[2] / max(rms[0], rms[1]) if max(rms[0], rms[1]) else 0.0
    return out
