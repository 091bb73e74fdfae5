"""Time `tensorloupe show --all` against `saved_model_cli show --all`, end to end.

Each run is a fresh process (what a CI job or a shell user pays: interpreter start, imports,
reading the model, printing). Prints the median wall time and the peak resident memory of
each tool, and the ratios. The TensorFlow side is skipped when saved_model_cli is absent.

    python benchmarks/bench_show.py [--model DIR ...] [--runs 7] [--tf /path/to/saved_model_cli]

Target (issue 2): at least 20x faster and a fifth of the memory.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = [ROOT / "tests/fixtures/data/saved_models/mobilenet_v2",
                  ROOT / "tests/fixtures/data/saved_models/half_plus_two"]


def run_once(cmd: list[str], env: dict) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in KiB, exit status) of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, int(usage.ru_maxrss), proc.returncode


def measure(cmd: list[str], runs: int, env: dict) -> tuple[float, int]:
    times, peaks = [], []
    for _ in range(runs):
        t, rss, code = run_once(cmd, env)
        if code != 0:
            raise SystemExit(f"failed ({code}): {' '.join(cmd)}")
        times.append(t)
        peaks.append(rss)
    return statistics.median(times), max(peaks)


def tensorloupe_command() -> list[str]:
    exe = Path(sys.executable).with_name("tensorloupe")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("tensorloupe")
    return [found] if found else [sys.executable, "-m", "tensorloupe"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", type=Path,
                        help="SavedModel directory (repeatable); default: fixtures")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tf", default="/opt/tfvenv/bin/saved_model_cli",
                        help="saved_model_cli to compare with")
    args = parser.parse_args()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    tl = tensorloupe_command()
    have_tf = Path(args.tf).is_file() or shutil.which(args.tf) is not None
    if not have_tf:
        print(f"saved_model_cli not found at {args.tf}: timing tensorloupe only")
    for model in args.model or DEFAULT_MODELS:
        if not model.is_dir():
            print(f"skip {model}: not a directory")
            continue
        print(f"\n{model}  (median of {args.runs} fresh processes)")
        t_tl, m_tl = measure([*tl, "show", "--dir", str(model), "--all"], args.runs, env)
        print(f"  tensorloupe show --all     {t_tl * 1000:9.1f} ms   peak RSS {m_tl / 1024:7.1f} MiB")
        if not have_tf:
            continue
        t_tf, m_tf = measure([args.tf, "show", "--dir", str(model), "--all"], args.runs, env)
        print(f"  saved_model_cli show --all {t_tf * 1000:9.1f} ms   peak RSS {m_tf / 1024:7.1f} MiB")
        print(f"  speed-up {t_tf / t_tl:6.1f}x (target >= 20x)   "
              f"memory {m_tl / m_tf:5.2f} of TensorFlow's (target <= 0.20)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
