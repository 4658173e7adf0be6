"""
OmniFold on Pythia 8: six e+e- -> Z -> hadrons observables unfolded at once
===========================================================================

Events from a real generator, unfolded the way the OmniFold paper (Andreassen, Komiske,
Metodiev, Nachman and Thaler, arXiv:1911.09107) does it, with iterative Bayesian unfolding (IBU,
D'Agostini) of each observable alone beside it:

- *Simulation*: e+e- -> Z -> hadrons (u, d, s, c, b) at 91.1876 GeV with Pythia 8 at its default
  (Monash) settings. *Data*: the same process with a lower final-state shower coupling,
  ``TimeShower:alphaSvalue = 0.125`` instead of 0.1365: fewer emissions, fewer hadrons, narrower
  events. The "data"'s generator truth is kept aside as the answer.
- *Truth level*: every final-state visible particle (neutrinos dropped).
- *A simple detector*: particles with ``|cos(theta)| < 0.95``, each seen with probability 0.9
  (charged) or 0.7 (neutral); the energy and momentum of a seen particle scaled by
  ``1 + sigma * N(0, 1)``, ``sigma = 2 %`` for charged tracks and ``15 %/sqrt(E/GeV) + 5 %``
  (summed in quadrature) for neutral clusters. An event is *recorded* only with at least 5
  charged particles seen and a visible energy above half the collision energy: the events that
  fail are the inefficiency (``pass_reco`` False), which both methods correct for.
- *Observables*, the same function at both levels: charged multiplicity, 1 - thrust, the
  C-parameter, -ln y23 (Durham, ``ee_kt``), the number of anti-kt jets (``ee_genkt`` with
  p = -1, R = 0.4, E > 5 GeV) and the mass of the most energetic of them (fastjet).

OmniFold unfolds all six from the "data" at detector level at once (the built-in network,
``N_ITERATIONS`` iterations; an ensemble with Poisson bootstrap of the data for the statistical
spread); IBU unfolds each observable on its own histogram with the simulation's response matrix
and the same number of iterations. Each unfolded shape is compared with the "data"'s truth by
a chi2/ndf over the bins (errors: the sum of squared weights of the unfolded histogram, IBU's
propagated data variance, and the truth's counts, in quadrature; a distance, not a test, as the
data and their truth are the same events) and by the Kolmogorov-Smirnov distance of the binned
CDFs, beside the same numbers for the simulation's own truth (the prior).

Run with ``python examples/unfolding/plot_omnifold_pythia.py [n_events]`` (events per sample;
default 10^5). Generation takes under a millisecond per event and the events (their observables
at both levels, and the detector selection) are cached in ``$SKHEP_REWEIGHT_CACHE`` or
``~/.cache/skhep_reweight/``; a rerun, or a run with fewer events, reads the cache. With
``SKHEP_REWEIGHT_QUICK=1`` it is a smoke run of seconds (2000 events, a small ensemble of short
trainings) whose numbers mean nothing. Needs ``pythia8mc`` (the Pythia 8 wheels, imported as
``pythia8mc``), ``fastjet`` and ``matplotlib``.
"""

# %%
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import awkward as ak
import fastjet
import matplotlib.pyplot as plt
import numpy as np
import pythia8mc

from skhep_reweight.unfold import OmniFold, iterative_bayesian_unfolding, response_matrix

QUICK = os.environ.get("SKHEP_REWEIGHT_QUICK") == "1"  # a smoke run (the tests set it)
n_events = int(sys.argv[1]) if len(sys.argv) > 1 else (2_000 if QUICK else 100_000)
N_ITERATIONS = 2 if QUICK else 4
N_ENSEMBLE = 2 if QUICK else 4  # bootstrap members: the statistical spread
# Larger batches and shorter patience than the defaults (1024, 10): 32 networks in about 15
# minutes on two cores at 10^5 events
training = {"max_epochs": 3} if QUICK else {"batch_size": 2048, "n_iter_no_change": 5}
CACHE = Path(os.environ.get("SKHEP_REWEIGHT_CACHE", Path.home() / ".cache" / "skhep_reweight"))

E_CM = 91.1876
PROCESS = [
    "Beams:idA = 11",
    "Beams:idB = -11",
    f"Beams:eCM = {E_CM}",
    "PDF:lepton = off",  # no initial-state photons: the full energy goes into the Z
    "WeakSingleBoson:ffbar2gmZ = on",
    "WeakZ0:gmZmode = 2",  # the Z only, no photon exchange
    "23:onMode = off",
    "23:onIfAny = 1 2 3 4 5",  # hadronic decays
    "Print:quiet = on",
    "Random:setSeed = on",
]
SAMPLES = {  # name: (extra Pythia settings, seed)
    "simulation": ([], 11),
    "data": (["TimeShower:alphaSvalue = 0.125"], 12),  # Monash default: 0.1365
}
DETECTOR = {
    "max_abs_cos_theta": 0.95,
    "efficiency_charged": 0.9,
    "efficiency_neutral": 0.7,
    "sigma_charged": 0.02,
    "sigma_neutral_stochastic": 0.15,  # sigma/E = 15 %/sqrt(E/GeV) (+) 5 %
    "sigma_neutral_constant": 0.05,
    "min_charged": 5,  # the event selection
    "min_visible_energy_fraction": 0.5,
}
JET_R, JET_MIN_E = 0.4, 5.0
NAMES = ["N_ch", "1 - T", "C", "-ln y23", "N_jets", "m_j1"]
LABELS = [
    "charged multiplicity",
    "1 - thrust",
    "C-parameter",
    "$-\\ln y_{23}$ (Durham)",
    f"anti-kt jets (R = {JET_R}, E > {JET_MIN_E:g} GeV)",
    "leading-jet mass [GeV]",
]
BINS = [  # the truth and reco binning of IBU and of the comparison; values are clipped into it
    np.arange(1.0, 52.0, 2.0),  # odd edges: one even multiplicity per truth bin
    np.linspace(0.0, 0.3, 25),
    np.linspace(0.0, 1.0, 26),
    np.linspace(0.0, 12.0, 25),
    np.arange(0.5, 8.5, 1.0),
    np.linspace(0.0, 16.0, 33),
]


# %%
# Generation: every visible final-state particle of each event, as flat arrays with the event
# sizes beside them.
def generate(settings: list[str], seed: int, n: int) -> dict:
    pythia = pythia8mc.Pythia("", False)
    for line in [*PROCESS, *settings, f"Random:seed = {seed}"]:
        pythia.readString(line)
    pythia.init()
    rows, counts = [], np.zeros(n, dtype=np.int64)
    for i in range(n):
        while not pythia.next():
            pass
        before = len(rows)
        rows.extend(
            (p.px(), p.py(), p.pz(), p.e(), p.isCharged())
            for p in pythia.event
            if p.isFinal() and p.isVisible()
        )
        counts[i] = len(rows) - before
    particles = np.array(rows, dtype=np.float64)
    return {"p4": particles[:, :4], "charged": particles[:, 4] > 0, "counts": counts}


def detector(truth: dict, seed: int) -> tuple[dict, np.ndarray]:
    """The detector-level particles of every event and whether the event is recorded."""
    rng = np.random.default_rng(seed)
    p4, charged, counts = truth["p4"], truth["charged"], truth["counts"]
    event = np.repeat(np.arange(counts.size), counts)
    p = np.linalg.norm(p4[:, :3], axis=1)
    cos_theta = p4[:, 2] / np.maximum(p, 1e-12)
    efficiency = np.where(charged, DETECTOR["efficiency_charged"], DETECTOR["efficiency_neutral"])
    seen = (np.abs(cos_theta) < DETECTOR["max_abs_cos_theta"]) & (rng.random(p.size) < efficiency)
    energy = p4[:, 3]
    sigma = np.where(
        charged,
        DETECTOR["sigma_charged"],
        np.hypot(
            DETECTOR["sigma_neutral_stochastic"] / np.sqrt(np.maximum(energy, 1e-3)),
            DETECTOR["sigma_neutral_constant"],
        ),
    )
    scale = np.maximum(1.0 + sigma * rng.standard_normal(p.size), 0.0)
    reco = {
        "p4": (p4 * scale[:, None])[seen],
        "charged": charged[seen],
        "counts": np.bincount(event[seen], minlength=counts.size),
    }
    n_charged = np.bincount(event[seen & charged], minlength=counts.size)
    visible = np.bincount(event[seen], weights=(scale * energy)[seen], minlength=counts.size)
    recorded = (n_charged >= DETECTOR["min_charged"]) & (
        visible >= DETECTOR["min_visible_energy_fraction"] * E_CM
    )
    return reco, recorded


# %%
# Observables, vectorized over events: thrust by the iteration n -> sum_i sign(p_i . n) p_i from
# the sign combinations of the four hardest particles (JETSET's method; it agrees with Pythia's
# exact Thrust class to 1e-6 in 99.8 % of events, at worst 7e-4), the C-parameter from the
# linearized momentum tensor, jets with fastjet.
def padded(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    width = max(int(counts.max()), 1)
    out = np.zeros((counts.size, width, values.shape[1]))
    slot = np.arange(values.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    out[np.repeat(np.arange(counts.size), counts), slot] = values
    return out


def thrust(p3: np.ndarray, n_seeds: int = 4, n_steps: int = 10) -> np.ndarray:
    magnitude = np.linalg.norm(p3, axis=2)
    hardest = np.argsort(-magnitude, axis=1)[:, :n_seeds]
    seeds = np.take_along_axis(p3, hardest[..., None], axis=1)
    k = seeds.shape[1]
    signs = np.array(np.meshgrid(*[[1.0, -1.0]] * (k - 1), indexing="ij")).reshape(k - 1, -1)
    axes = np.einsum("sk,nkd->nsd", np.vstack([np.ones(signs.shape[1]), signs]).T, seeds)
    for _ in range(n_steps):
        side = np.where(np.einsum("nsd,nmd->nsm", axes, p3) >= 0, 1.0, -1.0)
        axes = np.einsum("nsm,nmd->nsd", side, p3)
    axes /= np.maximum(np.linalg.norm(axes, axis=2, keepdims=True), 1e-300)
    projected = np.abs(np.einsum("nsd,nmd->nsm", axes, p3)).sum(axis=2).max(axis=1)
    return projected / np.maximum(magnitude.sum(axis=1), 1e-300)


def c_parameter(p3: np.ndarray) -> np.ndarray:
    magnitude = np.maximum(np.linalg.norm(p3, axis=2), 1e-300)
    tensor = np.einsum("nma,nmb->nab", p3 / magnitude[..., None], p3)
    tensor /= np.maximum(magnitude.sum(axis=1), 1e-300)[:, None, None]
    lam = np.linalg.eigvalsh(tensor)
    return 3.0 * (lam[:, 0] * lam[:, 1] + lam[:, 1] * lam[:, 2] + lam[:, 2] * lam[:, 0])


def observables(particles: dict, chunk: int = 4000) -> np.ndarray:
    p4, counts = particles["p4"], particles["counts"]
    event = np.repeat(np.arange(counts.size), counts)
    out = np.zeros((counts.size, len(NAMES)))
    out[:, 0] = np.bincount(event[particles["charged"]], minlength=counts.size)
    start = np.cumsum(counts) - counts
    order = np.argsort(counts)  # chunks of similar multiplicity: little padding
    for begin in range(0, counts.size, chunk):
        rows = order[begin : begin + chunk]
        index = np.concatenate([np.arange(start[r], start[r] + counts[r]) for r in rows])
        p3 = padded(p4[index, :3], counts[rows])
        out[rows, 1] = 1.0 - thrust(p3)
        out[rows, 2] = c_parameter(p3)
    vectors = ak.unflatten(
        ak.zip({"px": p4[:, 0], "py": p4[:, 1], "pz": p4[:, 2], "E": p4[:, 3]}), counts
    )
    durham = fastjet.ClusterSequence(vectors, fastjet.JetDefinition0Param(fastjet.ee_kt_algorithm))
    y23 = ak.to_numpy(ak.fill_none(durham.exclusive_ymerge_max(2), 0.0)).astype(np.float64)
    out[:, 3] = -np.log(np.maximum(y23, 1e-12))
    anti_kt = fastjet.JetDefinition(fastjet.ee_genkt_algorithm, JET_R, -1.0)
    jets = fastjet.ClusterSequence(vectors, anti_kt).inclusive_jets()
    jets = jets[jets.E > JET_MIN_E]
    out[:, 4] = ak.to_numpy(ak.num(jets))
    leading = ak.firsts(jets[ak.argmax(jets.E, axis=1, keepdims=True)])
    mass2 = leading.E**2 - leading.px**2 - leading.py**2 - leading.pz**2
    out[:, 5] = np.sqrt(np.maximum(ak.to_numpy(ak.fill_none(mass2, 0.0)), 0.0))
    return out


# %%
# The cache: one file per sample, keyed by everything that defines its events; a file with more
# events than asked for serves a smaller run (its first events).
def sample(name: str, n: int) -> dict:
    settings, seed = SAMPLES[name]
    key = json.dumps([PROCESS, settings, seed, DETECTOR, JET_R, JET_MIN_E, "v1"])
    stem = f"pythia_ee_z_{name}_{hashlib.sha1(key.encode()).hexdigest()[:10]}"
    for path in sorted(CACHE.glob(f"{stem}_*.npz"), key=lambda p: int(p.stem.split("_")[-1])):
        if int(path.stem.split("_")[-1]) >= n:
            with np.load(path) as cached:
                print(f"{name}: read {n} events from {path}")
                return {k: cached[k][:n] for k in ("gen", "reco", "recorded")}
    start = time.perf_counter()
    truth = generate(settings, seed, n)
    generated = time.perf_counter() - start
    reco, recorded = detector(truth, seed + 1000)
    events = {"gen": observables(truth), "reco": observables(reco), "recorded": recorded}
    print(
        f"{name}: generated {n} events in {generated:.1f} s ({1e3 * generated / n:.2f} ms "
        f"each), detector and observables in {time.perf_counter() - start - generated:.1f} s"
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(CACHE / f"{stem}_{n}.npz", **events)
    return events


sim, data = sample("simulation", n_events), sample("data", n_events)
pass_reco, X_gen = sim["recorded"], sim["gen"]
X_sim = np.where(pass_reco[:, None], sim["reco"], 0.0)  # rows failing pass_reco: placeholders
X_data, truth = data["reco"][data["recorded"]], data["gen"]
print(
    f"recorded: {pass_reco.mean():.3f} of the simulation, {data['recorded'].mean():.3f} of the "
    f"data ({X_data.shape[0]} events unfolded)"
)

# %%
# OmniFold: all six observables at once. Every ensemble member resamples the data (Poisson) and
# has its own seeds; the spread of the members is the statistical uncertainty.
start = time.perf_counter()
omnifold = OmniFold(
    n_iterations=N_ITERATIONS,
    # the 8 % of events that fail the detector selection: step 2 learns from the recorded ones
    # and extrapolates in the truth, IBU's update (the public code's "keep" needs many more
    # iterations to get as far)
    inefficiency="ibu",
    n_ensemble=N_ENSEMBLE,
    bootstrap=True,
    random_state=0,
    **training,
)
omnifold.fit(X_data, X_sim=X_sim, X_gen=X_gen, pass_reco=pass_reco)
omnifold_s = time.perf_counter() - start
print(
    f"OmniFold: {N_ITERATIONS} iterations x {N_ENSEMBLE} members in {omnifold_s:.0f} s; epochs "
    f"per network {omnifold.n_epochs_.min()}-{omnifold.n_epochs_.max()}"
)


# %%
# Histograms (as fractions of the total) and the two distances.
def clip(values, bins):
    """Under- and overflow into the first and last bins."""
    return np.clip(values, bins[0], np.nextafter(bins[-1], bins[0]))


def fractions(values, bins, weights=None):
    values = clip(values, bins)
    w = np.ones(values.size) if weights is None else weights
    total = w.sum()
    return np.histogram(values, bins, weights=w)[0] / total, np.sqrt(
        np.histogram(values, bins, weights=w * w)[0]
    ) / total


def chi2_ndf(h, err, h_truth, err_truth, n_truth):
    """Over the bins where either shape is non-zero; the truth's error is at least one count
    (IBU's propagated error vanishes in a bin that a single simulated event feeds)."""
    variance = err**2 + np.maximum(err_truth, 1.0 / n_truth) ** 2
    used = (h != 0) | (h_truth != 0)
    return float(np.sum((h - h_truth)[used] ** 2 / variance[used]) / used.sum())


def ks_binned(h, h_truth):
    return float(np.max(np.abs(np.cumsum(h) - np.cumsum(h_truth))))


results, curves = {}, {}
n_truth = truth.shape[0]
start = time.perf_counter()
for j, (name, bins) in enumerate(zip(NAMES, BINS, strict=True)):
    t, t_err = fractions(truth[:, j], bins)
    prior, prior_err = fractions(X_gen[:, j], bins)
    unfolded, unfolded_err = fractions(X_gen[:, j], bins, omnifold.unfolded_weights_)
    members = np.array(
        [fractions(X_gen[:, j], bins, w[-1, 1])[0] for w in omnifold.ensemble_weights_]
    )
    R, _, _, sim_truth = response_matrix(
        clip(X_gen[:, j], bins), clip(X_sim[:, j], bins), bins, bins, pass_reco=pass_reco
    )
    measured = np.histogram(clip(X_data[:, j], bins), bins)[0].astype(np.float64)
    # Truth bins that no recorded event comes from (fewer than 5 charged particles can never
    # pass the selection) say nothing to IBU: they keep the prior's share, as in OmniFold.
    seen = R.sum(axis=0) > 0
    ibu, ibu_var = sim_truth.astype(np.float64), np.zeros(len(bins) - 1)
    unfolded_seen, covariance = iterative_bayesian_unfolding(
        measured,
        R[:, seen],
        prior=sim_truth[seen],
        n_iterations=N_ITERATIONS,
        data_variance=measured,
    )
    ibu = ibu * unfolded_seen.sum() / ibu[seen].sum()
    ibu[seen], ibu_var[seen] = unfolded_seen, np.diag(covariance)
    ibu_err = np.sqrt(ibu_var) / ibu.sum()
    ibu = ibu / ibu.sum()
    spread = members.std(axis=0, ddof=1)
    results[name] = {
        "chi2_prior": chi2_ndf(prior, prior_err, t, t_err, n_truth),
        "chi2_omnifold": chi2_ndf(unfolded, unfolded_err, t, t_err, n_truth),
        "chi2_omnifold_members": [chi2_ndf(m, unfolded_err, t, t_err, n_truth) for m in members],
        "chi2_ibu": chi2_ndf(ibu, ibu_err, t, t_err, n_truth),
        "ks_prior": ks_binned(prior, t),
        "ks_omnifold": ks_binned(unfolded, t),
        "ks_omnifold_members": [ks_binned(m, t) for m in members],
        "ks_ibu": ks_binned(ibu, t),
        # the median relative error over the bins that hold at least 1 % of the truth
        "spread_omnifold": float(np.median(spread[t > 0.01] / unfolded[t > 0.01])),
        "stat_ibu": float(np.median(ibu_err[t > 0.01] / np.maximum(ibu[t > 0.01], 1e-12))),
    }
    curves[name] = {
        "truth": (t, t_err),
        "prior": (prior, prior_err),
        "omnifold": (unfolded, spread),
        "ibu": (ibu, ibu_err),
        "measured": (measured / measured.sum(), np.sqrt(measured) / measured.sum()),
    }
ibu_s = time.perf_counter() - start

# %%
# The table: distances to the "data"'s truth; OmniFold's with the standard deviation over the
# bootstrap members, and the median relative per-bin spread beside IBU's propagated error.
print(f"\n{n_events} events per sample, {N_ITERATIONS} iterations, {N_ENSEMBLE} bootstrap members")
header = (
    f"{'observable':<9} | {'chi2/ndf: prior':>15} {'OmniFold':>13} {'IBU':>7} | "
    f"{'KS: prior':>9} {'OmniFold':>15} {'IBU':>6} | {'rel. err: OF boot':>17} {'IBU':>6}"
)
print(header)
print("-" * len(header))
for name, r in results.items():
    print(
        f"{name:<9} | {r['chi2_prior']:>15.1f} "
        f"{r['chi2_omnifold']:>6.2f} ± {np.std(r['chi2_omnifold_members'], ddof=1):<4.2f} "
        f"{r['chi2_ibu']:>7.2f} | {r['ks_prior']:>9.4f} "
        f"{r['ks_omnifold']:>6.4f} ± {np.std(r['ks_omnifold_members'], ddof=1):.4f} "
        f"{r['ks_ibu']:>6.4f} | {r['spread_omnifold']:>17.4f} {r['stat_ibu']:>6.4f}"
    )
print(f"timing: OmniFold {omnifold_s:.0f} s, IBU and histograms {ibu_s:.1f} s")

# %%
# The figure: each observable's unfolded shapes over the truth, and their ratios to it.
fig = plt.figure(figsize=(15, 10))
cells = fig.add_gridspec(2, 3, hspace=0.25, wspace=0.25)
styles = {
    "truth": {"color": "k", "label": "data truth"},
    "prior": {"color": "0.6", "label": "simulation truth (prior)"},
    "omnifold": {"color": "C0", "label": "OmniFold (band: bootstrap)"},
    "ibu": {"color": "C3", "label": "IBU, per observable"},
    "measured": {"color": "C2", "ls": ":", "label": "data, detector level"},
}
for j, (name, bins) in enumerate(zip(NAMES, BINS, strict=True)):
    panels = cells[j // 3, j % 3].subgridspec(2, 1, height_ratios=[3, 1], hspace=0.05)
    top = fig.add_subplot(panels[0])
    bottom = fig.add_subplot(panels[1], sharex=top)
    centers = 0.5 * (bins[1:] + bins[:-1])
    t = curves[name]["truth"][0]

    def ratio(v, t=t):
        return np.divide(v, t, out=np.full_like(v, np.nan), where=t > 0)

    for key in ("measured", "prior", "truth", "omnifold"):
        h, err = curves[name][key]
        style = styles[key]
        top.stairs(h, bins, color=style["color"], ls=style.get("ls", "-"), label=style["label"])
        if key in ("prior", "omnifold"):
            bottom.stairs(ratio(h), bins, color=style["color"], ls=style.get("ls", "-"))
        if key == "omnifold":
            for axis, lo, hi in ((top, h - err, h + err), (bottom, ratio(h - err), ratio(h + err))):
                axis.stairs(hi, bins, baseline=lo, fill=True, color=style["color"], alpha=0.3)
    h, err = curves[name]["ibu"]
    top.errorbar(centers, h, err, fmt=".", **styles["ibu"])
    bottom.errorbar(centers, ratio(h), ratio(err), fmt=".", color=styles["ibu"]["color"])
    r = results[name]
    top.set_title(
        f"chi2/ndf: prior {r['chi2_prior']:.1f}, OmniFold {r['chi2_omnifold']:.2f}, "
        f"IBU {r['chi2_ibu']:.2f}",
        fontsize=9,
    )
    top.set_ylabel("fraction of events")
    top.tick_params(labelbottom=False)
    bottom.set(xlabel=LABELS[j], ylabel="/ truth", ylim=(0.7, 1.3))
    bottom.axhline(1.0, color="k", lw=0.5)
    if NAMES[j] == "N_jets":  # the panel with room for it
        top.legend(fontsize=8)
fig.suptitle(
    f"e+e- -> Z -> hadrons, Pythia 8: 'data' alpha_s(FSR) = 0.125, simulation 0.1365; "
    f"{n_events} events each",
    y=0.93,
)
fig.savefig("omnifold_pythia.png", dpi=110, bbox_inches="tight")
print("wrote omnifold_pythia.png")
