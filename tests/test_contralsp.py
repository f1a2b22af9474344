"""ContraLSP: gates, trend, regularisers, contrastive switch, warm starts, contract."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from torch import nn

from sklearn_tsmask import ContraLSP
from sklearn_tsmask.callbacks import Callback
from sklearn_tsmask.contralsp import ChannelTrend, _gate
from sklearn_tsmask.datasets import RareWhiteBox, make_rare_feature
from sklearn_tsmask.metrics import SALIENCY_SCORING, aup, aur
from conftest import C, N_SALIENT, SALIENT, T, GRUClassifier, make_spiky_panel, salient_set, top_k_sets


def contralsp(**params):
    defaults = dict(alpha=0.1, beta=0.1, sigma=0.5, max_iter=150, learning_rate=0.1, device="cpu", random_state=0)
    defaults.update(params)
    return ContraLSP(**defaults)


# ------------------------------------------------------------ building blocks


def test_gate_hand_computed():
    z = torch.tensor([-0.5, 0.5, 1.5, 1.5, -1.0])
    tau = torch.tensor([3.0, 0.0, 1.0, -1.0, 2.0])
    expected = [0.0, 0.5, 2.0 / (1.0 + np.exp(-2.0)), 2.0 / (1.0 + np.exp(2.0)), -0.5 / (1.0 + np.exp(1.0))]
    np.testing.assert_allclose(_gate(z, tau).numpy(), expected, rtol=1e-6)


def test_channel_trend_is_one_mlp_per_channel():
    torch.manual_seed(0)
    trend = ChannelTrend(n_channels=3, n_timepoints=7, hidden_size=5)
    x = torch.randn(4, 3, 7)
    out = trend(x)
    for c in range(3):
        hidden = torch.relu(x[:, c, :] @ trend.weight_in[c].T + trend.bias_in[c])
        torch.testing.assert_close(out[:, c, :], hidden @ trend.weight_out[c].T + trend.bias_out[c])
    x2 = x.clone()
    x2[:, 1] += 1.0  # channel 1 only moves channel 1
    out2 = trend(x2)
    torch.testing.assert_close(out2[:, [0, 2]], out[:, [0, 2]])
    assert not torch.allclose(out2[:, 1], out[:, 1])
    assert sum(p.numel() for p in trend.parameters()) == 3 * (7 * 5 + 5 + 5 * 7 + 7)


# ------------------------------------------------------------ what it finds


# With "conv" and "triplet_aim", explain's fine-tuned counterfactual reproduces one salient spike of one of the
# six series from its neighbours (its gate closes at zero error): the copying failure of learned perturbations,
# which the blind spot of "conv" makes harder but not impossible (see the next test).
@pytest.mark.parametrize("contrastive, perturbation", [("triplet", "conv"), ("triplet", "bigru"),
                                                       ("triplet_aim", "bigru"), ("l1_only", "conv")])
def test_finds_the_spikes_of_the_white_box(spiky, contrastive, perturbation):
    X, truth, white_box = spiky
    est = contralsp(contrastive=contrastive, perturbation=perturbation)
    masks = est.fit_transform(X, model=white_box)
    assert masks.shape == X.shape and masks.min() >= 0.0 and masks.max() <= 1.0
    assert all(s == salient_set() for s in top_k_sets(masks, N_SALIENT))
    assert masks[:, SALIENT].mean() > 0.9
    assert masks[:, ~SALIENT].mean() < 0.05
    # the model's error at the masks of the fitted series (explain re-optimises them from the fitted networks)
    explanation = est.explain(X)
    assert explanation.error.shape == (len(X),) and explanation.error.max() < 0.05
    assert all(s == salient_set() for s in top_k_sets(explanation.masks, N_SALIENT))


def test_rare_feature_white_box():
    X, truth, white_box = make_rare_feature(n_samples=8, random_state=0)
    masks = contralsp(max_iter=100).fit_transform(X, model=white_box)
    assert aup(truth, masks) > 0.99 and aur(truth, masks) > 0.95


def test_alpha_shrinks_the_mask(spiky):
    X, _, white_box = spiky
    small = contralsp(alpha=0.01).fit_transform(X, white_box)
    large = contralsp(alpha=100.0).fit_transform(X, white_box)  # an open gate costs alpha/64: weak spikes go
    assert large.mean() < 0.5 * small.mean()


def test_beta_shrinks_the_counterfactuals(spiky):
    X, _, white_box = spiky
    x = torch.as_tensor(X, dtype=torch.float32)
    sizes = []
    for beta in (0.0, 10.0):
        net = contralsp(beta=beta).fit(X, white_box).perturbation_net_
        with torch.no_grad():
            sizes.append(float(net(x).abs().mean()))
    assert sizes[1] < 0.2 * sizes[0]


def test_contrastive_switch_changes_only_the_counterfactual_training(spiky):
    X, _, white_box = spiky
    x = torch.as_tensor(X, dtype=torch.float32)
    triplet = contralsp(beta=1.0, margin=0.0).fit(X, white_box)
    l1 = contralsp(beta=1.0, margin=0.0, contrastive="l1_only").fit(X, white_box)
    with torch.no_grad():
        assert not torch.allclose(triplet.perturbation_net_(x), l1.perturbation_net_(x))
    # without the counterfactual terms the switch does nothing
    a = contralsp(beta=0.0).fit_transform(X, white_box)
    b = contralsp(beta=0.0, contrastive="l1_only").fit_transform(X, white_box)
    np.testing.assert_array_equal(a, b)


def test_the_aim_reading_trains_the_counterfactuals_where_the_written_hinge_does_not(spiky):
    """With the default margin b = 1 the written hinge max(0, D_an − D_ap − 1) is 0 for every anchor at the
    distances of the counterfactuals (no gradient: the term trains nothing), the aim's max(0, D_an − D_ap + 1) is
    about 1 for every anchor (active, with gradient); the same random draws, so the networks differ by the aim's
    gradients only."""
    from sklearn_tsmask._contrastive import triplet_term

    X, _, white_box = spiky
    x = torch.as_tensor(X, dtype=torch.float32)
    nets = {c: contralsp(beta=1.0, contrastive=c).fit(X, white_box).perturbation_net_ for c in ("triplet", "triplet_aim")}
    with torch.no_grad():
        xr = {c: net(x) for c, net in nets.items()}
        for c in nets:
            assert torch.equal(triplet_term(xr[c], torch.Generator().manual_seed(0)), torch.zeros(len(X)))
            assert bool((triplet_term(xr[c], torch.Generator().manual_seed(0), reading="aim") > 0.9).all())
    assert not torch.allclose(xr["triplet"], xr["triplet_aim"])


def test_loss_curve_decreases(spiky):
    X, _, white_box = spiky
    est = contralsp().fit(X, white_box)
    assert est.loss_curve_.shape == (150,) and est.n_iter_ == 150
    assert est.loss_curve_[-10:].mean() < 0.2 * est.loss_curve_[:5].mean()
    assert not hasattr(est, "masks_") and not hasattr(est, "loss_history_") and not hasattr(est, "error_")


def test_fit_transform_returns_the_gates_trained_with_the_networks(spiky):
    """fit and fit_transform train the same networks; fit_transform also returns the masks of that run."""
    X, _, white_box = spiky
    fitted = contralsp(max_iter=60).fit(X, white_box)
    est = contralsp(max_iter=60)
    masks = est.fit_transform(X, white_box)
    for name in ("perturbation_net_", "trend_net_"):
        a, b = getattr(fitted, name).parameters(), getattr(est, name).parameters()
        assert all(torch.equal(u, v) for u, v in zip(a, b))
    np.testing.assert_array_equal(fitted.loss_curve_, est.loss_curve_)
    assert masks.shape == X.shape and masks.min() >= 0.0 and masks.max() <= 1.0
    assert all(s == salient_set() for s in top_k_sets(masks, N_SALIENT))
    # transform optimises the gates again from the fitted networks (no cache), deterministically when seeded
    again = est.transform(X)
    np.testing.assert_array_equal(est.transform(X), again)
    assert not np.array_equal(again, masks)
    assert all(s == salient_set() for s in top_k_sets(again, N_SALIENT))


def test_reproducible_with_random_state(spiky):
    X, _, white_box = spiky
    state = torch.get_rng_state()
    a = contralsp(max_iter=30).fit_transform(X, white_box)
    b = contralsp(max_iter=30).fit_transform(X, white_box)
    c = contralsp(max_iter=30, random_state=1).fit_transform(X, white_box)
    assert torch.equal(torch.get_rng_state(), state)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


# ------------------------------------------------------------ defaults by kind of model

REGRESSOR_VALUES = dict(alpha=0.1, beta=0.1, sigma=0.3, learning_rate=0.1, max_iter=200)
CLASSIFIER_VALUES = dict(alpha=1.5, beta=1.0, sigma=0.5, learning_rate=0.01, max_iter=500)


def test_auto_defaults_of_a_regressor_are_the_sparse_regression_values(spiky):
    X, _, white_box = spiky  # RareWhiteBox declares _estimator_type = "regressor"
    auto = ContraLSP(device="cpu", random_state=0)
    assert {k: auto.get_params()[k] for k in REGRESSOR_VALUES} == dict.fromkeys(REGRESSOR_VALUES, "auto")
    masks = auto.fit_transform(X, white_box)
    assert {k: getattr(auto, k + "_") for k in REGRESSOR_VALUES} == REGRESSOR_VALUES
    assert auto.n_iter_ == 200 and auto.loss_curve_.shape == (200,)
    # the resolved values are the ones optimised with: the same masks, bit for bit, as writing them out
    explicit = ContraLSP(**REGRESSOR_VALUES, device="cpu", random_state=0).fit_transform(X, white_box)
    np.testing.assert_array_equal(masks, explicit)
    assert all(s == salient_set() for s in top_k_sets(masks, N_SALIENT))


def _callable_of_unknown_kind(x):
    return (x**2).sum(1)


@pytest.mark.parametrize("kind", ["classifier", "unknown"])
def test_auto_defaults_of_a_classifier_or_an_unknown_model_are_the_classifier_values(spiky, kind):
    X, _, white_box = spiky
    model = GRUClassifier() if kind == "classifier" else _callable_of_unknown_kind
    if kind == "classifier":
        model._estimator_type = "classifier"
    est = ContraLSP(max_iter=3, device="cpu", random_state=0, model_layout="NTC" if kind == "classifier" else "NCT")
    est.fit(X, model)
    assert {k: getattr(est, k + "_") for k in CLASSIFIER_VALUES} == {**CLASSIFIER_VALUES, "max_iter": 3}
    assert est.n_iter_ == 3


def test_explicit_values_win_and_transform_resolves_auto_again(spiky):
    X, _, white_box = spiky
    est = ContraLSP(alpha=0.7, sigma=0.4, max_iter=5, device="cpu", random_state=0).fit(X, white_box)
    assert (est.alpha_, est.beta_, est.sigma_, est.learning_rate_, est.max_iter_) == (0.7, 0.1, 0.4, 0.1, 5)
    steps = []

    class Steps(Callback):
        def on_explain_begin(self, explainer, *, n_batches, max_iter, training):
            steps.append(max_iter)

    est.set_params(max_iter="auto", callbacks=[Steps()])
    assert est.explain(X[:2]).n_iter == 200 and steps == [200]
    assert est.max_iter_ == 5  # what fit used


# ------------------------------------------------------------ new series


def test_conv_counterfactual_fine_tuned_on_new_series_can_learn_their_spikes(spiky):
    """The measured weakness of "conv" (documented): fine-tuned on new series, the network learns some of their
    salient values from the neighbours, so a few gates close; frozen, it cannot, and every spike is found."""
    X, _, white_box = spiky
    X_new, _ = make_spiky_panel(seed=3)
    fine = contralsp(perturbation="conv").fit(X, white_box).transform(X_new)
    frozen = contralsp(perturbation="conv", transform_networks="frozen").fit(X, white_box).transform(X_new)
    assert sum(s == salient_set() for s in top_k_sets(fine, N_SALIENT)) == 4  # of 6 series
    assert all(s == salient_set() for s in top_k_sets(frozen, N_SALIENT))
    assert fine[:, SALIENT].mean() < 0.95 and frozen[:, SALIENT].mean() > 0.99


def test_transform_new_series_warm_starts_and_keeps_fitted_networks(spiky):
    X, _, white_box = spiky
    est = contralsp().fit(X, white_box)
    before = [p.detach().clone() for p in (*est.perturbation_net_.parameters(), *est.trend_net_.parameters())]
    X_new, _ = make_spiky_panel(seed=3)
    fine = est.transform(X_new)
    after = [p.detach() for p in (*est.perturbation_net_.parameters(), *est.trend_net_.parameters())]
    assert all(torch.equal(u, v) for u, v in zip(before, after))
    assert all(s == salient_set() for s in top_k_sets(fine, N_SALIENT))
    frozen = clone(est).set_params(transform_networks="frozen").fit(X, white_box).transform(X_new)
    assert all(s == salient_set() for s in top_k_sets(frozen, N_SALIENT))
    assert not np.array_equal(fine, frozen)  # both near-binary; the off-mask values differ


def test_other_series_length_is_refused(spiky):
    X, _, white_box = spiky
    est = contralsp(max_iter=5).fit(X, white_box)
    with pytest.raises(ValueError, match=f"length {T}"):
        est.transform(X[:, :, : T - 2])
    with pytest.raises(ValueError, match="channels"):
        est.transform(X[:, :2])


# ------------------------------------------------------------ contract


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(alpha=-1.0), r"'alpha' parameter of ContraLSP must be a str among \{'auto'\} or a float in the range \[0\.0, inf\)\. Got -1\.0 "),
        (dict(beta=-0.1), r"'beta' parameter of ContraLSP must be a str among \{'auto'\} or a float in the range \[0\.0, inf\)\. Got -0\.1 "),
        (dict(sigma=0.0), r"'sigma' parameter of ContraLSP must be a str among \{'auto'\} or a float in the range \(0\.0, inf\)\. Got 0\.0 "),
        (dict(margin=-1.0), r"'margin' parameter of ContraLSP must be a float in the range \[0\.0, inf\)\. Got -1\.0 "),
        (dict(contrastive="none"), r"'contrastive' parameter of ContraLSP must be a str among \{.*\}\. Got 'none' "),
        (
            dict(transform_networks="frozen_trend"),
            r"'transform_networks' parameter of ContraLSP must be a str among \{.*\}\. Got 'frozen_trend' ",
        ),
        (dict(trend_hidden_size=0), r"'trend_hidden_size' parameter of ContraLSP must be an int in the range \[1, inf\)"),
        (dict(perturbation="lstm"), r"'perturbation' parameter of ContraLSP must be a str among .* Got 'lstm' "),
        (dict(tol=-1.0), r"'tol' parameter of ContraLSP must be a float in the range \[0\.0, inf\) or None\. Got -1\.0 "),
        (dict(alpha="high"), r"'alpha' parameter of ContraLSP must be a str among \{'auto'\} or a float .* Got 'high' "),
        (dict(learning_rate=True), r"'learning_rate' parameter of ContraLSP must be a str among \{'auto'\} or a float .* Got True "),
        (dict(max_iter=0), r"'max_iter' parameter of ContraLSP must be a str among \{'auto'\} or an int in the range \[1, inf\)\. Got 0 "),
    ],
)
def test_invalid_hyper_parameters(spiky, params, match):
    X, _, white_box = spiky
    with pytest.raises(ValueError, match=match):
        contralsp(**params).fit(X, white_box)


def test_user_perturbation_module_is_copied(spiky):
    X, _, white_box = spiky
    user = nn.Sequential(nn.Conv1d(C, C, 3, padding=1))
    before = [p.detach().clone() for p in user.parameters()]
    est = contralsp(perturbation=user, max_iter=20).fit(X, white_box)
    assert all(torch.equal(u, p) for u, p in zip(before, user.parameters()))
    assert est.perturbation_net_ is not user


def test_log_loss_with_a_gru_classifier():
    rng = np.random.RandomState(0)
    X = rng.randn(5, C, T).astype(np.float32)
    est = ContraLSP(max_iter=20, loss="log_loss", model_layout="NTC", device="cpu", random_state=0)
    masks = est.fit_transform(X, GRUClassifier())
    assert masks.shape == X.shape and np.isfinite(masks).all()
    assert masks.min() >= 0.0 and masks.max() <= 1.0


def test_clone_and_pickle(spiky):
    X, _, white_box = spiky
    est = contralsp(max_iter=20)
    assert clone(est).get_params() == est.get_params()
    est.fit(X, white_box)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.loss_curve_, est.loss_curve_)
    # transform optimises from the fitted networks (nothing cached): the same on the copy, for X too
    np.testing.assert_array_equal(again.transform(X), est.transform(X))
    X_new, _ = make_spiky_panel(seed=2)
    np.testing.assert_array_equal(again.transform(X_new), est.transform(X_new))


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_over_alpha_beta_sigma(n_jobs):
    X, truth = make_spiky_panel(0, n=8)
    white_box = RareWhiteBox(SALIENT.astype(np.float32))
    search = GridSearchCV(
        contralsp(max_iter=100),
        {"alpha": [0.1, 300.0], "beta": [0.1], "sigma": [0.5]},
        scoring=SALIENCY_SCORING,  # every metric from one transform per test fold
        refit="aur",
        cv=KFold(2),
        n_jobs=n_jobs,
    )
    search.fit(X, truth, model=white_box)
    res = search.cv_results_
    assert search.best_params_ == {"alpha": 0.1, "beta": 0.1, "sigma": 0.5}
    assert res["mean_test_aur"][0] > 0.95 > 0.5 > res["mean_test_aur"][1]
    masks = search.best_estimator_.transform(X)
    assert all(s == salient_set() for s in top_k_sets(masks, N_SALIENT))


@pytest.mark.gpu
def test_gru_classifier_on_cuda():
    rng = np.random.RandomState(0)
    X = rng.randn(6, C, T).astype(np.float32)
    est = ContraLSP(max_iter=30, model_layout="NTC", device="cuda", random_state=0)
    masks = est.fit_transform(X, GRUClassifier())
    assert masks.shape == X.shape and np.isfinite(masks).all()
    assert est.perturbation_net_.rnn.weight_ih_l0.device.type == "cuda"
    conv = ContraLSP(max_iter=30, model_layout="NTC", perturbation="conv", device="cuda", random_state=0)
    assert np.isfinite(conv.fit_transform(X, GRUClassifier())).all()
    assert conv.perturbation_net_.mix_in.weight.device.type == "cuda"
