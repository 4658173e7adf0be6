"""save/load: every estimator and configuration round-trips to identical predictions, the file
runs no code when loaded, and what the format cannot store is refused with a clear error."""

import functools
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.utils import Bunch
from threadpoolctl import threadpool_limits

from skhep_reweight import (
    BaggingReweighter,
    ConditionalReweighter,
    DCTRReweighter,
    FoldingReweighter,
    GaussianAnsatzCalibrator,
    OmniFold,
    OTCalibrator,
    SRGNFitter,
    WeightedGANUnweighter,
)
from skhep_reweight._nn import predict_network
from skhep_reweight._persist import (
    FORMAT_VERSION,
    HEADER_KEY,
    MAX_HEADER_DEPTH,
    _header_depth,
    load,
    save,
)
from skhep_reweight.datasets import (
    make_camel_back,
    make_conditional_discriminant,
    make_conditional_gaussians,
    make_gaussian_reweighting,
    make_gaussian_smearing,
    make_gaussian_transport,
    make_gaussian_unfolding,
    make_parametrized_gaussian,
    make_smearing_mismodeling,
)

NET = {"max_epochs": 3, "random_state": 0, "device": "cpu"}


def _dctr():
    data = make_gaussian_reweighting(n_samples=400, random_state=0)
    model = DCTRReweighter(hidden_layer_sizes=(8, 8), **NET).fit(data.X, data.y)
    return model, lambda m: m.predict_weights(data.X)


def _dctr_theta():
    data = make_parametrized_gaussian(400, random_state=0)
    model = DCTRReweighter(hidden_layer_sizes=(8, 8), **NET)
    model.fit(data.X, data.y, theta=data.theta)
    return model, lambda m: m.predict_weights(data.X, theta=[0.5])


def _conditional(method):
    def make():
        data = make_conditional_gaussians(n_samples=400, random_state=0)
        model = ConditionalReweighter([1], method=method, hidden_layer_sizes=(8,), **NET)
        return model.fit(data.X, data.y), lambda m: m.predict_weights(data.X)

    return make


def _gaussian_ansatz(n_targets):
    def make():
        data = make_gaussian_smearing(400, random_state=0)
        z = data.z if n_targets == 1 else np.c_[data.z, 2 * data.z]
        model = GaussianAnsatzCalibrator(hidden_layer_sizes=(8,), **NET)
        # three epochs do not converge, and the calibrator says so
        with pytest.warns(UserWarning, match="did not converge"):
            model.fit(data.X, z)

        def output(m):
            estimate, std = m.predict(data.X, return_std=True)
            return np.c_[estimate, std, m.predict_covariance(data.X).reshape(400, -1)]

        return model, output

    return make


def _ot(method, make_data, **kwargs):
    def make():
        data = make_data()
        model = OTCalibrator(method=method, **kwargs).fit(data.X, data.y)
        return model, lambda m: np.c_[m.transform(data.X), m.inverse_transform(data.X)]

    return make


def _gan():
    data = make_camel_back(400, encoding="hybrid", random_state=0)
    model = WeightedGANUnweighter(hidden_layer_sizes=(8,), **NET).fit(data.X)
    return model, lambda m: m.sample(50, random_state=0)


def _srgn_inputs():
    # trained long enough that the fit of theta ends inside the bounds (no warning)
    train = make_parametrized_gaussian(2000, random_state=7)
    reweighter = DCTRReweighter(
        hidden_layer_sizes=(16, 16), batch_size=256, max_epochs=20, random_state=0, device="cpu"
    )
    reweighter.fit(train.X, train.y, theta=train.theta)
    nominal = make_parametrized_gaussian(400, random_state=0)
    data = make_parametrized_gaussian(400, target_theta=[1.0], random_state=100)
    return reweighter, data.X[data.y == 1], nominal.X[nominal.y == 0]


@functools.cache  # the slowest fit, shared by two tests (neither changes it)
def _srgn():
    reweighter, data, gen = _srgn_inputs()
    fitter = SRGNFitter(reweighter, objective="dctr", max_iter=5, random_state=0, device="cpu")
    fitter.fit(data, X_gen=gen)
    return fitter, lambda m: np.r_[m.theta_, m.scan_.theta.ravel(), m.scan_.objective]


def _ensemble(kind):
    def make():
        data = make_gaussian_reweighting(n_samples=400, random_state=0)
        member = DCTRReweighter(hidden_layer_sizes=(4,), **NET)
        if kind == "folding":
            model = FoldingReweighter(member, n_folds=3, random_state=0).fit(data.X, data.y)
            # the training matrix (out-of-fold weights) and other events (the folds' mean)
            return model, lambda m: np.r_[m.predict_weights(data.X), m.predict_weights(data.X[:9])]
        model = BaggingReweighter(member, n_estimators=3, random_state=0).fit(data.X, data.y)
        return model, lambda m: np.r_[m.predict_weights(data.X, return_std=True)]

    return make


def _omnifold(**params):
    def make():
        data = make_gaussian_unfolding(300, n_sim=400, random_state=0)
        model = OmniFold(n_iterations=2, hidden_layer_sizes=(4,), **NET, **params)
        model.fit(data.X_data, X_sim=data.X_sim, X_gen=data.X_gen)
        return model, lambda m: np.r_[m.predict_weights(data.X_gen, return_std=m.n_ensemble > 1)]

    return make


CASES = {
    "dctr": _dctr,
    "omnifold": _omnifold(),
    "omnifold-ensemble-warm": _omnifold(n_ensemble=2, warm_start=True),
    "folding": _ensemble("folding"),
    "bagging": _ensemble("bagging"),
    "dctr-theta": _dctr_theta,
    "conditional-joint": _conditional("joint"),
    "conditional-ratio": _conditional("ratio"),
    "conditional-marginal_then_conditional": _conditional("marginal_then_conditional"),
    "gaussian-ansatz-1": _gaussian_ansatz(1),
    "gaussian-ansatz-2": _gaussian_ansatz(2),
    "ot-quantile": _ot("quantile", lambda: make_smearing_mismodeling(400, random_state=0)),
    "ot-discrete": _ot("discrete", lambda: make_gaussian_transport(200, random_state=0)),
    "ot-neural": _ot(
        "neural",
        lambda: make_gaussian_transport(200, random_state=0),
        hidden_layer_sizes=(8,),
        **NET,
    ),
    "ot-conditional-quantile": _ot(
        "quantile",
        lambda: make_conditional_discriminant(400, random_state=0),
        conditional_features=1,
        n_condition_bins=4,
    ),
    "gan": _gan,
    "srgn": _srgn,
}


def _assert_same_params(a, b):
    """get_params of two estimators are equal, arrays and nested estimators compared by value."""
    pa, pb = a.get_params(deep=False), b.get_params(deep=False)
    assert pa.keys() == pb.keys()
    for key in pa:
        x, y = pa[key], pb[key]
        assert type(x) is type(y), key
        if hasattr(x, "get_params"):
            _assert_same_params(x, y)
        elif isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y)
        else:
            assert x == y, key


def _n_inputs(net):
    """Number of input columns of a net's module, from its constructor arguments."""
    kwargs = net.get_params_for("module")
    for keys in (("n_inputs",), ("n_features", "n_targets"), ("n_moved", "n_condition")):
        if all(k in kwargs for k in keys) and "latent_dim" not in kwargs:
            return sum(kwargs[k] for k in keys)
    return kwargs["latent_dim"]  # a GAN's forward is its generator


def _nets(model):
    """Every skorch net inside a fitted estimator."""
    nets = [v for v in vars(model).values() if hasattr(v, "module_")]
    for value in vars(model).values():
        for inner in value if isinstance(value, list) else [value]:
            if (
                hasattr(inner, "get_params")
                and not hasattr(inner, "module_")
                and inner is not model
            ):
                nets += _nets(inner)
    return nets


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_predicts_identically(name, tmp_path):
    model, output = CASES[name]()
    path = save(model, tmp_path / "model.skhep")
    assert path == tmp_path / "model.skhep"
    assert [p.name for p in tmp_path.iterdir()] == ["model.skhep"]  # no temporary left over
    loaded = load(path)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(output(loaded), output(model))
    _assert_same_params(loaded, model)
    assert set(vars(loaded)) == set(vars(model))
    # the rebuilt networks predict on their own, and the loaded estimator pickles and clones
    nets = _nets(loaded)
    assert len(nets) == len(_nets(model))
    for net, original in zip(nets, _nets(model), strict=True):
        assert net.device == "cpu"
        X = np.random.default_rng(0).normal(size=(5, _n_inputs(net)))
        np.testing.assert_array_equal(predict_network(net, X), predict_network(original, X))
    np.testing.assert_array_equal(output(pickle.loads(pickle.dumps(loaded))), output(model))
    _assert_same_params(clone(loaded), model)
    # load() refuses headers deeper than MAX_HEADER_DEPTH (a hostile file nested hundreds deep);
    # every real model stays far below it (12 at most today), so a deeper one is seen here
    with np.load(path, allow_pickle=False) as archive:
        depth = _header_depth(json.loads(archive[HEADER_KEY].tobytes()))
    assert 6 <= depth <= MAX_HEADER_DEPTH // 2


def test_shared_objects_stay_shared(tmp_path):
    model, _ = _srgn()
    loaded = load(save(model, tmp_path / "srgn.npz"))
    assert loaded.reweighters_[0] is loaded.reweighter
    np.testing.assert_array_equal(loaded.bounds_, model.bounds_)
    np.testing.assert_array_equal(loaded.scan_.member, model.scan_.member)


@pytest.mark.parametrize(
    "model",
    [
        DCTRReweighter(hidden_layer_sizes=(4,), random_state=np.random.RandomState(3)),
        ConditionalReweighter([0, 2], method="ratio"),
        OTCalibrator(method="neural", conditional_features=[True, False], device="cpu"),
        WeightedGANUnweighter(mmd_kernel_widths=(0.5, 1.0)),
    ],
    ids=lambda m: type(m).__name__,
)
def test_unfitted_round_trip(model, tmp_path):
    loaded = load(save(model, str(tmp_path / "unfitted")))
    assert (tmp_path / "unfitted").exists()  # no ".npz" appended
    assert set(vars(loaded)) == set(vars(model))
    params, expected = loaded.get_params(deep=False), model.get_params(deep=False)
    state = params.pop("random_state")
    if isinstance(state, np.random.RandomState):
        assert state.randint(1 << 30) == expected.pop("random_state").randint(1 << 30)
    else:
        assert state == expected.pop("random_state")
    assert params == expected


def test_every_attribute_keeps_its_type(tmp_path):
    model, output = _dctr()
    model.extra_ = {
        "names": np.array(["pt", "eta"]),
        "scalar": np.float32(2.5),
        "integer": np.int64(-3),
        "floats": (float("nan"), float("-inf"), 0.1),
        "bunch": Bunch(a=[1, (2, None)], b=True),
        "empty": np.zeros((0, 3), dtype=np.float16),
    }
    loaded = load(save(model, tmp_path / "m"))
    extra = loaded.extra_
    assert extra.keys() == model.extra_.keys()
    assert extra["names"].dtype == np.dtype("<U3")
    np.testing.assert_array_equal(extra["names"], ["pt", "eta"])
    assert type(extra["scalar"]) is np.float32
    assert extra["scalar"] == 2.5
    assert type(extra["integer"]) is np.int64
    assert extra["integer"] == -3
    assert np.isnan(extra["floats"][0])
    assert extra["floats"][1:] == (float("-inf"), 0.1)
    assert type(extra["bunch"]) is Bunch
    assert extra["bunch"] == {"a": [1, (2, None)], "b": True}
    assert extra["empty"].dtype == np.float16
    assert extra["empty"].shape == (0, 3)
    model.extra_ = np.array([1, "a"], dtype=object)
    with pytest.raises(TypeError, match=r"attribute DCTRReweighter\.extra_.*dtype object"):
        save(model, tmp_path / "m")


def test_feature_names_survive(tmp_path):
    pd = pytest.importorskip("pandas")
    data = make_gaussian_transport(200, random_state=0)
    frame = pd.DataFrame(data.X, columns=["pt", "eta"])
    model = OTCalibrator(conditional_features="eta", n_condition_bins=3).fit(frame, data.y)
    loaded = load(save(model, tmp_path / "m"))
    assert loaded.feature_names_in_.dtype == object
    np.testing.assert_array_equal(loaded.feature_names_in_, ["pt", "eta"])
    np.testing.assert_array_equal(loaded.transform(frame), model.transform(frame))


def test_loading_leaves_torch_random_state_alone(tmp_path):
    model, _ = _dctr()
    path = save(model, tmp_path / "m")
    before = torch.get_rng_state()
    load(path)
    assert torch.equal(before, torch.get_rng_state())


# ---------------------------------------------------------------- safety


class _CreatesFile:
    """Unpickling this object opens (creates) a file: the payload of a malicious pickle."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickle_payload_is_refused_unread(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "model.skhep"
    path.write_bytes(pickle.dumps(_CreatesFile(marker)))
    assert not marker.exists()
    with pytest.raises(ValueError, match="not a skhep_reweight save file"):
        load(path)
    assert not marker.exists()
    # the same payload as an entry of an archive: numpy refuses to unpickle it
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{HEADER_KEY}.npy", pickle.dumps(_CreatesFile(marker)))
    with pytest.raises(ValueError, match="not a skhep_reweight save file"):
        load(path)
    assert not marker.exists()


def _rewrite_header(path, edit):
    """Apply ``edit`` to the JSON header of a saved file, keeping its arrays."""
    with np.load(path, allow_pickle=False) as archive:
        entries = {k: archive[k] for k in archive.files}
    header = json.loads(entries[HEADER_KEY].tobytes())
    edit(header)
    entries[HEADER_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as stream:
        np.savez(stream, **entries)


def test_class_outside_the_allow_list_is_refused(tmp_path):
    path = save(DCTRReweighter(), tmp_path / "m")
    _rewrite_header(path, lambda h: h["estimator"].update({"class": "os.system"}))
    with pytest.raises(ValueError, match="'os.system', which is not in the list"):
        load(path)
    model, _ = _dctr()
    path = save(model, tmp_path / "fitted")

    def rename_module(header):
        header["estimator"]["state"]["net_"]["module"] = "subprocess.Popen"

    _rewrite_header(path, rename_module)
    with pytest.raises(ValueError, match="module class 'subprocess.Popen'"):
        load(path)


def test_newer_format_version_is_refused(tmp_path):
    path = save(DCTRReweighter(), tmp_path / "m")
    _rewrite_header(path, lambda h: h.update({"format_version": FORMAT_VERSION + 1}))
    with pytest.raises(ValueError, match=f"format version {FORMAT_VERSION + 1}.*up to 1"):
        load(path)


def test_other_archive_is_refused(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.arange(3))
    with pytest.raises(ValueError, match="not a skhep_reweight save file"):
        load(path)


# ---------------------------------------------------------------- refusals


def test_scikit_learn_classifier_is_refused_and_no_file_is_left(tmp_path):
    data = make_gaussian_reweighting(n_samples=400, random_state=0)
    unfitted = DCTRReweighter(HistGradientBoostingClassifier(max_iter=5))
    with pytest.raises(TypeError, match=r"parameter DCTRReweighter\.classifier.*skops"):
        save(unfitted, tmp_path / "m")
    # one OpenMP thread: with torch's OpenMP runtime loaded too, the boosting's threads spin
    # for seconds per split on a small shared machine (0.1 s instead of 12 s here)
    with threadpool_limits(1, user_api="openmp"):
        fitted = unfitted.fit(data.X, data.y)
    with pytest.raises(TypeError, match="HistGradientBoostingClassifier.*skops"):
        save(fitted, tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_callable_reweighter_is_refused(tmp_path):
    fitter = SRGNFitter(lambda X, theta: np.ones(len(X)), bounds=[(0.0, 1.0)])
    with pytest.raises(TypeError, match=r"SRGNFitter\.reweighter.*function.*callable"):
        save(fitter, tmp_path / "m")
    with pytest.raises(TypeError, match="save stores an estimator"):
        save({"a": 1}, tmp_path / "m")


def test_failed_save_keeps_the_existing_file(tmp_path):
    path = save(DCTRReweighter(hidden_layer_sizes=(3,)), tmp_path / "m")
    content = path.read_bytes()
    with pytest.raises(TypeError):
        save(DCTRReweighter(HistGradientBoostingClassifier()), path)
    assert path.read_bytes() == content


# ---------------------------------------------------------------- GPU


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_model_loads_on_a_cpu_only_machine(tmp_path, monkeypatch):
    data = make_gaussian_reweighting(n_samples=400, random_state=0)
    model = DCTRReweighter(hidden_layer_sizes=(8,), max_epochs=3, random_state=0, device="cuda")
    model.fit(data.X, data.y)
    expected = model.predict_weights(data.X)
    path = save(model, tmp_path / "m")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = load(path)
    assert loaded.net_.device == "cpu"
    np.testing.assert_allclose(loaded.predict_weights(data.X), expected, rtol=1e-5)
