"""Cross-cutting training behaviour as skorch callbacks: progress display, divergence guard."""

from __future__ import annotations

import math

from skorch.callbacks import Callback

__all__ = ["EpochProgressBar", "StopOnNonFiniteLoss"]


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

    def initialize(self):
        self.bar_ = None
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        from tqdm.auto import tqdm

        self.bar_ = tqdm(total=self.total, desc=self.desc, unit="epoch", leave=True)

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        postfix = {k: f"{row[k]:.5f}" for k in ("train_loss", "valid_loss") if k in row}
        self.bar_.set_postfix(postfix, refresh=False)
        self.bar_.update(1)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        if self.bar_ is not None:
            self.bar_.close()
        self.bar_ = None  # a tqdm object does not pickle; the fitted net must


class StopOnNonFiniteLoss(Callback):
    """Stop training with a clear error when the epoch's training loss is NaN or infinite.

    A non-finite loss means the weights, the learning rate or the inputs are unusable; training on
    would return a network that predicts NaN.
    """

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1].get("train_loss", 0.0)
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"the training loss became {loss} at epoch {len(net.history)}; lower "
                "learning_rate, check the inputs and sample weights for extreme values"
            )
