"""ContraLSP's contrastive term: 2-means, triplet selection, hand-computed losses, gradients."""

import itertools

import numpy as np
import pytest
import torch

from sklearn_tsmask._contrastive import n_triplet_members, triplet_term, two_means


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def constant_series(values, C=2, T=5):
    """One series per value, every entry equal to it: Manhattan distances are |a − b|."""
    v = torch.as_tensor(values, dtype=torch.float64)
    return v.view(-1, 1, 1).expand(-1, C, T).clone()


@pytest.mark.parametrize("method", ["rows", "gram"])
def test_two_means_separates_two_groups(method):
    rng = np.random.RandomState(0)
    z = torch.from_numpy(np.vstack([rng.randn(7, 4) + 5.0, rng.randn(5, 4) - 5.0]))
    for seed in range(5):
        labels = two_means(z, gen(seed), method=method)
        # the same partition whatever the first centre
        assert len(set(labels[:7].tolist())) == 1 and len(set(labels[7:].tolist())) == 1
        assert labels[0] != labels[7]


@pytest.mark.parametrize("method", ["rows", "gram"])
def test_two_means_degenerate_inputs(method):
    assert not two_means(torch.ones(6, 3), gen(), method=method).any()  # all rows equal: one cluster
    assert not two_means(torch.full((5, 7), 0.1), gen(), method=method).any()  # also when z·zᵀ rounds
    assert two_means(torch.zeros(1, 3), gen(), method=method).shape == (1,)
    # Lloyd's fixed point: 1-D points {0, 1, 2, 10}: {0, 1, 2} vs {10}
    labels = two_means(torch.tensor([[0.0], [1.0], [2.0], [10.0]]), gen(3), method=method)
    assert labels.tolist() in ([False, False, False, True], [True, True, True, False])
    with pytest.raises(ValueError, match="method must be"):
        two_means(torch.ones(6, 3), gen(), method="kmeans")


def test_two_means_from_the_gram_matrix_equals_the_rounds_on_the_rows():
    """The accelerators' path (Gram matrix on the device, rounds on the host) gives the same clusters, also
    for overlapping groups that need several rounds, and draws the same numbers from the generator."""
    rng = np.random.RandomState(1)
    for trial in range(20):
        n, d = rng.randint(2, 60), rng.randint(1, 30)
        z = torch.from_numpy(rng.randn(n, d) + rng.rand() * np.where(rng.rand(n, 1) < 0.4, 1.0, -1.0))
        z = z.to(torch.float32) if trial % 2 else z
        g_rows, g_gram = gen(trial), gen(trial)
        rows = two_means(z, g_rows, method="rows")
        gram = two_means(z, g_gram, method="gram")
        assert torch.equal(rows, gram), trial
        assert torch.equal(torch.rand(3, generator=g_rows), torch.rand(3, generator=g_gram))


def test_two_means_from_the_gram_matrix_keeps_float32_precision_far_from_the_origin():
    """The Gram matrix is computed in the data's precision (float32 products are fast on every GPU): it is taken
    on centred rows, so an offset of 1000 under clusters 0.2 apart leaves the clusters found, also in half
    precision (computed in float32)."""
    rng = np.random.RandomState(3)
    groups = np.vstack([rng.randn(30, 40) * 0.05 + 0.1, rng.randn(20, 40) * 0.05 - 0.1])
    for dtype in (torch.float32, torch.float16):
        z = torch.from_numpy(groups + 1000.0 * (dtype == torch.float32)).to(dtype)
        labels = two_means(z, gen(0), method="gram")
        assert len(set(labels[:30].tolist())) == 1 and len(set(labels[30:].tolist())) == 1
        assert labels[0] != labels[30]
    assert not two_means(torch.full((8, 5), 1000.0), gen(), method="gram").any()  # equal rows, rounded


@pytest.mark.parametrize("size, k", [(1, 1), (4, 1), (5, 2), (9, 2), (10, 3), (244, 49), (245, 50), (1000, 50)])
def test_member_count_formula(size, k):
    assert int(n_triplet_members(torch.tensor(size))) == k


def test_hand_computed_triplet_losses():
    """Cluster A = {0, 0.2, 0.5, 1.5}, cluster B = {10}: K+ = 1 (nearest), K- = 1 (the only B member).

    loss = max(0, D_an − D_ap − 1): 10 − 0.2 − 1, 9.8 − 0.2 − 1, 9.5 − 0.3 − 1, 8.5 − 1 − 1;
    the B series has no positive: 0.
    """
    xr = constant_series([0.0, 0.2, 0.5, 1.5, 10.0])
    loss = triplet_term(xr, gen(), margin=1.0)
    np.testing.assert_allclose(loss.numpy(), [8.8, 8.6, 8.2, 6.5, 0.0], atol=1e-12)
    # margin 9: only the first two anchors still violate it
    np.testing.assert_allclose(triplet_term(xr, gen(), margin=9.0).numpy(), [0.8, 0.6, 0.2, 0.0, 0.0], atol=1e-12)


def test_the_aim_reading_acts_until_the_negatives_are_closer_by_the_margin():
    """Same clusters: max(0, D_an − D_ap + b) with b = 1: 10 − 0.2 + 1, 9.8 − 0.2 + 1, 9.5 − 0.3 + 1, 8.5 − 1 + 1."""
    xr = constant_series([0.0, 0.2, 0.5, 1.5, 10.0])
    np.testing.assert_allclose(triplet_term(xr, gen(), margin=1.0, reading="aim").numpy(),
                               [10.8, 10.6, 10.2, 8.5, 0.0], atol=1e-12)
    # at small distances (here 0.1 apart within clusters, 0.3 between) the written hinge never acts, the aim does
    small = constant_series([0.0, 0.01, 0.02, 0.3, 0.31, 0.32])
    assert torch.equal(triplet_term(small, gen(), margin=1.0), torch.zeros(6))
    aim = triplet_term(small, gen(), margin=1.0, reading="aim")
    assert bool((aim > 1.0).all())  # D_an − D_ap ≈ 0.29 > 0: each anchor pays 1.29
    with pytest.raises(ValueError, match="reading must be"):
        triplet_term(small, gen(), reading="text")


def test_negatives_are_k_random_members_of_the_other_cluster():
    """Other cluster of 10 distinct series: K- = 10 // 5 + 1 = 3 of them, drawn without replacement."""
    others = [20.0 + k for k in range(10)]
    xr = constant_series([0.0, 0.1] + others)
    seen = set()
    for seed in range(8):
        loss = triplet_term(xr, gen(seed), margin=0.0)
        # anchor 0: one positive (0.1, at distance 0.1); negatives: 3 of the 10
        d_an = float(loss[0]) + 0.1
        matches = [c for c in itertools.combinations(others, 3) if abs(np.mean(c) - d_an) < 1e-9]
        assert matches, d_an
        seen.add(round(d_an, 9))
    assert len(seen) > 1  # the draw depends on the generator
    again = triplet_term(xr, gen(3), margin=0.0)
    torch.testing.assert_close(again, triplet_term(xr, gen(3), margin=0.0), rtol=0, atol=0)


def test_single_cluster_has_no_triplet_loss():
    assert torch.equal(triplet_term(torch.ones(4, 2, 3), gen()), torch.zeros(4))


def test_gradient_reaches_the_perturbations():
    xr = constant_series([0.0, 0.2, 0.5, 1.5, 10.0]).requires_grad_(True)
    triplet_term(xr, gen(), margin=1.0).sum().backward()
    g = xr.grad
    F = g[0].numel()
    # series 0 as an anchor: d/dx of mean|x − 10| − mean|x − 0.2| = (−1 + 1)/F per entry;
    # as the positive of anchor 1: d/dx of −mean|0.2 − x| = +1/F
    np.testing.assert_allclose(g[0].numpy(), 1.0 / F, atol=1e-12)
    # the B series is the negative of all four anchors: each pulls it toward A (+1/F each)
    np.testing.assert_allclose(g[4].numpy(), 4.0 / F, atol=1e-12)


def _dense_reference(xr, generator, margin, reading):
    """The term with autograd through the full distance matrix (what the selected-pair backward must equal)."""
    B = xr.shape[0]
    flat = xr.reshape(B, -1)
    labels = two_means(flat, generator)
    dist = torch.cdist(flat, flat, p=1.0) / flat.shape[1]
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    n_same = same.sum(1)
    k_pos = torch.minimum(n_triplet_members(n_same), n_same - 1)
    k_neg = torch.minimum(n_triplet_members(B - n_same), B - n_same)
    inf = torch.tensor(float("inf"), dtype=dist.dtype)
    pos = torch.where(same & ~torch.eye(B, dtype=torch.bool), dist.detach(), inf).argsort(1).argsort(1) < k_pos[:, None]
    noise = torch.rand(B, B, generator=generator).to(dist.dtype)
    neg = torch.where(~same, noise, inf).argsort(1).argsort(1) < k_neg[:, None]
    diff = (dist * neg).sum(1) / k_neg.clamp(min=1) - (dist * pos).sum(1) / k_pos.clamp(min=1)
    shift = -margin if reading == "formula" else margin
    return torch.where((k_pos > 0) & (k_neg > 0), torch.relu(diff + shift), torch.zeros_like(diff))


@pytest.mark.parametrize("accelerator", [False, True])  # the accelerators' sync-free path, run on CPU
@pytest.mark.parametrize("chunk", [1 << 22, 7])  # one chunk, or many chunks of a single pair
@pytest.mark.parametrize("reading, margin", [("aim", 1.0), ("formula", 0.0)])
def test_selected_pair_backward_equals_the_dense_gradient(monkeypatch, chunk, reading, margin, accelerator):
    import sklearn_tsmask._contrastive as contrastive

    monkeypatch.setattr(contrastive, "_CHUNK_ENTRIES", chunk)
    monkeypatch.setattr(contrastive, "_accelerator_path", lambda device: accelerator)
    rng = np.random.RandomState(0)
    x = torch.from_numpy(np.vstack([rng.randn(9, 3, 4) + 1.0, rng.randn(14, 3, 4) - 1.0]))
    upstream = torch.from_numpy(rng.rand(len(x)))  # a different weight per anchor
    a = x.clone().requires_grad_(True)
    b = x.clone().requires_grad_(True)
    ours = triplet_term(a, gen(5), margin=margin, reading=reading)
    dense = _dense_reference(b, gen(5), margin, reading)
    torch.testing.assert_close(ours, dense, rtol=0, atol=1e-12)
    assert int((ours > 0).sum()) >= 10  # the hinge is active for most anchors: the gradients are not trivially 0
    (ours * upstream).sum().backward()
    (dense * upstream).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-12)
    assert float(a.grad.abs().max()) > 0


@pytest.mark.parametrize("n", [0, 1, 2, 9])
def test_mean_abs_distances_equal_cdist(n):
    from sklearn_tsmask._contrastive import _mean_abs_distances

    x = torch.from_numpy(np.random.RandomState(n).randn(n, 12))
    dist = _mean_abs_distances(x)
    torch.testing.assert_close(dist, torch.cdist(x, x, p=1.0) / 12, rtol=0, atol=1e-14)
    assert torch.equal(dist, dist.t()) and not dist.diagonal().any()


def test_the_accelerator_path_reads_from_the_device_once_per_step(monkeypatch):
    """On a GPU every read of a device value stalls the queue of launches: the triplet term (forward and
    backward) copies one Gram matrix to the host and reads no scalar, count (``nonzero``) or comparison."""
    from torch.utils._python_dispatch import TorchDispatchMode

    import sklearn_tsmask._contrastive as contrastive

    class Reads(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops.append(func.overloadpacket.__name__)
            return func(*args, **(kwargs or {}))

    rng = np.random.RandomState(0)
    xr = torch.from_numpy(np.vstack([rng.randn(9, 3, 4) + 1.0, rng.randn(14, 3, 4) - 1.0])).requires_grad_(True)
    reading_ops = {"_local_scalar_dense", "nonzero", "equal", "is_nonzero", "item"}
    for accelerator, expected in ((True, []), (False, None)):
        monkeypatch.setattr(contrastive, "_accelerator_path", lambda device, on=accelerator: on)
        with Reads() as mode:
            triplet_term(xr, gen(2), margin=0.0).sum().backward()
        reads = [op for op in mode.ops if op in reading_ops]
        assert "index_add_" in mode.ops  # the backward was watched too
        if expected is None:
            assert len(reads) > 5  # the CPU path asks freely: a per-round convergence test, the pairs' count
        else:
            assert reads == expected  # the Gram matrix's copy to the host (a no-op here) is the one wait


@pytest.mark.gpu
def test_the_triplet_term_on_cuda_equals_the_cpu_one():
    """On CUDA the accelerators' path (Gram matrix on the host, fixed-size backward); with the same CPU
    generator it draws the same centres and negatives, so loss and gradient equal the CPU path's."""
    rng = np.random.RandomState(0)
    x = torch.from_numpy(np.vstack([rng.randn(40, 3, 20) + 0.5, rng.randn(60, 3, 20) - 0.5]))
    upstream = torch.from_numpy(rng.rand(len(x)))
    losses, grads = [], []
    for device in ("cpu", "cuda"):
        xr = x.to(device).requires_grad_(True)
        loss = triplet_term(xr, gen(4), margin=0.0, reading="aim")
        (loss * upstream.to(device)).sum().backward()
        losses.append(loss.detach().cpu())
        grads.append(xr.grad.cpu())
    assert int((losses[0] > 0).sum()) > 50
    torch.testing.assert_close(losses[1], losses[0], rtol=0, atol=1e-10)
    torch.testing.assert_close(grads[1], grads[0], rtol=0, atol=1e-12)
