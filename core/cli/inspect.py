"""``tensorloupe inspect``: TensorFlow's inspect_checkpoint, without TensorFlow.

Same flags and the same text as ``python -m tensorflow.python.tools.inspect_checkpoint``
(tensorflow/python/tools/inspect_checkpoint.py):

    --file_name=P                    the reader's debug listing (every stored key, incl. slices)
    --file_name=P --all_tensor_names ``tensor: NAME (dtype) [shape]`` per tensor, sorted
    --file_name=P --all_tensors      the same, each followed by its value as numpy prints it
    --file_name=P --tensor_name=T    one tensor and its value
    --printoptions k=v ...           numpy print options for the values
    --count_exclude_pattern=RE       leave matching tensors out of the parameter count

Every mode ends with ``# Total number of params: N``. Added here: ``--json`` for machine
readable output and ``--verify`` to check every entry's crc32c (exit 1 when any is bad).
The path may also be given as a plain argument, and may be an .index/.data file or a
directory.

A value whose stored crc32c does not match is never printed: where inspect_checkpoint prints
TensorFlow's DataLossError after the tensor's heading and stops, this prints the same lines
up to that heading, then the one-line error on stderr, and exits 2. ``--no-verify`` prints
the damaged values instead (for forensic looks).
"""
from __future__ import annotations

import argparse
import json
import re

USAGE = ("Usage: tensorloupe inspect --file_name=checkpoint_file_name "
         "[--tensor_name=tensor_to_print] [--all_tensors] [--all_tensor_names] "
         "[--count_exclude_pattern] [--printoptions]")

_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


def _bool_flag(text: str) -> bool:
    # inspect_checkpoint registers type "bool" as `v.lower() == "true"`.
    return text.lower() == "true"


def _printoption(text: str) -> tuple[str, object]:
    """'k=v' -> (k, typed v), checked the way inspect_checkpoint checks it."""
    import numpy as np
    parts = text.split("=", 1)
    if len(parts) != 2 or not parts[0]:
        raise argparse.ArgumentTypeError(f"'{text}' is not in the form k=v.")
    key, value = parts
    current = np.get_printoptions()
    if key not in current:
        raise argparse.ArgumentTypeError(f"'{key}' is not a valid printoption.")
    kind = type(current[key])
    if current[key] is None:
        raise argparse.ArgumentTypeError(f"Setting '{key}' from the command line is not supported.")
    if kind is bool:
        lowered = value.lower()
        if lowered in _TRUE:
            return key, True
        if lowered in _FALSE:
            return key, False
        raise argparse.ArgumentTypeError(f"Non-boolean argument to boolean flag: {value}")
    try:
        return key, kind(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", default="",
                        help="checkpoint prefix, .index/.data file or directory "
                             "(same as --file_name)")
    parser.add_argument("--file_name", type=str, default="",
                        help="Checkpoint filename: the prefix shared by all files of a V2 "
                             "checkpoint, one of its files, or its directory.")
    parser.add_argument("--tensor_name", type=str, default="", help="Name of the tensor to inspect")
    parser.add_argument("--count_exclude_pattern", type=str, default="",
                        help="Pattern to exclude tensors, e.g., from optimizers, when counting.")
    parser.add_argument("--all_tensors", nargs="?", const=True, type=_bool_flag, default=False,
                        help="If True, print the names and values of all the tensors.")
    parser.add_argument("--all_tensor_names", nargs="?", const=True, type=_bool_flag,
                        default=False, help="If True, print the names of all the tensors.")
    parser.add_argument("--printoptions", nargs="*", type=_printoption,
                        help="Argument for numpy.set_printoptions(), in the form 'k=v'.")
    parser.add_argument("--json", action="store_true",
                        help="print machine-readable JSON (keys, dtypes, shapes, readable names; "
                             "values with --tensor_name or --all_tensors)")
    checks = parser.add_mutually_exclusive_group()
    checks.add_argument("--verify", action="store_true",
                        help="check every entry's crc32c; exit 1 and list bad entries if any")
    checks.add_argument("--no-verify", dest="no_verify", action="store_true",
                        help="print values whose stored crc32c does not match instead of "
                             "refusing (damaged data; for forensic looks only)")


# ---------------------------------------------------------------- text, as TensorFlow prints it

def debug_string(reader) -> str:
    """BundleReader::DebugString: every stored key but the header and partitioned wholes."""
    if getattr(reader, "format", None) == "v1":  # TensorSliceReader's own listing
        return reader.debug_string()
    from .. import dtypes
    lines = []
    for entry in reader._raw.values():
        if entry.slices:
            continue
        name = entry.raw_key.decode("utf-8", errors="ignore")
        shape = "[" + ",".join(str(d) for d in entry.shape) + "]"
        lines.append(f"{name} ({dtypes.name(entry.dtype_enum) if entry.dtype_enum in dtypes.DT_NAME else ''}) "
                     f"{shape}\n")
    return "".join(lines)


def _heading(reader, key: str) -> str:
    from .. import dtypes
    shape = "[" + ", ".join(str(d) for d in reader.shape(key)) + "]"
    return f"tensor: {key} ({dtypes.python_name(reader.dtype_enum(key))}) {shape}"


def _value_text(reader, key: str) -> str:
    from ..errors import UnsupportedError
    try:
        value = reader.read(key)
    except UnsupportedError:
        return "<not convertible to a numpy dtype>"
    # TensorFlow hands back numpy scalars (and bytes) for rank-0 tensors.
    return str(value[()] if value.ndim == 0 else value)


def _count(n_elements: int, shape) -> int:
    for d in shape:
        n_elements *= d
    return n_elements


def _total_params(reader, exclude: str, out) -> int:
    keys = reader.keys()
    if exclude:
        pattern = re.compile(exclude)
        excluded = [k for k in keys if pattern.search(k)]
        keys = [k for k in keys if not pattern.search(k)]
        params = sum(_count(1, reader.shape(k)) for k in excluded)
        out(f"# Excluding {len(excluded)} tensors ({params} params) that match {exclude} "
            f"when counting.")
    return sum(_count(1, reader.shape(k)) for k in keys)


def print_checkpoint(reader, tensor_name: str, all_tensors: bool, all_tensor_names: bool,
                     count_exclude_pattern: str = "", out=print) -> None:
    """The text inspect_checkpoint prints, through ``out`` (one call per print())."""
    if all_tensors or all_tensor_names:
        for key in reader.keys():
            out(_heading(reader, key))
            if all_tensors:
                out(_value_text(reader, key))
    elif not tensor_name:
        out(debug_string(reader))
    else:
        if tensor_name not in reader.entries:
            out(f"Tensor {tensor_name} not found in checkpoint")
            return
        out(_heading(reader, tensor_name))
        out(_value_text(reader, tensor_name))
    total = _total_params(reader, count_exclude_pattern, out)
    out(f"# Total number of params: {total}")


# ---------------------------------------------------------------- JSON

def _json_value(value):
    import numpy as np
    if value.dtype == object:
        flat = [bytes(v) for v in value.reshape(-1)]
        text = np.array([v.decode("utf-8", errors="backslashreplace") for v in flat],
                        dtype=object).reshape(value.shape)
        return {"value": text.tolist(), "value_hex": np.array(
            [v.hex() for v in flat], dtype=object).reshape(value.shape).tolist()}
    if value.dtype.kind == "c":
        value = np.stack([value.real, value.imag], axis=-1)
    if value.dtype.kind == "f" or value.dtype.kind == "V" or str(value.dtype) == "bfloat16":
        value = value.astype(np.float64)
        if not np.isfinite(value).all():
            obj = value.astype(object)
            obj[np.isnan(value)] = "nan"
            obj[np.isposinf(value)] = "inf"
            obj[np.isneginf(value)] = "-inf"
            return {"value": obj.tolist()}
    return {"value": value.tolist()}


def _json(reader, args) -> dict:
    from .. import dtypes
    names = reader.readable_names()
    wanted = reader.keys()
    with_values = bool(args.all_tensors)
    if args.tensor_name and not (args.all_tensors or args.all_tensor_names):
        from ..errors import NotFoundError
        if args.tensor_name not in reader.entries:
            raise NotFoundError(f"tensor {args.tensor_name!r} not found in checkpoint",
                                reader.prefix)
        wanted = [args.tensor_name]
        with_values = True
    tensors = []
    for key in wanted:
        info = names[key]
        item = {
            "key": key, "dtype": dtypes.python_name(reader.dtype_enum(key)),
            "dtype_enum": reader.dtype_enum(key), "shape": list(reader.shape(key)),
            "num_elements": reader.num_elements(key), "nbytes": reader.nbytes(key),
            "partitioned": reader.entries[key].partitioned,
            "readable": info.readable, "kind": info.kind, "slot_of": info.slot_of,
            "slot_name": info.slot_name, "layer_path": info.layer_path,
        }
        if with_values:
            from ..errors import UnsupportedError
            try:
                item.update(_json_value(reader.read(key)))
            except UnsupportedError as exc:
                item["value_error"] = str(exc)
        tensors.append(item)
    h = reader.header
    lines: list[str] = []
    total = _total_params(reader, args.count_exclude_pattern, lines.append)
    return {
        "prefix": reader.prefix,
        "header": {"num_shards": h.num_shards, "endianness": h.endianness,
                   "producer": h.producer, "min_consumer": h.min_consumer},
        "tensors": tensors,
        "total_params": total,
    }


# ---------------------------------------------------------------- entry point

def main(args) -> int:
    file_name = args.file_name or args.path
    if not file_name:
        print(USAGE)
        return 1
    from ..checkpoint import open_checkpoint
    with open_checkpoint(file_name, verify=False if getattr(args, "no_verify", False) else None) \
            as reader:
        if args.verify:
            problems = reader.verify()
            if args.json:
                print(json.dumps({"prefix": reader.prefix, "ok": not problems,
                                  "entries": len(reader._raw),
                                  "problems": [{"key": p.key, "message": p.message}
                                               for p in problems]}, indent=1))
            else:
                for p in problems:
                    print(p)
                if not problems:
                    print(f"{reader.prefix}: all {len(reader._raw)} entries match their crc32c")
            return 1 if problems else 0
        if args.json:
            print(json.dumps(_json(reader, args), indent=1, ensure_ascii=False))
            return 0
        printing = (lambda: print_checkpoint(reader, args.tensor_name, bool(args.all_tensors),
                                             bool(args.all_tensor_names),
                                             args.count_exclude_pattern))
        if not args.printoptions:
            printing()  # listing modes never import numpy: start-up stays short
            return 0
        import numpy as np
        with np.printoptions(**dict(args.printoptions)):
            printing()
    return 0
