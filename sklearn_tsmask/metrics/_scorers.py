"""Scorers that let GridSearchCV tune an explainer against a known ground truth.

A scorer is called as ``scorer(explainer, X, y)``: it computes the masks
``explainer.transform(X)`` and compares them with ``y``, the true saliency of
the rows ``X``. Pass the true saliency as the target of the search, e.g.
``GridSearchCV(explainer, grid, scoring=SALIENCY_SCORERS, refit="aup")
.fit(X, true_saliency, model=net)``, so that cross-validation splits it along
with ``X``.
"""

from . import _ground_truth
from ._ground_truth import auprc, auroc, aup, aur, entropy, information
from .._utils import check_metric_kwargs

__all__ = [
    "make_saliency_scorer",
    "aup_scorer",
    "aur_scorer",
    "information_scorer",
    "neg_entropy_scorer",
    "auroc_scorer",
    "auprc_scorer",
    "SALIENCY_SCORERS",
]


_OWN_METRICS = (aup, aur, information, entropy, auroc, auprc)


class _SaliencyScorer:
    """Callable ``(estimator, X, y) -> float`` built by :func:`make_saliency_scorer`."""

    def __init__(self, metric, sign, kwargs):
        self._metric = metric
        self._sign = sign
        self._kwargs = kwargs

    def __call__(self, estimator, X, y=None):
        if y is None:
            raise ValueError(
                f"{self!r} needs the true saliency of X passed as y, e.g. "
                "GridSearchCV(explainer, param_grid, scoring=...).fit(X, true_saliency, model=net)."
            )
        return self._score_masks(estimator, X, y, estimator.transform(X))

    def _score_masks(self, estimator, X, y, masks):
        """The score of masks already computed for ``X``."""
        if y is None:
            raise ValueError(
                f"{self!r} needs the true saliency of X passed as y, e.g. "
                "GridSearchCV(explainer, param_grid, scoring=...).fit(X, true_saliency, model=net)."
            )
        return self._sign * self._metric(y, masks, **self._kwargs)

    def __repr__(self):
        args = [self._metric.__name__]
        if self._sign < 0:
            args.append("greater_is_better=False")
        args += [f"{k}={v!r}" for k, v in self._kwargs.items()]
        return f"make_saliency_scorer({', '.join(args)})"


def make_saliency_scorer(metric, *, greater_is_better=True, **metric_kwargs):
    """Make a scorer from a ground-truth saliency metric.

    Parameters
    ----------
    metric : callable or str
        A function ``metric(true_saliency, masks, **metric_kwargs) -> float``
        such as :func:`aup`, or the name of one of ``"aup"``, ``"aur"``,
        ``"information"``, ``"entropy"``, ``"auroc"``, ``"auprc"``. A custom
        function must be defined at module level for the scorer to pickle
        (needed by ``n_jobs > 1``).
    greater_is_better : bool, default=True
        If False the scorer returns minus the metric, following scikit-learn's
        convention that a greater score is better (``neg_`` scorers).
    **metric_kwargs
        Keyword arguments passed to the metric, e.g. ``normalize=False`` or
        ``reduction="mean"``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)`` returns the (signed) metric of
        ``estimator.transform(X)`` against the true saliency ``y``.

    Raises
    ------
    ValueError
        If the metric name is unknown or ``reduction`` is not one of the
        metric's.
    TypeError
        If ``metric`` is neither a name nor a callable, a keyword argument is
        not one of the metric's, or ``normalize`` is not a boolean.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklearn_tsmask.metrics import entropy, make_saliency_scorer
    >>> scorer = make_saliency_scorer(entropy, greater_is_better=False, reduction="mean")
    >>> scorer
    make_saliency_scorer(entropy, greater_is_better=False, reduction='mean')
    >>> explainer = FunctionTransformer(np.abs)  # masks = |X|
    >>> X = np.array([[[0.0, 0.5, 1.0, 0.0]]])
    >>> true_saliency = np.array([[[0, 1, 0, 0]]])
    >>> round(scorer(explainer, X, true_saliency), 3)  # mask 0.5: one bit of entropy
    -1.0
    """
    if isinstance(metric, str):
        if metric not in _ground_truth.__all__:
            raise ValueError(f"Unknown saliency metric {metric!r}; expected one of {_ground_truth.__all__}.")
        metric = getattr(_ground_truth, metric)
    elif not callable(metric):
        raise TypeError(f"metric must be a callable or a metric name, got {metric!r}.")
    check_metric_kwargs(metric, 2, metric_kwargs)
    if metric in _OWN_METRICS:  # refuse a bad option now, not at the first score of a search
        if "normalize" in metric_kwargs:
            _ground_truth._check_normalize(metric_kwargs["normalize"])
        if "reduction" in metric_kwargs:
            _ground_truth._check_reduction(metric_kwargs["reduction"])
    return _SaliencyScorer(metric, 1 if greater_is_better else -1, metric_kwargs)


aup_scorer = make_saliency_scorer(aup)
aur_scorer = make_saliency_scorer(aur)
information_scorer = make_saliency_scorer(information, reduction="mean")
neg_entropy_scorer = make_saliency_scorer(entropy, greater_is_better=False, reduction="mean")
auroc_scorer = make_saliency_scorer(auroc)
auprc_scorer = make_saliency_scorer(auprc)

#: Ground-truth scorers by name. Each computes its own masks: for several metrics of one search
#: use :data:`SALIENCY_SCORING` (or :func:`make_scoring`), which computes them once.
SALIENCY_SCORERS = {
    "aup": aup_scorer,
    "aur": aur_scorer,
    "information": information_scorer,
    "neg_entropy": neg_entropy_scorer,
    "auroc": auroc_scorer,
    "auprc": auprc_scorer,
}
