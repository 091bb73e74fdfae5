"""Listing checkpoints: `tensorloupe inspect` against TensorFlow's inspect_checkpoint.

    python benchmarks/bench_inspect.py [--file_name PREFIX] [--tf-python PATH] [--runs N]
                                       [--big-dir DIR] [--no-big]

1. End to end, as a user runs them: ``tensorloupe inspect --file_name X --all_tensor_names``
   vs ``python -m tensorflow.python.tools.inspect_checkpoint`` with the same flags (when the
   TF python can import TensorFlow). Median wall time of N runs, the ratio, and the peak
   resident memory of each process (ru_maxrss from wait4).
2. A synthetic checkpoint of 1,000 float32 variables, 1 GiB in all (written once with
   TensorFlow into --big-dir and reused): both tools end to end, then opening it and listing
   its keys in-process (median), and the peak memory of a process that opens and lists it.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FIXTURE = REPO / "tests" / "fixtures" / "data" / "checkpoints" / "keras_adam" / "ckpt"
BIG_VARIABLES = 1000
BIG_FLOATS = (1 << 30) // 4 // BIG_VARIABLES  # float32 per variable: 1 GiB in all


def run_once(argv: list[str], env: dict) -> tuple[float, int, bytes]:
    """(seconds, peak RSS bytes, stdout) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                            cwd=REPO)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} ... exited with {proc.returncode}")
    return elapsed, usage.ru_maxrss * 1024, out


def measure(argv: list[str], runs: int, env: dict) -> tuple[float, int, bytes]:
    times, peaks, out = [], [], b""
    for _ in range(runs):
        t, rss, out = run_once(argv, env)
        times.append(t)
        peaks.append(rss)
    return statistics.median(times), max(peaks), out


def tf_available(tf_python: str) -> bool:
    if not Path(tf_python).exists():
        return False
    probe = subprocess.run([tf_python, "-c", "import tensorflow"], capture_output=True,
                           env=_tf_env())
    return probe.returncode == 0


def _tf_env() -> dict:
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")


def mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


def compare(prefix: str, tf_python: str, runs: int, have_tf: bool) -> None:
    ours_argv = [sys.executable, "-m", "tensorloupe", "inspect", "--file_name", prefix,
                 "--all_tensor_names"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t_ours, rss_ours, out_ours = measure(ours_argv, runs, env)
    print(f"  tensorloupe inspect        median {t_ours * 1000:8.1f} ms   peak RSS {mib(rss_ours)}")
    if not have_tf:
        print("  (TensorFlow not importable by the TF python: no comparison)")
        return
    tf_argv = [tf_python, "-m", "tensorflow.python.tools.inspect_checkpoint", "--file_name",
               prefix, "--all_tensor_names"]
    t_tf, rss_tf, out_tf = measure(tf_argv, runs, _tf_env())
    print(f"  TF inspect_checkpoint      median {t_tf * 1000:8.1f} ms   peak RSS {mib(rss_tf)}")
    print(f"  speed-up x{t_tf / t_ours:.1f}, memory {rss_ours / rss_tf:.2f} of TensorFlow's; "
          f"same output: {out_ours == out_tf}")


WRITE_BIG = textwrap.dedent("""
    import sys, numpy as np, tensorflow as tf
    prefix, n, floats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    parts, per = [], 100
    for start in range(0, n, per):
        names = [f"layer_{i:04d}/kernel" for i in range(start, min(n, start + per))]
        tensors = [tf.fill([floats // 256, 256], np.float32(i)) for i in range(len(names))]
        part = f"{prefix}_part{start // per}"
        tf.raw_ops.SaveV2(prefix=part, tensor_names=names, shape_and_slices=[""] * len(names),
                          tensors=tensors)
        parts.append(part)
    tf.raw_ops.MergeV2Checkpoints(checkpoint_prefixes=parts, destination_prefix=prefix)
""")


def ensure_big(directory: Path, tf_python: str, have_tf: bool) -> str | None:
    prefix = directory / "big"
    if (directory / "big.index").exists():
        return str(prefix)
    if not have_tf:
        print("  (no TensorFlow to write the synthetic checkpoint with; skipped)")
        return None
    directory.mkdir(parents=True, exist_ok=True)
    print(f"  writing {BIG_VARIABLES} variables, 1 GiB, with TensorFlow into {directory} ...",
          flush=True)
    subprocess.run([tf_python, "-c", WRITE_BIG, str(prefix), str(BIG_VARIABLES), str(BIG_FLOATS)],
                   check=True, env=_tf_env(), stderr=subprocess.DEVNULL)
    return str(prefix)


LIST_IN_CHILD = textwrap.dedent("""
    import resource, sys, time
    import tensorloupe.core.checkpoint as c
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = c.open_checkpoint(sys.argv[1]); keys = r.keys()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(len(keys), before * 1024, after * 1024)
""")


def in_process(prefix: str, runs: int) -> None:
    from tensorloupe.core.checkpoint import open_checkpoint
    times = []
    for _ in range(max(runs, 5)):
        start = time.perf_counter()
        reader = open_checkpoint(prefix)
        keys = reader.keys()
        times.append(time.perf_counter() - start)
        reader.close()
    data = sum(os.path.getsize(p) for p in reader.shard_paths())
    print(f"  in-process open + keys(): median {statistics.median(times) * 1000:.1f} ms for "
          f"{len(keys)} keys, {data / (1 << 30):.2f} GiB of data in {reader.header.num_shards} "
          f"shard(s)")
    out = subprocess.run([sys.executable, "-c", LIST_IN_CHILD, prefix], capture_output=True,
                         text=True, check=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    n, before, after = (int(x) for x in out.stdout.split())
    print(f"  process peak RSS after imports {mib(before)}, after open + listing {mib(after)} "
          f"(+{(after - before) / (1 << 20):.1f} MiB for {n} keys)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file_name", default=str(DEFAULT_FIXTURE),
                        help="checkpoint to list end to end (default: the keras_adam fixture)")
    parser.add_argument("--tf-python", default="/opt/tfvenv/bin/python",
                        help="a python that can import TensorFlow")
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (median)")
    parser.add_argument("--big-dir", default=os.path.join(tempfile.gettempdir(),
                                                          "tensorloupe-bench-1k"),
                        help="where the synthetic 1 GiB checkpoint is written or reused")
    parser.add_argument("--no-big", action="store_true", help="skip the synthetic checkpoint")
    args = parser.parse_args()
    have_tf = tf_available(args.tf_python)

    print(f"List {args.file_name} (--all_tensor_names), {args.runs} runs each:")
    compare(args.file_name, args.tf_python, args.runs, have_tf)
    if args.no_big:
        return 0
    print(f"Synthetic checkpoint: {BIG_VARIABLES} variables, 1 GiB:")
    prefix = ensure_big(Path(args.big_dir), args.tf_python, have_tf)
    if prefix is None:
        return 0
    compare(prefix, args.tf_python, args.runs, have_tf)
    in_process(prefix, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
