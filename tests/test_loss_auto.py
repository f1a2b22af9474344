"""``loss="auto"``: the error follows what the black box declares itself (classifier or not)."""

import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression
from torch import nn

from sklearn_tsmask import ContraLSP, DynaMask, ExtremalMask
from sklearn_tsmask._target import model_kind, resolve_loss
from sklearn_tsmask.datasets import GRUClassifier, RareWhiteBox
from conftest import SALIENT, LinearHead, flat_pipeline, make_window_classes

EXPLAINERS = {
    "dynamask": lambda **kw: DynaMask(area=0.1, max_iter=30, device="cpu", random_state=0, **{"loss": "auto", **kw}),
    "extremal_mask": lambda **kw: ExtremalMask(max_iter=30, device="cpu", random_state=0, **kw),
    # DynaMask's and ContraLSP's defaults are the papers' squared error; "auto" is an option there
    "contralsp": lambda **kw: ContraLSP(max_iter=30, device="cpu", random_state=0, **{"loss": "auto", **kw}),
}


class DeclaredClassifier(LinearHead):
    """The conftest's linear head (logits (N, 3)) with scikit-learn's classifier marker."""

    _estimator_type = "classifier"


class DeclaredRegressor(nn.Module):
    """Three outputs per series that are a regression, and say so."""

    _estimator_type = "regressor"

    def forward(self, x):
        return x[:, :3, :].sum(-1)


class BinaryScore(nn.Module):
    """A classifier with one decision score per series, (N, 1)."""

    _estimator_type = "classifier"

    def forward(self, x):
        return x[:, :1, :].sum(-1)


def test_model_kind_reads_what_the_model_declares():
    X, y, _ = make_window_classes(n=30)
    assert model_kind(LinearHead()) is None  # a plain module says nothing
    assert model_kind(lambda x: x.sum((1, 2))) is None
    assert model_kind(RareWhiteBox(SALIENT)) == "regressor"
    assert model_kind(GRUClassifier(n_channels=4, hidden_size=4, random_state=0)) == "classifier"
    assert model_kind(DeclaredClassifier()) == "classifier"
    logistic = flat_pipeline(LogisticRegression(), X, y)
    assert model_kind(logistic) == "classifier"  # classes_
    assert model_kind(FrozenEstimator(logistic)) == "classifier"
    assert model_kind(flat_pipeline(LinearRegression(), X, y.astype(float))) == "regressor"  # scikit-learn's tags


@pytest.mark.parametrize(
    "kind, shape, expected",
    [
        ("classifier", (3,), "log_loss"),
        ("classifier", (16, 2), "log_loss"),
        ("classifier", (1,), "squared_error"),  # one decision score: no class axis
        ("classifier", (), "squared_error"),
        ("regressor", (16,), "squared_error"),
        ("regressor", (16, 3), "squared_error"),
        (None, (3,), "squared_error"),  # logits or a 3-step forecast: the shape cannot tell
        (None, (16, 2), "squared_error"),
    ],
)
def test_resolve_loss_table(kind, shape, expected):
    assert resolve_loss("auto", kind, shape) == expected
    assert resolve_loss("squared_error", kind, shape) == "squared_error"  # an explicit choice is kept


@pytest.mark.parametrize("name", sorted(EXPLAINERS))
@pytest.mark.parametrize(
    "model, expected",
    [
        (DeclaredClassifier(), "log_loss"),
        (LinearHead(), "squared_error"),
        (DeclaredRegressor(), "squared_error"),
        (BinaryScore(), "squared_error"),
    ],
)
def test_fit_records_the_resolved_loss(name, model, expected, spiky):
    X, _, _ = spiky
    est = EXPLAINERS[name]()
    assert est.loss == "auto"
    assert type(est)().loss == ("squared_error" if name == "contralsp" else "auto")  # the classes' defaults
    est.fit(X, model)
    assert est.loss_ == expected
    assert est.get_params()["loss"] == "auto"  # the hyper-parameter is left as given


@pytest.mark.parametrize("name", sorted(EXPLAINERS))
def test_auto_optimises_what_it_resolved_to(name, spiky):
    """The masks of "auto" on a declared classifier are those of an explicit "log_loss" (and differ from
    "squared_error"'s): the resolution reaches the optimisation, batch after batch."""
    X, _, _ = spiky
    model = DeclaredClassifier()
    auto = EXPLAINERS[name](batch_size=2).fit_transform(X, model)
    log_loss = EXPLAINERS[name](batch_size=2, loss="log_loss").fit_transform(X, model)
    squared = EXPLAINERS[name](batch_size=2, loss="squared_error").fit_transform(X, model)
    np.testing.assert_array_equal(auto, log_loss)
    assert np.abs(auto - squared).max() > 1e-3


def test_transform_uses_the_loss_resolved_by_fit(spiky):
    X, _, _ = spiky
    est = ExtremalMask(max_iter=30, device="cpu", random_state=0).fit(X, DeclaredClassifier())
    explicit = ExtremalMask(max_iter=30, loss="log_loss", device="cpu", random_state=0).fit(X, DeclaredClassifier())
    np.testing.assert_array_equal(est.transform(X), explicit.transform(X))
    # set_params after fit: an explicit loss wins over the fitted resolution, and is checked against the output
    est.set_params(loss="squared_error")
    np.testing.assert_array_equal(
        est.transform(X),
        ExtremalMask(max_iter=30, loss="squared_error", device="cpu", random_state=0).fit_transform(
            X, DeclaredClassifier()),
    )
    reg = ExtremalMask(max_iter=30, device="cpu", random_state=0).fit(X, BinaryScore())
    assert reg.loss_ == "squared_error"
    reg.set_params(loss="log_loss")
    with pytest.raises(ValueError, match=r"loss='log_loss' needs class scores.*shape \(N, 1\)"):
        reg.transform(X)


def test_zeroth_order_classifier_gets_log_loss():
    X, y, _ = make_window_classes(n=20)
    clf = flat_pipeline(LogisticRegression(), X, y)
    est = DynaMask(area=0.3, max_iter=5, loss="auto", device="cpu", random_state=0).fit(X[:4], clf)
    assert est.loss_ == "log_loss"
    masks = est.transform(X[:4])
    assert masks.shape == (4, 2, 8) and np.isfinite(masks).all() and 0 <= masks.min() <= masks.max() <= 1
