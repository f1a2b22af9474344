"""StartGrad against the constant start: how many optimisation steps until the final quality.

    python benchmarks/startgrad.py [--explainer extremal_mask contralsp dynamask] [--data state switch-feature]
        [--n-explain 50] [--dynamask-n-explain 10]

For each explainer (its ``--preset`` settings on the GRU benchmarks, the stopping
rule off so that every run makes the same number of steps) and each start
(``mask_init="constant"`` and ``"startgrad"``), one run explains the first test
series; a callback takes the masks of the batch at checkpoints (every 5 % of the
steps, and at steps 1, 5, 10, 25) from the method's own ``result()`` — the masks
it would return if it stopped there — and AUP / AUR are computed at each
checkpoint. Reported: AUP / AUR at the checkpoints, the first step at which both
reach 99 % of the constant start's final values, and the wall seconds of each
run (checkpoints included, the same for both starts). Appends to
``benchmarks/RESULTS.md``.
"""

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.run import make_explainer, machine, versions  # noqa: E402
from benchmarks._measure import ObjectiveTap, publish  # noqa: E402
from benchmarks._tasks import load_task  # noqa: E402
from sklearn_tsmask.metrics import aup, aur  # noqa: E402
from sklearn_tsmask._utils import resolve_device  # noqa: E402


class Snapshots(ObjectiveTap):
    """Masks of every batch at the checkpoint steps, read from the objective the explainer builds."""

    def __init__(self, explainer, checkpoints, n_series, shape):
        super().__init__(explainer)
        self.checkpoints = sorted(checkpoints)
        self.masks = {k: np.full((n_series, *shape), np.nan) for k in self.checkpoints}

    def on_epoch_end(self, epoch, loss):
        step = epoch + 1
        if step in self.masks:
            with torch.no_grad():
                masks = self.objective.result().masks.detach().cpu().numpy()
            self.masks[step][self.rows] = masks
        return False


def run(name, bench, init, args):
    task = load_task(bench, 0, n_explain=args.n_explain if name != "dynamask" else args.dynamask_n_explain,
                     device="cpu")
    _, est, params = make_explainer(name, bench, {"mask_init": init, "tol": None}, "cpu", 0, args.preset)
    T = est.max_iter
    checkpoints = sorted({1, 5, 10, 25, *[max(1, round(T * f / 20)) for f in range(1, 21)]} - {0})
    checkpoints = [c for c in checkpoints if c <= T]
    snap = Snapshots(est, checkpoints, len(task.X), task.X.shape[1:])
    est.set_params(callbacks=[snap])
    start = time.perf_counter()
    final = est.fit_transform(task.X, model=task.model)
    seconds = time.perf_counter() - start
    snap.masks[T] = final  # what the explainer returned
    curve = {k: (aup(task.true_saliency, m), aur(task.true_saliency, m)) for k, m in snap.masks.items()}
    return curve, seconds, len(task.X), params


def first_reaching(curve, goal_aup, goal_aur):
    for step in sorted(curve):
        p, r = curve[step]
        if p >= goal_aup and r >= goal_aur:
            return step
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--explainer", nargs="+", default=["extremal_mask", "contralsp", "dynamask"])
    parser.add_argument("--data", nargs="+", default=["state", "switch-feature"])
    parser.add_argument("--preset", default="recommended", choices=["paper", "recommended"])
    parser.add_argument("--n-explain", type=int, default=50)
    parser.add_argument("--dynamask-n-explain", type=int, default=10,
                        help="DynaMask optimises 10 areas for 1000 steps: fewer series")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    rows, details = [], []
    for name in args.explainer:
        for bench in args.data:
            res = {init: run(name, bench, init, args) for init in ("constant", "startgrad")}
            c_curve, c_sec, n, params = res["constant"]
            s_curve, s_sec, _, _ = res["startgrad"]
            T = max(c_curve)
            goal = (0.99 * c_curve[T][0], 0.99 * c_curve[T][1])
            c_step, s_step = first_reaching(c_curve, *goal), first_reaching(s_curve, *goal)
            display = {"extremal_mask": "ExtremalMask", "contralsp": "ContraLSP", "dynamask": "DynaMask"}[name]
            rows.append(
                f"| {display} | {bench} | {n} | {T} | {c_curve[T][0]:.3f} / {c_curve[T][1]:.3f} | "
                f"{s_curve[T][0]:.3f} / {s_curve[T][1]:.3f} | {c_step} | {s_step if s_step else 'not reached'} | "
                f"{c_sec:.1f} | {s_sec:.1f} |"
            )
            steps = sorted(c_curve)
            details.append(f"- {display}, {bench} (AUP / AUR at steps {', '.join(map(str, steps))}): constant "
                           + ", ".join(f"{c_curve[k][0]:.2f}/{c_curve[k][1]:.2f}" for k in steps)
                           + "; startgrad " + ", ".join(f"{s_curve[k][0]:.2f}/{s_curve[k][1]:.2f}" for k in steps))
            details.append("  - settings: " + ", ".join(f"{k}={v}" for k, v in params.items()
                                                        if k not in ("device", "random_state", "mask_init", "area")))
            print(rows[-1], flush=True)
    text = "\n".join([
        f"## StartGrad against the constant start — {datetime.datetime.now():%Y-%m-%d %H:%M}, cpu",
        "",
        f"- machine: {machine(resolve_device('cpu'))}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        f"- command: `python benchmarks/startgrad.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
        f"- preset {args.preset}, stopping rule off; steps to goal = first checkpoint where AUP and AUR are both "
        "≥ 99 % of the constant start's final values (checkpoints: steps 1, 5, 10, 25 and every 5 % of the run)",
        "",
        "| explainer | benchmark | series | steps | final AUP / AUR, constant | final AUP / AUR, StartGrad | "
        "steps to goal, constant | steps to goal, StartGrad | seconds, constant | seconds, StartGrad |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        *details,
        "",
    ])
    publish(text, no_save=args.no_save)


if __name__ == "__main__":
    main()
