"""Conditional reweighting problems: a truth x' and a response x whose conditional densities
p(x|x') and q(x|x') are known, so that the exact weight q(x|x')/p(x|x') is too."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from sklearn.utils import Bunch, check_random_state

from .._validation import check_samples
from ._checks import _check_n, _check_real

__all__ = ["make_conditional_gaussians", "make_conditional_response"]


def _normal_log_ratio(
    d: np.ndarray,
    mean_q: float | np.ndarray,
    std_q: float | np.ndarray,
    mean_p: float | np.ndarray,
    std_p: float | np.ndarray,
) -> np.ndarray:
    """log N(d; mean_q, std_q) - log N(d; mean_p, std_p), elementwise."""
    return (
        np.log(std_p / std_q)
        + 0.5 * ((d - mean_p) / std_p) ** 2
        - 0.5 * ((d - mean_q) / std_q) ** 2
    )


def _stack_reco_truth(
    reco_p: np.ndarray, truth_p: np.ndarray, reco_q: np.ndarray, truth_q: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """X with columns (x, x'), source rows first, and y (0 source, 1 target)."""
    X = np.vstack([np.column_stack([reco_p, truth_p]), np.column_stack([reco_q, truth_q])])
    y = np.r_[np.zeros(len(reco_p), dtype=np.int64), np.ones(len(reco_q), dtype=np.int64)]
    return X, y


def _truncated_normal(
    n: int,
    mean: float,
    std: float,
    hole: tuple[float, float] | None,
    rng: np.random.RandomState,
) -> np.ndarray:
    """N(mean, std^2) with no events in the interval ``hole`` (inverse-CDF sampling)."""
    if hole is None:
        return rng.normal(mean, std, size=n)
    lo, hi = stats.norm.cdf((np.asarray(hole, dtype=np.float64) - mean) / std)
    u = rng.uniform(0.0, 1.0 - (hi - lo), size=n)
    u = np.where(u < lo, u, u + (hi - lo))
    return mean + std * stats.norm.ppf(u)


# A hole may remove at most this share of the source's truth distribution: beyond it the
# inverse-CDF draw runs out of floating-point resolution outside the hole.
_MAX_HOLE_MASS = 1.0 - 1e-6


def _check_hole(
    hole: tuple[float, float] | None, mean: float, std: float
) -> tuple[float, float] | None:
    if hole is None:
        return None
    try:
        values = np.asarray(hole, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"source_hole must be two numbers (low, high), got {hole!r}") from None
    if values.shape != (2,) or not np.all(np.isfinite(values)) or values[0] >= values[1]:
        raise ValueError(f"source_hole must be an interval (low, high) with low < high, got {hole}")
    lo, hi = stats.norm.cdf((values - mean) / std)
    if hi - lo > _MAX_HOLE_MASS:
        raise ValueError(
            f"source_hole {hole} removes the whole source truth distribution "
            f"N({mean}, {std}^2); leave some of it outside the hole"
        )
    return float(values[0]), float(values[1])


def make_conditional_gaussians(
    n_samples: int = 10_000,
    *,
    source_truth_mean: float = 0.0,
    target_truth_mean: float = 1.0,
    truth_std: float = 1.0,
    source_shift: float = 0.0,
    source_width: float = 1.0,
    target_shift: float = 0.2,
    target_width: float = 1.2,
    source_hole: tuple[float, float] | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""Gaussian truth and Gaussian response: the closure test of conditional reweighting.

    The source draws :math:`x' \sim \mathcal{N}(\mu'_p, \sigma'^2)` and
    :math:`x \mid x' \sim \mathcal{N}(x' + \delta_p, s_p^2)`; the target
    :math:`x' \sim \mathcal{N}(\mu'_q, \sigma'^2)` and
    :math:`x \mid x' \sim \mathcal{N}(x' + \delta_q, s_q^2)`. The truth spectra differ, so a
    marginal reweighter of :math:`(x, x')` also moves :math:`x'`; the exact conditional weight
    depends only on the residual :math:`d = x - x'`,

    .. math::

        w(x \mid x') = \frac{q(x \mid x')}{p(x \mid x')}
        = \frac{s_p}{s_q}\exp\left(\frac{1}{2}\left[\left(\frac{d - \delta_p}{s_p}\right)^2
        - \left(\frac{d - \delta_q}{s_q}\right)^2\right]\right).

    The defaults are the Gaussian example of the conditional-reweighting paper [1]_:
    :math:`\mathcal{N}(0, 1)` and :math:`\mathcal{N}(1, 1)` truth, response shifted by 0.2 and
    widened to 1.2 in the target.

    Parameters
    ----------
    n_samples : int, default=10_000
        Events per class.
    source_truth_mean, target_truth_mean : float, default=0.0, 1.0
        Means of the truth x' in source and target.
    truth_std : float, default=1.0
        Width of the truth in both samples.
    source_shift, source_width : float, default=0.0, 1.0
        Mean and width of the residual x - x' in the source.
    target_shift, target_width : float, default=0.2, 1.2
        The same in the target.
    source_hole : (float, float) or None, default=None
        An interval of x' where the source has no events (a phase-space hole); the source truth
        is then drawn from the truncated normal, still ``n_samples`` events.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    data : Bunch
        ``X`` (ndarray of shape (2 * n_samples, 2): column 0 the response x, column 1 the
        truth x'; source rows first), ``y`` (0 = source, 1 = target), ``conditional_features``
        (``[1]``), ``weight_function`` (callable mapping X to the exact conditional weight),
        ``exact_weights`` (at every row) and ``description``.

    References
    ----------
    .. [1] B. Nachman, J. Thaler, "Neural conditional reweighting", Phys. Rev. D 105, 076015
           (2022), arXiv:2107.08979.

    Examples
    --------
    >>> import numpy as np
    >>> from skhep_reweight.datasets import make_conditional_gaussians
    >>> data = make_conditional_gaussians(n_samples=20000, random_state=0)
    >>> source = data.X[data.y == 0]
    >>> w = data.exact_weights[data.y == 0]
    >>> residual = source[:, 0] - source[:, 1]
    >>> print(round(float(np.average(residual, weights=w)), 1))  # the target's shift
    0.2
    >>> print(round(float(np.average(source[:, 1], weights=w)), 1))  # the truth is not moved
    0.0
    """
    n = _check_n(n_samples, "n_samples")
    mean_p = _check_real(source_truth_mean, "source_truth_mean")
    mean_q = _check_real(target_truth_mean, "target_truth_mean")
    std = _check_real(truth_std, "truth_std", positive=True)
    shift_p = _check_real(source_shift, "source_shift")
    width_p = _check_real(source_width, "source_width", positive=True)
    shift_q = _check_real(target_shift, "target_shift")
    width_q = _check_real(target_width, "target_width", positive=True)
    hole = _check_hole(source_hole, mean_p, std)
    rng = check_random_state(random_state)

    truth_p = _truncated_normal(n, mean_p, std, hole, rng)
    truth_q = rng.normal(mean_q, std, size=n)
    reco_p = truth_p + rng.normal(shift_p, width_p, size=n)
    reco_q = truth_q + rng.normal(shift_q, width_q, size=n)
    X, y = _stack_reco_truth(reco_p, truth_p, reco_q, truth_q)

    def weight_function(X: ArrayLike) -> np.ndarray:
        X = check_samples(X, "X", n_features=2)
        d = X[:, 0] - X[:, 1]
        return np.exp(_normal_log_ratio(d, shift_q, width_q, shift_p, width_p))

    hole_text = "" if hole is None else f", no source events with x' in {hole}"
    return Bunch(
        X=X,
        y=y,
        conditional_features=[1],
        weight_function=weight_function,
        exact_weights=weight_function(X),
        description=(
            f"Conditional Gaussians: source x' ~ N({mean_p}, {std}^2), x - x' ~ N({shift_p}, "
            f"{width_p}^2); target x' ~ N({mean_q}, {std}^2), x - x' ~ N({shift_q}, "
            f"{width_q}^2){hole_text}; {n} events each. Columns: x, x'."
        ),
    )


def make_conditional_response(
    n_samples: int = 10_000,
    *,
    truth_values: Sequence[float] = (100.0, 200.0),
    source_resolution: float = 1.0,
    target_resolution: float = 1.2,
    target_bias: float = 0.02,
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""A calorimeter-like response at discrete truth values: the interpolation test of [1]_.

    Each event's truth :math:`x'` (an energy in GeV) is drawn uniformly from ``truth_values``,
    the same in both samples. The measured energy is

    .. math::

        x = x'\left(1 + \mathcal{N}(0, a^2/x')\right) \quad\text{(source)}, \qquad
        x = x'\left(1 + b + \mathcal{N}(0, a'^2/x')\right) \quad\text{(target)},

    a relative resolution :math:`a/\sqrt{x'}` (stochastic term) and a scale offset :math:`b`.
    In the response :math:`r = x/x'` the exact conditional weight is

    .. math::

        w(x \mid x') = \frac{a}{a'}\exp\left(\frac{x'}{2}\left[
            \frac{(r - 1)^2}{a^2} - \frac{(r - 1 - b)^2}{a'^2}\right]\right),

    defined at every :math:`x'`, not only the generated ones: fitting at 100 and 200 GeV and
    evaluating at 150 GeV tests interpolation.

    Parameters
    ----------
    n_samples : int, default=10_000
        Events per class.
    truth_values : sequence of float, default=(100.0, 200.0)
        The truth energies (positive), drawn with equal probability.
    source_resolution, target_resolution : float, default=1.0, 1.2
        The stochastic terms :math:`a` and :math:`a'` (in sqrt(GeV)).
    target_bias : float, default=0.02
        The scale offset :math:`b` of the target response.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    data : Bunch
        ``X`` (ndarray of shape (2 * n_samples, 2): column 0 the measured x, column 1 the truth
        x'; source rows first), ``y``, ``conditional_features`` (``[1]``), ``weight_function``,
        ``exact_weights``, ``response_mean`` and ``response_std`` (callables of x' giving the
        target's mean and width of x/x') and ``description``.

    References
    ----------
    .. [1] B. Nachman, J. Thaler, "Neural conditional reweighting", Phys. Rev. D 105, 076015
           (2022), arXiv:2107.08979.

    Examples
    --------
    >>> from skhep_reweight.datasets import make_conditional_response
    >>> data = make_conditional_response(n_samples=4, truth_values=[150.0], random_state=0)
    >>> data.X[:, 1].tolist()
    [150.0, 150.0, 150.0, 150.0, 150.0, 150.0, 150.0, 150.0]
    >>> print(round(float(data.response_std(150.0)), 4))  # 1.2 / sqrt(150)
    0.098
    """
    n = _check_n(n_samples, "n_samples")
    try:
        values = np.atleast_1d(np.asarray(truth_values, dtype=np.float64))
    except (TypeError, ValueError):
        raise TypeError(f"truth_values must be numbers, got {truth_values!r}") from None
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError(f"truth_values must be positive numbers, got {truth_values!r}")
    a = _check_real(source_resolution, "source_resolution", positive=True)
    a_prime = _check_real(target_resolution, "target_resolution", positive=True)
    b = _check_real(target_bias, "target_bias")
    rng = check_random_state(random_state)

    truth_p = values[rng.randint(values.size, size=n)]
    truth_q = values[rng.randint(values.size, size=n)]
    reco_p = truth_p * (1.0 + rng.normal(size=n) * a / np.sqrt(truth_p))
    reco_q = truth_q * (1.0 + b + rng.normal(size=n) * a_prime / np.sqrt(truth_q))
    X, y = _stack_reco_truth(reco_p, truth_p, reco_q, truth_q)

    def weight_function(X: ArrayLike) -> np.ndarray:
        X = check_samples(X, "X", n_features=2)
        truth = X[:, 1]
        if np.any(truth <= 0):
            raise ValueError("the truth column x' must be positive")
        r = X[:, 0] / truth
        root = np.sqrt(truth)
        return np.exp(_normal_log_ratio(r, 1.0 + b, a_prime / root, 1.0, a / root))

    return Bunch(
        X=X,
        y=y,
        conditional_features=[1],
        weight_function=weight_function,
        exact_weights=weight_function(X),
        response_mean=lambda truth: np.full(np.shape(truth), 1.0 + b),
        response_std=lambda truth: a_prime / np.sqrt(np.asarray(truth, dtype=np.float64)),
        description=(
            f"Conditional response: x' uniform over {values.tolist()} GeV in both samples; "
            f"x/x' ~ N(1, {a}^2/x') in the source, N(1 + {b}, {a_prime}^2/x') in the target; "
            f"{n} events each. Columns: x, x'."
        ),
    )
