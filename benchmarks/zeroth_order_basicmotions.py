"""Faithfulness of masks for a classifier without gradients: MiniRocket on BasicMotions.

    python benchmarks/zeroth_order_basicmotions.py [--n-directions 16] [--max-iter 200] [--n-explain 40]

Black box: sktime's ``MiniRocketMultivariate`` features → standardisation →
logistic regression (graded probabilities; ``RocketClassifier``'s ridge head
gives hard 0/1 labels and is refused), trained on the 40 BasicMotions training
series. Explainer: ExtremalMask (``perturbation="zeros"``, cross-entropy,
λ_1 = 0.1, Adam lr 0.05) through :class:`sklearn_tsmask.black_boxes.ZerothOrderModel`.
Check: for each test series, replace the 20 % entries ranked highest by the mask
with the series' channel means and compare the predicted-class probability with
replacing a random 20 % (five random draws, averaged). Appends a section to
``benchmarks/RESULTS.md``.
"""

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-directions", type=int, default=16)
    parser.add_argument("--max-iter", "--n-epochs", dest="max_iter", type=int, default=200,
                        help="optimisation steps (--n-epochs: the old spelling)")
    parser.add_argument("--n-explain", type=int, default=40)
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sktime.classification.compose import SklearnClassifierPipeline
    from sktime.datasets import load_basic_motions
    from sktime.transformations.panel.rocket import MiniRocketMultivariate

    X_train, y_train = load_basic_motions(split="train", return_type="numpy3D")
    X_test, y_test = load_basic_motions(split="test", return_type="numpy3D")
    clf = SklearnClassifierPipeline(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), [MiniRocketMultivariate(random_state=0)]
    ).fit(X_train, y_train)
    accuracy = float(np.mean(clf.predict(X_test) == y_test))
    X = X_test[: args.n_explain]

    start = time.perf_counter()
    clf.predict_proba(X)
    seconds_per_call = (time.perf_counter() - start) / len(X)
    explainer = ExtremalMask(perturbation="zeros", loss="log_loss", lambda_1=0.1, max_iter=args.max_iter,
                             learning_rate=0.05, random_state=0)
    black_box = ZerothOrderModel(clf, n_directions=args.n_directions, random_state=0)
    start = time.perf_counter()
    masks = explainer.fit_transform(X, model=black_box)
    seconds = time.perf_counter() - start

    k = int(args.fraction * X[0].size)
    rows = np.arange(len(X))
    p0 = clf.predict_proba(X)
    target = p0.argmax(1)
    top = np.argsort(-masks.reshape(len(X), -1), axis=1, kind="stable")
    p_top = clf.predict_proba(replace(X, top, k))[rows, target]
    rng = np.random.RandomState(0)
    p_random = np.mean(
        [clf.predict_proba(replace(X, rng.rand(*top.shape).argsort(axis=1), k))[rows, target] for _ in range(5)],
        axis=0,
    )
    flipped_top = float(np.mean(clf.predict_proba(replace(X, top, k)).argmax(1) != target))
    line = (
        f"| {len(X)} | {args.n_directions} | {args.max_iter} | {p0[rows, target].mean():.3f} | {p_top.mean():.3f} | "
        f"{p_random.mean():.3f} | {flipped_top:.2f} | {seconds:.1f} ({seconds / len(X):.2f} per series) |"
    )
    text = "\n".join([
        f"## Classifier without gradients: MiniRocket + logistic regression on BasicMotions — "
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}, cpu",
        "",
        f"- machine: {machine(resolve_device('cpu'))}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        f"- command: `python benchmarks/zeroth_order_basicmotions.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
        f"- black box: test accuracy {accuracy:.2f}; predict_proba {seconds_per_call * 1e3:.2f} ms per series; "
        f"a step costs 2q + 1 = {2 * args.n_directions + 1} calls per series",
        f"- explainer: ExtremalMask(perturbation='zeros', loss='log_loss', lambda_1=0.1, lr 0.05) through "
        f"ZerothOrderModel; removal = top {args.fraction:.0%} entries replaced by the series' channel means",
        "",
        "| series | directions q | epochs | p(predicted class) | top removed | random removed (5 draws) | "
        "top removal flips the class | seconds |",
        "|---|---|---|---|---|---|---|---|",
        line,
        "",
    ])
    print(text)
    if not args.no_save:
        with open(HERE / "RESULTS.md", "a") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
