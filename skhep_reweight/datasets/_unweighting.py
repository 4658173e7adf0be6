r"""Weighted event samples whose true density is known (event unweighting, "How to GAN Event
Unweighting", Backes, Butter, Plehn, Winterhalder, arXiv:2012.07873).

Every maker returns a :class:`sklearn.utils.Bunch` with ``X`` (events, shape
``(n_samples, n_features)``), ``sample_weight`` (the importance weights :math:`P(x)/q(x)` of the
sampling density q, so that :math:`E_q[w\,f] = E_P[f]`; ones for unweighted encodings),
``density(X)`` (the true, normalized density P), ``range`` (the support, one ``(low, high)`` per
feature) and ``encoding``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import erf
from scipy.stats import norm
from sklearn.utils import Bunch, check_random_state

from ._checks import _check_n, _check_real

__all__ = ["make_breit_wigner", "make_camel_back", "make_gaussian_ring"]

# The camel back of eq. (9): 0.3 N(0, 0.5) + 0.7 N(2, 0.5), on the range of section 2.2.
_CAMEL_FRACTIONS = (0.3, 0.7)
_CAMEL_MEANS = (0.0, 2.0)
_CAMEL_WIDTH = 0.5
_CAMEL_RANGE = (-2.0, 4.0)


def _check_encoding(encoding: str, choices: tuple[str, ...]) -> str:
    if encoding not in choices:
        raise ValueError(f"encoding must be one of {choices}, got {encoding!r}")
    return encoding


def camel_density(x: ArrayLike) -> np.ndarray:
    r"""The camel back of eq. (9), :math:`0.3\,\mathcal{N}(x; 0, 0.5) + 0.7\,\mathcal{N}(x; 2,
    0.5)`, at the values x (any shape; a column of X)."""
    x = np.asarray(x, dtype=np.float64)
    return sum(
        f * norm.pdf(x, m, _CAMEL_WIDTH)
        for f, m in zip(_CAMEL_FRACTIONS, _CAMEL_MEANS, strict=True)
    )


def make_camel_back(
    n_samples: int = 10000,
    *,
    encoding: str = "unweighted",
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""The 1-D camel back of section 2.2, in one of the paper's three encodings.

    :math:`P(x) = 0.3\,\mathcal{N}(x; 0, 0.5) + 0.7\,\mathcal{N}(x; 2, 0.5)` (eq. 9), encoded as

    - ``"unweighted"``: events drawn from P, unit weights (:math:`X_u`);
    - ``"uniform"``: events uniform on [-2, 4], weights :math:`6\,P(x)` (:math:`X_w`);
    - ``"hybrid"``: events from :math:`q_1 = \mathcal{N}(0, 1)`, weights :math:`P(x)/q_1(x)`
      (:math:`X_\text{hybrid}`, the information split between events and weights).

    Parameters
    ----------
    n_samples : int, default=10000
    encoding : {"unweighted", "uniform", "hybrid"}, default="unweighted"
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    data : Bunch
        ``X`` of shape (n_samples, 1), ``sample_weight``, ``density`` (P, normalized on the
        real line), ``cdf``, ``fractions`` (0.3, 0.7), ``means`` (0, 2), ``width`` (0.5),
        ``range`` ([(-2, 4)], where the paper bins the truth; P puts 3e-5 of its mass outside),
        ``encoding``. The ``"uniform"`` encoding samples only the range, so its weights
        average to :math:`P([-2, 4]) = 1 - 3 \times 10^{-5}`.

    Examples
    --------
    >>> from skhep_reweight.datasets import make_camel_back
    >>> data = make_camel_back(100_000, encoding="uniform", random_state=0)
    >>> import numpy as np
    >>> print(round(float(np.average(data.X[:, 0] < 1, weights=data.sample_weight)), 2))
    0.31
    """
    n = _check_n(n_samples, "n_samples")
    encoding = _check_encoding(encoding, ("unweighted", "uniform", "hybrid"))
    rng = check_random_state(random_state)
    if encoding == "unweighted":
        first = rng.uniform(size=n) < _CAMEL_FRACTIONS[0]
        x = rng.normal(np.where(first, _CAMEL_MEANS[0], _CAMEL_MEANS[1]), _CAMEL_WIDTH)
        weight = np.ones(n)
    elif encoding == "uniform":
        low, high = _CAMEL_RANGE
        x = rng.uniform(low, high, size=n)
        weight = camel_density(x) * (high - low)
    else:
        x = rng.normal(0.0, 1.0, size=n)
        weight = camel_density(x) / norm.pdf(x)

    def cdf(values: ArrayLike) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        return sum(
            f * norm.cdf(values, m, _CAMEL_WIDTH)
            for f, m in zip(_CAMEL_FRACTIONS, _CAMEL_MEANS, strict=True)
        )

    return Bunch(
        X=x[:, None],
        sample_weight=weight,
        density=lambda X: camel_density(np.asarray(X, dtype=np.float64).reshape(-1, 1)[:, 0]),
        cdf=cdf,
        fractions=_CAMEL_FRACTIONS,
        means=_CAMEL_MEANS,
        width=_CAMEL_WIDTH,
        range=[_CAMEL_RANGE],
        encoding=encoding,
    )


def _ring_norm(r0: float, sigma: float) -> float:
    r"""The normalization N of eq. (11) over the plane:
    :math:`1/N = 2\pi \int_0^\infty r\, e^{-(r - r_0)^2 / 2\sigma^2} dr`."""
    a = r0 / (np.sqrt(2.0) * sigma)
    radial = sigma**2 * np.exp(-(a**2)) + r0 * sigma * np.sqrt(np.pi / 2) * (1 + erf(a))
    return 1.0 / (2 * np.pi * radial)


def make_gaussian_ring(
    n_samples: int = 10000,
    *,
    encoding: str = "uniform",
    center: tuple[float, float] = (0.5, 0.5),
    radius: float = 0.25,
    width: float = 0.05,
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""The 2-D Gaussian ring of section 2.3 (eq. 11) in the unit square,

    .. math::

        P(x, y) = N \exp\Big[-\frac{1}{2\sigma^2}\Big(\sqrt{(x - x_0)^2 + (y - y_0)^2}
            - r_0\Big)^2\Big],

    with :math:`x_0 = y_0 = 0.5`, :math:`r_0 = 0.25`, :math:`\sigma = 0.05` and N = 5.079 by
    default (N is computed over the plane; with the defaults the square holds all but 1e-6 of
    the mass).

    Parameters
    ----------
    n_samples : int, default=10000
    encoding : {"uniform", "unweighted"}, default="uniform"
        ``"uniform"``: events uniform in the unit square with weights P (the integrand a VEGAS
        run starts from); ``"unweighted"``: events drawn from P (radius by rejection from
        :math:`\mathcal{N}(r_0, \sigma)`, angle uniform; events outside the square redrawn).
    center, radius, width
        :math:`(x_0, y_0)`, :math:`r_0` and :math:`\sigma`.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    data : Bunch
        ``X`` of shape (n_samples, 2), ``sample_weight``, ``density``, ``norm`` (N),
        ``range`` ([(0, 1), (0, 1)]), ``encoding``.
    """
    n = _check_n(n_samples, "n_samples")
    encoding = _check_encoding(encoding, ("uniform", "unweighted"))
    r0 = _check_real(radius, "radius", positive=True)
    sigma = _check_real(width, "width", positive=True)
    x0, y0 = (_check_real(c, "center") for c in center)
    rng = check_random_state(random_state)
    norm_const = _ring_norm(r0, sigma)

    def density(X: ArrayLike) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64).reshape(-1, 2)
        r = np.hypot(X[:, 0] - x0, X[:, 1] - y0)
        return norm_const * np.exp(-0.5 * ((r - r0) / sigma) ** 2)

    if encoding == "uniform":
        X = rng.uniform(0.0, 1.0, size=(n, 2))
        weight = density(X)
    else:
        # radial density r exp(-(r - r0)^2 / 2 sigma^2) on r > 0: propose from the Gaussian and
        # accept with probability r / r_max (r_max: 10 sigma above r0; beyond it P < e^-50)
        r_max = r0 + 10 * sigma
        rows = []
        while sum(len(r) for r in rows) < n:
            r = rng.normal(r0, sigma, size=2 * n)
            r = r[(r > 0) & (r < r_max) & (rng.uniform(size=2 * n) < r / r_max)]
            phi = rng.uniform(0.0, 2 * np.pi, size=r.size)
            xy = np.column_stack([x0 + r * np.cos(phi), y0 + r * np.sin(phi)])
            rows.append(xy[((xy >= 0) & (xy <= 1)).all(axis=1)])
        X = np.concatenate(rows)[:n]
        weight = np.ones(n)
    return Bunch(
        X=X,
        sample_weight=weight,
        density=density,
        norm=norm_const,
        range=[(0.0, 1.0), (0.0, 1.0)],
        encoding=encoding,
    )


def make_breit_wigner(
    n_samples: int = 100_000,
    *,
    mass: float = 91.1876,
    width: float = 2.4952,
    mass_range: tuple[float, float] = (50.0, 250.0),
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""A sharp resonance sampled through a poor mapping: weights over many orders of magnitude.

    A stand-in for the Drell-Yan sample of section 3: events :math:`(m, \cos\theta)` with the
    true density

    .. math::

        P(m, \cos\theta) = \frac{1}{Z}\,\frac{\Gamma / 2\pi}{(m - M)^2 + \Gamma^2/4}
            \cdot \frac{3}{8}(1 + \cos^2\theta)

    on ``mass_range`` (Z normalizes the Breit-Wigner peak on it), sampled uniformly in m and in
    :math:`\cos\theta`, so that all structure is in the weights :math:`P/q`. With the Z-boson
    defaults the weights span five orders of magnitude and the hit-or-miss efficiency
    :math:`\langle w\rangle / w_\text{max}` is about 1.3%.

    Parameters
    ----------
    n_samples : int, default=100000
    mass, width : float
        M and Γ of the peak (GeV).
    mass_range : (float, float), default=(50, 250)
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    data : Bunch
        ``X`` of shape (n_samples, 2) (columns m, cos θ), ``sample_weight``, ``density``,
        ``mass_cdf`` (the CDF of m), ``range``, ``feature_names`` (["m", "cos_theta"]),
        ``encoding`` ("uniform").
    """
    n = _check_n(n_samples, "n_samples")
    M = _check_real(mass, "mass", positive=True)
    gamma = _check_real(width, "width", positive=True)
    low, high = (_check_real(v, "mass_range") for v in mass_range)
    if not low < high:
        raise ValueError(f"mass_range must be (low, high) with low < high, got {mass_range!r}")
    rng = check_random_state(random_state)

    def raw_cdf(m: ArrayLike) -> np.ndarray:
        return np.arctan(2 * (np.asarray(m, dtype=np.float64) - M) / gamma) / np.pi

    z = raw_cdf(high) - raw_cdf(low)

    def mass_density(m: ArrayLike) -> np.ndarray:
        m = np.asarray(m, dtype=np.float64)
        inside = (m >= low) & (m <= high)
        return inside * (gamma / (2 * np.pi)) / ((m - M) ** 2 + gamma**2 / 4) / z

    def density(X: ArrayLike) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64).reshape(-1, 2)
        c = X[:, 1]
        return mass_density(X[:, 0]) * (np.abs(c) <= 1) * 0.375 * (1 + c**2)

    X = np.column_stack([rng.uniform(low, high, size=n), rng.uniform(-1.0, 1.0, size=n)])
    weight = density(X) * (high - low) * 2.0
    return Bunch(
        X=X,
        sample_weight=weight,
        density=density,
        mass_cdf=lambda m: (raw_cdf(np.clip(m, low, high)) - raw_cdf(low)) / z,
        range=[(low, high), (-1.0, 1.0)],
        feature_names=["m", "cos_theta"],
        encoding="uniform",
    )
