"""The recurrent black box of the State and Switch-Feature benchmarks.

The State benchmark of Dynamask, FIT, tint and ContraLSP explains a GRU
classifier trained on the HMM data: ``GRU(3 -> 200)`` followed by a head,
trained with the cross-entropy (Adam, learning rate 1e-4, weight decay 1e-3,
50 epochs) on the label of every time step, and explained through its logits at
every step. Switch-Feature uses the same black box.

* :class:`GRUClassifier` -- the network, a plain :class:`torch.nn.Module` that
  takes the library's ``(N, C, T)`` layout.
* :func:`train_gru_classifier` -- seeded training, with an optional on-disk
  cache keyed by the data and every hyper-parameter.

Head
----
The default head is the reference codes' (FIT's, Dynamask's and tint's
``StateClassifier``): ``BatchNorm1d -> ReLU -> Dropout(0.5) -> Linear`` on each
hidden state. It matters for the benchmarks: on State, ExtremalMask's masks
score AUP 0.93 / AUR 0.84 on this black box and 0.79 / 0.76 on the same GRU
with a single linear head (20 test series, cross-entropy, lambda_1 = 0.5;
``benchmarks/RESULTS.md``), so the published figures are only comparable with
the reference head. ``head="linear"`` keeps a single linear map, a function
that is the same in train and eval mode. The explainers always evaluate the
black box in eval mode (batch normalisation with its running statistics, no
dropout).
"""

import hashlib
import json
import numbers
import os
import tempfile
import time

import numpy as np
import torch
from sklearn.utils import check_random_state
from torch import nn

from .._utils import resolve_device

__all__ = ["GRUClassifier", "train_gru_classifier"]

#: Bumped whenever the architecture or the training loop changes, so that
#: cached models of an older version are never reused.
MODEL_VERSION = "GRUClassifier/2 reference-or-linear-head; train_gru_classifier/2 adam-shuffled-minibatches"

_OUTPUTS = ("all", "last")
_HEADS = ("reference", "linear")


def _check_head(head, dropout):
    """Validate the head's name and dropout probability; return the dropout as float."""
    if head not in _HEADS:
        raise ValueError(f"head must be one of {_HEADS}, got {head!r}.")
    if not isinstance(dropout, numbers.Real) or isinstance(dropout, bool) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}.")
    return float(dropout)


class GRUClassifier(nn.Module):
    """GRU classifier on ``(N, C, T)`` series: logits at every step or the last.

    One ``nn.GRU(n_channels -> hidden_size, batch_first=True)`` reads the
    series ``x.transpose(1, 2)``; a head maps each hidden state to class
    logits.

    Parameters
    ----------
    n_channels : int
        Number of input channels C.
    n_classes : int, default=2
        Number of classes K (>= 2).
    hidden_size : int, default=200
        Size of the GRU's hidden state.
    output : {"all", "last"}, default="all"
        ``"all"`` returns the logits of every time step, shape ``(N, T, K)``
        (sequence-to-sequence, the State / Switch-Feature black box);
        ``"last"`` returns those of the last step, shape ``(N, K)``.
    head : {"reference", "linear"}, default="reference"
        ``"reference"``: ``BatchNorm1d -> ReLU -> Dropout(dropout) -> Linear``,
        the head of the reference codes' ``StateClassifier`` (FIT, Dynamask,
        tint, ContraLSP); batch normalisation runs over every time step of
        the batch. ``"linear"``: a single ``Linear(hidden_size -> n_classes)``.
    dropout : float, default=0.5
        Dropout probability of the reference head (train mode only).
    random_state : int or None, default=None
        Seed of the initial weights. An int initialises them from
        ``torch.manual_seed(random_state)`` inside
        :func:`torch.random.fork_rng`, so the global torch random state is
        left untouched; ``None`` uses the global torch generator, as any
        torch module does.

    Notes
    -----
    Inputs of any floating dtype (and on the module's device) are accepted and
    cast to the dtype of the weights; use ``.to(dtype)`` / ``.to(device)`` to
    compute in another dtype or on CUDA. With the reference head, train and
    eval modes differ (batch statistics and dropout in train mode): explain
    the model in eval mode, as the explainers do. The linear head computes the
    same function in both modes.

    Examples
    --------
    >>> import torch
    >>> net = GRUClassifier(n_channels=3, n_classes=2, hidden_size=8, random_state=0)
    >>> net(torch.zeros(4, 3, 10)).shape
    torch.Size([4, 10, 2])
    >>> GRUClassifier(3, 2, hidden_size=8, output="last")(torch.zeros(4, 3, 10)).shape
    torch.Size([4, 2])
    """

    #: A classifier (its outputs are class logits): ``loss="auto"`` of the explainers reads it.
    _estimator_type = "classifier"

    def __init__(
        self, n_channels, n_classes=2, hidden_size=200, output="all", head="reference", dropout=0.5, random_state=None
    ):
        super().__init__()
        for name, value, low in (("n_channels", n_channels, 1), ("n_classes", n_classes, 2), ("hidden_size", hidden_size, 1)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        if output not in _OUTPUTS:
            raise ValueError(f"output must be one of {_OUTPUTS}, got {output!r}.")
        dropout = _check_head(head, dropout)
        self.n_channels = int(n_channels)
        self.n_classes = int(n_classes)
        self.hidden_size = int(hidden_size)
        self.output = output
        self.head_type = head
        self.dropout = dropout
        if random_state is None:
            self._build()
        else:
            if not isinstance(random_state, numbers.Integral) or isinstance(random_state, bool):
                raise ValueError(f"random_state must be an int or None, got {random_state!r}.")
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(random_state))
                self._build()

    def _build(self):
        self.gru = nn.GRU(self.n_channels, self.hidden_size, batch_first=True)
        linear = nn.Linear(self.hidden_size, self.n_classes)
        if self.head_type == "linear":
            self.head = linear
        else:
            self.head = nn.Sequential(
                nn.BatchNorm1d(self.hidden_size), nn.ReLU(), nn.Dropout(self.dropout), linear
            )

    def forward(self, x):
        """Logits ``(N, T, K)`` (``output="all"``) or ``(N, K)`` (``"last"``) of ``x`` ``(N, C, T)``."""
        if x.ndim != 3 or x.shape[1] != self.n_channels:
            raise ValueError(
                f"GRUClassifier expects a tensor of shape (N, C={self.n_channels}, T) (sktime numpy3D layout), "
                f"got {tuple(x.shape)}."
            )
        weight = self.gru.weight_ih_l0
        x = x.to(device=weight.device, dtype=weight.dtype)
        hidden, _ = self.gru(x.transpose(1, 2))
        if self.output == "last":
            return self.head(hidden[:, -1])
        N, T, H = hidden.shape
        return self.head(hidden.reshape(N * T, H)).reshape(N, T, -1)

    def extra_repr(self):
        return f"output={self.output!r}, head={self.head_type!r}"


# --------------------------------------------------------------------------- validation


def _as_numpy(a, name):
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    try:
        return np.asarray(a)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise ValueError(f"{name} could not be converted to an array: {exc}") from None


def _check_X(X, name, n_channels=None):
    X = _as_numpy(X, name)
    if X.ndim != 3:
        raise ValueError(f"{name} must be a 3D array (N, C, T) (sktime numpy3D layout), got shape {X.shape}.")
    if X.dtype == bool or not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
        raise ValueError(f"{name} must hold real numbers, got dtype {X.dtype}.")
    if 0 in X.shape:
        raise ValueError(f"{name} is empty: shape {X.shape}.")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values; impute them before training the black box.")
    if n_channels is not None and X.shape[1] != n_channels:
        raise ValueError(f"{name} has {X.shape[1]} channels, but the training data has {n_channels}.")
    return X


def _check_y(y, X, name, x_name):
    y = _as_numpy(y, name)
    if y.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be per-series labels (N,) or per-time labels (N, T), got shape {y.shape}."
        )
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"{x_name} has {X.shape[0]} series but {name} has {y.shape[0]} rows.")
    if y.ndim == 2 and y.shape[1] != X.shape[2]:
        raise ValueError(
            f"Per-time labels {name} of shape {y.shape} do not match the {X.shape[2]} time steps of {x_name}."
        )
    if np.issubdtype(y.dtype, np.integer) or y.dtype == bool:
        yi = y.astype(np.int64)
    elif np.issubdtype(y.dtype, np.floating):
        if not np.isfinite(y).all() or not np.array_equal(y, np.round(y)):
            raise ValueError(f"{name} must hold integer class labels 0, 1, ..., K-1; got non-integer values.")
        yi = y.astype(np.int64)
    else:
        raise ValueError(f"{name} must hold integer class labels 0, 1, ..., K-1, got dtype {y.dtype}.")
    if yi.size and yi.min() < 0:
        raise ValueError(f"{name} must hold class labels >= 0, got {int(yi.min())}.")
    return np.ascontiguousarray(yi)


def _check_int(value, name, low):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
    return int(value)


def _check_float(value, name, *, positive):
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    if (positive and value <= 0) or value < 0:
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value!r}.")
    return float(value)


# --------------------------------------------------------------------------- cache


def _cache_key(X, y, hyper):
    h = hashlib.sha256()
    h.update(MODEL_VERSION.encode())
    for name, a in (("X", X), ("y", y)):
        h.update(f"|{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    h.update(json.dumps(hyper, sort_keys=True).encode())
    return h.hexdigest()


def _cache_path(cache_dir, key):
    return os.path.join(os.fspath(cache_dir), f"gru_classifier-{key[:40]}.pt")


def _load_cached(path, key):
    """The cached payload at ``path`` if it exists and holds exactly ``key``, else None."""
    if not os.path.isfile(path):
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None  # unreadable or truncated: retrain and overwrite
    if not isinstance(payload, dict) or payload.get("key") != key or payload.get("version") != MODEL_VERSION:
        return None
    return payload


def _save_atomic(path, payload):
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".gru_classifier-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600 files; a cache is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


# --------------------------------------------------------------------------- training


@torch.no_grad()
def _accuracy(model, X, y, device, batch_size):
    correct, total = 0, 0
    for start in range(0, X.shape[0], batch_size):
        xb = torch.from_numpy(X[start:start + batch_size]).to(device)
        yb = torch.from_numpy(y[start:start + batch_size]).to(device)
        pred = model(xb).argmax(-1)
        correct += int((pred == yb).sum())
        total += yb.numel()
    return correct / total


def _seed_from(random_state):
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be >= 0, got {random_state!r}.")
        return int(random_state)
    if random_state is None or isinstance(random_state, np.random.RandomState):
        return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    raise ValueError(f"random_state must be an int, a numpy RandomState or None, got {random_state!r}.")


def train_gru_classifier(
    X_train,
    y_train,
    X_test=None,
    y_test=None,
    *,
    hidden_size=200,
    max_iter=50,
    learning_rate=1e-4,
    weight_decay=1e-3,
    batch_size=32,
    head="reference",
    dropout=0.5,
    device="auto",
    random_state=0,
    cache_dir=None,
    verbose=0,
):
    """Train the benchmark's GRU black box with the cross-entropy.

    Defaults are the State benchmark's settings (Dynamask, tint): hidden size
    200, the reference head, Adam with learning rate 1e-4 and weight decay
    1e-3, minibatches of 32, 50 epochs.

    Parameters
    ----------
    X_train : array-like or torch.Tensor of shape (N, C, T)
        Training series (sktime numpy3D layout). Trained in float32.
    y_train : array-like of shape (N, T) or (N,)
        Integer class labels 0..K-1. Per-time labels ``(N, T)`` train a
        sequence-to-sequence model (``output="all"``: the loss is the mean
        cross-entropy over every time step of every series); per-series labels
        ``(N,)`` train on the logits of the last step (``output="last"``).
        K = max(2, max label + 1).
    X_test, y_test : array-like, optional
        Held-out data for ``report["test_accuracy"]`` (same label layout as
        ``y_train``). Never used for training and not part of the cache key.
    hidden_size : int, default=200
        Hidden units of the GRU.
    max_iter : int, default=50
        Passes over the training set (0 returns the initial model).
    learning_rate : float, default=1e-4
        Adam's learning rate.
    weight_decay : float, default=1e-3
        Adam's (L2) weight decay.
    batch_size : int, default=32
        Minibatch size (tint's); each epoch visits the series in a fresh random
        order drawn from a seeded :class:`torch.Generator`.
    head : {"reference", "linear"}, default="reference"
        The classifier's head (see :class:`GRUClassifier`).
    dropout : float, default=0.5
        Dropout probability of the reference head.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where to train. The returned model is always on the CPU.
    random_state : int, numpy RandomState or None, default=0
        Seed of the initial weights and of the minibatch order. The global
        torch random state is left untouched. Results are reproducible for
        the same seed on the same device.
    cache_dir : str or os.PathLike, optional
        Directory of the on-disk cache. The key is a SHA-256 of the float32
        training series, the int64 labels, every hyper-parameter above
        (including the seed and the resolved device type, since CPU and CUDA
        training give different weights) and :data:`MODEL_VERSION`. A file
        whose stored key differs, or that cannot be read, is never used: the
        model is retrained and the file rewritten (atomically: temporary file
        then :func:`os.replace`).
    verbose : int, default=0
        1 prints the mean training loss every 10 epochs, 2 every epoch.

    Returns
    -------
    model : GRUClassifier
        In eval mode, on the CPU, float32.
    report : dict
        ``train_accuracy`` (over every time step for per-time labels),
        ``test_accuracy`` (None without test data), ``seconds`` (wall time of
        this call), ``train_seconds`` (of the training that produced the
        model, cached or not), ``n_parameters``, ``n_steps`` (optimiser steps
        taken by this call: 0 on a cache hit), ``final_loss``, ``cached``,
        ``path`` (cache file or None), ``key``, and the hyper-parameters:
        ``hidden_size``, ``max_iter``, ``learning_rate``, ``weight_decay``,
        ``batch_size``, ``head``, ``dropout``, ``random_state`` (the seed
        used), ``device``, ``n_classes``, ``output``, ``n_train``, ``n_test``.

    Raises
    ------
    ValueError
        For arrays of the wrong dimension, mismatched lengths, labels that are
        not integers >= 0, NaN or infinite values in the series, or invalid
        hyper-parameters.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn_tsmask.datasets import train_gru_classifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(64, 2, 12).astype(np.float32)
    >>> y = (X[:, 0, :].mean(axis=1) > 0).astype(int)  # one label per series
    >>> model, report = train_gru_classifier(X, y, hidden_size=16, max_iter=30, learning_rate=0.01,
    ...                                      device="cpu", random_state=0)
    >>> model(torch.tensor(X[:3])).shape  # logits of the last step, (N, K)
    torch.Size([3, 2])
    >>> report["train_accuracy"] > 0.9, report["cached"]
    (True, False)
    """
    start_time = time.perf_counter()
    X = _check_X(X_train, "X_train")
    y = _check_y(y_train, X, "y_train", "X_train")
    if (X_test is None) != (y_test is None):
        raise ValueError("Pass both X_test and y_test, or neither.")
    if X_test is not None:
        Xt = _check_X(X_test, "X_test", n_channels=X.shape[1])
        yt = _check_y(y_test, Xt, "y_test", "X_test")
        if yt.ndim != y.ndim:
            raise ValueError(
                f"y_test has shape {yt.shape} but y_train has shape {y.shape}: use the same label layout "
                "(per-time (N, T) or per-series (N,)) for both."
            )
    else:
        Xt = yt = None
    hidden_size = _check_int(hidden_size, "hidden_size", 1)
    max_iter = _check_int(max_iter, "max_iter", 0)
    batch_size = _check_int(batch_size, "batch_size", 1)
    verbose = _check_int(verbose, "verbose", 0)
    learning_rate = _check_float(learning_rate, "learning_rate", positive=True)
    weight_decay = _check_float(weight_decay, "weight_decay", positive=False)
    dropout = _check_head(head, dropout)
    seed = _seed_from(random_state)
    dev = resolve_device(device)

    n_classes = max(2, int(y.max()) + 1)
    output = "all" if y.ndim == 2 else "last"
    hyper = dict(
        hidden_size=hidden_size,
        max_iter=max_iter,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        batch_size=batch_size,
        random_state=seed,
        device=dev.type,
        n_classes=n_classes,
        output=output,
        head=head,
        dropout=dropout,
    )
    config = dict(
        n_channels=int(X.shape[1]), n_classes=n_classes, hidden_size=hidden_size, output=output, head=head,
        dropout=dropout,
    )

    key = path = None
    if cache_dir is not None:
        key = _cache_key(X, y, hyper)
        path = _cache_path(cache_dir, key)
        payload = _load_cached(path, key)
        if payload is not None:
            model = GRUClassifier(**config, random_state=0)
            model.load_state_dict(payload["state_dict"])
            model.eval()
            report = dict(payload["report"])
            report.update(
                test_accuracy=None if Xt is None else _accuracy(model, Xt, yt, torch.device("cpu"), batch_size),
                n_test=None if Xt is None else int(Xt.shape[0]),
                seconds=time.perf_counter() - start_time,
                n_steps=0,
                cached=True,
                path=path,
                key=key,
            )
            if verbose:
                print(f"[train_gru_classifier] loaded cached model {path}")
            return model, report

    fork_devices = [dev] if dev.type == "cuda" else []
    n = X.shape[0]
    X_dev = torch.from_numpy(X).to(dev)
    y_dev = torch.from_numpy(y).to(dev)
    train_start = time.perf_counter()
    n_steps = 0
    epoch_loss = float("nan")
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(seed)
        model = GRUClassifier(**config).to(dev)
        model.train()
        optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
        order_gen = torch.Generator(device="cpu").manual_seed(seed)
        for epoch in range(max_iter):
            perm = torch.randperm(n, generator=order_gen).to(dev)
            total = 0.0
            for start in range(0, n, batch_size):
                idx = perm[start:start + batch_size]
                logits = model(X_dev[idx])
                loss = nn.functional.cross_entropy(logits.reshape(-1, n_classes), y_dev[idx].reshape(-1))
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                n_steps += 1
                total += float(loss.detach()) * idx.numel()
            epoch_loss = total / n
            if verbose >= 2 or (verbose == 1 and ((epoch + 1) % 10 == 0 or epoch + 1 == max_iter)):
                print(f"[train_gru_classifier] epoch {epoch + 1}/{max_iter} loss {epoch_loss:.4f}")
    train_seconds = time.perf_counter() - train_start

    model.eval()
    train_accuracy = _accuracy(model, X, y, dev, batch_size)
    test_accuracy = None if Xt is None else _accuracy(model, Xt, yt, dev, batch_size)
    model = model.cpu()
    report = dict(
        train_accuracy=train_accuracy,
        test_accuracy=test_accuracy,
        seconds=None,
        train_seconds=train_seconds,
        n_parameters=sum(p.numel() for p in model.parameters()),
        n_steps=n_steps,
        final_loss=epoch_loss,
        cached=False,
        path=path,
        key=key,
        n_train=int(n),
        n_test=None if Xt is None else int(Xt.shape[0]),
        **hyper,
    )
    if path is not None:
        stored = dict(report, test_accuracy=None, n_test=None, path=None, seconds=None, n_steps=0)
        _save_atomic(
            path,
            dict(key=key, version=MODEL_VERSION, config=config, state_dict=model.state_dict(), report=stored),
        )
    report["seconds"] = time.perf_counter() - start_time
    return model, report
