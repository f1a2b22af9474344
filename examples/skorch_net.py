"""Explain a skorch classifier: its trained module is the black box.
=================================================================

A small 1D CNN is trained with skorch on sktime's BasicMotions (4 activities,
6 sensor channels, 100 time steps), then ContraLSP explains its test predictions.
Pass the net to ``fit``, or, inside a meta-estimator, as the ``model`` parameter
wrapped in ``sklearn.frozen.FrozenEstimator``. Runs in about 20 seconds on 2 CPU cores.
Needs the ``skorch`` and ``sktime`` extras.
"""

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import LabelEncoder
from sktime.datasets import load_basic_motions
from skorch import NeuralNetClassifier
from torch import nn

from sklearn_tsmask import ContraLSP


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
masks = explainer.fit_transform(X_test[:8])  # (8, 6, 100)
channels = ["acc x", "acc y", "acc z", "gyro x", "gyro y", "gyro z"]
for i in range(3):
    share = masks[i].mean(axis=1)
    print(f"series {i} ({y_test[i]}): mask mean per channel " + ", ".join(f"{c} {s:.2f}" for c, s in zip(channels, share)))
