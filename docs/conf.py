"""Sphinx configuration of the skhep_reweight documentation.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` from the repository root
(``pip install ".[docs]"`` first). The gallery runs every example in ``examples/``; set
``SKHEP_REWEIGHT_QUICK=1`` to run them at their small size (what CI does), leave it unset for the
papers' sizes. ``-D plot_gallery=0`` builds without running them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import skhep_reweight

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

project = "skhep_reweight"
author = "the skhep_reweight developers"
copyright = "2026, the skhep_reweight developers"
release = skhep_reweight.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
    "public_api",
    "bench_tables",  # re-reads benchmarks.md (and redraws its plots) when bench/README.md changes
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/**/*.ipynb"]
templates_path = ["_templates"]
root_doc = "index"

# -- API reference ----------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": False}  # bases are private
autodoc_typehints = "none"  # numpydoc's Parameters section carries the types
numpydoc_show_class_members = False  # the class template lists the methods
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Doctests are run by pytest (--doctest-modules); here they are only shown.

# -- MyST (the guide pages are Markdown) ------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- Gallery ---------------------------------------------------------------------------------
QUICK = os.environ.get("SKHEP_REWEIGHT_QUICK") == "1"
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skhep_reweight",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"skhep_reweight": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "show_memory": False,
    "min_reported_time": 5,
    # the examples print progress lines (verbose=1): keep the captured output short
    "capture_repr": (),
}
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]

# -- Cross-references to other projects ------------------------------------------------------
# Off by default (CI and these machines reach only package registries); set
# SKHEP_REWEIGHT_DOCS_INTERSPHINX=1 to link numpy, scikit-learn, PyTorch and skorch names.
intersphinx_mapping = (
    {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "torch": ("https://pytorch.org/docs/stable", None),
    }
    if os.environ.get("SKHEP_REWEIGHT_DOCS_INTERSPHINX") == "1"
    else {}
)

# -- HTML ------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skhep_reweight {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    # the wide tables of these pages get the room of the page's table of contents
    "secondary_sidebar_items": {
        "**": ["page-toc", "sourcelink"],
        "guide/choosing": [],
        "papers": [],
        "guide/hep_ml": [],
    },
}
html_sidebars = {"index": [], "papers": []}
html_show_sourcelink = False
