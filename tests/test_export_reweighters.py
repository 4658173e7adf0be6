"""ONNX export of the reweighters and of the GAN's generator: parity with the estimators."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhep_reweight import ConditionalReweighter, DCTRReweighter, WeightedGANUnweighter
from skhep_reweight.export._reweighters import export_gan, export_reweighter

ort = pytest.importorskip("onnxruntime")

# The parity checks evaluate the graph and the estimator on events spread twice as wide as the
# training samples, beyond the training ranges on purpose (the clipping is part of what they
# compare): the estimator's OutOfRangeWarning is expected there.
pytestmark = pytest.mark.filterwarnings("ignore::skhep_reweight._base.OutOfRangeWarning")

# Float32 networks in both: the graph and the estimator agree to float32 rounding of the logit.
RTOL = 1e-5
# Fresh events for the parity checks, and how many of them also go through one at a time.
N_FRESH = 10_000
N_SINGLE = 20
TINY = {"hidden_layer_sizes": (8,), "max_epochs": 2, "batch_size": 256, "device": "cpu"}


def _samples(n=1500, n_features=3, seed=0):
    rng = np.random.RandomState(seed)
    source = rng.normal(0.0, 1.0, size=(n, n_features))
    target = rng.normal(0.7, 1.2, size=(n, n_features))
    return source, target


def _fresh(n_features, seed=1, scale=2.0):
    """Events as float32 (what the graph takes); the estimator gets the same values."""
    return (
        np.random.RandomState(seed)
        .normal(0.3, scale, size=(N_FRESH, n_features))
        .astype(np.float32)
    )


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _max_relative(a, b):
    return float(np.max(np.abs(a - b) / np.abs(b)))


def _check_weights(path, expected, **inputs):
    """onnxruntime's "weight" on all events at once and on the first ones one by one."""
    session = _session(path)
    assert [o.name for o in session.get_outputs()] == ["weight"]
    (got,) = session.run(None, inputs)
    assert got.shape == expected.shape
    assert got.dtype == np.float64
    single = np.concatenate(
        [
            session.run(None, {k: v[i : i + 1] for k, v in inputs.items()})[0]
            for i in range(N_SINGLE)
        ]
    )
    rel = _max_relative(got, expected)
    assert rel < RTOL, rel
    assert _max_relative(single, expected[:N_SINGLE]) < RTOL
    return rel


@pytest.fixture(scope="module")
def dctr():
    source, target = _samples()
    # 10 epochs: the weights must reach the clip at both ends
    return DCTRReweighter(proba_clip=0.3, random_state=0, **{**TINY, "max_epochs": 10}).fit_samples(
        source, target
    )


def test_dctr_parity_and_clip(dctr, tmp_path, one_torch_thread):
    path = export_reweighter(dctr, tmp_path / "dctr.onnx")
    assert path == tmp_path / "dctr.onnx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dctr.onnx"]  # no temporary, no data
    X = _fresh(3, scale=4.0)
    expected = dctr.predict_weights(X.astype(np.float64))
    bound = 0.7 / 0.3  # the clip is in the graph: events reach both ends
    assert np.isclose(expected.max(), bound)
    assert np.isclose(expected.min(), 1 / bound)
    _check_weights(path, expected, X=X)
    inputs = _session(path).get_inputs()
    assert [(i.name, i.shape) for i in inputs] == [("X", ["batch", 3])]


def test_parametrized_dctr_parity_inside_range(tmp_path, one_torch_thread):
    rng = np.random.RandomState(0)
    source, _ = _samples(n_features=2)
    theta = rng.uniform(0.0, 1.0, size=(1500, 1))
    target = rng.normal(theta, 1.0, size=(1500, 2))
    rw = DCTRReweighter(random_state=0, **TINY).fit_samples(source, target, target_theta=theta)
    path = export_reweighter(rw, tmp_path / "param.onnx")
    X = _fresh(2)
    assert [i.name for i in _session(path).get_inputs()] == ["X", "theta"]
    for point in (0.05, 0.5, 0.95):
        t = np.full((N_FRESH, 1), point, dtype=np.float32)
        expected = rw.predict_weights(X.astype(np.float64), theta=[float(t[0, 0])])
        _check_weights(path, expected, X=X, theta=t)


@pytest.mark.parametrize("method", ["joint", "ratio", "marginal_then_conditional"])
def test_conditional_parity(method, tmp_path, one_torch_thread):
    source, target = _samples()
    rw = ConditionalReweighter(
        conditional_features=[0, 2], method=method, proba_clip=0.05, random_state=0, **TINY
    ).fit_samples(source, target)
    path = export_reweighter(rw, tmp_path / "conditional.onnx")
    X = _fresh(3, scale=3.0)
    _check_weights(path, rw.predict_weights(X.astype(np.float64)), X=X)


@pytest.mark.parametrize(
    "classifier",
    [
        LogisticRegression(),
        make_pipeline(StandardScaler(), LogisticRegression()),
        GradientBoostingClassifier(n_estimators=10, max_depth=2),
    ],
    ids=["logistic", "pipeline", "gradient_boosting"],
)
def test_sklearn_classifier_parity(classifier, tmp_path):
    source, target = _samples()
    rw = DCTRReweighter(classifier, proba_clip=1e-3, random_state=0).fit_samples(source, target)
    path = export_reweighter(rw, tmp_path / "sklearn.onnx")
    X = _fresh(3, scale=3.0)
    _check_weights(path, rw.predict_weights(X.astype(np.float64)), X=X)


def test_parametrized_sklearn_classifier_parity(tmp_path):
    rng = np.random.RandomState(0)
    source, _ = _samples(n_features=2)
    theta = rng.uniform(0.0, 1.0, size=(1500, 1))
    target = rng.normal(theta, 1.0, size=(1500, 2))
    rw = DCTRReweighter(LogisticRegression(), random_state=0)
    rw.fit_samples(source, target, target_theta=theta)
    path = export_reweighter(rw, tmp_path / "param.onnx")
    X = _fresh(2)
    t = np.full((N_FRESH, 1), 0.3, dtype=np.float32)
    expected = rw.predict_weights(X.astype(np.float64), theta=[float(t[0, 0])])
    _check_weights(path, expected, X=X, theta=t)


@pytest.mark.parametrize("method", ["ratio", "marginal_then_conditional"])
def test_conditional_sklearn_classifier_parity(method, tmp_path):
    source, target = _samples()
    rw = ConditionalReweighter(
        conditional_features=[1], method=method, classifier=LogisticRegression(), proba_clip=0.01
    ).fit_samples(source, target)
    path = export_reweighter(rw, tmp_path / "conditional.onnx")
    X = _fresh(3, scale=3.0)
    _check_weights(path, rw.predict_weights(X.astype(np.float64)), X=X)


def test_hist_gradient_boosting_exports_or_says_why(tmp_path):
    """skl2onnx's converter for HistGradientBoostingClassifier depends on the scikit-learn
    version: either the graph agrees or the TypeError names the converter's failure."""
    source, target = _samples()
    clf = HistGradientBoostingClassifier(max_iter=5)
    rw = DCTRReweighter(clf, random_state=0).fit_samples(source, target)
    try:
        path = export_reweighter(rw, tmp_path / "hgb.onnx")
    except TypeError as error:
        message = str(error)
    else:
        X = _fresh(3)
        _check_weights(path, rw.predict_weights(X.astype(np.float64)), X=X)
        return
    assert "HistGradientBoostingClassifier" in message
    assert "no working ONNX converter" in message
    assert not list(tmp_path.iterdir())


class _NoConverter(ClassifierMixin, BaseEstimator):
    """A classifier skl2onnx has never heard of."""

    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.unique(y)
        self.mean_ = np.asarray(X).mean(axis=0)
        return self

    def predict_proba(self, X):
        f = 1 / (1 + np.exp(-(np.asarray(X) - self.mean_).sum(axis=1)))
        return np.column_stack([1 - f, f])


def test_unsupported_configurations_raise(tmp_path):
    source, target = _samples(n=200)
    rw = DCTRReweighter(_NoConverter()).fit_samples(source, target)
    with pytest.raises(TypeError, match="_NoConverter.*no working ONNX converter"):
        export_reweighter(rw, tmp_path / "custom.onnx")
    rw = ConditionalReweighter(
        conditional_features=[0], method="ratio", classifier=_NoConverter()
    ).fit_samples(source, target)
    with pytest.raises(TypeError, match="_NoConverter.*no working ONNX converter"):
        export_reweighter(rw, tmp_path / "conditional.onnx")
    with pytest.raises(NotFittedError):
        export_reweighter(DCTRReweighter(), tmp_path / "unfitted.onnx")
    with pytest.raises(NotFittedError):
        export_gan(WeightedGANUnweighter(), tmp_path / "unfitted.onnx")
    with pytest.raises(TypeError, match="WeightedGANUnweighter"):
        export_reweighter(WeightedGANUnweighter(), tmp_path / "gan.onnx")
    assert not list(tmp_path.iterdir())


def test_gan_parity_with_sample(tmp_path, one_torch_thread):
    X = np.random.RandomState(0).normal([100.0, -3.0], [20.0, 0.5], size=(600, 2))
    gan = WeightedGANUnweighter(
        latent_dim=3, hidden_layer_sizes=(8,), max_epochs=2, device="cpu", random_state=0
    ).fit(X)
    path = export_gan(gan, tmp_path / "gan.onnx")
    session = _session(path)
    assert [(i.name, i.shape) for i in session.get_inputs()] == [("noise", ["batch", 3])]
    assert [o.name for o in session.get_outputs()] == ["events"]
    # the noise sample(n, random_state=0) draws
    noise = np.random.RandomState(0).standard_normal((N_FRESH, 3)).astype(np.float32)
    (got,) = session.run(None, {"noise": noise})
    expected = gan.sample(N_FRESH, random_state=0)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-6)
    single = np.concatenate([session.run(None, {"noise": noise[i : i + 1]})[0] for i in range(5)])
    np.testing.assert_allclose(single, expected[:5], rtol=RTOL, atol=1e-6)
