"""Tests of the Rare-Feature / Rare-Time generators and their white box."""

import numpy as np
import pytest
import torch

from sklearn_tsmask.datasets import RareWhiteBox, make_rare_feature, make_rare_time

MAKERS = [make_rare_feature, make_rare_time]


def _window(lo, hi, n=50):
    mask = np.zeros(n, dtype=bool)
    mask[lo:hi] = True
    return mask


def _check_rare_feature_sample(sal, time_window):
    """Salient entries of one sample = (5 channels) x (time window), exactly."""
    channels = sal.any(axis=1)
    times = sal.any(axis=0)
    assert channels.sum() == 5
    np.testing.assert_array_equal(times, time_window)
    np.testing.assert_array_equal(sal.astype(bool), np.outer(channels, times))


def _check_rare_time_sample(sal, channel_window, n_salient=5):
    """Salient entries of one sample = (channel window) x (5 consecutive times), exactly."""
    channels = sal.any(axis=1)
    times = np.flatnonzero(sal.any(axis=0))
    np.testing.assert_array_equal(channels, channel_window)
    assert times.size == n_salient
    np.testing.assert_array_equal(times, np.arange(times[0], times[0] + n_salient))
    np.testing.assert_array_equal(sal.astype(bool), np.outer(channels, sal.any(axis=0)))


# --------------------------------------------------------------------------- generators


@pytest.mark.parametrize("make", MAKERS)
def test_shapes_and_dtypes(make):
    out = make(n_samples=100, random_state=0)
    assert len(out) == 3
    X, true_saliency, white_box = out
    assert X.shape == (100, 50, 50) and X.dtype == np.float64
    assert true_saliency.shape == (100, 50, 50) and true_saliency.dtype == np.int8
    assert set(np.unique(true_saliency)) == {0, 1}
    assert isinstance(white_box, RareWhiteBox) and isinstance(white_box, torch.nn.Module)
    assert white_box.n_groups == 1
    assert white_box.salient.shape == (1, 50, 50)

    X2, sal2, wb2, groups = make(n_samples=7, n_timepoints=40, n_channels=45, random_state=0, return_groups=True)
    assert X2.shape == (7, 45, 40) and sal2.shape == (7, 45, 40)
    assert groups.dtype == np.int64 and groups.shape == (7,)
    np.testing.assert_array_equal(groups, np.zeros(7))


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("diffgroups", [False, True])
def test_salient_fraction_is_exactly_5_percent(make, shared, diffgroups):
    _, true_saliency, _ = make(random_state=1, shared_salient=shared, diffgroups=diffgroups)
    assert true_saliency.mean() == 0.05  # 5 * 25 / 2500
    np.testing.assert_array_equal(true_saliency.sum(axis=(1, 2)), np.full(100, 125))


@pytest.mark.parametrize("shared", [True, False])
def test_rare_feature_salient_set(shared):
    _, sal, _ = make_rare_feature(n_samples=20, shared_salient=shared, random_state=3)
    for i in range(20):
        _check_rare_feature_sample(sal[i], _window(12, 37))


@pytest.mark.parametrize("shared", [True, False])
def test_rare_time_salient_set(shared):
    _, sal, _ = make_rare_time(n_samples=20, shared_salient=shared, random_state=3)
    for i in range(20):
        _check_rare_time_sample(sal[i], _window(12, 37))


def test_custom_window_and_n_salient():
    _, sal, _ = make_rare_feature(n_samples=3, n_salient=2, salient_window=(5, 9), random_state=0)
    assert sal[0].sum() == 2 * 4
    np.testing.assert_array_equal(sal[0].any(axis=0), _window(5, 9))
    _, sal, _ = make_rare_time(n_samples=3, n_salient=3, salient_window=(40, 50), random_state=0)
    _check_rare_time_sample(sal[0], _window(40, 50), n_salient=3)


def test_rare_time_start_covers_whole_range():
    # Start drawn uniformly from [0, T - n_salient]: both ends reachable.
    _, sal, _ = make_rare_time(n_samples=2000, n_timepoints=10, n_channels=2, n_salient=5,
                               salient_window=(0, 2), shared_salient=False, random_state=0)
    starts = sal[:, 0, :].argmax(axis=1)
    np.testing.assert_array_equal(np.unique(starts), np.arange(6))


@pytest.mark.parametrize("make", MAKERS)
def test_shared_vs_per_sample(make):
    _, shared, wb_shared, g_shared = make(shared_salient=True, return_groups=True, random_state=0)
    assert all(np.array_equal(shared[0], shared[i]) for i in range(1, 100))
    assert wb_shared.n_groups == 1
    np.testing.assert_array_equal(g_shared, np.zeros(100))

    _, per, wb_per, g_per = make(shared_salient=False, return_groups=True, random_state=0)
    assert not all(np.array_equal(per[0], per[i]) for i in range(1, 100))
    n_distinct = len({per[i].tobytes() for i in range(100)})
    assert n_distinct > 20
    assert wb_per.n_groups == 100
    np.testing.assert_array_equal(g_per, np.arange(100))
    np.testing.assert_array_equal(wb_per.salient.numpy().astype(np.int8), per)


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("shared", [True, False])
def test_seeding(make, shared):
    X1, s1, w1 = make(n_samples=10, shared_salient=shared, random_state=42)
    X2, s2, w2 = make(n_samples=10, shared_salient=shared, random_state=np.random.RandomState(42))
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(s1, s2)
    assert torch.equal(w1.salient, w2.salient)
    X3, s3, _ = make(n_samples=10, shared_salient=shared, random_state=43)
    assert not np.allclose(X1, X3)
    X4, s4, _ = make(n_samples=10, shared_salient=shared, random_state=44)
    # The salient set may collide for one seed, hardly for two.
    assert not (np.array_equal(s1, s3) and np.array_equal(s1, s4))


def test_arma_coefficients_recovered():
    X, _, _ = make_rare_feature(n_samples=1, n_channels=4, n_timepoints=20000, n_salient=1,
                                salient_window=(0, 1), random_state=0)
    x = X[0]  # (4, 20000)
    # Least-squares AR(3) fit pooled over the channels: x_t = a1 x_{t-1} + a2 x_{t-2} + a3 x_{t-3} + e_t.
    lags = np.stack([x[:, 2:-1], x[:, 1:-2], x[:, :-3]], axis=-1).reshape(-1, 3)
    target = x[:, 3:].reshape(-1)
    coef, *_ = np.linalg.lstsq(lags, target, rcond=None)
    np.testing.assert_allclose(coef, [-0.25, -0.1, -0.05], atol=0.03)
    resid = target - lags @ coef
    assert abs(resid.var() - 1.0) < 0.05

    # The exact innovations (zero initial state) are white standard normal noise.
    padded = np.concatenate([np.zeros((4, 3)), x], axis=1)
    eps = padded[:, 3:] + 0.25 * padded[:, 2:-1] + 0.1 * padded[:, 1:-2] + 0.05 * padded[:, :-3]
    assert abs(eps.mean()) < 0.03
    assert abs(eps.var() - 1.0) < 0.05
    lag1 = np.mean([np.corrcoef(e[1:], e[:-1])[0, 1] for e in eps])
    assert abs(lag1) < 0.02
    # The channels are independent.
    assert abs(np.corrcoef(x[0], x[1])[0, 1]) < 0.05


def test_channels_are_independent_series_per_sample():
    X, _, _ = make_rare_time(n_samples=500, n_channels=3, n_timepoints=8, n_salient=2,
                             salient_window=(0, 3), random_state=0)
    # Across samples, a time point has unit-ish variance (>= 1 by the AR recursion) and
    # near-zero correlation between channels and samples.
    var = X.var(axis=0)
    assert np.all(var > 0.8) and np.all(var < 1.3)
    assert abs(np.corrcoef(X[:, 0, -1], X[:, 1, -1])[0, 1]) < 0.15


# --------------------------------------------------------------------------- DiffGroups


@pytest.mark.parametrize("shared", [True, False])
def test_diffgroups_rare_feature_layout(shared):
    X, sal, wb, groups = make_rare_feature(diffgroups=True, shared_salient=shared,
                                           return_groups=True, random_state=0)
    half = (np.arange(100) >= 50).astype(int)
    if shared:
        np.testing.assert_array_equal(groups, half)
        assert wb.n_groups == 2
        assert wb.combinations == ("square_of_sum", "sum_of_squares")
        assert all(np.array_equal(sal[0], sal[i]) for i in range(50))
        assert all(np.array_equal(sal[50], sal[i]) for i in range(50, 100))
    else:
        np.testing.assert_array_equal(groups, np.arange(100))
        assert wb.n_groups == 100
        assert wb.combinations == ("square_of_sum",) * 50 + ("sum_of_squares",) * 50
    for i in range(100):
        _check_rare_feature_sample(sal[i], _window(0, 25) if half[i] == 0 else _window(12, 37))
    np.testing.assert_array_equal(wb.salient.numpy()[groups].astype(np.int8), sal)

    # Group 0: square of the sum; group 1: sum of squares.
    y = wb(torch.from_numpy(X), groups=torch.from_numpy(groups)).numpy()
    masked = X * sal
    expected = np.where(half[:, None] == 0, masked.sum(axis=1) ** 2, (masked ** 2).sum(axis=1))
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    assert np.all(y[:50, 25:] == 0) and np.all(y[50:, :12] == 0) and np.all(y[50:, 37:] == 0)


@pytest.mark.parametrize("shared", [True, False])
def test_diffgroups_rare_time_layout(shared):
    X, sal, wb, groups = make_rare_time(diffgroups=True, shared_salient=shared,
                                        return_groups=True, random_state=0)
    half = (np.arange(100) >= 50).astype(int)
    for i in range(100):
        _check_rare_time_sample(sal[i], _window(0, 25) if half[i] == 0 else _window(12, 37))
    y = wb(torch.from_numpy(X), groups=torch.from_numpy(groups)).numpy()
    masked = X * sal
    expected = np.where(half[:, None] == 0, masked.sum(axis=1) ** 2, (masked ** 2).sum(axis=1))
    np.testing.assert_allclose(y, expected, rtol=1e-12)


def test_diffgroups_draws_sets_per_group():
    # The random part of the set is drawn separately for the two groups.
    differ_f = differ_t = 0
    for seed in range(5):
        _, sal, _ = make_rare_feature(diffgroups=True, random_state=seed)
        differ_f += not np.array_equal(sal[0].any(axis=1), sal[99].any(axis=1))
        _, sal, _ = make_rare_time(diffgroups=True, random_state=seed)
        differ_t += not np.array_equal(sal[0].any(axis=0), sal[99].any(axis=0))
    assert differ_f >= 4 and differ_t >= 4


def test_diffgroups_odd_number_of_samples():
    _, sal, wb, groups = make_rare_feature(n_samples=7, diffgroups=True, return_groups=True, random_state=0)
    np.testing.assert_array_equal(groups, [0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(sal[2].any(axis=0), _window(0, 25))
    np.testing.assert_array_equal(sal[3].any(axis=0), _window(12, 37))


def test_diffgroups_white_box_needs_groups():
    X, _, wb = make_rare_feature(diffgroups=True, random_state=0)
    with pytest.raises(ValueError, match="needs the group id of every row"):
        wb(torch.from_numpy(X))
    X, _, wb = make_rare_time(shared_salient=False, random_state=0)
    # one group per sample: the message says how to give the group ids
    with pytest.raises(
        ValueError,
        match=(
            r"groups \(different salient sets\).*call model\(x, groups=groups\), "
            r"or pass WithInputs\(X, groups=groups\) as X"
        ),
    ):
        wb(torch.from_numpy(X))


# --------------------------------------------------------------------------- white box


def _tiny_white_box():
    # Two groups on C=3 channels, T=4 times.
    salient = np.zeros((2, 3, 4))
    salient[0, [0, 2], 1] = 1  # group 0: channels 0 and 2 at t=1
    salient[0, 1, 2] = 1  # and channel 1 at t=2
    salient[1, [0, 1], 3] = 1  # group 1: channels 0 and 1 at t=3
    return RareWhiteBox(salient, ["square_of_sum", "sum_of_squares"])


def test_white_box_hand_computation():
    wb = _tiny_white_box()
    x = torch.tensor(
        [
            [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [9.0, 10.0, 11.0, 12.0]],
            [[-1.0, 0.5, 2.0, 3.0], [1.0, 1.0, 1.0, -2.0], [0.0, 4.0, 0.0, 0.0]],
        ]
    )
    y0 = wb(x, groups=torch.tensor([0, 0]))
    # square of the sum: t=1 -> (x[0,1] + x[2,1])^2, t=2 -> x[1,2]^2.
    expected0 = torch.tensor([[0.0, (2 + 10) ** 2, 7**2, 0.0], [0.0, (0.5 + 4) ** 2, 1.0, 0.0]])
    torch.testing.assert_close(y0, expected0)
    y1 = wb(x, groups=torch.tensor([1, 1]))
    # sum of squares: t=3 -> x[0,3]^2 + x[1,3]^2.
    expected1 = torch.tensor([[0.0, 0.0, 0.0, 4.0**2 + 8.0**2], [0.0, 0.0, 0.0, 9.0 + 4.0]])
    torch.testing.assert_close(y1, expected1)
    y_mixed = wb(x, groups=torch.tensor([1, 0]))
    torch.testing.assert_close(y_mixed, torch.stack([expected1[0], expected0[1]]))
    # groups may be a list or a numpy array too.
    torch.testing.assert_close(wb(x, groups=[1, 0]), y_mixed)
    torch.testing.assert_close(wb(x, groups=np.array([1, 0])), y_mixed)


def test_white_box_single_group_broadcasts():
    salient = np.zeros((3, 4))
    salient[[0, 1], 2] = 1
    wb = RareWhiteBox(salient, "square_of_sum")
    assert wb.n_groups == 1 and wb.salient.shape == (1, 3, 4)
    x = torch.arange(24.0).reshape(2, 3, 4)
    expected = torch.tensor([[0.0, 0.0, (2 + 6) ** 2, 0.0], [0.0, 0.0, (14 + 18) ** 2, 0.0]])
    torch.testing.assert_close(wb(x), expected)
    torch.testing.assert_close(wb(x, groups=torch.zeros(2, dtype=torch.long)), expected)


def test_white_box_matches_true_saliency_and_is_zero_elsewhere():
    X, sal, wb = make_rare_feature(random_state=0)
    y = wb(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(y, (X**2 * sal).sum(axis=1), rtol=1e-12)
    salient_times = sal.any(axis=1)
    assert np.all(y[~salient_times] == 0)
    assert np.all(y[salient_times] > 0)

    X, sal, wb = make_rare_time(random_state=0)
    y = wb(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(y, (X**2 * sal).sum(axis=1), rtol=1e-12)
    assert np.all(y[~sal.any(axis=1)] == 0)
    assert (y != 0).sum() == 100 * 5


def test_white_box_gradient_only_on_salient_entries():
    X, sal, wb, groups = make_rare_feature(n_samples=6, diffgroups=True, return_groups=True, random_state=0)
    x = torch.from_numpy(X).requires_grad_(True)
    wb(x, groups=torch.from_numpy(groups)).sum().backward()
    grad = x.grad.numpy()
    assert np.all(grad[sal == 0] == 0)
    assert np.all(grad[sal == 1] != 0)
    # Sum of squares (group 1): d/dx sum_t sum_c x^2 = 2x on salient entries.
    np.testing.assert_allclose(grad[3:], 2 * X[3:] * sal[3:], rtol=1e-12)
    # Square of the sum (group 0): 2 * (sum of the salient inputs at t).
    s = (X[:3] * sal[:3]).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(grad[:3], 2 * s * sal[:3], rtol=1e-12)


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("shared", [True, False])
def test_white_box_row_order_independent(make, shared):
    X, _, wb, groups = make(n_samples=20, diffgroups=True, shared_salient=shared,
                            return_groups=True, random_state=0)
    x = torch.from_numpy(X)
    g = torch.from_numpy(groups)
    y = wb(x, groups=g)
    perm = torch.from_numpy(np.random.RandomState(0).permutation(20))
    torch.testing.assert_close(wb(x[perm], groups=g[perm]), y[perm], rtol=0, atol=0)
    # Subsets and repeated rows too (as explainers batch them).
    idx = torch.tensor([19, 0, 0, 7])
    torch.testing.assert_close(wb(x[idx], groups=g[idx]), y[idx], rtol=0, atol=0)
    # Reordering rows without their groups changes the output: the group is not positional.
    assert not torch.equal(wb(x.flip(0), groups=g), y.flip(0))


def test_white_box_dtype_and_to():
    wb = _tiny_white_box()
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    y = wb(x, groups=[0, 1])
    assert y.dtype == torch.float64 and y.shape == (2, 4)
    y32 = wb(x.float(), groups=[0, 1])
    assert y32.dtype == torch.float32
    torch.testing.assert_close(y32, y.float())
    wb64 = wb.to(torch.float64)
    assert wb64.salient.dtype == torch.float64
    assert [name for name, _ in wb.named_buffers()] == ["salient", "square_of_sum"]
    assert list(wb.parameters()) == []


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_white_box_on_cuda():
    X, sal, wb, groups = make_rare_time(n_samples=10, diffgroups=True, return_groups=True, random_state=0)
    y_cpu = wb(torch.from_numpy(X), groups=torch.from_numpy(groups))
    wb_gpu = wb.to("cuda")
    assert wb_gpu.salient.is_cuda
    y = wb_gpu(torch.from_numpy(X).cuda(), groups=torch.from_numpy(groups).cuda())
    assert y.is_cuda
    torch.testing.assert_close(y.cpu(), y_cpu)
    # CPU group ids with CUDA inputs work too.
    torch.testing.assert_close(wb_gpu(torch.from_numpy(X).cuda(), groups=groups).cpu(), y_cpu)


# --------------------------------------------------------------------------- errors


def test_white_box_errors():
    wb = _tiny_white_box()
    x = torch.zeros(2, 3, 4)
    with pytest.raises(ValueError, match="2 groups .* needs the group id of every row"):
        wb(x)
    with pytest.raises(ValueError, match=r"group ids must lie in \[0, 2\)"):
        wb(x, groups=torch.tensor([0, 2]))
    with pytest.raises(ValueError, match=r"group ids must lie in \[0, 2\)"):
        wb(x, groups=torch.tensor([-1, 0]))
    with pytest.raises(ValueError, match=r"groups must have shape \(2,\)"):
        wb(x, groups=torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match="integer group ids"):
        wb(x, groups=torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, n_channels, n_timepoints\)"):
        wb(torch.zeros(2, 4, 3), groups=[0, 1])
    with pytest.raises(TypeError, match="torch.Tensor"):
        wb(np.zeros((2, 3, 4)), groups=[0, 1])
    single = RareWhiteBox(np.ones((1, 3, 4)))
    with pytest.raises(ValueError, match=r"group ids must lie in \[0, 1\)"):
        single(x, groups=[0, 1])
    with pytest.raises(ValueError, match="combination must be one of"):
        RareWhiteBox(np.ones((1, 3, 4)), "sum")
    with pytest.raises(ValueError, match="one combination per group"):
        RareWhiteBox(np.ones((2, 3, 4)), ["sum_of_squares"])
    with pytest.raises(ValueError, match="only 0 and 1"):
        RareWhiteBox(np.full((1, 3, 4), 0.5))
    with pytest.raises(ValueError, match="salient must have shape"):
        RareWhiteBox(np.ones(4))


@pytest.mark.parametrize("make", MAKERS)
def test_generator_errors(make):
    with pytest.raises(ValueError, match="n_samples"):
        make(n_samples=0)
    with pytest.raises(ValueError, match="n_samples"):
        make(n_samples=1, diffgroups=True)
    with pytest.raises(ValueError, match="n_salient"):
        make(n_salient=0)
    with pytest.raises(ValueError, match="n_salient"):
        make(n_salient=51)
    with pytest.raises(ValueError, match="salient_window must satisfy"):
        make(salient_window=(12, 51))
    with pytest.raises(ValueError, match="salient_window must satisfy"):
        make(salient_window=(20, 20))
    with pytest.raises(ValueError, match="salient_window must be a pair"):
        make(salient_window=12)
    with pytest.raises(TypeError, match="n_timepoints"):
        make(n_timepoints=5.5)


def test_window_checked_against_the_right_axis():
    # Rare-Feature: time window; Rare-Time: channel window.
    with pytest.raises(ValueError, match="n_timepoints = 20"):
        make_rare_feature(n_timepoints=20, n_channels=60, salient_window=(12, 37))
    make_rare_feature(n_timepoints=40, n_channels=10, salient_window=(12, 37), random_state=0)
    with pytest.raises(ValueError, match="n_channels = 20"):
        make_rare_time(n_channels=20, n_timepoints=60, salient_window=(12, 37))
    make_rare_time(n_channels=40, n_timepoints=10, salient_window=(12, 37), random_state=0)
    with pytest.raises(ValueError, match="n_salient"):
        make_rare_time(n_timepoints=4, n_salient=5)
