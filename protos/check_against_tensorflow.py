"""Compare our schemas with TensorFlow's own descriptors (a developer check, needs TensorFlow).

Run it with the TensorFlow environment's Python (Tensorloupe need not be installed there)::

    /opt/tfvenv/bin/python protos/check_against_tensorflow.py

For every message and enum in ``protos/*_pb2.py`` it finds the TensorFlow type of the
same name (``tensorloupe.X`` <-> ``tensorflow.X``) and compares field names, numbers,
cardinality, types, referenced type names (package ignored), oneof membership, map-ness,
presence and packing, and enum value names and numbers. It also reports TensorFlow
fields that our schema lacks. Prints a summary; exits 1 on any mismatch.
"""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent


def _import_checkout_as_tensorloupe() -> None:
    """Make this checkout importable as ``tensorloupe`` in an environment that has TensorFlow but
    not Tensorloupe: a temporary folder holding a link named tensorloupe to the checkout."""
    import atexit
    import shutil
    import tempfile
    link_dir = Path(tempfile.mkdtemp(prefix="tensorloupe-check-"))
    atexit.register(shutil.rmtree, link_dir, True)
    (link_dir / "tensorloupe").symlink_to(ROOT, target_is_directory=True)
    sys.path.insert(0, str(link_dir))


try:
    import tensorloupe.protos  # noqa: F401 - installed: use it
except ImportError:
    _import_checkout_as_tensorloupe()

# Where each of our files' counterpart lives inside the tensorflow package.
TF_MODULES = {
    "attr_value": "tensorflow.core.framework.attr_value_pb2",
    "checkpoint_state": "tensorflow.python.training.checkpoint_state_pb2",
    "example": "tensorflow.core.example.example_pb2",
    "feature": "tensorflow.core.example.feature_pb2",
    "fingerprint": "tensorflow.core.protobuf.fingerprint_pb2",
    "full_type": "tensorflow.core.framework.full_type_pb2",
    "function": "tensorflow.core.framework.function_pb2",
    "graph": "tensorflow.core.framework.graph_pb2",
    "graph_debug_info": "tensorflow.core.framework.graph_debug_info_pb2",
    "meta_graph": "tensorflow.core.protobuf.meta_graph_pb2",
    "node_def": "tensorflow.core.framework.node_def_pb2",
    "op_def": "tensorflow.core.framework.op_def_pb2",
    "resource_handle": "tensorflow.core.framework.resource_handle_pb2",
    "saved_model": "tensorflow.core.protobuf.saved_model_pb2",
    "saved_object_graph": "tensorflow.core.protobuf.saved_object_graph_pb2",
    "saved_tensor_slice": "tensorflow.core.util.saved_tensor_slice_pb2",
    "saver": "tensorflow.core.protobuf.saver_pb2",
    "struct": "tensorflow.core.protobuf.struct_pb2",
    "tensor": "tensorflow.core.framework.tensor_pb2",
    "tensor_bundle": "tensorflow.core.protobuf.tensor_bundle_pb2",
    "tensor_shape": "tensorflow.core.framework.tensor_shape_pb2",
    "tensor_slice": "tensorflow.core.framework.tensor_slice_pb2",
    "trackable_object_graph": "tensorflow.core.protobuf.trackable_object_graph_pb2",
    "types": "tensorflow.core.framework.types_pb2",
    "variable": "tensorflow.core.framework.variable_pb2",
    "versions": "tensorflow.core.framework.versions_pb2",
}

# TensorFlow fields we leave out on purpose, as "tensorflow.Message.field": why.
# None at present: every field of the mirrored messages, deprecated ones too, is kept.
ALLOWED_MISSING: dict[str, str] = {}

OURS, THEIRS = "tensorloupe.", "tensorflow."


def strip_package(name: str) -> str:
    for prefix in (OURS, THEIRS):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def is_map(field) -> bool:
    return (field.message_type is not None and field.message_type.GetOptions().map_entry)


def field_facts(field) -> dict:
    ref = field.message_type or field.enum_type
    oneof = field.containing_oneof
    synthetic = oneof is not None and field.has_presence and oneof.name == "_" + field.name
    return {
        "number": field.number,
        "repeated": field.is_repeated,
        "type": field.type,
        "type_name": strip_package(ref.full_name) if ref is not None else None,
        "oneof": None if oneof is None or synthetic else oneof.name,
        "map": is_map(field),
        "presence": field.has_presence,
        "packed": field.is_packed if field.is_repeated else None,
    }


def compare_message(ours, theirs, problems: list[str]) -> None:
    label = strip_package(ours.full_name)
    for name, field in ours.fields_by_name.items():
        other = theirs.fields_by_name.get(name)
        if other is None:
            problems.append(f"{label}.{name}: TensorFlow has no such field")
            continue
        a, b = field_facts(field), field_facts(other)
        if ours.GetOptions().map_entry:
            # Map entries always write key and value, whatever the file's syntax says.
            a.pop("presence"), b.pop("presence")
        for key in a:
            if a[key] != b[key]:
                problems.append(f"{label}.{name}: {key} is {a[key]!r}, TensorFlow has {b[key]!r}")
    for name in theirs.fields_by_name:
        if name not in ours.fields_by_name and f"{theirs.full_name}.{name}" not in ALLOWED_MISSING:
            problems.append(f"{label}.{name}: missing from our schema")
    for nested in ours.nested_types:
        other = theirs.nested_types_by_name.get(nested.name)
        if other is None:
            problems.append(f"{label}.{nested.name}: TensorFlow has no such message")
        else:
            compare_message(nested, other, problems)
    for nested in theirs.nested_types:
        if nested.name not in ours.nested_types_by_name:
            problems.append(f"{label}.{nested.name}: nested message missing from our schema")
    for enum in ours.enum_types:
        other = theirs.enum_types_by_name.get(enum.name)
        if other is None:
            problems.append(f"{label}.{enum.name}: TensorFlow has no such enum")
        else:
            compare_enum(enum, other, problems)
    for enum in theirs.enum_types:
        if enum.name not in ours.enum_types_by_name:
            problems.append(f"{label}.{enum.name}: nested enum missing from our schema")


def compare_enum(ours, theirs, problems: list[str]) -> None:
    label = strip_package(ours.full_name)
    a = {v.name: v.number for v in ours.values}
    b = {v.name: v.number for v in theirs.values}
    for name in a.keys() | b.keys():
        if a.get(name) != b.get(name):
            problems.append(f"{label}.{name}: value {a.get(name)!r}, TensorFlow has {b.get(name)!r}")


def main() -> int:
    problems: list[str] = []
    counts = {"files": 0, "messages": 0, "enums": 0}
    ours_files = sorted(p.stem[:-4] for p in (ROOT / "protos").glob("*_pb2.py"))
    for stem in ours_files:
        if stem not in TF_MODULES:
            problems.append(f"protos/{stem}.proto: no TensorFlow counterpart is known")
            continue
        ours = importlib.import_module(f"tensorloupe.protos.{stem}_pb2").DESCRIPTOR
        theirs = importlib.import_module(TF_MODULES[stem]).DESCRIPTOR
        counts["files"] += 1
        if ours.package != "tensorloupe":
            problems.append(f"protos/{stem}.proto: package is {ours.package!r}")
        for name, message in ours.message_types_by_name.items():
            other = theirs.message_types_by_name.get(name)
            if other is None:
                problems.append(f"{name}: not in {theirs.name}")
                continue
            counts["messages"] += 1
            compare_message(message, other, problems)
        for name in theirs.message_types_by_name:
            if name not in ours.message_types_by_name:
                problems.append(f"{name}: top-level message of {theirs.name} missing from protos/{stem}.proto")
        for name, enum in ours.enum_types_by_name.items():
            other = theirs.enum_types_by_name.get(name)
            if other is None:
                problems.append(f"{name}: not in {theirs.name}")
                continue
            counts["enums"] += 1
            compare_enum(enum, other, problems)
        for name in theirs.enum_types_by_name:
            if name not in ours.enum_types_by_name:
                problems.append(f"{name}: top-level enum of {theirs.name} missing from protos/{stem}.proto")
    for problem in problems:
        print("MISMATCH", problem)
    print(f"compared {counts['files']} files, {counts['messages']} top-level messages, "
          f"{counts['enums']} top-level enums: {len(problems)} mismatch(es)")
    if ALLOWED_MISSING:
        print("left out on purpose: " + ", ".join(sorted(ALLOWED_MISSING)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
