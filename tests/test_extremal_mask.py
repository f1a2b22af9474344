"""ExtremalMask: objective, perturbation networks, warm starts, contract."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from torch import nn

from sklearn_tsmask import ExtremalMask
from sklearn_tsmask._learned import TRANSFORM_NETWORKS, BatchNetwork
from sklearn_tsmask.datasets import RareWhiteBox
from sklearn_tsmask.metrics import SALIENCY_SCORING
from sklearn_tsmask.perturbation_nets import RecurrentPerturbation, make_perturbation_net
from conftest import C, N_SALIENT, SALIENT, T, GRUClassifier, make_spiky_panel, salient_set, top_k_sets


def extremal(**params):
    defaults = dict(max_iter=150, learning_rate=0.05, perturbation="bigru", tol=None, device="cpu", random_state=0)
    defaults.update(params)
    return ExtremalMask(**defaults)


class ChannelModel(nn.Module):
    """Regression output (N, T): 2·x[:, 1, :], so only channel 1 matters."""

    def forward(self, x):
        return 2.0 * x[:, 1, :]


def channel_data(n=4, seed=0):
    rng = np.random.RandomState(seed)
    return rng.choice([-1.0, 1.0], size=(n, C, T)) * rng.uniform(0.8, 1.2, size=(n, C, T))


# ------------------------------------------------------------ what it finds


def test_defaults_find_the_spikes_and_stop_at_convergence(spiky):
    """No argument but the model: no network, the squared error for the white box (a regressor), and the
    stopping rule ends the optimisation well before max_iter."""
    X, truth, white_box = spiky
    explainer = ExtremalMask(device="cpu", random_state=0)
    explanation = explainer.fit(X, white_box).explain(X)
    masks = explanation.masks
    assert explainer.perturbation_net_ is None and explainer.loss_ == "squared_error"
    assert explanation.n_iter < explainer.max_iter
    assert all(s == salient_set() for s in top_k_sets(masks, N_SALIENT))
    assert masks[:, SALIENT].mean() > 0.9
    assert masks[:, ~SALIENT].mean() < 0.1


@pytest.mark.parametrize("perturbation", ["zeros", "gru", "bigru", "conv"])
def test_finds_the_spikes_of_the_white_box(spiky, perturbation):
    X, truth, white_box = spiky
    masks = extremal(perturbation=perturbation).fit_transform(X, model=white_box)
    assert masks.shape == X.shape and masks.min() >= 0.0 and masks.max() <= 1.0
    assert all(s == salient_set() for s in top_k_sets(masks, N_SALIENT))
    assert masks[:, SALIENT].mean() > 0.8
    assert masks[:, ~SALIENT].mean() < 0.1


def test_zeros_perturbation_hand_computed_optimum():
    """With NN ≡ 0 the per-entry loss is 4(m−1)²x²/T + λ_1·m/(C·T): m* = 1 − λ_1/(8·C·x²)."""
    X = channel_data()
    lam = 1.0
    est = extremal(perturbation="zeros", lambda_1=lam, max_iter=600, learning_rate=0.01, tol=None)
    masks = est.fit_transform(X, ChannelModel())
    expected = 1.0 - lam / (8 * C * X[:, 1, :] ** 2)
    np.testing.assert_allclose(masks[:, 1, :], expected, atol=2e-3)
    np.testing.assert_allclose(masks[:, [0, 2, 3], :], 0.0, atol=1e-6)
    assert est.perturbation_net_ is None


def test_deletion_mode_is_not_degenerate(spiky):
    X, truth, white_box = spiky
    est = extremal(mode="deletion", perturbation="zeros", lambda_1=0.1)
    masks = est.fit_transform(X, model=white_box)
    # the spikes are what must be removed to reach f(0); the rest stays off
    assert all(s == salient_set() for s in top_k_sets(masks, N_SALIENT))
    assert masks[:, ~SALIENT].max() < 0.05
    assert masks[:, SALIENT].mean() > 0.8


# ------------------------------------------------------------ regularisers


def test_lambda_1_shrinks_the_mask(spiky):
    X, _, white_box = spiky
    means = [extremal(lambda_1=lam).fit_transform(X, white_box).mean() for lam in (0.0, 1.0, 20.0)]
    assert means[0] > means[1] > means[2]
    assert means[0] > 0.4  # nothing pushes the mask down but the error


def test_lambda_2_shrinks_the_perturbation(spiky):
    X, _, white_box = spiky
    x = torch.as_tensor(X, dtype=torch.float32)
    sizes = []
    for lam in (0.0, 1.0, 20.0):
        net = extremal(lambda_2=lam).fit(X, white_box).perturbation_net_
        with torch.no_grad():
            sizes.append(net(x).abs().mean().item())
    assert sizes[0] > sizes[1] > sizes[2]
    assert sizes[2] < 0.05


def test_loss_curve_decreases(spiky):
    X, _, white_box = spiky
    est = extremal().fit(X, white_box)
    assert est.loss_curve_.shape == (150,) and est.n_iter_ == 150
    assert est.loss_curve_[-1] < 0.5 * est.loss_curve_[0]
    explanation = est.explain(X)
    assert explanation.error.shape == (len(X),) and np.all(explanation.error >= 0)
    assert explanation.n_iter == 150 and explanation.loss_curve.shape == (150,)
    assert explanation.masks.shape == X.shape


def test_fit_transform_returns_the_masks_trained_with_the_network(spiky):
    """fit and fit_transform train the same network; fit_transform also returns the masks of that run."""
    X, _, white_box = spiky
    fitted = extremal(max_iter=60).fit(X, white_box)
    est = extremal(max_iter=60)
    masks = est.fit_transform(X, white_box)
    assert all(
        torch.equal(a, b) for a, b in zip(fitted.perturbation_net_.parameters(), est.perturbation_net_.parameters())
    )
    np.testing.assert_array_equal(fitted.loss_curve_, est.loss_curve_)
    assert masks.shape == X.shape and masks.min() >= 0.0 and masks.max() <= 1.0
    assert all(s == salient_set() for s in top_k_sets(masks, N_SALIENT))
    assert not hasattr(est, "masks_") and not hasattr(est, "loss_history_")


def test_transform_optimises_again_and_is_deterministic(spiky):
    """No cache: transform optimises from the fitted network each call; seeded, the result repeats."""
    X, _, white_box = spiky
    est = extremal(max_iter=60)
    trained = est.fit_transform(X, white_box)
    first = est.transform(X)
    np.testing.assert_array_equal(est.transform(X), first)
    assert not np.array_equal(first, trained)  # optimised again (from the fitted network), not cached
    assert all(s == salient_set() for s in top_k_sets(first, N_SALIENT))


# ------------------------------------------------------------ seeds, stopping


def test_reproducible_with_random_state(spiky):
    X, _, white_box = spiky
    a = extremal(random_state=3).fit_transform(X, white_box)
    b = extremal(random_state=3).fit_transform(X, white_box)
    c = extremal(random_state=4).fit_transform(X, white_box)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_random_state_leaves_global_torch_rng_alone(spiky):
    X, _, white_box = spiky
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    extremal(max_iter=2).fit(X, white_box)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_tol_stops_at_convergence(spiky):
    X, _, white_box = spiky
    full = extremal(max_iter=1000).fit(X, white_box)
    early = extremal(max_iter=1000, tol=1e-4, n_iter_no_change=10)
    masks = early.fit_transform(X, white_box)
    assert early.n_iter_ < 600
    assert early.loss_curve_.shape == (early.n_iter_,)
    np.testing.assert_allclose(early.loss_curve_, full.loss_curve_[: early.n_iter_], rtol=1e-5)
    assert all(s == salient_set() for s in top_k_sets(masks, N_SALIENT))


def test_tol_per_batch_keeps_the_last_loss_of_stopped_batches(spiky):
    X, _, white_box = spiky
    est = extremal(max_iter=400, tol=1e-3, n_iter_no_change=5, batch_size=2).fit(X, white_box)
    assert est.n_iter_ < 400 and len(est.loss_curve_) == est.n_iter_
    assert np.all(np.isfinite(est.loss_curve_))


# ------------------------------------------------------------ shared network, warm starts


def test_network_is_shared_and_trained_through_batches(spiky):
    X, _, white_box = spiky
    one = extremal(batch_size=None).fit(X, white_box)
    three = extremal(batch_size=2)
    masks = three.fit_transform(X, white_box)
    w_one = [p.clone() for p in one.perturbation_net_.parameters()]
    w_three = [p.clone() for p in three.perturbation_net_.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(w_one, w_three))
    assert all(s == salient_set() for s in top_k_sets(masks, N_SALIENT))


@pytest.mark.parametrize("mode", ["fine_tune", "frozen"])
def test_transform_leaves_the_fitted_network_unchanged(spiky, mode):
    X, _, white_box = spiky
    X_new, _ = make_spiky_panel(seed=1)
    est = extremal(transform_networks=mode).fit(X, white_box)
    before = [p.clone() for p in est.perturbation_net_.parameters()]
    masks = est.transform(X_new)
    assert all(torch.equal(a, b) for a, b in zip(before, est.perturbation_net_.parameters()))
    assert all(s == salient_set() for s in top_k_sets(masks, N_SALIENT))


def test_frozen_and_fine_tuned_transforms_differ(spiky):
    X, _, white_box = spiky
    X_new, _ = make_spiky_panel(seed=1)
    tuned = extremal(transform_networks="fine_tune").fit(X, white_box).transform(X_new)
    frozen = extremal(transform_networks="frozen").fit(X, white_box).transform(X_new)
    assert not np.allclose(tuned, frozen)
    np.testing.assert_allclose(tuned[:, SALIENT], frozen[:, SALIENT], atol=0.1)


def test_each_transform_batch_starts_from_the_fitted_network(spiky):
    """Fine-tuning: a batch's result does not depend on the batches before it."""
    X, _, white_box = spiky
    X_new, _ = make_spiky_panel(seed=1)
    est = extremal(max_iter=60, batch_size=3).fit(X, white_box)
    batched = est.transform(X_new)
    est.set_params(batch_size=None)  # one call per half, each batch from the fitted network
    separately = np.concatenate([est.transform(X_new[:3]), est.transform(X_new[3:])])
    np.testing.assert_allclose(batched, separately, atol=1e-6)


def test_frozen_transform_does_not_depend_on_batching(spiky):
    X, _, white_box = spiky
    X_new, _ = make_spiky_panel(seed=1)
    est = extremal(max_iter=60, transform_networks="frozen").fit(X, white_box)
    whole = est.transform(X_new)
    est.set_params(batch_size=2)
    np.testing.assert_allclose(est.transform(X_new), whole, atol=1e-6)


def test_batch_network_modes():
    """What a batch of the loop gets from a shared network: itself in fit, a copy or a fixed output in transform."""
    assert TRANSFORM_NETWORKS == ("fine_tune", "frozen")
    fitted = make_perturbation_net("gru", 2, random_state=0).eval().requires_grad_(False)  # as fit leaves it
    before = [p.clone() for p in fitted.parameters()]
    x = torch.randn(3, 2, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = fitted(x)

    # fit: the batch trains the shared module itself, so the network learns across batches
    shared = make_perturbation_net("gru", 2, random_state=0)
    training = BatchNetwork(shared, x, training=True, mode="frozen")  # mode is for transform only
    assert training.trainable and training.module is shared
    assert [id(p) for p in training.parameters()] == [id(p) for p in shared.parameters()]

    # fine_tune: a trainable copy in train mode, starting from the fitted weights
    tuned = BatchNetwork(fitted, x, training=False, mode="fine_tune")
    assert tuned.trainable and tuned.module is not fitted and tuned.module.training
    assert tuned.parameters() and all(p.requires_grad for p in tuned.parameters())
    torch.testing.assert_close(tuned(), reference)
    optimizer = torch.optim.SGD(tuned.parameters(), lr=1.0)
    tuned().pow(2).sum().backward()
    optimizer.step()
    assert not torch.allclose(tuned(), reference)  # the copy trained...
    assert all(torch.equal(a, b) for a, b in zip(before, fitted.parameters()))  # ...the fitted net did not
    assert not fitted.training and not any(p.requires_grad for p in fitted.parameters())

    # frozen: the fitted network's output on the batch, computed once, without gradient
    frozen = BatchNetwork(fitted.requires_grad_(True), x, training=False, mode="frozen")
    assert not frozen.trainable and frozen.parameters() == []
    out = frozen()
    assert not out.requires_grad and out.grad_fn is None
    torch.testing.assert_close(out, reference)
    assert frozen() is out  # fixed: the same tensor at every step

    # no network ("zeros"): zeros, whatever the mode
    for training, mode in ((True, "fine_tune"), (False, "fine_tune"), (False, "frozen")):
        none = BatchNetwork(None, x, training=training, mode=mode)
        assert not none.trainable and none.parameters() == []
        assert torch.equal(none(), torch.zeros_like(x))


# ------------------------------------------------------------ user networks


class Smoother(nn.Module):
    def __init__(self, n_channels):
        super().__init__()
        self.conv = nn.Conv1d(n_channels, n_channels, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


def test_user_module_is_copied_not_trained(spiky):
    X, _, white_box = spiky
    torch.manual_seed(0)
    user = Smoother(C)
    before = [p.clone() for p in user.parameters()]
    est = extremal(perturbation=user).fit(X, white_box)
    assert all(torch.equal(a, b) for a, b in zip(before, user.parameters()))
    assert isinstance(est.perturbation_net_, Smoother) and est.perturbation_net_ is not user
    assert any(not torch.equal(a, b) for a, b in zip(before, est.perturbation_net_.parameters()))


def test_user_factory_gets_the_channels_and_is_seeded(spiky):
    X, _, white_box = spiky
    seen = []

    def factory(n_channels):
        seen.append(n_channels)
        return Smoother(n_channels)

    a = extremal(perturbation=factory, random_state=5).fit_transform(X, white_box)
    b = extremal(perturbation=Smoother, random_state=5).fit_transform(X, white_box)
    assert seen == [C]
    np.testing.assert_array_equal(a, b)


class WrongShape(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(T, 2)

    def forward(self, x):
        return self.linear(x)


class NoParameters(nn.Module):
    def forward(self, x):
        return 0.0 * x


@pytest.mark.parametrize(
    "perturbation, error, match",
    [
        (WrongShape(), ValueError, r"shaped like its input \(2, 4, 16\).*got \(2, 4, 2\)"),
        (NoParameters(), ValueError, "no trainable parameters"),
        (lambda n: "not a module", TypeError, "factory must return a torch.nn.Module, got str"),
        (
            "lstm",
            ValueError,
            r"The 'perturbation' parameter of ExtremalMask must be a str among \{.*\}, an instance of "
            r"'torch\.nn\.modules\.module\.Module' or a callable\. Got 'lstm' instead\.",
        ),
        (3, TypeError, r"The 'perturbation' parameter of ExtremalMask must be a str among .* Got 3 instead\."),
    ],
)
def test_bad_perturbation_networks(spiky, perturbation, error, match):
    X, _, white_box = spiky
    with pytest.raises(error, match=match):
        extremal(perturbation=perturbation).fit(X, white_box)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"lambda_1": -1.0}, r"'lambda_1' parameter of ExtremalMask must be a float in the range \[0\.0, inf\)\. Got -1\.0 "),
        ({"lambda_2": "a"}, r"'lambda_2' parameter of ExtremalMask must be a float in the range \[0\.0, inf\)\. Got 'a' "),
        ({"mode": "both"}, r"'mode' parameter of ExtremalMask must be a str among \{.*\}\. Got 'both' instead"),
        (
            {"transform_networks": "retrain"},
            r"'transform_networks' parameter of ExtremalMask must be a str among \{.*\}\. Got 'retrain' instead",
        ),
        ({"tol": -0.1}, r"'tol' parameter of ExtremalMask must be a float in the range \[0\.0, inf\) or None\. Got -0\.1 "),
        ({"n_iter_no_change": 0}, r"'n_iter_no_change' parameter of ExtremalMask must be an int in the range \[1, inf\)"),
        ({"max_iter": True}, r"'max_iter' parameter of ExtremalMask must be an int in the range \[1, inf\)\. Got True "),
    ],
)
def test_invalid_hyper_parameters(spiky, params, match):
    X, _, white_box = spiky
    with pytest.raises((ValueError, TypeError), match=match):
        extremal(**params).fit(X, white_box)


def test_recurrent_perturbation_shapes_and_causality():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 10)
    causal = RecurrentPerturbation(3, bidirectional=False)
    both = RecurrentPerturbation(3)
    assert causal(x).shape == x.shape and both(x).shape == x.shape
    assert both.linear.in_features == 6 and causal.linear.in_features == 3
    y = x.clone()
    y[:, :, 7:] += 1.0  # change the future only
    np.testing.assert_allclose(causal(y)[:, :, :7].detach(), causal(x)[:, :, :7].detach(), atol=1e-6)
    assert not torch.allclose(both(y)[:, :, :7], both(x)[:, :, :7])


def test_conv_perturbation_hand_computed():
    """One channel, one feature, identity mixings: the output is tanh of the blind-spot filter, by hand."""
    from sklearn_tsmask.perturbation_nets import ConvPerturbation

    net = ConvPerturbation(1, hidden_size=1, kernel_size=3).double()
    causal = ConvPerturbation(1, hidden_size=1, kernel_size=2, causal=True).double()
    with torch.no_grad():
        for m in (net, causal):
            m.mix_in.weight.fill_(1.0), m.mix_in.bias.zero_(), m.mix_out.weight.fill_(1.0), m.mix_out.bias.zero_()
            m.temporal.bias.fill_(0.1)
        net.temporal.weight.copy_(torch.tensor([[[0.5, 7.0, 0.25]]]))  # the centre tap (7) is never used
        causal.temporal.weight.copy_(torch.tensor([[[0.5, 2.0]]]))  # t − 2, t − 1
    x = torch.tensor([[[1.0, 2.0, 4.0, 8.0]]], dtype=torch.float64)
    # zero padding: t = 0 reads 0.25·x1; t = 3 reads 0.5·x2
    expected = torch.tanh(torch.tensor([0.25 * 2, 0.5 * 1 + 0.25 * 4, 0.5 * 2 + 0.25 * 8, 0.5 * 4]) + 0.1)
    torch.testing.assert_close(net(x)[0, 0], expected.double())
    expected_causal = torch.tanh(torch.tensor([0.0, 2.0 * 1, 0.5 * 1 + 2.0 * 2, 0.5 * 2 + 2.0 * 4]) + 0.1)
    torch.testing.assert_close(causal(x)[0, 0], expected_causal.double())


def test_conv_perturbation_never_reads_the_entry_nor_the_future_when_causal():
    from sklearn_tsmask.perturbation_nets import ConvPerturbation

    torch.manual_seed(0)
    both, causal = ConvPerturbation(4, kernel_size=5), ConvPerturbation(4, kernel_size=5, causal=True)
    x = torch.randn(2, 4, 12)
    for t in (0, 6, 11):
        y = x.clone()
        y[:, :, t] += 3.0  # every channel at step t
        for net in (both, causal):
            torch.testing.assert_close(net(y)[..., t], net(x)[..., t])
        assert not torch.allclose(both(y), both(x))  # the neighbours do read it
        torch.testing.assert_close(causal(y)[..., :t + 1], causal(x)[..., :t + 1])  # nothing before reads it
    with pytest.raises(ValueError, match="kernel_size must be an odd integer"):
        ConvPerturbation(3, kernel_size=4)
    x.requires_grad_(True)
    both(x).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in both.parameters())


def test_make_perturbation_net_seeding():
    a = make_perturbation_net("bigru", 3, random_state=0)
    b = make_perturbation_net("bigru", 3, random_state=0)
    c = make_perturbation_net("bigru", 3, random_state=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))
    assert make_perturbation_net("zeros", 3) is None
    d, e = make_perturbation_net("conv", 3, random_state=0), make_perturbation_net("conv", 3, random_state=0)
    assert type(d).__name__ == "ConvPerturbation" and all(torch.equal(p, q) for p, q in zip(d.parameters(), e.parameters()))


# ------------------------------------------------------------ classifiers, contract


def test_log_loss_with_a_gru_classifier():
    rng = np.random.RandomState(0)
    X = rng.randn(3, C, T).astype(np.float32)
    est = ExtremalMask(max_iter=30, loss="log_loss", model_layout="NTC", device="cpu", random_state=0)
    masks = est.fit_transform(X, GRUClassifier())
    assert masks.shape == X.shape and np.isfinite(masks).all()
    deletion = clone(est).set_params(mode="deletion").fit_transform(X, GRUClassifier())
    assert deletion.shape == X.shape and not np.allclose(deletion, masks)


def test_clone_and_pickle(spiky):
    X, _, white_box = spiky
    est = extremal(lambda_1=0.5, perturbation="gru", max_iter=20)
    cl = clone(est)
    assert cl.get_params() == est.get_params()
    est.fit(X, white_box)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.loss_curve_, est.loss_curve_)
    fitted, copied = est.perturbation_net_.parameters(), again.perturbation_net_.parameters()
    assert all(torch.equal(a, b) for a, b in zip(fitted, copied))
    # transform optimises from the fitted network (nothing cached): the same on the copy, for X too
    np.testing.assert_array_equal(again.transform(X), est.transform(X))
    X_new, _ = make_spiky_panel(seed=2)
    np.testing.assert_array_equal(again.transform(X_new), est.transform(X_new))


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_over_lambdas(n_jobs):
    X, truth = make_spiky_panel(0, n=8)
    white_box = RareWhiteBox(SALIENT.astype(np.float32))
    search = GridSearchCV(
        extremal(max_iter=80, perturbation="zeros"),
        {"lambda_1": [1.0, 100.0], "lambda_2": [1.0]},
        scoring=SALIENCY_SCORING,  # every metric from one transform per test fold
        refit="aur",  # AUP rewards graded masks: a sharp 0/1 mask scores (1 + share salient) / 2
        cv=KFold(2),
        n_jobs=n_jobs,
    )
    search.fit(X, truth, model=white_box)
    res = search.cv_results_
    # a size penalty of 100 outweighs the error of the weaker spikes: they are switched off too
    assert search.best_params_ == {"lambda_1": 1.0, "lambda_2": 1.0}
    assert res["mean_test_aur"][0] > 0.99 > 0.7 > res["mean_test_aur"][1]
    assert res["mean_test_auroc"][0] == 1.0 > res["mean_test_auroc"][1]
    masks = search.best_estimator_.transform(X)
    assert all(s == salient_set() for s in top_k_sets(masks, N_SALIENT))


@pytest.mark.gpu
def test_gru_classifier_on_cuda():
    rng = np.random.RandomState(0)
    X = rng.randn(3, C, T).astype(np.float32)
    params = dict(max_iter=30, perturbation="bigru", tol=None, model_layout="NTC", random_state=0)
    masks = ExtremalMask(device="cuda", **params).fit_transform(X, GRUClassifier())
    cpu = ExtremalMask(device="cpu", **params).fit_transform(X, GRUClassifier())
    assert masks.shape == X.shape
    np.testing.assert_allclose(masks, cpu, atol=1e-3)


@pytest.mark.gpu
def test_adam_is_fused_on_cuda():
    from sklearn_tsmask._base import _adam

    assert _adam([torch.zeros(3, device="cuda", requires_grad=True)], 0.1).defaults["fused"] is True


def test_optimisers_are_fused_on_cpu_and_take_the_steps_of_the_loop():
    """The explainers' Adam and SGD use torch's fused kernels on CPU (one pass over all parameters): the same
    steps as the per-parameter loop, to rounding; without a fused kernel the loop is used."""
    from sklearn_tsmask._base import _adam, _fused_where_possible, _sgd

    def run(make, fused):
        torch.manual_seed(0)
        params = [torch.randn(4, 5, requires_grad=True), torch.randn(7, requires_grad=True)]
        start = torch.cat([p.detach().flatten() for p in params])
        opt = make(params)
        assert bool(opt.defaults["fused"]) is fused
        for _ in range(20):
            opt.zero_grad()
            sum(((p - 1.0) ** 4).sum() for p in params).backward()
            opt.step()
        end = torch.cat([p.detach().flatten() for p in params])
        assert float((end - start).abs().min()) > 1e-5  # every parameter moved
        return end

    for fused_make, loop_make in (
        (lambda p: _adam(p, 0.05), lambda p: torch.optim.Adam(p, lr=0.05)),
        (lambda p: _sgd(p, 0.01, 0.9), lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)),
    ):
        torch.testing.assert_close(run(fused_make, True), run(loop_make, False), rtol=1e-5, atol=1e-6)

    class NoFusedKernel(torch.optim.Adam):
        def __init__(self, params, fused=None, **options):
            if fused:
                raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of "
                                   "supported devices")
            super().__init__(params, **options)

    opt = _fused_where_possible(NoFusedKernel, [torch.zeros(3, requires_grad=True)], lr=0.1)
    assert not opt.defaults["fused"]
