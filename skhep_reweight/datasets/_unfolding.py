r"""Unfolding problems with a known truth: Gaussian truth seen through Gaussian smearing
(the example of the OmniFold paper, arXiv:1911.09107, Fig. 2), with an inefficiency, fakes and
a background; and a correlated multi-dimensional version.

Conventions
-----------
Every maker returns a :class:`sklearn.utils.Bunch` with the *data* at detector level and the
*simulation* at both levels, the way an analysis has them:

- ``X_data`` (detector level) and ``sample_weight``: the measured events, +1 each; with a
  background, the data also contain background events (+1) and a separate simulated background
  sample follows with weight -1, so that the weighted data are the signal alone in
  expectation. ``data_component`` names each row: ``"signal"``, ``"fake"``, ``"background"``
  or ``"subtraction"`` (the -1 rows).
- ``X_data_truth``: the generator level of *every* data signal event, reconstructed or not (the
  target of the unfolding); ``data_truth_pass_reco`` marks those reconstructed, whose detector
  level are the ``"signal"`` rows of ``X_data`` in the same order.
- ``X_sim``, ``X_gen``: the simulation, row by row the same events; ``pass_reco`` false: not
  reconstructed, ``X_sim`` is NaN; ``pass_gen`` false: a fake, ``X_gen`` is NaN. The fakes are
  the last rows. Placeholders are NaN so that using one by mistake shows.
- Features are arrays of shape (n, n_features).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import Bunch, check_random_state

from ._checks import _check_n, _check_real
from ._gaussian import gaussian_density_ratio

__all__ = [
    "gaussian_omnifold_moments",
    "gaussian_smeared_moments",
    "make_correlated_unfolding",
    "make_gaussian_unfolding",
]

# Fakes (reconstructed events without a truth) and the background are broad and offset from the
# signal (N(0, 1) at the defaults), so that leaving either in biases the unfolded mean and width
# visibly. Both have the same distribution in the data and in their simulation.
FAKE_MEAN, FAKE_STD = 1.0, 1.5
BACKGROUND_MEAN, BACKGROUND_STD = -1.0, 0.7


def _check_pair(value: ArrayLike, name: str, *, positive: bool = False) -> tuple[float, float]:
    pair = tuple(np.asarray(value, dtype=object).ravel())
    if len(pair) != 2:
        raise ValueError(f"{name} must be a pair (data, simulation), got {value!r}.")
    return (
        _check_real(pair[0], f"{name}[0]", positive=positive),
        _check_real(pair[1], f"{name}[1]", positive=positive),
    )


def gaussian_smeared_moments(mean: float, std: float, smearing: float) -> tuple[float, float]:
    r"""Detector-level mean and width of a :math:`\mathcal{N}(\mu, \sigma^2)` truth smeared by
    :math:`\mathcal{N}(0, \epsilon^2)`: :math:`(\mu, \sqrt{\sigma^2 + \epsilon^2})`.

    Examples
    --------
    >>> from skhep_reweight.datasets import gaussian_smeared_moments
    >>> gaussian_smeared_moments(0.2, 0.8, 0.6)
    (0.2, 1.0)
    """
    mean = _check_real(mean, "mean")
    std = _check_real(std, "std", positive=True)
    smearing = _check_real(smearing, "smearing", positive=True)
    return mean, float(np.sqrt(std**2 + smearing**2))


def gaussian_omnifold_moments(
    mu_data: float,
    sigma_data: float,
    mu_sim: float,
    sigma_sim: float,
    smearing: float,
    n_iterations: int,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and width of OmniFold's unfolded truth after iterations 1 to ``n_iterations``, for
    Gaussian truth and smearing and perfect classifiers (full efficiency, no fakes).

    Data truth :math:`\mathcal{N}(\mu_D, \sigma_D^2)`, simulation truth
    :math:`\mathcal{N}(\mu_0, \sigma_0^2)`, smearing :math:`\mathcal{N}(0, \epsilon^2)`. Let the
    weighted simulation's truth be :math:`\mathcal{N}(m, s^2)` before an iteration. At detector
    level the data are :math:`\mathcal{N}(\mu_D, a^2)` and the simulation
    :math:`\mathcal{N}(m, b^2)`, with :math:`a^2 = \sigma_D^2 + \epsilon^2` and
    :math:`b^2 = s^2 + \epsilon^2`, so step 1's ratio is, up to a constant,

    .. math::

        r(x) \propto e^{-\alpha x^2/2 + \beta x}, \qquad
        \alpha = \frac{1}{a^2} - \frac{1}{b^2}, \quad \beta = \frac{\mu_D}{a^2} - \frac{m}{b^2}.

    Step 2 with a perfect classifier learns the average of the pulled weights at fixed truth,
    :math:`E[r(x) \mid t]` with :math:`x \sim \mathcal{N}(t, \epsilon^2)`; the Gaussian integral
    gives again an exponential of a quadratic,

    .. math::

        E[r(x) \mid t] \propto e^{-\alpha' t^2/2 + \beta' t}, \qquad
        \alpha' = \frac{\alpha}{1 + \alpha\epsilon^2}, \quad
        \beta' = \frac{\beta}{1 + \alpha\epsilon^2}

    (:math:`1 + \alpha\epsilon^2 > 0` because :math:`b^2 > \epsilon^2`). Multiplying the truth
    density :math:`\mathcal{N}(m, s^2)` by it gives the next Gaussian,

    .. math::

        \frac{1}{s_n^2} = \frac{1}{s^2} + \alpha', \qquad
        m_n = s_n^2 \left(\frac{m}{s^2} + \beta'\right).

    The fixed point is the data's truth (:math:`\alpha = \beta = 0` when :math:`m = \mu_D`,
    :math:`s = \sigma_D`), approached geometrically.

    Parameters
    ----------
    mu_data, sigma_data : float
        Mean and width of the data's truth.
    mu_sim, sigma_sim : float
        Mean and width of the simulation's truth (the prior).
    smearing : float
        Width :math:`\epsilon` of the Gaussian detector smearing.
    n_iterations : int
        Number of iterations (at least 1).

    Returns
    -------
    mean, std : ndarray of shape (n_iterations,)
        After iterations 1, 2, ..., n_iterations.

    Examples
    --------
    >>> from skhep_reweight.datasets import gaussian_omnifold_moments
    >>> mean, std = gaussian_omnifold_moments(0.2, 0.8, 0.0, 1.0, 0.5, 3)
    >>> print(mean.round(3), std.round(3))
    [0.16  0.19  0.197] [0.877 0.834 0.816]
    """
    mu_d = _check_real(mu_data, "mu_data")
    s_d = _check_real(sigma_data, "sigma_data", positive=True)
    m = _check_real(mu_sim, "mu_sim")
    s = _check_real(sigma_sim, "sigma_sim", positive=True)
    e = _check_real(smearing, "smearing", positive=True)
    n = _check_n(n_iterations, "n_iterations")
    a2 = s_d**2 + e**2
    means, stds = np.empty(n), np.empty(n)
    for k in range(n):
        b2 = s**2 + e**2
        alpha = 1.0 / a2 - 1.0 / b2
        beta = mu_d / a2 - m / b2
        shrink = 1.0 + alpha * e**2
        precision = 1.0 / s**2 + alpha / shrink
        m = (m / s**2 + beta / shrink) / precision
        s = float(np.sqrt(1.0 / precision))
        means[k], stds[k] = m, s
    return means, stds


def _efficiency_function(efficiency: float | Callable | None) -> Callable:
    if efficiency is None:
        return lambda t: np.ones(np.shape(t)[0])
    if callable(efficiency):

        def checked(t: np.ndarray) -> np.ndarray:
            p = np.asarray(efficiency(t), dtype=np.float64)
            if p.shape != (np.shape(t)[0],) or not np.all((p >= 0) & (p <= 1)):
                raise ValueError(
                    "efficiency(t) must return one probability in [0, 1] per row of t."
                )
            return p

        return checked
    eff = _check_real(efficiency, "efficiency", positive=True)
    if eff > 1:
        raise ValueError(f"efficiency must lie in (0, 1], got {eff}.")
    return lambda t: np.full(np.shape(t)[0], eff)


def _check_rate(value: float | None, name: str) -> float:
    if value is None:
        return 0.0
    rate = _check_real(value, name)
    if rate < 0:
        raise ValueError(f"{name} must be non-negative, got {rate}.")
    return rate


def _n_sim(n_sim: int | None, n: int) -> int:
    return n if n_sim is None else _check_n(n_sim, "n_sim")


def _detector(
    truth: np.ndarray,
    smearing: float,
    efficiency: Callable,
    n_fakes: int,
    rng: np.random.RandomState,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smear, select and append fakes: (reco with NaN for lost events, pass_reco, fakes)."""
    reco = truth + rng.normal(0.0, smearing, truth.shape)
    passed = rng.uniform(size=truth.shape[0]) < efficiency(truth)
    reco[~passed] = np.nan
    fakes = rng.normal(FAKE_MEAN, FAKE_STD, (n_fakes, truth.shape[1]))
    return reco, passed, fakes


def make_gaussian_unfolding(
    n_samples: int = 100_000,
    *,
    n_sim: int | None = None,
    truth_mean: tuple[float, float] = (0.2, 0.0),
    truth_std: tuple[float, float] = (0.8, 1.0),
    smearing: float = 0.5,
    efficiency: float | Callable | None = None,
    fake_rate: float = 0.0,
    background: float | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""The Gaussian unfolding example of the OmniFold paper, with its analytic iterations.

    Truth :math:`t \sim \mathcal{N}(\mu, \sigma^2)` with :math:`(\mu, \sigma) = (0.2, 0.8)` in
    the data and :math:`(0, 1)` in the simulation (the paper's values); the detector measures
    :math:`x = t + \mathcal{N}(0, \epsilon^2)`, the same in both, and reconstructs an event
    with probability ``efficiency`` (a constant, or a function of the truth rows). Both samples
    contain ``fake_rate`` fakes per generated event, with detector level
    :math:`\mathcal{N}(1, 1.5^2)` (``FAKE_MEAN``, ``FAKE_STD``) and no truth. With
    ``background`` (background events per generated data event) the data contain that many
    background events :math:`\mathcal{N}(-1, 0.7^2)` (``BACKGROUND_MEAN``, ``BACKGROUND_STD``),
    followed by as many simulated background events with weight -1.

    Parameters
    ----------
    n_samples : int, default=100_000
        Generated data events (the rows of ``X_data_truth``).
    n_sim : int, default=None
        Generated simulated events (fakes come on top); ``None``: ``n_samples``.
    truth_mean, truth_std : pair of float, default=(0.2, 0.0) and (0.8, 1.0)
        Truth mean and width of (data, simulation).
    smearing : float, default=0.5
        Width :math:`\epsilon` of the detector smearing.
    efficiency : float or callable or None, default=None
        Probability of reconstruction: ``None`` (always), a constant in (0, 1], or a function
        of the truth array of shape (n, 1) returning one probability per row.
    fake_rate : float, default=0.0
        Fakes per generated event (``round(fake_rate * n)`` of them, in data and simulation).
    background : float or None, default=None
        Background events per generated data event, subtracted by a weight -1 sample.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    data : Bunch
        ``X_data``, ``sample_weight``, ``data_component``, ``X_data_truth``,
        ``data_truth_pass_reco``, ``X_sim``, ``X_gen``, ``pass_reco``, ``pass_gen`` (see the
        module conventions); ``truth_mean``, ``truth_std`` (data, simulation), ``smearing``,
        ``efficiency`` (the function of the truth rows), ``n_fakes_data`` (the data's fake
        count, the expected fakes of the unfolding); ``truth_weight_function(X_gen)``, the
        exact ratio of the data's to the simulation's truth density (where unfolding
        converges); and ``omnifold_moments(n_iterations)``, the closed-form unfolded
        ``(mean, std)`` after iterations 1..n (:func:`gaussian_omnifold_moments`; exact without
        efficiency and fakes, and the background only adds noise).

    Examples
    --------
    >>> import numpy as np
    >>> from skhep_reweight.datasets import make_gaussian_unfolding
    >>> d = make_gaussian_unfolding(20_000, random_state=0)
    >>> print(d.X_data.shape, d.X_sim.shape, round(float(d.X_data_truth.std()), 1))
    (20000, 1) (20000, 1) 0.8
    >>> mean, std = d.omnifold_moments(2)
    >>> print(mean.round(3), std.round(3))
    [0.16 0.19] [0.877 0.834]
    """
    n = _check_n(n_samples, "n_samples")
    n_s = _n_sim(n_sim, n)
    mu_d, mu_s = _check_pair(truth_mean, "truth_mean")
    sd_d, sd_s = _check_pair(truth_std, "truth_std", positive=True)
    eps = _check_real(smearing, "smearing", positive=True)
    eff = _efficiency_function(efficiency)
    rate = _check_rate(fake_rate, "fake_rate")
    bkg = _check_rate(background, "background")
    rng = check_random_state(random_state)

    truth_data = rng.normal(mu_d, sd_d, (n, 1))
    reco_data, passed_data, fakes_data = _detector(truth_data, eps, eff, round(rate * n), rng)
    gen = rng.normal(mu_s, sd_s, (n_s, 1))
    reco_sim, passed_sim, fakes_sim = _detector(gen, eps, eff, round(rate * n_s), rng)
    n_bkg = round(bkg * n)
    background_data = rng.normal(BACKGROUND_MEAN, BACKGROUND_STD, (n_bkg, 1))
    subtraction = rng.normal(BACKGROUND_MEAN, BACKGROUND_STD, (n_bkg, 1))

    parts = {
        "signal": reco_data[passed_data],
        "fake": fakes_data,
        "background": background_data,
        "subtraction": subtraction,
    }
    n_fake_sim = fakes_sim.shape[0]

    def omnifold_moments(n_iterations: int) -> tuple[np.ndarray, np.ndarray]:
        return gaussian_omnifold_moments(mu_d, sd_d, mu_s, sd_s, eps, n_iterations)

    def truth_weight_function(X_gen: ArrayLike) -> np.ndarray:
        return gaussian_density_ratio(X_gen, mu_s, sd_s**2, mu_d, sd_d**2)

    return Bunch(
        X_data=np.vstack(list(parts.values())),
        sample_weight=np.concatenate(
            [np.full(len(v), -1.0 if k == "subtraction" else 1.0) for k, v in parts.items()]
        ),
        data_component=np.concatenate([np.full(len(v), k) for k, v in parts.items()]),
        X_data_truth=truth_data,
        data_truth_pass_reco=passed_data,
        X_sim=np.vstack([reco_sim, fakes_sim]),
        X_gen=np.vstack([gen, np.full((n_fake_sim, 1), np.nan)]),
        pass_reco=np.concatenate([passed_sim, np.ones(n_fake_sim, dtype=bool)]),
        pass_gen=np.concatenate([np.ones(n_s, dtype=bool), np.zeros(n_fake_sim, dtype=bool)]),
        truth_mean=(mu_d, mu_s),
        truth_std=(sd_d, sd_s),
        smearing=eps,
        efficiency=eff,
        n_fakes_data=fakes_data.shape[0],
        truth_weight_function=truth_weight_function,
        omnifold_moments=omnifold_moments,
    )


def _equicorrelation(n_features: int, rho: float, name: str) -> np.ndarray:
    low = -1.0 / (n_features - 1)
    if not low < rho < 1.0:
        raise ValueError(f"{name} must lie in ({low:.6g}, 1) for {n_features} features, got {rho}.")
    return np.full((n_features, n_features), rho) + (1.0 - rho) * np.eye(n_features)


def make_correlated_unfolding(
    n_samples: int = 100_000,
    *,
    n_sim: int | None = None,
    n_features: int = 2,
    correlation: tuple[float, float] = (0.6, 0.0),
    truth_mean: tuple[float, float] = (0.2, 0.0),
    truth_std: tuple[float, float] = (0.8, 1.0),
    smearing: float = 0.5,
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""Multi-dimensional Gaussian unfolding whose truth correlation differs between data and
    simulation.

    The truth of each sample is :math:`\mathcal{N}(\mu \mathbf{1}, \sigma^2 C_\rho)` with
    :math:`C_\rho` the equicorrelation matrix (ones on the diagonal, :math:`\rho` elsewhere);
    every feature is smeared independently by :math:`\mathcal{N}(0, \epsilon^2)`, so the
    detector-level correlation is :math:`\rho\sigma^2/(\sigma^2 + \epsilon^2)`. Unfolding each
    feature alone recovers the marginals but keeps the simulation's correlation; an unfolding of
    all features at once recovers :math:`\rho_\text{data}`. Full efficiency, no fakes.

    Parameters
    ----------
    n_samples : int, default=100_000
        Data events.
    n_sim : int, default=None
        Simulated events; ``None``: ``n_samples``.
    n_features : int, default=2
    correlation : pair of float, default=(0.6, 0.0)
        Truth correlation :math:`\rho` of (data, simulation) between every pair of features.
    truth_mean, truth_std : pair of float, default=(0.2, 0.0) and (0.8, 1.0)
        Mean and width of every truth feature, (data, simulation).
    smearing : float, default=0.5
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    data : Bunch
        ``X_data``, ``sample_weight`` (ones), ``X_data_truth``, ``X_sim``, ``X_gen``,
        ``pass_reco``, ``pass_gen`` (all True); ``truth_mean`` and ``truth_cov`` of (data,
        simulation) as arrays, ``correlation``, ``reco_correlation`` (data, simulation),
        ``smearing`` and ``truth_weight_function(X_gen)``, the exact truth density ratio
        data / simulation.

    Examples
    --------
    >>> import numpy as np
    >>> from skhep_reweight.datasets import make_correlated_unfolding
    >>> d = make_correlated_unfolding(20_000, random_state=0)
    >>> print(round(float(np.corrcoef(d.X_data_truth.T)[0, 1]), 2), round(d.reco_correlation[0], 3))
    0.6 0.431
    """
    n = _check_n(n_samples, "n_samples")
    n_s = _n_sim(n_sim, n)
    if isinstance(n_features, bool) or not isinstance(n_features, numbers.Integral):
        raise TypeError(f"n_features must be an integer, got {n_features!r}.")
    if n_features < 2:
        raise ValueError(f"n_features must be at least 2, got {n_features}.")
    rho_d, rho_s = _check_pair(correlation, "correlation")
    mu_d, mu_s = _check_pair(truth_mean, "truth_mean")
    sd_d, sd_s = _check_pair(truth_std, "truth_std", positive=True)
    eps = _check_real(smearing, "smearing", positive=True)
    cov_d = sd_d**2 * _equicorrelation(n_features, rho_d, "correlation[0]")
    cov_s = sd_s**2 * _equicorrelation(n_features, rho_s, "correlation[1]")
    mean_d, mean_s = np.full(n_features, mu_d), np.full(n_features, mu_s)
    rng = check_random_state(random_state)
    truth_data = rng.multivariate_normal(mean_d, cov_d, size=n)
    X_data = truth_data + rng.normal(0.0, eps, truth_data.shape)
    gen = rng.multivariate_normal(mean_s, cov_s, size=n_s)
    X_sim = gen + rng.normal(0.0, eps, gen.shape)

    def truth_weight_function(X_gen: ArrayLike) -> np.ndarray:
        return gaussian_density_ratio(X_gen, mean_s, cov_s, mean_d, cov_d)

    return Bunch(
        X_data=X_data,
        sample_weight=np.ones(n),
        X_data_truth=truth_data,
        X_sim=X_sim,
        X_gen=gen,
        pass_reco=np.ones(n_s, dtype=bool),
        pass_gen=np.ones(n_s, dtype=bool),
        truth_mean=(mean_d, mean_s),
        truth_cov=(cov_d, cov_s),
        correlation=(rho_d, rho_s),
        reco_correlation=(
            rho_d * sd_d**2 / (sd_d**2 + eps**2),
            rho_s * sd_s**2 / (sd_s**2 + eps**2),
        ),
        smearing=eps,
        truth_weight_function=truth_weight_function,
    )
