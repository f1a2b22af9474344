"""ContraLSP: contrastive counterfactual perturbations and locally sparse gates (Liu et al., ICLR 2024)."""

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions
from torch import nn

from ._base import BaseMaskExplainer, Interval, Objective, shared_parameter_docs
from ._contrastive import triplet_term
from ._learned import LEARNED_CHECK_FAILURES, LEARNED_CONSTRAINTS, BatchNetwork, build_perturbation_net

__all__ = ["ContraLSP", "ChannelTrend"]

_FIXED_LENGTH = (
    "a 2D input is a panel of univariate series: its columns are time points and n_features_in_ counts "
    "channels (1); another length is refused, with a message about series length, not features"
)


class ChannelTrend(nn.Module):
    """One small MLP per channel over the whole series: ContraLSP's trend ``τ(x)``.

    Channel ``c`` of the output is ``Linear(h -> T)(ReLU(Linear(T -> h)(x[:, c, :])))``,
    with separate weights per channel, computed for all channels at once.
    The output is the temperature of the gate's sigmoid at each entry.

    Parameters
    ----------
    n_channels : int
        Channels C.
    n_timepoints : int
        Series length T (the MLP's input and output size: the trend ties the
        explainer to one length).
    hidden_size : int, default=32
        Hidden units of each MLP.

    Examples
    --------
    >>> import torch
    >>> trend = ChannelTrend(n_channels=3, n_timepoints=20)
    >>> trend(torch.zeros(4, 3, 20)).shape
    torch.Size([4, 3, 20])
    """

    def __init__(self, n_channels, n_timepoints, hidden_size=32):
        super().__init__()
        self.n_channels = n_channels
        self.n_timepoints = n_timepoints
        self.hidden_size = hidden_size
        self.weight_in = nn.Parameter(torch.empty(n_channels, hidden_size, n_timepoints))
        self.bias_in = nn.Parameter(torch.empty(n_channels, hidden_size))
        self.weight_out = nn.Parameter(torch.empty(n_channels, n_timepoints, hidden_size))
        self.bias_out = nn.Parameter(torch.empty(n_channels, n_timepoints))
        self.reset_parameters()

    def reset_parameters(self):
        """``torch.nn.Linear``'s initialisation: U(±1/√fan_in) for weights and biases."""
        with torch.no_grad():
            for tensor, fan_in in (
                (self.weight_in, self.n_timepoints),
                (self.bias_in, self.n_timepoints),
                (self.weight_out, self.hidden_size),
                (self.bias_out, self.hidden_size),
            ):
                bound = 1.0 / math.sqrt(fan_in)
                tensor.uniform_(-bound, bound)

    def forward(self, x):
        """Trend of ``x`` (B, C, T), same shape."""
        hidden = torch.relu(torch.einsum("bct,cht->bch", x, self.weight_in) + self.bias_in)
        return torch.einsum("bch,cth->bct", hidden, self.weight_out) + self.bias_out

    def extra_repr(self):
        return f"n_channels={self.n_channels}, n_timepoints={self.n_timepoints}, hidden_size={self.hidden_size}"


def _gate(z, trend):
    """ContraLSP's smoothed gate ``(z + 0.5)·sigmoid((z + 0.5)·τ)``."""
    shifted = z + 0.5
    return shifted * torch.sigmoid(shifted * trend)


@shared_parameter_docs
class ContraLSP(BaseMaskExplainer):
    """Masks from locally sparse stochastic gates and contrastive counterfactuals (ContraLSP).

    Each series gets gate parameters ``μ`` (one per entry). A trend network
    ``τ`` (one MLP per channel, :class:`ChannelTrend`) sets the temperature
    of a sigmoid that smooths the gate, and Gaussian noise makes it
    stochastic during training::

        g(z, x) = (z + 0.5)·sigmoid((z + 0.5)·τ(x))
        m = clamp(g(μ + σ·ε, x), 0, 1),  ε ~ N(0, 1)        (training)
        m = clamp(g(μ, x), 0, 1)                             (returned mask)

    The unselected entries are replaced by a counterfactual perturbation
    ``x^r = φ(x)`` from a network shared by all series, ``Φ(x, m) = m·x +
    (1 − m)·x^r``, and the loss of a series is::

        L = L_e(f(Φ(x, m)), f(x)) + α·R + β·(L_cntr + mean|x^r|)

    with ``R`` = mean over entries of ``Φ_N(g(μ, x) / σ)`` (a smooth count of
    the open gates, ``Φ_N`` the standard normal CDF) and ``L_cntr`` a triplet
    loss that pulls ``x^r`` toward the perturbations of the other cluster of
    the batch (see Notes). ``μ``, ``τ`` and ``φ`` are trained together by
    Adam.

    Parameters
    ----------
    alpha : float or "auto", default="auto"
        Weight ``α`` of the sparsity term ``R``. Larger values give fewer
        salient entries. ``"auto"``: 1.5 for a classifier or a model that
        does not say what it is, 0.1 for a model that declares itself a
        regressor (see Notes, "Defaults by kind of model").
    beta : float or "auto", default="auto"
        Weight ``β`` of the counterfactual terms (triplet and ``mean|x^r|``).
        ``"auto"``: 1.0, or 0.1 for a regressor.
    sigma : float or "auto", default="auto"
        Standard deviation ``σ`` of the gate noise, also the scale of ``R``.
        Less noise keeps weakly salient entries open. ``"auto"``: 0.5 (the
        paper's), or 0.3 for a regressor.
    perturbation : {"bigru", "gru", "conv"}, torch.nn.Module or callable, default="bigru"
        The counterfactual network ``φ`` (as in
        :class:`~sklearn_tsmask.ExtremalMask`): ``"bigru"`` is the paper's
        bidirectional GRU with L2-normalised states and a linear map back to
        the channels, which walks the series step by step; ``"conv"``
        (:class:`~sklearn_tsmask.perturbation_nets.ConvPerturbation`) mixes
        the channels, filters each feature over the neighbouring steps
        without reading the entry itself and maps back, on all steps at
        once: 3-4x cheaper at 32-64 channels on CPU, as good on the
        benchmarks' fitted series, but its fine-tuned copy in ``transform``
        can learn a new series' salient values from their neighbours (user
        guide); ``"zeros"`` (``x^r = 0``, no contrastive term) is accepted
        for ablations.
    contrastive : {"triplet", "triplet_aim", "l1_only"}, default="triplet"
        ``"triplet"``: the triplet term as the paper writes it,
        ``max(0, D_an − D_ap − b)``, trains ``φ`` (its distances carry the
        gradient); it acts only when the negatives are farther than the
        positives by more than ``b``, which rarely happens at the distances
        of the benchmarks. ``"triplet_aim"``: ``max(0, D_an − D_ap + b)``,
        the aim the paper's text states (the negatives closer than the
        positives by ``b``). ``"l1_only"``: only ``mean|x^r|`` trains ``φ``,
        which is what the public ContraLSP code does in effect (its triplet
        term is computed on detached copies and has no gradient); for
        comparison.
    margin : float, default=1.0
        Margin ``b`` of the triplet loss.
    trend_hidden_size : int, default=32
        Hidden units of each channel's trend MLP.
    transform_networks : {"fine_tune", "frozen"}, default="fine_tune"
        What ``transform`` does with the trend and counterfactual networks
        trained by ``fit`` when it explains new series: start from them and
        train them further with the new gates (each batch from the fitted
        weights), or keep them fixed (only the gates are optimised).
    max_iter : int or "auto", default="auto"
        Optimisation steps per batch (an upper bound when ``tol`` is set).
        ``"auto"``: 500, or 200 for a regressor.
    learning_rate : float or "auto", default="auto"
        Adam's learning rate for the gates and both networks. ``"auto"``:
        0.01, or 0.1 for a regressor.
    tol : float or None, default=None
        Stop a batch when its loss (per series) has not improved on its best
        by more than ``tol`` for ``n_iter_no_change`` steps. None runs all
        ``max_iter`` steps. The training loss is noisy (stochastic gates):
        use a patience of tens of steps.
    n_iter_no_change : int, default=10
        Patience of the stopping rule (with ``tol``).
    batch_size : "auto", int or None, default="auto"
        Series optimised together ("auto": bounded memory; None: all). The
        triplets are drawn within a batch, so very small batches weaken the
        contrastive term; the paper optimises all series in one batch.
    loss : {"auto", "squared_error", "log_loss"}, default="squared_error"
        ``L_e``: squared error on the model's raw outputs, or cross-entropy
        against the class the model predicts for ``x`` at each output row;
        ``"auto"`` takes the cross-entropy for a model that declares itself
        a classifier (see :class:`ExtremalMask`). The default is the
        paper's squared error, also for classifiers: with the cross-entropy
        the gates' sparsity weight finds no balance on the classifier
        benchmarks (σ = 0.3, learning rate 0.1, 200 steps; State: AUP 0.72 /
        AUR 0.95 at ``alpha=1``, AUP 0.74 / AUR 0.36 at ``alpha=3``;
        Switch-Feature: AUR 0.005 at ``alpha=3``).
        ``loss_`` holds the error used.
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
        Seeds the networks' initial weights, the gate noise, the 2-means
        initialisation and the choice of negatives.
    verbose : int, default=0
        Show a progress bar when positive.

    Attributes
    ----------
    perturbation_net_ : torch.nn.Module or None
        The counterfactual network ``φ`` trained by ``fit`` (None for
        ``"zeros"``).
    trend_net_ : ChannelTrend
        The trend network ``τ`` trained by ``fit``.
    n_iter_ : int
        Steps ``fit`` ran (the most over the batches).
    loss_curve_ : ndarray of shape ``(n_iter_,)``
        Mean loss per series at each step of ``fit``.
    loss_ : {"squared_error", "log_loss"}
        The error used: ``loss``, with ``"auto"`` resolved by ``fit``.
    alpha_, beta_, sigma_, learning_rate_, max_iter_ : float or int
        The values ``fit`` used, with ``"auto"`` resolved for the model.
    model_ : FrozenModel
        The frozen black box.
    device_ : torch.device
        Device used.
    n_features_in_ : int
        Channels of the fitted series.
    n_timepoints_ : int
        Length of the fitted series; ``transform`` accepts only this length.
    output_shape_ : tuple
        Shape of the model's output for one series.
    model_inputs_ : tuple of str
        Names of the model inputs given besides the series
        (:class:`~sklearn_tsmask.WithInputs`).

    Notes
    -----
    What is fitted. ``fit`` trains the trend and counterfactual networks,
    jointly with the gates of the fitted series (the method needs them to
    learn the networks); ``fit_transform`` returns those masks.
    ``transform`` and ``explain`` optimise the gates of any series of the
    fitted length from the fitted networks.

    Triplets. Each step splits the batch's perturbations ``x^r`` (flattened)
    into two clusters by 2-means (Lloyd, seeded; on a GPU from the Gram
    matrix of the perturbations, one copy to the host per step). Every series is
    an anchor; its positives are the ``K+`` nearest other members of its
    cluster, its negatives ``K-`` members of the other cluster drawn at
    random, ``K = min(50, floor(n / 5) + 1)`` for a cluster of ``n`` series.
    With ``D_ap`` and ``D_an`` the mean Manhattan distances (mean absolute
    difference per entry) to the positives and negatives,
    ``L_cntr = max(0, D_an − D_ap − b)``. The selection is discrete; the
    distances carry the gradient to ``φ``. An anchor alone in its cluster,
    or a batch in a single cluster, contributes no triplet loss.

    Defaults by kind of model. The right strength of the sparsity term
    depends on how the model's output reacts to the gates, and the
    measurements split by kind of model. On the GRU classifiers of the
    State and Switch-Feature benchmarks, ``α = 1.5`` with the paper's
    ``β = 1``, ``σ = 0.5`` and 500 Adam steps at 0.01 keeps at least 95 %
    of the best of the paper's settings and ours in AUP and AUR (smaller
    ``α`` opens every gate: State AUP 0.53 at ``α = 0.1``). The sparse
    regressions of the Rare-Time and Rare-Feature benchmarks, whose
    weakly salient entries move the output little, want the opposite:
    ``α = β = 0.1``, ``σ = 0.3``, 200 steps at 0.1 (with the classifiers'
    values, Rare-Time DiffGroups AUR 0.60 against 0.97). ``"auto"`` takes
    the regression values for a model that declares itself a regressor
    (scikit-learn's estimator type, skorch's ``NeuralNetRegressor``, a
    torch module with ``_estimator_type = "regressor"``) and the
    classifier values for any other model, the paper's choice for a black
    box that says nothing. They are a starting point measured on those
    benchmarks only; tune ``alpha`` (and ``sigma``) with a grid search for
    your data (user guide).

    Differences from the public code: the triplet term is differentiable and
    its distances are computed on the model's device (the public code clusters with
    scikit-learn's ``KMeans`` on NumPy copies each step, so the term has no
    gradient: ``contrastive="l1_only"`` reproduces that); the target ``f(x)``
    is computed once; any series length is checked against the trend
    network's instead of failing inside it.

    References
    ----------
    Z. Liu, T. Wang, J. Shi, X. Zheng, Z. Chen, L. Song, W. Dong, J. Obeysekera,
    F. Shirani, D. Luo, "Explaining Time Series via Contrastive and Locally
    Sparse Perturbations", ICLR 2024.

    Examples
    --------
    >>> from sklearn_tsmask import ContraLSP
    >>> from sklearn_tsmask.datasets import make_rare_feature
    >>> X, true_saliency, white_box = make_rare_feature(n_samples=8, random_state=0)
    >>> explainer = ContraLSP(alpha=0.1, beta=0.1, max_iter=20, random_state=0)
    >>> masks = explainer.fit_transform(X, model=white_box)
    >>> masks.shape
    (8, 50, 50)
    >>> bool(((masks >= 0) & (masks <= 1)).all())
    True
    """

    _requires_fixed_length = True
    _parameter_constraints = {
        **BaseMaskExplainer._parameter_constraints,
        **LEARNED_CONSTRAINTS,
        "alpha": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="left")],
        "beta": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="left")],
        "sigma": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="neither")],
        "contrastive": [StrOptions({"triplet", "triplet_aim", "l1_only"})],
        "margin": [Interval(numbers.Real, 0, None, closed="left")],
        "trend_hidden_size": [Interval(numbers.Integral, 1, None, closed="left")],
    }
    _fitted_networks = ("perturbation_net_", "trend_net_")
    _auto_params = ("alpha", "beta", "sigma", "learning_rate", "max_iter")
    #: The values of "auto" by kind of model (class Notes, "Defaults by kind of model"; benchmarks/RESULTS.md).
    _AUTO = {
        "classifier": dict(alpha=1.5, beta=1.0, sigma=0.5, learning_rate=0.01, max_iter=500),
        "regressor": dict(alpha=0.1, beta=0.1, sigma=0.3, learning_rate=0.1, max_iter=200),
    }
    _estimator_check_failures = {
        **LEARNED_CHECK_FAILURES,
        "check_n_features_in_after_fitting": _FIXED_LENGTH,
        "check_n_features_in": _FIXED_LENGTH,
        "check_methods_subset_invariance": (
            "transform fine-tunes one perturbation network shared by the series explained together, so a "
            "series' mask depends (slightly) on the other series of the call; the triplet loss draws its "
            "positives and negatives from the series of the call"
        ),
        "check_methods_sample_order_invariance": (
            "transform fine-tunes one perturbation network shared by the series explained together, so a "
            "series' mask depends (slightly) on the other series of the call; the triplet loss draws its "
            "positives and negatives from the series of the call"
        ),
    }

    def __init__(
        self,
        alpha="auto",
        beta="auto",
        sigma="auto",
        *,
        perturbation="bigru",
        contrastive="triplet",
        margin=1.0,
        trend_hidden_size=32,
        transform_networks="fine_tune",
        max_iter="auto",
        learning_rate="auto",
        tol=None,
        n_iter_no_change=10,
        batch_size="auto",
        loss="squared_error",
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
        self.alpha = alpha
        self.beta = beta
        self.sigma = sigma
        self.perturbation = perturbation
        self.contrastive = contrastive
        self.margin = margin
        self.trend_hidden_size = trend_hidden_size
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
        seed_net, seed_trend = check_random_state(self.random_state).randint(np.iinfo(np.int32).max, size=2)
        net = build_perturbation_net(self.perturbation, x, int(seed_net))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed_trend))
            trend = ChannelTrend(x.shape[1], x.shape[2], self.trend_hidden_size)
        return {"perturbation_net_": net, "trend_net_": trend.to(device=x.device, dtype=x.dtype)}

    def _auto_values(self, kind):
        return self._AUTO["regressor" if kind == "regressor" else "classifier"]

    def _make_objective(self, batch, networks, hyper):
        return _ContraLSPObjective(hyper, batch, networks)


@dataclass
class ContraLSPResult:
    """Per-series results of ContraLSP: the noise-free mask and the model's error at it."""

    masks: torch.Tensor
    error: torch.Tensor


class _ContraLSPObjective(Objective):
    """One batch of ContraLSP: gates per series, the shared trend and counterfactual networks."""

    def __init__(self, est, batch, networks):
        self.est = est
        self.batch = batch
        # gate means μ: (B, C, T), or (B, S) per segment; at 0.5 all gates are open (g(μ) = μ + 0.5 before the trend);
        # a StartGrad rank r starts the gate at r (μ = r − 0.5)
        self.param = batch.mask_parameter(offset=-0.5)
        mode = est.transform_networks
        self.net = BatchNetwork(networks["perturbation_net_"], batch.x, training=batch.training, mode=mode)
        self.trend = BatchNetwork(networks["trend_net_"], batch.x, training=batch.training, mode=mode)

    def parameters(self):
        return [self.param] + self.net.parameters() + self.trend.parameters()

    def _segment_mean(self, mask):
        """With segments, one value per segment: the mean of the gates of its entries."""
        seg = self.batch.segments
        return mask if seg is None else seg.expand(seg.mean(mask))

    def _error(self, mask, xr):
        return self.batch.error(mask * self.batch.x + (1.0 - mask) * xr)

    def loss(self, epoch):
        est, param = self.est, self.param
        mu = self.batch.expand(param)
        trend = self.trend()
        xr = self.net()
        noise = torch.randn(param.shape, generator=self.batch.generator, device=param.device, dtype=param.dtype)
        mask = self._segment_mean(_gate(mu + est.sigma * self.batch.expand(noise), trend).clamp(0.0, 1.0))
        error = self._error(mask, xr)
        # smooth l0: P(gate open) under the noise, Φ_N(g(μ, x) / σ)
        open_prob = 0.5 + 0.5 * torch.erf(_gate(mu, trend) / (est.sigma * math.sqrt(2.0)))
        loss = error + est.alpha * open_prob.mean((1, 2))
        if est.beta > 0:
            counterfactual = xr.abs().mean((1, 2))
            if est.contrastive != "l1_only" and self.net.trainable:
                reading = "aim" if est.contrastive == "triplet_aim" else "formula"
                counterfactual = counterfactual + triplet_term(xr, self.batch.generator, margin=est.margin,
                                                               reading=reading)
            loss = loss + est.beta * counterfactual
        return loss

    def result(self):
        mask = self._segment_mean(_gate(self.batch.expand(self.param.detach()), self.trend()).clamp(0.0, 1.0))
        return ContraLSPResult(masks=mask, error=self._error(mask, self.net()))
