"""Fixed perturbation operators Π(x, m) of Dynamask (Crabbé & van der Schaar, 2021).

Pure tensor functions. Series are ``(..., C, T)`` tensors (time last) and masks
have a shape that broadcasts with them, so that several masks of one series
(one per hyper-parameter variant) are perturbed in one call: ``x`` of shape
``(B, 1, C, T)`` with ``mask`` of shape ``(B, V, C, T)`` gives ``(B, V, C, T)``.
A mask entry of 1 keeps the input; 0 replaces it with the perturbation's
reference value.
"""

import math

import torch
import torch.nn.functional as F

__all__ = [
    "gaussian_blur",
    "moving_average",
    "past_average",
    "fade",
]

_SIGMA_EPS = 1e-4


def _blur_neighbours(x, w):
    """For d = 1..w: x[t−d] + x[t+d] (absent steps as 0) and how many are present."""
    T = x.shape[-1]
    pad = torch.nn.functional.pad(x, (w, w))
    t = torch.arange(T, device=x.device)
    sums, counts = [], []
    for d in range(1, w + 1):
        sums.append(pad[..., w - d : w - d + T] + pad[..., w + d : w + d + T])
        counts.append(((t - d >= 0).to(x.dtype) + (t + d < T).to(x.dtype)))
    return sums, counts


def _blur_width(mask, sigma_max):
    """σ = σ_max·(1 + ε − m) and the kernel rate a = 1/(2σ²), so that w_d = exp(−a·d²)."""
    sigma = sigma_max * (1.0 + _SIGMA_EPS - mask)
    return sigma, 0.5 / (sigma * sigma)


class _GaussianBlur(torch.autograd.Function):
    """Truncated temporal Gaussian blur with an analytic backward pass.

    Forward: ``out = (x + Σ_d w_d·s_d) / (1 + Σ_d w_d·n_d)`` with
    ``w_d = exp(−d²/(2σ²))``, ``s_d = x[t−d] + x[t+d]`` and ``n_d`` the number
    of those neighbours present. Backward only needs ``out``, σ and the
    neighbour sums, so no per-offset intermediate is kept for autograd.
    """

    @staticmethod
    def forward(ctx, x, mask, sigma_max, w):
        _, a = _blur_width(mask, sigma_max)
        sums, counts = _blur_neighbours(x, w)
        num = x.expand(torch.broadcast_shapes(x.shape, mask.shape))
        den = torch.ones_like(a)
        for d, (s_d, n_d) in enumerate(zip(sums, counts), start=1):
            w_d = torch.exp(-a * (d * d))
            num = num + w_d * s_d
            den = den + w_d * n_d
        out = num / den
        ctx.save_for_backward(x, mask, out, den)
        ctx.sigma_max, ctx.w = sigma_max, w
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, mask, out, den = ctx.saved_tensors
        sigma_max, w = ctx.sigma_max, ctx.w
        sigma, a = _blur_width(mask, sigma_max)
        sums, counts = _blur_neighbours(x, w)
        g = grad_out / den
        grad_mask = grad_x = None
        if ctx.needs_input_grad[1]:
            # d out / d a = −Σ_d d²·w_d·(s_d − n_d·out) / den ; d a / d mask = σ_max / σ³
            acc = torch.zeros_like(out)
            for d, (s_d, n_d) in enumerate(zip(sums, counts), start=1):
                acc = acc + (d * d) * torch.exp(-a * (d * d)) * (s_d - n_d * out)
            grad_mask = -(g * acc) * (sigma_max / (sigma * sigma * sigma))
            grad_mask = _sum_to(grad_mask, mask.shape)
        if ctx.needs_input_grad[0]:
            # out[t] = Σ_s K[t, s] x[s]: the transpose spreads g back over the window.
            gx = g
            gpad = torch.nn.functional.pad(g, (w, w))
            apad = torch.nn.functional.pad(a, (w, w))
            T = x.shape[-1]
            for d in range(1, w + 1):
                for shift in (d, -d):  # x[s] reaches out[s + shift]
                    g_s = gpad[..., w + shift : w + shift + T]
                    a_s = apad[..., w + shift : w + shift + T]
                    gx = gx + torch.exp(-a_s * (d * d)) * g_s
            grad_x = _sum_to(gx, x.shape)
        return grad_x, grad_mask, None, None


def _sum_to(t, shape):
    """Sum a broadcast gradient back to ``shape``."""
    while t.ndim > len(shape):
        t = t.sum(0)
    dims = [i for i, (a, b) in enumerate(zip(t.shape, shape)) if b == 1 and a != 1]
    return t.sum(dims, keepdim=True) if dims else t


def gaussian_blur(x, mask, *, sigma_max=1.0, window=None):
    """Temporal Gaussian blur whose width shrinks where the mask is high.

    ``x̃[t, c] = Σ_s x[s, c]·g(t − s) / Σ_s g(t − s)`` with
    ``g(u) = exp(−u² / (2σ²))`` and ``σ = σ_max·(1 + ε − m[t, c])``. A mask
    of 1 returns ``x[t, c]`` (σ tiny), a mask of 0 the widest blur.

    Parameters
    ----------
    x : torch.Tensor of shape (..., C, T)
        Series.
    mask : torch.Tensor broadcastable with ``x``
        Mask values in [0, 1].
    sigma_max : float, default=1.0
        Width of the blur where the mask is 0, in time steps.
    window : int or None, default=None
        Half-width of the kernel: only ``|t − s| <= window`` contribute (the
        weights are normalised over the steps present, so the edges are not
        biased). ``None`` uses ``ceil(3·sigma_max)``, which keeps more than 99%
        of the kernel's mass. Time and memory are ``O(T·window)`` per series,
        and nothing of size ``T·window`` is kept for the backward pass.

    Returns
    -------
    torch.Tensor
        The perturbed series, of the broadcast shape of ``x`` and ``mask``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.perturbations import gaussian_blur
    >>> x = torch.tensor([[0.0, 0.0, 3.0, 0.0, 0.0]])  # one channel, a spike at t = 2
    >>> gaussian_blur(x, torch.ones(1, 5))  # mask 1: unchanged
    tensor([[0., 0., 3., 0., 0.]])
    >>> blurred = gaussian_blur(x, torch.zeros(1, 5))  # mask 0: σ = 1, the spike is spread out
    >>> # t = 2: 3 / (1 + 2 e^-1/2 + 2 e^-2) = 1.208; t = 1: 3 e^-1/2 / (1 + 2 e^-1/2 + e^-2 + e^-9/2) = 0.771
    >>> round(blurred[0, 2].item(), 3), round(blurred[0, 1].item(), 3)
    (1.208, 0.771)
    """
    T = x.shape[-1]
    w = int(math.ceil(3.0 * sigma_max)) if window is None else int(window)
    w = max(0, min(w, T - 1))
    return _GaussianBlur.apply(x, mask, float(sigma_max), w)


def _window_sums(x, lo, hi):
    """Sums of ``x[..., s]`` over ``lo[t] <= s <= hi[t]`` via a cumulative sum."""
    cs = F.pad(torch.cumsum(x, dim=-1), (1, 0))
    return cs[..., hi + 1] - cs[..., lo]


def moving_average(x, window=None):
    """Centred moving average with edges divided by the terms present.

    ``μ[t, c]`` is the mean of ``x[s, c]`` over ``|s − t| <= window`` clipped to
    ``[0, T − 1]``; the divisor is the number of steps actually present (the
    Dynamask code divides by ``2·window + 1``, pulling the edges toward 0).

    Parameters
    ----------
    x : torch.Tensor of shape (..., C, T)
        Series.
    window : int or None, default=None
        Half-width of the window; ``None`` gives the whole-series mean.

    Returns
    -------
    torch.Tensor of the shape of ``x``
        The moving average of every channel at every time step.

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.perturbations import moving_average
    >>> moving_average(torch.tensor([[1.0, 2.0, 3.0, 10.0]]), window=1)  # edges: mean of 2 terms
    tensor([[1.5000, 2.0000, 5.0000, 6.5000]])
    """
    T = x.shape[-1]
    if window is None:
        return x.mean(-1, keepdim=True).expand_as(x)
    t = torch.arange(T, device=x.device)
    lo = (t - int(window)).clamp(min=0)
    hi = (t + int(window)).clamp(max=T - 1)
    return _window_sums(x, lo, hi) / (hi - lo + 1).to(x.dtype)


def past_average(x, window=None):
    """Causal moving average over ``t − window <= s <= t``.

    Only past and present steps contribute (the Dynamask code's past window
    also looks ``window`` steps ahead). The edge divisor is the number of steps
    present.

    Parameters
    ----------
    x : torch.Tensor of shape (..., C, T)
        Series.
    window : int or None, default=None
        Number of past steps; ``None`` averages over the whole past.

    Returns
    -------
    torch.Tensor of the shape of ``x``
        The causal average of every channel at every time step.

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.perturbations import past_average
    >>> past_average(torch.tensor([[1.0, 2.0, 3.0, 10.0]]), window=1)
    tensor([[1.0000, 1.5000, 2.5000, 6.5000]])
    """
    T = x.shape[-1]
    t = torch.arange(T, device=x.device)
    lo = torch.zeros_like(t) if window is None else (t - int(window)).clamp(min=0)
    return _window_sums(x, lo, t) / (t - lo + 1).to(x.dtype)


def fade(x, mask, reference):
    """Fade toward a reference: ``m·x + (1 − m)·reference``.

    Parameters
    ----------
    x : torch.Tensor of shape (..., C, T)
        Series.
    mask : torch.Tensor broadcastable with ``x``
        Mask values in [0, 1].
    reference : torch.Tensor or float, broadcastable with ``x``
        Value an entry fades to where the mask is 0 (a moving average, a past
        average, a user baseline).

    Returns
    -------
    torch.Tensor
        The perturbed series, of the broadcast shape of the inputs.

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.perturbations import fade
    >>> fade(torch.tensor([[4.0, 4.0]]), torch.tensor([[1.0, 0.25]]), 0.0)
    tensor([[4., 1.]])
    """
    return mask * x + (1.0 - mask) * reference
