"""Which acknowledged writes a failover to a lagging replica lost, and whether each loss the
verifier found is explained by one of them.

`LaggingReplicaFailover` samples the primary's replication offset during the freeze and
reads the offset the promoted replica had reached. A write the killed primary acknowledged
before its stream passed that offset survived; one sent after is lost; one in flight across
that moment is uncertain. The verifier and the clients report losses as text, one per fact
or per surprise (a member PATCH refused because a lost user is missing counts each time), and
the text of a lost attribute or membership is the same as that of one no write acknowledged.
`LossAudit` therefore reads each problem back to the user, group or contested name it is
about (with the plans, which say whether a write acknowledged the fact) and asks whether a
lost or uncertain write touched it. Any other problem (a half-present user, a broken index,
two users with one userName, a phantom user) is one a replica holding a prefix of the
primary's history cannot cause.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from .failover import LaggingReplicaFailover
from .harness import LoadResult
from .ledger import Exchange, UserPlan

Explains = Callable[[Exchange], bool]  # does this acknowledged write explain the loss?

RUN = "during the run: "
GONE = re.compile(r"user (?P<key>\S+) \((?P<id>[^)]*)\): acknowledged (?P<what>create is missing|delete was undone)$")
VALUE = re.compile(r"user (?P<key>\S+): (?P<path>[^=]+)=.*, expected one of ")
MEMBER = re.compile(r"group (?P<gid>\S+): member (?P<key>\S+) \((?P<id>[^)]*)\) is (True|False), expected one of ")
CONTESTED = re.compile(r"acknowledged contested create (?P<name>'[^']*') \((?P<id>[^)]*)\) is missing$")
TWICE = re.compile(r"uniqueness: \d+ creates of (?P<name>'[^']*') were acknowledged: (?P<ids>\[.*\])$")
SHOWS = re.compile(r"client \d+: user (?P<key>\S+) shows (?P<path>[^=]+)=.*, never sent after the last acknowledged ")
MISSING = re.compile(r"client (?P<client>\d+): (?P<method>GET|PATCH|DELETE) /Users/(?P<id>\S+) -> 404: "
                     r"(acknowledged user \S+ is gone|PATCH of an own user refused|DELETE of acknowledged user \S+ refused)$")
MEMBERS_REFUSED = re.compile(r"client (?P<client>\d+): PATCH /Groups/\S+ -> \d+: member PATCH with own, existing users refused$")


class LossAudit:
    """The acknowledged writes the failover lost, and the problems they do not explain."""

    def __init__(self, result: LoadResult, failover: LaggingReplicaFailover, promotion_delay: float) -> None:
        """`promotion_delay`: the least time between the kill and a replica's promotion (the
        Sentinels' down-after period), so a write answered sooner ran on the killed primary."""
        self.failover = f = failover
        self.old_primary_until = f.killed_at + promotion_delay  # a write answered before ran there
        candidates = [e for e in result.ledger.exchanges
                      if e.is_write and e.acknowledged and e.started < f.killed_at]
        self.in_freeze = [e for e in candidates if f.frozen_at <= e.ended < self.old_primary_until]
        # Lost: sent after the primary's stream passed the replica's offset and answered before
        # a replica could be promoted. Uncertain: in flight as the stream passed that offset, or
        # answered when a new primary may have run it. Kept: answered before the stream got there.
        self.lost: list[Exchange] = []
        self.uncertain: list[Exchange] = []
        for e in candidates:
            if e.ended <= f.kept_until:
                continue
            certain = e.started >= f.lost_from and e.ended < self.old_primary_until
            (self.lost if certain else self.uncertain).append(e)
        self.plans = {plan.key: plan for plan in result.plans}
        self.by_id = {plan.id: plan for plan in result.plans if plan.id}
        self.losses: list[str] = []       # problems a lost write can cause
        self.unexplained: list[str] = []  # ... for which no lost or uncertain write qualifies
        self.other: list[str] = []        # problems no loss can cause
        self._audit(result.figures.problems)

    def line(self) -> str:
        f = self.failover
        dropped = f"{f.dropped_at - f.frozen_at:.1f}s" if f.dropped_at else "never"
        return (f"frozen={f.killed_at - f.frozen_at:.1f}s replica_dropped_after={dropped} "
                f"acknowledged_in_freeze={len(self.in_freeze)} lost_writes={len(self.lost)} "
                f"uncertain={len(self.uncertain)} loss_window={f.loss_window:.2f}s lag_at_kill={f.lag_bytes}B")

    def _explained(self, explains: Explains) -> bool:
        return any(explains(e) for e in (*self.lost, *self.uncertain))

    def _audit(self, problems: list[str]) -> None:
        contested_lost: set[str] = set()
        twice: list[tuple[str, list[str]]] = []
        for text in problems:
            explains = self._explanation(text)
            if explains is None and (match := TWICE.match(text)):
                twice.append((text, ast.literal_eval(match["ids"])))  # judged once all are read
                continue
            if explains is None:
                self.other.append(text)
                continue
            self.losses.append(text)
            if not self._explained(explains):
                self.unexplained.append(text)
            elif match := CONTESTED.match(text):
                contested_lost.add(match["id"])
        # A contested name whose acknowledged create was lost is free again: another client
        # may win it, which is not a second winner as long as at most one create survived.
        for text, ids in twice:
            (self.losses if len(set(ids) - contested_lost) <= 1 else self.other).append(text)

    def _explanation(self, text: str) -> Explains | None:
        """What a write must be to explain the loss `text` reports; None if it is not a loss."""
        during_run = text.startswith(RUN)
        text = text.removeprefix(RUN)
        if during_run:
            if match := SHOWS.match(text):
                return self._patched(match["key"], match["path"])
            if match := MISSING.match(text):
                plan = self.by_id.get(match["id"])
                return self._wrote(plan.key, "create") if plan else None
            if match := MEMBERS_REFUSED.match(text):  # it named a user whose create was lost
                client = int(match["client"])
                return lambda e: e.action == "create" and e.client == client
            return None
        if match := GONE.match(text):
            return self._wrote(match["key"], "create" if match["what"].startswith("create") else "delete")
        if match := VALUE.match(text):
            return self._patched(match["key"], match["path"])
        if match := MEMBER.match(text):
            return self._membership(match["key"], match["gid"])
        if match := CONTESTED.match(text):
            return lambda e, id=match["id"]: e.action == "contest" and e.resource_id == id
        return None

    @staticmethod
    def _wrote(key: str, action: str) -> Explains:
        return lambda e: e.action == action and e.subject == key

    def _patched(self, key: str, path: str) -> Explains | None:
        """A PATCH of the user's attribute, if a write (not only a read) acknowledged it."""
        plan: UserPlan | None = self.plans.get(key)
        fact = plan.attributes.get(path) if plan else None
        return self._wrote(key, "patch-user") if fact is not None and fact.acked_by_write else None

    def _membership(self, key: str, gid: str) -> Explains | None:
        """The owner's member PATCH of the group, or the user's delete (which ends every
        membership), if a write acknowledged the membership."""
        plan = self.plans.get(key)
        fact = plan.memberships.get(gid) if plan else None
        if plan is None or fact is None or not fact.acked_by_write:
            return None
        return lambda e: ((e.action == "patch-members" and e.client == plan.client and e.path == f"/Groups/{gid}")
                          or (e.action == "delete" and e.subject == key))
