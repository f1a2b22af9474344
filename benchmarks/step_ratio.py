"""Per-step cost of an explainer against the floor, measured side by side.

    python benchmarks/step_ratio.py --explainer extremal_mask --data switch-feature state [--n-explain 20] [--reps 3]

The suite's floor ratio divides a whole run (hundreds of seconds) by a floor
timed once afterwards in a few seconds; on a shared machine whose speed drifts
by 10-20 % from minute to minute, that ratio moves by as much (Switch-Feature,
ExtremalMask: 1.22 and 1.42 for two identical 84.8 s runs). Here the two are
interleaved: each repetition explains the series once (fit + one optimisation
per series, as the suite does) with ``--short`` and ``--long`` steps
(``max_iter``; the difference isolates the per-step time from the set-up:
probe, target, network construction, masks returned) and times the floor (one
forward and one backward of the black box alone on the same batch) right
after. Reports every repetition and the median ratio, and appends a section to
``benchmarks/RESULTS.md``. Settings: the paper preset of the suite (plus
``--set``); the stopping rule is switched off so both fits run their epochs.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._measure import explain_once, floor_seconds, publish  # noqa: E402
from benchmarks._tasks import load_task  # noqa: E402
from benchmarks.run import LIBRARY_EXPLAINERS, make_explainer, parse_overrides, section_header  # noqa: E402
from sklearn_tsmask._utils import resolve_device  # noqa: E402


def fit_seconds(explainer, task, max_iter):
    """Seconds of one optimisation of every series with ``max_iter`` steps (no stopping rule), and its steps."""
    explainer.set_params(max_iter=max_iter, tol=None)
    device = resolve_device(explainer.device)
    start = time.perf_counter()
    # fit_transform where fit trains networks with the masks, else fit + explain: one optimisation
    explanation = explain_once(explainer, task.panel, task.model)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, explanation.n_iter


def measure(args, benchmark):
    task = load_task(benchmark, 0, n_explain=args.n_explain, device=args.device)
    display, explainer, params = make_explainer(args.explainer, benchmark, parse_overrides(args.set), args.device, 0)
    fit_seconds(explainer, task, 2)  # warm-up: allocator, thread pool, cached black box
    rows = []
    for _ in range(args.reps):
        short, _ = fit_seconds(explainer, task, args.short)
        long, n_iter = fit_seconds(explainer, task, args.long)
        step = (long - short) / (args.long - args.short)
        _, floor = floor_seconds(explainer, task.panel, n_iter, reps=9)
        rows.append((step, floor, step / floor))
        print(f"[{benchmark}] {display}: step {step * 1e3:.1f} ms, floor {floor * 1e3:.1f} ms, ratio {step / floor:.2f}",
              flush=True)
    return display, params, len(task.X), rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--explainer", required=True, choices=sorted(LIBRARY_EXPLAINERS),
                        help="a library explainer (sklearn_tsmask.all_explainers(), by module name)")
    parser.add_argument("--data", nargs="+", default=["state", "switch-feature"])
    parser.add_argument("--n-explain", type=int, default=None, help="State/Switch test series (default all 200)")
    parser.add_argument("--short", type=int, default=10)
    parser.add_argument("--long", type=int, default=60)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a hyper-parameter")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    lines = [
        *section_header("Per-step cost against the floor, side by side", resolve_device(args.device),
                        "benchmarks/step_ratio.py", argv),
        f"- per step = (explanation with {args.long} steps − with {args.short}) / {args.long - args.short}; "
        "floor = median of 9 forward+backward passes of the black box on the same batch, timed right after",
        "",
        "| benchmark | explainer | series | per step (ms) | floor (ms) | ratio per repetition | median ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for benchmark in args.data:
        display, params, n, rows = measure(args, benchmark)
        ratios = [r for _, _, r in rows]
        lines.append(
            f"| {benchmark} | {display} ({', '.join(f'{k}={v}' for k, v in parse_overrides(args.set).items()) or 'paper'}) | {n} | "
            f"{statistics.median(s for s, _, _ in rows) * 1e3:.1f} | {statistics.median(f for _, f, _ in rows) * 1e3:.1f} | "
            f"{', '.join(f'{r:.2f}' for r in ratios)} | {statistics.median(ratios):.2f} |"
        )
    text = "\n".join(lines) + "\n"
    publish(text, no_save=args.no_save)


if __name__ == "__main__":
    main()
