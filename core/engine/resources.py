"""Stateful things a session keeps between runs: variables, lookup tables, TF1 ref variables.

Resources are found by (kind, container, shared_name) as TensorFlow's ResourceMgr does; a
handle (what VarHandleOp or HashTableV2 outputs) is a small :class:`ResourceHandle` object
that flows through the graph like any other value.
"""
from __future__ import annotations

from ..errors import ExecutionError


class ResourceHandle:
    """A reference to a resource of a session (the value of a DT_RESOURCE tensor)."""

    __slots__ = ("kind", "container", "name", "dtype", "shape")

    def __init__(self, kind: str, container: str, name: str, dtype=None, shape=None):
        self.kind = kind
        self.container = container
        self.name = name
        self.dtype = dtype
        self.shape = shape

    @property
    def key(self):
        return (self.kind, self.container, self.name)

    def __repr__(self):
        return f"<{self.kind} resource {self.name!r}>"


class Variable:
    """A resource or ref variable's current value (None until initialized)."""

    __slots__ = ("name", "dtype", "shape", "value")

    def __init__(self, name: str, dtype=None, shape=None):
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.value = None

    def read(self):
        if self.value is None:
            raise ExecutionError(
                f"variable '{self.name}' is read before it was initialized or restored")
        return self.value


class ResourceManager:
    def __init__(self):
        self._items: dict = {}

    def get(self, handle: ResourceHandle, create=None):
        """The resource a handle names; ``create()`` makes it when missing (else an error)."""
        if not isinstance(handle, ResourceHandle):
            raise ExecutionError(f"expected a resource handle, got {type(handle).__name__}")
        item = self._items.get(handle.key)
        if item is None:
            if create is None:
                raise ExecutionError(
                    f"{handle.kind} '{handle.name}' does not exist (it was never created or "
                    "initialized)")
            item = self._items[handle.key] = create()
        return item

    def find(self, handle: ResourceHandle):
        return self._items.get(handle.key)

    def put(self, handle: ResourceHandle, item) -> None:
        self._items[handle.key] = item

    def delete(self, handle: ResourceHandle) -> None:
        self._items.pop(handle.key, None)

    def ref_variable(self, name: str) -> Variable:
        """The TF1 ref variable stored under ``name`` (created on first use)."""
        key = ("ref_variable", "", name)
        var = self._items.get(key)
        if var is None:
            var = self._items[key] = Variable(name)
        return var

    def items(self):
        return list(self._items.items())
