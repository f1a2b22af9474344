"""Quickstart: explain a white-box regressor with DynaMask and score the masks.
============================================================================

The Rare-Feature benchmark: 5 of 50 channels drive the model's output during
time steps 12-36. DynaMask should put its mask on exactly those entries.
Runs in about 15 seconds on 2 CPU cores.
"""

import matplotlib.pyplot as plt
import numpy as np

from sklearn_tsmask import DynaMask
from sklearn_tsmask.datasets import make_rare_feature
from sklearn_tsmask.metrics import aup, aur, entropy, information
from sklearn_tsmask.plotting import plot_mask, plot_series_with_mask

X, true_saliency, white_box = make_rare_feature(n_samples=8, random_state=0)  # (8, 50, 50)

# The defaults: 14 areas from 1% to 50% of the entries, optimised jointly; each series keeps the smallest area
# whose error is within 10% of its error scale of its lowest error (the scale: the range of its errors over the
# areas, or how far even the best mask leaves the output from the model's own, when that is larger).
explainer = DynaMask(random_state=0)
# fit only checks the data and the model (DynaMask learns nothing that carries over to other series);
# explain optimises the masks, once, and returns them with each series' chosen area and error.
explanation = explainer.fit(X, white_box).explain(X)
masks = explanation.masks  # same as explainer.transform(X) or explainer.fit_transform(X, white_box)

# %%
# The mask beside the truth
# -------------------------
# The mask of the first series (left, channels × time steps) beside its ground truth (right),
# on the same colour scale: 1 (yellow) marks an entry the explanation keeps, 0 (dark) one it
# may perturb. The plotting helpers need the ``plot`` extra (matplotlib).

plot_mask(masks[0], true_saliency=true_saliency[0], title="DynaMask mask, series 0")
plt.show()

# %%
# Reading it: the yellow bands of the mask sit on the true salient block, five channels during
# time steps 12-36; every series chose the area 0.05, the share of the entries the model reads
# (``explanation.area``), because no smaller area keeps the output and no larger one lowers the
# error further. The same comparison in numbers, over the eight series:

print(f"masks {masks.shape}, values in [{masks.min():.2f}, {masks.max():.2f}]")
print(f"AUP {aup(true_saliency, masks):.3f}  AUR {aur(true_saliency, masks):.3f}")
print(f"information {information(true_saliency, masks, reduction='mean'):.1f}  "
      f"entropy {entropy(true_saliency, masks, reduction='mean'):.2f} (per series)")
print("chosen area per series:", explanation.area.round(3))

# The five most salient channels of the first series, by total mask mass:
top = np.argsort(masks[0].sum(axis=1))[::-1][:5]
truth = np.flatnonzero(true_saliency[0].any(axis=1))
print("top channels", sorted(top.tolist()), "true channels", truth.tolist())

# %%
# The series with its mask
# ------------------------
# The series themselves: the five true channels of the first series and one channel the model
# ignores, each drawn as a black line over its mask (the orange background, dark where the mask
# is 1). The dashed lines bound the window where the true channels drive the output.

shown = truth.tolist() + [0]
window = np.flatnonzero(true_saliency[0].any(axis=0))
axes = plot_series_with_mask(X[0, shown], masks[0, shown], channel_names=[f"channel {c}" for c in shown])
for ax in axes:
    for edge in (window[0] - 0.5, window[-1] + 0.5):
        ax.axvline(edge, color="C0", linestyle="--", linewidth=1.5)
axes[0].set_title("series 0 and its DynaMask mask (dashed: the true salient window)")
plt.show()

# %%
# The mask lights up the true channels inside the window only, and stays off on channel 0, which
# the model does not use: the explanation is about *where* the model looks, not about where the
# series is large.
