r"""Synthetic reweighting problems whose exact answer is known.

The problem
-----------
A *reweighting* method learns per-event weights :math:`w(x)` that morph a
*source* sample (usually a simulation) into a *target* sample (another
simulation or the data).  Judging such a method needs problems where the right
answer is known in closed form.  This module provides the Gaussian examples of
the papers the package implements, each returned together with its exact
weight function:

* :func:`make_gaussian_reweighting` -- a 1-D shift-and-widen closure test of
  classifier-based (DCTR) reweighting [1]_;
* :func:`make_correlated_gaussians` -- the same problem in several correlated
  dimensions;
* :func:`make_parametrized_gaussian` -- the parametrized Gaussian with detector
  smearing of the SRGN paper [2]_;
* :func:`make_parameter_dependent_response` -- its detector response that depends on
  the parameter through a second generator-level feature (Fig. 4 of [2]_);
* :func:`gaussian_density_ratio` -- the exact weight between any two normals;
* :func:`make_conditional_gaussians` -- Gaussian truth and response with an exact
  conditional weight :math:`q(x|x')/p(x|x')`, optionally with a phase-space hole [3]_;
* :func:`make_conditional_response` -- a detector response whose resolution scales as
  :math:`1/\sqrt{x'}`, at chosen truth values (the interpolation test of [3]_).

Calibration problems (truth ``z`` and detector-level ``X``, with the exact maximum-likelihood
calibration and resolution, :mod:`._calibration`):

* :func:`make_gaussian_smearing` -- Gaussian truth and response of "Bias and Priors" section IV.A,
  optionally with an offset and a truth-dependent width;
* :func:`make_correlated_smearing` -- several targets with correlated smearing;
* :func:`make_auxiliary_response` -- a response that depends on an auxiliary feature;
* :func:`make_dijet_calibration` -- falling QCD and resonant BSM dijet masses with a synthetic
  detector (section V.B).

Transport problems (simulation rows, then data rows, with the exact optimal-transport map,
:mod:`._transport`):

* :func:`make_gaussian_transport` and :func:`gaussian_transport_map` -- two multivariate normals
  and the closed-form map :math:`\mu_d + A(x - \mu_s)`;
* :func:`make_smearing_mismodeling` -- one truth spectrum, two detector resolutions (section IV.B
  of "Bias and Priors", eqs. 42-44);
* :func:`make_conditional_discriminant` -- a discriminant whose mismodelling depends on the jet
  :math:`p_T` (a conditional map).

Weighted event samples with their true density (event unweighting, :mod:`._unweighting`):

* :func:`make_camel_back` -- the 1-D camel back of "How to GAN Event Unweighting" in its three
  encodings (unweighted, uniform with weights, the hybrid);
* :func:`make_gaussian_ring` -- the 2-D Gaussian ring (section 2.3), VEGAS's hard case;
* :func:`make_breit_wigner` -- a resonance sampled uniformly, weights over five orders of
  magnitude (a stand-in for the paper's Drell-Yan sample).

Unfolding problems (data at detector level, simulation at both levels, with the truth of the data,
:mod:`._unfolding`; conventions in that module's docstring):

* :func:`make_gaussian_unfolding` -- OmniFold's Gaussian example with an inefficiency, fakes and
  a background, and :func:`gaussian_omnifold_moments`, the closed-form unfolded mean and width
  after each iteration (:func:`gaussian_smeared_moments`: the detector-level moments);
* :func:`make_correlated_unfolding` -- several observables whose truth correlation differs
  between data and simulation.

These return one weighted sample (``X``, ``sample_weight``) and its true ``density``, not the
two stacked samples of the conventions below.

A systematic variation emulated by reweighting (:mod:`._variation`):

* :func:`make_systematic_variation` -- the same events in both samples, with weights that differ
  by a small smooth function of 12 features on very different scales, and
  :func:`systematic_variation_log_ratio`, its exact log-ratio.

Conventions
-----------
Every maker returns a :class:`sklearn.utils.Bunch` that stacks the two samples:

* ``X`` holds the source rows first (``y == 0``, density :math:`p`), then the
  target rows (``y == 1``, density :math:`q`); ``n_samples`` is the number of
  rows *per class*.
* ``weight_function`` computes the exact weight

  .. math::

      w(x) = \frac{q(x)}{p(x)},

  where :math:`p` and :math:`q` are *normalized* densities, so that
  :math:`\mathbb{E}_p[w] = 1` and :math:`\mathbb{E}_p[w\,f] = \mathbb{E}_q[f]`
  for any observable :math:`f`.  A reweighter trained on ``X, y`` should
  reproduce it up to statistical noise.
* Features are arrays of shape ``(n_samples, n_features)``; a 1-D array is one
  feature.  Randomness enters only through ``random_state``.

For a source :math:`\mathcal{N}(\mu_p, \Sigma_p)` and a target
:math:`\mathcal{N}(\mu_q, \Sigma_q)` in :math:`d` dimensions the weight is

.. math::

    \log w(x) = \tfrac{1}{2}\log\frac{\det\Sigma_p}{\det\Sigma_q}
        + \tfrac{1}{2}(x - \mu_p)^\top \Sigma_p^{-1} (x - \mu_p)
        - \tfrac{1}{2}(x - \mu_q)^\top \Sigma_q^{-1} (x - \mu_q),

which :func:`gaussian_density_ratio` evaluates in log space with Cholesky
factors before exponentiating.

The parametrized example of the SRGN paper [2]_ (section III.A) adds a model
parameter :math:`\theta = (\mu, \sigma)` and a detector: the generator-level
feature is :math:`x_G \sim \mathcal{N}(\mu, \sigma^2)` and the
simulation-level feature is :math:`x_S = x_G + z` with
:math:`z \sim \mathcal{N}(0, \epsilon^2)`.  Relative to the nominal point
:math:`\theta_0 = (\mu_0, \sigma_0)` the exact parametrized weight is the
paper's eq. (11),

.. math::

    w_{\theta_0}(x_G, \theta) = \frac{\sigma_0}{\sigma}
        \exp\left(\frac{1}{2}\left[\left(\frac{x_G - \mu_0}{\sigma_0}\right)^2
        - \left(\frac{x_G - \mu}{\sigma}\right)^2\right]\right),

which reduces to eq. (10) when only :math:`\mu` varies and
:math:`\sigma = \sigma_0 = 1`.

Examples
--------
>>> import numpy as np
>>> from skhep_reweight.datasets import make_gaussian_reweighting
>>> data = make_gaussian_reweighting(n_samples=2000, target_std=1.0, random_state=0)
>>> source = data.X[data.y == 0, 0]
>>> w = data.exact_weights[data.y == 0]  # exp(x - 1/2) on the source rows
>>> print(round(float(np.mean(w)), 1))  # E_p[w] = 1
1.0
>>> reweighted_mean = np.average(source, weights=w)
>>> print(bool(abs(reweighted_mean - 1.0) < 0.1))  # the target mean is 1.0
True

References
----------
.. [1] A. Andreassen and B. Nachman, "Neural networks for full phase-space
   reweighting and parameter tuning", Phys. Rev. D 101, 091901 (2020),
   arXiv:1907.08209.
.. [2] A. Andreassen, S.-C. Hsu, B. Nachman, N. Suaysom and A. Suresh,
   "Parameter estimation using neural networks in the presence of detector
   effects", Phys. Rev. D 103, 036001 (2021), arXiv:2010.03569.
.. [3] B. Nachman and J. Thaler, "Neural conditional reweighting", Phys. Rev. D
   105, 076015 (2022), arXiv:2107.08979.
"""

from ._calibration import (
    make_auxiliary_response,
    make_correlated_smearing,
    make_dijet_calibration,
    make_gaussian_smearing,
)
from ._conditional import make_conditional_gaussians, make_conditional_response
from ._gaussian import (
    RELATIVE_EIGENVALUE_RANGE,
    SOURCE_EIGENVALUE_RANGE,
    gaussian_density_ratio,
    make_correlated_gaussians,
    make_gaussian_reweighting,
)
from ._parametrized import make_parameter_dependent_response, make_parametrized_gaussian
from ._transport import (
    gaussian_transport_map,
    make_conditional_discriminant,
    make_gaussian_transport,
    make_smearing_mismodeling,
)
from ._unfolding import (
    gaussian_omnifold_moments,
    gaussian_smeared_moments,
    make_correlated_unfolding,
    make_gaussian_unfolding,
)
from ._unweighting import camel_density, make_breit_wigner, make_camel_back, make_gaussian_ring
from ._variation import make_systematic_variation, systematic_variation_log_ratio

__all__ = [
    "RELATIVE_EIGENVALUE_RANGE",
    "camel_density",
    "make_breit_wigner",
    "make_camel_back",
    "make_gaussian_ring",
    "SOURCE_EIGENVALUE_RANGE",
    "gaussian_density_ratio",
    "gaussian_omnifold_moments",
    "gaussian_smeared_moments",
    "gaussian_transport_map",
    "make_auxiliary_response",
    "make_conditional_discriminant",
    "make_conditional_gaussians",
    "make_conditional_response",
    "make_correlated_gaussians",
    "make_correlated_smearing",
    "make_correlated_unfolding",
    "make_dijet_calibration",
    "make_gaussian_reweighting",
    "make_gaussian_smearing",
    "make_gaussian_transport",
    "make_gaussian_unfolding",
    "make_parameter_dependent_response",
    "make_parametrized_gaussian",
    "make_smearing_mismodeling",
    "make_systematic_variation",
    "systematic_variation_log_ratio",
]
