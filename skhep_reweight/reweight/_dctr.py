"""DCTRReweighter: classifier-based, optionally parametrized, full phase-space reweighting."""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from .._base import BaseReweighter, fit_method, stack_samples
from .._classifier import check_learned_something, fit_balanced_classifier, raw_log_ratio
from .._nn import NETWORK_PARAMETER_CONSTRAINTS, derive_seeds
from .._nn.net import train_binary_classifier_stream
from .._nn.params import network_spec
from .._validation import (
    check_class_totals,
    check_event_weights,
    check_score_labels,
    warn_small_sample,
)
from ._stream import check_sources, prepare_stream
from ._theta import (
    broadcast_theta,
    check_in_range,
    fill_source_theta,
    theta_for_fit,
    trained_range,
)
from ._weights import DEFAULT_PROBA_CLIP, clip_log_ratio

__all__ = ["DCTRReweighter"]


class DCTRReweighter(BaseReweighter):
    r"""Full phase-space reweighting with a classifier (DCTR), optionally parametrized.

    A classifier :math:`f` is trained with the binary cross-entropy (eq. 1 of [2]_) to separate a
    source sample (label 0, density :math:`p`) from a target sample (label 1, density :math:`q`),
    with the two classes' weights rescaled to equal totals. The loss

    .. math::

        L[f] = -\sum_{i \in q} \tilde w_i \log f(x_i)
               - \sum_{i \in p} \tilde w_i \log(1 - f(x_i))

    is minimized by :math:`f = q/(p+q)`, so that the weight

    .. math::

        w(x) = \frac{f(x)}{1 - f(x)} = \frac{q(x)}{p(x)}

    (eq. 2 of [2]_) morphs the source into the target. In the parametrized form [1]_ each target
    event carries the parameters :math:`\theta` it was generated with, the network sees
    :math:`(x, \theta)`, and :math:`w(x, \theta) = p(x|\theta)/p(x|\theta_0)` for any
    :math:`\theta` inside the range seen in training. Source events without parameters (NaN)
    receive points drawn from the target's weighted theta distribution, so that :math:`\theta`
    alone carries no information about the class.

    Parameters
    ----------
    classifier : classifier with ``predict_proba``, default=None
        None trains the built-in network (the parameters below). Any scikit-learn classifier
        (``HistGradientBoostingClassifier``, an XGBoost classifier, a ``Pipeline``) is cloned and
        trained instead with the class-balanced weights as ``sample_weight``; one that takes no
        ``sample_weight`` is trained unweighted and the prior factor is applied afterwards (event
        weights then raise a TypeError).
    hidden_layer_sizes : tuple of int, default=(50, 50, 50)
        Hidden layers of the network (three layers of 50 as in [2]_).
    activation : str, default="silu"
        One of "relu", "tanh", "logistic", "identity", "elu", "gelu", "silu", "leaky_relu".
        The papers use ReLU; the smooth SiLU gives a smoother log-ratio and, on the Gaussian
        closure, about half the median weight error at the same training time.
    learning_rate : float, default=1e-3
        AdamW learning rate.
    batch_size : int, default=1024
    max_epochs : int, default=100
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the events (stratified), stop after
        ``n_iter_no_change`` epochs without improvement of the validation loss (summed in
        float64, any decrease counts) and keep the best epoch's network. The held-out events
        also judge the fit: see ``validation_gain_``.
    validation_fraction : float, default=0.2
    n_iter_no_change : int, default=10
    weight_decay : float, default=0.0
        AdamW's decoupled weight decay.
    proba_clip : float, default=1e-6
        The classifier output is clipped to ``[proba_clip, 1 - proba_clip]`` before the ratio,
        which bounds the weights by about ``1 / proba_clip``.
    allow_extrapolation : bool, default=False
        Parametrized form: allow ``theta`` outside the range seen in training (by default such a
        point raises a ValueError; 1% of the range's width counts as inside).
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where the network trains and predicts; "auto" takes the GPU when there is one.
    random_state : int, RandomState instance or None, default=None
        Seeds everything: initialization, the validation split, the batch order and the theta
        given to source events. With an int, two fits on the CPU give identical weights.
    verbose : int, default=0
        0 is silent, 1 shows a progress bar over epochs, 2 adds the per-epoch table.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The labels; ``classes_[0]`` marks the source, ``classes_[1]`` the target.
    net_ : skorch net
        The fitted network (built-in classifier only).
    classifier_ : estimator
        The fitted clone of ``classifier`` (when one is given).
    prior_ratio_ : float
        Source over target total weight seen by the classifier (1 when balanced internally).
    n_parameters_ : int
        Number of parameters theta (0 when not parametrized).
    theta_range_ : ndarray of shape (2, n_parameters)
        Minimum and maximum of theta over the target rows in training.
    feature_range_ : ndarray of shape (2, n_features)
        Minimum and maximum of every feature over the training rows (both samples). More
        events outside it than a sample of the training distribution would give raise an
        ``OutOfRangeWarning`` at prediction time, with their count.
    n_range_events_ : int
        The smaller class's number of training events: the size against which the count of
        events outside ``feature_range_`` is tested (see
        :class:`~skhep_reweight.OutOfRangeWarning`).
    n_clipped_ : int
        How many training events had their classifier output clipped. Prediction writes
        nothing on the estimator (one fitted model can serve several threads); the count on
        other events is ``np.sum(np.abs(rw.decision_function(X)) >= bound)``.
    n_iter_ : int
        Epochs the built-in network trained (built-in network only).
    loss_curve_ : ndarray of shape (n_epochs,)
        Training loss per epoch (built-in network only).
    validation_loss_curve_ : ndarray of shape (n_epochs,) or None
        Validation loss per epoch, None without early stopping (built-in network only).
    validation_gain_ : tuple of float or None
        ``(gain, standard_error)``: how much lower the network's cross-entropy is than the best
        constant classifier's on the validation events, per event (built-in network with early
        stopping only, None otherwise). When the gain is not above twice its standard error
        while the samples differ, ``fit`` warns with a
        :class:`~skhep_reweight.LearnedNothingWarning`.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X is a DataFrame with string column names.

    Notes
    -----
    *Weights.* ``predict_weights`` returns :math:`w(x)` per event (times ``sample_weight``), not
    renormalized: predicting in batches gives the same numbers as predicting at once (to float32
    rounding on a GPU, bit for bit on the CPU), and the mean over the source sample is close to
    one when the ratio is learned well.

    *The same events in both samples* (a systematic variation stored as alternative weights):
    rows with identical features in both samples are merged into one row whose label is the
    target's share of its weight, :math:`y = w_1/(w_0 + w_1)`, which leaves the loss and its
    minimizer unchanged (:func:`~skhep_reweight._nn.data.merge_identical_rows`). An event's two
    copies then stay together in the validation split and in every batch; split apart, the
    validation loss measures how well the network memorized one copy's label, and the fit stops
    before it learns a per-mille effect. The network's last layer starts at zero (the untrained
    ratio is one everywhere, not a random function whose spread exceeds such an effect), and
    effects of 0.5 % on 5000 events are learned
    (:func:`~skhep_reweight.datasets.make_systematic_variation`).

    *Negative event weights* (NLO generators) are accepted. They enter the loss with their sign;
    each class's weights must sum to a positive number. The learned ratio is that of the signed
    densities, which is meaningful where those densities are positive.

    *Score.* ``score`` is minus the class-balanced weighted binary cross-entropy, a proper scoring
    rule, so ``GridSearchCV(DCTRReweighter(), grid)`` selects the best density ratio without a
    ``scoring`` argument. It is not the accuracy of ``ClassifierMixin``.

    References
    ----------
    .. [1] A. Andreassen, B. Nachman, "Neural networks for full phase-space reweighting and
           parameter tuning", Phys. Rev. D 101, 091901 (2020), arXiv:1907.08209.
    .. [2] A. Andreassen, S.-C. Hsu, B. Nachman, N. Suaysom, A. Suresh, "Parameter estimation
           using neural networks in the presence of detector effects", Phys. Rev. D 103, 036001
           (2021), arXiv:2010.03569.

    Examples
    --------
    >>> import numpy as np
    >>> from skhep_reweight import DCTRReweighter
    >>> rng = np.random.RandomState(0)
    >>> source = rng.normal(0.0, 1.0, size=(2000, 1))
    >>> target = rng.normal(0.5, 1.0, size=(2000, 1))
    >>> rw = DCTRReweighter(hidden_layer_sizes=(16,), learning_rate=1e-2, batch_size=256,
    ...                     max_epochs=20, random_state=0)
    >>> rw = rw.fit_samples(source, target)
    >>> w = rw.predict_weights(source)
    >>> print(round(float(np.average(source[:, 0], weights=w)), 1), round(float(target.mean()), 1))
    0.5 0.5
    """

    _parameter_constraints: dict = {
        **NETWORK_PARAMETER_CONSTRAINTS,
        "classifier": [None, HasMethods(["fit", "predict_proba"])],
        "proba_clip": [Interval(Real, 0, 0.5, closed="neither")],
        "allow_extrapolation": ["boolean"],
    }

    def __init__(
        self,
        classifier: Any = None,
        *,
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
        allow_extrapolation: bool = False,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self._set_params_from_init(locals())

    # ------------------------------------------------------------------ fitting
    @fit_method
    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        theta: ArrayLike | None = None,
    ) -> DCTRReweighter:
        """Learn the ratio target/source from stacked samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Events of both samples.
        y : array-like of shape (n_samples,)
            0 (or False) for source rows, 1 (or True) for target rows; any other label
            raises.
        sample_weight : array-like of shape (n_samples,), default=None
            Event weights, negative ones included; each class's weights must sum to a positive
            number. The classes are rescaled to equal totals internally.
        theta : array-like of shape (n_samples, n_parameters), default=None
            Parametrized form: the generator parameters of every target row; source rows may be
            NaN (filled by drawing from the target rows' weighted theta distribution).

        Returns
        -------
        self : DCTRReweighter
        """
        X, y01 = self._validate_fit_input(X, y)
        weight = check_event_weights(sample_weight, X.shape[0])
        check_class_totals(y01, weight)  # on the weights as given, before the theta factor
        early = self.classifier is None and self.early_stopping
        warn_small_sample(
            y01, weight, self.validation_fraction if early else None, "DCTRReweighter"
        )
        theta_seed, train_seed = derive_seeds(self.random_state, 2)

        self.n_parameters_ = 0
        features = X
        if theta is not None:
            t, factor = fill_source_theta(
                theta_for_fit(theta, y01), y01, weight, np.random.RandomState(theta_seed)
            )
            weight = weight * factor
            self.n_parameters_ = t.shape[1]
            self.theta_range_ = trained_range(t, y01)
            features = np.hstack([X, t])

        model, self.prior_ratio_ = fit_balanced_classifier(
            self.classifier,
            features,
            y01,
            weight,
            seed=train_seed,
            network=network_spec(self),
            desc="DCTR",
            weighted=sample_weight is not None,
        )
        if self.classifier is None:
            self.net_ = model
            self._record_history(model)
            self.validation_gain_ = check_learned_something(
                model, features, y01, weight, type(self).__name__
            )
        else:
            self.classifier_ = model
            self.validation_gain_ = None
        _, self.n_clipped_ = self._log_ratio(features)
        return self

    def fit_samples(
        self,
        source: ArrayLike,
        target: ArrayLike,
        source_weight: ArrayLike | None = None,
        target_weight: ArrayLike | None = None,
        *,
        target_theta: ArrayLike | None = None,
    ) -> DCTRReweighter:
        """Fit from the two samples, as hep_ml's ``GBReweighter.fit(original, target)``.

        Parameters
        ----------
        source : array-like of shape (n_source, n_features)
            The sample to be reweighted (simulation, nominal parameters).
        target : array-like of shape (n_target, n_features)
            The sample to reproduce. Both DataFrames (same columns) or both arrays.
        source_weight, target_weight : array-like of shape (n_source,) / (n_target,), default=None
        target_theta : array-like of shape (n_target, n_parameters), default=None
            Parametrized form: the parameters of each target event; the source gets NaN (filled
            from the target's theta).

        Returns
        -------
        self : DCTRReweighter
        """
        if check_sources(source, target, source_weight, target_weight, target_theta):
            return self._fit_stream(source, target)
        if target_theta is None:
            return super().fit_samples(source, target, source_weight, target_weight)
        X, y, weight = stack_samples(source, target, source_weight, target_weight)
        t = np.asarray(target_theta, dtype=np.float64)
        t = t[:, None] if t.ndim == 1 else t
        if t.ndim != 2 or t.shape[0] != len(target):
            raise ValueError(
                f"target_theta must have shape ({len(target)}, n_parameters), one row per "
                f"target event, got {np.shape(target_theta)}"
            )
        theta = np.vstack([np.full((len(source), t.shape[1]), np.nan), t])
        return self.fit(X, y, sample_weight=weight, theta=theta)

    @fit_method
    def _fit_stream(self, source: Any, target: Any) -> DCTRReweighter:
        """Train the built-in network from two EventSource, chunk by chunk."""
        if self.classifier is not None:
            raise TypeError(
                "training from files (EventSource) takes the built-in network only: a "
                f"{type(self.classifier).__name__} needs all events in memory; read them with "
                "skhep_reweight.io.read_events and call fit_samples on the arrays"
            )
        summary, stream, validation, seed = prepare_stream(self, source, target)
        self.n_parameters_ = 0
        self.prior_ratio_ = 1.0
        self.net_ = train_binary_classifier_stream(
            stream,
            validation,
            summary.loc,
            summary.scale,
            seed=seed,
            desc="DCTR (files)",
            **network_spec(self),
        )
        self._record_history(self.net_)
        self.validation_gain_ = None
        if np.unique(summary.valid_y).size == 2:
            self.validation_gain_ = check_learned_something(
                self.net_, summary.valid_X, summary.valid_y, summary.valid_w, type(self).__name__
            )
        self.n_clipped_ = sum(self._log_ratio(X)[1] for part in (source, target) for X, _ in part)
        return self

    # ------------------------------------------------------------------ prediction
    def _prediction_input(self, X: ArrayLike, theta: ArrayLike | None = None) -> np.ndarray:
        X = self._validate_fitted_input(X)
        if self.n_parameters_ == 0:
            if theta is not None:
                raise ValueError("theta was given but this reweighter was not fitted with theta")
            return X
        if theta is None:
            raise ValueError(
                f"this reweighter is parametrized in {self.n_parameters_} parameter(s): pass theta"
            )
        t = broadcast_theta(theta, X.shape[0], self.n_parameters_)
        if not self.allow_extrapolation:
            names = [f"{j}" for j in range(self.n_parameters_)]
            check_in_range(t, self.theta_range_[0], self.theta_range_[1], names)
        return np.hstack([X, t])

    def _log_ratio(self, features: np.ndarray) -> tuple[np.ndarray, int]:
        """Clipped log-ratio log(q/p) on validated features, and how many were clipped."""
        model = self.net_ if hasattr(self, "net_") else self.classifier_
        return clip_log_ratio(raw_log_ratio(model, features, self.prior_ratio_), self.proba_clip)

    def predict_weights(
        self, X: ArrayLike, sample_weight: ArrayLike | None = None, theta: ArrayLike | None = None
    ) -> np.ndarray:
        """The per-event density ratio q(x)/p(x) (times ``sample_weight``), not renormalized.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Events of the source sample.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights the events already carry.
        theta : array-like of shape (n_parameters,) or (n_samples, n_parameters), default=None
            Parametrized form: one point for every event, or one per event.

        Returns
        -------
        weights : ndarray of shape (n_samples,)
        """
        return super().predict_weights(X, sample_weight, theta=theta)

    def decision_function(self, X: ArrayLike, theta: ArrayLike | None = None) -> np.ndarray:
        """The clipped log density ratio log(q(x)/p(x)); positive favours the target class."""
        return super().decision_function(X, theta=theta)

    def predict_proba(self, X: ArrayLike, theta: ArrayLike | None = None) -> np.ndarray:
        """Class probabilities for equal class totals: column 1 is q/(p+q)."""
        return super().predict_proba(X, theta=theta)

    def predict(self, X: ArrayLike, theta: ArrayLike | None = None) -> np.ndarray:
        """The more likely class under equal class totals."""
        return super().predict(X, theta=theta)

    def score(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        theta: ArrayLike | None = None,
    ) -> float:
        """Minus the class-balanced weighted binary cross-entropy (higher is better).

        A proper scoring rule for the density ratio: it is maximized by the true q/p, so model
        selection with the default score picks the best ratio, not the best accuracy.

        In the parametrized form, NaN theta on source rows is filled from the target rows as in
        ``fit``. Cross-validating a parametrized reweighter needs theta routed to ``score`` as well
        as ``fit``: enable scikit-learn's metadata routing and call
        ``set_fit_request(theta=True)`` and ``set_score_request(theta=True)``.
        """
        if not (self.__dict__.get("n_parameters_") and theta is not None):
            return super().score(X, y, sample_weight, theta=theta)
        check_is_fitted(self)
        y01 = check_score_labels(y, self.classes_, X)
        weight = check_event_weights(sample_weight, y01.shape[0])
        theta, factor = fill_source_theta(
            theta_for_fit(theta, y01),
            y01,
            weight,
            np.random.RandomState(derive_seeds(self.random_state, 1)[0]),
        )
        return super().score(X, y, weight * factor, theta=theta)
