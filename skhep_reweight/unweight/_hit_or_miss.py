r"""Classic hit-or-miss unweighting (section 2.1 of arXiv:2012.07873): the baseline a generative
unweighter is measured against."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state

from .._validation import check_non_negative_weights

__all__ = ["hit_or_miss", "unweighting_efficiency"]

_NEGATIVE_WEIGHTS = (
    "hit-or-miss keeps an event with probability w / w_max, which needs w >= 0: unweight the "
    "absolute weights, hit_or_miss(np.abs(w)), and give each kept event the sign of its weight"
)


def _check(sample_weight: ArrayLike, max_weight: float | None) -> tuple[np.ndarray, float]:
    if np.ndim(sample_weight) != 1:
        raise ValueError(f"sample_weight must be 1-D, got shape {np.shape(sample_weight)}")
    w = check_non_negative_weights(sample_weight, len(sample_weight), _NEGATIVE_WEIGHTS)
    if max_weight is None:
        return w, float(w.max())
    max_weight = float(max_weight)
    if not max_weight >= w.max():
        raise ValueError(
            f"max_weight={max_weight:.6g} is below the largest weight ({w.max():.6g}); "
            "events above it would keep weights above one (leave max_weight=None for the "
            "sample's maximum)"
        )
    return w, max_weight


def unweighting_efficiency(sample_weight: ArrayLike, max_weight: float | None = None) -> float:
    r"""The hit-or-miss unweighting efficiency of eq. (4),
    :math:`\epsilon_\text{uw} = \langle w\rangle / w_\text{max}`: the expected share of events
    that hit-or-miss keeps.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,)
        Non-negative event weights.
    max_weight : float, default=None
        :math:`w_\text{max}`; the sample's largest weight when None (it may be larger, for
        example the maximum over a bigger sample, never smaller).

    Returns
    -------
    efficiency : float

    Examples
    --------
    >>> from skhep_reweight.unweight import unweighting_efficiency
    >>> unweighting_efficiency([1.0, 2.0, 3.0, 6.0])
    0.5
    """
    w, w_max = _check(sample_weight, max_weight)
    return float(w.mean() / w_max)


def hit_or_miss(
    sample_weight: ArrayLike,
    *,
    max_weight: float | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> np.ndarray:
    r"""Hit-or-miss unweighting (eq. 3): keep event i when :math:`w_i / w_\text{max} > R_i`, with
    :math:`R_i` uniform in [0, 1).

    The kept events are unweighted events of the weighted sample's density (each carries unit
    weight); on average :math:`n\,\epsilon_\text{uw}` of the n events survive (eq. 4).

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,)
        Non-negative event weights (see the error message for negative ones).
    max_weight : float, default=None
        :math:`w_\text{max}`; the sample's largest weight when None, else at least that.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    keep : ndarray of bool, shape (n_samples,)
        The accepted events: ``X[keep]`` is the unweighted sample.

    Examples
    --------
    >>> import numpy as np
    >>> from skhep_reweight.unweight import hit_or_miss
    >>> w = np.array([0.5, 1.0, 0.0, 1.0])
    >>> hit_or_miss(w, random_state=0)[[1, 2, 3]]  # weight w_max: always kept; zero: never
    array([ True, False,  True])
    """
    w, w_max = _check(sample_weight, max_weight)
    rng = check_random_state(random_state)
    return w / w_max > rng.uniform(size=w.shape[0])
