"""How names of checkpoint A correspond to names of checkpoint B when variables were renamed:
prefixes stripped or replaced on both sides, and explicit pairs (from a JSON file or flags).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from ..errors import InputError, NotFoundError


@dataclass
class KeyMap:
    """How names of A correspond to names of B when variables were renamed.

    ``strip_prefixes`` are removed from the names of both sides (the first that matches);
    ``replace_prefixes`` (old, new) rewrite names of both sides; ``pairs`` maps a name in A
    (key or readable name) to a name in B (key or readable name) and wins over the rest,
    as the ``{"name_in_checkpoint": variable}`` dict a TF1 Saver takes.
    """
    strip_prefixes: list[str] = field(default_factory=list)
    replace_prefixes: list[tuple[str, str]] = field(default_factory=list)
    pairs: dict[str, str] = field(default_factory=dict)

    def normalize(self, name: str) -> str:
        for p in self.strip_prefixes:
            if p and name.startswith(p):
                name = name[len(p):]
                break
        for old, new in self.replace_prefixes:
            if old and name.startswith(old):
                name = new + name[len(old):]
                break
        return name

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "KeyMap":
        """A JSON object ``{"name in A": "name in B", ...}``; or one with the keys
        ``rename`` (that object), ``strip_prefix`` (list) and ``replace_prefix`` (object)."""
        path = os.fspath(path)
        try:
            with open(path, "rb") as f:
                data = json.loads(f.read(1 << 26).decode("utf-8"))
        except FileNotFoundError:
            raise NotFoundError("mapping file not found", path) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"the mapping file is not JSON ({exc})", path) from None
        if not isinstance(data, dict):
            raise InputError("the mapping file must hold a JSON object of name -> name", path)
        special = {"rename", "strip_prefix", "replace_prefix"}
        if data and set(data) <= special:
            pairs = data.get("rename", {})
            strip = data.get("strip_prefix", [])
            replace = data.get("replace_prefix", {})
            if isinstance(strip, str):
                strip = [strip]
            if not (isinstance(pairs, dict) and isinstance(strip, list)
                    and isinstance(replace, dict)):
                raise InputError("in the mapping file, 'rename' and 'replace_prefix' must be "
                                 "objects and 'strip_prefix' a list", path)
        else:
            pairs, strip, replace = data, [], {}
        items = list(pairs.items()) + list(replace.items())
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in items) or \
                not all(isinstance(s, str) for s in strip):
            raise InputError("every name in the mapping file must be a string", path)
        return cls(strip_prefixes=list(strip), replace_prefixes=list(replace.items()),
                   pairs=dict(pairs))

    def __bool__(self) -> bool:
        return bool(self.strip_prefixes or self.replace_prefixes or self.pairs)


def parse_replace(spec: str) -> tuple[str, str]:
    """``OLD=NEW`` from the command line."""
    if "=" not in spec:
        raise InputError(f"--replace-prefix wants OLD=NEW, got {spec!r}")
    old, new = spec.split("=", 1)
    return old, new
