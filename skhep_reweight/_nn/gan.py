r"""A generator and its discriminator for weighted training events (the unweighting GAN).

:class:`WeightedGAN` is a module for :class:`~skhep_reweight._nn.net.AlternatingNet`: the generator
is the primary player, the discriminator the critic. The losses are eq. (8) of Backes, Butter,
Plehn and Winterhalder, "How to GAN Event Unweighting" (arXiv:2012.07873), with the weighted MMD of
their eq. (19) as an optional generator term (eq. 20).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .modules import Standardize, make_activation

__all__ = ["SpectralNormLinear", "WeightedGAN", "weighted_mmd"]

# Generated events per validation batch, and the seed of their latent noise: the validation loss
# then changes between epochs only through the generator.
_VALIDATION_EVENTS = 2048
_VALIDATION_NOISE_SEED = 7_919

# MMD^2 is clamped at this before the square root of eq. (19) (whose gradient is infinite at 0).
_MMD_FLOOR = 1e-12


class SpectralNormLinear(nn.Linear):
    r"""A linear layer whose weight is divided by its largest singular value (Miyato et al.,
    arXiv:1802.05957): :math:`W / \sigma(W)`, with :math:`\sigma` from one power iteration per
    training forward pass. The singular vectors are buffers, so the layer pickles, moves between
    devices and evaluates deterministically (in evaluation mode they are not updated).
    """

    def __init__(self, in_features: int, out_features: int, eps: float = 1e-12) -> None:
        super().__init__(in_features, out_features)
        self.eps = eps
        self.register_buffer("u", F.normalize(torch.randn(out_features), dim=0, eps=eps))
        self.register_buffer("v", F.normalize(torch.randn(in_features), dim=0, eps=eps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                self.v.copy_(F.normalize(self.weight.t() @ self.u, dim=0, eps=self.eps))
                self.u.copy_(F.normalize(self.weight @ self.v, dim=0, eps=self.eps))
        # clones: a later training forward updates the buffers in place, and the graph of this
        # one (the discriminator runs on real and generated events before a backward) keeps them
        sigma = torch.dot(self.u.clone(), self.weight @ self.v.clone())
        return F.linear(x, self.weight / sigma, self.bias)


def _stack(
    n_inputs: int,
    sizes: Sequence[int],
    n_outputs: int,
    activation: str,
    spectral_norm: bool = False,
) -> nn.Sequential:
    linear = SpectralNormLinear if spectral_norm else nn.Linear
    layers: list[nn.Module] = []
    width = n_inputs
    for size in sizes:
        layers += [linear(width, int(size)), make_activation(activation)]
        width = int(size)
    layers.append(linear(width, n_outputs))
    return nn.Sequential(*layers)


def _gaussian_kernel(a: torch.Tensor, b: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
    """Sum over widths of exp(-|a - b|^2 / (2 width^2)), shape (len(a), len(b))."""
    d2 = torch.cdist(a, b).pow(2)
    return torch.exp(-d2[..., None] / (2 * widths**2)).sum(-1)


def weighted_mmd(
    x: torch.Tensor, w: torch.Tensor, y: torch.Tensor, widths: torch.Tensor
) -> torch.Tensor:
    r"""The weighted maximum mean discrepancy of eq. (19) between weighted events ``x`` (weights
    ``w``) and unweighted events ``y``,

    .. math::

        \text{MMD} = \Big[\frac{\sum w w' k(x, x')}{\sum w w'} + \langle k(y, y')\rangle
            - 2 \frac{\sum_x w \langle k(x, y)\rangle_y}{\sum w}\Big]^{1/2},

    with k a sum of Gaussian kernels of the given ``widths`` (all pairs, the diagonals included:
    the V-statistic, which is a squared distance of kernel embeddings and so never negative for
    non-negative weights). The square is clamped at 1e-12 before the root.
    """
    a = w / w.sum()
    k_xx = a @ _gaussian_kernel(x, x, widths) @ a
    k_yy = _gaussian_kernel(y, y, widths).mean()
    k_xy = (a @ _gaussian_kernel(x, y, widths)).mean()
    return torch.clamp(k_xx + k_yy - 2 * k_xy, min=_MMD_FLOOR).sqrt()


class WeightedGAN(nn.Module):
    r"""Generator G(z) and discriminator D(x) of the unweighting GAN.

    Both work in standardized units :math:`u = (x - \text{loc}) / \text{scale}` (the weighted
    mean and spread of the training events): the generator maps latent noise
    :math:`z \sim \mathcal{N}(0, 1)^{d_z}` to u, and :meth:`forward` returns events in the units
    of x. The discriminator outputs a logit; its layers are spectrally normalized when
    ``spectral_norm``.

    Losses on a batch of training events x with weights w and as many generated events
    (eq. 8, with the per-batch weight normalization; :math:`D = \text{sigmoid(logit)}`):

    .. math::

        L_D = \frac{\sum_x w\, [-\log D(x)]}{\sum_x w}
              + \big\langle -\log(1 - D(G(z))) \big\rangle_z, \qquad
        L_G = \big\langle -\log D(G(z)) \big\rangle_z
              + \lambda_\text{MMD}\, \text{MMD}_w(x, G(z)),

    the last term being eq. (19) and (20), on the columns ``mmd_columns``.
    """

    def __init__(
        self,
        n_features: int,
        latent_dim: int,
        generator_layer_sizes: Sequence[int],
        discriminator_layer_sizes: Sequence[int],
        generator_activation: str,
        discriminator_activation: str,
        loc: np.ndarray,
        scale: np.ndarray,
        spectral_norm: bool = True,
        mmd_weight: float = 0.0,
        mmd_kernel_widths: Sequence[float] = (0.05, 0.2, 1.0),
        mmd_columns: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.n_features = int(n_features)
        self.latent_dim = int(latent_dim)
        self.mmd_weight = float(mmd_weight)
        self.standardize = Standardize(loc, scale)
        self.generator = _stack(
            self.latent_dim, generator_layer_sizes, self.n_features, generator_activation
        )
        self.discriminator = _stack(
            self.n_features,
            discriminator_layer_sizes,
            1,
            discriminator_activation,
            spectral_norm=spectral_norm,
        )
        self.register_buffer(
            "mmd_kernel_widths", torch.tensor([float(s) for s in mmd_kernel_widths])
        )
        columns = range(self.n_features) if mmd_columns is None else mmd_columns
        self.register_buffer("mmd_columns", torch.tensor([int(c) for c in columns]))

    # ---------------------------------------------------------------- the alternating protocol
    def primary_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        return self.generator.named_parameters(prefix="generator")

    def critic_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        return self.discriminator.named_parameters(prefix="discriminator")

    def _generate_standardized(self, n: int, device: torch.device) -> torch.Tensor:
        return self.generator(torch.randn(n, self.latent_dim, device=device))

    def critic_loss(
        self, inputs: torch.Tensor, y: torch.Tensor | None, w: torch.Tensor
    ) -> torch.Tensor:
        u = self.standardize(inputs)
        with torch.no_grad():
            fake = self._generate_standardized(u.shape[0], u.device)
        # one pass over both (half the operations of two passes: small networks are bound by
        # the per-operation overhead, not the arithmetic)
        logit = self.discriminator(torch.cat([u, fake])).squeeze(1)
        real_logit, fake_logit = logit[: u.shape[0]], logit[u.shape[0] :]
        real = (w * F.softplus(-real_logit)).sum() / w.sum()
        return real + F.softplus(fake_logit).mean()

    def primary_loss(
        self, inputs: torch.Tensor, y: torch.Tensor | None, w: torch.Tensor
    ) -> torch.Tensor:
        u = self.standardize(inputs)
        fake = self._generate_standardized(u.shape[0], u.device)
        loss = F.softplus(-self.discriminator(fake).squeeze(1)).mean()
        if self.mmd_weight > 0:
            loss = loss + self.mmd_weight * self._mmd(u, w, fake)
        return loss

    def _mmd(self, u: torch.Tensor, w: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        cols = self.mmd_columns
        return weighted_mmd(u[:, cols], w, fake[:, cols], self.mmd_kernel_widths)

    def value(self, inputs: torch.Tensor, y: torch.Tensor | None, w: torch.Tensor) -> torch.Tensor:
        """Validation loss: the weighted MMD (all columns) between up to 2048 validation events
        and as many events generated from fixed noise."""
        u = self.standardize(inputs[:_VALIDATION_EVENTS])
        w = w[:_VALIDATION_EVENTS]
        generator = torch.Generator().manual_seed(_VALIDATION_NOISE_SEED)
        z = torch.randn(u.shape[0], self.latent_dim, generator=generator).to(u.device)
        with torch.no_grad():
            fake = self.generator(z)
            return weighted_mmd(u, w, fake, self.mmd_kernel_widths)

    # ----------------------------------------------------------------------------- sampling
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Events in the units of the training features, from latent noise ``z``."""
        return self.generator(z) * self.standardize.scale + self.standardize.loc
