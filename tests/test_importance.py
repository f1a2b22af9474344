"""Dataset-level importance per channel and per time step, overall or per class, with percentile
bootstrap intervals over the series, and its plot."""

import numpy as np
import pandas as pd
import pytest

from sklearn_tsmask.importance import channel_importance, time_importance


def test_channel_importance_is_the_mean_over_series_of_each_series_mean_over_time():
    masks = np.zeros((4, 3, 5))
    masks[:, 0] = 1.0
    masks[0, 1, :2] = 1.0  # series 0: channel 1 at 2 of 5 steps -> 0.4
    masks[3, 2, 4] = 0.5  # series 3: channel 2 at one step -> 0.1
    result = channel_importance(masks, n_bootstrap=0)
    np.testing.assert_allclose(result.importance, [1.0, 0.1, 0.025])
    assert result.classes is None and result.n_series == 4 and np.isnan(result.low).all()
    per_class = channel_importance(masks, y=["b", "a", "b", "a"], n_bootstrap=0)
    assert per_class.classes.tolist() == ["a", "b"] and per_class.n_series.tolist() == [2, 2]
    np.testing.assert_allclose(per_class.importance, [[1.0, 0.0, 0.05], [1.0, 0.2, 0.0]])


def test_time_importance_averages_the_channels():
    masks = np.zeros((2, 2, 3))
    masks[0, 0, 1] = 1.0
    masks[1, :, 2] = 1.0
    np.testing.assert_allclose(time_importance(masks, n_bootstrap=0).importance, [0.0, 0.25, 0.5])


def test_bootstrap_intervals():
    rng = np.random.RandomState(0)
    # identical series: no uncertainty
    same = np.broadcast_to(rng.rand(1, 2, 6), (10, 2, 6))
    flat = channel_importance(same, random_state=0)
    np.testing.assert_allclose(flat.low, flat.importance)
    np.testing.assert_allclose(flat.high, flat.importance)
    # many series: the percentile interval of a mean is mean ± 1.96 standard errors
    per_series = rng.normal(0.5, 0.1, size=400)
    masks = np.repeat(per_series[:, None, None], 4, axis=2)  # (400, 1, 4): each series' importance as drawn
    result = channel_importance(masks, n_bootstrap=2000, random_state=0)
    half_width = 1.96 * per_series.std() / np.sqrt(400)
    assert result.low[0] < result.importance[0] < result.high[0]
    assert (result.high[0] - result.low[0]) / 2 == pytest.approx(half_width, rel=0.1)
    # seeded: reproducible; a higher level is wider
    again = channel_importance(masks, n_bootstrap=2000, random_state=0)
    np.testing.assert_array_equal(result.low, again.low)
    wider = channel_importance(masks, n_bootstrap=2000, confidence=0.99, random_state=0)
    assert wider.high[0] - wider.low[0] > result.high[0] - result.low[0]


def test_series_of_unequal_lengths():
    masks = [np.ones((2, 3)), np.zeros((2, 5)), np.full((2, 4), 0.5)]
    np.testing.assert_allclose(channel_importance(masks, n_bootstrap=0).importance, [0.5, 0.5])
    with pytest.raises(ValueError, match="needs series of one length"):
        time_importance(masks)
    # sktime's df-list of unequal lengths, as DynaMask returns it for such a panel: the same figures
    frames = [pd.DataFrame(m.T, columns=["a", "b"]) for m in masks]
    np.testing.assert_allclose(channel_importance(frames, n_bootstrap=0).importance, [0.5, 0.5])
    masks[2][1, 0] = np.nan
    with pytest.raises(ValueError, match=r"masks\[2\] contains NaN"):
        channel_importance(masks)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"y": [0, 1]}, r"one label per series \(3\)"),
        ({"n_bootstrap": -1}, "non-negative integer"),
        ({"confidence": 1.0}, r"confidence must be in \(0, 1\)"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        channel_importance(np.zeros((3, 2, 4)), **kwargs)


def test_plot_importance_draws_bars_with_intervals_and_bands():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_tsmask.plotting import plot_importance

    rng = np.random.RandomState(1)
    masks = rng.rand(12, 3, 8)
    result = channel_importance(masks, y=[0] * 6 + [1] * 6, n_bootstrap=200, random_state=0)
    ax = plot_importance(result, names=["x", "y", "z"])
    bars = [c for c in ax.containers if hasattr(c, "patches")]
    assert len(bars) == 2
    np.testing.assert_allclose([b.get_height() for b in bars[1].patches], result.importance[1])
    # each error bar spans the interval
    segments = bars[0].errorbar.lines[2][0].get_segments()
    np.testing.assert_allclose([s[:, 1] for s in segments], np.stack([result.low[0], result.high[0]], 1))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
    plt.close("all")
    ax = plot_importance(time_importance(masks, random_state=0))
    np.testing.assert_allclose(ax.lines[0].get_ydata(), masks.mean(axis=(0, 1)))
    assert len(ax.collections) == 1  # the band
    plt.close("all")
