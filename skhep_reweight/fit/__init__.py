"""Fitting generator parameters by reweighting: SRGN at detector level and the DCTR fit.

:class:`SRGNFitter` takes a parametrized reweighting learned at generator level
(:class:`~skhep_reweight.DCTRReweighter` fitted with ``theta``) and the one nominal sample that
went through the detector simulation, and finds the parameters at which a classifier can no longer
tell the reweighted simulation from the data (the minimum of its AUC). The objectives are module
functions: :func:`weighted_auc` and :func:`dctr_cross_entropy` (eq. 3 of the SRGN paper).
:data:`REWEIGHTER_PARAMS` holds the reweighter's settings that reproduce the paper's Table II.
"""

from ._objectives import dctr_cross_entropy, weighted_auc
from ._srgn import REWEIGHTER_PARAMS, SRGNFitter

__all__ = ["REWEIGHTER_PARAMS", "SRGNFitter", "dctr_cross_entropy", "weighted_auc"]
