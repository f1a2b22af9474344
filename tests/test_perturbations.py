"""The perturbation operators against brute-force and hand-computed values."""

import math

import numpy as np
import pytest
import torch

from sklearn_tsmask.perturbations import _SIGMA_EPS, fade, gaussian_blur, moving_average, past_average


def blur_reference(x, mask, sigma_max):
    """O(T²) float64 blur over the whole series, straight from SPEC §1."""
    x = np.asarray(x, dtype=np.float64)
    mask = np.broadcast_to(np.asarray(mask, dtype=np.float64), np.broadcast_shapes(x.shape, np.shape(mask)))
    x = np.broadcast_to(x, mask.shape)
    T = x.shape[-1]
    out = np.empty(mask.shape)
    u = np.arange(T)[:, None] - np.arange(T)[None, :]  # u[t, s] = t − s
    for idx in np.ndindex(*mask.shape[:-1]):
        for t in range(T):
            sigma = sigma_max * (1.0 + _SIGMA_EPS - mask[idx + (t,)])
            g = np.exp(-(u[t] ** 2) / (2.0 * sigma**2))
            out[idx + (t,)] = (x[idx] * g).sum() / g.sum()
    return out


@pytest.mark.parametrize("sigma_max", [0.7, 1.0, 2.5])
def test_gaussian_blur_matches_brute_force(sigma_max):
    rng = np.random.RandomState(0)
    T = 12
    x = rng.randn(2, 3, T)
    mask = rng.uniform(0, 1, size=(2, 3, T))
    mask[0, 0, :4] = [0.0, 1.0, 0.0, 1.0]
    out = gaussian_blur(torch.from_numpy(x), torch.from_numpy(mask), sigma_max=sigma_max, window=T - 1)
    assert out.dtype == torch.float64 and out.shape == x.shape
    np.testing.assert_allclose(out.numpy(), blur_reference(x, mask, sigma_max), rtol=1e-12, atol=1e-12)


def test_gaussian_blur_default_window_is_close_to_untruncated():
    rng = np.random.RandomState(1)
    x = rng.randn(2, 2, 20)
    mask = rng.uniform(0, 1, size=x.shape)
    out = gaussian_blur(torch.from_numpy(x), torch.from_numpy(mask), sigma_max=1.0)  # window = 3
    ref = blur_reference(x, mask, 1.0)
    # truncation at 3σ drops < 1% of the kernel mass
    np.testing.assert_allclose(out.numpy(), ref, atol=0.02 * np.abs(x).max())
    assert not np.allclose(out.numpy(), ref, atol=1e-12, rtol=0)  # it is truncated
    out_full = gaussian_blur(torch.from_numpy(x), torch.from_numpy(mask), sigma_max=1.0, window=100)
    np.testing.assert_allclose(out_full.numpy(), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("sigma_max, window", [(0.5, None), (1.0, None), (3.0, None), (2.0, 15)])
def test_gaussian_blur_mask_one_is_identity(dtype, sigma_max, window):
    x = torch.randn(3, 4, 16, generator=torch.Generator().manual_seed(0), dtype=dtype)
    out = gaussian_blur(x, torch.ones_like(x), sigma_max=sigma_max, window=window)
    assert torch.equal(out, x)


def test_gaussian_blur_mask_zero_hand_computed():
    # T = 3, sigma_max = 1, mask = 0: σ = 1·(1 + 1e-4 − 0) = 1.0001, so the weights are
    #   g(0) = 1, g(1) = exp(−1 / (2σ²)) ≈ 0.60659, g(2) = exp(−4 / (2σ²)) ≈ 0.13539.
    # x = [1, 2, 4]:
    #   out[0] = (1·1 + 2·g1 + 4·g2) / (1 + g1 + g2)
    #   out[1] = (2·1 + (1 + 4)·g1) / (1 + 2·g1)          (g2 would reach t = −1 and t = 3: absent)
    #   out[2] = (4·1 + 2·g1 + 1·g2) / (1 + g1 + g2)
    # With window = 1 the lag-2 terms are dropped:
    #   out[0] = (1 + 2·g1) / (1 + g1), out[1] unchanged, out[2] = (4 + 2·g1) / (1 + g1).
    sigma = 1.0001
    g1 = math.exp(-1 / (2 * sigma**2))
    g2 = math.exp(-4 / (2 * sigma**2))
    assert abs(g1 - 0.60659) < 1e-5 and abs(g2 - 0.13539) < 1e-5
    x = torch.tensor([[[1.0, 2.0, 4.0]]], dtype=torch.float64)
    m = torch.zeros_like(x)
    full = [
        (1 + 2 * g1 + 4 * g2) / (1 + g1 + g2),
        (2 + 5 * g1) / (1 + 2 * g1),
        (4 + 2 * g1 + 1 * g2) / (1 + g1 + g2),
    ]
    win1 = [(1 + 2 * g1) / (1 + g1), (2 + 5 * g1) / (1 + 2 * g1), (4 + 2 * g1) / (1 + g1)]
    np.testing.assert_allclose(gaussian_blur(x, m, sigma_max=1.0)[0, 0].numpy(), full, rtol=1e-12)
    np.testing.assert_allclose(gaussian_blur(x, m, sigma_max=1.0, window=1)[0, 0].numpy(), win1, rtol=1e-12)
    # window = 0: nothing to average with, identity
    np.testing.assert_array_equal(gaussian_blur(x, m, sigma_max=1.0, window=0).numpy(), x.numpy())


def test_gaussian_blur_constant_series_is_fixed():
    x = torch.full((1, 2, 9), 3.25, dtype=torch.float64)
    m = torch.rand(1, 2, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(gaussian_blur(x, m, sigma_max=2.0), x, rtol=0, atol=1e-14)


@pytest.mark.parametrize("window", [None, 2, 9])
def test_gaussian_blur_gradcheck(window):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 2, 10, generator=gen, dtype=torch.float64, requires_grad=True)
    m = (0.1 + 0.8 * torch.rand(2, 2, 10, generator=gen, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: gaussian_blur(a, b, sigma_max=1.3, window=window), (x, m))


def test_gaussian_blur_gradcheck_broadcast():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 1, 2, 8, generator=gen, dtype=torch.float64, requires_grad=True)
    m = (0.1 + 0.8 * torch.rand(2, 3, 2, 8, generator=gen, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: gaussian_blur(a, b, sigma_max=1.0, window=7), (x, m))
    # channel-shared mask (B, V, 1, T) broadcast over C
    m1 = (0.1 + 0.8 * torch.rand(2, 3, 1, 8, generator=gen, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: gaussian_blur(a, b, sigma_max=1.0), (x, m1))


def test_gaussian_blur_broadcasting_equals_per_variant():
    gen = torch.Generator().manual_seed(2)
    B, V, C, T = 3, 4, 2, 11
    x = torch.randn(B, 1, C, T, generator=gen, dtype=torch.float64)
    m = torch.rand(B, V, C, T, generator=gen, dtype=torch.float64)
    out = gaussian_blur(x, m, sigma_max=1.5)
    assert out.shape == (B, V, C, T)
    for v in range(V):
        torch.testing.assert_close(out[:, v], gaussian_blur(x[:, 0], m[:, v], sigma_max=1.5), rtol=0, atol=1e-14)
    np.testing.assert_allclose(
        out.numpy(), blur_reference(x.numpy(), m.numpy(), 1.5)[:, :, :, :], rtol=0, atol=0.02
    )


def test_gaussian_blur_mask_gradient_sign():
    # Raising the mask of a spike moves the output toward the spike.
    x = torch.tensor([[[0.0, 0.0, 5.0, 0.0, 0.0]]], dtype=torch.float64)
    m = torch.full_like(x, 0.5, requires_grad=True)
    gaussian_blur(x, m, sigma_max=1.0)[0, 0, 2].backward()
    assert m.grad[0, 0, 2] > 0
    assert torch.count_nonzero(m.grad) == 1  # out[2] depends on m[2] only


# --------------------------------------------------------------- averages


X5 = torch.tensor([[[1.0, 2.0, 4.0, 8.0, 16.0]]], dtype=torch.float64)


def test_moving_average_hand_computed():
    # window 1: edges are averaged over the 2 terms present, not divided by 3
    expected = [(1 + 2) / 2, (1 + 2 + 4) / 3, (2 + 4 + 8) / 3, (4 + 8 + 16) / 3, (8 + 16) / 2]
    np.testing.assert_allclose(moving_average(X5, 1)[0, 0].numpy(), expected, rtol=1e-15)
    # window 2
    expected = [(1 + 2 + 4) / 3, (1 + 2 + 4 + 8) / 4, 31 / 5, (2 + 4 + 8 + 16) / 4, (4 + 8 + 16) / 3]
    np.testing.assert_allclose(moving_average(X5, 2)[0, 0].numpy(), expected, rtol=1e-15)
    # None: whole-series mean; window >= T - 1: the same
    np.testing.assert_allclose(moving_average(X5)[0, 0].numpy(), [31 / 5] * 5, rtol=1e-15)
    np.testing.assert_allclose(moving_average(X5, 10)[0, 0].numpy(), [31 / 5] * 5, rtol=1e-15)
    # window 0: identity
    np.testing.assert_array_equal(moving_average(X5, 0).numpy(), X5.numpy())


def test_past_average_hand_computed():
    expected = [1.0, (1 + 2) / 2, (1 + 2 + 4) / 3, (2 + 4 + 8) / 3, (4 + 8 + 16) / 3]
    np.testing.assert_allclose(past_average(X5, 2)[0, 0].numpy(), expected, rtol=1e-15)
    expected = [1.0, 3 / 2, 7 / 3, 15 / 4, 31 / 5]
    np.testing.assert_allclose(past_average(X5)[0, 0].numpy(), expected, rtol=1e-15)
    np.testing.assert_array_equal(past_average(X5, 0).numpy(), X5.numpy())


@pytest.mark.parametrize("window", [None, 0, 1, 3])
def test_past_average_never_looks_ahead(window):
    x = torch.randn(2, 3, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    base = past_average(x, window)
    for t in range(9):
        y = x.clone()
        y[..., t + 1 :] += 100.0
        changed = past_average(y, window)
        torch.testing.assert_close(changed[..., : t + 1], base[..., : t + 1], rtol=0, atol=1e-12)
        assert (changed[..., t + 1] != base[..., t + 1]).all()


def test_moving_average_looks_both_ways():
    x = torch.zeros(1, 1, 7, dtype=torch.float64)
    x[..., 3] = 1.0
    np.testing.assert_allclose(moving_average(x, 1)[0, 0].numpy(), [0, 0, 1 / 3, 1 / 3, 1 / 3, 0, 0])


def test_averages_match_brute_force():
    rng = np.random.RandomState(3)
    x = rng.randn(2, 3, 9)
    for w in [0, 1, 2, 4, 8]:
        mov = np.stack([x[..., max(0, t - w) : t + w + 1].mean(-1) for t in range(9)], -1)
        past = np.stack([x[..., max(0, t - w) : t + 1].mean(-1) for t in range(9)], -1)
        np.testing.assert_allclose(moving_average(torch.from_numpy(x), w).numpy(), mov, rtol=1e-12)
        np.testing.assert_allclose(past_average(torch.from_numpy(x), w).numpy(), past, rtol=1e-12)


# ------------------------------------------------------------------ fade


def test_fade_values():
    x = torch.tensor([[[2.0, 4.0, 6.0]]], dtype=torch.float64)
    m = torch.tensor([[[1.0, 0.0, 0.25]]], dtype=torch.float64)
    np.testing.assert_allclose(fade(x, m, 1.0)[0, 0].numpy(), [2.0, 1.0, 0.25 * 6 + 0.75 * 1.0])
    ref = torch.tensor([[[10.0, 20.0, 30.0]]], dtype=torch.float64)
    np.testing.assert_allclose(fade(x, m, ref)[0, 0].numpy(), [2.0, 20.0, 0.25 * 6 + 0.75 * 30])


def test_fade_broadcasts_variants_and_gradcheck():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 1, 3, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    m = torch.rand(2, 4, 3, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    ref = moving_average(x.detach()[:, 0], 1).unsqueeze(1)
    out = fade(x, m, ref)
    assert out.shape == (2, 4, 3, 5)
    torch.testing.assert_close(out[:, 2], m[:, 2] * x[:, 0] + (1 - m[:, 2]) * ref[:, 0])
    assert torch.autograd.gradcheck(lambda a, b: fade(a, b, ref), (x, m))
