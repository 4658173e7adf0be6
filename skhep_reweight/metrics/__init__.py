r"""Figures of merit for weighted samples and for the quality of a reweighting.

The problem
-----------
After a reweighter has produced weights :math:`w_i` for a *source* sample,
two questions remain: how much statistical power do the weights leave, and
how close is the weighted source to the *target* sample?  This module answers
both with standard, assumption-light statistics:

* :func:`effective_sample_size` -- Kish's effective number of events [1]_,

  .. math::

      n_\mathrm{eff} = \frac{\left(\sum_i w_i\right)^2}{\sum_i w_i^2},

  equal to :math:`n` for unit weights and smaller the more the weights vary.
* :func:`largest_weight_share` -- the share of the total absolute weight carried by the
  largest 1 % of the weights.
* :func:`weighted_ks_distance` -- the two-sample Kolmogorov-Smirnov
  statistic [2]_ [3]_ of every feature between weighted empirical CDFs,

  .. math::

      D_j = \sup_t \left| F^{(s)}_j(t) - F^{(t)}_j(t) \right|, \qquad
      F_j(t) = \frac{\sum_i w_i\, [x_{ij} \le t]}{\sum_i w_i},

  where :math:`x_{ij}` is feature :math:`j` of event :math:`i` and
  :math:`[\cdot]` is 1 when the condition holds and 0 otherwise.
* :func:`classifier_two_sample_auc` -- a classifier two-sample test [4]_, as
  used to validate reweighting in hep_ml [5]_: an independent classifier is
  trained to separate the weighted source from the target and its ROC AUC is
  measured on held-out events.  0.5 means the samples cannot be told apart;
  for two 1-D Gaussians of unit width a distance :math:`\Delta` apart the best
  possible AUC is :math:`\Phi(\Delta/\sqrt{2})`, with :math:`\Phi` the
  standard normal CDF.
* :func:`weighted_mean_std` -- per-feature weighted mean and standard deviation.
* :func:`calibration_bias_resolution` -- the bias and resolution of a calibration in bins of
  the truth: the weighted mean and standard deviation of :math:`\hat z - z` per bin of
  :math:`z` (section IV.A of [7]_).
* :func:`truth_correction_weights` -- the binned ratio :math:`P_T/P_G` of a true density to
  the density of generated, unweighted events, per generated event (eq. 10 of [6]_).

Conventions
-----------
Samples are array-likes of shape ``(n_samples, n_features)`` (numpy arrays or
pandas objects); a 1-D array is one feature.  Weights are 1-D with one entry
per row and default to 1.  Each sample's weights are normalized internally, so
only their relative sizes matter; negative weights (common in NLO event
generation) are accepted, but each sample's weights must sum to a positive
number.

Examples
--------
>>> import numpy as np
>>> from skhep_reweight.metrics import effective_sample_size, weighted_ks_distance
>>> rng = np.random.RandomState(0)
>>> source, target = rng.normal(0, 1, 500), rng.normal(1, 1, 500)
>>> w = np.exp(source - 0.5)  # exact weight of N(0, 1) -> N(1, 1)
>>> print(bool(weighted_ks_distance(source, target)[0] > 0.3))  # before reweighting
True
>>> print(bool(weighted_ks_distance(source, target, source_weight=w)[0] < 0.1))  # after
True
>>> print(round(effective_sample_size(w) / len(w), 1))  # 1 / E[w^2] = 1/e
0.4

References
----------
.. [1] L. Kish, "Survey Sampling", Wiley, New York (1965).
.. [2] A. N. Kolmogorov, "Sulla determinazione empirica di una legge di
   distribuzione", Giornale dell'Istituto Italiano degli Attuari 4, 83 (1933).
.. [3] N. Smirnov, "Table for estimating the goodness of fit of empirical
   distributions", Ann. Math. Statist. 19, 279 (1948).
.. [4] D. Lopez-Paz and M. Oquab, "Revisiting classifier two-sample tests",
   ICLR 2017, arXiv:1610.06545.
.. [5] A. Rogozhnikov, "Reweighting with boosted decision trees",
   J. Phys.: Conf. Ser. 762, 012036 (2016), arXiv:1608.05806.
.. [6] M. Backes, A. Butter, T. Plehn, R. Winterhalder, "How to GAN Event
   Unweighting", SciPost Phys. 10, 089 (2021), arXiv:2012.07873.
.. [7] R. Gambhir, B. Nachman, J. Thaler, "Bias and Priors in Machine Learning
   Calibrations for High Energy Physics", Phys. Rev. D 106, 036011 (2022),
   arXiv:2205.05084.
"""

from ._calibration import calibration_bias_resolution
from ._samples import DEFAULT_CLASSIFIER_N_THREADS as DEFAULT_CLASSIFIER_N_THREADS
from ._samples import DEFAULT_CLASSIFIER_PARAMS as DEFAULT_CLASSIFIER_PARAMS
from ._samples import (
    classifier_two_sample_auc,
    effective_sample_size,
    largest_weight_share,
    weighted_ks_distance,
    weighted_mean_std,
)
from ._truth import _binned_density as _binned_density  # used by bench/bench_unweight.py
from ._truth import truth_correction_weights

__all__ = [
    "calibration_bias_resolution",
    "classifier_two_sample_auc",
    "effective_sample_size",
    "largest_weight_share",
    "truth_correction_weights",
    "weighted_ks_distance",
    "weighted_mean_std",
]
