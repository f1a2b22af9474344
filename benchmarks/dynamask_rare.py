"""DynaMask on the Rare-Feature and Rare-Time benchmarks (Crabbé & van der Schaar, 2021).

Runs DynaMask with the paper's rare-experiment setting (Gaussian blur σ_max=1,
areas 0.001..0.050, λ_0=1, δ=1000, λ_c=0, 1000 epochs, SGD lr 1 momentum 0.9,
lowest-error mask per series) on N=100 series of T=C=50, and appends AUP, AUR,
information, entropy, seconds and seconds per series to ``benchmarks/RESULTS.md``
and ``benchmarks/results.jsonl`` with the date, the machine and the command.

Usage::

    python benchmarks/dynamask_rare.py                     # both datasets, CPU/GPU auto
    python benchmarks/dynamask_rare.py --device cuda --per-sample
"""

import argparse
import datetime
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import torch

from sklearn_tsmask import DynaMask, WithInputs, __version__
from sklearn_tsmask.datasets import make_rare_feature, make_rare_time
from sklearn_tsmask.metrics import aup, aur, entropy, information

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a script: make the benchmarks package importable
from benchmarks.run import machine  # noqa: E402
PAPER = {"rare-feature": (0.99, 0.58), "rare-time": (0.99, 0.68)}  # Dynamask paper, Tables 1-2
TARGET = (0.95, 0.65)
MAKERS = {"rare-feature": make_rare_feature, "rare-time": make_rare_time}


def run_one(name, args, seed):
    out = MAKERS[name](
        n_samples=args.n_samples, shared_salient=not args.per_sample, return_groups=args.per_sample, random_state=seed
    )
    X, truth, white_box = out[:3]
    panel = WithInputs(X, groups=out[3]) if args.per_sample else X
    explainer = DynaMask(
        area=np.round(np.arange(1, 51) * 1e-3, 3),
        sigma_max=1.0,
        lambda_area=1.0,
        lambda_area_growth=1000.0,
        lambda_time=0.0,
        max_iter=args.max_iter,
        learning_rate=1.0,
        momentum=0.9,
        batch_size=args.batch_size,
        device=args.device,
        random_state=seed,
    )
    start = time.perf_counter()
    explanation = explainer.fit(panel, white_box).explain(panel)  # DynaMask's fit is free: one optimisation
    if explainer.device_.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    masks = explanation.masks
    return explainer, {
        "aup": aup(truth, masks),
        "aur": aur(truth, masks),
        "information": information(truth, masks),
        "entropy": entropy(truth, masks),
        "seconds": seconds,
        "seconds_per_series": seconds / len(X),
        "chosen_area_median": float(np.median(explanation.area)),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", choices=sorted(MAKERS), default=sorted(MAKERS))
    parser.add_argument("--n-samples", type=int, default=100)
    parser.add_argument("--max-iter", "--n-epochs", dest="max_iter", type=int, default=1000,
                        help="optimisation steps (--n-epochs: the old spelling)")
    parser.add_argument("--batch-size", default="auto", type=lambda v: v if v == "auto" else (None if v == "none" else int(v)),
                        help="'auto' (default), 'none' (all at once) or an integer")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--per-sample", action="store_true", help="salient set drawn per series (Dynamask paper)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--jsonl", default=str(HERE / "results.jsonl"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__)] + (argv or sys.argv[1:]))
    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    rows, device = [], None
    for name in args.data:
        per_seed = []
        for seed in args.seeds:
            explainer, res = run_one(name, args, seed)
            device = explainer.device_
            per_seed.append(res)
            print(f"{name} seed {seed}: " + ", ".join(f"{k} {v:.4g}" for k, v in res.items()), flush=True)
        agg = {k: (float(np.mean([r[k] for r in per_seed])), float(np.std([r[k] for r in per_seed]))) for k in per_seed[0]}
        rows.append((name, agg))
    desc = machine(device)
    versions = f"sklearn-tsmask {__version__}, torch {torch.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}"
    salient = "per-series salient sets (Dynamask paper)" if args.per_sample else "salient set shared by all series"
    lines = [
        f"\n### DynaMask, rare experiments — {date}, {device.type}\n",
        f"- machine: {desc}",
        f"- versions: {versions}",
        f"- command: `{command}`",
        f"- setting: N={args.n_samples}, T=C=50, {salient}; blur σ_max=1, 50 areas 0.001..0.050, λ_0=1, δ=1000, "
        f"λ_c=0, {args.max_iter} epochs, SGD lr 1 momentum 0.9, lowest-error area per series; seeds {args.seeds}",
        "",
        "| data | AUP | AUR | information (sum) | entropy (sum) | seconds | s / series | paper AUP / AUR | target AUP / AUR | met |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, agg in rows:
        pm = lambda k, f="{:.3f}": f.format(agg[k][0]) + (f" ± {f.format(agg[k][1])}" if len(args.seeds) > 1 else "")
        met = agg["aup"][0] >= TARGET[0] and agg["aur"][0] >= TARGET[1]
        lines.append(
            f"| {name} | {pm('aup')} | {pm('aur')} | {pm('information', '{:.0f}')} | {pm('entropy', '{:.1f}')} | "
            f"{pm('seconds', '{:.1f}')} | {pm('seconds_per_series', '{:.3f}')} | {PAPER[name][0]} / {PAPER[name][1]} | "
            f"≥ {TARGET[0]} / ≥ {TARGET[1]} | {'yes' if met else 'no'} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out, "a") as f:
        f.write(text)
    with open(args.jsonl, "a") as f:
        for name, agg in rows:
            rec = {"date": date, "benchmark": name, "explainer": "DynaMask", "machine": desc, "device": device.type,
                   "versions": versions, "command": command, "n_samples": args.n_samples, "seeds": args.seeds,
                   "per_sample_salient": args.per_sample, **{k: v[0] for k, v in agg.items()},
                   **{f"{k}_std": v[1] for k, v in agg.items()}}
            f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
