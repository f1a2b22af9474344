"""Conversion between the panel containers users pass and the internal tensor.

Every explainer works on one internal representation: a floating
``torch.Tensor`` of shape ``(n_instances, n_channels, n_timepoints)`` (sktime's
``numpy3D`` layout). This module is the only place that knows about the
containers accepted at the public surface and converts results back into the
container the user gave, so estimators never deal with formats themselves.

Accepted containers
-------------------
* ``numpy.ndarray`` (or anything :func:`numpy.asarray` understands, such as a
  2D :class:`pandas.DataFrame`) of shape ``(N, C, T)`` or ``(N, T)``; a 2D
  input is a panel of univariate series.
* ``torch.Tensor`` of the same shapes; results are returned as tensors on the
  input's device.
"""

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.utils.validation import check_array

__all__ = ["PanelFormat", "to_tensor", "from_tensor", "to_numpy3d"]

_LAYOUT_HELP = (
    "expected a panel of shape (n_instances, n_channels, n_timepoints) "
    "(sktime's numpy3D) or (n_instances, n_timepoints) for univariate series"
)


@dataclass(frozen=True)
class PanelFormat:
    """What is needed to return a result in the container of the input.

    Attributes
    ----------
    container : {"numpy", "torch"}
        The input's container.
    ndim : {2, 3}
        The input's number of dimensions (2 = univariate panel).
    dtype : numpy.dtype or torch.dtype
        Floating dtype of results: the input's when it is floating, else float64
        for numpy and float32 for torch.
    device : torch.device or None
        The device of a torch input.
    """

    container: str
    ndim: int
    dtype: object
    device: object = None


def _check_shape(shape, name):
    if len(shape) not in (2, 3):
        raise ValueError(f"{name} has {len(shape)} dimension(s) with shape {tuple(shape)}: {_LAYOUT_HELP}.")
    if shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 instances (shape {tuple(shape)}).")
    if any(s == 0 for s in shape[1:]):
        raise ValueError(f"{name} has an empty channel or time axis (shape {tuple(shape)}): {_LAYOUT_HELP}.")


def _validate_numpy(X, name):
    if isinstance(X, np.ndarray):
        arr = X
    else:
        # DataFrames, lists: let numpy decide the shape first so that a clear
        # layout message can be given before scikit-learn's 2D-only wording.
        try:
            arr = np.asarray(X)
        except Exception as exc:  # ragged lists and the like
            raise ValueError(f"{name} could not be read as an array ({exc}); {_LAYOUT_HELP}.") from None
    if arr.dtype == object and arr.ndim in (2, 3):
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{name} holds non-numeric values (dtype object); {_LAYOUT_HELP}. "
                "Nested or multi-index pandas panels need the sktime extra."
            ) from None
    _check_shape(arr.shape, name)
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    arr = check_array(
        arr,
        allow_nd=True,
        dtype=[np.float64, np.float32],
        ensure_all_finite=True,
        input_name=name,
    )
    return arr, PanelFormat("numpy", arr.ndim, np.dtype(dtype))


def to_tensor(X, *, dtype=torch.float32, device=None, name="X"):
    """Validate a panel and return it as a ``(N, C, T)`` tensor.

    The input is never modified: numpy inputs are copied into a new tensor and
    tensors are only read (the explainers never write into their input).

    Parameters
    ----------
    X : array-like or torch.Tensor of shape (N, C, T) or (N, T)
        The panel.
    dtype : torch.dtype, default=torch.float32
        Dtype of the returned tensor.
    device : torch.device or None, default=None
        Device of the returned tensor; ``None`` keeps a tensor's device and
        puts numpy data on the CPU.
    name : str, default="X"
        Name used in error messages.

    Returns
    -------
    tensor : torch.Tensor of shape (N, C, T)
        Detached tensor on ``device``.
    fmt : PanelFormat
        Description of the input's container, for :func:`from_tensor`.

    Raises
    ------
    ValueError
        If the panel is empty, has the wrong number of dimensions, is not
        numeric, or contains NaN or infinity.
    """
    if isinstance(X, torch.Tensor):
        _check_shape(tuple(X.shape), name)
        if X.is_complex() or X.dtype == torch.bool:
            raise ValueError(f"{name} must hold real numbers, got a tensor of dtype {X.dtype}.")
        out_dtype = X.dtype if X.is_floating_point() else torch.float32
        fmt = PanelFormat("torch", X.ndim, out_dtype, X.device)
        t = X.detach()
        if not bool(torch.isfinite(t).all()):
            bad = "NaN" if bool(torch.isnan(t).any()) else "infinity"
            raise ValueError(f"Input {name} contains {bad}.")
        t = t.to(device=device if device is not None else t.device, dtype=dtype)
    else:
        arr, fmt = _validate_numpy(X, name)
        t = torch.tensor(arr, dtype=dtype, device=device)  # always a copy
    if t.ndim == 2:
        t = t.unsqueeze(1)
    return t, fmt


def from_tensor(values, fmt):
    """Return ``values`` of shape (N, C, T) in the container described by ``fmt``.

    Parameters
    ----------
    values : torch.Tensor of shape (N, C, T)
        Result to convert (masks, for instance).
    fmt : PanelFormat
        As returned by :func:`to_tensor` for the input.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Shaped ``(N, C, T)``, or ``(N, T)`` when the input was 2D; never
        sharing memory with ``values``.
    """
    values = values.detach()
    if fmt.ndim == 2:
        values = values[:, 0, :]
    # Always a new object: results must not share memory with an estimator's
    # fitted state or cache, which the caller could then modify in place.
    if fmt.container == "torch":
        return values.to(device=fmt.device, dtype=fmt.dtype, copy=True)
    return np.array(values.cpu().numpy(), dtype=fmt.dtype, copy=True)


def to_numpy3d(A, *, name="array"):
    """Return a panel (numpy, torch, 2D or 3D) as a float64 ``(N, C, T)`` array.

    Used by the metrics, which compare masks with true saliency in numpy.

    Parameters
    ----------
    A : array-like or torch.Tensor of shape (N, C, T) or (N, T)
        The panel.
    name : str, default="array"
        Name used in error messages.

    Returns
    -------
    numpy.ndarray of shape (N, C, T), dtype float64
    """
    if isinstance(A, torch.Tensor):
        A = A.detach().cpu().numpy()
    t, _ = to_tensor(A, dtype=torch.float64, name=name)
    return t.numpy()
