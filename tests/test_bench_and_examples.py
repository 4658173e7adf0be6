"""Every benchmark script and every example runs, at a tiny size, the way a user runs it.

Each script runs as a subprocess of this Python in a temporary folder: the bench scripts with
``--quick`` (their smoke size) and ``--output-dir`` there, the examples with the environment
variable ``SKHEP_REWEIGHT_QUICK=1``. Each must exit with status 0 and write its results: a bench
script its JSON and markdown, an example every figure it saves. The numbers of such a run mean
nothing; what is tested is that no script has rotted (an option, an import, an API that moved).

The scripts run two at a time, each on one thread, so that the file uses the two cores of a small
machine; a script that needs a package of the optional ``bench`` or ``plot`` extras is skipped
when that package is missing. The runner shared by the bench scripts (``bench/_common.py``) is
also tested in this process, on a toy section.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = sorted((ROOT / "bench").glob("bench_*.py"))
EXAMPLES = sorted((ROOT / "examples").glob("*/plot_*.py"))
SCRIPTS = BENCH + EXAMPLES

# Optional packages a script cannot run without (the bench and plot extras). bench_unweight.py
# and the unweighting example leave their VEGAS rows out without vegas, so it is not listed.
NEEDS = {
    "bench_dctr_vs_hep_ml.py": ("hep_ml",),
    "bench_cli_vs_hep_ml.py": ("hep_ml", "uproot", "pandas"),
    "bench_apply_throughput.py": ("uproot", "pyarrow", "pandas"),
    "bench_ot.py": ("ot",),
    "bench_export.py": ("onnxruntime",),
    "bench_scale.py": ("distributed", "pyarrow"),
    **{path.name: ("matplotlib",) for path in EXAMPLES},
    "plot_export_onnx.py": ("matplotlib", "onnxruntime"),
    "plot_omnifold_pythia.py": ("pythia8mc", "fastjet", "matplotlib"),
}
PARALLEL = 2  # scripts at once, each on one thread
TIMEOUT_S = 600  # per script: a hung script fails instead of blocking the suite


def _missing(script: Path) -> list[str]:
    return [p for p in NEEDS.get(script.name, ()) if importlib.util.find_spec(p) is None]


def _run(script: Path, folder: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, str(script)]
    if script in BENCH:
        command += ["--quick", "--threads", "1", "--output-dir", str(folder / "results")]
    else:
        env["SKHEP_REWEIGHT_QUICK"] = "1"
        env["SKHEP_REWEIGHT_CACHE"] = str(folder / "cache")  # generated events stay in tmp
    return subprocess.run(
        command,
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


class _Runs:
    """The scripts' runs, PARALLEL at a time, each in its own temporary folder."""

    def __init__(self, pool: ThreadPoolExecutor, tmp_path_factory) -> None:
        self.pool, self.tmp_path_factory, self.futures = pool, tmp_path_factory, {}

    def start(self, script: Path) -> None:
        if script not in self.futures:
            folder = self.tmp_path_factory.mktemp(script.stem)
            self.futures[script] = self.pool.submit(lambda: (_run(script, folder), folder))

    def result(self, script: Path) -> tuple[subprocess.CompletedProcess, Path]:
        self.start(script)
        return self.futures[script].result()


def _selected_scripts(request) -> list[Path]:
    """The scripts of the tests of this module that this session runs."""
    selected = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if (
            getattr(item, "module", None) is request.module
            and callspec
            and "script" in callspec.params
        ):
            selected.append(callspec.params["script"])
    return selected


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    """Starts every script selected in this session at once, so that their runs overlap; each
    test then waits for its own. Under pytest-xdist, whose workers share out the tests, each
    test starts its own script."""
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        scripts = _Runs(pool, tmp_path_factory)
        if "PYTEST_XDIST_WORKER" not in os.environ:
            for script in _selected_scripts(request):
                if not _missing(script):
                    scripts.start(script)
        yield scripts
        for future in scripts.futures.values():
            future.cancel()


def _output(completed: subprocess.CompletedProcess) -> str:
    return f"stdout:\n{completed.stdout[-3000:]}\nstderr:\n{completed.stderr[-3000:]}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_script_runs_at_quick_size(script, runs):
    for package in NEEDS.get(script.name, ()):
        pytest.importorskip(package)
    completed, folder = runs.result(script)
    assert completed.returncode == 0, _output(completed)
    if script in BENCH:
        (result,) = (folder / "results").glob("*.json")
        payload = json.loads(result.read_text())
        assert payload["size"] == "quick"
        assert payload["sections"], "no section ran"
        for section in payload["sections"]:
            assert payload[section]["section_s"] >= 0
        assert result.with_suffix(".md").read_text().startswith("# ")
    else:
        figures = re.findall(r"savefig\(\s*\"([^\"]+)\"", script.read_text())
        assert figures, f"{script.name} saves no figure"
        for name in figures:
            assert (folder / name).stat().st_size > 0, f"{name} was not written"


# ------------------------------------------------------------------ the runner, in process
@pytest.fixture
def common(monkeypatch):
    """bench/_common.py, imported as the scripts import it."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import _common

    return _common


def _toy_run(common, argv, tmp_path):
    """A script of two sections that record what they were handed."""
    seen = []

    def section(name):
        def run_section(r):
            seen.append((name, r.size, r.args.n_events, r.args.widths))
            return {"n_events": r.args.n_events}, f"table {name}"

        return run_section

    sizes = {
        "n_events": common.Size("events", 10, 1000, 5000),
        "widths": common.Size("widths", [1], [1, 2], [1, 2, 4], nargs="+"),
    }
    status = common.run(
        "A toy benchmark.",
        {"first": section("first"), "second": section("second")},
        [*argv, "--threads", "0", "--output-dir", str(tmp_path)],
        name="toy",
        title="Toy",
        sizes=sizes,
    )
    assert status == 0
    return seen


def _both(size: str, n_events: int, widths: list[int]) -> list[tuple]:
    return [("first", size, n_events, widths), ("second", size, n_events, widths)]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], _both("default", 1000, [1, 2])),
        (["--quick"], _both("quick", 10, [1])),
        (["--full", "--n-events", "7"], _both("full", 7, [1, 2, 4])),
        # the script's order, whatever the order asked for
        (["--sections", "second,first"], _both("default", 1000, [1, 2])),
        (["--sections", "second"], _both("default", 1000, [1, 2])[1:]),
    ],
)
def test_runner_sizes_and_sections(common, tmp_path, argv, expected):
    assert _toy_run(common, argv, tmp_path) == expected


def test_runner_writes_named_results(common, tmp_path):
    _toy_run(common, ["--quick", "--sections", "second"], tmp_path)
    payload = json.loads((tmp_path / "toy_quick_second.json").read_text())
    assert payload["sections"] == ["second"]
    assert payload["second"]["n_events"] == 10
    assert payload["options"]["n_events"] == 10
    markdown = (tmp_path / "toy_quick_second.md").read_text()
    assert markdown.startswith("# Toy (--quick)")
    assert "table second" in markdown
    assert "table first" not in markdown


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sections", "first,nope"], "unknown section 'nope'"),
        (["--quick", "--full"], "not allowed with argument"),
        (["--n-events", "0"], "--n-events must be positive"),
    ],
)
def test_runner_rejects_bad_options(common, tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        _toy_run(common, argv, tmp_path)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
