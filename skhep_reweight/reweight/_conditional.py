"""ConditionalReweighter: neural conditional reweighting w(x | x') = q(x|x') / p(x|x')."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from .._base import BaseReweighter, fit_method
from .._classifier import takes_sample_weight
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
    check_event_weights,
    class_balanced_weights,
    resolve_columns,
    small_sample_told_once,
    warn_small_sample,
)
from ._dctr import DCTRReweighter
from ._stream import check_sources, prepare_stream
from ._weights import (
    DEFAULT_PROBA_CLIP,
    _max_log_ratio,
    balanced_cross_entropy,
    clip_log_ratio,
)

__all__ = ["ConditionalReweighter", "resolve_conditional_features"]

METHODS = ("joint", "ratio", "marginal_then_conditional")


def resolve_conditional_features(
    conditional_features: ArrayLike | int | str | None,
    n_features: int,
    feature_names: np.ndarray | None = None,
) -> np.ndarray:
    """Column indices of x' from ``conditional_features`` (indices, names or a boolean mask),
    by :func:`~skhep_reweight._validation.resolve_columns`; at least one column remains for x.

    Examples
    --------
    >>> resolve_conditional_features([-1], 3)
    array([2])
    """
    if conditional_features is None:
        raise ValueError(
            "conditional_features is None: name the columns of x' that the weights are "
            "conditioned on (column indices, or names when X is a DataFrame)"
        )
    return resolve_columns(
        conditional_features, n_features, feature_names, name="conditional_features"
    )


class ConditionalReweighter(BaseReweighter):
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
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
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
    feature_range_ : ndarray of shape (2, n_features)
        Minimum and maximum of every feature over the training rows (both samples). More
        events outside it than a sample of the training distribution would give raise an
        ``OutOfRangeWarning`` at prediction time, with their count.
    n_range_events_ : int
        The smaller class's number of training events: the size against which the count of
        events outside ``feature_range_`` is tested (see
        :class:`~skhep_reweight.OutOfRangeWarning`).
    n_clipped_ : int
        Training events whose weight involves a clipped log-ratio (:math:`h`, and for
        ``"ratio"`` also the joint or the marginal classifier's). Prediction writes nothing on
        the estimator.
    n_iter_ : int
        Epochs trained (built-in networks; the two classifiers' together for the classical
        methods).
    loss_curve_, validation_loss_curve_ : ndarray of shape (n_epochs,) or None
        Training and validation loss per epoch of the joint network (of the second classifier
        for the classical methods; the marginal one's are on ``marginal_reweighter_``).
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
        conditional_features: ArrayLike | int | str | None = None,
        *,
        method: str = "joint",
        classifier: Any = None,
        hidden_layer_sizes: int | tuple[int, ...] = (50, 50, 50),
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
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self._set_params_from_init(locals())

    # ------------------------------------------------------------------ fitting
    @fit_method
    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> ConditionalReweighter:
        """Learn the conditional ratio target/source from stacked samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Events of both samples, the columns of x and x' together.
        y : array-like of shape (n_samples,)
            0 (or False) for source rows, 1 (or True) for target rows; any other label
            raises.
        sample_weight : array-like of shape (n_samples,), default=None
            Event weights, negative ones included; each class's weights must sum to a positive
            number. The classes are rescaled to equal totals internally.

        Returns
        -------
        self : ConditionalReweighter
        """
        if self.method == "joint" and self.classifier is not None:
            raise ValueError(
                "method='joint' trains the built-in network on the joint loss and cannot use "
                f"classifier={self.classifier!r}; give method='ratio' or "
                "'marginal_then_conditional' to use a scikit-learn classifier"
            )
        if (
            self.method == "marginal_then_conditional"
            and self.classifier is not None
            and not takes_sample_weight(self.classifier)
        ):
            raise TypeError(
                f"method='marginal_then_conditional' trains its second classifier on the source "
                f"weighted by the marginal ratio, but {type(self.classifier).__name__}.fit takes "
                "no sample_weight; give a classifier that does, or method='ratio'"
            )
        X, y01 = self._validate_fit_input(X, y)
        self.conditional_index_ = resolve_conditional_features(
            self.conditional_features, X.shape[1], getattr(self, "feature_names_in_", None)
        )
        weight = check_event_weights(sample_weight, X.shape[0])
        balanced = class_balanced_weights(y01, weight)

        marginal_seed, second_seed = derive_seeds(self.random_state, 2)
        early = self.classifier is None and self.early_stopping
        warn_small_sample(
            y01, weight, self.validation_fraction if early else None, "ConditionalReweighter"
        )
        if self.method == "joint":
            self._fit_joint(X, y01, balanced, marginal_seed)
            self._record_history(self.net_)
        else:
            with small_sample_told_once():
                self.marginal_reweighter_ = self._reweighter(marginal_seed).fit(
                    X[:, self.conditional_index_], y01, sample_weight=weight
                )
                if self.method == "ratio":
                    second = self.joint_reweighter_ = self._reweighter(second_seed).fit(
                        X, y01, sample_weight=weight
                    )
                else:
                    g = self.marginal_reweighter_.decision_function(X[:, self.conditional_index_])
                    moved = np.where(y01 == 0, weight * np.exp(g), weight)
                    second = self.conditional_reweighter_ = self._reweighter(second_seed).fit(
                        X, y01, sample_weight=moved
                    )
            if hasattr(second, "n_iter_"):
                self.n_iter_ = self.marginal_reweighter_.n_iter_ + second.n_iter_
                self.loss_curve_ = second.loss_curve_
                self.validation_loss_curve_ = second.validation_loss_curve_
        _, _, self.n_clipped_ = self._log_ratios(X)
        return self

    def fit_samples(
        self,
        source: Any,
        target: Any,
        source_weight: ArrayLike | None = None,
        target_weight: ArrayLike | None = None,
    ) -> ConditionalReweighter:
        """Fit from the two samples, in memory or from files.

        Parameters
        ----------
        source, target : array-like of shape (n, n_features), or io.EventSource
            The two samples; two :class:`~skhep_reweight.io.EventSource` train the joint
            network (``method="joint"``, the built-in network) from files, chunk by chunk, as
            :class:`~skhep_reweight.DCTRReweighter` does, with ``conditional_features`` given
            by index or by column name.
        source_weight, target_weight : array-like, default=None
            In memory only (sources carry their weight column).

        Returns
        -------
        self : ConditionalReweighter
        """
        if check_sources(source, target, source_weight, target_weight):
            return self._fit_stream(source, target)
        return super().fit_samples(source, target, source_weight, target_weight)

    @fit_method
    def _fit_stream(self, source: Any, target: Any) -> ConditionalReweighter:
        if self.method != "joint" or self.classifier is not None:
            raise TypeError(
                "training from files (EventSource) takes method='joint' with the built-in "
                f"network; got method={self.method!r}"
                + ("" if self.classifier is None else f" and classifier={self.classifier!r}")
                + ": read the events with skhep_reweight.io.read_events and call fit_samples "
                "on the arrays"
            )
        self.conditional_index_ = resolve_conditional_features(
            self.conditional_features, len(source.columns), np.array(source.columns)
        )
        summary, stream, validation, seed = prepare_stream(self, source, target)
        self.net_ = train_network(
            MarginalConditionalMLP,
            self._module_kwargs(len(source.columns), summary.loc, summary.scale),
            stream,
            None,
            None,
            options=network_options(self),
            seed=seed,
            criterion=MarginalJointCrossEntropy,
            desc="conditional reweighting (files)",
            validation=validation,
        )
        self._record_history(self.net_)
        self.n_clipped_ = sum(self._log_ratios(X)[2] for part in (source, target) for X, _ in part)
        return self

    def _module_kwargs(self, n_inputs: int, loc: np.ndarray, scale: np.ndarray) -> dict:
        return {
            "n_inputs": n_inputs,
            "conditional_index": self.conditional_index_,
            "hidden_layer_sizes": check_hidden_layer_sizes(self.hidden_layer_sizes),
            "activation": self.activation,
            "loc": loc,
            "scale": scale,
        }

    def _fit_joint(self, X: np.ndarray, y01: np.ndarray, balanced: np.ndarray, seed: int) -> None:
        loc, scale = standardization_stats(X, balanced)
        self.net_ = train_network(
            MarginalConditionalMLP,
            self._module_kwargs(X.shape[1], loc, scale),
            X,
            y01.astype(np.float32),
            balanced,
            options=network_options(self),
            seed=seed,
            criterion=MarginalJointCrossEntropy,
            desc="conditional reweighting",
        )

    def _reweighter(self, seed: int) -> DCTRReweighter:
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
    def _log_ratios(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
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

    def _log_ratio(self, features: np.ndarray) -> tuple[np.ndarray, int]:
        """The conditional log-ratio h(x, x'), what the weights and the classifier methods use."""
        _, h, n_clipped = self._log_ratios(features)
        return h, n_clipped

    def _score_loss(self, features: np.ndarray, y01: np.ndarray, weight: np.ndarray) -> float:
        """The loss of the single training: the cross-entropies of g and of g + h."""
        g, h, _ = self._log_ratios(features)
        return balanced_cross_entropy(y01, g, weight) + balanced_cross_entropy(y01, g + h, weight)

    def marginal_decision_function(self, X: ArrayLike) -> np.ndarray:
        """The clipped marginal log-ratio g(x') = log(q(x')/p(x')) learned alongside; ``exp`` of
        it reweights the x' spectrum."""
        return self._log_ratios(self._validate_fitted_input(X))[0]
