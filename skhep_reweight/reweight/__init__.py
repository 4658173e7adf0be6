"""Reweighters: learn w(x) = q(x)/p(x) so that a source sample p, weighted, looks like a target q.

Conventions shared by every reweighter:

- ``y == 0`` marks the source (the sample to be reweighted, usually simulation), ``y == 1`` the
  target (data, or simulation at other parameters).
- The class totals are balanced internally: the learned ratio carries no prior factor.
- ``predict_weights`` returns the per-event ratio, not renormalized; its mean over the source is
  close to one.
"""

from ._conditional import ConditionalReweighter
from ._dctr import DCTRReweighter
from ._ensemble import BaggingReweighter, FoldingReweighter
from ._weights import (
    DEFAULT_PROBA_CLIP,
    balanced_cross_entropy,
    clip_log_ratio,
    log_ratio_from_proba,
    predict_weights,
    weights_from_classifier,
)

__all__ = [
    "BaggingReweighter",
    "ConditionalReweighter",
    "DEFAULT_PROBA_CLIP",
    "DCTRReweighter",
    "FoldingReweighter",
    "balanced_cross_entropy",
    "clip_log_ratio",
    "log_ratio_from_proba",
    "predict_weights",
    "weights_from_classifier",
]
