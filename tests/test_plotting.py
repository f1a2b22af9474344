"""What the plotting functions draw: bar heights, line data, Axes, labels, colour scales, errors."""

import numpy as np
import pytest
import torch

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_tsmask.plotting import (  # noqa: E402
    plot_channel_importance,
    plot_mask,
    plot_series_with_mask,
    plot_time_importance,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def panel():
    """Masks (N=3, C=4, T=10) in [0, 1] and a truth with two runs of salient time steps."""
    rng = np.random.RandomState(0)
    masks = rng.uniform(size=(3, 4, 10))
    truth = np.zeros((3, 4, 10), dtype=np.int8)
    truth[0, 1, 2:4] = 1
    truth[1, 3, 3] = 1
    truth[2, 0, 7:9] = 1
    return masks, truth


def _heights(container):
    return np.array([bar.get_height() for bar in container])


# ------------------------------------------------------------ the module


def test_all_exported():
    from sklearn_tsmask import plotting

    assert set(plotting.__all__) == {
        "plot_mask", "plot_channel_importance", "plot_time_importance", "plot_series_with_mask", "plot_importance"
    }


def test_matplotlib_imported_lazily():
    import subprocess
    import sys

    code = "import sys, sklearn_tsmask.plotting; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# ------------------------------------------------------ channel importance


def test_channel_importance_bars_are_means_over_instances_and_time(panel):
    masks, _ = panel
    ax = plot_channel_importance(masks)
    assert len(ax.containers) == 1
    np.testing.assert_allclose(_heights(ax.containers[0]), masks.mean(axis=(0, 2)))
    assert ax.get_xlabel() == "channel" and ax.get_ylabel() == "mean mask"
    assert ax.get_title() == "channel importance"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "3"]
    lo, hi = ax.get_ylim()
    assert lo == 0.0 and hi >= 1.0


def test_channel_importance_of_one_series_and_univariate_series(panel):
    masks, _ = panel
    ax = plot_channel_importance(masks[1])  # (C, T): one series
    np.testing.assert_allclose(_heights(ax.containers[0]), masks[1].mean(axis=1))
    ax = plot_channel_importance(masks[1, 2])  # (T,): one univariate series
    np.testing.assert_allclose(_heights(ax.containers[0]), [masks[1, 2].mean()])


def test_channel_importance_with_truth_names_and_torch(panel):
    masks, truth = panel
    names = ["a", "b", "c", "d"]
    ax = plot_channel_importance(torch.tensor(masks, dtype=torch.float32), channel_names=names, true_saliency=truth)
    assert len(ax.containers) == 2
    np.testing.assert_allclose(_heights(ax.containers[0]), masks.mean(axis=(0, 2)), rtol=1e-6)
    np.testing.assert_allclose(_heights(ax.containers[1]), truth.mean(axis=(0, 2)))
    # the truth's bar is beside the mask's
    mask_x = np.array([b.get_x() + b.get_width() / 2 for b in ax.containers[0]])
    truth_x = np.array([b.get_x() + b.get_width() / 2 for b in ax.containers[1]])
    np.testing.assert_allclose(truth_x - mask_x, 0.4)
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["mask", "true saliency"]


@pytest.mark.parametrize("reduce", ["median", "max"])
def test_channel_importance_reduce(panel, reduce):
    masks, _ = panel
    ax = plot_channel_importance(masks, reduce=reduce)
    expected = getattr(np, reduce)(masks.transpose(1, 0, 2).reshape(4, -1), axis=1)
    np.testing.assert_allclose(_heights(ax.containers[0]), expected)
    assert ax.get_ylabel() == f"{reduce} mask"


def test_channel_importance_draws_into_given_axes(panel):
    masks, _ = panel
    fig, (left, right) = plt.subplots(1, 2)
    ax = plot_channel_importance(masks, ax=right)
    assert ax is right
    assert len(fig.axes) == 2 and len(left.patches) == 0 and len(right.patches) == 4


def test_channel_importance_errors(panel):
    masks, truth = panel
    with pytest.raises(ValueError, match="shape"):
        plot_channel_importance(masks, true_saliency=truth[:, :3])
    with pytest.raises(ValueError, match="channel_names has 2 names"):
        plot_channel_importance(masks, channel_names=["a", "b"])
    with pytest.raises(ValueError, match="reduce must be one of"):
        plot_channel_importance(masks, reduce="sum")
    with pytest.raises(ValueError, match="shape"):
        plot_channel_importance(np.zeros((1, 2, 3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        plot_channel_importance(np.full((2, 3), np.nan))
    with pytest.raises(TypeError, match="one matplotlib Axes"):
        plot_channel_importance(masks, ax=plt.subplots(1, 2)[1])


# ---------------------------------------------------------- time importance


def test_time_importance_line_is_mean_over_channels_and_instances(panel):
    masks, _ = panel
    ax = plot_time_importance(masks)
    assert len(ax.lines) == 1
    line = ax.lines[0]
    np.testing.assert_allclose(line.get_xdata(), np.arange(10))
    np.testing.assert_allclose(line.get_ydata(), masks.mean(axis=(0, 1)))
    assert ax.get_xlabel() == "time" and ax.get_ylabel() == "mean mask"
    assert ax.get_title() == "time importance"
    assert len(ax.patches) == 0  # no truth, nothing shaded
    assert ax.get_ylim()[0] == 0.0 and ax.get_ylim()[1] >= 1.0


def test_time_importance_of_one_series(panel):
    masks, _ = panel
    ax = plot_time_importance(torch.tensor(masks[0]))
    np.testing.assert_allclose(ax.lines[0].get_ydata(), masks[0].mean(axis=0))


def test_time_importance_shades_truth_runs(panel):
    masks, truth = panel
    ax = plot_time_importance(masks, true_saliency=truth)
    # salient time steps over the panel: 2, 3 (one run) and 7, 8 (another)
    spans = sorted(ax.patches, key=lambda p: p.get_x())
    assert len(spans) == 2
    assert [(p.get_x(), p.get_x() + p.get_width()) for p in spans] == [(1.5, 3.5), (6.5, 8.5)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["true saliency", "mask"]


def test_time_importance_with_series_on_twin_axis(panel):
    masks, _ = panel
    series = np.arange(20.0).reshape(2, 10)
    fig, given = plt.subplots()
    ax = plot_time_importance(masks[:, :2], series=series, ax=given)
    assert ax is given
    assert len(fig.axes) == 2
    twin = next(a for a in fig.axes if a is not ax)
    assert twin in ax.get_shared_x_axes().get_siblings(ax)
    assert len(twin.lines) == 2
    np.testing.assert_allclose(twin.lines[1].get_ydata(), series[1])
    assert twin.get_ylabel() == "series"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), masks[:, :2].mean(axis=(0, 1)))


def test_time_importance_errors(panel):
    masks, truth = panel
    with pytest.raises(ValueError, match="shape"):
        plot_time_importance(masks, true_saliency=truth[:, :, :5])
    with pytest.raises(ValueError, match="time steps"):
        plot_time_importance(masks, series=np.zeros((4, 7)))
    with pytest.raises(ValueError, match="one series"):
        plot_time_importance(masks, series=np.zeros((3, 4, 10)))


# ------------------------------------------------------- series with mask


def test_series_with_mask_one_panel_per_channel():
    series = np.linspace(-1, 1, 24).reshape(3, 8)
    mask = np.linspace(0, 1, 24).reshape(3, 8)
    axes = plot_series_with_mask(series, mask, channel_names=["x", "y", "z"])
    assert len(axes) == 3
    fig = axes[0].figure
    assert len(fig.axes) == 4  # 3 panels and the colorbar
    for c, ax in enumerate(axes):
        np.testing.assert_allclose(ax.lines[0].get_ydata(), series[c])
        np.testing.assert_allclose(ax.lines[0].get_xdata(), np.arange(8))
        image = ax.images[0]
        np.testing.assert_allclose(np.asarray(image.get_array())[0], mask[c])
        assert image.get_clim() == (0.0, 1.0)
        # the band covers the whole time axis and the series' range
        left, right, bottom, top = image.get_extent()
        assert (left, right) == (-0.5, 7.5)
        assert bottom < series[c].min() and top > series[c].max()
    assert [ax.get_ylabel() for ax in axes] == ["x", "y", "z"]
    assert axes[-1].get_xlabel() == "time"
    # one colorbar, shared, on the fixed scale [0, 1]
    colorbars = {id(ax.images[0].colorbar) for ax in axes}
    assert len(colorbars) == 1
    colorbar = axes[0].images[0].colorbar
    assert colorbar is not None
    assert (colorbar.vmin, colorbar.vmax) == (0.0, 1.0)
    assert colorbar.mappable.get_clim() == (0.0, 1.0)
    assert colorbar.ax in fig.axes


def test_series_with_mask_univariate_torch_and_given_axes():
    series = torch.sin(torch.linspace(0, 3, 12))
    mask = torch.rand(12, generator=torch.Generator().manual_seed(0), requires_grad=True)
    fig, given = plt.subplots()
    axes = plot_series_with_mask(series, mask, axes=given)
    assert axes == [given]
    np.testing.assert_allclose(given.lines[0].get_ydata(), series.numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(given.images[0].get_array())[0], mask.detach().numpy(), rtol=1e-6)
    assert given.get_ylabel() == "channel 0"


def test_series_with_mask_constant_series_gets_a_visible_band():
    axes = plot_series_with_mask(np.ones((1, 5)), np.ones((1, 5)))
    bottom, top = axes[0].get_ylim()
    assert bottom < 1.0 < top


def test_series_with_mask_errors():
    series = np.zeros((2, 6))
    with pytest.raises(ValueError, match="shape"):
        plot_series_with_mask(series, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="one series"):
        plot_series_with_mask(np.zeros((3, 2, 6)), np.zeros((3, 2, 6)))
    with pytest.raises(ValueError, match="2 Axes are needed"):
        plot_series_with_mask(series, series, axes=plt.subplots()[1])
    with pytest.raises(ValueError, match="channel_names has 3 names"):
        plot_series_with_mask(series, series, channel_names=["a", "b", "c"])
    with pytest.raises(TypeError, match="sequence of names"):
        plot_series_with_mask(series, series, channel_names="ab")
    # a panel of one series is accepted
    assert len(plot_series_with_mask(series[None], series[None])) == 2


# ---------------------------------------------------------------- plot_mask


def test_plot_mask_heatmaps_and_errors():
    mask = np.eye(3)
    axes = plot_mask(torch.tensor(mask), true_saliency=mask, title="m")
    assert [ax.get_title() for ax in axes] == ["m", "true saliency"]
    np.testing.assert_allclose(np.asarray(axes[0].images[0].get_array()), mask)
    assert axes[0].images[0].get_clim() == (0.0, 1.0)
    with pytest.raises(ValueError, match="shape"):
        plot_mask(mask, true_saliency=np.eye(2))
    with pytest.raises(ValueError, match="2 Axes are needed"):
        plot_mask(mask, true_saliency=mask, axes=plt.subplots()[1])
