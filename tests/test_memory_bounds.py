"""Memory is bounded by ``batch_size``: the model never sees more series at once than a batch holds
(times the mask variants optimised together), whatever the number of series explained."""

import numpy as np
import pytest

from sklearn_tsmask import DynaMask, all_explainers

PROBE_SIZE = 16  # fit checks the model once on the first series (at most this many)


class RowRecorder:
    """A model recording the number of series of each call."""

    def __init__(self):
        self.rows = []

    def __call__(self, x):
        self.rows.append(x.shape[0])
        return (x * x).sum(-1)


def _model_call_rows(est, n_series):
    X = np.random.RandomState(0).randn(n_series, 2, 8)
    model = RowRecorder()
    est.fit_transform(X, model)
    probe, rest = model.rows[0], model.rows[1:]
    return probe, rest


@pytest.mark.parametrize("batch_size", [2, 3])
@pytest.mark.parametrize("name, cls", all_explainers())
def test_model_calls_hold_at_most_one_batch_of_series(name, cls, batch_size):
    for n_series in (24, 48):  # twice the series: the same largest call
        est = cls(max_iter=2, batch_size=batch_size, device="cpu", random_state=0)
        probe, rest = _model_call_rows(est, n_series)
        assert probe == PROBE_SIZE
        assert max(rest) == batch_size * est._masks_per_series()
        # every series is explained: full batches and one last partial batch
        assert n_series % batch_size == 0 or min(rest) == n_series % batch_size


def test_dynamask_area_variants_share_the_batch_budget():
    est = DynaMask(area=[0.1, 0.2, 0.3], max_iter=2, batch_size=4, device="cpu", random_state=0)
    _, rest = _model_call_rows(est, 40)
    assert est._masks_per_series() == 3 and max(rest) == 4 * 3


def test_numpy_masks_take_over_the_results_memory_and_stay_independent():
    """The masks array is the merged results' own memory (no final copy), and each call returns a new array."""
    from sklearn_tsmask import ExtremalMask
    from sklearn_tsmask.datasets import make_rare_time

    X, _, white_box = make_rare_time(n_samples=6, random_state=0)
    X = X.astype(np.float32)  # masks come back in the input's dtype: float32 needs no conversion
    est = ExtremalMask(max_iter=5, batch_size=4, random_state=0)
    first = est.fit_transform(X, model=white_box)
    assert first.dtype == np.float32 and first.flags.writeable and first.flags.c_contiguous
    assert first.base is not None  # a view of the merged tensor's storage: handed over, not copied
    again = est.transform(X)
    kept = again.copy()
    first[:] = -1.0  # the user's array is theirs: writing into it changes no later result
    np.testing.assert_array_equal(est.transform(X), kept)
    assert not np.shares_memory(again, first)
