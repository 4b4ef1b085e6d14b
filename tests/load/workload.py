"""The Entra-like clients: each one provisions, patches, groups, reads and deletes its own users.

Each client owns the users it creates (their names carry the client's number), so each fact
has one writer and its expected final value is computable (see ledger.py). Groups are shared;
a member id is only ever added or removed by the client that owns that user. A few userNames
are contested on purpose: every client tries to create them, in random letter case, and at
most one may win.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from .ledger import Exchange, Fact, Ledger, UserPlan

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
WORK_EMAIL = 'emails[type eq "work"].value'
CONTESTED_NAMES = 12
MAX_LIVE_USERS = 40       # per client: beyond this, provisioning gives way to deletes
BACKOFF_SECONDS = 0.1     # after a 5xx or a dropped connection, as a polite client would
TIMEOUT = (5, 60)         # long read timeout: a request we gave up on might still be running


def read_attribute(data: dict, path: str) -> Any:
    """The stored value at one PATCH path of the mix (None when absent)."""
    if path == WORK_EMAIL:
        return next((e.get("value") for e in data.get("emails") or [] if e.get("type") == "work"), None)
    if path.startswith(ENTERPRISE + ":"):
        return (data.get(ENTERPRISE) or {}).get(path[len(ENTERPRISE) + 1:])
    head, _, sub = path.partition(".")
    value = data.get(head)
    return (value or {}).get(sub) if sub else value


def user_document(key: str) -> tuple[dict, dict[str, Any]]:
    """The POST body Entra sends for a new user, and the attribute values it sets."""
    values = {
        "userName": f"{key}@load.example",
        "externalId": f"ext-{key}",
        WORK_EMAIL: f"{key}@mail.example",
        "displayName": f"User {key}",
        "name.givenName": "Given",
        "name.familyName": "Family",
        "title": "Tester",
        "active": True,
        f"{ENTERPRISE}:employeeNumber": "0",
    }
    body = {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": values["userName"],
        "externalId": values["externalId"],
        "active": True,
        "displayName": values["displayName"],
        "title": values["title"],
        "emails": [{"primary": True, "type": "work", "value": values[WORK_EMAIL]}],
        "name": {"formatted": "Given Family", "givenName": "Given", "familyName": "Family"},
        ENTERPRISE: {"employeeNumber": "0"},
        "meta": {"resourceType": "User"},
        "roles": [],
    }
    return body, values


def new_value(path: str, key: str, serial: int) -> tuple[Any, Any]:
    """(value sent in the PATCH, value expected to be stored) for one attribute write."""
    if path == "active":
        flag = serial % 2 == 0
        return ("True" if flag else "False"), flag  # Entra's default mode sends strings
    if path == "userName":
        return (f"{key}-r{serial}@load.example",) * 2
    if path == WORK_EMAIL:
        return (f"{key}-m{serial}@mail.example",) * 2
    if path == "externalId":
        return (f"ext-{key}-{serial}",) * 2
    return (f"{path.rsplit(':', 1)[-1]}-{serial}",) * 2


PATCHABLE = ("userName", "externalId", WORK_EMAIL, "displayName", "name.givenName",
             "name.familyName", "title", "active", f"{ENTERPRISE}:employeeNumber")


class Client(threading.Thread):
    """One provisioning client: a sequential loop of Entra-like requests until `deadline`."""

    ACTIONS = ("provision", "patch", "members", "get", "delete", "contest")
    WEIGHTS = (25, 30, 20, 15, 5, 5)

    def __init__(self, number: int, run_id: str, base_url: str, token: str, group_ids: list[str],
                 ledger: Ledger, deadline: float, seed: int) -> None:
        super().__init__(name=f"load-client-{number}", daemon=True)
        self.number = number
        self.run_id = run_id
        self.base_url = base_url
        self.group_ids = group_ids
        self.ledger = ledger
        self.deadline = deadline
        self.random = random.Random(seed)
        self.plans: list[UserPlan] = []
        self.serial = 0
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.crash: BaseException | None = None

    # -- the loop ---------------------------------------------------------------------
    def run(self) -> None:
        try:
            while time.monotonic() < self.deadline:
                self.step()
        except BaseException as exc:  # reported by the harness: a client bug must not pass silently
            self.crash = exc
        finally:
            self.session.close()

    def step(self) -> None:
        uncertain = [p for p in self.plans if p.uncertain]
        if uncertain and self.ledger.settled.is_set():
            return self.resolve(uncertain[0])
        present = [p for p in self.plans if p.present]
        action = self.random.choices(self.ACTIONS, self.WEIGHTS)[0]
        if not present or (action == "provision" and len(present) < MAX_LIVE_USERS):
            return self.provision()
        if action == "provision":
            action = "delete"
        plan = self.random.choice(present)
        handlers: dict[str, Callable[[], None]] = {
            "patch": lambda: self.patch_user(plan),
            "members": lambda: self.patch_members(present),
            "get": lambda: self.get_user(plan),
            "delete": lambda: self.delete_user(plan),
            "contest": self.contest,
        }
        handlers[action]()

    # -- HTTP -----------------------------------------------------------------------------
    def send(self, action: str, method: str, path: str, subject: str | None,
             body: dict | None = None, params: dict | None = None) -> tuple[Exchange, dict | None]:
        exchange = Exchange(self.number, action, method, path, time.monotonic(), subject=subject,
                            settled=self.ledger.settled.is_set())
        document = None
        self.ledger.begin(exchange)
        try:
            answer = self.session.request(
                method, self.base_url + path, params=params, timeout=TIMEOUT,
                json=body, headers={"Content-Type": "application/scim+json; charset=utf-8"} if body else None)
            exchange.status = answer.status_code
            exchange.retry_after = answer.headers.get("Retry-After")
            if answer.content:
                try:
                    document = answer.json()
                except ValueError:
                    document = None
            if isinstance(document, dict):
                exchange.resource_id = document.get("id")
                if ERROR_SCHEMA in (document.get("schemas") or []):
                    exchange.scim_error_status = str(document.get("status"))
        except requests.RequestException as exc:
            exchange.error = type(exc).__name__
        exchange.ended = time.monotonic()
        self.ledger.add(exchange)
        if exchange.status is None or exchange.status >= 500:
            time.sleep(BACKOFF_SECONDS)
        return exchange, document if isinstance(document, dict) else None

    def unexpected(self, exchange: Exchange, what: str, *, lost: bool = False) -> None:
        self.ledger.anomaly(f"client {self.number}: {exchange.method} {exchange.path} -> "
                            f"{exchange.status}: {what}", lost=lost)

    @staticmethod
    def failed(exchange: Exchange) -> bool:
        """No answer, or a 5xx: the write may or may not have happened."""
        return exchange.status is None or exchange.status >= 500

    # -- actions ----------------------------------------------------------------------
    def provision(self) -> None:
        """Entra's cycle for a new user: look it up by userName, then create it."""
        self.serial += 1
        key = f"{self.run_id}-c{self.number}-u{self.serial}"
        body, values = user_document(key)
        found, document = self.send("lookup", "GET", "/Users", key,
                                    params={"filter": f'userName eq "{values["userName"]}"'})
        if found.status != 200:
            if not self.failed(found):
                self.unexpected(found, "lookup of a new userName failed")
            return
        if document.get("totalResults") != 0:
            self.unexpected(found, "a userName never sent before is already taken")
            return
        plan = UserPlan(key, self.number, Fact(False), {p: Fact(v) for p, v in values.items()},
                        user_names={values["userName"]})
        self.plans.append(plan)
        created, document = self.send("create", "POST", "/Users", key, body=body)
        if created.status == 201 and document.get("id"):
            plan.id = document["id"]
            plan.exists.acknowledge(True)
        elif self.failed(created):
            plan.exists.unacknowledged(True)
        else:
            self.unexpected(created, "create of a fresh user refused")

    def resolve(self, plan: UserPlan) -> None:
        """After an unanswered create or delete: find out, as Entra's next cycle would."""
        if plan.id is None:
            user_name = plan.attributes["userName"].acked
            found, document = self.send("lookup", "GET", "/Users", plan.key,
                                        params={"filter": f'userName eq "{user_name.upper()}"'})
            if found.status != 200:
                return
            resources = document.get("Resources") or []
            if len(resources) > 1:
                self.unexpected(found, f"{len(resources)} users share userName {user_name}")
            if not found.settled:
                return
            if resources:
                plan.id = resources[0]["id"]
                self.observe(plan, resources[0], found)
            else:
                plan.exists.observe(False)
            return
        fetched, document = self.send("get", "GET", f"/Users/{plan.id}", plan.key)
        if not fetched.settled:
            return
        if fetched.status == 200:
            self.observe(plan, document, fetched)
        elif fetched.status == 404:
            plan.exists.observe(False)
            for fact in plan.memberships.values():
                fact.observe(False)

    def observe(self, plan: UserPlan, document: dict, read: Exchange) -> None:
        """A read of the user settles its facts (unless a network held requests when it was
        sent); a value no write ever sent is an anomaly."""
        plan.exists.observe(True)
        for path, fact in plan.attributes.items():
            value = read_attribute(document, path)
            if value not in fact.allowed():
                self.ledger.anomaly(f"client {self.number}: user {plan.key} shows {path}={value!r}, "
                                    f"never sent after the last acknowledged {fact.allowed()!r}",
                                    lost=fact.acked_by_write)
            if read.settled:
                fact.observe(value)

    def patch_user(self, plan: UserPlan) -> None:
        """Replace a few attributes, in Entra's default PATCH dialect."""
        paths = self.random.sample(PATCHABLE, self.random.randint(1, 4))
        operations, expected = [], {}
        for path in paths:
            self.serial += 1
            sent, stored = new_value(path, plan.key, self.serial)
            operations.append({"op": "Replace", "path": path, "value": sent})
            expected[path] = stored
        answer, _ = self.send("patch-user", "PATCH", f"/Users/{plan.id}", plan.key,
                              body={"schemas": [PATCH_SCHEMA], "Operations": operations})
        if "userName" in expected:
            plan.user_names.add(expected["userName"])
        if answer.status in (200, 204):
            for path, value in expected.items():
                plan.attributes[path].acknowledge(value)
        elif self.failed(answer):
            for path, value in expected.items():
                plan.attributes[path].unacknowledged(value)
        else:
            self.unexpected(answer, "PATCH of an own user refused", lost=answer.status == 404)

    def patch_members(self, present: list[UserPlan]) -> None:
        """Add the chosen users that are not members and remove those that are, in one PATCH."""
        group_id = self.random.choice(self.group_ids)
        chosen = self.random.sample(present, min(len(present), self.random.randint(1, 6)))
        adds = [p for p in chosen if p.membership(group_id).acked is not True]
        removes = [p for p in chosen if p.membership(group_id).acked is True]
        operations = []
        if adds:
            operations.append({"op": "Add", "path": "members",
                               "value": [{"$ref": None, "value": p.id} for p in adds]})
        if removes:
            operations.append({"op": "Remove", "path": "members", "value": [{"value": p.id} for p in removes]})
        answer, _ = self.send("patch-members", "PATCH", f"/Groups/{group_id}", None,
                              body={"schemas": [PATCH_SCHEMA], "Operations": operations})
        for plans, member in ((adds, True), (removes, False)):
            for plan in plans:
                if answer.status in (200, 204):
                    plan.membership(group_id).acknowledge(member)
                elif self.failed(answer):
                    plan.membership(group_id).unacknowledged(member)
        if not (answer.status in (200, 204) or self.failed(answer)):
            self.unexpected(answer, "member PATCH with own, existing users refused", lost=True)

    def get_user(self, plan: UserPlan) -> None:
        fetched, document = self.send("get", "GET", f"/Users/{plan.id}", plan.key)
        if fetched.status == 200:
            self.observe(plan, document, fetched)
        elif fetched.status == 404:
            self.unexpected(fetched, f"acknowledged user {plan.key} is gone", lost=True)
            plan.exists.observe(False)
        elif not self.failed(fetched):
            self.unexpected(fetched, "GET of an own user refused")

    def delete_user(self, plan: UserPlan) -> None:
        answer, _ = self.send("delete", "DELETE", f"/Users/{plan.id}", plan.key)
        if answer.status == 204:
            plan.exists.acknowledge(False)
            for fact in plan.memberships.values():
                fact.acknowledge(False)
        elif self.failed(answer):
            plan.exists.unacknowledged(False)
            for fact in plan.memberships.values():
                fact.unacknowledged(False)
        else:
            self.unexpected(answer, f"DELETE of acknowledged user {plan.key} refused",
                            lost=answer.status == 404)

    def contest(self) -> None:
        """Race the other clients for a shared userName, in random letter case."""
        name = f"contested-{self.run_id}-{self.random.randrange(CONTESTED_NAMES)}@load.example"
        spelled = "".join(c.upper() if self.random.random() < 0.5 else c for c in name)
        body = {"schemas": [USER_SCHEMA], "userName": spelled, "externalId": f"ext-{spelled}",
                "emails": [{"type": "work", "value": f"{self.number}-{self.serial}-{name}"}]}
        self.serial += 1
        answer, _ = self.send("contest", "POST", "/Users", name, body=body)
        if answer.status not in (201, 409) and not self.failed(answer):
            self.unexpected(answer, "contested create neither created nor conflicted")


def create_groups(base_url: str, token: str, run_id: str, count: int) -> list[str]:
    """The shared groups, created before the load (Entra creates groups empty)."""
    ids = []
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        for number in range(count):
            answer = session.post(f"{base_url}/Groups", timeout=TIMEOUT, json={
                "schemas": [GROUP_SCHEMA], "displayName": f"group-{run_id}-{number}",
                "externalId": f"gext-{run_id}-{number}", "meta": {"resourceType": "Group"}})
            if answer.status_code != 201:
                raise RuntimeError(f"creating a group failed: {answer.status_code} {answer.text[:500]}")
            ids.append(answer.json()["id"])
    return ids
