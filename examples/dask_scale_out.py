"""Scale out on Dask: a grid search on a cluster, and masks of a panel explained chunk by chunk.
=============================================================================================

A local ``distributed`` cluster (2 worker processes, one thread and one torch thread
each, so that torch's OpenMP threads do not oversubscribe the cores) stands in for a
real cluster: the same code runs on any Dask scheduler address. Runs in about 30
seconds on 2 CPU cores. Needs the ``dask`` extra.
"""

import time

import joblib
import numpy as np
from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_tsmask import DynaMask
from sklearn_tsmask.datasets import make_rare_feature
from sklearn_tsmask.metrics import SALIENCY_SCORING, aup, aur
from sklearn_tsmask.parallel import explain_in_chunks

if __name__ == "__main__":  # worker processes re-import this file
    X, true_saliency, white_box = make_rare_feature(n_samples=48, random_state=0)  # (48, 50, 50)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        # 1. GridSearchCV over DynaMask's area, its fits and scores run on the workers
        search = GridSearchCV(DynaMask(max_iter=200, random_state=0), {"area": [0.02, 0.05, 0.1]},
                              scoring=SALIENCY_SCORING, refit="aur", cv=KFold(2), n_jobs=-1)
        start = time.perf_counter()
        with joblib.parallel_backend("dask"):
            search.fit(X[:16], true_saliency[:16], model=white_box)
        print(f"grid search on the cluster: best {search.best_params_} "
              f"(AUR {search.best_score_:.3f}) in {time.perf_counter() - start:.1f} s")

        # 2. the best explainer's masks of all 48 series, 8 series per task on the workers
        start = time.perf_counter()
        masks = explain_in_chunks(search.best_estimator_, X, chunk_size=8, client=client)
        print(f"explained {len(X)} series in chunks of 8 in {time.perf_counter() - start:.1f} s: "
              f"AUP {aup(true_saliency, masks):.3f}, AUR {aur(true_saliency, masks):.3f}")
        # DynaMask explains each series on its own: chunking does not change the masks
        local = search.best_estimator_.transform(X[16:24])
        print("chunked = local transform:", bool(np.allclose(masks[16:24], local, atol=1e-6)))
