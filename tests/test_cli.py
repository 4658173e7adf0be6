"""The command line end to end: real ROOT and parquet files written here, the commands run as
subprocesses (and in-process through ``main`` for the error matrix), the weights read back and
compared with the estimator's own predictions, the report's numbers with the metrics functions."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from skhep_reweight import load
from skhep_reweight._cli import main
from skhep_reweight.metrics import effective_sample_size, weighted_ks_distance

uproot = pytest.importorskip("uproot")
pytest.importorskip("pyarrow")
pytest.importorskip("pandas")

COLUMNS = ["pt", "eta"]
N_SOURCE, N_TARGET = 3000, 2000
SMALL_NET = "{ hidden_layer_sizes = [32], max_epochs = 50, random_state = 0, device = 'cpu' }"


def _events(n, shift, seed):
    rng = np.random.RandomState(seed)
    pt = rng.normal(shift, 1, n)
    eta = rng.normal(0, 1 + 0.3 * shift, n)
    w = rng.uniform(0.5, 1.5, n)  # generator weights
    return {"pt": pt, "eta": eta, "w": w, "ntrk": rng.poisson(5, n).astype(np.int32)}


def _write_root(path, events, tree="Events"):
    with uproot.recreate(path) as file:
        file.mktree(tree, {k: v.dtype for k, v in events.items()})
        file[tree].extend(events)
    return path


def _write_parquet(path, events):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(events), path, row_group_size=700)
    return path


def _config(folder, suffix, *, folds="folds = 2", extra_output="", estimator="DCTRReweighter"):
    tree = 'tree = "Events"' if suffix == ".root" else ""
    text = f"""
        [source]
        path = "mc{suffix}"
        {tree}
        weight = "w"
        [target]
        path = "data{suffix}"
        {tree}
        weight = "w"
        [features]
        columns = ["pt", "eta"]
        [estimator]
        name = "{estimator}"
        params = {SMALL_NET}
        {folds}
        [validation]
        random_state = 1
        bins = 20
        [output]
        model = "model.skrw"
        report = "report"
        {extra_output}
    """
    path = folder / "config.toml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="module")
def samples():
    return _events(N_SOURCE, 0.0, 1), _events(N_TARGET, 0.5, 2)


def _files(folder, samples, suffix):
    write = _write_root if suffix == ".root" else _write_parquet
    write(folder / f"mc{suffix}", samples[0])
    write(folder / f"data{suffix}", samples[1])


def _cli(*args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "skhep_reweight._cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def _read(path, column, tree="Events"):
    if path.suffix == ".root":
        with uproot.open(path) as file:
            return file[tree][column].array(library="np")
    import pyarrow.parquet as pq

    return pq.read_table(path).column(column).to_numpy()


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _frame(events):
    import pandas as pd

    return pd.DataFrame({c: events[c] for c in COLUMNS})


def test_version_and_help_answer_without_loading_torch():
    code = (
        "import sys; from skhep_reweight._cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'sklearn', 'uproot') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().endswith("[]")
    assert "``" not in done.stdout  # plain text, no reST markup
    assert "skhep-reweight fit config.toml" in done.stdout
    version = _cli("--version", cwd=None)
    assert version.returncode == 0
    assert version.stdout.strip() == "skhep-reweight 0.1.0"


def test_fit_apply_report_root_with_folds(tmp_path, samples, command_line):
    """ROOT files, 2 folds: the out-of-fold weights written by fit are the fold models' own
    predictions on the events they did not see; apply in chunks equals predict_weights; report
    reproduces fit's numbers; the inputs are untouched."""
    _files(tmp_path, samples, ".root")
    config = _config(tmp_path, ".root")
    before = {p.name: _digest(p) for p in tmp_path.glob("*.root")}

    fit = command_line.run("fit", config, "--quiet", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    assert "two-sample AUC" in fit.stdout
    model = load(tmp_path / "model.skrw")
    source, target = _frame(samples[0]), _frame(samples[1])

    # fit's weights: one per source event, in order, each from the fold that did not see it
    oof = _read(tmp_path / "model_weights.root", "weight")
    assert oof.shape == (N_SOURCE,)
    folds = model.fold_[:N_SOURCE]
    for k, member in enumerate(model.estimators_):
        rows = folds == k
        np.testing.assert_allclose(oof[rows], member.predict_weights(source[rows]), rtol=1e-6)
    assert len(set(folds)) == 2

    # apply on the whole source file in chunks (97 does not divide 3000) equals the model
    out = tmp_path / "applied.root"
    applied = command_line.run("apply", "model.skrw", "mc.root", "-o", out, "--tree", "Events",
                   "--weight", "w", "--chunk-size", 97, "--quiet", cwd=tmp_path)  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    w_applied = _read(out, "weight")
    expected = model.predict_weights(source) * samples[0]["w"]
    np.testing.assert_allclose(w_applied, expected, rtol=1e-6)
    one_piece = command_line.run("apply", "model.skrw", "mc.root", "-o", "piece.parquet",
                                 "--tree", "Events", "--weight", "w", "--quiet",
                                 cwd=tmp_path)  # fmt: skip
    assert one_piece.returncode == 0, one_piece.stderr
    np.testing.assert_allclose(_read(tmp_path / "piece.parquet", "weight"), w_applied, rtol=1e-6)
    with uproot.open(tmp_path / "applied.root") as file:  # a friend tree: the input's entries
        assert file["Events"].num_entries == N_SOURCE

    # the report: files, and numbers equal to the metrics functions on the same events
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert {"report.md", "report.html", "metrics.json"} <= {
        p.name for p in (tmp_path / "report").iterdir()
    }
    assert (tmp_path / "report" / "plots" / "pt.png").is_file()
    final = oof * samples[0]["w"]
    assert metrics["ess"] == pytest.approx(effective_sample_size(final), rel=1e-6)
    ks = weighted_ks_distance(source, target, final, samples[1]["w"])
    assert metrics["ks_after"]["pt"] == pytest.approx(ks[0], rel=1e-6, abs=1e-9)
    assert metrics["ks_after"]["pt"] < 0.5 * metrics["ks_before"]["pt"]  # it learned the shift
    assert metrics["auc_after"] < metrics["auc_before"]
    assert "fold model that did not see it" in metrics["validation_sample"]
    text = (tmp_path / "report" / "report.md").read_text()
    assert "Validation sample: all events, each weighted by the fold model" in text
    assert "## Summary" in text

    again = command_line.run("report", config, "model.skrw", "-o", "report2", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    metrics2 = json.loads((tmp_path / "report2" / "metrics.json").read_text())
    for key in ("ess", "auc_before", "auc_after", "ks_after", "weight_quantiles"):
        assert metrics2[key] == metrics[key]
    assert before == {p.name: _digest(p) for p in tmp_path.glob("mc.root")} | {
        "data.root": _digest(tmp_path / "data.root")
    }


def test_fit_and_report_parquet_with_held_out_events(tmp_path, samples):
    """Parquet, no folds: the report is computed on the held-out quarter only, and the weights
    file holds the model's predictions for every source event."""
    _files(tmp_path, samples, ".parquet")
    config = _config(tmp_path, ".parquet", folds="", extra_output='weights = "w.parquet"')
    assert main(["fit", str(config), "--quiet"]) == 0
    model = load(tmp_path / "model.skrw")
    source = _frame(samples[0])
    np.testing.assert_allclose(
        _read(tmp_path / "w.parquet", "weight"), model.predict_weights(source), rtol=1e-6
    )
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["n_source"] == round(0.25 * N_SOURCE)
    assert metrics["n_target"] == round(0.25 * N_TARGET)
    assert "held out of training" in metrics["validation_sample"]
    assert (
        main(["report", str(config), str(tmp_path / "model.skrw"), "-o", str(tmp_path / "r2")]) == 0
    )
    metrics2 = json.loads((tmp_path / "r2" / "metrics.json").read_text())
    assert metrics2["auc_after"] == metrics["auc_after"]
    assert metrics2["ess"] == metrics["ess"]


def test_bdt_path_needs_joblib_and_allow_pickle(tmp_path, samples, capsys):
    _files(tmp_path, samples, ".parquet")
    bdt = (
        'classifier = "sklearn.ensemble.HistGradientBoostingClassifier"\n'
        "classifier_params = { max_iter = 30, random_state = 0 }"
    )
    text = _config(tmp_path, ".parquet", folds="").read_text()
    text = text.replace(f"params = {SMALL_NET}", bdt)
    config = tmp_path / "config.toml"
    config.write_text(text)
    assert main(["fit", str(config), "--quiet"]) == 2
    assert "output.format" in capsys.readouterr().err
    config.write_text(text + 'format = "joblib"\n')
    assert main(["fit", str(config), "--quiet"]) == 0
    args = ["apply", str(tmp_path / "model.skrw"), str(tmp_path / "mc.parquet"), "-o",
            str(tmp_path / "out.parquet"), "--quiet"]  # fmt: skip
    assert main(args) == 2
    assert "--allow-pickle" in capsys.readouterr().err
    assert not (tmp_path / "out.parquet").exists()
    assert main([*args, "--allow-pickle"]) == 0
    assert _read(tmp_path / "out.parquet", "weight").shape == (N_SOURCE,)


# ----------------------------------------------------------------------------- bad input
def _break(text, old, new):
    assert old in text
    return text.replace(old, new)


BAD_CONFIGS = {
    "missing file": (lambda t: _break(t, 'path = "mc.root"', 'path = "nope.root"'), "nope.root"),
    "missing tree": (lambda t: _break(t, 'tree = "Events"', 'tree = "Evts"'), "Evts"),
    "missing branch": (lambda t: _break(t, '"pt", "eta"', '"pt", "phi"'), "phi"),
    "NaN weight": (lambda t: _break(t, 'weight = "w"', 'weight = "wnan"'), "wnan"),
    "unknown estimator": (
        lambda t: _break(t, '"DCTRReweighter"', '"GBReweighter"'),
        "estimator.name",
    ),
    "unknown parameter": (
        lambda t: _break(t, "max_epochs", "max_epoch"),
        "estimator.params.max_epoch",
    ),
    "bad parameter value": (
        lambda t: _break(t, "device = 'cpu'", "device = 'tpu'"),
        "estimator.params",
    ),
    "unknown key": (lambda t: _break(t, "bins = 20", "bin = 20"), "validation.bin"),
    "wrong type": (lambda t: _break(t, "folds = 2", 'folds = "2"'), "estimator.folds"),
    "missing key": (lambda t: _break(t, 'report = "report"', ""), "output.report"),
    "output over input": (lambda t: _break(t, '"model.skrw"', '"mc.root"'), "mc.root"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_configurations_exit_2_and_write_nothing(tmp_path, samples, case, capsys):
    events = dict(samples[0])
    events["wnan"] = np.where(np.arange(N_SOURCE) == 7, np.nan, 1.0)
    _write_root(tmp_path / "mc.root", events)
    _write_root(tmp_path / "data.root", samples[1])
    breaker, named = BAD_CONFIGS[case]
    config = tmp_path / "config.toml"
    config.write_text(breaker(_config(tmp_path, ".root").read_text()))
    before = {p.name: _digest(p) for p in tmp_path.iterdir()}
    assert main(["fit", str(config), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert named in err
    assert err.startswith("skhep-reweight fit: error:")
    assert {p.name: _digest(p) for p in tmp_path.iterdir()} == before  # nothing new, no change


def test_apply_errors_exit_2_from_a_process_of_its_own(tmp_path, samples, command_line):
    _files(tmp_path, samples, ".parquet")
    config = _config(tmp_path, ".parquet", folds="")
    assert main(["fit", str(config), "--quiet"]) == 0
    cases = [
        (["-o", "mc.parquet"], "input file"),  # the output would overwrite the input
        (["-o", "out.csv"], ".csv"),
        (["-o", "out.parquet", "--weight", "nope"], "nope"),
        (["-o", "out.parquet", "--columns", "pt,phi"], "phi"),
    ]
    for extra, _named in cases[1:]:
        assert main(["apply", str(tmp_path / "model.skrw"), str(tmp_path / "mc.parquet"),
                     *[str(tmp_path / e) if e.startswith("out") else e for e in extra],
                     "--quiet"]) == 2, extra  # fmt: skip
        assert not list(tmp_path.glob("out*")), extra
    done = command_line.run("apply", "model.skrw", "mc.parquet", *cases[0][0], cwd=tmp_path)
    assert done.returncode == 2
    assert "input file" in done.stderr
    missing = command_line.run(
        "apply", "model.skrw", "absent.parquet", "-o", "out.parquet", cwd=tmp_path
    )
    assert missing.returncode == 2
    assert "absent.parquet" in missing.stderr
    assert not list(tmp_path.glob("out*"))
