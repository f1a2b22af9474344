"""Every example in the public docstrings runs and prints what it claims."""

import doctest
import importlib

import pytest

MODULES = [
    "sklearn_tsmask.dynamask",
    "sklearn_tsmask.extremal_mask",
    "sklearn_tsmask.contralsp",
    "sklearn_tsmask.perturbation_nets",
    "sklearn_tsmask.perturbations",
    "sklearn_tsmask.datasets._rare",
    "sklearn_tsmask.datasets._white_box",
    "sklearn_tsmask.datasets._hmm",
    "sklearn_tsmask.datasets._black_box",
    "sklearn_tsmask.metrics._ground_truth",
    "sklearn_tsmask.metrics._scorers",
    "sklearn_tsmask.metrics._fidelity",
    "sklearn_tsmask.metrics._fidelity_scorers",
    "sklearn_tsmask.black_boxes",
    "sklearn_tsmask.plotting",
    "sklearn_tsmask.parallel",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name.endswith("parallel"):
        pytest.importorskip("distributed")
    if name.endswith("plotting"):
        matplotlib = pytest.importorskip("matplotlib")
        matplotlib.use("Agg")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
