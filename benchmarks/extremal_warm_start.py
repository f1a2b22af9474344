"""How much a warm-started perturbation network saves ExtremalMask, on State.

    python benchmarks/extremal_warm_start.py [--n-explain 20] [--n-pretrain 200] [--device cpu]

1. cold: ``ExtremalMask`` (paper settings: bigru, λ_1 = λ_2 = 1, Adam lr 0.01,
   500 epochs) fitted on the first ``n_explain`` State test series;
2. pretrain: the same fitted on ``n_pretrain`` *training* series (a one-off cost);
3. warm: ``ExtremalMask(perturbation=pretrained.perturbation_net_)`` fitted on the
   same test series, i.e. the network warm-started and fine-tuned (what
   ``transform`` does with ``transform_networks="fine_tune"``), with its loss
   curve;
4. ``transform`` of the test series by the pretrained explainer, fine-tuned and
   frozen, with the stopping rule ``tol``.

The fits are ``fit_transform`` (network and masks trained jointly, one
optimisation; the masks are the fit's, ``loss_curve_`` its mean loss per series
and step). Reports the epochs the warm start needs to reach the cold run's final loss,
quality (AUP/AUR) and seconds, and appends a section to ``benchmarks/RESULTS.md``.
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

from benchmarks._tasks import CACHE  # noqa: E402
from benchmarks.run import machine, versions  # noqa: E402
from sklearn_tsmask import ExtremalMask  # noqa: E402
from sklearn_tsmask._utils import resolve_device  # noqa: E402
from sklearn_tsmask.datasets import make_state, train_gru_classifier  # noqa: E402
from sklearn_tsmask.metrics import aup, aur  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - start


def first_epoch_at_or_below(history, level):
    hits = np.flatnonzero(history <= level)
    return int(hits[0]) + 1 if len(hits) else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-explain", type=int, default=20)
    parser.add_argument("--n-pretrain", type=int, default=200)
    parser.add_argument("--max-iter", "--n-epochs", dest="max_iter", type=int, default=500,
                        help="optimisation steps (--n-epochs: the old spelling)")
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)

    data = make_state(random_state=args.seed)
    model, report = train_gru_classifier(
        data.X_train, data.y_train, data.X_test, data.y_test, random_state=args.seed, cache_dir=CACHE, device=device
    )
    X, truth = data.X_test[: args.n_explain], data.true_saliency_test[: args.n_explain]
    X_pre = data.X_train[: args.n_pretrain]
    settings = dict(max_iter=args.max_iter, learning_rate=args.learning_rate, device=device, random_state=args.seed)

    ExtremalMask(**{**settings, "max_iter": 3}).fit(X[:2], model)  # warm-up (allocator, kernels)
    cold = ExtremalMask(**settings)
    cold_masks, t_cold = timed(lambda: cold.fit_transform(X, model))
    pre, t_pre = timed(lambda: ExtremalMask(**settings).fit(X_pre, model))
    warm = ExtremalMask(perturbation=pre.perturbation_net_, **settings)
    warm_masks, t_warm = timed(lambda: warm.fit_transform(X, model))

    target = cold.loss_curve_[-1]
    e_warm = first_epoch_at_or_below(warm.loss_curve_, target)
    rows = [
        ("cold fit (paper settings)", cold_masks, t_cold, cold.n_iter_),
        (f"warm fit (network pretrained on {args.n_pretrain} train series)", warm_masks, t_warm, warm.n_iter_),
    ]
    for mode in ("fine_tune", "frozen"):
        for tol in (None, args.tol):
            pre.set_params(transform_networks=mode, tol=tol)  # transform-time settings
            masks, t = timed(lambda: pre.transform(X))
            label = f"transform, network {mode.replace('_', '-')}" + ("" if tol is None else f", tol={tol}")
            rows.append((label, masks, t, None))

    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        f"\n## ExtremalMask warm start on State — {date}, {device.type}\n",
        f"- machine: {machine(device)}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        f"- command: `python benchmarks/extremal_warm_start.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
        f"- data: first {args.n_explain} State test series (seed {args.seed}); black box GRU(3→200), test accuracy "
        f"{report['test_accuracy']:.3f}; settings: bigru, λ_1 = λ_2 = 1, Adam lr {args.learning_rate}, "
        f"{args.max_iter} epochs",
        f"- pretraining the network on {args.n_pretrain} training series (one-off): {t_pre:.1f} s",
        f"- cold fit final loss {target:.4f}; the warm start reaches it at epoch "
        f"{e_warm if e_warm else f'> {args.max_iter}'} of {args.max_iter}"
        + (f" ({args.max_iter / e_warm:.1f}× fewer epochs)" if e_warm else ""),
        "",
        "| run | AUP | AUR | seconds | s / series | epochs |",
        "|---|---|---|---|---|---|",
    ]
    for label, masks, t, n_iter in rows:
        lines.append(
            f"| {label} | {aup(truth, masks):.3f} | {aur(truth, masks):.3f} | {t:.1f} | {t / len(X):.3f} | "
            f"{n_iter if n_iter is not None else '–'} |"
        )
    checkpoints = [10, 25, 50, 100, 200, args.max_iter]
    lines += ["", "Mean loss per series at epoch: " + ", ".join(
        f"{e}: cold {cold.loss_curve_[e - 1]:.4f} / warm {warm.loss_curve_[e - 1]:.4f}"
        for e in checkpoints if e <= min(len(cold.loss_curve_), len(warm.loss_curve_)))]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_save:
        with open(HERE / "RESULTS.md", "a") as f:
            f.write(text)


if __name__ == "__main__":
    main()
