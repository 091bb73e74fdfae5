"""What a kernel can reach while it runs: resources, nested calls, guards, and where it is.

One :class:`RunOptions` describes a run: its :class:`Budget` (memory of live tensors, loop
iterations, wall time), a cancellation callback and a trace recorder. A :class:`Meter`
keeps one run's account (live tensor bytes, the deadline) and is shared by everything the
run does, nested function calls and the planning of their bodies included (it is found
through a context variable, so readers such as the checkpoint bundle can ask what is
left). A :class:`KernelContext` is made per graph or function body being executed; the
executor keeps ``node`` pointing at the step that is running so that errors can name the
node, its op and the function it sits in.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import BudgetError, InputError
from ..errors import RunCancelled as Cancelled  # the engine's name for a cancelled run

# Loop iterations of a whole run, all loops together (functional While loops and TF1 loop
# frames; an inner loop's iterations all count). TensorFlow has no such limit. Loops at
# inference are a sequence's steps and map_fn's rows: hundreds to tens of thousands. A small
# loop body costs 60-100 µs per iteration here, so a damaged condition that never turns
# false ends in 6-10 s. (Counting per loop would not do: a damaged outer loop around an
# inner one that runs i times makes the work quadratic in the cap.)
DEFAULT_MAX_ITERATIONS = 100_000
DEFAULT_MAX_ALLOC = 8 << 30          # the most the memory budget is by default
_UNKNOWN_RAM_BUDGET = 4 << 30        # when the machine's RAM cannot be found
_NO_LIMIT = 1 << 62


@functools.lru_cache(maxsize=1)
def physical_memory() -> int | None:
    """Bytes of RAM of this machine, or None when the system does not say."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        if pages > 0 and size > 0:
            return int(pages) * int(size)
    except (AttributeError, ValueError, OSError):
        pass
    if os.name == "nt":  # pragma: no cover - no sysconf on Windows
        try:
            import ctypes

            class _Status(ctypes.Structure):
                _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                            ("ullTotalPhys", ctypes.c_ulonglong)] + [
                    (n, ctypes.c_ulonglong) for n in ("a", "b", "c", "d", "e", "f")]
            status = _Status()
            status.dwLength = ctypes.sizeof(_Status)
            if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
                return int(status.ullTotalPhys)
        except Exception:  # noqa: BLE001 - any failure: RAM unknown
            pass
    return None


def default_max_memory() -> int:
    """The default memory budget: half the RAM, at most 8 GiB (4 GiB if RAM is unknown)."""
    ram = physical_memory()
    return min(ram // 2, DEFAULT_MAX_ALLOC) if ram else _UNKNOWN_RAM_BUDGET


@dataclass(frozen=True)
class Budget:
    """The limits of one run. ``None`` or 0 turns a limit off.

    ``max_memory``: bytes of tensors the run holds at once (outputs not yet consumed, the
    values a loop carries, constants of the graphs running, inputs fed; each buffer once);
    kernels whose output size is known ask before allocating, and every node's outputs
    are counted when it returns. Default: half the RAM, at most 8 GiB.
    ``max_iterations``: loop iterations of the whole run, all loops together (default
    100,000).
    ``timeout``: seconds of wall time for the whole run (default: none).
    """
    max_memory: int | None = field(default_factory=default_max_memory)
    max_iterations: int | None = DEFAULT_MAX_ITERATIONS
    timeout: float | None = None

    def __post_init__(self):
        for name in ("max_memory", "max_iterations", "timeout"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                  or v != v or v < 0):
                raise InputError(f"budget {name} must be a non-negative number or None, "
                                 f"got {v!r}")

    def text(self) -> str:
        """``memory 8.0 GiB, 100000 loop iterations, no time limit``."""
        mem = f"memory {size_text(self.max_memory)}" if self.max_memory else "no memory limit"
        it = (f"{int(self.max_iterations)} loop iterations" if self.max_iterations
              else "no iteration limit")
        tm = f"{self.timeout:g} s" if self.timeout else "no time limit"
        return f"{mem}, {it}, {tm}"


@dataclass
class RunOptions:
    """Limits and instruments of one run.

    ``budget``: a :class:`Budget` (default: ``Budget()``). ``max_memory``,
    ``max_iterations`` and ``timeout`` override the budget's field of the same name when
    given (0 turns that limit off); ``max_alloc_bytes`` is an older name of
    ``max_memory``.
    ``cancel`` is called between nodes, loop iterations and every so often inside long
    kernels; when it returns True the run stops with :class:`Cancelled`.
    ``trace`` is a :class:`Trace` recorder, or None.
    """
    budget: Budget | None = None
    max_memory: int | None = None
    max_iterations: int | None = None
    timeout: float | None = None
    max_alloc_bytes: int | None = None
    cancel: Callable[[], bool] | None = None
    trace: Any = None

    def effective_budget(self) -> Budget:
        b = self.budget if self.budget is not None else Budget()
        changes = {}
        memory = self.max_memory if self.max_memory is not None else self.max_alloc_bytes
        if memory is not None:
            changes["max_memory"] = memory
        if self.max_iterations is not None:
            changes["max_iterations"] = self.max_iterations
        if self.timeout is not None:
            changes["timeout"] = self.timeout
        if not changes:
            return b
        return Budget(**{"max_memory": b.max_memory, "max_iterations": b.max_iterations,
                         "timeout": b.timeout, **changes})


# ---------------------------------------------------------------- sizes

_SIZE = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([kKmMgGtT]?)(i?)[bB]?\s*")


def parse_size(text: str) -> int:
    """``2GiB``, ``512MiB``, ``1.5G``, ``800MB``, ``1000000`` -> bytes (K/M/G/T and KiB/MiB/
    GiB/TiB are all powers of 1024; a plain number is bytes). InputError when not a size."""
    m = _SIZE.fullmatch(str(text))
    if not m:
        raise InputError(f"'{text}' is not a size (write it as 2GiB, 512MiB or a number of "
                         "bytes)")
    value = float(m.group(1)) * (1024 ** " KMGT".index(m.group(2).upper() or " "))
    if value >= _NO_LIMIT:
        raise InputError(f"size '{text}' is too large")
    return int(value)


def size_text(n) -> str:
    """A size as the budget's messages show it: 8.0 GiB, or "no limit"."""
    n = int(n)
    if n >= _NO_LIMIT:
        return "no limit"
    from ..stats import format_bytes
    return format_bytes(n)


# ---------------------------------------------------------------- the account of a run

class Meter:
    """One run's account: bytes of live tensors, iterations, the deadline, cancellation.

    Live bytes are counted per buffer: an array and the views of it (Reshape, Identity,
    slices) count once, for as long as any of them is held by the run.
    """

    __slots__ = ("budget", "max_memory", "max_iterations", "timeout", "deadline", "cancel",
                 "live", "_roots", "polling", "_ticks", "_array", "iterations")

    def __init__(self, options: "RunOptions | None" = None, budget: Budget | None = None):
        options = options or RunOptions()
        self.budget = budget = budget or options.effective_budget()
        self.max_memory = int(budget.max_memory) if budget.max_memory else _NO_LIMIT
        self.max_iterations = (int(budget.max_iterations) if budget.max_iterations
                               else _NO_LIMIT)
        self.timeout = budget.timeout or None
        self.deadline = time.monotonic() + budget.timeout if budget.timeout else None
        self.cancel = options.cancel
        self.polling = self.deadline is not None or self.cancel is not None
        self.live = 0
        self.iterations = 0
        self._roots: dict[int, list] = {}
        self._ticks = 0
        from numpy import ndarray   # (here: the command line parses sizes without numpy)
        self._array = ndarray

    # -- memory
    def remaining(self) -> int:
        return max(self.max_memory - self.live, 0)

    def _buffer(self, o):
        """The array that owns ``o``'s memory (views count against their base), or None for
        what is not an ndarray."""
        array = self._array
        if type(o) is not array:
            return None
        while type(o.base) is array:
            o = o.base
        return o

    def add(self, outputs) -> None:
        """Count a node's outputs as live (each buffer once)."""
        roots = self._roots
        for o in outputs:
            b = self._buffer(o)
            if b is None:
                continue
            entry = roots.get(id(b))
            if entry is None:
                n = b.nbytes
                roots[id(b)] = [1, n]
                self.live += n
            else:
                entry[0] += 1

    def drop(self, outputs) -> None:
        """Forget outputs the run no longer holds."""
        if not outputs:
            return
        roots = self._roots
        for o in outputs:
            b = self._buffer(o)
            if b is None:
                continue
            entry = roots.get(id(b))
            if entry is not None:
                entry[0] -= 1
                if entry[0] <= 0:
                    del roots[id(b)]
                    self.live -= entry[1]

    def over(self) -> bool:
        return self.live > self.max_memory

    def check_alloc(self, nbytes, where: str) -> None:
        nbytes = int(nbytes)
        if self.live + nbytes > self.max_memory:
            held = (f", with {size_text(self.live)} already held"
                    if self.live >= 1 << 20 else "")
            raise BudgetError(
                f"{where} would allocate {size_text(nbytes)}{held}: more than the limit of "
                f"the memory budget ({size_text(self.max_memory)}; raise it with --max_memory "
                "or Budget(max_memory=...))")

    def check_live(self, where: str) -> None:
        if self.live > self.max_memory:
            raise BudgetError(
                f"{where} brought the tensors alive in this run to {size_text(self.live)}: "
                f"more than the limit of the memory budget ({size_text(self.max_memory)}; "
                "raise it with --max_memory or Budget(max_memory=...))")

    # -- iterations
    def iterate(self, where, count: int) -> None:
        """Count one more iteration of a loop (``count``: that loop's so far)."""
        self.iterations += 1
        if self.iterations > self.max_iterations:
            place = where() if callable(where) else where
            inner = (f" ({self.iterations - 1} in all the run's loops)"
                     if self.iterations - 1 != count else "")
            raise BudgetError(
                f"{place} ran {count} iterations without finishing{inner}: the limit is "
                f"{self.max_iterations} loop iterations per run (raise it with "
                "--max_iterations or Budget(max_iterations=...))")

    # -- time and cancellation
    def poll(self, where) -> None:
        """Stop the run when it was cancelled or its time is up (cheap: call it often)."""
        cancel = self.cancel
        if cancel is not None and cancel():
            raise Cancelled("the run was cancelled")
        deadline = self.deadline
        if deadline is not None and time.monotonic() > deadline:
            place = where() if callable(where) else where
            raise BudgetError(
                f"the run took longer than the time budget of {self.timeout:g} s (it was at "
                f"{place}; raise it with --timeout or Budget(timeout=...))")

    def tick(self, where, every: int = 4096) -> None:
        """:meth:`poll` once every ``every`` calls: for loops over elements inside kernels."""
        self._ticks += 1
        if self._ticks >= every:
            self._ticks = 0
            if self.polling:
                self.poll(where)


_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("tensorloupe_run_meter", default=None)


def active_meter() -> Meter | None:
    """The meter of the run in progress in this thread, if any."""
    return _ACTIVE.get()


def memory_limit() -> int:
    """Bytes a reader or decoder may allocate for one tensor now: what is left of the
    running run's memory budget, or the default budget outside any run."""
    m = _ACTIVE.get()
    if m is None:
        return default_max_memory()
    return m.remaining()


@contextlib.contextmanager
def run_scope(options: "RunOptions | None" = None):
    """Make ``options``' budget the active one for everything inside: planning (constants
    are refused before they are decoded), restoring variables, running. A scope inside a
    scope uses the outer one."""
    m = _ACTIVE.get()
    if m is not None:
        yield m
        return
    m = Meter(options)
    token = _ACTIVE.set(m)
    try:
        yield m
    finally:
        _ACTIVE.reset(token)


def check_constant(proto, where: str) -> None:
    """BudgetError when a TensorProto (a Const's value, a tensor attribute) would expand to
    more than what the run has left of its memory budget; decided from its shape, before
    anything is decoded (a constant of 2**28 elements with one stored value fits in a few
    bytes of the file)."""
    if proto.tensor_shape.unknown_rank:
        return
    n = 1
    for d in proto.tensor_shape.dim:
        if d.size < 0:
            return          # the decoder says what is wrong with it
        n *= d.size
    from .. import dtypes
    item = dtypes.itemsize(dtypes.base(int(proto.dtype))) or 8
    need = n * item
    m = _ACTIVE.get()
    limit = m.remaining() if m is not None else default_max_memory()
    if need > limit:
        dims = ",".join(str(d.size) for d in proto.tensor_shape.dim)
        held = (f", with {size_text(m.live)} already held"
                if m is not None and m.live >= 1 << 20 else "")
        total = m.max_memory if m is not None else default_max_memory()
        raise BudgetError(
            f"{where} is a constant of shape [{dims}] that would take {size_text(need)}"
            f"{held}: more than the limit of the memory budget ({size_text(total)}; raise "
            "it with --max_memory or Budget(max_memory=...))")


class KernelContext:
    """The executor's side of the kernel contract (see ``registry``)."""

    __slots__ = ("session", "options", "function_path", "node", "_caller", "_meter")

    def __init__(self, session, options: RunOptions, function_path: tuple[str, ...] = ()):
        self.session = session
        self.options = options
        self.function_path = function_path
        self.node = None  # the executing plan step (has .name and .op)
        self._meter = None

    # ---------------------------------------------------------------- guards
    @property
    def meter(self) -> Meter:
        """The run's account (the active run's, or one of this context's own)."""
        m = self._meter
        if m is None:
            m = self._meter = _ACTIVE.get() or Meter(self.options)
        return m

    @meter.setter
    def meter(self, value: Meter) -> None:
        self._meter = value

    def check_alloc(self, nbytes) -> None:
        """Refuse a tensor that would take the run over its memory budget, before it is
        allocated."""
        self.meter.check_alloc(nbytes, self.where())

    def check_cancelled(self) -> None:
        """Stop when the run was cancelled or is out of time."""
        m = self.meter
        if m.polling:
            m.poll(self.where)

    def tick(self) -> None:
        """For loops over many elements inside a kernel: every few thousand calls, stop
        when the run was cancelled or is out of time."""
        self.meter.tick(self.where)

    @property
    def max_iterations(self) -> int:
        return self.meter.max_iterations

    def count_iteration(self, count: int) -> None:
        """Count one iteration of a loop about to run (``count``: that loop's so far);
        BudgetError when the run's loops have used up the budget."""
        self.meter.iterate(self.where, count)

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
