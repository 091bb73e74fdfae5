"""Benchmark: what checking every read's crc32c costs (reads and `diff`, checked or not).

Uses the two ~1 GiB checkpoints of benchmarks/bench_diff.py (1,000 float32 variables of about
1 MiB each, written by TensorFlow under /tmp; made here if missing). Every measurement runs
in a fresh process, so no reader and no verdict cache is warm; the files themselves are read
once beforehand so that every run starts from the page cache. Modes, each with checks on
(the default) and off (``verify=False``, ``--no-verify``):

    read    open A and read() every tensor (a copy of each): the first full read
    array   open A and take array() of every tensor (the zero-copy mapped view), summing
            each so that its bytes are really read (otherwise an unchecked view costs nothing)
    diff    core.compare.compare(A, B): every metric of every variable, as `tensorloupe diff`

For read and array, a second pass with the same reader is timed too ("2nd pass"): its
verdicts are known, so checking should cost nothing there.

Runs alternate between the modes so that the machine's load hits all of them alike; prints
the median, the spread (min..max) and the relative cost of checking for each.

    .venv/bin/python benchmarks/bench_verify.py [--repeat 7] [--dir /tmp/tl_bench_diff]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent


def _cpu() -> float:
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _maxrss_mib() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, verify: bool, directory: str) -> dict:
    # Modules load before the clock starts: only the reading is timed.
    import numpy as np
    import google_crc32c  # noqa: F401
    import ml_dtypes  # noqa: F401
    import tensorloupe.core.checkpoint.names  # noqa: F401
    from tensorloupe.core.checkpoint import open_checkpoint, verification
    from tensorloupe.core.compare import compare
    from tensorloupe.protos import tensor_bundle_pb2, trackable_object_graph_pb2  # noqa: F401
    a, b = os.path.join(directory, "a"), os.path.join(directory, "b")
    cpu = _cpu()
    t = time.perf_counter()
    checked = 0
    again = None
    if mode == "diff":
        with verification(verify):
            result = compare(a, b)
        assert not result.failures, result.failures[:3]
        nbytes = 2 * sum(v.nbytes for v in result.variables)
    else:
        def full_pass(reader) -> int:
            total = 0
            for key in reader.keys():
                if mode == "read":
                    x = reader.read(key)
                else:
                    x = reader.array(key)
                    float(np.add.reduce(x, axis=None, dtype=np.float32))
                total += x.nbytes
                del x
            return total

        with open_checkpoint(a, verify=verify) as reader:
            nbytes = full_pass(reader)
            seconds = time.perf_counter() - t
            cpu_used = _cpu() - cpu
            checked = reader.stats.checked_bytes
            t = time.perf_counter()
            full_pass(reader)
            again = time.perf_counter() - t
            assert reader.stats.checked_bytes == checked  # no second checksum
        return {"seconds": seconds, "cpu": cpu_used, "bytes": nbytes, "checked": checked,
                "again": again, "rss_mib": _maxrss_mib()}
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "cpu": _cpu() - cpu, "bytes": nbytes, "checked": checked,
            "again": again, "rss_mib": _maxrss_mib()}


def _run_child(mode: str, verify: bool, directory: str) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--dir", directory]
    if not verify:
        cmd.append("--no-verify")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ensure_checkpoints(directory: str, tf_python: str) -> None:
    if Path(directory, "b.index").exists():
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    print(f"writing two checkpoints with TensorFlow into {directory} ...", flush=True)
    cmd = [tf_python, str(HERE / "bench_diff.py"), "--child", "write", "--dir", directory]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    subprocess.run(cmd, check=True, env=env, capture_output=True)


def _warm(directory: str) -> None:
    for p in Path(directory).iterdir():
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp/tl_bench_diff")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--modes", default="read,array,diff")
    parser.add_argument("--tf-python", default="/opt/tfvenv/bin/python")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--no-verify", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, not args.no_verify, args.dir)))
        return 0

    _ensure_checkpoints(args.dir, args.tf_python)
    size = sum(p.stat().st_size for p in Path(args.dir).glob("a.data-*"))
    _warm(args.dir)
    modes = [m for m in args.modes.split(",") if m]
    runs = {(m, v): [] for m in modes for v in (True, False)}
    for i in range(args.repeat):
        for key in runs:
            runs[key].append(_run_child(key[0], key[1], args.dir))
        print(f"  round {i + 1}/{args.repeat}: " + ", ".join(
            f"{m}{'' if v else ' (unchecked)'} {r[-1]['seconds']:.3f}s"
            for (m, v), r in runs.items()), flush=True)
    print()
    print(f"one checkpoint: {size / (1 << 30):.2f} GiB; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f}; {args.repeat} fresh processes per line")
    print(f"{'mode':8s} {'checks':7s} {'median s':>9s} {'min..max s':>14s} {'GiB/s':>6s} "
          f"{'CPU s':>6s} {'RSS MiB':>8s} {'2nd pass s':>10s} {'cost of checks':>15s}")
    for m in modes:
        med = {}
        for v in (False, True):
            rs = runs[(m, v)]
            secs = [r["seconds"] for r in rs]
            med[v] = statistics.median(secs)
            gib = rs[-1]["bytes"] / (1 << 30)
            extra = ""
            if v:
                extra = f"{(med[True] - med[False]) * 1000:+.0f} ms ({med[True] / med[False] - 1:+.0%})"
            again = [r["again"] for r in rs if r.get("again") is not None]
            again_text = f"{statistics.median(again):.3f}" if again else "-"
            print(f"{m:8s} {'on' if v else 'off':7s} {med[v]:9.3f} "
                  f"{min(secs):6.3f}..{max(secs):6.3f} {gib / med[v]:6.2f} "
                  f"{statistics.median(r['cpu'] for r in rs):6.3f} "
                  f"{max(r['rss_mib'] for r in rs):8.0f} {again_text:>10s} {extra:>15s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
