"""``tensorloupe scan``: report denylisted ops in a SavedModel, as ``saved_model_cli scan``.

    tensorloupe scan --dir D [--tag_set T] [--op_denylist A,B]

Without --tag_set every MetaGraph is scanned, in file order. The default denylist is
saved_model_cli's: WriteFile, ReadFile, PrintV2 (an empty --op_denylist also means the
default, as there). Sets are printed sorted; TensorFlow prints them in hash order.
"""
from __future__ import annotations

import sys

DEFAULT_DENYLIST = frozenset({"WriteFile", "ReadFile", "PrintV2"})


def add_arguments(parser):
    parser.add_argument("--dir", required=True, help="directory containing the SavedModel")
    parser.add_argument("--tag_set", default=None,
                        help="comma-separated tags of the MetaGraphDef to scan (default: all)")
    parser.add_argument("--op_denylist", default=None,
                        help="comma-separated ops to report (default: WriteFile,ReadFile,PrintV2)")


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


def main(args) -> int:
    from ..saved_model import open_saved_model
    from .show import _checked_tags

    sm = open_saved_model(args.dir)
    denylist = parse_denylist(args.op_denylist)
    if args.tag_set:
        graphs = [sm.meta_graph(_checked_tags(args.tag_set))]
    else:
        graphs = sm.meta_graphs
    out = []
    for mg in graphs:
        out.append(scan_meta_graph(mg, denylist)[1] + "\n")
    sys.stdout.write("".join(out))
    return 0
