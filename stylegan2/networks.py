"""The StyleGAN2 generator: mapping network (z -> w) and synthesis network (w -> image).

Call conventions follow NVIDIA's networks so user scripts port unchanged:
`G.mapping(z, c, truncation_psi, truncation_cutoff) -> ws [N, num_ws, w_dim]` and
`G.synthesis(ws, noise_mode) -> img [N, C, H, W]` (unclamped, about [-1, 1]).
For DragGAN, `G.synthesis.run(...)` also returns block feature maps and can stop
after the last block it needs.

Dimension legend: N batch, L num_ws, D w_dim, C channels, R resolution (height), W width
(W = R, or R / 2 for StyleGAN-Human's rectangular generators, `GeneratorConfig.square=False`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
from torch import nn

from .config import GeneratorConfig
from .layers import NOISE_MODES, FullyConnectedLayer, SynthesisBlock
from .ops import normalize_2nd_moment
from .regions import Box, plan


class MappingNetwork(nn.Module):
    """z (and label c) -> w, broadcast to num_ws rows; truncation toward w_avg."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = cfg.z_dim, cfg.c_dim, cfg.w_dim
        self.num_ws = cfg.num_ws
        self.num_layers = cfg.mapping_layers
        embed = cfg.mapping_embed_features or cfg.w_dim
        hidden = cfg.mapping_layer_features or cfg.w_dim
        if self.c_dim > 0:
            self.embed = FullyConnectedLayer(self.c_dim, embed)
        features = [(self.z_dim + (embed if self.c_dim > 0 else 0))] + [hidden] * (self.num_layers - 1) + [self.w_dim]
        for i in range(self.num_layers):
            setattr(self, f"fc{i}", FullyConnectedLayer(features[i], features[i + 1], activation="lrelu",
                                                        lr_multiplier=cfg.mapping_lr_multiplier))
        self.register_buffer("w_avg", torch.zeros(self.w_dim))  # [D]

    def forward(self, z: torch.Tensor | None, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None) -> torch.Tensor:
        parts = []
        if self.z_dim > 0:
            if z is None or z.ndim != 2 or z.shape[1] != self.z_dim:
                raise ValueError(f"z must have shape [N, {self.z_dim}], got {None if z is None else tuple(z.shape)}")
            parts.append(normalize_2nd_moment(z.to(torch.float32)))
        if self.c_dim > 0:
            if c is None or c.ndim != 2 or c.shape[1] != self.c_dim:
                raise ValueError(f"this generator is conditional: c must have shape [N, {self.c_dim}]")
            parts.append(normalize_2nd_moment(self.embed(c.to(torch.float32))))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        ws = x.unsqueeze(1).repeat(1, self.num_ws, 1)  # [N, L, D]
        if truncation_psi != 1:
            cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
            ws[:, :cut] = self.w_avg.lerp(ws[:, :cut], truncation_psi)
        return ws


@dataclass
class SynthesisOutput:
    img: torch.Tensor | None  # [N, C, H, W] float32, None when the pass stopped early
    # feature key -> map. StyleGAN2: block resolution b -> [N, C_b, b, b] (b/2 wide for StyleGAN-Human).
    # StyleGAN3: layer index k (layer Lk) -> [N, C_k, S_k, S_k], margin included (`feature_box` crops it).
    features: dict[int, torch.Tensor] = field(default_factory=dict)
    # feature key -> (top, left) where a windowed map starts in the whole map (`run(regions=...)`);
    # keys absent here hold whole maps
    origins: dict[int, tuple[int, int]] = field(default_factory=dict)


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image, one `SynthesisBlock` per resolution."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.w_dim = cfg.w_dim
        self.img_resolution = cfg.img_resolution
        self.img_channels = cfg.img_channels
        self.img_width = cfg.img_width
        self.block_resolutions = cfg.block_resolutions
        self.feature_keys = list(self.block_resolutions)  # what `run(feature_blocks=...)` accepts
        self.block_sizes = {res: cfg.block_size(res) for res in self.block_resolutions}  # res -> (H, W)
        self.num_ws = cfg.num_ws
        self.fp16_resolutions = set(self.block_resolutions[::-1][:cfg.num_fp16_res])
        self.use_fp16 = False  # opt-in: run the fp16 resolutions in half precision on CUDA
        for res in self.block_resolutions:
            block = SynthesisBlock(cfg.channels(res // 2) if res > 4 else 0, cfg.channels(res), cfg.w_dim, res,
                                   cfg.img_channels, is_last=res == cfg.img_resolution,
                                   architecture=cfg.architecture, resample_filter=cfg.resample_filter,
                                   conv_clamp=cfg.conv_clamp, use_noise=cfg.use_noise,
                                   width=cfg.block_size(res)[1])
            setattr(self, f"b{res}", block)

    def feature_box(self, key: int) -> tuple[int, int, int, int]:
        """(top, left, height, width) of the part of feature map `key` that covers the image.

        StyleGAN2 maps have no margin: the whole map. (StyleGAN3's have one; same method there.)
        """
        h, w = self.block_sizes[key]
        return 0, 0, h, w

    def block_ws_index(self, res: int) -> int:
        """Index of the first w row the block at `res` reads (its conv0, or conv1 for b4)."""
        return 0 if res == 4 else 2 * (self.block_resolutions.index(res)) - 1

    supports_regions = True  # run(regions=...) computes windows of the higher blocks (regions.py)

    def _check(self, ws: torch.Tensor, noise_mode: str, feature_blocks) -> set[int]:
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape [N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}")
        wanted = set(int(b) for b in feature_blocks)
        unknown = wanted - set(self.block_resolutions)
        if unknown:
            raise ValueError(f"no synthesis block at {sorted(unknown)}; blocks are {self.block_resolutions}")
        return wanted

    def run(self, ws: torch.Tensor, noise_mode: str = "const", feature_blocks=(),
            render_image: bool = True, grad_blocks: int | None = None,
            regions: dict[int, Box] | None = None) -> SynthesisOutput:
        """Synthesis that also returns the feature maps of `feature_blocks` (resolutions).

        With render_image=False the pass stops after the last requested block (no
        toRGB, no higher blocks): what the drag optimisation needs, and all it pays for.
        With `grad_blocks` = R, blocks above resolution R run without autograd (the
        image is then for display only, and costs no graph memory).
        With `regions` {block: (top, left, bottom, right)} (no image), the higher blocks run on
        windows that hold those boxes (`regions.plan`): the returned maps of windowed blocks are
        windows starting at `out.origins[block]`, exact inside the requested boxes only.
        """
        if regions:
            if render_image:
                raise ValueError("a windowed pass renders no image: render_image must be False with regions")
            return self.run_windows(ws, noise_mode, feature_blocks, grad_blocks, [regions])[0]
        wanted = self._check(ws, noise_mode, feature_blocks)
        last = self.img_resolution if render_image or not wanted else max(wanted)
        out = SynthesisOutput(img=None)
        x, img, ws = None, None, ws.to(torch.float32)
        for res in self.block_resolutions:
            if res > last:
                break
            x, ws, img = self._block(res, x, ws, img, noise_mode, grad_blocks, None, render_image)
            if res in wanted:
                out.features[res] = x.to(torch.float32)
        out.img = img
        return out

    def run_windows(self, ws: torch.Tensor, noise_mode: str, feature_blocks, grad_blocks: int | None,
                    groups: list[dict[int, Box]]) -> list[SynthesisOutput]:
        """`run(regions=...)` for several groups of boxes at once (no image): one output per group.

        The blocks below the first windowed one run once, on whole maps, for every group; each
        group then goes on with its own windows. A group that needs whole maps makes every group
        whole (one ordinary pass, shared).
        """
        wanted = self._check(ws, noise_mode, feature_blocks)
        last = max(wanted) if wanted else self.img_resolution
        running = [r for r in self.block_resolutions if r <= last]
        plans = [plan({int(k): v for k, v in g.items()}, running, self.block_sizes) for g in groups]
        if not all(plans):
            whole = self.run(ws, noise_mode, feature_blocks, render_image=False, grad_blocks=grad_blocks)
            return [whole] * len(groups)
        start = max(min(p) for p in plans)  # every group can be windowed from here up
        trunk = SynthesisOutput(img=None)
        x, ws = None, ws.to(torch.float32)
        for res in running:
            if res >= start:
                break
            x, ws, _ = self._block(res, x, ws, None, noise_mode, grad_blocks, None, False)
            if res in wanted:
                trunk.features[res] = x.to(torch.float32)
        outs = []
        for windows in plans:
            out = SynthesisOutput(img=None, features=dict(trunk.features))
            xg, wsg, origin = x, ws, None
            for res in running:
                if res < start:
                    continue
                top, left, bottom, right = windows[res]  # cut x (whole, or the lower window) to this block's input
                dy, dx = origin if origin is not None else (0, 0)
                xg = xg[:, :, top - dy: bottom - dy, left - dx: right - dx]
                origin = (2 * top, 2 * left)
                xg, wsg, _ = self._block(res, xg, wsg, None, noise_mode, grad_blocks, origin, False)
                if res in wanted:
                    out.features[res], out.origins[res] = xg.to(torch.float32), origin
            outs.append(out)
        return outs

    def _block(self, res: int, x, ws, img, noise_mode: str, grad_blocks: int | None, origin, render_image: bool):
        """One block: -> (its feature map or window, ws (detached above grad_blocks), the running image)."""
        no_grad = grad_blocks is not None and res > grad_blocks and torch.is_grad_enabled()
        if no_grad:  # display-only remainder: cut the graph here
            ws = ws.detach()
            x = x.detach()
            img = None if img is None else img.detach()
        with torch.no_grad() if no_grad else contextlib.nullcontext():
            block: SynthesisBlock = getattr(self, f"b{res}")
            i = self.block_ws_index(res)
            fp16 = self.use_fp16 and ws.device.type == "cuda" and res in self.fp16_resolutions
            x = block.features(x, ws[:, i: i + block.num_conv], noise_mode,
                               dtype=torch.float16 if fp16 else torch.float32, origin=origin)
            if render_image:
                img = block.image(x, img, ws[:, i + block.num_conv] if block.num_torgb else None)
        return x, ws, img

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", **_ignored) -> torch.Tensor:
        return self.run(ws, noise_mode).img


class Generator(nn.Module):
    """StyleGAN2 generator built from a `GeneratorConfig`; `G(z, c)` maps and synthesises.

    StyleGAN3's generator is this shell with its own synthesis network (`synthesis_type`).
    """

    synthesis_type = SynthesisNetwork

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.c_dim, self.w_dim = cfg.z_dim, cfg.c_dim, cfg.w_dim
        self.img_resolution, self.img_channels = cfg.img_resolution, cfg.img_channels  # resolution = height
        self.img_width = cfg.img_width  # = img_resolution, or img_resolution / 2 for StyleGAN-Human
        self.num_ws = cfg.num_ws
        self.family = cfg.family
        self.synthesis = self.synthesis_type(cfg)
        self.mapping = MappingNetwork(cfg)  # StyleGAN3 uses the same, built with embed/hidden width = w_dim

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, noise_mode: str = "const") -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode)

    @property
    def img_size(self) -> tuple[int, int]:
        """(height, width) of the images in pixels."""
        return self.img_resolution, self.img_width

    @property
    def device(self) -> torch.device:
        return self.mapping.w_avg.device
