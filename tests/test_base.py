"""What the base layer gives an estimator: a reweighter defined here in a few lines gets
``fit_samples``, ``predict_weights``, ``score`` and scikit-learn's common checks from
:class:`skhep_reweight._base.BaseReweighter`; an interrupted fit leaves no fitted model."""

import os
import signal
import threading
import warnings

import numpy as np
import pytest
from _label_rule import label_rule_failures
from scipy.stats import norm
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhep_reweight import DCTRReweighter
from skhep_reweight._base import BaseReweighter, OutOfRangeWarning, fit_method
from skhep_reweight._validation import check_event_weights
from skhep_reweight.reweight import clip_log_ratio


class LogisticReweighter(BaseReweighter):
    """A logistic regression on the features; its logit is the log-ratio."""

    _parameter_constraints: dict = {"C": [float]}

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    @fit_method
    def fit(self, X, y, sample_weight=None):
        X, y01 = self._validate_fit_input(X, y)
        weight = check_event_weights(sample_weight, X.shape[0])
        self.model_ = LogisticRegression(C=self.C).fit(X, y01, sample_weight=weight)
        return self

    def _log_ratio(self, features):
        return clip_log_ratio(self.model_.decision_function(features), 1e-6)


@parametrize_with_checks(
    [LogisticReweighter()], expected_failed_checks=lambda e: label_rule_failures(classifier=True)
)
def test_a_few_lines_pass_the_common_checks(estimator, check):
    # scikit-learn's check raises on any failure; no check may change the shared instance
    params = estimator.get_params()
    check(estimator)
    assert estimator.get_params() == params


def _shifted_gaussians(n, seed):
    rng = np.random.RandomState(seed)
    source, target = rng.normal(0.0, 1.0, (n, 1)), rng.normal(0.5, 1.0, (n, 1))
    return source, target


def test_the_base_gives_weights_score_and_fit_samples():
    source, target = _shifted_gaussians(20_000, 0)
    rw = LogisticReweighter().fit_samples(source, target)
    x = np.linspace(-2, 2, 9)[:, None]
    exact = norm.pdf(x[:, 0], 0.5) / norm.pdf(x[:, 0], 0.0)  # exp(0.5 x - 0.125)
    np.testing.assert_allclose(rw.predict_weights(x), exact, rtol=0.05)
    np.testing.assert_allclose(
        rw.predict_weights(x, sample_weight=np.full(9, 2.0)), 2 * rw.predict_weights(x)
    )
    # predict_proba, predict and decision_function agree with the log-ratio
    s = rw.decision_function(x)
    np.testing.assert_allclose(rw.predict_proba(x)[:, 1], 1 / (1 + np.exp(-s)))
    np.testing.assert_array_equal(rw.predict(x), (s > 0).astype(int))
    # score is minus the balanced cross-entropy: the true ratio beats a flat one
    X = np.r_[source, target]
    y = np.r_[np.zeros(len(source)), np.ones(len(target))]
    flat = LogisticReweighter(C=1e-12).fit(X, y)
    assert rw.score(X, y) > flat.score(X, y) + 0.02
    assert rw.score(X, y) == pytest.approx(-np.log(2) + 0.0303, abs=0.003)  # log 2 - BCE = KL/2-ish
    # model selection with the default score
    search = GridSearchCV(LogisticReweighter(), {"C": [1e-12, 1.0]}, cv=2).fit(X, y)
    assert search.best_params_ == {"C": 1.0}


def test_prediction_writes_nothing_on_the_estimator():
    source, target = _shifted_gaussians(2_000, 1)
    rw = DCTRReweighter(hidden_layer_sizes=(8,), max_epochs=3, random_state=0, device="cpu")
    rw.fit_samples(source, target)
    before = {k: v for k, v in vars(rw).items() if k != "net_"}
    with pytest.warns(OutOfRangeWarning, match="20 of 2020 events"):
        rw.predict_weights(np.r_[source, np.full((20, 1), 40.0)])
    rw.score(np.r_[source, target], np.r_[np.zeros(2000), np.ones(2000)])
    after = {k: v for k, v in vars(rw).items() if k != "net_"}
    assert before.keys() == after.keys()
    assert all(np.array_equal(before[k], after[k]) for k in before if k.endswith("_"))


def test_mixing_a_dataframe_and_an_array_raises():
    pd = pytest.importorskip("pandas")
    source, target = _shifted_gaussians(50, 2)
    with pytest.raises(TypeError, match="source is a DataFrame but target is not"):
        LogisticReweighter().fit_samples(pd.DataFrame(source, columns=["x"]), target)


def test_friendly_input_errors():
    pd = pytest.importorskip("pandas")
    source, target = _shifted_gaussians(50, 3)
    X = np.r_[source, target][:, 0]
    y = np.r_[np.zeros(50), np.ones(50)]
    with pytest.raises(ValueError, match="X must be 2-D") as info:
        LogisticReweighter().fit(X, y)
    assert len(str(info.value)) < 300  # the values are not printed
    frame = pd.DataFrame({"pt": X, "mu": ["a"] * 100})
    with pytest.raises(ValueError, match="column 'mu'"):
        LogisticReweighter().fit(frame, y)


def test_a_reweighter_without_a_log_ratio_cannot_be_made():
    class Incomplete(BaseReweighter):
        def fit(self, X, y):
            return self

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()


@pytest.mark.signals
def test_interrupted_fit_raises_and_leaves_no_fitted_model():
    # A real SIGINT, as Ctrl-C sends, while the network trains: skorch swallows
    # KeyboardInterrupt and would return a half-trained model that looks fitted.
    source, target = _shifted_gaussians(20_000, 4)
    rw = DCTRReweighter(max_epochs=1, random_state=0, device="cpu")
    rw.fit_samples(source[:100], target[:100])  # torch's lazy imports done before the signal
    # a fit of seconds, not hours: a signal that is missed fails the test when the fit ends
    rw.set_params(max_epochs=150, early_stopping=False)
    # a runner that ignores SIGINT (nohup, a background job of a non-interactive shell) passes
    # SIG_IGN on, and Python keeps it: Ctrl-C's handler is installed for this test
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt, match="interrupted in epoch"):
            rw.fit_samples(source, target)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    with pytest.raises(NotFittedError):
        rw.predict_weights(source)
    assert not [k for k in vars(rw) if k.endswith("_")]


def test_out_of_range_warning_counts_events_and_names_features():
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    source = pd.DataFrame({"pt": rng.uniform(0, 1, 300), "eta": rng.uniform(-1, 1, 300)})
    target = pd.DataFrame({"pt": rng.uniform(0, 1, 300), "eta": rng.uniform(-1, 1, 300)})
    rw = LogisticReweighter().fit_samples(source, target)
    low = np.minimum(source.min(), target.min()).to_numpy()
    high = np.maximum(source.max(), target.max()).to_numpy()
    np.testing.assert_array_equal(rw.feature_range_, np.vstack([low, high]))
    inside = pd.DataFrame({"pt": [0.5, high[0]], "eta": [low[1], 0.0]})  # the edges are inside
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rw.predict_weights(inside)
        rw.decision_function(inside)
    outside = pd.DataFrame({"pt": [0.5, 2.0, -1.0, 3.0], "eta": [0.0, 0.0, 0.0, 5.0]})
    message = (
        r"3 of 4 events lie outside .*'pt' .*1 below, 2 above; feature 'eta' .*0 below, 1 above"
    )
    with pytest.warns(OutOfRangeWarning, match=message) as record:
        rw.predict_weights(outside)
    assert record[0].filename == __file__  # points at the caller, not inside the package
    with pytest.warns(OutOfRangeWarning):
        rw.decision_function(outside)


def test_second_sample_in_place_of_labels_points_to_fit_samples():
    source, target = _shifted_gaussians(100, 4)
    for y in (target, np.c_[target, target], target[:, 0]):
        with pytest.raises(ValueError, match="fit_samples"):
            LogisticReweighter().fit(source, y)
