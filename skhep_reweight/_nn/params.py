"""The flat network parameters shared by every neural estimator, declared once.

Each estimator lists these in its own ``__init__`` (scikit-learn needs explicit signatures for
``get_params``/``clone``), merges :data:`NETWORK_PARAMETER_CONSTRAINTS` into its
``_parameter_constraints``, and hands :func:`network_options` to
:func:`~skhep_reweight._nn.net.train_network`.
"""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from .modules import ACTIVATIONS

__all__ = ["NETWORK_PARAMETER_CONSTRAINTS", "check_hidden_layer_sizes", "network_options"]

NETWORK_PARAMETER_CONSTRAINTS: dict = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "device": [str],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}

_TRAINING_KEYS = (
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


def check_hidden_layer_sizes(hidden_layer_sizes) -> tuple[int, ...]:
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


def network_options(estimator) -> dict:
    """The options of :func:`~skhep_reweight._nn.net.train_network` read off an estimator."""
    return {key: getattr(estimator, key) for key in _TRAINING_KEYS}
