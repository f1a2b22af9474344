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


def test_timing_is_exact_for_a_linear_model_and_reproducible():
    """The gradient of a linear model is constant along any path: TIMING's attribution is |w[c]·x[c, t]|,
    whatever segments are retained; the same seed draws the same segments."""
    from benchmarks._baselines import TimingIG

    X = data()
    groups = np.array([0, 1, 0, 1, 1])
    explainer = TimingIG(n_steps=8, n_segments=2, task="regression", batch_size=2, device="cpu", random_state=3)
    attr = explainer.fit_transform(WithInputs(X, groups=groups), model=NeedsGroups(W))
    np.testing.assert_allclose(attr, np.abs(W[None, :, None] * X), rtol=1e-4, atol=1e-5)


def test_timing_differs_from_integrated_gradients_on_a_nonlinear_model():
    """On a product x[0, t]·x[1, t], keeping a segment of one channel at its true value changes the
    gradient of the other along the path: TIMING ≠ IG, and it is deterministic for a seed."""
    from benchmarks._baselines import TimingIG

    class Product(nn.Module):
        def forward(self, x):
            return (x[:, 0] * x[:, 1]).sum(-1, keepdim=True).expand(-1, 2) * torch.tensor([-1.0, 1.0])

    X = np.abs(data()) + 0.5
    a = TimingIG(n_steps=16, n_segments=3, max_segment=0.5, device="cpu", random_state=0).fit_transform(X, model=Product())
    b = TimingIG(n_steps=16, n_segments=3, max_segment=0.5, device="cpu", random_state=0).fit_transform(X, model=Product())
    ig = IntegratedGradients(n_steps=16, device="cpu").fit_transform(X, model=Product())
    np.testing.assert_array_equal(a, b)
    # IG of x0·x1 from 0 splits the product evenly: each entry gets x0·x1 / 2 (channel 2 gets 0)
    np.testing.assert_allclose(ig[:, 0], X[:, 0] * X[:, 1] / 2, rtol=1e-3)
    assert np.all(a[:, 2] == 0) and np.abs(a[:, :2] - ig[:, :2]).max() > 0.05
    # an entry's gradient is its partner's value, at x where the partner's segment is kept, at α·x where it is
    # interpolated: on average the attribution lies between IG's share (x0·x1/2) and the full product
    ratio = a[:, :2] / (X[:, 0] * X[:, 1])[:, None]
    assert 0.5 < ratio.mean() < 1.0
