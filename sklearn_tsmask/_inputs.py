"""Series bundled with the per-series inputs their model needs besides them.

Some black boxes take more than the series: group ids, static covariates, a
patient's age. Those inputs are not explained (never masked) but they belong
to their series, so cross-validation must split them with ``X``.
:class:`WithInputs` carries them inside ``X``: scikit-learn indexes it like an
array, so ``GridSearchCV``, ``cross_validate`` and ``Pipeline`` hand every fold
its own rows, with metadata routing on or off, and the scorers' ``transform``
receives them as part of the test fold.
"""

import numbers

import numpy as np
import pandas as pd
import torch

__all__ = ["WithInputs"]


def _n_instances(X):
    """Number of series of a panel in any accepted container."""
    if isinstance(X, pd.DataFrame) and isinstance(X.index, pd.MultiIndex):
        return int(X.index.get_level_values(0).unique().size)
    if isinstance(X, (np.ndarray, torch.Tensor, pd.DataFrame, list, tuple)):
        return len(X)
    if hasattr(X, "shape") and len(X.shape) > 0:  # dask arrays: never computed here
        if isinstance(X.shape[0], float) and np.isnan(X.shape[0]):
            raise ValueError(
                "X has unknown chunk sizes along its first axis; call X.compute_chunk_sizes() first: the model "
                "inputs are matched to its series by position."
            )
        return int(X.shape[0])
    arr = np.asarray(X)
    if arr.ndim == 0:
        raise ValueError(f"X must be a panel of series, got a scalar {X!r}.")
    return int(arr.shape[0])


def _take_series(X, rows):
    """The series ``rows`` (an integer array) of a panel, in the same container."""
    if isinstance(X, torch.Tensor):
        return X[torch.as_tensor(rows, dtype=torch.long, device=X.device)]
    if isinstance(X, pd.DataFrame):
        if isinstance(X.index, pd.MultiIndex):
            labels = X.index.get_level_values(0).unique()[rows]
            return X.loc[X.index.get_level_values(0).isin(labels)].reindex(labels, level=0)
        return X.iloc[rows]
    if isinstance(X, (list, tuple)):
        return [X[i] for i in rows]
    return np.asarray(X)[rows]


def _take_input(value, rows):
    if isinstance(value, torch.Tensor):
        return value[torch.as_tensor(rows, dtype=torch.long, device=value.device)]
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.iloc[rows]
    return np.asarray(value)[rows]


def _rows_of(key, n):
    """Integer positions selected by an index key (int array, boolean mask, slice, list, int)."""
    if isinstance(key, tuple):  # scikit-learn indexes arrays as X[key, ...]
        if len(key) == 2 and key[1] is Ellipsis:
            key = key[0]
        else:
            raise IndexError("WithInputs is indexed along its series only, e.g. panel[rows].")
    if isinstance(key, slice):
        return np.arange(n)[key]
    if isinstance(key, numbers.Integral):
        raise IndexError("WithInputs is indexed by arrays of rows or slices, which keep the panel a panel.")
    rows = key.cpu().numpy() if isinstance(key, torch.Tensor) else np.asarray(key)
    if rows.dtype == bool:
        if rows.shape != (n,):
            raise IndexError(f"a boolean index must have one value per series ({n}), got shape {rows.shape}.")
        return np.flatnonzero(rows)
    if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
        raise IndexError(f"WithInputs must be indexed by a 1D array of integer rows or booleans, got {key!r}.")
    return rows


class WithInputs:
    """Series to explain bundled with the per-series inputs of the model.

    Pass it wherever ``X`` goes (``fit``, ``transform``, ``fit_transform``,
    ``GridSearchCV.fit``, ``cross_validate``, the fidelity metrics): the
    series are explained and the named inputs are passed to the model as
    keyword arguments, one row per series, never masked. scikit-learn splits
    it like an array, so every fold gets the inputs of its own series.

    Parameters
    ----------
    X : array-like, torch.Tensor or sktime panel of shape (n_instances, n_channels, n_timepoints)
        The series, in any container the explainers accept.
    **inputs : array-like or torch.Tensor
        The model's other inputs by keyword, each with first axis
        ``n_instances`` (group ids, static covariates).

    Attributes
    ----------
    X : object
        The series, as given.
    inputs : dict of str to array-like
        The per-series inputs, as given.
    shape : tuple of int
        ``(n_instances,)``: how scikit-learn counts the samples.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_tsmask import WithInputs
    >>> X = np.zeros((6, 2, 5))
    >>> panel = WithInputs(X, groups=np.array([0, 0, 0, 1, 1, 1]))
    >>> len(panel), panel.shape
    (6, (6,))
    >>> fold = panel[np.array([1, 4])]  # how cross-validation takes its rows
    >>> fold.X.shape, fold.inputs["groups"].tolist()
    ((2, 2, 5), [0, 1])
    """

    def __init__(self, X, **inputs):
        if isinstance(X, WithInputs):
            raise TypeError("X is already a WithInputs; add the inputs to it instead of nesting.")
        if not inputs:
            raise ValueError("WithInputs needs at least one per-series model input, e.g. WithInputs(X, groups=g).")
        n = _n_instances(X)
        for name, value in inputs.items():
            shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
            if len(shape) == 0 or shape[0] != n:
                raise ValueError(
                    f"the model input {name!r} must have one row per series ({n}), got shape {tuple(shape)}."
                )
        self.X = X
        self.inputs = dict(inputs)
        self._n = n

    @property
    def shape(self):
        return (self._n,)

    def __len__(self):
        return self._n

    def __getitem__(self, key):
        rows = _rows_of(key, self._n)
        return WithInputs(_take_series(self.X, rows), **{k: _take_input(v, rows) for k, v in self.inputs.items()})

    def __repr__(self):
        return f"WithInputs(<{self._n} series>, {', '.join(self.inputs)})"


def split_inputs(X):
    """``(series, inputs)`` of ``X``: the bundled inputs of a :class:`WithInputs`, else none."""
    if isinstance(X, WithInputs):
        return X.X, X.inputs
    return X, {}
