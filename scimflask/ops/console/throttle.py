"""Slows down guessing admin tokens: too many sign-in attempts from one address are refused.

When the storage has shared counters (`CounterSupport`), attempts are counted there, so the
limit holds across workers and servers. Every attempt is counted before its token is checked:
a counter cannot be read without counting, and the refusal must come before the check, or a
right token would still get through and tell the guesser so. A successful sign-in therefore
counts too, which leaves an admin `limit` - 1 typos a minute. The window is a fixed one
(`window` seconds aligned to the epoch), so up to 2 x `limit` attempts get through around a
window's end.

Without shared counters, or while the storage fails (logged), the tally falls back to this
process: failed sign-ins in a sliding window, forgotten on success. Each worker then keeps its
own, so N workers let N x `limit` guesses through. The process tally is kept in either case, so
a storage outage does not start it from nothing.

Admin tokens are long random strings; the limit is there to keep a guesser from hammering the
server, not because a token could be guessed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import datetime

from ...model import utcnow
from ...protocol.ratelimit import RateLimit
from ...storage.capabilities import CounterSupport

log = logging.getLogger("scimflask")

# Attempts per window (counted in the storage), or failed ones (in the process tally).
LIMIT = 5
WINDOW_SECONDS = 60
# Addresses remembered at most; the oldest are forgotten first.
MAX_ADDRESSES = 10_000
# Counter keys start with "~", which no tenant id can (TENANT_ID in ops.admin.service): deleting
# a tenant, which removes the counters whose key starts with "<tenant>:", never touches them.
KEY_PREFIX = "~console:sign-in:"


def wall_clock() -> datetime:
    """The shared counters' clock (a function of its own so that tests can move it)."""
    return utcnow()


class SignInThrottle:
    """Sign-in attempts per client address in the last `window` seconds.

    `attempt(address)` is asked once per sign-in, before the token is checked; then `failed` or
    `succeeded` says how it went.
    """

    def __init__(self, limit: int = LIMIT, window: int = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic, counters: object = None) -> None:
        self.limit = limit
        self.window = int(window)
        self.clock = clock  # of the process tally
        self.counters = counters if isinstance(counters, CounterSupport) else None
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def attempt(self, address: str) -> int:
        """Count an attempt from `address`; the seconds it must wait (0: it may go ahead)."""
        if self.counters is not None:
            now = wall_clock()
            try:
                count = self.counters.hit_counter(KEY_PREFIX + address, self.window, now)
            except Exception as error:  # an outage must neither lock admins out nor become a 500
                log.warning("console: sign-in throttle falls back to this process's tally: storage "
                            "counter failed (%s)", type(error).__name__)
            else:
                return RateLimit(self.limit, self.window).retry_after(now) if count > self.limit else 0
        return self.retry_after(address)

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again by this process's tally; 0 when it may try now."""
        now = self.clock()
        with self._lock:
            times = self._recent(address, now)
            if times is None or len(times) < self.limit:
                return 0
            return max(1, int(times[0] + self.window - now) + 1)

    def failed(self, address: str) -> None:
        now = self.clock()
        with self._lock:
            times = self._recent(address, now)
            if times is None:
                times = self._failures[address] = deque()
            times.append(now)
            self._failures.move_to_end(address)
            while len(self._failures) > MAX_ADDRESSES:
                self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        return times
