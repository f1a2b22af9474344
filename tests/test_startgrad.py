"""StartGrad (mask_init="startgrad"): masks start at the per-series ranks of |x ⊙ ∇s(x)| in [0, 1]."""

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_tsmask import ContraLSP, DynaMask, ExtremalMask
from sklearn_tsmask._base import _mean_ranks

RNG = np.random.RandomState(0)
X = RNG.randn(3, 2, 6)
W = np.array([1.5, -0.5])


def linear_per_step(x):
    """Regression output (N, T): f_t = Σ_c W[c] · x[c, t]."""
    return torch.einsum("c,nct->nt", torch.as_tensor(W, dtype=x.dtype), x)


def ranks(score):
    """Hand-written mean ranks per series, mapped to [0, 1]."""
    out = []
    for row in score.reshape(len(score), -1):
        order = np.argsort(row, kind="stable")
        r = np.empty(len(row))
        r[order] = np.arange(len(row), dtype=float)
        for v in np.unique(row):  # ties share their mean rank
            r[row == v] = r[row == v].mean()
        out.append(r / (len(row) - 1))
    return np.array(out).reshape(score.shape)


def test_mean_ranks():
    v = torch.tensor([[3.0, 0.0, 0.0, 1.0, 0.0], [1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 2.0, 2.0, 2.0, 2.0]])
    expected = [[1.0, 0.25, 0.25, 0.75, 0.25], [0.0, 0.25, 0.5, 0.75, 1.0], [0.5] * 5]
    np.testing.assert_allclose(_mean_ranks(v).numpy(), expected)
    np.testing.assert_allclose(_mean_ranks(torch.tensor([[7.0], [1.0]])).numpy(), [[0.5], [0.5]])
    np.testing.assert_allclose(_mean_ranks(v).numpy(), ranks(v.numpy()))


def start(explainer, X, model):
    """The masks after one step of a negligible learning rate: the starting point."""
    return explainer.set_params(max_iter=1, learning_rate=1e-9, random_state=0).fit_transform(X, model=model)


def test_squared_error_start_is_the_ranks_of_x_times_the_gradient():
    # s = ½ Σ_t f_t², ∂s/∂x[c, t] = f_t · W[c]: the scores are |x[c, t] · W[c] · f_t|
    f = np.einsum("c,nct->nt", W, X)
    expected = ranks(np.abs(X * W[None, :, None] * f[:, None, :]))
    for explainer in (ExtremalMask(perturbation="zeros", mask_init="startgrad", device="cpu"),
                      DynaMask(area=[0.3, 0.6], mask_init="startgrad", device="cpu")):
        np.testing.assert_allclose(start(explainer, X, linear_per_step), expected, atol=1e-6)


def test_log_loss_start_is_the_ranks_of_x_times_the_gradient():
    # logits (0, u), u = Σ V[c, t] x[c, t]: ∇ log p_class = ±σ(∓u) V, a positive factor per series
    V = RNG.randn(2, 6)

    def classifier(x):
        u = torch.einsum("ct,nct->n", torch.as_tensor(V, dtype=x.dtype), x)
        return torch.stack([torch.zeros_like(u), u], dim=-1)

    expected = ranks(np.abs(X * V[None]))
    masks = start(ExtremalMask(perturbation="zeros", loss="log_loss", mask_init="startgrad", device="cpu"), X,
                  classifier)
    np.testing.assert_allclose(masks, expected, atol=1e-6)
    # the target restricts s to the chosen class: here the same ranks, whichever class
    masks = start(ExtremalMask(perturbation="zeros", loss="log_loss", mask_init="startgrad", target=0, device="cpu"),
                  X, classifier)
    np.testing.assert_allclose(masks, expected, atol=1e-6)


def test_segment_start_ranks_the_mean_score_of_each_segment():
    x = np.array([[[1.0, 3.0, 0.5, 0.5, 2.0, 2.0]]])  # one channel

    def square_sum(x):  # s = ½ (Σ x²)², ∂s/∂x = (Σ x²) · 2x: scores ∝ x²
        return x.pow(2).sum((1, 2))

    # segments [0, 2), [2, 4), [4, 6): mean x² = 5, 0.25, 4 -> ranks 1, 0, 0.5
    masks = start(ExtremalMask(perturbation="zeros", segments=3, mask_init="startgrad", device="cpu"), x, square_sum)
    np.testing.assert_allclose(masks, [[[1.0, 1.0, 0.0, 0.0, 0.5, 0.5]]], atol=1e-6)


def test_tied_scores_start_like_the_constant_start():
    """f = Σ x on series of ±1: every score |x · f| is |f|, all tie, the StartGrad start is 0.5 everywhere,
    the constant start, and the masks are identical. (ContraLSP's constant start is open gates, μ = 0.5; its
    StartGrad start puts tied gates half open, μ = 0.)"""
    signs = np.sign(X) + (X == 0)

    def total(x):
        return x.sum((1, 2))

    for cls, params in ((ExtremalMask, dict(max_iter=5)), (DynaMask, dict(area=0.5, max_iter=5))):
        a = cls(mask_init="constant", device="cpu", random_state=0, **params).fit_transform(signs, model=total)
        b = cls(mask_init="startgrad", device="cpu", random_state=0, **params).fit_transform(signs, model=total)
        np.testing.assert_array_equal(a, b)


def test_contralsp_gates_start_at_the_ranks():
    """ContraLSP's gate before its trend factor is μ + 0.5: StartGrad puts μ at rank − 0.5, so the most
    salient entries start open and the least salient closed, unlike the constant start (all open)."""
    f = np.einsum("c,nct->nt", W, X)
    expected = ranks(np.abs(X * W[None, :, None] * f[:, None, :]))
    constant = start(ContraLSP(perturbation="zeros", batch_size=None, device="cpu"), X, linear_per_step)
    masks = start(ContraLSP(perturbation="zeros", mask_init="startgrad", batch_size=None, device="cpu"), X,
                  linear_per_step)
    lowest = expected == 0.0
    assert np.all(masks[lowest] < 1e-6)  # gate (0)·sigmoid(0·τ) = 0
    # the gate is (μ + 0.5)·sigmoid((μ + 0.5)·τ) with the same trend τ: the top-ranked entry starts as every
    # entry of the constant start does
    top = expected == 1.0
    np.testing.assert_allclose(masks[top], constant[top], atol=1e-6)
    assert np.all(masks[~top] < constant[~top])


def test_mask_init_is_validated():
    with pytest.raises(InvalidParameterError, match="mask_init"):
        ExtremalMask(mask_init="gradient", device="cpu").fit(X, model=linear_per_step)
