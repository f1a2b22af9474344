"""DynaMask: dynamic perturbation masks (Crabbé & van der Schaar, ICML 2021)."""

import numbers
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.utils._param_validation import InvalidParameterError, StrOptions

from ._base import BaseMaskExplainer, Interval, Objective, _adam, _is_auto, _sgd, shared_parameter_docs
from .perturbations import fade, gaussian_blur, moving_average, past_average

#: The areas of ``area="auto"``: fine below the 5 % and around the third of the entries where the benchmarks'
#: truths lie, and wide enough between (benchmarks/RESULTS.md, "DynaMask over a wide grid of areas").
AUTO_AREAS = (0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)

__all__ = ["DynaMask"]

_PERTURBATIONS = ("gaussian_blur", "fade_moving_average", "fade_past_average", "fade_reference")


@shared_parameter_docs
class DynaMask(BaseMaskExplainer):
    """Dynamic masks for time-series models (Dynamask).

    For each series ``x`` and each mask area ``a``, a mask ``m`` of the
    series' shape is optimised so that the model's output on the perturbed
    series ``Π(x, m)`` stays close to its output on ``x`` while only a
    fraction ``a`` of the mask is on::

        L(m) = L_e(f(Π(x, m)), f(x))
               + λ_a · ‖sort(m) − r_a‖² / (C·T)
               + λ_c · Σ_c Σ_t |m[c, t+1] − m[c, t]| / (C·T)

    where ``r_a`` is ``(1 − a)·C·T`` zeros followed by ``a·C·T`` ones, and
    ``λ_a`` grows geometrically from ``lambda_area`` to
    ``lambda_area · lambda_area_growth`` over the ``max_iter`` steps. All (series, area)
    masks are optimised jointly in one vectorised problem; one mask per series
    is then selected: the smallest area whose error is close to the series'
    best (``relative_epsilon``), the extremal mask under an absolute
    threshold (``epsilon``), or the lowest error.

    Parameters
    ----------
    area : "auto", float or sequence of float, default="auto"
        Fraction(s) of the mask in (0, 1) that may be on. Several areas are
        optimised jointly and one is chosen per series. ``"auto"``: the 14
        areas 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, … 0.4 (every
        0.05) and 0.5, with the selection of ``relative_epsilon``; each
        area costs one more masked series per step, so a single area you
        know is 14 times cheaper.
    perturbation : {"gaussian_blur", "fade_moving_average", "fade_past_average", \
"fade_reference"}, default="fade_reference"
        The perturbation operator Π. ``gaussian_blur`` blurs each entry over
        time with a width ``sigma_max·(1 − m)``; the ``fade_*`` operators
        replace ``x`` by ``m·x + (1 − m)·μ`` with ``μ`` a centred moving
        average, a causal (past-only) moving average, or ``baseline``.
    sigma_max : float, default=1.0
        Widest blur (mask 0), in time steps (``gaussian_blur``).
    window : int or None, default=None
        ``gaussian_blur``: half-width of the truncated kernel (``None`` =
        ``ceil(3·sigma_max)``). ``fade_moving_average``: half-width of the
        centred window (``None`` = whole-series mean). ``fade_past_average``:
        number of past steps (``None`` = the whole past). Edges are averaged
        over the steps present. At least 1: a window of 0 would make every
        perturbation the identity (no entry could matter).
    baseline : float or array-like, default=0.0
        Reference of ``fade_reference``: a scalar, one value per channel
        ``(C,)``, one reference series ``(C, T)``, or one per series
        ``(N, C, T)`` (then only for data of ``N`` series).
    mode : {"preservation", "deletion"}, default="preservation"
        Preservation keeps the salient entries (``Π(x, m)``); deletion
        removes them (``Π(x, 1 − m)``) and maximises the error. The returned
        mask is ``m`` in both modes (1 = salient).
    lambda_area : float, default=0.1
        Initial weight λ_0 of the area regulariser (the paper: 1 on the
        rare benchmarks, 0.1 on State).
    lambda_area_growth : float, default=100.0
        Dilation δ ≥ 1: λ_a reaches ``lambda_area · lambda_area_growth`` at the
        last step (× ``δ^(1/max_iter)`` each step).
    lambda_time : float, default=1.0
        Weight λ_c of the time-variation regulariser (all ``T − 1`` pairs).
        The paper: 0 on the rare benchmarks, 1 on State.
    epsilon : float or None, default=None
        Per-series selection among areas by an absolute threshold, in the
        units of the error: the extremal mask, the smallest area whose
        error is below ``epsilon`` (deletion: above), else the lowest-error
        (deletion: highest-error) one. Takes precedence over
        ``relative_epsilon``.
    relative_epsilon : float in [0, 1] or None, default=0.1
        Per-series selection among areas without a threshold in the error's
        units: the smallest area whose error is at most its lowest error
        plus ``relative_epsilon`` times its error scale (deletion: at least
        its highest minus that share). The scale is the range of the
        series' errors over the areas or, when larger, the distance of its
        best error from its error unperturbed (``error_unperturbed`` of
        :meth:`explain`: 0 for the squared error); on a flat curve, where no
        area keeps the output much closer than another, the smallest area is
        kept. ``None`` (or 0): the area with the lowest error (deletion: the
        highest), the paper's choice, which nearly always picks the largest
        area.
    solver : {"sgd", "adam"}, default="sgd"
        SGD with momentum as in the paper, or Adam. The mask is clamped to
        [0, 1] after each step and starts at 0.5.
    momentum : float, default=0.9
        Momentum of SGD.
    max_iter : int, default=500
        Optimisation steps per batch (an upper bound when ``tol`` is set).
    learning_rate : float, default=1.0
        Step size.
    tol : float or None, default=None
        Stop a batch when its loss per series has not improved on its best
        by more than ``tol`` for ``n_iter_no_change`` steps, as
        scikit-learn's ``MLPClassifier`` does. None runs all ``max_iter``
        steps. The area weight grows over ``max_iter`` steps whatever
        ``tol``, so a stopped batch ends before the area term is at full
        strength: keep ``tol`` small.
    n_iter_no_change : int, default=10
        Patience of the stopping rule (with ``tol``).
    batch_size : "auto", int or None, default="auto"
        Series optimised together (each with all its areas); ``None`` = all
        at once. ``"auto"`` bounds a batch to about 2 million mask entries
        (series × areas × channels × time) on CPU, where cache-sized batches
        run several times faster, and 32 million on GPU. Without ``tol`` the
        masks do not depend on it.
    loss : {"auto", "squared_error", "log_loss"}, default="auto"
        The error L_e: squared error on the model's raw outputs, or the
        cross-entropy of the output rows against the unperturbed
        prediction's argmax; ``"auto"`` takes the cross-entropy for a model
        that declares itself a classifier (see :class:`ExtremalMask`) and
        the squared error otherwise. The paper uses the squared error;
        with the blur the cross-entropy did not help on the State
        benchmark, with ``perturbation="fade_reference"`` it pays off (see
        Notes).
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
        Layout the model takes: X's own (N, C, T), or (N, T, C) for
        batch-first recurrent networks.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where to compute; ``"auto"`` uses a GPU when there is one.
    random_state : int, RandomState instance or None, default=None
        Seed. DynaMask itself draws nothing at random; kept for a uniform
        interface.
    verbose : int, default=0
        Show a progress bar over steps and batches when positive.

    Attributes
    ----------
    n_iter_ : int
        Steps run by the last ``fit_transform`` (the most over the batches);
        ``fit`` alone optimises nothing and does not set it.
    loss_curve_ : ndarray of shape ``(n_iter_,)``
        Mean loss per series at each step of the last ``fit_transform``.
    areas_ : ndarray of shape (n_areas,)
        The areas at fit time, sorted. ``explain(X).areas`` gives those of
        a later call (after ``set_params(area=...)``), the columns of its
        ``error_by_area``.
    loss_ : {"squared_error", "log_loss"}
        The error used: ``loss``, with ``"auto"`` resolved by ``fit``.
    model_ : FrozenModel
        The frozen black box as the explainer calls it.
    output_shape_ : tuple
        Shape of the model's output for one series.
    n_features_in_ : int
        Number of channels.
    n_timepoints_ : int
        Length of the fitted series.
    device_ : torch.device
        Device used.
    model_inputs_ : tuple of str
        Names of the model inputs given besides the series
        (:class:`~sklearn_tsmask.WithInputs`); ``transform`` needs the same.

    Notes
    -----
    **What is fitted.** DynaMask learns nothing that carries over from one
    series to another: ``fit`` only validates the data and the model and
    wraps the model. Masks are optimised by ``transform``, ``fit_transform``
    and ``explain`` (which also returns each series' chosen area and
    errors), so a grid search pays for the masks of its test folds only.

    **Choosing the perturbation.** The blur removes what an entry adds to its
    neighbourhood; it suits signals whose information is local in time (the
    rare benchmarks: AUP 0.996 / AUR 0.745). When neighbouring steps carry
    the same information, as in series driven by a persistent hidden state,
    blurring one entry barely changes the model's output whether or not it is
    salient, and the masks are decided by the area term alone. Fading to an
    uninformative baseline (``perturbation="fade_reference"``, ``baseline=0``
    for standardised data) with ``loss="log_loss"`` then works far
    better: on the State benchmark AUP 0.36 → 0.90 and AUR 0.79 → 0.92
    (``benchmarks/RESULTS.md``).

    **Defaults.** The paper tunes the area and the weights per benchmark
    (the area among 50 values up to 0.05 on the rare benchmarks, whose
    truth covers 5 % of the entries, and around a third on State, whose
    truth covers a third). The defaults choose the area per series from
    14 areas by ``relative_epsilon`` and use State's weights, the fade to
    0 and 500 steps: measured on the six synthetic benchmarks against the
    best of the paper's settings and ours (``benchmarks/RESULTS.md``, user
    guide). Set ``area`` when you know the share of salient entries, and
    choose a ``baseline`` that means "no information" for your data (0
    for standardised series).

    **Cost.** One optimisation step is one forward and one backward pass of the
    model on ``batch_size × n_areas`` series, plus the perturbation; on a
    GRU black box a step costs about 1.2 times the bare forward + backward.

    References
    ----------
    J. Crabbé and M. van der Schaar. Explaining Time Series Predictions with
    Dynamic Masks. ICML 2021.

    Examples
    --------
    >>> from sklearn_tsmask import DynaMask
    >>> from sklearn_tsmask.datasets import make_rare_feature
    >>> X, true_saliency, white_box = make_rare_feature(n_samples=4, random_state=0)
    >>> masks = DynaMask(area=0.05, max_iter=50, random_state=0).fit_transform(X, white_box)
    >>> masks.shape
    (4, 50, 50)
    """

    _parameter_constraints = {
        **BaseMaskExplainer._parameter_constraints,
        "area": [StrOptions({"auto"}), Interval(numbers.Real, 0, 1, closed="neither"), "array-like"],
        "perturbation": [StrOptions(set(_PERTURBATIONS))],
        "sigma_max": [Interval(numbers.Real, 0, None, closed="neither")],
        # 0 would make the blur and both averages the identity: every error 0, masks set by the area term alone
        "window": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "baseline": [Interval(numbers.Real, None, None, closed="neither"), "array-like"],
        "mode": [StrOptions({"preservation", "deletion"})],
        "lambda_area": [Interval(numbers.Real, 0, None, closed="left")],
        "lambda_area_growth": [Interval(numbers.Real, 1, None, closed="left")],
        "lambda_time": [Interval(numbers.Real, 0, None, closed="left")],
        "epsilon": [Interval(numbers.Real, None, None, closed="neither"), None],
        "relative_epsilon": [Interval(numbers.Real, 0, 1, closed="both"), None],
        "solver": [StrOptions({"sgd", "adam"})],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
    }

    _estimator_check_failures = {
        **BaseMaskExplainer._estimator_check_failures,
        "check_transformer_n_iter": (
            "fit optimises nothing (DynaMask learns nothing that transform reuses), so there is no n_iter_; "
            "the steps of an optimisation are in explain(X).n_iter"
        ),
    }

    def __init__(
        self,
        area="auto",
        *,
        perturbation="fade_reference",
        sigma_max=1.0,
        window=None,
        baseline=0.0,
        mode="preservation",
        lambda_area=0.1,
        lambda_area_growth=100.0,
        lambda_time=1.0,
        epsilon=None,
        relative_epsilon=0.1,
        solver="sgd",
        momentum=0.9,
        max_iter=500,
        learning_rate=1.0,
        tol=None,
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
        self.area = area
        self.perturbation = perturbation
        self.sigma_max = sigma_max
        self.window = window
        self.baseline = baseline
        self.mode = mode
        self.lambda_area = lambda_area
        self.lambda_area_growth = lambda_area_growth
        self.lambda_time = lambda_time
        self.epsilon = epsilon
        self.relative_epsilon = relative_epsilon
        self.solver = solver
        self.momentum = momentum
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

    # ------------------------------------------------------------ parameters
    def _areas(self):
        if _is_auto(self.area):
            return np.asarray(AUTO_AREAS)
        areas = np.atleast_1d(np.asarray(self.area, dtype=float))
        if areas.ndim != 1 or areas.size == 0:
            raise InvalidParameterError(
                f"The 'area' parameter of DynaMask must be a float or a non-empty 1D sequence of floats; "
                f"got {self.area!r}."
            )
        if not np.all((areas > 0) & (areas < 1)):
            raise InvalidParameterError(f"Every area of DynaMask must be in (0, 1); got {self.area!r}.")
        if np.unique(areas).size != areas.size:
            raise InvalidParameterError(f"The areas of DynaMask must be distinct; got {self.area!r}.")
        return np.sort(areas)

    def _check_params(self):
        super()._check_params()
        self._areas()
        if not np.all(np.isfinite(np.asarray(self.baseline, dtype=float))):
            raise InvalidParameterError(f"The 'baseline' parameter of DynaMask must be finite; got {self.baseline!r}.")

    def _masks_per_series(self):
        return len(self._areas())

    def _make_optimizer(self, params, hyper):
        if hyper.solver == "sgd":
            return _sgd(params, hyper.learning_rate, hyper.momentum)
        return _adam(params, hyper.learning_rate)

    def _fit(self, X, y, model, *, produce_masks):
        fitted, run = super()._fit(X, y, model, produce_masks=produce_masks)
        self._check_baseline_shape(fitted["n_features_in_"], fitted["n_timepoints_"])
        fitted["areas_"] = self._areas()
        return fitted, run

    def _explanation(self, result, fmt):
        out = super()._explanation(result, fmt)
        out.areas = self._areas()
        return out

    def _check_baseline_shape(self, C, T):
        """Refuse at fit a baseline that cannot fit series of C channels and length T."""
        if self.perturbation != "fade_reference":
            return
        shape = np.shape(self.baseline)
        if shape in ((), (C,), (C, T)) or (len(shape) == 3 and shape[1:] == (C, T)):
            return
        raise ValueError(
            f"baseline must be a scalar or have shape (C,)=({C},), (C, T)=({C}, {T}) or (N, C, T); "
            f"got shape {shape}."
        )

    def _make_objective(self, batch, networks, hyper):
        return _DynaMaskObjective(hyper, batch)

    # --------------------------------------------------------- perturbations
    def _reference(self, batch):
        """The fade target μ of each series of the batch (``fade_*`` perturbations), or None."""
        x = batch.x
        if self.perturbation == "fade_moving_average":
            return moving_average(x, self.window)
        if self.perturbation == "fade_past_average":
            return past_average(x, self.window)
        if self.perturbation == "fade_reference":
            return self._baseline(batch).expand_as(x)
        return None

    def _baseline(self, batch):
        C, T = batch.x.shape[1:]
        self._check_baseline_shape(C, T)
        base = torch.as_tensor(np.asarray(self.baseline, dtype=float), dtype=batch.x.dtype, device=batch.x.device)
        if base.ndim == 1:  # (C,)
            return base[:, None]
        if base.ndim == 3:  # (N, C, T): one reference per series
            if base.shape[0] != batch.n_total:
                raise ValueError(
                    f"baseline has one reference per series ({base.shape[0]}) but {batch.n_total} series are "
                    "explained."
                )
            return base[batch.rows]
        return base  # a scalar or (C, T)


def within_share(errors, share, mode="preservation", unperturbed=None):
    """Per row of ``errors`` (series × areas, areas ascending), the index of the smallest area whose error is within
    ``share`` of the row's scale of its best error (preservation: the lowest; deletion: the highest):
    ``relative_epsilon``'s rule.

    The scale is the range of the row's errors over the areas or, when ``unperturbed`` (the error of each series
    left as it is, shape ``(rows,)``) is given and larger, the distance of the best error from it: how far even the
    best mask leaves the output from the model's own (deletion: how far it moves it). A flat curve, whose areas all
    keep the output about as well, then selects its smallest area instead of the one that noise makes lowest. The
    best area always qualifies, so every row has one.
    """
    low, high = errors.min(1, keepdim=True).values, errors.max(1, keepdim=True).values
    scale = high - low
    if unperturbed is not None:
        best = low if mode == "preservation" else high
        scale = torch.maximum(scale, (best - unperturbed.reshape(-1, 1).to(errors.dtype)).abs())
    slack = share * scale
    ok = errors <= low + slack if mode == "preservation" else errors >= high - slack
    return ok.to(torch.int8).argmax(1)  # the first True


@dataclass
class DynaMaskResult:
    """Per-series results of DynaMask: the selected mask, its area and errors."""

    masks: torch.Tensor
    area: torch.Tensor
    error: torch.Tensor
    error_by_area: torch.Tensor
    error_unperturbed: torch.Tensor


class _DynaMaskObjective(Objective):
    """One batch of DynaMask: a mask per (series, area), all optimised jointly."""

    def __init__(self, est, batch):
        self.est = est
        self.batch = batch
        B, C, T = batch.x.shape
        areas = est._areas()
        V = len(areas)
        x = batch.x
        # The 1e-6 absorbs rounding: 5·(1 − 0.8) = 0.9999999999999998 must give 1 zero, not 0.
        n_zeros = np.floor(C * T * (1.0 - areas) + 1e-6).astype(int)
        positions = torch.arange(C * T, device=x.device)
        self.area_target = (positions[None, :] >= torch.as_tensor(n_zeros, device=x.device)[:, None]).to(x.dtype)
        self.n_ones = torch.as_tensor(C * T - n_zeros, device=x.device)  # entries the area keeps, per area
        self.areas = torch.as_tensor(areas, dtype=torch.float64, device=x.device)  # as given, not the model's dtype
        self.param = batch.mask_parameter(V)  # (B, V, C, T), or (B, V, S) per segment
        self.reference = est._reference(batch)
        # the (series, area) rows of one model call: every series' target and inputs repeated per area
        self.target = batch.target.repeat_interleave(V, dim=0)
        self.classes = None if batch.target_classes is None else batch.target_classes.repeat_interleave(V, dim=0)
        self.inputs = {k: v.repeat_interleave(V, dim=0) for k, v in batch.inputs.items()}
        self.selection = None if batch.selection is None else tuple(
            None if v is None else v.repeat_interleave(V, dim=0) for v in batch.selection)

    def parameters(self):
        return [self.param]

    @property
    def mask(self):
        return self.batch.expand(self.param)

    def _perturb(self, keep):
        """Π(x, keep) for every area: keep (B, V, C, T) -> (B, V, C, T)."""
        x = self.batch.x.unsqueeze(1)
        if self.est.perturbation == "gaussian_blur":
            return gaussian_blur(x, keep, sigma_max=float(self.est.sigma_max), window=self.est.window)
        return fade(x, keep, self.reference.unsqueeze(1))

    def errors(self, mask):
        """Error L_e of every (series, area) mask, shape (B, V)."""
        keep = mask if self.est.mode == "preservation" else 1.0 - mask
        B, V = mask.shape[:2]
        x_tilde = self._perturb(keep).reshape(B * V, *mask.shape[2:])
        return self.batch.error(x_tilde, target=self.target, target_classes=self.classes, inputs=self.inputs,
                                selection=self.selection).view(B, V)

    def loss(self, epoch):
        est, mask = self.est, self.mask
        error = self.errors(mask)
        if est.mode == "deletion":
            error = -error
        lambda_area = est.lambda_area * est.lambda_area_growth ** (epoch / est.max_iter)
        loss = error + lambda_area * self._area_penalty(mask)
        if est.lambda_time:
            C, T = mask.shape[-2:]
            loss = loss + est.lambda_time * (mask[..., 1:] - mask[..., :-1]).abs().sum((-2, -1)) / (C * T)
        return loss.sum(1)

    def _area_penalty(self, mask):
        """Distance of the sorted mask values to the target of each area, shape (B, V)."""
        segments = self.batch.segments
        if segments is None:
            sorted_mask = mask.flatten(2).sort(dim=-1, stable=True).values
            return (sorted_mask - self.area_target).pow(2).mean(-1)
        # one value per segment: the top segments hold the area's entries, each weighing its number of entries; a
        # segment is in the target when the middle of its entries is (areas between segment sizes round to the
        # nearest; with one entry per segment, this is the target above)
        n_entries = mask.shape[-2] * mask.shape[-1]
        values, order = self.param.sort(dim=-1, stable=True)
        sizes = segments.sizes.to(values.dtype)[order]
        above = sizes.flip(-1).cumsum(-1).flip(-1)  # entries of this segment and of those ranked above it
        target = (above - sizes / 2 < self.n_ones.to(values.dtype)[None, :, None]).to(values.dtype)
        return (sizes * (values - target).pow(2)).sum(-1) / n_entries

    def project(self):
        with torch.no_grad():
            self.param.clamp_(0.0, 1.0)

    def result(self):
        est = self.est
        mask = self.mask.detach()
        errors = self.errors(mask)  # (B, V)
        # (B,): the error of the series as they are, from f(x) computed once (0 for the squared error)
        unperturbed = self.batch.output_error(self.batch.target)
        best = errors.argmin(1) if est.mode == "preservation" else errors.argmax(1)
        if est.epsilon is not None:
            ok = errors < est.epsilon if est.mode == "preservation" else errors > est.epsilon
            first_ok = ok.to(torch.int8).argmax(1)  # first True, areas ascending
            best = torch.where(ok.any(1), first_ok, best)
        elif est.relative_epsilon is not None:
            best = within_share(errors, est.relative_epsilon, est.mode, unperturbed)
        rows = torch.arange(mask.shape[0], device=mask.device)
        return DynaMaskResult(
            masks=mask[rows, best], area=self.areas[best], error=errors[rows, best], error_by_area=errors,
            error_unperturbed=unperturbed,
        )
