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

    def __init__(self, *, task="classification", batch_size=64, device="auto", random_state=None):
        self.task = task
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state

    def _attribute(self, target, x, classes, extra):  # pragma: no cover - abstract
        raise NotImplementedError

    def fit_transform(self, X, y=None, *, model=None):
        if not captum_available():
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
