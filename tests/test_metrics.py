"""Tests of skhep_reweight.metrics against scipy, brute force and analytic values."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression

from skhep_reweight.datasets import gaussian_density_ratio
from skhep_reweight.metrics import (
    classifier_two_sample_auc,
    effective_sample_size,
    largest_weight_share,
    weighted_ks_distance,
    weighted_mean_std,
)

# Events per class in the classifier tests: the held-out AUC then has a
# statistical spread of about 0.01.
N_AUC = 5000
# Best possible AUC between N(0, 1) and N(1, 1): Phi(1 / sqrt(2)).
AUC_UNIT_SHIFT = stats.norm.cdf(1 / np.sqrt(2))


# --------------------------------------------------------------------------
# effective_sample_size
# --------------------------------------------------------------------------
def test_ess_known_values():
    assert effective_sample_size(np.ones(17)) == pytest.approx(17.0, rel=1e-14)
    # (1 + 1 + 1 + 3)^2 / (1 + 1 + 1 + 9) = 36 / 12
    assert effective_sample_size([1, 1, 1, 3]) == pytest.approx(3.0, rel=1e-14)
    # one non-zero weight is one event; negative weights lower the count
    assert effective_sample_size([0.0, 0.0, 5.0]) == pytest.approx(1.0, rel=1e-14)
    assert effective_sample_size([1.0, 1.0, -1.0]) == pytest.approx(1 / 3, rel=1e-14)


def test_ess_brute_force_and_scale_invariance():
    w = np.random.RandomState(0).exponential(size=1000)
    expected = w.sum() ** 2 / np.sum(w**2)
    assert effective_sample_size(w) == pytest.approx(expected, rel=1e-12)
    assert effective_sample_size(3.7 * w) == pytest.approx(expected, rel=1e-12)
    assert effective_sample_size(pd.Series(w)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("weight", "match"),
    [
        (np.ones((3, 2)), "sample_weight must be 1-D"),
        ([], "sample_weight is empty"),
        ([1.0, np.nan], "NaN or infinite"),
        ([1.0, np.inf], "NaN or infinite"),
        ([0.0, 0.0], "all zero"),
    ],
)
def test_ess_errors(weight, match):
    with pytest.raises(ValueError, match=match):
        effective_sample_size(weight)


# --------------------------------------------------------------------------
# weighted_ks_distance
# --------------------------------------------------------------------------
def test_ks_unit_weights_equal_scipy_ks_2samp():
    rng = np.random.RandomState(0)
    # feature 0 continuous, feature 1 with many ties (integers), different sizes
    source = np.column_stack([rng.normal(size=300), rng.poisson(3, size=300)])
    target = np.column_stack([rng.normal(0.3, 1.2, size=200), rng.poisson(3.5, size=200)])
    expected = [stats.ks_2samp(source[:, j], target[:, j]).statistic for j in range(2)]
    np.testing.assert_allclose(weighted_ks_distance(source, target), expected, rtol=0, atol=1e-15)


def test_ks_integer_weights_equal_repeated_rows():
    rng = np.random.RandomState(1)
    source, target = rng.poisson(4, size=150), rng.normal(4, 2, size=120).round(1)
    ws, wt = rng.randint(0, 4, size=150), rng.randint(1, 3, size=120)
    repeated = weighted_ks_distance(np.repeat(source, ws), np.repeat(target, wt))
    weighted = weighted_ks_distance(source, target, ws, wt)
    np.testing.assert_allclose(weighted, repeated, rtol=1e-12)
    # a global rescaling of either sample's weights changes nothing
    np.testing.assert_allclose(
        weighted_ks_distance(source, target, 0.1 * ws, 7.0 * wt), repeated, rtol=1e-12
    )


def test_ks_negative_weights_against_brute_force():
    rng = np.random.RandomState(2)
    source, target = rng.normal(size=60), rng.normal(0.5, 1, size=40)
    ws = rng.normal(1.0, 1.0, size=60)  # about 16 % negative weights
    assert (ws < 0).any()
    assert ws.sum() > 0
    # brute force: evaluate both weighted ECDFs on a grid that contains every point
    grid = np.sort(np.concatenate([source, target]))
    f_s = np.array([ws[source <= t].sum() for t in grid]) / ws.sum()
    f_t = np.array([(target <= t).sum() for t in grid]) / len(target)
    expected = np.max(np.abs(f_s - f_t))
    np.testing.assert_allclose(weighted_ks_distance(source, target, ws), [expected], rtol=1e-12)


def test_ks_per_feature_and_pandas():
    rng = np.random.RandomState(3)
    source = pd.DataFrame({"a": rng.normal(size=80), "b": rng.exponential(size=80)})
    target = pd.DataFrame({"a": rng.normal(size=90), "b": rng.exponential(size=90)})
    weight = pd.Series(rng.uniform(0.5, 2, size=80))
    both = weighted_ks_distance(source, target, weight)
    assert both.shape == (2,)
    for j, name in enumerate(["a", "b"]):
        single = weighted_ks_distance(source[name], target[name], weight.to_numpy())
        assert both[j] == pytest.approx(single[0], rel=1e-14)


def test_ks_exact_reweighting_removes_the_difference():
    rng = np.random.RandomState(4)
    source, target = rng.normal(0, 1, 20_000), rng.normal(1, 1, 20_000)
    before = weighted_ks_distance(source, target)[0]
    after = weighted_ks_distance(source, target, gaussian_density_ratio(source, 0, 1, 1, 1))[0]
    # analytic KS distance of N(0, 1) vs N(1, 1): 2 Phi(1/2) - 1
    assert before == pytest.approx(2 * stats.norm.cdf(0.5) - 1, abs=0.02)
    assert after < 0.02


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((3, 2)), np.zeros((3, 1))), "source has 2 features but target has 1"),
        ((np.zeros(3), np.zeros(2), np.ones(2)), "source_weight has 2 entries"),
        ((np.zeros(3), np.zeros(2), None, [1.0, -1.0]), "target_weight must sum to a positive"),
        ((np.zeros(3), np.zeros(2), [0.0, 0.0, 0.0]), "source_weight must sum to a positive"),
        ((np.zeros(3), np.zeros(2), np.ones((3, 1))), "source_weight must be 1-D"),
        (([0.0, np.nan], np.zeros(2)), "source contains NaN"),
        ((np.zeros(3), np.empty(0)), "target is empty"),
        ((np.zeros((2, 2, 2)), np.zeros(2)), "source must be 1-D or 2-D"),
    ],
)
def test_ks_errors(args, match):
    with pytest.raises(ValueError, match=match):
        weighted_ks_distance(*args)


def test_ks_rejects_non_numeric():
    with pytest.raises(TypeError, match="target must hold real numbers"):
        weighted_ks_distance([1.0, 2.0], ["a", "b"])


# --------------------------------------------------------------------------
# classifier_two_sample_auc
# --------------------------------------------------------------------------
def test_auc_same_distribution_is_one_half():
    rng = np.random.RandomState(0)
    source, target = rng.normal(size=(N_AUC, 2)), rng.normal(size=(N_AUC, 2))
    assert classifier_two_sample_auc(source, target, random_state=0) == pytest.approx(0.5, abs=0.03)


def test_auc_unit_shift_matches_analytic_value():
    rng = np.random.RandomState(1)
    source, target = rng.normal(0, 1, N_AUC), rng.normal(1, 1, N_AUC)
    auc = classifier_two_sample_auc(source, target, random_state=1)
    assert auc == pytest.approx(AUC_UNIT_SHIFT, abs=0.02)
    # reproducible with the same random_state
    assert classifier_two_sample_auc(source, target, random_state=1) == auc


def test_auc_exact_weights_bring_it_back_to_one_half():
    rng = np.random.RandomState(2)
    source, target = rng.normal(0, 1, N_AUC), rng.normal(1, 1, N_AUC)
    weight = gaussian_density_ratio(source, 0.0, 1.0, 1.0, 1.0)
    auc = classifier_two_sample_auc(source, target, source_weight=weight, random_state=2)
    assert auc == pytest.approx(0.5, abs=0.03)


def test_auc_user_classifier_is_cloned_and_sizes_do_not_matter():
    rng = np.random.RandomState(3)
    # unequal sample sizes: the class balancing keeps the answer at the analytic AUC
    source, target = rng.normal(0, 1, 2000), rng.normal(1, 1, 8000)
    template = LogisticRegression()
    auc = classifier_two_sample_auc(source, target, classifier=template, random_state=3)
    assert auc == pytest.approx(AUC_UNIT_SHIFT, abs=0.02)
    assert not hasattr(template, "coef_")


@pytest.mark.parametrize("test_size", [0.0, 1.0, 1.5, 10])
def test_auc_rejects_bad_test_size(test_size):
    with pytest.raises(ValueError, match="test_size must be a float strictly between 0 and 1"):
        classifier_two_sample_auc(np.zeros(10), np.ones(10), test_size=test_size)


def test_auc_rejects_bad_weights():
    with pytest.raises(ValueError, match="source_weight has 3 entries"):
        classifier_two_sample_auc(np.zeros(10), np.ones(10), source_weight=np.ones(3))


# --------------------------------------------------------------------------
# weighted_mean_std
# --------------------------------------------------------------------------
def test_weighted_mean_std_brute_force():
    rng = np.random.RandomState(5)
    X = rng.normal(size=(100, 3))
    w = rng.uniform(0, 2, size=100)
    mean, std = weighted_mean_std(X, w)
    np.testing.assert_allclose(mean, np.average(X, axis=0, weights=w), rtol=1e-12)
    variance = np.diag(np.cov(X, rowvar=False, aweights=w, bias=True))
    np.testing.assert_allclose(std, np.sqrt(variance), rtol=1e-12)


def test_weighted_mean_std_integer_weights_and_defaults():
    rng = np.random.RandomState(6)
    x = rng.normal(size=50)
    counts = rng.randint(0, 4, size=50)
    mean, std = weighted_mean_std(x, counts)
    assert mean.shape == std.shape == (1,)
    np.testing.assert_allclose(mean, [np.repeat(x, counts).mean()], rtol=1e-12)
    np.testing.assert_allclose(std, [np.repeat(x, counts).std()], rtol=1e-12)
    mean, std = weighted_mean_std(pd.DataFrame({"x": x}))
    np.testing.assert_allclose([mean[0], std[0]], [x.mean(), x.std()], rtol=1e-12)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([1.0, np.inf],), "X contains NaN or infinite"),
        ((np.empty((0, 2)),), "X is empty"),
        (([1.0, 2.0], [1.0]), "sample_weight has 1 entries"),
        (([1.0, 2.0], [1.0, -1.0]), "sample_weight must sum to a positive"),
        (([0.0, 1.0, 3.0], [1.0, 1.0, -0.5]), "weighted variance is negative"),
    ],
)
def test_weighted_mean_std_errors(args, match):
    with pytest.raises(ValueError, match=match):
        weighted_mean_std(*args)


def test_largest_weight_share():
    # 1000 events, the largest 10 carry 10 * 50 of 990 + 500: 500 / 1490
    w = np.r_[np.ones(990), np.full(10, 50.0)]
    assert largest_weight_share(w) == pytest.approx(500 / 1490, rel=1e-14)
    assert largest_weight_share(-3e300 * w) == pytest.approx(500 / 1490, rel=1e-14)  # finite
    assert largest_weight_share(np.ones(1000), fraction=0.25) == pytest.approx(0.25)
    assert largest_weight_share([0.0, 2.0]) == 1.0  # at least one event
    assert largest_weight_share(np.zeros(5)) == 0.0
    with pytest.raises(ValueError, match="fraction"):
        largest_weight_share(w, fraction=0)
    with pytest.raises(ValueError, match="sample_weight"):
        largest_weight_share([np.nan, 1.0])
