"""Fused convolution chains and the stride-1 depthwise fast path.

The recorded TensorFlow cases check each op alone and the fixture models end to end at a
small batch; these tests reach the fast paths (big batches, threads, every padding and
stride) and compare them with the same ops run one by one (themselves checked against
TensorFlow) or with a direct float64 sum.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tensorloupe.core as core
from tensorloupe.core.engine import Trace, fuse, registry
from tensorloupe.core.engine.ops import nn
from tensorloupe.core.engine.plan import K_KERNEL, Step
from tensorloupe.core.errors import ExecutionError

MODELS = Path(__file__).resolve().parents[2] / "fixtures" / "data" / "saved_models"


class _Ctx:
    """The part of the executor's KernelContext that kernels use."""

    node = None

    def check_alloc(self, nbytes):
        pass


def _k(op):
    return registry.lookup(op)


def _run(op, inputs, **attrs):
    k = _k(op)
    return k.fn(_Ctx(), inputs, dict(k.defaults, **attrs))


def _one_by_one(op, x, f, attrs, scale, bias, act, pad, residual, act2):
    if pad is not None:
        x = _run("Pad", [x, pad])
    y = _run(op, [x, f], **attrs)
    if scale is not None:
        y = _run("Mul", [y, scale])
    if bias is not None:
        y = _run("AddV2", [y, bias])
    if act:
        y = _run(act, [y])
    if residual is not None:
        y = _run("AddV2", [y, residual])
    if act2:
        y = _run(act2, [y])
    return y


CASES = [
    # op, input shape, filter shape, strides, padding, dilation, pad
    ("Conv2D", (16, 33, 31, 16), (1, 1, 16, 48), 1, b"VALID", 1, None),
    ("Conv2D", (16, 32, 32, 8), (3, 3, 8, 16), 2, b"SAME", 1, None),
    ("Conv2D", (8, 25, 27, 5), (3, 3, 5, 12), 1, b"SAME", 2, None),
    ("Conv2D", (4, 30, 30, 3), (3, 3, 3, 16), 2, b"VALID", 1, [[0, 0], [0, 1], [1, 0], [0, 0]]),
    ("Conv2D", (16, 7, 7, 96), (1, 1, 96, 320), 1, b"SAME", 1, None),
    ("DepthwiseConv2dNative", (16, 48, 48, 16), (3, 3, 16, 1), 1, b"SAME", 1, None),
    ("DepthwiseConv2dNative", (16, 24, 23, 48), (3, 3, 48, 1), 2, b"SAME", 1, None),
    ("DepthwiseConv2dNative", (16, 48, 48, 24), (3, 3, 24, 1), 2, b"VALID", 1,
     [[0, 0], [0, 1], [0, 1], [0, 0]]),
    ("DepthwiseConv2dNative", (8, 20, 20, 40), (5, 3, 40, 1), 1, b"SAME", 2, None),
    ("DepthwiseConv2dNative", (8, 12, 12, 30), (3, 3, 30, 2), 1, b"VALID", 1, None),
    ("DepthwiseConv2dNative", (32, 3, 3, 336), (3, 3, 336, 1), 1, b"SAME", 1, None),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[3]}-{c[4].decode()}")
@pytest.mark.parametrize("tail", ["bn_relu6", "bias_relu", "bn_residual", "scale_only"])
def test_fused_convolution_matches_the_nodes_one_by_one(case, tail):
    op, xs, fs, s, padding, d, pad = case
    rng = np.random.default_rng(sum(xs) + len(tail))
    x = rng.standard_normal(xs, dtype=np.float32)
    f = rng.standard_normal(fs, dtype=np.float32) * 0.3
    cout = fs[2] * fs[3] if op == "DepthwiseConv2dNative" else fs[3]
    attrs = {"strides": [1, s, s, 1], "padding": padding, "dilations": [1, d, d, 1]}
    pad_arr = np.array(pad, np.int32) if pad is not None else None
    scale = rng.uniform(0.5, 2, cout).astype(np.float32)
    bias = rng.standard_normal(cout, dtype=np.float32)
    args = dict(scale=None, bias=None, act=None, pad=pad_arr, residual=None, act2=None)
    if tail == "bn_relu6":
        args.update(scale=scale, bias=bias, act="Relu6")
    elif tail == "bias_relu":
        args.update(bias=bias, act="Relu")
    elif tail == "scale_only":
        args.update(scale=scale)
    want_shape = _one_by_one(op, x, f, attrs, **args).shape
    if tail == "bn_residual":
        args.update(scale=scale, bias=bias,
                    residual=rng.standard_normal(want_shape, dtype=np.float32), act2="Relu")
    want = _one_by_one(op, x, f, attrs, **args)
    k = _k(op)
    got = nn.fused_conv(op, x, f, dict(k.defaults, **attrs), args["scale"], args["bias"],
                        args["act"], args["pad"], args["residual"], args["act2"])
    assert got is not None and got.dtype == np.float32
    # (the scale folded into the filter rounds differently in the last bits)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5)


def test_fused_convolution_declines_what_it_does_not_handle():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 8, 8, 4), dtype=np.float32)
    f = rng.standard_normal((3, 3, 4, 6), dtype=np.float32)
    conv = dict(_k("Conv2D").defaults, strides=[1, 1, 1, 1], padding=b"SAME")
    ok = np.ones(6, np.float32)
    assert nn.fused_conv("Conv2D", x, f, conv, ok, ok, "Relu") is not None
    inf = ok.copy()
    inf[2] = np.inf
    declined = [
        nn.fused_conv("Conv2D", x, f, conv, inf, ok, "Relu"),             # 0 * inf stays NaN
        nn.fused_conv("Conv2D", x, f, conv, ok.reshape(1, 6), ok, None),   # not a vector
        nn.fused_conv("Conv2D", x, f, conv, ok.astype(np.float64), ok, None),
        nn.fused_conv("Conv2D", x.astype(np.float64), f.astype(np.float64), conv, ok, ok, None),
        nn.fused_conv("Conv2D", x, f, dict(conv, data_format=b"NCHW"), ok, ok, None),
        nn.fused_conv("Conv2D", x, f, conv, ok, ok, None, np.zeros((4, 2), np.int32)),  # SAME
        nn.fused_conv("Conv2D", x, f, conv, ok, ok, None, None,
                      np.zeros((2, 8, 8, 1), np.float32)),                 # broadcast residual
    ]
    assert declined == [None] * len(declined)


# ------------------------------------------------------------------ the plan rewrite


def _steps(extra_reader=False, ctrl=False):
    """conv(x=slot 10, f=11) -> Mul(s=12) -> AddV2(b=13) -> Relu6, as plan steps."""
    def step(idx, op, inputs, attrs=None, ctrl_in=()):
        k = _k(op)
        return Step(idx, f"n{idx}", op, K_KERNEL, k.fn, inputs, list(ctrl_in),
                    dict(k.defaults, **(attrs or {})), 1, k)
    steps = [
        step(0, "Conv2D", [(10, 0), (11, 0)], {"strides": [1, 1, 1, 1], "padding": b"SAME",
                                              "T": 1}),
        step(1, "Mul", [(0, 0), (12, 0)]),
        step(2, "AddV2", [(13, 0), (1, 0)]),
        step(3, "Relu6", [(2, 0)], ctrl_in=[1] if ctrl else ()),
    ]
    if extra_reader:
        steps.append(step(4, "Relu", [(1, 0)]))
    return steps


def _execute(steps, feeds):
    values = {s: (v,) for s, v in feeds.items()}
    ctx = _Ctx()
    for st in steps:
        ctx.node = st
        values[st.idx] = (st.fn(ctx, [values[s][k] for s, k in st.inputs], st.attrs),)
    return values


def test_plan_rewrite_fuses_only_chains_nobody_else_sees():
    rng = np.random.default_rng(6)
    feeds = {10: rng.standard_normal((2, 6, 6, 3), dtype=np.float32),
             11: rng.standard_normal((3, 3, 3, 5), dtype=np.float32),
             12: rng.uniform(0.5, 2, 5).astype(np.float32),
             13: rng.standard_normal(5, dtype=np.float32)}
    plain = _steps()
    fused = fuse.fuse_steps(plain, [(3, 0)], 4)
    assert len(fused) == 1 and [p.op for p in fused[0].parts] == ["Conv2D", "Mul", "AddV2",
                                                                  "Relu6"]
    assert fused[0].name == "n3" and fused[0].idx == 3
    np.testing.assert_allclose(_execute(fused, feeds)[3][0], _execute(plain, feeds)[3][0],
                               rtol=1e-5, atol=1e-5)
    # The Mul's output is fetched, read twice, or a control input: the chain stops there.
    assert [len(s.parts or ()) for s in fuse.fuse_steps(_steps(), [(3, 0), (1, 0)], 4)] == \
        [2, 0, 0]
    assert [len(s.parts or ()) for s in fuse.fuse_steps(_steps(True), [(3, 0)], 5)] == \
        [2, 0, 0, 0]
    assert [len(s.parts or ()) for s in fuse.fuse_steps(_steps(ctrl=True), [(3, 0)], 4)] == \
        [0, 0, 0, 0]


def test_fused_step_keeps_nan_and_inf_where_the_nodes_make_them():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 6, 6, 3), dtype=np.float32)
    x[0, 2, 3, 1] = np.inf
    x[1, 4, 4, 0] = np.nan
    scale = np.ones(5, np.float32)
    scale[2], scale[4] = np.inf, 0
    feeds = {10: x, 11: rng.standard_normal((3, 3, 3, 5), dtype=np.float32), 12: scale,
             13: rng.standard_normal(5, dtype=np.float32)}
    steps = _steps()
    steps[3] = Step(3, "n3", "Relu", K_KERNEL, _k("Relu").fn, [(2, 0)], [],
                    dict(_k("Relu").defaults), 1, _k("Relu"))
    want = _execute(steps, feeds)[3][0]
    (st,) = fuse.fuse_steps(steps, [(3, 0)], 4)
    assert np.isnan(want).any() and np.isinf(want).any()
    with np.errstate(all="ignore"):     # (as the executor runs kernels)
        np.testing.assert_array_equal(_execute([st], feeds)[3][0], want)


def test_fused_step_runs_the_nodes_when_operands_are_unusual_and_names_the_failing_one():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 6, 6, 3), dtype=np.float32)
    f = rng.standard_normal((3, 3, 3, 5), dtype=np.float32)
    (st,) = fuse.fuse_steps(_steps(), [(3, 0)], 4)
    # A per-tensor scale (not a vector) takes the one-by-one road, same result.
    feeds = {10: x, 11: f, 12: np.float32(0.5) * np.ones((2, 6, 6, 5), np.float32),
             13: np.ones(5, np.float32)}
    want = _execute(_steps(), feeds)[3][0]
    np.testing.assert_array_equal(_execute([st], feeds)[3][0], want)
    ctx = _Ctx()
    ctx.node = st
    with pytest.raises(ExecutionError):
        st.fn(ctx, [x[..., :2], f, feeds[12], feeds[13]], st.attrs)
    assert ctx.node.name == "n0" and ctx.node.op == "Conv2D"


def test_mobilenet_runs_fused_and_its_trace_still_shows_every_node():
    """A traced run records every node, and passes on exactly what an untraced run does."""
    sm = core.open_saved_model(MODELS / "mobilenet_v2")
    key = next(iter(sm.meta_graph().proto.signature_def["serving_default"].inputs))
    x = np.random.default_rng(8).standard_normal((16, 96, 96, 3), dtype=np.float32)
    fast = sm.run_signature("serving_default", {key: x})
    from tensorloupe.core.engine import session
    loaded = session.loaded(sm.meta_graph(None))
    plans = list(loaded.session._function_plans.values())
    fused = [st for p in plans for st in p.steps if st.parts]
    assert len(fused) >= 30 and any(st.parts[0].op == "Pad" for st in fused)
    trace = Trace()
    traced = sm.run_signature("serving_default", {key: x}, trace=trace)
    body = next(r.function_path[-1] for r in trace.records if r.op == "Conv2D")
    fdef = next(f for f in sm.meta_graph().proto.graph_def.library.function
                if f.signature.name == body)
    for op in ("Conv2D", "DepthwiseConv2dNative", "Relu6", "Pad"):
        nodes = sum(n.op == op for n in fdef.node_def)
        assert nodes and sum(r.op == op for r in trace.records) == nodes, op
    for k in fast:
        np.testing.assert_array_equal(fast[k], traced[k])


def test_fusion_can_be_turned_off_and_gives_the_same_outputs(monkeypatch):
    x = np.random.default_rng(9).standard_normal((8, 96, 96, 3), dtype=np.float32)
    outs = []
    for flag in ("1", "0"):
        monkeypatch.setenv("TENSORLOUPE_FUSE", flag)
        sm = core.open_saved_model(MODELS / "mobilenet_v2")
        key = next(iter(sm.meta_graph().proto.signature_def["serving_default"].inputs))
        outs.append(sm.run_signature("serving_default", {key: x}))
        from tensorloupe.core.engine import session
        plans = session.loaded(sm.meta_graph(None)).session._function_plans.values()
        assert any(st.parts for p in plans for st in p.steps) == (flag == "1")
    # (folding the batch norm into the filters rounds differently; fifty layers later the
    # outputs differ about as much as either differs from TensorFlow's: same tolerance)
    for k in outs[0]:
        np.testing.assert_allclose(outs[0][k], outs[1][k], rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ depthwise fast path


def _depthwise_f64(x, f, strides, dil, pads, outs):
    n, h, w, c = x.shape
    kh, kw, _, m = f.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), pads[0], pads[1], (0, 0)))
    oh, ow = outs
    out = np.zeros((n, oh, ow, c, m))
    for i in range(kh):
        for j in range(kw):
            tap = xp[:, i * dil[0]: i * dil[0] + (oh - 1) * strides[0] + 1: strides[0],
                     j * dil[1]: j * dil[1] + (ow - 1) * strides[1] + 1: strides[1]]
            out += tap[..., None] * f[i, j]
    return out.reshape(n, oh, ow, c * m)


def test_depthwise_matches_a_direct_sum_on_many_shapes():
    rng = np.random.default_rng(10)
    checked = 0
    while checked < 150:
        n, h, w = rng.integers(1, 5), rng.integers(1, 14), rng.integers(1, 14)
        c = int(rng.choice([1, 3, 8, 16, 48, 130, 700]))
        kh, kw = rng.integers(1, 6), rng.integers(1, 6)
        s = int(rng.choice([1, 2, 3]))
        d = int(rng.choice([1, 1, 2])) if s == 1 else 1
        m = int(rng.choice([1, 1, 2]))
        pads = [tuple(int(v) for v in rng.integers(0, 3, 2)) for _ in range(2)]
        oh = (h + sum(pads[0]) - (kh - 1) * d - 1) // s + 1
        ow = (w + sum(pads[1]) - (kw - 1) * d - 1) // s + 1
        if oh <= 0 or ow <= 0:
            continue
        x = rng.standard_normal((n, h, w, c), dtype=np.float32)
        f = rng.standard_normal((kh, kw, c, m), dtype=np.float32)
        got = nn.depthwise_nhwc(x, f, [s, s], [d, d], pads, [oh, ow])
        np.testing.assert_allclose(got, _depthwise_f64(x, f, [s, s], [d, d], pads, [oh, ow]),
                                   rtol=1e-4, atol=1e-4, err_msg=str((x.shape, f.shape, s, d,
                                                                      pads)))
        checked += 1


def test_depthwise_results_survive_the_next_call():
    """The fast path computes in per-thread scratch buffers; its result is a copy."""
    rng = np.random.default_rng(11)
    x1, x2 = rng.standard_normal((2, 4, 20, 20, 16), dtype=np.float32)
    f = rng.standard_normal((3, 3, 16, 1), dtype=np.float32)
    first = nn.depthwise_nhwc(x1, f, [1, 1], [1, 1], [(1, 1), (1, 1)], [20, 20])
    kept = first.copy()
    nn.depthwise_nhwc(x2, f, [1, 1], [1, 1], [(1, 1), (1, 1)], [20, 20])
    np.testing.assert_array_equal(first, kept)
