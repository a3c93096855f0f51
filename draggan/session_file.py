"""Edit sessions on disk: one JSON file that reopens an edit where it was left.

worker -> here -> file -> here -> worker. A session holds the checkpoint path, the
seed and truncation, the current and the original latent (W+, float32, base64 with
its shape), the points, the painted mask (a PNG inside the JSON) and the drag
settings (`DragConfig` fields). No pickle: reading a session runs no code, and
`load_session` checks every field, raising `DragGANError` that says what is wrong.

An image inverted from a photo adds a `photo` object (the picture, its crop, whether the
generator was tuned). After pivotal tuning the tuned weights are written beside the
session as `<session>.generator.safetensors` (`generator_path`, the native format of
`stylegan2.readers.native`) and the session's `checkpoint` names that file, so its
fingerprint is the tuned weights'. Files without `photo` (all older ones) load as before.

Dimension legend: L num_ws, D w_dim, n handles, m targets (m <= n), H/W image size.
"""

from __future__ import annotations

import base64
import math
import hashlib
import binascii
import io
import json
import os
import types
import typing
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from . import __version__
from .engine.config import DragConfig
from .errors import DragGANError
from .images import PROVENANCE
from .mask import FIXED, MOVABLE, UNPAINTED
from .outputs import os_error_message, write_output
from .limits import brief
from .points import validate_pairs

FORMAT = "draggan-session"
VERSION = 1
MAX_SESSION_BYTES = 256 * 2 ** 20  # a 1024 px session with a full mask is about 0.3 MB
_PAINT_CODES = {UNPAINTED: 0, MOVABLE: 1, FIXED: 2}  # paint value -> PNG grey level (PNG has no negatives)
GENERATOR_SUFFIX = ".generator.safetensors"  # a tuned photo generator, beside its session
PHOTO_KEYS = {"path": "the picture file", "box": "crop [x0, y0, x1, y1] in picture px, or null (centre)",
              "tuned": "the generator was tuned (pivotal tuning): 'checkpoint' is the tuned file",
              "base_checkpoint": "the checkpoint the tuning started from", "psnr": "reconstruction PSNR, dB",
              "notes": "what loading the picture changed"}


def generator_path(session_path: str | os.PathLike) -> Path:
    """Where a session's tuned generator goes: 'a/edit.session.json' -> 'a/edit.session.generator.safetensors'."""
    path = Path(session_path)
    return path.with_name(path.stem + GENERATOR_SUFFIX)


@dataclass
class SessionData:
    checkpoint: str | None  # path of the generator's checkpoint (as absolute as it was known)
    size: tuple[int, int] | int  # (H, W) of the image the points and mask refer to, px (an int: square)
    seed: int  # image seed (NVIDIA convention)
    truncation_psi: float
    latent: np.ndarray  # float32 [1, L, D] the current (edited) W+
    latent_original: np.ndarray | None  # float32 [1, L, D] the image before editing (what Reset returns to)
    handles: np.ndarray  # [n, 2] (x, y) px
    targets: np.ndarray  # [m, 2], m <= n: targets[i] belongs to handles[i]
    paint: np.ndarray | None  # int8 [H, W] brush layer (see draggan.mask), None = nothing painted
    config: DragConfig
    checkpoint_fingerprint: str | None = None  # weights_fingerprint() of the generator; None in older files
    photo: dict | None = None  # the image is an inverted photo: PHOTO_KEYS (see `_decode_photo`); None = a seed

    def __post_init__(self):
        if isinstance(self.size, (int, np.integer)):
            self.size = (int(self.size), int(self.size))
        self.size = (int(self.size[0]), int(self.size[1]))

    @property
    def resolution(self) -> int:
        """Image height, px (the generator's img_resolution)."""
        return self.size[0]


# ---- encoding ----

def _encode_array(a: np.ndarray) -> dict:
    a = np.ascontiguousarray(a, dtype="<f4")
    return {"dtype": "float32", "shape": list(a.shape), "base64": base64.b64encode(a.tobytes()).decode("ascii")}


def _encode_paint(paint: np.ndarray) -> dict:
    codes = np.zeros(paint.shape, dtype=np.uint8)
    for value, code in _PAINT_CODES.items():
        codes[paint == value] = code
    buf = io.BytesIO()
    Image.fromarray(codes, mode="L").save(buf, format="PNG", optimize=True)
    return {"shape": list(paint.shape), "png_base64": base64.b64encode(buf.getvalue()).decode("ascii"),
            "codes": {"0": "unpainted", "1": "movable", "2": "fixed"}}


def save_session(path: str | os.PathLike, data: SessionData) -> None:
    """Write `data` as a session JSON file (parent folders are created)."""
    path = Path(path)
    ckpt = None
    if data.checkpoint:
        ckpt = str(Path(data.checkpoint).resolve())
    doc = {
        "format": FORMAT, "version": VERSION, "software": f"draggan-editor {__version__}", "note": PROVENANCE,
        "checkpoint": ckpt, "resolution": int(data.resolution), "size": list(data.size), "seed": int(data.seed),
        "truncation_psi": float(data.truncation_psi),
        "latent": _encode_array(data.latent),
        "latent_original": None if data.latent_original is None else _encode_array(data.latent_original),
        "points": {"handles": np.asarray(data.handles, dtype=float).reshape(-1, 2).tolist(),
                   "targets": np.asarray(data.targets, dtype=float).reshape(-1, 2).tolist()},
        "paint": None if data.paint is None or not data.paint.any() else _encode_paint(data.paint),
        "settings": asdict(data.config),
        "checkpoint_fingerprint": data.checkpoint_fingerprint,
    }
    if data.photo is not None:
        doc["photo"] = data.photo
    text = json.dumps(doc, indent=1)
    write_output(path, lambda tmp: tmp.write_text(text))  # a crash mid-write leaves the old session intact


def weights_fingerprint(G) -> str:
    """'sha256:...' of the generator's weights and buffers (names, shapes, values): which model a session needs.

    Hashes what the network computes with, not the file, so the same weights read from
    an NVIDIA pickle or from its converted .safetensors have the same fingerprint.
    """
    h = hashlib.sha256()
    for name, t in sorted(G.state_dict().items()):
        a = t.detach().to("cpu", torch.float32).contiguous().numpy()
        h.update(f"{name}:{list(a.shape)};".encode())
        h.update(a.tobytes())
    return "sha256:" + h.hexdigest()


def is_session_file(path: str | os.PathLike) -> bool:
    """Does the file look like a session (JSON naming our format), whatever its name? Reads its start only."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.lstrip()[:1] == b"{" and f'"format": "{FORMAT}"'.encode() in head.replace(b'":"', b'": "')


# ---- decoding and validation ----

def _fail(path: Path, what: str) -> DragGANError:
    return DragGANError(f"session '{path}': {what}")


def _decode_array(path: Path, key: str, value) -> np.ndarray:
    if not isinstance(value, dict) or not {"dtype", "shape", "base64"} <= set(value):
        raise _fail(path, f"'{key}' must be an object with 'dtype', 'shape' and 'base64'")
    if value["dtype"] != "float32":
        raise _fail(path, f"'{key}' has dtype {value['dtype']!r}; only float32 is supported")
    shape = value["shape"]
    if not (isinstance(shape, list) and len(shape) == 3 and shape[0] == 1
            and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)):
        raise _fail(path, f"'{key}' shape must be [1, num_ws, w_dim], got {shape!r}")
    try:
        raw = base64.b64decode(value["base64"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise _fail(path, f"'{key}' is not valid base64") from None
    needed = 4 * math.prod(shape)  # Python ints: a hostile shape cannot overflow
    if len(raw) != needed:
        raise _fail(path, f"'{key}' holds {len(raw)} bytes, but shape {shape} needs {needed}")
    arr = np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)
    if not np.isfinite(arr).all():
        raise _fail(path, f"'{key}' contains NaN or infinity")
    return arr


def _decode_points(path: Path, value, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(value, dict) or set(value) != {"handles", "targets"}:
        raise _fail(path, "'points' must be {\"handles\": [[x, y], ...], \"targets\": [[x, y], ...]}")
    return validate_pairs(value["handles"], value["targets"], size, complete=False,
                          what=f"session '{path}'")


def _decode_paint(path: Path, value, size: tuple[int, int]) -> np.ndarray | None:
    if value is None:
        return None
    if not isinstance(value, dict) or "png_base64" not in value:
        raise _fail(path, "'paint' must be null or an object with 'png_base64'")
    try:
        img = Image.open(io.BytesIO(base64.b64decode(value["png_base64"], validate=True)))
    except Image.DecompressionBombError:
        raise _fail(path, f"'paint' claims an image far larger than the {size[1]}x{size[0]} model "
                          "(a decompression bomb?)") from None
    except (binascii.Error, TypeError, ValueError, UnidentifiedImageError, OSError):
        raise _fail(path, "'paint' is not a base64 PNG") from None
    if img.size != (size[1], size[0]):  # checked before decoding: no decompression bomb
        raise _fail(path, f"'paint' is {img.size[0]}x{img.size[1]}, the image is {size[1]}x{size[0]}")
    try:
        img.load()
    except (ValueError, OSError, Image.DecompressionBombError):
        raise _fail(path, "'paint' is not a readable PNG") from None
    if img.mode != "L":
        raise _fail(path, f"'paint' must be a greyscale PNG, got mode {img.mode}")
    codes = np.asarray(img)
    if codes.shape != tuple(size):
        raise _fail(path, f"'paint' is {codes.shape[1]}x{codes.shape[0]}, the image is {size[1]}x{size[0]}")
    if not np.isin(codes, list(_PAINT_CODES.values())).all():
        raise _fail(path, "'paint' may only hold 0 (unpainted), 1 (movable) and 2 (fixed)")
    paint = np.zeros(codes.shape, dtype=np.int8)
    for v, code in _PAINT_CODES.items():
        paint[codes == code] = v
    return paint


def _decode_photo(path: Path, value) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("path"), str):
        raise _fail(path, "'photo' must be null or an object with the picture's 'path'")
    unknown = sorted(set(value) - set(PHOTO_KEYS))
    if unknown:
        raise _fail(path, f"unknown 'photo' keys {unknown}; known ones are {sorted(PHOTO_KEYS)}")
    box = value.get("box")
    if box is not None and not (isinstance(box, list) and len(box) == 4 and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in box) and box[0] < box[2]
            and box[1] < box[3]):
        raise _fail(path, f"'photo.box' must be null or [x0, y0, x1, y1] with x0 < x1, y0 < y1, got {brief(box)}")
    if not isinstance(value.get("tuned", False), bool):
        raise _fail(path, "'photo.tuned' must be true or false")
    base = value.get("base_checkpoint")
    if base is not None and not isinstance(base, str):
        raise _fail(path, "'photo.base_checkpoint' must be a path or null")
    psnr = value.get("psnr")
    if psnr is not None and (not isinstance(psnr, (int, float)) or isinstance(psnr, bool) or not math.isfinite(psnr)):
        raise _fail(path, f"'photo.psnr' must be a number or null, got {brief(psnr)}")
    notes = value.get("notes", [])
    if not (isinstance(notes, list) and all(isinstance(n, str) for n in notes)):
        raise _fail(path, "'photo.notes' must be a list of strings")
    return {"path": value["path"], "box": box, "tuned": value.get("tuned", False), "base_checkpoint": base,
            "psnr": psnr, "notes": notes}


def _allowed_types(annotation) -> tuple[type, ...]:
    hint = typing.get_type_hints(DragConfig)[annotation] if isinstance(annotation, str) else annotation
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union \
        else (hint,)
    allowed = tuple(a for a in args if a is not type(None))
    if float in allowed:
        allowed = allowed + (int,)  # JSON writes 2.0 as 2.0 but a hand-edited file may say 2
    return allowed + ((type(None),) if type(None) in args else ())


def _decode_config(path: Path, value) -> DragConfig:
    if not isinstance(value, dict):
        raise _fail(path, "'settings' must be an object of drag settings")
    known = {f.name: f for f in fields(DragConfig)}
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise _fail(path, f"unknown settings {unknown}; known ones are {sorted(known)}")
    for name, v in value.items():
        allowed = _allowed_types(name)
        if isinstance(v, bool) and bool not in allowed or not isinstance(v, allowed):
            raise _fail(path, f"setting '{name}' = {v!r} has the wrong type "
                              f"(expected {' or '.join(t.__name__ for t in allowed)})")
    try:
        return DragConfig(**value)
    except DragGANError as e:
        raise _fail(path, f"bad settings: {e}") from None


def load_session(path: str | os.PathLike) -> SessionData:
    """Read and check a session file; any problem raises `DragGANError` naming the field."""
    path = Path(path)
    if path.is_dir():
        raise DragGANError(f"'{path}' is a folder, not a session file")
    if path.is_file() and path.stat().st_size > MAX_SESSION_BYTES:
        raise _fail(path, f"{path.stat().st_size} bytes is too large for a session "
                          f"(at most {MAX_SESSION_BYTES // 2 ** 20} MB)")
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise DragGANError(f"no session file at '{path}'") from None
    except OSError as e:
        raise DragGANError(os_error_message(e, path, "read")) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _fail(path, f"not a JSON file ({e})") from None
    except RecursionError:
        raise _fail(path, "the JSON is nested too deeply to be a session") from None
    except ValueError as e:  # e.g. an integer of thousands of digits
        raise _fail(path, f"not a session ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _fail(path, f"not a draggan session (no \"format\": \"{FORMAT}\")")
    if doc.get("version") != VERSION:
        raise _fail(path, f"version {doc.get('version')!r} is not supported (this editor reads version {VERSION})")
    missing = sorted({"checkpoint", "resolution", "seed", "truncation_psi", "latent", "points", "settings"} - set(doc))
    if missing:
        raise _fail(path, f"missing fields {missing}")
    res = doc["resolution"]
    if not isinstance(res, int) or isinstance(res, bool) or res < 4:
        raise _fail(path, f"'resolution' must be an image size in px, got {res!r}")
    size = doc.get("size", [res, res])  # older sessions: square images
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                               and v >= 4 for v in size) and size[0] == res):
        raise _fail(path, f"'size' must be [height, width] in px with height = 'resolution', got {brief(size)}")
    size = (size[0], size[1])
    seed, psi = doc["seed"], doc["truncation_psi"]
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2 ** 32:
        raise _fail(path, f"'seed' must be an integer in [0, 2^32), got {seed!r}")
    if not isinstance(psi, (int, float)) or isinstance(psi, bool) or not np.isfinite(psi):
        raise _fail(path, f"'truncation_psi' must be a number, got {psi!r}")
    ckpt = doc["checkpoint"]
    if ckpt is not None and not isinstance(ckpt, str):
        raise _fail(path, "'checkpoint' must be a path or null")
    latent = _decode_array(path, "latent", doc["latent"])
    original = None
    if doc.get("latent_original") is not None:
        original = _decode_array(path, "latent_original", doc["latent_original"])
        if original.shape != latent.shape:
            raise _fail(path, f"'latent_original' has shape {original.shape}, 'latent' {latent.shape}")
    handles, targets = _decode_points(path, doc["points"], size)
    paint = _decode_paint(path, doc.get("paint"), size)
    config = _decode_config(path, doc["settings"])
    fingerprint = doc.get("checkpoint_fingerprint")
    if fingerprint is not None and not (isinstance(fingerprint, str) and fingerprint.startswith("sha256:")):
        raise _fail(path, "'checkpoint_fingerprint' must be null or 'sha256:...'")
    photo = _decode_photo(path, doc.get("photo"))
    return SessionData(ckpt, size, seed, float(psi), latent, original, handles, targets, paint, config, fingerprint,
                       photo)


def find_checkpoint(data: SessionData, session_path: str | os.PathLike) -> Path:
    """The session's checkpoint: its stored path, else a file of that name beside the session."""
    if not data.checkpoint:
        raise DragGANError(f"session '{session_path}' names no checkpoint; open the model first")
    stored = Path(data.checkpoint)
    if stored.is_file():
        return stored
    beside = Path(session_path).resolve().parent / stored.name
    if beside.is_file():
        return beside
    raise DragGANError(f"the session's checkpoint '{stored}' was not found (nor '{beside.name}' beside the session)")
