"""WeightedGANUnweighter, hit-or-miss unweighting and the truth-correction weights, against the
exact densities of "How to GAN Event Unweighting" (arXiv:2012.07873)."""

import numpy as np
import pytest
import torch
from scipy.stats import kstest, norm
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV

from skhep_reweight import WeightedGANUnweighter
from skhep_reweight._nn.gan import SpectralNormLinear, WeightedGAN, weighted_mmd
from skhep_reweight.datasets import make_breit_wigner, make_camel_back, make_gaussian_ring
from skhep_reweight.metrics import truth_correction_weights
from skhep_reweight.unweight import hit_or_miss, unweighting_efficiency

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----------------------------------------------------------------------------- hit-or-miss


def test_unweighting_efficiency_is_mean_over_max():
    assert unweighting_efficiency([1.0, 2.0, 3.0, 6.0]) == 0.5
    assert unweighting_efficiency([1.0, 2.0, 3.0, 6.0], max_weight=12.0) == 0.25
    data = make_breit_wigner(200_000, random_state=0)
    w = data.sample_weight
    assert unweighting_efficiency(w) == pytest.approx(w.mean() / w.max(), rel=1e-12)
    # the peak of a 2.5 GeV wide resonance sampled uniformly over 200 GeV: about 1.3%
    assert 0.010 < unweighting_efficiency(w) < 0.016


def test_hit_or_miss_keeps_the_expected_share_and_the_weighted_density():
    data = make_camel_back(200_000, encoding="uniform", random_state=1)
    w = data.sample_weight
    keep = hit_or_miss(w, random_state=2)
    expected = w.sum() / w.max()
    # binomial count of kept events: within 4 standard deviations of n * efficiency
    assert abs(keep.sum() - expected) < 4 * np.sqrt(expected)
    # the kept events follow the camel back (not the uniform sampling density)
    kept = data.X[keep, 0]
    assert kstest(kept, data.cdf).statistic < 0.01
    assert kstest(data.X[:, 0], data.cdf).statistic > 0.2


def test_hit_or_miss_extremes_and_seed():
    w = np.array([0.0, 1.0, 0.5, 1.0])
    for seed in range(5):
        keep = hit_or_miss(w, random_state=seed)
        assert not keep[0]
        assert keep[1]
        assert keep[3]
    np.testing.assert_array_equal(
        hit_or_miss(np.linspace(0, 1, 50), random_state=3),
        hit_or_miss(np.linspace(0, 1, 50), random_state=3),
    )


@pytest.mark.parametrize(
    ("weights", "kwargs", "match"),
    [
        ([1.0, -0.5, 2.0], {}, "negative"),
        ([0.0, 0.0], {}, "positive weight"),
        ([1.0, 3.0], {"max_weight": 2.0}, "below the largest weight"),
        ([1.0, np.nan], {}, "NaN"),
        ([[1.0, 2.0]], {}, "1-D"),
    ],
)
def test_hit_or_miss_bad_input(weights, kwargs, match):
    with pytest.raises(ValueError, match=match):
        hit_or_miss(weights, **kwargs)
    with pytest.raises(ValueError, match=match):
        unweighting_efficiency(weights, **kwargs)


# ------------------------------------------------------------------ truth-correction weights


def test_truth_correction_weights_match_the_exact_binned_ratio():
    # generated N(0, 1.1^2) against the truth N(0, 1), both normalized on [-2, 2]: the weight of
    # a bin is the ratio of the two binned, renormalized probabilities
    rng = np.random.RandomState(0)
    generated = rng.normal(0.0, 1.1, size=(400_000, 1))
    edges = np.linspace(-2, 2, 21)
    w = truth_correction_weights(
        generated, lambda X: norm.pdf(X[:, 0]), bins=20, range=[(-2.0, 2.0)]
    )
    p_truth = np.diff(norm.cdf(edges)) / (norm.cdf(2) - norm.cdf(-2))
    p_gen = np.diff(norm.cdf(edges, scale=1.1)) / (norm.cdf(2, scale=1.1) - norm.cdf(-2, scale=1.1))
    index = np.clip(np.searchsorted(edges, generated[:, 0]) - 1, 0, 19)
    inside = np.abs(generated[:, 0]) <= 2
    exact = (p_truth / p_gen)[index[inside]]
    # Poisson noise of ~20000 events a bin: 1%
    np.testing.assert_allclose(w[inside], exact, rtol=0.03)
    assert np.isnan(w[~inside]).all()
    # a generator that is the truth gets weights within the Poisson noise of one
    perfect = rng.normal(0.0, 1.0, size=(400_000, 1))
    w = truth_correction_weights(perfect, lambda X: norm.pdf(X[:, 0]), bins=20, range=[(-2, 2)])
    assert np.nanstd(w) < 0.02


def test_truth_correction_weights_from_a_weighted_truth_sample():
    # the truth as weighted events (uniform events, camel weights) gives what the density gives
    truth = make_camel_back(1_000_000, encoding="uniform", random_state=0)
    generated = make_camel_back(100_000, random_state=1).X
    from_sample = truth_correction_weights(
        generated, truth.X, truth_weight=truth.sample_weight, bins=12, range=[(-0.5, 2.5)]
    )
    from_density = truth_correction_weights(generated, truth.density, bins=12, range=[(-0.5, 2.5)])
    ok = np.isfinite(from_density)
    np.testing.assert_allclose(from_sample[ok], from_density[ok], rtol=0.02)
    np.testing.assert_allclose(from_density[ok], 1.0, atol=0.05)


def test_truth_correction_weights_bad_input():
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="range"):
        truth_correction_weights(X, lambda X: np.ones(len(X)))
    with pytest.raises(ValueError, match="features"):
        truth_correction_weights(X, np.zeros((10, 3)))
    with pytest.raises(ValueError, match="one entry per feature"):
        truth_correction_weights(X, lambda X: np.ones(len(X)), range=[(0, 1)])
    with pytest.raises(ValueError, match="no generated event"):
        truth_correction_weights(X + 5, lambda X: np.ones(len(X)), range=[(0, 1), (0, 1)])


# -------------------------------------------------------------------------------- datasets


@pytest.mark.parametrize("encoding", ["unweighted", "uniform", "hybrid"])
def test_camel_back_encodings_carry_the_same_density(encoding):
    data = make_camel_back(400_000, encoding=encoding, random_state=0)
    x, w = data.X[:, 0], data.sample_weight
    below = np.average(x < 1.0, weights=w)
    assert below == pytest.approx(data.cdf(1.0), abs=0.004)
    assert np.average(x, weights=w) == pytest.approx(0.3 * 0 + 0.7 * 2, abs=0.01)
    assert w.mean() == pytest.approx(1.0, abs=0.01)


def test_gaussian_ring_density_and_encodings():
    ring = make_gaussian_ring(400_000, encoding="uniform", random_state=0)
    assert ring.norm == pytest.approx(5.079, abs=1e-3)  # the paper's N
    # uniform events: the mean weight is the integral of P over the square
    assert ring.sample_weight.mean() == pytest.approx(1.0, abs=0.01)
    exact = make_gaussian_ring(200_000, encoding="unweighted", random_state=1)
    r_exact = np.hypot(exact.X[:, 0] - 0.5, exact.X[:, 1] - 0.5)
    r_weighted = np.hypot(ring.X[:, 0] - 0.5, ring.X[:, 1] - 0.5)
    # radial density r exp(-(r - r0)^2 / 2 sigma^2): mean r0 + sigma^2 / r0 = 0.26
    assert r_exact.mean() == pytest.approx(0.26, abs=1e-3)
    assert np.average(r_weighted, weights=ring.sample_weight) == pytest.approx(0.26, abs=2e-3)


def test_breit_wigner_weights_span_orders_of_magnitude():
    data = make_breit_wigner(100_000, random_state=0)
    w = data.sample_weight
    assert w.max() / w.min() > 1e4
    m = data.X[:, 0]
    assert np.average(m < 91.1876, weights=w) == pytest.approx(data.mass_cdf(91.1876), abs=0.01)
    assert data.mass_cdf(50.0) == 0.0
    assert data.mass_cdf(250.0) == pytest.approx(1.0)


# ---------------------------------------------------------------------------- the network


def test_weighted_mmd_with_integer_weights_equals_duplicated_events():
    torch.manual_seed(0)
    x, y = torch.randn(20, 2, dtype=torch.float64), torch.randn(30, 2, dtype=torch.float64)
    counts = torch.randint(1, 4, (20,))
    widths = torch.tensor([0.3, 1.0], dtype=torch.float64)
    weighted = weighted_mmd(x, counts.double(), y, widths)
    duplicated = weighted_mmd(
        x.repeat_interleave(counts, 0),
        torch.ones(int(counts.sum()), dtype=torch.float64),
        y,
        widths,
    )
    assert weighted.item() == pytest.approx(duplicated.item(), rel=1e-10)
    assert weighted_mmd(x, torch.ones(20, dtype=torch.float64), x, widths).item() < 1e-5
    assert weighted.item() > 0.1


def test_spectral_norm_layer_has_unit_largest_singular_value():
    torch.manual_seed(0)
    layer = SpectralNormLinear(8, 5)
    with torch.no_grad():
        layer.weight.mul_(7.0)
    for _ in range(30):
        layer(torch.randn(4, 8))
    effective = layer.weight / torch.dot(layer.u, layer.weight @ layer.v)
    assert torch.linalg.matrix_norm(effective, ord=2).item() == pytest.approx(1.0, abs=1e-4)


def test_gan_losses_follow_eq_8_and_20():
    torch.manual_seed(0)
    module = WeightedGAN(1, 2, (8,), (8,), "relu", "relu", np.zeros(1), np.ones(1))
    X, w = torch.randn(64, 1), torch.rand(64) * 3
    # the critic loss depends on the weights only through their normalized values (eq. 8)
    torch.manual_seed(1)
    a = module.critic_loss(X, None, w)
    torch.manual_seed(1)
    b = module.critic_loss(X, None, 10 * w)
    assert a.item() == pytest.approx(b.item(), rel=1e-6)
    # eq. 20: the MMD enters the generator loss times lambda
    module.eval()  # fixed spectral-norm vectors
    torch.manual_seed(2)
    plain = module.primary_loss(X, None, w)
    module.mmd_weight = 2.5
    torch.manual_seed(2)
    with_mmd = module.primary_loss(X, None, w)
    torch.manual_seed(2)
    fake = module._generate_standardized(64, X.device)
    expected = plain + 2.5 * weighted_mmd(X, w, fake, module.mmd_kernel_widths)
    assert with_mmd.item() == pytest.approx(expected.item(), rel=1e-5)


# ----------------------------------------------------------------------- the estimator

# The camel back at reduced size: 10^5 training events (the paper trains on 10^6;
# bench/bench_unweight.py runs that size). By default only the uniform encoding, where the weights
# carry all of the density (a generator that ignored them would put 0.5 below x = 1, not 0.309),
# with the estimator's defaults but 100 epochs (batch 2048: about 1000 generator steps, 35 s);
# the other two encodings are slow. (At 2x10^4 events the default batch leaves two generator
# steps per epoch: 200 epochs left one 0.25-wide bin 12% off.)
CAMEL_TRAINING = 100_000
CAMEL_ESTIMATOR = {"max_epochs": 100, "random_state": 0, "device": "cpu"}
CAMEL_FITS = [
    pytest.param("uniform", id="uniform"),
    *[
        pytest.param(encoding, id=encoding, marks=pytest.mark.slow)
        for encoding in ("unweighted", "hybrid")
    ],
]


@pytest.fixture(scope="module", params=CAMEL_FITS)
def camel_fit(request):
    encoding = request.param
    data = make_camel_back(CAMEL_TRAINING, encoding=encoding, random_state=0)
    # the unweighted encoding trains without weights: the plain-GAN limit
    weight = None if encoding == "unweighted" else data.sample_weight
    gan = WeightedGANUnweighter(**CAMEL_ESTIMATOR)
    gan.fit(data.X, sample_weight=weight)
    return data, gan, gan.sample(200_000, random_state=1)


def test_camel_back_peak_fractions(camel_fit):
    # eq. (9): 0.3 N(0, 0.5) + 0.7 N(2, 0.5), whatever share of it the weights carry; a GAN that
    # ignored the weights would give 0.5 below x = 1 on the uniform encoding
    data, _, generated = camel_fit
    mixture = GaussianMixture(2, random_state=0).fit(generated)
    order = np.argsort(mixture.means_[:, 0])
    np.testing.assert_allclose(mixture.weights_[order], [0.3, 0.7], atol=0.02)
    np.testing.assert_allclose(mixture.means_[order, 0], [0.0, 2.0], atol=0.1)
    assert np.mean(generated[:, 0] < 1.0) == pytest.approx(data.cdf(1.0), abs=0.02)


def test_camel_back_binned_ratio_in_the_bulk(camel_fit):
    # truth-correction weights (eq. 10) against the exact density in 0.25-wide bins over the
    # cores of the two peaks (within one width of each mean)
    data, _, generated = camel_fit
    for low, high in [(-0.5, 0.5), (1.5, 2.5)]:
        w = truth_correction_weights(generated, data.density, bins=4, range=[(low, high)])
        ratios = np.unique(w[np.isfinite(w)])
        assert ratios.size == 4
        assert np.abs(ratios - 1).max() < 0.1


def test_score_prefers_the_right_distribution(camel_fit):
    data, gan, _ = camel_fit
    fresh = make_camel_back(4000, random_state=5).X
    score = gan.score(fresh)
    assert score > gan.score(fresh + 0.5)
    assert gan.score(fresh) == score  # deterministic


def test_sample_is_seeded_and_extends():
    data = make_camel_back(2000, encoding="hybrid", random_state=0)
    gan = WeightedGANUnweighter(hidden_layer_sizes=(16,), max_epochs=2, random_state=0)
    gan.fit(data.X, sample_weight=data.sample_weight)
    a = gan.sample(100, random_state=3)
    assert a.shape == (100, 1)
    assert a.dtype == np.float64
    np.testing.assert_array_equal(gan.sample(100, random_state=3), a)
    assert not np.array_equal(gan.sample(100, random_state=4), a)
    # a longer sample from the same seed starts with the shorter one (the noise is one stream,
    # cut into chunks)
    np.testing.assert_array_equal(gan.sample(70_000, random_state=3)[:100], a)
    assert gan.latent_dim_ == 2


@pytest.mark.parametrize(
    ("X", "weight", "params", "match"),
    [
        (np.ones((10, 1)), -np.ones(10), {}, "negative"),
        (np.ones((10, 2)), None, {"mmd_columns": [2]}, "mmd_columns"),
        (np.ones((10, 2)), None, {"mmd_columns": [1, -1]}, "mmd_columns names a column twice"),
        (np.ones((10, 2)), None, {"mmd_columns": ["m"]}, "no column names"),
        (np.ones((10, 2)), None, {"discriminator_layer_sizes": (8, 0)}, "discriminator_layer"),
        (np.ones((10, 2)), None, {"mmd_kernel_widths": (0.1, 0.0)}, "mmd_kernel_widths"),
        (np.ones((10, 2)), None, {"n_critic": 0}, "n_critic"),
    ],
)
def test_bad_input(X, weight, params, match):
    with pytest.raises(ValueError, match=match):
        WeightedGANUnweighter(max_epochs=1, **params).fit(X, sample_weight=weight)


def test_sample_bad_input_and_unfitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        WeightedGANUnweighter().sample(3)
    gan = WeightedGANUnweighter(hidden_layer_sizes=(4,), max_epochs=1, random_state=0)
    gan.fit(np.random.RandomState(0).normal(size=(50, 2)))
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n_samples"):
            gan.sample(bad)
    with pytest.raises(ValueError, match="features"):
        gan.score(np.zeros((5, 3)))


def test_zero_weight_events_are_dropped():
    # zero-weight events carry no information: the fit is the one without them, to the bit
    data = make_camel_back(1000, encoding="uniform", random_state=0)
    X = np.vstack([data.X, np.full((50, 1), 30.0)])
    w = np.concatenate([data.sample_weight, np.zeros(50)])
    params = {"hidden_layer_sizes": (8,), "max_epochs": 2, "random_state": 0}
    with_zeros = WeightedGANUnweighter(**params).fit(X, sample_weight=w)
    without = WeightedGANUnweighter(**params).fit(data.X, sample_weight=data.sample_weight)
    np.testing.assert_array_equal(with_zeros.sample(50, 0), without.sample(50, 0))


def test_mmd_and_early_stopping_options_train():
    pd = pytest.importorskip("pandas")
    data = make_breit_wigner(3000, random_state=0)
    # the columns in reverse order, so that the name of the resonance's column is its index 1
    X = pd.DataFrame(data.X[:, ::-1], columns=list(data.feature_names[::-1]))
    resonance = data.feature_names[0]
    gan = WeightedGANUnweighter(
        hidden_layer_sizes=(16, 16),
        mmd_weight=1.0,
        mmd_columns=resonance,  # by name: the column of the resonance
        early_stopping=True,
        n_iter_no_change=2,
        max_epochs=6,
        random_state=0,
    ).fit(X, sample_weight=data.sample_weight)
    assert gan.net_.module_.mmd_columns.tolist() == [1]
    # the training history: the generator loss and the monitored validation MMD per epoch
    assert 3 <= gan.n_iter_ <= 6
    assert gan.loss_curve_.shape == gan.validation_loss_curve_.shape == (gan.n_iter_,)
    assert np.all(np.isfinite(gan.validation_loss_curve_))
    np.testing.assert_array_equal(gan.validation_loss_curve_, gan.net_.history[:, "valid_loss"])
    assert np.all(np.isfinite(gan.sample(10, random_state=0)))
    without = WeightedGANUnweighter(hidden_layer_sizes=(4,), max_epochs=2, random_state=0)
    assert without.fit(data.X, sample_weight=data.sample_weight).validation_loss_curve_ is None


def test_grid_search_with_weights():
    data = make_camel_back(600, encoding="uniform", random_state=0)
    search = GridSearchCV(
        WeightedGANUnweighter(hidden_layer_sizes=(8,), max_epochs=2, random_state=0),
        {"learning_rate": [1e-3, 3e-3]},
        cv=2,
    ).fit(data.X, sample_weight=data.sample_weight)
    assert np.isfinite(search.best_score_)
