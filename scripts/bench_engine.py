#!/usr/bin/env python
"""Engine steps/s and peak memory, ours vs a full forward and the authors' step; same as `draggan bench`.

    python scripts/bench_engine.py --synthetic 256          # random-weight config-f generator
    python scripts/bench_engine.py path/to/model.pkl --device cuda --variants ours,official
    python scripts/bench_engine.py --suite --threads 1 --json speed.json   # the README's table
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from draggan.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
