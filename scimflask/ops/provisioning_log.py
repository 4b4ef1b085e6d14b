"""The provisioning log: what each identity provider did, per tenant, without any values.

An entry is made after the response status is known (the SCIM blueprint's `after_request`),
from the request line and the `scimflask_resource_changed` events the request fired. It names
the changed attributes, never their values, and never a password. Entries go to the storage
backend (`ProvisioningLogSupport`) and, as one JSON line each, to the `scimflask.audit` logger.
Nothing here may fail a request: every error is logged and swallowed.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import random
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import g, has_request_context

from ..events import CREATED, DELETED, PATCHED, REPLACED, ResourceEvent
from ..hookspecs import hookimpl
from ..model import RequestContext, format_datetime, utcnow
from ..schema.catalog import Catalog
from ..server.request_id import current_request_id
from ..storage.base import Storage
from ..storage.capabilities import LogEntry, ProvisioningLogSupport

log = logging.getLogger("scimflask")
audit = logging.getLogger("scimflask.audit")

# Retention is applied after every PRUNE_EVERY entries a process writes for a tenant, so its
# cost is spread thin instead of paid on every request.
PRUNE_EVERY = 200
# Stored entries are written by a background thread of each process, in batches: a write
# request then pays for one storage write, not two. An entry waits at most FLUSH_SECONDS; past
# MAX_PENDING waiting entries the request that adds one writes the batch itself (back-pressure).
FLUSH_SECONDS = 0.05
MAX_PENDING = 5_000
_ACTION_REQUEST = {CREATED: ("POST", 201), REPLACED: ("PUT", 200), PATCHED: ("PATCH", 200),
                   DELETED: ("DELETE", 204)}
_READ_METHODS = ("GET", "HEAD")


def is_secret(attribute: str) -> bool:
    """`password` in any spelling or position (`password`, `urn:…:password`, `password.x`)."""
    name = attribute.rsplit(":", 1)[-1].split(".", 1)[0]
    return name.lower() == "password"


def safe_changed(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({name for name in names if not is_secret(name)}))


def entry_to_dict(entry: LogEntry) -> dict:
    """The JSON shape of an entry (admin API, CLI and the audit log line)."""
    return {
        "id": entry.id, "tenant": entry.tenant, "time": format_datetime(entry.time),
        "method": entry.method, "path": entry.path, "status": entry.status, "outcome": entry.outcome,
        "tokenId": entry.token_id, "resourceType": entry.resource_type, "resourceId": entry.resource_id,
        "changed": list(entry.changed), "detail": entry.detail,
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
    error_type: str | None
    events: list[ResourceEvent]


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
        ctx = record.context
        outcome = "success" if record.status < 400 else "failure"
        segments = [part for part in record.path.split("/") if part]
        is_bulk = bool(segments) and segments[0].lower() == "bulk"
        entries: list[LogEntry] = []

        def add(method: str, path: str, status: int, outcome: str, resource_type: str | None,
                resource_id: str | None, changed: tuple[str, ...], detail: str | None) -> None:
            entries.append(LogEntry(
                id=_entry_id(now, len(entries)), tenant=ctx.tenant, time=now, method=method, path=path,
                status=status, outcome=outcome, token_id=ctx.token_id, resource_type=resource_type,
                resource_id=resource_id, changed=changed, detail=detail))

        if is_bulk:
            add(record.method, record.path, record.status, outcome, None, None, (), record.error_type)
            for event in record.events:
                method, status = _ACTION_REQUEST.get(event.action, (record.method, record.status))
                endpoint = self._endpoint(event.resource_type)
                add(method, f"/{endpoint}/{event.id}", status, "success", event.resource_type,
                    event.id, safe_changed(event.changed), None)
            return entries
        if record.events:
            event = record.events[-1]
            add(record.method, record.path, record.status, outcome, event.resource_type, event.id,
                safe_changed(name for e in record.events for name in e.changed), record.error_type)
            return entries
        resource_type = resource_id = None
        if segments:
            found = (self.catalog.resource_type_by_endpoint("/" + segments[0])
                     or self.catalog.resource_type_by_endpoint(segments[0]))
            resource_type = found.name if found is not None else None
            if found is not None and len(segments) > 1 and not segments[1].startswith("."):
                resource_id = segments[1]
        add(record.method, record.path, record.status, outcome, resource_type, resource_id, (),
            record.error_type)
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
                line = {**entry_to_dict(entry), "requestId": current_request_id()}
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
        multiple of PRUNE_EVERY (and for its very first entry)."""
        with self._lock:
            before = self._written.get(tenant, 0)
            self._written[tenant] = before + added
        return before == 0 or before // PRUNE_EVERY != (before + added) // PRUNE_EVERY

    def query(self, tenant: str, *, limit: int = 100, before: str | None = None) -> list[LogEntry]:
        if self.store is None:
            return []
        self.flush()
        return self.store.query_log(tenant, limit=limit, before=before)


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
