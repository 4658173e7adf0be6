"""A systematic variation emulated by reweighting: the same events twice, a 0.5 % effect.

``datasets.make_systematic_variation``: ``--n-events`` events (5000) with 12 features on very
different scales (momenta in MeV, pseudorapidities, azimuths, integer multiplicities) in both
samples; the target's weights differ from the source's by exp(delta(x)), a smooth function of
three features with standard deviation ``--effect`` (0.005). Every method learns the ratio on one
draw and is judged on ``--n-test`` (2x10^4) fresh events by the correlation of its log-weight
with the true delta, and by the standard deviation of its log-weight (the truth's is the effect).
``--n-seeds`` draws (5), each with its own seed for the data and the method.

Methods:

* ``DCTRReweighter()``: the defaults;
* ``first version``: the same defaults with the four behaviours of the first version restored
  (no merging of identical rows, so a random split of the rows; the validation loss summed in
  float32; the learning rate cut when an epoch improves the validation loss by less than 1e-4 of
  its value; a randomly initialized last layer);
* ``first version, 200 epochs``: the same without early stopping (the issue's reference);
* ``FoldingReweighter(2 folds)``: the defaults in two folds (the correlation of the held-out
  events: the mean of the folds);
* ``DCTRReweighter(HistGradientBoosting)``: a boosted classifier through ``classifier=``;
* ``hep_ml GBReweighter``: hep_ml's defaults (skipped without hep_ml).

Then ``warnings``: how many fits warn ``LearnedNothingWarning``: the defaults on the true labels
(none should) and on shuffled labels (all should), and the first version's training followed by
the new check (does the check catch the silent failure of the first version?).

Run ``python bench/bench_small_effects.py --help`` for the options.
"""

from __future__ import annotations

import contextlib
import time
import warnings

import numpy as np
from _common import Run, Size, markdown_table, run

from skhep_reweight import DCTRReweighter, FoldingReweighter, LearnedNothingWarning
from skhep_reweight.datasets import make_systematic_variation, systematic_variation_log_ratio

SIZES = {
    "n_events": Size("events (each in both samples)", 1000, 5000, 20_000),
    "n_test": Size("held-out events", 5000, 20_000, 100_000),
    "n_seeds": Size("independent draws and fits", 1, 5, 10),
}


def _add_arguments(parser) -> None:
    parser.add_argument("--effect", type=float, default=0.005, help="std of the log-ratio")


@contextlib.contextmanager
def first_version():
    """The first version's behaviour: no merging of identical rows, a float32 validation loss,
    the learning-rate plateau's relative threshold of 1e-4 (skorch's default) and a randomly
    initialized last layer."""
    import skorch.callbacks

    import skhep_reweight._nn.modules as modules
    import skhep_reweight._nn.net as net_module
    import skhep_reweight._nn.nets as nets_module

    merge, get_loss = net_module.merge_identical_rows, nets_module.WeightedNet.get_loss
    scheduler_init = skorch.callbacks.LRScheduler.__init__
    mlp_init = modules.MLP.__init__

    def random_output(self, *args, **kwargs):
        kwargs["zero_output"] = False
        mlp_init(self, *args, **kwargs)

    def float32_loss(self, y_pred, y_true, X=None, training=False):
        return get_loss(self, y_pred, y_true, X, training=True)  # the training path: float32

    def old_scheduler(self, *args, **kwargs):
        kwargs.pop("threshold", None)
        scheduler_init(self, *args, **kwargs)

    net_module.merge_identical_rows = lambda *args: None
    nets_module.WeightedNet.get_loss = float32_loss
    skorch.callbacks.LRScheduler.__init__ = old_scheduler
    modules.MLP.__init__ = random_output
    try:
        yield
    finally:
        net_module.merge_identical_rows = merge
        nets_module.WeightedNet.get_loss = get_loss
        skorch.callbacks.LRScheduler.__init__ = scheduler_init
        modules.MLP.__init__ = mlp_init


def _methods(seed: int) -> list:
    from sklearn.ensemble import HistGradientBoostingClassifier

    methods = [
        ("DCTRReweighter()", contextlib.nullcontext, lambda: DCTRReweighter(random_state=seed)),
        ("first version", first_version, lambda: DCTRReweighter(random_state=seed)),
        (
            "first version, 200 epochs",
            first_version,
            lambda: DCTRReweighter(early_stopping=False, max_epochs=200, random_state=seed),
        ),
        (
            "FoldingReweighter(2 folds)",
            contextlib.nullcontext,
            lambda: FoldingReweighter(DCTRReweighter(), n_folds=2, random_state=seed),
        ),
        (
            "DCTRReweighter(HistGradientBoosting)",
            contextlib.nullcontext,
            lambda: DCTRReweighter(HistGradientBoostingClassifier(), random_state=seed),
        ),
    ]
    try:
        from hep_ml.reweight import GBReweighter

        methods.append(("hep_ml GBReweighter", contextlib.nullcontext, GBReweighter))
    except ImportError:
        print("hep_ml is not installed: its row is skipped")
    return methods


def _fit(model, data):
    source, target = data.y == 0, data.y == 1
    if type(model).__name__ == "GBReweighter":
        return model.fit(
            data.X[source],
            data.X[target],
            original_weight=data.sample_weight[source],
            target_weight=data.sample_weight[target],
        )
    return model.fit(data.X, data.y, data.sample_weight)


def _variation(r: Run) -> tuple[dict, str]:
    a = r.args
    test = make_systematic_variation(a.n_test, effect=a.effect, random_state=10_000)
    X_test = test.X[test.y == 0]
    truth = systematic_variation_log_ratio(X_test, a.effect)
    results: dict[str, dict] = {}
    for seed in range(a.n_seeds):
        data = make_systematic_variation(a.n_events, effect=a.effect, random_state=seed)
        for name, context, make in _methods(seed):
            with context(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                model = _fit(make(), data)
                seconds = time.perf_counter() - start
                log_w = np.log(model.predict_weights(X_test))
            entry = results.setdefault(name, {"correlation": [], "std": [], "fit_s": []})
            entry["correlation"].append(float(np.corrcoef(log_w, truth)[0, 1]))
            entry["std"].append(float(np.std(log_w)))
            entry["fit_s"].append(seconds)
            if hasattr(model, "n_iter_"):
                entry.setdefault("epochs", []).append(int(model.n_iter_))
            print(
                f"seed {seed} {name:<38} corr {entry['correlation'][-1]:+.3f} "
                f"std {entry['std'][-1]:.4f} {seconds:.1f} s",
                flush=True,
            )
    rows = []
    for name, entry in results.items():
        c = np.array(entry["correlation"])
        rows.append(
            [
                name,
                f"{c.mean():+.3f} ± {c.std(ddof=1) if c.size > 1 else 0:.3f}",
                f"{c.min():+.3f}",
                f"{np.mean(entry['std']):.4f}",
                f"{np.mean(entry['epochs']):.0f}" if "epochs" in entry else "",
                f"{np.mean(entry['fit_s']):.1f}",
            ]
        )
    caption = (
        f"{a.n_events} events in both samples, effect {a.effect}, {a.n_seeds} seeds; held-out "
        f"{a.n_test} events. Correlation of the learned log-weight with the true log-ratio (mean "
        f"± std over the seeds, and the worst seed); the std of the learned log-weight (the "
        f"truth's: {np.std(truth):.4f}); epochs; fit time."
    )
    table = markdown_table(
        ["method", "correlation", "worst", "std log w", "epochs", "fit [s]"], rows, caption
    )
    return {"methods": results, "truth_std": float(np.std(truth))}, table


def _warnings(r: Run) -> tuple[dict, str]:
    a = r.args
    cases = [
        ("DCTRReweighter(), true labels", contextlib.nullcontext, False),
        ("DCTRReweighter(), labels shuffled", contextlib.nullcontext, True),
        ("first version's training, true labels, the new check", first_version, False),
    ]
    counts = {name: 0 for name, _, _ in cases}
    for seed in range(a.n_seeds):
        data = make_systematic_variation(a.n_events, effect=a.effect, random_state=seed)
        shuffled = np.random.RandomState(seed).permutation(data.y)
        for name, context, shuffle in cases:
            with context(), warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                y = shuffled if shuffle else data.y
                DCTRReweighter(random_state=seed).fit(data.X, y, data.sample_weight)
            counts[name] += any(w.category is LearnedNothingWarning for w in record)
    rows = [[name, f"{k} of {a.n_seeds}"] for name, k in counts.items()]
    caption = (
        "Fits that warn LearnedNothingWarning (the first version had no such check; the last row "
        "runs the first version's training with the new check after it)."
    )
    return {"warned": counts, "n": a.n_seeds}, markdown_table(["case", "warned"], rows, caption)


def main(argv=None) -> int:
    return run(
        __doc__.split("\n\n")[0],
        {"variation": _variation, "warnings": _warnings},
        argv,
        name="small_effects",
        title="A 0.5 % systematic variation on the same events",
        sizes=SIZES,
        add_arguments=_add_arguments,
    )


if __name__ == "__main__":
    raise SystemExit(main())
