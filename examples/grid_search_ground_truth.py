"""Grid search with ground truth: tune ExtremalMask's λ_1 by AUP and AUR with GridSearchCV.
========================================================================================

On the Rare-Time benchmark the true saliency is known, so it is the target of the
search (``y``) and the saliency scorers compare each candidate's masks of the held-out
series with it. ``SALIENCY_SCORING`` computes all six metrics from one optimisation
of each test fold's masks. Runs in about 30 seconds on 2 CPU cores.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_tsmask import ExtremalMask
from sklearn_tsmask.datasets import make_rare_time
from sklearn_tsmask.metrics import SALIENCY_SCORING
from sklearn_tsmask.plotting import plot_mask

X, true_saliency, white_box = make_rare_time(n_samples=16, random_state=0)  # (16, 50, 50)

search = GridSearchCV(
    ExtremalMask(perturbation="zeros", max_iter=200, learning_rate=0.1, random_state=0),
    {"lambda_1": [0.01, 0.1, 1.0]},
    scoring=SALIENCY_SCORING,  # aup, aur, information, neg_entropy, auroc, auprc: one optimisation per fold
    refit="aur",  # refitting the best candidate on all 16 series costs one more fit (an optimisation)
    cv=KFold(2),
    n_jobs=1,  # n_jobs=2 gives the same numbers
)
search.fit(X, true_saliency, model=white_box)
print("best by AUR:", search.best_params_)

# %%
# The scores against λ_1
# ----------------------
# ``search.cv_results_`` holds, for every candidate, the mean and the standard deviation over
# the folds of each scorer. Precision (AUP) and recall (AUR) of the masks against the truth,
# drawn against λ_1 (log scale) with one standard deviation over the two folds as error bars;
# the dotted line marks the candidate chosen by ``refit="aur"``.

res = search.cv_results_
lambdas = np.asarray(res["param_lambda_1"], dtype=float)
fig, ax = plt.subplots(figsize=(6, 3.8))
for metric, label in (("aup", "AUP (precision)"), ("aur", "AUR (recall)")):
    ax.errorbar(lambdas, res[f"mean_test_{metric}"], yerr=res[f"std_test_{metric}"],
                marker="o", capsize=4, label=label)
ax.axvline(search.best_params_["lambda_1"], color="0.5", linestyle=":", label="best by AUR")
ax.set_xscale("log")
ax.set_xlabel(r"$\lambda_1$ (price of a kept entry)")
ax.set_ylabel("score on the held-out folds")
ax.set_title("ExtremalMask on Rare-Time: 2-fold grid search")
ax.legend(loc="lower left")
plt.tight_layout()
plt.show()

# %%
# Reading it: a larger λ_1 makes every kept entry dearer, so the masks shrink: precision rises
# toward 1 while recall falls. Which side of the trade-off to pick is the choice of ``refit``.
# The numbers behind the figure:

for i, params in enumerate(res["params"]):
    print(f"lambda_1={params['lambda_1']:<5} AUP {res['mean_test_aup'][i]:.3f}  AUR {res['mean_test_aur'][i]:.3f}  "
          f"AUROC {res['mean_test_auroc'][i]:.3f}")
assert np.isfinite(res["mean_test_aup"]).all()

# %%
# The best explainer's masks
# --------------------------
# The masks of all 16 series from the refitted explainer: transform optimises them again, from what
# the refit learned (one more optimisation of the 16 series on top of the refit's).

masks = search.best_estimator_.transform(X)
print(f"mask mass on the salient entries {masks[true_saliency == 1].mean():.2f}, elsewhere {masks[true_saliency == 0].mean():.3f}")

plot_mask(masks[0], true_saliency=true_saliency[0],
          title=rf"mask, $\lambda_1 = {search.best_params_['lambda_1']}$, series 0")
plt.show()

# %%
# The mask of the first series (channels × time steps) beside its ground truth: in Rare-Time a few
# time steps are salient in a group of channels, and the best candidate's mask covers that block
# and little else.
