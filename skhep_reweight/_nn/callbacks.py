"""Cross-cutting training behaviour as skorch callbacks: progress display, divergence guard."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from skorch import NeuralNet
from skorch.callbacks import Callback, LRScheduler

__all__ = [
    "CosineDecay",
    "EpochProgressBar",
    "GainRelativePlateau",
    "HeldOutGain",
    "ReleasingLRScheduler",
    "StopOnNonFiniteLoss",
]


class EpochProgressBar(Callback):
    """A tqdm bar over epochs that shows the latest training and validation losses.

    Parameters
    ----------
    total : int
        Number of epochs planned (``max_epochs``); early stopping may end the bar sooner.
    desc : str, default="training"
    """

    def __init__(self, total: int, desc: str = "training") -> None:
        self.total = total
        self.desc = desc

    def initialize(self) -> EpochProgressBar:
        self.bar_ = None
        return self

    def on_train_begin(self, net: NeuralNet, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        from tqdm.auto import tqdm

        self.bar_ = tqdm(total=self.total, desc=self.desc, unit="epoch", leave=True)

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        row = net.history[-1]
        postfix = {k: f"{row[k]:.5f}" for k in ("train_loss", "valid_loss") if k in row}
        self.bar_.set_postfix(postfix, refresh=False)
        self.bar_.update(1)

    def on_train_end(self, net: NeuralNet, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        if self.bar_ is not None:
            self.bar_.close()
        self.bar_ = None  # a tqdm object does not pickle; the fitted net must


class StopOnNonFiniteLoss(Callback):
    """Stop training with a clear error when the epoch's training loss is NaN or infinite.

    A non-finite loss means the weights, the learning rate or the inputs are unusable; training on
    would return a network that predicts NaN.
    """

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        loss = net.history[-1].get("train_loss", 0.0)
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"the training loss became {loss} at epoch {len(net.history)}; lower "
                "learning_rate, check the inputs and sample weights for extreme values"
            )


class CosineDecay(Callback):
    """Cut the learning rate of every optimizer of the net along a half cosine, from its initial
    value at the first epoch to zero after ``total`` epochs.

    For two-player training (:class:`~skhep_reweight._nn.net.AlternatingNet`): at a constant
    learning rate the players keep circling the saddle point, and the fitted map changes by its
    full statistical precision from one epoch to the next; the decay lets them settle.
    """

    def __init__(self, total: int) -> None:
        self.total = total

    def on_train_begin(self, net: NeuralNet, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        self.initial_ = {
            name: [group["lr"] for group in getattr(net, name + "_").param_groups]
            for name in net._optimizers
        }

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        factor = 0.5 * (1.0 + math.cos(math.pi * min(len(net.history), self.total) / self.total))
        for name, rates in self.initial_.items():
            for group, lr in zip(getattr(net, name + "_").param_groups, rates, strict=True):
                group["lr"] = lr * factor


class HeldOutGain(Callback):
    r"""After training, how much better the classifier is than a constant on the validation events.

    For a network with one logit :math:`s` trained by the weighted binary cross-entropy, it
    records on the net ``held_out_gain_``, a dict with

    * ``gain``: :math:`\bar d = \frac{1}{n}\sum_i d_i`, the mean over the :math:`n` validation
      rows of :math:`d_i = w_i\,[\ell(\bar y, y_i) - \ell(\sigma(s_i), y_i)]`, the
      cross-entropy of the best constant :math:`\bar y = \sum_i w_i y_i / \sum_i w_i` minus the
      network's (float64);
    * ``standard_error``: :math:`\mathrm{sd}(d)/\sqrt{n}`;
    * ``n_events``: :math:`n`.

    The network is the one training returns (the best epoch when early stopping restores it:
    this callback must come after the early stopping). Without a validation split nothing is
    recorded (``held_out_gain_`` is None).
    """

    def initialize(self) -> HeldOutGain:
        self.valid_ = None
        return self

    def on_epoch_begin(
        self, net: Any, dataset_train: Any = None, dataset_valid: Any = None, **kwargs: Any
    ) -> None:
        self.valid_ = dataset_valid

    def on_train_end(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        net.held_out_gain_ = None
        valid, self.valid_ = self.valid_, None  # the net must not keep the events
        if valid is None or valid.y is None or len(valid) < 2:
            return
        module = net.module_
        was_training = module.training
        module.eval()
        with torch.no_grad():
            logit = torch.cat(
                [
                    module(valid.X[i : i + 65536].to(net.device)).reshape(-1).cpu()
                    for i in range(0, len(valid), 65536)
                ]
            ).double()
        module.train(was_training)
        label, weight = valid.y.reshape(-1).double().cpu(), valid.w.double().cpu()
        mean_label = float((weight * label).sum() / weight.sum())
        mean_label = min(max(mean_label, 1e-12), 1 - 1e-12)
        constant = torch.full_like(logit, math.log(mean_label / (1 - mean_label)))
        difference = weight * (
            F.binary_cross_entropy_with_logits(constant, label, reduction="none")
            - F.binary_cross_entropy_with_logits(logit, label, reduction="none")
        )
        n = difference.shape[0]
        net.held_out_gain_ = {
            "gain": float(difference.mean()),
            "standard_error": float(difference.std() / math.sqrt(n)),
            "n_events": int(n),
        }


class GainRelativePlateau(Callback):
    r"""Set the plateau learning-rate decay's threshold from the gain over a constant classifier.

    A binary cross-entropy has an offset: the best constant classifier's loss
    :math:`L_0 = \bar w\,H(\bar y)` on the validation events (about :math:`\log 2` for balanced
    classes). What training can improve is the gain :math:`L_0 - L`, which is 0.1 for a shifted
    Gaussian and 3e-6 for a 0.5 % effect. Before every step of the decay (this callback must come
    before it) its threshold becomes ``share`` times the best gain so far, in absolute terms: an
    epoch counts as progress when it adds more than that share to the gain. A threshold relative
    to the loss itself (skorch's default, 1e-4 of 0.69) is larger than the whole gain of a small
    effect and cut the rate every few epochs from the start; a threshold of zero let the rate
    stay high on large effects, whose late epochs then hop around the minimum. Measured
    (``bench_dctr_vs_hep_ml.py``'s median weight error, and the held-out correlation on
    ``make_systematic_variation``) with share 1e-2 / a zero threshold / skorch's threshold: 1-D
    Gaussian 0.019 / 0.047 / 0.026, 5-D 0.024 / 0.030 / 0.030, the 0.5 % variation
    0.99 / 0.995 / 0.85.

    Parameters
    ----------
    share : float
    name : str, default="lr_decay"
        The name of the skorch ``LRScheduler`` callback whose threshold is set.
    """

    def __init__(self, share: float, name: str = "lr_decay") -> None:
        self.share = share
        self.name = name

    def initialize(self) -> GainRelativePlateau:
        self.constant_ = None
        return self

    def on_epoch_begin(
        self, net: Any, dataset_train: Any = None, dataset_valid: Any = None, **kwargs: Any
    ) -> None:
        if self.constant_ is None and dataset_valid is not None and dataset_valid.y is not None:
            label = dataset_valid.y.reshape(-1).double()
            weight = dataset_valid.w.double()
            mean = float((weight * label).sum() / weight.sum())
            mean = min(max(mean, 1e-12), 1 - 1e-12)
            entropy = -(mean * math.log(mean) + (1 - mean) * math.log(1 - mean))
            self.constant_ = float(weight.mean()) * entropy

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        if self.constant_ is None:
            return
        scheduler = getattr(dict(net.callbacks_).get(self.name), "lr_scheduler_", None)
        if scheduler is None:
            return
        best = min(net.history[:, "valid_loss"])
        scheduler.threshold_mode = "abs"
        scheduler.threshold = self.share * max(self.constant_ - best, 0.0)


class ReleasingLRScheduler(LRScheduler):
    """skorch's LRScheduler letting go of its scheduler when training ends.

    The scheduler refers to the optimizer, its parameters and its state. Kept in the fitted net,
    pickling would store them a second time outside the attributes that skorch maps to the CPU
    when unpickling, so a model trained on a GPU would not load on a machine without one. skorch
    makes a new scheduler at the start of every training, so nothing is lost.
    """

    def on_train_end(self, net: NeuralNet, **kwargs: Any) -> None:
        super().on_train_end(net, **kwargs)
        self.lr_scheduler_ = None
