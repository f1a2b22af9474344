"""The captum baselines of the benchmark suite (optional extra ``captum``)."""

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("captum")

from benchmarks._baselines import IntegratedGradients, Occlusion  # noqa: E402
from sklearn_tsmask import WithInputs  # noqa: E402


class Linear(nn.Module):
    """Regression output (N, T): y_t = Σ_c w[c] · x[c, t], with one group-dependent offset."""

    def __init__(self, w):
        super().__init__()
        self.register_buffer("w", torch.as_tensor(w, dtype=torch.float32))

    def forward(self, x, groups=None):
        y = torch.einsum("c,nct->nt", self.w, x)
        return y if groups is None else y + groups[:, None].float()


class NeedsGroups(Linear):
    """Linear with the group offset, refusing to run without the groups."""

    def forward(self, x, groups):
        return super().forward(x, groups)


class TwoClass(nn.Module):
    """Logits (N, T, 2): class 1 logit = x[0, t], class 0 logit = -x[0, t]."""

    def forward(self, x):
        return torch.stack([-x[:, 0, :], x[:, 0, :]], dim=-1)


W = np.array([2.0, -1.0, 0.0])


def data(n=5, seed=0):
    return np.random.RandomState(seed).randn(n, 3, 7).astype(np.float32)


@pytest.mark.parametrize("cls", [IntegratedGradients, Occlusion])
def test_linear_regression_attribution_is_w_times_x(cls):
    """For a linear model from a zero baseline both are exact: |w[c]·x[c, t]|."""
    X = data()
    attr = cls(task="regression", batch_size=2, device="cpu").fit_transform(X, model=Linear(W))
    np.testing.assert_allclose(attr, np.abs(W[None, :, None] * X), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls", [IntegratedGradients, Occlusion])
def test_group_ids_are_passed_and_do_not_change_attributions(cls):
    X = data()
    groups = np.array([0, 1, 0, 1, 1])
    explainer = cls(task="regression", batch_size=2, device="cpu")  # the groups are sliced with the batches
    attr = explainer.fit_transform(WithInputs(X, groups=groups), model=NeedsGroups(W))
    np.testing.assert_allclose(attr, np.abs(W[None, :, None] * X), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls", [IntegratedGradients, Occlusion])
def test_classifier_attributes_the_predicted_class_at_each_step(cls):
    """The predicted logit at t is |x[0, t]|: attribution |x[0, t]| on channel 0, 0 elsewhere."""
    X = data()
    attr = cls(task="classification", device="cpu").fit_transform(X, model=TwoClass())
    np.testing.assert_allclose(attr[:, 0], np.abs(X[:, 0]), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(attr[:, 1:], 0.0, atol=1e-6)
