"""Run an explainer on the synthetic benchmarks and report quality beside speed.

Usage::

    python -m benchmarks --explainer dynamask --data state switch-feature --seeds 0 1 2
    python -m benchmarks --explainer dynamask --data rare-feature --set max_iter=500 --set "area=[0.03, 0.05]"
    python -m benchmarks --explainer dynamask --data state --n-explain 20 --tint

For every (benchmark, seed) it reports AUP, AUR, information, entropy, AUROC,
AUPRC, wall seconds, seconds per series, peak memory, and the speed floor (the
same number of optimisation steps made of one forward and one backward pass of
the black box on the same batch) with the ratio explainer / floor. Means ± std
over seeds go to a markdown table (appended to ``benchmarks/RESULTS.md``) and
all records to a JSON file in ``benchmarks/results/``, with the date, the
machine, the library versions and the exact command. The papers' published
figures are printed beside ours; ``--tint`` also runs the reference library
tint (in its own virtual environment, see ``benchmarks/tint_bridge``) on the
same data and model.
"""

import argparse
import ast
import datetime
import inspect
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import torch

import sklearn_tsmask
from sklearn_tsmask._utils import resolve_device
from sklearn_tsmask.metrics import (
    auprc,
    auroc,
    aup,
    aur,
    comprehensiveness,
    cumulative_prediction_difference,
    cumulative_prediction_preservation,
    entropy,
    fidelity_accuracy,
    information,
    sufficiency,
)

from ._baselines import IntegratedGradients, Occlusion, TimingIG
from ._measure import PeakMemory, explain_once, floor_seconds
from ._real import BLACK_BOXES
from ._tasks import BENCHMARKS, MEASURED_REFERENCES, PAPER, SYNTHETIC, is_real, load_task

HERE = Path(__file__).resolve().parent

_RARE_AREAS = [round(0.001 * k, 3) for k in range(1, 51)]
_STATE_AREAS = [round(0.25 + 0.01 * k, 2) for k in range(10)]

def cli_name(cls):
    """The runner's name of a library explainer: its module's name ("dynamask", "extremal_mask", "contralsp")."""
    return cls.__module__.rsplit(".", 1)[-1]


#: The library's explainers, CLI name -> class, from its one registry (``sklearn_tsmask.all_explainers``):
#: a method added to the package runs here without being named in this file.
LIBRARY_EXPLAINERS = {cli_name(cls): cls for _, cls in sklearn_tsmask.all_explainers()}
#: captum baselines (optional extra ``captum``), for context; not mask explainers of the library.
#: Explainers without an optimisation loop: no speed floor, no warm-up steps.
BASELINES = {"integrated_gradients": IntegratedGradients, "occlusion": Occlusion, "timing": TimingIG}
#: Baselines that need the black box's gradients (not run on a gradient-free black box).
NEEDS_GRADIENTS = {"integrated_gradients", "timing"}
#: Every ``--explainer`` choice -> class.
EXPLAINERS = {**LIBRARY_EXPLAINERS, **BASELINES}

#: CLI name -> {benchmark or family: default hyper-parameters}, the papers' settings (their experiments sections); a
#: benchmark's own entry wins over its family's. A method without an entry runs with its defaults.
PAPER_SETTINGS = {
    "dynamask": {
        "rare": dict(area=_RARE_AREAS, sigma_max=1.0, lambda_area=1.0, lambda_area_growth=1000.0,
                     lambda_time=0.0, max_iter=1000, learning_rate=1.0, momentum=0.9),
        "hmm": dict(area=_STATE_AREAS, sigma_max=1.0, lambda_area=0.1, lambda_area_growth=100.0,
                    lambda_time=1.0, max_iter=1000, learning_rate=1.0, momentum=0.9),
    },
    "extremal_mask": {
        "rare": dict(lambda_1=1.0, lambda_2=1.0, perturbation="bigru", max_iter=2000, learning_rate=0.01),
        "hmm": dict(lambda_1=1.0, lambda_2=1.0, perturbation="bigru", max_iter=500, learning_rate=0.01),
    },
    # ContraLSP's settings differ between State and Switch-Feature (paper Table 6): keyed by benchmark.
    # the paper's counterfactual network, the bidirectional GRU, pinned so that the preset keeps its meaning
    "contralsp": {
        "rare": dict(alpha=0.1, beta=0.1, sigma=0.5, max_iter=200, learning_rate=0.1, batch_size=None,
                     perturbation="bigru"),
        "state": dict(alpha=2.0, beta=1.0, sigma=0.5, max_iter=500, learning_rate=0.01, batch_size=None,
                      perturbation="bigru"),
        "switch-feature": dict(alpha=1.0, beta=2.0, sigma=0.8, max_iter=500, learning_rate=0.01,
                               batch_size=None, perturbation="bigru"),
    },
    "integrated_gradients": {"rare": dict(task="regression"), "hmm": dict(task="classification")},
    "occlusion": {"rare": dict(task="regression"), "hmm": dict(task="classification")},
    "timing": {"rare": dict(task="regression"), "hmm": dict(task="classification")},
}
#: The real panels (classifiers, one output per series) use the settings of the GRU classifier benchmarks.
for _settings in PAPER_SETTINGS.values():
    if "hmm" in _settings:
        _settings.setdefault("real", _settings["hmm"])
    elif "state" in _settings:
        _settings.setdefault("real", _settings["state"])
#: The papers run every step and use the squared error unless they say otherwise: pinned, so that a preset keeps
#: its meaning when the library's defaults change (ExtremalMask's default stops at convergence, ``loss="auto"``).
for _name, _settings in PAPER_SETTINGS.items():
    if _name in ("dynamask", "extremal_mask", "contralsp"):
        for _params in _settings.values():
            _params.setdefault("tol", None)
            _params.setdefault("loss", "squared_error")
#: DynaMask's paper settings also pin the blur and the lowest-error choice among areas, which were its defaults.
for _params in PAPER_SETTINGS["dynamask"].values():
    _params.setdefault("perturbation", "gaussian_blur")
    _params.setdefault("relative_epsilon", None)
#: Settings that beat the papers' where we measured it (benchmarks/RESULTS.md), per family.
RECOMMENDED = {
    "dynamask": {
        "rare": {},
        # 500 steps: the area weight's growth (×100) over half the steps; 10 State / Switch-Feature series
        # (RESULTS.md, 2026-12-04): AUP/AUR 0.931/0.957 and 0.943/0.965 against 0.922/0.947 and 0.943/0.965 in 1000
        "hmm": dict(perturbation="fade_reference", baseline=0.0, loss="log_loss", max_iter=500),
    },
    # State, 20 series (RESULTS.md): the best AUP/AUR trade-off of a λ_1 grid with cross-entropy;
    # lr 0.05 for 150 epochs gives what lr 0.01 gives in 500.
    # Rare data: the learned network copies the salient inputs (AUR 0.35-0.63); NN ≡ 0 does not,
    # and a smaller size penalty keeps the weak salient entries (small x², small error) in the mask.
    "extremal_mask": {
        "rare": dict(perturbation="zeros", lambda_1=0.1),
        # NN(x) goes to ≈ 0 on the GRU benchmarks under λ_2 = 1: "zeros" gives the same masks at the floor
        # cost, and the stopping rule ends the fit at convergence (State, 20 series: 0.125 s per series).
        "hmm": dict(loss="log_loss", lambda_1=0.5, learning_rate=0.05, max_iter=150, perturbation="zeros",
                    tol=1e-4),
    },
    # Rare data: less gate noise (σ 0.3 instead of the paper's 0.5) lets the gates of weakly salient
    # entries open; Rare-Time DiffGroups AUR 0.90 -> 0.96 (RESULTS.md), the other three unchanged or better.
    "contralsp": {
        "rare": dict(sigma=0.3),
        "hmm": {},
    },
}
for _settings in RECOMMENDED.values():
    _settings.setdefault("real", _settings.get("hmm", {}))
_unknown = (set(PAPER_SETTINGS) | set(RECOMMENDED)) - set(EXPLAINERS)
if _unknown:  # a renamed or removed explainer: its settings would silently stop applying
    raise ImportError(f"settings for unknown explainers {sorted(_unknown)}; explainers: {sorted(EXPLAINERS)}")
#: Hyper-parameters renamed by the library's second contract cut (old -> new), for --set's error message.
RENAMED = {"n_epochs": "max_iter", "optimizer": "solver", "transform_perturbation": "transform_networks"}
#: Values renamed by the same cut: (parameter, old value) -> new value.
RENAMED_VALUES = {("loss", "mse"): "squared_error", ("loss", "cross_entropy"): "log_loss"}
#: Our explainer name -> tint method name, for --tint.
TINT_METHODS = {"dynamask": "dynamask", "extremal_mask": "extremal_mask"}
#: tint settings per (method, family): the papers' settings where tint has the knob; tint's
#: own defaults otherwise (its MaskNet optimiser: Adam lr 1e-3). The bridge's defaults are
#: tint's State experiment.
TINT_SETTINGS = {
    ("dynamask", "rare"): dict(areas=_RARE_AREAS, size_reg_init=1.0, size_reg_dilation=1000.0, time_reg=0.0,
                               sigma_max=1.0, epochs=1000),
    ("dynamask", "hmm"): {},
    ("extremal_mask", "rare"): dict(epochs=2000),
    ("extremal_mask", "hmm"): {},
}


def family(benchmark):
    """The hyper-parameter family of a benchmark: "rare" (white boxes), "hmm" (GRU black boxes) or "real"."""
    if is_real(benchmark):
        return "real"
    return "rare" if benchmark.startswith("rare") else "hmm"


def format_params(params, with_count=False):
    """``k=v`` pairs, long lists shortened to their ends."""
    def short(v):
        if not isinstance(v, list) or len(v) < 6:
            return v
        return f"[{v[0]}..{v[-1]}]" + (f" ({len(v)} values)" if with_count else "")
    return ", ".join(f"{k}={short(v)}" for k, v in params.items())


def machine(device):
    """One line describing the machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    desc = f"{cpu}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}"
    if device.type == "cuda":
        desc += f", GPU {torch.cuda.get_device_name(device)}"
    return desc


def versions():
    return {
        "sklearn_tsmask": sklearn_tsmask.__version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def section_header(title, device, script, argv):
    """The first lines of a report section: title with date and device, machine, versions, the exact command."""
    args = " ".join(argv if argv is not None else sys.argv[1:])
    return [
        f"## {title} — {datetime.datetime.now():%Y-%m-%d %H:%M}, {device.type}",
        "",
        f"- machine: {machine(device)}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        f"- command: `{' '.join(['python', script, args]).strip()}`",
    ]


def display_name(name):
    """The name in the reports: the class name of a library explainer ("DynaMask"), a baseline's ``name``."""
    cls = EXPLAINERS[name]
    return cls.name if name in BASELINES else cls.__name__


def make_explainer(name, benchmark, overrides, device, seed, preset="paper"):
    """The explainer with the paper's settings for ``benchmark`` (or the recommended ones, or the library's
    defaults with ``preset="default"``), then ``overrides``."""
    cls = EXPLAINERS[name]
    fam = family(benchmark)
    defaults = PAPER_SETTINGS.get(name, {})
    tuned = RECOMMENDED.get(name, {}).get(fam, {}) if preset == "recommended" else {}
    base = defaults.get(benchmark, defaults.get(fam, {}))
    if preset == "default" and name in LIBRARY_EXPLAINERS:  # nothing but the model (and device, seed)
        base = {}
    if name in BASELINES:  # --set meant for the mask explainers: a baseline takes only its own keywords
        accepted = set(inspect.signature(cls).parameters)
        overrides = {k: v for k, v in overrides.items() if k in accepted}
    params = {**base, **tuned, **overrides, "device": device, "random_state": seed}
    if name in LIBRARY_EXPLAINERS:
        known = cls().get_params()
        unknown = [k for k in params if k not in known]
        if unknown:
            hints = [f"{k} is now {RENAMED[k]}" for k in unknown if k in RENAMED]
            raise SystemExit(
                f"{cls.__name__} has no hyper-parameter {', '.join(map(repr, unknown))}"
                + (f" ({'; '.join(hints)})" if hints else "") + f"; it has: {', '.join(sorted(known))}"
            )
        for k, v in params.items():
            if isinstance(v, str) and (k, v) in RENAMED_VALUES:
                raise SystemExit(f"{cls.__name__}: {k}={v!r} is now {k}={RENAMED_VALUES[k, v]!r}")
    return display_name(name), cls(**params), params


#: The cumulative metrics' removal steps (None: 50, or every entry of a series with fewer, e.g. ItalyPowerDemand's
#: 24) and every faithfulness metric's substitution (the series' channel mean).
CUMULATIVE_STEPS = None
FAITHFULNESS_BASELINE = "average"
TOP_FRACTION = 0.2


def faithfulness(model, X, masks, device):
    """Faithfulness of ``masks`` for a classifier: no ground truth needed (SPEC's fidelity and cumulative metrics).

    comprehensiveness / sufficiency / accuracy drop: the 20 % top-ranked entries (or all the others) replaced by
    the series' channel mean; CPD / CPP: 50 entries (all of a shorter series) removed one at a time from the top /
    bottom of the ranking.
    For a model with an output per time step, each value is averaged over the positions.
    """
    opts = dict(baseline=FAITHFULNESS_BASELINE, device=device)
    return {
        "comprehensiveness": comprehensiveness(model, X, masks, top_fraction=TOP_FRACTION, **opts),
        "sufficiency": sufficiency(model, X, masks, top_fraction=TOP_FRACTION, **opts),
        "accuracy_drop": 1.0 - fidelity_accuracy(model, X, masks, top_fraction=TOP_FRACTION, **opts),
        "cpd": cumulative_prediction_difference(model, X, masks, n_steps=CUMULATIVE_STEPS, **opts),
        "cpp": cumulative_prediction_preservation(model, X, masks, n_steps=CUMULATIVE_STEPS, **opts),
    }


def score(truth, masks):
    return {
        "aup": aup(truth, masks),
        "aur": aur(truth, masks),
        "information": information(truth, masks),
        "entropy": entropy(truth, masks),
        "auroc": auroc(truth, masks),
        "auprc": auprc(truth, masks),
    }


def run_one(args, name, benchmark, seed, overrides):
    task = load_task(benchmark, seed, n_samples=args.n_samples, n_explain=args.n_explain, device=args.device,
                     black_box=args.black_box)
    display, explainer, params = make_explainer(name, benchmark, overrides, args.device, seed, args.preset)
    device = resolve_device(args.device)
    if name in NEEDS_GRADIENTS and task.info.get("gradients") is False:
        print(f"[{benchmark} seed {seed}] {display}: skipped, the black box has no gradients", flush=True)
        return {"benchmark": benchmark, "explainer": display, "seed": seed, "skipped": "needs gradients",
                **{f"task_{k}": v for k, v in task.info.items()}, "params": {}}
    with PeakMemory(device) as mem:
        _sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        _sync()
        start = time.perf_counter()
        # exactly one optimisation per series, as in the committed figures (see explain_once)
        if name in BASELINES:
            explanation = {"masks": explainer.fit_transform(task.panel, model=task.model)}
        else:
            explanation = explain_once(explainer, task.panel, task.model)
        _sync()
        seconds = time.perf_counter() - start
    masks = explanation["masks"]
    if name in BASELINES:
        floor = floor_step = n_iter = None
    else:
        n_iter = explanation["n_iter"]
        floor, floor_step = floor_seconds(explainer, task.panel, n_iter)
    quality = {} if task.true_saliency is None else score(task.true_saliency, masks)
    if family(benchmark) != "rare":  # classifiers: faithfulness without ground truth
        quality.update(faithfulness(task.model, task.panel, masks, args.device))
    rec = {
        "benchmark": benchmark,
        "explainer": display,
        "seed": seed,
        "n_series": int(len(task.X)),
        "device": explainer.device_.type,
        **quality,
        "seconds": seconds,
        "seconds_per_series": seconds / len(task.X),
        "peak_memory_mb": mem.peak_bytes / 2**20,
        "floor_seconds": floor,
        "floor_seconds_per_step": floor_step,
        "floor_ratio": None if floor is None else seconds / floor,
        "n_iter": n_iter,
        "params": {k: v for k, v in params.items() if k not in ("device", "random_state")},
        **{f"task_{k}": v for k, v in task.info.items()},
    }
    if "area" in explanation:  # DynaMask: the area chosen per series
        rec["chosen_area_median"] = float(np.median(explanation["area"]))
    summary = (f"AUP {rec['aup']:.3f} AUR {rec['aur']:.3f} " if "aup" in rec else "") + (
        f"CPD {rec['cpd']:.3f} CPP {rec['cpp']:.3f} comp {rec['comprehensiveness']:.3f} " if "cpd" in rec else "")
    print(
        f"[{benchmark} seed {seed}] {display}: {summary}"
        f"{seconds:.1f} s ({rec['seconds_per_series']:.3f} s/series), "
        + (f"floor ratio {rec['floor_ratio']:.2f}, " if floor else "")
        + f"peak {rec['peak_memory_mb']:.0f} MB",
        flush=True,
    )
    if args.tint and seed == args.seeds[0] and name in TINT_METHODS:
        rec["tint"] = run_tint(args, name, task, masks)
    return rec


def run_tint(args, name, task, ours):
    """tint's implementation on the same data and model, or why it did not run."""
    try:
        sys.path.insert(0, str(HERE))
        from tint_bridge.bridge import run_tint as bridge_run, tint_available
    except ImportError as exc:
        return {"error": f"bridge missing: {exc}"}
    if not tint_available():
        return {"error": "tint venv not set up (bash benchmarks/tint_bridge/setup_venv.sh)"}
    if task.inputs:
        return {"error": "tint cannot pass per-series model inputs (group ids)"}
    method = TINT_METHODS[name]
    settings = TINT_SETTINGS.get((method, family(task.name)), {})
    n = len(task.X) if args.tint_n is None else min(args.tint_n, len(task.X))
    try:
        masks, seconds, vers = bridge_run(method, task.X[:n], task.model, timeout=args.tint_timeout, **settings)
    except Exception as exc:  # report, do not abort the suite
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}
    res = {**score(task.true_saliency[:n], masks), "seconds": seconds, "seconds_per_series": seconds / n, "n_series": n}
    res["ours_same_series"] = score(task.true_saliency[:n], ours[:n])
    res["settings"] = settings
    res["versions"] = vers
    print(f"    tint {name}: AUP {res['aup']:.3f} AUR {res['aur']:.3f} {seconds:.1f} s", flush=True)
    return res


def _mean_std(records, key):
    vals = [r[key] for r in records if isinstance(r.get(key), (int, float))]
    if not vals:
        return None
    return float(np.mean(vals)), float(np.std(vals))


def _cell(recs, key, fmt="{:.3f}"):
    """mean (± std over seeds) of ``key`` over ``recs``, or "–"."""
    ms = _mean_std(recs, key)
    if ms is None:
        return "–"
    n = sum(isinstance(r.get(key), (int, float)) for r in recs)
    return fmt.format(ms[0]) + (f" ± {fmt.format(ms[1])}" if n > 1 else "")


def _header(title, args, command, device, vers, date):
    n_explain = "default counts" if args.n_explain is None else f"first {args.n_explain} test series"
    scope = []
    if any(b.startswith("rare") for b in args.data):
        scope.append(f"rare benchmarks N={args.n_samples}")
    if any(family(b) == "hmm" for b in args.data):
        scope.append("State/Switch-Feature: " + (
            "all 200 test series" if args.n_explain is None else f"first {args.n_explain} test series"))
    if any(is_real(b) for b in args.data):
        scope.append(f"real panels: {n_explain}, black box {args.black_box}")
    return [
        f"\n## {title} — {date}, {device.type}\n",
        f"- machine: {machine(device)}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()),
        f"- command: `{command}`",
        f"- preset: {args.preset}; seeds: {args.seeds} (mean ± std over seeds); " + "; ".join(scope),
    ]


_FAITHFULNESS_NOTE = (
    f"- faithfulness (no ground truth): comprehensiveness (↑), sufficiency (↓) and accuracy drop (↑) with the "
    f"top {TOP_FRACTION:.0%} entries (or all the others) replaced by the series' channel mean; CPD (↑) / CPP (↓): "
    "50 entries (all 24 on ItalyPowerDemand) removed one at a time from the top / bottom of the ranking (same "
    "substitution), "
    "L1 change of the class probabilities summed over the steps; per-step outputs averaged over positions"
)


def _synthetic_lines(args, records, display):
    lines = [
        "",
        "| benchmark | AUP | AUR | information | entropy | AUROC | AUPRC | CPD | CPP | seconds | s / series | floor ratio | "
        "peak MB | paper AUP / AUR |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for bench in [b for b in args.data if not is_real(b)]:
        recs = [r for r in records if r["benchmark"] == bench]
        if not recs:
            continue
        paper = PAPER[bench].get(display)
        lines.append(
            f"| {bench} | {_cell(recs, 'aup')} | {_cell(recs, 'aur')} | {_cell(recs, 'information', '{:.0f}')} | "
            f"{_cell(recs, 'entropy', '{:.1f}')} | {_cell(recs, 'auroc')} | {_cell(recs, 'auprc')} | "
            f"{_cell(recs, 'cpd')} | {_cell(recs, 'cpp')} | {_cell(recs, 'seconds', '{:.1f}')} | "
            f"{_cell(recs, 'seconds_per_series', '{:.3f}')} | {_cell(recs, 'floor_ratio', '{:.2f}')} | "
            f"{_cell(recs, 'peak_memory_mb', '{:.0f}')} | {'%.2f / %.2f' % paper if paper else '–'} |"
        )
    return lines


def _real_lines(args, records):
    lines = [
        "",
        "| benchmark | black box | test accuracy | series | comprehensiveness | sufficiency | accuracy drop | CPD | CPP | "
        "seconds | s / series | floor ratio | peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for bench in [b for b in args.data if is_real(b)]:
        recs = [r for r in records if r["benchmark"] == bench]
        if not recs:
            continue
        if all("skipped" in r for r in recs):
            lines.append(f"| {bench} | {args.black_box} | {_cell(recs, 'task_test_accuracy')} | – | "
                         f"{recs[0]['skipped']} | | | | | | | | |")
            continue
        lines.append(
            f"| {bench} | {args.black_box} | {_cell(recs, 'task_test_accuracy')} | {recs[0]['n_series']} | "
            f"{_cell(recs, 'comprehensiveness')} | {_cell(recs, 'sufficiency')} | {_cell(recs, 'accuracy_drop')} | "
            f"{_cell(recs, 'cpd')} | {_cell(recs, 'cpp')} | {_cell(recs, 'seconds', '{:.1f}')} | "
            f"{_cell(recs, 'seconds_per_series', '{:.3f}')} | {_cell(recs, 'floor_ratio', '{:.2f}')} | "
            f"{_cell(recs, 'peak_memory_mb', '{:.0f}')} |"
        )
    return lines


def _tint_lines(records):
    tint_rows = [(r["benchmark"], r["tint"]) for r in records if "tint" in r]
    if not tint_rows:
        return []
    lines = ["", "tint (reference library, same data and model, first seed; ours = our masks on the same series):", "",
             "| benchmark | series | tint AUP | tint AUR | tint information | tint entropy | tint seconds | tint s / series | "
             "ours AUP / AUR | note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for bench, t in tint_rows:
        if "error" in t:
            lines.append(f"| {bench} | – | – | – | – | – | – | – | – | {t['error']} |")
        else:
            o = t["ours_same_series"]
            extra = format_params(t["settings"])
            lines.append(
                f"| {bench} | {t['n_series']} | {t['aup']:.3f} | {t['aur']:.3f} | {t['information']:.0f} | "
                f"{t['entropy']:.1f} | {t['seconds']:.1f} | {t['seconds_per_series']:.3f} | {o['aup']:.3f} / {o['aur']:.3f} | "
                f"tint {t['versions'].get('tint', '?')}{'; ' + extra if extra else ''} |"
            )
    return lines


def _model_lines(records):
    lines = []
    models = {r["benchmark"]: r for r in records if "task_test_accuracy" in r}
    for bench, r in models.items():
        lines.append(f"- {bench} black box: {r['task_model']}, test accuracy {r['task_test_accuracy']:.3f}")
    return lines


def _save(args, text, stem, device, payload):
    if args.no_save:
        return
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    (out_dir / f"{stem}_{stamp}_{device.type}.json").write_text(json.dumps(payload, indent=1, default=str))
    (out_dir / f"{stem}_{stamp}_{device.type}.md").write_text(text)
    with open(args.results_md, "a") as f:
        f.write(text)


def report(args, records, command, device):
    """One section per explainer: ground-truth and cumulative metrics (synthetic), faithfulness (real panels)."""
    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    display = records[0]["explainer"]
    vers = versions()
    lines = _header(display, args, command, device, vers, date)
    if any(not is_real(b) for b in args.data):
        lines += _synthetic_lines(args, records, display)
    if any(is_real(b) for b in args.data):
        lines += _real_lines(args, records)
    lines += _tint_lines(records)
    lines.append("")
    refs = [(b, MEASURED_REFERENCES[b][display]) for b in args.data if display in MEASURED_REFERENCES.get(b, {})]
    lines += [f"- reference implementation measured for {b}: {text}" for b, text in refs]
    if any(family(b) != "rare" for b in args.data):
        lines.append(_FAITHFULNESS_NOTE)
    lines += _model_lines(records)
    params = next((r["params"] for r in records if r.get("params")), {})
    lines.append("- hyper-parameters (first benchmark): " + format_params(params, with_count=True))
    text = "\n".join(lines) + "\n"
    print(text)
    payload = {"date": date, "machine": machine(device), "versions": vers, "command": command, "records": records}
    _save(args, text, display.lower().split(" ")[0], device, payload)


def comparison(args, records, command, device):
    """Several explainers on the same benchmarks: one table per benchmark, a row per explainer."""
    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    vers = versions()
    lines = _header("Comparison: " + ", ".join(dict.fromkeys(r["explainer"] for r in records)), args, command,
                    device, vers, date)
    for bench in args.data:
        recs = [r for r in records if r["benchmark"] == bench]
        if not recs:
            continue
        truth = not is_real(bench)
        faithful = family(bench) != "rare"
        cols = (["AUP", "AUR"] if truth else []) + (
            ["comprehensiveness", "sufficiency", "accuracy drop", "CPD", "CPP"] if faithful else []) + ["s / series"]
        keys = (["aup", "aur"] if truth else []) + (
            ["comprehensiveness", "sufficiency", "accuracy_drop", "cpd", "cpp"] if faithful else []) + ["seconds_per_series"]
        title = bench + (f" (black box {args.black_box})" if is_real(bench) else "")
        lines += ["", f"**{title}**", "", "| explainer | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for name in dict.fromkeys(r["explainer"] for r in recs):
            mine = [r for r in recs if r["explainer"] == name]
            if all("skipped" in r for r in mine):
                lines.append(f"| {name} | " + " | ".join([mine[0]["skipped"]] + [""] * (len(cols) - 1)) + " |")
                continue
            lines.append(f"| {name} | " + " | ".join(_cell(mine, k) for k in keys) + " |")
    lines.append("")
    if any(family(b) != "rare" for b in args.data):
        lines.append(_FAITHFULNESS_NOTE)
    lines += _model_lines(records)
    text = "\n".join(lines) + "\n"
    print(text)
    payload = {"date": date, "machine": machine(device), "versions": vers, "command": command, "records": records}
    _save(args, text, "comparison", device, payload)


def warm_up(args, name, overrides):
    """A few steps on two series first, so that start-up costs (kernel loading, allocator,
    cuDNN handles) are not charged to the first measured run."""
    task = load_task(args.data[0], args.seeds[0], n_samples=args.n_samples, n_explain=2, device=args.device,
                     black_box=args.black_box)
    if name in NEEDS_GRADIENTS and task.info.get("gradients") is False:
        return
    _, explainer, _ = make_explainer(name, args.data[0], overrides, args.device, 0, args.preset)
    if name in BASELINES:
        explainer.fit_transform(task.panel[:2], model=task.model)
    else:
        explain_once(explainer.set_params(max_iter=3), task.panel[:2], task.model)


def parse_overrides(pairs):
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set expects key=value, got {pair!r}")
        try:
            out[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key.strip()] = value
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--explainer", nargs="+", choices=sorted(EXPLAINERS), default=["dynamask"],
                        help="the library's explainers (sklearn_tsmask.all_explainers(), by module name), "
                             "the captum baselines and the TIMING-style baseline; several give a comparison table too")
    parser.add_argument("--data", nargs="+", choices=BENCHMARKS, default=list(SYNTHETIC),
                        help="the six synthetic benchmarks (default) and the real panels " + ", ".join(
                            b for b in BENCHMARKS if is_real(b)))
    parser.add_argument("--black-box", choices=BLACK_BOXES, default="gru",
                        help="the black box of the real panels: a GRU (gradients) or MiniRocket + logistic "
                             "regression (no gradients)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--preset", choices=["paper", "recommended", "default"], default="paper",
                        help="papers' hyper-parameters (default), the ones we measured to work better, or the "
                             "library's defaults (no argument but the model)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a hyper-parameter")
    parser.add_argument("--n-samples", type=int, default=100, help="series of the rare benchmarks (default 100)")
    parser.add_argument("--n-explain", type=int, default=None,
                        help="test series to explain on State/Switch (default all 200) and the real panels "
                             "(default: BasicMotions 40, JapaneseVowels 100, ItalyPowerDemand 100)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--tint", action="store_true", help="also run tint on the same data and model")
    parser.add_argument("--tint-timeout", type=float, default=3600)
    parser.add_argument("--tint-n", type=int, default=None,
                        help="tint explains only the first N series (its blur needs O(T²·C) memory per mask row)")
    parser.add_argument("--results-md", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    raw = sys.argv[1:] if argv is None else argv
    command = "python -m benchmarks " + " ".join(shlex.quote(a) for a in raw)
    overrides = parse_overrides(args.set)
    device = resolve_device(args.device)
    records = []
    for name in args.explainer:
        warm_up(args, name, overrides)
        mine = []
        for bench in args.data:
            for seed in args.seeds:
                mine.append(run_one(args, name, bench, seed, overrides))
        report(args, mine, command, device)
        records += mine
    if len(args.explainer) > 1:
        comparison(args, records, command, device)
    return records


if __name__ == "__main__":
    main()
