"""The base class of every mask explainer: contract, parameters and the loop.

A method states only what is its own, as declarations and one typed object:

* ``_parameter_constraints``: its hyper-parameters (scikit-learn's machinery),
  extending :attr:`BaseMaskExplainer._parameter_constraints`;
* ``_make_objective(batch, networks)``: an :class:`Objective` for one batch of
  series (its parameters, the loss of a step, the projection after a step,
  the per-series results);
* ``_fitted_networks`` and ``_build_networks``: the networks ``fit`` trains
  and ``transform`` reuses (none for a method without learned parts);
* ``_masks_per_series()``: how many masks a series gets (hyper-parameter
  variants), for memory-bounded batches;
* ``_requires_fixed_length``, ``_estimator_check_failures``.

:class:`BaseMaskExplainer` does the rest once: validation of the data and
the model, the device, seeds, the target ``f(x)`` computed once, batching,
the optimisation loop with its callbacks (progress bar, early stopping,
non-finite guard), and the masks back in the user's container.
"""

import dataclasses
import numbers
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._inputs import split_inputs
from ._models import check_class_scores, check_model_inputs, check_model_output, looks_like_model, refuse_inference_mode, wrap_model
from ._panel import from_tensor, to_panel
from ._segments import Segments, check_segments
from ._target import resolve_loss, resolve_target, select
from ._utils import make_generator, resolve_device
from .callbacks import Callback, EarlyStopping, ProgressBar

__all__ = ["BaseMaskExplainer", "Batch", "Objective", "Interval"]

_PROBE_SIZE = 16
# Mask entries (series x variants x channels x time) per batch for batch_size="auto".
# On CPU the step time per entry is ~5x lower when a batch's tensors stay in cache
# (measured: 4 ms vs 20 ms per series-step for 50 areas of 50x50, 2 cores); on a GPU
# larger batches only help, within memory.
_AUTO_ENTRIES = {"cpu": 2**21, "cuda": 2**25}
_TWO_D_IS_UNIVARIATE = (
    "a 2D input is a panel of univariate series: its columns are time points, n_features_in_ counts "
    "channels (1), and series of another length are accepted (masks are per time point)"
)


class Interval(Interval):
    """scikit-learn's interval constraint, refusing booleans (``max_iter=True`` is a mistake, not 1)."""

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


@dataclass
class Batch:
    """The series a method optimises masks for in one run of the loop.

    Attributes
    ----------
    x : torch.Tensor of shape (B, C, T)
        The series of the batch, on the explainer's device.
    target : torch.Tensor of shape (B, ...)
        The model's output on ``x``, computed once, without gradient.
    target_classes : torch.Tensor or None
        Argmax of ``target`` over its last axis (``loss="log_loss"`` only).
    inputs : dict of str to torch.Tensor
        The model's per-series inputs, sliced to the batch.
    rows : slice or torch.Tensor
        Positions of the batch's series among the ``n_total`` series
        explained: a slice, or their indices when the series have unequal
        lengths (a batch holds series of one length).
    n_total : int
        Number of series of the call.
    generator : torch.Generator
        Seeded generator for every random draw of the call.
    training : bool
        True when ``fit`` trains the shared networks from scratch, False when
        ``transform`` starts from the fitted ones.
    model : FrozenModel
        The frozen black box.
    loss : {"squared_error", "log_loss"}
        The error between the model's outputs and the target.
    selection : tuple or None
        The explained output (the ``target`` parameter): per-series class
        indices (B,) and time-step indices (B,) or None; None for the whole
        output.
    segments : Segments or None
        The groups of entries sharing one mask value (the ``segments``
        parameter) for series of the batch's shape; None for one value per
        entry.
    mask_init : {"constant", "startgrad"}
        Where :meth:`mask_parameter` starts (the ``mask_init`` parameter).
    """

    x: torch.Tensor
    target: torch.Tensor
    target_classes: object
    inputs: dict
    rows: object
    n_total: int
    generator: torch.Generator
    training: bool
    model: object
    loss: str
    selection: object = None
    segments: object = None
    mask_init: str = "constant"

    @property
    def size(self):
        return self.x.shape[0]

    def mask_parameter(self, *leading, offset=0.0):
        """A trainable mask (or gate) parameter: ``(B, *leading, S)`` per segment, else ``(B, *leading, C, T)``.

        At 0.5 (``mask_init="constant"``) or at the StartGrad ranks (:meth:`startgrad`) plus ``offset``, the
        same for every ``leading`` index. :meth:`expand` turns it into values per entry.
        """
        B, C, T = self.x.shape
        shape = (B, *leading, self.segments.n_groups) if self.segments is not None else (B, *leading, C, T)
        if self.mask_init == "constant":
            return torch.full(shape, 0.5, dtype=self.x.dtype, device=self.x.device, requires_grad=True)
        start = self.startgrad()
        start = start.view(B, *([1] * len(leading)), *start.shape[1:]).expand(shape)
        return (start + offset).requires_grad_(True)

    def startgrad(self):
        """StartGrad's initial values ``(B, C, T)`` (``(B, S)`` per segment), in [0, 1].

        The per-series quantile transform of ``|x ⊙ ∇_x s(x)|``: ``s`` is the log-probability of the explained
        classes (``log_loss``) or half the squared norm of the explained outputs (``squared_error``), both
        restricted to the ``target`` selection, summed over time steps. Entries with equal scores share their
        mean rank, so an all-zero gradient starts every entry at 0.5, as the constant start.
        """
        x = self.x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            if self.loss == "log_loss":  # the error is the cross-entropy: minus the log-probability
                s = -self.error(x).sum()
            else:  # the error to a zero target is the mean square of the explained outputs
                s = 0.5 * self.error(x, target=torch.zeros_like(self.target)).sum()
            (grad,) = torch.autograd.grad(s, x)
        score = (grad * x).abs().detach()
        if self.segments is not None:
            score = self.segments.mean(score)
        return _mean_ranks(score.reshape(score.shape[0], -1)).reshape(score.shape).to(self.x.dtype)

    def expand(self, values):
        """Values of :meth:`mask_parameter`'s shape as values per entry ``(..., C, T)``."""
        return values if self.segments is None else self.segments.expand(values)

    def error(self, x_tilde, *, target=None, target_classes=None, inputs=None, selection=None):
        """Error of the model's output on perturbed series against a target, per series.

        Parameters
        ----------
        x_tilde : torch.Tensor of shape (M, C, T)
            Perturbed series (``M = B`` by default; a method with several
            masks per series passes its own target, inputs and selection,
            repeated).
        target, target_classes : torch.Tensor, optional
            Another target than ``f(x)`` and its classes (``log_loss``).
        inputs : dict of str to torch.Tensor, optional
            The model inputs of the ``M`` rows (default: the batch's).
        selection : tuple, optional
            The explained output of the ``M`` rows (default: the batch's).

        Returns
        -------
        torch.Tensor of shape (M,)
        """
        out = self.model(x_tilde, **(self.inputs if inputs is None else inputs))
        return self.output_error(out, target=target, target_classes=target_classes, selection=selection)

    def output_error(self, out, *, target=None, target_classes=None, selection=None):
        """:meth:`error` of model outputs ``out`` already computed, per series: ``output_error(self.target)`` is
        the error of the series as they are (0 for the squared error), without calling the model again."""
        if target is None:
            target, target_classes = self.target, self.target_classes
        if selection is None:
            selection = self.selection
        M = out.shape[0]
        if selection is not None:
            classes, steps = selection
            if steps is not None:  # one time step of a per-step output
                rows = torch.arange(M, device=out.device)
                out, target = out[rows, steps], target[rows, steps]
                if target_classes is not None and target_classes.ndim == 2:
                    target_classes = target_classes[rows, steps]
            if self.loss == "squared_error":  # the selected class's score only
                out, target = select(out, classes, None), select(target, classes, None)
        if self.loss == "squared_error":
            # reshape, not flatten(1): regression outputs (N,) have no second axis
            return (out - target).pow(2).reshape(M, -1).mean(-1)
        K = out.shape[-1]
        ce = F.cross_entropy(out.reshape(-1, K), target_classes.reshape(-1), reduction="none")
        return ce.view(M, -1).mean(-1)


def _mean_ranks(values):
    """Ranks of each row's values mapped to [0, 1] (ties share their mean rank; a row of one value: 0.5)."""
    n = values.shape[-1]
    if n == 1:
        return torch.full_like(values, 0.5, dtype=torch.float64)
    order = values.argsort(dim=-1, stable=True)
    sorted_values = values.gather(-1, order)
    position = torch.arange(n, device=values.device, dtype=torch.float64).expand(values.shape).contiguous()
    new_run = torch.ones_like(sorted_values, dtype=torch.bool)
    new_run[..., 1:] = sorted_values[..., 1:] != sorted_values[..., :-1]
    run_id = new_run.cumsum(-1) - 1  # run of equal values each sorted position belongs to
    total = torch.zeros_like(position).scatter_add_(-1, run_id, position)
    count = torch.zeros_like(position).scatter_add_(-1, run_id, torch.ones_like(position))
    mean_position = (total / count.clamp_min(1)).gather(-1, run_id)
    ranks = torch.empty_like(mean_position).scatter_(-1, order, mean_position)
    return ranks / (n - 1)


def _target_classes(target, selection):
    """The classes a cross-entropy compares with: the chosen ones, else the argmax of the model's output."""
    if selection is None:
        return target.argmax(-1)
    classes, steps = selection
    if steps is None and target.ndim == 3:  # a class at every step
        return classes[:, None].expand(target.shape[0], target.shape[1])
    return classes


class Objective:
    """A method's optimisation problem on one :class:`Batch` (subclass it).

    The loop calls :meth:`parameters` once, then at each step :meth:`loss`
    (backward and optimiser step) and :meth:`project`, and finally
    :meth:`result`.
    """

    def parameters(self):
        """Tensors (or optimiser parameter groups) to optimise."""
        raise NotImplementedError

    def loss(self, epoch):
        """Loss of each series at step ``epoch``: a tensor of shape (B,)."""
        raise NotImplementedError

    def project(self):
        """Bring the parameters back to their domain after a step (e.g. clamp masks to [0, 1])."""

    def result(self):
        """Per-series results: a dataclass whose fields are tensors with first axis B, one named ``masks``."""
        raise NotImplementedError


#: Parameters every explainer documents the same way: ``{shared_parameters}`` in a class docstring.
_SHARED_PARAMETERS = """    target : int, label, tuple, array-like or None, default=None
        Which output is explained, as captum's ``target``: ``None`` the
        whole output; an int, the index on the output's last axis (a class);
        another value, a class label resolved through the black box's
        ``classes_`` (integer labels are given by their index); a tuple
        ``(time step, class)`` for a model with an output per time step; or
        one of these per series (a list or array of ``n_instances`` entries,
        or ``(n_instances, 2)`` pairs). The squared error then compares the
        selected scores only; the cross-entropy takes the chosen class as
        its label (in ExtremalMask's deletion mode, the class of ``f(0)`` at
        the chosen step).
    segments : int, array-like or None, default=None
        One mask value per group of entries instead of one per entry:
        ``None`` per entry; an int ``S``, ``S`` equal time segments of every
        channel (tsCaptum's ``n_segments``); increasing integer time
        boundaries, the start of every segment but the first; or integer
        group ids of shape ``(n_channels, n_timepoints)`` (captum's
        ``feature_mask``; a group may span channels). The masks are returned
        per entry, constant on each group. Fewer values to learn: smoother
        masks, and a gradient-free black box's noisy gradient estimate is
        averaged over each group.
    mask_init : {"constant", "startgrad"}, default="constant"
        Where the masks start. ``"constant"``: every mask value at 0.5
        (ContraLSP: every gate open). ``"startgrad"``: StartGrad (Ündes et
        al., ICLR 2025), the ranks of ``|x ⊙ ∇_x s(x)|`` within each series
        mapped to [0, 1] (a quantile transform; tied entries share their
        mean rank; per segment with ``segments``), where ``s`` is the
        log-probability of the explained class (``loss="log_loss"``) or half
        the squared norm of the explained output (``"squared_error"``),
        restricted to ``target``; ContraLSP's gates start at these values.
        One extra forward and backward pass of the black box per batch (an
        estimate for a gradient-free black box).
"""


def shared_parameter_docs(cls):
    """Class decorator: put the shared parameters' documentation in place of ``{shared_parameters}``."""
    if cls.__doc__ is not None:  # python -OO
        cls.__doc__ = cls.__doc__.replace("    {shared_parameters}\n", _SHARED_PARAMETERS)
    return cls


def _is_auto(value):
    return isinstance(value, str) and value == "auto"


def _rows_param(value):
    return value is None or _is_auto(value)


class BaseMaskExplainer(TransformerMixin, BaseEstimator):
    """Base class for perturbation-mask explainers of time-series models.

    Not to be used directly. ``fit(X, model)`` validates the data and the
    black box and trains what a method reuses on new series (its networks,
    if it has any); ``transform(X)`` optimises and returns masks in [0, 1]
    shaped like ``X``; ``fit_transform`` optimises once; ``explain`` returns
    the masks with per-series diagnostics.

    Common hyper-parameters of subclasses: ``max_iter``, ``learning_rate``,
    ``tol``, ``n_iter_no_change``, ``batch_size``, ``loss``, ``callbacks``,
    ``model``, ``model_layout``, ``device``, ``random_state``, ``verbose``
    (see the subclasses' docstrings).
    """

    # ``model`` is routed to ``fit`` whether metadata routing is on or off.
    __metadata_request__fit = {"model": True}

    _parameter_constraints = {
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "tol": [Interval(numbers.Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left"), None],
        "loss": [StrOptions({"auto", "squared_error", "log_loss"})],
        "callbacks": [list, None],
        "model": "no_validation",
        "target": "no_validation",  # checked against the model's output when it is known (_target.py)
        "segments": "no_validation",  # checked by check_segments, and against the series' shape (_segments.py)
        "mask_init": [StrOptions({"constant", "startgrad"})],
        "model_layout": [StrOptions({"NCT", "NTC"})],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    #: Whether masks can only be computed for series of the fitted length.
    _requires_fixed_length = False
    #: Fitted attributes holding the networks ``fit`` trains and ``transform`` reuses.
    _fitted_networks = ()
    #: scikit-learn estimator checks this explainer fails by design: {check name: reason}.
    _estimator_check_failures = {
        "check_n_features_in_after_fitting": _TWO_D_IS_UNIVARIATE,
        "check_n_features_in": _TWO_D_IS_UNIVARIATE,
        "check_transformer_general": _TWO_D_IS_UNIVARIATE,
    }

    # ------------------------------------------------------- what methods state
    def _expected_check_failures(self):
        """The scikit-learn estimator checks this instance fails by design (its hyper-parameters may matter)."""
        return self._estimator_check_failures

    def _check_params(self):
        """Checks that span several parameters or a parameter's elements (raise InvalidParameterError).

        Subclasses extend it and call ``super()._check_params()``.
        """
        check_callbacks(self.callbacks)
        check_segments(self.segments)

    def _masks_per_series(self):
        """Masks optimised per series (hyper-parameter variants), for memory-bounded batches."""
        return 1

    def _build_networks(self, x):
        """The untrained networks of ``fit``, by fitted attribute name (see ``_fitted_networks``).

        ``fit`` trains them with the masks of ``X``; a method whose networks are all None
        (none declared, or ExtremalMask's ``"zeros"``) optimises nothing in ``fit``.
        """
        return {}

    def _make_objective(self, batch, networks, hyper):
        """The :class:`Objective` of ``batch``; ``networks`` maps ``_fitted_networks`` to modules.

        ``hyper`` reads the hyper-parameters with their ``"auto"`` values resolved (see :meth:`_auto_values`):
        objectives read it, not the estimator.
        """
        raise NotImplementedError

    def _make_optimizer(self, params, hyper):
        """The optimiser of the torch ``params`` of a batch (Adam by default); ``hyper`` as in :meth:`_make_objective`."""
        return _adam(params, hyper.learning_rate)

    #: Hyper-parameters whose default, ``"auto"``, depends on the kind of model explained (:meth:`_auto_values`).
    _auto_params = ()

    def _auto_values(self, kind):
        """The values of ``_auto_params`` for a model of ``kind`` ("classifier", "regressor" or None)."""
        return {}

    def _resolve_auto(self, kind):
        """The hyper-parameters of ``_auto_params`` as used for a model of ``kind``: "auto" resolved."""
        auto = self._auto_values(kind)
        return {name: auto[name] if _is_auto(getattr(self, name)) else getattr(self, name)
                for name in self._auto_params}

    # ------------------------------------------------------------ public API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, model=None):
        """Validate ``X`` and the black box, and train what ``transform`` reuses.

        Methods with learned parts (the perturbation networks of
        ExtremalMask and ContraLSP) train them here, with the masks of ``X``;
        DynaMask optimises nothing in ``fit``. A failed call leaves the
        explainer as it was.

        Parameters
        ----------
        X : array-like, torch.Tensor, sktime panel or WithInputs of shape (n_instances, n_channels, n_timepoints)
            The series (sktime's numpy3D layout); a 2D array
            ``(n_instances, n_timepoints)`` is a panel of univariate series.
            sktime's ``pd-multiindex``, ``nested_univ`` and ``df-list``
            panels are accepted too (equal-length series). Series whose model
            needs more inputs (group ids, covariates) come as
            :class:`~sklearn_tsmask.WithInputs`.
        y : array-like of shape like X, default=None
            Ignored by ``fit`` (true saliency, used by the scorers). The model
            may also be given here, as in ``fit(X, model)``.
        model : object, default=None
            The black box (else the ``model`` parameter): a torch module
            (copied, frozen, in eval mode; the user's object is never
            modified), a callable on torch tensors, a fitted skorch net, a
            fitted sktime torch classifier (its network), any fitted
            classifier with ``predict_proba`` (explained through zeroth-order
            gradient estimates, see :class:`~sklearn_tsmask.black_boxes.ZerothOrderModel`),
            or one of these in ``sklearn.frozen.FrozenEstimator``.

        Returns
        -------
        self : object
            The fitted explainer.

        Examples
        --------
        >>> from sklearn_tsmask import DynaMask
        >>> from sklearn_tsmask.datasets import make_rare_time
        >>> X, truth, white_box = make_rare_time(n_samples=4, random_state=0)
        >>> explainer = DynaMask(area=0.05, max_iter=50, random_state=0).fit(X, model=white_box)
        >>> explainer.n_features_in_, explainer.n_timepoints_
        (50, 50)
        """
        fitted, _ = self._fit(X, y, model, produce_masks=False)
        self._commit(fitted)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None, *, model=None):
        """Fit to ``X`` and return its masks, optimising once.

        Parameters
        ----------
        X : array-like, torch.Tensor, sktime panel or WithInputs of shape (n_instances, n_channels, n_timepoints)
            The series to explain (see :meth:`fit`).
        y : array-like, default=None
            Ignored (or the model, as in ``fit_transform(X, model)``).
        model : object, default=None
            The black box (see :meth:`fit`); else the ``model`` parameter.

        Returns
        -------
        masks : ndarray, torch.Tensor or sktime panel shaped like X
            Saliency masks in [0, 1] (1 = salient), in the container of X.

        Examples
        --------
        >>> from sklearn_tsmask import DynaMask
        >>> from sklearn_tsmask.datasets import make_rare_time
        >>> X, truth, white_box = make_rare_time(n_samples=4, random_state=0)
        >>> masks = DynaMask(area=0.05, max_iter=50, random_state=0).fit_transform(X, model=white_box)
        >>> float(masks.min()) >= 0.0 and float(masks.max()) <= 1.0
        True
        """
        fitted, (result, fmt) = self._fit(X, y, model, produce_masks=True)
        self._commit(fitted)
        return from_tensor(result.masks, fmt, owned=True)

    def transform(self, X):
        """Optimise and return the saliency masks of ``X``.

        The result depends only on the fitted explainer, its parameters and
        ``X``: nothing is cached between calls.

        Parameters
        ----------
        X : array-like, torch.Tensor, sktime panel or WithInputs of shape (n_instances, n_channels, n_timepoints)
            Series to explain, with the fitted number of channels (and the
            model inputs given to ``fit``, in a :class:`~sklearn_tsmask.WithInputs`).

        Returns
        -------
        masks : ndarray, torch.Tensor or sktime panel shaped like X
            Saliency masks in [0, 1] (1 = salient), in the container of X.

        Examples
        --------
        >>> from sklearn_tsmask import DynaMask
        >>> from sklearn_tsmask.datasets import make_rare_time
        >>> X, truth, white_box = make_rare_time(n_samples=6, random_state=0)
        >>> explainer = DynaMask(area=0.05, max_iter=50, random_state=0).fit(X[:4], model=white_box)
        >>> explainer.transform(X[4:]).shape
        (2, 50, 50)
        """
        result, fmt = self._transform(X)
        return from_tensor(result.masks, fmt, owned=True)

    def explain(self, X):
        """Optimise the masks of ``X`` and return them with per-series diagnostics.

        Same optimisation as :meth:`transform`.

        Parameters
        ----------
        X : array-like, torch.Tensor, sktime panel or WithInputs of shape (n_instances, n_channels, n_timepoints)
            Series to explain (see :meth:`transform`).

        Returns
        -------
        explanation : sklearn.utils.Bunch
            ``masks`` (shaped like X, in its container); ``error``, the
            model's error at each series' final mask, shape (n_instances,);
            method-specific per-series arrays (DynaMask: ``area``,
            ``error_by_area``, whose columns are ``areas``, and
            ``error_unperturbed``, the error of the series as they are);
            ``n_iter``, the most steps a batch ran;
            ``loss_curve``, the mean loss per series at each step.

        Examples
        --------
        >>> from sklearn_tsmask import DynaMask
        >>> from sklearn_tsmask.datasets import make_rare_time
        >>> X, truth, white_box = make_rare_time(n_samples=4, random_state=0)
        >>> explanation = DynaMask(area=[0.02, 0.05], max_iter=50).fit(X, white_box).explain(X)
        >>> explanation.masks.shape, explanation.area.shape, explanation.error_by_area.shape
        ((4, 50, 50), (4,), (4, 2))
        """
        result, fmt = self._transform(X)
        return self._explanation(result, fmt)

    # -------------------------------------------------------------- internals
    def _fit(self, X, y, model, *, produce_masks):
        """Everything ``fit`` learns, as a dict of fitted attributes, without touching ``self``."""
        if model is None and looks_like_model(y):
            model, y = y, None
        elif model is not None and looks_like_model(y):
            raise ValueError("A model was given both as y and as model=; pass it once.")
        if model is None:
            model = self.model
        self._check_params()
        series, inputs = split_inputs(X)
        data_device = series.device if isinstance(series, torch.Tensor) else None
        device = resolve_device(self.device, data_device)
        frozen = wrap_model(model, layout=self.model_layout, device=device, random_state=self.random_state)
        x, fmt = to_panel(series, dtype=frozen.dtype, device=device)
        self._check_lengths(x, "fit")
        kwargs = check_model_inputs(inputs, len(x), device)
        rows, first = _length_groups(x)[0]  # the series of the first length
        probe_rows = slice(0, _PROBE_SIZE) if rows is None else rows[:_PROBE_SIZE].to(device)
        probe = {k: v[probe_rows] for k, v in kwargs.items()}
        output_shape = check_model_output(frozen, first[:_PROBE_SIZE], probe, needs_classes=self.loss == "log_loss")
        loss = resolve_loss(self.loss, frozen.kind, output_shape)
        resolved = self._resolve_auto(frozen.kind)
        fitted = {
            "loss_": loss,
            **{f"{name}_": value for name, value in resolved.items()},
            "model_": frozen,
            "device_": device,
            "n_features_in_": int(first.shape[1]),
            "n_timepoints_": int(first.shape[2]) if isinstance(x, torch.Tensor) else None,
            "output_shape_": output_shape,
            "model_inputs_": tuple(sorted(kwargs)),
        }
        selection = resolve_target(self.target, len(x), output_shape, frozen.classes, device)
        result = None
        generator = make_generator(self.random_state, device)
        self._segmentation(first)  # segments that do not fit the series are refused now
        networks = self._build_networks(first)
        trains = any(net is not None for net in networks.values())
        # what transform reuses is learned with the masks of X (one optimisation trains both); with nothing
        # to learn, the masks of X are optimised only when asked for
        if trains or produce_masks:
            result = self._optimise(x, kwargs, frozen, networks, generator=generator, training=trains,
                                    selection=selection, loss=loss, resolved=resolved)
            fitted["n_iter_"] = result.n_iter
            fitted["loss_curve_"] = result.loss_curve.cpu().numpy()
        for net in networks.values():
            if net is not None:
                net.eval()
        fitted.update(networks)
        return fitted, (result, fmt)

    def _commit(self, fitted):
        """Replace the fitted state by ``fitted`` (only once everything succeeded)."""
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)
        for name, value in fitted.items():
            setattr(self, name, value)

    def _transform(self, X):
        check_is_fitted(self, "model_")
        refuse_inference_mode()
        self._validate_params()
        self._check_params()
        loss = self.loss_ if self.loss == "auto" else self.loss  # set_params may have changed it since fit
        if loss == "log_loss":
            check_class_scores(self.output_shape_)
        series, inputs = split_inputs(X)
        x, fmt = to_panel(series, dtype=self.model_.dtype, device=self.device_)
        self._check_transform_shape(x)
        if tuple(sorted(inputs)) != self.model_inputs_:
            raise ValueError(
                f"{type(self).__name__} was fitted with the model inputs {list(self.model_inputs_)} besides the "
                f"series, got {sorted(inputs)}: pass the series as WithInputs(X, name=values, ...) with the "
                "same inputs for the series to explain."
            )
        kwargs = check_model_inputs(inputs, len(x), self.device_)
        selection = resolve_target(self.target, len(x), self.output_shape_, self.model_.classes, self.device_)
        networks = {name: getattr(self, name) for name in self._fitted_networks}
        generator = make_generator(self.random_state, self.device_)
        # resolved again: set_params may have changed a hyper-parameter to or from "auto" since fit
        resolved = self._resolve_auto(self.model_.kind)
        return self._optimise(x, kwargs, self.model_, networks, generator=generator, training=False,
                              selection=selection, loss=loss, resolved=resolved), fmt

    def _explanation(self, result, fmt):
        fields = {f.name: getattr(result.per_series, f.name) for f in dataclasses.fields(result.per_series)}
        out = Bunch(masks=from_tensor(fields.pop("masks"), fmt, owned=True))
        for name, value in fields.items():
            out[name] = value.cpu().numpy()
        out.n_iter = result.n_iter
        out.loss_curve = result.loss_curve.cpu().numpy()
        return out

    def _segmentation(self, x):
        """The :class:`Segments` of series shaped like ``x`` (B, C, T), or None for masks per entry."""
        if self.segments is None:
            return None
        return Segments(self.segments, x.shape[1], x.shape[2], x.device)

    def _check_lengths(self, x, method):
        """Refuse series of unequal lengths for a method tied to one length."""
        if self._requires_fixed_length and not isinstance(x, torch.Tensor):
            lengths = sorted({t.shape[-1] for t in x})
            raise ValueError(
                f"X holds series of unequal lengths ({len(lengths)} lengths, from {lengths[0]} to {lengths[-1]} "
                f"time points), but {type(self).__name__} learns networks over a fixed number of time points and "
                f"cannot {method} them: pad or resample the series to one length first (e.g. sktime's "
                "PaddingTransformer or aeon's Padder), or use an explainer that takes any length "
                "(DynaMask, ExtremalMask)."
            )

    def _check_transform_shape(self, x):
        self._check_lengths(x, "explain")
        n_channels = x.shape[1] if isinstance(x, torch.Tensor) else x[0].shape[0]
        if n_channels != self.n_features_in_:
            raise ValueError(
                f"X has {n_channels} channels, but {type(self).__name__} was fitted with "
                f"{self.n_features_in_} channels."
            )
        if self._requires_fixed_length and x.shape[2] != self.n_timepoints_:
            raise ValueError(
                f"X has series of length {x.shape[2]}, but {type(self).__name__} was fitted on series of "
                f"length {self.n_timepoints_} and can only explain series of that length."
            )

    def _batch_rows(self, x):
        """Number of series optimised together."""
        n = x.shape[0]
        if self.batch_size is None:
            return n
        if isinstance(self.batch_size, str):  # "auto"
            budget = _AUTO_ENTRIES.get(x.device.type, _AUTO_ENTRIES["cpu"])
            return int(max(1, min(n, budget // (self._masks_per_series() * x.shape[1] * x.shape[2]))))
        return int(min(n, self.batch_size))

    def _predict(self, model, x, kwargs, step):
        """The model's output on ``x`` in chunks, without gradient."""
        outs = []
        with torch.no_grad(), model.context():
            for i in range(0, x.shape[0], step):
                # a copy: a model that writes into its input must not change the series being explained
                outs.append(model(x[i : i + step].clone(), **{k: v[i : i + step] for k, v in kwargs.items()}))
        return torch.cat(outs)

    def _loop_callbacks(self):
        callbacks = []
        if self.tol is not None:
            callbacks.append(EarlyStopping(float(self.tol), int(self.n_iter_no_change)))
        if self.verbose:
            callbacks.append(ProgressBar())
        return callbacks + list(self.callbacks or [])

    def _optimise(self, x, kwargs, model, networks, *, generator, training, loss, resolved, selection=None):
        """Optimise masks for every series of ``x``, batch after batch: the loop.

        ``x`` is a tensor ``(N, C, T)`` or, for series of unequal lengths, a list of ``(C, T_i)``
        tensors; then each batch holds series of one length and the masks come back as a list.
        ``selection`` is the resolved ``target`` of the ``N`` series (see :class:`Batch`); ``loss`` the
        resolved error, "squared_error" or "log_loss" (never "auto"); ``resolved`` the values of ``_auto_params``
        (:meth:`_resolve_auto`).
        """
        hyper = _Resolved(self, resolved)
        max_iter = hyper.max_iter
        n = len(x)
        groups = _length_groups(x)
        plan, targets, group_inputs = [], [], []
        for g, (index, gx) in enumerate(groups):
            inputs = kwargs if index is None else {k: v[index.to(v.device)] for k, v in kwargs.items()}
            step = self._batch_rows(gx)
            targets.append(self._predict(model, gx, inputs, step * self._masks_per_series()))
            group_inputs.append(inputs)
            plan += [(g, slice(start, start + step)) for start in range(0, gx.shape[0], step)]
        segmentation = [self._segmentation(gx) for _, gx in groups]
        callbacks = self._loop_callbacks()
        history = torch.zeros(max_iter, device=groups[0][1].device, dtype=torch.float64)
        n_iter = 0
        results = _Results(n, ragged=len(groups) > 1 or groups[0][0] is not None)
        for cb in callbacks:
            cb.on_explain_begin(self, n_batches=len(plan), max_iter=max_iter, training=training)
        try:
            with model.context(), torch.enable_grad():
                for index, (g, local) in enumerate(plan):
                    rows, gx = groups[g]
                    tb = targets[g][local]
                    batch_rows = local if rows is None else rows[local]
                    sel = None if selection is None else tuple(
                        None if v is None else v[batch_rows.to(v.device) if rows is not None else batch_rows]
                        for v in selection)
                    batch = Batch(
                        x=gx[local],
                        target=tb,
                        target_classes=_target_classes(tb, sel) if loss == "log_loss" else None,
                        inputs={k: v[local] for k, v in group_inputs[g].items()},
                        rows=batch_rows,
                        n_total=n,
                        generator=generator,
                        training=training,
                        model=model,
                        loss=loss,
                        selection=sel,
                        segments=segmentation[g],
                        mask_init=self.mask_init,
                    )
                    objective = self._make_objective(batch, networks, hyper)
                    optimizer = self._make_optimizer(objective.parameters(), hyper)
                    batch_history = torch.zeros(max_iter, device=history.device, dtype=torch.float64)
                    for cb in callbacks:
                        cb.on_batch_begin(index, batch.size)
                    for epoch in range(max_iter):
                        optimizer.zero_grad(set_to_none=True)
                        step_loss = objective.loss(epoch).sum()
                        step_loss.backward()
                        optimizer.step()
                        objective.project()
                        value = step_loss.detach()
                        batch_history[epoch] = value
                        stop = False
                        for cb in callbacks:
                            stop = bool(cb.on_epoch_end(epoch, value / batch.size)) or stop
                        if stop:
                            batch_history[epoch + 1 :] = value  # a stopped batch keeps its last loss
                            break
                    n_run = epoch + 1
                    for cb in callbacks:
                        cb.on_batch_end(n_run)
                    with torch.no_grad():
                        result = objective.result()
                    _check_finite(batch_history[:n_run], result.masks, index, type(self).__name__)
                    history += batch_history
                    n_iter = max(n_iter, n_run)
                    results.add(batch.rows, result)
        finally:
            for cb in callbacks:
                cb.on_explain_end()
        return _Run(results.merged(), history[:n_iter] / n, n_iter)


class _Resolved:
    """An estimator's hyper-parameters, with those of ``values`` (its "auto" ones, resolved) replaced."""

    __slots__ = ("_est", "_values")

    def __init__(self, est, values):
        self._est = est
        self._values = values

    def __getattr__(self, name):
        if name in self._values:
            return self._values[name]
        return getattr(self._est, name)


def _length_groups(x):
    """The series of ``x`` by length: ``[(None, x)]`` for a tensor, else ``[(indices, (n_g, C, T_g)), ...]``."""
    if isinstance(x, torch.Tensor):
        return [(None, x)]
    lengths = torch.tensor([t.shape[-1] for t in x])
    groups = []
    for length in torch.unique(lengths).tolist():  # shortest first
        index = (lengths == length).nonzero().flatten()
        groups.append((index, torch.stack([x[i] for i in index.tolist()])))
    return groups


def _adam(params, learning_rate):
    """Adam, fused where torch has the kernel (CPU, CUDA): one pass over all parameters instead of several per
    parameter (CPU: 2.4 -> 0.27 ms per step for 0.6 M parameters on 2 cores; CUDA: one launch, where the
    explainers' steps are small enough for the host's launches to set their pace)."""
    return _fused_where_possible(torch.optim.Adam, params, lr=learning_rate)


def _sgd(params, learning_rate, momentum):
    """SGD with momentum, fused where torch has the kernel (as :func:`_adam`)."""
    return _fused_where_possible(torch.optim.SGD, params, lr=learning_rate, momentum=momentum)


def _fused_where_possible(optimizer, params, **options):
    params = list(params)
    if params and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params):
        try:
            return optimizer(params, fused=True, **options)
        except RuntimeError:  # torch < 2.4 has no fused CPU kernel
            pass
    return optimizer(params, **options)


class _Results:
    """Per-series results of the batches, gathered in the order of the series (masks clamped to [0, 1]).

    Series of one length: each batch's fields are written into tensors for all ``n`` series as the batch
    ends, so the memory that grows with ``n`` is one copy of the results (no list of batches to concatenate
    at the end). Series of several lengths: the batches are kept and each series' mask comes back on its own.
    """

    def __init__(self, n, *, ragged):
        self.n = n
        self.ragged = ragged
        self.batches = []  # ragged: (rows, result) per batch
        self.values = None  # equal lengths: field -> tensor (n, ...)
        self.cls = None

    def add(self, rows, result):
        self.cls = type(result)
        if self.ragged:
            self.batches.append((rows, result))
            return
        fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
        if self.values is None:
            self.values = {name: v.new_empty((self.n, *v.shape[1:])) for name, v in fields.items()}
        for name, v in fields.items():
            self.values[name][rows] = v

    def merged(self):
        if not self.ragged:
            self.values["masks"].clamp_(0.0, 1.0)
            return self.cls(**self.values)
        n, batches = self.n, self.batches
        order = torch.cat([rows for rows, _ in batches])
        values = {}
        for name in [f.name for f in dataclasses.fields(self.cls)]:
            if name == "masks":
                masks = [None] * n
                for rows, r in batches:
                    for j, row in enumerate(rows.tolist()):
                        masks[row] = r.masks[j].clamp(0.0, 1.0)
                values[name] = masks
            else:
                stacked = torch.cat([getattr(r, name) for _, r in batches])
                out = torch.empty_like(stacked)
                out[order.to(stacked.device)] = stacked
                values[name] = out
        return self.cls(**values)


@dataclass
class _Run:
    """What one run of the loop produced."""

    per_series: object
    loss_curve: torch.Tensor
    n_iter: int

    @property
    def masks(self):
        return self.per_series.masks


def _check_finite(history, masks, index, name):
    """Refuse to return masks of a diverged optimisation (no silent NaN masks)."""
    bad_steps = (~torch.isfinite(history)).nonzero()
    if len(bad_steps) == 0 and bool(torch.isfinite(masks).all()):
        return
    first = int(bad_steps[0]) if len(bad_steps) else len(history) - 1
    raise FloatingPointError(
        f"{name}: the loss of batch {index} stopped being finite at step {first} (NaN or infinity in the "
        "model's output on the perturbed series or in the method's terms); no masks are returned. A smaller "
        "learning_rate keeps the steps stable when the model's output grows quickly with its input."
    )


def check_callbacks(callbacks):
    """Raise InvalidParameterError unless every element of ``callbacks`` is a Callback."""
    for cb in callbacks or []:
        if not isinstance(cb, Callback):
            raise InvalidParameterError(
                f"The 'callbacks' parameter must be a list of sklearn_tsmask.callbacks.Callback instances; "
                f"got an element of type {type(cb).__name__}."
            )
