"""One scoring object for several metrics: the masks are computed once per evaluation.

``GridSearchCV`` calls each scorer of a dict separately, and each of ours
calls ``explainer.transform(X)``, which optimises the masks: a dict of four
scorers optimises the masks of every test fold four times. A
:class:`MaskScoring` is one callable that optimises them once and returns
every metric in a dict, which scikit-learn takes as multi-metric scoring
(``GridSearchCV(explainer, grid, scoring=SALIENCY_SCORING, refit="aup")``).
"""

from ._fidelity_scorers import CUMULATIVE_SCORERS, FIDELITY_SCORERS, _FidelityScorer
from ._scorers import SALIENCY_SCORERS, _SaliencyScorer

__all__ = ["MaskScoring", "make_scoring", "SALIENCY_SCORING", "FIDELITY_SCORING"]

_NAMED = {**SALIENCY_SCORERS, **FIDELITY_SCORERS, **CUMULATIVE_SCORERS}


class MaskScoring:
    """Several mask scores from one ``transform``: a callable ``(explainer, X, y=None) -> dict``.

    Built by :func:`make_scoring`.

    Parameters
    ----------
    scorers : dict of str to scorer
        Scorers of this package (from :func:`make_saliency_scorer` or
        :func:`make_fidelity_scorer`), by the name the search reports.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV, KFold
    >>> from sklearn_tsmask import DynaMask
    >>> from sklearn_tsmask.datasets import make_rare_time
    >>> from sklearn_tsmask.metrics import SALIENCY_SCORING
    >>> X, true_saliency, white_box = make_rare_time(
    ...     n_samples=6, n_timepoints=10, n_channels=8, salient_window=(2, 6), random_state=0)
    >>> search = GridSearchCV(DynaMask(max_iter=100, random_state=0), {"area": [0.05, 0.25]},
    ...                       scoring=SALIENCY_SCORING, refit="aur", cv=KFold(3))
    >>> search.fit(X, true_saliency, model=white_box).best_params_  # 20 of 80 entries are salient
    {'area': 0.25}
    >>> sorted(k for k in search.cv_results_ if k.startswith("mean_test"))[:3]
    ['mean_test_aup', 'mean_test_auprc', 'mean_test_aur']
    """

    def __init__(self, scorers):
        self.scorers = dict(scorers)

    def __call__(self, estimator, X, y=None):
        masks = estimator.transform(X)
        return {name: float(scorer._score_masks(estimator, X, y, masks)) for name, scorer in self.scorers.items()}

    def __repr__(self):
        return f"make_scoring({list(self.scorers)})"


def make_scoring(scorers):
    """Make one scoring callable that computes the masks once and returns several metrics.

    Parameters
    ----------
    scorers : list of str or dict of str to scorer
        Names among ``"aup"``, ``"aur"``, ``"information"``,
        ``"neg_entropy"``, ``"auroc"``, ``"auprc"`` (ground truth: the
        search's ``y`` is the true saliency) and ``"comprehensiveness"``,
        ``"neg_sufficiency"``, ``"neg_fidelity_accuracy"``,
        ``"fidelity_cross_entropy"``, ``"neg_log_odds"``, ``"cpd"``,
        ``"neg_cpp"``, ``"neg_deletion_area"``, ``"insertion_area"`` (no
        ground truth),
        or a dict from the names to report to scorers made by
        :func:`make_saliency_scorer` / :func:`make_fidelity_scorer` (or to
        those names).

    Returns
    -------
    scoring : MaskScoring
        ``scoring(explainer, X, y=None)`` returns ``{name: score}`` from one
        ``explainer.transform(X)``. Pass it as ``scoring=`` of
        ``GridSearchCV``, ``RandomizedSearchCV`` or ``cross_validate``, with
        ``refit=`` one of the names.

    Raises
    ------
    ValueError
        If a name is unknown or no scorer is given.
    TypeError
        If ``scorers`` is neither a list nor a dict, or a value is not a
        scorer of this package.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklearn_tsmask.metrics import make_scoring
    >>> scoring = make_scoring(["aup", "aur"])
    >>> scoring
    make_scoring(['aup', 'aur'])
    >>> explainer = FunctionTransformer(np.abs)  # masks = |X|
    >>> X = np.array([[[0.0, 0.9, 0.1, 0.0]]])
    >>> true_saliency = np.array([[[0, 1, 0, 0]]])
    >>> {k: round(v, 3) for k, v in scoring(explainer, X, true_saliency).items()}
    {'aup': 0.708, 'aur': 1.0}
    """
    if isinstance(scorers, str):
        scorers = [scorers]
    if not isinstance(scorers, dict):
        if not isinstance(scorers, (list, tuple)):
            raise TypeError(
                f"scorers must be a list of scorer names or a dict of names to scorers, got {type(scorers).__name__}."
            )
        scorers = {name: name for name in scorers}
    if not scorers:
        raise ValueError("make_scoring needs at least one scorer.")
    resolved = {}
    for name, scorer in scorers.items():
        if isinstance(scorer, str):
            if scorer not in _NAMED:
                raise ValueError(f"Unknown scorer name {scorer!r}; expected one of {sorted(_NAMED)}.")
            scorer = _NAMED[scorer]
        if not isinstance(scorer, (_SaliencyScorer, _FidelityScorer)):
            raise TypeError(
                f"{name!r}: expected a scorer made by make_saliency_scorer or make_fidelity_scorer, or a scorer "
                f"name; got {type(scorer).__name__} (a scorer that computes its own masks cannot share them)."
            )
        resolved[str(name)] = scorer
    return MaskScoring(resolved)


#: Every ground-truth metric from one ``transform``:
#: ``GridSearchCV(explainer, grid, scoring=SALIENCY_SCORING, refit="aup").fit(X, true_saliency, model=net)``.
SALIENCY_SCORING = make_scoring(list(SALIENCY_SCORERS))
#: Every fidelity metric (no ground truth) from one ``transform``:
#: ``GridSearchCV(explainer, grid, scoring=FIDELITY_SCORING, refit="comprehensiveness").fit(X, model=net)``.
FIDELITY_SCORING = make_scoring(list(FIDELITY_SCORERS))
