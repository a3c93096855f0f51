"""Settings of a drag edit (DragGAN paper Sec. 3.4 unless noted), in one typed config.

Three presets: `DragConfig()` (ours: the paper's settings with floors and fixes that make small
models work, plus the measured changes of docs/METHOD-NOTES.md: a step in units of the model's W
spread, sub-pixel tracking, anchored supervision, a lighter mask term, a 0.5 px stop for few
handles), `paper_config` (the paper's text, literally) and `official_config` (the authors' public
code, `viz/renderer.py`, step for step); both presets turn our additions off (`OURS_OFF`). Every
difference is a named field.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import DragGANError
from ..limits import (LAMBDA_MASK_MAX, LR_MAX, MAX_BLOCK, MAX_LAYERS, MAX_STEPS, brief, check_float,
                      check_int)

R1_MIN = 2.0  # px; the paper's r1 = round(3/512*size) is 0 below 86 px, which supervises nothing (ours)
R2_MIN = 3.0  # px; tracking must still see a step's motion at 64x64 (ours)
PAPER_FEATURE_BLOCK = 128  # "the feature map after the 6th block" (paper Sec. 3.2); the official code's feat[5]
LATENT_SPACES = ("w", "w+")
TRACKING_DISTANCES = ("l1", "l2")
LOSS_REDUCTIONS = ("sum", "mean", "sum_of_means")
DISK_GRIDS = ("centred", "official")
WINDOWS = ("strict", "inclusive")
PADDINGS = ("border", "zeros")
LABELS = ("first_class", "zeros")
NOISE_MODES = ("const", "random", "none")
MASK_DISTANCES = ("l1", "l2")
SG3_FEATURE_LAYER = 5  # StyleGAN3 layer whose output drives supervision and tracking (see default_feature_block)
MAX_RADIUS = 8192.0  # px; no image is larger, and resolved() also refuses radii beyond the image


def default_feature_block(img_resolution: int, family: str = "StyleGAN2") -> int:
    """The feature map DragGAN reads: a block resolution (StyleGAN2, StyleGAN-Human) or a layer index (StyleGAN3).

    StyleGAN2: b128 (the 6th block, paper Sec. 3.2) for models of 256 px and up; res/2 for smaller
    ones (ours). StyleGAN3: layer L{SG3_FEATURE_LAYER}, chosen by measured tracking accuracy
    (docs/METHOD-NOTES.md; the authors' code takes index 5 of every family).
    """
    if family.startswith("StyleGAN3"):
        return SG3_FEATURE_LAYER
    return 128 if img_resolution >= 256 else max(4, img_resolution // 2)


def scaled_radius(px_at_512: float, img_resolution: int) -> int:
    """round(px/512 * size): the paper's and the official code's radii at another image size."""
    return round(px_at_512 / 512 * img_resolution)


@dataclass(frozen=True)
class DragConfig:
    feature_block: int | None = None  # block whose output x drives supervision and tracking; None = default_feature_block (paper: b128)
    r1: float | None = None  # motion supervision radius, px; None = round(3/512*size) (paper Sec. 3.4); see radius_floor
    r2: float | None = None  # tracking half-window, px; None = round(12/512*size) (paper Sec. 3.4); see radius_floor
    # True: the size-scaled default radii are at least R1_MIN / R2_MIN px (ours). False: the formula
    # alone, as the paper and the official code (r1 = 0 below 86 px: an error, nothing would be supervised).
    radius_floor: bool = True
    lambda_mask: float = 0.25  # weight of the fixed-region term (ours, measured; paper Sec. 3.4: 20, which freezes edits)
    # The fixed-region term per element: 'l1' |F - F0| (paper eq. 1) or 'l2' (F - F0)^2 / mean|F0| (ours),
    # which lets small changes pass and holds back large ones (docs/METHOD-NOTES.md).
    mask_distance: str = "l1"
    lr: float = 2e-2  # Adam step size; ours in W-spread units (lr_relative, measured); paper 2e-3 (FFHQ), official 1e-3
    # True: `lr` is in units of the generator's W spread (rms of mapped w around w_avg, `w_spread`), so one
    # setting moves every checkpoint's latent equally fast (ours; docs/METHOD-NOTES.md). False: lr as is (paper).
    lr_relative: bool = True
    latent_space: str = "w+"  # 'w+' per-layer w (paper default) or 'w' one shared w
    num_optimized_layers: int = 6  # first layers of W+ that are optimised; the rest stay fixed (paper Sec. 3.4)
    stop_distance: float | None = None  # px; None = few_handles_stop for <= 5 handles, 2 otherwise (paper: 1, 2)
    # The stop distance of <= 5 handles when stop_distance is None, px (ours, measured: docs/METHOD-NOTES.md).
    # The paper's 1 px is the nearest a whole-pixel tracker sees a handle short of its target; sub-pixel tracking
    # sees half a pixel, and the content lags the tracked handle, so ours drags on to 0.5 px. Whole-pixel
    # tracking (tracking_subpixel=1) keeps at least 1 px: a fractional target may have no whole pixel nearer.
    # A fraction of a pixel, like the tracker's, at every image size. 1 = the paper's rule.
    few_handles_stop: float = 0.5
    max_steps: int = 300  # steps per drag before giving up (paper's Table 1 protocol: 300)
    # End the drag as 'stuck' when the mean handle-target distance has not dropped by stall_distance for
    # this many steps (ours); 0 = never (paper, official code). Steps, so the same at every size.
    stall_steps: int = 0
    stall_distance: float | None = None  # px; None = size/128 (0.5 px at 64, 4 px at 512): a share of the image
    tracking_distance: str = "l1"  # 'l1' (paper Sec. 3.3) or 'l2' (official code)
    # Block whose features track the handles; None = feature_block (paper). A later block sees the
    # rendered content rather than the supervised features themselves (ours; docs/METHOD-NOTES.md).
    tracking_block: int | None = None
    # How the motion and mask terms are normalised. 'mean' (ours): one mean over every supervised
    # position of every handle and the channels. 'sum' (paper eq. 1 read literally). 'sum_of_means'
    # (official code): each handle's F.l1_loss, a mean over its disk and the channels, summed over
    # handles. The mask term is a mean over all pixels and channels for 'mean' and 'sum_of_means'.
    # Adam makes a mask-less one-handle edit nearly the same either way; with a mask, the literal sum
    # weighs the fixed region ~(H*W)/(pi*r1^2) times more, and we measured it freezing every edit on the
    # 64 px fixture at lambda >= 0.1 (ours).
    loss_reduction: str = "mean"
    # True: motion supervision pulls the drag's first features around the initial handle, F0(q - p + p0),
    # instead of the current F(q) (ours, after GoodDrag); False: F(q).detach() (paper eq. 1).
    anchored_supervision: bool = True
    # Re-anchoring (ours): when the mean handle-target distance has not dropped by the stall distance for
    # this many steps, anchored supervision takes the current features and handles as its new anchor
    # (docs/METHOD-NOTES.md); 0 = never. Only with anchored_supervision.
    reanchor_steps: int = 20
    # Omega1(p, r1). 'centred': integer pixels q with ||q - p|| < r1 (paper eq. 1). 'official': pixel
    # i placed at i*H/(H-1) (torch.linspace(0, H, H)) before measuring, as the official code; the disk
    # then holds 10-14 pixels at r1 = 2 (9 centred) and sits up to 1 px up-left of p toward the bottom-right.
    disk_grid: str = "centred"
    # Omega2(p, r2). 'strict': |q - p| < r2 per axis (paper Sec. 3.3). 'inclusive': |q - p| <= r2,
    # clipped to the image (official code: its r2 = 12 at 512 searches +-12 where the paper's +-11).
    window: str = "strict"
    # F(q + d) beyond the edge pixels' centres. 'border' clamps to the edge (ours); 'zeros' blends with
    # zeros outside the image, as grid_sample(align_corners=True) in the official code.
    padding: str = "border"
    skip_reached: bool = False  # official code: no supervision for a handle within 1 px of its target
    # True (official code): handles are whole pixels (its GUI takes clicks); a sub-pixel handle is
    # rounded when the drag starts and f0 read there. False: f0 is sampled at the exact handle (ours).
    round_handles: bool = False
    # True (official code): the Adam state outlives a drag. Stop then Start with the same handles and
    # targets continues the drag (its f0 and initial features too); new points keep Adam's moments. A
    # new latent (undo, reset) or a W/W+, layers or block change starts afresh. False: every drag
    # starts with a fresh Adam and f0 (ours).
    carry_over: bool = False
    # Label of a conditional model when an image comes from a seed: 'first_class' one-hot class 0
    # (ours) or 'zeros', the official code's all-zero label. Unconditional models ignore it.
    label: str = "first_class"
    tracking: bool = True  # False = the paper's "w/o tracking" ablation (Fig. 6)
    # Sub-pixel tracking: after the best whole pixel, search +-0.5 px around it in steps of 1/this px on
    # bilinearly sampled features (ours); 1 = whole pixels only (paper eq. 2). A fraction of a pixel, so it
    # needs no scaling with the image size.
    tracking_subpixel: int = 8
    # Tracking template radius, px: compare the features at the integer offsets o, ||o|| < this, around q
    # with those around the initial handle, not one feature vector (ours); 0 = one vector (paper eq. 2).
    tracking_patch: float = 0.0
    noise_mode: str = "const"  # synthesis noise during the edit; 'const' keeps it deterministic
    full_forward: bool = False  # reference cost model: full synthesis with grad and full-size features every step

    def __post_init__(self):
        """Every field checked for type and range: a config that exists can run (NaN, inf, 1e9 px refused)."""
        for name, allowed in (("latent_space", LATENT_SPACES), ("tracking_distance", TRACKING_DISTANCES),
                              ("loss_reduction", LOSS_REDUCTIONS), ("disk_grid", DISK_GRIDS),
                              ("window", WINDOWS), ("padding", PADDINGS), ("label", LABELS),
                              ("noise_mode", NOISE_MODES), ("mask_distance", MASK_DISTANCES)):
            value = getattr(self, name)
            if not isinstance(value, str) or value not in allowed:
                raise DragGANError(f"{name} must be one of {allowed}, got {brief(value)}")
        for name in ("radius_floor", "skip_reached", "round_handles", "carry_over", "tracking", "full_forward",
                     "lr_relative", "anchored_supervision"):
            if not isinstance(getattr(self, name), bool):
                raise DragGANError(f"{name} must be true or false, got {brief(getattr(self, name))}")
        check_float(self.lr, "lr (the step size)", 0.0, LR_MAX, lo_open=True)
        check_float(self.lambda_mask, "lambda_mask", 0.0, LAMBDA_MASK_MAX)
        check_int(self.num_optimized_layers, "num_optimized_layers", 1, MAX_LAYERS)
        check_int(self.max_steps, "max_steps", 1, MAX_STEPS)
        check_int(self.tracking_subpixel, "tracking_subpixel", 1, 64)
        check_int(self.stall_steps, "stall_steps", 0, MAX_STEPS)
        check_int(self.reanchor_steps, "reanchor_steps", 0, MAX_STEPS)
        check_float(self.tracking_patch, "tracking_patch (px)", 0.0, 16.0)
        for name in ("feature_block", "tracking_block"):
            if getattr(self, name) is not None:
                check_int(getattr(self, name), name, 0, MAX_BLOCK)  # StyleGAN3: a layer index from 0
        for name in ("r1", "r2", "stop_distance", "stall_distance", "few_handles_stop"):
            if getattr(self, name) is not None:
                check_float(getattr(self, name), f"{name} (px)", 0.0, MAX_RADIUS, lo_open=True)

    def with_(self, **changes) -> "DragConfig":
        return replace(self, **changes)

    def resolved(self, img_resolution: int, block_resolutions, family: str = "StyleGAN2") -> "ResolvedConfig":
        """Fill the size-dependent defaults for a generator of `img_resolution` (its height) and `family`."""
        block = self.feature_block if self.feature_block is not None else \
            default_feature_block(img_resolution, family)
        if block not in block_resolutions:
            raise DragGANError(f"feature block {block} does not exist; this generator has blocks "
                               f"{list(block_resolutions)} (choose one with feature_block, `--block`)")
        r1 = self.r1 if self.r1 is not None else scaled_radius(3, img_resolution)
        r2 = self.r2 if self.r2 is not None else scaled_radius(12, img_resolution)
        if self.radius_floor:
            r1 = r1 if self.r1 is not None else max(r1, R1_MIN)
            r2 = r2 if self.r2 is not None else max(r2, R2_MIN)
        for name, r in (("r1", r1), ("r2", r2)):
            if r > img_resolution:  # also keeps the candidate grid, (2r+1)^2 per handle, image-sized
                raise DragGANError(f"{name} = {r:g} px is larger than the {img_resolution} px image; "
                                   f"use at most {img_resolution} px")
        if r1 <= 0:  # only the unfloored formula gets here; explicit radii are checked > 0
            raise DragGANError(
                f"r1 = round(3/512 * {img_resolution}) = 0 px at this image size: the motion-supervision "
                f"disk is empty, so nothing would be supervised (the authors' code computes a NaN loss and "
                f"never updates below 86 px). Set r1 (e.g. r1=2, `--r1 2`) or keep the radius floor.")
        if r2 <= 0 and self.window == "strict":
            raise DragGANError(
                f"r2 = round(12/512 * {img_resolution}) = 0 px at this image size: the strict tracking "
                f"window is empty. Set r2 (e.g. r2=3, `--r2 3`) or keep the radius floor.")
        tblock = self.tracking_block if self.tracking_block is not None else block
        if tblock not in block_resolutions:
            raise DragGANError(f"tracking block {tblock} does not exist; this generator has blocks "
                               f"{list(block_resolutions)}")
        stall_px = self.stall_distance if self.stall_distance is not None else img_resolution / 128
        return ResolvedConfig(self, block, float(r1), float(r2), tblock, float(stall_px))


@dataclass(frozen=True)
class ResolvedConfig:
    base: DragConfig
    feature_block: int  # resolution of the feature block
    r1: float  # px
    r2: float  # px
    tracking_block: int  # resolution of the block whose features track the handles
    stall_px: float  # px of progress that resets the stall count

    def stop_distance(self, n_handles: int) -> float:
        if self.base.stop_distance is not None:
            return self.base.stop_distance
        if n_handles > 5:
            return 2.0
        few = self.base.few_handles_stop
        return few if self.base.tracking_subpixel > 1 else max(few, 1.0)  # whole pixels: at least 1 px

    def __getattr__(self, name):  # everything else comes from the base config
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)


# Our additions (docs/METHOD-NOTES.md), off: neither the paper nor the authors' code has them.
OURS_OFF = dict(lr_relative=False, tracking_subpixel=1, tracking_patch=0.0, mask_distance="l1", tracking_block=None,
                anchored_supervision=False, stall_steps=0, reanchor_steps=0, few_handles_stop=1.0)


def official_config(img_resolution: int, **changes) -> DragConfig:
    """The authors' code step for step (their viz/renderer.py; ALGORITHM.md): `changes` override any field.

    b128 for every model, r1 = round(3/512 size) and r2 = round(12/512 size) with no floor, Adam
    1e-3, per-handle means summed, the linspace disk, inclusive window, zero padding, L2 tracking,
    stop at max(2/512 size, 2) px, no supervision within 1 px, whole-pixel handles, Adam state kept
    across drags, all-zero label. Below 128 px the block, below 86 px r1, must be given.
    """
    settings = dict(feature_block=PAPER_FEATURE_BLOCK, radius_floor=False, lr=1e-3, lambda_mask=20.0,
                    tracking_distance="l2", stop_distance=max(2 / 512 * img_resolution, 2.0),
                    loss_reduction="sum_of_means", skip_reached=True, disk_grid="official",
                    window="inclusive", padding="zeros", round_handles=True, carry_over=True, label="zeros",
                    **OURS_OFF)
    settings.update(changes)
    return DragConfig(**settings)


def paper_config(img_resolution: int, **changes) -> DragConfig:
    """The paper's text (Sec. 3.2-3.4, eq. 1 as written): `changes` override any field.

    b128 (the 6th block), r1 = round(3/512 size) and r2 = round(12/512 size) with no floor, lambda 20,
    Adam 2e-3, eq. 1 as a sum, L1 tracking in |q - p| < r2, stop at 1 px (2 px for more than 5
    handles). The paper does not say how F(q + d) is read at the edge; this keeps ours (border).
    `img_resolution` is unused (the radii scale in `resolved`); it keeps official_config's signature.
    """
    settings = dict(feature_block=PAPER_FEATURE_BLOCK, radius_floor=False, lr=2e-3, lambda_mask=20.0,
                    tracking_distance="l1", stop_distance=None, loss_reduction="sum", skip_reached=False,
                    disk_grid="centred", window="strict", padding="border", round_handles=False,
                    carry_over=False, label="first_class", **OURS_OFF)
    settings.update(changes)
    return DragConfig(**settings)
