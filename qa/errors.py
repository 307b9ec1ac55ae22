"""One error hierarchy. Stages raise; the runner records the failure for that call and moves on.

Every message names what is wrong (the file, the field) and, where there is one, the fix. Messages never contain
transcript text.
"""

from __future__ import annotations


class QAError(Exception):
    """Base of every error callqa reports to a user (no stack trace is shown for these)."""

    kind = "error"


class InputError(QAError):
    """A recording that cannot be processed: missing, unreadable, not audio, corrupt, empty, silent, too long."""

    kind = "input"


class AudioDecodeError(InputError):
    kind = "audio_decode"


class EmptyAudioError(InputError):
    kind = "empty_audio"


class SilentAudioError(InputError):
    kind = "silent_audio"


class AudioTooLongError(InputError):
    kind = "audio_too_long"


class ConfigError(QAError):
    """A configuration file, manifest or option has a bad value."""

    kind = "config"


class ModelNotFoundError(ConfigError):
    kind = "model_not_found"


class StageError(QAError):
    """A stage failed on a call for a reason that is not the input's fault."""

    kind = "stage"


class OutputError(QAError):
    """Results could not be written (disk full, permissions)."""

    kind = "output"
