"""Per-event losses. Each returns one value per event; :class:`~skhep_reweight._nn.net.WeightedNet`
multiplies by the event weights and averages, so a new method adds a loss here, not a new loop."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "BinaryCrossEntropyPerEvent",
    "MarginalJointCrossEntropy",
    "donsker_varadhan_bound",
]


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


def donsker_varadhan_bound(
    t_joint: torch.Tensor,
    t_marginal: torch.Tensor,
    w_joint: torch.Tensor | None = None,
    w_marginal: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""The Donsker-Varadhan lower bound on the mutual information, from samples.

    .. math::

        \hat I = \frac{\sum_i w_i T_i}{\sum_i w_i}
               - \log \frac{\sum_j v_j e^{T'_j}}{\sum_j v_j},

    with :math:`T_i = T(x_i, z_i)` on pairs drawn from :math:`p(x, z)` and :math:`T'_j` on pairs
    from :math:`p(x)p(z)` (eq. 14 of Gambhir, Nachman, Thaler, arXiv:2205.05084, with
    :math:`f = T`). The logarithm of the mean is a ``logsumexp``, so no :math:`e^{T}` is ever
    formed: the bound stays finite for any finite :math:`T`. Weights must be non-negative;
    ``None`` means all ones.
    """
    t_joint, t_marginal = t_joint.reshape(-1), t_marginal.reshape(-1)
    joint = t_joint.mean() if w_joint is None else (w_joint * t_joint).sum() / w_joint.sum()
    if w_marginal is None:
        log_mean = torch.logsumexp(t_marginal, 0) - math.log(t_marginal.numel())
    else:
        log_mean = torch.logsumexp(t_marginal + torch.log(w_marginal), 0) - torch.log(
            w_marginal.sum()
        )
    return joint - log_mean
