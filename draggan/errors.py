"""The exception type for mistakes a user can make (bad points, masks, sessions, settings).

Checkpoint problems raise `stylegan2.CheckpointError`; `USER_ERRORS` lists both, and
the CLI and GUI report either as a message instead of a traceback.
"""

from stylegan2.errors import CheckpointError


class DragGANError(ValueError):
    """Bad input from a user: the message says what was wrong and what to do."""


USER_ERRORS = (DragGANError, CheckpointError)
