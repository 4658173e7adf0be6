"""The TOML configuration of ``skhep-reweight fit`` and ``report``: read, checked, turned into an
estimator.

Every key is checked before anything is read or trained: an unknown table or key, a value of the
wrong type, an unknown estimator, parameter or classifier raises :class:`ConfigError`, whose
message names the file and the key (``estimator.params.hidden_layer_size``) and lists what is
allowed. Relative paths are taken from the configuration file's folder, so that a configuration
runs the same from any working directory.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ESTIMATORS", "Config", "ConfigError", "Sample", "build_estimator", "load_config"]

#: The reweighters a configuration can name (``[estimator] name``), by module.
ESTIMATORS = {
    "DCTRReweighter": "skhep_reweight.reweight",
    "ConditionalReweighter": "skhep_reweight.reweight",
}

# Every table and key a configuration may hold, with the type each value must have.
_SAMPLE_KEYS = {"path": str, "tree": str, "weight": str}
_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "source": _SAMPLE_KEYS,
    "target": _SAMPLE_KEYS,
    "features": {"columns": list},
    "estimator": {
        "name": str,
        "params": dict,
        "classifier": str,
        "classifier_params": dict,
        "allow_any_classifier": bool,
        "folds": int,
        "n_jobs": int,
    },
    "validation": {"test_size": float, "random_state": int, "bins": int},
    "output": {"model": str, "report": str, "weights": str, "format": str},
}
_REQUIRED = {
    "source": ("path",),
    "target": ("path",),
    "features": ("columns",),
    "estimator": ("name",),
    "output": ("model", "report"),
}
_FORMATS = ("safe", "joblib")
# The packages whose classifiers a configuration may name. Importing a module runs its code, so a
# name read from a file is imported only from these, unless the configuration sets
# 'estimator.allow_any_classifier = true': the libraries of the BDT path and the package itself.
CLASSIFIER_PACKAGES = ("sklearn", "xgboost", "lightgbm", "catboost", "skhep_reweight")


class ConfigError(ValueError):
    """A configuration that cannot be run; the message names the file and the key."""


@dataclass(frozen=True)
class Sample:
    """One input sample: a file, its tree (ROOT) and its optional weight column."""

    path: Path
    tree: str | None = None
    weight: str | None = None


@dataclass(frozen=True)
class Config:
    """A checked configuration (see :func:`load_config`)."""

    file: Path
    source: Sample
    target: Sample
    columns: list[str]
    estimator: str
    params: dict[str, Any] = field(default_factory=dict)
    classifier: str | None = None
    classifier_params: dict[str, Any] = field(default_factory=dict)
    allow_any_classifier: bool = False
    folds: int | None = None
    n_jobs: int | None = None
    test_size: float = 0.25
    random_state: int = 0
    bins: int = 40
    model: Path = Path("model.skrw")
    report: Path = Path("report")
    weights: Path | None = None
    format: str = "safe"


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    if not path.is_file():
        raise FileNotFoundError(f"configuration file '{path}' does not exist")
    try:
        with open(path, "rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "a table"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _check_tables(path: Path, raw: dict[str, Any]) -> None:
    for table, value in raw.items():
        if table not in _SCHEMA:
            raise ConfigError(
                f"{path}: unknown table [{table}] (allowed: {', '.join(sorted(_SCHEMA))})"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: '{table}' must be a table ([{table}]), got {value!r}")
        for key, item in value.items():
            if key not in _SCHEMA[table]:
                raise ConfigError(
                    f"{path}: unknown key '{table}.{key}' (allowed in [{table}]: "
                    f"{', '.join(sorted(_SCHEMA[table]))})"
                )
            kind = _SCHEMA[table][key]
            ok = isinstance(item, kind) and not (isinstance(item, bool) and kind is not bool)
            if kind is float and isinstance(item, int) and not isinstance(item, bool):
                ok = True
            if not ok:
                raise ConfigError(
                    f"{path}: '{table}.{key}' must be {_type_name(kind)}, got {item!r}"
                )
    for table, keys in _REQUIRED.items():
        for key in keys:
            if key not in raw.get(table, {}):
                raise ConfigError(f"{path}: missing key '{table}.{key}'")


def _plain(value: Any) -> Any:
    """TOML lists as tuples (hashable, as scikit-learn parameters are usually given)."""
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def load_config(path: str | Path) -> Config:
    """Read and check a configuration file; see the command line's documentation for the keys.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ConfigError
        On invalid TOML, an unknown table or key, a value of the wrong type, a missing key, an
        unknown estimator or parameter, or a classifier that cannot be imported.
    """
    path = Path(path)
    raw = _read_toml(path)
    _check_tables(path, raw)
    base = path.resolve().parent

    def sample(table: str) -> Sample:
        values = raw[table]
        return Sample(base / values["path"], values.get("tree"), values.get("weight"))

    columns = raw["features"]["columns"]
    if not columns or not all(isinstance(c, str) for c in columns):
        raise ConfigError(f"{path}: 'features.columns' must be a non-empty list of column names")
    if len(set(columns)) != len(columns):
        raise ConfigError(f"{path}: 'features.columns' names a column twice: {columns}")
    estimator = raw["estimator"]
    validation = raw.get("validation", {})
    output = raw["output"]
    config = Config(
        file=path,
        source=sample("source"),
        target=sample("target"),
        columns=list(columns),
        estimator=estimator["name"],
        params={k: _plain(v) for k, v in estimator.get("params", {}).items()},
        classifier=estimator.get("classifier"),
        classifier_params={k: _plain(v) for k, v in estimator.get("classifier_params", {}).items()},
        allow_any_classifier=estimator.get("allow_any_classifier", False),
        folds=estimator.get("folds"),
        n_jobs=estimator.get("n_jobs"),
        test_size=float(validation.get("test_size", 0.25)),
        random_state=validation.get("random_state", 0),
        bins=validation.get("bins", 40),
        model=base / output["model"],
        report=base / output["report"],
        weights=base / output["weights"] if "weights" in output else None,
        format=output.get("format", "safe"),
    )
    if config.estimator not in ESTIMATORS:
        raise ConfigError(
            f"{path}: 'estimator.name' = {config.estimator!r} is not a reweighter of the package "
            f"(choose one of: {', '.join(ESTIMATORS)})"
        )
    if config.folds is not None and config.folds < 2:
        raise ConfigError(f"{path}: 'estimator.folds' must be at least 2, got {config.folds}")
    if not 0 < config.test_size < 1:
        raise ConfigError(
            f"{path}: 'validation.test_size' must lie strictly between 0 and 1, got "
            f"{config.test_size}"
        )
    if config.bins < 1:
        raise ConfigError(f"{path}: 'validation.bins' must be positive, got {config.bins}")
    if config.format not in _FORMATS:
        raise ConfigError(
            f"{path}: 'output.format' must be one of {', '.join(_FORMATS)}, got {config.format!r}"
        )
    if config.n_jobs is not None and config.folds is None:
        raise ConfigError(f"{path}: 'estimator.n_jobs' applies to the folds: set 'estimator.folds'")
    if config.classifier is None and config.classifier_params:
        raise ConfigError(f"{path}: 'estimator.classifier_params' given without a classifier")
    if config.classifier is None and config.allow_any_classifier:
        raise ConfigError(f"{path}: 'estimator.allow_any_classifier' given without a classifier")
    build_estimator(config)  # unknown parameters and classifiers fail here, before any reading
    return config


def _import_classifier(config: Config) -> type:
    where = f"{config.file}: 'estimator.classifier' = {config.classifier!r}"
    module_name, _, name = str(config.classifier).rpartition(".")
    if not module_name:
        raise ConfigError(f"{where} must be an import path such as 'module.ClassName'")
    package = module_name.split(".")[0]
    if package not in CLASSIFIER_PACKAGES and not config.allow_any_classifier:
        raise ConfigError(
            f"{where}: classifiers are imported only from {', '.join(CLASSIFIER_PACKAGES)}, "
            f"because importing a module runs its code; to import {module_name!r}, set "
            "'estimator.allow_any_classifier = true' in a configuration you trust"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or whatever a module raises while it is imported
        raise ConfigError(f"{where}: cannot import module {module_name!r} ({exc})") from None
    cls = getattr(module, name, None)
    if not isinstance(cls, type) or not hasattr(cls, "predict_proba"):
        raise ConfigError(f"{where}: {module_name} has no classifier class {name!r}")
    return cls


def _checked_params(estimator: Any, params: dict[str, Any], key: str, file: Path) -> None:
    """``set_params`` with an error naming the configuration key."""
    from sklearn.utils._param_validation import InvalidParameterError

    allowed = sorted(estimator.get_params(deep=False))
    for name in params:
        if name not in allowed:
            raise ConfigError(
                f"{file}: unknown parameter '{key}.{name}' of {type(estimator).__name__} "
                f"(allowed: {', '.join(allowed)})"
            )
    estimator.set_params(**params)
    validate = getattr(estimator, "_validate_params", None)
    if validate is not None:
        try:
            validate()
        except InvalidParameterError as exc:
            raise ConfigError(f"{file}: '{key}': {exc}") from None


def build_estimator(config: Config) -> Any:
    """The unfitted estimator a configuration describes (a :class:`FoldingReweighter` around it
    when ``estimator.folds`` is set)."""
    module = importlib.import_module(ESTIMATORS[config.estimator])
    estimator = getattr(module, config.estimator)()
    params = dict(config.params)
    if "classifier" in params:
        raise ConfigError(
            f"{config.file}: give the classifier as 'estimator.classifier' (an import path) and "
            "its parameters as 'estimator.classifier_params', not inside 'estimator.params'"
        )
    if config.classifier is not None:
        classifier = _import_classifier(config)()
        _checked_params(classifier, config.classifier_params, "estimator.classifier_params",
                        config.file)  # fmt: skip
        params["classifier"] = classifier
    _checked_params(estimator, params, "estimator.params", config.file)
    if config.folds is None:
        return estimator
    from .reweight import FoldingReweighter

    seed = params.get("random_state", config.random_state)
    return FoldingReweighter(
        estimator, n_folds=config.folds, random_state=seed, n_jobs=config.n_jobs
    )
