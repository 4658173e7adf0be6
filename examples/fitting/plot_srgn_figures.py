"""
Fitting a generator parameter through the detector with SRGN: the AUC scan and the full phase space
====================================================================================================

Reproduces what Figs. 4 and 5 of Andreassen, Hsu, Nachman, Suaysom and Suresh, "Parameter
estimation using neural networks in the presence of detector effects" (SRGN, arXiv:2010.03569)
show, with the exact weights drawn next to the learned ones. The parametrized reweighting of their
Fig. 3 (a nominal sample at mu = 0 morphed to mu = 1.5, at generator and simulation level) is the
example :ref:`sphx_glr_auto_examples_reweighting_plot_parametrized_gaussian.py`; this one uses
such a reweighting w(x_G, mu) for what SRGN is for, fitting mu
(:class:`~skhep_reweight.SRGNFitter`):

1. Fig. 5: data at mu = 1 (x_G ~ N(mu, 1), x_S = x_G + N(0, 0.5^2),
   :func:`~skhep_reweight.datasets.make_parametrized_gaussian`). For every candidate mu the
   simulated nominal events are weighted by w(x_G, mu) and a fresh classifier is trained to tell
   them from the data; its held-out AUC is 1/2 where they cannot be told apart, at the true mu. The
   AUC scan over mu at generator level and at simulation level, with the learned and the exact
   weights (eq. 10), and the values found by bounded Powell (the paper's optimizer). In the paper
   the curve is steeper at generator level: the smearing costs statistical power.
2. Fig. 4: the detector response depends on mu through a second generator-level feature
   (:func:`~skhep_reweight.datasets.make_parameter_dependent_response`: x_G0 ~ N(mu, 1),
   x_G1 ~ N(0, nu^2) with nu = (0.7 + 0.2 mu)^2, x_S = x_G0 + N(4 abs(x_G1), x_G1^4)). A
   reweighting learned on both generator features (the full phase space) reproduces the
   simulation level at mu = 1.5; one learned on the primary feature alone reproduces that feature
   but not the simulation level. The consequence for the fit, which the paper states in the text
   (eqs. 7-9) but does not plot: the detector-level AUC scan with the primary-only weights has its
   minimum away from the truth.

Measured at 5x10^4 events (``python examples/fitting/plot_srgn_figures.py 50000``, 65 s on one
thread): Powell found mu = 0.959 (generator level) and 0.972 (simulation level) with the learned
weights, 0.987 and 0.997 with the exact ones; the detector-level scans with the full phase space
have their minimum at mu = 1.0, those with the primary feature alone at 1.4.

Differences from the paper: the fit's classifier g is a quadratic logistic regression
(StandardScaler, PolynomialFeatures(2), LogisticRegression), optimal for two Gaussians and fast on
a CPU, instead of the paper's network of 2 x 128; and the reweighter has SRGNFitter's documented
settings ((64, 64), batch 512, 60 epochs without early stopping) instead of 3 x 50 with batch
10^5, trained on 10^5 events per class instead of 10^6, the setting of ``bench/bench_srgn.py``'s
Table I run. That run (10 seeds, 10^6 events) fitted 0.986 +- 0.051 at detector level with the
learned weights and 0.9985 +- 0.0038 with the exact ones (the paper: 1.000 +- 0.017): the
learned reweighter's seed-to-seed error, not the fit, sets the precision.

Run with ``python examples/fitting/plot_srgn_figures.py [n_events]`` (events of the data and of
the nominal sample; default 10^6 as in the paper). Not timed at that size here; estimated at
five to ten minutes on one CPU thread from ``bench/README.md``'s Table I run: each of the three
reweighters (10^5 events a class) about 35 s; each of the four Powell fits at 10^6 events 16-41 s;
and eight AUC scans of 21 points, a quadratic classifier each, at about 0.5 s a point at 10^6
events (half of that for the four Fig. 4 scans at 5x10^5). With the environment
variable ``SKHEP_REWEIGHT_QUICK=1`` it is a smoke run of seconds (3000 events, 3 epochs) whose
numbers mean nothing.
"""

# %%
# Settings. ``REWEIGHTER`` are the settings the SRGNFitter docstring recommends for these
# Gaussian fits (``skhep_reweight.fit.REWEIGHTER_PARAMS``; 3 epochs in a smoke run);
# ``quadratic`` is the classifier g trained afresh at every evaluated mu.
import os
import sys
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from skhep_reweight import DCTRReweighter, SRGNFitter
from skhep_reweight.datasets import make_parameter_dependent_response, make_parametrized_gaussian
from skhep_reweight.fit import REWEIGHTER_PARAMS
from skhep_reweight.metrics import effective_sample_size, weighted_mean_std

QUICK = os.environ.get("SKHEP_REWEIGHT_QUICK") == "1"  # a smoke run (the tests set it)
n_events = int(sys.argv[1]) if len(sys.argv) > 1 else (3_000 if QUICK else 1_000_000)
n_reweighter = min(n_events, 100_000)  # events per class of each reweighter's training
REWEIGHTER = {**REWEIGHTER_PARAMS, "max_epochs": 3} if QUICK else dict(REWEIGHTER_PARAMS)
grid_points = 9 if QUICK else 21
powell = {"xtol": 0.3, "ftol": 0.3, "max_iter": 2} if QUICK else {"xtol": 1e-3, "ftol": 1e-3}
bounds = [(-2.0, 2.0)]
truth = 1.0


def quadratic():
    return make_pipeline(StandardScaler(), PolynomialFeatures(2), LogisticRegression())


def scan(weights, X, X_sim=None, X_gen=None, **options):
    """The AUC at ``grid_points`` values of mu over the bounds (no refinement)."""
    fitter = SRGNFitter(
        weights,
        bounds=bounds,
        optimizer="grid",
        grid_points=grid_points,
        refine=False,
        classifier=quadratic(),
        random_state=0,
        **options,
    )
    fitter.fit(X, X_sim=X_sim, X_gen=X_gen)
    order = np.argsort(fitter.scan_.theta[:, 0])
    return fitter.scan_.theta[order, 0], fitter.scan_.objective[order]


def fit_powell(weights, X, X_sim=None, X_gen=None):
    """Bounded Powell, as in the paper; the fitted mu and the AUC there."""
    fitter = SRGNFitter(
        weights, bounds=bounds, classifier=quadratic(), random_state=0, **powell
    ).fit(X, X_sim=X_sim, X_gen=X_gen)
    return fitter.theta_[0], fitter.ensemble_objective_[0], fitter.n_iter_


# %%
# 1. The data at mu = 1, the nominal sample at mu = 0 (generator level x_G and simulation level
# x_S of the same events), and a parametrized reweighter learned at generator level on a third
# sample, target events at mu uniform in [-2, 2].
nominal = make_parametrized_gaussian(n_events, random_state=1)
data = make_parametrized_gaussian(n_events, target_theta=[truth], random_state=2)
train = make_parametrized_gaussian(n_reweighter, random_state=3)
sim = nominal.y == 0
x_gen, x_sim = nominal.X[sim], nominal.X_sim[sim]
data_level = {"generator": data.X[data.y == 1], "simulation": data.X_sim[data.y == 1]}
reweighter = DCTRReweighter(random_state=0, **REWEIGHTER)
reweighter.fit(train.X, train.y, theta=train.theta)
weights = {"learned": reweighter, "exact (eq. 10)": nominal.weight_function}

# %%
# The AUC scans and the Powell fits, at both levels, with both weights. At generator level there
# is no ``X_sim``: the fit compares the weighted x_G with the data's x_G directly. Warnings about
# events outside the reweighter's training range (far tails) are silenced.
scans, fits = {}, {}
print(f"{'weights':15s} {'level':10s} {'Powell mu':>9s} {'AUC there':>9s} {'evaluations':>11s}")
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*outside the feature ranges.*")
    for label, w in weights.items():
        for level, X in data_level.items():
            at_sim = {"X_sim": x_sim, "X_gen": x_gen} if level == "simulation" else {}
            X_nominal = {} if level == "simulation" else {"X_gen": x_gen}
            scans[label, level] = scan(w, X, **at_sim, **X_nominal)
            fits[label, level] = fit_powell(w, X, **at_sim, **X_nominal)
            mu, auc, n_eval = fits[label, level]
            print(f"{label:15s} {level:10s} {mu:9.4f} {auc:9.4f} {n_eval:11d}")
print(f"truth: mu = {truth}")

# %%
# 2. The parameter-dependent response: reweighters on both generator features and on the
# primary one alone, each with its exact counterpart, all applied to the nominal sample at
# mu = 1.5 and compared with a sample generated there.
mu_check = 1.5
n_response = max(n_events // 2, 1000)
response_train = make_parameter_dependent_response(n_reweighter, random_state=4)
response_nominal = make_parameter_dependent_response(n_response, random_state=5)
response_at = make_parameter_dependent_response(n_response, target_theta=[mu_check], random_state=6)
full = DCTRReweighter(random_state=0, **REWEIGHTER)
full.fit(response_train.X, response_train.y, theta=response_train.theta)
primary = DCTRReweighter(random_state=0, **REWEIGHTER)
primary.fit(response_train.X[:, :1], response_train.y, theta=response_train.theta)
nom = response_nominal.y == 0
g_nominal, s_nominal = response_nominal.X[nom], response_nominal.X_sim[nom]
g_target = response_at.X[response_at.y == 1]
s_target = response_at.X_sim[response_at.y == 1]
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*outside the feature ranges.*")
    response_weights = {
        "full, learned": full.predict_weights(g_nominal, theta=[mu_check]),
        "full, exact": response_nominal.weight_function(g_nominal, np.array([mu_check])),
        "primary only, learned": primary.predict_weights(g_nominal[:, :1], theta=[mu_check]),
        "primary only, exact": response_nominal.primary_weight_function(
            g_nominal[:, :1], np.array([mu_check])
        ),
    }
print()
print(f"at mu = {mu_check}: mean of x_G0, std of x_G1, mean and std of x_S, ESS / n")
for label, w in {"generated at mu": None, **response_weights}.items():
    gen, det = (g_target, s_target) if w is None else (g_nominal, s_nominal)
    g_mean, g_std = weighted_mean_std(gen, w)
    s_mean, s_std = weighted_mean_std(det, w)
    ess = 1.0 if w is None else effective_sample_size(w) / len(w)
    print(
        f"{label:22s} {g_mean[0]:7.3f} {g_std[1]:7.3f} {s_mean[0]:7.3f} {s_std[0]:7.3f} {ess:7.3f}"
    )

# %%
# A caveat the exact weights show: the secondary feature widens from nu(0) = 0.49 to
# nu(1.5) = 1.0, and a Gaussian reweighted to one more than sqrt(2) times wider has weights of
# infinite variance (here for every mu above 0.66). The weighted sample then converges slowly,
# its width from below, carried by a few events in the tails: the small effective sample size
# of the "full" weights above. A learned reweighter, smooth and trained on finite tails, cannot
# follow such weights far out either.

# %%
# The detector-level fit of data at mu = 1 with each reweighting (the scans only): with the full
# phase space the minimum is at the truth, with the primary feature alone it is not. The
# primary-only weights move x_S by moving x_G0 only, while in the data the shift 4 abs(x_G1)
# and the smearing x_G1^2 grow with mu too; the scan's best compromise lies above the truth and
# stays well above an AUC of 1/2 (in a run at 5x10^4 events: lowest AUC 0.58 at mu = 1.4, where
# the full-phase-space scans reach 0.48-0.49 at mu = 1.0).
response_data = make_parameter_dependent_response(n_response, target_theta=[truth], random_state=7)
x_data = response_data.X_sim[response_data.y == 1]
response_scans = {}
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*outside the feature ranges.*")
    for label, w, columns in (
        ("full, learned", full, slice(None)),
        ("full, exact", response_nominal.weight_function, slice(None)),
        ("primary only, learned", primary, slice(0, 1)),
        ("primary only, exact", response_nominal.primary_weight_function, slice(0, 1)),
    ):
        mu, auc = scan(w, x_data, X_sim=s_nominal, X_gen=g_nominal[:, columns])
        response_scans[label] = (mu, auc)
        best = auc.argmin()
        print(f"detector-level scan, {label:22s}: lowest AUC {auc[best]:.4f} at mu {mu[best]:.2f}")

# %%
# Fig. 5: the AUC against mu with the Powell results as stars, at generator and at simulation
# level, and both levels together around the truth, where the simulation-level curve should be
# the flatter one (a difference that the statistical noise of small samples can hide).
fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
styles = {"learned": ("C0", "o-"), "exact (eq. 10)": ("k", "s--")}
for ax, level in zip(axes[:2], ("generator", "simulation"), strict=True):
    for label in weights:
        color, style = styles[label]
        mu, auc = scans[label, level]
        ax.plot(mu, auc, style, color=color, ms=4, mfc="none", label=f"{label} weights")
        mu_fit, auc_fit, _ = fits[label, level]
        ax.plot(mu_fit, auc_fit, "*", color=color, ms=14, label=f"Powell, {label}: {mu_fit:.3f}")
    ax.axvline(truth, color="r", lw=1, ls=":", label=f"truth mu = {truth}")
    ax.axhline(0.5, color="0.6", lw=0.8)
    ax.set(xlabel="mu", ylabel="held-out AUC", title=f"Fig. 5: {level} level")
    ax.legend(fontsize=8)
ax = axes[2]
for level, color in (("generator", "C2"), ("simulation", "C1")):
    for label in weights:
        mu, auc = scans[label, level]
        style = "-" if label == "learned" else "--"
        ax.plot(mu, auc, style, color=color, label=f"{level}, {label}")
ax.axvline(truth, color="r", lw=1, ls=":")
ax.set(xlabel="mu", ylabel="held-out AUC", title="both levels near the truth")
ax.set(xlim=(truth - 0.6, truth + 0.6), ylim=(0.49, 0.6))
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig("srgn_fig5_auc_scan.png", dpi=100)
print("wrote srgn_fig5_auc_scan.png")

# %%
# Fig. 4 at mu = 1.5: the primary and the secondary generator feature and the simulation level,
# each with the four reweightings of the nominal sample; and the detector-level AUC scans of the
# data at mu = 1 that follow from them.
fig, axes = plt.subplots(1, 4, figsize=(20, 4.8))
panel_styles = {
    "full, learned": ("C0", "-"),
    "full, exact": ("C0", ":"),
    "primary only, learned": ("C3", "-"),
    "primary only, exact": ("C3", ":"),
}
for ax, values, target, bins, xlabel in (
    (axes[0], g_nominal[:, 0], g_target[:, 0], np.linspace(-3, 5, 41), "x_G0 (primary)"),
    (axes[1], g_nominal[:, 1], g_target[:, 1], np.linspace(-3, 3, 41), "x_G1 (secondary)"),
    (axes[2], s_nominal[:, 0], s_target[:, 0], np.linspace(-3, 14, 52), "x_S (simulation)"),
):
    ax.hist(values, bins, density=True, histtype="step", color="0.6", label="mu = 0")
    ax.hist(target, bins, density=True, histtype="stepfilled", color="0.85", label="mu = 1.5")
    for label, w in response_weights.items():
        color, ls = panel_styles[label]
        ax.hist(values, bins, weights=w, density=True, histtype="step", color=color, ls=ls,
                label=f"mu = 0, {label} w")  # fmt: skip
    ax.set(xlabel=xlabel, ylabel="density", title=f"Fig. 4 at mu = {mu_check}: {xlabel}")
    ax.legend(fontsize=7)

ax = axes[3]
for label, (mu, auc) in response_scans.items():
    color, ls = panel_styles[label]
    ax.plot(mu, auc, ls=ls, color=color, marker="o", ms=3, label=label)
ax.axvline(truth, color="r", lw=1, ls=":", label=f"truth mu = {truth}")
ax.axhline(0.5, color="0.6", lw=0.8)
ax.set(xlabel="mu", ylabel="held-out AUC", title="detector-level fit: full phase space or not")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig("srgn_fig4_phase_space.png", dpi=100)
print("wrote srgn_fig4_phase_space.png")
