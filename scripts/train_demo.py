#!/usr/bin/env python
"""Train (or resume) the shipped demo generator: a StyleGAN2 that renders the cartoon-face family.

    python scripts/train_demo.py --out checkpoints/demo_faces_128.safetensors --steps 4000 --minutes 70
    python scripts/train_demo.py --out ... --resume          # continue from OUT.trainstate
    python scripts/train_demo.py --out new.safetensors --init checkpoints/demo_faces_64.safetensors \
        --resolution 64 --channel-base 2048                  # continue from the shipped weights

Settings are recorded in the checkpoint's metadata (`draggan info --json` shows the config;
the safetensors metadata has the training settings, steps, time and loss history).
"""

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from draggan.demo.faces.training import TrainSettings, evaluate, train  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="checkpoint to write (.safetensors)")
    p.add_argument("--resume", action="store_true", help="continue from OUT.trainstate if present")
    p.add_argument("--init", help="start from this native checkpoint's weights (same architecture)")
    p.add_argument("--minutes", type=float, default=None, help="stop (and save) after this much wall time")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    for f in dataclasses.fields(TrainSettings):
        if f.type in ("int", "float", "bool", "str"):
            kind = {"int": int, "float": float, "str": str,
                    "bool": lambda v: v.lower() in ("1", "true", "yes")}[f.type]
            p.add_argument("--" + f.name.replace("_", "-"), type=kind, default=f.default)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = {f.name for f in dataclasses.fields(TrainSettings)}
    settings = TrainSettings(**{k: v for k, v in vars(args).items() if k in names})
    result = train(args.out, settings, resume=args.resume, minutes=args.minutes, init=args.init)
    print(f"trained {result['steps']} steps in {result['seconds'] / 60:.1f} min, loss {result['loss']:.4f}")
    print(f"mean abs error vs the family on 64 fresh samples: {evaluate(args.out):.2f} / 255")


if __name__ == "__main__":
    main()
