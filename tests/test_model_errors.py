"""A failing or unusable black box gets the hint that matches its cause, and data that cannot be
represented in the model's precision is refused as such."""

import numpy as np
import pytest
import torch

from sklearn_tsmask import DynaMask

X = np.random.RandomState(0).randn(4, 2, 8)


def _square(x):
    return (x * x).sum(-1)


@pytest.mark.parametrize(
    "model, data, error, match, absent",
    [
        # float64 values beyond float32's range: the data, not the model, is the cause
        (_square, X * 1e39, ValueError, r"values too large for torch.float32 .*largest magnitude 2.55e\+39", "Calling the model"),
        # d sqrt(u)/du at u = 0 is infinite: a NaN gradient is not called a zero gradient
        (lambda x: torch.sqrt(x - x).sum(-1), X, ValueError, "gradient with respect to its input is NaN or infinite",
         "is zero"),
        # a model writing into its input: the in-place cause, no layout hint
        (lambda x: x.mul_(2).sum(-1), X, ValueError, "writes into its input in place", "model_layout"),
        # a class instead of an instance
        (torch.nn.Identity, X, TypeError, "model is the class Identity, not a model: pass an instance", "Wrap"),
        # a shape mismatch: the layout hint applies
        (torch.nn.Linear(3, 1), X, ValueError, r"mat1 and mat2 shapes cannot be multiplied.*model_layout='NTC'", None),
    ],
    ids=["overflow", "nan-gradient", "in-place", "class", "shape"],
)
def test_model_and_data_errors_name_their_cause(model, data, error, match, absent):
    before = data.copy()
    est = DynaMask(max_iter=3, device="cpu")
    with pytest.raises(error, match=match) as info:
        est.fit(data, model)
    if absent is not None:
        assert absent not in str(info.value)
    assert not hasattr(est, "model_")
    np.testing.assert_array_equal(data, before)


def test_a_model_computing_in_float64_is_explained_in_float64():
    net = torch.nn.Linear(8, 1).double()
    masks = DynaMask(max_iter=3, device="cpu", random_state=0).fit(torch.as_tensor(X), net).transform(
        torch.as_tensor(X)
    )
    assert masks.dtype == torch.float64 and masks.shape == X.shape


def test_the_meta_device_is_refused_with_the_reason():
    from sklearn.utils._param_validation import InvalidParameterError

    data = torch.as_tensor(X, dtype=torch.float32)
    with pytest.raises(InvalidParameterError, match="'meta' device holds no values"):
        DynaMask(max_iter=2, device="meta").fit(data, _square)
    with pytest.raises(ValueError, match="X is a tensor on the 'meta' device"):
        DynaMask(max_iter=2).fit(torch.empty(4, 2, 8, device="meta"), _square)
    with pytest.raises(ValueError, match="The model has parameters on the 'meta' device"):
        DynaMask(max_iter=2, device="cpu").fit(data, torch.nn.Linear(8, 1, device="meta"))
