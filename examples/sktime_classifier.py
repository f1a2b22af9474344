"""Explain an sktime deep-learning classifier (its fitted torch network) with ExtremalMask.
========================================================================================

sktime's ``CNNClassifierTorch`` is trained on BasicMotions; the explainer reads its
network and the (N, T, C) layout sktime feeds it, and explains the predicted class of
test series given in sktime's ``pd-multiindex`` format (masks come back in it).
Runs in about 30 seconds on 2 CPU cores. Needs the ``sktime`` extra.
"""

import matplotlib.pyplot as plt
import numpy as np
from sktime.classification.deep_learning import CNNClassifierTorch
from sktime.datasets import load_basic_motions

from sklearn_tsmask import ExtremalMask
from sklearn_tsmask.plotting import plot_channel_importance, plot_series_with_mask

X_train, y_train = load_basic_motions(split="train", return_type="numpy3D")
X_test, y_test = load_basic_motions(split="test", return_type="numpy3D")
clf = CNNClassifierTorch(num_epochs=200, random_state=0).fit(X_train, y_train)  # string labels
print(f"CNNClassifierTorch test accuracy {np.mean(clf.predict(X_test) == y_test):.2f}")

explainer = ExtremalMask(loss="log_loss", lambda_1=0.02, max_iter=200, learning_rate=0.05, random_state=0)
# the test series as sktime's pd-multiindex DataFrame (instance, time) x channels: 10 series, four activities
X_df, y_df = load_basic_motions(split="test", return_type="pd-multiindex")
keep = X_df.index.get_level_values(0).unique()[::4]
X, y = X_df.loc[keep], y_df[::4]
masks_df = explainer.fit_transform(X, y, model=clf)  # string labels are accepted and ignored
print("masks come back as a", type(masks_df).__name__, "with the same index:", masks_df.index.equals(X.index))
masks = masks_df.to_numpy().reshape(len(keep), -1, masks_df.shape[1]).transpose(0, 2, 1)  # (10, 6, 100)
print("masks", masks.shape, f"values in [{masks.min():.2f}, {masks.max():.2f}]")
# the explained series and their labels as numpy arrays, for the figures
series = X.to_numpy().reshape(len(keep), -1, X.shape[1]).transpose(0, 2, 1)  # (10, 6, 100), like the masks
y = np.asarray(y)

# %%
# A series with its mask
# ----------------------
# A walking series of the test set: each of its six channels as a black line over its mask
# (orange background, dark where the mask is 1, i.e. where the entries had to be kept for the CNN
# to keep its prediction; light where they could be replaced by the learned perturbation).

channels = ["accelerometer x", "accelerometer y", "accelerometer z", "gyroscope x", "gyroscope y", "gyroscope z"]
i = int(np.flatnonzero(y == "walking")[0])
axes = plot_series_with_mask(series[i], masks[i], channel_names=channels)
axes[0].set_title(f"explained series {i} ({y[i]}) and its ExtremalMask mask")
plt.show()

# %%
# The mask is sparse (λ_1 = 0.02 with the log loss): a few short stretches, most of them on the
# accelerometer's y and z axes and the gyroscope's z axis, around the troughs of each stride, are
# enough for the CNN to recognise walking.
#
# Channel importance per activity
# -------------------------------
# The mean of the masks over time and over the test series of each activity, one bar per
# channel: which sensors the explanations rely on, activity by activity. The masks are sparse,
# so the y-axes are zoomed on the bars (shared by the four panels).

short_names = ["acc x", "acc y", "acc z", "gyro x", "gyro y", "gyro z"]  # acc: accelerometer, gyro: gyroscope
fig, axes = plt.subplots(2, 2, figsize=(9, 6), sharey=True)
for ax, label in zip(axes.ravel(), np.unique(y)):
    rows = y == label
    plot_channel_importance(masks[rows], channel_names=short_names, ax=ax)
    ax.set_title(f"{label} ({rows.sum()} series)")
axes[0, 0].set_ylim(0, 1.15 * max(masks[y == label].mean(axis=(0, 2)).max() for label in np.unique(y)))
plt.tight_layout()
plt.show()

# %%
# The same numbers:

for label in np.unique(y):
    rows = y == label
    print(f"{label:>9}: mean mask per channel", masks[rows].mean(axis=(0, 2)).round(2))
