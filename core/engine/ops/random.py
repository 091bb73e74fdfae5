"""Random-number ops (what Dropout and initializers put in a graph).

The values follow the requested distribution, shape and dtype, but they are NOT the same
numbers TensorFlow would draw: TensorFlow's Philox streams are not reproduced. Seeds are
honoured deterministically: the same (seed, seed2) or stateless seed/key always gives the
same values here. Stateful ops with both seeds 0 are nondeterministic, as in TensorFlow.
Inference outputs do not depend on these ops (Dropout is the identity at inference).
"""
from __future__ import annotations

import numpy as np

from ...errors import ExecutionError
from ..registry import np_dtype
from .math import as_ints, check_alloc, op

_STATEFUL = {"seed": 0, "seed2": 0}


def _generator(*seeds) -> np.random.Generator:
    words = [int(s) & 0xFFFFFFFFFFFFFFFF for s in seeds]
    if not any(words):
        return np.random.default_rng()
    return np.random.Generator(np.random.Philox(key=words[:2] if len(words) >= 2 else
                                                words + [0]))


def _stateful_rng(attrs):
    seed, seed2 = int(attrs.get("seed", 0)), int(attrs.get("seed2", 0))
    if seed == 0 and seed2 == 0:
        return np.random.default_rng()
    return _generator(seed, seed2 or 0x9E3779B97F4A7C15)


def _stateless_rng(seed):
    s = as_ints(seed)
    if len(s) != 2:
        raise ExecutionError(f"seed must have shape [2], not [{len(s)}]")
    return _generator(s[0] ^ 0x5DEECE66D, s[1] + 1)


def _key_rng(key, counter):
    k, c = as_ints(key), as_ints(counter)
    return _generator(k[0] if k else 0, (c[0] if c else 0) * 0x100000001B3 + 1 +
                      (c[1] if len(c) > 1 else 0))


def _shape(ctx, shape, dtype):
    dims = as_ints(shape)
    check_alloc(ctx, dims, dtype)
    return dims


def _uniform(rng, dims, dt):
    return rng.random(dims, dtype=np.float64).astype(dt)


def _normal(rng, dims, dt):
    return rng.standard_normal(dims).astype(dt)


def _truncated(rng, dims, dt):
    out = rng.standard_normal(dims)
    bad = np.abs(out) > 2
    while bad.any():                     # redraw values beyond two standard deviations
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return out.astype(dt)


def _uniform_int(rng, dims, lo, hi, dt):
    lo, hi = int(np.asarray(lo)), int(np.asarray(hi))
    if lo >= hi:
        raise ExecutionError(f"Need minval < maxval: {lo} >= {hi}")
    return rng.integers(lo, hi, size=dims, dtype=np.int64).astype(dt)


_DISTS = {"uniform": _uniform, "normal": _normal, "truncated": _truncated}
_WORDS = {"uniform": "uniformly distributed in [0, 1)",
          "normal": "from a standard normal distribution",
          "truncated": "from a normal distribution cut off at two standard deviations"}


def _register(kind, stateful_name, stateless_name, v2_name):
    dist = _DISTS[kind]

    def stateful(ctx, inputs, attrs):
        dt = np_dtype(attrs["dtype"])
        return dist(_stateful_rng(attrs), _shape(ctx, inputs[0], dt), dt)
    op(stateful_name, outputs=("output",), defaults=dict(_STATEFUL), stateful=True,
       description=f"random numbers {_WORDS[kind]}")(stateful)

    def stateless(ctx, inputs, attrs):
        dt = np_dtype(attrs.get("dtype", 1))
        return dist(_stateless_rng(inputs[1]), _shape(ctx, inputs[0], dt), dt)
    op(stateless_name, outputs=("output",), defaults={"dtype": 1, "T": 3, "Tseed": 9},
       description=f"random numbers {_WORDS[kind]}, fixed by a seed input")(stateless)

    def v2(ctx, inputs, attrs):
        dt = np_dtype(attrs.get("dtype", 1))
        shape, key, counter = inputs[:3]
        return dist(_key_rng(key, counter), _shape(ctx, shape, dt), dt)
    op(v2_name, outputs=("output",), defaults={"dtype": 1, "Tshape": 3},
       description=f"random numbers {_WORDS[kind]}, fixed by a key and counter")(v2)


_register("uniform", "RandomUniform", "StatelessRandomUniform", "StatelessRandomUniformV2")
_register("normal", "RandomStandardNormal", "StatelessRandomNormal", "StatelessRandomNormalV2")
_register("truncated", "TruncatedNormal", "StatelessTruncatedNormal",
          "StatelessTruncatedNormalV2")


@op("RandomUniformInt", outputs=("output",), defaults=dict(_STATEFUL), stateful=True,
    description="random whole numbers in [minval, maxval)")
def _random_uniform_int(ctx, inputs, attrs):
    shape, lo, hi = inputs
    dt = lo.dtype
    return _uniform_int(_stateful_rng(attrs), _shape(ctx, shape, dt), lo, hi, dt)


@op("StatelessRandomUniformInt", outputs=("output",), defaults={"T": 3, "Tseed": 9},
    description="random whole numbers in [minval, maxval), fixed by a seed input")
def _stateless_uniform_int(ctx, inputs, attrs):
    shape, seed, lo, hi = inputs
    dt = lo.dtype
    return _uniform_int(_stateless_rng(seed), _shape(ctx, shape, dt), lo, hi, dt)


@op("StatelessRandomUniformIntV2", outputs=("output",), defaults={"Tshape": 3},
    description="random whole numbers in [minval, maxval), fixed by a key and counter")
def _stateless_uniform_int_v2(ctx, inputs, attrs):
    shape, key, counter, alg, lo, hi = inputs
    dt = lo.dtype
    return _uniform_int(_key_rng(key, counter), _shape(ctx, shape, dt), lo, hi, dt)


@op("StatelessRandomGetKeyCounter", outputs=("key", "counter"), defaults={"Tseed": 9},
    description="turns a two-number seed into the key and counter of a random stream")
def _get_key_counter(ctx, inputs, attrs):
    s = as_ints(inputs[0])
    return (np.asarray([s[0] & 0xFFFFFFFFFFFFFFFF], np.uint64),
            np.asarray([0, s[1] & 0xFFFFFFFFFFFFFFFF], np.uint64))


@op("StatelessRandomGetKeyCounterAlg", outputs=("key", "counter", "alg"),
    defaults={"Tseed": 9},
    description="turns a two-number seed into the key, counter and algorithm of a stream")
def _get_key_counter_alg(ctx, inputs, attrs):
    key, counter = _get_key_counter(ctx, inputs, attrs)
    return key, counter, np.asarray(1, np.int32)


@op("StatelessRandomGetAlg", outputs=("alg",),
    description="the random algorithm to use (Philox)")
def _get_alg(ctx, inputs, attrs):
    return np.asarray(1, np.int32)
