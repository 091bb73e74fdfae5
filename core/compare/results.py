"""What a comparison produces: one ``VariableDiff`` per aligned variable, per-layer
``LayerSummary`` aggregates and the ``Comparison`` holding them, with their statuses,
groups, JSON forms and the number formatting the command line and the window share.
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
    error: str | None = None

    @property
    def common(self) -> bool:
        return self.key_a is not None and self.key_b is not None

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

    def sort_key(self) -> tuple:
        """Most changed first: by relative change, then fraction of elements, then name."""
        rel = self.rel_change
        frac = self.fraction_changed
        rel = -1.0 if rel is None or math.isnan(rel) else rel
        return (-rel, -(frac or 0.0), self.name)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rel_change"] = self.rel_change
        d["fraction_changed"] = self.fraction_changed
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
    sum_sq_diff: float = 0.0

    @property
    def rel_change(self) -> float | None:
        if self.sum_sq_a > 0:
            return math.sqrt(self.sum_sq_diff / self.sum_sq_a)
        if self.variables and self.changed_variables == 0:
            return 0.0
        return math.inf if self.sum_sq_diff > 0 else None

    @property
    def fraction_changed(self) -> float:
        return self.params_changed / self.params if self.params else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
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

    def sorted(self, group: str | None = None) -> list[VariableDiff]:
        """Common variables, most changed first (optionally one group only)."""
        out = [v for v in self.variables if v.common and (group is None or v.group == group)]
        return sorted(out, key=VariableDiff.sort_key)

    def layers(self, group: str | None = None, depth: int | None = None) -> list[LayerSummary]:
        return aggregate(self.variables, group=group, depth=depth)

    def summary(self) -> dict:
        return {s: self.count(s) for s in STATUSES}

    def to_dict(self) -> dict:
        return {
            "a": self.path_a, "b": self.path_b, "identical": self.identical,
            "summary": self.summary(),
            "variables": [v.to_dict() for v in sorted(self.variables, key=VariableDiff.sort_key)],
            "layers": [s.to_dict() for s in self.layers()],
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


def aggregate(variables: Iterable[VariableDiff], group: str | None = None,
              depth: int | None = None) -> list[LayerSummary]:
    """Per-layer sums over common variables, most changed first.

    ``depth`` groups by the first ``depth`` components of the readable name instead of
    the layer.
    """
    out: dict[tuple[str, str], LayerSummary] = {}
    for v in variables:
        if not v.common or v.status in (SHAPE_CHANGED, FAILED) or \
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
    summaries = list(out.values())

    def key(s: LayerSummary):
        r = s.rel_change
        return (-(r if r is not None else -1.0), -s.fraction_changed, s.layer)
    return sorted(summaries, key=key)
