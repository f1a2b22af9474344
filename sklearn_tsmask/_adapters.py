"""The black boxes users already have, reduced to a torch module or a callable.

:func:`resolve_black_box` is the single place that knows the model libraries:

* ``sklearn.frozen.FrozenEstimator`` — unwrapped (meta-estimators pass a model
  as a constructor parameter this way, so that ``clone`` keeps it);
* skorch ``NeuralNet`` (classifier or regressor) — its trained ``module_``;
  a classifier trained with ``NLLLoss`` outputs probabilities, whose log is
  taken (as skorch's own loss does), so the explainers always see logits;
* sktime's torch classifiers (``CNNClassifierTorch``, ``GRUClassifier``,
  ... — a fitted ``network`` module) — the network, fed ``(N, T, C)`` under
  the keyword ``X`` as sktime's data loader does, log taken when the network
  ends with its own activation;
* any other fitted classifier with ``predict_proba`` or decision scores
  (sktime and aeon classifiers, their Rocket family, scikit-learn
  pipelines) — a :class:`~sklearn_tsmask.black_boxes.ZerothOrderModel`,
  which explains the decision scores when the probabilities are hard votes;
* torch modules and callables on tensors — unchanged.

Unfitted or reset models are refused with an error saying so.
"""

import copy

import torch
from torch import nn

from ._utils import unfrozen
from .black_boxes import ZerothOrderModel, has_decision_scores

__all__ = ["resolve_black_box"]


class _KeywordInput(nn.Module):
    """A network called as ``network(**{key: x})``, optionally log of its (probability) output."""

    def __init__(self, network, key="X", log_output=False, eps=0.0):
        super().__init__()
        self.network = network
        self.key = key
        self.log_output = log_output
        self.eps = eps

    def forward(self, x):
        out = self.network(**{self.key: x}) if self.key else self.network(x)
        return torch.log(out + self.eps) if self.log_output else out


def _is_skorch_net(model):
    return any(c.__module__.startswith("skorch") and c.__name__ == "NeuralNet" for c in type(model).__mro__)


def _is_sktime_torch_classifier(model):
    return any(c.__module__.startswith("sktime") for c in type(model).__mro__) and isinstance(
        getattr(model, "network", None), nn.Module
    )


def _skorch_module(net):
    name = type(net).__name__
    if not getattr(net, "initialized_", False):
        raise ValueError(f"The skorch {name} is not initialized: fit it before explaining it.")
    if len(getattr(net, "history", [])) == 0:
        raise ValueError(
            f"The skorch {name} has no training history: it was never fitted, or it was reset "
            "(initialize() re-draws the weights). Fit it before explaining it."
        )
    criterion = getattr(net, "criterion_", None)
    if isinstance(criterion, nn.NLLLoss):
        # skorch trains NLLLoss on log(module output + eps): the module outputs probabilities
        return _KeywordInput(net.module_, key=None, log_output=True, eps=1e-12)
    return net.module_


def _sktime_network(clf):
    name = type(clf).__name__
    if not getattr(clf, "is_fitted", False):
        raise ValueError(f"The sktime {name} is not fitted: fit it before explaining it.")
    # the network applies its own activation (probabilities) when sktime validated one
    log_output = getattr(clf, "_validated_activation", None) is not None
    return _KeywordInput(clf.network, key="X", log_output=log_output, eps=1e-12)


def resolve_black_box(model, *, layout, random_state=None):
    """The black box as a torch module or callable on tensors, and the layout it expects.

    Parameters
    ----------
    model : object
        What the user passed (see the module docstring).
    layout : {"NCT", "NTC"}
        The explainer's ``model_layout``; library models fix their own.
    random_state : int, RandomState or None
        Seeds a zeroth-order wrapper built here.

    Returns
    -------
    model : torch.nn.Module or callable
    layout : {"NCT", "NTC"}
    """
    model = unfrozen(model)
    if _is_skorch_net(model):
        return _skorch_module(model), layout
    if _is_sktime_torch_classifier(model):
        return _sktime_network(model), "NTC"
    if isinstance(model, ZerothOrderModel):
        fresh = copy.copy(model)  # every fit draws the same directions
        fresh._generator = None
        return fresh, "NCT"
    if not isinstance(model, nn.Module) and (hasattr(model, "predict_proba") or has_decision_scores(model)):
        return ZerothOrderModel(model, random_state=random_state), "NCT"  # checks that it is fitted
    return model, layout
