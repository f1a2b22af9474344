"""The scikit-learn contract shared by every explainer, checked on DynaMask."""

import pickle

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_tsmask import DynaMask
from sklearn_tsmask.datasets import RareWhiteBox, make_rare_feature
from sklearn_tsmask.metrics import SALIENCY_SCORERS
from conftest import C, SALIENT, SALIENT_AREA, CallCounter, dynamask, make_spiky_panel, salient_set, top_k_sets


@pytest.fixture
def count_explain(monkeypatch):
    """Count the optimisations (calls of ``_explain``) of every DynaMask, clones included."""
    calls = []
    original = DynaMask._explain

    def counted(self, x, kwargs, *, fitting):
        calls.append((fitting, x.shape[0]))
        return original(self, x, kwargs, fitting=fitting)

    monkeypatch.setattr(DynaMask, "_explain", counted)
    return calls


# ----------------------------------------------------------- how to fit


def test_model_positional_or_keyword(spiky):
    X, truth, white_box = spiky
    a = dynamask().fit(X, white_box)
    b = dynamask().fit(X, model=white_box)
    c = dynamask().fit(X, truth, model=white_box)  # y = true saliency, ignored by fit
    np.testing.assert_array_equal(a.masks_, b.masks_)
    np.testing.assert_array_equal(a.masks_, c.masks_)
    assert dynamask().fit(X, white_box) is not None


def test_fit_returns_self(spiky):
    X, _, white_box = spiky
    est = dynamask(n_epochs=2)
    assert est.fit(X, white_box) is est


def test_missing_model(spiky):
    X, truth, _ = spiky
    with pytest.raises(ValueError, match="No model"):
        dynamask(n_epochs=2).fit(X)
    with pytest.raises(ValueError, match="No model"):
        dynamask(n_epochs=2).fit(X, truth)


def test_model_given_twice(spiky):
    X, _, white_box = spiky
    with pytest.raises(ValueError, match="pass it once"):
        dynamask(n_epochs=2).fit(X, white_box, model=white_box)


# ------------------------------------------------------- optimise once


def test_fit_transform_equals_fit_then_transform_and_optimises_once(spiky, count_explain):
    X, _, white_box = spiky
    ft = dynamask().fit_transform(X, white_box)
    assert count_explain == [(True, len(X))]
    est = dynamask().fit(X, white_box)
    masks = est.transform(X)
    assert count_explain == [(True, len(X))] * 2  # transform of the fitted data: no optimisation
    np.testing.assert_array_equal(ft, masks)
    np.testing.assert_array_equal(masks, est.masks_)


def test_model_calls_of_fit_transform():
    # counting the black box's own calls: probe (1) + target (1) + 2 per epoch (forward, plus the
    # final error of every variant) — and nothing more for transform on the fitted data.
    X, _ = make_spiky_panel(0)
    model = CallCounter()
    est = dynamask(n_epochs=7)
    est.fit_transform(X, model)
    assert model.calls == 1 + 1 + 7 + 1
    est.transform(X)
    est.transform(X.astype(np.float32))  # same values in the model's dtype: still the fitted data
    assert model.calls == 10


def test_transform_new_data_optimises_once_then_caches(spiky, count_explain):
    X, _, white_box = spiky
    est = dynamask().fit(X, white_box)
    new = make_spiky_panel(1, n=3)[0]
    m1 = est.transform(new)
    assert count_explain == [(True, 6), (False, 3)]
    m2 = est.transform(new)
    assert count_explain == [(True, 6), (False, 3)]
    np.testing.assert_array_equal(m1, m2)
    # the fitted data is still known after explaining other data
    np.testing.assert_array_equal(est.transform(X), est.masks_)
    assert len(count_explain) == 2
    other = make_spiky_panel(2, n=2)[0]
    est.transform(other)
    est.transform(new)  # only the previous call is remembered
    assert [c[1] for c in count_explain] == [6, 3, 2, 3]
    np.testing.assert_array_equal(est.transform(new), m1)


def test_transform_of_new_data_equals_fitting_it(spiky):
    X, _, white_box = spiky
    new = make_spiky_panel(1, n=3)[0]
    est = dynamask().fit(X, white_box)
    np.testing.assert_allclose(est.transform(new), dynamask().fit(new, white_box).masks_, atol=1e-6)


def test_transform_with_model_kwargs_is_keyed_on_them():
    X, truth, white_box, groups = _diffgroups()
    est = dynamask(area=3 / 48, n_epochs=40).fit(X, white_box, model_kwargs={"groups": groups})
    np.testing.assert_array_equal(est.transform(X, model_kwargs={"groups": groups}), est.masks_)
    swapped = est.transform(X, model_kwargs={"groups": 1 - groups})  # other groups: other masks
    assert not np.allclose(swapped, est.masks_)


# --------------------------------------------------------- sklearn API


def test_clone_get_set_params(spiky):
    X, _, white_box = spiky
    est = dynamask(area=[0.1, 0.2], lambda_time=0.5, n_epochs=3).fit(X, white_box)
    cl = clone(est)
    assert cl.get_params() == est.get_params()
    for attr in ("masks_", "model_", "area_", "loss_history_", "n_features_in_"):
        assert not hasattr(cl, attr)
    with pytest.raises(NotFittedError):
        cl.transform(X)
    params = est.get_params()
    assert params["area"] == [0.1, 0.2] and params["lambda_time"] == 0.5 and params["device"] == "cpu"
    assert set(params) >= {"perturbation", "sigma_max", "window", "baseline", "mode", "epsilon", "optimizer"}
    assert cl.set_params(area=0.3, mode="deletion") is cl
    assert cl.area == 0.3 and cl.mode == "deletion"
    with pytest.raises(ValueError, match="Invalid parameter"):
        cl.set_params(colour="red")
    assert "DynaMask(" in repr(cl) and "deletion" in repr(cl)


def test_pickle_round_trip(spiky):
    X, _, white_box = spiky
    est = dynamask(area=[SALIENT_AREA, 0.25]).fit(X, white_box)
    new = make_spiky_panel(1, n=3)[0]
    expected_new = est.transform(new)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.transform(X), est.transform(X))
    np.testing.assert_array_equal(restored.transform(new), expected_new)
    np.testing.assert_array_equal(restored.area_, est.area_)
    # a fresh optimisation after unpickling gives the same masks
    other = make_spiky_panel(2, n=2)[0]
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).transform(other), est.transform(other))


def test_transform_before_fit(spiky):
    X, _, _ = spiky
    with pytest.raises(NotFittedError):
        dynamask().transform(X)


def test_transform_with_other_number_of_channels(spiky):
    X, _, white_box = spiky
    est = dynamask(n_epochs=3).fit(X, white_box)
    with pytest.raises(ValueError, match=r"X has 3 channels, but DynaMask was fitted with 4 channels"):
        est.transform(X[:, :3])


def test_transform_other_length_with_length_free_model(spiky):
    X, _, _ = spiky
    est = dynamask(n_epochs=3).fit(X, lambda x: (x**2).sum(1))
    assert est.transform(X[:, :, :10]).shape == (6, C, 10)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(area=0.0), "area"),
        (dict(area=1.5), "area"),
        (dict(area=1.0), "area"),
        (dict(area=[0.1, 0.1]), "distinct"),
        (dict(area=[]), "area"),
        (dict(perturbation="blur"), "perturbation"),
        (dict(mode="keep"), "mode"),
        (dict(optimizer="lbfgs"), "optimizer"),
        (dict(loss="l1"), "loss"),
        (dict(n_epochs=0), "n_epochs"),
        (dict(n_epochs=2.5), "n_epochs"),
        (dict(batch_size=0), "batch_size"),
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(lambda_area=-1.0), "lambda_area"),
        (dict(lambda_time=-0.1), "lambda_time"),
        (dict(lambda_area_growth=0.5), "lambda_area_growth"),
        (dict(sigma_max=0.0), "sigma_max"),
        (dict(window=-1), "window"),
        (dict(epsilon="small"), "epsilon"),
        (dict(model_layout="TCN"), "model_layout"),
        (dict(device="tpu"), "device"),
    ],
)
def test_invalid_hyper_parameters_at_fit(spiky, params, match, count_explain):
    X, _, white_box = spiky
    est = dynamask(**params)  # the constructor accepts anything
    with pytest.raises(ValueError, match=match):
        est.fit(X, white_box)
    assert count_explain == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU-only machine")
def test_cuda_on_cpu_only_machine(spiky):
    X, _, white_box = spiky
    with pytest.raises(ValueError, match="CUDA is not available"):
        dynamask(device="cuda").fit(X, white_box)


def test_auto_device_on_cpu_data(spiky):
    X, _, white_box = spiky
    est = dynamask(device="auto", n_epochs=2).fit(X, white_box)
    assert est.device_.type == ("cuda" if torch.cuda.is_available() else "cpu")


# -------------------------------------------------------- model_kwargs


def _diffgroups():
    """Small DiffGroups Rare-Feature panel whose salient entries are made large (easy to find)."""
    X, truth, white_box, groups = make_rare_feature(
        n_samples=6, n_timepoints=12, n_channels=4, n_salient=1, salient_window=(3, 6),
        diffgroups=True, return_groups=True, random_state=0,
    )
    X = 0.1 * X
    X[truth.astype(bool)] = np.where(X[truth.astype(bool)] > 0, 2.0, -2.0)
    return X, truth, white_box, groups


def test_model_kwargs_groups():
    X, truth, white_box, groups = _diffgroups()
    assert white_box.n_groups == 2 and set(groups) == {0, 1}
    k = int(truth[0].sum())  # 3 entries per sample
    est = dynamask(area=k / 48, perturbation="fade_reference", n_epochs=60)
    masks = est.fit_transform(X, white_box, model_kwargs={"groups": groups})
    for i in range(len(X)):
        assert top_k_sets(masks[i : i + 1], k)[0] == set(np.flatnonzero(truth[i].ravel()).tolist()), i
    with pytest.raises(ValueError, match="needs the group id"):
        dynamask(n_epochs=2).fit(X, white_box)


def test_model_kwargs_follow_row_permutation():
    X, truth, white_box, groups = _diffgroups()
    perm = np.array([3, 0, 5, 1, 4, 2])
    params = dict(area=[3 / 48, 0.2], n_epochs=60)
    est = dynamask(**params).fit(X, white_box, model_kwargs={"groups": groups})
    permuted = dynamask(**params).fit(X[perm], white_box, model_kwargs={"groups": groups[perm]})
    np.testing.assert_allclose(permuted.masks_, est.masks_[perm], atol=1e-5)
    np.testing.assert_array_equal(permuted.area_, est.area_[perm])
    # and so does a transform of permuted rows with batches
    batched = dynamask(batch_size=4, **params).fit(X, white_box, model_kwargs={"groups": groups})
    np.testing.assert_allclose(
        batched.transform(X[perm], model_kwargs={"groups": torch.from_numpy(groups[perm])}),
        est.masks_[perm],
        atol=1e-5,
    )


@pytest.mark.parametrize("value", [np.zeros(5, dtype=int), np.zeros(7, dtype=int), np.int64(0)])
def test_model_kwargs_wrong_length(value):
    X, _, white_box, _ = _diffgroups()
    with pytest.raises(ValueError, match=r"model_kwargs\['groups'\] must have one row per series \(6\)"):
        dynamask(n_epochs=2).fit(X, white_box, model_kwargs={"groups": value})


def test_model_kwargs_wrong_length_in_transform():
    X, _, white_box, groups = _diffgroups()
    est = dynamask(n_epochs=2).fit(X, white_box, model_kwargs={"groups": groups})
    with pytest.raises(ValueError, match=r"one row per series \(2\)"):
        est.transform(X[:2], model_kwargs={"groups": groups})


def test_model_kwargs_not_a_dict():
    X, _, white_box, groups = _diffgroups()
    with pytest.raises(TypeError, match="dict"):
        dynamask(n_epochs=2).fit(X, white_box, model_kwargs=[groups])


# ------------------------------------------------------------ GridSearchCV


def _search_data():
    X, truth = make_spiky_panel(0, n=8)
    return X, truth, RareWhiteBox(SALIENT.astype(np.float32))


AREA_GRID = [SALIENT_AREA, 0.5]


@pytest.mark.parametrize("routing", [False, True])
def test_grid_search_over_areas(routing, count_explain):
    X, truth, white_box = _search_data()
    search = GridSearchCV(
        dynamask(n_epochs=40),
        {"area": AREA_GRID},
        scoring=SALIENCY_SCORERS,
        refit="aup",
        cv=KFold(2),
    )
    with sklearn.config_context(enable_metadata_routing=routing):
        search.fit(X, truth, model=white_box)
    assert sklearn.get_config()["enable_metadata_routing"] is False
    assert search.best_params_ == {"area": SALIENT_AREA}
    res = search.cv_results_
    assert res["mean_test_aup"][0] > res["mean_test_aup"][1]
    assert res["mean_test_auroc"][0] == 1.0 and res["mean_test_auprc"][0] == 1.0
    # per candidate and fold: one fit and one transform of the test fold, however many scorers;
    # then one refit on everything
    fits = [c for c in count_explain if c[0]]
    transforms = [c for c in count_explain if not c[0]]
    assert len(fits) == len(AREA_GRID) * 2 + 1
    assert len(transforms) == len(AREA_GRID) * 2
    assert all(n == 4 for _, n in transforms)
    assert count_explain[-1] == (True, 8)
    masks = search.best_estimator_.transform(X)
    assert all(s == salient_set() for s in top_k_sets(masks, int(SALIENT.sum())))
    assert len(count_explain) == len(AREA_GRID) * 4 + 1  # the refitted data is not optimised again


def test_grid_search_scores_match_direct_evaluation():
    X, truth, white_box = _search_data()
    search = GridSearchCV(
        dynamask(n_epochs=40), {"area": [SALIENT_AREA]}, scoring=SALIENCY_SCORERS, refit="aup", cv=KFold(2)
    ).fit(X, truth, model=white_box)
    train, test = next(iter(KFold(2).split(X)))
    est = dynamask(n_epochs=40).fit(X[train], white_box)
    for name, scorer in SALIENCY_SCORERS.items():
        assert search.cv_results_[f"split0_test_{name}"][0] == pytest.approx(scorer(est, X[test], truth[test]))


def test_returned_masks_do_not_share_memory_with_fitted_state():
    """Editing what fit_transform/transform return must not change later results."""
    import numpy as np
    import torch

    from sklearn_tsmask import DynaMask

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 2, 8)).astype(np.float32)  # float32: no dtype conversion copy
    model = lambda x: (x[:, 0, 2:5] ** 2).sum(-1)  # noqa: E731
    est = DynaMask(area=0.2, n_epochs=20, random_state=0)
    first = est.fit_transform(X, model)
    reference = first.copy()
    first[:] = -1.0
    np.testing.assert_array_equal(est.masks_, reference)
    again = est.transform(X)
    np.testing.assert_array_equal(again, reference)
    again[:] = 7.0
    np.testing.assert_array_equal(est.transform(X), reference)
    Xt = torch.as_tensor(X)
    out_t = est.transform(Xt)
    out_t.fill_(3.0)
    np.testing.assert_array_equal(est.transform(Xt).numpy(), reference)


def test_set_params_after_fit_is_not_answered_from_the_cache(spiky, count_explain):
    X, _, white_box = spiky
    est = dynamask(n_epochs=20).fit(X, white_box)
    np.testing.assert_array_equal(est.transform(X), est.masks_)
    assert len(count_explain) == 1
    est.set_params(area=0.5)
    masks = est.transform(X)
    assert len(count_explain) == 2 and not np.allclose(masks, est.masks_)
    np.testing.assert_array_equal(masks, dynamask(n_epochs=20, area=0.5).fit_transform(X, white_box))


def test_set_params_with_an_array_that_prints_alike_is_not_answered_from_the_cache():
    """numpy abbreviates long arrays in repr: the cache key must use their contents."""
    X = np.random.RandomState(0).randn(2, 4, 300)
    model = lambda x: (x**2).sum(1)  # noqa: E731  a callable black box, outputs (N, T)
    base = np.zeros((4, 300))
    other = base.copy()
    other[1, 150] = 3.0  # hidden in the '...' of the repr
    assert repr(base) == repr(other)
    est = dynamask(n_epochs=5, perturbation="fade_reference", baseline=base).fit(X, model)
    first = est.transform(X)
    est.set_params(baseline=other)
    again = est.transform(X)
    np.testing.assert_array_equal(
        again, dynamask(n_epochs=5, perturbation="fade_reference", baseline=other).fit_transform(X, model)
    )
    assert not np.array_equal(first, again)
