"""The skhep-reweight command line: fit, apply and report a reweighting from a TOML file.

Only the standard library is imported here; PyTorch, scikit-learn and the file readers load
when a command needs them, so that --help and --version answer at once.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import warnings
from typing import Any

__all__ = ["entry_point", "main"]

_DESCRIPTION = """\
Reweight simulation to data with a neural (or BDT) classifier, from files, without Python.

  skhep-reweight fit config.toml           train, save the model, write the validation report
  skhep-reweight apply MODEL INPUT --output OUTPUT   weight any ROOT or parquet file in chunks
  skhep-reweight report config.toml MODEL  the validation report again, on held-out events
  skhep-reweight demo                      fit the Gaussian example and compare with the exact
                                           weights
"""

_CONFIG_EXAMPLE = """\
example config.toml (relative paths are taken from the file's folder):

  [source]                        # the sample to reweight
  path = "mc.root"                # .root or .parquet
  tree = "Events"                 # ROOT only
  weight = "w_nominal"            # optional: a column of event weights
  [target]
  path = "data.root"
  tree = "Events"
  weight = "sweight"              # optional
  [features]
  columns = ["pt", "eta", "ntracks"]
  [estimator]
  name = "DCTRReweighter"         # or ConditionalReweighter
  params = { hidden_layer_sizes = [64, 64], random_state = 0 }
  # classifier = "sklearn.ensemble.HistGradientBoostingClassifier"  # the BDT path
  # classifier_params = { max_iter = 200 }
  folds = 2                       # optional: out-of-fold weights for the training events
  [validation]                    # optional
  test_size = 0.25                # held out for the report when there are no folds
  random_state = 0
  [output]
  model = "model.skrw"            # the saved model (safe format; "joblib" with a classifier)
  report = "report"               # a folder: report.md, report.html, metrics.json, plots/
  # weights = "mc_weights.root"   # one weight per source event (default with folds)
  # format = "safe"               # or "joblib" (a pickle) for a scikit-learn classifier

exit status: 0 on success, 2 on bad input (a missing, damaged or unwritable file, a missing
tree, column or key), 130 when interrupted (SIGINT, Ctrl-C), 143 when terminated (SIGTERM, as
batch systems do), 1 otherwise. An interrupted or failed run leaves the outputs of an earlier
run as they were and writes nothing; warnings are printed as one-line notices on stderr.
"""


def _version() -> str:
    from . import __version__

    return __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skhep-reweight",
        description=_DESCRIPTION,
        epilog=_CONFIG_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"skhep-reweight {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fit = sub.add_parser(
        "fit",
        help="train from a configuration file, save the model, write the report",
        description="Train the reweighter a configuration describes, save the model, write "
        "the validation report and, with folds, the out-of-fold weights of the source events.",
        epilog=_CONFIG_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fit.add_argument("config", help="the TOML configuration file")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")

    apply = sub.add_parser(
        "apply",
        help="write one weight per event of a ROOT or parquet file",
        description="Weight every event of INPUT with a saved model, in chunks and in input "
        "order. A ROOT output is a new file whose tree has the input's entries (use it as a "
        "friend tree); a parquet output has one column.",
    )
    apply.add_argument("model", help="the model written by 'fit'")
    apply.add_argument("input", help="a .root or .parquet file")
    apply.add_argument("--output", "-o", required=True, help="the file to write (.root/.parquet)")
    apply.add_argument("--tree", help="the input's tree (ROOT), also the output tree's name")
    apply.add_argument("--weight", help="an input column of event weights to multiply in")
    apply.add_argument("--name", default="weight", help="the output column (default: weight)")
    apply.add_argument(
        "--columns", help="feature columns, comma-separated (default: the model's own names)"
    )
    apply.add_argument(
        "--chunk-size", type=int, default=200_000, help="events per chunk (default: 200000)"
    )
    apply.add_argument(
        "--allow-pickle",
        action="store_true",
        help="accept a joblib model (a pickle runs code when loaded: trusted files only)",
    )
    apply.add_argument("--quiet", action="store_true", help="no progress bar")

    report = sub.add_parser(
        "report",
        help="the validation report of a saved model, on held-out events",
        description="Re-run the validation of a model trained by 'fit' on the same held-out "
        "events (all events, out-of-fold, when the configuration has folds).",
    )
    report.add_argument("config", help="the TOML configuration file used by 'fit'")
    report.add_argument("model", help="the model written by 'fit'")
    report.add_argument("--output", "-o", help="report folder (default: the config's)")
    report.add_argument("--allow-pickle", action="store_true", help="accept a joblib model")

    demo = sub.add_parser(
        "demo",
        help="fit DCTRReweighter on the Gaussian example and compare with the exact weights",
    )
    demo.add_argument(
        "--n-samples",
        type=int,
        default=50_000,
        help="training events per class (as many again are held out)",
    )
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument("--device", default="auto", help="cpu, cuda or auto")
    demo.add_argument(
        "--output",
        default="skhep_reweight_demo.png",
        help="where to save the plot (needs matplotlib); '' for none",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _print_metrics(metrics: dict[str, Any]) -> None:
    print(
        f"  effective sample size : {metrics['ess_fraction']:.3f} of the source events "
        f"(top 1 % of weights carry {metrics['top1pct_weight_share']:.1%})"
    )
    print(
        f"  two-sample AUC        : {metrics['auc_before']:.3f} before -> "
        f"{metrics['auc_after']:.3f} after (0.5 = indistinguishable)"
    )
    for text in metrics.get("warnings", []):
        print(f"  warning: {text}")


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from ._demo import print_demo, run_demo

        output = args.output or None
        result = run_demo(
            args.n_samples, args.random_state, args.device, output, verbose=0 if args.quiet else 1
        )
        print_demo(result, output)
        return 0
    result = _execute(args)
    _COMPLETED.append(True)  # the outputs are in place: an interruption now ends nothing
    _summarize(args.command, result)
    return 0


def _execute(args: argparse.Namespace) -> dict[str, Any]:
    """Run ``fit``, ``apply`` or ``report``; their summary."""
    from . import _commands

    if args.command == "fit":
        return _commands.fit_command(args.config, verbose=0 if args.quiet else 1)
    if args.command == "apply":
        return _commands.apply_command(
            args.model,
            args.input,
            args.output,
            tree=args.tree,
            weight=args.weight,
            name=args.name,
            columns=args.columns.split(",") if args.columns else None,
            chunk_size=args.chunk_size,
            allow_pickle=args.allow_pickle,
            progress=not args.quiet,
        )
    return _commands.report_command(
        args.config, args.model, output=args.output, allow_pickle=args.allow_pickle
    )


def _summarize(command: str, result: dict[str, Any]) -> None:
    """What a command did: stdout, and its warnings as notices on stderr."""
    if command == "fit":
        print(f"fitted in {result['fit_seconds']:.1f} s; validation on {result['validation']}")
        _print_metrics(result["metrics"])
        print(f"  model   : {result['model']}")
        print(f"  report  : {result['report']}")
        if result["weights"] is not None:
            print(f"  weights : {result['weights']}")
    elif command == "apply":
        print(
            f"{result['n_events']} events weighted in {result['seconds']:.1f} s "
            f"({result['events_per_second']:.3g} events/s) -> {result['output']}"
        )
        n_outside, expected = result["n_outside_training_range"], result["n_outside_expected"]
        fresh = "" if expected is None else f" ({expected:.3g} on average for training-like events)"
        print(f"  events outside the training ranges: {n_outside}{fresh}")
        if result["outside_excessive"]:
            _notice(
                f"{n_outside} events lie outside the feature ranges seen in training, more than "
                "events of the training distribution would: their weights are extrapolations"
                + ("" if result["columns_checked"] else " (are --columns in training order?)")
            )
        if not result["columns_checked"]:
            _notice(
                "the model holds no column names, so the order of --columns could not be "
                "checked: it must be the training order"
            )
    else:
        print(f"report on {result['validation']} -> {result['report']}")
        _print_metrics(result["metrics"])


# The command being run, for the notices (set by main).
_COMMAND = ["skhep-reweight"]


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _notice(text: str) -> None:
    print(f"{_COMMAND[0]}: warning: {_one_line(text)}", file=sys.stderr)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """A warning as one line on stderr, without the Python source line it came from."""
    _notice(str(message))


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Python stands, so that the same clean-up as for Ctrl-C runs."""


# Set when SIGTERM arrived, in case a library turned the exception into a plain
# KeyboardInterrupt on its way out.
_TERMINATED: list[bool] = []
# Set when the command's outputs are complete: an interruption after that ends nothing.
_COMPLETED: list[bool] = []


def _on_sigterm(signum: int, frame: Any) -> None:
    _TERMINATED.append(True)
    raise _Terminated("terminated by SIGTERM")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input)."""
    parser = _parser()
    args = parser.parse_args(argv)
    _COMMAND[0] = f"skhep-reweight {args.command}"
    _TERMINATED.clear()
    _COMPLETED.clear()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning):
                warnings.simplefilter("ignore", category)
            warnings.showwarning = _show_warning
            return _run(args)
    except KeyboardInterrupt as exc:
        if _COMPLETED:
            print(f"{_COMMAND[0]}: interrupted after the run completed", file=sys.stderr)
            return 0
        if isinstance(exc, _Terminated) or _TERMINATED:
            print(f"{_COMMAND[0]}: terminated (SIGTERM); nothing was written", file=sys.stderr)
            return 128 + signal.SIGTERM
        print(f"{_COMMAND[0]}: interrupted; nothing was written", file=sys.stderr)
        return 128 + signal.SIGINT
    except (OSError, ValueError, ImportError) as exc:
        # bad input: a missing, damaged or unwritable file, a missing tree, column or key, a
        # bad value, a missing extra; one line, whatever the message held
        print(f"{_COMMAND[0]}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def entry_point() -> int:
    """The console command: :func:`main`, then SIGINT and SIGTERM ignored for the interpreter's
    exit. The command's work, its outputs included, is complete by then; a signal arriving
    while Python shuts down (its handlers are gone by that time) would otherwise kill the
    process with a misleading status after a successful run."""
    status = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return status


if __name__ == "__main__":
    sys.exit(entry_point())
