"""Optional storage abilities for operating a multi-tenant service: tenants, log, rate limits.

A backend opts in by inheriting a mixin and implementing its methods; features that need one
check `isinstance(storage, Mixin)` and fail with a clear message otherwise. The built-in memory,
SQL and Redis backends implement all three, so tenants, the provisioning log and rate-limit
counters live in the same store as the resources and are shared by every worker.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..model import Token
from .log_words import entry_words, identity_hash, match, query_words

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Hourly counter names (`LogHour`); a failure reason is counted as REASON + its text.
REQUESTS, FAILURES, WRITES, FAILED_WRITES, REASON = "requests", "failures", "writes", "failed_writes", "reason:"
_STATUS = re.compile(r"([1-5])([0-9]{2}|xx)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Tenant:
    """A customer of the service: every token and resource belongs to exactly one."""

    id: str
    created: datetime
    disabled: bool = False
    description: str = ""


@dataclass
class LogEntry:
    """One SCIM request as the provisioning log records it (never secrets or passwords).

    `id` sorts in time order within a tenant (the backend may rely on that for paging).
    The identity fields name the target as it was at the time of the write, as the deployment
    chose to keep it (in full, as a keyed hash, or not at all); no other value is ever kept.
    """

    id: str
    tenant: str
    time: datetime
    method: str
    path: str
    status: int
    outcome: str  # "success" or "failure"
    token_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    changed: tuple[str, ...] = field(default_factory=tuple)
    detail: str | None = None  # a failure's SCIM error detail text
    scim_type: str | None = None  # a failure's SCIM error scimType
    user_name: str | None = None
    display_name: str | None = None
    external_id: str | None = None
    request_id: str | None = None
    duration_ms: int | None = None
    client: str | None = None  # the identity provider: "entra", "okta" or "other"
    user_agent: str | None = None

    @property
    def is_write(self) -> bool:
        """POST, PUT, PATCH or DELETE, except a POST to `/.search` (a query)."""
        return self.method in WRITE_METHODS and not self.path.rstrip("/").endswith("/.search")

    @property
    def failure_reason(self) -> str:
        """How a failure is counted in `LogHour.reasons`: the status and scimType, "409 uniqueness"."""
        return f"{self.status} {self.scim_type}" if self.scim_type else str(self.status)

    def search_text(self) -> str:
        """The identity fields lower-cased, one per line (the SQL log's `search_text` column)."""
        return "\n".join(value.lower() for value in (self.user_name, self.display_name, self.external_id)
                         if value)

    def words(self) -> list[str]:
        """The words `LogQuery.text` finds this entry by (`log_words.entry_words` of the
        identity fields): what every backend's word index holds for it."""
        return entry_words((self.user_name, self.display_name, self.external_id))

    def identity_hash(self) -> str | None:
        """What tells this entry's identity apart for its words (`log_words.identity_hash`):
        stores that keep words per identity instead of per entry key them by it."""
        return identity_hash((self.user_name, self.display_name, self.external_id))

    def hour_counts(self) -> dict[str, int]:
        """What this entry adds to the counters of its hour (see `LogHour`)."""
        counts = {REQUESTS: 1}
        failed = self.outcome == "failure"
        if failed:
            counts[FAILURES] = 1
            counts[REASON + self.failure_reason] = 1
        if self.is_write:
            counts[WRITES] = 1
            if failed:
                counts[FAILED_WRITES] = 1
        return counts


def hour_number(when: datetime) -> int:
    """The clock hour (UTC) holding `when`, as whole hours since the epoch."""
    return (when - _EPOCH) // timedelta(hours=1)


def hour_start(number: int) -> datetime:
    return _EPOCH + timedelta(hours=number)


@dataclass
class LogHour:
    """One tenant's provisioning traffic in one clock hour (UTC), counted as entries are stored.

    `reasons` counts failures by `LogEntry.failure_reason`.
    """

    start: datetime
    requests: int = 0
    failures: int = 0
    writes: int = 0
    failed_writes: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_counts(cls, number: int, counts: dict[str, int]) -> LogHour:
        """The hour `number` (see `hour_number`) from its named counters."""
        reasons = {name[len(REASON):]: int(count) for name, count in counts.items()
                   if name.startswith(REASON) and int(count)}
        return cls(hour_start(number), int(counts.get(REQUESTS, 0)), int(counts.get(FAILURES, 0)),
                   int(counts.get(WRITES, 0)), int(counts.get(FAILED_WRITES, 0)), reasons)


@dataclass(frozen=True)
class LogQuery:
    """Which entries of a tenant's log `query_log` returns: newest first, at most `limit`.

    Every condition given must hold (they are and-ed):
    - `before` / `after`: `id` < `before` / `id` > `after` (entry ids as cursors);
    - `since` / `until`: `since` <= `time` < `until`;
    - `failures_only`: `outcome` == "failure";
    - `status`: "409" (exactly) or a class such as "4xx" (400-499);
    - `method`, `resource_type`, `resource_id`: equal (`method` is upper-cased);
    - `text`: every word of it starts a word of the entry's identity (`LogEntry.words`): the
      words of `user_name`, `display_name` and `external_id` are their runs of letters and
      digits, case folded, each cut to 64 characters, the first 24 distinct ones of an entry
      kept (log_words.py). "smith" and "alice smi" match "Alice.Smith@x.com", "lice" does
      not. Control characters are dropped from it; a text without a word (blank, or only
      punctuation) is no condition.

    `matches` is the reference meaning; a backend answers from its indexes where it can.
    """

    limit: int = 100
    before: str | None = None
    after: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    failures_only: bool = False
    status: str | None = None
    method: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    text: str | None = None
    # The words of `text` each match must have a word starting with (`log_words.query_words`).
    text_words: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.limit < 0:
            raise ValueError("limit must not be negative")
        if self.status is not None:
            status = self.status.strip().lower()
            if not _STATUS.fullmatch(status):
                raise ValueError(f"status must be a code such as 409 or a class such as 4xx, not {self.status!r}")
            object.__setattr__(self, "status", status)
        if self.method is not None:
            object.__setattr__(self, "method", self.method.upper() or None)
        if self.text is not None:
            object.__setattr__(self, "text", _CONTROL.sub("", self.text).strip().lower() or None)
        object.__setattr__(self, "text_words", tuple(query_words(self.text)))

    @property
    def status_range(self) -> tuple[int, int] | None:
        """The statuses `status` admits, lowest and highest."""
        if self.status is None:
            return None
        if self.status.endswith("xx"):
            low = int(self.status[0]) * 100
            return low, low + 99
        return int(self.status), int(self.status)

    def matches(self, entry: LogEntry) -> bool:
        """Whether `entry` meets every condition (`limit` aside)."""
        checks = (
            self.before is None or entry.id < self.before,
            self.after is None or entry.id > self.after,
            self.since is None or entry.time >= self.since,
            self.until is None or entry.time < self.until,
            not self.failures_only or entry.outcome == "failure",
            self.method is None or entry.method == self.method,
            self.resource_type is None or entry.resource_type == self.resource_type,
            self.resource_id is None or entry.resource_id == self.resource_id,
        )
        if not all(checks):
            return False
        low, high = self.status_range or (entry.status, entry.status)
        if not low <= entry.status <= high:
            return False
        return not self.text_words or match(self.text_words, entry.words())


class TenantSupport(ABC):
    """Tenant records, token updates and whole-tenant deletion."""

    @abstractmethod
    def put_tenant(self, tenant: Tenant) -> None:
        """Create or replace a tenant record."""

    @abstractmethod
    def get_tenant(self, tenant_id: str) -> Tenant | None:
        """The tenant record, or None."""

    @abstractmethod
    def list_tenants(self) -> list[Tenant]:
        """Every tenant record, oldest first."""

    @abstractmethod
    def delete_tenant(self, tenant_id: str) -> bool:
        """Delete the tenant record and ALL its data: resources, memberships, tokens, log
        entries, counters. Return whether the tenant record existed."""

    @abstractmethod
    def update_token(self, token: Token) -> bool:
        """Replace a token record found by `token.id` (e.g. to set `expires` on rotation or
        `last_used`); return whether it existed. The secret hash is never changed."""


class ProvisioningLogSupport(ABC):
    """An append-only, per-tenant log of SCIM requests with retention, and hourly counts of
    the traffic it records (cheap tenant health without reading the entries)."""

    @abstractmethod
    def append_log(self, entry: LogEntry) -> None:
        """Store one entry, and add its `hour_counts()` to the counters of the hour (UTC) of
        its `time`."""

    def append_logs(self, entries: list[LogEntry]) -> None:
        """Store several entries (the log writes in batches); override to do it in one go."""
        for entry in entries:
            self.append_log(entry)

    @abstractmethod
    def query_log(self, tenant: str, query: LogQuery | None = None) -> list[LogEntry]:
        """Entries of `tenant` that `query` matches (`LogQuery.matches`), newest first (by
        `id`), at most `query.limit`; with no query, the newest 100. The answer must equal
        filtering every entry of the tenant in Python, whatever indexes serve it. Since ids
        sort in time order, a backend may stop at the first entry older than `query.since`."""

    @abstractmethod
    def prune_log(self, tenant: str, *, keep: int | None = None,
                  older_than: datetime | None = None) -> int:
        """Delete entries beyond the newest `keep` and/or older than `older_than`; return how
        many were deleted. `older_than` also forgets the hourly counters of every hour that
        ended at or before it; `keep` leaves the counters alone (they count requests, not the
        entries kept)."""

    @abstractmethod
    def log_hours(self, tenant: str, since: datetime) -> list[LogHour]:
        """The hourly counters of `tenant` from the hour holding `since` on, oldest first; hours
        without any entry may be left out."""


class CounterSupport(ABC):
    """Atomic fixed-window counters (rate limiting across workers)."""

    @abstractmethod
    def hit_counter(self, key: str, window_seconds: int, now: datetime) -> int:
        """Count one hit on `key` in the window containing `now` (windows are aligned to
        multiples of `window_seconds` since the epoch) and return the window's count so far,
        atomically across processes. Old windows may be forgotten. A key that starts with
        "<tenant>:" belongs to that tenant: `delete_tenant` removes it."""


class IndexMaintenance(ABC):
    """Derived indexes a backend cannot bring up to date as it opens (a SQL database migrates
    its schema then; a Redis keyspace has no schema step). Until they are rebuilt, queries
    that would read them scan instead, so results stay right but large tenants may get
    `tooMany`. `scimflask reindex` calls this after an upgrade."""

    @abstractmethod
    def rebuild_indexes(self, tenant: str) -> int:
        """Re-derive the tenant's indexes from its resources, safely while it is in use, and
        mark them complete; return the number of resources rewritten."""
