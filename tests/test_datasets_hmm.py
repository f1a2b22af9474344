"""Tests of the State and Switch-Feature generators (SPEC section 5).

The statistical tests draw one large seeded sample per benchmark and compare
empirical statistics with the SPEC's values. Unless said otherwise a
statistic must lie within ``Z = 5`` standard errors of its target: the
samples are seeded, so the tests are deterministic, and 5 standard errors
would also pass for almost every other seed (two-sided Gaussian tail
probability 6e-7 per check), while the samples are large enough that the
tolerances stay well below the effects they check (asserted where it matters).
"""

import doctest

import numpy as np
import pytest
from scipy.special import expit
from sklearn.utils import Bunch

from sklearn_tsmask.datasets import make_state, make_switch_feature
from sklearn_tsmask.datasets import _hmm

Z = 5.0

KEYS = {
    "X_train": np.float64,
    "X_test": np.float64,
    "y_train": np.int64,
    "y_test": np.int64,
    "true_saliency_train": np.int8,
    "true_saliency_test": np.int8,
    "states_train": np.int64,
    "states_test": np.int64,
}

STATE_MU = np.array([[0.1, 1.6, 0.5], [-0.1, -0.4, -1.5]])
STATE_SIGMA = np.array(
    [
        [[0.8, 0.01, 0.0], [0.01, 0.8, 0.0], [0.0, 0.0, 0.8]],
        [[0.8, 0.0, 0.01], [0.0, 0.8, 0.0], [0.01, 0.0, 0.8]],
    ]
)
SWITCH_SCALE = np.array([[0.8, -0.5, -0.2], [0.0, -1.0, 0.0], [-0.2, -0.2, 0.8]])
SWITCH_P = np.array([[0.95, 0.02, 0.03], [0.02, 0.95, 0.03], [0.03, 0.02, 0.95]])


def _stack(data):
    """Train and test concatenated: X (N, C, T), y (N, T), states (N, T)."""
    X = np.concatenate([data.X_train, data.X_test])
    y = np.concatenate([data.y_train, data.y_test])
    states = np.concatenate([data.states_train, data.states_test])
    return X, y, states


def _binomial_se(p, n):
    return np.sqrt(p * (1.0 - p) / n)


@pytest.fixture(scope="module")
def big_state():
    # 5000 series x 200 steps = 1e6 time points, about half in each state.
    return _stack(make_state(n_train=4000, n_test=1000, random_state=20240601))


@pytest.fixture(scope="module")
def big_switch():
    # 5000 series x 100 steps = 5e5 time points, about a third in each state.
    return _stack(make_switch_feature(n_train=4000, n_test=1000, random_state=20240602))


# ------------------------------------------------------------------ shapes and dtypes


@pytest.mark.parametrize(
    "make, T, n_states", [(make_state, 200, 2), (make_switch_feature, 100, 3)]
)
def test_default_shapes_and_dtypes(make, T, n_states):
    data = make(random_state=0)
    assert isinstance(data, Bunch)
    assert set(data) == set(KEYS) | {"description"}
    for key, dtype in KEYS.items():
        n = 800 if key.endswith("train") else 200
        shape = (n, 3, T) if key.startswith(("X", "true")) else (n, T)
        assert data[key].shape == shape, key
        assert data[key].dtype == dtype, key
    for split in ("train", "test"):
        assert set(np.unique(data[f"y_{split}"])) == {0, 1}
        assert set(np.unique(data[f"true_saliency_{split}"])) == {0, 1}
        assert set(np.unique(data[f"states_{split}"])) == set(range(n_states))
        assert np.isfinite(data[f"X_{split}"]).all()
    assert isinstance(data.description, str)
    # it cites where the benchmark comes from (FIT's generators)
    assert data.description.startswith(f"{'State' if n_states == 2 else 'Switch-Feature'} benchmark ")
    assert "Tonekaboni et al. 2020" in data.description


def test_descriptions_name_the_settings():
    state = make_state(n_train=3, n_test=2, n_timepoints=7, random_state=0).description
    for part in ("3 train / 2 test", "T = 7", "0.95 - d/500, 0.8", "0.05", "0.8 I", "0.01",
                 "(0.1, 1.6, 0.5)", "(-0.1, -0.4, -1.5)", "sigmoid(2 x[1 + s_t, t])"):
        assert part in state, part
    switch = make_switch_feature(n_train=3, n_test=2, n_timepoints=7, random_state=0).description
    for part in ("3 train / 2 test", "T = 7", "[[.95, .02, .03], [.02, .95, .03], [.03, .02, .95]]",
                 "N(scale[s_t][c], 0.1)", "length-scale 0.2",
                 "[[.8, -.5, -.2], [0, -1, 0], [-.2, -.2, .8]]", "sigmoid(3 x[s_t, t])"):
        assert part in switch, part


@pytest.mark.parametrize("make", [make_state, make_switch_feature])
def test_custom_sizes(make):
    data = make(n_train=3, n_test=1, n_timepoints=2, random_state=0)
    assert data.X_train.shape == (3, 3, 2) and data.X_test.shape == (1, 3, 2)
    assert data.y_train.shape == (3, 2) and data.states_test.shape == (1, 2)
    assert data.true_saliency_test.shape == (1, 3, 2)


# ------------------------------------------------------------------ seeding


@pytest.mark.parametrize("make", [make_state, make_switch_feature])
def test_reproducible_with_seed(make):
    a = make(n_train=20, n_test=5, random_state=7)
    b = make(n_train=20, n_test=5, random_state=7)
    c = make(n_train=20, n_test=5, random_state=np.random.RandomState(7))
    for key in KEYS:
        np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_array_equal(a[key], c[key])
    assert a.description == b.description


@pytest.mark.parametrize("make", [make_state, make_switch_feature])
def test_different_seeds_differ(make):
    a = make(n_train=20, n_test=5, random_state=1)
    b = make(n_train=20, n_test=5, random_state=2)
    assert not np.array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_test, b.X_test)
    assert not np.array_equal(a.states_train, b.states_train)
    assert not np.array_equal(a.y_train, b.y_train)


# ------------------------------------------------------------------ saliency


@pytest.mark.parametrize("make, offset", [(make_state, 1), (make_switch_feature, 0)])
def test_saliency_is_the_state_channel(make, offset):
    data = make(n_train=50, n_test=20, random_state=3)
    for split in ("train", "test"):
        sal = data[f"true_saliency_{split}"]
        states = data[f"states_{split}"]
        # Exactly one salient channel at every time step ...
        np.testing.assert_array_equal(sal.sum(axis=1), 1)
        # ... and it is channel 1 + s_t (State) or s_t (Switch-Feature).
        np.testing.assert_array_equal(sal.argmax(axis=1), offset + states)
        expected = (np.arange(3)[None, :, None] == (offset + states)[:, None, :]).astype(np.int8)
        np.testing.assert_array_equal(sal, expected)


# ------------------------------------------------------------------ State statistics


@pytest.mark.parametrize("s", [0, 1])
def test_state_emission_means_and_covariances(big_state, s):
    X, _, states = big_state
    pts = X.transpose(0, 2, 1)[states == s]  # (n_s, 3)
    n = pts.shape[0]
    assert n > 300_000  # about half of the 1e6 points
    # Means: SE = sqrt(0.8 / n) ~ 0.0016.
    np.testing.assert_array_less(np.abs(pts.mean(axis=0) - STATE_MU[s]), Z * np.sqrt(0.8 / n))
    # Covariances of a Gaussian: Var(S_ij) ~ (S_ii S_jj + S_ij^2) / n, so SE ~ 0.8 sqrt(2/n)
    # ~ 0.002 on the diagonal (variance 0.8) and ~ 0.8 / sqrt(n) ~ 0.0014 off it.
    sigma = STATE_SIGMA[s]
    se = np.sqrt((np.outer(np.diag(sigma), np.diag(sigma)) + sigma**2) / n)
    cov = np.cov(pts, rowvar=False)
    np.testing.assert_array_less(np.abs(cov - sigma), Z * se)
    # Power: the tolerance on the coupling entry is below 0.01, so a generator
    # without the coupling (or with it on the wrong pair) fails.
    important = 1 + s
    assert Z * se[0, important] < 0.01
    assert cov[0, important] > 0.01 - Z * se[0, important] > 0
    other = 3 - important  # the channel that is neither 0 nor 1 + s
    assert abs(cov[0, other]) < Z * se[0, other] < 0.01


def test_state_initial_distribution(big_state):
    _, _, states = big_state
    # P(s_0 = 1) = 0.5 * 0.95 + 0.5 * 0.05 = 0.5 (FIT's pre-state draw); SE = sqrt(.25/5000).
    n = states.shape[0]
    assert abs(states[:, 0].mean() - 0.5) < Z * _binomial_se(0.5, n)


def _steps_since_last_switch(states):
    """d[i, t] = t - (last t' <= t with s_t' != s_{t'-1}); -1 before the first observed switch."""
    N, T = states.shape
    switch = np.zeros((N, T), dtype=bool)
    switch[:, 1:] = states[:, 1:] != states[:, :-1]
    last = np.maximum.accumulate(np.where(switch, np.arange(T), -1), axis=1)
    return np.where(last >= 0, np.arange(T) - last, -1)


def test_state_transition_from_zero(big_state):
    _, _, states = big_state
    prev, nxt = states[:, :-1], states[:, 1:]
    from_zero = prev == 0
    n = from_zero.sum()
    # P(0 -> 1) = 0.05 overall: n ~ 5e5 transitions, SE ~ 0.0003.
    assert abs(nxt[from_zero].mean() - 0.05) < Z * _binomial_se(0.05, n)
    # ... and it does not depend on the time spent in state 0.
    d = _steps_since_last_switch(states)[:, :-1]
    for lo, hi in [(0, 5), (5, 15), (15, 30), (30, 60)]:
        sel = from_zero & (d >= lo) & (d < hi)
        m = sel.sum()
        assert m > 5000, (lo, hi, m)
        assert abs(nxt[sel].mean() - 0.05) < Z * _binomial_se(0.05, m), (lo, hi)


def test_state_stay_in_one_decreases_with_duration(big_state):
    _, _, states = big_state
    prev, nxt = states[:, :-1], states[:, 1:]
    # d is only known exactly after a switch observed in the series.
    d = _steps_since_last_switch(states)[:, :-1]
    in_one = (prev == 1) & (d >= 0)
    stay = nxt == 1
    checked = []
    for k in range(80):
        sel = in_one & (d == k)
        m = sel.sum()
        if m < 300:  # state-1 runs rarely last long: S(40) ~ 2%, S(50) ~ 0.5%
            continue
        p = max(0.95 - k / 500, 0.8)
        assert abs(stay[sel].mean() - p) < Z * _binomial_se(p, m), (k, m, stay[sel].mean(), p)
        checked.append(k)
    # Power: every d up to 35 is checked, i.e. stay probabilities from 0.95 to 0.88.
    assert set(range(36)) <= set(checked)
    # Decreasing: pooled rates of successive d-bins, each bin with > 1000 transitions
    # (SE < 0.01) and 0.02 apart in expectation.
    rates = []
    for lo, hi in [(0, 10), (10, 20), (20, 30), (30, 45)]:
        sel = in_one & (d >= lo) & (d < hi)
        assert sel.sum() > 1000
        rates.append(stay[sel].mean())
    assert np.all(np.diff(rates) < 0), rates


def test_state_stay_probability_formula_and_floor():
    # The floor at 0.8 is reached at d = 75, where a state-1 run survives with
    # probability ~ 4e-5: too rare to measure, so the rule is checked directly.
    d = np.array([0, 1, 25, 50, 74, 75, 76, 100, 199, 1000])
    expected = [0.95, 0.948, 0.9, 0.85, 0.802, 0.8, 0.8, 0.8, 0.8, 0.8]
    np.testing.assert_allclose(_hmm._state_stay_probability(d), expected, atol=1e-12)


def _assert_label_rate_follows_sigmoid(x, y, slope, edges):
    """In every bin of x with at least 1000 points, the label rate is the bin's mean of
    sigmoid(slope·x) within Z binomial standard errors; at least 10 bins are checked."""
    n_checked = 0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (x >= lo) & (x < hi)
        m = sel.sum()
        if m < 1000:
            continue
        p = expit(slope * x[sel]).mean()
        assert abs(y[sel].mean() - p) < Z * _binomial_se(p, m), (lo, hi)
        n_checked += 1
    assert n_checked >= 10


def test_state_labels_follow_sigmoid_two_x(big_state):
    X, y, states = big_state
    x = np.take_along_axis(X, (1 + states)[:, None, :], axis=1)[:, 0].ravel()
    y = y.ravel()
    _assert_label_rate_follows_sigmoid(x, y, 2.0, np.linspace(-3.0, 3.0, 13))  # bins of width 0.5
    # Power: at x in [1, 1.5), sigmoid(2x) and sigmoid(x) or sigmoid(3x) differ by
    # > 0.04, against a tolerance < 0.01 there.
    sel = (x >= 1.0) & (x < 1.5)
    assert Z * _binomial_se(0.9, sel.sum()) < 0.01
    assert abs(y[sel].mean() - expit(x[sel]).mean()) > 0.04
    assert abs(y[sel].mean() - expit(3 * x[sel]).mean()) > 0.04


# ------------------------------------------------------------------ Switch-Feature statistics


@pytest.mark.parametrize("s", [0, 1, 2])
def test_switch_emission_means_and_variances(big_switch, s):
    X, _, states = big_switch
    pts = X.transpose(0, 2, 1)[states == s]  # (n_s, 3)
    n = pts.shape[0]
    assert n > 100_000  # about a third of the 5e5 points
    # Means: SE = sqrt(0.1 / n) < 0.001.
    np.testing.assert_array_less(np.abs(pts.mean(axis=0) - SWITCH_SCALE[s]), Z * np.sqrt(0.1 / n))
    # Covariance 0.1 I: SE 0.1 sqrt(2/n) on the diagonal, 0.1 / sqrt(n) off it.
    sigma = 0.1 * np.eye(3)
    se = np.sqrt((np.outer(np.diag(sigma), np.diag(sigma)) + sigma**2) / n)
    np.testing.assert_array_less(np.abs(np.cov(pts, rowvar=False) - sigma), Z * se)


def test_switch_emissions_are_white(big_switch):
    # The GP with length-scale 0.2 on the integer grid has lag-1 correlation
    # exp(-12.5) ~ 4e-6: the residuals of consecutive steps are uncorrelated.
    # SE of a correlation near 0: 1 / sqrt(n_pairs), n_pairs ~ 5e5 per channel.
    X, _, states = big_switch
    resid = X - SWITCH_SCALE[states].transpose(0, 2, 1)
    for c in range(3):
        a, b = resid[:, c, :-1].ravel(), resid[:, c, 1:].ravel()
        r = np.corrcoef(a, b)[0, 1]
        assert abs(r) < Z / np.sqrt(a.size), (c, r)


def test_switch_transitions_and_initial_distribution(big_switch):
    _, _, states = big_switch
    prev, nxt = states[:, :-1].ravel(), states[:, 1:].ravel()
    counts = np.zeros((3, 3))
    np.add.at(counts, (prev, nxt), 1)
    n_from = counts.sum(axis=1, keepdims=True)
    assert (n_from > 100_000).all()
    freq = counts / n_from
    # Each entry is a binomial proportion: SE <= sqrt(.95 * .05 / 1e5) < 0.0007.
    np.testing.assert_array_less(np.abs(freq - SWITCH_P), Z * _binomial_se(SWITCH_P, n_from))
    np.testing.assert_array_less(np.abs(np.diag(freq) - 0.95), 0.005)
    # Uniform initial state: SE = sqrt(2/9 / 5000) ~ 0.0067.
    n = states.shape[0]
    init = np.bincount(states[:, 0], minlength=3) / n
    np.testing.assert_array_less(np.abs(init - 1 / 3), Z * _binomial_se(1 / 3, n))


def test_switch_labels_follow_sigmoid_three_x(big_switch):
    X, y, states = big_switch
    x = np.take_along_axis(X, states[:, None, :], axis=1)[:, 0].ravel()
    y = y.ravel()
    _assert_label_rate_follows_sigmoid(x, y, 3.0, np.linspace(-2.0, 2.0, 17))  # bins of width 0.25
    # Power: at x in [0.25, 0.75), sigmoid(3x) and sigmoid(2x) differ by ~ 0.085
    # (sigmoid(x) by ~ 0.2), against a tolerance < 0.01 there.
    sel = (x >= 0.25) & (x < 0.75)
    assert Z * _binomial_se(0.8, sel.sum()) < 0.01
    assert abs(y[sel].mean() - expit(2 * x[sel]).mean()) > 0.05
    assert abs(y[sel].mean() - expit(x[sel]).mean()) > 0.05


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize("make", [make_state, make_switch_feature])
def test_validation(make):
    with pytest.raises(ValueError, match=r"n_train == 0, must be >= 1"):
        make(n_train=0)
    with pytest.raises(ValueError, match=r"n_train == -3, must be >= 1"):
        make(n_train=-3)
    with pytest.raises(ValueError, match=r"n_test == 0, must be >= 1"):
        make(n_test=0)
    with pytest.raises(ValueError, match=r"n_timepoints == 1, must be >= 2"):
        make(n_timepoints=1)
    with pytest.raises(TypeError, match=r"n_train must be an instance of int"):
        make(n_train=2.5)
    with pytest.raises(TypeError, match=r"n_timepoints must be an instance of int"):
        make(n_timepoints=10.0)


def test_docstring_examples():
    result = doctest.testmod(_hmm, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
