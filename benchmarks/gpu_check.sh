#!/usr/bin/env bash
# The GPU checks, as one script for a lent CUDA machine (never part of CI):
#   1. the CUDA tests of the suite (marker "gpu"),
#   2. the three explainers on State and Switch-Feature, all 200 test series in one batch
#      (batch_size=None), the recommended settings, on the GPU; goal: <= 10 s per method and benchmark
#      on an H100/H200 with the CPU's quality; then ExtremalMask's and ContraLSP's defaults, and DynaMask's defaults
#      against its presets on all 200 series (python -m benchmarks.defaults; the CPU measured 20: 15 s per series),
#   3. ContraLSP's seconds per step with the accelerators' triplet term (one host wait per step) and with the
#      CPU's (waits in every 2-means round) (benchmarks/gpu_variants.py --variant waits; FP32 against TF32 was
#      measured on 2026-12-04 and not kept: --variant tf32).
# The black boxes come from benchmarks/_cache (carry it: a GPU machine would otherwise train them first).
# Figures go to benchmarks/RESULTS.md and benchmarks/results/; the new ones are bundled into OUT_DIR
# (RESULTS.md, results.tgz, the logs). Usage: bash benchmarks/gpu_check.sh [OUT_DIR]
# RECOMMENDED and DEFAULTS (explainer names, space-separated) restrict step 2, e.g. RECOMMENDED="contralsp dynamask"
# DEFAULTS=contralsp when ExtremalMask's GPU path has not changed since its last run; DYNAMASK_DEFAULTS=0 skips
# DynaMask's defaults table.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-/tmp/gpu_check}}"
mkdir -p "$out"
PY="${PYTHON:-$(command -v python3 || command -v python)}"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name(0))" || exit 1
marker=$(mktemp)
"$PY" -m pytest -q -m gpu -p no:cacheprovider tests 2>&1 | tee "$out/gpu_tests.log"
for explainer in ${RECOMMENDED:-extremal_mask contralsp dynamask}; do
    "$PY" -m benchmarks --explainer "$explainer" --preset recommended --device cuda \
        --data state switch-feature --set batch_size=None 2>&1 | tee -a "$out/gpu_bench.log"
done
for explainer in ${DEFAULTS:-extremal_mask contralsp}; do
    "$PY" -m benchmarks --explainer "$explainer" --preset default --device cuda \
        --data state switch-feature --set batch_size=None 2>&1 | tee -a "$out/gpu_bench.log"
done
if [ "${DYNAMASK_DEFAULTS:-1}" = 1 ]; then
    "$PY" -m benchmarks.defaults --explainer dynamask --data state switch-feature --device cuda 2>&1 \
        | tee -a "$out/gpu_bench.log"
fi
"$PY" benchmarks/gpu_variants.py --variant waits --explainer contralsp contralsp_default 2>&1 \
    | tee "$out/gpu_variants.log"
cp benchmarks/RESULTS.md "$out/RESULTS.md"
find benchmarks/results -newer "$marker" -type f -print0 | tar czf "$out/results.tgz" --null -T -
