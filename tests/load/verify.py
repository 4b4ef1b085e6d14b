"""After the load: read the backend directly and hold it against what the clients were told.

The storage is opened the way a worker opens it (`create_app` with the same URI, then the
plugin's `Storage`), never through HTTP, so a server that answers from a cache or a broken
index cannot vouch for itself. Checks:

- every acknowledged write is in the final state (a create exists unless an acknowledged
  delete followed; an attribute holds its last acknowledged value; a membership is what the
  last acknowledged add or remove made it); an unacknowledged write may have happened, but
  only wholly (see ledger.Fact);
- no user exists without its indexes: each is found by userName (in another letter case),
  externalId and work email, and no index finds a user that does not exist;
- uniqueness held: no two users share a userName case-insensitively, and at most one create
  of each contested userName was acknowledged;
- groups name only existing members, and each user's derived `groups` agrees with them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from scimflask import Query, RequestContext, create_app
from scimflask.filter import parse_filter
from scimflask.model import Resource
from scimflask.schema.catalog import Catalog
from scimflask.storage import Storage

from .ledger import Ledger, UserPlan
from .workload import WORK_EMAIL, read_attribute

PAGE = 500
LOOKUP_THREADS = 4


@dataclass
class Figures:
    """What a load run measured; `problems` lists every failed check in words."""

    requests: int = 0
    acknowledged_writes: int = 0
    verified_writes: int = 0
    server_errors: int = 0
    lost: int = 0
    users_checked: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self, label: str = "") -> str:
        prefix = f"[{label}] " if label else ""
        return (f"{prefix}requests={self.requests} acknowledged_writes={self.acknowledged_writes} "
                f"verified_writes={self.verified_writes} 5xx={self.server_errors} lost={self.lost} "
                f"users_checked={self.users_checked} problems={len(self.problems)}")


class StoreReader:
    """The tenant's data as the backend holds it."""

    def __init__(self, storage: Storage, catalog: Catalog, tenant: str) -> None:
        self.storage = storage
        self.catalog = catalog
        self.user_type = catalog.resource_type("User")
        self.ctx = RequestContext(tenant=tenant)

    @classmethod
    def open(cls, storage_uri: str, tenant: str) -> StoreReader:
        """The backend at `storage_uri`, built by the plugin registry exactly as a worker builds it."""
        options = {}
        if storage_uri.startswith("postgresql"):
            # Custom plans only: once psycopg prepares the statement, PostgreSQL's generic plan
            # for a work-email lookup can walk every work email of the tenant per match
            # (quadratic); a 60 s run's verification hit the 30 s statement timeout that way.
            options = {"engine_options": {"connect_args": {"prepare_threshold": None}}}
        app = create_app({"SCIM_STORAGE_URI": storage_uri, "SCIM_STORAGE_OPTIONS": options,
                          "SCIM_DEFAULT_TENANT": tenant, "SCIM_SECRET_KEY": "verify", "SCIM_BEARER_TOKENS": ()})
        state = app.extensions["scim"]
        return cls(state.storage, state.catalog, tenant)

    def all_users(self) -> list[Resource]:
        users: list[Resource] = []
        while True:
            page = self.storage.query(self.ctx, "User", Query(start_index=len(users) + 1, count=PAGE,
                                                                with_members=False, with_groups=True))
            users.extend(page.resources)
            if not page.resources or len(users) >= page.total:
                return users

    def find(self, attribute: str, value: str) -> list[str]:
        """Ids of users whose `attribute` equals `value`, through the backend's filter path."""
        text = f'{attribute} eq "{value}"'
        page = self.storage.query(self.ctx, "User", Query(filter=parse_filter(text, self.catalog, self.user_type),
                                                          count=PAGE, with_members=False, with_groups=False))
        return [r.id for r in page.resources]

    def group(self, group_id: str) -> Resource:
        return self.storage.get(self.ctx, "Group", group_id, with_members=True, with_groups=False)

    def close(self) -> None:
        self.storage.close()


class Verifier:
    """Runs every check once and fills `Figures`."""

    def __init__(self, reader: StoreReader, ledger: Ledger, plans: list[UserPlan], group_ids: list[str]) -> None:
        self.reader = reader
        self.ledger = ledger
        self.plans = plans
        self.group_ids = group_ids
        self.figures = Figures()
        self.lost = 0

    def problem(self, text: str, *, lost: bool = False) -> None:
        self.figures.problems.append(text)
        self.lost += lost

    def run(self) -> Figures:
        users = self.reader.all_users()
        self.by_id = {u.id: u for u in users}
        self.by_name = {}
        for user in users:
            self.by_name.setdefault(str(user.data.get("userName", "")).lower(), []).append(user)
        groups = {gid: self.reader.group(gid) for gid in self.group_ids}
        self.members = {gid: {m.value for m in g.members or []} for gid, g in groups.items()}

        self.check_uniqueness()
        with ThreadPoolExecutor(LOOKUP_THREADS) as pool:  # three lookups per user add up
            list(pool.map(self.check_indexes, users))
        self.accounted: set[str] = set()
        for plan in self.plans:
            self.check_plan(plan)
        self.check_contested()
        self.check_accounted(users)
        self.check_groups()
        self.count(users)
        return self.figures

    # -- checks -------------------------------------------------------------------------
    def check_uniqueness(self) -> None:
        for name, holders in self.by_name.items():
            if len(holders) > 1:
                self.problem(f"uniqueness: {len(holders)} users share userName {name!r}: {[u.id for u in holders]}")

    def find(self, attribute: str, value: str) -> list[str]:
        ids = self.reader.find(attribute, value)
        for id in ids:
            if id not in self.by_id:
                self.problem(f"index without resource: {attribute} eq {value!r} finds missing user {id}")
        return ids

    def check_indexes(self, user: Resource) -> None:
        """A stored user is complete and findable by each of its identifying attributes."""
        lookups = {"userName": user.data.get("userName"), "externalId": user.data.get("externalId"),
                   WORK_EMAIL: read_attribute(user.data, WORK_EMAIL)}
        for attribute, value in lookups.items():
            if not value:
                self.problem(f"half-present: user {user.id} has no {attribute} ({user.data!r})")
                continue
            spelled = value.upper() if attribute == "userName" else value
            if self.find(attribute, spelled) != [user.id]:
                self.problem(f"half-present: user {user.id} is not found by {attribute} eq {spelled!r}")

    def check_plan(self, plan: UserPlan) -> None:
        user = self.by_id.get(plan.id) if plan.id else None
        if plan.id is None:  # an unanswered create never resolved: find it by the name it was sent with
            holders = self.by_name.get(plan.attributes["userName"].acked.lower(), [])
            user = holders[0] if holders else None
        exists = user is not None
        if user is not None:
            self.accounted.add(user.id)
        if exists not in plan.exists.allowed():
            by_write = plan.exists.acked_by_write
            what = "acknowledged create is missing" if plan.exists.acked else "acknowledged delete was undone"
            self.problem(f"user {plan.key} ({plan.id}): {what if by_write else 'differs from what a read showed'}",
                         lost=by_write)
        if not exists:
            for name in plan.user_names:
                if plan.id and plan.id in self.find("userName", name):
                    self.problem(f"deleted user {plan.key} is still found by userName {name!r}")
            return
        for path, fact in plan.attributes.items():
            value = read_attribute(user.data, path)
            if value not in fact.allowed():
                self.problem(f"user {plan.key}: {path}={value!r}, expected one of {fact.allowed()!r}",
                             lost=fact.acked_by_write)
        member_of = set()
        for gid in self.group_ids:
            is_member = user.id in self.members[gid]
            member_of.update([gid] if is_member else [])
            fact = plan.memberships.get(gid)
            allowed = fact.allowed() if fact else [False]
            if is_member not in allowed:
                self.problem(f"group {gid}: member {plan.key} ({user.id}) is {is_member}, expected one of {allowed}",
                             lost=bool(fact and fact.acked_by_write))
        derived = {g.value for g in user.groups or []}
        if derived & set(self.group_ids) != member_of:
            self.problem(f"user {plan.key}: groups {sorted(derived)} disagree with the groups' members {sorted(member_of)}")

    def check_contested(self) -> None:
        won: dict[str, list[str]] = {}
        for exchange in self.ledger.exchanges:
            if exchange.action == "contest" and exchange.status == 201:
                won.setdefault(exchange.subject, []).append(exchange.resource_id)
        for name, ids in won.items():
            if len(ids) > 1:
                self.problem(f"uniqueness: {len(ids)} creates of {name!r} were acknowledged: {ids}")
            for id in ids:
                user = self.by_id.get(id)
                if user is None or str(user.data.get("userName")).lower() != name:
                    self.problem(f"acknowledged contested create {name!r} ({id}) is missing", lost=True)

    def check_accounted(self, users: list[Resource]) -> None:
        """Every stored user is one a client sent (no phantom or duplicated create)."""
        for user in users:
            name = str(user.data.get("userName", "")).lower()
            if user.id not in self.accounted and not name.startswith("contested-"):
                self.problem(f"user {user.id} ({name!r}) stored but no client's plan accounts for it")

    def check_groups(self) -> None:
        for gid, members in self.members.items():
            for member in sorted(members - set(self.by_id)):
                self.problem(f"group {gid} names member {member}, which does not exist")

    def count(self, users: list[Resource]) -> None:
        f = self.figures
        f.requests = len(self.ledger.exchanges)
        f.acknowledged_writes = sum(e.acknowledged and e.is_write for e in self.ledger.exchanges)
        f.server_errors = sum(e.status is not None and e.status >= 500 for e in self.ledger.exchanges)
        f.lost = self.lost + self.ledger.lost_during_run
        f.verified_writes = max(0, f.acknowledged_writes - f.lost)
        f.users_checked = len(users)
        f.problems[:0] = [f"during the run: {a}" for a in self.ledger.anomalies]


def verify(storage_uri: str, tenant: str, ledger: Ledger, plans: list[UserPlan], group_ids: list[str]) -> Figures:
    reader = StoreReader.open(storage_uri, tenant)
    try:
        return Verifier(reader, ledger, plans, group_ids).run()
    finally:
        reader.close()
