r"""The validation report of a reweighting: does the weighted source match the target, and what
did the weights cost?

The problem
-----------
A reweighter returns a weight per source event. Before the weights go into an analysis two
questions need an answer, on events the reweighter was not trained on: does the source, carrying
the weights, follow the target in every feature and in all of them together; and how much
statistical power do the weights leave (a few huge weights can dominate a sample)?
:func:`reweighting_report` gathers the answers of :mod:`skhep_reweight.metrics` into one report,
with a plot per feature and one of the weights, and writes it as Markdown, HTML and JSON.

Conventions
-----------
- ``weights`` are the learned weights; the reweighted source carries
  ``source_weight * weights`` (``source_weight``: the generator's event weights, unit if None).
  The weight statistics (effective sample size, quantiles, largest weight, top-1 % share,
  negative weights, the weight plot) are of these final per-event weights.
- Each number equals what the metrics function returns on the same inputs: the effective sample
  size, the weighted KS distance before (``source_weight``) and after
  (``source_weight * weights``), and the held-out two-sample classifier AUC before and after, on
  the same split.
- Plots compare shapes: each histogram is normalized to unit area over the plotted range, with
  the variance of a bin the sum of the squared weights in it, times the square of the
  normalization. The ratio panel shows target / reweighted source, with errors from both
  histograms (:func:`ratio_with_errors`). The bins span the 0.5 % to 99.5 % quantiles of source
  and target pooled, so that outliers do not squash the plot.
- matplotlib is optional: the figures are drawn on their own Agg canvases (never through
  ``pyplot``, so the user's backend and open figures are left alone); without it the metrics and
  the text report still work.

``metrics`` keys
----------------
``n_source``, ``n_target``; ``ess`` and ``ess_fraction`` (over ``n_source``);
``weight_quantiles`` (``"0.001"``, ``"0.01"``, ``"0.5"``, ``"0.99"``, ``"0.999"`` to the
quantile); ``weight_max``; ``top1pct_weight_share`` (share of :math:`\sum_i |w_i|` carried by the
largest 1 % of the :math:`|w_i|`, at least one event); ``n_negative``; ``n_clipped`` (when given);
``ks_before`` and ``ks_after`` (feature name to distance); ``auc_before`` and ``auc_after``;
``n_outside_training_range`` and ``outside_training_range_fraction`` (when a training range is
given: ``{"source": ..., "target": ...}``, the events with any feature outside it);
``weight_relative_spread`` (standard deviation over mean of the learned weights);
``ks_critical`` (the KS distance two samples of one distribution exceed with 1 % probability,
from the effective sizes); ``warnings`` (sentences, also at the top of the text report): a model
that learned nothing (weights flat within 1 % while the largest KS distance before exceeds
``ks_critical``), events outside the training ranges, the largest 1 % of weights carrying more
than 20 % of the total.

Examples
--------
>>> import numpy as np
>>> from skhep_reweight.diagnostics import reweighting_report
>>> rng = np.random.RandomState(0)
>>> source, target = rng.normal(0, 1, (2000, 1)), rng.normal(0.5, 1, (2000, 1))
>>> weights = np.exp(0.5 * source[:, 0] - 0.125)  # exact ratio N(0.5, 1) / N(0, 1)
>>> report = reweighting_report(source, target, weights, feature_names=["x"])
>>> print(round(report.metrics["ess_fraction"], 1))  # 1 / E[w^2] = exp(-0.25) = 0.78
0.8
>>> print(report.metrics["auc_before"] > 0.58, abs(report.metrics["auc_after"] - 0.5) < 0.04)
True True
>>> print(report.to_markdown().splitlines()[0])
# Reweighting report

``report.save("report")`` writes ``report/report.md``, ``report/report.html``,
``report/metrics.json`` and ``report/plots/{weights,x}.png``.
"""

from ._histograms import ratio_with_errors, weighted_histogram
from ._plots import plot_feature, plot_weights
from ._report import ReweightingReport, reweighting_report

__all__ = [
    "ReweightingReport",
    "plot_feature",
    "plot_weights",
    "ratio_with_errors",
    "reweighting_report",
    "weighted_histogram",
]
