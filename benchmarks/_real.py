"""Real panels shipped inside sktime and aeon, and the black boxes explained on them.

No ground truth: the explainers are compared by faithfulness (comprehensiveness,
sufficiency, accuracy drop, cumulative prediction difference / preservation).

=================  ==========================================  ==================
benchmark          data (bundled with the package, no download)  series explained
=================  ==========================================  ==================
``basicmotions``   sktime ``load_basic_motions``: 6 channels       all 40 test series
                   (accelerometer, gyroscope) × 100 steps, 4
                   activities, 40 train / 40 test
``japanesevowels`` aeon ``load_classification("JapaneseVowels")``  first 100 of 370
                   12 cepstral channels, 7-29 steps, 9 speakers,
                   270 train / 370 test; resampled to 29 steps
                   (linear interpolation, the usual equal-length
                   version) because the metrics need one length
``italypower``     sktime ``load_italy_power_demand``: 1         first 100 of 1029
                   channel × 24 hourly loads, 2 seasons, 67
                   train / 1029 test
=================  ==========================================  ==================

Every channel is standardised with the training set's mean and standard
deviation (so the value 0 is the training mean); the explainers see the
standardised test series.

Black boxes (``--black-box``):

* ``gru``: :func:`sklearn_tsmask.datasets.train_gru_classifier` with one label
  per series (logits of the last step), 64 hidden units, the linear head, Adam
  (``GRU_TRAINING``: lr 1e-3, 150 passes, minibatches of 16; BasicMotions lr
  3e-3, 300 passes, minibatches of 8); trained once per seed and cached in
  ``benchmarks/_cache`` like the State GRU. (GunPoint was tried and dropped: a
  last-step GRU stays at chance on its 50 training series of 150 steps with
  both settings; ItalyPowerDemand is the univariate panel.)
* ``minirocket``: sktime's ``MiniRocketMultivariate`` → ``StandardScaler`` →
  ``LogisticRegression`` (an sktime ``SklearnClassifierPipeline``), explained
  without gradients through :class:`~sklearn_tsmask.black_boxes.ZerothOrderModel`
  (16 antithetic directions per step); refitted each run (seconds).
"""

from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent / "_cache"

#: Real benchmarks -> number of test series explained by default.
REAL = {"basicmotions": 40, "japanesevowels": 100, "italypower": 100}
#: GRU training per panel (learning rate, passes, minibatch): the smallest of (1e-3, 150, 16) and (3e-3, 300, 8)
#: that fits the training set (BasicMotions: 0.85 -> 0.95 test accuracy with the second).
GRU_TRAINING = {"basicmotions": (3e-3, 300, 8), "japanesevowels": (1e-3, 150, 16), "italypower": (1e-3, 150, 16)}
BLACK_BOXES = ("gru", "minirocket")
_JV_LENGTH = 29


def _resample(series, length):
    """(C, L) -> (C, length) by linear interpolation along time."""
    series = np.asarray(series, dtype=np.float64)
    old = np.linspace(0.0, 1.0, series.shape[1])
    new = np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(new, old, channel) for channel in series])


def load_raw(name):
    """(X_train, y_train, X_test, y_test) as float64 numpy3D arrays and label arrays."""
    if name == "basicmotions":
        from sktime.datasets import load_basic_motions

        X_train, y_train = load_basic_motions(split="train", return_type="numpy3D")
        X_test, y_test = load_basic_motions(split="test", return_type="numpy3D")
    elif name == "italypower":
        from sktime.datasets import load_italy_power_demand

        X_train, y_train = load_italy_power_demand(split="train", return_type="numpy3D")
        X_test, y_test = load_italy_power_demand(split="test", return_type="numpy3D")
    elif name == "japanesevowels":
        from aeon.datasets import load_classification

        out = []
        for split in ("train", "test"):
            X, y = load_classification("JapaneseVowels", split=split)
            out += [np.stack([_resample(x, _JV_LENGTH) for x in X]), np.asarray(y)]
        X_train, y_train, X_test, y_test = out
    else:  # pragma: no cover - guarded by load_task
        raise ValueError(f"unknown real benchmark {name!r}; choose from {sorted(REAL)}")
    return (np.asarray(X_train, dtype=np.float64), np.asarray(y_train), np.asarray(X_test, dtype=np.float64),
            np.asarray(y_test))


def standardised(name):
    """The panel standardised per channel with the training statistics, labels encoded 0..K-1."""
    X_train, y_train, X_test, y_test = load_raw(name)
    mean = X_train.mean(axis=(0, 2), keepdims=True)
    std = X_train.std(axis=(0, 2), keepdims=True)
    std[std == 0] = 1.0
    classes, y_train_enc = np.unique(y_train, return_inverse=True)
    y_test_enc = np.searchsorted(classes, y_test)
    return ((X_train - mean) / std).astype(np.float32), y_train_enc, ((X_test - mean) / std).astype(np.float32), \
        y_test_enc, classes


def make_black_box(name, kind, X_train, y_train, X_test, y_test, seed, device):
    """The fitted black box, the model the explainers take, and a description with its test accuracy."""
    if kind == "gru":
        from sklearn_tsmask.datasets import train_gru_classifier

        lr, passes, batch = GRU_TRAINING[name]
        model, report = train_gru_classifier(
            X_train, y_train, X_test, y_test, hidden_size=64, head="linear", max_iter=passes, learning_rate=lr,
            batch_size=batch, random_state=seed, cache_dir=CACHE, device=device,
        )
        return model, {"model": "GRU(C→64) + linear head, logits of the last step",
                       "test_accuracy": report["test_accuracy"], "train_seconds": report["train_seconds"],
                       "model_cached": report["cached"]}
    if kind == "minirocket":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sktime.classification.compose import SklearnClassifierPipeline
        from sktime.transformations.panel.rocket import MiniRocketMultivariate

        from sklearn_tsmask.black_boxes import ZerothOrderModel

        clf = SklearnClassifierPipeline(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
            [MiniRocketMultivariate(random_state=seed)],
        )
        clf.fit(X_train.astype(np.float64), y_train)
        accuracy = float(np.mean(clf.predict(X_test.astype(np.float64)) == y_test))
        return ZerothOrderModel(clf, n_directions=16, random_state=seed), {
            "model": "sktime MiniRocketMultivariate → StandardScaler → LogisticRegression, log predict_proba "
                     "through ZerothOrderModel(16 directions)",
            "test_accuracy": accuracy, "gradients": False}
    raise ValueError(f"unknown black box {kind!r}; choose from {BLACK_BOXES}")


def load_real(name, seed, *, n_explain=None, black_box="gru", device="auto"):
    """Arguments of a :class:`~benchmarks._tasks.Task` for a real benchmark (no ground truth)."""
    X_train, y_train, X_test, y_test, classes = standardised(name)
    model, info = make_black_box(name, black_box, X_train, y_train, X_test, y_test, seed, device)
    n = REAL[name] if n_explain is None else n_explain
    n = min(n, len(X_test))
    info.update({"black_box": black_box, "n_test": len(X_test), "n_classes": len(classes),
                 "shape": f"{X_test.shape[1]} channels × {X_test.shape[2]} steps"})
    return X_test[:n], model, info
