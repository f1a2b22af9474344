"""Cumulative faithfulness metrics (CPD, CPP, deletion and insertion areas) against hand-computed values,
for torch and gradient-free models, per-step outputs, targets, and as scorers in a search."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_tsmask import DynaMask
from sklearn_tsmask.metrics import (
    CUMULATIVE_SCORERS,
    cumulative_prediction_difference,
    cumulative_prediction_preservation,
    deletion_area,
    deletion_curve,
    insertion_area,
    insertion_curve,
    make_fidelity_scorer,
    make_scoring,
)
from conftest import flat_pipeline, make_window_classes


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sum_of_first_two(x):
    """Logits (x[0, 0] + x[0, 1], 0): only the first two entries of channel 0 matter."""
    return torch.stack([x[:, 0, 0] + x[:, 0, 1], torch.zeros(len(x), dtype=x.dtype)], dim=-1)


X = np.array([[[1.0, 2.0, 5.0]], [[-1.0, 0.5, 3.0]]])
GOOD = np.array([[[0.9, 0.8, 0.1]], [[0.9, 0.8, 0.1]]])  # the two entries the model reads first
BAD = GOOD[:, :, ::-1].copy()  # the ignored entry first


def test_cpd_sums_the_l1_moves_of_the_probabilities():
    # series 0: logits 3 -> 2 -> 0; series 1: -0.5 -> 0.5 -> 0; a binary move of p_0 by d is an L1 move of 2|d|
    expected = np.array([
        2 * abs(sigmoid(3) - sigmoid(2)) + 2 * abs(sigmoid(2) - 0.5),
        2 * abs(sigmoid(-0.5) - sigmoid(0.5)) + 2 * abs(sigmoid(0.5) - 0.5),
    ])
    values = cumulative_prediction_difference(sum_of_first_two, X, GOOD, n_steps=2, reduction="none")
    np.testing.assert_allclose(values, expected, rtol=1e-6)
    assert cumulative_prediction_difference(sum_of_first_two, X, GOOD, n_steps=2) == pytest.approx(expected.mean())
    # the ignored entry removed first moves nothing
    assert cumulative_prediction_difference(sum_of_first_two, X, BAD, n_steps=1) == 0.0
    # None: min(50, C·T) = every entry; n_steps as a fraction of the C·T = 3 entries
    assert cumulative_prediction_difference(sum_of_first_two, X, GOOD) == pytest.approx(expected.mean())
    assert cumulative_prediction_difference(sum_of_first_two, X, GOOD, n_steps=2 / 3) == pytest.approx(expected.mean())


def test_cpp_starts_from_the_lowest_ranked_entries():
    assert cumulative_prediction_preservation(sum_of_first_two, X, GOOD, n_steps=1) == 0.0
    bad = cumulative_prediction_preservation(sum_of_first_two, X, BAD, n_steps=1, reduction="none")
    np.testing.assert_allclose(bad, [2 * abs(sigmoid(3) - sigmoid(2)), 2 * abs(sigmoid(-0.5) - sigmoid(0.5))],
                               rtol=1e-6)


def test_average_baseline_replaces_with_the_channel_mean():
    # series 0 mean = 8/3: removing x[0, 0] gives logits 8/3 + 2
    value = cumulative_prediction_difference(sum_of_first_two, X[:1], GOOD[:1], n_steps=1, baseline="average")
    assert value == pytest.approx(2 * abs(sigmoid(3) - sigmoid(8 / 3 + 2)), rel=1e-6)


def test_deletion_and_insertion_areas_by_the_trapezoid_rule():
    # C·T = 3, n_steps = 3: k = 0, 1, 2, 3 entries removed (restored), at fractions 0, 1/3, 2/3, 1
    p = {0: sigmoid(3), 1: sigmoid(2), 2: 0.5, 3: 0.5}  # series 0, GOOD ranking, class 0 predicted
    deletion = sum((p[k] + p[k + 1]) / 2 / 3 for k in range(3))
    values = deletion_area(sum_of_first_two, X[:1], GOOD[:1], n_steps=3, reduction="none")
    np.testing.assert_allclose(values, [deletion], rtol=1e-6)
    fractions, curve = deletion_curve(sum_of_first_two, X[:1], GOOD[:1], n_steps=3)
    np.testing.assert_allclose(fractions, [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(curve, [[p[0], p[1], p[2], p[3]]], rtol=1e-6)
    q = {0: 0.5, 1: sigmoid(1), 2: sigmoid(3), 3: sigmoid(3)}  # restored onto zeros: x[0, 0], then x[0, 1]
    np.testing.assert_allclose(insertion_curve(sum_of_first_two, X[:1], GOOD[:1], n_steps=3)[1],
                               [[q[0], q[1], q[2], q[3]]], rtol=1e-6)
    insertion = sum((q[k] + q[k + 1]) / 2 / 3 for k in range(3))
    assert insertion_area(sum_of_first_two, X[:1], GOOD[:1], n_steps=3) == pytest.approx(insertion, rel=1e-6)
    # series 1 predicts class 1 (logit -0.5): its probability is scored, and a target scores another
    assert deletion_area(sum_of_first_two, X[1:], GOOD[1:], n_steps=3) == pytest.approx(
        ((1 - sigmoid(-0.5)) + (1 - sigmoid(0.5))) / 6 + ((1 - sigmoid(0.5)) + 0.5) / 6 + 0.5 / 3, rel=1e-6)
    assert deletion_area(sum_of_first_two, X[1:], GOOD[1:], n_steps=3, target=0) == pytest.approx(
        (sigmoid(-0.5) + sigmoid(0.5)) / 6 + (sigmoid(0.5) + 0.5) / 6 + 0.5 / 3, rel=1e-6)


def test_a_faithful_ranking_beats_its_reverse_for_a_gradient_free_classifier():
    Xw, y, truth = make_window_classes(n=80)
    clf = flat_pipeline(LogisticRegression(C=10.0), Xw, y)
    good, bad = truth[:10].astype(float) + 0.01 * np.arange(16).reshape(2, 8), 1.0 - truth[:10]
    assert cumulative_prediction_difference(clf, Xw[:10], good, n_steps=3) > 2 * cumulative_prediction_difference(
        clf, Xw[:10], bad, n_steps=3)
    assert cumulative_prediction_preservation(clf, Xw[:10], good, n_steps=3) < cumulative_prediction_preservation(
        clf, Xw[:10], bad, n_steps=3)
    assert deletion_area(clf, Xw[:10], good, n_steps=8) < deletion_area(clf, Xw[:10], bad, n_steps=8)
    assert insertion_area(clf, Xw[:10], good, n_steps=8) > insertion_area(clf, Xw[:10], bad, n_steps=8)


def per_step(x):
    """(N, T, 2): class 0's logit at step t is x[0, t]."""
    return torch.stack([x[:, 0], torch.zeros_like(x[:, 0])], dim=-1)


def test_per_step_outputs_are_averaged_over_the_positions():
    Xs = np.array([[[2.0, 0.0, 0.0]]])
    ranking = np.array([[[1.0, 0.5, 0.2]]])
    # removing x[0, 0] moves position 0 only: L1 = 2(σ(2) − 1/2), averaged over the 3 positions
    value = cumulative_prediction_difference(per_step, Xs, ranking, n_steps=1)
    assert value == pytest.approx(2 * (sigmoid(2) - 0.5) / 3, rel=1e-6)
    # a (time step, class) target scores that position alone
    area = deletion_area(per_step, Xs, ranking, n_steps=3, target=(0, 0))
    assert area == pytest.approx((sigmoid(2) + 0.5) / 6 + 0.5 / 3 + 0.5 / 3, rel=1e-6)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: cumulative_prediction_difference(sum_of_first_two, X, GOOD, n_steps=4), ValueError,
         "asks for 4 removal steps, but a series has 3 entries"),
        (lambda: cumulative_prediction_difference(sum_of_first_two, X, GOOD, n_steps=1.5), ValueError, r"in \(0, 1\]"),
        (lambda: cumulative_prediction_difference(sum_of_first_two, X, GOOD, n_steps=True), TypeError, "n_steps"),
        (lambda: deletion_area(sum_of_first_two, X, GOOD, n_steps=0), ValueError, "positive number of points"),
        (lambda: cumulative_prediction_difference(sum_of_first_two, X, GOOD, baseline="mean"), ValueError,
         "baseline must be one of"),
        (lambda: deletion_area(sum_of_first_two, X, GOOD[:, :, :2]), ValueError, "masks must have the shape of X"),
        (lambda: insertion_area(lambda x: x.sum((1, 2)), X, GOOD), ValueError, "Regression outputs"),
    ],
    ids=["too-many-steps", "fraction", "bool", "zero-points", "baseline", "shape", "regression"],
)
def test_bad_options_are_refused(call, error, match):
    before = X.copy()
    with pytest.raises(error, match=match):
        call()
    np.testing.assert_array_equal(X, before)


def test_cumulative_scorers_in_a_search_share_one_explanation():
    Xw, y, _ = make_window_classes(n=12)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    scoring = make_scoring(list(CUMULATIVE_SCORERS))
    search = GridSearchCV(DynaMask(max_iter=20, random_state=0), {"area": [0.1, 0.3]}, scoring=scoring,
                          refit="cpd", cv=KFold(2)).fit(Xw, model=net)
    for name in ("cpd", "neg_cpp", "neg_deletion_area", "insertion_area"):
        assert np.isfinite(search.cv_results_[f"mean_test_{name}"]).all()
    # a scorer's value is the metric of the explainer's masks on its own black box
    est = search.best_estimator_
    scorer = make_fidelity_scorer("cpd", n_steps=5)
    assert scorer(est, Xw[:4]) == pytest.approx(
        cumulative_prediction_difference(est.model_, Xw[:4], est.transform(Xw[:4]), n_steps=5))
    with pytest.raises(ValueError, match="baseline must be one of"):
        make_fidelity_scorer("deletion_area", baseline="noise")
