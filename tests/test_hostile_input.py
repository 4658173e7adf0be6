"""Hostile input through the Python API: labels that would swap the samples, tiny samples, the
out-of-range warning's false alarms, model paths that are folders, and the all-or-nothing
writing of a run's outputs (``skhep_reweight._files.OutputSet``).

The damaged-file corpus is in ``test_damaged_files.py``, the command line's outputs and
signals in ``test_cli_outputs.py``.
"""

import json
import os
import signal
import sys
import time
import warnings

import numpy as np
import pytest
from scipy.stats import norm, poisson
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

from skhep_reweight import (
    BaggingReweighter,
    ConditionalReweighter,
    DCTRReweighter,
    FoldingReweighter,
    OTCalibrator,
    OutOfRangeWarning,
    SmallSampleWarning,
    load,
    save,
)
from skhep_reweight._base import OUT_OF_RANGE_LEVEL, expected_outside, outside_range_excess
from skhep_reweight._files import OutputError, OutputSet, deferred_signals
from skhep_reweight.datasets import make_gaussian_reweighting
from skhep_reweight.diagnostics import reweighting_report


def _quadratic():
    # the exact log-ratio of two 1-D Gaussians is quadratic in x: this classifier is exact
    return make_pipeline(PolynomialFeatures(2), LogisticRegression(C=100.0))


# ------------------------------------------------------------------ 1. labels
def _labelled_estimators():
    return [
        DCTRReweighter(_quadratic()),
        ConditionalReweighter([0], classifier=_quadratic(), method="ratio"),
        FoldingReweighter(DCTRReweighter(_quadratic()), random_state=0),
        BaggingReweighter(DCTRReweighter(_quadratic()), n_estimators=2, random_state=0),
        OTCalibrator(),
    ]


def _two_features(n, seed):
    rng = np.random.RandomState(seed)
    return np.r_[rng.normal(0, 1, (n, 2)), rng.normal(0.5, 1, (n, 2))]


@pytest.mark.parametrize("estimator", _labelled_estimators(), ids=lambda e: type(e).__name__)
@pytest.mark.parametrize(
    "labels", [("mc", "data"), (1, 2), (-1, 1), (0.0, 2.0)], ids=["strings", "1-2", "-1-1", "0-2"]
)
def test_labels_other_than_zero_one_are_refused(estimator, labels):
    X = _two_features(100, 0)
    y = np.array([labels[0]] * 100 + [labels[1]] * 100)
    with pytest.raises(ValueError, match=r"y == 0 \(or False\) for the (source|simulation) rows"):
        estimator.fit(X, y)
    assert not [k for k in vars(estimator) if k.endswith("_")]  # nothing fitted


def test_string_labels_would_have_inverted_the_weights():
    # the case: sorted, "data" < "mc" made the data the source. Today it raises; the
    # labels the user meant (data = 1) give the exact weight at x = 2.3
    data = make_gaussian_reweighting(n_samples=20_000, random_state=0)
    names = np.where(data.y == 1, "data", "mc")
    with pytest.raises(ValueError, match="'data'.*'mc'.*y == 0"):
        DCTRReweighter(_quadratic()).fit(data.X, names)
    model = DCTRReweighter(_quadratic()).fit(data.X, names == "data")
    point = np.array([[2.05]])
    exact = data.weight_function(point)[0]
    assert exact == pytest.approx(4.5, abs=0.1)
    assert model.predict_weights(point)[0] == pytest.approx(exact, rel=0.1)
    assert model.classes_.tolist() == [False, True]
    assert model.predict(np.array([[-1.0], [3.0]])).tolist() == [False, True]


def test_booleans_and_floats_fit_as_zero_one():
    X = _two_features(300, 1)
    y = np.r_[np.zeros(300, int), np.ones(300, int)]
    reference = DCTRReweighter(_quadratic()).fit(X, y).predict_weights(X)
    for labels in (y.astype(bool), y.astype(float), y.astype(np.int8), list(y)):
        weights = DCTRReweighter(_quadratic()).fit(X, labels).predict_weights(X)
        np.testing.assert_array_equal(weights, reference)
    model = DCTRReweighter(_quadratic()).fit(X, y)
    with pytest.raises(ValueError, match="y == 0"):
        model.score(X, np.where(y == 1, "data", "mc"))
    with pytest.raises(ValueError, match="Only binary classification"):
        DCTRReweighter(_quadratic()).fit(X, np.arange(600) % 3)


# ------------------------------------------------------------------ 9. tiny samples
def test_tiny_samples_warn_in_the_fit_and_in_the_report():
    rng = np.random.RandomState(0)
    source, target = rng.normal(0, 1, (10, 1)), rng.normal(0.5, 1, (10_000, 1))
    with pytest.warns(SmallSampleWarning, match="source class has 10 effective events") as record:
        model = DCTRReweighter(_quadratic()).fit_samples(source, target)
    assert record[0].filename == __file__
    # a held-out split of 250 events a class is enough for the network's early stopping too
    rng = np.random.RandomState(1)
    big = rng.normal(0, 1, (1250, 1)), rng.normal(0.5, 1, (1250, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallSampleWarning)
        DCTRReweighter(_quadratic()).fit_samples(*big)
    # a network with the default 20 % validation split: 200 events a class hold out 40
    with pytest.warns(SmallSampleWarning, match="validation split holds about 40"):
        DCTRReweighter(hidden_layer_sizes=(4,), max_epochs=2, device="cpu").fit_samples(
            big[0][:200], big[1][:200]
        )
    # the report on 3 held-out source events says it cannot judge, with the AUC's spread
    held = rng.normal(0, 1, (3, 1)), rng.normal(0.5, 1, (2500, 1))
    with pytest.warns(SmallSampleWarning, match="too small to judge"):
        report = reweighting_report(held[0], held[1], model.predict_weights(held[0]))
    assert report.metrics["warnings"][0].startswith("The validation sample is too small")
    expected_spread = np.sqrt((3 + 2500 + 1) / (12 * 3 * 2500))
    assert report.metrics["auc_null_std"] == pytest.approx(expected_spread)
    assert "too small to judge" in report.to_markdown()


# ------------------------------------------------------------------ 10. out-of-range warning
def test_expected_outside_is_the_exchangeability_bound():
    # of n + 1 exchangeable draws the last is the strict maximum with probability 1 / (n + 1):
    # the simulated rate for one uniform feature is 2 / (n + 1), and the bound holds for a
    # discrete feature (ties) too
    rng = np.random.RandomState(0)
    n, m, repeats = 200, 50, 4000
    for draw in (lambda size: rng.uniform(size=size), lambda size: rng.poisson(3.0, size)):
        outside = 0
        for _ in range(repeats):
            train, fresh = draw(n), draw(m)
            outside += np.count_nonzero((fresh < train.min()) | (fresh > train.max()))
        rate = outside / (repeats * m)
        bound = expected_outside(1, 1, n)
        assert rate <= bound * 1.1
    assert rate < 0.5 * bound  # the discrete feature stays well inside it
    assert expected_outside(m, 1, n) == pytest.approx(2 * m / (n + 1))


def test_out_of_range_false_alarm_rate_on_samples_of_the_training_distribution():
    # samples of the training distribution trigger the warning in at most OUT_OF_RANGE_LEVEL of
    # the fits, whether the new sample is as large as the training sample or ten times larger
    # (each repeat draws its own training sample: the range of one fit is itself random), with
    # independent or correlated features; a sample 1.5 times wider is flagged
    rng = np.random.RandomState(1)
    n_train, d = 1000, 3
    naive_alarms = 0
    for m, correlation, repeats in ((1000, 0.0, 3000), (10_000, 0.0, 3000), (10_000, 0.9, 1000)):
        cov = np.full((d, d), correlation) + (1 - correlation) * np.eye(d)
        factor = np.linalg.cholesky(cov)
        alarms = 0
        for _ in range(repeats):
            train = rng.standard_normal((n_train, d)) @ factor.T
            low, high = train.min(axis=0), train.max(axis=0)
            # the count of m fresh events outside, from its exact distribution given the range:
            # Binomial(m, q), q the share of the distribution outside the range
            if correlation == 0:
                q = 1 - np.prod(norm.cdf(high) - norm.cdf(low))
            else:
                inside = rng.standard_normal((4000, d)) @ factor.T
                q = np.mean(((inside < low) | (inside > high)).any(axis=1))
            n_out = rng.binomial(m, q)
            _, p = outside_range_excess(n_out, m, d, n_train)
            alarms += p < OUT_OF_RANGE_LEVEL
            mean = expected_outside(m, d, n_train)  # a Poisson at the mean, ignoring the spread
            naive_alarms += poisson.sf(n_out - 1, mean) < OUT_OF_RANGE_LEVEL
        assert alarms <= 3 + 3 * np.sqrt(3), (m, correlation, alarms)  # 1e-3 of 3000: 3
        wider = 1.5 * rng.standard_normal((m, d)) @ factor.T  # other units, another sample
        n_wide = int(np.count_nonzero(((wider < low) | (wider > high)).any(axis=1)))
        assert outside_range_excess(n_wide, m, d, n_train)[1] < OUT_OF_RANGE_LEVEL
    # the Poisson test at the mean alone would be miscalibrated: the spread of the training range
    # makes the count overdispersed (the negative binomial of outside_range_excess)
    assert naive_alarms > 100


def test_held_out_events_do_not_warn_but_shifted_or_swapped_ones_do():
    data = make_gaussian_reweighting(n_samples=50_000, random_state=0)
    model = DCTRReweighter(_quadratic()).fit(data.X, data.y)
    fresh = make_gaussian_reweighting(n_samples=50_000, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfRangeWarning)  # the README demo's case
        model.predict_weights(fresh.X[fresh.y == 0])
        model.predict_weights(fresh.X)
    with pytest.warns(OutOfRangeWarning, match=r"would put [\d.]+ on average"):
        model.predict_weights(fresh.X * 1.5)


def test_the_report_states_the_out_of_range_count_either_way():
    data = make_gaussian_reweighting(n_samples=2000, random_state=0)
    model = DCTRReweighter(_quadratic()).fit(data.X, data.y)
    fresh = make_gaussian_reweighting(n_samples=2000, random_state=3)
    source, target = fresh.X[fresh.y == 0], fresh.X[fresh.y == 1]
    for shift, warned in ((0.0, False), (4.0, True)):
        report = reweighting_report(
            source + shift,
            target + shift,
            model.predict_weights(source),
            training_range=model.feature_range_,
            training_size=model.n_range_events_,
        )
        metrics = report.metrics
        assert metrics["outside_training_range_expected"]["source"] == pytest.approx(
            2000 * 2 / 2001
        )
        assert any("outside the feature ranges" in w for w in metrics["warnings"]) == warned
        assert "a sample of the training distribution puts there on average" in (
            report.to_markdown()
        )


# ------------------------------------------------------------------ 12. save to a folder
def test_saving_to_or_loading_from_a_folder_names_it(tmp_path, monkeypatch):
    model = DCTRReweighter(hidden_layer_sizes=(3,))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(IsADirectoryError, match="cannot save to '.': it is a folder"):
        save(model, ".")
    with pytest.raises(IsADirectoryError, match="cannot load '.*': it is a folder"):
        load(tmp_path)
    with pytest.raises(FileNotFoundError, match="the folder 'absent' does not exist"):
        save(model, "absent/model.skrw")
    assert sorted(os.listdir(tmp_path)) == []


# ------------------------------------------------------------------ outputs, all or nothing
def _tree(folder):
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


def test_outputs_move_into_place_together_and_create_folders(tmp_path):
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "metrics.json").write_text("old")
    (tmp_path / "report" / "mine.txt").write_text("the user's own file")
    outputs = OutputSet(
        {"model": tmp_path / "new" / "deeper" / "model.bin"},
        folders={"report": tmp_path / "report"},
    )
    with outputs:
        outputs.path("model").write_bytes(b"model")
        outputs.write_bytes("report", "metrics.json", b"new")
        outputs.write_bytes("report", "plots/a.png", b"png")
        assert (tmp_path / "report" / "metrics.json").read_text() == "old"  # not yet
        outputs.commit()
    assert (tmp_path / "new" / "deeper" / "model.bin").read_bytes() == b"model"
    assert (tmp_path / "report" / "metrics.json").read_text() == "new"
    assert (tmp_path / "report" / "plots" / "a.png").read_bytes() == b"png"
    assert (tmp_path / "report" / "mine.txt").read_text() == "the user's own file"
    hidden = [p for p in tmp_path.rglob(".*")]
    assert hidden == []


def test_a_failure_before_or_during_the_commit_leaves_the_earlier_outputs(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"old a")
    before = _tree(tmp_path)

    def failing_run():
        with OutputSet({"a": tmp_path / "a.bin", "b": tmp_path / "sub" / "b.bin"}) as outputs:
            outputs.path("a").write_bytes(b"new a")
            raise RuntimeError("training failed")

    with pytest.raises(RuntimeError, match="training failed"):
        failing_run()
    assert _tree(tmp_path) == before

    def failing_commit():
        # 'sub' becomes a file after the checks, so b cannot be placed: a, already replaced,
        # is put back and its backup removed
        with OutputSet({"a": tmp_path / "a.bin", "b": tmp_path / "sub" / "b.bin"}) as outputs:
            outputs.path("a").write_bytes(b"new a")
            outputs.path("b").write_bytes(b"new b")
            (tmp_path / "sub").write_bytes(b"in the way")
            outputs.commit()

    with pytest.raises(OutputError, match=r"cannot write '.*sub/b.bin'.*restored"):
        failing_commit()
    (tmp_path / "sub").unlink()
    assert _tree(tmp_path) == before


def test_output_locations_are_checked_on_entering(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    cases = [
        ({"output.model": tmp_path / "file" / "model.skrw"}, {}, "'.*file' is a file, not a"),
        ({"output.model": tmp_path / "folder"}, {}, "is a folder; it must be a file"),
        ({}, {"output.report": tmp_path / "file"}, "is a file; it must be a folder"),
        ({"output.model": tmp_path / "in.root"}, {}, "is an input file"),
        ({"a": tmp_path / "x", "b": tmp_path / "x"}, {}, "is also a"),
    ]
    for files, folders, message in cases:
        with pytest.raises(OutputError, match=message):
            OutputSet(files, folders=folders, inputs=[tmp_path / "in.root"]).__enter__()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX locks")
def test_a_live_run_writing_the_same_output_is_refused_and_a_dead_ones_leftovers_cleared(
    tmp_path, holding
):
    target = tmp_path / "w.root"
    with holding(target):
        with pytest.raises(OutputError, match="another skhep-reweight run is writing --output"):
            OutputSet({"--output": target}).__enter__()
        with OutputSet({"--output": tmp_path / "other.root"}) as outputs:  # another file: fine
            outputs.path("--output").write_bytes(b"x")
            outputs.commit()
    # a run killed without cleaning up leaves its staging folder, unlocked: the next run clears it
    stale = tmp_path / ".skhep-reweight-0123456789ab.tmp"
    stale.mkdir()
    (stale / "lock").write_text("")
    (stale / "targets.json").write_text(json.dumps([str(target)]))
    with OutputSet({"--output": target}) as outputs:
        outputs.path("--output").write_bytes(b"done")
        outputs.commit()
    assert target.read_bytes() == b"done"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.root", "w.root"]


def test_a_writer_error_names_the_users_path_not_the_staging_file(tmp_path):
    from skhep_reweight.io import write_weights

    def run():
        with OutputSet({"output.weights": tmp_path / "w.parquet"}) as outputs:
            staged = outputs.path("output.weights")
            write_weights(staged, np.ones(3))
            raise ValueError(f"{staged} holds 3 weights, expected 4")

    with pytest.raises(OutputError) as error:
        run()
    assert str(tmp_path / "w.parquet") in str(error.value)
    assert ".tmp" not in str(error.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.signals
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_an_interruption_during_the_final_moves_is_held_off_and_dropped(tmp_path):
    # the moment random tests rarely hit: Ctrl-C or SIGTERM while the outputs move into place.
    # The moves finish, and the interruption does not surface afterwards to claim that nothing
    # was written
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with OutputSet({"a": tmp_path / "a.bin", "b": tmp_path / "b.bin"}) as outputs:
            outputs.path("a").write_bytes(b"a")
            outputs.path("b").write_bytes(b"b")
            with deferred_signals():
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGTERM)  # held: its default would end pytest
                time.sleep(0.05)
                outputs.commit()  # nested deferral, as in the commands
            for _ in range(100):  # the interpreter checks for handlers between bytecodes
                pass
    finally:
        signal.signal(signal.SIGINT, previous)
    assert (tmp_path / "a.bin").read_bytes() == b"a"
    assert (tmp_path / "b.bin").read_bytes() == b"b"
    # outside a deferral, the same signal interrupts as usual

    def interrupted_sleep():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            interrupted_sleep()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_norm_is_the_reference_of_the_quadratic_classifier():
    # guards the premise of the label tests above: the quadratic logistic regression learns the
    # exact Gaussian ratio (the default network would take seconds per fit here)
    data = make_gaussian_reweighting(n_samples=20_000, random_state=2)
    model = DCTRReweighter(_quadratic()).fit(data.X, data.y)
    x = np.linspace(-1.5, 2.5, 9)[:, None]
    exact = norm.pdf(x[:, 0], 1.0, 1.3) / norm.pdf(x[:, 0], 0.0, 1.0)
    np.testing.assert_allclose(model.predict_weights(x), exact, rtol=0.1)
