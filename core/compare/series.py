"""A training run compared checkpoint by checkpoint: each one against the next and against
the first, for drift curves and for spotting variables that never train.

Drift is measured as the rankings are (``results.RANK_MEASURES``, RMS change by default), so
a variable that starts at zero gets a curve like any other; one-element variables also have
their value at every checkpoint (``values``), and counters are listed by value.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from ..errors import InputError, NotFoundError, TensorloupeError
from .keymap import KeyMap
from .results import (IDENTICAL, MODEL, RMS, Comparison, VariableDiff, _json_number,
                      check_measure)
from .scheduler import _default_workers, compare


@dataclass
class Series:
    """Comparisons along a training run: consecutive checkpoints and each one from the first."""
    paths: list[str]
    names: list[str]
    steps: list[int | None]
    consecutive: list[Comparison]       # i -> i+1
    from_first: list[Comparison]        # 0 -> i, for i >= 1

    def variable_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for c in self.from_first:
            for v in c.variables:
                seen.setdefault(v.name, None)
        return list(seen)

    def drift(self, name: str, rank_by: str = RMS) -> dict:
        """Per checkpoint: the change (by ``rank_by``) from the first, and from the previous
        one (index 0: 0), and the norm; None where the variable was not measured."""
        check_measure(rank_by)
        first = [0.0] + [_measure(c.get(name), rank_by) for c in self.from_first]
        step = [0.0] + [_measure(c.get(name), rank_by) for c in self.consecutive]
        norm = [None] * len(self.paths)
        if self.from_first:
            v0 = self.from_first[0].get(name)
            norm[0] = v0.norm_a if v0 else None
        for i, c in enumerate(self.from_first, start=1):
            v = c.get(name)
            norm[i] = v.norm_b if v else None
        return {"from_first": first, "step": step, "norm": norm}

    def values(self, name: str) -> list[float | int | None] | None:
        """A one-element variable's value at every checkpoint (None where unknown), or None
        when it is not one."""
        if not self.from_first:
            return None
        v0 = self.from_first[0].get(name)
        out = [v0.value_a if v0 is not None else None]
        for c in self.from_first:
            v = c.get(name)
            out.append(v.value_b if v is not None else None)
        return out if any(x is not None for x in out) else None

    def counters(self) -> dict[str, list]:
        """Every counter (global_step, iterations, ...) with its value at each checkpoint."""
        names: dict[str, None] = {}
        for c in self.from_first:
            for v in c.counters():
                names.setdefault(v.name, None)
        return {n: self.values(n) for n in names}

    def frozen(self, group: str | None = MODEL) -> list[str]:
        """Variables identical in every consecutive pair: never trained (model weights by
        default; ``group=None`` includes constant optimizer settings too)."""
        if not self.consecutive:
            return []
        names = None
        for c in self.consecutive:
            same = {v.name for v in c.variables
                    if v.status == IDENTICAL and (group is None or v.group == group)}
            names = same if names is None else names & same
        order = self.variable_names()
        return [n for n in order if n in (names or set())]

    def to_dict(self, rank_by: str = RMS) -> dict:
        return {
            "checkpoints": [{"path": p, "name": n, "step": s}
                            for p, n, s in zip(self.paths, self.names, self.steps)],
            "rank_by": check_measure(rank_by),
            "frozen": self.frozen(),
            "counters": self.counters(),
            "drift": {n: {k: [_json_number(x) for x in vals]
                          for k, vals in self.drift(n, rank_by).items()}
                      for n in self.variable_names()},
            "consecutive": [c.to_dict(rank_by) for c in self.consecutive],
            "from_first": [c.to_dict(rank_by) for c in self.from_first],
        }


def _measure(v: VariableDiff | None, rank_by: str) -> float | None:
    return None if v is None else v.measure(rank_by)


def run_checkpoints(directory: str | os.PathLike) -> list[str]:
    """The checkpoint prefixes of a training directory, oldest first."""
    from ..checkpoint.state import training_run
    found = training_run(directory)
    if not found:
        raise NotFoundError("no checkpoints in this directory", directory)
    return [c.prefix for c in found]


def compare_series(paths: str | os.PathLike | list, *, keymap: KeyMap | None = None,
                   name_filter=None, include_other: bool = True, verify: bool | None = None,
                   workers: int | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   cancel=None) -> Series:
    """Compare a training run (a directory with a ``checkpoint`` file, or a list of paths)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = run_checkpoints(paths)
    paths = [os.fspath(p) for p in paths]
    if len(paths) < 2:
        raise InputError("a series needs at least two checkpoints")
    from ..checkpoint import open_checkpoint
    readers = []
    try:
        for p in paths:
            readers.append(open_checkpoint(p))
        pairs = [(i, i + 1) for i in range(len(paths) - 1)] + \
                [(0, i) for i in range(2, len(paths))]
        totals = [sum(_safe_nbytes(readers[j]) for j in (i, k)) // 2 for i, k in pairs]
        grand = sum(totals) or 1
        base = 0
        results = {}
        with ThreadPoolExecutor(max_workers=workers or _default_workers(),
                                thread_name_prefix="compare") as pool:
            for (i, k), weight in zip(pairs, totals):
                def sub(done, total, _base=base, _w=weight):
                    if progress is not None and total:
                        progress(_base + done * _w // total, grand)
                results[(i, k)] = compare(readers[i], readers[k], keymap=keymap,
                                          name_filter=name_filter, include_other=include_other,
                                          verify=verify, progress=sub, cancel=cancel,
                                          executor=pool)
                base += weight
        if progress is not None:
            progress(grand, grand)
        consecutive = [results[(i, i + 1)] for i in range(len(paths) - 1)]
        from_first = [results[(0, 1)]] + [results[(0, i)] for i in range(2, len(paths))]
        prefixes = [r.prefix for r in readers]
        return Series(paths=prefixes, names=[os.path.basename(p) for p in prefixes],
                      steps=[_step_of(p) for p in prefixes], consecutive=consecutive,
                      from_first=from_first)
    finally:
        for r in readers:
            r.close()


def _step_of(prefix: str) -> int | None:
    """The trailing number of a prefix (ckpt-40 -> 40, model.ckpt-1000 -> 1000)."""
    import re
    m = re.search(r"-(\d+)$", prefix)
    return int(m.group(1)) if m else None


def _safe_nbytes(reader) -> int:
    total = 0
    for k in reader.keys():
        try:
            total += reader.nbytes(k)
        except TensorloupeError:
            pass
    return total
