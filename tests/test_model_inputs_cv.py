"""Per-series model inputs travel through cross-validation, and one search evaluation optimises once.

The DiffGroups white box needs each series' group id. Bundled with the series in a
``WithInputs``, the ids are split per fold by GridSearchCV, cross_validate and Pipeline,
with metadata routing on and off, and reach the scorers' ``transform``.
"""

import numpy as np
import pytest
import sklearn
import torch
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline

from sklearn_tsmask import DynaMask, WithInputs
from sklearn_tsmask.datasets import make_rare_time
from sklearn_tsmask.metrics import SALIENCY_SCORERS, SALIENCY_SCORING, aur, make_scoring

PARAMS = dict(max_iter=150, device="cpu", random_state=0)
# areas of the rare data: 5 of 10 time steps on 4 of 8 channels would be 0.25; the truth is 5 times x 4 channels
GRID = {"area": [0.05, 0.25]}


def _diffgroups(n=12):
    X, truth, white_box, groups = make_rare_time(
        n_samples=n, n_timepoints=10, n_channels=8, n_salient=5, salient_window=(2, 6), diffgroups=True,
        return_groups=True, random_state=0,
    )
    return X, truth, white_box, groups


class _Recorder(DynaMask):
    """DynaMask that records the group ids its black box receives in fit and transform."""

    seen = []

    def fit(self, X, y=None, *, model=None):
        type(self).seen.append(("fit", np.asarray(X.inputs["groups"]).copy()))
        return super().fit(X, y, model=model)

    def transform(self, X):
        type(self).seen.append(("transform", np.asarray(X.inputs["groups"]).copy()))
        return super().transform(X)


@pytest.mark.parametrize("routing", [False, True])
def test_grid_search_over_diffgroups_splits_the_group_ids_per_fold(routing):
    X, truth, white_box, groups = _diffgroups()
    panel = WithInputs(X, groups=groups)
    _Recorder.seen = []
    cv = KFold(3)
    with sklearn.config_context(enable_metadata_routing=routing):
        search = GridSearchCV(_Recorder(**PARAMS), GRID, scoring=SALIENCY_SCORING, refit="aur", cv=cv)
        search.fit(panel, truth, model=white_box)
    assert sklearn.get_config()["enable_metadata_routing"] is False
    # every fit got its training rows' ids and every transform its test rows', in fold order
    folds = list(cv.split(X))
    fits = [ids for what, ids in _Recorder.seen if what == "fit"]
    transforms = [ids for what, ids in _Recorder.seen if what == "transform"]
    assert len(transforms) == len(GRID["area"]) * 3  # one transform per (candidate, fold): masks optimised once
    for k, ids in enumerate(transforms):
        np.testing.assert_array_equal(ids, groups[folds[k % 3][1]])
    for k, ids in enumerate(fits[:-1]):
        np.testing.assert_array_equal(ids, groups[folds[k % 3][0]])
    np.testing.assert_array_equal(fits[-1], groups)  # the refit on everything
    # the search picks the true area by AUR and its scores are those of the masks of each test fold
    assert search.best_params_ == {"area": 0.25}
    best = search.best_estimator_
    for k, (train, test) in enumerate(folds):
        masks = _Recorder(area=0.25, **PARAMS).fit(panel[train], model=white_box).transform(panel[test])
        assert search.cv_results_[f"split{k}_test_aur"][1] == pytest.approx(aur(truth[test], masks))
    assert best.model_inputs_ == ("groups",)


def test_without_the_group_ids_the_error_names_the_inputs():
    X, truth, white_box, groups = _diffgroups()
    explainer = DynaMask(**PARAMS).fit(WithInputs(X, groups=groups), model=white_box)
    with pytest.raises(ValueError, match=r"fitted with the model inputs \['groups'\]"):
        explainer.transform(X)


@pytest.mark.parametrize("routing", [False, True])
def test_cross_validate_and_pipeline_carry_the_inputs(routing):
    X, truth, white_box, groups = _diffgroups()
    panel = WithInputs(X, groups=groups)
    with sklearn.config_context(enable_metadata_routing=routing):
        scores = cross_validate(DynaMask(area=0.25, **PARAMS), panel, truth, scoring=SALIENCY_SCORING, cv=KFold(3),
                                params={"model": white_box})
        pipe = Pipeline([("explain", DynaMask(area=0.25, **PARAMS))])
        masks = (pipe.fit(panel, model=white_box) if routing else pipe.fit(panel, explain__model=white_box)).transform(
            panel
        )
    direct = DynaMask(area=0.25, **PARAMS).fit_transform(panel, model=white_box)
    np.testing.assert_array_equal(masks, direct)
    assert scores["test_aur"].shape == (3,) and (scores["test_aur"] > 0.5).all()


def test_one_scoring_object_optimises_once_a_dict_once_per_scorer():
    X, truth, white_box, groups = _diffgroups()
    panel = WithInputs(X, groups=groups)

    calls = []

    class Counting(DynaMask):
        def transform(self, X):
            calls.append(len(X))
            return super().transform(X)

    one = GridSearchCV(Counting(**PARAMS), GRID, scoring=make_scoring(["aup", "aur"]), refit="aur", cv=KFold(3))
    one.fit(panel, truth, model=white_box)
    n_one = len(calls)
    calls.clear()
    dict_of_two = {"aup": SALIENCY_SCORERS["aup"], "aur": SALIENCY_SCORERS["aur"]}
    two = GridSearchCV(Counting(**PARAMS), GRID, scoring=dict_of_two, refit="aur", cv=KFold(3))
    two.fit(panel, truth, model=white_box)
    assert n_one == 6 and len(calls) == 12  # 2 candidates x 3 folds, times the number of scorers for a dict
    for key in ("mean_test_aup", "mean_test_aur", "split2_test_aur"):
        np.testing.assert_array_equal(one.cv_results_[key], two.cv_results_[key])


def test_with_inputs_is_indexed_like_an_array():
    X, truth, white_box, groups = _diffgroups()
    panel = WithInputs(torch.as_tensor(X), groups=groups)
    rows = np.array([5, 0, 7])
    part = panel[rows]
    assert isinstance(part.X, torch.Tensor) and torch.equal(part.X, torch.as_tensor(X[rows]))
    np.testing.assert_array_equal(part.inputs["groups"], groups[rows])
    np.testing.assert_array_equal(panel[groups == 1].inputs["groups"], groups[groups == 1])
    assert len(panel[2:5]) == 3 and panel[rows, ...].shape == (3,)
    with pytest.raises(ValueError, match=r"the model input 'groups' must have one row per series \(12\), got shape \(6,\)"):
        WithInputs(X, groups=groups[:6])
    with pytest.raises(IndexError, match="indexed by arrays of rows or slices"):
        panel[0]
