"""The editor's exports: the image as PNG with provenance, the latent, the animation, the session.

editor -> here -> disk. A mixin of `draggan.editor.Editor`, kept apart so each file
stays one concern. Every path is checked before anything is computed and written
atomically (`draggan.outputs`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .animation import DEFAULT_SIZE, HOLD_S, DragFrame, compose
from .errors import DragGANError
from .images import save_png
from .outputs import check_output, os_error_message, write_output
from .session_file import SessionData, generator_path, save_session, weights_fingerprint
from .video import check_animation_format, save_animation

ANIMATION_SUFFIXES = (".gif", ".mp4")


class Exports:
    """Needs from the editor: `session`, `G`, `seed`, `psi`, `latent_source`, `checkpoint`, `points`, `paint`,
    `config`, `ws0`, `log`, `image`, `message`, `changes`, `saved_changes`, `_fingerprint` (of `base_G`), `photo`,
    `base_G`, `_need_session()`."""

    def provenance(self) -> dict[str, str]:
        """PNG text metadata: where the image came from and the points that made it."""
        source = {"latent": self.latent_source} if self.latent_source else \
            {"seed": str(self.seed), "truncation_psi": f"{self.psi:g}"}
        if self.photo is not None:  # a person's own picture, inverted and edited
            source = {"photo": Path(self.photo.path).name,
                      "generator": "tuned to the photo (pivotal tuning)" if self.photo.tuned else "the checkpoint's"}
        return {**source, "checkpoint": Path(self.checkpoint or "").name,
                "points": json.dumps({"handles": self.points.handles, "targets": self.points.targets})}

    def save_image(self, path: str | Path) -> str:
        path = check_output(path, (".png",), "image")
        pixels = self._need_session().render()
        write_output(path, lambda tmp: save_png(tmp, pixels, self.provenance()))
        self.message = f"saved image {path}"
        return self.message

    def save_latent(self, path: str | Path) -> str:
        path = check_output(path, (".npy",), "latent")
        ws = self._need_session().current_ws().cpu().numpy()
        write_output(path, lambda tmp: np.save(tmp, ws))
        self.message = f"saved latent {path} (W+ [1, {self.G.num_ws}, {self.G.w_dim}])"
        return self.message

    def save_animation(self, path: str | Path, fps: float = 15.0, size: int = DEFAULT_SIZE, points: bool = True) -> str:
        """The drags since the image was last replaced, scaled up to `size` with the points drawn (`animation`)."""
        path = check_output(path, ANIMATION_SUFFIXES, "animation")
        check_animation_format(path)
        frames = self.animation_frames()
        if len(frames) < 2:
            raise DragGANError("nothing to animate yet: run an edit first")
        pictures = compose(frames, size, points)
        write_output(path, lambda tmp: save_animation(pictures, tmp, fps, hold_s=HOLD_S))
        self.message = f"saved animation {path} ({len(pictures)} frames, {pictures[0].shape[1]} px wide)"
        return self.message

    def animation_frames(self) -> list[DragFrame]:
        """The frames of the drags since the image was last replaced, ending on the image shown."""
        frames = list(self.log.frames)
        if frames and self.image is not None and self.image is not frames[-1].image:
            frames.append(DragFrame(self.image, frames[-1].handles, frames[-1].targets))
        return frames

    def session_data(self, path: str | Path | None = None) -> SessionData:
        """The session to save at `path`; a photo's tuned generator is written beside it first (`generator_path`)."""
        s = self._need_session()
        if self._fingerprint is None:
            self._fingerprint = weights_fingerprint(self.base_G)
        checkpoint, fingerprint, photo = self.checkpoint, self._fingerprint, None
        if self.photo is not None:
            p = self.photo
            photo = {"path": p.path, "box": list(p.box) if p.box else None, "tuned": p.tuned,
                     "base_checkpoint": p.base_checkpoint, "psnr": p.psnr, "notes": list(p.notes)}
            if p.tuned:
                if path is None:
                    raise DragGANError("a tuned photo's session is saved with its generator: give the session's path")
                checkpoint, fingerprint = self._save_generator(generator_path(path))
        handles, targets = self.points.arrays()
        return SessionData(checkpoint, self.size, self.seed, self.psi, s.current_ws().cpu().numpy(),
                           self.ws0.cpu().numpy(), handles, targets, self.paint, self.config, fingerprint, photo)

    _written_generator: tuple | None = None  # (file, fingerprint) last written by `_save_generator`
    _tuned_fingerprint: tuple | None = None  # (generator, fingerprint) of the last tuned generator hashed

    def _save_generator(self, target: Path) -> tuple[str, str]:
        """Write the photo's tuned generator to `target` (native safetensors, never pickle) -> (path, fingerprint)."""
        from stylegan2.readers.native import save_native
        G = self.photo.generator
        if G is self.base_G:
            fingerprint = self._fingerprint
        else:
            if self._tuned_fingerprint is None or self._tuned_fingerprint[0] is not G:
                self._tuned_fingerprint = (G, weights_fingerprint(G))
            fingerprint = self._tuned_fingerprint[1]
        key = (str(target.resolve()), fingerprint)
        if self._written_generator != key or not target.is_file():  # autosaves do not rewrite the same weights
            meta = {"note": "generator tuned to a photo (pivotal tuning, Roich et al. 2021) by draggan-editor",
                    "photo": Path(self.photo.path).name, "base_checkpoint": Path(self.photo.base_checkpoint or "").name}
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                save_native(G, target, meta)
            except OSError as e:
                raise DragGANError(os_error_message(e, target)) from None
            self._written_generator = key
        return str(target.resolve()), fingerprint

    def save_session(self, path: str | Path) -> str:
        path = check_output(path, (".json",), "session")
        save_session(path, self.session_data(path))
        self.session_path = str(path.resolve())
        self.saved_changes = self.changes
        self.message = f"saved session {path}"
        return self.message

    def autosave(self, path: str | Path) -> bool:
        """Write a crash-recovery copy of the session when there is unsaved work. True if written."""
        if self.session is None or not self.dirty:
            return False
        save_session(path, self.session_data(path))
        return True
