"""Reading the provisioning log for the console: filters, paging and single entries.

The storage contract pages a tenant's log newest first by entry id and knows no filters, so
`read_page` filters in Python over successive pages of `AdminService.query_log`, looking at no
more than `MAX_SCANNED` entries per page it shows. A storage-side query can replace it without
changing its callers: it takes the same filter and returns the same `LogPage`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# `query(tenant, limit, before)`, newest first: AdminService.query_log.
LogQuery = Callable[[str, int, "str | None"], list[dict]]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PAGE_SIZE = 50
BATCH = 200
MAX_SCANNED = 5_000
MAX_TEXT = 200
# Entry ids are fixed-width lowercase hex (see scimflask.ops.provisioning_log).
ENTRY_ID = re.compile(r"[0-9a-f]{1,64}")
STATUS = re.compile(r"[1-5](?:[0-9]{2}|xx)")
_TEXT_FIELDS = ("method", "path", "outcome", "tokenId", "resourceType", "resourceId", "detail")


def valid_entry_id(value: str | None) -> bool:
    return bool(value) and ENTRY_ID.fullmatch(value) is not None  # type: ignore[arg-type]


@dataclass(frozen=True)
class LogFilter:
    """What the operator asked to see; values that make no sense are dropped, not errors."""

    failures_only: bool = False
    method: str = ""
    resource_type: str = ""
    status: str = ""  # "409", or a class such as "4xx"
    text: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str], resource_types: tuple[str, ...]) -> LogFilter:
        method = args.get("method", "").upper()
        resource_type = args.get("type", "")
        status = args.get("status", "").strip().lower()
        return cls(
            failures_only=args.get("outcome") == "failure",
            method=method if method in METHODS else "",
            resource_type=resource_type if resource_type in resource_types else "",
            status=status if STATUS.fullmatch(status) else "",
            text=args.get("q", "").strip()[:MAX_TEXT],
        )

    @property
    def active(self) -> bool:
        return bool(self.failures_only or self.method or self.resource_type or self.status or self.text)

    def query_args(self) -> dict[str, str]:
        """The filter as query-string arguments (for links that keep it)."""
        args = {"outcome": "failure" if self.failures_only else "", "method": self.method,
                "type": self.resource_type, "status": self.status, "q": self.text}
        return {name: value for name, value in args.items() if value}

    def matches(self, entry: dict) -> bool:
        if self.failures_only and entry.get("outcome") != "failure":
            return False
        if self.method and entry.get("method") != self.method:
            return False
        if self.resource_type and entry.get("resourceType") != self.resource_type:
            return False
        if self.status and not _status_matches(self.status, entry.get("status")):
            return False
        if self.text:
            needle = self.text.lower()
            haystack = [str(entry.get(name) or "") for name in _TEXT_FIELDS]
            haystack += [str(entry.get("status", ""))] + list(entry.get("changed") or ())
            return any(needle in value.lower() for value in haystack)
        return True


def _status_matches(wanted: str, status: object) -> bool:
    text = str(status)
    return text[0] == wanted[0] if wanted.endswith("xx") else text == wanted


@dataclass
class LogPage:
    """One page of matching entries, newest first. `older` is the cursor of the next page
    (None at the end of the log); `capped` says the search stopped at MAX_SCANNED entries."""

    entries: list[dict] = field(default_factory=list)
    older: str | None = None
    scanned: int = 0
    capped: bool = False


def read_page(query: LogQuery, tenant: str, wanted: LogFilter, *, limit: int | None = None,
              before: str | None = None, max_scanned: int = MAX_SCANNED) -> LogPage:
    """Up to `limit` (PAGE_SIZE) entries older than `before` that match `wanted`."""
    limit = limit or PAGE_SIZE
    page = LogPage()
    cursor = before
    # Unfiltered, one extra entry tells whether an older page exists.
    batch_size = BATCH if wanted.active else limit + 1
    while True:
        batch = query(tenant, batch_size, cursor)
        for entry in batch:
            page.scanned += 1
            if wanted.matches(entry):
                if len(page.entries) == limit:
                    page.older = page.entries[-1]["id"]
                    return page
                page.entries.append(entry)
            if page.scanned >= max_scanned:
                page.older, page.capped = entry["id"], True
                return page
        if len(batch) < batch_size:
            return page
        cursor = batch[-1]["id"]


def newer_entries(query: LogQuery, tenant: str, wanted: LogFilter, since: str) -> list[dict]:
    """Matching entries newer than the entry id `since`, among the newest BATCH (live tail)."""
    return [entry for entry in query(tenant, BATCH, None) if entry["id"] > since and wanted.matches(entry)]


def find_entry(query: LogQuery, tenant: str, entry_id: str) -> dict | None:
    """The entry with id `entry_id`, or None.

    Ids have a fixed width, so `entry_id + "0"` sorts after it and before every later id: the
    newest entry below that is the one asked for, if it exists.
    """
    if not valid_entry_id(entry_id):
        return None
    found = query(tenant, 1, entry_id + "0")
    return found[0] if found and found[0]["id"] == entry_id else None
