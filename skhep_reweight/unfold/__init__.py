r"""Unfolding: distributions measured by a detector corrected back to the generator level.

The problem
-----------
A detector measures every event's *truth* (generator-level) features :math:`t` only through
*reco* (detector-level) features :math:`m`: smeared, sometimes not at all (an *inefficiency*),
and sometimes it records events that have no truth counterpart in the process studied (*fakes*).
The simulation pairs each generated event with its detector response, so it knows the
*response* :math:`P(m \mid t)`; the data are seen at detector level only. *Unfolding* estimates
the data's truth distribution :math:`p_\text{data}(t)` from the measured
:math:`p_\text{data}(m) = \int P(m \mid t)\, p_\text{data}(t)\, dt` (plus fakes). Inverting the
response directly amplifies noise; both methods of this family iterate instead, starting from
the simulation's truth (the *prior*) and stopping after a few iterations (the regularization).

Iterative Bayesian unfolding (binned)
-------------------------------------
:func:`iterative_bayesian_unfolding` (D'Agostini [2]_) works on histograms: data counts
:math:`d_j` in reco bins :math:`j`, the response :math:`R_{ji} = P(\text{reco bin } j \mid
\text{truth bin } i)` whose columns sum to the efficiency :math:`\epsilon_i \le 1`, and expected
fake counts :math:`f_j`. From the current truth estimate :math:`t^{(n-1)}` (the prior at
:math:`n = 1`) Bayes' theorem gives the probability that an event seen in bin :math:`j` came
from truth bin :math:`i`, and the data are shared out accordingly:

.. math::

    t_i^{(n)} = \frac{1}{\epsilon_i} \sum_j
        \frac{R_{ji}\, t_i^{(n-1)}}{\sum_k R_{jk}\, t_k^{(n-1)} + f_j}\, d_j .

:func:`response_matrix` builds :math:`R`, :math:`\epsilon`, the fake histogram and the
simulation's truth histogram (the usual prior) from simulated events.

OmniFold (unbinned)
-------------------
:class:`OmniFold` (Andreassen, Komiske, Metodiev, Nachman & Thaler [1]_) performs the same
iteration event by event, with classifiers in place of histograms. Each simulated event carries
its truth :math:`t` and reco :math:`m` features; :math:`\nu_n(t)` is the weight of the
simulation at truth level after iteration :math:`n` (:math:`\nu_0 = 1`), and
:math:`L[(w_1, A), (w_2, B)](x)` is the likelihood ratio of sample A weighted by :math:`w_1` to
sample B weighted by :math:`w_2`, learned by a classifier. An event's weight is *pulled* from
reco to truth and *pushed* from truth to reco simply by keeping it on the same event:
:math:`\omega^\text{pull}(t) = \omega(m)` and :math:`\nu^\text{push}(m) = \nu(t)` for the pair
:math:`(t, m)` of one simulated event.

Step 1 reweights the simulation at detector level to the data,

.. math::

    \omega_n(m) = \nu^\text{push}_{n-1}(m)\;
        L\big[(1, \text{data}), (\nu^\text{push}_{n-1}, \text{sim})\big](m),

and step 2 turns these per-event weights into a function of the truth features, by a
classifier between the truth-level simulation weighted by the pulled weights and by the
previous ones,

.. math::

    \nu_n(t) = \nu_{n-1}(t)\;
        L\big[(\omega^\text{pull}_n, \text{gen}), (\nu_{n-1}, \text{gen})\big](t).

How they relate
---------------
Let the features be binned and the classifier represent per-bin ratios exactly. Step 1 then
gives every simulated event in reco bin :math:`j` the factor
:math:`d_j / \sum_k R_{jk} t_k^{(n-1)}` (the simulation's truth histogram weighted by
:math:`\nu_{n-1}` is :math:`t^{(n-1)}`), and step 2 averages these factors over the events of
truth bin :math:`i`, with :math:`R_{ji}` the share of them in reco bin :math:`j`:

.. math::

    \frac{\nu_n(i)}{\nu_{n-1}(i)} = \sum_j \frac{R_{ji}\, d_j}{\sum_k R_{jk} t_k^{(n-1)}} ,

which is IBU's update at full efficiency without fakes, with the simulation's truth histogram as
the prior (a class-balanced classifier normalizes the result to the simulation's total instead
of the data's). With an inefficiency :math:`\epsilon_i < 1` the events of truth bin :math:`i`
that fail the detector selection keep their weight (factor 1) in :class:`OmniFold`, so the update
is :math:`t_i \big(\sum_j R_{ji} d_j / m_j + 1 - \epsilon_i\big)` with
:math:`m_j = \sum_k R_{jk} t_k`, where IBU's :math:`1/\epsilon_i` gives the lost events the
average factor of the measured ones: the same fixed point, reached along another path. Fakes
are treated alike: IBU takes a fixed expected fake histogram (a cause that is not iterated), and
:class:`OmniFold` keeps the simulation's fakes at weight 1 in every iteration, a fixed
contribution in step 1 that step 2 never sees. OmniFold needs neither bins
nor a response matrix: it unfolds all features at once, so correlations between observables that
a per-observable IBU cannot see are unfolded too.

Example
-------
From simulated events to IBU in two calls, beside the closed-form OmniFold answer of the
Gaussian example (:func:`~skhep_reweight.datasets.make_gaussian_unfolding`):

>>> import numpy as np
>>> from skhep_reweight.datasets import make_gaussian_unfolding
>>> from skhep_reweight.unfold import iterative_bayesian_unfolding, response_matrix
>>> d = make_gaussian_unfolding(50_000, n_sim=200_000, random_state=0)
>>> bins = np.linspace(-4.0, 4.0, 41)
>>> R, eff, fakes, prior = response_matrix(d.X_gen, d.X_sim, bins, bins)
>>> data = np.histogram(d.X_data, bins)[0]
>>> unfolded = iterative_bayesian_unfolding(data, R, prior=prior, n_iterations=3)
>>> centers = 0.5 * (bins[1:] + bins[:-1])
>>> print(round(float(np.average(centers, weights=unfolded)), 2))  # truth: 0.2
0.2
>>> print(d.omnifold_moments(3)[0].round(2))  # OmniFold, perfect classifier
[0.16 0.19 0.2 ]

References
----------
.. [1] A. Andreassen, P. T. Komiske, E. M. Metodiev, B. Nachman and J. Thaler, "OmniFold: A
   method to simultaneously unfold all observables", Phys. Rev. Lett. 124, 182001 (2020),
   arXiv:1911.09107.
.. [2] G. D'Agostini, "A multidimensional unfolding method based on Bayes' theorem",
   Nucl. Instrum. Meth. A 362, 487 (1995).
"""

from ._ibu import iterative_bayesian_unfolding, response_matrix
from ._omnifold import OmniFold, UnfoldingWeightWarning

__all__ = ["OmniFold", "UnfoldingWeightWarning", "iterative_bayesian_unfolding", "response_matrix"]
