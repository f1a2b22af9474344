"""Learnable perturbation networks: series in, perturbation of the same shape out.

ExtremalMask replaces the fixed perturbations of Dynamask by a network NN
trained with the masks: ``Φ(x, m) = m·x + (1 − m)·NN(x)``. Every network here
maps a batch of series ``(B, C, T)`` to ``(B, C, T)``; a user network must do
the same.
"""

import copy

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils import check_random_state
from torch import nn

from ._gru_scan import gru_states

__all__ = [
    "RecurrentPerturbation",
    "ConvPerturbation",
    "make_perturbation_net",
    "check_perturbation_spec",
    "check_perturbation_net",
    "PERTURBATION_NETS",
]

#: Names accepted by :func:`make_perturbation_net` (besides a module or a factory).
PERTURBATION_NETS = ("zeros", "gru", "bigru", "conv")


class RecurrentPerturbation(nn.Module):
    """A GRU over time whose L2-normalised states are mapped back to the channels.

    ``NN(x) = Linear(normalise(GRU(x)))``: at each step, a weighted summary of
    the series (the past only, or past and future when bidirectional), a
    learned generalisation of Dynamask's moving averages and blur. The
    weights live in an ordinary ``torch.nn.GRU`` (``rnn``); on CPU its
    recurrence runs both directions in one pass with a hand-written backward
    (same result as ``rnn(x)``, 3-4x faster for these small networks).

    Parameters
    ----------
    n_channels : int
        Channels C of the series (input and output).
    hidden_size : int or None, default=None
        Hidden units per direction (None = ``n_channels``).
    bidirectional : bool, default=True
        Read the series in both directions (``"bigru"``) or only forward, a
        causal perturbation (``"gru"``).

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.perturbation_nets import RecurrentPerturbation
    >>> net = RecurrentPerturbation(3)
    >>> net(torch.randn(4, 3, 20)).shape
    torch.Size([4, 3, 20])
    >>> causal = RecurrentPerturbation(3, bidirectional=False)
    >>> x = torch.randn(1, 3, 20)
    >>> y = x.clone()
    >>> y[..., 10:] += 1.0  # a change after t = 9 leaves the causal perturbation before it unchanged
    >>> torch.allclose(causal(x)[..., :10], causal(y)[..., :10])
    True
    """

    def __init__(self, n_channels, hidden_size=None, bidirectional=True):
        super().__init__()
        hidden = n_channels if hidden_size is None else hidden_size
        self.n_channels = n_channels
        self.hidden_size = hidden
        self.bidirectional = bidirectional
        self.rnn = nn.GRU(n_channels, hidden, batch_first=True, bidirectional=bidirectional)
        self.linear = nn.Linear(hidden * (2 if bidirectional else 1), n_channels)

    def forward(self, x):
        """Perturbation of ``x`` (B, C, T), same shape."""
        seq = x.transpose(1, 2)
        # on CPU the fused recurrence is 3-4x faster than nn.GRU (both directions in one pass);
        # elsewhere the library kernel (cuDNN) is the fast one
        states = gru_states(self.rnn, seq) if x.device.type == "cpu" else self.rnn(seq)[0]  # (B, T, H·dirs)
        return self.linear(F.normalize(states, dim=-1)).transpose(1, 2)


class ConvPerturbation(nn.Module):
    """Each entry estimated from its neighbours in time: channels mixed, filtered in time, mixed back.

    ``NN(x) = W_out·tanh(K ∗ (W_in·x + b_in)) + b_out``: ``W_in`` mixes the C
    channels into ``hidden_size`` features at each time step, ``K`` is one
    learned filter per feature over the ``kernel_size`` neighbouring steps,
    ``W_out`` maps back to the channels. The filter has no tap at the entry's
    own time step (``NN(x)[:, :, t]`` never reads ``x[:, :, t]``), so the
    perturbation cannot copy the values it replaces; it can interpolate them
    from their neighbours, a learned generalisation of Dynamask's blur and
    moving averages. Every operation runs on all time steps at once, so the
    network costs a few matrix products per step of the explainer, while a
    recurrent one walks the series step by step (its cost grows as C²·T and
    with the number of steps, which dominates on CPU).

    Parameters
    ----------
    n_channels : int
        Channels C of the series (input and output).
    hidden_size : int or None, default=None
        Features between the two channel mixings (None = ``2·n_channels``,
        the width of the bidirectional GRU's states). Measured on ContraLSP's
        rare benchmarks: with 16 or C features its recall fell below the
        GRU's, with 2·C it stayed within 0.02 of it or above.
    kernel_size : int, default=11
        Time steps the filter spans (odd when not causal: ``kernel_size // 2``
        on each side of the entry; zero padding at the ends).
    causal : bool, default=False
        Read only the ``kernel_size`` steps before the entry (a perturbation
        that does not look ahead).

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.perturbation_nets import ConvPerturbation
    >>> net = ConvPerturbation(3)
    >>> x = torch.randn(4, 3, 20)
    >>> net(x).shape
    torch.Size([4, 3, 20])
    >>> y = x.clone()
    >>> y[:, :, 10] += 5.0  # the perturbation of step 10 does not read step 10
    >>> torch.allclose(net(x)[..., 10], net(y)[..., 10])
    True
    >>> causal = ConvPerturbation(3, causal=True)
    >>> torch.allclose(causal(x)[..., :11], causal(y)[..., :11])  # nor, when causal, anything after it
    True
    """

    def __init__(self, n_channels, hidden_size=None, kernel_size=11, causal=False):
        super().__init__()
        if kernel_size < 1 or (not causal and (kernel_size < 3 or kernel_size % 2 == 0)):
            raise ValueError(
                f"kernel_size must be an odd integer >= 3 (or >= 1 when causal), got {kernel_size}: the filter "
                "reads kernel_size // 2 steps on each side of the entry, never the entry itself."
            )
        hidden_size = 2 * n_channels if hidden_size is None else hidden_size
        self.n_channels = n_channels
        self.hidden_size = hidden_size
        self.kernel_size = kernel_size
        self.causal = causal
        self.mix_in = nn.Linear(n_channels, hidden_size)
        self.temporal = nn.Conv1d(hidden_size, hidden_size, kernel_size, groups=hidden_size)
        self.mix_out = nn.Linear(hidden_size, n_channels)
        taps = torch.ones(kernel_size)
        if not causal:
            taps[kernel_size // 2] = 0.0  # the blind spot: the entry itself
        self.register_buffer("taps", taps, persistent=False)

    def forward(self, x):
        """Perturbation of ``x`` (B, C, T), same shape."""
        # channel mixing as (H, C) @ (B, C, T): no transposes of the series
        hidden = torch.matmul(self.mix_in.weight, x) + self.mix_in.bias.unsqueeze(1)
        k = self.kernel_size
        pad = (k, 0) if self.causal else (k // 2, k // 2)
        filtered = F.conv1d(F.pad(hidden, pad), self.temporal.weight * self.taps, self.temporal.bias,
                            groups=self.hidden_size)
        if self.causal:
            filtered = filtered[..., : x.shape[-1]]  # output t reads steps t − k … t − 1
        return torch.matmul(self.mix_out.weight, torch.tanh(filtered)) + self.mix_out.bias.unsqueeze(1)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, causal={self.causal}"


def _seed_from(random_state):
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def check_perturbation_spec(spec):
    """Raise if ``spec`` is neither a known name, a module nor a callable factory.

    Parameters
    ----------
    spec : object
        The ``perturbation`` hyper-parameter of an explainer.

    Returns
    -------
    None
        Returns only when the value is valid.

    Raises
    ------
    ValueError
        For an unknown name.
    TypeError
        For anything that is neither a string, a module nor a callable.

    Examples
    --------
    >>> from sklearn_tsmask.perturbation_nets import check_perturbation_spec
    >>> check_perturbation_spec("bigru")
    >>> check_perturbation_spec("lstm")
    Traceback (most recent call last):
    ...
    ValueError: perturbation must be one of ('zeros', 'gru', 'bigru', 'conv'), a torch.nn.Module or a factory; got 'lstm'.
    """
    if isinstance(spec, str):
        if spec not in PERTURBATION_NETS:
            raise ValueError(
                f"perturbation must be one of {PERTURBATION_NETS}, a torch.nn.Module or a factory; got {spec!r}."
            )
    elif not isinstance(spec, nn.Module) and not callable(spec):
        raise TypeError(
            f"perturbation must be one of {PERTURBATION_NETS}, a torch.nn.Module or a factory "
            f"n_channels -> Module; got {type(spec).__name__}."
        )


def make_perturbation_net(spec, n_channels, *, random_state=None, device="cpu", dtype=torch.float32):
    """Build the perturbation network described by ``spec``.

    Parameters
    ----------
    spec : {"zeros", "gru", "bigru", "conv"}, torch.nn.Module or callable
        ``"zeros"``: no network (``NN(x) = 0``, returns None). ``"gru"`` /
        ``"bigru"``: a :class:`RecurrentPerturbation`, causal or
        bidirectional. ``"conv"``: a :class:`ConvPerturbation`. A module is
        deep-copied (the user's object is never trained). A callable is a factory called as ``spec(n_channels)``
        (a module class works) and must return a module.
    n_channels : int
        Channels of the series.
    random_state : int, RandomState or None
        Seeds the initial weights of the built-in networks and of factories
        (the global torch random state is left as it was).
    device, dtype
        Where the network lives and its floating dtype.

    Returns
    -------
    torch.nn.Module or None
        The network in train mode on ``device``, or None for ``"zeros"``.

    Examples
    --------
    >>> from sklearn_tsmask.perturbation_nets import make_perturbation_net
    >>> make_perturbation_net("zeros", 3) is None
    True
    >>> net = make_perturbation_net("bigru", 3, random_state=0)
    >>> type(net).__name__, net.rnn.bidirectional, net.training
    ('RecurrentPerturbation', True, True)
    >>> same = make_perturbation_net("bigru", 3, random_state=0)  # seeded: the same weights
    >>> all((a == b).all() for a, b in zip(net.parameters(), same.parameters()))
    True
    """
    check_perturbation_spec(spec)
    if isinstance(spec, str) and spec == "zeros":
        return None
    if isinstance(spec, nn.Module):
        net = copy.deepcopy(spec)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_seed_from(random_state))
            if spec == "conv":
                net = ConvPerturbation(n_channels)
            elif isinstance(spec, str):
                net = RecurrentPerturbation(n_channels, bidirectional=spec == "bigru")
            else:
                net = spec(n_channels)
        if not isinstance(net, nn.Module):
            raise TypeError(f"the perturbation factory must return a torch.nn.Module, got {type(net).__name__}.")
    net = net.to(device=device, dtype=dtype)
    net.train()
    return net


def check_perturbation_net(net, x):
    """Check that ``net`` maps ``x`` (B, C, T) to a finite tensor of the same shape.

    Parameters
    ----------
    net : torch.nn.Module or None
        A perturbation network (None: no network, nothing to check).
    x : torch.Tensor of shape (B, C, T)
        A probe batch.

    Returns
    -------
    None
        Returns only when the value is valid.

    Raises
    ------
    ValueError
        If the call fails, the output is not shaped like ``x`` or not
        finite, or the network has no trainable parameter.

    Examples
    --------
    >>> import torch
    >>> from sklearn_tsmask.perturbation_nets import check_perturbation_net
    >>> check_perturbation_net(torch.nn.Conv1d(3, 3, 5, padding=2), torch.randn(2, 3, 10))
    >>> check_perturbation_net(torch.nn.Conv1d(3, 3, 5), torch.randn(2, 3, 10))
    Traceback (most recent call last):
    ...
    ValueError: the perturbation network must return a tensor shaped like its input (2, 3, 10) (series, channels, time), got (2, 3, 6).
    """
    if net is None:
        return
    try:
        with torch.no_grad():
            out = net(x)
    except Exception as exc:
        raise ValueError(
            f"the perturbation network failed on a batch of shape {tuple(x.shape)} (series, channels, time): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"the perturbation network must return a tensor shaped like its input {tuple(x.shape)} "
            f"(series, channels, time), got {shape}."
        )
    if not torch.isfinite(out).all():
        raise ValueError("the perturbation network returned NaN or infinite values.")
    if not any(p.requires_grad for p in net.parameters()):
        raise ValueError("the perturbation network has no trainable parameters; use perturbation='zeros' for NN(x) = 0.")
