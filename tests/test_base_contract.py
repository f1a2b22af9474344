"""The scikit-learn contract shared by every explainer, checked on DynaMask."""

import pickle
import re

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_tsmask import DynaMask, WithInputs
from sklearn_tsmask.callbacks import Callback
from sklearn_tsmask.datasets import RareWhiteBox, make_rare_feature
from sklearn_tsmask.metrics import SALIENCY_SCORERS, SALIENCY_SCORING
from conftest import C, SALIENT, SALIENT_AREA, CallCounter, dynamask, make_spiky_panel, salient_set, top_k_sets


@pytest.fixture
def count_optimise(monkeypatch):
    """Record the number of series of each optimisation (``_optimise`` call) of any DynaMask, clones included."""
    calls = []
    original = DynaMask._optimise

    def counted(self, x, kwargs, model, networks, **options):
        calls.append(len(x))
        return original(self, x, kwargs, model, networks, **options)

    monkeypatch.setattr(DynaMask, "_optimise", counted)
    return calls


class CountSteps(Callback):
    """Count the loop's runs and optimiser steps (a public way to see what a call optimises)."""

    def __init__(self):
        self.runs = 0
        self.steps = 0

    def on_explain_begin(self, explainer, *, n_batches, max_iter, training):
        self.runs += 1

    def on_epoch_end(self, epoch, loss):
        self.steps += 1


def fitted_state(est):
    """The public fitted attributes of an estimator, by name."""
    return {k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_")}


# ----------------------------------------------------------- how to fit


def test_model_positional_or_keyword(spiky):
    X, truth, white_box = spiky
    a = dynamask().fit_transform(X, white_box)
    b = dynamask().fit_transform(X, model=white_box)
    c = dynamask().fit_transform(X, truth, model=white_box)  # y = true saliency, ignored
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert dynamask().fit(X, white_box) is not None
    np.testing.assert_array_equal(dynamask().fit(X, truth, model=white_box).transform(X), a)


def test_fit_returns_self(spiky):
    X, _, white_box = spiky
    est = dynamask(max_iter=2)
    assert est.fit(X, white_box) is est


def test_missing_model(spiky):
    X, truth, _ = spiky
    with pytest.raises(ValueError, match="No model"):
        dynamask(max_iter=2).fit(X)
    with pytest.raises(ValueError, match="No model"):
        dynamask(max_iter=2).fit(X, truth)


def test_model_given_twice(spiky):
    X, _, white_box = spiky
    with pytest.raises(ValueError, match="A model was given both as y and as model=; pass it once."):
        dynamask(max_iter=2).fit(X, white_box, model=white_box)


# --------------------------------------- what fit, transform and fit_transform optimise


def test_fit_optimises_nothing(spiky, count_optimise):
    X, _, _ = spiky
    model = CallCounter()
    steps = CountSteps()
    est = dynamask(max_iter=50, callbacks=[steps]).fit(X, model)
    # one call on a probe batch to check the model's output; no optimisation step
    assert model.calls == 1
    assert count_optimise == [] and steps.runs == 0 and steps.steps == 0
    assert est.model_inputs_ == () and est.n_features_in_ == C


def test_fit_transform_equals_fit_then_transform_and_optimises_once(spiky, count_optimise):
    X, _, white_box = spiky
    ft = dynamask().fit_transform(X, white_box)
    assert count_optimise == [len(X)]
    est = dynamask().fit(X, white_box)
    assert count_optimise == [len(X)]  # fit: no optimisation
    masks = est.transform(X)
    assert count_optimise == [len(X)] * 2  # transform optimises, even on the fitted data
    np.testing.assert_array_equal(ft, masks)  # bit-identical
    np.testing.assert_array_equal(est.transform(X), masks)
    assert count_optimise == [len(X)] * 3


def test_model_calls_of_fit_and_transform():
    # counting the black box's own calls: probe (1) + target (1) + 1 per step (forward) + 1 (the final
    # error of every variant); transform pays for the target and the steps again at every call.
    X, _ = make_spiky_panel(0)
    model = CallCounter()
    est = dynamask(max_iter=7)
    est.fit_transform(X, model)
    assert model.calls == 1 + 1 + 7 + 1
    est.transform(X)
    assert model.calls == 10 + 1 + 7 + 1
    est.transform(X.astype(np.float32))  # the same values: still optimised again
    assert model.calls == 19 + 9
    est.fit(X, model)
    assert model.calls == 28 + 1  # the probe only


def test_transform_optimises_every_call_and_is_deterministic(spiky, count_optimise):
    X, _, white_box = spiky
    steps = CountSteps()
    est = dynamask(max_iter=20, callbacks=[steps]).fit(X, white_box)
    new = make_spiky_panel(1, n=3)[0]
    m1 = est.transform(new)
    assert count_optimise == [3] and (steps.runs, steps.steps) == (1, 20)
    m2 = est.transform(new)
    assert count_optimise == [3, 3] and (steps.runs, steps.steps) == (2, 40)
    np.testing.assert_array_equal(m1, m2)
    # a pure function of the fitted state, the parameters and X: other calls in between change nothing
    other = make_spiky_panel(2, n=2)[0]
    est.transform(other)
    est.transform(X)
    np.testing.assert_array_equal(est.transform(new), m1)
    assert count_optimise == [3, 3, 2, 6, 3]
    # and a fitted explainer explains new data as fitting on it would
    np.testing.assert_array_equal(m1, dynamask(max_iter=20).fit_transform(new, white_box))


def test_transform_of_new_data_equals_fitting_it(spiky):
    X, _, white_box = spiky
    new = make_spiky_panel(1, n=3)[0]
    est = dynamask().fit(X, white_box)
    np.testing.assert_array_equal(est.transform(new), dynamask().fit_transform(new, white_box))


def test_transform_uses_the_model_inputs_it_is_given():
    X, truth, white_box, groups = _diffgroups()
    Xg = WithInputs(X, groups=groups)
    est = dynamask(area=3 / 48, max_iter=40).fit(Xg, white_box)
    assert est.model_inputs_ == ("groups",)
    masks = est.transform(Xg)
    np.testing.assert_array_equal(masks, dynamask(area=3 / 48, max_iter=40).fit_transform(Xg, white_box))
    swapped = est.transform(WithInputs(X, groups=1 - groups))  # other groups: other masks
    assert not np.allclose(swapped, masks)
    # the inputs given to fit are needed by transform, under the same names
    fitted_with = r"DynaMask was fitted with the model inputs \['groups'\] besides the series, got "
    with pytest.raises(ValueError, match=fitted_with + r"\[\]"):
        est.transform(X)
    with pytest.raises(ValueError, match=fitted_with + r"\['group'\]"):
        est.transform(WithInputs(X, group=groups))
    plain = dynamask(max_iter=2).fit(X, lambda x: (x**2).sum(1))
    with pytest.raises(ValueError, match=r"fitted with the model inputs \[\] besides the series, got \['groups'\]"):
        plain.transform(Xg)


# ------------------------------------------------ a failed fit, a successful refit


def _raising_model(x):
    raise RuntimeError("black box down")


class _Diverging:
    """Finite on the probe and the target (its first two calls), NaN on every perturbed series after."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        out = (x**2).sum(1)
        return out if self.calls <= 2 else out * float("nan")


def test_failed_fit_leaves_the_fitted_estimator_unchanged(spiky):
    X, _, white_box = spiky
    est = dynamask(max_iter=10).fit(X, white_box)
    before = fitted_state(est)
    assert set(before) >= {"model_", "device_", "n_features_in_", "n_timepoints_", "output_shape_", "model_inputs_",
                           "areas_"}
    expected = est.transform(X)

    def assert_unchanged():
        after = fitted_state(est)
        assert after.keys() == before.keys()
        assert all(after[k] is before[k] for k in before), [k for k in before if after[k] is not before[k]]

    # a model that raises (on other data, with another number of channels)
    raising = r"Calling the model on a batch of shape \(6, 3, 16\) \(NCT\) failed with RuntimeError: black box down"
    with pytest.raises(ValueError, match=raising):
        est.fit(X[:, :3], _raising_model)
    assert_unchanged()
    # an invalid parameter set after fit
    est.set_params(max_iter=0)
    with pytest.raises(InvalidParameterError, match="The 'max_iter' parameter of DynaMask must be an int"):
        est.fit(X[:, :3], lambda x: (x**2).sum(1))
    with pytest.raises(InvalidParameterError, match="The 'max_iter' parameter of DynaMask must be an int"):
        est.fit_transform(X[:, :3], lambda x: (x**2).sum(1))
    # transform re-validates too
    with pytest.raises(InvalidParameterError, match="The 'max_iter' parameter of DynaMask must be an int"):
        est.transform(X)
    assert_unchanged()
    # an optimisation that fails (non-finite loss) in fit_transform
    est.set_params(max_iter=10)
    with pytest.raises(FloatingPointError, match="DynaMask: the loss of batch 0 stopped being finite at step 0"):
        est.fit_transform(X[:, :3], _Diverging())
    assert_unchanged()
    # the explainer still works as fitted
    np.testing.assert_array_equal(est.transform(X), expected)


def test_failed_first_fit_leaves_no_fitted_attribute(spiky):
    X, _, _ = spiky
    est = dynamask(max_iter=2)
    with pytest.raises(ValueError, match="black box down"):
        est.fit(X, _raising_model)
    assert fitted_state(est) == {}
    with pytest.raises(NotFittedError):
        est.transform(X)


def test_successful_refit_replaces_every_fitted_attribute():
    X, truth, white_box, groups = _diffgroups()
    est = dynamask(max_iter=5).fit(WithInputs(X, groups=groups), white_box)
    assert est.model_inputs_ == ("groups",) and est.n_features_in_ == 4
    before = fitted_state(est)
    est.stale_ = "left by an earlier fit"  # e.g. an attribute an older version set
    est._private = "not a fitted attribute"
    est.set_params(area=[0.05, 0.2])
    est.fit(X[:, :3, :10], lambda x: (x**2).sum(1))
    assert not hasattr(est, "stale_")
    assert est._private == "not a fitted attribute"
    after = fitted_state(est)
    assert after.keys() == before.keys()
    assert after["model_"] is not before["model_"]
    assert est.model_inputs_ == () and est.n_features_in_ == 3 and est.n_timepoints_ == 10
    np.testing.assert_array_equal(est.areas_, [0.05, 0.2])
    assert est.transform(X[:2, :3]).shape == (2, 3, 12)


# --------------------------------------------------------- sklearn API


def test_clone_get_set_params(spiky):
    X, _, white_box = spiky
    est = dynamask(area=[0.1, 0.2], lambda_time=0.5, max_iter=3).fit(X, white_box)
    cl = clone(est)
    assert cl.get_params() == est.get_params()
    fitted = ("model_", "areas_", "device_", "n_features_in_", "n_timepoints_", "output_shape_", "model_inputs_")
    for attr in fitted:
        assert hasattr(est, attr) and not hasattr(cl, attr), attr
    for removed in ("masks_", "area_", "error_", "error_by_area_", "loss_history_", "n_iter_", "loss_curve_"):
        assert not hasattr(est, removed), removed  # DynaMask keeps no per-series result and trains nothing
    with pytest.raises(NotFittedError):
        cl.transform(X)
    params = est.get_params()
    assert params["area"] == [0.1, 0.2] and params["lambda_time"] == 0.5 and params["device"] == "cpu"
    assert set(params) >= {
        "perturbation", "sigma_max", "window", "baseline", "mode", "epsilon", "solver", "momentum", "max_iter",
        "tol", "n_iter_no_change", "callbacks", "verbose",
    }
    assert not set(params) & {"optimizer", "n_epochs"}
    assert cl.set_params(area=0.3, mode="deletion") is cl
    assert cl.area == 0.3 and cl.mode == "deletion"
    with pytest.raises(ValueError, match="Invalid parameter 'colour' for estimator DynaMask"):
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
    np.testing.assert_array_equal(restored.areas_, est.areas_)
    np.testing.assert_array_equal(restored.explain(X).area, est.explain(X).area)
    # a fresh optimisation after unpickling gives the same masks
    other = make_spiky_panel(2, n=2)[0]
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).transform(other), est.transform(other))


def test_transform_before_fit(spiky):
    X, _, _ = spiky
    with pytest.raises(NotFittedError):
        dynamask().transform(X)
    with pytest.raises(NotFittedError):
        dynamask().explain(X)


def test_transform_with_other_number_of_channels(spiky):
    X, _, white_box = spiky
    est = dynamask(max_iter=3).fit(X, white_box)
    with pytest.raises(ValueError, match=r"X has 3 channels, but DynaMask was fitted with 4 channels"):
        est.transform(X[:, :3])


def test_transform_other_length_with_length_free_model(spiky):
    X, _, _ = spiky
    est = dynamask(max_iter=3).fit(X, lambda x: (x**2).sum(1))
    assert est.transform(X[:, :, :10]).shape == (6, C, 10)


def _among(name, got, options):
    """scikit-learn's message for a string option: the set of ``options``, in any order (it varies between runs)."""
    every = "".join(f"(?=[^}}]*'{option}')" for option in options)
    n = len(options)
    return (
        rf"The '{name}' parameter of DynaMask must be a str among \{{{every}'[^']+'(, '[^']+'){{{n - 1}}}\}}\. "
        rf"Got '{got}' instead\."
    )


def _interval(name, interval, got, kind="float", extra=""):
    return re.escape(f"The '{name}' parameter of DynaMask must be a{'n' if kind == 'int' else ''} {kind} in the range "
                     f"{interval}{extra}. Got {got} instead.")


LOSSES = ["auto", "squared_error", "log_loss"]
_AREA = "The 'area' parameter of DynaMask must be a str among {{'auto'}}, a float in the range (0.0, 1.0) or an array-like. Got {} instead."


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(area=0.0), re.escape(_AREA.format(0.0))),
        (dict(area=1.5), re.escape(_AREA.format(1.5))),
        (dict(area=1.0), re.escape(_AREA.format(1.0))),
        (dict(area=[0.1, 0.1]), re.escape("The areas of DynaMask must be distinct; got [0.1, 0.1].")),
        (dict(area=[0.1, 1.2]), re.escape("Every area of DynaMask must be in (0, 1); got [0.1, 1.2].")),
        (
            dict(area=[]),
            re.escape("The 'area' parameter of DynaMask must be a float or a non-empty 1D sequence of floats; got []."),
        ),
        (
            dict(perturbation="blur"),
            _among(
                "perturbation", "blur", ["gaussian_blur", "fade_moving_average", "fade_past_average", "fade_reference"]
            ),
        ),
        (dict(mode="keep"), _among("mode", "keep", ["preservation", "deletion"])),
        (dict(solver="lbfgs"), _among("solver", "lbfgs", ["sgd", "adam"])),
        (dict(loss="l1"), _among("loss", "l1", LOSSES)),
        (dict(loss="mse"), _among("loss", "mse", LOSSES)),  # the old names are gone
        (dict(loss="cross_entropy"), _among("loss", "cross_entropy", LOSSES)),
        (dict(max_iter=0), _interval("max_iter", "[1, inf)", 0, "int")),
        (dict(max_iter=2.5), _interval("max_iter", "[1, inf)", 2.5, "int")),
        (dict(max_iter=True), _interval("max_iter", "[1, inf)", True, "int")),  # booleans are not numbers
        (dict(n_iter_no_change=0), _interval("n_iter_no_change", "[1, inf)", 0, "int")),
        (dict(tol=-1.0), _interval("tol", "[0.0, inf)", -1.0, extra=" or None")),
        (
            dict(batch_size=0),
            re.escape(
                "The 'batch_size' parameter of DynaMask must be a str among {'auto'}, an int in the range [1, inf) "
                "or None. Got 0 instead."
            ),
        ),
        (dict(learning_rate=0.0), _interval("learning_rate", "(0.0, inf)", 0.0)),
        (dict(learning_rate=float("inf")), _interval("learning_rate", "(0.0, inf)", "inf")),
        (dict(lambda_area=-1.0), _interval("lambda_area", "[0.0, inf)", -1.0)),
        (dict(lambda_time=-0.1), _interval("lambda_time", "[0.0, inf)", -0.1)),
        (dict(lambda_area_growth=0.5), _interval("lambda_area_growth", "[1.0, inf)", 0.5)),
        (dict(sigma_max=0.0), _interval("sigma_max", "(0.0, inf)", 0.0)),
        (dict(momentum=1.0), _interval("momentum", "[0.0, 1.0)", 1.0)),
        (dict(window=-1), _interval("window", "[1, inf)", -1, "int", extra=" or None")),
        (dict(window=0), _interval("window", "[1, inf)", 0, "int", extra=" or None")),  # the identity
        (dict(epsilon="small"), _interval("epsilon", "(-inf, inf)", "'small'", extra=" or None")),
        (dict(epsilon=float("nan")), _interval("epsilon", "(-inf, inf)", "nan", extra=" or None")),
        (dict(baseline=float("nan")), _interval("baseline", "(-inf, inf)", "nan", extra=" or an array-like")),
        (
            dict(baseline=[0.0, float("inf")]),
            re.escape("The 'baseline' parameter of DynaMask must be finite; got [0.0, inf]."),
        ),
        (
            dict(callbacks="progress"),
            re.escape(
                "The 'callbacks' parameter of DynaMask must be an instance of 'list' or None. Got 'progress' instead."
            ),
        ),
        (
            dict(callbacks=[print]),
            re.escape(
                "The 'callbacks' parameter must be a list of sklearn_tsmask.callbacks.Callback instances; got an "
                "element of type builtin_function_or_method."
            ),
        ),
        (
            dict(verbose="yes"),
            r"The 'verbose' parameter of DynaMask must be an int in the range \[0, inf\).* Got 'yes' instead\.",
        ),
        (dict(model_layout="TCN"), _among("model_layout", "TCN", ["NCT", "NTC"])),
    ],
)
def test_invalid_hyper_parameters_at_fit(spiky, params, match, count_optimise):
    X, _, white_box = spiky
    est = dynamask(**params)  # the constructor accepts anything
    for method in (est.fit, est.fit_transform):
        with pytest.raises(InvalidParameterError, match=match) as info:
            method(X, white_box)
        assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    assert count_optimise == []
    assert fitted_state(est) == {}


def test_invalid_device_at_fit(spiky):
    X, _, white_box = spiky
    est = dynamask(device="tpu")  # a string: what it names is checked when the device is resolved
    with pytest.raises(
        InvalidParameterError,
        match=re.escape("device='tpu' is not understood: use 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device."),
    ):
        est.fit(X, white_box)
    assert fitted_state(est) == {}


def test_old_parameter_names_are_gone(spiky):
    for old in ("n_epochs", "optimizer"):
        with pytest.raises(TypeError, match=f"unexpected keyword argument '{old}'"):
            DynaMask(**{old: 10})
        with pytest.raises(ValueError, match=f"Invalid parameter '{old}' for estimator DynaMask"):
            dynamask().set_params(**{old: 10})


def test_bool_verbose_is_accepted(spiky, capsys):
    X, _, white_box = spiky
    masks = dynamask(max_iter=3, verbose=True).fit_transform(X, white_box)
    assert "DynaMask.transform" in capsys.readouterr().err
    np.testing.assert_array_equal(masks, dynamask(max_iter=3, verbose=0).fit_transform(X, white_box))
    assert capsys.readouterr().err == ""


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU-only machine")
def test_cuda_on_cpu_only_machine(spiky):
    X, _, white_box = spiky
    with pytest.raises(InvalidParameterError, match="device='cuda' was asked for but CUDA is not available"):
        dynamask(device="cuda").fit(X, white_box)


def test_auto_device_on_cpu_data(spiky):
    X, _, white_box = spiky
    est = dynamask(device="auto", max_iter=2).fit(X, white_box)
    assert est.device_.type == ("cuda" if torch.cuda.is_available() else "cpu")


# ------------------------------------------------ model inputs (WithInputs)


def _diffgroups():
    """Small DiffGroups Rare-Feature panel whose salient entries are made large (easy to find)."""
    X, truth, white_box, groups = make_rare_feature(
        n_samples=6, n_timepoints=12, n_channels=4, n_salient=1, salient_window=(3, 6),
        diffgroups=True, return_groups=True, random_state=0,
    )
    X = 0.1 * X
    X[truth.astype(bool)] = np.where(X[truth.astype(bool)] > 0, 2.0, -2.0)
    return X, truth, white_box, groups


def test_model_inputs_groups():
    X, truth, white_box, groups = _diffgroups()
    assert white_box.n_groups == 2 and set(groups) == {0, 1}
    k = int(truth[0].sum())  # 3 entries per sample
    est = dynamask(area=k / 48, perturbation="fade_reference", max_iter=60)
    masks = est.fit_transform(WithInputs(X, groups=groups), white_box)
    assert isinstance(masks, np.ndarray) and masks.shape == X.shape  # shaped like the series
    for i in range(len(X)):
        assert top_k_sets(masks[i : i + 1], k)[0] == set(np.flatnonzero(truth[i].ravel()).tolist()), i
    with pytest.raises(ValueError, match="needs the group id"):
        dynamask(max_iter=2).fit(X, white_box)


def test_model_inputs_follow_row_permutation():
    X, truth, white_box, groups = _diffgroups()
    perm = np.array([3, 0, 5, 1, 4, 2])
    params = dict(area=[3 / 48, 0.2], max_iter=60)
    Xg = WithInputs(X, groups=groups)
    est = dynamask(**params).fit(Xg, white_box).explain(Xg)
    permuted = dynamask(**params).fit(Xg[perm], white_box).explain(Xg[perm])  # sliced as scikit-learn does
    np.testing.assert_allclose(permuted.masks, est.masks[perm], atol=1e-5)
    np.testing.assert_array_equal(permuted.area, est.area[perm])
    # and so does a transform of permuted rows with batches, the inputs in a tensor
    batched = dynamask(batch_size=4, **params).fit(Xg, white_box)
    np.testing.assert_allclose(
        batched.transform(WithInputs(X[perm], groups=torch.from_numpy(groups[perm]))),
        est.masks[perm],
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "value, shape",
    [(np.zeros(5, dtype=int), "(5,)"), (np.zeros(7, dtype=int), "(7,)"), (np.int64(0), "()")],
)
def test_model_inputs_wrong_length(value, shape):
    X, _, _, _ = _diffgroups()
    with pytest.raises(
        ValueError, match=re.escape(f"the model input 'groups' must have one row per series (6), got shape {shape}.")
    ):
        WithInputs(X, groups=value)


def test_model_inputs_wrong_length_in_transform():
    X, _, white_box, groups = _diffgroups()
    est = dynamask(max_iter=2).fit(WithInputs(X, groups=groups), white_box)
    wrong_rows = "the model input 'groups' must have one row per series (2), got shape (6,)."
    with pytest.raises(ValueError, match=re.escape(wrong_rows)):
        est.transform(WithInputs(X[:2], groups=groups))
    assert est.transform(WithInputs(X, groups=groups)[:2]).shape == (2, 4, 12)


def test_model_inputs_are_bundled_with_the_series():
    X, _, white_box, groups = _diffgroups()
    with pytest.raises(ValueError, match="WithInputs needs at least one per-series model input"):
        WithInputs(X)
    with pytest.raises(TypeError, match="X is already a WithInputs"):
        WithInputs(WithInputs(X, groups=groups), other=groups)
    with pytest.raises(ValueError, match="the model input 'groups' must be numeric .* got dtype <U1"):
        dynamask(max_iter=2).fit(WithInputs(X, groups=np.array(list("abcdef"))), white_box)
    # the keyword of the old API is gone
    with pytest.raises(TypeError, match="model_kwargs"):
        dynamask(max_iter=2).fit(X, white_box, model_kwargs={"groups": groups})


# ------------------------------------------------------------ GridSearchCV


def _search_data():
    X, truth = make_spiky_panel(0, n=8)
    return X, truth, RareWhiteBox(SALIENT.astype(np.float32))


AREA_GRID = [SALIENT_AREA, 0.5]


@pytest.mark.parametrize("routing", [False, True])
def test_grid_search_over_areas(routing, count_optimise):
    X, truth, white_box = _search_data()
    search = GridSearchCV(
        dynamask(max_iter=40),
        {"area": AREA_GRID},
        scoring=SALIENCY_SCORING,
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
    # per candidate and fold: one optimisation, of the test fold, for all the metrics (fit optimises
    # nothing); the refit optimises nothing either
    assert count_optimise == [4] * (len(AREA_GRID) * 2)
    masks = search.best_estimator_.transform(X)
    assert all(s == salient_set() for s in top_k_sets(masks, int(SALIENT.sum())))
    assert count_optimise[-1] == 8


def test_grid_search_scores_match_direct_evaluation(count_optimise):
    X, truth, white_box = _search_data()
    grid = {"area": [SALIENT_AREA]}
    search = GridSearchCV(
        dynamask(max_iter=40), grid, scoring=SALIENCY_SCORING, refit="aup", cv=KFold(2)
    ).fit(X, truth, model=white_box)
    assert len(count_optimise) == 2
    # the dict of single scorers gives the same scores, but optimises once per scorer
    single = GridSearchCV(
        dynamask(max_iter=40), grid, scoring=SALIENCY_SCORERS, refit="aup", cv=KFold(2)
    ).fit(X, truth, model=white_box)
    assert len(count_optimise) == 2 + 2 * len(SALIENCY_SCORERS)
    train, test = next(iter(KFold(2).split(X)))
    est = dynamask(max_iter=40).fit(X[train], white_box)
    for name, scorer in SALIENCY_SCORERS.items():
        expected = scorer(est, X[test], truth[test])
        assert search.cv_results_[f"split0_test_{name}"][0] == pytest.approx(expected)
        assert single.cv_results_[f"split0_test_{name}"][0] == search.cv_results_[f"split0_test_{name}"][0]


def test_returned_masks_do_not_share_memory_with_fitted_state():
    """Editing what fit_transform/transform return must not change later results."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 2, 8)).astype(np.float32)  # float32: no dtype conversion copy
    X_before = X.copy()
    model = lambda x: (x[:, 0, 2:5] ** 2).sum(-1)  # noqa: E731
    est = DynaMask(area=0.2, max_iter=20, random_state=0)
    first = est.fit_transform(X, model)
    reference = first.copy()
    assert not np.shares_memory(first, X)
    first[:] = -1.0
    np.testing.assert_array_equal(X, X_before)
    again = est.transform(X)
    np.testing.assert_array_equal(again, reference)
    again[:] = 7.0
    np.testing.assert_array_equal(est.transform(X), reference)
    Xt = torch.as_tensor(X)
    out_t = est.transform(Xt)
    out_t.fill_(3.0)
    np.testing.assert_array_equal(est.transform(Xt).numpy(), reference)
    np.testing.assert_array_equal(X, X_before)


def test_set_params_after_fit_applies_to_transform(spiky, count_optimise):
    X, _, white_box = spiky
    est = dynamask(max_iter=20).fit(X, white_box)
    before = est.transform(X)
    assert len(count_optimise) == 1
    est.set_params(area=0.5)
    explanation = est.explain(X)  # transform reads the current parameters: no refit needed
    assert len(count_optimise) == 2 and not np.allclose(explanation.masks, before)
    np.testing.assert_array_equal(explanation.area, 0.5)
    np.testing.assert_array_equal(explanation.masks, dynamask(max_iter=20, area=0.5).fit_transform(X, white_box))


def test_set_params_with_an_array_that_prints_alike_applies_to_transform():
    """numpy abbreviates long arrays in repr: a change hidden in the '...' must still be used."""
    X = np.random.RandomState(0).randn(2, 4, 300)
    model = lambda x: (x**2).sum(1)  # noqa: E731  a callable black box, outputs (N, T)
    base = np.zeros((4, 300))
    other = base.copy()
    other[1, 150] = 3.0  # hidden in the '...' of the repr
    assert repr(base) == repr(other)
    est = dynamask(max_iter=5, perturbation="fade_reference", baseline=base).fit(X, model)
    first = est.transform(X)
    est.set_params(baseline=other)
    again = est.transform(X)
    np.testing.assert_array_equal(
        again, dynamask(max_iter=5, perturbation="fade_reference", baseline=other).fit_transform(X, model)
    )
    assert not np.array_equal(first, again)
