"""Rare-Feature and Rare-Time benchmarks (Dynamask, Crabbé & van der Schaar 2021;
ContraLSP, Liu et al. 2024), with their DiffGroups variants.

Every channel of every sample is an independent AR(3) series

    x_t = eps_t - 0.25 x_{t-1} - 0.1 x_{t-2} - 0.05 x_{t-3},  eps_t ~ N(0, 1),

started from zero (statsmodels' ``ArmaProcess(ar=[2, .5, .2, .1], ma=[2])``
without burn-in). A small set of (channel, time) entries is salient and a
white-box regressor (:class:`RareWhiteBox`) reads only those entries.

Layout of the salient sets
--------------------------
Rare-Feature
    ``n_salient`` channels drawn without replacement, salient at the times
    of a window (``salient_window``, default ``[12, 37)``).
Rare-Time
    ``n_salient`` consecutive time steps starting at a uniformly drawn time,
    salient on the channels of a window (``salient_window``).
DiffGroups (``diffgroups=True``)
    The first ``n_samples // 2`` samples form group 0, the others group 1.
    Group 1 uses ``salient_window`` and the sum of squares, like the plain
    benchmark. Group 0 uses the window of the same length starting at 0
    (``[0, 25)`` for the defaults) and the square of the sum. The random part
    of the salient set (the channels for Rare-Feature, the consecutive times
    for Rare-Time) is drawn independently for each group, so the two groups
    may share channels or times by chance. For Rare-Feature the window is a
    time window, for Rare-Time a channel window. This is the layout of the
    ContraLSP paper (appendix D.1: ``S_T1 = [1:25]``, ``S_T2 = [13:38]`` for
    Rare-Observation; ``S_D1 = [1:25]``, ``S_D2 = [13:38]`` for Rare-Time,
    consecutive times "selected differently for different groups") and of its
    public Rare-Observation DiffGroups script (times ``[:T/2]`` with the square
    of the sum of ``perm[:5]``, times ``[T/4:3T/4]`` with the sum of squares of
    an independent ``perm2[:5]``).
"""

import numbers

import numpy as np
from scipy.signal import lfilter
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_scalar

from ._white_box import RareWhiteBox

__all__ = ["make_rare_feature", "make_rare_time"]

# x_t + 0.25 x_{t-1} + 0.1 x_{t-2} + 0.05 x_{t-3} = eps_t, written as statsmodels'
# ArmaProcess(ar=[2, .5, .2, .1], ma=[2]) does.
_AR = (2.0, 0.5, 0.2, 0.1)
_MA = (2.0,)


def _arma_noise(rng, n_samples, n_channels, n_timepoints):
    """ARMA noise of shape (n_samples, n_channels, n_timepoints), zero initial state."""
    eps = rng.standard_normal((n_samples, n_channels, n_timepoints))
    return lfilter(_MA, _AR, eps, axis=-1)


def _check_window(salient_window, limit, axis_name):
    try:
        lo, hi = salient_window
    except (TypeError, ValueError):
        raise ValueError(
            f"salient_window must be a pair (start, stop), got {salient_window!r}."
        ) from None
    if not (isinstance(lo, numbers.Integral) and isinstance(hi, numbers.Integral)):
        raise ValueError(f"salient_window must hold two integers, got {salient_window!r}.")
    lo, hi = int(lo), int(hi)
    if not 0 <= lo < hi <= limit:
        raise ValueError(
            f"salient_window must satisfy 0 <= start < stop <= {axis_name} = {limit}, "
            f"got ({lo}, {hi})."
        )
    return lo, hi


def _make_rare(
    kind,
    n_samples,
    n_timepoints,
    n_channels,
    n_salient,
    salient_window,
    shared_salient,
    diffgroups,
    return_groups,
    random_state,
):
    check_scalar(n_samples, "n_samples", numbers.Integral, min_val=2 if diffgroups else 1)
    check_scalar(n_timepoints, "n_timepoints", numbers.Integral, min_val=1)
    check_scalar(n_channels, "n_channels", numbers.Integral, min_val=1)
    n_samples, n_timepoints, n_channels = int(n_samples), int(n_timepoints), int(n_channels)
    if kind == "feature":
        # Random channels, fixed time window.
        n_random, n_window_axis = n_channels, n_timepoints
        window_name = "n_timepoints"
    else:
        # Random consecutive times, fixed channel window.
        n_random, n_window_axis = n_timepoints, n_channels
        window_name = "n_channels"
    check_scalar(n_salient, "n_salient", numbers.Integral, min_val=1, max_val=n_random)
    n_salient = int(n_salient)
    lo, hi = _check_window(salient_window, n_window_axis, window_name)

    rng = check_random_state(random_state)
    X = _arma_noise(rng, n_samples, n_channels, n_timepoints)

    # Layout of the (half-)groups: windows and combinations.
    if diffgroups:
        windows = [(0, hi - lo), (lo, hi)]
        combos = ["square_of_sum", "sum_of_squares"]
    else:
        windows = [(lo, hi)]
        combos = ["sum_of_squares"]
    sample_half = np.zeros(n_samples, dtype=np.int64)
    if diffgroups:
        sample_half[n_samples // 2:] = 1
    window_masks = np.zeros((len(windows), n_window_axis), dtype=bool)
    for g, (a, b) in enumerate(windows):
        window_masks[g, a:b] = True

    # One salient set per (half-)group when shared, else one per sample.
    if shared_salient:
        set_half = np.arange(len(windows), dtype=np.int64)
        groups = sample_half
    else:
        set_half = sample_half
        groups = np.arange(n_samples, dtype=np.int64)
    n_sets = set_half.shape[0]
    window_of_set = window_masks[set_half]  # (n_sets, n_window_axis)

    if kind == "feature":
        # n_salient channels without replacement per set: first entries of a random permutation.
        channels = np.argsort(rng.random((n_sets, n_channels)), axis=1)[:, :n_salient]
        channel_mask = np.zeros((n_sets, n_channels), dtype=bool)
        np.put_along_axis(channel_mask, channels, True, axis=1)
        time_mask = window_of_set
    else:
        starts = rng.randint(0, n_timepoints - n_salient + 1, size=n_sets)
        t = np.arange(n_timepoints)
        time_mask = (t >= starts[:, None]) & (t < starts[:, None] + n_salient)
        channel_mask = window_of_set
    salient = channel_mask[:, :, None] & time_mask[:, None, :]  # (n_sets, C, T)

    white_box = RareWhiteBox(salient.astype(np.float32), [combos[h] for h in set_half])
    true_saliency = salient[groups].astype(np.int8)
    if return_groups:
        return X, true_saliency, white_box, groups
    return X, true_saliency, white_box


def make_rare_feature(
    n_samples=100,
    *,
    n_timepoints=50,
    n_channels=50,
    n_salient=5,
    salient_window=(12, 37),
    shared_salient=True,
    diffgroups=False,
    return_groups=False,
    random_state=None,
):
    """Rare-Feature benchmark: a few salient channels during a time window.

    Each channel is an AR(3) series ``x_t = eps_t - 0.25 x_{t-1} - 0.1 x_{t-2}
    - 0.05 x_{t-3}``, ``eps_t ~ N(0, 1)``. The salient entries are the times
    of ``salient_window`` on ``n_salient`` channels drawn without replacement
    (also called Rare-Observation in the ContraLSP paper).

    Parameters
    ----------
    n_samples : int, default=100
        Number of series ``N``. At least 2 with ``diffgroups=True``.
    n_timepoints : int, default=50
        Length ``T`` of each series.
    n_channels : int, default=50
        Number of channels ``C``.
    n_salient : int, default=5
        Number of salient channels, drawn without replacement.
    salient_window : tuple of int (start, stop), default=(12, 37)
        Salient time steps ``[start, stop)``. With ``diffgroups=True`` this
        is the window of group 1; group 0 uses ``(0, stop - start)``.
    shared_salient : bool, default=True
        If True, one salient set is drawn for all samples (per group with
        ``diffgroups``), as in ContraLSP and tint. If False, one is drawn for
        each sample, as in the Dynamask paper.
    diffgroups : bool, default=False
        DiffGroups variant: the first ``n_samples // 2`` samples (group 0) use
        the window ``(0, stop - start)`` and the square of the sum
        ``y_t = (sum_c x[c, t]) ** 2`` over their salient entries; the others
        (group 1) use ``salient_window`` and the sum of squares. The salient
        channels are drawn independently for each group.
    return_groups : bool, default=False
        If True, also return the group id of every sample.
    random_state : int, RandomState instance or None, default=None
        Seed of the noise and of the salient sets (see
        :func:`sklearn.utils.check_random_state`).

    Returns
    -------
    X : ndarray of shape (n_samples, n_channels, n_timepoints), dtype float64
        ARMA series, channels before time (sktime's numpy3D layout).
    true_saliency : ndarray of shape (n_samples, n_channels, n_timepoints), dtype int8
        1 on the salient entries of each sample, 0 elsewhere.
    white_box : RareWhiteBox
        Torch module mapping ``x`` of shape ``(B, C, T)`` to ``y`` of shape
        ``(B, T)``: per time step, the sum of squares (or, for group 0 of
        DiffGroups, the square of the sum) of the sample's salient entries,
        0 at times without a salient entry. Its ``salient`` buffer has one
        mask per group: 1 group for the plain shared benchmark, 2 for shared
        DiffGroups and ``n_samples`` with ``shared_salient=False``. With more
        than one group it must be called as ``white_box(x, groups=groups)``
        (explainers: ``WithInputs(X, groups=groups)`` as ``X``), and calling it
        without ``groups`` raises a ValueError.
    groups : ndarray of shape (n_samples,), dtype int64
        Only when ``return_groups=True``: the white-box group of every
        sample, ``white_box.salient[groups]`` equals ``true_saliency``. All 0
        for the plain shared benchmark; 0 for the first ``n_samples // 2``
        samples and 1 for the others with shared DiffGroups;
        ``arange(n_samples)`` when ``shared_salient=False`` (the DiffGroups
        half of sample ``i`` is then ``int(i >= n_samples // 2)``).

    See Also
    --------
    make_rare_time : Salient consecutive times on a window of channels.
    RareWhiteBox : The white-box model.

    Examples
    --------
    >>> from sklearn_tsmask.datasets import make_rare_feature
    >>> X, true_saliency, white_box = make_rare_feature(n_samples=100, random_state=0)
    >>> X.shape, true_saliency.shape
    ((100, 50, 50), (100, 50, 50))
    >>> float(true_saliency.mean())
    0.05
    >>> import torch
    >>> white_box(torch.from_numpy(X)).shape
    torch.Size([100, 50])

    DiffGroups: the white box needs the group of every row.

    >>> X, true_saliency, white_box, groups = make_rare_feature(
    ...     diffgroups=True, return_groups=True, random_state=0)
    >>> white_box(torch.from_numpy(X), groups=torch.from_numpy(groups)).shape
    torch.Size([100, 50])
    """
    return _make_rare(
        "feature",
        n_samples,
        n_timepoints,
        n_channels,
        n_salient,
        salient_window,
        shared_salient,
        diffgroups,
        return_groups,
        random_state,
    )


def make_rare_time(
    n_samples=100,
    *,
    n_timepoints=50,
    n_channels=50,
    n_salient=5,
    salient_window=(12, 37),
    shared_salient=True,
    diffgroups=False,
    return_groups=False,
    random_state=None,
):
    """Rare-Time benchmark: a few consecutive salient times on a window of channels.

    Each channel is an AR(3) series ``x_t = eps_t - 0.25 x_{t-1} - 0.1 x_{t-2}
    - 0.05 x_{t-3}``, ``eps_t ~ N(0, 1)``. The salient entries are
    ``n_salient`` consecutive time steps, starting at a time drawn uniformly
    from ``[0, n_timepoints - n_salient]``, on the channels of
    ``salient_window``.

    Parameters
    ----------
    n_samples : int, default=100
        Number of series ``N``. At least 2 with ``diffgroups=True``.
    n_timepoints : int, default=50
        Length ``T`` of each series.
    n_channels : int, default=50
        Number of channels ``C``.
    n_salient : int, default=5
        Number of consecutive salient time steps.
    salient_window : tuple of int (start, stop), default=(12, 37)
        Salient channels ``[start, stop)``. With ``diffgroups=True`` this
        is the window of group 1; group 0 uses ``(0, stop - start)``.
    shared_salient : bool, default=True
        If True, one salient set is drawn for all samples (per group with
        ``diffgroups``), as in ContraLSP and tint. If False, one is drawn for
        each sample, as in the Dynamask paper.
    diffgroups : bool, default=False
        DiffGroups variant: the first ``n_samples // 2`` samples (group 0) use
        the window ``(0, stop - start)`` and the square of the sum
        ``y_t = (sum_c x[c, t]) ** 2`` over their salient entries; the others
        (group 1) use ``salient_window`` and the sum of squares. The salient
        times are drawn independently for each group.
    return_groups : bool, default=False
        If True, also return the group id of every sample.
    random_state : int, RandomState instance or None, default=None
        Seed of the noise and of the salient sets (see
        :func:`sklearn.utils.check_random_state`).

    Returns
    -------
    X : ndarray of shape (n_samples, n_channels, n_timepoints), dtype float64
        ARMA series, channels before time (sktime's numpy3D layout).
    true_saliency : ndarray of shape (n_samples, n_channels, n_timepoints), dtype int8
        1 on the salient entries of each sample, 0 elsewhere.
    white_box : RareWhiteBox
        Torch module mapping ``x`` of shape ``(B, C, T)`` to ``y`` of shape
        ``(B, T)``: per time step, the sum of squares (or, for group 0 of
        DiffGroups, the square of the sum) of the sample's salient entries,
        0 at times without a salient entry. Its ``salient`` buffer has one
        mask per group: 1 group for the plain shared benchmark, 2 for shared
        DiffGroups and ``n_samples`` with ``shared_salient=False``. With more
        than one group it must be called as ``white_box(x, groups=groups)``
        (explainers: ``WithInputs(X, groups=groups)`` as ``X``), and calling it
        without ``groups`` raises a ValueError.
    groups : ndarray of shape (n_samples,), dtype int64
        Only when ``return_groups=True``: the white-box group of every
        sample, ``white_box.salient[groups]`` equals ``true_saliency``. All 0
        for the plain shared benchmark; 0 for the first ``n_samples // 2``
        samples and 1 for the others with shared DiffGroups;
        ``arange(n_samples)`` when ``shared_salient=False`` (the DiffGroups
        half of sample ``i`` is then ``int(i >= n_samples // 2)``).

    See Also
    --------
    make_rare_feature : Salient channels during a time window.
    RareWhiteBox : The white-box model.

    Examples
    --------
    >>> from sklearn_tsmask.datasets import make_rare_time
    >>> X, true_saliency, white_box = make_rare_time(n_samples=100, random_state=0)
    >>> X.shape, true_saliency.dtype
    ((100, 50, 50), dtype('int8'))
    >>> int(true_saliency[0].any(axis=0).sum())  # salient time steps
    5
    >>> import torch
    >>> y = white_box(torch.from_numpy(X))
    >>> y.shape
    torch.Size([100, 50])
    """
    return _make_rare(
        "time",
        n_samples,
        n_timepoints,
        n_channels,
        n_salient,
        salient_window,
        shared_salient,
        diffgroups,
        return_groups,
        random_state,
    )
