"""Panels of unequal-length series (aeon's list of 2D arrays, sktime's df-list and nested_univ): each
series is explained at its own length, batched by length, and its mask comes back in the input's
container; a method tied to one length refuses them."""

import numpy as np
import pandas as pd
import pytest
import torch

from sklearn_tsmask import ContraLSP, DynaMask, ExtremalMask, WithInputs

C = 3
LENGTHS = (10, 14, 10, 12, 14, 10)


def ragged(seed=0):
    rng = np.random.RandomState(seed)
    return [rng.randn(C, t) for t in LENGTHS]


def square(x, **_):
    return (x * x).sum(-1)


class LengthRecorder:
    """A model of any length that records the lengths and sizes of the batches it is called on."""

    def __init__(self):
        self.calls = []

    def __call__(self, x):
        self.calls.append(tuple(x.shape))
        return (x * x).sum(-1)


def test_each_series_is_explained_at_its_own_length_as_its_length_group_alone():
    X = ragged()
    masks = DynaMask(area=0.2, max_iter=20, random_state=0).fit_transform(X, model=square)
    assert isinstance(masks, list) and [m.shape for m in masks] == [(C, t) for t in LENGTHS]
    assert all(m.dtype == np.float64 and 0 <= m.min() and m.max() <= 1 for m in masks)
    for length in set(LENGTHS):
        rows = [i for i, t in enumerate(LENGTHS) if t == length]
        alone = DynaMask(area=0.2, max_iter=20, random_state=0).fit_transform(np.stack([X[i] for i in rows]), square)
        for j, i in enumerate(rows):
            np.testing.assert_allclose(masks[i], alone[j], atol=1e-6)


def test_batches_never_mix_lengths_and_respect_batch_size():
    X = ragged()
    model = LengthRecorder()
    DynaMask(area=0.1, max_iter=2, batch_size=2, random_state=0).fit_transform(X, model=model)
    # the probe (first length), then per length group: one prediction of the group, then batches of <= 2
    assert {shape[2] for shape in model.calls} == set(LENGTHS)
    assert max(shape[0] for shape in model.calls[1:]) <= 3  # a group of 3 series of length 10 is predicted at once
    optimised = [shape for shape in model.calls[1:] if shape[0] <= 2]
    assert {shape[2] for shape in optimised} == set(LENGTHS)


def test_per_series_diagnostics_follow_the_input_order():
    X = ragged()
    result = DynaMask(area=[0.1, 0.3], max_iter=10, random_state=0).fit(X, square).explain(X)
    assert result.error_by_area.shape == (len(X), 2) and result.area.shape == (len(X),)
    alone = DynaMask(area=[0.1, 0.3], max_iter=10, random_state=0).fit(X[1:2], square).explain(X[1:2])
    np.testing.assert_allclose(result.error_by_area[1], alone.error_by_area[0], rtol=1e-5)


def test_extremal_mask_learns_its_network_on_series_of_several_lengths():
    X = ragged()
    est = ExtremalMask(max_iter=5, random_state=0).fit(X, model=square)
    assert est.n_timepoints_ is None and est.n_features_in_ == C
    masks = est.transform(X)
    assert [m.shape for m in masks] == [(C, t) for t in LENGTHS]
    # the fitted network explains series of yet another length, also as a numpy3D panel
    other = est.transform(np.random.RandomState(1).randn(2, C, 7))
    assert other.shape == (2, C, 7) and 0 <= other.min() and other.max() <= 1


def test_a_method_tied_to_one_length_refuses_unequal_lengths():
    X = ragged()
    with pytest.raises(ValueError, match=r"unequal lengths \(3 lengths, from 10 to 14 time points\).*cannot fit"):
        ContraLSP(max_iter=2).fit(X, model=square)
    est = ContraLSP(max_iter=2, random_state=0).fit(np.stack(X[1::3]), model=square)  # two series of 14
    with pytest.raises(ValueError, match="cannot explain them"):
        est.transform(X)
    assert est.transform(np.stack(X[1::3])).shape == (2, C, 14)


def test_model_inputs_follow_their_series_through_the_length_groups():
    X = ragged()
    g = np.arange(len(X), dtype=float) + 1.0
    seen = {}

    def model(x, g):
        seen.setdefault(x.shape[2], set()).update(g.tolist())
        return g[:, None] * (x * x).sum(-1)

    DynaMask(max_iter=2, random_state=0).fit_transform(WithInputs(X, g=g), model=model)
    for length in set(LENGTHS):
        assert seen[length] == {g[i] for i, t in enumerate(LENGTHS) if t == length}


def _as_df_list(X):
    return [pd.DataFrame(a.T, columns=["a", "b", "c"], index=pd.RangeIndex(100, 100 + a.shape[1])) for a in X]


def _as_nested(X):
    rows = [[pd.Series(a[c], index=np.arange(a.shape[1]) * 2) for c in range(C)] for a in X]
    return pd.DataFrame(rows, columns=["a", "b", "c"], index=[f"s{i}" for i in range(len(X))])


@pytest.mark.parametrize("container", ["df-list", "nested_univ"])
def test_sktime_pandas_panels_of_unequal_lengths_come_back_in_their_container(container):
    X = ragged()
    data = _as_df_list(X) if container == "df-list" else _as_nested(X)
    expected = DynaMask(max_iter=5, random_state=0).fit_transform(X, model=square)
    masks = DynaMask(max_iter=5, random_state=0).fit_transform(data, model=square)
    if container == "df-list":
        for m, d, e in zip(masks, data, expected):
            assert m.index.equals(d.index) and m.columns.equals(d.columns)
            np.testing.assert_array_equal(m.to_numpy().T, e)
    else:
        assert masks.index.equals(data.index) and masks.columns.equals(data.columns)
        for i, e in enumerate(expected):
            for j in range(C):
                assert masks.iat[i, j].index.equals(data.iat[i, j].index)
                np.testing.assert_array_equal(masks.iat[i, j].to_numpy(), e[j])


def test_an_equal_length_list_of_arrays_stays_a_list():
    X = [np.random.RandomState(0).randn(C, 8).astype(np.float32) for _ in range(3)]
    masks = DynaMask(max_iter=3, random_state=0).fit_transform(X, model=square)
    assert isinstance(masks, list) and all(m.shape == (C, 8) and m.dtype == np.float32 for m in masks)
    np.testing.assert_array_equal(
        np.stack(masks), DynaMask(max_iter=3, random_state=0).fit_transform(np.stack(X), model=square))


@pytest.mark.parametrize(
    "X, match",
    [
        ([np.zeros((3, 5)), np.zeros((2, 6))], r"different numbers of channels: array 0 has 3"),
        ([np.zeros((3, 5)), np.full((3, 6), np.nan)], r"X\[1\] contains NaN"),
        ([np.zeros((3, 5)), np.zeros((3, 0))], r"X\[1\] has an empty channel or time axis"),
    ],
    ids=["channels", "nan", "empty"],
)
def test_bad_lists_of_arrays_are_refused_with_the_series_named(X, match):
    with pytest.raises(ValueError, match=match):
        DynaMask(max_iter=2).fit(X, model=square)


class AnyLengthGRU(torch.nn.Module):
    """A GRU classifier of series of any length: the last hidden state to class scores."""

    def __init__(self, n_channels, n_classes):
        super().__init__()
        torch.manual_seed(0)
        self.gru = torch.nn.GRU(n_channels, 16, batch_first=True)
        self.head = torch.nn.Linear(16, n_classes)

    def forward(self, x):
        _, h = self.gru(x.transpose(1, 2))
        return self.head(h[-1])


def test_japanese_vowels_of_variable_length_and_12_channels():
    datasets = pytest.importorskip("sktime.datasets")
    X, y = datasets.load_japanese_vowels(split="test", return_type="nested_univ")
    X = X.iloc[::40]  # 8 series of several lengths
    lengths = [len(X.iat[i, 0]) for i in range(len(X))]
    assert X.shape[1] == 12 and len(set(lengths)) > 3
    net = AnyLengthGRU(12, 9)
    masks = DynaMask(area=0.1, max_iter=10, loss="log_loss", random_state=0).fit_transform(X, model=net)
    assert isinstance(masks, pd.DataFrame) and masks.index.equals(X.index) and masks.columns.equals(X.columns)
    for i in range(len(X)):
        for j in range(12):
            cell = masks.iat[i, j]
            assert len(cell) == lengths[i] and cell.index.equals(X.iat[i, j].index)
            assert 0 <= cell.min() and cell.max() <= 1
    # one series alone gives its own mask (batching by length changes nothing)
    alone = DynaMask(area=0.1, max_iter=10, loss="log_loss", random_state=0).fit_transform(X.iloc[[2]], model=net)
    np.testing.assert_allclose(np.stack(masks.iloc[2].to_list()), np.stack(alone.iloc[0].to_list()), atol=1e-6)


# ------------------------------------------------------------------ metrics on series of unequal lengths


def test_saliency_metrics_pool_series_of_unequal_lengths():
    from sklearn_tsmask.metrics import auprc, auroc, aup, aur, entropy, information

    rng = np.random.RandomState(0)
    truth = [(rng.rand(C, t) < 0.3).astype(float) for t in LENGTHS]
    masks = [rng.rand(C, t) * (1 + i) for i, t in enumerate(LENGTHS)]  # different scales: normalisation matters
    normalised = [(m - m.min()) / (m.max() - m.min() + 1e-5) for m in masks]
    # the pooled entries are those of one long series once each series is rescaled on its own
    one_q = np.concatenate([q.ravel() for q in truth])[None, None]
    one_m = np.concatenate([m.ravel() for m in normalised])[None, None]
    for metric in (aup, aur, auroc, auprc):
        value = metric(truth, masks)
        assert value == pytest.approx(metric(one_q, one_m, normalize=False), abs=1e-12)
        assert value == pytest.approx(metric(truth, normalised, normalize=False), abs=1e-12)
    # the per-series sums, summed or averaged over the series
    for metric in (information, entropy):
        alone = [metric(q[None], m[None]) for q, m in zip(truth, masks)]
        assert metric(truth, masks) == pytest.approx(sum(alone), rel=1e-12)
        assert metric(truth, masks, reduction="mean") == pytest.approx(np.mean(alone), rel=1e-12)
    # sktime's df-list gives the same figures as the list of arrays
    assert aup(_as_df_list(truth), _as_df_list(masks)) == aup(truth, masks)


def test_saliency_metrics_name_the_series_that_does_not_match():
    from sklearn_tsmask.metrics import aup

    truth = [np.ones((C, t)) for t in LENGTHS]
    masks = [np.ones((C, t)) for t in LENGTHS]
    masks[3] = np.ones((C, 11))
    with pytest.raises(ValueError, match=r"series 3 has true_saliency of shape \(3, 12\) and masks of shape \(3, 11\)"):
        aup(truth, masks)
    with pytest.raises(ValueError, match=r"the same series, got true_saliency of 6 series of unequal lengths and "
                                         r"masks of 5 series"):
        aup(truth, masks[:5])


def two_class(x):
    """Logits (x[:, 0, 0], 0): class 0 rests on the first entry alone, at any length."""
    return torch.stack([x[:, 0, 0], torch.zeros(len(x), dtype=x.dtype)], dim=-1)


def test_fidelity_on_unequal_lengths_by_hand():
    from sklearn_tsmask.metrics import comprehensiveness

    # k = floor(0.5 · T): 1 entry of the first series, 2 of the second
    X = [np.array([[2.0, 0.0]]), np.array([[1.0, 0.0, 0.0, 0.0]])]
    masks = [np.array([[1.0, 0.0]]), np.array([[0.0, 1.0, 1.0, 0.0]])]
    values = comprehensiveness(two_class, X, masks, top_fraction=0.5, baseline="zeros", reduction="none")
    sigmoid = 1 / (1 + np.exp(-2.0))
    # the first loses x[0, 0] (p_0 from sigmoid(2) to 1/2), the second keeps it
    np.testing.assert_allclose(values, [sigmoid - 0.5, 0.0], atol=1e-7)
    assert comprehensiveness(two_class, X, masks, top_fraction=0.5, baseline="zeros") == pytest.approx(
        (sigmoid - 0.5) / 2, abs=1e-7)


def test_every_fidelity_and_cumulative_metric_measures_each_series_at_its_own_length():
    from sklearn_tsmask import metrics

    rng = np.random.RandomState(1)
    X = ragged()
    masks = [rng.rand(C, t) for t in LENGTHS]
    net = AnyLengthGRU(C, 3)
    for name in ("comprehensiveness", "sufficiency", "fidelity_accuracy", "fidelity_cross_entropy", "log_odds",
                 "cumulative_prediction_difference", "cumulative_prediction_preservation", "deletion_area",
                 "insertion_area"):
        metric = getattr(metrics, name)
        values = metric(net, X, masks, reduction="none")
        alone = [metric(net, x[None], m[None], reduction="none")[0] for x, m in zip(X, masks)]
        np.testing.assert_allclose(values, alone, rtol=1e-5, atol=1e-7, err_msg=name)  # float32 GRU, batched
        assert metric(net, X, masks) == pytest.approx(np.mean(alone), rel=1e-5, abs=1e-7)
    fractions, curves = metrics.deletion_curve(net, X, masks, n_steps=4)
    np.testing.assert_array_equal(fractions, np.linspace(0, 1, 5))
    for i, (x, m) in enumerate(zip(X, masks)):
        np.testing.assert_allclose(curves[i], metrics.deletion_curve(net, x[None], m[None], n_steps=4)[1][0],
                                   rtol=1e-6)


def test_per_series_targets_and_model_inputs_follow_their_series_through_the_lengths():
    from sklearn_tsmask.metrics import deletion_area

    rng = np.random.RandomState(2)
    X = ragged()
    masks = [rng.rand(C, t) for t in LENGTHS]
    net = AnyLengthGRU(C, 3)
    target = [0, 2, 1, 1, 0, 2]
    values = deletion_area(net, X, masks, target=target, reduction="none")
    alone = [deletion_area(net, x[None], m[None], target=[t], reduction="none")[0]
             for x, m, t in zip(X, masks, target)]
    np.testing.assert_allclose(values, alone, rtol=1e-6)
    with pytest.raises(ValueError, match=r"one entry per series \(6\); got 5 entries"):
        deletion_area(net, X, masks, target=target[:5])
    g = np.arange(len(X), dtype=float) + 1.0

    def scaled(x, g):
        return g[:, None] * two_class(x)

    with_inputs = deletion_area(scaled, WithInputs(X, g=g), masks, reduction="none")
    alone = [deletion_area(scaled, WithInputs(x[None], g=g[i:i + 1]), m[None], reduction="none")[0]
             for i, (x, m) in enumerate(zip(X, masks))]
    np.testing.assert_allclose(with_inputs, alone, rtol=1e-6)
    # the masks must match the series, one by one
    masks[4] = rng.rand(C, 13)
    with pytest.raises(ValueError, match=r"series 4 of X has shape \(3, 14\), its mask \(3, 13\)"):
        deletion_area(net, X, masks)


def test_grid_search_on_a_panel_of_unequal_lengths_with_fidelity_scorers():
    from sklearn.model_selection import GridSearchCV, KFold

    from sklearn_tsmask.metrics import comprehensiveness, comprehensiveness_scorer

    X = ragged() * 2  # 12 series
    net = AnyLengthGRU(C, 3)
    search = GridSearchCV(DynaMask(max_iter=5, random_state=0, model=net), {"area": [0.1, 0.3]},
                          scoring=comprehensiveness_scorer, cv=KFold(2), refit=False)
    search.fit(X)
    # the first candidate's first split by hand: fit on the second half, masks and score on the first
    test = X[:6]
    masks = DynaMask(area=0.1, max_iter=5, random_state=0, model=net).fit(X[6:]).transform(test)
    expected = comprehensiveness(net, test, masks)
    assert search.cv_results_["split0_test_score"][0] == pytest.approx(expected, rel=1e-6)


def test_grid_search_on_a_panel_of_unequal_lengths_with_the_saliency_scoring():
    from sklearn.model_selection import GridSearchCV, KFold

    from sklearn_tsmask.metrics import SALIENCY_SCORING, aup, aur

    X = ragged() * 2
    rng = np.random.RandomState(0)
    truth = [(rng.rand(C, x.shape[1]) < 0.2).astype(float) for x in X]  # ragged, as the series
    search = GridSearchCV(DynaMask(max_iter=5, random_state=0, model=square), {"area": [0.2]},
                          scoring=SALIENCY_SCORING, cv=KFold(2), refit=False).fit(X, truth)
    masks = DynaMask(area=0.2, max_iter=5, random_state=0, model=square).fit(X[6:]).transform(X[:6])
    assert search.cv_results_["split0_test_aup"][0] == pytest.approx(aup(truth[:6], masks), rel=1e-9)
    assert search.cv_results_["split0_test_aur"][0] == pytest.approx(aur(truth[:6], masks), rel=1e-9)
