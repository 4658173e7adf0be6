"""GaussianAnsatzCalibrator against a mean-squared-error regression: the dijet mass calibration of
"Bias and Priors" section V.B (Fig. 6), and training time and accuracy on the Gaussian example of
section IV.A.

Sections (``--sections``, both by default):

* ``dijet``: ``make_dijet_calibration`` replaces the CMS simulation: truth m_jj from a steeply
  falling QCD spectrum (p ~ m^-6 above 2 TeV) or a narrow resonance at 2.8 TeV (10 GeV wide,
  eq. 45), reconstructed m_jj ~ N(0.95 m, (s m)^2) with s = 0.04 (``--resolution``). Both
  calibrations are trained on QCD (``--n`` events) and applied to fresh QCD and BSM events;
  reported is the mean and width of calibrated/true for each (Fig. 6), next to the uncalibrated
  ratio and the exact maximum-likelihood estimate applied to the same events (expected mean
  0.9982 on both at s = 0.04). The
  MSE regression is scikit-learn's ``MLPRegressor`` with the paper's set-up (three hidden layers
  of 50, ReLU, Adam, batch 1000, 50 epochs) on standardized input and target.
* ``gaussian``: z ~ N(0, 1), x ~ N(z, 2^2) at 10^5 and (``--full``) 10^6 events (``--sizes``):
  wall time of the fit, epochs run, slope and intercept of B(x) over |x| <= 3 (analytic 1, 0),
  mean resolution there (analytic 2), the held-out Donsker-Varadhan bound (analytic
  I = 0.5 log(1.25) = 0.1116), and the same MLPRegressor's fit time for scale.

``--quick`` trains on 2000 events for 2 epochs (a smoke test). Run
``python bench/bench_gaussian_ansatz.py --help`` for the options.
"""

from __future__ import annotations

import numpy as np
from _common import Run, Size, markdown_table, run, timed
from sklearn.compose import TransformedTargetRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhep_reweight import GaussianAnsatzCalibrator
from skhep_reweight.datasets import make_dijet_calibration, make_gaussian_smearing

SIZES = {
    "n": Size("QCD training events (dijet)", 2_000, 100_000, 100_000),
    "n_test": Size("fresh test events of each kind (both sections)", 2_000, 200_000, 200_000),
    "sizes": Size(
        "training events of the Gaussian fits", [2_000], [100_000], [100_000, 1_000_000], nargs="+"
    ),
    "max_epochs": Size("cap on the Gaussian Ansatz fits' epochs", 2, None, None),
    "mse_epochs": Size("epochs of the MSE regression (MLPRegressor max_iter)", 2, 50, 50),
}


def _mse_regressor(seed: int, epochs: int):
    """The paper's MSE calibration network (section V.B) on standardized input and target."""
    network = MLPRegressor(
        hidden_layer_sizes=(50, 50, 50),
        activation="relu",
        batch_size=1000,
        max_iter=epochs,
        random_state=seed,
    )
    return TransformedTargetRegressor(
        regressor=make_pipeline(StandardScaler(), network), transformer=StandardScaler()
    )


def _ratio_stats(estimate, truth) -> dict:
    ratio = np.asarray(estimate) / truth
    return {"mean": float(np.mean(ratio)), "std": float(np.std(ratio))}


def _epochs(args) -> dict:
    """The epoch cap of the Gaussian Ansatz, when one is set (else its own default)."""
    return {"max_epochs": args.max_epochs} if args.max_epochs else {}


def _dijet(r: Run) -> tuple[dict, str]:
    args, device = r.args, r.device
    seed, n_test = args.random_state, args.n_test
    detector = {"resolution": args.resolution}
    train = make_dijet_calibration(args.n, process="qcd", random_state=seed, **detector)
    tests = {
        "QCD": make_dijet_calibration(n_test, process="qcd", random_state=seed + 1, **detector),
        "BSM": make_dijet_calibration(n_test, process="bsm", random_state=seed + 2, **detector),
    }
    ansatz, t_ansatz = timed(
        lambda: GaussianAnsatzCalibrator(device=device, random_state=seed, **_epochs(args)).fit(
            train.X, train.z
        ),
        device,
    )
    print(f"dijet: Gaussian Ansatz fitted in {t_ansatz:.1f} s", flush=True)
    mse, t_mse = timed(lambda: _mse_regressor(seed, args.mse_epochs).fit(train.X, train.z))
    print(f"dijet: MLPRegressor fitted in {t_mse:.1f} s", flush=True)
    out: dict = {
        "n_train": args.n,
        "n_test": n_test,
        "resolution": args.resolution,
        "fit_s": {"gaussian_ansatz": t_ansatz, "mse": t_mse},
        "epochs": len(ansatz.net_.history),
    }
    for name, data in tests.items():
        out[name] = {
            "uncalibrated": _ratio_stats(data.X[:, 0], data.z),
            "exact_ml": _ratio_stats(data.ml_calibration(data.X), data.z),
            "gaussian_ansatz": _ratio_stats(ansatz.predict(data.X), data.z),
            "mse": _ratio_stats(mse.predict(data.X), data.z),
        }
        _, sigma = ansatz.predict(data.X, return_std=True)
        out[name]["resolution_ratio"] = float(np.median(sigma / data.ml_resolution(data.X)))
    return out, _dijet_table(out)


def _dijet_table(result: dict) -> str:
    rows = []
    for name in ("QCD", "BSM"):
        r = result[name]
        for method in ("uncalibrated", "exact_ml", "gaussian_ansatz", "mse"):
            rows.append([name, method, f"{r[method]['mean']:.4f}", f"{r[method]['std']:.4f}"])
    caption = (
        f"Dijet calibration (relative resolution {result['resolution']:g}) trained on "
        f"{result['n_train']} QCD events, applied to {result['n_test']} fresh QCD and BSM "
        f"events: calibrated/true m_jj. Fit time: Gaussian Ansatz "
        f"{result['fit_s']['gaussian_ansatz']:.0f} s ({result['epochs']} epochs), MLPRegressor "
        f"{result['fit_s']['mse']:.0f} s. Predicted/exact resolution (median): QCD "
        f"{result['QCD']['resolution_ratio']:.3f}, BSM {result['BSM']['resolution_ratio']:.3f}."
    )
    return markdown_table(["sample", "calibration", "mean", "std"], rows, caption)


def _gaussian(r: Run) -> tuple[dict, str]:
    results = [_gaussian_fit(r.args, r.device, n) for n in r.args.sizes]
    return {"fits": results}, _gaussian_table(results)


def _gaussian_fit(args, device: str, n: int) -> dict:
    seed = args.random_state
    data = make_gaussian_smearing(n, random_state=seed)
    test = make_gaussian_smearing(args.n_test, random_state=seed + 1)
    cal, seconds = timed(
        lambda: GaussianAnsatzCalibrator(device=device, random_state=seed, **_epochs(args)).fit(
            data.X, data.z
        ),
        device,
    )
    print(f"gaussian n={n}: Gaussian Ansatz fitted in {seconds:.1f} s", flush=True)
    _, t_mse = timed(lambda: _mse_regressor(seed, args.mse_epochs).fit(data.X, data.z))
    print(f"gaussian n={n}: MLPRegressor fitted in {t_mse:.1f} s", flush=True)
    grid = np.linspace(-3, 3, 25)
    z_hat, sigma = cal.predict(grid[:, None], return_std=True)
    slope, intercept = np.polyfit(grid, z_hat, 1)
    return {
        "n": n,
        "fit_s": seconds,
        "mse_fit_s": t_mse,
        "epochs": len(cal.net_.history),
        "slope": float(slope),
        "intercept": float(intercept),
        "max_abs_error": float(np.max(np.abs(z_hat - grid))),
        "mean_resolution": float(np.mean(sigma)),
        "held_out_bound": float(cal.score(test.X, test.z)),
    }


def _gaussian_table(results: list[dict]) -> str:
    rows = [
        [
            r["n"],
            f"{r['fit_s']:.0f}",
            r["epochs"],
            f"{r['fit_s'] / r['epochs']:.1f}",
            f"{r['mse_fit_s']:.0f}",
            f"{r['slope']:.3f}",
            f"{r['intercept']:+.3f}",
            f"{r['max_abs_error']:.3f}",
            f"{r['mean_resolution']:.3f}",
            f"{r['held_out_bound']:.4f}",
        ]
        for r in results
    ]
    caption = (
        "Gaussian example (z ~ N(0,1), x ~ N(z, 2^2)); B(x) on |x| <= 3 against the analytic "
        "x (slope 1, resolution 2), held-out bound against I = 0.1116."
    )
    headers = [
        "n",
        "GA fit s",
        "epochs",
        "s/epoch",
        "MLPRegressor s",
        "slope",
        "intercept",
        "max |B - x|",
        "resolution",
        "DV bound",
    ]
    return markdown_table(headers, rows, caption)


def _add_arguments(parser) -> None:
    parser.add_argument(
        "--resolution",
        type=float,
        default=0.04,
        help="relative m_jj resolution (dijet; default: %(default)s)",
    )


def main(argv=None) -> int:
    return run(
        __doc__.split("\n\n")[0],
        {"dijet": _dijet, "gaussian": _gaussian},
        argv,
        name=lambda args: f"gaussian_ansatz_s{args.resolution:g}",
        title="GaussianAnsatzCalibrator against an MSE regression",
        sizes=SIZES,
        add_arguments=_add_arguments,
    )


if __name__ == "__main__":
    raise SystemExit(main())
