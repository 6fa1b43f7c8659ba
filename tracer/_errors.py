"""One exception hierarchy for the whole tool.

Every error carries the offending value and, where one exists, the fix; the CLI turns
any ``TracerError`` into a one-line ``Error: ...`` message and a documented exit code.
"""

from __future__ import annotations


class TracerError(Exception):
    """Base class: something the user can act on (bad input, bad index, bad config)."""

    exit_code = 1


class InputError(TracerError):
    """The article or document given to tracer cannot be used as it is."""

    exit_code = 2


class ConfigError(TracerError):
    """A configuration file or option has a wrong key or value."""

    exit_code = 2


class ReferenceIndexError(TracerError):
    """The reference index is missing, locked, damaged or built for another model."""

    exit_code = 3


class ModelError(TracerError):
    """The embedding model cannot be prepared or loaded."""

    exit_code = 4
