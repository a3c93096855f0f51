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
from .outputs import check_output, write_output
from .session_file import SessionData, save_session, weights_fingerprint
from .video import check_animation_format, save_animation

ANIMATION_SUFFIXES = (".gif", ".mp4")


class Exports:
    """Needs from the editor: `session`, `G`, `seed`, `psi`, `latent_source`, `checkpoint`, `points`, `paint`,
    `config`, `ws0`, `log`, `image`, `message`, `changes`, `saved_changes`, `_fingerprint`, `_need_session()`."""

    def provenance(self) -> dict[str, str]:
        """PNG text metadata: where the image came from and the points that made it."""
        source = {"latent": self.latent_source} if self.latent_source else \
            {"seed": str(self.seed), "truncation_psi": f"{self.psi:g}"}
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

    def session_data(self) -> SessionData:
        s = self._need_session()
        if self._fingerprint is None:
            self._fingerprint = weights_fingerprint(self.G)
        handles, targets = self.points.arrays()
        return SessionData(self.checkpoint, self.size, self.seed, self.psi, s.current_ws().cpu().numpy(),
                           self.ws0.cpu().numpy(), handles, targets, self.paint, self.config, self._fingerprint)

    def save_session(self, path: str | Path) -> str:
        path = check_output(path, (".json",), "session")
        save_session(path, self.session_data())
        self.session_path = str(path.resolve())
        self.saved_changes = self.changes
        self.message = f"saved session {path}"
        return self.message

    def autosave(self, path: str | Path) -> bool:
        """Write a crash-recovery copy of the session when there is unsaved work. True if written."""
        if self.session is None or not self.dirty:
            return False
        save_session(path, self.session_data())
        return True
