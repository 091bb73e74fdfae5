"""Moving the selection through a laid-out graph with the keyboard (no Qt: plain geometry over
``core.layout``'s boxes and routes).

Up and Down follow the edges as drawn: to a box feeding the current one, or fed by it. Left and
Right stay in the same layer of the same group. An open group's frame counts as one box whose
edges are the ones crossing its border.
"""
from __future__ import annotations

from tensorloupe.core.layout import Layout

UP, DOWN, LEFT, RIGHT = "up", "down", "left", "right"


def inside(layout: Layout, item: str, group: str) -> bool:
    """Whether ``item`` is drawn inside the open group ``group`` (at any depth)."""
    box = layout.boxes.get(item)
    while box is not None and box.parent:
        if box.parent == group:
            return True
        box = layout.boxes.get(box.parent)
    return False


def neighbours(layout: Layout, item: str, upwards: bool) -> list[str]:
    """The boxes feeding ``item`` (``upwards``) or fed by it, as the routes connect them."""
    box = layout.boxes.get(item)
    if box is None:
        return []
    found = []
    if box.kind == "open":
        for r in layout.routes:
            a_in, b_in = inside(layout, r.src, item), inside(layout, r.dst, item)
            if upwards and b_in and not a_in:
                found.append(r.src)
            elif not upwards and a_in and not b_in:
                found.append(r.dst)
    else:
        for r in layout.routes:
            if upwards and r.dst == item:
                found.append(r.src)
            elif not upwards and r.src == item:
                found.append(r.dst)
    return list(dict.fromkeys(found))


def _centre(box):
    return box.x + box.w / 2, box.y + box.h / 2


def _closest(layout: Layout, origin, candidates) -> str | None:
    """The candidate nearest to ``origin``'s centre, across first (a chain stays straight)."""
    ox, oy = _centre(origin)

    def distance(c):
        cx, cy = _centre(layout.boxes[c])
        return (abs(cx - ox), abs(cy - oy), c)
    candidates = [c for c in candidates if c in layout.boxes]
    return min(candidates, key=distance) if candidates else None


def same_layer(layout: Layout, item: str) -> list[str]:
    """The other boxes of ``item``'s group in its layer (a layer shares one centre line)."""
    box = layout.boxes[item]
    cy = box.y + box.h / 2
    return [b.id for b in layout.boxes.values()
            if b.id != item and b.parent == box.parent and abs(b.y + b.h / 2 - cy) < 0.5]


def step(layout: Layout, item: str, direction: str) -> str | None:
    """The box to select after pressing ``direction`` on ``item`` (None: stay)."""
    box = layout.boxes.get(item)
    if box is None:
        return None
    if direction in (UP, DOWN):
        return _closest(layout, box, neighbours(layout, item, direction == UP))
    row = same_layer(layout, item)
    if direction == LEFT:
        row = [r for r in row if layout.boxes[r].x < box.x]
        return max(row, key=lambda r: layout.boxes[r].x, default=None)
    row = [r for r in row if layout.boxes[r].x > box.x]
    return min(row, key=lambda r: layout.boxes[r].x, default=None)


def first_inside(layout: Layout, group: str) -> str | None:
    """Where the keyboard goes into an open group: its top box, the leftmost of that layer."""
    kids = [b for b in layout.boxes.values() if b.parent == group]
    if not kids:
        return None
    return min(kids, key=lambda b: (round(b.y + b.h / 2, 1), b.x)).id


def start(layout: Layout, visible) -> str | None:
    """The box to select when nothing is: the top-left one among those in ``visible``
    (x0, y0, x1, y1 in scene coordinates), open frames last; else the top of the graph."""
    x0, y0, x1, y1 = visible

    def shown(b):
        return b.x < x1 and b.x + b.w > x0 and b.y < y1 and b.y + b.h > y0
    boxes = [b for b in layout.boxes.values() if b.kind != "open"]
    pool = [b for b in boxes if shown(b)] or boxes
    if not pool:
        return None
    return min(pool, key=lambda b: (round(b.y, 1), b.x)).id
