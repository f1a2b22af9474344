"""Bad inputs, row by row: each gets a clear error naming its cause, and nothing of the user's
(arrays, tensors, torch modules, scikit-learn classifiers) is changed afterwards.

Three tables, readable as lists:

* ``EXPLAINER_ROWS`` -- run on every explainer: (what is called, exception, message fragment);
* ``METRIC_ROWS`` -- the metrics, the scorers and ``make_scoring``: same columns;
* ``RESULT_ROWS`` -- legitimate edge cases that must give a result: (what is called, expected value).
"""

import copy
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_tsmask import DynaMask, WithInputs, all_explainers
from sklearn_tsmask.black_boxes import ZerothOrderModel
from sklearn_tsmask.metrics import (
    FIDELITY_SCORING,
    SALIENCY_SCORING,
    aup,
    aur,
    comprehensiveness,
    cumulative_prediction_difference,
    cumulative_prediction_preservation,
    deletion_area,
    entropy,
    fidelity_accuracy,
    information,
    insertion_area,
    make_fidelity_scorer,
    make_saliency_scorer,
    make_scoring,
    sufficiency,
)

RNG = np.random.RandomState(0)
#: The user's data: a numpy panel, the same as a float32 tensor, masks and a true saliency.
X = RNG.randn(4, 2, 8)
X_TENSOR = torch.tensor(X, dtype=torch.float32)
MASKS = RNG.rand(4, 2, 8)
TRUTH = np.zeros((4, 2, 8))
TRUTH[:, 0, 2:5] = 1
LABELS = np.array([0, 1, 0, 1])


def square(x, **_):
    return (x * x).sum(-1)


def two_classes(x, **_):
    """Logits (N, 2) that depend on every entry."""
    s = (x * x).sum((1, 2))
    return torch.stack([s, -s], dim=-1)


class Linear(torch.nn.Module):
    def __init__(self, n_out=3):
        super().__init__()
        self.lin = torch.nn.Linear(8, n_out)

    def forward(self, x):
        return self.lin(x).sum(1)


#: The user's own modules and classifiers, used by several rows: never trained, moved or put in another mode.
USER_MODULE = Linear().train()
USER_CLASSIFIER = Linear(n_out=2).train()
FLAT_CLASSIFIER = LogisticRegression().fit(X.reshape(4, -1), LABELS)  # fitted on C·T features
REGRESSOR = LinearRegression().fit(X.reshape(4, -1), X[:, 0, 0])
FLOAT64_WEIGHTS = torch.ones(1, 8, dtype=torch.float64)


def _snapshot():
    return {
        "arrays": [a.copy() for a in (X, MASKS, TRUTH, LABELS)],
        "tensor": X_TENSOR.clone(),
        "modules": [copy.deepcopy(m.state_dict()) for m in (USER_MODULE, USER_CLASSIFIER)],
        "sklearn": [pickle.dumps(est) for est in (FLAT_CLASSIFIER, REGRESSOR)],
    }


def _assert_unchanged(before):
    for array, old in zip((X, MASKS, TRUTH, LABELS), before["arrays"]):
        np.testing.assert_array_equal(array, old)
    assert torch.equal(X_TENSOR, before["tensor"]) and X_TENSOR.dtype == torch.float32
    for module, state in zip((USER_MODULE, USER_CLASSIFIER), before["modules"]):
        assert module.training and all(p.requires_grad for p in module.parameters())
        for key, value in module.state_dict().items():
            torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    for est, old in zip((FLAT_CLASSIFIER, REGRESSOR), before["sklearn"]):
        assert pickle.dumps(est) == old


def replace(A, index, value):
    A = A.copy()
    A[index] = value
    return A


def fit(data=None, model=square, **params):
    return lambda est: est.set_params(**params).fit(X if data is None else data, model)


def transform(data, fitted_on=X, model=square):
    return lambda est: est.fit(fitted_on, model).transform(data)


def after_fit(model=square, **params):
    """Fit, then change parameters with set_params, then transform: transform re-validates."""
    return lambda est: est.fit(X, model).set_params(**params).transform(X)


def in_inference_mode(est):
    with torch.inference_mode():
        est.fit(X, square)


#: id -> (call on an explainer, exception, message fragment)
EXPLAINER_ROWS = {
    # data
    "nan": (fit(replace(X, (1, 0, 3), np.nan), model=USER_MODULE), ValueError, "contains NaN"),
    "inf": (fit(replace(X, (0, 1, 0), np.inf)), ValueError, "contains infinity"),
    "nan-tensor": (fit(torch.full((2, 2, 3), float("nan"))), ValueError, "contains NaN"),
    "empty": (fit(X[:0]), ValueError, "X is empty"),
    "4d": (fit(X[None]), ValueError, "dimension"),
    "sparse": (fit(sp.csr_matrix(X[:, 0])), TypeError, "sparse input is not supported"),
    "mixed-dimensions": (fit([X[0], X[1][0]]), ValueError, "could not be read as an array"),
    "strings": (fit(np.full((2, 2, 3), "a")), ValueError, "non-numeric values (dtype <U1)"),
    "complex": (fit(torch.zeros(2, 2, 3, dtype=torch.complex64)), ValueError, "must hold real numbers"),
    "complex-array": (fit(X.astype(complex)), ValueError, "must hold real numbers, got an array of dtype complex128"),
    "overflow": (fit(X * 1e39), ValueError, "too large for torch.float32"),
    "meta-tensor": (fit(torch.empty(4, 2, 8, device="meta")), ValueError, "'meta' device"),
    "inputs-rows": (lambda est: est.fit(WithInputs(X, g=np.arange(3)), square), ValueError,
                    "must have one row per series (4), got shape (3,)"),
    "inputs-object": (fit(WithInputs(X, g=np.array(["a", "b", "c", "d"], dtype=object))), ValueError,
                      "must be numeric"),
    # model
    "no-model": (fit(model=None), ValueError, "No model to explain"),
    "model-class": (fit(model=Linear), TypeError, "model is the class Linear, not a model"),
    "unfitted-classifier": (fit(model=LogisticRegression()), ValueError, "LogisticRegression is not fitted"),
    "regressor": (fit(model=REGRESSOR), TypeError, "has predict but no predict_proba"),
    "flattened-classifier": (fit(model=FLAT_CLASSIFIER), ValueError, "ZerothOrderModel(classifier, flatten=True)"),
    "tuple-output": (fit(model=lambda x: (square(x),)), TypeError, "must return a torch.Tensor"),
    "integer-output": (fit(model=lambda x: square(x).long()), ValueError, "returned a torch.int64 tensor"),
    "output-rows": (fit(model=lambda x: square(x)[:1]), ValueError, "the first axis of the output must be the batch"),
    "constant-output": (fit(model=lambda x: torch.zeros(len(x), 2)), ValueError, "does not depend on its input"),
    "detached-output": (fit(model=lambda x: square(x.detach())), ValueError, "carries no gradient"),
    "nan-output": (fit(model=lambda x: square(x) * np.nan), ValueError, "NaN or infinite outputs"),
    "nan-gradient": (fit(model=lambda x: torch.sqrt(x - x).sum(-1)), ValueError,
                     "gradient with respect to its input is NaN or infinite"),
    "in-place-model": (fit(model=lambda x: x.mul_(2).sum(-1)), ValueError, "writes into its input in place"),
    "float64-callable": (fit(model=lambda x: torch.nn.functional.linear(x, FLOAT64_WEIGHTS)), ValueError,
                         "called with torch.float32 tensors"),
    "raising-model": (fit(model=lambda x: 1 / 0), ValueError, "failed with ZeroDivisionError: division by zero."),
    "log-loss-regression": (fit(loss="log_loss", model=lambda x: square(x).sum(-1)), ValueError,
                            "needs class scores"),
    "meta-module": (fit(model=torch.nn.Linear(8, 1, device="meta")), ValueError, "parameters on the 'meta' device"),
    # a model that wants (N, T, C): its last axis must be the 2 channels
    "layout": (fit(model=lambda x: torch.nn.functional.linear(x, torch.ones(1, 2)).sum((1, 2))), ValueError,
               "model_layout='NTC'"),
    # the optimisation itself goes non-finite: an error, never NaN masks
    "loss-overflow": (lambda est: est.fit_transform(X, lambda x: square(x) * 1e25), FloatingPointError,
                      "stopped being finite"),
    # hyper-parameters
    "max_iter-0": (fit(max_iter=0, model=USER_MODULE), InvalidParameterError, "'max_iter' parameter"),
    "max_iter-bool": (fit(max_iter=True), InvalidParameterError, "Got True instead"),
    "learning_rate-nan": (fit(learning_rate=float("nan")), InvalidParameterError, "'learning_rate' parameter"),
    "tol-inf": (fit(tol=float("inf")), InvalidParameterError, "'tol' parameter"),
    "batch_size-0": (fit(batch_size=0), InvalidParameterError, "'batch_size' parameter"),
    "random_state-str": (fit(random_state="a"), InvalidParameterError, "'random_state' parameter"),
    "model_layout": (fit(model_layout="TNC"), InvalidParameterError, "'model_layout' parameter"),
    "loss-old-name": (fit(loss="mse"), InvalidParameterError, "'loss' parameter"),
    "device-meta": (fit(device="meta"), InvalidParameterError, "'meta' device holds no values"),
    "callbacks": (fit(callbacks=[object()]), InvalidParameterError, "Callback instances"),
    "target-out-of-range": (fit(target=7, model=two_classes), ValueError, "class index 7 is out of range"),
    "target-label-without-classes": (fit(target="up", model=two_classes), ValueError, "has no classes_"),
    "unknown-parameter": (lambda est: est.set_params(foo=1), ValueError, "Invalid parameter 'foo'"),
    # contract
    "unfitted": (lambda est: est.transform(X), NotFittedError, "not fitted"),
    "channels": (transform(X[:, :1], model=USER_MODULE), ValueError, "X has 1 channels, but"),
    "inputs-missing": (lambda est: est.fit(WithInputs(X, g=np.arange(4)), square).transform(X), ValueError,
                       "fitted with the model inputs ['g']"),
    "inputs-strings-at-transform": (
        lambda est: est.fit(WithInputs(X, g=np.arange(4)), square).transform(WithInputs(X, g=np.array(list("abcd")))),
        ValueError, "the model input 'g' must be numeric"),
    "max_iter-after-fit": (after_fit(max_iter=-1), InvalidParameterError, "'max_iter' parameter"),
    "log-loss-after-fit": (after_fit(model=lambda x: square(x).sum(-1), loss="log_loss"), ValueError,
                           "returns outputs of shape (N,)"),
    "inference-mode": (in_inference_mode, RuntimeError, "torch.inference_mode() forbids"),
}


@pytest.mark.parametrize("row", list(EXPLAINER_ROWS))
@pytest.mark.parametrize("name, cls", all_explainers())
def test_bad_input_gets_a_clear_error_and_nothing_of_the_user_changes(name, cls, row):
    call, error, fragment = EXPLAINER_ROWS[row]
    before = _snapshot()
    est = cls(max_iter=3, device="cpu", random_state=0, model=None)
    with pytest.raises(error) as info:
        call(est)
    assert fragment in str(info.value), str(info.value)
    _assert_unchanged(before)


def search(scoring, refit, area=(0.1, 0.2)):
    return GridSearchCV(DynaMask(max_iter=2, device="cpu", random_state=0), {"area": list(area)}, scoring=scoring,
                        refit=refit, cv=KFold(2), error_score="raise")


def fitted_dynamask(model=two_classes):
    return DynaMask(max_iter=3, device="cpu", random_state=0).fit(X, model)


#: id -> (call, exception, message fragment)
METRIC_ROWS = {
    # ground-truth metrics
    "truth-shape": (lambda: aup(TRUTH, MASKS[:, :1]), ValueError, "must have the same shape"),
    "truth-not-binary": (lambda: aup(TRUTH * 2, MASKS), ValueError, "true_saliency must be binary"),
    "truth-nan": (lambda: aup(replace(TRUTH, (0, 0, 0), np.nan), MASKS), ValueError, "true_saliency contains NaN"),
    "truth-none": (lambda: aup(None, MASKS), ValueError, "true_saliency has 0 dimension(s)"),
    "truth-all-zero": (lambda: aur(np.zeros_like(TRUTH), MASKS), ValueError, "no salient entry"),
    "masks-nan": (lambda: aup(TRUTH, replace(MASKS, (1, 1, 1), np.nan)), ValueError, "masks contains NaN"),
    "masks-inf": (lambda: aur(TRUTH, replace(MASKS, (1, 1, 1), np.inf)), ValueError, "masks contains infinity"),
    "masks-strings": (lambda: aup(TRUTH, np.full(MASKS.shape, "a")), ValueError, "masks holds non-numeric"),
    "masks-complex": (lambda: aup(TRUTH, MASKS.astype(complex)), ValueError, "masks must hold real numbers"),
    "masks-empty": (lambda: aup(TRUTH[:0], MASKS[:0]), ValueError, "true_saliency is empty"),
    "masks-4d": (lambda: aup(TRUTH[None], MASKS[None]), ValueError, "4 dimension(s)"),
    "normalize-str": (lambda: aup(TRUTH, MASKS, normalize="no"), TypeError, "normalize must be True or False"),
    "reduction": (lambda: information(TRUTH, MASKS, reduction="max"), ValueError, "reduction must be 'sum' or 'mean'"),
    "unit-interval": (lambda: entropy(TRUTH, MASKS * 3, normalize=False), ValueError, "needs masks in [0, 1]"),
    # fidelity metrics
    "fidelity-regression": (lambda: comprehensiveness(lambda x: square(x).sum(-1), X, MASKS), ValueError, "Regression outputs have no"),
    "fidelity-one-class": (lambda: sufficiency(lambda x: two_classes(x)[:, :1], X, MASKS), ValueError, "K >= 2"),
    "fidelity-shape": (lambda: comprehensiveness(USER_CLASSIFIER, X, MASKS[:, :1]), ValueError,
                       "masks must have the shape of X"),
    "fidelity-masks-nan": (lambda: comprehensiveness(two_classes, X, replace(MASKS, (0, 0, 0), np.nan)), ValueError,
                           "masks contains NaN"),
    "fidelity-X-nan": (lambda: comprehensiveness(two_classes, replace(X, (0, 0, 0), np.nan), MASKS), ValueError,
                       "X contains NaN"),
    "fidelity-X-empty": (lambda: comprehensiveness(two_classes, X[:0], MASKS[:0]), ValueError, "X is empty"),
    "top_fraction-0": (lambda: comprehensiveness(two_classes, X, MASKS, top_fraction=0.0), ValueError,
                       "top_fraction must be in (0.0, 1.0]"),
    "top_fraction-nan": (lambda: comprehensiveness(two_classes, X, MASKS, top_fraction=float("nan")), ValueError,
                         "top_fraction must be in (0.0, 1.0], got nan"),
    "top_fraction-bool": (lambda: comprehensiveness(two_classes, X, MASKS, top_fraction=True), TypeError,
                          "top_fraction must be a real number"),
    "top_fraction-too-small": (lambda: comprehensiveness(two_classes, X, MASKS, top_fraction=0.01), ValueError,
                               "Use top_fraction >= 0.0625"),
    "baseline": (lambda: comprehensiveness(two_classes, X, MASKS, baseline="mean"), ValueError, "baseline must be"),
    "output": (lambda: comprehensiveness(two_classes, X, MASKS, output="probs"), ValueError, "output must be"),
    "proba-out-of-range": (lambda: fidelity_accuracy(two_classes, X, MASKS, output="proba"), ValueError,
                           'output="proba" needs probabilities in [0, 1]'),
    "fidelity-reduction": (lambda: comprehensiveness(two_classes, X, MASKS, reduction="sum"), ValueError,
                           "reduction must be one of"),
    "fidelity-batch_size": (lambda: comprehensiveness(two_classes, X, MASKS, batch_size=0), ValueError,
                            "batch_size must be a positive integer"),
    "fidelity-model-class": (lambda: comprehensiveness(torch.nn.Linear, X, MASKS), TypeError,
                             "model is the class Linear"),
    "fidelity-no-model": (lambda: comprehensiveness(None, X, MASKS), ValueError, "No model to explain"),
    "fidelity-tuple-output": (lambda: comprehensiveness(lambda x: (two_classes(x),), X, MASKS), TypeError,
                              "must return a torch.Tensor"),
    "fidelity-integer-output": (lambda: comprehensiveness(lambda x: two_classes(x).long(), X, MASKS), ValueError,
                                "returned a torch.int64 tensor"),
    "fidelity-nan-output": (lambda: comprehensiveness(lambda x: two_classes(x) * np.nan, X, MASKS), ValueError,
                            "NaN or infinite outputs"),
    "fidelity-raising-model": (lambda: comprehensiveness(lambda x: 1 / 0, X, MASKS), ValueError,
                               "Calling the model on a batch of shape (4, 2, 8) (NCT) failed with ZeroDivisionError"),
    "fidelity-wrong-channels": (lambda: comprehensiveness(USER_CLASSIFIER, X[:, :, :5], MASKS[:, :, :5]), ValueError,
                                "mat1 and mat2 shapes cannot be multiplied"),
    "fidelity-flattened-classifier": (lambda: comprehensiveness(FLAT_CLASSIFIER, X, MASKS), ValueError,
                                      "flatten=True"),
    "fidelity-model_layout": (lambda: comprehensiveness(two_classes, X, MASKS, model_layout="TCN"), ValueError,
                              "model_layout must be one of"),
    "fidelity-device": (lambda: comprehensiveness(two_classes, X, MASKS, device="banana"), InvalidParameterError,
                        "device='banana' is not understood"),
    # cumulative metrics
    "cpd-too-many-steps": (lambda: cumulative_prediction_difference(two_classes, X, MASKS, n_steps=17), ValueError,
                           "asks for 17 removal steps, but a series has 16 entries"),
    "cpp-masks-nan": (lambda: cumulative_prediction_preservation(two_classes, X, replace(MASKS, (0, 0, 0), np.nan)),
                      ValueError, "masks contains NaN"),
    "deletion-area-regression": (lambda: deletion_area(lambda x: square(x).sum(-1), X, MASKS), ValueError,
                                 "Regression outputs have no"),
    "insertion-area-raising-model": (lambda: insertion_area(lambda x: 1 / 0, X, MASKS), ValueError,
                                     "failed with ZeroDivisionError"),
    # scorers
    "saliency-scorer-name": (lambda: make_saliency_scorer("precision"), ValueError, "Unknown saliency metric"),
    "saliency-scorer-type": (lambda: make_saliency_scorer(3), TypeError, "metric must be a callable or a metric name"),
    "saliency-scorer-keyword": (lambda: make_saliency_scorer("aup", reduction="sum"), TypeError,
                                "unexpected keyword argument 'reduction'"),
    "saliency-scorer-option": (lambda: make_saliency_scorer("entropy", reduction="max"), ValueError,
                               "reduction must be 'sum' or 'mean'"),
    "saliency-scorer-no-y": (lambda: make_saliency_scorer("aup")(fitted_dynamask(), X), ValueError,
                             "needs the true saliency of X passed as y"),
    "saliency-scorer-y-rows": (lambda: make_saliency_scorer("aup")(fitted_dynamask(), X, TRUTH[:3]), ValueError,
                               "must have the same shape"),
    "saliency-scorer-unfitted": (lambda: make_saliency_scorer("aup")(DynaMask(), X, TRUTH), NotFittedError,
                                 "not fitted"),
    "fidelity-scorer-name": (lambda: make_fidelity_scorer("aup"), ValueError, "Unknown fidelity metric 'aup'"),
    "fidelity-scorer-reduction": (lambda: make_fidelity_scorer("sufficiency", reduction="none"), ValueError,
                                  "reduction must be 'mean'"),
    "fidelity-scorer-keyword": (lambda: make_fidelity_scorer("comprehensiveness", foo=1), TypeError,
                                "unexpected keyword argument 'foo'"),
    "fidelity-scorer-option": (lambda: make_fidelity_scorer("comprehensiveness", top_fraction=5), ValueError,
                               "top_fraction must be in (0.0, 1.0], got 5"),
    "fidelity-scorer-layout": (lambda: make_fidelity_scorer("log_odds", model_layout="TCN"), ValueError,
                               "model_layout must be one of"),
    "fidelity-scorer-no-model_": (lambda: make_fidelity_scorer("comprehensiveness")(FunctionTransformer().fit(X), X),
                                  TypeError, "FunctionTransformer has no model_"),
    "fidelity-scorer-regression": (lambda: make_fidelity_scorer("comprehensiveness")(fitted_dynamask(lambda x: square(x).sum(-1)), X),
                                   ValueError, "Regression outputs have no predicted class"),
    "fidelity-scorer-unfitted": (lambda: make_fidelity_scorer("comprehensiveness")(DynaMask(), X), NotFittedError,
                                 "not fitted"),
    # one scoring object for several metrics
    "scoring-name": (lambda: make_scoring(["aup", "precision"]), ValueError, "Unknown scorer name 'precision'"),
    "scoring-empty": (lambda: make_scoring([]), ValueError, "needs at least one scorer"),
    "scoring-None": (lambda: make_scoring(None), TypeError, "scorers must be a list of scorer names or a dict"),
    "scoring-int": (lambda: make_scoring(3), TypeError, "got int"),
    "scoring-sklearn-scorer": (lambda: make_scoring({"acc": get_scorer("accuracy")}), TypeError,
                               "a scorer that computes its own masks cannot share them"),
    "scoring-no-y": (lambda: make_scoring(["aur"])(fitted_dynamask(), X), ValueError,
                     "needs the true saliency of X passed as y"),
    # in a search (error_score="raise": scikit-learn's default turns a failure into NaN scores and a warning
    # that carries the same message)
    "search-without-truth": (lambda: search(SALIENCY_SCORING, "aup").fit(X, model=two_classes), ValueError,
                             "needs the true saliency of X passed as y"),
    "search-fidelity-on-regression": (
        lambda: search(FIDELITY_SCORING, "comprehensiveness").fit(X, model=lambda x: square(x).sum(-1)),
        ValueError, "Regression outputs have no predicted class"),
    "search-invalid-candidate": (lambda: search(SALIENCY_SCORING, "aup", area=[0.1, 2.0]).fit(X, TRUTH, model=square),
                                 InvalidParameterError, "The 'area' parameter of DynaMask must be"),
}


@pytest.mark.parametrize("row", list(METRIC_ROWS))
def test_bad_metric_or_scorer_input_gets_a_clear_error_and_nothing_of_the_user_changes(row):
    call, error, fragment = METRIC_ROWS[row]
    before = _snapshot()
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value), str(info.value)
    _assert_unchanged(before)


def _in_place_model(x):
    """A model that standardises its input in place (as some preprocessing layers do)."""
    x.sub_(x.mean()).div_(x.std())
    return two_classes(x)


def _out_of_place_model(x):
    return two_classes((x - x.mean()) / x.std())


#: id -> (call, expected value): legitimate edge cases with a defined answer
RESULT_ROWS = {
    # no salient entry: no precision to lose, AUP is 0
    "aup-no-salient-entry": (lambda: aup(np.zeros_like(TRUTH), MASKS), 0.0),
    # constant masks take one value: no curve, the area is 0
    "aup-constant-masks": (lambda: aup(TRUTH, np.full(MASKS.shape, 0.3)), 0.0),
    # a torch bool truth and a float32 tensor of masks are read like numpy arrays
    "aur-torch-inputs": (lambda: aur(torch.tensor(TRUTH).bool(), torch.tensor(MASKS, dtype=torch.float32)),
                         aur(TRUTH, MASKS.astype(np.float32))),
    # a model writing into its input works on the library's copy: the user's tensor is untouched and the
    # answer is the one of the same model written out of place
    "fidelity-in-place-model": (lambda: comprehensiveness(_in_place_model, X_TENSOR, MASKS),
                                comprehensiveness(_out_of_place_model, X_TENSOR, MASKS)),
    # top_fraction=1 keeps every entry: the series is unchanged, the probability too
    "sufficiency-keep-everything": (lambda: sufficiency(two_classes, X, MASKS, top_fraction=1.0), 0.0),
    # the flattening option makes the same classifier usable
    "flattened-classifier-wrapped": (
        lambda: DynaMask(max_iter=2, device="cpu", random_state=0).fit(
            X, ZerothOrderModel(FLAT_CLASSIFIER, flatten=True, random_state=0)).transform(X).shape,
        X.shape),
}


@pytest.mark.parametrize("row", list(RESULT_ROWS))
def test_legitimate_edge_case_gives_its_result_and_nothing_of_the_user_changes(row):
    call, expected = RESULT_ROWS[row]
    before = _snapshot()
    result = call()
    if isinstance(expected, float):
        assert result == pytest.approx(expected, abs=1e-12)
    else:
        assert result == expected
    _assert_unchanged(before)
