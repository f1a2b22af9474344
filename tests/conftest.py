"""Shared fixtures: a tiny seeded panel with a known salient set and small torch models."""

import os

# With 2 OpenMP threads on a busy 2-core machine, OpenMP's default spin-waiting
# makes every small torch op take milliseconds. Passive waiting keeps the suite
# fast; it must be set before torch starts its thread pool.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from sklearn_tsmask import DynaMask  # noqa: E402
from sklearn_tsmask.datasets import RareWhiteBox  # noqa: E402

torch.set_num_threads(2)

N, C, T = 6, 4, 16

#: Salient entries of the spiky panel: isolated in time, so that a blur of
#: width 1 changes them a lot. 6 of the 64 entries: area 6/64 = 0.09375.
SALIENT = np.zeros((C, T), dtype=bool)
SALIENT[0, [3, 8, 12]] = True
SALIENT[2, [5, 10]] = True
SALIENT[3, 1] = True
N_SALIENT = int(SALIENT.sum())
SALIENT_AREA = N_SALIENT / SALIENT.size


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def make_spiky_panel(seed=0, n=N):
    """Panel whose salient entries are ±[1.5, 2.5] spikes over 0.1·N(0, 1) noise.

    Returns X (n, C, T) float64 and the true saliency (n, C, T) int8.
    """
    rng = np.random.RandomState(seed)
    X = 0.1 * rng.randn(n, C, T)
    k = N_SALIENT
    X[:, SALIENT] = rng.choice([-1.0, 1.0], size=(n, k)) * rng.uniform(1.5, 2.5, size=(n, k))
    truth = np.broadcast_to(SALIENT, X.shape).astype(np.int8)
    return X, truth


def flatten_series(X):
    """(n, C, T) -> (n, C·T): the features of a scikit-learn classifier fitted on flattened series."""
    return np.asarray(X).reshape(len(X), -1)


def flat_pipeline(classifier, X, y):
    """A fitted scikit-learn pipeline taking panels (n, C, T): flatten, then ``classifier``."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    return make_pipeline(FunctionTransformer(flatten_series), classifier).fit(X, y)


def make_window_classes(n=60, seed=0, n_classes=2):
    """Series (n, 2, 8) whose class is read from channel 0 over times 3..5; the rest is noise.

    Returns X, y (the sign of the window's sum, or 3 bins of it for ``n_classes=3``) and the true
    saliency (the window).
    """
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 2, 8)
    s = X[:, 0, 3:6].sum(1)
    y = (s > 0).astype(int) if n_classes == 2 else np.digitize(s, [-1.0, 1.0])
    truth = np.zeros((n, 2, 8), dtype=int)
    truth[:, 0, 3:6] = 1
    return X, y, truth


@pytest.fixture
def spiky():
    """(X, true_saliency, white_box): the white box is y_t = Σ_c S[c, t]·x[c, t]² (N, T)."""
    X, truth = make_spiky_panel(0)
    return X, truth, RareWhiteBox(SALIENT.astype(np.float32))


def top_k_sets(masks, k):
    """Flat indices of the k largest entries of each mask (N, C, T) -> list of sets."""
    flat = np.asarray(masks).reshape(len(masks), -1)
    return [set(np.argsort(row, kind="stable")[-k:].tolist()) for row in flat]


def salient_set():
    return set(np.flatnonzero(SALIENT.ravel()).tolist())


#: DynaMask's settings of the paper's rare experiments (its defaults until the library's own were measured), on
#: which the tests of the machinery were written.
DYNAMASK_PAPER_RARE = dict(perturbation="gaussian_blur", lambda_area=1.0, lambda_area_growth=1000.0, lambda_time=0.0,
                           relative_epsilon=None, loss="squared_error")


def dynamask(**params):
    """DynaMask with test defaults: CPU, seeded, few optimisation steps (max_iter=60).

    The paper's blur, weights and selection (lowest error), on which these tests were written; the library's
    defaults are tested on their own (test_dynamask.py, "defaults").
    """
    defaults = dict(area=SALIENT_AREA, max_iter=60, device="cpu", random_state=0, **DYNAMASK_PAPER_RARE)
    defaults.update(params)
    return DynaMask(**defaults)


# ------------------------------------------------------------------ models


class LinearHead(nn.Module):
    """Logits (N, K) of a linear map of the flattened (C, T) input."""

    def __init__(self, n_channels=C, n_timepoints=T, n_classes=3, seed=0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.linear = nn.Linear(n_channels * n_timepoints, n_classes)
        with torch.no_grad():
            self.linear.weight.copy_(torch.randn(self.linear.weight.shape, generator=gen))
            self.linear.bias.copy_(torch.randn(self.linear.bias.shape, generator=gen))
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        return self.linear(self.dropout(x.flatten(1)))


class SoftmaxModel(nn.Module):
    """Probabilities (N, K): every row sums to 1, so a plain sum has zero gradient."""

    def __init__(self, **kw):
        super().__init__()
        self.head = LinearHead(**kw)

    def forward(self, x):
        return torch.softmax(self.head(x), dim=-1)


class GRUClassifier(nn.Module):
    """Batch-first GRU + linear head: logits (N, T, K) at every step, input (N, T, C)."""

    def __init__(self, n_channels=C, hidden=8, n_classes=2, num_layers=1, dropout=0.0, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.gru = nn.GRU(n_channels, hidden, num_layers=num_layers, dropout=dropout, batch_first=True)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out)


class ShapeChecker(nn.Module):
    """Fails unless called with (batch, *expected) inputs; output (N, T) sum of squares."""

    def __init__(self, expected):
        super().__init__()
        self.expected = tuple(expected)
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        assert tuple(x.shape[1:]) == self.expected, f"got {tuple(x.shape)}"
        return self.scale * (x**2).flatten(1)


class CallCounter:
    """A callable black box that counts its calls: y = (x * S)² summed over channels (N, T)."""

    def __init__(self, salient=SALIENT):
        self.salient = torch.as_tensor(salient, dtype=torch.float32)
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return ((x * self.salient.to(x)) ** 2).sum(1)
