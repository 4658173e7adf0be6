"""The one training entry point every estimator uses, and prediction.

:func:`train_network` builds a net of :mod:`skhep_reweight._nn.nets` from the flat,
scikit-learn-style parameters of an estimator, seeds it without touching torch's global random
state, and fits it; :func:`predict_network` runs a fitted net over new events in large batches.

Extension points for a new method are the ``module`` (a :class:`torch.nn.Module` class and its
keyword arguments) and the ``criterion`` (a per-event loss, :mod:`skhep_reweight._nn.losses`); a
method whose loss does not split into events overrides :meth:`WeightedNet.get_loss`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from skorch.helper import predefined_split

from .callbacks import (
    CosineDecay,
    EpochProgressBar,
    GainRelativePlateau,
    HeldOutGain,
    ReleasingLRScheduler,
    StopOnNonFiniteLoss,
)
from .data import BatchIterator, EventDataset, StratifiedSplit, merge_identical_rows
from .losses import BinaryCrossEntropyPerEvent
from .modules import MLP, standardization_stats
from .nets import AlternatingNet, DonskerVaradhanNet, Interrupted, MarkedEarlyStopping, WeightedNet
from .params import TRAINING_KEYS
from .seeding import derive_seeds, resolve_device, seeded
from .stream import ChunkStream, StreamIterator

__all__ = [
    "PREDICT_BATCH_SIZE",
    "AlternatingNet",
    "DonskerVaradhanNet",
    "WeightedNet",
    "predict_network",
    "train_alternating",
    "train_binary_classifier",
    "train_binary_classifier_stream",
    "train_network",
]

# Events per forward pass when predicting or computing the validation loss: large enough that the
# Python overhead per batch vanishes, small enough for a few features to fit any GPU.
PREDICT_BATCH_SIZE = 2**16

# Prediction pads each chunk to a multiple of this many rows, so that every event is computed by
# the same full-block matrix kernel (see predict_network).
_ROW_PADDING = 64

# Early stopping counts any decrease of the validation loss as progress. skorch's default (a
# relative 1e-4) stops density-ratio fits too soon: refining the tails of a ratio lowers a loss of
# ~0.6 by less than 6e-5 per epoch, and those tails carry the largest weights.
_EARLY_STOPPING_THRESHOLD = 0.0

# With a validation split the learning rate is cut by this factor whenever the validation loss has
# not improved for a third of the early-stopping patience: the late epochs then refine the ratio
# instead of hopping around the minimum (on the Gaussian closure this halves the median weight
# error at equal training time).
_LR_DECAY_FACTOR = 0.3
_LR_PATIENCE_SHARE = 3

# A binary classifier's epoch counts as progress for the plateau decay when it adds more than
# this share of the validation gain over a constant classifier (GainRelativePlateau); other nets
# keep skorch's threshold, 1e-4 of the loss.
_LR_GAIN_SHARE = 1e-2


# Adam's momentum settings for the two players of an AlternatingNet (Makkuva et al. for the OT
# potentials, the usual GAN choice): a short first-moment memory keeps each player from
# overshooting the other's moves.
_ADVERSARIAL_BETAS = (0.5, 0.9)


def _noop(*args: Any, **kwargs: Any) -> None:
    """A sink that prints nothing (early stopping's message when ``verbose=0``)."""


def train_network(
    module: type[torch.nn.Module],
    module_kwargs: dict,
    X: np.ndarray,
    y: np.ndarray | None,
    sample_weight: np.ndarray | None,
    *,
    options: Mapping[str, Any],
    seed: int,
    criterion: type[torch.nn.Module] | None = None,
    criterion_kwargs: dict | None = None,
    stratify: bool = True,
    net_class: type[WeightedNet] = WeightedNet,
    callbacks: list | None = None,
    desc: str = "training",
    lr_decay: bool = True,
    validation: EventDataset | None = None,
    lr_gain_share: float | None = None,
    **net_kwargs: Any,
) -> WeightedNet:
    """Build and fit a :class:`WeightedNet`.

    Parameters
    ----------
    module, module_kwargs
        The network class and its constructor arguments; it is built inside the seeded context.
    X : ndarray of shape (n_samples, n_features), or ChunkStream
        The events; a :class:`~skhep_reweight._nn.stream.ChunkStream` (events read from files
        chunk by chunk, with their labels and weights; ``y`` and ``sample_weight`` None) trains
        through a :class:`~skhep_reweight._nn.stream.StreamIterator`, validated on
        ``validation``.
    y : ndarray of shape (n_samples,) or (n_samples, n_targets), or None
    sample_weight : ndarray of shape (n_samples,) or None
        Per-event weights, normalized by the caller (mean one is the convention).
    options : mapping
        The flat training options of an estimator (:func:`~skhep_reweight._nn.params.
        network_options`): ``learning_rate``, ``batch_size``, ``max_epochs`` and
        ``weight_decay`` (AdamW and the training length); ``early_stopping``,
        ``validation_fraction`` and ``n_iter_no_change`` (when ``early_stopping``, hold out a
        stratified ``validation_fraction`` of the events, cut the learning rate by 0.3 after
        ``n_iter_no_change // 3`` epochs without improvement of the weighted validation loss,
        stop after ``n_iter_no_change`` such epochs, and restore the best epoch's parameters);
        ``device`` ("cpu", "cuda", "cuda:N", "auto"); ``verbose`` (0 silent, 1 a progress bar
        over epochs, 2 also skorch's per-epoch table).
    seed : int
        Seeds initialization, dropout, the split and the batch order; torch's global random
        state is restored afterwards.
    criterion : per-event loss class, default=None
        ``reduction="none"`` semantics. None for a net that computes its own loss (a
        :meth:`WeightedNet.get_loss` override, or the two players of an :class:`AlternatingNet`).
    criterion_kwargs : dict, optional
        Constructor arguments of the criterion (a loss's own constants).
    stratify : bool, default=True
        Stratify the validation split by ``y`` (classification); regressors pass False.
    net_class : subclass of WeightedNet
        For methods that override the loss or the training step.
    callbacks : list of (name, callback), optional
        Extra callbacks of the method.
    desc : str
        Label of the progress bar.
    lr_decay : bool, default=True
        Cut the learning rate when the validation loss stalls (only with early stopping; a
        two-player net's second optimizer is never cut, so two-player methods pass False).
    validation : EventDataset, optional
        The validation events of a ``ChunkStream`` (held out by its first pass).
    lr_gain_share : float, optional
        Binary classifiers: the plateau decay's threshold is this share of the validation gain
        over a constant classifier (:class:`~skhep_reweight._nn.callbacks.GainRelativePlateau`);
        None keeps skorch's threshold (1e-4 of the loss).
    **net_kwargs
        Further skorch arguments of ``net_class`` (a second optimizer, its parameters, ...).

    Returns
    -------
    net : WeightedNet
        The fitted net, on ``device``, in evaluation mode.
    """
    unknown = set(options) - set(TRAINING_KEYS)
    missing = set(TRAINING_KEYS) - set(options)
    if unknown or missing:
        raise TypeError(f"options: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
    max_epochs, batch_size = options["max_epochs"], options["batch_size"]
    early_stopping, validation_fraction = options["early_stopping"], options["validation_fraction"]
    n_iter_no_change, verbose = options["n_iter_no_change"], options["verbose"]
    device = resolve_device(options["device"])
    split_seed, loader_seed, torch_seed = derive_seeds(seed, 3)
    streaming = isinstance(X, ChunkStream)
    if streaming:
        use_validation = early_stopping and validation is not None
    else:
        n_valid = int(round(validation_fraction * len(X))) if early_stopping else 0
        # Early stopping needs at least two validation and two training events; on tinier
        # samples (scikit-learn's checks fit on a handful) it is off and all max_epochs are run.
        use_validation = early_stopping and n_valid >= 2 and len(X) - n_valid >= 2

    all_callbacks = [("stop_on_non_finite", StopOnNonFiniteLoss())]
    if use_validation:
        all_callbacks.append(
            (
                "early_stopping",
                MarkedEarlyStopping(
                    monitor="valid_loss",
                    patience=n_iter_no_change,
                    load_best=True,
                    threshold=_EARLY_STOPPING_THRESHOLD,
                    sink=print if verbose >= 2 else _noop,
                ),
            )
        )
    if use_validation and lr_decay:
        if lr_gain_share is not None:
            all_callbacks.append(("lr_threshold", GainRelativePlateau(lr_gain_share)))
        all_callbacks.append(
            (
                "lr_decay",
                ReleasingLRScheduler(
                    policy="ReduceLROnPlateau",
                    monitor="valid_loss",
                    mode="min",
                    factor=_LR_DECAY_FACTOR,
                    patience=max(1, n_iter_no_change // _LR_PATIENCE_SHARE),
                ),
            )
        )
    if verbose >= 1:
        all_callbacks.append(("progress", EpochProgressBar(max_epochs, desc=desc)))
    all_callbacks += list(callbacks or [])

    net = net_class(
        module,
        criterion=torch.nn.Identity if criterion is None else criterion,
        optimizer=torch.optim.AdamW,
        lr=options["learning_rate"],
        optimizer__weight_decay=options["weight_decay"],
        max_epochs=max_epochs,
        batch_size=batch_size,
        train_split=_train_split(
            use_validation, streaming, validation, validation_fraction, split_seed, stratify
        ),
        iterator_train=StreamIterator if streaming else BatchIterator,
        iterator_train__seed=loader_seed,
        iterator_train__device=device,
        **({} if streaming else {"iterator_train__shuffle": True}),
        iterator_valid=BatchIterator,
        iterator_valid__batch_size=max(PREDICT_BATCH_SIZE, batch_size),
        iterator_valid__device=device,
        dataset=EventDataset,
        callbacks=all_callbacks,
        device=device,
        verbose=int(verbose >= 2),
        **{f"module__{k}": v for k, v in module_kwargs.items()},
        **{f"criterion__{k}": v for k, v in (criterion_kwargs or {}).items()},
        **net_kwargs,
    )
    dataset = X if streaming else EventDataset(X, y, sample_weight)
    with seeded(torch_seed, device):
        try:
            net.fit(dataset, None)
        except Interrupted as exc:
            # the same kind as the user's interruption (the command line's SIGTERM is a subclass)
            cause = exc.__cause__
            kind = type(cause) if isinstance(cause, KeyboardInterrupt) else KeyboardInterrupt
            raise kind(
                f"{desc} interrupted in epoch {exc.args[0]} of {max_epochs}; nothing was fitted"
            ) from None
    net.module_.eval()
    return net


def _train_split(
    use_validation: bool,
    streaming: bool,
    validation: EventDataset | None,
    fraction: float,
    seed: int,
    stratify: bool,
) -> Any:
    """skorch's ``train_split``: none, the stream's held-out events, or a seeded split."""
    if not use_validation:
        return None
    if streaming:
        return predefined_split(validation)
    return StratifiedSplit(fraction, seed, stratify=stratify)


def train_alternating(
    module: type[torch.nn.Module],
    module_kwargs: dict,
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    *,
    options: Mapping[str, Any],
    n_critic: int,
    seed: int,
    desc: str,
    stratify: bool = True,
) -> AlternatingNet:
    """Build and fit an :class:`AlternatingNet`: the two-player recipe of every min-max method.

    Both players train with AdamW (betas 0.5, 0.9, the flat ``weight_decay``) and learning rates
    that fall to zero along a half cosine over ``max_epochs`` (:class:`CosineDecay`; at a
    constant rate the players keep circling the saddle point, and the plateau decay of
    :func:`train_network` would cut one optimizer only). The module supplies the losses.
    ``options`` are :func:`train_network`'s training options (``network_options(estimator)``).
    """
    return train_network(
        module,
        module_kwargs,
        X,
        y,
        sample_weight,
        options=options,
        seed=seed,
        stratify=stratify,
        net_class=AlternatingNet,
        desc=desc,
        callbacks=[("cosine_decay", CosineDecay(options["max_epochs"]))],
        lr_decay=False,
        n_critic=n_critic,
        optimizer__betas=_ADVERSARIAL_BETAS,
        critic_optimizer__betas=_ADVERSARIAL_BETAS,
        critic_optimizer__weight_decay=options["weight_decay"],
    )


def _logit_network(
    n_inputs: int,
    hidden_layer_sizes: tuple[int, ...],
    activation: str,
    loc: np.ndarray,
    scale: np.ndarray,
) -> dict:
    """The MLP of a binary classifier: one logit, inputs standardized, the last layer starting
    at zero (the untrained ratio is one everywhere)."""
    return {
        "n_inputs": n_inputs,
        "hidden_layer_sizes": hidden_layer_sizes,
        "n_outputs": 1,
        "activation": activation,
        "loc": loc,
        "scale": scale,
        "zero_output": True,
    }


def train_binary_classifier(
    X: np.ndarray,
    y01: np.ndarray,
    sample_weight: np.ndarray,
    *,
    hidden_layer_sizes: tuple[int, ...],
    activation: str,
    seed: int,
    desc: str,
    callbacks: list | None = None,
    **options: Any,
) -> WeightedNet:
    """An MLP with one logit trained by the weighted binary cross-entropy (label 1 vs label 0).

    Inputs are standardized inside the module with the weighted statistics of ``X``; the weights
    are used as given (callers balance the class totals). Rows with identical features in both
    classes (the same events with two weights) are merged into one row with a fractional label
    first (:func:`~skhep_reweight._nn.data.merge_identical_rows`: the same loss, but an event's
    copies stay together in the validation split and in every batch). ``options`` are
    :func:`train_network`'s training options (``network_options(estimator)``); ``callbacks`` are
    passed on. With a validation split the net records ``held_out_gain_``
    (:class:`~skhep_reweight._nn.callbacks.HeldOutGain`).
    """
    loc, scale = standardization_stats(X, sample_weight)
    labels = y01.astype(np.float32)
    merged = merge_identical_rows(X, y01, sample_weight)
    if merged is not None:
        X, labels, sample_weight = merged
        labels = labels.astype(np.float32)
        sample_weight = sample_weight / np.mean(sample_weight)
    return train_network(
        MLP,
        _logit_network(X.shape[1], hidden_layer_sizes, activation, loc, scale),
        X,
        labels,
        sample_weight,
        options=options,
        seed=seed,
        criterion=BinaryCrossEntropyPerEvent,
        desc=desc,
        callbacks=[*(callbacks or []), ("held_out_gain", HeldOutGain())],
        lr_gain_share=_LR_GAIN_SHARE,
    )


def train_binary_classifier_stream(
    stream: ChunkStream,
    validation: EventDataset | None,
    loc: np.ndarray,
    scale: np.ndarray,
    *,
    hidden_layer_sizes: tuple[int, ...],
    activation: str,
    seed: int,
    desc: str,
    **options: Any,
) -> WeightedNet:
    """:func:`train_binary_classifier` for events read from files: the labels and balanced
    weights come with the stream's chunks, the standardization from its first pass."""
    return train_network(
        MLP,
        _logit_network(int(loc.shape[0]), hidden_layer_sizes, activation, loc, scale),
        stream,
        None,
        None,
        options=options,
        seed=seed,
        criterion=BinaryCrossEntropyPerEvent,
        desc=desc,
        callbacks=[("held_out_gain", HeldOutGain())],
        validation=validation,
        lr_gain_share=_LR_GAIN_SHARE,
    )


def predict_network(net: WeightedNet, X: np.ndarray, method: str | None = None) -> np.ndarray:
    """Raw network output on ``X``, as a float64 array of shape (n_samples, n_outputs).

    ``method`` names another method of the module to run instead of ``forward`` (one that takes
    and returns 2-D tensors).

    Events go through the module in chunks of :data:`PREDICT_BATCH_SIZE`, each padded with zero
    rows to a multiple of ``_ROW_PADDING``. The CPU matrix kernels round the rows of an incomplete
    last block differently (by one float32 unit in the last place), so without the padding an
    event's weight would depend on its position in the array; with it, predicting in any order or
    in any batches gives identical numbers.

    Gradients are off (``torch.no_grad``, not inference mode), so a module whose output is itself
    a gradient (an input-convex network's transport map) can switch them on in its forward.
    """
    module = net.module_
    module.eval()
    function = module if method is None else getattr(module, method)
    X = np.asarray(X, dtype=np.float64)
    if X.size and np.abs(X).max() > np.finfo(np.float32).max:
        raise ValueError(
            "X holds values beyond the float32 range the network runs in "
            f"(|value| up to {np.abs(X).max():.3g}); rescale it"
        )
    X = X.astype(np.float32)
    chunks = []
    with torch.no_grad():
        for start in range(0, X.shape[0], PREDICT_BATCH_SIZE):
            block = torch.from_numpy(np.ascontiguousarray(X[start : start + PREDICT_BATCH_SIZE]))
            n = block.shape[0]
            padded = -(-n // _ROW_PADDING) * _ROW_PADDING
            if padded != n:
                block = torch.cat([block, block.new_zeros(padded - n, block.shape[1])])
            chunks.append(function(block.to(net.device))[:n].cpu())
    if not chunks:
        raise ValueError("X holds no events")
    return torch.cat(chunks).numpy().astype(np.float64)
