r"""Optimal-transport calibration of simulation to data: :class:`OTCalibrator`.

The module stays whole past 400 lines: over 200 of its lines are the docstrings that carry the
paper's equations and the three methods' conventions; the exact maps live in
:mod:`._exact_transport` and the neural potentials in :mod:`skhep_reweight._nn.transport`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import ClassifierTags, Tags
from sklearn.utils._param_validation import Interval, StrOptions

from .._base import EstimatorMixin, fit_method
from .._nn.modules import standardization_stats
from .._nn.net import predict_network, train_alternating
from .._nn.params import NETWORK_PARAMETER_CONSTRAINTS, check_hidden_layer_sizes, network_options
from .._nn.seeding import derive_seeds
from .._nn.transport import CONVEX_ACTIVATIONS, TransportPotentials
from .._validation import check_binary_labels, check_non_negative_weights, resolve_columns
from ._exact_transport import ConditionBins, DiscreteMap, QuantileMap

__all__ = ["OTCalibrator"]

# method="auto" solves the exact discrete problem while the cost matrix has at most this many
# entries (5000 x 5000 events, 200 MB in float64), and trains the neural map above.
_DISCRETE_MAX_PAIRS = 25_000_000


def _pot_available() -> bool:
    try:
        import ot  # noqa: F401
    except ImportError:
        return False
    return True


class OTCalibrator(EstimatorMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    r"""Data-based calibration: move simulated events so that their distribution matches data,
    each event as little as possible (optimal transport with the squared Euclidean cost).

    ``fit(X, y)`` takes simulation (``y == 0``) and data (``y == 1``); ``transform`` moves
    simulated events through the fitted map :math:`h`, so that :math:`h_\# p_\text{sim} =
    p_\text{data}`; ``inverse_transform`` applies :math:`h^{-1}`. Conditioning columns
    (``conditional_features``, for example the jet :math:`p_T`) choose the map without being
    moved: :math:`x \mapsto h(x \mid c)`.

    Methods (``method``):

    - ``"quantile"``, one moved column: the exact map of eq. (17) of [1]_,
      :math:`h(x) = P_\text{data}^{-1}(P_\text{sim}(x))`, with both CDFs the piecewise-linear
      interpolation of the weighted empirical CDF through the mid-points of its steps. Tied
      values merge into one step (and move together). The map is continuous, strictly increasing
      and exactly invertible; with equal numbers of equally weighted events it sends the i-th
      smallest simulated event onto the i-th smallest data event. Outside the fitted range the
      ``out_of_range`` policy applies.
    - ``"discrete"``, any number of moved columns, up to a few thousand events: the exact
      discrete plan :math:`\pi` (POT's ``ot.emd``, an optional dependency) and its barycentric
      projection :math:`T(x_i) = \sum_j \pi_{ij} y_j / \sum_j \pi_{ij}`; other events move by
      the inverse-distance-weighted displacement of their ``n_neighbors`` nearest fitted
      simulated events. ``inverse_transform`` is the barycentric map of the transposed plan.
    - ``"neural"``, large samples: :math:`h = \nabla_x f(x, c)` with f a partially
      input-convex network, trained with the min-max objective of Makkuva et al. [2]_ as in
      Pollard & Windischhofer [3]_ (see :mod:`skhep_reweight._nn.transport`),

      .. math::

          \min_f \max_g\; E_{x \sim \text{sim}}[f(x)]
          + E_{y \sim \text{data}}\big[\langle y, \nabla g(y)\rangle - f(\nabla g(y))\big],

      with one optimizer for f and one for g (``n_critic`` g steps per f step) and learning
      rates that fall to zero along a half cosine. The weights that convexity needs
      non-negative are projected back onto :math:`\ge 0` after every optimizer step. Early
      stopping (off by default) monitors the semi-dual objective of f alone,
      :math:`E_\text{sim} f + E_\text{data} f^*`, with the conjugate found by Newton's method.
      ``inverse_transform`` solves :math:`\nabla f(x) = y` exactly (Newton's method).
    - ``"auto"`` (default): ``"quantile"`` for one moved column; otherwise ``"discrete"`` when
      POT is installed and the cost matrix has at most 2.5e7 entries (5000 events a class),
      ``"neural"`` above. The choice is ``method_``.

    Parameters
    ----------
    method : {"auto", "quantile", "discrete", "neural"}, default="auto"
    conditional_features : int, str, or array-like of int, str or bool, default=None
        Conditioning columns, as in :class:`~skhep_reweight.ConditionalReweighter`: indices
        (negative ones count from the end), names when X is a DataFrame, or a boolean mask. They
        are passed through unchanged; at least one column must remain to be moved, and a column
        named twice raises. None: no conditioning column, every column is moved. The exact
        methods fit one map per cell of ``n_condition_bins`` quantile bins of each conditioning
        column; the neural map depends on them continuously.
    n_condition_bins : int, default=10
        Bins per conditioning column for the exact methods (ignored by ``"neural"``).
    out_of_range : {"shift", "clip", "raise"}, default="shift"
        ``"quantile"`` only: what happens to an event beyond the fitted range (the extreme
        quantile levels that both samples cover). ``"shift"`` moves it by the displacement at
        the nearest end of the range (invertible), ``"clip"`` maps it onto the end's image
        (then ``inverse_transform`` inverts the map inside the range only), ``"raise"``
        raises a ValueError.
    n_neighbors : int, default=5
        ``"discrete"`` only: fitted events whose displacements move a new event.
    hidden_layer_sizes : int or tuple of int, default=(64, 64)
        ``"neural"``: widths of the convex potentials (and of the conditioning networks).
    activation : {"softplus", "elu", "leaky_relu", "relu"}, default="softplus"
        Convex, non-decreasing activations only; softplus keeps the map smooth.
    learning_rate : float, default=3e-3
        Learning rate of both players (Adam with betas (0.5, 0.9), as in [2]_).
    batch_size : int, default=256
    max_epochs : int, default=100
        Epochs of training; the learning rates of both players fall to zero along a half cosine
        over them (at a constant rate the players keep circling the saddle point).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the events and stop when the semi-dual objective
        on them has not improved for ``n_iter_no_change`` epochs, keeping the best epoch. Off by
        default: the objective is flat at the optimum (quadratic in the map's error), so on a
        finite validation sample it cannot rank maps that differ by less than their statistical
        precision, and the cosine schedule already ends the training.
    validation_fraction : float, default=0.2
    n_iter_no_change : int, default=15
    weight_decay : float, default=0.0
    n_critic : int, default=5
        g updates per f update.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
    random_state : int, RandomState instance or None, default=None
        Seeds the neural training (initialization, split, batches). The exact methods are
        deterministic.
    verbose : int, default=0
    condition : int, str, or array-like, default=None
        Deprecated alias of ``conditional_features``: renamed in 0.2, removed in 0.4. When
        given, ``fit`` warns (FutureWarning) and uses it; giving both raises a ValueError.

    Attributes
    ----------
    method_ : str
        The method used.
    maps_ : list
        Exact methods: the fitted map of every conditioning cell.
    bins_ : ConditionBins
        Exact methods: the cells of the conditioning columns.
    net_ : AlternatingNet
        ``"neural"``: the fitted net; ``net_.module_`` holds the potentials f and g.
    n_iter_ : int
        ``"neural"``: epochs run.
    loss_curve_ : ndarray of shape (n_epochs,)
        ``"neural"``: the loss of f per epoch, averaged over the batches (a batch without an f
        update counts the loss of the latest one).
    validation_loss_curve_ : ndarray of shape (n_epochs,) or None
        ``"neural"``: the semi-dual objective on the held-out events per epoch; None when no
        events were held out (``early_stopping=False``, the default). The exact methods solve
        the transport problem directly rather than by training epochs: they set none of these
        three attributes (as scikit-learn's ``MLPRegressor`` sets no ``loss_curve_`` for its
        L-BFGS solver), so ``hasattr(cal, "n_iter_")`` tells whether a network was trained.
    conditional_index_ : ndarray of int
        Indices of the conditioning columns (empty without any).
    moved_ : ndarray of int
        Indices of the moved columns.
    condition_ : ndarray of int
        Deprecated alias of ``conditional_index_``: reading it warns (FutureWarning); removed
        in 0.4.
    transport_cost_ : float
        Weighted mean squared displacement :math:`E_\text{sim}|h(x) - x|^2` of the simulated
        training events (the squared 2-Wasserstein distance, up to sampling noise, for an
        optimal map; the conditional one with conditioning columns).
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Notes
    -----
    *Prior dependence.* The map depends on the truth spectrum of the samples it was fitted on
    (eq. 18 of [1]_): fitted where the truth is :math:`\mathcal{N}(0, 1)` and applied where it is
    :math:`\mathcal{N}(\mu, 1)`, the Gaussian map :math:`\alpha x` leaves the residual
    :math:`\mu(1 - \alpha)` (eqs. 43, 44); a map derived on QCD dijets overshoots on a
    resonance (section V.C). Nothing here can remove that: fit the calibration on samples whose
    truth spectrum matches the one it will be applied to, or use a simulation-based calibration
    (:class:`~skhep_reweight.GaussianAnsatzCalibrator`).

    *Units.* The cost is the squared Euclidean distance in the units of the moved columns, so
    the multi-dimensional map depends on their relative scales: give them comparable units.
    (The neural method standardizes them with one common scale, which keeps the map.)

    *Conditioning.* The conditional objective averages over the conditioning values; it needs
    the same distribution of c in simulation and data (reweight one to the other first, for
    example with :class:`~skhep_reweight.DCTRReweighter` on c, and pass the weights).

    *Weights.* ``sample_weight`` weights the empirical distributions. Transport moves
    probability mass, which must be non-negative: negative weights raise a ValueError (merge
    them into the positive events nearby first, or reweight with a positive model); zero-weight
    events are ignored. ``fit_transform(X, y)`` moves every row, the data rows included; the
    calibrated simulation is ``transform(X[y == 0])``.

    References
    ----------
    .. [1] R. Gambhir, B. Nachman, J. Thaler, "Bias and Priors in Machine Learning Calibrations
           for High Energy Physics", Phys. Rev. D 106, 036011 (2022), arXiv:2205.05084.
    .. [2] A. Makkuva, A. Taghvaei, S. Oh, J. Lee, "Optimal transport mapping via input convex
           neural networks", ICML 2020, arXiv:1908.10962.
    .. [3] C. Pollard, P. Windischhofer, "Transport away your problems: Calibrating stochastic
           simulations with optimal transport", Nucl. Instrum. Meth. A 1027 (2022) 166119,
           arXiv:2107.08648.

    Examples
    --------
    >>> import numpy as np
    >>> from skhep_reweight import OTCalibrator
    >>> rng = np.random.RandomState(0)
    >>> sim, data = rng.normal(0.0, 1.0, 5000), rng.normal(1.0, 2.0, 5000)
    >>> X = np.concatenate([sim, data])[:, None]
    >>> y = np.repeat([0, 1], 5000)
    >>> cal = OTCalibrator().fit(X, y)
    >>> print(cal.method_, np.round(cal.transform([[0.0], [1.0]]).ravel(), 1))
    quantile [1. 3.]
    """

    _parameter_constraints: dict = {
        **NETWORK_PARAMETER_CONSTRAINTS,
        "method": [StrOptions({"auto", "quantile", "discrete", "neural"})],
        "conditional_features": [None, "array-like", Integral, str],
        "condition": [None, "array-like", Integral, str],
        "n_condition_bins": [Interval(Integral, 1, None, closed="left")],
        "out_of_range": [StrOptions({"shift", "clip", "raise"})],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(CONVEX_ACTIVATIONS))],
        "n_critic": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        method: str = "auto",
        conditional_features: Any = None,
        n_condition_bins: int = 10,
        out_of_range: str = "shift",
        n_neighbors: int = 5,
        hidden_layer_sizes: int | Sequence[int] = (64, 64),
        activation: str = "softplus",
        learning_rate: float = 3e-3,
        batch_size: int = 256,
        max_epochs: int = 100,
        early_stopping: bool = False,
        validation_fraction: float = 0.2,
        n_iter_no_change: int = 15,
        weight_decay: float = 0.0,
        n_critic: int = 5,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        condition: Any = None,
    ) -> None:
        self._set_params_from_init(locals())

    # ------------------------------------------------------------------ fitting
    @fit_method
    def fit(self, X: Any, y: ArrayLike, sample_weight: ArrayLike | None = None) -> OTCalibrator:
        """Fit the map from the simulation (``y == 0``) to the data (``y == 1``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Simulation and data rows, the conditioning columns included.
        y : array-like of shape (n_samples,)
            0 (or False) for simulation, 1 (or True) for data; any other label raises.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative event weights with a positive sum in each class.

        Returns
        -------
        self : OTCalibrator
        """
        X, y = self._validate_input(X, y, reset=True)
        X = X.astype(np.float64)
        self.classes_, y01 = check_binary_labels(
            y, kind="an optimal-transport calibration", roles=("simulation", "data")
        )
        weight = self._check_weights(sample_weight, y01)
        keep = weight > 0
        X, y01, weight = X[keep], y01[keep], weight[keep]
        self.conditional_index_ = self._conditional_index(X.shape[1])
        self.moved_ = np.setdiff1d(np.arange(X.shape[1]), self.conditional_index_)
        self.method_ = self._resolve_method(y01)
        if self.method_ == "neural":
            self._fit_neural(X, y01, weight)
        else:
            self._fit_exact(X, y01, weight)
        sim = y01 == 0
        moved = self._map(X[sim], inverse=False)[:, self.moved_]
        displacement = ((moved - X[sim][:, self.moved_]) ** 2).sum(axis=1)
        self.transport_cost_ = float(np.average(displacement, weights=weight[sim]))
        return self

    def _check_weights(self, sample_weight: ArrayLike | None, y01: np.ndarray) -> np.ndarray:
        weight = check_non_negative_weights(
            sample_weight,
            y01.shape[0],
            "optimal transport moves probability mass, which must be non-negative: merge "
            "negative weights into nearby positive events first",
        )
        for label, name in ((0, "simulation (y == 0)"), (1, "data (y == 1)")):
            if not weight[y01 == label].sum() > 0:
                raise ValueError(
                    f"the sample weights of the {name} sum to zero; each class needs a "
                    "positive total weight"
                )
        return weight

    def _conditional_index(self, n_features: int) -> np.ndarray:
        """Indices of the conditioning columns, from ``conditional_features`` (or the deprecated
        ``condition``); empty for None."""
        columns = self.conditional_features
        if self.condition is not None:
            if columns is not None:
                raise ValueError(
                    "conditional_features and condition (its deprecated name) were both given; "
                    "pass conditional_features only"
                )
            warnings.warn(
                "condition was renamed conditional_features in 0.2 and will be removed in 0.4",
                FutureWarning,
                stacklevel=4,  # the caller of fit (through fit_method's wrapper)
            )
            columns = self.condition
        if columns is None:
            return np.array([], dtype=np.intp)
        index = resolve_columns(
            columns,
            n_features,
            getattr(self, "feature_names_in_", None),
            name="conditional_features",
            keep_one=True,
        )
        return index.astype(np.intp)

    @property
    def condition_(self) -> np.ndarray:
        """Deprecated alias of ``conditional_index_`` (renamed in 0.2, removed in 0.4)."""
        if "conditional_index_" not in vars(self):
            raise AttributeError(f"{type(self).__name__} is not fitted: it has no condition_")
        warnings.warn(
            "condition_ was renamed conditional_index_ in 0.2 and will be removed in 0.4",
            FutureWarning,
            stacklevel=2,
        )
        return self.conditional_index_

    def _resolve_method(self, y01: np.ndarray) -> str:
        n_moved = self.moved_.size
        if self.method == "quantile" and n_moved != 1:
            raise ValueError(
                f"method='quantile' moves one column, X has {n_moved} columns to move; use "
                "method='discrete' or 'neural', or name the others in conditional_features"
            )
        if self.method != "auto":
            return self.method
        if n_moved == 1:
            return "quantile"
        n_pairs = int((y01 == 0).sum()) * int((y01 == 1).sum())
        return "discrete" if n_pairs <= _DISCRETE_MAX_PAIRS and _pot_available() else "neural"

    def _fit_exact(self, X: np.ndarray, y01: np.ndarray, weight: np.ndarray) -> None:
        C = X[:, self.conditional_index_]
        self.bins_ = ConditionBins(self.n_condition_bins).fit(C, weight)
        cells = self.bins_.assign(C)
        self.maps_ = []
        for cell in range(int(np.prod(self.bins_.shape))):
            sim = (cells == cell) & (y01 == 0)
            data = (cells == cell) & (y01 == 1)
            if not (sim.any() and data.any()):
                raise ValueError(
                    f"{self.bins_.describe(cell)} holds {int(sim.sum())} simulated and "
                    f"{int(data.sum())} data events; every cell needs events of both: "
                    "lower n_condition_bins"
                )
            if self.method_ == "quantile":
                column = self.moved_[0]
                fitted = QuantileMap(self.out_of_range).fit(
                    X[sim, column], weight[sim], X[data, column], weight[data]
                )
            else:
                fitted = DiscreteMap(self.n_neighbors).fit(
                    X[sim][:, self.moved_], weight[sim], X[data][:, self.moved_], weight[data]
                )
            self.maps_.append(fitted)

    def _fit_neural(self, X: np.ndarray, y01: np.ndarray, weight: np.ndarray) -> None:
        moved = X[:, self.moved_]
        w = weight / weight.mean()
        loc = np.average(moved, axis=0, weights=w)
        scale = float(np.sqrt(np.average(((moved - loc) ** 2).mean(axis=1), weights=w)))
        module_kwargs = {
            "n_moved": self.moved_.size,
            "n_condition": self.conditional_index_.size,
            "hidden_layer_sizes": check_hidden_layer_sizes(self.hidden_layer_sizes),
            "activation": self.activation,
            "loc": loc,
            "scale": scale if scale > 0 else 1.0,
        }
        if self.conditional_index_.size:
            c_loc, c_scale = standardization_stats(X[:, self.conditional_index_], w)
            module_kwargs.update(condition_loc=c_loc, condition_scale=c_scale)
        (seed,) = derive_seeds(self.random_state, 1)
        self.net_ = train_alternating(
            TransportPotentials,
            module_kwargs,
            self._network_inputs(X),
            y01.astype(np.float32),
            w,
            options=network_options(self),
            n_critic=self.n_critic,
            seed=seed,
            desc="OT potentials",
        )
        self._record_history(self.net_)

    def _network_inputs(self, X: np.ndarray) -> np.ndarray:
        return np.hstack([X[:, self.moved_], X[:, self.conditional_index_]])

    # --------------------------------------------------------------- transforming
    def _map(self, X: np.ndarray, inverse: bool) -> np.ndarray:
        out = np.array(X, dtype=np.float64)
        if self.method_ == "neural":
            method = "inverse" if inverse else None
            moved = predict_network(self.net_, self._network_inputs(X), method=method)
            failed = np.isnan(moved).any(axis=1)
            if failed.any():
                warnings.warn(
                    f"inverting the neural map did not converge for {int(failed.sum())} of "
                    f"{len(X)} events (far outside the fitted range?); they are NaN",
                    ConvergenceWarning,
                    stacklevel=3,
                )
            out[:, self.moved_] = moved
            return out
        cells = self.bins_.assign(X[:, self.conditional_index_])
        for cell in np.unique(cells):
            rows = cells == cell
            fitted = self.maps_[cell]
            apply = fitted.inverse if inverse else fitted.transform
            if self.method_ == "quantile":
                out[rows, self.moved_[0]] = apply(X[rows, self.moved_[0]])
            else:
                out[np.ix_(rows, self.moved_)] = apply(X[rows][:, self.moved_])
        return out

    def transform(self, X: Any) -> np.ndarray:
        """Move simulated events through the fitted map; conditioning columns are unchanged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_calibrated : ndarray of shape (n_samples, n_features)
        """
        X = self._validate_fitted_input(X)
        return self._map(X, inverse=False)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Apply the inverse map: data-like events back to the simulation.

        Exact for ``"quantile"`` (inside the range with ``out_of_range="clip"``) and for
        ``"neural"`` (Newton's method on :math:`\\nabla f(x) = y`); for ``"discrete"`` the
        barycentric map of the transposed plan.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
        """
        X = self._validate_fitted_input(X)
        return self._map(X, inverse=True)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        # y names the two samples (simulation, data); the tag tells scikit-learn's checks to
        # give two labels, not three
        tags.classifier_tags = ClassifierTags(multi_class=False)
        return tags
