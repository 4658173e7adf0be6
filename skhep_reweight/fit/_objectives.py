r"""The two goodness-of-fit objectives of a parameter fit by reweighting, and what they need.

SRGN (eq. 5 of [1]_) scores a parameter point :math:`\theta'` by the area under the ROC curve of a
classifier :math:`g_{\theta'}` trained (eq. 4) to separate the data from the nominal simulation
reweighted by :math:`w_{\theta_0}(x_G, \theta')`,

.. math::

    \mathrm{AUC}(\theta') = \Pr\left(g_{\theta'}(x_S^{\rm data})
        > g_{\theta'}(x_S^{\rm sim})\right),

evaluated here on events that the classifier did not see in training, each simulated event
counted with its weight. It is 1/2 where the reweighted simulation and the data agree. The AUC is
invariant under any monotone map of :math:`g` and under any :math:`\theta`-dependent constant
factor of the weights (both sums of its ratio scale together), so the normalization of a learned
reweighting, which is never exact, does not move the fit.

The DCTR fit (eq. 3 of [1]_, from [2]_) needs no second classifier: with the reweighter's own
classifier :math:`f(x, \theta) = \sigma(\log w(x, \theta))` frozen it maximizes

.. math::

    \frac{1}{W_{\rm data}}\sum_{i \in \rm data} w_i \log f(x_i, \theta')
    + \frac{1}{W_0}\sum_{i \in \theta_0} w_i \log\left(1 - f(x_i, \theta')\right)

over :math:`\theta'` (each sample's weights normalized, so the classes count equally as in the
reweighter's training), which is maximal at the data's parameters when :math:`f` is optimal.

References
----------
.. [1] A. Andreassen, S.-C. Hsu, B. Nachman, N. Suaysom, A. Suresh, "Parameter estimation using
       neural networks in the presence of detector effects", Phys. Rev. D 103, 036001 (2021),
       arXiv:2010.03569.
.. [2] A. Andreassen, B. Nachman, "Neural networks for full phase-space reweighting and parameter
       tuning", Phys. Rev. D 101, 091901 (2020), arXiv:1907.08209.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_expit

__all__ = ["dctr_cross_entropy", "held_out_split", "weighted_auc"]


def weighted_auc(y01: np.ndarray, score: np.ndarray, sample_weight: np.ndarray) -> float:
    r"""Weighted ROC AUC of ``score`` for label 1 against label 0.

    .. math::

        \mathrm{AUC} = \frac{\sum_{i: y=1}\sum_{k: y=0} w_i w_k
            \left([s_i > s_k] + \tfrac12 [s_i = s_k]\right)}{W_1 W_0},

    with :math:`W_c` the total weight of class c: the area under the weighted ROC curve, as
    ``sklearn.metrics.roc_auc_score`` with ``sample_weight`` computes it, from one sort of the
    scores (the objective is evaluated at every parameter point, and the input checks of
    ``roc_auc_score`` cost more than the sort).

    Invariant under a positive constant factor on either class's weights, and under any
    strictly increasing map of the score: only the order counts, so a classifier's logit gives
    the AUC of its probability. Infinite scores (the logit where a probability is exactly 0 or
    1) are ranked like any other, equal ones as a tie; NaN raises.

    Examples
    --------
    >>> print(weighted_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]),
    ...                    np.ones(4)))
    0.75
    >>> print(weighted_auc(np.array([0, 0, 1, 1]), np.array([-np.inf, 0.4, 0.35, np.inf]),
    ...                    np.ones(4)))
    0.75
    """
    score = np.asarray(score, dtype=np.float64)
    if np.isnan(score).any():
        raise ValueError("the classifier's scores contain NaN")
    order = np.argsort(score)  # ties are grouped below, so their order does not matter
    s, w = score[order], np.asarray(sample_weight, dtype=np.float64)[order]
    positive = np.asarray(y01)[order] == 1
    # the weight of each class at each distinct score (ties grouped; inf == inf is a tie)
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    w1 = np.add.reduceat(np.where(positive, w, 0.0), starts)
    w0 = np.add.reduceat(np.where(positive, 0.0, w), starts)
    total0, total1 = w0.sum(), w1.sum()
    if total0 == 0 or total1 == 0:
        raise ValueError("the weighted AUC needs a non-zero total weight in each class")
    below0 = np.cumsum(w0) - w0  # class-0 weight strictly below each score
    return float(np.dot(w1, below0 + 0.5 * w0) / (total0 * total1))


def dctr_cross_entropy(
    log_ratio_data: np.ndarray,
    log_ratio_nominal: np.ndarray,
    data_weight: np.ndarray,
    nominal_weight: np.ndarray,
) -> float:
    r"""Minus the objective of the DCTR fit, eq. (3) of [1]_ (lower is better).

    .. math::

        L(\theta') = -\frac{\sum_{\rm data} w_i \log\sigma(s_i)}{\sum_{\rm data} w_i}
                     - \frac{\sum_{\theta_0} w_i \log\sigma(-s_i)}{\sum_{\theta_0} w_i},

    with :math:`s = \log w(x, \theta')` the reweighter's log-ratio, so that
    :math:`\sigma(s) = f(x, \theta')`.

    Parameters
    ----------
    log_ratio_data, log_ratio_nominal : ndarray of shape (n_data,) / (n_nominal,)
        :math:`\log w(x, \theta')` on the data and on the nominal sample.
    data_weight, nominal_weight : ndarray of shape (n_data,) / (n_nominal,)
        The events' own weights.

    References
    ----------
    .. [1] A. Andreassen, S.-C. Hsu, B. Nachman, N. Suaysom, A. Suresh, "Parameter estimation
       using neural networks in the presence of detector effects", Phys. Rev. D 103, 036001
       (2021), arXiv:2010.03569.

    Examples
    --------
    >>> print(round(dctr_cross_entropy(np.zeros(3), np.zeros(2), np.ones(3), np.ones(2)), 4))
    1.3863
    """
    data_term = np.dot(data_weight, log_expit(log_ratio_data)) / data_weight.sum()
    nominal_term = np.dot(nominal_weight, log_expit(-log_ratio_nominal)) / nominal_weight.sum()
    return float(-(data_term + nominal_term))


def held_out_split(
    n_data: int, n_sim: int, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean test masks for the data and the simulation, each sample split on its own.

    The same events are held out at every parameter point of one fit (common random numbers:
    the AUC then changes with theta through the weights and the classifier only, not through a
    new draw of events).
    """
    rng = np.random.RandomState(seed)
    masks = []
    for n in (n_data, n_sim):
        n_test = int(round(test_fraction * n))
        if n_test < 1 or n - n_test < 1:
            raise ValueError(
                f"test_fraction={test_fraction} leaves no training or no test events out of {n}"
            )
        mask = np.zeros(n, dtype=bool)
        mask[rng.permutation(n)[:n_test]] = True
        masks.append(mask)
    return masks[0], masks[1]
