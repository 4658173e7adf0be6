"""The validation report of a reweighting: its numbers, figures and files."""

from __future__ import annotations

import io
import json
import os
import re
import warnings
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import ClassifierMixin
from sklearn.utils import check_random_state

from .._base import count_outside
from .._errors import SmallSampleWarning, caller_stacklevel
from .._files import atomic_file
from .._validation import MIN_HELD_OUT_EVENTS, as_finite_array, check_samples
from ..metrics import (
    classifier_two_sample_auc,
    effective_sample_size,
    largest_weight_share,
    weighted_ks_distance,
)
from ._plots import feature_figure, matplotlib_missing, weights_figure
from ._text import report_html, report_markdown

# Quantiles of the weights reported under "weight_quantiles", keyed by their decimal string.
WEIGHT_QUANTILES = ("0.001", "0.01", "0.5", "0.99", "0.999")

# Fraction of the events, the largest weights, whose share of the total |weight| is reported as
# "top1pct_weight_share" (at least one event).
TOP_FRACTION = 0.01

# Kolmogorov's asymptotic constant at the 1 % level: c(0.01) = sqrt(-ln(0.005) / 2).
KS_ONE_PERCENT = 1.628

# Weights whose standard deviation is below this fraction of their mean are "flat".
FLAT_SPREAD = 0.01

# A top-1 % share of the total |weight| above this is reported as domination by few events.
LARGE_TOP_SHARE = 0.2

# Exclusive upper bound of the seed drawn when random_state is not an int (as in metrics).
_MAX_SEED = np.iinfo(np.int32).max

# Resolution of the saved PNG plots.
PLOT_DPI = 100

# Characters kept in a plot's file name; any other is replaced by "_".
_UNSAFE_FILE_CHARACTERS = re.compile(r"[^\w.-]")


def reweighting_report(
    source: ArrayLike,
    target: ArrayLike,
    weights: ArrayLike,
    *,
    source_weight: ArrayLike | None = None,
    target_weight: ArrayLike | None = None,
    feature_names: ArrayLike | None = None,
    training_range: ArrayLike | None = None,
    groups: ArrayLike | None = None,
    bins: int = 40,
    n_clipped: int | None = None,
    random_state: int | np.random.RandomState | None = 0,
    classifier: ClassifierMixin | None = None,
    training_size: int | None = None,
) -> ReweightingReport:
    """Measure how well ``weights`` bring the source onto the target, and how much they cost.

    The reweighted source carries ``source_weight * weights``; every statistic of the weights
    (effective sample size, quantiles, largest weight, top-1 % share, negative weights) is of
    those final per-event weights, the ones an analysis uses. The closure statistics compare the
    source with the target before (``source_weight``) and after (``source_weight * weights``)
    reweighting, per feature (:func:`~skhep_reweight.metrics.weighted_ks_distance`) and in all
    features at once (:func:`~skhep_reweight.metrics.classifier_two_sample_auc`, on the same
    split before and after). Each number is what the metrics function returns on the same inputs.

    Parameters
    ----------
    source : array-like or DataFrame of shape (n_source, n_features)
        The source events (held out from the training, for an honest closure test); a 1-D array
        is one feature.
    target : array-like or DataFrame of shape (n_target, n_features)
        The target events, with the same features (DataFrames: the same columns).
    weights : array-like of shape (n_source,)
        The learned weights of the source events, without ``source_weight``.
    source_weight : array-like of shape (n_source,), default=None
        The source's own event weights (generator weights; unit if None).
    target_weight : array-like of shape (n_target,), default=None
        The target's event weights (unit if None).
    feature_names : sequence of str of length n_features, default=None
        Names of the features; by default a DataFrame's columns, else ``x0``, ``x1``, ...
    training_range : array-like of shape (2, n_features), default=None
        Minimum and maximum of each feature over the training events (a fitted reweighter's
        ``feature_range_``). If given, the events with a feature outside it are counted, source
        and target separately: there the weights are extrapolated.
    groups : array-like of shape (n_source + n_target,), default=None
        Group labels for the two-sample AUC, source events first (see
        :func:`~skhep_reweight.metrics.classifier_two_sample_auc`): give source and target copies
        of the same event one label when the samples share events.
    bins : int, default=40
        Bins of each feature's plot, between the pooled 0.5 % and 99.5 % quantiles.
    n_clipped : int, default=None
        Number of weights the reweighter clipped, reported as given.
    random_state : int, RandomState instance or None, default=0
        Seed of the two-sample AUC's split and classifier; an int is passed on as it is (the same
        split before and after reweighting), otherwise one int is drawn from it.
    classifier : classifier with ``predict_proba``, default=None
        The classifier of the two-sample AUC (default: the metrics module's gradient boosting).
    training_size : int, default=None
        The smaller class's number of training events (a fitted reweighter's
        ``n_range_events_``): with ``training_range``, the report gives how many events a sample
        of the training distribution puts outside the ranges on average, and warns only when
        more lie there than that explains (probability below 1e-3, see
        :class:`~skhep_reweight.OutOfRangeWarning`).

    Returns
    -------
    report : ReweightingReport
        ``metrics``, ``figures`` (drawn on first use), ``to_markdown()``, ``to_html()``,
        ``save(folder)``.

    Warns
    -----
    SmallSampleWarning
        When the source or the target holds fewer than 50 events: the report's statistics
        cannot then tell a good reweighting from a bad one (its warnings say so too).

    Raises
    ------
    ValueError
        On NaN/inf in any input, lengths that do not match (the message names the argument),
        different features in source and target, a reweighted source or a target whose weights do
        not sum to a positive number, a ``training_range`` not of shape (2, n_features), or a
        negative ``n_clipped``, or ``bins`` not a positive integer.
    TypeError
        If only one of ``source`` and ``target`` is a DataFrame, or an argument is not numeric.
    """
    names = _feature_names(source, target, feature_names)
    source = check_samples(source, "source")
    target = check_samples(target, "target", n_features=source.shape[1])
    if len(names) != source.shape[1]:
        raise ValueError(
            f"feature_names has {len(names)} names but source has {source.shape[1]} features"
        )
    learned = _check_weights(weights, source.shape[0], "weights", "source")
    own = _check_weights(source_weight, source.shape[0], "source_weight", "source")
    target_weight = _check_weights(target_weight, target.shape[0], "target_weight", "target")
    final = own * learned
    for total, what in ((final.sum(), "source_weight * weights"), (target_weight.sum(), "target")):
        if not total > 0:
            raise ValueError(
                f"the weights of {what} sum to {total:.6g}; each sample's weights must sum to a "
                "positive number"
            )
    if n_clipped is not None and (
        isinstance(n_clipped, bool) or not isinstance(n_clipped, Integral) or n_clipped < 0
    ):
        raise ValueError(f"n_clipped must be a non-negative integer or None, got {n_clipped!r}")
    if isinstance(bins, bool) or not isinstance(bins, Integral) or bins < 1:
        raise ValueError(f"bins must be a positive integer (bins per plot), got {bins!r}")
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        seed = int(random_state)
    else:
        seed = int(check_random_state(random_state).randint(_MAX_SEED))

    metrics: dict[str, Any] = {"n_source": int(source.shape[0]), "n_target": int(target.shape[0])}
    metrics.update(weight_statistics(final))
    if n_clipped is not None:
        metrics["n_clipped"] = int(n_clipped)
    ks_before = weighted_ks_distance(source, target, own, target_weight)
    ks_after = weighted_ks_distance(source, target, final, target_weight)
    metrics["ks_before"] = {name: float(d) for name, d in zip(names, ks_before, strict=True)}
    metrics["ks_after"] = {name: float(d) for name, d in zip(names, ks_after, strict=True)}
    for key, source_w in (("auc_before", own), ("auc_after", final)):
        metrics[key] = classifier_two_sample_auc(
            source, target, source_w, target_weight,
            classifier=classifier, random_state=seed, groups=groups,
        )  # fmt: skip
    n_s, n_t = source.shape[0], target.shape[0]
    metrics["auc_null_std"] = float(np.sqrt((n_s + n_t + 1) / (12.0 * n_s * n_t)))
    if training_range is not None:
        metrics.update(_outside_training_range(source, target, training_range, training_size))
    metrics["weight_relative_spread"] = float(np.std(learned) / abs(np.mean(learned)))
    metrics["ks_critical"] = ks_critical_value(own, target_weight)
    metrics["warnings"] = report_warnings(metrics)
    if min(n_s, n_t) < MIN_HELD_OUT_EVENTS:
        warnings.warn(metrics["warnings"][0], SmallSampleWarning, stacklevel=caller_stacklevel())
    return ReweightingReport(
        metrics,
        source=source,
        target=target,
        weights=learned,
        source_weight=own,
        target_weight=target_weight,
        feature_names=names,
        bins=int(bins),
    )


def ks_critical_value(source_weight: np.ndarray, target_weight: np.ndarray) -> float:
    """The KS distance that two samples of one distribution exceed with 1 % probability,
    :math:`1.63\\sqrt{(n_s + n_t)/(n_s n_t)}`, with the effective sizes of the weighted samples
    (Kish) in place of the counts."""
    n_s = effective_sample_size(source_weight)
    n_t = effective_sample_size(target_weight)
    return float(KS_ONE_PERCENT * np.sqrt((n_s + n_t) / (n_s * n_t)))


def report_warnings(metrics: dict[str, Any]) -> list[str]:
    """The report's plain-language warnings, each a sentence: a model that learned nothing,
    events outside the training ranges, a few events carrying much of the weight."""
    found = []
    n_small = min(metrics["n_source"], metrics["n_target"])
    if n_small < MIN_HELD_OUT_EVENTS:
        found.append(
            f"The validation sample is too small to judge the reweighting: "
            f"{metrics['n_source']} source and {metrics['n_target']} target events (fewer than "
            f"{MIN_HELD_OUT_EVENTS} in a sample); the two-sample AUC of two samples of one "
            f"distribution scatters by {metrics['auc_null_std']:.2g} here, and the 1 % KS "
            f"critical value is {metrics['ks_critical']:.2g}."
        )
    ks_max = max(metrics["ks_before"].values())
    spread = metrics["weight_relative_spread"]
    if ks_max > metrics["ks_critical"] and spread < FLAT_SPREAD:
        found.append(
            f"The model learned nothing: its weights are flat (relative spread {spread:.2%}) "
            f"while the samples differ (largest KS distance before {ks_max:.3g}, above the 1 % "
            f"critical value {metrics['ks_critical']:.3g})."
        )
    outside = metrics.get("n_outside_training_range", {})
    excessive = metrics.get("outside_training_range_excessive", outside)
    if any(excessive.values()):
        expected = metrics.get("outside_training_range_expected")
        fresh = (
            ""
            if expected is None
            else (
                f" (a sample of the training distribution would put "
                f"{expected['source']:.3g} and {expected['target']:.3g} there on average)"
            )
        )
        found.append(
            f"{outside.get('source', 0)} source and {outside.get('target', 0)} target events lie "
            f"outside the feature ranges seen in training{fresh}; their weights are "
            "extrapolations."
        )
    if metrics["top1pct_weight_share"] > LARGE_TOP_SHARE:
        found.append(
            f"The largest 1 % of the weights carry {metrics['top1pct_weight_share']:.0%} of the "
            "total: a few events dominate the reweighted sample."
        )
    return found


def weight_statistics(weights: np.ndarray) -> dict[str, Any]:
    """The report's statistics of the final event weights (``ess`` ... ``n_negative``)."""
    ess = effective_sample_size(weights)
    quantiles = np.quantile(weights, [float(q) for q in WEIGHT_QUANTILES])
    top_share = largest_weight_share(weights, TOP_FRACTION)
    return {
        "ess": ess,
        "ess_fraction": ess / weights.shape[0],
        "weight_quantiles": {q: float(v) for q, v in zip(WEIGHT_QUANTILES, quantiles, strict=True)},
        "weight_max": float(weights.max()),
        "top1pct_weight_share": float(top_share),
        "n_negative": int(np.sum(weights < 0)),
    }


def _feature_names(source: Any, target: Any, feature_names: ArrayLike | None) -> list[str]:
    """The feature names: given, from the DataFrames' columns, or x0, x1, ..."""
    source_frame, target_frame = hasattr(source, "columns"), hasattr(target, "columns")
    if source_frame != target_frame:
        frame, array = ("source", "target") if source_frame else ("target", "source")
        raise TypeError(
            f"{frame} is a DataFrame but {array} is not: give both as DataFrames with the same "
            "columns, or both as arrays"
        )
    if source_frame and list(source.columns) != list(target.columns):
        raise ValueError(
            f"source and target have different columns: {list(source.columns)} vs "
            f"{list(target.columns)}"
        )
    if feature_names is not None:
        names = [str(name) for name in np.asarray(feature_names, dtype=object).ravel()]
    elif source_frame:
        names = [str(name) for name in source.columns]
    else:
        n_features = np.shape(source)[1] if np.ndim(source) == 2 else 1
        names = [f"x{j}" for j in range(n_features)]
    if len(set(names)) != len(names):
        raise ValueError(f"the feature names are not unique: {names}")
    return names


def _check_weights(values: ArrayLike | None, n_rows: int, name: str, sample: str) -> np.ndarray:
    """Finite 1-D weights with one entry per row of ``sample`` (ones if None)."""
    if values is None:
        if name == "weights":
            raise TypeError("weights is required: the learned weights of the source events")
        return np.ones(n_rows)
    weight = as_finite_array(values, name)
    if weight.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {weight.shape}")
    if weight.shape[0] != n_rows:
        raise ValueError(f"{name} has {weight.shape[0]} entries but {sample} has {n_rows} events")
    return weight


def _outside_training_range(
    source: np.ndarray,
    target: np.ndarray,
    training_range: ArrayLike,
    training_size: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Events with a feature outside the training range, per sample: counts and fractions, and
    with ``training_size`` the count a sample of the training distribution gives on average and
    whether the observed count exceeds it (:func:`~skhep_reweight._base.outside_range_excess`);
    without it, any event outside counts as excessive."""
    limits = as_finite_array(training_range, "training_range")
    if limits.shape != (2, source.shape[1]):
        raise ValueError(
            f"training_range must have shape (2, {source.shape[1]}) (minimum and maximum of each "
            f"feature), got {limits.shape}"
        )
    if np.any(limits[0] > limits[1]):
        raise ValueError("training_range has a minimum above its maximum (row 0: minima)")
    if training_size is not None and (
        isinstance(training_size, bool) or not isinstance(training_size, Integral)
        or training_size < 1
    ):  # fmt: skip
        raise ValueError(f"training_size must be a positive integer, got {training_size!r}")
    counts, fractions, expected, excessive = {}, {}, {}, {}
    for name, X in (("source", source), ("target", target)):
        _, counts[name], expected[name], excessive[name] = count_outside(X, limits, training_size)
        fractions[name] = counts[name] / X.shape[0]
    result: dict[str, dict[str, Any]] = {
        "n_outside_training_range": counts,
        "outside_training_range_fraction": fractions,
        "outside_training_range_excessive": excessive,
    }
    if training_size is not None:
        result["outside_training_range_expected"] = expected
    return result


def _plot_stems(feature_names: list[str]) -> dict[str, str]:
    """Each feature's plot file name without ``.png``: the name with characters other than
    letters, digits, ``_``, ``.`` and ``-`` replaced by ``_`` (and no leading dot), made unique
    (and distinct from ``weights``) by the feature's index."""
    stems, used = {}, {"weights"}
    for j, name in enumerate(feature_names):
        stem = _UNSAFE_FILE_CHARACTERS.sub("_", name) or f"x{j}"
        if stem.startswith("."):
            stem = "_" + stem[1:]
        if stem in used:
            stem = f"{stem}_{j}"
        used.add(stem)
        stems[name] = stem
    return stems


class ReweightingReport:
    """The validation report of a reweighting (built by :func:`reweighting_report`).

    Attributes
    ----------
    metrics : dict
        The numbers, JSON-serializable (see :mod:`skhep_reweight.diagnostics` for the keys).
    feature_names : list of str
        The features, in column order.
    plot_names : dict of str to str
        Each feature's plot name: its key in ``figures`` and its file ``plots/<name>.png``
        (the feature name, with characters other than letters, digits, ``.``, ``_``, ``-``
        replaced by ``_``; made unique by the feature's index where needed). The weight
        distribution is ``weights``.
    """

    def __init__(
        self,
        metrics: dict[str, Any],
        *,
        source: np.ndarray,
        target: np.ndarray,
        weights: np.ndarray,
        source_weight: np.ndarray,
        target_weight: np.ndarray,
        feature_names: list[str],
        bins: int = 40,
    ) -> None:
        self.metrics = metrics
        self.feature_names = list(feature_names)
        self.plot_names = _plot_stems(self.feature_names)
        self._data = (source, target, weights, source_weight, target_weight)
        self._bins = bins
        self._figures: dict[str, Any] | None = None

    @property
    def figures(self) -> dict[str, Any]:
        """The matplotlib figures, drawn on first use: ``weights`` (the distribution of log10 of
        the final weights) and one per feature under its ``plot_names`` entry (distributions and
        the ratio target / reweighted source). Needs matplotlib."""
        if self._figures is None:
            source, target, weights, source_weight, target_weight = self._data
            figures = {"weights": weights_figure(source_weight * weights)}
            for j, name in enumerate(self.feature_names):
                figures[self.plot_names[name]] = feature_figure(
                    source[:, j], target[:, j], weights,
                    source_weight=source_weight, target_weight=target_weight,
                    bins=self._bins, label=name,
                )  # fmt: skip
            self._figures = figures
        return self._figures

    def _plot_files(self) -> list[tuple[str, str, str]]:
        """(title, key in ``figures``, relative path) of every plot, the weights first."""
        files = [("weight distribution", "weights", "plots/weights.png")]
        for name in self.feature_names:
            stem = self.plot_names[name]
            files.append((name, stem, f"plots/{stem}.png"))
        return files

    def to_markdown(self, *, images: bool = False, note: str | None = None) -> str:
        """The report as Markdown: a summary table, a per-feature KS table and, with ``images``,
        links to the plots under ``plots/`` (as :meth:`save` writes them); ``note`` is added as a
        paragraph at the end."""
        return report_markdown(self.metrics, self._plot_files() if images else [], note)

    def to_html(self, *, images: bool = False, note: str | None = None) -> str:
        """The report as a self-contained HTML page (the tables of :meth:`to_markdown`; the plots,
        with ``images``, linked under ``plots/``)."""
        return report_html(self.metrics, self._plot_files() if images else [], note)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        m = self.metrics
        return (
            f"ReweightingReport(n_source={m['n_source']}, n_target={m['n_target']}, "
            f"ess_fraction={m['ess_fraction']:.3g}, auc_before={m['auc_before']:.3g}, "
            f"auc_after={m['auc_after']:.3g})"
        )

    def files(
        self,
        *,
        note: str | None = None,
        metadata: dict[str, Any] | None = None,
        folder: str | os.PathLike | None = None,
    ) -> dict[str, bytes]:
        """The report's files, built in memory: relative path (``"report.md"``,
        ``"plots/pt.png"``) to content. :meth:`save` writes them; the command line writes them
        together with the model, all or nothing. ``note`` and ``metadata`` as in :meth:`save`;
        ``folder`` only names the report in the warning issued without matplotlib."""
        try:
            figures = self.figures
        except ImportError:
            figures = None
        contents: dict[str, bytes] = {}
        if figures is None:
            missing = f"No plots: {matplotlib_missing()}."
            note = missing if note is None else f"{note} {missing}"
            where = "" if folder is None else f" in '{folder}'"
            warnings.warn(
                f"the report{where} has no plots: {matplotlib_missing()}",
                stacklevel=caller_stacklevel(),
            )
        else:
            for _, key, path in self._plot_files():
                buffer = io.BytesIO()
                figures[key].savefig(buffer, format="png", dpi=PLOT_DPI)
                contents[path] = buffer.getvalue()
        images = figures is not None
        payload = {**self.metrics, **(metadata or {})}
        contents["metrics.json"] = (json.dumps(payload, indent=2) + "\n").encode()
        contents["report.html"] = self.to_html(images=images, note=note).encode()
        contents["report.md"] = self.to_markdown(images=images, note=note).encode()
        return contents

    def save(
        self,
        folder: str | os.PathLike,
        *,
        note: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Path:
        """Write the report into ``folder``: report.md, report.html, metrics.json, ``plots/*.png``.

        ``note`` is a paragraph added at the end of report.md and report.html (which events,
        which model); ``metadata`` holds JSON-serializable entries written into metrics.json
        beside the metrics.

        The folder (and its parents) is created if missing; the report's files in an existing
        folder are replaced, other files are left alone. Every figure is drawn and every file's
        content built in memory before the first file is written, and each file is written
        through :func:`~skhep_reweight._files.atomic_file`, so an error leaves no half-written
        file; report.md and report.html are written last, once the plots they link exist. Without
        matplotlib the text files are written without plots, they say so, and a warning is
        issued.

        Returns
        -------
        folder : Path
            The report's folder.
        """
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"cannot save the report into '{folder}': it is a file")
        contents = self.files(note=note, metadata=metadata, folder=folder)
        images = any(path.startswith("plots/") for path in contents)
        (folder / "plots" if images else folder).mkdir(parents=True, exist_ok=True)
        for path, content in contents.items():
            with atomic_file(folder / path) as stream:
                stream.write(content)
        return folder
