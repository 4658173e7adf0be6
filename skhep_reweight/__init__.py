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
- ``y == 0`` (or False) marks source rows (the sample to reweight), ``y == 1`` (or True) target
  rows; any other label raises, rather than being sorted into a role.
- Class totals are balanced internally; the weights need no prior factor.
- ``predict_weights`` returns the per-event ratio, not renormalized: its mean over the source
  sample is close to one, and predicting in batches gives the same numbers as predicting at once
  (bit for bit on the CPU, to float32 rounding on a GPU).
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
- :class:`OmniFold` (:mod:`skhep_reweight.unfold`): unbinned, multi-dimensional unfolding by
  iterated reweighting, beside iterative Bayesian unfolding of histograms.
- :mod:`skhep_reweight.datasets`: the papers' synthetic examples with their exact answers.
- :mod:`skhep_reweight.metrics`: effective sample size, weighted KS distance, two-sample AUC.
- :func:`save` and :func:`load`: a fitted estimator stored as data (arrays and a JSON header in
  an ``.npz`` archive) in a file that cannot run code when it is loaded, unlike a pickle.
- :class:`FoldingReweighter`, :class:`BaggingReweighter`: out-of-fold weights for the training
  events, and a per-event spread from an ensemble; :func:`predict_weights` reaches the
  reweighter inside a Pipeline or a grid search.
- :mod:`skhep_reweight.io` (ROOT and parquet files), :mod:`skhep_reweight.diagnostics` (the
  validation report with ratio panels), :mod:`skhep_reweight.compat.hep_ml` (hep_ml's names and
  signatures), and the ``skhep-reweight`` command line (``fit``, ``apply``, ``report``).
- What the package tells you: :class:`OutOfRangeWarning` (more events outside the training
  ranges than the training distribution puts there), :class:`LearnedNothingWarning`,
  :class:`SmallSampleWarning` (too few events to train or to validate), and
  :class:`DamagedFileError` (a truncated, overwritten or edited data or model file).

Names are imported on first use, so that ``import skhep_reweight`` (and ``skhep-reweight
--help``) does not load PyTorch and scikit-learn until something needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the submodule that defines it; loaded on first access (PEP 562).
_LAZY: dict[str, str] = {
    "BaggingReweighter": ".reweight",
    "DamagedFileError": "._errors",
    "ConditionalReweighter": ".reweight",
    "DCTRReweighter": ".reweight",
    "FoldingReweighter": ".reweight",
    "GaussianAnsatzCalibrator": ".calibrate",
    "OTCalibrator": ".calibrate",
    "OmniFold": ".unfold",
    "LearnedNothingWarning": "._base",
    "OutOfRangeWarning": "._base",
    "SRGNFitter": ".fit",
    "SmallSampleWarning": "._errors",
    "WeightedGANUnweighter": ".unweight",
    "load": "._persist",
    "predict_weights": ".reweight",
    "save": "._persist",
    "weights_from_classifier": ".reweight",
}
# Subpackages reachable as attributes of the package without an explicit import.
_SUBMODULES = (
    "calibrate",
    "compat",
    "datasets",
    "diagnostics",
    "export",
    "fit",
    "io",
    "metrics",
    "reweight",
    "unfold",
    "unweight",
)

__all__ = [
    "BaggingReweighter",
    "ConditionalReweighter",
    "DCTRReweighter",
    "DamagedFileError",
    "FoldingReweighter",
    "GaussianAnsatzCalibrator",
    "LearnedNothingWarning",
    "OTCalibrator",
    "OmniFold",
    "OutOfRangeWarning",
    "SRGNFitter",
    "SmallSampleWarning",
    "WeightedGANUnweighter",
    "__version__",
    "datasets",
    "load",
    "metrics",
    "predict_weights",
    "save",
    "weights_from_classifier",
]

if TYPE_CHECKING:  # what static tools see; nothing of this runs
    from . import datasets, metrics
    from ._base import LearnedNothingWarning, OutOfRangeWarning
    from ._errors import DamagedFileError, SmallSampleWarning
    from ._persist import load, save
    from .calibrate import GaussianAnsatzCalibrator, OTCalibrator
    from .fit import SRGNFitter
    from .reweight import (
        BaggingReweighter,
        ConditionalReweighter,
        DCTRReweighter,
        FoldingReweighter,
        predict_weights,
        weights_from_classifier,
    )
    from .unfold import OmniFold
    from .unweight import WeightedGANUnweighter


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBMODULES})
