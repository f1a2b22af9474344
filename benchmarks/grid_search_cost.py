"""What a GridSearchCV over an explainer costs, against explaining every series once per candidate.

The case: a GRU black box (GRU(3 -> 200) + the reference head, trained on State
series of length 120), ``--n-series`` series to explain (30), ``--max-iter``
optimisation steps (100), two candidates, ``cv=3``, the AUP and AUR of one
``make_scoring`` object, refit on AUR. Beside it, in the same run and
alternating with it, the reference cost: for each candidate, one
``fit_transform`` of all the series (each series explained once). The ratio
search / reference is the figure; it is decomposed into the search's fits,
its scoring (the test folds' transforms) and its refit.

Usage::

    python benchmarks/grid_search_cost.py                      # all explainers, 30 series
    python benchmarks/grid_search_cost.py --explainer dynamask --n-series 300 --repeats 1
    python benchmarks/grid_search_cost.py --checkout /tmp/old  # a checkout from before the contract's second cut

``--checkout`` imports the library from another checkout; one from before the
parameter renames is driven with its own names (``n_epochs``, ``loss="cross_entropy"``)
and its documented multi-metric idiom (a dict of single scorers, which shared
masks through a cache in ``transform``).

Prints a markdown table; ``--output FILE`` also writes the records as JSON.
"""

import argparse
import datetime
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold

if "--checkout" in sys.argv:  # import the library (and nothing else) from another checkout
    sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--checkout") + 1]).resolve()))

import sklearn_tsmask  # noqa: E402
import sklearn_tsmask._models  # noqa: E402
from sklearn_tsmask.datasets import make_state, train_gru_classifier  # noqa: E402

OLD_API = not hasattr(sklearn_tsmask, "WithInputs")
_CLASSES = {"dynamask": "DynaMask", "extremal_mask": "ExtremalMask", "contralsp": "ContraLSP"}


def _explainers():
    if OLD_API:
        return [(cls, getattr(sklearn_tsmask, cls)) for cls in _CLASSES.values()]
    return sklearn_tsmask.all_explainers()


def _scoring():
    if OLD_API:  # the documented idiom then: a dict of single scorers sharing a cache in transform
        from sklearn_tsmask.metrics import aup_scorer, aur_scorer

        return {"aup": aup_scorer, "aur": aur_scorer}
    from sklearn_tsmask.metrics import make_scoring

    return make_scoring(["aup", "aur"])


def _api(params):
    if not OLD_API:
        return params
    out = dict(params)
    out["n_epochs"] = out.pop("max_iter")
    out["loss"] = {"log_loss": "cross_entropy", "squared_error": "mse"}[out["loss"]]
    return out

HERE = Path(__file__).resolve().parent

#: The two candidates of each method's grid (a regulariser weight, the knob users tune).
GRIDS = {
    "dynamask": {"lambda_area": [0.1, 1.0]},
    "extremal_mask": {"lambda_1": [0.5, 1.0]},
    "contralsp": {"alpha": [1.0, 2.0]},
}
#: Method settings besides the grid: the State settings of the papers (area 0.3 for DynaMask).
SETTINGS = {
    "dynamask": dict(area=0.3, lambda_area_growth=100.0, lambda_time=1.0),
    "extremal_mask": dict(),
    "contralsp": dict(beta=1.0, sigma=0.5),
}


def _cli_name(cls):
    return cls.__module__.rsplit(".", 1)[-1]


def timed_class(base):
    """A subclass of ``base`` adding the seconds of each ``fit`` and ``transform`` to ``log``."""

    class Timed(base):
        log = {"fit": 0.0, "transform": 0.0, "n_fit": 0, "n_transform": 0}

        def fit(self, X, y=None, *, model=None):
            t0 = time.perf_counter()
            try:
                return super().fit(X, y, model=model)
            finally:
                type(self).log["fit"] += time.perf_counter() - t0
                type(self).log["n_fit"] += 1

        def transform(self, X):
            t0 = time.perf_counter()
            try:
                return super().transform(X)
            finally:
                type(self).log["transform"] += time.perf_counter() - t0
                type(self).log["n_transform"] += 1

    Timed.__name__ = base.__name__
    return Timed


def black_box(n_series, n_timepoints, device):
    data = make_state(n_train=400, n_test=n_series, n_timepoints=n_timepoints, random_state=0)
    model, report = train_gru_classifier(
        data.X_train, data.y_train, data.X_test, data.y_test, learning_rate=1e-3, random_state=0,
        cache_dir=HERE / "_cache", device=device, **{"n_epochs" if OLD_API else "max_iter": 20},
    )
    return data.X_test.astype(np.float32), data.true_saliency_test, model, report


def black_box_step(model, X, repeats=20):
    """Seconds of one forward + backward pass of the frozen black box on ``X`` (median of ``repeats``)."""
    net = sklearn_tsmask._models.wrap_model(model, device=torch.device("cpu"))
    x = torch.as_tensor(X)
    times = []
    for i in range(repeats + 3):
        xi = x.clone().requires_grad_(True)
        t0 = time.perf_counter()
        with torch.enable_grad():
            net(xi).pow(2).sum().backward()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def lower_bounds(model, X, n_candidates=2):
    """The least a search can cost against the reference, from the black box's step cost alone.

    Every (candidate, fold) is one call: DynaMask optimises the 3 test folds (N/3 series each);
    a method that trains networks in ``fit`` also optimises the 3 training folds (2N/3) and, for
    the refit, all N series once per search. The reference optimises all N series per candidate.
    """
    n = len(X)
    third, two_thirds = black_box_step(model, X[: n // 3]), black_box_step(model, X[: 2 * n // 3])
    full = black_box_step(model, X)
    return dict(step_third=third, step_two_thirds=two_thirds, step_all=full,
                no_fit_bound=3 * third / full,
                learned_bound=(3 * (third + two_thirds) + full / n_candidates) / full)


def run_search(cls, params, grid, X, truth, model, refit):
    Timed = timed_class(cls)
    Timed.log = {"fit": 0.0, "transform": 0.0, "n_fit": 0, "n_transform": 0}
    search = GridSearchCV(Timed(**params), grid, scoring=_scoring(), refit=refit, cv=KFold(3))
    t0 = time.perf_counter()
    search.fit(X, truth, model=model)
    seconds = time.perf_counter() - t0
    return seconds, dict(Timed.log), search


def run_reference(cls, params, grid, X, model):
    t0 = time.perf_counter()
    for candidate in sklearn.model_selection.ParameterGrid(grid):
        clone(cls(**params)).set_params(**candidate).fit_transform(X, model=model)
    return time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = {_cli_name(cls): cls for _, cls in _explainers()}
    parser.add_argument("--explainer", nargs="+", choices=sorted(names), default=sorted(names))
    parser.add_argument("--n-series", type=int, default=30)
    parser.add_argument("--n-timepoints", type=int, default=120)
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2, help="alternating (search, reference) pairs; medians")
    parser.add_argument("--no-refit", action="store_true", help="refit=False (the search only scores)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", default=None)
    parser.add_argument("--checkout", default=None, help="root of another checkout of the library to measure")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    X, truth, model, report = black_box(args.n_series, args.n_timepoints, args.device)
    print(f"library: {Path(sklearn_tsmask.__file__).parent} ({'before' if OLD_API else 'after'} the contract's "
          "second cut)")
    print(f"black box: GRU(3->200) + reference head, test accuracy {report['test_accuracy']:.3f}; "
          f"X {X.shape}; {args.max_iter} steps; 2 candidates; cv=3; refit={'no' if args.no_refit else 'aur'}")
    bounds = lower_bounds(model, X)
    print(f"black box forward+backward: {1e3 * bounds['step_third']:.1f} ms on {len(X) // 3} series, "
          f"{1e3 * bounds['step_two_thirds']:.1f} ms on {2 * len(X) // 3}, {1e3 * bounds['step_all']:.1f} ms on "
          f"{len(X)}: least ratio without training in fit {bounds['no_fit_bound']:.2f}x, with networks trained in "
          f"fit and a refit {bounds['learned_bound']:.2f}x", flush=True)
    records = []
    for name in args.explainer:
        cls = names[name]
        params = _api(dict(SETTINGS.get(name, {}), max_iter=args.max_iter, loss="log_loss", device=args.device,
                           random_state=0))
        grid = GRIDS.get(name)
        if grid is None:
            print(f"{name}: no grid defined, skipped")
            continue
        refit = False if args.no_refit else "aur"
        run_reference(cls, dict(params, **_api({"max_iter": 2, "loss": "log_loss"})), grid, X, model)  # warm-up
        searches, references, logs = [], [], []
        for _ in range(args.repeats):
            seconds, log, _ = run_search(cls, params, grid, X, truth, model, refit)
            searches.append(seconds)
            logs.append(log)
            references.append(run_reference(cls, params, grid, X, model))
        s, r = statistics.median(searches), statistics.median(references)
        log = logs[searches.index(sorted(searches)[len(searches) // 2])]
        n_refit = 0 if args.no_refit else 1
        refit_fit = log["fit"] / log["n_fit"] if n_refit else 0.0  # approximation: the fits' mean
        rec = dict(explainer=cls.__name__, search_seconds=s, reference_seconds=r, ratio=s / r,
                   fit_seconds=log["fit"], n_fit=log["n_fit"], transform_seconds=log["transform"],
                   n_transform=log["n_transform"], searches=searches, references=references,
                   n_series=args.n_series, n_timepoints=args.n_timepoints, max_iter=args.max_iter,
                   refit=bool(n_refit), grid=grid, settings=params | {"device": str(args.device)})
        records.append(rec)
        print(f"{cls.__name__}: search {s:.1f} s, reference {r:.1f} s -> {s / r:.2f}x "
              f"(fits {log['fit']:.1f} s in {log['n_fit']} calls, transforms {log['transform']:.1f} s in "
              f"{log['n_transform']} calls; refit ~{refit_fit:.1f} s)", flush=True)

    print()
    print("| explainer | GridSearchCV (s) | each candidate explains every series once (s) | ratio | "
          "fits (s, calls) | transforms (s, calls) |")
    print("|---|---|---|---|---|---|")
    for rec in records:
        print(f"| {rec['explainer']} | {rec['search_seconds']:.1f} | {rec['reference_seconds']:.1f} | "
              f"{rec['ratio']:.2f}x | {rec['fit_seconds']:.1f}, {rec['n_fit']} | "
              f"{rec['transform_seconds']:.1f}, {rec['n_transform']} |")
    meta = dict(library=str(Path(sklearn_tsmask.__file__).parent), date=datetime.datetime.now().isoformat(timespec="seconds"), machine=platform.processor() or
                platform.machine(), cpus=torch.get_num_threads(), torch=torch.__version__,
                sklearn=sklearn.__version__, sklearn_tsmask=sklearn_tsmask.__version__,
                command="python " + " ".join(sys.argv))
    print(f"\n{meta['date']} | {meta['machine']} | torch threads {meta['cpus']} | torch {meta['torch']} | "
          f"scikit-learn {meta['sklearn']} | `{meta['command']}`")
    if args.output:
        Path(args.output).write_text(json.dumps(dict(meta=meta, bounds=bounds, records=records), indent=1,
                                                default=str))


if __name__ == "__main__":
    main()
