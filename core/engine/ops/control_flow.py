"""Control flow: functional While/If/Case (TF2) and TF1's frame ops.

While/If/Case call library functions through the context. The TF1 ops (Switch, Merge,
Enter, Exit, NextIteration, LoopCond) are carried out by the executor itself, which tracks
dead branches and loop frames; they are registered here so that model checks know them.
"""
from __future__ import annotations

import numpy as np

from ...errors import ExecutionError
from ..executor import truthy
from ..registry import kernel


@kernel("While", "StatelessWhile", outputs=("output:*T",),
        defaults={"parallel_iterations": 10, "output_shapes": []}, stateful=True,
        description="repeats the body function while the cond function returns true")
def while_(ctx, inputs, attrs):
    cond, body = attrs["cond"], attrs["body"]
    values = list(inputs)
    iteration = 0
    while True:
        if not truthy(ctx.call_function(cond, values)[0]):
            return values
        # The run's budget bounds the iterations (a damaged condition never turns false).
        ctx.count_iteration(iteration)
        values = ctx.call_function(body, values)
        iteration += 1
        ctx.check_cancelled()


@kernel("If", "StatelessIf", outputs=("output:*Tout",), defaults={"output_shapes": []},
        stateful=True, description="runs the then or the else function depending on a condition")
def if_(ctx, inputs, attrs):
    branch = attrs["then_branch"] if truthy(inputs[0]) else attrs["else_branch"]
    return ctx.call_function(branch, inputs[1:])


@kernel("Case", "StatelessCase", outputs=("output:*Tout",), defaults={"output_shapes": []},
        stateful=True, description="runs the branch function chosen by an index (last one if out of range)")
def case(ctx, inputs, attrs):
    branches = attrs["branches"]
    index = int(np.asarray(inputs[0]).reshape(()))
    if index < 0 or index >= len(branches):
        index = len(branches) - 1
    return ctx.call_function(branches[index], inputs[1:])


def _frame_op(ctx, inputs, attrs):  # pragma: no cover - the executor handles these itself
    raise ExecutionError(f"{ctx.where()} must be run by the frame-aware executor")


kernel("Switch", "RefSwitch", outputs=("output_false", "output_true"),
       description="sends its input to one of two branches depending on a condition")(_frame_op)
kernel("Merge", "RefMerge", outputs=("output", "value_index"),
       description="forwards whichever input arrives (joins the branches of a condition)")(_frame_op)
kernel("Enter", "RefEnter", defaults={"is_constant": False, "parallel_iterations": 10},
       description="brings a value into a while loop")(_frame_op)
kernel("Exit", "RefExit", description="takes a value out of a while loop when it ends")(_frame_op)
kernel("NextIteration", "RefNextIteration",
       description="passes a value to the next iteration of a while loop")(_frame_op)
kernel("LoopCond", description="the condition that keeps a while loop running")(_frame_op)
