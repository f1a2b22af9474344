#!/usr/bin/env bash
# The GPU checks, as one script for a lent CUDA machine (never part of CI):
#   1. the CUDA tests of the suite (marker "gpu"),
#   2. the three explainers on State and Switch-Feature, all 200 test series in one batch
#      (batch_size=None), the recommended settings, on the GPU; goal: <= 10 s per method and benchmark
#      on an H100/H200 with the CPU's quality,
#   3. the defaults on the same two benchmarks.
# Figures go to benchmarks/RESULTS.md and benchmarks/results/ (copy them back from $OUT when run through
# the device tool). Usage: bash benchmarks/gpu_check.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-/tmp/gpu_check}}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name(0))"
python -m pytest -q -m gpu tests 2>&1 | tee "$out/gpu_tests.log"
for explainer in extremal_mask contralsp dynamask; do
    python -m benchmarks --explainer "$explainer" --preset recommended --device cuda \
        --data state switch-feature --set batch_size=None 2>&1 | tee -a "$out/gpu_bench.log"
done
for explainer in extremal_mask contralsp; do
    python -m benchmarks --explainer "$explainer" --preset default --device cuda \
        --data state switch-feature --set batch_size=None 2>&1 | tee -a "$out/gpu_bench.log"
done
cp benchmarks/RESULTS.md "$out/RESULTS.md"
cp -r benchmarks/results "$out/results"
