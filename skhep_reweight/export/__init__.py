"""ONNX export: one graph from raw features to the final quantity, nothing left to redo by hand.

Weights are used far from where they are trained: in C++ analysis frameworks that run
onnxruntime, and by collaborators who receive a model file. :func:`to_onnx` writes one
self-contained ONNX file per fitted estimator, with the standardization, the clip and the ratio
(or the calibration, or the generator's output scaling) inside the graph, so that the numbers it
gives are those of the estimator's own prediction method. Optional: ``pip install
"skhep_reweight[onnx]"``.

What each estimator's graph takes and gives:

- :class:`~skhep_reweight.DCTRReweighter` and :class:`~skhep_reweight.ConditionalReweighter`:
  input ``"X"`` (float32, ``[batch, n_features]``; a parametrized reweighter also ``"theta"``,
  ``[batch, n_parameters]``), output ``"weight"`` (``[batch]``), as ``predict_weights``.
- :class:`~skhep_reweight.GaussianAnsatzCalibrator`: input ``"X"``, outputs ``"estimate"`` and
  ``"std"`` (and ``"covariance"`` with several targets), as ``predict(X, return_std=True)``.
- :class:`~skhep_reweight.OTCalibrator`: input ``"X"``, output ``"X_calibrated"``, as
  ``transform``.
- :class:`~skhep_reweight.WeightedGANUnweighter`: input ``"noise"``, output ``"events"``, as
  ``sample``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sklearn.utils.validation import check_is_fitted

__all__ = ["to_onnx"]


def to_onnx(estimator: Any, path: str | os.PathLike, **options: Any) -> Path:
    """Write a fitted estimator as one ONNX graph.

    Parameters
    ----------
    estimator : fitted estimator of skhep_reweight
        See the module's description for each estimator's inputs and outputs.
    path : str or path-like
        The file to write (written to a temporary file first, then moved: a failure leaves no
        partial file).
    **options
        Passed to the estimator's exporter (for example ``opset``).

    Returns
    -------
    path : Path
        The file written.

    Raises
    ------
    NotFittedError
        When the estimator is not fitted.
    TypeError
        When the estimator, or its configuration, has no ONNX export (the message says why).
    ImportError
        When the ``onnx`` extra is not installed.
    """
    from ..calibrate import GaussianAnsatzCalibrator, OTCalibrator
    from ..reweight import ConditionalReweighter, DCTRReweighter
    from ..unweight import WeightedGANUnweighter

    check_is_fitted(estimator)
    if isinstance(estimator, (DCTRReweighter, ConditionalReweighter)):
        from ._reweighters import export_reweighter

        return export_reweighter(estimator, path, **options)
    if isinstance(estimator, WeightedGANUnweighter):
        from ._reweighters import export_gan

        return export_gan(estimator, path, **options)
    if isinstance(estimator, GaussianAnsatzCalibrator):
        from ._calibrators import export_gaussian_ansatz

        return export_gaussian_ansatz(estimator, path, **options)
    if isinstance(estimator, OTCalibrator):
        from ._calibrators import export_ot

        return export_ot(estimator, path, **options)
    raise TypeError(
        f"{type(estimator).__name__} has no ONNX export: to_onnx exports DCTRReweighter, "
        "ConditionalReweighter, GaussianAnsatzCalibrator, OTCalibrator and "
        "WeightedGANUnweighter"
    )
