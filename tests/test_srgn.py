"""SRGNFitter against the SRGN paper's Gaussian examples, where the right parameters are known.

Most tests use the exact weights of eqs. (10)-(11) and a quadratic logistic regression as the
classifier g: the log-ratio of two Gaussians is quadratic, so that classifier is optimal here and
varies smoothly with theta, which keeps the fits fast and their error at the statistical level.
The learned reweighter, the built-in network and the DCTR gradient fit each have their own test.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from skhep_reweight import DCTRReweighter, SRGNFitter
from skhep_reweight.datasets import make_parameter_dependent_response, make_parametrized_gaussian
from skhep_reweight.fit import REWEIGHTER_PARAMS, dctr_cross_entropy, weighted_auc

pytestmark = pytest.mark.usefixtures("one_torch_thread")


N = 50_000  # events a sample, the size the issue asks the 1-D fits to work at


def _quadratic():
    # Newton's method converges in a few steps on three features (lbfgs takes twice the time)
    return make_pipeline(
        StandardScaler(),
        PolynomialFeatures(2, include_bias=False),
        LogisticRegression(solver="newton-cholesky"),
    )


def _gaussian(n=N, parameters=("mu",), data_theta=(1.0,), seed=0):
    """(nominal, data) samples: the nominal at theta_0 = 0 (1), the data at ``data_theta``."""
    nominal = make_parametrized_gaussian(n, parameters=parameters, random_state=seed)
    data = make_parametrized_gaussian(
        n, parameters=parameters, target_theta=list(data_theta), random_state=seed + 100
    )
    sim = nominal.y == 0
    return (
        nominal,
        (nominal.X[sim], nominal.X_sim[sim]),
        (data.X[data.y == 1], data.X_sim[data.y == 1]),
    )


@pytest.fixture(scope="module")
def learned_reweighter():
    """A parametrized DCTR reweighter trained over mu in [-2, 2] at generator level."""
    train = make_parametrized_gaussian(N, random_state=7)
    rw = DCTRReweighter(
        hidden_layer_sizes=(32, 32), batch_size=512, max_epochs=12, random_state=0, device="cpu"
    )
    return rw.fit(train.X, train.y, theta=train.theta)


# ---------------------------------------------------------------- the objectives


def test_weighted_auc_counts_weights_as_repeated_events():
    rng = np.random.RandomState(0)
    y = np.r_[np.zeros(30, int), np.ones(30, int)]
    score = rng.normal(size=60) + y
    counts = rng.randint(1, 4, size=60)
    repeated = weighted_auc(np.repeat(y, counts), np.repeat(score, counts), np.ones(counts.sum()))
    assert weighted_auc(y, score, counts.astype(float)) == pytest.approx(repeated, abs=1e-12)
    # invariant under a constant factor on one class
    scaled = np.where(y == 0, 7.0 * counts, counts).astype(float)
    assert weighted_auc(y, score, scaled) == pytest.approx(repeated, abs=1e-12)
    # only the order counts: a logit that is infinite where a probability is 0 or 1 gives the
    # AUC of the same scores capped at a finite value
    infinite = np.where(score > 1.5, np.inf, np.where(score < -1.0, -np.inf, score))
    capped = np.clip(score, -1.0, 1.5)
    w = counts.astype(float)
    assert weighted_auc(y, infinite, w) == pytest.approx(weighted_auc(y, capped, w), abs=1e-12)
    with pytest.raises(ValueError, match="NaN"):
        weighted_auc(y, np.where(score > 1.5, np.nan, score), w)


def test_weighted_auc_is_roc_auc_score_and_takes_signed_weights():
    rng = np.random.RandomState(1)
    y = rng.randint(0, 2, 200)
    score = np.round(rng.normal(size=200) + y, 1)  # many ties
    w = rng.uniform(0.1, 2.0, 200)
    assert weighted_auc(y, score, w) == pytest.approx(
        roc_auc_score(y, score, sample_weight=w), abs=1e-12
    )
    # negative weights count with their sign in the pair sum (roc_auc_score refuses the
    # non-monotone curve they make)
    w[::7] *= -1
    pos, neg = y == 1, y == 0
    pairs = np.outer(w[pos], w[neg])
    order = (score[pos, None] > score[None, neg]) + 0.5 * (score[pos, None] == score[None, neg])
    exact = (pairs * order).sum() / (w[pos].sum() * w[neg].sum())
    assert weighted_auc(y, score, w) == pytest.approx(exact, abs=1e-12)


def test_dctr_cross_entropy_is_minimal_at_the_true_parameter():
    nominal, (gen, _), (data_gen, _) = _gaussian(n=20_000, data_theta=(1.3,))
    ones_d, ones_n = np.ones(len(data_gen)), np.ones(len(gen))
    grid = np.linspace(0.8, 1.8, 101)
    loss = [
        dctr_cross_entropy(
            np.log(nominal.weight_function(data_gen, [m])),
            np.log(nominal.weight_function(gen, [m])),
            ones_d,
            ones_n,
        )
        for m in grid
    ]
    assert grid[int(np.argmin(loss))] == pytest.approx(1.3, abs=0.03)


# ---------------------------------------------------------------- exact weights


@pytest.mark.parametrize("level", ["detector", "generator"])
def test_exact_weights_fit_the_gaussian_mean(level):
    # Section III.A: nominal mu = 0, data mu = 1, smearing 0.5; within 0.05 with exact weights.
    nominal, (gen, sim), (data_gen, data_sim) = _gaussian()
    fitter = SRGNFitter(
        nominal.weight_function, bounds=[(-2.0, 2.0)], classifier=_quadratic(), random_state=0
    )
    if level == "detector":
        fitter.fit(data_sim, X_sim=sim, X_gen=gen)
    else:
        fitter.fit(data_gen, X_gen=gen)
    assert fitter.theta_[0] == pytest.approx(1.0, abs=0.05)
    # the AUC at the fit is 1/2 within its noise; at the nominal point it is far above
    assert fitter.ensemble_objective_[0] == pytest.approx(0.5, abs=0.01)
    scan = fitter.scan_
    far = scan.objective[np.abs(scan.theta[:, 0] - 1.0) > 0.9]
    assert far.min() > 0.6
    assert scan.theta.shape == (len(scan.objective), 1)
    assert np.all(scan.member == 0)


def test_generator_level_fit_is_steeper_than_detector_level():
    # The AUC rises faster away from the minimum without the smearing (Fig. 5).
    nominal, (gen, sim), (data_gen, data_sim) = _gaussian(n=20_000)
    rises = []
    for X, X_sim in ((data_sim, sim), (data_gen, None)):
        fitter = SRGNFitter(
            nominal.weight_function,
            bounds=[(0.0, 2.0)],
            optimizer="grid",
            grid_points=5,
            refine=False,
            classifier=_quadratic(),
            random_state=0,
        ).fit(X, X_sim=X_sim, X_gen=gen)
        rises.append(fitter.scan_.objective[0] - fitter.scan_.objective[2])  # mu = 0 vs mu = 1
    # exact: Phi(1 / sqrt(2 (1 + 0.25))) - 1/2 = 0.235 and Phi(1 / sqrt(2)) - 1/2 = 0.260
    assert rises[0] == pytest.approx(0.235, abs=0.01)
    assert rises[1] == pytest.approx(0.260, abs=0.01)


def test_weight_normalization_does_not_move_the_fit():
    # Any theta-dependent constant factor on the weights leaves the AUC, hence theta_, unchanged
    # (a loss-based objective would be pulled towards the larger factor).
    nominal, (gen, sim), (_, data_sim) = _gaussian(n=20_000)

    def scaled(X, theta):
        return nominal.weight_function(X, theta) * np.exp(3.0 * np.asarray(theta)[0])

    fits = [
        SRGNFitter(w, bounds=[(-2.0, 2.0)], classifier=_quadratic(), random_state=0)
        .fit(data_sim, X_sim=sim, X_gen=gen)
        .theta_[0]
        for w in (nominal.weight_function, scaled)
    ]
    assert fits[1] == pytest.approx(fits[0], abs=1e-3)
    assert fits[0] == pytest.approx(1.0, abs=0.06)


@pytest.mark.parametrize("level", ["detector", "generator"])
def test_two_parameter_fit_of_table_two(level):
    # Table II: data at (mu, sigma) = (-1, 0.75), bounds mu in [-2, 2], sigma in [0.25, 4].
    nominal, (gen, sim), (data_gen, data_sim) = _gaussian(
        parameters=("mu", "sigma"), data_theta=(-1.0, 0.75)
    )
    fitter = SRGNFitter(
        nominal.weight_function,
        bounds=[(-2.0, 2.0), (0.25, 4.0)],
        classifier=_quadratic(),
        ftol=1e-3,
        random_state=0,
    )
    fitter.fit(
        data_sim if level == "detector" else data_gen,
        X_sim=sim if level == "detector" else None,
        X_gen=gen,
    )
    np.testing.assert_allclose(fitter.theta_, [-1.0, 0.75], atol=0.04)


def test_parameter_dependent_response_needs_the_full_phase_space():
    # Fig. 4: the detector shift and smearing follow a second generator-level feature whose
    # spread depends on mu. Reweighting both features, the detector-level fit is right;
    # reweighting the primary feature alone, it is biased (about +0.3 here) and the
    # reweighted simulation never matches the data.
    nominal = make_parameter_dependent_response(N, random_state=0)
    data = make_parameter_dependent_response(N, target_theta=[0.5], random_state=1)
    sim = nominal.y == 0
    X = data.X_sim[data.y == 1]
    full = SRGNFitter(
        nominal.weight_function, bounds=[(-2.0, 2.0)], classifier=_quadratic(), random_state=0
    ).fit(X, X_sim=nominal.X_sim[sim], X_gen=nominal.X[sim])
    primary = SRGNFitter(
        nominal.primary_weight_function,
        bounds=[(-2.0, 2.0)],
        classifier=_quadratic(),
        random_state=0,
    ).fit(X, X_sim=nominal.X_sim[sim], X_gen=nominal.X[sim][:, :1])
    assert full.theta_[0] == pytest.approx(0.5, abs=0.05)
    assert primary.theta_[0] - 0.5 > 0.2
    assert primary.ensemble_objective_[0] > 0.52


# ---------------------------------------------------------------- weights and their names


@pytest.fixture(scope="module")
def generator_level():
    """The exact weight function and generator-level nominal (mu = 0) and data (mu = 1)
    samples, 5000 events each."""
    nominal, (gen, _), (data_gen, _) = _gaussian(n=5000, seed=5)
    return nominal.weight_function, gen, data_gen


def _tilt(X):
    """exp(x / 2), which turns N(mu, 1) into N(mu + 1/2, 1)."""
    return np.exp(0.5 * X[:, 0])


def _grid_fitter(weight_function):
    # mu in steps of 0.5 and no refinement: theta_ is a grid point, so a weight applied to the
    # wrong sample moves it by a whole step or more
    return SRGNFitter(
        weight_function,
        [(-1.0, 3.0)],
        optimizer="grid",
        grid_points=9,
        refine=False,
        classifier=_quadratic(),
        random_state=0,
    )


def test_sample_weight_weights_the_data_and_sim_weight_the_simulation(generator_level):
    # exp(x/2) on the data (mu = 1) makes it N(1.5, 1): the fit moves to 1.5. On the nominal
    # sample it makes the reweighted simulation N(mu + 1/2, 1): the fit moves to 0.5.
    w, gen, data = generator_level
    data = data[:4000]  # fewer data than simulated events: no ambiguity, no warning
    plain = _grid_fitter(w).fit(data, X_gen=gen)
    on_data = _grid_fitter(w).fit(data, X_gen=gen, sample_weight=_tilt(data))
    on_sim = _grid_fitter(w).fit(data, X_gen=gen, sim_weight=_tilt(gen))
    assert plain.theta_[0] == pytest.approx(1.0, abs=0.1)
    assert on_data.theta_[0] == pytest.approx(1.5, abs=0.1)
    assert on_sim.theta_[0] == pytest.approx(0.5, abs=0.1)
    # the training history: one objective evaluation per grid point
    assert plain.n_iter_ == len(plain.scan_.objective) == 9


def test_calls_written_for_0_1_keep_their_meaning_and_warn(generator_level):
    # Before 0.2 the fourth argument, sample_weight, weighted the simulation and data_weight
    # the data. Each old call gives the new call's numbers, with a FutureWarning.
    w, gen, data = generator_level
    data = data[:4000]
    sim_weight, data_weight = _tilt(gen), _tilt(data)
    new = _grid_fitter(w).fit(data, X_gen=gen, sample_weight=data_weight, sim_weight=sim_weight)
    with pytest.warns(FutureWarning, match="data_weight is deprecated") as record:
        old = _grid_fitter(w).fit(data, None, gen, sim_weight, data_weight=data_weight)
    assert len(record) == 1
    assert record[0].filename == __file__  # the warning points at the caller's line
    np.testing.assert_array_equal(old.scan_.objective, new.scan_.objective)

    # the simulation's weights alone as the fourth argument: told apart by their length
    new = _grid_fitter(w).fit(data, X_gen=gen, sim_weight=sim_weight)
    with pytest.warns(FutureWarning, match="as many as the simulation") as record:
        old = _grid_fitter(w).fit(data, None, gen, sim_weight)
    assert len(record) == 1
    np.testing.assert_array_equal(old.scan_.objective, new.scan_.objective)
    assert old.theta_[0] == pytest.approx(0.5, abs=0.1)

    # data_weight alone is sample_weight, also next to sim_weight
    new = _grid_fitter(w).fit(data, X_gen=gen, sample_weight=data_weight)
    with pytest.warns(FutureWarning, match="data_weight is deprecated"):
        old = _grid_fitter(w).fit(data, X_gen=gen, data_weight=data_weight)
    np.testing.assert_array_equal(old.scan_.objective, new.scan_.objective)
    new = _grid_fitter(w).fit(data, X_gen=gen, sample_weight=data_weight, sim_weight=sim_weight)
    with pytest.warns(FutureWarning, match="data_weight is deprecated"):
        old = _grid_fitter(w).fit(data, X_gen=gen, data_weight=data_weight, sim_weight=sim_weight)
    np.testing.assert_array_equal(old.scan_.objective, new.scan_.objective)


def test_sample_weight_of_ambiguous_length_is_the_data_and_warns(generator_level):
    # As many data as simulated events: an old call cannot be told from a new one, so
    # sample_weight takes its new meaning and a FutureWarning says so; giving sim_weight too
    # (here unit weights) is unambiguous and silent.
    w, gen, data = generator_level
    assert len(data) == len(gen)
    with pytest.warns(FutureWarning, match="cannot be told apart") as record:
        ambiguous = _grid_fitter(w).fit(data, X_gen=gen, sample_weight=_tilt(data))
    assert len(record) == 1
    explicit = _grid_fitter(w).fit(
        data, X_gen=gen, sample_weight=_tilt(data), sim_weight=np.ones(len(gen))
    )
    np.testing.assert_array_equal(ambiguous.scan_.objective, explicit.scan_.objective)
    assert ambiguous.theta_[0] == pytest.approx(1.5, abs=0.1)
    # a scalar has no length to tell by either
    with pytest.warns(FutureWarning, match="cannot be told apart"):
        _grid_fitter(w).fit(data[:4000], X_gen=gen, sample_weight=2.0)


def test_weights_that_fit_no_reading_raise(generator_level):
    w, gen, data = generator_level
    data, ones = data[:4000], np.ones(4000)
    fitter = _grid_fitter(w)
    with pytest.raises(TypeError, match="data_weight, sample_weight and sim_weight"):
        fitter.fit(data, X_gen=gen, sample_weight=ones, sim_weight=np.ones(5000), data_weight=ones)
    with pytest.raises(ValueError, match="sample_weight has 3 entries.*are sim_weight"):
        fitter.fit(data, X_gen=gen, sample_weight=np.ones(3))
    with (
        pytest.warns(FutureWarning, match="data_weight is deprecated"),
        pytest.raises(ValueError, match="data_weight has 3 entries"),
    ):
        fitter.fit(data, X_gen=gen, data_weight=np.ones(3))
    with (
        pytest.warns(FutureWarning, match="data_weight is deprecated"),
        pytest.raises(ValueError, match="sample_weight \\(the simulation's weights"),
    ):
        fitter.fit(data, None, gen, np.ones(3), data_weight=ones)
    assert not hasattr(fitter, "theta_")


# ---------------------------------------------------------------- learned reweighter


@pytest.mark.parametrize("level", ["detector", "generator"])
def test_learned_reweighter_fits_the_gaussian_mean(learned_reweighter, level):
    nominal, (gen, sim), (data_gen, data_sim) = _gaussian(seed=1)
    fitter = SRGNFitter(learned_reweighter, classifier=_quadratic(), random_state=0)
    if level == "detector":
        fitter.fit(data_sim, X_sim=sim, X_gen=gen)
    else:
        fitter.fit(data_gen, X_gen=gen)
    # the bounds default to the reweighter's trained range
    np.testing.assert_allclose(fitter.bounds_[0], [-2.0, 2.0], atol=0.01)
    assert fitter.theta_[0] == pytest.approx(1.0, abs=0.1)


def test_dctr_gradient_fit(learned_reweighter):
    # Eq. (3): the reweighter's classifier frozen, theta the only variable, by gradient.
    _, (gen, _), (data_gen, _) = _gaussian(data_theta=(1.3,), seed=2)
    fitter = SRGNFitter(learned_reweighter, objective="dctr", random_state=0).fit(
        data_gen, X_gen=gen
    )
    assert fitter.theta_[0] == pytest.approx(1.3, abs=0.05)
    # L-BFGS-B converges in a few dozen evaluations, each one pass over the events
    assert len(fitter.scan_.objective) < 60


def test_dctr_fit_with_exact_weights_uses_powell():
    nominal, (gen, _), (data_gen, _) = _gaussian(data_theta=(1.3,), seed=3)
    fitter = SRGNFitter(nominal.weight_function, bounds=[(-2.0, 2.0)], objective="dctr")
    fitter.fit(data_gen, X_gen=gen)
    assert fitter.theta_[0] == pytest.approx(1.3, abs=0.02)


# ---------------------------------------------------------------- network and strategies


def test_built_in_network_retrained_per_point():
    nominal, (gen, sim), (_, data_sim) = _gaussian(n=20_000)
    fitter = SRGNFitter(
        nominal.weight_function,
        bounds=[(0.0, 2.0)],
        optimizer="grid",
        grid_points=5,
        refine=False,  # Powell's refinement is tested with the quadratic classifier
        hidden_layer_sizes=(32,),
        batch_size=500,
        max_epochs=5,
        early_stopping=False,
        random_state=0,
        device="cpu",
    ).fit(data_sim, X_sim=sim, X_gen=gen)
    # theta_ is the grid's best point: 1.0, where a neighbour (0.5 or 1.5) would fail
    assert fitter.theta_[0] == pytest.approx(1.0, abs=0.15)
    assert fitter.n_iter_ == 5  # one network trained per point
    # the grid's AUC falls towards the data's mu: 0.0, 0.5 above 1.0
    auc = fitter.scan_.objective[:5]
    assert auc[0] > auc[1] > auc[2] + 0.03


def test_parametrized_classifier_strategy():
    # One network g(x, mu) trained once (then once more near its minimum); the AUC at every mu
    # is read from it.
    nominal, (gen, sim), (_, data_sim) = _gaussian()
    fitter = SRGNFitter(
        nominal.weight_function,
        bounds=[(-2.0, 2.0)],
        strategy="parametrized",
        local_width=None,
        hidden_layer_sizes=(64, 64),
        max_epochs=20,
        early_stopping=True,
        n_iter_no_change=5,
        random_state=0,
        device="cpu",
    ).fit(data_sim, X_sim=sim, X_gen=gen)
    assert fitter.theta_[0] == pytest.approx(1.0, abs=0.1)
    assert len(fitter.classifiers_) == 1
    # the objective is |AUC - 1/2| (auc_objective="auto"); the classifier carries theta as an
    # input: its AUC at the nominal mu is far from 1/2
    scan = fitter.scan_
    assert np.all(scan.objective >= 0.0)
    assert scan.objective[np.argmin(np.abs(scan.theta[:, 0]))] > 0.15


def test_parametrized_strategy_agrees_with_retraining_on_the_same_events():
    # The first version minimized the signed AUC of g(x, theta) trained with unnormalized weights:
    # 0.977 +- 0.028 over four seeds on these events (0.974 +- 0.011 with the normalization
    # alone), where retraining at every point finds 1.02: between the true crossing and its
    # neighbours the interpolating g ranks the wrong way round (held-out AUC 0.487, far below
    # the noise). |AUC - 1/2| and the local second stage give 1.022 +- 0.013.
    nominal, (gen, sim), (_, data_sim) = _gaussian()
    reference = SRGNFitter(
        nominal.weight_function, bounds=[(-2.0, 2.0)], classifier=_quadratic(), random_state=0
    ).fit(data_sim, X_sim=sim, X_gen=gen)
    fitter = SRGNFitter(
        nominal.weight_function,
        bounds=[(-2.0, 2.0)],
        strategy="parametrized",
        hidden_layer_sizes=(64, 64),
        max_epochs=20,
        early_stopping=True,
        n_iter_no_change=5,
        n_ensemble=2,
        random_state=0,
        device="cpu",
    ).fit(data_sim, X_sim=sim, X_gen=gen)
    assert reference.theta_[0] == pytest.approx(1.02, abs=0.01)
    assert fitter.theta_[0] == pytest.approx(reference.theta_[0], abs=0.025)
    # one classifier per member (its second stage's); both stages' points are in the scan
    assert len(fitter.classifiers_) == 2
    assert fitter.n_iter_ == len(fitter.scan_.objective)


# The documented settings of the learned reweighter (SRGNFitter's Notes), here at 2x10^4 events.
TABLE_TWO_REWEIGHTER = REWEIGHTER_PARAMS


def test_table_two_sigma_with_the_learned_reweighter():
    # Table II of the paper with a learned w(x_G, (mu, sigma)) over [-2, 2] x [0.25, 4]; the first
    # version's bench settings ((64, 64), batch 4096, 20 epochs with early stopping) fitted sigma
    # at the bound 0.25 here, with an AUC of 0.67 at the "minimum".
    parameters = ("mu", "sigma")
    train = make_parametrized_gaussian(20_000, parameters=parameters, random_state=11)
    rw = DCTRReweighter(**TABLE_TWO_REWEIGHTER, device="cpu", random_state=1)
    rw.fit(train.X, train.y, theta=train.theta)
    nominal = make_parametrized_gaussian(20_000, parameters=parameters, random_state=21)
    data = make_parametrized_gaussian(
        20_000, parameters=parameters, target_theta=[-1.0, 0.75], random_state=31
    )
    sim = nominal.y == 0
    # the weighted mean and width of the nominal sample at the data's point
    w = rw.predict_weights(nominal.X[sim], theta=[-1.0, 0.75])
    x = nominal.X[sim, 0]
    mean = np.average(x, weights=w)
    width = np.sqrt(np.average((x - mean) ** 2, weights=w))
    assert mean == pytest.approx(-1.0, abs=0.05)
    assert width == pytest.approx(0.75, abs=0.05)
    fitter = SRGNFitter(
        rw, bounds=[(-2.0, 2.0), (0.25, 4.0)], classifier=_quadratic(), ftol=1e-3, random_state=1
    ).fit(data.X[data.y == 1], X_gen=nominal.X[sim])
    np.testing.assert_allclose(fitter.theta_, [-1.0, 0.75], atol=0.05)
    assert not fitter.at_bound_.any()


# ---------------------------------------------------------------- ensemble, parallel, seeds


@pytest.fixture(scope="module")
def small_gaussian():
    return _gaussian(n=5000, seed=4)


def test_ensemble_fits_its_own_reweighters_in_parallel(small_gaussian):
    _, (gen, sim), (_, data_sim) = small_gaussian
    train = make_parametrized_gaussian(5000, random_state=8)
    template = DCTRReweighter(
        hidden_layer_sizes=(16, 16), batch_size=256, max_epochs=10, device="cpu"
    )
    kwargs = {
        "classifier": _quadratic(),
        "n_ensemble": 3,
        "random_state": 0,
        # seeding and bookkeeping are tested here, not accuracy: coarse tolerances will do
        "ftol": 1e-2,
        "xtol": 1e-2,
    }
    fits = [
        SRGNFitter(template, n_jobs=n_jobs, **kwargs).fit(
            data_sim, X_sim=sim, X_gen=gen, reweighter_data=(train.X, train.y, train.theta)
        )
        for n_jobs in (1, 2)
    ]
    np.testing.assert_array_equal(fits[0].ensemble_theta_, fits[1].ensemble_theta_)
    fitter = fits[0]
    assert fitter.ensemble_theta_.shape == (3, 1)
    assert len({id(r) for r in fitter.reweighters_}) == 3
    assert not hasattr(template, "net_")  # the template stays unfitted
    # three independent reweighters and splits: three different results, one spread
    assert len(np.unique(fitter.ensemble_theta_)) == 3
    assert np.isfinite(fitter.theta_std_).all()
    assert fitter.theta_std_[0] > 0
    np.testing.assert_allclose(fitter.theta_, fitter.ensemble_theta_.mean(axis=0))
    assert set(np.unique(fitter.scan_.member)) == {0, 1, 2}


def test_grid_scan_parallel_over_points_matches_serial(small_gaussian):
    nominal, (gen, sim), (_, data_sim) = small_gaussian
    kwargs = {"optimizer": "grid", "grid_points": 7, "classifier": _quadratic(), "random_state": 0}
    serial = SRGNFitter(nominal.weight_function, [(-2.0, 2.0)], **kwargs).fit(
        data_sim, X_sim=sim, X_gen=gen
    )
    parallel = SRGNFitter(nominal.weight_function, [(-2.0, 2.0)], n_jobs=2, **kwargs).fit(
        data_sim, X_sim=sim, X_gen=gen
    )
    np.testing.assert_array_equal(serial.scan_.objective, parallel.scan_.objective)
    np.testing.assert_array_equal(serial.theta_, parallel.theta_)
    np.testing.assert_allclose(serial.scan_.theta[:7, 0], np.linspace(-2, 2, 7))


def test_clone_shares_the_fitted_reweighter(learned_reweighter):
    # scikit-learn's clone would hand the copy an unfitted clone of the reweighter; the fitted
    # reweighting is this estimator's input, so the copy shares it (the shared invariants, clone
    # and pickle included, are tests/test_common.py's)
    fitter = SRGNFitter(learned_reweighter, classifier=_quadratic(), random_state=0)
    copy = clone(fitter)
    assert copy.get_params()["reweighter"] is learned_reweighter
    assert copy.get_params()["classifier"] is not fitter.classifier
    assert copy.get_params(deep=False).keys() == fitter.get_params(deep=False).keys()


def test_dataframes_keep_the_reweighters_column_names(small_gaussian):
    pd = pytest.importorskip("pandas")
    nominal, (gen, sim), (_, data_sim) = small_gaussian
    train = make_parametrized_gaussian(5000, random_state=9)
    rw = DCTRReweighter(
        hidden_layer_sizes=(16, 16), batch_size=256, max_epochs=10, random_state=0, device="cpu"
    )
    rw.fit(pd.DataFrame(train.X, columns=["x_gen"]), train.y, theta=train.theta)
    # column names are what is tested here: a coarse grid will do
    grid = {"optimizer": "grid", "grid_points": 5, "refine": False, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitter = SRGNFitter(rw, classifier=_quadratic(), **grid).fit(
            pd.DataFrame(data_sim, columns=["x_sim"]),
            X_sim=pd.DataFrame(sim, columns=["x_sim"]),
            X_gen=pd.DataFrame(gen, columns=["x_gen"]),
        )
    assert list(fitter.feature_names_in_) == ["x_sim"]
    # the same with the reweighter fitted inside fit on named columns
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inside = SRGNFitter(clone(rw), classifier=_quadratic(), **grid).fit(
            data_sim,
            X_sim=sim,
            X_gen=pd.DataFrame(gen, columns=["x_gen"]),
            reweighter_data=(pd.DataFrame(train.X, columns=["x_gen"]), train.y, train.theta),
        )
    assert inside.reweighters_[0] is not rw


def test_fits_ending_at_a_bound_are_flagged(small_gaussian):
    nominal, (gen, sim), (_, data_sim) = small_gaussian
    # the data's mu = 1 lies above these bounds: the fit runs into the upper bound
    with pytest.warns(UserWarning, match="within 5% of the range of a bound"):
        fitter = SRGNFitter(
            nominal.weight_function, [(-2.0, 0.5)], classifier=_quadratic(), random_state=0
        ).fit(data_sim, X_sim=sim, X_gen=gen)
    assert fitter.at_bound_.tolist() == [True]
    assert fitter.theta_[0] == pytest.approx(0.5, abs=0.02)


# ---------------------------------------------------------------- bad input


def test_bad_input_raises_clear_errors(learned_reweighter, small_gaussian):
    nominal, (gen, sim), (data_gen, data_sim) = small_gaussian
    quad = _quadratic()
    with pytest.raises(ValueError, match="outside the range the reweighter was trained on"):
        SRGNFitter(learned_reweighter, [(-3.0, 2.0)], classifier=quad).fit(
            data_sim, X_sim=sim, X_gen=gen
        )
    with pytest.raises(ValueError, match="X_sim has 4999 rows but X_gen has 5000"):
        SRGNFitter(learned_reweighter, classifier=quad).fit(data_sim, X_sim=sim[1:], X_gen=gen)
    with pytest.raises(ValueError, match="X \\(the data\\) has 2 features but X_sim has 1"):
        SRGNFitter(learned_reweighter, classifier=quad).fit(
            np.hstack([data_sim, data_sim]), X_sim=sim, X_gen=gen
        )
    with pytest.raises(ValueError, match="X_gen has 2 features but the reweighter was fitted on 1"):
        SRGNFitter(learned_reweighter, classifier=quad).fit(
            data_sim, X_sim=sim, X_gen=np.hstack([gen, gen])
        )
    with pytest.raises(ValueError, match="X_gen is required"):
        SRGNFitter(learned_reweighter).fit(data_sim, X_sim=sim)
    with pytest.raises(ValueError, match="bounds are required with a callable"):
        SRGNFitter(nominal.weight_function).fit(data_sim, X_sim=sim, X_gen=gen)
    with pytest.raises(ValueError, match="bounds must have shape"):
        SRGNFitter(nominal.weight_function, [(-2.0, 0.0, 2.0)]).fit(data_sim, X_sim=sim, X_gen=gen)
    with pytest.raises(ValueError, match="low < high"):
        SRGNFitter(nominal.weight_function, [(2.0, -2.0)]).fit(data_sim, X_sim=sim, X_gen=gen)
    with pytest.raises(ValueError, match="theta_init"):
        SRGNFitter(nominal.weight_function, [(-2.0, 2.0)], theta_init=[3.0]).fit(
            data_sim, X_sim=sim, X_gen=gen
        )
    with pytest.raises(ValueError, match="not fitted"):
        SRGNFitter(DCTRReweighter()).fit(data_sim, X_sim=sim, X_gen=gen)
    plain = DCTRReweighter(hidden_layer_sizes=(4,), max_epochs=1, device="cpu").fit(
        np.r_[gen, data_gen], np.r_[np.zeros(len(gen)), np.ones(len(data_gen))]
    )
    with pytest.raises(ValueError, match="fitted without theta"):
        SRGNFitter(plain).fit(data_sim, X_sim=sim, X_gen=gen)
    with pytest.raises(ValueError, match="takes no X_sim"):
        SRGNFitter(learned_reweighter, objective="dctr").fit(data_sim, X_sim=sim, X_gen=gen)
    with pytest.raises(ValueError, match="optimizer='gradient' needs objective='dctr'"):
        SRGNFitter(nominal.weight_function, [(-2.0, 2.0)], optimizer="gradient").fit(
            data_gen, X_gen=gen
        )
    with pytest.raises(ValueError, match="contains NaN"):
        SRGNFitter(learned_reweighter).fit(
            np.where(np.arange(len(data_sim))[:, None] == 0, np.nan, data_sim),
            X_sim=sim,
            X_gen=gen,
        )
    with pytest.raises(ValueError, match="sample_weight has 3 entries but X \\(the data\\)"):
        SRGNFitter(learned_reweighter).fit(data_sim, X_sim=sim, X_gen=gen, sample_weight=[1, 2, 3])
    with pytest.raises(ValueError, match="sim_weight has 3 entries but X_gen has 5000"):
        SRGNFitter(learned_reweighter).fit(data_sim, X_sim=sim, X_gen=gen, sim_weight=[1, 2, 3])
    with pytest.raises(ValueError, match="sim_weight sums to zero"):
        SRGNFitter(learned_reweighter).fit(
            data_sim, X_sim=sim, X_gen=gen, sim_weight=np.zeros(len(gen))
        )
    with pytest.raises(ValueError, match="objective"):
        SRGNFitter(learned_reweighter, objective="loss").fit(data_sim, X_sim=sim, X_gen=gen)


def test_verbose_shows_the_evaluated_points(small_gaussian, capsys):
    nominal, (gen, sim), (_, data_sim) = small_gaussian
    SRGNFitter(
        nominal.weight_function,
        [(-1.0, 3.0)],
        optimizer="grid",
        grid_points=3,
        refine=False,
        classifier=_quadratic(),
        random_state=0,
        verbose=1,
    ).fit(data_sim, X_sim=sim, X_gen=gen)
    err = capsys.readouterr().err
    assert "SRGN fit" in err
    assert "3point" in err.replace(" ", "")
