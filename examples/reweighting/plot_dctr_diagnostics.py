"""
Checking a DCTR reweighting: closure plots, two-sample AUC and effective sample size
====================================================================================

A :class:`~skhep_reweight.DCTRReweighter` learns the density ratio q(x)/p(x) of a target over a
source from a classifier (Andreassen and Nachman, arXiv:1907.08209). Before its weights enter an
analysis they are checked on events the reweighter never saw. This example runs those checks on
the 5-D problem of ``bench/bench_dctr_vs_hep_ml.py`` (section ``corr5d``): two correlated
Gaussians from :func:`~skhep_reweight.datasets.make_correlated_gaussians`, whose exact ratio is
known, so that every diagnostic can be read next to the answer a perfect reweighter would give:

- the training and validation loss per epoch (``loss_curve_``, ``validation_loss_curve_``);
- each feature of the target against the reweighted source, with the ratio panel of
  :func:`~skhep_reweight.diagnostics.plot_feature`, and the source under the exact weights;
- the learned weight against the exact weight, event by event, and the distribution of the
  weights (:func:`~skhep_reweight.diagnostics.plot_weights`);
- the held-out AUC of an independent classifier trained to separate the weighted source from the
  target (:func:`~skhep_reweight.metrics.classifier_two_sample_auc`), before and after
  reweighting: 0.5 when the two cannot be told apart;
- Kish's effective sample size (:func:`~skhep_reweight.metrics.effective_sample_size`): what
  the weights cost in statistics;
- all of these gathered by :func:`~skhep_reweight.diagnostics.reweighting_report`, whose
  Markdown summary is printed at the end (``report.save(folder)`` writes it with its plots).

For reference, ``bench/README.md`` reports on this problem at 5x10^4 events a class: AUC 0.639
before reweighting, 0.504 after with ``DCTRReweighter()``, 0.498 with the exact weights, and an
effective sample size of 0.75 of the events (0.74 with the exact weights). A run of this script
at 2x10^4 events a class (12 s on one thread) gave AUC 0.635 before, 0.504 after (0.498 with the
exact weights), an effective sample size of 0.725 of the events (exact: 0.741), and learned
weights within 2.9 % of the exact ones (median, in the bulk).

Run with ``python examples/reweighting/plot_dctr_diagnostics.py [n_events]`` (events per class
for training, as many again held out; default 10^5, estimated at about a minute on one thread from
that run and the bench's 14 s fit at 10^5). With the environment variable
``SKHEP_REWEIGHT_QUICK=1`` it is a smoke run of seconds (2000 events, 3 epochs) whose numbers mean
nothing.
"""

# %%
# The data: one draw of the two Gaussians, split into a training half and a held-out half of
# each class. (The function's seed also fixes the covariances, so a second call with another seed
# would be another problem; splitting one call keeps one problem.)
import os
import sys

import matplotlib.pyplot as plt
import numpy as np

from skhep_reweight import DCTRReweighter
from skhep_reweight.datasets import make_correlated_gaussians
from skhep_reweight.diagnostics import plot_feature, plot_weights, reweighting_report
from skhep_reweight.metrics import classifier_two_sample_auc, effective_sample_size

QUICK = os.environ.get("SKHEP_REWEIGHT_QUICK") == "1"  # a smoke run (the tests set it)
n_events = int(sys.argv[1]) if len(sys.argv) > 1 else (2_000 if QUICK else 100_000)
training = {"max_epochs": 3} if QUICK else {}  # the estimator's own epochs unless QUICK
data = make_correlated_gaussians(2 * n_events, n_features=5, random_state=0)
source_all, target_all = data.X[data.y == 0], data.X[data.y == 1]
X_train = np.vstack([source_all[:n_events], target_all[:n_events]])
y_train = np.repeat([0, 1], n_events)
source, target = source_all[n_events:], target_all[n_events:]  # held out
names = [f"x{j}" for j in range(source.shape[1])]

# %%
# The reweighter with its defaults (three hidden layers of 50, early stopping on a validation
# share of the training events). The estimator runs checks of its own: a ``LearnedNothingWarning``
# when its weights stay flat although the samples differ (what the smoke run of a few gradient
# steps shows), and an ``OutOfRangeWarning`` from ``predict_weights`` for events outside the
# feature ranges seen in training, whose weights are extrapolated.
rw = DCTRReweighter(random_state=0, **training).fit(X_train, y_train)
w_learned = rw.predict_weights(source)
w_exact = data.weight_function(source)
print(f"{rw.n_iter_} epochs; mean learned weight on the held-out source {w_learned.mean():.3f}")

# %%
# The numbers: two-sample AUC before and after, effective sample size, and how far the learned
# weights are from the exact ones in the bulk (the events whose exact weight lies between its
# 2.5 % and 97.5 % quantiles, the bench's definition).
print()
print(f"{'weights':10s} {'AUC':>6s} {'ESS / n':>8s} {'max w':>7s}")
for label, w in (("none", None), ("learned", w_learned), ("exact", w_exact)):
    auc = classifier_two_sample_auc(source, target, source_weight=w, random_state=0)
    weights = np.ones(len(source)) if w is None else w / w.mean()
    ess = effective_sample_size(weights) / len(source)
    print(f"{label:10s} {auc:6.3f} {ess:8.3f} {weights.max():7.2f}")
low, high = np.quantile(w_exact, [0.025, 0.975])
bulk = (w_exact > low) & (w_exact < high)
ratio = (w_learned / w_learned.mean()) / (w_exact / w_exact.mean())
print(f"median |w_learned / w_exact - 1| in the bulk: {np.median(np.abs(ratio[bulk] - 1)):.4f}")

# %%
# The closure plots: per feature, the target (points), the source before (dashed) and after
# reweighting (line and band), the source under the exact weights (dotted), and below, target /
# reweighted source. With good weights the ratio scatters around 1 within its errors.
fig, axes = plt.subplots(
    2, 5, figsize=(17, 5.5), sharex="col", gridspec_kw={"height_ratios": [3, 1]}
)
for j, name in enumerate(names):
    h = plot_feature(axes[0, j], axes[1, j], source[:, j], target[:, j], w_learned, label=name)
    exact_density, _ = np.histogram(source[:, j], h["edges"], weights=w_exact, density=True)
    axes[0, j].stairs(exact_density, h["edges"], color="r", ls=":", label="source, exact w")
    axes[0, j].legend(fontsize=7, frameon=False)
    if j:
        axes[0, j].set_ylabel("")
        axes[1, j].set_ylabel("")
fig.suptitle("Held-out closure: target vs DCTR-reweighted source, feature by feature")
fig.tight_layout()
fig.savefig("dctr_diagnostics_features.png", dpi=90)
print("wrote dctr_diagnostics_features.png")

# %%
# The weights: the training history, learned against exact weight event by event (the diagonal
# is a perfect reweighter), and the distributions of log10 of the learned and of the exact
# weights: a learned distribution much narrower than the exact one means a reweighter that has not
# learned the full ratio; long tails of large weights cost effective sample size.
fig, axes = plt.subplots(1, 4, figsize=(19, 4.2))
ax = axes[0]
epochs = np.arange(1, rw.n_iter_ + 1)
ax.plot(epochs, rw.loss_curve_, "o-", ms=3, label="training loss")
if rw.validation_loss_curve_ is not None:
    ax.plot(epochs, rw.validation_loss_curve_, "s-", ms=3, label="validation loss")
ax.set(xlabel="epoch", ylabel="weighted cross-entropy", title="training history")
ax.legend(fontsize=8)

ax = axes[1]
ax.hexbin(w_exact, w_learned, xscale="log", yscale="log", gridsize=60, bins="log", cmap="Blues")
span = [min(w_exact.min(), w_learned.min()), max(w_exact.max(), w_learned.max())]
ax.plot(span, span, "r--", lw=1, label="learned = exact")
ax.set(xlabel="exact weight q(x)/p(x)", ylabel="DCTR weight", title="event by event")
ax.legend(fontsize=8, loc="upper left")

for ax, w, label in ((axes[2], w_learned, "DCTR"), (axes[3], w_exact, "exact")):
    plot_weights(ax, w)
    ax.set_title(f"{label} weights of {len(w)} held-out source events", fontsize=10)
fig.tight_layout()
fig.savefig("dctr_diagnostics_weights.png", dpi=90)
print("wrote dctr_diagnostics_weights.png")

# %%
# The same checks in one call: ``reweighting_report`` computes the effective sample size, the
# weight quantiles, the share of the largest 1 % of weights, the per-feature KS distances and the
# two-sample AUC (same classifier and split as above, so the same numbers), and warns about what
# an analyst should look at (events outside the training range, a few weights dominating).
report = reweighting_report(
    source, target, w_learned, feature_names=names, training_range=rw.feature_range_
)
print()
print(report.to_markdown())
