"""Reading the provisioning log for the console: filters, paging and single entries.

The storage answers every filter (`LogQuery`, from its indexes where it has them), so a page
is one query however rare its matches. Unlike the admin API, the console never refuses a page
for a filter: values that make no sense are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ...storage.capabilities import LogQuery
from ..log_filters import METHODS, build_query
from ..log_identity import IdentityPolicy

# `read(tenant, query)`, newest first: AdminService.query_log.
LogReader = Callable[[str, LogQuery], list[dict]]

PAGE_SIZE = 50
TAIL_LIMIT = 200
MAX_TEXT = 200
# The time ranges the page offers, as `since` values.
SPANS = {"1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}
# Entry ids are fixed-width lowercase hex (see scimflask.ops.provisioning_log).
ENTRY_ID = re.compile(r"[0-9a-f]{1,64}")
STATUS = re.compile(r"[1-5](?:[0-9]{2}|xx)")
RESOURCE_ID = re.compile(r"[^\x00-\x1f\x7f]{1,200}")

__all__ = ["METHODS", "SPANS", "LogFilter", "LogPage", "find_entry", "newer_entries", "read_page"]


def valid_entry_id(value: str | None) -> bool:
    return bool(value) and ENTRY_ID.fullmatch(value) is not None  # type: ignore[arg-type]


@dataclass(frozen=True)
class LogFilter:
    """What the operator asked to see; values that make no sense are dropped, not errors."""

    failures_only: bool = False
    method: str = ""
    resource_type: str = ""
    status: str = ""  # "409", or a class such as "4xx"
    text: str = ""  # on the target's userName, displayName or externalId
    resource_id: str = ""
    since: str = ""  # a key of SPANS

    @classmethod
    def from_args(cls, args: Mapping[str, str], resource_types: tuple[str, ...]) -> LogFilter:
        method = args.get("method", "").upper()
        resource_type = args.get("type", "")
        status = args.get("status", "").strip().lower()
        resource_id = args.get("resource", "").strip()
        since = args.get("since", "")
        return cls(
            failures_only=args.get("outcome") == "failure",
            method=method if method in METHODS else "",
            resource_type=resource_type if resource_type in resource_types else "",
            status=status if STATUS.fullmatch(status) else "",
            text=args.get("q", "").strip()[:MAX_TEXT],
            resource_id=resource_id if RESOURCE_ID.fullmatch(resource_id) else "",
            since=since if since in SPANS else "",
        )

    @property
    def active(self) -> bool:
        return any((self.failures_only, self.method, self.resource_type, self.status, self.text,
                    self.resource_id, self.since))

    def query_args(self) -> dict[str, str]:
        """The filter as query-string arguments (for links that keep it)."""
        args = {"outcome": "failure" if self.failures_only else "", "method": self.method,
                "type": self.resource_type, "status": self.status, "q": self.text,
                "resource": self.resource_id, "since": self.since}
        return {name: value for name, value in args.items() if value}

    def query(self, *, limit: int, identities: IdentityPolicy, now: datetime, before: str | None = None,
              after: str | None = None) -> LogQuery:
        """The storage query, built as the admin API builds it (its values are already valid)."""
        return build_query(limit=limit, identities=identities, now=now, before=before, after=after,
                           since=self.since, failures_only=self.failures_only, status=self.status,
                           method=self.method, resource_type=self.resource_type, resource_id=self.resource_id,
                           text=self.text)


@dataclass
class LogPage:
    """One page of matching entries, newest first; `older` is the cursor of the next page
    (None at the end of the log)."""

    entries: list[dict] = field(default_factory=list)
    older: str | None = None


def read_page(read: LogReader, tenant: str, wanted: LogFilter, *, identities: IdentityPolicy, now: datetime,
              limit: int | None = None, before: str | None = None) -> LogPage:
    """Up to `limit` (PAGE_SIZE) entries older than `before` that match `wanted`; one more is
    asked for, to know whether an older page exists."""
    limit = limit or PAGE_SIZE
    found = read(tenant, wanted.query(limit=limit + 1, identities=identities, now=now, before=before))
    return LogPage(found[:limit], found[limit - 1]["id"] if len(found) > limit else None)


def newer_entries(read: LogReader, tenant: str, wanted: LogFilter, since: str, *, identities: IdentityPolicy,
                  now: datetime) -> list[dict]:
    """Matching entries newer than the entry id `since` (the newest TAIL_LIMIT), for the live tail."""
    return read(tenant, wanted.query(limit=TAIL_LIMIT, identities=identities, now=now, after=since or None))


def find_entry(read: LogReader, tenant: str, entry_id: str) -> dict | None:
    """The entry with id `entry_id`, or None.

    Ids have a fixed width, so `entry_id + "0"` sorts after it and before every later id: the
    newest entry below that is the one asked for, if it exists.
    """
    if not valid_entry_id(entry_id):
        return None
    found = read(tenant, LogQuery(limit=1, before=entry_id + "0"))
    return found[0] if found and found[0]["id"] == entry_id else None
