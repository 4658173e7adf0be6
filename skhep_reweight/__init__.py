"""skhep_reweight: the neural reweighting and calibration methods of high-energy physics as
scikit-learn estimators.

The problem
-----------
Simulation never matches data exactly, and a generator run at one set of parameters is wanted at
others. Reweighting gives each simulated (*source*) event a weight w(x) = q(x)/p(x) so that the
weighted source sample follows the *target* density q. A classifier trained to tell the two
samples apart learns that ratio in any number of dimensions, without histograms.

Conventions
-----------
- ``y == 0`` marks source rows (the sample to reweight), ``y == 1`` target rows.
- Class totals are balanced internally; the weights need no prior factor.
- ``predict_weights`` returns the per-event ratio, not renormalized: its mean over the source
  sample is close to one, and predicting in batches gives the same numbers as predicting at once.
- Every estimator fits, predicts and pickles like any scikit-learn model, takes ``sample_weight``
  (negative weights included), and trains on the GPU when ``device="auto"`` finds one.

Example
-------
>>> import numpy as np
>>> from skhep_reweight import DCTRReweighter
>>> from skhep_reweight.datasets import make_gaussian_reweighting
>>> data = make_gaussian_reweighting(n_samples=2000, random_state=0)
>>> rw = DCTRReweighter(hidden_layer_sizes=(16,), max_epochs=10, random_state=0)
>>> rw = rw.fit(data.X, data.y)
>>> w = rw.predict_weights(data.X[data.y == 0])
>>> print(round(float(w.mean()), 1))
1.0

Contents
--------
- :class:`DCTRReweighter`, :class:`ConditionalReweighter` and :func:`weights_from_classifier`
  (:mod:`skhep_reweight.reweight`).
- :class:`GaussianAnsatzCalibrator` (:mod:`skhep_reweight.calibrate`): prior-independent
  maximum-likelihood calibration with its resolution.
- :class:`SRGNFitter` (:mod:`skhep_reweight.fit`): generator parameters fitted to data seen at
  detector level through a generator-level reweighting (SRGN), and the DCTR fit.
- :class:`WeightedGANUnweighter` (:mod:`skhep_reweight.unweight`): unweighted events from a
  generative network trained on weighted ones, with hit-or-miss unweighting as the baseline.
- :mod:`skhep_reweight.datasets`: the papers' synthetic examples with their exact answers.
- :mod:`skhep_reweight.metrics`: effective sample size, weighted KS distance, two-sample AUC.
- :func:`save` and :func:`load`: a fitted estimator stored as data (arrays and a JSON header in
  an ``.npz`` archive) in a file that cannot run code when it is loaded, unlike a pickle.
"""

from . import datasets, metrics
from ._persist import load, save
from .calibrate import GaussianAnsatzCalibrator, OTCalibrator
from .fit import SRGNFitter
from .reweight import ConditionalReweighter, DCTRReweighter, weights_from_classifier
from .unweight import WeightedGANUnweighter

__version__ = "0.1.0"

__all__ = [
    "ConditionalReweighter",
    "DCTRReweighter",
    "GaussianAnsatzCalibrator",
    "OTCalibrator",
    "SRGNFitter",
    "WeightedGANUnweighter",
    "__version__",
    "datasets",
    "load",
    "metrics",
    "save",
    "weights_from_classifier",
]
