"""Dates as they come from feeds, sitemaps, pages and the index, as aware instants."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_instant(value: str | None) -> datetime | None:
    """W3C/ISO 8601 (Atom, sitemaps, stored dates) or RFC 822 (RSS) to an aware datetime;
    dates without a zone count as UTC, junk gives None."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
