"""The memory backend's provisioning log: per tenant, entries in id order with two indexes.

A query walks the smallest list that can hold its answer (the entries of one resource, else
the failures, else all of them) backwards from `before`, keeping what `LogQuery.matches`, and
stops at `limit` or at the first entry older than `since` (ids sort in time order). Hourly
counters are kept as entries are appended. Not thread-safe by itself: the storage's lock
guards every call.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from datetime import datetime

from scimflask.storage.capabilities import LogEntry, LogHour, LogQuery, hour_number


def _key(entry: LogEntry) -> str:
    return entry.id


@dataclass
class TenantLog:
    entries: list[LogEntry] = field(default_factory=list)  # in id order
    failures: list[LogEntry] = field(default_factory=list)
    by_resource: dict[str, list[LogEntry]] = field(default_factory=dict)
    hours: dict[int, dict[str, int]] = field(default_factory=dict)

    def add(self, entry: LogEntry) -> None:
        bisect.insort(self.entries, entry, key=_key)
        if entry.outcome == "failure":
            bisect.insort(self.failures, entry, key=_key)
        if entry.resource_id is not None:
            bisect.insort(self.by_resource.setdefault(entry.resource_id, []), entry, key=_key)
        counts = self.hours.setdefault(hour_number(entry.time), {})
        for name, count in entry.hour_counts().items():
            counts[name] = counts.get(name, 0) + count

    def candidates(self, query: LogQuery) -> list[LogEntry]:
        if query.resource_id is not None:
            return self.by_resource.get(query.resource_id, [])
        return self.failures if query.failures_only else self.entries

    def find(self, query: LogQuery) -> list[LogEntry]:
        source = self.candidates(query)
        end = len(source) if query.before is None else bisect.bisect_left(source, query.before, key=_key)
        found: list[LogEntry] = []
        for entry in reversed(source[:end]):
            if len(found) >= query.limit or (query.after is not None and entry.id <= query.after):
                break
            if query.since is not None and entry.time < query.since:
                break
            if query.matches(entry):
                found.append(replace(entry))
        return found

    def keep(self, kept: list[LogEntry]) -> None:
        """Keep only `kept` (a sublist of `entries`), in every index."""
        ids = {entry.id for entry in kept}
        self.entries = kept
        self.failures = [entry for entry in self.failures if entry.id in ids]
        self.by_resource = {resource: remaining for resource, entries in self.by_resource.items()
                            if (remaining := [entry for entry in entries if entry.id in ids])}


class MemoryLog:
    """Every tenant's log."""

    def __init__(self) -> None:
        self._tenants: dict[str, TenantLog] = {}

    def append(self, entry: LogEntry) -> None:
        stored = replace(entry, changed=tuple(entry.changed))
        self._tenants.setdefault(entry.tenant, TenantLog()).add(stored)

    def query(self, tenant: str, query: LogQuery) -> list[LogEntry]:
        log = self._tenants.get(tenant)
        return [] if log is None else log.find(query)

    def prune(self, tenant: str, keep: int | None, older_than: datetime | None) -> int:
        log = self._tenants.get(tenant)
        if log is None:
            return 0
        entries = log.entries
        kept = entries if keep is None else entries[max(len(entries) - keep, 0):]
        if older_than is not None:
            kept = [entry for entry in kept if entry.time >= older_than]
            cutoff = hour_number(older_than)
            log.hours = {hour: counts for hour, counts in log.hours.items() if hour >= cutoff}
        deleted = len(entries) - len(kept)
        if deleted:
            log.keep(kept)
        return deleted

    def hours(self, tenant: str, since: datetime) -> list[LogHour]:
        log = self._tenants.get(tenant)
        if log is None:
            return []
        first = hour_number(since)
        return [LogHour.from_counts(hour, dict(counts)) for hour, counts in sorted(log.hours.items())
                if hour >= first]

    def forget(self, tenant: str) -> None:
        self._tenants.pop(tenant, None)

    def clear(self) -> None:
        self._tenants.clear()
