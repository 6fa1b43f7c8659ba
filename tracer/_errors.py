"""One exception hierarchy for the whole tool.

Every error carries the offending value and, where one exists, the fix; the CLI turns
any ``TracerError`` into a one-line ``Error: ...`` message and a documented exit code, and
the service into a JSON error with an HTTP status and a stable code.
"""

from __future__ import annotations


class TracerError(Exception):
    """Base class: something the user can act on (bad input, bad index, bad config)."""

    exit_code = 1
    http_status = 500
    code = "error"


class InputError(TracerError):
    """The article or document given to tracer cannot be used as it is."""

    exit_code = 2
    http_status = 400
    code = "bad_input"


class ConfigError(TracerError):
    """A configuration file or option has a wrong key or value."""

    exit_code = 2
    http_status = 400
    code = "bad_config"


class ReferenceIndexError(TracerError):
    """The reference index is missing, locked, damaged or built for another model."""

    exit_code = 3
    http_status = 503
    code = "index_unavailable"


class ModelError(TracerError):
    """The embedding model cannot be prepared or loaded."""

    exit_code = 4
    http_status = 503
    code = "model_unavailable"
