"""Explaining under the caller's autograd modes, and the user's tensors never written to."""

import numpy as np
import pytest
import torch

from sklearn_tsmask import DynaMask, ExtremalMask
from sklearn_tsmask._panel import to_tensor


def _square(x):
    return (x * x).sum(-1)


def _panel():
    return torch.as_tensor(np.random.RandomState(0).randn(4, 2, 8), dtype=torch.float32)


@pytest.mark.parametrize("cls", [DynaMask, ExtremalMask])
def test_fit_and_transform_inside_no_grad_give_the_usual_masks(cls):
    X = _panel()
    expected = cls(max_iter=5, device="cpu", random_state=0).fit(X, _square).transform(X)
    with torch.no_grad():
        est = cls(max_iter=5, device="cpu", random_state=0).fit(X, _square)
        masks = est.transform(X)
        assert not torch.is_grad_enabled()  # the caller's mode is left as it was
    torch.testing.assert_close(masks, expected, rtol=0, atol=0)


def test_inference_mode_is_refused_with_the_reason():
    X = _panel()
    est = DynaMask(max_iter=5, device="cpu")
    with torch.inference_mode(), pytest.raises(RuntimeError, match=r"torch.inference_mode\(\) forbids"):
        est.fit(X, _square)
    assert not hasattr(est, "model_")
    est.fit(X, _square)
    with torch.inference_mode(), pytest.raises(RuntimeError, match="outside inference mode"):
        est.transform(X)


def test_the_users_tensor_is_never_handed_to_the_model():
    X = _panel()
    before = X.clone()
    t, _ = to_tensor(X)  # same dtype and device: still a copy
    assert t.untyped_storage().data_ptr() != X.untyped_storage().data_ptr()

    def normalising_model(x):  # writes into its input when it can (no gradient asked of it)
        if not x.requires_grad:
            x -= x.mean()
        return _square(x)

    est = DynaMask(max_iter=3, device="cpu", random_state=0).fit(X, normalising_model)
    masks = est.transform(X)
    torch.testing.assert_close(X, before, rtol=0, atol=0)
    # nor the explainer's own copy: the masks are those of a model that leaves its input alone
    def same_without_writing(x):
        if not x.requires_grad:
            x = x - x.mean()
        return _square(x)

    pure = DynaMask(max_iter=3, device="cpu", random_state=0).fit(X, same_without_writing)
    torch.testing.assert_close(masks, pure.transform(X), rtol=0, atol=0)
