"""A tenant's provisioning health from the log's hourly counters: cheap, whatever the traffic.

The storage keeps requests, failures, writes, failed writes and failure reasons per tenant and
clock hour as it stores entries (`ProvisioningLogSupport.log_hours`), so health reads about 25
small records instead of a day of entries. Hence windows are whole clock hours (UTC): the
"last hour" counts the current and the previous clock hour (60 to 120 minutes, from `since`),
the "last day" the 25 clock hours that overlap the last 24 hours.

Microsoft Entra ID puts an app's provisioning job in quarantine when most or all of its calls
to the app fail consistently, and then slows it to one cycle a day. Entra publishes no exact
threshold, so the warning is a heuristic: at least QUARANTINE_MIN_WRITES writes in the last day,
of which QUARANTINE_SHARE or more failed, warns before "most" is reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..model import format_datetime
from ..storage.capabilities import LogHour, hour_number, hour_start

QUARANTINE_SHARE = 0.40
QUARANTINE_MIN_WRITES = 20
TOP_REASONS = 5
CHART_HOURS = 24


@dataclass(frozen=True)
class Window:
    since: datetime
    requests: int = 0
    failures: int = 0
    writes: int = 0
    failed_writes: int = 0

    @property
    def failed_write_share(self) -> float:
        return self.failed_writes / self.writes if self.writes else 0.0


@dataclass
class Health:
    """One tenant at a glance. `state`: "disabled", "at-risk" (the quarantine warning),
    "failing" (failures in the last hour), "ok", or "unknown" (the backend keeps no log)."""

    state: str
    last_seen: datetime | None = None
    last_hour: Window | None = None
    last_day: Window | None = None
    reasons: list[tuple[str, int]] = field(default_factory=list)
    warning: str | None = None
    hours: list[LogHour] = field(default_factory=list)  # CHART_HOURS, oldest first, the current last

    @property
    def logged(self) -> bool:
        return self.last_day is not None


def day_start(now: datetime) -> datetime:
    """Where the counters `assess` needs begin."""
    return hour_start(hour_number(now) - 24)


def _window(hours: list[LogHour], since: datetime) -> Window:
    counted = [hour for hour in hours if hour.start >= since]
    return Window(since, sum(h.requests for h in counted), sum(h.failures for h in counted),
                  sum(h.writes for h in counted), sum(h.failed_writes for h in counted))


def chart_hours(hours: list[LogHour], now: datetime, count: int = CHART_HOURS) -> list[LogHour]:
    """`count` hours ending with the current one, oldest first, hours without traffic as zeros."""
    current = hour_number(now)
    by_number = {hour_number(hour.start): hour for hour in hours}
    return [by_number.get(number) or LogHour(hour_start(number)) for number in range(current - count + 1, current + 1)]


def assess(hours: list[LogHour], now: datetime, *, last_seen: datetime | None, disabled: bool) -> Health:
    """Health from the hourly counters since `day_start(now)`."""
    last_hour = _window(hours, hour_start(hour_number(now) - 1))
    last_day = _window(hours, day_start(now))
    reasons: dict[str, int] = {}
    for hour in hours:
        if hour.start >= last_day.since:
            for reason, count in hour.reasons.items():
                reasons[reason] = reasons.get(reason, 0) + count
    top = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS]
    warning = None
    if last_day.writes >= QUARANTINE_MIN_WRITES and last_day.failed_write_share >= QUARANTINE_SHARE:
        warning = (f"{last_day.failed_write_share:.0%} of the last day's {last_day.writes} writes failed: "
                   "Microsoft Entra ID quarantines a provisioning job when most of its calls keep failing "
                   f"(heuristic threshold {QUARANTINE_SHARE:.0%} of at least {QUARANTINE_MIN_WRITES} writes)")
    if disabled:
        state = "disabled"
    elif warning:
        state = "at-risk"
    else:
        state = "failing" if last_hour.failures else "ok"
    return Health(state, last_seen, last_hour, last_day, top, warning, chart_hours(hours, now))


def window_to_dict(window: Window) -> dict:
    return {"since": format_datetime(window.since), "requests": window.requests, "failures": window.failures,
            "writes": window.writes, "failedWrites": window.failed_writes}


def health_to_dict(tenant: str, health: Health) -> dict:
    """The admin API's JSON of a tenant's health."""
    return {
        "tenant": tenant, "state": health.state,
        "lastSeen": format_datetime(health.last_seen) if health.last_seen else None,
        "lastHour": window_to_dict(health.last_hour) if health.last_hour else None,
        "lastDay": window_to_dict(health.last_day) if health.last_day else None,
        "topFailureReasons": [{"reason": reason, "count": count} for reason, count in health.reasons],
        "quarantineRisk": health.warning is not None, "warning": health.warning,
        "thresholds": {"failedWriteShare": QUARANTINE_SHARE, "minimumWrites": QUARANTINE_MIN_WRITES},
    }
