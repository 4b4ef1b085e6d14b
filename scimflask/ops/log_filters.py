"""Log filters as operators type them, for the admin API and the command line.

Both name the same filters: failures only, a time range (`since` / `until`: an ISO 8601 moment,
or a span back from now such as 30m, 1h, 2d, 1w), a status (409, or a class such as 4xx), the
method, the resource type and id, text on the target's identity (each of its words starts a
word of the userName, displayName or externalId: `LogQuery`), and `limit` with the cursors
`before` / `after` (entry ids). A value that makes no sense is a `FilterError` that says what
to write instead. The console, which must never refuse a page for a filter, drops such values
itself (console.logview).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from ..storage.capabilities import LogQuery
from .log_identity import IdentityPolicy

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_TEXT = 200
_SPAN = re.compile(r"\s*(\d{1,6})\s*([smhdw])\s*", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
ENTRY_ID = re.compile(r"[0-9A-Za-z._-]{1,64}")
STATUS = re.compile(r"[1-5](?:[0-9]{2}|xx)", re.IGNORECASE)


class FilterError(ValueError):
    """A filter value that cannot be used; the message names the fix."""


def parse_moment(text: str, now: datetime, name: str = "since") -> datetime:
    """`text` as an aware UTC moment: a span back from `now` ("30m", "1h", "2d", "1w") or an
    ISO 8601 date or time (UTC when it names no offset)."""
    span = _SPAN.fullmatch(text)
    if span:
        return now - timedelta(**{_UNITS[span.group(2).lower()]: int(span.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FilterError(f"{name} must be a span such as 30m, 1h, 2d or an ISO 8601 time such as "
                          f"2024-05-01T12:00:00Z, not {text!r}") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def parse_limit(text: str | int, maximum: int) -> int:
    try:
        limit = int(text)
    except (TypeError, ValueError):
        limit = 0
    if not 1 <= limit <= maximum:
        raise FilterError(f"limit must be a whole number from 1 to {maximum}, not {text!r}")
    return limit


def _entry_id(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not ENTRY_ID.fullmatch(value):
        raise FilterError(f"{name} must be an entry id, not {value[:80]!r}")
    return value


def build_query(*, limit: int, identities: IdentityPolicy, now: datetime, before: str | None = None,
                after: str | None = None, since: str | None = None, until: str | None = None,
                failures_only: bool = False, status: str | None = None, method: str | None = None,
                resource_type: str | None = None, resource_id: str | None = None,
                text: str | None = None) -> LogQuery:
    """A `LogQuery` from the filters as typed; empty strings mean "no filter". The text is
    looked for as the deployment logs identities (hashed, with SCIM_LOG_IDENTITIES=hashed)."""
    if status and not STATUS.fullmatch(status.strip()):
        raise FilterError(f"status must be a code such as 409 or a class such as 4xx, not {status[:20]!r}")
    if method and method.upper() not in METHODS:
        raise FilterError(f"method must be one of {', '.join(METHODS)}, not {method[:20]!r}")
    text = (text or "").strip()[:MAX_TEXT] or None
    return LogQuery(
        limit=limit, before=_entry_id(before, "before"), after=_entry_id(after, "after"),
        since=parse_moment(since, now, "since") if since else None,
        until=parse_moment(until, now, "until") if until else None, failures_only=failures_only,
        status=status.strip() if status else None, method=method or None, resource_type=resource_type or None,
        resource_id=resource_id or None, text=identities.search_term(text))


def query_from_args(args: Mapping[str, str], *, identities: IdentityPolicy, now: datetime,
                    maximum: int, default_limit: int = 100) -> LogQuery:
    """The admin API's query string: outcome=failure, since, until, status, method,
    resourceType, resourceId, q, limit, before, after."""
    outcome = args.get("outcome", "")
    if outcome not in ("", "failure", "any"):
        raise FilterError(f"outcome must be 'failure' (or left out), not {outcome[:20]!r}")
    return build_query(
        limit=parse_limit(args.get("limit", default_limit), maximum), identities=identities, now=now,
        before=args.get("before"), after=args.get("after"), since=args.get("since"), until=args.get("until"),
        failures_only=outcome == "failure", status=args.get("status"), method=args.get("method"),
        resource_type=args.get("resourceType"), resource_id=args.get("resourceId"), text=args.get("q"))
