"""Turn the user's black box into one frozen, differentiable torch callable.

The explainers only ever see :class:`FrozenModel`: a callable from a tensor of
shape ``(N, C, T)`` to the model's raw output tensor ``(N, ...)``. It owns the
layout change (``"NTC"`` for batch-first recurrent networks), the device, the
dtype, and the handling of cuDNN recurrent layers, whose backward pass refuses
to run in eval mode.

The user's object is never altered: a ``torch.nn.Module`` is deep-copied
before it is put in eval mode, frozen and moved.
"""

import contextlib
import copy

import numpy as np

import torch

from ._adapters import resolve_black_box
from ._target import model_classes, model_kind

__all__ = ["FrozenModel", "wrap_model", "looks_like_model", "check_model_inputs"]

_LAYOUTS = ("NCT", "NTC")


def looks_like_model(obj):
    """Whether ``obj`` is a black box rather than an array of true saliency."""
    if obj is None or isinstance(obj, torch.Tensor) or hasattr(obj, "__array__") or hasattr(obj, "shape"):
        return False
    # fitted estimators (classifiers, skorch nets, sktime classifiers, FrozenEstimator) are not callable
    return isinstance(obj, torch.nn.Module) or callable(obj) or hasattr(obj, "predict_proba") or hasattr(obj, "predict")


class FrozenModel:
    """A frozen black box as a differentiable function of its input.

    Parameters
    ----------
    function : callable
        Maps a tensor in the model's layout (and optional keyword tensors) to
        the model's output tensor.
    layout : {"NCT", "NTC"}
        Layout the model expects; inputs are always given as ``(N, C, T)``.
    dtype : torch.dtype
        Floating dtype the model computes in.
    device : torch.device
        Device the model lives on.
    disable_cudnn : bool
        Whether cuDNN must be switched off while differentiating through the
        model (multi-layer recurrent layers with dropout on CUDA).
    classes : numpy.ndarray or None
        The black box's class labels (its ``classes_``), to resolve a
        ``target`` given as a label.
    kind : {"classifier", "regressor"} or None
        What the black box declares itself (:func:`~sklearn_tsmask._target.model_kind`), for ``loss="auto"``.
    """

    def __init__(self, function, *, layout, dtype, device, disable_cudnn=False, classes=None, kind=None):
        self.function = function
        self.classes = classes
        self.kind = kind
        self.layout = layout
        self.dtype = dtype
        self.device = device
        self.disable_cudnn = disable_cudnn

    def __call__(self, x, **model_kwargs):
        if self.layout == "NTC":
            x = x.transpose(1, 2)
        return self.function(x, **model_kwargs)

    def context(self):
        """Context manager to wrap around forward/backward passes."""
        if self.disable_cudnn and self.device.type == "cuda":
            return torch.backends.cudnn.flags(enabled=False)
        return contextlib.nullcontext()


def _module_dtype(module):
    for p in list(module.parameters()) + list(module.buffers()):
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def _freeze_module(module, device):
    """Deep copy, eval mode, no parameter gradients, on ``device``."""
    if any(t.is_meta for t in list(module.parameters()) + list(module.buffers())):
        raise ValueError(
            "The model has parameters on the 'meta' device: they hold no values to compute with. Load its "
            "weights first (for instance module.to_empty(device='cpu') then load_state_dict)."
        )
    frozen = copy.deepcopy(module)
    frozen.eval()
    frozen.requires_grad_(False)
    frozen.to(device)
    disable_cudnn = False
    if device.type == "cuda":
        for sub in frozen.modules():
            if isinstance(sub, torch.nn.RNNBase):
                if sub.dropout == 0 or sub.num_layers == 1:
                    # cuDNN's RNN backward only runs in training mode. Without
                    # inter-layer dropout, training mode computes exactly the
                    # same function, so the fast kernels stay usable.
                    sub.train()
                else:
                    disable_cudnn = True
    return frozen, disable_cudnn


def wrap_model(model, *, layout="NCT", device, random_state=None):
    """Return the black box as a :class:`FrozenModel`.

    Parameters
    ----------
    model : torch.nn.Module, callable or fitted estimator
        The black box. A module is copied, put in eval mode, frozen and moved
        to ``device``; a plain callable on tensors is used as it is (it must
        accept tensors on ``device``). skorch nets, sktime torch
        classifiers, classifiers with ``predict_proba`` and
        ``FrozenEstimator`` wrappers are first reduced to one of these
        (:func:`sklearn_tsmask._adapters.resolve_black_box`).
    layout : {"NCT", "NTC"}, default="NCT"
        The input layout the model expects (library models fix their own).
    device : torch.device
        Where the explanation is computed.
    random_state : int, RandomState or None, default=None
        Seeds the zeroth-order gradient estimates of a classifier without
        gradients.

    Returns
    -------
    FrozenModel

    Raises
    ------
    ValueError
        If no model is given or ``layout`` is unknown.
    TypeError
        If the model is neither a module nor a callable.
    """
    if layout not in _LAYOUTS:
        raise ValueError(f"model_layout must be one of {_LAYOUTS}, got {layout!r}.")
    if model is None:
        raise ValueError(
            "No model to explain: pass the black box to fit, as fit(X, model) or fit(X, y, model=model), "
            "or to the explainer's model parameter."
        )
    if isinstance(model, type):
        raise TypeError(
            f"model is the class {model.__name__}, not a model: pass an instance (a fitted one for an estimator)."
        )
    classes = model_classes(model)
    kind = model_kind(model)
    model, layout = resolve_black_box(model, layout=layout, random_state=random_state)
    if isinstance(model, torch.nn.Module):
        frozen, disable_cudnn = _freeze_module(model, device)
        return FrozenModel(frozen, layout=layout, dtype=_module_dtype(frozen), device=device,
                           disable_cudnn=disable_cudnn, classes=classes, kind=kind)
    if hasattr(model, "predict") and not callable(model):
        raise TypeError(
            f"{type(model).__name__} has predict but no predict_proba: a regressor or a classifier without "
            "probabilities cannot be explained without gradients. Pass a classifier with predict_proba, a "
            "torch.nn.Module or a callable on torch tensors."
        )
    if callable(model):
        if classes is None:
            classes = getattr(model, "classes_", None)  # a ZerothOrderModel
        return FrozenModel(model, layout=layout, dtype=torch.float32, device=device, classes=classes, kind=kind)
    raise TypeError(f"model must be a torch.nn.Module or a callable on torch tensors, got {type(model).__name__}.")


def refuse_inference_mode():
    """Raise a clear error inside ``torch.inference_mode()``, where no gradient can be computed."""
    if torch.is_inference_mode_enabled():
        raise RuntimeError(
            "Explaining a model needs gradients with respect to its input, which torch.inference_mode() "
            "forbids: call fit, transform and explain outside inference mode (torch.no_grad() is fine)."
        )


_SHAPE_WORDS = ("shape", "size", "dimension", "dim ", "mat1", "channels", "expected input", "Expected")


def _call_failure_hint(exc, model):
    """The hint that matches why calling the model failed (never a layout hint for an unrelated cause)."""
    text = str(exc)
    if "in-place operation" in text:
        return (
            " The model writes into its input in place, which gradients with respect to the input forbid: "
            "let it work on a copy (x = x.clone() first, or out-of-place operations)."
        )
    if "Found array with dim 3" in text:  # scikit-learn's check_array on a panel
        return (
            " The classifier takes 2-D (n_samples, n_features) input: if it was fitted on series flattened to "
            "C·T features, wrap it as ZerothOrderModel(classifier, flatten=True) from sklearn_tsmask.black_boxes."
        )
    if any(word in text for word in ("dtype", "scalar type", "Double", "Float")):
        return (
            f" The model is called with {model.dtype} tensors; if it computes in another precision, convert it "
            "(e.g. module.float()) or wrap it to cast its input."
        )
    # a shape error, or a model's own (often silent) shape assertion: the usual cause is the input layout
    if isinstance(exc, AssertionError) or any(word in text for word in _SHAPE_WORDS):
        if model.layout == "NCT":
            return (
                " If the model expects batch-first (N, T, C) input, such as a torch RNN with batch_first=True, "
                "set model_layout='NTC'."
            )
        return " model_layout='NTC' passes (N, T, C) to the model; use 'NCT' if it expects (N, C, T)."
    return ""  # the model's own error, reported as it is


def call_model(model, x, model_kwargs):
    """``model(x, **model_kwargs)``, a failure re-raised as a ValueError that names the batch and the likely cause.

    Parameters
    ----------
    model : FrozenModel
    x : torch.Tensor of shape (B, C, T)
    model_kwargs : dict
        Per-sample keyword tensors for the model, already sliced to the batch.
    """
    try:
        return model(x, **model_kwargs)
    except Exception as exc:
        shape = tuple(x.shape)
        layout_shape = shape if model.layout == "NCT" else (shape[0], shape[2], shape[1])
        raise ValueError(
            f"Calling the model on a batch of shape {layout_shape} ({model.layout}) failed with "
            f"{type(exc).__name__}: {str(exc).rstrip('.')}.{_call_failure_hint(exc, model)}"
        ) from exc


def check_class_scores(output_shape):
    """Refuse ``loss='log_loss'`` for a model output (of ``output_shape`` after the batch axis) without classes."""
    if len(output_shape) < 1 or output_shape[-1] < 2:
        shape = "(N" + "".join(f", {d}" for d in output_shape) + ("," if not output_shape else "") + ")"
        raise ValueError(
            f"loss='log_loss' needs class scores on the last axis, (N, K) or (N, T, K) with K >= 2; "
            f"the model returns outputs of shape {shape}. Use loss='squared_error' for regression outputs."
        )


def check_model_output(model, x, model_kwargs, *, needs_classes=False):
    """Call the model on a probe batch and check what it returns.

    Checks that the call succeeds on the given layout, returns one finite
    tensor with one row per input series, and that the output depends on the
    input through gradients (a mask explainer learns nothing otherwise).

    Parameters
    ----------
    model : FrozenModel
    x : torch.Tensor of shape (B, C, T)
        Probe batch (a few series of the data to explain).
    model_kwargs : dict
        Per-sample keyword tensors for the model, already sliced to the batch.
    needs_classes : bool
        Whether the loss needs a class axis (cross-entropy).

    Returns
    -------
    tuple
        The output's shape without the batch axis.
    """
    refuse_inference_mode()
    x = x.detach().clone().requires_grad_(True)
    shape = tuple(x.shape)
    with model.context(), torch.enable_grad():
        out = call_model(model, x, model_kwargs)
    if not isinstance(out, torch.Tensor):
        raise TypeError(
            f"The model must return a torch.Tensor, got {type(out).__name__}. "
            "Wrap models returning tuples or dicts so that they return the output tensor."
        )
    if out.ndim == 0 or out.shape[0] != shape[0]:
        raise ValueError(
            f"The model returned an output of shape {tuple(out.shape)} for a batch of {shape[0]} series: "
            "the first axis of the output must be the batch."
        )
    if not out.is_floating_point():
        raise ValueError(f"The model returned a {out.dtype} tensor: it must return real-valued outputs (logits, scores).")
    if not bool(torch.isfinite(out).all()):
        raise ValueError("The model returned NaN or infinite outputs on the data to explain.")
    if needs_classes:
        check_class_scores(tuple(out.shape[1:]))
    # A random projection, not a sum: the sum of softmax outputs is constant.
    gen = torch.Generator(device="cpu").manual_seed(0)
    weights = torch.randn(out.shape, generator=gen).to(device=out.device, dtype=out.dtype)
    if not out.requires_grad:
        raise ValueError(
            "The model's output does not depend on its input through differentiable operations "
            "(it carries no gradient with respect to the input): a mask cannot be learned."
        )
    with model.context(), torch.enable_grad():  # also inside a caller's torch.no_grad()
        (grad,) = torch.autograd.grad((out * weights).sum(), x, allow_unused=True)
    if grad is not None and not bool(torch.isfinite(grad).all()):
        raise ValueError(
            "The model's gradient with respect to its input is NaN or infinite on the data to explain (an "
            "operation without a finite derivative there, such as sqrt at 0 or a division by zero): masks "
            "cannot be learned from it."
        )
    if grad is None or not bool(grad.abs().sum() > 0):
        raise ValueError(
            "The model's output does not depend on its input (its gradient with respect to the input is zero "
            "on the data to explain): a mask cannot be learned. Check that the model is fitted and that "
            "model_layout matches its input layout."
        )
    return tuple(out.shape[1:])


def check_model_inputs(inputs, n, device):
    """Per-series model inputs as tensors on ``device``, each with ``n`` rows.

    Parameters
    ----------
    inputs : dict of str to array-like
        The model's keyword inputs besides the series (first axis = series),
        as carried by :class:`~sklearn_tsmask.WithInputs`.
    n : int
        Number of series.
    device : torch.device
        Where the tensors go.

    Returns
    -------
    dict of str to torch.Tensor
    """
    out = {}
    for name, value in inputs.items():
        if isinstance(value, torch.Tensor):
            t = value.detach()
        else:
            arr = np.asarray(value)
            if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
                raise ValueError(
                    f"the model input {name!r} must be numeric (an array the model can take as a tensor), "
                    f"got dtype {arr.dtype}."
                )
            t = torch.as_tensor(np.array(arr, copy=True))
        if t.ndim == 0 or t.shape[0] != n:
            raise ValueError(f"the model input {name!r} must have one row per series ({n}), got shape {tuple(t.shape)}.")
        out[name] = t.to(device)
    return out
