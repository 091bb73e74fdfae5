"""Text format that understands TensorFlow's type names inside ``google.protobuf.Any``.

TensorFlow prints an Any field expanded, as ``[type.googleapis.com/tensorflow.X] { ... }``.
Our messages are named ``tensorloupe.X``, so plain ``text_format`` cannot find that type.
``parse`` and ``to_text`` use a descriptor pool holding copies of our schemas under
TensorFlow's package name: expanded Any values parse (keeping TensorFlow's type_url) and
print the way TensorFlow prints them. A packed value's bytes can be read with our own
class of the same name, since the two are wire-identical.
"""
from __future__ import annotations

import functools
import importlib
import re
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format

OUR_PACKAGE = "tensorloupe"
TENSORFLOW_PACKAGE = "tensorflow"
_ALIAS_DIR = "tensorloupe_as_tensorflow/"


def _our_files() -> list:
    """File descriptors of every generated module, dependencies first."""
    here = Path(__file__).resolve().parent
    files = [importlib.import_module(f"{__package__}.{p.stem}").DESCRIPTOR
             for p in sorted(here.glob("*_pb2.py"))]
    ordered, seen = [], set()

    def visit(fd) -> None:
        if fd.name in seen:
            return
        seen.add(fd.name)
        for dep in fd.dependencies:
            visit(dep)
        ordered.append(fd)

    for fd in files:
        visit(fd)
    return ordered


def _rename(name: str) -> str:
    prefix = f".{OUR_PACKAGE}."
    return f".{TENSORFLOW_PACKAGE}." + name[len(prefix):] if name.startswith(prefix) else name


def _rename_types(message: descriptor_pb2.DescriptorProto) -> None:
    for field in message.field:
        if field.type_name:
            field.type_name = _rename(field.type_name)
    for nested in message.nested_type:
        _rename_types(nested)


@functools.lru_cache(maxsize=1)
def tensorflow_pool() -> descriptor_pool.DescriptorPool:
    """A pool with our schemas under the package name ``tensorflow``."""
    pool = descriptor_pool.DescriptorPool()
    for fd in _our_files():
        proto = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(proto)
        if proto.package == OUR_PACKAGE:
            proto.name = _ALIAS_DIR + proto.name
            proto.package = TENSORFLOW_PACKAGE
            proto.dependency[:] = [_ALIAS_DIR + d if d.startswith("tensorloupe/protos/") else d
                                   for d in proto.dependency]
            for message in proto.message_type:
                _rename_types(message)
        pool.Add(proto)
    return pool


# Protobuf's parsers (binary and text, in C++ as in upb) refuse messages nested deeper than
# this, and so does TensorFlow. The pure-Python text parser has no such limit: it recurses
# until the interpreter's stack runs out, so text is measured before it is parsed.
MAX_NESTING = 100


# What can hold a brace without opening a message: quoted strings and comments.
_DEPTH_TOKENS = re.compile(r"""[{}<>]|#[^\n]*|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?""")


def nesting_depth(text: str) -> int:
    """How deeply messages nest in text format: the deepest ``{``/``<`` reached, not
    counting those inside quoted strings or ``#`` comments."""
    depth = deepest = 0
    for m in _DEPTH_TOKENS.finditer(text):
        c = m.group()
        if c == "{" or c == "<":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif c == "}" or c == ">":
            depth -= 1
    return deepest


def parse_bounded(text: str, message, **options):
    """``text_format.Parse`` that refuses messages nested deeper than MAX_NESTING with a
    ParseError, as protobuf's other parsers do, instead of exhausting the stack."""
    depth = nesting_depth(text)
    if depth > MAX_NESTING:
        raise text_format.ParseError(f"messages are nested {depth} levels deep; the limit "
                                     f"is {MAX_NESTING}")
    try:
        return text_format.Parse(text, message, **options)
    except RecursionError:
        raise text_format.ParseError("messages are nested too deeply to parse") from None


def parse(text: str, message):
    """Parse TensorFlow's text format into ``message`` (cleared first) and return it."""
    return parse_bounded(text, message, descriptor_pool=tensorflow_pool())


def to_text(message) -> str:
    """Print ``message`` as TensorFlow's Python text format would."""
    return text_format.MessageToString(message, descriptor_pool=tensorflow_pool())


def unpack_any(any_message):
    """The message packed in an Any, as our own class; None if its type is not one of ours."""
    type_name = any_message.type_url.rpartition("/")[2]
    package, _, name = type_name.partition(".")
    if package not in (TENSORFLOW_PACKAGE, OUR_PACKAGE):
        return None
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(f"{OUR_PACKAGE}.{name}")
    except KeyError:
        return None
    return message_factory.GetMessageClass(descriptor).FromString(any_message.value)
