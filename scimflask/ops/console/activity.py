"""What the log says about a tenant's recent traffic: hourly counts, last activity and health.

Health is read from the log alone: a disabled tenant is "disabled"; one with failed requests in
the last hour is "failing"; otherwise "ok". Backends without a provisioning log give "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..admin.service import AdminError
from .logview import LogQuery

HOURS = 24
# Entries one summary may read; past this the counts are marked incomplete.
MAX_ENTRIES = 20_000
_BATCH = 1000


def parse_time(text: str) -> datetime:
    """An entry's `time` ("2024-05-01T12:00:00.000Z") as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def entries_since(query: LogQuery, tenant: str, since: datetime,
                  max_entries: int = MAX_ENTRIES) -> tuple[list[dict], bool]:
    """The tenant's entries at or after `since`, newest first, and whether that is all of them."""
    found: list[dict] = []
    cursor = None
    while len(found) < max_entries:
        batch = query(tenant, min(_BATCH, max_entries - len(found)), cursor)
        for entry in batch:
            if parse_time(entry["time"]) < since:
                return found, True
            found.append(entry)
        if len(batch) < _BATCH:
            return found, True
        cursor = batch[-1]["id"]
    return found, False


@dataclass(frozen=True)
class Hour:
    start: datetime
    requests: int
    failures: int


def hourly(entries: list[dict], now: datetime, hours: int = HOURS) -> list[Hour]:
    """Requests and failures per clock hour, oldest first; the last hour is the current one."""
    current = now.replace(minute=0, second=0, microsecond=0)
    first = current - timedelta(hours=hours - 1)
    requests = [0] * hours
    failures = [0] * hours
    for entry in entries:
        index = int((parse_time(entry["time"]) - first).total_seconds() // 3600)
        if 0 <= index < hours:
            requests[index] += 1
            failures[index] += entry.get("outcome") == "failure"
    return [Hour(first + timedelta(hours=i), requests[i], failures[i]) for i in range(hours)]


def window_start(now: datetime, hours: int = HOURS) -> datetime:
    """Where `hourly`'s first hour begins."""
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)


@dataclass(frozen=True)
class Summary:
    """One tenant at a glance (the tenants page and the tenant page)."""

    health: str  # "ok", "failing", "disabled" or "unknown"
    last_activity: datetime | None = None
    requests_last_hour: int | None = None
    failures_last_hour: int | None = None
    complete: bool = True
    logged: bool = True  # False: the backend keeps no provisioning log


def summarize(query: LogQuery, tenant: str, disabled: bool, now: datetime) -> Summary:
    try:
        newest = query(tenant, 1, None)
        recent, complete = entries_since(query, tenant, now - timedelta(hours=1))
    except AdminError as error:
        if error.status != 501:  # 501: the backend keeps no log
            raise
        return Summary("disabled" if disabled else "unknown", logged=False)
    failures = sum(1 for entry in recent if entry.get("outcome") == "failure")
    if disabled:
        health = "disabled"
    else:
        health = "failing" if failures else "ok"
    return Summary(health, parse_time(newest[0]["time"]) if newest else None, len(recent), failures, complete)
