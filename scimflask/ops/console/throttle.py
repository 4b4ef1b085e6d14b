"""Slows down guessing admin tokens: too many failed sign-ins from one address are refused.

Counted per process (each worker keeps its own tally), in a sliding window, so a burst of
guesses is cut off after `limit` failures whatever the wall-clock minute. Admin tokens are long
random strings; the limit is there to keep a guesser from hammering the server, not because a
token could be guessed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

FAILURES_ALLOWED = 5
WINDOW_SECONDS = 60.0
# Addresses remembered at most; the oldest are forgotten first.
MAX_ADDRESSES = 10_000


class SignInThrottle:
    """Failed sign-ins per client address in the last `window` seconds."""

    def __init__(self, limit: int = FAILURES_ALLOWED, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again; 0 when it may try now."""
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
