"""aeon classifiers as black boxes: interval/forest, distance and deep (Keras) classifiers through the
gradient-free path, with aeon's data and string class labels. Skipped when aeon is absent."""

import numpy as np
import pytest
import torch

from sklearn_tsmask import DynaMask
from sklearn_tsmask.black_boxes import ZerothOrderModel

aeon_datasets = pytest.importorskip("aeon.datasets")


@pytest.fixture(scope="module")
def basic_motions():
    X, y = aeon_datasets.load_basic_motions(split="train")
    X_test, _ = aeon_datasets.load_basic_motions(split="test")
    return X, y, X_test[::10]  # 4 test series, one of each class


def _explain(clf, X_test):
    zo = ZerothOrderModel(clf, random_state=0)
    out = zo(torch.tensor(X_test)).numpy()
    # string class labels are the columns, in the classifier's classes_ order
    np.testing.assert_array_equal(np.asarray(zo.classes_)[out.argmax(1)], clf.predict(X_test))
    masks = DynaMask(max_iter=3, random_state=0).fit_transform(X_test, model=clf)
    assert isinstance(masks, np.ndarray) and masks.shape == X_test.shape
    assert 0 <= masks.min() and masks.max() <= 1 and masks.std() > 0
    return zo, out


def test_interval_forest_is_explained_through_its_probabilities(basic_motions):
    from aeon.classification.interval_based import TimeSeriesForestClassifier

    X, y, X_test = basic_motions
    clf = TimeSeriesForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    zo, out = _explain(clf, X_test)
    assert zo.response_method_ == "predict_proba" and list(zo.classes_) == sorted(set(y))
    np.testing.assert_allclose(out, np.log(np.clip(clf.predict_proba(X_test), 1e-12, None)), rtol=1e-12)


def test_distance_based_classifier_needs_graded_votes(basic_motions):
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    X, y, X_test = basic_motions
    one_nn = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="euclidean").fit(X, y)
    with pytest.raises(ValueError, match="hard 0/1 labels.*more neighbours with distance weights"):
        DynaMask(max_iter=2).fit(X_test, model=one_nn)
    weighted = KNeighborsTimeSeriesClassifier(n_neighbors=5, weights="distance", distance="euclidean").fit(X, y)
    zo, _ = _explain(weighted, X_test)
    assert zo.response_method_ == "predict_proba"


def test_deep_keras_classifier_is_explained_without_gradients(basic_motions):
    pytest.importorskip("tensorflow")
    from aeon.classification.deep_learning import TimeCNNClassifier

    X, y, X_test = basic_motions
    clf = TimeCNNClassifier(n_epochs=2, batch_size=8, random_state=0, save_best_model=False)
    clf.fit(X, y)
    zo, out = _explain(clf, X_test)
    assert zo.response_method_ == "predict_proba"
    np.testing.assert_allclose(out, np.log(clf.predict_proba(X_test)), rtol=1e-5)
