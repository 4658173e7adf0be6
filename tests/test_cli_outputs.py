"""The command line's outputs under failure: checked before any event is read, written all or
nothing, never over another run's, and interruptions (SIGINT, SIGTERM) at random moments of
``fit`` and ``apply`` that leave either the complete outputs of the run or those of the run
before, untouched; notices on stderr in one line; the configuration's import allow-list; the
column names a model carries.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from skhep_reweight import DCTRReweighter, load, save
from skhep_reweight._cli import main

pq = pytest.importorskip("pyarrow.parquet")
pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")

# moments per signal and command (SKHEP_REWEIGHT_SIGNAL_MOMENTS for a longer or shorter run)
MOMENTS = int(os.environ.get("SKHEP_REWEIGHT_SIGNAL_MOMENTS", "3"))


def _events(n, shift, seed):
    rng = np.random.RandomState(seed)
    return {
        "pt": np.round(rng.normal(shift, 1, n), 4),
        "eta": np.round(rng.normal(0, 1 + 0.3 * shift, n), 4),
        "w": np.round(rng.uniform(0.5, 1.5, n), 3),
    }


def _write(path, events):
    pq.write_table(pa.table(events), path, row_group_size=997)
    return path


CONFIG = """
[source]
path = "mc.parquet"
weight = "w"
[target]
path = "data.parquet"
weight = "w"
[features]
columns = ["pt", "eta"]
[estimator]
name = "DCTRReweighter"
{folds}
[estimator.params]
hidden_layer_sizes = [16]
max_epochs = {epochs}
early_stopping = false
random_state = {seed}
device = "cpu"
[validation]
bins = 10
[output]
model = "{model}"
report = "{report}"
{extra}
"""


def _config(folder, *, seed=0, epochs=5, folds="", model="model.skrw", report="report", extra=""):
    text = CONFIG.format(
        seed=seed, epochs=epochs, folds=folds, model=model, report=report, extra=extra
    )
    path = folder / "config.toml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def folder(tmp_path):
    _write(tmp_path / "mc.parquet", _events(1500, 0.0, 1))
    _write(tmp_path / "data.parquet", _events(1500, 0.5, 2))
    return tmp_path


def _digests(root, skip=("mc.parquet", "data.parquet", "config.toml")):
    """Every file and folder under ``root`` (hidden ones included) with its content digest."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
        for p in sorted(root.rglob("*"))
        if p.name not in skip
    }


# ------------------------------------------------------------------ 3, 4. outputs checked first
def test_a_failed_fit_leaves_the_previous_outputs_and_reads_nothing(folder, capsys):
    config = _config(folder)
    assert main(["fit", str(config), "--quiet"]) == 0
    before = _digests(folder)
    assert "report/metrics.json" in before
    # the case: the model cannot be written. The check comes before any event is read:
    # the source is damaged too, but the error is about the model's location
    (folder / "blocker").write_text("a file where a folder should be")
    (folder / "mc.parquet").write_bytes(b"PAR1 not really")
    _config(folder, seed=1, model="blocker/model.skrw")
    capsys.readouterr()
    assert main(["fit", str(config), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"cannot write output.model '{folder / 'blocker' / 'model.skrw'}'" in err
    assert ".tmp" not in err
    assert _digests(folder) == {**before, "blocker": _digests(folder)["blocker"]}


@pytest.mark.parametrize(
    ("model", "report", "message"),
    [
        ("model.skrw", "report.md", "output.report '.*report.md' is a file; it must be a folder"),
        ("sub", "report", "output.model '.*sub' is a folder; it must be a file"),
    ],
)
def test_output_locations_are_refused_before_reading(folder, capsys, model, report, message):
    (folder / "report.md").write_text("a file")
    (folder / "sub").mkdir()
    config = _config(folder, model=model, report=report)
    (folder / "mc.parquet").write_bytes(b"damaged")  # never read
    before = _digests(folder)
    assert main(["fit", str(config), "--quiet"]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert _digests(folder) == before


def test_a_folder_that_cannot_be_written_is_refused_before_reading(folder, capsys, tmp_path):
    if os.geteuid() == 0:  # root writes anywhere a mode allows nothing: a read-only mount
        locked = Path("/sys")
        if not locked.is_dir() or os.access(locked, os.W_OK) and _writable(locked):
            pytest.skip("no folder this user cannot write to")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
    config = _config(folder, model=str(locked / "model.skrw"))
    (folder / "mc.parquet").write_bytes(b"damaged")
    before = _digests(folder)
    assert main(["fit", str(config), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write output.model '{locked / 'model.skrw'}'" in err
    assert "not writable" in err
    assert _digests(folder) == before


def _writable(folder):
    try:
        (folder / ".skhep_probe").mkdir()
    except OSError:
        return False
    (folder / ".skhep_probe").rmdir()
    return True


def test_folders_the_configuration_names_are_created_and_removed_on_failure(folder, capsys):
    extra = 'weights = "w/out/weights.parquet"'
    config = _config(folder, model="new/deeper/model.skrw", report="r/report", extra=extra)
    events = _events(1500, 0.0, 1)
    events["w"][7] = np.nan  # read after the checks: the run fails while reading
    _write(folder / "mc.parquet", events)
    before = _digests(folder)
    assert main(["fit", str(config), "--quiet"]) == 2
    assert "NaN" in capsys.readouterr().err
    assert _digests(folder) == before  # no folder made, no staging folder left
    _write(folder / "mc.parquet", _events(1500, 0.0, 1))
    assert main(["fit", str(config), "--quiet"]) == 0
    for path in ("new/deeper/model.skrw", "r/report/metrics.json", "w/out/weights.parquet"):
        assert (folder / path).is_file()
    assert not [p for p in folder.rglob(".*")]


# ------------------------------------------------------------------ 9, 10. notices
def test_tiny_samples_are_told_in_one_line_notices_and_in_the_report(folder, capsys):
    _write(folder / "mc.parquet", _events(10, 0.0, 1))
    _write(folder / "data.parquet", _events(10_000, 0.5, 2))
    config = _config(folder)
    assert main(["fit", str(config), "--quiet"]) == 0
    captured = capsys.readouterr()
    notices = [line for line in captured.err.splitlines() if line]
    assert notices
    assert all(line.startswith("skhep-reweight fit: warning: ") for line in notices)
    assert any("source class has 8 effective events" in line for line in notices)
    assert "warnings.warn" not in captured.err
    assert "warning: The validation sample is too small" in captured.out
    metrics = json.loads((folder / "report" / "metrics.json").read_text())
    assert metrics["n_source"] == 2
    assert metrics["warnings"][0].startswith("The validation sample is too small")


def test_apply_on_held_out_events_prints_no_warning(folder, capsys):
    config = _config(folder, epochs=2)
    assert main(["fit", str(config), "--quiet"]) == 0
    _write(folder / "fresh.parquet", _events(1500, 0.0, 9))
    capsys.readouterr()
    args = ["apply", str(folder / "model.skrw"), str(folder / "fresh.parquet"), "-o"]
    assert main([*args, str(folder / "w.parquet"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "events outside the training ranges:" in captured.out
    # the same events in other units (x 1.5) are told, once, in one line
    events = _events(1500, 0.0, 9)
    events["pt"] = events["pt"] * 1.5
    _write(folder / "other.parquet", events)
    args = ["apply", str(folder / "model.skrw"), str(folder / "other.parquet"), "-o"]
    assert main([*args, str(folder / "w2.parquet"), "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("skhep-reweight apply: warning: ")
    assert "outside the feature ranges" in err[0]


# ------------------------------------------------------------------ 12. smaller ones
def test_two_applies_to_the_same_output_cannot_both_write(folder, capsys, holding):
    config = _config(folder, epochs=2)
    assert main(["fit", str(config), "--quiet"]) == 0
    output = folder / "w.parquet"
    args = ["apply", str(folder / "model.skrw"), str(folder / "mc.parquet"), "-o", str(output)]
    with holding(output):  # another apply, mid-run
        assert main([*args, "--quiet"]) == 2
        assert "another skhep-reweight run is writing --output" in capsys.readouterr().err
    assert main([*args, "--quiet"]) == 0


def test_configuration_classifiers_import_only_from_the_allow_list(folder, capsys):
    marker = folder / "imported"
    (folder / "evil_module.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "from sklearn.linear_model import LogisticRegression as Classifier\n"
    )
    sys.path.insert(0, str(folder))
    try:
        extra = 'classifier = "evil_module.Classifier"'
        text = (
            _config(folder)
            .read_text()
            .replace('name = "DCTRReweighter"', f'name = "DCTRReweighter"\n{extra}')
        )
        text = text.split("[estimator.params]")[0] + "[validation]" + text.split("[validation]")[1]
        config = folder / "config.toml"
        config.write_text(text.replace("[output]", '[output]\nformat = "joblib"'))
        assert main(["fit", str(config), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "imported only from sklearn, xgboost, lightgbm, catboost, skhep_reweight" in err
        assert "allow_any_classifier" in err
        assert not marker.exists()  # not imported
        config.write_text(
            config.read_text().replace(extra, f"{extra}\nallow_any_classifier = true")
        )
        assert main(["fit", str(config), "--quiet"]) == 0
        assert marker.exists()
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("evil_module", None)


def test_report_with_folds_refuses_changed_weights(folder, capsys):
    config = _config(folder, epochs=2, folds="folds = 2")
    assert main(["fit", str(config), "--quiet"]) == 0
    events = _events(1500, 0.0, 1)
    events["w"] = events["w"][::-1].copy()  # the same events, other weights
    _write(folder / "mc.parquet", events)
    capsys.readouterr()
    assert main(["report", str(config), str(folder / "model.skrw"), "-o", "r2"]) == 2
    assert "events or weights" in capsys.readouterr().err
    assert not (folder / "r2").exists()


def test_command_line_models_always_carry_their_column_names(folder, capsys):
    for folds in ("", "folds = 2"):
        config = _config(folder, epochs=2, folds=folds)
        assert main(["fit", str(config), "--quiet"]) == 0
        assert list(load(folder / "model.skrw").feature_names_in_) == ["pt", "eta"]
    # a model trained in Python on arrays has none: --columns in the wrong order is told
    events = _events(1500, 0.0, 1)
    X = np.column_stack([events["pt"] * 10, events["eta"]])  # pt on another scale than eta
    model = DCTRReweighter(hidden_layer_sizes=(4,), max_epochs=2, device="cpu")
    save(model.fit_samples(X, X * 1.1), folder / "arrays.skrw")
    _write(folder / "scaled.parquet", {"pt": X[:, 0], "eta": X[:, 1]})
    capsys.readouterr()
    args = ["apply", str(folder / "arrays.skrw"), str(folder / "scaled.parquet"), "-o"]
    assert main([*args, str(folder / "a.parquet"), "--columns", "pt,eta", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "could not be checked" in err
    assert "outside the feature ranges" not in err
    assert main([*args, str(folder / "b.parquet"), "--columns", "eta,pt", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "outside the feature ranges" in err
    assert "are --columns in training order?" in err


# ------------------------------------------------------------------ signals at random moments
# Each run is a process of its own that sets its SIGINT handler as a shell-started program has it
# (tests/_cli_zygote.py), so these tests do not depend on whether this runner ignores SIGINT; the
# tests marked `signals` do, and tests/test_signals.py reruns those with SIGINT ignored.
def _check_interrupted_runs(command_line, run_folder, pristine, command, complete):
    """Interrupt ``command`` at random moments with each signal, the runs side by side; every
    run leaves either the complete outputs (``complete(folder, pristine)`` holds) or the
    outputs of the run before, and nothing else."""
    start = time.perf_counter()
    done = command_line.run(*command, cwd=pristine)  # the complete run, and the clock
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    rng = np.random.RandomState(len(command))
    runs = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        for delay in rng.uniform(0.05, 0.9, MOMENTS) * seconds:
            folder = run_folder / f"{signum}_{delay:.3f}"
            shutil.copytree(pristine.parent / "before", folder)
            runs.append((signum, delay, folder, _digests(folder)))
    results = command_line.interrupt(command, [(f, signum, d) for signum, d, f, _ in runs])
    interrupted = 0
    for (signum, delay, folder, before), done in zip(runs, results, strict=True):
        if done.returncode == 0:  # finished before the signal: the complete outputs
            complete(folder, pristine)
            continue
        interrupted += 1
        code, word = (130, "interrupted") if signum == signal.SIGINT else (143, "terminated")
        assert done.returncode == code, (delay, seconds, done.stderr)
        last = done.stderr.strip().splitlines()[-1]
        assert word in last, done.stderr
        assert last.endswith("nothing was written"), done.stderr
        assert _digests(folder) == before  # earlier outputs untouched, nothing new
    print(f"{command[0]}: {interrupted} of {len(runs)} runs interrupted, over {seconds:.2f} s")
    return interrupted


def test_interrupted_fit_leaves_the_whole_run_or_the_one_before(command_line, tmp_path):
    before = tmp_path / "before"
    before.mkdir()
    _write(before / "mc.parquet", _events(1500, 0.0, 1))
    _write(before / "data.parquet", _events(1500, 0.5, 2))
    _config(before, seed=7, epochs=2, folds="folds = 2")
    assert main(["fit", str(before / "config.toml"), "--quiet"]) == 0  # the earlier run's
    _config(before, seed=0, epochs=20, folds="folds = 2")
    complete = tmp_path / "complete"
    shutil.copytree(before, complete)

    def same_as_complete(folder, reference):
        got, want = _digests(folder), _digests(reference)
        assert got.keys() == want.keys()
        one, two = (
            json.loads((folder / "report/metrics.json").read_text()),
            json.loads((reference / "report/metrics.json").read_text()),
        )
        assert one == two
        for name in ("model_weights.parquet",):
            np.testing.assert_array_equal(
                pq.read_table(folder / name).column(0), pq.read_table(reference / name).column(0)
            )

    command = ["fit", "config.toml", "--quiet"]
    interrupted = _check_interrupted_runs(
        command_line, tmp_path, complete, command, same_as_complete
    )
    assert interrupted >= MOMENTS  # the moments fall inside the run


def test_interrupted_apply_leaves_the_whole_output_or_the_one_before(command_line, tmp_path):
    before = tmp_path / "before"
    before.mkdir()
    events = _events(1500, 0.0, 1)
    model = DCTRReweighter(hidden_layer_sizes=(8,), max_epochs=2, random_state=0, device="cpu")
    frame = pd.DataFrame({"pt": events["pt"], "eta": events["eta"]})
    save(model.fit_samples(frame, frame * 1.1), before / "model.skrw")
    big = _events(400_000, 0.0, 3)
    _write(before / "big.parquet", {"pt": big["pt"], "eta": big["eta"]})
    pq.write_table(pa.table({"weight": np.ones(400_000)}), before / "w.parquet")  # earlier
    complete = tmp_path / "complete"
    shutil.copytree(before, complete)

    def same_as_complete(folder, reference):
        np.testing.assert_array_equal(
            pq.read_table(folder / "w.parquet").column(0),
            pq.read_table(reference / "w.parquet").column(0),
        )
        assert _digests(folder).keys() == _digests(reference).keys()

    command = ["apply", "model.skrw", "big.parquet", "-o", "w.parquet", "--chunk-size", "20000"]
    command.append("--quiet")
    interrupted = _check_interrupted_runs(
        command_line, tmp_path, complete, command, same_as_complete
    )
    assert interrupted >= MOMENTS
