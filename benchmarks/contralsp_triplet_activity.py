"""How often ContraLSP's triplet hinge is active at the fitted counterfactual network.

Fits ContraLSP (paper settings; State: first 50 test series, 200 epochs) with the differentiable
triplet term as the paper writes it (``contrastive="triplet"``), as its text intends
(``"triplet_aim"``) and with ``contrastive="l1_only"``, then evaluates the triplet loss on φ(x): the
share of anchors whose hinge is active, under the written reading max(0, D_an − D_ap − 1) and the
intended one max(0, D_an − D_ap + 1), the mean positive part of D_an − D_ap, mean |x^r|, and the
2-means cluster sizes. Usage: ``python benchmarks/contralsp_triplet_activity.py``.
"""

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._tasks import load_task  # noqa: E402
from benchmarks.run import make_explainer  # noqa: E402
from sklearn_tsmask._contrastive import triplet_term, two_means  # noqa: E402


def main():
    for bench in ("rare-time", "state"):
        task = load_task(bench, 0, n_samples=100, n_explain=50, device="cpu")
        for contrastive in ("triplet", "triplet_aim", "l1_only"):
            overrides = {"contrastive": contrastive, **({"max_iter": 200} if bench == "state" else {})}
            _, est, _ = make_explainer("contralsp", bench, overrides, "cpu", 0)
            est.fit(task.panel, model=task.model)
            x = torch.as_tensor(np.asarray(task.X), dtype=torch.float32)
            with torch.no_grad():
                xr = est.perturbation_net_(x)
                active = triplet_term(xr, torch.Generator().manual_seed(0), margin=1.0) > 0
                active_aim = triplet_term(xr, torch.Generator().manual_seed(0), margin=1.0, reading="aim") > 0
                gap = triplet_term(xr, torch.Generator().manual_seed(0), margin=0.0)
                labels = two_means(xr.reshape(len(xr), -1), torch.Generator().manual_seed(0))
            print(
                f"{bench} {contrastive}: mean|x^r| {float(xr.abs().mean()):.4f}, active hinge "
                f"{float(active.float().mean()):.3f} (written) / {float(active_aim.float().mean()):.3f} (intended), mean relu(D_an - D_ap) {float(gap.mean()):.4f}, "
                f"clusters {int(labels.sum())} / {int((~labels).sum())}",
                flush=True,
            )


if __name__ == "__main__":
    main()
