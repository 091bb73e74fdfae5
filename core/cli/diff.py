"""``tensorloupe diff``: what changed between checkpoints, and how variables drifted over a run.

    tensorloupe diff A B                 one table, most changed first, then what exists on one
                                         side only, shape/dtype changes and per-layer totals
    tensorloupe diff A B C ...           a series: drift of every variable from A, step by step
    tensorloupe diff --series DIR        the checkpoints a training directory's `checkpoint` names

Options: ``--top N`` rows per table, ``--filter GLOB`` (repeatable) on readable names or keys,
``--rank-by rms|relative|max_abs`` (what "most changed" means; RMS change by default),
``--all`` (identical variables too), ``--json``,
``--strip-prefix P`` / ``--replace-prefix OLD=NEW`` / ``--map FILE`` for renamed variables,
``--no-verify`` (measure variables whose stored crc32c does not match instead of listing them
under 'Failed'; checks are on by default, ``--verify`` is still accepted), ``--jobs N``.

Counters (global_step, the optimizer's iterations, save_counter) are compared like everything
else, but listed by value on a line of their own (``Counters: global_step 0 -> 10``) rather
than ranked; other one-element variables show their two values in the NOTE column.

Exit status as diff(1): 0 identical, 1 different, 2 trouble (including variables that could
not be read; the rest is still compared and printed).
"""
from __future__ import annotations

import json
import math
import sys

from ..compare import (CHANGED, DTYPE_CHANGED, IDENTICAL, MEASURE_HELP, MEASURE_TITLES, MODEL,
                       ONLY_A, ONLY_B, OPTIMIZER, OTHER, RANK_MEASURES, RMS, SHAPE_CHANGED,
                       Comparison, KeyMap, Series, compare, compare_series, format_measure,
                       format_values, parse_replace)
from ..errors import InputError

_SPARK = "▁▂▃▄▅▆▇█"
_GROUP_TITLES = {MODEL: "Model variables", OPTIMIZER: "Optimizer state", OTHER: "Other tensors"}


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="*", metavar="CHECKPOINT",
                        help="checkpoint prefixes (or their .index file, or a directory)")
    parser.add_argument("--series", metavar="DIR",
                        help="compare every checkpoint of a training directory, oldest first")
    parser.add_argument("--top", type=int, metavar="N", help="at most N rows per table")
    parser.add_argument("--filter", action="append", metavar="GLOB", default=[],
                        help="only variables whose readable name or key matches (repeatable)")
    parser.add_argument("--rank-by", "--rank_by", dest="rank_by", choices=RANK_MEASURES,
                        default=RMS,
                        help="what 'most changed' means: rms (the default) = RMS(B-A) / "
                             "max(RMS(A), RMS(B)), 0 when equal, at most 200%%, finite for "
                             "variables that start at zero; relative = ||B-A|| / ||A|| "
                             "(infinite when A is zero); max_abs = the largest |B-A|")
    parser.add_argument("--all", action="store_true",
                        help="also list identical variables")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--map", metavar="FILE",
                        help='JSON mapping of renamed variables: {"name in A": "name in B"}')
    parser.add_argument("--strip-prefix", action="append", default=[], metavar="PREFIX",
                        help="remove PREFIX from names on both sides before aligning (repeatable)")
    parser.add_argument("--replace-prefix", action="append", default=[], metavar="OLD=NEW",
                        help="rewrite the prefix OLD as NEW before aligning (repeatable)")
    checks = parser.add_mutually_exclusive_group()
    checks.add_argument("--verify", action="store_true",
                        help="check the crc32c of every tensor compared (the default)")
    checks.add_argument("--no-verify", dest="no_verify", action="store_true",
                        help="compare variables whose stored crc32c does not match instead of "
                             "failing them (damaged data; for forensic looks only)")
    parser.add_argument("--jobs", type=int, metavar="N", help="threads to use (default: cores)")


def _keymap(args) -> KeyMap:
    km = KeyMap.from_file(args.map) if args.map else KeyMap()
    km.strip_prefixes = list(args.strip_prefix) + km.strip_prefixes
    km.replace_prefixes = [parse_replace(s) for s in args.replace_prefix] + km.replace_prefixes
    return km


class _Progress:
    """A one-line progress indicator on stderr, only when it is a terminal."""

    def __init__(self):
        self.enabled = sys.stderr.isatty()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < (64 << 20):
            return
        pct = 100.0 * done / total if total else 100.0
        sys.stderr.write(f"\rcomparing... {pct:5.1f}%")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 24 + "\r")
            sys.stderr.flush()


def main(args) -> int:
    if args.top is not None and args.top < 1:
        raise InputError("--top wants a positive number")
    if args.jobs is not None and args.jobs < 1:
        raise InputError("--jobs wants a positive number")
    keymap = _keymap(args)
    unchecked = getattr(args, "no_verify", False)
    options = dict(keymap=keymap, name_filter=args.filter or None,
                   verify=False if unchecked else (True if args.verify else None),
                   workers=args.jobs)
    progress = _Progress()
    from ..checkpoint import verification
    try:
        # The readers a comparison opens (their object graphs too) check as asked.
        with verification(not unchecked):
            if args.series:
                if args.paths:
                    raise InputError("give either --series DIR or checkpoint paths, not both")
                result = compare_series(args.series, progress=progress, **options)
            elif len(args.paths) == 2:
                result = compare(args.paths[0], args.paths[1], progress=progress, **options)
            elif len(args.paths) > 2:
                result = compare_series(args.paths, progress=progress, **options)
            else:
                raise InputError("give two checkpoints to compare (or more, or --series DIR)")
    finally:
        progress.clear()
    if isinstance(result, Series):
        comparisons = result.consecutive + result.from_first
    else:
        comparisons = [result]
    if args.filter and not any(c.variables for c in comparisons):
        raise InputError(f"no variable matches --filter {' '.join(args.filter)}")
    rank_by = getattr(args, "rank_by", RMS)
    if isinstance(result, Series):
        text = json.dumps(result.to_dict(rank_by), indent=1) if args.json \
            else _series_text(result, args)
    else:
        text = json.dumps(result.to_dict(rank_by), indent=1) if args.json \
            else _pair_text(result, args)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    failures = {v.name for c in comparisons for v in c.failures}
    if failures:
        print(f"tensorloupe diff: error: {len(failures)} variable(s) could not be compared "
              f"(listed under 'Failed')", file=sys.stderr)
        return 2
    return 0 if all(c.identical for c in comparisons) else 1


# ---------------------------------------------------------------- formatting


def _pct(x: float | None) -> str:
    from ..compare import format_percent
    return format_percent(x)


def _num(x: float | None) -> str:
    from ..compare import format_number
    return format_number(x)


def _shape(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]" if shape is not None else "-"


def _fraction(v) -> str:
    f = v.fraction_changed
    if f is None:
        return "-"
    if 0 < f < 0.001:
        return "<0.1%"
    return f"{f * 100:.1f}%"


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]

    def line(cells):
        out = []
        for i, c in enumerate(cells):
            out.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        return "  " + "  ".join(out).rstrip()
    return [line(headers)] + [line(r) for r in rows]


def _rank(args) -> str:
    return getattr(args, "rank_by", RMS)


def _ranked_line(args) -> str:
    rank_by = _rank(args)
    return f"Ranked by {MEASURE_TITLES[rank_by]} ({MEASURE_HELP[rank_by]})."


def _note(v) -> str:
    notes = []
    if v.is_scalar and v.status != IDENTICAL:
        notes.append(format_values(v))
    if v.status == DTYPE_CHANGED:
        notes.append(f"dtype {v.dtype_a} -> {v.dtype_b}")
    if v.name_b:
        notes.append(f"B: {v.name_b}")
    for side, nan, inf in (("A", v.nan_a, v.inf_a), ("B", v.nan_b, v.inf_b)):
        if nan or inf:
            notes.append(f"{side}: {nan} NaN, {inf} Inf")
    if v.status == IDENTICAL:
        notes.append("identical")
    return "; ".join(notes)


def _variable_rows(variables, top) -> list[list[str]]:
    rows = []
    for v in variables[:top] if top else variables:
        rows.append([v.name, v.layer, _shape(v.shape_a), v.dtype_a or "-", _pct(v.rms_change),
                     _pct(v.rel_change), _num(v.max_abs_diff),
                     _num(v.cosine) if v.cosine is not None else "-", _fraction(v), _note(v)])
    return rows


def _counters_line(comparison: Comparison) -> str | None:
    counters = comparison.counters()
    if not counters:
        return None
    def one(v) -> str:
        text = f"{v.name} {format_values(v)}"
        if v.status == DTYPE_CHANGED:
            retyped = f"dtype {v.dtype_a} -> {v.dtype_b}"
            text = text[:-1] + f"; {retyped})" if text.endswith(")") else f"{text} ({retyped})"
        return text
    return "Counters: " + ", ".join(one(v) for v in counters)


def _pair_text(result: Comparison, args) -> str:
    lines = [f"A: {result.path_a}", f"B: {result.path_b}"]
    counts = result.summary()
    parts = [f"{n} {s}" for s, n in counts.items() if n]
    lines.append(f"{len(result.variables)} variables: " + (", ".join(parts) or "none"))
    if result.identical and result.variables:
        lines.append("The checkpoints are identical.")
    counters = _counters_line(result)
    if counters:
        lines.append(counters)
    ranked = False
    for group in (MODEL, OPTIMIZER, OTHER):
        members = [v for v in result.sorted(group, _rank(args)) if not v.is_counter and (
            v.status in (CHANGED, DTYPE_CHANGED) or (args.all and v.status == IDENTICAL))]
        if not members:
            continue
        if not ranked:
            lines.append(_ranked_line(args))
            ranked = True
        lines += ["", f"{_GROUP_TITLES[group]}, most changed first:"]
        lines += _table(["NAME", "LAYER", "SHAPE", "DTYPE", "RMS.CHANGE", "REL.CHANGE", "MAX|B-A|",
                         "COSINE", "CHANGED", "NOTE"], _variable_rows(members, args.top),
                        {4, 5, 6, 7, 8})
        if args.top and len(members) > args.top:
            lines.append(f"  ... {len(members) - args.top} more")
    for status, title in ((ONLY_A, "Only in A"), (ONLY_B, "Only in B")):
        members = [v for v in result.variables if v.status == status]
        if members:
            lines += ["", f"{title}:"]
            lines += _table(["NAME", "SHAPE", "DTYPE"],
                            [[v.name, _shape(v.shape_a if status == ONLY_A else v.shape_b),
                              (v.dtype_a if status == ONLY_A else v.dtype_b) or "-"]
                             for v in members], set())
    reshaped = [v for v in result.variables if v.status == SHAPE_CHANGED]
    if reshaped:
        lines += ["", "Shape changed:"]
        lines += _table(["NAME", "A", "B"],
                        [[v.name, f"{v.dtype_a} {_shape(v.shape_a)}", f"{v.dtype_b} {_shape(v.shape_b)}"]
                         for v in reshaped], set())
    failed = result.failures
    if failed:
        lines += ["", "Failed:"]
        lines += [f"  {v.name}: {v.error}" for v in failed]
    for group in (MODEL, OPTIMIZER):
        layers = [s for s in result.layers(group, rank_by=_rank(args))
                  if args.all or s.changed_variables]
        if not layers:
            continue
        title = "Layers" if group == MODEL else "Optimizer state by layer"
        lines += ["", f"{title}, most changed first:"]
        rows = [[s.layer, str(s.variables), str(s.params), _pct(s.fraction_changed),
                 _pct(s.rms_change), _pct(s.rel_change)]
                for s in (layers[:args.top] if args.top else layers)]
        lines += _table(["LAYER", "VARIABLES", "PARAMS", "CHANGED", "RMS.CHANGE", "REL.CHANGE"],
                        rows, {1, 2, 3, 4, 5})
    return "\n".join(lines)


def _spark(values: list[float | None]) -> str:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    top = max(finite) if finite else 0.0
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif not math.isfinite(v):
            out.append("↑")
        elif top <= 0:
            out.append(_SPARK[0])
        else:
            out.append(_SPARK[min(len(_SPARK) - 1, int(v / top * (len(_SPARK) - 1) + 0.5))])
    return "".join(out)


def _series_text(series: Series, args) -> str:
    names = series.names
    label = [f"{n}" for n in names]
    lines = [f"{len(names)} checkpoints, oldest first: " + ", ".join(label)]
    rank_by = _rank(args)
    last = series.from_first[-1]
    frozen = set(series.frozen(group=None))
    counters = series.counters()
    if counters:
        lines.append("Counters: " + ", ".join(
            f"{n} " + " -> ".join("?" if x is None else str(x) for x in values)
            for n, values in counters.items()))
    lines.append(_ranked_line(args))
    for group in (MODEL, OPTIMIZER, OTHER):
        members = [v for v in last.sorted(group, rank_by)
                   if not v.is_counter and (args.all or v.name not in frozen)]
        if not members:
            continue
        rows = []
        for v in members[:args.top] if args.top else members:
            drift = series.drift(v.name, rank_by)
            steps = drift["step"][1:]
            known = [(s, i) for i, s in enumerate(steps, start=1)
                     if s is not None and not math.isnan(s)]
            biggest = max(known) if known else None
            rows.append([v.name, _shape(v.shape_a),
                         format_measure(drift["from_first"][-1], rank_by),
                         f"{format_measure(biggest[0], rank_by)} at {names[biggest[1]]}"
                         if biggest else "-",
                         _spark(drift["from_first"])])
        lines += ["", f"{_GROUP_TITLES[group]}, most drift from {names[0]} first:"]
        lines += _table(["NAME", "SHAPE", f"FROM {names[0]}", "LARGEST STEP", "DRIFT"], rows,
                        {2, 3})
        if args.top and len(members) > args.top:
            lines.append(f"  ... {len(members) - args.top} more")
    model_frozen = series.frozen()
    lines += ["", "Frozen (identical in every checkpoint):" if model_frozen
              else "Frozen: none (every model variable changed at least once)"]
    lines += [f"  {n}" for n in model_frozen]
    for title, status in (("Only in some checkpoints", (ONLY_A, ONLY_B)),
                          ("Shape or dtype changed", (SHAPE_CHANGED, DTYPE_CHANGED))):
        seen = sorted({v.name for c in series.consecutive for v in c.variables if v.status in status})
        if seen:
            lines += ["", f"{title}:"] + [f"  {n}" for n in seen]
    failed = {}
    for i, c in enumerate(series.consecutive):
        for v in c.failures:
            failed.setdefault(v.name, f"{names[i]} -> {names[i + 1]}: {v.error}")
    if failed:
        lines += ["", "Failed:"] + [f"  {n}: {e}" for n, e in failed.items()]
    return "\n".join(lines)


__all__ = ["add_arguments", "main"]
