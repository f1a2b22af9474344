#!/usr/bin/env bash
# Create (or refresh) benchmarks/tint_bridge/.venv: an isolated environment holding the
# reference library time-interpret (import name `tint`) 0.3.0, so that it is never a
# dependency of sklearn_tsmask.  Idempotent: re-running only installs what is missing.
#
# Pins (see README.md for why):
#   torch==2.13.0          the CPU wheel in /opt/wheels, installed FIRST and then held by a
#                          constraints file so pip can never pull another (CUDA) torch build.
#   time-interpret==0.3.0  the reference library.
#   pytorch-lightning==1.9.5  tint's DynaMask adds its size/time regularisers in
#                          `training_step_end`, a hook pytorch-lightning 2.x no longer calls:
#                          under 2.x the regularisers are silently skipped.  1.9.5 is the
#                          version the SPEC's reference figures were measured with.
#   setuptools<81          pytorch-lightning 1.9.5 (lightning_fabric) imports pkg_resources,
#                          which setuptools 81+ no longer ships.
#
# Usage: bash benchmarks/tint_bridge/setup_venv.sh   [PYTHON=python3.11 to choose the interpreter]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
PY="${PYTHON:-python3}"

TORCH_VERSION="2.13.0"
TINT_VERSION="0.3.0"
PL_VERSION="1.9.5"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[tint_bridge] creating $VENV with $("$PY" --version 2>&1)"
    "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"

# Never touch the system site-packages: everything below goes through the venv's own pip.
case "$("$VPY" -c 'import sys; print(sys.prefix)')" in
    "$VENV") ;;
    *) echo "[tint_bridge] ERROR: $VPY is not inside $VENV" >&2; exit 1 ;;
esac

CONSTRAINTS="$VENV/constraints.txt"
cat > "$CONSTRAINTS" <<EOF
torch==$TORCH_VERSION
pytorch-lightning==$PL_VERSION
time-interpret==$TINT_VERSION
setuptools<81
EOF

PIP=("$VPY" -m pip --disable-pip-version-check -q)

# 1. torch first (from /opt/wheels via pip's find-links), so nothing later can resolve a
#    different torch.
if ! "$VPY" -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$TORCH_VERSION' else 1)" 2>/dev/null; then
    "${PIP[@]}" install -c "$CONSTRAINTS" "torch==$TORCH_VERSION"
fi

# 2. tint and its pinned companions (no-op when already satisfied).
"${PIP[@]}" install -c "$CONSTRAINTS" \
    "setuptools<81" \
    "pytorch-lightning==$PL_VERSION" \
    "time-interpret==$TINT_VERSION"

# 3. Smoke test: import everything the runner needs and print the versions.
"$VPY" -W ignore - <<'EOF'
import importlib.metadata as md
import torch, numpy, captum, pytorch_lightning, tint
from tint.attr import DynaMask, ExtremalMask
from tint.attr.models import MaskNet, ExtremalMaskNet
from tint.models import MLP, RNN
for name in ["time-interpret", "torch", "pytorch-lightning", "captum", "numpy", "scipy",
             "scikit-learn", "pandas", "setuptools"]:
    print(f"[tint_bridge] {name}=={md.version(name)}")
assert torch.__version__.split("+")[0] == "2.13.0", torch.__version__
assert pytorch_lightning.__version__ == "1.9.5", pytorch_lightning.__version__
print("[tint_bridge] OK: venv ready")
EOF
