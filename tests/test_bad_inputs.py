"""Bad inputs, row by row: each gets a clear error naming its cause, for every explainer, and the
user's arrays, tensors and modules are unchanged afterwards.

One row per case: (id, what is called, expected exception, fragment of its message).
"""

import copy

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_tsmask import WithInputs, all_explainers

RNG = np.random.RandomState(0)
X = RNG.randn(4, 2, 8)


def square(x, **_):
    return (x * x).sum(-1)


class Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.lin(x).sum(1)


#: The user's own module, used by several rows: never trained, moved or put in another mode.
USER_MODULE = Linear().train()
USER_STATE = copy.deepcopy(USER_MODULE.state_dict())


def with_nan():
    A = X.copy()
    A[1, 0, 3] = np.nan
    return A


def with_inf():
    A = X.copy()
    A[0, 1, 0] = np.inf
    return A


def fit(data=None, model=square, **params):
    return lambda est: est.set_params(**params).fit(X if data is None else data, model)


def transform(data, fitted_on=X, model=square):
    return lambda est: est.fit(fitted_on, model).transform(data)


#: id -> (call on an explainer, exception, message fragment)
ROWS = {
    # data
    "nan": (fit(with_nan(), model=USER_MODULE), ValueError, "contains NaN"),
    "inf": (fit(with_inf()), ValueError, "contains infinity"),
    "4d": (fit(X[None]), ValueError, "dimension"),
    "strings": (fit(np.full((2, 2, 3), "a")), ValueError, "non-numeric values (dtype <U1)"),
    "complex": (fit(torch.zeros(2, 2, 3, dtype=torch.complex64)), ValueError, "must hold real numbers"),
    "overflow": (fit(X * 1e39), ValueError, "too large for torch.float32"),
    "meta-tensor": (fit(torch.empty(4, 2, 8, device="meta")), ValueError, "'meta' device"),
    "inputs-rows": (lambda est: est.fit(WithInputs(X, g=np.arange(3)), square), ValueError,
                    "must have one row per series (4), got shape (3,)"),
    "inputs-object": (fit(WithInputs(X, g=np.array(["a", "b", "c", "d"], dtype=object))), ValueError,
                      "must be numeric"),
    # model
    "no-model": (fit(model=None), ValueError, "No model to explain"),
    "model-class": (fit(model=Linear), TypeError, "model is the class Linear, not a model"),
    "tuple-output": (fit(model=lambda x: (square(x),)), TypeError, "must return a torch.Tensor"),
    "constant-output": (fit(model=lambda x: torch.zeros(len(x), 2)), ValueError, "does not depend on its input"),
    "nan-output": (fit(model=lambda x: square(x) * np.nan), ValueError, "NaN or infinite outputs"),
    "log-loss-regression": (fit(loss="log_loss", model=lambda x: square(x).sum(-1)), ValueError,
                            "needs class scores"),
    "meta-module": (fit(model=torch.nn.Linear(8, 1, device="meta")), ValueError, "parameters on the 'meta' device"),
    # a model that wants (N, T, C): its last axis must be the 2 channels
    "layout": (fit(model=lambda x: torch.nn.functional.linear(x, torch.ones(1, 2)).sum((1, 2))), ValueError,
               "model_layout='NTC'"),
    # hyper-parameters
    "max_iter-0": (fit(max_iter=0, model=USER_MODULE), InvalidParameterError, "'max_iter' parameter"),
    "max_iter-bool": (fit(max_iter=True), InvalidParameterError, "Got True instead"),
    "learning_rate-nan": (fit(learning_rate=float("nan")), InvalidParameterError, "'learning_rate' parameter"),
    "tol-inf": (fit(tol=float("inf")), InvalidParameterError, "'tol' parameter"),
    "loss-old-name": (fit(loss="mse"), InvalidParameterError, "'loss' parameter"),
    "device-meta": (fit(device="meta"), InvalidParameterError, "'meta' device holds no values"),
    "callbacks": (fit(callbacks=[object()]), InvalidParameterError, "Callback instances"),
    # contract
    "unfitted": (lambda est: est.transform(X), NotFittedError, "not fitted"),
    "channels": (transform(X[:, :1], model=USER_MODULE), ValueError, "X has 1 channels, but"),
    "inputs-missing": (lambda est: est.fit(WithInputs(X, g=np.arange(4)), square).transform(X), ValueError,
                       "fitted with the model inputs ['g']"),
}


@pytest.mark.parametrize("row", list(ROWS))
@pytest.mark.parametrize("name, cls", all_explainers())
def test_bad_input_gets_a_clear_error_and_nothing_of_the_user_changes(name, cls, row):
    call, error, fragment = ROWS[row]
    before = X.copy()
    est = cls(max_iter=3, device="cpu", random_state=0, model=None)
    with pytest.raises(error) as info:
        call(est)
    assert fragment in str(info.value), str(info.value)
    np.testing.assert_array_equal(X, before)
    assert USER_MODULE.training and all(p.requires_grad for p in USER_MODULE.parameters())
    for key, value in USER_MODULE.state_dict().items():
        torch.testing.assert_close(value, USER_STATE[key], rtol=0, atol=0)
