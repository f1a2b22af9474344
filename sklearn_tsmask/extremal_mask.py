"""ExtremalMask: masks with learned perturbations (Enguehard, ICML 2023)."""

import torch

from ._base import BaseMaskExplainer
from ._utils import check_scalar_in
from .perturbation_nets import (
    check_perturbation_net,
    check_perturbation_spec,
    check_warm_start_mode,
    make_perturbation_net,
    start_from_fitted,
)

__all__ = ["ExtremalMask"]

_MODES = ("preservation", "deletion")


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
    lambda_1 : float, default=1.0
        Weight of the mask size, ``mean(m)`` over the series' entries. Larger
        values give sparser masks.
    lambda_2 : float, default=1.0
        Weight of the perturbation size, ``mean|NN(x)|``. Larger values push
        the perturbation toward 0.
    perturbation : {"bigru", "gru", "zeros"}, torch.nn.Module or callable, default="bigru"
        The perturbation network ``NN``, mapping ``(B, C, T)`` to ``(B, C, T)``.
        ``"bigru"``: a bidirectional GRU with C hidden units per direction,
        L2-normalised states, then a linear map back to C channels
        (:class:`~sklearn_tsmask.perturbation_nets.RecurrentPerturbation`).
        ``"gru"``: the same, forward only (causal). ``"zeros"``: no network,
        ``Φ(x, m) = m·x``. A module is copied and trained (the user's object
        is left as it is); a callable is a factory ``n_channels -> Module``
        (a module class works), initialised under ``random_state``.
    mode : {"preservation", "deletion"}, default="preservation"
        Deletion finds the entries whose removal moves the output to the
        output on the all-zero series: ``Φ(x, m) = (1 − m)·x + m·NN(x)`` and
        ``L = λ_1·mean(m) + λ_2·mean|NN(x)| + L_e(f(Φ(x, m)), f(0))``. The
        mask is still 1 on salient entries. See Notes for why this differs
        from the paper's deletion objective.
    transform_perturbation : {"fine_tune", "frozen"}, default="fine_tune"
        What ``transform`` does with the network trained by ``fit`` when it
        explains new series: start from it and train it further with the new
        masks (each batch from the fitted weights), or keep it fixed (then
        ``NN(x)`` is computed once and only the masks are optimised).
    n_epochs : int, default=500
        Optimisation steps per batch (an upper bound when ``tol`` is set).
    learning_rate : float, default=0.01
        Adam's learning rate, for the masks and the network.
    tol : float or None, default=None
        Stop a batch when its loss (per series) has not improved on its best
        by more than ``tol`` for ``n_iter_no_change`` epochs, as scikit-learn's
        ``MLPClassifier`` does. None runs all ``n_epochs``.
    n_iter_no_change : int, default=10
        Patience of the stopping rule (with ``tol``).
    batch_size : "auto", int or None, default="auto"
        Series optimised together ("auto": bounded memory; None: all). The
        network is shared: in ``fit`` it is trained through the batches in
        turn.
    loss : {"mse", "cross_entropy"}, default="mse"
        ``L_e``: mean squared error on the model's raw outputs, or
        cross-entropy against the class the model predicts for ``x``
        (``f(0)`` in deletion mode) at each output row.
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
    verbose : bool, default=False
        Show a progress bar.

    Attributes
    ----------
    masks_ : ndarray of shape (n_instances, n_channels, n_timepoints)
        The masks of the fitted series.
    perturbation_net_ : torch.nn.Module or None
        The trained perturbation network (None for ``"zeros"``), on
        ``device_``. ``perturbation_net_(x)`` gives ``NN(x)`` for a tensor
        ``(B, C, T)``; ``ExtremalMask(perturbation=est.perturbation_net_)``
        starts another explainer from it.
    error_ : ndarray of shape (n_instances,)
        ``L_e`` of each fitted series at its final mask.
    n_iter_ : int
        Epochs run (the most over the batches).
    loss_history_ : ndarray of shape ``(n_iter_,)``
        Mean loss per series at each epoch of ``fit``.
    model_ : FrozenModel
        The frozen black box.
    device_ : torch.device
    n_features_in_ : int
        Channels of the fitted series.
    n_timepoints_ : int
    output_shape_ : tuple
        Shape of the model's output for one series.

    Notes
    -----
    Deletion. The paper's deletion objective,
    ``λ_1·mean(1 − m) + λ_2·mean|NN(x)| + L_e(f((1 − m)·x + m·NN(x)), f(0))``,
    is minimised by ``m ≡ 1`` with ``NN(x) = 0`` (every entry declared
    salient, loss 0): the penalty on ``1 − m`` rewards large masks. Here the
    penalty is on ``m``, so the mask is the smallest set of entries whose
    replacement by ``NN(x)`` brings the output to ``f(0)``.

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
    >>> explainer = ExtremalMask(n_epochs=50, random_state=0)
    >>> masks = explainer.fit_transform(X, model=white_box)
    >>> masks.shape
    (8, 50, 50)
    """

    def __init__(
        self,
        lambda_1=1.0,
        lambda_2=1.0,
        *,
        perturbation="bigru",
        mode="preservation",
        transform_perturbation="fine_tune",
        n_epochs=500,
        learning_rate=0.01,
        tol=None,
        n_iter_no_change=10,
        batch_size="auto",
        loss="mse",
        model=None,
        model_layout="NCT",
        device="auto",
        random_state=None,
        verbose=False,
    ):
        self.lambda_1 = lambda_1
        self.lambda_2 = lambda_2
        self.perturbation = perturbation
        self.mode = mode
        self.transform_perturbation = transform_perturbation
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.batch_size = batch_size
        self.loss = loss
        self.model = model
        self.model_layout = model_layout
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ hooks
    def _validate_params(self):
        check_scalar_in(self.lambda_1, "lambda_1", 0.0, float("inf"), closed="left")
        check_scalar_in(self.lambda_2, "lambda_2", 0.0, float("inf"), closed="left")
        if self.mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {self.mode!r}.")
        check_warm_start_mode(self.transform_perturbation, "transform_perturbation")
        check_perturbation_spec(self.perturbation)

    def _begin_explain(self, x, *, fitting):
        if fitting:
            net = make_perturbation_net(
                self.perturbation, x.shape[1], random_state=self.random_state, device=x.device, dtype=x.dtype
            )
            check_perturbation_net(net, x[:2])
            return {"net": net}
        return {"net": self.perturbation_net_}

    def _init_batch(self, batch):
        x = batch.x
        mask = torch.full_like(x, 0.5).requires_grad_(True)
        batch.state["mask"] = mask
        net = batch.shared["net"]
        params = [mask]
        if not batch.fitting:
            net, batch.state["fixed_perturbation"] = start_from_fitted(net, x, self.transform_perturbation)
        batch.state["net"] = net
        if net is not None:
            params += list(net.parameters())
        if self.mode == "deletion":
            with torch.no_grad():
                reference = self.model_(torch.zeros_like(x), **batch.model_kwargs)
            batch.state["reference"] = reference
            batch.state["reference_classes"] = reference.argmax(-1) if self.loss == "cross_entropy" else None
        return params

    def _perturbation(self, batch):
        net = batch.state["net"]
        if net is not None:
            return net(batch.x)
        fixed = batch.state.get("fixed_perturbation")
        return torch.zeros_like(batch.x) if fixed is None else fixed

    def _errors(self, batch, mask, perturbation):
        x = batch.x
        if self.mode == "preservation":
            x_tilde = mask * x + (1.0 - mask) * perturbation
            return self._model_error(batch, x_tilde.unsqueeze(1))[:, 0]
        x_tilde = (1.0 - mask) * x + mask * perturbation
        err = self._model_error(
            batch, x_tilde.unsqueeze(1), batch.state["reference"], batch.state["reference_classes"]
        )
        return err[:, 0]

    def _batch_loss(self, batch, epoch):
        mask = batch.state["mask"]
        perturbation = self._perturbation(batch)
        error = self._errors(batch, mask, perturbation)
        loss = error + self.lambda_1 * mask.mean((1, 2)) + self.lambda_2 * perturbation.abs().mean((1, 2))
        return loss.sum()

    def _after_step(self, batch):
        with torch.no_grad():
            batch.state["mask"].clamp_(0.0, 1.0)

    def _finish_batch(self, batch):
        mask = batch.state["mask"].detach()
        return {"masks": mask, "error": self._errors(batch, mask, self._perturbation(batch))}

    def _end_fit(self, shared):
        net = shared["net"]
        if net is not None:
            net.eval()
        self.perturbation_net_ = net

    def _set_fit_results(self, results):
        self.error_ = results["error"]
