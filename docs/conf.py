"""Sphinx configuration for secml_detect."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

from secml_detect import __version__  # noqa: E402

project = "secml_detect"
author = "secml_detect developers"
copyright = "2026, secml_detect developers"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
}
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
intersphinx_mapping = {}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
html_theme = "alabaster"
myst_heading_anchors = 3
# Inherited scikit-learn docstrings cite labels of the scikit-learn docs (no network for intersphinx).
suppress_warnings = ["myst.header", "ref.ref"]
