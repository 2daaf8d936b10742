"""Every exception this package raises on purpose, each with a message a user can act on.

A :class:`ConfigError` (and its kinds) is the command line's exit 2: the message is one line naming the key,
file or process; the others are reasons that end up in a file's row.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration problem; the message is one line that names the key or file."""


class MappingError(ConfigError):
    """A UID mapping file that cannot be used; the message names the file and the line or column."""


class MissingDependency(ConfigError):
    """An optional library a configured feature needs is not installed; the message says how to install it."""


class RunFolderBusy(ConfigError):
    """Another process is running on this run folder."""


class HeaderError(Exception):
    """A file whose DICOM header cannot be read; the message is the reason users see."""


class NotDicomError(HeaderError):
    """A file that is not DICOM at all."""

    def __init__(self) -> None:
        super().__init__("not a DICOM file")


class DecodeError(RuntimeError):
    """Pixel data that the installed decoders cannot decode; the message is the reason users see."""


class PatternError(ValueError):
    """A classifier folder pattern that names an unknown keyword or is malformed."""
