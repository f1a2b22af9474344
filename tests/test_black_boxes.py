"""Black boxes users already have: classifiers without gradients, skorch nets, sktime torch
classifiers, FrozenEstimator and the ``model`` parameter."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from torch import nn

from sklearn_tsmask import DynaMask, ExtremalMask
from sklearn_tsmask._adapters import resolve_black_box
from sklearn_tsmask.black_boxes import ZerothOrderModel
from sklearn_tsmask.metrics import aup_scorer
from conftest import flat_pipeline, flatten_series as _flatten, make_window_classes as make_data

C, T = 2, 8


def logistic_pipeline(X, y):
    return flat_pipeline(LogisticRegression(C=10.0), X, y)


# ------------------------------------------------------------------ zeroth order
def test_forward_is_log_predict_proba():
    X, y, _ = make_data()
    clf = logistic_pipeline(X, y)
    out = ZerothOrderModel(clf)(torch.tensor(X[:5]))
    np.testing.assert_allclose(out.numpy(), np.log(clf.predict_proba(X[:5])), rtol=1e-12)


def test_gradient_estimate_matches_the_analytic_gradient():
    X, y, _ = make_data()
    clf = logistic_pipeline(X, y)
    lr = clf[-1]
    x = torch.tensor(X[:3], requires_grad=True)
    model = ZerothOrderModel(clf, n_directions=4000, epsilon=0.01, random_state=0)
    model(x)[:, 1].sum().backward()
    # d log p_1 / dx = (1 - p_1) w for a binary logistic regression
    p1 = clf.predict_proba(X[:3])[:, 1]
    expected = (1 - p1)[:, None] * lr.coef_[0][None, :]
    got = x.grad.numpy().reshape(3, -1)
    for g, e in zip(got, expected):
        cosine = g @ e / np.linalg.norm(g) / np.linalg.norm(e)
        assert cosine > 0.97
        assert np.linalg.norm(g) == pytest.approx(np.linalg.norm(e), rel=0.15)


def test_hard_label_classifier_is_refused_with_a_reason():
    X, y, _ = make_data()
    knn = make_pipeline(FunctionTransformer(_flatten), KNeighborsClassifier(n_neighbors=1)).fit(X, y)
    with pytest.raises(ValueError, match="hard 0/1 labels"):
        DynaMask(area=0.2, max_iter=2).fit(X[:4], model=knn)


def test_unfitted_classifier_is_refused():
    with pytest.raises(ValueError, match="not fitted"):
        DynaMask(max_iter=2).fit(make_data()[0][:4], model=LogisticRegression())


def test_regressor_without_proba_is_refused():
    from sklearn.linear_model import Ridge

    X, y, _ = make_data()
    ridge = make_pipeline(FunctionTransformer(_flatten), Ridge()).fit(X, y)
    with pytest.raises(TypeError, match="no predict_proba"):
        DynaMask(max_iter=2).fit(X[:4], model=ridge)


@pytest.mark.parametrize("bad", [{"n_directions": 0}, {"epsilon": 0.0}, {"batch_size": 1.5}])
def test_zeroth_order_parameters_are_validated(bad):
    X, y, _ = make_data()
    with pytest.raises(ValueError):
        ZerothOrderModel(logistic_pipeline(X, y), **bad)


def test_explaining_a_classifier_without_gradients_finds_its_features_reproducibly():
    X, y, truth = make_data()
    clf = logistic_pipeline(X, y)
    explainer = ExtremalMask(perturbation="zeros", loss="log_loss", lambda_1=0.05, max_iter=150,
                             learning_rate=0.05, random_state=0)
    masks = explainer.fit_transform(X[:8], model=clf)
    assert masks.shape == (8, C, T) and masks.min() >= 0 and masks.max() <= 1
    salient, rest = masks[truth[:8] == 1].mean(), masks[truth[:8] == 0].mean()
    assert salient > rest + 0.3, (salient, rest)
    again = clone(explainer).fit_transform(X[:8], model=clf)
    np.testing.assert_array_equal(masks, again)
    # the directions depend on random_state
    other = clone(explainer).set_params(random_state=1).fit_transform(X[:8], model=clf)
    assert not np.array_equal(masks, other)


def test_user_zeroth_order_settings_are_kept_and_the_object_reused_unchanged():
    X, y, _ = make_data()
    zo = ZerothOrderModel(logistic_pipeline(X, y), n_directions=4, random_state=3)
    first = DynaMask(area=0.2, max_iter=5, loss="log_loss").fit_transform(X[:4], model=zo)
    second = DynaMask(area=0.2, max_iter=5, loss="log_loss").fit_transform(X[:4], model=zo)
    np.testing.assert_array_equal(first, second)  # each fit starts the directions afresh
    resolved, layout = resolve_black_box(zo, layout="NTC")
    assert resolved.n_directions == 4 and resolved is not zo and layout == "NCT"


def test_fitted_explainer_of_a_classifier_pickles():
    X, y, _ = make_data()
    explainer = DynaMask(area=0.2, max_iter=3, loss="log_loss", random_state=0)
    explainer.fit(X[:4], model=logistic_pipeline(X, y))
    back = pickle.loads(pickle.dumps(explainer))
    np.testing.assert_array_equal(back.transform(X[:4]), explainer.transform(X[:4]))


# ------------------------------------------------------------------------ skorch
class _Net(nn.Module):
    def __init__(self, softmax=False):
        super().__init__()
        self.linear = nn.Linear(C * T, 2)
        self.softmax = softmax

    def forward(self, X):
        z = self.linear(X.flatten(1))
        return torch.softmax(z, dim=-1) if self.softmax else z


def _skorch_net(criterion, softmax, fit=True):
    skorch = pytest.importorskip("skorch")
    X, y, _ = make_data()
    torch.manual_seed(0)
    net = skorch.NeuralNetClassifier(_Net, module__softmax=softmax, criterion=criterion, max_epochs=20, lr=0.5,
                                     train_split=None, verbose=0)
    if fit:
        net.fit(X.astype(np.float32), y)
    return net


@pytest.mark.parametrize("criterion, softmax", [(nn.CrossEntropyLoss, False), (nn.NLLLoss, True)])
def test_skorch_classifier_is_explained_through_its_module(criterion, softmax):
    X, _, _ = make_data()
    net = _skorch_net(criterion, softmax)
    # the explainer sees logits: for NLLLoss nets (softmax output) the log is taken
    logits_module = _Net()
    logits_module.load_state_dict(net.module_.state_dict())
    kwargs = dict(area=0.2, max_iter=20, loss="log_loss", random_state=0)
    via_skorch = DynaMask(**kwargs).fit_transform(X[:4].astype(np.float32), model=net)
    direct = DynaMask(**kwargs).fit_transform(X[:4].astype(np.float32), model=logits_module)
    np.testing.assert_allclose(via_skorch, direct, atol=1e-5)
    module, _ = resolve_black_box(net, layout="NCT")
    with torch.no_grad():
        proba = torch.softmax(module(torch.tensor(X[:4], dtype=torch.float32)), -1).numpy()
    np.testing.assert_allclose(proba, net.predict_proba(X[:4].astype(np.float32)), atol=1e-6)


def test_unfitted_or_reset_skorch_net_is_refused():
    X, _, _ = make_data()
    net = _skorch_net(nn.CrossEntropyLoss, False, fit=False)
    with pytest.raises(ValueError, match="not initialized"):
        DynaMask(max_iter=2).fit(X[:4], model=net)
    net.initialize()
    with pytest.raises(ValueError, match="never fitted, or it was reset"):
        DynaMask(max_iter=2).fit(X[:4], model=net)


def test_skorch_net_as_frozen_constructor_parameter_in_grid_search():
    X, _, truth = make_data()
    net = _skorch_net(nn.CrossEntropyLoss, False)
    weights = {k: v.clone() for k, v in net.module_.state_dict().items()}
    explainer = DynaMask(model=FrozenEstimator(net), max_iter=10, loss="log_loss", random_state=0)
    assert clone(explainer).model is explainer.model  # clone keeps the frozen model, no copy
    search = GridSearchCV(explainer, {"area": [0.1, 0.3]}, scoring=aup_scorer, cv=2)
    search.fit(X[:8].astype(np.float32), truth[:8])
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.transform(X[:2].astype(np.float32)).shape == (2, C, T)
    # the user's net untouched: same weights, no fitted attribute of the explainer set on it
    assert all(torch.equal(v, weights[k]) for k, v in net.module_.state_dict().items())
    assert not hasattr(net, "model_") and not hasattr(net, "n_features_in_")


# ------------------------------------------------------------------------ sktime
@pytest.fixture(scope="module")
def basic_motions():
    datasets = pytest.importorskip("sktime.datasets")
    X, y = datasets.load_basic_motions(split="train", return_type="numpy3D")
    return X.astype(np.float32), y


@pytest.mark.parametrize("name", ["CNNClassifierTorch", "GRUClassifier"])
def test_sktime_torch_classifier_is_explained_through_its_network(basic_motions, name):
    deep = pytest.importorskip("sktime.classification.deep_learning")
    X, y = basic_motions
    cls = getattr(deep, name)
    clf = cls(num_epochs=2, random_state=0)
    with pytest.raises(ValueError, match="not fitted"):
        DynaMask(max_iter=2).fit(X[:2], model=clf)
    clf.fit(X, y)  # string labels
    module, layout = resolve_black_box(clf, layout="NCT")
    assert layout == "NTC"
    with torch.no_grad():
        proba = torch.softmax(module(torch.tensor(X[:5]).transpose(1, 2)), -1).numpy()
    np.testing.assert_allclose(proba, clf.predict_proba(X[:5]), atol=1e-5)
    masks = DynaMask(area=0.1, max_iter=5, loss="log_loss", random_state=0).fit_transform(X[:3], y[:3], model=clf)
    assert masks.shape == (3, 6, 100) and 0 <= masks.min() and masks.max() <= 1


def test_sktime_network_with_its_own_softmax_gives_log_probabilities(basic_motions):
    deep = pytest.importorskip("sktime.classification.deep_learning")
    X, y = basic_motions
    clf = deep.CNNClassifierTorch(num_epochs=2, criterion="NLLLoss", activation="Softmax", random_state=0).fit(X, y)
    module, _ = resolve_black_box(clf, layout="NCT")
    with torch.no_grad():
        out = module(torch.tensor(X[:5]).transpose(1, 2)).numpy()
    np.testing.assert_allclose(np.exp(out), clf.predict_proba(X[:5]), atol=1e-5)


# ------------------------------------------------------------ model parameter
def test_model_parameter_is_used_and_fit_argument_takes_precedence():
    X, y, _ = make_data()
    torch.manual_seed(0)
    a, b = _Net(), _Net()
    kwargs = dict(area=0.2, max_iter=5, loss="log_loss", random_state=0)
    with_param = DynaMask(model=a, **kwargs).fit_transform(X[:4])
    with_fit = DynaMask(**kwargs).fit_transform(X[:4], model=a)
    np.testing.assert_array_equal(with_param, with_fit)
    override = DynaMask(model=a, **kwargs).fit_transform(X[:4], model=b)
    np.testing.assert_array_equal(override, DynaMask(**kwargs).fit_transform(X[:4], model=b))
    with pytest.raises(ValueError, match="No model to explain"):
        DynaMask(**kwargs).fit(X[:4])


def test_classifier_can_be_passed_positionally():
    X, y, _ = make_data()
    clf = logistic_pipeline(X, y)
    kwargs = dict(area=0.2, max_iter=3, loss="log_loss", random_state=0)
    np.testing.assert_array_equal(DynaMask(**kwargs).fit_transform(X[:4], clf),
                                  DynaMask(**kwargs).fit_transform(X[:4], model=clf))
