"""White-box regressor of the Rare-Feature / Rare-Time benchmarks.

The model's output at each time step combines the inputs that are truly
salient at that time step, so the ground-truth saliency is known exactly.
Samples may belong to groups that each have their own salient set and
combination (the "DiffGroups" variants, or one group per sample when the
salient sets are drawn per sample). The group of each row is given
explicitly as an argument, never read from the position of the row, so the
model stays correct when the rows are shuffled, batched or subsampled.
"""

import numbers

import numpy as np
import torch
from torch import nn

__all__ = ["RareWhiteBox"]

_COMBINATIONS = ("sum_of_squares", "square_of_sum")


def _check_combinations(combination, n_groups):
    """Return the per-group combinations as a tuple of ``n_groups`` strings."""
    if isinstance(combination, str):
        combos = (combination,) * n_groups
    else:
        combos = tuple(combination)
        if len(combos) != n_groups:
            raise ValueError(
                f"combination has {len(combos)} entries but salient has {n_groups} group(s); "
                "pass one combination per group or a single string for all groups."
            )
    for c in combos:
        if c not in _COMBINATIONS:
            raise ValueError(f"combination must be one of {_COMBINATIONS}, got {c!r}.")
    return combos


class RareWhiteBox(nn.Module):
    """Group-aware white-box regressor with a known salient set.

    For a sample ``x`` of shape ``(n_channels, n_timepoints)`` in group ``g``
    with salient mask ``S = salient[g]``, the output at time ``t`` is

    * ``"sum_of_squares"``: ``y_t = sum_c S[c, t] * x[c, t] ** 2``;
    * ``"square_of_sum"``: ``y_t = (sum_c S[c, t] * x[c, t]) ** 2``.

    Time steps without a salient entry therefore output 0, and the gradient of
    the output with respect to a non-salient entry is 0.

    Parameters
    ----------
    salient : array-like or torch.Tensor of shape (n_groups, n_channels, n_timepoints)
        0/1 salient mask of each group. A 2D mask ``(n_channels, n_timepoints)``
        is taken as a single group. Stored as the float buffer ``salient``.
    combination : {"sum_of_squares", "square_of_sum"} or sequence of those, \
            default="sum_of_squares"
        How the salient inputs of a time step are combined: one string for all
        groups, or one per group.

    Attributes
    ----------
    salient : torch.Tensor of shape (n_groups, n_channels, n_timepoints)
        Float 0/1 buffer; it follows :meth:`torch.nn.Module.to`.
    square_of_sum : torch.Tensor of shape (n_groups,)
        Bool buffer, True for the groups using ``"square_of_sum"``.
    combinations : tuple of str
        The combination of each group.
    n_groups : int
        Number of groups ``G``.

    Notes
    -----
    When ``n_groups > 1`` the model needs the group id of every row:
    ``model(x, groups=groups)``. The explainers forward per-sample model
    inputs bundled with the series, ``WithInputs(X, groups=groups)`` (see
    :class:`~sklearn_tsmask.WithInputs`); the groups are the
    fourth value returned by :func:`make_rare_feature` / :func:`make_rare_time`
    with ``return_groups=True``. Rows are matched to their groups through
    ``groups`` only, so any reordering or subset of the rows works as long as
    ``groups`` is reordered or subset in the same way.

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.datasets import RareWhiteBox
    >>> salient = torch.zeros(1, 3, 4)
    >>> salient[0, :2, 1] = 1
    >>> model = RareWhiteBox(salient)
    >>> x = torch.arange(12.0).reshape(1, 3, 4)
    >>> model(x)
    tensor([[ 0., 26.,  0.,  0.]])
    """

    #: A regressor (outputs ``(N, T)`` are values per time step, not class scores): ``loss="auto"`` reads it.
    _estimator_type = "regressor"

    def __init__(self, salient, combination="sum_of_squares"):
        super().__init__()
        salient = torch.as_tensor(np.asarray(salient) if not torch.is_tensor(salient) else salient)
        if salient.dim() == 2:
            salient = salient.unsqueeze(0)
        if salient.dim() != 3:
            raise ValueError(
                "salient must have shape (n_groups, n_channels, n_timepoints), "
                f"got shape {tuple(salient.shape)}."
            )
        if salient.shape[0] == 0:
            raise ValueError("salient must hold at least one group.")
        salient = salient.detach().to(dtype=torch.get_default_dtype()).clone()
        if not torch.all((salient == 0) | (salient == 1)):
            raise ValueError("salient must contain only 0 and 1.")
        self.combinations = _check_combinations(combination, salient.shape[0])
        self.register_buffer("salient", salient)
        self.register_buffer(
            "square_of_sum",
            torch.tensor([c == "square_of_sum" for c in self.combinations], dtype=torch.bool),
        )

    @property
    def n_groups(self):
        """Number of groups (first dimension of ``salient``)."""
        return int(self.salient.shape[0])

    def _row_masks(self, x, groups):
        """Salient mask and combination flag of each row of ``x``."""
        n_rows = x.shape[0]
        if groups is None:
            if self.n_groups > 1:
                raise ValueError(
                    f"this white box has {self.n_groups} groups (different salient sets), so it "
                    "needs the group id of every row: call model(x, groups=groups), or pass "
                    "WithInputs(X, groups=groups) as X to the explainer; the groups are returned "
                    "by make_rare_feature/make_rare_time with return_groups=True."
                )
            return self.salient[:1], self.square_of_sum[:1]
        if isinstance(groups, numbers.Integral):
            groups = [groups] * n_rows
        if not torch.is_tensor(groups):
            groups = torch.as_tensor(np.asarray(groups))
        if groups.dtype.is_floating_point or groups.dtype.is_complex or groups.dtype == torch.bool:
            raise ValueError(f"groups must hold integer group ids, got dtype {groups.dtype}.")
        groups = groups.reshape(-1) if groups.dim() == 0 else groups
        if groups.dim() != 1 or groups.shape[0] != n_rows:
            raise ValueError(
                f"groups must have shape ({n_rows},), one group id per row of x, "
                f"got shape {tuple(groups.shape)}."
            )
        groups = groups.to(device=self.salient.device, dtype=torch.long)
        if n_rows and (int(groups.min()) < 0 or int(groups.max()) >= self.n_groups):
            raise ValueError(
                f"group ids must lie in [0, {self.n_groups}), got values in "
                f"[{int(groups.min())}, {int(groups.max())}]."
            )
        return self.salient.index_select(0, groups), self.square_of_sum.index_select(0, groups)

    def forward(self, x, groups=None):
        """Output of the white box.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_channels, n_timepoints)
            Inputs, any floating dtype and device.
        groups : torch.Tensor or array-like of int of shape (batch,), default=None
            Group id of each row of ``x``. Required when ``n_groups > 1``;
            optional (all rows in group 0) when ``n_groups == 1``.

        Returns
        -------
        y : torch.Tensor of shape (batch, n_timepoints)
            Output per row and time step, differentiable with respect to ``x``.
        """
        if not torch.is_tensor(x):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}.")
        if x.dim() != 3 or tuple(x.shape[1:]) != tuple(self.salient.shape[1:]):
            raise ValueError(
                "x must have shape (batch, n_channels, n_timepoints) = "
                f"(batch, {self.salient.shape[1]}, {self.salient.shape[2]}), got {tuple(x.shape)}."
            )
        masks, square_of_sum = self._row_masks(x, groups)
        masks = masks.to(device=x.device, dtype=x.dtype)
        square_of_sum = square_of_sum.to(device=x.device)
        masked = x * masks
        sum_of_squares_out = (masked * masked).sum(dim=1)
        total = masked.sum(dim=1)
        square_of_sum_out = total * total
        return torch.where(square_of_sum[:, None], square_of_sum_out, sum_of_squares_out)

    def extra_repr(self):
        c, t = self.salient.shape[1:]
        return f"n_groups={self.n_groups}, n_channels={c}, n_timepoints={t}, combinations={self.combinations}"
