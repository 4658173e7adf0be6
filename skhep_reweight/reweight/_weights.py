r"""From a classifier to event weights: the numerics behind every reweighter.

A classifier :math:`f(x)` trained with the binary cross-entropy to separate a source sample
(label 0, density :math:`p`) from a target sample (label 1, density :math:`q`) with equal class
totals approaches :math:`f = q / (p + q)`, so that

.. math::

    w(x) = \frac{f(x)}{1 - f(x)} = \frac{q(x)}{p(x)}, \qquad
    \log w(x) = \operatorname{logit} f(x),

eq. (2) of [1]_. When the class totals differ, the ratio carries the prior factor
:math:`\pi = W_0 / W_1` (the source over the target total weight): :math:`w = \pi f / (1-f)`.

Outputs at the edges of phase space can reach :math:`f \in \{0, 1\}`; the probability is clipped to
:math:`[c, 1 - c]` first, that is the log-ratio to :math:`\pm\log((1-c)/c)`.

References
----------
.. [1] A. Andreassen, S.-C. Hsu, B. Nachman, N. Suaysom, A. Suresh, "Parameter estimation using
       neural networks in the presence of detector effects", Phys. Rev. D 103, 036001 (2021),
       arXiv:2010.03569.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit
from sklearn.utils.validation import check_is_fitted

from .._validation import check_event_weights, class_balanced_weights

__all__ = [
    "DEFAULT_PROBA_CLIP",
    "balanced_cross_entropy",
    "clip_log_ratio",
    "log_ratio_from_proba",
    "predict_weights",
    "proba_from_log_ratio",
    "weights_from_classifier",
]

# Probabilities are clipped to [c, 1 - c]: the weights are then bounded by (1 - c) / c ~ 1e6,
# which removes the infinities of a saturated classifier without touching any ordinary weight.
DEFAULT_PROBA_CLIP = 1e-6


def _max_log_ratio(proba_clip: float) -> float:
    if not 0.0 < proba_clip < 0.5:
        raise ValueError(f"proba_clip must lie in (0, 0.5), got {proba_clip!r}")
    return float(np.log1p(-proba_clip) - np.log(proba_clip))


def clip_log_ratio(
    log_ratio: ArrayLike, proba_clip: float = DEFAULT_PROBA_CLIP
) -> tuple[np.ndarray, int]:
    """Clip a log density ratio to the range that probabilities in ``[c, 1 - c]`` allow.

    Parameters
    ----------
    log_ratio : array-like of shape (n_samples,)
        :math:`\\log w`, possibly infinite.
    proba_clip : float in (0, 0.5), default=1e-6
        The clip :math:`c` on the classifier probability.

    Returns
    -------
    clipped : ndarray of shape (n_samples,)
    n_clipped : int
        How many entries lay outside the range.

    Examples
    --------
    >>> clip_log_ratio([0.0, 50.0, -np.inf], proba_clip=0.01)
    (array([ 0.        ,  4.59511985, -4.59511985]), 2)
    """
    bound = _max_log_ratio(proba_clip)
    log_ratio = np.asarray(log_ratio, dtype=np.float64)
    if np.isnan(log_ratio).any():
        raise ValueError(
            "the classifier returned NaN for some events: it diverged in training or was given "
            "inputs it cannot handle"
        )
    outside = np.abs(log_ratio) > bound
    return np.clip(log_ratio, -bound, bound), int(np.count_nonzero(outside))


def log_ratio_from_proba(
    proba: ArrayLike, prior_ratio: float = 1.0, proba_clip: float = DEFAULT_PROBA_CLIP
) -> tuple[np.ndarray, int]:
    """:math:`\\log(\\pi f/(1-f))` from target-class probabilities :math:`f`, clipped.

    Returns the clipped log-ratio and the number of events clipped.
    """
    f = np.asarray(proba, dtype=np.float64)
    with np.errstate(divide="ignore"):
        raw = np.log(f) - np.log1p(-f) + np.log(prior_ratio)
    return clip_log_ratio(raw, proba_clip)


def proba_from_log_ratio(log_ratio: ArrayLike) -> np.ndarray:
    """Class probabilities ``[1 - f, f]`` at equal class totals, ``f = sigmoid(log_ratio)``.

    >>> proba_from_log_ratio([0.0])
    array([[0.5, 0.5]])
    """
    f = expit(np.asarray(log_ratio, dtype=np.float64))
    return np.column_stack([1.0 - f, f])


def weights_from_classifier(
    classifier: Any,
    X: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    prior_ratio: float = 1.0,
    proba_clip: float = DEFAULT_PROBA_CLIP,
    target_class: Any = None,
) -> np.ndarray:
    """Turn any fitted probabilistic classifier into density-ratio weights.

    The classifier (any estimator with ``predict_proba``: a gradient-boosted tree, a Pipeline, a
    :class:`~skhep_reweight.DCTRReweighter`) must have been trained to separate the source from the
    target sample with equal class totals, or ``prior_ratio`` must carry the ratio of the source to
    the target total weight used in its training.

    Parameters
    ----------
    classifier : fitted classifier with ``predict_proba`` and ``classes_``
    X : array-like of shape (n_samples, n_features)
        Events of the source sample to weight.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights the events already carry; the result is their product with the ratio.
    prior_ratio : float, default=1.0
        Source total over target total in the classifier's training (1 when balanced).
    proba_clip : float, default=1e-6
        Probabilities are clipped to ``[proba_clip, 1 - proba_clip]``.
    target_class : label, default=None
        The label of the target sample; by default the second entry of ``classes_``.

    Returns
    -------
    weights : ndarray of shape (n_samples,)
        :math:`w(x) = \\pi f(x) / (1 - f(x))` times ``sample_weight``; not renormalized.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(0, 1, (2000, 1)), rng.normal(0.5, 1, (2000, 1))]
    >>> y = np.r_[np.zeros(2000), np.ones(2000)]
    >>> clf = LogisticRegression().fit(X, y)
    >>> w = weights_from_classifier(clf, X[y == 0])
    >>> print(round(float(w.mean()), 1))
    1.0
    """
    check_is_fitted(classifier)
    if not hasattr(classifier, "predict_proba"):
        raise TypeError(
            f"{type(classifier).__name__} has no predict_proba; weights need probabilities"
        )
    if not prior_ratio > 0:
        raise ValueError(f"prior_ratio must be positive, got {prior_ratio!r}")
    classes = list(classifier.classes_)
    if len(classes) != 2:
        raise ValueError(f"the classifier must be binary, it has classes {classes}")
    column = 1 if target_class is None else classes.index(target_class)
    proba = classifier.predict_proba(X)[:, column]
    log_ratio, _ = log_ratio_from_proba(proba, prior_ratio, proba_clip)
    return np.exp(log_ratio) * check_event_weights(sample_weight, proba.shape[0])


def predict_weights(
    model: Any, X: ArrayLike, sample_weight: ArrayLike | None = None, **params: Any
) -> np.ndarray:
    """Weights from a fitted reweighter, wherever it sits: alone, at the end of a ``Pipeline``,
    or inside a fitted ``GridSearchCV``/``RandomizedSearchCV``.

    Meta-estimators of scikit-learn know ``predict_proba`` but not ``predict_weights``; this
    function finds the reweighter: a search's ``best_estimator_`` (it must have been refitted),
    a pipeline's last step after the earlier steps' ``transform``, then the model's own
    ``predict_weights`` (a reweighter of this package, or anything with hep_ml's interface).
    A plain probabilistic classifier at the end gets :func:`weights_from_classifier`, which
    assumes it was trained with equal class totals.

    Parameters
    ----------
    model : fitted reweighter, Pipeline, search or probabilistic classifier
    X : array-like of shape (n_samples, n_features)
        Events to weight, as the model's first step takes them.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights the events already carry; the result is their product with the ratio.
    **params
        Passed to the reweighter's ``predict_weights`` (``theta=`` of a parametrized
        :class:`DCTRReweighter`).

    Returns
    -------
    weights : ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skhep_reweight import DCTRReweighter, predict_weights
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(0, 1, (500, 1)), rng.normal(0.5, 1, (500, 1))]
    >>> y = np.r_[np.zeros(500), np.ones(500)]
    >>> pipe = make_pipeline(StandardScaler(), DCTRReweighter(max_epochs=3, random_state=0))
    >>> search = GridSearchCV(pipe, {"dctrreweighter__hidden_layer_sizes": [(8,)]}, cv=2)
    >>> w = predict_weights(search.fit(X, y), X[y == 0])
    >>> w.shape
    (500,)
    """
    from sklearn.pipeline import Pipeline

    while True:
        if hasattr(model, "best_estimator_"):
            model = model.best_estimator_
        elif hasattr(model, "cv_results_") and hasattr(model, "estimator"):
            raise ValueError(
                f"{type(model).__name__} was fitted with refit=False: it holds no model to "
                "predict with; refit it, or take the estimator you choose from cv_results_"
            )
        elif isinstance(model, Pipeline):
            for _, step in model.steps[:-1]:
                if step is not None and step != "passthrough":
                    X = step.transform(X)
            model = model.steps[-1][1]
        else:
            break
    if hasattr(model, "predict_weights"):
        if sample_weight is None:
            return np.asarray(model.predict_weights(X, **params), dtype=np.float64)
        return np.asarray(model.predict_weights(X, sample_weight, **params), dtype=np.float64)
    if hasattr(model, "predict_proba"):
        if params:
            raise TypeError(
                f"{type(model).__name__} is a plain classifier: it takes no {sorted(params)}"
            )
        return weights_from_classifier(model, X, sample_weight=sample_weight)
    raise TypeError(
        f"{type(model).__name__} has neither predict_weights nor predict_proba: it cannot give "
        "weights"
    )


def balanced_cross_entropy(
    y01: np.ndarray, log_ratio: np.ndarray, sample_weight: np.ndarray
) -> float:
    r"""Weighted binary cross-entropy with class totals balanced, from the log-ratio.

    .. math::

        \mathrm{BCE} = \frac{1}{N}\sum_i \tilde w_i\left[y_i \log(1 + e^{-s_i})
                       + (1 - y_i)\log(1 + e^{s_i})\right],

    with :math:`s_i = \log w(x_i)` and :math:`\tilde w` the weights rescaled so that each class
    sums to :math:`N/2`. It is minimized by the true density ratio (a proper scoring rule), so
    minus it ranks models by how well they learned :math:`q/p`.
    """
    w = class_balanced_weights(y01, sample_weight)
    per_event = np.where(y01 == 1, np.logaddexp(0.0, -log_ratio), np.logaddexp(0.0, log_ratio))
    return float(np.mean(w * per_event))
