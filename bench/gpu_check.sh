#!/usr/bin/env bash
# The checks that need a CUDA device, as one script for a machine with a GPU (run from the
# repository root; results and logs go to $OUT, default ./gpu_check_out):
#   1. the tests marked for a GPU (training on cuda, unpickling a cuda model on a CPU-only machine);
#   2. one training timed on the GPU against the CPU of the same machine, and the overhead of
#      DCTRReweighter.fit against a plain PyTorch loop on the GPU (bench_training_overhead.py);
#   3. the whole fast suite with device="auto" resolving to cuda, in parallel, for as long as
#      SUITE_SECONDS allows (each test's result is logged as it finishes).
# Missing Python packages can be installed from wheels in .whl/ (see the device notes).
set -uo pipefail
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
SUITE_SECONDS=${SUITE_SECONDS:-300}
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUT/gpu.txt"
python3 -c "import torch, skorch, sklearn; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'skorch', skorch.__version__, 'sklearn', sklearn.__version__)" | tee -a "$OUT/gpu.txt"

echo "== 1. GPU tests"
python3 -m pytest -p no:cacheprovider -p no:benchmark -W ignore::DeprecationWarning -q -rs -k "gpu or cuda" \
    tests/test_common.py tests/test_gaussian_ansatz.py tests/test_ot.py tests/test_persist.py \
    tests/test_nn.py 2>&1 | tee "$OUT/gpu_tests.log"

if [ -z "${SKIP_TIMING:-}" ]; then
echo "== 2. one training, GPU against this machine's CPU"
python3 - <<'PY' 2>&1 | tee "$OUT/timing.txt"
import time, numpy as np, torch
from skhep_reweight import DCTRReweighter
from skhep_reweight.datasets import make_gaussian_reweighting
import os
DEVICES = os.environ.get("DEVICES", "cuda cpu cuda").split()
N = int(os.environ.get("N_EVENTS", 200_000))
data = make_gaussian_reweighting(n_samples=N, random_state=0)
test = make_gaussian_reweighting(n_samples=50_000, random_state=1)
print(f"{len(data.y)} events, DCTRReweighter(max_epochs=5, early_stopping=False), torch threads {torch.get_num_threads()}")
for device in DEVICES:
    for batch in (1024, 8192):
        rw = DCTRReweighter(max_epochs=5, early_stopping=False, batch_size=batch, device=device, random_state=0)
        t0 = time.perf_counter(); rw.fit(data.X, data.y); torch.cuda.is_available() and torch.cuda.synchronize(); fit = time.perf_counter() - t0
        t0 = time.perf_counter(); w = rw.predict_weights(test.X); pred = time.perf_counter() - t0
        src = test.y == 0
        err = np.median(np.abs(w[src] / test.exact_weights[src] - 1)) if hasattr(test, "exact_weights") else float("nan")
        print(f"{device:5s} batch {batch:5d}: fit {fit:6.2f} s ({fit / 5:5.2f} s/epoch), predict {len(test.y)} events {pred * 1e3:6.1f} ms, median |w/w_exact-1| {err:.3f}")
PY
timeout 150 python3 bench/bench_training_overhead.py --device cuda --threads 0 --sections timing \
    --repeats 2 --batch-sizes 1024 8192 --output-dir "$OUT" 2>&1 | tail -25 | tee "$OUT/overhead.txt"
fi

echo "== 3. the fast suite on cuda (device='auto'), ${SUITE_SECONDS} s at most"
OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 timeout "$SUITE_SECONDS" python3 -m pytest -p no:cacheprovider -p no:benchmark -W ignore::DeprecationWarning \
    -n 12 -v --timeout 240 --maxfail 30 tests > "$OUT/suite.log" 2>&1
echo "suite exit $?"
grep -E "FAILED|ERROR" "$OUT/suite.log" | head -40
grep -c PASSED "$OUT/suite.log"
tail -3 "$OUT/suite.log"
