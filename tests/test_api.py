"""The package's top level: lazy names, and weights through scikit-learn's meta-estimators."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skhep_reweight
from skhep_reweight import DCTRReweighter, predict_weights, weights_from_classifier


def test_import_loads_neither_torch_nor_scikit_learn():
    code = (
        "import sys, skhep_reweight\n"
        "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_every_public_name_resolves():
    for name in skhep_reweight.__all__:
        assert getattr(skhep_reweight, name) is not None, name
    for name in ("io", "diagnostics", "compat", "export", "reweight"):
        assert getattr(skhep_reweight, name).__name__ == f"skhep_reweight.{name}"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        skhep_reweight.nope  # noqa: B018


@pytest.fixture(scope="module")
def samples():
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (1500, 1)), rng.normal(0.5, 1, (1500, 1))] * 10 + 100
    y = np.r_[np.zeros(1500), np.ones(1500)]
    return X, y


def test_predict_weights_reaches_the_reweighter_in_a_pipeline_and_a_search(samples):
    X, y = samples
    net = {"hidden_layer_sizes": (8,), "max_epochs": 5, "random_state": 0, "device": "cpu"}
    pipe = make_pipeline(StandardScaler(), DCTRReweighter(**net)).fit(X, y)
    source = X[y == 0]
    scaled = pipe[0].transform(source)
    expected = pipe[-1].predict_weights(scaled)
    np.testing.assert_array_equal(predict_weights(pipe, source), expected)
    w = np.linspace(0.5, 2, len(source))
    np.testing.assert_array_equal(predict_weights(pipe, source, sample_weight=w), expected * w)
    search = GridSearchCV(pipe, {"dctrreweighter__hidden_layer_sizes": [(4,), (8,)]}, cv=2)
    search.fit(X, y)
    np.testing.assert_array_equal(
        predict_weights(search, source),
        search.best_estimator_[-1].predict_weights(search.best_estimator_[0].transform(source)),
    )
    unrefitted = GridSearchCV(pipe, {"dctrreweighter__max_epochs": [2]}, cv=2, refit=False)
    with pytest.raises(ValueError, match="refit=False"):
        predict_weights(unrefitted.fit(X, y), source)


def test_predict_weights_of_a_plain_classifier_pipeline(samples):
    X, y = samples
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    source = X[y == 0]
    np.testing.assert_allclose(predict_weights(pipe, source), weights_from_classifier(pipe, source))
    # the exact ratio of N(0.5, 1) to N(0, 1) in the scaled units: exp(0.5 z - 0.125)
    z = (source[:, 0] - 100) / 10
    ratio = predict_weights(pipe, source) / np.exp(0.5 * z - 0.125)
    assert np.median(np.abs(ratio - 1)) < 0.1
    with pytest.raises(TypeError, match="takes no"):
        predict_weights(pipe, source, theta=[1.0])
    with pytest.raises(TypeError, match="neither predict_weights nor predict_proba"):
        predict_weights(StandardScaler().fit(X), source)
