"""The one place for what every public estimator must do: scikit-learn's common checks, and the
shared invariants (shapes, finiteness, unit weights equal no weights, clone, pickle round trip,
same seed same numbers, the training history, one bad-input matrix, the GPU round trip).

A new estimator joins by adding an instance to ``ESTIMATORS`` (small and fast: these run on tiny
data) with its expected failures, and a :class:`Case` to ``CASES``. Per-estimator test files do
not repeat these checks.
"""

import io
import pickle
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
from _label_rule import OWN_LABEL_CHECKS, RELABELLED_CHECKS, label_rule_failures
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

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
from skhep_reweight.datasets import (
    make_camel_back,
    make_conditional_gaussians,
    make_gaussian_reweighting,
    make_gaussian_smearing,
    make_gaussian_transport,
    make_gaussian_unfolding,
    make_parametrized_gaussian,
    make_smearing_mismodeling,
)

_MINIBATCH_REASON = (
    "stochastic mini-batches and a random validation split: an event of weight 2 and the same "
    "event twice land in different batches and splits, so the fits agree statistically, not to "
    "1e-7 (with one full batch and no split they agree to 1e-4, tests/test_nn.py)"
)


def _expected_failed_checks(estimator):
    failures = {}
    if isinstance(estimator, (DCTRReweighter, ConditionalReweighter)):
        failures.update(label_rule_failures(classifier=True))
    if isinstance(estimator, OTCalibrator):
        failures.update(label_rule_failures(classifier=False))
    if isinstance(estimator, (DCTRReweighter, ConditionalReweighter)) and (
        estimator.classifier is None
    ):
        failures["check_sample_weight_equivalence_on_dense_data"] = _MINIBATCH_REASON
    if isinstance(estimator, GaussianAnsatzCalibrator):
        failures["check_sample_weight_equivalence_on_dense_data"] = _MINIBATCH_REASON
    if isinstance(estimator, OTCalibrator) and estimator.method == "neural":
        failures["check_sample_weight_equivalence_on_dense_data"] = _MINIBATCH_REASON
    return failures


ESTIMATORS = [
    DCTRReweighter(max_epochs=30, random_state=0, device="cpu"),
    DCTRReweighter(HistGradientBoostingClassifier(max_iter=20, random_state=0), random_state=0),
    ConditionalReweighter([0], max_epochs=30, random_state=0, device="cpu"),
    ConditionalReweighter(
        [0],
        method="ratio",
        classifier=HistGradientBoostingClassifier(max_iter=20, random_state=0),
        random_state=0,
    ),
    GaussianAnsatzCalibrator(max_epochs=30, random_state=0, device="cpu"),
    OTCalibrator(),
    OTCalibrator(method="neural", hidden_layer_sizes=(8,), max_epochs=3, random_state=0),
    WeightedGANUnweighter(hidden_layer_sizes=(8,), max_epochs=3, random_state=0, device="cpu"),
]


# scikit-learn's checks fit a few epochs on tiny random problems: learning nothing is expected
@pytest.mark.filterwarnings("ignore::skhep_reweight._base.LearnedNothingWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    # scikit-learn's check raises (AssertionError, or the error it expected not raised) on any
    # failure. The instance is shared by all checks of this estimator: none may change its
    # parameters, or a later check would test a different estimator than the one listed.
    params = estimator.get_params(deep=False)
    check(estimator)
    assert estimator.get_params(deep=False) == params


# the estimators that take labels y: the package's label rule fails some scikit-learn checks by
# design (tests/_label_rule.py); here those checks run again with 0/1 labels
LABELLED = [e for e in ESTIMATORS if isinstance(e, (DCTRReweighter, ConditionalReweighter))]
LABELLED += [e for e in ESTIMATORS if isinstance(e, OTCalibrator)]
LABELLED += [
    FoldingReweighter(DCTRReweighter(LogisticRegression()), random_state=0),
    BaggingReweighter(DCTRReweighter(LogisticRegression()), n_estimators=3, random_state=0),
]


def _zero_one(original):
    def enforce(estimator, y):
        y = original(estimator, y)  # binary-only: labels {m, m + 1}
        return (y > y.min()).astype(y.dtype) if y.size else y

    return enforce


@pytest.mark.filterwarnings("ignore::skhep_reweight._base.LearnedNothingWarning")
@pytest.mark.parametrize("check", RELABELLED_CHECKS)
@pytest.mark.parametrize("estimator", LABELLED, ids=repr)
def test_label_dependent_checks_with_zero_one_labels(estimator, check, monkeypatch):
    from sklearn.utils import estimator_checks

    if check == "check_classifier_data_not_an_array" and isinstance(estimator, OTCalibrator):
        pytest.skip("a transformer: scikit-learn runs no classifier check on it")
    original = estimator_checks._enforce_estimator_tags_y
    monkeypatch.setattr(estimator_checks, "_enforce_estimator_tags_y", _zero_one(original))
    getattr(estimator_checks, check)(type(estimator).__name__, clone(estimator))


@pytest.mark.filterwarnings("ignore::skhep_reweight._base.LearnedNothingWarning")
@pytest.mark.parametrize("estimator", LABELLED, ids=repr)
def test_sample_weight_as_a_list_or_a_series_equals_an_array(estimator):
    # what check_sample_weights_not_an_array and _pandas_series test, with 0/1 labels: weights
    # given as a list or a pandas Series fit exactly as the same weights in an array
    pd = pytest.importorskip("pandas")
    assert set(OWN_LABEL_CHECKS) == {
        "check_sample_weights_not_an_array",
        "check_sample_weights_pandas_series",
    }
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (60, 2)), rng.normal(0.5, 1, (60, 2))]
    y = np.r_[np.zeros(60, int), np.ones(60, int)]
    weight = rng.uniform(0.5, 2.0, 120)

    def output(sample_weight, frame=False):
        fitted = clone(estimator).fit(
            pd.DataFrame(X, columns=["a", "b"]) if frame else X, y, sample_weight=sample_weight
        )
        data = pd.DataFrame(X, columns=["a", "b"]) if frame else X
        if isinstance(fitted, OTCalibrator):
            return fitted.transform(data)
        return fitted.predict_weights(data)

    expected = output(weight)
    np.testing.assert_array_equal(output(weight.tolist()), expected)
    np.testing.assert_array_equal(output(pd.Series(weight)), expected)
    np.testing.assert_array_equal(output(pd.Series(weight), frame=True), expected)


@dataclass
class Case:
    """An estimator with the data it fits on, and the output the invariants compare.

    ``fit`` returns the positional and keyword arguments of ``fit`` (``sample_weight`` is added by
    the tests; it weights the rows of the first argument); ``output(fitted, args)`` the numbers a
    user takes from the fitted estimator; ``predict`` the method that takes new events, checked
    for the feature count (None when there is none).
    """

    estimator: Any
    fit: Callable[[], tuple[tuple, dict]]
    output: Callable[[Any, tuple], np.ndarray]
    predict: str | None

    def __repr__(self) -> str:
        params = self.estimator.get_params(deep=False)
        detail = params.get("method") or ""
        return f"{type(self.estimator).__name__}{'-' + detail if detail else ''}"


def _xy(make):
    def fit():
        data = make()
        return (data.X, data.y), {}

    return fit


def _method(name):
    return lambda fitted, args: getattr(fitted, name)(args[0])


def _srgn_fit():
    nominal = make_parametrized_gaussian(600, random_state=0)
    data = make_parametrized_gaussian(500, target_theta=[1.0], random_state=100)
    sim = nominal.y == 0
    return (data.X_sim[data.y == 1],), {
        "X_sim": nominal.X_sim[sim],
        "X_gen": nominal.X[sim],
    }


def _omnifold_fit():
    data = make_gaussian_unfolding(400, n_sim=400, random_state=0)  # one output per row of X
    return (data.X_data,), {"X_sim": data.X_sim, "X_gen": data.X_gen}


def _quadratic_classifier():
    return make_pipeline(StandardScaler(), PolynomialFeatures(2), LogisticRegression())


_SRGN = SRGNFitter(
    make_parametrized_gaussian(1).weight_function,  # the exact weights; picklable
    bounds=[(-2.0, 2.0)],
    classifier=_quadratic_classifier(),
    ftol=1e-2,
    device="cpu",
    random_state=0,
)

CASES = [
    Case(
        DCTRReweighter(max_epochs=5, random_state=0, device="cpu"),
        _xy(lambda: make_gaussian_reweighting(n_samples=400, random_state=0)),
        _method("predict_weights"),
        "predict_weights",
    ),
    *[
        Case(
            ConditionalReweighter([1], method=method, max_epochs=5, random_state=0, device="cpu"),
            _xy(lambda: make_conditional_gaussians(n_samples=400, random_state=0)),
            _method("predict_weights"),
            "predict_weights",
        )
        for method in ("joint", "ratio", "marginal_then_conditional")
    ],
    Case(
        GaussianAnsatzCalibrator(max_epochs=5, random_state=0, device="cpu"),
        lambda: (
            (
                make_gaussian_smearing(800, random_state=0).X,
                make_gaussian_smearing(800, random_state=0).z,
            ),
            {},
        ),
        _method("predict"),
        "predict",
    ),
    Case(
        OTCalibrator(),
        _xy(lambda: make_smearing_mismodeling(400, random_state=0)),
        _method("transform"),
        "transform",
    ),
    Case(
        OTCalibrator(method="discrete"),
        _xy(lambda: make_gaussian_transport(200, random_state=0)),
        _method("transform"),
        "transform",
    ),
    Case(
        OTCalibrator(method="neural", max_epochs=3, random_state=0, device="cpu"),
        _xy(lambda: make_gaussian_transport(200, random_state=0)),
        _method("transform"),
        "transform",
    ),
    Case(
        WeightedGANUnweighter(max_epochs=3, random_state=0, device="cpu"),
        lambda: ((make_camel_back(400, encoding="hybrid", random_state=0).X,), {}),
        lambda fitted, args: fitted.sample(args[0].shape[0], random_state=0),
        "score",
    ),
    Case(_SRGN, _srgn_fit, lambda fitted, args: fitted.theta_, None),
    Case(
        OmniFold(n_iterations=2, max_epochs=3, random_state=0, device="cpu"),
        _omnifold_fit,
        lambda fitted, args: fitted.unfolded_weights_,
        "predict_weights",
    ),
]


def _fit(estimator, case: Case, **extra):
    args, kwargs = case.fit()
    return clone(estimator).fit(*args, **kwargs, **extra), args


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_shared_invariants(case):
    fitted, args = _fit(case.estimator, case)
    out = np.asarray(case.output(fitted, args))
    if case.predict is not None and case.predict != "score":
        assert out.shape[0] == args[0].shape[0]
    assert np.all(np.isfinite(out))
    # unit weights are no weights, to the last bit
    with_ones, _ = _fit(case.estimator, case, sample_weight=np.ones(len(args[0])))
    np.testing.assert_array_equal(case.output(with_ones, args), out)
    # same seed, same result; another seed, other numbers (the exact methods have no seed)
    np.testing.assert_array_equal(case.output(_fit(case.estimator, case)[0], args), out)
    if _is_neural(fitted):
        other, _ = _fit(case.estimator.set_params(random_state=1), case)
        case.estimator.set_params(random_state=0)
        assert not np.array_equal(case.output(other, args), out)
    # clone gives an unfitted copy with the same parameters
    fresh = clone(fitted)
    assert fresh.get_params().keys() == fitted.get_params().keys()
    assert not any(k.endswith("_") and not k.startswith("_") for k in vars(fresh))
    # pickle round trip gives the same numbers
    np.testing.assert_array_equal(case.output(pickle.loads(pickle.dumps(fitted)), args), out)


def _is_neural(fitted) -> bool:
    return hasattr(fitted, "net_") or (
        hasattr(fitted, "n_iter_") and not isinstance(fitted, SRGNFitter)
    )


@pytest.mark.parametrize("case", [c for c in CASES if c.predict is not None], ids=repr)
def test_training_history_the_scikit_learn_way(case):
    fitted, _ = _fit(case.estimator, case)
    if not hasattr(fitted, "net_"):
        pytest.skip("no network trained")
    assert fitted.n_iter_ >= 1
    assert fitted.loss_curve_.shape == (len(fitted.net_.history),) or isinstance(
        fitted, ConditionalReweighter
    )
    assert np.all(np.isfinite(fitted.loss_curve_))


def _bad_inputs(case: Case):
    """(what, fit arguments, keyword arguments, error, message) that every estimator refuses."""
    args, kwargs = case.fit()
    X = args[0]
    n = X.shape[0]
    rest = args[1:]

    def with_x(values):
        return (values, *rest)

    nan, inf = X.copy(), X.copy()
    nan[1, 0], inf[2, 0] = np.nan, np.inf
    zero = np.zeros(n)
    return [
        ("NaN", with_x(nan), kwargs, ValueError, "NaN"),
        ("inf", with_x(inf), kwargs, ValueError, "inf"),
        ("empty", (X[:0], *(r[:0] for r in rest)), kwargs, ValueError, "0 sample|empty|no event"),
        (
            "weight length",
            args,
            {**kwargs, "sample_weight": np.ones(n - 1)},
            ValueError,
            "sample_weight",
        ),
        ("zero-sum weights", args, {**kwargs, "sample_weight": zero}, ValueError, "zero"),
    ]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bad_input_is_refused_with_a_clear_error(case):
    for what, args, kwargs, error, match in _bad_inputs(case):
        estimator = clone(case.estimator)
        with pytest.raises(error, match=match):
            estimator.fit(*args, **kwargs)
        assert not [k for k in vars(estimator) if k.endswith("_") and not k.startswith("_")], what
    if case.predict is not None:
        fitted, args = _fit(case.estimator, case)
        X = args[0]
        with pytest.raises(ValueError, match="features"):
            getattr(fitted, case.predict)(np.hstack([X, X[:, :1]]))


class _TensorSpy(pickle.Pickler):
    """Records the tensors pickled directly: skorch saves a net's module, optimizers and criterion
    with torch.save into bytes of their own (and maps them to the CPU when loading), so it sees
    only the tensors outside those, which a CUDA-trained model could not load without a GPU."""

    def __init__(self, file):
        super().__init__(file)
        self.found = []

    def reducer_override(self, obj):
        if isinstance(obj, (torch.Tensor, torch.UntypedStorage, torch.TypedStorage)):
            self.found.append(type(obj).__name__)
        return NotImplemented


@pytest.mark.parametrize(
    "case", [c for c in CASES if "device" in c.estimator.get_params()], ids=repr
)
def test_pickle_holds_no_tensor_that_skorch_does_not_map(case):
    # The CPU half of the GPU round trip below, so that it runs without a GPU: skorch's
    # EarlyStopping(load_best=True) kept its copy of the best state_dict in the callbacks, and a
    # model trained on a GPU then failed to unpickle on a CPU-only machine ("Attempting to
    # deserialize object on a CUDA device"), found on an H200 where that test first ran.
    fitted, _ = _fit(case.estimator, case)
    spy = _TensorSpy(io.BytesIO())
    spy.dump(fitted)
    assert spy.found == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(
    "case", [c for c in CASES if "device" in c.estimator.get_params()], ids=repr
)
def test_gpu_training_and_unpickling_on_a_cpu_only_machine(case, monkeypatch):
    fitted, args = _fit(case.estimator.set_params(device="cuda"), case)
    case.estimator.set_params(device="cpu")
    if not _is_neural(fitted) and not isinstance(fitted, SRGNFitter):
        pytest.skip("no network trained")
    on_gpu = np.asarray(case.output(fitted, args))
    blob = pickle.dumps(fitted)
    # unpickle as a machine without CUDA would: skorch maps the tensors to the CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*CUDA.*", category=UserWarning)
        on_cpu = pickle.loads(blob)
    if hasattr(on_cpu, "net_"):
        assert str(on_cpu.net_.device) == "cpu"
    np.testing.assert_allclose(case.output(on_cpu, args), on_gpu, rtol=1e-4, atol=1e-6)


def _check_name(check) -> str:
    return getattr(check, "func", check).__name__


def test_expected_failures_name_checks_that_run():
    # An expected failure must name a check scikit-learn actually runs on that estimator, and be
    # the only check marked xfail; a renamed or removed check would otherwise hide silently.
    mark = parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
    # unmarked checks come as (estimator, check) tuples, marked ones as pytest ParameterSets
    params = [(p.values, p.marks) if hasattr(p, "marks") else (p, ()) for p in mark.args[1]]
    for estimator in ESTIMATORS:
        mine = [(values[1], marks) for values, marks in params if values[0] is estimator]
        names = {_check_name(check) for check, _ in mine}
        assert len(names) > 40
        expected = set(_expected_failed_checks(estimator))
        assert expected <= names
        marked = {
            _check_name(check) for check, marks in mine if any(m.name == "xfail" for m in marks)
        }
        assert marked == expected
