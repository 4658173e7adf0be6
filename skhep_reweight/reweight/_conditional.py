"""ConditionalReweighter: neural conditional reweighting w(x | x') = q(x|x') / p(x|x')."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    check_is_fitted,
    validate_data,
)

from .._nn import (
    NETWORK_PARAMETER_CONSTRAINTS,
    MarginalConditionalMLP,
    MarginalJointCrossEntropy,
    derive_seeds,
    network_options,
    predict_network,
    standardization_stats,
    train_network,
)
from .._nn.params import check_hidden_layer_sizes
from .._validation import (
    check_binary_labels,
    check_event_weights,
    check_score_labels,
    class_balanced_weights,
)
from ._dctr import DCTRReweighter, _stack_samples, _takes_sample_weight
from ._weights import (
    DEFAULT_PROBA_CLIP,
    _max_log_ratio,
    balanced_cross_entropy,
    clip_log_ratio,
    proba_from_log_ratio,
)

__all__ = ["ConditionalReweighter", "resolve_conditional_features"]

METHODS = ("joint", "ratio", "marginal_then_conditional")


def resolve_conditional_features(
    conditional_features, n_features: int, feature_names=None
) -> np.ndarray:
    """Column indices of x' from ``conditional_features`` (indices, names or a boolean mask).

    Parameters
    ----------
    conditional_features : int, str, or array-like of int, str or bool
        The conditioning columns: indices (negative ones count from the end), names of
        DataFrame columns, or a boolean mask over the columns.
    n_features : int
        Number of columns of X.
    feature_names : ndarray of str, default=None
        The column names of X when it was a DataFrame.

    Returns
    -------
    index : ndarray of int
        Sorted indices of the conditioning columns; at least one column remains for x. A column
        named twice raises.

    Examples
    --------
    >>> resolve_conditional_features([-1], 3)
    array([2])
    >>> import numpy as np
    >>> resolve_conditional_features("pt_true", 2, np.array(["pt_reco", "pt_true"]))
    array([1])
    """
    if conditional_features is None:
        raise ValueError(
            "conditional_features is None: name the columns of x' that the weights are "
            "conditioned on (column indices, or names when X is a DataFrame)"
        )
    items = np.atleast_1d(np.asarray(conditional_features, dtype=object))
    if items.ndim != 1 or items.size == 0:
        raise ValueError(
            f"conditional_features must name at least one column, got {conditional_features!r}"
        )
    if all(isinstance(v, (bool, np.bool_)) for v in items):
        if items.size != n_features:
            raise ValueError(
                f"conditional_features is a boolean mask of length {items.size}, but X has "
                f"{n_features} feature(s)"
            )
        index = np.flatnonzero(items.astype(bool))
    elif all(isinstance(v, str) for v in items):
        if feature_names is None:
            raise ValueError(
                f"conditional_features names columns {list(items)}, but X has no column names "
                "(fit on a DataFrame, or give column indices)"
            )
        names = list(feature_names)
        missing = [v for v in items if v not in names]
        if missing:
            raise ValueError(f"conditional_features names columns {missing} that X lacks: {names}")
        index = np.array([names.index(v) for v in items], dtype=np.int64)
    elif all(isinstance(v, (Integral, np.integer)) and not isinstance(v, bool) for v in items):
        index = items.astype(np.int64)
        bad = index[(index < -n_features) | (index >= n_features)]
        if bad.size:
            raise ValueError(
                f"conditional_features holds column indices {bad.tolist()} outside the "
                f"{n_features} feature(s) of X"
            )
        index = np.where(index < 0, index + n_features, index)
    else:
        raise TypeError(
            "conditional_features must be column indices, column names or a boolean mask, "
            f"got {conditional_features!r}"
        )
    if np.unique(index).size != index.size:
        raise ValueError(f"conditional_features names a column twice: {conditional_features!r}")
    index = np.sort(index)
    if index.size == 0:
        raise ValueError("conditional_features selects no column")
    if index.size == n_features:
        raise ValueError(
            f"X has {n_features} feature(s) and conditional_features names all of them; the "
            "reweighted features x must be at least one column besides the conditioning x'"
        )
    return index


class ConditionalReweighter(ClassifierMixin, BaseEstimator):
    r"""Neural conditional reweighting: :math:`w(x \mid x') = q(x \mid x') / p(x \mid x')`.

    The columns of X are split into the conditioning features :math:`x'` (named by
    ``conditional_features``; typically particle-level truth) and the reweighted features
    :math:`x` (the rest; typically the detector response). A source sample with density
    :math:`p(x, x')` (label 0) is reweighted towards a target :math:`q(x, x')` (label 1) in
    :math:`x` at fixed :math:`x'`: the weighted source follows :math:`p(x')\, q(x \mid x')`, its
    :math:`x'` spectrum is left alone and the weights average to one at every :math:`x'`,

    .. math::

        \int p(x \mid x')\, w(x \mid x')\, dx = 1 ,

    so a correction of the detector response learned on one truth spectrum applies to any
    other [1]_.

    **Single training** (``method="joint"``, the default). The model is a sum
    :math:`s(x, x') = g(x') + h(x, x')` of two networks, :math:`g` seeing only :math:`x'`. Both
    are trained together on the class-balanced weighted loss

    .. math::

        L[g, h] = -\sum_{i \in q} \tilde w_i \left[\log\sigma(g_i) + \log\sigma(g_i + h_i)\right]
                  -\sum_{i \in p} \tilde w_i \left[\log(1 - \sigma(g_i))
                  + \log(1 - \sigma(g_i + h_i))\right],

    with :math:`\sigma` the logistic function, :math:`g_i = g(x'_i)`, :math:`h_i = h(x_i, x'_i)`
    and :math:`\tilde w_i` the event weights rescaled so that each class sums to half the events.
    The first term is the cross-entropy of a classifier of :math:`x'` alone, minimized by
    :math:`g = \log q(x')/p(x')`. Whatever :math:`g` is, :math:`h` is free to make :math:`g + h`
    any function of :math:`(x, x')`, so the second term is minimized by
    :math:`g + h = \log q(x, x')/p(x, x')`, the log-ratio a DCTR classifier learns (eqs. 1-2 of
    [2]_). At the optimum therefore

    .. math::

        h(x, x') = \log\frac{q(x, x')}{p(x, x')} - \log\frac{q(x')}{p(x')}
                 = \log\frac{q(x \mid x')}{p(x \mid x')}, \qquad w(x \mid x') = e^{h(x, x')}.

    *Phase-space holes.* Where one sample has no events at :math:`x'` (say the source, in a
    region :math:`H`), the log-ratios diverge: only target events lie in :math:`H`, and their loss
    pushes :math:`g \to +\infty` and :math:`g + h \to +\infty`. The gradients of a target
    event's loss are :math:`\partial\ell/\partial g = -\sigma(-g) - \sigma(-(g+h))` and
    :math:`\partial\ell/\partial h = -\sigma(-(g+h))`: the divergence is taken up by :math:`g`,
    on which both terms push, and the pull on :math:`h` dies out as :math:`g` grows. For a free
    value at a single point under gradient flow, :math:`g` grows like :math:`\log t` and
    :math:`h` only like :math:`\log\log t` (a heuristic: the network couples points, and
    training uses AdamW and early stopping). :math:`h` is not bounded, but its pull is so weak
    that its values in :math:`H` are set by continuity from the populated neighbourhood, where
    :math:`h` is pinned to the conditional ratio. On the Gaussian example with no source events at
    :math:`|x'| < 0.5`, the weights at :math:`x' = 0` stay within 1-3% of the exact ones
    (``tests/test_conditional.py``). The two classical constructions have no such protection:

    - ``method="ratio"``: a joint classifier :math:`s(x, x')` and a marginal classifier
      :math:`g(x')` trained separately, :math:`h = s - g`. In :math:`H` both diverge, each at its
      own speed and each clipped on its own, and :math:`h` is the difference of two unconstrained
      large numbers.
    - ``method="marginal_then_conditional"``: :math:`g(x')` first, then a classifier :math:`h`
      of :math:`(x, x')` between the source weighted by :math:`e^{g(x')}` and the target. The
      second classifier still sees target events in :math:`H` and no source events, so :math:`h`
      itself is pushed to :math:`+\infty` there; and near :math:`H` the source events carry the
      large marginal weights :math:`e^{g}`.

    Both are available for comparison and for tree classifiers (``classifier``), which cannot
    be trained on the joint loss.

    Parameters
    ----------
    conditional_features : int, str, or array-like of int, str or bool
        The columns of :math:`x'`: indices, DataFrame column names, or a boolean mask. Every
        other column is reweighted. Required (None raises in ``fit``).
    method : {"joint", "ratio", "marginal_then_conditional"}, default="joint"
        The single training with the loss above, the ratio of a joint and a marginal
        classifier, or reweighting :math:`x'` first and classifying afterwards.
    classifier : classifier with ``predict_proba``, default=None
        For ``method="ratio"`` and ``"marginal_then_conditional"``: a scikit-learn classifier
        (a BDT, a Pipeline) used for both classifiers instead of the built-in network, as in
        :class:`DCTRReweighter`. The joint loss needs the built-in network (a classifier raises).
    hidden_layer_sizes : tuple of int, default=(50, 50, 50)
        Hidden layers of each network (g and h, or the two classifiers).
    activation : str, default="silu"
    learning_rate : float, default=1e-3
    batch_size : int, default=1024
    max_epochs : int, default=100
    early_stopping : bool, default=True
        Stop on the validation loss (the whole joint loss for ``"joint"``) and keep the best epoch.
    validation_fraction : float, default=0.2
    n_iter_no_change : int, default=10
    weight_decay : float, default=0.0
    proba_clip : float, default=1e-6
        The log-ratios are clipped to :math:`\pm\log((1 - c)/c)` (each classifier's for the
        classical methods, and :math:`h` itself), bounding the weights by about ``1/proba_clip``.
    device : {"auto", "cpu", "cuda"}, default="auto"
    random_state : int, RandomState instance or None, default=None
        Seeds everything; with an int, two fits on the CPU give identical weights.
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        ``classes_[0]`` marks the source, ``classes_[1]`` the target.
    conditional_index_ : ndarray of int
        Column indices of :math:`x'`.
    net_ : skorch net
        ``method="joint"``: the network with outputs :math:`(g, h)`.
    marginal_reweighter_ : DCTRReweighter
        The classical methods: the fitted classifier of :math:`x'` alone.
    joint_reweighter_ : DCTRReweighter
        ``method="ratio"``: the fitted classifier of :math:`(x, x')`.
    conditional_reweighter_ : DCTRReweighter
        ``method="marginal_then_conditional"``: the classifier of :math:`(x, x')` trained on the
        marginally reweighted source.
    n_clipped_ : int
        Events whose weight involves a clipped log-ratio (:math:`h`, and for ``"ratio"`` also
        the joint or the marginal classifier's): on the training sample after ``fit``, then in
        the latest ``predict_weights`` call.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Notes
    -----
    *What the classifier methods return.* ``decision_function`` is the conditional log-ratio
    :math:`h(x, x')`, ``predict_weights`` is :math:`e^{h}` (times ``sample_weight``), and
    ``predict_proba`` is :math:`\sigma(h)`: the probability of the target class for an event
    whose :math:`x'` is equally likely in both samples. The marginal part is
    ``marginal_decision_function``.

    *Score.* ``score`` is minus the sum of the two class-balanced cross-entropies of the loss
    above, of :math:`g` and of :math:`g + h`, on the given events. Each is a proper scoring rule,
    so the true ratios maximize it; ``GridSearchCV`` needs no ``scoring`` argument, and the three
    methods can be compared on it.

    *Negative event weights* enter the losses with their sign, as in :class:`DCTRReweighter`.

    References
    ----------
    .. [1] B. Nachman, J. Thaler, "Neural conditional reweighting", Phys. Rev. D 105, 076015
           (2022), arXiv:2107.08979.
    .. [2] A. Andreassen, S.-C. Hsu, B. Nachman, N. Suaysom, A. Suresh, "Parameter estimation
           using neural networks in the presence of detector effects", Phys. Rev. D 103, 036001
           (2021), arXiv:2010.03569.

    Examples
    --------
    >>> import numpy as np
    >>> from skhep_reweight import ConditionalReweighter
    >>> rng = np.random.RandomState(0)
    >>> truth_p, truth_q = rng.normal(0, 1, 3000), rng.normal(1, 1, 3000)
    >>> reco_p = truth_p + rng.normal(0.0, 1.0, 3000)
    >>> reco_q = truth_q + rng.normal(0.3, 1.0, 3000)
    >>> source = np.column_stack([reco_p, truth_p])
    >>> target = np.column_stack([reco_q, truth_q])
    >>> rw = ConditionalReweighter(conditional_features=[1], hidden_layer_sizes=(16, 16),
    ...                            learning_rate=1e-2, max_epochs=20, random_state=0)
    >>> rw = rw.fit_samples(source, target)
    >>> w = rw.predict_weights(source)
    >>> shift = np.average(reco_p - truth_p, weights=w)
    >>> print(round(float(w.mean()), 1), round(float(shift), 1))
    1.0 0.3
    """

    _parameter_constraints: dict = {
        **NETWORK_PARAMETER_CONSTRAINTS,
        "conditional_features": [None, "array-like", Integral, str],
        "method": [StrOptions(set(METHODS))],
        "classifier": [None, HasMethods(["fit", "predict_proba"])],
        "proba_clip": [Interval(Real, 0, 0.5, closed="neither")],
    }

    def __init__(
        self,
        conditional_features=None,
        *,
        method: str = "joint",
        classifier=None,
        hidden_layer_sizes=(50, 50, 50),
        activation: str = "silu",
        learning_rate: float = 1e-3,
        batch_size: int = 1024,
        max_epochs: int = 100,
        early_stopping: bool = True,
        validation_fraction: float = 0.2,
        n_iter_no_change: int = 10,
        weight_decay: float = 0.0,
        proba_clip: float = DEFAULT_PROBA_CLIP,
        device: str = "auto",
        random_state=None,
        verbose: int = 0,
    ) -> None:
        self.conditional_features = conditional_features
        self.method = method
        self.classifier = classifier
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.weight_decay = weight_decay
        self.proba_clip = proba_clip
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y, sample_weight=None) -> ConditionalReweighter:
        """Learn the conditional ratio target/source from stacked samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Events of both samples, the columns of x and x' together.
        y : array-like of shape (n_samples,)
            0 for source rows, 1 for target rows (any two labels: the larger one is the target).
        sample_weight : array-like of shape (n_samples,), default=None
            Event weights, negative ones included; each class's weights must sum to a positive
            number. The classes are rescaled to equal totals internally.

        Returns
        -------
        self : ConditionalReweighter
        """
        self._validate_params()
        if self.method == "joint" and self.classifier is not None:
            raise ValueError(
                "method='joint' trains the built-in network on the joint loss and cannot use "
                f"classifier={self.classifier!r}; give method='ratio' or "
                "'marginal_then_conditional' to use a scikit-learn classifier"
            )
        if (
            self.method == "marginal_then_conditional"
            and self.classifier is not None
            and not _takes_sample_weight(self.classifier)
        ):
            raise TypeError(
                f"method='marginal_then_conditional' trains its second classifier on the source "
                f"weighted by the marginal ratio, but {type(self.classifier).__name__}.fit takes "
                "no sample_weight; give a classifier that does, or method='ratio'"
            )
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        self.conditional_index_ = resolve_conditional_features(
            self.conditional_features, X.shape[1], getattr(self, "feature_names_in_", None)
        )
        self.classes_, y01 = check_binary_labels(y)
        weight = check_event_weights(sample_weight, X.shape[0])
        balanced = class_balanced_weights(y01, weight)
        for stale in (
            "net_",
            "marginal_reweighter_",
            "joint_reweighter_",
            "conditional_reweighter_",
        ):
            self.__dict__.pop(stale, None)

        marginal_seed, second_seed = derive_seeds(self.random_state, 2)
        if self.method == "joint":
            self._fit_joint(X, y01, balanced, marginal_seed)
        else:
            self.marginal_reweighter_ = self._reweighter(marginal_seed).fit(
                X[:, self.conditional_index_], y01, sample_weight=weight
            )
            if self.method == "ratio":
                self.joint_reweighter_ = self._reweighter(second_seed).fit(
                    X, y01, sample_weight=weight
                )
            else:
                g = self.marginal_reweighter_.decision_function(X[:, self.conditional_index_])
                moved = np.where(y01 == 0, weight * np.exp(g), weight)
                self.conditional_reweighter_ = self._reweighter(second_seed).fit(
                    X, y01, sample_weight=moved
                )
        _, _, self.n_clipped_ = self._log_ratios(X)
        return self

    def fit_samples(
        self, source, target, source_weight=None, target_weight=None
    ) -> ConditionalReweighter:
        """Fit from the two samples, as hep_ml's ``GBReweighter.fit(original, target)``.

        Parameters
        ----------
        source : array-like of shape (n_source, n_features)
            The sample to be reweighted, columns of x and x' together.
        target : array-like of shape (n_target, n_features)
            The sample whose conditional distribution of x given x' is reproduced.
        source_weight, target_weight : array-like of shape (n_source,) / (n_target,), default=None

        Returns
        -------
        self : ConditionalReweighter
        """
        X, y, weight = _stack_samples(source, target, source_weight, target_weight)
        return self.fit(X, y, sample_weight=weight)

    def _fit_joint(self, X, y01, balanced, seed) -> None:
        loc, scale = standardization_stats(X, balanced)
        self.net_ = train_network(
            MarginalConditionalMLP,
            {
                "n_inputs": X.shape[1],
                "conditional_index": self.conditional_index_,
                "hidden_layer_sizes": check_hidden_layer_sizes(self.hidden_layer_sizes),
                "activation": self.activation,
                "loc": loc,
                "scale": scale,
            },
            MarginalJointCrossEntropy,
            X,
            y01.astype(np.float32),
            balanced,
            seed=seed,
            desc="conditional reweighting",
            **network_options(self),
        )

    def _reweighter(self, seed) -> DCTRReweighter:
        """A DCTRReweighter with this estimator's settings, for the classical methods."""
        return DCTRReweighter(
            self.classifier,
            hidden_layer_sizes=self.hidden_layer_sizes,
            activation=self.activation,
            proba_clip=self.proba_clip,
            random_state=seed,
            **network_options(self),
        )

    # ------------------------------------------------------------------ prediction
    def _validated(self, X) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def _log_ratios(self, X) -> tuple[np.ndarray, np.ndarray, int]:
        """Clipped log-ratios g(x') and h(x, x'), and the number of events whose weight involves a
        clipped value."""
        bound = _max_log_ratio(self.proba_clip)
        component_clipped = np.zeros(X.shape[0], dtype=bool)
        if self.method == "joint":
            out = predict_network(self.net_, X)
            g, _ = clip_log_ratio(out[:, 0], self.proba_clip)
            raw_h = out[:, 1]
        else:
            g = self.marginal_reweighter_.decision_function(X[:, self.conditional_index_])
            if self.method == "ratio":
                s = self.joint_reweighter_.decision_function(X)
                component_clipped = (np.abs(g) >= bound) | (np.abs(s) >= bound)
                raw_h = s - g
            else:
                raw_h = self.conditional_reweighter_.decision_function(X)
        h, _ = clip_log_ratio(raw_h, self.proba_clip)
        n_clipped = int(np.count_nonzero(component_clipped | (np.abs(h) >= bound)))
        return g, h, n_clipped

    def predict_weights(self, X, sample_weight=None) -> np.ndarray:
        """The per-event conditional ratio q(x|x')/p(x|x') (times ``sample_weight``).

        Not renormalized: predicting in batches gives the same numbers as predicting at once,
        and the mean over the source events at any x' is close to one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Events of the source sample (x and x' columns as in ``fit``).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights the events already carry.

        Returns
        -------
        weights : ndarray of shape (n_samples,)
        """
        X = self._validated(X)
        _, h, self.n_clipped_ = self._log_ratios(X)
        return np.exp(h) * check_event_weights(sample_weight, X.shape[0])

    def decision_function(self, X) -> np.ndarray:
        """The clipped conditional log-ratio h(x, x') = log(q(x|x')/p(x|x'))."""
        return self._log_ratios(self._validated(X))[1]

    def marginal_decision_function(self, X) -> np.ndarray:
        """The clipped marginal log-ratio g(x') = log(q(x')/p(x')) learned alongside; ``exp`` of
        it reweights the x' spectrum."""
        return self._log_ratios(self._validated(X))[0]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities at equal x' densities: column 1 is sigma(h(x, x'))."""
        s = self.decision_function(X)
        return proba_from_log_ratio(s)

    def predict(self, X) -> np.ndarray:
        """The more likely class at equal x' densities (the sign of h)."""
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(int)]

    def score(self, X, y, sample_weight=None) -> float:
        """Minus the loss of the single training on these events (higher is better).

        The sum of the class-balanced weighted cross-entropies of the marginal logit g(x') and
        of the joint logit g + h: a proper scoring rule for the pair, the same for the three
        methods, so that model selection with the default score picks the best ratio.
        """
        check_is_fitted(self)
        y01 = check_score_labels(y, self.classes_, X)
        weight = check_event_weights(sample_weight, y01.shape[0])
        g, h, _ = self._log_ratios(self._validated(X))
        return -(
            balanced_cross_entropy(y01, g, weight) + balanced_cross_entropy(y01, g + h, weight)
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = False
        return tags
