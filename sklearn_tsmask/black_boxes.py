"""Black boxes without gradients: fitted classifiers explained through zeroth-order gradients.

The mask explainers learn masks by gradient descent through the black box. A
fitted classifier that is not a torch network — sktime's MiniRocket or
Rocket pipelines, a scikit-learn pipeline, gradient-boosted trees on
features — only offers ``predict_proba``. :class:`ZerothOrderModel` turns it
into a torch function whose backward pass is a *zeroth-order estimate*: the
classifier is called on ``x ± σ·u`` for random Gaussian directions ``u``
(antithetic pairs), and the vector-Jacobian product is estimated from the
differences, as in evolution strategies / Gaussian smoothing:

.. math::

    \\nabla_x \\langle g, f(x) \\rangle \\approx
    \\frac{1}{q} \\sum_{i=1}^{q} \\frac{\\langle g, f(x + σ u_i) - f(x - σ u_i) \\rangle}{2} \\, \\frac{u_i}{σ}

This is the gradient of the Gaussian-smoothed classifier ``E[f(x + σu)]``,
unbiased for it, noisy for small ``q``; Adam's running averages over the
optimisation steps smooth the noise further. Why this rather than a
differentiable surrogate: the explanation is of the classifier itself, not
of an imitation whose own fidelity would have to be trusted; the price is
``2q + 1`` classifier calls per series and step, batched in
``batch_size``-series calls. The estimate is correct only for classifiers
whose probabilities move with their input: a classifier whose
``predict_proba`` returns hard 0/1 labels (sktime's ``RocketClassifier``,
whose ridge head has no probabilities) has a zero gradient almost
everywhere and is refused with an explanation.

The output is ``log predict_proba`` (clipped at 1e-12), so the explainers'
cross-entropy and MSE losses read it as logits.
"""

import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

__all__ = ["ZerothOrderModel"]

_PROBA_FLOOR = 1e-12


class _ZerothOrderFunction(torch.autograd.Function):
    """``log f(x)`` forward; backward from antithetic finite differences drawn in forward."""

    @staticmethod
    def forward(ctx, x, wrapper):
        needs_grad = ctx.needs_input_grad[0]
        out, directions, differences, scale = wrapper._evaluate(x, with_directions=needs_grad)
        if needs_grad:
            ctx.save_for_backward(directions, differences, scale)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        directions, differences, scale = ctx.saved_tensors  # (q, N, C, T), (q, N, K), (1, C, 1)
        q = directions.shape[0]
        weights = torch.einsum("qnk,nk->qn", differences, grad_out.to(differences.dtype))
        grad = torch.einsum("qn,qnct->nct", weights, directions) / (q * scale)
        return grad.to(grad_out.dtype), None


class ZerothOrderModel:
    """A fitted classifier without gradients as a differentiable torch black box.

    Calling the object on a tensor ``(N, C, T)`` returns ``log
    predict_proba`` as a tensor ``(N, K)``; its backward pass estimates the
    gradient from ``n_directions`` antithetic pairs of Gaussian
    perturbations (module docstring). Pass it (or the classifier itself,
    wrapped with the defaults) to any explainer's ``fit``.

    Parameters
    ----------
    estimator : fitted classifier
        Anything with ``predict_proba`` taking a panel: a sktime classifier,
        a scikit-learn pipeline. It is never modified.
    n_directions : int, default=16
        Antithetic direction pairs per series and step (``2 q + 1``
        classifier calls per series and step). More: less noise, more time.
    epsilon : float, default=0.1
        Perturbation size σ, in units of each channel's standard deviation
        (over the series and time points of the batch explained).
    batch_size : int, default=2048
        Series per ``predict_proba`` call.
    flatten : bool, default=False
        Pass ``(N, C · T)`` tables instead of ``(N, C, T)`` panels (a
        scikit-learn pipeline on flat features).
    random_state : int, RandomState or None, default=None
        Seeds the directions (a fixed seed makes explanations reproducible).

    Attributes
    ----------
    classes_ : ndarray
        The classifier's classes (columns of the output).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_tsmask.black_boxes import ZerothOrderModel
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(40, 2, 5)
    >>> y = (X[:, 0, 2] > 0).astype(int)
    >>> clf = LogisticRegression().fit(X.reshape(40, -1), y)
    >>> f = ZerothOrderModel(clf, flatten=True, n_directions=64, random_state=0)
    >>> x = torch.tensor(X[:1], dtype=torch.float32, requires_grad=True)
    >>> f(x)[0, 1].backward()
    >>> int(x.grad.abs().argmax())  # channel 0, time 2: the feature the classifier uses
    2
    """

    def __init__(self, estimator, *, n_directions=16, epsilon=0.1, batch_size=2048, flatten=False, random_state=None):
        self.estimator = estimator
        self.n_directions = n_directions
        self.epsilon = epsilon
        self.batch_size = batch_size
        self.flatten = flatten
        self.random_state = random_state
        self._validate()
        self._generator = None

    def _validate(self):
        if not hasattr(self.estimator, "predict_proba"):
            raise TypeError(
                f"{type(self.estimator).__name__} has no predict_proba: a zeroth-order black box needs class "
                "probabilities."
            )
        for name in ("n_directions", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if not isinstance(self.epsilon, numbers.Real) or not self.epsilon > 0:
            raise ValueError(f"epsilon must be a positive number, got {self.epsilon!r}.")
        _check_fitted_classifier(self.estimator)

    @property
    def classes_(self):
        return getattr(self.estimator, "classes_", None)

    def __call__(self, x):
        if not isinstance(x, torch.Tensor) or x.ndim != 3:
            raise ValueError("ZerothOrderModel takes a torch tensor of shape (N, C, T).")
        return _ZerothOrderFunction.apply(x, self)

    # ------------------------------------------------------------ internals
    def _log_proba(self, panel):
        """``log predict_proba`` of a float64 panel (M, C, T), in ``batch_size`` chunks."""
        outs = []
        for start in range(0, panel.shape[0], self.batch_size):
            chunk = panel[start : start + self.batch_size]
            if self.flatten:
                chunk = chunk.reshape(chunk.shape[0], -1)
            proba = np.asarray(self.estimator.predict_proba(chunk), dtype=np.float64)
            if proba.ndim != 2 or proba.shape[0] != chunk.shape[0]:
                raise ValueError(
                    f"predict_proba returned shape {proba.shape} for {chunk.shape[0]} series; expected (n, n_classes)."
                )
            outs.append(proba)
        proba = np.concatenate(outs)
        return np.log(np.clip(proba, _PROBA_FLOOR, None)), proba

    def _evaluate(self, x, *, with_directions):
        device, dtype = x.device, x.dtype
        panel = x.detach().to("cpu", torch.float64)
        n = panel.shape[0]
        if not with_directions:
            log_p, _ = self._log_proba(panel.numpy())
            return torch.from_numpy(log_p).to(device=device, dtype=dtype), None, None, None
        if self._generator is None:
            seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            self._generator = torch.Generator().manual_seed(seed)
        q = self.n_directions
        std = panel.std(dim=(0, 2), keepdim=True) if panel.shape[0] * panel.shape[2] > 1 else torch.ones(1, 1, 1)
        scale = self.epsilon * torch.where(std > 0, std, torch.ones_like(std))  # (1, C, 1)
        directions = torch.randn((q, *panel.shape), generator=self._generator, dtype=torch.float64)
        step = directions * scale
        batch = torch.cat([panel[None], panel[None] + step, panel[None] - step]).reshape(-1, *panel.shape[1:])
        log_p, proba = self._log_proba(batch.numpy())
        log_p = torch.from_numpy(log_p).reshape(2 * q + 1, n, -1)
        if not hasattr(self, "_checked_soft"):
            if np.all((proba == 0) | (proba == 1)):
                raise ValueError(
                    f"{type(self.estimator).__name__}.predict_proba returns hard 0/1 labels: its output does not "
                    "move with small changes of the input, so no gradient can be estimated and no mask learned. "
                    "Use a classifier with graded probabilities (e.g. a MiniRocket transform followed by "
                    "LogisticRegression instead of RocketClassifier's ridge head)."
                )
            self._checked_soft = True
        differences = (log_p[1 : q + 1] - log_p[q + 1 :]) / 2  # (q, N, K)
        out = log_p[0].to(device=device, dtype=dtype)
        return out, directions, differences, scale

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_generator"] = None if self._generator is None else self._generator.get_state()
        return state

    def __setstate__(self, state):
        generator_state = state.pop("_generator")
        self.__dict__.update(state)
        self._generator = None
        if generator_state is not None:
            self._generator = torch.Generator()
            self._generator.set_state(generator_state)

    def __repr__(self):
        return (
            f"ZerothOrderModel({type(self.estimator).__name__}, n_directions={self.n_directions}, "
            f"epsilon={self.epsilon}, flatten={self.flatten})"
        )


def _check_fitted_classifier(estimator):
    """Raise a clear error for an unfitted classifier (sktime or scikit-learn)."""
    fitted = getattr(estimator, "is_fitted", None)  # sktime
    if isinstance(fitted, bool):
        if not fitted:
            raise ValueError(f"{type(estimator).__name__} is not fitted: fit it before explaining it.")
        return
    try:
        check_is_fitted(estimator)
    except Exception as exc:
        raise ValueError(f"{type(estimator).__name__} is not fitted: fit it before explaining it ({exc}).") from exc
