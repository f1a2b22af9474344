"""Where an explainer's GPU time goes: the operators of its optimisation steps, by self CUDA time.

Usage (on a CUDA machine)::

    python benchmarks/gpu_profile.py --explainer contralsp --data state --steps 40

Runs the explainer with the settings of ``benchmarks/gpu_variants.py`` on all series of the benchmark in one batch
(a warm-up first), under ``torch.profiler`` (CPU and CUDA activities), and prints the table of operators sorted
by self CUDA time, with the number of host-device synchronisations (``aten::_local_scalar_dense``,
``cudaStreamSynchronize``) per step: an optimisation step that waits for the device cannot queue the next one.
"""

import argparse
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._measure import explain_once  # noqa: E402
from benchmarks._tasks import load_task  # noqa: E402
from benchmarks.gpu_variants import SETTINGS, build  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--explainer", choices=sorted(SETTINGS), default="contralsp")
    parser.add_argument("--data", default="state")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args(argv)
    task = load_task(args.data, 0, device="cuda")

    def run(steps):
        explain_once(build(args.explainer, args.data, steps, "cuda"), task.panel, task.model)
        torch.cuda.synchronize()

    run(3)
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        run(args.steps)
    events = prof.key_averages()
    print(events.table(sort_by="self_cuda_time_total", row_limit=args.rows, max_name_column_width=60))
    syncs = {e.key: e.count for e in events if e.key in ("aten::_local_scalar_dense", "cudaStreamSynchronize",
                                                          "cudaDeviceSynchronize", "aten::item")}
    print(f"{args.explainer} on {args.data}, {args.steps} steps: synchronisations {syncs} "
          f"({sum(syncs.values()) / args.steps:.1f} per step)")


if __name__ == "__main__":
    main()
