r"""The exact transport maps of :class:`~skhep_reweight.OTCalibrator`: the 1-D quantile map and
discrete optimal transport with a barycentric projection, and the binning of conditioning columns
that both use.

Each map is fitted on the simulation rows ``xs`` (weights ``ws``) and the data rows ``xd``
(weights ``wd``) of one bin, all weights positive, and offers ``transform`` and ``inverse``.
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import KNeighborsRegressor

__all__ = ["ConditionBins", "DiscreteMap", "QuantileMap", "weighted_quantile_knots"]


def weighted_quantile_knots(
    values: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and their mid-point cumulative fractions under the weights.

    Tied values are merged into one knot that carries their summed weight; its cumulative
    fraction is the middle of its step, :math:`(W_{<v} + W_v/2)/W`. With n distinct, equally
    weighted values the fractions are :math:`(i - 1/2)/n`.
    """
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    knots, start = np.unique(v, return_index=True)
    mass = np.add.reduceat(w, start)
    cumulative = np.cumsum(mass)
    return knots, (cumulative - 0.5 * mass) / cumulative[-1]


class QuantileMap:
    r"""The 1-D optimal map :math:`h = P_\text{data}^{-1} \circ P_\text{sim}` (eq. 17).

    Both CDFs are the piecewise-linear interpolations of the mid-point knots of
    :func:`weighted_quantile_knots`. ``h`` is evaluated on the union of the two samples' quantile
    levels inside the range both cover, so it is exactly the composition of the two
    interpolated CDFs there: continuous, strictly increasing and piecewise linear, with knots
    ``(x_k, y_k)``. Its inverse swaps the knots. With equal numbers of equally weighted events,
    it maps the i-th smallest simulated event onto the i-th smallest data event.

    Outside ``[x_0, x_K]`` (and for the inverse outside ``[y_0, y_K]``) ``out_of_range`` decides:
    ``"shift"`` moves an event by the displacement of the nearest end knot (slope one, still
    invertible), ``"clip"`` maps it onto the end knot's image, ``"raise"`` raises a ValueError.
    """

    def __init__(self, out_of_range: str = "shift") -> None:
        self.out_of_range = out_of_range

    def fit(self, xs: np.ndarray, ws: np.ndarray, xd: np.ndarray, wd: np.ndarray) -> QuantileMap:
        sim_knots, sim_levels = weighted_quantile_knots(xs, ws)
        data_knots, data_levels = weighted_quantile_knots(xd, wd)
        low = max(sim_levels[0], data_levels[0])
        high = min(sim_levels[-1], data_levels[-1])
        levels = np.union1d(sim_levels, data_levels)
        levels = levels[(levels >= low) & (levels <= high)]
        self.x_knots_ = np.interp(levels, sim_levels, sim_knots)
        self.y_knots_ = np.interp(levels, data_levels, data_knots)
        if self.x_knots_.size < 2:
            # one shared level (both samples a single value): a pure shift
            self.x_knots_ = np.append(self.x_knots_, self.x_knots_ + 1.0)
            self.y_knots_ = np.append(self.y_knots_, self.y_knots_ + 1.0)
        return self

    @staticmethod
    def _apply(
        values: np.ndarray, source: np.ndarray, target: np.ndarray, policy: str, name: str
    ) -> np.ndarray:
        out = np.interp(values, source, target)
        below, above = values < source[0], values > source[-1]
        if policy == "raise" and (below.any() or above.any()):
            raise ValueError(
                f"{int(below.sum() + above.sum())} events of {name} lie outside the fitted range "
                f"[{source[0]:.6g}, {source[-1]:.6g}] and out_of_range='raise'"
            )
        if policy == "shift":
            out[below] = values[below] + (target[0] - source[0])
            out[above] = values[above] + (target[-1] - source[-1])
        return out

    def transform(self, x: np.ndarray) -> np.ndarray:
        return self._apply(x, self.x_knots_, self.y_knots_, self.out_of_range, "X")

    def inverse(self, y: np.ndarray) -> np.ndarray:
        return self._apply(y, self.y_knots_, self.x_knots_, self.out_of_range, "X")


class DiscreteMap:
    r"""Exact discrete optimal transport with a barycentric projection.

    The plan :math:`\pi` between the weighted simulation and data (squared Euclidean cost) comes
    from POT's network-simplex solver ``ot.emd``. A simulated event goes to the weighted mean of
    the data events it sends mass to, :math:`T(x_i) = \sum_j \pi_{ij} y_j / \sum_j \pi_{ij}`.
    New events move by the displacements :math:`T(x_i) - x_i` of their ``n_neighbors`` nearest
    fitted events, weighted by inverse distance (an event that coincides with a fitted one moves
    exactly as it). The inverse is the same construction with the plan transposed: the barycentric
    map from data to simulation, the inverse of :math:`T` in the limit of large samples, not an
    algebraic inverse of its finite-sample version.
    """

    def __init__(self, n_neighbors: int = 5) -> None:
        self.n_neighbors = n_neighbors

    def fit(self, xs: np.ndarray, ws: np.ndarray, xd: np.ndarray, wd: np.ndarray) -> DiscreteMap:
        try:
            import ot
        except ImportError:  # pragma: no cover - exercised only without POT
            raise ImportError(
                "method='discrete' needs the POT package (pip install pot, or the 'ot' extra "
                "of skhep_reweight); method='neural' needs no extra package"
            ) from None
        a = ws / ws.sum()
        b = wd / wd.sum()
        cost = ot.dist(xs, xd, metric="sqeuclidean")
        plan, log = ot.emd(a, b, cost, numItermax=max(100_000, 50 * cost.size), log=True)
        if log.get("warning"):
            # an interrupted network simplex leaves events without mass: no usable plan
            raise RuntimeError(
                f"POT's exact solver stopped before the optimum ({log['warning']}); the "
                "sample is too large for the discrete method: use method='neural'"
            )
        forward = plan @ xd / plan.sum(axis=1, keepdims=True)
        backward = plan.T @ xs / plan.sum(axis=0)[:, None]
        self.forward_ = self._neighbors(xs, forward - xs)
        self.backward_ = self._neighbors(xd, backward - xd)
        return self

    def _neighbors(self, points: np.ndarray, displacement: np.ndarray) -> KNeighborsRegressor:
        k = min(self.n_neighbors, len(points))
        return KNeighborsRegressor(n_neighbors=k, weights="distance").fit(points, displacement)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return x + self.forward_.predict(x)

    def inverse(self, y: np.ndarray) -> np.ndarray:
        return y + self.backward_.predict(y)


class ConditionBins:
    """Cells of the conditioning columns: ``n_bins`` quantile bins per column, on the pooled
    weighted simulation and data; a conditioning value beyond the outer edges belongs to the
    first or last bin."""

    def __init__(self, n_bins: int) -> None:
        self.n_bins = n_bins

    def fit(self, C: np.ndarray, weights: np.ndarray) -> ConditionBins:
        inner = np.linspace(0.0, 1.0, self.n_bins + 1)[1:-1]
        self.edges_ = []
        for column in C.T:
            knots, levels = weighted_quantile_knots(column, weights)
            self.edges_.append(np.unique(np.interp(inner, levels, knots)))
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(e) + 1 for e in self.edges_)

    def assign(self, C: np.ndarray) -> np.ndarray:
        if not self.edges_:
            return np.zeros(len(C), dtype=np.intp)
        index = [
            np.searchsorted(e, column, side="right")
            for e, column in zip(self.edges_, C.T, strict=True)
        ]
        return np.ravel_multi_index(index, self.shape)

    def describe(self, cell: int) -> str:
        if not self.edges_:
            return "the sample"
        parts = []
        for j, (i, e) in enumerate(
            zip(np.unravel_index(cell, self.shape), self.edges_, strict=True)
        ):
            low = "-inf" if i == 0 else f"{e[i - 1]:.4g}"
            high = "inf" if i == len(e) else f"{e[i]:.4g}"
            parts.append(f"conditioning column {j} in [{low}, {high})")
        return "the cell " + ", ".join(parts)
