"""A checkpoint comparison as the comparison window shows it, in plain data.

The texts of the table's cells and their sort values, the background colour of a relative
change, the order and filtering of rows (most changed first by the chosen ``RANK_CHOICES``
measure), the counters line, the values of one-element variables, the labels beside the
plots, the title of a comparison's tab, and where a compared tensor sits in the browser's
tree. No Qt here: ``gui.panels.compare`` wraps these in item models, brushes and plots, and
the tests check them without a display.

Numbers are formatted by ``core.compare.format_percent``/``format_number`` (the command line's
formatting), with an en dash for what is not known.
"""
from __future__ import annotations

import math
import os
from typing import Iterable, Sequence

from .checkpoint.names import SLOT
from .compare import (CHANGED, DTYPE_CHANGED, FAILED, IDENTICAL, MAX_ABS, MEASURE_HELP, MODEL,
                      OPTIMIZER, OTHER, RELATIVE, RMS, SHAPE_CHANGED, Comparison, LayerSummary,
                      VariableDiff, format_number, format_percent, format_value, format_values)

MISSING = "–"  # a cell with no value
ARROW = "→"

# The changes next to the name, so that they show even when the table is narrow.
COLUMNS = ("Name", "RMS change", "Rel. change", "Max |B−A|", "Status", "Layer", "Shape",
           "DType", "Cosine", "Changed", "NaN/Inf", "‖A‖", "‖B‖")
NUMBER_COLUMNS = frozenset(("RMS change", "Rel. change", "Max |B−A|", "Cosine", "Changed",
                            "NaN/Inf", "‖A‖", "‖B‖"))  # right-aligned
RMS_COLUMN = COLUMNS.index("RMS change")
REL_COLUMN = COLUMNS.index("Rel. change")
# The column each rank measure is read in, and the measure each coloured column shows.
MEASURE_COLUMNS = {RMS: "RMS change", RELATIVE: "Rel. change", MAX_ABS: "Max |B−A|"}

# The "Rank by" choices: (measure, label, tooltip), the default first.
RANK_CHOICES = ((RMS, "RMS change", ("RMS(B−A) / max(RMS(A), RMS(B)): 0 when equal, at most "
                                     "200%, and 100% for a variable that starts at zero")),
                (RELATIVE, "Relative change", "‖B−A‖ / ‖A‖ (infinite when A is zero)"),
                (MAX_ABS, "Max |B−A|", MEASURE_HELP[MAX_ABS].capitalize()))

# Rows: model weights first, then optimizer state, then the rest.
_GROUP_ORDER = {MODEL: 0, OPTIMIZER: 1, OTHER: 2}

# The colour scale of a relative change (log10 of it from -6 to 0 mapped onto 0..1).
IDENTICAL_RGB = (236, 244, 236)
INFINITE_RGB = (165, 0, 38)
CHANGE_STOPS = ((0.0, (255, 255, 255)), (0.5, (255, 236, 140)), (0.8, (253, 141, 60)),
                (1.0, (215, 48, 39)))


# ---------------------------------------------------------------- small texts


def dims_text(dims: Sequence[int] | None) -> str:
    """A shape as the comparison shows it: ``[3, 4]``, ``[]`` for a scalar, a dash if unknown."""
    return MISSING if dims is None else "[" + ", ".join(str(d) for d in dims) + "]"


def fraction_text(fraction: float | None) -> str:
    """Share of elements that changed: one decimal, with the smallest non-zero shares marked."""
    if fraction is None:
        return MISSING
    if 0 < fraction < 0.001:
        return "<0.1%"
    return f"{fraction * 100:.1f}%"


# ---------------------------------------------------------------- colour of a change


def change_rgb(rel: float | None, status: str) -> tuple[int, int, int] | None:
    """Background for a relative change: white (1e-6 or less) -> yellow -> red (100% or more),
    pale green for identical variables, dark red for infinite change, None when unknown."""
    if status == IDENTICAL:
        return IDENTICAL_RGB
    if rel is None or math.isnan(rel):
        return None
    if math.isinf(rel):
        return INFINITE_RGB
    t = 0.0 if rel <= 1e-6 else min(1.0, (math.log10(rel) + 6) / 6)
    for (t0, c0), (t1, c1) in zip(CHANGE_STOPS, CHANGE_STOPS[1:]):
        if t <= t1:
            f = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
            return tuple(int(a + (b - a) * f) for a, b in zip(c0, c1))
    return CHANGE_STOPS[-1][1]


def layer_change_rgb(layer: LayerSummary, rank_by: str = RMS) -> tuple[int, int, int] | None:
    """The colour of a layer's bar: its change on the variables' scale (identical when none
    of its variables changed); by RMS change when the bars show max |B−A|, which has no
    scale of its own."""
    value = layer.rms_change if rank_by == MAX_ABS else layer.measure(rank_by)
    return change_rgb(value, CHANGED if layer.changed_variables else IDENTICAL)


# ---------------------------------------------------------------- table rows


def table_rows(comparison: Comparison | None, rank_by: str = RMS) -> list[VariableDiff]:
    """The table's rows: grouped (model weights first), each group most changed first by
    ``rank_by``, counters at the end of their group."""
    if comparison is None:
        return []
    return sorted(comparison.variables,
                  key=lambda v: (_GROUP_ORDER.get(v.group, 3), *v.sort_key(rank_by)))


def status_text(v: VariableDiff) -> str:
    if v.status == SHAPE_CHANGED:
        return f"shape {dims_text(v.shape_a)} → {dims_text(v.shape_b)}"
    if v.status == DTYPE_CHANGED:
        return f"dtype {v.dtype_a} → {v.dtype_b}"
    return v.status


def nonfinite_text(v: VariableDiff) -> str:
    """NaN/Inf counts per side, ``A nan/inf, B nan/inf``; empty when both are all finite."""
    parts = []
    if v.nan_a or v.inf_a:
        parts.append(f"A {v.nan_a}/{v.inf_a}")
    if v.nan_b or v.inf_b:
        parts.append(f"B {v.nan_b}/{v.inf_b}")
    return ", ".join(parts)


def cell_text(v: VariableDiff, column: str) -> str:
    """What the table shows for ``v`` in the column named ``column`` (one of COLUMNS)."""
    if column == "Name":
        return v.name
    if column == "Layer":
        return v.layer
    if column == "Status":
        return status_text(v)
    if column == "Shape":
        return dims_text(v.shape_a if v.shape_a is not None else v.shape_b)
    if column == "DType":
        return v.dtype_a or v.dtype_b or MISSING
    if column == "RMS change":
        if v.is_counter:
            return format_values(v, ARROW)
        return format_percent(v.rms_change, missing=MISSING) if v.common else MISSING
    if column == "Rel. change":
        if v.is_counter:
            return MISSING  # a counter's ratio says nothing (and is infinite from step 0)
        return format_percent(v.rel_change, missing=MISSING) if v.common else MISSING
    if column == "Max |B−A|":
        return format_number(v.max_abs_diff, missing=MISSING)
    if column == "Cosine":
        # one value on each side: the cosine is only its sign, the values say more
        return MISSING if v.cosine is None or v.is_scalar else f"{v.cosine:.6f}"
    if column == "Changed":
        return fraction_text(v.fraction_changed)
    if column == "NaN/Inf":
        return nonfinite_text(v)
    if column == "‖A‖":
        return format_number(v.norm_a, missing=MISSING)
    if column == "‖B‖":
        return format_number(v.norm_b, missing=MISSING)
    return ""


def _metric(x) -> float:
    # Unknown values sort below every real one (all metrics are >= -1).
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return -1.0
    return float(x)


def sort_value(v: VariableDiff, column: str) -> float | int | str:
    """The key the table sorts ``column`` by: numbers for metrics (unknown = -1), the element
    count for shapes, the lower-cased text otherwise."""
    counter = v.is_counter
    metrics = {"RMS change": None if counter else v.rms_change,
               "Rel. change": None if counter else v.rel_change,
               "Max |B−A|": v.max_abs_diff, "Cosine": None if v.is_scalar else v.cosine,
               "Changed": v.fraction_changed, "NaN/Inf": v.nan_a + v.nan_b + v.inf_a + v.inf_b,
               "‖A‖": v.norm_a, "‖B‖": v.norm_b}
    if column in metrics:
        return _metric(metrics[column])
    if column == "Shape":
        return v.num_elements
    return cell_text(v, column).lower()


def tooltip_text(v: VariableDiff) -> str:
    """Where the variable is on each side (keys, renames, slot owner) and why it failed."""
    lines = [v.name]
    if v.name_b:
        lines.append(f"in B: {v.name_b}")
    lines += [f"A key: {v.key_a}" if v.key_a else "not in A",
              f"B key: {v.key_b}" if v.key_b else "not in B"]
    if v.slot_of:
        lines.append(f"slot {v.slot_name} of {v.slot_of}")
    if v.error:
        lines.append(v.error)
    return "\n".join(lines)


def row_matches(v: VariableDiff, text: str = "", group: str = "",
                changed_only: bool = False) -> bool:
    """The table's filter: ``text`` (lower case) in the name or layer, one group, changed only."""
    if group and v.group != group:
        return False
    if changed_only and v.status == IDENTICAL:
        return False
    if text and text not in v.name.lower() and text not in v.layer.lower():
        return False
    return True


def row_of(rows: Sequence[VariableDiff], name: str) -> int:
    """The row of a variable by readable name (A's or B's) or key; -1 when absent."""
    for i, v in enumerate(rows):
        if name in (v.name, v.name_b, v.key_a, v.key_b):
            return i
    return -1


# ---------------------------------------------------------------- labels around the plots


def summary_text(comparison: Comparison) -> str:
    """``12 variables: 7 changed, 2 identical`` (statuses that occur, in core's order)."""
    parts = [f"{n} {status}" for status, n in comparison.summary().items() if n]
    return f"{len(comparison.variables)} variables: " + ", ".join(parts)


def counters_text(comparison: Comparison | None) -> str:
    """The counters line: ``global_step 0 → 200 · save_counter 1 → 5``; empty without any."""
    if comparison is None:
        return ""
    return "  ·  ".join(f"{v.name} {format_values(v, ARROW)}" for v in comparison.counters())


def scalar_rows(v: VariableDiff) -> list[tuple[str, str]]:
    """A one-element variable as values: A, B and B − A (what it shows instead of a
    histogram and a one-cell image)."""
    diff = v.value_diff
    if isinstance(diff, float) and math.isnan(diff):
        diff_text = MISSING
    else:
        diff_text = format_value(diff, MISSING)
        if diff is not None and diff > 0:
            diff_text = "+" + diff_text
    return [("A", format_value(v.value_a, MISSING)), ("B", format_value(v.value_b, MISSING)),
            ("B − A", diff_text)]


def measure_label(rank_by: str) -> str:
    """What a curve or a bar of ``rank_by`` is measured in."""
    return {RMS: "RMS change (%)", RELATIVE: "relative change (%)", MAX_ABS: "max |B−A|"}[rank_by]


def chart_title(rank_by: str) -> str:
    return {RMS: "RMS change per layer, % (model weights)",
            RELATIVE: "Relative change per layer, % (model weights)",
            MAX_ABS: "Max |B−A| per layer (model weights)"}[rank_by]

def failures_text(failures: Sequence[VariableDiff], shown: int = 3) -> str:
    return (f"{len(failures)} variable(s) could not be compared: "
            + "; ".join(f"{v.name}: {v.error}" for v in failures[:shown]))


def has_values(v: VariableDiff) -> bool:
    """Both sides hold comparable values (what the table selects first)."""
    return v.common and v.status not in (SHAPE_CHANGED, FAILED)


def no_details_reason(v: VariableDiff) -> str | None:
    """Why the histograms and the difference image cannot be drawn, or None when they can."""
    if v.status == SHAPE_CHANGED:
        return "the shapes differ"
    if v.status == FAILED:
        return v.error or "it failed"
    if not v.common:
        return "it is not in both checkpoints"
    if "string" in (v.dtype_a, v.dtype_b):
        return "strings"
    return None


def histogram_bins(num_elements: int) -> int:
    """Twice the square root of the element count, kept between 10 and 80 bins."""
    return int(min(80, max(10, 2 * math.sqrt(max(1, num_elements)))))


def slice_label(dims: Sequence[int]) -> str:
    """Above the spin boxes choosing the 2-D slice of an N-D tensor; empty for 2-D or less."""
    return f"Slice of {dims_text(dims)}:" if len(dims) > 2 else ""


def difference_title(index: Sequence[int]) -> str:
    """``B − A`` with the leading index of the slice shown: ``B − A [1, 0, :, :]``."""
    if not index:
        return "B − A "
    return "B − A [" + ", ".join(str(i) for i in index) + ", :, :]"


def layer_label(layer: LayerSummary, width: int = 28) -> str:
    """A layer's bar label: its name (the end of it when long) and its parameter count."""
    name = layer.layer if len(layer.layer) <= width else "…" + layer.layer[-(width - 1):]
    return f"{name} ({layer.params:,})"


def chart_layers(layers: Iterable[LayerSummary], limit: int,
                 rank_by: str = RMS) -> list[LayerSummary]:
    """The layers the bar chart can draw: a finite change, at most ``limit`` of them."""
    out = []
    for s in layers:
        m = s.measure(rank_by)
        if m is not None and math.isfinite(m):
            out.append(s)
    return out[:limit]


def bar_value(layer: LayerSummary, rank_by: str) -> float:
    """A layer's bar: percent for the relative measures, the value itself for max |B−A|."""
    m = layer.measure(rank_by)
    return m if rank_by == MAX_ABS else m * 100


def drift_percent(values: Iterable[float | None]) -> list[float]:
    """Relative changes in percent for a curve: NaN where unknown or infinite (a gap)."""
    return [math.nan if v is None or not math.isfinite(v) else v * 100 for v in values]


def drift_values(values: Iterable[float | None], rank_by: str) -> list[float]:
    """A drift curve's points: percent for the relative measures, as they are for max |B−A|;
    NaN (a gap) where unknown."""
    if rank_by == MAX_ABS:
        return [math.nan if v is None or not math.isfinite(v) else float(v) for v in values]
    return drift_percent(values)


def value_curve(values: Iterable[float | int | None]) -> list[float]:
    """A one-element variable's value at each checkpoint, NaN where unknown."""
    return [math.nan if v is None else float(v) for v in values]


def step_text(names: Sequence[str], position: int, from_first: bool) -> str:
    """The slider's label: the checkpoint at ``position`` and what it is compared with."""
    base = names[0] if from_first else names[position - 1]
    return f"{names[position]}  ({base} → {names[position]})"


def is_pair(paths: Sequence[str]) -> bool:
    """Two checkpoint paths are a pair; one directory, or two directories or more paths, are
    a series."""
    return len(paths) == 2 and not all(os.path.isdir(p) for p in paths)


def checkpoint_name(path: str | os.PathLike) -> str:
    """What a checkpoint is called in titles: its prefix's last part (``ckpt-5``), without
    the ``.index``/``.data-…`` of a file that was picked."""
    name = os.path.basename(os.path.normpath(os.fspath(path)))
    for suffix in (".index", ".meta"):
        if name.endswith(suffix):
            return name[:-len(suffix)]
    if ".data-" in name:
        return name.split(".data-")[0]
    return name


def tab_title(paths: Sequence[str | os.PathLike], count: int | None = None) -> str:
    """The title of a comparison's tab: ``ckpt-1 vs ckpt-5`` for a pair (with their folders
    when the names are the same), ``run (5 checkpoints)`` for a training directory (``count``
    when known), ``ckpt-1 … ckpt-5 (3 checkpoints)`` for a list."""
    paths = [os.fspath(p) for p in paths]
    if is_pair(paths):
        a, b = (checkpoint_name(p) for p in paths)
        if a == b:
            a, b = (f"{checkpoint_name(os.path.dirname(os.path.normpath(p)))}/{checkpoint_name(p)}"
                    for p in paths)
        return f"{a} vs {b}"
    if len(paths) == 1:
        name = checkpoint_name(paths[0])
        return f"{name} ({count} checkpoints)" if count else name
    return f"{checkpoint_name(paths[0])} … {checkpoint_name(paths[-1])} ({len(paths)} checkpoints)"


# ---------------------------------------------------------------- the browser's tree


def tree_labels(names: dict, key: str) -> list[str]:
    """The labels leading to checkpoint ``key`` below the document in the browser's tree.

    ``names`` is the checkpoint's ``readable_names()``. A variable sits at its readable path;
    a slot sits under the variable it belongs to, labelled by its slot name."""
    info = names.get(key)
    readable = info.readable if info is not None else key
    parts = [p for p in readable.split("/") if p]
    if info is not None and info.kind == SLOT and info.slot_of:
        owner = names.get(info.slot_of)
        owner_path = owner.readable if owner is not None else info.slot_of
        parts = [p for p in owner_path.split("/") if p] + [info.slot_name or parts[-1]]
    return parts


def checkpoint_tree_labels(prefix: str | os.PathLike, key: str) -> list[str]:
    """``tree_labels`` for a key of the checkpoint at ``prefix`` (reads its object graph)."""
    from . import open_checkpoint
    with open_checkpoint(prefix) as reader:
        return tree_labels(reader.readable_names(), key)
