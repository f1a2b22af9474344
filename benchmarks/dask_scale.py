"""Scale out on a local Dask cluster: a panel explained chunk by chunk, and a grid search on the workers.

Usage::

    python benchmarks/dask_scale.py                       # N = 2,000 series, 2 workers x 1 thread
    python benchmarks/dask_scale.py --n-series 500 --no-save

1. The panel of ``benchmarks/scale.py`` (random series, C = 8, T = 200, a GRU(8 → 64) classifier) explained by
   each explainer (its defaults, ``--max-iter`` steps, stopping rule off; DynaMask with one area, 0.1, and the blur,
   its defaults when the committed figures were measured, see ``scale.py``) in one process with 2 torch threads,
   then through :func:`~sklearn_tsmask.parallel.explain_in_chunks` on a ``LocalCluster`` of 2 worker processes
   with one thread and one torch thread each: the speed-up, and the largest difference between the two masks.
2. ``GridSearchCV`` over ExtremalMask's ``lambda_1`` on Rare-Feature with the saliency scorers, sequential
   (``n_jobs=1``) and under joblib's Dask backend: the time of each and whether the scores agree.
3. The torch threads each worker process runs with while it explains a chunk (read inside the task), to check
   that no worker oversubscribes the cores.

Appends a section to ``benchmarks/RESULTS.md``.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._measure import publish  # noqa: E402
from benchmarks._workers import ThreadsSeen, worker_threads  # noqa: E402
from benchmarks.scale import ONE_AREA  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-series", type=int, default=2000)
    parser.add_argument("--chunk-size", type=int, default=250)
    parser.add_argument("--max-iter", type=int, default=20)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)

    import joblib
    from distributed import Client, LocalCluster
    from sklearn.model_selection import GridSearchCV, KFold

    from benchmarks.run import section_header
    from sklearn_tsmask import ContraLSP, DynaMask, ExtremalMask
    from sklearn_tsmask.datasets import GRUClassifier, make_rare_feature
    from sklearn_tsmask.metrics import SALIENCY_SCORING
    from sklearn_tsmask.parallel import explain_in_chunks

    torch.set_num_threads(2)
    X = np.random.RandomState(0).randn(args.n_series, 8, 200).astype(np.float32)
    model = GRUClassifier(n_channels=8, n_classes=4, hidden_size=64, output="last", random_state=0)
    explainers = {
        "DynaMask": lambda: DynaMask(max_iter=args.max_iter, device="cpu", random_state=0, **ONE_AREA["dynamask"]),
        "ExtremalMask": lambda: ExtremalMask(max_iter=args.max_iter, tol=None, device="cpu", random_state=0),
        "ContraLSP": lambda: ContraLSP(max_iter=args.max_iter, device="cpu", random_state=0),
    }
    rows, threads_seen = [], None
    Xr, truth, white_box = make_rare_feature(n_samples=32, random_state=0)
    grid = {"lambda_1": [0.1, 0.5, 1.0]}

    def search():
        return GridSearchCV(ExtremalMask(device="cpu", random_state=0), grid, scoring=SALIENCY_SCORING, refit="aur",
                            cv=KFold(2), n_jobs=1)

    start = time.perf_counter()
    local_search = search().fit(Xr, truth, model=white_box)
    local_search_seconds = time.perf_counter() - start
    local = {}
    for name, make in explainers.items():
        fitted = make().fit(X[: args.chunk_size], model)  # what transform reuses (ContraLSP: its networks)
        start = time.perf_counter()
        local[name] = (fitted, fitted.transform(X), time.perf_counter() - start)
        print(f"{name}: one process {local[name][2]:.1f} s", flush=True)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        for name, (fitted, masks, seconds) in local.items():
            start = time.perf_counter()
            chunked = explain_in_chunks(fitted, X, chunk_size=args.chunk_size, client=client)
            dask_seconds = time.perf_counter() - start
            diff = float(np.abs(chunked - masks).max())
            rows.append((name, seconds, dask_seconds, diff))
            print(f"{name}: dask {dask_seconds:.1f} s, max |difference| {diff:.2e}", flush=True)
        watched = ExtremalMask(max_iter=2, tol=None, device="cpu", random_state=0).fit(X[:8], ThreadsSeen(model))
        watched.model_.function.threads.zero_()  # forget the calls of fit, made here with 2 threads
        threads_seen = client.gather(client.submit(worker_threads, watched, X[:8], pure=False))
        start = time.perf_counter()
        with joblib.parallel_backend("dask"):
            dask_search = search().set_params(n_jobs=-1).fit(Xr, truth, model=white_box)
        dask_search_seconds = time.perf_counter() - start

    same_scores = all(np.allclose(local_search.cv_results_[f"mean_test_{m}"], dask_search.cv_results_[f"mean_test_{m}"])
                      for m in ("aup", "aur"))
    lines = [
        *section_header("Scale out on a local Dask cluster", torch.device("cpu"), "benchmarks/dask_scale.py", argv),
        f"- panel: {args.n_series} random series, C = 8, T = 200, GRUClassifier(8 → 64); each explainer's defaults "
        f"(DynaMask: {ONE_AREA['dynamask']}) with {args.max_iter} steps (stopping rule off), fitted on the first "
        f"{args.chunk_size} series; one process "
        f"with 2 torch threads against `explain_in_chunks(chunk_size={args.chunk_size})` on LocalCluster(2 worker "
        "processes × 1 thread, torch_threads=1)",
        "",
        "| explainer | one process (s) | Dask, 2 workers (s) | speed-up | max abs difference of the masks |",
        "|---|---|---|---|---|",
        *[f"| {n} | {a:.1f} | {b:.1f} | {a / b:.2f} | {d:.1e} |" for n, a, b, d in rows],
        "",
        f"- GridSearchCV(ExtremalMask, lambda_1 {grid['lambda_1']}, KFold(2), saliency scorers) on Rare-Feature (32 "
        f"series): sequential {local_search_seconds:.1f} s, joblib Dask backend {dask_search_seconds:.1f} s; same "
        f"mean test AUP and AUR: {'yes' if same_scores else 'no'}; best {dask_search.best_params_}",
        f"- torch threads of the black box's calls inside a chunk task on a worker: {threads_seen[0]}; the worker "
        f"process's own setting outside the task: {threads_seen[1]} (2 worker processes, 1 thread each)",
    ]
    publish("\n".join(lines) + "\n", no_save=args.no_save)


if __name__ == "__main__":
    main()
