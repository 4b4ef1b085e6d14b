"""Fixed-window hit counters for rate limiting (`CounterSupport`), in one process's memory.

A counter key belongs to a tenant when it starts with `<tenant id>:` (the convention every
built-in backend follows, so `delete_tenant` can forget a tenant's counters).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def window_start(now: datetime, window_seconds: int) -> int:
    """The epoch second at which the window containing `now` starts."""
    seconds = (now - EPOCH) // timedelta(seconds=1)
    return seconds // window_seconds * window_seconds


class Counters:
    """`key -> {window start: hits}`; a key keeps only its current and previous window."""

    def __init__(self) -> None:
        self._windows: dict[str, dict[int, int]] = {}

    def hit(self, key: str, window_seconds: int, now: datetime) -> int:
        """Count one hit in the window containing `now`; return that window's count."""
        start = window_start(now, window_seconds)
        windows = self._windows.setdefault(key, {})
        if start not in windows:
            for old in [w for w in windows if w < start - window_seconds]:
                del windows[old]
        windows[start] = windows.get(start, 0) + 1
        return windows[start]

    def forget_tenant(self, tenant_id: str) -> None:
        prefix = f"{tenant_id}:"
        for key in [k for k in self._windows if k.startswith(prefix)]:
            del self._windows[key]
