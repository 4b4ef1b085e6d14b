"""Ended console sessions: a signed-out cookie is refused by every worker, not only by the browser.

A session cookie names a random session id; signing out records that id as revoked until the
session would have expired anyway, and every signed-in request asks whether its id is revoked.

The record must be shared by all workers and read without changing it. The storage has no
key-value capability for that, and `CounterSupport` cannot serve: a counter is only read by
counting, so a check could not tell "revoked" from "checked before". What every operations
backend does offer is the provisioning log (`ProvisioningLogSupport`): a revocation is one
entry in the log of `TENANT`, a name no tenant can have (tenant ids start with a letter or a
digit), found by its resource id (an index in every backend) and pruned once no session it
could name is still alive. That log is not any tenant's, so no page, export or `delete_tenant`
shows or removes it.

Each process also keeps the ids it revoked itself. Without log support that is all there is,
and a copied cookie then stays good on the other workers until it expires
(SCIM_CONSOLE_SESSION_SECONDS at most).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import datetime, timedelta

from ...model import utcnow
from ...storage.capabilities import LogEntry, LogQuery, ProvisioningLogSupport
from ..provisioning_log import new_entry_id

log = logging.getLogger("scimflask")

TENANT = "~console-sessions"
RESOURCE_TYPE = "ConsoleSession"
# Revoked ids this process remembers at most; the oldest are forgotten first.
MAX_REMEMBERED = 10_000


def _record_id(session_id: str) -> str:
    """What the log holds for a session id: a digest, so the log names no cookie value."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()[:40]


class Revocations:
    """Session ids signed out in the last `lifetime` seconds."""

    def __init__(self, storage: object, lifetime: int) -> None:
        self.log = storage if isinstance(storage, ProvisioningLogSupport) else None
        self.lifetime = timedelta(seconds=lifetime)
        self._local: dict[str, datetime] = {}  # session id -> when it is forgotten
        self._lock = threading.Lock()

    def revoke(self, session_id: str, now: datetime | None = None) -> None:
        """Refuse `session_id` from now on. A storage failure is logged, not raised: the
        sign-out still ends the session in the browser and on this worker."""
        now = now or utcnow()
        self._remember(session_id, now + self.lifetime, now)
        if self.log is None:
            return
        entry = LogEntry(id=new_entry_id(now), tenant=TENANT, time=now, method="POST",
                         path="/console/sign-out", status=303, outcome="success", resource_type=RESOURCE_TYPE,
                         resource_id=_record_id(session_id))
        try:
            self.log.append_log(entry)
            self.log.prune_log(TENANT, older_than=now - self.lifetime)
        except Exception:
            log.exception("console: the sign-out could not be recorded in the storage; other workers "
                          "accept the session until it expires")

    def revoked(self, session_id: str, now: datetime | None = None) -> bool:
        """Whether `session_id` was signed out. A storage failure is raised (StorageUnavailable
        gets the console's 503 page): a session that cannot be checked is not let in."""
        now = now or utcnow()
        with self._lock:
            until = self._local.get(session_id)
        if until is not None and until > now:
            return True
        if self.log is None:
            return False
        found = self.log.query_log(TENANT, LogQuery(limit=1, resource_type=RESOURCE_TYPE,
                                                    resource_id=_record_id(session_id)))
        return bool(found)

    def _remember(self, session_id: str, until: datetime, now: datetime) -> None:
        with self._lock:
            self._local[session_id] = until
            if len(self._local) > MAX_REMEMBERED:
                for old in [sid for sid, end in self._local.items() if end <= now]:
                    del self._local[old]
            while len(self._local) > MAX_REMEMBERED:
                del self._local[next(iter(self._local))]
