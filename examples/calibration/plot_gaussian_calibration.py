"""
Maximum-likelihood and mean-squared-error calibration of a smeared Gaussian
===========================================================================

Reproduces Figs. 1 and 2 of Gambhir, Nachman and Thaler, "Bias and Priors in Machine Learning
Calibrations for High Energy Physics" (arXiv:2205.05084, section IV.A). The truth is
z ~ N(mu, sigma^2), the measurement x | z ~ N(z, eps^2), with mu = 0, sigma = 1 and eps = 2.

- A regression trained with the mean-squared error (MSE) learns E[z|x]: here a straight line,
  f_MSE(x) = (eps^2 mu + sigma^2 x) / (eps^2 + sigma^2) = 0.2 x (eq. 30), with resolution
  eps sigma / sqrt(eps^2 + sigma^2) = 0.894 in bins of x (eq. 32). In bins of the truth it is
  biased by b(z) = eps^2 / (sigma^2 + eps^2) (mu - z) (eq. 39): the bias depends on the prior
  (mu, sigma) of the training sample, even when the test sample has the same prior.
- :class:`~skhep_reweight.GaussianAnsatzCalibrator` learns the maximum-likelihood calibration
  argmax_z p(x|z) = x (eq. 31) and its resolution eps = 2 (eq. 33), which depend on the detector
  response only. Trained once on the N(0, 1) prior, its bias on every other prior is about ten
  times smaller than the MSE fit's; what remains is a shrinkage of B(x) towards the bulk of the
  training truth (slope 0.93 instead of 1 at 10^5 events), left by the finite training, not by
  the prior.

The MSE baseline is scikit-learn's :class:`~sklearn.linear_model.LinearRegression`, the linear
fit of the paper (``numpy.polyfit``), refitted for every prior. The analytic answers come with
:func:`~skhep_reweight.datasets.make_gaussian_smearing`.

Run with ``python examples/calibration/plot_gaussian_calibration.py [n_events]`` (training and
test events per prior; default 10^5, about a minute on two CPU cores). With the environment
variable ``SKHEP_REWEIGHT_QUICK=1`` it is a smoke run of seconds (2000 events, 3 epochs) whose
numbers mean nothing. The plot needs matplotlib (``pip install skhep_reweight[plot]``).
"""

# %%
# Training and test samples at the prior of Fig. 1, mu = 0 and sigma = 1 (epsilon = 2).
import os
import sys

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LinearRegression

from skhep_reweight import GaussianAnsatzCalibrator
from skhep_reweight.datasets import make_gaussian_smearing
from skhep_reweight.metrics import calibration_bias_resolution

QUICK = os.environ.get("SKHEP_REWEIGHT_QUICK") == "1"  # a smoke run (the tests set it)
n_events = int(sys.argv[1]) if len(sys.argv) > 1 else (2_000 if QUICK else 100_000)
training = {"max_epochs": 3} if QUICK else {}  # the estimator's own epochs unless QUICK
train = make_gaussian_smearing(n_events, mu=0.0, sigma=1.0, epsilon=2.0, random_state=0)
test = make_gaussian_smearing(n_events, mu=0.0, sigma=1.0, epsilon=2.0, random_state=1)
x_test = test.X[:, 0]

# %%
# The two calibrations, trained on the same events: a linear MSE fit, and the Gaussian Ansatz,
# whose ``predict(X, return_std=True)`` returns the maximum-likelihood estimate B(x) and the
# resolution (-C(x, B(x)))^(-1/2) (eqs. 36 and 37). D is off, as in the paper.
mse = LinearRegression().fit(train.X, train.z)
ga = GaussianAnsatzCalibrator(random_state=0, **training).fit(train.X, train.z)
mse_test = mse.predict(test.X)
ga_test, ga_std = ga.predict(test.X, return_std=True)

# The Donsker-Varadhan bound on the mutual information, against its exact value for Gaussians.
mutual_information = 0.5 * np.log1p(train.sigma**2 / train.epsilon**2)
print(
    f"Gaussian Ansatz: Donsker-Varadhan bound {ga.train_bound_:.4f} nats on the training events, "
    f"{ga.score(test.X, test.z):.4f} on the test events (mutual information "
    f"{mutual_information:.4f})"
)

# Slope of each calibration against x, and its resolution: the spread of z around the MSE fit
# (eq. 32), the predicted resolution of the Gaussian Ansatz (eq. 33).
ga_line = LinearRegression().fit(test.X, ga_test)
mse_slope = test.sigma**2 / (test.sigma**2 + test.epsilon**2)  # eq. 30
mse_resolution = np.sqrt(np.mean((test.z - mse_test) ** 2))
print()
print(f"{'calibration':16s} {'slope':>7s} {'(exact)':>8s} {'resolution':>11s} {'(exact)':>8s}")
print(
    f"{'Gaussian Ansatz':16s} {ga_line.coef_[0]:7.3f} {1.0:8.3f} {ga_std.mean():11.3f} "
    f"{test.ml_resolution(x_test).mean():8.3f}"
)
print(
    f"{'MSE (linear fit)':16s} {mse.coef_[0]:7.3f} {mse_slope:8.3f} "
    f"{mse_resolution:11.3f} {test.mse_resolution:8.3f}"
)

# %%
# Fig. 2: the bias in bins of the truth, for MSE fits trained and tested at several priors
# (eq. 39), and for the single Gaussian Ansatz trained at mu = 0, sigma = 1 applied to each.
# ``metrics.calibration_bias_resolution`` gives the mean and the spread of z(x) - z in each bin
# of z.
priors = [(-0.5, 1.0), (0.0, 1.0), (0.5, 1.0), (0.0, 0.5), (0.0, 2.0)]
bias = {}
print()
print("bias in bins of z within mu +- 1.5 sigma: maximum |bias|")
print(f"{'mu':>5s} {'sigma':>5s} {'Gaussian Ansatz':>16s} {'MSE':>7s} {'MSE (eq. 39)':>13s}")
for seed, (mu, sigma) in enumerate(priors):
    if (mu, sigma) == (0.0, 1.0):
        prior_train, prior_test, fit = train, test, mse
    else:
        prior_train = make_gaussian_smearing(n_events, mu=mu, sigma=sigma, random_state=10 + seed)
        prior_test = make_gaussian_smearing(n_events, mu=mu, sigma=sigma, random_state=20 + seed)
        fit = LinearRegression().fit(prior_train.X, prior_train.z)
    edges = mu + sigma * np.linspace(-1.5, 1.5, 13)
    calibrated = {"MSE": fit.predict(prior_test.X), "Gaussian Ansatz": ga.predict(prior_test.X)}
    centers = 0.5 * (edges[1:] + edges[:-1])
    bias[mu, sigma] = {
        "centers": centers,
        "exact": prior_test.mse_bias(centers),  # eq. 39
        "spread": prior_test.mse_resolution_truth,  # eq. 40
    }
    for name, z_hat in calibrated.items():
        binned = calibration_bias_resolution(prior_test.z, z_hat, edges)
        bias[mu, sigma][name] = (binned.bias, binned.resolution)
    print(
        f"{mu:5.1f} {sigma:5.1f} {np.abs(bias[mu, sigma]['Gaussian Ansatz'][0]).max():16.3f} "
        f"{np.abs(bias[mu, sigma]['MSE'][0]).max():7.3f} "
        f"{np.abs(bias[mu, sigma]['exact']).max():13.3f}"
    )

# %%
# Fig. 1a: the training events with the linear MSE fit. Fig. 1b: both calibrations in bins of x,
# with the spread of z around the MSE fit and the predicted Gaussian Ansatz resolution as error
# bars, and the analytic fits (eqs. 30, 31) and resolutions (eqs. 32, 33) as lines and bands.
fig, axes = plt.subplots(2, 2, figsize=(11, 9))
ax = axes[0, 0]
grid = np.linspace(-8, 8, 161)
ax.hist2d(train.X[:, 0], train.z, bins=[grid, np.linspace(-4, 4, 81)], cmap="Greys")
ax.plot(grid, mse.predict(grid[:, None]), "b--", label=f"linear fit: z = {mse.coef_[0]:.3f} x")
ax.set(xlabel="reconstructed x", ylabel="true z", xlim=(-8, 8), ylim=(-4, 4))
ax.set_title("(a) mu = 0, sigma = 1, epsilon = 2")
ax.legend(fontsize=8, loc="upper left")

ax = axes[0, 1]
edges = np.linspace(-6, 6, 25)
centers = 0.5 * (edges[1:] + edges[:-1])
index = np.digitize(x_test, edges) - 1
in_range = (index >= 0) & (index < len(centers))
counts = np.bincount(index[in_range], minlength=len(centers))


def bin_mean(values):
    return np.bincount(index[in_range], values[in_range], len(centers)) / counts


mse_spread = np.sqrt(bin_mean((test.z - mse_test) ** 2))
for line, width, color, label in (
    (test.mse_calibration(grid), test.mse_resolution, "b", "MSE, eqs. 30 and 32"),
    (test.ml_calibration(grid), test.ml_resolution(grid), "r", "maximum likelihood, eqs. 31, 33"),
):
    ax.plot(grid, line, color=color, ls=":", label=label)
    ax.fill_between(grid, line - width, line + width, color=color, alpha=0.12, lw=0)
ax.errorbar(centers - 0.05, bin_mean(mse_test), mse_spread, fmt="o", color="b", ms=4, label="MSE")
ax.errorbar(
    centers + 0.05,
    bin_mean(ga_test),
    bin_mean(ga_std),
    fmt="o",
    color="r",
    ms=4,
    label="Gaussian Ansatz",
)
ax.set(xlabel="reconstructed x", ylabel="calibrated z(x)", xlim=(-6, 6), ylim=(-9, 9))
ax.set_title("(b) calibration and resolution in bins of x")
ax.legend(fontsize=8, loc="upper left")

# %%
# Fig. 2a and 2b: the bias in bins of z for the priors. The MSE points carry the spread of the
# calibrated value in the bin (eq. 40 in the bands); the Gaussian Ansatz, trained once, has its
# points at zero for every prior (its spread, eq. 41, is epsilon = 2 and not drawn).
for ax, family, title in (
    (axes[1, 0], [(-0.5, 1.0), (0.0, 1.0), (0.5, 1.0)], "(c) priors with sigma = 1"),
    (axes[1, 1], [(0.0, 0.5), (0.0, 1.0), (0.0, 2.0)], "(d) priors with mu = 0"),
):
    for color, (mu, sigma) in zip(("C0", "C1", "C2"), family, strict=True):
        b = bias[mu, sigma]
        exact, spread = b["exact"], b["spread"]
        ax.plot(b["centers"], exact, "--", color=color)
        ax.fill_between(b["centers"], exact - spread, exact + spread, color=color, alpha=0.12)
        ax.errorbar(
            b["centers"],
            b["MSE"][0],
            b["MSE"][1],
            fmt="o",
            color=color,
            ms=4,
            label=f"MSE, mu = {mu}, sigma = {sigma}",
        )
        ax.plot(
            b["centers"],
            b["Gaussian Ansatz"][0],
            "s",
            mfc="none",
            color=color,
            label=f"Gaussian Ansatz (trained at 0, 1), mu = {mu}, sigma = {sigma}",
        )
    ax.axhline(0.0, color="r", ls="--", lw=1, label="unbiased")
    ax.set(xlabel="true z", ylabel="bias z(x) - z", ylim=(-3.5, 3.5))
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower left")

fig.tight_layout()
fig.savefig("gaussian_calibration.png", dpi=100)
print("wrote gaussian_calibration.png")
