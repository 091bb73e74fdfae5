"""core.stats: streamed statistics agree with numpy over the whole array."""
import math

import ml_dtypes
import numpy as np
import pytest

from tensorloupe.core import stats


def _with_odd_values(n=10_001, seed=1):
    rng = np.random.default_rng(seed)
    a = rng.normal(3.0, 2.0, size=n).astype(np.float32)
    a[::97] = 0
    a[5] = np.nan
    a[17] = np.inf
    a[18] = -np.inf
    return a


@pytest.mark.parametrize("chunk", [7, 1000, 1 << 20])
def test_stats_match_numpy_in_any_chunking(chunk):
    a = _with_odd_values()
    s = stats.compute_stats(a, chunk=chunk)
    finite = a[np.isfinite(a)].astype(np.float64)
    assert s.count == a.size
    assert s.nans == 1 and s.posinf == 1 and s.neginf == 1
    assert s.zeros == int(np.count_nonzero(a == 0))
    assert s.finite == finite.size
    assert s.min == finite.min() and s.max == finite.max()
    assert math.isclose(s.mean, finite.mean(), rel_tol=1e-12)
    assert math.isclose(s.std, finite.std(), rel_tol=1e-9)


def test_non_contiguous_slice_is_walked_correctly():
    a = np.arange(4 * 5 * 6, dtype=np.float64).reshape(4, 5, 6)
    view = a[:, 2, ::2]
    s = stats.compute_stats(view, chunk=3)
    assert s.count == view.size
    assert math.isclose(s.mean, view.mean()) and s.min == view.min() and s.max == view.max()


def test_histogram_counts_every_finite_value():
    a = _with_odd_values()
    s = stats.compute_stats(a)
    counts, edges = stats.compute_histogram(a, 20, (s.min, s.max), chunk=333)
    expected, expected_edges = np.histogram(a[np.isfinite(a)], bins=20, range=(s.min, s.max))
    np.testing.assert_array_equal(counts, expected)
    np.testing.assert_allclose(edges, expected_edges)
    assert counts.sum() == s.finite


def test_constant_tensor_gets_one_bin():
    counts, edges = stats.compute_histogram(np.full(10, 2.5, np.float32), 16, (2.5, 2.5))
    assert counts.tolist() == [10] and edges[0] < 2.5 < edges[-1]


def test_half_precision_and_int4_are_widened():
    bf = np.array([1.5, -2.0, 0.0], dtype=ml_dtypes.bfloat16)
    s = stats.compute_stats(bf)
    assert (s.min, s.max, s.zeros) == (-2.0, 1.5, 1)
    assert stats.numeric_view(bf).dtype == np.float32
    i4 = np.array([-8, 7, 1], dtype=ml_dtypes.int4)
    assert stats.numeric_view(i4).dtype == np.int8
    assert stats.compute_stats(i4).min == -8


def test_complex_parts():
    c = np.array([3 + 4j, -1j], dtype=np.complex64)
    assert stats.compute_stats(c, complex_part="abs").max == pytest.approx(5.0)
    assert stats.compute_stats(c, complex_part="real").min == 0.0
    assert stats.compute_stats(c, complex_part="imag").min == pytest.approx(-1.0)


def test_cancel_between_chunks():
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 2
    with pytest.raises(stats.Cancelled):
        stats.compute_stats(np.zeros(100, np.float32), chunk=10, should_stop=stop)


def test_peak_downsample_keeps_extremes():
    a = np.zeros(1_000_003)
    a[123_456] = 9.0
    a[777_777] = -4.0
    x, y = stats.peak_downsample(a, 2000)
    assert len(y) <= 2002
    assert y.max() == 9.0 and y.min() == -4.0
    assert x.min() >= 0 and x.max() < a.size


def test_formatting():
    assert stats.format_bytes(1536) == "1.5 KiB"
    assert stats.format_bytes(12) == "12 B"
    assert stats.format_params(3_504_872) == "3.50M"
    assert stats.format_params(870) == "870"
