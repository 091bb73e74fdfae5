"""``tensorloupe show``: what a SavedModel holds, printed exactly as ``saved_model_cli show``.

Modes (saved_model_cli's flags, also accepted as ``--flag=value``):
    --dir D                          the tag-sets
    --dir D --tag_set T              the signature keys of one MetaGraph
    --dir D --tag_set T --signature_def K   one signature's inputs and outputs
    --dir D --tag_set T --list_ops   the ops of one MetaGraph (then the keys)
    --dir D --all                    everything, and for TF2 models the concrete functions

Two things TensorFlow prints in an order that changes from run to run are printed sorted
here: the set of ops and the keys of dict arguments. The rest is byte for byte the same.
"""
from __future__ import annotations

import sys

from ..errors import InputError

_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n"}


def _flag_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    import argparse
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_bool_flag(parser, name: str, help_text: str):
    """An absl-style boolean flag: --name, --name=true/false, --noname."""
    parser.add_argument(f"--{name}", nargs="?", const=True, default=False, type=_flag_bool,
                        metavar="BOOL", help=help_text)
    parser.add_argument(f"--no{name}", dest=name, action="store_false", help="")


def add_arguments(parser):
    parser.add_argument("--dir", required=True, help="directory containing the SavedModel")
    parser.add_argument("--tag_set", default=None,
                        help="comma-separated tags that identify a MetaGraphDef")
    parser.add_argument("--signature_def", default=None,
                        help="a SignatureDef key whose inputs and outputs to show")
    add_bool_flag(parser, "all", "show everything in the SavedModel")
    add_bool_flag(parser, "list_ops", "list the ops used by the MetaGraphDef given by --tag_set")


def main(args) -> int:
    out = []
    write = out.append
    try:
        render(args, write)
    finally:
        sys.stdout.write("".join(out))
        sys.stdout.flush()
    return 0


def render(args, write) -> None:
    """Write the text of one ``show`` invocation through ``write``."""
    from ..saved_model import open_saved_model

    sm = open_saved_model(args.dir)
    if args.all:
        show_all(sm, write)
        return
    if args.tag_set is None:
        if args.list_ops:
            write("--list_ops must be paired with a tag-set or with --all.\n")
        show_tag_sets(sm, write)
        return
    mg = sm.meta_graph(_checked_tags(args.tag_set))
    if args.list_ops:
        show_ops(mg, write)
    if args.signature_def is None:
        write("The given SavedModel MetaGraphDef contains SignatureDefs with the "
              "following keys:\n")
        for key in sorted(mg.proto.signature_def.keys()):
            write(f'SignatureDef key: "{key}"\n')
    else:
        show_inputs_outputs(mg, args.signature_def, 0, write)


def _checked_tags(tag_set: str) -> str:
    tags = [t.strip() for t in tag_set.split(",") if t and t.strip()]
    if not tags:
        raise InputError("tag_set must contain at least one non-empty item.")
    return ",".join(tags)


def show_tag_sets(sm, write) -> None:
    write("The given SavedModel contains the following tag-sets:\n")
    for tags in sorted(list(t) for t in sm.tag_sets):
        write(repr(", ".join(sorted(tags))) + "\n")


def _py_set(items) -> str:
    items = sorted(items)
    if not items:
        return "set()"
    return "{" + ", ".join(repr(i) for i in items) + "}"


def show_ops(mg, write) -> None:
    write(f"The MetaGraph with tag set {list(mg.tags)!r} contains the following ops: "
          f"{_py_set(mg.ops_used())}\n")


def show_inputs_outputs(mg, key: str, indent: int, write) -> None:
    sig = mg.signature(key)
    pad = "  " * indent
    write(pad + "The given SavedModel SignatureDef contains the following input(s):\n")
    for k, info in sig.inputs.items():
        write(pad + f"  inputs['{k}'] tensor_info:\n")
        _tensor_info(info, indent + 1, write)
    write(pad + "The given SavedModel SignatureDef contains the following output(s):\n")
    for k, info in sig.outputs.items():
        write(pad + f"  outputs['{k}'] tensor_info:\n")
        _tensor_info(info, indent + 1, write)
    write(pad + f"Method name is: {sig.method_name}\n")


def _tensor_info(info, indent: int, write) -> None:
    pad = "  " * indent
    write(f"{pad}    dtype: {info.dtype_name}\n")
    write(f"{pad}    shape: {info.shape_text}\n")
    write(f"{pad}    name: {info.name}\n")


def show_all(sm, write) -> None:
    for mg in sorted(sm.meta_graphs, key=lambda m: list(m.tags)):
        write(f"\nMetaGraphDef with tag-set: '{', '.join(mg.tags)}' "
              "contains the following SignatureDefs:\n")
        for key in sorted(mg.proto.signature_def.keys()):
            write(f"\nsignature_def['{key}']:\n")
            show_inputs_outputs(mg, key, 1, write)
        show_ops(mg, write)
    show_concrete_functions(sm, write)


# ---------------------------------------------------------------- Concrete Functions

def show_concrete_functions(sm, write) -> None:
    """The "Concrete Functions" section saved_model_cli prints for TF2 SavedModels."""
    if not any(mg.object_graph is not None for mg in sm.meta_graphs):
        return
    write("\nConcrete Functions:")
    if len(sm.meta_graphs) != 1:
        # tf.saved_model.load needs a tags argument here, which saved_model_cli does not
        # pass; its load fails and it prints this.
        write(" N/A (could not be listed due to unknown reasons)\n")
        return
    for listing in sm.meta_graphs[0].concrete_functions():
        write(f"\n  Function Name: '{listing.name}'\n")
        for index, option in enumerate(listing.options, 1):
            if option.args:
                write(f"    Option #{index}\n")
                write("      Callable with:\n")
                _print_args(option.args, "Argument", 4, write)
            if option.kwargs:
                _print_args(option.kwargs, "Named Argument", 4, write)


def _quoted(value) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def _print_args(arguments, argument_type: str, indent: int, write) -> None:
    from ..saved_model import TensorSpecValue

    pad = "  " * indent
    for index, element in enumerate(arguments, 1):
        if indent == 4:
            write(f"{pad}{argument_type} #{index}\n")
        if isinstance(element, str):
            write(f"{pad}  {element}\n")
        elif isinstance(element, TensorSpecValue):
            write("  " * (indent + 1) + f"{element.name}: {element!r}\n")
        elif _iterable(element) and not isinstance(element, dict):
            write(f"{pad}  DType: {type(element).__name__}\n")
            write(f"{pad}  Value: [" + "".join(_quoted(v) + ", " for v in element) + "\b\b]\n")
        elif isinstance(element, dict):
            write(f"{pad}  DType: dict\n")
            write(f"{pad}  Value: {{" + "".join(
                f"'{k}': {_quoted(v)}, " for k, v in element.items()) + "\b\b}\n")
        else:
            write(f"{pad}  DType: {_type_name(element)}\n")
            write(f"{pad}  Value: {element}\n")


def _iterable(value) -> bool:
    if getattr(value, "dims", ()) is None:     # a shape of unknown rank cannot be iterated
        return False
    return hasattr(value, "__iter__")


def _type_name(value) -> str:
    name = getattr(value, "type_name", None)
    if isinstance(name, str):
        return name
    return type(value).__name__
