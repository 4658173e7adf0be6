"""Calibrators: estimate truth from detector-level measurements, or move simulation onto data.

- :class:`GaussianAnsatzCalibrator` (simulation-based): the maximum-likelihood calibration
  :math:`\\hat z(x) = \\mathrm{argmax}_z\\, p(x|z)` and its resolution, independent of the truth
  spectrum it was trained on.
- :class:`OTCalibrator` (data-based): the optimal-transport map that moves simulated events onto
  the data's distribution, exact in 1-D and for small samples, neural for large ones; it depends
  on the truth spectrum it was fitted on.
"""

from ._gaussian_ansatz import GaussianAnsatzCalibrator
from ._ot import OTCalibrator

__all__ = ["GaussianAnsatzCalibrator", "OTCalibrator"]
