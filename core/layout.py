"""Layered (Sugiyama-style) layout of graphs, top to bottom, in pure Python.

``layered(items, sizes, edges)`` lays out one flat graph:

1. cycle removal: a depth-first search reverses the edges that close a loop (they are
   reported as ``back`` edges and drawn upwards);
2. layer assignment: longest path from the sources, then every source (a weight, a
   constant) is moved down to sit just above its first user;
3. edges spanning several layers get a chain of dummy vertices, one per layer crossed;
4. crossing reduction: barycentre sweeps down and up;
5. coordinates: each layer's x positions solve a least-squares problem (be close to the
   mean of your neighbours, keep the boxes apart) exactly by pool-adjacent-violators,
   dummy chains weigh more so long edges come out straight.

``NestedLayout`` lays out a ``core.graph.Graph`` with some groups open: every open group
is laid out on its own (its children: nodes, closed groups as single boxes, open groups
as boxes sized by their own layout), so the cost follows what is visible, not the whole
graph. The ordering of a group's children does not depend on which groups are open, so it
is computed once per group and reused; opening a group only recomputes coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass, field

GAP_X = 24.0
GAP_Y = 36.0
DUMMY_W = 12.0
LOOP_BACK_OPS = frozenset({"NextIteration", "RefNextIteration"})


@dataclass
class LevelLayout:
    """Positions (centres) of one flat graph and the polyline of each edge."""
    pos: dict                      # item -> (cx, cy)
    width: float
    height: float
    routes: dict                   # (a, b) -> list of (x, y) (inner bend points only)
    back: set                      # (a, b) pairs drawn against the flow (loop back edges)
    layer: dict                    # item -> layer index


@dataclass
class _Structure:
    """The size-independent part of a level's layout: layers, order, dummy chains."""
    layers: list                   # list of lists of vertex ids (items or dummy tuples)
    chains: dict                   # (a, b) -> list of dummy ids, top to bottom
    back: set
    layer: dict
    preds: dict                    # vertex -> list of vertices in the layer above
    succs: dict


def _remove_cycles(items, succ) -> set:
    """Edges (a, b) closing a cycle, found by an iterative DFS in item order."""
    state = {}  # 1: on stack, 2: done
    back = set()
    for start in items:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(succ.get(start, ())))]
        while stack:
            node, it = stack[-1]
            advanced = False
            for nxt in it:
                s = state.get(nxt)
                if s == 1:
                    back.add((node, nxt))
                elif s is None:
                    state[nxt] = 1
                    stack.append((nxt, iter(succ.get(nxt, ()))))
                    advanced = True
                    break
            if not advanced:
                state[node] = 2
                stack.pop()
    return back


def _structure(items: list, edges: list, sweeps: int = 4, back_hint=()) -> _Structure:
    index = {v: i for i, v in enumerate(items)}
    pairs = []
    seen = set()
    for a, b in edges:
        if a == b or a not in index or b not in index or (a, b) in seen:
            continue
        seen.add((a, b))
        pairs.append((a, b))
    hinted = set(p for p in pairs if p in set(back_hint))
    succ = {v: [] for v in items}
    has_in = set()
    for a, b in pairs:
        if (a, b) not in hinted:
            succ[a].append(b)
            has_in.add(b)
    # search from the sources first, so the edges found closing loops are the late ones
    starts = [v for v in items if v not in has_in] + [v for v in items if v in has_in]
    back = _remove_cycles(starts, succ) | hinted
    dag = [(b, a) if (a, b) in back else (a, b) for a, b in pairs]
    dag = list(dict.fromkeys(p for p in dag if p[0] != p[1]))
    out = {v: [] for v in items}
    inc = {v: [] for v in items}
    for a, b in dag:
        out[a].append(b)
        inc[b].append(a)
    # longest path layering (Kahn order)
    indeg = {v: len(inc[v]) for v in items}
    layer = {v: 0 for v in items}
    queue = [v for v in items if indeg[v] == 0]
    head = 0
    while head < len(queue):
        v = queue[head]
        head += 1
        lv = layer[v] + 1
        for w in out[v]:
            if layer[w] < lv:
                layer[w] = lv
            indeg[w] -= 1
            if indeg[w] == 0:
                queue.append(w)
    # sources sit just above their first user
    for v in items:
        if not inc[v] and out[v]:
            layer[v] = max(0, min(layer[w] for w in out[v]) - 1)
    n_layers = (max(layer.values()) + 1) if layer else 0
    # dummies
    preds = {v: [] for v in items}
    succs = {v: [] for v in items}
    chains = {}
    layers = [[] for _ in range(n_layers)]
    dummy_layer = {}
    for a, b in dag:
        la, lb = layer[a], layer[b]
        prev = a
        chain = []
        for k in range(la + 1, lb):
            d = ("~", a, b, k)
            preds[d] = [prev]
            succs[d] = []
            succs[prev].append(d)
            dummy_layer[d] = k
            chain.append(d)
            prev = d
        succs[prev].append(b)
        preds[b].append(prev)
        orig = (b, a) if (b, a) in back else (a, b)
        chains[orig] = chain if orig == (a, b) else list(reversed(chain))
    # initial order: depth-first from the sources in item order, so chains stay together
    placed = set()
    order_key = {}
    counter = 0
    for start in items:
        if start in placed or inc[start]:
            continue
        stack = [start]
        while stack:
            v = stack.pop()
            if v in placed:
                continue
            placed.add(v)
            order_key[v] = counter
            counter += 1
            stack.extend(reversed(succs[v]))
    for v in items:
        if v not in placed:
            placed.add(v)
            order_key[v] = counter
            counter += 1
    for v in items:
        layers[layer[v]].append(v)
    for d, k in dummy_layer.items():
        if d not in order_key:
            order_key[d] = order_key.get(d[1], 0) + 0.5
        layers[k].append(d)
    for row in layers:
        row.sort(key=order_key.__getitem__)
    # barycentre sweeps
    pos = {}
    for row in layers:
        for i, v in enumerate(row):
            pos[v] = i
    for _ in range(sweeps):
        for rng, nbrs in ((range(1, n_layers), preds), (range(n_layers - 2, -1, -1), succs)):
            for li in rng:
                row = layers[li]
                keys = {}
                for v in row:
                    ns = nbrs[v]
                    # ties: ops to the left of long edges, so the main column stays put
                    keys[v] = ((sum(pos[u] for u in ns) / len(ns)) if ns else pos[v],
                               isinstance(v, tuple))
                row.sort(key=keys.__getitem__)
                for i, v in enumerate(row):
                    pos[v] = i
    full_layer = dict(layer)
    full_layer.update(dummy_layer)
    return _Structure(layers, chains, back, full_layer, preds, succs)


def _pav(desired, weights, seps):
    """Minimise sum w_i (x_i - d_i)^2 subject to x_{i+1} - x_i >= seps[i] (exact)."""
    n = len(desired)
    offset = [0.0] * n
    for i in range(1, n):
        offset[i] = offset[i - 1] + seps[i - 1]
    # blocks: [weighted sum, weight, count]
    blocks = []
    for i in range(n):
        target = desired[i] - offset[i]
        w = weights[i]
        blocks.append([target * w, w, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, ww, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += ww
            blocks[-1][2] += c
    out = []
    i = 0
    for s, ww, c in blocks:
        value = s / ww
        for _ in range(c):
            out.append(value + offset[i])
            i += 1
    return out


def _coordinates(st: _Structure, widths: dict, heights: dict, gap_x: float, gap_y: float,
                 iterations: int = 6):
    def width(v):
        return widths.get(v, DUMMY_W) if not isinstance(v, tuple) else DUMMY_W

    x = {}
    for row in st.layers:
        cur = 0.0
        for v in row:
            w = width(v)
            x[v] = cur + w / 2
            cur += w + gap_x
        shift = -cur / 2
        for v in row:
            x[v] += shift
    seps_of = []
    for row in st.layers:
        seps_of.append([(width(row[i]) + width(row[i + 1])) / 2 + gap_x
                        for i in range(len(row) - 1)])

    leaves = {v for v, ps in st.preds.items()
              if not isinstance(v, tuple) and not ps and len(st.succs[v]) == 1}

    def place(li, nbrs_list):
        row = st.layers[li]
        if not row:
            return
        desired, weights = [], []
        for v in row:
            total, wsum = 0.0, 0.0
            dummy = isinstance(v, tuple)
            for nbrs in nbrs_list:
                ns = nbrs[v]
                if not dummy:
                    # an op lines up with the ops it is chained to, not with long edges
                    # passing by nor with the constants feeding only it (they come to it)
                    main = [u for u in ns if not isinstance(u, tuple) and u not in leaves]
                    ns = main or [u for u in ns if not isinstance(u, tuple)] or ns
                for u in ns:
                    w = 50.0 if dummy and isinstance(u, tuple) else (
                        0.5 if dummy or isinstance(u, tuple) else 1.0)
                    total += w * x[u]
                    wsum += w
            if wsum:
                desired.append(total / wsum)
                # a constant gives way to the ops it sits beside
                weights.append(wsum * 0.02 if v in leaves else wsum)
            else:
                desired.append(x[v])
                weights.append(0.05)
        for v, nx in zip(row, _pav(desired, weights, seps_of[li])):
            x[v] = nx

    n = len(st.layers)
    for it in range(iterations):
        for li in range(1, n):
            place(li, (st.preds,))
        for li in range(n - 2, -1, -1):
            place(li, (st.succs,))
    for li in range(n):
        place(li, (st.preds, st.succs))
    # straighten dummy chains where the neighbours leave room
    slot = {}
    for row in st.layers:
        for i, v in enumerate(row):
            slot[v] = (row, i)
    def fits(chain, target):
        for d in chain:
            row, i = slot[d]
            if i > 0 and target - x[row[i - 1]] < \
                    (width(row[i - 1]) + DUMMY_W) / 2 + gap_x - 1e-6:
                return False
            if i + 1 < len(row) and x[row[i + 1]] - target < \
                    (width(row[i + 1]) + DUMMY_W) / 2 + gap_x - 1e-6:
                return False
        return True

    for chain in sorted(st.chains.values(), key=len, reverse=True):
        if len(chain) < 2:
            continue
        xs = sorted(x[d] for d in chain)
        for target in [xs[len(xs) // 2]] + xs:
            if fits(chain, target):
                for d in chain:
                    x[d] = target
                break
    # vertical
    y = {}
    top = 0.0
    for row in st.layers:
        h = max((heights.get(v, 0.0) for v in row if not isinstance(v, tuple)), default=0.0)
        h = max(h, 1.0)
        for v in row:
            y[v] = top + h / 2
        top += h + gap_y
    height = max(top - gap_y, 0.0)
    left = min((x[v] - width(v) / 2 for v in x), default=0.0)
    right = max((x[v] + width(v) / 2 for v in x), default=0.0)
    for v in x:
        x[v] -= left
    return x, y, right - left, height


def layered(items: list, sizes: dict, edges: list, *, gap_x: float = GAP_X,
            gap_y: float = GAP_Y, structure: _Structure | None = None,
            back_hint=()) -> LevelLayout:
    """Lay out one flat graph. ``sizes``: item -> (width, height); ``edges``: (a, b)
    pairs (duplicates and self loops are ignored); ``back_hint``: edges known to close a
    loop (TF1 NextIteration -> Merge), reversed first. Positions are box centres, the
    top-left corner of the drawing is (0, 0)."""
    st = structure if structure is not None else _structure(list(items), list(edges),
                                                            back_hint=back_hint)
    widths = {v: sizes[v][0] for v in items}
    heights = {v: sizes[v][1] for v in items}
    x, y, width, height = _coordinates(st, widths, heights, gap_x, gap_y)
    pos = {v: (x[v], y[v]) for v in items}
    routes = {pair: [(x[d], y[d]) for d in chain] for pair, chain in st.chains.items()}
    layer = {v: st.layer[v] for v in items}
    return LevelLayout(pos, width, height, routes, set(st.back), layer)


# ---------------------------------------------------------------------------------------
# Nested layout of a core.graph.Graph

@dataclass
class Box:
    id: str
    x: float          # top-left, scene coordinates
    y: float
    w: float
    h: float
    kind: str         # "node" | "closed" (a closed group) | "open" (an open group's frame)
    parent: str       # id of the open group it is drawn in ("" for the top)

    @property
    def center(self):
        return (self.x + self.w / 2, self.y + self.h / 2)


@dataclass
class Route:
    src: str                      # visible item ids
    dst: str
    points: list                  # polyline, scene coordinates, from src to dst
    control: bool
    back: bool
    edges: list = field(default_factory=list)   # the graph edges drawn by this route


@dataclass
class Layout:
    boxes: dict                   # id -> Box
    routes: list
    width: float
    height: float


class NestedLayout:
    """Lays out a Graph with a set of open groups; caches per-group orderings.

    ``size_of(item_id, graph) -> (w, h)`` gives the size of a node or a closed group."""

    HEADER = 26.0
    PAD = 14.0

    def __init__(self, graph, size_of, header_width=None):
        self.graph = graph
        self.size_of = size_of
        self.header_width = header_width   # group -> width its open frame's title needs
        self._structures: dict = {}
        self._level_pairs: dict = {}       # group id -> list of (a, b)
        self._level_edges: dict = {}       # group id -> {(a, b): [Edge]}
        for gid, a, b, e in graph.level_edges():
            per = self._level_edges.setdefault(gid, {})
            per.setdefault((a, b), []).append(e)
        self._back_hints: dict = {}
        for gid, per in self._level_edges.items():
            self._level_pairs[gid] = list(per.keys())
            self._back_hints[gid] = {pair for pair, edges in per.items()
                                     if any(graph.nodes[e.src].op in LOOP_BACK_OPS
                                            for e in edges)}
        self._sizes: dict = {}

    def _size(self, item):
        s = self._sizes.get(item)
        if s is None:
            s = self._sizes[item] = self.size_of(item, self.graph)
        return s

    def structure(self, gid):
        st = self._structures.get(gid)
        if st is None:
            items = self.graph.groups[gid].children
            st = self._structures[gid] = _structure(items, self._level_pairs.get(gid, []),
                                                    back_hint=self._back_hints.get(gid, ()))
        return st

    def layout(self, open_groups) -> Layout:
        g = self.graph
        open_groups = set(open_groups) | {""}
        levels = {}

        def lay(gid):
            items = g.groups[gid].children
            sizes = {}
            for item in items:
                if item in g.groups and item not in g.nodes and item in open_groups:
                    lay(item)
                    lv = levels[item]
                    head = self.header_width(g.groups[item]) if self.header_width else 0.0
                    sizes[item] = (max(lv.width + 2 * self.PAD, self._size(item)[0], head),
                                   lv.height + 2 * self.PAD + self.HEADER)
                else:
                    sizes[item] = self._size(item)
            levels[gid] = layered(items, sizes, (), structure=self.structure(gid))
            levels[gid].sizes = sizes

        lay("")
        boxes = {}

        def place(gid, ox, oy):
            lv = levels[gid]
            for item, (cx, cy) in lv.pos.items():
                w, h = lv.sizes[item]
                bx, by = ox + cx - w / 2, oy + cy - h / 2
                if item in levels and item != gid:
                    boxes[item] = Box(item, bx, by, w, h, "open", gid)
                    inner = levels[item]
                    place(item, bx + (w - inner.width) / 2, by + self.HEADER + self.PAD)
                else:
                    kind = "closed" if item in g.groups and item not in g.nodes else "node"
                    boxes[item] = Box(item, bx, by, w, h, kind, gid)
            lv.origin = (ox, oy)

        place("", 0.0, 0.0)
        routes = self._routes(levels, boxes, open_groups)
        top = levels[""]
        return Layout(boxes, routes, top.width, top.height)

    def _routes(self, levels, boxes, open_groups):
        g = self.graph
        routes = {}
        visible_cache = {}

        def visible(nid):
            v = visible_cache.get(nid)
            if v is None:
                v = visible_cache[nid] = g.visible_item(nid, open_groups)
            return v

        for gid, lv in levels.items():
            ox, oy = lv.origin
            for pair, edges in self._level_edges.get(gid, {}).items():
                bends = [(ox + px, oy + py) for px, py in lv.routes.get(pair, ())]
                back = pair in lv.back
                for e in edges:
                    a, b = visible(e.src), visible(e.dst)
                    if a == b:
                        continue
                    key = (a, b, e.control)
                    r = routes.get(key)
                    if r is None:
                        ba, bb = boxes[a], boxes[b]
                        if back:
                            start = (ba.x + ba.w / 2, ba.y)
                            end = (bb.x + bb.w / 2, bb.y + bb.h)
                        else:
                            start = (ba.x + ba.w / 2, ba.y + ba.h)
                            end = (bb.x + bb.w / 2, bb.y)
                        r = routes[key] = Route(a, b, [start] + bends + [end], e.control, back)
                    r.edges.append(e)
        # a data route makes a control route between the same boxes redundant
        out = []
        for (a, b, control), r in routes.items():
            if control and (a, b, False) in routes:
                continue
            out.append(r)
        return out
