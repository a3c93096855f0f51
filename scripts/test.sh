#!/usr/bin/env bash
# Run the whole test suite; GUI tests get a virtual screen from xvfb-run when there is no display.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run -a -s "-screen 0 1280x800x24 -noreset" "$PY" -m pytest "$@"
fi
exec "$PY" -m pytest "$@"
