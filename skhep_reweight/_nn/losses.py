"""Per-event losses. Each returns one value per event; :class:`~skhep_reweight._nn.net.WeightedNet`
multiplies by the event weights and averages, so a new method adds a loss here, not a new loop."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BinaryCrossEntropyPerEvent", "MarginalJointCrossEntropy"]


class BinaryCrossEntropyPerEvent(nn.Module):
    r"""Binary cross-entropy on a logit, one value per event.

    .. math::

        \ell_i = -\left[y_i \log \sigma(s_i) + (1 - y_i) \log(1 - \sigma(s_i))\right],

    with :math:`s_i` the network's logit and :math:`\sigma` the logistic function, computed
    from the logit directly (no clipping needed, no overflow). The network output of shape
    ``(n, 1)`` is flattened to ``(n,)``.
    """

    def forward(self, logit: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logit = logit.reshape(-1)
        return F.binary_cross_entropy_with_logits(logit, target.to(logit.dtype), reduction="none")


class MarginalJointCrossEntropy(nn.Module):
    r"""Two binary cross-entropies on a two-column output :math:`(g, h)`, one value per event.

    .. math::

        \ell_i = \mathrm{BCE}(g_i, y_i) + \mathrm{BCE}(g_i + h_i, y_i),

    the first term fitting :math:`g` as the logit of the marginal classifier, the second
    :math:`g + h` as the logit of the joint classifier (the single-training objective of
    :class:`~skhep_reweight.ConditionalReweighter`, where it is derived). The sum :math:`g + h` is
    formed here from the two columns, so that :math:`h` is never the difference of two large
    numbers.
    """

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        g, h = output[:, 0], output[:, 1]
        y = target.reshape(-1).to(output.dtype)
        return F.binary_cross_entropy_with_logits(
            g, y, reduction="none"
        ) + F.binary_cross_entropy_with_logits(g + h, y, reduction="none")
