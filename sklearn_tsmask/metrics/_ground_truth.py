"""Saliency metrics against a known ground truth.

Every metric compares a binary true saliency ``Q`` with masks ``M`` of the same
shape ``(N, C, T)`` (or ``(N, T)`` for univariate panels), or, for series of
unequal lengths, two panels whose series have the same shapes (aeon's lists of
2D arrays, sktime's ``df-list`` and ``nested_univ``). By default each sample's
mask is first rescaled to ``[0, 1)`` with ``M' = (M - min) / (max - min + 1e-5)``
over its ``C * T`` entries, as in the published tables. All entries of all
samples are then pooled.
"""

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from sklearn_tsmask._panel import to_numpy3d

__all__ = ["aup", "aur", "information", "entropy", "auroc", "auprc"]

_EPS = 1e-5


def _normalize(M):
    """Per-sample min-max rescaling of an ``(N, C, T)`` array (or ``(C, T)``, one sample), as in the published
    tables."""
    axes = tuple(range(M.ndim - 2, M.ndim))
    lo = M.min(axis=axes, keepdims=True)
    hi = M.max(axis=axes, keepdims=True)
    return (M - lo) / (hi - lo + _EPS)


def _describe(A):
    return f"of shape {A.shape}" if isinstance(A, np.ndarray) else f"of {len(A)} series of unequal lengths"


def _check_normalize(normalize):
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize must be True or False, got {normalize!r}.")


def _check_inputs(true_saliency, masks, *, normalize, metric, need_positive=True, unit_interval=False):
    """Validate and pool the inputs: a flat boolean ``Q``, the flat float ``M`` (each sample rescaled first when
    ``normalize``) and the number of entries of each sample, for panels of equal or unequal lengths alike."""
    _check_normalize(normalize)
    Q = to_numpy3d(true_saliency, name="true_saliency", allow_ragged=True)
    M = to_numpy3d(masks, name="masks", allow_ragged=True)
    ragged = isinstance(Q, list) or isinstance(M, list)
    if not ragged and Q.shape != M.shape:
        raise ValueError(
            f"true_saliency and masks must have the same shape, got true_saliency of shape "
            f"{tuple(np.shape(true_saliency))} and masks of shape {tuple(np.shape(masks))}."
        )
    if ragged:
        if len(Q) != len(M):
            raise ValueError(
                f"true_saliency and masks must have the same series, got true_saliency {_describe(Q)} and masks "
                f"{_describe(M)}."
            )
        for i, (q, m) in enumerate(zip(Q, M)):
            if q.shape != m.shape:
                raise ValueError(
                    f"true_saliency and masks must have the same shape for every series; series {i} has "
                    f"true_saliency of shape {q.shape} and masks of shape {m.shape}."
                )
        sizes = np.array([q.size for q in Q])
        Q = np.concatenate([q.ravel() for q in Q])
        M = np.concatenate([(_normalize(m) if normalize else m).ravel() for m in M])
    else:
        sizes = np.full(Q.shape[0], Q[0].size)
        Q, M = Q.ravel(), (_normalize(M) if normalize else M).ravel()
    binary = (Q == 0) | (Q == 1)
    if not binary.all():
        raise ValueError(
            "true_saliency must be binary (0/1 or bool), got values such as "
            f"{np.unique(Q[~binary])[:5].tolist()}."
        )
    Q = Q.astype(bool)
    if need_positive and not Q.any():
        raise ValueError(
            f"{metric} is undefined when true_saliency has no salient entry (it is all zeros): "
            "the metric is computed over, or relative to, the truly salient entries."
        )
    if not normalize and unit_interval and (M.min() < 0 or M.max() > 1):
        raise ValueError(
            f"{metric} with normalize=False needs masks in [0, 1], got values in "
            f"[{M.min():.4g}, {M.max():.4g}]. Use normalize=True or rescale the masks."
        )
    return Q, M, sizes


def _check_reduction(reduction):
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}.")


def _trapezoid(y, x):
    """Trapezoid rule, ``numpy.trapezoid`` written out for numpy < 2."""
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


def _threshold_counts(Q, M):
    """For each distinct score ``tau`` (ascending), counts of the set ``{M >= tau}``.

    Returns the thresholds, the number of true positives and the number of
    entries in each set. Sorting once and accumulating makes it O(n log n).
    """
    scores, labels = M, Q
    order = np.argsort(scores, kind="mergesort")[::-1]  # descending scores
    scores, labels = scores[order], labels[order]
    # Last position of each block of equal scores: the set {M >= tau} ends there.
    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    true_pos = np.cumsum(labels)[last]
    n_selected = last + 1
    return scores[last][::-1], true_pos[::-1], n_selected[::-1]


def aup(true_saliency, masks, *, normalize=True):
    """Area under the precision curve, integrated over the mask thresholds.

    For each distinct mask value ``tau`` (ascending), the precision of the
    set of entries with ``M' >= tau`` is computed on the pooled entries of all
    samples; AUP is the trapezoid integral of this precision over ``tau``.

    Parameters
    ----------
    true_saliency : array-like or torch.Tensor of shape (N, C, T) or (N, T)
        Binary ground truth (0/1 or bool), 1 for the truly salient entries.
        Series of unequal lengths: a list of 2D arrays (or sktime's ``df-list``
        or ``nested_univ``), the masks alike.
    masks : array-like or torch.Tensor of the same shape
        Saliency scores, higher meaning more salient.
    normalize : bool, default=True
        Rescale each sample's mask with ``(M - min) / (max - min + 1e-5)``
        before pooling.

    Returns
    -------
    float
        The area (higher is better); 0.0 when the masks take fewer than two
        distinct values.

    Examples
    --------
    >>> from sklearn_tsmask.metrics import aup
    >>> true_saliency = [[[0, 1, 1, 0]]]
    >>> masks = [[[0.1, 0.9, 0.6, 0.3]]]
    >>> round(aup(true_saliency, masks, normalize=False), 4)
    0.6667
    """
    Q, M, _ = _check_inputs(true_saliency, masks, normalize=normalize, metric="aup", need_positive=False)
    thresholds, true_pos, n_selected = _threshold_counts(Q, M)
    if thresholds.size < 2:
        return 0.0
    return _trapezoid(true_pos / n_selected, thresholds)


def aur(true_saliency, masks, *, normalize=True):
    """Area under the recall curve, integrated over the mask thresholds.

    For each distinct mask value ``tau`` (ascending), the recall of the set
    of entries with ``M' >= tau`` is computed on the pooled entries of all
    samples; AUR is the trapezoid integral of this recall over ``tau``.

    Parameters
    ----------
    true_saliency : array-like or torch.Tensor of shape (N, C, T) or (N, T)
        Binary ground truth (0/1 or bool), 1 for the truly salient entries.
        Series of unequal lengths: a list of 2D arrays (or sktime's ``df-list``
        or ``nested_univ``), the masks alike.
        At least one entry must be salient.
    masks : array-like or torch.Tensor of the same shape
        Saliency scores, higher meaning more salient.
    normalize : bool, default=True
        Rescale each sample's mask with ``(M - min) / (max - min + 1e-5)``
        before pooling.

    Returns
    -------
    float
        The area (higher is better); 0.0 when the masks take fewer than two
        distinct values.

    Examples
    --------
    >>> from sklearn_tsmask.metrics import aur
    >>> true_saliency = [[[0, 1, 1, 0]]]
    >>> masks = [[[0.1, 0.9, 0.6, 0.3]]]
    >>> round(aur(true_saliency, masks, normalize=False), 4)
    0.725
    """
    Q, M, _ = _check_inputs(true_saliency, masks, normalize=normalize, metric="aur")
    thresholds, true_pos, _ = _threshold_counts(Q, M)
    if thresholds.size < 2:
        return 0.0
    return _trapezoid(true_pos / Q.sum(), thresholds)


def _reduce(values, Q, sizes, reduction):
    """Sum the pooled ``values`` over the salient entries, over the set or per sample (``sizes`` entries each)."""
    per_sample = np.add.reduceat(np.where(Q, values, 0.0), np.r_[0, np.cumsum(sizes)[:-1]])
    return float(per_sample.sum() if reduction == "sum" else per_sample.mean())


def information(true_saliency, masks, *, normalize=True, reduction="sum"):
    """Mask information of the truly salient entries (Dynamask, Definition 2.3).

    ``I = sum over truly salient entries of |log2(1 - M' + 1e-5)|``: it is
    large when the mask gives high values to the salient entries.

    Parameters
    ----------
    true_saliency : array-like or torch.Tensor of shape (N, C, T) or (N, T)
        Binary ground truth (0/1 or bool), 1 for the truly salient entries.
        Series of unequal lengths: a list of 2D arrays (or sktime's ``df-list``
        or ``nested_univ``), the masks alike.
        At least one entry must be salient.
    masks : array-like or torch.Tensor of the same shape
        Saliency scores. With ``normalize=False`` they must lie in [0, 1].
    normalize : bool, default=True
        Rescale each sample's mask with ``(M - min) / (max - min + 1e-5)``.
    reduction : {"sum", "mean"}, default="sum"
        ``"sum"`` over the whole set, as in the papers (it grows with N);
        ``"mean"`` averages the per-sample sums over the N samples.

    Returns
    -------
    float
        The information in bits (higher is better).

    Examples
    --------
    >>> from sklearn_tsmask.metrics import information
    >>> true_saliency = [[[0, 1, 1, 0]]]
    >>> masks = [[[0.0, 0.5, 0.75, 1.0]]]
    >>> round(information(true_saliency, masks, normalize=False), 3)
    3.0
    """
    _check_reduction(reduction)
    Q, M, sizes = _check_inputs(true_saliency, masks, normalize=normalize, metric="information", unit_interval=True)
    return _reduce(np.abs(np.log2(1.0 - M + _EPS)), Q, sizes, reduction)


def entropy(true_saliency, masks, *, normalize=True, reduction="sum"):
    """Mask entropy of the truly salient entries (Dynamask, Definition 2.4).

    ``S = sum over truly salient entries of
    M' |log2(M' + 1e-5)| + (1 - M') |log2(1 - M' + 1e-5)|``: it is small
    when the mask is sharp (close to 0 or 1) on the salient entries.

    Parameters
    ----------
    true_saliency : array-like or torch.Tensor of shape (N, C, T) or (N, T)
        Binary ground truth (0/1 or bool), 1 for the truly salient entries.
        Series of unequal lengths: a list of 2D arrays (or sktime's ``df-list``
        or ``nested_univ``), the masks alike.
        At least one entry must be salient.
    masks : array-like or torch.Tensor of the same shape
        Saliency scores. With ``normalize=False`` they must lie in [0, 1].
    normalize : bool, default=True
        Rescale each sample's mask with ``(M - min) / (max - min + 1e-5)``.
    reduction : {"sum", "mean"}, default="sum"
        ``"sum"`` over the whole set, as in the papers (it grows with N);
        ``"mean"`` averages the per-sample sums over the N samples.

    Returns
    -------
    float
        The entropy in bits (lower is better).

    Examples
    --------
    >>> from sklearn_tsmask.metrics import entropy
    >>> true_saliency = [[[0, 1, 1, 0]]]
    >>> masks = [[[0.0, 0.5, 1.0, 1.0]]]
    >>> round(entropy(true_saliency, masks, normalize=False), 3)
    1.0
    """
    _check_reduction(reduction)
    Q, M, sizes = _check_inputs(true_saliency, masks, normalize=normalize, metric="entropy", unit_interval=True)
    values = M * np.abs(np.log2(M + _EPS)) + (1.0 - M) * np.abs(np.log2(1.0 - M + _EPS))
    return _reduce(values, Q, sizes, reduction)


def auroc(true_saliency, masks, *, normalize=True):
    """Area under the ROC curve of the masks, on the pooled entries.

    Parameters
    ----------
    true_saliency : array-like or torch.Tensor of shape (N, C, T) or (N, T)
        Binary ground truth (0/1 or bool), 1 for the truly salient entries.
        Series of unequal lengths: a list of 2D arrays (or sktime's ``df-list``
        or ``nested_univ``), the masks alike.
        It must contain both salient and non-salient entries.
    masks : array-like or torch.Tensor of the same shape
        Saliency scores, higher meaning more salient.
    normalize : bool, default=True
        Rescale each sample's mask with ``(M - min) / (max - min + 1e-5)``
        before pooling.

    Returns
    -------
    float
        The ROC AUC in [0, 1] (higher is better, 0.5 is chance).

    Examples
    --------
    >>> from sklearn_tsmask.metrics import auroc
    >>> true_saliency = [[[0, 1, 1, 0]]]
    >>> masks = [[[0.1, 0.9, 0.2, 0.3]]]
    >>> auroc(true_saliency, masks)
    0.75
    """
    Q, M, _ = _check_inputs(true_saliency, masks, normalize=normalize, metric="auroc")
    if Q.all():
        raise ValueError(
            "auroc is undefined when every entry of true_saliency is salient: "
            "it needs non-salient entries too."
        )
    return float(roc_auc_score(Q, M))


def auprc(true_saliency, masks, *, normalize=True):
    """Area under the precision-recall curve (average precision), pooled entries.

    Parameters
    ----------
    true_saliency : array-like or torch.Tensor of shape (N, C, T) or (N, T)
        Binary ground truth (0/1 or bool), 1 for the truly salient entries.
        Series of unequal lengths: a list of 2D arrays (or sktime's ``df-list``
        or ``nested_univ``), the masks alike.
        At least one entry must be salient.
    masks : array-like or torch.Tensor of the same shape
        Saliency scores, higher meaning more salient.
    normalize : bool, default=True
        Rescale each sample's mask with ``(M - min) / (max - min + 1e-5)``
        before pooling.

    Returns
    -------
    float
        The average precision in [0, 1] (higher is better).

    Examples
    --------
    >>> from sklearn_tsmask.metrics import auprc
    >>> true_saliency = [[[0, 1, 1, 0]]]
    >>> masks = [[[0.1, 0.9, 0.2, 0.3]]]
    >>> round(auprc(true_saliency, masks), 4)
    0.8333
    """
    Q, M, _ = _check_inputs(true_saliency, masks, normalize=normalize, metric="auprc")
    return float(average_precision_score(Q, M))
