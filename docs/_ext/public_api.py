"""Writes the API reference pages from the package's ``__all__`` lists, so that every public name
has a page without anyone having to remember to add it.

One page per family (``docs/api/<family>.rst``) and ``docs/api/index.rst``. A name exported at the
top level (``skhep_reweight.DCTRReweighter``) is documented there, once, under that path: the
docstrings refer to it so. A family lists such names with a link to that page and documents the
names of its own. Runs when the configuration is read, before Sphinx lists the source files
and autosummary turns the pages into one page per object.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.config import Config

#: The families in the order of the reference, with the sentence that introduces each.
FAMILIES = {
    "reweight": "Reweighting with classifiers: DCTR, conditional reweighting, ensembles, and the "
    "functions that turn a classifier's output into weights.",
    "fit": "Fitting generator parameters through detector effects (SRGN).",
    "calibrate": "Calibration: maximum-likelihood (Gaussian Ansatz) and optimal transport.",
    "unweight": "Unweighting events: the weighted GAN and hit-or-miss.",
    "unfold": "Unfolding: OmniFold and iterative Bayesian unfolding.",
    "datasets": "The papers' synthetic examples with their exact answers.",
    "metrics": "Sample and calibration metrics.",
    "diagnostics": "Reports and ratio-panel plots of a reweighting.",
    "io": "Reading events from ROOT and parquet files and writing weights.",
    "export": "Exporting fitted models to ONNX for C++ frameworks.",
    "dask": "Dask collections and clusters.",
    "compat.hep_ml": "Drop-in replacements for hep_ml's reweighting classes.",
}
TOP = "skhep_reweight"


def _kind(obj: object) -> str:
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return "exception"
    if inspect.isclass(obj):
        return "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "function"
    if inspect.ismodule(obj):
        return "module"
    return "data"


def _summary(names: list[str], module: str) -> list[str]:
    return [
        f".. currentmodule:: {module}",
        "",
        ".. autosummary::",
        "   :toctree: ../generated/",
        "   :nosignatures:",
        "",
        *(f"   {name}" for name in names),
        "",
    ]


def public_names(module_name: str) -> list[str]:
    """The names of ``module_name.__all__`` (imported lazily where the package is lazy)."""
    module = importlib.import_module(module_name)
    return list(module.__all__)


def write_api_pages(out: Path) -> dict[str, list[str]]:
    """Write ``out/index.rst`` and one page per family; returns the documented full names."""
    top = importlib.import_module(TOP)
    out.mkdir(parents=True, exist_ok=True)
    documented: dict[str, list[str]] = {}
    top_names = [n for n in top.__all__ if _kind(getattr(top, n)) != "module"]
    top_modules = [n for n in top.__all__ if _kind(getattr(top, n)) == "module"]
    lines = [
        "API reference",
        "=============",
        "",
        "Everything below is public: the names of ``skhep_reweight.__all__`` and of each family's "
        "``__all__``. Each page is generated from the docstrings, the equations and the papers "
        "they come from included; the examples that use an object are listed on its page.",
        "",
        "The top level: ``skhep_reweight``",
        "---------------------------------",
        "",
        "The estimators, the two warnings every user meets, and saving and loading fitted "
        "models. The modules "
        + ", ".join(f":doc:`skhep_reweight.{m} <{m}>`" for m in top_modules)
        + " are imported with the package.",
        "",
        *_summary(top_names, TOP),
        "Families",
        "--------",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
        *(f"   {family}" for family in FAMILIES),
        "",
    ]
    documented[TOP] = [f"{TOP}.{n}" for n in top_names]
    (out / "index.rst").write_text("\n".join(lines))
    for family, sentence in FAMILIES.items():
        name = f"{TOP}.{family}"
        module = importlib.import_module(name)
        own, shared = [], []
        for member in module.__all__:
            obj = getattr(module, member)
            at_top = getattr(top, member, None)
            (shared if at_top is obj and member in top.__all__ else own).append(member)
        title = f"``{name}``"
        page = [title, "=" * len(title), "", f".. automodule:: {name}", "   :no-members:", ""]
        page += [sentence, ""]
        if shared:
            page += [
                "Also exported at the top level, and documented there: "
                + ", ".join(f":py:obj:`~{TOP}.{m}`" for m in shared)
                + ".",
                "",
            ]
        if own:
            page += _summary(own, name)
        (out / f"{family}.rst").write_text("\n".join(page))
        documented[name] = [f"{name}.{m}" for m in own]
    return documented


def _on_config_inited(app: Sphinx, config: Config) -> None:
    write_api_pages(Path(app.srcdir) / "api")


def setup(app: Sphinx) -> dict[str, bool]:
    # before Sphinx lists the source files, so that autosummary finds the pages written here
    app.connect("config-inited", _on_config_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
