#!/usr/bin/env bash
# Install what a fresh Debian/Ubuntu machine lacks for the editor and its tests, into the
# current Python environment (activate a virtualenv first if you use one).
# - CPU PyTorch 2.13.0 (pip), unless a torch is already installed (keep your CUDA build);
# - the package with its GUI and test extras (editable, so the shipped demo model is found);
# - Xvfb and Mesa for the GUI tests, when apt-get is available and we are root.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  pkgs="xvfb xauth libgl1-mesa-dri libegl1 libgl1 libglx-mesa0"
  missing=$(for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
  if [ -n "$missing" ]; then
    echo "installing Debian packages: $missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  fi
fi

if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install -q torch==2.13.0
fi
"$PY" -m pip install -q -e ".[gui,test]"
echo "installed: $("$PY" -c 'import torch; print("torch", torch.__version__)'), draggan at $(command -v draggan || echo '(not on PATH)')"
