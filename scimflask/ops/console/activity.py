"""What the console shows of a tenant's traffic: the hourly bars of its activity chart, read
from the log's hourly counters through the tenant's health (`log_health`), never from entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..log_health import CHART_HOURS, Health

HOURS = CHART_HOURS


def parse_time(text: str) -> datetime:
    """An entry's `time` ("2024-05-01T12:00:00.000Z") as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Hour:
    start: datetime
    requests: int
    failures: int


def hours_of(health: Health) -> list[Hour]:
    """Requests and failures per clock hour, oldest first; the last hour is the current one."""
    return [Hour(hour.start, hour.requests, hour.failures) for hour in health.hours]
