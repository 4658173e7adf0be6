"""ONNX export of the calibrators: parity of onnxruntime with the estimators' own predictions."""

import copy
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from skhep_reweight import GaussianAnsatzCalibrator, OTCalibrator
from skhep_reweight.export._calibrators import (
    _NeuralGraph,
    convex_potential_gradient,
    export_gaussian_ansatz,
    export_ot,
)

ort = pytest.importorskip("onnxruntime")

# The graph reproduces the estimator to float32 rounding: RTOL relative, and ATOL times the
# largest |value| of the output for the values near zero, where a float32 sum of terms of the
# output's size cannot be more precise than a few units in the last place of those terms.
RTOL = 1e-5
ATOL = 1e-6
N_FRESH = 10_000
N_SINGLE = 10
TINY = {"hidden_layer_sizes": (8, 8), "max_epochs": 2, "batch_size": 256, "device": "cpu"}


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    return None


def _fresh(n_features, seed=1, scale=2.0):
    """Events as float32 (what the graph takes); the estimator gets the same values."""
    rng = np.random.RandomState(seed)
    return rng.normal(0.3, scale, size=(N_FRESH, n_features)).astype(np.float32)


def _run(path, X):
    """onnxruntime's outputs on all events at once, and on the first N_SINGLE one at a time."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    full = session.run(None, {"X": X})
    single = [session.run(None, {"X": X[i : i + 1]}) for i in range(N_SINGLE)]
    single = [np.concatenate([s[k] for s in single]) for k in range(len(names))]
    return names, full, single


def _assert_close(got, expected):
    expected = np.asarray(expected, dtype=np.float64)
    scale = ATOL * float(np.abs(expected).max())
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=scale)


# ------------------------------------------------------------------------ Gaussian Ansatz
@pytest.mark.parametrize("n_targets", [1, 2, 3])
def test_gaussian_ansatz_parity(tmp_path, n_targets):
    rng = np.random.RandomState(n_targets)
    z = rng.normal(size=(1500, n_targets))
    X = np.hstack([z + rng.normal(0.0, 0.5, z.shape), rng.normal(size=(1500, 1))]) * 3.0 + 1.0
    cal = GaussianAnsatzCalibrator(**TINY, early_stopping=False, random_state=0)
    with warnings.catch_warnings():
        # two epochs may leave the bound below zero: its ConvergenceWarning is beside the point
        warnings.simplefilter("ignore", ConvergenceWarning)
        cal.fit(X, z[:, 0] if n_targets == 1 else z)
    path = export_gaussian_ansatz(cal, tmp_path / "ga.onnx")
    Xt = _fresh(X.shape[1], scale=4.0)
    names, full, single = _run(path, Xt)
    estimate, std = cal.predict(Xt, return_std=True)
    expected = [estimate, std]
    if n_targets == 1:
        assert names == ["estimate", "std"]
        assert full[0].shape == (N_FRESH,)
    else:
        assert names == ["estimate", "std", "covariance"]
        expected.append(cal.predict_covariance(Xt))
        assert full[2].shape == (N_FRESH, n_targets, n_targets)
    for got, one, want in zip(full, single, expected, strict=True):
        assert got.shape == want.shape
        _assert_close(got, want)
        _assert_close(one, want[:N_SINGLE])


def test_gaussian_ansatz_unfitted(tmp_path):
    with pytest.raises(NotFittedError):
        export_gaussian_ansatz(GaussianAnsatzCalibrator(), tmp_path / "ga.onnx")
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------ quantile maps
def _two_samples(n_features, n=800, seed=0):
    rng = np.random.RandomState(seed)
    sim = rng.normal(0.0, 1.0, size=(n, n_features))
    data = rng.normal(1.0, 2.0, size=(n, n_features))
    data[:, -1] = sim[:, -1] + rng.normal(0.0, 0.1, n)  # the conditioning column, alike
    return np.vstack([sim, data]), np.repeat([0, 1], n)


@pytest.mark.parametrize("policy", ["shift", "clip"])
@pytest.mark.parametrize("conditional", [False, True])
def test_quantile_parity(tmp_path, policy, conditional):
    X, y = _two_samples(2 if conditional else 1)
    options = {"conditional_features": [1], "n_condition_bins": 3} if conditional else {}
    cal = OTCalibrator(method="quantile", out_of_range=policy, **options).fit(X, y)
    path = export_ot(cal, tmp_path / "ot.onnx")
    Xt = _fresh(X.shape[1], scale=3.0)  # many events beyond the fitted range
    expected = cal.transform(Xt)
    names, (got,), (one,) = _run(path, Xt)
    assert names == ["X_calibrated"]
    assert got.shape == Xt.shape
    _assert_close(got, expected)
    _assert_close(one, expected[:N_SINGLE])
    if conditional:
        np.testing.assert_array_equal(got[:, 1], Xt[:, 1])  # passed through


def test_quantile_raise_marks_events_out_of_range(tmp_path):
    X, y = _two_samples(1)
    cal = OTCalibrator(method="quantile", out_of_range="raise").fit(X, y)
    path = export_ot(cal, tmp_path / "ot.onnx")
    Xt = _fresh(1, scale=3.0)
    (knots,) = [m.x_knots_ for m in cal.maps_]
    outside = (Xt[:, 0] < knots[0]) | (Xt[:, 0] > knots[-1])
    assert outside.any()
    assert not outside.all()
    _, (got,), _ = _run(path, Xt)
    np.testing.assert_array_equal(np.isnan(got[:, 0]), outside)
    _assert_close(got[~outside], cal.transform(Xt[~outside]))


# ------------------------------------------------------------------------ neural maps
@pytest.fixture(scope="module", params=[None, [2]], ids=["plain", "conditional"])
def neural(request):
    X, y = _two_samples(3, n=600)
    cal = OTCalibrator(method="neural", conditional_features=request.param, random_state=0, **TINY)
    return cal.fit(X, y)


def test_neural_parity(tmp_path, neural):
    path = export_ot(neural, tmp_path / "ot.onnx")
    Xt = _fresh(3)
    expected = neural.transform(Xt)
    names, (got,), (one,) = _run(path, Xt)
    assert names == ["X_calibrated"]
    _assert_close(got, expected)
    _assert_close(one, expected[:N_SINGLE])


@pytest.mark.parametrize("activation", ["softplus", "elu", "leaky_relu", "relu"])
def test_closed_form_gradient_is_autograd(neural, activation):
    """In float64 the hand-written backward pass equals autograd's to rounding."""
    graph = _NeuralGraph(neural).double()
    graph.activation = activation
    module = copy.deepcopy(neural.net_.module_).double()
    potential = module.f["potential"]
    potential.activation = {
        "softplus": torch.nn.Softplus(),
        "elu": torch.nn.ELU(),
        "leaky_relu": torch.nn.LeakyReLU(),
        "relu": torch.nn.ReLU(),
    }[activation]
    graph.potential = potential
    X = torch.from_numpy(_fresh(3)[:500].astype(np.float64))
    inputs = torch.cat([X[:, neural.moved_], X[:, neural.conditional_index_]], dim=1)
    expected = module(inputs)
    got = graph(X)[:, neural.moved_]
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    u, c = module._split(inputs)
    e = module._context(module.f, c)
    direct = convex_potential_gradient(potential, activation, u, e)
    torch.testing.assert_close(module.loc + module.scale * direct, expected, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------ what is refused
def test_discrete_is_refused(tmp_path):
    cal = OTCalibrator(method="discrete")
    cal.method_ = "discrete"  # as fitted (the fit itself needs POT)
    cal.n_features_in_ = 2
    with pytest.raises(TypeError, match="nearest"):
        export_ot(cal, tmp_path / "ot.onnx")
    assert not list(tmp_path.iterdir())


def test_unfitted_and_unknown_options(tmp_path):
    with pytest.raises(NotFittedError):
        export_ot(OTCalibrator(), tmp_path / "ot.onnx")
    X, y = _two_samples(1, n=50)
    cal = OTCalibrator(method="quantile").fit(X, y)
    with pytest.raises(TypeError, match="unexpected export options"):
        export_ot(cal, tmp_path / "ot.onnx", batch=3)


def test_file_is_self_contained_and_replaced(tmp_path):
    onnx = pytest.importorskip("onnx")
    X, y = _two_samples(1, n=50)
    cal = OTCalibrator(method="quantile").fit(X, y)
    target = tmp_path / "ot.onnx"
    target.write_text("old")
    assert export_ot(cal, target) == target
    assert [p.name for p in tmp_path.iterdir()] == ["ot.onnx"]  # no temporary, no data file
    model = onnx.load(str(target), load_external_data=False)
    assert not any(onnx.external_data_helper.uses_external_data(t) for t in model.graph.initializer)
    (x,) = model.graph.input
    assert x.name == "X"
    assert x.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
