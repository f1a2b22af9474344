"""Sphinx configuration of the sklearn-tsmask documentation.

Build (warnings are errors; the examples are executed for the gallery)::

    python -m sphinx -W --keep-going -b html doc doc/_build/html

Fast build, without running the examples::

    python -m sphinx -W --keep-going -b html -D plot_gallery=0 doc doc/_build/html
"""

import os
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Document the checkout being built, installed or not.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE / "sphinxext"))
os.environ.setdefault("MPLBACKEND", "Agg")

import sklearn_tsmask  # noqa: E402

# -- Project -----------------------------------------------------------------
project = "sklearn-tsmask"
author = "the sklearn-tsmask developers"
copyright = "the sklearn-tsmask developers; BSD-3-Clause"
release = sklearn_tsmask.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # copies MathJax 3 into _static/mathjax and points mathjax_path there, so that the formulas render
    # offline instead of loading MathJax from a CDN (see setup() at the end for the SVG output)
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "matplotlib.sphinxext.plot_directive",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "README.md", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"
# No intersphinx: the build must not need the network (and must not fail when it is down).

# -- autodoc / autosummary / numpydoc -----------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
autodoc_inherit_docstrings = True

numpydoc_show_class_members = False  # the class template lists the methods itself
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- matplotlib's plot directive (the figures of the getting-started and user-guide pages) ----------
# Drawn at build time from the code in the pages: no image is committed.
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"figure.dpi": 110}

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-tsmask {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "install": [], "getting_started": [], "benchmarks": []}

# -- Gallery -----------------------------------------------------------------
# The examples in ../examples (GALLERY_HEADER.txt is the gallery's introduction), executed at build time.
sphinx_gallery_conf = {
    "examples_dirs": os.path.join("..", "examples"),
    "gallery_dirs": "auto_examples",
    # every script in the folder is an example (their names carry no "plot_" prefix)
    "filename_pattern": r"\.py$",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "gallery_order.ExampleOrder",  # doc/sphinxext/gallery_order.py
    # `-D plot_gallery=0` builds the pages without running the examples
    "plot_gallery": "True",
    "abort_on_example_error": False,
    "doc_module": ("sklearn_tsmask",),
    "backreferences_dir": os.path.join("gen_modules", "backreferences"),
    "image_scrapers": ("matplotlib",),
    "download_all_examples": False,
    "show_memory": False,
    "min_reported_time": 0,
    "remove_config_comments": True,
}

# plt.show() in an example under the Agg backend warns; the figure is captured all the same.
warnings.filterwarnings("ignore", category=UserWarning, message=".*Matplotlib is currently using agg.*")


def setup(app):
    # Runs after the extensions' setup. sphinx-mathjax-offline points mathjax_path at its local
    # tex-chtml.js, whose CHTML output loads web fonts: browsers block fonts read from file:// URLs
    # (the site opened from disk), so use its SVG output, which draws every glyph itself and needs
    # no font file. The path is relative to _static/, where the extension copies MathJax.
    app.config.mathjax_path = "mathjax/tex-svg.js"
