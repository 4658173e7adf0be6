"""
Conditional reweighting: Gaussian closure, a phase-space hole, interpolation in energy
=======================================================================================

Reproduces the synthetic studies of Nachman and Thaler, "Neural conditional reweighting"
(arXiv:2107.08979), with the exact answer drawn next to the learned one:

1. Gaussian truth x' and response x, with truth spectra that differ between the source
   (x' ~ N(0, 1)) and the target (x' ~ N(1, 1)) and a response x - x' ~ N(0, 1) -> N(0.2, 1.2^2).
   The conditional weights correct the response and leave x' alone; the marginal (DCTR) weights of
   (x, x') move x' too.
2. The same with no source events at :math:`|x'| < 0.5` in training: the weights at x' = 0 from
   the single training, the ratio of two classifiers and marginal-then-conditional.
3. A calorimeter response x/x' ~ N(1, 1/x') -> N(1.02, 1.44/x') trained at 100 and 200 GeV only,
   applied at 150 GeV.

Run with ``python examples/reweighting/plot_conditional_reweighting.py [n_events]`` (events per
class; default 5x10^4, about three minutes on two CPU cores). With the environment variable
``SKHEP_REWEIGHT_QUICK=1`` it is a smoke run of seconds (2000 events, 3 epochs) whose numbers mean
nothing.
"""

# %%
import os
import sys

import matplotlib.pyplot as plt
import numpy as np

from skhep_reweight import ConditionalReweighter, DCTRReweighter
from skhep_reweight.datasets import make_conditional_gaussians, make_conditional_response
from skhep_reweight.metrics import weighted_mean_std

QUICK = os.environ.get("SKHEP_REWEIGHT_QUICK") == "1"  # a smoke run (the tests set it)
n_events = int(sys.argv[1]) if len(sys.argv) > 1 else (2_000 if QUICK else 50_000)
training = {"max_epochs": 3} if QUICK else {}  # the estimators' own epochs unless QUICK
fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))

# %%
# 1. Closure. Both samples in one X: column 0 the response x, column 1 the truth x'.
train = make_conditional_gaussians(n_events, random_state=0)
test = make_conditional_gaussians(n_events, random_state=1)
source, target = test.X[test.y == 0], test.X[test.y == 1]
conditional = ConditionalReweighter(conditional_features=[1], random_state=0, **training)
conditional.fit(train.X, train.y)
marginal = DCTRReweighter(random_state=0, **training).fit(train.X, train.y)
w_cond, w_marg = conditional.predict_weights(source), marginal.predict_weights(source)
w_exact = test.weight_function(source)

edges = np.linspace(-1.5, 2.5, 17)
centers = 0.5 * (edges[1:] + edges[:-1])
index = np.digitize(source[:, 1], edges)
ax = axes[0, 0]
for label, w, style in (
    ("exact q(x|x')/p(x|x')", w_exact, "k-"),
    ("ConditionalReweighter", w_cond, "o"),
    ("DCTRReweighter on (x, x')", w_marg, "s"),
):
    mean_w = [w[index == b].mean() for b in range(1, len(edges))]
    ax.plot(centers, mean_w, style, label=label)
ax.plot(centers, np.exp(centers - 0.5), "k:", label="q(x')/p(x') = exp(x' - 1/2)")
ax.set(xlabel="truth x'", ylabel="mean weight of the source in the x' bin", yscale="log")
ax.set_title("1. Weights average to one at every x'")
ax.legend(fontsize=8)

ax = axes[0, 1]
in_bin = np.abs(source[:, 1] - 1.0) < 0.25
in_bin_target = np.abs(target[:, 1] - 1.0) < 0.25
bins = np.linspace(-4, 4.4, 43)
d, d_target = source[:, 0] - source[:, 1], target[:, 0] - target[:, 1]
ax.hist(d_target[in_bin_target], bins, density=True, histtype="step", color="k", label="target")
ax.hist(d[in_bin], bins, density=True, histtype="step", color="0.6", label="source")
ax.hist(d[in_bin], bins, weights=w_cond[in_bin], density=True, histtype="step", label="weighted")
ax.set(xlabel="response x - x' at 0.75 < x' < 1.25", ylabel="density")
ax.set_title("1. The response at fixed x'")
ax.legend(fontsize=8)

# %%
# 2. A phase-space hole: no source events with :math:`|x'| < 0.5`. The weights at x' = 0, as a
# function of the response, for the three constructions.
hole = make_conditional_gaussians(n_events, source_hole=(-0.5, 0.5), random_state=0)
grid = np.linspace(-3, 3, 121)
at_zero = np.column_stack([grid, np.zeros_like(grid)])
ax = axes[1, 0]
ax.plot(grid, hole.weight_function(at_zero), "k-", label="exact")
for method in ("joint", "ratio", "marginal_then_conditional"):
    rw = ConditionalReweighter([1], method=method, random_state=0, **training)
    rw.fit(hole.X, hole.y)
    ax.plot(grid, rw.predict_weights(at_zero), label=method)
ax.set(xlabel="response x - x' at x' = 0 (inside the hole)", ylabel="w(x | x' = 0)")
ax.set(yscale="log", ylim=(1e-2, 1e7))
ax.set_title("2. Weights inside a phase-space hole")
ax.legend(fontsize=8)

# %%
# 3. Interpolation: truth only at 100 and 200 GeV. The network gets the response x/x' and x'.
response = make_conditional_response(n_events, random_state=0)


def features(X):
    return np.column_stack([X[:, 0] / X[:, 1], X[:, 1]])


rw = ConditionalReweighter([1], random_state=0, **training)
rw.fit(features(response.X), response.y)
at_150 = make_conditional_response(n_events, truth_values=[150.0], random_state=1)
src150, tgt150 = at_150.X[at_150.y == 0], at_150.X[at_150.y == 1]
r_src, r_tgt = src150[:, 0] / src150[:, 1], tgt150[:, 0] / tgt150[:, 1]
w150 = rw.predict_weights(features(src150))
ax = axes[1, 1]
bins = np.linspace(0.6, 1.4, 61)
ax.hist(r_tgt, bins, density=True, histtype="step", color="k", label="target at 150 GeV")
ax.hist(r_src, bins, density=True, histtype="step", color="0.6", label="source at 150 GeV")
ax.hist(r_src, bins, weights=w150, density=True, histtype="step", label="weighted source")
ax.set(xlabel="response x / x'", ylabel="density")
ax.set_title("3. Trained at 100 and 200 GeV, applied at 150 GeV")
ax.legend(fontsize=8)
mean, std = weighted_mean_std(r_src[:, None], w150)
print(
    f"150 GeV: weighted response mean {mean[0]:.4f} (target 1.02), width {std[0]:.4f} "
    f"(target {at_150.response_std(150.0):.4f}); mean weight {w150.mean():.3f}"
)

fig.tight_layout()
fig.savefig("conditional_reweighting.png", dpi=120)
print("wrote conditional_reweighting.png")
