"""Which variable of A is which of B: readable names and kinds from each checkpoint's object
graph (or TF1 naming), the group and layer each variable is summed under, and the pairing.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..checkpoint.keys import OBJECT_GRAPH_KEY
from ..errors import TensorloupeError
from .keymap import KeyMap
from .results import MODEL, OPTIMIZER, OTHER


@dataclass
class _Side:
    key: str
    readable: str
    kind: str
    slot_of: str | None
    slot_name: str | None
    layer_path: str | None


def _sides(reader) -> dict[str, _Side]:
    """key -> readable name info, from the reader's object graph (or TF1 naming)."""
    try:
        infos = reader.readable_names()
    except TensorloupeError:
        infos = None  # a damaged object graph: keys still compare
    out = {}
    for key in reader.keys():
        info = infos.get(key) if infos else None
        if info is None:
            readable = key.split("/.ATTRIBUTES/")[0]
            out[key] = _Side(key, readable, "other" if key == OBJECT_GRAPH_KEY else "variable",
                             None, None, None)
        else:
            out[key] = _Side(key, info.readable, info.kind, info.slot_of, info.slot_name,
                             info.layer_path)
    return out


def _group(kind: str) -> str:
    return {"variable": MODEL, "slot": OPTIMIZER, "optimizer": OPTIMIZER}.get(kind, OTHER)


def _layer(side: _Side, sides: dict[str, _Side]) -> str:
    """The scope a variable belongs to, for aggregates: its layer's own name when known."""
    def parent(s: _Side) -> str:
        own = s.layer_path
        if own and "/" in own and own.rsplit("/", 1)[0]:
            return own.rsplit("/", 1)[0]
        return s.readable.rsplit("/", 1)[0] if "/" in s.readable else "(root)"
    if side.kind == "slot" and side.slot_of in sides:
        return f"{parent(sides[side.slot_of])} [{side.slot_name or 'slot'}]"
    if side.kind == "optimizer":
        return side.readable.split("/", 1)[0] if "/" in side.readable else "optimizer"
    return parent(side)


def align(sides_a: dict[str, _Side], sides_b: dict[str, _Side],
          keymap: KeyMap | None = None) -> list[tuple[str | None, str | None]]:
    """Pairs (key in A, key in B); a missing side is None. Order: A's keys, then B's extras."""
    keymap = keymap or KeyMap()
    by_raw_b: dict[str, str] = {}
    by_norm_b: dict[str, str] = {}
    for key, s in sides_b.items():
        by_raw_b.setdefault(key, key)
        by_raw_b.setdefault(s.readable, key)
        by_norm_b.setdefault(keymap.normalize(s.readable), key)
        by_norm_b.setdefault(keymap.normalize(key), key)
    used_b: set[str] = set()
    pairs: list[tuple[str | None, str | None]] = []
    for key, s in sides_a.items():
        target = keymap.pairs.get(key, keymap.pairs.get(s.readable))
        if target is not None:
            kb = by_raw_b.get(target)
        else:
            kb = by_norm_b.get(keymap.normalize(s.readable))
            if kb is None:
                kb = by_norm_b.get(keymap.normalize(key))
        if kb is not None and kb in used_b:
            kb = None
        if kb is not None:
            used_b.add(kb)
        pairs.append((key, kb))
    for key in sides_b:
        if key not in used_b:
            pairs.append((None, key))
    return pairs
