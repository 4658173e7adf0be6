r"""ONNX graphs of the reweighters and of the unweighting GAN's generator.

Every graph holds the whole computation of the estimator's own prediction method, so that a
user of onnxruntime (Python or C++) reproduces its numbers without PyTorch or scikit-learn:

- :class:`~skhep_reweight.DCTRReweighter` and :class:`~skhep_reweight.ConditionalReweighter`:
  input ``"X"`` (float32, ``[batch, n_features]``, raw features), output ``"weight"`` (float64,
  ``[batch]``), what ``predict_weights(X)`` returns (without ``sample_weight``: multiply by the
  event weights yourself). The input standardization, the network, the prior factor, the clip
  and the exponential are inside the graph. A parametrized DCTR reweighter takes a second input
  ``"theta"`` (float32, ``[batch, n_parameters]``).
- :class:`~skhep_reweight.WeightedGANUnweighter`: input ``"noise"`` (float32,
  ``[batch, latent_dim_]``), output ``"events"`` (float32, ``[batch, n_features]``), in the
  units of the training features.

The log-ratio is :math:`\ell(x) = \operatorname{logit} f(x) + \log\pi`, with :math:`\pi` the
estimator's ``prior_ratio_``; it is clipped to :math:`\pm b`, :math:`b = \log((1 - c)/c)` with
:math:`c` = ``proba_clip``, and the weight is :math:`e^{\ell}`. The clip bound, the prior factor
and everything after the network's logit are float64 in the graph, as in ``predict_weights``:
held as float32 the bound :math:`\log(10^6 - 1)` would give a largest weight of 999999.2
instead of 999999.

The networks are exported with PyTorch's dynamo-based ONNX exporter (``torch.onnx.export(...,
dynamo=True)``); a user scikit-learn classifier through skl2onnx, with the ratio formula appended
in ONNX operators.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..reweight._weights import _max_log_ratio
from ._common import cpu_module, export_module, import_onnx, write_atomically
from ._sklearn import sklearn_model

__all__ = ["export_gan", "export_reweighter"]

# Rows of the example inputs used to trace the networks (any number above one: the batch
# dimension is declared dynamic).
_EXAMPLE_ROWS = 4


# ------------------------------------------------------------------------- torch modules
def _torch_modules() -> dict[str, type]:
    """The wrapper modules, defined on first use so that importing this file needs no torch."""
    import torch
    from torch import nn

    class ClippedLogRatio(nn.Module):
        """Clipped log-ratio of one DCTR network: clip(logit(columns of x) + log pi, -b, b),
        float64 after the logit."""

        def __init__(
            self, network: nn.Module, prior_ratio: float, bound: float, columns: Any
        ) -> None:
            super().__init__()
            self.network = network
            self.register_buffer(
                "log_prior", torch.tensor(np.log(prior_ratio), dtype=torch.float64)
            )
            self.register_buffer("bound", torch.tensor(bound, dtype=torch.float64))
            index = None if columns is None else torch.as_tensor(np.asarray(columns, np.int64))
            self.register_buffer("columns", index)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.columns is not None:
                x = x.index_select(1, self.columns)
            logit = self.network(x)[:, 0].double()
            return torch.clamp(logit + self.log_prior, -self.bound, self.bound)

    class DCTRWeight(nn.Module):
        """exp of the clipped log-ratio of a DCTR network on [X | theta]."""

        def __init__(self, term: ClippedLogRatio, parametrized: bool) -> None:
            super().__init__()
            self.term = term
            self.parametrized = parametrized

        def forward(self, X: torch.Tensor, theta: torch.Tensor | None = None) -> torch.Tensor:
            features = torch.cat([X, theta], dim=1) if self.parametrized else X
            return torch.exp(self.term(features))

    class JointConditionalWeight(nn.Module):
        """exp(clip(h)) with h the second output of the (g, h) network."""

        def __init__(self, network: nn.Module, bound: float) -> None:
            super().__init__()
            self.network = network
            self.register_buffer("bound", torch.tensor(bound, dtype=torch.float64))

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            h = self.network(X)[:, 1].double()
            return torch.exp(torch.clamp(h, -self.bound, self.bound))

    class DifferenceWeight(nn.Module):
        """exp(clip(s - g)) from two clipped log-ratios (g = 0 when ``marginal`` is None)."""

        def __init__(self, joint: ClippedLogRatio, marginal: Any, bound: float) -> None:
            super().__init__()
            self.joint = joint
            self.marginal = marginal
            self.register_buffer("bound", torch.tensor(bound, dtype=torch.float64))

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            h = self.joint(X)
            if self.marginal is not None:
                h = h - self.marginal(X)
            return torch.exp(torch.clamp(h, -self.bound, self.bound))

    return {
        "ClippedLogRatio": ClippedLogRatio,
        "DCTRWeight": DCTRWeight,
        "JointConditionalWeight": JointConditionalWeight,
        "DifferenceWeight": DifferenceWeight,
    }


def _clipped_term(reweighter: Any, columns: Any = None) -> Any:
    """The ClippedLogRatio module of a fitted DCTRReweighter with the built-in network."""
    modules = _torch_modules()
    return modules["ClippedLogRatio"](
        cpu_module(reweighter.net_),
        reweighter.prior_ratio_,
        _max_log_ratio(reweighter.proba_clip),
        columns,
    )


# ------------------------------------------------------------------------ the exporters
def export_reweighter(estimator: Any, path: str | os.PathLike, *, opset: int | None = None) -> Path:
    r"""Write a fitted DCTRReweighter or ConditionalReweighter as one ONNX graph.

    The graph computes ``predict_weights(X)`` (without ``sample_weight``):

    .. math::

        w = \exp\big(\operatorname{clip}(\ell, -b, b)\big), \qquad b = \log\frac{1 - c}{c},

    with :math:`c` = ``proba_clip`` and the log-ratio :math:`\ell` of each configuration:

    - DCTR, built-in network: :math:`\ell = \operatorname{logit} f(x) + \log\pi` (:math:`\pi` =
      ``prior_ratio_``), the network's input standardization inside. Parametrized
      (``n_parameters_ > 0``): the network sees ``[X | theta]``.
    - DCTR with a scikit-learn classifier: :math:`\ell = \log f - \log(1 - f) + \log\pi` from
      the classifier's probability of class 1, converted by skl2onnx. The classifier runs in
      float64 when its converter supports it (linear models), in float32 otherwise (tree
      ensembles: the probability then carries float32 rounding).
    - ConditionalReweighter ``"joint"``: :math:`\ell = h`, the second output of the
      :math:`(g, h)` network.
    - ``"ratio"``: :math:`\ell = s - g`, :math:`s` and :math:`g` the clipped log-ratios of the
      joint DCTR (all columns) and of the marginal DCTR (the columns ``conditional_index_``).
    - ``"marginal_then_conditional"``: :math:`\ell` is the clipped log-ratio of the second DCTR.

    The classical conditional methods with a scikit-learn classifier combine the skl2onnx graphs
    of their classifiers in the same way.

    Parameters
    ----------
    estimator : fitted DCTRReweighter or ConditionalReweighter
    path : str or path-like
        The file to write; written to a temporary file in the same folder, then moved in place.
    opset : int, default=None
        The ONNX opset: that of the graph for the built-in networks; for a scikit-learn
        classifier, the largest one skl2onnx may use (it takes the smallest that suffices).
        None: the exporter's default.

    Returns
    -------
    path : Path

    Notes
    -----
    Graph inputs: ``"X"``, float32 of shape ``[batch, n_features]``, the raw features; for a
    parametrized reweighter also ``"theta"``, float32 of shape ``[batch, n_parameters]`` (one
    row per event: broadcast a single point yourself). The graph does not check the range of
    theta: a theta outside ``theta_range_`` is the caller's responsibility (``predict_weights``
    raises there unless ``allow_extrapolation``). Output: ``"weight"``, float64 of shape
    ``[batch]``. Everything after the network's logit (prior factor, clip, exponential) is
    float64, as in ``predict_weights``.

    Raises
    ------
    NotFittedError
        The estimator is not fitted.
    TypeError
        Not a reweighter, or a scikit-learn classifier for which skl2onnx has no working
        converter (the message quotes the converter's error).
    ImportError
        onnx (or torch's exporter's onnxscript, skl2onnx for a classifier) is missing.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import onnxruntime
    >>> from skhep_reweight import DCTRReweighter
    >>> rng = np.random.RandomState(0)
    >>> source, target = rng.normal(0, 1, (500, 2)), rng.normal(0.5, 1, (500, 2))
    >>> rw = DCTRReweighter(hidden_layer_sizes=(8,), max_epochs=2, device="cpu",
    ...                     random_state=0).fit_samples(source, target)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = export_reweighter(rw, Path(folder) / "weights.onnx")
    ...     session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    ...     X = source[:5].astype(np.float32)
    ...     (w,) = session.run(None, {"X": X})
    >>> bool(np.allclose(w, rw.predict_weights(X.astype(np.float64)), rtol=1e-5))
    True
    """
    from ..reweight import ConditionalReweighter, DCTRReweighter

    import_onnx()
    if not isinstance(estimator, (DCTRReweighter, ConditionalReweighter)):
        raise TypeError(
            f"export_reweighter exports DCTRReweighter and ConditionalReweighter, not "
            f"{type(estimator).__name__}"
        )
    check_is_fitted(estimator)
    if isinstance(estimator, DCTRReweighter):
        if not hasattr(estimator, "net_"):
            return write_atomically(sklearn_model(estimator, opset), path)
        model = _dctr_model(estimator, opset)
    elif estimator.method != "joint" and estimator.classifier is not None:
        model = sklearn_model(estimator, opset)
    else:
        model = _conditional_model(estimator, opset)
    return write_atomically(model, path)


def _dctr_model(estimator: Any, opset: int | None) -> Any:
    """The ModelProto of a DCTRReweighter with the built-in network."""
    import torch

    modules = _torch_modules()
    term = _clipped_term(estimator)
    n_parameters = int(estimator.n_parameters_)
    module = modules["DCTRWeight"](term, parametrized=n_parameters > 0)
    examples: tuple = (torch.zeros(_EXAMPLE_ROWS, estimator.n_features_in_),)
    names = ["X"]
    if n_parameters > 0:
        examples += (torch.zeros(_EXAMPLE_ROWS, n_parameters),)
        names.append("theta")
    return export_module(module, examples, names, ["weight"], opset)


def _conditional_model(estimator: Any, opset: int | None) -> Any:
    """The ModelProto of a ConditionalReweighter with built-in networks."""
    import torch

    modules = _torch_modules()
    bound = _max_log_ratio(estimator.proba_clip)
    if estimator.method == "joint":
        module = modules["JointConditionalWeight"](cpu_module(estimator.net_), bound)
    elif estimator.method == "ratio":
        joint = _clipped_term(estimator.joint_reweighter_)
        marginal = _clipped_term(estimator.marginal_reweighter_, estimator.conditional_index_)
        module = modules["DifferenceWeight"](joint, marginal, bound)
    else:
        second = _clipped_term(estimator.conditional_reweighter_)
        module = modules["DifferenceWeight"](second, None, bound)
    examples = (torch.zeros(_EXAMPLE_ROWS, estimator.n_features_in_),)
    return export_module(module, examples, ["X"], ["weight"], opset)


def export_gan(estimator: Any, path: str | os.PathLike, *, opset: int | None = None) -> Path:
    r"""Write the generator of a fitted WeightedGANUnweighter as one ONNX graph.

    The graph maps latent noise to events in the units of the training features,

    .. math::

        x = G(z) \odot \sigma + \mu,

    with :math:`G` the generator network (in standardized units) and :math:`\mu, \sigma` the
    weighted mean and spread of the training events (the de-standardization is inside).

    Parameters
    ----------
    estimator : fitted WeightedGANUnweighter
    path : str or path-like
        The file to write; written to a temporary file in the same folder, then moved in place.
    opset : int, default=None
        The ONNX opset (None: the exporter's default).

    Returns
    -------
    path : Path

    Notes
    -----
    Graph input: ``"noise"``, float32 of shape ``[batch, latent_dim_]``, drawn from the standard
    normal distribution :math:`\mathcal{N}(0, 1)^{d_z}` as in ``sample``. ``sample(n,
    random_state=seed)`` draws it with numpy,
    ``np.random.RandomState(seed).standard_normal((n, latent_dim_)).astype(np.float32)`` (in
    consecutive chunks of rows from the same generator, which is the same stream), so that noise
    reproduces its events. Output: ``"events"``, float32 of shape ``[batch, n_features]``. The
    discriminator is not in the graph.

    Raises
    ------
    NotFittedError
        The estimator is not fitted.
    ImportError
        onnx (or torch's exporter's onnxscript) is missing.
    """
    import torch

    from ..unweight import WeightedGANUnweighter

    import_onnx()
    if not isinstance(estimator, WeightedGANUnweighter):
        raise TypeError(f"export_gan exports WeightedGANUnweighter, not {type(estimator).__name__}")
    check_is_fitted(estimator)
    examples = (torch.zeros(_EXAMPLE_ROWS, estimator.latent_dim_),)
    model = export_module(cpu_module(estimator.net_), examples, ["noise"], ["events"], opset)
    return write_atomically(model, path)
