#!/usr/bin/env python
"""Fuzz Tensorloupe with mutated TensorFlow-written files.

    python tests/fuzz/fuzz.py --cases 100000 --seed 1 [--workers N] [--out DIR]
    python tests/fuzz/fuzz.py --seed 1 --replay 1234 [--save DIR]     # one case, here

Every case takes one file of a committed fixture (a checkpoint .index or .data shard, a
``checkpoint`` state file, a saved_model.pb or .pbtxt, a fingerprint.pb, a frozen graph .pb,
a TF1 .meta), changes it, and runs the real entry points on the result: open, list, read
every tensor, verify, ``show``/``scan``/``inspect`` as the command line does, and run each
signature (or a graph's outputs) with default inputs under a small budget. Mutations know
the formats: protobuf fields edited in place (shapes, dtypes, offsets, sizes, names,
node ids, attribute values, tensors; repeated and map entries deleted or duplicated), index
entries edited and the table written back with valid checksums, plus byte flips,
truncations, insertions and deletions. A case is a pure function of (seed, number):
protobuf messages are serialized with ``deterministic=True`` and every choice comes from
``random.Random("seed/number")``. Odd cases read with crc32c checks off, so that damaged
bytes reach the decoders and the engine rather than stop at the checksum.

Cases run in long-lived worker processes, each limited to 2 GiB of address space
(RLIMIT_AS) and 5 s per case; a worker that times out or dies is replaced. Outcomes:

  ok        every entry point returned
  typed     some entry point raised a TensorloupeError (a one-line error, as intended)
  uncaught  anything else was raised (a bug: the traceback is saved), or the worker died
  hang      the case took longer than its time limit
  memory    a MemoryError (even inside a typed error), or the worker's peak resident memory
            passed 1 GiB during the case
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import os
import random
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT / "tests" / "fixtures" / "data"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

CASE_SECONDS = 5.0
WORKER_MEMORY = 2 << 30
PEAK_LIMIT = 1 << 30           # resident memory past this during a case: "memory"
RUN_BUDGET = dict(max_memory=256 << 20, max_iterations=10_000, timeout=2.0)
MAX_FEED_BYTES = 16 << 20      # default inputs larger than this are not made (no run)
OUTCOMES = ("ok", "typed", "uncaught", "hang", "memory")
KINDS = ("index", "data", "state", "saved_model", "pbtxt", "fingerprint", "frozen", "meta")


# ---------------------------------------------------------------- what is fuzzed

@dataclasses.dataclass(frozen=True)
class Target:
    kind: str       # one of KINDS
    root: str       # fixture folder (relative to DATA), laid out afresh for each case
    file: str       # the file mutated, relative to root
    recipe: str     # "saved_model", "checkpoint" or "graph": which entry points run
    entry: str = ""  # what the entry points are given, relative to root ("" = root)

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.root}/{self.file}"


_SAVED_MODELS = ["saved_models/keras_mlp", "saved_models/half_plus_two",
                 "saved_models/vocab_module", "saved_models/engine_linear",
                 "saved_models/engine_tf1_loop", "saved_models/show_polymorphic",
                 "saved_models/show_tf1_composite", "saved_models/tf_keras_mlp",
                 "saved_models/keras_lstm", "budget/models/const_add", "budget/models/loops",
                 "budget/models/sized"]
_CHECKPOINTS = [("checkpoints/dtypes", "all_dtypes"), ("checkpoints/keras_adam", "ckpt"),
                ("checkpoints/keras3_adam", "ckpt"), ("checkpoints/partitioned", "model.ckpt"),
                ("checkpoints/sharded_tf1", "model.ckpt"), ("checkpoints/sharded_tf2", "ckpt"),
                ("checkpoints/tf1_saver", "model.ckpt-2"), ("checkpoints/training_run", "ckpt-5"),
                ("budget/checkpoints/strings", "strings")]


def targets() -> list[Target]:
    out = []
    for root in _SAVED_MODELS:
        d = DATA / root
        out.append(Target("saved_model", root, "saved_model.pb", "saved_model"))
        if (d / "fingerprint.pb").is_file():
            out.append(Target("fingerprint", root, "fingerprint.pb", "saved_model"))
        if (d / "variables" / "variables.index").is_file():
            out.append(Target("index", root, "variables/variables.index", "saved_model"))
            for shard in sorted((d / "variables").glob("variables.data-*")):
                out.append(Target("data", root, f"variables/{shard.name}", "saved_model"))
    for root, prefix in _CHECKPOINTS:
        d = DATA / root
        out.append(Target("index", root, prefix + ".index", "checkpoint", prefix))
        for shard in sorted(d.glob(prefix + ".data-*")):
            out.append(Target("data", root, shard.name, "checkpoint", prefix))
        if (d / "checkpoint").is_file():
            out.append(Target("state", root, "checkpoint", "checkpoint"))
    out.append(Target("pbtxt", "saved_models/half_plus_two_pbtxt", "saved_model.pbtxt",
                      "saved_model"))
    out.append(Target("pbtxt", "saved_models/frozen_graph", "frozen_graph.pbtxt", "graph",
                      "frozen_graph.pbtxt"))
    out.append(Target("frozen", "saved_models/frozen_graph", "frozen_graph.pb", "graph",
                      "frozen_graph.pb"))
    out.append(Target("frozen", "graphs", "constants.pb", "graph", "constants.pb"))
    out.append(Target("meta", "graphs/tf1_loop", "model.ckpt.meta", "graph", "model.ckpt.meta"))
    out.append(Target("meta", "checkpoints/tf1_saver", "model.ckpt-2.meta", "graph",
                      "model.ckpt-2.meta"))
    return [t for t in out if (DATA / t.root / t.file).is_file()]


def targets_by_kind() -> dict[str, list[Target]]:
    by = {k: [] for k in KINDS}
    for t in targets():
        by[t.kind].append(t)
    return {k: v for k, v in by.items() if v}


# ---------------------------------------------------------------- mutations: bytes

_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x0A, 0x20)


def mutate_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    buf = bytearray(data)
    n = len(buf)
    op = rng.choice(("flip", "flip", "set", "truncate", "insert", "delete", "duplicate",
                     "overwrite", "zero", "append"))
    if n == 0:
        op = "append"
    if op == "flip":
        k = rng.choice((1, 1, 2, 4, 8))
        for _ in range(k):
            p = rng.randrange(n)
            buf[p] ^= 1 << rng.randrange(8)
        return bytes(buf), f"flip {k} bit(s)"
    if op == "set":
        p = rng.randrange(n)
        buf[p] = rng.choice(_BYTES)
        return bytes(buf), f"set byte {p} to {buf[p]:#x}"
    if op == "truncate":
        p = rng.randrange(n)
        return bytes(buf[:p]), f"truncate to {p} bytes"
    if op == "insert":
        p = rng.randrange(n + 1)
        junk = bytes(rng.randrange(256) for _ in range(rng.choice((1, 2, 4, 16, 64))))
        return bytes(buf[:p] + junk + buf[p:]), f"insert {len(junk)} bytes at {p}"
    if op == "delete":
        p = rng.randrange(n)
        k = min(rng.choice((1, 2, 4, 16, 256)), n - p)
        return bytes(buf[:p] + buf[p + k:]), f"delete {k} bytes at {p}"
    if op == "duplicate":
        p = rng.randrange(n)
        k = min(rng.choice((1, 4, 16, 256)), n - p)
        return bytes(buf[:p + k] + buf[p:p + k] + buf[p + k:]), f"duplicate {k} bytes at {p}"
    if op == "overwrite":
        p = rng.randrange(n)
        k = min(rng.choice((2, 4, 8, 32)), n - p)
        for i in range(p, p + k):
            buf[i] = rng.randrange(256)
        return bytes(buf), f"overwrite {k} bytes at {p}"
    if op == "zero":
        p = rng.randrange(n)
        k = min(rng.choice((4, 16, 64, 1024)), n - p)
        buf[p:p + k] = bytes(k)
        return bytes(buf), f"zero {k} bytes at {p}"
    junk = bytes(rng.randrange(256) for _ in range(rng.choice((1, 8, 100))))
    return bytes(buf) + junk, f"append {len(junk)} bytes"


def mutate_text(text: bytes, rng: random.Random) -> tuple[bytes, str]:
    lines = text.split(b"\n")
    op = rng.choice(("drop line", "duplicate line", "swap lines", "edit token", "bytes"))
    if op == "bytes" or len(lines) < 2:
        return mutate_bytes(text, rng)
    i = rng.randrange(len(lines))
    if op == "drop line":
        del lines[i]
    elif op == "duplicate line":
        lines.insert(i, lines[i])
    elif op == "swap lines":
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    else:
        words = lines[i].split(b" ")
        w = rng.randrange(len(words))
        words[w] = rng.choice((b"-1", b"0", b"9223372036854775807", b"1e400", b'"\\xff"',
                               b"{", b"}", b'""', b"nan", b"DT_INVALID", b"true", b"::"))
        lines[i] = b" ".join(words)
    return b"\n".join(lines), f"text: {op} at line {i + 1}"


# ---------------------------------------------------------------- mutations: protobuf

_INTS = (0, 1, -1, 2, 3, 7, 8, 100, 255, 256, 65535, 65536, 2 ** 31 - 1, -2 ** 31,
         2 ** 32 - 1, 2 ** 32, 2 ** 40, 2 ** 53, 2 ** 62, 2 ** 63 - 1, -2 ** 63, 2 ** 64 - 1)
_FLOATS = (0.0, -0.0, 1.0, -1.0, 0.5, float("nan"), float("inf"), float("-inf"), 1e-45,
           3.4e38, 1e308, 1e-300)
_HOT = {"size", "dtype", "type", "offset", "shard_id", "crc32c", "node_id", "name", "input",
        "op", "start", "length", "num_shards", "tensor_content", "i", "s", "f", "b",
        "unknown_rank", "frame_name", "children", "local_name", "model_checkpoint_path",
        "all_model_checkpoint_paths", "int_val", "string_val", "float_val", "half_val",
        "number_attr", "type_attr", "type_list_attr", "endianness", "producer",
        "filename_tensor_name", "restore_op_name", "method_name", "key", "signature_def",
        "tensor", "shape", "dim", "attr", "list", "func", "ret", "value", "tags", "version"}
_PATHS = ("", "/", ".", "..", "../../../../etc/passwd", "/dev/zero", "nonexistent",
          "ckpt-99999", "model.ckpt", "variables/variables", "a" * 300)

_SCALAR, _MESSAGE, _REPEATED, _MAP = "scalar", "message", "repeated", "map"


def _is_map(fd) -> bool:
    mt = fd.message_type
    return mt is not None and mt.GetOptions().map_entry


def _is_repeated(fd) -> bool:
    return getattr(fd, "is_repeated", None) if hasattr(fd, "is_repeated") else \
        fd.label == fd.LABEL_REPEATED


def _leaves(msg, path=(), out=None, strings=None, depth=0):
    """Every place a mutation can go: (kind, path to the holder, field name, selector).

    Paths are tuples of (field name, selector) steps, selector None (singular), an int
    (repeated) or ("k", key) (map); resolved on a fresh copy of the message each case."""
    if out is None:
        out, strings = [], []
    if depth > 60:
        return out, strings
    for fd, value in msg.ListFields():
        name = fd.name
        if _is_map(fd):
            out.append((_MAP, path, name, None))
            value_fd = fd.message_type.fields_by_name["value"]
            for key in sorted(value.keys(), key=repr):
                if value_fd.message_type is not None:
                    _leaves(value[key], path + ((name, ("k", key)),), out, strings, depth + 1)
                    out.append((_MESSAGE, path, name, ("k", key)))
                else:
                    out.append((_SCALAR, path, name, ("k", key)))
        elif _is_repeated(fd):
            out.append((_REPEATED, path, name, None))
            for i, v in enumerate(value):
                if fd.message_type is not None:
                    _leaves(v, path + ((name, i),), out, strings, depth + 1)
                    out.append((_MESSAGE, path, name, i))
                else:
                    out.append((_SCALAR, path, name, i))
                    if isinstance(v, (str, bytes)) and len(strings) < 4000:
                        strings.append(v)
        elif fd.message_type is not None:
            _leaves(value, path + ((name, None),), out, strings, depth + 1)
            out.append((_MESSAGE, path, name, None))
        else:
            out.append((_SCALAR, path, name, None))
            if isinstance(value, (str, bytes)) and len(strings) < 4000:
                strings.append(value)
    return out, strings


def _resolve(msg, path):
    for name, sel in path:
        field = getattr(msg, name)
        if sel is None:
            msg = field
        elif isinstance(sel, tuple):
            if sel[1] not in field:
                raise KeyError(sel[1])
            msg = field[sel[1]]
        else:
            msg = field[sel]
    return msg


def _int_range(fd):
    t = fd.cpp_type
    if t == fd.CPPTYPE_INT32 or t == fd.CPPTYPE_ENUM:
        return -2 ** 31, 2 ** 31 - 1
    if t == fd.CPPTYPE_UINT32:
        return 0, 2 ** 32 - 1
    if t == fd.CPPTYPE_UINT64:
        return 0, 2 ** 64 - 1
    return -2 ** 63, 2 ** 63 - 1


def _new_value(fd, old, rng: random.Random, strings: list):
    t = fd.cpp_type
    if t == fd.CPPTYPE_BOOL:
        return not old
    if t == fd.CPPTYPE_FLOAT or t == fd.CPPTYPE_DOUBLE:
        return rng.choice(_FLOATS) if rng.random() < 0.8 else rng.uniform(-1e6, 1e6)
    if t == fd.CPPTYPE_STRING:
        is_bytes = fd.type == fd.TYPE_BYTES
        pick = rng.random()
        if pick < 0.35 and strings:
            v = rng.choice(strings)
            v = v if isinstance(v, (bytes if is_bytes else str)) else (
                v.encode("utf-8", "replace") if is_bytes else
                v.decode("utf-8", "replace"))
        elif pick < 0.55 and old:
            s = old if isinstance(old, str) else old.decode("latin-1")
            s = rng.choice((s + ":1", s + ":0:0", "^" + s, s[:-1], s + "/x", s * 2, s.upper(),
                            s[: len(s) // 2], s + "\x00"))
            v = s.encode("latin-1", "replace") if is_bytes else s
        elif pick < 0.7:
            s = rng.choice(_PATHS)
            v = s.encode() if is_bytes else s
        elif pick < 0.85:
            v = "".join(rng.choice("abcXYZ019_:/^.-ü∑") for _ in range(rng.randrange(0, 12)))
            v = v.encode() if is_bytes else v
        elif is_bytes:
            v = bytes(rng.randrange(256) for _ in range(rng.choice((1, 3, 8, 64))))
        else:
            v = ""
        return v
    lo, hi = _int_range(fd)
    pick = rng.random()
    if pick < 0.55:
        v = rng.choice(_INTS)
    elif pick < 0.85 and isinstance(old, int):
        v = old + rng.choice((-2, -1, 1, 2, 16, -16, old, -2 * old))
    else:
        v = rng.randrange(-1000, 100_000)
    if t == fd.CPPTYPE_ENUM and rng.random() < 0.7:
        values = [e.number for e in fd.enum_type.values]
        v = rng.choice(values + [max(values) + 1, -1, 100, 101, 119])
    return min(max(v, lo), hi)


def _field(holder, name):
    return holder.DESCRIPTOR.fields_by_name[name], getattr(holder, name)


def mutate_message(msg, rng: random.Random, leaves, strings) -> str:
    """One structure-aware edit of ``msg`` in place; a short description of it."""
    hot = [leaf for leaf in leaves if leaf[2] in _HOT]
    pool = hot if hot and rng.random() < 0.6 else leaves
    if not pool:
        msg.Clear()
        return "cleared the whole message"
    kind, path, name, sel = rng.choice(pool)
    holder = _resolve(msg, path)
    fd, value = _field(holder, name)
    where = "/".join(f"{n}[{s[1] if isinstance(s, tuple) else s}]" if s is not None else n
                     for n, s in path + ((name, sel),))
    if kind == _SCALAR:
        old = value[sel[1]] if isinstance(sel, tuple) else (value[sel] if sel is not None
                                                           else value)
        for _ in range(4):
            new = _new_value(fd, old, rng, strings)
            try:
                if isinstance(sel, tuple):
                    value[sel[1]] = new
                elif sel is not None:
                    value[sel] = new
                else:
                    setattr(holder, name, new)
                return f"set {where} = {new!r:.60}"
            except (ValueError, TypeError):
                continue
        return f"left {where} (no value fitted)"
    if kind == _MESSAGE:
        target = value[sel[1]] if isinstance(sel, tuple) else (value[sel] if sel is not None
                                                              else value)
        if rng.random() < 0.5:
            target.Clear()
            return f"cleared {where}"
        same = [leaf for leaf in leaves if leaf[0] == _MESSAGE and leaf[2] == name]
        other = rng.choice(same)
        try:
            src = _resolve(msg, other[1])
            _, sv = _field(src, other[2])
            s = other[3]
            donor = sv[s[1]] if isinstance(s, tuple) else (sv[s] if s is not None else sv)
            if donor is not target and donor.DESCRIPTOR is target.DESCRIPTOR:
                copy = type(donor)()
                copy.CopyFrom(donor)
                target.CopyFrom(copy)
                return f"replaced {where} with a copy of another {name}"
        except (KeyError, IndexError, AttributeError):
            pass
        target.Clear()
        return f"cleared {where}"
    if kind == _REPEATED:
        n = len(value)
        op = rng.choice(("delete", "duplicate", "clear", "reverse", "delete"))
        if op == "clear" or n == 0:
            del value[:]
            return f"emptied {where}"
        i = rng.randrange(n)
        if op == "delete":
            del value[i]
            return f"deleted {where}[{i}]"
        if op == "duplicate":
            if fd.message_type is not None:
                value.add().CopyFrom(value[i])
            else:
                value.append(value[i])
            return f"duplicated {where}[{i}]"
        items = list(value)
        if fd.message_type is not None:
            copies = []
            for it in reversed(items):
                c = type(it)()
                c.CopyFrom(it)
                copies.append(c)
            del value[:]
            for c in copies:
                value.add().CopyFrom(c)
        else:
            value[:] = list(reversed(items))
        return f"reversed {where}"
    # a map
    keys = sorted(value.keys(), key=repr)
    if not keys:
        return f"left empty map {where}"
    key = rng.choice(keys)
    op = rng.choice(("delete", "rekey", "copy"))
    key_fd = fd.message_type.fields_by_name["key"]
    value_fd = fd.message_type.fields_by_name["value"]
    if op == "delete":
        del value[key]
        return f"deleted {where}[{key!r:.40}]"
    new_key = _new_value(key_fd, key, rng, strings)
    if isinstance(new_key, bytes) and key_fd.type == key_fd.TYPE_STRING:
        new_key = new_key.decode("latin-1")
    try:
        if value_fd.message_type is not None:
            value[new_key].CopyFrom(value[key])
        else:
            value[new_key] = value[key]
    except (ValueError, TypeError):
        return f"left {where}"
    if op == "rekey" and new_key != key:
        del value[key]
        return f"renamed {where}[{key!r:.40}] to {new_key!r:.40}"
    return f"copied {where}[{key!r:.40}] to {new_key!r:.40}"


# ---------------------------------------------------------------- mutating each kind

def _message_class(target: Target):
    from tensorloupe.protos import (checkpoint_state_pb2, fingerprint_pb2, graph_pb2,
                                    meta_graph_pb2, saved_model_pb2)
    f = target.file
    if target.kind == "state":
        return checkpoint_state_pb2.CheckpointState
    if f.startswith("saved_model."):
        return saved_model_pb2.SavedModel
    if f == "fingerprint.pb":
        return fingerprint_pb2.FingerprintDef
    if f.endswith(".meta"):
        return meta_graph_pb2.MetaGraphDef
    return graph_pb2.GraphDef


_PRISTINE: dict = {}


def _pristine(target: Target):
    """(bytes, parsed message or None, leaves, strings) of a target's file, cached."""
    found = _PRISTINE.get(target)
    if found is None:
        data = (DATA / target.root / target.file).read_bytes()
        msg = leaves = strings = None
        if target.kind not in ("index", "data"):
            cls = _message_class(target)
            msg = cls()
            if target.kind in ("pbtxt", "state"):
                from google.protobuf import text_format
                text_format.Parse(data.decode("utf-8"), msg)
            else:
                msg.ParseFromString(data)
            leaves, strings = _leaves(msg)
        found = _PRISTINE[target] = (data, msg, leaves, strings)
    return found


def _mutate_proto_file(target: Target, rng: random.Random) -> tuple[bytes, list[str]]:
    data, pristine, leaves, strings = _pristine(target)
    text = target.kind in ("pbtxt", "state")
    if rng.random() < (0.65 if text else 0.7):
        msg = type(pristine)()
        msg.CopyFrom(pristine)
        notes = []
        for _ in range(_count(rng)):
            try:
                notes.append(mutate_message(msg, rng, leaves, strings))
            except (IndexError, KeyError, AttributeError):
                notes.append("(an edit found its place gone)")
        if text:
            from google.protobuf import text_format
            out = text_format.MessageToString(msg).encode("utf-8")
        else:
            out = msg.SerializeToString(deterministic=True)
        if rng.random() < 0.1:
            out, note = mutate_bytes(out, rng)
            notes.append(note)
        return out, notes
    out, note = (mutate_text if text else mutate_bytes)(data, rng)
    return out, [note]


def _count(rng: random.Random) -> int:
    r = rng.random()
    return 1 if r < 0.7 else 2 if r < 0.9 else 3


def _mutate_index(target: Target, rng: random.Random) -> tuple[bytes, list[str]]:
    import formats
    data = _pristine(target)[0]
    if rng.random() < 0.3:
        out, note = mutate_bytes(data, rng)
        return out, [note]
    header, entries = formats.read_index(DATA / target.root / target.file)
    items = [(b"", header)] + list(entries)
    notes = []
    for _ in range(_count(rng)):
        op = rng.random()
        if op < 0.7:
            i = rng.randrange(len(items))
            key, proto = items[i]
            leaves, strings = _leaves(proto)
            notes.append(f"entry {key!r:.40}: " + mutate_message(proto, rng, leaves, strings))
        elif op < 0.8 and len(items) > 1:
            i = rng.randrange(len(items))
            notes.append(f"deleted entry {items[i][0]!r:.40}")
            del items[i]
        elif op < 0.9:
            i = rng.randrange(len(items))
            key, proto = items[i]
            new_key = rng.choice((key + b"x", key[:-1], b"\x00" + key, key, b"zz" + key))
            copy = type(proto)()
            copy.CopyFrom(proto)
            items.append((new_key, copy))
            notes.append(f"copied entry {key!r:.40} to {new_key!r:.40}")
        elif len(items) > 2:
            i, j = rng.sample(range(1, len(items)), 2)
            (ki, pi), (kj, pj) = items[i], items[j]
            items[i], items[j] = (ki, pj), (kj, pi)
            notes.append(f"swapped the entries of {ki!r:.30} and {kj!r:.30}")
    out = formats.write_table([(k, p.SerializeToString(deterministic=True)) for k, p in items])
    return out, notes


def mutate(target: Target, rng: random.Random) -> tuple[bytes, list[str]]:
    if target.kind == "index":
        return _mutate_index(target, rng)
    if target.kind == "data":
        data = _pristine(target)[0]
        notes = []
        for _ in range(_count(rng)):
            data, note = mutate_bytes(data, rng)
            notes.append(note)
        return data, notes
    return _mutate_proto_file(target, rng)


@dataclasses.dataclass
class Case:
    number: int
    target: Target
    data: bytes
    notes: list


def make_case(seed: int, number: int, by_kind=None) -> Case:
    by_kind = by_kind or targets_by_kind()
    rng = random.Random(f"tensorloupe-fuzz/{seed}/{number}")
    kind = rng.choice(sorted(by_kind))
    target = rng.choice(by_kind[kind])
    data, notes = mutate(target, rng)
    return Case(number, target, data, notes)


_LAID: dict = {}   # case folder -> (fixture root, file mutated there last)


def lay_out(case: Case, base: Path) -> Path:
    """The case's files in a folder under ``base`` (one per fixture): the fixture's files
    hard-linked from a private copy (links resolving outside a model are refused, rightly,
    so no symlinks), the mutated file written afresh. A folder laid out before only has its
    previously mutated file put back. Returns what the entry points are given."""
    target = case.target
    pristine = _pristine_copy(target.root, base / "_pristine")
    where = base / target.root.replace("/", "__")
    last = _LAID.get(where)
    if last is None or last[0] != target.root or not where.is_dir():
        if where.exists():
            shutil.rmtree(where)
        for path in sorted(pristine.rglob("*")):
            dst = where / path.relative_to(pristine)
            if path.is_dir():
                dst.mkdir(parents=True, exist_ok=True)
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                _link(path, dst)
    elif last[1] != target.file:
        _link(pristine / last[1], where / last[1])
    dst = where / target.file
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    dst.write_bytes(case.data)
    _LAID[where] = (target.root, target.file)
    return where / target.entry if target.entry else where


def _link(src: Path, dst: Path) -> None:
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _pristine_copy(root: str, base: Path) -> Path:
    """A copy of a fixture folder under ``base``, made once (read-only from then on)."""
    dst = base / root
    if not dst.is_dir():
        tmp = base / (root + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(DATA / root, tmp)
        tmp.rename(dst)
    return dst


# ---------------------------------------------------------------- the entry points

class _Steps:
    """Runs entry points one after another; a typed error ends only the step it is in."""

    def __init__(self):
        self.typed: list[str] = []

    def __call__(self, name, fn, *args, **kwargs):
        from tensorloupe.core.errors import TensorloupeError
        try:
            return fn(*args, **kwargs)
        except TensorloupeError as exc:
            if _has_memory_error(exc):
                raise
            self.typed.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
            return None


def _has_memory_error(exc) -> bool:
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, MemoryError):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _cli(argv) -> None:
    from tensorloupe import command
    parser = command._build_parser(argv[0])
    args = parser.parse_args(argv)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        args._module.main(args)


def _reads():
    """Checkpoint reads outside a run use the fuzzing budget too."""
    from tensorloupe.core.engine.context import Budget, RunOptions, run_scope
    return run_scope(RunOptions(budget=Budget(**RUN_BUDGET)))


def _default_inputs(specs) -> dict | None:
    import numpy as np

    from tensorloupe.core import dtypes
    feeds = {}
    total = 0
    for key, spec in sorted(specs.items()):
        dims = (1,) if spec.shape is None else spec.shape
        shape = [1 if d is None or d < 0 else int(d) for d in dims]
        n = math.prod(shape)
        enum = dtypes.base(int(spec.dtype))
        try:
            dt = np.dtype(object) if enum == 7 else np.dtype(dtypes.to_numpy(enum))
        except Exception:  # noqa: BLE001 - an odd dtype: feed a float and let the run say
            dt = np.dtype(np.float32)
        total += n * max(dt.itemsize, 1)
        if total > MAX_FEED_BYTES:      # (decided before anything is made)
            return None
        feeds[key] = np.full(shape, b"", dtype=object) if enum == 7 else np.zeros(shape, dt)
    return feeds


def _read_all(step, reader) -> None:
    keys = step("keys", reader.keys) or []
    for key in keys[:200]:
        step("shape", reader.shape, key)
        step("dtype", reader.dtype, key)
        step("nbytes", reader.nbytes, key)
        with _reads():
            step("read", reader.read, key)
    step("verify", reader.verify)
    step("names", reader.readable_names)
    step("object graph", reader.object_graph)


def exercise_saved_model(path: Path, step: _Steps, scan: bool = True) -> None:
    import tensorloupe.core as core
    from tensorloupe.core.engine.context import Budget
    sm = step("open", core.open_saved_model, path)
    if sm is None:
        return
    step("summary", sm.summary)
    step("fingerprint", lambda: sm.fingerprint)
    step("assets", lambda: (sm.assets, sm.assets_extra, sm.variables_prefix))
    tag_sets = step("tag sets", lambda: list(sm.tag_sets)) or []
    runs = []
    for tags in tag_sets:
        mg = step("meta graph", sm.meta_graph, tags)
        if mg is None:
            continue
        sigs = step("signatures", lambda: dict(mg.signatures)) or {}
        for key, sig in sorted(sigs.items()):
            step("signature", lambda: (list(sig.inputs.values()), list(sig.outputs.values()),
                                       repr(sig)))
            if not key.startswith("__"):
                runs.append((tags, key, sig))
        step("ops", mg.ops_used)
        step("functions", mg.concrete_functions)
        step("meta summary", mg.summary)
        step("collections", lambda: mg.collections)
        step("object graph", lambda: mg.object_graph)
        step("library", lambda: mg.functions)
        step("saver", lambda: (mg.saver_def, mg.asset_file_defs, mg.tf_version))
    step("show", _cli, ["show", "--dir", str(path), "--all"])
    if scan:
        step("scan", _cli, ["scan", "--dir", str(path), "--unsupported_ops"])
    reader = step("variables", core.open_checkpoint, path)
    if reader is not None:
        _read_all(step, reader)
        reader.close()
    for tags, key, sig in runs[:6]:
        feeds = step("inputs", lambda: _default_inputs(dict(sig.inputs)))
        if feeds is None:
            continue
        step("run", sm.run_signature, key, feeds, tags=tags, budget=Budget(**RUN_BUDGET))
    step("close", sm.close)


def exercise_checkpoint(path: Path, step: _Steps, scan: bool = True) -> None:
    import tensorloupe.core as core
    from tensorloupe.core.checkpoint import latest_checkpoint, read_state, training_run
    if path.is_dir():
        step("state", read_state, path)
        step("latest", latest_checkpoint, path)
        step("training run", training_run, path)
    reader = step("open", core.open_checkpoint, path)
    if reader is not None:
        _read_all(step, reader)
        reader.close()
    step("detect", lambda: core.open(path))
    with _reads():
        step("inspect", _cli, ["inspect", str(path), "--all_tensors"])


def _graph_io(graph_def):
    """(feeds, fetches) for running a graph: zeros for each placeholder, and the outputs no
    other node reads (the first few, by name)."""
    import numpy as np

    from tensorloupe.core import dtypes
    read = set()
    for node in graph_def.node:
        for name in node.input:
            read.add(name.lstrip("^").split(":")[0])
    feeds, fetches = {}, []
    for node in graph_def.node:
        if node.op in ("Placeholder", "PlaceholderV2"):
            dims = [1]
            if "shape" in node.attr and not node.attr["shape"].shape.unknown_rank:
                dims = [1 if d.size < 0 else d.size for d in node.attr["shape"].shape.dim]
            if math.prod(dims) > (1 << 20):
                return None, None
            enum = dtypes.base(node.attr["dtype"].type) if "dtype" in node.attr else 1
            if enum == 7:
                feeds[node.name + ":0"] = np.full(dims, b"", dtype=object)
            else:
                try:
                    feeds[node.name + ":0"] = np.zeros(dims, dtypes.to_numpy(enum))
                except Exception:  # noqa: BLE001 - unknown dtype: let the run say
                    feeds[node.name + ":0"] = np.zeros(dims, np.float32)
        elif node.name not in read and not node.name.startswith("save") and _has_output(node.op):
            fetches.append(node.name + ":0")
    # (outer outputs first: a loop's internals are sinks too, but rarely have values)
    return feeds, sorted(fetches, key=lambda f: (f.count("/"), f))[:4]


def _has_output(op: str) -> bool:
    from tensorloupe.core.engine import registry
    k = registry.lookup(op)
    return k is not None and bool(k.outputs) and op not in ("Assert", "NoOp")


def exercise_graph(path: Path, step: _Steps, scan: bool = True) -> None:
    import tensorloupe.core as core
    from tensorloupe.core.engine.context import Budget
    g = step("open", core.open_graph, path)
    if g is None:
        return
    step("summary", g.summary)
    step("ops", g.ops_used)
    step("functions", lambda: g.functions)
    step("meta graph", lambda: g.meta_graph)
    if g.meta_graph_proto is not None:       # (a frozen graph has no checkpoint beside it)
        reader = step("checkpoint", g.open_checkpoint)
        if reader is not None:
            _read_all(step, reader)
    feeds, fetches = _graph_io(g.graph_def)
    if fetches:
        step("run", g.run, fetches, feeds, budget=Budget(**RUN_BUDGET))
    step("close", g.close)


RECIPES = {"saved_model": exercise_saved_model, "checkpoint": exercise_checkpoint,
           "graph": exercise_graph}


def _checksums(on: bool):
    try:
        from tensorloupe.core.checkpoint import verification
    except ImportError:        # a version without checksums on read
        return contextlib.nullcontext()
    return verification(on)


def _self_test_fault(number: int) -> None:
    """With TENSORLOUPE_FUZZ_SELF_TEST=1, cases 0-3 misbehave on purpose, so that a test can
    check each outcome is seen: a bug, a typed error wrapping a MemoryError, an allocation
    past the address space limit, a hang."""
    if os.environ.get("TENSORLOUPE_FUZZ_SELF_TEST") != "1" or number > 3:
        return
    if number == 0:
        raise ValueError("self-test: an untyped error")
    if number == 1:
        from tensorloupe.core.errors import ExecutionError
        try:
            raise MemoryError("self-test")
        except MemoryError:
            raise ExecutionError("self-test: out of memory") from None
    if number == 2:
        bytearray(3 << 30)
    time.sleep(3600)


def run_case(case: Case, where: Path) -> dict:
    """Lay the case out and run its entry points; the outcome (as the worker reports it)."""
    entry = lay_out(case, where)
    step = _Steps()
    t0 = time.perf_counter()
    result = {"case": case.number, "target": case.target.name, "kind": case.target.kind,
              "notes": case.notes, "path": str(entry)}
    try:
        # Odd cases read with checksums off, so damaged bytes reach the decoders and the
        # engine instead of stopping at the crc32c check. (``scan`` plans every function:
        # slow, so one case in four.)
        with _checksums(case.number % 2 == 0):
            _self_test_fault(case.number)
            RECIPES[case.target.recipe](entry, step, scan=case.number % 4 == 0)
        result["outcome"] = "typed" if step.typed else "ok"
        result["typed"] = step.typed[:3]
    except MemoryError:
        result["outcome"] = "memory"
        result["traceback"] = traceback.format_exc()
    except Exception as exc:  # noqa: BLE001 - what the fuzzer looks for
        result["outcome"] = "memory" if _has_memory_error(exc) else "uncaught"
        result["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        result["traceback"] = traceback.format_exc()
        result["where"] = _where(exc)
    result["seconds"] = round(time.perf_counter() - t0, 4)
    return result


def _where(exc) -> str:
    """file:line of the innermost frame in Tensorloupe's own code (to group bugs)."""
    tb = exc.__traceback__
    found = ""
    while tb is not None:
        f = tb.tb_frame.f_code.co_filename
        if "/tests/" not in f and ("tensorloupe" in f or f.startswith(str(ROOT))):
            found = f"{os.path.relpath(f, ROOT)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


# ---------------------------------------------------------------- the worker process

def worker(seed: int, scratch: str, memory: int) -> int:
    import resource
    import warnings
    warnings.simplefilter("ignore")
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    import numpy  # noqa: F401 - (imported before the limit: it maps its libraries)

    import tensorloupe.core as _core  # noqa: F401
    from tensorloupe.core.engine import registry
    registry.known_ops()
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    by_kind = targets_by_kind()
    where = Path(scratch) / "case"
    proto.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        number = json.loads(line)["case"]
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            case = make_case(seed, number, by_kind)
            result = run_case(case, where)
        except Exception as exc:  # noqa: BLE001 - making the case failed: a harness bug
            result = {"case": number, "outcome": "uncaught", "target": "(making the case)",
                      "kind": "?", "error": f"{type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc(), "where": "tests/fuzz/fuzz.py"}
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        restart = False
        if peak > PEAK_LIMIT and peak > base * 1024:
            if result["outcome"] not in ("uncaught",):
                result["outcome"] = "memory"
                result["error"] = f"peak resident memory {peak >> 20} MiB"
            restart = True          # a fresh process measures the next case from scratch
        proto.write(json.dumps(result) + "\n")
        if restart:
            return 0
    return 0


class _Worker:
    def __init__(self, seed, scratch_root, memory):
        self.scratch = tempfile.mkdtemp(prefix="w", dir=scratch_root)
        env = dict(os.environ, PYTHONHASHSEED="0", TENSORLOUPE_THREADS="1",
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", "--seed", str(seed),
             "--scratch", self.scratch, "--memory", str(memory)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.buf = b""
        self.ready = False
        self.case = None
        self.deadline = None
        self.started = time.monotonic()

    def send(self, number: int, seconds: float) -> None:
        self.case = number
        self.deadline = time.monotonic() + seconds
        self.proc.stdin.write(json.dumps({"case": number}).encode() + b"\n")
        self.proc.stdin.flush()

    def lines(self) -> list[dict] | None:
        chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
        if not chunk:
            return None
        self.buf += chunk
        out = []
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            out.append(json.loads(line))
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(Exception):
                f.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


@dataclasses.dataclass
class Summary:
    cases: int
    seed: int
    seconds: float
    counts: Counter
    by_kind: dict
    problems: list          # results that are uncaught / hang / memory
    out: str | None = None

    def report(self) -> str:
        lines = [f"{self.cases} cases (seed {self.seed}) in {self.seconds:.1f} s: " +
                 ", ".join(f"{k} {self.counts.get(k, 0)}" for k in OUTCOMES)]
        lines.append("  by kind: " + "; ".join(
            f"{k} " + "/".join(str(c.get(o, 0)) for o in OUTCOMES)
            for k, c in sorted(self.by_kind.items())) + "  (" + "/".join(OUTCOMES) + ")")
        groups: dict = {}
        for r in self.problems:
            key = (r["outcome"], r.get("where") or "", (r.get("error") or "").split(":")[0])
            groups.setdefault(key, []).append(r)
        for (outcome, where, error), rs in sorted(groups.items()):
            first = rs[0]
            lines.append(f"  {outcome}: {len(rs)} case(s), e.g. case {first['case']} "
                         f"({first['target']}; {'; '.join(first.get('notes', []))[:160]}): "
                         f"{(first.get('error') or '')[:200]} at {where or '?'}")
        if self.out:
            lines.append(f"  tracebacks and cases: {self.out}")
        return "\n".join(lines)


def run(cases: int, seed: int = 1, workers: int | None = None, case_seconds: float = CASE_SECONDS,
        memory: int = WORKER_MEMORY, out: str | None = None, first: int = 0,
        progress=None) -> Summary:
    """Run cases ``first .. first + cases - 1`` of ``seed`` on a pool of worker processes."""
    workers = max(1, workers or os.cpu_count() or 1)
    scratch_root = tempfile.mkdtemp(prefix="tensorloupe-fuzz-")
    pending = iter(range(first, first + cases))
    counts: Counter = Counter()
    by_kind: dict = {}
    problems = []
    done = 0
    t0 = time.monotonic()
    sel = selectors.DefaultSelector()
    pool: list[_Worker] = []

    def spawn():
        w = _Worker(seed, scratch_root, memory)
        sel.register(w.proc.stdout, selectors.EVENT_READ, w)
        pool.append(w)
        return w

    def retire(w):
        sel.unregister(w.proc.stdout)
        pool.remove(w)
        w.stop()

    def record(result):
        nonlocal done
        done += 1
        counts[result["outcome"]] += 1
        by_kind.setdefault(result.get("kind", "?"), Counter())[result["outcome"]] += 1
        if result["outcome"] in ("uncaught", "hang", "memory"):
            problems.append(result)
            if out:
                _save_problem(out, seed, result)
        if progress is not None:
            progress(done, cases, counts)

    def feed(w):
        number = next(pending, None)
        if number is None:
            retire(w)
        else:
            w.send(number, case_seconds)

    try:
        for _ in range(min(workers, cases)):
            spawn()
        while pool:
            now = time.monotonic()
            waits = [w.deadline - now for w in pool if w.deadline is not None]
            timeout = max(0.0, min(waits)) if waits else 30.0
            for key, _ in sel.select(timeout):
                w = key.data
                if w not in pool:
                    continue
                got = w.lines()
                if got is None:           # the worker died
                    if w.case is not None:
                        record({"case": w.case, "outcome": "uncaught", "kind": "?",
                                "target": "?", "error": f"worker died (exit "
                                f"{w.proc.poll()})", "where": "(process)"})
                    retire(w)
                    if done < cases:
                        spawn()
                    continue
                for msg in got:
                    if msg.get("ready"):
                        w.ready = True
                        feed(w)
                        continue
                    w.case, w.deadline = None, None
                    record(msg)
                    if w in pool:
                        feed(w)
            now = time.monotonic()
            for w in list(pool):
                if w.deadline is not None and now > w.deadline:
                    number = w.case
                    retire(w)
                    try:
                        case = make_case(seed, number)
                        target, kind, notes = case.target.name, case.target.kind, case.notes
                    except Exception:  # noqa: BLE001
                        target, kind, notes = "?", "?", []
                    record({"case": number, "outcome": "hang", "target": target, "kind": kind,
                            "notes": notes, "error": f"no answer in {case_seconds:g} s",
                            "where": ""})
                    if done < cases:
                        spawn()
                elif not w.ready and now - w.started > 120:
                    raise RuntimeError("a fuzz worker did not start within 120 s")
    finally:
        for w in list(pool):
            retire(w)
        shutil.rmtree(scratch_root, ignore_errors=True)
    return Summary(cases, seed, time.monotonic() - t0, counts, by_kind, problems, out)


def _save_problem(out: str, seed: int, result: dict) -> None:
    os.makedirs(out, exist_ok=True)
    name = f"{result['outcome']}-seed{seed}-case{result['case']}"
    with open(os.path.join(out, name + ".txt"), "w") as f:
        f.write(f"replay: python tests/fuzz/fuzz.py --seed {seed} --replay {result['case']}\n")
        f.write(json.dumps({k: v for k, v in result.items() if k != "traceback"}, indent=1))
        f.write("\n\n" + result.get("traceback", ""))


def replay(seed: int, number: int, save: str | None = None) -> dict:
    case = make_case(seed, number)
    print(f"case {number} of seed {seed}: {case.target.name}")
    for note in case.notes:
        print(f"  {note}")
    where = Path(save) if save else Path(tempfile.mkdtemp(prefix="tensorloupe-case-"))
    result = run_case(case, where)
    print(f"outcome: {result['outcome']} in {result['seconds']:.2f} s")
    for line in result.get("typed", []):
        print(f"  {line}")
    if result.get("traceback"):
        print(result["traceback"])
    if save:
        print(f"files: {result['path']}")
    else:
        shutil.rmtree(where, ignore_errors=True)
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--first", type=int, default=0, help="number of the first case")
    p.add_argument("--workers", type=int, default=None, help="default: one per CPU")
    p.add_argument("--timeout", type=float, default=CASE_SECONDS, help="seconds per case")
    p.add_argument("--memory", type=int, default=WORKER_MEMORY,
                   help="address space limit of each worker, in bytes (0: none)")
    p.add_argument("--out", default=None, help="write each problem case's traceback here")
    p.add_argument("--replay", type=int, default=None, help="run one case here, verbosely")
    p.add_argument("--save", default=None, help="with --replay: lay the case's files out here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--scratch", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.seed, args.scratch, args.memory)
    if args.replay is not None:
        replay(args.seed, args.replay, args.save)
        return 0
    last = [0.0]

    def progress(done, total, counts):
        now = time.monotonic()
        if now - last[0] > 10 or done == total:
            last[0] = now
            print(f"  {done}/{total}: " + ", ".join(f"{k} {counts.get(k, 0)}"
                                                     for k in OUTCOMES), flush=True)
    summary = run(args.cases, args.seed, args.workers, args.timeout, args.memory, args.out,
                  args.first, progress)
    print(summary.report())
    bad = sum(summary.counts.get(k, 0) for k in ("uncaught", "hang", "memory"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
