"""Segment masks: one mask value per group of entries (channel and time segment), expanded to (C, T).

The ``segments`` parameter of the explainers: ``None`` (one value per entry),
an int ``S`` (``S`` equal time segments per channel, as tsCaptum's
``n_segments``), increasing time boundaries (the start of every segment but
the first, per channel), or an integer array ``(C, T)`` of group ids, as
captum's ``feature_mask`` (a group may span channels).
"""

import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import InvalidParameterError

__all__ = ["Segments", "check_segments"]


def check_segments(segments):
    """Refuse what can never be a segmentation (InvalidParameterError), before the data is known."""
    if segments is None:
        return
    if isinstance(segments, (bool, np.bool_)):
        raise InvalidParameterError(f"The 'segments' parameter must be None, an int, boundaries or an array; got {segments!r}.")
    if isinstance(segments, (numbers.Integral, np.integer)):
        if segments < 1:
            raise InvalidParameterError(f"The 'segments' parameter must be a positive number of segments; got {segments}.")
        return
    arr = np.asarray(segments.detach().cpu() if isinstance(segments, torch.Tensor) else segments)
    if arr.ndim not in (1, 2) or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidParameterError(
            "The 'segments' parameter must be None, a number of segments (int), increasing integer time "
            "boundaries (1D) or integer group ids of shape (n_channels, n_timepoints) (2D, as captum's "
            f"feature_mask); got an array of shape {arr.shape} and dtype {arr.dtype}."
        )


class _ExpandMean(torch.autograd.Function):
    """Values per group to values per entry; backward: the mean gradient of each group's entries."""

    @staticmethod
    def forward(ctx, values, segments):
        ctx.segments = segments
        return segments._expand(values)

    @staticmethod
    def backward(ctx, grad):
        return ctx.segments.mean(grad), None


class Segments:
    """The groups of entries of series of shape (C, T) and the maps between values per group and per entry.

    Parameters
    ----------
    segments : int, array-like
        See the module docstring.
    n_channels, n_timepoints : int
    device : torch.device
    """

    def __init__(self, segments, n_channels, n_timepoints, device):
        C, T = n_channels, n_timepoints
        if isinstance(segments, (numbers.Integral, np.integer)):
            if segments > T:
                raise ValueError(f"segments={segments} is more than the {T} time points of the series.")
            starts = [int(part[0]) for part in np.array_split(np.arange(T), int(segments))]
            groups = self._per_channel(np.asarray(starts[1:]), C, T)
        else:
            arr = np.asarray(segments.detach().cpu() if isinstance(segments, torch.Tensor) else segments)
            if arr.ndim == 1:
                if not (np.all(np.diff(arr) > 0) and arr[0] > 0 and arr[-1] < T):
                    raise ValueError(
                        f"segment boundaries must increase strictly within (0, {T}) (the start of every segment "
                        f"but the first); got {arr.tolist()}."
                    )
                groups = self._per_channel(arr, C, T)
            else:
                if arr.shape != (C, T):
                    raise ValueError(
                        f"segments given as group ids must have the shape of one series ({C}, {T}); got {arr.shape}."
                    )
                groups = np.unique(arr, return_inverse=True)[1].reshape(C, T)  # ids 0..S-1
        self.n_groups = int(groups.max()) + 1
        self.shape = (C, T)
        self.index = torch.as_tensor(groups.reshape(-1), dtype=torch.long, device=device)
        self.sizes = torch.bincount(self.index, minlength=self.n_groups)

    @staticmethod
    def _per_channel(boundaries, C, T):
        time_group = np.searchsorted(boundaries, np.arange(T), side="right")  # segment of each time point
        n = len(boundaries) + 1
        return np.arange(C)[:, None] * n + time_group[None, :]

    def expand(self, values):
        """Values per group ``(..., S)`` as values per entry ``(..., C, T)``.

        The gradient flowing back to a group's value is the **mean** of its entries' gradients, not
        their sum: a segment value moves as one of its entries would, so the learning rates keep their
        meaning whatever the segments' sizes.
        """
        return _ExpandMean.apply(values, self)

    def _expand(self, values):
        return values[..., self.index].reshape(*values.shape[:-1], *self.shape)

    def mean(self, values):
        """Values per entry ``(..., C, T)`` averaged over each group: ``(..., S)``."""
        flat = values.reshape(*values.shape[:-2], -1)
        total = torch.zeros(*flat.shape[:-1], self.n_groups, dtype=flat.dtype, device=flat.device)
        total.index_add_(-1, self.index, flat)
        return total / self.sizes.to(flat.dtype)
