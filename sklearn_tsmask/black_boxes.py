"""Black boxes without gradients: fitted classifiers explained through zeroth-order gradients.

The mask explainers learn masks by gradient descent through the black box. A
fitted classifier that is not a torch network — sktime's MiniRocket or
Rocket pipelines, a scikit-learn pipeline, gradient-boosted trees on
features — only offers ``predict_proba``. :class:`ZerothOrderModel` turns it
into a torch function whose backward pass is a *zeroth-order estimate*: the
classifier is called on ``x ± σ·u`` for random Gaussian directions ``u``
(antithetic pairs), and the vector-Jacobian product is estimated from the
differences, as in evolution strategies / Gaussian smoothing:

.. math::

    \\nabla_x \\langle g, f(x) \\rangle \\approx
    \\frac{1}{q} \\sum_{i=1}^{q} \\frac{\\langle g, f(x + σ u_i) - f(x - σ u_i) \\rangle}{2} \\, \\frac{u_i}{σ}

This is the gradient of the Gaussian-smoothed classifier ``E[f(x + σu)]``,
unbiased for it, noisy for small ``q``; Adam's running averages over the
optimisation steps smooth the noise further. Why this rather than a
differentiable surrogate: the explanation is of the classifier itself, not
of an imitation whose own fidelity would have to be trusted; the price is
``2q + 1`` classifier calls per series and step, batched in
``batch_size``-series calls. The estimate needs an output that moves with the input. What is explained
(``response_method``):

* ``log predict_proba`` (clipped at 1e-12) of a classifier with graded
  probabilities (logistic regression, forests, a softmax network);
* the **decision scores** of a classifier whose probabilities are hard 0/1
  votes derived from its predictions: the Rocket family (sktime's and aeon's
  ``RocketClassifier``, aeon's ``MiniRocketClassifier`` and
  ``MultiRocketClassifier``) and any pipeline ending in a ridge or linear
  classifier without probabilities, whose ``decision_function`` is found
  through the fitted pipeline; for ``Arsenal`` ensembles, the members' scores
  averaged with the ensemble's weights. Scores of a binary classifier ``s``
  become the logits ``(-s/2, s/2)``, so that their softmax is ``sigmoid(s)``.

Either way the explainers' cross-entropy and MSE losses read the output as
logits. A classifier with neither graded probabilities nor decision scores
(1-nearest-neighbour, a single pure decision tree) has a zero gradient
almost everywhere and is refused with an explanation.
"""

import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._utils import unfrozen

__all__ = ["ZerothOrderModel"]

_PROBA_FLOOR = 1e-12
_RESPONSE_METHODS = ("auto", "predict_proba", "decision_function")


def _class_names(obj):
    return {c.__name__ for c in type(obj).__mro__}


def _from_library(obj, name):
    return any(c.__module__.split(".")[0] == name for c in type(obj).__mro__)


class _DecisionScores:
    """Decision scores ``(n, K)`` of a fitted classifier on a numpy panel, found through its fitted structure.

    ``steps`` are applied in order to the panel; the last one returns the scores. Built by
    :func:`_find_decision_scores`; only references the user's fitted objects (never modifies them).
    """

    def __init__(self, function, classes, *, transform=None, ensemble=None, weights=None):
        self.function = function  # panel -> scores, or None for an ensemble
        self.classes = classes
        self.transform = transform  # panel -> what ``function`` (or the members) take
        self.ensemble = ensemble  # list of _DecisionScores
        self.weights = weights

    @property
    def is_ensemble(self):
        return self.ensemble is not None

    def __call__(self, panel):
        if self.transform is not None:
            panel = self.transform(panel)
        if self.ensemble is not None:
            total = sum(w * member(panel) for w, member in zip(self.weights, self.ensemble))
            return total / sum(self.weights)
        scores = np.asarray(self.function(panel), dtype=np.float64)
        if scores.ndim == 1:  # a binary classifier's score of its second class
            scores = np.stack([-scores / 2, scores / 2], axis=1)
        return scores


def has_decision_scores(est):
    """Whether a fitted classifier offers graded decision scores (see :func:`_find_decision_scores`)."""
    try:
        return _find_decision_scores(est)[0] is not None
    except Exception:  # an unfitted or unusual object: let ZerothOrderModel report it
        return hasattr(est, "decision_function")


def _head(pipeline):
    """The last step of a scikit-learn pipeline (or the estimator itself)."""
    steps = getattr(pipeline, "steps", None)
    return steps[-1][1] if steps else pipeline


def _find_decision_scores(est):
    """Graded decision scores of a fitted classifier, or None; and the classifier that computes them.

    Returns
    -------
    scores : _DecisionScores or None
    head : object
        The final classifier (the one whose ``predict_proba``, if any, gives the probabilities).
    """
    est = unfrozen(est)
    names = _class_names(est)
    # aeon's Rocket family: a fitted scikit-learn pipeline (transform, scaler, ridge) on the panel
    pipeline = getattr(est, "pipeline_", None)
    if pipeline is not None and hasattr(pipeline, "decision_function"):
        return _DecisionScores(pipeline.decision_function, _head(pipeline).classes_), _head(pipeline)
    # sktime's pipelines: fitted transformers, then a (scikit-learn or sktime) classifier
    if hasattr(est, "transformers_") and hasattr(est, "classifier_"):
        inner, head = _find_decision_scores(est.classifier_)
        if inner is None:
            return None, head
        convert = getattr(est, "_convert_X_to_sklearn", None)

        def transform(panel, _est=est, _convert=convert):
            Xt = _est.transformers_.transform(X=panel)
            return _convert(Xt) if _convert is not None else Xt

        return _DecisionScores(None, inner.classes, transform=transform, ensemble=[inner], weights=[1.0]), head
    # sktime's delegating classifiers (its RocketClassifier): the fitted delegate
    if "_DelegatedClassifier" in names and hasattr(est, "_get_delegate"):
        return _find_decision_scores(est._get_delegate())
    # Arsenal: weighted members, each a pipeline ending in a ridge classifier
    if "Arsenal" in names and hasattr(est, "estimators_") and hasattr(est, "weights_"):
        members = [_find_decision_scores(m) for m in est.estimators_]
        if not members or any(m is None for m, _ in members):
            return None, est
        transform = None
        if _from_library(est, "aeon") and getattr(est, "rocket_transform", None) == "rocket":
            from aeon.transformations.collection import Normalizer  # aeon normalises the series for Rocket

            def transform(panel):
                return Normalizer().fit_transform(panel)

        weights = [float(w) for w in est.weights_]
        return (
            _DecisionScores(None, members[0][0].classes, transform=transform,
                            ensemble=[m for m, _ in members], weights=weights),
            members[0][1],
        )
    if hasattr(est, "decision_function"):
        head = _head(est)
        classes = getattr(head, "classes_", getattr(est, "classes_", None))
        return _DecisionScores(est.decision_function, classes), head
    return None, est


class _ZerothOrderFunction(torch.autograd.Function):
    """``log f(x)`` forward; backward from antithetic finite differences drawn in forward."""

    @staticmethod
    def forward(ctx, x, wrapper):
        needs_grad = ctx.needs_input_grad[0]
        out, directions, differences, scale = wrapper._evaluate(x, with_directions=needs_grad)
        if needs_grad:
            ctx.save_for_backward(directions, differences, scale)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        directions, differences, scale = ctx.saved_tensors  # (q, N, C, T), (q, N, K), (1, C, 1)
        q = directions.shape[0]
        weights = torch.einsum("qnk,nk->qn", differences, grad_out.to(differences.dtype))
        grad = torch.einsum("qn,qnct->nct", weights, directions) / (q * scale)
        return grad.to(grad_out.dtype), None


class ZerothOrderModel:
    """A fitted classifier without gradients as a differentiable torch black box.

    Calling the object on a tensor ``(N, C, T)`` returns logits ``(N, K)``:
    ``log predict_proba``, or the classifier's decision scores when its
    probabilities are hard votes (``response_method``); its backward pass
    estimates the gradient from ``n_directions`` antithetic pairs of
    Gaussian perturbations (module docstring). Pass it (or the classifier
    itself, wrapped with the defaults) to any explainer's ``fit``.

    Parameters
    ----------
    estimator : fitted classifier
        Anything with ``predict_proba`` or decision scores taking a panel: a
        sktime or aeon classifier, a scikit-learn pipeline. It is never
        modified.
    response_method : {"auto", "predict_proba", "decision_function"}, default="auto"
        What is explained. ``"predict_proba"``: the log-probabilities.
        ``"decision_function"``: the decision scores, found through the
        fitted classifier (its own ``decision_function``, the final step of
        its pipeline, the ridge head of a Rocket classifier, the weighted
        members of an ``Arsenal``). ``"auto"``: the decision scores when the
        classifier's final estimator has no probabilities of its own (its
        ``predict_proba`` would be hard 0/1 votes, as for the Rocket family)
        or it has no ``predict_proba``; the log-probabilities otherwise.
    n_directions : int, default=16
        Antithetic direction pairs per series and step (``2 q + 1``
        classifier calls per series and step). More: less noise, more time.
    epsilon : float, default=0.1
        Perturbation size σ, in units of each channel's standard deviation
        (over the series and time points of the batch explained).
    batch_size : int, default=2048
        Series per ``predict_proba`` call.
    flatten : bool, default=False
        Pass ``(N, C · T)`` tables instead of ``(N, C, T)`` panels (a
        scikit-learn pipeline on flat features).
    random_state : int, RandomState or None, default=None
        Seeds the directions (a fixed seed makes explanations reproducible).

    Attributes
    ----------
    classes_ : ndarray
        The classifier's classes (columns of the output).
    response_method_ : {"predict_proba", "decision_function"}
        What is explained, as resolved from ``response_method``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_tsmask.black_boxes import ZerothOrderModel
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(40, 2, 5)
    >>> y = (X[:, 0, 2] > 0).astype(int)
    >>> clf = LogisticRegression().fit(X.reshape(40, -1), y)
    >>> f = ZerothOrderModel(clf, flatten=True, n_directions=64, random_state=0)
    >>> x = torch.tensor(X[:1], dtype=torch.float32, requires_grad=True)
    >>> f(x)[0, 1].backward()
    >>> int(x.grad.abs().argmax())  # channel 0, time 2: the feature the classifier uses
    2
    """

    def __init__(self, estimator, *, response_method="auto", n_directions=16, epsilon=0.1, batch_size=2048,
                 flatten=False, random_state=None):
        self.estimator = estimator
        self.response_method = response_method
        self.n_directions = n_directions
        self.epsilon = epsilon
        self.batch_size = batch_size
        self.flatten = flatten
        self.random_state = random_state
        self._validate()
        self._generator = None

    def _validate(self):
        name = type(self.estimator).__name__
        if self.response_method not in _RESPONSE_METHODS:
            raise ValueError(f"response_method must be one of {_RESPONSE_METHODS}, got {self.response_method!r}.")
        _check_fitted_classifier(self.estimator)
        scores, head = _find_decision_scores(self.estimator)
        has_proba = hasattr(self.estimator, "predict_proba")
        if self.response_method == "predict_proba" and not has_proba:
            raise TypeError(f"{name} has no predict_proba: use response_method='auto' or 'decision_function'.")
        if self.response_method == "decision_function" and scores is None:
            raise TypeError(
                f"{name} has no decision scores (no decision_function, neither its own nor its final "
                "estimator's): use response_method='predict_proba'."
            )
        if self.response_method == "auto":
            if scores is not None and (not has_proba or not hasattr(head, "predict_proba")):
                self.response_method_ = "decision_function"
            elif has_proba:
                self.response_method_ = "predict_proba"
            else:
                raise TypeError(
                    f"{name} has neither predict_proba nor decision scores: a zeroth-order black box needs "
                    "class probabilities or scores."
                )
        else:
            self.response_method_ = self.response_method
        self._scores = scores if self.response_method_ == "decision_function" else None
        for name in ("n_directions", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if not isinstance(self.epsilon, numbers.Real) or not self.epsilon > 0:
            raise ValueError(f"epsilon must be a positive number, got {self.epsilon!r}.")

    @property
    def classes_(self):
        return getattr(self.estimator, "classes_", None)

    def __call__(self, x):
        if not isinstance(x, torch.Tensor) or x.ndim != 3:
            raise ValueError("ZerothOrderModel takes a torch tensor of shape (N, C, T).")
        return _ZerothOrderFunction.apply(x, self)

    # ------------------------------------------------------------ internals
    def _column_order(self, classes):
        """Indices putting score columns ordered as ``classes`` in the order of ``classes_``."""
        outer = self.classes_
        if classes is None or outer is None or np.array_equal(np.asarray(classes), np.asarray(outer)):
            return None
        position = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
        return np.array([position[c] for c in np.asarray(outer).tolist()])

    def _logits(self, panel):
        """Logits of a float64 panel (M, C, T), in ``batch_size`` chunks; and the probabilities, if explained."""
        outs = []
        decision = self.response_method_ == "decision_function"
        if decision and getattr(self, "_scores", None) is None:  # after unpickling
            self._scores = _find_decision_scores(self.estimator)[0]
        for start in range(0, panel.shape[0], self.batch_size):
            chunk = panel[start : start + self.batch_size]
            if self.flatten:
                chunk = chunk.reshape(chunk.shape[0], -1)
            out = self._scores(chunk) if decision else np.asarray(self.estimator.predict_proba(chunk), dtype=np.float64)
            if out.ndim != 2 or out.shape[0] != chunk.shape[0]:
                raise ValueError(
                    f"{self.response_method_} returned shape {out.shape} for {chunk.shape[0]} series; "
                    "expected (n, n_classes)."
                )
            outs.append(out)
        out = np.concatenate(outs)
        if decision:
            order = self._column_order(self._scores.classes)
            return (out if order is None else out[:, order]), None
        return np.log(np.clip(out, _PROBA_FLOOR, None)), out

    def _check_scores_reproduce_predictions(self, panel, logits):
        """The scores found inside the classifier must give its predictions (else they are not its scores)."""
        if self._scores.is_ensemble and len(self._scores.ensemble) > 1:
            return  # a weighted vote and a weighted mean of scores may differ near ties
        chunk = panel.reshape(panel.shape[0], -1) if self.flatten else panel
        predicted = np.asarray(self.estimator.predict(chunk))
        from_scores = np.asarray(self.classes_)[logits.argmax(axis=1)]
        disagree = int(np.sum(predicted != from_scores))
        if disagree:
            raise ValueError(
                f"The decision scores found inside {type(self.estimator).__name__} do not reproduce its predictions "
                f"({disagree} of {len(predicted)} series differ), so they are not what it decides on: use "
                "response_method='predict_proba'."
            )

    def _evaluate(self, x, *, with_directions):
        device, dtype = x.device, x.dtype
        panel = x.detach().to("cpu", torch.float64)
        n = panel.shape[0]
        if not with_directions:
            logits, _ = self._logits(panel.numpy())
            return torch.from_numpy(logits).to(device=device, dtype=dtype), None, None, None
        if self._generator is None:
            seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            self._generator = torch.Generator().manual_seed(seed)
        q = self.n_directions
        std = panel.std(dim=(0, 2), keepdim=True) if panel.shape[0] * panel.shape[2] > 1 else torch.ones(1, 1, 1)
        scale = self.epsilon * torch.where(std > 0, std, torch.ones_like(std))  # (1, C, 1)
        directions = torch.randn((q, *panel.shape), generator=self._generator, dtype=torch.float64)
        step = directions * scale
        batch = torch.cat([panel[None], panel[None] + step, panel[None] - step]).reshape(-1, *panel.shape[1:])
        logits, proba = self._logits(batch.numpy())
        if not hasattr(self, "_checked_response"):
            if proba is not None and np.all((proba == 0) | (proba == 1)):
                raise ValueError(self._hard_labels_message())
            if proba is None:
                self._check_scores_reproduce_predictions(panel.numpy(), logits[:n])
            self._checked_response = True
        log_p = torch.from_numpy(logits).reshape(2 * q + 1, n, -1)
        differences = (log_p[1 : q + 1] - log_p[q + 1 :]) / 2  # (q, N, K)
        out = log_p[0].to(device=device, dtype=dtype)
        return out, directions, differences, scale

    def _hard_labels_message(self):
        name = type(self.estimator).__name__
        text = (
            f"{name}.predict_proba returns hard 0/1 labels: its output does not move with small changes of the "
            "input, so no gradient can be estimated and no mask learned. "
        )
        if _find_decision_scores(self.estimator)[0] is not None:
            return text + "It has decision scores: use response_method='decision_function' (or 'auto')."
        return text + (
            "It has no decision scores either: use a classifier with graded probabilities or scores (more "
            "neighbours with distance weights instead of 1-nearest-neighbour, a forest instead of one tree)."
        )

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_generator"] = None if self._generator is None else self._generator.get_state()
        state["_scores"] = None  # may hold closures; found again from the estimator when needed
        return state

    def __setstate__(self, state):
        generator_state = state.pop("_generator")
        self.__dict__.update(state)
        self._generator = None
        if generator_state is not None:
            self._generator = torch.Generator()
            self._generator.set_state(generator_state)

    def __repr__(self):
        return (
            f"ZerothOrderModel({type(self.estimator).__name__}, response_method={self.response_method_!r}, "
            f"n_directions={self.n_directions}, "
            f"epsilon={self.epsilon}, flatten={self.flatten})"
        )


def _check_fitted_classifier(estimator):
    """Raise a clear error for an unfitted classifier (sktime or scikit-learn)."""
    fitted = getattr(estimator, "is_fitted", None)  # sktime
    if isinstance(fitted, bool):
        if not fitted:
            raise ValueError(f"{type(estimator).__name__} is not fitted: fit it before explaining it.")
        return
    try:
        check_is_fitted(estimator)
    except Exception as exc:
        raise ValueError(f"{type(estimator).__name__} is not fitted: fit it before explaining it ({exc}).") from exc
