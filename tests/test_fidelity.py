"""Fidelity metrics (no ground truth) and the GridSearchCV scorers built on them."""

import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from torch import nn

from sklearn_tsmask import DynaMask, WithInputs
from sklearn_tsmask._models import wrap_model
from sklearn_tsmask.metrics import (
    FIDELITY_SCORERS,
    FIDELITY_SCORING,
    comprehensiveness,
    comprehensiveness_scorer,
    fidelity_accuracy,
    fidelity_cross_entropy,
    fidelity_cross_entropy_scorer,
    log_odds,
    make_fidelity_scorer,
    make_scoring,
    neg_fidelity_accuracy_scorer,
    neg_log_odds_scorer,
    neg_sufficiency_scorer,
    sufficiency,
)
from sklearn_tsmask.metrics._fidelity import _n_top
from conftest import N_SALIENT, SALIENT, SALIENT_AREA, make_spiky_panel

METRICS = {
    "comprehensiveness": comprehensiveness,
    "sufficiency": sufficiency,
    "accuracy": fidelity_accuracy,
    "cross_entropy": fidelity_cross_entropy,
    "log_odds": log_odds,
}
ALL = list(METRICS.values())

# ---------------------------------------------------------------- models


class LinearLogits(nn.Module):
    """Logits (N, K) = Σ_ct W[k, c, t] x[c, t] + b[k]."""

    def __init__(self, W, b, dtype=torch.float64):
        super().__init__()
        self.W = nn.Parameter(torch.as_tensor(W, dtype=dtype))
        self.b = nn.Parameter(torch.as_tensor(b, dtype=dtype))

    def forward(self, x):
        return torch.einsum("nct,kct->nk", x, self.W) + self.b


class StepLogits(nn.Module):
    """Logits (N, T, K) at every time step: Σ_c V[k, c] x[c, t] + b[k]."""

    def __init__(self, V, b):
        super().__init__()
        self.V = nn.Parameter(torch.as_tensor(V, dtype=torch.float64))
        self.b = nn.Parameter(torch.as_tensor(b, dtype=torch.float64))

    def forward(self, x):
        return torch.einsum("nct,kc->ntk", x, self.V) + self.b


class SalientEnergy(nn.Module):
    """Two classes: logits (E − 5, 0), E = Σ over the salient entries of x² (module level: pickles)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("salient", torch.from_numpy(SALIENT.astype(np.float32)))

    def forward(self, x):
        energy = ((x * self.salient) ** 2).sum((1, 2))
        return torch.stack([energy - 5.0, torch.zeros_like(energy)], dim=-1)


class FixedMasks(TransformerMixin, BaseEstimator):
    """A fitted 'explainer' with masks = |X| · scale and the black box in ``model_``."""

    def __init__(self, model=None, scale=1.0):
        self.model = model
        self.scale = scale

    def fit(self, X, y=None):
        self.model_ = wrap_model(self.model, device=torch.device("cpu"))
        return self

    def transform(self, X):
        return self.scale * np.abs(np.asarray(X))


def softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def reference(metric, logits, X, masks, top_fraction, baseline):
    """Per-series values written independently with numpy: ``logits(x (C, T)) -> (P, K)``."""
    X = np.asarray(X, dtype=float)
    n, c, t = X.shape
    k = int(math.floor(top_fraction * c * t + 1e-9))
    out = []
    for x, m in zip(X, np.asarray(masks, dtype=float)):
        flat = m.ravel()
        top = sorted(range(c * t), key=lambda i: (-flat[i], i))[:k]
        sel = np.zeros(c * t, dtype=bool)
        sel[top] = True
        sel = sel.reshape(c, t)
        base = np.broadcast_to(x.mean(1, keepdims=True), x.shape) if baseline == "average" else np.zeros_like(x)
        x_pert = np.where(sel, x, base) if metric == "sufficiency" else np.where(sel, base, x)
        p0, p1 = softmax(logits(x)), softmax(logits(x_pert))
        target = p0.argmax(-1)
        rows = np.arange(len(target))
        if metric in ("comprehensiveness", "sufficiency"):
            v = p0[rows, target] - p1[rows, target]
        elif metric == "accuracy":
            v = (p1.argmax(-1) == target).astype(float)
        elif metric == "cross_entropy":
            v = -np.log(p1[rows, target])
        else:
            v = np.log(p1[rows, target]) - np.log(p0[rows, target])
        out.append(v.mean())
    return np.array(out)


# A hand-worked case: N=2, C=2, T=3, K=3, top_fraction=0.5 -> k = 3 entries.
W = np.array(
    [
        [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]],  # class 0: x[0, 1]
        [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]],  # class 1: x[0, 2] + x[1, 1]
        [[-0.5, 0.0, 0.0], [0.0, 0.0, 1.0]],  # class 2: −x[0, 0] / 2 + x[1, 2]
    ]
)
B = np.array([0.0, 0.5, -0.5])
X_HAND = np.array([[[1.0, 2.0, 3.0], [4.0, 0.0, -2.0]], [[3.0, -1.0, 1.0], [2.0, 2.0, 5.0]]])
# series 0: top-3 = (0,0) 0.9, (1,1) 0.8, (0,2) 0.5
# series 1: (0,2) 0.7, then the tie 0.2 at flat indices 0, 1, 3, 5: the first two, (0,0) and (0,1)
M_HAND = np.array([[[0.9, 0.1, 0.5], [0.3, 0.8, 0.2]], [[0.2, 0.2, 0.7], [0.2, 0.1, 0.2]]])
# channel means: series 0 (2, 2/3), series 1 (1, 3)
REMOVED = {
    "average": np.array([[[2, 2, 2], [4, 2 / 3, -2]], [[1, 1, 1], [2, 2, 5]]]),
    "zeros": np.array([[[0, 2, 0], [4, 0, -2]], [[0, 0, 0], [2, 2, 5]]]),
}
KEPT = {
    "average": np.array([[[1, 2, 3], [2 / 3, 0, 2 / 3]], [[3, -1, 1], [3, 3, 3]]]),
    "zeros": np.array([[[1, 0, 3], [0, 0, 0]], [[3, -1, 1], [0, 0, 0]]]),
}


def hand_logits(X):
    return np.einsum("nct,kct->nk", X, W) + B


def hand_model():
    return LinearLogits(W, B)


# ------------------------------------------------------------ hand numbers


@pytest.mark.parametrize("baseline", ["average", "zeros"])
def test_hand_worked_example(baseline):
    p0 = softmax(hand_logits(X_HAND))
    t = p0.argmax(1)
    assert t.tolist() == [1, 1]
    rows = np.arange(2)
    p_removed = softmax(hand_logits(REMOVED[baseline]))
    p_kept = softmax(hand_logits(KEPT[baseline]))
    expected = {
        "comprehensiveness": p0[rows, t] - p_removed[rows, t],
        "sufficiency": p0[rows, t] - p_kept[rows, t],
        "accuracy": (p_removed.argmax(1) == t).astype(float),
        "cross_entropy": -np.log(p_removed[rows, t]),
        "log_odds": np.log(p_removed[rows, t]) - np.log(p0[rows, t]),
    }
    model = hand_model()
    for name, metric in METRICS.items():
        values = metric(model, X_HAND, M_HAND, top_fraction=0.5, baseline=baseline, reduction="none")
        np.testing.assert_allclose(values, expected[name], rtol=1e-12, atol=1e-12, err_msg=name)
        mean = metric(model, X_HAND, M_HAND, top_fraction=0.5, baseline=baseline)
        assert isinstance(mean, float)
        assert mean == pytest.approx(expected[name].mean(), abs=1e-12)


def test_hand_worked_numbers():
    e = math.exp
    # logits (class 0: x[0, 1]; class 1: x[0, 2] + x[1, 1] + 0.5; class 2: −x[0, 0] / 2 + x[1, 2] − 0.5)
    np.testing.assert_allclose(hand_logits(X_HAND), [[2.0, 3.5, -3.0], [-1.0, 3.5, 3.0]])
    np.testing.assert_allclose(hand_logits(REMOVED["zeros"]), [[2.0, 0.5, -2.5], [0.0, 2.5, 4.5]])
    np.testing.assert_allclose(hand_logits(REMOVED["average"]), [[2.0, 2 + 2 / 3 + 0.5, -3.5], [1.0, 3.5, 4.0]])
    np.testing.assert_allclose(hand_logits(KEPT["zeros"]), [[0.0, 3.5, -1.0], [-1.0, 1.5, -2.0]])
    model = hand_model()
    kw = dict(top_fraction=0.5, reduction="none")
    # both series predict class 1; removing the top entries flips both with zeros, only series 1 with averages
    np.testing.assert_array_equal(fidelity_accuracy(model, X_HAND, M_HAND, baseline="zeros", **kw), [0.0, 0.0])
    np.testing.assert_array_equal(fidelity_accuracy(model, X_HAND, M_HAND, baseline="average", **kw), [1.0, 0.0])
    p_before = [e(3.5) / (e(2) + e(3.5) + e(-3)), e(3.5) / (e(-1) + e(3.5) + e(3))]
    p_removed = [e(0.5) / (e(2) + e(0.5) + e(-2.5)), e(2.5) / (e(0) + e(2.5) + e(4.5))]
    p_kept = [e(3.5) / (e(0) + e(3.5) + e(-1)), e(1.5) / (e(-1) + e(1.5) + e(-2))]
    zeros = dict(baseline="zeros", **kw)
    np.testing.assert_allclose(
        comprehensiveness(model, X_HAND, M_HAND, **zeros), np.subtract(p_before, p_removed), rtol=1e-12
    )
    np.testing.assert_allclose(sufficiency(model, X_HAND, M_HAND, **zeros), np.subtract(p_before, p_kept), rtol=1e-12)
    np.testing.assert_allclose(fidelity_cross_entropy(model, X_HAND, M_HAND, **zeros), -np.log(p_removed), rtol=1e-12)
    np.testing.assert_allclose(
        log_odds(model, X_HAND, M_HAND, **zeros), np.log(p_removed) - np.log(p_before), rtol=1e-12
    )


def test_class_ties_predict_the_first_class():
    def model(x):  # logits (x[0, 0], x[0, 0]): always a tie, class 0 is the prediction
        return torch.stack([x[:, 0, 0], x[:, 0, 0]], -1)

    kw = dict(top_fraction=0.5, baseline="zeros")
    assert fidelity_accuracy(model, X_HAND, M_HAND, **kw) == 1.0
    assert comprehensiveness(model, X_HAND, M_HAND, **kw) == 0.0
    assert fidelity_cross_entropy(model, X_HAND, M_HAND, **kw) == pytest.approx(math.log(2))


@pytest.mark.parametrize("baseline", ["average", "zeros"])
@pytest.mark.parametrize("top_fraction", [0.1, 0.25, 0.5, 1.0])
def test_random_cases_match_numpy_reference(baseline, top_fraction):
    rng = np.random.RandomState(1)
    n, c, t, k = 7, 3, 8, 4
    Wr, br = rng.randn(k, c, t), rng.randn(k)
    X = rng.randn(n, c, t)
    masks = np.round(rng.rand(n, c, t) * 4) / 4  # many ties
    model = LinearLogits(Wr, br)

    def logits(x):
        return (np.einsum("ct,kct->k", x, Wr) + br)[None]

    for name, metric in METRICS.items():
        values = metric(model, X, masks, top_fraction=top_fraction, baseline=baseline, reduction="none", batch_size=3)
        expected = reference(name, logits, X, masks, top_fraction, baseline)
        np.testing.assert_allclose(values, expected, rtol=1e-10, atol=1e-12, err_msg=name)


def test_top_fraction_one_keeps_or_removes_everything():
    model = hand_model()
    assert sufficiency(model, X_HAND, M_HAND, top_fraction=1.0) == 0.0
    # everything replaced by 0: the logits are the bias (0, 0.5, −0.5), the targets are class 1
    assert log_odds(model, X_HAND, M_HAND, top_fraction=1.0, baseline="zeros") == pytest.approx(
        np.mean(np.log(softmax(B)[1]) - np.log(softmax(hand_logits(X_HAND))[:, 1])), abs=1e-12
    )


# --------------------------------------------------------------- top-k, ties


def single_entry_model(c, t):
    """Logits (x[c, t], 0): only the entry (c, t) matters."""

    def model(x):
        return torch.stack([x[:, c, t], torch.zeros(len(x), dtype=x.dtype)], dim=-1)

    return model


def test_ties_go_to_the_first_flat_index():
    X = np.full((1, 2, 3), 2.0)
    flat = np.array([[0.5, 1.0, 1.0, 0.5, 1.0, 0.2]]).reshape(1, 2, 3)  # ties at flat 1, 2, 4
    drop = 1 / (1 + math.exp(-2)) - 0.5
    for (c, t), removed in {(0, 1): True, (0, 2): True, (1, 1): False, (0, 0): False}.items():
        value = comprehensiveness(single_entry_model(c, t), X, flat, top_fraction=2 / 6, baseline="zeros")
        assert value == pytest.approx(drop if removed else 0.0, abs=1e-7), (c, t)
    # a constant mask: the first k flat indices
    const = np.ones((1, 2, 3))
    for idx in range(6):
        c, t = divmod(idx, 3)
        value = comprehensiveness(single_entry_model(c, t), X, const, top_fraction=0.5, baseline="zeros")
        assert value == pytest.approx(drop if idx < 3 else 0.0, abs=1e-7), idx


def test_only_the_ranking_of_the_masks_matters():
    rng = np.random.RandomState(0)
    X = rng.randn(4, 2, 5)
    masks = rng.rand(4, 2, 5)
    model = LinearLogits(rng.randn(2, 2, 5), rng.randn(2))
    for metric in ALL:
        a = metric(model, X, masks, reduction="none")
        b = metric(model, X, 10 * masks - 3, reduction="none")  # any real attribution, same order
        np.testing.assert_array_equal(a, b)


def test_k_is_floor_of_fraction_times_entries():
    assert _n_top(0.29, 100) == 29  # 0.29 * 100 = 28.999999999999996 in floating point
    assert _n_top(0.2, 64) == 12
    assert _n_top(1.0, 7) == 7
    assert _n_top(0.99, 7) == 6
    # behaviour: 3 of 10 ordered entries removed; logits (Σ x, 0) on x = 0.1 everywhere
    X = np.full((1, 1, 10), 0.1)
    masks = np.arange(10.0)[::-1].reshape(1, 1, 10).copy()

    def model(x):
        s = x.sum((1, 2))
        return torch.stack([s, torch.zeros_like(s)], -1)

    value = comprehensiveness(model, X, masks, top_fraction=0.35, baseline="zeros")
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    assert value == pytest.approx(sig(1.0) - sig(0.7), abs=1e-6)


# ------------------------------------------------------------ output shapes


def test_per_position_outputs_are_averaged():
    rng = np.random.RandomState(2)
    n, c, t = 5, 2, 6
    V, b = rng.randn(3, c), rng.randn(3)
    X = rng.randn(n, c, t)
    masks = rng.rand(n, c, t)
    model = StepLogits(V, b)

    def logits(x):  # (T, K)
        return x.T @ V.T + b

    # the target really changes along time: a per-series target would be wrong
    assert len(np.unique(softmax(logits(X[0])).argmax(-1))) > 1
    for name, metric in METRICS.items():
        for baseline in ("average", "zeros"):
            values = metric(model, X, masks, top_fraction=0.25, baseline=baseline, reduction="none")
            expected = reference(name, logits, X, masks, 0.25, baseline)
            np.testing.assert_allclose(values, expected, rtol=1e-10, atol=1e-12, err_msg=name)
    acc = fidelity_accuracy(model, X, masks, top_fraction=0.5, reduction="none")
    assert np.all((acc * t) == np.round(acc * t))  # a fraction of the 6 time steps
    assert not np.all(np.isin(acc, [0.0, 1.0]))


def test_extra_unit_axis_is_the_same_as_none():
    model = hand_model()

    def with_axis(x):  # a callable computes in float32: cast for the float64 module
        return model(x.double())[:, None, :]

    for metric in ALL:
        assert metric(with_axis, X_HAND, M_HAND, top_fraction=0.5) == pytest.approx(
            metric(model, X_HAND, M_HAND, top_fraction=0.5), abs=1e-6  # X rounded to float32
        )


def test_proba_output_equals_logits_output():
    rng = np.random.RandomState(3)
    X, masks = rng.randn(6, 2, 4), rng.rand(6, 2, 4)
    logits_model = LinearLogits(rng.randn(3, 2, 4), rng.randn(3))
    proba_model = nn.Sequential(logits_model, nn.Softmax(dim=-1))
    for metric in ALL:
        a = metric(logits_model, X, masks, reduction="none")
        b = metric(proba_model, X, masks, output="proba", reduction="none")
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_proba_output_by_hand():
    # probabilities (x[0, 0], 1 − x[0, 0]), used as they are (no softmax)
    def model(x):
        p = x[:, 0, 0]
        return torch.stack([p, 1 - p], -1)

    X = np.array([[[0.8, 0.5]], [[0.3, 0.5]]])
    masks = np.array([[[1.0, 0.0]], [[1.0, 0.0]]])
    kw = dict(top_fraction=0.5, baseline="zeros", output="proba", reduction="none")
    # removed: p = (0, 1); targets 0 (0.8) and 1 (0.7)
    np.testing.assert_allclose(comprehensiveness(model, X, masks, **kw), [0.8, 0.7 - 1.0])
    np.testing.assert_allclose(fidelity_accuracy(model, X, masks, **kw), [0.0, 1.0])
    np.testing.assert_allclose(fidelity_cross_entropy(model, X, masks, **kw)[1], 0.0, atol=1e-15)
    # p_t = 0: clipped, large but finite
    ce = fidelity_cross_entropy(model, X, masks, **kw)[0]
    assert np.isfinite(ce) and ce > 700
    assert np.isfinite(log_odds(model, X, masks, **kw)).all()
    # average baselines 0.65 and 0.4: p = (0.65, 0.35) and (0.4, 0.6)
    kw["baseline"] = "average"
    np.testing.assert_allclose(comprehensiveness(model, X, masks, **kw), [0.8 - 0.65, 0.7 - 0.6], atol=1e-6)


def test_proba_out_of_range_is_refused():
    with pytest.raises(ValueError, match=r'output="proba" needs probabilities in \[0, 1\]'):
        comprehensiveness(hand_model(), X_HAND, M_HAND, output="proba")


# ------------------------------------------------------------ reductions


@pytest.mark.parametrize("metric", ALL)
def test_reduction_none_and_mean(metric):
    values = metric(hand_model(), X_HAND, M_HAND, reduction="none")
    assert isinstance(values, np.ndarray) and values.shape == (2,) and values.dtype == np.float64
    assert metric(hand_model(), X_HAND, M_HAND) == pytest.approx(values.mean(), abs=1e-15)


# ------------------------------------------------------------- containers


def test_batch_size_and_containers_do_not_change_values():
    rng = np.random.RandomState(4)
    X, masks = rng.randn(7, 3, 5), rng.rand(7, 3, 5)
    model = LinearLogits(rng.randn(3, 3, 5), rng.randn(3))
    for metric in ALL:
        ref = metric(model, X, masks, reduction="none")
        np.testing.assert_allclose(metric(model, X, masks, reduction="none", batch_size=1), ref, rtol=1e-12)
        np.testing.assert_allclose(metric(model, X, masks, reduction="none", batch_size=2), ref, rtol=1e-12)
        np.testing.assert_allclose(
            metric(model, torch.from_numpy(X), torch.from_numpy(masks), reduction="none"), ref, rtol=1e-12
        )
        frozen = wrap_model(model, device=torch.device("cpu"))
        np.testing.assert_allclose(metric(frozen, X, masks, reduction="none"), ref, rtol=1e-12)


def test_2d_panel_is_univariate():
    rng = np.random.RandomState(5)
    X, masks = rng.randn(4, 6), rng.rand(4, 6)
    model = LinearLogits(rng.randn(2, 1, 6), rng.randn(2))
    for metric in ALL:
        np.testing.assert_array_equal(
            metric(model, X, masks, reduction="none"), metric(model, X[:, None], masks[:, None], reduction="none")
        )


def test_ntc_layout():
    rng = np.random.RandomState(6)
    X, masks = rng.randn(4, 2, 5), rng.rand(4, 2, 5)
    model = LinearLogits(rng.randn(3, 2, 5), rng.randn(3))

    def ntc_model(x):  # expects (N, T, C)
        assert x.shape[1:] == (5, 2)
        return model(x.transpose(1, 2).double())

    for metric in ALL:
        np.testing.assert_allclose(
            metric(ntc_model, X, masks, model_layout="NTC", reduction="none"),
            metric(model, X, masks, reduction="none"),
            atol=1e-6,  # X rounded to float32
        )


def test_model_inputs_are_sliced_with_the_batches():
    rng = np.random.RandomState(7)
    X, masks = rng.randn(5, 2, 4), rng.rand(5, 2, 4)
    shift = rng.randn(5, 3)
    model = LinearLogits(rng.randn(3, 2, 4), rng.randn(3))

    def shifted(x, shift):
        return model(x.double()) + shift

    Wn, bn = model.W.detach().numpy(), model.b.detach().numpy()

    def logits(i):
        return lambda x: (np.einsum("ct,kct->k", x, Wn) + bn + shift[i])[None]

    for name, metric in METRICS.items():
        values = metric(shifted, WithInputs(X, shift=shift), masks, batch_size=2, reduction="none")
        expected = [reference(name, logits(i), X[i : i + 1], masks[i : i + 1], 0.2, "average")[0] for i in range(5)]
        np.testing.assert_allclose(values, expected, atol=1e-6, err_msg=name)  # X rounded to float32
    wrong_rows = r"the model input 'shift' must have one row per series \(5\), got shape \(3, 3\)"
    with pytest.raises(ValueError, match=wrong_rows):
        comprehensiveness(shifted, WithInputs(X, shift=shift[:3]), masks)


def group_model(x, groups):
    """Logits (N, 2) = (x[n, 0, groups[n]], 0): each series' group picks the time point that matters."""
    z = x[torch.arange(len(x)), 0, groups.long()]
    return torch.stack([z, torch.zeros_like(z)], dim=-1)


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


@pytest.mark.parametrize("container", [np.asarray, torch.as_tensor])
def test_metrics_take_the_model_inputs_from_with_inputs_hand_computed(container):
    X = container(np.array([[[2.0, 3.0]], [[2.0, 3.0]]]))  # N=2, C=1, T=2
    masks = np.array([[[1.0, 0.0]], [[1.0, 0.0]]])  # both rank t=0 first; k = 1 entry
    kw = dict(top_fraction=0.5, baseline="zeros", reduction="none", batch_size=1)
    # series 0 (group 0) uses x[0, 0] = 2: removing it gives p_0 = 1/2, keeping only it changes nothing;
    # series 1 (group 1) uses x[0, 1] = 3: removing x[0, 0] changes nothing, keeping only x[0, 0] gives 1/2
    Xg = WithInputs(X, groups=container(np.array([0, 1])))
    np.testing.assert_allclose(comprehensiveness(group_model, Xg, masks, **kw), [sigmoid(2) - 0.5, 0], atol=1e-12)
    np.testing.assert_allclose(sufficiency(group_model, Xg, masks, **kw), [0.0, sigmoid(3) - 0.5], atol=1e-12)
    np.testing.assert_allclose(fidelity_accuracy(group_model, Xg, masks, **kw), [1.0, 1.0])  # 1/2 ties: class 0
    expected_ce = [math.log(2), -math.log(sigmoid(3))]
    np.testing.assert_allclose(fidelity_cross_entropy(group_model, Xg, masks, **kw), expected_ce, atol=1e-12)
    np.testing.assert_allclose(log_odds(group_model, Xg, masks, **kw), [math.log(0.5 / sigmoid(2)), 0.0], atol=1e-12)
    # the groups follow their series: swapped groups swap the roles of the series
    swapped = WithInputs(X, groups=container(np.array([1, 0])))
    np.testing.assert_allclose(comprehensiveness(group_model, swapped, masks, **kw), [0, sigmoid(2) - 0.5], atol=1e-12)
    assert comprehensiveness(group_model, Xg, masks, top_fraction=0.5, baseline="zeros") == pytest.approx(
        (sigmoid(2) - 0.5) / 2, abs=1e-12
    )


def test_metrics_refuse_model_inputs_with_a_wrong_number_of_rows():
    X, masks = np.array([[[2.0, 3.0]], [[2.0, 3.0]]]), np.ones((2, 1, 2))
    three_rows = r"the model input 'groups' must have one row per series \(2\), got shape \(3,\)\."
    with pytest.raises(ValueError, match=three_rows):
        comprehensiveness(group_model, WithInputs(X, groups=np.array([0, 1, 0])), masks)
    # inputs changed after the bundle was made are checked again by the metric
    Xg = WithInputs(X, groups=np.array([0, 1]))
    Xg.inputs["groups"] = np.array([0])
    one_row = r"the model input 'groups' must have one row per series \(2\), got shape \(1,\)\."
    for metric in ALL:
        with pytest.raises(ValueError, match=one_row):
            metric(group_model, Xg, masks, top_fraction=0.5)


def test_fidelity_scoring_of_an_explainer_fitted_with_model_inputs():
    rng = np.random.RandomState(3)
    X = rng.uniform(1.0, 3.0, size=(4, 1, 5))  # positive: group_model predicts class 0 on every series
    groups = np.array([0, 3, 4, 1])
    Xg = WithInputs(X, groups=groups)
    est = DynaMask(area=0.2, max_iter=60, perturbation="fade_reference", device="cpu", random_state=0)
    est.fit(Xg, group_model)
    assert est.model_inputs_ == ("groups",)
    masks = est.transform(Xg)
    assert masks.shape == X.shape
    np.testing.assert_array_equal(masks[:, 0].argmax(-1), groups)  # each series' mask finds its group's time point
    scores = FIDELITY_SCORING(est, Xg)
    for name, scorer in FIDELITY_SCORERS.items():
        assert scores[name] == scorer(est, Xg), name
    # top_fraction=0.2: the top entry of each series, the one its group picks
    assert scores["comprehensiveness"] == pytest.approx(comprehensiveness(group_model, Xg, masks), abs=1e-12)
    z, z_removed = X[np.arange(4), 0, groups], X[:, 0].mean(-1)  # baseline "average": the series' mean
    expected = np.mean([sigmoid(a) - sigmoid(b) for a, b in zip(z, z_removed)])
    assert scores["comprehensiveness"] == pytest.approx(expected, abs=1e-6)  # the explainer's model runs in float32
    assert scores["neg_sufficiency"] == pytest.approx(0.0, abs=1e-12)  # keeping the group's entry keeps the logit


def test_two_model_calls_per_batch():
    calls = []

    def model(x):
        calls.append(len(x))
        return hand_model()(x.double())

    X = np.concatenate([X_HAND] * 3)  # 6 series
    M = np.concatenate([M_HAND] * 3)
    sufficiency(model, X, M, batch_size=4)
    assert calls == [4, 4, 2, 2]


def test_module_model_on_float32_and_unchanged():
    rng = np.random.RandomState(8)
    X, masks = rng.randn(3, 2, 4).astype(np.float32), rng.rand(3, 2, 4)
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(8, 3))
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    a = comprehensiveness(model, X, masks, reduction="none")
    b = comprehensiveness(model, X, masks, reduction="none")
    np.testing.assert_array_equal(a, b)  # eval mode: no dropout noise
    assert model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def hand_model_for(c, t):
    rng = np.random.RandomState(10)
    return LinearLogits(rng.randn(3, c, t), rng.randn(3))


@pytest.mark.parametrize("metric", ALL)
def test_inputs_are_not_modified(metric):
    rng = np.random.RandomState(9)
    X, masks = rng.randn(3, 2, 4), rng.rand(3, 2, 4)
    X_copy, masks_copy = X.copy(), masks.copy()
    metric(hand_model_for(2, 4), X, masks, baseline="zeros")
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(masks, masks_copy)
    Xt, Mt = torch.from_numpy(X), torch.from_numpy(masks)  # float64, like the model: no copy is made
    metric(hand_model_for(2, 4), Xt, Mt, baseline="average")
    np.testing.assert_array_equal(Xt.numpy(), X_copy)
    np.testing.assert_array_equal(Mt.numpy(), masks_copy)


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize("metric", ALL)
def test_shape_mismatch(metric):
    with pytest.raises(ValueError, match=r"X has shape \(2, 2, 3\), masks have shape \(2, 3, 2\)"):
        metric(hand_model(), X_HAND, M_HAND.transpose(0, 2, 1))
    with pytest.raises(ValueError, match=r"masks have shape \(1, 2, 3\)"):
        metric(hand_model(), X_HAND, M_HAND[:1])


@pytest.mark.parametrize("metric", ALL)
def test_bad_options(metric):
    model = hand_model()
    with pytest.raises(ValueError, match=r"baseline must be one of \('average', 'zeros'\), got 'mean'"):
        metric(model, X_HAND, M_HAND, baseline="mean")
    with pytest.raises(ValueError, match="baseline must be one of"):
        metric(model, X_HAND, M_HAND, baseline=0.0)
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"top_fraction must be in \(0.0, 1.0\]"):
            metric(model, X_HAND, M_HAND, top_fraction=bad)
    with pytest.raises(TypeError, match="top_fraction must be a real number"):
        metric(model, X_HAND, M_HAND, top_fraction="0.2")
    with pytest.raises(ValueError, match=r"too small for series of 6 entries.*top_fraction >= 0.166667"):
        metric(model, X_HAND, M_HAND, top_fraction=0.1)
    with pytest.raises(ValueError, match="output must be one of"):
        metric(model, X_HAND, M_HAND, output="probabilities")
    with pytest.raises(ValueError, match="reduction must be one of"):
        metric(model, X_HAND, M_HAND, reduction="sum")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        metric(model, X_HAND, M_HAND, batch_size=0)
    with pytest.raises(ValueError, match="model_layout must be one of"):
        metric(model, X_HAND, M_HAND, model_layout="TNC")


@pytest.mark.parametrize("metric", ALL)
@pytest.mark.parametrize(
    "out", [lambda x: x.sum((1, 2)), lambda x: x.sum((1, 2))[:, None], lambda x: x.sum(1)[:, :, None]]
)
def test_regression_outputs_are_refused(metric, out):
    with pytest.raises(ValueError, match="need class scores on the last axis"):
        metric(out, X_HAND, M_HAND)


def test_non_finite_and_wrong_batch_outputs():
    with pytest.raises(ValueError, match="NaN or infinite"):
        comprehensiveness(lambda x: torch.full((len(x), 2), float("nan")), X_HAND, M_HAND)
    with pytest.raises(ValueError, match="for a batch of 2 series the model returned shape"):
        comprehensiveness(lambda x: torch.zeros(3, 2), X_HAND, M_HAND)
    with pytest.raises(TypeError, match="must return a torch.Tensor"):
        comprehensiveness(lambda x: (x, x), X_HAND, M_HAND)


# ----------------------------------------------------------------- scorers

SCORERS = [
    (comprehensiveness_scorer, comprehensiveness, 1),
    (neg_sufficiency_scorer, sufficiency, -1),
    (neg_fidelity_accuracy_scorer, fidelity_accuracy, -1),
    (fidelity_cross_entropy_scorer, fidelity_cross_entropy, 1),
    (neg_log_odds_scorer, log_odds, -1),
]


def fitted_fixed_masks():
    rng = np.random.RandomState(11)
    X = rng.randn(6, 2, 5)
    return FixedMasks(LinearLogits(rng.randn(3, 2, 5), rng.randn(3))).fit(X), X


@pytest.mark.parametrize("scorer, metric, sign", SCORERS)
def test_scorers_return_the_signed_metric_and_ignore_y(scorer, metric, sign):
    est, X = fitted_fixed_masks()
    expected = sign * metric(est.model, X, np.abs(X))
    assert scorer(est, X) == pytest.approx(expected, abs=1e-12)
    assert scorer(est, X, np.zeros_like(X)) == scorer(est, X)


class CountingFixedMasks(FixedMasks):
    """FixedMasks counting its transforms."""

    def fit(self, X, y=None):
        self.n_transforms_ = 0
        return super().fit(X, y)

    def transform(self, X):
        self.n_transforms_ += 1
        return super().transform(X)


def test_fidelity_scoring_matches_the_single_scorers_with_one_transform():
    rng = np.random.RandomState(11)
    X = rng.randn(6, 2, 5)
    est = CountingFixedMasks(LinearLogits(rng.randn(3, 2, 5), rng.randn(3)), scale=2.0).fit(X)
    scores = FIDELITY_SCORING(est, X)
    assert est.n_transforms_ == 1
    assert list(scores) == list(FIDELITY_SCORERS)
    for name, scorer in FIDELITY_SCORERS.items():
        assert scores[name] == scorer(est, X), name
        assert isinstance(scores[name], float)
    assert est.n_transforms_ == 1 + len(FIDELITY_SCORERS)  # each single scorer computes its own masks
    assert FIDELITY_SCORING(est, X, np.zeros_like(X)) == scores  # y is ignored


def test_fidelity_scoring_with_an_explainer_optimises_once():
    X, _ = make_spiky_panel(0, n=4)
    est = DynaMask(area=SALIENT_AREA, perturbation="fade_reference", max_iter=30, device="cpu", random_state=0)
    est.fit(X, SalientEnergy())
    calls = []
    transform = est.transform

    def counted(X):
        calls.append(len(X))
        return transform(X)

    est.transform = counted
    scores = FIDELITY_SCORING(est, X)
    assert calls == [len(X)]
    for name, scorer in FIDELITY_SCORERS.items():
        assert scores[name] == scorer(est, X), name  # transform is deterministic: the same masks
    assert len(calls) == 1 + len(FIDELITY_SCORERS)
    # a subset, under the names of one's choice
    some = make_scoring({"comp": "comprehensiveness", "suff": neg_sufficiency_scorer})(est, X)
    assert some == {"comp": scores["comprehensiveness"], "suff": scores["neg_sufficiency"]}


def test_fidelity_scorers_dict():
    assert FIDELITY_SCORERS == {
        "comprehensiveness": comprehensiveness_scorer,
        "neg_sufficiency": neg_sufficiency_scorer,
        "neg_fidelity_accuracy": neg_fidelity_accuracy_scorer,
        "fidelity_cross_entropy": fidelity_cross_entropy_scorer,
        "neg_log_odds": neg_log_odds_scorer,
    }


@pytest.mark.parametrize(
    "scorer", list(FIDELITY_SCORERS.values()) + [make_fidelity_scorer("log_odds", baseline="zeros")]
)
def test_scorer_pickle_round_trip(scorer):
    est, X = fitted_fixed_masks()
    clone = pickle.loads(pickle.dumps(scorer))
    assert repr(clone) == repr(scorer)
    assert clone(est, X) == scorer(est, X)


def test_make_fidelity_scorer_names_signs_and_kwargs():
    est, X = fitted_fixed_masks()
    kw = dict(top_fraction=0.5, baseline="zeros")
    for name, metric, sign in [
        ("comprehensiveness", comprehensiveness, 1),
        ("sufficiency", sufficiency, -1),
        ("accuracy", fidelity_accuracy, -1),
        ("fidelity_accuracy", fidelity_accuracy, -1),
        ("cross_entropy", fidelity_cross_entropy, 1),
        ("log_odds", log_odds, -1),
    ]:
        value = metric(est.model, X, np.abs(X), **kw)
        assert make_fidelity_scorer(name, **kw)(est, X) == pytest.approx(sign * value, abs=1e-12), name
        assert make_fidelity_scorer(metric, **kw)(est, X) == pytest.approx(sign * value, abs=1e-12), name
        flipped = make_fidelity_scorer(name, greater_is_better=sign < 0, **kw)
        assert flipped(est, X) == pytest.approx(-sign * value, abs=1e-12), name
    assert (
        repr(make_fidelity_scorer("sufficiency", top_fraction=0.1))
        == "make_fidelity_scorer(sufficiency, top_fraction=0.1)"
    )
    assert (
        repr(make_fidelity_scorer(comprehensiveness, greater_is_better=False))
        == "make_fidelity_scorer(comprehensiveness, greater_is_better=False)"
    )
    assert repr(neg_log_odds_scorer) == "make_fidelity_scorer(log_odds)"


def test_make_fidelity_scorer_errors():
    with pytest.raises(ValueError, match="Unknown fidelity metric 'aup'"):
        make_fidelity_scorer("aup")
    with pytest.raises(TypeError, match="metric must be a callable or a metric name"):
        make_fidelity_scorer(3)
    with pytest.raises(TypeError, match="Invalid keyword arguments for comprehensiveness"):
        make_fidelity_scorer("comprehensiveness", top_frac=0.1)
    with pytest.raises(ValueError, match="reduction must be 'mean'"):
        make_fidelity_scorer("sufficiency", reduction="none")


def test_scorer_needs_a_fitted_explainer():
    X, _ = make_spiky_panel(0, n=2)
    with pytest.raises(NotFittedError):
        comprehensiveness_scorer(DynaMask(), X)


def test_scorer_needs_a_model_attribute():
    class NoModel(TransformerMixin, BaseEstimator):
        def fit(self, X, y=None):
            return self

        def transform(self, X):
            return np.asarray(X)

    X, _ = make_spiky_panel(0, n=2)
    with pytest.raises(TypeError, match="has no model_"):
        comprehensiveness_scorer(NoModel().fit(X), X)


# ------------------------------------------------------------- end to end


def test_true_mask_beats_random_mask():
    X, truth = make_spiky_panel(0, n=8)
    net = SalientEnergy()
    random_masks = np.random.RandomState(0).rand(*X.shape)
    kw = dict(top_fraction=N_SALIENT / SALIENT.size)
    assert comprehensiveness(net, X, truth, **kw) > 0.9 > 0.1 > comprehensiveness(net, X, random_masks, **kw)
    assert sufficiency(net, X, truth, **kw) < 0.1 < 0.5 < sufficiency(net, X, random_masks, **kw)
    assert fidelity_accuracy(net, X, truth, **kw) == 0.0
    assert fidelity_accuracy(net, X, random_masks, **kw) == 1.0
    assert fidelity_cross_entropy(net, X, truth, **kw) > fidelity_cross_entropy(net, X, random_masks, **kw)
    assert log_odds(net, X, truth, **kw) < log_odds(net, X, random_masks, **kw)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_without_ground_truth(n_jobs):
    X, truth = make_spiky_panel(0, n=8)
    net = SalientEnergy()
    search = GridSearchCV(
        DynaMask(perturbation="fade_reference", max_iter=60, device="cpu", random_state=0),
        {"area": [SALIENT_AREA, 0.5]},
        scoring=FIDELITY_SCORING,  # every metric from one transform per test fold
        refit="comprehensiveness",
        cv=KFold(2),
        n_jobs=n_jobs,
        error_score="raise",
    )
    search.fit(X, model=net)  # no y: no ground truth
    res = search.cv_results_
    for name in FIDELITY_SCORERS:
        for key in (f"mean_test_{name}", f"split0_test_{name}", f"split1_test_{name}"):
            assert np.isfinite(res[key]).all(), key
    # masks of the salient area remove what the model uses; masks of half the series spread over noise
    comp = res["mean_test_comprehensiveness"]
    assert comp[0] > 0.9 and comp[1] < comp[0] - 0.2
    assert res["mean_test_neg_fidelity_accuracy"][0] == 0.0  # every prediction flips
    assert res["mean_test_fidelity_cross_entropy"][0] > res["mean_test_fidelity_cross_entropy"][1]
    assert search.best_params_ == {"area": SALIENT_AREA}
    assert search.best_score_ == comp[0]
    best = search.best_estimator_
    # the refitted explainer scores like the metric on its own masks, and beats a random mask
    masks = best.transform(X)
    assert masks.shape == X.shape
    np.testing.assert_array_equal(best.transform(X), masks)  # optimised again, deterministically
    score = comprehensiveness_scorer(best, X)
    assert score == pytest.approx(comprehensiveness(net, X, masks), abs=1e-12)
    random_masks = np.random.RandomState(0).rand(*X.shape)
    assert score > comprehensiveness(net, X, random_masks) + 0.5
    assert comprehensiveness(net, X, truth) > comprehensiveness(net, X, random_masks) + 0.5


class CountingDynaMask(DynaMask):
    """DynaMask counting the transforms of every instance (n_jobs=1: one process)."""

    transforms = []

    def transform(self, X):
        CountingDynaMask.transforms.append(len(X))
        return super().transform(X)


def test_grid_search_with_one_scoring_object_optimises_once_per_fold():
    X, _ = make_spiky_panel(0, n=8)
    net = SalientEnergy()
    results = {}
    for label, scoring in (("dict", FIDELITY_SCORERS), ("one", FIDELITY_SCORING)):
        CountingDynaMask.transforms = []
        search = GridSearchCV(
            CountingDynaMask(perturbation="fade_reference", max_iter=60, device="cpu", random_state=0),
            {"area": [SALIENT_AREA, 0.5]},
            scoring=scoring,
            refit="comprehensiveness",
            cv=KFold(2),
            error_score="raise",
        )
        search.fit(X, model=net)
        results[label] = (search.cv_results_, list(CountingDynaMask.transforms))
    one, dict_ = results["one"], results["dict"]
    assert one[1] == [4] * 4  # 2 candidates x 2 folds, one transform each
    assert dict_[1] == [4] * 4 * len(FIDELITY_SCORERS)  # a dict of scorers optimises once per metric
    for name in FIDELITY_SCORERS:
        for key in (f"split0_test_{name}", f"split1_test_{name}", f"mean_test_{name}", f"rank_test_{name}"):
            np.testing.assert_array_equal(one[0][key], dict_[0][key], err_msg=key)


@pytest.mark.gpu
def test_cuda_matches_cpu():
    rng = np.random.RandomState(12)
    X, masks = rng.randn(9, 3, 7), rng.rand(9, 3, 7)
    model = LinearLogits(rng.randn(4, 3, 7), rng.randn(4))
    for metric in ALL:
        cpu = metric(model, X, masks, device="cpu", reduction="none", batch_size=4)
        # a CUDA tensor input puts the computation on its device ("auto")
        cuda = metric(model, torch.from_numpy(X).cuda(), torch.from_numpy(masks).cuda(), reduction="none", batch_size=4)
        np.testing.assert_allclose(cuda, cpu, rtol=1e-9, atol=1e-12)
        frozen = wrap_model(model, device=torch.device("cuda"))
        np.testing.assert_allclose(metric(frozen, X, masks, reduction="none"), cpu, rtol=1e-9, atol=1e-12)
