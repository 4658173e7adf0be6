"""Prediction throughput of DCTRReweighter.predict_weights (events per second).

A DCTRReweighter with the default network (three hidden layers of 50, SiLU) is fitted briefly
(throughput does not depend on how well it is trained) and then times, on the same ``n`` events
(default 10^6, float64 NumPy input), median of ``--repeats`` calls after one warm-up call:

* ``DCTRReweighter.predict_weights(X)``: the public call, input checks and exp included;
* ``predict_network(net_, X)``: the package's forward pass in padded chunks of 2^16 events;
* ``module(tensor)``: one plain call of the same torch module on the whole float32 tensor, already
  built, under ``torch.inference_mode()``, for reference;
* the same plain call in chunks of 2^16 events.

torch runs on ``--threads`` threads (default 2). Goal: predict_weights at 10^6 events per second
or more. One section, ``throughput``; ``--full`` predicts on 10^7 events, ``--quick`` on 2x10^4.

Run ``python bench/bench_predict_throughput.py --help`` for the options.
"""

from __future__ import annotations

import numpy as np
import torch
from _common import Run, Size, markdown_table, median, run, timed

from skhep_reweight import DCTRReweighter
from skhep_reweight._nn import PREDICT_BATCH_SIZE, predict_network
from skhep_reweight.datasets import make_correlated_gaussians, make_gaussian_reweighting

GOAL_EVENTS_PER_S = 1e6

SIZES = {
    "n": Size("events per predict call", 20_000, 1_000_000, 10_000_000),
    "n_train": Size("events of the brief training (both classes)", 4_000, 40_000, 40_000),
    "repeats": Size("timed calls of each kind; the median is reported", 2, 7, 7),
}


def make_events(n_events: int, n_features: int, random_state: int) -> np.ndarray:
    """``n_events`` rows (both classes of the Gaussian example), float64."""
    per_class = -(-n_events // 2)
    if n_features == 1:
        data = make_gaussian_reweighting(per_class, random_state=random_state)
    else:
        data = make_correlated_gaussians(per_class, n_features, random_state=random_state)
    return np.ascontiguousarray(data.X[:n_events])


def _throughput(r: Run) -> tuple[dict, str]:
    args, device = r.args, r.device
    train = make_events(args.n_train, args.n_features, args.random_state)
    labels = np.repeat([0, 1], len(train) // 2)
    reweighter = DCTRReweighter(
        max_epochs=1, early_stopping=False, device=device, random_state=args.random_state
    ).fit(train, labels)
    X = make_events(args.n, args.n_features, args.random_state + 1)
    module = reweighter.net_.module_.eval()
    tensor = torch.from_numpy(X.astype(np.float32)).to(device)

    def plain_whole():
        with torch.inference_mode():
            return module(tensor)

    def plain_chunked():
        with torch.inference_mode():
            return torch.cat(
                [
                    module(tensor[i : i + PREDICT_BATCH_SIZE])
                    for i in range(0, len(tensor), PREDICT_BATCH_SIZE)
                ]
            )

    cases = [
        ("DCTRReweighter.predict_weights(X)", lambda: reweighter.predict_weights(X)),
        (
            "predict_network(net_, X) (chunks of 2^16, padded)",
            lambda: predict_network(reweighter.net_, X),
        ),
        ("module(tensor), float32, one call", plain_whole),
        ("module(tensor), float32, chunks of 2^16", plain_chunked),
    ]
    results = []
    for name, fn in cases:
        fn()  # warm-up
        times = [timed(fn, device)[1] for _ in range(args.repeats)]
        t = median(times)
        results.append(
            {
                "case": name,
                "median_s": t,
                "min_s": min(times),
                "max_s": max(times),
                "events_per_s": args.n / t,
                "times_s": times,
            }
        )
        print(f"{name:<52} {t:.3f} s  {args.n / t:,.0f} events/s", flush=True)

    reference = results[2]["events_per_s"]
    rows = [
        [
            r["case"],
            f"{r['median_s']:.3f}",
            f"{r['min_s']:.3f} - {r['max_s']:.3f}",
            f"{r['events_per_s'] / 1e6:.2f}",
            f"{r['events_per_s'] / reference:.2f}",
        ]
        for r in results
    ]
    met = results[0]["events_per_s"] >= GOAL_EVENTS_PER_S
    caption = (
        f"Prediction on {args.n:,} events with {args.n_features} feature(s), default network "
        f"(hidden_layer_sizes={tuple(reweighter.hidden_layer_sizes)}, "
        f"activation={reweighter.activation!r}), median of {args.repeats} calls after a warm-up. "
        f"Goal: predict_weights >= {GOAL_EVENTS_PER_S:.0e} events/s."
    )
    markdown = "\n".join(
        [
            markdown_table(
                ["call", "median [s]", "range [s]", "10^6 events/s", "speed vs plain one call"],
                rows,
                caption,
            ),
            "",
            f"Goal met: {'yes' if met else 'no'} "
            f"({results[0]['events_per_s'] / 1e6:.2f} x 10^6 events/s).",
        ]
    )
    result = {"n_events": args.n, "n_features": args.n_features, "goal_met": met}
    return {**result, "results": results}, markdown


def _add_arguments(parser) -> None:
    parser.add_argument(
        "--n-features",
        type=int,
        default=1,
        help="features per event: 1 = the 1-D Gaussian example, more = "
        "correlated Gaussians (default: 1)",
    )


def main(argv=None) -> int:
    return run(
        __doc__.split("\n\n")[0],
        {"throughput": _throughput},
        argv,
        name=lambda args: f"predict_throughput_n{args.n}_f{args.n_features}",
        title="Prediction throughput of DCTRReweighter",
        sizes=SIZES,
        add_arguments=_add_arguments,
        constants={"goal_events_per_s": GOAL_EVENTS_PER_S},
    )


if __name__ == "__main__":
    raise SystemExit(main())
