r"""A systematic variation emulated by reweighting: the same events twice, with weights that
differ by a small smooth function of the features.

The most common reweighting of an analysis is not between two different simulations but between
one simulation and itself under a varied setting (a scale, a tune, a parton-shower option) that
the generator stored as alternative event weights. The two samples then hold *the same events*;
only their weights differ, by a fraction of a percent, as a smooth function of the event. A
reweighter has to learn that function from a few thousand events, on features of very different
scales (momenta in MeV next to pseudorapidities and integer multiplicities), while every event
sits in both samples.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .._validation import check_samples
from ._checks import _check_n, _check_real

__all__ = ["make_systematic_variation", "systematic_variation_log_ratio"]

FEATURE_NAMES = (
    "jet1_pt",
    "jet2_pt",
    "jet3_pt",
    "lepton_pt",
    "jet1_eta",
    "jet2_eta",
    "jet3_eta",
    "lepton_eta",
    "jet1_phi",
    "lepton_phi",
    "n_jets",
    "n_tracks",
)

# log(pT / 1 GeV) of the four objects is normal with these means and a common width, so that
# (log(pT / GeV) - mean) / width is a standard normal: about 55, 37, 27 and 33 GeV.
_LOG_PT_MEAN = np.array([4.0, 3.6, 3.3, 3.5])
_LOG_PT_WIDTH = 0.5
_ETA_MAX = 2.5
_MEAN_N_JETS = 4.0
_MEAN_N_TRACKS = 30.0

# The variation's shape before scaling: 0.6 u1 - 0.3 u2 + 0.4 v + 0.4 m, with u the standardized
# log pT of jets 1 and 2, v the standardized eta^2 of jet 1, m the standardized jet multiplicity;
# the four terms are independent with unit variance, so the sum has variance 0.77.
_ETA2_MEAN = _ETA_MAX**2 / 3.0
_ETA2_STD = float(np.sqrt(_ETA_MAX**4 / 5.0 - _ETA2_MEAN**2))
_SHAPE_STD = float(np.sqrt(0.6**2 + 0.3**2 + 0.4**2 + 0.4**2))


def systematic_variation_log_ratio(X: np.ndarray, effect: float = 0.005) -> np.ndarray:
    r"""The exact log-ratio :math:`\delta(x)` of :func:`make_systematic_variation`'s two weights.

    .. math::

        \delta(x) = \frac{\epsilon}{\sqrt{0.77}}\left(0.6\,u_1 - 0.3\,u_2 + 0.4\,v + 0.4\,m\right),

    with :math:`u_j = (\log(p_{T,j}/\mathrm{GeV}) - \mu_j)/0.5` for jets 1 and 2,
    :math:`v = (\eta_1^2 - 2.5^2/3)/\mathrm{sd}(\eta_1^2)` and
    :math:`m = (n_\text{jets} - 4)/2`: each term has mean 0 and variance 1 under the generated
    distribution, so :math:`\delta` has mean 0 and standard deviation :math:`\epsilon`.

    Parameters
    ----------
    X : array-like of shape (n_samples, 12)
        Events with the columns of :func:`make_systematic_variation` (``feature_names``).
    effect : float, default=0.005
        :math:`\epsilon`, the standard deviation of the log-ratio.

    Returns
    -------
    log_ratio : ndarray of shape (n_samples,)
    """
    X = check_samples(X, "X", n_features=len(FEATURE_NAMES))
    u1 = (np.log(X[:, 0] / 1000.0) - _LOG_PT_MEAN[0]) / _LOG_PT_WIDTH
    u2 = (np.log(X[:, 1] / 1000.0) - _LOG_PT_MEAN[1]) / _LOG_PT_WIDTH
    v = (X[:, 4] ** 2 - _ETA2_MEAN) / _ETA2_STD
    m = (X[:, 10] - _MEAN_N_JETS) / np.sqrt(_MEAN_N_JETS)
    return effect * (0.6 * u1 - 0.3 * u2 + 0.4 * v + 0.4 * m) / _SHAPE_STD


def make_systematic_variation(
    n_samples: int = 5000,
    *,
    effect: float = 0.005,
    generator_weights: bool = True,
    random_state: int | np.random.RandomState | None = None,
) -> Bunch:
    r"""The same events in both samples, with weights that differ by a small smooth function.

    A stand-in for emulating a systematic variation by reweighting (a scale or tune variation
    stored as alternative event weights). ``n_samples`` events with 12 features on very different
    scales are drawn once: four transverse momenta in MeV (log-normal, 20-150 GeV), four
    pseudorapidities (uniform in [-2.5, 2.5]), two azimuths (uniform, irrelevant to the
    variation) and two integer multiplicities (Poisson, means 4 and 30). The source is these
    events with their nominal weights :math:`w_0`; the target is *the same rows* with the varied
    weights

    .. math::

        w_1(x) = w_0 \, e^{\delta(x)} / c,

    where :math:`\delta` (:func:`systematic_variation_log_ratio`) is a smooth function of three
    of the features with standard deviation ``effect`` and :math:`c` makes the two totals equal.
    The exact weight that morphs the source into the target is :math:`e^{\delta(x)}/c`.

    Every event sits in both samples, so a validation split that puts one copy in training and
    the other in validation measures how well the network memorized a label, not the ratio; the
    effect (0.5 % by default) is far below the per-event noise of the cross-entropy.

    Parameters
    ----------
    n_samples : int, default=5000
        Events (each appears once in each sample).
    effect : float, default=0.005
        Standard deviation of the log-ratio :math:`\delta`.
    generator_weights : bool, default=True
        Give the nominal sample generator weights :math:`w_0 \sim U(0.5, 1.5)`; False gives
        :math:`w_0 = 1`.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    data : Bunch
        ``X`` (the events, then the same events again), ``y`` (0 then 1), ``sample_weight``
        (:math:`w_0`, then :math:`w_1`), ``log_ratio`` (:math:`\delta - \log c` on every row),
        ``weight_function`` (the exact weight :math:`e^{\delta(x)}/c` at any events),
        ``feature_names``, ``effect`` and ``description``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhep_reweight.datasets import make_systematic_variation
    >>> data = make_systematic_variation(2000, random_state=0)
    >>> bool(np.array_equal(data.X[data.y == 0], data.X[data.y == 1]))
    True
    >>> print(round(float(np.std(data.log_ratio[data.y == 0])), 4))
    0.005
    """
    n = _check_n(n_samples, "n_samples")
    effect = _check_real(effect, "effect")
    rng = check_random_state(random_state)
    pt = 1000.0 * np.exp(rng.normal(_LOG_PT_MEAN, _LOG_PT_WIDTH, size=(n, 4)))
    eta = rng.uniform(-_ETA_MAX, _ETA_MAX, size=(n, 4))
    phi = rng.uniform(-np.pi, np.pi, size=(n, 2))
    multiplicity = np.column_stack(
        [rng.poisson(_MEAN_N_JETS, size=n), rng.poisson(_MEAN_N_TRACKS, size=n)]
    ).astype(np.float64)
    events = np.hstack([pt, eta, phi, multiplicity])
    w0 = rng.uniform(0.5, 1.5, size=n) if generator_weights else np.ones(n)
    delta = systematic_variation_log_ratio(events, effect)
    log_c = float(np.log(np.sum(w0 * np.exp(delta)) / np.sum(w0)))

    def weight_function(X: np.ndarray) -> np.ndarray:
        return np.exp(systematic_variation_log_ratio(X, effect) - log_c)

    return Bunch(
        X=np.vstack([events, events]),
        y=np.repeat(np.array([0, 1]), n),
        sample_weight=np.concatenate([w0, w0 * np.exp(delta - log_c)]),
        log_ratio=np.tile(delta - log_c, 2),
        weight_function=weight_function,
        feature_names=list(FEATURE_NAMES),
        effect=effect,
        description=(
            f"{n} events in both samples; target weights differ by exp(delta(x)), "
            f"std(delta) = {effect}"
        ),
    )
