"""Exceptions with messages meant for a person, not a traceback.

Every failure the user can cause (a bad file, a bad setting, a diverging run)
is raised as one of these, so the CLI and the GUI can show ``str(error)`` and
carry on.
"""


class HmobError(Exception):
    """Base of every error this app reports to its user."""


class DataError(HmobError):
    """A data set file is missing, unreadable or not what it claims to be."""


class DataNotFoundError(DataError):
    """The data set files are not where we looked and could not be downloaded."""


class ChecksumError(DataError):
    """A file's content does not match the published SHA-256."""


class DownloadError(DataError):
    """Downloading a data set file failed (offline, HTTP error, interrupted)."""


class CheckpointError(HmobError):
    """A checkpoint file is missing, corrupt, foreign or of the wrong kind."""


class ConfigError(HmobError, ValueError):
    """A setting is out of range or inconsistent with another."""


class TrainingError(HmobError):
    """Training cannot go on (for example the loss became NaN or infinite)."""


class ExportError(HmobError):
    """An export could not be written."""
