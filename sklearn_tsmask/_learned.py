"""What ExtremalMask and ContraLSP share: networks trained by ``fit``, reused by ``transform``.

Both methods replace the unselected entries by the output of a perturbation
network trained with the masks (ContraLSP also trains a trend network). The
networks are built and checked once in ``fit`` and trained across its
batches; ``transform`` starts every batch from the fitted weights, either
training a copy further with the new masks (``transform_networks="fine_tune"``)
or keeping them fixed, so that only the masks are optimised (``"frozen"``).
"""

import copy

import torch
from sklearn.utils._param_validation import StrOptions
from torch import nn

from .perturbation_nets import PERTURBATION_NETS, check_perturbation_net, make_perturbation_net

__all__ = ["LEARNED_CONSTRAINTS", "LEARNED_CHECK_FAILURES", "TRANSFORM_NETWORKS", "build_perturbation_net", "BatchNetwork"]

#: What ``transform`` does with the networks trained by ``fit``.
TRANSFORM_NETWORKS = ("fine_tune", "frozen")

#: Parameter constraints of the learned-perturbation methods.
LEARNED_CONSTRAINTS = {
    "perturbation": [StrOptions(set(PERTURBATION_NETS)), nn.Module, callable],
    "transform_networks": [StrOptions(set(TRANSFORM_NETWORKS))],
}


#: The estimator checks a learned-perturbation method fails by design, with the reason.
LEARNED_CHECK_FAILURES = dict.fromkeys(
    ("check_transformer_general", "check_transformer_data_not_an_array"),
    "fit_transform returns the masks learned jointly with the networks in fit; fit(X).transform(X) optimises "
    "the masks of X a second time, starting from the fitted networks, so the two differ (slightly)",
)


def build_perturbation_net(spec, x, random_state):
    """The untrained perturbation network of ``spec`` for series like ``x``, checked on two of them.

    Returns None for ``"zeros"`` (no network).
    """
    net = make_perturbation_net(spec, x.shape[1], random_state=random_state, device=x.device, dtype=x.dtype)
    check_perturbation_net(net, x[:2])
    return net


class BatchNetwork:
    """A shared network as one batch of the loop uses it.

    In ``fit`` (``training=True``) the batch trains the shared module itself,
    so the network learns across batches. In ``transform`` every batch starts
    from the fitted weights: a trainable copy (``"fine_tune"``; the fitted
    module is left as it is) or the fitted module's output on the batch,
    computed once (``"frozen"``). Without a network (``None``) the output is
    zeros.

    Parameters
    ----------
    net : torch.nn.Module or None
        The shared (fit) or fitted (transform) network.
    x : torch.Tensor of shape (B, C, T)
        The batch's series.
    training : bool
        Whether ``fit`` is training the network.
    mode : {"fine_tune", "frozen"}
        What ``transform`` does with it.
    """

    def __init__(self, net, x, *, training, mode):
        self._x = x
        self._fixed = None
        if net is None:
            self.module = None
            self._fixed = torch.zeros_like(x)
        elif training:
            self.module = net
        elif mode == "frozen":
            self.module = None
            with torch.no_grad():
                self._fixed = net(x)
        else:
            self.module = copy.deepcopy(net).requires_grad_(True)
            self.module.train()

    @property
    def trainable(self):
        """Whether the batch trains the network (its output carries gradients)."""
        return self.module is not None

    def parameters(self):
        """The parameters the batch optimises (none when frozen or absent)."""
        return list(self.module.parameters()) if self.module is not None else []

    def __call__(self):
        """The network's output on the batch's series."""
        return self.module(self._x) if self.module is not None else self._fixed
