"""Dataset-level importance: which channels (or time steps) the masks of a panel point at, with
bootstrap confidence intervals, overall or per class.

A mask explains one series; a practitioner often asks about a dataset ("which sensors does the
model use for walking?"). Each series contributes its own importance per channel (the mean of its
mask over time) or per time step (the mean over channels); the dataset's importance is their mean
over the series, and its uncertainty comes from a percentile bootstrap over the series (resampled
with replacement), per class when labels are given. Draw the result with
:func:`sklearn_tsmask.plotting.plot_importance`.
"""

import numbers

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ._panel import to_numpy3d

__all__ = ["channel_importance", "time_importance"]


def _per_series(masks, axis):
    """Per-series importance: (N, C) means over time (series of any length), or (N, T) means over channels."""
    m = to_numpy3d(masks, name="masks", allow_ragged=True)
    if isinstance(m, list):  # series of unequal lengths
        if axis == "time":
            raise ValueError("time_importance needs series of one length: the time steps of unequal series differ.")
        return np.stack([s.mean(axis=1) for s in m])
    return m.mean(axis=2 if axis == "channel" else 1)


def _check_options(n_bootstrap, confidence):
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, numbers.Integral) or n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be a non-negative integer, got {n_bootstrap!r}.")
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}.")


def _summarise(values, y, n_bootstrap, confidence, random_state, axis):
    """Mean over the series and percentile bootstrap bounds, overall or per class of ``y``."""
    _check_options(n_bootstrap, confidence)
    rng = check_random_state(random_state)
    if y is None:
        groups, classes = [np.arange(len(values))], None
    else:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(values):
            raise ValueError(f"y must hold one label per series ({len(values)}), got shape {y.shape}.")
        classes = np.unique(y)
        groups = [np.flatnonzero(y == c) for c in classes]
    means, lows, highs, counts = [], [], [], []
    tail = (1.0 - confidence) / 2.0
    for rows in groups:
        v = values[rows]
        means.append(v.mean(axis=0))
        counts.append(len(rows))
        if n_bootstrap:
            draws = rng.randint(0, len(rows), size=(n_bootstrap, len(rows)))
            boot = v[draws].mean(axis=1)  # (n_bootstrap, D): the mean of each resampled panel
            lows.append(np.quantile(boot, tail, axis=0))
            highs.append(np.quantile(boot, 1.0 - tail, axis=0))
        else:
            lows.append(np.full(v.shape[1], np.nan))
            highs.append(np.full(v.shape[1], np.nan))
    squeeze = (lambda a: a[0]) if classes is None else (lambda a: a)  # noqa: E731
    return Bunch(
        importance=squeeze(np.array(means)),
        low=squeeze(np.array(lows)),
        high=squeeze(np.array(highs)),
        classes=classes,
        n_series=squeeze(np.array(counts)),
        confidence=confidence,
        axis=axis,
    )


def channel_importance(masks, y=None, *, n_bootstrap=1000, confidence=0.95, random_state=None):
    """Importance of each channel over a panel (or per class), with bootstrap confidence intervals.

    Parameters
    ----------
    masks : array-like, torch.Tensor or sktime panel of shape (n_instances, n_channels, n_timepoints)
        Masks of a panel, as ``transform`` returns them, also for series of
        unequal lengths (aeon's list of ``(n_channels, n_timepoints_i)``
        arrays, sktime's ``df-list`` and ``nested_univ``).
    y : array-like of shape (n_instances,), default=None
        Class labels (or any groups): one importance per class.
    n_bootstrap : int, default=1000
        Bootstrap resamples of the series (0: no interval).
    confidence : float, default=0.95
        Level of the percentile intervals.
    random_state : int, RandomState or None, default=None
        Seeds the resampling.

    Returns
    -------
    result : Bunch
        ``importance``, ``low``, ``high``: arrays of shape (n_channels,), or
        (n_classes, n_channels) with ``y``: the mean over the series of each
        series' mean mask over time, and the interval's bounds; ``classes``
        (the sorted labels, or None); ``n_series`` per class; ``confidence``;
        ``axis`` (``"channel"``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_tsmask.importance import channel_importance
    >>> masks = np.zeros((4, 2, 3))
    >>> masks[:, 0] = 1.0          # every series: channel 0 fully salient
    >>> masks[:2, 1, 0] = 0.6      # two series: a little of channel 1
    >>> result = channel_importance(masks, y=["a", "a", "b", "b"], random_state=0)
    >>> result.classes.tolist(), result.importance.round(2).tolist()
    (['a', 'b'], [[1.0, 0.2], [1.0, 0.0]])
    """
    return _summarise(_per_series(masks, "channel"), y, n_bootstrap, confidence, random_state, "channel")


def time_importance(masks, y=None, *, n_bootstrap=1000, confidence=0.95, random_state=None):
    """Importance of each time step over a panel (or per class), with bootstrap confidence intervals.

    Each series' importance at step ``t`` is its mask's mean over the
    channels; the panel's is their mean over the series.

    Parameters
    ----------
    masks : array-like, torch.Tensor or sktime panel of shape (n_instances, n_channels, n_timepoints)
        Masks of a panel of equal-length series.
    y : array-like of shape (n_instances,), default=None
        Class labels (or any groups): one curve per class.
    n_bootstrap : int, default=1000
        Bootstrap resamples of the series (0: no interval).
    confidence : float, default=0.95
        Level of the percentile intervals.
    random_state : int, RandomState or None, default=None
        Seeds the resampling.

    Returns
    -------
    result : Bunch
        As :func:`channel_importance`, with arrays of shape (n_timepoints,)
        or (n_classes, n_timepoints); ``axis`` is ``"time"``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_tsmask.importance import time_importance
    >>> masks = np.zeros((3, 2, 4))
    >>> masks[:, :, 1] = 1.0
    >>> time_importance(masks, n_bootstrap=0).importance.tolist()
    [0.0, 1.0, 0.0, 0.0]
    """
    return _summarise(_per_series(masks, "time"), y, n_bootstrap, confidence, random_state, "time")
