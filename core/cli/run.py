"""``tensorloupe run``: run a SavedModel signature with numpy, as ``saved_model_cli run``.

    tensorloupe run --dir D --tag_set serve --signature_def serving_default \\
        [--inputs 'k=f.npy;k2=f.npz[name]'] [--input_exprs 'k=np.ones((2,3))'] \\
        [--input_examples 'k=[{"f":[1.0]}]'] [--outdir DIR [--overwrite]] [--allow_pickle] \\
        [--trace] [--max_memory 2GiB] [--max_iterations N] [--timeout SECONDS]

Same flags and output as saved_model_cli: "Result for output key K:" then the array as
numpy prints it, outputs sorted by key; --outdir saves K.npy and refuses to overwrite
unless --overwrite. Values given for the same key by several flags: --input_examples wins
over --input_exprs, which wins over --inputs. Differences: pickle files load only with
--allow_pickle, and --input_exprs accepts a few numpy constructors parsed safely
(core.safe_expr), never eval'd. --trace adds a table of every node the run executed.
--max_memory/--max_iterations/--timeout set the run's budget (core.engine.context.Budget).
"""
from __future__ import annotations

import os
import re
import sys


def add_arguments(parser):
    parser.add_argument("--dir", required=True, help="directory containing the SavedModel")
    parser.add_argument("--tag_set", required=True,
                        help="comma-separated tags of the MetaGraphDef to run")
    parser.add_argument("--signature_def", required=True, help="key of the SignatureDef to run")
    parser.add_argument("--inputs", default="",
                        help="'<key>=<file.npy>' or '<key>=<file.npz>[<name>]', separated by ';'")
    parser.add_argument("--input_exprs", default="",
                        help="'<key>=<python literal or np.ones((2,3))-style call>', separated by ';'")
    parser.add_argument("--input_examples", default="",
                        help="'<key>=[{\"feature\": [values]}]': tf.Examples, separated by ';'")
    parser.add_argument("--outdir", default=None, help="save each output as <outdir>/<key>.npy")
    parser.add_argument("--overwrite", action="store_true",
                        help="overwrite output files that already exist")
    parser.add_argument("--allow_pickle", action="store_true",
                        help="allow --inputs files holding pickled objects (only for files you trust)")
    parser.add_argument("--trace", action="store_true",
                        help="after the results, print every node executed with shapes and times")
    add_budget_arguments(parser)
    parser.add_argument("--no-verify", dest="no_verify", action="store_true",
                        help="restore variables whose stored crc32c does not match instead of "
                             "refusing (results from damaged data; for forensic looks only)")


def add_budget_arguments(parser):
    """--max_memory, --max_iterations, --timeout: the run's budget (not in saved_model_cli:
    TensorFlow has no such limits; ours end damaged or hostile models quickly)."""
    from ..engine.context import DEFAULT_MAX_ITERATIONS, default_max_memory, size_text
    parser.add_argument(
        "--max_memory", type=_size_arg, default=None, metavar="SIZE",
        help="the most memory the run's tensors may take at once, e.g. 2GiB or 512MiB; 0 for "
             "no limit (default: half the RAM, at most 8 GiB: "
             f"{size_text(default_max_memory())} here). Also caps --input_exprs values")
    parser.add_argument(
        "--max_iterations", type=_count_arg, default=None, metavar="N",
        help="the most loop iterations the run may make, all loops together (an inner "
             f"loop's each count); 0 for no limit (default: {DEFAULT_MAX_ITERATIONS})")
    parser.add_argument(
        "--timeout", type=_seconds_arg, default=None, metavar="SECONDS",
        help="stop the run after this many seconds (default: no limit; Ctrl+C stops it at "
             "any time)")


def _size_arg(text: str) -> int:
    import argparse

    from ..engine.context import parse_size
    from ..errors import InputError
    try:
        return parse_size(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _count_arg(text: str) -> int:
    import argparse
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of iterations")
    return value


def _seconds_arg(text: str) -> float:
    import argparse
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds")
    return value


def budget_from_args(args):
    """The :class:`Budget` the flags ask for (defaults where a flag is absent)."""
    from ..engine.context import Budget
    b = Budget()
    memory = getattr(args, "max_memory", None)
    iterations = getattr(args, "max_iterations", None)
    timeout = getattr(args, "timeout", None)
    return Budget(max_memory=b.max_memory if memory is None else memory,
                  max_iterations=b.max_iterations if iterations is None else iterations,
                  timeout=timeout or None)


# ---------------------------------------------------------------- inputs

def parse_inputs_arg(text: str) -> dict:
    """'k=f.npy;k2=f.npz[v]' -> {k: (f.npy, None), k2: (f.npz, v)} (saved_model_cli's rules)."""
    from ..errors import InputError
    out = {}
    for raw in filter(bool, text.split(";")):
        m = re.match(r"([^=]+)=([^\[\]]+)\[([^\[\]]+)\]$", raw)
        if m:
            out[m.group(1)] = (m.group(2), m.group(3))
            continue
        m = re.match(r"([^=]+)=([^\[\]]+)$", raw)
        if m:
            out[m.group(1)] = (m.group(2), None)
            continue
        raise InputError(f'--inputs "{raw}" format is incorrect. Please follow'
                         '"<input_key>=<filename>", or"<input_key>=<filename>[<variable_name>]"')
    return out


def _split_exprs(text: str, flag: str) -> list[tuple[str, str]]:
    from ..errors import InputError
    out = []
    for raw in filter(bool, text.split(";")):
        if "=" not in raw:
            raise InputError(f'{flag} "{text}" format is incorrect. Please follow'
                             f'"<input_key>=<python expression>"')
        key, expr = raw.split("=", 1)
        out.append((key, expr))
    return out


def parse_input_exprs(text: str, allowance=None) -> dict:
    """{key: value}; ``allowance`` (a safe_expr.Allowance) caps the values' bytes together."""
    from ..safe_expr import parse
    return {key: parse(expr, allowance=allowance)
            for key, expr in _split_exprs(text, "--input_exprs")}


def parse_input_examples(text: str) -> dict:
    """'k=[{"f": [1.0]}, ...]' -> {k: object array of serialized tf.Example}."""
    import numpy as np

    from ..errors import InputError
    from ..safe_expr import parse_literal
    out = {}
    for key, expr in _split_exprs(text, "--input_examples"):
        examples = parse_literal(expr)
        if not isinstance(examples, list):
            raise InputError(f'tf.Example input must be a list of dictionaries, but "{examples}" '
                             f"is {type(examples)}")
        serialized = [make_example(e) for e in examples]
        arr = np.empty(len(serialized), dtype=object)
        arr[:] = serialized
        out[key] = arr
    return out


def make_example(features: dict) -> bytes:
    """A serialized tf.Example from {name: [values]} (the value type picks the list kind)."""
    from tensorloupe.protos import example_pb2

    from ..errors import InputError
    if not isinstance(features, dict):
        raise InputError(f"each tf.Example must be a dict of feature lists, got {features!r}")
    ex = example_pb2.Example()
    for name, values in features.items():
        if not isinstance(values, list):
            raise InputError(f'feature value must be a list, but {name}: "{values}" is {type(values)}')
        if not values:
            raise InputError(f"feature {name} has an empty value list")
        first = values[0]
        feature = ex.features.feature[name]
        try:
            if isinstance(first, float):
                feature.float_list.value.extend(values)
            elif isinstance(first, str):
                feature.bytes_list.value.extend(v.encode("utf8") for v in values)
            elif isinstance(first, bytes):
                feature.bytes_list.value.extend(values)
            elif isinstance(first, int) and not isinstance(first, bool):
                feature.int64_list.value.extend(values)
            else:
                raise InputError(f"Type {type(first)} for value {first} is not supported for "
                                 "tf.train.Feature.")
        except (TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"feature {name}: values of mixed types ({exc})") from None
    return ex.SerializeToString()


def load_npy_inputs(spec: dict, allow_pickle: bool, warn) -> dict:
    import zipfile

    import numpy as np

    from ..errors import InputError
    out = {}
    for key, (filename, variable) in spec.items():
        try:
            data = np.load(filename, allow_pickle=allow_pickle)
        except FileNotFoundError:
            raise InputError(f"input file {filename} does not exist") from None
        except ValueError as exc:
            if "pickle" in str(exc):
                raise InputError(
                    f"input file {filename} holds pickled Python objects, which can run code "
                    "when loaded; pass --allow_pickle to load it if you trust the file") from None
            raise InputError(f"input file {filename} cannot be read: {exc}") from None
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise InputError(f"input file {filename} is not a .npy/.npz file ({exc})") from None
        try:
            if variable:
                if isinstance(data, np.ndarray):
                    warn(f'Input file {filename} contains a single ndarray. Name key "{variable}" '
                         "ignored.")
                    out[key] = data
                elif isinstance(data, np.lib.npyio.NpzFile) or isinstance(data, dict):
                    if variable not in data:
                        raise InputError(f'Input file {filename} does not contain variable with '
                                         f'name "{variable}".')
                    out[key] = _load_member(data, variable, filename)
                else:
                    raise InputError(f'Input file {filename} does not contain variable with '
                                     f'name "{variable}".')
            else:
                if isinstance(data, np.lib.npyio.NpzFile):
                    if len(data.files) != 1:
                        raise InputError(f"Input file {filename} contains more than one ndarrays. "
                                         "Please specify the name of ndarray to use.")
                    out[key] = _load_member(data, data.files[0], filename)
                else:
                    out[key] = data
        finally:
            if isinstance(data, np.lib.npyio.NpzFile):
                data.close()
    return out


def _load_member(npz, name, filename):
    from ..errors import InputError
    try:
        return npz[name]
    except ValueError as exc:
        if "pickle" in str(exc):
            raise InputError(
                f"array {name} in {filename} holds pickled Python objects; pass --allow_pickle "
                "to load it if you trust the file") from None
        raise InputError(f"array {name} in {filename} cannot be read: {exc}") from None


def load_inputs(args, warn, budget=None) -> dict:
    """All input flags merged: --input_examples over --input_exprs over --inputs.

    The --input_exprs values may take the run's memory budget together, no more."""
    from ..errors import InputError
    from ..safe_expr import Allowance
    if not args.inputs and not args.input_exprs and not args.input_examples:
        raise InputError("At least one of --inputs, --input_exprs or --input_examples must be "
                         "required")
    feeds = load_npy_inputs(parse_inputs_arg(args.inputs), args.allow_pickle, warn)
    total = (budget or budget_from_args(args)).max_memory
    allowance = Allowance(total or 1 << 62, "the --input_exprs values together (--max_memory)")
    for key, value in parse_input_exprs(args.input_exprs, allowance).items():
        if key in feeds:
            warn(f"input_key {key} has been specified with both --inputs and --input_exprs "
                 "options. Value in --input_exprs will be used.")
        feeds[key] = value
    for key, value in parse_input_examples(args.input_examples).items():
        if key in feeds:
            warn(f"input_key {key} has been specified in multiple options. Value in "
                 "--input_examples will be used.")
        feeds[key] = value
    return feeds


# ---------------------------------------------------------------- main

def _checksums_as_asked(main):
    """Run ``main`` with checksum checks on unless --no-verify: the restore opens its own
    checkpoint readers, which follow ``verification()``."""
    import functools

    @functools.wraps(main)
    def wrapped(args) -> int:
        from ..checkpoint import verification
        with verification(not getattr(args, "no_verify", False)):
            return main(args)
    return wrapped


@_checksums_as_asked
def main(args) -> int:
    import numpy as np

    from ..errors import InputError
    from ..saved_model import open_saved_model
    from .show import _checked_tags

    def warn(text):
        print(f"WARNING: {text}", file=sys.stderr)

    budget = budget_from_args(args)
    feeds = load_inputs(args, warn, budget)
    sm = open_saved_model(args.dir)
    mg = sm.meta_graph(_checked_tags(args.tag_set))
    sig = mg.signature(args.signature_def)
    valid = list(mg.proto.signature_def[args.signature_def].inputs.keys())
    for key in feeds:
        if key not in valid:
            raise InputError(f'"{key}" is not a valid input key. Please choose from '
                             + '"' + '", "'.join(valid) + '", or use --show option.')
    del sig

    trace = None
    if args.trace:
        from ..engine.context import Trace
        trace = Trace()
    from ..engine.session import run_signature
    outputs = run_signature(sm, args.signature_def, feeds, tags=mg.tags, trace=trace,
                            budget=budget)

    write = sys.stdout.write
    for key in sorted(outputs):
        value = outputs[key]
        write(f"Result for output key {key}:\n{_np_text(value)}\n")
        if args.outdir:
            if not os.path.isdir(args.outdir):
                os.makedirs(args.outdir)
            path = os.path.join(args.outdir, key + ".npy")
            if not args.overwrite and os.path.exists(path):
                sys.stdout.flush()
                raise InputError(f'Output file {path} already exists. Add "--overwrite" to '
                                 "overwrite the existing output files.")
            np.save(path, value)
            write(f"Output {key} is saved to {path}\n")
    if trace is not None:
        write(trace_table(trace))
    return 0


def _np_text(value) -> str:
    import numpy as np
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]  # sess.run hands scalars back as numpy scalars / bytes
    return str(value)


def trace_table(trace) -> str:
    """The per-node table --trace prints (also used by the GUI's copy-as-text)."""
    rows = [("#", "node", "op", "function", "outputs", "ms", "flags")]
    total = 0.0
    for k, r in enumerate(trace.records):
        outs = ", ".join(
            (f"{d}{list(s)}" if s is not None else d) for s, d in zip(r.shapes, r.dtypes))
        flags = " ".join(f for f, on in (("NaN", r.has_nan), ("Inf", r.has_inf)) if on)
        total += r.seconds
        rows.append((str(k + 1), r.name, r.op, "/".join(r.function_path) or "-", outs or "-",
                     f"{r.seconds * 1000:.3f}", flags))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["", f"Trace: {len(trace.records)} nodes executed, {total * 1000:.3f} ms in kernels"
             + (f" ({trace.dropped} more not recorded)" if trace.dropped else "")]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines) + "\n"
