#!/usr/bin/env python
"""The paper's face-landmark benchmark (Table 1 protocol) on the demo model; same as `draggan benchmark`.

    python scripts/benchmark_landmarks.py --quick                 # CI size
    python scripts/benchmark_landmarks.py --pairs 200 --json out/landmarks.json
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from draggan.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["benchmark", *sys.argv[1:]]))
