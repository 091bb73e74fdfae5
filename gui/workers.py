"""Background work: everything that reads files or walks tensors runs here, never on the UI thread.

A ``Worker`` wraps a plain function ``fn(ctx, *args)``. The function reports progress with
``ctx.progress(done, total)`` and stops early when ``ctx.should_stop()`` says so (or calls
``ctx.check()``, which raises ``Cancelled``). Results, errors and progress come back to the UI
thread as Qt signals (queued across threads). The module-level ``tracker`` knows every running
worker, so the status bar can show one progress bar with a Cancel button and the screenshot
mode can wait until the window has finished its work.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from tensorloupe.core.errors import Cancelled

_PROGRESS_INTERVAL = 0.05  # seconds between progress signals: enough for a smooth bar

# PySide releases the GIL around every call into Qt, and must take it back afterwards. With a
# worker busy in Python, each take-back waits up to the switch interval (5 ms by default), so a
# paint with dozens of such calls could stall the window for 100 ms. A short interval keeps the
# UI thread's waits short; workers lose almost nothing since numpy releases the GIL anyway.
# Set by gui.app.configure() when the application starts, never as a side effect of an import.
UI_SWITCH_INTERVAL = 0.0005


class TaskContext:
    """Handed to a worker function: progress reporting and cancellation."""

    def __init__(self, worker: "Worker"):
        self._worker = worker
        self._last = 0.0

    def should_stop(self) -> bool:
        return self._worker._cancel.is_set()

    def check(self) -> None:
        if self._worker._cancel.is_set():
            raise Cancelled()

    def progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - self._last >= _PROGRESS_INTERVAL:
            self._last = now
            try:
                self._worker.progressed.emit(done, total)
            except RuntimeError:  # shutting down (see _Runnable.run)
                self._worker._cancel.set()


def _lower_thread_priority() -> None:
    """Workers yield the CPU to the UI thread (Linux applies nice values per thread)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < _WORKER_NICE:
            os.setpriority(os.PRIO_PROCESS, tid, _WORKER_NICE)
    except OSError:
        pass


_WORKER_NICE = 10


class _Runnable(QRunnable):
    def __init__(self, worker: "Worker"):
        super().__init__()
        self._worker = worker
        self.setAutoDelete(True)

    def run(self) -> None:  # runs on a pool thread
        _lower_thread_priority()
        w = self._worker
        ctx = TaskContext(w)
        outcome, value = "cancelled", None
        try:
            if w._cancel.is_set():
                raise Cancelled()
            outcome, value = "succeeded", w._fn(ctx, *w._args, **w._kwargs)
        except Cancelled:
            outcome = "cancelled"
        except Exception as exc:  # reported to the UI as a message; never crashes the window
            w._traceback = traceback.format_exc()
            outcome, value = "failed", exc
        # Done before any signal goes out: a slot that asks is_done() (to re-enable a button,
        # say) must already see True, whichever thread runs first.
        w._done.set()
        try:
            if outcome == "cancelled":
                w.cancelled.emit()
            else:
                getattr(w, outcome).emit(value)
            w.finished.emit()
        except RuntimeError:
            # The application is shutting down and the worker's QObject is gone: nobody is
            # left to tell.
            pass


class Worker(QObject):
    """One piece of background work. Create on the UI thread, connect, then ``start()``."""

    progressed = Signal(object, object)  # done, total (Python ints: tensors can exceed 2**31)
    succeeded = Signal(object)
    failed = Signal(object)              # the exception
    cancelled = Signal()
    finished = Signal()                  # after exactly one of succeeded/failed/cancelled

    def __init__(self, fn: Callable[..., Any], *args: Any, label: str = "", **kwargs: Any):
        super().__init__()
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self.label = label
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._traceback = ""
        self.last_progress: tuple[int, int] = (0, 0)
        self.progressed.connect(self._remember_progress)
        self.finished.connect(self._on_finished)

    def start(self) -> "Worker":
        tracker.add(self)
        pool().start(_Runnable(self))
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def is_done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the function returned (tests and shutdown only)."""
        return self._done.wait(timeout)

    def _remember_progress(self, done: int, total: int) -> None:
        self.last_progress = (done, total)

    def _on_finished(self) -> None:
        tracker.remove(self)


class WorkerTracker(QObject):
    """Keeps running workers alive and tells the window when the set changes."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._running: list[Worker] = []

    def add(self, worker: Worker) -> None:
        self._running.append(worker)
        worker.progressed.connect(self.changed)
        self.changed.emit()

    def remove(self, worker: Worker) -> None:
        if worker in self._running:
            self._running.remove(worker)
            self.changed.emit()

    def running(self) -> list[Worker]:
        return list(self._running)

    def active_count(self) -> int:
        return len(self._running)

    def cancel_all(self) -> None:
        for w in self._running:
            w.cancel()


_pool: QThreadPool | None = None
tracker = WorkerTracker()


def pool() -> QThreadPool:
    """Our own pool, so that a long statistics job never starves document loading."""
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(max(3, QThreadPool.globalInstance().maxThreadCount()))
    return _pool


def run_in_background(fn: Callable[..., Any], *args: Any, on_result=None, on_error=None,
                      on_progress=None, label: str = "", **kwargs: Any) -> Worker:
    """Start ``fn(ctx, *args, **kwargs)`` in the pool, with optional callbacks on the UI thread."""
    w = Worker(fn, *args, label=label, **kwargs)
    if on_result is not None:
        w.succeeded.connect(on_result)
    if on_error is not None:
        w.failed.connect(on_error)
    if on_progress is not None:
        w.progressed.connect(on_progress)
    return w.start()


class JobSlot:
    """One kind of background job of a panel, at most one at a time.

    ``submit`` cancels the job still running in this slot, and the callbacks of a cancelled or
    superseded job are never called: a slow answer for the previous selection cannot overwrite
    the current one. A panel has one slot per independent kind of work (the values of a tensor
    and its statistics, say)."""

    def __init__(self) -> None:
        self._worker: Worker | None = None
        self._generation = 0

    def submit(self, fn: Callable[..., Any], *args: Any, on_result=None, on_error=None,
               on_progress=None, on_cancelled=None, on_done=None, label: str = "",
               **kwargs: Any) -> Worker:
        """Run ``fn(ctx, *args, **kwargs)`` in the pool. ``on_done()`` follows the result or the
        error of a job that is still current. ``on_cancelled()`` is called when the job was
        stopped from elsewhere (the status bar's Cancel), never after ``cancel()`` or a newer
        ``submit`` of this slot: those callers already know."""
        self.cancel()
        generation = self._generation

        def current(callback):
            if callback is None:
                return None

            def call(*values):
                if generation == self._generation:
                    callback(*values)
            return call

        worker = Worker(fn, *args, label=label, **kwargs)
        for signal, callback in ((worker.succeeded, on_result), (worker.failed, on_error),
                                 (worker.progressed, on_progress),
                                 (worker.cancelled, on_cancelled)):
            if callback is not None:
                signal.connect(current(callback))
        if on_done is not None:
            done = current(on_done)
            worker.succeeded.connect(lambda _value: done())
            worker.failed.connect(lambda _exc: done())
        self._worker = worker
        return worker.start()

    def cancel(self) -> None:
        """Stop the running job (if any) and drop whatever it still delivers."""
        self._generation += 1
        if self._worker is not None and not self._worker.is_done():
            self._worker.cancel()
        self._worker = None

    def is_busy(self) -> bool:
        return self._worker is not None and not self._worker.is_done()

    @property
    def worker(self) -> Worker | None:
        return self._worker


def wait_idle(timeout: float = 30.0, settle: float = 0.15) -> bool:
    """Process events until no worker has run for ``settle`` seconds (screenshots, tests)."""
    from PySide6.QtCore import QCoreApplication
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        QCoreApplication.processEvents()
        if tracker.active_count() == 0:
            if quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= settle:
                return True
        else:
            quiet_since = None
        time.sleep(0.005)
    return False
