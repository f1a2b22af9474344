"""Fidelity and cumulative metrics on panels whose series have unequal lengths.

The explainers explain such panels (aeon's lists of 2D arrays, sktime's
``df-list`` and ``nested_univ``) series by series at their own lengths; a
metric evaluates the model the same way: the series of each length are
stacked and measured together, and the per-series values are put back in the
order of the panel before they are averaged.
"""

import functools
import inspect

import numpy as np
import torch

from .._inputs import WithInputs, _take_input, split_inputs
from .._models import FrozenModel, wrap_model
from .._panel import to_numpy3d
from .._utils import resolve_device


def _series_of_unequal_lengths(X, name):
    """The series of ``X`` as a list of ``(C, T_i)`` arrays when their lengths differ, else None."""
    if not isinstance(X, (list, tuple)) and not hasattr(X, "columns"):
        return None  # arrays and tensors hold series of one length: not read here
    series = to_numpy3d(X, name=name, allow_ragged=True)
    return series if isinstance(series, list) else None


def _per_series(value):
    return isinstance(value, (list, np.ndarray, torch.Tensor))


def _take_target(target, rows):
    if isinstance(target, torch.Tensor):
        return target[torch.as_tensor(rows, device=target.device)]
    return np.asarray(target, dtype=object)[rows] if isinstance(target, list) else target[rows]


def by_length(metric):
    """Let ``metric(model, X, masks, **options)`` take panels of unequal lengths: one call per length."""
    signature = inspect.signature(metric)

    @functools.wraps(metric)
    def wrapper(model, X, masks, **options):
        series, inputs = split_inputs(X)
        xs = _series_of_unequal_lengths(series, "X")
        if xs is None:
            return metric(model, X, masks, **options)
        ms = list(to_numpy3d(masks, name="masks", allow_ragged=True))
        if len(ms) != len(xs):
            raise ValueError(f"masks must have the series of X: X has {len(xs)} series, masks have {len(ms)}.")
        for i, (x, m) in enumerate(zip(xs, ms)):
            if x.shape != m.shape:
                raise ValueError(
                    f"masks must have the shape of X for every series; series {i} of X has shape "
                    f"{tuple(x.shape)}, its mask {tuple(m.shape)}."
                )
        bound = signature.bind(model, X, masks, **options)
        bound.apply_defaults()
        settings = bound.arguments
        if not isinstance(model, FrozenModel):  # wrapped (and copied) once for all the lengths
            model = wrap_model(model, layout=settings["model_layout"], device=resolve_device(settings["device"]))
        n = len(xs)
        target = settings.get("target")
        if _per_series(target) and len(target) != n:
            raise ValueError(
                f"target given per series must have one entry per series ({n}); got {len(target)} entries."
            )
        lengths = np.array([x.shape[-1] for x in xs])
        values, curve = None, None
        for length in np.unique(lengths):
            rows = np.flatnonzero(lengths == length)
            group = np.stack([xs[i] for i in rows])
            if inputs:
                group = WithInputs(group, **{name: _take_input(v, rows) for name, v in inputs.items()})
            call = dict(options)
            if _per_series(target):
                call["target"] = _take_target(target, rows)
            if "reduction" in settings:
                call["reduction"] = "none"
            out = metric(model, group, np.stack([ms[i] for i in rows]), **call)
            if isinstance(out, tuple):  # a curve: the fractions (the same for every length), then (rows, points)
                curve, out = out[0], out[1]
            if values is None:
                values = np.empty((n, *np.shape(out)[1:]), dtype=np.float64)
            values[rows] = out
        if curve is not None:
            return curve, values
        return values if settings.get("reduction") == "none" else float(values.mean())

    return wrapper
