r"""Calibration problems with a known maximum-likelihood answer (section IV.A and V.B of "Bias and
Priors", arXiv:2205.05084).

Every maker returns a :class:`sklearn.utils.Bunch` with ``X`` (detector-level features, 2-D) and
``z`` (truth), and the analytic answers as functions: ``ml_calibration`` (the maximum-likelihood
estimate :math:`\mathrm{argmax}_z\, p(x|z)`) and ``ml_resolution`` (its resolution
:math:`(-\partial_z^2 \log p(x|z))^{-1/2}` at the maximum, what the Gaussian Ansatz's
:math:`(-C)^{-1/2}` estimates), plus the mean-squared-error answers where they are known.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import Bunch, check_random_state

from ._checks import _check_n, _check_real

__all__ = [
    "make_auxiliary_response",
    "make_correlated_smearing",
    "make_dijet_calibration",
    "make_gaussian_smearing",
]

# Grid of the numerical maximum-likelihood search, in units of the response width.
_GRID_HALF_WIDTH = 8.0
_GRID_POINTS = 4001


def _as_column(values: ArrayLike, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim > 1:
        raise ValueError(f"{name} must be 1-D or a single column, got shape {values.shape}")
    return values


def make_gaussian_smearing(
    n_samples: int = 10_000,
    *,
    mu: float = 0.0,
    sigma: float = 1.0,
    epsilon: float = 2.0,
    offset: float = 0.0,
    width_slope: float = 0.0,
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""Gaussian truth smeared by a Gaussian detector response (section IV.A of [1]_).

    .. math::

        z \sim \mathcal{N}(\mu, \sigma^2), \qquad
        x \,|\, z \sim \mathcal{N}\big(z + \text{offset},\ s(z)^2\big), \qquad
        s(z) = \epsilon\,(1 + \text{width\_slope}\cdot|z|).

    With the defaults (:math:`\mu = 0, \sigma = 1, \epsilon = 2`, no offset, constant width) this
    is the set-up of Figs. 1 and 2 of [1]_: the maximum-likelihood calibration is
    :math:`\hat z = x` with resolution 2 (eqs. 31, 33), the mean-squared-error regression has
    slope :math:`\sigma^2/(\sigma^2+\epsilon^2) = 0.2` and resolution 0.894 (eqs. 30, 32).

    Parameters
    ----------
    n_samples : int, default=10000
    mu, sigma : float, default=0, 1
        The truth prior.
    epsilon : float, default=2
        Width of the response at z = 0.
    offset : float, default=0
        Shift of the response.
    width_slope : float, default=0
        Growth of the width with :math:`|z|`. With a non-zero slope the maximum-likelihood
        estimate is *not* :math:`x - \text{offset}`: the likelihood also rewards a smaller width,
        which pulls the estimate towards z = 0 by about :math:`s\, ds/dz` (computed numerically).
        The :math:`|z|` puts a cusp in the likelihood at z = 0: for
        :math:`|x - \text{offset}|` below about :math:`\epsilon^2\,\text{width\_slope}` the
        maximum sits at 0 and its curvature is infinite (``ml_resolution`` is then meaningless).
    random_state : int, RandomState instance or None

    Returns
    -------
    data : Bunch
        - ``X`` (n_samples, 1), ``z`` (n_samples,).
        - ``ml_calibration(x)``, ``ml_resolution(x)``: the exact maximum-likelihood estimate and
          its resolution (closed form without ``width_slope``, a dense grid search refined by a
          parabola with it: accurate to about 1e-5 of the width).
        - ``response_width(z)``: :math:`s(z)`.
        - Without ``width_slope`` also the mean-squared-error answers: ``mse_calibration(x)``
          (eq. 30), ``mse_resolution`` (eq. 32, a float), ``mse_bias(z)`` (eq. 39),
          ``mse_resolution_truth`` (eq. 40, a float); None otherwise.

    References
    ----------
    .. [1] R. Gambhir, B. Nachman, J. Thaler, "Bias and Priors in Machine Learning Calibrations
           for High Energy Physics", arXiv:2205.05084.

    Examples
    --------
    >>> from skhep_reweight.datasets import make_gaussian_smearing
    >>> data = make_gaussian_smearing(1000, random_state=0)
    >>> print(data.X.shape, data.ml_calibration([1.5]), round(data.mse_resolution, 3))
    (1000, 1) [1.5] 0.894
    """
    n = _check_n(n_samples, "n_samples")
    mu = _check_real(mu, "mu")
    sigma = _check_real(sigma, "sigma", positive=True)
    epsilon = _check_real(epsilon, "epsilon", positive=True)
    offset = _check_real(offset, "offset")
    slope = _check_real(width_slope, "width_slope")
    if slope < 0:
        raise ValueError(f"width_slope must be >= 0, got {width_slope}")
    rng = check_random_state(random_state)

    def response_width(z: ArrayLike) -> np.ndarray:
        return epsilon * (1.0 + slope * np.abs(_as_column(z, "z")))

    z = rng.normal(mu, sigma, n)
    x = z + offset + response_width(z) * rng.normal(0.0, 1.0, n)

    def log_likelihood(zz: np.ndarray, xx: np.ndarray) -> np.ndarray:
        s = response_width(zz.ravel()).reshape(zz.shape)
        return -np.log(s) - 0.5 * ((xx - zz - offset) / s) ** 2

    if slope == 0:

        def ml_calibration(x: ArrayLike) -> np.ndarray:
            return _as_column(x, "x") - offset

        def ml_resolution(x: ArrayLike) -> np.ndarray:
            return np.full(_as_column(x, "x").shape, epsilon)

    else:

        def ml_calibration(x: ArrayLike) -> np.ndarray:
            return _grid_maximum(log_likelihood, _as_column(x, "x"), offset, response_width)[0]

        def ml_resolution(x: ArrayLike) -> np.ndarray:
            return _grid_maximum(log_likelihood, _as_column(x, "x"), offset, response_width)[1]

    mse = dict.fromkeys(("mse_calibration", "mse_resolution", "mse_bias", "mse_resolution_truth"))
    if slope == 0:
        shrink = sigma**2 / (sigma**2 + epsilon**2)

        def mse_calibration(x: ArrayLike) -> np.ndarray:
            return mu + shrink * (_as_column(x, "x") - offset - mu)

        def mse_bias(z: ArrayLike) -> np.ndarray:
            return (1.0 - shrink) * (mu - _as_column(z, "z"))

        mse = {
            "mse_calibration": mse_calibration,
            "mse_resolution": float(epsilon * sigma / np.hypot(epsilon, sigma)),
            "mse_bias": mse_bias,
            "mse_resolution_truth": float(shrink * epsilon),
        }
    return Bunch(
        X=x[:, None],
        z=z,
        ml_calibration=ml_calibration,
        ml_resolution=ml_resolution,
        response_width=response_width,
        mu=mu,
        sigma=sigma,
        epsilon=epsilon,
        offset=offset,
        width_slope=slope,
        **mse,
        DESCR="Gaussian truth N(mu, sigma^2) smeared by N(z + offset, s(z)^2).",
    )


def _grid_maximum(
    log_likelihood: Callable[[np.ndarray, np.ndarray], np.ndarray],
    x: np.ndarray,
    offset: float,
    response_width: Callable[[ArrayLike], np.ndarray],
    chunk: int = 2000,
) -> tuple[np.ndarray, np.ndarray]:
    """argmax_z and curvature resolution of a 1-D log-likelihood, for every x."""
    if len(x) > chunk:
        parts = [
            _grid_maximum(log_likelihood, x[i : i + chunk], offset, response_width)
            for i in range(0, len(x), chunk)
        ]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    start = x - offset
    half = _GRID_HALF_WIDTH * response_width(np.abs(start) + 1.0)
    steps = np.linspace(-1.0, 1.0, _GRID_POINTS)
    grid = start[:, None] + half[:, None] * steps[None, :]
    ll = log_likelihood(grid, x[:, None])
    i = np.clip(np.argmax(ll, axis=1), 1, _GRID_POINTS - 2)
    rows = np.arange(len(x))
    h = grid[rows, i + 1] - grid[rows, i]
    lo, mid, hi = ll[rows, i - 1], ll[rows, i], ll[rows, i + 1]
    curvature = (hi - 2 * mid + lo) / h**2
    peak = grid[rows, i] + h * 0.5 * (lo - hi) / np.where(curvature < 0, hi - 2 * mid + lo, -1.0)
    # The curvature on the grid spacing is accurate to O(h^2); refine it at the refined peak.
    fine = 1e-3 * response_width(peak)
    around = log_likelihood(np.stack([peak - fine, peak, peak + fine], 1), x[:, None])
    curvature = (around[:, 0] - 2 * around[:, 1] + around[:, 2]) / fine**2
    return peak, 1.0 / np.sqrt(-curvature)


def make_correlated_smearing(
    n_samples: int = 10_000,
    *,
    truth_mean: ArrayLike = (0.0, 0.0),
    truth_cov: ArrayLike = ((1.0, 0.0), (0.0, 1.0)),
    smearing_cov: ArrayLike = ((0.25, 0.15), (0.15, 0.36)),
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""Several truth targets smeared with correlated Gaussian noise.

    .. math::

        z \sim \mathcal{N}(m, P), \qquad x \,|\, z \sim \mathcal{N}(z, S).

    The maximum-likelihood estimate is :math:`\hat z = x` with covariance :math:`S` for every x
    (what ``GaussianAnsatzCalibrator.predict_covariance`` should return); the mean-squared-error
    regression is :math:`E[z|x] = m + P (P + S)^{-1} (x - m)`.

    Returns
    -------
    data : Bunch
        ``X`` and ``z`` of shape (n_samples, n_targets), ``smearing_cov`` (:math:`S`),
        ``truth_cov``, ``truth_mean``, ``ml_calibration(X)`` (= X) and ``mse_calibration(X)``.
    """
    n = _check_n(n_samples, "n_samples")
    m = np.asarray(truth_mean, dtype=np.float64)
    P = np.asarray(truth_cov, dtype=np.float64)
    S = np.asarray(smearing_cov, dtype=np.float64)
    k = m.shape[0]
    for name, cov in (("truth_cov", P), ("smearing_cov", S)):
        if cov.shape != (k, k) or not np.allclose(cov, cov.T):
            raise ValueError(f"{name} must be a symmetric ({k}, {k}) matrix, got {cov.shape}")
        if np.linalg.eigvalsh(cov).min() <= 0:
            raise ValueError(f"{name} must be positive definite")
    rng = check_random_state(random_state)
    z = rng.multivariate_normal(m, P, size=n)
    X = z + rng.multivariate_normal(np.zeros(k), S, size=n)
    gain = P @ np.linalg.inv(P + S)

    def ml_calibration(X: ArrayLike) -> np.ndarray:
        return np.asarray(X, dtype=np.float64)

    def mse_calibration(X: ArrayLike) -> np.ndarray:
        return m + (np.asarray(X, dtype=np.float64) - m) @ gain.T

    return Bunch(
        X=X,
        z=z,
        smearing_cov=S,
        truth_cov=P,
        truth_mean=m,
        ml_calibration=ml_calibration,
        mse_calibration=mse_calibration,
        DESCR="Gaussian truth N(m, P) smeared by correlated Gaussian noise N(0, S).",
    )


def make_auxiliary_response(
    n_samples: int = 10_000,
    *,
    truth_mean: float = 10.0,
    truth_std: float = 2.0,
    noise: float = 0.5,
    eta_max: float = 2.5,
    response_drop: float = 0.4,
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""A response that depends on an auxiliary feature :math:`\eta` (section III.A of [1]_).

    .. math::

        z \sim \mathcal{N}(m, s^2), \quad \eta \sim U(-\eta_\max, \eta_\max), \quad
        x = z\, g(\eta) + \mathcal{N}(0, \text{noise}^2), \quad
        g(\eta) = 1 - \text{drop}\,(\eta/\eta_\max)^2,

    like a calorimeter whose response falls towards the forward region. Given :math:`\eta` the
    maximum-likelihood estimate is :math:`x/g(\eta)` with resolution :math:`\text{noise}/g(\eta)`;
    from :math:`x` alone the unknown :math:`g` adds a spread of about :math:`z\,\mathrm{std}(g)`.
    ``X`` holds the columns (x, eta).

    Returns
    -------
    data : Bunch
        ``X`` (n_samples, 2), ``z``, ``eta``, ``response(eta)``, ``ml_calibration(X)`` and
        ``ml_resolution(X)`` (given both columns).

    References
    ----------
    .. [1] R. Gambhir, B. Nachman, J. Thaler, arXiv:2205.05084, section III.A.
    """
    n = _check_n(n_samples, "n_samples")
    truth_std = _check_real(truth_std, "truth_std", positive=True)
    noise = _check_real(noise, "noise", positive=True)
    eta_max = _check_real(eta_max, "eta_max", positive=True)
    drop = _check_real(response_drop, "response_drop")
    if not 0 <= drop < 1:
        raise ValueError(f"response_drop must be in [0, 1), got {response_drop}")
    rng = check_random_state(random_state)

    def response(eta: ArrayLike) -> np.ndarray:
        return 1.0 - drop * (np.asarray(eta, dtype=np.float64) / eta_max) ** 2

    z = rng.normal(_check_real(truth_mean, "truth_mean"), truth_std, n)
    eta = rng.uniform(-eta_max, eta_max, n)
    x = z * response(eta) + rng.normal(0.0, noise, n)

    def ml_calibration(X: ArrayLike) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        return X[:, 0] / response(X[:, 1])

    def ml_resolution(X: ArrayLike) -> np.ndarray:
        return noise / response(np.asarray(X, dtype=np.float64)[:, 1])

    return Bunch(
        X=np.column_stack([x, eta]),
        z=z,
        eta=eta,
        response=response,
        ml_calibration=ml_calibration,
        ml_resolution=ml_resolution,
        DESCR="x = z g(eta) + noise, with g(eta) = 1 - drop (eta / eta_max)^2.",
    )


def make_dijet_calibration(
    n_samples: int = 100_000,
    *,
    process: str = "qcd",
    mass_min: float = 2000.0,
    spectrum_index: float = 6.0,
    resonance_mass: float = 2800.0,
    resonance_width: float = 10.0,
    response: float = 0.95,
    resolution: float = 0.04,
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""Dijet invariant mass with a synthetic detector (section V.B of [1]_, CMS replaced).

    Truth :math:`z = m_{jj}^\text{true}` in GeV:

    - ``"qcd"``: a steeply falling spectrum :math:`p(z) \propto z^{-n}` above ``mass_min``
      (:math:`n` = ``spectrum_index``), standing in for dijets with :math:`\hat p_T > 1` TeV;
    - ``"bsm"``: a narrow resonance, :math:`\mathcal{N}(2800, 10^2)` GeV (eq. 45 of [1]_).

    The detector measures :math:`x = m_{jj}^\text{reco} \sim \mathcal{N}(a z, (s z)^2)`: a
    response :math:`a` (5% low) and a relative resolution :math:`s` (4%). The
    maximum-likelihood estimate is :math:`\hat z = x / r` with :math:`r = (a + \sqrt{a^2 +
    4 s^2})/2` (the width grows with z, which pulls :math:`r` above :math:`a`), so
    :math:`E[\hat z / z] = a / r` (0.9982 for the defaults) whatever the process; its resolution
    is :math:`\hat z\, s / \sqrt{r^2 + s^2}`.

    Returns
    -------
    data : Bunch
        ``X`` (n_samples, 1) reconstructed mass, ``z`` true mass, ``ml_calibration(x)``,
        ``ml_resolution(x)``, ``ml_ratio`` (:math:`a/r`, the expected mean of calibrated/true).

    References
    ----------
    .. [1] R. Gambhir, B. Nachman, J. Thaler, arXiv:2205.05084, section V.
    """
    n = _check_n(n_samples, "n_samples")
    if process not in ("qcd", "bsm"):
        raise ValueError(f"process must be 'qcd' or 'bsm', got {process!r}")
    a = _check_real(response, "response", positive=True)
    s = _check_real(resolution, "resolution", positive=True)
    mass_min = _check_real(mass_min, "mass_min", positive=True)
    index = _check_real(spectrum_index, "spectrum_index")
    if index <= 1:
        raise ValueError(f"spectrum_index must be > 1 for a normalizable spectrum, got {index}")
    rng = check_random_state(random_state)
    if process == "qcd":
        z = mass_min * rng.uniform(0.0, 1.0, n) ** (-1.0 / (index - 1.0))
    else:
        width = _check_real(resonance_width, "resonance_width", positive=True)
        z = rng.normal(_check_real(resonance_mass, "resonance_mass", positive=True), width, n)
    x = rng.normal(a * z, s * z)
    r = 0.5 * (a + np.sqrt(a**2 + 4 * s**2))

    def ml_calibration(x: ArrayLike) -> np.ndarray:
        return _as_column(x, "x") / r

    def ml_resolution(x: ArrayLike) -> np.ndarray:
        return _as_column(x, "x") / r * s / np.hypot(r, s)

    return Bunch(
        X=x[:, None],
        z=z,
        ml_calibration=ml_calibration,
        ml_resolution=ml_resolution,
        ml_ratio=float(a / r),
        DESCR=f"{process.upper()} dijet mass, reco ~ N({a} z, ({s} z)^2).",
    )
