"""Several servers, one store: two independent gunicorn instances (own ports, own workers) share
PostgreSQL, and in a second run Redis, and a client alternates between them.

What must hold, because no server keeps state of its own that matters:
- a cursor issued by one server pages on the other (they share SCIM_SECRET_KEY);
- both give a resource the same ETag, and a stale one is refused by either;
- SCIM_RATE_LIMIT is counted once for both (the counters are in the store);
- a token revoked on one is refused by the other at once (tokens are not cached), and a tenant
  disabled on one is refused by the other within TENANT_STATUS_TTL (each worker's cache);
- the provisioning log holds every acknowledged write exactly once, whichever server took it.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from itertools import cycle

import pytest
import requests

from scimflask.ops.tenancy import TENANT_STATUS_TTL

from .server import GunicornServer

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ADMIN_TOKEN = "admin-" + uuid.uuid4().hex
RATE_LIMIT = 120         # requests per token per window, across both servers
RATE_WINDOW = 3600       # seconds: one burst stays inside one fixed window
USERS = 24
PAGE = 7
LOG_WAIT = 10.0          # seconds the background log writers may take to store the last entries
WORKERS = 2


@pytest.fixture
def pair(storage_url, tmp_path):
    """Two servers on one store: same tenant, secret key and admin token; own ports and workers."""
    url = storage_url
    if url.startswith("redis"):
        url += ("&" if "?" in url else "?") + f"prefix=two-{uuid.uuid4().hex[:8]}:"
    tenant, secret = "two-" + uuid.uuid4().hex[:10], uuid.uuid4().hex
    env = {"SCIM_ADMIN_TOKENS": ADMIN_TOKEN, "SCIM_RATE_LIMIT": f"{RATE_LIMIT}/{RATE_WINDOW}"}
    servers = [GunicornServer(url, tmp_path / f"server{n}.log", workers=WORKERS, tenant=tenant,
                              secret=secret, env=env) for n in (1, 2)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


class Scim:
    """One bearer token's requests, alternating between the servers unless one is named."""

    def __init__(self, servers: list[GunicornServer], token: str) -> None:
        self.servers = servers
        self.turn = cycle(servers)
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.writes: list[tuple[str, str, int]] = []  # (method, resource id, status) acknowledged

    def call(self, method: str, path: str, server: GunicornServer | None = None, **kw) -> requests.Response:
        server = server or next(self.turn)
        answer = self.session.request(method, server.base_url + path, timeout=30, **kw)
        if method != "GET" and 200 <= answer.status_code < 300:
            resource = answer.json()["id"] if method == "POST" else path.rsplit("/", 1)[-1]
            self.writes.append((method, resource, answer.status_code))
        return answer


def admin(server: GunicornServer, method: str, path: str) -> requests.Response:
    return requests.request(method, f"http://127.0.0.1:{server.port}/scim-admin{path}", timeout=30,
                            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


def issue_token(server: GunicornServer, tenant: str) -> dict:
    answer = admin(server, "PUT", f"/tenants/{tenant}/scim")
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def test_two_servers_share_one_store(pair, report):
    one, two = pair
    issued = issue_token(one, one.tenant)
    client = Scim(pair, issued["apiToken"])

    ids = [_create(client, n) for n in range(USERS)]
    _patch_and_delete(client, ids)
    live = sorted(ids[:-2])
    assert _page_alternating(client) == live

    etags = _etags_agree(client, live[0])
    log = _log_entries(one, two, client.writes)

    limited = _rate_limit_burst(pair, issue_token(two, one.tenant)["apiToken"])
    revoked_after = _revocation(pair, one.tenant)
    disabled_after = _disable(pair, one.tenant)
    report(f"writes={len(client.writes)} log_entries={len(log)} pages={-(-len(live) // PAGE)} "
           f"etag={etags} rate_limit_allowed={limited} of {RATE_LIMIT} "
           f"revoked_refused_after={revoked_after:.2f}s disabled_refused_after={disabled_after:.2f}s "
           f"(TTL {TENANT_STATUS_TTL:g}s)")


def _create(client: Scim, n: int) -> str:
    answer = client.call("POST", "/Users", json={"schemas": [USER], "userName": f"two-{n}@example.com",
                                                "externalId": f"ext-{n}"})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def _patch_and_delete(client: Scim, ids: list[str]) -> None:
    for n, id in enumerate(ids[:-2]):
        body = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": f"U {n}"}]}
        assert client.call("PATCH", f"/Users/{id}", json=body).status_code == 200
    for id in ids[-2:]:
        assert client.call("DELETE", f"/Users/{id}").status_code == 204


def _page_alternating(client: Scim) -> list[str]:
    """Every user once, by cursor pages asked of the servers in turn."""
    seen: list[str] = []
    params = {"cursor": "", "count": PAGE, "attributes": "id"}
    while True:
        answer = client.call("GET", "/Users", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        seen += [r["id"] for r in page.get("Resources", [])]
        if not page.get("nextCursor"):
            break
        params["cursor"] = page["nextCursor"]
    assert len(seen) == len(set(seen)), "a cursor page repeated a user"
    return sorted(seen)


def _etags_agree(client: Scim, id: str) -> str:
    one, two = client.servers
    first = {s.port: client.call("GET", f"/Users/{id}", server=s).headers["ETag"] for s in (one, two)}
    assert len(set(first.values())) == 1, f"the servers disagree on the ETag: {first}"
    stale = first[one.port]
    body = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "moved"}]}
    changed = client.call("PATCH", f"/Users/{id}", server=one, json=body, headers={"If-Match": stale})
    assert changed.status_code == 200
    again = client.call("PATCH", f"/Users/{id}", server=two, json=body, headers={"If-Match": stale})
    assert again.status_code == 412, "the other server accepted a stale ETag"
    fresh = {s.port: client.call("GET", f"/Users/{id}", server=s).headers["ETag"] for s in (one, two)}
    assert len(set(fresh.values())) == 1 and stale not in fresh.values()
    return fresh[one.port]


def _log_entries(one: GunicornServer, two: GunicornServer, writes: list[tuple[str, str, int]]) -> list[dict]:
    """Every acknowledged write is in the log once (asked of the server that took fewer of them)."""
    expected = Counter(writes)
    deadline = time.monotonic() + LOG_WAIT
    while True:
        answer = admin(two, "GET", f"/tenants/{one.tenant}/log?limit=1000")
        assert answer.status_code == 200, answer.text
        entries = answer.json()["entries"]
        found = Counter((e["method"], e["resourceId"], e["status"]) for e in entries
                        if e["method"] != "GET" and 200 <= e["status"] < 300)
        if found == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert found == expected, f"log differs: missing {expected - found}, extra {found - expected}"
    assert len({e["id"] for e in entries}) == len(entries), "two log entries share an id"
    return entries


def _rate_limit_burst(servers: list[GunicornServer], token: str) -> int:
    """Twice the limit, alternating: exactly the limit passes when both count on one counter."""
    for _ in range(2):  # a burst that straddles a window boundary is repeated once
        client = Scim(servers, token)
        window = int(time.time()) // RATE_WINDOW
        statuses = [client.call("GET", "/Users", params={"count": 1}) for _ in range(2 * RATE_LIMIT)]
        if int(time.time()) // RATE_WINDOW == window:
            break
    allowed = sum(a.status_code == 200 for a in statuses)
    refused = [a for a in statuses if a.status_code == 429]
    assert allowed == RATE_LIMIT and len(refused) == RATE_LIMIT, Counter(a.status_code for a in statuses)
    assert all(a.headers.get("Retry-After") for a in refused)
    return allowed


def _revocation(servers: list[GunicornServer], tenant: str) -> float:
    """Revoked on one server: refused by every worker of the other at once."""
    one, two = servers
    issued = issue_token(one, tenant)
    client = Scim(servers, issued["apiToken"])
    assert all(client.call("GET", "/Users", server=two, params={"count": 1}).status_code == 200
               for _ in range(2 * WORKERS))
    assert admin(one, "DELETE", f"/tokens/{issued['tokenId']}").status_code == 204
    revoked = time.monotonic()
    statuses = [client.call("GET", "/Users", server=two, params={"count": 1}).status_code
                for _ in range(4 * WORKERS)]
    assert statuses == [401] * len(statuses), statuses
    return time.monotonic() - revoked


def _disable(servers: list[GunicornServer], tenant: str) -> float:
    """Disabled on one server: refused (403) by every worker of the other within the TTL."""
    one, two = servers
    client = Scim(servers, issue_token(one, tenant)["apiToken"])
    for _ in range(4 * WORKERS):  # every worker of `two` now remembers the tenant as enabled
        assert client.call("GET", "/Users", server=two, params={"count": 1}).status_code == 200
    assert admin(one, "POST", f"/tenants/{tenant}/disable").status_code == 200
    disabled = time.monotonic()
    refused_in_a_row = 0
    while refused_in_a_row < 4 * WORKERS:
        status = client.call("GET", "/Users", server=two, params={"count": 1}).status_code
        refused_in_a_row = refused_in_a_row + 1 if status == 403 else 0
        assert status in (200, 403), status
        assert time.monotonic() - disabled <= TENANT_STATUS_TTL + 2.0, "the other server still serves a disabled tenant"
        time.sleep(0.05)
    return time.monotonic() - disabled
