"""Gradient and occlusion baselines from captum, for context beside the mask explainers.

These are not explainers of the package: they live with the benchmarks and need
the optional extra ``captum`` (``pip install "sklearn-tsmask[captum]"``). Each
one has the small interface the runner uses, ``fit_transform(X, model=...)``
(``X`` an array or a :class:`~sklearn_tsmask.WithInputs` carrying the model's
per-series inputs) returning non-negative saliency shaped like the series, plus
``device_``.

What is attributed: captum needs one scalar per series. Both baselines explain

- regression black boxes (the rare white boxes, outputs ``(N,)`` or ``(N, T')``):
  the sum of the outputs over time;
- classifiers (the GRU, logits ``(N, K)`` or ``(N, T', K)``): the sum over time
  of the logit of the class predicted for the unperturbed series at that step.

This is the same signal the mask explainers preserve (all outputs at every
step). Saliency is the absolute value of the attribution.
"""

import numpy as np
import torch

from sklearn_tsmask import WithInputs
from sklearn_tsmask._models import wrap_model
from sklearn_tsmask._panel import to_tensor
from sklearn_tsmask._utils import resolve_device


def captum_available():
    try:
        import captum  # noqa: F401
    except ImportError:
        return False
    return True


class _ScalarTarget(torch.nn.Module):
    """The black box reduced to one scalar per series (see the module docstring)."""

    def __init__(self, frozen, kwarg_names, task):
        super().__init__()
        self.frozen = frozen
        self.kwarg_names = kwarg_names
        self.task = task

    def forward(self, x, classes, *kwarg_values):
        out = self.frozen(x, **dict(zip(self.kwarg_names, kwarg_values)))
        if self.task == "regression":
            return out.reshape(out.shape[0], -1).sum(dim=1)
        picked = out.gather(-1, classes.unsqueeze(-1)).squeeze(-1)  # (N,) or (N, T')
        return picked.reshape(picked.shape[0], -1).sum(dim=1)


class _CaptumBaseline:
    """Shared plumbing: wrap the model, compute the classes once, batch, take |attribution|."""

    #: display name in the reports (set by subclasses)
    name = None
    #: whether the attribution is computed by captum (optional extra)
    needs_captum = True

    def __init__(self, *, task="classification", batch_size=64, device="auto", random_state=None):
        self.task = task
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state

    def _attribute(self, target, x, classes, extra):  # pragma: no cover - abstract
        raise NotImplementedError

    def fit_transform(self, X, y=None, *, model=None):
        if self.needs_captum and not captum_available():
            raise ImportError('the captum baselines need captum: pip install "sklearn-tsmask[captum]"')
        series, inputs = (X.X, X.inputs) if isinstance(X, WithInputs) else (X, {})
        self.device_ = resolve_device(self.device)
        frozen = wrap_model(model if model is not None else y, device=self.device_)
        x, _ = to_tensor(series, dtype=frozen.dtype, device=self.device_)
        names = sorted(inputs)
        values = [torch.as_tensor(np.asarray(inputs[k]), device=self.device_) for k in names]
        target = _ScalarTarget(frozen, names, self.task)
        out = []
        with frozen.context():
            for lo in range(0, x.shape[0], self.batch_size):
                xb = x[lo:lo + self.batch_size]
                extra = [v[lo:lo + self.batch_size] for v in values]
                with torch.no_grad():
                    raw = frozen(xb, **dict(zip(names, extra)))
                classes = raw.argmax(-1) if self.task == "classification" else torch.zeros(len(xb), dtype=torch.long, device=xb.device)
                attr = self._attribute(target, xb, classes, extra)
                out.append(attr.detach().abs().float().cpu())
        return torch.cat(out).numpy()


class IntegratedGradients(_CaptumBaseline):
    """captum's Integrated Gradients from the all-zero series, ``n_steps`` Riemann steps."""

    name = "Integrated Gradients"

    def __init__(self, *, n_steps=50, task="classification", batch_size=64, device="auto", random_state=None):
        super().__init__(task=task, batch_size=batch_size, device=device, random_state=random_state)
        self.n_steps = n_steps

    def _attribute(self, target, x, classes, extra):
        from captum.attr import IntegratedGradients as _IG

        return _IG(target).attribute(
            x, baselines=torch.zeros_like(x), additional_forward_args=(classes, *extra),
            n_steps=self.n_steps, internal_batch_size=len(x) * max(1, self.n_steps // 5),
        )


class Occlusion(_CaptumBaseline):
    """captum's Occlusion with a one-entry window (each (channel, time) entry replaced by 0)."""

    name = "Occlusion"

    def __init__(self, *, perturbations_per_eval=50, task="classification", batch_size=64, device="auto",
                 random_state=None):
        super().__init__(task=task, batch_size=batch_size, device=device, random_state=random_state)
        self.perturbations_per_eval = perturbations_per_eval

    def _attribute(self, target, x, classes, extra):
        from captum.attr import Occlusion as _Occlusion

        return _Occlusion(target).attribute(
            x, sliding_window_shapes=(1, 1), baselines=0.0, additional_forward_args=(classes, *extra),
            perturbations_per_eval=self.perturbations_per_eval,
        )


class TimingIG(_CaptumBaseline):
    """A TIMING-style baseline: integrated gradients along paths that keep random segments of the series.

    TIMING (Jang et al., ICML 2025) integrates the gradient from the all-zero
    series to ``x`` along paths on which random temporal segments are held at
    their true values: at each of the ``n_steps`` interpolation points, every
    series gets ``n_segments`` segments (one channel each, a length drawn
    uniformly in ``[1, max_segment]``, a random start) that stay at ``x``
    while the other entries are scaled by ``α``. An entry's attribution is
    ``x`` times its mean gradient over the steps at which it was interpolated
    (midpoint rule). Unlike plain integrated gradients, the model is never
    evaluated on a series scaled down everywhere at once.

    Written from the paper's description for the benchmarks only (not an
    explainer of the package). It needs gradients; it explains the same scalar
    as the captum baselines (see the module docstring).
    """

    name = "TIMING (segment-retaining IG)"
    needs_captum = False

    def __init__(self, *, n_steps=50, n_segments=5, max_segment=0.5, task="classification", batch_size=64,
                 device="auto", random_state=None):
        super().__init__(task=task, batch_size=batch_size, device=device, random_state=random_state)
        self.n_steps = n_steps
        self.n_segments = n_segments
        self.max_segment = max_segment

    def fit_transform(self, X, y=None, *, model=None):
        seed = 0 if self.random_state is None else int(self.random_state)
        self._generator = torch.Generator().manual_seed(seed)
        return super().fit_transform(X, y, model=model)

    def _retained(self, n_rows, C, T, device):
        """Boolean (n_rows, C, T): True where an entry stays at its true value on this path point."""
        g = self._generator
        longest = max(1, min(T, int(round(self.max_segment * T)) if self.max_segment <= 1 else int(self.max_segment)))
        channel = torch.randint(0, C, (n_rows, self.n_segments), generator=g)
        length = torch.randint(1, longest + 1, (n_rows, self.n_segments), generator=g)
        start = (torch.rand(n_rows, self.n_segments, generator=g) * (T - length + 1)).long()
        t = torch.arange(T)
        inside = (t >= start[..., None]) & (t < (start + length)[..., None])  # (rows, S, T)
        keep = torch.zeros(n_rows, C, T, dtype=torch.bool)
        for s in range(self.n_segments):
            keep[torch.arange(n_rows), channel[:, s]] |= inside[:, s]
        return keep.to(device)

    def _attribute(self, target, x, classes, extra):
        n, C, T = x.shape
        grad_sum = torch.zeros_like(x)
        count = torch.zeros_like(x)
        steps_per_call = max(1, 256 // max(1, n))
        alphas = (torch.arange(self.n_steps, dtype=x.dtype, device=x.device) + 0.5) / self.n_steps
        for lo in range(0, self.n_steps, steps_per_call):
            a = alphas[lo:lo + steps_per_call]
            k = len(a)
            keep = self._retained(k * n, C, T, x.device).reshape(k, n, C, T)
            xs = x.unsqueeze(0).expand(k, n, C, T)
            z = torch.where(keep, xs, a.view(k, 1, 1, 1) * xs).reshape(k * n, C, T).detach().requires_grad_(True)
            rep = [v.repeat(k, *([1] * (v.ndim - 1))) for v in extra]
            out = target(z, classes.repeat(k, *([1] * (classes.ndim - 1))), *rep)
            (grad,) = torch.autograd.grad(out.sum(), z)
            free = (~keep).to(x.dtype)
            grad_sum += (grad.reshape(k, n, C, T) * free).sum(0)
            count += free.sum(0)
        return x * grad_sum / count.clamp_min(1.0)
