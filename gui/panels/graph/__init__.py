"""The graph view: a signature's computation, a function or a whole graph, opened layer by layer.

    items    the scene's boxes and edges, their colours and sizes
    view     GraphView: pan, zoom, the keys it hands to the panel (fit, walking the graph)
    navigate where the arrow keys go from a box (plain geometry over the layout)
    minimap  the overview, in a strip of the view's own while the graph does not fit it
    export   PNG and SVG pictures, and the names and folder the save dialog proposes
    details  the side pane's HTML for a graph, a node, a group
    panel    GraphPanel (toolbar, view, details; builds and lays out in a worker)
    source   which graph a tree item shows
    tab      GraphTab (built when shown) and the window's Details | Graph bar
    host     GraphHost: the window's Ctrl+G, "Show in graph", tree <-> graph selection;
             select_for_graph for ``tensorloupe gui PATH --graph``
    window   show_graph: a window with only the graph

The graph itself (nodes, groups, decoded attributes) comes from ``core.graph``, its layout
from ``core.layout``.
"""
from __future__ import annotations

from tensorloupe.core.graph import trace_for_graph

from . import items
from .details import group_html, node_html, summary_html
from .host import GraphHost, select_for_graph
from .items import item_size
from .minimap import Minimap
from .panel import COLOR_MODES, GraphPanel, Prepared, prepare
from .source import graph_key, graph_source
from .tab import GraphTab, SideTabs
from .view import GraphView
from .window import show_graph

__all__ = [
    "GraphPanel", "GraphView", "Minimap", "GraphTab", "SideTabs", "GraphHost",
    "Prepared", "prepare", "COLOR_MODES", "item_size", "items",
    "node_html", "group_html", "summary_html", "graph_source", "graph_key",
    "select_for_graph", "show_graph", "trace_for_graph",
]
