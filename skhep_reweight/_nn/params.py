"""The flat network parameters shared by every neural estimator, declared once.

Each estimator lists these in its own ``__init__`` (scikit-learn needs explicit signatures for
``get_params``/``clone``), merges :data:`NETWORK_PARAMETER_CONSTRAINTS` into its
``_parameter_constraints``, and hands :func:`network_options` to
:func:`~skhep_reweight._nn.net.train_network`.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

from sklearn.utils._param_validation import Interval, Options, StrOptions

from .modules import ACTIVATIONS

__all__ = [
    "DEVICE",
    "LAYER_SIZES",
    "NETWORK_PARAMETER_CONSTRAINTS",
    "TRAINING_KEYS",
    "check_hidden_layer_sizes",
    "network_options",
    "network_spec",
]


class _DeviceOption(Options):
    """A torch device name: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    A subclass of scikit-learn's ``Options`` only so that its parameter validation accepts it as
    a constraint: the check is a pattern, not a finite set. Whether a GPU exists is checked when
    the network is built (:func:`~skhep_reweight._nn.seeding.resolve_device`).
    """

    def __init__(self) -> None:
        super().__init__(str, {"auto", "cpu", "cuda"})

    def is_satisfied_by(self, val: Any) -> bool:
        if not isinstance(val, str):
            return False
        if val in self.options:
            return True
        kind, _, index = val.partition(":")
        return kind == "cuda" and index.isdigit()

    def __str__(self) -> str:
        return "a str among {'auto', 'cpu', 'cuda', 'cuda:N'}"


class _LayerSizes(Options):
    """Hidden layer sizes: one positive int, or a sequence of them (empty: no hidden layer).

    An ``Options`` subclass for the same reason as :class:`_DeviceOption`.
    """

    def __init__(self) -> None:
        super().__init__(object, set())

    def is_satisfied_by(self, val: Any) -> bool:
        if isinstance(val, bool):
            return False
        if isinstance(val, Integral):
            return val >= 1
        if isinstance(val, (str, bytes, dict)) or not hasattr(val, "__iter__"):
            return False
        sizes = list(val)
        return all(isinstance(s, Integral) and not isinstance(s, bool) and s >= 1 for s in sizes)

    def __str__(self) -> str:
        return "a positive int or a sequence of positive ints"


#: The constraint of a ``device`` parameter.
DEVICE = _DeviceOption()
#: The constraint of a ``*_layer_sizes`` parameter.
LAYER_SIZES = _LayerSizes()

NETWORK_PARAMETER_CONSTRAINTS: dict = {
    "hidden_layer_sizes": [LAYER_SIZES],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "device": [DEVICE],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}

#: The options of :func:`~skhep_reweight._nn.net.train_network`, read off an estimator.
TRAINING_KEYS = (
    "learning_rate",
    "batch_size",
    "max_epochs",
    "early_stopping",
    "validation_fraction",
    "n_iter_no_change",
    "weight_decay",
    "device",
    "verbose",
)


def check_hidden_layer_sizes(hidden_layer_sizes: int | Sequence[int]) -> tuple[int, ...]:
    """Normalize ``hidden_layer_sizes`` (an int or a sequence of positive ints) to a tuple."""
    if isinstance(hidden_layer_sizes, Integral):
        sizes: tuple = (int(hidden_layer_sizes),)
    else:
        sizes = tuple(hidden_layer_sizes)
    if not all(isinstance(s, Integral) and s >= 1 for s in sizes):
        raise ValueError(
            f"hidden_layer_sizes must hold positive integers, got {hidden_layer_sizes!r}"
        )
    return tuple(int(s) for s in sizes)


def network_options(estimator: Any) -> dict:
    """The options of :func:`~skhep_reweight._nn.net.train_network` read off an estimator."""
    return {key: getattr(estimator, key) for key in TRAINING_KEYS}


def network_spec(estimator: Any, **overrides: Any) -> dict:
    """The built-in binary classifier as an estimator describes it: ``hidden_layer_sizes``,
    ``activation`` and the training options (:func:`network_options`), with ``overrides``."""
    return {
        "hidden_layer_sizes": check_hidden_layer_sizes(estimator.hidden_layer_sizes),
        "activation": estimator.activation,
        **network_options(estimator),
        **overrides,
    }
