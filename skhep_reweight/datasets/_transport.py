r"""Transport problems whose optimal map is known in closed form (data-based calibration, section
II.D and IV.B of "Bias and Priors", arXiv:2205.05084, and the conditional calibration of Pollard
& Windischhofer, arXiv:2107.08648).

Every maker returns a :class:`sklearn.utils.Bunch` with ``X`` (the simulation rows first,
``y == 0``, then the data rows, ``y == 1``; ``n_samples`` rows per class), ``y``, and
``transport_map(X)``: the exact optimal-transport map (squared Euclidean cost) that moves the
simulation's distribution onto the data's, applied to rows of X (conditioning columns are passed
through unchanged).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg
from sklearn.utils import Bunch, check_random_state

from ._checks import _check_n, _check_real

__all__ = [
    "gaussian_transport_map",
    "make_conditional_discriminant",
    "make_gaussian_transport",
    "make_smearing_mismodeling",
]


def _check_mean_cov(mean: ArrayLike, cov: ArrayLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim == 0:
        cov = cov * np.eye(mean.size)
    if mean.ndim != 1 or cov.shape != (mean.size, mean.size):
        raise ValueError(
            f"mean_{name} must be 1-D and cov_{name} of shape (d, d) with d = len(mean_{name}), "
            f"got shapes {mean.shape} and {cov.shape}"
        )
    if not np.allclose(cov, cov.T) or np.linalg.eigvalsh(cov).min() <= 0:
        raise ValueError(f"cov_{name} must be symmetric positive definite")
    return mean, cov


def gaussian_transport_map(
    mean_sim: ArrayLike, cov_sim: ArrayLike, mean_data: ArrayLike, cov_data: ArrayLike
) -> tuple[np.ndarray, float]:
    r"""The optimal map between two normal distributions and its cost.

    For :math:`\mathcal{N}(\mu_s, S) \to \mathcal{N}(\mu_d, D)` the map is
    :math:`T(x) = \mu_d + A (x - \mu_s)` with

    .. math::

        A = S^{-1/2} \left(S^{1/2} D S^{1/2}\right)^{1/2} S^{-1/2},

    symmetric positive definite (the gradient of a convex potential), and the squared
    2-Wasserstein distance is
    :math:`|\mu_d - \mu_s|^2 + \mathrm{tr}\big(S + D - 2 (S^{1/2} D S^{1/2})^{1/2}\big)`.
    In one dimension :math:`A = \sigma_d/\sigma_s`, eq. (42) of "Bias and Priors".

    Returns
    -------
    A : ndarray of shape (d, d)
    w2_squared : float
    """
    mean_s, S = _check_mean_cov(mean_sim, cov_sim, "sim")
    mean_d, D = _check_mean_cov(mean_data, cov_data, "data")
    if mean_s.size != mean_d.size:
        raise ValueError("the simulation and the data must have the same dimension")
    root_s = np.real(linalg.sqrtm(S))
    inv_root_s = np.linalg.inv(root_s)
    middle = np.real(linalg.sqrtm(root_s @ D @ root_s))
    A = inv_root_s @ middle @ inv_root_s
    w2 = float(np.sum((mean_d - mean_s) ** 2) + np.trace(S + D - 2 * middle))
    return 0.5 * (A + A.T), w2


def make_gaussian_transport(
    n_samples: int = 2000,
    *,
    mean_sim: ArrayLike = (0.0, 0.0),
    cov_sim: ArrayLike = ((1.0, 0.3), (0.3, 0.5)),
    mean_data: ArrayLike = (0.5, -0.5),
    cov_data: ArrayLike = ((0.6, -0.2), (-0.2, 1.5)),
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""Simulation :math:`\mathcal{N}(\mu_s, S)` and data :math:`\mathcal{N}(\mu_d, D)`.

    The default covariances differ in scale, correlation and orientation, so that the map is
    neither a shift nor a per-axis scaling.

    Returns
    -------
    data : Bunch
        ``X`` (2 n_samples, d), ``y``; ``transport_map(X)`` :math:`= \mu_d + A(x - \mu_s)`;
        ``inverse_map(X)``; ``matrix`` (A); ``w2_squared`` (the exact transport cost
        :math:`E|T(x) - x|^2`); the means and covariances.
    """
    n = _check_n(n_samples, "n_samples")
    mean_s, S = _check_mean_cov(mean_sim, cov_sim, "sim")
    mean_d, D = _check_mean_cov(mean_data, cov_data, "data")
    A, w2 = gaussian_transport_map(mean_s, S, mean_d, D)
    rng = check_random_state(random_state)
    sim = rng.multivariate_normal(mean_s, S, size=n)
    data = rng.multivariate_normal(mean_d, D, size=n)
    A_inv = np.linalg.inv(A)

    def transport_map(X: ArrayLike) -> np.ndarray:
        return mean_d + (np.asarray(X, dtype=np.float64) - mean_s) @ A.T

    def inverse_map(X: ArrayLike) -> np.ndarray:
        return mean_s + (np.asarray(X, dtype=np.float64) - mean_d) @ A_inv.T

    return Bunch(
        X=np.vstack([sim, data]),
        y=np.repeat([0, 1], n),
        transport_map=transport_map,
        inverse_map=inverse_map,
        matrix=A,
        w2_squared=w2,
        mean_sim=mean_s,
        cov_sim=S,
        mean_data=mean_d,
        cov_data=D,
    )


def make_smearing_mismodeling(
    n_samples: int = 10_000,
    *,
    mu: float = 0.0,
    sigma: float = 1.0,
    epsilon_sim: float = 0.5,
    epsilon_data: float = 1.0,
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""One truth spectrum, two detector responses: section IV.B of "Bias and Priors".

    Truth :math:`z \sim \mathcal{N}(\mu, \sigma^2)` in both samples (drawn independently); the
    simulation measures :math:`x = z + \mathcal{N}(0, \epsilon_\text{sim}^2)`, the data
    :math:`x = z + \mathcal{N}(0, \epsilon_\text{data}^2)`. The optimal map is eq. (44),

    .. math::

        h(x) = \alpha (x - \mu) + \mu, \qquad
        \alpha = \sqrt{\frac{\sigma^2 + \epsilon_\text{data}^2}{\sigma^2 + \epsilon_\text{sim}^2}},

    which is eq. (43), :math:`\alpha x`, at :math:`\mu = 0`. It depends on :math:`\mu`, the
    truth prior: a map fitted at one :math:`\mu` and applied at another leaves the residual
    :math:`(\mu_\text{test} - \mu_\text{train})(1 - \alpha)`.

    Returns
    -------
    data : Bunch
        ``X`` (2 n_samples, 1), ``y``, ``z`` (the truth of every row), ``alpha``,
        ``transport_map(X)`` (eq. 44).
    """
    n = _check_n(n_samples, "n_samples")
    mu = _check_real(mu, "mu")
    sigma = _check_real(sigma, "sigma", positive=True)
    eps_s = _check_real(epsilon_sim, "epsilon_sim", positive=True)
    eps_d = _check_real(epsilon_data, "epsilon_data", positive=True)
    rng = check_random_state(random_state)
    z = rng.normal(mu, sigma, 2 * n)
    x = z + rng.normal(0.0, 1.0, 2 * n) * np.repeat([eps_s, eps_d], n)
    alpha = float(np.sqrt((sigma**2 + eps_d**2) / (sigma**2 + eps_s**2)))

    def transport_map(X: ArrayLike) -> np.ndarray:
        return alpha * (np.asarray(X, dtype=np.float64) - mu) + mu

    return Bunch(
        X=x[:, None],
        y=np.repeat([0, 1], n),
        z=z,
        alpha=alpha,
        transport_map=transport_map,
    )


def _discriminant_shape(
    log_pt: np.ndarray, mean0: float, mean_slope: float, width0: float, width_slope: float
) -> tuple[np.ndarray, np.ndarray]:
    return mean0 + mean_slope * log_pt, width0 + width_slope * log_pt


def make_conditional_discriminant(
    n_samples: int = 10_000,
    *,
    pt_min: float = 30.0,
    pt_scale: float = 60.0,
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""A tagger discriminant whose shape depends on the jet :math:`p_T` differently in simulation
    and data: the conditional calibration of Pollard & Windischhofer (arXiv:2107.08648).

    Both samples share :math:`p_T = p_{T,\min} + \mathrm{Exp}(\text{pt\_scale})` (GeV). With
    :math:`\ell = \log(p_T / p_{T,\min})` the discriminant is

    - simulation: :math:`x \sim \mathcal{N}(0.5 + 0.1\,\ell,\ (0.10)^2)`;
    - data: :math:`x \sim \mathcal{N}(0.55 + 0.03\,\ell,\ (0.08 + 0.03\,\ell)^2)`,

    so the data are shifted up at low :math:`p_T`, down at high :math:`p_T`, and wider at high
    :math:`p_T`. At fixed :math:`p_T` the optimal map is the 1-D Gaussian map of eq. (42),
    :math:`h(x|p_T) = m_d + (s_d/s_s)(x - m_s)`; no map of x alone can calibrate every
    :math:`p_T` bin.

    Returns
    -------
    data : Bunch
        ``X`` (2 n_samples, 2): the discriminant, then :math:`p_T` (the conditioning column);
        ``y``; ``transport_map(X)`` (moves column 0 at the pT of column 1); ``conditional_mean``
        and ``conditional_width`` of each class as functions of :math:`p_T`.
    """
    n = _check_n(n_samples, "n_samples")
    pt_min = _check_real(pt_min, "pt_min", positive=True)
    pt_scale = _check_real(pt_scale, "pt_scale", positive=True)
    rng = check_random_state(random_state)
    pt = pt_min + rng.exponential(pt_scale, 2 * n)
    log_pt = np.log(pt / pt_min)
    sim_mean, sim_width = _discriminant_shape(log_pt, 0.5, 0.1, 0.10, 0.0)
    data_mean, data_width = _discriminant_shape(log_pt, 0.55, 0.03, 0.08, 0.03)
    is_data = np.repeat([False, True], n)
    mean = np.where(is_data, data_mean, sim_mean)
    width = np.where(is_data, data_width, sim_width)
    x = rng.normal(mean, width)

    def conditional_mean(pt: ArrayLike, data: bool) -> np.ndarray:
        log_pt = np.log(np.asarray(pt, dtype=np.float64) / pt_min)
        return (0.55 + 0.03 * log_pt) if data else (0.5 + 0.1 * log_pt)

    def conditional_width(pt: ArrayLike, data: bool) -> np.ndarray:
        log_pt = np.log(np.asarray(pt, dtype=np.float64) / pt_min)
        return (0.08 + 0.03 * log_pt) if data else np.full_like(log_pt, 0.10)

    def transport_map(X: ArrayLike) -> np.ndarray:
        X = np.array(X, dtype=np.float64)
        pt = X[:, 1]
        scale = conditional_width(pt, True) / conditional_width(pt, False)
        X[:, 0] = conditional_mean(pt, True) + scale * (X[:, 0] - conditional_mean(pt, False))
        return X

    return Bunch(
        X=np.column_stack([x, pt]),
        y=is_data.astype(int),
        transport_map=transport_map,
        conditional_mean=conditional_mean,
        conditional_width=conditional_width,
    )
