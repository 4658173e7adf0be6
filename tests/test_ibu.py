"""Iterative Bayesian unfolding and the response matrix (skhep_reweight.unfold._ibu)."""

from fractions import Fraction

import numpy as np
import pytest
from scipy.stats import norm

from skhep_reweight.datasets import gaussian_omnifold_moments, make_gaussian_unfolding
from skhep_reweight.unfold import iterative_bayesian_unfolding, response_matrix

# A 3x3 response with efficiencies 0.9, 0.8, 0.6 (column sums) and off-diagonal migrations.
RESPONSE_3 = np.array(
    [
        [0.70, 0.15, 0.00],
        [0.15, 0.55, 0.10],
        [0.05, 0.10, 0.50],
    ]
)


def _ibu_by_hand(data, response, fakes, prior, n_iterations):
    """D'Agostini's update written out with loops in exact rational arithmetic: Bayes' theorem
    P(i | j) = R_ji t_i / (sum_k R_jk t_k + f_j), then t_i = sum_j P(i | j) d_j / eps_i."""
    F = Fraction
    d = [F(x) for x in data]
    R = [[F(x) for x in row] for row in response]
    f = [F(x) for x in fakes]
    t = [F(x) for x in prior]
    n_reco, n_truth = len(R), len(R[0])
    eff = [sum(R[j][i] for j in range(n_reco)) for i in range(n_truth)]
    scale = (sum(d) - sum(f)) / sum(R[j][i] * t[i] for j in range(n_reco) for i in range(n_truth))
    t = [x * scale for x in t]
    history = [t]
    for _ in range(n_iterations):
        folded = [sum(R[j][k] * t[k] for k in range(n_truth)) + f[j] for j in range(n_reco)]
        t = [
            sum(R[j][i] * t[i] / folded[j] * d[j] for j in range(n_reco)) / eff[i]
            for i in range(n_truth)
        ]
        history.append(t)
    return np.array([[float(x) for x in row] for row in history])


@pytest.mark.parametrize(
    ("data", "response", "fakes", "prior"),
    [
        ([90, 60], [[0.8, 0.1], [0.1, 0.7]], [0, 0], [1, 1]),
        ([90, 60], [["0.6", "0.3"], ["0.2", "0.5"]], [5, 12], [3, 1]),
        ([400, 350, 200], RESPONSE_3.astype(str), [10, 0, 30], [100, 300, 200]),
    ],
)
def test_update_matches_the_formula_written_out(data, response, fakes, prior):
    # Checked against: the 1/eps_i factor left out, the response transposed, fakes subtracted
    # from d_j instead of added to the folded prediction, fakes ignored, the prior not rescaled
    # to the data's total: each fails.
    expected = _ibu_by_hand(data, response, fakes, prior, n_iterations=3)
    got = iterative_bayesian_unfolding(
        np.asarray(data, float),
        np.asarray(response, float),
        prior=np.asarray(prior, float),
        fakes=np.asarray(fakes, float),
        n_iterations=3,
        return_iterations=True,
    )
    assert got.shape == (4, len(prior))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_diagonal_response_gives_data_over_efficiency_after_one_iteration():
    # Checked against: the update without 1/eps_i (returns the data itself).
    eff = np.array([0.9, 0.5, 0.25, 0.7])
    data = np.array([120.0, 40.0, 31.0, 7.0])
    for prior in (None, np.array([1.0, 5.0, 2.0, 0.1])):
        unfolded = iterative_bayesian_unfolding(data, np.diag(eff), prior=prior, n_iterations=1)
        np.testing.assert_allclose(unfolded, data / eff, rtol=1e-13)


@pytest.mark.parametrize("with_fakes", [False, True])
def test_converged_ibu_reaches_the_matrix_inversion(with_fakes):
    # With an invertible response and a positive solution the fixed point is R^-1 (d - f).
    # Checked against: fakes ignored, fakes counted twice in the folded prediction, the
    # efficiency left out, the response transposed.
    truth = np.array([1000.0, 700.0, 300.0])
    fakes = np.array([50.0, 20.0, 80.0]) if with_fakes else np.zeros(3)
    noise = np.array([13.0, -21.0, 9.0])  # the data are not exactly R t: inversion still holds
    data = RESPONSE_3 @ truth + fakes + noise
    unfolded = iterative_bayesian_unfolding(
        data, RESPONSE_3, fakes=fakes if with_fakes else None, n_iterations=3000
    )
    np.testing.assert_allclose(unfolded, np.linalg.solve(RESPONSE_3, data - fakes), rtol=1e-8)


def test_migration_matrix_with_efficiency_equals_full_response():
    eff = RESPONSE_3.sum(axis=0)
    data = np.array([400.0, 350.0, 200.0])
    full = iterative_bayesian_unfolding(data, RESPONSE_3, n_iterations=5)
    split = iterative_bayesian_unfolding(data, RESPONSE_3 / eff, efficiency=eff, n_iterations=5)
    np.testing.assert_allclose(split, full, rtol=1e-13)


def test_prior_scale_and_zero_iterations():
    data = np.array([400.0, 350.0, 200.0])
    prior = np.array([1.0, 2.0, 3.0])
    scaled_prior = iterative_bayesian_unfolding(data, RESPONSE_3, prior=prior, n_iterations=0)
    # iteration 0: the prior, scaled so that it folds to the data's total
    np.testing.assert_allclose((RESPONSE_3 @ scaled_prior).sum(), data.sum(), rtol=1e-13)
    np.testing.assert_allclose(scaled_prior / prior, scaled_prior[0] / prior[0], rtol=1e-13)
    a = iterative_bayesian_unfolding(data, RESPONSE_3, prior=prior, n_iterations=3)
    b = iterative_bayesian_unfolding(data, RESPONSE_3, prior=1e4 * prior, n_iterations=3)
    np.testing.assert_allclose(a, b, rtol=1e-13)


def test_covariance_is_the_exact_jacobian_propagation():
    # J = dt/dd by central finite differences; V = J diag(var) J^T. Checked against: the
    # one-step (D'Agostini 1995) propagation that ignores the dependence of t^(n-1) on the data
    # (errors 35-50 % too small at 4 iterations), and the prior's scale left out of J.
    data = np.array([400.0, 350.0, 200.0])
    fakes = np.array([10.0, 0.0, 30.0])
    prior = np.array([100.0, 300.0, 200.0])
    variance = np.array([400.0, 350.0, 200.0])
    kwargs = {"prior": prior, "fakes": fakes, "n_iterations": 4}
    _, cov = iterative_bayesian_unfolding(data, RESPONSE_3, data_variance=variance, **kwargs)
    h = 1e-4
    J = np.column_stack(
        [
            (
                iterative_bayesian_unfolding(data + h * e, RESPONSE_3, **kwargs)
                - iterative_bayesian_unfolding(data - h * e, RESPONSE_3, **kwargs)
            )
            / (2 * h)
            for e in np.eye(3)
        ]
    )
    np.testing.assert_allclose(cov, (J * variance) @ J.T, rtol=1e-6, atol=1e-9)
    unfolded, covs = iterative_bayesian_unfolding(
        data, RESPONSE_3, data_variance=variance, return_iterations=True, **kwargs
    )
    assert unfolded.shape == (5, 3)
    assert covs.shape == (5, 3, 3)
    np.testing.assert_allclose(covs[-1], cov, rtol=1e-13)


def test_covariance_matches_poisson_toys():
    # The linearized covariance against the spread of 3000 Poisson toys of the data (the
    # standard deviation of a standard deviation from 3000 toys is 1.3 %).
    rng = np.random.default_rng(0)
    expected = RESPONSE_3 @ np.array([2000.0, 1500.0, 800.0])
    _, cov = iterative_bayesian_unfolding(expected, RESPONSE_3, data_variance=expected)
    toys = np.array(
        [iterative_bayesian_unfolding(rng.poisson(expected), RESPONSE_3) for _ in range(3000)]
    )
    np.testing.assert_allclose(toys.std(axis=0), np.sqrt(np.diag(cov)), rtol=0.06)
    np.testing.assert_allclose(
        np.corrcoef(toys.T), cov / np.sqrt(np.outer(*[np.diag(cov)] * 2)), atol=0.05
    )


def test_fine_bins_follow_the_gaussian_omnifold_iterations():
    # OmniFold with a perfect classifier is IBU on infinitely fine bins: on 0.05-wide bins with
    # the exact Gaussian response IBU's unfolded mean and width follow the closed form of
    # gaussian_omnifold_moments to O(bin width^2). The closed form that forgets to smear the
    # pulled weights differs by 0.01 in the first mean.
    edges = np.arange(-7.0, 7.025, 0.05)
    centers = 0.5 * (edges[1:] + edges[:-1])
    eps = 0.5
    response = norm.cdf((edges[1:, None] - centers) / eps) - norm.cdf(
        (edges[:-1, None] - centers) / eps
    )
    prior = np.diff(norm.cdf(edges, 0.0, 1.0))
    data = 1e6 * np.diff(norm.cdf(edges, 0.2, np.hypot(0.8, eps)))
    steps = iterative_bayesian_unfolding(
        data, response, prior=prior, n_iterations=4, return_iterations=True
    )[1:]
    mean = steps @ centers / steps.sum(axis=1)
    std = np.sqrt(steps @ centers**2 / steps.sum(axis=1) - mean**2)
    closed_mean, closed_std = gaussian_omnifold_moments(0.2, 0.8, 0.0, 1.0, eps, 4)
    np.testing.assert_allclose(mean, closed_mean, atol=2e-4)
    np.testing.assert_allclose(std, closed_std, atol=2e-4)


def test_efficiency_and_fakes_closure_on_events():
    # From events to IBU in two calls: an efficiency rising from 0.55 to 0.95 with the truth and
    # 15 % fakes, 4 iterations from the simulation's truth histogram, against the data's truth
    # histogram. The simulation has the data's truth shape, so that the response averaged over
    # a bin is the data's too (with another shape, 0.75-wide bins carry a binning bias of a few
    # sigma at this size: the prior dependence of any binned response). Checked against: fakes
    # left out (total +17 %, pulls 3-24), the efficiency left out (total -23 %, pulls down to -27);
    # the right implementation: |pull| <= 2.1 and the total within 0.3 % over six seeds.
    d = make_gaussian_unfolding(
        50_000,
        n_sim=1_000_000,
        truth_mean=(0.2, 0.2),
        truth_std=(0.8, 0.8),
        efficiency=lambda t: 0.55 + 0.4 * norm.cdf(t[:, 0]),
        fake_rate=0.15,
        random_state=0,
    )
    bins = np.arange(-3.0, 3.5, 0.75)
    R, eff, fakes_sim, prior = response_matrix(
        d.X_gen, d.X_sim, bins, bins, pass_reco=d.pass_reco, pass_gen=d.pass_gen
    )
    assert eff.min() < 0.6 < 0.85 < eff.max() < 0.95  # a real, truth-dependent inefficiency
    fakes = fakes_sim * len(d.X_data_truth) / d.pass_gen.sum()  # the data's fakes, expected
    data = np.histogram(d.X_data[:, 0], bins)[0].astype(float)
    unfolded, cov = iterative_bayesian_unfolding(
        data, R, prior=prior, fakes=fakes, n_iterations=4, data_variance=data
    )
    truth = np.histogram(d.X_data_truth[:, 0], bins)[0]
    pulls = (unfolded - truth) / np.sqrt(np.diag(cov) + truth)
    assert np.all(np.abs(pulls) < 3.5), pulls
    assert abs(unfolded.sum() / truth.sum() - 1) < 0.01


def test_response_matrix_against_histogram2d():
    rng = np.random.default_rng(3)
    n = 5000
    truth = rng.normal(0.0, 1.0, n)
    reco = truth + rng.normal(0.0, 0.4, n)
    weight = rng.uniform(-0.2, 2.0, n)  # negative generator weights allowed
    pass_reco = rng.uniform(size=n) < 0.8
    pass_gen = rng.uniform(size=n) < 0.9
    truth[~pass_gen] = np.nan  # placeholders of unused values are never read
    reco[~pass_reco] = np.nan
    t_bins, r_bins = np.linspace(-2.0, 2.0, 5), np.linspace(-2.5, 2.5, 7)
    R, eff, fakes, truth_hist = response_matrix(
        truth, reco, t_bins, r_bins, weight=weight, pass_reco=pass_reco, pass_gen=pass_gen
    )
    in_truth = pass_gen & (np.nan_to_num(truth, nan=99) >= -2) & (np.nan_to_num(truth) <= 2)
    matched = in_truth & pass_reco
    counts = np.histogram2d(
        reco[matched], truth[matched], [r_bins, t_bins], weights=weight[matched]
    )[0]
    expected_truth = np.histogram(truth[in_truth], t_bins, weights=weight[in_truth])[0]
    np.testing.assert_allclose(truth_hist, expected_truth, rtol=1e-12)
    np.testing.assert_allclose(R * expected_truth, counts, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(eff, counts.sum(axis=0) / expected_truth, rtol=1e-12)
    fake = pass_reco & ~in_truth  # no truth, or a truth outside the truth bins
    np.testing.assert_allclose(
        fakes, np.histogram(reco[fake], r_bins, weights=weight[fake])[0], rtol=1e-12
    )
    # and it is what the unfolding folds: R @ truth_hist + fakes is the reco histogram
    reco_hist = np.histogram(reco[pass_reco], r_bins, weights=weight[pass_reco])[0]
    np.testing.assert_allclose(R @ truth_hist + fakes, reco_hist, rtol=1e-10)


def test_data_no_cause_can_produce_warns():
    response = np.array([[0.9, 0.1], [0.1, 0.8], [0.0, 0.0]])
    with pytest.warns(UserWarning, match=r"reco bins \[2\]"):
        iterative_bayesian_unfolding(np.array([90.0, 60.0, 5.0]), response)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"data": [1.0, np.nan, 2.0]}, ValueError, "data contains NaN"),
        ({"data": [1.0, 2.0]}, ValueError, "response must be 2-D of shape"),
        (
            {"response": RESPONSE_3 / RESPONSE_3.sum(axis=1, keepdims=True)},
            ValueError,
            "sum to at most 1",
        ),
        ({"response": -RESPONSE_3}, ValueError, "non-negative"),
        ({"efficiency": [0.9, 0.8, 0.6]}, ValueError, "migration matrix"),
        ({"response": np.c_[RESPONSE_3, np.zeros(3)]}, ValueError, r"truth bins \[3\] have zero"),
        ({"fakes": [1.0, 2.0]}, ValueError, "fakes must have 3"),
        ({"fakes": [400.0, 400.0, 400.0]}, ValueError, "minus the fakes must be positive"),
        ({"prior": [0.0, 0.0, 0.0]}, ValueError, "prior must be non-negative"),
        ({"prior": [1.0, 2.0]}, ValueError, "prior must have 3"),
        ({"n_iterations": -1}, ValueError, "at least 0"),
        ({"n_iterations": 2.0}, TypeError, "n_iterations must be an integer"),
        ({"n_iterations": True}, TypeError, "n_iterations must be an integer"),
        ({"data_variance": [1.0, -1.0, 1.0]}, ValueError, "data_variance must be non-negative"),
    ],
)
def test_ibu_bad_input(kwargs, error, match):
    args = {"data": [400.0, 350.0, 200.0], "response": RESPONSE_3, **kwargs}
    data, response = args.pop("data"), args.pop("response")
    with pytest.raises(error, match=match):
        iterative_bayesian_unfolding(data, response, **args)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"reco": np.zeros(9)}, ValueError, "reco must have 10 entries"),
        ({"truth_bins": [0.0, 1.0, 0.5]}, ValueError, "strictly increasing"),
        ({"reco_bins": [0.0]}, ValueError, "at least two"),
        ({"pass_reco": np.ones(10, dtype=int)}, TypeError, "pass_reco must be a boolean"),
        ({"pass_gen": np.ones(9, dtype=bool)}, ValueError, r"pass_gen must have shape \(10,\)"),
        ({"weight": np.r_[np.ones(9), np.inf]}, ValueError, "weight contains NaN"),
        ({"truth": np.r_[np.zeros(9), np.nan]}, ValueError, "truth contains NaN .* pass_gen"),
        ({"reco": np.r_[np.zeros(9), np.nan]}, ValueError, "reco contains NaN .* pass_reco"),
    ],
)
def test_response_matrix_bad_input(kwargs, error, match):
    args = {
        "truth": np.zeros(10),
        "reco": np.zeros(10),
        "truth_bins": [-1.0, 0.0, 1.0],
        "reco_bins": [-1.0, 0.0, 1.0],
        **kwargs,
    }
    truth, reco = args.pop("truth"), args.pop("reco")
    t_bins, r_bins = args.pop("truth_bins"), args.pop("reco_bins")
    with pytest.raises(error, match=match):
        response_matrix(truth, reco, t_bins, r_bins, **args)
