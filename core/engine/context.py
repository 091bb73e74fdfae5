"""What a kernel can reach while it runs: resources, nested calls, guards, and where it is.

One :class:`RunOptions` describes the guards of a run (allocation limit, iteration cap,
cancellation callback, trace recorder). A :class:`KernelContext` is made per graph or
function body being executed; the executor keeps ``node`` pointing at the step that is
running so that errors can name the node, its op and the function it sits in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import ExecutionError
from ..errors import RunCancelled as Cancelled  # the engine's name for a cancelled run

DEFAULT_MAX_ALLOC = 4 << 30          # 4 GiB for one tensor
DEFAULT_MAX_ITERATIONS = 1_000_000   # per loop (While or a TF1 frame)


@dataclass
class RunOptions:
    """Guards and instruments of one run.

    ``cancel`` is called now and then (between loop iterations and every few hundred nodes);
    when it returns True the run stops with :class:`Cancelled`.
    ``trace`` is a :class:`core.engine.trace.Trace` recorder, or None.
    """
    max_alloc_bytes: int = DEFAULT_MAX_ALLOC
    max_iterations: int = DEFAULT_MAX_ITERATIONS
    cancel: Callable[[], bool] | None = None
    trace: Any = None


class KernelContext:
    """The executor's side of the kernel contract (see ``registry``)."""

    __slots__ = ("session", "options", "function_path", "node", "_caller")

    def __init__(self, session, options: RunOptions, function_path: tuple[str, ...] = ()):
        self.session = session
        self.options = options
        self.function_path = function_path
        self.node = None  # the executing plan step (has .name and .op)

    # ---------------------------------------------------------------- guards
    def check_alloc(self, nbytes) -> None:
        """Refuse a tensor larger than the configured limit before it is allocated."""
        limit = self.options.max_alloc_bytes
        if nbytes > limit:
            raise ExecutionError(
                f"{self.where()} would allocate {_size_text(int(nbytes))}, more than the "
                f"limit of {_size_text(limit)}")

    def check_cancelled(self) -> None:
        cancel = self.options.cancel
        if cancel is not None and cancel():
            raise Cancelled("the run was cancelled")

    @property
    def max_iterations(self) -> int:
        return self.options.max_iterations

    # ---------------------------------------------------------------- where we are
    @property
    def node_name(self) -> str:
        return self.node.name if self.node is not None else ""

    @property
    def op(self) -> str:
        return self.node.op if self.node is not None else ""

    @property
    def function_name(self) -> str | None:
        return self.function_path[-1] if self.function_path else None

    def where(self) -> str:
        """``node 'x' (MatMul) in function 'f'`` for error messages."""
        text = f"node '{self.node_name}' ({self.op})" if self.node is not None else "the graph"
        if self.function_path:
            text += f" in function '{self.function_path[-1]}'"
        return text

    # ---------------------------------------------------------------- session services
    @property
    def resources(self):
        """The session's :class:`core.engine.resources.ResourceManager`."""
        return self.session.resources

    def call_function(self, func, inputs: list, attrs: dict | None = None) -> list:
        """Run a library function (a ``FuncRef`` or a name) and return its outputs."""
        name = func if isinstance(func, str) else func.name
        call_attrs = attrs if attrs is not None else (
            {} if isinstance(func, str) else func.attrs)
        return self.session.call_function(name, list(inputs), call_attrs, self)

    def open_checkpoint(self, prefix: str):
        """A cached checkpoint reader for ``prefix`` (RestoreV2 reads through it)."""
        return self.session.checkpoint_reader(prefix)


def _size_text(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n}"


@dataclass
class NodeRecord:
    """What one executed node produced (for the trace table and the GUI)."""
    name: str
    op: str
    function_path: tuple[str, ...]
    shapes: list
    dtypes: list
    seconds: float
    has_nan: bool
    has_inf: bool
    values: list | None = None


@dataclass
class Trace:
    """Records every node a run executes.

    ``keep``: False (shapes and flags only), True (keep every output), or a set of node
    names whose outputs are kept. ``max_records`` bounds memory for long loops.
    """
    keep: Any = False
    max_records: int = 200_000
    records: list = field(default_factory=list)
    dropped: int = 0

    def wants_values(self, name: str) -> bool:
        keep = self.keep
        if keep is True:
            return True
        if not keep:
            return False
        return name in keep

    def add(self, record: NodeRecord) -> None:
        if len(self.records) >= self.max_records:
            self.dropped += 1
        else:
            self.records.append(record)
