"""Panel containers <-> the internal (N, C, T) tensor."""

import numpy as np
import pytest
import torch

from sklearn_tsmask._panel import from_tensor, to_numpy3d, to_tensor
from conftest import CallCounter, dynamask, make_spiky_panel


def test_3d_round_trip_numpy():
    X = np.random.RandomState(0).randn(3, 2, 5)
    t, fmt = to_tensor(X, dtype=torch.float64)
    assert t.shape == (3, 2, 5) and t.dtype == torch.float64
    assert fmt.container == "numpy" and fmt.ndim == 3
    out = from_tensor(t, fmt)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_array_equal(out, X)


def test_2d_is_a_univariate_panel_and_comes_back_2d():
    X = np.arange(12.0).reshape(3, 4)
    t, fmt = to_tensor(X, dtype=torch.float64)
    assert t.shape == (3, 1, 4)
    np.testing.assert_array_equal(t[:, 0, :].numpy(), X)
    assert fmt.ndim == 2
    out = from_tensor(t * 2, fmt)
    assert out.shape == (3, 4)
    np.testing.assert_array_equal(out, 2 * X)


@pytest.mark.parametrize(
    "dtype, expected",
    [(np.float32, np.float32), (np.float64, np.float64), (np.int64, np.float64), (np.int32, np.float64)],
)
def test_numpy_result_dtype(dtype, expected):
    X = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    t, fmt = to_tensor(X)
    assert t.dtype == torch.float32  # internal dtype is what the caller asks
    out = from_tensor(t, fmt)
    assert out.dtype == expected
    np.testing.assert_array_equal(out, X.astype(expected))


def test_list_input():
    X = [[[0.0, 1.0, 2.0]], [[3.0, 4.0, 5.0]]]
    t, fmt = to_tensor(X, dtype=torch.float64)
    assert t.shape == (2, 1, 3)
    assert from_tensor(t, fmt).tolist() == X


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_torch_input_keeps_dtype(dtype):
    X = torch.randn(2, 3, 4, dtype=dtype)
    t, fmt = to_tensor(X, dtype=torch.float32)
    assert t.dtype == torch.float32 and t.device == X.device
    assert fmt.container == "torch" and fmt.dtype == dtype and fmt.device == X.device
    out = from_tensor(t.double(), fmt)
    assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.device == X.device
    torch.testing.assert_close(out, X, rtol=1e-6, atol=1e-6)


def test_integer_tensor_gives_float32():
    X = torch.arange(6).reshape(1, 2, 3)
    t, fmt = to_tensor(X, dtype=torch.float64)
    out = from_tensor(t, fmt)
    assert out.dtype == torch.float32
    assert out.tolist() == [[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]]


def test_2d_tensor_round_trip():
    X = torch.randn(4, 7, dtype=torch.float64)
    t, fmt = to_tensor(X, dtype=torch.float64)
    assert t.shape == (4, 1, 7)
    out = from_tensor(t, fmt)
    assert out.shape == (4, 7)
    torch.testing.assert_close(out, X, rtol=0, atol=0)


def test_to_tensor_copies_numpy_and_never_writes_tensor():
    X = np.ones((2, 2, 3))
    t, _ = to_tensor(X, dtype=torch.float64)
    t += 1
    assert (X == 1).all()
    Xt = torch.ones(2, 2, 3, requires_grad=True)
    t, _ = to_tensor(Xt)
    assert not t.requires_grad


def test_to_numpy3d():
    A = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    out = to_numpy3d(A)
    assert out.shape == (2, 1, 3) and out.dtype == np.float64
    np.testing.assert_array_equal(out[:, 0], A.numpy())


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[[0.0, np.nan]]]), "NaN"),
        (np.array([[[0.0, np.inf]]]), "(?i)inf"),
        (np.zeros((0, 2, 3)), "empty"),
        (np.zeros((2, 0, 3)), "empty"),
        (np.zeros((2, 3, 0)), "empty"),
        (np.zeros(5), "1 dimension"),
        (np.zeros((1, 2, 3, 4)), "4 dimension"),
        ([[[0.0, 1.0], [2.0]], [[1.0, 2.0], [3.0, 4.0]]], "could not be read"),
        (np.array([[["a", "b"]]], dtype=object), "non-numeric"),
    ],
)
def test_invalid_numpy_panels(X, match):
    with pytest.raises(ValueError, match=match):
        to_tensor(X)


@pytest.mark.parametrize(
    "X, match",
    [
        (torch.tensor([[[0.0, float("nan")]]]), "NaN"),
        (torch.tensor([[[0.0, float("inf")]]]), "infinity"),
        (torch.zeros(0, 2, 3), "empty"),
        (torch.zeros(5), "1 dimension"),
        (torch.zeros(1, 2, 3, 4), "4 dimension"),
        (torch.zeros(1, 2, 3, dtype=torch.bool), "real numbers"),
    ],
)
def test_invalid_tensor_panels(X, match):
    with pytest.raises(ValueError, match=match):
        to_tensor(X)


def test_name_appears_in_errors():
    with pytest.raises(ValueError, match="masks"):
        to_tensor(np.zeros(3), name="masks")


# --------------------------------------------------- through the estimator


def test_fit_transform_does_not_modify_user_data():
    X, _ = make_spiky_panel(0)
    X = X.astype(np.float32)
    X_copy = X.copy()
    Xt = torch.from_numpy(make_spiky_panel(1)[0])
    Xt_copy = Xt.clone()
    model = CallCounter()
    est = dynamask(max_iter=5)
    masks = est.fit_transform(X, model)
    np.testing.assert_array_equal(X, X_copy)
    masks2 = est.transform(Xt)
    torch.testing.assert_close(Xt, Xt_copy, rtol=0, atol=0)
    # float32 in -> float32 out; float64 tensor in -> float64 tensor out
    assert masks.dtype == np.float32 and masks.shape == X.shape
    assert isinstance(masks2, torch.Tensor) and masks2.dtype == torch.float64 and masks2.shape == Xt.shape


def test_estimator_int_input_gives_float64_masks():
    X = np.round(make_spiky_panel(0)[0] * 10).astype(np.int64)
    masks = dynamask(max_iter=5).fit_transform(X, CallCounter())
    assert masks.dtype == np.float64 and masks.shape == X.shape


@pytest.mark.parametrize(
    "X, match",
    [
        (np.full((2, 4, 16), np.nan), "NaN"),
        (np.zeros((0, 4, 16)), "empty"),
        (np.zeros(16), "dimension"),
        (np.zeros((1, 1, 4, 16)), "dimension"),
    ],
)
def test_estimator_rejects_bad_panels(X, match):
    with pytest.raises(ValueError, match=match):
        dynamask(max_iter=2).fit(X, CallCounter())


def test_negative_strides_are_read():
    X = np.arange(10.0)[::-1].reshape(1, 1, 10)
    t, _ = to_tensor(X, dtype=torch.float64)
    np.testing.assert_array_equal(t.numpy(), X)
