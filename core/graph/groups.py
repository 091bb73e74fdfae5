"""Tidying the group tree once a graph is read (weights beside their users, boxes not worth
drawing removed, sizes counted), and which groups a first view opens."""
from __future__ import annotations

from .families import SOURCE_OPS
from .model import CALL_SEP, ROOT, Graph, Group


def _drop_dangling_noops(g: Graph) -> None:
    """NoOps inside opened calls only say "wait for these ops" (automatic control
    dependencies of tf.function): they compute nothing, so the view leaves them out."""
    drop = [nid for nid, n in g.nodes.items()
            if n.op == "NoOp" and CALL_SEP in nid and all(e.control for e in n.outputs)
            and all(e.control for e in n.inputs)]
    for nid in drop:
        _remove_node(g, nid)


def _remove_node(g: Graph, nid: str) -> None:
    node = g.nodes.pop(nid)
    g.groups[node.group].nodes.remove(nid)
    dead = set(id(e) for e in node.inputs) | set(id(e) for e in node.outputs)
    for e in node.outputs:
        g.nodes[e.dst].inputs = [x for x in g.nodes[e.dst].inputs if x is not e]
    for e in node.inputs:
        g.nodes[e.src].outputs = [x for x in g.nodes[e.src].outputs if x is not e]
    g.edges = [e for e in g.edges if id(e) not in dead]


def _lca(g: Graph, group_ids) -> str:
    chains = [[gid] + _group_ancestors(g, gid) for gid in group_ids]
    if not chains:
        return ROOT
    common = set(chains[0])
    for c in chains[1:]:
        common &= set(c)
    for gid in chains[0]:
        if gid in common:
            return gid
    return ROOT


def _group_ancestors(g: Graph, gid: str) -> list[str]:
    out = []
    parent = g.groups[gid].parent
    while parent is not None:
        out.append(parent)
        parent = g.groups[parent].parent
    return out


def _move_sources(g: Graph) -> None:
    """Put weights and constants beside the ops that use them: a source node whose users
    all sit deeper than it moves into the innermost group holding all its users."""
    for nid, node in list(g.nodes.items()):
        if node.op not in SOURCE_OPS or node.inputs or not node.outputs:
            continue
        target = _lca(g, {g.nodes[e.dst].group for e in node.outputs})
        if target == node.group or target in _group_ancestors(g, node.group):
            continue
        g.groups[node.group].nodes.remove(nid)
        node.group = target
        g.groups[target].nodes.append(nid)


def _prune_groups(g: Graph) -> None:
    """Remove empty groups; a scope group holding a single node is replaced by the node."""
    def visit(gid: str) -> bool:
        group = g.groups[gid]
        leaf = not group.groups
        group.groups = [c for c in group.groups if visit(c)]
        if gid == ROOT:
            return True
        if not group.groups and not group.nodes:
            del g.groups[gid]
            return False
        if group.kind == "scope" and leaf and _trivial(g, group):
            for nid in group.nodes:
                g.nodes[nid].group = group.parent
                g.groups[group.parent].nodes.append(nid)
            del g.groups[gid]
            return False
        return True
    visit(ROOT)


def _trivial(g: Graph, group: Group) -> bool:
    """A scope not worth a box: one op with the weights it reads (``dense/MatMul`` holding
    ``dense/MatMul/ReadVariableOp``), or a single node."""
    if len(group.nodes) > 4:
        return False
    ops = [n for n in group.nodes if g.nodes[n].op not in _WEIGHT_OPS]
    return len(ops) <= 1


_WEIGHT_OPS = SOURCE_OPS | {"ReadVariableOp"}


def _count(g: Graph) -> None:
    def visit(gid: str, depth: int) -> tuple[int, int]:
        group = g.groups[gid]
        group.depth = depth
        ops = len(group.nodes)
        params = sum(g.nodes[n].params for n in group.nodes)
        for c in group.groups:
            o, p = visit(c, depth + 1)
            ops += o
            params += p
        group.op_count, group.param_count = ops, params
        return ops, params
    visit(ROOT, 0)


def default_open_groups(g: Graph, budget: int = 400) -> set[str]:
    """The groups to open for a first view: while a single group is all there is to open
    (a call wrapping a call wrapping the model's scope), open it; stop at the first level
    showing several groups, which for a Keras model is its layers."""
    opened: set[str] = set()
    visible = list(g.root.children)
    while True:
        groups = [i for i in visible if i in g.groups and i not in g.nodes]
        if len(groups) != 1:
            break
        only = g.groups[groups[0]]
        if len(visible) - 1 + len(only.children) > budget:
            break
        opened.add(only.id)
        visible.remove(only.id)
        visible.extend(only.children)
    return opened
