"""core.saved_model against what TensorFlow recorded about each fixture SavedModel
(expected/<model>/signatures.json, written from TensorFlow's own proto parse)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import tensorloupe.core as core
from tensorloupe.core.errors import FormatError, NotFoundError
from tensorloupe.core.saved_model import open_saved_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
MODELS = FIXTURES / "saved_models"
EXPECTED = FIXTURES / "expected"


def recorded_models() -> list[str]:
    return sorted(p.parent.name for p in EXPECTED.glob("*/signatures.json")
                  if (MODELS / p.parent.name).is_dir())


def _slug(tags) -> str:
    return "_".join(sorted(tags))


@pytest.mark.parametrize("name", recorded_models())
def test_signatures_match_tensorflow(name):
    meta = json.loads((EXPECTED / name / "signatures.json").read_text())
    sm = core.open_saved_model(MODELS / name)
    assert [list(t) for t in sm.tag_sets] == meta["tag_sets"]
    for tags in meta["tag_sets"]:
        mg = sm.meta_graph(tags)
        slug = _slug(tags)
        want = meta["signatures"][slug]
        assert list(mg.signatures) == sorted(want)
        for key, sig_meta in want.items():
            sig = mg.signatures[key]
            assert sig.method_name == sig_meta["method_name"]
            for side in ("inputs", "outputs"):
                got = getattr(sig, side)
                assert list(got) == sorted(sig_meta[side])
                for k, info in sig_meta[side].items():
                    t = got[k]
                    assert t.name == info["name"]
                    assert t.dtype == info["dtype"]
                    assert t.shape == (None if info["shape"] is None else tuple(info["shape"]))
                    assert t.encoding == (info["encoding"] or "name")
        assert mg.summary()["nodes"] == meta["num_nodes"][slug]
        assert len(mg.functions) == meta["num_functions"][slug]
        assert mg.tf_version == meta["tf_version"][slug]
        # every op named in graph or functions, minus function names: a superset of ops_used
        assert set(mg.ops_used()) <= set(meta["ops"][slug])


def test_tag_set_lookup_forms():
    sm = open_saved_model(MODELS / "half_plus_two")
    a = sm.meta_graph("serve,gpu")
    assert a is sm.meta_graph(["gpu", "serve"]) is sm.meta_graph(" gpu , serve ,")
    assert set(a.tags) == {"serve", "gpu"}
    assert sm.meta_graph() is sm.meta_graph("serve")
    with pytest.raises(NotFoundError) as err:
        sm.meta_graph("serve,tpu")
    assert "Please use one of the following tag-sets" in str(err.value)


def test_unknown_signature_lists_keys():
    mg = open_saved_model(MODELS / "half_plus_two").meta_graph("serve")
    with pytest.raises(NotFoundError) as err:
        mg.signature("nope")
    assert "predict" in str(err.value)


def test_assets_and_assets_extra():
    sm = open_saved_model(MODELS / "half_plus_two")
    assert [p.name for p in sm.assets] == sorted(p.name for p in (MODELS / "half_plus_two" /
                                                                  "assets").iterdir())
    assert sorted(p.name for p in sm.assets_extra) == ["notes.txt", "tf_serving_warmup_requests"]
    files = sm.meta_graph("serve").asset_file_defs
    assert files, "half_plus_two feeds a vocabulary file through asset_file_def"
    for a in files:
        assert a.path.is_file() and a.path.parent == MODELS / "half_plus_two" / "assets"
        assert a.tensor_name.endswith(":0")


def test_pbtxt_reads_like_pb():
    a = open_saved_model(MODELS / "half_plus_two")
    b = open_saved_model(MODELS / "half_plus_two_pbtxt" / "saved_model.pbtxt")
    assert a.tag_sets == b.tag_sets
    for ma, mb in zip(a.meta_graphs, b.meta_graphs):
        assert ma.ops_used() == mb.ops_used()
        assert list(ma.signatures) == list(mb.signatures)
        assert [x.filename for x in ma.asset_file_defs] == [x.filename for x in mb.asset_file_defs]


def test_fingerprint_present_only_in_tf2_exports():
    assert open_saved_model(MODELS / "half_plus_two").fingerprint is None
    fp = open_saved_model(MODELS / "keras_mlp").fingerprint
    assert fp is not None and fp.saved_model_checksum != 0 and fp.version.producer >= 1


def test_object_graph_and_concrete_functions():
    assert open_saved_model(MODELS / "half_plus_two").meta_graph("serve").object_graph is None
    mg = open_saved_model(MODELS / "show_polymorphic").meta_graph()
    listing = {f.name: f for f in mg.concrete_functions()}
    assert listing["bare"].kind == "bare_concrete_function"
    assert len(listing["mixed"].options) == 3 and len(listing["nested"].options) == 2
    assert listing["constant"].options[0].args == []
    spec = listing["two"].options[0].args[0]
    assert repr(spec) == "TensorSpec(shape=(None, 2), dtype=tf.float32, name='pts')"


def test_sparse_and_composite_encodings():
    sig = open_saved_model(MODELS / "show_tf1_composite").signatures["serving_default"]
    sp, rt = sig.inputs["sp"], sig.inputs["rt"]
    assert sp.encoding == "coo_sparse" and sp.name == ""
    assert set(sp.coo_sparse) == {"values", "indices", "dense_shape"}
    assert all(v.endswith(":0") for v in sp.coo_sparse.values())
    assert rt.encoding == "composite_tensor" and len(rt.components) == 2
    assert type(rt.type_spec).__name__ == "TypeSpecValue" and rt.type_spec.class_name == \
        "RaggedTensorSpec"


def test_numpy_dtype_of_signature_tensor():
    sig = open_saved_model(MODELS / "half_plus_two").meta_graph("serve").signatures["predict"]
    assert sig.inputs["x"].numpy_dtype == np.float32


def test_summary_counts():
    s = open_saved_model(MODELS / "half_plus_two").summary()
    assert s["meta_graphs"] == 3 and s["nodes"] > 0 and s["bytes"] > 0


def test_variables_open_through_checkpoint_reader():
    sm = open_saved_model(MODELS / "keras_mlp")
    reader = sm.variables
    assert reader is not None and len(list(reader.keys())) > 0
    assert sm.summary()["parameters"] > 0
    # A TF1 export without variables leaves variables/ empty.
    assert open_saved_model(MODELS / "show_tf1_composite").variables is None


# ---------------------------------------------------------------- bad input

def test_missing_path(tmp_path):
    with pytest.raises(NotFoundError):
        open_saved_model(tmp_path / "absent")


def test_empty_directory(tmp_path):
    with pytest.raises(NotFoundError) as err:
        open_saved_model(tmp_path)
    assert "empty" in str(err.value)


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage"])
def test_damaged_saved_model_pb(tmp_path, damage):
    dst = tmp_path / "m"
    shutil.copytree(MODELS / "half_plus_two", dst)
    pb = dst / "saved_model.pb"
    data = pb.read_bytes()
    pb.write_bytes({"truncate": data[: len(data) // 3], "empty": b"",
                    "garbage": b"\xff" * 32 + data[32:]}[damage])
    with pytest.raises(FormatError) as err:
        open_saved_model(dst)
    assert err.value.path == str(pb)
    assert "\n" not in str(err.value)


def test_summary_counts_keras3_variables_once(fixtures_dir):
    """Keras 3 exports store each variable under variables/N and the model's weights again
    under _all_variables/N (TensorFlow wrote both); the summary counts each variable once,
    so its totals are those of variables/N (which also holds non-weight state such as a
    dropout seed)."""
    import tensorloupe.core as core
    for name in ("keras_mlp", "keras_cnn", "mobilenet_v2"):
        sm = core.open_saved_model(fixtures_dir / "saved_models" / name)
        reader = sm.variables
        own = [k for k in reader.keys() if k.startswith("variables/")]
        copies = [k for k in reader.keys() if k.startswith("_all_variables/")]
        assert own and copies, name
        summary = sm.summary()
        assert summary["parameters"] == sum(reader.num_elements(k) for k in own), name
        assert summary["variables"] == len(own), name
