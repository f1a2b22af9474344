"""scikit-learn contracts of every explainer, end to end: estimator checks, GridSearchCV
(multi-metric, refit, n_jobs=2), cross_validate, Pipeline with routed ``model``, metadata
routing on and off, clone, pickle and joblib round trips."""

import io
import pickle

import joblib
import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch import nn

from conftest import DYNAMASK_PAPER_RARE, SALIENT, SALIENT_AREA, make_spiky_panel
from sklearn_tsmask import ContraLSP, DynaMask, ExtremalMask, all_explainers
from sklearn_tsmask.datasets import RareWhiteBox
from sklearn_tsmask.metrics import SALIENCY_SCORERS, SALIENCY_SCORING


class SumAndSquares(nn.Module):
    """A black box for any panel shape: per-channel sum of x² + x over time, (N, C)."""

    def forward(self, x):
        return (x * x + x).sum(-1)


# ------------------------------------------------------------ estimator checks
# Every explainer of the package's registry, with the checks it fails by design as it declares them.
def _fast(cls, **params):
    return cls(max_iter=2, device="cpu", random_state=0, model=FrozenEstimator(SumAndSquares()), **params)


#: Every explainer with its defaults, and ExtremalMask with a perturbation network too (its default has none).
CHECKED = [_fast(cls) for _, cls in all_explainers()] + [_fast(ExtremalMask, perturbation="bigru")]


def _expected_failed_checks(estimator):
    return estimator._expected_check_failures()


def test_every_expected_failure_has_a_reason():
    for estimator in CHECKED:
        failures = estimator._expected_check_failures()
        assert failures, estimator
        for check, reason in failures.items():
            assert check.startswith("check_") and len(reason) > 40, (estimator, check)


@parametrize_with_checks(CHECKED, expected_failed_checks=_expected_failed_checks)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# ------------------------------------------------------------------ search & CV
EXPLAINERS = {
    "DynaMask": lambda **kw: DynaMask(area=SALIENT_AREA, max_iter=40, device="cpu", random_state=0,
                                      **{**DYNAMASK_PAPER_RARE, **kw}),
    "ExtremalMask": lambda **kw: ExtremalMask(max_iter=40, learning_rate=0.1, device="cpu", random_state=0, **kw),
    "ContraLSP": lambda **kw: ContraLSP(max_iter=40, learning_rate=0.1, device="cpu", random_state=0, **kw),
}
GRIDS = {
    "DynaMask": {"area": [SALIENT_AREA, 0.5]},
    "ExtremalMask": {"lambda_1": [0.1, 1.0]},
    "ContraLSP": {"alpha": [0.1, 1.0]},
}


def _data():
    X, truth = make_spiky_panel(0, n=8)
    return X, truth, RareWhiteBox(SALIENT.astype(np.float32))


@pytest.mark.parametrize("name", list(EXPLAINERS))
def test_multi_metric_grid_search_is_the_same_with_two_jobs(name):
    X, truth, white_box = _data()
    results = []
    for n_jobs in (1, 2):
        search = GridSearchCV(EXPLAINERS[name](), GRIDS[name], scoring=SALIENCY_SCORING, refit="aur", cv=KFold(2),
                              n_jobs=n_jobs)
        search.fit(X, truth, model=white_box)
        results.append(search)
    one, two = results
    assert one.best_params_ == two.best_params_
    for key in ("mean_test_aup", "mean_test_aur", "mean_test_auroc", "split1_test_information"):
        np.testing.assert_allclose(one.cv_results_[key], two.cv_results_[key], rtol=1e-6)
        assert np.isfinite(one.cv_results_[key]).all()
    # refit on everything, by AUR; the refitted explainer answers transform on new rows
    best = one.best_estimator_
    assert best.n_features_in_ == X.shape[1] and not hasattr(best, "masks_")
    assert one.cv_results_["rank_test_aur"][list(one.cv_results_["params"]).index(one.best_params_)] == 1
    assert best.transform(X[:2]).shape == (2, *X.shape[1:])


def test_cross_validate_scores_every_fold():
    X, truth, white_box = _data()
    cv = cross_validate(EXPLAINERS["DynaMask"](), X, truth, scoring=SALIENCY_SCORING, cv=KFold(2),
                        params={"model": white_box}, return_estimator=True)
    assert cv["test_aup"].shape == (2,) and (cv["test_auroc"] == 1.0).all()
    # the same numbers as the single scorers, each of which optimises its own masks
    single = cross_validate(EXPLAINERS["DynaMask"](), X, truth, scoring=SALIENCY_SCORERS, cv=KFold(2),
                            params={"model": white_box})
    for name in SALIENCY_SCORERS:
        np.testing.assert_array_equal(cv[f"test_{name}"], single[f"test_{name}"])
    assert all(est.n_features_in_ == X.shape[1] for est in cv["estimator"])


@pytest.mark.parametrize("routing", [False, True])
def test_pipeline_routes_the_model_to_the_explainer(routing):
    X, truth, white_box = _data()
    scale = FunctionTransformer(lambda A: 2.0 * A)  # the white box then sees 2·x
    with sklearn.config_context(enable_metadata_routing=routing):
        pipe = Pipeline([("scale", scale), ("explain", EXPLAINERS["DynaMask"]())])
        # routing off: the step__param convention; on: the explainer requests ``model`` itself
        masks = (pipe.fit(X, model=white_box) if routing else pipe.fit(X, explain__model=white_box)).transform(X)
    direct = EXPLAINERS["DynaMask"]().fit(2.0 * X, model=white_box).transform(2.0 * X)
    np.testing.assert_allclose(masks, direct)
    assert sklearn.get_config()["enable_metadata_routing"] is False


@pytest.mark.parametrize("routing", [False, True])
def test_frozen_model_parameter_in_grid_search_with_routing_on_and_off(routing):
    X, truth, white_box = _data()
    explainer = EXPLAINERS["DynaMask"](model=FrozenEstimator(white_box))
    with sklearn.config_context(enable_metadata_routing=routing):
        search = GridSearchCV(explainer, GRIDS["DynaMask"], scoring=SALIENCY_SCORING, refit="aup", cv=KFold(2))
        search.fit(X, truth)
    assert search.best_params_ == {"area": SALIENT_AREA}
    assert search.best_estimator_.model.estimator is white_box


# --------------------------------------------------------------- persistence
@pytest.mark.parametrize("name", list(EXPLAINERS))
@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_fitted_explainer_round_trip(name, how):
    X, truth, white_box = _data()
    explainer = EXPLAINERS[name]().fit(X, model=white_box)
    new = make_spiky_panel(1, n=3)[0]
    expected_new = explainer.transform(new)
    if how == "pickle":
        back = pickle.loads(pickle.dumps(explainer))
    else:
        buffer = io.BytesIO()
        joblib.dump(explainer, buffer)
        buffer.seek(0)
        back = joblib.load(buffer)
    np.testing.assert_array_equal(back.transform(X), explainer.transform(X))
    np.testing.assert_allclose(back.transform(new), expected_new, atol=1e-6)
    assert back.get_params().keys() == explainer.get_params().keys()


@pytest.mark.parametrize("name", list(EXPLAINERS))
def test_clone_is_unfitted_with_equal_params(name):
    X, truth, white_box = _data()
    explainer = EXPLAINERS[name]().fit(X, model=white_box)
    twin = clone(explainer)
    assert not hasattr(twin, "model_") and not hasattr(twin, "n_features_in_")
    assert twin.get_params().keys() == explainer.get_params().keys()
    for key, value in explainer.get_params().items():
        assert value is None or isinstance(value, (nn.Module, torch.Tensor)) or twin.get_params()[key] == value
