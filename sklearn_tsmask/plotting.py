"""Matplotlib views of masks (needs the ``plot`` extra: ``pip install sklearn-tsmask[plot]``).

matplotlib is imported when a function is called, never when this module is
imported. Every function draws into new Axes, or into the Axes given with
``ax=`` / ``axes=``, and returns the Axes it drew into.

Layouts
-------
Masks, true saliency and series may be numpy arrays, torch tensors (any
device) or anything :func:`numpy.asarray` reads, in one of these layouts:

* ``(n_timepoints,)``: one univariate series;
* ``(n_channels, n_timepoints)``: one series (one row of ``transform``'s
  output), as in :func:`plot_mask`;
* ``(n_instances, n_channels, n_timepoints)``: a panel (``transform``'s
  output), averaged over instances by the summaries
  :func:`plot_channel_importance` and :func:`plot_time_importance`.

A 2D array is always read as one series ``(C, T)``. The masks of a panel of
univariate series, which ``transform`` returns as ``(N, T)``, are passed as
``masks[:, None, :]``.
"""

import numpy as np

from ._panel import to_numpy3d

__all__ = ["plot_mask", "plot_channel_importance", "plot_time_importance", "plot_series_with_mask",
           "plot_importance"]

_REDUCTIONS = {"mean": np.mean, "median": np.median, "max": np.max}


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Plotting needs matplotlib: pip install 'sklearn-tsmask[plot]'."
        ) from exc
    return plt


def _as_numpy(a):
    """``a`` as a numpy array: torch tensors are detached and moved to the CPU."""
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # torch.Tensor, without importing torch here
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _as_panel(a, name, *, allow_panel=True):
    """``a`` as a float64 ``(N, C, T)`` array: 1D = one univariate series, 2D = one series (C, T)."""
    arr = _as_numpy(a)
    if arr.ndim in (1, 2):
        arr = arr[None]  # one series: a panel of one instance; (1, T) is read as (1, 1, T)
    elif arr.ndim != 3 or not allow_panel:
        expected = "(n_timepoints,) or (n_channels, n_timepoints)"
        if allow_panel:
            expected += " or (n_instances, n_channels, n_timepoints)"
        if arr.ndim == 3:
            if arr.shape[0] == 1:
                return to_numpy3d(arr, name=name)
            raise ValueError(
                f"{name} must be one series of shape {expected}, got a panel of shape {arr.shape}; "
                f"select one series, e.g. {name}[i]."
            )
        raise ValueError(f"{name} must have shape {expected}, got shape {arr.shape}.")
    return to_numpy3d(arr, name=name)


def _check_same_shape(a, b, name_a, name_b):
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} has shape {a.shape} but {name_b} has shape {b.shape} "
            "(both read as (n_instances, n_channels, n_timepoints)); they must match."
        )


def _channel_labels(channel_names, n_channels):
    if channel_names is None:
        return [str(c) for c in range(n_channels)]
    if isinstance(channel_names, str):
        raise TypeError("channel_names must be a sequence of names, one per channel, not a string.")
    names = [str(n) for n in channel_names]
    if len(names) != n_channels:
        raise ValueError(f"channel_names has {len(names)} names but the data has {n_channels} channel(s).")
    return names


def _single_axes(ax, name="ax"):
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"{name} must be one matplotlib Axes, got {type(ax).__name__}.")
    return ax


def _value_limits(values):
    """y-limits showing [0, 1] and every value."""
    low = min(0.0, float(np.min(values)))
    high = max(1.0, float(np.max(values)))
    return low, high + 0.02 * (high - low)


def plot_mask(mask, *, true_saliency=None, axes=None, cmap="viridis", title=None):
    """Heatmap of one series' mask (channels × time), the truth beside it.

    Parameters
    ----------
    mask : array-like of shape (n_channels, n_timepoints) or (n_timepoints,)
        The mask of one series (one row of ``transform``'s output).
    true_saliency : array-like of the same shape, default=None
        Ground truth, drawn in a second panel when given.
    axes : matplotlib Axes or sequence of Axes, default=None
        Where to draw: one Axes, or two when ``true_saliency`` is given. New
        ones are created when None.
    cmap : str, default="viridis"
        Colour map; values are drawn on the fixed scale [0, 1].
    title : str, default=None
        Title of the mask panel.

    Returns
    -------
    list of matplotlib.axes.Axes
        The mask's Axes, then the truth's when given.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_tsmask.plotting import plot_mask
    >>> axes = plot_mask(np.eye(3), true_saliency=np.eye(3))
    >>> len(axes)
    2
    """
    plt = _pyplot()
    panels = [("mask" if title is None else title, mask)]
    if true_saliency is not None:
        panels.append(("true saliency", true_saliency))
    arrays = [to_numpy3d(np.asarray(_as_numpy(a), dtype=float)[None], name=name)[0] for name, a in panels]
    if len(arrays) == 2 and arrays[0].shape != arrays[1].shape:
        raise ValueError(f"mask has shape {arrays[0].shape} but true_saliency has shape {arrays[1].shape}.")
    if axes is None:
        fig, axes = plt.subplots(1, len(arrays), figsize=(4.5 * len(arrays), 4), squeeze=False, constrained_layout=True)
        axes = list(axes[0])
    else:
        axes = list(np.atleast_1d(axes))
    if len(axes) != len(arrays):
        raise ValueError(f"{len(arrays)} Axes are needed, got {len(axes)}.")
    image = None
    for ax, (name, _), values in zip(axes, panels, arrays):
        image = ax.imshow(values, aspect="auto", interpolation="nearest", cmap=cmap, vmin=0.0, vmax=1.0, origin="lower")
        ax.set_title(name)
        ax.set_xlabel("time")
        ax.set_ylabel("channel")
    axes[0].figure.colorbar(image, ax=axes, shrink=0.8)
    return axes


def plot_channel_importance(masks, *, channel_names=None, true_saliency=None, ax=None, reduce="mean"):
    """Bar chart of the importance of each channel: its mask reduced over time (and instances).

    Parameters
    ----------
    masks : array-like or torch.Tensor of shape (n_instances, n_channels, n_timepoints), \
(n_channels, n_timepoints) or (n_timepoints,)
        Masks of a panel (``transform``'s output) or of one series. A
        channel's importance is ``reduce`` of its mask over time and, for a
        panel, over instances.
    channel_names : sequence of str, default=None
        One tick label per channel; default: the channel indices.
    true_saliency : array-like of the same shape, default=None
        Ground truth. When given, its reduction (with ``reduce="mean"``, the
        share of the channel's entries that are salient) is drawn as a second
        bar beside each channel's importance.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure is created when None.
    reduce : {"mean", "median", "max"}, default="mean"
        How a channel's entries (over time and instances) are summarised.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn into. ``ax.containers[0]`` holds the mask's bars and,
        when ``true_saliency`` is given, ``ax.containers[1]`` the truth's.

    Raises
    ------
    ValueError
        If ``reduce`` is unknown, ``true_saliency``'s shape differs from
        ``masks``' or ``channel_names`` does not name every channel.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_tsmask.plotting import plot_channel_importance
    >>> masks = np.zeros((2, 3, 4))  # 2 series, 3 channels, 4 time steps
    >>> masks[:, 1, :2] = 1.0        # channel 1 on half of the time
    >>> ax = plot_channel_importance(masks, channel_names=["a", "b", "c"])
    >>> [float(bar.get_height()) for bar in ax.containers[0]]
    [0.0, 0.5, 0.0]
    >>> [label.get_text() for label in ax.get_xticklabels()]
    ['a', 'b', 'c']
    >>> plt.close("all")
    """
    plt = _pyplot()
    if not isinstance(reduce, str) or reduce not in _REDUCTIONS:
        raise ValueError(f"reduce must be one of {sorted(_REDUCTIONS)}, got {reduce!r}.")
    values = _as_panel(masks, "masks")
    truth = None
    if true_saliency is not None:
        truth = _as_panel(true_saliency, "true_saliency")
        _check_same_shape(values, truth, "masks", "true_saliency")
    n_channels = values.shape[1]
    labels = _channel_labels(channel_names, n_channels)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 0.35 * n_channels + 2.0), 3.5), constrained_layout=True)
    else:
        ax = _single_axes(ax)

    fn = _REDUCTIONS[reduce]
    importance = fn(values, axis=(0, 2))
    positions = np.arange(n_channels)
    width = 0.8 if truth is None else 0.4
    offset = 0.0 if truth is None else -0.2
    ax.bar(positions + offset, importance, width=width, label="mask", color="C0")
    shown = [importance]
    if truth is not None:
        truth_share = fn(truth, axis=(0, 2))
        ax.bar(positions + 0.2, truth_share, width=width, label="true saliency", color="C1")
        shown.append(truth_share)
        ax.legend()
    ax.set_xticks(positions)
    ax.set_xticklabels(labels, rotation=90 if n_channels > 12 else 0)
    ax.set_xlim(-0.6, n_channels - 0.4)
    ax.set_ylim(*_value_limits(np.concatenate(shown)))
    ax.set_xlabel("channel")
    ax.set_ylabel(f"{reduce} mask")
    ax.set_title("channel importance")
    return ax


def _runs(flags):
    """``(start, stop)`` of each run of consecutive True values of a 1D boolean array."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def plot_time_importance(masks, *, ax=None, true_saliency=None, series=None):
    """Line of the importance of each time step: the mask averaged over channels (and instances).

    Parameters
    ----------
    masks : array-like or torch.Tensor of shape (n_instances, n_channels, n_timepoints), \
(n_channels, n_timepoints) or (n_timepoints,)
        Masks of a panel or of one series. The importance of time step ``t``
        is the mean of the masks at ``t`` over channels and instances.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure is created when None.
    true_saliency : array-like of the same shape, default=None
        Ground truth. The time steps where some entry is salient are shaded
        (one shaded span per run of consecutive salient steps).
    series : array-like or torch.Tensor of shape (n_channels, n_timepoints) or (n_timepoints,), default=None
        One series, drawn (one thin line per channel) on a twin y-axis that
        shares the time axis; typically the series whose mask is ``masks``.
        Its length must be that of the masks.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes holding the importance line (``ax.lines[0]``). The twin Axes
        of ``series``, when drawn, shares its x-axis:
        ``ax.get_shared_x_axes().get_siblings(ax)``.

    Raises
    ------
    ValueError
        If ``true_saliency``'s shape differs from ``masks``', or ``series`` is
        not one series with the masks' number of time steps.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_tsmask.plotting import plot_time_importance
    >>> mask = np.array([[0.0, 1.0, 0.5], [0.0, 0.0, 0.5]])  # 2 channels, 3 time steps
    >>> ax = plot_time_importance(mask, true_saliency=mask > 0.6)
    >>> ax.lines[0].get_ydata().tolist()
    [0.0, 0.5, 0.5]
    >>> len(ax.patches)  # one shaded run of salient time steps
    1
    >>> plt.close("all")
    """
    plt = _pyplot()
    values = _as_panel(masks, "masks")
    truth = None
    if true_saliency is not None:
        truth = _as_panel(true_saliency, "true_saliency")
        _check_same_shape(values, truth, "masks", "true_saliency")
    curve = None
    if series is not None:
        curve = _as_panel(series, "series", allow_panel=False)[0]
        if curve.shape[1] != values.shape[2]:
            raise ValueError(
                f"series has {curve.shape[1]} time steps but the masks have {values.shape[2]}; they must match."
            )
    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, 3.5), constrained_layout=True)
    else:
        ax = _single_axes(ax)

    n_timepoints = values.shape[2]
    t = np.arange(n_timepoints)
    importance = values.mean(axis=(0, 1))
    if truth is not None:
        for i, (start, stop) in enumerate(_runs(truth.any(axis=(0, 1)))):
            ax.axvspan(start - 0.5, stop - 0.5, color="C1", alpha=0.2, linewidth=0,
                       label="true saliency" if i == 0 else None, zorder=0)
    ax.plot(t, importance, color="C0", marker="." if n_timepoints <= 60 else None, label="mask", zorder=3)
    ax.set_xlim(-0.5, n_timepoints - 0.5)
    ax.set_ylim(*_value_limits(importance))
    ax.set_xlabel("time")
    ax.set_ylabel("mean mask")
    ax.set_title("time importance")
    if curve is not None:
        twin = ax.twinx()
        for c, row in enumerate(curve):
            twin.plot(t, row, color="0.35", linewidth=0.8, alpha=0.6, label="series" if c == 0 else None)
        twin.set_ylabel("series")
        # the importance line stays in front of the series
        ax.set_zorder(twin.get_zorder() + 1)
        ax.patch.set_visible(False)
    if truth is not None:
        ax.legend(loc="upper right")
    return ax


def plot_series_with_mask(series, mask, *, channel_names=None, axes=None, cmap="Oranges"):
    """One panel per channel: the series as a line over its mask as a coloured background.

    Each panel shows one channel of the series (time × value) in front of a
    band coloured by the mask at each time step, on the colour scale [0, 1]
    shared by all panels; one colorbar is drawn for them all.

    Parameters
    ----------
    series : array-like or torch.Tensor of shape (n_channels, n_timepoints) or (n_timepoints,)
        One series.
    mask : array-like or torch.Tensor of the same shape
        Its mask (one row of ``transform``'s output).
    channel_names : sequence of str, default=None
        One name per channel, used as the panels' y-labels; default:
        ``"channel 0"``, ``"channel 1"``...
    axes : matplotlib Axes or sequence of Axes, default=None
        One Axes per channel; new ones, stacked with a shared time axis, are
        created when None.
    cmap : str or matplotlib Colormap, default="Oranges"
        Colour map of the mask; a light-to-dark map keeps the series (a black
        line with a white outline) readable.

    Returns
    -------
    list of matplotlib.axes.Axes
        One Axes per channel. Each holds the series in ``ax.lines[0]`` and
        the mask in ``ax.images[0]`` (whose ``colorbar`` is the shared one).

    Raises
    ------
    ValueError
        If ``mask``'s shape differs from ``series``', either is a panel of
        several series, or the number of Axes or of channel names is not the
        number of channels.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_tsmask.plotting import plot_series_with_mask
    >>> series = np.sin(np.linspace(0, 6, 40)).reshape(2, 20)
    >>> mask = np.zeros((2, 20))
    >>> mask[0, 5:10] = 1.0
    >>> axes = plot_series_with_mask(series, mask, channel_names=["x", "y"])
    >>> len(axes), axes[1].get_ylabel()
    (2, 'y')
    >>> axes[0].images[0].colorbar.mappable.get_clim()
    (0.0, 1.0)
    >>> plt.close("all")
    """
    plt = _pyplot()
    curve = _as_panel(series, "series", allow_panel=False)[0]
    values = _as_panel(mask, "mask", allow_panel=False)[0]
    if curve.shape != values.shape:
        raise ValueError(f"series has shape {curve.shape} but mask has shape {values.shape} "
                         "(as (n_channels, n_timepoints)); they must match.")
    n_channels, n_timepoints = curve.shape
    if channel_names is None:
        labels = [f"channel {c}" for c in range(n_channels)]
    else:
        labels = _channel_labels(channel_names, n_channels)
    if axes is None:
        _, axes = plt.subplots(
            n_channels, 1, sharex=True, squeeze=False, constrained_layout=True,
            figsize=(7.0, min(1.0 + 1.3 * n_channels, 40.0)),
        )
        axes = list(axes[:, 0])
    else:
        axes = list(np.ravel(np.asarray(axes, dtype=object)))
        if len(axes) != n_channels:
            raise ValueError(f"{n_channels} Axes are needed (one per channel), got {len(axes)}.")
        for a in axes:
            _single_axes(a, "each of axes")

    from matplotlib import patheffects
    from matplotlib.colors import Normalize

    norm = Normalize(vmin=0.0, vmax=1.0)  # one scale for every panel and the colorbar
    t = np.arange(n_timepoints)
    images = []
    for ax, row, weights, label in zip(axes, curve, values, labels):
        low, high = float(row.min()), float(row.max())
        pad = 0.1 * (high - low) if high > low else 0.5
        low, high = low - pad, high + pad
        images.append(ax.imshow(
            weights[None, :], aspect="auto", interpolation="nearest", cmap=cmap, norm=norm,
            origin="lower", extent=(-0.5, n_timepoints - 0.5, low, high), zorder=0,
        ))
        ax.plot(t, row, color="black", linewidth=1.2, zorder=2,
                path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")])
        ax.set_xlim(-0.5, n_timepoints - 0.5)
        ax.set_ylim(low, high)
        ax.set_ylabel(label)
    axes[-1].set_xlabel("time")
    axes[0].set_title("series and mask")
    colorbar = axes[0].figure.colorbar(images[-1], ax=axes, shrink=0.9)
    colorbar.set_label("mask")
    for image in images:
        image.colorbar = colorbar
    return axes


def plot_importance(result, *, names=None, ax=None):
    """Draw a dataset-level importance with its confidence intervals.

    Parameters
    ----------
    result : Bunch
        As returned by :func:`sklearn_tsmask.importance.channel_importance`
        (bars with error bars, grouped by class) or
        :func:`~sklearn_tsmask.importance.time_importance` (one line per
        class with its interval as a band).
    names : sequence of str, default=None
        Channel names (channel importance only); default: the indices.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure is created when None.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn into. For channel importance ``ax.containers`` holds
        one bar container per class; for time importance ``ax.lines`` one
        line per class.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_tsmask.importance import channel_importance
    >>> from sklearn_tsmask.plotting import plot_importance
    >>> masks = np.zeros((4, 2, 3))
    >>> masks[:, 0] = 1.0
    >>> ax = plot_importance(channel_importance(masks, y=[0, 0, 1, 1], random_state=0), names=["x", "y"])
    >>> [[float(bar.get_height()) for bar in c] for c in ax.containers if hasattr(c, "patches")]
    [[1.0, 0.0], [1.0, 0.0]]
    >>> plt.close("all")
    """
    plt = _pyplot()
    importance = np.atleast_2d(np.asarray(result.importance, dtype=float))
    low = np.atleast_2d(np.asarray(result.low, dtype=float))
    high = np.atleast_2d(np.asarray(result.high, dtype=float))
    classes = result.classes if result.classes is not None else [None]
    n_groups, n_values = importance.shape
    level = f"{100 * result.confidence:.0f}% interval"
    if ax is None:
        width = max(5.0, 0.4 * n_values * (n_groups if result.axis == "channel" else 0.1) + 2.5)
        _, ax = plt.subplots(figsize=(min(width, 14.0), 3.8), constrained_layout=True)
    else:
        ax = _single_axes(ax)
    positions = np.arange(n_values)
    if result.axis == "channel":
        bar = 0.8 / n_groups
        for g, label in enumerate(classes):
            errors = None
            if np.isfinite(low[g]).all():
                errors = np.vstack([importance[g] - low[g], high[g] - importance[g]])
            ax.bar(positions - 0.4 + bar * (g + 0.5), importance[g], width=bar, yerr=errors, capsize=3,
                   label="all series" if label is None else f"class {label}", color=f"C{g % 10}")
        ax.set_xticks(positions)
        ax.set_xticklabels(_channel_labels(names, n_values), rotation=90 if n_values > 12 else 0)
        ax.set_xlabel("channel")
        ax.set_ylabel("mean mask over time")
        ax.set_title(f"channel importance ({level})")
    else:
        for g, label in enumerate(classes):
            ax.plot(positions, importance[g], color=f"C{g % 10}",
                    label="all series" if label is None else f"class {label}")
            if np.isfinite(low[g]).all():
                ax.fill_between(positions, low[g], high[g], color=f"C{g % 10}", alpha=0.25, linewidth=0)
        ax.set_xlabel("time step")
        ax.set_ylabel("mean mask over channels")
        ax.set_title(f"time importance ({level})")
    if n_groups > 1:
        ax.legend()
    return ax
