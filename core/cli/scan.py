"""``tensorloupe scan``: report denylisted ops in a SavedModel, as ``saved_model_cli scan``.

    tensorloupe scan --dir D [--tag_set T] [--op_denylist A,B] [--unsupported_ops]
    tensorloupe scan --list_supported_ops

Without --tag_set every MetaGraph is scanned, in file order. The default denylist is
saved_model_cli's: WriteFile, ReadFile, PrintV2 (an empty --op_denylist also means the
default, as there). Sets are printed sorted; TensorFlow prints them in hash order.

``--unsupported_ops`` (ours) also lists every op Tensorloupe's engine cannot run, with the
node and the function it sits in, so a user learns before ``run`` what is missing. It is
opt-in so the default output stays byte-identical to saved_model_cli's; it exits 1 when
anything is unsupported, for scripts. ``--list_supported_ops`` (ours) prints every op the
engine has a kernel for, with a few words on each, and how many there are.
"""
from __future__ import annotations

import sys

DEFAULT_DENYLIST = frozenset({"WriteFile", "ReadFile", "PrintV2"})


def add_arguments(parser):
    parser.add_argument("--dir", default=None, help="directory containing the SavedModel")
    parser.add_argument("--tag_set", default=None,
                        help="comma-separated tags of the MetaGraphDef to scan (default: all)")
    parser.add_argument("--op_denylist", default=None,
                        help="comma-separated ops to report (default: WriteFile,ReadFile,PrintV2)")
    parser.add_argument("--unsupported_ops", action="store_true",
                        help="also list ops that tensorloupe run cannot execute (exit 1 if any)")
    parser.add_argument("--list_supported_ops", action="store_true",
                        help="print every op the engine has a kernel for, one per line with "
                             "what it does, and their count (no --dir needed)")


def parse_denylist(text: str | None) -> frozenset:
    if not text:
        return DEFAULT_DENYLIST
    return frozenset(op.strip() for op in text.split(",") if op and op.strip())


def scan_meta_graph(mg, denylist) -> tuple[list[str], str]:
    """The denylisted ops a MetaGraph uses (sorted) and saved_model_cli's line about it."""
    from .show import _py_set

    found = sorted(set(denylist) & set(mg.ops_used()))
    tags = repr(list(mg.tags))
    if found:
        line = f"MetaGraph with tag set {tags} contains the following denylisted ops: {_py_set(found)}"
    else:
        line = (f"MetaGraph with tag set {tags} does not contain the default denylisted ops: "
                f"{_py_set(denylist)}")
    return found, line


def list_supported_ops() -> str:
    """Every op with a kernel, one line each (``Op: what it does``), then the count."""
    from ..engine import registry
    ops = registry.known_ops()
    lines = [f"{op}: {registry.lookup(op).description}\n" for op in ops]
    lines.append(f"{len(ops)} ops can be run by tensorloupe\n")
    return "".join(lines)


def main(args) -> int:
    from ..errors import InputError
    from ..saved_model import open_saved_model
    from .show import _checked_tags

    if getattr(args, "list_supported_ops", False):
        sys.stdout.write(list_supported_ops())
        if not args.dir:
            return 0
    if not args.dir:
        raise InputError("scan needs --dir (or --list_supported_ops)")

    sm = open_saved_model(args.dir)
    denylist = parse_denylist(args.op_denylist)
    if args.tag_set:
        graphs = [sm.meta_graph(_checked_tags(args.tag_set))]
    else:
        graphs = sm.meta_graphs
    out = []
    missing_any = False
    for mg in graphs:
        out.append(scan_meta_graph(mg, denylist)[1] + "\n")
        if args.unsupported_ops:
            missing, lines = unsupported_lines(mg)
            missing_any = missing_any or missing
            out.extend(lines)
    sys.stdout.write("".join(out))
    return 1 if missing_any else 0


def unsupported_lines(mg) -> tuple[bool, list[str]]:
    """Whether ``mg`` uses ops the engine has no kernel for, and lines naming each and where."""
    from ..engine import unsupported_ops

    missing = unsupported_ops(mg)
    tags = repr(list(mg.tags))
    if not missing:
        return False, [f"MetaGraph with tag set {tags}: every op can be run by tensorloupe\n"]
    by_op: dict[str, list[str]] = {}
    for item in missing:
        where = f"{item.node} in {item.function}" if item.function else item.node
        by_op.setdefault(item.op, []).append(where)
    lines = [f"MetaGraph with tag set {tags} uses {len(by_op)} op(s) tensorloupe cannot run:\n"]
    for op in sorted(by_op):
        places = by_op[op]
        shown = ", ".join(places[:3]) + (f" and {len(places) - 3} more" if len(places) > 3 else "")
        lines.append(f"  {op}: {shown}\n")
    return True, lines
