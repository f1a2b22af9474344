"""State and Switch-Feature benchmarks: hidden-state series labelled by one channel.

Both benchmarks (FIT, Tonekaboni et al. 2020; Dynamask, Crabbé & van der
Schaar 2021; ContraLSP, Liu et al. 2024) draw a hidden Markov chain ``s_t``,
three Gaussian channels whose means depend on ``s_t`` and a binary label at
every time step, ``y_t ~ Bernoulli(sigmoid(k * x[c(s_t), t]))``, driven by a
single channel ``c(s_t)`` chosen by the state. That channel is the true
saliency at time ``t``: exactly one salient channel per time step.

State (:func:`make_state`)
    2 states, ``c(s) = 1 + s``, ``k = 2``, emissions ``N(mu_s, Sigma_s)`` with
    ``mu_0 = (0.1, 1.6, 0.5)``, ``mu_1 = (-0.1, -0.4, -1.5)`` and
    ``Sigma_s = 0.8 I`` plus a covariance of 0.01 between channel 0 and
    channel ``1 + s``. ``P(0 -> 1) = 0.05`` and the probability to stay in
    state 1 is ``max(0.95 - d / 500, 0.8)``, ``d`` the number of steps since
    the last switch.
Switch-Feature (:func:`make_switch_feature`)
    3 states, ``c(s) = s``, ``k = 3``, transition matrix
    ``[[.95, .02, .03], [.02, .95, .03], [.03, .02, .95]]`` and emissions
    ``N(scale[s][c], 0.1)`` independent across channels and time, with
    ``scale = [[.8, -.5, -.2], [0, -1, 0], [-.2, -.2, .8]]``.

Train and test series are independent draws of the same process: the
generator draws ``n_train + n_test`` series at once and returns the first
``n_train`` as the training set.

Differences from the public reference generators
------------------------------------------------
The public references (the FIT, Dynamask and ContraLSP papers and their code,
and the library tint) do not all agree; where they differ, this generator
makes the choices below:

* State, FIT's ``state_data.py`` and tint's ``HMM``: they add ``1e-3 * I`` to
  the covariances (variance 0.801); here the variance is 0.8 exactly.
* State, FIT/tint: the stay-in-1 probability ``0.95 - d / 500`` is not
  floored there (their test ``params > 0.8`` looks at the base 0.95, not at
  the result, so it falls to 0.552 at ``d = 199``); here it is floored at 0.8
  (reached at ``d = 75``).
* State, FIT's importance marks the important channel only at switch times
  (and ``t = 0``); here, as in tint's ``true_saliency``, channel ``1 + s_t`` is
  salient at every time step.
* State, the Dynamask paper (appendix C.4) prints the coupling between the
  second and third channel in state 0 and the first and second in state 1,
  a transition matrix ``[[.1, .9], [.1, .9]]`` and ``sigmoid(x)``; the code
  (FIT, tint) uses the coupling with channel 0, the duration-dependent
  chain and ``sigmoid(2 x)``, as here.
* Switch-Feature, FIT's ``simulated_l2x_switchstate.py`` draws the first
  state as ``Bernoulli(1/3)`` (so never state 2); the ContraLSP paper states
  the uniform initial distribution ``(1/3, 1/3, 1/3)``, used here.
* Switch-Feature, FIT samples each constant-state segment from a Gaussian
  process (squared-exponential kernel, length-scale 0.2, variance 0.1) on
  the integer grid: its correlation at lag 1 is ``exp(-1 / (2 * 0.2 ** 2))
  = exp(-12.5) < 4e-6``, so it is white noise up to that; here the entries
  are independent ``N(scale[s][c], 0.1)``.
* Switch-Feature, the ContraLSP paper prints ``sigmoid(x)`` and calls the
  3-state chain a "two-state HMM"; FIT's code uses ``sigmoid(3 x)`` and 3
  states, as here. FIT's importance (switch times only, plus the last
  channel) is replaced by channel ``s_t`` at every time step, as in the
  ContraLSP loader.
"""

import numbers

import numpy as np
from scipy.special import expit
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_scalar

__all__ = ["make_state", "make_switch_feature"]

N_CHANNELS = 3

# ----------------------------------------------------------------------- State
#: Emission means, one row per state.
STATE_MEANS = np.array([[0.1, 1.6, 0.5], [-0.1, -0.4, -1.5]])
#: Variance of every channel.
STATE_VARIANCE = 0.8
#: Covariance between channel 0 and the important channel 1 + s.
STATE_COUPLING = 0.01
#: P(0 -> 1), independent of the time spent in state 0.
STATE_P_0_TO_1 = 0.05
#: Label slope k in sigmoid(k * x[1 + s_t, t]).
STATE_LABEL_SLOPE = 2.0

# ------------------------------------------------------------- Switch-Feature
#: Transition matrix, row = current state, column = next state.
SWITCH_TRANSITIONS = np.array([[0.95, 0.02, 0.03], [0.02, 0.95, 0.03], [0.03, 0.02, 0.95]])
#: Emission means ``scale[s][c]``, one row per state.
SWITCH_MEANS = np.array([[0.8, -0.5, -0.2], [0.0, -1.0, 0.0], [-0.2, -0.2, 0.8]])
#: Variance of every entry (white noise).
SWITCH_VARIANCE = 0.1
#: Label slope k in sigmoid(k * x[s_t, t]).
SWITCH_LABEL_SLOPE = 3.0


def _state_covariances():
    """Covariances ``Sigma_s`` of shape (2, 3, 3): 0.8 I, 0.01 between channels 0 and 1 + s."""
    cov = np.tile(STATE_VARIANCE * np.eye(N_CHANNELS), (2, 1, 1))
    for s in range(2):
        cov[s, 0, 1 + s] = cov[s, 1 + s, 0] = STATE_COUPLING
    return cov


def _state_stay_probability(d):
    """P(s_{t+1} = 1 | s_t = 1) after ``d`` steps since the last switch: max(0.95 - d/500, 0.8)."""
    return np.maximum(0.95 - np.asarray(d, dtype=np.float64) / 500.0, 0.8)


def _check_sizes(n_train, n_test, n_timepoints):
    check_scalar(n_train, "n_train", numbers.Integral, min_val=1)
    check_scalar(n_test, "n_test", numbers.Integral, min_val=1)
    check_scalar(n_timepoints, "n_timepoints", numbers.Integral, min_val=2)
    return int(n_train), int(n_test), int(n_timepoints)


def _split(n_train, X, y, states, salient_channel, description):
    """Bunch of the train/test split; ``salient_channel`` (N, T) gives the salient channel."""
    true_saliency = np.zeros(X.shape, dtype=np.int8)
    np.put_along_axis(true_saliency, salient_channel[:, None, :], 1, axis=1)
    y = y.astype(np.int64)
    states = states.astype(np.int64)
    return Bunch(
        X_train=X[:n_train],
        X_test=X[n_train:],
        y_train=y[:n_train],
        y_test=y[n_train:],
        true_saliency_train=true_saliency[:n_train],
        true_saliency_test=true_saliency[n_train:],
        states_train=states[:n_train],
        states_test=states[n_train:],
        description=description,
    )


def make_state(n_train=800, n_test=200, *, n_timepoints=200, random_state=None):
    """State benchmark: a 2-state HMM whose state picks the channel behind the label.

    The hidden state ``s_t`` in {0, 1} follows a chain with duration-dependent
    switches: ``P(0 -> 1) = 0.05``; the probability to stay in state 1 is
    ``max(0.95 - d / 500, 0.8)``, where ``d`` is the number of steps since the
    last switch (0 at the step of the switch itself). The first state is drawn
    as in FIT and tint: a state ``s_{-1}`` before the series is drawn with
    probability 1/2 each, with ``d = 0``, and ``s_0`` follows from it by the
    chain, so ``P(s_0 = 1) = 1/2`` (Dynamask's ``pi = (0.5, 0.5)``) and ``d``
    at ``t = 0`` counts that step. The three channels at time ``t`` are drawn
    from ``N(mu_{s_t}, Sigma_{s_t})``, independently across time, with
    ``mu_0 = (0.1, 1.6, 0.5)``, ``mu_1 = (-0.1, -0.4, -1.5)`` and
    ``Sigma_s = 0.8 I`` plus a covariance of 0.01 between channel 0 and
    channel ``1 + s``. The label is ``y_t ~ Bernoulli(sigmoid(2 * x[1 + s_t,
    t]))`` and the true saliency is channel ``1 + s_t`` at every time step.

    Parameters
    ----------
    n_train : int, default=800
        Number of training series, at least 1.
    n_test : int, default=200
        Number of test series, at least 1.
    n_timepoints : int, default=200
        Length ``T`` of each series, at least 2.
    random_state : int, RandomState instance or None, default=None
        Seed of the states, emissions and labels (see
        :func:`sklearn.utils.check_random_state`).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the keys (``N`` is ``n_train`` for ``*_train``, ``n_test`` for
        ``*_test``):

        X_train, X_test : ndarray of shape (N, 3, n_timepoints), dtype float64
            Series, channels before time (sktime's numpy3D layout).
        y_train, y_test : ndarray of shape (N, n_timepoints), dtype int64
            Binary label at every time step.
        true_saliency_train, true_saliency_test : ndarray of shape (N, 3, n_timepoints), dtype int8
            1 on channel ``1 + s_t`` at every time ``t``, 0 elsewhere.
        states_train, states_test : ndarray of shape (N, n_timepoints), dtype int64
            Hidden states ``s_t`` in {0, 1}.
        description : str
            The settings of the benchmark.

    See Also
    --------
    make_switch_feature : The 3-state Switch-Feature benchmark.

    Notes
    -----
    The public generators (FIT, tint) differ from this one in a few details:
    here there is no ``1e-3`` jitter on the covariances, the stay-in-1
    probability is floored at 0.8, and the saliency is marked at every time
    step rather than at switches only (see the module docstring).

    Examples
    --------
    >>> from sklearn_tsmask.datasets import make_state
    >>> data = make_state(random_state=0)
    >>> data.X_train.shape, data.X_test.shape
    ((800, 3, 200), (200, 3, 200))
    >>> data.y_train.shape, data.true_saliency_test.dtype
    ((800, 200), dtype('int8'))
    >>> bool((data.true_saliency_train.argmax(axis=1) == 1 + data.states_train).all())
    True
    """
    n_train, n_test, n_timepoints = _check_sizes(n_train, n_test, n_timepoints)
    rng = check_random_state(random_state)
    n = n_train + n_test

    # Hidden chain, vectorised over the series.
    states = np.empty((n, n_timepoints), dtype=np.int64)
    previous = (rng.random_sample(n) < 0.5).astype(np.int64)  # s_{-1}, as FIT/tint
    d = np.zeros(n, dtype=np.int64)
    for t in range(n_timepoints):
        p_one = np.where(previous == 1, _state_stay_probability(d), STATE_P_0_TO_1)
        current = (rng.random_sample(n) < p_one).astype(np.int64)
        d = np.where(current == previous, d + 1, 0)
        states[:, t] = current
        previous = current

    # Emissions x_t = mu_s + L_s z_t, L_s the Cholesky factor of Sigma_s.
    chol = np.linalg.cholesky(_state_covariances())  # (2, 3, 3)
    z = rng.standard_normal((n, n_timepoints, N_CHANNELS))
    in_one = (states == 1)[:, :, None]
    X = STATE_MEANS[states] + np.where(in_one, z @ chol[1].T, z @ chol[0].T)
    X = np.ascontiguousarray(X.transpose(0, 2, 1))  # (n, C, T)

    salient_channel = 1 + states
    x_salient = np.take_along_axis(X, salient_channel[:, None, :], axis=1)[:, 0]
    y = rng.random_sample((n, n_timepoints)) < expit(STATE_LABEL_SLOPE * x_salient)

    description = (
        f"State benchmark (2-state HMM of FIT, Tonekaboni et al. 2020; Dynamask, Crabbe & van der Schaar 2021): "
        f"{n_train} train / {n_test} test series, C = 3, T = {n_timepoints}. "
        "P(0 -> 1) = 0.05, P(stay in 1) = max(0.95 - d/500, 0.8) with d the steps since "
        "the last switch, P(s_0 = 1) = 0.5; x_t ~ N(mu_s, Sigma_s), mu_0 = (0.1, 1.6, 0.5), "
        "mu_1 = (-0.1, -0.4, -1.5), Sigma_s = 0.8 I + 0.01 between channels 0 and 1 + s; "
        "y_t ~ Bernoulli(sigmoid(2 x[1 + s_t, t])); true saliency = channel 1 + s_t."
    )
    return _split(n_train, X, y, states, salient_channel, description)


def make_switch_feature(n_train=800, n_test=200, *, n_timepoints=100, random_state=None):
    """Switch-Feature benchmark: a 3-state chain whose state picks the channel behind the label.

    The hidden state ``s_t`` in {0, 1, 2} starts uniformly and follows the
    transition matrix ``[[.95, .02, .03], [.02, .95, .03], [.03, .02, .95]]``
    (row = current state). Every entry ``x[c, t]`` is drawn independently from
    ``N(scale[s_t][c], 0.1)`` (variance 0.1) with ``scale = [[.8, -.5, -.2],
    [0, -1, 0], [-.2, -.2, .8]]``. The references sample a Gaussian process
    with an RBF kernel of length-scale 0.2 on the integer time grid: at lag 1
    its correlation is ``exp(-12.5) < 4e-6``, so it is white noise and is
    implemented as such. The label is ``y_t ~ Bernoulli(sigmoid(3 * x[s_t,
    t]))`` and the true saliency is channel ``s_t`` at every time step.

    Parameters
    ----------
    n_train : int, default=800
        Number of training series, at least 1.
    n_test : int, default=200
        Number of test series, at least 1.
    n_timepoints : int, default=100
        Length ``T`` of each series, at least 2.
    random_state : int, RandomState instance or None, default=None
        Seed of the states, emissions and labels (see
        :func:`sklearn.utils.check_random_state`).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the keys (``N`` is ``n_train`` for ``*_train``, ``n_test`` for
        ``*_test``):

        X_train, X_test : ndarray of shape (N, 3, n_timepoints), dtype float64
            Series, channels before time (sktime's numpy3D layout).
        y_train, y_test : ndarray of shape (N, n_timepoints), dtype int64
            Binary label at every time step.
        true_saliency_train, true_saliency_test : ndarray of shape (N, 3, n_timepoints), dtype int8
            1 on channel ``s_t`` at every time ``t``, 0 elsewhere.
        states_train, states_test : ndarray of shape (N, n_timepoints), dtype int64
            Hidden states ``s_t`` in {0, 1, 2}.
        description : str
            The settings of the benchmark.

    See Also
    --------
    make_state : The 2-state State benchmark.

    Notes
    -----
    FIT's public generator draws the first state as ``Bernoulli(1/3)`` (never
    state 2); this one uses the uniform initial distribution of the ContraLSP
    paper (see the module docstring for the other differences).

    Examples
    --------
    >>> from sklearn_tsmask.datasets import make_switch_feature
    >>> data = make_switch_feature(random_state=0)
    >>> data.X_train.shape, data.X_test.shape
    ((800, 3, 100), (200, 3, 100))
    >>> sorted(set(data.states_train.ravel().tolist()))
    [0, 1, 2]
    >>> bool((data.true_saliency_test.argmax(axis=1) == data.states_test).all())
    True
    """
    n_train, n_test, n_timepoints = _check_sizes(n_train, n_test, n_timepoints)
    rng = check_random_state(random_state)
    n = n_train + n_test
    n_states = SWITCH_TRANSITIONS.shape[0]

    # Hidden chain by inverse-CDF sampling of the row of the current state.
    cdf = np.cumsum(SWITCH_TRANSITIONS, axis=1)[:, :-1]  # (3, 2): the last column is 1
    states = np.empty((n, n_timepoints), dtype=np.int64)
    states[:, 0] = rng.randint(0, n_states, size=n)
    for t in range(1, n_timepoints):
        u = rng.random_sample(n)
        states[:, t] = (u[:, None] >= cdf[states[:, t - 1]]).sum(axis=1)

    # White-noise emissions (n, C, T).
    X = SWITCH_MEANS[states].transpose(0, 2, 1) + np.sqrt(SWITCH_VARIANCE) * rng.standard_normal(
        (n, N_CHANNELS, n_timepoints)
    )

    salient_channel = states
    x_salient = np.take_along_axis(X, salient_channel[:, None, :], axis=1)[:, 0]
    y = rng.random_sample((n, n_timepoints)) < expit(SWITCH_LABEL_SLOPE * x_salient)

    description = (
        f"Switch-Feature benchmark (3-state HMM of FIT, Tonekaboni et al. 2020; ContraLSP, Liu et al. 2024): "
        f"{n_train} train / {n_test} test series, C = 3, T = {n_timepoints}. "
        "s_0 uniform, transitions [[.95, .02, .03], [.02, .95, .03], [.03, .02, .95]]; "
        "x[c, t] ~ N(scale[s_t][c], 0.1) independently (white-noise form of the GP with "
        "length-scale 0.2), scale = [[.8, -.5, -.2], [0, -1, 0], [-.2, -.2, .8]]; "
        "y_t ~ Bernoulli(sigmoid(3 x[s_t, t])); true saliency = channel s_t."
    )
    return _split(n_train, X, y, states, salient_channel, description)
