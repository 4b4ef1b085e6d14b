"""Admin actions taken in the console, one JSON line each on the `scimflask.audit` logger.

The same logger carries the provisioning log, so what an identity provider did and what an
operator did to its tenant end up side by side. A line names the actor and the token id, never
a secret.
"""

from __future__ import annotations

import json
import logging

from flask import request

from ...model import format_datetime, utcnow
from ...server.request_id import current_request_id

audit = logging.getLogger("scimflask.audit")


def record(action: str, *, actor: str | None, outcome: str = "success", **fields: object) -> None:
    """Log `action` (e.g. "console.revoke") with the client, actor, outcome and `fields`."""
    line = {"time": format_datetime(utcnow()), "event": action, "outcome": outcome, "actor": actor,
            "client": request.remote_addr, "requestId": current_request_id()}
    line.update((key, value) for key, value in fields.items() if value is not None)
    try:
        audit.info(json.dumps(line, separators=(",", ":")), extra={"fields": line})
    except Exception:  # an audit handler must never fail the action it describes
        logging.getLogger("scimflask").exception("console: audit line failed")
