"""DCTRReweighter against the exact Gaussian weights, and its scikit-learn behaviour.

Tolerances. The ratio is tested per event on fresh events: the median of |w / w_exact - 1| where
both densities are populated (|x| < 2); this catches a missing prior factor or an inverted ratio.
The weighted moments of the training source are compared with the target's in the same window
|x| < 2.5, where the weighted source density equals the target density exactly: for
N(0,1) -> N(1,1.3^2) the exact weights have an effective sample size of 2.9%, so full-range moments
carry the fluctuation of a handful of tail events with weights above 100 (with the *exact* weights
only 61% of 10^5-event samples have both mean and width within 0.03 of the truth), and no network
knows the weights beyond the support it was trained on.
"""

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhep_reweight import DCTRReweighter, LearnedNothingWarning, weights_from_classifier
from skhep_reweight.datasets import make_gaussian_reweighting, make_parametrized_gaussian
from skhep_reweight.metrics import classifier_two_sample_auc, weighted_mean_std
from skhep_reweight.reweight import balanced_cross_entropy, clip_log_ratio
from skhep_reweight.reweight._theta import fill_source_theta

# small networks: a second intra-op thread gains nothing and stalls on a busy machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")

CLOSURE_WINDOW = 2.0  # |x| < 2: where both densities are well populated
MOMENT_WINDOW = 2.5  # |x| < 2.5: moments of the weighted source and the target compared there


def _relative_weight_error(w, w_exact, x):
    inside = np.abs(x) < CLOSURE_WINDOW
    return float(np.median(np.abs(w[inside] / w_exact[inside] - 1.0)))


def _moments(x, w):
    mean, std = weighted_mean_std(x, w)
    return float(mean[0]), float(std[0])


def _closure(rw, n_source, n_target, seed, *, fit_weight=None):
    """Fit on unequal class sizes (a missing prior factor would show) and test on fresh events.

    Returns the fresh source events with their learned and exact weights, and the training
    source, its learned weights and the training target.
    """
    train = make_gaussian_reweighting(n_samples=max(n_source, n_target), random_state=seed)
    src = train.X[train.y == 0][:n_source]
    tgt = train.X[train.y == 1][:n_target]
    rw.fit_samples(src, tgt, source_weight=fit_weight)
    test = make_gaussian_reweighting(n_samples=n_source, random_state=seed + 1)
    x = test.X[test.y == 0]
    return x, rw.predict_weights(x), test.weight_function(x), (src, rw.predict_weights(src), tgt)


def _assert_moments_match_target(training, tolerance):
    src, w_src, tgt = training
    inside_src = np.abs(src[:, 0]) < MOMENT_WINDOW
    inside_tgt = np.abs(tgt[:, 0]) < MOMENT_WINDOW
    mean, std = _moments(src[inside_src], w_src[inside_src])
    mean_target, std_target = _moments(tgt[inside_tgt], None)
    assert mean == pytest.approx(mean_target, abs=tolerance)
    assert std == pytest.approx(std_target, abs=tolerance)


@pytest.fixture(scope="module")
def gaussian_fit():
    rw = DCTRReweighter(random_state=0)
    return rw, *_closure(rw, 100_000, 60_000, seed=10)


def test_exact_weight_closure(gaussian_fit):
    rw, x, w, w_exact, training = gaussian_fit
    assert _relative_weight_error(w, w_exact, x[:, 0]) < 0.05
    _assert_moments_match_target(training, 0.03)
    assert w.mean() == pytest.approx(1.0, abs=0.05)  # not renormalized, yet close to one


def test_wrong_ratios_fail_the_same_closure(gaussian_fit):
    # The tolerance above must catch the classic mistakes.
    _, x, w, w_exact, _ = gaussian_fit
    missing_prior = w * 2.0  # 30k source vs 15k target without class balancing
    inverted = 1.0 / w
    assert _relative_weight_error(missing_prior, w_exact, x[:, 0]) > 0.5
    assert _relative_weight_error(inverted, w_exact, x[:, 0]) > 0.3


def test_predicting_in_batches_gives_the_same_weights(gaussian_fit):
    rw, x, w, _, _ = gaussian_fit
    parts = np.concatenate([rw.predict_weights(chunk) for chunk in np.array_split(x, 7)])
    np.testing.assert_allclose(parts, w, rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [20, 30, 40, 50, 60])
def test_exact_weight_closure_holds_for_every_seed(seed):
    rw = DCTRReweighter(random_state=seed)
    x, w, w_exact, training = _closure(rw, 100_000, 100_000, seed=seed)
    assert _relative_weight_error(w, w_exact, x[:, 0]) < 0.05
    _assert_moments_match_target(training, 0.03)


def test_negative_weights_are_used_with_their_sign():
    # Source events carry weights 1 + 1.5 s with random signs s = +-1: a third are negative, and
    # the signed density is still N(0, 1). The learned ratio must still be the exact one.
    rng = np.random.RandomState(3)
    signed = 1.0 + 1.5 * rng.choice([-1.0, 1.0], size=20_000)
    assert (signed < 0).mean() > 0.4
    rw = DCTRReweighter(random_state=0)
    x, w, w_exact, _ = _closure(rw, 20_000, 20_000, seed=30, fit_weight=signed)
    assert _relative_weight_error(w, w_exact, x[:, 0]) < 0.1


def test_label_shuffled_null_gives_unit_weights():
    data = make_gaussian_reweighting(n_samples=10_000, random_state=4)
    y = np.random.RandomState(5).permutation(data.y)
    rw = DCTRReweighter(random_state=0).fit(data.X, y)
    x = data.X[np.abs(data.X[:, 0]) < CLOSURE_WINDOW]
    w = rw.predict_weights(x)
    assert np.abs(w - 1.0).max() < 0.1
    assert w.mean() == pytest.approx(1.0, abs=0.02)


def test_parametrized_closure_and_range():
    data = make_parametrized_gaussian(n_samples=100_000, random_state=6)
    rw = DCTRReweighter(random_state=0).fit(data.X, data.y, theta=data.theta)
    assert rw.n_parameters_ == 1
    np.testing.assert_allclose(rw.theta_range_[:, 0], [-2.0, 2.0], atol=0.01)
    x = make_parametrized_gaussian(n_samples=100_000, random_state=7).X[:100_000]
    inside = np.abs(x[:, 0]) < MOMENT_WINDOW
    for mu in (-1.5, 1.5):
        w = rw.predict_weights(x, theta=[mu])
        w_exact = data.weight_function(x, np.array([mu]))
        assert _relative_weight_error(w, w_exact, x[:, 0]) < 0.1
        # in the window the weighted moments must be those of the exact weights
        mean, std = _moments(x[inside], w[inside])
        mean_exact, std_exact = _moments(x[inside], w_exact[inside])
        assert mean == pytest.approx(mean_exact, abs=0.03)
        assert std == pytest.approx(std_exact, abs=0.03)
        # over the full range the far tail (w > 100 beyond |x| = 4 at |mu| = 1.5) is learned from
        # a few dozen events: 10^5 events reach the truth to ~0.05, the paper's 10^6 (slow test)
        # within 0.05
        assert _moments(x, w)[0] == pytest.approx(mu, abs=0.075)
    # one point per row gives the same as the broadcast point
    np.testing.assert_allclose(
        rw.predict_weights(x[:100], theta=np.full((100, 1), 0.5)),
        rw.predict_weights(x[:100], theta=0.5),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="outside the range seen in training"):
        rw.predict_weights(x, theta=[3.0])
    rw.set_params(allow_extrapolation=True)
    assert np.all(np.isfinite(rw.predict_weights(x[:10], theta=[3.0])))


@pytest.mark.slow
def test_parametrized_closure_full_size():
    # SRGN section III.A: 10^6 events per sample
    data = make_parametrized_gaussian(n_samples=1_000_000, random_state=8)
    rw = DCTRReweighter(random_state=0).fit(data.X, data.y, theta=data.theta)
    x = make_parametrized_gaussian(n_samples=1_000_000, random_state=9).X[:1_000_000]
    for mu in (-1.5, 1.5):
        mean, _ = _moments(x, rw.predict_weights(x, theta=[mu]))
        assert mean == pytest.approx(mu, abs=0.05)


def test_two_parameters_reach_the_network_in_their_order():
    # The fast companion of the slow (mu, sigma) closure below: a short fit at the nominal point
    # (0, 1) gives weights near one, and (mu, sigma) = (1, 1.25) moves the weighted mean towards
    # 1; the same point with the two parameters swapped, (1.25, 1), gives another mean (a
    # reweighter that mixed up the theta columns would give the same).
    data = make_parametrized_gaussian(n_samples=20_000, parameters=("mu", "sigma"), random_state=11)
    rw = DCTRReweighter(max_epochs=15, random_state=0).fit(data.X, data.y, theta=data.theta)
    assert rw.n_parameters_ == 2
    assert rw.theta_range_.shape == (2, 2)
    x = data.X[data.y == 0]
    assert np.median(np.abs(rw.predict_weights(x, theta=[0.0, 1.0]) - 1.0)) < 0.1
    mean, std = _moments(x, rw.predict_weights(x, theta=[1.0, 1.25]))
    swapped, swapped_std = _moments(x, rw.predict_weights(x, theta=[1.25, 1.0]))
    assert mean == pytest.approx(1.0, abs=0.25)  # a short fit: the precise test is the slow one
    assert std == pytest.approx(1.25, abs=0.25)
    assert swapped - mean > 0.1  # measured 1.48 - 1.16 (exact: 0.25)
    assert std - swapped_std > 0.05  # measured 1.34 - 1.25 (exact: 0.25)


@pytest.mark.slow
def test_parametrized_mu_sigma():
    # 10^5 events: at 4x10^4 the width at (1, 1.25) is off by 0.085, beyond the tolerance.
    # the (mu, sigma) reweighting of SRGN eq. 11, at the target of its Fig. 6 (1, 1.25) and at the
    # data point of its Table II (-1, 0.75)
    data = make_parametrized_gaussian(
        n_samples=100_000, parameters=("mu", "sigma"), random_state=11
    )
    rw = DCTRReweighter(random_state=0).fit(data.X, data.y, theta=data.theta)
    assert rw.n_parameters_ == 2
    x = data.X[data.y == 0]
    inside = np.abs(x[:, 0]) < MOMENT_WINDOW
    for point in ([1.0, 1.25], [-1.0, 0.75]):
        theta = np.array(point)
        w = rw.predict_weights(x, theta=theta)
        w_exact = data.weight_function(x, theta)
        assert _relative_weight_error(w, w_exact, x[:, 0]) < 0.1
        mean, std = _moments(x, w)
        assert mean == pytest.approx(point[0], abs=0.05)
        assert std == pytest.approx(point[1], abs=0.05)
        mean, std = _moments(x[inside], w[inside])
        mean_exact, std_exact = _moments(x[inside], w_exact[inside])
        assert mean == pytest.approx(mean_exact, abs=0.03)
        assert std == pytest.approx(std_exact, abs=0.03)


def test_source_theta_follows_the_weighted_target_theta():
    # target events at theta = -0.5 (weight 1) and +0.5 (weight 3, or -1 for a negative share)
    y01 = np.r_[np.zeros(20_000, dtype=int), np.ones(4, dtype=int)]
    theta = np.r_[np.full(20_000, np.nan), [-0.5, 0.5, 0.5, 0.5]][:, None]
    weight = np.r_[np.ones(20_000), [1.0, 1.0, 1.0, 1.0]]
    weight[-3:] = 3.0
    filled, factor = fill_source_theta(theta, y01, weight, np.random.RandomState(0))
    src = filled[:20_000, 0]
    assert np.isin(src, [-0.5, 0.5]).all()
    assert (src > 0).mean() == pytest.approx(9 / 10, abs=0.01)  # 3 x 3 against 1
    np.testing.assert_array_equal(factor, 1.0)
    weight[-1] = -1.0  # signed target totals: 1 at -0.5, 5 at +0.5
    filled, factor = fill_source_theta(theta, y01, weight, np.random.RandomState(0))
    src_w = factor[:20_000]
    share = src_w[filled[:20_000, 0] > 0].sum() / src_w.sum()
    assert share == pytest.approx(5 / 6, abs=0.02)
    assert (src_w < 0).any()


def test_theta_weighted_target_gives_unit_weights_when_nothing_changes():
    # x does not depend on theta; target events at theta = +0.5 carry weight 3. The ratio at any
    # theta is one: a fill that ignored the target weights would make theta leak the class.
    rng = np.random.RandomState(12)
    src = rng.normal(size=(20_000, 1))
    theta_t = rng.choice([-0.5, 0.5], size=20_000)
    tgt = rng.normal(size=(20_000, 1))
    tw = np.where(theta_t > 0, 3.0, 1.0)
    rw = DCTRReweighter(random_state=0).fit_samples(
        src, tgt, target_weight=tw, target_theta=theta_t
    )
    for point in (-0.5, 0.5):
        assert rw.predict_weights(src, theta=[point]).mean() == pytest.approx(1.0, abs=0.05)


def test_bdt_path_closure_and_weights_feed_a_bdt():
    rw = DCTRReweighter(
        HistGradientBoostingClassifier(
            max_iter=300, learning_rate=0.05, max_leaf_nodes=8, min_samples_leaf=200, random_state=0
        )
    )
    x, w, w_exact, training = _closure(rw, 30_000, 15_000, seed=40)
    assert rw.classifier_.n_iter_ > 0
    assert not hasattr(rw, "net_")
    assert _relative_weight_error(w, w_exact, x[:, 0]) < 0.12
    _assert_moments_match_target(training, 0.05)
    # the weights go into a BDT's sample_weight: an independent BDT can no longer separate
    target = make_gaussian_reweighting(n_samples=30_000, random_state=41).X[30_000:]
    assert classifier_two_sample_auc(x, target, random_state=0) > 0.65
    assert classifier_two_sample_auc(x, target, source_weight=w, random_state=0) == pytest.approx(
        0.5, abs=0.03
    )


def test_classifier_without_sample_weight_gets_the_prior_factor():
    # A classifier that takes no sample_weight is trained on 2:1 classes; the prior factor is then
    # applied to the ratio instead of balancing the classes.
    class NoWeightLogistic(LogisticRegression):
        def fit(self, X, y):
            return super().fit(X, y)

    data = make_gaussian_reweighting(
        n_samples=20_000, target_std=1.0, target_mean=0.5, random_state=13
    )
    X, y = data.X[10_000:], data.y[10_000:]  # 10k source, 20k target
    rw = DCTRReweighter(NoWeightLogistic()).fit(X, y)
    assert rw.prior_ratio_ == pytest.approx(0.5)
    x = data.X[:10_000]
    assert _relative_weight_error(rw.predict_weights(x), data.weight_function(x), x[:, 0]) < 0.03
    with pytest.raises(TypeError, match="sample_weight"):
        rw.fit(X, y, sample_weight=np.linspace(1, 2, len(y)))


def test_weights_from_any_classifier_and_pipeline():
    data = make_gaussian_reweighting(
        n_samples=20_000, target_std=1.0, target_mean=0.5, random_state=14
    )
    # logistic regression is exact for two unit-width Gaussians: log w = 0.5 x - 0.125
    clf = LogisticRegression().fit(data.X, data.y)
    x = data.X[data.y == 0]
    np.testing.assert_allclose(weights_from_classifier(clf, x), data.weight_function(x), rtol=0.05)
    # with unbalanced training classes the prior ratio restores the normalization
    keep = np.r_[np.arange(20_000), 20_000 + np.arange(5_000)]
    clf_unbalanced = LogisticRegression().fit(data.X[keep], data.y[keep])
    w = weights_from_classifier(clf_unbalanced, x, prior_ratio=4.0)
    assert _relative_weight_error(w, data.weight_function(x), x[:, 0]) < 0.05
    # a Pipeline ending in the reweighter gives the reweighter's weights
    pipe = make_pipeline(StandardScaler(), DCTRReweighter(max_epochs=5, random_state=0))
    pipe.fit(data.X, data.y)
    scaled = pipe[0].transform(x)
    np.testing.assert_allclose(
        weights_from_classifier(pipe, x), pipe[-1].predict_weights(scaled), rtol=1e-6
    )
    assert weights_from_classifier(pipe, x, sample_weight=np.full(len(x), 2.0)) == pytest.approx(
        2.0 * pipe[-1].predict_weights(scaled)
    )


def test_grid_search_selects_by_the_density_ratio_score():
    data = make_gaussian_reweighting(n_samples=3_000, random_state=15)
    # a learning rate of 1e-6 learns nothing in 20 epochs, and says so
    with pytest.warns(LearnedNothingWarning, match="learned nothing measurable"):
        grid = GridSearchCV(
            DCTRReweighter(max_epochs=20, random_state=0),
            {"hidden_layer_sizes": [(8,), (32, 32)], "learning_rate": [1e-6, 1e-2]},
            cv=2,
        ).fit(data.X, data.y)
    # it scores no better than a coin
    assert grid.best_params_["learning_rate"] == 1e-2
    scores = grid.cv_results_["mean_test_score"]
    assert grid.best_score_ == pytest.approx(scores.max())
    lazy = np.array(grid.cv_results_["param_learning_rate"]) == 1e-6
    assert np.all(scores[lazy] < scores[~lazy].min() - 0.02)
    assert np.all(scores[~lazy] > -np.log(2) + 0.02)


def test_cross_val_score_and_the_score_is_minus_balanced_bce():
    data = make_gaussian_reweighting(n_samples=3_000, random_state=16)
    X, y = data.X[1_000:], data.y[1_000:]  # 2000 source, 3000 target events
    scores = cross_val_score(DCTRReweighter(max_epochs=20, random_state=0), X, y, cv=3)
    assert scores.shape == (3,)
    assert np.all(scores > -np.log(2))  # better than a coin
    rw = DCTRReweighter(max_epochs=20, random_state=0).fit(X, y)
    # independently: scikit-learn's log loss with each class weighted to the same total
    w = np.linspace(0.5, 1.5, len(y))
    balanced = np.where(y == 1, w / w[y == 1].sum(), w / w[y == 0].sum())
    expected = -log_loss(y, rw.predict_proba(X)[:, 1], sample_weight=balanced)
    assert rw.score(X, y, sample_weight=w) == pytest.approx(expected, rel=1e-9)
    # the exact ratio scores better than a distorted one: a proper scoring rule
    log_exact = np.log(data.exact_weights)
    assert balanced_cross_entropy(data.y, log_exact, np.ones(6000)) < balanced_cross_entropy(
        data.y, 1.3 * log_exact, np.ones(6000)
    )


def test_parametrized_cross_validation_with_metadata_routing():
    import sklearn

    data = make_parametrized_gaussian(n_samples=3_000, random_state=22)
    with sklearn.config_context(enable_metadata_routing=True):
        rw = DCTRReweighter(max_epochs=10, random_state=0)
        rw.set_fit_request(theta=True).set_score_request(theta=True)
        scores = cross_val_score(rw, data.X, data.y, cv=3, params={"theta": data.theta})
    assert np.all(np.isfinite(scores))
    assert np.all(scores > -np.log(2))


def test_bdt_path_is_seeded_and_takes_negative_weights():
    data = make_gaussian_reweighting(n_samples=8_000, random_state=23)
    hgb = HistGradientBoostingClassifier(max_iter=30)  # early stopping with its own split
    a = DCTRReweighter(hgb, random_state=0).fit(data.X, data.y).predict_weights(data.X)
    b = DCTRReweighter(hgb, random_state=0).fit(data.X, data.y).predict_weights(data.X)
    np.testing.assert_array_equal(a, b)
    signed = np.where(np.arange(len(data.y)) % 3 == 0, -0.5, 1.5)
    rw = DCTRReweighter(hgb, random_state=0).fit(data.X, data.y, sample_weight=signed)
    assert np.all(np.isfinite(rw.predict_weights(data.X)))


def test_classifiers_that_route_sample_weight_differently():
    from sklearn.model_selection import GridSearchCV as Search
    from sklearn.neighbors import KNeighborsClassifier

    data = make_gaussian_reweighting(n_samples=2_000, random_state=24)
    X, y = data.X[1_000:], data.y[1_000:]  # 1000 source, 2000 target
    # a Pipeline whose last step takes no sample_weight: trained unweighted, prior applied
    knn = DCTRReweighter(make_pipeline(StandardScaler(), KNeighborsClassifier(50))).fit(X, y)
    assert knn.prior_ratio_ == pytest.approx(0.5)
    # a meta-estimator that forwards sample_weight through **params
    search = Search(LogisticRegression(), {"C": [1.0]}, cv=2)
    w = np.linspace(1, 2, len(y))
    DCTRReweighter(search).fit(X, y, sample_weight=w)
    # swapping the classifier and refitting leaves no stale network behind
    rw = DCTRReweighter(max_epochs=2, random_state=0).fit(X, y)
    rw.set_params(classifier=LogisticRegression()).fit(X, y)
    assert not hasattr(rw, "net_")
    np.testing.assert_allclose(rw.predict_weights(X), weights_from_classifier(rw.classifier_, X))


def test_verbose_shows_a_progress_bar(capsys):
    data = make_gaussian_reweighting(n_samples=500, random_state=25)
    DCTRReweighter(max_epochs=3, random_state=0).fit(data.X, data.y)
    assert capsys.readouterr().err == ""
    DCTRReweighter(max_epochs=3, verbose=1, random_state=0).fit(data.X, data.y)
    err = capsys.readouterr().err
    assert "DCTR" in err
    assert "valid_loss" in err


def test_dataframes_keep_column_names():
    pd = pytest.importorskip("pandas")
    data = make_gaussian_reweighting(n_samples=1_000, random_state=18)
    src = pd.DataFrame(data.X[data.y == 0], columns=["pt"])
    tgt = pd.DataFrame(data.X[data.y == 1], columns=["pt"])
    rw = DCTRReweighter(max_epochs=3, random_state=0).fit_samples(src, tgt)
    assert list(rw.feature_names_in_) == ["pt"]
    plain = DCTRReweighter(max_epochs=3, random_state=0).fit_samples(src.to_numpy(), tgt.to_numpy())
    np.testing.assert_allclose(rw.predict_weights(src), plain.predict_weights(src.to_numpy()))
    with pytest.raises(ValueError, match="different columns"):
        rw.fit_samples(src, tgt.rename(columns={"pt": "eta"}))


def test_float32_input_gives_the_same_weights():
    data = make_gaussian_reweighting(n_samples=1_000, random_state=19)
    rw = DCTRReweighter(max_epochs=3, random_state=0).fit(data.X, data.y)
    np.testing.assert_allclose(
        rw.predict_weights(data.X.astype(np.float32)), rw.predict_weights(data.X), rtol=1e-6
    )


def test_clipping_bounds_and_counts():
    clipped, n = clip_log_ratio([0.0, 30.0, -30.0, 5.0], proba_clip=1e-2)
    bound = np.log(99.0)
    np.testing.assert_allclose(clipped, [0.0, bound, -bound, bound])
    assert n == 3
    # a saturated classifier: far target events get the clipped weight and are counted
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (2000, 1)), rng.normal(8, 1, (2000, 1))]
    y = np.r_[np.zeros(2000), np.ones(2000)]
    rw = DCTRReweighter(proba_clip=1e-2, max_epochs=30, random_state=0).fit(X, y)
    w = rw.predict_weights(np.array([[8.0], [0.0]]))
    assert w[0] == pytest.approx(99.0)
    assert rw.n_clipped_ >= 1


@pytest.mark.filterwarnings("ignore::skhep_reweight._base.LearnedNothingWarning")  # 2 epochs
def test_bad_input_errors():
    data = make_gaussian_reweighting(n_samples=200, random_state=20)
    X, y = data.X, data.y
    rw = DCTRReweighter(max_epochs=2, random_state=0)
    bad = X.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        rw.fit(bad, y)
    bad[3, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        rw.fit(bad, y)
    with pytest.raises(ValueError, match="only one class"):
        rw.fit(X, np.zeros_like(y))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        rw.fit(X, y[:-1])
    with pytest.raises(ValueError, match="sample_weight has 399 entries"):
        rw.fit(X, y, sample_weight=np.ones(399))
    w = np.ones(400)
    w[y == 1] = 0.0
    with pytest.raises(ValueError, match="target class .* sum to zero"):
        rw.fit(X, y, sample_weight=w)
    w[y == 1] = -1.0
    with pytest.raises(ValueError, match="sum to -200"):
        rw.fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match="theta has 10 rows"):
        rw.fit(X, y, theta=np.zeros((10, 1)))
    theta = np.full((400, 1), np.nan)
    with pytest.raises(ValueError, match="NaN on target rows"):
        rw.fit(X, y, theta=theta)
    with pytest.raises(ValueError, match="source and target must both hold events"):
        rw.fit_samples(X[:0], X)
    with pytest.raises(ValueError, match="source must be 2-D"):
        rw.fit_samples(X[:, 0], X)
    with pytest.raises(ValueError, match="target_theta must have shape"):
        rw.fit_samples(X, X, target_theta=np.zeros(10))
    with pytest.raises(ValueError, match="theta must have shape"):
        rw.fit(X, y, theta=np.zeros((400, 1, 1)))
    with pytest.raises(ValueError, match="sample_weight contains NaN"):
        rw.fit(X, y, sample_weight=np.r_[np.nan, np.ones(399)])
    with pytest.raises(ValueError, match="0 sample"):
        rw.fit(X[:0], y[:0])
    rw.fit(X, y, theta=np.c_[np.where(y == 1, 1.0, np.nan)] + np.linspace(0, 1, 400)[:, None])
    with pytest.raises(ValueError, match=r"theta must have shape \(1,\)"):
        rw.predict_weights(X, theta=[0.5, 0.5])
    with pytest.raises(ValueError, match="pass theta"):
        rw.predict_weights(X)
    with pytest.raises(TypeError, match="theta must be numeric"):
        rw.predict_weights(X, theta=["a"])
    plain = DCTRReweighter(max_epochs=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        plain.score(X, y[:-1])
    with pytest.raises(ValueError, match="both the source and the target class"):
        plain.score(X[y == 1], y[y == 1])
    with pytest.raises(ValueError, match="beyond the float32 range"):
        plain.predict_weights(np.array([[1e39], [0.0]]))
    with pytest.raises(ValueError, match="not fitted with theta"):
        plain.predict_weights(X, theta=[0.0])
    with pytest.raises(ValueError, match="X has 2 features"):
        plain.predict_weights(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="device"):
        DCTRReweighter(device="tpu", max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="learning_rate"):
        DCTRReweighter(learning_rate=-1.0).fit(X, y)
