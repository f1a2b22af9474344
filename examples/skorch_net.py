"""Explain a skorch classifier: its trained module is the black box.
=================================================================

A small 1D CNN is trained with skorch on sktime's BasicMotions (4 activities,
6 sensor channels, 100 time steps), then ContraLSP explains its test predictions.
Pass the net to ``fit``, or, inside a meta-estimator, as the ``model`` parameter
wrapped in ``sklearn.frozen.FrozenEstimator``. Runs in about 20 seconds on 2 CPU cores.
Needs the ``skorch`` and ``sktime`` extras.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import LabelEncoder
from sktime.datasets import load_basic_motions
from skorch import NeuralNetClassifier
from torch import nn

from sklearn_tsmask import ContraLSP
from sklearn_tsmask.plotting import plot_channel_importance, plot_series_with_mask


class SmallCNN(nn.Module):
    def __init__(self, n_channels=6, n_classes=4):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(n_channels, 16, 5, padding=2), nn.ReLU(), nn.Conv1d(16, 16, 5, padding=2), nn.ReLU()
        )
        self.head = nn.Linear(16, n_classes)

    def forward(self, X):  # X: (N, C, T), logits out
        return self.head(self.body(X).mean(-1))


X_train, y_train = load_basic_motions(split="train", return_type="numpy3D")
X_test, y_test = load_basic_motions(split="test", return_type="numpy3D")
labels = LabelEncoder().fit(y_train)
X_train, X_test = X_train.astype(np.float32), X_test.astype(np.float32)

torch.manual_seed(0)
net = NeuralNetClassifier(SmallCNN, criterion=nn.CrossEntropyLoss, max_epochs=60, lr=0.01,
                          optimizer=torch.optim.Adam, train_split=None, verbose=0)
net.fit(X_train, labels.transform(y_train))
print(f"skorch CNN test accuracy {np.mean(net.predict(X_test) == labels.transform(y_test)):.2f}")

explainer = ContraLSP(model=FrozenEstimator(net), max_iter=150, learning_rate=0.05, random_state=0)
X, y = X_test[::5], y_test[::5]  # 8 test series, two per activity, explained in one batch
masks = explainer.fit_transform(X)  # (8, 6, 100)

# %%
# A series with its mask
# ----------------------
# A running series: each of its six channels as a black line over its ContraLSP mask (orange
# background, dark where the mask is 1: the entries kept; elsewhere the CNN sees the learned
# counterfactual). ContraLSP's gates are nearly binary, so the background is mostly white or dark.

channels = ["accelerometer x", "accelerometer y", "accelerometer z", "gyroscope x", "gyroscope y", "gyroscope z"]
i = int(np.flatnonzero(y == "running")[0])
axes = plot_series_with_mask(X[i], masks[i], channel_names=channels)
axes[0].set_title(f"explained series {i} ({y[i]}) and its ContraLSP mask")
plt.show()

# %%
# Here the masks keep about half of the entries (the default sparsity weight ``alpha=1.5`` after 150
# steps), in runs of consecutive steps on every channel; a larger ``alpha`` gives sparser masks.
#
# Channel importance per activity
# -------------------------------
# The mean mask of each channel over time and over the two series of each activity: the sensors
# the CNN's decision rests on, activity by activity (the four panels share the y-axis).

short_names = ["acc x", "acc y", "acc z", "gyro x", "gyro y", "gyro z"]  # acc: accelerometer, gyro: gyroscope
fig, axes = plt.subplots(1, 4, figsize=(12, 3.4), sharey=True)
for ax, label in zip(axes, np.unique(y)):
    plot_channel_importance(masks[y == label], channel_names=short_names, ax=ax)
    ax.set_title(label)
    ax.tick_params(axis="x", labelrotation=45)
plt.tight_layout()
plt.show()

# %%
# The same numbers, series by series:

for i in range(len(X)):
    share = masks[i].mean(axis=1)
    print(f"series {i} ({y[i]:>9}): mask mean per channel "
          + ", ".join(f"{c} {s:.2f}" for c, s in zip(short_names, share)))
