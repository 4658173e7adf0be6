"""Event unweighting: :class:`WeightedGANUnweighter`, a generative network trained on weighted
events that emits unweighted ones, and the classic baseline, :func:`hit_or_miss` with its
efficiency :func:`unweighting_efficiency` (arXiv:2012.07873)."""

from ._gan import WeightedGANUnweighter
from ._hit_or_miss import hit_or_miss, unweighting_efficiency

__all__ = ["WeightedGANUnweighter", "hit_or_miss", "unweighting_efficiency"]
