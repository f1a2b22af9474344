"""Every example in the public docstrings runs and prints what it claims."""

import doctest
import importlib
import inspect
import re

import pytest

MODULES = [
    "sklearn_tsmask._base",
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


PUBLIC_MODULES = [
    "sklearn_tsmask",
    "sklearn_tsmask.metrics",
    "sklearn_tsmask.datasets",
    "sklearn_tsmask.perturbations",
    "sklearn_tsmask.perturbation_nets",
    "sklearn_tsmask.black_boxes",
    "sklearn_tsmask.plotting",
    "sklearn_tsmask.parallel",
]


def _public_callables():
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):  # scorer instances are documented by their maker
                yield f"{module_name}.{name}", obj


def _sections(doc):
    return set(re.findall(r"^\s*(\w[\w ]*)\n\s*-{3,}\s*$", doc, flags=re.M))


@pytest.mark.parametrize("qualname, obj", list(_public_callables()), ids=lambda v: v if isinstance(v, str) else "")
def test_public_api_has_numpydoc_sections(qualname, obj):
    """Every public class and function documents its parameters, its result and an example."""
    sections = _sections(inspect.getdoc(obj) or "")
    assert "Examples" in sections, f"{qualname} has no Examples section"
    params = [p for p in inspect.signature(obj).parameters if p != "self"]
    if params:
        assert "Parameters" in sections, f"{qualname} has no Parameters section"
    if inspect.isfunction(obj):
        assert {"Returns", "Yields"} & sections, f"{qualname} has no Returns section"
