r"""ONNX graphs of the calibrators: :class:`~skhep_reweight.GaussianAnsatzCalibrator` and
:class:`~skhep_reweight.OTCalibrator`.

Each exporter wraps the fitted state in a small :class:`torch.nn.Module` that computes, from the
raw features, exactly what the estimator's prediction computes, and writes it with the dynamo
exporter of ``torch.onnx`` (weights embedded, no external data file). The graph input is ``"X"``,
float32 of shape ``(batch, n_features)`` with a dynamic batch dimension.

- Gaussian Ansatz: outputs ``"estimate"`` and ``"std"`` (shape ``(batch,)`` for one target, as
  ``predict`` returns, ``(batch, n_targets)`` for several) and, for several targets,
  ``"covariance"`` of shape ``(batch, n_targets, n_targets)``.
- Optimal transport: output ``"X_calibrated"``, of the shape of X, with the moved columns
  replaced. The quantile maps (with or without conditioning bins) and the neural map export;
  the discrete map, a nearest-neighbour rule over the training events, does not.

Quantities that the estimator computes in float64 (the quantile knots, the inverse of the
Gaussian Ansatz's precision matrix) are float64 inside the graph too, so that the only rounding
left is that of the float32 input and output.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn import functional as F

from ._common import export_module, write_atomically

__all__ = ["export_gaussian_ansatz", "export_ot"]

# softplus(0 + _SOFTPLUS_ONE) = 1, the offset of the Cholesky diagonal (modules.py).
_SOFTPLUS_ONE = float(np.log(np.expm1(1.0)))

# Batch size of the example input that the exporter traces; the batch dimension is dynamic.
_TRACE_BATCH = 4

# Slope of nn.LeakyReLU's negative side (its default), the derivative of "leaky_relu" below zero.
_LEAKY_SLOPE = 0.01

# nn.Softplus returns x itself above this (its default threshold), with derivative one.
_SOFTPLUS_THRESHOLD = 20.0


# --------------------------------------------------------------------------------- writing
def _export(
    module: nn.Module,
    n_features: int,
    path: str | os.PathLike,
    output_names: Sequence[str],
    opset: int | None = None,
) -> Path:
    """Export ``module`` with one float32 input ``"X"`` of ``n_features`` columns and write it to
    ``path`` (atomically, every tensor inside the file)."""
    example = (torch.zeros(_TRACE_BATCH, n_features, dtype=torch.float32),)
    model = export_module(module, example, ["X"], output_names, opset)
    return write_atomically(model, path)


def _float64(values: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float64))


# --------------------------------------------------------------------------- Gaussian Ansatz
def _total(terms: Sequence[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """The sum of ``terms`` (zero, of the shape of ``like``, when there are none)."""
    return sum(terms, torch.zeros_like(like))


def _inverse_spd(P: list[list[torch.Tensor]]) -> list[list[torch.Tensor]]:
    """The inverse of symmetric positive-definite matrices given entry by entry (each entry a
    tensor of shape (batch,)), by the Cholesky factor R (P = R R^T) and its triangular inverse
    S = R^{-1}: P^{-1} = S^T S. The loops unroll into a fixed graph of about k^3 element-wise
    operations (k the number of targets), which every ONNX runtime evaluates."""
    k = len(P)
    R: dict[tuple[int, int], torch.Tensor] = {}
    for j in range(k):
        R[j, j] = torch.sqrt(P[j][j] - _total([R[j, m] ** 2 for m in range(j)], P[j][j]))
        for i in range(j + 1, k):
            R[i, j] = (P[i][j] - _total([R[i, m] * R[j, m] for m in range(j)], P[i][j])) / R[j, j]
    S: dict[tuple[int, int], torch.Tensor] = {}
    for i in range(k):  # forward substitution, S lower triangular
        S[i, i] = 1.0 / R[i, i]
        for j in range(i):
            S[i, j] = -_total([R[i, m] * S[m, j] for m in range(j, i)], P[i][j]) / R[i, i]
    return [
        [_total([S[m, i] * S[m, j] for m in range(max(i, j), k)], P[i][j]) for j in range(k)]
        for i in range(k)
    ]


class _GaussianAnsatzGraph(nn.Module):
    """From raw X to B(x) in the units of z, its resolution and (several targets) covariance."""

    def __init__(self, network: nn.Module, single_target: bool) -> None:
        super().__init__()
        self.network = network
        self.single_target = single_target
        k = network.n_targets
        self.register_buffer("z_loc", network.z_standardize.loc.double().clone())
        self.register_buffer("z_scale", network.z_standardize.scale.double().clone())
        self.register_buffer(
            "min_precision", torch.tensor(network.min_precision, dtype=torch.float64)
        )
        rows, cols = torch.tril_indices(k, k)
        self.tril = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]

    def forward(self, X: torch.Tensor) -> tuple[torch.Tensor, ...]:
        net = self.network
        k = net.n_targets
        x = net.x_standardize(X)
        b = net.b(x)
        estimate = b * net.z_standardize.scale + net.z_standardize.loc
        # the Cholesky factor L(x, B(x)) of the curvature, entry by entry
        raw = net.c(torch.cat([x, b], dim=1))
        entries: dict[tuple[int, int], torch.Tensor] = {}
        for n, (i, j) in enumerate(self.tril):
            value = raw[:, n]
            entries[i, j] = (F.softplus(value + _SOFTPLUS_ONE) if i == j else value).double()
        # precision P = L L^T + delta I, in float64 like the estimator
        P = [
            [
                _total([entries[i, m] * entries[j, m] for m in range(min(i, j) + 1)], entries[0, 0])
                for j in range(k)
            ]
            for i in range(k)
        ]
        for i in range(k):
            P[i][i] = P[i][i] + self.min_precision
        inverse = _inverse_spd(P)
        cov = torch.stack([torch.stack(row, dim=1) for row in inverse], dim=1)
        cov = (cov * self.z_scale[:, None] * self.z_scale[None, :]).float()
        std = torch.sqrt(torch.diagonal(cov, dim1=1, dim2=2).double()).float()
        if self.single_target:
            return estimate[:, 0], std[:, 0]
        return estimate, std, cov


def export_gaussian_ansatz(estimator: Any, path: str | os.PathLike, **options: Any) -> Path:
    r"""Write a fitted :class:`~skhep_reweight.GaussianAnsatzCalibrator` as one ONNX graph.

    The graph computes, from the raw features,

    .. math::

        \hat z = B(x)\, s_z + \mu_z, \qquad
        \mathrm{Cov} = \mathrm{diag}(s_z)\, P^{-1}\, \mathrm{diag}(s_z), \quad
        P = L L^\top + \delta I,\ L = L(x, B(x)),

    with x standardized inside the graph, :math:`(\mu_z, s_z)` the targets' standardization and
    :math:`\delta` = ``min_precision``; the precision is inverted in float64 (an unrolled
    Cholesky factorization), as in ``predict_covariance``.

    Parameters
    ----------
    estimator : GaussianAnsatzCalibrator
        Fitted.
    path : str or path-like
        The ONNX file to write (replaced atomically).
    **options
        ``opset``: the ONNX opset (default: the exporter's).

    Returns
    -------
    path : pathlib.Path

    Notes
    -----
    Input ``"X"``: float32, shape ``(batch, n_features)``. Outputs (float32): ``"estimate"`` and
    ``"std"``, shape ``(batch,)`` when the estimator was fitted on one target (as ``predict`` and
    ``predict(return_std=True)`` return), else ``(batch, n_targets)``; with several targets also
    ``"covariance"``, shape ``(batch, n_targets, n_targets)`` (``predict_covariance``).
    """
    opset = _pop_opset(estimator, options)
    check_is_fitted(estimator, "net_")
    network = copy.deepcopy(estimator.net_.module_).cpu()
    module = _GaussianAnsatzGraph(network, estimator._single_target)
    outputs = ["estimate", "std"] if estimator._single_target else ["estimate", "std", "covariance"]
    return _export(module, estimator.n_features_in_, path, outputs, opset)


def _pop_opset(estimator: Any, options: dict[str, Any]) -> int | None:
    opset = options.pop("opset", None)
    if options:
        raise TypeError(
            f"unexpected export options for {type(estimator).__name__}: {sorted(options)}"
        )
    return opset


# --------------------------------------------------------------------------- optimal transport
def _assemble(X: torch.Tensor, moved: Sequence[int], values: torch.Tensor) -> torch.Tensor:
    """X with its columns ``moved`` replaced by the columns of ``values`` (static indices)."""
    position = {int(column): m for m, column in enumerate(moved)}
    columns = [
        values[:, position[j] : position[j] + 1] if j in position else X[:, j : j + 1]
        for j in range(X.shape[1])
    ]
    return torch.cat(columns, dim=1)


class _QuantileGraph(nn.Module):
    r"""The piecewise-linear quantile maps of every conditioning cell, in float64.

    The knots of all cells are padded to a common length and flattened, ``(n_cells, K)``; an
    event's cell comes from its conditioning columns and the bin edges (``searchsorted`` with
    ``side="right"`` is the number of edges at or below the value), its segment from a binary
    search of fixed depth (a comparison and two ``Where`` per step, no data-dependent loop).
    """

    def __init__(self, estimator: Any) -> None:
        super().__init__()
        maps = estimator.maps_
        policies = {m.out_of_range for m in maps}
        (self.policy,) = policies
        sizes = [m.x_knots_.size for m in maps]
        width = max(sizes)
        x = np.stack([np.pad(m.x_knots_, (0, width - m.x_knots_.size), mode="edge") for m in maps])
        y = np.stack([np.pad(m.y_knots_, (0, width - m.y_knots_.size), mode="edge") for m in maps])
        self.register_buffer("x_knots", _float64(x.ravel()))
        self.register_buffer("y_knots", _float64(y.ravel()))
        self.register_buffer("last", torch.as_tensor(np.asarray(sizes, dtype=np.int64) - 1))
        self.register_buffer("width", torch.tensor(width, dtype=torch.int64))
        self.steps = max(int(np.ceil(np.log2(max(width - 1, 2)))), 1)
        self.column = int(estimator.moved_[0])
        self.moved = [self.column]
        self.conditions = [int(c) for c in estimator.conditional_index_]
        edges = estimator.bins_.edges_
        self.n_edges = len(edges)
        for j, e in enumerate(edges):
            self.register_buffer(f"edges_{j}", _float64(e))
        strides = np.cumprod([1, *estimator.bins_.shape[::-1]])[:-1][::-1] if edges else []
        self.strides = [int(s) for s in strides]

    def _cell(self, X: torch.Tensor) -> torch.Tensor:
        cell = torch.zeros_like(X[:, 0], dtype=torch.int64)
        for j, (column, stride) in enumerate(zip(self.conditions, self.strides, strict=True)):
            edges = getattr(self, f"edges_{j}")
            c = X[:, column].double()
            index = (c[:, None] >= edges[None, :]).to(torch.int64).sum(dim=1)
            cell = cell + index * stride
        return cell

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        x = X[:, self.column].double()
        cell = self._cell(X)
        offset = cell * self.width
        lo = offset
        hi = offset + self.last.index_select(0, cell)
        first_x, last_x = self.x_knots.index_select(0, lo), self.x_knots.index_select(0, hi)
        first_y, last_y = self.y_knots.index_select(0, lo), self.y_knots.index_select(0, hi)
        inside = torch.minimum(torch.maximum(x, first_x), last_x)
        for _ in range(self.steps):  # invariant: x_knots[lo] <= inside <= x_knots[hi]
            mid = torch.div(lo + hi, 2, rounding_mode="floor")
            below = self.x_knots.index_select(0, mid) <= inside
            lo = torch.where(below, mid, lo)
            hi = torch.where(below, hi, mid)
        hi = torch.minimum(lo + 1, offset + self.last.index_select(0, cell))
        x0, x1 = self.x_knots.index_select(0, lo), self.x_knots.index_select(0, hi)
        y0, y1 = self.y_knots.index_select(0, lo), self.y_knots.index_select(0, hi)
        span = x1 - x0
        slope = (y1 - y0) / torch.where(span > 0, span, torch.ones_like(span))
        out = y0 + slope * (inside - x0)
        if self.policy == "shift":
            out = torch.where(x < first_x, x + (first_y - first_x), out)
            out = torch.where(x > last_x, x + (last_y - last_x), out)
        elif self.policy == "raise":
            outside = (x < first_x) | (x > last_x)
            out = torch.where(outside, torch.full_like(out, float("nan")), out)
        return _assemble(X, self.moved, out[:, None].float())


def _activation_derivative(name: str, a: torch.Tensor) -> torch.Tensor:
    """The derivative of a convex activation at the pre-activation ``a`` (as autograd gives it)."""
    positive = a > 0
    if name == "softplus":
        return torch.where(a > _SOFTPLUS_THRESHOLD, torch.ones_like(a), torch.sigmoid(a))
    if name == "elu":
        return torch.where(positive, torch.ones_like(a), torch.exp(a))
    if name == "leaky_relu":
        return torch.where(positive, torch.ones_like(a), torch.full_like(a, _LEAKY_SLOPE))
    if name == "relu":
        return positive.to(a.dtype)
    raise ValueError(f"no derivative for the activation {name!r}")


def convex_potential_gradient(
    potential: nn.Module, activation: str, u: torch.Tensor, e: torch.Tensor | None
) -> torch.Tensor:
    r"""The gradient :math:`\nabla_u \varphi(u, e)` of a
    :class:`~skhep_reweight._nn.transport.ConvexPotential`, in closed form (no autograd).

    The forward pass keeps the pre-activations :math:`a_k`; the backward pass starts from
    :math:`\delta_K = w_\text{out}` and runs, for k from the last layer down,

    .. math::

        g_k = \delta_{k+1} \odot \sigma'(a_k), \qquad
        \nabla_u \mathrel{+}= (W^x_k{}^\top g_k) \odot m_k(e), \qquad
        \delta_k = (W^z_{k-1}{}^\top g_k) \odot \gamma_{k-1}(e),

    and adds the gradients of the linear, quadratic and strongly convex terms,
    :math:`\beta(e) + L(e) L(e)^\top u + \epsilon u`.
    """
    has_context = e is not None
    n_layers = len(potential.x_layers)
    pre: list[torch.Tensor] = []
    gates: list[torch.Tensor] = []
    scales: list[torch.Tensor] = []

    def x_term(k: int) -> torch.Tensor:
        if not has_context:
            return potential.x_layers[k](u)
        scale = potential.context_scale[k](e)
        scales.append(scale)
        return potential.x_layers[k](u * scale) + potential.context_bias[k](e)

    a = x_term(0)
    pre.append(a)
    z = potential.activation(a)
    for k, layer in enumerate(potential.z_layers):
        if has_context:
            gate = F.softplus(potential.context_gate[k](e))
            gates.append(gate)
            z = z * gate
        a = layer(z) + x_term(k + 1)
        pre.append(a)
        z = potential.activation(a)
    delta = potential.z_out.weight[0].expand_as(pre[-1])
    grad = torch.zeros_like(u)
    for k in range(n_layers - 1, -1, -1):
        g = delta * _activation_derivative(activation, pre[k])
        term = g @ potential.x_layers[k].weight
        grad = grad + (term * scales[k] if has_context else term)
        if k > 0:
            delta = g @ potential.z_layers[k - 1].weight
            if has_context:
                delta = delta * gates[k - 1]
    linear = potential.linear.weight[0]
    L = potential.quadratic
    if has_context:
        linear = linear + potential.context_linear(e)
        L = L + potential.context_quadratic(e).view(-1, potential.n_moved, potential.n_moved)
        quad = torch.einsum("ni,nij->nj", u, L)
        quadratic = torch.einsum("nij,nj->ni", L, quad)
    else:
        quadratic = (u @ L) @ L.T
    return grad + linear + quadratic + potential.strong_convexity * u


class _NeuralGraph(nn.Module):
    """The neural transport map loc + s * grad_u f(u, e), with the gradient in closed form."""

    def __init__(self, estimator: Any) -> None:
        super().__init__()
        module = copy.deepcopy(estimator.net_.module_).cpu()
        self.loc = module.loc
        self.scale = module.scale
        self.potential = module.f["potential"]
        self.context = dict(module.f.items()).get("context")
        self.activation = estimator.activation
        self.moved = [int(j) for j in estimator.moved_]
        self.conditions = [int(j) for j in estimator.conditional_index_]

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        u = (torch.cat([X[:, j : j + 1] for j in self.moved], dim=1) - self.loc) / self.scale
        e = None
        if self.context is not None:
            e = self.context(torch.cat([X[:, j : j + 1] for j in self.conditions], dim=1))
        grad = convex_potential_gradient(self.potential, self.activation, u, e)
        return _assemble(X, self.moved, self.loc + self.scale * grad)


def export_ot(estimator: Any, path: str | os.PathLike, **options: Any) -> Path:
    r"""Write a fitted :class:`~skhep_reweight.OTCalibrator` as one ONNX graph.

    Input ``"X"``: float32, shape ``(batch, n_features)``; output ``"X_calibrated"``: float32 of
    the same shape, the moved columns replaced by their image and the others (the conditioning
    columns) passed through, as ``transform`` returns.

    - ``method_ == "quantile"``: the piecewise-linear map :math:`h` through the fitted knots
      :math:`(x_k, y_k)`, evaluated in float64: the event's conditioning cell from the bin edges,
      its segment by a binary search of fixed depth over the cell's knots, then
      :math:`y_j + (x - x_j)(y_{j+1} - y_j)/(x_{j+1} - x_j)`. Beyond the end knots the fitted
      ``out_of_range`` policy applies: ``"shift"`` adds the displacement of the nearest end knot,
      ``"clip"`` returns the end knot's image, and ``"raise"``, which a graph cannot do, returns
      NaN in the moved column of such an event (the mark to test for with ``isnan``).
    - ``method_ == "neural"``: :math:`\text{loc} + s\, \nabla_u f(u, e)`, with
      :math:`u = (x - \text{loc})/s` and the context e from the standardized conditioning
      columns; the gradient of the input-convex potential is written out in closed form
      (:func:`convex_potential_gradient`), without autograd, in float32 like the estimator.
    - ``method_ == "discrete"``: not exported (a TypeError): its map is a nearest-neighbour
      rule over the fitted events.

    Parameters
    ----------
    estimator : OTCalibrator
        Fitted.
    path : str or path-like
        The ONNX file to write (replaced atomically).
    **options
        ``opset``: the ONNX opset (default: the exporter's).

    Returns
    -------
    path : pathlib.Path
    """
    opset = _pop_opset(estimator, options)
    check_is_fitted(estimator, "method_")
    if estimator.method_ == "quantile":
        module: nn.Module = _QuantileGraph(estimator)
    elif estimator.method_ == "neural":
        module = _NeuralGraph(estimator)
    else:
        raise TypeError(
            f"{type(estimator).__name__} with method_={estimator.method_!r} cannot be exported "
            "to ONNX: its map moves a new event by the displacements of its nearest fitted "
            "events (a k-nearest-neighbour search over the training sample); refit with "
            "method='neural' (any number of columns) or 'quantile' (one column)"
        )
    return _export(module, estimator.n_features_in_, path, ["X_calibrated"], opset)
