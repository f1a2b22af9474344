"""Every example in the public docstrings runs and prints what it claims."""

import doctest
import importlib
import inspect
import pkgutil
import re

import pytest

def _package_modules():
    """Every module of the package, found by walking it (a new module is collected without a list to edit)."""
    import sklearn_tsmask

    names = ["sklearn_tsmask"]
    for info in pkgutil.walk_packages(sklearn_tsmask.__path__, prefix="sklearn_tsmask."):
        if not info.name.endswith("__main__"):
            names.append(info.name)
    return sorted(names)


MODULES = _package_modules()


def test_every_explainer_module_is_collected():
    from sklearn_tsmask import all_explainers

    for _, cls in all_explainers():
        assert cls.__module__ in MODULES


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


# the public modules: the package and every module of it whose name has no leading underscore
PUBLIC_MODULES = [m for m in MODULES if not any(part.startswith("_") for part in m.split(".")[1:])]


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
