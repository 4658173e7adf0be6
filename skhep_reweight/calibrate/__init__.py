"""Calibrators: estimate truth from detector-level measurements, or move simulation onto data.

- :class:`GaussianAnsatzCalibrator` (simulation-based): the maximum-likelihood calibration
  :math:`\\hat z(x) = \\mathrm{argmax}_z\\, p(x|z)` and its resolution, independent of the truth
  spectrum it was trained on.
"""

from ._gaussian_ansatz import GaussianAnsatzCalibrator

__all__ = ["GaussianAnsatzCalibrator"]
