"""DynaMask's numbers on white boxes whose salient entries are known."""

import numpy as np
import pytest
import torch

from sklearn_tsmask import DynaMask
from sklearn_tsmask._base import Batch
from sklearn_tsmask.datasets import RareWhiteBox
from sklearn_tsmask.metrics import aup, auprc, auroc
from conftest import (
    C,
    N_SALIENT,
    SALIENT,
    SALIENT_AREA,
    T,
    GRUClassifier,
    dynamask,
    make_spiky_panel,
    salient_set,
    top_k_sets,
)

PERTURBATIONS = ["gaussian_blur", "fade_moving_average", "fade_past_average", "fade_reference"]


def total_variation(masks):
    return np.abs(np.diff(masks, axis=-1)).sum(axis=(-2, -1))


def assert_finds_salient_set(masks, truth):
    assert masks.shape == truth.shape
    assert all(s == salient_set() for s in top_k_sets(masks, N_SALIENT))
    assert auroc(truth, masks) == 1.0
    assert auprc(truth, masks) == 1.0
    # A perfect 0/1 mask scores AUP(truth, truth) = (1 + 6/64) / 2 / (1 + 1e-5) ≈ 0.547 here: with the
    # thresholds {0, 1} the trapezoid averages the base rate and 1. Masks cannot do better than that.
    assert aup(truth, masks) >= aup(truth, truth) - 1e-9


# ------------------------------------------------------------ finds the set


@pytest.mark.parametrize("mode", ["preservation", "deletion"])
@pytest.mark.parametrize("perturbation", PERTURBATIONS)
def test_finds_salient_entries(spiky, perturbation, mode):
    X, truth, white_box = spiky
    est = dynamask(perturbation=perturbation, mode=mode, n_epochs=60)
    masks = est.fit_transform(X, white_box)
    assert_finds_salient_set(masks, truth)
    # converged: the masks are (almost) the binary truth, the selected error is small
    assert np.abs(masks - truth).mean() < 0.02
    if mode == "preservation":
        assert est.error_.max() < 1e-3
    assert masks.dtype == np.float64


def test_preservation_and_deletion_agree(spiky):
    X, truth, white_box = spiky
    kept = dynamask(mode="preservation").fit_transform(X, white_box)
    removed = dynamask(mode="deletion").fit_transform(X, white_box)
    assert top_k_sets(kept, N_SALIENT) == top_k_sets(removed, N_SALIENT)
    # deletion returns m itself (1 = important), not 1 − m
    assert removed[truth.astype(bool)].mean() > 0.9
    assert removed[~truth.astype(bool)].mean() < 0.1


def test_scalar_regression_output(spiky):
    X, truth, _ = spiky
    S = torch.from_numpy(SALIENT.astype(np.float32))

    def model(x):  # (N,): one number per series
        return ((x * S) ** 2).sum((1, 2))

    est = dynamask(perturbation="fade_reference", n_epochs=60)
    masks = est.fit_transform(X, model)
    assert est.output_shape_ == ()
    assert_finds_salient_set(masks, truth)


def test_adam_finds_salient_entries(spiky):
    X, truth, white_box = spiky
    est = dynamask(optimizer="adam", learning_rate=0.1, n_epochs=60)
    assert_finds_salient_set(est.fit_transform(X, white_box), truth)
    sgd = dynamask(n_epochs=60).fit(X, white_box)
    assert not np.array_equal(est.loss_history_, sgd.loss_history_)  # really another optimiser


def test_cross_entropy_on_classifier():
    # logits = (±Σ salient squares, 0): class 0 iff the salient energy dominates the noise energy
    X, truth = make_spiky_panel(2)
    S = torch.from_numpy(SALIENT.astype(np.float32))

    def model(x):
        energy = ((x * S) ** 2).sum((1, 2))
        return torch.stack([energy - 5.0, torch.zeros_like(energy)], -1)

    est = dynamask(loss="cross_entropy", perturbation="fade_reference", area=[SALIENT_AREA, 0.25], n_epochs=60)
    masks = est.fit_transform(X, model)
    assert masks.shape == X.shape and 0.0 <= masks.min() and masks.max() <= 1.0
    assert est.loss_history_[-1] < est.loss_history_[0]


# --------------------------------------------------------------- selection


AREAS = [3 / 64, SALIENT_AREA, 12 / 64]


def test_area_with_lowest_error_is_selected(spiky):
    X, _, white_box = spiky
    est = dynamask(area=list(reversed(AREAS)), perturbation="fade_reference", n_epochs=60).fit(X, white_box)
    np.testing.assert_array_equal(est.areas_, AREAS)  # sorted
    assert est.error_by_area_.shape == (len(X), 3)
    best = est.error_by_area_.argmin(1)
    np.testing.assert_array_equal(est.area_, np.asarray(AREAS)[best])
    np.testing.assert_array_equal(est.error_, est.error_by_area_[np.arange(len(X)), best])
    # 3 entries cannot hold 6 salient ones: the smallest area has a real error, the others none
    assert (est.error_by_area_[:, 0] > 0.5).all()
    assert (est.error_by_area_[:, 1:] < 1e-3).all()
    np.testing.assert_array_equal(best, 1)


def test_epsilon_picks_smallest_area_below_it(spiky):
    X, _, white_box = spiky
    params = dict(area=AREAS, perturbation="fade_reference", n_epochs=60)
    plain = dynamask(**params).fit(X, white_box)
    errors = plain.error_by_area_
    eps = float(np.median(errors[:, 0]))
    est = dynamask(epsilon=eps, **params).fit(X, white_box)
    np.testing.assert_array_equal(est.error_by_area_, errors)  # epsilon only changes the selection
    ok = errors < eps
    expected = np.where(ok.any(1), ok.argmax(1), errors.argmin(1))
    np.testing.assert_array_equal(est.area_, np.asarray(AREAS)[expected])
    # per sample: some take the smallest area (error below eps), the others the next one
    assert set(expected.tolist()) == {0, 1}
    assert (expected != errors.argmin(1)).any()
    # a huge epsilon: every sample takes the smallest area although it is not the argmin
    huge = dynamask(epsilon=1e6, **params).fit(X, white_box)
    np.testing.assert_array_equal(huge.area_, AREAS[0])
    np.testing.assert_allclose(huge.masks_.sum((1, 2)), 3.0, atol=0.1)  # 3 of 64 entries on
    # an unreachable epsilon falls back to the lowest error
    none_ok = dynamask(epsilon=-1.0, **params).fit(X, white_box)
    np.testing.assert_array_equal(none_ok.area_, plain.area_)
    np.testing.assert_array_equal(none_ok.masks_, plain.masks_)


def test_selected_masks_are_the_selected_areas(spiky):
    X, _, white_box = spiky
    est = dynamask(area=AREAS, perturbation="fade_reference", n_epochs=60, epsilon=1e6).fit(X, white_box)
    alone = dynamask(area=AREAS[0], perturbation="fade_reference", n_epochs=60).fit(X, white_box)
    # variants are optimised independently: the smallest-area masks equal a single-area fit
    np.testing.assert_allclose(est.masks_, alone.masks_, atol=1e-6)
    # and hold about 3 entries of 64
    np.testing.assert_allclose(est.masks_.sum((1, 2)), 3.0, atol=0.1)


def test_deletion_selects_highest_error(spiky):
    X, _, white_box = spiky
    est = dynamask(area=AREAS, mode="deletion", perturbation="fade_reference", n_epochs=60).fit(X, white_box)
    best = est.error_by_area_.argmax(1)
    np.testing.assert_array_equal(est.area_, np.asarray(AREAS)[best])
    eps = float(np.median(est.error_by_area_[:, 0]))
    ext = dynamask(
        area=AREAS, mode="deletion", perturbation="fade_reference", n_epochs=60, epsilon=eps
    ).fit(X, white_box)
    ok = est.error_by_area_ > eps
    expected = np.where(ok.any(1), ok.argmax(1), best)
    np.testing.assert_array_equal(ext.area_, np.asarray(AREAS)[expected])


def test_area_target_counts_exact_entries():
    # 5·(1 − 0.8) is 0.9999999999999998 in floating point: the target must still hold 4 ones, not 5.
    X = np.full((2, 1, 5), 2.0)
    X[1] *= -1.5

    def model(x):  # the last step is irrelevant
        return x[:, 0, :4] ** 2

    masks = dynamask(area=0.8, perturbation="fade_reference", n_epochs=60).fit_transform(X, model)
    np.testing.assert_array_equal(masks, [[[1.0, 1.0, 1.0, 1.0, 0.0]]] * 2)
    est = dynamask(area=[0.2, 0.4, 0.6, 0.8])
    batch = Batch(
        x=torch.zeros(1, 1, 5), target=None, target_classes=None, model_kwargs={}, generator=None,
        fitting=True, rows=slice(0, 1),
    )
    est._init_batch(batch)
    np.testing.assert_array_equal(batch.state["area_target"].sum(-1).numpy(), [1, 2, 3, 4])


# ---------------------------------------------------------- regularisers


@pytest.mark.parametrize("mode", ["preservation", "deletion"])
def test_objective_matches_spec_formula(spiky, mode):
    X, _, white_box = spiky
    lam0, delta, lam_c, n_epochs, epoch = 0.5, 100.0, 0.7, 10, 4
    est = dynamask(
        area=[0.1, 0.3], perturbation="fade_reference", baseline=0.0, mode=mode, lambda_area=lam0,
        lambda_area_growth=delta, lambda_time=lam_c, n_epochs=n_epochs,
    ).fit(X, white_box)
    x = torch.from_numpy(X).float()
    with torch.no_grad():
        target = est.model_(x)
    batch = Batch(
        x=x, target=target, target_classes=None, model_kwargs={}, generator=None, fitting=False,
        rows=slice(0, len(X)), state={"n_total": len(X)},
    )
    est._init_batch(batch)
    np.testing.assert_array_equal(batch.state["mask"].detach().numpy(), 0.5)  # init 0.5
    rng = np.random.RandomState(0)
    m = rng.uniform(size=(len(X), 2, C, T))
    with torch.no_grad():
        batch.state["mask"].copy_(torch.from_numpy(m))
    loss = float(est._batch_loss(batch, epoch).detach())

    n = C * T
    expected = 0.0
    f = lambda z: white_box(torch.from_numpy(z).float()).double().numpy()  # noqa: E731
    fx = f(X)
    for v, n_ones in enumerate([7, 20]):  # 64·0.1 = 6.4 → 7 ones (57 zeros); 64·0.3 = 19.2 → 20 ones
        keep = m[:, v] if mode == "preservation" else 1.0 - m[:, v]
        error = ((f(keep * X) - fx) ** 2).mean(-1)
        r = np.r_[np.zeros(n - n_ones), np.ones(n_ones)]
        area = ((np.sort(m[:, v].reshape(len(X), -1), axis=-1) - r) ** 2).mean(-1)
        tv = np.abs(np.diff(m[:, v], axis=-1)).sum((-2, -1)) / n  # all T − 1 pairs
        sign = 1.0 if mode == "preservation" else -1.0
        expected += (sign * error + lam0 * delta ** (epoch / n_epochs) * area + lam_c * tv).sum()
    assert loss == pytest.approx(expected, rel=1e-5)


def test_lambda_time_reduces_total_variation(spiky):
    X, _, white_box = spiky
    params = dict(area=0.25, n_epochs=60)
    rough = dynamask(lambda_time=0.0, **params).fit_transform(X, white_box)
    smooth = dynamask(lambda_time=20.0, **params).fit_transform(X, white_box)
    tv_rough, tv_smooth = total_variation(rough), total_variation(smooth)
    assert (tv_smooth < tv_rough - 2.0).all(), (tv_rough, tv_smooth)
    assert tv_smooth.mean() < 0.7 * tv_rough.mean()


def test_loss_decreases(spiky):
    X, _, white_box = spiky
    est = dynamask(n_epochs=60).fit(X, white_box)
    assert est.loss_history_.shape == (60,)
    assert est.loss_history_[-1] < 0.01 * est.loss_history_[0]
    # λ_a grows: the late loss is dominated by nothing but a tiny error
    assert est.loss_history_[-1] < 1e-3


def test_lambda_area_growth_pushes_to_binary(spiky):
    X, _, white_box = spiky
    soft = dynamask(lambda_area=0.01, lambda_area_growth=1.0, n_epochs=20, learning_rate=0.1).fit_transform(
        X, white_box
    )
    hard = dynamask(n_epochs=60).fit_transform(X, white_box)
    frac_mid = lambda m: np.mean((m > 0.05) & (m < 0.95))  # noqa: E731
    assert frac_mid(soft) > 0.5
    assert frac_mid(hard) < 0.02


# ----------------------------------------------------------- shapes, batches


def test_masks_in_unit_interval_and_shaped_like_x(spiky):
    X, _, white_box = spiky
    masks = dynamask(area=[0.05, 0.5], n_epochs=30).fit_transform(X, white_box)
    assert masks.shape == X.shape
    assert masks.min() >= 0.0 and masks.max() <= 1.0


def test_2d_input_gives_2d_masks():
    rng = np.random.RandomState(0)
    X = 0.1 * rng.randn(5, 20)
    X[:, [4, 11]] = [2.0, -2.0]

    def model(x):  # (N, T) univariate: x[:, 0] is the only channel
        return x[:, 0, [4, 11]] ** 2

    est = dynamask(area=0.1, perturbation="fade_reference", n_epochs=60)
    masks = est.fit_transform(X, model)
    assert masks.shape == (5, 20)
    assert est.n_features_in_ == 1 and est.n_timepoints_ == 20
    np.testing.assert_array_equal(np.sort(np.argsort(masks, axis=1)[:, -2:], axis=1), [[4, 11]] * 5)
    assert est.transform(X[:2]).shape == (2, 20)


@pytest.mark.parametrize("perturbation", ["gaussian_blur", "fade_moving_average"])
def test_batch_size_does_not_change_masks(perturbation):
    X, _ = make_spiky_panel(3, n=5)  # 5 series: batches of 2, 2, 1
    white_box = RareWhiteBox(SALIENT.astype(np.float32))
    params = dict(area=[SALIENT_AREA, 0.25], perturbation=perturbation, n_epochs=40, lambda_time=0.5)
    full = dynamask(**params).fit(X, white_box)
    small = dynamask(batch_size=2, **params).fit(X, white_box)
    np.testing.assert_allclose(small.masks_, full.masks_, atol=1e-5)
    np.testing.assert_allclose(small.error_by_area_, full.error_by_area_, atol=1e-5)
    np.testing.assert_array_equal(small.area_, full.area_)
    np.testing.assert_allclose(small.loss_history_, full.loss_history_, rtol=1e-4)
    new = make_spiky_panel(4, n=3)[0]
    np.testing.assert_allclose(small.transform(new), full.transform(new), atol=1e-5)


def test_every_mask_row_belongs_to_its_sample():
    # Different samples have different salient sets (one group each): masks must follow their rows.
    rng = np.random.RandomState(5)
    n = 5
    salient = np.zeros((n, C, T), dtype=np.float32)
    for i in range(n):
        salient[i, rng.choice(C), rng.choice(T, 2, replace=False)] = 1
    X = 0.1 * rng.randn(n, C, T)
    X[salient.astype(bool)] = 2.0
    groups = np.arange(n)
    white_box = RareWhiteBox(salient)
    params = dict(area=[2 / 64, 0.25], perturbation="fade_reference", n_epochs=60, batch_size=2)
    est = dynamask(**params).fit(X, white_box, model_kwargs={"groups": groups})
    for i in range(n):
        assert top_k_sets(est.masks_[i : i + 1], 2)[0] == set(np.flatnonzero(salient[i].ravel()).tolist())
    np.testing.assert_array_equal(est.area_, 2 / 64)


def test_same_random_state_same_results(spiky):
    X, _, white_box = spiky
    a = dynamask(area=[0.05, 0.2], random_state=7).fit(X, white_box)
    b = dynamask(area=[0.05, 0.2], random_state=7).fit(X, white_box)
    np.testing.assert_array_equal(a.masks_, b.masks_)
    np.testing.assert_array_equal(a.loss_history_, b.loss_history_)
    np.testing.assert_array_equal(a.error_by_area_, b.error_by_area_)


# --------------------------------------------------------- fade_reference


@pytest.mark.parametrize(
    "baseline",
    [
        0.0,
        np.array(0.5),
        np.zeros(C),
        np.full((C, T), 0.1),
        "per-series",
    ],
    ids=["scalar", "0d", "(C,)", "(C,T)", "(N,C,T)"],
)
def test_fade_reference_baselines(spiky, baseline):
    X, truth, white_box = spiky
    if isinstance(baseline, str):
        baseline = np.random.RandomState(0).uniform(-0.1, 0.1, size=X.shape)
    est = dynamask(perturbation="fade_reference", baseline=baseline, n_epochs=60)
    assert_finds_salient_set(est.fit_transform(X, white_box), truth)


def test_fade_reference_baseline_is_used():
    # With a baseline equal to x the perturbation is the identity: the error is 0 for every mask,
    # so nothing is salient and the area regulariser alone decides.
    X, _ = make_spiky_panel(0)
    white_box = RareWhiteBox(SALIENT.astype(np.float32))
    for batch_size in [None, 4]:  # batches of 4 and 2: each batch must take its own rows of the baseline
        est = dynamask(perturbation="fade_reference", baseline=X.copy(), n_epochs=20, batch_size=batch_size)
        est.fit(X, white_box)
        np.testing.assert_allclose(est.error_by_area_, 0.0, atol=1e-10)
        np.testing.assert_allclose(est.loss_history_[0], 0.25, rtol=1e-6)  # (0.5² per cell) · λ_0 = 1


@pytest.mark.parametrize(
    "baseline, match",
    [
        (np.zeros(C + 1), r"baseline must be a scalar or have shape \(C,\)=\(4,\)"),
        (np.zeros((T, C)), "got shape"),
        (np.zeros((2, C, T)), "one reference per series"),
        (np.zeros((1, 1, C, T)), "got shape"),
    ],
)
def test_fade_reference_bad_baseline(spiky, baseline, match):
    X, _, white_box = spiky
    with pytest.raises(ValueError, match=match):
        dynamask(perturbation="fade_reference", baseline=baseline, n_epochs=2).fit(X, white_box)


def test_per_series_baseline_on_other_data_fails(spiky):
    X, _, white_box = spiky
    est = dynamask(perturbation="fade_reference", baseline=np.zeros(X.shape), n_epochs=2).fit(X, white_box)
    with pytest.raises(ValueError, match="one reference per series"):
        est.transform(X[:3] + 1.0)


def test_verbose_progress_bar(spiky, capsys):
    X, _, white_box = spiky
    dynamask(n_epochs=5, verbose=1).fit(X, white_box)
    assert "DynaMask.fit" in capsys.readouterr().err


# ------------------------------------------------------------------- GPU


def _gru_setup(num_layers=1, dropout=0.0, dtype=torch.float32):
    X, truth = make_spiky_panel(0)
    model = GRUClassifier(hidden=8, num_layers=num_layers, dropout=dropout).to(dtype)
    params = dict(area=[0.1, 0.25], n_epochs=40, model_layout="NTC", random_state=0)
    return X, model, params


@pytest.fixture
def no_tf32():
    # cuDNN's RNNs use TF32 by default on Ampere+ GPUs (outputs ~1e-4 off the CPU's): compare in full fp32.
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        yield


@pytest.mark.gpu
@pytest.mark.parametrize(
    "num_layers, dropout, dtype, atol",
    [
        (1, 0.0, torch.float64, 1e-4),
        (2, 0.5, torch.float64, 1e-4),
        (2, 0.5, torch.float32, 1e-4),  # cuDNN off (dropout between layers): native kernels
        # cuDNN's fp32 GRU differs from the CPU's by ~1e-7 relative; 40 SGD steps with momentum
        # amplify that to ~1e-3 on entries that sit on an interior equilibrium or at the clamp.
        (1, 0.0, torch.float32, 5e-3),
    ],
    ids=["gru1-f64", "gru2-dropout-f64", "gru2-dropout-f32", "gru1-f32"],
)
def test_cuda_gru_matches_cpu(num_layers, dropout, dtype, atol, no_tf32):
    X, model, params = _gru_setup(num_layers, dropout, dtype)
    model.train()  # the user's mode must not matter nor change
    cpu = DynaMask(device="cpu", **params).fit(X, model)
    gpu = DynaMask(device="cuda", **params).fit(X, model)
    assert gpu.device_.type == "cuda"
    assert gpu.model_.disable_cudnn == (num_layers > 1)
    assert model.training and next(model.parameters()).device.type == "cpu"
    assert all(p.grad is None for p in model.parameters())
    masks = gpu.transform(X)
    assert isinstance(masks, np.ndarray) and masks.shape == X.shape
    np.testing.assert_allclose(masks, cpu.masks_, atol=atol)
    np.testing.assert_allclose(gpu.error_by_area_, cpu.error_by_area_, atol=1e-5, rtol=1e-3)
    np.testing.assert_array_equal(gpu.area_, cpu.area_)
    new = make_spiky_panel(1, n=3)[0]
    np.testing.assert_allclose(gpu.transform(new), cpu.transform(new), atol=atol)


@pytest.mark.gpu
def test_cuda_tensor_in_cuda_tensor_out():
    X, model, params = _gru_setup()
    Xc = torch.from_numpy(X).float().cuda()
    est = DynaMask(device="auto", **params)
    masks = est.fit_transform(Xc, model)
    assert est.device_.type == "cuda"
    assert isinstance(masks, torch.Tensor) and masks.is_cuda and masks.dtype == torch.float32
    assert masks.shape == Xc.shape
    from_numpy = DynaMask(device="cuda", **params).fit(X, model)  # same device: same numbers
    np.testing.assert_allclose(masks.cpu().numpy(), from_numpy.masks_, atol=1e-6)
    out = est.transform(Xc[:2].double())
    assert out.is_cuda and out.dtype == torch.float64
    # numpy in, numpy out, even when computed on the GPU
    np.testing.assert_allclose(est.transform(X[:2]), out.cpu().numpy(), atol=1e-6)


@pytest.mark.gpu
def test_cuda_finds_salient_entries(spiky):
    X, truth, white_box = spiky
    masks = dynamask(device="cuda").fit_transform(X, white_box)
    assert_finds_salient_set(masks, truth)
