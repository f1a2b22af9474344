"""Classifiers whose probabilities are hard votes are explained through their decision scores: the
Rocket family of sktime and aeon, Arsenal ensembles, any pipeline ending in a ridge classifier."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression, RidgeClassifier, RidgeClassifierCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_tsmask import DynaMask, ExtremalMask
from sklearn_tsmask.black_boxes import ZerothOrderModel
from conftest import flat_pipeline, flatten_series as _flatten, make_window_classes as make_data


def ridge_pipeline(X, y):
    return flat_pipeline(RidgeClassifier(alpha=1.0), X, y)


# ------------------------------------------------------------------ scikit-learn pipelines
def test_a_ridge_pipeline_is_explained_through_its_decision_function():
    X, y, _ = make_data()
    clf = ridge_pipeline(X, y)
    zo = ZerothOrderModel(clf)
    assert zo.response_method_ == "decision_function"
    s = clf.decision_function(X[:5])
    # binary scores s become the logits (-s/2, s/2): their softmax is sigmoid(s)
    np.testing.assert_allclose(zo(torch.tensor(X[:5])).numpy(), np.stack([-s / 2, s / 2], 1), rtol=1e-12)


def test_multiclass_scores_are_the_logits_and_the_gradient_is_the_ridge_weights():
    X, y, _ = make_data(n_classes=3)
    clf = ridge_pipeline(X, y)
    zo = ZerothOrderModel(clf, n_directions=2000, epsilon=0.01, random_state=0)
    x = torch.tensor(X[:2], requires_grad=True)
    out = zo(x)
    np.testing.assert_allclose(out.detach().numpy(), clf.decision_function(X[:2]), rtol=1e-12)
    out[:, 2].sum().backward()
    expected = clf[-1].coef_[2]  # the scores are linear: the gradient of class 2's score is its weights
    for g in x.grad.numpy().reshape(2, -1):
        assert g @ expected / np.linalg.norm(g) / np.linalg.norm(expected) > 0.97
        assert np.linalg.norm(g) == pytest.approx(np.linalg.norm(expected), rel=0.15)


def test_masks_of_a_ridge_classifier_find_the_features_it_uses():
    X, y, truth = make_data()
    clf = ridge_pipeline(X, y)
    masks = ExtremalMask(perturbation="zeros", loss="log_loss", lambda_1=0.05, max_iter=150,
                         learning_rate=0.05, tol=None, random_state=0).fit_transform(X[:8], model=clf)
    salient, rest = masks[truth[:8] == 1].mean(), masks[truth[:8] == 0].mean()
    assert salient > rest + 0.3, (salient, rest)


def test_response_method_auto_prefers_genuine_probabilities():
    X, y, _ = make_data()
    logistic = make_pipeline(FunctionTransformer(_flatten), LogisticRegression()).fit(X, y)
    assert ZerothOrderModel(logistic).response_method_ == "predict_proba"
    forced = ZerothOrderModel(logistic, response_method="decision_function")
    s = logistic.decision_function(X[:3])
    np.testing.assert_allclose(forced(torch.tensor(X[:3])).numpy(), np.stack([-s / 2, s / 2], 1), rtol=1e-12)
    # the two explain the same decision: log-odds log p1 - log p0 = s either way
    log_p = ZerothOrderModel(logistic)(torch.tensor(X[:3])).numpy()
    np.testing.assert_allclose(log_p[:, 1] - log_p[:, 0], s, rtol=1e-9)


@pytest.mark.parametrize(
    "clf, response_method, error, match",
    [
        ("ridge", "predict_proba", TypeError, "has no predict_proba: use response_method='auto'"),
        ("knn", "decision_function", TypeError, "has no decision scores"),
        ("ridge", "scores", ValueError, "response_method must be one of"),
    ],
)
def test_response_method_that_does_not_apply_is_refused(clf, response_method, error, match):
    X, y, _ = make_data()
    model = ridge_pipeline(X, y) if clf == "ridge" else make_pipeline(
        FunctionTransformer(_flatten), KNeighborsClassifier(n_neighbors=1)).fit(X, y)
    with pytest.raises(error, match=match):
        ZerothOrderModel(model, response_method=response_method)


def test_hard_votes_without_scores_are_refused_with_what_to_use_instead():
    X, y, _ = make_data()
    knn = make_pipeline(FunctionTransformer(_flatten), KNeighborsClassifier(n_neighbors=1)).fit(X, y)
    with pytest.raises(ValueError, match="hard 0/1 labels.*no decision scores either.*more neighbours"):
        DynaMask(max_iter=2).fit(X[:4], model=knn)


class _Disagreeing(RidgeClassifier):
    """A classifier whose decision_function is not what it predicts on."""

    def predict(self, X):
        return self.classes_[(self.decision_function(X) <= 0).astype(int)]


def test_scores_that_do_not_reproduce_the_predictions_are_refused():
    X, y, _ = make_data()
    clf = make_pipeline(FunctionTransformer(_flatten), _Disagreeing()).fit(X, y)
    with pytest.raises(ValueError, match=r"do not reproduce its predictions \(4 of 4 series differ\)"):
        DynaMask(max_iter=2).fit(X[:4], model=clf)


class _ReorderedClasses(ClassifierMixin, BaseEstimator):
    """A fitted classifier (aeon's layout: a fitted ``pipeline_``) listing its classes in another order
    than its pipeline's ridge head."""

    def __init__(self, pipeline):
        self.pipeline = pipeline

    def fit(self, X, y):
        return self

    def __sklearn_is_fitted__(self):
        return True

    @property
    def pipeline_(self):
        return self.pipeline

    @property
    def classes_(self):
        return self.pipeline.classes_[::-1]

    def predict(self, X):
        return self.pipeline.predict(X)

    def predict_proba(self, X):  # hard votes, in the order of classes_
        return (self.predict(X)[:, None] == self.classes_[None, :]).astype(float)


def test_score_columns_follow_the_classifiers_classes():
    X, y, _ = make_data(n_classes=3)
    clf = _ReorderedClasses(ridge_pipeline(X, y))
    x = torch.tensor(X[:4], requires_grad=True)
    out = ZerothOrderModel(clf, random_state=0)(x)
    out.sum().backward()  # the first evaluation with directions checks that the scores give the predictions
    # column j is the score of classes_[j] = 2 - j
    np.testing.assert_allclose(out.detach().numpy(), clf.pipeline.decision_function(X[:4])[:, ::-1], rtol=1e-12)


def test_a_fitted_explainer_of_a_ridge_pipeline_pickles():
    X, y, _ = make_data()
    est = DynaMask(max_iter=3, random_state=0).fit(X[:4], model=ridge_pipeline(X, y))
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.transform(X[:4]), est.transform(X[:4]))


# ------------------------------------------------------------------ sktime and aeon
@pytest.fixture(scope="module")
def basic_motions():
    datasets = pytest.importorskip("sktime.datasets")
    X, y = datasets.load_basic_motions(split="train", return_type="numpy3D")
    X_test, _ = datasets.load_basic_motions(split="test", return_type="numpy3D")
    return X, y, X_test[::5]  # 8 test series, two of each class


def _check_explained_scores(clf, X_test, expected_scores=None):
    zo = ZerothOrderModel(clf, random_state=0)
    assert zo.response_method_ == "decision_function"
    out = zo(torch.tensor(X_test)).numpy()
    assert out.shape == (len(X_test), 4)
    # the scores decide as the classifier does (string labels resolved through classes_)
    np.testing.assert_array_equal(np.asarray(clf.classes_)[out.argmax(1)], clf.predict(X_test))
    if expected_scores is not None:
        np.testing.assert_allclose(out, expected_scores, rtol=1e-10)
    masks = DynaMask(max_iter=3, random_state=0).fit_transform(X_test[:2], model=clf)
    assert masks.shape == X_test[:2].shape and 0 <= masks.min() and masks.max() <= 1
    return out


@pytest.mark.parametrize("transform", ["rocket", "minirocket"])
def test_sktime_rocket_classifier_is_explained_through_its_ridge_scores(basic_motions, transform):
    kernel_based = pytest.importorskip("sktime.classification.kernel_based")
    X, y, X_test = basic_motions
    clf = kernel_based.RocketClassifier(num_kernels=100, rocket_transform=transform, random_state=0).fit(X, y)
    assert set(np.unique(clf.predict_proba(X_test))) <= {0.0, 1.0}  # hard votes: no gradient from them
    pipeline = clf.estimator_
    features = pipeline.transformers_.transform(X_test)
    _check_explained_scores(clf, X_test, pipeline.classifier_.decision_function(features))


def test_sktime_arsenal_is_explained_through_its_weighted_members(basic_motions):
    kernel_based = pytest.importorskip("sktime.classification.kernel_based")
    X, y, X_test = basic_motions
    clf = kernel_based.Arsenal(num_kernels=50, n_estimators=3, random_state=0).fit(X, y)
    w = np.asarray(clf.weights_, dtype=float)
    expected = sum(wi * m.decision_function(X_test) for wi, m in zip(w, clf.estimators_)) / w.sum()
    _check_explained_scores(clf, X_test, expected)


@pytest.mark.parametrize("name", ["RocketClassifier", "MiniRocketClassifier", "MultiRocketClassifier", "Arsenal"])
def test_aeon_rocket_family_is_explained_through_its_ridge_scores(basic_motions, name):
    convolution_based = pytest.importorskip("aeon.classification.convolution_based")
    X, y, X_test = basic_motions
    cls = getattr(convolution_based, name)
    params = {"n_kernels": 100} if name != "MultiRocketClassifier" else {"n_kernels": 84}
    if name == "Arsenal":
        params["n_estimators"] = 3
    clf = cls(random_state=0, **params).fit(X, y)
    # votes: 0/1 for one classifier, fractions of the members' weights for Arsenal
    assert len(np.unique(clf.predict_proba(X_test))) <= 2 + 2 * (name == "Arsenal")
    expected = clf.pipeline_.decision_function(X_test) if hasattr(clf, "pipeline_") else None
    _check_explained_scores(clf, X_test, expected)


def test_sktime_pipeline_with_a_ridge_head(basic_motions):
    pytest.importorskip("sktime")
    from sktime.classification.compose import SklearnClassifierPipeline
    from sktime.transformations.panel.rocket import MiniRocketMultivariate

    X, y, X_test = basic_motions
    clf = SklearnClassifierPipeline(RidgeClassifierCV(), [MiniRocketMultivariate(num_kernels=84, random_state=0)])
    clf.fit(X, y)
    _check_explained_scores(clf, X_test, clf.classifier_.decision_function(clf.transformers_.transform(X_test)))
