"""Tests of the ground-truth saliency metrics and of the GridSearchCV scorers."""

import doctest
import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.metrics import auc, precision_recall_curve
from sklearn.model_selection import GridSearchCV

from sklearn_tsmask.metrics import (
    SALIENCY_SCORERS,
    SALIENCY_SCORING,
    auprc,
    auprc_scorer,
    auroc,
    auroc_scorer,
    aup,
    aup_scorer,
    aur,
    aur_scorer,
    entropy,
    information,
    information_scorer,
    make_saliency_scorer,
    make_scoring,
    neg_entropy_scorer,
)
from sklearn_tsmask.metrics import _ground_truth, _scorers

EPS = 1e-5
ALL_METRICS = [aup, aur, information, entropy, auroc, auprc]

# One sample, one channel, four time points, used by the hand computations.
Q4 = np.array([[[0, 1, 1, 0]]])
M4 = np.array([[[0.1, 0.9, 0.6, 0.3]]])


def random_case(seed, n=5, c=3, t=8, ties=False):
    rng = np.random.default_rng(seed)
    Q = (rng.random((n, c, t)) < 0.3).astype(int)
    Q[0, 0, 0] = 1  # at least one salient entry
    Q[0, 0, 1] = 0  # and one non-salient entry
    M = rng.random((n, c, t))
    if ties:
        M = np.round(M * 4) / 4  # five distinct values only
    return Q, M


def normalized(M):
    """Per-sample normalisation written independently of the library."""
    out = np.empty_like(M, dtype=float)
    for i, m in enumerate(M):
        out[i] = (m - m.min()) / (m.max() - m.min() + EPS)
    return out


def tint_aup_aur(Q, M):
    """AUP/AUR as the reference library tint computes them with scikit-learn."""
    precision, recall, thresholds = precision_recall_curve(Q.ravel(), M.ravel())
    return auc(thresholds, precision[:-1]), auc(thresholds, recall[:-1])


# --------------------------------------------------------------------------
# Hand-computed values
# --------------------------------------------------------------------------


def test_aup_by_hand():
    # Scores ascending 0.1 (0), 0.3 (0), 0.6 (1), 0.9 (1).
    # tau=0.1: {all}        P = 2/4     tau=0.3: {.3,.6,.9} P = 2/3
    # tau=0.6: {.6,.9}      P = 1       tau=0.9: {.9}       P = 1
    # AUP = 0.2*(1/2+2/3)/2 + 0.3*(2/3+1)/2 + 0.3*(1+1)/2
    #     = 0.116667 + 0.25 + 0.3 = 0.666667
    expected = 0.2 * (0.5 + 2 / 3) / 2 + 0.3 * (2 / 3 + 1) / 2 + 0.3 * (1 + 1) / 2
    assert expected == pytest.approx(2 / 3)
    assert aup(Q4, M4, normalize=False) == pytest.approx(expected, rel=1e-12)


def test_aur_by_hand():
    # Recalls at tau = 0.1, 0.3, 0.6, 0.9: 1, 1, 1, 1/2.
    # AUR = 0.2*(1+1)/2 + 0.3*(1+1)/2 + 0.3*(1+1/2)/2 = 0.2 + 0.3 + 0.225 = 0.725
    assert aur(Q4, M4, normalize=False) == pytest.approx(0.725, rel=1e-12)


def test_information_by_hand():
    # Salient masks 0.5 and 0.75: |log2(1-0.5)| + |log2(1-0.75)| = 1 + 2 = 3 bits
    # (up to the 1e-5 inside the log).
    M = np.array([[[0.0, 0.5, 0.75, 1.0]]])
    value = information(Q4, M, normalize=False)
    assert value == pytest.approx(abs(math.log2(0.5 + EPS)) + abs(math.log2(0.25 + EPS)), rel=1e-12)
    assert value == pytest.approx(3.0, abs=1e-4)


def test_entropy_by_hand():
    # Salient masks 0.5 and 0.75:
    #   0.5:  0.5*|log2 0.5| + 0.5*|log2 0.5|    = 1
    #   0.75: 0.75*|log2 0.75| + 0.25*|log2 0.25| = 0.75*0.415037 + 0.5 = 0.811278
    # S = 1.811278 bits (up to the 1e-5 inside the logs).
    M = np.array([[[0.0, 0.5, 0.75, 1.0]]])
    value = entropy(Q4, M, normalize=False)
    exact = (
        0.5 * abs(math.log2(0.5 + EPS)) * 2
        + 0.75 * abs(math.log2(0.75 + EPS))
        + 0.25 * abs(math.log2(0.25 + EPS))
    )
    assert value == pytest.approx(exact, rel=1e-12)
    assert value == pytest.approx(1 + 0.75 * math.log2(4 / 3) + 0.5, abs=1e-4)


def test_auroc_by_hand():
    # Positives {0.9, 0.2}, negatives {0.1, 0.3}; of the 4 (pos, neg) pairs
    # 0.9>0.1, 0.9>0.3, 0.2>0.1 are ranked right and 0.2<0.3 wrong: AUC = 3/4.
    M = np.array([[[0.1, 0.9, 0.2, 0.3]]])
    assert auroc(Q4, M) == pytest.approx(0.75)
    assert auroc(Q4, M, normalize=False) == pytest.approx(0.75)


def test_auprc_by_hand():
    # Descending: 0.9 (pos) P=1 R=1/2; 0.3 (neg); 0.2 (pos) P=2/3 R=1; 0.1 (neg).
    # AP = sum (R_n - R_{n-1}) P_n = 1/2*1 + 1/2*2/3 = 5/6.
    M = np.array([[[0.1, 0.9, 0.2, 0.3]]])
    assert auprc(Q4, M) == pytest.approx(5 / 6)


def test_aup_aur_constant_masks_are_zero():
    # A single distinct score gives a single point: no area.
    M = np.full((2, 1, 4), 0.3)
    Q = np.array([[[0, 1, 1, 0]], [[1, 0, 0, 0]]])
    assert aup(Q, M) == 0.0
    assert aur(Q, M, normalize=False) == 0.0


def test_aup_without_positives_is_zero():
    # Precision is 0 at every threshold; AUP is defined (unlike AUR).
    assert aup(np.zeros_like(Q4), M4) == 0.0


# --------------------------------------------------------------------------
# Agreement with the scikit-learn formula used by tint
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("normalize", [True, False])
def test_aup_aur_match_precision_recall_curve(seed, ties, normalize):
    Q, M = random_case(seed, ties=ties)
    M_used = normalized(M) if normalize else M
    expected_aup, expected_aur = tint_aup_aur(Q, M_used)
    assert aup(Q, M, normalize=normalize) == pytest.approx(expected_aup, rel=1e-12, abs=1e-15)
    assert aur(Q, M, normalize=normalize) == pytest.approx(expected_aur, rel=1e-12, abs=1e-15)


# --------------------------------------------------------------------------
# Proposition 2.1 of Dynamask (Crabbe & van der Schaar, 2021)
#
# For all sets of entries A, B, with I_M(A) and S_M(A) the information and
# entropy of the mask M over A (here A = {true_saliency == 1}):
#   1. positivity     I_M(A) >= 0,  S_M(A) >= 0
#   2. additivity     I_M(A u B) = I_M(A) + I_M(B) - I_M(A n B)   (same for S)
#   3. monotonicity   A subset of B  =>  I_M(A) <= I_M(B) and S_M(A) <= S_M(B)
# (both grow when the set grows; neither is claimed to grow with the mask).
# --------------------------------------------------------------------------


def _subsets(seed, shape=(4, 2, 10)):
    rng = np.random.default_rng(seed)
    A = rng.random(shape) < 0.4
    B = rng.random(shape) < 0.4
    A[0, 0, :2] = B[0, 0, :2] = True  # non-empty intersection
    return A, B, rng.random(shape)


@pytest.mark.parametrize("metric", [information, entropy])
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_proposition_2_1_positivity(metric, normalize, seed):
    A, _, M = _subsets(seed)
    assert metric(A, M, normalize=normalize) >= 0
    # Also with masks far outside [0, 1] once normalised.
    assert metric(A, 100 * M - 50, normalize=True) >= 0


@pytest.mark.parametrize("metric", [information, entropy])
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_proposition_2_1_additivity(metric, normalize, seed):
    A, B, M = _subsets(seed)
    f = lambda S: metric(S, M, normalize=normalize)  # noqa: E731
    # Disjoint sets: I(A u (B \ A)) = I(A) + I(B \ A).
    assert f(A | B) == pytest.approx(f(A) + f(B & ~A), rel=1e-12)
    # General sets (inclusion-exclusion).
    assert f(A | B) == pytest.approx(f(A) + f(B) - f(A & B), rel=1e-12)
    # The whole-set sum is additive over samples too.
    assert f(A) == pytest.approx(sum(metric(A[[i]], M[[i]], normalize=normalize) for i in range(len(A))))


@pytest.mark.parametrize("metric", [information, entropy])
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_proposition_2_1_monotonicity(metric, normalize, seed):
    A, B, M = _subsets(seed)
    small, large = A & B, A | B
    assert small.sum() < large.sum()
    values = [metric(S, M, normalize=normalize) for S in (small, A, large)]
    assert values[0] <= values[1] <= values[2]
    # Adding one salient entry never decreases either metric.
    grown = A.copy()
    grown[tuple(np.argwhere(~A)[0])] = True
    assert metric(grown, M, normalize=normalize) >= metric(A, M, normalize=normalize)


def test_information_rewards_high_masks_entropy_rewards_sharp_masks():
    # The paper's example (Section 2.4): 3 coefficients at 0.9 and 7 at 0 (set A)
    # vs 10 coefficients at 0.5 (set B): similar information, very different
    # entropy. With log2 instead of ln: I(A) = 3*log2(10) ~ 9.97, I(B) = 10.
    Q = np.ones((1, 1, 10), dtype=bool)
    mA = np.array([[[0.9] * 3 + [0.0] * 7]])
    mB = np.full((1, 1, 10), 0.5)
    assert information(Q, mA, normalize=False) == pytest.approx(3 * math.log2(10), rel=1e-3)
    assert information(Q, mB, normalize=False) == pytest.approx(10, rel=1e-3)
    assert entropy(Q, mA, normalize=False) < 0.2 * entropy(Q, mB, normalize=False)


# --------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_normalize_is_per_sample_min_max(metric):
    Q, M = random_case(0)
    M = M * np.array([1.0, 10.0, 0.1, 3.0, 7.0])[:, None, None] - 2.0  # different ranges per sample
    assert metric(Q, M) == pytest.approx(metric(Q, normalized(M), normalize=False), rel=1e-12)
    # Normalisation changes the value when the samples' ranges differ (not for
    # the rank-based auroc/auprc within a sample, hence the AUP check only).
    if metric is aup:
        assert metric(Q, M) != pytest.approx(metric(Q, M, normalize=False))


def test_normalize_rescales_the_threshold_axis():
    # For one sample the normalisation is affine: tau' = (tau - 0.1) / (0.8 + 1e-5),
    # so the area over tau is divided by (0.8 + 1e-5).
    assert aup(Q4, M4) == pytest.approx(aup(Q4, M4, normalize=False) / (0.8 + EPS), rel=1e-12)
    assert aur(Q4, M4) == pytest.approx(0.725 / (0.8 + EPS), rel=1e-12)


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_2d_equals_3d_with_one_channel(metric):
    Q, M = random_case(1, c=1)
    assert metric(Q[:, 0], M[:, 0]) == metric(Q, M)
    assert metric(Q[:, 0], M) == metric(Q, M)  # mixing (N, T) and (N, 1, T) is fine


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_torch_equals_numpy(metric):
    Q, M = random_case(2)
    assert metric(torch.tensor(Q.astype(bool)), torch.tensor(M)) == metric(Q, M)
    # float32 tensors are accepted too (values are then float32-rounded)
    assert metric(torch.tensor(Q), torch.tensor(M, dtype=torch.float32)) == pytest.approx(metric(Q, M), rel=1e-5)


@pytest.mark.parametrize("metric", [information, entropy])
def test_reduction_mean_is_sum_over_n(metric):
    Q, M = random_case(3)
    assert metric(Q, M, reduction="mean") == pytest.approx(metric(Q, M, reduction="sum") / len(Q), rel=1e-12)
    with pytest.raises(ValueError, match="reduction must be 'sum' or 'mean'"):
        metric(Q, M, reduction="max")


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_shape_mismatch(metric):
    with pytest.raises(ValueError, match=r"same shape.*\(1, 1, 4\).*\(1, 2, 4\)"):
        metric(Q4, np.ones((1, 2, 4)))


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_true_saliency_must_be_binary(metric):
    with pytest.raises(ValueError, match=r"must be binary.*0\.5"):
        metric(np.array([[[0, 0.5, 1, 0]]]), M4)


@pytest.mark.parametrize("metric", [aur, information, entropy, auroc, auprc])
def test_metrics_need_a_salient_entry(metric):
    with pytest.raises(ValueError, match=f"{metric.__name__} is undefined .* no salient entry"):
        metric(np.zeros((1, 1, 4)), M4)


def test_auroc_needs_a_non_salient_entry():
    with pytest.raises(ValueError, match="every entry of true_saliency is salient"):
        auroc(np.ones((1, 1, 4)), M4)


@pytest.mark.parametrize("metric", [information, entropy])
def test_unnormalized_masks_must_be_in_unit_interval(metric):
    with pytest.raises(ValueError, match=r"normalize=False needs masks in \[0, 1\]"):
        metric(Q4, M4 * 2, normalize=False)
    # ... but any range is fine once normalised, and rank metrics do not care.
    assert np.isfinite(metric(Q4, M4 * 2))
    assert aup(Q4, M4 * 2, normalize=False) == pytest.approx(2 * aup(Q4, M4, normalize=False))


def test_invalid_values_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        aup(Q4, np.array([[[0.1, np.nan, 0.6, 0.3]]]))


def test_docstring_examples():
    for module in (_ground_truth, _scorers):
        assert doctest.testmod(module).failed == 0


# --------------------------------------------------------------------------
# Scorers
# --------------------------------------------------------------------------


class ScaledMasks(TransformerMixin, BaseEstimator):
    """Dummy explainer: masks = scale * |X| + offset."""

    def __init__(self, scale=1.0, offset=0.0):
        self.scale = scale
        self.offset = offset

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return self.scale * np.abs(X) + self.offset


def synthetic(n=12, c=2, t=10, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.random((n, c, t)) < 0.25
    y[:, 0, 0] = True
    y[:, 1, 0] = False
    X = 0.5 * rng.standard_normal((n, c, t)) + 3.0 * y
    return X, y


@pytest.mark.parametrize(
    "scorer, metric, kwargs, sign",
    [
        (aup_scorer, aup, {}, 1),
        (aur_scorer, aur, {}, 1),
        (information_scorer, information, {"reduction": "mean"}, 1),
        (neg_entropy_scorer, entropy, {"reduction": "mean"}, -1),
        (auroc_scorer, auroc, {}, 1),
        (auprc_scorer, auprc, {}, 1),
    ],
)
def test_scorers_return_the_metric(scorer, metric, kwargs, sign):
    X, y = synthetic()
    est = ScaledMasks()
    value = scorer(est, X, y)
    assert isinstance(value, float)
    assert value == sign * metric(y, np.abs(X), **kwargs)
    assert SALIENCY_SCORERS[{"entropy": "neg_entropy"}.get(metric.__name__, metric.__name__)] is scorer


def test_make_saliency_scorer_options_and_repr():
    X, y = synthetic()
    est = ScaledMasks(scale=0.1)  # masks in [0, 1) for normalize=False
    scorer = make_saliency_scorer("entropy", greater_is_better=False, normalize=False)
    assert scorer(est, X, y) == -entropy(y, 0.1 * np.abs(X), normalize=False)
    assert repr(scorer) == "make_saliency_scorer(entropy, greater_is_better=False, normalize=False)"
    assert repr(aup_scorer) == "make_saliency_scorer(aup)"
    assert repr(information_scorer) == "make_saliency_scorer(information, reduction='mean')"
    with pytest.raises(ValueError, match="Unknown saliency metric 'f1'"):
        make_saliency_scorer("f1")
    with pytest.raises(TypeError, match="callable or a metric name"):
        make_saliency_scorer(3)


def test_scorer_needs_true_saliency():
    X, _ = synthetic()
    with pytest.raises(ValueError, match=r"needs the true saliency of X passed as y.*fit\(X, true_saliency"):
        aup_scorer(ScaledMasks(), X, None)


@pytest.mark.parametrize("scorer", list(SALIENCY_SCORERS.values()) + [make_saliency_scorer(aup, normalize=False)])
def test_scorer_pickle_round_trip(scorer):
    X, y = synthetic()
    clone = pickle.loads(pickle.dumps(scorer))
    assert repr(clone) == repr(scorer)
    assert clone(ScaledMasks(), X, y) == scorer(ScaledMasks(), X, y)


def test_grid_search_picks_the_right_parameter():
    # A negative scale ranks the salient entries (large |X|) last: every
    # metric but the entropy should prefer scale=+1. The entropy measures
    # sharpness, not correctness, and is about equal for both.
    X, y = synthetic(n=12)
    search = GridSearchCV(
        ScaledMasks(),
        param_grid={"scale": [-1.0, 1.0]},
        scoring=SALIENCY_SCORERS,
        refit="aup",
        cv=2,
        error_score="raise",
    ).fit(X, y)
    assert search.best_params_ == {"scale": 1.0}
    for name in SALIENCY_SCORERS:
        scores = search.cv_results_[f"mean_test_{name}"]
        assert np.all(np.isfinite(scores))
        if name != "neg_entropy":
            assert scores[1] > scores[0], name
    assert search.best_score_ == search.cv_results_["mean_test_aup"][1]
    # the refitted explainer scores the whole set like the metric
    assert aup_scorer(search.best_estimator_, X, y) == aup(y, np.abs(X))


class CountingScaledMasks(ScaledMasks):
    """ScaledMasks that counts its transforms (each one is an optimisation for a real explainer)."""

    n_transforms = 0

    def transform(self, X):
        type(self).n_transforms += 1
        return super().transform(X)


def test_make_scoring_computes_the_masks_once_and_matches_the_single_scorers():
    X, y = synthetic()
    est = CountingScaledMasks(scale=0.5, offset=0.1)
    CountingScaledMasks.n_transforms = 0
    scores = SALIENCY_SCORING(est, X, y)
    assert CountingScaledMasks.n_transforms == 1
    assert list(scores) == list(SALIENCY_SCORERS)
    for name, scorer in SALIENCY_SCORERS.items():
        assert isinstance(scores[name], float)
        assert scores[name] == scorer(est, X, y), name
    assert CountingScaledMasks.n_transforms == 1 + len(SALIENCY_SCORERS)  # the single scorers: one each
    # names, or a dict renaming scorers
    some = make_scoring(["aur", "aup"])(est, X, y)
    assert some == {"aur": scores["aur"], "aup": scores["aup"]}
    renamed = make_scoring({"recall": "aur", "plain_aup": make_saliency_scorer(aup, normalize=False)})(est, X, y)
    assert renamed == {"recall": scores["aur"], "plain_aup": make_saliency_scorer(aup, normalize=False)(est, X, y)}
    assert repr(SALIENCY_SCORING) == "make_scoring(['aup', 'aur', 'information', 'neg_entropy', 'auroc', 'auprc'])"


def test_make_scoring_errors():
    with pytest.raises(ValueError, match="make_scoring needs at least one scorer"):
        make_scoring([])
    with pytest.raises(ValueError, match="Unknown scorer name 'f1'"):
        make_scoring(["aup", "f1"])
    expected = "'mine': expected a scorer made by make_saliency_scorer or make_fidelity_scorer"
    with pytest.raises(TypeError, match=expected):
        make_scoring({"mine": lambda est, X, y: 0.0})


def test_grid_search_with_one_scoring_object_equals_the_dict_of_scorers():
    X, y = synthetic(n=12)
    params = dict(param_grid={"scale": [-1.0, 1.0]}, refit="aup", cv=2, error_score="raise")
    CountingScaledMasks.n_transforms = 0
    one = GridSearchCV(CountingScaledMasks(), scoring=SALIENCY_SCORING, **params).fit(X, y)
    # per candidate and fold one transform of the test fold (return_train_score is off)
    assert CountingScaledMasks.n_transforms == 2 * 2
    many = GridSearchCV(CountingScaledMasks(), scoring=SALIENCY_SCORERS, **params).fit(X, y)
    assert CountingScaledMasks.n_transforms == 2 * 2 + 2 * 2 * len(SALIENCY_SCORERS)
    assert one.best_params_ == many.best_params_ == {"scale": 1.0}
    for name in SALIENCY_SCORERS:
        np.testing.assert_array_equal(one.cv_results_[f"mean_test_{name}"], many.cv_results_[f"mean_test_{name}"])
