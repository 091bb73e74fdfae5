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

from ..errors import BudgetError, ExecutionError, TensorloupeError
from .context import KernelContext, Meter, NodeRecord, active_meter, run_scope, size_text
from .plan import K_CONST, K_ENTER, K_EXIT, K_KERNEL, K_MERGE, K_SWITCH, Loop, Plan


class _Dead:
    __slots__ = ()

    def __repr__(self):
        return "<dead>"


DEAD = _Dead()


def execute(plan: Plan, ctx: KernelContext, feed_values: list, arg_values: list = ()) -> list:
    """Run ``plan`` once and return the fetched values, in fetch order.

    The run's :class:`Meter` (budget and account) is the active one when a run is in
    progress (nested function calls, or a caller's ``run_scope``), else a new one made from
    ``ctx.options``."""
    meter = active_meter()
    if meter is None:
        with run_scope(ctx.options) as meter:
            return _execute(plan, ctx, meter, feed_values, arg_values)
    return _execute(plan, ctx, meter, feed_values, arg_values)


def _execute(plan: Plan, ctx: KernelContext, meter: Meter, feed_values, arg_values) -> list:
    ctx.meter = meter
    values = list(plan.initial)
    base = plan.n_nodes
    for k, v in enumerate(arg_values):
        values[base + k] = (v,)
    for slot, v in zip(plan.feed_slots, feed_values):
        values[slot] = (v,)
    consts = _constants(plan)
    if consts:
        meter.add(consts)
        if meter.over():
            raise _constants_error(plan, meter)
    # A body's arguments and feeds are live while it runs (a loop's carried values are held
    # by nobody else meanwhile); buffers counted already elsewhere are not counted again.
    given = (*arg_values, *feed_values)
    if given:
        meter.add(given)
        if meter.over():
            meter.check_live("the values given to " + (
                f"function '{plan.body.name}'" if plan.body.name else "the graph"))
    if meter.polling:
        meter.poll(ctx.where)
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
    # What this body held is no longer the run's (the fetched values are counted again by
    # whoever receives them).
    for s in _step_slots(plan):
        v = values[s]
        if v is not None:
            meter.drop(v)
    if consts:
        meter.drop(consts)
    if given:
        meter.drop(given)
    return out


def _constants(plan: Plan) -> tuple:
    """The plan's decoded constants (counted as live while its body runs); cached."""
    found = plan.__dict__.get("_constants")
    if found is None:
        found = tuple(v[0] for v in plan.initial[:plan.n_nodes] if v is not None)
        plan.__dict__["_constants"] = found
    return found


def _constants_error(plan: Plan, meter: Meter) -> BudgetError:
    best, size = None, -1
    for i, v in enumerate(plan.initial[:plan.n_nodes]):
        n = getattr(v[0], "nbytes", 0) if v is not None else 0
        if n > size:
            best, size = i, n
    name = plan.body.nodes[best].name if best is not None else "?"
    where = f" of function '{plan.body.name}'" if plan.body.name else ""
    return BudgetError(
        f"the constants{where} take {size_text(meter.live)} (the largest, '{name}', "
        f"{size_text(size)}): more than the limit of the memory budget "
        f"({size_text(meter.max_memory)}; raise it with --max_memory or "
        "Budget(max_memory=...))")


def _step_slots(plan: Plan) -> tuple:
    """Every slot whose value the run counts (fused parts and loop bodies included; in a
    frame-aware plan, kernels only: the frame ops forward values counted already)."""
    found = plan.__dict__.get("_step_slots")
    if found is None:
        slots = []

        def walk(units):
            for st in units:
                if type(st) is Loop:
                    walk(st.units)
                    continue
                if plan.frames and st.kind != K_KERNEL:
                    continue
                slots.append(st.idx)
                for part in st.parts or ():
                    slots.append(part.idx)
        walk(plan.steps)
        found = plan.__dict__["_step_slots"] = tuple(dict.fromkeys(slots))
    return found


def _run_flat(steps, values, ctx: KernelContext) -> None:
    meter = ctx.meter
    add, drop = meter.add, meter.drop
    limit = meter.max_memory
    polling = meter.polling
    st = None
    try:
        for st in steps:
            ctx.node = st
            out = st.fn(ctx, [values[s][k] for s, k in st.inputs], st.attrs)
            out = out if type(out) in (tuple, list) else (out,)
            values[st.idx] = out
            add(out)
            if st.free:
                for f in st.free:
                    drop(values[f])
                    values[f] = None
            if meter.live > limit:
                meter.check_live(ctx.where())
            if polling:
                meter.poll(ctx.where)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one located error
        # (ctx.node: a fused step points it at the original node that failed)
        raise node_error(ctx, ctx.node if st is not None else None, exc) from (None if isinstance(exc, TensorloupeError) else exc)


def _run_flat_traced(steps, values, ctx: KernelContext, trace) -> None:
    clock = time.perf_counter
    meter = ctx.meter
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
                meter.add(out)
                record(trace, ctx, part, out, seconds)
            part = st.parts[-1] if st.parts else st
            ctx.node = st
            t0 = clock()
            out = st.fn(ctx, [values[s][k] for s, k in st.inputs], st.attrs)
            seconds = clock() - t0
            out = out if type(out) in (tuple, list) else (out,)
            values[st.idx] = out
            meter.add(out)
            record(trace, ctx, part, out, seconds)
            if st.parts:
                for p in st.parts[:-1]:
                    meter.drop(values[p.idx])
                    values[p.idx] = None    # a chain's intermediates have no other reader
            if st.free:
                for f in st.free:
                    meter.drop(values[f])
                    values[f] = None
            if meter.over():
                meter.check_live(ctx.where())
            ctx.check_cancelled()
    except Exception as exc:  # noqa: BLE001
        raise node_error(ctx, ctx.node, exc) from (None if isinstance(exc, TensorloupeError)
                                                   else exc)


def _run_units(units, values, dead, ctx: KernelContext, iteration: int, trace) -> None:
    st = None
    clock = time.perf_counter
    meter = ctx.meter
    add, drop = meter.add, meter.drop
    limit = meter.max_memory
    polling = meter.polling
    try:
        for st in units:
            if type(st) is Loop:
                _run_loop(st, values, dead, ctx, trace)
                continue
            ctx.node = st
            kind = st.kind
            idx = st.idx
            if polling:
                meter.poll(ctx.where)
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
                    add(out)
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
                    if kind == K_KERNEL:
                        old = values[idx]
                        if old is not None:
                            drop(old)
                    values[idx] = (DEAD,) * max(st.nout, 1)
                    dead[idx] = True
                continue
            dead[idx] = False
            if kind == K_KERNEL:
                out = st.fn(ctx, args, st.attrs)
                out = out if type(out) in (tuple, list) else (out,)
                # Only kernels make tensors; the frame ops below forward them.
                old = values[idx]
                if old is not None:
                    drop(old)
                add(out)
                if meter.live > limit:
                    meter.check_live(ctx.where())
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
    meter = ctx.meter
    for s in loop.next_iters + loop.exits:
        values[s] = (DEAD,)
        dead[s] = True
    iteration = 0
    while True:
        _run_units(loop.units, values, dead, ctx, iteration, trace)
        if all(dead[s] for s in loop.next_iters):
            break
        iteration += 1
        meter.iterate(f"while loop '{loop.frame}'", iteration)
        if meter.polling:
            meter.poll(lambda: f"while loop '{loop.frame}'")


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
        text = "out of memory (lower the memory budget with --max_memory to be told earlier)"
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
