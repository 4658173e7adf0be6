"""The weighted skorch net and the one training entry point every estimator uses.

:class:`WeightedNet` is a :class:`skorch.NeuralNet` whose loss is the weighted mean of a per-event
loss, with the weights sliced together with the events (see :mod:`skhep_reweight._nn.data`).
:func:`train_network` builds such a net from the flat, scikit-learn-style parameters of an
estimator, seeds it without touching torch's global random state, and fits it;
:func:`predict_network` runs a fitted net over new events in large batches.

Extension points for a new method are the ``module`` (a :class:`torch.nn.Module` class and its
keyword arguments) and the ``criterion`` (a per-event loss, :mod:`skhep_reweight._nn.losses`); a
method whose loss does not split into events overrides :meth:`WeightedNet.get_loss`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, LRScheduler
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from .callbacks import CosineDecay, EpochProgressBar, StopOnNonFiniteLoss
from .data import BatchIterator, EventDataset, StratifiedSplit
from .losses import BinaryCrossEntropyPerEvent, donsker_varadhan_bound
from .modules import MLP, standardization_stats
from .seeding import derive_seeds, resolve_device, seeded

__all__ = [
    "PREDICT_BATCH_SIZE",
    "AlternatingNet",
    "DonskerVaradhanNet",
    "WeightedNet",
    "predict_network",
    "train_alternating",
    "train_binary_classifier",
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


# Adam's momentum settings for the two players of an AlternatingNet (Makkuva et al. for the OT
# potentials, the usual GAN choice): a short first-moment memory keeps each player from
# overshooting the other's moves.
_ADVERSARIAL_BETAS = (0.5, 0.9)


def _noop(*args, **kwargs):
    """A sink that prints nothing (early stopping's message when ``verbose=0``)."""


class WeightedNet(NeuralNet):
    """skorch net trained on weighted events.

    A batch is ``({"X": features, "w": weights}, y)``. The loss of a batch is

    .. math::

        L = \\frac{1}{|B|} \\sum_{i \\in B} w_i\\, \\ell(f(x_i), y_i),

    with :math:`\\ell` the per-event ``criterion``. The estimators normalize the weights to mean
    one over the training sample, so that :math:`L` estimates the weighted population loss
    without a per-batch normalization (which would divide by a batch sum that can be near zero
    when negative weights are present).
    """

    def infer(self, x, **fit_params):
        if isinstance(x, Mapping):
            x = x["X"]
        return self.module_(to_tensor(x, device=self.device), **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        per_event = self.criterion_(y_pred, to_tensor(y_true, device=self.device))
        if isinstance(X, Mapping) and "w" in X:
            per_event = per_event * X["w"]
        return per_event.mean()

    def get_dataset(self, X, y=None):
        # Only an EventDataset carries the weights with the events; building one here from a bare
        # array would train with every weight silently set to one.
        if not isinstance(X, EventDataset):
            raise TypeError(
                f"{type(self).__name__} trains on an EventDataset (features, targets "
                f"and weights together), got {type(X).__name__}"
            )
        return X


# The validation loss of DonskerVaradhanNet pairs events by permutations from this fixed seed, so
# that it changes between epochs only through the network (early stopping compares like with like).
_VALIDATION_PAIRING_SEED = 20_529


class DonskerVaradhanNet(WeightedNet):
    r"""Net trained to maximize the Donsker-Varadhan bound on stacked columns ``[x | z]``.

    The module maps a row ``[x | z]`` to :math:`T(x, z)`. A batch of pairs drawn from
    :math:`p(x, z)` gives the first term of the bound; the same batch with ``z`` permuted among
    the events gives pairs from :math:`p(x)\,p(z)` for the second (see
    :func:`~skhep_reweight._nn.losses.donsker_varadhan_bound`). The loss is minus the bound. A
    permuted pair carries the product of its two events' weights.

    Training permutations come from torch's (seeded) global generator; validation batches use
    permutations from a fixed seed. The number of columns of x is the module's ``n_features``.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        inputs, w = X["X"], X.get("w")
        n_x = self.module_.n_features
        if training:
            perm = torch.randperm(inputs.shape[0], device=inputs.device)
        else:
            generator = torch.Generator().manual_seed(_VALIDATION_PAIRING_SEED)
            perm = torch.randperm(inputs.shape[0], generator=generator).to(inputs.device)
        shuffled = torch.cat([inputs[:, :n_x], inputs[perm, n_x:]], dim=1)
        t_marginal = self.module_(shuffled)
        w_marginal = None if w is None else w * w[perm]
        if w is not None and not bool(w_marginal.sum() > 0):
            # No shuffled pair with two non-zero weights: the second term is log(0/0) and the
            # batch says nothing about it (estimators drop zero-weight events to avoid this).
            return (y_pred * 0).sum()
        return -donsker_varadhan_bound(y_pred, t_marginal, w, w_marginal)


class AlternatingNet(WeightedNet):
    r"""Two players trained in turn, each with its own optimizer: min-max and adversarial
    objectives (optimal-transport potentials, a generator and its discriminator).

    The module provides the two players and their losses:

    - ``primary_parameters()`` and ``critic_parameters()``: named parameters of each player;
      ``optimizer_`` (``optimizer``, ``lr``, ``optimizer__*``) trains the first,
      ``critic_optimizer_`` (``critic_optimizer``, ``critic_optimizer__*``; its learning rate
      defaults to ``lr``) the second;
    - ``critic_loss(X, y, w)`` and ``primary_loss(X, y, w)``: the loss each player lowers on a
      batch; ``value(X, y, w)``: the validation loss (early stopping monitors it);
    - ``constrain()``, optional: run after every optimizer step (weight clipping, or keeping
      the weights of an input-convex network non-negative).

    Every batch takes one critic step; batches 1, 1 + ``n_critic``, 1 + 2 ``n_critic``, ...
    (counted over the whole training) also take one primary step, on the same batch after the
    critic's, so the critic sees ``n_critic`` fresh batches per primary update. The recorded
    training loss is the primary loss of the last primary step; ``critic_loss`` is recorded per
    batch. Input gradients stay available in validation (the players may be gradients of
    potentials).
    """

    prefixes_ = [*WeightedNet.prefixes_, "critic_optimizer"]

    def __init__(self, *args, n_critic: int = 1, critic_optimizer=torch.optim.AdamW, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_critic = n_critic
        self.critic_optimizer = critic_optimizer

    def initialize_optimizer(self, triggered_directly=None):
        args, kwargs = self.get_params_for_optimizer("optimizer", self.module_.primary_parameters())
        self.optimizer_ = self.optimizer(*args, **kwargs)
        args, kwargs = self.get_params_for_optimizer(
            "critic_optimizer", self.module_.critic_parameters()
        )
        self.critic_optimizer_ = self.critic_optimizer(*args, **kwargs)
        # skorch registers an optimizer it does not know of when it is assigned; this one is
        # declared in prefixes_ (so that critic_optimizer__* arguments are accepted), so it is
        # registered by hand: zero_grad, the virtual parameters and the learning-rate callbacks
        # find it in _optimizers, and unpickling on a CPU-only machine in the CUDA-dependent list
        if "critic_optimizer" not in self._optimizers:
            self._optimizers = [*self._optimizers, "critic_optimizer"]
        if "critic_optimizer_" not in self.cuda_dependent_attributes_:
            self.cuda_dependent_attributes_ = [
                *self.cuda_dependent_attributes_,
                "critic_optimizer_",
            ]
        self.n_steps_ = 0
        self.primary_loss_ = None
        return self

    def _step(self, optimizer, loss_fn, *inputs):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(*inputs)
        loss.backward()
        optimizer.step()
        constrain = getattr(self.module_, "constrain", None)
        if constrain is not None:
            constrain()
        return loss.detach()

    def _unpack(self, batch):
        Xi, yi = unpack_data(batch)
        X = to_tensor(Xi["X"], device=self.device)
        w = Xi.get("w")
        w = torch.ones(X.shape[0], device=X.device) if w is None else to_tensor(w, self.device)
        y = None if yi is None else to_tensor(yi, device=self.device)
        return X, y, w

    def train_step(self, batch, **fit_params):
        self._set_training(True)
        inputs = self._unpack(batch)
        critic = self._step(self.critic_optimizer_, self.module_.critic_loss, *inputs)
        self.history.record_batch("critic_loss", critic.item())
        if self.n_steps_ % self.n_critic == 0:
            self.primary_loss_ = self._step(self.optimizer_, self.module_.primary_loss, *inputs)
        self.n_steps_ += 1
        return {"loss": self.primary_loss_, "y_pred": None}

    def validation_step(self, batch, **fit_params):
        self._set_training(False)
        with torch.enable_grad():
            loss = self.module_.value(*self._unpack(batch)).detach()
        return {"loss": loss, "y_pred": None}


def train_network(
    module: type[torch.nn.Module],
    module_kwargs: dict,
    criterion: type[torch.nn.Module],
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    *,
    learning_rate: float,
    batch_size: int,
    max_epochs: int,
    early_stopping: bool,
    validation_fraction: float,
    n_iter_no_change: int,
    weight_decay: float,
    device: str,
    seed: int,
    verbose: int,
    criterion_kwargs: dict | None = None,
    optimizer: type[torch.optim.Optimizer] = torch.optim.AdamW,
    stratify: bool = True,
    net_class: type[WeightedNet] = WeightedNet,
    callbacks: list | None = None,
    desc: str = "training",
    lr_decay: bool = True,
    **net_kwargs,
) -> WeightedNet:
    """Build and fit a :class:`WeightedNet`.

    Parameters
    ----------
    module, module_kwargs
        The network class and its constructor arguments; it is built inside the seeded context.
    criterion
        A per-event loss class (``reduction="none"`` semantics); a method whose loss does not
        split into events overrides :meth:`WeightedNet.get_loss` in a subclass instead.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,) or (n_samples, n_targets)
    sample_weight : ndarray of shape (n_samples,) or None
        Per-event weights, normalized by the caller (mean one is the convention).
    learning_rate, batch_size, max_epochs, weight_decay
        AdamW settings and the training length.
    early_stopping, validation_fraction, n_iter_no_change
        When ``early_stopping``, hold out a stratified ``validation_fraction`` of the events,
        cut the learning rate by 0.3 after ``n_iter_no_change // 3`` epochs without improvement
        of the weighted validation loss, stop after ``n_iter_no_change`` such epochs, and restore
        the best epoch's parameters.
    device : {"cpu", "cuda", "auto"} or torch device string
    seed : int
        Seeds initialization, dropout, the split and the batch order; torch's global random
        state is restored afterwards.
    verbose : int
        0 silent, 1 a progress bar over epochs, 2 also skorch's per-epoch table.
    criterion_kwargs : dict, optional
        Constructor arguments of the criterion (a loss's own constants).
    optimizer : torch optimizer class, default=AdamW
        Receives ``lr=learning_rate`` and ``weight_decay``.
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
    **net_kwargs
        Further skorch arguments of ``net_class`` (a second optimizer, its parameters, ...).

    Returns
    -------
    net : WeightedNet
        The fitted net, on ``device``, in evaluation mode.
    """
    device = resolve_device(device)
    split_seed, loader_seed, torch_seed = derive_seeds(seed, 3)
    n_valid = int(round(validation_fraction * len(X))) if early_stopping else 0
    # Early stopping needs at least two validation and two training events; on tinier samples
    # (scikit-learn's checks fit on a handful) it is off and all max_epochs are run.
    use_validation = early_stopping and n_valid >= 2 and len(X) - n_valid >= 2

    all_callbacks = [("stop_on_non_finite", StopOnNonFiniteLoss())]
    if use_validation:
        all_callbacks.append(
            (
                "early_stopping",
                EarlyStopping(
                    monitor="valid_loss",
                    patience=n_iter_no_change,
                    load_best=True,
                    threshold=_EARLY_STOPPING_THRESHOLD,
                    sink=print if verbose >= 2 else _noop,
                ),
            )
        )
    if use_validation and lr_decay:
        all_callbacks.append(
            (
                "lr_decay",
                LRScheduler(
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
        criterion=criterion,
        optimizer=optimizer,
        lr=learning_rate,
        optimizer__weight_decay=weight_decay,
        max_epochs=max_epochs,
        batch_size=batch_size,
        train_split=(
            StratifiedSplit(validation_fraction, split_seed, stratify=stratify)
            if use_validation
            else None
        ),
        iterator_train=BatchIterator,
        iterator_train__shuffle=True,
        iterator_train__seed=loader_seed,
        iterator_train__device=device,
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
    dataset = EventDataset(X, y, sample_weight)
    with seeded(torch_seed, device):
        net.fit(dataset, None)
    net.module_.eval()
    return net


def train_alternating(
    module: type[torch.nn.Module],
    module_kwargs: dict,
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    *,
    n_critic: int,
    seed: int,
    desc: str,
    stratify: bool = True,
    **options,
) -> AlternatingNet:
    """Build and fit an :class:`AlternatingNet`: the two-player recipe of every min-max method.

    Both players train with AdamW (betas 0.5, 0.9, the flat ``weight_decay``) and learning rates
    that fall to zero along a half cosine over ``max_epochs`` (:class:`CosineDecay`; at a
    constant rate the players keep circling the saddle point, and the plateau decay of
    :func:`train_network` would cut one optimizer only). The module supplies the losses, so the
    criterion is unused. ``options`` are :func:`train_network`'s training options
    (``network_options(estimator)``).
    """
    return train_network(
        module,
        module_kwargs,
        torch.nn.Identity,
        X,
        y,
        sample_weight,
        **options,
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


def train_binary_classifier(
    X: np.ndarray,
    y01: np.ndarray,
    sample_weight: np.ndarray,
    *,
    hidden_layer_sizes: tuple[int, ...],
    activation: str,
    seed: int,
    desc: str,
    **options,
) -> WeightedNet:
    """An MLP with one logit trained by the weighted binary cross-entropy (label 1 vs label 0).

    Inputs are standardized inside the module with the weighted statistics of ``X``; the weights
    are used as given (callers balance the class totals). ``options`` are
    :func:`train_network`'s training options (``network_options(estimator)``).
    """
    loc, scale = standardization_stats(X, sample_weight)
    return train_network(
        MLP,
        {
            "n_inputs": X.shape[1],
            "hidden_layer_sizes": hidden_layer_sizes,
            "n_outputs": 1,
            "activation": activation,
            "loc": loc,
            "scale": scale,
        },
        BinaryCrossEntropyPerEvent,
        X,
        y01.astype(np.float32),
        sample_weight,
        seed=seed,
        desc=desc,
        **options,
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
