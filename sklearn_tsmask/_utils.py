"""Small helpers shared by the estimators: devices, seeds, scalar checks."""

import inspect
import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError

__all__ = ["resolve_device", "make_generator", "check_scalar_in", "unfrozen"]


def unfrozen(model):
    """The estimator inside scikit-learn ``FrozenEstimator`` wrappers (the model itself otherwise).

    Meta-estimators (``GridSearchCV``) clone an explainer's ``model`` parameter unless it is frozen, so a
    fitted black box often arrives wrapped, possibly more than once. Checked by name: no import of
    ``sklearn.frozen``, which older scikit-learn versions lack.
    """
    while type(model).__name__ == "FrozenEstimator" and hasattr(model, "estimator"):
        model = model.estimator
    return model


def resolve_device(device, data_device=None):
    """Return the :class:`torch.device` to compute on.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}, str or torch.device
        ``"auto"`` picks the device of a CUDA tensor input, else the first
        CUDA device when one is available, else the CPU.
    data_device : torch.device or None
        Device of the input data, when it was a tensor.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If the device string is not understood or CUDA is asked for but is
        not available.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        if data_device is not None and data_device.type != "cpu":
            return data_device
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidParameterError(
            f"device={device!r} is not understood: use 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device."
        ) from None
    if dev.type == "meta":
        raise InvalidParameterError(
            f"device={device!r}: a 'meta' device holds no values to compute with; use 'cpu', 'cuda' or 'auto'."
        )
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidParameterError(f"device={device!r} was asked for but CUDA is not available on this machine; use 'auto' or 'cpu'.")
    return dev


def make_generator(random_state, device):
    """Return a seeded :class:`torch.Generator` on ``device``.

    The seed is drawn from ``random_state`` exactly as scikit-learn does, so an
    int gives the same generator at every call and ``None`` a fresh one. The
    global torch random state is left untouched.
    """
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def check_scalar_in(value, name, low, high, *, closed=("neither")):
    """Validate a real scalar in an interval and return it as float."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    value = float(value)
    lo_ok = value >= low if closed in ("left", "both") else value > low
    hi_ok = value <= high if closed in ("right", "both") else value < high
    if not (lo_ok and hi_ok):
        lb = "[" if closed in ("left", "both") else "("
        rb = "]" if closed in ("right", "both") else ")"
        raise ValueError(f"{name} must be in {lb}{low}, {high}{rb}, got {value!r}.")
    return value


def check_metric_kwargs(metric, n_positional, metric_kwargs):
    """Bind a scorer's keyword arguments to its metric's signature, as a call would.

    Parameters
    ----------
    metric : callable
    n_positional : int
        How many positional arguments the scorer passes (2 for ``(y, masks)``,
        3 for ``(model, X, masks)``).
    metric_kwargs : dict

    Returns
    -------
    inspect.BoundArguments or None
        The arguments with the metric's defaults applied; None for a callable
        without an inspectable signature.

    Raises
    ------
    TypeError
        If a keyword is not one of the metric's.
    """
    try:
        signature = inspect.signature(metric)
    except (TypeError, ValueError):  # some builtins have none
        return None
    try:
        bound = signature.bind(*([None] * n_positional), **metric_kwargs)
    except TypeError as exc:
        raise TypeError(f"Invalid keyword arguments for {getattr(metric, '__name__', metric)}: {exc}.") from None
    bound.apply_defaults()
    return bound
