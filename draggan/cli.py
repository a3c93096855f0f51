"""`draggan`: the one command-line entry point (GUI, info, generate, convert, edit, bench, benchmark).

checkpoint -> generator -> engine -> here. User mistakes print one clear line and
exit with status 2; nothing a user can do with a bad file prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .errors import USER_ERRORS, DragGANError


def _device(name: str | None):
    import torch
    if name:
        try:
            dev = torch.device(name)
        except RuntimeError:
            raise DragGANError(f"unknown device '{name}' (use cpu, cuda, cuda:1 or mps)") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise DragGANError("CUDA was asked for but is not available; use --device cpu")
        if dev.type == "mps" and not torch.backends.mps.is_available():
            raise DragGANError("MPS was asked for but is not available; use --device cpu")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def _load(args):
    from stylegan2 import load_generator
    from .checkpoints import resolve_checkpoint
    return load_generator(resolve_checkpoint(args.checkpoint), _device(args.device))


def cmd_info(args) -> int:
    from stylegan2 import checkpoint_info
    from .checkpoints import resolve_checkpoint
    from .engine.config import default_feature_block
    path = resolve_checkpoint(args.checkpoint)
    info = checkpoint_info(path)
    c = info.config
    blocks = c.block_resolutions
    rows = {
        "file": str(path),
        "format": info.format,
        "resolution": f"{c.img_resolution}x{c.img_resolution}, {c.img_channels} channel(s)",
        "z_dim / w_dim": f"{c.z_dim} / {c.w_dim}",
        "num_ws (W+ rows)": c.num_ws,
        "mapping layers": c.mapping_layers,
        "conditional": f"yes, c_dim={c.c_dim}" if c.c_dim else "no",
        "architecture": c.architecture,
        "channels per block": ", ".join(f"b{r}:{c.channels(r)}" for r in blocks),
        "conv_clamp / fp16 res": f"{c.conv_clamp} / {c.num_fp16_res}",
        "DragGAN feature block": f"b{default_feature_block(c.img_resolution)} "
                                 f"({c.channels(default_feature_block(c.img_resolution))} channels)",
    }
    if args.json:
        print(json.dumps({**rows, "config": c.to_dict()}, indent=2, default=str))
    else:
        width = max(map(len, rows))
        for k, v in rows.items():
            print(f"{k:<{width}}  {v}")
    return 0


def cmd_generate(args) -> int:
    import torch
    from .engine import seed_to_ws
    from .images import save_png, to_uint8
    G = _load(args)
    ws = seed_to_ws(G, args.seed, args.trunc)
    with torch.no_grad():
        img = G.synthesis(ws, noise_mode=args.noise_mode)
    save_png(args.out, to_uint8(img), {"seed": args.seed, "truncation_psi": args.trunc,
                                       "checkpoint": Path(G.cfg.extra.get("path", "")).name})
    print(f"wrote {args.out} (seed {args.seed}, psi {args.trunc}, {G.img_resolution}x{G.img_resolution})")
    return 0


def cmd_convert(args) -> int:
    from stylegan2 import load_generator, save_native
    G = load_generator(args.input, "cpu")
    out = Path(args.output)
    if out.suffix != ".safetensors":
        raise DragGANError("the native format is safetensors: name the output file *.safetensors")
    save_native(G, out, {"converted_from": Path(args.input).name, "source_format": G.cfg.extra.get("format", "")})
    print(f"wrote {out} ({G.img_resolution}x{G.img_resolution}, from {G.cfg.extra.get('format')})")
    return 0


def cmd_edit(args) -> int:
    from .headless import run_edit
    return run_edit(args, _load)


def cmd_bench(args) -> int:
    from .bench import run_bench
    return run_bench(args)


def cmd_benchmark(args) -> int:
    from .demo.benchmark import run_benchmark
    from .checkpoints import resolve_checkpoint
    if args.workers < 1:
        raise DragGANError("--workers must be at least 1")
    args.checkpoint_path = str(resolve_checkpoint(args.checkpoint))
    return run_benchmark(args, _load)


def cmd_gui(args) -> int:
    try:
        from .gui.app import run_gui
    except ImportError as e:
        raise DragGANError(f"the GUI needs its extras: pip install -e '.[gui]' ({e})") from None
    return run_gui(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="draggan", description="DragGAN editor: drag points on StyleGAN2 images. "
                                "With no command, opens the editor on the shipped demo model.")
    p.add_argument("--version", action="version", version=f"draggan-editor {__version__}")
    sub = p.add_subparsers(dest="command")

    def ckpt(sp, optional=True):
        sp.add_argument("checkpoint", nargs="?" if optional else None, default=None,
                        help="StyleGAN2 checkpoint (.pkl NVIDIA/TF, rosinality .pt, .safetensors); "
                             "default: the shipped demo model")
        sp.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: cuda if present, else cpu)")

    sp = sub.add_parser("gui", help="open the editor window")
    ckpt(sp)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--session", help="reopen a saved session (.json)")
    sp.set_defaults(func=cmd_gui)

    sp = sub.add_parser("info", help="describe a checkpoint (format, resolution, dims, blocks)")
    ckpt(sp)
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.set_defaults(func=cmd_info)

    sp = sub.add_parser("generate", help="write the image of a seed")
    ckpt(sp)
    sp.add_argument("--seed", type=int, default=0, help="NVIDIA convention: z = RandomState(seed).randn(1, z_dim)")
    sp.add_argument("--trunc", type=float, default=1.0, help="truncation psi (1 = none; 0.7 is common)")
    sp.add_argument("--noise-mode", default="const", choices=["const", "random", "none"])
    sp.add_argument("--out", default="out.png", help="output PNG")
    sp.set_defaults(func=cmd_generate)

    sp = sub.add_parser("convert", help="write a checkpoint in the native safetensors format")
    sp.add_argument("input")
    sp.add_argument("output")
    sp.set_defaults(func=cmd_convert)

    sp = sub.add_parser("edit", help="run a drag edit headless (points from a JSON file)")
    ckpt(sp)
    sp.add_argument("--seed", type=int, default=None, help="image seed (default: the points file's, else 0)")
    sp.add_argument("--trunc", type=float, default=None, help="truncation psi (default 0.7 unless the points file says)")
    sp.add_argument("--latent", help="start from a saved latent (.npy, w [1, D] or W+ [1, L, D]) instead of a seed")
    sp.add_argument("--points", required=True, help='JSON {"handles": [[x, y], ...], "targets": [[x, y], ...]}')
    sp.add_argument("--mask", help="PNG mask, white = may move (optional)")
    sp.add_argument("--out", default="result.png", help="result image; the latent, trajectory and stats go beside it")
    sp.add_argument("--video", help="also write an animation of the drag (.gif, or .mp4 with imageio-ffmpeg)")
    sp.add_argument("--steps", type=int, default=None, help="step limit (default 300)")
    sp.add_argument("--lr", type=float, default=None, help="Adam step size (default 2e-3)")
    sp.add_argument("--space", choices=["w", "w+"], default=None, help="optimise in W or W+ (default w+)")
    sp.add_argument("--layers", type=int, default=None, help="number of optimised W+ layers (default 6)")
    sp.add_argument("--r1", type=float, default=None, help="motion supervision radius, px")
    sp.add_argument("--r2", type=float, default=None, help="tracking radius, px")
    sp.add_argument("--lambda-mask", type=float, default=None, help="weight of the fixed-region term (default 20)")
    sp.add_argument("--block", type=int, default=None, help="feature block resolution (default: b128 or res/2)")
    sp.add_argument("--tracking", choices=["l1", "l2"], default=None, help="tracking distance (paper: l1)")
    sp.add_argument("--official", action="store_true", help="the authors' code's settings (L2, 2 px stop, means)")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_edit)

    sp = sub.add_parser("bench", help="steps/s and memory of the engine vs a full forward every step")
    sp.add_argument("checkpoint", nargs="?", default=None, help="checkpoint (default: the shipped demo model)")
    sp.add_argument("--synthetic", type=int, default=None, metavar="RES",
                    help="use a random-weight config-f generator at RES (256, 512, 1024) instead")
    sp.add_argument("--device", default=None)
    sp.add_argument("--steps", type=int, default=20, help="timed steps per variant")
    sp.add_argument("--warmup", type=int, default=3)
    sp.add_argument("--points", type=int, default=1, help="number of handles")
    sp.add_argument("--repeats", type=int, default=2, help="alternating rounds; the best of each variant counts")
    sp.add_argument("--json", help="also write the results to this JSON file")
    sp.set_defaults(func=cmd_bench)

    sp = sub.add_parser("benchmark", help="the paper's face-landmark experiment (Table 1) on the demo model")
    ckpt(sp)
    sp.add_argument("--quick", action="store_true", help="3 pairs (variants on 2): the CI size")
    sp.add_argument("--pairs", type=int, default=200, help="image pairs for our settings (default 200)")
    sp.add_argument("--variant-pairs", type=int, default=None, help="pairs for each variant (default: all)")
    sp.add_argument("--steps", type=int, default=300, help="step limit per edit (paper: 300)")
    sp.add_argument("--seed", type=int, default=2023, help="seed of the pair sampler")
    sp.add_argument("--trunc", type=float, default=1.0, help="truncation psi of the images")
    sp.add_argument("--json", help="write the results to this JSON file")
    sp.add_argument("--workers", type=int, default=1,
                    help="CPU processes running edits side by side (one thread each; try the core count)")
    sp.add_argument("--no-progress", action="store_true")
    sp.set_defaults(func=cmd_benchmark)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["gui", *(argv if argv is not None else sys.argv[1:])])
    try:
        return args.func(args) or 0
    except USER_ERRORS as e:
        print(f"draggan: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("draggan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
