"""ExtremalMask: masks with learned perturbations (Enguehard, ICML 2023)."""

import numbers
from dataclasses import dataclass

import torch
from sklearn.utils._param_validation import StrOptions

from ._base import BaseMaskExplainer, Interval, Objective, shared_parameter_docs
from ._learned import LEARNED_CHECK_FAILURES, LEARNED_CONSTRAINTS, BatchNetwork, build_perturbation_net

__all__ = ["ExtremalMask"]


@shared_parameter_docs
class ExtremalMask(BaseMaskExplainer):
    """Perturbation masks whose perturbation is learned by a network (ExtremalMask).

    A mask ``m`` per series and a perturbation network ``NN`` shared by all
    series are trained together. In the preservation game (default) the
    masked series keeps the salient entries and replaces the others by the
    learned perturbation::

        Φ(x, m) = m·x + (1 − m)·NN(x)
        L = λ_1·mean(m) + λ_2·mean|NN(x)| + L_e(f(Φ(x, m)), f(x))

    ``λ_1`` makes the mask small, ``λ_2`` keeps the perturbation close to 0
    (uninformative) so that ``NN`` cannot simply copy ``x``, and ``L_e``
    keeps the model's output. Salient entries are those the model cannot do
    without.

    Parameters
    ----------
    lambda_1 : float, default=0.5
        Weight of the mask size, ``mean(m)`` over the series' entries. Larger
        values give sparser masks.
    lambda_2 : float, default=1.0
        Weight of the perturbation size, ``mean|NN(x)|``. Larger values push
        the perturbation toward 0.
    perturbation : {"bigru", "gru", "conv", "zeros"}, torch.nn.Module or callable, default="zeros"
        The perturbation network ``NN``, mapping ``(B, C, T)`` to ``(B, C, T)``.
        ``"bigru"``: a bidirectional GRU with C hidden units per direction,
        L2-normalised states, then a linear map back to C channels
        (:class:`~sklearn_tsmask.perturbation_nets.RecurrentPerturbation`).
        ``"gru"``: the same, forward only (causal). ``"conv"``: the
        channels mixed, filtered over the neighbouring steps without the
        entry's own, mixed back, all steps at once
        (:class:`~sklearn_tsmask.perturbation_nets.ConvPerturbation`; 3.4x
        cheaper than ``"bigru"`` at 32-64 channels on CPU). ``"zeros"``: no network,
        ``Φ(x, m) = m·x``. A module is copied and trained (the user's object
        is left as it is); a callable is a factory ``n_channels -> Module``
        (a module class works), initialised under ``random_state``.
    mode : {"preservation", "deletion"}, default="preservation"
        Deletion finds the entries whose removal moves the output to the
        output on the all-zero series: ``Φ(x, m) = (1 − m)·x + m·NN(x)`` and
        ``L = λ_1·mean(m) + λ_2·mean|NN(x)| + L_e(f(Φ(x, m)), f(0))``. The
        mask is still 1 on salient entries. See Notes for why this differs
        from the paper's deletion objective.
    transform_networks : {"fine_tune", "frozen"}, default="fine_tune"
        What ``transform`` does with the network trained by ``fit`` when it
        explains new series: start from it and train it further with the new
        masks (each batch from the fitted weights), or keep it fixed (then
        ``NN(x)`` is computed once and only the masks are optimised).
    max_iter : int, default=500
        Optimisation steps per batch (an upper bound when ``tol`` is set).
    learning_rate : float, default=0.05
        Adam's learning rate, for the masks and the network.
    tol : float or None, default=1e-4
        Stop a batch when its loss (per series) has not improved on its best
        by more than ``tol`` for ``n_iter_no_change`` steps, as scikit-learn's
        ``MLPClassifier`` does. None runs all ``max_iter`` steps.
    n_iter_no_change : int, default=10
        Patience of the stopping rule (with ``tol``).
    batch_size : "auto", int or None, default="auto"
        Series optimised together ("auto": bounded memory; None: all). The
        network is shared: in ``fit`` it is trained through the batches in
        turn.
    loss : {"auto", "squared_error", "log_loss"}, default="auto"
        ``L_e``: squared error on the model's raw outputs, or cross-entropy
        against the class the model predicts for ``x`` (``f(0)`` in deletion
        mode) at each output row.
        ``"auto"`` (default) chooses from what the model declares:
        ``"log_loss"`` for a classifier returning class scores (``(N, K)``
        or ``(N, T, K)``, ``K >= 2``), ``"squared_error"`` otherwise.
        Classifiers are the estimators with ``classes_`` (scikit-learn,
        sktime, aeon, skorch) and modules carrying scikit-learn's marker
        ``_estimator_type = "classifier"``; a plain torch module does not
        say whether ``(N, K)`` are logits or a forecast, and gets
        ``"squared_error"`` (the papers' error). ``loss_`` holds the choice.
    {shared_parameters}
    callbacks : list of Callback or None, default=None
        Extra :mod:`~sklearn_tsmask.callbacks` watching the optimisation
        (the progress bar and the stopping rule are added from ``verbose``
        and ``tol``).
    model : object, default=None
        The black box, when it cannot be passed to ``fit`` (inside
        meta-estimators): wrap it in ``sklearn.frozen.FrozenEstimator`` so
        that ``clone`` keeps the fitted model. A model given to ``fit`` is
        used instead; see :meth:`fit` for the kinds of black boxes accepted.
    model_layout : {"NCT", "NTC"}, default="NCT"
        Input layout the model expects.
    device : "auto", str or torch.device, default="auto"
        Where to compute (``"auto"``: a CUDA device when there is one).
    random_state : int, RandomState or None, default=None
        Seeds the network's initial weights.
    verbose : int, default=0
        Show a progress bar when positive.

    Attributes
    ----------
    perturbation_net_ : torch.nn.Module or None
        The network trained by ``fit`` with the masks of the fitted series
        (None for ``"zeros"``), on ``device_``. ``perturbation_net_(x)``
        gives ``NN(x)`` for a tensor ``(B, C, T)``;
        ``ExtremalMask(perturbation=est.perturbation_net_)`` starts another
        explainer from it.
    n_iter_ : int
        Steps ``fit`` ran (the most over the batches). With
        ``perturbation="zeros"``, whose ``fit`` has no network to train and
        optimises nothing, only ``fit_transform`` sets it.
    loss_curve_ : ndarray of shape ``(n_iter_,)``
        Mean loss per series at each step of ``fit`` (``"zeros"``: of
        ``fit_transform``).
    loss_ : {"squared_error", "log_loss"}
        The error used: ``loss``, with ``"auto"`` resolved by ``fit``.
    model_ : FrozenModel
        The frozen black box.
    device_ : torch.device
        Device used.
    n_features_in_ : int
        Channels of the fitted series.
    n_timepoints_ : int
        Length of the fitted series.
    output_shape_ : tuple
        Shape of the model's output for one series.
    model_inputs_ : tuple of str
        Names of the model inputs given besides the series
        (:class:`~sklearn_tsmask.WithInputs`).

    Notes
    -----
    Deletion. The paper's deletion objective,
    ``λ_1·mean(1 − m) + λ_2·mean|NN(x)| + L_e(f((1 − m)·x + m·NN(x)), f(0))``,
    is minimised by ``m ≡ 1`` with ``NN(x) = 0`` (every entry declared
    salient, loss 0): the penalty on ``1 − m`` rewards large masks. Here the
    penalty is on ``m``, so the mask is the smallest set of entries whose
    replacement by ``NN(x)`` brings the output to ``f(0)``.

    What is fitted. ``fit`` trains the perturbation network, jointly with
    the masks of the fitted series (the method needs them to learn it);
    ``fit_transform`` returns those masks. With ``perturbation="zeros"``
    there is no network: ``fit`` optimises nothing, as DynaMask's. ``transform`` and ``explain``
    optimise the masks of any series from the fitted network.

    Defaults. They were chosen by measurement on the six synthetic
    benchmarks of the papers (see the benchmarks page of the documentation):
    with no network (``perturbation="zeros"``, the masked entries go to 0),
    ``λ_1 = 0.5``, Adam at 0.05 and the stopping rule, the masks reach at
    least 95% of the best measured setting's AUP and AUR on all six. The
    paper's setting (``perturbation="bigru"``, ``λ_1 = 1``, learning rate
    0.01, 500 steps) loses up to half the recall on the regression
    benchmarks, where the network learns to copy the salient inputs, and
    costs far more. Zero must be an uninformative value for this default
    (standardised data); otherwise a learned perturbation
    (``perturbation="bigru"``) is the paper's answer.

    Warm starts. ``transform`` on new series starts from the fitted network,
    which already produces useful perturbations, so the masks converge in
    fewer epochs than a cold fit (use ``tol`` to stop at convergence).

    Differences from the reference implementation (tint): the target
    ``f(x)`` is computed once, and each step runs the model once on the
    masked series (tint runs it four times: also on the deletion input and
    on the baseline).

    References
    ----------
    J. Enguehard, "Learning Perturbations to Explain Time Series
    Predictions", ICML 2023.

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask import ExtremalMask
    >>> from sklearn_tsmask.datasets import make_rare_feature
    >>> X, true_saliency, white_box = make_rare_feature(n_samples=8, random_state=0)
    >>> explainer = ExtremalMask(max_iter=50, random_state=0)
    >>> masks = explainer.fit_transform(X, model=white_box)
    >>> masks.shape
    (8, 50, 50)
    """

    _parameter_constraints = {
        **BaseMaskExplainer._parameter_constraints,
        **LEARNED_CONSTRAINTS,
        "lambda_1": [Interval(numbers.Real, 0, None, closed="left")],
        "lambda_2": [Interval(numbers.Real, 0, None, closed="left")],
        "mode": [StrOptions({"preservation", "deletion"})],
    }
    _fitted_networks = ("perturbation_net_",)
    #: The checks failed with a perturbation network (``_network_check_failures``); the default
    #: (``"zeros"``) fails those of ``_estimator_check_failures``.
    _estimator_check_failures = {
        **BaseMaskExplainer._estimator_check_failures,
        "check_transformer_n_iter": (
            "with perturbation='zeros' (the default) there is no network: fit optimises nothing, so there is no "
            "n_iter_; the steps of an optimisation are in explain(X).n_iter"
        ),
    }
    _network_check_failures = {
        **BaseMaskExplainer._estimator_check_failures,
        **LEARNED_CHECK_FAILURES,
        "check_methods_subset_invariance": (
            "transform fine-tunes one perturbation network shared by the series explained together, so a "
            "series' mask depends (slightly) on the other series of the call"
        ),
        "check_methods_sample_order_invariance": (
            "transform fine-tunes one perturbation network shared by the series explained together, so a "
            "series' mask depends (slightly) on the other series of the call"
        ),
    }

    def _expected_check_failures(self):
        if isinstance(self.perturbation, str) and self.perturbation == "zeros":
            return self._estimator_check_failures
        return self._network_check_failures

    def __init__(
        self,
        lambda_1=0.5,
        lambda_2=1.0,
        *,
        perturbation="zeros",
        mode="preservation",
        transform_networks="fine_tune",
        max_iter=500,
        learning_rate=0.05,
        tol=1e-4,
        n_iter_no_change=10,
        batch_size="auto",
        loss="auto",
        target=None,
        segments=None,
        mask_init="constant",
        callbacks=None,
        model=None,
        model_layout="NCT",
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.lambda_1 = lambda_1
        self.lambda_2 = lambda_2
        self.perturbation = perturbation
        self.mode = mode
        self.transform_networks = transform_networks
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.batch_size = batch_size
        self.loss = loss
        self.target = target
        self.segments = segments
        self.mask_init = mask_init
        self.callbacks = callbacks
        self.model = model
        self.model_layout = model_layout
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _build_networks(self, x):
        return {"perturbation_net_": build_perturbation_net(self.perturbation, x, self.random_state)}

    def _make_objective(self, batch, networks, hyper):
        return _ExtremalMaskObjective(hyper, batch, networks["perturbation_net_"])


@dataclass
class ExtremalMaskResult:
    """Per-series results of ExtremalMask: the mask and the model's error at it."""

    masks: torch.Tensor
    error: torch.Tensor


class _ExtremalMaskObjective(Objective):
    """One batch of ExtremalMask: a mask per series, and the shared perturbation network."""

    def __init__(self, est, batch, net):
        self.est = est
        self.batch = batch
        self.param = batch.mask_parameter()  # (B, C, T), or (B, S) per segment
        self.net = BatchNetwork(net, batch.x, training=batch.training, mode=est.transform_networks)
        self.reference = self.reference_classes = None
        if est.mode == "deletion":
            with torch.no_grad():
                self.reference = batch.model(torch.zeros_like(batch.x), **batch.inputs)
            self.reference_classes = self.reference.argmax(-1) if batch.loss == "log_loss" else None

    def parameters(self):
        return [self.param] + self.net.parameters()

    @property
    def mask(self):
        return self.batch.expand(self.param)

    def _error(self, mask, perturbation):
        x = self.batch.x
        if self.est.mode == "preservation":
            return self.batch.error(mask * x + (1.0 - mask) * perturbation)
        x_tilde = (1.0 - mask) * x + mask * perturbation
        return self.batch.error(x_tilde, target=self.reference, target_classes=self.reference_classes)

    def loss(self, epoch):
        mask = self.mask
        perturbation = self.net()
        error = self._error(mask, perturbation)
        return error + self.est.lambda_1 * mask.mean((1, 2)) + self.est.lambda_2 * perturbation.abs().mean((1, 2))

    def project(self):
        with torch.no_grad():
            self.param.clamp_(0.0, 1.0)

    def result(self):
        mask = self.mask.detach()
        return ExtremalMaskResult(masks=mask, error=self._error(mask, self.net()))
