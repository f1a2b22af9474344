"""The contrastive (triplet) term of ContraLSP, in torch, on the data's device.

ContraLSP trains its counterfactual perturbation network so that each
perturbed series ``x^r_i`` (the anchor) moves toward the series of the other
cluster of the batch and away from its own neighbours. The batch's
perturbations are split into two clusters by 2-means; for each anchor, the
positives are its ``K+`` nearest members of its own cluster and the negatives
``K-`` random members of the other cluster; distances are Manhattan (mean
absolute difference). The cluster assignment and the selection are discrete
(no gradient flows through them), the distances that enter the loss carry the
gradient to the perturbation network.

Waiting for the device. On a GPU the explainers' steps are small enough for
the host's launches to set their pace, as long as the host never waits for the
device. There, 2-means copies one Gram matrix to the host per step and runs
Lloyd's rounds from it (instead of testing convergence on the device each
round), and the backward visits a number of pairs fixed by the batch size
(instead of counting the selected pairs); on CPU, where nothing waits, the
rounds run on the rows and stop at convergence, and the backward visits the
selected pairs only.

Cost. Choosing the positives needs every pairwise distance of the batch
(``B²·C·T`` absolute differences), but only the selected pairs, at most
``B·(K+ + K−)``, enter the loss: the distances are computed once without
gradient and the backward pass visits the selected pairs only, in chunks of
bounded memory (the gradient of the full distance matrix cost as much as the
black box's own backward pass at 64 channels).
"""

import numpy as np
import torch
from torch.autograd.function import once_differentiable

__all__ = ["two_means", "n_triplet_members", "triplet_term"]

_MAX_MEMBERS = 50
#: Entries (pairs × C·T) of one chunk of the backward pass of the selected distances.
_CHUNK_ENTRIES = 1 << 22


def two_means(z, generator, *, n_iter=25, method="auto"):
    """Split the rows of ``z`` into two clusters by Lloyd's algorithm (k = 2).

    Initialisation: a row drawn with ``generator``, then the row farthest from
    it (the deterministic variant of k-means++ for two centres). Iterates
    until the assignment no longer changes or ``n_iter`` rounds.

    Parameters
    ----------
    z : torch.Tensor of shape (n, d)
        Rows to cluster (used without gradient).
    generator : torch.Generator
        On ``z``'s device; seeds the first centre.
    n_iter : int, default=25
        Maximum number of Lloyd rounds.
    method : {"auto", "rows", "gram"}, default="auto"
        ``"rows"``: the rounds in torch on ``z``'s device, distances to the
        centres from the rows. ``"gram"``: the Gram matrix of the centred
        rows is computed on ``z``'s device, in its dtype, and the rounds run
        on the host from it in float64
        (kernel k-means: the centres are weighted means of rows, so every
        distance is a combination of Gram entries), which waits for the
        device once instead of several times per round. ``"auto"``: rows on
        CPU, Gram elsewhere (a GPU's step is otherwise set by those waits).

    Returns
    -------
    torch.Tensor of shape (n,), dtype bool
        True for the rows of the cluster of the second centre. When all rows
        are equal every row is in the first cluster (all False).
    """
    z = z.detach()
    n = z.shape[0]
    if n < 2:
        return torch.zeros(n, dtype=torch.bool, device=z.device)
    if method == "auto":
        method = "gram" if _accelerator_path(z.device) else "rows"
    if method not in ("rows", "gram"):
        raise ValueError(f"method must be 'auto', 'rows' or 'gram', got {method!r}.")
    first = torch.randint(n, (1,), generator=generator, device=generator.device)
    if method == "gram":
        # centred rows (distances do not change) keep the Gram entries at the scale of the distances, so the
        # data's own precision suffices: float32 products run at full speed on GPUs with slow float64
        dtype = torch.promote_types(z.dtype, torch.float32)  # half precision would round the distances away
        centred = z.to(dtype)
        centred = centred - centred.mean(0)
        # the Gram matrix and the first centre's index in one copy: the one wait for the device
        host = torch.cat([(centred @ centred.t()).reshape(-1), first.to(z.device, dtype)]).cpu().numpy()
        labels = _two_means_gram(host[:-1].reshape(n, n).astype(np.float64), int(host[-1]), n_iter,
                                 tol=100 * torch.finfo(dtype).eps)
        return torch.from_numpy(labels).to(z.device)
    first = int(first)
    far = torch.cdist(z[first : first + 1], z).squeeze(0)
    second = int(far.argmax())
    if far[second] == 0:  # all rows equal: one cluster
        return torch.zeros(n, dtype=torch.bool, device=z.device)
    centres = torch.stack([z[first], z[second]])
    labels = None
    for _ in range(n_iter):
        new = torch.cdist(z, centres).argmin(1).bool()
        if labels is not None and torch.equal(new, labels):
            break
        labels = new
        for k, members in enumerate((~labels, labels)):
            if members.any():  # an emptied cluster keeps its centre
                centres[k] = z[members].mean(0)
    return labels


def _two_means_gram(gram, first, n_iter, tol):
    """:func:`two_means` from the Gram matrix ``gram`` (n, n) of the (centred) rows, in NumPy: the same rounds.

    A centre is a weighted mean ``wᵀz`` of the rows, so the squared distance of row ``i`` to it is
    ``G_ii − 2·(G·w)_i + wᵀ·G·w``; the first centres are rows (one-hot weights), then the means of the clusters.
    Rows whose largest squared distance is within ``tol`` (relative to the largest squared norm) of zero are
    taken as all equal: the Gram matrix's rounding.
    """
    diag = np.diag(gram)
    far = diag - 2.0 * gram[first] + gram[first, first]
    second = int(far.argmax())
    if not far[second] > tol * diag.max():  # all rows equal (up to the Gram matrix's rounding): one cluster
        return np.zeros(len(gram), dtype=bool)
    weights = np.zeros((2, len(gram)))
    weights[0, first] = weights[1, second] = 1.0
    labels = None
    for _ in range(n_iter):
        projected = gram @ weights.T  # (n, 2): G·w_k
        dist = diag[:, None] - 2.0 * projected + np.einsum("kn,nk->k", weights, projected)[None, :]
        new = dist[:, 1] < dist[:, 0]  # ties to the first centre, as argmin does
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        for k, members in enumerate((~labels, labels)):
            count = members.sum()
            if count:  # an emptied cluster keeps its centre
                weights[k] = members / count
    return labels


def n_triplet_members(cluster_size):
    """``K = min(50, floor(cluster_size / 5) + 1)`` positives or negatives (ContraLSP).

    Parameters
    ----------
    cluster_size : torch.Tensor of int
        Size of the cluster the members are drawn from.
    """
    return torch.clamp(cluster_size // 5 + 1, max=_MAX_MEMBERS)


def triplet_term(xr, generator, *, margin=1.0, reading="formula"):
    """Per-anchor triplet loss of a batch of perturbations: ``max(0, D_an − D_ap ∓ margin)``.

    Parameters
    ----------
    xr : torch.Tensor of shape (B, C, T)
        The counterfactual perturbations of the batch (with gradient).
    generator : torch.Generator
        Seeds the 2-means initialisation and the choice of the negatives.
    margin : float, default=1.0
        The margin ``b``.
    reading : {"formula", "aim"}, default="formula"
        ``"formula"``: the paper's written hinge ``max(0, D_an − D_ap − b)``,
        which only acts when the negatives are farther than the positives by
        more than ``b``. ``"aim"``: ``max(0, D_an − D_ap + b)``, what the
        paper's text says the term is for: the negatives closer than the
        positives by at least ``b``.

    Returns
    -------
    torch.Tensor of shape (B,)
        The loss of each anchor; 0 for an anchor without positives (alone in
        its cluster) or without negatives (a single cluster).

    Notes
    -----
    ``D_ap`` is the mean Manhattan distance (mean absolute difference over
    the ``C·T`` entries) from the anchor to its ``K+`` nearest other members
    of its cluster, ``D_an`` the mean distance to ``K-`` members of the other
    cluster drawn at random without replacement, with
    ``K± = min(50, floor(n / 5) + 1)`` where ``n`` is the size of the cluster
    they come from (capped by the members available).
    """
    if reading not in ("formula", "aim"):
        raise ValueError(f"reading must be 'formula' or 'aim', got {reading!r}.")
    B = xr.shape[0]
    flat = xr.reshape(B, -1)
    labels = two_means(flat, generator)
    dist = _mean_abs_distances(flat.detach())  # (B, B), no gradient
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(B, dtype=torch.bool, device=xr.device)
    n_same = same.sum(1)  # cluster size of each anchor (itself included)
    n_other = B - n_same
    k_pos = torch.minimum(n_triplet_members(n_same), n_same - 1)
    k_neg = torch.minimum(n_triplet_members(n_other), n_other)

    inf = torch.tensor(float("inf"), device=xr.device, dtype=dist.dtype)
    # positives: the k_pos nearest same-cluster members (rank by distance)
    pos, pos_order = _first_k(torch.where(same & ~eye, dist, inf), k_pos)
    # negatives: k_neg other-cluster members in a random order
    noise = torch.rand(B, B, generator=generator, device=generator.device).to(xr.device)
    neg, neg_order = _first_k(torch.where(~same, noise.to(dist.dtype), inf), k_neg)

    # on an accelerator the backward takes every anchor's first `width` candidates (a size known without asking
    # the device), with zero weight past its own K; on CPU the selected pairs themselves
    width = min(B, _MAX_MEMBERS, B // 5 + 1) if _accelerator_path(xr.device) else None
    d_an_minus_ap = _SelectedDistances.apply(flat, dist, pos, neg, k_pos.clamp(min=1), k_neg.clamp(min=1),
                                             pos_order, neg_order, width)
    valid = (k_pos > 0) & (k_neg > 0)
    shift = -margin if reading == "formula" else margin
    return torch.where(valid, torch.relu(d_an_minus_ap + shift), torch.zeros_like(d_an_minus_ap))


def _accelerator_path(device):
    """Whether to compute the triplet term without waiting for ``device`` (True except on CPU).

    A GPU runs the explainers' small steps at the pace of the host's launches only if the host never waits:
    2-means runs on the host from one Gram matrix (one wait per step instead of several per Lloyd round) and the
    backward's pairs have a size known in advance (no ``nonzero``).
    """
    return torch.device(device).type != "cpu"


def _first_k(key, k):
    """In each row ``i`` the ``k[i]`` entries of smallest ``key``: a boolean (B, B) and the sort's order.

    One sort (not a rank of ranks): row ``i`` selects ``order[i, :k[i]]``.
    """
    order = key.argsort(1)
    chosen = torch.arange(key.shape[1], device=key.device).unsqueeze(0) < k.unsqueeze(1)
    return torch.zeros_like(chosen).scatter_(1, order, chosen), order


@torch.no_grad()
def _mean_abs_distances(flat):
    """Mean absolute difference between every two rows of ``flat`` (n, D), without gradient.

    On CPU, one row against the rows after it, in place in one buffer (the upper triangle, mirrored): 2-4x
    faster than ``torch.cdist(p=1)`` there; on other devices ``cdist`` (one kernel).
    """
    n, width = flat.shape
    if flat.device.type != "cpu":
        return torch.cdist(flat, flat, p=1.0) / width
    dist = flat.new_zeros(n, n)
    buffer = flat.new_empty(max(n - 1, 0), width)
    for i in range(n - 1):
        rest = buffer[: n - 1 - i]
        torch.sub(flat[i + 1 :], flat[i], out=rest).abs_()
        torch.sum(rest, 1, out=dist[i, i + 1 :])
    dist.div_(width)
    return dist + dist.t()  # the lower triangle is still zero: this mirrors the computed upper one


class _SelectedDistances(torch.autograd.Function):
    """``D_an − D_ap`` per anchor from precomputed distances; the backward visits the selected pairs only.

    Forward: ``(dist·neg).sum(1) / k_neg − (dist·pos).sum(1) / k_pos``. Backward, with
    ``A = g·(neg / k_neg − pos / k_pos)`` (row i: anchor i's coefficients) and D = C·T entries:
    ``∂/∂x_k = Σ_j (A_kj + A_jk)·sign(x_k − x_j) / D``, the derivative of the mean absolute difference.

    The pairs: with ``width`` None, the nonzero entries of ``A + Aᵀ`` above the diagonal (each unordered pair
    once; their number is read from the device); with an int ``width``, the first ``width`` entries of every
    anchor's positive and negative orders, weighted 0 past the anchor's own K (a size fixed in advance).
    """

    @staticmethod
    def forward(ctx, flat, dist, pos, neg, k_pos, k_neg, pos_order, neg_order, width):
        ctx.width = width
        ctx.save_for_backward(flat, pos, neg, k_pos, k_neg, pos_order, neg_order)
        return (dist * neg).sum(1) / k_neg - (dist * pos).sum(1) / k_pos

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        flat, pos, neg, k_pos, k_neg, pos_order, neg_order = ctx.saved_tensors
        if ctx.width is None:
            # the masks in the gradient's dtype first: bool / int would divide in the default float dtype
            weights = neg.to(grad.dtype) / k_neg.unsqueeze(1) - pos.to(grad.dtype) / k_pos.unsqueeze(1)
            coef = grad.unsqueeze(1) * weights
            coef = torch.triu(coef + coef.t(), diagonal=1)  # each unordered pair once
            rows, cols = coef.nonzero(as_tuple=True)
            pair_weights = coef[rows, cols]
        else:
            B, width = flat.shape[0], ctx.width
            slot = torch.arange(width, device=flat.device)
            rows = torch.arange(B, device=flat.device).repeat_interleave(width).repeat(2)
            cols = torch.cat([neg_order[:, :width].reshape(-1), pos_order[:, :width].reshape(-1)])
            neg_w = (slot < k_neg.unsqueeze(1)).to(grad.dtype) / k_neg.unsqueeze(1)
            pos_w = (slot < k_pos.unsqueeze(1)).to(grad.dtype) / k_pos.unsqueeze(1)
            pair_weights = torch.cat([(grad.unsqueeze(1) * neg_w).reshape(-1), -(grad.unsqueeze(1) * pos_w).reshape(-1)])
        return _pair_gradient(flat, rows, cols, pair_weights / flat.shape[1]), *([None] * 8)


def _pair_gradient(flat, rows, cols, pair_weights):
    """``Σ_pairs w·sign(x_r − x_c)`` into row ``r`` and minus it into row ``c``, in chunks of bounded memory."""
    grad_flat = torch.zeros_like(flat)
    chunk = max(1, _CHUNK_ENTRIES // max(1, flat.shape[1]))
    for start in range(0, len(rows), chunk):
        r, c = rows[start : start + chunk], cols[start : start + chunk]
        # in place: fresh (pairs, C·T) buffers cost more than the arithmetic
        contrib = torch.index_select(flat, 0, r).sub_(torch.index_select(flat, 0, c)).sign_()
        contrib.mul_(pair_weights[start : start + chunk].unsqueeze(1))
        grad_flat.index_add_(0, r, contrib)
        grad_flat.index_add_(0, c, contrib, alpha=-1)
    return grad_flat
