"""sktime's pandas panel containers (pd-multiindex, nested_univ, df-list) <-> the internal tensor.

The pandas-only tests build the containers by hand; the tests marked with
``importorskip("sktime")`` check agreement with sktime's own converters and
checkers and skip when sktime is not installed.
"""

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from sklearn_tsmask._models import looks_like_model
from sklearn_tsmask._panel import from_tensor, to_numpy3d, to_tensor
from conftest import CallCounter, dynamask, make_spiky_panel

FORMATS = ["pd-multiindex", "nested_univ", "df-list"]

# ----------------------------------------------------------------- builders


def make_panel(n=4, c=3, t=5, seed=0):
    return np.random.RandomState(seed).randn(n, c, t)


def instance_labels(kind, n):
    assert n <= 8
    if kind == "str":
        return pd.Index([f"patient_{k}" for k in "qbzamxky"[:n]], name="patient")  # not sorted
    return pd.Index([10, 3, 7, 42, 5, 11, 8, 99][:n], name="id")  # non-contiguous, not sorted


def time_labels(kind, t):
    if kind == "datetime":
        return pd.date_range("2024-01-01 08:00", periods=t, freq="15min", name="when")
    return pd.Index(0.5 * np.arange(t) + 0.25, name="seconds")  # float time points


def channel_labels(c):
    return pd.Index(["acc_x", "acc_y", "gyro", "temp"][:c], name="sensor")


def to_multiindex(X, instances, times, columns):
    n, c, t = X.shape
    index = pd.MultiIndex.from_product([instances, times], names=[instances.name, times.name])
    return pd.DataFrame(X.transpose(0, 2, 1).reshape(n * t, c), index=index, columns=columns)


def to_nested(X, instances, times, columns):
    n, c, _ = X.shape
    cells = np.empty((n, c), dtype=object)
    for i in range(n):
        for j in range(c):
            cells[i, j] = pd.Series(X[i, j], index=times)
    return pd.DataFrame(cells, index=instances, columns=columns)


def to_df_list(X, instances, times, columns):
    return [pd.DataFrame(x.T, index=times, columns=columns) for x in X]


BUILDERS = {"pd-multiindex": to_multiindex, "nested_univ": to_nested, "df-list": to_df_list}


def build(fmt, X, instances="str", times="datetime"):
    n, c, t = X.shape
    return BUILDERS[fmt](X, instance_labels(instances, n), time_labels(times, t), channel_labels(c))


def assert_same_container(out, expected, fmt):
    """``out`` has exactly the container, labels and values of ``expected``."""
    if fmt == "pd-multiindex":
        pd.testing.assert_frame_equal(out, expected, check_exact=True)
    elif fmt == "df-list":
        assert isinstance(out, list) and len(out) == len(expected)
        for a, b in zip(out, expected):
            pd.testing.assert_frame_equal(a, b, check_exact=True)
    else:
        assert isinstance(out, pd.DataFrame)
        pd.testing.assert_index_equal(out.index, expected.index, exact=True)
        pd.testing.assert_index_equal(out.columns, expected.columns, exact=True)
        for i in range(expected.shape[0]):
            for j in range(expected.shape[1]):
                assert isinstance(out.iat[i, j], pd.Series)
                pd.testing.assert_series_equal(out.iat[i, j], expected.iat[i, j], check_exact=True)


def value_arrays(obj, fmt):
    """The numpy arrays holding a container's values (to check memory sharing)."""
    if fmt == "pd-multiindex":
        return [obj.to_numpy()]
    if fmt == "df-list":
        return [df.to_numpy() for df in obj]
    return [obj.iat[i, j].to_numpy() for i in range(obj.shape[0]) for j in range(obj.shape[1])]


# -------------------------------------------------------------- round trips


@pytest.mark.parametrize("times", ["datetime", "float"])
@pytest.mark.parametrize("instances", ["str", "int"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(fmt, instances, times):
    X = make_panel()
    data = build(fmt, X, instances, times)
    t, panel_format = to_tensor(data, dtype=torch.float64)
    assert panel_format.container == fmt and panel_format.ndim == 3
    assert t.shape == X.shape and t.dtype == torch.float64
    np.testing.assert_array_equal(t.numpy(), X)
    out = from_tensor(t, panel_format)
    assert_same_container(out, data, fmt)
    # a result is the input's container with the result's values
    assert_same_container(from_tensor(2 * t, panel_format), build(fmt, 2 * X, instances, times), fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_univariate_and_single_instance(fmt):
    X = make_panel(n=1, c=1, t=7)
    data = build(fmt, X)
    t, panel_format = to_tensor(data, dtype=torch.float64)
    assert t.shape == (1, 1, 7)
    np.testing.assert_array_equal(t.numpy(), X)
    assert_same_container(from_tensor(t, panel_format), data, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_result_dtype(fmt):
    X = make_panel()
    data32 = build(fmt, X.astype(np.float32))
    t, panel_format = to_tensor(data32)
    assert panel_format.dtype == np.float32
    assert_same_container(from_tensor(t, panel_format), data32, fmt)
    # integers in, float64 out
    Xi = np.round(10 * X)
    data_int = build(fmt, Xi.astype(np.int64))
    t, panel_format = to_tensor(data_int)
    assert panel_format.dtype == np.float64
    assert_same_container(from_tensor(t, panel_format), build(fmt, Xi), fmt)


def test_multiindex_rows_in_any_order():
    X = make_panel()
    data = build("pd-multiindex", X)
    shuffled = data.iloc[np.random.RandomState(1).permutation(len(data))]
    t, panel_format = to_tensor(shuffled, dtype=torch.float64)
    # instances in order of first appearance, time points in increasing order (never the rows' order:
    # a series is not permuted in time)
    first = shuffled.index.get_level_values(0).unique()
    times = shuffled.loc[first[0]].index.sort_values()
    assert not shuffled.loc[first[0]].index.is_monotonic_increasing  # the case that used to permute
    expected = np.stack([shuffled.loc[i].loc[times].to_numpy().T for i in first])
    np.testing.assert_array_equal(t.numpy(), expected)
    out = from_tensor(t, panel_format)
    pd.testing.assert_frame_equal(out, shuffled, check_exact=True)  # the identical (shuffled) index


def test_multiindex_nullable_and_mixed_numeric_columns():
    X = make_panel(c=3)
    data = build("pd-multiindex", X)
    data["acc_x"] = data["acc_x"].astype("Float64")
    data["gyro"] = (data["gyro"] > 0).astype(bool)
    t, panel_format = to_tensor(data, dtype=torch.float64)
    np.testing.assert_array_equal(t[:, 0].numpy(), X[:, 0])
    np.testing.assert_array_equal(t[:, 2].numpy(), (X[:, 2] > 0).astype(float))
    out = from_tensor(t, panel_format)
    assert (out.dtypes == np.float64).all()
    pd.testing.assert_index_equal(out.index, data.index, exact=True)


@pytest.mark.parametrize("fmt", FORMATS)
def test_input_never_modified_and_results_own_memory(fmt):
    X = make_panel()
    data = build(fmt, X)
    before = copy.deepcopy(data)
    t, panel_format = to_tensor(data, dtype=torch.float64)
    out = from_tensor(t, panel_format)
    t += 1.0  # the tensor is a copy of the input; the result is a copy of the tensor
    assert_same_container(data, before, fmt)
    assert_same_container(out, before, fmt)
    for a in value_arrays(out, fmt):
        assert not any(np.shares_memory(a, b) for b in value_arrays(data, fmt))
    if fmt != "df-list":
        assert out.index is not data.index and out.columns is not data.columns


def test_plain_2d_dataframe_is_still_a_univariate_panel():
    A = np.arange(12.0).reshape(3, 4)
    df = pd.DataFrame(A, index=["a", "b", "c"], columns=[10, 20, 30, 40])
    t, panel_format = to_tensor(df, dtype=torch.float64)
    assert panel_format.container == "numpy" and panel_format.ndim == 2
    assert t.shape == (3, 1, 4)
    out = from_tensor(t, panel_format)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, A)


@pytest.mark.parametrize("fmt", FORMATS)
def test_to_numpy3d_reads_pandas_panels(fmt):
    X = make_panel()
    out = to_numpy3d(build(fmt, X))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, X)


# ------------------------------------------------------------------- errors


def unequal_lengths(fmt):
    X = make_panel()
    data = build(fmt, X)
    if fmt == "pd-multiindex":
        return data.drop(index=data.index[-1])
    if fmt == "nested_univ":
        data = data.copy()
        for j in range(data.shape[1]):
            data.iat[1, j] = data.iat[1, j].iloc[:-2]
        return data
    return [data[0], data[1].iloc[:-1], *data[2:]]


@pytest.mark.parametrize("fmt", FORMATS)
def test_unequal_lengths(fmt):
    with pytest.raises(ValueError, match=r"(?s)unequal lengths.*equal-length series.*PaddingTransformer"):
        to_tensor(unequal_lengths(fmt))


def test_nested_cells_of_different_lengths_in_one_instance():
    data = build("nested_univ", make_panel()).copy()
    data.iat[2, 1] = data.iat[2, 1].iloc[:3]
    with pytest.raises(ValueError, match=r"(?s)nested_univ.*unequal lengths.*'patient_z'.*'acc_y'.*equal-length"):
        to_tensor(data)


def with_nan(fmt):
    X = make_panel()
    X[1, 2, 3] = np.nan
    return build(fmt, X)


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_values(fmt):
    with pytest.raises(ValueError, match=rf"(?s)X \({fmt}\) contains NaN"):
        to_tensor(with_nan(fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_infinity(fmt):
    X = make_panel()
    X[0, 0, 0] = -np.inf
    with pytest.raises(ValueError, match=rf"\({fmt}\) contains infinity"):
        to_tensor(build(fmt, X))


def non_numeric(fmt):
    X = make_panel()
    data = build(fmt, X)
    if fmt == "pd-multiindex":
        data = data.copy()
        data["acc_y"] = "high"
    elif fmt == "nested_univ":
        data = data.copy()
        data.iat[0, 1] = pd.Series(["a"] * X.shape[2], index=data.iat[0, 1].index)
    else:
        data = [df.assign(acc_y=df["acc_y"].astype(str)) for df in data]
    return data


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_numeric(fmt):
    with pytest.raises(ValueError, match=rf"(?s){fmt}.*non-numeric"):
        to_tensor(non_numeric(fmt))


def not_equally_indexed(fmt):
    X = make_panel()
    data = build(fmt, X)
    if fmt == "pd-multiindex":
        inst = data.index.get_level_values(0)
        times = data.index.get_level_values(1).to_numpy().copy()
        times[inst == inst[-1]] += np.timedelta64(1, "h")
        data = data.set_axis(pd.MultiIndex.from_arrays([inst, times]), axis=0)
    elif fmt == "nested_univ":
        data = data.copy()
        s = data.iat[2, 1]
        data.iat[2, 1] = pd.Series(s.to_numpy(), index=s.index + pd.Timedelta("1h"))
    else:
        data = [*data[:-1], data[-1].set_axis(data[-1].index + pd.Timedelta("1h"), axis=0)]
    return data


@pytest.mark.parametrize("fmt", FORMATS)
def test_not_equally_indexed(fmt):
    with pytest.raises(ValueError, match=rf"(?s){fmt}.*not equally indexed.*same time points"):
        to_tensor(not_equally_indexed(fmt))


@pytest.mark.parametrize(
    "make, match",
    [
        # a duplicate (instance, time point) row, with every instance of the same length
        (lambda d: d.set_axis(d.index[[0, 0, *range(2, len(d))]], axis=0), "duplicate"),
        (
            lambda d: d.set_axis(
                pd.MultiIndex.from_arrays([d.index.get_level_values(0)] * 2 + [d.index.get_level_values(1)]), axis=0
            ),
            "2 levels",
        ),
        (lambda d: d.iloc[:0], "empty"),
        (lambda d: d.iloc[:, :0], "empty"),
        (lambda d: d.set_axis(["a", "a", "b"], axis=1), "duplicate column"),
    ],
)
def test_invalid_multiindex(make, match):
    with pytest.raises(ValueError, match=match):
        to_tensor(make(build("pd-multiindex", make_panel())))


def test_multiindex_with_nested_cells():
    nested = build("nested_univ", make_panel())
    nested.index = pd.MultiIndex.from_arrays([nested.index, np.arange(len(nested))])
    with pytest.raises(ValueError, match="nested cells"):
        to_tensor(nested)


def test_nested_with_a_cell_that_is_not_a_series():
    data = build("nested_univ", make_panel()).copy()
    data.iat[1, 2] = data.iat[1, 2].to_numpy()
    with pytest.raises(ValueError, match=r"(?s)cell \(row 'patient_b', column 'gyro'\) is a ndarray.*pandas Series"):
        to_tensor(data)


def test_nested_with_a_primitive_column():
    data = build("nested_univ", make_panel())
    data = data.assign(age=np.arange(len(data), dtype=float))
    with pytest.raises(ValueError, match="must be a pandas Series"):
        to_tensor(data)


def test_nested_empty_series():
    data = build("nested_univ", make_panel()).copy()
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            data.iat[i, j] = data.iat[i, j].iloc[:0]
    with pytest.raises(ValueError, match="empty"):
        to_tensor(data)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda dfs: [dfs[0], dfs[1].to_numpy(), *dfs[2:]], r"element 1 is a ndarray, not a pandas DataFrame"),
        (lambda dfs: [dfs[0], dfs[1].rename(columns={"gyro": "mag"}), *dfs[2:]], "same channels"),
        (lambda dfs: [dfs[0], dfs[1][["acc_y", "acc_x", "gyro"]], *dfs[2:]], "same channels"),
        (lambda dfs: [df.iloc[:0] for df in dfs], "empty"),
        (lambda dfs: [df.set_axis(np.zeros(len(df)), axis=0) for df in dfs], "duplicate time points"),
    ],
)
def test_invalid_df_list(make, match):
    with pytest.raises(ValueError, match=match):
        to_tensor(make(build("df-list", make_panel())))


def test_name_appears_in_pandas_errors():
    with pytest.raises(ValueError, match=r"true_saliency \(df-list\)"):
        to_tensor(unequal_lengths("df-list"), name="true_saliency")


def test_from_tensor_checks_shape():
    data = build("pd-multiindex", make_panel())
    t, panel_format = to_tensor(data)
    with pytest.raises(ValueError, match="shape"):
        from_tensor(t[:, :2], panel_format)


# ------------------------------------------------------------------- sktime


MTYPES = ["pd-multiindex", "nested_univ", "df-list", "numpy3D"]


@pytest.mark.parametrize("mtype", MTYPES)
def test_agrees_with_sktime_converters(mtype):
    datatypes = pytest.importorskip("sktime.datatypes")
    X = make_panel()
    data = datatypes.convert_to(X, to_type=mtype)
    assert datatypes.check_is_mtype(data, mtype, return_metadata=False)
    t, panel_format = to_tensor(data, dtype=torch.float64)
    np.testing.assert_array_equal(t.numpy(), X)
    out = from_tensor(t * 0.5, panel_format)
    assert datatypes.check_is_mtype(out, mtype, return_metadata=False)
    np.testing.assert_array_equal(datatypes.convert_to(out, to_type="numpy3D"), 0.5 * X)


@pytest.mark.parametrize("fmt", FORMATS)
def test_hand_built_panels_are_valid_sktime_mtypes(fmt):
    datatypes = pytest.importorskip("sktime.datatypes")
    X = make_panel()
    data = build(fmt, X, instances="int", times="datetime")
    assert datatypes.check_is_mtype(data, fmt, return_metadata=False)
    t, panel_format = to_tensor(data, dtype=torch.float64)
    np.testing.assert_array_equal(t.numpy(), datatypes.convert_to(data, to_type="numpy3D"))
    assert datatypes.check_is_mtype(from_tensor(t, panel_format), fmt, return_metadata=False)


@pytest.fixture(scope="module")
def basic_motions():
    datasets = pytest.importorskip("sktime.datasets")
    X3, y = datasets.load_basic_motions(return_type="numpy3D")
    return datasets, X3, y


@pytest.mark.parametrize("return_type", ["pd-multiindex", "nested_univ"])
def test_sktime_basic_motions(basic_motions, return_type):
    datasets, X3, _ = basic_motions
    X, y = datasets.load_basic_motions(return_type=return_type)
    t, panel_format = to_tensor(X, dtype=torch.float64)
    assert t.shape == (len(X3), 6, 100) == X3.shape
    np.testing.assert_array_equal(t.numpy(), X3)
    assert panel_format.container == return_type
    assert_same_container(from_tensor(t, panel_format), X, return_type)


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def numpy_masks():
    X, _ = make_spiky_panel(0)
    return X, dynamask(max_iter=5).fit_transform(X, CallCounter())


@pytest.mark.parametrize("fmt", FORMATS)
def test_dynamask_on_each_format(numpy_masks, fmt):
    X, expected = numpy_masks
    data = build(fmt, X, instances="int")
    before = copy.deepcopy(data)
    est = dynamask(max_iter=5)
    masks = est.fit_transform(data, CallCounter())
    assert_same_container(data, before, fmt)
    assert_same_container(masks, build(fmt, expected, instances="int"), fmt)
    np.testing.assert_array_equal(to_numpy3d(masks), expected)
    # transform optimises again, deterministically: the same masks, in the container of the data it is given
    again = est.transform(data)
    assert_same_container(again, masks, fmt)
    np.testing.assert_array_equal(to_numpy3d(again), expected)


@pytest.mark.parametrize("fmt", FORMATS)
def test_transform_returns_the_container_it_is_given(numpy_masks, fmt):
    X, expected = numpy_masks
    est = dynamask(max_iter=5).fit(X, CallCounter())
    masks = est.transform(build(fmt, X))
    assert_same_container(masks, build(fmt, expected), fmt)


@pytest.mark.parametrize(
    "y",
    [
        np.array(["walking", "running", "standing", "badminton", "walking", "running"]),
        pd.Series(["a", "b", "a", "b", "a", "b"], index=list("uvwxyz"), name="label"),
        pd.Series(["a", "b", "a", "b", "a", "b"], dtype="category"),
        ["a", "b", "a", "b", "a", "b"],
        np.array([0, 1, 0, 1, 0, 1]),
    ],
    ids=["numpy-str", "series-str", "series-category", "list-str", "numpy-int"],
)
def test_string_class_labels_as_y_are_ignored(numpy_masks, y):
    X, expected = numpy_masks
    assert not looks_like_model(y)
    data = build("pd-multiindex", X)
    y_before = copy.deepcopy(y)
    masks = dynamask(max_iter=5).fit_transform(data, y, model=CallCounter())
    np.testing.assert_array_equal(to_numpy3d(masks), expected)
    est = dynamask(max_iter=5).fit(X, y, model=CallCounter())
    np.testing.assert_array_equal(est.transform(X), expected)
    if isinstance(y, (pd.Series, np.ndarray)):
        assert (np.asarray(y) == np.asarray(y_before)).all()


def test_string_labels_in_a_pipeline(numpy_masks):
    from sklearn.pipeline import Pipeline

    X, expected = numpy_masks
    data = build("df-list", X)
    y = np.array(["a", "b"] * 3)
    est = dynamask(max_iter=5, model=CallCounter())
    masks = Pipeline([("explain", est)]).fit_transform(data, y)
    assert isinstance(masks, list) and len(masks) == len(X)
    np.testing.assert_array_equal(to_numpy3d(masks), expected)

