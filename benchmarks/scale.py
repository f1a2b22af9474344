"""Time and memory against the number of series, on one machine.

Usage::

    python benchmarks/scale.py                              # N = 1,000 and 10,000; the three explainers
    python benchmarks/scale.py --sizes 1000 --explainer extremal_mask --max-iter 20
    python benchmarks/scale.py --sizes 2000 10000 --batch-size 1000   # the same batch at both sizes

A panel of random series (C = 8 channels, T = 200 steps) explained by a GRU classifier
(:class:`~sklearn_tsmask.datasets.GRUClassifier`, 8 → 64 units, logits of the last step; untrained: the cost of a
step does not depend on what the model learned), each explainer with its defaults except a fixed number of steps
(``--max-iter``, stopping rule off), so that the figures measure how the cost scales, not convergence. DynaMask runs
one area (0.1) with the blur (``ONE_AREA``), its defaults when the committed figures were measured: its defaults
now optimise 14 areas per series, 14 times the rows of every step. With
``--batch-size`` every N uses batches of that many series (by default ``batch_size="auto"``, which at N = 1,000 is
the whole panel and at 10,000 a larger batch, so the two peaks then differ by the batch, not by N). Each
(explainer, N) runs in a fresh process: seconds per series, and the peak resident memory the explanation added,
with and without the masks it returns (N × C × T float32 values, which grow with N by construction).
Appends a section to ``benchmarks/RESULTS.md``.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._measure import PeakMemory, explain_once, publish  # noqa: E402

C, T, HIDDEN = 8, 200, 64
#: DynaMask's settings here: one area, as its defaults had when the committed figures were measured (its "auto"
#: area optimises 14 masks per series); the other explainers run their defaults.
ONE_AREA = {"dynamask": dict(area=0.1, perturbation="gaussian_blur")}


def one(name, n, max_iter, threads, batch_size="auto"):
    """Explain ``n`` series with ``name`` in this process; return the record."""
    from sklearn_tsmask import ContraLSP, DynaMask, ExtremalMask
    from sklearn_tsmask.datasets import GRUClassifier

    torch.set_num_threads(threads)
    X = np.random.RandomState(0).randn(n, C, T).astype(np.float32)
    model = GRUClassifier(n_channels=C, n_classes=4, hidden_size=HIDDEN, output="last", random_state=0)
    cls = {"dynamask": DynaMask, "extremal_mask": ExtremalMask, "contralsp": ContraLSP}[name]
    pinned = ONE_AREA.get(name, {})
    explainer = cls(max_iter=max_iter, tol=None, device="cpu", random_state=0, batch_size=batch_size, **pinned)
    explain_once(cls(max_iter=2, tol=None, device="cpu", random_state=0, **pinned), X[:8], model)  # warm-up
    with PeakMemory(torch.device("cpu")) as mem:
        start = time.perf_counter()
        explanation = explain_once(explainer, X, model)
        seconds = time.perf_counter() - start
    masks = np.asarray(explanation["masks"])
    return {"explainer": cls.__name__, "n": n, "seconds": seconds, "seconds_per_series": seconds / n,
            "peak_mb": mem.peak_bytes / 2**20, "masks_mb": masks.nbytes / 2**20,
            "batch_rows": int(explainer._batch_rows(torch.as_tensor(X))), "n_iter": int(explanation["n_iter"])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--explainer", nargs="+", default=["extremal_mask", "dynamask", "contralsp"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 10000])
    parser.add_argument("--max-iter", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=None, help="series per batch (default: 'auto')")
    parser.add_argument("--one", nargs=2, metavar=("EXPLAINER", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.max_iter, args.threads, args.batch_size or "auto")))
        return
    records = []
    for name in args.explainer:
        for n in args.sizes:
            cmd = [sys.executable, __file__, "--one", name, str(n), "--max-iter", str(args.max_iter),
                   "--threads", str(args.threads)] + (["--batch-size", str(args.batch_size)] if args.batch_size else [])
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
            if proc.returncode != 0:
                raise SystemExit(f"{name} N={n} failed:\n{proc.stderr[-3000:]}")
            rec = json.loads(proc.stdout.strip().splitlines()[-1])
            records.append(rec)
            print(f"{rec['explainer']} N={n}: {rec['seconds']:.1f} s ({rec['seconds_per_series'] * 1e3:.2f} ms/series), "
                  f"peak +{rec['peak_mb']:.0f} MB (masks {rec['masks_mb']:.0f} MB)", flush=True)
    from benchmarks.run import section_header

    lines = [
        *section_header("Time and memory against the number of series", torch.device("cpu"), "benchmarks/scale.py",
                        argv),
        f"- random series, C = {C}, T = {T}; black box GRUClassifier({C} → {HIDDEN}, last step, 4 classes); each "
        f"explainer's defaults (DynaMask: {ONE_AREA['dynamask']}) with {args.max_iter} steps (stopping rule off), "
        f"batch_size="
        f"{args.batch_size or repr('auto')}; one fresh process per row; peak = "
        "resident memory the explanation added; the masks returned are N × C × T float32",
        "",
        "| explainer | N | batch (series) | seconds | ms / series | peak MB | of which masks MB | peak − masks MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(f"| {r['explainer']} | {r['n']} | {r['batch_rows']} | {r['seconds']:.1f} | "
                     f"{r['seconds_per_series'] * 1e3:.2f} | {r['peak_mb']:.0f} | {r['masks_mb']:.0f} | "
                     f"{r['peak_mb'] - r['masks_mb']:.0f} |")
    publish("\n".join(lines) + "\n", no_save=args.no_save)


if __name__ == "__main__":
    main()
