"""Building and checking the values fed to a signature, and looking at what comes back.

Pure numpy, no Qt: the window's Run tab builds its inputs and reads its outputs with these,
and a script or a notebook can do the same.

    spec = signature.inputs["features"]
    x = generate("random", concrete_shape(spec.shape, batch=4), numpy_dtype(spec), seed=0)
    x = check_value(spec, x)                       # InputError naming the input if it does not fit
    delta, summary = difference(run2["logits"], run1["logits"])

Inputs come from generated values (``generate``), typed expressions (``expression_value``),
lines of text (``text_value``) and files (``read_array_file``, ``read_inputs``); outputs are
saved without pickles (``storable``, ``write_arrays``) and compared (``difference``).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from . import dtypes, safe_expr
from .errors import InputError
from .image_input import image_layout

CLASSIFY = "tensorflow/serving/classify"
VOCABULARY_MAX_BYTES = 2 << 20      # a text asset larger than this is not read as labels
VOCABULARY_MAX_LINE = 200           # ... nor one with a line this long (not a word list)
FALLBACK_LINES = ["hello world", "tensorloupe"]

# The first bytes of what a NumPy file may start with: .npy, .npz (a zip) and a pickle.
_NUMPY_MAGIC = (b"\x93NUMPY", b"PK\x03\x04", b"\x80")


# ---------------------------------------------------------------- shapes and dtypes

def shape_text(shape, any_size: str = "-1", unknown: str = "unknown rank") -> str:
    """A TensorInfo shape as "(-1, 4)"; ``any_size`` replaces each -1 (any size) dim, and
    ``unknown`` is the text of a shape of unknown rank (both may be markup)."""
    if shape is None:
        return unknown
    parts = [any_size if d is None or d < 0 else str(d) for d in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def concrete_shape(shape, batch: int) -> tuple[int, ...]:
    """The spec's shape with the first -1 dim set to ``batch`` and other -1 dims to 1."""
    if shape is None:
        return (batch,)
    out = []
    for i, d in enumerate(shape):
        if d is None or d < 0:
            out.append(batch if i == 0 else 1)
        else:
            out.append(int(d))
    return tuple(out)


def parse_shape(text: str) -> tuple[int, ...]:
    """A shape typed by a person: "(2, 7)", "[3]" or "5"; InputError if it is not one."""
    value = safe_expr.parse_literal(text)
    if isinstance(value, int):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(
            isinstance(d, int) and d >= 0 for d in value):
        raise InputError(f"shape {text!r} must be a tuple of sizes such as (2, 7)")
    return tuple(value)


def is_string(spec) -> bool:
    return dtypes.base(spec.dtype) == dtypes.DT["DT_STRING"]


def numpy_dtype(spec) -> np.dtype:
    """The numpy dtype of an input: object (bytes values) for strings."""
    if is_string(spec):
        return np.dtype(object)
    return np.dtype(dtypes.to_numpy(spec.dtype))


def fill_modes(spec, has_example_spec: bool = False) -> list[str]:
    """The ways the window offers to fill an input, the default first."""
    if is_string(spec):
        modes = ["text", "expr", "file"]
        if has_example_spec:
            modes.insert(0, "examples")
        return modes
    modes = ["random", "zeros", "ones", "expr", "file"]
    if image_layout(spec.shape) is not None and numpy_dtype(spec).kind in "fiu":
        modes.append("image")
    return modes


# ---------------------------------------------------------------- building values

def check_value(spec, value) -> np.ndarray:
    """``value`` converted to the input's dtype with its shape checked (InputError if not)."""
    # The engine owns the rules of what a tensor accepts; imported late because importing it
    # loads every kernel.
    from .engine.session import check_shape, to_array
    arr = to_array(value, spec.dtype or None, spec.key)
    if spec.shape is not None:
        check_shape(arr, spec.shape, spec.key)
    return arr


def generate(kind: str, shape, dtype: np.dtype, seed: int = 0, low: float = 0.0,
             high: float = 1.0, normal: bool = False) -> np.ndarray:
    """zeros / ones / random values (uniform in [low, high) or normal(low, high))."""
    n = 1
    for d in shape:
        n *= int(d)
    if n > safe_expr.MAX_ELEMENTS:
        raise InputError(f"{n} values are too many to generate (limit "
                         f"{safe_expr.MAX_ELEMENTS})")
    if dtype.kind == "O":
        return np.full(shape, b"", dtype=object)
    if kind == "zeros":
        return np.zeros(shape, dtype)
    if kind == "ones":
        return np.ones(shape, dtype)
    rng = np.random.default_rng(seed)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        lo, hi = int(np.floor(low)), int(np.ceil(high))
        if hi <= lo:
            hi = lo + 1
        return rng.integers(lo, hi, size=shape).astype(dtype)
    if normal:
        return rng.normal(low, high, size=shape).astype(dtype)
    return rng.uniform(low, high, size=shape).astype(dtype)


def cast_checked(value: np.ndarray, dtype: np.dtype, key: str) -> np.ndarray:
    """A typed number array as ``dtype``, refusing casts that would silently change it:
    fractions into integers, numbers into booleans, numbers outside the dtype's range (300
    would wrap around to 44 in a uint8, 1e6 become inf in a float16)."""
    if dtype.kind in "iu" and value.dtype.kind == "f":
        if not np.all(np.isfinite(value)) or not np.all(value == np.round(value)):
            raise InputError(f"input '{key}' wants whole numbers ({dtype}); the value has "
                             "fractions")
    if dtype.kind == "b" and value.dtype.kind != "b":
        raise InputError(f"input '{key}' wants True/False values")
    _check_range(value, dtype, key)
    return value.astype(dtype)


def _check_range(value: np.ndarray, dtype: np.dtype, key: str) -> None:
    if value.size == 0 or value.dtype.kind not in "iuf":
        return
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = info.min, info.max
    elif dtype.kind == "f":
        hi = float(np.finfo(dtype).max)
        lo = -hi
        value = value[np.isfinite(value)]       # inf and NaN are float values of any width
        if value.size == 0:
            return
    else:
        return
    smallest, largest = value.min(), value.max()
    if smallest < lo or largest > hi:
        bad = smallest if smallest < lo else largest
        raise InputError(f"input '{key}' wants {dtype} values from {lo} to {hi}; {bad} does "
                         "not fit")


def expression_value(text: str, dtype: np.dtype, key: str):
    """The value of a typed expression (a literal or np.ones((1, 4)) and the like: parsed,
    never evaluated), numbers cast to ``dtype`` with ``cast_checked``."""
    if not text.strip():
        raise InputError("type a value, e.g. [[1.0, 2.0]] or np.ones((1, 4))")
    value = safe_expr.parse(text)
    if dtype.kind != "O" and np.asarray(value).dtype.kind in "fiub" and \
            np.asarray(value).dtype != dtype:
        value = cast_checked(np.asarray(value), dtype, key)
    return value


def file_value(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """An array read from a file, as a value for an input of ``dtype``: a pickled array of
    Python numbers becomes a number array; anything else is left to ``check_value``."""
    if arr.dtype.kind == "O" and dtype.kind != "O":
        try:
            return arr.astype(dtype)
        except (TypeError, ValueError):
            raise InputError(f"the array holds objects that are not {dtype} values") from None
    return arr


def text_value(text: str, shape) -> np.ndarray:
    """One string per line as a string (object) array shaped for an input of ``shape``: a
    scalar takes exactly one line, a (-1, 1) input one line per row."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    arr = np.empty(len(lines), dtype=object)
    arr[:] = [s.encode("utf-8") for s in lines]
    if shape is not None and len(shape) == 0:
        if len(lines) != 1:
            raise InputError("this input is a single string: type exactly one line")
        return arr.reshape(())
    if shape is not None and len(shape) == 2 and (shape[1] is None or shape[1] < 0
                                                  or shape[1] == 1):
        return arr.reshape(-1, 1)
    return arr


# ---------------------------------------------------------------- files

class PickledArray(InputError):
    """The file holds pickled Python objects, which are read only with the user's consent."""


def read_array_file(path, allow_pickle: bool = False) -> np.ndarray | dict[str, np.ndarray]:
    """The array of a .npy file, or the arrays of an .npz by member name. A pickle raises
    ``PickledArray`` unless ``allow_pickle`` (loading one can run any code)."""
    path = str(path)
    name = Path(path).name
    try:
        loaded = _np_load(path, allow_pickle)
    except ValueError as exc:
        if "pickle" not in str(exc):
            raise InputError(f"{name} is not a NumPy array file ({exc})") from None
        raise PickledArray(f"{name} holds pickled objects; not loaded without your "
                           "consent") from None
    if isinstance(loaded, dict) and not loaded:
        raise InputError(f"{name} holds no arrays")
    return loaded


def _np_load(path: str, allow_pickle: bool):
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read {path} ({exc.strerror or exc})") from None
    # numpy treats anything that is not .npy/.npz as a pickle: only accept real pickles.
    if not data.startswith(_NUMPY_MAGIC):
        raise InputError(f"{Path(path).name} is not a NumPy array file (.npy or .npz)")
    try:
        obj = np.load(io.BytesIO(data), allow_pickle=allow_pickle)
        if isinstance(obj, np.lib.npyio.NpzFile):
            with obj:
                return {k: obj[k] for k in obj.files}
    except ValueError:
        raise           # numpy's way of refusing a pickle: read_array_file tells them apart
    except Exception as exc:  # noqa: BLE001 - zip, pickle and format errors alike
        raise InputError(f"{Path(path).name} is not a readable NumPy array file "
                         f"({type(exc).__name__}: {exc})") from None
    return obj


def read_inputs(path) -> dict[str, np.ndarray]:
    """The arrays of an .npz of inputs (as ``write_arrays`` saves them), strings as object
    arrays of bytes again."""
    try:
        with np.load(str(path), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{Path(path).name} is not an .npz of inputs ({exc})") from None
    return {k: a.astype(object) if a.dtype.kind == "S" else a for k, a in arrays.items()}


def storable(arr: np.ndarray) -> np.ndarray:
    """Object (string) arrays as fixed-width bytes, so that .npy/.npz never need pickle."""
    a = np.asarray(arr)
    if a.dtype.kind == "O":
        flat = [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in a.reshape(-1)]
        width = max([len(v) for v in flat] + [1])
        return np.array(flat, dtype=f"S{width}").reshape(a.shape)
    return a


def write_inputs(path, values: dict) -> None:
    """All inputs in one .npz keyed by input name (strings as bytes: no pickle)."""
    np.savez(path, **{k: storable(v) for k, v in values.items()})


def array_files(folder, keys) -> dict[str, Path]:
    """Where ``write_arrays`` puts each key: <key>.npy, with "/" made "_"."""
    folder = Path(folder)
    return {k: folder / f"{k.replace('/', '_')}.npy" for k in keys}


def write_arrays(folder, arrays: dict, confirm=None) -> list[Path]:
    """Write each array as <key>.npy into ``folder`` (strings as bytes, never pickled).
    Existing files are overwritten only when ``confirm(existing)`` says yes; returns the files
    written (none when refused)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = array_files(folder, arrays)
    existing = [p for p in files.values() if p.exists()]
    if existing and (confirm is None or not confirm(existing)):
        return []
    for k, p in files.items():
        np.save(p, storable(arrays[k]), allow_pickle=False)
    return list(files.values())


def read_text_lines(path) -> list[str] | None:
    """The lines of a small UTF-8 word list (a vocabulary asset), or None when the file is not
    one (unreadable, not UTF-8, empty, or with lines too long to be labels)."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines if lines and all(len(s) < VOCABULARY_MAX_LINE for s in lines) else None


def find_vocabulary(paths) -> list[str] | None:
    """The lines of the first small word list among ``paths`` (a SavedModel's assets): labels
    for score vectors of that length."""
    for p in paths:
        p = Path(p)
        try:
            small = p.is_file() and p.stat().st_size < VOCABULARY_MAX_BYTES
        except OSError:
            small = False
        if small:
            lines = read_text_lines(p)
            if lines:
                return lines
    return None


def sample_lines(vocabulary: list[str] | None) -> list[str]:
    """A few lines to start a text input with: words the model knows and one it may not."""
    if vocabulary:
        return vocabulary[:3] + ["tensorflow"] if "tensorflow" not in vocabulary \
            else vocabulary[:4]
    return list(FALLBACK_LINES)


# ---------------------------------------------------------------- outputs

def image_slice(arr: np.ndarray) -> np.ndarray | None:
    """The first example of an image-shaped array as H x W x C, or None."""
    a = np.asarray(arr)
    if a.ndim == 4 and a.shape[0] >= 1:
        a = a[0]
    if a.ndim != 3 or a.dtype.kind not in "fiub":
        return None
    if a.shape[2] in (1, 3, 4) and a.shape[0] >= 4 and a.shape[1] >= 4:
        return a
    if a.shape[0] in (1, 3, 4) and a.shape[1] >= 4 and a.shape[2] >= 4:
        return np.transpose(a, (1, 2, 0))
    return None


def cell_text(v) -> str:
    """One value as table text: bytes decoded, floats to 6 significant digits."""
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def array_text(key: str, arr) -> str:
    """``saved_model_cli run``'s way of printing one output."""
    with np.printoptions(threshold=2000):
        return f"Result for output key {key}:\n{np.asarray(arr)}"


def difference(a, b) -> tuple[np.ndarray | None, str]:
    """(a - b, one-line summary) for two outputs of different runs."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return None, f"shapes differ: {a.shape} vs {b.shape}"
    if a.dtype.kind in "OSU" or b.dtype.kind in "OSU":
        same = int(np.sum(storable(a) == storable(b)))
        return None, f"{same} of {a.size} strings equal"
    if a.dtype.kind == "b":
        a, b = a.astype(np.int8), b.astype(np.int8)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):   # inf - inf is NaN, and says so here
        d = a64 - b64
    if d.size == 0:
        return d, "empty"
    ad = np.abs(d)
    finite = ad[np.isfinite(ad)]
    # Equal values (equal infinities too) and NaN in both are unchanged.
    same = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))
    changed = int(np.count_nonzero(~same))
    if finite.size == 0:
        return d, f"no finite differences; {changed} of {d.size} values differ"
    return d, f"max |Δ| {finite.max():.4g}, mean |Δ| {finite.mean():.4g}, " \
              f"{changed} of {d.size} values differ"


def top_indices(scores, k: int) -> list[int]:
    """The indices of the ``k`` highest scores, highest first (ties by index; NaN last)."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    finite = np.where(np.isfinite(s), s, -np.inf)
    return [int(i) for i in np.argsort(-finite, kind="stable")[:min(k, len(s))]]


def per_example_columns(inputs: dict, outputs: dict,
                        max_rows: int = 10_000) -> list[tuple[str, np.ndarray]] | None:
    """The columns of a table with one row per example and one column per input ("in: key")
    and output, when every tensor holds one small value per example (strings in, ids out);
    None when they do not line up."""
    columns = [(f"in: {k}", v) for k, v in inputs.items()] + list(outputs.items())
    arrays = []
    batch = None
    for name, v in columns:
        a = np.asarray(v)
        if a.ndim == 0 or a.ndim > 2 or (a.ndim == 2 and a.shape[1] > 8):
            return None
        if batch is None:
            batch = a.shape[0]
        if a.shape[0] != batch:
            return None
        arrays.append((name, a))
    if not arrays or not batch or batch > max_rows:
        return None
    return arrays


def row_text(row) -> str:
    """One example's values of a column of ``per_example_columns``, comma-separated."""
    values = row.reshape(-1) if isinstance(row, np.ndarray) else [row]
    return ", ".join(cell_text(v) for v in values)


def output_meaning(key: str, outputs: dict, signature=None, vocabulary=None):
    """What output ``key`` looks like it means: ("scores", labels or None) for a vector of
    class scores (labels from a "classes" output of the same shape, or the vocabulary),
    ("image", None) for a picture, (None, None) otherwise."""
    if key not in outputs:
        return None, None
    arr = np.asarray(outputs[key])
    if arr.dtype.kind != "f":
        return None, None
    if image_slice(arr) is not None and arr.ndim in (3, 4):
        return "image", None
    method = (signature.method_name or "") if signature is not None else ""
    spec = signature.outputs.get(key) if signature is not None else None
    declared = None if spec is None else spec.shape
    unbatched_vector = declared is not None and len(declared) == 1 and not (
        declared[0] is None or declared[0] < 0)
    scoreish = (arr.ndim == 2 and (arr.shape[1] >= 2 or method == CLASSIFY)) or (
        arr.ndim == 1 and arr.shape[0] >= 2 and unbatched_vector)
    if not scoreish:
        return None, None
    classes = outputs.get("classes")
    if key != "classes" and classes is not None and np.asarray(classes).shape == arr.shape:
        return "scores", np.asarray(classes)
    if vocabulary and len(vocabulary) == arr.shape[-1]:
        return "scores", vocabulary
    return "scores", None


def label_texts(labels, row: int) -> list[str]:
    """The labels of example ``row`` (per-example labels have one row each) as text."""
    la = np.asarray(labels, dtype=object)
    la = la[row] if la.ndim == 2 else la
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in la]
