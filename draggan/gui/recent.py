"""Where the editor keeps its own files (imgui.ini, recent files): a config folder, never the working directory."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

MAX_RECENT = 10


def default_config_dir() -> Path:
    """$DRAGGAN_CONFIG_DIR, else the platform's config folder + draggan-editor."""
    if os.environ.get("DRAGGAN_CONFIG_DIR"):
        return Path(os.environ["DRAGGAN_CONFIG_DIR"])
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "draggan-editor"


class RecentFiles:
    """Recently opened checkpoints and sessions, newest first; kept in memory only when `path` is None."""

    def __init__(self, path: Path | None):
        self.path = path
        self.items: list[str] = []
        if path is not None and path.is_file():
            try:
                items = json.loads(path.read_text())
                self.items = [str(p) for p in items if isinstance(p, str)][:MAX_RECENT]
            except (OSError, ValueError):
                self.items = []  # a broken list is not worth an error: start a new one

    def add(self, file: str) -> None:
        file = str(Path(file).expanduser().resolve())
        self.items = [file] + [p for p in self.items if p != file][:MAX_RECENT - 1]
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.write_text(json.dumps(self.items, indent=1))
            except OSError:
                pass  # read-only home: recent files are a convenience
