"""Tune an explainer on real data, without ground truth: GridSearchCV by comprehensiveness.
========================================================================================

On real data nobody knows the true saliency. The fidelity scorers judge masks by what
they do to the model: comprehensiveness = how much the predicted-class probability drops
when the top 20% entries of the mask are replaced by the series' channel means (higher
is better), sufficiency = how much it drops when everything *but* them is replaced
(lower is better). Here ExtremalMask's λ_1 is tuned on BasicMotions for a small torch
CNN. Runs in about 40 seconds on 2 CPU cores. Needs the ``sktime`` extra (for the data).
"""

import numpy as np
import torch
from sklearn.model_selection import GridSearchCV, KFold
from sktime.datasets import load_basic_motions
from torch import nn

from sklearn_tsmask import ExtremalMask
from sklearn_tsmask.metrics import FIDELITY_SCORING

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
res = search.cv_results_
for i, params in enumerate(res["params"]):
    print(f"lambda_1={params['lambda_1']:<5} comprehensiveness {res['mean_test_comprehensiveness'][i]:.3f}  "
          f"sufficiency {-res['mean_test_neg_sufficiency'][i]:.3f}")
print("best by comprehensiveness:", search.best_params_)
