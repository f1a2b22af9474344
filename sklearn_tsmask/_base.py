"""The base class of every mask explainer: contract, validation and the loop.

An explainer subclass states only what is its own — how its masks (and any
perturbation network) are parametrised and what its loss is — through five
hooks, and :class:`BaseMaskExplainer` does the rest once: input validation,
the model adapter, device, seeding, the target ``f(x)`` computed once, batching,
the optimisation loop, progress reporting, and the conversion of masks back to
the user's container.

Hooks (see :class:`BaseMaskExplainer`): ``_validate_params``,
``_init_batch``, ``_batch_loss``, ``_after_step``, ``_finish_batch``; optionally
``_n_variants``, ``_begin_explain`` (state shared by all batches, such as a
perturbation network), ``_make_optimizer``, ``_early_stopping``,
``_set_fit_results``, ``_end_fit``.
"""

import numbers
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from ._models import check_model_kwargs, check_model_output, looks_like_model, wrap_model
from ._panel import from_tensor, to_tensor
from ._utils import check_scalar_in, fingerprint, fingerprint_text, make_generator, resolve_device

__all__ = ["BaseMaskExplainer", "Batch"]

_LOSSES = ("mse", "cross_entropy")
_PROBE_SIZE = 16
# Mask entries (series x variants x channels x time) per batch for batch_size="auto".
# On CPU the step time per entry is ~5x lower when a batch's tensors stay in cache
# (measured: 4 ms vs 20 ms per series-step for 50 areas of 50x50, 2 cores); on a GPU
# larger batches only help, within memory.
_AUTO_ENTRIES = {"cpu": 2**21, "cuda": 2**25}


def _param_digest(value):
    """A hyper-parameter's value as text for a cache key: arrays, tensors and modules by content
    (their repr abbreviates, so two different arrays could print alike)."""
    if isinstance(value, np.ndarray):
        return fingerprint(torch.from_numpy(np.ascontiguousarray(value)))
    if isinstance(value, torch.Tensor):
        return fingerprint(value)
    if isinstance(value, torch.nn.Module):
        return type(value).__name__ + fingerprint(*value.state_dict().values())
    return repr(value)


@dataclass
class Batch:
    """The slice of the data a subclass optimises masks for.

    Attributes
    ----------
    x : torch.Tensor of shape (B, C, T)
        The series of the batch, on the explainer's device.
    target : torch.Tensor of shape (B, ...)
        The model's output on ``x``, computed once, without gradient.
    target_classes : torch.Tensor or None
        Argmax of ``target`` over its last axis (cross-entropy only).
    model_kwargs : dict
        Per-sample keyword tensors for the model, sliced to the batch.
    generator : torch.Generator
        Seeded generator for any random draw.
    fitting : bool
        True in ``fit`` (shared parts are trained), False in ``transform``.
    rows : slice
        Position of the batch in the data being explained.
    state : dict
        Whatever the subclass needs (mask parameters, regulariser constants).
    shared : dict
        State shared by all batches of one ``fit`` or ``transform`` call, as
        returned by ``_begin_explain`` (e.g. a perturbation network trained
        across batches).
    """

    x: torch.Tensor
    target: torch.Tensor
    target_classes: object
    model_kwargs: dict
    generator: torch.Generator
    fitting: bool
    rows: slice
    state: dict = field(default_factory=dict)
    shared: dict = field(default_factory=dict)

    @property
    def size(self):
        return self.x.shape[0]


class BaseMaskExplainer(TransformerMixin, BaseEstimator):
    """Base class for perturbation-mask explainers of time-series models.

    Not to be used directly. ``fit(X, model)`` optimises the masks of ``X``
    (and trains what a method shares across series); ``transform(X)`` returns
    masks in [0, 1] shaped like ``X``, reusing the fitted masks when ``X`` is
    the fitted data.

    Common hyper-parameters of subclasses: ``n_epochs``, ``learning_rate``,
    ``batch_size``, ``loss``, ``model_layout``, ``device``, ``random_state``,
    ``verbose`` (see the subclasses' docstrings).
    """

    # ``model`` is routed to ``fit`` whether metadata routing is on or off.
    __metadata_request__fit = {"model": True, "model_kwargs": True}
    __metadata_request__transform = {"model_kwargs": True}

    #: Whether masks can only be computed for series of the fitted length.
    _requires_fixed_length = False

    # ------------------------------------------------------------------ hooks
    def _validate_params(self):
        """Check the subclass's own hyper-parameters (raise ValueError)."""

    def _n_variants(self):
        """Number of masks optimised per series (hyper-parameter variants)."""
        return 1

    def _begin_explain(self, x, *, fitting):
        """State shared by every batch of this ``fit``/``transform`` call (a dict).

        Called once before the first batch, with all the series to explain.
        """
        return {}

    def _early_stopping(self):
        """``(tol, n_iter_no_change)`` to stop a batch at convergence, or None (run all epochs).

        Explainers with ``tol`` and ``n_iter_no_change`` hyper-parameters get
        scikit-learn's stopping rule; the others run all epochs.
        """
        tol = getattr(self, "tol", None)
        return None if tol is None else (float(tol), int(self.n_iter_no_change))

    def _init_batch(self, batch):
        """Create the batch's parameters in ``batch.state``; return what to optimise.

        Returns
        -------
        list of torch.Tensor or list of dict
            Parameters or parameter groups for the optimiser.
        """
        raise NotImplementedError

    def _make_optimizer(self, params):
        """The optimiser for the batch (Adam by default)."""
        return torch.optim.Adam(params, lr=self.learning_rate)

    def _batch_loss(self, batch, epoch):
        """Scalar loss of the batch at ``epoch``: the sum of per-series losses."""
        raise NotImplementedError

    def _after_step(self, batch):
        """Called after each optimiser step (projections, clamps)."""

    def _finish_batch(self, batch):
        """Per-series results of the batch: a dict with at least ``"masks"`` (B, C, T)."""
        raise NotImplementedError

    def _set_fit_results(self, results):
        """Store method-specific fitted attributes from the fit's results."""

    def _end_fit(self, shared):
        """Store what ``fit`` trained and shared across batches (see ``_begin_explain``)."""

    # ------------------------------------------------------------ public API
    def fit(self, X, y=None, *, model=None, model_kwargs=None):
        """Optimise the masks of ``X`` for the black box ``model``.

        Parameters
        ----------
        X : array-like, torch.Tensor or sktime panel of shape (n_instances, n_channels, n_timepoints)
            The series to explain (sktime's numpy3D layout); a 2D array
            ``(n_instances, n_timepoints)`` is a panel of univariate series.
            sktime's ``pd-multiindex``, ``nested_univ`` and ``df-list``
            panels are accepted too (equal-length series).
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
        model_kwargs : dict of str to array-like, default=None
            Per-sample inputs the model needs besides the series (first axis
            ``n_instances``), such as static covariates or group ids; passed
            to the model as keyword arguments, never masked.

        Returns
        -------
        self : object
            The fitted explainer.

        Examples
        --------
        >>> from sklearn_tsmask import DynaMask
        >>> from sklearn_tsmask.datasets import make_rare_time
        >>> X, truth, white_box = make_rare_time(n_samples=4, random_state=0)
        >>> explainer = DynaMask(area=0.05, n_epochs=50, random_state=0).fit(X, model=white_box)
        >>> explainer.masks_.shape
        (4, 50, 50)
        """
        self._fit(X, y, model, model_kwargs)
        return self

    def fit_transform(self, X, y=None, *, model=None, model_kwargs=None):
        """Fit to ``X`` and return its masks, optimising once.

        Parameters
        ----------
        X : array-like, torch.Tensor or sktime panel of shape (n_instances, n_channels, n_timepoints)
            The series to explain (see :meth:`fit`).
        y : array-like, default=None
            Ignored (or the model, as in ``fit_transform(X, model)``).
        model : object, default=None
            The black box (see :meth:`fit`); else the ``model`` parameter.
        model_kwargs : dict of str to array-like, default=None
            Per-sample model inputs (see :meth:`fit`).

        Returns
        -------
        masks : ndarray, torch.Tensor or sktime panel shaped like X
            Saliency masks in [0, 1] (1 = salient), in the container of X.

        Examples
        --------
        >>> from sklearn_tsmask import DynaMask
        >>> from sklearn_tsmask.datasets import make_rare_time
        >>> X, truth, white_box = make_rare_time(n_samples=4, random_state=0)
        >>> masks = DynaMask(area=0.05, n_epochs=50, random_state=0).fit_transform(X, model=white_box)
        >>> float(masks.min()) >= 0.0 and float(masks.max()) <= 1.0
        True
        """
        _, fmt = self._fit(X, y, model, model_kwargs)
        return from_tensor(torch.from_numpy(self.masks_), fmt)

    def transform(self, X, *, model_kwargs=None):
        """Return saliency masks for ``X``.

        Masks of the fitted data are returned without optimising again; so is
        the result of the previous call on the same data (several scorers of
        one ``GridSearchCV`` evaluation optimise once).

        Parameters
        ----------
        X : array-like, torch.Tensor or sktime panel of shape (n_instances, n_channels, n_timepoints)
            Series to explain, with the fitted number of channels.
        model_kwargs : dict of str to array-like, default=None
            Per-sample model inputs for ``X`` (see :meth:`fit`).

        Returns
        -------
        masks : ndarray, torch.Tensor or sktime panel shaped like X
            Saliency masks in [0, 1] (1 = salient), in the container of X.

        Examples
        --------
        >>> from sklearn_tsmask import DynaMask
        >>> from sklearn_tsmask.datasets import make_rare_time
        >>> X, truth, white_box = make_rare_time(n_samples=6, random_state=0)
        >>> explainer = DynaMask(area=0.05, n_epochs=50, random_state=0).fit(X[:4], model=white_box)
        >>> explainer.transform(X[4:]).shape  # new series: their masks are optimised now
        (2, 50, 50)
        """
        check_is_fitted(self, "model_")
        x, fmt = to_tensor(X, dtype=self.model_.dtype, device=self.device_)
        self._check_transform_shape(x)
        kwargs = check_model_kwargs(model_kwargs, x.shape[0], self.device_)
        key = self._memo_key(x, kwargs)
        masks = self._memo.get(key)
        if masks is None:
            results = self._explain(x, kwargs, fitting=False)
            masks = results["masks"].cpu()
            fit_key = self._memo.get("fit_key")
            kept = {k: v for k, v in self._memo.items() if k in ("fit_key", fit_key)}
            self._memo.clear()
            self._memo.update(kept)
            self._memo[key] = masks
        return from_tensor(masks, fmt)

    # -------------------------------------------------------------- internals
    def _fit(self, X, y, model, model_kwargs):
        if model is None and looks_like_model(y):
            model, y = y, None
        elif model is not None and looks_like_model(y):
            raise ValueError("A model was given both as y and as model=; pass it once.")
        if model is None:
            model = self.model
        self._validate_common_params()
        self._validate_params()
        data_device = X.device if isinstance(X, torch.Tensor) else None
        device = resolve_device(self.device, data_device)
        frozen = wrap_model(model, layout=self.model_layout, device=device, random_state=self.random_state)
        x, fmt = to_tensor(X, dtype=frozen.dtype, device=device)
        kwargs = check_model_kwargs(model_kwargs, x.shape[0], device)
        probe = {k: v[:_PROBE_SIZE] for k, v in kwargs.items()}
        self.output_shape_ = check_model_output(
            frozen, x[:_PROBE_SIZE], probe, needs_classes=self.loss == "cross_entropy"
        )
        self.model_ = frozen
        self.device_ = device
        self.n_features_in_ = int(x.shape[1])
        self.n_timepoints_ = int(x.shape[2])

        results = self._explain(x, kwargs, fitting=True)
        masks = results.pop("masks").cpu()
        self.masks_ = masks.numpy().copy()  # the cache keeps its own copy
        self.loss_history_ = results.pop("loss_history").cpu().numpy()
        self.n_iter_ = int(results.pop("n_iter"))
        self._end_fit(results.pop("shared"))
        self._set_fit_results({k: v.cpu().numpy() for k, v in results.items()})
        key = self._memo_key(x, kwargs)
        self._memo = {"fit_key": key, key: masks}
        return x, fmt

    def _memo_key(self, x, kwargs):
        """Key of the masks of ``x``: its contents, the model inputs and the hyper-parameters
        (masks computed before a ``set_params`` are not returned after it)."""
        # ``model`` is left out: transform always uses the fitted ``model_`` (a new model takes a new fit,
        # which resets the cache)
        params = repr(sorted((k, _param_digest(v)) for k, v in self.get_params(deep=False).items() if k != "model"))
        return fingerprint(x, *[kwargs[k] for k in sorted(kwargs)]) + fingerprint_text(params)

    def _validate_common_params(self):
        if not isinstance(self.n_epochs, numbers.Integral) or self.n_epochs < 1:
            raise ValueError(f"n_epochs must be a positive integer, got {self.n_epochs!r}.")
        if not isinstance(self.learning_rate, numbers.Real) or not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}.")
        if not (self.batch_size is None or (isinstance(self.batch_size, str) and self.batch_size == "auto")) and (
            not isinstance(self.batch_size, numbers.Integral) or self.batch_size < 1
        ):
            raise ValueError(f"batch_size must be 'auto', None or a positive integer, got {self.batch_size!r}.")
        if self.loss not in _LOSSES:
            raise ValueError(f"loss must be one of {_LOSSES}, got {self.loss!r}.")
        # the stopping rule, for explainers that have one
        if getattr(self, "tol", None) is not None:
            check_scalar_in(self.tol, "tol", 0.0, float("inf"), closed="left")
        if hasattr(self, "n_iter_no_change") and (
            not isinstance(self.n_iter_no_change, numbers.Integral) or self.n_iter_no_change < 1
        ):
            raise ValueError(f"n_iter_no_change must be a positive integer, got {self.n_iter_no_change!r}.")

    def _check_transform_shape(self, x):
        if x.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {x.shape[1]} channels, but {type(self).__name__} was fitted with "
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
            return int(max(1, min(n, budget // (self._n_variants() * x.shape[1] * x.shape[2]))))
        return int(min(n, self.batch_size))

    def _predict(self, x, kwargs):
        """The model's output on ``x`` in chunks, without gradient."""
        step = self._batch_rows(x) * self._n_variants()
        outs = []
        with torch.no_grad(), self.model_.context():
            for i in range(0, x.shape[0], step):
                outs.append(self.model_(x[i : i + step], **{k: v[i : i + step] for k, v in kwargs.items()}))
        return torch.cat(outs)

    def _model_error(self, batch, x_perturbed, target=None, target_classes=None):
        """Per-(series, variant) error between f(x̃) and the target.

        Parameters
        ----------
        batch : Batch
        x_perturbed : torch.Tensor of shape (B, V, C, T)
        target, target_classes : torch.Tensor or None
            Another target than ``f(x)`` (e.g. ``f(baseline)`` in a deletion
            game), with its classes for cross-entropy; default: the batch's.

        Returns
        -------
        torch.Tensor of shape (B, V)
        """
        if target is None:
            target, target_classes = batch.target, batch.target_classes
        B, V = x_perturbed.shape[:2]
        kwargs = batch.state.get("model_kwargs_rows")
        if kwargs is None:
            kwargs = {k: v.repeat_interleave(V, dim=0) for k, v in batch.model_kwargs.items()}
            batch.state["model_kwargs_rows"] = kwargs
        out = self.model_(x_perturbed.reshape(B * V, *x_perturbed.shape[2:]), **kwargs)
        out = out.view(B, V, *out.shape[1:])
        if self.loss == "mse":
            # reshape, not flatten(2): regression outputs (N,) give (B, V) here
            return (out - target.unsqueeze(1)).pow(2).reshape(B, V, -1).mean(-1)
        K = out.shape[-1]
        classes = target_classes.unsqueeze(1).expand(out.shape[:-1])
        ce = F.cross_entropy(out.reshape(-1, K), classes.reshape(-1), reduction="none")
        return ce.view(B, V, -1).mean(-1)

    def _explain(self, x, kwargs, *, fitting):
        """Optimise masks for every series of ``x``; return per-series results."""
        n = x.shape[0]
        target = self._predict(x, kwargs)
        step = self._batch_rows(x)
        starts = range(0, n, step)
        generator = make_generator(self.random_state, x.device)
        shared = self._begin_explain(x, fitting=fitting)
        stopping = self._early_stopping()
        history = torch.zeros(self.n_epochs, device=x.device, dtype=torch.float64)
        n_iter = 0
        results = []
        bar = tqdm(
            total=len(starts) * self.n_epochs,
            disable=not self.verbose,
            desc=f"{type(self).__name__}.{'fit' if fitting else 'transform'}",
            unit="epoch",
        )
        refresh = max(1, self.n_epochs // 20)
        with bar, self.model_.context(), torch.enable_grad():
            for start in starts:
                rows = slice(start, start + step)
                tb = target[rows]
                batch = Batch(
                    x=x[rows],
                    target=tb,
                    target_classes=tb.argmax(-1) if self.loss == "cross_entropy" else None,
                    model_kwargs={k: v[rows] for k, v in kwargs.items()},
                    generator=generator,
                    fitting=fitting,
                    rows=rows,
                    state={"n_total": n},
                    shared=shared,
                )
                optimizer = self._make_optimizer(self._init_batch(batch))
                best, stale = float("inf"), 0
                for epoch in range(self.n_epochs):
                    optimizer.zero_grad(set_to_none=True)
                    loss = self._batch_loss(batch, epoch)
                    loss.backward()
                    optimizer.step()
                    self._after_step(batch)
                    history[epoch] += loss.detach()
                    bar.update()
                    if self.verbose and (epoch + 1) % refresh == 0:
                        bar.set_postfix(loss=f"{loss.item() / batch.size:.4g}", refresh=False)
                    if stopping is not None:
                        # scikit-learn's rule (MLP, SGD): stop after n_iter_no_change epochs
                        # without the per-series loss improving on the best by more than tol.
                        tol, patience = stopping
                        value = loss.item() / batch.size
                        stale = stale + 1 if value > best - tol else 0
                        best = min(best, value)
                        if stale >= patience:
                            history[epoch + 1:] += loss.detach()  # a stopped batch keeps its last loss
                            bar.update(self.n_epochs - epoch - 1)
                            break
                n_iter = max(n_iter, epoch + 1)
                with torch.no_grad():
                    results.append(self._finish_batch(batch))
        merged = {k: torch.cat([r[k] for r in results]) for k in results[0]}
        merged["masks"] = merged["masks"].clamp(0.0, 1.0)
        merged["loss_history"] = history[:n_iter] / n
        merged["n_iter"] = n_iter
        merged["shared"] = shared
        return merged
