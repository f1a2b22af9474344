"""Tune an explainer on real data, without ground truth: GridSearchCV by comprehensiveness.
========================================================================================

On real data nobody knows the true saliency. The fidelity scorers judge masks by what
they do to the model: comprehensiveness = how much the predicted-class probability drops
when the top 20% entries of the mask are replaced by the series' channel means (higher
is better), sufficiency = how much it drops when everything *but* them is replaced
(lower is better). Here ExtremalMask's λ_1 is tuned on BasicMotions for a small torch
CNN. Runs in about 40 seconds on 2 CPU cores. Needs the ``sktime`` extra (for the data).
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.model_selection import GridSearchCV, KFold
from sktime.datasets import load_basic_motions
from torch import nn

from sklearn_tsmask import ExtremalMask
from sklearn_tsmask.metrics import FIDELITY_SCORING
from sklearn_tsmask.plotting import plot_series_with_mask

X_train, y_train = load_basic_motions(split="train", return_type="numpy3D")
X_test, y_test = load_basic_motions(split="test", return_type="numpy3D")
classes, y_index = np.unique(y_train, return_inverse=True)

torch.manual_seed(0)
cnn = nn.Sequential(nn.Conv1d(6, 16, 5, padding=2), nn.ReLU(), nn.Conv1d(16, 16, 5, padding=2), nn.ReLU(),
                    nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(16, len(classes)))
optimizer = torch.optim.Adam(cnn.parameters(), lr=0.01)
xb, yb = torch.tensor(X_train, dtype=torch.float32), torch.tensor(y_index)
for _ in range(150):
    optimizer.zero_grad()
    nn.functional.cross_entropy(cnn(xb), yb).backward()
    optimizer.step()
cnn.eval()
with torch.no_grad():
    predicted = classes[cnn(torch.tensor(X_test, dtype=torch.float32)).argmax(1).numpy()]
print(f"CNN test accuracy {np.mean(predicted == y_test):.2f}")

X = X_test[::2].astype(np.float32)  # 20 series of the four activities
search = GridSearchCV(
    ExtremalMask(perturbation="zeros", loss="log_loss", max_iter=150, learning_rate=0.05, random_state=0),
    {"lambda_1": [0.01, 0.1, 1.0]},
    # no ground truth: the scorers use the fitted explainer's model; the five fidelity metrics
    # are computed from one optimisation of each test fold's masks
    scoring=FIDELITY_SCORING,
    refit="comprehensiveness",
    cv=KFold(2),
)
search.fit(X, model=cnn)  # no y
print("best by comprehensiveness:", search.best_params_)

# %%
# The scores against λ_1
# ----------------------
# Both fidelity scores of the held-out fold's masks against λ_1 (log scale), mean over the two
# folds with one standard deviation as error bars. ``FIDELITY_SCORING`` reports sufficiency
# negated (``neg_sufficiency``, so that higher is better for every scorer); it is drawn here as
# sufficiency itself. The dotted line marks the candidate chosen by
# ``refit="comprehensiveness"``.

res = search.cv_results_
lambdas = np.asarray(res["param_lambda_1"], dtype=float)
fig, ax = plt.subplots(figsize=(8.5, 3.8))
ax.errorbar(lambdas, res["mean_test_comprehensiveness"], yerr=res["std_test_comprehensiveness"],
            marker="o", capsize=4, label="comprehensiveness (higher is better)")
ax.errorbar(lambdas, -res["mean_test_neg_sufficiency"], yerr=res["std_test_neg_sufficiency"],
            marker="s", capsize=4, label="sufficiency (lower is better)")
ax.axvline(search.best_params_["lambda_1"], color="0.5", linestyle=":", label="best by comprehensiveness")
ax.set_xscale("log")
ax.set_xlabel(r"$\lambda_1$ (price of a kept entry)")
ax.set_ylabel("drop of the predicted-class probability")
ax.set_title("ExtremalMask on BasicMotions, no ground truth")
ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize="small")
plt.tight_layout()
plt.show()

# %%
# Reading it: both scores are drops of the predicted-class probability when the top 20% entries
# of the mask are removed (comprehensiveness) or are all that is kept (sufficiency). Here the
# smallest λ_1 is best on both counts: its masks keep more entries, and the 20% they rank highest
# carry more of what the CNN uses. The error bars are wide because the two folds differ: without
# shuffling, ``KFold(2)`` tests on the standing and running series in one fold and on the walking
# and badminton series in the other. The numbers behind the figure:

for i, params in enumerate(res["params"]):
    print(f"lambda_1={params['lambda_1']:<5} comprehensiveness {res['mean_test_comprehensiveness'][i]:.3f}  "
          f"sufficiency {-res['mean_test_neg_sufficiency'][i]:.3f}")

# %%
# One series and its mask
# -----------------------
# The refitted best explainer explains a walking series: its six channels drawn as black lines
# over the mask (orange background, dark where the mask is 1, that is where the entries must be
# kept for the CNN to keep its prediction).

channels = ["accelerometer x", "accelerometer y", "accelerometer z", "gyroscope x", "gyroscope y", "gyroscope z"]
i = 10  # the first walking series of X
mask = search.best_estimator_.transform(X[i : i + 1])[0]  # (6, 100)
axes = plot_series_with_mask(X[i], mask, channel_names=channels)
axes[0].set_title(rf"a {y_test[::2][i]} test series and its mask ($\lambda_1 = {search.best_params_['lambda_1']}$)")
plt.show()
print(f"mean mask {mask.mean():.2f}; per channel", mask.mean(axis=1).round(2))

# %%
# At the smallest λ_1 entries are cheap, and the mask keeps about half of the entries, spread
# over every channel in stretches that repeat with the strides of the walk; the ranking inside
# it is what comprehensiveness measures. A larger λ_1 gives sparser masks, at the cost of
# comprehensiveness (the figure above).
