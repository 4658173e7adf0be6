"""What every ONNX exporter of the package shares: the optional import, the dynamo export of a
torch module with a dynamic batch dimension, and the atomic write of one self-contained file."""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._files import atomic_file

__all__ = ["cpu_module", "export_module", "import_onnx", "write_atomically"]

# The symbolic name given to the batch dimension of every graph input and output.
BATCH = "batch"

INSTALL_HINT = 'install the optional dependencies with: pip install "skhep_reweight[onnx]"'


def import_onnx() -> Any:
    """The onnx module, or an ImportError naming the extra to install."""
    try:
        import onnx
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(f"ONNX export needs the onnx package; {INSTALL_HINT}") from error
    return onnx


def write_atomically(model: Any, path: str | os.PathLike) -> Path:
    """Save an ONNX ModelProto with all tensors inside the file: to a temporary file in the
    destination folder first, then moved in place (a failure leaves no partial file)."""
    import_onnx()
    path = Path(path)
    with atomic_file(path) as stream:
        stream.write(model.SerializeToString())
    return path


def name_batch_dimension(model: Any) -> None:
    """Call the symbolic first dimension of every graph input and output ``"batch"``."""
    symbols = {
        value.type.tensor_type.shape.dim[0].dim_param
        for value in [*model.graph.input, *model.graph.output]
        if value.type.tensor_type.shape.dim and value.type.tensor_type.shape.dim[0].dim_param
    }
    for value in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in symbols:
                dim.dim_param = BATCH


def export_module(
    module: Any,
    examples: tuple,
    input_names: Sequence[str],
    output_names: Sequence[str],
    opset: int | None,
) -> Any:
    """Export a torch module with the dynamo exporter; returns the ModelProto.

    Every input's first dimension is dynamic. The exporter's own FutureWarning about
    ``LeafSpec`` (an internal deprecation of torch.utils._pytree) is ignored: it concerns torch,
    not the exported graph.
    """
    import_onnx()
    import onnxscript  # noqa: F401  (the dynamo exporter needs it; fail early with the hint)
    import torch

    dynamic = tuple({0: torch.export.Dim.DYNAMIC} for _ in input_names)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*LeafSpec", category=FutureWarning)
        program = torch.onnx.export(
            module.eval(),
            examples,
            None,
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_shapes=dynamic,
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    model = program.model_proto
    name_batch_dimension(model)
    return model


def cpu_module(net: Any) -> Any:
    """A CPU copy of a fitted skorch net's module, in evaluation mode."""
    return copy.deepcopy(net.module_).cpu().eval()
