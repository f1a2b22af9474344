"""Do two checkouts of the library give the same masks on the six benchmarks? (quality before/after a change)

A refactoring must not move the committed figures. This script runs every
library explainer on every benchmark with the committed settings of a
checkout's benchmark runner (``benchmarks/run.py``: the papers' settings, or
``--preset recommended``), on the first ``--n-series`` series, and saves the
masks and their AUP/AUR; ``--compare`` then puts two such runs side by side
and reports the largest mask difference. Identical masks on the same series
and settings mean every figure measured with those settings stands.

Usage (the checkout before the change in ``/tmp/old``, e.g. ``git worktree add /tmp/old <commit>``)::

    python benchmarks/compare_checkouts.py --checkout /tmp/old --out /tmp/before.npz
    python benchmarks/compare_checkouts.py --checkout . --out /tmp/after.npz
    python benchmarks/compare_checkouts.py --compare /tmp/before.npz /tmp/after.npz

Both runs share the cached GRU black boxes of State and Switch-Feature
(``--cache``). Checkouts from before the parameter renames (``n_epochs``,
``loss="mse"``, ``optimizer``, ``transform_perturbation``, ``model_kwargs``)
are driven with their own names.
"""

import argparse
import importlib
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
_RENAMES = {"max_iter": "n_epochs", "solver": "optimizer", "transform_networks": "transform_perturbation"}
_LOSSES = {"squared_error": "mse", "log_loss": "cross_entropy"}
_CLASSES = {"dynamask": "DynaMask", "extremal_mask": "ExtremalMask", "contralsp": "ContraLSP"}


def _settings(run, name, benchmark, preset):
    if hasattr(run, "PAPER_SETTINGS"):  # runner with the registry from sklearn_tsmask.all_explainers()
        per = run.PAPER_SETTINGS.get(name, {})
    else:
        entry = run.EXPLAINERS[name]
        per = entry[2] if isinstance(entry, tuple) else entry["settings"]
    family = "rare" if benchmark.startswith("rare") else "hmm"
    params = dict(per.get(family, {}))
    params.update(per.get(benchmark, {}))
    if preset == "recommended":
        rec = run.RECOMMENDED.get(name, {})
        params.update(rec.get(family, {}))
        params.update(rec.get(benchmark, {}))
    return params


def _old_api(params, cls_name):
    out = {}
    for key, value in params.items():
        if key == "loss":
            value = _LOSSES.get(value, value)
        if key == "transform_networks" and cls_name == "ContraLSP":
            out[key] = value
            continue
        out[_RENAMES.get(key, key)] = value
    return out


def run_checkout(checkout, out, n_series, preset, cache, benchmarks, methods):
    checkout = Path(checkout).resolve()
    sys.path.insert(0, str(checkout))
    lib = importlib.import_module("sklearn_tsmask")
    tasks = importlib.import_module("benchmarks._tasks")
    run = importlib.import_module("benchmarks.run")
    from sklearn_tsmask.metrics import aup, aur

    assert Path(lib.__file__).resolve().is_relative_to(checkout), lib.__file__
    tasks.CACHE = Path(cache)
    old_api = not hasattr(lib, "WithInputs")
    results = {}
    for benchmark in benchmarks:
        task = tasks.load_task(benchmark, 0, n_samples=n_series, n_explain=n_series, device="cpu")
        X, truth = task.X[:n_series], task.true_saliency[:n_series]
        inputs = task.inputs if hasattr(task, "inputs") else task.model_kwargs  # renamed with WithInputs
        kwargs = {k: np.asarray(v)[:n_series] for k, v in inputs.items()}
        for name in methods:
            cls = getattr(lib, _CLASSES[name])
            params = dict(_settings(run, name, benchmark, preset), device="cpu", random_state=0)
            if old_api:
                params = _old_api(params, cls.__name__)
                est = cls(**params)
                t0 = time.perf_counter()
                masks = est.fit_transform(X, task.model, model_kwargs=kwargs or None)
            else:
                est = cls(**params)
                data = lib.WithInputs(X, **kwargs) if kwargs else X
                t0 = time.perf_counter()
                masks = est.fit_transform(data, task.model)
            seconds = time.perf_counter() - t0
            key = f"{name}|{benchmark}"
            results[key] = np.asarray(masks)
            print(f"{key}: AUP {aup(truth, masks):.6f} AUR {aur(truth, masks):.6f} ({seconds:.1f} s)", flush=True)
    np.savez_compressed(out, **results)


def compare(before, after):
    a, b = np.load(before), np.load(after)
    worst = 0.0
    print("| method | benchmark | max abs mask difference |")
    print("|---|---|---|")
    for key in sorted(a.files):
        if key not in b.files:
            print(f"| {key.replace('|', ' | ')} | missing after |")
            continue
        diff = float(np.abs(a[key] - b[key]).max())
        worst = max(worst, diff)
        print(f"| {key.replace('|', ' | ')} | {diff:.3g} |")
    print(f"\nlargest difference: {worst:.3g}")
    return worst


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", help="root of the checkout to run")
    parser.add_argument("--out", help="where to save the masks (.npz)")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--n-series", type=int, default=5)
    parser.add_argument("--preset", choices=["paper", "recommended"], default="paper")
    parser.add_argument("--cache", default=str(HERE / "_cache"))
    parser.add_argument("--data", nargs="+", default=["rare-time", "rare-feature", "rare-time-diffgroups",
                                                       "rare-feature-diffgroups", "state", "switch-feature"])
    parser.add_argument("--explainer", nargs="+", default=list(_CLASSES))
    args = parser.parse_args(argv)
    if args.compare:
        compare(*args.compare)
        return
    if not (args.checkout and args.out):
        parser.error("--checkout and --out are needed (or --compare BEFORE AFTER)")
    run_checkout(args.checkout, args.out, args.n_series, args.preset, args.cache, args.data, args.explainer)


if __name__ == "__main__":
    main()
