"""Tests of skhep_reweight.datasets against brute-force and analytic answers."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from skhep_reweight.datasets import (
    RELATIVE_EIGENVALUE_RANGE,
    SOURCE_EIGENVALUE_RANGE,
    gaussian_density_ratio,
    gaussian_transport_map,
    make_auxiliary_response,
    make_conditional_discriminant,
    make_conditional_gaussians,
    make_conditional_response,
    make_correlated_gaussians,
    make_correlated_smearing,
    make_dijet_calibration,
    make_gaussian_reweighting,
    make_gaussian_smearing,
    make_gaussian_transport,
    make_parametrized_gaussian,
    make_smearing_mismodeling,
)

# Pull (in standard errors) allowed between a weighted estimate and its exact value.
N_SIGMA = 4.0


def _weighted_mean_and_error(x, w):
    """Self-normalized weighted mean and its delta-method standard error."""
    mean = np.sum(w * x) / np.sum(w)
    error = np.sqrt(np.sum(w**2 * (x - mean) ** 2)) / np.sum(w)
    return mean, error


def _weighted_std_and_error(x, w):
    """Weighted standard deviation and its delta-method standard error."""
    mean = np.sum(w * x) / np.sum(w)
    variance = np.sum(w * (x - mean) ** 2) / np.sum(w)
    variance_error = np.sqrt(np.sum(w**2 * ((x - mean) ** 2 - variance) ** 2)) / np.sum(w)
    return np.sqrt(variance), variance_error / (2 * np.sqrt(variance))


def _random_spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + d * np.eye(d)


# --------------------------------------------------------------------------
# gaussian_density_ratio
# --------------------------------------------------------------------------
def test_density_ratio_1d_matches_norm_pdf_ratio():
    x = np.linspace(-4, 5, 37)
    expected = stats.norm.pdf(x, 1.0, 1.3) / stats.norm.pdf(x, 0.0, 1.0)
    w = gaussian_density_ratio(x, 0.0, 1.0, 1.0, 1.3**2)
    np.testing.assert_allclose(w, expected, rtol=1e-12)


def test_density_ratio_nd_matches_multivariate_normal():
    rng = np.random.RandomState(0)
    d = 3
    mp, mq = rng.normal(size=d), rng.normal(size=d)
    cp, cq = _random_spd(rng, d), _random_spd(rng, d)
    X = rng.normal(size=(50, d)) * 2
    expected = stats.multivariate_normal(mq, cq).pdf(X) / stats.multivariate_normal(mp, cp).pdf(X)
    np.testing.assert_allclose(gaussian_density_ratio(X, mp, cp, mq, cq), expected, rtol=1e-10)


def test_density_ratio_stays_finite_in_the_far_tail():
    # both pdfs underflow to 0 at x = 60, the ratio exp(x - 1/2) does not
    w = gaussian_density_ratio([[60.0]], 0.0, 1.0, 1.0, 1.0)
    np.testing.assert_allclose(w, np.exp(59.5), rtol=1e-12)


def test_density_ratio_accepts_pandas():
    frame = pd.DataFrame({"a": [0.0, 1.0], "b": [1.0, -1.0]})
    mean, cov = np.array([1.0, 0.0]), np.eye(2)
    expected = gaussian_density_ratio(frame.to_numpy(), np.zeros(2), np.eye(2), mean, cov)
    np.testing.assert_allclose(
        gaussian_density_ratio(frame, np.zeros(2), np.eye(2), mean, cov), expected, rtol=0
    )
    np.testing.assert_allclose(expected, np.exp(frame["a"] - 0.5), rtol=1e-12)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([np.nan], 0.0, 1.0, 1.0, 1.0), "X contains NaN"),
        (([[0.0, 1.0]], 0.0, 1.0, 1.0, 1.0), "X has 2 features, expected 1"),
        ((np.empty((0, 1)), 0.0, 1.0, 1.0, 1.0), "X is empty"),
        (([0.0], 0.0, -1.0, 1.0, 1.0), "source_cov must be positive definite"),
        (([0.0], [0.0, 0.0], np.eye(2), 1.0, 1.0), "source_mean has 2 features"),
        (([0.0], 0.0, np.eye(2), 1.0, 1.0), r"source_cov must have shape \(1, 1\)"),
        (([[0.0, 0.0]], [0, 0], [[1, 0.5], [0, 1]], [0, 0], np.eye(2)), "symmetric"),
        (([0.0], 0.0, 1.0, np.inf, 1.0), "target_mean contains NaN or infinite"),
    ],
)
def test_density_ratio_errors(args, match):
    with pytest.raises(ValueError, match=match):
        gaussian_density_ratio(*args)


def test_density_ratio_rejects_strings():
    with pytest.raises(TypeError, match="X must hold real numbers"):
        gaussian_density_ratio(["a"], 0.0, 1.0, 1.0, 1.0)


# --------------------------------------------------------------------------
# make_gaussian_reweighting
# --------------------------------------------------------------------------
def test_gaussian_reweighting_layout_and_exact_weights():
    data = make_gaussian_reweighting(n_samples=1000, random_state=0)
    assert data.X.shape == (2000, 1)
    np.testing.assert_array_equal(data.y, np.repeat([0, 1], 1000))
    x = data.X[:, 0]
    expected = stats.norm.pdf(x, 1.0, 1.3) / stats.norm.pdf(x, 0.0, 1.0)
    np.testing.assert_allclose(data.exact_weights, expected, rtol=1e-10)
    np.testing.assert_allclose(data.weight_function(data.X), expected, rtol=1e-10)
    np.testing.assert_allclose(data.target_cov, [[1.69]], rtol=1e-14)
    assert data.source_mean.shape == (1,)
    assert isinstance(data.description, str)
    # the classes are the right distributions: sample means within 4 standard errors
    assert abs(x[:1000].mean()) < N_SIGMA * 1.0 / np.sqrt(1000)
    assert abs(x[1000:].mean() - 1.0) < N_SIGMA * 1.3 / np.sqrt(1000)


@pytest.mark.parametrize(("target_mean", "target_std"), [(1.0, 1.0), (0.5, 0.8), (1.0, 1.2)])
def test_exact_weights_morph_source_moments_into_target(target_mean, target_std):
    data = make_gaussian_reweighting(
        n_samples=20_000, target_mean=target_mean, target_std=target_std, random_state=1
    )
    x, w = data.X[data.y == 0, 0], data.exact_weights[data.y == 0]
    mean, mean_error = _weighted_mean_and_error(x, w)
    std, std_error = _weighted_std_and_error(x, w)
    assert abs(mean - target_mean) < N_SIGMA * mean_error
    assert abs(std - target_std) < N_SIGMA * std_error
    assert abs(w.mean() - 1.0) < N_SIGMA * w.std() / np.sqrt(len(w))


def test_gaussian_reweighting_is_reproducible():
    a = make_gaussian_reweighting(n_samples=50, random_state=3)
    b = make_gaussian_reweighting(n_samples=50, random_state=np.random.RandomState(3))
    c = make_gaussian_reweighting(n_samples=50, random_state=4)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.allclose(a.X, c.X)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 0}, ValueError, "n_samples must be at least 1"),
        ({"n_samples": 10.0}, TypeError, "n_samples must be an integer"),
        ({"source_std": 0.0}, ValueError, "source_std must be positive"),
        ({"target_std": -1.0}, ValueError, "target_std must be positive"),
        ({"target_mean": np.nan}, ValueError, "target_mean must be finite"),
    ],
)
def test_gaussian_reweighting_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_gaussian_reweighting(**kwargs)


# --------------------------------------------------------------------------
# make_correlated_gaussians
# --------------------------------------------------------------------------
def test_correlated_gaussians_structure():
    data = make_correlated_gaussians(n_samples=100, n_features=4, mean_shift=0.7, random_state=0)
    S, D, m = data.source_cov, data.target_cov, data.target_mean
    assert data.X.shape == (200, 4)
    np.testing.assert_array_equal(data.source_mean, np.zeros(4))
    np.testing.assert_allclose(S, S.T, atol=0)
    np.testing.assert_allclose(D, D.T, atol=0)
    # eigenvalues of S, and of S^-1/2 D S^-1/2 (same as those of S^-1 D), in their ranges
    assert np.all(np.linalg.eigvalsh(S) >= SOURCE_EIGENVALUE_RANGE[0] - 1e-12)
    assert np.all(np.linalg.eigvalsh(S) <= SOURCE_EIGENVALUE_RANGE[1] + 1e-12)
    relative = np.sort(np.linalg.eigvals(np.linalg.solve(S, D)).real)
    assert relative[0] >= RELATIVE_EIGENVALUE_RANGE[0] - 1e-12
    assert relative[-1] <= RELATIVE_EIGENVALUE_RANGE[1] + 1e-12
    assert not np.allclose(S, D, atol=0.05)
    # the features are correlated
    assert np.max(np.abs(S - np.diag(np.diag(S)))) > 0.05
    # Mahalanobis length of the mean shift is exactly mean_shift
    np.testing.assert_allclose(np.sqrt(m @ np.linalg.solve(S, m)), 0.7, rtol=1e-12)


def test_correlated_gaussians_exact_weights_match_scipy():
    data = make_correlated_gaussians(n_samples=200, n_features=3, random_state=2)
    p = stats.multivariate_normal(data.source_mean, data.source_cov)
    q = stats.multivariate_normal(data.target_mean, data.target_cov)
    np.testing.assert_allclose(data.exact_weights, q.pdf(data.X) / p.pdf(data.X), rtol=1e-10)


def test_correlated_gaussians_reweighted_source_matches_target():
    n = 20_000
    data = make_correlated_gaussians(n_samples=n, n_features=5, random_state=3)
    source, w = data.X[data.y == 0], data.exact_weights[data.y == 0]
    target = data.X[data.y == 1]
    target_std = np.sqrt(np.diag(data.target_cov))
    for j in range(5):
        mean, mean_error = _weighted_mean_and_error(source[:, j], w)
        std, std_error = _weighted_std_and_error(source[:, j], w)
        assert abs(mean - data.target_mean[j]) < N_SIGMA * mean_error
        assert abs(std - target_std[j]) < N_SIGMA * std_error
        # the target rows follow the target density too
        assert abs(target[:, j].mean() - data.target_mean[j]) < N_SIGMA * target_std[j] / np.sqrt(n)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correlated_gaussians_effective_sample_size_in_10d(seed):
    n = 10_000
    data = make_correlated_gaussians(n_samples=n, n_features=10, random_state=seed)
    w = data.exact_weights[data.y == 0]
    assert w.sum() ** 2 / np.sum(w**2) > 0.2 * n


def test_correlated_gaussians_reproducible_and_one_feature():
    a = make_correlated_gaussians(n_samples=20, n_features=2, random_state=5)
    b = make_correlated_gaussians(n_samples=20, n_features=2, random_state=5)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.target_cov, b.target_cov)
    one = make_correlated_gaussians(n_samples=20, n_features=1, mean_shift=1.0, random_state=0)
    assert one.X.shape == (40, 1)
    np.testing.assert_allclose(abs(one.target_mean[0]), np.sqrt(one.source_cov[0, 0]))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_features": 0}, ValueError, "n_features must be at least 1"),
        ({"mean_shift": -0.1}, ValueError, "mean_shift must be non-negative"),
        ({"n_samples": True}, TypeError, "n_samples must be an integer"),
    ],
)
def test_correlated_gaussians_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_correlated_gaussians(**kwargs)


# --------------------------------------------------------------------------
# make_parametrized_gaussian
# --------------------------------------------------------------------------
def test_parametrized_layout_mu_only():
    data = make_parametrized_gaussian(n_samples=5000, random_state=0)
    assert data.X.shape == data.X_sim.shape == (10_000, 1)
    assert data.theta.shape == (10_000, 1)
    assert data.parameter_names == ("mu",)
    np.testing.assert_array_equal(data.y, np.repeat([0, 1], 5000))
    assert np.isnan(data.theta[:5000]).all()
    mu = data.theta[5000:, 0]
    assert np.all((mu >= -2.0) & (mu <= 2.0))
    # uniform on [-2, 2]: mean 0, variance 4/3
    assert abs(mu.mean()) < N_SIGMA * np.sqrt(4 / 3 / 5000)
    # each target event is N(mu_i, 1): the standardized residuals are N(0, 1)
    residual = data.X[5000:, 0] - mu
    assert abs(residual.mean()) < N_SIGMA / np.sqrt(5000)
    assert abs(residual.std() - 1.0) < N_SIGMA / np.sqrt(2 * 5000)
    # detector smearing of width 0.5
    smear = (data.X_sim - data.X)[:, 0]
    assert abs(smear.std() - 0.5) < N_SIGMA * 0.5 / np.sqrt(2 * 10_000)


def test_parametrized_layout_mu_sigma():
    data = make_parametrized_gaussian(
        n_samples=5000, parameters=("mu", "sigma"), sigma_range=(0.5, 2.0), random_state=1
    )
    theta = data.theta[5000:]
    assert data.theta.shape == (10_000, 2)
    assert np.isnan(data.theta[:5000]).all()
    assert np.all((theta[:, 1] >= 0.5) & (theta[:, 1] <= 2.0))
    np.testing.assert_array_equal(data.nominal_theta, [0.0, 1.0])
    pull = (data.X[5000:, 0] - theta[:, 0]) / theta[:, 1]
    assert abs(pull.mean()) < N_SIGMA / np.sqrt(5000)
    assert abs(pull.std() - 1.0) < N_SIGMA / np.sqrt(2 * 5000)


def test_parametrized_fixed_target_theta_and_reweighting():
    n = 20_000
    data = make_parametrized_gaussian(
        n_samples=n, parameters=("mu", "sigma"), target_theta=(1.0, 1.25), random_state=2
    )
    np.testing.assert_array_equal(data.theta[n:], np.tile([1.0, 1.25], (n, 1)))
    target_x, target_sim = data.X[n:, 0], data.X_sim[n:, 0]
    assert abs(target_x.mean() - 1.0) < N_SIGMA * 1.25 / np.sqrt(n)
    assert abs(target_sim.std() - np.hypot(1.25, 0.5)) < N_SIGMA * 1.35 / np.sqrt(2 * n)
    # the exact weights at theta = (1, 1.25) morph the nominal source into the target
    source = data.X[:n, 0]
    w = data.weight_function(source, [1.0, 1.25])
    mean, mean_error = _weighted_mean_and_error(source, w)
    std, std_error = _weighted_std_and_error(source, w)
    assert abs(mean - 1.0) < N_SIGMA * mean_error
    assert abs(std - 1.25) < N_SIGMA * std_error
    # simulation level follows because the detector does not depend on theta
    sim_mean, sim_error = _weighted_mean_and_error(data.X_sim[:n, 0], w)
    assert abs(sim_mean - 1.0) < N_SIGMA * sim_error


def test_weight_function_equation_10():
    data = make_parametrized_gaussian(n_samples=10, random_state=0)
    rng = np.random.RandomState(0)
    x, mu = rng.normal(size=30), rng.uniform(-2, 2, size=30)
    expected = np.exp(((x - 0.0) ** 2 - (x - mu) ** 2) / 2)  # eq. (10), mu_0 = 0
    np.testing.assert_allclose(data.weight_function(x, mu[:, None]), expected, rtol=1e-12)
    # theta of shape (n_parameters,) broadcasts, a scalar too for one parameter
    np.testing.assert_allclose(
        data.weight_function(x, [0.7]), np.exp((x**2 - (x - 0.7) ** 2) / 2), rtol=1e-12
    )
    np.testing.assert_allclose(data.weight_function(x, 0.7), data.weight_function(x, [0.7]))


def test_weight_function_equation_11_against_pdf_ratio():
    data = make_parametrized_gaussian(
        n_samples=10, parameters=("mu", "sigma"), nominal_mu=0.3, nominal_sigma=0.8
    )
    rng = np.random.RandomState(1)
    x = rng.normal(size=40)
    theta = np.column_stack([rng.uniform(-2, 2, 40), rng.uniform(0.25, 4, 40)])
    brute = stats.norm.pdf(x, theta[:, 0], theta[:, 1]) / stats.norm.pdf(x, 0.3, 0.8)
    np.testing.assert_allclose(data.weight_function(x[:, None], theta), brute, rtol=1e-10)
    # the nominal point gives unit weights
    np.testing.assert_allclose(data.weight_function(x, [0.3, 0.8]), 1.0, rtol=1e-14)


def test_weight_function_mu_only_keeps_nominal_sigma():
    data = make_parametrized_gaussian(n_samples=10, nominal_sigma=2.0)
    x = np.linspace(-3, 3, 7)
    brute = stats.norm.pdf(x, 1.0, 2.0) / stats.norm.pdf(x, 0.0, 2.0)
    np.testing.assert_allclose(data.weight_function(x, [1.0]), brute, rtol=1e-12)


def test_parametrized_reproducible():
    kwargs = {"n_samples": 30, "parameters": ("mu", "sigma"), "random_state": 7}
    a, b = make_parametrized_gaussian(**kwargs), make_parametrized_gaussian(**kwargs)
    np.testing.assert_array_equal(a.X_sim, b.X_sim)
    np.testing.assert_array_equal(a.theta, b.theta)
    zero = make_parametrized_gaussian(n_samples=30, smearing=0.0, random_state=7)
    np.testing.assert_array_equal(zero.X_sim, zero.X)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"parameters": ("sigma",)}, ValueError, "parameters must be one of"),
        ({"parameters": ("mu", "width")}, ValueError, "parameters must be one of"),
        ({"parameters": "mu"}, TypeError, "parameters must be a tuple"),
        ({"mu_range": (1.0, 1.0)}, ValueError, "mu_range must have low < high"),
        ({"mu_range": (0.0, 1.0, 2.0)}, ValueError, "mu_range must be a pair"),
        ({"sigma_range": (-1.0, 2.0)}, ValueError, "sigma_range must be positive"),
        ({"sigma_range": (3.0, 2.0)}, ValueError, "sigma_range must have low < high"),
        ({"target_theta": (1.0, 1.0)}, ValueError, "target_theta must have length n_parameters=1"),
        (
            {"parameters": ("mu", "sigma"), "target_theta": (1.0, 0.0)},
            ValueError,
            "sigma must be positive",
        ),
        ({"smearing": -0.5}, ValueError, "smearing must be non-negative"),
        ({"nominal_sigma": 0.0}, ValueError, "nominal_sigma must be positive"),
    ],
)
def test_parametrized_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_parametrized_gaussian(n_samples=5, **kwargs)


def test_weight_function_errors():
    data = make_parametrized_gaussian(n_samples=5, parameters=("mu", "sigma"))
    x = np.zeros(3)
    with pytest.raises(ValueError, match="theta contains NaN"):
        data.weight_function(data.X, data.theta)  # source rows carry NaN theta
    with pytest.raises(ValueError, match=r"theta must have shape \(2,\) or \(3, 2\)"):
        data.weight_function(x, np.ones((4, 2)))
    with pytest.raises(ValueError, match="sigma must be positive"):
        data.weight_function(x, [0.0, -1.0])
    with pytest.raises(ValueError, match="X has 2 features, expected 1"):
        data.weight_function(np.zeros((3, 2)), [0.0, 1.0])


# ---------------------------------------------------------------------------- conditional makers
def test_conditional_gaussians_exact_weights_reproduce_the_target_response():
    data = make_conditional_gaussians(200_000, random_state=0)
    source, target = data.X[data.y == 0], data.X[data.y == 1]
    w = data.exact_weights[data.y == 0]
    residual = source[:, 0] - source[:, 1]
    se = np.sqrt(np.mean(w**2) / len(w))
    assert abs(np.mean(w) - 1.0) < N_SIGMA * se
    # w * d spreads 1.75 times as much as w; the width's standard error is 0.005 here
    assert abs(np.mean(w * residual) - 0.2) < N_SIGMA * 1.75 * se
    assert abs(np.sqrt(np.mean(w * residual**2) - 0.04) - 1.2) < N_SIGMA * 0.0052
    # the truth spectrum is not moved by the conditional weight, the target's is different
    assert abs(np.average(source[:, 1], weights=w)) < 0.01
    assert np.mean(target[:, 1]) == pytest.approx(1.0, abs=0.01)
    # the weight depends on x - x' only
    shifted = source[:5] + 3.0
    np.testing.assert_allclose(data.weight_function(shifted), w[:5])


def test_conditional_gaussians_hole_is_a_truncated_normal():
    data = make_conditional_gaussians(50_000, source_hole=(-0.5, 0.5), random_state=0)
    truth = data.X[data.y == 0, 1]
    assert truth.size == 50_000
    assert not np.any(np.abs(truth) < 0.5)
    mass = stats.norm.cdf(0.5) - stats.norm.cdf(-0.5)

    def truncated_cdf(t):
        cdf = stats.norm.cdf(t)
        return np.where(t < -0.5, cdf, np.where(t < 0.5, stats.norm.cdf(-0.5), cdf - mass)) / (
            1 - mass
        )

    assert stats.kstest(truth, truncated_cdf).pvalue > 0.01
    # the target keeps its full spectrum, the hole included
    assert np.any(np.abs(data.X[data.y == 1, 1]) < 0.5)
    with pytest.raises(ValueError, match="source_hole"):
        make_conditional_gaussians(10, source_hole=(0.5, -0.5))


def test_conditional_response_at_an_unseen_truth_value():
    data = make_conditional_response(200_000, truth_values=[150.0], random_state=0)
    source = data.X[data.y == 0]
    response = source[:, 0] / source[:, 1]
    w = data.exact_weights[data.y == 0]
    assert np.mean(w) == pytest.approx(1.0, abs=0.01)
    assert np.average(response, weights=w) == pytest.approx(1.02, abs=0.001)
    sd = np.sqrt(np.average((response - 1.02) ** 2, weights=w))
    assert sd == pytest.approx(1.2 / np.sqrt(150.0), rel=0.01)
    assert np.std(response) == pytest.approx(1.0 / np.sqrt(150.0), rel=0.01)
    training = make_conditional_response(1000, random_state=0)
    assert set(np.unique(training.X[:, 1])) == {100.0, 200.0}
    with pytest.raises(ValueError, match="truth_values"):
        make_conditional_response(10, truth_values=[-1.0])


# ---------------------------------------------------------------- calibration problems
def _numerical_argmax(log_likelihood, x, lo, hi):
    """argmax_z and (-d2/dz2)^(-1/2) of a 1-D log-likelihood by scipy, one x at a time."""
    from scipy.optimize import minimize_scalar

    peaks, widths = [], []
    for xi in x:
        res = minimize_scalar(
            lambda z, xi=xi: -log_likelihood(xi, z), bounds=(lo, hi), method="bounded"
        )
        h = 1e-3
        f = [log_likelihood(xi, res.x + d) for d in (-h, 0.0, h)]
        peaks.append(res.x)
        widths.append(1 / np.sqrt(-(f[0] - 2 * f[1] + f[2]) / h**2))
    return np.array(peaks), np.array(widths)


def test_gaussian_smearing_analytic_answers():
    data = make_gaussian_smearing(400_000, mu=0.3, sigma=1.5, epsilon=1.0, random_state=0)
    x, z = data.X[:, 0], data.z
    slope, intercept = np.polyfit(x, z, 1)  # E[z|x] is linear here: the MSE answer
    grid = np.array([-2.0, 0.0, 2.0])
    np.testing.assert_allclose(slope * grid + intercept, data.mse_calibration(grid), atol=0.01)
    assert np.std(z - (slope * x + intercept)) == pytest.approx(data.mse_resolution, rel=0.01)
    in_bin = np.abs(z - 1.5) < 0.05
    assert np.mean(data.mse_calibration(x[in_bin]) - z[in_bin]) == pytest.approx(
        float(data.mse_bias([1.5])[0]), abs=0.02
    )
    np.testing.assert_array_equal(data.ml_calibration(grid), grid)


def test_gaussian_smearing_with_width_slope_matches_a_numerical_maximum():
    data = make_gaussian_smearing(10, offset=0.5, width_slope=0.2, epsilon=1.0, random_state=0)

    def log_likelihood(x, z):
        s = 1.0 + 0.2 * abs(z)
        return -np.log(s) - 0.5 * ((x - z - 0.5) / s) ** 2

    x = np.array([-2.5, -1.0, 2.0, 3.5])
    peaks, widths = _numerical_argmax(log_likelihood, x, -10, 10)
    np.testing.assert_allclose(data.ml_calibration(x), peaks, atol=1e-4)
    np.testing.assert_allclose(data.ml_resolution(x), widths, rtol=1e-3)
    assert data.mse_calibration is None
    # the maximum is pulled towards z = 0, not x - offset
    assert np.all(np.abs(data.ml_calibration(x)) < np.abs(x - 0.5) - 0.2)


def test_dijet_calibration_analytic_answers():
    data = make_dijet_calibration(200_000, process="bsm", random_state=0)

    def log_likelihood(x, z):
        return -np.log(0.04 * z) - 0.5 * ((x - 0.95 * z) / (0.04 * z)) ** 2

    x = np.array([2400.0, 2660.0, 2900.0])
    peaks, widths = _numerical_argmax(log_likelihood, x, 1000, 5000)
    np.testing.assert_allclose(data.ml_calibration(x), peaks, rtol=1e-5)
    np.testing.assert_allclose(data.ml_resolution(x), widths, rtol=1e-3)
    ratio = data.ml_calibration(data.X) / data.z
    assert np.mean(ratio) == pytest.approx(data.ml_ratio, abs=3e-4)
    qcd = make_dijet_calibration(100_000, random_state=1)
    assert qcd.z.min() >= 2000.0
    # p(z) ~ z^-6 above 2 TeV: P(z > 4 TeV) = 2^-5
    assert np.mean(qcd.z > 4000.0) == pytest.approx(2.0**-5, abs=0.002)


def test_correlated_smearing_and_auxiliary_response():
    data = make_correlated_smearing(300_000, random_state=0)
    np.testing.assert_allclose(np.cov((data.X - data.z).T), data.smearing_cov, atol=0.01)
    regression = np.linalg.lstsq(
        np.column_stack([data.X, np.ones(len(data.X))]), data.z, rcond=None
    )[0]
    probe = np.array([[1.0, -0.5]])
    np.testing.assert_allclose(
        np.column_stack([probe, [[1.0]]]) @ regression, data.mse_calibration(probe), atol=0.01
    )
    aux = make_auxiliary_response(200_000, random_state=0)
    residual = aux.ml_calibration(aux.X) - aux.z
    assert np.std(residual / aux.ml_resolution(aux.X)) == pytest.approx(1.0, abs=0.01)
    with pytest.raises(ValueError, match="positive definite"):
        make_correlated_smearing(10, smearing_cov=((1.0, 2.0), (2.0, 1.0)))
    with pytest.raises(ValueError, match="process"):
        make_dijet_calibration(10, process="ttbar")


# ------------------------------------------------------------------------ transport problems
def test_gaussian_transport_map_pushes_the_simulation_onto_the_data():
    data = make_gaussian_transport(200_000, random_state=0)
    A = data.matrix
    np.testing.assert_allclose(A, A.T)
    assert np.linalg.eigvalsh(A).min() > 0  # the gradient of a convex potential
    np.testing.assert_allclose(A @ data.cov_sim @ A, data.cov_data, atol=1e-12)
    moved = data.transport_map(data.X[data.y == 0])
    np.testing.assert_allclose(moved.mean(0), data.mean_data, atol=0.01)
    np.testing.assert_allclose(np.cov(moved.T), data.cov_data, atol=0.01)
    sim = data.X[data.y == 0]
    assert np.mean(np.sum((moved - sim) ** 2, axis=1)) == pytest.approx(data.w2_squared, rel=0.01)
    np.testing.assert_allclose(data.inverse_map(moved), sim, atol=1e-10)
    # among linear maps onto the data, the optimal one moves events the least: a rotated square
    # root of D S^-1 (also mapping S onto D) costs more
    R = np.array([[0.0, -1.0], [1.0, 0.0]])
    other = np.linalg.cholesky(data.cov_data) @ R @ np.linalg.inv(np.linalg.cholesky(data.cov_sim))
    np.testing.assert_allclose(other @ data.cov_sim @ other.T, data.cov_data, atol=1e-12)
    other_moved = data.mean_data + (sim - data.mean_sim) @ other.T
    assert np.mean(np.sum((other_moved - sim) ** 2, axis=1)) > data.w2_squared + 0.1


def test_gaussian_transport_map_in_one_dimension_is_eq_42():
    A, w2 = gaussian_transport_map([1.0], [[4.0]], [-1.0], [[0.25]])
    assert A[0, 0] == pytest.approx(0.25)
    assert w2 == pytest.approx(4.0 + 1.5**2)
    with pytest.raises(ValueError, match="positive definite"):
        gaussian_transport_map([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]], [0.0, 0.0], np.eye(2))


def test_smearing_mismodeling_eq_44():
    data = make_smearing_mismodeling(200_000, mu=2.0, epsilon_sim=0.5, epsilon_data=1.0)
    assert data.alpha == pytest.approx(np.sqrt(2.0 / 1.25))
    moved = data.transport_map(data.X[data.y == 0, 0])
    target = data.X[data.y == 1, 0]
    assert moved.mean() == pytest.approx(target.mean(), abs=0.01)
    assert moved.std() == pytest.approx(target.std(), abs=0.01)
    # the map of mu = 0 (eq. 43) leaves mu (alpha - 1) on this sample
    residual = data.alpha * data.X[data.y == 0, 0].mean() - target.mean()
    assert residual == pytest.approx(2.0 * (data.alpha - 1.0), abs=0.01)


def test_conditional_discriminant_map_closes_in_bins_of_pt():
    data = make_conditional_discriminant(100_000, random_state=0)
    sim, target = data.X[data.y == 0], data.X[data.y == 1]
    moved = data.transport_map(sim)
    np.testing.assert_array_equal(moved[:, 1], sim[:, 1])
    for low, high in [(30, 40), (60, 90), (150, 400)]:
        s = (sim[:, 1] >= low) & (sim[:, 1] < high)
        t = (target[:, 1] >= low) & (target[:, 1] < high)
        assert moved[s, 0].mean() == pytest.approx(target[t, 0].mean(), abs=0.004)
        assert moved[s, 0].std() == pytest.approx(target[t, 0].std(), abs=0.004)
