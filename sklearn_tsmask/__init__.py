"""Perturbation-mask explainers for multivariate time-series models.

The explainers are scikit-learn estimators: ``fit(X, model)`` then
``transform(X)`` returns saliency masks in [0, 1] shaped like ``X``.
"""

__version__ = "0.1.0.dev0"

from .contralsp import ContraLSP
from .dynamask import DynaMask
from .extremal_mask import ExtremalMask

__all__ = ["ContraLSP", "DynaMask", "ExtremalMask", "__version__"]
