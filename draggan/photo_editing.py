"""The editor's photo half: invert a user's picture, then edit it like a generated image.

photo file -> `draggan.photo` -> inversion (`draggan.engine.inversion`) -> here -> editor.
A mixin of `draggan.editor.Editor`. `begin_inversion` checks the picture and the crop
and prepares an `Inversion` without touching the image being edited; the worker then
calls `inversion_step` between commands, like a drag step, so Cancel and every other
command stay prompt. `cancel_inversion` drops it and leaves the editor exactly as it
was. On completion the inverted latent becomes a new, undoable image on the generator
the inversion returns (a tuned copy after pivotal tuning), and Reset returns to it.

The checkpoint's generator stays `base_G`; a tuned copy lives in the image's
`PhotoSource`, so undo and redo swap generators with the images, and a new seed is
drawn on the checkpoint's own weights. A tuned copy costs the generator's memory (on
its device) for as long as the undo history can reach its image.

Dimension legend: L num_ws, D w_dim, H/W image size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .engine import DragSession
from .errors import DragGANError
from .mask import mask_from_paint
from .photo import fit_to_model, load_photo
from .points import Points


@dataclass(frozen=True, eq=False)
class PhotoSource:
    """Where a photo's image came from: kept in the undo history and in saved sessions."""
    path: str  # the picture file
    box: tuple | None  # (x0, y0, x1, y1) crop in picture px; None = the centre crop
    tuned: bool  # pivotal tuning changed the generator's weights (`generator` is a tuned copy)
    generator: object  # the generator the inverted latent lives on (tuned copy, or the checkpoint's)
    base_G: object  # the checkpoint's generator
    notes: tuple[str, ...] = ()  # what loading and cropping changed, one line each
    psnr: float | None = None  # dB, reconstruction against the cropped picture
    base_checkpoint: str | None = None  # the checkpoint the tuning started from (kept in sessions)


@dataclass(frozen=True, eq=False)
class InversionStatus:
    """What the GUI shows while a photo inverts (published in `WorkerState.inversion`)."""
    path: str  # the picture file
    stage: str = ""  # 'w', 'w+' or 'pti'
    step: int = 0  # step within the stage
    stage_steps: int = 0
    done_steps: int = 0  # over all stages
    total_steps: int = 0
    loss: float = float("nan")
    target: np.ndarray | None = None  # uint8 [H, W, 3] the cropped, resized picture
    preview: np.ndarray | None = None  # uint8 [H, W, 3] the latest reconstruction
    notes: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass(eq=False)
class _Running:
    inv: object  # engine.inversion.Inversion
    status: InversionStatus
    box: tuple | None
    started: float = field(default_factory=time.perf_counter)


class PhotoEditing:
    """Needs from the editor: `G`, `session`, `config`, `device`, `size`, `seed`, `psi`, `latent_source`, `ws0`,
    `points`, `paint`, `message`, `changes`, `_fingerprint`, `_stop_run()`, `_push_history()`, `_replaced()`."""

    photo: PhotoSource | None = None  # the current image's photo; None = a seed or a latent file
    inversion: _Running | None = None  # the inversion in progress

    @property
    def inverting(self) -> bool:
        return self.inversion is not None

    @property
    def base_G(self):
        """The checkpoint's generator (the current one unless a photo's tuned copy is shown)."""
        return self.photo.base_G if self.photo is not None else self.G

    def inversion_status(self) -> InversionStatus | None:
        return None if self.inversion is None else self.inversion.status

    # ---- running an inversion ----
    def begin_inversion(self, path: str | Path, box=None, config=None) -> str:
        """Check the picture and the crop and prepare the inversion; the image shown does not change yet."""
        from .engine.inversion import Inversion, InversionConfig
        if self.G is None:
            raise DragGANError("open a checkpoint first: a photo is inverted into a generator's latent space")
        photo = load_photo(path)
        notes = list(photo.notes)
        target = fit_to_model(photo.rgb, self.size, box, notes)  # uint8 [H, W, 3]
        G, config = self.base_G, config if config is not None else InversionConfig()
        inv = Inversion(G, target, config, D=self._discriminator(config))
        self._stop_run()
        status = InversionStatus(str(Path(path).expanduser().resolve()), target=target, notes=tuple(notes))
        self.inversion = _Running(inv, status, None if box is None else tuple(int(round(v)) for v in box))
        self.message = f"inverting {Path(path).name} ..." + (" (" + "; ".join(notes) + ")" if notes else "")
        return self.message

    def _discriminator(self, config):
        """The checkpoint's D when the loss uses its features ('d'); None otherwise."""
        from .engine.perceptual import parse_loss
        if "d" not in [name for _, name in parse_loss(config.loss)]:
            return None
        if not self.checkpoint:
            raise DragGANError("the 'd' loss needs the checkpoint's discriminator: open the model from its file")
        from stylegan2 import load_discriminator
        return load_discriminator(self.checkpoint, self.device)

    def inversion_step(self) -> bool:
        """One step of the inversion in progress; True when it finished (the photo is then the image)."""
        run = self.inversion
        if run is None:
            return False
        try:
            p = run.inv.step()
            s = run.status
            preview = p.preview if p.preview is not None else s.preview
            run.status = InversionStatus(s.path, p.stage, p.step, p.stage_steps, p.done_steps, p.total_steps,
                                         float(p.loss), s.target, preview, s.notes,
                                         time.perf_counter() - run.started)
            if run.inv.done:
                self._finish_inversion(run)
                return True
        except BaseException:
            self.inversion = None  # a failed inversion leaves the editor as it was
            raise
        return False

    def cancel_inversion(self) -> str:
        if self.inversion is None:
            return self.message
        name = Path(self.inversion.status.path).name
        self.inversion = None
        self.message = f"inversion of {name} cancelled; the image is unchanged"
        return self.message

    def _finish_inversion(self, run: _Running) -> None:
        res = run.inv.result()
        ws = res.ws.detach().to(self.device, torch.float32)  # [1, L, D]
        base = self.base_G
        tuned = res.G is not base
        photo = PhotoSource(run.status.path, run.box, tuned, res.G, base, run.status.notes, res.psnr,
                            base_checkpoint=self.checkpoint)
        if self.session is not None:
            self._push_history()  # Undo brings the previous image (and its generator) back
        self.inversion = None
        self._use_generator(res.G, ws)
        self.photo, self.latent_source = photo, None
        self.ws0 = ws.clone()
        self.session.set_latent(self.ws0)
        self.points, self.paint = Points(), None
        self.session.set_mask(None)
        self._replaced()
        self.changes += 1
        how = ", ".join({"w": "W", "w+": "W+", "pti": "pivotal tuning"}[k] for k in res.stages)
        self.message = (f"opened {Path(photo.path).name} as the image ({how}, PSNR {res.psnr:.1f} dB, "
                        f"{res.seconds:.0f} s; Undo brings the previous image back)")

    # ---- generators and the undo history ----
    def _use_generator(self, G, ws: torch.Tensor | None = None) -> None:
        """Edit on generator G from now on (a photo's tuned copy, or back to the checkpoint's)."""
        if G is self.G and self.session is not None:
            return
        ws = self.session.current_ws() if ws is None else ws
        session = DragSession(G, ws, self.config, device=self.device)
        session.set_mask(mask_from_paint(self.paint))
        self.G, self.session = G, session

    def _origin(self):
        from .history import ImageOrigin
        return ImageOrigin(self.seed, self.psi, self.latent_source, self.ws0.detach().cpu().clone(), self.photo)

    def _restore_origin(self, origin) -> None:
        """Undo / redo brought back an image: its generator, its source, what Reset returns to."""
        base = self.base_G
        self._use_generator(origin.photo.generator if origin.photo is not None else base)
        self.photo = origin.photo
        self.seed, self.psi, self.latent_source = origin.seed, origin.psi, origin.latent_source
        self.ws0 = origin.original.to(self.device)

    def _leave_photo(self) -> None:
        """A new seed is drawn on the checkpoint's generator, not on a photo's tuned copy."""
        if self.photo is not None:
            self._use_generator(self.photo.base_G)
            self.photo = None

    def _session_photo(self, data, G) -> PhotoSource | None:
        """A reopened session's photo. Its generator (tuned or not) is the session's checkpoint, so new seeds
        after reopening a tuned photo are drawn on the tuned weights (the base checkpoint is not loaded)."""
        d = data.photo
        if d is None:
            return None
        return PhotoSource(d["path"], tuple(d["box"]) if d["box"] else None, d["tuned"], G, G, tuple(d["notes"]),
                           d["psnr"], d["base_checkpoint"])

    def photo_note(self) -> str:
        """One line on the current photo, for the status and the model panel ('' when the image is not one)."""
        p = self.photo
        if p is None:
            return ""
        psnr = f", PSNR {p.psnr:.1f} dB" if p.psnr is not None else ""
        return f"photo {Path(p.path).name}{' (tuned generator)' if p.tuned else ''}{psnr}"

