"""`DragSession`: the DragGAN edit loop on a generator, as an importable object.

generator -> here -> worker / CLI / scripts. A session holds the latent being
edited and the current drag (handles, targets, mask, optimiser, initial
features); nothing else. The history of whole drags (undo, redo, reset) belongs
to the application (`draggan.editor.Editor`), which swaps latents in with
`set_latent`. `step()` is one iteration of the
paper's loop (Sec. 3): one forward pass up to the feature block gives the
features both for tracking the previous update and for the next motion
supervision; only that part of the network is back-propagated. The full image
is rendered in the same pass, without autograd, only when asked for.

Dimension legend: n handles, L num_ws, D w_dim, k optimised layers, C channels,
H/W image size.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ..errors import DragGANError
from ..images import to_uint8
from ..points import validate_pairs
from .config import LABELS, DragConfig, ResolvedConfig
from .motion import handle_features, mask_loss, motion_loss, patch_offsets, track_points
from .sampling import upsample
from .windows import step_boxes, windowed_maps


@dataclass
class StepResult:
    step: int  # optimisation steps taken in this drag when the result was measured
    handles: np.ndarray  # [n, 2] tracked handle positions (x, y) px, matching `image`
    targets: np.ndarray  # [n, 2]
    distances: np.ndarray  # [n] px from each handle to its target
    loss: float  # total loss of this step (nan when no update was made)
    loss_motion: float
    loss_mask: float
    converged: bool  # every handle within the stop distance
    done: bool  # converged, step limit reached, or stopped by an error
    image: np.ndarray | None = None  # uint8 [H, W, 3] of the latent the handles were tracked on
    error: str | None = None  # why the step was rejected (e.g. non-finite values); latent kept
    # why the drag ended, or 'running': 'converged', 'stuck' (no progress for config.stall_steps),
    # 'step limit', 'error'. A caller's own stop ("stopped") is the caller's to report.
    status: str = "running"


@dataclass
class _Drag:
    """State of one drag: from set_points() until the next set_points()/undo/reset."""
    handles: torch.Tensor  # [n, 2] tracked positions
    targets: torch.Tensor  # [n, 2]
    f0: torch.Tensor  # [n, C] feature of each initial handle (tracking reference)
    w_opt: torch.Tensor  # [1, k or 1, D] the optimised part of the latent
    optimizer: torch.optim.Optimizer
    ws_start: torch.Tensor | None = None  # [1, L, D] the latent the drag started from (F0 for the mask term)
    feat0_full: torch.Tensor | None = None  # [1, C, H, W] features at drag start, for the mask term
    steps: int = 0
    run_start: int = 0  # `steps` when the current run began (a continued drag gets a fresh step budget)
    trajectory: list = field(default_factory=list)  # [n, 2] arrays, one per step
    targets_np: np.ndarray | None = None  # host copy of `targets`, so results need no transfer for it
    best_distance: float = float("inf")  # px, the smallest mean handle-target distance so far (stall check)
    best_step: int = 0  # `steps` when best_distance last improved by more than the stall distance
    handles0: torch.Tensor | None = None  # [n, 2] the handles where the drag started
    feat0: torch.Tensor | None = None  # [1, C, h, w] (image size with full_forward) features at the start, if anchored
    anchor_best: float = float("inf")  # px, like best_distance, for re-anchoring (reanchor_steps)
    anchor_step: int = 0  # `steps` when anchor_best last improved, or the anchor was last renewed
    handles_host: np.ndarray | None = None  # [n, 2] host copy of `handles` (where the next step's windows go)

    def renew_anchor(self, cfg: ResolvedConfig, feat: torch.Tensor, mean_distance: float) -> None:
        """Anchor supervision at the current features and handles when it has made no progress for a while."""
        if mean_distance < self.anchor_best - cfg.stall_px:
            self.anchor_best, self.anchor_step = mean_distance, self.steps
        elif self.steps - self.anchor_step >= cfg.reanchor_steps:
            self.feat0, self.handles0 = feat.detach(), self.handles.detach().clone()
            self.anchor_best, self.anchor_step = mean_distance, self.steps

    def stalled(self, cfg: ResolvedConfig, mean_distance: float) -> bool:
        """True when the mean handle-target distance has not improved by stall_distance px for stall_steps."""
        if cfg.stall_steps <= 0:
            return False
        if self.steps == self.run_start or mean_distance < self.best_distance - cfg.stall_px:
            self.best_distance, self.best_step = mean_distance, self.steps
        return self.steps - self.best_step >= cfg.stall_steps


class DragSession:
    """Point-based editing of one generated image (paper Sec. 3)."""

    # True: the blocks above the small ones run only on windows around the handles where that pays
    # (windows.py: the same values for a fraction of the cost), the image in a pass without autograd.
    windowed = True

    def __init__(self, G, ws: torch.Tensor, config: DragConfig = DragConfig(), device=None):
        self.G = G
        self.device = torch.device(device) if device is not None else G.device
        if ws.ndim == 2:
            ws = ws.unsqueeze(1).repeat(1, G.num_ws, 1)
        if tuple(ws.shape) != (1, G.num_ws, G.w_dim):
            raise DragGANError(f"the latent must be w [1, {G.w_dim}] or W+ [1, {G.num_ws}, {G.w_dim}], "
                               f"got {tuple(ws.shape)}")
        if not torch.isfinite(ws).all():
            raise DragGANError("the latent contains NaN or infinity")
        self.ws = ws.detach().to(self.device, torch.float32).clone()  # [1, L, D] the committed latent
        self.size = tuple(G.img_size)  # (H, W)
        self._config = config
        self.family = G.family
        self.cfg: ResolvedConfig = config.resolved(G.img_resolution, G.synthesis.block_resolutions, self.family)
        self.mask: torch.Tensor | None = None  # [H, W] float, 1 = may move
        self.drag: _Drag | None = None
        self._carried: _Drag | None = None  # the last drag, kept when config.carry_over (official code)

    # ---- construction ----
    @classmethod
    def from_seed(cls, G, seed: int, truncation_psi: float = 1.0, config: DragConfig = DragConfig(),
                  c: torch.Tensor | None = None, device=None) -> "DragSession":
        """Start from NVIDIA's seed convention: z = RandomState(seed).randn(1, z_dim)."""
        ws = seed_to_ws(G, seed, truncation_psi, c, label=config.label)
        return cls(G, ws, config, device)

    # ---- settings ----
    @property
    def config(self) -> DragConfig:
        return self._config

    def set_config(self, config: DragConfig) -> None:
        """Apply new settings. Step size takes effect at once; structural ones start a new drag."""
        old = self._config
        cfg = config.resolved(self.G.img_resolution, self.G.synthesis.block_resolutions, self.family)  # checks first
        layout = ("latent_space", "num_optimized_layers", "feature_block", "tracking_block", "tracking_patch")
        structural = any(getattr(old, k) != getattr(config, k) for k in layout)
        drag = self.drag
        if drag is not None and structural:  # fold the drag in with the old layout, go on with a new optimiser
            handles, targets = drag.handles.cpu().numpy(), drag.targets_np.copy()
            self._commit()
        self._config, self.cfg = config, cfg
        if structural or not cfg.carry_over:  # the kept optimiser no longer fits, or is not wanted
            self._carried = None
        if drag is None:
            return
        if structural:
            self._begin(handles, targets)
        else:
            for group in self.drag.optimizer.param_groups:
                group["lr"] = self._step_size()

    def _step_size(self) -> float:
        """Adam's step in W: `lr`, times the generator's W spread when `lr_relative` (ours)."""
        return self.cfg.lr * (w_spread(self.G, self.cfg.label) if self.cfg.lr_relative else 1.0)

    def _patch(self) -> torch.Tensor | None:
        """Offsets [K, 2] of the tracking template, or None for one feature vector (paper)."""
        r = self.cfg.tracking_patch
        return None if r <= 0 else patch_offsets(r, self.device)

    # ---- points and mask ----
    def set_points(self, handles, targets) -> None:
        """Start a new drag from the current latent (the paper's continuous editing)."""
        h, t = validate_pairs(handles, targets, self.size)
        self._commit()
        self._begin(h, t)

    def set_mask(self, mask) -> None:
        """mask [H, W] with 1 where the image may move, or None for no mask term."""
        if mask is None:
            self.mask = None
        else:
            m = torch.as_tensor(np.asarray(mask), dtype=torch.float32)
            if tuple(m.shape) != self.size:
                raise DragGANError(f"the mask must be {self.size[0]}x{self.size[1]} (the image size), "
                                   f"got {tuple(m.shape)}")
            if not torch.isfinite(m).all() or m.min() < 0 or m.max() > 1:
                raise DragGANError("mask values must lie in [0, 1] (1 = may move)")
            self.mask = m.to(self.device)
        for drag in (self.drag, self._carried):
            if drag is not None:
                drag.feat0_full = self._feat0_full(drag.ws_start) if self.mask is not None else None

    # ---- the loop ----
    def _layers(self) -> int:
        return min(self.cfg.num_optimized_layers, self.G.num_ws)

    def _assemble(self, w_opt: torch.Tensor) -> torch.Tensor:
        """[1, k or 1, D] optimised rows + the fixed rest of the current latent -> [1, L, D]."""
        k = self._layers()
        head = w_opt.expand(-1, k, -1) if self.cfg.latent_space == "w" else w_opt
        return torch.cat([head, self.ws[:, k:]], dim=1)

    def _features(self, ws: torch.Tensor, render_image: bool, tracking: bool = False,
                  handles: np.ndarray | None = None):
        """-> (supervision features, image or None), or with `tracking` (features, tracking features, image).

        `handles` [n, 2] (host): the step reads features only near these, so the pass may be windowed.
        """
        block, tblock = self.cfg.feature_block, self.cfg.tracking_block
        blocks = sorted({block, tblock})
        boxes = None if handles is None or not self.windowed else step_boxes(self.G, self.cfg, self.mask, handles)
        if self.cfg.full_forward:  # reference cost: what a naive implementation pays per step
            out = self.G.synthesis.run(ws, self.cfg.noise_mode, feature_blocks=blocks, render_image=True)
            feat, tfeat = (upsample(image_part(self.G, out.features[k], k), self.size) for k in (block, tblock))
        elif boxes is not None:  # windows around the handles; the image, if wanted, in a pass without autograd
            maps = windowed_maps(self.G.synthesis, ws, self.cfg.noise_mode, blocks, block, boxes, self.size)
            img = _image(self.G, ws, self.cfg.noise_mode) if render_image else None
            return (maps[block], maps[tblock], img) if tracking else (maps[block], img)
        else:  # a tracking block above the supervised one runs without autograd
            out = self.G.synthesis.run(ws, self.cfg.noise_mode, feature_blocks=blocks, render_image=render_image,
                                       grad_blocks=block)
            feat, tfeat = image_part(self.G, out.features[block], block), image_part(self.G, out.features[tblock], tblock)
        return (feat, tfeat, out.img) if tracking else (feat, out.img)

    def _feat0_full(self, ws: torch.Tensor) -> torch.Tensor:
        """F0 at image size: the features of the latent the drag started from."""
        with torch.no_grad():
            feat, _ = self._features(ws, False)
            return upsample(feat, self.size)

    def _begin(self, h: np.ndarray, t: np.ndarray) -> None:
        carried, self._carried = self._carried, None
        if carried is not None and self.cfg.carry_over:
            for group in carried.optimizer.param_groups:
                group["lr"] = self._step_size()
            same = (len(carried.targets_np) == len(t)
                    and np.array_equal(carried.handles.cpu().numpy(), np.asarray(h, np.float32))
                    and np.array_equal(carried.targets_np, np.asarray(t, np.float32)))
            if same:  # official code: Stop, then Start on the same points, goes on with the same drag
                carried.run_start = carried.steps
                self.drag = carried
                return
        else:
            carried = None
        k = self._layers()
        if carried is not None:  # new points: Adam keeps its moments (official code)
            w_opt, optimizer = carried.w_opt, carried.optimizer  # its values are the committed rows of `ws`
        else:
            init = self.ws[:, :1] if self.cfg.latent_space == "w" else self.ws[:, :k]
            w_opt = init.clone().requires_grad_(True)
            optimizer = torch.optim.Adam([w_opt], lr=self._step_size())
        handles = torch.tensor(h, dtype=torch.float32, device=self.device)
        if self.cfg.round_handles:  # official code: whole-pixel handles, f0 read at the pixel
            handles = handles.round()
        with torch.no_grad():
            handles_host = handles.cpu().numpy()
            feat, tfeat, _ = self._features(self.ws, False, tracking=True, handles=handles_host)
            f0 = handle_features(tfeat, self.size, handles, self._patch())  # [n, C] or [n, K, C]
        self.drag = _Drag(handles=handles,
                          targets=torch.tensor(t, dtype=torch.float32, device=self.device), f0=f0,
                          w_opt=w_opt, optimizer=optimizer, ws_start=self.ws.clone(),
                          targets_np=np.array(t, dtype=np.float32), handles0=handles.clone(),
                          handles_host=handles_host,
                          feat0=feat if self.cfg.anchored_supervision else None)
        if self.mask is not None:
            self.drag.feat0_full = self._feat0_full(self.ws)

    def _commit(self) -> None:
        """Fold the current drag's latent into `ws` (it becomes the new starting point)."""
        if self.drag is not None:
            with torch.no_grad():
                self.ws = self._assemble(self.drag.w_opt.detach()).clone()
            self._carried = self.drag if self.cfg.carry_over else None
            self.drag = None

    def step(self, render_image: bool = False) -> StepResult:
        """One iteration: forward to the feature block, track (after the first step), supervise, Adam step."""
        d = self.drag
        if d is None:
            raise DragGANError("set handle and target points before stepping")
        ws = self._assemble(d.w_opt)
        feat, tfeat, img = self._features(ws, render_image, tracking=True, handles=d.handles_host)
        size = self.size
        sample_size = tuple(feat.shape[-2:]) if self.cfg.full_forward else size
        if d.steps > 0 and self.cfg.tracking:
            track_size = tuple(tfeat.shape[-2:]) if self.cfg.full_forward else size
            d.handles = track_points(tfeat.detach(), track_size, d.handles, d.f0, self.cfg.r2,
                                     self.cfg.tracking_distance, self.cfg.window == "inclusive",
                                     self.cfg.tracking_subpixel, self._patch()).to(d.handles.dtype)
        dist = (d.targets - d.handles).norm(dim=-1)  # [n]
        stop = self.cfg.stop_distance(len(dist))
        converged_t = (dist <= stop).all()
        limit = d.steps - d.run_start >= self.cfg.max_steps
        # Supervise unless done; whether we are done is only known on the host, so compute the
        # loss anyway (cheap next to the forward) and skip the update if converged.
        active = dist > 1.0 if self.cfg.skip_reached else None
        anchor = (d.feat0, d.handles0) if self.cfg.anchored_supervision else None
        l_motion = motion_loss(feat, sample_size, d.handles, d.targets, self.cfg.r1, self.cfg.loss_reduction, active,
                               self.cfg.disk_grid, self.cfg.padding, anchor)
        l_mask = torch.zeros((), device=self.device)
        if self.mask is not None and d.feat0_full is not None and self.cfg.lambda_mask > 0:
            l_mask = mask_loss(feat, d.feat0_full, 1 - self.mask, self.cfg.loss_reduction, self.cfg.mask_distance)
        loss = l_motion + self.cfg.lambda_mask * l_mask
        # a NaN or inf anywhere in F makes its sum NaN or inf: one pass over the map, not four (abs, eq, ne, all);
        # summed in float32, so a large fp16 map cannot overflow to a false inf
        finite = torch.isfinite(loss) & torch.isfinite(feat.detach().sum(dtype=torch.float32))
        # One host transfer per step for every number the caller sees (no sync per point).
        stats = torch.cat([torch.stack([loss.detach(), l_motion.detach(), l_mask.detach(),
                                        converged_t.float(), finite.float()]),
                           d.handles.reshape(-1), dist]).cpu().numpy()
        loss_v, lm_v, lk_v, conv_v, finite_v = stats[:5]
        n = len(dist)
        handles_np = stats[5:5 + 2 * n].reshape(n, 2).copy()
        dist_np = stats[5 + 2 * n:].copy()
        converged = bool(conv_v)
        image = to_uint8(img) if img is not None else None
        d.trajectory.append(handles_np)
        d.handles_host = handles_np
        if not finite_v:
            return StepResult(d.steps, handles_np, d.targets_np.copy(), dist_np, float("nan"), float("nan"),
                              float("nan"), converged, True, image,
                              error="the step produced NaN or infinity; the last good latent was kept "
                                    "(try a smaller step size)", status="error")
        stuck = d.stalled(self.cfg, float(dist_np.mean()) if n else 0.0)
        if d.feat0 is not None and self.cfg.reanchor_steps > 0:
            d.renew_anchor(self.cfg, feat, float(dist_np.mean()) if n else 0.0)
        if converged or limit or stuck:
            status = "converged" if converged else ("step limit" if limit else "stuck")
            return StepResult(d.steps, handles_np, d.targets_np.copy(), dist_np, float(loss_v), float(lm_v),
                              float(lk_v), converged, True, image, status=status)
        backup = d.w_opt.detach().clone()
        d.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        d.optimizer.step()
        if not bool(torch.isfinite(d.w_opt).all()):
            with torch.no_grad():
                d.w_opt.copy_(backup)
            return StepResult(d.steps, handles_np, d.targets_np.copy(), dist_np, float(loss_v), float(lm_v),
                              float(lk_v), False, True, image,
                              error="the update produced NaN or infinity; the last good latent was kept "
                                    "(try a smaller step size)", status="error")
        d.steps += 1
        return StepResult(d.steps - 1, handles_np, d.targets_np.copy(), dist_np, float(loss_v), float(lm_v),
                          float(lk_v), False, False, image)

    def run(self, callback: Callable[[StepResult], bool | None] | None = None, max_steps: int | None = None,
            render_every: int = 0) -> StepResult:
        """Step until converged, the step limit, an error, or `callback` returns True (stop)."""
        limit = max_steps if max_steps is not None else self.cfg.max_steps
        result = None
        for i in range(limit + 1):
            render = render_every > 0 and i % render_every == 0
            result = self.step(render_image=render)
            if callback is not None and callback(result):
                break
            if result.done:
                break
        return result

    # ---- current state ----
    def current_ws(self) -> torch.Tensor:
        """The latent being shown: [1, L, D] (detached)."""
        if self.drag is None:
            return self.ws.clone()
        with torch.no_grad():
            return self._assemble(self.drag.w_opt.detach()).clone()

    @torch.no_grad()
    def render(self) -> np.ndarray:
        """uint8 [H, W, 3] of the current latent."""
        return to_uint8(self.G.synthesis(self.current_ws(), noise_mode=self.cfg.noise_mode))

    @property
    def handles(self) -> np.ndarray:
        return np.zeros((0, 2)) if self.drag is None else self.drag.handles.cpu().numpy()

    @property
    def targets(self) -> np.ndarray:
        return np.zeros((0, 2)) if self.drag is None else self.drag.targets_np.copy()

    @property
    def trajectory(self) -> list[np.ndarray]:
        return [] if self.drag is None else list(self.drag.trajectory)

    # ---- ending a drag, replacing the latent ----
    def stop(self) -> None:
        """End the current drag, keeping its result (new points then continue from here)."""
        self._commit()

    def set_latent(self, ws: torch.Tensor) -> None:
        """Replace the committed latent [1, L, D] (undo, redo, reset); any drag in progress ends first."""
        if tuple(ws.shape) != tuple(self.ws.shape) or not torch.isfinite(ws).all():
            raise DragGANError(f"the latent must be a finite W+ {tuple(self.ws.shape)}, got {tuple(ws.shape)}")
        self._commit()
        self._carried = None  # a new latent starts a new optimiser, as the official code's reset
        self.ws = ws.detach().to(self.device, torch.float32).clone()


@torch.no_grad()
def _image(G, ws: torch.Tensor, noise_mode: str) -> torch.Tensor:
    """The image of latent `ws` [1, L, D], without autograd: [1, C, H, W]."""
    return G.synthesis.run(ws.detach(), noise_mode).img


_W_SPREAD: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # G -> {label: spread}


@torch.no_grad()
def w_spread(G, label: str = "first_class", samples: int = 1000) -> float:
    """rms over coordinates and samples of (w - w_avg) for w = mapping(z), z ~ N(0, I) (fixed draw).

    The typical distance, per W coordinate, between the generator's latents and their mean: the unit
    of `lr` when DragConfig.lr_relative. Measured once per generator (and label) and cached.
    """
    cache = _W_SPREAD.setdefault(G, {})
    if label not in cache:
        gen = torch.Generator().manual_seed(0)
        z = torch.randn(samples, G.z_dim, generator=gen).to(G.device)
        c = None
        if G.c_dim > 0:
            c = torch.zeros(samples, G.c_dim, device=G.device)
            if label == "first_class":
                c[:, 0] = 1
        w = G.mapping(z, c)[:, 0]  # [samples, D]
        cache[label] = float((w - G.mapping.w_avg).square().mean().sqrt())
    return cache[label]


def image_part(G, feat: torch.Tensor, key: int) -> torch.Tensor:
    """The part of feature map `key` that covers the image: [N, C, h, w] (the whole map but for StyleGAN3).

    A StyleGAN3 layer's map holds a margin around the image (margin_size, 10 px of that layer
    at the stylegan3 defaults); the authors resize the whole map, margin included, to the
    image. Cropping to `feature_box` first makes feature pixel j cover image pixels
    [j W/w, (j+1) W/w), as for StyleGAN2, so a position in the image reads the feature of
    the content drawn there (tests/test_engine_families.py checks it by translating the input).
    """
    box = getattr(G.synthesis, "feature_box", None)
    if box is None:
        return feat
    top, left, h, w = box(key)
    if (top, left, h, w) == (0, 0, *feat.shape[-2:]):
        return feat
    return feat[..., top:top + h, left:left + w]


def seed_to_ws(G, seed: int, truncation_psi: float = 1.0, c: torch.Tensor | None = None,
               label: str = "first_class") -> torch.Tensor:
    """NVIDIA's convention: z = np.random.RandomState(seed).randn(1, z_dim) -> mapped ws [1, L, D].

    A conditional model without `c` gets `label` (DragConfig.label): 'first_class' one-hot class 0
    (ours) or 'zeros', the official code's all-zero label.
    """
    if not 0 <= int(seed) < 2 ** 32:
        raise DragGANError(f"seed must be in [0, 2^32), got {seed}")
    if label not in LABELS:
        raise DragGANError(f"label must be one of {LABELS}, got {label!r}")
    z = torch.from_numpy(np.random.RandomState(int(seed)).randn(1, G.z_dim)).to(G.device, torch.float32)
    if G.c_dim > 0 and c is None:
        c = torch.zeros(1, G.c_dim, device=G.device)
        if label == "first_class":
            c[0, 0] = 1
    with torch.no_grad():
        return G.mapping(z, c, truncation_psi=truncation_psi)
