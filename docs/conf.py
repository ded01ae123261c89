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
# Inherited and generated scikit-learn docstrings (set_*_request) cite labels and glossary
# terms of the scikit-learn docs, unreachable offline.
suppress_warnings = ["myst.header", "ref.ref"]


def _write_cli_reference(app):
    """Render ``secml-detect --help`` and every subcommand's help into cli_reference.txt."""
    import argparse

    from secml_detect.cli import build_parser

    parser = build_parser()
    parts = [parser.format_help()]

    def walk(p, prefix):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    parts.append(f"$ {prefix} {name} --help\n" + sub.format_help())
                    walk(sub, f"{prefix} {name}")

    walk(parser, "secml-detect")
    with open(os.path.join(app.srcdir, "cli_reference.txt"), "w") as fh:
        fh.write("\n".join(parts))


def setup(app):
    app.connect("builder-inited", _write_cli_reference)
