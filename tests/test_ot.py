"""OTCalibrator against the exact transport maps of "Bias and Priors" (eqs. 17, 42-44), the
closed-form Gaussian map in several dimensions, and a conditional (pT-dependent) mismodelling."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skhep_reweight import OTCalibrator
from skhep_reweight.calibrate._exact_transport import QuantileMap, weighted_quantile_knots
from skhep_reweight.datasets import (
    make_conditional_discriminant,
    make_gaussian_transport,
    make_smearing_mismodeling,
)


def _gaussians_1d(n, mu_s, sd_s, mu_d, sd_d, seed):
    rng = np.random.RandomState(seed)
    X = np.concatenate([rng.normal(mu_s, sd_s, n), rng.normal(mu_d, sd_d, n)])[:, None]
    return X, np.repeat([0, 1], n)


# ------------------------------------------------------------------------------ quantile map
def test_quantile_map_is_eq_42_between_gaussians():
    X, y = _gaussians_1d(40_000, 0.0, 1.0, 1.0, 2.0, seed=0)
    cal = OTCalibrator().fit(X, y)
    assert cal.method_ == "quantile"
    grid = np.linspace(-2.0, 2.0, 41)[:, None]
    # eq. 42: h(x) = (x - mu_s) / sd_s * sd_d + mu_d = 1 + 2x; the inverse map (x - 1) / 2 or a
    # shift-only map 1 + x miss by more than 0.5 at |x| = 2
    np.testing.assert_allclose(cal.transform(grid)[:, 0], 1.0 + 2.0 * grid[:, 0], atol=0.07)
    np.testing.assert_allclose(cal.inverse_transform(1.0 + 2.0 * grid)[:, 0], grid[:, 0], atol=0.04)
    # the cost is W2^2 = (mu_d - mu_s)^2 + (sd_d - sd_s)^2 = 2 between two normals
    assert cal.transport_cost_ == pytest.approx(2.0, rel=0.03)


def test_quantile_map_matches_sorted_samples_and_inverts_exactly():
    X, y = _gaussians_1d(500, 0.0, 1.0, 3.0, 0.5, seed=1)
    cal = OTCalibrator(method="quantile").fit(X, y)
    moved = cal.transform(X[y == 0])[:, 0]
    # equal counts, equal weights: the i-th smallest simulated event lands on the i-th data event
    np.testing.assert_allclose(np.sort(moved), np.sort(X[y == 1, 0]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(cal.inverse_transform(cal.transform(X))[:, 0], X[:, 0], atol=1e-12)
    assert np.all(np.diff(cal.transform(np.sort(X[:, 0])[:, None])[:, 0]) > 0)


def test_quantile_weights_equal_repeated_events():
    rng = np.random.RandomState(2)
    X, y = _gaussians_1d(300, 0.0, 1.0, 0.5, 1.5, seed=2)
    counts = rng.randint(1, 4, size=len(y))
    weighted = OTCalibrator().fit(X, y, sample_weight=counts)
    repeated = OTCalibrator().fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    grid = np.linspace(-4, 4, 201)[:, None]
    np.testing.assert_allclose(weighted.transform(grid), repeated.transform(grid), atol=1e-12)
    # weights that change the distribution change the map: the unweighted fit differs
    assert np.abs(OTCalibrator().fit(X, y).transform(grid) - weighted.transform(grid)).max() > 0.05


def test_weights_reshape_the_simulation_before_the_map():
    # simulation drawn from N(0, 2^2) and weighted by N(0, 1) / N(0, 2^2) is N(0, 1): the map
    # onto N(1, 0.5^2) must then be eq. 42 with sd_s = 1, that is 1 + x / 2, not 1 + x / 4
    rng = np.random.RandomState(3)
    sim, data = rng.normal(0.0, 2.0, 60_000), rng.normal(1.0, 0.5, 30_000)
    w = np.concatenate([2.0 * np.exp(-0.5 * sim**2 + 0.125 * sim**2), np.ones(data.size)])
    X, y = np.concatenate([sim, data])[:, None], np.repeat([0, 1], [sim.size, data.size])
    cal = OTCalibrator().fit(X, y, sample_weight=w)
    grid = np.linspace(-1.5, 1.5, 13)[:, None]
    np.testing.assert_allclose(cal.transform(grid)[:, 0], 1.0 + 0.5 * grid[:, 0], atol=0.04)


def test_ties_merge_and_move_together():
    knots, levels = weighted_quantile_knots(np.array([1.0, 0.0, 1.0, 2.0]), np.ones(4))
    np.testing.assert_array_equal(knots, [0.0, 1.0, 2.0])
    np.testing.assert_allclose(levels, [0.125, 0.5, 0.875])  # mid-points of the CDF steps
    X = np.array([0, 0, 0, 1, 1, 5, 6, 7, 8, 9], dtype=float)[:, None]
    y = np.repeat([0, 1], 5)
    moved = OTCalibrator().fit(X, y).transform(X[:5])[:, 0]
    assert moved[0] == moved[1] == moved[2]
    assert moved[3] == moved[4]
    assert moved[0] < moved[3]


@pytest.mark.parametrize(
    ("policy", "below", "above"), [("shift", -1.0 + 10.0, 12.0 + 18.0), ("clip", 10.0, 20.0)]
)
def test_out_of_range_policies(policy, below, above):
    # simulation 0..2, data 10..20: the map is 10 + 5x on the fitted range, knots (0, 10), (2, 20)
    X = np.array([0.0, 1.0, 2.0, 10.0, 15.0, 20.0])[:, None]
    y = np.repeat([0, 1], 3)
    cal = OTCalibrator(out_of_range=policy).fit(X, y)
    np.testing.assert_allclose(cal.transform([[0.5], [-1.0], [12.0]])[:, 0], [12.5, below, above])
    if policy == "shift":
        np.testing.assert_allclose(cal.inverse_transform([[below], [above]])[:, 0], [-1.0, 12.0])


def test_out_of_range_raise():
    X = np.array([0.0, 1.0, 2.0, 10.0, 15.0, 20.0])[:, None]
    cal = OTCalibrator(out_of_range="raise").fit(X, np.repeat([0, 1], 3))
    cal.transform([[0.0], [2.0]])
    with pytest.raises(ValueError, match="outside the fitted range"):
        cal.transform([[2.5]])


def test_quantile_map_of_a_single_repeated_value_is_a_shift():
    fitted = QuantileMap().fit(np.ones(3), np.ones(3), np.full(2, 4.0), np.ones(2))
    np.testing.assert_allclose(fitted.transform(np.array([1.0, 2.0])), [4.0, 5.0])


# ----------------------------------------------------------------------- prior dependence
def test_prior_dependence_section_iv_b():
    kwargs = {"sigma": 1.0, "epsilon_sim": 0.5, "epsilon_data": 1.0}
    train = make_smearing_mismodeling(50_000, mu=0.0, random_state=0, **kwargs)
    test = make_smearing_mismodeling(50_000, mu=1.5, random_state=1, **kwargs)
    alpha = train.alpha
    assert alpha == pytest.approx(np.sqrt(2.0 / 1.25))
    h_train = OTCalibrator().fit(train.X, train.y)
    h_test = OTCalibrator().fit(test.X, test.y)
    # eq. 43 and eq. 44, within 1.5 standard deviations of each sample's mean (the shift
    # between the two maps is 0.4)
    grid = np.linspace(-1.6, 1.6, 15)[:, None]
    np.testing.assert_allclose(h_train.transform(grid)[:, 0], alpha * grid[:, 0], atol=0.03)
    grid = grid + 1.5
    expected_test = alpha * grid[:, 0] + 1.5 * (1.0 - alpha)
    np.testing.assert_allclose(h_test.transform(grid)[:, 0], expected_test, atol=0.03)
    # the training map applied to the test sample leaves mu_test (alpha - 1) = 0.397
    sim_test = test.X[test.y == 0]
    residual = h_train.transform(sim_test).mean() - test.X[test.y == 1].mean()
    assert residual == pytest.approx(1.5 * (alpha - 1.0), abs=0.03)
    closure = h_test.transform(sim_test).mean() - test.X[test.y == 1].mean()
    assert abs(closure) < 0.01


# ------------------------------------------------------------------- several dimensions
def _median_error(cal, data, n_test=3000):
    test = make_gaussian_transport(n_test, random_state=99)
    xs = test.X[test.y == 0]
    moved = cal.transform(xs)
    return float(np.median(np.linalg.norm(moved - data.transport_map(xs), axis=1)))


def test_discrete_map_matches_the_closed_form():
    pytest.importorskip("ot")
    data = make_gaussian_transport(1500, random_state=0)
    cal = OTCalibrator().fit(data.X, data.y)
    assert cal.method_ == "discrete"
    # measured 0.082; an identity or a shift-only map is 0.5-0.8 away
    assert _median_error(cal, data) < 0.12
    assert cal.transport_cost_ == pytest.approx(data.w2_squared, rel=0.1)
    back = cal.inverse_transform(data.transport_map(data.X[:1500]))
    assert np.median(np.linalg.norm(back - data.X[:1500], axis=1)) < 0.12


def test_discrete_equal_samples_give_a_permutation():
    pytest.importorskip("ot")
    data = make_gaussian_transport(200, random_state=1)
    cal = OTCalibrator(method="discrete").fit(data.X, data.y)
    moved = cal.transform(data.X[:200])
    order = np.lexsort(moved.T[::-1])
    target = data.X[200:][np.lexsort(data.X[200:].T[::-1])]
    np.testing.assert_allclose(moved[order], target, atol=1e-9)


@pytest.fixture(scope="module")
def neural_gaussian():
    data = make_gaussian_transport(2000, random_state=0)
    cal = OTCalibrator(method="neural", max_epochs=60, random_state=0, device="cpu")
    return data, cal.fit(data.X, data.y)


def test_neural_map_matches_the_closed_form(neural_gaussian):
    data, cal = neural_gaussian
    # measured 0.038; sampling floor (the Gaussian map from the sample moments) about 0.03,
    # identity 0.8, shift 0.5
    assert _median_error(cal, data) < 0.07
    assert cal.transport_cost_ == pytest.approx(data.w2_squared, rel=0.1)


def test_neural_map_is_the_gradient_of_a_convex_potential(neural_gaussian):
    _, cal = neural_gaussian
    potentials = cal.net_.module_
    for player in (potentials.f, potentials.g):
        convex = player["potential"]
        for layer in [*convex.z_layers, convex.z_out]:
            assert (layer.weight >= 0).all()
    # the Jacobian of the map is the Hessian of f: symmetric, positive definite (central
    # differences of the float32 map)
    x = np.random.RandomState(0).normal(size=(50, 2))
    step = 1e-2
    columns = [
        (cal.transform(x + step * e) - cal.transform(x - step * e)) / (2 * step) for e in np.eye(2)
    ]
    jac = np.stack(columns, axis=2)  # jac[n, i, j] = d T_i / d x_j
    np.testing.assert_allclose(jac, jac.transpose(0, 2, 1), atol=5e-3)
    assert np.linalg.eigvalsh(0.5 * (jac + jac.transpose(0, 2, 1))).min() > 0


def test_neural_inverse_is_exact(neural_gaussian):
    data, cal = neural_gaussian
    X = data.X[:500]
    np.testing.assert_allclose(cal.inverse_transform(cal.transform(X)), X, atol=2e-3)


def test_neural_inverse_reports_failures(neural_gaussian, monkeypatch):
    from skhep_reweight._nn import transport

    _, cal = neural_gaussian
    monkeypatch.setattr(transport, "_NEWTON_TOLERANCE", 0.0)  # no row can converge
    with pytest.warns(ConvergenceWarning, match="did not converge for 2 of 2"):
        out = cal.inverse_transform([[0.0, 0.0], [1.0, -1.0]])
    assert np.isnan(out).all()


# -------------------------------------------------------------------------- conditioning
def _binned_moments(X, edges):
    cells = np.digitize(X[:, 1], edges[1:-1])
    return np.array([[X[cells == k, 0].mean(), X[cells == k, 0].std()] for k in range(4)])


def test_conditional_map_matches_data_in_bins_of_pt():
    data = make_conditional_discriminant(20_000, random_state=0)
    test = make_conditional_discriminant(20_000, random_state=1)
    sim, target = test.X[test.y == 0], test.X[test.y == 1]
    edges = np.quantile(test.X[:, 1], [0, 0.25, 0.5, 0.75, 1])
    want = _binned_moments(target, edges)
    conditional = OTCalibrator(conditional_features=1, n_condition_bins=8).fit(data.X, data.y)
    got = _binned_moments(conditional.transform(sim), edges)
    np.testing.assert_allclose(got, want, atol=0.006)
    # against the exact conditional map, event by event
    exact = test.transport_map(sim)[:, 0]
    assert np.median(np.abs(conditional.transform(sim)[:, 0] - exact)) < 0.012
    # one map for all pT closes the inclusive distribution but misses the bins by 0.02-0.05
    inclusive = OTCalibrator().fit(data.X[:, :1], data.y)
    moved = np.column_stack([inclusive.transform(sim[:, :1])[:, 0], sim[:, 1]])
    assert np.abs(_binned_moments(moved, edges) - want).max() > 0.02
    np.testing.assert_array_equal(conditional.transform(sim)[:, 1], sim[:, 1])


def test_neural_conditional_map():
    data = make_conditional_discriminant(1000, random_state=0)
    test = make_conditional_discriminant(2000, random_state=1)
    cal = OTCalibrator(
        method="neural", conditional_features=1, max_epochs=20, random_state=0, device="cpu"
    )
    cal.fit(data.X, data.y)
    sim = test.X[test.y == 0]
    error = np.abs(cal.transform(sim)[:, 0] - test.transport_map(sim)[:, 0])
    # measured 0.004 after 20 epochs (0.008 with random_state=1, 0.004 after 40); the map that
    # ignores pT is off by 0.030 (median), the identity by 0.026
    assert np.median(error) < 0.012
    np.testing.assert_allclose(
        cal.inverse_transform(cal.transform(sim[:200])), sim[:200], atol=2e-3
    )


def test_conditional_features_by_name_with_dataframe():
    pd = pytest.importorskip("pandas")
    data = make_conditional_discriminant(2000, random_state=0)
    frame = pd.DataFrame(data.X, columns=["tagger", "pt"])
    by_name = OTCalibrator(conditional_features="pt", n_condition_bins=3).fit(frame, data.y)
    by_index = OTCalibrator(conditional_features=[-1], n_condition_bins=3).fit(data.X, data.y)
    by_mask = OTCalibrator(conditional_features=[False, True], n_condition_bins=3)
    by_mask.fit(data.X, data.y)
    np.testing.assert_array_equal(by_name.transform(frame), by_index.transform(data.X))
    np.testing.assert_array_equal(by_mask.transform(data.X), by_index.transform(data.X))
    np.testing.assert_array_equal(by_name.conditional_index_, [1])
    np.testing.assert_array_equal(by_name.moved_, [0])
    assert list(by_name.get_feature_names_out()) == ["tagger", "pt"]


def test_condition_is_a_deprecated_alias_of_conditional_features():
    data = make_conditional_discriminant(2000, random_state=0)
    new = OTCalibrator(conditional_features=1, n_condition_bins=3).fit(data.X, data.y)
    old = OTCalibrator(condition=1, n_condition_bins=3)
    with pytest.warns(FutureWarning, match="condition was renamed conditional_features in 0.2"):
        old.fit(data.X, data.y)
    np.testing.assert_array_equal(old.transform(data.X), new.transform(data.X))
    np.testing.assert_array_equal(old.conditional_index_, [1])
    # the fitted attribute's old name still reads, with a warning
    with pytest.warns(FutureWarning, match="condition_ was renamed conditional_index_"):
        np.testing.assert_array_equal(new.condition_, new.conditional_index_)
    assert not hasattr(OTCalibrator(), "condition_")  # unfitted: no attribute, no warning
    with pytest.raises(ValueError, match="both given"):
        OTCalibrator(conditional_features=1, condition=1).fit(data.X, data.y)


# ------------------------------------------------------------------- estimator behaviour
def test_pipeline_passes_y_to_the_calibrator():
    # fit(X, y) in a Pipeline: y (simulation or data) reaches OTCalibrator, whose map the next
    # step receives
    X, y = _gaussians_1d(1000, 0.0, 1.0, 1.0, 2.0, seed=4)
    pipe = make_pipeline(OTCalibrator(), FunctionTransformer(np.exp)).fit(X, y)
    alone = OTCalibrator().fit(X, y)
    np.testing.assert_allclose(pipe.transform(X[:10]), np.exp(alone.transform(X[:10])))


def test_training_history_only_for_the_neural_map(neural_gaussian):
    _, cal = neural_gaussian
    assert cal.n_iter_ == 60
    assert cal.loss_curve_.shape == (60,)
    assert np.all(np.isfinite(cal.loss_curve_))
    assert cal.validation_loss_curve_ is None  # early_stopping=False
    # the exact methods train no network: no history, also after a neural fit of the same object
    refit = OTCalibrator(method="neural", max_epochs=1, random_state=0, device="cpu")
    refit.fit(*_gaussians_1d(50, 0.0, 1.0, 1.0, 1.0, seed=5))
    assert refit.n_iter_ == 1
    refit.set_params(method="quantile").fit(*_gaussians_1d(50, 0.0, 1.0, 1.0, 1.0, seed=5))
    for name in ("n_iter_", "loss_curve_", "validation_loss_curve_", "net_"):
        assert not hasattr(refit, name)


def test_auto_picks_neural_for_large_samples_without_pot(monkeypatch):
    from skhep_reweight.calibrate import _ot

    data = make_gaussian_transport(50, random_state=0)
    monkeypatch.setattr(_ot, "_pot_available", lambda: False)
    cal = OTCalibrator(max_epochs=1, device="cpu", random_state=0).fit(data.X, data.y)
    assert cal.method_ == "neural"
    monkeypatch.setattr(_ot, "_DISCRETE_MAX_PAIRS", 10)
    monkeypatch.setattr(_ot, "_pot_available", lambda: True)
    assert OTCalibrator(max_epochs=1, device="cpu").fit(data.X, data.y).method_ == "neural"


@pytest.mark.parametrize(
    ("kwargs", "X", "y", "weight", "match"),
    [
        ({}, [[0.0], [1.0], [2.0]], [0, 0, 0], None, "only one class"),
        ({"conditional_features": 3}, [[0.0, 1.0]] * 4, [0, 0, 1, 1], None, "outside the 2"),
        ({"conditional_features": "pt"}, [[0.0, 1.0]] * 4, [0, 0, 1, 1], None, "no column names"),
        ({"conditional_features": [0, 1]}, [[0.0, 1.0]] * 4, [0, 0, 1, 1], None, "names all"),
        ({"conditional_features": [2, -1]}, [[0.0, 1.0, 2.0]] * 4, [0, 0, 1, 1], None, "twice"),
        ({}, [[0.0], [np.nan], [2.0], [3.0]], [0, 0, 1, 1], None, "NaN"),
        ({}, [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1], [1, -1, 1, 1], "negative"),
        ({}, [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1], [0, 0, 1, 1], "sum to zero"),
        ({"method": "quantile"}, [[0.0, 1.0]] * 4, [0, 0, 1, 1], None, "moves one column"),
        (
            {"conditional_features": 1, "n_condition_bins": 4},
            np.c_[np.arange(8.0), np.arange(8.0)],
            [0, 0, 0, 0, 1, 1, 1, 1],
            None,
            "lower n_condition_bins",
        ),
        ({}, [[0.0], [1.0], [2.0], [3.0]], [0, 1, 2, 1], None, "binary"),
    ],
)
def test_bad_input(kwargs, X, y, weight, match):
    with pytest.raises(ValueError, match=match):
        OTCalibrator(**kwargs).fit(np.asarray(X, dtype=float), y, sample_weight=weight)


def test_transform_checks_features():
    cal = OTCalibrator().fit(*_gaussians_1d(50, 0.0, 1.0, 1.0, 1.0, seed=5))
    with pytest.raises(ValueError, match="features"):
        cal.transform(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        cal.transform([[np.nan]])


def test_pot_solver_failure_is_an_error(monkeypatch):
    ot = pytest.importorskip("ot")
    real_emd = ot.emd

    def capped(a, b, M, numItermax, log):
        return real_emd(a, b, M, numItermax=3, log=log)

    monkeypatch.setattr(ot, "emd", capped)
    data = make_gaussian_transport(100, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # POT's own message
        with pytest.raises(RuntimeError, match="stopped before the optimum"):
            OTCalibrator(method="discrete").fit(data.X, data.y)


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA device")
def test_neural_inverse_after_unpickling_a_gpu_fit_on_a_cpu_only_machine(monkeypatch):
    # tests/test_common.py checks that transform gives the same numbers after the round trip;
    # here the inverse, Newton's method through the potentials' gradients, on the CPU copy
    import pickle

    import torch

    data = make_gaussian_transport(2000, random_state=0)
    cal = OTCalibrator(method="neural", max_epochs=5, random_state=0, device="cuda")
    cal.fit(data.X, data.y)
    moved = cal.transform(data.X[:200])
    blob = pickle.dumps(cal)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="(?i)cuda"):  # skorch says so twice
        on_cpu = pickle.loads(blob)
    np.testing.assert_allclose(on_cpu.inverse_transform(moved), data.X[:200], atol=1e-3)
