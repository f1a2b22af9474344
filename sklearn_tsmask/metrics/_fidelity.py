"""Fidelity metrics: how much the model's prediction depends on the top-ranked entries.

These metrics need no ground truth, only the black box: for each series, the
``k = floor(top_fraction · C · T)`` entries with the largest mask values are
replaced by a baseline (or kept, and all the others replaced), and the
model's probability of its original prediction is compared before and after.
A mask that ranks first the entries the model really uses makes the
probability drop when they are removed (high comprehensiveness) and stay when
only they are kept (low sufficiency).

Notation, for one series ``x`` (one position of the output when the model
predicts at several positions, e.g. at every time step):

* ``p(x)`` the class probabilities: the softmax of the logits (last axis of
  the output), or the output itself with ``output="proba"``;
* ``t = argmax p(x)`` the class predicted on the unperturbed series;
* ``x_remove`` the series with its top-k entries replaced by the baseline,
  ``x_keep`` the series with all but its top-k entries replaced.

=======================  ==========================================  ============
metric                   value                                       better
=======================  ==========================================  ============
comprehensiveness        ``p_t(x) − p_t(x_remove)``                  higher
sufficiency              ``p_t(x) − p_t(x_keep)``                    lower
fidelity_accuracy        ``1[argmax p(x_remove) = t]``               lower
fidelity_cross_entropy   ``−log p_t(x_remove)``                      higher
log_odds                 ``log p_t(x_remove) − log p_t(x)``          lower
=======================  ==========================================  ============
"""

import math
import numbers

import numpy as np
import torch

from .._inputs import split_inputs
from .._models import FrozenModel, call_model, check_model_inputs, wrap_model
from .._panel import to_tensor
from .._target import resolve_target
from ..perturbations import moving_average
from .._utils import check_scalar_in, resolve_device
from ._lengths import by_length

__all__ = ["comprehensiveness", "sufficiency", "fidelity_accuracy", "fidelity_cross_entropy", "log_odds"]

_BASELINES = ("average", "zeros")
_OUTPUTS = ("logits", "proba")
_REDUCTIONS = ("mean", "none")
# Probabilities given by the model may overshoot [0, 1] by rounding errors.
_PROBA_TOLERANCE = 1e-6

_PARAMETERS_DOC = """\
    model : torch.nn.Module, callable, fitted estimator or FrozenModel
        The black box, as the explainers accept it (a module is copied and
        put in eval mode; the user's object is never modified). The fitted
        ``model_`` of an explainer is used as it is, on its own device.
    X : array-like, torch.Tensor or WithInputs of shape (n_instances, n_channels, n_timepoints)
        The series; a 2D array ``(n_instances, n_timepoints)`` is a panel of
        univariate series. A model that needs per-series inputs besides the
        series gets them from a :class:`~sklearn_tsmask.WithInputs` (never
        perturbed). Never modified. Series of unequal lengths (aeon's list
        of 2D arrays, sktime's ``df-list`` or ``nested_univ``) are measured
        by length, each at its own ``k``; the mean is over all the series.
    masks : array-like or torch.Tensor of the shape of X
        Saliency masks (or any real-valued attributions): only the ranking of
        the entries of each series matters. For series of unequal lengths,
        one mask per series of its shape, in a container of the same kind
        (what the explainers return for them).
    top_fraction : float in (0, 1], default=0.2
        Fraction of the entries of each series removed (or kept):
        ``k = floor(top_fraction · n_channels · n_timepoints)`` entries with
        the largest mask values (with a 1e-9 tolerance on the product, so that
        0.29 of 100 entries is 29). Ties are broken by the flattened index
        ``c · n_timepoints + t``, the first entry first.
    baseline : {"average", "zeros"}, default="average"
        Value that replaces an entry: the mean over time of its channel in
        the same series (``"average"``) or 0 (``"zeros"``).
    model_layout : {"NCT", "NTC"}, default="NCT"
        Input layout the model expects (ignored for a ``FrozenModel``, which
        carries its own).
    output : {"logits", "proba"}, default="logits"
        What the model returns on its last axis: class scores turned into
        probabilities by a softmax, or probabilities used as they are (they
        must lie in [0, 1]). The output is ``(n_instances, n_classes)``, or
        ``(n_instances, ..., n_classes)`` for a prediction at several
        positions (each is scored against its own predicted class and the
        values are averaged over the positions of a series).
    reduction : {"mean", "none"}, default="mean"
        ``"mean"`` returns the mean over the series, ``"none"`` one value per
        series.
    batch_size : int, default=256
        Series per model call.
    device : {"auto", "cpu", "cuda"}, str or torch.device, default="auto"
        Where a model that is not a ``FrozenModel`` is evaluated (``"auto"``:
        the device of a CUDA tensor ``X``, else CUDA when available, else the
        CPU).
    target : int, label, tuple, array-like or None, default=None
        The class scored, as the explainers' ``target``: ``None`` the class
        the model predicts on each unperturbed series (``t`` above); an index,
        a class label (through the model's ``classes_``), a ``(time step,
        class)`` pair for a per-step output (that step alone is scored), or
        one of these per series. A fidelity scorer passes the explainer's
        own ``target``."""

_RETURNS_DOC = """\
    score : float or ndarray of shape (n_instances,)
        The mean over the series, or the per-series values with
        ``reduction="none"``."""

_RAISES_DOC = """\
    ValueError
        If ``masks`` is not shaped like ``X``, ``top_fraction`` leaves no
        entry to remove, an option is unknown, or the model does not return
        class scores (an output whose last axis has fewer than 2 classes).
    TypeError
        If ``top_fraction`` is not a real number or the model does not return
        a tensor."""


def _fill_doc(func):
    if func.__doc__ is None:  # python -OO
        return func
    func.__doc__ = (
        func.__doc__.replace("{parameters}", _PARAMETERS_DOC)
        .replace("{returns}", _RETURNS_DOC)
        .replace("{raises}", _RAISES_DOC)
    )
    return func


# ------------------------------------------------------------------ internals


def _shape_of(A):
    return tuple(A.shape) if hasattr(A, "shape") else np.shape(A)


def _n_top(top_fraction, n_entries):
    """``floor(top_fraction · n_entries)``, robust to the rounding of the product."""
    k = int(math.floor(round(top_fraction * n_entries, 9)))
    if k == 0:
        raise ValueError(
            f"top_fraction={top_fraction!r} is too small for series of {n_entries} entries: "
            f"floor({top_fraction!r} · {n_entries}) = 0 entries would be removed. "
            f"Use top_fraction >= {1 / n_entries:.6g}."
        )
    return k


def _check_options(top_fraction, baseline, output, reduction, batch_size):
    top_fraction = check_scalar_in(top_fraction, "top_fraction", 0.0, 1.0, closed="right")
    if not isinstance(baseline, str) or baseline not in _BASELINES:
        raise ValueError(f"baseline must be one of {_BASELINES}, got {baseline!r}.")
    if not isinstance(output, str) or output not in _OUTPUTS:
        raise ValueError(f"output must be one of {_OUTPUTS}, got {output!r}.")
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}.")
    if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    return top_fraction


def _probabilities(out, n, output):
    """Class probabilities and their logs, float64 of shape (n, P, K)."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(
            f"The model must return a torch.Tensor, got {type(out).__name__}. "
            "Wrap models returning tuples or dicts so that they return the output tensor."
        )
    shape = tuple(out.shape)
    if out.ndim < 2 or shape[0] != n or shape[-1] < 2:
        raise ValueError(
            "Fidelity metrics need class scores on the last axis of the model's output, (N, K) or (N, ..., K) "
            f"with K >= 2 classes; for a batch of {n} series the model returned shape {shape}. "
            "Regression outputs have no predicted class to score."
        )
    if not out.is_floating_point():
        raise ValueError(f"The model returned a {out.dtype} tensor: it must return real-valued class scores.")
    out = out.detach().to(torch.float64).reshape(n, -1, shape[-1])
    if not bool(torch.isfinite(out).all()):
        raise ValueError("The model returned NaN or infinite outputs.")
    if output == "logits":
        return torch.softmax(out, dim=-1), torch.log_softmax(out, dim=-1)
    low, high = float(out.min()), float(out.max())
    if low < -_PROBA_TOLERANCE or high > 1 + _PROBA_TOLERANCE:
        raise ValueError(
            f'output="proba" needs probabilities in [0, 1], but the model returned values in [{low:.6g}, {high:.6g}]. '
            'Use output="logits" for class scores.'
        )
    proba = out.clamp(0.0, 1.0)
    # a probability of 0 gives a large finite log, not -inf
    return proba, torch.log(proba.clamp_min(torch.finfo(torch.float64).tiny))


def _top_k_selection(masks, k):
    """Boolean (B, C, T): the k largest entries of each mask, the first flat index first among ties."""
    flat = masks.reshape(masks.shape[0], -1)
    order = torch.sort(flat, dim=1, descending=True, stable=True).indices[:, :k]
    selected = torch.zeros(flat.shape, dtype=torch.bool)
    selected.scatter_(1, order, True)
    return selected.reshape(masks.shape)


def prepare(model, X, masks, *, model_layout, device):
    """The frozen black box, the series, the masks (float64, CPU) and the model inputs of a metric's call."""
    X, inputs = split_inputs(X)
    if isinstance(model, FrozenModel):
        frozen = model
    else:
        data_device = X.device if isinstance(X, torch.Tensor) else None
        frozen = wrap_model(model, layout=model_layout, device=resolve_device(device, data_device))
    x, _ = to_tensor(X, dtype=frozen.dtype, device=frozen.device, name="X")
    # the ranking is done on the CPU in float64: no ties created by rounding, the same on every device
    m, _ = to_tensor(masks, dtype=torch.float64, device=torch.device("cpu"), name="masks")
    if tuple(m.shape) != tuple(x.shape):
        raise ValueError(
            f"masks must have the shape of X: X has shape {_shape_of(X)}, masks have shape {_shape_of(masks)}."
        )
    return frozen, x, m, check_model_inputs(inputs, x.shape[0], frozen.device)


def _fidelity(metric, model, X, masks, *, top_fraction, baseline, model_layout, output, reduction,
              batch_size, device, target=None):
    """Per-series values of ``metric`` (reduced as asked)."""
    top_fraction = _check_options(top_fraction, baseline, output, reduction, batch_size)
    frozen, x, m, kwargs = prepare(model, X, masks, model_layout=model_layout, device=device)
    n, n_channels, n_timepoints = x.shape
    k = _n_top(top_fraction, n_channels * n_timepoints)
    keep_top = metric == "sufficiency"

    values = []
    selection = None
    with torch.no_grad(), frozen.context():
        for start in range(0, n, batch_size):
            rows = slice(start, start + batch_size)
            xb = x[rows]
            b = xb.shape[0]
            kw = {name: v[rows] for name, v in kwargs.items()}
            selected = _top_k_selection(m[rows], k).to(frozen.device)
            base = moving_average(xb) if baseline == "average" else torch.zeros_like(xb)  # the channel means
            # torch.where builds new tensors: the input is never written to
            perturbed = torch.where(selected, xb, base) if keep_top else torch.where(selected, base, xb)
            out0 = call_model(frozen, xb, kw)
            if target is not None and selection is None:  # the chosen class (and step), resolved once
                if not isinstance(out0, torch.Tensor) or out0.ndim < 2:
                    _probabilities(out0, b, output)  # the usual error for outputs without classes
                selection = resolve_target(target, n, tuple(out0.shape[1:]), frozen.classes)
            p0, logp0 = _probabilities(out0, b, output)
            p1, logp1 = _probabilities(call_model(frozen, perturbed, kw), b, output)
            if p1.shape != p0.shape:
                raise ValueError(
                    f"The model's output has shape {tuple(p0.shape)} on the series but {tuple(p1.shape)} "
                    "on the perturbed series."
                )
            if selection is None:
                chosen = p0.argmax(dim=-1, keepdim=True)  # (B, P, 1): the first class among ties
            else:
                classes, steps = (None if v is None else v[rows] for v in selection)
                if steps is not None:  # one step of a per-step output
                    at = torch.arange(b)
                    p0, logp0, p1, logp1 = (t.reshape(b, -1, t.shape[-1])[at, steps][:, None, :]
                                            for t in (p0, logp0, p1, logp1))
                chosen = classes.view(b, 1, 1).expand(b, p0.shape[1], 1)
            if metric in ("comprehensiveness", "sufficiency"):
                v = p0.gather(-1, chosen) - p1.gather(-1, chosen)
            elif metric == "accuracy":
                v = (p1.argmax(dim=-1, keepdim=True) == chosen).to(torch.float64)
            elif metric == "cross_entropy":
                v = -logp1.gather(-1, chosen)
            else:  # log_odds
                v = logp1.gather(-1, chosen) - logp0.gather(-1, chosen)
            values.append(v.reshape(b, -1).mean(dim=1).cpu())
    values = torch.cat(values).numpy()
    if reduction == "none":
        return values
    return float(values.mean())


# ------------------------------------------------------------------ public API


@by_length
@_fill_doc
def comprehensiveness(
    model,
    X,
    masks,
    *,
    top_fraction=0.2,
    baseline="average",
    model_layout="NCT",
    output="logits",
    reduction="mean",
    batch_size=256,
    device="auto",
    target=None,
):
    """Drop of the predicted class's probability when the top-k entries are removed.

    For each series, ``p_t(x) − p_t(x_remove)``, where ``t`` is the class
    predicted on ``x`` and ``x_remove`` is ``x`` with the ``k`` entries of
    largest mask value replaced by the baseline. Higher is better: removing
    the entries a faithful mask ranks first changes the prediction most.

    Parameters
    ----------
{parameters}

    Returns
    -------
{returns}

    Raises
    ------
{raises}

    See Also
    --------
    sufficiency : The drop when only the top-k entries are kept.

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.metrics import comprehensiveness
    >>> def model(x):  # logits (N, 2) = (x[:, 0, 0], 0)
    ...     return torch.stack([x[:, 0, 0], torch.zeros(len(x))], dim=-1)
    >>> X = torch.tensor([[[2.0, 0.0], [0.0, 0.0]]])  # p_0(x) = sigmoid(2) = 0.881
    >>> good = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])  # ranks x[0, 0] first
    >>> bad = torch.tensor([[[0.0, 0.0], [1.0, 0.0]]])
    >>> round(comprehensiveness(model, X, good, top_fraction=0.25, baseline="zeros"), 3)
    0.381
    >>> round(comprehensiveness(model, X, bad, top_fraction=0.25, baseline="zeros"), 3)
    0.0
    """
    return _fidelity(
        "comprehensiveness", model, X, masks, top_fraction=top_fraction, baseline=baseline,
        model_layout=model_layout, output=output, reduction=reduction,
        batch_size=batch_size, device=device, target=target,
    )


@by_length
@_fill_doc
def sufficiency(
    model,
    X,
    masks,
    *,
    top_fraction=0.2,
    baseline="average",
    model_layout="NCT",
    output="logits",
    reduction="mean",
    batch_size=256,
    device="auto",
    target=None,
):
    """Drop of the predicted class's probability when only the top-k entries are kept.

    For each series, ``p_t(x) − p_t(x_keep)``, where ``t`` is the class
    predicted on ``x`` and ``x_keep`` is ``x`` with every entry but the ``k``
    of largest mask value replaced by the baseline. Lower is better: the
    entries a faithful mask ranks first suffice to keep the prediction.

    Parameters
    ----------
{parameters}

    Returns
    -------
{returns}

    Raises
    ------
{raises}

    See Also
    --------
    comprehensiveness : The drop when the top-k entries are removed.

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.metrics import sufficiency
    >>> def model(x):  # logits (N, 2) = (x[:, 0, 0], 0)
    ...     return torch.stack([x[:, 0, 0], torch.zeros(len(x))], dim=-1)
    >>> X = torch.tensor([[[2.0, 0.0], [0.0, 0.0]]])
    >>> good = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])  # keeps x[0, 0]: nothing changes
    >>> bad = torch.tensor([[[0.0, 0.0], [1.0, 0.0]]])  # x[0, 0] -> 0: p_0 falls to 0.5
    >>> round(sufficiency(model, X, good, top_fraction=0.25, baseline="zeros"), 3)
    0.0
    >>> round(sufficiency(model, X, bad, top_fraction=0.25, baseline="zeros"), 3)
    0.381
    """
    return _fidelity(
        "sufficiency", model, X, masks, top_fraction=top_fraction, baseline=baseline,
        model_layout=model_layout, output=output, reduction=reduction,
        batch_size=batch_size, device=device, target=target,
    )


@by_length
@_fill_doc
def fidelity_accuracy(
    model,
    X,
    masks,
    *,
    top_fraction=0.2,
    baseline="average",
    model_layout="NCT",
    output="logits",
    reduction="mean",
    batch_size=256,
    device="auto",
    target=None,
):
    """Fraction of the series still predicted as before once the top-k entries are removed.

    For each series, 1 if the class predicted on ``x_remove`` (``x`` with
    the ``k`` entries of largest mask value replaced by the baseline) is the
    class ``t`` predicted on ``x``, else 0 (the first class wins ties). Lower
    is better.

    Parameters
    ----------
{parameters}

    Returns
    -------
{returns}

    Raises
    ------
{raises}

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.metrics import fidelity_accuracy
    >>> def model(x):  # logits (N, 2) = (x[:, 0, 0], 1)
    ...     return torch.stack([x[:, 0, 0], torch.ones(len(x))], dim=-1)
    >>> X = torch.tensor([[[2.0, 0.0], [0.0, 0.0]], [[3.0, 0.0], [0.0, 0.0]]])
    >>> masks = torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, 0.0]]])
    >>> fidelity_accuracy(model, X, masks, top_fraction=0.25, baseline="zeros", reduction="none")
    array([0., 1.])
    """
    return _fidelity(
        "accuracy", model, X, masks, top_fraction=top_fraction, baseline=baseline,
        model_layout=model_layout, output=output, reduction=reduction,
        batch_size=batch_size, device=device, target=target,
    )


@by_length
@_fill_doc
def fidelity_cross_entropy(
    model,
    X,
    masks,
    *,
    top_fraction=0.2,
    baseline="average",
    model_layout="NCT",
    output="logits",
    reduction="mean",
    batch_size=256,
    device="auto",
    target=None,
):
    """Cross-entropy of the original prediction once the top-k entries are removed.

    For each series, ``−log p_t(x_remove)``, where ``t`` is the class
    predicted on ``x`` and ``x_remove`` is ``x`` with the ``k`` entries of
    largest mask value replaced by the baseline. Higher is better. With
    ``output="proba"`` a probability of 0 is clipped to the smallest positive
    float64, so the value stays finite.

    Parameters
    ----------
{parameters}

    Returns
    -------
{returns}

    Raises
    ------
{raises}

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.metrics import fidelity_cross_entropy
    >>> def model(x):  # logits (N, 2) = (x[:, 0, 0], 0)
    ...     return torch.stack([x[:, 0, 0], torch.zeros(len(x))], dim=-1)
    >>> X = torch.tensor([[[2.0, 0.0], [0.0, 0.0]]])
    >>> masks = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])  # x[0, 0] -> 0: p_0 = 1/2
    >>> round(fidelity_cross_entropy(model, X, masks, top_fraction=0.25, baseline="zeros"), 4)  # log 2
    0.6931
    """
    return _fidelity(
        "cross_entropy", model, X, masks, top_fraction=top_fraction, baseline=baseline,
        model_layout=model_layout, output=output, reduction=reduction,
        batch_size=batch_size, device=device, target=target,
    )


@by_length
@_fill_doc
def log_odds(
    model,
    X,
    masks,
    *,
    top_fraction=0.2,
    baseline="average",
    model_layout="NCT",
    output="logits",
    reduction="mean",
    batch_size=256,
    device="auto",
    target=None,
):
    """Log-ratio of the predicted class's probability after and before removing the top-k entries.

    For each series, ``log p_t(x_remove) − log p_t(x)``, where ``t`` is the
    class predicted on ``x`` and ``x_remove`` is ``x`` with the ``k`` entries
    of largest mask value replaced by the baseline. This is the definition of
    the time-series attribution literature (``tint.metrics.log_odds``), not
    the logit ``log(p / (1 − p))``. Lower is better: it is most negative when
    removing the top entries destroys the prediction. With ``output="proba"``
    a probability of 0 is clipped to the smallest positive float64.

    Parameters
    ----------
{parameters}

    Returns
    -------
{returns}

    Raises
    ------
{raises}

    Examples
    --------
    >>> import math
    >>> import torch
    >>> from sklearn_tsmask.metrics import log_odds
    >>> def model(x):  # logits (N, 2) = (x[:, 0, 0], 0)
    ...     return torch.stack([x[:, 0, 0], torch.zeros(len(x))], dim=-1)
    >>> X = torch.tensor([[[2.0, 0.0], [0.0, 0.0]]])
    >>> masks = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])  # p_0: sigmoid(2) -> 1/2
    >>> value = log_odds(model, X, masks, top_fraction=0.25, baseline="zeros")
    >>> round(value, 4), round(math.log(0.5) - math.log(1 / (1 + math.exp(-2))), 4)
    (-0.5662, -0.5662)
    """
    return _fidelity(
        "log_odds", model, X, masks, top_fraction=top_fraction, baseline=baseline,
        model_layout=model_layout, output=output, reduction=reduction,
        batch_size=batch_size, device=device, target=target,
    )
