"""The unfolding datasets and their analytic answers (skhep_reweight.datasets._unfolding)."""

import numpy as np
import pytest
from scipy.stats import norm

from skhep_reweight.datasets import (
    gaussian_omnifold_moments,
    gaussian_smeared_moments,
    make_correlated_unfolding,
    make_gaussian_unfolding,
)
from skhep_reweight.datasets._unfolding import (
    BACKGROUND_MEAN,
    BACKGROUND_STD,
    FAKE_MEAN,
    FAKE_STD,
)

# (mu_data, sigma_data, mu_sim, sigma_sim, smearing): the paper's example, and a data truth
# wider than the simulation's (alpha < 0 in the closed form) with a coarser detector. (A much
# wider data truth, sigma_data^2 > 2 sigma_sim^2, gives truth weights of infinite variance: no
# finite simulated sample checks that to 1e-3.)
CONFIGS = [(0.2, 0.8, 0.0, 1.0, 0.5), (-0.3, 1.1, 0.2, 1.0, 0.7)]
# Monte Carlo accuracy at 20k events, from four seeds: 3e-4 (first), 2.7e-3 (second; the
# weights of the data's wider tails are larger).
MC_TOLERANCE = [1e-3, 4e-3]


def _standard_sample(rng, n, mean, std):
    """n normal draws moved to exactly the given sample mean and width (less noise)."""
    z = rng.standard_normal(n)
    return mean + std * (z - z.mean()) / z.std()


def _weighted_moments(x, w):
    mean = np.average(x, weights=w)
    return mean, np.sqrt(np.average((x - mean) ** 2, weights=w))


def _omnifold_by_monte_carlo(t_sim, mu_data, sigma_data, smearing, n_iterations):
    """OmniFold's exact iteration on a sample of simulated truth values, from the definitions
    alone: the weighted simulation's detector-level density is the sum of the exact smearing
    kernels of its events; step 1 is the ratio of the data's to that density; step 2 with a
    perfect classifier is the average of that ratio over the smearing at fixed truth; the new
    truth weights are the old ones times it. Densities live on a fine grid."""
    x = np.linspace(t_sim.min() - 6 * smearing, t_sim.max() + 6 * smearing, 801)
    kernel = norm.pdf(x, t_sim[:, None], smearing)  # (n_events, n_grid)
    data_density = norm.pdf(x, mu_data, np.hypot(sigma_data, smearing))
    nu = np.ones_like(t_sim)
    moments = []
    for _ in range(n_iterations):
        sim_density = nu @ kernel / nu.sum()
        pulled = kernel @ (data_density / sim_density) * (x[1] - x[0])
        nu = nu * pulled
        moments.append(_weighted_moments(t_sim, nu))
    return np.array(moments)


@pytest.mark.parametrize(("config", "tolerance"), list(zip(CONFIGS, MC_TOLERANCE, strict=True)))
def test_closed_form_iterations_match_a_monte_carlo_of_the_exact_iteration(config, tolerance):
    # The lead's closed form, verified: four iterations agree with the Monte Carlo. Checked
    # against: the closed form without the smearing of the pulled weights (alpha' = alpha,
    # beta' = beta) is off by 0.010/0.008 (mean/width of iteration 1) on the first
    # configuration and by 0.015 (mean) on the second.
    mu_d, sd_d, mu_s, sd_s, eps = config
    t_sim = _standard_sample(np.random.default_rng(0), 20_000, mu_s, sd_s)
    mc = _omnifold_by_monte_carlo(t_sim, mu_d, sd_d, eps, 4)
    mean, std = gaussian_omnifold_moments(mu_d, sd_d, mu_s, sd_s, eps, 4)
    np.testing.assert_allclose(mc[:, 0], mean, atol=tolerance)
    np.testing.assert_allclose(mc[:, 1], std, atol=tolerance)


def test_first_iteration_with_per_event_weights():
    # Literally: weight each simulated event's truth by the exact step-1 ratio at its own
    # detector-level value (the pull), 200k events. Deviations over five seeds: < 1.5e-3.
    rng = np.random.default_rng(1)
    t = _standard_sample(rng, 200_000, 0.0, 1.0)
    x = t + rng.normal(0.0, 0.5, t.size)
    ratio = norm.pdf(x, 0.2, np.hypot(0.8, 0.5)) / norm.pdf(x, 0.0, np.hypot(1.0, 0.5))
    mean, std = gaussian_omnifold_moments(0.2, 0.8, 0.0, 1.0, 0.5, 1)
    np.testing.assert_allclose(_weighted_moments(t, ratio), [mean[0], std[0]], atol=3e-3)


@pytest.mark.parametrize("config", CONFIGS)
def test_closed_form_converges_to_the_data_truth(config):
    mu_d, sd_d, mu_s, sd_s, eps = config
    mean, std = gaussian_omnifold_moments(mu_d, sd_d, mu_s, sd_s, eps, 12)
    distance = np.hypot(mean - mu_d, std - sd_d)
    assert np.all(np.diff(distance) < 0)  # every iteration moves closer
    assert distance[-1] < 1e-3 * distance[0]
    # a simulation equal to the data is the fixed point
    np.testing.assert_allclose(
        gaussian_omnifold_moments(mu_d, sd_d, mu_d, sd_d, eps, 3), [[mu_d] * 3, [sd_d] * 3]
    )


def test_gaussian_sample_moments():
    # Statistical tolerances of about 4 sigma at 200k events. Checked against: smearing used as
    # a variance (reco width 0.89 instead of 0.943), the data and simulation truths swapped.
    d = make_gaussian_unfolding(200_000, n_sim=300_000, random_state=0)
    assert d.X_data.shape == (200_000, 1)
    assert d.X_data_truth.shape == (200_000, 1)
    assert d.X_sim.shape == d.X_gen.shape == (300_000, 1)
    np.testing.assert_allclose(
        [d.X_data_truth.mean(), d.X_data_truth.std()], [0.2, 0.8], atol=0.008
    )
    np.testing.assert_allclose([d.X_gen.mean(), d.X_gen.std()], [0.0, 1.0], atol=0.008)
    np.testing.assert_allclose(
        [d.X_data.mean(), d.X_data.std()], gaussian_smeared_moments(0.2, 0.8, 0.5), atol=0.008
    )
    np.testing.assert_allclose(
        [d.X_sim.mean(), d.X_sim.std()], gaussian_smeared_moments(0.0, 1.0, 0.5), atol=0.008
    )
    assert abs(np.std(d.X_sim - d.X_gen) - 0.5) < 0.004
    np.testing.assert_array_equal(d.sample_weight, 1.0)
    assert np.all(d.pass_reco)
    assert np.all(d.pass_gen)
    assert np.all(d.data_component == "signal")
    # the exact truth ratio moves the simulation's truth onto the data's
    w = d.truth_weight_function(d.X_gen)
    np.testing.assert_allclose(_weighted_moments(d.X_gen[:, 0], w), [0.2, 0.8], atol=0.01)
    np.testing.assert_allclose(
        np.column_stack(d.omnifold_moments(3)).T,
        np.array(gaussian_omnifold_moments(0.2, 0.8, 0.0, 1.0, 0.5, 3)),
    )


def test_efficiency_fakes_and_background():
    eff = lambda t: norm.cdf(2.0 * t[:, 0] + 1.0)  # noqa: E731
    d = make_gaussian_unfolding(
        100_000, n_sim=150_000, efficiency=eff, fake_rate=0.1, background=0.3, random_state=2
    )
    n_fakes_sim = 15_000
    # simulation: truth events, then the fakes; NaN placeholders exactly where unused
    assert d.X_sim.shape == d.X_gen.shape == (150_000 + n_fakes_sim, 1)
    np.testing.assert_array_equal(np.isnan(d.X_sim[:, 0]), ~d.pass_reco)
    np.testing.assert_array_equal(np.isnan(d.X_gen[:, 0]), ~d.pass_gen)
    np.testing.assert_array_equal(d.pass_gen, np.r_[np.ones(150_000), np.zeros(n_fakes_sim)])
    assert np.all(d.pass_reco[~d.pass_gen])
    # efficiency: the reconstructed share equals E[eff(t)] (about 4 sigma of a binomial)
    gen = d.X_gen[d.pass_gen]
    expected = eff(gen).mean()
    assert abs(d.pass_reco[d.pass_gen].mean() - expected) < 4 * np.sqrt(0.25 / 150_000)
    low = gen[:, 0] < -0.5
    assert abs(d.pass_reco[d.pass_gen][low].mean() - eff(gen[low]).mean()) < 0.01
    fakes = d.X_sim[~d.pass_gen, 0]
    np.testing.assert_allclose([fakes.mean(), fakes.std()], [FAKE_MEAN, FAKE_STD], atol=0.05)
    # data: reconstructed signal, fakes, background (+1), subtraction sample (-1)
    counts = {k: int(np.sum(d.data_component == k)) for k in np.unique(d.data_component)}
    assert counts == {
        "signal": int(d.data_truth_pass_reco.sum()),
        "fake": 10_000,
        "background": 30_000,
        "subtraction": 30_000,
    }
    assert d.n_fakes_data == 10_000
    np.testing.assert_array_equal(
        d.sample_weight, np.where(d.data_component == "subtraction", -1, 1)
    )
    signal = d.X_data[d.data_component == "signal", 0]
    residual = signal - d.X_data_truth[d.data_truth_pass_reco, 0]
    assert abs(residual.std() - 0.5) < 0.01  # the signal rows are the truth rows, smeared
    bkg = d.X_data[d.data_component == "background", 0]
    np.testing.assert_allclose(
        [bkg.mean(), bkg.std()], [BACKGROUND_MEAN, BACKGROUND_STD], atol=0.03
    )
    # the weighted data are signal + fakes: the background cancels in every bin (Poisson noise
    # of the 60k background rows, 4 sigma), while leaving it in would add up to 3000 per bin
    bins = np.linspace(-4.0, 4.0, 17)
    weighted = np.histogram(d.X_data[:, 0], bins, weights=d.sample_weight)[0]
    wanted = np.histogram(d.X_data[np.isin(d.data_component, ["signal", "fake"]), 0], bins)[0]
    background_rows = np.histogram(np.r_[bkg, d.X_data[d.sample_weight < 0, 0]], bins)[0]
    assert np.all(np.abs(weighted - wanted) < 4 * np.sqrt(background_rows + 1))


def test_constant_efficiency():
    d = make_gaussian_unfolding(50_000, efficiency=0.7, random_state=3)
    assert abs(d.pass_reco.mean() - 0.7) < 0.01
    assert abs(d.data_truth_pass_reco.mean() - 0.7) < 0.01
    assert d.X_data.shape[0] == d.data_truth_pass_reco.sum()
    np.testing.assert_array_equal(d.efficiency(np.zeros((3, 1))), [0.7] * 3)


def test_correlated_unfolding_moments():
    # Checked against: the covariance built from the width instead of the variance, the
    # detector-level correlation quoted at truth level (0.6 instead of 0.431).
    d = make_correlated_unfolding(100_000, n_features=3, random_state=4)
    assert d.X_data.shape == d.X_data_truth.shape == d.X_sim.shape == (100_000, 3)
    truth_corr = np.corrcoef(d.X_data_truth.T)[np.triu_indices(3, 1)]
    gen_corr = np.corrcoef(d.X_gen.T)[np.triu_indices(3, 1)]
    reco_corr = np.corrcoef(d.X_data.T)[np.triu_indices(3, 1)]
    np.testing.assert_allclose(truth_corr, 0.6, atol=0.01)
    np.testing.assert_allclose(gen_corr, 0.0, atol=0.015)
    np.testing.assert_allclose(reco_corr, 0.6 * 0.64 / 0.89, atol=0.01)
    np.testing.assert_allclose(d.reco_correlation, (0.6 * 0.64 / 0.89, 0.0))
    np.testing.assert_allclose(d.X_data_truth.std(axis=0), 0.8, atol=0.01)
    np.testing.assert_allclose(d.X_data_truth.mean(axis=0), 0.2, atol=0.01)
    np.testing.assert_allclose(np.std(d.X_sim - d.X_gen, axis=0), 0.5, atol=0.005)
    np.testing.assert_allclose(d.truth_cov[0], 0.64 * (0.4 * np.eye(3) + 0.6))
    # the exact truth ratio gives the simulation the data's correlation
    w = d.truth_weight_function(d.X_gen)
    cov = np.cov(d.X_gen.T, aweights=w)
    corr = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    assert abs(corr - 0.6) < 0.02


@pytest.mark.parametrize("maker", [make_gaussian_unfolding, make_correlated_unfolding])
def test_seeds(maker):
    a = maker(1000, random_state=7)
    b = maker(1000, random_state=np.random.RandomState(7))
    c = maker(1000, random_state=8)
    for key in ("X_data", "X_data_truth", "X_sim", "X_gen"):
        np.testing.assert_array_equal(a[key], b[key])
        assert not np.allclose(a[key], c[key])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 0}, ValueError, "n_samples must be at least 1"),
        ({"n_sim": 2.5}, TypeError, "n_sim must be an integer"),
        ({"truth_mean": (0.1, 0.2, 0.3)}, ValueError, "truth_mean must be a pair"),
        ({"truth_std": (0.8, -1.0)}, ValueError, r"truth_std\[1\] must be positive"),
        ({"smearing": 0.0}, ValueError, "smearing must be positive"),
        ({"efficiency": 1.5}, ValueError, r"efficiency must lie in \(0, 1\]"),
        ({"efficiency": lambda t: 2 * np.ones(len(t))}, ValueError, "one probability in"),
        ({"fake_rate": -0.1}, ValueError, "fake_rate must be non-negative"),
        ({"background": np.nan}, ValueError, "background must be finite"),
    ],
)
def test_gaussian_unfolding_bad_input(kwargs, error, match):
    args = {"n_samples": 100, **kwargs}
    with pytest.raises(error, match=match):
        make_gaussian_unfolding(**args)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_features": 1}, "n_features must be at least 2"),
        ({"correlation": (1.0, 0.0)}, r"correlation\[0\] must lie in"),
        (
            {"n_features": 3, "correlation": (0.6, -0.6)},
            r"correlation\[1\] must lie in \(-0.5, 1\)",
        ),
    ],
)
def test_correlated_unfolding_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_correlated_unfolding(100, **kwargs)


def test_moments_bad_input():
    with pytest.raises(ValueError, match="n_iterations must be at least 1"):
        gaussian_omnifold_moments(0.2, 0.8, 0.0, 1.0, 0.5, 0)
    with pytest.raises(ValueError, match="sigma_sim must be positive"):
        gaussian_omnifold_moments(0.2, 0.8, 0.0, 0.0, 0.5, 2)
