"""The skorch nets of the neural core: weighted events, the Donsker-Varadhan bound, two players.

:class:`WeightedNet` is a :class:`skorch.NeuralNet` whose loss is the weighted mean of a per-event
loss, with the weights sliced together with the events (see :mod:`skhep_reweight._nn.data`);
:class:`DonskerVaradhanNet` maximizes the mutual-information bound; :class:`AlternatingNet`
trains two players in turn. :mod:`skhep_reweight._nn.net` builds and fits them.

All of them tell a user's Ctrl-C apart from skorch's early-stopping signal (both are a
KeyboardInterrupt inside skorch's loop, which swallows it): the first leaves the loop as
:class:`Interrupted`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from .data import EventDataset
from .losses import donsker_varadhan_bound
from .stream import ChunkStream

__all__ = [
    "AlternatingNet",
    "DonskerVaradhanNet",
    "MarkedEarlyStopping",
    "Interrupted",
    "WeightedNet",
]


class Interrupted(Exception):
    """Carries a user's KeyboardInterrupt out of skorch's training loop, which would swallow
    it."""


class _EarlyStop(KeyboardInterrupt):
    """skorch's early stopping ends training by raising KeyboardInterrupt; this subclass tells
    it apart from a user's Ctrl-C (skorch still catches it as the normal end of training)."""


class MarkedEarlyStopping(EarlyStopping):
    """skorch's EarlyStopping raising :class:`_EarlyStop` instead of a bare KeyboardInterrupt."""

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        try:
            super().on_epoch_end(net, **kwargs)
        except KeyboardInterrupt:
            raise _EarlyStop from None

    def on_train_end(self, net: NeuralNet, **kwargs: Any) -> None:
        # skorch keeps its copy of the best state_dict after restoring it. On a GPU those are CUDA
        # tensors outside the attributes skorch maps to the CPU when unpickling, so a model trained
        # on a GPU would not load on a machine without one (and the copy doubles the model's size).
        super().on_train_end(net, **kwargs)
        self.best_model_weights_ = None


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

    def fit_loop(self, X: Any, y: Any = None, **fit_params: Any) -> WeightedNet:
        # skorch's partial_fit catches KeyboardInterrupt and returns a half-trained net as if it
        # had finished. A user's Ctrl-C must stop the fit instead: it leaves the loop as another
        # exception, which train_network turns back into a KeyboardInterrupt.
        try:
            return super().fit_loop(X, y, **fit_params)
        except _EarlyStop:
            raise
        except KeyboardInterrupt as exc:
            raise Interrupted(len(self.history)) from exc

    def infer(self, x: Any, **fit_params: Any) -> torch.Tensor:
        if isinstance(x, Mapping):
            x = x["X"]
        return self.module_(to_tensor(x, device=self.device), **fit_params)

    def get_loss(
        self, y_pred: torch.Tensor, y_true: Any, X: Any = None, training: bool = False
    ) -> torch.Tensor:
        y_true = to_tensor(y_true, device=self.device)
        w = X["w"] if isinstance(X, Mapping) and "w" in X else None
        if not training:
            # The validation loss is summed in float64: early stopping compares epochs whose
            # losses (about 0.69 for a ratio near one) differ by 1e-7 or less when the effect is
            # a fraction of a percent, below float32's resolution (6e-8 at 0.69); in float32
            # such epochs tie and the fit stops as if it had stopped learning.
            y_pred = y_pred.double()
            y_true = y_true.double() if torch.is_floating_point(y_true) else y_true
            w = None if w is None else w.double()
        per_event = self.criterion_(y_pred, y_true)
        if w is not None:
            per_event = per_event * w
        return per_event.mean()

    def get_dataset(self, X: Any, y: Any = None) -> EventDataset:
        # Only an EventDataset carries the weights with the events; building one here from a bare
        # array would train with every weight silently set to one.
        if isinstance(X, ChunkStream):
            return X
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

    def get_loss(
        self, y_pred: torch.Tensor, y_true: Any, X: Any = None, training: bool = False
    ) -> torch.Tensor:
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

    def __init__(
        self,
        *args: Any,
        n_critic: int = 1,
        critic_optimizer: type[torch.optim.Optimizer] = torch.optim.AdamW,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.n_critic = n_critic
        self.critic_optimizer = critic_optimizer

    def initialize_optimizer(self, triggered_directly: Any = None) -> AlternatingNet:
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
        # The last generator loss is a tensor on the training device: it is mapped the same way.
        missing = [
            name
            for name in ("critic_optimizer_", "primary_loss_")
            if name not in self.cuda_dependent_attributes_
        ]
        if missing:
            self.cuda_dependent_attributes_ = [*self.cuda_dependent_attributes_, *missing]
        self.n_steps_ = 0
        self.primary_loss_ = None
        return self

    def _step(
        self, optimizer: torch.optim.Optimizer, loss_fn: Callable, *inputs: torch.Tensor
    ) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(*inputs)
        loss.backward()
        optimizer.step()
        constrain = getattr(self.module_, "constrain", None)
        if constrain is not None:
            constrain()
        return loss.detach()

    def _unpack(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        Xi, yi = unpack_data(batch)
        X = to_tensor(Xi["X"], device=self.device)
        w = Xi.get("w")
        w = torch.ones(X.shape[0], device=X.device) if w is None else to_tensor(w, self.device)
        y = None if yi is None else to_tensor(yi, device=self.device)
        return X, y, w

    def train_step(self, batch: Any, **fit_params: Any) -> dict:
        self._set_training(True)
        inputs = self._unpack(batch)
        critic = self._step(self.critic_optimizer_, self.module_.critic_loss, *inputs)
        self.history.record_batch("critic_loss", critic.item())
        if self.n_steps_ % self.n_critic == 0:
            self.primary_loss_ = self._step(self.optimizer_, self.module_.primary_loss, *inputs)
        self.n_steps_ += 1
        return {"loss": self.primary_loss_, "y_pred": None}

    def validation_step(self, batch: Any, **fit_params: Any) -> dict:
        self._set_training(False)
        with torch.enable_grad():
            loss = self.module_.value(*self._unpack(batch)).detach()
        return {"loss": loss, "y_pred": None}
