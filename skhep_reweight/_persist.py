"""Saving and loading estimators as data: a file format that cannot run code when it is read.

A pickle (and ``torch.load`` without ``weights_only``) rebuilds objects by calling functions
named in the file, so opening a pickle from an untrusted source runs whatever it names. The
format of :func:`save` and :func:`load` holds numbers and names only:

- the file is a NumPy ``.npz`` archive, read with ``numpy.load(path, allow_pickle=False)``, so
  numpy refuses any entry that would need unpickling;
- every array of the estimator (fitted statistics, network weights, loss curves, ...) is one
  entry of the archive, with its dtype (arrays of Python objects are refused);
- everything else is one JSON document, stored as the ``uint8`` entry ``"__header__"``: the
  format name and version, the versions of skhep_reweight and torch that wrote it, and a tree
  of tagged values (numbers, strings, lists, tuples, dictionaries, the package's estimators,
  their helper objects and their networks) whose arrays point to the entries of the archive.

Loading maps each class name of the header to a class through fixed dictionaries (the
allow-lists below): a name read from a file is never imported, and a name outside the lists is
an error. Networks are rebuilt on the CPU from their constructor arguments and their
``state_dict``.

Examples
--------
>>> import tempfile, pathlib
>>> from skhep_reweight import DCTRReweighter
>>> from skhep_reweight.datasets import make_gaussian_reweighting
>>> data = make_gaussian_reweighting(n_samples=200, random_state=0)
>>> model = DCTRReweighter(max_epochs=2, random_state=0, device="cpu").fit(data.X, data.y)
>>> with tempfile.TemporaryDirectory() as folder:
...     path = save(model, pathlib.Path(folder) / "model.skhep")
...     loaded = load(path)
>>> bool((loaded.predict_weights(data.X) == model.predict_weights(data.X)).all())
True
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.neighbors import KNeighborsRegressor
from sklearn.utils import Bunch

from ._errors import DamagedFileError, one_line
from ._files import atomic_file
from ._nn.gan import WeightedGAN
from ._nn.modules import MLP, GaussianAnsatzNetwork, MarginalConditionalMLP
from ._nn.nets import AlternatingNet, DonskerVaradhanNet, WeightedNet
from ._nn.transport import TransportPotentials
from .calibrate import GaussianAnsatzCalibrator, OTCalibrator
from .calibrate._exact_transport import ConditionBins, DiscreteMap, QuantileMap
from .fit import SRGNFitter
from .reweight import BaggingReweighter, ConditionalReweighter, DCTRReweighter, FoldingReweighter
from .unfold import OmniFold
from .unweight import WeightedGANUnweighter

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load", "save"]

# The name written into every file, so that another npz archive is not mistaken for a model.
FORMAT_NAME = "skhep_reweight.save"
# Incremented whenever the meaning of the header changes; a file from a newer version is refused.
FORMAT_VERSION = 1
# The archive entry holding the JSON header (array entries are named "a0", "a1", ...).
HEADER_KEY = "__header__"
# The deepest nesting of the header that a file may have. The deepest real models, ensembles of
# reweighters and OmniFold's ensembles, nest 12 levels (tests/test_persist.py checks every model
# there stays below half of this); a damaged or hostile header nested hundreds deep would exhaust
# Python's recursion while decoding.
MAX_HEADER_DEPTH = 64

# The allow-lists: the only classes a file can name. A file cannot add to them.
_ESTIMATORS: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        DCTRReweighter,
        ConditionalReweighter,
        FoldingReweighter,
        BaggingReweighter,
        GaussianAnsatzCalibrator,
        OTCalibrator,
        WeightedGANUnweighter,
        SRGNFitter,
        OmniFold,
    )
}
# Plain helper objects of the fitted state, rebuilt from their instance dictionary.
_HELPERS: dict[str, type] = {cls.__name__: cls for cls in (QuantileMap, DiscreteMap, ConditionBins)}
_NETS: dict[str, type] = {
    cls.__name__: cls for cls in (WeightedNet, DonskerVaradhanNet, AlternatingNet)
}
_MODULES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        MLP,
        MarginalConditionalMLP,
        GaussianAnsatzNetwork,
        TransportPotentials,
        WeightedGAN,
    )
}
# Constructor arguments of a net, beyond the module's, that shape the rebuilt net.
_NET_ARGUMENTS: dict[type, tuple[str, ...]] = {AlternatingNet: ("n_critic",)}

_SKOPS_HINT = (
    "the safe format cannot store arbitrary scikit-learn estimators yet (a fitted estimator is "
    "code as much as data); the planned route is skops with an explicit list of trusted types. "
    "Use a neural estimator (classifier=None), or pickle/joblib for files you trust"
)


def _refuse(value: Any, where: str) -> TypeError:
    """The error for a value the format cannot store, naming where it sits and its type."""
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    if hasattr(value, "fit") and hasattr(value, "get_params"):
        reason = _SKOPS_HINT
    elif callable(value):
        reason = (
            "a callable is code, and the safe format stores data only (an SRGNFitter "
            "reweighter is saved when it is a fitted DCTRReweighter); pickle the estimator "
            "if you trust whoever reads the file"
        )
    else:
        reason = (
            "the safe format stores None, bool, int, float, str, lists, tuples, dicts with "
            "string keys, numpy arrays and scalars, Bunch, and skhep_reweight's own estimators"
        )
    return TypeError(f"cannot save {where}: an instance of {kind}; {reason}")


def _float_node(value: float) -> Any:
    # JSON has no NaN or infinity: those are tagged, finite floats are written as they are
    if math.isfinite(value):
        return value
    return {"t": "float", "v": repr(value)}


def _all_str(value: np.ndarray) -> bool:
    """Whether every element of an object array is a str (and so survives as unicode)."""
    return all(type(item) is str for item in value.ravel())


class _Encoder:
    """Turns an estimator into a JSON tree and a dictionary of arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        # id -> reference number of every object encoded, so that an object met twice (the
        # reweighter of an SRGNFitter and its reweighters_) is stored once and stays shared
        self.seen: dict[int, int] = {}
        self._keep_alive: list[Any] = []

    def array(self, value: np.ndarray, where: str) -> str:
        if value.dtype.kind in "OV":
            raise TypeError(
                f"cannot save {where}: a numpy array of dtype {value.dtype} (objects or "
                "records), which the safe format does not store"
            )
        key = f"a{len(self.arrays)}"
        self.arrays[key] = value
        return key

    def encode(self, value: Any, where: str) -> Any:
        kind = type(value)
        if value is None or kind in (bool, int, str):
            return value
        if kind is float:
            return _float_node(value)
        if isinstance(value, np.generic):
            return {"t": "scalar", "key": self.array(np.asarray(value), where)}
        if kind is np.ndarray and value.dtype == object and _all_str(value):
            # feature_names_in_: scikit-learn keeps names in an object array; stored as unicode
            return {"t": "str_array", "key": self.array(value.astype(str), where)}
        if kind is np.ndarray:
            return {"t": "array", "key": self.array(value, where)}
        if kind in (list, tuple):
            items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return {"t": kind.__name__, "v": items}
        if kind in (dict, Bunch):
            return {"t": kind.__name__.lower(), "v": self.mapping(value, where)}
        if kind is np.random.RandomState:
            name, keys, pos, has_gauss, cached = value.get_state()
            state = [name, keys, int(pos), int(has_gauss), float(cached)]
            return {"t": "random_state", "v": self.encode(state, where)}
        return self.shared(value, where)

    def mapping(self, value: dict, where: str) -> dict:
        bad = [k for k in value if type(k) is not str]
        if bad:
            raise TypeError(f"cannot save {where}: dictionary keys must be str, got {bad[0]!r}")
        return {k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}

    def shared(self, value: Any, where: str) -> dict:
        """An object of an allow-listed class: stored once, referenced afterwards."""
        name = type(value).__name__
        if id(value) in self.seen:
            return {"t": "ref", "id": self.seen[id(value)]}
        if _ESTIMATORS.get(name) is type(value):
            node = self.estimator(
                value, where.removeprefix("parameter ").removeprefix("attribute ")
            )
        elif _HELPERS.get(name) is type(value):
            node = {"t": "helper", "class": name, "state": self.mapping(vars(value), where)}
        elif _NETS.get(name) is type(value):
            node = self.net(value, where)
        elif type(value) is KNeighborsRegressor:
            node = self.neighbors(value, where)
        else:
            raise _refuse(value, where)
        self.seen[id(value)] = len(self.seen)
        self._keep_alive.append(value)
        node["id"] = self.seen[id(value)]
        return node

    def estimator(self, value: Any, where: str) -> dict:
        params = value.get_params(deep=False)
        state = {k: v for k, v in vars(value).items() if k not in params}
        return {
            "t": "estimator",
            "class": type(value).__name__,
            "params": {k: self.encode(v, f"parameter {where}.{k}") for k, v in params.items()},
            "state": {k: self.encode(v, f"attribute {where}.{k}") for k, v in state.items()},
        }

    def net(self, net: Any, where: str) -> dict:
        module_name = type(net.module_).__name__
        if _MODULES.get(module_name) is not type(net.module_):
            raise _refuse(net.module_, f"{where}.module_")
        extra = {k: getattr(net, k) for k in _NET_ARGUMENTS.get(type(net), ())}
        weights = [
            [name, self.encode(tensor.detach().cpu().numpy(), f"{where}.module_.{name}")]
            for name, tensor in net.module_.state_dict().items()
        ]
        return {
            "t": "net",
            "class": type(net).__name__,
            "module": module_name,
            "module_kwargs": self.mapping(net.get_params_for("module"), f"{where}.module"),
            "net_kwargs": self.mapping(extra, where),
            "state_dict": weights,
        }

    def neighbors(self, model: KNeighborsRegressor, where: str) -> dict:
        # a nearest-neighbour regressor is its training points: refitting them rebuilds it
        params = model.get_params(deep=False)
        return {
            "t": "neighbors",
            "params": self.mapping(params, f"{where}.get_params()"),
            "X": self.encode(model._fit_X, f"{where}._fit_X"),
            "y": self.encode(model._y, f"{where}._y"),
        }


class _Decoder:
    """Rebuilds the objects of a header from the archive's arrays, through the allow-lists."""

    def __init__(self, archive: Any) -> None:
        self.archive = archive
        self.objects: dict[int, Any] = {}

    def array(self, key: Any) -> np.ndarray:
        if type(key) is not str or key == HEADER_KEY or key not in self.archive.files:
            raise ValueError(f"the header refers to a missing array entry {key!r}")
        value = self.archive[key]
        if not isinstance(value, np.ndarray):  # numpy returns raw bytes for a non-.npy entry
            raise ValueError(f"the archive entry {key!r} is not an array")
        return value

    def decode(self, node: Any) -> Any:
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is not dict or "t" not in node:
            raise ValueError(f"malformed value in the header: {str(node)[:80]}")
        tag = node["t"]
        handler = self._HANDLERS.get(tag)
        if handler is None:
            raise ValueError(f"unknown value type {tag!r} in the header")
        value = handler(self, node)
        if "id" in node:
            self.objects[node["id"]] = value
        return value

    def mapping(self, node: Any) -> dict:
        if type(node) is not dict:
            raise ValueError("malformed mapping in the header")
        return {str(k): self.decode(v) for k, v in node.items()}

    def _float(self, node: dict) -> float:
        if node["v"] not in ("nan", "inf", "-inf"):
            raise ValueError(f"malformed float {node['v']!r} in the header")
        return float(node["v"])

    def _random_state(self, node: dict) -> np.random.RandomState:
        state = np.random.RandomState()
        state.set_state(tuple(self.decode(node["v"])))
        return state

    def _ref(self, node: dict) -> Any:
        if node["id"] not in self.objects:
            raise ValueError(f"the header refers to object {node['id']!r} before defining it")
        return self.objects[node["id"]]

    @staticmethod
    def _lookup(table: dict[str, type], name: Any, what: str) -> type:
        if type(name) is not str or name not in table:
            raise ValueError(
                f"the file names the {what} class {name!r}, which is not in the list of classes "
                f"skhep_reweight loads ({', '.join(sorted(table))})"
            )
        return table[name]

    @staticmethod
    def _state_names(cls: type, state: dict, params: tuple[str, ...] = ()) -> dict:
        """The stored attributes of an object: instance attributes only. A name that the class
        defines (a method such as ``predict_weights``, a property, ``__class__``) or a parameter
        would shadow or replace the class's code, so it is refused."""
        for name in state:
            if not name.isidentifier() or hasattr(cls, name) or name in params:
                raise ValueError(
                    f"the stored state of {cls.__name__} holds {name!r}, which is not a fitted "
                    "attribute (it names a method, a parameter or a class attribute)"
                )
        return state

    def _estimator(self, node: dict) -> Any:
        from sklearn.utils._param_validation import InvalidParameterError

        cls = self._lookup(_ESTIMATORS, node["class"], "estimator")
        params = self.mapping(node["params"])
        unknown = sorted(set(params) - set(cls._get_param_names()))
        if unknown:  # a missing one takes its default (a file older than the parameter)
            raise ValueError(f"{cls.__name__} has no parameters {unknown}")
        estimator = cls(**params)
        try:
            estimator._validate_params()
        except InvalidParameterError as exc:
            raise ValueError(f"{cls.__name__}: {exc}") from None
        state = self._state_names(cls, self.mapping(node["state"]), tuple(params))
        vars(estimator).update(state)
        return estimator

    def _helper(self, node: dict) -> Any:
        cls = self._lookup(_HELPERS, node["class"], "helper")
        helper = cls.__new__(cls)
        vars(helper).update(self._state_names(cls, self.mapping(node["state"])))
        return helper

    def _net(self, node: dict) -> Any:
        net_cls = self._lookup(_NETS, node["class"], "network")
        module_cls = self._lookup(_MODULES, node["module"], "module")
        module_kwargs = self.mapping(node["module_kwargs"])
        net_kwargs = self.mapping(node["net_kwargs"])
        unknown = set(net_kwargs) - set(_NET_ARGUMENTS.get(net_cls, ()))
        if unknown:
            raise ValueError(f"unexpected arguments {sorted(unknown)} of {net_cls.__name__}")
        net = net_cls(
            module_cls,
            criterion=torch.nn.Identity,
            device="cpu",
            **{f"module__{k}": v for k, v in module_kwargs.items()},
            **net_kwargs,
        )
        weights = {str(k): self.decode(v) for k, v in node["state_dict"]}
        _check_state_dict(module_cls, module_kwargs, weights)
        # initialization draws random weights that load_state_dict overwrites: draw them from a
        # forked generator, so that loading leaves torch's global random state as it was
        with torch.random.fork_rng(devices=[]):
            net.initialize()
        net.module_.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
        net.module_.eval()
        return net

    def _neighbors(self, node: dict) -> KNeighborsRegressor:
        model = KNeighborsRegressor(**self.mapping(node["params"]))
        return model.fit(self.decode(node["X"]), self.decode(node["y"]))

    _HANDLERS: dict[str, Callable[[_Decoder, dict], Any]] = {
        "float": _float,
        "scalar": lambda self, node: self.array(node["key"])[()],
        "array": lambda self, node: self.array(node["key"]),
        "str_array": lambda self, node: self.array(node["key"]).astype(object),
        "list": lambda self, node: [self.decode(v) for v in node["v"]],
        "tuple": lambda self, node: tuple(self.decode(v) for v in node["v"]),
        "dict": lambda self, node: self.mapping(node["v"]),
        "bunch": lambda self, node: Bunch(**self.mapping(node["v"])),
        "random_state": _random_state,
        "ref": _ref,
        "estimator": _estimator,
        "helper": _helper,
        "net": _net,
        "neighbors": _neighbors,
    }


def _check_state_dict(module_cls: type, module_kwargs: dict, weights: dict[str, Any]) -> None:
    """Compare the stored tensors with the shapes the stored constructor arguments declare,
    before anything of the network's size is allocated: the module is built on PyTorch's
    ``meta`` device, which records shapes and allocates no memory. A file whose header asks for
    a network of 20000 x 20000 units but stores a few small arrays fails here, not after
    allocating gigabytes."""
    with torch.device("meta"):
        declared = {k: tuple(v.shape) for k, v in module_cls(**module_kwargs).state_dict().items()}
    if set(weights) != set(declared):
        missing, extra = sorted(set(declared) - set(weights)), sorted(set(weights) - set(declared))
        raise ValueError(
            f"the stored network does not match its {module_cls.__name__} (missing tensors "
            f"{missing[:5]}, unexpected tensors {extra[:5]})"
        )
    for name, shape in declared.items():
        value = weights[name]
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
            raise ValueError(f"the stored tensor {name!r} is not a numeric array")
        if value.shape != shape:
            raise ValueError(
                f"the stored tensor {name!r} has shape {value.shape}, but the network's "
                f"constructor arguments {module_kwargs} declare {shape}"
            )


def _header_depth(node: Any) -> int:
    """The nesting depth of a JSON value, counted without recursion."""
    depth, stack = 0, [(node, 1)]
    while stack:
        value, level = stack.pop()
        depth = max(depth, level)
        if depth > MAX_HEADER_DEPTH:
            return depth
        if isinstance(value, dict):
            stack.extend((v, level + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, level + 1) for v in value)
    return depth


def save(estimator: Any, path: str | os.PathLike) -> Path:
    """Save an estimator of skhep_reweight, fitted or not, to a file that loading cannot use to
    run code.

    Parameters
    ----------
    estimator : estimator of skhep_reweight
        A :class:`~skhep_reweight.DCTRReweighter`, :class:`~skhep_reweight.ConditionalReweighter`,
        :class:`~skhep_reweight.GaussianAnsatzCalibrator`, :class:`~skhep_reweight.OTCalibrator`,
        :class:`~skhep_reweight.WeightedGANUnweighter` or :class:`~skhep_reweight.SRGNFitter`.
    path : str or path-like
        Where to write. The file is written at exactly this path, whatever its suffix (unlike
        :func:`numpy.savez`, no ``.npz`` is appended), so ``load(path)`` reads it back.

    Returns
    -------
    path : Path
        The path written.

    Raises
    ------
    TypeError
        When the estimator holds a value the format cannot store, naming the parameter or
        attribute and its type: a user-supplied scikit-learn estimator (``classifier=`` and the
        fitted ``classifier_``; the planned route for those is skops with an explicit list of
        trusted types), a callable (an SRGNFitter's ``reweighter`` given as a function), or any
        other type outside the format's list.

    Notes
    -----
    The file is a NumPy ``.npz`` archive. Each array of the estimator is one entry with its
    dtype; the entry ``"__header__"`` (``uint8``) is a UTF-8 JSON document with the format name
    and version, the versions of skhep_reweight and torch that wrote the file, and the
    estimator as a tree of tagged values: its class name, ``get_params(deep=False)``, and every
    other instance attribute (the fitted state, private ones included). A network is stored as
    its net and module class names, the module's constructor arguments, extra net arguments
    (``n_critic``) and the module's ``state_dict`` as float arrays; its training history and
    optimizer state are not stored (the estimator's ``loss_curve_`` keeps the curve). Objects
    met twice (an SRGNFitter's ``reweighter`` and ``reweighters_``) are stored once.

    Writing goes to a temporary file in the same folder, renamed over ``path`` when complete:
    an error leaves no partial file and an existing file untouched.
    """
    encoder = _Encoder()
    root = encoder.encode(estimator, type(estimator).__name__)
    if not (type(root) is dict and root.get("t") == "estimator"):
        raise TypeError(
            f"save stores an estimator of skhep_reweight ({', '.join(sorted(_ESTIMATORS))}), "
            f"got {type(estimator).__module__}.{type(estimator).__qualname__}"
        )
    from . import __version__

    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "skhep_reweight_version": __version__,
        "torch_version": torch.__version__,
        "estimator": root,
    }
    text = json.dumps(header, allow_nan=False, separators=(",", ":"))
    entries = {HEADER_KEY: np.frombuffer(text.encode("utf-8"), dtype=np.uint8), **encoder.arrays}
    path = _check_model_path(path, "save to")
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot save to '{path}': the folder '{path.parent}' does not exist"
        )
    with atomic_file(path) as stream:
        np.savez(stream, **entries)
    return path


def _check_model_path(path: str | os.PathLike, action: str) -> Path:
    """``path`` as a Path, refused when it names a folder (``"."`` included)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a string or a path, got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot {action} '{path}': it is a folder, not a model file")
    return path


def _read_header(archive: Any, path: Path) -> dict:
    """The header of an opened archive, checked for the format name, version and depth."""
    if HEADER_KEY not in archive.files:
        raise ValueError(f"{path} is an npz archive but not a skhep_reweight save file")
    try:
        raw = archive[HEADER_KEY]
    except Exception as exc:  # a damaged entry: its CRC, its .npy header
        raise DamagedFileError(f"{path}: the header entry is damaged ({one_line(exc)})") from None
    if not isinstance(raw, np.ndarray):  # numpy returns raw bytes for a non-.npy entry
        raise ValueError(f"{path} is not a skhep_reweight save file (its header is no .npy entry)")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise DamagedFileError(f"{path}: malformed header entry ({raw.dtype}, shape {raw.shape})")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise DamagedFileError(f"{path}: the header is not valid JSON ({one_line(exc)})") from None
    if type(header) is not dict or header.get("format") != FORMAT_NAME:
        raise ValueError(f"{path} is not a skhep_reweight save file (format {FORMAT_NAME!r})")
    version = header.get("format_version")
    if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
        raise ValueError(
            f"{path} was written in format version {version!r} (by skhep_reweight "
            f"{header.get('skhep_reweight_version')}); this skhep_reweight reads format "
            f"versions up to {FORMAT_VERSION}: upgrade skhep_reweight to load it"
        )
    if _header_depth(header) > MAX_HEADER_DEPTH:
        raise DamagedFileError(
            f"{path}: the header nests deeper than {MAX_HEADER_DEPTH} levels, which no model "
            "does: the file is damaged or was edited"
        )
    return header


def _open_archive(path: Path, stream: Any) -> Any:
    """The npz archive of a save file read from ``stream``, its entries checked to be stored
    uncompressed."""
    try:
        archive = np.load(stream, allow_pickle=False)
    except Exception as exc:
        stream.seek(0)
        if stream.read(2) == b"PK":
            raise DamagedFileError(
                f"{path}: the archive is damaged or truncated ({one_line(exc)})"
            ) from None
        raise ValueError(
            f"{path} is not a skhep_reweight save file (an npz archive read without "
            f"unpickling): {one_line(exc)}"
        ) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} is a single .npy array, not a skhep_reweight save file")
    # save() stores every entry uncompressed, so no entry can unpack to more than the file's
    # own size: a compressed entry (a zip bomb among them) is refused before it is read
    for info in archive.zip.infolist():
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
            archive.close()
            raise DamagedFileError(
                f"{path}: the archive entry {info.filename!r} is compressed; save() stores "
                "entries uncompressed, so the file was not written by skhep_reweight.save"
            )
    return archive


def load(path: str | os.PathLike) -> Any:
    """Load an estimator written by :func:`save`, without running any code from the file.

    Parameters
    ----------
    path : str or path-like
        The file :func:`save` wrote (read at exactly this path).

    Returns
    -------
    estimator : estimator of skhep_reweight
        The estimator with its parameters and fitted state; it predicts exactly as the saved
        one did on the CPU. Networks are rebuilt on the CPU whatever device trained them (the
        ``device`` parameter is kept and applies to a new fit).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    IsADirectoryError
        When ``path`` is a folder.
    ValueError
        When the file is not a save file of this format (a pickle, another archive), was
        written in a newer format version (the message names both versions), or names a
        class outside the allow-lists.
    DamagedFileError
        A :class:`ValueError` for a save file that is damaged or was edited: a truncated or
        corrupted archive (each entry's CRC is checked), a compressed entry, a header that is
        not JSON or nests deeper than ``MAX_HEADER_DEPTH``, a parameter the estimator does not
        have or whose value it refuses, a stored attribute that would shadow a method, a
        network whose stored tensors do not have the shapes its constructor arguments declare.
        Every message names the file.

    Notes
    -----
    The archive is opened with ``numpy.load(path, allow_pickle=False)``: numpy refuses any
    entry that needs unpickling, and a pickle is refused unread. Class names in the header are
    looked up in fixed dictionaries of skhep_reweight's estimators, helper objects, nets and
    modules; nothing is imported by a name read from the file. Estimators are rebuilt by
    calling their class with the stored parameters (their ``__init__`` only stores them),
    checking those against the estimator's parameter constraints, and setting the stored
    attributes; networks by checking the stored tensors against the shapes that the stored
    constructor arguments declare (on PyTorch's ``meta`` device, allocating nothing), then
    building the net and loading the stored ``state_dict``. What a file can make loading
    allocate is therefore bounded by the file's own size. Loading leaves torch's global random
    state unchanged. The versions of skhep_reweight and torch that wrote the file are in the
    header; loading does not compare them with the running ones.
    """
    path = _check_model_path(path, "load")
    if not path.exists():
        raise FileNotFoundError(f"model file '{path}' does not exist")
    with open(path, "rb") as stream, _open_archive(path, stream) as archive:
        header = _read_header(archive, path)  # its errors name the file
        root = header.get("estimator")
        if type(root) is not dict or root.get("t") != "estimator":
            raise DamagedFileError(f"{path}: the header holds no estimator")
        try:
            return _Decoder(archive).decode(root)
        except ValueError as exc:  # the decoder's own findings
            raise DamagedFileError(f"{path}: {exc}") from None
        except MemoryError:
            raise
        except Exception as exc:  # a damaged array entry, a malformed value the decoder met
            raise DamagedFileError(
                f"{path}: the file is damaged or was edited ({one_line(exc)})"
            ) from None
