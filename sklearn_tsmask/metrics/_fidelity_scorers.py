"""Scorers that let GridSearchCV tune an explainer without ground truth.

A fidelity scorer is called as ``scorer(explainer, X, y=None)``: it computes
the masks ``explainer.transform(X)`` and measures with a fidelity metric how
much the explainer's own black box (its fitted ``model_``) depends on the
entries the masks rank first. ``y`` is ignored, so a search runs on real data
without true saliency, e.g. ``GridSearchCV(explainer, grid,
scoring=FIDELITY_SCORERS, refit="comprehensiveness").fit(X, model=net)``.
"""

import inspect

from .._models import _LAYOUTS
from .._utils import check_metric_kwargs
from ._cumulative import (
    check_cumulative_options,
    cumulative_prediction_difference,
    cumulative_prediction_preservation,
    deletion_area,
    insertion_area,
)
from ._fidelity import _check_options, comprehensiveness, fidelity_accuracy, fidelity_cross_entropy, log_odds, sufficiency

__all__ = [
    "make_fidelity_scorer",
    "comprehensiveness_scorer",
    "neg_sufficiency_scorer",
    "neg_fidelity_accuracy_scorer",
    "fidelity_cross_entropy_scorer",
    "neg_log_odds_scorer",
    "FIDELITY_SCORERS",
    "cpd_scorer",
    "neg_cpp_scorer",
    "neg_deletion_area_scorer",
    "insertion_area_scorer",
    "CUMULATIVE_SCORERS",
]

#: Metric names (and the functions' own names) -> metric function.
_METRICS = {
    "comprehensiveness": comprehensiveness,
    "sufficiency": sufficiency,
    "accuracy": fidelity_accuracy,
    "fidelity_accuracy": fidelity_accuracy,
    "cross_entropy": fidelity_cross_entropy,
    "fidelity_cross_entropy": fidelity_cross_entropy,
    "log_odds": log_odds,
    "cpd": cumulative_prediction_difference,
    "cumulative_prediction_difference": cumulative_prediction_difference,
    "cpp": cumulative_prediction_preservation,
    "cumulative_prediction_preservation": cumulative_prediction_preservation,
    "deletion_area": deletion_area,
    "insertion_area": insertion_area,
}

#: Whether a greater value of the library's metrics is better.
_GREATER_IS_BETTER = {
    comprehensiveness: True,
    sufficiency: False,
    fidelity_accuracy: False,
    fidelity_cross_entropy: True,
    log_odds: False,
    cumulative_prediction_difference: True,
    cumulative_prediction_preservation: False,
    deletion_area: False,
    insertion_area: True,
}

_CUMULATIVE = (cumulative_prediction_difference, cumulative_prediction_preservation, deletion_area, insertion_area)


def _parameters(metric):
    try:
        return inspect.signature(metric).parameters
    except (TypeError, ValueError):
        return {}


class _FidelityScorer:
    """Callable ``(estimator, X, y=None) -> float`` built by :func:`make_fidelity_scorer`."""

    def __init__(self, metric, sign, kwargs):
        self._metric = metric
        self._sign = sign
        self._kwargs = kwargs

    def __call__(self, estimator, X, y=None):
        masks = estimator.transform(X)  # NotFittedError for an unfitted explainer
        return self._score_masks(estimator, X, y, masks)

    def _score_masks(self, estimator, X, y, masks):
        """The score of masks already computed for ``X``."""
        model = getattr(estimator, "model_", None)
        if model is None:
            raise TypeError(
                f"{self!r} needs a fitted mask explainer, with the black box in its model_ attribute; "
                f"{type(estimator).__name__} has no model_."
            )
        kwargs = dict(self._kwargs)
        if ("target" not in kwargs and getattr(estimator, "target", None) is not None
                and "target" in _parameters(self._metric)):
            kwargs["target"] = estimator.target  # score the output the masks explain
        return self._sign * self._metric(model, X, masks, **kwargs)

    def __repr__(self):
        args = [self._metric.__name__]
        default_sign = 1 if _GREATER_IS_BETTER.get(self._metric, True) else -1
        if self._sign != default_sign:
            args.append(f"greater_is_better={self._sign > 0}")
        args += [f"{k}={v!r}" for k, v in self._kwargs.items()]
        return f"make_fidelity_scorer({', '.join(args)})"


def make_fidelity_scorer(metric, *, greater_is_better=None, **metric_kwargs):
    """Make a scorer, needing no ground truth, from a fidelity metric.

    Parameters
    ----------
    metric : str or callable
        One of ``"comprehensiveness"``, ``"sufficiency"``, ``"accuracy"``,
        ``"cross_entropy"``, ``"log_odds"``, ``"cpd"``, ``"cpp"``,
        ``"deletion_area"``, ``"insertion_area"`` (or the function's own name,
        such as ``"fidelity_accuracy"``), or a function
        ``metric(model, X, masks, **metric_kwargs) -> float`` such as
        :func:`comprehensiveness`. A custom function must be defined at
        module level for the scorer to pickle (needed by ``n_jobs > 1``).
    greater_is_better : bool or None, default=None
        If False the scorer returns minus the metric, following scikit-learn's
        convention that a greater score is better (``neg_`` scorers).
        ``None`` takes the metric's own direction: greater is better for
        comprehensiveness, cross-entropy, CPD and the insertion area, lower
        for sufficiency, accuracy, log-odds, CPP and the deletion area; True
        for a custom function.
    **metric_kwargs
        Keyword arguments of the metric, such as ``top_fraction=0.1`` or
        ``baseline="zeros"``. ``reduction`` must stay ``"mean"``: a scorer
        returns one number.

    Returns
    -------
    scorer : callable
        ``scorer(explainer, X, y=None)`` returns the (signed) metric of the
        masks ``explainer.transform(X)`` for the explainer's fitted black box
        ``explainer.model_``; ``y`` is ignored.

    Raises
    ------
    ValueError
        If the metric name is unknown, ``reduction`` is not ``"mean"`` or
        another option of the library's metric is out of its range.
    TypeError
        If ``metric`` is neither a name nor a callable, or a keyword argument
        is not one of the metric's.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_tsmask import DynaMask
    >>> from sklearn_tsmask.metrics import make_fidelity_scorer
    >>> scorer = make_fidelity_scorer("sufficiency", top_fraction=0.25, baseline="zeros")
    >>> scorer
    make_fidelity_scorer(sufficiency, top_fraction=0.25, baseline='zeros')
    >>> def model(x):  # logits (N, 2) = (x[:, 0, 0], 0): only x[0, 0] matters
    ...     return torch.stack([x[:, 0, 0], torch.zeros(len(x))], dim=-1)
    >>> X = np.random.RandomState(0).randn(4, 2, 2) + 2.0
    >>> explainer = DynaMask(area=0.25, max_iter=50, perturbation="fade_reference", device="cpu",
    ...                      random_state=0).fit(X, model)
    >>> explainer.transform(X)[:, 0, 0].round(2)  # the masks find x[0, 0]
    array([1., 1., 1., 1.])
    >>> scorer(explainer, X) == 0.0  # minus the sufficiency: keeping x[0, 0] keeps the prediction
    True
    >>> removal = make_fidelity_scorer("comprehensiveness", top_fraction=0.25, baseline="zeros")
    >>> round(removal(explainer, X), 3)  # removing x[0, 0]: p_0 falls from sigmoid(x[0, 0]) to 1/2
    0.442
    """
    if isinstance(metric, str):
        if metric not in _METRICS:
            raise ValueError(
                f"Unknown fidelity metric {metric!r}; expected one of "
                f"{['comprehensiveness', 'sufficiency', 'accuracy', 'cross_entropy', 'log_odds', 'cpd', 'cpp', 'deletion_area', 'insertion_area']} "
                "or a metric function."
            )
        metric = _METRICS[metric]
    elif not callable(metric):
        raise TypeError(f"metric must be a callable or a metric name, got {metric!r}.")
    if metric_kwargs.get("reduction", "mean") != "mean":
        raise ValueError(
            f"A scorer returns one number: reduction must be 'mean', got {metric_kwargs['reduction']!r}."
        )
    bound = check_metric_kwargs(metric, 3, metric_kwargs)
    if metric in _GREATER_IS_BETTER:  # refuse a bad option now, not at the first score of a search
        options = bound.arguments
        if metric in _CUMULATIVE:
            check_cumulative_options(options["baseline"], options["output"], "mean", options["batch_size"])
        else:
            _check_options(options["top_fraction"], options["baseline"], options["output"], "mean",
                           options["batch_size"])
        if options["model_layout"] not in _LAYOUTS:
            raise ValueError(f"model_layout must be one of {_LAYOUTS}, got {options['model_layout']!r}.")
    if greater_is_better is None:
        greater_is_better = _GREATER_IS_BETTER.get(metric, True)
    return _FidelityScorer(metric, 1 if greater_is_better else -1, metric_kwargs)


comprehensiveness_scorer = make_fidelity_scorer(comprehensiveness)
neg_sufficiency_scorer = make_fidelity_scorer(sufficiency)
neg_fidelity_accuracy_scorer = make_fidelity_scorer(fidelity_accuracy)
fidelity_cross_entropy_scorer = make_fidelity_scorer(fidelity_cross_entropy)
neg_log_odds_scorer = make_fidelity_scorer(log_odds)

#: Scorers without ground truth by name. Each computes its own masks: for several metrics of one
#: search use :data:`FIDELITY_SCORING` (or :func:`make_scoring`), which computes them once.
FIDELITY_SCORERS = {
    "comprehensiveness": comprehensiveness_scorer,
    "neg_sufficiency": neg_sufficiency_scorer,
    "neg_fidelity_accuracy": neg_fidelity_accuracy_scorer,
    "fidelity_cross_entropy": fidelity_cross_entropy_scorer,
    "neg_log_odds": neg_log_odds_scorer,
}

cpd_scorer = make_fidelity_scorer(cumulative_prediction_difference)
neg_cpp_scorer = make_fidelity_scorer(cumulative_prediction_preservation)
neg_deletion_area_scorer = make_fidelity_scorer(deletion_area)
insertion_area_scorer = make_fidelity_scorer(insertion_area)

#: Cumulative scorers without ground truth by name (K + 1 model evaluations per series each: costlier than
#: the top-k ones, so not in FIDELITY_SCORING; ``make_scoring(list(CUMULATIVE_SCORERS))`` shares the masks).
CUMULATIVE_SCORERS = {
    "cpd": cpd_scorer,
    "neg_cpp": neg_cpp_scorer,
    "neg_deletion_area": neg_deletion_area_scorer,
    "insertion_area": insertion_area_scorer,
}
