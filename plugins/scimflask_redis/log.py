"""The Redis backend's provisioning log: entries, their indexes and the hourly counters.

Every key lives in the tenant's key space (one Cluster slot), see `keys`:
- `lg:i` all entry ids and `lg:f` the failures' ids: sorted sets with score 0, so in id (= time)
  order; `lg:r` one member `<resource id, percent-encoded>\\0<entry id>` per entry of a
  resource, so one resource's entries are one lex range; `lg:t` ids scored by time (µs);
- `lg:e` the entries as JSON; `lg:hs` the hours holding counters, `lg:h:<hour>` a hash of each
  hour's counters (`LogEntry.hour_counts`).

Appending and pruning are one script each (lua/append_log.lua, lua/prune_log.lua), so an entry
and its index members and counts appear and vanish together. A query walks the smallest index
that holds its answer backwards (one resource's members, else the failures, else all ids), in
batches of ids whose entries are read with one HMGET, keeping what `LogQuery.matches`; it stops
at `limit` or at the first entry older than `since`. `until` becomes an id bound: the newest id
stamped before it, found in `lg:t`. Entries stored before these indexes existed are in `lg:i`
only, and kept their scimType in `detail` (read back as `scim_type`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from scimflask.storage.capabilities import LogEntry, LogHour, LogQuery, hour_number

from . import keys
from .reader import from_micros, to_micros

_JSON = {"ensure_ascii": False, "separators": (",", ":")}
SCAN_BATCH = 200


@dataclass(frozen=True)
class LogKeys:
    ids: str
    times: str
    entries: str
    failures: str
    resources: str
    hours: str
    hour_prefix: str

    @classmethod
    def of(cls, prefix: str, tenant: str) -> LogKeys:
        base = keys.tenant_base(prefix, tenant)
        return cls(base + keys.LOG_IDS, base + keys.LOG_TIMES, base + keys.LOG_ENTRIES,
                   base + keys.LOG_FAILURES, base + keys.LOG_RESOURCES, base + keys.LOG_HOURS,
                   base + keys.LOG_HOUR)

    @property
    def scripted(self) -> list[str]:
        """The keys every log script is given, in the order the scripts read them."""
        return [self.ids, self.times, self.entries, self.failures, self.resources, self.hours]


def resource_member(resource_id: str, entry_id: str = "") -> str:
    """The `lg:r` member of an entry (or, without `entry_id`, the prefix of a resource's)."""
    return f"{quote(resource_id, safe='')}\0{entry_id}"


def append_arguments(entries: list[LogEntry], log_keys: LogKeys) -> tuple[list[str], list]:
    """KEYS and ARGV of lua/append_log.lua for entries of one tenant."""
    args: list = [len(entries)]
    hours: dict[int, dict[str, int]] = {}
    for entry in entries:
        member = "" if entry.resource_id is None else resource_member(entry.resource_id, entry.id)
        args += [entry.id, to_micros(entry.time), _encode(entry, member),
                 "1" if entry.outcome == "failure" else "0", member]
        counts = hours.setdefault(hour_number(entry.time), {})
        for name, count in entry.hour_counts().items():
            counts[name] = counts.get(name, 0) + count
    hour_keys = []
    for hour, counts in sorted(hours.items()):
        hour_keys.append(log_keys.hour_prefix + str(hour))
        args += [hour, len(counts)]
        for name, count in sorted(counts.items()):
            args += [name, count]
    return log_keys.scripted + hour_keys, args


def prune_arguments(log_keys: LogKeys, keep: int | None, older_than: datetime | None) -> list:
    """ARGV of lua/prune_log.lua."""
    return ["" if keep is None else max(keep, 0), "" if older_than is None else to_micros(older_than),
            log_keys.hour_prefix, "" if older_than is None else hour_number(older_than)]


def _encode(entry: LogEntry, member: str) -> str:
    record = {
        "id": entry.id, "tenant": entry.tenant, "time": to_micros(entry.time), "method": entry.method,
        "path": entry.path, "status": entry.status, "outcome": entry.outcome,
        "token_id": entry.token_id, "resource_type": entry.resource_type,
        "resource_id": entry.resource_id, "changed": list(entry.changed), "detail": entry.detail,
        "scim_type": entry.scim_type, "user_name": entry.user_name, "display_name": entry.display_name,
        "external_id": entry.external_id, "request_id": entry.request_id, "duration_ms": entry.duration_ms,
        "client": entry.client, "user_agent": entry.user_agent,
    }
    if member:
        record["rk"] = member  # what prune_log.lua removes from `lg:r`
    return json.dumps(record, **_JSON)


def decode(raw: bytes | str) -> LogEntry:
    record = json.loads(raw)
    detail, scim_type = record["detail"], record.get("scim_type")
    if "scim_type" not in record:  # written before scimType had a field of its own
        detail, scim_type = None, detail
    return LogEntry(record["id"], record["tenant"], from_micros(record["time"]), record["method"],
                    record["path"], record["status"], record["outcome"], record["token_id"],
                    record["resource_type"], record["resource_id"], tuple(record["changed"]), detail,
                    scim_type, record.get("user_name"), record.get("display_name"), record.get("external_id"),
                    record.get("request_id"), record.get("duration_ms"), record.get("client"),
                    record.get("user_agent"))


class LogReader:
    """Queries and hourly counters of one client."""

    def __init__(self, client, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def query(self, tenant: str, query: LogQuery) -> list[LogEntry]:
        if query.limit <= 0:
            return []
        log_keys = LogKeys.of(self.prefix, tenant)
        bounds = self._bounds(log_keys, query)
        if bounds is None:
            return []
        index, low, high, skip = bounds
        # Filters the index does not answer are checked here: read more ids per round trip.
        rest = (query.status, query.method, query.resource_type, query.text,
                query.failures_only and query.resource_id is not None)
        batch = max(query.limit, SCAN_BATCH) if any(rest) else query.limit
        found: list[LogEntry] = []
        while True:
            members = self.client.zrevrangebylex(index, high, low, start=0, num=batch)
            ids = [member[skip:] for member in members]
            for raw in self.client.hmget(log_keys.entries, ids) if ids else []:
                if raw is None:
                    continue  # pruned between the two reads
                entry = decode(raw)
                if query.since is not None and entry.time < query.since:
                    return found
                if query.matches(entry):
                    found.append(entry)
                    if len(found) == query.limit:
                        return found
            if len(members) < batch:
                return found
            high = b"(" + members[-1]

    def _bounds(self, log_keys: LogKeys, query: LogQuery) -> tuple[str, str, str, int] | None:
        """(index, lowest, highest member for ZREVRANGEBYLEX, length of the members' prefix);
        None when no entry can match."""
        before = query.before
        if query.until is not None:
            newest = self.client.zrevrangebyscore(log_keys.times, f"({to_micros(query.until)}", "-inf",
                                                  start=0, num=1)
            if not newest:
                return None
            last = newest[0].decode() + "\0"  # the smallest text above that id
            before = last if before is None else min(before, last)
        if query.resource_id is not None:
            prefix = resource_member(query.resource_id)
            low = "(" + prefix + query.after if query.after is not None else "[" + prefix
            high = "(" + prefix + before if before is not None else "(" + prefix[:-1] + "\1"
            return log_keys.resources, low, high, len(prefix.encode())
        index = log_keys.failures if query.failures_only else log_keys.ids
        low = "-" if query.after is None else "(" + query.after
        high = "+" if before is None else "(" + before
        return index, low, high, 0

    def hours(self, tenant: str, since: datetime) -> list[LogHour]:
        log_keys = LogKeys.of(self.prefix, tenant)
        numbers = [int(hour) for hour in self.client.zrangebyscore(log_keys.hours, hour_number(since), "+inf")]
        if not numbers:
            return []
        pipe = self.client.pipeline(transaction=False)
        for hour in numbers:
            pipe.hgetall(log_keys.hour_prefix + str(hour))
        counted = pipe.execute()
        return [LogHour.from_counts(hour, {name.decode(): int(count) for name, count in counts.items()})
                for hour, counts in zip(numbers, counted, strict=True) if counts]
