"""GaussianAnsatzCalibrator: prior-independent maximum-likelihood calibration and resolution.

The module stays whole past 400 lines: about 200 of its lines are the docstrings that carry the
paper's equations and the calibrator's conventions, and the code (about 280 lines) is one
estimator.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import Tags
from sklearn.utils._param_validation import Interval
from skorch.callbacks import Callback

from .._base import EstimatorMixin, fit_method
from .._nn import (
    NETWORK_PARAMETER_CONSTRAINTS,
    DonskerVaradhanNet,
    GaussianAnsatzNetwork,
    derive_seeds,
    donsker_varadhan_bound,
    network_options,
    predict_network,
    standardization_stats,
)
from .._nn.net import train_network
from .._nn.params import check_hidden_layer_sizes
from .._validation import as_finite_array, check_non_negative_weights

__all__ = ["GaussianAnsatzCalibrator"]

# A fitted bound is "strongly negative" when it lies below zero (the bound of the constant T = 0)
# by more than this many nats and more than _FAILED_BOUND_ERRORS standard errors of its joint term:
# the network then does worse than a constant, so training failed rather than found no signal.
_FAILED_BOUND = 0.05
_FAILED_BOUND_ERRORS = 3.0

# Pairs from p(x)p(z) in ``score``: each event is paired with the targets of this many fixed
# permutations, which makes the held-out bound deterministic and its noise small.
_SCORE_PERMUTATIONS = 4
_SCORE_SEED = 7_919


class _AnnealD(Callback):
    """Lower the weight of the D term linearly from 1 at the first epoch to 0 after the last."""

    def __init__(self, n_epochs: int) -> None:
        self.n_epochs = n_epochs

    def on_epoch_begin(self, net: Any, **kwargs: Any) -> None:
        epoch = len(net.history) - 1  # skorch appends the epoch's row before this call
        net.module_.d_weight.fill_(max(0.0, 1.0 - epoch / self.n_epochs))


class GaussianAnsatzCalibrator(EstimatorMixin, RegressorMixin, BaseEstimator):
    r"""Maximum-likelihood calibration and its resolution from one network training.

    A regression trained with the mean-squared error learns :math:`E[z|x]`, which depends on the
    truth spectrum (the *prior*) of the training sample (eq. 8 of [1]_). This estimator learns
    instead the maximum-likelihood calibration :math:`\hat z(x) = \mathrm{argmax}_z\, p(x|z)`
    (eq. 12 of [1]_), which depends only on the detector response, and the resolution around it.

    *Method* ([2]_, used in section IV.A of [1]_). A function :math:`T(x, z)` is trained to
    maximize the Donsker-Varadhan representation of the mutual information (eq. 14 of [1]_),

    .. math::

        L[T] = \mathbb{E}_{p(x, z)}[T(x, z)] - \log \mathbb{E}_{p(x)p(z)}\left[e^{T(x, z)}\right],

    whose maximum is :math:`T = \log p(x|z)/p(x) + \mathrm{const}`: as a function of :math:`z`,
    the log-likelihood. :math:`T` is the Gaussian Ansatz (eq. 35 of [1]_),

    .. math::

        T(x, z) = A(x) + (z - B(x)) \cdot D(x)
                  + \tfrac{1}{2} (z - B(x))^\top C(x, z)\, (z - B(x)),

    with :math:`C` negative definite. Once :math:`D = 0`, :math:`T(x, \cdot)` is maximal at
    :math:`B(x)`, so that (eqs. 36 and 37 of [1]_)

    .. math::

        \hat z(x) = B(x), \qquad
        \mathrm{Cov}[\hat z](x) = -C(x, B(x))^{-1}
        \quad (\Sigma = (-C)^{-1/2} \text{ for one target}).

    Because :math:`C` may depend on :math:`z`, the ansatz can represent any smooth log-likelihood
    with a unique maximum, non-zero curvature there, and tails that fall at least like
    :math:`\delta u^2/2`; the Gaussian is only the local shape at the maximum (a cusp, or heavier
    tails, are approximated). In each batch the first
    expectation runs over the events as they are, the second over the same events with :math:`z`
    shuffled among them; :math:`\log\mathbb{E}[e^T]` is a log-sum-exp, which never overflows.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(32, 32, 32)
        Hidden layers of each of the A, B, C (and D) networks: three layers of 32, as in the jet
        calibration of [1]_ (section V.B).
    activation : str, default="silu"
        One of "relu", "tanh", "logistic", "identity", "elu", "gelu", "silu", "leaky_relu". The
        paper uses ReLU; the smooth SiLU gives smooth :math:`B` and :math:`C`.
    learning_rate : float, default=3e-3
        AdamW learning rate (cut by 0.3 when the validation bound stalls).
    batch_size : int, default=1024
        Events per batch (at least 2). The product-of-marginals term pairs events within a
        batch, so very small batches make the bound (and its gradient) noisy.
    max_epochs : int, default=100
        Epochs of the main training (the ``d_anneal_epochs`` of the warm-up come on top).
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the events, stop after ``n_iter_no_change`` epochs
        without improvement of the validation bound and keep the best epoch's network.
    validation_fraction : float, default=0.2
    n_iter_no_change : int, default=15
    weight_decay : float, default=0.0
        AdamW's decoupled weight decay.
    d_anneal_epochs : int, default=0
        Warm-up epochs with the D term, its weight falling linearly from one to zero; the
        training proper then runs with D switched off. 0 (the default) never builds D, as in the
        Gaussian example of [1]_ ("The D network is set to zero by hand"). The warm-up has no
        validation split: it sees every event, including those the main training later holds out.
    min_precision : float, default=1e-4
        The smallest curvature :math:`-C` in units of the standardized targets. It keeps
        :math:`C` invertible and bounds the resolution by :math:`1/\sqrt{\text{min\_precision}}`
        (here 100) standard deviations of z.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where the network trains and predicts; "auto" takes the GPU when there is one.
    random_state : int, RandomState instance or None, default=None
        Seeds everything: initialization, the validation split, the batch order and the
        shuffling of z. With an int, two fits on the CPU give identical results.
    verbose : int, default=0
        0 is silent, 1 shows a progress bar over epochs, 2 adds the per-epoch table.

    Attributes
    ----------
    net_ : skorch net
        The fitted network; ``net_.module_`` is the
        :class:`~skhep_reweight._nn.GaussianAnsatzNetwork`.
    n_targets_ : int
        Number of truth targets.
    train_bound_ : float
        The Donsker-Varadhan bound (nats) after fitting, on all the events given to ``fit``
        (the validation split included).
    n_iter_ : int
        Epochs of the main training (the warm-up's ``d_anneal_epochs`` not counted).
    loss_curve_ : ndarray of shape (n_epochs,)
        Training loss per epoch of the main training: minus the Donsker-Varadhan bound, averaged
        over the batches.
    validation_loss_curve_ : ndarray of shape (n_epochs,) or None
        Minus the bound on the validation split per epoch; None when no events were held out
        (``early_stopping=False``, or too few events to split).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X is a DataFrame with string column names.

    Notes
    -----
    *Prior independence.* The estimate is :math:`\mathrm{argmax}_z\, p(x|z)`: changing the truth
    spectrum of the training sample (with the same support) changes neither :math:`B` nor
    :math:`C`, only :math:`A`. The maximum-likelihood estimate is not always unbiased: for a
    Gaussian response with a constant width it is, for a width that grows with :math:`z` it is
    pulled towards smaller widths by about :math:`\sigma\, d\sigma/dz` (see
    :func:`skhep_reweight.datasets.make_gaussian_smearing`).

    *Event weights.* The first term of the bound is the weighted mean over events; a shuffled
    pair carries the product of its two events' weights; zero-weight events are dropped. Weights
    that depend on the truth only (a physics process, a cross-section) change the prior and so,
    asymptotically, nothing. The
    bound takes the logarithm of a weighted mean of :math:`e^T`, which is undefined for a
    negative mean, so negative weights raise a ValueError: drop the events or pass their absolute
    values (for truth-only weights that changes only the prior).

    *Differences from the authors' code* ([2]_, github.com/rikab/GaussianAnsatz):

    - :math:`C = -(L L^\top + \delta I)`, with :math:`L(x, z)` lower triangular with a positive
      diagonal, is negative definite by construction; the authors' C network is an unconstrained
      matrix, so the maximum and the resolution can fail to exist.
    - The D term is off, or annealed to zero during a warm-up, instead of a free term held small
      by an L1/L2 penalty: only with :math:`D = 0` is :math:`B` the maximum of :math:`T`.
    - The bound uses a log-sum-exp instead of dropping the non-finite :math:`e^T` of a batch, and
      there is no separate mean-squared-error pre-training of B: the DV objective alone fixes B.
    - Features and targets are standardized inside the network; the outputs are in the units of
      z.

    References
    ----------
    .. [1] R. Gambhir, B. Nachman, J. Thaler, "Bias and Priors in Machine Learning Calibrations
           for High Energy Physics", Phys. Rev. D 106, 036011 (2022), arXiv:2205.05084.
    .. [2] R. Gambhir, B. Nachman, J. Thaler, "Learning Uncertainties the Frequentist Way:
           Calibration and Correlation in High Energy Physics", Phys. Rev. Lett. 129, 082001
           (2022), arXiv:2205.03413.

    Examples
    --------
    >>> import numpy as np
    >>> from skhep_reweight import GaussianAnsatzCalibrator
    >>> rng = np.random.RandomState(0)
    >>> z = rng.normal(0.0, 1.0, 20000)
    >>> X = (z + rng.normal(0.0, 0.5, 20000))[:, None]
    >>> cal = GaussianAnsatzCalibrator(hidden_layer_sizes=(16,), max_epochs=20, random_state=0)
    >>> z_hat, sigma = cal.fit(X, z).predict([[0.0], [1.0]], return_std=True)
    >>> print(np.round(z_hat, 1), np.round(sigma, 1))
    [0. 1.] [0.5 0.5]
    """

    _parameter_constraints: dict = {
        **NETWORK_PARAMETER_CONSTRAINTS,
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "d_anneal_epochs": [Interval(Integral, 0, None, closed="left")],
        "min_precision": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        hidden_layer_sizes: int | Sequence[int] = (32, 32, 32),
        activation: str = "silu",
        learning_rate: float = 3e-3,
        batch_size: int = 1024,
        max_epochs: int = 100,
        early_stopping: bool = True,
        validation_fraction: float = 0.2,
        n_iter_no_change: int = 15,
        weight_decay: float = 0.0,
        d_anneal_epochs: int = 0,
        min_precision: float = 1e-4,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self._set_params_from_init(locals())

    # ------------------------------------------------------------------ fitting
    @fit_method
    def fit(
        self, X: Any, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> GaussianAnsatzCalibrator:
        """Learn the maximum-likelihood calibration z(x) and its resolution.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Detector-level features (the measurement and any auxiliary features).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            The truth targets z (named ``y`` as scikit-learn requires).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative event weights with a positive sum (see Notes).

        Returns
        -------
        self : GaussianAnsatzCalibrator
        """
        X, z = self._validate_input(X, y, reset=True, multi_output=True, y_numeric=True)
        self._single_target = z.ndim == 1
        X, Z, weight = _weighted_events(X, z, sample_weight)
        weight = weight / weight.mean()
        self.n_targets_ = Z.shape[1]

        x_loc, x_scale = standardization_stats(X, weight)
        z_loc, z_scale = standardization_stats(Z, weight)
        module_kwargs = {
            "n_features": X.shape[1],
            "n_targets": self.n_targets_,
            "hidden_layer_sizes": check_hidden_layer_sizes(self.hidden_layer_sizes),
            "activation": self.activation,
            "x_loc": x_loc,
            "x_scale": x_scale,
            "z_loc": z_loc,
            "z_scale": z_scale,
            "use_d": self.d_anneal_epochs > 0,
            "min_precision": self.min_precision,
        }
        inputs = np.hstack([X, Z])
        warmup_seed, train_seed = derive_seeds(self.random_state, 2)
        options = network_options(self)

        if self.d_anneal_epochs > 0:
            warmup = train_network(
                GaussianAnsatzNetwork,
                module_kwargs,
                inputs,
                None,
                weight,
                options={**options, "max_epochs": self.d_anneal_epochs, "early_stopping": False},
                seed=warmup_seed,
                stratify=False,
                net_class=DonskerVaradhanNet,
                callbacks=[("anneal_d", _AnnealD(self.d_anneal_epochs))],
                desc="Gaussian Ansatz (D warm-up)",
            )
            # the main training starts from the warmed-up network, with D switched off
            state = {k: v.detach().cpu().clone() for k, v in warmup.module_.state_dict().items()}
            state["d_weight"].zero_()
            module_kwargs["init_state"] = state
        self.net_ = train_network(
            GaussianAnsatzNetwork,
            module_kwargs,
            inputs,
            None,
            weight,
            options=options,
            seed=train_seed,
            stratify=False,
            net_class=DonskerVaradhanNet,
            desc="Gaussian Ansatz",
        )
        self.net_.module_.d_weight.zero_()
        self._record_history(self.net_)
        self.train_bound_, error = self._bound(X, Z, weight, n_permutations=1, with_error=True)
        self._check_training(error)
        return self

    def _check_training(self, error: float) -> None:
        advice = (
            "lower learning_rate, raise batch_size, or check X and z for extreme values "
            "(the network runs in float32 after standardizing each column)"
        )
        if not np.isfinite(self.train_bound_):
            raise FloatingPointError(
                f"the Donsker-Varadhan bound of the fitted network is {self.train_bound_}: "
                f"training failed; {advice}"
            )
        if self.train_bound_ < -max(_FAILED_BOUND, _FAILED_BOUND_ERRORS * error):
            warnings.warn(
                f"the Donsker-Varadhan bound on the training events is {self.train_bound_:.3g} "
                f"nats, below the 0 of a constant network: training did not converge and the "
                f"calibration is unreliable; {advice}",
                ConvergenceWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------------ prediction
    def _inputs(self, X: Any) -> np.ndarray:
        X = self._validate_fitted_input(X)
        return np.hstack([X, np.zeros((X.shape[0], self.n_targets_))])

    def _format(self, values: np.ndarray) -> np.ndarray:
        return values[:, 0] if self._single_target else values

    def predict(
        self, X: Any, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """The maximum-likelihood estimate B(x), and optionally its resolution.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return the resolution of each target, :math:`\\sqrt{\\mathrm{diag}(-C^{-1})}`.

        Returns
        -------
        z_hat : ndarray of shape (n_samples,) or (n_samples, n_targets)
            The shape of z in ``fit``.
        std : ndarray, same shape as ``z_hat``
            Only when ``return_std``.
        """
        inputs = self._inputs(X)
        z_hat = predict_network(self.net_, inputs, "maximum")
        if not return_std:
            return self._format(z_hat)
        cov = self._covariance(inputs)
        std = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        return self._format(z_hat), self._format(std)

    def _covariance(self, inputs: np.ndarray) -> np.ndarray:
        k = self.n_targets_
        return predict_network(self.net_, inputs, "covariance").reshape(-1, k, k)

    def predict_covariance(self, X: Any) -> np.ndarray:
        """The covariance of the estimate, :math:`-C(x, B(x))^{-1}`, in the units of z.

        Returns
        -------
        cov : ndarray of shape (n_samples, n_targets, n_targets)
        """
        return self._covariance(self._inputs(X))

    def log_likelihood(self, X: Any, z: ArrayLike) -> np.ndarray:
        """:math:`T(x, z)` per event: the learned :math:`\\log p(x|z)` up to a function of x.

        Scanning z at fixed x traces the likelihood whose maximum ``predict`` returns.
        """
        inputs = self._inputs(X)
        inputs[:, -self.n_targets_ :] = self._targets(z, inputs.shape[0])
        return predict_network(self.net_, inputs)[:, 0]

    def _targets(self, z: ArrayLike, n_samples: int) -> np.ndarray:
        Z = as_finite_array(z, "z")
        Z = Z.reshape(len(Z), -1) if Z.ndim == 1 and self.n_targets_ == 1 else Z
        if Z.ndim != 2 or Z.shape != (n_samples, self.n_targets_):
            raise ValueError(
                f"the targets must have shape ({n_samples}, {self.n_targets_}) (one row per "
                f"row of X), got {np.shape(z)}"
            )
        return Z

    def _bound(
        self,
        X: np.ndarray,
        Z: np.ndarray,
        weight: np.ndarray,
        n_permutations: int,
        with_error: bool = False,
    ) -> float | tuple[float, float]:
        """Donsker-Varadhan bound on validated events with fixed pairings (and the standard
        error of its first term, from the weighted spread of T over the events)."""
        inputs = np.hstack([X, Z])
        t_joint = predict_network(self.net_, inputs)[:, 0]
        rng = np.random.RandomState(_SCORE_SEED)
        n_x = X.shape[1]
        t_marginal, w_marginal = [], []
        for _ in range(n_permutations):
            perm = rng.permutation(X.shape[0])
            inputs[:, n_x:] = Z[perm]
            t_marginal.append(predict_network(self.net_, inputs)[:, 0])
            w_marginal.append(weight * weight[perm])
        bound = float(
            donsker_varadhan_bound(
                *(torch.from_numpy(a) for a in (t_joint, np.concatenate(t_marginal))),
                torch.from_numpy(weight),
                torch.from_numpy(np.concatenate(w_marginal)),
            )
        )
        if not with_error:
            return bound
        joint = np.average(t_joint, weights=weight)
        n_eff = np.sum(weight) ** 2 / np.sum(weight**2)
        return bound, float(np.sqrt(np.average((t_joint - joint) ** 2, weights=weight) / n_eff))

    def score(self, X: Any, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """The Donsker-Varadhan bound on the mutual information of (X, z), in nats.

        Higher is better; it is maximal for the true log-likelihood ratio, so
        ``GridSearchCV(GaussianAnsatzCalibrator(), grid)`` selects the best calibration without a
        ``scoring`` argument. It is not the R² of ``RegressorMixin``. The product-of-marginals
        term pairs each event with the targets of 4 fixed permutations, so the score is
        deterministic.
        """
        X = self._validate_fitted_input(X)
        X, Z, weight = _weighted_events(X, self._targets(y, X.shape[0]), sample_weight)
        return self._bound(X, Z, weight, n_permutations=_SCORE_PERMUTATIONS)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = True  # score is a bound in nats, not an R²
        return tags


def _weighted_events(
    X: np.ndarray, z: ArrayLike, sample_weight: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated weights, and the events of non-zero weight (at least two) with their targets.

    Zero-weight events contribute nothing to either term of the bound; dropping them keeps every
    shuffled pair of a batch informative.
    """
    weight = _check_non_negative(sample_weight, X.shape[0])
    keep = weight > 0
    if keep.sum() < 2:
        raise ValueError(
            f"GaussianAnsatzCalibrator needs at least 2 samples of non-zero weight (events are "
            f"paired with each other's targets), got n_samples = {int(keep.sum())}"
        )
    Z = np.asarray(z, dtype=np.float64).reshape(X.shape[0], -1)
    return X[keep], Z[keep], weight[keep]


def _check_non_negative(sample_weight: ArrayLike | None, n_samples: int) -> np.ndarray:
    return check_non_negative_weights(
        sample_weight,
        n_samples,
        "GaussianAnsatzCalibrator needs non-negative weights (the Donsker-Varadhan bound takes "
        "the logarithm of a weighted mean of exp(T)). Drop those events or pass their absolute "
        "values: weights that depend on the truth only change the prior, which the calibration "
        "does not depend on.",
    )
