"""Quickstart: explain a white-box regressor with DynaMask and score the masks.
============================================================================

The Rare-Feature benchmark: 5 of 50 channels drive the model's output during
time steps 12-36. DynaMask should put its mask on exactly those entries.
Runs in about 15 seconds on 2 CPU cores.
"""

import numpy as np

from sklearn_tsmask import DynaMask
from sklearn_tsmask.datasets import make_rare_feature
from sklearn_tsmask.metrics import aup, aur, entropy, information

X, true_saliency, white_box = make_rare_feature(n_samples=8, random_state=0)  # (8, 50, 50)

# Areas between 1% and 5% of the entries, optimised jointly; the lowest-error one is kept per series.
explainer = DynaMask(area=np.linspace(0.01, 0.05, 9), max_iter=500, random_state=0)
# fit only checks the data and the model (DynaMask learns nothing that carries over to other series);
# explain optimises the masks, once, and returns them with each series' chosen area and error.
explanation = explainer.fit(X, white_box).explain(X)
masks = explanation.masks  # same as explainer.transform(X) or explainer.fit_transform(X, white_box)

print(f"masks {masks.shape}, values in [{masks.min():.2f}, {masks.max():.2f}]")
print(f"AUP {aup(true_saliency, masks):.3f}  AUR {aur(true_saliency, masks):.3f}")
print(f"information {information(true_saliency, masks, reduction='mean'):.1f}  "
      f"entropy {entropy(true_saliency, masks, reduction='mean'):.2f} (per series)")
print("chosen area per series:", explanation.area.round(3))

# The five most salient channels of the first series, by total mask mass:
top = np.argsort(masks[0].sum(axis=1))[::-1][:5]
truth = np.flatnonzero(true_saliency[0].any(axis=1))
print("top channels", sorted(top.tolist()), "true channels", truth.tolist())

# The mask of the first series beside its ground truth (needs the ``plot`` extra).
from sklearn_tsmask.plotting import plot_mask  # noqa: E402

plot_mask(masks[0], true_saliency=true_saliency[0], title="DynaMask mask, series 0")
