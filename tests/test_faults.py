"""A black box that fails part-way leaves every explainer as it was: fitted state intact (the very same
objects, networks' weights unchanged), a new explainer unfitted, and the next call as if nothing happened."""

import numpy as np
import pytest
import torch

from conftest import make_spiky_panel
from sklearn_tsmask import all_explainers


class FailsOnCall:
    """y = sum over time of x², raising on its k-th call (counting from 1)."""

    def __init__(self, k):
        self.k = k
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        if self.calls == self.k:
            raise RuntimeError(f"black box failed on call {self.k}")
        return (x * x).sum(-1)


def _explainer(cls):
    return cls(max_iter=6, device="cpu", random_state=0)


def _state(est):
    """Fitted attributes by identity, and a copy of every network's weights."""
    attrs = {k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_")}
    weights = {
        k: {n: p.detach().clone() for n, p in v.state_dict().items()}
        for k, v in attrs.items()
        if isinstance(v, torch.nn.Module)
    }
    return attrs, weights


def _assert_same_state(est, state):
    attrs, weights = state
    now = {k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_")}
    assert now.keys() == attrs.keys()
    for k, v in attrs.items():
        assert now[k] is v, k
    for k, w in weights.items():
        for n, p in getattr(est, k).state_dict().items():
            torch.testing.assert_close(p, w[n], rtol=0, atol=0)


@pytest.mark.parametrize("name, cls", all_explainers())
@pytest.mark.parametrize("k", [1, 4])  # 1: the probe of the model; 4: inside the optimisation
def test_a_fit_failing_part_way_changes_nothing(name, cls, k):
    X, _ = make_spiky_panel(0, n=4)
    fresh = _explainer(cls)
    fitting = "fit" if k == 1 else "fit_transform"  # DynaMask's fit calls the model once: optimise to reach call 4
    with pytest.raises((RuntimeError, ValueError), match=f"call {k}"):
        getattr(fresh, fitting)(X, FailsOnCall(k))
    assert not [a for a in vars(fresh) if a.endswith("_") and not a.startswith("_")]

    fitted = _explainer(cls).fit(X, FailsOnCall(0))
    expected = fitted.transform(X)
    state = _state(fitted)
    with pytest.raises((RuntimeError, ValueError), match=f"call {k}"):
        getattr(fitted, fitting)(X[:3] + 1.0, FailsOnCall(k))
    _assert_same_state(fitted, state)
    np.testing.assert_array_equal(fitted.transform(X), expected)


@pytest.mark.parametrize("name, cls", all_explainers())
def test_a_transform_failing_part_way_changes_nothing(name, cls):
    X, _ = make_spiky_panel(0, n=4)
    model = FailsOnCall(0)
    fitted = _explainer(cls).fit(X, model)
    expected = fitted.transform(X)
    state = _state(fitted)
    model.k = model.calls + 3  # the third call of the next transform: inside its optimisation
    with pytest.raises(RuntimeError, match="black box failed"):
        fitted.transform(X)
    _assert_same_state(fitted, state)
    np.testing.assert_array_equal(fitted.transform(X), expected)  # the call after is as if nothing happened
