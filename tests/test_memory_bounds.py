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
