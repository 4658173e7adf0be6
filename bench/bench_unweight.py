"""WeightedGANUnweighter against hit-or-miss and VEGAS: the examples of "How to GAN Event
Unweighting" (Backes, Butter, Plehn, Winterhalder, arXiv:2012.07873), sections 2.2, 2.3 and 3,
and the throughput of each method.

Sections (``--sections``, comma list; all by default):

* ``camel`` (section 2.2): the 1-D camel back P = 0.3 N(0, 0.5) + 0.7 N(2, 0.5).
  ``WeightedGANUnweighter`` trained on ``--n-camel`` weighted events (``--camel-encoding``,
  default "uniform": x uniform on [-2, 4], w = 6 P(x)) generates ``--n-generate`` events. Their
  truth-correction weights w_G = P_T / P_G (eq. 10, ``metrics.truth_correction_weights``) with the
  exact density on 2000 bins over [-2, 4] (the paper's binning), over the full range and on the
  bulk x in [-1, 3] (the same weights, renormalized to mean 1 over the bulk events: a deficit in
  the tails would otherwise shift every bulk weight; the factor is recorded). Reported: the share
  of events with |w_G - 1| < 3 % (the paper: "the vast majority", and in the bulk "literally
  all"), the 5 %, 50 % and 95 % quantiles of w_G, the share of events outside the binned range,
  and the share of events below x = 1 (the first peak) against the exact cdf(1). The same
  numbers for an exact sample of as many events (drawn from P) give the floor that the bins'
  Poisson noise sets. VEGAS (the ``vegas`` package; rows skipped with a note when it is
  missing or with ``--skip-vegas``) adapts its grid to the same integrand on [-2, 4]
  (``--vegas-nitn`` iterations of ``--vegas-neval`` evaluations; the paper used 150 adaption
  steps), then gives weighted events w = f(x) * (its weight) in two ways: "VEGAS map", y
  uniform in [0, 1] through the adapted map alone (weight = Jacobian: importance sampling by the
  grid, eq. 5), and "VEGAS map + strata", the integration points of its adaptive stratified
  sampling (``Integrator.random_batch``, whole iterations until ``--n-generate`` points).
  Reported: the unweighting efficiency <w> / w_max (eq. 4) and the spread of w / <w> (the
  analogue of the truth corrections: for VEGAS they are the weights hit-or-miss must remove).
* ``ring`` (section 2.3): the 2-D Gaussian ring (x0 = y0 = 0.5, r0 = 0.25, sigma = 0.05),
  ``--n-ring`` weighted events uniform in the unit square, a larger GAN (``--ring-layers``;
  the paper: 8 layers of 256). Truth corrections on 100 x 100 bins of the unit square, over all
  events and on the bulk r in [r0 - 2 sigma, r0 + 2 sigma] (renormalized as above), the share
  of events in the bulk against the exact share, and the asymmetry (truth - GAN) / (truth + GAN)
  per bin (the paper's Fig. 3; truth = the exact bin probability, integrated by the same
  Gauss-Legendre rule as ``metrics.truth_correction_weights``): its median and 90 % quantile of
  |A| over the bins whose centre lies in the bulk, and its median over all bins with truth or
  events. VEGAS on the same integrand as for the camel back: its grid factorizes in x and y, so
  it cannot follow the ring (the paper's point).
* ``bw`` (a stand-in for Drell-Yan, section 3): ``make_breit_wigner`` (m uniform in
  [50, 250] GeV, cos theta uniform, weights over five orders of magnitude), ``--n-bw`` events.
  Side by side: the exact values (from ``mass_cdf``), the weighted training sample itself, an
  exact sample of m (inverse cdf; the noise floor), hit-or-miss on the training events (it keeps
  n <w> / w_max of them), and ``--n-bw-generate`` events from the GAN without and with the
  weighted MMD (eq. 19, 20; on m only, narrow kernels). For each: the share of events with
  |m - M| < Gamma, the median of m, and within the window 80-100 GeV the median and the
  half-width (half the distance between the 25 % and 75 % quantiles of m), and the truth
  corrections on 100 bins of m over [80, 100] GeV (exact bin probabilities from ``mass_cdf``;
  events outside get none): share within 3 % and quantiles.
* ``throughput``: events per second of ``WeightedGANUnweighter.sample`` for every GAN trained in
  this run (median of ``--repeats`` calls of ``--n-throughput`` events after a warm-up; on the
  CPU with ``--threads`` threads; with ``--device cuda`` also on the GPU), the time of its latent
  noise alone (numpy float64 normals, cast to float32, as ``sample`` draws them), next to
  hit-or-miss on already weighted samples (camel back, uniform encoding; Breit-Wigner): weighted
  events per second processed and unweighted events per second kept. The cost of producing the
  weighted events (the matrix elements) is not included. Then the training time of every GAN
  (wall clock of ``fit``, epochs run, seconds per epoch). If no GAN was trained in this run, the
  section fits a stand-in of each architecture for one epoch on 4096 events (the sampling speed
  does not depend on the training).

The GAN hyperparameters are the constants CAMEL_GAN, RING_GAN, BW_GAN and BW_MMD below (the
estimator's defaults, chosen on the camel back; the ring and the Breit-Wigner are not
tuned). The default sizes are the paper-size run (a GPU or a long CPU run) with a smaller ring
network (4 x 128); ``--full`` also gives the ring the paper's 8 x 256 networks;
``--quick`` shrinks every size and runs 2 epochs per GAN, a smoke test whose numbers mean
nothing. Timing uses ``time.perf_counter`` with ``torch.cuda.synchronize`` around GPU work
(``_common.timed``); one untimed tiny fit first pays for the one-time set-up.

Run ``python bench/bench_unweight.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import copy

import numpy as np
from _common import Run, Size, markdown_table, median, run, timed
from scipy.special import erf

from skhep_reweight import WeightedGANUnweighter
from skhep_reweight.datasets import make_breit_wigner, make_camel_back, make_gaussian_ring
from skhep_reweight.metrics import _binned_density, truth_correction_weights
from skhep_reweight.unweight import hit_or_miss, unweighting_efficiency

# ------------------------------------------------------------------ GAN hyperparameters
# Keys are WeightedGANUnweighter parameters; max_epochs is the default of the matching
# --max-epochs-* option. latent_dim None: max(2, n_features). The estimator's defaults (3 x 64
# SiLU generator, 3 x 64 leaky-ReLU discriminator without spectral normalization, 5 critic
# steps per generator step, batch 2048, Adam lr 1e-3 on a cosine over 200 epochs) come from a
# one-factor study on the camel back at 2x10^5 events (issue 19; the table is in
# bench/README.md); the paper's camel networks (2 x 32 and 3 x 32, 10 critic steps) did no
# better there.

# Camel back (section 2.2): 150 epochs of batch 2048 at 10^6 events (about 14,600 generator
# steps) fit in about 12 minutes on one core.
CAMEL_GAN = {"max_epochs": 150}
# Gaussian ring (section 2.3): the paper uses 8 layers of 256 in both networks (--full); the
# default here is 4 x 128, for both networks.
RING_LAYERS = (128,) * 4
PAPER_RING_LAYERS = (256,) * 8
RING_GAN = {"max_epochs": 80}
# Breit-Wigner (section 3; the paper's Table 1 has 6 layers of 414 / 187 units, 2 critic
# updates per generator update, batch 1265, 500 epochs): the estimator's defaults.
BW_GAN = {"max_epochs": 80}
# The weighted MMD (eq. 19, 20) on m only, with kernels narrow enough for the peak: widths in
# units of m's weighted standard deviation (about 9 GeV here), i.e. about 0.2, 0.45, 1.8 GeV
# against Gamma = 2.5 GeV. The paper's lambda is 2.37.
# Batch 512: the MMD's kernel matrices grow with the square of the batch, and at the default
# 2048 one fit ran past 230 s where batch 512 took 40 s.
BW_MMD = {
    "mmd_weight": 1.0,
    "mmd_columns": (0,),
    "mmd_kernel_widths": (0.02, 0.05, 0.2),
    "batch_size": 512,
}

# ------------------------------------------------------------------ problems and sizes
CAMEL_RANGE = (-2.0, 4.0)
CAMEL_BINS = 2000  # the paper's truth binning
CAMEL_BULK = (-1.0, 3.0)
CAMEL_PEAK_CUT = 1.0  # share below it: the first peak
RING_CENTER = (0.5, 0.5)
RING_RADIUS = 0.25
RING_WIDTH = 0.05
RING_BINS = 100
BW_MASS = 91.1876
BW_GAMMA = 2.4952
BW_WINDOW = (80.0, 100.0)
BW_BINS = 100
TOLERANCE = 0.03  # the paper's 3 % on the truth corrections
QUANTILES = (0.05, 0.5, 0.95)
STAND_IN_EVENTS = 4096


def _layers(text: str) -> tuple[int, ...]:
    """``256x8`` or ``128,128,64``."""
    try:
        if "x" in text:
            width, depth = text.split("x")
            layers = (int(width),) * int(depth)
        else:
            layers = tuple(int(v) for v in text.split(","))
    except ValueError:
        layers = ()
    if not layers or min(layers) < 1:
        raise argparse.ArgumentTypeError(f"expected WIDTHxDEPTH or a comma list, got {text!r}")
    return layers


SIZES = {
    "n_camel": Size("weighted camel-back training events", 5_000, 1_000_000, 1_000_000),
    "n_generate": Size(
        "GAN, exact and VEGAS events of the camel and ring sections", 50_000, 10**7, 10**7
    ),
    "n_ring": Size("weighted ring training events", 5_000, 1_000_000, 1_000_000),
    "n_bw": Size(
        "weighted Breit-Wigner events (training and hit-or-miss)", 5_000, 500_000, 500_000
    ),
    "n_bw_generate": Size(
        "events per Breit-Wigner GAN (and the exact sample)", 50_000, 1_000_000, 1_000_000
    ),
    "n_throughput": Size(
        "events per timed call in the throughput section", 50_000, 1_000_000, 1_000_000
    ),
    "max_epochs_camel": Size(
        "epochs of the camel GAN", 2, CAMEL_GAN["max_epochs"], CAMEL_GAN["max_epochs"]
    ),
    "max_epochs_ring": Size(
        "epochs of the ring GAN", 2, RING_GAN["max_epochs"], RING_GAN["max_epochs"]
    ),
    "max_epochs_bw": Size(
        "epochs of each Breit-Wigner GAN", 2, BW_GAN["max_epochs"], BW_GAN["max_epochs"]
    ),
    "ring_layers": Size(
        "layers of both ring networks, WIDTHxDEPTH or a comma list",
        RING_LAYERS,
        RING_LAYERS,
        PAPER_RING_LAYERS,
        type=_layers,
    ),
    "vegas_nitn": Size("VEGAS adaption iterations", 10, 150, 150),
    "vegas_neval": Size("VEGAS evaluations per iteration", 2_000, 10_000, 10_000),
    "repeats": Size("timed calls per throughput row", 1, 3, 3),
}


# ------------------------------------------------------------------ helpers
def _fmt(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _spread(w: np.ndarray) -> dict:
    """Share of weights within TOLERANCE of one, their quantiles and median |w - 1|."""
    w = np.asarray(w, dtype=np.float64)
    if w.size == 0:  # a badly trained generator may put nothing in a region
        return {
            "events": 0,
            "within_tolerance": None,
            **{f"q{round(100 * p):02d}": None for p in QUANTILES},
            "median_abs_deviation": None,
        }
    q = np.quantile(w, QUANTILES)
    return {
        "events": int(w.size),
        "within_tolerance": float(np.mean(np.abs(w - 1) < TOLERANCE)),
        **{f"q{round(100 * p):02d}": float(v) for p, v in zip(QUANTILES, q, strict=True)},
        "median_abs_deviation": float(np.median(np.abs(w - 1))),
    }


def _truth_corrections(X: np.ndarray, truth, **options) -> np.ndarray:
    """metrics.truth_correction_weights, NaN for every event when none falls in the bins."""
    try:
        return truth_correction_weights(X, truth, **options)
    except ValueError as exc:
        print(f"no truth corrections: {exc}", flush=True)
        return np.full(X.shape[0], np.nan)


def _weighted_quantile(x: np.ndarray, q, weight=None) -> np.ndarray:
    if weight is None:
        return np.quantile(x, q)
    order = np.argsort(x)
    x, weight = x[order], weight[order]
    cumulative = np.cumsum(weight) - 0.5 * weight
    return np.interp(q, cumulative / weight.sum(), x)


def _gan(config: dict, layers, epochs: int, args, device: str, seed: int) -> WeightedGANUnweighter:
    params = {k: v for k, v in config.items() if k != "max_epochs"}
    if layers is not None:
        params["hidden_layer_sizes"] = params["discriminator_layer_sizes"] = tuple(layers)
    return WeightedGANUnweighter(
        **params,
        max_epochs=epochs,
        device=device,
        random_state=seed,
        verbose=int(args.verbose),
    )


def _fit_gan(name, config, layers, epochs, X, w, args, device, models) -> dict:
    """Fit one GAN (timed), keep it in ``models`` for the throughput section."""
    gan = _gan(config, layers, epochs, args, device, args.random_state)
    _, fit_s = timed(lambda: gan.fit(X, sample_weight=w), device)
    run = len(gan.net_.history)
    fit = {
        "name": name,
        "n_train": int(X.shape[0]),
        "epochs": run,
        "fit_s": fit_s,
        "s_per_epoch": fit_s / max(run, 1),
        "params": {
            k: v for k, v in gan.get_params().items() if k not in ("verbose", "random_state")
        },
    }
    print(f"{name}: fitted on {X.shape[0]} events in {fit_s:.1f} s ({run} epochs)", flush=True)
    models[name] = (gan, fit)
    return fit


def _sample(gan, n: int, seed: int, device: str):
    generated, seconds = timed(lambda: gan.sample(n, random_state=seed), device)
    return generated, seconds


def _warm_up(device: str) -> None:
    """One tiny untimed fit: torch's and skorch's one-time set-up would go to the first row."""
    data = make_camel_back(2048, encoding="uniform", random_state=0)
    WeightedGANUnweighter(
        hidden_layer_sizes=(8,), max_epochs=1, batch_size=256, device=device, random_state=0
    ).fit(data.X, sample_weight=data.sample_weight).sample(100, random_state=0)


# ------------------------------------------------------------------ VEGAS
def _vegas_events(density, bounds, args, n: int, seed: int, bulk) -> dict | None:
    """Adapt a vegas.Integrator to ``density`` and draw weighted events from it, two ways.

    Returns the adaption summary and, per way, the spread of the normalized weights over all
    events and over the bulk (``bulk(x)``: mask), or None when vegas is missing.
    """
    try:
        import vegas
    except ImportError:
        print("vegas is not installed (pip install vegas): VEGAS rows skipped", flush=True)
        return None
    rng = np.random.default_rng(seed)
    integ = vegas.Integrator(bounds, ran_array_generator=rng.random)
    integrand = vegas.lbatchintegrand(lambda x: density(np.asarray(x)))
    result, adapt_s = timed(lambda: integ(integrand, nitn=args.vegas_nitn, neval=args.vegas_neval))
    dim = len(bounds)

    def from_map():
        y = rng.random((n, dim))
        x = np.empty_like(y)
        jac = np.empty(n)
        integ.map.map(y, x, jac)
        return x, density(x) * jac

    def from_strata():
        xs, ws = [], []
        while sum(len(w) for w in ws) < n:  # whole iterations: each is a complete estimate
            for x, wgt in integ.random_batch():
                xs.append(np.array(x))
                ws.append(density(xs[-1]) * wgt)
        return np.concatenate(xs), np.concatenate(ws)

    out = {
        "nitn": args.vegas_nitn,
        "neval": args.vegas_neval,
        "adapt_s": adapt_s,
        "integral": float(result.mean),
        "integral_error": float(result.sdev),
        "ways": {},
    }
    for way, draw in (("VEGAS map", from_map), ("VEGAS map + strata", from_strata)):
        (x, w), draw_s = timed(draw)
        inside = bulk(x)
        out["ways"][way] = {
            "draw_s": draw_s,
            "all": {
                "efficiency": unweighting_efficiency(w),
                **_spread(w / w.mean()),
            },
            "bulk": {
                "efficiency": unweighting_efficiency(w[inside]),
                **_spread(w[inside] / w[inside].mean()),
            },
        }
        print(
            f"{way}: {len(w)} events, efficiency {out['ways'][way]['all']['efficiency']:.3f}",
            flush=True,
        )
    return out


def _vegas_rows(vegas_result, labels) -> list[dict]:
    rows = []
    if vegas_result is None:
        return rows
    for way, r in vegas_result["ways"].items():
        for region, label in labels:
            rows.append({"method": way, "region": label, **r[region]})
    return rows


# ------------------------------------------------------------------ camel back
def _corrections(w: np.ndarray, bulk: np.ndarray, labels) -> list[dict]:
    """Truth-correction spread over all events inside the binned range and on the bulk
    (renormalized to mean 1 over the bulk events)."""
    inside = np.isfinite(w)
    factor = float(np.mean(w[bulk & inside])) if np.any(bulk & inside) else None
    return [
        {"region": labels[0], **_spread(w[inside]), "outside": float(1 - inside.mean())},
        {
            "region": labels[1],
            **_spread(w[bulk & inside] / (factor or 1.0)),
            "normalization": factor,
        },
    ]


def _camel(args, device: str, models: dict) -> dict:
    seed = args.random_state
    data = make_camel_back(args.n_camel, encoding=args.camel_encoding, random_state=seed)
    fit = _fit_gan(
        "camel", CAMEL_GAN, None, args.max_epochs_camel, data.X, data.sample_weight, args,
        device, models,
    )  # fmt: skip
    generated, sample_s = _sample(models["camel"][0], args.n_generate, seed + 1, device)
    exact = make_camel_back(args.n_generate, encoding="unweighted", random_state=seed + 4).X
    labels = tuple(f"[{low:g}, {high:g}]" for low, high in (CAMEL_RANGE, CAMEL_BULK))
    rows = []
    peak = {
        "exact_cdf": float(data.cdf(CAMEL_PEAK_CUT)),
        "training_weighted": float(
            np.average(data.X[:, 0] < CAMEL_PEAK_CUT, weights=data.sample_weight)
        ),
    }
    for method, X in (("uwGAN", generated), ("exact sample", exact)):
        x = X[:, 0]
        w = _truth_corrections(X, data.density, bins=CAMEL_BINS, range=[CAMEL_RANGE])
        bulk = (x >= CAMEL_BULK[0]) & (x <= CAMEL_BULK[1])
        rows += [{"method": method, **r} for r in _corrections(w, bulk, labels)]
        peak[method] = float(np.mean(x < CAMEL_PEAK_CUT))
    print(f"camel: uwGAN share below 1: {peak['uwGAN']:.4f} (exact {peak['exact_cdf']:.4f})")
    vegas_result = None
    if not args.skip_vegas:
        vegas_result = _vegas_events(
            data.density,
            [list(CAMEL_RANGE)],
            args,
            args.n_generate,
            seed + 3,
            lambda x: (x[:, 0] >= CAMEL_BULK[0]) & (x[:, 0] <= CAMEL_BULK[1]),
        )
        rows += _vegas_rows(vegas_result, (("all", labels[0]), ("bulk", labels[1])))
    return {
        "n_train": args.n_camel,
        "encoding": args.camel_encoding,
        "n_generate": args.n_generate,
        "fit": fit,
        "sample_s": sample_s,
        "share_below_1": peak,
        "vegas": vegas_result,
        "rows": rows,
    }


def _corrections_table(rows: list[dict], caption: str) -> str:
    headers = [
        "method",
        "region",
        "events",
        "\\|w − 1\\| < 3 %",
        "w q05",
        "w q50",
        "w q95",
        "median \\|w − 1\\|",
        "⟨w⟩/w_max",
        "note",
    ]
    lines = []
    for r in rows:
        notes = []
        if r.get("outside"):
            notes.append(f"{r['outside']:.2%} outside the bins")
        if r.get("normalization") is not None:
            notes.append(f"renormalized by {r['normalization']:.4f}")
        lines.append(
            [
                r["method"],
                r["region"],
                r["events"],
                _fmt(r["within_tolerance"], ".2%"),
                _fmt(r["q05"], ".4f"),
                _fmt(r["q50"], ".4f"),
                _fmt(r["q95"], ".4f"),
                _fmt(r["median_abs_deviation"], ".4f"),
                _fmt(r.get("efficiency"), ".3f"),
                "; ".join(notes),
            ]
        )
    return markdown_table(headers, lines, caption)


def _vegas_caption(v) -> str:
    if v is None:
        return "VEGAS: not run (--skip-vegas, or vegas not installed)."
    return (
        f"VEGAS adapted in {v['nitn']} iterations of {v['neval']} evaluations "
        f"({v['adapt_s']:.2f} s; integral {v['integral']:.6f} ± {v['integral_error']:.1e})."
    )


def _camel_markdown(r: dict) -> str:
    fit, peak = r["fit"], r["share_below_1"]
    caption = (
        f"Camel back (section 2.2): uwGAN trained on {r['n_train']} weighted events "
        f"({r['encoding']} encoding) in {fit['fit_s']:.1f} s ({fit['epochs']} epochs), "
        f"{r['n_generate']} events generated in {r['sample_s']:.2f} s. w: truth corrections "
        f"(eq. 10) on {CAMEL_BINS} bins over {list(CAMEL_RANGE)} (bulk: the same weights "
        "renormalized over the bulk events); for VEGAS w: its event weights over their mean. "
        f"Share below x = {CAMEL_PEAK_CUT:g}: uwGAN {peak['uwGAN']:.4f}, exact sample "
        f"{peak['exact sample']:.4f}, weighted training {peak['training_weighted']:.4f}, exact "
        f"cdf {peak['exact_cdf']:.4f}. {_vegas_caption(r['vegas'])}"
    )
    return _corrections_table(r["rows"], caption)


# ------------------------------------------------------------------ Gaussian ring
def _ring_radius(X: np.ndarray) -> np.ndarray:
    return np.hypot(X[:, 0] - RING_CENTER[0], X[:, 1] - RING_CENTER[1])


def _ring_bulk(X: np.ndarray) -> np.ndarray:
    r = _ring_radius(X)
    return (r >= RING_RADIUS - 2 * RING_WIDTH) & (r <= RING_RADIUS + 2 * RING_WIDTH)


def _ring_bulk_share() -> float:
    """Exact probability of r in [r0 - 2 sigma, r0 + 2 sigma] (over the plane; the square
    holds the whole annulus)."""
    r0, s = RING_RADIUS, RING_WIDTH
    a = r0 / (np.sqrt(2.0) * s)
    total = s**2 * np.exp(-(a**2)) + r0 * s * np.sqrt(np.pi / 2) * (1 + erf(a))
    return float(r0 * s * np.sqrt(np.pi / 2) * 2 * erf(np.sqrt(2.0)) / total)


def _binned_truth(density, edges: np.ndarray) -> np.ndarray:
    """Exact bin probabilities on the square grid ``edges`` x ``edges``, integrated by the rule
    of ``metrics.truth_correction_weights`` (Gauss-Legendre in every bin), normalized."""
    probs = _binned_density(density, [edges, edges])
    return probs / probs.sum()


def _asymmetry(X: np.ndarray, truth: np.ndarray, edges: np.ndarray) -> dict:
    """(truth - GAN) / (truth + GAN) per bin (Fig. 3 of the paper)."""
    counts, _, _ = np.histogram2d(X[:, 0], X[:, 1], bins=[edges, edges])
    generated = counts / max(counts.sum(), 1.0)
    filled = (truth + generated) > 0
    a = np.where(filled, (truth - generated) / np.where(filled, truth + generated, 1.0), 0.0)
    centres = 0.5 * (edges[1:] + edges[:-1])
    cx, cy = np.meshgrid(centres, centres, indexing="ij")
    bulk = _ring_bulk(np.column_stack([cx.ravel(), cy.ravel()])).reshape(cx.shape)
    return {
        "median_abs_bulk": float(np.median(np.abs(a[bulk]))),
        "q90_abs_bulk": float(np.quantile(np.abs(a[bulk]), 0.9)),
        "median_abs_all": float(np.median(np.abs(a[filled]))),
        "bulk_bins": int(bulk.sum()),
    }


def _ring(args, device: str, models: dict) -> dict:
    seed = args.random_state
    ring = {"center": RING_CENTER, "radius": RING_RADIUS, "width": RING_WIDTH}
    data = make_gaussian_ring(args.n_ring, encoding="uniform", random_state=seed, **ring)
    fit = _fit_gan(
        "ring", RING_GAN, args.ring_layers, args.max_epochs_ring, data.X, data.sample_weight,
        args, device, models,
    )  # fmt: skip
    generated, sample_s = _sample(models["ring"][0], args.n_generate, seed + 1, device)
    exact = make_gaussian_ring(
        args.n_generate, encoding="unweighted", random_state=seed + 4, **ring
    ).X
    edges = np.linspace(0.0, 1.0, RING_BINS + 1)
    truth = _binned_truth(data.density, edges)
    labels = ("unit square", "bulk r0 ± 2σ")
    rows, asymmetry, bulk_share = [], {}, {"exact": _ring_bulk_share()}
    for method, X in (("uwGAN", generated), ("exact sample", exact)):
        w = _truth_corrections(X, data.density, bins=RING_BINS, range=data.range)
        bulk = _ring_bulk(X)
        rows += [{"method": method, **r} for r in _corrections(w, bulk, labels)]
        asymmetry[method] = _asymmetry(X, truth, edges)
        bulk_share[method] = float(bulk.mean())
    print(
        f"ring: uwGAN median |A| in the bulk {asymmetry['uwGAN']['median_abs_bulk']:.4f}, "
        f"bulk share {bulk_share['uwGAN']:.4f} (exact {bulk_share['exact']:.4f})",
        flush=True,
    )
    vegas_result = None
    if not args.skip_vegas:
        vegas_result = _vegas_events(
            data.density, [[0.0, 1.0], [0.0, 1.0]], args, args.n_generate, seed + 3, _ring_bulk
        )
        rows += _vegas_rows(vegas_result, (("all", labels[0]), ("bulk", labels[1])))
    return {
        "n_train": args.n_ring,
        "layers": list(args.ring_layers),
        "n_generate": args.n_generate,
        "fit": fit,
        "sample_s": sample_s,
        "bulk_share": bulk_share,
        "asymmetry": asymmetry,
        "vegas": vegas_result,
        "rows": rows,
    }


def _ring_markdown(r: dict) -> str:
    fit, share = r["fit"], r["bulk_share"]
    caption = (
        f"Gaussian ring (section 2.3): uwGAN ({'-'.join(map(str, r['layers']))} units in both "
        f"networks) trained on {r['n_train']} weighted events (uniform in the unit square) in "
        f"{fit['fit_s']:.1f} s ({fit['epochs']} epochs), {r['n_generate']} events generated in "
        f"{r['sample_s']:.2f} s. w: truth corrections on {RING_BINS} x {RING_BINS} bins (bulk: "
        "renormalized over the bulk events); for VEGAS its weights over their mean. Share of "
        f"events in the bulk: uwGAN {share['uwGAN']:.4f}, exact sample "
        f"{share['exact sample']:.4f}, exact {share['exact']:.4f}. {_vegas_caption(r['vegas'])}"
    )
    table = _corrections_table(r["rows"], caption)
    lines = [
        [
            method,
            f"{a['median_abs_bulk']:.4f}",
            f"{a['q90_abs_bulk']:.4f}",
            f"{a['median_abs_all']:.4f}",
        ]
        for method, a in r["asymmetry"].items()
    ]
    bins = next(iter(r["asymmetry"].values()))["bulk_bins"]
    asym = markdown_table(
        ["events", "median \\|A\\|, bulk", "q90 \\|A\\|, bulk", "median \\|A\\|, all bins"],
        lines,
        f"Asymmetry A = (truth − GAN)/(truth + GAN) per bin ({bins} bins with their centre in "
        "the bulk; 'all bins': every bin with truth or events).",
    )
    return table + "\n\n" + asym


# ------------------------------------------------------------------ Breit-Wigner
def _inverse_cdf(cdf, low: float, high: float):
    grid = np.linspace(low, high, 2_000_001)
    values = cdf(grid)
    return lambda u: np.interp(u, values, grid)


def _bw_exact(cdf, inverse) -> dict:
    lo, hi = cdf(np.array(BW_WINDOW))
    quartiles = inverse(lo + np.array([0.25, 0.5, 0.75]) * (hi - lo))
    return {
        "peak_fraction": float(cdf(BW_MASS + BW_GAMMA) - cdf(BW_MASS - BW_GAMMA)),
        "median": float(inverse(0.5)),
        "window_share": float(hi - lo),
        "window_median": float(quartiles[1]),
        "window_half_width": float((quartiles[2] - quartiles[0]) / 2),
    }


def _bw_peak(m: np.ndarray, weight=None) -> dict:
    window = (m >= BW_WINDOW[0]) & (m <= BW_WINDOW[1])
    ww = None if weight is None else weight[window]
    if np.any(window):
        q25, q50, q75 = _weighted_quantile(m[window], [0.25, 0.5, 0.75], ww)
    else:
        q25 = q50 = q75 = np.nan
    return {
        "peak_fraction": float(np.average(np.abs(m - BW_MASS) < BW_GAMMA, weights=weight)),
        "median": float(_weighted_quantile(m, 0.5, weight)),
        "window_share": float(np.average(window, weights=weight)),
        "window_median": float(q50),
        "window_half_width": float((q75 - q25) / 2),
    }


def _bw_corrections(m: np.ndarray, cdf) -> dict:
    edges = np.linspace(*BW_WINDOW, BW_BINS + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    w = _truth_corrections(
        m[:, None], centres[:, None], truth_weight=np.diff(cdf(edges)), bins=[edges],
        range=[BW_WINDOW],
    )  # fmt: skip
    return _spread(w[np.isfinite(w)])


def _bw(args, device: str, models: dict) -> dict:
    seed = args.random_state
    data = make_breit_wigner(args.n_bw, mass=BW_MASS, width=BW_GAMMA, random_state=seed)
    cdf = data.mass_cdf
    inverse = _inverse_cdf(cdf, *data.range[0])
    w = data.sample_weight
    efficiency = unweighting_efficiency(w)
    keep = hit_or_miss(w, random_state=seed + 2)
    rows = [
        {"method": "exact", "events": None, **_bw_exact(cdf, inverse)},
        {"method": "weighted training", "events": int(w.size), **_bw_peak(data.X[:, 0], w)},
    ]
    exact_m = inverse(np.random.default_rng(seed + 4).random(args.n_bw_generate))
    samples = {"exact sample (inverse cdf)": exact_m, "hit-or-miss": data.X[keep, 0]}
    fits = {}
    for name, config in (("BW", BW_GAN), ("BW + wMMD", {**BW_GAN, **BW_MMD})):
        fits[name] = _fit_gan(
            name, config, None, args.max_epochs_bw, data.X, w, args, device, models
        )
        generated, sample_s = _sample(models[name][0], args.n_bw_generate, seed + 1, device)
        fits[name]["sample_s"] = sample_s
        samples["uwGAN" if name == "BW" else "uwGAN + wMMD"] = generated[:, 0]
    for method, m in samples.items():
        if m.size < 2:
            print(f"bw: {method}: {m.size} events, no row", flush=True)
            continue
        row = {"method": method, "events": int(m.size), **_bw_peak(m)}
        row["corrections"] = _bw_corrections(m, cdf)
        rows.append(row)
        print(
            f"bw: {method}: {m.size} events, share |m - M| < Gamma {row['peak_fraction']:.4f}",
            flush=True,
        )
    return {
        "n_train": args.n_bw,
        "n_generate": args.n_bw_generate,
        "efficiency": efficiency,
        "hit_or_miss_kept": int(keep.sum()),
        "weight_range": [float(w[w > 0].min()), float(w.max())],
        "fits": fits,
        "rows": rows,
    }


def _bw_markdown(r: dict) -> str:
    headers = [
        "events from",
        "events",
        "\\|m − M\\| < Γ",
        "median m",
        "median, 80–100",
        "half-width, 80–100",
        "w: \\|w − 1\\| < 3 %",
        "w q05",
        "w q50",
        "w q95",
    ]
    lines = []
    for row in r["rows"]:
        c = row.get("corrections")
        lines.append(
            [
                row["method"],
                _fmt(row["events"], "d"),
                f"{row['peak_fraction']:.4f}",
                f"{row['median']:.3f}",
                f"{row['window_median']:.3f}",
                f"{row['window_half_width']:.3f}",
                *(
                    [_fmt(c["within_tolerance"], ".2%")]
                    + [_fmt(c[q], ".3f") for q in ("q05", "q50", "q95")]
                    if c
                    else ["—"] * 4
                ),
            ]
        )
    fits = "; ".join(
        f"{name} {f['fit_s']:.1f} s ({f['epochs']} epochs), sampled in {f['sample_s']:.2f} s"
        for name, f in r["fits"].items()
    )
    lo, hi = r["weight_range"]
    caption = (
        f"Breit-Wigner (M = {BW_MASS} GeV, Γ = {BW_GAMMA} GeV; stand-in for Drell-Yan, section "
        f"3): {r['n_train']} weighted events (weights {lo:.2g} to {hi:.2g}); hit-or-miss "
        f"efficiency {r['efficiency']:.4f}, kept {r['hit_or_miss_kept']} events; GAN samples of "
        f"{r['n_generate']} events. Fits: {fits}. Half-width: half the distance between the 25 % "
        f"and 75 % quantiles of m within {BW_WINDOW[0]:g}–{BW_WINDOW[1]:g} GeV. w: truth "
        f"corrections on {BW_BINS} bins of m over that window (exact bin probabilities)."
    )
    return markdown_table(headers, lines, caption)


# ------------------------------------------------------------------ throughput
def _cpu_copy(gan: WeightedGANUnweighter) -> WeightedGANUnweighter:
    """The same fitted generator on the CPU (for a GAN trained on a GPU)."""
    if str(gan.net_.device).startswith("cpu"):
        return gan
    clone = copy.deepcopy(gan)
    clone.net_.module_.to("cpu")
    clone.net_.device = "cpu"
    return clone


def _stand_ins(args, device: str, models: dict) -> None:
    """One-epoch fits of each architecture when no GAN was trained in this run."""
    camel = make_camel_back(STAND_IN_EVENTS, encoding="uniform", random_state=0)
    ring = make_gaussian_ring(STAND_IN_EVENTS, random_state=0)
    bw = make_breit_wigner(STAND_IN_EVENTS, random_state=0)
    for name, config, layers, data in (
        ("camel (stand-in)", CAMEL_GAN, None, camel),
        ("ring (stand-in)", RING_GAN, args.ring_layers, ring),
        ("BW (stand-in)", BW_GAN, None, bw),
    ):
        _fit_gan(name, config, layers, 1, data.X, data.sample_weight, args, device, models)


def _rate(fn, repeats: int, device: str = "cpu") -> tuple[float, object]:
    fn()  # warm-up
    times, result = [], None
    for _ in range(repeats):
        result, seconds = timed(fn, device)
        times.append(seconds)
    return median(times), result


def _throughput(args, device: str, models: dict) -> dict:
    if not models:
        _stand_ins(args, device, models)
    n, seed = args.n_throughput, args.random_state
    devices = ["cpu"] + ([device] if device != "cpu" else [])
    sampling = []
    for name, (gan, _) in models.items():
        latent = gan.latent_dim_
        noise_s, _ = _rate(
            lambda d=latent: np.random.RandomState(seed).standard_normal((n, d)).astype(np.float32),
            args.repeats,
        )
        for where in devices:
            model = _cpu_copy(gan) if where == "cpu" else gan
            seconds, _ = _rate(lambda m=model: m.sample(n, random_state=seed), args.repeats, where)
            sampling.append(
                {
                    "gan": name,
                    "device": where,
                    "seconds": seconds,
                    "events_per_s": n / seconds,
                    "noise_s": noise_s,
                }
            )
            print(f"throughput: {name} on {where}: {n / seconds:.3g} events/s", flush=True)
    unweighting = []
    samples = (
        ("camel back (uniform)", make_camel_back(n, encoding="uniform", random_state=seed)),
        ("Breit-Wigner", make_breit_wigner(n, mass=BW_MASS, width=BW_GAMMA, random_state=seed)),
    )
    for name, data in samples:
        w = data.sample_weight
        seconds, keep = _rate(lambda w=w: hit_or_miss(w, random_state=seed), args.repeats)
        kept = int(keep.sum())
        unweighting.append(
            {
                "sample": name,
                "events": n,
                "seconds": seconds,
                "efficiency": unweighting_efficiency(w),
                "kept": kept,
                "weighted_per_s": n / seconds,
                "unweighted_per_s": kept / seconds,
            }
        )
        print(f"throughput: hit-or-miss on {name}: {kept / seconds:.3g} kept events/s")
    return {
        "n": n,
        "repeats": args.repeats,
        "sampling": sampling,
        "hit_or_miss": unweighting,
        "training": [fit for _, fit in models.values()],
    }


def _throughput_markdown(r: dict, threads) -> str:
    lines = [
        [
            f"`sample` of {s['gan']}",
            s["device"],
            f"{s['seconds']:.3f}",
            f"{s['events_per_s'] / 1e6:.3f}",
            "—",
            f"latent noise alone {s['noise_s']:.3f} s",
        ]
        for s in r["sampling"]
    ]
    lines += [
        [
            f"hit-or-miss on {h['sample']}",
            "cpu",
            f"{h['seconds']:.4f}",
            f"{h['unweighted_per_s'] / 1e6:.3f}",
            f"{h['weighted_per_s'] / 1e6:.1f}",
            f"efficiency {h['efficiency']:.4f}, kept {h['kept']}",
        ]
        for h in r["hit_or_miss"]
    ]
    throughput = markdown_table(
        ["call", "device", "median s", "10⁶ unweighted events/s", "10⁶ weighted in/s", "note"],
        lines,
        f"Throughput: {r['n']} events per call, median of {r['repeats']} after a warm-up, "
        f"torch on {threads} thread(s). Hit-or-miss starts from events already weighted (their "
        "generation is not counted).",
    )
    training = markdown_table(
        ["GAN", "training events", "epochs", "batch", "n_critic", "fit s", "s / epoch"],
        [
            [
                f["name"],
                f["n_train"],
                f["epochs"],
                f["params"]["batch_size"],
                f["params"]["n_critic"],
                f"{f['fit_s']:.1f}",
                f"{f['s_per_epoch']:.2f}",
            ]
            for f in r["training"]
        ],
        "Training time of each GAN (wall clock of fit).",
    )
    return throughput + "\n\n" + training


# ------------------------------------------------------------------ driver
def _section(build, markdown):
    """A section of the runner from a measurement and its table."""

    def section(r: Run) -> tuple[dict, str]:
        result = build(r.args, r.device, r.state.setdefault("models", {}))
        return result, markdown(result)

    return section


def _throughput_section(r: Run) -> tuple[dict, str]:
    result = _throughput(r.args, r.device, r.state.setdefault("models", {}))
    return result, _throughput_markdown(result, r.info["torch_threads"])


def _add_arguments(parser) -> None:
    parser.add_argument(
        "--camel-encoding",
        choices=("uniform", "hybrid", "unweighted"),
        default="uniform",
        help="encoding of the camel-back training events (default: %(default)s)",
    )
    parser.add_argument("--skip-vegas", action="store_true", help="leave out the VEGAS rows")
    parser.add_argument("--verbose", action="store_true", help="print the GANs' epochs")


def main(argv=None) -> int:
    return run(
        __doc__.split("\n\n")[0],
        {
            "camel": _section(_camel, _camel_markdown),
            "ring": _section(_ring, _ring_markdown),
            "bw": _section(_bw, _bw_markdown),
            "throughput": _throughput_section,
        },
        argv,
        name="unweight",
        title="WeightedGANUnweighter vs hit-or-miss and VEGAS",
        sizes=SIZES,
        add_arguments=_add_arguments,
        before=lambda r: _warm_up(r.device),
        constants={"camel": CAMEL_GAN, "ring": RING_GAN, "bw": BW_GAN, "bw_mmd": BW_MMD},
    )


if __name__ == "__main__":
    raise SystemExit(main())
