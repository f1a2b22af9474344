"""The six synthetic benchmarks: data, ground truth and the model to explain.

Each benchmark is loaded as a :class:`Task` holding the series to explain, their
true saliency, the black box, and the per-series model inputs it needs (group
ids of the DiffGroups white boxes); ``Task.panel`` is what the explainers take:
the series, bundled with those inputs in a :class:`~sklearn_tsmask.WithInputs`
where there are any. The GRU black boxes of State and
Switch-Feature are trained once per seed and cached in ``benchmarks/_cache``.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent / "_cache"

#: Published (AUP, AUR) per benchmark and method (the three papers' tables).
PAPER = {
    "rare-time": {"DynaMask": (0.99, 0.67), "ExtremalMask": (1.00, 0.88), "ContraLSP": (1.00, 0.97)},
    "rare-feature": {"DynaMask": (0.97, 0.65), "ExtremalMask": (1.00, 0.76), "ContraLSP": (1.00, 1.00)},
    "rare-time-diffgroups": {"DynaMask": (0.99, 0.51), "ExtremalMask": (1.00, 0.83), "ContraLSP": (1.00, 0.94)},
    "rare-feature-diffgroups": {"DynaMask": (0.98, 0.52), "ExtremalMask": (1.00, 0.70), "ContraLSP": (1.00, 0.99)},
    "state": {"DynaMask": (0.36, 0.79), "ExtremalMask": (0.87, 0.77), "ContraLSP": (0.90, 0.81)},
    "switch-feature": {"DynaMask": (0.35, 0.77), "ExtremalMask": (0.97, 0.65), "ContraLSP": (0.98, 0.80)},
}
#: Reference implementations measured on this project's machines (tint 0.3.0 / ContraLSP repo, 20 State test series, 2 CPU cores).
MEASURED_REFERENCES = {
    "state": {
        "DynaMask": "tint 0.3.0 (PL 1.9.5): AUP 0.82 / AUR 0.85, 65 s per series",
        "ExtremalMask": "tint 0.3.0: AUP 0.92 / AUR 0.77, 8.2 s per series",
        "ContraLSP": "ContraLSP repo: AUP 0.90 / AUR 0.81, 7.9 s per series",
    }
}

#: The synthetic benchmarks (ground truth: AUP, AUR, ... and the cumulative metrics on the GRU ones).
SYNTHETIC = tuple(PAPER)
#: Real panels bundled with sktime / aeon (no ground truth: faithfulness metrics only); see ``_real.py``.
REAL = ("basicmotions", "japanesevowels", "italypower")
BENCHMARKS = SYNTHETIC + REAL


def is_real(name):
    """Whether ``name`` is a real panel (no ground truth)."""
    return name in REAL


@dataclass
class Task:
    """One benchmark instance (one seed)."""

    name: str
    X: np.ndarray
    #: ground truth, None on the real panels
    true_saliency: object
    model: object
    #: per-series model inputs besides the series (name -> array with one row per series), {} when none
    inputs: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @property
    def panel(self):
        """The series as the explainers take them: ``WithInputs(X, **inputs)``, or ``X`` when there are no inputs.

        Sliced like an array (``task.panel[:2]``), the inputs with their series.
        """
        from sklearn_tsmask import WithInputs

        return WithInputs(self.X, **self.inputs) if self.inputs else self.X


def _rare(name, seed, n_samples):
    from sklearn_tsmask.datasets import make_rare_feature, make_rare_time

    make = make_rare_feature if name.startswith("rare-feature") else make_rare_time
    diffgroups = name.endswith("diffgroups")
    X, truth, white_box, groups = make(n_samples=n_samples, diffgroups=diffgroups, return_groups=True, random_state=seed)
    inputs = {"groups": groups} if diffgroups else {}
    return Task(name, X, truth, white_box, inputs, {"model": "white box", "n_groups": int(white_box.salient.shape[0])})


def _hmm(name, seed, n_explain, device):
    from sklearn_tsmask.datasets import make_state, make_switch_feature, train_gru_classifier

    data = (make_state if name == "state" else make_switch_feature)(random_state=seed)
    # trained (or loaded from the cache) on the CPU whatever the explainers' device: a GPU run explains the same
    # black box as the CPU figures (a GPU-trained one would differ, and the cache key includes the device)
    model, report = train_gru_classifier(
        data.X_train, data.y_train, data.X_test, data.y_test, random_state=seed, cache_dir=CACHE, device="cpu"
    )
    n = len(data.X_test) if n_explain is None else min(n_explain, len(data.X_test))
    info = {
        "model": "GRU(3→200) + head, logits at every step",
        "test_accuracy": report["test_accuracy"],
        "train_seconds": report["seconds"],
        "model_cached": report["cached"],
        "n_test": len(data.X_test),
    }
    return Task(name, data.X_test[:n], data.true_saliency_test[:n], model, {}, info)


def load_task(name, seed, *, n_samples=100, n_explain=None, device="auto", black_box="gru"):
    """Load benchmark ``name`` for ``seed``.

    Parameters
    ----------
    name : str
        One of :data:`BENCHMARKS`.
    seed : int
        Seed of the data (and of the black box's training).
    n_samples : int
        Number of series of the rare benchmarks.
    n_explain : int or None
        Number of test series explained for State / Switch-Feature (None = all 200) and the real
        panels (None = their default, ``_real.REAL``).
    device : str
        Device used to train the GRU black box when it is not cached.
    black_box : {"gru", "minirocket"}
        The black box of the real panels (ignored by the synthetic ones).
    """
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose from {BENCHMARKS}")
    if name.startswith("rare"):
        return _rare(name, seed, n_samples)
    if is_real(name):
        from ._real import load_real

        X, model, info = load_real(name, seed, n_explain=n_explain, black_box=black_box, device=device)
        return Task(name, X, None, model, {}, info)
    return _hmm(name, seed, n_explain, device)
