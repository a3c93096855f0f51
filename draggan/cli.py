"""`draggan`: the one command-line entry point (GUI, info, generate, convert, edit, invert, bench, benchmark).

checkpoint -> generator -> engine -> here. This module alone reads argparse: each
`cmd_*` turns its flags into typed values and calls a library function
(`headless.edit`, `inverting.invert`, `bench.run_bench`, `demo.benchmark.run_benchmark`, `gui.app.run_gui`);
nothing imports this module. Every number is checked as it is parsed (finite, in
range), every output before the work starts. User mistakes print one line,
"draggan: error: ...", and exit with status 2; nothing a user can type or hand
over as a file prints a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .errors import USER_ERRORS, DragGANError
from .limits import (DEFAULT_TRUNCATION, LAMBDA_MASK_MAX, LR_MAX, MAX_BLOCK, MAX_LAYERS, MAX_PAIRS, MAX_REPEATS, MAX_STEPS, MAX_WORKERS,
                     TRUNCATION_RANGE, brief, check_float, check_int, check_seed)
from .animation import DEFAULT_SIZE as DEFAULT_VIDEO_SIZE
from .points import MAX_POINTS


class UsageError(DragGANError):
    """A command line argparse refused (unknown flag, missing argument, bad number)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage + message and exits; we want one line from main()
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _typed(parse, check, expected: str):
    """An argparse `type=`: parse the text, then check the value; a refusal names what is expected."""
    def convert(text: str):
        try:
            value = parse(text.strip())
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"expected {expected}, got '{brief(text)}'") from None
        try:
            return check(value)
        except DragGANError as e:
            raise argparse.ArgumentTypeError(str(e).strip()) from None
    return convert


def _int(lo: int, hi: int):
    return _typed(int, lambda v: check_int(v, "", lo, hi), f"a whole number in [{lo}, {hi}]")


def _float(lo: float | None = None, hi: float | None = None, lo_open: bool = False):
    return _typed(float, lambda v: check_float(v, "", lo, hi, lo_open), "a number")


SEED = _typed(int, lambda v: check_seed(v, ""), "a whole number in [0, 2^32)")
TRUNCATION = _float(*TRUNCATION_RANGE)


def _synthetic(text: str) -> int:
    from .bench import check_synthetic_resolution
    return _typed(int, check_synthetic_resolution, "a power of two from 16 to 1024")(text)


def _variants(text: str) -> tuple[str, ...]:
    from .bench import VARIANTS, parse_variants
    names = parse_variants(text)
    unknown = [v for v in names if v not in VARIANTS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"expected names from {','.join(VARIANTS)}, got '{brief(text)}'")
    return names


def _load(checkpoint, device: str | None):
    """Load `checkpoint` (a resolved path) on the device the user asked for."""
    from stylegan2 import load_generator
    from .devices import choose_device
    return load_generator(checkpoint, choose_device(device))


def cmd_info(args) -> int:
    import json
    from stylegan2 import StyleGAN3Config, checkpoint_info
    from .checkpoints import resolve_checkpoint
    from .engine.config import default_feature_block
    path = resolve_checkpoint(args.checkpoint)
    info = checkpoint_info(path)
    c = info.config
    height, width = c.img_resolution, c.img_width
    rows = {
        "file": str(path),
        "format": info.format,
        "family": info.family + ("" if width == height else " (rectangular: detected from the const and "
                                                             "noise tensor shapes)"),
        "resolution": f"{height}x{width} (HxW){'' if width == height else ', rectangular'}, "
                      f"{c.img_channels} channel(s)",
        "z_dim / w_dim": f"{c.z_dim} / {c.w_dim}",
        "num_ws (W+ rows)": c.num_ws,
        "mapping layers": c.mapping_layers,
        "conditional": f"yes, c_dim={c.c_dim}" if c.c_dim else "no",
    }
    if isinstance(c, StyleGAN3Config):
        rows.update({
            "config": f"{'R: 1x1 convs, radial down filters' if c.use_radial_filters else 'T: 3x3 convs'}, "
                      f"channel_base={c.channel_base}, channel_max={c.channel_max}",
            "conv_clamp / fp16 res": f"{c.conv_clamp} / {c.num_fp16_res}",
            "margin / output scale": f"{c.margin_size} px / {c.output_scale}",
            "layers": "index: name (map side = image part + 2 x margin)",
        })
        for s in c.layer_specs():
            rows[f"  L{s.index}"] = (f"{s.name}: {s.out_size}x{s.out_size} = {s.out_sampling_rate} + 2x{s.margin}, "
                                     f"{s.out_channels} ch, up {s.up_factor} / down {s.down_factor}")
    else:
        blocks = c.block_resolutions
        sizes = {r: c.block_size(r) for r in blocks}
        rows.update({
            "architecture": c.architecture,
            "layers": ", ".join(f"b{r}:{sizes[r][0]}x{sizes[r][1]}x{c.channels(r)}" for r in blocks)
                      + "  (block: HxWxchannels)",
            "conv_clamp / fp16 res": f"{c.conv_clamp} / {c.num_fp16_res}",
            "DragGAN feature block": f"b{default_feature_block(c.img_resolution)} "
                                     f"({c.channels(default_feature_block(c.img_resolution))} channels)",
        })
    if args.json:
        print(json.dumps({**rows, "config": c.to_dict()}, indent=2, default=str))
    else:
        width = max(map(len, rows))
        for k, v in rows.items():
            print(f"{k:<{width}}  {v}")
    return 0


def cmd_generate(args) -> int:
    import torch
    from .checkpoints import resolve_checkpoint
    from .devices import choose_device
    from .engine import seed_to_ws
    from .images import save_png, to_uint8
    from .outputs import check_output, write_output
    checkpoint = resolve_checkpoint(args.checkpoint)
    choose_device(args.device)
    out = check_output(args.out, (".png",), "image", inputs=[checkpoint])
    G = _load(checkpoint, args.device)
    ws = seed_to_ws(G, args.seed, args.trunc)
    with torch.no_grad():
        img = G.synthesis(ws, noise_mode=args.noise_mode)
    if not torch.isfinite(img).all():
        raise DragGANError(f"the model produced NaN or infinity for seed {args.seed} at truncation psi "
                           f"{args.trunc:g}; is the checkpoint damaged?")
    pixels = to_uint8(img)
    info = {"seed": args.seed, "truncation_psi": args.trunc, "checkpoint": Path(G.cfg.extra.get("path", "")).name}
    write_output(out, lambda p: save_png(p, pixels, info))
    none = " (none)" if args.trunc == 1 else ""
    print(f"wrote {out} (seed {args.seed}, truncation psi {args.trunc:g}{none}, "
          f"{G.img_resolution}x{G.img_resolution})")
    return 0


def cmd_convert(args) -> int:
    from stylegan2 import load_generator, save_native
    from .outputs import check_output, write_output
    source = Path(args.input)
    out = check_output(args.output, (".safetensors",), "converted checkpoint (native format)", inputs=[source])
    G = load_generator(source, "cpu")
    meta = {"converted_from": source.name, "source_format": G.cfg.extra.get("format", "")}
    write_output(out, lambda p: save_native(G, p, meta))
    print(f"wrote {out} ({G.img_resolution}x{G.img_resolution}, from {G.cfg.extra.get('format')})")
    return 0


def _radius(value: float | None, resolution: int, flag: str) -> float | None:
    """A radius beyond the image searches nothing more but allocates (2r+1)^2 positions: clamp it."""
    if value is None or value <= resolution:
        return value
    print(f"note: {flag} {value:g} px is larger than the {resolution}x{resolution} image; using {resolution} px")
    return float(resolution)


def cmd_edit(args) -> int:
    from .checkpoints import resolve_checkpoint
    from .devices import choose_device
    from .engine import DragConfig, official_config, paper_config, seed_to_ws
    from .headless import EditOutputs, edit, load_latent, result_table
    from .points_file import read_mask, read_points
    pts = read_points(args.points)  # a bad points file fails before the model loads
    mask_path = args.mask if args.mask is not None else pts.mask
    checkpoint = resolve_checkpoint(args.checkpoint)
    choose_device(args.device)
    outputs = EditOutputs.beside(args.out, args.video, inputs=[args.points, mask_path, args.latent, checkpoint],
                                 compare=args.compare)
    G = _load(checkpoint, args.device)
    res = G.img_resolution  # the height: radii and presets scale with it
    size = G.img_size  # (H, W)
    handles, targets = pts.scaled(size)
    changes = {k: v for k, v in dict(
        max_steps=args.steps, lr=args.lr, latent_space=args.space, num_optimized_layers=args.layers,
        r1=_radius(args.r1, res, "--r1"), r2=_radius(args.r2, res, "--r2"), lambda_mask=args.lambda_mask,
        feature_block=args.block, tracking_distance=args.tracking).items() if v is not None}
    if args.official and args.paper:
        raise DragGANError("choose one of --official (the authors' code) and --paper (the paper's text)")
    preset = official_config if args.official else (paper_config if args.paper else None)
    config = preset(res, **changes) if preset else DragConfig(**changes)
    config.resolved(res, G.synthesis.block_resolutions, G.family)  # a block this model lacks fails now, in one line
    mask = read_mask(mask_path, size) if mask_path is not None else None
    if args.latent is not None:
        if args.seed is not None or args.trunc is not None:
            print(f"note: --seed and --trunc are ignored: the edit starts from the latent {args.latent}")
        ws = load_latent(args.latent, G)
        origin = {"latent": str(args.latent)}
    else:
        seed = args.seed if args.seed is not None else (pts.seed if pts.seed is not None else 0)
        psi = args.trunc if args.trunc is not None else (
            pts.truncation_psi if pts.truncation_psi is not None else DEFAULT_TRUNCATION)
        ws = seed_to_ws(G, seed, psi, label=config.label)
        origin = {"seed": seed, "truncation_psi": psi}
    extra = {"points_file": str(args.points), "mask": None if mask_path is None else str(mask_path),
             "ignored_points_keys": list(pts.ignored_keys)}
    run = edit(G, ws, handles, targets, config, outputs, mask=mask, origin=origin,
               progress=not args.no_progress, extra=extra, video_size=args.video_size,
               video_points=not args.no_points)
    r = run.result
    print(result_table(run))
    print("wrote " + ", ".join(map(str, outputs.paths())))
    if r.error:  # the files hold the last good latent; the exit status says the edit did not finish
        print(f"draggan: error: the edit stopped after {r.step} steps: {r.error}", file=sys.stderr)
        return 1
    return 0


def _box(text: str) -> tuple[float, float, float, float]:
    """--box X0,Y0,X1,Y1: a crop rectangle in picture pixels (inside-ness is checked against the picture)."""
    parts = text.replace(" ", "").split(",")
    try:
        values = tuple(check_float(float(v), "a crop box coordinate", 0.0) for v in parts)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"expected X0,Y0,X1,Y1 in picture pixels, got '{brief(text)}'") from None
    except DragGANError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"expected four numbers X0,Y0,X1,Y1, got '{brief(text)}'")
    return values


def cmd_invert(args) -> int:
    from .checkpoints import resolve_checkpoint
    from .devices import choose_device
    from .engine.inversion import PTI_STEPS, WPLUS_STEPS, InversionConfig
    from .engine.perceptual import parse_loss
    from .inverting import InvertOutputs, invert, summary
    from .photo import fit_to_model, load_photo
    checkpoint = resolve_checkpoint(args.checkpoint)
    choose_device(args.device)
    wplus = args.w_plus_steps if args.w_plus_steps is not None else (WPLUS_STEPS if args.w_plus else 0)
    pti = args.pti_steps if args.pti_steps is not None else (PTI_STEPS if args.pti else 0)
    changes = {k: v for k, v in dict(w_steps=args.steps, loss=args.loss, seed=args.seed).items() if v is not None}
    config = InversionConfig(wplus_steps=wplus, pti_steps=pti, **changes)  # a bad loss fails here, in one line
    outputs = InvertOutputs.beside(args.out, pti=pti > 0, inputs=[args.image, checkpoint])
    photo = load_photo(args.image)  # a bad picture fails before the model loads
    for note in photo.notes:
        print(f"note: {note}")
    G = _load(checkpoint, args.device)
    notes = list(photo.notes)
    target = fit_to_model(photo.rgb, G.img_size, args.box, notes)
    for note in notes[len(photo.notes):]:
        print(f"note: {note}")
    D = None
    if "d" in [name for _, name in parse_loss(config.loss)]:
        from stylegan2 import load_discriminator
        D = load_discriminator(checkpoint, G.device)
    extra = {"image": str(args.image), "box": list(args.box) if args.box else "centre", "notes": notes}
    run = invert(G, target, config, outputs, D=D, progress=not args.no_progress, extra=extra)
    print(summary(run))
    print("wrote " + ", ".join(map(str, run.outputs.paths())))
    return 0


def cmd_bench(args) -> int:
    from .bench import VARIANTS, BenchOptions, run_bench
    run_bench(BenchOptions(checkpoint=args.checkpoint, synthetic=args.synthetic, family=args.family,
                           device=args.device,
                           steps=args.steps, warmup=args.warmup, points=args.points, repeats=args.repeats,
                           variants=args.variants or tuple(VARIANTS), image_every=args.image_every, threads=args.threads,
                           suite=args.suite, json_out=args.json, progress=not args.no_progress))
    return 0


def cmd_benchmark(args) -> int:
    from .checkpoints import resolve_checkpoint
    from .demo.benchmark import run_benchmark
    from .devices import choose_device
    from .outputs import check_output
    checkpoint = resolve_checkpoint(args.checkpoint)
    choose_device(args.device)
    if args.json is not None:
        check_output(args.json, (".json",), "results file", inputs=[checkpoint])
    pairs, variant_pairs = (3, 2) if args.quick else (args.pairs, args.variant_pairs)
    real_steps = None
    if args.real_steps is not None and not args.real:
        raise DragGANError("--real-steps sets the inversion of --real; add --real")
    if args.real:
        from .demo.real_benchmark import REAL_STEPS
        real_steps, variant_pairs = tuple(args.real_steps or REAL_STEPS), None if args.quick else variant_pairs
    G = _load(checkpoint, args.device)
    run_benchmark(G, pairs=pairs, variant_pairs=variant_pairs, max_steps=args.steps, seed=args.seed,
                  psi=args.trunc, workers=args.workers, checkpoint=str(checkpoint), json_out=args.json,
                  progress=not args.no_progress, real_steps=real_steps)
    return 0


def cmd_gui(args) -> int:
    from .devices import choose_device
    device = str(choose_device(args.device))  # before the window opens
    try:
        from .gui.app import GuiOptions, run_gui
    except ImportError as e:
        raise DragGANError(f"the GUI needs its extras: pip install -e '.[gui]' ({e})") from None
    return run_gui(GuiOptions(checkpoint=args.checkpoint, session=args.session, device=device, seed=args.seed))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="draggan", description="DragGAN editor: drag points on StyleGAN2 images. "
                "With no command, opens the editor on the shipped demo model.")
    p.add_argument("--version", action="version", version=f"draggan-editor {__version__}")
    sub = p.add_subparsers(dest="command")

    def ckpt(sp, optional=True):
        sp.add_argument("checkpoint", nargs="?" if optional else None, default=None,
                        help="StyleGAN2 checkpoint (.pkl NVIDIA/TF, rosinality .pt, .safetensors); "
                             "default: the shipped demo model")
        sp.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: cuda if present, else cpu)")

    seed_help = "image seed in [0, 2^32), NVIDIA's convention: z = RandomState(seed).randn(1, z_dim)"
    sp = sub.add_parser("gui", help="open the editor window")
    ckpt(sp)
    sp.add_argument("--seed", type=SEED, default=0, help=seed_help)
    sp.add_argument("--session", help="reopen a saved session (.json)")
    sp.set_defaults(func=cmd_gui)

    sp = sub.add_parser("info", help="describe a checkpoint (format, resolution, dims, blocks)")
    ckpt(sp)
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.set_defaults(func=cmd_info)

    sp = sub.add_parser("generate", help="write the image of a seed")
    ckpt(sp)
    sp.add_argument("--seed", type=SEED, default=0, help=seed_help)
    sp.add_argument("--trunc", type=TRUNCATION, default=DEFAULT_TRUNCATION,
                    help=f"truncation psi in [-2, 2] (default {DEFAULT_TRUNCATION}, as `draggan edit` and the editor; "
                         "1 = none)")
    sp.add_argument("--noise-mode", default="const", choices=["const", "random", "none"])
    sp.add_argument("--out", default="out.png", help="output PNG")
    sp.set_defaults(func=cmd_generate)

    sp = sub.add_parser("convert", help="write a checkpoint in the native safetensors format")
    sp.add_argument("input")
    sp.add_argument("output", help="the new checkpoint, *.safetensors")
    sp.set_defaults(func=cmd_convert)

    sp = sub.add_parser("edit", help="run a drag edit headless (points from a JSON file)")
    ckpt(sp)
    sp.add_argument("--seed", type=SEED, default=None,
                    help="image seed in [0, 2^32) (default: the points file's, else 0)")
    sp.add_argument("--trunc", type=TRUNCATION, default=None,
                    help=f"truncation psi in [-2, 2] (default {DEFAULT_TRUNCATION}, as `draggan generate` and the "
                         "editor, unless the points file says)")
    sp.add_argument("--latent", help="start from a saved latent (.npy, w [1, D] or W+ [1, L, D]) instead of a seed")
    sp.add_argument("--points", required=True, help='JSON {"handles": [[x, y], ...], "targets": [[x, y], ...]}')
    sp.add_argument("--mask", help="PNG mask, white = may move (optional)")
    sp.add_argument("--out", default="result.png", help="result image; the latent, trajectory and stats go beside it")
    sp.add_argument("--video", help="also write an animation of the drag (.gif, or .mp4 with imageio-ffmpeg): "
                    "scaled up, with handles (red), targets (blue) and the tracked trail drawn")
    sp.add_argument("--video-size", type=_int(16, 8192), default=DEFAULT_VIDEO_SIZE,
                    metavar="PX", help=f"long side of the animation and --compare image, at least this many px "
                                       f"(whole-pixel scaling; default {DEFAULT_VIDEO_SIZE})")
    sp.add_argument("--no-points", action="store_true", help="draw no points or trail on the animation")
    sp.add_argument("--compare", metavar="PNG", help="also write the start and the result side by side, points drawn")
    sp.add_argument("--steps", type=_int(1, MAX_STEPS), default=None, help="step limit (default 300)")
    sp.add_argument("--lr", type=_float(0, LR_MAX, lo_open=True), default=None,
                    help=f"Adam step size in (0, {LR_MAX:g}]: in units of the model's W spread (default 0.02; "
                         "docs/METHOD-NOTES.md); absolute, as the paper's 2e-3, with --official or --paper")
    sp.add_argument("--space", choices=["w", "w+"], default=None, help="optimise in W or W+ (default w+)")
    sp.add_argument("--layers", type=_int(1, MAX_LAYERS), default=None,
                    help="number of optimised W+ layers (default 6)")
    sp.add_argument("--r1", type=_float(0, lo_open=True), default=None,
                    help="motion supervision radius, px (at most the image size)")
    sp.add_argument("--r2", type=_float(0, lo_open=True), default=None,
                    help="tracking radius, px (at most the image size)")
    sp.add_argument("--lambda-mask", type=_float(0, LAMBDA_MASK_MAX), default=None,
                    help="weight of the fixed-region term (default 0.25; --paper and --official: 20)")
    sp.add_argument("--block", type=_int(4, MAX_BLOCK), default=None,
                    help="feature block resolution (default: b128 or res/2)")
    sp.add_argument("--tracking", choices=["l1", "l2"], default=None, help="tracking distance (paper: l1)")
    sp.add_argument("--official", action="store_true",
                    help="the authors' code step for step (b128, no radius floor, lr 1e-3, per-handle means summed, "
                         "L2 tracking, 2 px stop; README: The method). Below 128 px give --block, below 86 px --r1")
    sp.add_argument("--paper", action="store_true",
                    help="the paper's settings as written (b128, r1 = 3 and r2 = 12 at 512 px, lr 2e-3, lambda 20, "
                         "L1 tracking, losses summed as eq. 1). Below 128 px give --block, below 86 px --r1")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_edit)

    sp = sub.add_parser("invert", help="turn your own picture into a latent (and a tuned generator) to edit")
    ckpt(sp)
    sp.add_argument("--image", required=True, help="the picture (PNG, JPEG, ...); centre-cropped to the model's "
                    "aspect and resized, unless --box says where")
    sp.add_argument("--box", type=_box, default=None, metavar="X0,Y0,X1,Y1",
                    help="crop this rectangle of the picture (pixels) instead of the centre")
    sp.add_argument("--out", default="inverted.png", help="the reconstruction (PNG at model size); the latent "
                    "(.latent.npy), report (.json) and, with --pti, the tuned generator (.generator.safetensors) "
                    "go beside it")
    sp.add_argument("--steps", type=_int(1, MAX_STEPS), default=None,
                    help="W projection steps (default 1000, NVIDIA's projector)")
    sp.add_argument("--w-plus", action="store_true", help="refine per layer (W+) after W: a closer fit")
    sp.add_argument("--w-plus-steps", type=_int(0, MAX_STEPS), default=None, metavar="N",
                    help="W+ steps (default with --w-plus: 300)")
    sp.add_argument("--pti", action="store_true",
                    help="pivotal tuning: fine-tune a copy of the generator around the latent (closest fit; "
                         "writes OUT.generator.safetensors, the checkpoint to edit with)")
    sp.add_argument("--pti-steps", type=_int(0, MAX_STEPS), default=None, metavar="N",
                    help="pivotal-tuning steps at most (default with --pti: 350; it stops early when close)")
    sp.add_argument("--loss", default=None, help="distance to the picture: l1, l2, msssim, vgg (random-weight), "
                    "d (the checkpoint's discriminator), weighted and joined by '+' (default 'l2+0.1*msssim')")
    sp.add_argument("--seed", type=SEED, default=None, help="seed of the optimisation noise (default 0)")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_invert)

    sp = sub.add_parser("bench", help="steps/s and memory of the engine vs a full forward and the authors' step")
    sp.add_argument("checkpoint", nargs="?", default=None, help="checkpoint (default: the shipped demo model)")
    sp.add_argument("--synthetic", type=_synthetic, default=None, metavar="RES",
                    help="use a random-weight generator at RES (256, 512, 1024) instead")
    sp.add_argument("--family", default="stylegan2", choices=["stylegan2", "stylegan3-t", "stylegan3-r"],
                    help="the --synthetic generator: StyleGAN2 config f (default) or StyleGAN3-T / -R")
    sp.add_argument("--suite", action="store_true",
                    help="the README's speed table: the demo model and random config-f 256 and 512 px generators")
    sp.add_argument("--variants", type=_variants, default=None, metavar="A,B",
                    help="which to time, in this order (default: all): ours (an image every --image-every "
                         "steps), ours-image (an image every step), full-forward, official (the authors' step)")
    sp.add_argument("--image-every", type=_int(0, MAX_STEPS), default=4, metavar="N",
                    help="'ours' renders the image every N steps, a preview rate (default 4; 0 = never)")
    sp.add_argument("--threads", type=_int(1, 1024), default=None, help="torch threads (default: all cores)")
    sp.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: cuda if present, else cpu)")
    sp.add_argument("--steps", type=_int(1, MAX_STEPS), default=None,
                    help="timed steps per variant (default 20; --suite: per model)")
    sp.add_argument("--warmup", type=_int(0, MAX_STEPS), default=None, help="untimed steps first (default 3)")
    sp.add_argument("--points", type=_int(1, MAX_POINTS), default=1, help="number of handles")
    sp.add_argument("--repeats", type=_int(1, MAX_REPEATS), default=2,
                    help="alternating rounds; the best of each variant counts")
    sp.add_argument("--json", help="also write the machine, the options and the results to this JSON file")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_bench)

    sp = sub.add_parser("benchmark", help="the paper's face-landmark experiment (Table 1) on the demo model")
    ckpt(sp)
    sp.add_argument("--quick", action="store_true", help="3 pairs (variants on 2): the CI size")
    sp.add_argument("--pairs", type=_int(1, MAX_PAIRS), default=200, help="image pairs for our settings (default 200)")
    sp.add_argument("--variant-pairs", type=_int(1, MAX_PAIRS), default=None,
                    help="pairs for each variant (default: all)")
    sp.add_argument("--steps", type=_int(1, MAX_STEPS), default=300, help="step limit per edit (paper: 300)")
    sp.add_argument("--seed", type=SEED, default=2023, help="seed of the pair sampler, in [0, 2^32)")
    sp.add_argument("--trunc", type=TRUNCATION, default=1.0,
                    help="truncation psi of the images, in [-2, 2] (default 1: the protocol's full variety, "
                         "unlike the editor's 0.7; the recorded results use 1)")
    sp.add_argument("--json", help="write the results to this JSON file")
    sp.add_argument("--workers", type=_int(1, MAX_WORKERS), default=1,
                    help="CPU processes running edits side by side (one thread each; try the core count)")
    sp.add_argument("--real", action="store_true",
                    help="A is a family render the model never drew (a stand-in for a photo), inverted "
                         "W -> W+ -> pivotal tuning, then dragged to B's landmarks; our settings only")
    sp.add_argument("--real-steps", type=_int(0, MAX_STEPS), nargs=3, metavar=("W", "WPLUS", "PTI"), default=None,
                    help="with --real: inversion steps of each stage (default 300 300 150; PTI stops at 35 dB)")
    sp.add_argument("--no-progress", action="store_true")
    sp.set_defaults(func=cmd_benchmark)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv or ["gui"])  # no command: the editor on the demo model
        return args.func(args) or 0
    except USER_ERRORS as e:
        message = " ".join(str(e).split("\n"))  # one line, whatever the message holds
        print(f"draggan: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("draggan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
