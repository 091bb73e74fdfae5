"""What a comparison produces: one ``VariableDiff`` per aligned variable, per-layer
``LayerSummary`` aggregates and the ``Comparison`` holding them, with their statuses,
groups, JSON forms and the number formatting the command line and the window share.

Rankings ("most changed first") are by one of ``RANK_MEASURES``:

    rms        RMS(B - A) / max(RMS(A), RMS(B)): 0 when equal, at most 2 (B = -A), and finite
               whenever either side is non-zero, so a tensor that starts at zero (a bias, an
               optimizer slot) reads 100% instead of "infinitely" changed. The default.
    relative   ||B - A|| / ||A||, the classic relative change (inf when A is all zeros).
    max_abs    the largest |B - A| of any element.

Counters (integer scalars such as global_step, iterations, save_counter) always change in
training and say nothing about the weights: they are kept out of the rankings and the
per-layer sums, and reported as their two values instead (``Comparison.counters()``).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Iterable

# Status of one aligned variable.
IDENTICAL = "identical"
CHANGED = "changed"
ONLY_A = "only in A"
ONLY_B = "only in B"
SHAPE_CHANGED = "shape changed"
DTYPE_CHANGED = "dtype changed"
FAILED = "failed"
STATUSES = (CHANGED, DTYPE_CHANGED, SHAPE_CHANGED, ONLY_A, ONLY_B, FAILED, IDENTICAL)

# Groups: model weights apart from optimizer state (slots and the optimizer's own variables).
MODEL = "model"
OPTIMIZER = "optimizer"
OTHER = "other"

# What "most changed" means: see the module's docstring.
RMS = "rms"
RELATIVE = "relative"
MAX_ABS = "max_abs"
RANK_MEASURES = (RMS, RELATIVE, MAX_ABS)
MEASURE_TITLES = {RMS: "RMS change", RELATIVE: "relative change", MAX_ABS: "max |B-A|"}
MEASURE_HELP = {RMS: "RMS(B-A) / max(RMS(A), RMS(B)), 0 to 200%",
                RELATIVE: "||B-A|| / ||A||, infinite when A is zero",
                MAX_ABS: "largest |B-A| of any element"}


def check_measure(rank_by: str) -> str:
    if rank_by not in RANK_MEASURES:
        raise ValueError(f"rank_by is one of {', '.join(RANK_MEASURES)}, not {rank_by!r}")
    return rank_by


@dataclass
class VariableDiff:
    """One aligned variable: where it is on each side, its status and its metrics."""
    name: str                       # readable name (A's, or B's when only in B)
    key_a: str | None = None
    key_b: str | None = None
    name_b: str | None = None       # B's readable name when it differs (renamed)
    kind: str = "variable"          # variable / slot / optimizer / other (as core.checkpoint.names)
    group: str = MODEL              # model / optimizer / other
    layer: str = ""                 # what the per-layer aggregates group by
    slot_of: str | None = None      # readable name of the variable a slot belongs to
    slot_name: str | None = None
    dtype_a: str | None = None
    dtype_b: str | None = None
    shape_a: tuple | None = None
    shape_b: tuple | None = None
    status: str = CHANGED
    num_elements: int = 0
    nbytes: int = 0                 # bytes of A's data (B's when only in B)
    norm_a: float | None = None
    norm_b: float | None = None
    norm_diff: float | None = None
    max_abs_diff: float | None = None
    cosine: float | None = None
    changed: int | None = None      # elements that differ
    nan_a: int = 0
    nan_b: int = 0
    inf_a: int = 0
    inf_b: int = 0
    value_a: float | int | None = None  # the value itself, for numeric one-element tensors
    value_b: float | int | None = None
    error: str | None = None

    @property
    def common(self) -> bool:
        return self.key_a is not None and self.key_b is not None

    @property
    def is_scalar(self) -> bool:
        """One value on each side, both known: shown as values rather than as a distribution."""
        return self.value_a is not None and self.value_b is not None

    @property
    def is_counter(self) -> bool:
        """An integer scalar on both sides (global_step, iterations, save_counter, step)."""
        return (self.is_scalar and isinstance(self.value_a, int)
                and isinstance(self.value_b, int) and self.status != SHAPE_CHANGED)

    @property
    def value_diff(self) -> float | int | None:
        return self.value_b - self.value_a if self.is_scalar else None

    @property
    def rms_change(self) -> float | None:
        """RMS(B - A) / max(RMS(A), RMS(B)); with one element count on both sides that is
        ||B - A|| / max(||A||, ||B||). 0 for identical variables, None when not measured."""
        if self.status == IDENTICAL:
            return 0.0
        if self.norm_diff is None or self.norm_a is None or self.norm_b is None:
            return None
        top = max(self.norm_a, self.norm_b)
        if top == 0:
            # Both sides zero where finite: only NaN/Inf positions (left out) can differ.
            return 0.0
        return self.norm_diff / top

    @property
    def rel_change(self) -> float | None:
        """||B - A|| / ||A|| (0 for identical variables, inf when A is zero and B is not)."""
        if self.status == IDENTICAL:
            return 0.0
        if self.norm_diff is None or self.norm_a is None:
            return None
        if self.norm_a == 0:
            return 0.0 if self.norm_diff == 0 else math.inf
        return self.norm_diff / self.norm_a

    @property
    def fraction_changed(self) -> float | None:
        if self.changed is None:
            return None
        return self.changed / self.num_elements if self.num_elements else 0.0

    def measure(self, rank_by: str = RMS) -> float | None:
        """The change by one of ``RANK_MEASURES``."""
        if check_measure(rank_by) == RMS:
            return self.rms_change
        if rank_by == RELATIVE:
            return self.rel_change
        return self.max_abs_diff

    def sort_key(self, rank_by: str = RMS) -> tuple:
        """Most changed first: by ``rank_by``, then fraction of elements, then how far the
        elements moved (the RMS of B - A: among variables that started at zero, all at 100%,
        the one that moved most), then name; counters after everything else (they always
        move, and are reported by value)."""
        m = self.measure(rank_by)
        frac = self.fraction_changed
        m = -1.0 if m is None or math.isnan(m) else m
        moved = self.norm_diff / math.sqrt(self.num_elements) \
            if self.norm_diff is not None and self.num_elements else 0.0
        return (self.is_counter, -m, -(frac or 0.0), -moved, self.name)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rms_change"] = self.rms_change
        d["rel_change"] = self.rel_change
        d["fraction_changed"] = self.fraction_changed
        d["counter"] = self.is_counter
        for k in ("shape_a", "shape_b"):
            if d[k] is not None:
                d[k] = list(d[k])
        return {k: _json_number(v) for k, v in d.items()}


def _json_number(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


@dataclass
class LayerSummary:
    """Aggregate over the variables of one layer (scope)."""
    group: str
    layer: str
    variables: int = 0
    changed_variables: int = 0
    params: int = 0
    params_changed: int = 0
    sum_sq_a: float = 0.0           # over variables whose norm is known
    sum_sq_b: float = 0.0
    sum_sq_diff: float = 0.0
    max_abs_diff: float | None = None

    @property
    def rel_change(self) -> float | None:
        if self.sum_sq_a > 0:
            return math.sqrt(self.sum_sq_diff / self.sum_sq_a)
        if self.variables and self.changed_variables == 0:
            return 0.0
        return math.inf if self.sum_sq_diff > 0 else None

    @property
    def rms_change(self) -> float | None:
        """The layer's variables taken as one vector: ||B - A|| / max(||A||, ||B||)."""
        if self.variables and self.changed_variables == 0:
            return 0.0
        top = max(self.sum_sq_a, self.sum_sq_b)
        if top > 0:
            return math.sqrt(self.sum_sq_diff / top)
        return 0.0 if self.max_abs_diff == 0 else None

    def measure(self, rank_by: str = RMS) -> float | None:
        if check_measure(rank_by) == RMS:
            return self.rms_change
        if rank_by == RELATIVE:
            return self.rel_change
        return 0.0 if self.variables and self.changed_variables == 0 else self.max_abs_diff

    @property
    def fraction_changed(self) -> float:
        return self.params_changed / self.params if self.params else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rms_change"] = self.rms_change
        d["rel_change"] = _json_number(self.rel_change)
        d["fraction_changed"] = self.fraction_changed
        return d


@dataclass
class Comparison:
    """Everything ``compare`` found, in alignment order (see ``sorted()`` for most changed first)."""
    path_a: str
    path_b: str
    variables: list[VariableDiff] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for v in self.variables if v.status == status)

    @property
    def identical(self) -> bool:
        return all(v.status == IDENTICAL for v in self.variables)

    @property
    def failures(self) -> list[VariableDiff]:
        return [v for v in self.variables if v.status == FAILED]

    def get(self, name: str) -> VariableDiff | None:
        for v in self.variables:
            if name in (v.name, v.name_b, v.key_a, v.key_b):
                return v
        return None

    def sorted(self, group: str | None = None, rank_by: str = RMS) -> list[VariableDiff]:
        """Common variables, most changed first by ``rank_by`` (optionally one group only);
        counters come last."""
        check_measure(rank_by)
        out = [v for v in self.variables if v.common and (group is None or v.group == group)]
        return sorted(out, key=lambda v: v.sort_key(rank_by))

    def counters(self) -> list[VariableDiff]:
        """The counters (global_step, iterations, save_counter, ...), in alignment order."""
        return [v for v in self.variables if v.is_counter]

    def layers(self, group: str | None = None, depth: int | None = None,
               rank_by: str = RMS) -> list[LayerSummary]:
        return aggregate(self.variables, group=group, depth=depth, rank_by=rank_by)

    def summary(self) -> dict:
        return {s: self.count(s) for s in STATUSES}

    def to_dict(self, rank_by: str = RMS) -> dict:
        return {
            "a": self.path_a, "b": self.path_b, "identical": self.identical,
            "rank_by": check_measure(rank_by),
            "summary": self.summary(),
            "counters": [{"name": v.name, "a": v.value_a, "b": v.value_b}
                         for v in self.counters()],
            "variables": [v.to_dict() for v in
                          sorted(self.variables, key=lambda v: v.sort_key(rank_by))],
            "layers": [s.to_dict() for s in self.layers(rank_by=rank_by)],
        }


def format_percent(x: float | None, missing: str = "-") -> str:
    """A relative change for people: 0%, 3.7%, 1,250%, 4.2e-03% for tiny ones."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return missing
    if math.isinf(x):
        return "∞ (A = 0)"
    if x == 0:
        return "0%"
    if x < 1e-4:
        return f"{x * 100:.1e}%"
    if x >= 10:
        return f"{x * 100:,.0f}%"
    return f"{x * 100:.3g}%"


def format_number(x: float | None, missing: str = "-") -> str:
    return missing if x is None else f"{x:.4g}"


def format_measure(x: float | None, rank_by: str = RMS, missing: str = "-") -> str:
    """A change by ``rank_by``: a percentage for the relative measures, a number for max_abs."""
    if check_measure(rank_by) == MAX_ABS:
        return format_number(x, missing)
    return format_percent(x, missing)


def format_value(x: float | int | None, missing: str = "-") -> str:
    """A scalar's value: integers in full, floats to 6 significant digits."""
    if x is None:
        return missing
    if isinstance(x, int):
        return str(x)
    return f"{x:.6g}"


def format_values(v: VariableDiff, arrow: str = "->") -> str:
    """``0 -> 200`` for a scalar variable (``5 (unchanged)`` when equal)."""
    if v.value_a == v.value_b:
        return f"{format_value(v.value_a)} (unchanged)"
    return f"{format_value(v.value_a)} {arrow} {format_value(v.value_b)}"


def aggregate(variables: Iterable[VariableDiff], group: str | None = None,
              depth: int | None = None, rank_by: str = RMS) -> list[LayerSummary]:
    """Per-layer sums over common variables (counters left out), most changed first by
    ``rank_by``.

    ``depth`` groups by the first ``depth`` components of the readable name instead of
    the layer.
    """
    check_measure(rank_by)
    out: dict[tuple[str, str], LayerSummary] = {}
    for v in variables:
        if not v.common or v.status in (SHAPE_CHANGED, FAILED) or v.is_counter or \
                (group is not None and v.group != group):
            continue
        layer = "/".join(v.name.split("/")[:depth]) if depth else v.layer
        s = out.setdefault((v.group, layer), LayerSummary(v.group, layer))
        s.variables += 1
        s.params += v.num_elements
        if v.status != IDENTICAL:
            s.changed_variables += 1
        s.params_changed += v.changed or 0
        if v.norm_diff is not None:
            s.sum_sq_diff += v.norm_diff ** 2
        if v.norm_a is not None:
            s.sum_sq_a += v.norm_a ** 2
        if v.norm_b is not None:
            s.sum_sq_b += v.norm_b ** 2
        if v.max_abs_diff is not None:
            s.max_abs_diff = max(s.max_abs_diff or 0.0, v.max_abs_diff)
    summaries = list(out.values())

    def key(s: LayerSummary):
        r = s.measure(rank_by)
        r = -1.0 if r is None or math.isnan(r) else r
        return (-r, -s.fraction_changed, s.layer)
    return sorted(summaries, key=key)
