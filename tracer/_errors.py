"""One exception hierarchy for the whole tool.

Every error carries the offending value and, where one exists, the fix; the CLI turns
any ``TracerError`` into a one-line ``Error: ...`` message and a documented exit code, and
the service into a JSON error with an HTTP status and a stable code.
"""

from __future__ import annotations


class TracerError(Exception):
    """Base class: something the user can act on (bad input, bad index, bad config).

    ``cli_hint``: a fix that only makes sense on the command line ("pass --max-bytes N"); it
    follows the message in ``str(exc)``, and the service leaves it out (``message``).
    """

    exit_code = 1
    http_status = 500
    code = "error"

    def __init__(self, message: str = "", *, cli_hint: str | None = None) -> None:
        super().__init__(f"{message}; {cli_hint}" if cli_hint else message)
        self.message = message


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
