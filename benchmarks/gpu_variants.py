"""What helps on a GPU: seconds per optimisation step of the three explainers, with a setting off and on.

Usage (on a CUDA machine; never part of CI)::

    python benchmarks/gpu_variants.py                 # State, all 200 test series in one batch; FP32 vs TF32
    python benchmarks/gpu_variants.py --data switch-feature --n-explain 100
    python benchmarks/gpu_variants.py --variant waits --explainer contralsp contralsp_default

``--variant tf32`` (default): FP32 against TF32 matrix products. ``--variant waits``: ContraLSP's triplet term
as on CPU (2-means rounds on the device, each testing convergence on the host; the backward counting its pairs)
against the accelerators' path (one Gram matrix copied to the host per step, a backward of fixed size), the
library's choice on a GPU.

Each explainer runs with the recommended settings of the benchmark's family (ContraLSP: the paper's; and with the
convolutional perturbation network), once with ``--short`` and once with ``--long`` steps (stopping rule off); the
difference, divided by the extra steps, is the time of one step, free of the set-up and of the final mask
evaluation. Each setting is run with ``torch.backends.cuda.matmul.allow_tf32`` off (FP32 matrix products, PyTorch's
default) and on (TF32); cuDNN's recurrent kernels use TF32 in both (PyTorch's default for cuDNN). The masks of the
two settings are compared (largest absolute difference), and those of a second FP32 run, so that a difference can
be told from the device's own run-to-run variation (cuDNN's recurrent backward is not deterministic).
Appends a section to ``benchmarks/RESULTS.md``.
"""

import argparse
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._measure import explain_once, publish  # noqa: E402
from benchmarks._tasks import load_task  # noqa: E402
from benchmarks.run import make_explainer, section_header  # noqa: E402
from sklearn_tsmask import _contrastive  # noqa: E402

SETTINGS = {
    "dynamask": ("dynamask", "recommended", {}),
    "extremal_mask": ("extremal_mask", "recommended", {}),
    "contralsp": ("contralsp", "paper", {}),
    "contralsp_conv": ("contralsp", "paper", {"perturbation": "conv"}),
    "contralsp_default": ("contralsp", "default", {}),
}


def _set_tf32(on):
    torch.backends.cuda.matmul.allow_tf32 = on


_ACCELERATOR_PATH = _contrastive._accelerator_path


def _set_waits(on):
    """``on``: the triplet term waits for the device as on CPU; off: the accelerators' path."""
    _contrastive._accelerator_path = (lambda device: False) if on else _ACCELERATOR_PATH


#: --variant -> (title, label when off, label when on, setter); off is the library's choice on a GPU.
VARIANTS = {
    "tf32": ("FP32 against TF32 matrix products", "FP32", "TF32", _set_tf32),
    "waits": ("ContraLSP's triplet term with one host wait per step and with the CPU's waits", "one wait",
              "CPU's waits", _set_waits),
}


def build(name, benchmark, steps, device):
    """The explainer ``name`` of :data:`SETTINGS` for ``benchmark``: ``steps`` steps, all series in one batch."""
    cli, preset, extra = SETTINGS[name]
    overrides = {**extra, "max_iter": steps, "tol": None, "batch_size": None}
    return make_explainer(cli, benchmark, overrides, device, 0, preset)[1]


def run(name, task, steps, device, on, setter=_set_tf32):
    setter(on)
    explainer = build(name, task.name, steps, device)
    torch.cuda.synchronize()
    start = time.perf_counter()
    masks = explain_once(explainer, task.panel, task.model)["masks"]
    torch.cuda.synchronize()
    return time.perf_counter() - start, torch.as_tensor(masks)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="state")
    parser.add_argument("--n-explain", type=int, default=None)
    parser.add_argument("--explainer", nargs="+", choices=sorted(SETTINGS), default=sorted(SETTINGS))
    parser.add_argument("--short", type=int, default=10)
    parser.add_argument("--long", type=int, default=60)
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="tf32")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("gpu_variants.py needs a CUDA device.")
    device = "cuda"
    task = load_task(args.data, 0, n_explain=args.n_explain, device=device)
    title, off, on, setter = VARIANTS[args.variant]
    lines = [
        *section_header(f"GPU: seconds per step, {title}", torch.device(device), "benchmarks/gpu_variants.py",
                        argv),
        f"- {args.data}, {len(task.X)} series in one batch; per step = (run with {args.long} steps − with "
        f"{args.short}) / {args.long - args.short}; masks compared after {args.long} steps",
        "",
        f"| explainer | {off} ms / step | {on} ms / step | speed-up of {on} | largest mask difference {off} vs "
        f"{on} | {off} vs {off} again |",
        "|---|---|---|---|---|---|",
    ]
    try:
        for name in args.explainer:
            run(name, task, 2, device, False, setter)  # warm-up (kernels, cuDNN plans)
            per_step, masks = {}, {}
            for state in (False, True):
                short, _ = run(name, task, args.short, device, state, setter)
                long, masks[state] = run(name, task, args.long, device, state, setter)
                per_step[state] = (long - short) / (args.long - args.short)
            diff = float((masks[False] - masks[True]).abs().max())
            _, again = run(name, task, args.long, device, False, setter)  # the device's own run-to-run difference
            repeat = float((masks[False] - again).abs().max())
            print(f"{name}: {off} {per_step[False] * 1e3:.2f} ms/step, {on} {per_step[True] * 1e3:.2f}, mask diff "
                  f"{diff:.2e} ({off} repeated: {repeat:.2e})", flush=True)
            lines.append(f"| {name} | {per_step[False] * 1e3:.2f} | {per_step[True] * 1e3:.2f} | "
                         f"{per_step[False] / per_step[True]:.2f} | {diff:.1e} | {repeat:.1e} |")
    finally:
        setter(False)
    publish("\n".join(lines) + "\n", no_save=args.no_save)


if __name__ == "__main__":
    main()
