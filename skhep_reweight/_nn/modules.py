"""Network building blocks of every estimator: activations, input standardization, the MLP."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = [
    "ACTIVATIONS",
    "MLP",
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

    def __init__(self, loc: np.ndarray, scale: np.ndarray) -> None:
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

    The forward pass returns a tensor of shape ``(n_samples, n_outputs)``.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden_layer_sizes: Sequence[int],
        n_outputs: int = 1,
        activation: str = "relu",
        loc: np.ndarray | None = None,
        scale: np.ndarray | None = None,
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
        loc: np.ndarray | None = None,
        scale: np.ndarray | None = None,
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
