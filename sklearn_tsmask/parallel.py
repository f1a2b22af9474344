"""Scale out with Dask: masks of large panels chunk by chunk, searches on a cluster.

Needs the ``dask`` extra (``pip install "dask[array,distributed]"``); dask is
imported when a function is called, never when this module is imported.

Explaining a large panel
------------------------
:func:`explain_in_chunks` computes ``explainer.transform(X)`` for a panel too
large for one process: the *fitted* explainer is shipped to the workers once,
each task explains one chunk of series (along the instance axis) and the
masks come back in order, in X's container. A :class:`dask.array.Array` X is
explained lazily, one task per chunk along its first axis::

    from distributed import Client, LocalCluster
    from sklearn_tsmask.parallel import explain_in_chunks

    cluster = LocalCluster(n_workers=8, threads_per_worker=1)   # one process per core
    client = Client(cluster)
    explainer = DynaMask(area=0.05, random_state=0).fit(X_small, model=net)
    masks = explain_in_chunks(explainer, X, chunk_size=64, client=client)

    import dask.array as da
    lazy = explain_in_chunks(explainer, da.from_zarr("panel.zarr"))  # (N, C, T), lazy
    lazy.to_zarr("masks.zarr")                                       # computed chunk by chunk

Threads: one worker process per core, one torch thread each
------------------------------------------------------------
torch runs its CPU operations on OpenMP threads (one per core by default) and
OpenMP threads spin while they wait. Several processes or threads each
running torch with several threads therefore oversubscribe the cores: on a
2-core machine, one other CPU-bound process makes the small operations of a
mask optimisation about 40 times slower. So:

* start **one worker process per core with one thread each**:
  ``LocalCluster(n_workers=n_cores, threads_per_worker=1)`` or
  ``dask worker --nworkers n_cores --nthreads 1``;
* run torch with **one thread per task**: :func:`explain_in_chunks` sets
  ``torch.set_num_threads(torch_threads)`` (default 1) inside each task and
  restores the previous value afterwards. Dask's nannies also start workers
  with ``OMP_NUM_THREADS=1`` (``distributed.nanny.pre-spawn-environ``), which
  covers tasks that this module does not run, such as a grid search's; keep
  that setting. ``OMP_WAIT_POLICY=PASSIVE`` in the workers' environment
  stops the spinning altogether.
* **on GPUs**, start one worker process per GPU, each seeing only its own
  device (``CUDA_VISIBLE_DEVICES=i dask worker ... --nworkers 1 --nthreads 1``,
  or dask-cuda's ``LocalCUDACluster``), and fit the explainer with
  ``device="cuda"``: every worker then computes on its own GPU.

Which explainers chunking leaves unchanged
------------------------------------------
Chunks are explained by independent ``transform`` calls, so the masks equal
those of one ``transform(X)`` call when an explainer treats series
independently:

* :class:`~sklearn_tsmask.DynaMask` optimises each series' masks on its own
  (the loss is a sum over series and each mask entry has its own optimiser
  state): without ``tol`` the masks do not depend on the chunks, up to the
  rounding of a black box whose arithmetic depends on the batch size. With
  ``tol`` a batch stops as a whole, so the chunks must be made of the same
  batches (an integer ``batch_size`` dividing ``chunk_size``). A ``baseline``
  of shape ``(N, C, T)`` (one per series) cannot be chunked.
* :class:`~sklearn_tsmask.ExtremalMask` with
  ``transform_networks="frozen"`` and without ``tol`` treats series
  independently too. With ``"fine_tune"`` (default) or ``tol``, each batch
  trains its own copy of the perturbation network, or stops, together: the
  masks equal one ``transform`` call's only when every chunk is made of the
  same batches, i.e. with an integer ``batch_size`` and a ``chunk_size`` that
  is a multiple of it.
* :class:`~sklearn_tsmask.ContraLSP` draws its noise from one generator per
  ``transform`` call, consumed batch after batch; each chunk restarts it, so
  its masks differ from one ``transform`` call's (another draw of the same
  noise). They are reproducible for a given ``chunk_size``.

Grid search on a cluster
------------------------
A hyper-parameter search needs no code from this module: scikit-learn runs
its fits through joblib, and joblib's ``"dask"`` backend sends them to the
cluster of the current client (the explainer, the black box and the scorers
must pickle: define torch modules at module level)::

    import joblib
    from distributed import Client
    from sklearn.model_selection import GridSearchCV
    from sklearn_tsmask import DynaMask
    from sklearn_tsmask.metrics import aup_scorer

    client = Client(cluster)            # becomes the default client
    search = GridSearchCV(
        DynaMask(max_iter=200, random_state=0),
        {"area": [0.05, 0.1, 0.2]},
        scoring=aup_scorer,             # masks scored against the true saliency y
        n_jobs=-1,
    )
    with joblib.parallel_backend("dask"):
        search.fit(X, true_saliency, model=net)

The results are those of ``n_jobs=1``: every fit is seeded by the
explainer's ``random_state``. Set up the workers as above (one process per
core, ``threads_per_worker=1``).
"""

import numbers
import sys
import threading
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._inputs import WithInputs
from ._panel import from_tensor, to_tensor

__all__ = ["explain_in_chunks"]

#: Series per chunk of an in-memory panel when ``chunk_size`` is None.
DEFAULT_CHUNK_SIZE = 256

_THREADS_LOCK = threading.Lock()


def _dask():
    try:
        import dask
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "explain_in_chunks needs dask: pip install 'dask[array,distributed]'."
        ) from exc
    return dask


def _is_dask_array(X):
    module = sys.modules.get("dask.array")  # X cannot be a dask array if dask.array was never imported
    return module is not None and isinstance(X, module.Array)


@contextmanager
def _torch_threads(n):
    """Run the block with ``torch.set_num_threads(n)``; restore the previous number after.

    ``None`` leaves torch's setting as it is.
    """
    if n is None:
        yield
        return
    with _THREADS_LOCK:
        previous = torch.get_num_threads()
        if previous != n:
            torch.set_num_threads(n)
    try:
        yield
    finally:
        with _THREADS_LOCK:
            if torch.get_num_threads() != previous:
                torch.set_num_threads(previous)


def _transform(explainer, x, model_kwargs, torch_threads):
    with _torch_threads(torch_threads):
        if model_kwargs:
            return explainer.transform(WithInputs(x, **model_kwargs))
        return explainer.transform(x)


def _explain_chunk(explainer, chunk, torch_threads):
    """Task: the masks of one chunk ``(x, model_kwargs)``."""
    x, model_kwargs = chunk
    return _transform(explainer, x, model_kwargs, torch_threads)


def _explain_block(x, *kwarg_blocks, explainer, names, torch_threads):
    """Block function of the dask-array path: the masks of one block of series, as numpy."""
    model_kwargs = dict(zip(names, kwarg_blocks))
    return np.asarray(_transform(explainer, x, model_kwargs, torch_threads))


# ------------------------------------------------------------------ validation


def _check_explainer(explainer):
    if not hasattr(explainer, "transform"):
        raise TypeError(f"explainer must be a fitted explainer with a transform method, got {explainer!r}.")
    check_is_fitted(explainer)


def _check_positive_int(value, name, *, allow_none):
    if value is None and allow_none:
        return None
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        extra = " or None" if allow_none else ""
        raise ValueError(f"{name} must be an integer >= 1{extra}, got {value!r}.")
    return int(value)


def _kwarg_array(value, name):
    """A model keyword argument as a CPU tensor or numpy array with a first axis."""
    if isinstance(value, torch.Tensor):
        arr = value.detach().cpu()
    else:
        arr = np.asarray(value)
    if arr.ndim == 0:
        raise ValueError(f"the model input {name!r} must have one row per series, got a scalar.")
    return arr


def _check_model_kwargs(model_kwargs, n):
    if model_kwargs is None:
        return {}
    out = {}
    for name, value in model_kwargs.items():
        arr = _kwarg_array(value, name)
        if arr.shape[0] != n:
            raise ValueError(
                f"the model input {name!r} must have one row per series ({n}), got shape {tuple(arr.shape)}."
            )
        out[name] = arr
    return out


def _model_dtype(explainer):
    """The dtype the explainer's black box computes in (float64 when unknown)."""
    dtype = getattr(getattr(explainer, "model_", None), "dtype", None)
    return dtype if isinstance(dtype, torch.dtype) and dtype.is_floating_point else torch.float64


def _take(arr, rows):
    """Rows of a tensor or array, as an object that pickles only those rows."""
    part = arr[rows]
    # a tensor view pickles its whole storage (all of X): copy the rows
    return part.clone() if isinstance(part, torch.Tensor) else np.array(part, copy=True)


# ------------------------------------------------------------------ public API


def explain_in_chunks(explainer, X, *, chunk_size=None, client=None, torch_threads=1):
    """Masks of a large panel, computed chunk by chunk (along instances) on Dask workers.

    Each chunk of series is explained by the fitted explainer's ``transform``
    in a Dask task; the explainer is sent to each worker once. See the module
    docstring for which explainers give exactly the masks of one
    ``explainer.transform(X)`` call (DynaMask does) and for how to set up the
    workers.

    Parameters
    ----------
    explainer : fitted explainer
        A fitted explainer of this package (``DynaMask``, ``ExtremalMask``,
        ``ContraLSP``) or any fitted transformer taking ``(N, C, T)`` tensors.
        It must pickle to run on worker processes (its black box included).
    X : array-like, torch.Tensor, dask.array.Array or WithInputs of shape \
(n_instances, n_channels, n_timepoints) or (n_instances, n_timepoints)
        The series to explain. A dask array is explained lazily, one task per
        chunk along its first axis (its other axes are rechunked into one
        chunk), and a dask array of masks is returned. Per-series inputs of
        the black box (group ids, covariates) come in a
        :class:`~sklearn_tsmask.WithInputs`; they are sliced with the chunks
        (arrays, tensors, or, for a dask array of series, dask arrays).
    chunk_size : int or None, default=None
        Series per task. None: a dask array's own chunks, else
        ``DEFAULT_CHUNK_SIZE`` (256) series. An int also rechunks a dask
        array's first axis.
    client : distributed.Client or None, default=None
        Where to compute an in-memory panel: the explainer is scattered to
        every worker once (``client.scatter(..., broadcast=True)``) and the
        chunks are scattered then explained. None: the current default dask
        scheduler (a default distributed client if there is one, else dask's
        local threads). Not used for a dask array X, whose masks are computed
        when the returned array is (``masks.compute()``,
        ``client.compute(masks)``, ``masks.to_zarr(...)``).
    torch_threads : int or None, default=1
        ``torch.set_num_threads`` inside each task (restored after it). One
        thread per task avoids oversubscribing the cores when a worker
        process runs per core. None leaves the worker's setting.

    Returns
    -------
    masks : ndarray, torch.Tensor or dask.array.Array shaped like X
        Masks in [0, 1], in order, in X's container: numpy for array-likes,
        a tensor on X's device for a tensor, a lazy dask array (numpy blocks,
        chunked like X along the instance axis) for a dask array.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the explainer is not fitted (before any work is sent).
    ValueError
        If ``chunk_size`` or ``torch_threads`` is not a positive integer, X
        has the wrong layout or a model keyword argument the wrong number of
        rows.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> from sklearn_tsmask import DynaMask
    >>> from sklearn_tsmask.datasets import make_rare_feature
    >>> from sklearn_tsmask.parallel import explain_in_chunks
    >>> X, _, white_box = make_rare_feature(
    ...     n_samples=6, n_channels=5, n_timepoints=12, n_salient=1, salient_window=(3, 6), random_state=0)
    >>> explainer = DynaMask(area=0.1, max_iter=20, device="cpu", random_state=0).fit(X[:2], white_box)
    >>> masks = explain_in_chunks(explainer, X, chunk_size=2)  # 3 tasks, dask's local scheduler
    >>> masks.shape
    (6, 5, 12)
    >>> bool(np.allclose(masks, explainer.transform(X)))
    True
    >>> lazy = explain_in_chunks(explainer, da.from_array(X, chunks=(3, 5, 12)))
    >>> lazy.chunks[0]
    (3, 3)
    >>> bool(np.allclose(lazy.compute(), masks))
    True
    """
    _check_explainer(explainer)
    X, model_kwargs = (X.X, X.inputs) if isinstance(X, WithInputs) else (X, None)
    chunk_size = _check_positive_int(chunk_size, "chunk_size", allow_none=True)
    torch_threads = _check_positive_int(torch_threads, "torch_threads", allow_none=True)
    if _is_dask_array(X):
        return _explain_dask_array(explainer, X, chunk_size, model_kwargs, torch_threads)

    dask = _dask()
    x, fmt = to_tensor(X, dtype=_model_dtype(explainer), device="cpu")
    n = x.shape[0]
    kwargs = _check_model_kwargs(model_kwargs, n)
    step = chunk_size or DEFAULT_CHUNK_SIZE
    chunks = [
        (_take(x, slice(start, start + step)), {k: _take(v, slice(start, start + step)) for k, v in kwargs.items()})
        for start in range(0, n, step)
    ]
    if client is not None:
        if not all(hasattr(client, attr) for attr in ("scatter", "submit", "gather")):
            raise TypeError(f"client must be a distributed.Client or None, got {type(client).__name__}.")
        remote_explainer = client.scatter(explainer, broadcast=True, hash=False)
        remote_chunks = client.scatter(chunks, hash=False)
        futures = [
            client.submit(_explain_chunk, remote_explainer, chunk, torch_threads, pure=False)
            for chunk in remote_chunks
        ]
        results = client.gather(futures)
        del futures, remote_chunks, remote_explainer
    else:
        shared = dask.delayed(explainer, traverse=False)
        tasks = [dask.delayed(_explain_chunk, pure=False)(shared, chunk, torch_threads) for chunk in chunks]
        results = dask.compute(*tasks)
    masks = torch.cat([torch.as_tensor(r).to(device="cpu") for r in results])
    if masks.ndim == 2:  # a transformer that returned univariate masks as (n, T)
        masks = masks.unsqueeze(1)
    return from_tensor(masks, fmt)


def _explain_dask_array(explainer, X, chunk_size, model_kwargs, torch_threads):
    dask = _dask()
    import dask.array as da

    if X.ndim not in (2, 3):
        raise ValueError(
            f"X has {X.ndim} dimension(s) with shape {X.shape}: expected a panel of shape "
            "(n_instances, n_channels, n_timepoints) or (n_instances, n_timepoints)."
        )
    if X.dtype == bool or not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"X must hold real numbers, got a dask array of dtype {X.dtype}.")
    n_channels = X.shape[1] if X.ndim == 3 else 1
    fitted_channels = getattr(explainer, "n_features_in_", None)
    if fitted_channels is not None and n_channels != fitted_channels:
        raise ValueError(
            f"X has {n_channels} channels, but {type(explainer).__name__} was fitted with {fitted_channels} channels."
        )
    out_dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)

    layout = {axis: -1 for axis in range(1, X.ndim)}
    if chunk_size is not None:
        layout[0] = chunk_size
    X = X.rechunk(layout)
    rows = X.chunks[0]

    x_index = ("n", "c", "t") if X.ndim == 3 else ("n", "t")
    arrays = []
    names = []
    for name, value in (model_kwargs or {}).items():
        if _is_dask_array(value):
            if value.ndim == 0:
                raise ValueError(f"the model input {name!r} must have one row per series, got a scalar.")
            arr = value
        else:
            arr = _kwarg_array(value, name)
            arr = arr.numpy() if isinstance(arr, torch.Tensor) else arr
        if not np.isnan(X.shape[0]) and not np.isnan(arr.shape[0]) and arr.shape[0] != X.shape[0]:
            raise ValueError(
                f"the model input {name!r} must have one row per series ({X.shape[0]}), got shape {tuple(arr.shape)}."
            )
        if any(np.isnan(c) for c in rows):
            raise ValueError(
                "X has unknown chunk sizes along its first axis; call X.compute_chunk_sizes() "
                "first: the model inputs are split along them."
            )
        if _is_dask_array(arr):
            arr = arr.rechunk({0: rows, **{axis: -1 for axis in range(1, arr.ndim)}})
        else:
            arr = da.from_array(arr, chunks=(rows,) + tuple(arr.shape[1:]))
        arrays += [arr, ("n",) + tuple((name, axis) for axis in range(1, arr.ndim))]
        names.append(name)

    return da.blockwise(
        _explain_block,
        x_index,
        X,
        x_index,
        *arrays,
        explainer=dask.delayed(explainer, traverse=False),
        names=tuple(names),
        torch_threads=torch_threads,
        dtype=out_dtype,
        meta=np.empty((0,) * X.ndim, dtype=out_dtype),
        concatenate=True,
        token="explain_in_chunks",
    )
