"""ExtremalMask settings on State: the AUP / AUR trade-off of λ_1, the loss and the network.

    python benchmarks/extremal_state_sweep.py "dict(loss='log_loss', lambda_1=0.5)" "dict(lambda_1=2.0)" ...

Each argument is a Python dict of ExtremalMask hyper-parameters; each is fitted
on the first 20 State test series (seed 0, the cached GRU black box) on the CPU,
each series optimised once (``fit_transform``, the network and the masks trained
jointly; ``fit`` + ``explain`` with ``perturbation="zeros"``, whose ``fit`` has no
network to train), and its AUP, AUR, seconds and epochs are printed.
"""

import ast
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._measure import explain_once  # noqa: E402
from benchmarks._tasks import load_task  # noqa: E402
from sklearn_tsmask import ExtremalMask  # noqa: E402
from sklearn_tsmask.metrics import aup, aur  # noqa: E402


def parse(text):
    node = ast.parse(text, mode="eval").body
    if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "dict" and not node.args):
        raise SystemExit(f"expected dict(key=value, ...), got {text!r}")
    return {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}


def main(argv=None):
    configs = [parse(a) for a in (sys.argv[1:] if argv is None else argv)] or [{}]
    task = load_task("state", 0, n_explain=20)
    ExtremalMask(max_iter=3, device="cpu").fit(task.X[:2], task.model)  # warm-up
    for cfg in configs:
        est = ExtremalMask(device="cpu", random_state=0, **cfg)
        start = time.perf_counter()
        explanation = explain_once(est, task.X, task.model)
        seconds = time.perf_counter() - start
        masks = explanation.masks
        print(f"{cfg}: AUP {aup(task.true_saliency, masks):.3f} AUR {aur(task.true_saliency, masks):.3f} "
              f"{seconds:.1f} s, {explanation.n_iter} epochs", flush=True)


if __name__ == "__main__":
    main()
