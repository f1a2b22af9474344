"""Cumulative faithfulness metrics: entries removed (or restored) one rank at a time.

Simultaneous top-k removal lets the effects of entries cancel; these metrics
follow the model along the whole path instead (TIMING, Jang et al., ICML
2025, and the deletion/insertion curves of image saliency). For one series
``x`` with its entries ranked by mask value (largest first; ties broken by the
flattened index ``c · n_timepoints + t``, the first entry first), ``x_k`` is
``x`` with its ``k`` first-ranked entries replaced by the baseline and ``p(·)``
the class probabilities (softmax of the logits, or the model's probabilities):

=====================================  ===========================================  ======
metric                                 value                                        better
=====================================  ===========================================  ======
cumulative_prediction_difference       ``Σ_{k=1..K} ‖p(x_k) − p(x_{k−1})‖₁``        higher
cumulative_prediction_preservation     the same, the lowest-ranked entries first    lower
deletion_area                          area under ``p_t(x_k)`` over ``k / (C·T)``   lower
insertion_area                         area under ``p_t`` as the top entries are    higher
                                       restored onto the baseline series
=====================================  ===========================================  ======

``t`` is the class predicted on ``x`` (or the ``target``). For a model with an
output per time step, the values are averaged over the positions.
"""

import numbers

import numpy as np
import torch

from .._models import call_model
from .._target import resolve_target
from ..perturbations import moving_average
from ._fidelity import _BASELINES, _OUTPUTS, _REDUCTIONS, _fill_doc, _probabilities, prepare
from ._lengths import by_length

__all__ = [
    "cumulative_prediction_difference",
    "cumulative_prediction_preservation",
    "deletion_area",
    "insertion_area",
    "deletion_curve",
    "insertion_curve",
]

_PARAMETERS_DOC = """\
    model : torch.nn.Module, callable, fitted estimator or FrozenModel
        The black box, as the explainers accept it (gradient-free classifiers
        included: only their outputs are used). The fitted ``model_`` of an
        explainer is used as it is.
    X : array-like, torch.Tensor or WithInputs of shape (n_instances, n_channels, n_timepoints)
        The series (never modified); per-series model inputs come in a
        :class:`~sklearn_tsmask.WithInputs` and are never perturbed. Series of
        unequal lengths (aeon's list of 2D arrays, sktime's ``df-list`` or
        ``nested_univ``) are measured by length, the steps counted on each
        series' own ``C·T``; the mean is over all the series.
    masks : array-like or torch.Tensor of the shape of X
        Saliency masks or any attributions: only the ranking of each series'
        entries matters. For series of unequal lengths, one mask per series
        of its shape (what the explainers return for them)."""

_OPTIONS_DOC = """\
    baseline : {"zeros", "average"}, default="zeros"
        What replaces an entry: 0, or the mean over time of its channel in the
        same series.
    model_layout : {"NCT", "NTC"}, default="NCT"
        Input layout the model expects (ignored for a ``FrozenModel``).
    output : {"logits", "proba"}, default="logits"
        What the model returns on its last axis: class scores (a softmax
        makes them probabilities) or probabilities.
    reduction : {"mean", "none"}, default="mean"
        The mean over the series, or one value per series.
    batch_size : int, default=256
        Perturbed series per model call (the path of one series is split over
        calls when it is longer).
    device : {"auto", "cpu", "cuda"}, str or torch.device, default="auto"
        Where a model that is not a ``FrozenModel`` is evaluated."""

_REDUCTION_DOC = """
    reduction : {"mean", "none"}, default="mean"
        The mean over the series, or one value per series."""

_TARGET_DOC = """\
    target : int, label, tuple, array-like or None, default=None
        The class scored, as the explainers' ``target``; ``None``: the class
        predicted on each unperturbed series."""

_RETURNS_DOC = """\
    score : float or ndarray of shape (n_instances,)
        The mean over the series, or the per-series values with
        ``reduction="none"``."""


def _fill(func):
    func.__doc__ = (func.__doc__ or "").replace("{parameters}", _PARAMETERS_DOC).replace("{options}", _OPTIONS_DOC)
    func.__doc__ = func.__doc__.replace("{curve_options}", _OPTIONS_DOC.replace(_REDUCTION_DOC, ""))
    func.__doc__ = func.__doc__.replace("{target}", _TARGET_DOC)
    func.__doc__ = func.__doc__.replace("{returns}", _RETURNS_DOC)
    return _fill_doc(func)


def check_steps(n_steps, n_entries):
    """The number of removal steps: an int in [1, C·T], a fraction of C·T in (0, 1], or None for min(50, C·T)."""
    if n_steps is None:
        return min(50, n_entries)
    if isinstance(n_steps, (bool, np.bool_)) or not isinstance(n_steps, numbers.Real):
        raise TypeError(f"n_steps must be an int or a fraction of the entries, got {n_steps!r}.")
    if isinstance(n_steps, numbers.Integral):
        k = int(n_steps)
    elif 0 < n_steps <= 1:
        k = int(round(float(n_steps) * n_entries))
    else:
        raise ValueError(f"n_steps given as a fraction of the entries must be in (0, 1], got {n_steps!r}.")
    if not 1 <= k <= n_entries:
        raise ValueError(
            f"n_steps={n_steps!r} asks for {k} removal steps, but a series has {n_entries} entries "
            f"(n_channels · n_timepoints): use 1 to {n_entries} steps or a fraction in (0, 1]."
        )
    return k


def check_cumulative_options(baseline, output, reduction, batch_size):
    for name, value, allowed in (("baseline", baseline, _BASELINES), ("output", output, _OUTPUTS),
                                 ("reduction", reduction, _REDUCTIONS)):
        if not isinstance(value, str) or value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}.")
    if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")


def _path_probabilities(model, X, masks, counts, *, lowest_first, insertion, baseline, model_layout, output,
                        batch_size, device):
    """Class probabilities along the removal path: (n, len(counts), P, K) float64, and the model."""
    frozen, x, m, kwargs = prepare(model, X, masks, model_layout=model_layout, device=device)
    n, C, T = x.shape
    counts = counts(C * T) if callable(counts) else counts
    L = len(counts)
    per_call = max(1, batch_size // L)  # series whose whole path fits in one call
    k = torch.as_tensor(counts, dtype=torch.long)
    out = []
    with torch.no_grad(), frozen.context():
        for start in range(0, n, per_call):
            rows = slice(start, start + per_call)
            xb, b = x[rows], x[rows].shape[0]
            flat = m[rows].reshape(b, -1)
            # rank of each entry: 0 for the first removed (largest mask, or smallest), first flat index among ties
            order = torch.sort(flat, dim=1, descending=not lowest_first, stable=True).indices
            rank = torch.empty_like(order)
            rank.scatter_(1, order, torch.arange(C * T).expand(b, -1))
            selected = (rank[:, None, :] < k[None, :, None]).reshape(b, L, C, T).to(frozen.device)
            base = moving_average(xb) if baseline == "average" else torch.zeros_like(xb)
            xs, bs = xb[:, None], base[:, None]
            path = torch.where(selected, xs, bs) if insertion else torch.where(selected, bs, xs)
            path = path.reshape(b * L, C, T)
            kw = {name: v[rows].repeat_interleave(L, dim=0) for name, v in kwargs.items()}
            probs = []
            for s in range(0, b * L, batch_size):
                part = slice(s, s + batch_size)
                chunk = path[part]
                p, _ = _probabilities(call_model(frozen, chunk, {nm: v[part] for nm, v in kw.items()}),
                                      chunk.shape[0], output)
                probs.append(p)
            probs = torch.cat(probs)
            out.append(probs.reshape(b, L, *probs.shape[1:]))
    return torch.cat(out), frozen, n


def _reduce(values, reduction):
    values = values.cpu().numpy()
    return values if reduction == "none" else float(values.mean())


def _cumulative(model, X, masks, n_steps, lowest_first, **options):
    check_cumulative_options(options["baseline"], options["output"], options["reduction"], options["batch_size"])
    reduction = options.pop("reduction")

    def counts(n_entries):
        return list(range(check_steps(n_steps, n_entries) + 1))

    probs, _, _ = _path_probabilities(model, X, masks, counts, lowest_first=lowest_first, insertion=False,
                                      **options)
    jumps = (probs[:, 1:] - probs[:, :-1]).abs().sum(-1)  # (n, K, P): L1 over the classes
    return _reduce(jumps.sum(1).mean(-1), reduction)


def _curve(model, X, masks, n_steps, insertion, target, **options):
    """The fractions (L,) and each series' curve of the scored class's probability (n, L), float64 tensors."""
    check_cumulative_options(options["baseline"], options["output"], "mean", options["batch_size"])
    if isinstance(n_steps, (bool, np.bool_)) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive number of points on the curve, got {n_steps!r}.")
    fractions = np.linspace(0.0, 1.0, int(n_steps) + 1)

    def counts(n_entries):
        # the class scored is the one predicted on x itself: the full series goes first on the path
        return [n_entries if insertion else 0] + [int(round(f * n_entries)) for f in fractions]

    probs, frozen, n = _path_probabilities(model, X, masks, counts, lowest_first=False, insertion=insertion,
                                           **options)
    reference, curve = probs[:, 0], probs[:, 1:]  # (n, P, K), (n, L, P, K)
    if target is None:
        chosen = reference.argmax(-1)  # (n, P)
    else:
        output_shape = (reference.shape[-1],) if reference.shape[1] == 1 else tuple(reference.shape[1:])
        classes, steps = resolve_target(target, n, output_shape, frozen.classes)
        if steps is not None:
            curve = curve[torch.arange(n), :, steps][:, :, None]  # (n, L, 1, K)
        chosen = classes[:, None].expand(n, curve.shape[2])
    index = chosen[:, None, :, None].expand(n, curve.shape[1], curve.shape[2], 1)
    p = curve.gather(-1, index).squeeze(-1).mean(-1)  # (n, L): averaged over the positions
    return torch.as_tensor(fractions, dtype=p.dtype), p


def _area(model, X, masks, n_steps, insertion, target, *, reduction, **options):
    check_cumulative_options(options["baseline"], options["output"], reduction, options["batch_size"])
    fractions, p = _curve(model, X, masks, n_steps, insertion, target, **options)
    return _reduce(((p[:, 1:] + p[:, :-1]) / 2 * torch.diff(fractions)).sum(1), reduction)


@by_length
@_fill
def deletion_curve(model, X, masks, *, n_steps=20, baseline="zeros", model_layout="NCT", output="logits",
                   batch_size=256, device="auto", target=None):
    """The deletion curve of each series: the scored class's probability as the top entries are removed.

    The points of :func:`deletion_area`, to draw or to compare.

    Parameters
    ----------
{parameters}
    n_steps : int, default=20
        Intervals of the curve (``n_steps + 1`` model evaluations per series).
{curve_options}
{target}

    Returns
    -------
    fractions : ndarray of shape (n_steps + 1,)
        The fraction of each series' entries removed, from 0 to 1.
    probabilities : ndarray of shape (n_instances, n_steps + 1)
        The scored class's probability at each fraction, per series.

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.metrics import deletion_curve
    >>> def model(x):
    ...     return torch.stack([x[:, 0, 0], torch.zeros(len(x))], dim=-1)
    >>> fractions, p = deletion_curve(model, torch.tensor([[[4.0, 0.0]]]), torch.tensor([[[1.0, 0.0]]]), n_steps=2)
    >>> fractions.tolist(), p.round(3).tolist()
    ([0.0, 0.5, 1.0], [[0.982, 0.5, 0.5]])
    """
    fractions, p = _curve(model, X, masks, n_steps, False, target, baseline=baseline, model_layout=model_layout,
                          output=output, batch_size=batch_size, device=device)
    return fractions.numpy(), p.cpu().numpy()


@by_length
@_fill
def insertion_curve(model, X, masks, *, n_steps=20, baseline="zeros", model_layout="NCT", output="logits",
                    batch_size=256, device="auto", target=None):
    """The insertion curve of each series: the scored class's probability as the top entries are restored.

    The points of :func:`insertion_area`, to draw or to compare.

    Parameters
    ----------
{parameters}
    n_steps : int, default=20
        Intervals of the curve (``n_steps + 1`` model evaluations per series).
{curve_options}
{target}

    Returns
    -------
    fractions : ndarray of shape (n_steps + 1,)
        The fraction of each series' entries restored onto the baseline, from 0 to 1.
    probabilities : ndarray of shape (n_instances, n_steps + 1)
        The scored class's probability at each fraction, per series.

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.metrics import insertion_curve
    >>> def model(x):
    ...     return torch.stack([x[:, 0, 0], torch.zeros(len(x))], dim=-1)
    >>> fractions, p = insertion_curve(model, torch.tensor([[[4.0, 0.0]]]), torch.tensor([[[1.0, 0.0]]]), n_steps=2)
    >>> p.round(3).tolist()
    [[0.5, 0.982, 0.982]]
    """
    fractions, p = _curve(model, X, masks, n_steps, True, target, baseline=baseline, model_layout=model_layout,
                          output=output, batch_size=batch_size, device=device)
    return fractions.numpy(), p.cpu().numpy()


@by_length
@_fill
def cumulative_prediction_difference(model, X, masks, *, n_steps=None, baseline="zeros", model_layout="NCT",
                                     output="logits", reduction="mean", batch_size=256, device="auto"):
    """Cumulative prediction difference (CPD): how much the prediction moves as the top entries go.

    The ``K`` highest-ranked entries of each series are replaced by the
    baseline one at a time; CPD sums the L1 change of the class
    probabilities at each step, ``Σ_{k=1..K} ‖p(x_k) − p(x_{k−1})‖₁``
    (TIMING, Jang et al., ICML 2025). Higher is better: a faithful mask
    ranks first the entries whose removal moves the prediction. Unlike
    top-k removal, effects that cancel at the end still count.

    Parameters
    ----------
{parameters}
    n_steps : int, float or None, default=None
        ``K``: entries removed, one per step (an int from 1 to C·T), or a
        fraction of the C·T entries in (0, 1]; ``None``: 50 (as in the TIMING
        paper), or all the entries of shorter series. Costs ``K + 1`` model
        evaluations per series.
{options}

    Returns
    -------
{returns}

    See Also
    --------
    cumulative_prediction_preservation : The same from the lowest-ranked entries.

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.metrics import cumulative_prediction_difference
    >>> def model(x):  # logits (x[0, 0] + x[0, 1], 0)
    ...     return torch.stack([x[:, 0, 0] + x[:, 0, 1], torch.zeros(len(x))], dim=-1)
    >>> X = torch.tensor([[[1.0, 1.0, 5.0]]])
    >>> masks = torch.tensor([[[0.9, 0.8, 0.1]]])  # ranks x[0, 0], then x[0, 1], first
    >>> round(cumulative_prediction_difference(model, X, masks, n_steps=2), 4)  # 2|σ(2) − 1/2|
    0.7616
    """
    return _cumulative(model, X, masks, n_steps, False, baseline=baseline, model_layout=model_layout,
                       output=output, reduction=reduction, batch_size=batch_size, device=device)


@by_length
@_fill
def cumulative_prediction_preservation(model, X, masks, *, n_steps=None, baseline="zeros", model_layout="NCT",
                                       output="logits", reduction="mean", batch_size=256, device="auto"):
    """Cumulative prediction preservation (CPP): how much the prediction moves as the lowest entries go.

    As :func:`cumulative_prediction_difference`, removing the lowest-ranked
    entries first. Lower is better: the entries a faithful mask ranks last
    do not matter to the model.

    Parameters
    ----------
{parameters}
    n_steps : int, float or None, default=None
        ``K``: entries removed, one per step (an int from 1 to C·T), or a
        fraction of the C·T entries in (0, 1]; ``None``: 50, or all the
        entries of shorter series.
{options}

    Returns
    -------
{returns}

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.metrics import cumulative_prediction_preservation
    >>> def model(x):
    ...     return torch.stack([x[:, 0, 0] + x[:, 0, 1], torch.zeros(len(x))], dim=-1)
    >>> X = torch.tensor([[[1.0, 1.0, 5.0]]])
    >>> masks = torch.tensor([[[0.9, 0.8, 0.1]]])  # x[0, 2], which the model ignores, goes first
    >>> cumulative_prediction_preservation(model, X, masks, n_steps=1)
    0.0
    """
    return _cumulative(model, X, masks, n_steps, True, baseline=baseline, model_layout=model_layout,
                       output=output, reduction=reduction, batch_size=batch_size, device=device)


@by_length
@_fill
def deletion_area(model, X, masks, *, n_steps=20, baseline="zeros", model_layout="NCT", output="logits",
                  reduction="mean", batch_size=256, device="auto", target=None):
    """Area under the deletion curve: the predicted class's probability as the top entries are removed.

    The curve is ``p_t(x_k)`` at ``k = round(f · C · T)`` for ``n_steps + 1``
    fractions ``f`` from 0 to 1, where ``x_k`` has its ``k`` highest-ranked
    entries replaced by the baseline; its area (trapezoids over ``f``) is in
    [0, 1]. Lower is better: the probability falls fast when a faithful
    mask's first entries go.

    Parameters
    ----------
{parameters}
    n_steps : int, default=20
        Intervals of the curve (``n_steps + 1`` model evaluations per series).
{options}
    target : int, label, tuple, array-like or None, default=None
        The class scored, as the explainers' ``target``; ``None``: the class
        predicted on each unperturbed series.

    Returns
    -------
{returns}

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.metrics import deletion_area
    >>> def model(x):  # logits (x[0, 0], 0)
    ...     return torch.stack([x[:, 0, 0], torch.zeros(len(x))], dim=-1)
    >>> X = torch.tensor([[[4.0, 0.0]]])
    >>> good = torch.tensor([[[1.0, 0.0]]])  # x[0, 0] first: p_0 = σ(4), then 1/2, 1/2
    >>> round(deletion_area(model, X, good, n_steps=2), 4)  # (σ(4) + 1/2) / 4 + (1/2 + 1/2) / 4
    0.6205
    """
    return _area(model, X, masks, n_steps, False, target, baseline=baseline, model_layout=model_layout,
                 output=output, reduction=reduction, batch_size=batch_size, device=device)


@by_length
@_fill
def insertion_area(model, X, masks, *, n_steps=20, baseline="zeros", model_layout="NCT", output="logits",
                   reduction="mean", batch_size=256, device="auto", target=None):
    """Area under the insertion curve: the predicted class's probability as the top entries are restored.

    Starting from the baseline series, the ``k = round(f · C · T)``
    highest-ranked entries are given back their values, for ``n_steps + 1``
    fractions ``f`` from 0 to 1; the class is the one predicted on the full
    series. Higher is better: a faithful mask's first entries bring the
    prediction back fast.

    Parameters
    ----------
{parameters}
    n_steps : int, default=20
        Intervals of the curve (``n_steps + 1`` model evaluations per series).
{options}
    target : int, label, tuple, array-like or None, default=None
        The class scored, as the explainers' ``target``; ``None``: the class
        predicted on each unperturbed series.

    Returns
    -------
{returns}

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.metrics import insertion_area
    >>> def model(x):
    ...     return torch.stack([x[:, 0, 0], torch.zeros(len(x))], dim=-1)
    >>> X = torch.tensor([[[4.0, 0.0]]])
    >>> good = torch.tensor([[[1.0, 0.0]]])  # x[0, 0] back first: p_0 = 1/2, then σ(4), σ(4)
    >>> round(insertion_area(model, X, good, n_steps=2), 4)  # (1/2 + σ(4)) / 4 + σ(4) / 2
    0.8615
    """
    return _area(model, X, masks, n_steps, True, target, baseline=baseline, model_layout=model_layout,
                 output=output, reduction=reduction, batch_size=batch_size, device=device)
