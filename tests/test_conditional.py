"""ConditionalReweighter against exact conditional weights, in phase-space holes, interpolating
between truth values, and its scikit-learn behaviour.

Tolerances. Per-bin statistics are compared *paired*: the moments of the residual d = x - x' of the
source weighted by the learned weights against the same events weighted by the exact weights. Both
estimate the analytic values (mean 0.2, width 1.2) with a sampling noise of up to 0.04 per bin at
10^5 events (measured over test seeds 2-4), which would swamp a tolerance of 0.03; paired, that
noise cancels and what remains is the model's error (below 0.02 here). The unnormalized moments
sum_i w_i d_i / n_bin are used, so that a reweighter whose weights do not average to one in the
bin (one that also moves x') fails them.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier

from skhep_reweight import ConditionalReweighter, DCTRReweighter
from skhep_reweight.datasets import make_conditional_gaussians, make_conditional_response
from skhep_reweight.metrics import weighted_mean_std
from skhep_reweight.reweight import balanced_cross_entropy
from skhep_reweight.reweight._conditional import resolve_conditional_features

# small networks: a second intra-op thread gains nothing and stalls on a busy machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Bins of the truth x' where both the source N(0, 1) and the target N(1, 1) are well populated.
TRUTH_EDGES = np.arange(-1.0, 2.01, 0.5)
HOLE = (-0.5, 0.5)


def _unnormalized_moments(d, w, truth):
    """Per truth bin: mean weight, sum(w d)/n and sqrt(sum(w d^2)/n - (sum(w d)/n)^2)."""
    index = np.digitize(truth, TRUTH_EDGES)
    rows = []
    for b in range(1, len(TRUTH_EDGES)):
        s = index == b
        m1 = np.sum(w[s] * d[s]) / s.sum()
        m2 = np.sum(w[s] * d[s] ** 2) / s.sum()
        rows.append((w[s].mean(), m1, np.sqrt(m2 - m1**2)))
    return np.array(rows)


@pytest.fixture(scope="module")
def gaussian_test():
    test = make_conditional_gaussians(100_000, random_state=2)
    source = test.X[test.y == 0]
    return source, test.weight_function(source)


@pytest.fixture(scope="module")
def gaussian_fits():
    train = make_conditional_gaussians(50_000, random_state=1)
    joint = ConditionalReweighter([1], random_state=0).fit(train.X, train.y)
    dctr = DCTRReweighter(random_state=0).fit(train.X, train.y)
    return joint, dctr


def test_exact_conditional_weights(gaussian_fits, gaussian_test):
    rw, _ = gaussian_fits
    source, exact = gaussian_test
    w = rw.predict_weights(source)
    core = np.abs(source[:, 0] - source[:, 1]) < 2.0
    assert np.median(np.abs(w[core] / exact[core] - 1.0)) < 0.03  # measured 0.009


def test_weights_average_to_one_in_every_truth_bin(gaussian_fits, gaussian_test):
    rw, dctr = gaussian_fits
    source, exact = gaussian_test
    mean_weight = _unnormalized_moments(
        source[:, 0] - source[:, 1], rw.predict_weights(source), source[:, 1]
    )[:, 0]
    np.testing.assert_allclose(mean_weight, 1.0, atol=0.03)  # measured within 0.014
    # The marginal reweighter moves x' by q(x')/p(x') = exp(x' - 1/2): 0.29 to 3.4 in these bins.
    dctr_mean = _unnormalized_moments(
        source[:, 0] - source[:, 1], dctr.predict_weights(source), source[:, 1]
    )[:, 0]
    assert np.max(np.abs(dctr_mean - 1.0)) > 0.5


def test_conditional_response_moments_per_truth_bin(gaussian_fits, gaussian_test):
    rw, dctr = gaussian_fits
    source, exact = gaussian_test
    d, truth = source[:, 0] - source[:, 1], source[:, 1]
    reference = _unnormalized_moments(d, exact, truth)
    # the exact weights themselves reproduce the target's response (mean 0.2, width 1.2), within
    # the sampling noise of up to 0.04 per bin (see the module docstring)
    np.testing.assert_allclose(reference[:, 1], 0.2, atol=0.08)
    np.testing.assert_allclose(reference[:, 2], 1.2, atol=0.08)
    learned = _unnormalized_moments(d, rw.predict_weights(source), truth)
    np.testing.assert_allclose(learned[:, 1:], reference[:, 1:], atol=0.03)
    # DCTRReweighter on (x, x') learns the joint ratio: its weights carry q(x')/p(x') too, and
    # the response it gives the source at fixed x' is off by far more than the tolerance.
    marginal = _unnormalized_moments(d, dctr.predict_weights(source), truth)
    assert np.max(np.abs(marginal[:, 1:] - reference[:, 1:])) > 0.1


def _weights_at_zero_truth(rw, n=50_000):
    rng = np.random.RandomState(3)
    X = np.column_stack([rng.normal(0.0, 1.0, n), np.zeros(n)])  # source events at x' = 0
    exact = make_conditional_gaussians(1).weight_function(X)
    return rw.predict_weights(X), exact


def test_phase_space_hole_single_training_interpolates_ratio_does_not():
    # No source events with |x'| < 0.5 in training; the weights at x' = 0 are read off anyway.
    train = make_conditional_gaussians(20_000, source_hole=HOLE, random_state=1)
    assert not np.any(np.abs(train.X[train.y == 0, 1]) < 0.5)
    errors, models = {}, {}
    for method in ("joint", "ratio"):
        rw = ConditionalReweighter([1], method=method, random_state=0).fit(train.X, train.y)
        w, exact = _weights_at_zero_truth(rw)
        errors[method] = np.mean(np.abs(w - exact)) / np.mean(exact)
        models[method] = rw
    assert errors["joint"] < 0.15  # measured 0.03
    # The ratio's two classifiers saw only target events in the hole: both saturate, and their
    # difference there is one clipped number minus another, not a measurement. Measured 0.22
    # (both at the clip, which happens to cancel) and 0.94 (a randomly initialized last layer:
    # the marginal stopped short of the clip).
    assert errors["ratio"] > 3 * errors["joint"]
    g = models["ratio"].marginal_reweighter_.decision_function(np.zeros((1, 1)))
    assert g[0] > 0.85 * np.log((1 - 1e-6) / 1e-6)  # at or near the clip


def test_marginal_then_conditional_diverges_in_a_hole():
    # The second classifier sees target events and no source events in the hole, so its output
    # there is the clip: weights of ~1e6 (measured: median w / w_exact = 1.2e6).
    train = make_conditional_gaussians(10_000, source_hole=HOLE, random_state=1)
    rw = ConditionalReweighter([1], method="marginal_then_conditional", random_state=0)
    rw.fit(train.X, train.y)
    w, exact = _weights_at_zero_truth(rw, 5_000)
    assert np.median(w / exact) > 1e3


def test_interpolation_between_truth_values():
    # Truth only at 100 and 200 GeV in training; the response x/x' is the reweighted feature.
    train = make_conditional_response(50_000, random_state=1)

    def response_features(X):
        return np.column_stack([X[:, 0] / X[:, 1], X[:, 1]])

    rw = ConditionalReweighter([1], random_state=0).fit(response_features(train.X), train.y)
    test = make_conditional_response(100_000, truth_values=[150.0], random_state=2)
    source = test.X[test.y == 0]
    w = rw.predict_weights(response_features(source))
    mean, std = weighted_mean_std(source[:, :1] / source[:, 1:], w)
    exact_mean, exact_std = weighted_mean_std(
        source[:, :1] / source[:, 1:], test.weight_function(source)
    )
    # The shape is interpolated well; the normalization less so: the mean weight at the unseen
    # 150 GeV is 0.957 (a 4% bias, far beyond the noise of 0.001) while it is 1.02 and 0.99 at the
    # trained 100 and 200 GeV. Recorded in bench/README.md; the bound documents it.
    assert w.mean() == pytest.approx(1.0, abs=0.06)
    # the target's response at 150 GeV: mean 1.02, width 1.2 / sqrt(150) = 0.098
    assert exact_mean[0] == pytest.approx(1.02, abs=0.001)
    assert mean[0] == pytest.approx(exact_mean[0], abs=0.004)  # measured 0.0012; shift is 0.02
    assert std[0] / exact_std[0] == pytest.approx(1.0, abs=0.03)  # measured 0.0066
    # unweighted, the source is off by the whole shift and 17% in width
    raw_mean, raw_std = weighted_mean_std(source[:, :1] / source[:, 1:])
    assert abs(raw_mean[0] - exact_mean[0]) > 0.015
    assert raw_std[0] / exact_std[0] < 0.9


# ---------------------------------------------------------------------------- the three methods
@pytest.mark.parametrize("method", ["joint", "ratio", "marginal_then_conditional"])
def test_every_method_learns_the_shift(method):
    train = make_conditional_gaussians(5_000, random_state=1)
    rw = ConditionalReweighter(
        [1], method=method, max_epochs=100, n_iter_no_change=20, random_state=0
    )
    rw.fit(train.X, train.y)
    source = train.X[train.y == 0]
    w = rw.predict_weights(source)
    d = source[:, 0] - source[:, 1]
    assert np.average(d, weights=w) == pytest.approx(0.2, abs=0.05)
    # x' is not moved (a marginal reweighter would move its mean to 1; measured at most 0.084,
    # for the ratio of two noisy classifiers trained on 5000 events). The ratio's shift with
    # the default patience of 10 is low and seed-dependent: 0.148, 0.188, 0.123, 0.151 over
    # four seeds (a random last layer: 0.137, 0.199, 0.121, 0.144); patience 20: 0.184, 0.178,
    # 0.168, 0.142
    assert np.average(source[:, 1], weights=w) == pytest.approx(0.0, abs=0.15)
    assert rw.n_clipped_ == 0


def test_joint_network_splits_into_marginal_and_conditional():
    train = make_conditional_gaussians(5_000, random_state=1)
    rw = ConditionalReweighter([1], max_epochs=30, random_state=0).fit(train.X, train.y)
    X = train.X[:1000]
    g = rw.marginal_decision_function(X)
    # g depends on x' only: the same x' with another x gives the same g
    shifted = X.copy()
    shifted[:, 0] += 1.0
    np.testing.assert_array_equal(rw.marginal_decision_function(shifted), g)
    # g is the marginal log-ratio x' - 1/2 of N(1, 1) over N(0, 1)
    inside = np.abs(X[:, 1] - 0.5) < 1.5
    np.testing.assert_allclose(g[inside], X[inside, 1] - 0.5, atol=0.25)
    # predict_proba, predict and decision_function are all about h
    h = rw.decision_function(X)
    np.testing.assert_allclose(rw.predict_proba(X)[:, 1], 1.0 / (1.0 + np.exp(-h)))
    np.testing.assert_array_equal(rw.predict(X), (h > 0).astype(int))
    np.testing.assert_allclose(rw.predict_weights(X), np.exp(h))


def test_score_is_minus_the_joint_loss():
    train = make_conditional_gaussians(2_000, random_state=1)
    rw = ConditionalReweighter([1], max_epochs=5, random_state=0).fit(train.X, train.y)
    g = rw.marginal_decision_function(train.X)
    s = g + rw.decision_function(train.X)
    ones = np.ones(len(train.y))
    expected = -(
        balanced_cross_entropy(train.y, g, ones) + balanced_cross_entropy(train.y, s, ones)
    )
    assert rw.score(train.X, train.y) == pytest.approx(expected)


def test_grid_search_with_the_default_score_selects_a_network_that_can_learn_the_ratio():
    train = make_conditional_gaussians(3_000, random_state=1)
    grid = GridSearchCV(
        ConditionalReweighter([1], max_epochs=20, random_state=0),
        {"method": ["joint", "ratio"], "hidden_layer_sizes": [(1,), (32, 32)]},
        cv=2,
    ).fit(train.X, train.y)
    # a single hidden unit cannot represent the quadratic log-ratio of a change of width
    assert grid.best_params_["hidden_layer_sizes"] == (32, 32)
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))


def test_dataframe_columns_by_name_and_fit_samples():
    data = make_conditional_gaussians(2_000, random_state=1)
    frame = pd.DataFrame(data.X, columns=["reco", "truth"])
    by_name = ConditionalReweighter("truth", max_epochs=5, random_state=0)
    by_name.fit(frame, data.y)
    by_index = ConditionalReweighter([1], max_epochs=5, random_state=0).fit(data.X, data.y)
    np.testing.assert_array_equal(by_name.predict_weights(frame), by_index.predict_weights(data.X))
    np.testing.assert_array_equal(by_name.conditional_index_, [1])
    assert list(by_name.feature_names_in_) == ["reco", "truth"]
    two = ConditionalReweighter("truth", max_epochs=5, random_state=0).fit_samples(
        frame[data.y == 0], frame[data.y == 1]
    )
    np.testing.assert_array_equal(two.predict_weights(frame), by_name.predict_weights(frame))


def test_bdt_for_the_classical_methods():
    # Trees cut along the axes: they are given the residual x - x' (a diagonal in (x, x')).
    train = make_conditional_gaussians(20_000, random_state=1)
    test = make_conditional_gaussians(20_000, random_state=2)

    def residual_features(X):
        return np.column_stack([X[:, 0] - X[:, 1], X[:, 1]])

    bdt = HistGradientBoostingClassifier(max_iter=100, max_depth=3)
    rw = ConditionalReweighter([1], method="ratio", classifier=bdt, random_state=0)
    rw.fit(residual_features(train.X), train.y)
    assert isinstance(rw.joint_reweighter_.classifier_, HistGradientBoostingClassifier)
    source = residual_features(test.X[test.y == 0])
    w = rw.predict_weights(source)
    mean, std = weighted_mean_std(source, w)
    # measured: shift 0.177, width 1.188, x' mean -0.001 (a marginal reweighter: about 1)
    assert mean[0] == pytest.approx(0.2, abs=0.05)
    assert std[0] == pytest.approx(1.2, abs=0.05)
    assert mean[1] == pytest.approx(0.0, abs=0.03)


def test_negative_weights_are_taken_with_their_sign():
    # Extra source events with a response bump at x - x' ~ N(2, 0.5^2) appear twice, once with
    # weight +1 and once with -1: the signed source density is unchanged, and only a fit that uses
    # the sign learns the target's response (sum w d / n = 0.2). Taking |w| would give -0.33 and
    # dropping the negative events -0.17 (exact ratios, computed when writing this test).
    train = make_conditional_gaussians(5_000, random_state=1)
    rng = np.random.RandomState(5)
    truth = rng.normal(0.0, 1.0, 2_500)
    bump = np.column_stack([truth + rng.normal(2.0, 0.5, truth.size), truth])
    X = np.vstack([train.X, bump, bump])
    y = np.r_[train.y, np.zeros(2 * truth.size, dtype=int)]
    weight = np.r_[np.ones(len(train.y)), np.ones(truth.size), -np.ones(truth.size)]
    rw = ConditionalReweighter([1], max_epochs=30, random_state=0).fit(X, y, sample_weight=weight)
    source = train.X[train.y == 0]
    w = rw.predict_weights(source)
    d = source[:, 0] - source[:, 1]
    assert np.mean(w * d) == pytest.approx(0.2, abs=0.05)
    assert np.mean(w) == pytest.approx(1.0, abs=0.05)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("conditional_features", "error", "match"),
    [
        (None, ValueError, "conditional_features is None"),
        ([0, 1], ValueError, "names all of them"),
        ([2], ValueError, "outside the 2 feature"),
        (["truth"], ValueError, "no column names"),
        ([True], ValueError, "boolean mask of length 1"),
        ([0.5], TypeError, "column indices, column names or a boolean mask"),
        ([], ValueError, "at least one column"),
    ],
)
def test_bad_conditional_features(conditional_features, error, match):
    data = make_conditional_gaussians(200, random_state=1)
    with pytest.raises(error, match=match):
        ConditionalReweighter(conditional_features, max_epochs=1).fit(data.X, data.y)


def test_bad_input():
    data = make_conditional_gaussians(200, random_state=1)
    rw = ConditionalReweighter([1], max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match="only one class"):
        rw.fit(data.X, np.zeros(len(data.y)))
    bad = data.X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        rw.fit(bad, data.y)
    with pytest.raises(ValueError, match="sum to zero"):
        rw.fit(data.X, data.y, sample_weight=np.where(data.y == 0, 0.0, 1.0))
    with pytest.raises(ValueError, match="sample_weight has 3 entries"):
        rw.fit(data.X, data.y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="cannot use classifier"):
        ConditionalReweighter([1], classifier=HistGradientBoostingClassifier()).fit(data.X, data.y)
    with pytest.raises(ValueError, match="method"):
        ConditionalReweighter([1], method="two_step").fit(data.X, data.y)
    with pytest.raises(TypeError, match="takes no sample_weight"):
        ConditionalReweighter(
            [1], method="marginal_then_conditional", classifier=KNeighborsClassifier()
        ).fit(data.X, data.y)
    rw.fit(data.X, data.y)
    with pytest.raises(ValueError, match="features"):
        rw.predict_weights(data.X[:, :1])
    with pytest.raises(ValueError, match="sample_weight has 2 entries"):
        rw.predict_weights(data.X, sample_weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="both the source and the target"):
        rw.score(data.X, np.ones(len(data.y)))


def test_resolve_conditional_features_forms():
    names = np.array(["a", "b", "c"])
    assert resolve_conditional_features(-1, 3).tolist() == [2]
    assert resolve_conditional_features([2, 0], 3).tolist() == [0, 2]
    with pytest.raises(ValueError, match="twice"):
        resolve_conditional_features([2, 0, -1], 3)
    assert resolve_conditional_features([False, True, False], 3).tolist() == [1]
    assert resolve_conditional_features(["c", "a"], 3, names).tolist() == [0, 2]
    with pytest.raises(ValueError, match=r"lacks"):
        resolve_conditional_features(["d"], 3, names)


def test_clone_keeps_conditional_features_verbatim():
    rw = ConditionalReweighter(("truth",), method="ratio")
    assert clone(rw).conditional_features == ("truth",)
