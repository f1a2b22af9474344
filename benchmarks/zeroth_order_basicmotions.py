"""Faithfulness of masks for classifiers without gradients on BasicMotions.

    python benchmarks/zeroth_order_basicmotions.py [--classifier logistic] [--n-directions 16]
        [--max-iter 200] [--n-explain 40] [--segments S]

Black boxes (``--classifier``), trained on the 40 BasicMotions training series:

* ``logistic``: sktime's ``MiniRocketMultivariate`` features → standardisation →
  logistic regression (graded probabilities: ``log predict_proba`` is explained);
* ``sktime-rocket``: sktime's ``RocketClassifier(rocket_transform="minirocket")``,
  whose probabilities are hard votes of its ridge head: its decision scores are
  explained;
* ``aeon-minirocket``: aeon's ``MiniRocketClassifier`` (ridge head, the same);
* ``sktime-arsenal``: sktime's ``Arsenal`` ensemble of MiniRocket ridge
  classifiers (the members' scores averaged with the ensemble's weights).

Explainer: ExtremalMask (``perturbation="zeros"``, cross-entropy, λ_1 = 0.1,
Adam lr 0.05) through :class:`sklearn_tsmask.black_boxes.ZerothOrderModel`.
Check: for each test series, replace the 20 % entries ranked highest by the mask
with the series' channel means and compare the predicted class's explained score
(log-probability or decision score) with replacing a random 20 % (five random
draws, averaged). Appends a section to ``benchmarks/RESULTS.md``.
"""

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._measure import publish  # noqa: E402
from benchmarks.run import machine, versions  # noqa: E402
from sklearn_tsmask import ExtremalMask  # noqa: E402
from sklearn_tsmask._utils import resolve_device  # noqa: E402
from sklearn_tsmask.black_boxes import ZerothOrderModel  # noqa: E402


def replace(X, order, k):
    """X with the first ``k`` entries of each row's ``order`` set to the series' channel means."""
    out = X.copy().reshape(len(X), -1)
    means = np.broadcast_to(X.mean(axis=2, keepdims=True), X.shape).reshape(len(X), -1)
    rows = np.arange(len(X))[:, None]
    out[rows, order[:, :k]] = means[rows, order[:, :k]]
    return out.reshape(X.shape)


def _logistic():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sktime.classification.compose import SklearnClassifierPipeline
    from sktime.transformations.panel.rocket import MiniRocketMultivariate

    return SklearnClassifierPipeline(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), [MiniRocketMultivariate(random_state=0)]
    ), "sktime MiniRocketMultivariate -> StandardScaler -> LogisticRegression"


def _sktime_rocket():
    from sktime.classification.kernel_based import RocketClassifier

    return RocketClassifier(rocket_transform="minirocket", random_state=0), \
        "sktime RocketClassifier(rocket_transform='minirocket') (ridge head, hard-vote probabilities)"


def _aeon_minirocket():
    from aeon.classification.convolution_based import MiniRocketClassifier

    return MiniRocketClassifier(random_state=0), "aeon MiniRocketClassifier (ridge head, hard-vote probabilities)"


def _sktime_arsenal():
    from sktime.classification.kernel_based import Arsenal

    return Arsenal(rocket_transform="minirocket", num_kernels=1000, n_estimators=10, random_state=0), \
        "sktime Arsenal(minirocket, 1000 kernels, 10 members) (weighted ridge votes)"


CLASSIFIERS = {
    "logistic": _logistic,
    "sktime-rocket": _sktime_rocket,
    "aeon-minirocket": _aeon_minirocket,
    "sktime-arsenal": _sktime_arsenal,
}


def make_classifier(name):
    return CLASSIFIERS[name]()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classifier", choices=sorted(CLASSIFIERS), default="logistic")
    parser.add_argument("--n-directions", type=int, default=16)
    parser.add_argument("--segments", type=int, default=None,
                        help="equal time segments per channel (one mask value each); default: one per entry")
    parser.add_argument("--max-iter", "--n-epochs", dest="max_iter", type=int, default=200,
                        help="optimisation steps (--n-epochs: the old spelling)")
    parser.add_argument("--n-explain", type=int, default=40)
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)

    from sktime.datasets import load_basic_motions

    X_train, y_train = load_basic_motions(split="train", return_type="numpy3D")
    X_test, y_test = load_basic_motions(split="test", return_type="numpy3D")
    clf, description = make_classifier(args.classifier)
    clf.fit(X_train, y_train)
    accuracy = float(np.mean(clf.predict(X_test) == y_test))
    X = X_test[: args.n_explain]

    start = time.perf_counter()
    clf.predict(X)
    seconds_per_call = (time.perf_counter() - start) / len(X)
    explainer = ExtremalMask(perturbation="zeros", loss="log_loss", lambda_1=0.1, max_iter=args.max_iter,
                             learning_rate=0.05, segments=args.segments, random_state=0)
    black_box = ZerothOrderModel(clf, n_directions=args.n_directions, random_state=0)
    start = time.perf_counter()
    masks = explainer.fit_transform(X, model=black_box)
    seconds = time.perf_counter() - start

    def scores(panel):
        """The explained output (logits: log-probabilities or decision scores), float64 (n, K)."""
        with torch.no_grad():
            return black_box(torch.as_tensor(panel, dtype=torch.float64)).numpy()

    k = int(args.fraction * X[0].size)
    rows = np.arange(len(X))
    s0 = scores(X)
    target = s0.argmax(1)
    top = np.argsort(-masks.reshape(len(X), -1), axis=1, kind="stable")
    s_top_all = scores(replace(X, top, k))
    s_top = s_top_all[rows, target]
    rng = np.random.RandomState(0)
    random_draws = [scores(replace(X, rng.rand(*top.shape).argsort(axis=1), k)) for _ in range(5)]
    s_random = np.mean([d[rows, target] for d in random_draws], axis=0)
    flipped_top = float(np.mean(s_top_all.argmax(1) != target))
    flipped_random = float(np.mean([d.argmax(1) != target for d in random_draws]))
    line = (
        f"| {args.classifier} | {black_box.response_method_} | {accuracy:.2f} | {len(X)} | "
        f"{'entries' if args.segments is None else f'{args.segments} per channel'} | {args.n_directions} | "
        f"{args.max_iter} | {s0[rows, target].mean():.3f} | {s_top.mean():.3f} | {s_random.mean():.3f} | "
        f"{flipped_top:.2f} / {flipped_random:.2f} | {seconds:.1f} ({seconds / len(X):.2f} per series) |"
    )
    text = "\n".join([
        f"## Classifiers without gradients on BasicMotions: {args.classifier} — "
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}, cpu",
        "",
        f"- machine: {machine(resolve_device('cpu'))}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        f"- command: `python benchmarks/zeroth_order_basicmotions.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
        f"- black box: {description}; predict {seconds_per_call * 1e3:.2f} ms per series; a step costs "
        f"2q + 1 = {2 * args.n_directions + 1} calls per series",
        f"- explainer: ExtremalMask(perturbation='zeros', loss='log_loss', lambda_1=0.1, lr 0.05) through "
        f"ZerothOrderModel; removal = top {args.fraction:.0%} entries replaced by the series' channel means; "
        "score = the explained output of the predicted class (log-probability or decision score)",
        "",
        "| classifier | explained | test accuracy | series | mask values (segments) | directions q | steps | score | "
        "top removed | random removed (5 draws) | class flips top / random | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        line,
        "",
    ])
    publish(text, no_save=args.no_save)


if __name__ == "__main__":
    main()
