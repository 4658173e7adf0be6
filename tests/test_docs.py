"""The documentation site documents every public name.

The public names are the package's ``__all__`` and the ``__all__`` of every public module below
it, found by walking the package (not from the documentation's own list, so that a new family
the documentation forgot fails here). Each must have a page in the built HTML whose signature
carries the object's full name as its anchor; a name exported at the top level is documented
there (``generated/skhep_reweight.NAME.html``), the others under their family.

The HTML is the one CI builds (``SKHEP_REWEIGHT_DOCS_HTML`` names its folder); without it the
test builds the site itself without running the gallery (``-D plot_gallery=0``, about 30 s).
"""

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

for _package in ("sphinx", "numpydoc", "sphinx_gallery", "myst_parser", "pydata_sphinx_theme"):
    pytest.importorskip(_package)

import skhep_reweight  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOP = "skhep_reweight"


def public_modules() -> dict[str, list[str]]:
    """Every public module of the package that declares ``__all__``, with its names."""
    found = {TOP: list(skhep_reweight.__all__)}
    for info in pkgutil.walk_packages(skhep_reweight.__path__, prefix=f"{TOP}."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        if hasattr(module, "__all__"):
            found[info.name] = list(module.__all__)
    return found


def expected_pages(modules: dict[str, list[str]]) -> dict[str, tuple[str, str]]:
    """Full name -> (the HTML file, relative to the site, that must document it; the anchor id
    of its documentation there)."""
    pages = {}
    for module_name, names in modules.items():
        module = importlib.import_module(module_name)
        for name in names:
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                family = obj.__name__.removeprefix(f"{TOP}.")
                documented = (f"api/{family}.html", f"module-{obj.__name__}")
            elif (
                module_name != TOP
                and name in skhep_reweight.__all__
                and (getattr(skhep_reweight, name) is obj)
            ):
                documented = (f"generated/{TOP}.{name}.html", f"{TOP}.{name}")
            else:
                documented = (f"generated/{module_name}.{name}.html", f"{module_name}.{name}")
            pages[f"{module_name}.{name}"] = documented
    return pages


def missing_pages(html: Path, pages: dict[str, tuple[str, str]]) -> list[str]:
    """The names whose page is absent or does not document them (no anchor of that name)."""
    missing = []
    for full_name, (page, anchor) in pages.items():
        path = html / page
        if not path.is_file():
            missing.append(f"{full_name}: no {page}")
        elif f'id="{anchor}"' not in path.read_text(encoding="utf-8"):
            missing.append(f'{full_name}: {page} has no id="{anchor}"')
    return missing


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    given = os.environ.get("SKHEP_REWEIGHT_DOCS_HTML")
    if given:
        folder = Path(given)
        if not folder.is_absolute():
            folder = ROOT / folder
        assert (folder / "index.html").is_file(), f"SKHEP_REWEIGHT_DOCS_HTML={given}: no site"
        return folder
    out = tmp_path_factory.mktemp("html")
    command = [
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
        "-D", "plot_gallery=0", "-d", str(out / ".doctrees"), "docs", str(out),
    ]  # fmt: skip
    completed = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert completed.returncode == 0, completed.stderr[-5000:]
    return out


def test_every_public_name_has_a_page(html):
    modules = public_modules()
    # the families the package has today, so that a broken walk cannot pass with nothing found
    assert {f"{TOP}.reweight", f"{TOP}.unfold", f"{TOP}.io", f"{TOP}.compat.hep_ml"} <= set(modules)
    pages = expected_pages(modules)
    assert len(pages) > 90
    assert missing_pages(html, pages) == []


def test_a_name_without_a_page_is_reported(html):
    # the check above can fail: a name that is not documented, and a page of another object
    name = f"{TOP}.NotAnEstimator"
    bogus = {name: (f"generated/{name}.html", name)}
    assert missing_pages(html, bogus) == [f"{name}: no generated/{name}.html"]
    wrong = {f"{TOP}.DCTRReweighter": (f"generated/{TOP}.OmniFold.html", f"{TOP}.DCTRReweighter")}
    (message,) = missing_pages(html, wrong)
    assert "has no" in message


def test_estimator_pages_render_their_equations_and_examples(html):
    page = (html / f"generated/{TOP}.DCTRReweighter.html").read_text(encoding="utf-8")
    assert 'class="math' in page  # the loss, rendered by MathJax
    assert "predict_weights" in page  # inherited methods are listed
    assert "arXiv:1907.08209" in page  # the paper
    index = (html / "api/index.html").read_text(encoding="utf-8")
    assert f"{TOP}.OmniFold" in index
