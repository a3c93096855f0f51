"""The one exception type for problems a user can cause with a checkpoint file."""


class CheckpointError(ValueError):
    """A checkpoint could not be read: the message says what was wrong and what to do."""
