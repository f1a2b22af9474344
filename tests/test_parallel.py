"""explain_in_chunks on a local Dask cluster of worker processes, and GridSearchCV on it."""

import numpy as np
import pytest
import torch

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import dask  # noqa: E402
import joblib  # noqa: E402
from sklearn.base import BaseEstimator, TransformerMixin  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402

from sklearn_tsmask import ContraLSP, DynaMask, ExtremalMask, WithInputs  # noqa: E402
from sklearn_tsmask.datasets import RareWhiteBox, make_rare_feature  # noqa: E402
from sklearn_tsmask.metrics import SALIENCY_SCORING  # noqa: E402
from sklearn_tsmask.parallel import explain_in_chunks  # noqa: E402
from conftest import SALIENT, SALIENT_AREA, dynamask, make_spiky_panel  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes: everything sent to them is pickled."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    # not the default client: the other tests of the session keep dask's local scheduler
    client = distributed.Client(cluster, set_as_default=False)
    client.wait_for_workers(2)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def fitted():
    """DynaMask fitted on 6 spiky series; 7 new series (not the fitted ones) to explain."""
    X, _ = make_spiky_panel(0, n=6)
    X_new, _ = make_spiky_panel(1, n=7)
    white_box = RareWhiteBox(SALIENT.astype(np.float32))
    explainer = dynamask(area=[SALIENT_AREA, 0.3], max_iter=40).fit(X, white_box)
    return explainer, X_new, explainer.transform(X_new)


@pytest.fixture(scope="module")
def diffgroups():
    """DiffGroups panel with interleaved groups, so that a wrongly sliced ``groups`` changes the masks."""
    X, _, white_box, groups = make_rare_feature(
        n_samples=8, n_timepoints=10, n_channels=3, n_salient=1, salient_window=(2, 5),
        diffgroups=True, return_groups=True, random_state=0,
    )
    order = np.random.RandomState(0).permutation(len(X))
    X, groups = X[order], groups[order]
    explainer = dynamask(area=0.1, max_iter=30).fit(WithInputs(X, groups=groups), white_box)
    X_new = X[::-1] + 0.05  # new series: transform optimises them
    groups_new = groups[::-1].copy()
    expected = explainer.transform(WithInputs(X_new, groups=groups_new))
    return explainer, X_new, groups_new, expected


# ---------------------------------------------------------------- in memory


@pytest.mark.parametrize("chunk_size", [1, 3, 100])
def test_chunks_on_worker_processes_equal_local_transform(client, fitted, chunk_size):
    explainer, X_new, expected = fitted
    masks = explain_in_chunks(explainer, X_new, chunk_size=chunk_size, client=client)
    assert isinstance(masks, np.ndarray) and masks.dtype == X_new.dtype and masks.shape == X_new.shape
    np.testing.assert_allclose(masks, expected, atol=1e-6)


def test_default_scheduler_without_client(fitted):
    explainer, X_new, expected = fitted
    threads = torch.get_num_threads()
    for scheduler in ("sync", "threads"):
        with dask.config.set(scheduler=scheduler):
            masks = explain_in_chunks(explainer, X_new, chunk_size=2)
        np.testing.assert_allclose(masks, expected, atol=1e-6)
    assert torch.get_num_threads() == threads  # the tasks' thread limit is undone


def test_torch_input_returns_tensor(client, fitted):
    explainer, X_new, expected = fitted
    x = torch.tensor(X_new, dtype=torch.float32)
    masks = explain_in_chunks(explainer, x, chunk_size=4, client=client)
    assert isinstance(masks, torch.Tensor) and masks.dtype == torch.float32 and masks.shape == x.shape
    np.testing.assert_allclose(masks.numpy(), expected, atol=1e-6)


def test_univariate_panel_keeps_its_layout(client):
    rng = np.random.RandomState(0)
    X = rng.randn(5, 12)
    salient = np.zeros((1, 12), dtype=np.float32)
    salient[0, [2, 7]] = 1
    explainer = DynaMask(area=0.2, max_iter=20, device="cpu", random_state=0).fit(X[:2], RareWhiteBox(salient))
    masks = explain_in_chunks(explainer, X, chunk_size=2, client=client)
    assert masks.shape == (5, 12)
    np.testing.assert_allclose(masks, explainer.transform(X), atol=1e-6)


def test_model_inputs_are_sliced_with_the_chunks(client, diffgroups):
    explainer, X_new, groups, expected = diffgroups
    # the check is sensitive: other groups give other masks
    other = explainer.transform(WithInputs(X_new, groups=np.sort(groups)))
    assert not np.allclose(other, expected, atol=1e-3)
    masks = explain_in_chunks(explainer, WithInputs(X_new, groups=groups), chunk_size=3, client=client)
    assert isinstance(masks, np.ndarray) and masks.shape == X_new.shape
    np.testing.assert_allclose(masks, expected, atol=1e-6)
    masks = explain_in_chunks(explainer, WithInputs(X_new, groups=torch.tensor(groups)), chunk_size=3)
    np.testing.assert_allclose(masks, expected, atol=1e-6)
    # series in a tensor: masks come back as a tensor
    x = torch.tensor(X_new)
    masks = explain_in_chunks(explainer, WithInputs(x, groups=torch.tensor(groups)), chunk_size=3, client=client)
    assert isinstance(masks, torch.Tensor) and masks.shape == x.shape
    np.testing.assert_allclose(masks.numpy(), expected, atol=1e-6)


# ------------------------------------------------------------- dask arrays


def test_dask_array_gives_a_lazy_dask_array_of_the_same_masks(client, fitted):
    explainer, X_new, expected = fitted
    X = da.from_array(X_new, chunks=(3, 2, 8))  # also chunked along channels and time
    lazy = explain_in_chunks(explainer, X)
    assert isinstance(lazy, da.Array)
    assert lazy.shape == X_new.shape and lazy.dtype == X_new.dtype
    assert lazy.chunks == ((3, 3, 1), (X_new.shape[1],), (X_new.shape[2],))  # one task per block of series
    np.testing.assert_allclose(client.compute(lazy).result(), expected, atol=1e-6)
    rechunked = explain_in_chunks(explainer, X, chunk_size=2)
    assert rechunked.chunks[0] == (2, 2, 2, 1)
    with dask.config.set(scheduler="sync"):
        np.testing.assert_allclose(rechunked.compute(), expected, atol=1e-6)


def test_dask_array_is_not_computed_before_asked():
    class Exploding(TransformerMixin, BaseEstimator):
        def fit(self, X, y=None):
            self.fitted_ = True
            return self

        def transform(self, X):
            raise AssertionError("computed eagerly")

    X = da.zeros((4, 2, 5), chunks=(2, 2, 5))
    lazy = explain_in_chunks(Exploding().fit(None), X)
    assert lazy.shape == (4, 2, 5)
    with pytest.raises(AssertionError, match="eagerly"), dask.config.set(scheduler="sync"):
        lazy.compute()


def test_dask_array_with_model_inputs(client, diffgroups):
    explainer, X_new, groups, expected = diffgroups
    X = da.from_array(X_new, chunks=(3, -1, -1))
    for g in (groups, da.from_array(groups, chunks=5)):  # numpy, or a dask array chunked differently
        lazy = explain_in_chunks(explainer, WithInputs(X, groups=g))
        assert isinstance(lazy, da.Array) and lazy.chunks[0] == (3, 3, 2)
        np.testing.assert_allclose(client.compute(lazy).result(), expected, atol=1e-6)


def test_dask_array_of_unknown_chunk_sizes_with_model_inputs(diffgroups):
    """Inputs are sliced along the chunks of X: unknown chunk sizes must be computed first, and the user told so."""
    explainer, X_new, groups, _ = diffgroups
    X = da.from_array(X_new, chunks=(3, -1, -1))
    X = X[X[:, 0, 0] > -np.inf]  # every series, but dask no longer knows how many per chunk
    assert np.isnan(X.shape[0])
    with pytest.raises(ValueError, match=r"unknown chunk sizes.*compute_chunk_sizes\(\)"):
        explain_in_chunks(explainer, WithInputs(X, groups=da.from_array(groups, chunks=3)))


# ------------------------------------------------------------------ threads


class ThreadProbe(TransformerMixin, BaseEstimator):
    """Masks filled with the number of torch threads the transform ran with."""

    def fit(self, X, y=None):
        self.fitted_ = True
        return self

    def transform(self, X):
        return torch.full(tuple(X.shape), float(torch.get_num_threads()))


@pytest.mark.parametrize("torch_threads", [1, 2, None])
def test_tasks_run_torch_with_the_given_number_of_threads(torch_threads):
    before = torch.get_num_threads()
    X = np.zeros((4, 1, 3))
    with dask.config.set(scheduler="sync"):  # in this thread, to read the setting back
        masks = explain_in_chunks(ThreadProbe().fit(X), X, chunk_size=2, torch_threads=torch_threads)
    assert np.all(masks == (before if torch_threads is None else torch_threads))
    assert torch.get_num_threads() == before


def test_worker_processes_start_with_one_openmp_thread(client):
    # dask's nannies set OMP_NUM_THREADS=1; the module docstring relies on it for grid searches
    assert set(client.run(torch.get_num_threads).values()) == {1}


# ------------------------------------------------------ chunk invariance


def _local(explainer, X, chunk_size):
    with dask.config.set(scheduler="sync"):
        return explain_in_chunks(explainer, X, chunk_size=chunk_size)


def test_extremal_mask_fine_tune_is_chunk_invariant_when_chunks_are_batches():
    """As documented: batches train their own network copy, so chunks must be whole batches."""
    X, _, white_box = make_rare_feature(
        n_samples=6, n_timepoints=10, n_channels=3, n_salient=1, salient_window=(2, 5), random_state=0
    )
    explainer = ExtremalMask(max_iter=15, batch_size=2, perturbation="bigru", tol=None, device="cpu",
                             random_state=0).fit(X, white_box)
    X_new = X + 0.05
    expected = explainer.transform(X_new)
    np.testing.assert_allclose(_local(explainer, X_new, 4), expected, atol=1e-6)
    assert not np.allclose(_local(explainer, X_new, 3), expected, atol=1e-4)


def test_contralsp_chunks_are_reproducible_but_not_one_transform():
    """As documented: each chunk restarts the noise generator."""
    X, _, white_box = make_rare_feature(
        n_samples=4, n_timepoints=10, n_channels=3, n_salient=1, salient_window=(2, 5), random_state=0
    )
    explainer = ContraLSP(max_iter=10, device="cpu", random_state=0).fit(X, white_box)
    X_new = X + 0.05
    first = _local(explainer, X_new, 2)
    np.testing.assert_array_equal(_local(explainer, X_new, 2), first)
    np.testing.assert_allclose(first[:2], explainer.transform(X_new[:2]), atol=1e-6)
    assert not np.allclose(first, explainer.transform(X_new), atol=1e-4)


# ------------------------------------------------------------------ errors


class RecordingClient:
    """Stands for a client; records what would be sent to the cluster."""

    def __init__(self):
        self.calls = []

    def scatter(self, *args, **kwargs):
        self.calls.append("scatter")

    def submit(self, *args, **kwargs):
        self.calls.append("submit")

    def gather(self, *args, **kwargs):
        self.calls.append("gather")


def test_unfitted_explainer_fails_before_anything_is_sent():
    X, _ = make_spiky_panel(0, n=3)
    recorder = RecordingClient()
    with pytest.raises(NotFittedError):
        explain_in_chunks(DynaMask(), X, client=recorder)
    assert recorder.calls == []
    with pytest.raises(NotFittedError):
        explain_in_chunks(DynaMask(), da.from_array(X))


@pytest.mark.parametrize("chunk_size", [0, -2, 1.5, True, "10"])
def test_bad_chunk_size(fitted, chunk_size):
    explainer, X_new, _ = fitted
    recorder = RecordingClient()
    with pytest.raises(ValueError, match="chunk_size must be an integer >= 1"):
        explain_in_chunks(explainer, X_new, chunk_size=chunk_size, client=recorder)
    assert recorder.calls == []
    with pytest.raises(ValueError, match="chunk_size"):
        explain_in_chunks(explainer, da.from_array(X_new), chunk_size=chunk_size)


def test_other_errors(fitted):
    explainer, X_new, _ = fitted
    recorder = RecordingClient()
    with pytest.raises(ValueError, match="torch_threads"):
        explain_in_chunks(explainer, X_new, torch_threads=0)
    wrong_rows = r"the model input 'groups' must have one row per series \(7\), got shape \(5,\)\."
    with pytest.raises(ValueError, match=wrong_rows):
        explain_in_chunks(explainer, WithInputs(X_new, groups=np.zeros(5, dtype=int)), client=recorder)
    # inputs changed after the bundle was made are checked before anything is sent
    bundle = WithInputs(X_new, groups=np.zeros(7, dtype=int))
    bundle.inputs["groups"] = np.zeros(5, dtype=int)
    with pytest.raises(ValueError, match=wrong_rows):
        explain_in_chunks(explainer, bundle, client=recorder)
    bundle.inputs["groups"] = 3
    with pytest.raises(ValueError, match="the model input 'groups' must have one row per series, got a scalar"):
        explain_in_chunks(explainer, bundle, client=recorder)
    with pytest.raises(ValueError, match="NaN"):
        explain_in_chunks(explainer, np.full_like(X_new, np.nan), client=recorder)
    assert recorder.calls == []
    with pytest.raises(TypeError, match="client must be"):
        explain_in_chunks(explainer, X_new, client="tcp://127.0.0.1:8786")
    with pytest.raises(TypeError, match="transform"):
        explain_in_chunks(object(), X_new)
    X = da.from_array(X_new)
    with pytest.raises(ValueError, match="channels"):
        explain_in_chunks(explainer, X[:, :2])
    with pytest.raises(ValueError, match="dimension"):
        explain_in_chunks(explainer, X[..., None])
    with pytest.raises(ValueError, match=wrong_rows):
        explain_in_chunks(explainer, WithInputs(X, groups=da.zeros(5, dtype=int)))
    lazy_bundle = WithInputs(X, groups=da.zeros(7, dtype=int))
    lazy_bundle.inputs["groups"] = da.zeros(5, dtype=int)  # checked again before the graph is built
    with pytest.raises(ValueError, match=wrong_rows):
        explain_in_chunks(explainer, lazy_bundle)
    # the inputs must be those of the fit: here none (the tasks' transform says so)
    with pytest.raises(ValueError, match=r"fitted with the model inputs \[\] besides the series, got \['groups'\]"):
        with dask.config.set(scheduler="sync"):
            explain_in_chunks(explainer, WithInputs(X_new, groups=np.zeros(7, dtype=int)))


# -------------------------------------------------- grid search on the cluster


def test_grid_search_with_the_dask_joblib_backend_matches_n_jobs_1(client):
    X, truth = make_spiky_panel(0, n=8)
    white_box = RareWhiteBox(SALIENT.astype(np.float32))

    def search(n_jobs):
        return GridSearchCV(
            dynamask(max_iter=30),
            {"area": [SALIENT_AREA, 0.5], "lambda_time": [0.0, 0.5]},
            scoring=SALIENCY_SCORING,  # every metric from one transform per test fold
            refit="aup",
            cv=KFold(2),
            n_jobs=n_jobs,
        )

    serial = search(1).fit(X, truth, model=white_box)
    with distributed.get_task_stream(client=client) as tasks:
        with client.as_current(), joblib.parallel_backend("dask"):
            remote = search(-1).fit(X, truth, model=white_box)
    # the fits ran on the cluster's workers
    workers = set(client.scheduler_info()["workers"])
    assert tasks.data and {t["worker"] for t in tasks.data} <= workers
    assert remote.best_params_ == serial.best_params_
    assert serial.best_params_["area"] == SALIENT_AREA
    for key in serial.cv_results_:
        if key.startswith(("split", "mean_test", "std_test", "rank_test")):
            np.testing.assert_allclose(remote.cv_results_[key], serial.cv_results_[key], err_msg=key)
    # the refitted explainers came back from the workers as they are locally: the same masks of X
    np.testing.assert_allclose(remote.best_estimator_.transform(X), serial.best_estimator_.transform(X))
