"""How the command line writes values: one timestamp format for every command's output."""

from __future__ import annotations

from datetime import datetime, timezone


def timestamp(value: datetime | str | None, missing: str = "never") -> str:
    """ISO 8601 in UTC to the second with a `Z` (2025-01-31T09:15:02Z); `missing` for None.

    Accepts a datetime (naive means UTC) or the admin API's ISO text.
    """
    if value is None:
        return missing
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
