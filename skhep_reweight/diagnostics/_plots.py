"""The report's figures, drawn with plain matplotlib on axes the caller owns."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._validation import as_finite_array, check_event_weights
from ._histograms import (
    _is_histogram,
    feature_edges,
    histogram_edges,
    normalized_histogram,
    ratio_with_errors,
)

# Ratio-panel range: at least 1 +- _RATIO_MIN_HALF_RANGE, widened to the points and their error
# bars, but never beyond [0, _RATIO_MAX], so that one empty bin cannot flatten the panel.
_RATIO_MIN_HALF_RANGE = 0.2
_RATIO_MAX = 3.0

# Bins of the log10(weight) histogram of the weight plot.
_WEIGHT_BINS = 50

# Figure sizes in inches: one feature (main panel over ratio panel), and the weight plot.
FEATURE_FIGSIZE = (6.0, 5.5)
WEIGHTS_FIGSIZE = (6.0, 4.0)


def matplotlib_missing() -> ImportError:
    """The error raised when a figure is asked for without matplotlib."""
    return ImportError(
        "the diagnostics plots need matplotlib: pip install matplotlib "
        "(the metrics and the text report work without it)"
    )


def new_figure(figsize: tuple[float, float]) -> Any:
    """A matplotlib Figure on its own Agg canvas, outside pyplot's global state and backend."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise matplotlib_missing() from None
    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def feature_figure(
    source: np.ndarray,
    target: np.ndarray,
    weights: np.ndarray,
    *,
    source_weight: np.ndarray,
    target_weight: np.ndarray,
    bins: int,
    label: str,
) -> Any:
    """One feature's figure: distributions above, ratio below (:func:`plot_feature`)."""
    figure = new_figure(FEATURE_FIGSIZE)
    ax_main, ax_ratio = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    plot_feature(
        ax_main,
        ax_ratio,
        source,
        target,
        weights,
        source_weight=source_weight,
        target_weight=target_weight,
        bins=bins,
        label=label,
    )
    figure.align_ylabels([ax_main, ax_ratio])
    return figure


def weights_figure(weights: np.ndarray) -> Any:
    """The weight distribution's figure (:func:`plot_weights`)."""
    figure = new_figure(WEIGHTS_FIGSIZE)
    plot_weights(figure.add_subplot(), weights)
    return figure


def plot_feature(
    ax_main: Any,
    ax_ratio: Any,
    source: ArrayLike | Any,
    target: ArrayLike | Any,
    weights: ArrayLike | None = None,
    *,
    source_weight: ArrayLike | None = None,
    target_weight: ArrayLike | None = None,
    bins: int | ArrayLike = 40,
    label: str | None = None,
    normalize: bool = True,
) -> dict[str, np.ndarray]:
    r"""Draw one feature of the target and the reweighted source, with their ratio below.

    The main panel shows the target (points with error bars), the source before reweighting
    (dashed line) and the reweighted source (line with its error band); the ratio panel shows
    target / reweighted source with error bars, and target / source before reweighting as a dashed
    line, around a line at 1.

    Each histogram holds, per bin, the sum of weights :math:`S_b` and the sum of squared weights
    :math:`V_b` (its variance): the reweighted source is filled with
    ``source_weight * weights``, the target with ``target_weight``. With ``normalize`` (the
    default, as the samples differ in size and total weight) every histogram is divided by its
    total over the plotted bins times the bin width, a density of unit area over the plotted
    range; its variance is divided by the square of that factor. The ratio's error combines both
    histograms' variances (:func:`ratio_with_errors`).

    Parameters
    ----------
    ax_main, ax_ratio : matplotlib Axes
        The panels to draw on (typically one above the other with a shared x axis).
    source : array-like of shape (n_source,), or a histogram object
        One feature of the source events. A histogram object (``values()``, ``variances()``,
        ``axes[0].edges``, such as a ``hist.Hist`` with weight storage) is taken as the
        *reweighted* source, already filled; ``target`` must then be one too, with the same edges,
        and ``weights`` None. Only the ratio after reweighting is drawn then.
    target : array-like of shape (n_target,), or a histogram object
        The same feature of the target events.
    weights : array-like of shape (n_source,), default=None
        The learned weights of the source events (unit weights if None).
    source_weight : array-like of shape (n_source,), default=None
        The source's own event weights, multiplied into ``weights`` (unit if None).
    target_weight : array-like of shape (n_target,), default=None
        The target's event weights (unit if None).
    bins : int or array-like of shape (n_bins + 1,), default=40
        Bin edges, or a number of equal-width bins between the 0.5 % and 99.5 % quantiles of
        source and target pooled (so that outliers do not squash the plot; a feature with integer
        values gets bins centred on integers). Events outside the edges are not drawn. Ignored for
        histogram objects, whose own edges are used.
    label : str, default=None
        The feature's name, written under the ratio panel.
    normalize : bool, default=True
        Draw densities of unit area; if False, the raw sums of weights.

    Returns
    -------
    histograms : dict of str to ndarray
        The numbers drawn: ``edges``; ``target``, ``target_var``, ``source``, ``source_var``
        (after reweighting) and, for arrays of events, ``source_before``, ``source_before_var``;
        ``ratio`` and ``ratio_error`` (target / reweighted source).

    Raises
    ------
    ValueError
        On inputs of the wrong length, NaN/inf, histogram objects with different edges or without
        variances, or a histogram with no positive total to normalize.
    TypeError
        If only one of ``source`` and ``target`` is a histogram object, or ``weights`` is given
        with histogram objects.

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from skhep_reweight.diagnostics import plot_feature
    >>> rng = np.random.RandomState(0)
    >>> source, target = rng.normal(0, 1, 1000), rng.normal(0.5, 1, 1000)
    >>> ax_main, ax_ratio = Figure().subplots(2, 1, sharex=True)
    >>> h = plot_feature(ax_main, ax_ratio, source, target, np.exp(0.5 * source - 0.125))
    >>> print(h["ratio"].shape, h["edges"].shape)
    (40,) (41,)
    """
    histograms = _feature_histograms(
        source, target, weights, source_weight, target_weight, bins, normalize
    )
    _draw_feature(ax_main, ax_ratio, histograms, label, normalize)
    return histograms


def _feature_histograms(
    source: Any,
    target: Any,
    weights: ArrayLike | None,
    source_weight: ArrayLike | None,
    target_weight: ArrayLike | None,
    bins: int | ArrayLike,
    normalize: bool,
) -> dict[str, np.ndarray]:
    """The histograms and the ratio that :func:`plot_feature` draws."""
    if _is_histogram(source) or _is_histogram(target):
        if not (_is_histogram(source) and _is_histogram(target)):
            raise TypeError(
                "source and target must both be histogram objects or both arrays of events"
            )
        if weights is not None or source_weight is not None or target_weight is not None:
            raise TypeError(
                "weights, source_weight and target_weight apply to arrays of events; a "
                "histogram object is already filled with its weights"
            )
        edges = histogram_edges(source)
        if not np.array_equal(edges, histogram_edges(target)):
            raise ValueError("the source and target histograms have different bin edges")
        h = {"edges": edges}
        h["source"], h["source_var"] = normalized_histogram(source, edges, normalize=normalize)
        h["target"], h["target_var"] = normalized_histogram(target, edges, normalize=normalize)
    else:
        source = _check_feature(source, "source")
        target = _check_feature(target, "target")
        own = check_event_weights(source_weight, source.shape[0], "source_weight")
        learned = check_event_weights(weights, source.shape[0], "weights")
        target_weight = check_event_weights(target_weight, target.shape[0], "target_weight")
        if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
            if bins < 1:
                raise ValueError(f"bins must be a positive number of bins, got {bins}.")
            edges = feature_edges(source, target, int(bins))
        else:
            edges = np.histogram_bin_edges(source, bins)
        h = {"edges": edges}
        h["source"], h["source_var"] = normalized_histogram(
            source, edges, own * learned, normalize=normalize
        )
        h["source_before"], h["source_before_var"] = normalized_histogram(
            source, edges, own, normalize=normalize
        )
        h["target"], h["target_var"] = normalized_histogram(
            target, edges, target_weight, normalize=normalize
        )
    h["ratio"], h["ratio_error"] = ratio_with_errors(
        h["target"], h["target_var"], h["source"], h["source_var"]
    )
    return h


def _check_feature(values: ArrayLike, name: str) -> np.ndarray:
    """One feature of a sample as a finite, non-empty 1-D float array."""
    values = as_finite_array(values, name)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or values.shape[0] == 0:
        raise ValueError(f"{name} must be one feature: a non-empty 1-D array, got {values.shape}")
    return values


def _draw_feature(
    ax_main: Any, ax_ratio: Any, h: dict[str, np.ndarray], label: str | None, normalize: bool
) -> None:
    """Draw the histograms of :func:`_feature_histograms` on the two panels."""
    edges = h["edges"]
    centres = 0.5 * (edges[1:] + edges[:-1])
    if "source_before" in h:
        ax_main.stairs(h["source_before"], edges, color="0.5", ls="--", label="source")
    error = np.sqrt(h["source_var"])
    ax_main.stairs(h["source"], edges, color="C0", label="source, reweighted")
    ax_main.stairs(
        h["source"] + error, edges, baseline=h["source"] - error, fill=True, color="C0", alpha=0.3
    )
    ax_main.errorbar(
        centres, h["target"], yerr=np.sqrt(h["target_var"]), fmt="o", ms=3, color="k",
        label="target",
    )  # fmt: skip
    ax_main.set_ylabel("density (unit area)" if normalize else "sum of weights")
    ax_main.legend(frameon=False)
    ax_ratio.axhline(1.0, color="0.3", lw=0.8)
    if "source_before" in h:
        before, _ = ratio_with_errors(
            h["target"], h["target_var"], h["source_before"], h["source_before_var"]
        )
        ax_ratio.stairs(before, edges, color="0.5", ls="--")
    ax_ratio.errorbar(centres, h["ratio"], yerr=h["ratio_error"], fmt="o", ms=3, color="C0")
    ax_ratio.set_ylim(*_ratio_limits(h["ratio"], h["ratio_error"]))
    ax_ratio.set_ylabel("target / reweighted")
    ax_ratio.set_xlabel(label if label is not None else "")
    ax_ratio.set_xlim(edges[0], edges[-1])


def _ratio_limits(ratio: np.ndarray, error: np.ndarray) -> tuple[float, float]:
    """The ratio panel's y range (see ``_RATIO_MIN_HALF_RANGE``)."""
    shown = np.isfinite(ratio) & np.isfinite(error)
    half = _RATIO_MIN_HALF_RANGE
    if shown.any():
        half = max(half, float(np.max(np.abs(ratio[shown] - 1) + error[shown])))
    return max(0.0, 1.0 - half), min(_RATIO_MAX, 1.0 + half)


def plot_weights(ax: Any, weights: ArrayLike) -> np.ndarray:
    """Histogram of :math:`\\log_{10}` of the positive weights, with the non-positive ones counted.

    The title gives the number of weights that are zero or negative (not in the histogram, as
    they have no logarithm) and the number of events.

    Parameters
    ----------
    ax : matplotlib Axes
        The panel to draw on.
    weights : array-like of shape (n_events,)
        The event weights; finite.

    Returns
    -------
    counts : ndarray of shape (n_bins,)
        The number of positive weights in each bin of :math:`\\log_{10} w`.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from skhep_reweight.diagnostics import plot_weights
    >>> ax = Figure().add_subplot()
    >>> counts = plot_weights(ax, [0.5, 1.0, 2.0, -1.0, 0.0])
    >>> print(int(counts.sum()), ax.get_title())
    3 weights of 5 events; 2 non-positive (not shown)
    """
    weight = as_finite_array(weights, "weights")
    if weight.ndim != 1 or weight.shape[0] == 0:
        raise ValueError(f"weights must be a non-empty 1-D array, got shape {weight.shape}.")
    positive = weight[weight > 0]
    n_non_positive = weight.shape[0] - positive.shape[0]
    counts = np.zeros(0)
    if positive.size:
        log_weight = np.log10(positive)
        low, high = log_weight.min(), log_weight.max()
        if high - low < 1e-3:
            low, high = low - 0.5, high + 0.5
        counts, edges = np.histogram(log_weight, np.linspace(low, high, _WEIGHT_BINS + 1))
        ax.stairs(counts, edges, color="C0")
        ax.set_yscale("log" if counts.max() > 0 else "linear")
    ax.set_xlabel("log10(weight)")
    ax.set_ylabel("events")
    ax.set_title(f"weights of {weight.shape[0]} events; {n_non_positive} non-positive (not shown)")
    return counts.astype(np.int64)
