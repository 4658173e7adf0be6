"""The ONNX graph of a reweighter built on a user's scikit-learn classifier: skl2onnx's graph of
the classifier, with the ratio formula log f - log(1 - f) + log(prior), the clip and the
exponential appended in ONNX operators (float64)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..reweight._weights import _max_log_ratio
from ._common import BATCH, INSTALL_HINT, import_onnx

__all__ = ["sklearn_model"]

# Characters of a converter's error message quoted in the TypeError (skl2onnx's messages can
# hold whole attribute arrays).
_REASON_CHARS = 120

# The smallest default-domain opset of a graph assembled around skl2onnx's (the tail's
# operators: Gather, Cast, Log, Sub, Add, Min, Max, Exp, Concat).
_MIN_SKLEARN_OPSET = 13


# ------------------------------------------------------- a user's scikit-learn classifier
def _convert_classifier(classifier: Any, n_inputs: int, opset: int | None) -> Any:
    """skl2onnx's graph of ``classifier`` (input ``"X_classifier"``, output ``"probabilities"``),
    in float64 when onnxruntime accepts the converted graph, float32 otherwise."""
    try:
        import onnxruntime
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"exporting a scikit-learn classifier needs skl2onnx and onnxruntime; {INSTALL_HINT}"
        ) from error
    from sklearn.pipeline import Pipeline

    final = classifier.steps[-1][1] if isinstance(classifier, Pipeline) else classifier
    options = {id(final): {"zipmap": False}}
    errors = []
    for tensor_type in (DoubleTensorType, FloatTensorType):
        try:
            model = convert_sklearn(
                classifier,
                initial_types=[("X_classifier", tensor_type([None, n_inputs]))],
                options=options,
                target_opset=opset,
            )
            onnxruntime.InferenceSession(
                model.SerializeToString(), providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # skl2onnx and onnxruntime raise many types
            errors.append(_short_reason(error))
            continue
        return model
    raise TypeError(
        f"classifier {type(classifier).__name__}: skl2onnx has no working "
        f"ONNX converter for it ({'; '.join(dict.fromkeys(errors))}); use the built-in "
        "network to export"
    )


def _short_reason(error: BaseException) -> str:
    """One line on why a conversion failed: the error's first line, cut, and its cause."""
    lines = str(error).splitlines() or [""]
    reason = f"{type(error).__name__}: {lines[0][:_REASON_CHARS]}"
    if error.__cause__ is not None:
        reason += f", caused by {type(error.__cause__).__name__}: {error.__cause__}"
    return reason


class _GraphParts:
    """Nodes, initializers and opset versions of an ONNX graph being assembled."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.initializers: list = []
        self.opsets: dict[str, int] = {"": _MIN_SKLEARN_OPSET}
        self.ir_version = 0

    def constant(self, name: str, value: Any, dtype: Any = np.float64) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def clip(self, value: str, bound: float, prefix: str) -> str:
        """min(max(value, -bound), bound) in float64."""
        upper = self.constant(f"{prefix}upper", bound)
        lower = self.constant(f"{prefix}lower", -bound)
        below = self.node("Min", [value, upper], f"{prefix}below")
        return self.node("Max", [below, lower], f"{prefix}clipped")

    def add_model(self, model: Any) -> None:
        """Take over a converted model's nodes, initializers and opset versions."""
        self.nodes.extend(model.graph.node)
        self.initializers.extend(model.graph.initializer)
        for entry in model.opset_import:
            self.opsets[entry.domain] = max(self.opsets.get(entry.domain, 0), entry.version)
        self.ir_version = max(self.ir_version, model.ir_version)


def _sklearn_log_ratio(
    parts: _GraphParts, reweighter: Any, features: str, prefix: str, opset: int | None
) -> str:
    """Append the clipped log-ratio of a DCTRReweighter's scikit-learn classifier, computed from
    the float32 tensor ``features``; returns the name of the float64 result."""
    onnx = import_onnx()
    from onnx import TensorProto

    classifier = reweighter.classifier_
    n_inputs = int(reweighter.n_features_in_) + int(reweighter.n_parameters_)
    model = onnx.compose.add_prefix(_convert_classifier(classifier, n_inputs, opset), prefix)
    (classifier_input,) = model.graph.input
    parts.node(
        "Cast", [features], classifier_input.name, to=classifier_input.type.tensor_type.elem_type
    )
    parts.add_model(model)
    column = int(np.flatnonzero(np.asarray(classifier.classes_) == 1)[0])
    index = parts.constant(f"{prefix}column", column, np.int64)
    f = parts.node("Gather", [f"{prefix}probabilities", index], f"{prefix}f_raw", axis=1)
    f = parts.node("Cast", [f], f"{prefix}f", to=TensorProto.DOUBLE)
    log_f = parts.node("Log", [f], f"{prefix}log_f")
    one_minus_f = parts.node("Sub", [parts.constant(f"{prefix}one", 1.0), f], f"{prefix}1_f")
    log_one_minus_f = parts.node("Log", [one_minus_f], f"{prefix}log_1_f")
    logit = parts.node("Sub", [log_f, log_one_minus_f], f"{prefix}logit")
    log_prior = parts.constant(f"{prefix}log_prior", np.log(reweighter.prior_ratio_))
    raw = parts.node("Add", [logit, log_prior], f"{prefix}log_ratio")
    return parts.clip(raw, _max_log_ratio(reweighter.proba_clip), prefix)


def sklearn_model(estimator: Any, opset: int | None) -> Any:
    """A reweighter whose classifiers are scikit-learn's: skl2onnx's graphs, each behind a cast
    of the float32 input, with the ratio, the clips and the exponential appended."""
    onnx = import_onnx()
    from onnx import TensorProto, helper

    from ..reweight import DCTRReweighter

    parts = _GraphParts()
    n_features = int(estimator.n_features_in_)
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [BATCH, n_features])]
    if isinstance(estimator, DCTRReweighter):
        features = "X"
        if estimator.n_parameters_:
            shape = [BATCH, int(estimator.n_parameters_)]
            inputs.append(helper.make_tensor_value_info("theta", TensorProto.FLOAT, shape))
            features = parts.node("Concat", ["X", "theta"], "X_theta", axis=1)
        log_ratio = _sklearn_log_ratio(parts, estimator, features, "dctr_", opset)
    else:
        bound = _max_log_ratio(estimator.proba_clip)
        if estimator.method == "ratio":
            s = _sklearn_log_ratio(parts, estimator.joint_reweighter_, "X", "joint_", opset)
            index = parts.constant("conditional_index", estimator.conditional_index_, np.int64)
            columns = parts.node("Gather", ["X", index], "X_conditional", axis=1)
            g = _sklearn_log_ratio(parts, estimator.marginal_reweighter_, columns, "marg_", opset)
            h = parts.node("Sub", [s, g], "h_raw")
        else:
            second = estimator.conditional_reweighter_
            h = _sklearn_log_ratio(parts, second, "X", "second_", opset)
        log_ratio = parts.clip(h, bound, "h_")
    parts.node("Exp", [log_ratio], "weight")
    output = helper.make_tensor_value_info("weight", TensorProto.DOUBLE, [BATCH])
    graph = helper.make_graph(
        parts.nodes, "skhep_reweight", inputs, [output], initializer=parts.initializers
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(d, v) for d, v in parts.opsets.items()],
        ir_version=parts.ir_version,
        producer_name="skhep_reweight",
    )
    onnx.checker.check_model(model)
    return model


# ----------------------------------------------------------------------------------- GAN
