"""Writing the user's files safely: checked before the work starts, written atomically.

CLI / editor -> here -> disk. `check_output` refuses a path before any work is
done (unknown extension, a parent that is a file, a folder that cannot be
written, a path that is one of the inputs). `write_outputs` writes every file of
one result to a temporary name beside its target and renames each only after all
were written: a failure or Ctrl-C never leaves a 0-byte or truncated file and never
destroys an earlier save, and two runs writing the same names cannot mix their files.
OS errors (full disk, read-only folder) become one `DragGANError` line.
"""

from __future__ import annotations

import errno
import os
import uuid
from pathlib import Path
from typing import Callable, Iterable

from .errors import DragGANError

_REASONS = {errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
            errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.ENOTDIR: "a part of the path is a file, not a folder", errno.EISDIR: "it is a folder",
            errno.ENAMETOOLONG: "the name is too long", errno.EDQUOT: "the disk quota is exceeded"}


def os_error_message(e: OSError, path: str | os.PathLike, action: str = "write") -> str:
    reason = _REASONS.get(e.errno, e.strerror or str(e))
    return f"cannot {action} '{path}': {reason}"


def check_image_outputs(out: str | os.PathLike, what: str, inputs: Iterable[str | os.PathLike | None] = ()
                        ) -> tuple[Path, Path, Path]:
    """OUT.png and the OUT.latent.npy and OUT.json written beside it, each checked -> their paths."""
    inputs = list(inputs)
    image = check_output(out, (".png",), what, inputs)
    stem = image.with_suffix("")
    latent = check_output(f"{stem}.latent.npy", (".npy",), f"latent (written beside the {what})", inputs)
    report = check_output(f"{stem}.json", (".json",), f"report (written beside the {what})", inputs)
    return image, latent, report


def check_output(path: str | os.PathLike, suffixes: Iterable[str], what: str,
                 inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """Check that `path` can be written as `what` -> Path, or raise `DragGANError` saying why.

    suffixes: the accepted extensions ('.png', ...); inputs: files the same command
    reads, which must never be overwritten (compared as resolved paths).
    """
    if path is None or not str(path).strip():
        raise DragGANError(f"give a file name for the {what}")
    path = Path(path).expanduser()
    suffixes = tuple(s.lower() for s in suffixes)
    if path.suffix.lower() not in suffixes:
        got = f"'{path.suffix}'" if path.suffix else "no extension"
        raise DragGANError(f"the {what} '{path}' has {got}; name it *{' or *'.join(suffixes)}")
    if not path.name[:-len(path.suffix)].strip("."):
        raise DragGANError(f"the {what} '{path}' has no name before its extension")
    if path.is_dir():
        raise DragGANError(f"the {what} '{path}' is a folder; give a file name")
    for inp in inputs:
        if inp and _same_file(path, Path(inp)):
            raise DragGANError(f"the {what} '{path}' is also an input of this command; "
                               "choose another output name so the input is not overwritten")
    parent = path.parent if str(path.parent) else Path(".")
    existing = parent
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise DragGANError(f"cannot write the {what} '{path}': '{existing}' is a file, not a folder")
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise DragGANError(f"cannot write the {what} '{path}': the folder '{existing}' is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise DragGANError(f"cannot write the {what} '{path}': the file exists and is read-only")
    return path


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return a.samefile(b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def write_outputs(writers: Iterable[tuple[str | os.PathLike, Callable[[Path], None]]]) -> None:
    """Write each (path, writer) to a temporary file, then rename all; nothing half-written survives.

    writer(tmp_path) writes the whole file to tmp_path; the temporary keeps the final
    suffix so writers that pick a format by extension (Pillow, imageio) still work.
    """
    done: list[tuple[Path, Path]] = []
    try:
        for path, writer in writers:
            path = Path(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise DragGANError(os_error_message(e, path.parent, "create the folder")) from None
            tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
            done.append((tmp, path))
            try:
                writer(tmp)
            except OSError as e:
                raise DragGANError(os_error_message(e, path)) from None
        for tmp, path in done:
            try:
                os.replace(tmp, path)
            except OSError as e:
                raise DragGANError(os_error_message(e, path)) from None
    finally:
        for tmp, _ in done:
            if tmp.exists():
                try:
                    tmp.unlink()
                except OSError:
                    pass


def write_output(path: str | os.PathLike, writer: Callable[[Path], None]) -> None:
    """One file, atomically (see `write_outputs`)."""
    write_outputs([(path, writer)])
