"""Graph view speed: MobileNetV2's first view, opening a group, a 20,000-node graph.

    /opt/devvenv/bin/python benchmarks/bench_graph.py [--repeat 5]

Prints medians. TensorFlow has no graph view of its own to compare with (TensorBoard can not
open a SavedModel), so the targets are the issue's: first view < 1 s, opening a group
< 200 ms, pan/zoom of a 20,000-node graph at interactive frame rates.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "core"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def median_ms(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance() or QApplication([])

    import tensorloupe.core as core
    from tensorloupe.core import graph as G
    from tensorloupe.core.layout import NestedLayout
    from tensorloupe.gui.panels.graph import GraphPanel, item_size
    from test_layout import synthetic_graph

    path = ROOT / "tests" / "fixtures" / "data" / "saved_models" / "mobilenet_v2"
    panel = GraphPanel()
    panel.resize(1400, 900)
    panel.show()
    app.processEvents()

    def first_view():
        sm = core.open_saved_model(path)
        g = G.graph_for_signature(sm.meta_graph("serve"), "serving_default")
        panel.set_graph(g)
        panel.view.viewport().repaint()
        return g

    g = first_view()
    build = median_ms(lambda: G.graph_for_signature(
        core.open_saved_model(path).meta_graph("serve"), "serving_default"), args.repeat)
    opened = G.default_open_groups(g)
    layout_ms = median_ms(lambda: NestedLayout(g, item_size).layout(opened), args.repeat)
    total = median_ms(first_view, args.repeat)
    print(f"MobileNetV2 serving_default: {len(g.nodes)} ops, {len(g.groups) - 1} groups")
    print(f"  read + build graph            {build:8.1f} ms")
    print(f"  first layout (collapsed)      {layout_ms:8.1f} ms")
    print(f"  open -> painted first view    {total:8.1f} ms   (target < 1000 ms)")

    g = panel.graph
    layers = sorted((x for x in g.groups if x not in panel.open_groups
                     and g.groups[x].parent in panel.open_groups),
                    key=lambda x: -g.groups[x].op_count)
    open_times = []
    for gid in layers[:args.repeat * 2]:
        t = time.perf_counter()
        panel.open_group(gid)
        panel.view.viewport().repaint()
        open_times.append((time.perf_counter() - t) * 1000)
        panel.close_group(gid)
    print(f"  open a layer (and repaint)    {statistics.median(open_times):8.1f} ms   "
          f"(max {max(open_times):.1f}; target < 200 ms)")

    gd = synthetic_graph(20000, 100)
    t = time.perf_counter()
    big = G.graph_for_graph_def(gd)
    build_big = (time.perf_counter() - t) * 1000
    opened = G.default_open_groups(big)
    lay_collapsed = median_ms(lambda: NestedLayout(big, item_size).layout(opened), args.repeat)
    nl = NestedLayout(big, item_size)
    nl.layout(opened)
    blocks = [x for x in big.groups if big.groups[x].parent == G.ROOT]
    one = blocks[len(blocks) // 2]
    lay_open_one = median_ms(lambda: nl.layout(opened | {one}), args.repeat)
    everything = set(big.groups)
    t = time.perf_counter()
    NestedLayout(big, item_size).layout(everything)
    lay_all = (time.perf_counter() - t) * 1000
    print(f"Synthetic graph: {len(big.nodes)} ops, {len(big.groups) - 1} groups "
          f"(build {build_big:.0f} ms)")
    print(f"  layout, collapsed             {lay_collapsed:8.1f} ms")
    print(f"  layout, one block opened      {lay_open_one:8.1f} ms")
    print(f"  layout, every group open      {lay_all:8.1f} ms   ({len(big.nodes)} boxes)")

    panel.set_graph(big, everything)
    view = panel.view
    view.resetTransform()
    view.scale(0.8, 0.8)

    def pan():
        bar = view.verticalScrollBar()
        bar.setValue(bar.value() + 200)
        view.viewport().repaint()

    def zoom():
        view.zoom_by(0.9)
        view.viewport().repaint()
        view.zoom_by(1 / 0.9)
        view.viewport().repaint()

    pan_ms = median_ms(pan, max(10, args.repeat * 4))
    zoom_ms = median_ms(zoom, max(5, args.repeat * 2)) / 2
    view.resetTransform()
    view.scale(0.05, 0.05)
    far_ms = median_ms(pan, max(10, args.repeat * 4))
    print(f"  pan frame, all open, 80%      {pan_ms:8.1f} ms")
    print(f"  zoom frame, all open, 80%     {zoom_ms:8.1f} ms")
    print(f"  pan frame, zoomed out to 5%   {far_ms:8.1f} ms   (level of detail: no text)")
    panel.close()
    panel.deleteLater()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
