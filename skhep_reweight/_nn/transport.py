r"""Input-convex potentials and the min-max transport objective of Makkuva et al.

A map that is the gradient of a convex potential is the optimal transport map for the squared
Euclidean cost between any distribution and its image (Brenier). :class:`ConvexPotential` is a
partially input-convex network :math:`\varphi(x, c)`: convex in the moved features x for every
value of the conditioning features c, arbitrary in c. :class:`TransportPotentials` holds two of
them, f (simulation to data, :math:`\nabla_x f`) and g (data to simulation, :math:`\nabla_y g`),
and the losses of the min-max problem

.. math::

    \min_{f\ \text{convex}}\ \max_{g\ \text{convex}}\;
    J(f, g) = E_{x \sim P}[f(x)] + E_{y \sim Q}\big[\langle y, \nabla g(y)\rangle
              - f(\nabla g(y))\big]

(Makkuva, Taghvaei, Oh, Lee, arXiv:1908.10962, eq. 4 written for the semi-dual of
:math:`\tfrac12 W_2^2`; Pollard & Windischhofer, arXiv:2107.08648, with c attached to every
term), P the simulation and Q the data. The inner maximum over g is the convex conjugate
:math:`f^*`, so the outer problem is the semi-dual of optimal transport and its minimizer f has
:math:`\nabla f_\# P = Q`. They are trained by :class:`~skhep_reweight._nn.net.AlternatingNet`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .modules import MLP, make_activation

__all__ = ["CONVEX_ACTIVATIONS", "ConvexPotential", "TransportPotentials"]

# Convex and non-decreasing, as input convexity requires of the activations after the first
# layer; softplus (the default) keeps the map smooth.
CONVEX_ACTIVATIONS = ("softplus", "elu", "leaky_relu", "relu")

# Newton's method for the inverse map stops when |grad f(u) - v| is below this (standardized units,
# a float32 network); the validation loss takes a few steps only (from g's guess it is close).
_NEWTON_TOLERANCE = 1e-4
_VALIDATION_NEWTON_STEPS = 8

# softplus(_GATE_OFFSET) = 1: the conditioning gates start open at one.
_GATE_OFFSET = float(np.log(np.expm1(1.0)))


def _activation(name: str) -> nn.Module:
    return nn.Softplus() if name == "softplus" else make_activation(name)


class ConvexPotential(nn.Module):
    r"""A scalar potential :math:`\varphi(u, e)`, convex in u, of any form in the context e.

    Layers (Amos, Xu, Kolter, "Input convex neural networks", arXiv:1609.07152, the partially
    convex form):

    .. math::

        z_1 = \sigma(W^x_0 (u \odot m_0(e)) + b_0(e)), \quad
        z_{k+1} = \sigma\big(W^z_k (z_k \odot \gamma_k(e)) + W^x_k (u \odot m_k(e))
                  + b_k(e)\big),

    .. math::

        \varphi = w_\text{out}^\top z_K + \beta(e)^\top u + \tfrac12 |L(e)^\top u|^2
                  + \tfrac{\epsilon}{2}|u|^2,

    with :math:`W^z_k, w_\text{out} \ge 0` (restored by :meth:`constrain` after every optimizer
    step), :math:`\sigma` convex and non-decreasing, the gates :math:`\gamma_k = \mathrm{softplus}
    (\cdot) > 0`; :math:`m_k, b_k, \beta, L` are affine in e. Every term is convex in u, so
    :math:`\varphi` is. The quadratic term lets a linear map (the Gaussian case) be represented
    exactly and makes the initial map close to the identity (:math:`L = I`); the
    :math:`\epsilon` term makes the potential strictly convex, so the map is invertible.
    Without context (``n_context = 0``) the e-dependent terms are constants.
    """

    def __init__(
        self,
        n_moved: int,
        n_context: int,
        hidden_layer_sizes: Sequence[int],
        activation: str = "softplus",
        strong_convexity: float = 1e-3,
    ) -> None:
        super().__init__()
        sizes = [int(s) for s in hidden_layer_sizes]
        self.n_moved = n_moved
        self.n_context = n_context
        self.strong_convexity = strong_convexity
        self.activation = _activation(activation)
        self.x_layers = nn.ModuleList(nn.Linear(n_moved, s) for s in sizes)
        self.z_layers = nn.ModuleList(
            nn.Linear(a, b, bias=False) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.z_out = nn.Linear(sizes[-1], 1, bias=False)
        self.linear = nn.Linear(n_moved, 1)
        self.quadratic = nn.Parameter(torch.eye(n_moved))
        for layer in [*self.z_layers, self.z_out]:
            nn.init.uniform_(layer.weight, 0.0, 1.0 / layer.in_features)
        if n_context:

            def zero_affine(n_out: int, bias: float = 0.0) -> nn.Linear:
                layer = nn.Linear(n_context, n_out)
                nn.init.zeros_(layer.weight)
                nn.init.constant_(layer.bias, bias)
                return layer

            self.context_bias = nn.ModuleList(zero_affine(s) for s in sizes)
            self.context_gate = nn.ModuleList(zero_affine(s, _GATE_OFFSET) for s in sizes[:-1])
            self.context_scale = nn.ModuleList(zero_affine(n_moved, 1.0) for _ in sizes)
            self.context_linear = zero_affine(n_moved)
            self.context_quadratic = zero_affine(n_moved * n_moved)

    def forward(self, u: torch.Tensor, e: torch.Tensor | None = None) -> torch.Tensor:
        has_context = self.n_context > 0

        def x_term(k: int) -> torch.Tensor:
            if not has_context:
                return self.x_layers[k](u)
            return self.x_layers[k](u * self.context_scale[k](e)) + self.context_bias[k](e)

        z = self.activation(x_term(0))
        for k, layer in enumerate(self.z_layers):
            if has_context:
                z = z * F.softplus(self.context_gate[k](e))
            z = self.activation(layer(z) + x_term(k + 1))
        L = self.quadratic
        out = self.z_out(z)[:, 0] + self.linear(u)[:, 0]
        if has_context:
            out = out + (self.context_linear(e) * u).sum(1)
            L = L + self.context_quadratic(e).view(-1, self.n_moved, self.n_moved)
            quad = torch.einsum("ni,nij->nj", u, L)
        else:
            quad = u @ L
        return out + 0.5 * (quad**2).sum(1) + 0.5 * self.strong_convexity * (u**2).sum(1)

    @torch.no_grad()
    def constrain(self) -> None:
        """Project the weights that input convexity needs non-negative back onto ``>= 0``."""
        for layer in [*self.z_layers, self.z_out]:
            layer.weight.clamp_(min=0.0)


def _gradient(
    potential: nn.Module, u: torch.Tensor, e: torch.Tensor | None, create_graph: bool
) -> torch.Tensor:
    if not u.requires_grad:
        u = u.requires_grad_(True)
    value = potential(u, e).sum()
    return torch.autograd.grad(value, u, create_graph=create_graph)[0]


def _class_weights(w: torch.Tensor, mask: torch.Tensor) -> torch.Tensor | None:
    """Weights of one class of the batch, normalized to sum one (None when it has none)."""
    w = w[mask]
    total = w.sum()
    if w.numel() == 0 or not bool(total > 0):
        return None
    return w / total


class TransportPotentials(nn.Module):
    r"""The pair of potentials f (simulation to data) and g (data to simulation).

    Input rows are ``[x | c]``: the ``n_moved`` features that the map moves, then the
    conditioning features. Moved features are standardized as :math:`u = (x - \text{loc}) / s`
    with one scale s for all of them (a common scale keeps the squared Euclidean cost, and so the
    optimal map, the one in the units of x); conditioning features are standardized per column
    and go through an MLP whose output e is the context of both potentials (each has its own).

    ``forward`` is the transport map :math:`x \mapsto \text{loc} + s\, \nabla_u f(u, e)`;
    :meth:`backward_map` is :math:`\nabla g`; :meth:`inverse` solves :math:`\nabla f(x) = y`
    by Newton's method from :math:`\nabla g(y)`.
    """

    def __init__(
        self,
        n_moved: int,
        n_condition: int,
        hidden_layer_sizes: Sequence[int],
        activation: str,
        loc: np.ndarray,
        scale: float,
        condition_loc: np.ndarray | None = None,
        condition_scale: np.ndarray | None = None,
        strong_convexity: float = 1e-3,
    ) -> None:
        super().__init__()
        self.n_moved = n_moved
        self.n_condition = n_condition
        self.register_buffer("loc", torch.as_tensor(np.asarray(loc, dtype=np.float32)))
        self.register_buffer("scale", torch.tensor(float(scale), dtype=torch.float32))
        sizes = [int(s) for s in hidden_layer_sizes]
        n_context = sizes[-1] if n_condition else 0
        players = {}
        for name in ("f", "g"):
            context = None
            if n_condition:
                context = MLP(
                    n_condition,
                    sizes,
                    n_outputs=n_context,
                    activation="silu",
                    loc=condition_loc,
                    scale=condition_scale,
                )
            players[name] = nn.ModuleDict(
                {
                    "potential": ConvexPotential(
                        n_moved, n_context, sizes, activation, strong_convexity
                    ),
                    **({"context": context} if context is not None else {}),
                }
            )
        self.f = players["f"]
        self.g = players["g"]

    # ---------------------------------------------------------------- the alternating protocol
    def primary_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        return self.f.named_parameters(prefix="f")

    def critic_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        return self.g.named_parameters(prefix="g")

    def constrain(self) -> None:
        self.f["potential"].constrain()
        self.g["potential"].constrain()

    def _split(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = (inputs[:, : self.n_moved] - self.loc) / self.scale
        c = inputs[:, self.n_moved :]
        return u, c

    @staticmethod
    def _context(player: nn.ModuleDict, c: torch.Tensor) -> torch.Tensor | None:
        return player["context"](c) if "context" in player else None

    def _potential(self, player: nn.ModuleDict, u: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        r"""The potential, anchored at :math:`\varphi(0, c) = 0` when there is a context.

        A term :math:`k(c)` that depends on c alone does not move any event, but it enters the
        objective as :math:`E_\text{sim}[k(c)] - E_\text{data}[k(c)]`, which vanishes only when
        the two samples' c are equally distributed; on finite samples it never does exactly, and
        f would grow such a term without bound (the training diverges). Subtracting
        :math:`\varphi(0, c)` removes it and leaves the map and the convexity in u untouched.
        """
        e = self._context(player, c)
        value = player["potential"](u, e)
        if e is not None:
            value = value - player["potential"](torch.zeros_like(u), e)
        return value

    def _grad(
        self, player: nn.ModuleDict, u: torch.Tensor, c: torch.Tensor, create_graph: bool = False
    ) -> torch.Tensor:
        return _gradient(player["potential"], u, self._context(player, c), create_graph)

    def _terms(
        self, inputs: torch.Tensor, y: torch.Tensor, w: torch.Tensor, create_graph: bool
    ) -> tuple[torch.Tensor, ...] | None:
        """Normalized weights, the data's ∇g(y) and the pieces of J for one batch."""
        u, c = self._split(inputs)
        sim, data = y == 0, y == 1
        a, b = _class_weights(w, sim), _class_weights(w, data)
        if a is None or b is None:
            return None
        yd, cd = u[data], c[data]
        grad_g = self._grad(self.g, yd.clone(), cd, create_graph=create_graph)
        return a, b, u[sim], c[sim], yd, cd, grad_g

    def critic_loss(self, inputs: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Minus the g-dependent part of J: g ascends :math:`\\langle y, \\nabla g\\rangle -
        f(\\nabla g)`."""
        terms = self._terms(inputs, y, w, create_graph=True)
        if terms is None:
            return inputs.sum() * 0.0
        _, b, _, _, yd, cd, grad_g = terms
        return -(b * ((yd * grad_g).sum(1) - self._potential(self.f, grad_g, cd))).sum()

    def primary_loss(self, inputs: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """The f-dependent part of J: :math:`E_P f(x) - E_Q f(\\nabla g(y))`, g held fixed."""
        terms = self._terms(inputs, y, w, create_graph=False)
        if terms is None:
            return inputs.sum() * 0.0
        a, b, us, cs, _, cd, grad_g = terms
        grad_g = grad_g.detach()
        return (a * self._potential(self.f, us, cs)).sum() - (
            b * self._potential(self.f, grad_g, cd)
        ).sum()

    def value(self, inputs: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        r"""The semi-dual objective of f alone, :math:`E_P[f(x)] + E_Q[f^*(y)]` (the validation
        loss; the optimal potential minimizes it, to :math:`\tfrac12(E|x|^2 + E|y|^2 -
        W_2^2)` in standardized units). The conjugate :math:`f^*(y) = \langle u^*, y\rangle -
        f(u^*)` is evaluated at the solution :math:`u^*` of :math:`\nabla f(u^*) = y`, found
        by Newton's method, not at g's guess: a poorly trained g cannot make f look better."""
        u, c = self._split(inputs)
        sim, data = y == 0, y == 1
        a, b = _class_weights(w, sim), _class_weights(w, data)
        if a is None or b is None:
            return inputs.sum() * 0.0
        yd, cd = u[data], c[data]
        u_star, _ = self._solve_gradient_equation(yd, cd, max_iter=_VALIDATION_NEWTON_STEPS)
        with torch.no_grad():
            primal = (a * self._potential(self.f, u[sim], c[sim])).sum()
            conjugate = (b * ((yd * u_star).sum(1) - self._potential(self.f, u_star, cd))).sum()
        return primal + conjugate

    # ---------------------------------------------------------------------------- the maps
    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        u, c = self._split(inputs)
        with torch.enable_grad():
            grad = self._grad(self.f, u.detach().clone(), c)
        return self.loc + self.scale * grad

    def backward_map(self, inputs: torch.Tensor) -> torch.Tensor:
        u, c = self._split(inputs)
        with torch.enable_grad():
            grad = self._grad(self.g, u.detach().clone(), c)
        return self.loc + self.scale * grad

    def _solve_gradient_equation(
        self, v: torch.Tensor, c: torch.Tensor, max_iter: int = 30
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Solve :math:`\nabla_u f(u, c) = v` for u (standardized units) by damped Newton steps
        from :math:`\nabla g(v)`; returns u and a mask of the rows that reached
        :data:`_NEWTON_TOLERANCE`."""
        tol = _NEWTON_TOLERANCE
        potential = self.f["potential"]
        with torch.enable_grad():
            e = self._context(self.f, c)
            e = None if e is None else e.detach()
            u = self._grad(self.g, v.detach().clone(), c).detach()

            def residual_and_hessian(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                u = u.detach().requires_grad_(True)
                grad = _gradient(potential, u, e, create_graph=True)
                rows = [
                    torch.autograd.grad(grad[:, k].sum(), u, retain_graph=True)[0]
                    for k in range(self.n_moved)
                ]
                return (grad - v).detach(), torch.stack(rows, 1).detach()

            r, hessian = residual_and_hessian(u)
            for _ in range(max_iter):
                norm = r.norm(dim=1)
                if bool((norm < tol).all()):
                    break
                step = torch.linalg.solve(hessian, r.unsqueeze(-1)).squeeze(-1)
                # halve the step of a row whose residual would grow (at most 6 times)
                t = torch.ones_like(norm)
                for _ in range(6):
                    trial = u - t[:, None] * step
                    r_trial, h_trial = residual_and_hessian(trial)
                    worse = r_trial.norm(dim=1) > norm
                    if not bool(worse.any()):
                        break
                    t = torch.where(worse, t / 2, t)
                u, r, hessian = trial, r_trial, h_trial
        return u.detach(), r.norm(dim=1) < tol

    def inverse(self, inputs: torch.Tensor) -> torch.Tensor:
        r"""The exact inverse of :meth:`forward`: the solution x of :math:`\nabla f(x) = y`
        (unique, f being strictly convex); rows where Newton's method fails are NaN."""
        v, c = self._split(inputs)
        u, converged = self._solve_gradient_equation(v, c)
        u = torch.where(converged[:, None], u, torch.full_like(u, float("nan")))
        return self.loc + self.scale * u
