"""The neural core shared by every estimator of skhep_reweight.

- :mod:`.modules`: the MLP built from ``hidden_layer_sizes``/``activation``, input standardization.
- :mod:`.losses`: per-event losses.
- :mod:`.data`: events with their weights as tensors, the batch iterator, the validation split.
- :mod:`.nets`: the weighted skorch net, the Donsker-Varadhan net, the two-player net
  (:class:`AlternatingNet`).
- :mod:`.net`: :func:`train_network` and its two recipes, :func:`predict_network`.
- :mod:`.callbacks`: progress bar, divergence guard, cosine learning-rate decay.
- :mod:`.transport`: input-convex potentials and the min-max optimal-transport objective.
- :mod:`.seeding`: seeds from ``random_state``, device choice.
- :mod:`.params`: the flat network parameters every neural estimator shares, and their domains.
"""

from .callbacks import CosineDecay, EpochProgressBar, StopOnNonFiniteLoss
from .data import BatchIterator, EventDataset, StratifiedSplit
from .losses import (
    BinaryCrossEntropyPerEvent,
    MarginalJointCrossEntropy,
    donsker_varadhan_bound,
)
from .modules import (
    ACTIVATIONS,
    MLP,
    GaussianAnsatzNetwork,
    MarginalConditionalMLP,
    Standardize,
    make_activation,
    standardization_stats,
)
from .net import (
    PREDICT_BATCH_SIZE,
    AlternatingNet,
    DonskerVaradhanNet,
    WeightedNet,
    predict_network,
    train_alternating,
    train_binary_classifier,
    train_network,
)
from .params import NETWORK_PARAMETER_CONSTRAINTS, network_options
from .seeding import derive_seeds, resolve_device, seeded
from .transport import CONVEX_ACTIVATIONS, ConvexPotential, TransportPotentials

__all__ = [
    "ACTIVATIONS",
    "AlternatingNet",
    "CONVEX_ACTIVATIONS",
    "ConvexPotential",
    "CosineDecay",
    "TransportPotentials",
    "MLP",
    "DonskerVaradhanNet",
    "GaussianAnsatzNetwork",
    "MarginalConditionalMLP",
    "MarginalJointCrossEntropy",
    "NETWORK_PARAMETER_CONSTRAINTS",
    "PREDICT_BATCH_SIZE",
    "BatchIterator",
    "BinaryCrossEntropyPerEvent",
    "EpochProgressBar",
    "EventDataset",
    "StopOnNonFiniteLoss",
    "Standardize",
    "StratifiedSplit",
    "WeightedNet",
    "derive_seeds",
    "donsker_varadhan_bound",
    "make_activation",
    "network_options",
    "predict_network",
    "resolve_device",
    "seeded",
    "standardization_stats",
    "train_alternating",
    "train_binary_classifier",
    "train_network",
]
