"""What the clients asked, what the server answered, and what each client may therefore expect.

A `Fact` is one thing a single client owns (a user's existence, one attribute of a user, one
user's membership of one group). It holds the value the last acknowledged write put there,
plus the values of writes sent after it that got no acknowledgement (a 5xx, a dropped
connection): such a write happened wholly or not at all, so the final value must be one of
these. Because every fact has one owner who sends one request at a time, the order of writes
to a fact is the order the owner sent them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

WRITE_ACTIONS = frozenset({"create", "patch-user", "patch-members", "delete", "contest"})


@dataclass
class Exchange:
    """One request and its answer (`status` None: no answer, `error` says why)."""

    client: int
    action: str
    method: str
    path: str
    started: float
    ended: float = 0.0
    status: int | None = None
    error: str | None = None
    resource_id: str | None = None
    scim_error_status: str | None = None  # `status` of an RFC 7644 §3.12 Error body
    subject: str | None = None  # the user key or contested name the request was about
    retry_after: str | None = None  # the Retry-After header of the answer
    settled: bool = True  # sent while no network held a request (see Ledger.settled)

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def is_write(self) -> bool:
        return self.action in WRITE_ACTIONS

    @property
    def is_scim_error(self) -> bool:
        return self.scim_error_status == str(self.status)

    @property
    def is_unavailable(self) -> bool:
        """A SCIM 503 that tells the client when to come back: the one failure a storage
        outage may cause."""
        return self.status == 503 and self.is_scim_error and bool(self.retry_after)


class Ledger:
    """Every exchange of every client, in completion order (appends are thread-safe)."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self.anomalies: list[str] = []  # surprises clients saw during the run (e.g. a GET 404)
        self.lost_during_run = 0  # acknowledged resources a client found missing mid-run
        self.in_flight: dict[int, Exchange] = {}  # client number -> the request it waits on
        # Cleared while a network may hold requests it will deliver later (a stalled proxy):
        # a write that got a 503 may then still land after the client's next read, so a read
        # sent meanwhile cannot settle what the write did. A write that is one statement or one
        # script (a PostgreSQL one-statement PATCH, any Redis write) cannot be taken back by
        # the server once it arrives; Entra's next cycle, 40 minutes on, reads after the fact.
        self.settled = threading.Event()
        self.settled.set()
        self._lock = threading.Lock()

    def begin(self, exchange: Exchange) -> None:
        self.in_flight[exchange.client] = exchange

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self.in_flight.pop(exchange.client, None)
            self.exchanges.append(exchange)

    def writes_in_flight(self) -> list[Exchange]:
        return [e for e in list(self.in_flight.values()) if e.is_write]

    def anomaly(self, text: str, *, lost: bool = False) -> None:
        with self._lock:
            self.anomalies.append(text)
            self.lost_during_run += lost


@dataclass
class Fact:
    """The acknowledged value of one owned thing and the unacknowledged ones sent after it."""

    acked: Any
    pending: list[Any] = field(default_factory=list)
    acked_by_write: bool = False  # False while the value is only the initial/observed one

    @property
    def certain(self) -> bool:
        return not self.pending

    def allowed(self) -> list[Any]:
        return [self.acked, *self.pending]

    def acknowledge(self, value: Any) -> None:
        self.acked, self.pending, self.acked_by_write = value, [], True

    def unacknowledged(self, value: Any) -> None:
        if value != self.acked and value not in self.pending:
            self.pending.append(value)

    def observe(self, value: Any) -> None:
        """A read showed the value: it settles which of the allowed writes won."""
        self.acked, self.pending = value, []


@dataclass
class UserPlan:
    """Everything one client did to one of its users, as facts."""

    key: str
    client: int
    exists: Fact
    attributes: dict[str, Fact]
    memberships: dict[str, Fact] = field(default_factory=dict)  # group id -> member?
    id: str | None = None
    user_names: set[str] = field(default_factory=set)  # every userName ever sent for it

    @property
    def present(self) -> bool:
        return self.exists.certain and self.exists.acked is True and self.id is not None

    @property
    def uncertain(self) -> bool:
        return not self.exists.certain

    def membership(self, group_id: str) -> Fact:
        return self.memberships.setdefault(group_id, Fact(False))
