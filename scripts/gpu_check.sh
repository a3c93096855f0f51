#!/usr/bin/env bash
# The prepared GPU check of issue 14, one call on a machine with CUDA, under 5 minutes:
#   1. the CUDA-only tests (tests/test_cuda.py, the fp16 synthesis test);
#   2. `draggan bench` on random config-f 512 and 1024 px generators: ours (image every 4th step) and
#      the authors' step ('official'), alternating, best of 2 rounds; steps/s, the ratio to official
#      and torch's peak GPU memory, one JSON file per size (8 processes of ~20 s: about 3 minutes).
#
#   scripts/gpu_check.sh [OUT_DIR]            # results in OUT_DIR, else $OUT (the device tool's), else ./gpu_check_out
#   scripts/gpu_check.sh --dry-run [OUT_DIR]  # no GPU needed: the same steps on CPU at 16/32 px, to test this script
#
# Without a CUDA device (and without --dry-run) it stops at once with exit status 3 and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DRY=0
if [ "${1:-}" = "--dry-run" ]; then DRY=1; shift; fi
OUT_DIR=${1:-${OUT:-gpu_check_out}}

if [ "$DRY" = 1 ]; then
  DEVICE=cpu; SIZES="16 32"; RUN="--steps 1 --warmup 0 --repeats 1 --threads 1"
  echo "gpu_check: dry run on the CPU (16 and 32 px, one step): checks the script, measures nothing"
else
  if ! "$PY" - <<'PYEOF'
import sys
try:
    import torch
except ImportError:
    sys.exit("gpu_check: PyTorch is not installed for this python")
if not torch.cuda.is_available():
    sys.exit("gpu_check: no CUDA device: torch.cuda.is_available() is False (torch %s). This check needs an "
             "NVIDIA GPU; run it on a machine with one, or use --dry-run to test the script" % torch.__version__)
print("gpu_check: %s, torch %s, CUDA %s" % (torch.cuda.get_device_name(0), torch.__version__, torch.version.cuda))
PYEOF
  then
    exit 3
  fi
  DEVICE=cuda; SIZES="512 1024"; RUN="--steps 20 --warmup 5 --repeats 2"
fi
mkdir -p "$OUT_DIR"
[ "$DRY" = 1 ] || (nvidia-smi || true) > "$OUT_DIR/nvidia_smi.txt" 2>&1

START=$(date +%s)
echo "== 1. CUDA-only tests"
# skipped (not failed) in a dry run: they need a GPU
FAILED=0
timeout 120 "$PY" -m pytest -q -rs tests/test_cuda.py "tests/test_generator.py::test_fp16_synthesis_on_cuda_matches_fp32" \
  -p no:cacheprovider 2>&1 | tee "$OUT_DIR/cuda_tests.txt" || FAILED=1  # the measurements still run

echo "== 2. draggan bench on $DEVICE: ours vs the authors' step"
for RES in $SIZES; do
  timeout 150 "$PY" -m draggan.cli bench --synthetic "$RES" --device "$DEVICE" --variants ours,official \
    $RUN --no-progress --json "$OUT_DIR/bench_${RES}.json" 2>&1 | tee "$OUT_DIR/bench_${RES}.txt" || FAILED=1
done
echo "gpu_check: done in $(( $(date +%s) - START )) s; results in $OUT_DIR$([ $FAILED = 0 ] || echo '; SOME STEPS FAILED (see above)')"
exit $FAILED
