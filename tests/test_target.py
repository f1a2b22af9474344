"""Choosing what is explained: ``target`` (an output index, a class label, one per series, a (time
step, class) pair), for every explainer, both losses, gradient-free models and the fidelity metrics."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_tsmask import DynaMask, all_explainers
from conftest import DYNAMASK_PAPER_RARE
from sklearn_tsmask.metrics import comprehensiveness, make_fidelity_scorer

RNG = np.random.RandomState(0)
X = RNG.randn(6, 2, 8)


def two_scores(x):
    """Score k is the energy of channel k: class 0 reads channel 0 only, class 1 channel 1 only."""
    return torch.stack([x[:, 0].pow(2).sum(-1), x[:, 1].pow(2).sum(-1)], dim=-1)


def per_step_scores(x):
    """(N, T, 2): the score of class k at step t is x[k, t]^2."""
    return x.pow(2).transpose(1, 2)


@pytest.mark.parametrize("name, cls", all_explainers())
def test_the_target_class_decides_which_channel_is_salient(name, cls):
    masks = {k: cls(max_iter=200, target=k, random_state=0).fit_transform(X, model=two_scores) for k in (0, 1)}
    for k in (0, 1):
        assert masks[k][:, k].mean() > masks[k][:, 1 - k].mean() + 0.2, (k, masks[k].mean((0, 2)))
        assert masks[k][:, 1 - k].max() < 0.05  # the other class's channel does not matter at all


def test_a_class_label_is_resolved_through_the_classifiers_classes():
    y = np.where(X[:, 0, 0] > 0, "up", "down")
    clf = make_pipeline(FunctionTransformer(lambda a: a.reshape(len(a), -1)), LogisticRegression()).fit(X, y)
    assert list(clf.classes_) == ["down", "up"]
    by_label = DynaMask(max_iter=20, target="up", random_state=0).fit_transform(X, model=clf)
    by_index = DynaMask(max_iter=20, target=1, random_state=0).fit_transform(X, model=clf)
    np.testing.assert_array_equal(by_label, by_index)
    other = DynaMask(max_iter=20, target="down", random_state=0).fit_transform(X, model=clf)
    assert not np.array_equal(by_label, other)


def test_one_target_per_series_is_each_series_own_target():
    targets = [0, 1, 1, 0, 1, 0]
    masks = DynaMask(max_iter=100, target=targets, random_state=0).fit_transform(X, model=two_scores)
    for k in (0, 1):
        rows = [i for i, t in enumerate(targets) if t == k]
        alone = DynaMask(max_iter=100, target=k, random_state=0).fit_transform(X[rows], model=two_scores)
        np.testing.assert_allclose(masks[rows], alone, atol=1e-6)


def test_a_time_step_and_a_class_of_a_per_step_output():
    spiked = X.copy()
    spiked[:, 1, 3] = 3.0  # a large x[1, 3]: blurring it changes the score a lot
    masks = DynaMask(area=1 / 16, max_iter=300, target=(3, 1), random_state=0, **DYNAMASK_PAPER_RARE).fit_transform(spiked, per_step_scores)
    # only x[1, 3] moves the score of class 1 at step 3
    for m in masks:
        assert np.unravel_index(m.argmax(), m.shape) == (1, 3)
    # a class alone on a per-step output: its score at every step (x[0, 5] is the largest entry of channel 0,
    # x[1, 3] stays larger but only moves class 1)
    spiked[:, 0, 5] = 2.5
    masks = DynaMask(area=1 / 16, max_iter=300, target=0, random_state=0, **DYNAMASK_PAPER_RARE).fit_transform(spiked, per_step_scores)
    for m in masks:
        assert np.unravel_index(m.argmax(), m.shape) == (0, 5)


def test_with_cross_entropy_the_predicted_class_as_target_changes_nothing():
    predicted = two_scores(torch.tensor(X)).argmax(-1).numpy()
    default = DynaMask(max_iter=30, loss="log_loss", random_state=0).fit_transform(X, model=two_scores)
    chosen = DynaMask(max_iter=30, loss="log_loss", target=predicted, random_state=0).fit_transform(X, two_scores)
    np.testing.assert_array_equal(default, chosen)
    against = DynaMask(max_iter=30, loss="log_loss", target=1 - predicted, random_state=0).fit_transform(X, two_scores)
    assert not np.allclose(default, against)


def test_a_gradient_free_classifier_with_a_label_target():
    y = np.where(X[:, 1].sum(1) > 0, "b", "a")
    clf = make_pipeline(FunctionTransformer(lambda a: a.reshape(len(a), -1)), LogisticRegression()).fit(X, y)
    est = DynaMask(max_iter=10, target="b", random_state=0).fit(X, model=clf)
    masks = est.transform(X)
    assert masks.shape == X.shape and est.model_.classes.tolist() == ["a", "b"]


@pytest.mark.parametrize(
    "model, target, match",
    [
        (lambda x: x.pow(2).sum((1, 2)), 0, r"one value per series \(shape \(N,\)\): there is nothing to choose"),
        (two_scores, 2, "class index 2 is out of range: the model's output has 2 classes"),
        (two_scores, -1, "class index -1 is out of range"),
        (two_scores, "up", "is a class label, but the model has no classes_"),
        (two_scores, True, "is a boolean"),
        (two_scores, (3, 1), "names a time step, but the model's output has no time axis"),
        (per_step_scores, (8, 1), "time step 8 must be an integer from 0 to 7"),
        (two_scores, [0, 1, 0], r"one entry per series \(6\)"),
    ],
    ids=["regression", "index", "negative", "label-without-classes", "bool", "step-without-time", "step-range",
         "per-series-length"],
)
def test_a_target_that_does_not_fit_the_output_is_refused(model, target, match):
    est = DynaMask(max_iter=2, target=target)
    with pytest.raises(ValueError, match=match):
        est.fit(X, model=model)
    assert not hasattr(est, "model_")


def test_a_target_changed_after_fit_is_checked_at_transform():
    est = DynaMask(max_iter=2, target=0).fit(X, model=two_scores)
    with pytest.raises(ValueError, match="out of range"):
        est.set_params(target=5).transform(X)
    assert clone(est).get_params()["target"] == 5


def test_unknown_label_is_named_with_the_classes():
    y = np.where(X[:, 0, 0] > 0, "up", "down")
    clf = make_pipeline(FunctionTransformer(lambda a: a.reshape(len(a), -1)), LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match=r"target 'left' is not one of the model's classes \['down', 'up'\]"):
        DynaMask(max_iter=2, target="left").fit(X, model=clf)


def test_fidelity_metrics_score_the_chosen_class():
    masks = np.zeros_like(X)
    masks[:, 0] = 1.0  # ranks channel 0 first
    p = torch.softmax(two_scores(torch.tensor(X)), -1).numpy()
    removed = X.copy()
    removed[:, 0] = removed[:, 0].mean(-1, keepdims=True)  # top half = channel 0, replaced by its mean
    q = torch.softmax(two_scores(torch.tensor(removed)), -1).numpy()
    for k in (0, 1):
        expected = float(np.mean(p[:, k] - q[:, k]))
        # (the model computes in float32)
        assert comprehensiveness(two_scores, X, masks, top_fraction=0.5, target=k) == pytest.approx(expected, rel=1e-6)
    # the default scores the predicted class
    t = p.argmax(1)
    default = float(np.mean(p[np.arange(6), t] - q[np.arange(6), t]))
    assert comprehensiveness(two_scores, X, masks, top_fraction=0.5) == pytest.approx(default, rel=1e-6)


def test_fidelity_scorer_scores_the_explainers_target():
    scorer = make_fidelity_scorer("comprehensiveness", top_fraction=0.5)
    est = DynaMask(max_iter=50, target=1, random_state=0).fit(X, model=two_scores)
    masks = est.transform(X)
    assert scorer(est, X) == pytest.approx(comprehensiveness(two_scores, X, masks, top_fraction=0.5, target=1))


def test_one_time_step_and_class_per_series():
    pairs = [(3, 1), (5, 0), (3, 1), (5, 0), (3, 1), (5, 0)]
    masks = DynaMask(max_iter=50, target=pairs, random_state=0).fit_transform(X, model=per_step_scores)
    for pair in ((3, 1), (5, 0)):
        rows = [i for i, p in enumerate(pairs) if p == pair]
        alone = DynaMask(max_iter=50, target=pair, random_state=0).fit_transform(X[rows], model=per_step_scores)
        np.testing.assert_allclose(masks[rows], alone, atol=1e-6)
    with pytest.raises(ValueError, match="mixes"):
        DynaMask(max_iter=2, target=[(3, 1), 0, 1, 0, 1, 0]).fit(X, model=per_step_scores)
