"""The parametrized Gaussian of the SRGN paper and its parameter-dependent detector response
(section III.A and Fig. 4 of arXiv:2010.03569), with their exact parametrized weights; see the
package docstring of :mod:`skhep_reweight.datasets` for the conventions and the formulas."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import Bunch, check_random_state

from .._validation import as_finite_array, check_samples
from ._checks import _check_n, _check_real

__all__ = ["make_parameter_dependent_response", "make_parametrized_gaussian"]

# Parameters the SRGN Gaussian example can fit, in their canonical order.
_SRGN_PARAMETER_SETS = (("mu",), ("mu", "sigma"))


# --------------------------------------------------------------------------
# the parametrized Gaussian of the SRGN paper
# --------------------------------------------------------------------------
def _check_parameters(parameters: Sequence[str]) -> tuple[str, ...]:
    """Validate the names of the fitted parameters."""
    if isinstance(parameters, str):
        raise TypeError(f"parameters must be a tuple of names such as ('mu',), got {parameters!r}.")
    names = tuple(parameters)
    if names not in _SRGN_PARAMETER_SETS:
        raise ValueError(f"parameters must be one of {list(_SRGN_PARAMETER_SETS)}, got {names!r}.")
    return names


def _check_range(bounds: ArrayLike, name: str, *, positive: bool = False) -> tuple[float, float]:
    """Validate a ``(low, high)`` pair of finite numbers with ``low < high``."""
    bounds = as_finite_array(bounds, name)
    if bounds.shape != (2,):
        raise ValueError(f"{name} must be a pair (low, high), got shape {bounds.shape}.")
    low, high = float(bounds[0]), float(bounds[1])
    if low >= high:
        raise ValueError(f"{name} must have low < high, got ({low}, {high}).")
    if positive and low <= 0:
        raise ValueError(f"{name} must be positive, got ({low}, {high}).")
    return low, high


def _check_theta(
    theta: ArrayLike, n_rows: int, n_parameters: int, name: str = "theta"
) -> np.ndarray:
    """Broadcast ``theta`` to shape (n_rows, n_parameters) and validate it."""
    theta = as_finite_array(theta, name)
    if theta.ndim == 0 and n_parameters == 1:
        theta = theta.reshape(1)
    if theta.ndim == 1:
        if theta.shape[0] != n_parameters:
            raise ValueError(
                f"a 1-D {name} must have length n_parameters={n_parameters}, got "
                f"{theta.shape[0]}; pass per-row values with shape (n_samples, n_parameters)."
            )
        theta = np.broadcast_to(theta, (n_rows, n_parameters))
    if theta.shape != (n_rows, n_parameters):
        raise ValueError(
            f"{name} must have shape ({n_parameters},) or ({n_rows}, {n_parameters}), "
            f"got {theta.shape}."
        )
    return theta


def _srgn_weight(
    X: ArrayLike,
    theta: ArrayLike,
    *,
    parameter_names: tuple[str, ...],
    nominal_mu: float,
    nominal_sigma: float,
) -> np.ndarray:
    """Exact p(x | theta) / p(x | theta_0) of the SRGN Gaussian, eqs. (10)-(11)."""
    x = check_samples(X, "X", n_features=1)[:, 0]
    theta = _check_theta(theta, x.shape[0], len(parameter_names))
    mu = theta[:, 0]
    sigma = theta[:, 1] if "sigma" in parameter_names else np.full_like(mu, nominal_sigma)
    if np.any(sigma <= 0):
        raise ValueError("theta: sigma must be positive.")
    log_w = np.log(nominal_sigma / sigma) + 0.5 * (
        ((x - nominal_mu) / nominal_sigma) ** 2 - ((x - mu) / sigma) ** 2
    )
    return np.exp(log_w)


def _draw_target_theta(
    n_samples: int,
    names: tuple[str, ...],
    target_theta: np.ndarray | None,
    mu_range: tuple[float, float],
    sigma_range: tuple[float, float] | None,
    rng: np.random.RandomState,
) -> np.ndarray:
    """Per-event target parameters: uniform in the ranges, or the fixed point."""
    if target_theta is not None:
        return np.tile(target_theta, (n_samples, 1))
    columns = [rng.uniform(*mu_range, size=n_samples)]
    if "sigma" in names:
        columns.append(rng.uniform(*sigma_range, size=n_samples))
    return np.column_stack(columns)


def make_parametrized_gaussian(
    n_samples: int = 10_000,
    *,
    parameters: Sequence[str] = ("mu",),
    mu_range: tuple[float, float] = (-2.0, 2.0),
    sigma_range: tuple[float, float] = (0.25, 4.0),
    nominal_mu: float = 0.0,
    nominal_sigma: float = 1.0,
    smearing: float = 0.5,
    target_theta: ArrayLike | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""Parametrized Gaussian with detector smearing (SRGN paper, section III.A).

    The generator-level feature is :math:`x_G \sim \mathcal{N}(\mu, \sigma^2)`
    and the simulation-level feature :math:`x_S = x_G + z` with
    :math:`z \sim \mathcal{N}(0, \epsilon^2)` [1]_.  Source rows (``y == 0``)
    are generated at the nominal point :math:`\theta_0 = (\mu_0, \sigma_0)` and
    carry ``theta = NaN``.  Target rows (``y == 1``) each draw their own
    :math:`\theta` uniformly in the ranges (the training sample of a
    parametrized reweighter), or all sit at ``target_theta`` when it is given
    (the "data" of a fit).  The exact parametrized weight is eq. (11) of [1]_,

    .. math::

        w_{\theta_0}(x_G, \theta) = \frac{\sigma_0}{\sigma}
            \exp\left(\frac{1}{2}\left[\left(\frac{x_G - \mu_0}{\sigma_0}\right)^2
            - \left(\frac{x_G - \mu}{\sigma}\right)^2\right]\right),

    which is eq. (10) when only :math:`\mu` is a parameter and
    :math:`\sigma = \sigma_0 = 1`.

    Parameters
    ----------
    n_samples : int, default=10_000
        Number of events per class.
    parameters : tuple of str, default=("mu",)
        The varied parameters, ``("mu",)`` or ``("mu", "sigma")``; when
        ``"sigma"`` is not varied the width is ``nominal_sigma`` everywhere.
    mu_range : tuple of float, default=(-2.0, 2.0)
        Range of the uniform draw of :math:`\mu` on target rows.
    sigma_range : tuple of float, default=(0.25, 4.0)
        Range of the uniform draw of :math:`\sigma` on target rows (used only
        when ``"sigma"`` is varied); must be positive.
    nominal_mu, nominal_sigma : float, default=0.0, 1.0
        The nominal point :math:`\theta_0` of the source rows.
    smearing : float, default=0.5
        Detector resolution :math:`\epsilon \geq 0`.
    target_theta : array-like of shape (n_parameters,), default=None
        If given, every target row is generated at this parameter point.
    random_state : int, RandomState instance or None, default=None
        Seed of the sampling.

    Returns
    -------
    data : Bunch
        ``X`` (ndarray of shape (2 * n_samples, 1), generator level, source
        rows first), ``X_sim`` (ndarray of shape (2 * n_samples, 1),
        simulation level), ``y`` (ndarray of shape (2 * n_samples,)), ``theta``
        (ndarray of shape (2 * n_samples, n_parameters), NaN on source rows),
        ``parameter_names`` (tuple of str), ``nominal_theta`` (ndarray of shape
        (n_parameters,)), ``weight_function`` (callable ``(X, theta) -> w``
        where ``theta`` has shape (n_parameters,) or (n_rows, n_parameters))
        and ``description`` (str).

    References
    ----------
    .. [1] A. Andreassen, S.-C. Hsu, B. Nachman, N. Suaysom and A. Suresh,
       Phys. Rev. D 103, 036001 (2021), arXiv:2010.03569.

    Examples
    --------
    >>> from skhep_reweight.datasets import make_parametrized_gaussian
    >>> data = make_parametrized_gaussian(
    ...     n_samples=3, parameters=("mu", "sigma"), random_state=0
    ... )
    >>> data.theta.shape, bool(np.isnan(data.theta[:3]).all())
    ((6, 2), True)
    >>> print(data.weight_function([[1.0]], [1.0, 1.0]).round(3))  # eq. (10): exp(1/2)
    [1.649]
    """
    n_samples = _check_n(n_samples, "n_samples")
    names = _check_parameters(parameters)
    mu_range = _check_range(mu_range, "mu_range")
    sigma_range = _check_range(sigma_range, "sigma_range", positive=True)
    nominal_mu = _check_real(nominal_mu, "nominal_mu")
    nominal_sigma = _check_real(nominal_sigma, "nominal_sigma", positive=True)
    smearing = _check_real(smearing, "smearing")
    if smearing < 0:
        raise ValueError(f"smearing must be non-negative, got {smearing}.")
    if target_theta is not None:
        target_theta = _check_theta(target_theta, 1, len(names), "target_theta")[0]
        if "sigma" in names and target_theta[1] <= 0:
            raise ValueError(f"target_theta: sigma must be positive, got {target_theta[1]}.")
    rng = check_random_state(random_state)

    source = rng.normal(nominal_mu, nominal_sigma, size=n_samples)
    theta_target = _draw_target_theta(n_samples, names, target_theta, mu_range, sigma_range, rng)
    sigma_target = theta_target[:, 1] if "sigma" in names else nominal_sigma
    target = rng.normal(theta_target[:, 0], sigma_target)
    X = np.concatenate([source, target])[:, np.newaxis]
    X_sim = X + rng.normal(0.0, smearing, size=X.shape)
    theta = np.vstack([np.full((n_samples, len(names)), np.nan), theta_target])
    nominal = np.array([nominal_mu, nominal_sigma][: len(names)])
    where = f"at theta={tuple(target_theta)}" if target_theta is not None else "theta uniform"
    text = (
        f"SRGN parametrized Gaussian in {names}: source x_G ~ N({nominal_mu}, "
        f"{nominal_sigma}^2) (y == 0), target {where} (y == 1); x_S = x_G + "
        f"N(0, {smearing}^2); {n_samples} events each."
    )
    return Bunch(
        X=X,
        X_sim=X_sim,
        y=np.repeat(np.array([0, 1]), n_samples),
        theta=theta,
        parameter_names=names,
        nominal_theta=nominal,
        weight_function=functools.partial(
            _srgn_weight,
            parameter_names=names,
            nominal_mu=nominal_mu,
            nominal_sigma=nominal_sigma,
        ),
        description=text,
    )


# --------------------------------------------------------------------------
# the parameter-dependent detector response of the SRGN paper (Fig. 4)
# --------------------------------------------------------------------------
def _response_width(mu: ArrayLike, omega: tuple[float, float]) -> np.ndarray | float:
    """Width nu(mu) = (omega_0 + omega_1 mu)^2 of the secondary generator-level feature."""
    return (omega[0] + omega[1] * np.asarray(mu, dtype=np.float64)) ** 2


def _response_weight(
    X: ArrayLike,
    theta: ArrayLike,
    *,
    omega: tuple[float, float],
    nominal_mu: float,
    primary_only: bool,
) -> np.ndarray:
    """Exact p(x_G | mu) / p(x_G | mu_0): both features, or the primary one alone (eq. 10)."""
    X = check_samples(X, "X", n_features=1 if primary_only else 2)
    mu = _check_theta(theta, X.shape[0], 1)[:, 0]
    log_w = 0.5 * ((X[:, 0] - nominal_mu) ** 2 - (X[:, 0] - mu) ** 2)
    if not primary_only:
        nu, nu0 = _response_width(mu, omega), _response_width(nominal_mu, omega)
        log_w += np.log(nu0 / nu) + 0.5 * X[:, 1] ** 2 * (1.0 / nu0**2 - 1.0 / nu**2)
    return np.exp(log_w)


def make_parameter_dependent_response(
    n_samples: int = 10_000,
    *,
    mu_range: tuple[float, float] = (-2.0, 2.0),
    nominal_mu: float = 0.0,
    omega: tuple[float, float] = (0.7, 0.2),
    target_theta: ArrayLike | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""A detector response that depends on the generator parameter (SRGN paper, Fig. 4).

    Two generator-level features: the primary :math:`x_{G,0} \sim \mathcal{N}(\mu, 1)` and the
    secondary :math:`x_{G,1} \sim \mathcal{N}(0, \nu^2)` with :math:`\nu = (\omega_0 +
    \omega_1\mu)^2`. One detector-level feature, :math:`x_S = x_{G,0} + z` with
    :math:`z \sim \mathcal{N}(4|x_{G,1}|, x_{G,1}^4)`: the shift and the smearing both grow with
    :math:`|x_{G,1}|`, whose spread grows with :math:`\mu` [1]_. The exact parametrized weight
    over both features (the full phase space) is

    .. math::

        w_{\mu_0}(x_G, \mu) = \frac{\nu_0}{\nu}\exp\left(\frac{(x_{G,0} - \mu_0)^2
            - (x_{G,0} - \mu)^2}{2} + \frac{x_{G,1}^2}{2}\left(\frac{1}{\nu_0^2}
            - \frac{1}{\nu^2}\right)\right),

    and it reweights the detector-level feature correctly. The weight of the primary feature
    alone (eq. 10 of [1]_, ``primary_weight_function``) reproduces the primary feature but not
    :math:`x_S`: a detector-level fit with it is biased.

    Parameters
    ----------
    n_samples : int, default=10_000
        Number of events per class.
    mu_range : tuple of float, default=(-2.0, 2.0)
        Range of the uniform draw of :math:`\mu` on target rows.
    nominal_mu : float, default=0.0
        :math:`\mu_0` of the source rows.
    omega : tuple of float, default=(0.7, 0.2)
        :math:`(\omega_0, \omega_1)` (the paper's values); :math:`\omega_0 + \omega_1\mu` must
        not vanish inside the range.
    target_theta : array-like of shape (1,), default=None
        If given, every target row is generated at this :math:`\mu`.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    data : Bunch
        ``X`` (ndarray of shape (2 * n_samples, 2), generator level, source rows first),
        ``X_sim`` (ndarray of shape (2 * n_samples, 1)), ``y``, ``theta`` (ndarray of shape
        (2 * n_samples, 1), NaN on source rows), ``nominal_theta``, ``weight_function``
        (callable ``(X, theta) -> w`` on both features), ``primary_weight_function`` (callable
        ``(X[:, :1], theta) -> w`` on the primary feature) and ``description``.

    References
    ----------
    .. [1] A. Andreassen, S.-C. Hsu, B. Nachman, N. Suaysom and A. Suresh,
       Phys. Rev. D 103, 036001 (2021), arXiv:2010.03569.

    Examples
    --------
    >>> from skhep_reweight.datasets import make_parameter_dependent_response
    >>> data = make_parameter_dependent_response(1000, target_theta=[1.0], random_state=0)
    >>> data.X.shape, data.X_sim.shape
    ((2000, 2), (2000, 1))
    >>> print(round(float(np.std(data.X[data.y == 1, 1])), 1))  # nu(1) = 0.9^2
    0.8
    """
    n_samples = _check_n(n_samples, "n_samples")
    mu_range = _check_range(mu_range, "mu_range")
    nominal_mu = _check_real(nominal_mu, "nominal_mu")
    omega = tuple(float(v) for v in as_finite_array(omega, "omega"))
    if len(omega) != 2:
        raise ValueError(f"omega must be a pair (omega_0, omega_1), got {omega}.")
    edges = np.array([mu_range[0], mu_range[1], nominal_mu])
    if target_theta is not None:
        target_theta = _check_theta(target_theta, 1, 1, "target_theta")[0]
        edges = np.append(edges, target_theta)
    if np.any(_response_width(edges, omega) == 0) or np.ptp(np.sign(omega[0] + omega[1] * edges)):
        raise ValueError(f"omega_0 + omega_1 * mu vanishes inside the range for omega={omega}.")
    rng = check_random_state(random_state)
    mu = np.r_[
        np.full(n_samples, nominal_mu),
        _draw_target_theta(n_samples, ("mu",), target_theta, mu_range, None, rng)[:, 0],
    ]
    primary = rng.normal(mu, 1.0)
    secondary = rng.normal(0.0, _response_width(mu, omega))
    x_sim = primary + rng.normal(4.0 * np.abs(secondary), secondary**2)
    where = f"at mu={target_theta[0]}" if target_theta is not None else "mu uniform"
    kwargs = {"omega": omega, "nominal_mu": nominal_mu}
    return Bunch(
        X=np.column_stack([primary, secondary]),
        X_sim=x_sim[:, np.newaxis],
        y=np.repeat(np.array([0, 1]), n_samples),
        theta=np.r_[np.full(n_samples, np.nan), mu[n_samples:]][:, np.newaxis],
        nominal_theta=np.array([nominal_mu]),
        weight_function=functools.partial(_response_weight, primary_only=False, **kwargs),
        primary_weight_function=functools.partial(_response_weight, primary_only=True, **kwargs),
        description=(
            f"SRGN parameter-dependent response: x_G0 ~ N(mu, 1), x_G1 ~ N(0, nu^2), "
            f"nu = ({omega[0]} + {omega[1]} mu)^2, x_S = x_G0 + N(4|x_G1|, x_G1^4); source at "
            f"mu={nominal_mu} (y == 0), target {where} (y == 1); {n_samples} events each."
        ),
    )
