"""Compare checkpoints: what changed between two, and how every variable drifted over a run.

Pure numpy, no Qt. Two checkpoints are aligned by readable name (the TF2 object path, or the
TF1 key), optionally through a ``KeyMap`` for renamed variables. For each pair of common
variables the tensors are streamed in chunks over the readers' memory maps, so a 3 GiB
variable never sits whole in memory, and the work is spread over a thread pool (numpy and
memcmp release the GIL). A variable whose bytes are identical costs one memcmp; when the
stored crc32c of both entries differ the variables cannot be identical and the memcmp is
skipped too.

Metrics per variable (float16/bfloat16/float8 are compared in float32, integers in float64):

    norm_a, norm_b, norm_diff   L2 norms of A, B and B - A
    rms_change                  norm_diff / max(norm_a, norm_b): RMS(B - A) over the larger
                                RMS of the two, 0..2 and finite when either side is non-zero;
                                what rankings use by default (see results.RANK_MEASURES)
    rel_change                  norm_diff / norm_a (inf when A is all zeros and B is not)
    max_abs_diff                largest |B - A|
    cosine                      <A, B> / (|A| |B|)
    changed                     elements where A != B (NaN against NaN counts as unchanged)
    nan_a/nan_b, inf_a/inf_b    non-finite elements of each side
    value_a, value_b            the values of a one-element numeric tensor (ints for integer
                                types: counters such as global_step are reported by value)

Positions where A or B is NaN/Inf are counted but left out of the norms, the difference and
the cosine, so one NaN does not hide how much the rest moved. Booleans and strings get only
``changed``; a shape change gets no metrics; a dtype change between numeric types is still
measured (in float64). Identical variables get no norms (that would cost a read); the
per-layer relative change is taken over the variables whose norms are known. Partitioned
(sliced) variables are reassembled whole on both sides before comparing.

The package, in the order a comparison runs:

    keymap     KeyMap (renamed variables) and parse_replace for the command line
    align      readable names, groups and layers of each side; align() pairs them
    readers    paths opened as checkpoint readers (and closed again)
    scheduler  compare(): the jobs, their parts, the thread pool, checksum verification
    metrics    partial sums, work dtypes, the chunk-by-chunk scan, equality counts
    pages      memcmp and dropping mapped pages (libc through ctypes)
    checksums  stored crc32c checked over the mapped views
    tuning     chunk, part, batch and page-drop sizes
    results    VariableDiff, LayerSummary, Comparison, statuses, groups, number formats
    series     compare_series() over a training run, and the Series it returns
    pair       pair_histograms() and difference_slice(), for the window's plots

Everything callers use is importable from ``core.compare`` itself.
"""
from __future__ import annotations

from ..checkpoint.keys import OBJECT_GRAPH_KEY
from ..errors import Cancelled
from .align import align
from .keymap import KeyMap, parse_replace
from .metrics import work_dtype
from .pages import bytes_equal
from .pair import difference_slice, pair_histograms
from .results import (CHANGED, DTYPE_CHANGED, FAILED, IDENTICAL, MAX_ABS, MEASURE_HELP,
                      MEASURE_TITLES, MODEL, ONLY_A, ONLY_B, OPTIMIZER, OTHER, RANK_MEASURES,
                      RELATIVE, RMS, SHAPE_CHANGED, STATUSES, Comparison, LayerSummary,
                      VariableDiff, aggregate, format_measure, format_number, format_percent,
                      format_value, format_values)
from .scheduler import compare
from .series import Series, compare_series, run_checkpoints
# Copies for reading: a test that wants smaller sizes sets them on ``tuning`` itself.
from .tuning import BATCH_BYTES, CHUNK_ELEMENTS, PART_BYTES, RELEASE_BYTES

__all__ = [
    "compare", "compare_series", "run_checkpoints", "align", "aggregate",
    "pair_histograms", "difference_slice",
    "Comparison", "VariableDiff", "LayerSummary", "Series", "KeyMap", "parse_replace",
    "IDENTICAL", "CHANGED", "ONLY_A", "ONLY_B", "SHAPE_CHANGED", "DTYPE_CHANGED", "FAILED",
    "STATUSES", "MODEL", "OPTIMIZER", "OTHER",
    "RANK_MEASURES", "RMS", "RELATIVE", "MAX_ABS", "MEASURE_TITLES", "MEASURE_HELP",
    "format_percent", "format_number", "format_measure", "format_value", "format_values",
    "work_dtype", "bytes_equal",
    "OBJECT_GRAPH_KEY", "Cancelled",
    "CHUNK_ELEMENTS", "PART_BYTES", "RELEASE_BYTES", "BATCH_BYTES",
]
