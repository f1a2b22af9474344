"""DynaMask over a wide grid of areas: can one default choose the area per series?

Usage::

    python benchmarks/dynamask_areas.py --data rare-time rare-feature-diffgroups --n 100
    python benchmarks/dynamask_areas.py --data state --n 20
    python benchmarks/dynamask_areas.py --data state --n 20 --set lambda_time=1.0 --set max_iter=500

Optimises DynaMask (``fade_reference`` to 0, the library's other defaults, ``loss="auto"``) jointly over the areas
0.01 … 0.5 and reads every area's masks and errors from the optimisation (not only the selected one). Reports AUP
/ AUR for each area, for the lowest-error selection, for DynaMask's scale-free rule at several shares ``tau`` (per
series, the smallest area whose error is within ``tau`` of the series' error scale above its lowest error: the larger
of the range and the lowest error's distance from the unperturbed error) and for the mean of the masks over
the areas. The question is whether one default can serve a benchmark whose truth covers 5% of the entries (the rare
ones) and one whose truth covers a third (State).
"""

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._measure import ObjectiveTap, publish  # noqa: E402
from benchmarks._tasks import load_task  # noqa: E402
from benchmarks.run import parse_overrides  # noqa: E402
from sklearn_tsmask import DynaMask  # noqa: E402
from sklearn_tsmask.dynamask import within_share  # noqa: E402
from sklearn_tsmask.metrics import aup, aur  # noqa: E402

AREAS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5]
TAUS = (0.01, 0.02, 0.05, 0.1, 0.2)


class AllAreas(ObjectiveTap):
    """The masks and errors of every area at the end of each batch, read from the objective."""

    def __init__(self, explainer):
        super().__init__(explainer)
        self.masks, self.errors, self.unperturbed = [], [], []

    def on_batch_end(self, n_iter):
        with torch.no_grad():
            mask = self.objective.mask.detach()
            self.masks.append(mask.cpu().numpy())
            self.errors.append(self.objective.errors(mask).cpu().numpy())
            batch = self.objective.batch
            self.unperturbed.append(batch.output_error(batch.target).cpu().numpy())


#: The settings every area runs with, before ``--set``.
SETTINGS = dict(perturbation="fade_reference", baseline=0.0, loss="auto")


def run(name, n, lines, settings, areas=AREAS, dump=None):
    task = load_task(name, 0, n_samples=n, n_explain=n, device="cpu")
    X, truth = task.panel, task.true_saliency
    explainer = DynaMask(area=areas, **settings, device="cpu", random_state=0)
    grab = AllAreas(explainer)
    explainer.set_params(callbacks=[grab])
    start = time.perf_counter()
    explanation = explainer.fit(X, task.model).explain(X)
    seconds = time.perf_counter() - start
    masks, errors = np.concatenate(grab.masks), np.concatenate(grab.errors)  # (N, V, C, T), (N, V)
    unperturbed = np.concatenate(grab.unperturbed)  # (N,): the error of the series as they are
    if dump:  # every area's masks and errors, to try selection rules without optimising again
        Path(dump).mkdir(parents=True, exist_ok=True)
        np.savez_compressed(Path(dump) / f"{name}.npz", masks=masks.astype(np.float32), errors=errors,
                            truth=truth, areas=np.asarray(areas), unperturbed=unperturbed)
    rows = [(f"area {a}", aup(truth, masks[:, v]), aur(truth, masks[:, v]), f"{errors[:, v].mean():.4g}")
            for v, a in enumerate(areas)]
    rows.append(("lowest error (chosen median %.2f)" % np.median(explanation.area), aup(truth, explanation.masks),
                 aur(truth, explanation.masks), ""))
    for tau in TAUS:  # DynaMask's own rule (relative_epsilon=tau) on the errors of every area
        index = within_share(torch.as_tensor(errors), tau, unperturbed=torch.as_tensor(unperturbed)).numpy()
        chosen = masks[np.arange(len(index)), index]
        rows.append((f"knee, tau {tau} (chosen median {np.median(np.asarray(areas)[index]):.2f})",
                     aup(truth, chosen), aur(truth, chosen), ""))
    mean = masks.mean(1)
    rows.append(("mean of the masks over the areas", aup(truth, mean), aur(truth, mean), ""))
    lines += ["", f"**{name}** ({len(truth)} series, truth covers {truth.mean():.3f} of the entries, loss "
                  f"{explainer.loss_}, {seconds:.0f} s, {seconds / len(truth):.2f} s per series)", "",
              "| masks | AUP | AUR | mean error |", "|---|---|---|---|"]
    lines += [f"| {label} | {p:.3f} | {r:.3f} | {e} |" for label, p, r, e in rows]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["rare-time", "rare-feature-diffgroups", "state"])
    parser.add_argument("--n", type=int, default=20, help="series per benchmark")
    parser.add_argument("--areas", type=float, nargs="+", default=AREAS, help="the grid of areas")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting of DynaMask")
    parser.add_argument("--dump", metavar="DIR", help="save every area's masks and errors there (.npz)")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    settings = {**SETTINGS, **parse_overrides(args.set)}
    torch.set_num_threads(2)
    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"## DynaMask over a wide grid of areas — {date}, cpu\n",
             f"- command: `python benchmarks/dynamask_areas.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
             f"- DynaMask(area={args.areas}, " + ", ".join(f"{k}={v!r}" for k, v in settings.items())
             + "), other defaults; seed 0"]
    for name in args.data:
        run(name, args.n, lines, settings, args.areas, args.dump)
    publish("\n".join(lines) + "\n", no_save=args.no_save)


if __name__ == "__main__":
    main()
