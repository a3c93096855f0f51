"""Native open / save dialogs (imgui-bundle's portable-file-dialogs), with the path fields as the fallback.

actions -> here -> app. A dialog runs in its own process (zenity, kdialog, ... on
Linux; the system dialog on Windows and macOS) and is polled once per frame, so
the editor keeps drawing while it is open. Where no dialog program exists (a bare
server, a container, Xvfb), `available` is False and the actions fall back to the
typed path fields, saying so.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from typing import Callable

LINUX_BACKENDS = ("zenity", "matedialog", "qarma", "kdialog")  # what portable-file-dialogs runs on Linux
NO_DIALOG = "no file dialog on this system (install zenity or kdialog for one): type the path into the field"

CHECKPOINT_FILTERS = ["Checkpoints (.pkl .pt .safetensors)", "*.pkl *.pt *.pth *.safetensors", "All files", "*"]
SESSION_FILTERS = ["Sessions (.json)", "*.json", "All files", "*"]
PHOTO_FILTERS = ["Pictures (.png .jpg .webp .bmp .tif .gif)", "*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif",
                 "All files", "*"]
SAVE_FILTERS = {"image": ["PNG image", "*.png"], "latent": ["NumPy latent", "*.npy"],
                "session": ["Session", "*.json"], "gif": ["GIF animation", "*.gif"], "mp4": ["MP4 video", "*.mp4"]}


def dialog_available() -> bool:
    """Can a native dialog open here? On Linux it needs one of the dialog programs on PATH."""
    if sys.platform.startswith(("linux", "freebsd", "openbsd")):
        return any(shutil.which(b) for b in LINUX_BACKENDS)
    return sys.platform in ("win32", "darwin")


@dataclass
class _Pending:
    dialog: object  # pfd.open_file or pfd.save_file
    on_done: Callable[[str], None]


class FileDialogs:
    def __init__(self, available: bool | None = None):
        self.available = dialog_available() if available is None else available
        self._pending: _Pending | None = None

    @property
    def busy(self) -> bool:
        return self._pending is not None

    def open_file(self, title: str, filters: list[str], on_done: Callable[[str], None], default: str = "") -> bool:
        """Ask for a file to open; `on_done(path)` runs when the user picks one. False: no dialog here."""
        from imgui_bundle import portable_file_dialogs as pfd
        return self._start(lambda: pfd.open_file(title, default, filters), on_done)

    def save_file(self, title: str, default: str, filters: list[str], on_done: Callable[[str], None]) -> bool:
        """Ask where to save (starting at `default`); `on_done(path)` runs with the answer. False: no dialog here."""
        from imgui_bundle import portable_file_dialogs as pfd
        return self._start(lambda: pfd.save_file(title, default, filters, pfd.opt.force_overwrite), on_done)

    def _start(self, make, on_done) -> bool:
        if not self.available:
            return False
        if self._pending is None:  # one dialog at a time; a second request while one is open does nothing
            self._pending = _Pending(make(), on_done)
        return True

    def poll(self) -> None:
        """Once per frame: hand a finished dialog's answer over (a cancelled one gives nothing)."""
        p = self._pending
        if p is None or not p.dialog.ready(0):
            return
        self._pending = None
        result = p.dialog.result()
        path = (result[0] if result else "") if isinstance(result, list) else result
        if path:
            p.on_done(path)
