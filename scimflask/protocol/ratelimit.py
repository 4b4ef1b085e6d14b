"""Per-token rate limiting: fixed windows counted in the storage, so every worker shares them.

Identity providers back off on 429 with `Retry-After` (Entra ID and Okta both honour it), so a
noisy tenant slows itself down without starving the others: each token has its own counter.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from ..errors import ConfigurationError, ScimError
from ..storage.capabilities import CounterSupport

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class TooManyRequests(ScimError):
    status = 429


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` requests per `window` seconds per token."""

    limit: int
    window: int

    @classmethod
    def parse(cls, spec: str) -> RateLimit:
        """`"600/60"` → 600 requests per 60 seconds."""
        match = _SPEC.match(spec) if isinstance(spec, str) else None
        if match is None or int(match.group(1)) < 1 or int(match.group(2)) < 1:
            raise ConfigurationError(
                f"SCIM_RATE_LIMIT must look like '600/60' (requests/seconds, both >= 1), not {spec!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def check(self, counters: CounterSupport, key: str, now: datetime) -> None:
        """Count this request on `key` ("<tenant>:<token id>"); raise TooManyRequests once the
        window is full. The key starts with the tenant, which is how `delete_tenant` finds a
        tenant's counters (see `CounterSupport`)."""
        count = counters.hit_counter(f"{key}:rate", self.window, now)
        if count > self.limit:
            raise TooManyRequests(
                f"rate limit of {self.limit} requests per {self.window} s exceeded; retry later",
                headers={"Retry-After": str(self.retry_after(now))})

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the window containing `now` ends (at least 1)."""
        elapsed = now.timestamp() % self.window
        return max(1, math.ceil(self.window - elapsed))
