"""
Parametrized reweighting of a Gaussian, at generator and simulation level
=========================================================================

Reproduces Fig. 3 of Andreassen et al., "Parameter estimation using neural networks in the
presence of detector effects" (SRGN, arXiv:2010.03569): a reweighting function w(x_G, mu) is
learned at generator level from a nominal sample at mu_0 = 0 and target samples with mu drawn
uniformly in [-2, 2]; the nominal sample weighted at mu = 1.5 then matches a sample generated at
mu = 1.5, at generator level and, with the same weights, at simulation level (x_S = x_G + N(0,
0.5^2)). The exact weight (eq. 10) is drawn next to the learned one.

Run with ``python examples/reweighting/plot_parametrized_gaussian.py [n_events]``; the paper used
10^6 events, the default here is 2x10^5 so that it runs in about a minute on a laptop CPU. With the
environment variable ``SKHEP_REWEIGHT_QUICK=1`` it is a smoke run of seconds (5000 events, 2
epochs) whose numbers mean nothing.
"""

# %%
# The data: nominal events (y == 0, theta = NaN) and target events at random mu (y == 1).
import os
import sys

import matplotlib.pyplot as plt
import numpy as np

from skhep_reweight import DCTRReweighter
from skhep_reweight.datasets import make_parametrized_gaussian
from skhep_reweight.metrics import weighted_mean_std

QUICK = os.environ.get("SKHEP_REWEIGHT_QUICK") == "1"  # a smoke run (the tests set it)
n_events = int(sys.argv[1]) if len(sys.argv) > 1 else (5_000 if QUICK else 200_000)
training = {"max_epochs": 2} if QUICK else {}  # the estimator's own epochs unless QUICK
train = make_parametrized_gaussian(n_samples=n_events, random_state=0)

# %%
# The parametrized reweighter: three hidden layers of 50 as in the paper; theta enters the
# network next to x_G.
rw = DCTRReweighter(random_state=0, verbose=1, **training)
rw.fit(train.X, train.y, theta=train.theta)

# %%
# Evaluate on fresh events: the nominal sample, and a sample generated at mu = 1.5 with its
# detector-level twin.
mu = 1.5
nominal = make_parametrized_gaussian(n_samples=n_events, random_state=1)
at_mu = make_parametrized_gaussian(n_samples=n_events, target_theta=[mu], random_state=2)
x_gen, x_sim = nominal.X[nominal.y == 0], nominal.X_sim[nominal.y == 0]
w_learned = rw.predict_weights(x_gen, theta=[mu])
w_exact = nominal.weight_function(x_gen, np.array([mu]))
truth_gen, truth_sim = at_mu.X[at_mu.y == 1], at_mu.X_sim[at_mu.y == 1]

for label, w in (("learned", w_learned), ("exact", w_exact)):
    mean_gen, std_gen = weighted_mean_std(x_gen, w)
    mean_sim, std_sim = weighted_mean_std(x_sim, w)
    print(
        f"{label:8s} weights: generator mean {mean_gen[0]:.3f} width {std_gen[0]:.3f}; "
        f"simulation mean {mean_sim[0]:.3f} width {std_sim[0]:.3f}"
    )
print(
    f"truth at mu = {mu}: generator mean {truth_gen.mean():.3f}, simulation mean "
    f"{truth_sim.mean():.3f}"
)

# %%
# Fig. 3: generator level (top) and simulation level (bottom).
bins = np.linspace(-4, 6, 51)
fig, axes = plt.subplots(2, 1, figsize=(6, 7), sharex=True)
for ax, x, truth, level in (
    (axes[0], x_gen, truth_gen, "generator"),
    (axes[1], x_sim, truth_sim, "simulation"),
):
    ax.hist(x[:, 0], bins, density=True, histtype="step", color="grey", label="mu = 0")
    ax.hist(truth[:, 0], bins, density=True, histtype="step", color="k", label=f"mu = {mu}")
    for weights, style, color, label in (
        (w_exact, ":", "b", "mu = 0, exact weights (eq. 10)"),
        (w_learned, "--", "r", "mu = 0, DCTR weights"),
    ):
        ax.hist(
            x[:, 0],
            bins,
            weights=weights,
            density=True,
            histtype="step",
            ls=style,
            color=color,
            label=label,
        )
    ax.set_ylabel(f"density ({level} level)")
    ax.legend(fontsize=7, loc="upper right")
axes[1].set_xlabel("x")
fig.tight_layout()
fig.savefig("parametrized_gaussian.png", dpi=100)
print("wrote parametrized_gaussian.png")
