"""What ``skhep-reweight fit``, ``apply`` and ``report`` do, as functions the command line calls.

- :func:`fit_command` reads the two samples of a configuration, trains the reweighter it names,
  and writes the model, the validation report and (with folds, or when ``output.weights`` is
  given) one weight per source event.
- :func:`apply_command` weights any file in chunks, in bounded memory, one weight per event in
  input order.
- :func:`report_command` re-runs the validation of a saved model on the events ``fit`` held out.

The validation sample is the same in ``fit`` and ``report``: with ``estimator.folds`` every event,
each weighted by the fold model that did not see it; without, the ``validation.test_size``
share of each sample that training never saw, drawn with ``validation.random_state``. When
source and target are the same events (one file, two weight columns: a systematic variation),
an event's two copies stay on the same side of every split.

Every output location is checked before any event is read (:class:`~skhep_reweight._files.
OutputSet`): folders the configuration names are created, a location that cannot be written is
refused with the path as the user wrote it. The outputs are written to a hidden staging folder
and moved into place together once the run has succeeded, with SIGINT and SIGTERM held off
while they move; a failure or an interruption leaves the outputs of an earlier run as they were
and nothing new. Two runs writing the same output at once are refused.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ._config import Config, ConfigError, build_estimator, load_config
from ._errors import DamagedFileError, SmallSampleWarning, one_line
from ._files import OutputSet

__all__ = ["apply_command", "fit_command", "load_model", "report_command", "save_model"]

#: Events read and weighted at once by ``apply`` unless told otherwise.
DEFAULT_CHUNK_SIZE = 200_000


class CommandError(ValueError):
    """Bad input to a command (exit status 2); the message names the file or option."""


# The first bytes of the files a model can be: a zip archive (the safe format), and the
# protocol marker of a pickle (joblib writes plain pickles unless told to compress).
_ZIP_MAGIC = b"PK"
_PICKLE_MAGIC = b"\x80"


# ---------------------------------------------------------------------------- models on disk
def save_model(model: Any, path: str | os.PathLike, format: str = "safe") -> Path:
    """Write a fitted model: ``"safe"`` is :func:`skhep_reweight.save` (data only, no code runs
    when it is loaded); ``"joblib"`` is a pickle, for models the safe format cannot hold (a
    scikit-learn classifier inside), to be loaded only from trusted files."""
    path = Path(path)
    if format == "safe":
        from ._persist import save

        save(model, path)
    else:
        import joblib

        from ._files import atomic_file

        with atomic_file(path) as stream:
            joblib.dump(model, stream)
    return path


def load_model(path: str | os.PathLike, *, allow_pickle: bool = False) -> Any:
    """Read a model written by :func:`save_model`; a pickle only with ``allow_pickle``.

    The kind of file is told by its first bytes, not by whether it reads: a damaged or
    truncated save file is a :class:`~skhep_reweight._errors.DamagedFileError`, never advice
    to load it as a pickle.
    """
    path = Path(path)
    if path.is_dir():
        raise CommandError(f"model '{path}' is a folder, not a model file")
    if not path.is_file():
        raise FileNotFoundError(f"model file '{path}' does not exist")
    with open(path, "rb") as stream:
        head = stream.read(2)
    if head.startswith(_ZIP_MAGIC):
        from ._persist import load

        return load(path)
    if not head.startswith(_PICKLE_MAGIC):
        raise DamagedFileError(
            f"model file '{path}' is neither a skhep_reweight save file nor a joblib pickle "
            f"(it starts with {head!r}): it is damaged, or not a model"
        )
    if not allow_pickle:
        raise CommandError(
            f"model file '{path}' is not in the safe format (it is a pickle, not a "
            "skhep_reweight.save archive); if it is a joblib pickle that you trust, pass "
            "--allow-pickle: loading a pickle runs the code it names"
        )
    import joblib

    try:
        return joblib.load(path)
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise DamagedFileError(
            f"model file '{path}' is a damaged pickle ({one_line(exc)})"
        ) from None


# ---------------------------------------------------------------------------- the samples
def _read_sample(config: Config, which: str) -> tuple[Any, np.ndarray | None]:
    from .io import read_events

    sample = getattr(config, which)
    try:
        return read_events(
            sample.path, config.columns, tree=sample.tree, weight=sample.weight, library="pd"
        )
    except (ValueError, FileNotFoundError) as exc:
        raise type(exc)(f"[{which}] {exc}") from None


def _same_events(config: Config) -> bool:
    """Source and target are the same events (one file, two weight columns)."""
    s, t = config.source, config.target
    return s.path.resolve() == t.path.resolve() and s.tree == t.tree


def _held_out(config: Config, n_source: int, n_target: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the held-out source and target events (no folds)."""
    rng = np.random.RandomState(config.random_state)
    if _same_events(config):
        held = rng.permutation(n_source) < round(config.test_size * n_source)
        return held, held.copy()
    held_source = rng.permutation(n_source) < round(config.test_size * n_source)
    held_target = rng.permutation(n_target) < round(config.test_size * n_target)
    return held_source, held_target


def _unit(weight: np.ndarray | None, n: int) -> np.ndarray:
    return np.ones(n) if weight is None else weight


@contextmanager
def _quiet_range_warning() -> Iterator[None]:
    """The report and ``apply`` count out-of-range events themselves."""
    from ._base import OutOfRangeWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfRangeWarning)
        yield


def _validation_report(
    config: Config, model: Any, samples: tuple[Any, np.ndarray | None, Any, np.ndarray | None]
) -> tuple[Any, str]:
    """The report on the validation sample, and a sentence saying what that sample is."""
    from ._base import stack_samples
    from .diagnostics import reweighting_report

    source, w_source, target, w_target = samples
    n_source, n_target = len(source), len(target)
    w_source, w_target = _unit(w_source, n_source), _unit(w_target, n_target)
    groups = None
    with _quiet_range_warning():
        if config.folds:
            X, _, _ = stack_samples(source, target)
            if not model.is_training_sample(X, np.r_[w_source, w_target]):
                raise CommandError(
                    f"the events or weights of {config.file} are not those the model was "
                    "trained on: out-of-fold weights need the training events with their "
                    "weights (were the files or the weight columns changed?)"
                )
            weights = model.predict_weights(X)[:n_source]
            what = (
                f"all events, each weighted by the fold model that did not see it "
                f"({config.folds} folds)"
            )
            held_s, held_t = np.ones(n_source, bool), np.ones(n_target, bool)
        else:
            held_s, held_t = _held_out(config, n_source, n_target)
            weights = model.predict_weights(source[held_s])
            what = (
                f"the {config.test_size:.0%} of the events held out of training "
                f"(random_state={config.random_state})"
            )
    if _same_events(config):
        index = np.arange(n_source)
        groups = np.r_[index[held_s], index[held_t]]
    with warnings.catch_warnings():  # the report lists it among its warnings, printed after
        warnings.simplefilter("ignore", SmallSampleWarning)
        report = reweighting_report(
            source[held_s],
            target[held_t],
            weights,
            source_weight=w_source[held_s],
            target_weight=w_target[held_t],
            feature_names=config.columns,
            training_range=getattr(model, "feature_range_", None),
            training_size=getattr(model, "n_range_events_", None),
            groups=groups,
            bins=config.bins,
            n_clipped=getattr(model, "n_clipped_", None),
            random_state=config.random_state,
        )
    return report, what


def _report_note(config: Config, what: str, model_path: Path) -> dict[str, Any]:
    """The note and metadata that say which model, configuration and events a report is of."""
    return {
        "note": f"Model: {model_path}. Configuration: {config.file}. Validation sample: {what}.",
        "metadata": {"validation_sample": what, "model": str(model_path)},
    }


def _stage_report(outputs: OutputSet, report: Any, note: dict[str, Any]) -> None:
    for relative, content in report.files(**note).items():
        outputs.write_bytes("output.report", relative, content)


def _write_weights(path: Path, weights: np.ndarray, tree: str | None) -> None:
    from .io import write_weights

    write_weights(path, weights, name="weight", tree=tree or "Events")


# ---------------------------------------------------------------------------- the commands
def fit_command(config_path: str | os.PathLike, *, verbose: int = 1) -> dict[str, Any]:
    """``skhep-reweight fit CONFIG``: train, save the model, write the report (and weights).

    Returns a summary: the paths written, the fit time and the report's metrics.
    """
    from ._base import stack_samples

    config = load_config(config_path)
    if config.classifier is not None and config.format == "safe":
        raise ConfigError(
            f"{config.file}: a scikit-learn classifier ('estimator.classifier') cannot be stored "
            "in the safe model format; set 'output.format' = \"joblib\" (a pickle: load it only "
            "from files you trust)"
        )
    weights_path = config.weights
    if weights_path is None and config.folds:
        suffix = config.source.path.suffix
        weights_path = config.model.with_name(f"{config.model.stem}_weights{suffix}")
    outputs = OutputSet(
        {"output.model": config.model, "output.weights": weights_path},
        folders={"output.report": config.report},
        inputs=[config.source.path, config.target.path, config.file],
    )
    if weights_path is not None:
        from .io._common import format_of

        format_of(weights_path, "output.weights")
    with outputs:  # every location checked (and locked) before any event is read
        source, w_source = _read_sample(config, "source")
        target, w_target = _read_sample(config, "target")
        model = build_estimator(config)
        if verbose and hasattr(model, "verbose") and "verbose" not in config.params:
            inner = getattr(model, "estimator", model)
            if "verbose" in inner.get_params():
                inner.set_params(verbose=verbose)
        start = time.perf_counter()
        if config.folds:
            model.fit_samples(source, target, w_source, w_target)
        else:
            held_s, held_t = _held_out(config, len(source), len(target))
            model.fit_samples(
                source[~held_s],
                target[~held_t],
                None if w_source is None else w_source[~held_s],
                None if w_target is None else w_target[~held_t],
            )
        fit_seconds = time.perf_counter() - start
        report, what = _validation_report(config, model, (source, w_source, target, w_target))
        if weights_path is not None:
            with _quiet_range_warning():
                if config.folds:
                    X, _, _ = stack_samples(source, target)
                    source_weights = model.predict_weights(X)[: len(source)]
                else:
                    source_weights = model.predict_weights(source)
            _write_weights(outputs.path("output.weights"), source_weights, config.source.tree)
        _stage_report(outputs, report, _report_note(config, what, config.model))
        save_model(model, outputs.path("output.model"), config.format)
        outputs.commit()
    return {
        "model": config.model,
        "report": config.report,
        "weights": weights_path,
        "fit_seconds": fit_seconds,
        "validation": what,
        "metrics": report.metrics,
    }


def report_command(
    config_path: str | os.PathLike,
    model_path: str | os.PathLike,
    *,
    output: str | os.PathLike | None = None,
    allow_pickle: bool = False,
) -> dict[str, Any]:
    """``skhep-reweight report CONFIG MODEL``: the validation report of a saved model again,
    on the events ``fit`` held out (all events, out-of-fold, with folds); written to
    ``output`` (default: the configuration's ``output.report``)."""
    config = load_config(config_path)
    folder = Path(output) if output is not None else config.report
    outputs = OutputSet(
        {},
        folders={"output.report": folder},
        inputs=[config.source.path, config.target.path, config.file, Path(model_path)],
    )
    with outputs:
        model = load_model(model_path, allow_pickle=allow_pickle)
        if bool(config.folds) != hasattr(model, "estimators_"):
            raise CommandError(
                f"{config.file} and model '{model_path}' disagree: the configuration "
                f"{'sets' if config.folds else 'does not set'} 'estimator.folds' but the model "
                f"is a {type(model).__name__}"
            )
        samples = (*_read_sample(config, "source"), *_read_sample(config, "target"))
        report, what = _validation_report(config, model, samples)
        _stage_report(outputs, report, _report_note(config, what, Path(model_path)))
        outputs.commit()
    return {"report": folder, "validation": what, "metrics": report.metrics}


def _model_columns(model: Any, model_path: Any, columns: list[str] | None) -> list[str]:
    """The feature columns to read: the model's own names, which ``--columns`` must repeat."""
    names = getattr(model, "feature_names_in_", None)
    if columns is None:
        if names is None:
            raise CommandError(
                f"model '{model_path}' was trained without column names: give them with "
                "--columns a,b,c in training order"
            )
        return [str(c) for c in names]
    if names is not None and list(columns) != [str(c) for c in names]:
        raise CommandError(
            f"--columns {','.join(columns)} differ from the model's training columns "
            f"{','.join(map(str, names))}"
        )
    return list(columns)


def apply_command(
    model_path: str | os.PathLike,
    input_path: str | os.PathLike,
    output: str | os.PathLike,
    *,
    tree: str | None = None,
    weight: str | None = None,
    name: str = "weight",
    columns: list[str] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    allow_pickle: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """``skhep-reweight apply MODEL INPUT --output OUTPUT``: one weight per input event, in
    input order, written in chunks (bounded memory); with ``weight`` the input's weight column
    is multiplied in.

    Returns a summary: events, the events outside the training ranges with the count a sample
    of the training distribution gives on average (``n_outside_expected``) and whether the
    observed count exceeds it (``outside_excessive``), whether the columns' order could be
    checked against the model's names (``columns_checked``), and the time.
    """
    from ._base import OUT_OF_RANGE_LEVEL, outside_range, outside_range_excess
    from .io import WeightWriter, count_events, iterate_events
    from .io._common import format_of

    input_path, output = Path(input_path), Path(output)
    if chunk_size < 1:
        raise CommandError(f"--chunk-size must be positive, got {chunk_size}")
    format_of(output, "--output")
    outputs = OutputSet({"--output": output}, inputs=[input_path, Path(model_path)])
    with outputs:
        model = load_model(model_path, allow_pickle=allow_pickle)
        checked = getattr(model, "feature_names_in_", None) is not None
        columns = _model_columns(model, model_path, columns)
        n_events = count_events(input_path, tree=tree)
        feature_range = getattr(model, "feature_range_", None)
        n_outside = 0
        start = time.perf_counter()
        from tqdm.auto import tqdm

        bar = tqdm(total=n_events, unit="events", unit_scale=True, disable=not progress)
        library = "pd" if checked else "np"
        staged = outputs.path("--output")
        try:
            with WeightWriter(staged, name=name, tree=tree or "Events", n_events=n_events) as out:
                chunks = iterate_events(
                    input_path, columns, tree=tree, weight=weight, chunk_size=chunk_size,
                    library=library,
                )  # fmt: skip
                for X, w in chunks:
                    with _quiet_range_warning():
                        weights = model.predict_weights(X)
                    if feature_range is not None:
                        values = np.asarray(X, dtype=np.float64)
                        n_outside += int(outside_range(values, feature_range).any(axis=1).sum())
                    out.write(weights if w is None else weights * w)
                    bar.update(len(weights))
        finally:
            bar.close()
        outputs.commit()
    seconds = time.perf_counter() - start
    expected, p_value = outside_range_excess(
        n_outside, n_events, len(columns), getattr(model, "n_range_events_", None)
    )
    return {
        "output": output,
        "n_events": n_events,
        "n_outside_training_range": n_outside,
        "n_outside_expected": expected,
        "outside_excessive": p_value < OUT_OF_RANGE_LEVEL,
        "columns_checked": checked,
        "seconds": seconds,
        "events_per_second": n_events / seconds if seconds > 0 else float("inf"),
    }
