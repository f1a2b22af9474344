"""Order of the examples in the gallery (a class, so that Sphinx can pickle the configuration)."""

import os

#: The gallery's reading order; examples not listed follow, by file name.
ORDER = [
    "quickstart.py",
    "grid_search_ground_truth.py",
    "tune_without_ground_truth.py",
    "sktime_classifier.py",
    "skorch_net.py",
    "gradient_free_classifier.py",
]


class ExampleOrder:
    """Sort key of sphinx-gallery's ``within_subsection_order``: :data:`ORDER`, then by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = os.path.basename(filename)
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)

    def __repr__(self):
        return f"{type(self).__name__}()"
