"""
From a fitted reweighter to weights in a C++ framework: save, export, evaluate without Python ML
================================================================================================

Weights are applied far from where they are trained. This example fits a
:class:`~skhep_reweight.DCTRReweighter` on the Gaussian pair N(0, 1) -> N(1, 1.3^2), saves it in
the package's safe format (:func:`skhep_reweight.save`, a file that runs no code when loaded),
exports it as one ONNX graph (:func:`skhep_reweight.export.to_onnx`: standardization, the
network, the clip and the ratio inside), and evaluates that graph with onnxruntime in a fresh
Python process that imports neither torch nor this package, as a C++ framework would. The weights
agree with ``predict_weights`` to float32 precision.

The same graph in C++ (onnxruntime's C++ API; link against ``libonnxruntime``)::

    #include <onnxruntime_cxx_api.h>

    Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "reweight");
    Ort::SessionOptions options;
    options.SetIntraOpNumThreads(1);
    Ort::Session session(env, "reweighter.onnx", options);

    std::vector<float> x = {...};                  // n_events * n_features, row-major
    std::array<int64_t, 2> shape = {n_events, n_features};
    auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    Ort::Value input = Ort::Value::CreateTensor<float>(memory, x.data(), x.size(),
                                                       shape.data(), shape.size());
    const char* inputs[] = {"X"};
    const char* outputs[] = {"weight"};
    auto result = session.Run(Ort::RunOptions{nullptr}, inputs, &input, 1, outputs, 1);
    const float* weight = result[0].GetTensorData<float>();   // one weight per event

(A parametrized reweighter has a second input, ``"theta"``, of shape ``{n_events,
n_parameters}``.) The C++ lines are documentation: onnxruntime's C++ library is not in this
project's package registries, so no test compiles them.

Run with ``python examples/deployment/plot_export_onnx.py``; ``SKHEP_REWEIGHT_QUICK=1`` makes it
a smoke run of seconds.
"""

# %%
# Fit, save, reload.
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import skhep_reweight
from skhep_reweight import DCTRReweighter
from skhep_reweight.datasets import make_gaussian_reweighting
from skhep_reweight.export import to_onnx

QUICK = os.environ.get("SKHEP_REWEIGHT_QUICK") == "1"  # a smoke run (the tests set it)
n_events = 2_000 if QUICK else 50_000
train = make_gaussian_reweighting(n_samples=n_events, random_state=0)
rw = DCTRReweighter(max_epochs=3 if QUICK else 100, random_state=0, device="cpu")
rw.fit(train.X, train.y)

folder = Path(tempfile.mkdtemp())
saved = skhep_reweight.save(rw, folder / "reweighter.skhep")
restored = skhep_reweight.load(saved)
events = make_gaussian_reweighting(n_samples=10_000, random_state=1).X[:10_000]
assert np.array_equal(restored.predict_weights(events), rw.predict_weights(events))

# %%
# Export, and evaluate in a process that has neither torch nor skhep_reweight.
onnx_path = to_onnx(rw, folder / "reweighter.onnx")
np.save(folder / "events.npy", events.astype(np.float32))
evaluate = f"""
import sys
import numpy as np
import onnxruntime
session = onnxruntime.InferenceSession({str(onnx_path)!r}, providers=["CPUExecutionProvider"])
(weight,) = session.run(["weight"], {{"X": np.load({str(folder / "events.npy")!r})}})
np.save({str(folder / "onnx_weights.npy")!r}, weight)
assert "torch" not in sys.modules and "skhep_reweight" not in sys.modules
"""
subprocess.run([sys.executable, "-c", evaluate], check=True)
onnx_weights = np.load(folder / "onnx_weights.npy")
python_weights = rw.predict_weights(events)
relative = np.max(np.abs(onnx_weights / python_weights - 1.0))
print(f"ONNX file: {onnx_path.stat().st_size / 1024:.1f} KiB; saved model:", end=" ")
print(f"{saved.stat().st_size / 1024:.1f} KiB; largest relative difference: {relative:.2g}")
assert relative < 1e-5

# %%
# The ONNX weights against the package's, event by event.
fig, ax = plt.subplots(figsize=(5, 4))
ax.loglog(python_weights, onnx_weights, ".", ms=2)
ax.set_xlabel("predict_weights")
ax.set_ylabel("onnxruntime")
ax.set_title(f"max relative difference {relative:.1e}")
fig.tight_layout()
fig.savefig("onnx_parity.png")
