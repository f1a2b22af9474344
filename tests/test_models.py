"""The model adapter: frozen copies, layouts and the checks of the model's output."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_tsmask import DynaMask, WithInputs
from sklearn_tsmask._models import FrozenModel, check_model_output, looks_like_model, wrap_model
from conftest import C, T, GRUClassifier, LinearHead, ShapeChecker, SoftmaxModel, dynamask, make_spiky_panel

CPU = torch.device("cpu")


@pytest.fixture
def X():
    return make_spiky_panel(0)[0]


def test_user_module_in_train_mode_is_untouched(X):
    model = LinearHead()
    model.train()
    before = copy.deepcopy(model.state_dict())
    est = dynamask(max_iter=10, loss="log_loss").fit(X, model)
    assert model.training and model.dropout.training
    for name, p in model.named_parameters():
        assert p.grad is None, name
        assert p.requires_grad, name
        assert p.device.type == "cpu"
        torch.testing.assert_close(p.detach(), before[name], rtol=0, atol=0)
    # the explainer's copy is frozen and in eval mode: its output is deterministic
    frozen = est.model_.function
    assert frozen is not model and not frozen.training
    assert all(not p.requires_grad for p in frozen.parameters())
    x = torch.from_numpy(X).float()
    torch.testing.assert_close(est.model_(x), est.model_(x), rtol=0, atol=0)
    model.eval()
    torch.testing.assert_close(est.model_(x), model(x), rtol=0, atol=0)


def test_fit_with_dropout_model_is_deterministic(X):
    # eval mode: dropout is off, so two fits agree exactly
    m1 = dynamask(max_iter=20).fit_transform(X, LinearHead())
    m2 = dynamask(max_iter=20).fit_transform(X, LinearHead())
    np.testing.assert_array_equal(m1, m2)


def test_wrap_model_module_dtype_and_copy():
    model = LinearHead().double()
    frozen = wrap_model(model, device=CPU)
    assert isinstance(frozen, FrozenModel)
    assert frozen.dtype == torch.float64 and frozen.layout == "NCT"
    assert frozen.function is not model
    assert model.linear.weight.requires_grad


def test_wrap_model_callable_is_used_as_is():
    def f(x):
        return x.sum(1)

    frozen = wrap_model(f, device=CPU)
    assert frozen.function is f and frozen.dtype == torch.float32


@pytest.mark.parametrize("bad", [3, "model", np.zeros(3), [1, 2]])
def test_wrap_model_rejects_non_callables(bad):
    with pytest.raises(TypeError, match="torch.nn.Module or a callable"):
        wrap_model(bad, device=CPU)


def test_wrap_model_rejects_estimators_without_probabilities():
    from sklearn.linear_model import LinearRegression

    with pytest.raises(TypeError, match="has predict but no predict_proba"):
        wrap_model(LinearRegression(), device=CPU)


def test_wrap_model_errors():
    with pytest.raises(ValueError, match="No model"):
        wrap_model(None, device=CPU)
    with pytest.raises(ValueError, match="model_layout"):
        wrap_model(LinearHead(), layout="TNC", device=CPU)


def test_fit_with_non_callable_model_is_a_type_error(X):
    with pytest.raises(TypeError, match="torch.nn.Module or a callable"):
        dynamask(max_iter=2).fit(X, model=42)


def test_looks_like_model():
    assert looks_like_model(LinearHead())
    assert looks_like_model(lambda x: x)
    assert not looks_like_model(None)
    assert not looks_like_model(np.zeros((2, 3)))
    assert not looks_like_model(torch.zeros(2, 3))


class Constant(nn.Module):
    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.ones(3))

    def forward(self, x):
        return self.bias.expand(x.shape[0], 3)


@pytest.mark.parametrize(
    "model",
    [
        Constant(),  # no gradient at all
        lambda x: x.sum((1, 2)) * 0.0,  # a gradient, but zero
        lambda x: (x[:, :, :1] * 0.0).sum(-1) + 1.0,
    ],
    ids=["constant", "times-zero", "zero-slice"],
)
def test_output_independent_of_input(X, model):
    with pytest.raises(ValueError, match="does not depend"):
        dynamask(max_iter=2).fit(X, model)


def test_wrong_batch_size(X):
    with pytest.raises(ValueError, match="first axis of the output must be the batch"):
        dynamask(max_iter=2).fit(X, lambda x: x.sum(0))
    with pytest.raises(ValueError, match="first axis"):
        dynamask(max_iter=2).fit(X, lambda x: x.sum())


def test_non_tensor_output(X):
    with pytest.raises(TypeError, match="torch.Tensor"):
        dynamask(max_iter=2).fit(X, lambda x: (x.sum(1), None))


def test_non_finite_output(X):
    with pytest.raises(ValueError, match="NaN or infinite"):
        dynamask(max_iter=2).fit(X, lambda x: x.sum(1) / 0.0)


def test_model_failing_on_layout_mentions_model_layout(X):
    gru = GRUClassifier()  # expects (N, T, C) with C = 4 features; X is (N, 4, 16)
    with pytest.raises(ValueError, match="model_layout='NTC'") as info:
        dynamask(max_iter=2).fit(X, gru)
    assert "(6, 4, 16)" in str(info.value)
    with pytest.raises(ValueError, match="model_layout='NTC' passes"):
        dynamask(max_iter=2, model_layout="NTC").fit(X, ShapeChecker((C, T)))


def test_ntc_layout_passes_batch_first_input(X):
    est = dynamask(max_iter=5, model_layout="NTC")
    assert est.fit_transform(X, ShapeChecker((T, C))).shape == X.shape
    est.transform(make_spiky_panel(1)[0][:3])
    dynamask(max_iter=5).fit(X, ShapeChecker((C, T)))  # NCT: the panel's own layout


def test_gru_with_ntc_layout(X):
    est = dynamask(max_iter=20, loss="log_loss", model_layout="NTC")
    masks = est.fit_transform(X, GRUClassifier())
    assert est.output_shape_ == (T, 2)
    assert masks.shape == X.shape
    assert 0.0 <= masks.min() and masks.max() <= 1.0


def test_softmax_output_is_accepted(X):
    model = SoftmaxModel()
    with torch.no_grad():
        p = model.eval()(torch.from_numpy(X).float())
    torch.testing.assert_close(p.sum(-1), torch.ones(len(X)))  # a plain sum would be constant
    est = dynamask(max_iter=10).fit(X, model)
    assert est.output_shape_ == (3,)
    explanation = est.explain(X)
    assert explanation.loss_curve.shape == (10,)
    assert np.isfinite(explanation.loss_curve).all()


def test_outputs_summing_to_a_constant_are_accepted(X):
    # logits (z, −z): their sum is exactly 0, so a check through the plain sum would reject them
    def model(x):
        z = (x[:, 0] ** 2).sum(-1)
        return torch.stack([z, -z], -1)

    frozen = wrap_model(model, device=CPU)
    x = torch.from_numpy(X).float().requires_grad_(True)
    (g,) = torch.autograd.grad(model(x).sum(), x)
    assert torch.count_nonzero(g) == 0
    assert check_model_output(frozen, x.detach(), {}) == (2,)
    est = dynamask(max_iter=5).fit(X, model)
    assert est.output_shape_ == (2,)


def test_check_model_output_shapes():
    frozen = wrap_model(LinearHead(), device=CPU)
    x = torch.randn(5, C, T)
    assert check_model_output(frozen, x, {}) == (3,)
    assert check_model_output(frozen, x, {}, needs_classes=True) == (3,)
    per_time = wrap_model(lambda x: x.transpose(1, 2), device=CPU)  # (N, T, C)
    assert check_model_output(per_time, x, {}, needs_classes=True) == (T, C)


@pytest.mark.parametrize(
    "model",
    [lambda x: x.sum((1, 2)), lambda x: x.sum((1, 2))[:, None], lambda x: x.sum(1)[:, :, None]],
    ids=["(N,)", "(N, 1)", "(N, T, 1)"],
)
def test_cross_entropy_with_regression_output(X, model):
    with pytest.raises(ValueError, match="loss='log_loss' needs class scores.*Use loss='squared_error'"):
        dynamask(max_iter=2, loss="log_loss").fit(X, model)


def test_regression_output_with_mse(X):
    est = dynamask(max_iter=5).fit(X, lambda x: (x**2).sum((1, 2)))
    assert est.output_shape_ == ()


def test_integer_output_rejected(X):
    with pytest.raises(ValueError, match="real-valued"):
        dynamask(max_iter=2).fit(X, lambda x: (x.sum(1) > 0).long() + 0 * x.sum(1).long())


def test_model_inputs_are_passed(X):
    seen = {}

    def model(x, scale):
        seen["shape"] = tuple(scale.shape)
        return (x**2).sum(1) * scale[:, None]

    scale = np.arange(1.0, 7.0)
    est = DynaMask(area=0.1, max_iter=3, device="cpu")
    masks = est.fit_transform(WithInputs(X, scale=scale), model)
    assert seen["shape"] == (6,)  # full batch (6 series × 1 area)
    assert masks.shape == X.shape
    assert est.model_inputs_ == ("scale",)
