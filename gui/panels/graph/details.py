"""The side pane's HTML: a graph's summary, a node's facts, inputs, outputs and attributes,
a group's counts. Links: ``node:<id>`` selects a node, ``fn:<name>`` opens a function.

Attributes come decoded from ``core.graph`` (``Node.attributes()``); this module only lays
them out.
"""
from __future__ import annotations

import html
from urllib.parse import quote

from tensorloupe.core import graph as G

# the attributes of a call worth showing on its group: what it calls and with which types
CALL_ATTRIBUTES = ("f", "Tin", "Tout")


def link(kind: str, target: str, text: str) -> str:
    return f'<a href="{kind}:{quote(target, safe="")}">{html.escape(text)}</a>'


def attribute_html(attr: G.Attribute, library_names=()) -> str:
    """One decoded attribute as HTML: functions as links (a single function only when the
    graph's library has it; a list of them always)."""
    if attr.kind == "func":
        name = attr.value
        return link("fn", name, name) if name in library_names else html.escape(name)
    if attr.functions:
        return ", ".join(link("fn", name, name) for name in attr.functions)
    return html.escape(attr.text)


def summary_html(g: G.Graph) -> str:
    """What the pane shows while nothing is selected."""
    fam = {}
    for n in g.nodes.values():
        fam[n.family] = fam.get(n.family, 0) + 1
    rows = "".join(f"<tr><td>{html.escape(G.FAMILY_LABELS[k])}</td><td align=right>{v}</td></tr>"
                   for k, v in sorted(fam.items(), key=lambda kv: -kv[1]))
    hidden = (f"<p>{len(g.hidden)} save/restore nodes are hidden.</p>" if g.hidden else "")
    return (f"<h3>{html.escape(g.title)}</h3><p>{g.root.op_count} ops in "
            f"{len(g.groups) - 1} groups, {g.root.param_count:,} parameters.</p>{hidden}"
            f"<table>{rows}</table><p style='color:#666'>Double-click a box to open it; "
            f"select a node to see its attributes. Ctrl+F finds a node. In the graph, the "
            f"arrow keys follow the edges, Enter opens a box, Esc closes its group, F fits "
            f"(again: all of it).</p>")


def _edge_row(g: G.Graph, e, incoming: bool) -> str:
    other = e.src if incoming else e.dst
    node = g.nodes[other]
    name = node.label if node.op == G.OUTPUT_OP else node.name
    port = "" if e.control else f":{e.src_index}"
    label = "control" if e.control else g.edge_label(e)
    text = f"^{name}" if e.control else f"{name}{port}" if incoming else name
    return f"<li>{link('node', other, text)} <span style='color:#666'>{html.escape(label)}</span></li>"


def node_html(g: G.Graph, node: G.Node) -> str:
    out = [f"<h3>{html.escape(node.op)}</h3><p><b>{html.escape(node.name)}</b></p>"]
    where = g.ancestors(node.id)
    calls = [g.groups[x] for x in where if g.groups[x].kind == "call"]
    if node.function:
        out.append(f"<p>in function {link('fn', node.function, node.function)}</p>")
    if calls:
        out.append("<p>inside call " + " ← ".join(html.escape(c.name) for c in calls) + "</p>")
    if node.label and node.label != node.name:
        out.append(f"<p>{html.escape(node.label)}</p>")
    for k, v in node.info.items():
        out.append(f"<p>{html.escape(str(k))}: {html.escape(str(v))}</p>")
    if node.params:
        out.append(f"<p>{node.params:,} parameters</p>")
    traced = g.trace.get(node.id) if g.trace else None
    if traced:
        bits = []
        if traced.get("seconds") is not None:
            bits.append(f"{float(traced['seconds']) * 1000:.3f} ms")
        if traced.get("nan"):
            bits.append("<b style='color:#c00'>NaN/Inf in output</b>")
        out.append("<p>run: " + ", ".join(bits) + "</p>")
    if node.inputs:
        out.append("<p><b>Inputs</b></p><ul>" +
                   "".join(_edge_row(g, e, True) for e in node.inputs) + "</ul>")
    if node.outputs:
        out.append("<p><b>Outputs</b></p><ul>" +
                   "".join(_edge_row(g, e, False) for e in node.outputs[:50]) + "</ul>")
        if len(node.outputs) > 50:
            out.append(f"<p>… {len(node.outputs) - 50} more</p>")
    attrs = node.attributes()
    if attrs:
        names = g.function_names()
        rows = "".join(f"<tr><td valign=top><i>{html.escape(a.name)}</i></td>"
                       f"<td>{attribute_html(a, names)}</td></tr>" for a in attrs)
        out.append(f"<p><b>Attributes</b></p><table cellspacing=3>{rows}</table>")
    return "".join(out)


def group_html(g: G.Graph, group: G.Group, is_open: bool) -> str:
    kind = "call of " + link("fn", group.function, group.function) if group.kind == "call" \
        else "name scope"
    out = [f"<h3>{html.escape(group.name)}</h3><p>{kind}</p>",
           f"<p>{group.op_count} ops, {group.param_count:,} parameters</p>",
           (f"<p style='color:#666'>Double-click to {'close' if is_open else 'open'} "
            f"({'Esc' if is_open else 'Enter'}).</p>")]
    if group.call is not None:
        names = g.function_names()
        rows = "".join(f"<tr><td><i>{html.escape(a.name)}</i></td>"
                       f"<td>{attribute_html(a, names)}</td></tr>"
                       for a in group.call.attributes() if a.name in CALL_ATTRIBUTES)
        out.append(f"<table>{rows}</table>")
    ops = {}
    for nid in g.descendant_nodes(group.id):
        op = g.nodes[nid].op
        ops[op] = ops.get(op, 0) + 1
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td align=right>{v}</td></tr>"
                   for k, v in sorted(ops.items(), key=lambda kv: -kv[1])[:25])
    out.append(f"<p><b>Ops</b></p><table>{rows}</table>")
    return "".join(out)
