"""The provisioning log: what each identity provider did to whom, and why it failed, per tenant.

Entries are made after the response status is known (the SCIM blueprint's `after_request`
takes a `RequestRecord`), from the request line, the response's SCIM error, the
`scimflask_resource_changed` events the request fired and, for a Bulk request, its failed
operations. An entry names the changed attributes, never their values, and never a password;
of the target it keeps only userName, displayName and externalId (as SCIM_LOG_IDENTITIES says,
`log_identity`): from the written resource, from the body (or Bulk operation data) of a write
that failed, and for a DELETE or a failed PATCH (which carry neither) from the resource's latest
logged entry, looked up by the writer. Entries go to the storage backend
(`ProvisioningLogSupport`) and, as one JSON line each, to the `scimflask.audit` logger. Nothing
here may fail a request: every error is logged and swallowed.
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
from typing import NamedTuple

from flask import g, has_request_context

from ..events import CREATED, DELETED, PATCHED, REPLACED, ResourceEvent
from ..hookspecs import hookimpl
from ..model import RequestContext, format_datetime, utcnow
from ..schema.catalog import Catalog
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
# A request only queues a snapshot of itself (`RequestRecord`); a background thread of each
# process builds the entries and stores them in batches, so a write request pays for one storage
# write, not two, and for none of the entry building. The writer is woken once per batch, when
# the first entry arrives, and lets FLUSH_SECONDS' worth gather before storing: waking less often
# costs the requests less (every wake-up competes with them for the interpreter). Reading the log
# (`query`, `hours`) and exiting store the waiting entries first. Past MAX_PENDING waiting
# requests the request that adds one stores the batch itself (back-pressure).
FLUSH_SECONDS = 0.25
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


def new_entry_id(when: datetime, sequence: int = 0) -> str:
    """Sorts in time order (fixed-width hex microseconds), unique across workers (random tail)."""
    micros = int(when.timestamp() * 1_000_000) + sequence
    # The tail only separates entries of different workers made in the same microsecond; it
    # needs no secrecy, so it does not cost a system call per entry.
    return f"{micros:015x}{random.getrandbits(32):08x}"


@dataclass(frozen=True, slots=True)
class FailedOperation:
    """A failed operation of a Bulk request, as the log names it: it fired no resource event.
    `path` has the bulkId references that could be resolved resolved; `data` is read only for
    the target's identity."""

    method: str
    path: str
    status: int
    scim_type: str | None
    detail: str | None
    data: object = None


class Change(NamedTuple):
    """What the log keeps of a `ResourceEvent`: its target, the names it changed and the
    identity fields read from its document, never the document itself. A request's snapshot
    waits up to FLUSH_SECONDS for the writer: a resource document kept that long outlives the
    garbage collector's young generation, and each older collection walks it again, while a
    few strings cost it next to nothing."""

    action: str
    resource_type: str
    id: str
    changed: tuple[str, ...]
    identity: Identity

    @classmethod
    def of(cls, event: ResourceEvent) -> Change:
        return cls(event.action, event.resource_type, event.id, safe_changed(event.changed),
                   identity_of(event.data))


@dataclass(slots=True)
class RequestRecord:
    """What the blueprint knows about a finished SCIM request: a cheap snapshot taken on the
    request's thread; the entries are built from it later, by the writer."""

    context: RequestContext
    method: str
    path: str  # relative to the SCIM prefix, e.g. "/Users/2819c223"
    status: int
    error_type: str | None  # the SCIM error's scimType
    events: list[Change]
    error_detail: str | None = None  # the SCIM error's detail text
    request_id: str | None = None
    duration_ms: int | None = None
    user_agent: str | None = None
    body: object = None  # a failed write's JSON body: read for its target's identity, nothing else
    identities: IdentityPolicy = field(default_factory=IdentityPolicy)
    failures: list[FailedOperation] = field(default_factory=list)  # a Bulk request's failed operations
    when: datetime = field(default_factory=utcnow)  # when the request finished: its entries' time


def _entry(record: RequestRecord, now: datetime, sequence: int, method: str, path: str, status: int,
           resource_type: str | None, resource_id: str | None, changed: tuple[str, ...], identity: Identity,
           failure: tuple[str | None, object] | None = None) -> LogEntry:
    """One entry of `record`; `failure` is the (scimType, detail) of a failed one."""
    identity = record.identities.apply(identity)
    scim_type, detail = failure or (None, None)
    return LogEntry(
        id=new_entry_id(now, sequence), tenant=record.context.tenant, time=now, method=method, path=path,
        status=status, outcome="success" if failure is None else "failure", token_id=record.context.token_id,
        resource_type=resource_type, resource_id=resource_id, changed=changed, detail=safe_detail(detail),
        scim_type=scim_type[:64] if scim_type else None,
        user_name=identity.user_name, display_name=identity.display_name, external_id=identity.external_id,
        request_id=record.request_id, duration_ms=record.duration_ms,
        client=recognise(record.user_agent), user_agent=bounded_user_agent(record.user_agent))


class ProvisioningLog:
    """Turns finished requests into log entries, stores them and applies retention."""

    def __init__(self, storage: Storage, catalog: Catalog, *, enabled: bool, reads: bool,
                 retention_days: int, max_entries: int, background: bool = True) -> None:
        self.store = storage if isinstance(storage, ProvisioningLogSupport) else None
        self.background = background
        self.catalog = catalog
        self.enabled = enabled
        self.reads = reads
        self.retention = timedelta(days=retention_days)
        self.max_entries = max_entries
        self._closed = False
        self._start()
        _LIVE_LOGS.add(self)
        if enabled and self.store is None:
            log.warning("%s has no provisioning-log support: entries go only to the "
                        "'scimflask.audit' logger", type(storage).__name__)

    def _start(self) -> None:
        """Fresh queue, locks and no writer (also in a forked child: the parent stores what
        was waiting, and locks or threads of the parent are no use there)."""
        # Waiting requests (snapshots) and, when built at once for their audit lines, entries.
        self._pending: list[RequestRecord | list[LogEntry]] = []
        self._pending_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None
        self._written: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- collecting events during the request ---------------------------------------------
    @hookimpl
    def scimflask_resource_changed(self, event: ResourceEvent) -> None:
        if self.enabled and has_request_context():
            g.setdefault("scim_log_events", []).append(Change.of(event))

    def wants(self, method: str, path: str) -> bool:
        if not self.enabled:
            return False
        is_read = method in _READ_METHODS or (method == "POST" and path.rstrip("/").endswith("/.search"))
        return self.reads or not is_read

    # -- building entries -------------------------------------------------------------------
    def entries(self, record: RequestRecord) -> list[LogEntry]:
        now = record.when
        # The request's own entry fails with the response's error; a Bulk operation with its own.
        failed = None if record.status < 400 else (record.error_type, record.error_detail)
        segments = [part for part in record.path.split("/") if part]
        entries: list[LogEntry] = []

        def add(method: str, path: str, status: int, resource_type: str | None, resource_id: str | None,
                changed: tuple[str, ...], identity: Identity, failure: tuple | None = failed) -> None:
            entries.append(_entry(record, now, len(entries), method, path, status, resource_type,
                                  resource_id, changed, identity, failure))

        if segments and segments[0].lower() == "bulk":
            # Beside its own entry, a Bulk request logs each operation: the successes from their
            # events, then the failures from their errors (they fired none).
            add(record.method, record.path, record.status, None, None, (), Identity())
            for event in record.events:
                method, status = _ACTION_REQUEST.get(event.action, (record.method, record.status))
                endpoint = self._endpoint(event.resource_type)
                add(method, f"/{endpoint}/{event.id}", status, event.resource_type, event.id,
                    event.changed, event.identity, None)
            for failed_op in record.failures:
                resource_type, resource_id = self._target(failed_op.path)
                if resource_id is not None and resource_id.startswith("bulkId:"):
                    resource_id = None  # a reference that never resolved names no resource
                add(failed_op.method, failed_op.path, failed_op.status, resource_type, resource_id, (),
                    identity_of(failed_op.data), (failed_op.scim_type, failed_op.detail))
            return entries
        if record.events:
            event = record.events[-1]
            known = next((e.identity for e in reversed(record.events) if e.identity), Identity())
            changed = event.changed if len(record.events) == 1 else safe_changed(
                name for e in record.events for name in e.changed)
            add(record.method, record.path, record.status, event.resource_type, event.id, changed, known)
            return entries
        resource_type, resource_id = self._target(record.path)
        # A create or replace that failed names its target in its body.
        identity = identity_of(record.body) if record.method in ("POST", "PUT") and resource_type else Identity()
        add(record.method, record.path, record.status, resource_type, resource_id, (), identity)
        return entries

    def _target(self, path: str) -> tuple[str | None, str | None]:
        """The resource type and id a path names (either may be None)."""
        segments = [part for part in path.split("/") if part]
        if not segments:
            return None, None
        found = (self.catalog.resource_type_by_endpoint("/" + segments[0])
                 or self.catalog.resource_type_by_endpoint(segments[0]))
        if found is None:
            return None, None
        resource_id = segments[1] if len(segments) > 1 and not segments[1].startswith(".") else None
        return found.name, resource_id

    def _endpoint(self, resource_type: str) -> str:
        try:
            return self.catalog.resource_type(resource_type).endpoint.lstrip("/")
        except KeyError:
            return resource_type

    def _built(self, items: list[RequestRecord | list[LogEntry]]) -> list[LogEntry]:
        """The entries of waiting requests, in request order (one that cannot be built is
        logged and left out)."""
        entries: list[LogEntry] = []
        for item in items:
            if isinstance(item, list):
                entries.extend(item)
                continue
            try:
                entries.extend(self.entries(item))
            except Exception:
                log.exception("provisioning log: could not build entries for %s %s", item.method, item.path)
        return entries

    # -- writing ----------------------------------------------------------------------------
    def record(self, record: RequestRecord) -> None:
        """Queue a finished request for storing; never raises.

        Its entries are built by the writer, except when the `scimflask.audit` logger wants
        them: their lines are emitted here and now, in the request (its logging context, in
        order with its access line, and not lost with the waiting entries if the process dies).
        """
        try:
            item: RequestRecord | list[LogEntry] = record
            if audit.isEnabledFor(logging.INFO):
                item = self.entries(record)
                for entry in item:
                    line = entry_to_dict(entry)
                    audit.info(json.dumps(line, separators=(",", ":")), extra={"fields": line})
            if self.store is None or self._closed:
                return
            if not self.background:
                self._store(self._built([item]))
                return
            with self._pending_lock:
                first = not self._pending
                self._pending.append(item)
                crowded = len(self._pending) >= MAX_PENDING
            if crowded:
                self.flush()
            elif first:
                # Only the first waiting request wakes the writer: the later ones are in its batch.
                self._wake_writer()
        except Exception:
            log.exception("provisioning log: could not record %s %s", record.method, record.path)

    def flush(self) -> None:
        """Store every waiting entry now (before reading the log, deleting a tenant, exiting).

        Batches are stored one at a time, so when this returns, a batch the writer thread had
        already taken is stored too.
        """
        with self._flush_lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        with self._pending_lock:
            items, self._pending = self._pending, []
        if items and not self._closed:
            self._store(self._built(items))

    def close(self) -> None:
        """Store the waiting entries and store nothing more (audit lines still go out): call it
        before closing the storage, which would otherwise be written to (and a SQL store
        reopened) by the writer or the exit hook."""
        with self._flush_lock:
            self._flush_locked()
            self._closed = True
        self._wake.set()  # the writer ends
        _LIVE_LOGS.discard(self)

    def _store(self, batch: list[LogEntry]) -> None:
        if not batch:
            return
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

    def _wake_writer(self) -> None:
        """Wake this process's writer thread, starting it first if need be."""
        writer = self._writer
        if writer is None or not writer.is_alive():
            with self._pending_lock:
                if self._writer is None or not self._writer.is_alive():
                    self._writer = threading.Thread(target=_run_writer, args=(weakref.ref(self), self._wake),
                                                    name="scimflask-log-writer", daemon=True)
                    self._writer.start()
        self._wake.set()

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
        the identity of the resource's latest entry before them: in this batch, else in the
        stored log (batches are stored in order, so it holds every earlier one)."""
        latest: dict[tuple[str, str], LogEntry | None] = {}  # None: looked up, nothing known
        lookups = 0
        for entry in batch:
            if entry.resource_id is None:
                continue
            key = (entry.tenant, entry.resource_id)
            if not _known(entry):
                if key not in latest:
                    if lookups >= MAX_LOOKUPS:
                        continue
                    lookups += 1
                    latest[key] = self._stored_identity(entry)
                source = latest[key]
                if source is None:
                    continue
                entry.user_name, entry.display_name = source.user_name, source.display_name
                entry.external_id = source.external_id
            latest[key] = entry

    def _stored_identity(self, entry: LogEntry) -> LogEntry | None:
        """The newest stored entry of `entry`'s resource that names it."""
        try:
            history = self.store.query_log(  # type: ignore[union-attr]
                entry.tenant, LogQuery(resource_id=entry.resource_id, limit=LOOKBACK))
        except Exception as exc:
            log.warning("provisioning log: could not look up the identity of %s: %s", entry.resource_id, exc)
            return None
        return next((older for older in history if _known(older)), None)

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


def _known(entry: LogEntry) -> bool:
    return bool(entry.user_name or entry.display_name or entry.external_id)


_LIVE_LOGS: weakref.WeakSet[ProvisioningLog] = weakref.WeakSet()


def _run_writer(owner: weakref.ref, wake: threading.Event) -> None:
    """Wait for entries, let FLUSH_SECONDS' worth gather, store them; end when the log is
    closed or gone."""
    while True:
        woken = wake.wait(1.0)
        provisioning_log = owner()
        if provisioning_log is None or provisioning_log._wake is not wake or provisioning_log._closed:
            return
        if woken:
            time.sleep(FLUSH_SECONDS)
            wake.clear()  # before taking the batch: a request queued after it wakes us again
            try:
                provisioning_log.flush()
            except Exception:  # the writer must outlive any error (flush logs its own)
                log.exception("provisioning log: the writer failed")
        del provisioning_log


@atexit.register
def _flush_all() -> None:
    """Store what still waits at exit (a closed log has nothing waiting and stores nothing)."""
    for provisioning_log in list(_LIVE_LOGS):
        try:
            provisioning_log.flush()
        except Exception:
            log.exception("provisioning log: could not store the waiting entries at exit")


def _after_fork_in_child() -> None:
    for provisioning_log in list(_LIVE_LOGS):
        provisioning_log._start()


os.register_at_fork(after_in_child=_after_fork_in_child)
