"""Which output of the black box is explained: the ``target`` of the explainers and fidelity metrics.

As in captum, ``target`` selects an output: a class index, a class label
(resolved through the black box's ``classes_``), one of either per series, or
for a model with an output per time step a ``(time step, class)`` pair (one,
or one per series). ``None`` explains the whole output.
"""

import numbers

import numpy as np
import torch

from ._utils import unfrozen

__all__ = ["resolve_target", "model_classes", "model_kind", "resolve_loss"]


def model_classes(model):
    """The class labels of a black box (its ``classes_``), or None."""
    model = unfrozen(model)
    if isinstance(model, torch.nn.Module):
        return None
    classes = getattr(model, "classes_", None)
    return None if classes is None else np.asarray(classes)


def model_kind(model):
    """What the black box declares itself: "classifier", "regressor", or None when it does not say.

    A fitted estimator with ``classes_`` (scikit-learn, sktime, aeon, skorch classifiers) is a classifier; an
    object whose scikit-learn estimator type (``_estimator_type`` or its tags) is "regressor" or "classifier" says
    so. A plain torch module or callable says nothing unless it carries ``_estimator_type``.
    """
    model = unfrozen(model)
    if not isinstance(model, torch.nn.Module):
        try:
            if getattr(model, "classes_", None) is not None:
                return "classifier"
        except Exception:  # a property that raises when the classes were never inferred (skorch)
            pass
    kind = getattr(model, "_estimator_type", None)
    if kind is None and hasattr(model, "__sklearn_tags__"):
        try:
            kind = model.__sklearn_tags__().estimator_type
        except Exception:
            kind = None
    return kind if kind in ("classifier", "regressor") else None


def resolve_loss(loss, kind, output_shape):
    """The error of ``loss="auto"`` for a model of ``kind`` (see :func:`model_kind`) and output shape.

    ``"log_loss"`` for a model that declares itself a classifier and returns class scores on its last axis
    (``(N, K)`` or ``(N, T, K)``, K >= 2); ``"squared_error"`` otherwise: regressors, and models that do not say
    what they are, since the shape alone cannot tell class scores from a multi-output regression (a forecast
    ``(N, horizon)``). An explicit ``loss`` is returned as it is.
    """
    if loss != "auto":
        return loss
    has_class_axis = len(output_shape) >= 1 and output_shape[-1] >= 2
    return "log_loss" if kind == "classifier" and has_class_axis else "squared_error"


def _is_index(value):
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def _class_index(value, n_classes, classes):
    """A class index from an index (int) or a label (anything else, through ``classes``)."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"target {value!r} is a boolean, neither a class index nor a class label.")
    if _is_index(value):
        k = int(value)
        if not 0 <= k < n_classes:
            raise ValueError(
                f"target class index {k} is out of range: the model's output has {n_classes} classes on its "
                f"last axis (indices 0 to {n_classes - 1})."
            )
        return k
    if classes is None:
        raise ValueError(
            f"target {value!r} is a class label, but the model has no classes_ to resolve it: pass the class "
            "index (the position on the model's last output axis)."
        )
    matches = np.flatnonzero(classes == np.asarray(value, dtype=classes.dtype if classes.dtype != object else None))
    if len(matches) != 1:
        raise ValueError(f"target {value!r} is not one of the model's classes {classes.tolist()}.")
    return int(matches[0])


def _time_index(value, n_steps):
    if not _is_index(value) or not 0 <= int(value) < n_steps:
        raise ValueError(
            f"target time step {value!r} must be an integer from 0 to {n_steps - 1} (the model's output has "
            f"{n_steps} steps)."
        )
    return int(value)


def resolve_target(target, n, output_shape, classes, device=None):
    """Per-series class (and time-step) indices of ``target``.

    Parameters
    ----------
    target : None, int, label, tuple (time step, class), or array-like of those, one per series
    n : int
        Number of series.
    output_shape : tuple of int
        The model's output shape after the batch axis: ``(K,)`` or ``(T', K)``.
    classes : numpy.ndarray or None
        The model's class labels, for labels.
    device : torch.device, optional

    Returns
    -------
    None or tuple (classes, steps)
        ``classes`` a LongTensor (n,); ``steps`` a LongTensor (n,) or None.
    """
    if target is None:
        return None
    if len(output_shape) == 0:
        raise ValueError(
            "target selects one of the model's outputs, but the model returns one value per series (shape "
            "(N,)): there is nothing to choose; leave target=None."
        )
    n_classes = output_shape[-1]
    per_step = len(output_shape) >= 2
    if isinstance(target, torch.Tensor):
        target = target.detach().cpu().numpy()
    if isinstance(target, tuple):
        pairs = [target] * n
    elif isinstance(target, (list, np.ndarray)):
        arr = np.asarray(target, dtype=object)
        if arr.ndim == 1 and len(arr) == n:
            pairs = list(arr)
        elif arr.ndim == 2 and arr.shape == (n, 2):
            pairs = [tuple(row) for row in arr]
        else:
            raise ValueError(
                f"target given per series must have one entry per series ({n}), or one (time step, class) row "
                f"per series (shape ({n}, 2)); got shape {arr.shape}."
            )
    else:
        pairs = [target] * n
    cls, steps = [], []
    for value in pairs:
        if isinstance(value, tuple):
            if len(value) != 2:
                raise ValueError(f"A target tuple is (time step, class); got {value!r}.")
            if not per_step:
                raise ValueError(
                    f"target {value!r} names a time step, but the model's output has no time axis (shape "
                    f"(N, {n_classes})): give the class alone."
                )
            steps.append(_time_index(value[0], output_shape[0]))
            value = value[1]
        elif steps:
            raise ValueError("target mixes (time step, class) pairs and classes alone: give one kind.")
        cls.append(_class_index(value, n_classes, classes))
    if steps and len(steps) != len(cls):
        raise ValueError("target mixes (time step, class) pairs and classes alone: give one kind.")
    classes_t = torch.tensor(cls, dtype=torch.long, device=device)
    return classes_t, (torch.tensor(steps, dtype=torch.long, device=device) if steps else None)


def select(out, classes, steps):
    """The selected elements of outputs ``out`` (M, K) or (M, T', K): (M,) or (M, T') without ``steps``."""
    if steps is not None:
        out = out[torch.arange(out.shape[0], device=out.device), steps]
    index = classes.to(out.device).view(-1, *([1] * (out.ndim - 1))).expand(*out.shape[:-1], 1)
    return out.gather(-1, index).squeeze(-1)
