"""core.feeds: the values fed to a signature and the outputs it returns, checked against what
numpy itself computes (no Qt)."""
from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest

import tensorloupe.core as core
from tensorloupe.core import dtypes, feeds, safe_expr
from tensorloupe.core.errors import InputError


def spec(dtype: str = "DT_FLOAT", shape=(-1, 4), key: str = "x"):
    """A stand-in for a signature's TensorSpecInfo: what feeds reads of one."""
    return SimpleNamespace(key=key, dtype=dtypes.DT[dtype], shape=shape)


def signature(method: str = "tensorflow/serving/predict", **output_shapes):
    return SimpleNamespace(method_name=method,
                           outputs={k: SimpleNamespace(shape=s) for k, s in output_shapes.items()})


# ---------------------------------------------------------------- shapes and dtypes

@pytest.mark.parametrize("shape, text", [
    ((-1, 4), "(-1, 4)"), ((3,), "(3,)"), ((), "()"), ((None, 2, -1), "(-1, 2, -1)"),
    (None, "unknown rank")])
def test_shape_text(shape, text):
    assert feeds.shape_text(shape) == text


def test_shape_text_marks_every_any_size_dim():
    assert feeds.shape_text((-1, 7, -1), any_size="?") == "(?, 7, ?)"
    assert feeds.shape_text(None, unknown="<i>?</i>") == "<i>?</i>"


@pytest.mark.parametrize("shape, batch, want", [
    ((-1, 224, 224, 3), 5, (5, 224, 224, 3)),
    ((-1, -1), 3, (3, 1)),            # only the leading -1 is the batch
    ((2, -1), 3, (2, 1)),
    ((), 4, ()),
    (None, 4, (4,)),
    ((None, 8), 2, (2, 8))])
def test_concrete_shape(shape, batch, want):
    assert feeds.concrete_shape(shape, batch) == want


def test_concrete_shape_fits_check_value():
    s = spec("DT_FLOAT", (-1, 3, -1))
    x = np.zeros(feeds.concrete_shape(s.shape, 6), np.float32)
    assert feeds.check_value(s, x).shape == (6, 3, 1)


@pytest.mark.parametrize("text, want", [("(2, 7)", (2, 7)), ("[3]", (3,)), ("5", (5,)),
                                        ("()", ()), ("(0, 1)", (0, 1))])
def test_parse_shape(text, want):
    assert feeds.parse_shape(text) == want


@pytest.mark.parametrize("text", ["(2, -1)", "(2.5,)", "'ab'", "{1: 2}"])
def test_parse_shape_refuses_what_is_not_sizes(text):
    with pytest.raises(InputError, match="must be a tuple of sizes"):
        feeds.parse_shape(text)


@pytest.mark.parametrize("name, want", [
    ("DT_FLOAT", np.float32), ("DT_DOUBLE", np.float64), ("DT_HALF", np.float16),
    ("DT_INT32", np.int32), ("DT_INT64", np.int64), ("DT_UINT8", np.uint8),
    ("DT_BOOL", np.bool_), ("DT_STRING", object)])
def test_numpy_dtype(name, want):
    s = spec(name)
    assert feeds.numpy_dtype(s) == np.dtype(want)
    assert feeds.is_string(s) == (name == "DT_STRING")


def test_fill_modes():
    assert feeds.fill_modes(spec("DT_STRING", (-1,))) == ["text", "expr", "file"]
    assert feeds.fill_modes(spec("DT_STRING", (-1,)), has_example_spec=True)[0] == "examples"
    assert feeds.fill_modes(spec("DT_FLOAT", (-1, 4))) == ["random", "zeros", "ones", "expr",
                                                           "file"]
    assert feeds.fill_modes(spec("DT_FLOAT", (-1, 32, 32, 3)))[-1] == "image"
    assert feeds.fill_modes(spec("DT_UINT8", (-1, 3, 32, 32)))[-1] == "image"
    assert "image" not in feeds.fill_modes(spec("DT_BOOL", (-1, 32, 32, 3)))


# ---------------------------------------------------------------- building values

def test_check_value_converts_to_the_input_dtype():
    out = feeds.check_value(spec("DT_FLOAT", (-1, 4)), [[1, 2, 3, 4], [5, 6, 7, 8]])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.arange(1, 9, dtype=np.float32).reshape(2, 4))


def test_check_value_refuses_a_wrong_shape_naming_both():
    with pytest.raises(InputError) as info:
        feeds.check_value(spec("DT_FLOAT", (-1, 4), key="features"), np.zeros((1, 3)))
    assert "(1, 3)" in info.value.message and "(None, 4)" in info.value.message
    assert "features" in info.value.message
    with pytest.raises(InputError):       # rank matters too
        feeds.check_value(spec("DT_FLOAT", (-1, 4)), np.zeros(4))


def test_check_value_refuses_strings_for_numbers():
    with pytest.raises(InputError, match="float32"):
        feeds.check_value(spec("DT_FLOAT", (-1, 2)), [["a", "b"]])


def test_check_value_makes_strings_bytes():
    out = feeds.check_value(spec("DT_STRING", (-1,)), ["héllo", b"raw", np.bytes_(b"np")])
    assert out.dtype == object
    assert list(out) == ["héllo".encode("utf-8"), b"raw", b"np"]


def test_check_value_with_unknown_rank_takes_any_shape():
    out = feeds.check_value(spec("DT_INT64", None), np.ones((2, 3, 4), np.int32))
    assert out.shape == (2, 3, 4) and out.dtype == np.int64


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint8, np.bool_])
def test_generate_zeros_and_ones(dtype):
    for kind, fill in (("zeros", 0), ("ones", 1)):
        out = feeds.generate(kind, (3, 2), np.dtype(dtype))
        assert out.shape == (3, 2) and out.dtype == dtype
        np.testing.assert_array_equal(out, np.full((3, 2), fill, dtype))


def test_generate_random_is_numpys_for_the_seed():
    f = np.dtype(np.float32)
    np.testing.assert_array_equal(
        feeds.generate("random", (4, 5), f, seed=3, low=-2.0, high=2.0),
        np.random.default_rng(3).uniform(-2.0, 2.0, size=(4, 5)).astype(np.float32))
    np.testing.assert_array_equal(
        feeds.generate("random", (4, 5), f, seed=3, low=10.0, high=0.5, normal=True),
        np.random.default_rng(3).normal(10.0, 0.5, size=(4, 5)).astype(np.float32))
    ints = feeds.generate("random", (100,), np.dtype(np.int32), seed=1, low=0.5, high=9.2)
    assert ints.dtype == np.int32
    np.testing.assert_array_equal(ints, np.random.default_rng(1).integers(0, 10, size=(100,)))
    bools = feeds.generate("random", (50,), np.dtype(bool), seed=2)
    np.testing.assert_array_equal(bools, np.random.default_rng(2).random((50,)) < 0.5)


def test_generate_an_empty_integer_range_gives_low():
    out = feeds.generate("random", (20,), np.dtype(np.int64), low=4.0, high=4.0)
    assert (out == 4).all()


def test_generate_strings_and_limits():
    out = feeds.generate("random", (2, 1), np.dtype(object))
    assert out.shape == (2, 1) and all(v == b"" for v in out.reshape(-1))
    with pytest.raises(InputError, match="too many"):
        feeds.generate("zeros", (safe_expr.MAX_ELEMENTS + 1,), np.dtype(np.uint8))


def test_cast_checked_takes_whole_floats_as_integers():
    out = feeds.cast_checked(np.array([[1.0, -2.0]]), np.dtype(np.int32), "k")
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[1, -2]])


@pytest.mark.parametrize("value", [[1.5], [np.nan], [np.inf]])
def test_cast_checked_refuses_fractions_and_non_numbers_for_integers(value):
    with pytest.raises(InputError, match="whole numbers"):
        feeds.cast_checked(np.array(value), np.dtype(np.int64), "k")


@pytest.mark.parametrize("value, dtype", [
    ([300], np.uint8), ([300.0], np.uint8), ([-1], np.uint8), ([2 ** 31], np.int32),
    ([-129], np.int8), ([1e6], np.float16), ([1e300], np.float32)])
def test_cast_checked_refuses_values_that_would_overflow(value, dtype):
    a = np.array(value)
    with pytest.raises(InputError, match="does not fit"):
        feeds.cast_checked(a, np.dtype(dtype), "k")


def test_cast_checked_keeps_the_edges_of_the_range_and_infinities():
    np.testing.assert_array_equal(feeds.cast_checked(np.array([0, 255]), np.dtype(np.uint8), "k"),
                                  np.array([0, 255], np.uint8))
    out = feeds.cast_checked(np.array([np.inf, -np.inf, np.nan, 65504.0]),
                             np.dtype(np.float16), "k")
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, np.array([np.inf, -np.inf, np.nan, 65504], np.float16))


def test_cast_checked_wants_booleans_for_booleans():
    with pytest.raises(InputError, match="True/False"):
        feeds.cast_checked(np.array([1, 0]), np.dtype(bool), "k")
    assert feeds.cast_checked(np.array([1, 0]), np.dtype(np.float32), "k").dtype == np.float32


def test_expression_value():
    out = feeds.expression_value("[[1, 2]]", np.dtype(np.float32), "k")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1, 2]])
    ones = feeds.expression_value("np.ones((1, 4))", np.dtype(np.int32), "k")
    assert ones.dtype == np.int32 and ones.shape == (1, 4) and (ones == 1).all()
    assert feeds.expression_value("['a', 'b']", np.dtype(object), "k") == ["a", "b"]
    with pytest.raises(InputError, match="type a value"):
        feeds.expression_value("   ", np.dtype(np.float32), "k")
    with pytest.raises(InputError, match="whole numbers"):
        feeds.expression_value("[1.5, 2]", np.dtype(np.int32), "k")
    with pytest.raises(InputError):
        feeds.expression_value("__import__('os')", np.dtype(np.float32), "k")


def test_file_value():
    objects = np.empty(3, dtype=object)
    objects[:] = [1.0, 2, 3.5]
    out = feeds.file_value(objects, np.dtype(np.float32))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [1.0, 2.0, 3.5])
    words = np.array(["a", "b"], dtype=object)
    with pytest.raises(InputError, match="not float32"):
        feeds.file_value(words, np.dtype(np.float32))
    assert feeds.file_value(words, np.dtype(object)) is words
    plain = np.arange(3)
    assert feeds.file_value(plain, np.dtype(np.float32)) is plain   # check_value casts it


def test_text_value():
    out = feeds.text_value("one\nzwei drei\nété\n", (-1,))
    assert out.dtype == object and out.shape == (3,)
    assert list(out) == [b"one", b"zwei drei", "été".encode("utf-8")]
    assert feeds.text_value("a\nb", (-1, 1)).shape == (2, 1)
    assert feeds.text_value("a\nb", (-1, 2)).shape == (2,)
    assert feeds.text_value("a\nb", None).shape == (2,)
    scalar = feeds.text_value("only", ())
    assert scalar.shape == () and scalar[()] == b"only"
    with pytest.raises(InputError, match="exactly one line"):
        feeds.text_value("a\nb", ())
    assert feeds.text_value("", (-1,)).shape == (0,)


# ---------------------------------------------------------------- files

def test_read_array_file_npy_and_npz(tmp_path):
    x = np.arange(12, dtype=np.int16).reshape(3, 4)
    np.save(tmp_path / "x.npy", x)
    got = feeds.read_array_file(tmp_path / "x.npy")
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got, x)
    np.savez(tmp_path / "two.npz", a=x, b=x.T.astype(np.float64))
    both = feeds.read_array_file(tmp_path / "two.npz")
    assert sorted(both) == ["a", "b"]
    np.testing.assert_array_equal(both["b"], x.T)
    np.savez(tmp_path / "none.npz")          # an empty zip: nothing to feed
    with pytest.raises(InputError, match="none.npz"):
        feeds.read_array_file(tmp_path / "none.npz")


def test_read_array_file_reads_pickles_only_when_allowed(tmp_path):
    obj = np.empty((1, 2), dtype=object)
    obj[0] = [1.0, "two"]
    np.save(tmp_path / "obj.npy", obj, allow_pickle=True)
    with pytest.raises(feeds.PickledArray, match="consent"):
        feeds.read_array_file(tmp_path / "obj.npy")
    got = feeds.read_array_file(tmp_path / "obj.npy", allow_pickle=True)
    assert got.dtype == object and list(got[0]) == [1.0, "two"]
    np.savez(tmp_path / "obj.npz", o=obj)
    with pytest.raises(feeds.PickledArray):
        feeds.read_array_file(tmp_path / "obj.npz")


def test_read_array_file_refuses_what_is_not_numpy(tmp_path):
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(InputError, match=r"junk.npy is not a NumPy array file \(.npy or .npz\)"):
        feeds.read_array_file(tmp_path / "junk.npy")
    buf = io.BytesIO()
    np.save(buf, np.arange(100, dtype=np.float32))
    (tmp_path / "cut.npy").write_bytes(buf.getvalue()[:-40])
    with pytest.raises(InputError, match="cut.npy is not a NumPy array file"):
        feeds.read_array_file(tmp_path / "cut.npy")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 and then nothing")
    with pytest.raises(InputError, match="bad.npz is not a readable NumPy array file"):
        feeds.read_array_file(tmp_path / "bad.npz")
    with pytest.raises(InputError, match="cannot read"):
        feeds.read_array_file(tmp_path / "missing.npy")


def test_storable_makes_strings_fixed_width_bytes():
    words = np.array([[b"a", "bé"], [b"", "longest"]], dtype=object)
    out = feeds.storable(words)
    assert out.dtype == np.dtype("S7") and out.shape == (2, 2)
    assert out.tolist() == [[b"a", "bé".encode("utf-8")], [b"", b"longest"]]
    assert feeds.storable(np.empty((0,), dtype=object)).dtype == np.dtype("S1")
    x = np.arange(3)
    assert feeds.storable(x) is x


def test_inputs_round_trip_without_pickles(tmp_path):
    text = np.array([b"hello", b"w\xc3\xb6rld"], dtype=object)
    x = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    feeds.write_inputs(tmp_path / "in.npz", {"text": text, "x": x})
    with np.load(tmp_path / "in.npz", allow_pickle=False) as z:    # no pickle needed
        assert z["text"].dtype.kind == "S"
    back = feeds.read_inputs(tmp_path / "in.npz")
    assert back["text"].dtype == object and list(back["text"]) == list(text)
    np.testing.assert_array_equal(back["x"], x)
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(InputError, match="junk.npz is not an .npz of inputs"):
        feeds.read_inputs(tmp_path / "junk.npz")


def test_write_arrays_asks_before_overwriting(tmp_path):
    arrays = {"scores": np.eye(2), "dense/out": np.array([b"x"], dtype=object)}
    files = feeds.write_arrays(tmp_path / "new", arrays)
    assert [p.name for p in files] == ["scores.npy", "dense_out.npy"]
    np.testing.assert_array_equal(np.load(files[0]), np.eye(2))
    assert np.load(files[1], allow_pickle=False).tolist() == [b"x"]
    files[0].write_bytes(b"keep")
    seen = []
    assert feeds.write_arrays(tmp_path / "new", arrays,
                              confirm=lambda existing: seen.extend(existing) or False) == []
    assert files[0].read_bytes() == b"keep" and sorted(seen) == sorted(files)
    assert feeds.write_arrays(tmp_path / "new", arrays, confirm=lambda existing: True) == files
    np.testing.assert_array_equal(np.load(files[0]), np.eye(2))


def test_vocabulary_files(tmp_path):
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "binary.bin").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "long.txt").write_text("x" * 300 + "\n")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "words.txt").write_text("cat\ndog\n\nbird\n")
    assert feeds.read_text_lines(tmp_path / "binary.bin") is None
    assert feeds.read_text_lines(tmp_path / "long.txt") is None
    assert feeds.read_text_lines(tmp_path / "empty.txt") is None
    assert feeds.read_text_lines(tmp_path / "missing.txt") is None
    assert feeds.read_text_lines(tmp_path / "words.txt") == ["cat", "dog", "", "bird"]
    paths = [tmp_path / n for n in ("a_dir", "binary.bin", "long.txt", "empty.txt",
                                    "missing.txt", "words.txt")]
    assert feeds.find_vocabulary(paths) == ["cat", "dog", "", "bird"]
    assert feeds.find_vocabulary(paths[:-1]) is None


def test_vocabulary_of_a_saved_model(fixtures_dir):
    sm = core.open_saved_model(fixtures_dir / "saved_models" / "vocab_module")
    vocab = feeds.find_vocabulary(sm.assets)
    assert vocab == sm.assets[0].read_text(encoding="utf-8").splitlines()


def test_sample_lines():
    assert feeds.sample_lines(None) == ["hello world", "tensorloupe"]
    assert feeds.sample_lines(["a", "b", "c", "d", "e"]) == ["a", "b", "c", "tensorflow"]
    assert feeds.sample_lines(["tensorflow", "b", "c", "d", "e"]) == ["tensorflow", "b", "c",
                                                                      "d"]


# ---------------------------------------------------------------- outputs

def test_image_slice():
    nhwc = np.random.default_rng(0).random((2, 8, 6, 3))
    np.testing.assert_array_equal(feeds.image_slice(nhwc), nhwc[0])
    chw = np.arange(3 * 8 * 5, dtype=np.uint8).reshape(3, 8, 5)
    np.testing.assert_array_equal(feeds.image_slice(chw), np.transpose(chw, (1, 2, 0)))
    gray = np.zeros((5, 5, 1), np.int32)
    assert feeds.image_slice(gray) is gray
    assert feeds.image_slice(np.zeros((2, 2, 3))) is None            # too small for a picture
    assert feeds.image_slice(np.zeros((8, 8, 5))) is None            # not 1, 3 or 4 channels
    assert feeds.image_slice(np.zeros((8, 8))) is None
    assert feeds.image_slice(np.full((8, 8, 3), b"x", dtype=object)) is None


def test_cell_and_array_text():
    assert feeds.cell_text(b"caf\xc3\xa9") == "café"
    assert feeds.cell_text(np.bytes_(b"\xff")) == "\ufffd"
    assert feeds.cell_text(np.float32(1 / 3)) == "0.333333"
    assert feeds.cell_text(123456789.0) == "1.23457e+08"
    assert feeds.cell_text(np.int64(7)) == "7"
    x = np.arange(6).reshape(2, 3)
    assert feeds.array_text("ids", x) == f"Result for output key ids:\n{x}"
    big = np.arange(5000)
    assert "..." in feeds.array_text("big", big)        # summarised like saved_model_cli


def test_difference_of_numbers():
    a = np.array([[1.0, 2.0, 3.0]], np.float32)
    b = np.array([[1.0, 2.5, 1.0]], np.float64)
    d, text = feeds.difference(a, b)
    np.testing.assert_array_equal(d, a.astype(np.float64) - b)
    assert d.dtype == np.float64
    mean = np.mean([0, 0.5, 2.0])
    assert text == f"max |Δ| {2.0:.4g}, mean |Δ| {mean:.4g}, 2 of 3 values differ"


def test_difference_does_not_wrap_unsigned_integers():
    d, text = feeds.difference(np.array([0, 5], np.uint8), np.array([1, 5], np.uint8))
    np.testing.assert_array_equal(d, [-1.0, 0.0])
    assert text.endswith("1 of 2 values differ")
    d, _ = feeds.difference(np.array([True, False]), np.array([False, False]))
    np.testing.assert_array_equal(d, [1.0, 0.0])
    d, _ = feeds.difference(np.array([3], np.int64), np.array([0.5], np.float32))
    np.testing.assert_array_equal(d, [2.5])


def test_difference_with_nan_and_inf():
    same = np.array([np.nan, 1.0, np.inf])
    d, text = feeds.difference(same, same.copy())
    assert np.isnan(d[0]) and d[1] == 0 and np.isnan(d[2])     # inf - inf
    assert text == "max |Δ| 0, mean |Δ| 0, 0 of 3 values differ"
    d, text = feeds.difference(np.array([np.inf, np.nan]), np.array([-np.inf, 1.0]))
    assert np.isposinf(d[0])
    assert text == "no finite differences; 2 of 2 values differ"
    d, text = feeds.difference(np.array([np.nan, 2.0, 1.0]), np.array([1.0, 2.0, 1.5]))
    assert text == "max |Δ| 0.5, mean |Δ| 0.25, 2 of 3 values differ"
    _, text = feeds.difference(np.zeros((0, 3)), np.zeros((0, 3)))
    assert text == "empty"


def test_difference_of_different_shapes_and_strings():
    d, text = feeds.difference(np.zeros((2, 3)), np.zeros((3, 2)))
    assert d is None and text == "shapes differ: (2, 3) vs (3, 2)"
    words = np.array([b"a", b"b", b"c"], dtype=object)
    fixed = np.array([b"a", b"x", b"c"])
    d, text = feeds.difference(words, fixed)
    assert d is None and text == "2 of 3 strings equal"
    _, text = feeds.difference(np.array([b"a", b"b"], dtype=object), np.array([b"a", b"bb"]))
    assert text == "1 of 2 strings equal"


def test_top_indices():
    scores = np.array([0.1, 0.7, np.nan, 0.7, 0.2])
    assert feeds.top_indices(scores, 3) == [1, 3, 4]          # ties by index, NaN never first
    assert feeds.top_indices(scores, 10) == [1, 3, 4, 0, 2]
    assert feeds.top_indices([[3.0, 1.0], [2.0, 5.0]], 2) == [3, 0]   # flattened


def test_per_example_columns():
    inputs = {"text": np.array([b"a", b"b"], dtype=object)}
    outputs = {"ids": np.array([[1, 2], [3, 4]]), "known": np.array([True, False])}
    cols = feeds.per_example_columns(inputs, outputs)
    assert [name for name, _ in cols] == ["in: text", "ids", "known"]
    assert feeds.row_text(cols[1][1][1]) == "3, 4"
    assert feeds.row_text(cols[0][1][0]) == "a"
    assert feeds.row_text(np.float64(0.5)) == "0.5"
    assert feeds.per_example_columns(inputs, {"ids": np.zeros(3)}) is None       # 2 vs 3 rows
    assert feeds.per_example_columns(inputs, {"wide": np.zeros((2, 9))}) is None
    assert feeds.per_example_columns(inputs, {"scalar": np.float32(1)}) is None
    assert feeds.per_example_columns({}, {"image": np.zeros((2, 4, 4))}) is None
    assert feeds.per_example_columns({}, {"e": np.zeros((0,))}) is None
    assert feeds.per_example_columns({}, {"x": np.zeros(11)}, max_rows=10) is None


def test_output_meaning():
    sig = signature(scores=(-1, 3), vector=(5,), batched=(-1,), picture=(-1, 8, 8, 3))
    outs = {"scores": np.zeros((2, 3), np.float32), "vector": np.zeros(5, np.float32),
            "batched": np.zeros(5, np.float32), "ids": np.zeros((2, 3), np.int64),
            "picture": np.zeros((1, 8, 8, 3), np.float32), "single": np.zeros((2, 1))}
    assert feeds.output_meaning("scores", outs, sig) == ("scores", None)
    assert feeds.output_meaning("vector", outs, sig) == ("scores", None)
    assert feeds.output_meaning("batched", outs, sig) == (None, None)
    assert feeds.output_meaning("ids", outs, sig) == (None, None)
    assert feeds.output_meaning("picture", outs, sig) == ("image", None)
    assert feeds.output_meaning("single", outs, sig) == (None, None)
    assert feeds.output_meaning("single", outs, signature(feeds.CLASSIFY))[0] == "scores"
    assert feeds.output_meaning("missing", outs, sig) == (None, None)
    kind, labels = feeds.output_meaning("scores", outs, sig, vocabulary=["a", "b", "c"])
    assert kind == "scores" and labels == ["a", "b", "c"]
    assert feeds.output_meaning("scores", outs, sig, vocabulary=["a", "b"]) == ("scores", None)


def test_output_meaning_takes_labels_from_classes(fixtures_dir):
    sm = core.open_saved_model(fixtures_dir / "saved_models" / "engine_linear")
    sig = sm.meta_graph("serve").signatures["serving_default"]
    classes = np.array([[b"red", b"green", b"blue"], [b"blue", b"red", b"green"]], dtype=object)
    outs = {"scores": np.array([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]], np.float32),
            "classes": classes}
    kind, labels = feeds.output_meaning("scores", outs, sig, vocabulary=["x", "y", "z"])
    assert kind == "scores"
    np.testing.assert_array_equal(labels, classes)
    assert feeds.label_texts(labels, 1) == ["blue", "red", "green"]
    assert feeds.label_texts(["x", b"y"], 0) == ["x", "y"]
