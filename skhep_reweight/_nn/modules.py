"""Network building blocks of every estimator: activations, input standardization, the MLP."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn
from torch.nn import functional as F

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "GaussianAnsatzNetwork",
    "MarginalConditionalMLP",
    "Standardize",
    "make_activation",
    "standardization_stats",
]

# Names follow scikit-learn's MLP (`relu`, `tanh`, `logistic`, `identity`) plus the smooth
# activations that density-ratio networks often prefer.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}

# A feature whose spread is below this (relative to its magnitude) is treated as constant and
# left unscaled, so that standardization never divides by zero.
_MIN_RELATIVE_SCALE = 1e-12


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module from its name (one of :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}") from None


def standardization_stats(
    X: np.ndarray, sample_weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature location and scale used to standardize network inputs.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training inputs.
    sample_weight : ndarray of shape (n_samples,), default=None
        Event weights; their absolute values weight the statistics, so that an event of weight
        two counts as the event twice (negative weights still count as events).

    Returns
    -------
    loc, scale : ndarray of shape (n_features,), float32
        The weighted mean and standard deviation of each column; a constant column gets scale 1.
    """
    X = np.asarray(X, dtype=np.float64)
    w = None if sample_weight is None else np.abs(np.asarray(sample_weight, dtype=np.float64))
    if w is not None and not w.sum() > 0:
        w = None
    loc = np.average(X, axis=0, weights=w)
    scale = np.sqrt(np.average((X - loc) ** 2, axis=0, weights=w))
    constant = scale <= _MIN_RELATIVE_SCALE * np.maximum(np.abs(loc), 1.0)
    scale[constant] = 1.0
    return loc.astype(np.float32), scale.astype(np.float32)


class Standardize(nn.Module):
    """Affine input layer ``(x - loc) / scale`` with frozen statistics (buffers, not parameters).

    Keeping standardization inside the module means that the fitted network is self-contained:
    it moves to the GPU, pickles and predicts without a separate scaler.
    """

    def __init__(self, loc: ArrayLike, scale: ArrayLike) -> None:
        super().__init__()
        self.register_buffer("loc", torch.as_tensor(np.asarray(loc, dtype=np.float32)))
        self.register_buffer("scale", torch.as_tensor(np.asarray(scale, dtype=np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.loc) / self.scale


class MLP(nn.Module):
    """Fully connected network ``n_inputs -> hidden_layer_sizes -> n_outputs``.

    Parameters
    ----------
    n_inputs : int
        Number of input features.
    hidden_layer_sizes : sequence of int
        Width of each hidden layer; an empty sequence gives a linear model.
    n_outputs : int, default=1
        Width of the last (linear) layer.
    activation : str, default="relu"
        Activation between hidden layers, a key of :data:`ACTIVATIONS`.
    loc, scale : array-like of shape (n_inputs,), default=None
        When given, inputs are standardized by :class:`Standardize` before the first layer.
    zero_output : bool, default=False
        Start the last layer at zero weights and bias, so that the untrained network is the
        constant 0 (a classifier's logit: the ratio one everywhere). A randomly initialized last
        layer starts from a random function whose spread, a few percent in the weights, the
        training must first unlearn: more than a per-mille effect it is meant to find.

    The forward pass returns a tensor of shape ``(n_samples, n_outputs)``.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden_layer_sizes: Sequence[int],
        n_outputs: int = 1,
        activation: str = "relu",
        loc: ArrayLike | None = None,
        scale: ArrayLike | None = None,
        zero_output: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        if loc is not None:
            layers.append(Standardize(loc, scale))
        width = n_inputs
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, int(size)), make_activation(activation)]
            width = int(size)
        layers.append(nn.Linear(width, n_outputs))
        if zero_output:
            nn.init.zeros_(layers[-1].weight)
            nn.init.zeros_(layers[-1].bias)
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class MarginalConditionalMLP(nn.Module):
    """Two networks on one input: g(x') on the conditioning columns, h(x, x') on all of them.

    Parameters
    ----------
    n_inputs : int
        Number of input columns (x and x' together).
    conditional_index : sequence of int
        The columns of x' among the inputs.
    hidden_layer_sizes, activation
        As for :class:`MLP`; both networks get the same architecture.
    loc, scale : array-like of shape (n_inputs,)
        Standardization of the inputs, applied before the columns are split.

    The forward pass returns a tensor of shape ``(n_samples, 2)``: column 0 is :math:`g(x')`,
    column 1 is :math:`h(x, x')`. Because :math:`g` never sees x, the split of a log-ratio into
    :math:`g + h` is fixed by the architecture, not by a penalty.
    """

    def __init__(
        self,
        n_inputs: int,
        conditional_index: Sequence[int],
        hidden_layer_sizes: Sequence[int],
        activation: str = "relu",
        loc: ArrayLike | None = None,
        scale: ArrayLike | None = None,
    ) -> None:
        super().__init__()
        index = torch.as_tensor(np.asarray(conditional_index, dtype=np.int64))
        self.register_buffer("conditional_index", index)
        self.standardize = Standardize(loc, scale) if loc is not None else nn.Identity()
        self.marginal = MLP(int(index.numel()), hidden_layer_sizes, 1, activation)
        self.conditional = MLP(n_inputs, hidden_layer_sizes, 1, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.standardize(x)
        g = self.marginal(z.index_select(1, self.conditional_index))
        return torch.cat([g, self.conditional(z)], dim=1)


# softplus(0 + _SOFTPLUS_ONE) = 1: the Cholesky diagonal of the Gaussian Ansatz starts at one, so an
# untrained network has unit curvature in standardized units (the width of the prior).
_SOFTPLUS_ONE = float(np.log(np.expm1(1.0)))


class GaussianAnsatzNetwork(nn.Module):
    r"""The Gaussian Ansatz T(x, z) of a maximum-likelihood calibration, on stacked ``[x | z]``.

    .. math::

        T(x, z) = A(x) + \lambda\, (u - B(x)) \cdot D(x)
                  - \tfrac{1}{2} (u - B(x))^\top P(x, u)\, (u - B(x)),
        \qquad P = L L^\top + \delta I,

    with :math:`u` the standardized target, :math:`L(x, u)` lower triangular with a positive
    (softplus) diagonal and :math:`\delta` = ``min_precision``. :math:`C = -P` is negative
    definite by construction, so :math:`T(x, \cdot)` has its maximum at :math:`u = B(x)` once
    :math:`\lambda D` is zero, and its curvature there is :math:`C(x, B(x))`. A, B, C and D are
    separate MLPs on the standardized features (C also on :math:`u`).

    Parameters
    ----------
    n_features, n_targets : int
        Columns of x and of z; the input has ``n_features + n_targets`` columns, x first.
    hidden_layer_sizes, activation
        Architecture of each of the sub-networks, as for :class:`MLP`.
    x_loc, x_scale, z_loc, z_scale : array-like
        Standardization of features and targets.
    use_d : bool, default=False
        Build the D network; its weight :math:`\lambda` is the buffer ``d_weight`` (set it to
        zero to switch D off).
    min_precision : float, default=1e-4
        :math:`\delta`, the smallest curvature, in standardized units: it bounds the resolution
        by :math:`\delta^{-1/2}` standard deviations of z.
    init_state : dict, optional
        A ``state_dict`` to start from (continuing a warm-up training).
    """

    def __init__(
        self,
        n_features: int,
        n_targets: int,
        hidden_layer_sizes: Sequence[int],
        activation: str = "relu",
        x_loc: ArrayLike | None = None,
        x_scale: ArrayLike | None = None,
        z_loc: ArrayLike | None = None,
        z_scale: ArrayLike | None = None,
        use_d: bool = False,
        min_precision: float = 1e-4,
        init_state: dict[str, torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.n_features = int(n_features)
        self.n_targets = k = int(n_targets)
        self.min_precision = float(min_precision)
        ones_x, ones_z = np.ones(n_features), np.ones(k)
        self.x_standardize = Standardize(
            np.zeros(n_features) if x_loc is None else x_loc, ones_x if x_scale is None else x_scale
        )
        self.z_standardize = Standardize(
            np.zeros(k) if z_loc is None else z_loc, ones_z if z_scale is None else z_scale
        )
        self.a = MLP(n_features, hidden_layer_sizes, 1, activation)
        self.b = MLP(n_features, hidden_layer_sizes, k, activation)
        self.c = MLP(n_features + k, hidden_layer_sizes, k * (k + 1) // 2, activation)
        self.d = MLP(n_features, hidden_layer_sizes, k, activation) if use_d else None
        self.register_buffer("d_weight", torch.tensor(1.0 if use_d else 0.0))
        rows, cols = torch.tril_indices(k, k)
        self.register_buffer("tril_rows", rows)
        self.register_buffer("tril_cols", cols)
        self.register_buffer("diagonal", rows == cols)
        if init_state is not None:
            self.load_state_dict(init_state)

    def _split(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.x_standardize(inputs[:, : self.n_features])
        u = self.z_standardize(inputs[:, self.n_features :])
        return x, u

    def cholesky(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """L(x, u) of shape (n, k, k) on standardized inputs."""
        raw = self.c(torch.cat([x, u], dim=1))
        raw = torch.where(self.diagonal, F.softplus(raw + _SOFTPLUS_ONE), raw)
        L = raw.new_zeros(raw.shape[0], self.n_targets, self.n_targets)
        L[:, self.tril_rows, self.tril_cols] = raw
        return L

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x, u = self._split(inputs)
        delta = u - self.b(x)
        v = torch.einsum("nji,nj->ni", self.cholesky(x, u), delta)  # L^T (u - B)
        t = self.a(x)[:, 0] - 0.5 * (v.square().sum(1) + self.min_precision * delta.square().sum(1))
        if self.d is not None:
            t = t + self.d_weight * (delta * self.d(x)).sum(1)
        return t[:, None]

    def maximum(self, inputs: torch.Tensor) -> torch.Tensor:
        """B(x) in the units of z (the input's z columns, if any, are ignored)."""
        x = self.x_standardize(inputs[:, : self.n_features])
        return self.b(x) * self.z_standardize.scale + self.z_standardize.loc

    def covariance(self, inputs: torch.Tensor) -> torch.Tensor:
        """-C(x, B(x))^{-1} in the units of z, flattened to shape (n, k * k)."""
        x = self.x_standardize(inputs[:, : self.n_features])
        L = self.cholesky(x, self.b(x)).double()  # inverted in float64: P can be ill-conditioned
        eye = torch.eye(self.n_targets, dtype=L.dtype, device=L.device)
        precision = L @ L.transpose(1, 2) + self.min_precision * eye
        cov = torch.cholesky_inverse(torch.linalg.cholesky(precision))
        scale = self.z_standardize.scale.double()
        cov = cov * scale[:, None] * scale[None, :]
        return cov.reshape(cov.shape[0], -1).to(x.dtype)
