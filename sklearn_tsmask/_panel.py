"""Conversion between the panel containers users pass and the internal tensor.

Every explainer works on one internal representation: a floating
``torch.Tensor`` of shape ``(n_instances, n_channels, n_timepoints)`` (sktime's
``numpy3D`` layout). This module is the only place that knows about the
containers accepted at the public surface and converts results back into the
container the user gave, so estimators never deal with formats themselves.

Accepted containers
-------------------
* ``numpy.ndarray`` (sktime's ``numpy3D``, or anything :func:`numpy.asarray`
  understands, such as a nested list or a plain 2D :class:`pandas.DataFrame`)
  of shape ``(N, C, T)`` or ``(N, T)``; a 2D input is a panel of univariate
  series. Results are numpy arrays of the same shape.
* ``torch.Tensor`` of the same shapes; results are returned as tensors on the
  input's device.
* sktime's ``pd-multiindex``: a :class:`pandas.DataFrame` whose row index is a
  2-level :class:`pandas.MultiIndex` ``(instance, time point)``, one column per
  channel. Results are DataFrames with the identical index and columns.
* sktime's ``nested_univ``: a :class:`pandas.DataFrame` with one row per
  instance and one column per channel, each cell a :class:`pandas.Series` of
  the channel's values over time. Results are DataFrames of Series with the
  same index, columns and Series indices.
* sktime's ``df-list``: a ``list`` of :class:`pandas.DataFrame`, one per
  instance, each of shape ``(T, C)`` (rows = time points, columns =
  channels). Results are lists of DataFrames with the same indices and
  columns.
* aeon's list of 2D arrays ``(C, T_i)`` (``np-list``): read by
  :func:`to_panel` only; results are lists of arrays.

The pandas containers are recognised with pandas alone (sktime is not needed).
Their series must be complete (no missing values) and numeric. :func:`to_tensor`
needs series of equal length observed at the same time points (equal time
index values for every instance and channel); :func:`to_panel`, used by the
explainers, also reads ``df-list``, ``nested_univ`` and aeon's lists of series
of unequal lengths, as one tensor per series. In a ``pd-multiindex`` panel the
time axis of the tensor is those time points in increasing order, whatever the
order of the rows.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
import torch
from sklearn.utils.validation import check_array

__all__ = ["PanelFormat", "to_tensor", "to_panel", "from_tensor", "to_numpy3d"]

_LAYOUT_HELP = (
    "expected a panel of shape (n_instances, n_channels, n_timepoints) "
    "(sktime's numpy3D), (n_instances, n_timepoints) for univariate series, "
    "or one of sktime's pd-multiindex, nested_univ or df-list pandas panels"
)

_EQUAL_LENGTH_HELP = (
    "this needs equal-length series (DynaMask and ExtremalMask explain series of unequal lengths given as "
    "a df-list, a nested_univ panel or a list of 2D arrays, and the metrics measure them; pd-multiindex "
    "panels need one length); make them equal first, e.g. with sktime's PaddingTransformer "
    "(sktime.transformations.panel.padder) or TSInterpolator (sktime.transformations.panel.interpolate)"
)

_EQUAL_INDEX_HELP = (
    "the explainers need every series observed at the same time points; "
    "re-index the series to common time points first (for instance 0..T-1)"
)

#: Containers described by a PanelFormat.
_CONTAINERS = ("numpy", "torch", "pd-multiindex", "nested_univ", "df-list", "np-list")


@dataclass(frozen=True)
class PanelFormat:
    """What is needed to return a result in the container of the input.

    Attributes
    ----------
    container : {"numpy", "torch", "pd-multiindex", "nested_univ", "df-list"}
        The input's container (the last three are sktime's pandas mtypes).
    ndim : {2, 3}
        The input's number of dimensions (2 = univariate panel given as a 2D
        array or tensor; 3 for every pandas container).
    dtype : numpy.dtype or torch.dtype
        Floating dtype of results: the input's when it is floating (for
        pandas, float32 when every column or cell is float32), else float64
        for numpy and pandas and float32 for torch.
    device : torch.device or None
        The device of a torch input.
    index : pandas.Index or None
        Row index of a pandas DataFrame result: the ``(instance, time point)``
        MultiIndex (``pd-multiindex``) or the instance labels
        (``nested_univ``).
    columns : pandas.Index or None
        Channel names (the columns of the pandas DataFrames).
    time_index : tuple of pandas.Index or None
        ``nested_univ`` and ``df-list``: each instance's time index (the index
        of its Series or DataFrame), in instance order.
    positions : numpy.ndarray of shape (N * T,) or None
        ``pd-multiindex``: for each row of the input, its flat position
        ``instance * T + time`` in the ``(N, T)`` grid.
    shape : tuple of int or None
        ``(N, C, T)`` of the input, for the pandas containers of equal-length
        series.
    lengths : tuple of int or None
        Each series' number of time points, for panels of unequal lengths
        (read by :func:`to_panel`) and aeon's lists of arrays.
    """

    container: str
    ndim: int
    dtype: object
    device: object = None
    index: object = field(default=None, repr=False, compare=False)
    columns: object = field(default=None, repr=False, compare=False)
    time_index: object = field(default=None, repr=False, compare=False)
    positions: object = field(default=None, repr=False, compare=False)
    shape: object = None
    lengths: object = field(default=None, compare=False)


# ------------------------------------------------------------ numpy / torch


def _check_shape(shape, name):
    if len(shape) not in (2, 3):
        hint = " Reshape your data: a single series is X[None] (one instance)." if len(shape) == 1 else ""
        raise ValueError(f"{name} has {len(shape)} dimension(s) with shape {tuple(shape)}: {_LAYOUT_HELP}.{hint}")
    if shape[0] == 0:
        raise ValueError(
            f"{name} is empty: it has 0 instances, 0 sample(s) (shape={tuple(shape)}) while a minimum of 1 is required."
        )
    if any(s == 0 for s in shape[1:]):
        raise ValueError(
            f"{name} has an empty channel or time axis: 0 feature(s) (shape={tuple(shape)}) while a minimum of 1 "
            f"is required; {_LAYOUT_HELP}."
        )


def _validate_numpy(X, name):
    if sparse.issparse(X):
        raise TypeError(
            f"{name} is a sparse {type(X).__name__}: sparse input is not supported, time-series panels are dense. "
            "Pass X.toarray()."
        )
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
        except (TypeError, ValueError) as exc:
            # keep numpy's exception type: TypeError for objects, ValueError for non-numeric strings
            raise type(exc)(f"{name} holds non-numeric values (dtype object): {exc}; {_LAYOUT_HELP}.") from None
    if arr.dtype.kind == "c":  # scikit-learn would print the whole array
        raise ValueError(f"Complex data not supported: {name} must hold real numbers, got an array of dtype {arr.dtype}.")
    if arr.dtype.kind in "USV":  # strings and bytes: scikit-learn would only say a value is not a float
        raise ValueError(f"{name} holds non-numeric values (dtype {arr.dtype}): a panel holds numbers.")
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


# ------------------------------------------------------------------ pandas


def _is_numeric(values):
    """Whether a pandas Series (a column or a nested cell) holds real numbers."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return True
    if pd.api.types.is_numeric_dtype(dtype):
        return not pd.api.types.is_complex_dtype(dtype)
    if dtype == object:
        kind = pd.api.types.infer_dtype(values, skipna=True)
        return kind in ("integer", "floating", "mixed-integer-float", "decimal", "boolean", "empty")
    return False


def _result_dtype(dtypes):
    """float32 if every pandas dtype is numpy's float32, else float64."""
    dtypes = list(dtypes)
    return np.dtype(np.float32) if dtypes and all(d == np.float32 for d in dtypes) else np.dtype(np.float64)


def _label(value):
    return repr(value.item() if isinstance(value, np.generic) else value)


def _check_finite(arr, name, fmt):
    """Raise if the float array ``arr`` converted from a ``fmt`` panel has NaN or infinity."""
    if np.isnan(arr).any():
        raise ValueError(
            f"Input {name} ({fmt}) contains NaN (missing values): the explainers need complete "
            "series; impute them first (e.g. with sktime's Imputer)."
        )
    if np.isinf(arr).any():
        raise ValueError(f"Input {name} ({fmt}) contains infinity.")


def _frame_values(df, name, fmt, where=""):
    """Numeric values of a DataFrame as float64 (rows, columns), NaN for missing."""
    for j, col in enumerate(df.columns):
        column = df.iloc[:, j]
        if not _is_numeric(column):
            raise ValueError(
                f"{name} ({fmt}) has a non-numeric column {col!r}{where} (dtype {column.dtype}); the explainers "
                "need real-valued series: encode or drop it first."
            )
    try:
        return df.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} ({fmt}) holds non-numeric values{where} ({exc}).") from None


def _nested_cell(df):
    """The first nested cell (Series, DataFrame, array or list) of a DataFrame's first row, or None."""
    if df.shape[0] == 0:
        return None
    for j, dtype in enumerate(df.dtypes):
        if dtype == object:
            cell = df.iat[0, j]
            if isinstance(cell, (pd.Series, pd.DataFrame, np.ndarray, list, tuple)):
                return cell
    return None


def _check_not_empty(n_instances, n_channels, n_timepoints, name, fmt):
    if n_instances == 0:
        raise ValueError(f"{name} ({fmt}) is empty: it has 0 instances.")
    if n_channels == 0 or n_timepoints == 0:
        raise ValueError(
            f"{name} ({fmt}) has an empty channel or time axis ({n_instances} instances, {n_channels} "
            f"channels, {n_timepoints} time points)."
        )


def _unequal_lengths(lengths, labels, name, fmt):
    lengths = np.asarray(lengths)
    i = int(np.flatnonzero(lengths != lengths[0])[0])
    raise ValueError(
        f"{name} ({fmt}) holds series of unequal lengths ({len(np.unique(lengths))} different lengths, "
        f"e.g. {lengths[0]} time points for instance {_label(labels[0])} and {lengths[i]} for instance "
        f"{_label(labels[i])}): {_EQUAL_LENGTH_HELP}."
    )


def _unequal_index(what, ref_label, name, fmt):
    raise ValueError(
        f"{name} ({fmt}) holds series that are not equally indexed: {what} has time points different from "
        f"those of {ref_label}: {_EQUAL_INDEX_HELP}."
    )


def _check_time_index(index, what, name, fmt):
    if index.has_duplicates:
        raise ValueError(f"{name} ({fmt}) has duplicate time points in {what}; time points must be distinct.")


def _from_multiindex(X, name):
    fmt = "pd-multiindex"
    idx = X.index
    if idx.nlevels != 2:
        raise ValueError(
            f"{name} has a row MultiIndex with {idx.nlevels} levels: pd-multiindex panels need exactly 2 "
            "levels (instance, time point); hierarchical panels are not supported."
        )
    if _nested_cell(X) is not None:
        raise ValueError(
            f"{name} has a row MultiIndex and nested cells: a pd-multiindex panel holds one number per cell "
            "(a nested_univ panel has one row per instance and a plain index)."
        )
    if not X.columns.is_unique:
        raise ValueError(f"{name} ({fmt}) has duplicate column names; channels must be named uniquely.")
    inst_labels = idx.get_level_values(0)
    times = idx.get_level_values(1)
    if inst_labels.hasnans or times.hasnans:
        raise ValueError(f"{name} ({fmt}) has missing values in its instance or time index.")
    inst_codes, instances = pd.factorize(inst_labels)  # order of first appearance, as sktime
    n, C = len(instances), X.shape[1]
    counts = np.bincount(inst_codes, minlength=n) if n else np.zeros(0, dtype=int)
    _check_not_empty(n, C, int(counts.max()) if n else 0, name, fmt)
    values = _frame_values(X, name, fmt)
    if (counts != counts[0]).any():
        _unequal_lengths(counts, instances, name, fmt)
    if idx.has_duplicates:
        raise ValueError(
            f"{name} ({fmt}) has duplicate (instance, time point) rows; each time point of an instance "
            "must appear once."
        )
    T = int(counts[0])
    # the time axis is the first instance's time points in increasing order (whatever the order of the
    # rows: a series is never permuted in time); the other instances are aligned to it
    reference = times[inst_codes == 0]
    if not reference.is_monotonic_increasing:
        try:
            reference = reference.sort_values()
        except TypeError:
            raise ValueError(
                f"{name} ({fmt}) has time points that cannot be ordered (mixed types): the series' time order "
                "is unknown."
            ) from None
    time_codes = reference.get_indexer(times)
    missing = time_codes < 0
    if missing.any():
        bad = instances[inst_codes[np.flatnonzero(missing)[0]]]
        _unequal_index(f"instance {_label(bad)}", f"instance {_label(instances[0])}", name, fmt)
    # equal counts, distinct (instance, time) pairs and every time in the reference:
    # each instance has each of the T time points exactly once
    positions = inst_codes.astype(np.int64) * T + time_codes
    _check_finite(values, name, fmt)
    grid = np.empty((n * T, C), dtype=np.float64)
    grid[positions] = values
    arr = grid.reshape(n, T, C).transpose(0, 2, 1)
    positions.setflags(write=False)
    return arr, PanelFormat(
        fmt,
        3,
        _result_dtype(X.dtypes),
        index=idx.copy(deep=True),
        columns=X.columns.copy(deep=True),
        positions=positions,
        shape=(n, C, T),
    )


def _from_nested(X, name, allow_ragged=False):
    fmt = "nested_univ"
    n, C = X.shape
    _check_not_empty(n, C, 1, name, fmt)
    if not X.columns.is_unique:
        raise ValueError(f"{name} ({fmt}) has duplicate column names; channels must be named uniquely.")
    cells = X.to_numpy(dtype=object)
    for i in range(n):
        for j in range(C):
            cell = cells[i, j]
            if not isinstance(cell, pd.Series):
                raise ValueError(
                    f"{name} looks like a nested_univ panel but its cell (row {_label(X.index[i])}, column "
                    f"{X.columns[j]!r}) is a {type(cell).__name__}, not a pandas Series: every cell of a "
                    "nested_univ panel must be a pandas Series (a channel's values over time)."
                )
    lengths = np.array([[len(cells[i, j]) for j in range(C)] for i in range(n)])
    if (lengths != lengths[0, 0]).any():
        i, j = np.argwhere(lengths != lengths[0, 0])[0]
        if (lengths[i] != lengths[i, 0]).any():  # channels of one instance differ
            raise ValueError(
                f"{name} ({fmt}) holds series of unequal lengths: in row {_label(X.index[i])}, column "
                f"{X.columns[0]!r} has {lengths[i, 0]} time points but column {X.columns[j]!r} has "
                f"{lengths[i, j]}: {_EQUAL_LENGTH_HELP}."
            )
        if not allow_ragged:
            _unequal_lengths(lengths[:, 0], X.index, name, fmt)
        return _from_nested_ragged(X, cells, lengths[:, 0], name)
    T = int(lengths[0, 0])
    _check_not_empty(n, C, T, name, fmt)
    reference = cells[0, 0].index
    _check_time_index(reference, f"row {_label(X.index[0])}", name, fmt)
    out = np.empty((n, C, T), dtype=np.float64)
    dtypes = []
    for i in range(n):
        for j in range(C):
            s = cells[i, j]
            where = f"row {_label(X.index[i])}, column {X.columns[j]!r}"
            if s.index is not reference and not s.index.equals(reference):
                _unequal_index(
                    f"the Series in {where}", f"the Series in row {_label(X.index[0])}, column {X.columns[0]!r}",
                    name, fmt,
                )
            if not _is_numeric(s):
                raise ValueError(
                    f"{name} ({fmt}) has a non-numeric Series in {where} (dtype {s.dtype}); the explainers need "
                    "real-valued series."
                )
            try:
                out[i, j] = s.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{name} ({fmt}) holds non-numeric values in {where} ({exc}).") from None
            dtypes.append(s.dtype)
    _check_finite(out, name, fmt)
    return out, PanelFormat(
        fmt,
        3,
        _result_dtype(dtypes),
        index=X.index.copy(deep=True),
        columns=X.columns.copy(deep=True),
        time_index=tuple(cells[i, 0].index.copy(deep=True) for i in range(n)),
        shape=(n, C, T),
    )


def _from_df_list(X, name, allow_ragged=False):
    fmt = "df-list"
    for i, df in enumerate(X):
        if not isinstance(df, pd.DataFrame):
            raise ValueError(
                f"{name} looks like a df-list panel but its element {i} is a {type(df).__name__}, not a "
                "pandas DataFrame: every element of a df-list panel must be a DataFrame (time points x channels)."
            )
    first = X[0]
    n, C = len(X), first.shape[1]
    _check_not_empty(n, C, first.shape[0], name, fmt)
    for i, df in enumerate(X):
        if not df.columns.equals(first.columns):
            raise ValueError(
                f"{name} ({fmt}): DataFrame {i} has columns {list(df.columns)} but DataFrame 0 has "
                f"{list(first.columns)}; every instance must have the same channels, in the same order."
            )
        if _nested_cell(df) is not None:
            raise ValueError(
                f"{name} ({fmt}): DataFrame {i} has nested cells; a df-list panel holds one number per cell."
            )
    if not first.columns.is_unique:
        raise ValueError(f"{name} ({fmt}) has duplicate column names; channels must be named uniquely.")
    lengths = [len(df) for df in X]
    if any(length != lengths[0] for length in lengths):
        if not allow_ragged:
            _unequal_lengths(lengths, range(n), name, fmt)
        return _from_df_list_ragged(X, lengths, name)
    T = lengths[0]
    _check_time_index(first.index, "DataFrame 0", name, fmt)
    out = np.empty((n, C, T), dtype=np.float64)
    dtypes = []
    for i, df in enumerate(X):
        if df.index is not first.index and not df.index.equals(first.index):
            _unequal_index(f"DataFrame {i}", "DataFrame 0", name, fmt)
        out[i] = _frame_values(df, name, fmt, where=f" in DataFrame {i}").T
        dtypes.extend(df.dtypes)
    _check_finite(out, name, fmt)
    return out, PanelFormat(
        fmt,
        3,
        _result_dtype(dtypes),
        columns=first.columns.copy(deep=True),
        time_index=tuple(df.index.copy(deep=True) for df in X),
        shape=(n, C, T),
    )


def _from_nested_ragged(X, cells, lengths, name):
    """A nested_univ panel of unequal lengths: a list of (C, T_i) float64 arrays and its PanelFormat."""
    fmt = "nested_univ"
    n, C = cells.shape
    arrays, dtypes = [], []
    for i in range(n):
        reference = cells[i, 0].index
        _check_time_index(reference, f"row {_label(X.index[i])}", name, fmt)
        out = np.empty((C, int(lengths[i])), dtype=np.float64)
        for j in range(C):
            s = cells[i, j]
            where = f"row {_label(X.index[i])}, column {X.columns[j]!r}"
            if s.index is not reference and not s.index.equals(reference):
                _unequal_index(f"the Series in {where}", f"the Series in column {X.columns[0]!r} of that row", name,
                               fmt)
            if not _is_numeric(s):
                raise ValueError(
                    f"{name} ({fmt}) has a non-numeric Series in {where} (dtype {s.dtype}); the explainers need "
                    "real-valued series."
                )
            out[j] = s.to_numpy(dtype=np.float64, na_value=np.nan)
            dtypes.append(s.dtype)
        _check_not_empty(n, C, out.shape[1], name, fmt)
        _check_finite(out, name, fmt)
        arrays.append(out)
    return arrays, PanelFormat(
        fmt, 3, _result_dtype(dtypes), index=X.index.copy(deep=True), columns=X.columns.copy(deep=True),
        time_index=tuple(cells[i, 0].index.copy(deep=True) for i in range(n)),
        lengths=tuple(int(t) for t in lengths),
    )


def _from_df_list_ragged(X, lengths, name):
    """A df-list panel of unequal lengths: a list of (C, T_i) float64 arrays and its PanelFormat."""
    fmt = "df-list"
    arrays, dtypes = [], []
    for i, df in enumerate(X):
        _check_not_empty(len(X), df.shape[1], len(df), name, fmt)
        _check_time_index(df.index, f"DataFrame {i}", name, fmt)
        out = _frame_values(df, name, fmt, where=f" in DataFrame {i}").T
        _check_finite(out, name, fmt)
        arrays.append(np.ascontiguousarray(out))
        dtypes.extend(df.dtypes)
    return arrays, PanelFormat(
        fmt, 3, _result_dtype(dtypes), columns=X[0].columns.copy(deep=True),
        time_index=tuple(df.index.copy(deep=True) for df in X), lengths=tuple(lengths),
    )


def _is_array_list(X):
    """aeon's panel of (possibly unequal-length) series: a list of 2D arrays (n_channels, n_timepoints_i)."""
    return (
        isinstance(X, (list, tuple)) and len(X) > 0 and all(isinstance(a, np.ndarray) for a in X)
        and all(a.ndim == 2 for a in X)
    )


def _from_array_list(X, name):
    """aeon's list of 2D arrays: a list of (C, T_i) float arrays and its PanelFormat."""
    fmt = "np-list"
    n_channels = X[0].shape[0]
    arrays = []
    for i, a in enumerate(X):
        if a.shape[0] != n_channels:
            raise ValueError(
                f"{name} (a list of arrays, aeon's unequal-length panel) has series with different numbers of "
                f"channels: array 0 has {n_channels} (its first axis) and array {i} has {a.shape[0]}; each array "
                "is one series of shape (n_channels, n_timepoints)."
            )
        arr, _ = _validate_numpy(a, f"{name}[{i}]")
        arrays.append(arr)
    dtype = np.dtype(np.float32) if all(a.dtype == np.float32 for a in X) else np.dtype(np.float64)
    return arrays, PanelFormat(fmt, 3, dtype, lengths=tuple(a.shape[1] for a in arrays))


def _read_pandas(X, name, allow_ragged=False):
    """``(array (N, C, T) float64, PanelFormat)`` for sktime's pandas panels, or None for other inputs.

    With ``allow_ragged``, a panel of unequal lengths is returned as a list of (C, T_i) arrays.
    """
    if isinstance(X, pd.DataFrame):
        if _nested_cell(X) is not None and not isinstance(X.index, pd.MultiIndex):
            return _from_nested(X, name, allow_ragged)
        if isinstance(X.index, pd.MultiIndex):
            return _from_multiindex(X, name)
        return None  # a plain 2D DataFrame: a univariate panel (N, T), read by numpy
    if isinstance(X, list) and X and any(isinstance(df, pd.DataFrame) for df in X):
        return _from_df_list(X, name, allow_ragged)
    return None


# ------------------------------------------------------------------ public


def to_tensor(X, *, dtype=torch.float32, device=None, name="X"):
    """Validate a panel and return it as a ``(N, C, T)`` tensor.

    The input is never modified: the result is always a new tensor, never
    sharing memory with the input (a model that writes into its input cannot
    reach the user's data).

    Parameters
    ----------
    X : array-like, torch.Tensor, pandas.DataFrame or list of pandas.DataFrame
        The panel, in one of the containers listed in the module docstring:
        an array or tensor of shape (N, C, T) or (N, T), or one of sktime's
        ``pd-multiindex``, ``nested_univ`` or ``df-list`` pandas panels.
    dtype : torch.dtype, default=torch.float32
        Dtype of the returned tensor.
    device : torch.device or None, default=None
        Device of the returned tensor; ``None`` keeps a tensor's device and
        puts numpy and pandas data on the CPU.
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
        numeric, or contains NaN or infinity; for pandas panels also if its
        series have unequal lengths or different time indices, if it has
        duplicate time points or channel names, or if it is malformed (a
        nested DataFrame whose cells are not all Series, a list mixing
        DataFrames and other objects, a row MultiIndex without 2 levels).
    """
    if isinstance(X, torch.Tensor):
        if X.is_meta:
            raise ValueError(f"{name} is a tensor on the 'meta' device: it holds no values to explain.")
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
        if t.untyped_storage().data_ptr() == X.untyped_storage().data_ptr():
            t = t.clone()  # never the user's storage: a model may write into its input
    else:
        read = _read_pandas(X, name)
        arr, fmt = read if read is not None else _validate_numpy(X, name)
        t = torch.tensor(np.ascontiguousarray(arr), dtype=dtype, device=device)  # always a copy (negative strides too)
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):  # finite before the cast: it overflowed
        raise ValueError(
            f"Input {name} has values too large for {dtype} (the model's precision): largest magnitude "
            f"{_largest_magnitude(X):.3g}, while {dtype} holds up to {torch.finfo(dtype).max:.3g}. "
            "Rescale the data (and the model with it), or use a model in a wider precision."
        )
    if t.ndim == 2:
        t = t.unsqueeze(1)
    return t, fmt


def to_panel(X, *, dtype=torch.float32, device=None, name="X"):
    """Validate a panel that may hold series of unequal lengths.

    Like :func:`to_tensor`, and also accepts aeon's list of 2D arrays
    ``(n_channels, n_timepoints_i)`` and sktime's ``df-list`` and
    ``nested_univ`` panels of unequal lengths.

    Returns
    -------
    series : torch.Tensor of shape (N, C, T), or list of N tensors of shape (C, T_i)
        One tensor when every series has the same length, else one tensor
        per series (new tensors, never sharing memory with ``X``).
    fmt : PanelFormat
        Description of the input's container, for :func:`from_tensor`.
    """
    if _is_array_list(X):
        arrays, fmt = _from_array_list(X, name)
    else:
        read = _read_pandas(X, name, allow_ragged=True) if isinstance(X, (pd.DataFrame, list)) else None
        if read is None or not isinstance(read[0], list):
            return to_tensor(X, dtype=dtype, device=device, name=name)
        arrays, fmt = read
    tensors = [torch.tensor(np.ascontiguousarray(a), dtype=dtype, device=device) for a in arrays]
    for a, t in zip(arrays, tensors):
        if not bool(torch.isfinite(t).all()):
            raise ValueError(
                f"Input {name} has values too large for {dtype} (the model's precision): largest magnitude "
                f"{float(np.abs(a).max()):.3g}, while {dtype} holds up to {torch.finfo(dtype).max:.3g}. "
                "Rescale the data (and the model with it), or use a model in a wider precision."
            )
    if len({t.shape[1] for t in tensors}) == 1:
        return torch.stack(tensors), fmt
    return tensors, fmt


def _largest_magnitude(X):
    """Largest finite magnitude of a panel in any container (for messages)."""
    if isinstance(X, torch.Tensor):
        return float(X.detach().abs().max())
    read = _read_pandas(X, "X")
    arr = read[0] if read is not None else np.asarray(X, dtype=float)
    return float(np.abs(arr).max())


def _check_result_shape(values, fmt):
    if fmt.shape is not None and tuple(values.shape) != tuple(fmt.shape):
        raise ValueError(
            f"Cannot return values of shape {tuple(values.shape)} as a {fmt.container} panel of shape "
            f"{tuple(fmt.shape)} (n_instances, n_channels, n_timepoints)."
        )


def from_tensor(values, fmt, *, owned=False):
    """Return ``values`` of shape (N, C, T) in the container described by ``fmt``.

    Parameters
    ----------
    values : torch.Tensor of shape (N, C, T)
        Result to convert (masks, for instance), shaped like the input that
        ``fmt`` describes.
    fmt : PanelFormat
        As returned by :func:`to_tensor` for the input.
    owned : bool, default=False
        The caller made ``values`` for this result and keeps no other
        reference to it: a numpy result of the same dtype then takes over
        its memory instead of copying it (one copy of the masks less at the
        peak, which grows with N).

    Returns
    -------
    numpy.ndarray, torch.Tensor, pandas.DataFrame or list of pandas.DataFrame
        In the container of the input: an array or tensor shaped ``(N, C, T)``
        (or ``(N, T)`` when the input was 2D); for the pandas panels, the
        same container with the input's instance labels, time indices and
        column names and float values. Never sharing memory with the input,
        nor with ``values`` unless it is ``owned``.
    """
    if fmt.lengths is not None:
        return _from_ragged(values, fmt)
    values = values.detach()
    if fmt.ndim == 2:
        values = values[:, 0, :]
    # Always a new object: results must not share memory with an estimator's
    # fitted state or cache, which the caller could then modify in place.
    if fmt.container == "torch":
        return values.to(device=fmt.device, dtype=fmt.dtype, copy=True)
    # owned: a contiguous CPU tensor of the right dtype is handed over (the array keeps its storage alive)
    arr = values.cpu().numpy().astype(fmt.dtype, copy=not owned)
    if fmt.container == "numpy":
        return arr
    _check_result_shape(arr, fmt)
    n, C, T = arr.shape
    if fmt.container == "pd-multiindex":
        rows = arr.transpose(0, 2, 1).reshape(n * T, C)[fmt.positions]
        return pd.DataFrame(rows, index=fmt.index.copy(deep=True), columns=fmt.columns.copy(deep=True))
    if fmt.container == "nested_univ":
        cells = np.empty((n, C), dtype=object)
        for i in range(n):
            time_index = fmt.time_index[i].copy(deep=True)
            for j in range(C):
                cells[i, j] = pd.Series(arr[i, j].copy(), index=time_index)
        return pd.DataFrame(cells, index=fmt.index.copy(deep=True), columns=fmt.columns.copy(deep=True))
    if fmt.container == "df-list":
        return [
            pd.DataFrame(arr[i].T.copy(), index=fmt.time_index[i].copy(deep=True), columns=fmt.columns.copy(deep=True))
            for i in range(n)
        ]
    raise ValueError(f"Unknown panel container {fmt.container!r}; expected one of {_CONTAINERS}.")


def _from_ragged(values, fmt):
    """Per-series values (a (N, C, T) tensor or a list of (C, T_i) tensors) in a list-like container."""
    arrays = [np.array(v.detach().cpu().numpy(), dtype=fmt.dtype, copy=True) for v in values]
    lengths = tuple(a.shape[1] for a in arrays)
    if lengths != tuple(fmt.lengths):
        raise ValueError(f"Cannot return series of lengths {lengths} as a panel of series of lengths {fmt.lengths}.")
    if fmt.container == "np-list":
        return arrays
    if fmt.container == "df-list":
        return [
            pd.DataFrame(a.T, index=fmt.time_index[i].copy(deep=True), columns=fmt.columns.copy(deep=True))
            for i, a in enumerate(arrays)
        ]
    if fmt.container == "nested_univ":
        cells = np.empty((len(arrays), arrays[0].shape[0]), dtype=object)
        for i, a in enumerate(arrays):
            time_index = fmt.time_index[i].copy(deep=True)
            for j in range(a.shape[0]):
                cells[i, j] = pd.Series(a[j].copy(), index=time_index)
        return pd.DataFrame(cells, index=fmt.index.copy(deep=True), columns=fmt.columns.copy(deep=True))
    raise ValueError(f"Unknown panel container {fmt.container!r} for series of unequal lengths.")


def to_numpy3d(A, *, name="array", allow_ragged=False):
    """Return a panel (any container :func:`to_tensor` accepts) as a float64 ``(N, C, T)`` array.

    Used by the metrics, which compare masks with true saliency in numpy.

    Parameters
    ----------
    A : array-like, torch.Tensor, pandas.DataFrame or list of pandas.DataFrame
        The panel: shape (N, C, T) or (N, T), or one of sktime's
        ``pd-multiindex``, ``nested_univ`` or ``df-list`` panels.
    name : str, default="array"
        Name used in error messages.
    allow_ragged : bool, default=False
        Also read the panels of unequal lengths :func:`to_panel` reads.

    Returns
    -------
    numpy.ndarray of shape (N, C, T), dtype float64, or list of N arrays of shape (C, T_i)
        The list only with ``allow_ragged``, for series of unequal lengths.
    """
    if isinstance(A, torch.Tensor):
        A = A.detach().cpu().numpy()
    if allow_ragged:
        series, _ = to_panel(A, dtype=torch.float64, name=name)
        return series.numpy() if isinstance(series, torch.Tensor) else [s.numpy() for s in series]
    t, _ = to_tensor(A, dtype=torch.float64, name=name)
    return t.numpy()
