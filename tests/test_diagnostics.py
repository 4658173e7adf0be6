"""Tests of skhep_reweight.diagnostics: the histogram errors against direct sums and against the
spread of the ratio between samples of one distribution, the report's numbers against the metrics
functions, its files, and the grouped two-sample AUC on samples that share their events."""

import json
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.linear_model import LogisticRegression

from skhep_reweight.diagnostics import (
    ReweightingReport,
    plot_feature,
    plot_weights,
    ratio_with_errors,
    reweighting_report,
    weighted_histogram,
)
from skhep_reweight.diagnostics._histograms import feature_edges
from skhep_reweight.metrics import (
    classifier_two_sample_auc,
    effective_sample_size,
    weighted_ks_distance,
)

# A fast classifier for the report tests that do not look at the AUC's value.
FAST = LogisticRegression()


def _axes():
    return Figure().subplots(2, 1, sharex=True)


def _gaussian_report_inputs(seed=0, n_source=1500, n_target=1000):
    """Two features; the source N(0, 1.2^2) x N(0, 1) with generator weights, the target shifted
    in the first feature; weights = a rough ratio."""
    rng = np.random.RandomState(seed)
    source = np.c_[rng.normal(0, 1.2, n_source), rng.normal(0, 1, n_source)]
    target = np.c_[rng.normal(0.5, 1, n_target), rng.normal(0, 1, n_target)]
    source_weight = rng.uniform(0.5, 1.5, n_source)
    target_weight = rng.uniform(0.8, 1.2, n_target)
    weights = np.exp(0.5 * source[:, 0])
    return source, target, weights, source_weight, target_weight


# --------------------------------------------------------------------------
# weighted_histogram and ratio_with_errors: hand-made numbers
# --------------------------------------------------------------------------
def test_weighted_histogram_hand_example():
    values = [0.1, 0.2, 0.6, 0.7, 1.5, 2.0, 7.0]  # 2.0 on the last edge counts, 7.0 is outside
    weights = [1.0, 2.0, 3.0, -1.0, 5.0, 0.5, 100.0]
    sumw, sumw2 = weighted_histogram(values, [0.0, 0.5, 1.0, 2.0], weights)
    np.testing.assert_array_equal(sumw, [3.0, 2.0, 5.5])
    np.testing.assert_array_equal(sumw2, [1 + 4, 9 + 1, 25 + 0.25])
    # unit weights: both sums are the counts; an int is a number of equal-width bins
    sumw, sumw2 = weighted_histogram([0.0, 0.1, 0.9, 1.0], 2)
    np.testing.assert_array_equal(sumw, [2.0, 2.0])
    np.testing.assert_array_equal(sumw2, [2.0, 2.0])


@pytest.mark.parametrize(
    ("values", "weights", "match"),
    [
        ([0.0, np.nan], None, "values contains NaN"),
        ([[0.0, 1.0]], None, "values must be 1-D"),
        ([0.0, 1.0], [1.0], "weights has 1 entries"),
        ([0.0, 1.0], [1.0, np.inf], "weights contains NaN"),
    ],
)
def test_weighted_histogram_errors(values, weights, match):
    with pytest.raises(ValueError, match=match):
        weighted_histogram(values, 3, weights)


def test_ratio_with_errors_hand_example():
    num, num_var = np.array([4.0, 0.0, 3.0, 6.0]), np.array([4.0, 0.0, 2.0, 1.0])
    den, den_var = np.array([2.0, 5.0, 0.0, -3.0]), np.array([1.0, 2.0, 1.0, 4.0])
    ratio, error = ratio_with_errors(num, num_var, den, den_var)
    np.testing.assert_allclose(ratio[[0, 1, 3]], [2.0, 0.0, -2.0], rtol=1e-15)
    # r sqrt(Vn / n^2 + Vd / d^2) where n != 0; sqrt(Vn) / |d| = 0 for an empty numerator
    expected = [2 * np.sqrt(4 / 16 + 1 / 4), 0.0, 2 * np.sqrt(1 / 36 + 4 / 9)]
    np.testing.assert_allclose(error[[0, 1, 3]], expected, rtol=1e-14)
    assert np.isnan(ratio[2])
    assert np.isnan(error[2])  # empty denominator: nothing to draw
    with pytest.raises(ValueError, match="den_var has shape"):
        ratio_with_errors(num, num_var, den, den_var[:2])
    with pytest.raises(ValueError, match="num_var holds negative variances"):
        ratio_with_errors(num, -num_var - 1, den, den_var)


# --------------------------------------------------------------------------
# plot_feature: the numbers it draws
# --------------------------------------------------------------------------
def test_plot_feature_matches_direct_numpy():
    source = np.array([0.1, 0.4, 0.6, 0.9, 0.95])
    target = np.array([0.2, 0.3, 0.7, 0.8])
    weights = np.array([2.0, 1.0, 0.5, 3.0, 1.0])
    source_weight = np.array([1.0, 2.0, 1.0, 1.0, -0.5])
    target_weight = np.array([1.0, 1.5, 2.0, 0.5])
    edges = np.array([0.0, 0.5, 1.0])
    h = plot_feature(
        *_axes(), source, target, weights,
        source_weight=source_weight, target_weight=target_weight, bins=edges, label="x",
    )  # fmt: skip
    w = source_weight * weights  # [2, 2, 0.5, 3, -0.5]
    s, s2 = np.array([2 + 2, 0.5 + 3 - 0.5]), np.array([4 + 4, 0.25 + 9 + 0.25])
    t, t2 = np.array([1 + 1.5, 2 + 0.5]), np.array([1 + 2.25, 4 + 0.25])
    assert w.sum() == s.sum()
    width = 0.5
    # unit area over the bins: divide by total * width; the variance by its square
    np.testing.assert_allclose(h["source"], s / (s.sum() * width), rtol=1e-14)
    np.testing.assert_allclose(h["source_var"], s2 / (s.sum() * width) ** 2, rtol=1e-14)
    np.testing.assert_allclose(h["target"], t / (t.sum() * width), rtol=1e-14)
    np.testing.assert_allclose(h["target_var"], t2 / (t.sum() * width) ** 2, rtol=1e-14)
    ratio = (t / t.sum()) / (s / s.sum())
    rel2 = (t2 / t**2) + (s2 / s**2)  # relative variances of both normalized histograms
    np.testing.assert_allclose(h["ratio"], ratio, rtol=1e-14)
    np.testing.assert_allclose(h["ratio_error"], ratio * np.sqrt(rel2), rtol=1e-14)
    # before reweighting: the source with its own weights only
    np.testing.assert_allclose(h["source_before"], [3 / 4.5 / width, 1.5 / 4.5 / width])
    # without normalization the raw sums are drawn
    raw = plot_feature(*_axes(), source, target, weights, source_weight=source_weight,
                       target_weight=target_weight, bins=edges, normalize=False)  # fmt: skip
    np.testing.assert_allclose(raw["source_var"], s2, rtol=1e-14)
    np.testing.assert_allclose(raw["ratio"], t / s, rtol=1e-14)


def _pulls(seed, use_sum_of_squares=True):
    """Pulls (ratio - 1) / error over the bins for a weighted source and a weighted target of
    the same distribution N(0, 1), with samples and weight scales of different sizes."""
    rng = np.random.RandomState(seed)
    n_source, n_target = 2000, 8000
    x = rng.normal(0, 1.5, n_source)
    # importance weights N(0, 1) / N(0, 1.5^2), scaled to the target's size (mean weight ~4)
    weights = 1.5 * np.exp(-0.5 * x**2 + 0.5 * (x / 1.5) ** 2) * n_target / n_source
    target = rng.normal(0, 1, n_target)
    target_weight = rng.choice([2.0, 4.0, 8.0], n_target)  # e.g. trigger prescales
    h = plot_feature(*_axes(), x, target, weights, target_weight=target_weight, bins=40)
    if use_sum_of_squares:
        return (h["ratio"] - 1) / h["ratio_error"]
    # The wrong error: the variance of a bin taken as its sum of weights (Poisson-like), then
    # normalized the same way. Not scale invariant, and too small for weights of mean ~4.
    edges = h["edges"]
    s, _ = weighted_histogram(x, edges, weights)
    t, _ = weighted_histogram(target, edges, target_weight)
    ratio, error = ratio_with_errors(t / t.sum(), t / t.sum() ** 2, s / s.sum(), s / s.sum() ** 2)
    return (ratio - 1) / error


def test_ratio_pulls_have_unit_spread():
    pulls = np.concatenate([_pulls(seed) for seed in range(5)])
    assert pulls.size == 200
    assert np.all(np.isfinite(pulls))
    assert 0.75 < np.std(pulls) < 1.3
    assert abs(np.mean(pulls)) < 0.25
    # The same samples with sum(w) as the variance instead of sum(w^2): the errors are too
    # small, the pulls about 1.9 times too wide (measured), and the test above fails.
    wrong = np.concatenate([_pulls(seed, use_sum_of_squares=False) for seed in range(5)])
    assert np.std(wrong) > 1.6


class _Axis:
    def __init__(self, edges):
        self.edges = np.asarray(edges)


class _Histogram:
    """The part of a hist.Hist (weight storage) that plot_feature reads."""

    def __init__(self, sumw, sumw2, edges):
        self._sumw, self._sumw2 = np.asarray(sumw), sumw2
        self.axes = (_Axis(edges),)

    def values(self):
        return self._sumw

    def variances(self):
        return self._sumw2


def test_plot_feature_accepts_histogram_objects():
    rng = np.random.RandomState(3)
    source, target = rng.normal(0, 1, 500), rng.normal(0, 1, 400)
    weights, target_weight = rng.uniform(0.5, 2, 500), rng.uniform(0.5, 2, 400)
    edges = np.linspace(-2, 2, 9)
    from_arrays = plot_feature(
        *_axes(), source, target, weights, target_weight=target_weight, bins=edges
    )
    histograms = [
        _Histogram(*weighted_histogram(values, edges, w), edges)
        for values, w in ((source, weights), (target, target_weight))
    ]
    from_objects = plot_feature(*_axes(), *histograms)
    for key in ("source", "source_var", "target", "target_var", "ratio", "ratio_error"):
        np.testing.assert_allclose(from_objects[key], from_arrays[key], rtol=1e-13)
    assert "source_before" not in from_objects
    with pytest.raises(TypeError, match="both be histogram objects"):
        plot_feature(*_axes(), histograms[0], target)
    with pytest.raises(TypeError, match="already filled"):
        plot_feature(*_axes(), *histograms, weights)
    with pytest.raises(ValueError, match="different bin edges"):
        plot_feature(*_axes(), histograms[0], _Histogram(np.ones(4), np.ones(4), edges[::2]))
    with pytest.raises(ValueError, match=r"storage=hist.storage.Weight\(\)"):
        plot_feature(*_axes(), histograms[0], _Histogram(np.ones(8), None, edges))


def test_bins_follow_pooled_quantiles():
    rng = np.random.RandomState(4)
    source = np.r_[rng.uniform(0, 1, 1000), 1e6]  # one outlier must not stretch the range
    target = rng.uniform(0, 1, 1000)
    edges = feature_edges(source, target, 40)
    pooled = np.r_[source, target]
    assert edges.shape == (41,)
    np.testing.assert_allclose(edges[[0, -1]], np.quantile(pooled, [0.005, 0.995]), rtol=1e-14)
    assert edges[-1] < 1.0
    # integers: bins centred on the values, a whole number of values wide
    counts = rng.poisson(5, 2000).astype(float)
    edges = feature_edges(counts[:1000], counts[1000:], 40)
    np.testing.assert_array_equal(np.diff(edges), 1.0)
    assert np.all(edges % 1 == 0.5)
    wide = feature_edges(np.arange(1000.0), np.arange(1000.0), 40)
    assert np.all(np.diff(wide) == 25.0)
    assert wide.shape[0] - 1 <= 40


def test_plot_weights_counts_non_positive():
    ax = Figure().add_subplot()
    weights = np.r_[np.logspace(-2, 2, 97), 0.0, -1.0, -3.0]
    counts = plot_weights(ax, weights)
    assert counts.sum() == 97
    assert ax.get_title() == "weights of 100 events; 3 non-positive (not shown)"
    assert ax.get_xlabel() == "log10(weight)"


# --------------------------------------------------------------------------
# reweighting_report: the numbers are the metrics functions'
# --------------------------------------------------------------------------
def test_report_metrics_equal_the_metrics_functions():
    source, target, weights, source_weight, target_weight = _gaussian_report_inputs()
    training_range = np.array([[-2.0, -2.5], [2.0, 2.5]])
    report = reweighting_report(
        source, target, weights, source_weight=source_weight, target_weight=target_weight,
        training_range=training_range, n_clipped=7, random_state=5,
    )  # fmt: skip
    m = report.metrics
    final = source_weight * weights
    assert m["n_source"] == 1500
    assert m["n_target"] == 1000
    assert m["ess"] == effective_sample_size(final)
    assert m["ess_fraction"] == effective_sample_size(final) / 1500
    ks_before = weighted_ks_distance(source, target, source_weight, target_weight)
    ks_after = weighted_ks_distance(source, target, final, target_weight)
    assert m["ks_before"] == {"x0": ks_before[0], "x1": ks_before[1]}
    assert m["ks_after"] == {"x0": ks_after[0], "x1": ks_after[1]}
    assert m["auc_before"] == classifier_two_sample_auc(
        source, target, source_weight, target_weight, random_state=5
    )
    assert m["auc_after"] == classifier_two_sample_auc(
        source, target, final, target_weight, random_state=5
    )
    assert m["auc_before"] > 0.55  # the shift and the width are visible
    assert m["auc_after"] < m["auc_before"]
    quantiles = np.quantile(final, [0.001, 0.01, 0.5, 0.99, 0.999])
    assert m["weight_quantiles"] == dict(zip(["0.001", "0.01", "0.5", "0.99", "0.999"],
                                             quantiles.tolist(), strict=True))  # fmt: skip
    assert m["weight_max"] == final.max()
    top = np.sort(final)[-15:]  # 1 % of 1500 events
    assert m["top1pct_weight_share"] == pytest.approx(top.sum() / final.sum(), rel=1e-14)
    assert m["n_negative"] == 0
    assert m["n_clipped"] == 7
    outside_source = np.sum(np.any((source < training_range[0]) | (source > training_range[1]), 1))
    outside_target = np.sum(np.any((target < training_range[0]) | (target > training_range[1]), 1))
    assert outside_source > outside_target > 0  # the wider source leaves the range more often
    assert m["n_outside_training_range"] == {"source": outside_source, "target": outside_target}
    assert m["outside_training_range_fraction"] == {
        "source": outside_source / 1500,
        "target": outside_target / 1000,
    }
    assert json.loads(json.dumps(m)) == m  # JSON-serializable, numbers unchanged


def test_report_weight_statistics_hand_example():
    # 200 events: the largest 1 % are 2 events; a negative weight counts by its magnitude
    weights = np.r_[np.ones(197), 10.0, 20.0, 1.0]
    source_weight = np.r_[np.ones(199), -1.0]
    x = np.linspace(0, 1, 200)
    m = reweighting_report(x, x, weights, source_weight=source_weight, classifier=FAST).metrics
    assert m["n_negative"] == 1
    assert m["weight_max"] == 20.0
    assert m["top1pct_weight_share"] == pytest.approx(30.0 / 228.0, rel=1e-14)
    assert "n_clipped" not in m
    assert "n_outside_training_range" not in m


def test_report_with_dataframes():
    source, target, weights, source_weight, _ = _gaussian_report_inputs(seed=1)
    columns = ["pt|lead", "η"]
    s, t = pd.DataFrame(source, columns=columns), pd.DataFrame(target, columns=columns)
    report = reweighting_report(
        s, t, pd.Series(weights), source_weight=pd.Series(source_weight), classifier=FAST
    )
    arrays = reweighting_report(
        source, target, weights, source_weight=source_weight, classifier=FAST,
        feature_names=columns,
    )  # fmt: skip
    assert report.feature_names == columns
    assert list(report.metrics["ks_after"]) == columns
    assert report.metrics == arrays.metrics
    assert report.plot_names == {"pt|lead": "pt_lead", "η": "η"}
    # the markdown table escapes the "|" of the name; links are URL-quoted
    assert "| pt\\|lead |" in report.to_markdown()
    assert "![η](plots/%CE%B7.png)" in report.to_markdown(images=True)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"weights": np.ones(10)}, ValueError, "weights has 10 entries but source has 50 events"),
        ({"weights": np.r_[np.nan, np.ones(49)]}, ValueError, "weights contains NaN"),
        ({"weights": None}, TypeError, "weights is required"),
        ({"source_weight": np.ones(49)}, ValueError, "source_weight has 49 entries"),
        ({"target_weight": np.r_[np.inf, np.ones(39)]}, ValueError, "target_weight contains NaN"),
        ({"target_weight": np.ones(50)}, ValueError, "target_weight has 50 entries but target"),
        ({"source_weight": -np.ones(50)}, ValueError, "source_weight \\* weights sum to -50"),
        ({"target": np.ones((40, 3))}, ValueError, "target has 3 features, expected 2"),
        ({"feature_names": ["a"]}, ValueError, "feature_names has 1 names"),
        ({"feature_names": ["a", "a"]}, ValueError, "not unique"),
        ({"training_range": np.ones((2, 3))}, ValueError, "training_range must have shape"),
        ({"training_range": [[1, 1], [0, 0]]}, ValueError, "minimum above its maximum"),
        ({"n_clipped": -1}, ValueError, "n_clipped must be a non-negative integer"),
        ({"groups": np.arange(3)}, ValueError, "groups has 3 entries"),
        ({"bins": 0}, ValueError, "bins must be a positive integer"),
    ],
)
def test_report_validates_inputs(change, error, match):
    rng = np.random.RandomState(0)
    arguments = {"source": rng.normal(size=(50, 2)), "target": rng.normal(size=(40, 2)),
                 "weights": np.ones(50), "classifier": FAST}  # fmt: skip
    arguments.update(change)
    with pytest.raises(error, match=match):
        reweighting_report(**arguments)


def test_report_rejects_mixed_frames_and_columns():
    s = pd.DataFrame({"a": [0.0, 1.0], "b": [1.0, 2.0]})
    with pytest.raises(TypeError, match="source is a DataFrame but target is not"):
        reweighting_report(s, s.to_numpy(), np.ones(2))
    with pytest.raises(ValueError, match="different columns"):
        reweighting_report(s, s.rename(columns={"b": "c"}), np.ones(2))


# --------------------------------------------------------------------------
# the report's text and files
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_report():
    source, target, weights, source_weight, target_weight = _gaussian_report_inputs(seed=2)
    return reweighting_report(
        source, target, weights, source_weight=source_weight, target_weight=target_weight,
        feature_names=["pt", "weights"], training_range=[[-3, -3], [3, 3]], n_clipped=2,
        classifier=FAST, bins=20,
    )  # fmt: skip


def test_markdown_and_html_hold_the_tables(small_report):
    m = small_report.metrics
    text = small_report.to_markdown()
    assert text.startswith("# Reweighting report\n")
    assert f"| effective sample size (fraction of the source) | {m['ess']:.4g} (" in text
    assert f"| {m['auc_before']:.4g} / {m['auc_after']:.4g} |" in text
    assert f"| pt | {m['ks_before']['pt']:.4g} | {m['ks_after']['pt']:.4g} |" in text
    assert "| clipped weights | 2 |" in text
    assert "(source / target) | " in text
    assert "![" not in text  # no images unless asked for
    linked = small_report.to_markdown(images=True)
    # a feature called "weights" must not overwrite the weight plot
    assert small_report.plot_names == {"pt": "pt", "weights": "weights_1"}
    for path in ("plots/weights.png", "plots/pt.png", "plots/weights_1.png"):
        assert f"]({path})" in linked
    page = small_report.to_html(images=True)
    assert page.startswith("<!DOCTYPE html>")
    assert '<img src="plots/pt.png" alt="pt">' in page
    assert "<td>share of the total |weight| in the largest 1 % of weights</td>" in page
    assert "<script" not in page  # self-contained: nothing fetched
    assert "http" not in page


def test_html_escapes_feature_names():
    x = np.linspace(0, 1, 100)[:, None]
    report = reweighting_report(x, x, np.ones(100), feature_names=["<b>&x"], classifier=FAST)
    page = report.to_html(images=True)
    assert "<b>&x" not in page
    assert "&lt;b&gt;&amp;x" in page


def test_save_writes_the_report(small_report, tmp_path):
    folder = tmp_path / "new" / "report"  # parents created
    assert small_report.save(folder) == folder
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert names == ["metrics.json", "plots/pt.png", "plots/weights.png", "plots/weights_1.png",
                     "report.html", "report.md"]  # fmt: skip
    assert json.loads((folder / "metrics.json").read_text()) == small_report.metrics
    assert (folder / "report.md").read_text() == small_report.to_markdown(images=True)
    assert (folder / "report.html").read_text() == small_report.to_html(images=True)
    for plot in folder.glob("plots/*.png"):
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # saving again replaces the report's files and leaves other files alone
    (folder / "metrics.json").write_text("old")
    (folder / "notes.txt").write_text("mine")
    small_report.save(str(folder))
    assert json.loads((folder / "metrics.json").read_text()) == small_report.metrics
    assert (folder / "notes.txt").read_text() == "mine"
    assert not list(folder.rglob("*.tmp"))
    with pytest.raises(ValueError, match="it is a file"):
        small_report.save(folder / "notes.txt")


def test_save_failure_leaves_nothing(tmp_path, monkeypatch):
    source, target, weights, _, _ = _gaussian_report_inputs(seed=3, n_source=200, n_target=200)
    report = reweighting_report(source, target, weights, classifier=FAST)
    broken = report.figures["x1"]

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(broken, "savefig", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        report.save(tmp_path / "report")
    assert not (tmp_path / "report").exists()  # everything is drawn before the first write
    # an existing report is left as it was
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "report.md").write_text("previous")
    with pytest.raises(RuntimeError, match="disk full"):
        report.save(folder)
    assert [p.name for p in folder.iterdir()] == ["report.md"]
    assert (folder / "report.md").read_text() == "previous"


def test_without_matplotlib_the_text_report_is_written(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    x = np.linspace(0, 1, 100)
    report = reweighting_report(x, x, np.ones(100), classifier=FAST)  # no plots needed here
    with pytest.raises(ImportError, match="pip install matplotlib"):
        report.figures  # noqa: B018
    with pytest.warns(UserWarning, match="has no plots"):
        report.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "report.html",
                                                           "report.md"]  # fmt: skip
    text = (tmp_path / "report.md").read_text()
    assert "No plots: the diagnostics plots need matplotlib" in text
    assert "![" not in text


def test_figures_leave_pyplot_alone(small_report):
    import matplotlib
    import matplotlib.pyplot as plt

    backend, open_figures = matplotlib.get_backend(), plt.get_fignums()
    figures = small_report.figures
    assert set(figures) == {"weights", "pt", "weights_1"}
    assert figures is small_report.figures  # drawn once
    assert matplotlib.get_backend() == backend
    assert plt.get_fignums() == open_figures
    ax_main = figures["pt"].axes[0]
    assert [t.get_text() for t in ax_main.get_legend().get_texts()] == [
        "source", "source, reweighted", "target"]  # fmt: skip
    assert isinstance(small_report, ReweightingReport)


# --------------------------------------------------------------------------
# the two-sample AUC with groups: the same events with two weights
# --------------------------------------------------------------------------
def _systematic_variation(n=4000, seed=0):
    """Source and target are the same events x ~ U(-1, 1); the target weight is 1 + x / 2.
    The best classifier scores by x; its AUC is P(x_target > x_source) = 7/12."""
    x = np.random.RandomState(seed).uniform(-1, 1, size=(n, 1))
    target_weight = np.clip(1 + 0.5 * x[:, 0], 1e-3, None)
    groups = np.r_[np.arange(n), np.arange(n)]  # an event and its copy: one group
    return x, target_weight, groups


def test_auc_groups_keep_copies_of_an_event_together():
    x, target_weight, groups = _systematic_variation()
    before = classifier_two_sample_auc(x, x, None, target_weight, random_state=0, groups=groups)
    after = classifier_two_sample_auc(
        x, x, target_weight, target_weight, random_state=0, groups=groups
    )
    assert before == pytest.approx(7 / 12, abs=0.02)  # measured 0.585
    # both copies of every test event: same features, same weight, same score
    assert after == pytest.approx(0.5, abs=1e-12)
    # Without groups (the failure this guards against), the copies of an event sit on both
    # sides of the split with opposite labels: the AUC is biased low, 0.541 instead of 0.583
    # before and 0.427 instead of 0.5 after (measured, seed 0).
    ungrouped_before = classifier_two_sample_auc(x, x, None, target_weight, random_state=0)
    ungrouped_after = classifier_two_sample_auc(x, x, target_weight, target_weight, random_state=0)
    assert ungrouped_before < 7 / 12 - 0.025
    assert ungrouped_after < 0.46


def test_auc_groups_through_the_report():
    x, target_weight, groups = _systematic_variation(n=2000, seed=1)
    report = reweighting_report(
        x, x, target_weight, target_weight=target_weight, groups=groups, random_state=1
    )
    assert report.metrics["auc_before"] == classifier_two_sample_auc(
        x, x, None, target_weight, random_state=1, groups=groups
    )
    assert report.metrics["auc_after"] == pytest.approx(0.5, abs=1e-12)


def test_auc_groups_errors_and_default():
    source, target = np.zeros((10, 1)), np.ones((10, 1))
    with pytest.raises(ValueError, match="groups has 19 entries but source and target hold 20"):
        classifier_two_sample_auc(source, target, groups=np.arange(19))
    with pytest.raises(ValueError, match="groups must be 1-D"):
        classifier_two_sample_auc(source, target, groups=np.zeros((20, 1)))
    # one group per sample: one half holds no target (or no source) events
    with pytest.raises(ValueError, match="without source or without target events"):
        classifier_two_sample_auc(source, target, groups=np.repeat([0, 1], 10), random_state=0)
    rng = np.random.RandomState(6)
    source, target = rng.normal(0, 1, 400), rng.normal(1, 1, 400)
    # groups=None is the ungrouped, stratified split
    assert classifier_two_sample_auc(
        source, target, random_state=0, groups=None, classifier=FAST
    ) == classifier_two_sample_auc(source, target, random_state=0, classifier=FAST)


def test_auc_with_negative_weights_is_the_pairwise_sum():
    # roc_auc_score refuses the non-monotone ROC curve of negative weights; the explicit sum of
    # the docstring's formula is used then. It equals roc_auc_score for positive weights and a
    # brute-force double loop for negative ones.
    from sklearn.metrics import roc_auc_score

    from skhep_reweight.metrics._samples import _pairwise_auc

    rng = np.random.RandomState(7)
    y = np.r_[np.zeros(60, int), np.ones(50, int)]
    score = np.round(rng.uniform(size=110), 1)  # ties
    weight = rng.uniform(0.2, 2.0, 110)
    assert _pairwise_auc(y, score, weight) == pytest.approx(
        roc_auc_score(y, score, sample_weight=weight), abs=1e-13
    )
    weight[::4] *= -1
    s, t = y == 0, y == 1
    greater = (score[t][:, None] > score[s][None, :]) + 0.5 * (score[t][:, None] == score[s])
    brute = weight[t] @ greater @ weight[s] / (weight[t].sum() * weight[s].sum())
    assert _pairwise_auc(y, score, weight) == pytest.approx(brute, rel=1e-12)
    # through the report: a quarter of the source events with negative generator weights
    source, target = rng.normal(0, 1, (1000, 1)), rng.normal(0.5, 1, (1000, 1))
    source_weight = rng.choice([-1.0, 1.0, 1.0, 1.0], 1000)
    m = reweighting_report(source, target, np.exp(0.5 * source[:, 0]),
                           source_weight=source_weight, classifier=FAST).metrics  # fmt: skip
    assert m["n_negative"] == np.sum(source_weight < 0)
    assert m["auc_before"] > 0.55
    assert abs(m["auc_after"] - 0.5) < 0.05


def test_a_model_that_learned_nothing_is_named():
    rng = np.random.RandomState(3)
    source, target = rng.normal(0, 1, (3000, 2)), rng.normal(0.3, 1, (3000, 2))
    flat = 1 + 0.001 * rng.normal(size=3000)  # what a network that learned nothing returns
    report = reweighting_report(source, target, flat, random_state=0)
    assert report.metrics["weight_relative_spread"] < 0.01
    # the 1 % critical KS distance for two samples of 3000 unit-weight events
    assert report.metrics["ks_critical"] == pytest.approx(1.628 * np.sqrt(2 / 3000), rel=1e-9)
    assert any("learned nothing" in text for text in report.metrics["warnings"])
    assert "## Warnings" in report.to_markdown()
    assert "learned nothing" in report.to_html()
    exact = np.exp(0.3 * source.sum(axis=1) - 0.09)  # N(0.3, 1)^2 / N(0, 1)^2
    good = reweighting_report(source, target, exact, random_state=0)
    assert not any("learned nothing" in text for text in good.metrics["warnings"])
    # same distribution, flat weights: nothing to learn, nothing to warn about
    same = reweighting_report(source, rng.normal(0, 1, (3000, 2)), flat, random_state=0)
    assert same.metrics["warnings"] == []
    assert "## Warnings" not in same.to_markdown()
