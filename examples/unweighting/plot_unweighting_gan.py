"""
Unweighting with a GAN: the camel back and the Gaussian ring
============================================================

Reproduces Figs. 1, 2 and 3 of Backes, Butter, Plehn and Winterhalder, "How to GAN Event
Unweighting" (arXiv:2012.07873, sections 2.1-2.3) with
:class:`~skhep_reweight.WeightedGANUnweighter`.

A weighted event sample {x, w} encodes a density P_T(x) = w(x) Q_T(x) partly in where the events
lie (Q_T) and partly in their weights. Hit-or-miss unweighting (eq. 3) keeps event i with
probability w_i / w_max, so only the share eps_uw = <w> / w_max of the events survives (eq. 4).
The unweighting GAN (uwGAN) uses all of them: its discriminator sees the training events with
their weights (eq. 8), its generator emits as many unit-weight events as wanted.

- Fig. 1, the camel back P(x) = 0.3 N(0, 0.5) + 0.7 N(2, 0.5) (eq. 9,
  :func:`~skhep_reweight.datasets.make_camel_back`) in the paper's three encodings: unweighted
  events (X_u, all the information in the events), uniform events on [-2, 4] with the camel as
  weight (X_w, all of it in the weights) and N(0, 1) events with weights P / N(0, 1) (X_hybrid,
  split between the two). Top: the training events, their weights and the weighted histogram;
  bottom: the GAN events of each encoding against the truth, with the ratio truth / GAN. One GAN
  is trained per encoding; all three should learn the same density.
- Fig. 2, the truth-correction weights of eq. (10): on fine bins (600 on [-2, 4]) the ratio
  w_G = P_T(bin) / P_G(bin) (:func:`~skhep_reweight.metrics.truth_correction_weights`) is the
  weight that would make the GAN events reproduce the truth exactly. Top: w_G as a function of x
  over the full range and in the bulk [-1, 3] (within two widths of either peak); bottom: the
  distribution of w_G over the GAN events. A perfect generator would scatter around one by the
  Poisson noise of the bins alone; the curve "exact sampler" shows that floor for a sample of
  the GAN's size drawn from P itself. The comparison is hit-or-miss on the uniform training
  sample: its few surviving events, binned the same way, scatter by far more. When the optional
  ``vegas`` package is installed, the weight distribution w / <w> of a VEGAS map adapted to P is
  drawn as well (for VEGAS events the weight *is* the truth correction); the paper adapts the
  map for 150 iterations. Its unweighting efficiency depends on the VEGAS settings (grid size,
  evaluations per iteration), so the value printed here need not match the paper's 0.75.
- Fig. 3, the Gaussian ring of eq. (11) (x0 = y0 = 0.5, r0 = 0.25, sigma = 0.05,
  :func:`~skhep_reweight.datasets.make_gaussian_ring`), trained on uniform events in the unit
  square weighted by P, a shape that VEGAS, which factorizes the dimensions, cannot map: the
  truth density, the asymmetry (truth - GAN) / (truth + GAN) per bin, a slice through y = 0.5
  (a band of half-width 0.005) and the truth-correction weights over the full square and in the
  bulk of the ring, r in [r0 - 2 sigma, r0 + 2 sigma].

What to look for: the GAN reproduces the bulk of each density at the per-cent level whatever
the encoding, and its deviations grow in the tails, where the training sample holds few events
(or little weight); there the truth corrections reach tens of per cent. They vary smoothly with
x: they are a systematic limit of the learned density, not bin-to-bin noise.

The paper trains on 10^6 events with 10^10 GAN and truth events; the default here is
2 x 10^5 training events per sample, 40 epochs and 50 GAN events per training event (10^7):
about 10 minutes on two idle CPU cores (an epoch takes 1-2 s for a camel GAN and 7 s for the
ring; sampling and binning the 4 x 10^7 GAN events and their references about 2 minutes) and
about 3 GB of memory. The network settings are the constants below. Run with

    python examples/unweighting/plot_unweighting_gan.py [n_events [max_epochs]]

``python examples/unweighting/plot_unweighting_gan.py 20000 2`` is a smoke run of about 20 s (its
GANs are far from converged); with the environment variable ``SKHEP_REWEIGHT_QUICK=1`` the
defaults shrink to 2000 events, 2 epochs and 10 VEGAS iterations of 1000 evaluations (seconds).
The plots need matplotlib (``pip install skhep_reweight[plot]``); the VEGAS curves need
``pip install vegas``.
"""

# %%
# Settings. The camel-back networks follow the paper's size (a generator of two layers of 32, a
# discriminator of three); the paper updates the discriminator ten times per generator step on
# 10^6 events, here five times, which keeps the number of generator steps (about 80 an epoch)
# up with the smaller sample. The ring needs a wider generator (the paper: eight layers of 256
# in both players).
import os
import sys
import time

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm

from skhep_reweight import WeightedGANUnweighter
from skhep_reweight.datasets import make_camel_back, make_gaussian_ring
from skhep_reweight.metrics import truth_correction_weights
from skhep_reweight.unweight import hit_or_miss, unweighting_efficiency

N_EVENTS = 200_000  # training events per camel encoding, and for the ring
MAX_EPOCHS = 40  # passes over the training events (cosine learning-rate decay to zero)
GENERATED_PER_EVENT = 50  # GAN events sampled per training event (10^7 by default)
LEARNING_RATE = 1e-3  # both players (Adam, betas 0.5 and 0.9)
DEVICE = "auto"  # "cpu", "cuda" or "auto"

CAMEL_GENERATOR = (64, 64, 64)  # generator hidden layers (the estimator's default)
CAMEL_DISCRIMINATOR = (64, 64, 64)  # discriminator hidden layers (the paper: 2 x 32 and 3 x 32)
CAMEL_N_CRITIC = 5  # discriminator steps per generator step (the paper: 10)
CAMEL_BATCH_SIZE = 512

RING_GENERATOR = (128, 128, 128, 128)
RING_DISCRIMINATOR = (128, 128, 128, 128)
RING_N_CRITIC = 5
RING_BATCH_SIZE = 1024

CAMEL_BINS = 600  # fine bins on [-2, 4] for the truth corrections (the paper: 2000 for 10^10)
CAMEL_BULK = (-1.0, 3.0)  # the camel without its tails: two widths around either peak
RING_BINS = 64  # bins per axis of the unit square for the ring
TOLERANCE = 0.03  # "within 3%": |w_G - 1| < TOLERANCE

VEGAS_ITERATIONS = 150  # adaptation steps of the optional VEGAS comparison
VEGAS_EVALUATIONS = 10_000  # integrand evaluations per adaptation step
SHOWN_WEIGHTS = 2000  # training events whose weights Fig. 1 draws

QUICK = os.environ.get("SKHEP_REWEIGHT_QUICK") == "1"  # a smoke run (the tests set it)
n_events = int(sys.argv[1]) if len(sys.argv) > 1 else (2_000 if QUICK else N_EVENTS)
max_epochs = int(sys.argv[2]) if len(sys.argv) > 2 else (2 if QUICK else MAX_EPOCHS)
vegas_iterations = 10 if QUICK else VEGAS_ITERATIONS
vegas_evaluations = 1_000 if QUICK else VEGAS_EVALUATIONS
n_generated = GENERATED_PER_EVENT * n_events

try:  # optional: the VEGAS weight distributions of Figs. 2 and 3
    import vegas
except ImportError:
    vegas = None


def train(X, sample_weight, generator, discriminator, n_critic, batch_size, label):
    """Fit one uwGAN and report how long it took."""
    start = time.perf_counter()
    gan = WeightedGANUnweighter(
        hidden_layer_sizes=generator,
        discriminator_layer_sizes=discriminator,
        n_critic=n_critic,
        learning_rate=LEARNING_RATE,
        batch_size=batch_size,
        max_epochs=max_epochs,
        device=DEVICE,
        random_state=0,
    )
    gan.fit(X, sample_weight=sample_weight)
    print(
        f"trained the {label} GAN ({len(X)} events, {max_epochs} epochs) in "
        f"{time.perf_counter() - start:.0f} s"
    )
    return gan


def within(w, mask=None):
    """Share of the events (inside the binned range, and inside ``mask``) with |w - 1| < 3%;
    NaN when there are none (a GAN trained briefly may leave a region empty)."""
    keep = np.isfinite(w) if mask is None else np.isfinite(w) & mask
    if not np.any(keep):
        return float("nan")
    return float(np.mean(np.abs(w[keep] - 1.0) < TOLERANCE))


def per_bin(values, w, edges):
    """The truth correction of each 1-D bin (all events of a bin share it); NaN for empty bins."""
    index = np.digitize(values, edges) - 1
    ok = np.isfinite(w) & (index >= 0) & (index < len(edges) - 1)
    total = np.bincount(index[ok], weights=w[ok], minlength=len(edges) - 1)
    count = np.bincount(index[ok], minlength=len(edges) - 1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def exact_sample(maker, n, seed, chunk=1_000_000, **kwargs):
    """n unweighted events from the true density, drawn in chunks to bound the memory."""
    parts = [
        maker(min(chunk, n - start), encoding="unweighted", random_state=seed + i, **kwargs).X
        for i, start in enumerate(range(0, n, chunk))
    ]
    return np.concatenate(parts)


def vegas_weights(density, ranges, n, seed):
    """n events x through a VEGAS map adapted to ``density`` and their weights w / <w> (None,
    None without vegas). An event y uniform in the unit cube is mapped to x(y) with weight
    |dx/dy| P(x)."""
    if vegas is None:
        return None, None
    rng = np.random.RandomState(seed)
    integrator = vegas.Integrator(ranges, ran_array_generator=lambda size: rng.uniform(size=size))
    integrator(
        vegas.lbatchintegrand(lambda x: density(np.asarray(x))),
        nitn=vegas_iterations,
        neval=vegas_evaluations,
    )
    y = rng.uniform(size=(n, len(ranges)))
    x = np.asarray(integrator.map(y))
    w = np.asarray(integrator.map.jac(y)) * density(x)
    return x, w / w.mean()


# %%
# The camel back: one training sample and one GAN per encoding, and 10^7 GAN events of each.
encodings = {"unweighted": "X_u: unweighted", "uniform": "X_w: uniform", "hybrid": "X_hybrid"}
camel = {
    name: make_camel_back(n_events, encoding=name, random_state=seed)
    for seed, name in enumerate(encodings)
}
truth = camel["uniform"]
(camel_range,) = truth.range
camel_gans = {
    name: train(
        data.X,
        data.sample_weight,
        CAMEL_GENERATOR,
        CAMEL_DISCRIMINATOR,
        CAMEL_N_CRITIC,
        CAMEL_BATCH_SIZE,
        f"camel {name}",
    )
    for name, data in camel.items()
}
generated = {
    name: gan.sample(n_generated, random_state=10 + i)[:, 0]
    for i, (name, gan) in enumerate(camel_gans.items())
}

# %%
# Truth corrections (eq. 10) on the fine bins, from the exact density; the same for hit-or-miss
# events of each training sample and for an exact sample of the GAN's size.
edges = np.linspace(*camel_range, CAMEL_BINS + 1)


def camel_corrections(values):
    return truth_correction_weights(
        values[:, None], truth.density, bins=CAMEL_BINS, range=truth.range
    )


corrections = {name: camel_corrections(x) for name, x in generated.items()}
exact_camel = exact_sample(make_camel_back, n_generated, seed=100)[:, 0]
corrections_exact = camel_corrections(exact_camel)
kept = hit_or_miss(truth.sample_weight, random_state=3)
hit_or_miss_camel = truth.X[kept, 0]
corrections_hit_or_miss = camel_corrections(hit_or_miss_camel)
vegas_camel_x, vegas_camel = vegas_weights(truth.density, truth.range, n_generated, seed=4)

cdf_one = float(truth.cdf(1.0))
print()
print(
    f"camel back: exact share below x = 1, cdf(1) = 0.3 Phi(2) + 0.7 Phi(-2) = {cdf_one:.4f}; "
    "the implied first-peak fraction f solves f Phi(2) + (1 - f) Phi(-2) = share"
)
print(
    f"{'encoding':12s} {'eps_uw':>7s} {'train<1':>8s} {'GAN<1':>7s} {'f':>6s} {'1-f':>6s} "
    f"{'|w_G-1|<3%':>11s} {'bulk':>6s} {'outside':>8s}"
)
# x = 1 lies two widths above the first peak and two below the second
phi_plus, phi_minus = norm.cdf(2.0), norm.cdf(-2.0)
bulk_mask = {}
for name, data in camel.items():
    x, w = data.X[:, 0], data.sample_weight
    train_share = float(np.average(x < 1.0, weights=w))
    gan_x = generated[name]
    share = float(np.mean(gan_x < 1.0))
    fraction = (share - phi_minus) / (phi_plus - phi_minus)
    bulk_mask[name] = (gan_x > CAMEL_BULK[0]) & (gan_x < CAMEL_BULK[1])
    outside = float(np.mean(~np.isfinite(corrections[name])))
    print(
        f"{name:12s} {unweighting_efficiency(w):7.4f} {train_share:8.4f} {share:7.4f} "
        f"{fraction:6.3f} {1 - fraction:6.3f} {within(corrections[name]):11.3f} "
        f"{within(corrections[name], bulk_mask[name]):6.3f} {outside:8.1e}"
    )
exact_bulk = (exact_camel > CAMEL_BULK[0]) & (exact_camel < CAMEL_BULK[1])
share = float(np.mean(exact_camel < 1.0))
fraction = (share - phi_minus) / (phi_plus - phi_minus)
print(
    f"{'exact P':12s} {'':7s} {'':8s} {share:7.4f} {fraction:6.3f} {1 - fraction:6.3f} "
    f"{within(corrections_exact):11.3f} {within(corrections_exact, exact_bulk):6.3f}"
    f"   (a sample of P of the GAN's size: the Poisson floor)"
)
hom_bulk = (hit_or_miss_camel > CAMEL_BULK[0]) & (hit_or_miss_camel < CAMEL_BULK[1])
print(
    f"hit-or-miss on the uniform sample keeps {kept.sum()} of {n_events} events "
    f"(eps_uw = {unweighting_efficiency(truth.sample_weight):.4f}); their truth corrections "
    f"within 3%: {within(corrections_hit_or_miss):.3f} "
    f"(bulk {within(corrections_hit_or_miss, hom_bulk):.3f})"
)
if vegas_camel is not None:
    print(
        f"VEGAS map ({vegas_iterations} iterations): eps_uw = "
        f"{unweighting_efficiency(vegas_camel):.4f}, weights within 3% of one: "
        f"{within(vegas_camel):.3f}"
    )

# %%
# Fig. 1: training data (top) and GAN events against the truth (bottom), one column per
# encoding. Top: the events' own histogram Q_T, the weighted histogram w Q_T that stands for P,
# and (right axis) the weights of 2000 of the events (all of them in a smaller sample).
fig = plt.figure(figsize=(15, 9))
grid = fig.add_gridspec(2, 3, hspace=0.3, wspace=0.4)
coarse = np.linspace(*camel_range, 61)
centres = 0.5 * (coarse[1:] + coarse[:-1])
truth_binned = np.diff(truth.cdf(coarse)) / np.diff(coarse)
curve = np.linspace(-3.0, 5.0, 400)
for column, (name, label) in enumerate(encodings.items()):
    data = camel[name]
    x, w = data.X[:, 0], data.sample_weight
    ax = fig.add_subplot(grid[0, column])
    ax.hist(x, np.linspace(-4.0, 6.0, 101), density=True, color="0.8", label="events Q_T")
    ax.hist(
        x,
        np.linspace(-4.0, 6.0, 101),
        weights=w / w.sum() / 0.1,
        histtype="step",
        color="C0",
        label="weighted events w Q_T",
    )
    ax.plot(curve, truth.density(curve[:, None]), "k--", lw=1, label="truth P")
    ax.set(xlabel="x", ylabel="density", xlim=(-4.0, 6.0))
    ax.set_title(f"training data, {label}")
    weight_axis = ax.twinx()
    shown = np.random.RandomState(5).choice(len(x), min(SHOWN_WEIGHTS, len(x)), replace=False)
    weight_axis.plot(x[shown], w[shown], ".", color="C3", ms=2)
    weight_axis.set_ylabel("weight w", color="C3")
    weight_axis.set_ylim(0.0, 1.4 * w.max())
    ax.plot([], [], ".", color="C3", label="weights (right axis)")
    ax.legend(fontsize=7, loc="upper left")

    panels = grid[1, column].subgridspec(2, 1, height_ratios=[3, 1], hspace=0.08)
    top = fig.add_subplot(panels[0])
    bottom = fig.add_subplot(panels[1], sharex=top)
    counts, _ = np.histogram(generated[name], coarse)
    gan_binned = counts / n_generated / np.diff(coarse)
    top.stairs(truth_binned, coarse, color="k", label="truth")
    top.stairs(gan_binned, coarse, color="C1", ls="--", label="uwGAN")
    top.set(ylabel="density")
    top.set_title(f"uwGAN trained on {label}")
    top.legend(fontsize=8)
    top.tick_params(labelbottom=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        bottom.plot(centres, truth_binned / gan_binned, "o", color="C1", ms=3)
    bottom.axhline(1.0, color="k", lw=0.8)
    bottom.set(xlabel="x", ylabel="truth / GAN", ylim=(0.7, 1.3), xlim=camel_range)
fig.savefig("unweighting_gan_camel.png", dpi=100, bbox_inches="tight")
print("wrote unweighting_gan_camel.png")

# %%
# Fig. 2: the truth correction of each fine bin as a function of x (top; the grey band is
# +-3%), and its distribution over the GAN events (bottom), with the hit-or-miss events, an
# exact sample of the GAN's size and, with vegas installed, the VEGAS weights. Values outside
# the histogram's range are drawn in its first and last bins.
fig, axes = plt.subplots(2, 2, figsize=(12, 9))
fine_centres = 0.5 * (edges[1:] + edges[:-1])
for ax, (lo, hi), ylim, title in (
    (axes[0, 0], camel_range, (0.5, 1.5), "(a) full range"),
    (axes[0, 1], CAMEL_BULK, (0.9, 1.1), f"(b) bulk, x in [{CAMEL_BULK[0]:g}, {CAMEL_BULK[1]:g}]"),
):
    inside = (fine_centres > lo) & (fine_centres < hi)
    ax.axhspan(1 - TOLERANCE, 1 + TOLERANCE, color="0.9")
    for i, (name, label) in enumerate(encodings.items()):
        ratio = per_bin(generated[name], corrections[name], edges)
        ax.plot(fine_centres[inside], ratio[inside], color=f"C{i}", lw=0.8, label=label)
    ratio = per_bin(exact_camel, corrections_exact, edges)
    ax.plot(fine_centres[inside], ratio[inside], color="k", lw=0.5, label="exact sampler")
    ax.axhline(1.0, color="k", ls=":", lw=0.8)
    ax.set(xlabel="x", ylabel="truth correction w_G = P_T / P_G", ylim=ylim, xlim=(lo, hi))
    ax.set_title(title)
    ax.legend(fontsize=8)

correction_bins = np.linspace(0.5, 1.5, 101)


def correction_hist(ax, w, mask=None, **style):
    """Histogram of truth corrections as a share of the events, the overflow in the edge bins."""
    keep = np.isfinite(w) if mask is None else np.isfinite(w) & mask
    if not np.any(keep):  # nothing to draw; keep the entry in the legend
        ax.plot([], [], **{**style, "label": style.get("label", "") + " (no events)"})
        return
    values = np.clip(w[keep], correction_bins[0], correction_bins[-1])
    ax.hist(
        values,
        correction_bins,
        weights=np.full(values.size, 1.0 / values.size),
        histtype="step",
        **style,
    )


for ax, bulk, title in (
    (axes[1, 0], False, "(c) truth corrections, full range"),
    (axes[1, 1], True, "(d) truth corrections, bulk"),
):
    for i, (name, label) in enumerate(encodings.items()):
        correction_hist(
            ax,
            corrections[name],
            bulk_mask[name] if bulk else None,
            color=f"C{i}",
            label=f"uwGAN, {label}",
        )
    correction_hist(
        ax,
        corrections_exact,
        exact_bulk if bulk else None,
        color="k",
        lw=0.8,
        label="exact sampler, as many events",
    )
    correction_hist(
        ax,
        corrections_hit_or_miss,
        hom_bulk if bulk else None,
        color="0.5",
        ls="--",
        label=f"hit-or-miss of X_w ({kept.sum()} events)",
    )
    if vegas_camel is not None:
        vegas_bulk = (vegas_camel_x[:, 0] > CAMEL_BULK[0]) & (vegas_camel_x[:, 0] < CAMEL_BULK[1])
        correction_hist(
            ax,
            vegas_camel,
            vegas_bulk if bulk else None,
            color="C4",
            ls=":",
            label="VEGAS weights w / <w>",
        )
    ax.axvspan(1 - TOLERANCE, 1 + TOLERANCE, color="0.9", zorder=0)
    ax.set(xlabel="truth correction w_G", ylabel="share of events", yscale="log")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left")
fig.tight_layout()
fig.savefig("unweighting_gan_truth_correction.png", dpi=100)
print("wrote unweighting_gan_truth_correction.png")

# %%
# The Gaussian ring: uniform events in the unit square weighted by P (eq. 11), one GAN.
ring = make_gaussian_ring(n_events, encoding="uniform", random_state=20)
x0 = y0 = 0.5
r0, sigma = 0.25, 0.05
ring_gan = train(
    ring.X,
    ring.sample_weight,
    RING_GENERATOR,
    RING_DISCRIMINATOR,
    RING_N_CRITIC,
    RING_BATCH_SIZE,
    "ring",
)
ring_generated = ring_gan.sample(n_generated, random_state=21)


def ring_corrections(X):
    return truth_correction_weights(X, ring.density, bins=RING_BINS, range=ring.range)


def bulk_of_ring(X):
    r = np.hypot(X[:, 0] - x0, X[:, 1] - y0)
    return (r > r0 - 2 * sigma) & (r < r0 + 2 * sigma)


ring_w = ring_corrections(ring_generated)
ring_exact = exact_sample(make_gaussian_ring, n_generated, seed=200)
ring_w_exact = ring_corrections(ring_exact)
ring_kept = hit_or_miss(ring.sample_weight, random_state=22)
ring_hit_or_miss = ring.X[ring_kept]
ring_w_hit_or_miss = ring_corrections(ring_hit_or_miss)
_, vegas_ring = vegas_weights(ring.density, ring.range, n_generated, seed=23)

radius = np.hypot(ring_generated[:, 0] - x0, ring_generated[:, 1] - y0)
print()
print(
    f"Gaussian ring: hit-or-miss efficiency of the uniform sample eps_uw = "
    f"{unweighting_efficiency(ring.sample_weight):.4f} ({ring_kept.sum()} of {n_events} kept); "
    f"mean radius of the GAN events {radius.mean():.4f} (exact r0 + sigma^2 / r0 = "
    f"{r0 + sigma**2 / r0:.4f})"
)
for label, X, w in (
    ("uwGAN", ring_generated, ring_w),
    ("exact sampler (Poisson floor)", ring_exact, ring_w_exact),
    ("hit-or-miss events", ring_hit_or_miss, ring_w_hit_or_miss),
):
    print(
        f"  {label:30s} truth corrections within 3%: {within(w):.3f} (full square), "
        f"{within(w, bulk_of_ring(X)):.3f} (bulk of the ring)"
    )
if vegas_ring is not None:
    print(
        f"  VEGAS map: eps_uw = {unweighting_efficiency(vegas_ring):.4f}, weights within 3%: "
        f"{within(vegas_ring):.3f}"
    )

# %%
# Fig. 3: the truth density (a); the asymmetry (truth - GAN) / (truth + GAN) per bin (b), the
# truth probability of a bin from the density at its centre (the colour scale is far coarser
# than that rule's error), blank where neither the truth expects one GAN event nor the GAN put
# one; the slice y = 0.5 (c); the truth corrections over the square and in the bulk (d).
fig, axes = plt.subplots(2, 2, figsize=(12, 10))
square = np.linspace(0.0, 1.0, RING_BINS + 1)
mid = 0.5 * (square[1:] + square[:-1])
gx, gy = np.meshgrid(mid, mid, indexing="ij")
density_grid = ring.density(np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
image = axes[0, 0].imshow(density_grid.T, origin="lower", extent=(0, 1, 0, 1), cmap="viridis")
fig.colorbar(image, ax=axes[0, 0], label="P(x, y)")
axes[0, 0].set(xlabel="x", ylabel="y", title="(a) truth")

truth_share = density_grid / density_grid.sum()
gan_counts, _, _ = np.histogram2d(ring_generated[:, 0], ring_generated[:, 1], (square, square))
gan_share = gan_counts / n_generated
populated = (truth_share * n_generated >= 1.0) | (gan_counts > 0)
with np.errstate(invalid="ignore"):
    asymmetry = np.where(populated, (truth_share - gan_share) / (truth_share + gan_share), np.nan)
image = axes[0, 1].imshow(
    asymmetry.T, origin="lower", extent=(0, 1, 0, 1), cmap="RdBu_r", vmin=-0.3, vmax=0.3
)
fig.colorbar(image, ax=axes[0, 1], label="(truth - GAN) / (truth + GAN)")
axes[0, 1].set(xlabel="x", ylabel="y", title="(b) asymmetry truth vs uwGAN")

half_width = 0.005
slice_bins = np.linspace(0.0, 1.0, 101)
band = np.abs(ring_generated[:, 1] - y0) < half_width
counts, _ = np.histogram(ring_generated[band, 0], slice_bins)
ax = axes[1, 0]
line = np.linspace(0.0, 1.0, 500)
ax.plot(line, ring.density(np.column_stack([line, np.full_like(line, y0)])), "k", label="truth")
ax.stairs(
    counts / n_generated / np.diff(slice_bins) / (2 * half_width),
    slice_bins,
    color="C1",
    ls="--",
    label=f"uwGAN, |y - 0.5| < {half_width:g}",
)
ax.set(xlabel="x", ylabel="P(x, y = 0.5)", yscale="log", ylim=(1e-3, 20), xlim=(0, 1))
ax.set_title("(c) slice at y = 0.5")
ax.legend(fontsize=8)

ax = axes[1, 1]
correction_hist(ax, ring_w, color="C1", label="uwGAN, full square")
correction_hist(
    ax,
    ring_w,
    bulk_of_ring(ring_generated),
    color="C1",
    ls=":",
    label="uwGAN, bulk r in [r0 - 2 sigma, r0 + 2 sigma]",
)
correction_hist(ax, ring_w_exact, color="k", lw=0.8, label="exact sampler, as many events")
correction_hist(
    ax, ring_w_hit_or_miss, color="0.5", ls="--", label=f"hit-or-miss ({ring_kept.sum()} events)"
)
if vegas_ring is not None:
    correction_hist(ax, vegas_ring, color="C4", ls="-.", label="VEGAS weights w / <w>")
ax.axvspan(1 - TOLERANCE, 1 + TOLERANCE, color="0.9", zorder=0)
ax.set(xlabel="truth correction w_G", ylabel="share of events", yscale="log")
ax.set_title("(d) truth corrections")
ax.legend(fontsize=7, loc="upper left")
fig.tight_layout()
fig.savefig("unweighting_gan_ring.png", dpi=100)
print("wrote unweighting_gan_ring.png")
