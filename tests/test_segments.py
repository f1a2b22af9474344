"""Segment masks: one value per channel and time segment (or per captum-style group), expanded to
(C, T); fewer values to learn, and a gradient-free estimate averaged over each group."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_tsmask import ContraLSP, DynaMask, all_explainers
from sklearn_tsmask._segments import Segments
from sklearn_tsmask.black_boxes import ZerothOrderModel

RNG = np.random.RandomState(0)
X = RNG.randn(4, 2, 12)
X[:, 0, 4:8] += 2.0  # the window the model reads holds energy in every series


def window_energy(x):
    """Reads channel 0 over time points 4..7 only."""
    return x[:, 0, 4:8].pow(2).sum(-1)


def test_segment_maps():
    # 5 equal segments of 12 time points, as numpy.array_split: sizes 3, 3, 2, 2, 2 in every channel
    seg = Segments(5, 2, 12, "cpu")
    assert seg.n_groups == 10 and seg.sizes.tolist() == [3, 3, 2, 2, 2] * 2
    assert seg.index.view(2, 12)[1].tolist() == [5, 5, 5, 6, 6, 6, 7, 7, 8, 8, 9, 9]
    # boundaries: starts of the segments after the first
    seg = Segments([4, 8], 2, 12, "cpu")
    assert seg.index.view(2, 12)[0].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    # captum-style group ids (any integers, a group may span channels)
    ids = np.array([[7, 7, 3], [3, 9, 9]])
    seg = Segments(ids, 2, 3, "cpu")
    assert seg.index.view(2, 3).tolist() == [[1, 1, 0], [0, 2, 2]]
    values = torch.tensor([[1.0, 2.0, 3.0]])
    assert seg.expand(values).tolist() == [[[2.0, 2.0, 1.0], [1.0, 3.0, 3.0]]]
    np.testing.assert_allclose(seg.mean(seg.expand(values)).numpy(), values.numpy())


@pytest.mark.parametrize("name, cls", all_explainers())
def test_masks_are_constant_on_each_segment_and_find_the_salient_one(name, cls):
    masks = cls(max_iter=150, segments=3, random_state=0).fit_transform(X, model=window_energy)
    assert masks.shape == X.shape
    for m in masks:
        for c in range(2):
            for part in np.split(m[c], 3):
                assert np.ptp(part) == 0  # one value per segment
        assert m[0, 4:8].min() > 0.9 and m[0, :4].max() < 0.1 and m[0, 8:].max() < 0.1


@pytest.mark.parametrize("name, cls", all_explainers())
def test_one_segment_per_time_point_is_one_value_per_entry(name, cls):
    per_entry = cls(max_iter=20, random_state=0).fit_transform(X, model=window_energy)
    segmented = cls(max_iter=20, segments=12, random_state=0).fit_transform(X, model=window_energy)
    np.testing.assert_allclose(segmented, per_entry, atol=1e-6)


def test_groups_spanning_channels_share_one_value():
    ids = np.zeros((2, 12), dtype=int)
    ids[:, 4:8] = 1  # time points 4..7 of both channels are one group
    masks = DynaMask(area=1 / 3, max_iter=200, segments=ids, random_state=0).fit_transform(X, model=window_energy)
    for m in masks:
        np.testing.assert_array_equal(m[0, 4:8], m[1, 4:8])
        assert m[0, 4:8].min() > 0.9


def test_segments_of_series_of_unequal_lengths():
    series = [RNG.randn(2, t) for t in (9, 12, 9)]
    masks = DynaMask(max_iter=5, segments=3, random_state=0).fit_transform(series, model=lambda x: x.pow(2).sum(-1))
    for m, s in zip(masks, series):
        assert m.shape == s.shape
        for part in np.array_split(m[0], 3):
            assert np.ptp(part) == 0


@pytest.mark.parametrize(
    "segments, error, match",
    [
        (0, InvalidParameterError, "positive number of segments"),
        (True, InvalidParameterError, "must be None, an int"),
        ([[0.5, 1.0]], InvalidParameterError, "integer group ids"),
        (13, ValueError, "more than the 12 time points"),
        ([4, 2], ValueError, "must increase strictly within"),
        ([0, 4], ValueError, "must increase strictly within"),
        (np.zeros((3, 12), dtype=int), ValueError, r"shape of one series \(2, 12\)"),
    ],
    ids=["zero", "bool", "floats", "too-many", "decreasing", "zero-boundary", "group-shape"],
)
def test_segments_that_cannot_fit_are_refused_at_fit(segments, error, match):
    est = DynaMask(max_iter=2, segments=segments)
    with pytest.raises(error, match=match):
        est.fit(X, model=window_energy)
    assert not hasattr(est, "model_")


def _flatten(a):
    return np.asarray(a).reshape(len(a), -1)


def test_the_gradient_free_estimate_is_less_noisy_per_segment():
    """With the same directions, the estimated gradient of the segment values is closer to the exact one
    than that of the entry values, when the entries of a segment push the output the same way (here
    positive series and a classifier reading the sum of a window): the noise of the estimate averages
    over the entries of a segment while their signal adds up."""
    rng = np.random.RandomState(1)
    Xc = np.abs(rng.randn(80, 2, 12))
    window = Xc[:, 0, 4:8].sum(1)
    y = (window > np.median(window)).astype(int)
    clf = make_pipeline(FunctionTransformer(_flatten), LogisticRegression(C=1.0)).fit(Xc, y)
    w = torch.tensor(clf[-1].coef_[0]).view(2, 12)
    x = torch.tensor(Xc[:1])
    seg = Segments(3, 2, 12, "cpu")

    def relative_error(segmented, seed):
        zo = ZerothOrderModel(clf, n_directions=8, epsilon=0.01, random_state=seed)
        p = torch.full((1, 6) if segmented else (1, 2, 12), 0.5, dtype=torch.float64, requires_grad=True)
        mask = seg.expand(p) if segmented else p
        zo(mask * x)[0, 1].backward()
        # exact: d log p1 / d x̃ = (1 - p1) w at x̃ = mask * x; then the chain rule through the mask
        x_tilde = (mask * x).detach().numpy().reshape(1, -1)
        p1 = clf.predict_proba(x_tilde.reshape(1, 2, 12))[0, 1]
        exact_entry = (1 - p1) * w * x[0]
        exact = seg.mean(exact_entry) * seg.sizes if segmented else exact_entry
        return float((p.grad[0] - exact).norm() / exact.norm())

    entry = np.mean([relative_error(False, s) for s in range(20)])
    segment = np.mean([relative_error(True, s) for s in range(20)])
    assert segment < 0.7 * entry, (segment, entry)  # measured: 0.71 against 1.27


def test_contralsp_segments_average_its_per_entry_gates():
    est = ContraLSP(max_iter=30, segments=[6], random_state=0).fit(X, model=window_energy)
    masks = est.transform(X)
    for m in masks:
        assert np.ptp(m[:, :6], axis=1).max() == 0 and np.ptp(m[:, 6:], axis=1).max() == 0
