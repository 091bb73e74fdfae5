"""Properties of core.layout on graphs TensorFlow wrote and on generated graphs."""
import random

import pytest

import tensorloupe.core as core
from tensorloupe.core import graph as G
from tensorloupe.core.layout import NestedLayout, layered


def _size(item, graph):
    return (120.0, 36.0) if item in graph.nodes else (180.0, 50.0)


def _overlap(a, b, eps=1e-6):
    return (a.x < b.x + b.w - eps and b.x < a.x + a.w - eps and
            a.y < b.y + b.h - eps and b.y < a.y + a.h - eps)


def _inside(inner, outer, eps=1e-6):
    return (inner.x >= outer.x - eps and inner.y >= outer.y - eps and
            inner.x + inner.w <= outer.x + outer.w + eps and
            inner.y + inner.h <= outer.y + outer.h + eps)


def check_layout(graph, layout, open_groups):
    boxes = layout.boxes
    # every visible item has a box; nothing hidden has one
    for nid in graph.nodes:
        vis = graph.visible_item(nid, open_groups)
        assert vis in boxes
    # siblings (boxes drawn in the same open group) never overlap
    by_parent = {}
    for b in boxes.values():
        by_parent.setdefault(b.parent, []).append(b)
    for sibs in by_parent.values():
        sibs.sort(key=lambda b: b.x)
        for i, a in enumerate(sibs):
            for b in sibs[i + 1:]:
                if b.x >= a.x + a.w:
                    break
                assert not _overlap(a, b), (a.id, b.id)
    # groups contain their members
    for b in boxes.values():
        if b.parent:
            assert boxes[b.parent].kind == "open"
            assert _inside(b, boxes[b.parent]), (b.id, b.parent)
    # edges point down, except loop back edges, which point up
    for r in layout.routes:
        ys = [p[1] for p in r.points]
        if r.back:
            assert ys[0] >= ys[-1]
        else:
            assert all(y2 >= y1 - 1e-6 for y1, y2 in zip(ys, ys[1:])), (r.src, r.dst)
        assert r.src in boxes and r.dst in boxes


@pytest.mark.parametrize("name", ["mobilenet_v2", "keras_lstm", "keras_transformer"])
def test_signature_layouts(fixtures_dir, name):
    sm = core.open_saved_model(fixtures_dir / "saved_models" / name)
    g = G.graph_for_signature(sm.meta_graph("serve"), "serving_default")
    nl = NestedLayout(g, _size)
    opened = G.default_open_groups(g)
    first = nl.layout(opened)
    check_layout(g, first, opened)
    closed = [b.id for b in first.boxes.values() if b.kind == "closed"]
    assert closed
    # open one group: its members appear inside its frame
    gid = max(closed, key=lambda x: g.groups[x].op_count)
    more = opened | {gid}
    second = nl.layout(more)
    check_layout(g, second, more)
    assert second.boxes[gid].kind == "open"
    for child in g.groups[gid].children:
        assert child in second.boxes
        assert second.boxes[child].parent == gid
    # closing it again gives the first layout back
    again = nl.layout(opened)
    assert {k: (b.x, b.y) for k, b in again.boxes.items()} == \
        {k: (b.x, b.y) for k, b in first.boxes.items()}
    # everything open
    everything = set(g.groups)
    lay = nl.layout(everything)
    check_layout(g, lay, everything)
    # long edges (residual connections) come out as straight vertical runs
    long_routes = [r for r in lay.routes if len(r.points) > 3]
    straight = [r for r in long_routes if len({round(x, 3) for x, _ in r.points[1:-1]}) == 1]
    assert len(straight) >= 0.8 * len(long_routes)


def test_tf1_loop_layout(fixtures_dir):
    gm = core.open_graph(fixtures_dir / "graphs" / "tf1_loop" / "model.ckpt.meta")
    g = G.build_graph(gm)
    everything = set(g.groups)
    lay = NestedLayout(g, _size).layout(everything)
    check_layout(g, lay, everything)
    back = [r for r in lay.routes if r.back]
    assert back
    assert all(g.nodes[r.src].op == "NextIteration" and g.nodes[r.dst].op == "Merge"
               for r in back)
    assert len(back) == sum(1 for n in g.nodes.values() if n.op == "NextIteration")


def test_tf1_whole_graph_layout(fixtures_dir):
    sm = core.open_saved_model(fixtures_dir / "saved_models" / "half_plus_two")
    mg = sm.meta_graph("serve")
    g = G.graph_for_graph_def(mg.graph_def, saver_def=mg.saver_def)
    for opened in (set(), set(g.groups)):
        check_layout(g, NestedLayout(g, _size).layout(opened), opened)


def _random_dag(n, m, seed):
    rng = random.Random(seed)
    items = [f"n{i}" for i in range(n)]
    edges = set()
    while len(edges) < m:
        a, b = sorted(rng.sample(range(n), 2))
        edges.add((items[a], items[b]))
    return items, sorted(edges)


def _sparse_dag(n, seed):
    """Chains with skip connections, the shape of most networks."""
    rng = random.Random(seed)
    items = [f"n{i}" for i in range(n)]
    edges = set()
    for i in range(1, n):
        edges.add((items[rng.randrange(max(0, i - 3), i)], items[i]))
        if rng.random() < 0.15:
            edges.add((items[rng.randrange(max(0, i - 30), i)], items[i]))
    return items, sorted(edges)


def test_layered_dense_random():
    items, edges = _random_dag(200, 320, 1)
    sizes = {v: (40.0 + (i % 5) * 20, 30.0) for i, v in enumerate(items)}
    lv = layered(items, sizes, edges)
    for a, b in edges:
        assert lv.layer[a] < lv.layer[b]
        assert lv.pos[a][1] < lv.pos[b][1]
        assert len(lv.routes[(a, b)]) == lv.layer[b] - lv.layer[a] - 1
    assert not lv.back


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_layered_properties_random(seed):
    items, edges = _sparse_dag(300, seed)
    sizes = {v: (40.0 + (i % 5) * 20, 30.0) for i, v in enumerate(items)}
    lv = layered(items, sizes, edges)
    for a, b in edges:
        assert lv.layer[a] < lv.layer[b]
        assert lv.pos[a][1] < lv.pos[b][1]
    assert not lv.back
    rows = {}
    for v in items:
        rows.setdefault(lv.layer[v], []).append(v)
    for row in rows.values():
        row.sort(key=lambda v: lv.pos[v][0])
        for a, b in zip(row, row[1:]):
            assert lv.pos[b][0] - lv.pos[a][0] >= (sizes[a][0] + sizes[b][0]) / 2 - 1e-6
    # long edges get one bend per layer crossed; most come out straight
    long_edges = [(a, b) for a, b in edges if lv.layer[b] - lv.layer[a] > 2]
    assert long_edges
    for a, b in long_edges:
        assert len(lv.routes[(a, b)]) == lv.layer[b] - lv.layer[a] - 1
    straight = sum(1 for e in long_edges if len({round(x, 3) for x, _ in lv.routes[e]}) == 1)
    assert straight >= 0.3 * len(long_edges)


def test_chain_is_straight():
    items = [f"v{i}" for i in range(10)]
    edges = list(zip(items, items[1:])) + [("v0", "v9")]
    lv = layered(items, {v: (100.0, 30.0) for v in items}, edges)
    xs = [lv.pos[v][0] for v in items]
    assert max(xs) - min(xs) < 1.5          # the chain is one straight column (to the eye)
    route = lv.routes[("v0", "v9")]
    assert len(route) == 8 and len({x for x, _ in route}) == 1   # the skip edge too
    assert abs(route[0][0] - lv.pos["v0"][0]) >= 100 / 2 + 12 / 2   # beside the chain


def test_cycle_marked_back():
    items = ["a", "b", "c", "d"]
    edges = [("a", "b"), ("b", "c"), ("c", "b"), ("c", "d")]
    lv = layered(items, {v: (50.0, 20.0) for v in items}, edges)
    assert lv.back == {("c", "b")}
    assert lv.layer["a"] < lv.layer["b"] < lv.layer["c"] < lv.layer["d"]
    hinted = layered(items, {v: (50.0, 20.0) for v in items}, edges, back_hint={("b", "c")})
    assert hinted.back == {("b", "c")}


def synthetic_graph(n_nodes=20000, per_group=100, seed=0):
    """A generated graph of ``n_nodes`` ops in name scopes of ``per_group`` (the shape
    of a big model: blocks of layers), used by the benchmark too."""
    from tensorloupe.protos import graph_pb2
    rng = random.Random(seed)
    gd = graph_pb2.GraphDef()
    names = []
    for i in range(n_nodes):
        block, layer = divmod(i // per_group, 10)
        name = f"block_{block}/layer_{layer}/op_{i % per_group}"
        node = gd.node.add(name=name, op=rng.choice(["MatMul", "AddV2", "Relu", "Conv2D"]))
        if names:
            node.input.append(names[-1])
            if i % 7 == 0 and len(names) > 20:
                node.input.append(names[rng.randrange(max(0, len(names) - 300), len(names))])
        names.append(name)
    return gd


def test_synthetic_nested_groups():
    g = G.graph_for_graph_def(synthetic_graph(3000, 50))
    nl = NestedLayout(g, _size)
    opened = G.default_open_groups(g)
    lay = nl.layout(opened)
    check_layout(g, lay, opened)
    assert len(lay.boxes) < 100     # the collapsed view lays out blocks, not 3000 ops
    one = [b for b in lay.boxes if b in g.groups][0]
    check_layout(g, nl.layout(opened | {one}), opened | {one})
