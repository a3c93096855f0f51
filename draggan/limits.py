"""The ranges of the numbers a user types, and their checks: one place for the CLI and the files it reads.

command line / points file -> here -> engine. Every number is checked before any
work starts, so a NaN, an infinity or a value far outside what the method can use
is one `DragGANError` line, never a black image, a crash or a runaway allocation.
"""

from __future__ import annotations

import math
import numbers

from .errors import DragGANError

SEED_LIMIT = 2 ** 32  # seeds are fed to np.random.RandomState (NVIDIA's convention), which takes [0, 2^32)
DEFAULT_TRUNCATION = 0.7  # psi of every command and the editor, so one seed is one image everywhere
TRUNCATION_RANGE = (-2.0, 2.0)  # psi: 1 = none, 0.7 is common; beyond +-2 the latents leave anything the model saw
MAX_STEPS = 100_000  # optimisation steps of one drag; the paper stops at 300
LR_MAX = 1.0  # Adam step size in W; the paper uses 1e-3 .. 2e-3, and 1 already throws the image away
LAMBDA_MASK_MAX = 1e6  # weight of the fixed-region term; the paper uses 20
MAX_LAYERS = 1024  # optimised W+ rows; more than a model's num_ws means all of them
MAX_BLOCK = 2 ** 16  # feature block resolution; no model has a block this large
MAX_PAIRS = 100_000  # image pairs of the landmark benchmark; the README's full run uses 200
MAX_WORKERS = 256  # benchmark processes; each loads its own copy of the model
MAX_REPEATS = 100  # rounds of `draggan bench`'s alternating measurement
SYNTHETIC_RANGE = (16, 1024)  # px; `draggan bench --synthetic`: config-f generators of these sizes fit one machine


def brief(value) -> str:
    """A value for an error message, cut short (a 400-digit integer is not worth printing)."""
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def check_seed(value, what: str = "seed") -> int:
    """An integer seed in [0, 2^32) -> int, or raise `DragGANError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise DragGANError(f"{what} must be a whole number in [0, 2^32), got {brief(value)}")
    if not 0 <= int(value) < SEED_LIMIT:
        raise DragGANError(f"{what} must be in [0, 2^32) = [0, {SEED_LIMIT - 1}], got {brief(int(value))}")
    return int(value)


def check_int(value, what: str, lo: int, hi: int) -> int:
    """An integer in [lo, hi] -> int, or raise `DragGANError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise DragGANError(f"{what} must be a whole number, got {brief(value)}")
    if not lo <= int(value) <= hi:
        raise DragGANError(f"{what} must be in [{lo}, {hi}], got {brief(int(value))}")
    return int(value)


def check_float(value, what: str, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False) -> float:
    """A finite number in [lo, hi] ((lo, hi] with lo_open) -> float, or raise `DragGANError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DragGANError(f"{what} must be a number, got {brief(value)}")
    try:
        v = float(value)
    except OverflowError:
        raise DragGANError(f"{what} is too large, got {brief(value)}") from None
    if not math.isfinite(v):
        raise DragGANError(f"{what} must be a finite number, got {brief(value)}")
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise DragGANError(f"{what} must be {'>' if lo_open else '>='} {lo:g}, got {v:g}")
    if hi is not None and v > hi:
        raise DragGANError(f"{what} must be at most {hi:g}, got {v:g}")
    return v


def check_truncation(value, what: str = "truncation psi") -> float:
    return check_float(value, what, *TRUNCATION_RANGE)
