"""A one-layer GRU, both directions in one recurrence, with a hand-written backward.

On CPU, a small GRU (the perturbation networks have C hidden units) costs
what its per-step operator calls cost, not arithmetic: ``torch.nn.GRU`` with
``bidirectional=True`` walks the series twice, and autograd records about a
dozen nodes per step and direction. Here both directions advance together:
at step ``s`` the forward direction reads time ``s`` and the backward
direction reads time ``T - 1 - s``; their hidden states sit side by side and
the recurrent weights are block-diagonal, so the result equals
``nn.GRU(..., bidirectional=True)`` exactly. Forward and backward through
time are written out (six operator calls per step forward, eight backward),
the input projections and the weight gradients are single matrix products
over all steps.

:func:`gru_states` reads the weights of an ``nn.GRU`` module, so a model
keeps the ordinary module (its ``state_dict``, its CUDA path) and uses this
only where it pays: on CPU.
"""

import torch
from torch.autograd.function import once_differentiable

__all__ = ["gru_states"]


class _GRUScan(torch.autograd.Function):
    """Recurrence of GRU hidden states given the input projections.

    Gates are laid out ``[r | z | n]``, each ``G`` wide (``G`` = hidden units
    of all directions). Inputs: ``gi`` (T, B, 3G) the input projections with
    their biases, ``w_t`` (G, 3G) the recurrent weights transposed, ``b``
    (3G,) the recurrent biases. Output: hidden states (T, B, G), from a zero
    initial state. PyTorch's GRU: ``r, z = σ(gi + h W + b)``,
    ``n = tanh(gi_n + r·(h W_n + b_n))``, ``h' = n + z·(h − n)``.
    """

    @staticmethod
    def forward(ctx, gi, w_t, b):
        T, B, G3 = gi.shape
        G = G3 // 3
        gi_rz, gi_n = gi[..., : 2 * G].contiguous(), gi[..., 2 * G :].contiguous()
        states = gi.new_zeros(T + 1, B, G)
        gh = gi.new_empty(T, B, 3 * G)  # h W + b, per step
        rz = gi.new_empty(T, B, 2 * G)
        n = gi.new_empty(T, B, G)
        # every per-step view made up front (one call per tensor): the loop only computes
        steps = zip(
            states[:-1].unbind(0), states[1:].unbind(0), gi_rz.unbind(0), gi_n.unbind(0), gh.unbind(0),
            gh[..., : 2 * G].unbind(0), gh[..., 2 * G :].unbind(0), rz.unbind(0), rz[..., :G].unbind(0),
            rz[..., G:].unbind(0), n.unbind(0),
        )
        for h, h_next, gi_rz_t, gi_n_t, gh_t, gh_rz_t, gh_n_t, rz_t, r_t, z_t, n_t in steps:
            torch.addmm(b, h, w_t, out=gh_t)
            torch.add(gi_rz_t, gh_rz_t, out=rz_t).sigmoid_()
            torch.addcmul(gi_n_t, r_t, gh_n_t, out=n_t).tanh_()
            torch.lerp(n_t, h, z_t, out=h_next)
        ctx.save_for_backward(w_t, states, rz, n, gh)
        return states[1:]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_states):
        w_t, states, rz, n, gh = ctx.saved_tensors
        T, B, G = n.shape
        r, z = rz[..., :G], rz[..., G:]
        # everything that does not depend on the incoming gradient, over all steps at once
        d_z = states[:-1] - n  # ∂h'/∂z
        d_n = (1 - z) * (1 - n * n)  # ∂h'/∂(pre-activation of n)
        d_sig = rz * (1 - rz)  # σ' of r and z
        grad_gh = grad_states.new_empty(T, B, 3 * G)  # ∂L/∂(h W + b) per step
        grad_npre = grad_states.new_empty(T, B, G)  # ∂L/∂(pre-activation of n)
        w = w_t.t()
        steps = zip(
            grad_states.unbind(0), grad_gh.unbind(0), grad_gh[..., :G].unbind(0), grad_gh[..., G : 2 * G].unbind(0),
            grad_gh[..., : 2 * G].unbind(0), grad_gh[..., 2 * G :].unbind(0), grad_npre.unbind(0),
            d_z.unbind(0), d_n.unbind(0), d_sig.unbind(0), gh[..., 2 * G :].unbind(0), r.unbind(0), z.unbind(0),
        )
        dh = torch.zeros_like(grad_states[0])
        for g_t, ggh_t, g_r, g_z, g_rz, g_ghn, gn_t, dz_t, dn_t, dsig_t, ghn_t, r_t, z_t in reversed(list(steps)):
            dh = dh + g_t
            torch.mul(dh, dn_t, out=gn_t)
            torch.mul(gn_t, ghn_t, out=g_r)  # through r
            torch.mul(dh, dz_t, out=g_z)  # through z
            g_rz.mul_(dsig_t)
            torch.mul(gn_t, r_t, out=g_ghn)
            dh = torch.addmm(dh * z_t, ggh_t, w)
        grad_gi = torch.cat([grad_gh[..., : 2 * G], grad_npre], dim=-1)
        flat = grad_gh.reshape(T * B, 3 * G)
        grad_w_t = states[:-1].reshape(T * B, G).t() @ flat
        return grad_gi, grad_w_t, flat.sum(0)


def _gate_blocks(tensors, hidden):
    """Interleave per-direction gate blocks: ``[r_1, r_2, z_1, z_2, n_1, n_2]`` along the last axis."""
    parts = [t.unflatten(-1, (3, hidden)) for t in tensors]
    return torch.stack(parts, dim=-2).flatten(-3)


def gru_states(rnn, x):
    """Output states of a one-layer ``nn.GRU`` on ``x``, as ``rnn(x)[0]``, from a zero state.

    Parameters
    ----------
    rnn : torch.nn.GRU
        One layer, with biases, ``batch_first=True``, one or two directions.
    x : torch.Tensor of shape (B, T, input_size)

    Returns
    -------
    torch.Tensor of shape (B, T, hidden_size · directions)
        Equal to ``rnn(x)[0]`` (up to float rounding), differentiable in ``x``
        and in the weights of ``rnn``.
    """
    if rnn.num_layers != 1 or not rnn.bias or not rnn.batch_first or rnn.proj_size:
        raise ValueError("gru_states takes a one-layer, batch-first GRU with biases and no projection.")
    H = rnn.hidden_size
    suffixes = ["", "_reverse"] if rnn.bidirectional else [""]
    weights = [(getattr(rnn, "weight_ih_l0" + s), getattr(rnn, "bias_ih_l0" + s),
                getattr(rnn, "weight_hh_l0" + s), getattr(rnn, "bias_hh_l0" + s)) for s in suffixes]
    xt = x.transpose(0, 1)  # (T, B, C)
    inputs = [xt, xt.flip(0)][: len(suffixes)]
    gi = _gate_blocks([torch.addmm(b_ih, xi.flatten(0, 1), w_ih.t()).unflatten(0, xi.shape[:2])
                       for xi, (w_ih, b_ih, _, _) in zip(inputs, weights)], H)
    # recurrent weights block-diagonal over directions, gates interleaved like gi
    w_hh = [w.unflatten(0, (3, H)) for _, _, w, _ in weights]  # (3, H, H) each, (out, in)
    zero = w_hh[0].new_zeros(3, H, H)
    rows = [torch.cat([zero] * d + [w] + [zero] * (len(w_hh) - 1 - d), dim=2) for d, w in enumerate(w_hh)]
    w_fused = torch.stack(rows, dim=1).flatten(0, 2)  # (3·G, G)
    b_fused = _gate_blocks([b for _, _, _, b in weights], H)
    states = _GRUScan.apply(gi.contiguous(), w_fused.t(), b_fused)  # (T, B, G)
    if rnn.bidirectional:
        states = torch.cat([states[..., :H], states[..., H:].flip(0)], dim=-1)
    return states.transpose(0, 1)
