"""The provisioning log: what each identity provider did to whom, and why it failed, per tenant.

An entry is made after the response status is known (the SCIM blueprint's `after_request`),
from the request line, the response's SCIM error and the `scimflask_resource_changed` events
the request fired. It names the changed attributes, never their values, and never a password;
of the target it keeps only userName, displayName and externalId (as SCIM_LOG_IDENTITIES says,
`log_identity`): from the written resource, from the body of a write that failed, and for a
DELETE or a failed PATCH (which carry neither) from the resource's latest logged entry, looked
up by the writer. Entries go to the storage backend (`ProvisioningLogSupport`) and, as one JSON
line each, to the `scimflask.audit` logger. Nothing here may fail a request: every error is
logged and swallowed.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import random
import re
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import g, has_request_context

from ..events import CREATED, DELETED, PATCHED, REPLACED, ResourceEvent
from ..hookspecs import hookimpl
from ..model import RequestContext, format_datetime, utcnow
from ..schema.catalog import Catalog
from ..server.request_id import current_request_id
from ..storage.base import Storage
from ..storage.capabilities import LogEntry, LogHour, LogQuery, ProvisioningLogSupport
from .idp_clients import bounded_user_agent, recognise
from .log_identity import Identity, IdentityPolicy, identity_of

log = logging.getLogger("scimflask")
audit = logging.getLogger("scimflask.audit")

# Retention is applied after every PRUNE_EVERY entries a process writes for a tenant, or every
# PRUNE_SHARE of the per-tenant cap when that is more, so its cost is spread thin instead of
# paid on every request: pruning a full tenant (the cap, 100,000 by default) reads past the
# cap's worth of index entries, tens of milliseconds on a SQL store, so it runs once per 2,000
# entries there and the cap is overshot by at most that share.
PRUNE_EVERY = 200
PRUNE_SHARE = 0.02
# Stored entries are written by a background thread of each process, in batches: a write
# request then pays for one storage write, not two. An entry waits at most FLUSH_SECONDS; past
# MAX_PENDING waiting entries the request that adds one writes the batch itself (back-pressure).
FLUSH_SECONDS = 0.05
MAX_PENDING = 5_000
_ACTION_REQUEST = {CREATED: ("POST", 201), REPLACED: ("PUT", 200), PATCHED: ("PATCH", 200),
                   DELETED: ("DELETE", 204)}
_READ_METHODS = ("GET", "HEAD")
# A failure's detail text is the server's own message; quoted literals in it (values from a
# filter or a PATCH path) are masked, and it is cut to this length.
MAX_DETAIL = 500
_QUOTED = re.compile(r'"[^"]*"')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Resources whose identity one stored batch may look up in the log (see `_complete`), and how
# many of a resource's newest entries are searched for one.
MAX_LOOKUPS = 50
LOOKBACK = 20


def is_secret(attribute: str) -> bool:
    """`password` in any spelling or position (`password`, `urn:…:password`, `password.x`)."""
    name = attribute.rsplit(":", 1)[-1].split(".", 1)[0]
    return name.lower() == "password"


def safe_changed(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({name for name in names if not is_secret(name)}))


def safe_detail(text: object) -> str | None:
    """A SCIM error's detail as the log keeps it: quoted literals masked, no control
    characters, at most MAX_DETAIL characters."""
    if not isinstance(text, str):
        return None
    text = _CONTROL.sub(" ", _QUOTED.sub('"…"', text)).strip()
    return text[:MAX_DETAIL] or None


def entry_to_dict(entry: LogEntry) -> dict:
    """The JSON shape of an entry (admin API, CLI, console and the audit log line)."""
    return {
        "id": entry.id, "tenant": entry.tenant, "time": format_datetime(entry.time),
        "method": entry.method, "path": entry.path, "status": entry.status, "outcome": entry.outcome,
        "tokenId": entry.token_id, "resourceType": entry.resource_type, "resourceId": entry.resource_id,
        "userName": entry.user_name, "displayName": entry.display_name, "externalId": entry.external_id,
        "changed": list(entry.changed), "detail": entry.detail, "scimType": entry.scim_type,
        "requestId": entry.request_id, "durationMs": entry.duration_ms, "client": entry.client,
        "userAgent": entry.user_agent,
    }


def _entry_id(when: datetime, sequence: int) -> str:
    """Sorts in time order (fixed-width hex microseconds), unique across workers (random tail)."""
    micros = int(when.timestamp() * 1_000_000) + sequence
    # The tail only separates entries of different workers made in the same microsecond; it
    # needs no secrecy, so it does not cost a system call per entry.
    return f"{micros:015x}{random.getrandbits(32):08x}"


@dataclass
class RequestRecord:
    """What the blueprint knows about a finished SCIM request."""

    context: RequestContext
    method: str
    path: str  # relative to the SCIM prefix, e.g. "/Users/2819c223"
    status: int
    error_type: str | None  # the SCIM error's scimType
    events: list[ResourceEvent]
    error_detail: str | None = None  # the SCIM error's detail text
    request_id: str | None = None
    duration_ms: int | None = None
    user_agent: str | None = None
    body: object = None  # a failed write's JSON body: read for its target's identity, nothing else
    identities: IdentityPolicy = field(default_factory=IdentityPolicy)


def _entry(record: RequestRecord, now: datetime, sequence: int, method: str, path: str, status: int,
           outcome: str, resource_type: str | None, resource_id: str | None, changed: tuple[str, ...],
           identity: Identity) -> LogEntry:
    """One entry of `record`; a failure carries the error's scimType and detail (the
    operations a Bulk request logs beside its own entry are its successes)."""
    failed = outcome == "failure"
    identity = record.identities.apply(identity)
    return LogEntry(
        id=_entry_id(now, sequence), tenant=record.context.tenant, time=now, method=method, path=path,
        status=status, outcome=outcome, token_id=record.context.token_id, resource_type=resource_type,
        resource_id=resource_id, changed=changed,
        detail=safe_detail(record.error_detail) if failed else None,
        scim_type=record.error_type[:64] if failed and record.error_type else None,
        user_name=identity.user_name, display_name=identity.display_name, external_id=identity.external_id,
        request_id=record.request_id, duration_ms=record.duration_ms,
        client=recognise(record.user_agent), user_agent=bounded_user_agent(record.user_agent))


class ProvisioningLog:
    """Turns finished requests into log entries, stores them and applies retention."""

    def __init__(self, storage: Storage, catalog: Catalog, *, enabled: bool, reads: bool,
                 retention_days: int, max_entries: int, background: bool = True) -> None:
        self.store = storage if isinstance(storage, ProvisioningLogSupport) else None
        self.background = background
        self._pending: list[LogEntry] = []
        self._pending_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None
        self._writer_pid = 0
        self.catalog = catalog
        self.enabled = enabled
        self.reads = reads
        self.retention = timedelta(days=retention_days)
        self.max_entries = max_entries
        self._written: dict[str, int] = {}
        self._lock = threading.Lock()
        if enabled and self.store is None:
            log.warning("%s has no provisioning-log support: entries go only to the "
                        "'scimflask.audit' logger", type(storage).__name__)

    # -- collecting events during the request ---------------------------------------------
    @hookimpl
    def scimflask_resource_changed(self, event: ResourceEvent) -> None:
        if has_request_context():
            g.setdefault("scim_log_events", []).append(event)

    def wants(self, method: str, path: str) -> bool:
        if not self.enabled:
            return False
        is_read = method in _READ_METHODS or (method == "POST" and path.rstrip("/").endswith("/.search"))
        return self.reads or not is_read

    # -- building entries -------------------------------------------------------------------
    def entries(self, record: RequestRecord, now: datetime | None = None) -> list[LogEntry]:
        now = now or utcnow()
        outcome = "success" if record.status < 400 else "failure"
        segments = [part for part in record.path.split("/") if part]
        entries: list[LogEntry] = []

        def add(method: str, path: str, status: int, outcome: str, resource_type: str | None,
                resource_id: str | None, changed: tuple[str, ...], identity: Identity) -> None:
            entries.append(_entry(record, now, len(entries), method, path, status, outcome, resource_type,
                                  resource_id, changed, identity))

        if segments and segments[0].lower() == "bulk":
            add(record.method, record.path, record.status, outcome, None, None, (), Identity())
            for event in record.events:
                method, status = _ACTION_REQUEST.get(event.action, (record.method, record.status))
                endpoint = self._endpoint(event.resource_type)
                add(method, f"/{endpoint}/{event.id}", status, "success", event.resource_type,
                    event.id, safe_changed(event.changed), identity_of(event.data))
            return entries
        if record.events:
            event = record.events[-1]
            known = next((e.data for e in reversed(record.events) if e.data is not None), None)
            add(record.method, record.path, record.status, outcome, event.resource_type, event.id,
                safe_changed(name for e in record.events for name in e.changed), identity_of(known))
            return entries
        resource_type = resource_id = None
        if segments:
            found = (self.catalog.resource_type_by_endpoint("/" + segments[0])
                     or self.catalog.resource_type_by_endpoint(segments[0]))
            resource_type = found.name if found is not None else None
            if found is not None and len(segments) > 1 and not segments[1].startswith("."):
                resource_id = segments[1]
        # A create or replace that failed names its target in its body.
        identity = identity_of(record.body) if record.method in ("POST", "PUT") and resource_type else Identity()
        add(record.method, record.path, record.status, outcome, resource_type, resource_id, (), identity)
        return entries

    def _endpoint(self, resource_type: str) -> str:
        try:
            return self.catalog.resource_type(resource_type).endpoint.lstrip("/")
        except KeyError:
            return resource_type

    # -- writing ----------------------------------------------------------------------------
    def record(self, record: RequestRecord) -> None:
        """Store and emit the entries of a finished request; never raises."""
        try:
            entries = self.entries(record)
        except Exception:
            log.exception("provisioning log: could not build entries for %s %s", record.method, record.path)
            return
        for entry in entries:
            self.write(entry)

    def write(self, entry: LogEntry) -> None:
        try:
            if audit.isEnabledFor(logging.INFO):
                # The request id joins the line to the request's access line and response header.
                line = {**entry_to_dict(entry), "requestId": entry.request_id or current_request_id()}
                audit.info(json.dumps(line, separators=(",", ":")), extra={"fields": line})
        except Exception:
            log.exception("provisioning log: audit line failed")
        if self.store is None:
            return
        if not self.background:
            self._store([entry])
            return
        with self._pending_lock:
            self._pending.append(entry)
            crowded = len(self._pending) >= MAX_PENDING
        if crowded:
            self.flush()
        else:
            self._ensure_writer()

    def flush(self) -> None:
        """Store every waiting entry now (before reading the log, deleting a tenant, exiting).

        Batches are stored one at a time, so when this returns, a batch the writer thread had
        already taken is stored too.
        """
        with self._flush_lock:
            with self._pending_lock:
                batch, self._pending = self._pending, []
            if batch:
                self._store(batch)

    def _store(self, batch: list[LogEntry]) -> None:
        try:
            self._complete(batch)
            self.store.append_logs(batch)  # type: ignore[union-attr]
            newest = {entry.tenant: entry for entry in batch}  # each tenant's last entry
            added = Counter(entry.tenant for entry in batch)
            for tenant, entry in newest.items():
                if self._due_for_pruning(tenant, added[tenant]):
                    self.store.prune_log(tenant, keep=self.max_entries,  # type: ignore[union-attr]
                                         older_than=entry.time - self.retention)
        except Exception as exc:
            log.warning("provisioning log: could not store %d entr%s: %s", len(batch),
                        "y" if len(batch) == 1 else "ies", exc)

    def _ensure_writer(self) -> None:
        """Start this process's writer thread (again after a fork: threads do not survive it)."""
        pid = os.getpid()
        if self._writer is not None and self._writer_pid == pid and self._writer.is_alive():
            self._wake.set()
            return
        with self._pending_lock:
            if self._writer is not None and self._writer_pid == pid and self._writer.is_alive():
                return
            self._writer_pid = pid
            self._wake = threading.Event()
            self._writer = threading.Thread(target=_run_writer, args=(weakref.ref(self), self._wake),
                                            name="scimflask-log-writer", daemon=True)
            self._writer.start()
        _LIVE_LOGS.add(self)

    def _due_for_pruning(self, tenant: str, added: int = 1) -> bool:
        """True when this batch takes the tenant's count of entries written here across a
        multiple of the pruning interval (and for its very first entry)."""
        with self._lock:
            before = self._written.get(tenant, 0)
            self._written[tenant] = before + added
        every = max(PRUNE_EVERY, int(self.max_entries * PRUNE_SHARE))
        return before == 0 or before // every != (before + added) // every

    def _complete(self, batch: list[LogEntry]) -> None:
        """Give entries that name a resource but not its identity (a DELETE, a failed PATCH)
        the identity of the resource's latest entry: in this batch, else in the stored log."""
        def known(entry: LogEntry) -> bool:
            return bool(entry.user_name or entry.display_name or entry.external_id)

        found: dict[tuple[str, str], LogEntry | None] = {
            (entry.tenant, entry.resource_id): entry for entry in batch if entry.resource_id and known(entry)}
        lookups = 0
        for entry in batch:
            if entry.resource_id is None or known(entry):
                continue
            key = (entry.tenant, entry.resource_id)
            if key not in found and lookups < MAX_LOOKUPS:
                lookups += 1
                try:
                    history = self.store.query_log(  # type: ignore[union-attr]
                        entry.tenant, LogQuery(resource_id=entry.resource_id, limit=LOOKBACK))
                except Exception as exc:
                    log.warning("provisioning log: could not look up the identity of %s: %s", entry.resource_id, exc)
                    history = []
                found[key] = next((older for older in history if known(older)), None)
            source = found.get(key)
            if source is not None:
                entry.user_name, entry.display_name = source.user_name, source.display_name
                entry.external_id = source.external_id

    def query(self, tenant: str, query: LogQuery | None = None) -> list[LogEntry]:
        """Entries of `tenant` (this process's waiting ones stored first)."""
        if self.store is None:
            return []
        self.flush()
        return self.store.query_log(tenant, query or LogQuery())

    def hours(self, tenant: str, since: datetime) -> list[LogHour]:
        """The tenant's hourly counters from the hour holding `since` (see `LogHour`)."""
        if self.store is None:
            return []
        self.flush()
        return self.store.log_hours(tenant, since)


_LIVE_LOGS: weakref.WeakSet[ProvisioningLog] = weakref.WeakSet()


def _run_writer(owner: weakref.ref, wake: threading.Event) -> None:
    """Wait for entries, let FLUSH_SECONDS' worth gather, store them; end when the app is gone."""
    while True:
        woken = wake.wait(1.0)
        provisioning_log = owner()
        if provisioning_log is None or provisioning_log._wake is not wake:
            return
        if woken:
            time.sleep(FLUSH_SECONDS)
            wake.clear()
            provisioning_log.flush()
        del provisioning_log


@atexit.register
def _flush_all() -> None:
    for provisioning_log in list(_LIVE_LOGS):
        provisioning_log.flush()
