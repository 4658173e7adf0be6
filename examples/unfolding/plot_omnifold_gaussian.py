"""
OmniFold on a Gaussian: each iteration against its closed form and against IBU
==============================================================================

The Gaussian example of the OmniFold paper (Andreassen, Komiske, Metodiev, Nachman and Thaler,
"OmniFold: A Method to Simultaneously Unfold All Observables", arXiv:1911.09107): the truth is
t ~ N(0.2, 0.8^2) in the data and N(0, 1) in the simulation, and the detector adds
N(0, 0.5^2) to both, with full efficiency and no fakes
(:func:`~skhep_reweight.datasets.make_gaussian_unfolding`). :class:`~skhep_reweight.OmniFold`
iterates two reweightings: step 1 weights the simulation to the data at detector level, step 2
turns those weights into a function of the truth. Three references, iteration by iteration:

- the closed form: with perfect classifiers every iteration maps a Gaussian truth onto a
  Gaussian, whose mean and width :func:`~skhep_reweight.datasets.gaussian_omnifold_moments`
  gives. The iterations approach the data's truth only geometrically (after one iteration the
  mean is 0.16, after three 0.197), so a finite number of iterations keeps part of the prior:
  OmniFold is to be compared with this curve, not with the truth alone;
- iterative Bayesian unfolding (IBU, D'Agostini) of the histograms with the simulation's
  response matrix (:func:`~skhep_reweight.unfold.response_matrix`,
  :func:`~skhep_reweight.unfold.iterative_bayesian_unfolding`), on bins narrow against the
  smearing: OmniFold with a classifier that learns per-bin ratios exactly is IBU, bin by bin;
- the data's own truth, which no unfolding of finitely many iterations reaches exactly.

A run of this script at 2x10^4 events (14 s on one thread) gave, after iterations 1 and 4, the
unfolded mean 0.155 and 0.192 (closed form 0.160 and 0.199, IBU 0.148 and 0.188) and width 0.868
and 0.813 (closed form 0.877 and 0.808, IBU 0.879 and 0.809), the data's truth sample having mean
0.197 and width 0.792.

Run with ``python examples/unfolding/plot_omnifold_gaussian.py [n_events]`` (data events, and as
many simulated; default 10^5, the size of ``bench/bench_omnifold.py``'s default run; estimated at
one to two minutes on one thread from the run above). With the environment variable
``SKHEP_REWEIGHT_QUICK=1`` it is a smoke run of seconds (3000 events, 3 epochs per network) whose
numbers mean nothing. Only matplotlib is needed (no event generator, unlike
``plot_omnifold_pythia.py``).
"""

# %%
# The data and the simulation. ``X_data`` is the data at detector level; ``X_sim`` and ``X_gen``
# are the simulated events at detector and at generator level, row by row the same events;
# ``X_data_truth`` is the data's truth, kept aside to judge the result.
import os
import sys

import matplotlib.pyplot as plt
import numpy as np

from skhep_reweight import OmniFold
from skhep_reweight.datasets import gaussian_omnifold_moments, make_gaussian_unfolding
from skhep_reweight.metrics import weighted_mean_std
from skhep_reweight.unfold import iterative_bayesian_unfolding, response_matrix

QUICK = os.environ.get("SKHEP_REWEIGHT_QUICK") == "1"  # a smoke run (the tests set it)
n_events = int(sys.argv[1]) if len(sys.argv) > 1 else (3_000 if QUICK else 100_000)
training = {"max_epochs": 3} if QUICK else {}  # the estimator's own epochs unless QUICK
n_iterations = 4
data = make_gaussian_unfolding(n_events, random_state=0)
x_data, x_sim, z_sim = data.X_data[:, 0], data.X_sim[:, 0], data.X_gen[:, 0]
z_truth = data.X_data_truth[:, 0]

# %%
# OmniFold with its built-in network (three hidden layers of 50). ``weights_[k, 1]`` holds the
# generator-level weights after iteration k + 1 (``weights_[k, 0]`` those of step 1, at detector
# level).
unfold = OmniFold(n_iterations=n_iterations, random_state=0, **training)
unfold.fit(data.X_data, X_sim=data.X_sim, X_gen=data.X_gen)
omnifold_weights = unfold.weights_[:, 1]

# %%
# IBU on 0.2-wide bins over [-5, 5] at both levels (the bench's binning). ``response_matrix``
# returns the response P(reco bin | truth bin), the efficiency, the fakes and the simulation's
# truth histogram, the prior; ``return_iterations=True`` keeps every iteration's unfolded
# histogram (the prior first).
edges = np.round(np.arange(-5.0, 5.0001, 0.2), 10)
centers = 0.5 * (edges[1:] + edges[:-1])
response, efficiency, fakes, prior = response_matrix(z_sim, x_sim, edges, edges)
used = efficiency > 0  # truth bins without simulated events (far tails) are left out
ibu = np.zeros((n_iterations + 1, prior.size))
ibu[:, used] = iterative_bayesian_unfolding(
    np.histogram(x_data, edges)[0].astype(float),
    response[:, used],
    prior=prior[used],
    n_iterations=n_iterations,
    return_iterations=True,
)


def binned_moments(counts):
    """Mean and width of a histogram on the IBU bins, taking every event at its bin centre."""
    mean = np.average(centers, weights=counts)
    return mean, np.sqrt(np.average((centers - mean) ** 2, weights=counts))


# %%
# The closed form, and the moments per iteration. The bin-centre moments of IBU carry the
# width of a 0.2 bin, sqrt(0.2^2 / 12) = 0.058, added in quadrature (a width of 0.8 reads 0.802).
mu_data, mu_sim = data.truth_mean
sd_data, sd_sim = data.truth_std
closed_mean, closed_std = gaussian_omnifold_moments(
    mu_data, sd_data, mu_sim, sd_sim, data.smearing, n_iterations
)
moments = {"OmniFold": [], "IBU": []}
print(f"{'iteration':>9s} {'closed form':>17s} {'OmniFold':>17s} {'IBU':>17s}")
prior_mean, prior_std = weighted_mean_std(z_sim, None)
ibu_prior = binned_moments(prior)
print(
    f"{'0 (prior)':>9s} {mu_sim:8.4f} {sd_sim:8.4f} {prior_mean[0]:8.4f} {prior_std[0]:8.4f} "
    f"{ibu_prior[0]:8.4f} {ibu_prior[1]:8.4f}"
)
for k in range(n_iterations):
    mean, std = weighted_mean_std(z_sim, omnifold_weights[k])
    moments["OmniFold"].append((mean[0], std[0]))
    moments["IBU"].append(binned_moments(ibu[k + 1]))
    print(
        f"{k + 1:9d} {closed_mean[k]:8.4f} {closed_std[k]:8.4f} "
        f"{moments['OmniFold'][k][0]:8.4f} {moments['OmniFold'][k][1]:8.4f} "
        f"{moments['IBU'][k][0]:8.4f} {moments['IBU'][k][1]:8.4f}"
    )
print(f"{'truth':>9s} {z_truth.mean():8.4f} {z_truth.std():8.4f}  (the data's truth sample)")


# %%
# The figure: the detector level before and after step 1 of the last iteration, the unfolded
# truth after each iteration (OmniFold's weighted simulation, IBU's histogram and the closed-form
# Gaussian), and the mean and width per iteration.
def gaussian(x, mean, std):
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))


bins = np.linspace(-3.5, 3.5, 36)
grid = np.linspace(-3.5, 3.5, 301)
fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
ax = axes[0, 0]
ax.hist(x_data, bins, density=True, histtype="step", color="k", label="data")
ax.hist(x_sim, bins, density=True, histtype="step", color="0.6", label="simulation")
ax.hist(
    x_sim,
    bins,
    weights=unfold.weights_[-1, 0],
    density=True,
    histtype="step",
    color="C0",
    label=f"simulation, step 1 weights (iteration {n_iterations})",
)
ax.set(xlabel="detector level x", ylabel="density", title="detector level")
ax.legend(fontsize=8)

for k, ax in zip(range(n_iterations), axes.flat[1:5], strict=True):
    ax.hist(z_truth, bins, density=True, histtype="stepfilled", color="0.85", label="data truth")
    ax.plot(grid, gaussian(grid, mu_sim, sd_sim), color="0.5", ls="--", lw=1, label="prior")
    ax.plot(
        grid,
        gaussian(grid, closed_mean[k], closed_std[k]),
        "k-",
        lw=1,
        label="closed form (perfect classifier)",
    )
    ax.hist(
        z_sim,
        bins,
        weights=omnifold_weights[k],
        density=True,
        histtype="step",
        color="C0",
        lw=1.5,
        label="OmniFold",
    )
    ibu_density = ibu[k + 1] / (ibu[k + 1].sum() * np.diff(edges))
    ax.stairs(ibu_density, edges, color="C3", ls=":", label="IBU")
    ax.set(xlim=(-3.5, 3.5), xlabel="truth t", ylabel="density", title=f"iteration {k + 1}")
    ax.legend(fontsize=7, loc="upper left")

ax = axes[1, 2]
steps = np.arange(n_iterations + 1)
for index, (marker, what) in enumerate((("o", "mean"), ("s", "width"))):
    closed = np.r_[(mu_sim, sd_sim)[index], (closed_mean, closed_std)[index]]
    ax.plot(steps, closed, "k-", lw=1, label=f"closed form, {what}")
    omnifold = np.r_[(prior_mean[0], prior_std[0])[index], [m[index] for m in moments["OmniFold"]]]
    ax.plot(steps, omnifold, marker, color="C0", label=f"OmniFold, {what}")
    ibu_values = np.r_[ibu_prior[index], [m[index] for m in moments["IBU"]]]
    ax.plot(steps, ibu_values, marker, mfc="none", color="C3", ms=9, label=f"IBU, {what}")
    ax.axhline((z_truth.mean(), z_truth.std())[index], color="0.5", ls=":", lw=1)
ax.set(xlabel="iteration (0: prior)", ylabel="mean, width", title="moments (dotted: data truth)")
ax.set_xticks(steps)
ax.legend(fontsize=7, ncol=2)
fig.tight_layout()
fig.savefig("omnifold_gaussian.png", dpi=100)
print("wrote omnifold_gaussian.png")
