"""The one classifier path: a class-balanced weighted classifier between label 0 and label 1.

Every method that learns a density ratio with a classifier (:class:`~skhep_reweight.DCTRReweighter`,
the classical constructions of :class:`~skhep_reweight.ConditionalReweighter`, the per-point
classifier of :class:`~skhep_reweight.SRGNFitter`) trains it here: either the built-in network
(:func:`~skhep_reweight._nn.net.train_binary_classifier`) or a seeded clone of a user's
scikit-learn classifier, and reads its log-ratio back with :func:`raw_log_ratio`.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import has_fit_parameter

from ._nn import predict_network, train_binary_classifier
from ._nn.data import merge_identical_rows
from ._nn.net import WeightedNet
from ._validation import class_balanced_weights

__all__ = [
    "check_learned_something",
    "fit_balanced_classifier",
    "raw_log_ratio",
    "sample_weight_key",
    "seeded_clone",
    "takes_sample_weight",
]


def seeded_clone(classifier: Any, seed: int) -> Any:
    """An unfitted clone whose unset ``random_state`` parameters (nested ones included) get
    ``seed``: the estimator's own ``random_state`` then seeds everything, while an explicit seed
    of the user's classifier is kept."""
    clf = clone(classifier)
    unset = {
        k: seed
        for k, v in clf.get_params(deep=True).items()
        if (k == "random_state" or k.endswith("__random_state")) and v is None
    }
    return clf.set_params(**unset)


def sample_weight_key(classifier: Any) -> str:
    """The ``fit`` keyword that carries event weights: ``sample_weight``, routed to the last
    step of a Pipeline."""
    if isinstance(classifier, Pipeline):
        return f"{classifier.steps[-1][0]}__sample_weight"
    return "sample_weight"


def takes_sample_weight(classifier: Any) -> bool:
    """Whether ``classifier`` (a Pipeline: its last step) can be fitted with ``sample_weight``
    (explicitly or through ``**kwargs``)."""
    if isinstance(classifier, Pipeline):
        classifier = classifier.steps[-1][1]
    if has_fit_parameter(classifier, "sample_weight"):
        return True
    params = inspect.signature(classifier.fit).parameters.values()
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def fit_balanced_classifier(
    classifier: Any,
    X: np.ndarray,
    y01: np.ndarray,
    sample_weight: np.ndarray,
    *,
    seed: int,
    network: dict,
    desc: str,
    weighted: bool = True,
    needs_weights: str | None = None,
) -> tuple[Any, float]:
    """Train a classifier of label 1 against label 0 with the class totals balanced.

    Parameters
    ----------
    classifier : scikit-learn classifier or None
        None trains the built-in network described by ``network``; otherwise a clone seeded by
        ``seed`` (:func:`seeded_clone`) is trained with the balanced weights as its
        ``sample_weight``.
    X, y01, sample_weight : ndarray
        Features, labels 0/1 and the event weights as given (each class's total must be
        positive; they are balanced here).
    seed : int
    network : dict
        ``hidden_layer_sizes``, ``activation`` and the training options of the built-in network
        (:func:`~skhep_reweight._nn.params.network_spec`).
    desc : str
        Label of the progress bar.
    weighted : bool, default=True
        Whether the events carry weights of the user's. A classifier whose ``fit`` takes no
        ``sample_weight`` is then refused (unless the weights are all equal); without weights it
        is trained unweighted and the prior factor is returned instead.
    needs_weights : str, default=None
        When given, a classifier that takes no ``sample_weight`` is always refused, with this
        reason in the message (a method that trains on reweighted events).

    Returns
    -------
    model : fitted WeightedNet or classifier
    prior_ratio : float
        Source over target total weight the classifier saw (1 when balanced).
    """
    balanced = class_balanced_weights(y01, sample_weight)
    if classifier is None:
        net = train_binary_classifier(X, y01, balanced, seed=seed, desc=desc, **network)
        return net, 1.0
    clf = seeded_clone(classifier, seed)
    if takes_sample_weight(clf):
        clf.fit(X, y01, **{sample_weight_key(clf): balanced})
        return clf, 1.0
    name = type(clf).__name__
    if needs_weights is not None:
        raise TypeError(f"{name}.fit takes no sample_weight; {needs_weights}")
    if weighted and not np.allclose(sample_weight, sample_weight[0]):
        raise TypeError(
            f"{name}.fit takes no sample_weight, so it cannot learn from weighted events; give a "
            "classifier that does"
        )
    clf.fit(X, y01)
    return clf, float(np.sum(y01 == 0) / np.sum(y01 == 1))


def raw_log_ratio(model: Any, X: np.ndarray, prior_ratio: float = 1.0) -> np.ndarray:
    """The unclipped log-ratio ``log(prior_ratio * f / (1 - f))`` of a classifier trained by
    :func:`fit_balanced_classifier` (the network's logit directly); infinite where a
    classifier's probability is exactly 0 or 1."""
    if isinstance(model, WeightedNet):
        return predict_network(model, X)[:, 0] + np.log(prior_ratio)
    f = np.asarray(model.predict_proba(X)[:, 1], dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.log(f) - np.log1p(-f) + np.log(prior_ratio)


# A fit counts as having learned something when its held-out gain over a constant exceeds this
# many standard errors, and its weights move the samples at least this share of the way.
_GAIN_SIGNIFICANCE = 2.0
_MIN_SHARE_LEARNED = 0.1


# The KS check of _samples_differ looks at most this many events of each class (10 features of
# 10^6 events a class take 10 s; a difference that only 10^6 events reveal is not one a network
# that learned nothing would be blamed for).
_MAX_CHECKED_EVENTS = 100_000


def _subsample(mask: np.ndarray) -> np.ndarray:
    """The indices of ``mask``, or a seeded subset of ``_MAX_CHECKED_EVENTS`` of them."""
    rows = np.flatnonzero(mask)
    if rows.shape[0] <= _MAX_CHECKED_EVENTS:
        return rows
    chosen = np.random.RandomState(0).choice(rows.shape[0], _MAX_CHECKED_EVENTS, replace=False)
    return rows[np.sort(chosen)]


def _samples_differ(
    model: WeightedNet, X: np.ndarray, y01: np.ndarray, weight: np.ndarray
) -> tuple[str, bool] | None:
    """How the two samples are known to differ, in words, and whether the network's weights
    are flat against that difference; None when the samples are not known to differ.

    The same events in both samples (rows merged by ``merge_identical_rows``) differ when the
    target's share of an event's weight varies between events; the network is flat when its
    log-ratio varies by less than a tenth of the exact per-event log-ratios'. Otherwise the
    samples differ when a feature's weighted KS distance D exceeds its critical value at 1 % / d
    for d features (Bonferroni; effective sizes; at most 10^5 events of each class); the
    network is flat when its log-ratio on the source varies by less than D / 10 (standard
    deviation).
    """
    from .diagnostics._report import ks_critical_value
    from .metrics import weighted_ks_distance

    merged = merge_identical_rows(X, y01, weight)
    if merged is not None:
        rows, label, total = merged
        mean = np.average(label, weights=total)
        spread = float(np.sqrt(np.average((label - mean) ** 2, weights=total)))
        if spread <= 1e-9:
            return None
        mixed = (label > 0) & (label < 1)
        flat = False
        if np.any(mixed):
            exact = np.log(label[mixed]) - np.log1p(-label[mixed])
            learned = predict_network(model, rows[mixed])[:, 0]
            flat = np.std(learned) < _MIN_SHARE_LEARNED * np.std(exact)
        text = (
            f"the samples hold the same events with weights whose target share varies by "
            f"{spread:.2g} (standard deviation) between events"
        )
        return text, bool(flat)
    source, target = _subsample(y01 == 0), _subsample(y01 == 1)
    distance = weighted_ks_distance(X[source], X[target], weight[source], weight[target])
    # the 1 % level for the largest of d distances: each feature at 1 % / d (Bonferroni), so that
    # identical samples are called different in 1 % of fits, not in d %
    level = 0.01 / X.shape[1]
    critical = ks_critical_value(weight[source], weight[target]) * np.sqrt(
        np.log(2 / level) / np.log(2 / 0.01)
    )
    j = int(np.argmax(distance))
    if distance[j] <= critical:
        return None
    # A log-weight s moves a distribution by at most about E|e^s - 1| / 2 in KS distance: closing
    # a distance D takes a spread of s of order D, and one below D / 10 cannot.
    learned = predict_network(model, X[source])[:, 0]
    spread = float(np.std(learned))
    text = (
        f"feature {j} alone differs (weighted KS distance {distance[j]:.3g}, above the 1 % "
        f"critical value {critical:.3g}; the learned log-weights vary by {spread:.2g})"
    )
    return text, spread < _MIN_SHARE_LEARNED * distance[j]


def check_learned_something(
    model: Any, X: np.ndarray, y01: np.ndarray, sample_weight: np.ndarray, name: str
) -> tuple[float, float] | None:
    """Warn (:class:`~skhep_reweight.LearnedNothingWarning`) when a built-in network learned
    nothing measurable from samples that differ.

    Two failures are caught, both only when :func:`_samples_differ` finds the samples
    different: the network's held-out gain over the best constant classifier (recorded by
    :class:`~skhep_reweight._nn.callbacks.HeldOutGain` on the validation split) is not above
    twice its standard error; or the gain is significant but the weights are flat (their
    spread is a tenth of what the difference takes: a learning rate too small to move the
    network from its constant start).

    Returns
    -------
    (gain, standard_error) or None
        None for a user's classifier or a fit without a validation split (nothing to judge).
    """
    import warnings

    from ._base import LearnedNothingWarning
    from ._errors import caller_stacklevel

    record = getattr(model, "held_out_gain_", None) if isinstance(model, WeightedNet) else None
    if record is None:
        return None
    gain, error = record["gain"], record["standard_error"]
    found = _samples_differ(model, X, y01, sample_weight)
    if found is None:
        return gain, error
    difference, flat = found
    if gain > _GAIN_SIGNIFICANCE * error:
        if not flat:
            return gain, error
        what = (
            f"its weights are nearly flat (the cross-entropy is lower than a constant "
            f"classifier's by only {gain:.3g} +- {error:.3g} per event on its "
            f"{record['n_events']} validation events)"
        )
    else:
        what = (
            f"on its {record['n_events']} validation events the network's cross-entropy is "
            f"lower than a constant classifier's by {gain:.3g} +- {error:.3g} per event, not "
            "more than twice its standard error"
        )
    warnings.warn(
        f"{name} learned nothing measurable: {what}, while {difference}. Its weights are noise "
        "around a constant. Try: more events; a longer fit (early_stopping=False with a fixed "
        "max_epochs, or a larger n_iter_no_change); a larger batch_size or learning_rate; or a "
        "gradient-boosted classifier through classifier=",
        LearnedNothingWarning,
        stacklevel=caller_stacklevel(),
    )
    return gain, error
