"""Tests of the State / Switch-Feature GRU black box and its cached training."""

import doctest
import os
import pickle

import numpy as np
import pytest
import torch

import sklearn_tsmask.datasets._black_box as black_box_module
from sklearn_tsmask.datasets import GRUClassifier, train_gru_classifier

torch.set_num_threads(2)

#: Fast settings: a tiny GRU, a large learning rate, few epochs.
FAST = dict(hidden_size=8, max_iter=15, learning_rate=2e-2, weight_decay=0.0, batch_size=16, device="cpu")


def sign_task(n=64, c=3, t=20, seed=0):
    """Per-time labels y[i, t] = x[i, 0, t] > 0: learnable from the current input alone."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, c, t)
    y = (X[:, 0, :] > 0).astype(np.int64)
    return X, y


def series_task(n=64, c=2, t=12, seed=0):
    """Per-series labels: the sign of channel 1's mean."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, c, t) + np.where(rng.rand(n) < 0.5, -1.0, 1.0)[:, None, None] * np.array([0.0, 1.0])[None, :, None]
    y = (X[:, 1].mean(-1) > 0).astype(np.int64)
    return X, y


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


# --------------------------------------------------------------------------- the network


def test_output_shapes_all_and_last():
    x = torch.randn(5, 3, 17)
    net = GRUClassifier(n_channels=3, n_classes=2, hidden_size=12, random_state=0).eval()
    assert net(x).shape == (5, 17, 2)
    last = GRUClassifier(3, 4, hidden_size=12, output="last", random_state=0)
    assert last(x).shape == (5, 4)
    # "last" is the last step of "all" for the same weights (eval mode: running statistics).
    last2 = GRUClassifier(3, 2, hidden_size=12, output="last", random_state=0).eval()
    torch.testing.assert_close(last2(x), net(x)[:, -1])


def test_default_size_matches_spec():
    net = GRUClassifier(3, 2)
    assert net.gru.input_size == 3 and net.gru.hidden_size == 200 and net.gru.batch_first
    # the reference codes' head: BatchNorm1d -> ReLU -> Dropout(0.5) -> Linear
    bn, relu, drop, linear = net.head
    assert isinstance(bn, torch.nn.BatchNorm1d) and bn.num_features == 200
    assert isinstance(relu, torch.nn.ReLU) and isinstance(drop, torch.nn.Dropout) and drop.p == 0.5
    assert linear.in_features == 200 and linear.out_features == 2
    # GRU: 3 gates x (200 x 3 + 200 x 200 + 2 x 200); batch norm 2 x 200; linear 200 x 2 + 2.
    assert sum(p.numel() for p in net.parameters()) == 3 * (200 * 3 + 200 * 200 + 400) + 400 + 402
    plain = GRUClassifier(3, 2, head="linear")
    assert isinstance(plain.head, torch.nn.Linear)
    assert sum(p.numel() for p in plain.parameters()) == 3 * (200 * 3 + 200 * 200 + 400) + 402


def test_logits_are_causal():
    """Changing the input at time s leaves the logits before s unchanged."""
    net = GRUClassifier(3, 2, hidden_size=8, random_state=1).eval()
    x = torch.randn(2, 3, 10)
    x2 = x.clone()
    x2[:, :, 6] += 5.0
    with torch.no_grad():
        a, b = net(x), net(x2)
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_seeded_init_is_reproducible_and_leaves_global_rng():
    state = torch.get_rng_state()
    a = GRUClassifier(3, 2, hidden_size=8, random_state=3)
    b = GRUClassifier(3, 2, hidden_size=8, random_state=3)
    c = GRUClassifier(3, 2, hidden_size=8, random_state=4)
    assert torch.equal(torch.get_rng_state(), state)
    _assert_same_weights(a, b)
    assert not torch.equal(a.head[-1].weight, c.head[-1].weight)


def test_dtype_pickle_and_modes():
    net = GRUClassifier(3, 2, hidden_size=8, head="linear", random_state=0)
    x = torch.randn(4, 3, 9, dtype=torch.float64)
    out32 = net(x)  # float64 input cast to the float32 weights
    assert out32.dtype == torch.float32
    out64 = net.double()(x)
    assert out64.dtype == torch.float64
    torch.testing.assert_close(out64.float(), out32, rtol=1e-4, atol=1e-5)
    net = net.float()
    clone = pickle.loads(pickle.dumps(net))
    torch.testing.assert_close(clone(x), net(x), rtol=0, atol=0)
    # Linear head: train and eval modes compute the same function.
    torch.testing.assert_close(net.train()(x), net.eval()(x), rtol=0, atol=0)
    # Reference head: batch statistics and dropout in train mode only.
    ref = GRUClassifier(3, 2, hidden_size=8, random_state=0)
    assert not torch.allclose(ref.train()(x), ref.eval()(x))
    torch.testing.assert_close(ref.eval()(x), ref.eval()(x), rtol=0, atol=0)


def test_gradient_reaches_input():
    net = GRUClassifier(3, 2, hidden_size=8, random_state=0).eval()
    x = torch.randn(2, 3, 7, requires_grad=True)
    net(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.gpu
def test_cuda_forward_backward_in_eval_mode():
    net = GRUClassifier(3, 2, hidden_size=8, random_state=0).cuda().eval()
    x = torch.randn(2, 3, 7, device="cuda", requires_grad=True)
    with torch.backends.cudnn.flags(enabled=False):
        net(x).sum().backward()
    assert x.grad.abs().sum() > 0


@pytest.mark.gpu
def test_cuda_training_returns_cpu_model_and_is_seeded():
    X, y = sign_task(n=32, t=10)
    params = dict(FAST, max_iter=3, device="cuda")
    state = torch.cuda.get_rng_state()
    a, ra = train_gru_classifier(X, y, **params)
    b, _ = train_gru_classifier(X, y, **params)
    assert torch.equal(torch.cuda.get_rng_state(), state)
    assert ra["device"] == "cuda" and next(a.parameters()).device.type == "cpu" and not a.training
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(va, vb, rtol=1e-5, atol=1e-6, msg=k)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_channels=0), "n_channels"),
        (dict(n_channels=3, n_classes=1), "n_classes"),
        (dict(n_channels=3, hidden_size=2.5), "hidden_size"),
        (dict(n_channels=3, output="first"), "output"),
        (dict(n_channels=3, head="mlp"), "head"),
        (dict(n_channels=3, dropout=1.0), "dropout"),
        (dict(n_channels=3, random_state="a"), "random_state"),
    ],
)
def test_constructor_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GRUClassifier(**kwargs)


def test_forward_rejects_wrong_layout():
    net = GRUClassifier(3, 2, hidden_size=8)
    with pytest.raises(ValueError, match=r"\(N, C=3, T\)"):
        net(torch.randn(4, 10, 3))
    with pytest.raises(ValueError, match=r"\(N, C=3, T\)"):
        net(torch.randn(3, 10))


# --------------------------------------------------------------------------- training


def test_training_learns_per_time_task():
    X, y = sign_task()
    Xt, yt = sign_task(n=32, seed=1)
    model, report = train_gru_classifier(X, y, Xt, yt, **FAST)
    assert report["train_accuracy"] >= 0.9, report
    assert report["test_accuracy"] >= 0.9, report
    assert not model.training
    assert next(model.parameters()).device.type == "cpu"
    assert model.output == "all" and model.n_classes == 2
    assert report["cached"] is False and report["path"] is None
    assert report["n_steps"] == FAST["max_iter"] * 4  # 64 series / batches of 16
    assert report["n_parameters"] == sum(p.numel() for p in model.parameters())
    for key in ("hidden_size", "max_iter", "learning_rate", "weight_decay", "batch_size"):
        assert report[key] == FAST[key]
    assert report["random_state"] == 0 and report["output"] == "all"
    assert report["seconds"] > 0
    # The reported accuracy is the accuracy over every time step.
    with torch.no_grad():
        pred = model(torch.as_tensor(Xt, dtype=torch.float32)).argmax(-1).numpy()
    assert report["test_accuracy"] == pytest.approx((pred == yt).mean())


def test_training_per_series_labels_uses_last_step():
    X, y = series_task()
    model, report = train_gru_classifier(X, y, X, y, **dict(FAST, max_iter=25))
    assert model.output == "last" and report["output"] == "last"
    assert model(torch.zeros(2, 2, 12)).shape == (2, 2)
    assert report["train_accuracy"] >= 0.9, report
    assert report["test_accuracy"] == report["train_accuracy"]


def test_more_classes_from_labels():
    rng = np.random.RandomState(0)
    X = rng.randn(10, 2, 6)
    y = rng.randint(0, 4, size=(10, 6))
    y[0, 0] = 3
    model, report = train_gru_classifier(X, y, **dict(FAST, max_iter=1))
    assert report["n_classes"] == 4 and model(torch.zeros(1, 2, 6)).shape == (1, 6, 4)


def test_accepts_tensors_and_float_labels():
    X, y = sign_task(n=16, t=8)
    m1, _ = train_gru_classifier(X, y, **dict(FAST, max_iter=2))
    m2, _ = train_gru_classifier(torch.as_tensor(X), torch.as_tensor(y.astype(np.float64)), **dict(FAST, max_iter=2))
    _assert_same_weights(m1, m2)


def test_same_seed_same_weights_other_seed_differs():
    X, y = sign_task(n=32, t=10)
    params = dict(FAST, max_iter=3)
    a, ra = train_gru_classifier(X, y, random_state=7, **params)
    b, rb = train_gru_classifier(X, y, random_state=7, **params)
    c, _ = train_gru_classifier(X, y, random_state=8, **params)
    _assert_same_weights(a, b)
    assert ra["train_accuracy"] == rb["train_accuracy"] and ra["final_loss"] == rb["final_loss"]
    assert not torch.equal(a.head[-1].weight, c.head[-1].weight)


def test_global_torch_rng_untouched():
    X, y = sign_task(n=16, t=8)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    train_gru_classifier(X, y, **dict(FAST, max_iter=2))
    assert torch.equal(torch.get_rng_state(), state)
    # ... and the global state does not influence the result.
    torch.manual_seed(0)
    a, _ = train_gru_classifier(X, y, **dict(FAST, max_iter=2))
    torch.manual_seed(999)
    b, _ = train_gru_classifier(X, y, **dict(FAST, max_iter=2))
    _assert_same_weights(a, b)


def test_zero_epochs_returns_initial_model():
    X, y = sign_task(n=8, t=5)
    model, report = train_gru_classifier(X, y, **dict(FAST, max_iter=0), random_state=5)
    assert report["n_steps"] == 0
    # Same init as the seeded constructor under the same seed.
    _assert_same_weights(model, GRUClassifier(3, 2, hidden_size=8, random_state=5))


# --------------------------------------------------------------------------- cache


class _StepCounter:
    """Counts Adam steps while patched in."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = torch.optim.Adam.step

        def step(opt, *args, **kwargs):
            self.calls += 1
            return original(opt, *args, **kwargs)

        monkeypatch.setattr(torch.optim.Adam, "step", step)


def test_cache_hit_returns_identical_model_without_training(tmp_path, monkeypatch):
    X, y = sign_task(n=32, t=10)
    Xt, yt = sign_task(n=8, t=10, seed=3)
    params = dict(FAST, max_iter=3, cache_dir=tmp_path)
    counter = _StepCounter(monkeypatch)
    a, ra = train_gru_classifier(X, y, Xt, yt, **params)
    assert counter.calls == ra["n_steps"] == 6 and ra["cached"] is False
    assert ra["path"] is not None and os.path.isfile(ra["path"])
    assert ra["key"][:40] in os.path.basename(ra["path"])
    assert os.path.dirname(ra["path"]) == str(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [os.path.basename(ra["path"])]  # no temp file left

    b, rb = train_gru_classifier(X, y, Xt, yt, **params)
    assert counter.calls == 6, "a cache hit must not take any optimiser step"
    assert rb["cached"] is True and rb["n_steps"] == 0 and rb["path"] == ra["path"]
    _assert_same_weights(a, b)
    assert not b.training and isinstance(b, GRUClassifier)
    x = torch.as_tensor(Xt, dtype=torch.float32)
    with torch.no_grad():
        torch.testing.assert_close(b(x), a(x), rtol=0, atol=0)
    for key in ("train_accuracy", "test_accuracy", "final_loss", "train_seconds", "n_parameters", "random_state"):
        assert rb[key] == ra[key], key

    # Test data is not part of the key: other test data still hits, with its own accuracy.
    _, rc = train_gru_classifier(X, y, **params)
    assert rc["cached"] is True and rc["test_accuracy"] is None and counter.calls == 6


def test_cache_miss_on_other_seed_data_or_hyperparameter(tmp_path, monkeypatch):
    X, y = sign_task(n=16, t=8)
    params = dict(FAST, max_iter=1, cache_dir=tmp_path)
    counter = _StepCounter(monkeypatch)
    _, r0 = train_gru_classifier(X, y, **params)
    _, r1 = train_gru_classifier(X, y, **dict(params, random_state=1))
    X2 = X.copy()
    X2[0, 0, 0] += 1e-3
    _, r2 = train_gru_classifier(X2, y, **params)
    y2 = y.copy()
    y2[0, 0] = 1 - y2[0, 0]
    _, r3 = train_gru_classifier(X, y2, **params)
    _, r4 = train_gru_classifier(X, y, **dict(params, weight_decay=1e-3))
    reports = [r0, r1, r2, r3, r4]
    assert not any(r["cached"] for r in reports)
    assert len({r["path"] for r in reports}) == 5
    assert counter.calls == 5
    assert len(list(tmp_path.glob("*.pt"))) == 5


def test_cache_never_loads_a_file_with_another_key(tmp_path):
    X, y = sign_task(n=16, t=8)
    params = dict(FAST, max_iter=1, cache_dir=tmp_path)
    _, ra = train_gru_classifier(X, y, **params)
    # Forge the file: same name, another key inside.
    payload = torch.load(ra["path"], weights_only=True)
    payload["key"] = "0" * 64
    torch.save(payload, ra["path"])
    _, rb = train_gru_classifier(X, y, **params)
    assert rb["cached"] is False
    # A corrupt file is retrained and rewritten too.
    with open(ra["path"], "wb") as fh:
        fh.write(b"not a torch file")
    _, rc = train_gru_classifier(X, y, **params)
    assert rc["cached"] is False
    _, rd = train_gru_classifier(X, y, **params)
    assert rd["cached"] is True


def test_cache_dir_is_created(tmp_path):
    X, y = sign_task(n=8, t=5)
    target = tmp_path / "a" / "b"
    _, report = train_gru_classifier(X, y, **dict(FAST, max_iter=1, cache_dir=str(target)))
    assert os.path.isfile(report["path"]) and target.is_dir()


# --------------------------------------------------------------------------- validation


def _bad_inputs():
    X, y = sign_task(n=8, t=5)
    X_nan = X.copy()
    X_nan[1, 2, 3] = np.nan
    y_neg = y.copy()
    y_neg[0, 0] = -1
    return [
        ((X[0], y[0]), {}, "3D array"),
        ((X.reshape(8, 3, 5, 1), y), {}, "3D array"),
        ((X, y[:7]), {}, "8 series but y_train has 7"),
        ((X, y[:, :4]), {}, "do not match the 5 time steps"),
        ((X, y[..., None]), {}, r"\(N,\) or per-time"),
        ((X_nan, y), {}, "NaN"),
        ((X, y_neg), {}, ">= 0"),
        ((X, y + 0.5), {}, "integer class labels"),
        ((X, y.astype(str)), {}, "integer class labels"),
        ((X, y, X), {}, "both X_test and y_test"),
        ((X, y, X[:, :2], y), {}, "2 channels"),
        ((X, y, X, y[:, 0]), {}, "same label layout"),
        ((X, y, X, y[:4]), {}, "X_test has 8 series but y_test has 4"),
        ((X, y), dict(max_iter=-1), "max_iter"),
        ((X, y), dict(batch_size=0), "batch_size"),
        ((X, y), dict(hidden_size=0), "hidden_size"),
        ((X, y), dict(learning_rate=0.0), "learning_rate"),
        ((X, y), dict(weight_decay=-1.0), "weight_decay"),
        ((X, y), dict(random_state=-3), "random_state"),
        ((X, y), dict(random_state="seed"), "random_state"),
        ((X, y), dict(device="tpu-ish"), "device"),
    ]


@pytest.mark.parametrize("args, kwargs, match", _bad_inputs())
def test_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        train_gru_classifier(*args, **dict(dict(FAST, max_iter=1), **kwargs))


def test_docstring_examples():
    result = doctest.testmod(black_box_module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
