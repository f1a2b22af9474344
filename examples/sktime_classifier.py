"""Explain an sktime deep-learning classifier (its fitted torch network) with ExtremalMask.
========================================================================================

sktime's ``CNNClassifierTorch`` is trained on BasicMotions; the explainer reads its
network and the (N, T, C) layout sktime feeds it, and explains the predicted class of
test series given in sktime's ``pd-multiindex`` format (masks come back in it).
Runs in about 30 seconds on 2 CPU cores. Needs the ``sktime`` extra.
"""

import numpy as np
from sktime.classification.deep_learning import CNNClassifierTorch
from sktime.datasets import load_basic_motions

from sklearn_tsmask import ExtremalMask

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
for label in np.unique(y):
    rows = y == label
    print(f"{label:>9}: mean mask per channel", masks[rows].mean(axis=(0, 2)).round(2))
