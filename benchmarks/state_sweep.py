"""Sweep DynaMask settings on State to see what the error signal needs.

Usage: python benchmarks/state_sweep.py [--n 50] [--device cuda]
Prints AUP / AUR / seconds per setting (first seed, first n test series).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the benchmarks package

from benchmarks._tasks import load_task  # noqa: E402
from sklearn_tsmask import DynaMask  # noqa: E402
from sklearn_tsmask.metrics import aup, aur  # noqa: E402

AREAS = [round(0.25 + 0.01 * k, 2) for k in range(10)]
BASE = dict(area=AREAS, sigma_max=1.0, lambda_area=0.1, lambda_area_growth=100.0, lambda_time=1.0,
            max_iter=1000, learning_rate=1.0, momentum=0.9)
SETTINGS = {
    "paper-sgd-lr1-mse": {},
    "ce": dict(loss="log_loss"),
    "sgd-lr0.1": dict(learning_rate=0.1),
    "sgd-lr0.01": dict(learning_rate=0.01),
    "ce-sgd-lr0.1": dict(loss="log_loss", learning_rate=0.1),
    "adam-lr0.01": dict(solver="adam", learning_rate=0.01),
    "adam-lr0.1": dict(solver="adam", learning_rate=0.1),
    "lambda0-0.01": dict(lambda_area=0.01),
    "no-time-reg": dict(lambda_time=0.0),
    "deletion": dict(mode="deletion"),
    "fade-moving-average": dict(perturbation="fade_moving_average"),
    "ce-adam-lr0.01": dict(loss="log_loss", solver="adam", learning_rate=0.01),
    "fade-zero": dict(perturbation="fade_reference", baseline=0.0),
    "fade-zero-ce": dict(perturbation="fade_reference", baseline=0.0, loss="log_loss"),
    "fade-zero-lambda0-0.01": dict(perturbation="fade_reference", baseline=0.0, lambda_area=0.01),
    "fade-zero-adam-lr0.01": dict(perturbation="fade_reference", baseline=0.0, solver="adam", learning_rate=0.01),
}

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--device", default="auto")
    p.add_argument("--data", default="state")
    p.add_argument("--only", nargs="*")
    a = p.parse_args()
    task = load_task(a.data, 0, n_explain=a.n, device=a.device)
    DynaMask(**{**BASE, "max_iter": 3}, device=a.device).fit_transform(task.X[:2], task.model)  # warm-up
    for name, kw in SETTINGS.items():
        if a.only and name not in a.only:
            continue
        est = DynaMask(**{**BASE, **kw}, device=a.device, random_state=0)
        t = time.perf_counter()
        explanation = est.fit(task.X, task.model).explain(task.X)  # DynaMask's fit is free: one optimisation
        dt = time.perf_counter() - t
        m = explanation.masks
        print(f"{a.data} {name:22s} AUP {aup(task.true_saliency, m):.3f} AUR {aur(task.true_saliency, m):.3f} "
              f"{dt:6.1f} s  areas {np.unique(explanation.area).tolist()}", flush=True)
