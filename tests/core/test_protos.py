"""Our protos/ schemas read what TensorFlow writes, in binary and in text format.

The fixtures (tests/fixtures/build_protos.py) are messages TensorFlow serialized and
printed itself; manifest.txt names each one's TensorFlow type.
"""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from google.protobuf import descriptor_pool, message_factory, text_format
from google.protobuf.unknown_fields import UnknownFieldSet

from tensorloupe.protos import regenerate, text

PROTOS_DIR = Path(regenerate.__file__).resolve().parent
for _module in sorted(PROTOS_DIR.glob("*_pb2.py")):
    importlib.import_module(f"tensorloupe.protos.{_module.stem}")


def _manifest(fixtures_dir: Path) -> list[tuple[str, str]]:
    lines = (fixtures_dir / "protos" / "manifest.txt").read_text(encoding="utf-8").splitlines()
    return [tuple(line.split()) for line in lines if line.strip()]


def _our_class(tf_type: str):
    assert tf_type.startswith("tensorflow."), tf_type
    name = "tensorloupe." + tf_type[len("tensorflow."):]
    return message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(name))


def _unknown_fields(message, path: str = "") -> list[str]:
    """Paths of every sub-message that kept fields our schema does not know."""
    found = [path or "<root>"] if len(UnknownFieldSet(message)) else []
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.message_type is not None:
                for key, item in value.items():
                    found += _unknown_fields(item, f"{path}.{field.name}[{key!r}]")
        elif field.is_repeated:
            for index, item in enumerate(value):
                found += _unknown_fields(item, f"{path}.{field.name}[{index}]")
        else:
            found += _unknown_fields(value, f"{path}.{field.name}")
    return found


def test_generated_modules_are_current():
    assert regenerate.check() == []


def test_manifest_covers_the_main_messages(fixtures_dir):
    kinds = {kind for _, kind in _manifest(fixtures_dir)}
    assert {"tensorflow.SavedModel", "tensorflow.MetaGraphDef", "tensorflow.GraphDef",
            "tensorflow.TensorProto", "tensorflow.Example", "tensorflow.SequenceExample",
            "tensorflow.CheckpointState", "tensorflow.TrackableObjectGraph",
            "tensorflow.FingerprintDef"} <= kinds


def pytest_generate_tests(metafunc):
    if "fixture_entry" in metafunc.fixturenames:
        entries = _manifest(Path(__file__).resolve().parent.parent / "fixtures" / "data")
        metafunc.parametrize("fixture_entry", entries, ids=[name for name, _ in entries])


def test_binary_round_trip_gives_tensorflows_bytes(fixtures_dir, fixture_entry):
    name, tf_type = fixture_entry
    folder = fixtures_dir / "protos"
    raw = (folder / f"{name}.pb").read_bytes()
    cls = _our_class(tf_type)
    message = cls.FromString(raw)
    assert _unknown_fields(message) == []
    # Map order is not kept by any serializer, so compare key-sorted serializations:
    # TensorFlow's own (recorded where it differs from the file) with ours.
    sorted_path = folder / f"{name}.deterministic.pb"
    expected = sorted_path.read_bytes() if sorted_path.exists() else raw
    assert message.SerializeToString(deterministic=True) == expected
    assert cls.FromString(message.SerializeToString()) == message


def test_tensorflow_text_parses_to_the_binary_message(fixtures_dir, fixture_entry):
    name, tf_type = fixture_entry
    cls = _our_class(tf_type)
    binary = cls.FromString((fixtures_dir / "protos" / f"{name}.pb").read_bytes())
    text_in = (fixtures_dir / "protos" / f"{name}.pbtxt").read_text(encoding="utf-8")
    parsed = text.parse(text_in, cls())
    assert parsed == binary
    assert parsed.SerializeToString(deterministic=True) == binary.SerializeToString(deterministic=True)


def test_we_print_the_same_text_as_tensorflow(fixtures_dir, fixture_entry):
    name, tf_type = fixture_entry
    cls = _our_class(tf_type)
    binary = cls.FromString((fixtures_dir / "protos" / f"{name}.pb").read_bytes())
    printed = (fixtures_dir / "protos" / f"{name}.pbtxt").read_text(encoding="utf-8")
    assert text.to_text(binary) == printed


def test_plain_text_format_reads_files_without_any(fixtures_dir, fixture_entry):
    name, tf_type = fixture_entry
    folder = fixtures_dir / "protos"
    printed = (folder / f"{name}.pbtxt").read_text(encoding="utf-8")
    if "[type.googleapis.com/" in printed:
        with pytest.raises(text_format.ParseError):
            text_format.Parse(printed, _our_class(tf_type)())
    else:
        binary = _our_class(tf_type).FromString((folder / f"{name}.pb").read_bytes())
        assert text_format.Parse(printed, _our_class(tf_type)()) == binary


def test_any_values_keep_tensorflows_type_url_and_unpack(fixtures_dir):
    from tensorloupe.protos import meta_graph_pb2, tensor_shape_pb2

    folder = fixtures_dir / "protos"
    binary = meta_graph_pb2.MetaGraphDef.FromString((folder / "meta_graph_tf1.pb").read_bytes())
    parsed = text.parse((folder / "meta_graph_tf1.pbtxt").read_text(encoding="utf-8"),
                        meta_graph_pb2.MetaGraphDef())
    for message in (binary, parsed):
        (packed,) = message.collection_def["shapes"].any_list.value
        assert packed.type_url == "type.googleapis.com/tensorflow.TensorShapeProto"
        shape = text.unpack_any(packed)
        assert isinstance(shape, tensor_shape_pb2.TensorShapeProto)
        assert shape.SerializeToString() == packed.value
        assert [dim.size for dim in shape.dim] == [3, -1]  # TensorShape([3, None]) in the builder
