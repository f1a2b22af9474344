"""Where a ContraLSP step goes, part by part, against the floor, as the number of channels grows.

Usage::

    python benchmarks/contralsp_parts.py                        # C = 32, 64; GRU black boxes with 64 and 200 units
    python benchmarks/contralsp_parts.py --channels 8 64 --hidden 64 --reps 21

Each part of ContraLSP's optimisation step is timed on its own, forward and backward with a dense upstream
gradient (as inside the loss), on random series (N, C, T), median of ``--reps`` runs after a warm-up:

- floor: one forward and one backward (input gradient) of the black box, a GRU classifier with ``--hidden`` units
  (:class:`~sklearn_tsmask.datasets.GRUClassifier`), the cost a mask explainer cannot avoid;
- the counterfactual network φ: the paper's bidirectional GRU, the convolutional network (2C features) and the
  convolutional network with 16 features (parameter gradients);
- the trend network τ (:class:`~sklearn_tsmask.ChannelTrend`, one MLP per channel);
- the gates: the noise draw, the noisy and the noise-free gate, the open-gate probability, the mixture
  ``m·x + (1 − m)·φ(x)`` and its backward;
- the triplet term (2-means, selection, distances, backward over the selected pairs);
- Adam's step over the gates and the trend and convolutional networks' parameters.

"without φ" sums the parts other than the network and the floor: what the method's own terms cost per step
whichever network is chosen; ``1 + without φ / floor`` is the lowest floor ratio ContraLSP can reach on that
black box. Appends a section to ``benchmarks/RESULTS.md``.
"""

import argparse
import math
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._measure import median_seconds, publish  # noqa: E402
from benchmarks.channels import add_size_arguments  # noqa: E402
from benchmarks.run import section_header  # noqa: E402
from sklearn_tsmask._base import _adam  # noqa: E402
from sklearn_tsmask._contrastive import triplet_term  # noqa: E402
from sklearn_tsmask.contralsp import ChannelTrend, _gate  # noqa: E402
from sklearn_tsmask.datasets import GRUClassifier  # noqa: E402
from sklearn_tsmask.perturbation_nets import ConvPerturbation, make_perturbation_net  # noqa: E402

NETWORKS = {
    "bigru": lambda C: make_perturbation_net("bigru", C, random_state=0),
    "conv": lambda C: make_perturbation_net("conv", C, random_state=0),
    "conv16": lambda C: ConvPerturbation(C, hidden_size=16),
}
OWN_TERMS = ("trend", "gates", "triplet", "adam")


def median_ms(step, reps):
    return median_seconds(step, reps, warmup=3) * 1e3


def parts(B, C, T, hidden, reps):
    """Milliseconds of each part of a step for B series of C channels and T steps."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(B, C, T, generator=gen)
    upstream = torch.randn(B, C, T, generator=gen)  # a dense gradient, as the loss gives each part
    ms = {}

    model = GRUClassifier(n_channels=C, n_classes=4, hidden_size=hidden, output="last", random_state=0).eval()
    model.requires_grad_(False)
    x_in = x.clone().requires_grad_(True)
    head = torch.randn(B, 4, generator=gen)
    ms["floor"] = median_ms(lambda: torch.autograd.grad((model(x_in) * head).sum(), x_in), reps)

    for name, make in NETWORKS.items():
        net = make(C)
        ms[name] = median_ms(lambda net=net: net(x).backward(upstream), reps)

    trend_net = ChannelTrend(C, T)
    ms["trend"] = median_ms(lambda: trend_net(x).backward(upstream), reps)

    mu = torch.full((B, C, T), 0.0, requires_grad=True)
    trend = torch.randn(B, C, T, generator=gen).requires_grad_(True)
    xr = torch.randn(B, C, T, generator=gen).requires_grad_(True)
    sigma = 0.5

    def gates():
        noise = torch.randn(B, C, T, generator=gen)
        mask = _gate(mu + sigma * noise, trend).clamp(0.0, 1.0)
        mixed = mask * x + (1.0 - mask) * xr
        open_prob = 0.5 + 0.5 * torch.erf(_gate(mu, trend) / (sigma * math.sqrt(2.0)))
        torch.autograd.backward([mixed, open_prob, xr.abs()], [upstream, upstream, upstream])

    ms["gates"] = median_ms(gates, reps)
    per_anchor = torch.randn(B, generator=gen)
    ms["triplet"] = median_ms(lambda: (triplet_term(xr, gen, margin=0.0) * per_anchor).sum().backward(), reps)

    params = [mu, *trend_net.parameters(), *make_perturbation_net("conv", C, random_state=0).parameters()]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen)
    optimizer = _adam(params, 0.01)
    ms["adam"] = median_ms(optimizer.step, reps)
    return ms


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_size_arguments(parser, channels=[32, 64], hidden=[64, 200], reps=15)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    columns = ["floor", *NETWORKS, *OWN_TERMS]
    lines = [
        *section_header("Where a ContraLSP step goes, by number of channels", torch.device("cpu"),
                        "benchmarks/contralsp_parts.py", argv),
        f"- {args.n_series} random series × {args.timepoints} steps; black box GRUClassifier(C → H, last step, 4 "
        f"classes); each part forward + backward on its own, median of {args.reps} runs, in ms; \"without φ\" = "
        f"{' + '.join(OWN_TERMS)}; lowest ratio = 1 + without φ / floor",
        "",
        f"| C | H | {' | '.join(columns)} | without φ | lowest ratio | with conv16 | with conv | with bigru |",
        "|" + "---|" * (len(columns) + 7),
    ]
    for hidden in args.hidden:
        for C in args.channels:
            ms = parts(args.n_series, C, args.timepoints, hidden, args.reps)
            own = sum(ms[k] for k in OWN_TERMS)
            with_net = {k: 1.0 + (own + ms[k]) / ms["floor"] for k in NETWORKS}
            print(f"C={C} H={hidden}: " + ", ".join(f"{k} {v:.2f}" for k, v in ms.items())
                  + f"; without φ {own:.2f} ms", flush=True)
            lines.append(f"| {C} | {hidden} | " + " | ".join(f"{ms[k]:.2f}" for k in columns)
                         + f" | {own:.2f} | {1.0 + own / ms['floor']:.2f} | {with_net['conv16']:.2f} | "
                         f"{with_net['conv']:.2f} | {with_net['bigru']:.2f} |")
    publish("\n".join(lines) + "\n", no_save=args.no_save)


if __name__ == "__main__":
    main()
