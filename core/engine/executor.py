"""Run a plan: call each step's kernel on the values it reads, keep what it produces.

Flat plans (no TF1 control flow) run as a straight loop over the steps. Frame-aware plans
carry "dead" values the way TensorFlow's executor does: a Switch sends its input to one
output and a dead marker to the other; a node with a dead input (data or control) is dead
itself without running; Merge forwards its first live input; a while-loop frame runs its
units again while any NextIteration value is alive, with non-constant Enter values only
entering on the first iteration.
"""
from __future__ import annotations

import time

import numpy as np

from ..errors import ExecutionError, TensorloupeError
from .context import KernelContext, NodeRecord
from .plan import K_CONST, K_ENTER, K_EXIT, K_KERNEL, K_MERGE, K_SWITCH, Loop, Plan


class _Dead:
    __slots__ = ()

    def __repr__(self):
        return "<dead>"


DEAD = _Dead()


def execute(plan: Plan, ctx: KernelContext, feed_values: list, arg_values: list = ()) -> list:
    """Run ``plan`` once and return the fetched values, in fetch order."""
    values = list(plan.initial)
    base = plan.n_nodes
    for k, v in enumerate(arg_values):
        values[base + k] = (v,)
    for slot, v in zip(plan.feed_slots, feed_values):
        values[slot] = (v,)
    trace = ctx.options.trace
    if plan.frames:
        dead = [False] * plan.n_slots
        _run_units(plan.steps, values, dead, ctx, 0, trace)
    elif trace is not None:
        _run_flat_traced(plan.steps, values, ctx, trace)
    else:
        _run_flat(plan.steps, values, ctx)
    out = []
    for s, k in plan.fetch_refs:
        try:
            v = values[s][k]
        except (IndexError, TypeError):
            raise ExecutionError(_no_output_text(plan, s, k)) from None
        if v is DEAD:
            raise ExecutionError(
                f"tensor {_slot_name(plan, s)}:{k} has no value in this run (its branch of a "
                "condition was not taken)")
        out.append(v)
    return out


def _run_flat(steps, values, ctx: KernelContext) -> None:
    cancel = ctx.options.cancel
    st = None
    try:
        for st in steps:
            ctx.node = st
            out = st.fn(ctx, [values[s][k] for s, k in st.inputs], st.attrs)
            values[st.idx] = out if type(out) in (tuple, list) else (out,)
            if st.free:
                for f in st.free:
                    values[f] = None
            if cancel is not None:
                ctx.check_cancelled()
    except Exception as exc:  # noqa: BLE001 - every failure becomes one located error
        # (ctx.node: a fused step points it at the original node that failed)
        raise node_error(ctx, ctx.node if st is not None else None, exc) from (None if isinstance(exc, TensorloupeError) else exc)


def _run_flat_traced(steps, values, ctx: KernelContext, trace) -> None:
    clock = time.perf_counter
    try:
        for st in steps:
            # A fused step (see ``fuse``) runs its original nodes one by one so that each
            # is traced with its own output, except the last: its value comes from the
            # fused step itself, so a traced run passes on exactly what an untraced one
            # does (fusion rounds differently in the last bits).
            for part in (st.parts[:-1] if st.parts else ()):
                ctx.node = part
                t0 = clock()
                out = part.fn(ctx, [values[s][k] for s, k in part.inputs], part.attrs)
                seconds = clock() - t0
                out = out if type(out) in (tuple, list) else (out,)
                values[part.idx] = out
                record(trace, ctx, part, out, seconds)
            part = st.parts[-1] if st.parts else st
            ctx.node = st
            t0 = clock()
            out = st.fn(ctx, [values[s][k] for s, k in st.inputs], st.attrs)
            seconds = clock() - t0
            out = out if type(out) in (tuple, list) else (out,)
            values[st.idx] = out
            record(trace, ctx, part, out, seconds)
            if st.parts:
                for p in st.parts[:-1]:
                    values[p.idx] = None    # a chain's intermediates have no other reader
            if st.free:
                for f in st.free:
                    values[f] = None
            ctx.check_cancelled()
    except Exception as exc:  # noqa: BLE001
        raise node_error(ctx, ctx.node, exc) from (None if isinstance(exc, TensorloupeError)
                                                   else exc)


def _run_units(units, values, dead, ctx: KernelContext, iteration: int, trace) -> None:
    st = None
    clock = time.perf_counter
    try:
        for st in units:
            if type(st) is Loop:
                _run_loop(st, values, dead, ctx, trace)
                continue
            ctx.node = st
            kind = st.kind
            idx = st.idx
            t0 = clock() if trace is not None else 0.0
            if kind == K_MERGE:
                out = None
                for n, (s, k) in enumerate(st.inputs):
                    v = values[s][k]
                    if v is not DEAD:
                        out = (v, np.int32(n))
                        break
                if out is None:
                    values[idx] = (DEAD, DEAD)
                    dead[idx] = True
                else:
                    values[idx] = out
                    dead[idx] = False
                continue
            if any(dead[c] for c in st.ctrl):
                is_dead = True
                args = None
            else:
                args = [values[s][k] for s, k in st.inputs]
                is_dead = any(a is DEAD for a in args)
            if kind == K_ENTER and not is_dead and iteration > 0 and not st.is_constant:
                is_dead = True
            if is_dead:
                if kind != K_EXIT:  # an Exit keeps the value of the iteration that left
                    values[idx] = (DEAD,) * max(st.nout, 1)
                    dead[idx] = True
                continue
            dead[idx] = False
            if kind == K_KERNEL:
                out = st.fn(ctx, args, st.attrs)
                out = out if type(out) in (tuple, list) else (out,)
            elif kind == K_SWITCH:
                data, pred = args[0], args[1]
                out = (DEAD, data) if truthy(pred) else (data, DEAD)
            elif kind == K_CONST:
                out = (st.attrs["_value"],)
            else:  # Enter, Exit, NextIteration, LoopCond: forward the value
                out = (args[0],)
            values[idx] = out
            if trace is not None:
                record(trace, ctx, st, [o for o in out if o is not DEAD], clock() - t0)
    except Exception as exc:  # noqa: BLE001
        raise node_error(ctx, st if not isinstance(st, Loop) else None, exc) from (
            None if isinstance(exc, TensorloupeError) else exc)


def _run_loop(loop: Loop, values, dead, ctx: KernelContext, trace) -> None:
    for s in loop.next_iters:
        values[s] = (DEAD,)
        dead[s] = True
    for s in loop.exits:
        values[s] = (DEAD,)
        dead[s] = True
    cap = ctx.options.max_iterations
    iteration = 0
    while True:
        _run_units(loop.units, values, dead, ctx, iteration, trace)
        if all(dead[s] for s in loop.next_iters):
            break
        iteration += 1
        if iteration >= cap:
            raise ExecutionError(
                f"while loop '{loop.frame}' ran {iteration} iterations without finishing "
                f"(the limit is {cap})")
        ctx.check_cancelled()


# ---------------------------------------------------------------- helpers

def truthy(value) -> bool:
    """TensorFlow's reading of a condition: scalars are true when non-zero (strings: non-empty),
    other tensors when they have any element."""
    a = np.asarray(value)
    if a.ndim == 0:
        v = a.item()
        if isinstance(v, (bytes, str)):
            return len(v) > 0
        return bool(v)
    return a.size > 0


def record(trace, ctx: KernelContext, st, outputs, seconds: float) -> None:
    shapes, dts = [], []
    nan = inf = False
    for o in outputs:
        if isinstance(o, np.ndarray) or isinstance(o, np.generic):
            shapes.append(tuple(np.shape(o)))
            dts.append(str(o.dtype))
            if o.dtype.kind in "fc":
                if not nan and np.isnan(o).any():
                    nan = True
                if not inf and np.isinf(o).any():
                    inf = True
        else:
            shapes.append(None)
            dts.append(type(o).__name__)
    values = list(outputs) if trace.wants_values(st.name) else None
    trace.add(NodeRecord(st.name, st.op, ctx.function_path, shapes, dts, seconds, nan, inf,
                         values))


def node_error(ctx: KernelContext, st, exc: Exception) -> TensorloupeError:
    """Name the node (and function) that failed, once."""
    if isinstance(exc, TensorloupeError):
        ctx.node = st if st is not None else ctx.node
        if getattr(exc, "located", False) or st is None or ctx.where() in exc.message:
            exc.located = True
            return exc
        err = type(exc)(f"{ctx.where()}: {exc.message}", exc.path, exc.offset)
        err.located = True
        return err
    if isinstance(exc, RecursionError):
        text = "functions call each other too deeply"
    elif isinstance(exc, MemoryError):
        text = "out of memory"
    else:
        text = str(exc) or type(exc).__name__
    if st is not None:
        ctx.node = st
    err = ExecutionError(f"{ctx.where()} failed: {text}")
    err.located = True
    return err


def _slot_name(plan: Plan, s: int) -> str:
    if s < plan.n_nodes:
        return f"'{plan.body.nodes[s].name}'"
    return "a fed value"


def _no_output_text(plan: Plan, s: int, k: int) -> str:
    return f"{_slot_name(plan, s)} has no output {k}"
