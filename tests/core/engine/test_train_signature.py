"""Training steps exported in SavedModels update variables as TensorFlow does.

tests/fixtures/build_ops_extra.py exports small two-layer networks with ``train``
signatures (one per optimizer, each with its own variables) and a ``weights`` signature,
then records, loading each export in TensorFlow the way a server does, the loss of two
steps of every train signature (in the order of ``order``) and every variable after each
step:

- train_keras: a tf.Module with Keras 3 optimizers (SGD with momentum, Adam), which
  update with assign ops;
- train_legacy: tf_keras' legacy optimizers and tf.compat.v1.train ones on resource
  variables: ResourceApplyAdam, ResourceApplyKerasMomentum, ResourceApplyAdagradV2,
  ResourceApplyCenteredRMSProp, ResourceApplyFtrlV2, ResourceApplyAdadelta,
  ResourceApplyGradientDescent, ResourceApplyMomentum ...;
- train_tf1: a TF1 graph with reference variables and tf.compat.v1.train optimizers:
  ApplyAdam, ApplyMomentum (Nesterov), ApplyFtrlV2 ... on refs.

The engine runs the same signatures in the same order on a fresh session of the export;
losses and variables agree within 1e-6 relative (1e-7 absolute) after every step.
"""
from __future__ import annotations

import numpy as np
import pytest

import tensorloupe.core as core
from tests.conftest import FIXTURES

DATA = FIXTURES / "ops_extra"
MODELS = ["train_keras", "train_legacy", "train_tf1"]


def _close(got, want, what):
    got = np.asarray(got)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    assert got.dtype == want.dtype, (what, got.dtype, want.dtype)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=what)


@pytest.mark.parametrize("model", MODELS)
def test_two_steps_of_every_train_signature_match_tensorflow(model):
    rec = np.load(DATA / "expected" / model / "steps.npz")
    sm = core.open_saved_model(DATA / "saved_models" / model)
    order = [str(k) for k in rec["order"]]
    assert order and all(k.startswith("train") for k in order)
    changed = 0
    for key in order:
        before = sm.run_signature("weights", {})
        for step in range(2):
            prefix = f"{key}/step{step}/"
            inputs = {k: rec[f"{prefix}in/{k}"] for k in ("x", "y")}
            out = sm.run_signature(key, inputs)
            _close(out["loss"], rec[f"{prefix}out/loss"], f"{key} step {step} loss")
            weights = sm.run_signature("weights", {})
            names = sorted(n[len(prefix) + len("weights/"):] for n in rec.files
                           if n.startswith(prefix + "weights/"))
            assert sorted(weights) == names
            for name in names:
                _close(weights[name], rec[f"{prefix}weights/{name}"],
                       f"{key} step {step} variable {name}")
        after = sm.run_signature("weights", {})
        changed += sum(not np.array_equal(before[n], after[n]) for n in after)
    assert changed > 0       # the steps really trained something


def test_the_optimizer_ops_of_the_exports_are_the_ones_meant():
    """The fixtures exercise the Apply*/ResourceApply* kernels, not only assign ops."""
    used = {m: core.open_saved_model(DATA / "saved_models" / m).meta_graph().ops_used()
            for m in MODELS}
    assert {"ResourceApplyAdam", "ResourceApplyKerasMomentum", "ResourceApplyAdagradV2",
            "ResourceApplyCenteredRMSProp", "ResourceApplyRMSProp", "ResourceApplyFtrl",
            "ResourceApplyFtrlV2", "ResourceApplyAdadelta", "ResourceApplyGradientDescent",
            "ResourceApplyMomentum", "ResourceApplyAdagrad"} <= set(used["train_legacy"])
    assert {"ApplyAdam", "ApplyMomentum", "ApplyGradientDescent", "ApplyAdagrad",
            "ApplyCenteredRMSProp", "ApplyRMSProp", "ApplyFtrlV2", "ApplyFtrl",
            "ApplyAdadelta"} <= set(used["train_tf1"])
