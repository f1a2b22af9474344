"""Per-step cost against the floor as the number of channels grows.

Usage::

    python benchmarks/channels.py                                  # C = 3, 8, 32, 64; the three explainers
    python benchmarks/channels.py --channels 32 64 --hidden 64 200 --explainer contralsp extremal_mask_bigru

The black box is a GRU classifier (:class:`~sklearn_tsmask.datasets.GRUClassifier`, logits of the last step) with
``--hidden`` units, on random series (N, C, T): the cost of a step does not depend on what the model learned.
For each size, each explainer explains the series once with ``--short`` and ``--long`` steps (stopping rule off);
the difference isolates the time per step, which is divided by the floor (one forward + one backward of the
black box alone on the same batch, timed right after). ``extremal_mask`` is the default (no network);
``extremal_mask_bigru`` the paper's bidirectional-GRU perturbation; ``contralsp`` its defaults (a bidirectional
GRU and a trend MLP per channel). Appends a section to ``benchmarks/RESULTS.md``.
"""

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._measure import explain_once, floor_seconds, publish  # noqa: E402
from benchmarks.run import section_header  # noqa: E402
from sklearn_tsmask import ContraLSP, DynaMask, ExtremalMask  # noqa: E402
from sklearn_tsmask.datasets import GRUClassifier  # noqa: E402
from sklearn_tsmask.perturbation_nets import ConvPerturbation, RecurrentPerturbation  # noqa: E402

def _capped_bigru(n_channels):
    return RecurrentPerturbation(n_channels, hidden_size=min(n_channels, 16))


EXPLAINERS = {
    "dynamask": lambda: DynaMask(area=0.1, device="cpu"),
    "extremal_mask": lambda: ExtremalMask(device="cpu", random_state=0),
    "extremal_mask_bigru": lambda: ExtremalMask(perturbation="bigru", device="cpu", random_state=0),
    "contralsp": lambda: ContraLSP(device="cpu", random_state=0),
    # a bidirectional GRU perturbation with at most 16 hidden units per direction (instead of C)
    "extremal_mask_bigru16": lambda: ExtremalMask(perturbation=_capped_bigru, device="cpu", random_state=0),
    "contralsp_bigru16": lambda: ContraLSP(perturbation=_capped_bigru, device="cpu", random_state=0),
    # the convolutional perturbation (channel mixing, a blind-spot filter over 11 steps, mixing back)
    "extremal_mask_conv": lambda: ExtremalMask(perturbation="conv", device="cpu", random_state=0),
    "contralsp_conv": lambda: ContraLSP(perturbation="conv", device="cpu", random_state=0),
    # the same with 16 features instead of 2C (cheaper; measured as good for ExtremalMask, not for ContraLSP)
    "extremal_mask_conv16": lambda: ExtremalMask(perturbation=functools.partial(ConvPerturbation, hidden_size=16),
                                                 device="cpu", random_state=0),
}


def add_size_arguments(parser, *, channels, hidden, reps):
    """The options shared by the scripts that time a step on random series against a GRU black box."""
    parser.add_argument("--channels", nargs="+", type=int, default=channels)
    parser.add_argument("--hidden", nargs="+", type=int, default=hidden, help="GRU black box's hidden units")
    parser.add_argument("--n-series", type=int, default=32)
    parser.add_argument("--timepoints", type=int, default=100)
    parser.add_argument("--reps", type=int, default=reps)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-save", action="store_true")


def seconds(explainer, X, model, steps):
    explainer.set_params(max_iter=steps, tol=None)
    start = time.perf_counter()
    explain_once(explainer, X, model)
    return time.perf_counter() - start


def measure(name, X, model, args):
    explainer = EXPLAINERS[name]()
    seconds(explainer, X, model, 2)  # warm-up
    rows = []
    for _ in range(args.reps):
        short = seconds(explainer, X, model, args.short)
        long = seconds(explainer, X, model, args.long)
        step = (long - short) / (args.long - args.short)
        _, floor = floor_seconds(explainer, X, args.long, reps=9)
        rows.append((step, floor))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--explainer", nargs="+", choices=sorted(EXPLAINERS),
                        default=["extremal_mask", "extremal_mask_bigru", "contralsp"])
    add_size_arguments(parser, channels=[3, 8, 32, 64], hidden=[64], reps=3)
    parser.add_argument("--short", type=int, default=5)
    parser.add_argument("--long", type=int, default=25)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    lines = [
        *section_header("Per-step cost against the floor by number of channels", torch.device("cpu"),
                        "benchmarks/channels.py", argv),
        f"- {args.n_series} random series × {args.timepoints} steps; black box GRUClassifier(C → H, last step, 4 classes); "
        f"per step = (explanation with {args.long} steps − with {args.short}) / {args.long - args.short}; floor = "
        "median of 9 forward+backward passes of the black box on the same batch, timed right after",
        "",
        "| C | black box H | explainer | per step (ms) | floor (ms) | ratio per repetition | median ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    rng = np.random.RandomState(0)
    for hidden in args.hidden:
        for C in args.channels:
            X = rng.randn(args.n_series, C, args.timepoints).astype(np.float32)
            model = GRUClassifier(n_channels=C, n_classes=4, hidden_size=hidden, output="last", random_state=0)
            for name in args.explainer:
                rows = measure(name, X, model, args)
                ratios = [s / f for s, f in rows]
                print(f"C={C} H={hidden} {name}: ratios {[round(r, 2) for r in ratios]}", flush=True)
                lines.append(
                    f"| {C} | {hidden} | {name} | {statistics.median(s for s, _ in rows) * 1e3:.1f} | "
                    f"{statistics.median(f for _, f in rows) * 1e3:.1f} | {', '.join(f'{r:.2f}' for r in ratios)} | "
                    f"{statistics.median(ratios):.2f} |"
                )
    publish("\n".join(lines) + "\n", no_save=args.no_save)


if __name__ == "__main__":
    main()
