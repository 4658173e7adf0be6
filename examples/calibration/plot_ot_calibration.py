"""
Data-based calibration with optimal transport and its prior dependence
======================================================================

Reproduces Figs. 3, 4 and 7 of Gambhir, Nachman and Thaler, "Bias and Priors in Machine Learning
Calibrations for High Energy Physics" (arXiv:2205.05084, sections IV.B and V.C) with
:class:`~skhep_reweight.OTCalibrator`. A data-based calibration moves simulated events so that
their distribution matches the data. In one dimension the optimal-transport map is
h = P_data^-1(P_sim(x)) (eq. 17), which ``OTCalibrator(method="quantile")`` builds from the two
empirical CDFs. Its derivative (eq. 18),

    h'(x) = p_sim(x) / p_data(h(x)),   p_sim(x) = integral dz p_sim(x|z) p_train(z),

contains the truth spectrum (the prior) p_train(z) of the events it was fitted on: a map fitted
on one truth spectrum does not calibrate events with another, even when the detector response,
p_sim(x|z) and p_data(x|z), is the same for both.

- Gaussian example (Figs. 3 and 4, :func:`~skhep_reweight.datasets.make_smearing_mismodeling`):
  the truth is z ~ N(mu, 1) in simulation and data alike; the simulation smears it with
  epsilon_sim = 0.5, the data with epsilon_data = 1. On the training set, mu_train = 0, the map
  is h_train(x) = alpha x with alpha = sqrt((1 + 1) / (1 + 0.25)) = 1.265 (eq. 43). On the test
  set, mu_test = 1 (our choice), it is h_test(x) = alpha x + mu_test (1 - alpha) = 1.265 x - 0.265
  (eq. 44). The two fitted maps follow these lines. Applied to the test simulation (mean
  mu_test), h_train gives the right width but the mean alpha mu_test instead of mu_test: the
  calibrated simulation lies mu_test (alpha - 1) = +0.265 above the test data. The caption of the
  paper's Fig. 3 says that the test-set calibration is used in both panels, its text that the
  training calibration is applied to the test set (the case that shows the bias); panel (b) here
  shows both.
- Dijet example (Fig. 7, :func:`~skhep_reweight.datasets.make_dijet_calibration`): synthetic
  stand-ins for the fast simulation (DELPHES in the paper), the "simulation",
  m_reco ~ N(0.95 z, (0.04 z)^2), and for the full simulation (GEANT4), the "data",
  m_reco ~ N(0.98 z, (0.08 z)^2); the true mass z follows a falling QCD spectrum z^-6 above
  2 TeV, or a BSM resonance N(2800, 10^2) GeV. The map is fitted on one half of the QCD events
  and applied to the other half, where it closes within the statistical fluctuations (those of
  the two training halves, carried by the map, included). On a power law with a multiplicative
  response r = m_reco / z both reconstructed spectra fall like x^-6 well above the 2 TeV
  threshold, with normalizations proportional to E[r^5], so there the QCD map is nearly a
  rescaling, h(x) = c x with c = (E_full[r^5] / E_fast[r^5])^(1/5) = 1.041. That is more than the
  ratio of the responses, 0.98 / 0.95 = 1.032: the wider full-simulation resolution moves more
  events up from the steeply falling spectrum. On the BSM fast simulation (peak at 2660 GeV,
  width 112 GeV) the QCD map moves the peak to about 2770 GeV, past the full-simulation peak at
  2744 GeV (the overshoot of the paper), and leaves it about half as wide as the full simulation
  (224 GeV): the resonance needs a map of slope sigma_full / sigma_fast = 2 at its peak, the QCD
  map has slope 1.03 there. The ratio panel (log scale, as in the paper) shows the calibrated BSM
  simulation about twice the data at the peak and one to three orders of magnitude below it in
  the tails.

Nothing in the fit can remove this: a data-based calibration has to be derived on events whose
truth spectrum matches the one it is applied to (or replaced by a simulation-based calibration
such as :class:`~skhep_reweight.GaussianAnsatzCalibrator`).

Run with ``python examples/calibration/plot_ot_calibration.py [n_events]`` (events per sample
and class; default 2 x 10^5, a few seconds). With the environment variable
``SKHEP_REWEIGHT_QUICK=1`` it runs on 2 x 10^4 events, a smoke run whose numbers are noisier. The
plots need matplotlib (``pip install skhep_reweight[plot]``).
"""

# %%
# Gaussian example: training set with mu_train = 0, test set with mu_test = 1, both with sigma =
# 1, epsilon_sim = 0.5 and epsilon_data = 1. Each Bunch holds the simulation rows (y == 0) and
# then the data rows (y == 1), the layout that ``OTCalibrator.fit(X, y)`` takes.
import os
import sys

import matplotlib.pyplot as plt
import numpy as np

from skhep_reweight import OTCalibrator
from skhep_reweight.datasets import make_dijet_calibration, make_smearing_mismodeling

QUICK = os.environ.get("SKHEP_REWEIGHT_QUICK") == "1"  # a smoke run (the tests set it)
n_events = int(sys.argv[1]) if len(sys.argv) > 1 else (20_000 if QUICK else 200_000)
mu_train, mu_test = 0.0, 1.0
smearing = {"sigma": 1.0, "epsilon_sim": 0.5, "epsilon_data": 1.0}
train = make_smearing_mismodeling(n_events, mu=mu_train, **smearing, random_state=0)
test = make_smearing_mismodeling(n_events, mu=mu_test, **smearing, random_state=1)
alpha = train.alpha


def split(bunch):
    """Simulated and data values of a make_smearing_mismodeling Bunch."""
    return bunch.X[bunch.y == 0, 0], bunch.X[bunch.y == 1, 0]


sim_train, data_train = split(train)
sim_test, data_test = split(test)

# %%
# One calibration fitted on each set. ``transform`` moves simulated events through the map.
h_train = OTCalibrator(method="quantile").fit(train.X, train.y)
h_test = OTCalibrator(method="quantile").fit(test.X, test.y)


def apply(calibrator, values):
    return calibrator.transform(values[:, None])[:, 0]


def line_fit(calibrator, sim):
    """Least-squares line through (x, h(x)) for the simulated events between the 5% and 95%
    quantiles of the sample the map was fitted on."""
    low, high = np.percentile(sim, [5, 95])
    central = sim[(sim >= low) & (sim <= high)]
    slope, intercept = np.polyfit(central, apply(calibrator, central), 1)
    return slope, intercept


print(
    f"Gaussian example: alpha = sqrt((sigma^2 + eps_data^2) / (sigma^2 + eps_sim^2)) = {alpha:.4f}"
)
print(f"{'map':8s} {'slope':>7s} {'(eq.)':>7s} {'intercept':>10s} {'(eq.)':>7s}")
for name, calibrator, sim, mu in (
    ("h_train", h_train, sim_train, mu_train),
    ("h_test", h_test, sim_test, mu_test),
):
    slope, intercept = line_fit(calibrator, sim)
    print(f"{name:8s} {slope:7.4f} {alpha:7.4f} {intercept:10.4f} {mu * (1 - alpha):7.4f}")

# The squared 2-Wasserstein distance between N(mu, sigma^2 + eps_sim^2) and N(mu, sigma^2 +
# eps_data^2) is the squared difference of the widths.
width_sim = np.hypot(smearing["sigma"], smearing["epsilon_sim"])
width_data = np.hypot(smearing["sigma"], smearing["epsilon_data"])
print(
    f"transport cost E|h(x) - x|^2: {h_train.transport_cost_:.4f} (train), "
    f"{h_test.transport_cost_:.4f} (test), exact {(width_data - width_sim) ** 2:.4f}"
)

# The residual bias: the training map applied to the test simulation, against the test data. The
# test map, fitted on these very events, reproduces the data's mean and width exactly.
calibrated_test = apply(h_train, sim_test)
closure_test = apply(h_test, sim_test)
bias = calibrated_test.mean() - data_test.mean()
bias_error = np.sqrt(calibrated_test.var() / len(sim_test) + data_test.var() / len(data_test))
print()
print(f"test set (mu_test = {mu_test:g}): mean and standard deviation")
for label, values in (
    ("raw simulation", sim_test),
    ("simulation calibrated with h_train", calibrated_test),
    ("simulation calibrated with h_test", closure_test),
    ("data", data_test),
):
    print(f"  {label:34s} {values.mean():7.4f} {values.std():7.4f}")
print(
    f"residual bias of h_train on the test set, mean(calibrated sim) - mean(data): {bias:.4f} "
    f"+- {bias_error:.4f} (test statistics only; analytic mu_test (alpha - 1) = "
    f"{mu_test * (alpha - 1):.4f})"
)

# %%
# Fig. 3: histograms of the raw simulation, the simulation calibrated with the training map and
# the data, on the training set (a) and on the test set (b). On the training set the calibrated
# simulation is the data, event for event: with equal numbers of events the quantile map sends the
# i-th smallest simulated event onto the i-th smallest data event. Fig. 4 (c): both fitted maps on
# a grid inside the fitted ranges, with eqs. 43 and 44; (d) their difference, the constant
# mu_test (alpha - 1).
fig, axes = plt.subplots(2, 2, figsize=(11, 9))
bins = np.linspace(-5.0, 6.0, 56)
for ax, sim, data, title in (
    (axes[0, 0], sim_train, data_train, f"(a) training set, mu = {mu_train:g}"),
    (axes[0, 1], sim_test, data_test, f"(b) test set, mu = {mu_test:g}"),
):
    ax.hist(data, bins, color="0.75", label="data (epsilon = 1)")
    ax.hist(sim, bins, histtype="step", color="C0", label="raw simulation (epsilon = 0.5)")
    ax.hist(apply(h_train, sim), bins, histtype="step", color="C3", ls="--", lw=1.5)
    ax.plot([], [], color="C3", ls="--", label="simulation calibrated with h_train")
    ax.set(xlabel="reconstructed x", ylabel="events per bin")
    ax.set_title(title)
axes[0, 1].hist(closure_test, bins, histtype="step", color="k", ls=":", lw=1.5)
axes[0, 1].plot([], [], color="k", ls=":", label="simulation calibrated with h_test")
for ax in axes[0]:
    ax.legend(fontsize=8, loc="upper left")

grid = np.linspace(-3.0, 4.0, 29)
ax = axes[1, 0]
ax.plot(grid, alpha * grid, "C0-", lw=1, label="eq. 43: alpha x")
ax.plot(
    grid,
    alpha * grid + mu_test * (1 - alpha),
    "C3-",
    lw=1,
    label="eq. 44: alpha x + mu_test (1 - alpha)",
)
ax.plot(grid, apply(h_train, grid), "o", color="C0", ms=4, label="h_train (fitted, mu = 0)")
ax.plot(grid, apply(h_test, grid), "s", color="C3", ms=4, mfc="none", label="h_test (mu = 1)")
ax.plot(grid, grid, "k:", lw=1, label="identity")
ax.set(xlabel="simulated x", ylabel="calibrated h(x)")
ax.set_title("(c) calibration functions")
ax.legend(fontsize=8, loc="upper left")

ax = axes[1, 1]
ax.plot(grid, apply(h_train, grid) - apply(h_test, grid), "o", color="k", ms=4, label="fitted")
ax.axhline(mu_test * (alpha - 1), color="C3", lw=1, label="mu_test (alpha - 1)")
ax.axhline(0.0, color="k", ls=":", lw=1)
ax.set(xlabel="simulated x", ylabel="h_train(x) - h_test(x)", ylim=(-0.2, 0.5))
ax.set_title("(d) residual bias of h_train on the test set")
ax.legend(fontsize=8, loc="upper left")
fig.tight_layout()
fig.savefig("ot_calibration_gaussian.png", dpi=100)
print("wrote ot_calibration_gaussian.png")

# %%
# Dijet example: the fast simulation is the "simulation", the full simulation the "data". Every
# sample has its own seed, so that simulation and data events are independent. Half of the QCD
# events fit the map, the other half test it; the BSM samples have as many events as a QCD half.
fast = {"response": 0.95, "resolution": 0.04}
full = {"response": 0.98, "resolution": 0.08}


def dijet_mass(process, detector, n, seed):
    return make_dijet_calibration(n, process=process, **detector, random_state=seed).X[:, 0]


half = n_events // 2
qcd_fast = dijet_mass("qcd", fast, 2 * half, 10)
qcd_full = dijet_mass("qcd", full, 2 * half, 11)
bsm_fast = dijet_mass("bsm", fast, half, 12)
bsm_full = dijet_mass("bsm", full, half, 13)

X_fit = np.concatenate([qcd_fast[:half], qcd_full[:half]])[:, None]
y_fit = np.repeat([0, 1], half)
h_qcd = OTCalibrator(method="quantile").fit(X_fit, y_fit)
samples = {
    "QCD": (qcd_fast[half:], apply(h_qcd, qcd_fast[half:]), qcd_full[half:]),
    "BSM": (bsm_fast, apply(h_qcd, bsm_fast), bsm_full),
}

# %%
# The QCD map against the power-law expectation c = (E_full[r^5] / E_fast[r^5])^(1/5), with the
# expectations over r ~ N(response, resolution^2) by Gauss-Hermite quadrature.
nodes, weights = np.polynomial.hermite_e.hermegauss(20)


def response_moment(detector, power=5):
    r = detector["response"] + detector["resolution"] * nodes
    return np.sum(weights * r**power) / np.sqrt(2 * np.pi)


c_power_law = (response_moment(full) / response_moment(fast)) ** (1 / 5)
masses = np.array([2500.0, 3000.0, 4000.0])
print()
print(
    "dijet example: QCD map h(x) / x at x = "
    + ", ".join(f"{m:.0f}" for m in masses)
    + " GeV: "
    + ", ".join(f"{r:.4f}" for r in apply(h_qcd, masses) / masses)
    + f" (power law: {c_power_law:.4f}; response ratio {full['response'] / fast['response']:.4f})"
)
low, high = np.percentile(bsm_fast, [16, 84])
qcd_slope = (apply(h_qcd, np.array([high]))[0] - apply(h_qcd, np.array([low]))[0]) / (high - low)
print(
    f"slope of the QCD map across the BSM fast-sim peak ({low:.0f}-{high:.0f} GeV): "
    f"{qcd_slope:.3f}; slope the resonance needs, std(full) / std(fast): "
    f"{bsm_full.std() / bsm_fast.std():.3f}"
)


def half_width(values):
    """Half the 16%-84% quantile range (the standard deviation for a normal distribution)."""
    return 0.5 * np.subtract(*np.percentile(values, [84, 16]))


print()
print("m_jj in GeV (std is dominated by the high-mass tail for QCD; w = 16-84% half-width)")
print(f"{'':4s} {'':22s} {'mean':>7s} {'std':>6s} {'w':>6s}")
labels = ("fast sim (raw)", "fast sim calibrated", "full sim (data)")
for process, values in samples.items():
    for label, v in zip(labels, values, strict=True):
        print(f"{process:4s} {label:22s} {v.mean():7.1f} {v.std():6.1f} {half_width(v):6.1f}")

# %%
# Histograms and their ratios to the data. The bulk is the range between the 5% and 95% quantiles
# of the data. There the ratio of the QCD test half should be one within the statistical errors.
# The chi2 uses the variance of the test counts alone, N_sim + N_data; the calibrated counts also
# carry, through the map, the fluctuations of the two training halves (variance about 3 N instead
# of N), so for the calibrated QCD simulation chi2/ndf is expected near 2, not 1.
edges = {"QCD": np.arange(1600.0, 5001.0, 50.0), "BSM": np.arange(2000.0, 3601.0, 40.0)}
histograms = {}
print()
print("ratio to the data in the bulk bins (data between its 5% and 95% quantiles)")
print(f"{'':27s} {'max|ratio-1|':>12s} {'min ratio':>10s} {'max ratio':>10s} {'chi2/ndf':>9s}")
for process, (raw, calibrated, data) in samples.items():
    counts = [np.histogram(v, edges[process])[0].astype(float) for v in (raw, calibrated, data)]
    histograms[process] = counts
    data_counts = counts[2]
    lo, hi = np.percentile(data, [5, 95])
    centers = 0.5 * (edges[process][1:] + edges[process][:-1])
    bulk = (centers > lo) & (centers < hi) & (data_counts > 0)
    for label, c in zip(labels[:2], counts[:2], strict=True):
        ratio = c[bulk] / data_counts[bulk]
        chi2 = np.sum((c[bulk] - data_counts[bulk]) ** 2 / (c[bulk] + data_counts[bulk]))
        print(
            f"{process:4s} {label:22s} {np.abs(ratio - 1).max():12.3f} {ratio.min():10.3f} "
            f"{ratio.max():10.3f} {chi2 / bulk.sum():9.2f}"
        )
    if process == "QCD":
        error = np.sqrt(1 / counts[1][bulk] + 1 / data_counts[bulk])
        print(
            f"{'':4s} statistical error of the ratio in the {bulk.sum()} bulk bins, "
            f"sqrt(1/N_sim + 1/N_data): {error.min():.3f} to {error.max():.3f} "
            "(about sqrt(2) larger with the training halves)"
        )

# %%
# Fig. 7: the m_jj histograms of the fast simulation, raw and calibrated with the QCD map, and of
# the full simulation (the data), for QCD (a) and BSM (b), with the ratios to the data (log scale
# for BSM, as in the paper; empty bins are left out).
fig = plt.figure(figsize=(12, 6.5))
outer = fig.add_gridspec(1, 2, wspace=0.25)
for column, (process, color, title) in enumerate(
    (("QCD", "C0", "(a) QCD, test half"), ("BSM", "C3", "(b) BSM, QCD calibration"))
):
    top, bottom = (
        outer[column].subgridspec(2, 1, height_ratios=(3, 1), hspace=0.05).subplots(sharex=True)
    )
    raw, calibrated, data = histograms[process]
    e = edges[process]
    centers = 0.5 * (e[1:] + e[:-1])
    top.stairs(raw, e, baseline=None, color=color, alpha=0.45, label="fast sim (raw)")
    top.stairs(
        calibrated, e, baseline=None, color=color, ls="--", lw=1.5, label="fast sim, OT-calibrated"
    )
    top.errorbar(centers, data, np.sqrt(data), fmt="o", color="k", ms=3, label="full sim (data)")
    top.set(ylabel="events per bin", yscale="log" if process == "QCD" else "linear")
    top.set_title(title)
    top.legend(fontsize=8, loc="upper right")
    with np.errstate(divide="ignore", invalid="ignore"):
        for counts, style, label in ((raw, "-", "raw"), (calibrated, "--", "calibrated")):
            ratio = np.where((counts > 0) & (data > 0), counts / data, np.nan)
            bottom.plot(
                centers, ratio, ls=style, color=color, alpha=0.45 if label == "raw" else 1.0
            )
    bottom.axhline(1.0, color="k", lw=1)
    if process == "QCD":
        bottom.set(ylim=(0.5, 1.5))
    else:
        bottom.set(yscale="log", ylim=(1e-3, 10.0))
    bottom.set(xlabel="reconstructed m_jj [GeV]", ylabel="sim / data")
fig.savefig("ot_calibration_dijet.png", dpi=100, bbox_inches="tight")
print("wrote ot_calibration_dijet.png")
