"""Matplotlib views of masks (needs the ``plot`` extra: ``pip install sklearn-tsmask[plot]``)."""

import numpy as np

from ._panel import to_numpy3d

__all__ = ["plot_mask"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Plotting needs matplotlib: pip install 'sklearn-tsmask[plot]'."
        ) from exc
    return plt


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
    arrays = [to_numpy3d(np.asarray(a, dtype=float)[None], name=name)[0] for name, a in panels]
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
