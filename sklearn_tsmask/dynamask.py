"""DynaMask: dynamic perturbation masks (Crabbé & van der Schaar, ICML 2021)."""

import numbers

import numpy as np
import torch

from ._base import BaseMaskExplainer
from .perturbations import fade, gaussian_blur, moving_average, past_average

__all__ = ["DynaMask"]

_PERTURBATIONS = ("gaussian_blur", "fade_moving_average", "fade_past_average", "fade_reference")
_MODES = ("preservation", "deletion")
_OPTIMIZERS = ("sgd", "adam")


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
    ``lambda_area · lambda_area_growth`` over the epochs. All (series, area)
    masks are optimised jointly in one vectorised problem; one mask per series
    is then selected (lowest error, or the extremal mask with ``epsilon``).

    Parameters
    ----------
    area : float or sequence of float, default=0.1
        Fraction(s) of the mask in (0, 1) that may be on. Several areas are
        optimised jointly and one is chosen per series.
    perturbation : {"gaussian_blur", "fade_moving_average", "fade_past_average", \
"fade_reference"}, default="gaussian_blur"
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
        over the steps present.
    baseline : float or array-like, default=0.0
        Reference of ``fade_reference``: a scalar, one value per channel
        ``(C,)``, one reference series ``(C, T)``, or one per series
        ``(N, C, T)`` (then only for data of ``N`` series).
    mode : {"preservation", "deletion"}, default="preservation"
        Preservation keeps the salient entries (``Π(x, m)``); deletion
        removes them (``Π(x, 1 − m)``) and maximises the error. The returned
        mask is ``m`` in both modes (1 = salient).
    lambda_area : float, default=1.0
        Initial weight λ_0 of the area regulariser.
    lambda_area_growth : float, default=1000.0
        Dilation δ ≥ 1: λ_a reaches ``lambda_area · lambda_area_growth`` at the
        last epoch (× ``δ^(1/n_epochs)`` each epoch).
    lambda_time : float, default=0.0
        Weight λ_c of the time-variation regulariser (all ``T − 1`` pairs).
    epsilon : float or None, default=None
        Per-series selection among areas. ``None``: the area with the lowest
        error (deletion: the highest). A float: the extremal mask, the smallest
        area whose error is below ``epsilon`` (deletion: above), else the
        lowest-error (deletion: highest-error) one.
    optimizer : {"sgd", "adam"}, default="sgd"
        SGD with momentum as in the paper, or Adam. The mask is clamped to
        [0, 1] after each step and starts at 0.5.
    momentum : float, default=0.9
        Momentum of SGD.
    n_epochs : int, default=1000
        Optimisation steps per batch.
    learning_rate : float, default=1.0
        Step size.
    batch_size : "auto", int or None, default="auto"
        Series optimised together (each with all its areas); ``None`` = all
        at once. ``"auto"`` bounds a batch to about 2 million mask entries
        (series × areas × channels × time) on CPU, where cache-sized batches
        run several times faster, and 32 million on GPU. The masks do not
        depend on it.
    loss : {"mse", "cross_entropy"}, default="mse"
        The error L_e on the model's raw outputs, or the cross-entropy of the
        output rows against the unperturbed prediction's argmax.
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
        Show a progress bar over epochs and batches when positive.

    Attributes
    ----------
    masks_ : ndarray of shape (n_instances, n_channels, n_timepoints)
        Selected mask of each fitted series.
    area_ : ndarray of shape (n_instances,)
        Area of the selected mask of each fitted series.
    error_ : ndarray of shape (n_instances,)
        Error L_e of the selected mask.
    error_by_area_ : ndarray of shape (n_instances, n_areas)
        Error L_e of each series' mask for each area of ``areas_``.
    areas_ : ndarray of shape (n_areas,)
        The areas, sorted.
    loss_history_ : ndarray of shape (n_epochs,)
        Total loss per series at each epoch (summed over areas).
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

    Notes
    -----
    **Choosing the perturbation.** The blur removes what an entry adds to its
    neighbourhood; it suits signals whose information is local in time (the
    rare benchmarks: AUP 0.996 / AUR 0.745). When neighbouring steps carry
    the same information, as in series driven by a persistent hidden state,
    blurring one entry barely changes the model's output whether or not it is
    salient, and the masks are decided by the area term alone. Fading to an
    uninformative baseline (``perturbation="fade_reference"``, ``baseline=0``
    for standardised data) with ``loss="cross_entropy"`` then works far
    better: on the State benchmark AUP 0.36 → 0.90 and AUR 0.79 → 0.92
    (``benchmarks/RESULTS.md``).

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
    >>> masks = DynaMask(area=0.05, n_epochs=50, random_state=0).fit_transform(X, white_box)
    >>> masks.shape
    (4, 50, 50)
    """

    def __init__(
        self,
        area=0.1,
        *,
        perturbation="gaussian_blur",
        sigma_max=1.0,
        window=None,
        baseline=0.0,
        mode="preservation",
        lambda_area=1.0,
        lambda_area_growth=1000.0,
        lambda_time=0.0,
        epsilon=None,
        optimizer="sgd",
        momentum=0.9,
        n_epochs=1000,
        learning_rate=1.0,
        batch_size="auto",
        loss="mse",
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
        self.optimizer = optimizer
        self.momentum = momentum
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.loss = loss
        self.model = model
        self.model_layout = model_layout
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------ validation
    def _areas(self):
        areas = np.atleast_1d(np.asarray(self.area, dtype=float))
        if areas.ndim != 1 or areas.size == 0:
            raise ValueError(f"area must be a float or a non-empty sequence of floats, got {self.area!r}.")
        if not np.all((areas > 0) & (areas < 1)):
            raise ValueError(f"every area must be in (0, 1), got {self.area!r}.")
        if np.unique(areas).size != areas.size:
            raise ValueError(f"areas must be distinct, got {self.area!r}.")
        return np.sort(areas)

    def _validate_params(self):
        self._areas()
        if self.perturbation not in _PERTURBATIONS:
            raise ValueError(f"perturbation must be one of {_PERTURBATIONS}, got {self.perturbation!r}.")
        if self.mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {self.mode!r}.")
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}.")
        for name in ("sigma_max",):
            v = getattr(self, name)
            if not isinstance(v, numbers.Real) or not v > 0:
                raise ValueError(f"{name} must be a positive number, got {v!r}.")
        for name in ("lambda_area", "lambda_time", "momentum"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Real) or v < 0:
                raise ValueError(f"{name} must be a non-negative number, got {v!r}.")
        if not isinstance(self.lambda_area_growth, numbers.Real) or self.lambda_area_growth < 1:
            raise ValueError(f"lambda_area_growth must be a number >= 1, got {self.lambda_area_growth!r}.")
        if self.window is not None and (not isinstance(self.window, numbers.Integral) or self.window < 0):
            raise ValueError(f"window must be None or a non-negative integer, got {self.window!r}.")
        if self.epsilon is not None and not isinstance(self.epsilon, numbers.Real):
            raise ValueError(f"epsilon must be None or a number, got {self.epsilon!r}.")

    def _n_variants(self):
        return len(self._areas())

    # --------------------------------------------------------- perturbations
    def _baseline(self, batch, rows):
        base = torch.as_tensor(np.asarray(self.baseline, dtype=float), dtype=batch.x.dtype, device=batch.x.device)
        C, T = batch.x.shape[1:]
        if base.ndim == 0:
            return base
        if base.shape == (C,):
            return base[:, None]
        if base.shape == (C, T):
            return base
        if base.ndim == 3 and base.shape[1:] == (C, T):
            n = batch.state["n_total"]
            if base.shape[0] != n:
                raise ValueError(
                    f"baseline has one reference per series ({base.shape[0]}) but {n} series are explained."
                )
            return base[rows]
        raise ValueError(
            f"baseline must be a scalar or have shape (C,)=({C},), (C, T)=({C}, {T}) or (N, C, T); "
            f"got shape {tuple(base.shape)}."
        )

    def _reference(self, batch, rows):
        """The fade target μ of each series, computed once per batch."""
        x = batch.x
        if self.perturbation == "fade_moving_average":
            return moving_average(x, self.window)
        if self.perturbation == "fade_past_average":
            return past_average(x, self.window)
        if self.perturbation == "fade_reference":
            return self._baseline(batch, rows).expand_as(x)
        return None

    def _perturb(self, batch, keep):
        """Π(x, keep) for all variants: keep (B, V, C, T) -> (B, V, C, T)."""
        x = batch.x.unsqueeze(1)
        if self.perturbation == "gaussian_blur":
            return gaussian_blur(x, keep, sigma_max=float(self.sigma_max), window=self.window)
        return fade(x, keep, batch.state["reference"].unsqueeze(1))

    # ----------------------------------------------------------------- hooks
    def _init_batch(self, batch):
        B, C, T = batch.x.shape
        areas = self._areas()
        n_cells = C * T
        # The 1e-6 absorbs rounding: 5·(1 − 0.8) = 0.9999999999999998 must give 1 zero, not 0.
        n_zeros = np.floor(n_cells * (1.0 - areas) + 1e-6).astype(int)
        positions = torch.arange(n_cells, device=batch.x.device)
        target_sorted = (positions[None, :] >= torch.as_tensor(n_zeros, device=batch.x.device)[:, None])
        mask = torch.full((B, len(areas), C, T), 0.5, dtype=batch.x.dtype, device=batch.x.device)
        mask.requires_grad_(True)
        batch.state.update(
            mask=mask,
            areas=torch.as_tensor(areas, dtype=batch.x.dtype, device=batch.x.device),
            area_target=target_sorted.to(batch.x.dtype),
            reference=self._reference(batch, batch.rows),
        )
        return [mask]

    def _make_optimizer(self, params):
        if self.optimizer == "sgd":
            return torch.optim.SGD(params, lr=self.learning_rate, momentum=self.momentum)
        return torch.optim.Adam(params, lr=self.learning_rate)

    def _errors(self, batch, mask):
        keep = mask if self.mode == "preservation" else 1.0 - mask
        return self._model_error(batch, self._perturb(batch, keep))

    def _batch_loss(self, batch, epoch):
        mask = batch.state["mask"]
        error = self._errors(batch, mask)
        if self.mode == "deletion":
            error = -error
        lambda_area = self.lambda_area * self.lambda_area_growth ** (epoch / self.n_epochs)
        sorted_mask = mask.flatten(2).sort(dim=-1, stable=True).values
        area_reg = (sorted_mask - batch.state["area_target"]).pow(2).mean(-1)
        loss = error + lambda_area * area_reg
        if self.lambda_time:
            C, T = mask.shape[-2:]
            time_reg = (mask[..., 1:] - mask[..., :-1]).abs().sum((-2, -1)) / (C * T)
            loss = loss + self.lambda_time * time_reg
        return loss.sum()

    def _after_step(self, batch):
        with torch.no_grad():
            batch.state["mask"].clamp_(0.0, 1.0)

    def _finish_batch(self, batch):
        mask = batch.state["mask"].detach()
        errors = self._errors(batch, mask)  # (B, V)
        best = errors.argmin(1) if self.mode == "preservation" else errors.argmax(1)
        if self.epsilon is not None:
            ok = errors < self.epsilon if self.mode == "preservation" else errors > self.epsilon
            first_ok = ok.to(torch.int8).argmax(1)  # first True, areas ascending
            best = torch.where(ok.any(1), first_ok, best)
        rows = torch.arange(mask.shape[0], device=mask.device)
        return {
            "masks": mask[rows, best],
            "area": batch.state["areas"][best],
            "error": errors[rows, best],
            "error_by_area": errors,
        }

    def _set_fit_results(self, results):
        self.areas_ = self._areas()
        self.area_ = results["area"].astype(float)
        self.error_ = results["error"]
        self.error_by_area_ = results["error_by_area"]
