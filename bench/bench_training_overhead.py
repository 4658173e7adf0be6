"""Training overhead of DCTRReweighter.fit against a plain PyTorch loop on the same network.

Both sides train the same network on the same events with the same batch size and number of
epochs:

* ours:  ``DCTRReweighter(early_stopping=False, max_epochs=E, batch_size=B).fit(X, y)``;
* plain: ``skhep_reweight._nn.MLP`` with the same hidden sizes, activation and standardization
  statistics, ``torch.optim.AdamW`` with the same learning rate and weight decay, the weighted
  binary cross-entropy with logits (class-balanced per-event weights of mean one), a fresh
  ``torch.randperm`` per epoch and slicing of tensors built once before the loop; the epoch's
  mean loss is accumulated on the device (no per-batch ``.item()``).

The two are run alternately (plain, ours, plain, ours, ...) on the 1-D Gaussian example, and the
median wall-clock time of the repeats and the ratio ours/plain are reported, for the whole call
(from NumPy arrays to a fitted network) and for the epochs alone (skorch's per-epoch ``dur``
against the plain loop's epochs). Goal: ours/plain <= 1.3.

Sections (``--sections``, both by default):

* ``timing``: the alternating repeats above, for every batch size (``--batch-sizes``).
* ``profile``: for every batch size whose ratio missed the goal in ``timing`` (every batch size
  with ``--profile always``, or when ``timing`` did not run), one more fit of each side under
  cProfile, and the extra time of ``DCTRReweighter.fit`` broken down: the prediction on the
  training sample that ``fit`` does to count clipped events (timed directly), the set-up before
  the first epoch, and inside the epochs the time spent in skorch, in skhep_reweight's own Python
  code and in torch, compared with the same groups in the plain loop.

Sizes: 10^6 events, 3 epochs, 5 repeats by default; ``--full`` 10 epochs and 7 repeats;
``--quick`` 10^4 events, one epoch, one repeat (a smoke test). Run
``python bench/bench_training_overhead.py --help`` for the options.
"""

from __future__ import annotations

import cProfile
import pstats
import time

import numpy as np
import torch
import torch.nn.functional as F
from _common import Run, Size, markdown_table, median, run, synchronize, timed

from skhep_reweight import DCTRReweighter
from skhep_reweight._nn import MLP, predict_network
from skhep_reweight.datasets import make_gaussian_reweighting

GOAL_RATIO = 1.3
SIZES = {
    "n": Size("events per class", 5_000, 500_000, 500_000),
    "epochs": Size("epochs per fit", 1, 3, 10),
    "repeats": Size("alternating repeats of each side per batch size", 1, 5, 7),
    "batch_sizes": Size("batch sizes to compare", [1024], [1024, 4096], [1024, 4096], nargs="+"),
}
WARM_UP_EVENTS = 10_000  # per class, of the untimed first fit of each side

# The network and optimizer settings of DCTRReweighter(); the plain loop reads them from there.
_REFERENCE = DCTRReweighter()


# --------------------------------------------------------------------------- the two sides
def plain_fit(
    X: np.ndarray, y: np.ndarray, *, batch_size: int, epochs: int, device: str, seed: int
) -> tuple[torch.nn.Module, dict]:
    """Train the DCTR network with a minimal PyTorch loop; return it and timings."""
    start = time.perf_counter()
    # The same preprocessing as the estimator: standardization statistics of the inputs and
    # class-balanced weights of mean one (each class sums to half the number of events).
    loc = X.mean(axis=0).astype(np.float32)
    scale = X.std(axis=0).astype(np.float32)
    counts = np.bincount(y, minlength=2)
    weight = (0.5 * len(y) / counts)[y]

    torch.manual_seed(seed)
    module = MLP(
        X.shape[1],
        tuple(_REFERENCE.hidden_layer_sizes),
        1,
        _REFERENCE.activation,
        loc=loc,
        scale=scale,
    ).to(device)
    optimizer = torch.optim.AdamW(
        module.parameters(), lr=_REFERENCE.learning_rate, weight_decay=_REFERENCE.weight_decay
    )
    features = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(device)
    labels = torch.from_numpy(y.astype(np.float32)).to(device)
    weights = torch.from_numpy(weight.astype(np.float32)).to(device)
    generator = torch.Generator().manual_seed(seed)
    n = len(y)

    synchronize(device)
    loop_start = time.perf_counter()
    module.train()
    epoch_losses = []
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator).to(device)
        total = torch.zeros((), device=device)
        for first in range(0, n, batch_size):
            index = order[first : first + batch_size]
            logit = module(features[index]).reshape(-1)
            per_event = F.binary_cross_entropy_with_logits(logit, labels[index], reduction="none")
            loss = (per_event * weights[index]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(index)
        epoch_losses.append(float(total) / n)
    module.eval()
    synchronize(device)
    end = time.perf_counter()
    return module, {
        "total_s": end - start,
        "epochs_s": end - loop_start,
        "setup_s": loop_start - start,
        "final_train_loss": epoch_losses[-1],
    }


def ours_fit(
    X: np.ndarray, y: np.ndarray, *, batch_size: int, epochs: int, device: str, seed: int
) -> tuple[DCTRReweighter, dict]:
    """DCTRReweighter.fit with early stopping off; return it and timings."""
    reweighter = DCTRReweighter(
        early_stopping=False,
        max_epochs=epochs,
        batch_size=batch_size,
        device=device,
        random_state=seed,
    )
    _, total_s = timed(lambda: reweighter.fit(X, y), device)
    history = reweighter.net_.history
    epochs_s = float(sum(history[:, "dur"]))
    return reweighter, {
        "total_s": total_s,
        "epochs_s": epochs_s,
        "outside_epochs_s": total_s - epochs_s,
        "final_train_loss": float(history[-1, "train_loss"]),
    }


# --------------------------------------------------------------------------- profiling
_GROUPS = (
    ("skorch (Python)", ("/skorch/",)),
    ("skhep_reweight (Python; slicing of batches included)", ("/skhep_reweight/",)),
    ("torch (Python: nn, optim, autograd wrappers)", ("/torch/",)),
    ("the plain loop itself (this script; slicing of batches included)", (__file__,)),
)


def _group_of(filename: str, funcname: str) -> str:
    for label, parts in _GROUPS:
        if any(part in filename for part in parts):
            return label
    if filename == "~" or filename.startswith("<"):
        return "C calls (torch kernels, builtins)"
    return "other Python (numpy, sklearn, stdlib)"


def profile_call(fn) -> pstats.Stats:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    return pstats.Stats(profiler)


def group_tottime(stats: pstats.Stats) -> dict[str, float]:
    """Self time (tottime) summed by where the function lives."""
    groups: dict[str, float] = {}
    for (filename, _line, funcname), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        label = _group_of(filename, funcname)
        groups[label] = groups.get(label, 0.0) + tottime
    return groups


# Functions of skorch and of the package whose cumulative time is reported (name suffixes).
_WATCHED = (
    ("skorch/net.py", "fit"),
    ("skorch/net.py", "initialize"),
    ("skorch/net.py", "run_single_epoch"),
    ("skorch/net.py", "train_step"),
    ("skorch/net.py", "train_step_single"),
    ("skorch/net.py", "get_iterator"),
    ("skorch/net.py", "notify"),
    ("skorch/net.py", "infer"),
    ("skhep_reweight/_nn/net.py", "infer"),
    ("skhep_reweight/_nn/net.py", "get_loss"),
    ("skorch/history.py", "record_batch"),
    ("skorch/history.py", "new_batch"),
    ("skorch/history.py", "record"),
    ("skorch/callbacks/logging.py", "on_epoch_end"),
    ("skorch/callbacks/scoring.py", "on_epoch_end"),
    ("skhep_reweight/_nn/data.py", "__iter__"),
    ("skhep_reweight/_nn/data.py", "__getitem__"),
    ("skhep_reweight/_nn/data.py", "__init__"),
    ("skhep_reweight/_nn/net.py", "predict_network"),
    ("skhep_reweight/_nn/net.py", "train_network"),
    ("torch/optim/optimizer.py", "zero_grad"),
    ("torch/optim/adamw.py", "step"),
    ("torch/optim/adam.py", "step"),
    ("torch/_tensor.py", "backward"),
)


def _short_name(filename: str, line: int, funcname: str) -> str:
    if filename == "~":
        return funcname
    for root in ("skorch/", "skhep_reweight/", "torch/"):
        if root in filename:
            filename = root + filename.rsplit(root, 1)[1]
            break
    else:
        filename = filename.rsplit("/", 1)[-1]
    return f"{filename}:{line}({funcname})"


def largest_differences(ours: pstats.Stats, plain: pstats.Stats, count: int = 12) -> list[dict]:
    """Functions whose self time grows most from the plain loop to DCTRReweighter.fit."""
    keys = set(ours.stats) | set(plain.stats)
    rows = []
    for key in keys:
        o = ours.stats.get(key, (0, 0, 0.0, 0.0, {}))
        p = plain.stats.get(key, (0, 0, 0.0, 0.0, {}))
        rows.append(
            {
                "function": _short_name(*key),
                "ours_calls": o[1],
                "plain_calls": p[1],
                "ours_self_s": o[2],
                "plain_self_s": p[2],
                "extra_self_s": o[2] - p[2],
            }
        )
    rows.sort(key=lambda r: -r["extra_self_s"])
    return rows[:count]


def watched_functions(stats: pstats.Stats) -> list[dict]:
    rows = []
    for (filename, line, funcname), (_cc, ncalls, tottime, cumtime, _c) in stats.stats.items():
        for suffix, name in _WATCHED:
            if filename.endswith(suffix) and funcname == name:
                rows.append(
                    {
                        "function": f"{suffix}:{line}({funcname})",
                        "file": suffix,
                        "ncalls": ncalls,
                        "tottime_s": tottime,
                        "cumtime_s": cumtime,
                    }
                )
    rows.sort(key=lambda r: -r["cumtime_s"])
    return rows


def profile_breakdown(X, y, batch_size, epochs, device, seed) -> dict:
    """Where the extra time of DCTRReweighter.fit goes (see module docstring)."""
    # Timed directly, without the profiler: the prediction fit makes on the training sample.
    reweighter, ours = ours_fit(
        X, y, batch_size=batch_size, epochs=epochs, device=device, seed=seed
    )
    _, plain = plain_fit(X, y, batch_size=batch_size, epochs=epochs, device=device, seed=seed)
    predict_times = [
        timed(lambda: predict_network(reweighter.net_, X), device)[1] for _ in range(3)
    ]
    final_predict_s = median(predict_times)
    direct = {
        "ours_total_s": ours["total_s"],
        "plain_total_s": plain["total_s"],
        "extra_total_s": ours["total_s"] - plain["total_s"],
        "ours_epochs_s": ours["epochs_s"],
        "plain_epochs_s": plain["epochs_s"],
        "extra_in_epochs_s": ours["epochs_s"] - plain["epochs_s"],
        "final_prediction_on_training_sample_s": final_predict_s,
        "ours_outside_epochs_other_s": ours["outside_epochs_s"] - final_predict_s,
        "plain_outside_epochs_s": plain["total_s"] - plain["epochs_s"],
        "n_batches": epochs * -(-len(y) // batch_size),
    }
    direct["extra_per_batch_us"] = 1e6 * direct["extra_in_epochs_s"] / direct["n_batches"]

    ours_stats = profile_call(
        lambda: ours_fit(X, y, batch_size=batch_size, epochs=epochs, device=device, seed=seed)
    )
    plain_stats = profile_call(
        lambda: plain_fit(X, y, batch_size=batch_size, epochs=epochs, device=device, seed=seed)
    )
    ours_groups, plain_groups = group_tottime(ours_stats), group_tottime(plain_stats)
    labels = sorted(set(ours_groups) | set(plain_groups), key=lambda k: -ours_groups.get(k, 0))
    groups = [
        {
            "group": label,
            "ours_s": ours_groups.get(label, 0.0),
            "plain_s": plain_groups.get(label, 0.0),
            "extra_s": ours_groups.get(label, 0.0) - plain_groups.get(label, 0.0),
        }
        for label in labels
    ]
    return {
        "batch_size": batch_size,
        "epochs": epochs,
        "direct": direct,
        "profiled_ours_total_s": ours_stats.total_tt,
        "profiled_plain_total_s": plain_stats.total_tt,
        "groups": groups,
        "largest_differences": largest_differences(ours_stats, plain_stats),
        "watched": watched_functions(ours_stats),
    }


# --------------------------------------------------------------------------- reporting
def ratio_rows(results: list[dict]) -> list[list[str]]:
    rows = []
    for r in results:
        rows.append(
            [
                str(r["batch_size"]),
                str(r["epochs"]),
                str(r["n_batches"]),
                f"{r['plain_total_s']:.2f}",
                f"{r['ours_total_s']:.2f}",
                f"**{r['ratio_total']:.2f}**",
                f"{r['ratio_paired_median']:.2f}",
                f"{r['plain_epochs_s']:.2f}",
                f"{r['ours_epochs_s']:.2f}",
                f"{r['ratio_epochs']:.2f}",
                f"{r['extra_per_batch_us']:.0f}",
                "yes" if r["ratio_total"] <= GOAL_RATIO else "no",
            ]
        )
    return rows


RATIO_HEADERS = [
    "batch",
    "epochs",
    "batches",
    "plain fit [s]",
    "ours fit [s]",
    "ours/plain",
    "paired ratios, median",
    "plain epochs [s]",
    "ours epochs [s]",
    "ours/plain (epochs)",
    "extra per batch [us]",
    f"<= {GOAL_RATIO}?",
]


def profile_markdown(p: dict) -> str:
    d = p["direct"]
    direct_rows = [
        ["extra time of ours over plain (whole fit)", f"{d['extra_total_s']:.2f}"],
        ["  inside the epochs (skorch loop vs plain loop)", f"{d['extra_in_epochs_s']:.2f}"],
        ["    per batch [us]", f"{d['extra_per_batch_us']:.0f}"],
        [
            "  prediction on the training sample at the end of fit (n_clipped_)",
            f"{d['final_prediction_on_training_sample_s']:.2f}",
        ],
        [
            "  other work outside the epochs, ours (input checks, tensors, skorch set-up)",
            f"{d['ours_outside_epochs_other_s']:.2f}",
        ],
        ["  work outside the epochs, plain", f"{d['plain_outside_epochs_s']:.2f}"],
    ]
    text = [
        f"### Where the extra time goes (batch {p['batch_size']}, {p['epochs']} epochs)",
        "",
        markdown_table(["component (timed directly, one fit each)", "seconds"], direct_rows),
        "",
        f"Self time by origin under cProfile (ours {p['profiled_ours_total_s']:.2f} s, plain "
        f"{p['profiled_plain_total_s']:.2f} s; the profiler inflates Python calls, so read the "
        f"differences as shares, not as times without the profiler):",
        "",
        markdown_table(
            ["group", "ours [s]", "plain [s]", "ours - plain [s]"],
            [
                [g["group"], f"{g['ours_s']:.2f}", f"{g['plain_s']:.2f}", f"{g['extra_s']:+.2f}"]
                for g in p["groups"]
            ],
        ),
        "",
        "Functions whose self time grows most from the plain loop to DCTRReweighter.fit "
        "(under cProfile):",
        "",
        markdown_table(
            ["function", "calls ours", "calls plain", "self ours [s]", "self plain [s]", "extra"],
            [
                [
                    f["function"],
                    str(f["ours_calls"]),
                    str(f["plain_calls"]),
                    f"{f['ours_self_s']:.3f}",
                    f"{f['plain_self_s']:.3f}",
                    f"{f['extra_self_s']:+.3f}",
                ]
                for f in p["largest_differences"]
            ],
        ),
        "",
        "Cumulative time of selected functions in the profiled DCTRReweighter.fit:",
        "",
        markdown_table(
            ["function", "calls", "self [s]", "cumulative [s]"],
            [
                [w["function"], str(w["ncalls"]), f"{w['tottime_s']:.3f}", f"{w['cumtime_s']:.3f}"]
                for w in p["watched"]
            ],
        ),
        "",
        "skorch hands train_step_single to the optimizer as its closure, so the optimizer's step "
        "includes the forward and backward passes.",
    ]
    return "\n".join(text)


def _data(r: Run):
    """The training events, drawn once per run and shared by the sections."""
    if "data" not in r.state:
        data = make_gaussian_reweighting(r.args.n, random_state=r.args.random_state)
        r.state["data"] = (data.X, data.y)
    return r.state["data"]


def _warm_up(r: Run) -> None:
    """First calls of torch kernels and skorch's imports, untimed."""
    X, y = _data(r)
    n, k = r.args.n, min(WARM_UP_EVENTS, r.args.n)
    both = np.r_[0:k, n : n + k]
    seed = r.args.random_state
    plain_fit(X[both], y[both], batch_size=1024, epochs=1, device=r.device, seed=seed)
    ours_fit(X[both], y[both], batch_size=1024, epochs=1, device=r.device, seed=seed)


def _timing(r: Run) -> tuple[dict, str]:
    args, device = r.args, r.device
    X, y = _data(r)
    seed = args.random_state
    results = []
    for batch_size in args.batch_sizes:
        runs = {"plain": [], "ours": []}
        for repeat in range(args.repeats):
            for side, fit in (("plain", plain_fit), ("ours", ours_fit)):
                _, timing = fit(
                    X, y, batch_size=batch_size, epochs=args.epochs, device=device, seed=seed
                )
                runs[side].append(timing)
                print(
                    f"batch {batch_size} repeat {repeat} {side:>5}: fit {timing['total_s']:.2f}"
                    f" s, epochs {timing['epochs_s']:.2f} s, "
                    f"loss {timing['final_train_loss']:.4f}",
                    flush=True,
                )
        n_batches = args.epochs * -(-len(y) // batch_size)
        row = {"batch_size": batch_size, "epochs": args.epochs, "n_batches": n_batches}
        for side in ("plain", "ours"):
            row[f"{side}_total_s"] = median([t["total_s"] for t in runs[side]])
            row[f"{side}_epochs_s"] = median([t["epochs_s"] for t in runs[side]])
            row[f"{side}_runs"] = runs[side]
        row["ratio_total"] = row["ours_total_s"] / row["plain_total_s"]
        # Each ours run against the plain run just before it: robust to slow drifts of the load.
        row["ratio_paired_median"] = median(
            [o["total_s"] / p["total_s"] for p, o in zip(runs["plain"], runs["ours"], strict=True)]
        )
        row["ratio_epochs"] = row["ours_epochs_s"] / row["plain_epochs_s"]
        row["extra_per_batch_us"] = 1e6 * (row["ours_epochs_s"] - row["plain_epochs_s"]) / n_batches
        results.append(row)
    r.state["timing"] = results

    caption = (
        f"DCTRReweighter(early_stopping=False).fit against a plain PyTorch loop training the "
        f"same network on the same {len(y):,} events (1-D Gaussian example, {args.n:,} per "
        f"class), median of {args.repeats} alternating repeats. ours/plain: ratio of the "
        f"medians; paired ratios: median of each ours run over the plain run just before it. "
        f"'fit' is the whole call from NumPy arrays to a fitted network (ours includes the "
        f"prediction on the training sample that fit does to count clipped events); 'epochs' "
        f"is the training epochs alone (skorch's per-epoch dur against the plain loop). Goal: "
        f"ours/plain <= {GOAL_RATIO}."
    )
    markdown = markdown_table(RATIO_HEADERS, ratio_rows(results), caption)
    return {"n_per_class": args.n, "results": results}, markdown


def _profile(r: Run) -> tuple[dict, str]:
    args = r.args
    X, y = _data(r)
    if "timing" in r.state and args.profile == "auto":
        batch_sizes = [t["batch_size"] for t in r.state["timing"] if t["ratio_total"] > GOAL_RATIO]
    else:
        batch_sizes = list(args.batch_sizes)
    profiles = []
    for batch_size in batch_sizes:
        print(f"profiling batch {batch_size} ...", flush=True)
        profiles.append(
            profile_breakdown(X, y, batch_size, args.epochs, r.device, args.random_state)
        )
    if not profiles:
        markdown = (
            "Goal met at every batch size: nothing profiled (`--profile always` profiles anyway)."
        )
    else:
        markdown = "\n".join(profile_markdown(p) + "\n" for p in profiles)
    return {"profiles": profiles}, markdown


def _add_arguments(parser) -> None:
    parser.add_argument(
        "--profile",
        choices=("auto", "always"),
        default="auto",
        help="section profile: the batch sizes that missed the goal in section timing (auto, "
        "default; all of them when timing does not run), or all of them (always)",
    )


def main(argv=None) -> int:
    return run(
        __doc__.split("\n\n")[0],
        {"timing": _timing, "profile": _profile},
        argv,
        name=lambda args: f"training_overhead_n{args.n}_e{args.epochs}",
        title="Training overhead of DCTRReweighter.fit",
        sizes=SIZES,
        add_arguments=_add_arguments,
        before=_warm_up,
        constants={"goal_ratio": GOAL_RATIO},
    )


if __name__ == "__main__":
    raise SystemExit(main())
