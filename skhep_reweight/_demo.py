"""``skhep-reweight demo``: fit a reweighter on the Gaussian example of the DCTR papers and
report how close it comes to the exact answer."""

from __future__ import annotations

import time

import numpy as np

__all__ = ["print_demo", "run_demo"]

# Events of the closure region: the exact weight is compared where both densities are well
# populated (the same |x| < 2 window as the test of the exact-weight closure).
_CLOSURE_WINDOW = 2.0


def run_demo(
    n_samples: int = 50_000,
    random_state: int = 0,
    device: str = "auto",
    output: str | None = "skhep_reweight_demo.png",
    verbose: int = 1,
) -> dict:
    """Fit :class:`~skhep_reweight.DCTRReweighter` on N(0, 1) -> N(1, 1.3^2) and report.

    Half of each sample trains the reweighter; the other half is held out for every figure of
    merit: the median of |w / w_exact - 1| over |x| < 2, the weighted mean and standard deviation
    of the source against the target's, the effective sample size, and the AUC of an independent
    classifier separating the held-out target from the held-out source before and after
    reweighting (0.5: indistinguishable).

    Returns the figures as a dict; saves a plot to ``output`` when matplotlib is installed.
    """
    from .datasets import make_gaussian_reweighting
    from .metrics import classifier_two_sample_auc, effective_sample_size, weighted_mean_std
    from .reweight import DCTRReweighter

    data = make_gaussian_reweighting(n_samples=2 * n_samples, random_state=random_state)
    X, y = data.X, data.y
    train = np.r_[np.arange(n_samples), 2 * n_samples + np.arange(n_samples)]
    held = np.setdiff1d(np.arange(len(y)), train)
    source, target = X[held][y[held] == 0], X[held][y[held] == 1]

    start = time.perf_counter()
    rw = DCTRReweighter(device=device, random_state=random_state, verbose=verbose)
    rw.fit(X[train], y[train])
    fit_time = time.perf_counter() - start

    w = rw.predict_weights(source)
    w_exact = data.weight_function(source)
    window = np.abs(source[:, 0]) < _CLOSURE_WINDOW
    mean_w, std_w = weighted_mean_std(source, w)
    mean_t, std_t = weighted_mean_std(target)
    report = {
        "n_train_per_class": n_samples,
        "fit_seconds": fit_time,
        "epochs": len(rw.net_.history),
        "median_rel_weight_error": float(np.median(np.abs(w[window] / w_exact[window] - 1))),
        "weighted_mean": float(mean_w[0]),
        "weighted_std": float(std_w[0]),
        "target_mean": float(mean_t[0]),
        "target_std": float(std_t[0]),
        "ess_fraction": effective_sample_size(w) / len(w),
        "ess_fraction_exact": effective_sample_size(w_exact) / len(w_exact),
        "auc_before": classifier_two_sample_auc(source, target, random_state=random_state),
        "auc_after": classifier_two_sample_auc(
            source, target, source_weight=w, random_state=random_state
        ),
        "auc_exact": classifier_two_sample_auc(
            source, target, source_weight=w_exact, random_state=random_state
        ),
    }
    if output:
        report["plot"] = _plot(source, target, w, w_exact, output)
    return report


def _plot(
    source: np.ndarray, target: np.ndarray, w: np.ndarray, w_exact: np.ndarray, output: str
) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    x = source[:, 0]
    bins = np.linspace(-4, 6, 61)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(6, 6), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    top.hist(x, bins, density=True, histtype="step", label="source N(0, 1)")
    top.hist(target[:, 0], bins, density=True, histtype="step", label="target N(1, 1.3²)")
    top.hist(
        x, bins, weights=w, density=True, histtype="step", ls="--", label="source, DCTR weights"
    )
    top.legend()
    top.set_ylabel("density")
    order = np.argsort(x)
    bottom.plot(x[order], w_exact[order], "k-", label="exact q/p")
    bottom.plot(x[order], w[order], "r--", label="learned")
    bottom.set_yscale("log")
    bottom.set_xlabel("x")
    bottom.set_ylabel("weight")
    bottom.legend()
    fig.tight_layout()
    fig.savefig(output, dpi=100)
    plt.close(fig)
    return output


def print_demo(r: dict, output: str | None) -> None:
    """Print the figures of :func:`run_demo`."""
    print(
        f"DCTRReweighter on N(0,1) -> N(1,1.3^2), {r['n_train_per_class']} training events "
        f"per class, {r['epochs']} epochs in {r['fit_seconds']:.1f} s"
    )
    print(f"  median |w/w_exact - 1| over |x|<2 : {r['median_rel_weight_error']:.4f}")
    print(
        f"  weighted source mean / std       : {r['weighted_mean']:.3f} / "
        f"{r['weighted_std']:.3f}   (target {r['target_mean']:.3f} / {r['target_std']:.3f})"
    )
    print(
        f"  effective sample size            : {r['ess_fraction']:.3f} of the events "
        f"(exact weights: {r['ess_fraction_exact']:.3f})"
    )
    print(
        f"  held-out two-sample AUC          : {r['auc_before']:.3f} before -> "
        f"{r['auc_after']:.3f} after (exact weights: {r['auc_exact']:.3f}; 0.5 = "
        "indistinguishable)"
    )
    if output:
        print(f"  plot: {r.get('plot') or 'not saved (matplotlib is not installed)'}")
