"""skhep_reweight.compat.hep_ml: hep_ml's reweighting checks (the weighted means move to the
target's and the weighted KS distance per feature falls, on random Gaussians in 1-D and 2-D,
plain and folded), hep_ml's folding rules reproduced event by event against hep_ml itself, and
the estimator behaviour of NNReweighter (clone, parameters, pickle)."""

import pickle

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.base import BaseEstimator, clone

from skhep_reweight import DCTRReweighter
from skhep_reweight.compat.hep_ml import FoldingReweighter, NNReweighter, folds_column
from skhep_reweight.metrics import weighted_ks_distance

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _gaussians(n_dimensions, n_samples, seed):
    """hep_ml's test problem: the target is shifted by a random unit-Gaussian vector and has
    covariance 0.4 I + 0.2 (correlated and narrower); the original has one more event.
    Returns both samples and the exact weights of the original events."""
    rng = np.random.RandomState(seed)
    mean_original = rng.normal(size=n_dimensions)
    cov_original = np.eye(n_dimensions)
    mean_target = rng.multivariate_normal(mean_original, cov_original)
    cov_target = 0.4 * cov_original + 0.2
    original = rng.multivariate_normal(mean_original, cov_original, size=n_samples + 1)
    target = rng.multivariate_normal(mean_target, cov_target, size=n_samples)
    exact = multivariate_normal(mean_target, cov_target).pdf(original) / multivariate_normal(
        mean_original, cov_original
    ).pdf(original)
    return original, target, exact


def _improvement(original, target, weights):
    """Per feature: |weighted mean - target mean| after over before, KS after over before."""
    ones = np.ones(len(original))
    mean_ratio = np.abs(np.average(original, weights=weights, axis=0) - target.mean(0)) / np.abs(
        original.mean(0) - target.mean(0)
    )
    ks_ratio = np.array(
        [
            weighted_ks_distance(original[:, j], target[:, j], weights, None)
            / weighted_ks_distance(original[:, j], target[:, j], ones, None)
            for j in range(original.shape[1])
        ]
    )
    return mean_ratio, ks_ratio


def _check_reweighter(reweighter, n_dimensions, n_samples, seed, folding=False):
    """hep_ml's check (every weighted mean closer to the target's, every KS distance smaller),
    with margins: the mean's distance falls below 30 % of before, and the KS distance comes
    within 1.5 times (plus 0.03) of what the exact weights reach on the same events (at these
    sizes the exact weights leave 5-40 % of the KS distance: their effective sample size is
    small)."""
    original, target, exact = _gaussians(n_dimensions, n_samples, seed)
    _, exact_ks_ratio = _improvement(original, target, exact)
    original_weight = np.ones(len(original))
    reweighter.fit(original, target, original_weight=original_weight, target_weight=None)
    predictions = [reweighter.predict_weights(original, original_weight=original_weight)]
    if folding:
        predictions.append(
            reweighter.predict_weights(
                original, original_weight, vote_function=lambda x: np.mean(x, axis=0)
            )
        )
    for weights in predictions:
        mean_ratio, ks_ratio = _improvement(original, target, weights)
        assert np.all(mean_ratio < 0.3), mean_ratio
        assert np.all(ks_ratio < 1.5 * exact_ks_ratio + 0.03), (ks_ratio, exact_ks_ratio)
    return predictions


def _net(**params):
    return NNReweighter(
        hidden_layer_sizes=(32, 32),
        learning_rate=1e-2,
        batch_size=512,
        max_epochs=30,
        weight_decay=1e-3,
        device="cpu",
        random_state=0,
        **params,
    )


# ------------------------------------------------------------------ hep_ml's checks
@pytest.mark.parametrize("n_dimensions", [1, 2])
def test_nn_reweighter_passes_hep_mls_check(n_dimensions):
    _check_reweighter(_net(), n_dimensions, 4000, seed=1)


def test_folded_nn_reweighter_passes_hep_mls_check():
    rw = FoldingReweighter(_net(), n_folds=3, random_state=0, verbose=False)
    plain, voted = _check_reweighter(rw, 2, 4000, seed=1, folding=True)
    assert len(rw.reweighters) == 3
    assert not np.allclose(plain, voted)  # out-of-fold is not the fold average


def test_folded_hep_ml_gb_reweighter_passes_hep_mls_check():
    reweight = pytest.importorskip("hep_ml.reweight")
    base = reweight.GBReweighter(n_estimators=20, max_depth=2, learning_rate=0.3)
    rw = FoldingReweighter(base, n_folds=3, random_state=0, verbose=False)
    _check_reweighter(rw, 2, 4000, seed=1, folding=True)
    assert all(isinstance(r, reweight.GBReweighter) for r in rw.reweighters)


# ------------------------------------------------------------------ hep_ml's folding rules
class SignatureReweighter(BaseEstimator):
    """hep_ml's interface; remembers the rows it was trained on (column 0 holds the row number)
    and weights every event by ``original_weight`` times a number that identifies the fold
    model (the sum of its training rows)."""

    def fit(self, original, target, original_weight=None, target_weight=None):
        self.original_rows_ = np.asarray(original)[:, 0].astype(int)
        self.target_rows_ = np.asarray(target)[:, 0].astype(int)
        self.weights_ = (np.asarray(original_weight), np.asarray(target_weight))
        return self

    def predict_weights(self, original, original_weight=None):
        weight = np.ones(len(original)) if original_weight is None else original_weight
        return weight * float(self.original_rows_.sum() + 7 * self.target_rows_.sum())


def _numbered(n, seed):
    rng = np.random.RandomState(seed)
    return np.column_stack([np.arange(n), rng.normal(size=n)])


@pytest.mark.parametrize("random_state", [0, 123, "instance"])
def test_folds_and_predictions_follow_hep_ml_event_by_event(random_state):
    reweight = pytest.importorskip("hep_ml.reweight")

    def seed():
        return np.random.RandomState(5) if random_state == "instance" else random_state

    original, target = _numbered(301, 0), _numbered(250, 1)
    original_weight = np.linspace(0.5, 2.0, 301)
    ours = FoldingReweighter(SignatureReweighter(), n_folds=3, random_state=seed(), verbose=False)
    theirs = reweight.FoldingReweighter(
        SignatureReweighter(), n_folds=3, random_state=seed(), verbose=False
    )
    for rw in (ours, theirs):
        rw.fit(original, target, original_weight=original_weight)
    for mine, hep in zip(ours.reweighters, theirs.reweighters, strict=True):
        np.testing.assert_array_equal(mine.original_rows_, hep.original_rows_)
        np.testing.assert_array_equal(mine.target_rows_, hep.target_rows_)
        np.testing.assert_array_equal(mine.weights_[0], hep.weights_[0])
        np.testing.assert_array_equal(mine.weights_[1], hep.weights_[1])
    # each training event is weighted by the fold model that did not see it
    signature = ours.predict_weights(original, original_weight)
    for k, model in enumerate(ours.reweighters):
        unseen = np.setdiff1d(np.arange(301), model.original_rows_)
        np.testing.assert_array_equal(np.flatnonzero(ours.folds_original_ == k), unseen)
        np.testing.assert_array_equal(
            signature[unseen], model.predict_weights(original[unseen], original_weight[unseen])
        )
    other = _numbered(40, 2)
    vote = lambda x: np.median(x, axis=0)  # noqa: E731
    for args in [(original, original_weight), (other,), (original[::-1],)]:
        np.testing.assert_array_equal(ours.predict_weights(*args), theirs.predict_weights(*args))
        np.testing.assert_array_equal(
            ours.predict_weights(*args, vote_function=vote),
            theirs.predict_weights(*args, vote_function=vote),
        )


def test_folds_column_has_equal_sized_folds():
    folds = folds_column(1001, 3, seed=42)
    np.testing.assert_array_equal(np.bincount(folds), [334, 334, 333])
    np.testing.assert_array_equal(folds, folds_column(1001, 3, seed=42))
    assert not np.array_equal(folds, folds_column(1001, 3, seed=43))


def test_folding_messages_refit_and_errors(capsys):
    original, target = _numbered(30, 0), _numbered(20, 1)
    rw = FoldingReweighter(SignatureReweighter(), n_folds=2, random_state=0)
    rw.fit(original, target)
    rw.fit(original, target)  # replaces the fold models (hep_ml would append two more)
    assert len(rw.reweighters) == 2
    assert rw.train_length == 30
    rw.predict_weights(original)
    rw.predict_weights(original[:10])
    rw.predict_weights(original, vote_function=lambda x: x.mean(0))
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3
    assert "each event is weighted by its fold's model" in out[0]
    assert "10 events, not the training length 30" in out[1]
    assert "vote_function" in out[2]
    with pytest.raises(ValueError, match="original has 3 features"):
        rw.predict_weights(np.ones((4, 3)))
    with pytest.raises(ValueError, match="original has 2 features but target has 3"):
        rw.fit(original, np.ones((20, 3)))
    with pytest.raises(ValueError, match="target holds 1 events, fewer than n_folds=2"):
        rw.fit(original, target[:1])
    with pytest.raises(ValueError, match="original_weight has 5 entries"):
        rw.fit(original, target, original_weight=np.ones(5))


# ------------------------------------------------------------------ NNReweighter as an estimator
def test_nn_reweighter_takes_dctr_parameters_and_round_trips():
    rw = NNReweighter(hidden_layer_sizes=(4,), max_epochs=3)
    assert rw.get_params().keys() == DCTRReweighter().get_params().keys()
    assert rw.set_params(max_epochs=2).max_epochs == 2
    copy = clone(rw)
    assert copy.get_params() == rw.get_params()
    assert NNReweighter(**rw.get_params()).get_params() == rw.get_params()

    original, target, _ = _gaussians(1, 500, 0)
    rw.set_params(random_state=0, device="cpu").fit(
        original[:, 0], target[:, 0]
    )  # 1-D: one feature
    assert isinstance(rw.reweighter_, DCTRReweighter)
    assert rw.reweighter_.hidden_layer_sizes == (4,)
    w = rw.predict_weights(original[:, 0])
    doubled = rw.predict_weights(original, original_weight=np.full(len(original), 2.0))
    np.testing.assert_array_equal(doubled, 2 * w)
    np.testing.assert_array_equal(w, rw.reweighter_.predict_weights(original))
    restored = pickle.loads(pickle.dumps(rw))
    np.testing.assert_array_equal(restored.predict_weights(original), w)
    again = clone(rw).fit(original, target)
    np.testing.assert_array_equal(again.predict_weights(original), w)  # seeded
    with pytest.raises(ValueError, match="original_weight has 3 entries"):
        rw.predict_weights(original, original_weight=[1.0, 2.0, 3.0])
