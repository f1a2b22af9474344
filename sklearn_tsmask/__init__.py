"""Perturbation-mask explainers for multivariate time-series models.

The explainers are scikit-learn estimators: ``fit(X, model)`` then
``transform(X)`` returns saliency masks in [0, 1] shaped like ``X``.
"""

__version__ = "0.1.0.dev0"

import inspect as _inspect

from ._base import BaseMaskExplainer as _BaseMaskExplainer
from ._inputs import WithInputs
from .contralsp import ContraLSP
from .dynamask import DynaMask
from .extremal_mask import ExtremalMask

__all__ = ["ContraLSP", "DynaMask", "ExtremalMask", "WithInputs", "all_explainers", "__version__"]


def all_explainers():
    """The library's explainers, from its public names: the one registry.

    The benchmark runner, the documentation tests and the estimator-check
    suite find the methods here; adding a method means adding its class to
    the package's ``__all__``.

    Returns
    -------
    explainers : list of (str, type)
        ``(name, class)`` of every public mask explainer, sorted by name.

    Examples
    --------
    >>> from sklearn_tsmask import all_explainers
    >>> [name for name, _ in all_explainers()]
    ['ContraLSP', 'DynaMask', 'ExtremalMask']
    """
    found = []
    for name in __all__:
        obj = globals().get(name)
        if _inspect.isclass(obj) and issubclass(obj, _BaseMaskExplainer):
            found.append((name, obj))
    return sorted(found)
