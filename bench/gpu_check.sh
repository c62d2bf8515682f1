#!/usr/bin/env bash
# The GPU check (issue 15, item 8; docs/deployment.md "GPU check"): on a machine with one
# NVIDIA GPU and no network, where torch, transformers, accelerate and peft are installed.
#   bench/gpu_check.sh [WHEELS]    WHEELS: a folder of wheels for the rest (TRL included)
# 1. installs the rest from WHEELS with no index (a venv that sees the system's torch);
# 2. the per-row seed test on CUDA (the sampler's transformers backend);
# 3. bench/gpu_check.py: the gpu-1x recipe end to end with stage times and peak memory.
# Meant to finish in under 10 minutes; STEPS (default 20) sizes the RLOO stage.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=${1:-bench/wheels}
STEPS=${STEPS:-20}
VENV=${VENV:-/tmp/pairwise-gpu-venv}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv --system-site-packages "$VENV"
fi
if [ -d "$WHEELS" ]; then
  # Everything but what the machine already has (torch and the CUDA libraries above all).
  "$VENV/bin/pip" install --quiet --no-index --find-links "$WHEELS" --no-deps "$WHEELS"/*.whl
fi
"$VENV/bin/python" - <<'PY'
import accelerate, peft, torch, transformers, trl
print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__,
      "trl", trl.__version__, "peft", peft.__version__, "accelerate", accelerate.__version__)
assert torch.cuda.is_available(), "CUDA is not available to torch"
PY

echo "== sampler: per-row seeds on CUDA"
start=$(date +%s)
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/sampling/test_per_row_seeds.py
echo "per-row seeds: $(( $(date +%s) - start )) s"

echo "== gpu-1x recipe end to end (reward, RLOO with LoRA, evaluation, registration)"
timeout 540 "$VENV/bin/python" bench/gpu_check.py --steps "$STEPS"
