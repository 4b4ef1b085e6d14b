"""Querying: filters, sorting, index and cursor paging, projection, /.search (RFC 7644 §3.4)."""

from __future__ import annotations

import random
import time

import pytest

from scimflask.errors import InvalidFilter
from scimflask.filter.ast import Compare
from scimflask.model import RequestContext, Resource, utcnow
from scimflask.operations import Operations, SearchParams
from scimflask.protocol.paging import Paging
from tests.conftest import ScimClient

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
FAMILIES = ["Jensen", "jensen", "Smith", "Åström", "O'Brien", None]


def seed_users(app, count: int, seed: int = 7) -> list[str]:
    """Create users straight through the storage (fast), as core would."""
    import uuid

    rng = random.Random(seed)
    state = app.extensions["scim"]
    ctx = RequestContext(tenant=state.config["SCIM_DEFAULT_TENANT"])
    ids = []
    for i in range(count):
        data = {"userName": f"user{i:04d}@example.com", "active": rng.random() < 0.7,
                "title": rng.choice(["Dev", "Ops", "dev", None]) or "Sales"}
        family = rng.choice(FAMILIES)
        if family:
            data["name"] = {"familyName": family, "givenName": f"G{i % 17}"}
        now = utcnow()
        created = state.storage.create(ctx, Resource("User", str(uuid.uuid4()), data, now, now))
        ids.append(created.id)
    return ids


def pages_by_index(client: ScimClient, query: str, size: int) -> tuple[list[str], int]:
    seen, start, total = [], 1, None
    while True:
        body = client.get(f"/Users?{query}&startIndex={start}&count={size}&attributes=id").json
        total = body["totalResults"]
        assert body["itemsPerPage"] == len(body["Resources"]) <= size
        assert body["startIndex"] == start
        seen += [r["id"] for r in body["Resources"]]
        if not body["Resources"]:
            break
        start += len(body["Resources"])
    return seen, total


def pages_by_cursor(client: ScimClient, query: str, size: int) -> tuple[list[str], int]:
    seen, cursor, total = [], "", None
    for _ in range(10_000):
        body = client.get(f"/Users?{query}&cursor={cursor}&count={size}&attributes=id").json
        total = body["totalResults"]
        assert "startIndex" not in body
        seen += [r["id"] for r in body["Resources"]]
        if "nextCursor" not in body:
            break
        cursor = body["nextCursor"]
        assert all(c.isalnum() or c in "-._~" for c in cursor), "RFC 9865: unreserved characters only"
    return seen, total


QUERIES = [
    "",
    "filter=active eq true",
    'filter=name.familyName sw "J"',
    'filter=title eq "dev" or name.familyName pr&sortBy=name.familyName',
    "sortBy=userName&sortOrder=descending",
    'filter=not (title eq "Sales")&sortBy=title',
]


@pytest.mark.parametrize("backend", ["memory", "sqlite"], indirect=True)
def test_every_match_exactly_once_by_index_and_cursor(app):
    """1,000 users; every page size x sort x filter yields each match once, in one order."""
    seed_users(app, 1000)
    client = ScimClient(app)
    for query in QUERIES:
        reference = None
        for size in (1000, 37, 100):
            by_index, total = pages_by_index(client, query, size)
            by_cursor, cursor_total = pages_by_cursor(client, query, size)
            assert len(by_index) == len(set(by_index)) == total
            assert by_cursor == by_index and cursor_total == total
            if reference is None:
                reference = by_index
            assert by_index == reference, (query, size)


def test_count_zero_returns_only_total(client: ScimClient, app):
    seed_users(app, 5)
    body = client.get("/Users?count=0").json
    assert body["totalResults"] == 5 and body["Resources"] == [] and body["itemsPerPage"] == 0


def test_bad_paging_values_are_clamped(client: ScimClient, app):
    seed_users(app, 3)
    assert client.get("/Users?startIndex=-5").json["startIndex"] == 1
    assert client.get("/Users?startIndex=0&count=-1").json["itemsPerPage"] == 0
    assert client.get("/Users?startIndex=99").json["Resources"] == []
    assert client.get("/Users?count=abc").status_code == 400
    assert client.get("/Users?count=1&count=2").status_code == 400


def test_max_page_size_is_enforced(make_app):
    app = make_app(SCIM_MAX_PAGE_SIZE=10, SCIM_DEFAULT_PAGE_SIZE=4)
    seed_users(app, 25)
    client = ScimClient(app)
    assert client.get("/Users?count=500").json["itemsPerPage"] == 10
    assert client.get("/Users").json["itemsPerPage"] == 4


def test_cursor_errors(client: ScimClient, app, make_app):
    seed_users(app, 5)
    first = client.get("/Users?cursor=&count=2").json
    cursor = first["nextCursor"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    for bad in (tampered, "garbage", "a.b", "x" * 5000):
        response = client.get(f"/Users?cursor={bad}&count=2")
        assert response.status_code == 400 and response.json["scimType"] == "invalidCursor", bad
    other_query = client.get(f'/Users?cursor={cursor}&count=2&filter=active eq true')
    assert other_query.status_code == 400 and other_query.json["scimType"] == "invalidCursor"
    assert client.get(f"/Users?cursor={cursor}&startIndex=1").status_code == 400
    assert client.get("/Users?cursor=&count=0").json["scimType"] == "invalidCount"


def test_expired_cursor(make_app, monkeypatch):
    app = make_app(SCIM_CURSOR_TIMEOUT=60)
    seed_users(app, 3)
    client = ScimClient(app)
    cursor = client.get("/Users?cursor=&count=1").json["nextCursor"]
    later = time.time() + 61
    monkeypatch.setattr("scimflask.protocol.paging.time.time", lambda: later)
    response = client.get(f"/Users?cursor={cursor}&count=1")
    assert response.status_code == 400 and response.json["scimType"] == "expiredCursor"


def test_search_endpoint_equals_get(client: ScimClient, app):
    seed_users(app, 30)
    query = 'filter=name.familyName sw "j"&sortBy=userName&startIndex=3&count=5&attributes=userName,name.familyName'
    by_get = client.get(f"/Users?{query}").json
    by_post = client.post("/Users/.search", json={
        "schemas": [SEARCH], "filter": 'name.familyName sw "j"', "sortBy": "userName", "startIndex": 3, "count": 5,
        "attributes": ["userName", "name.familyName"]}).json
    assert by_post == by_get
    assert all(set(r) <= {"id", "userName", "name", "schemas"} for r in by_post["Resources"])


def test_search_request_validation(client: ScimClient):
    assert client.post("/Users/.search", json={"filter": "userName pr"}).status_code == 400
    bad = client.post("/Users/.search", json={"schemas": [SEARCH], "filter": "userName pr", "bogus": 1})
    assert bad.status_code == 400
    assert client.post("/Users/.search", json={"schemas": [SEARCH], "filter": 5}).status_code == 400
    long_filter = " or ".join(f'userName eq "u{i}"' for i in range(300))
    ok = client.post("/Users/.search", json={"schemas": [SEARCH], "filter": long_filter})
    assert ok.status_code == 200 and ok.json["totalResults"] == 0


def test_root_search_spans_resource_types(client: ScimClient):
    client.post("/Users", json={"schemas": [USER], "userName": "alpha", "displayName": "Shared"})
    client.post("/Groups", json={"schemas": [GROUP], "displayName": "Shared"})
    client.post("/Groups", json={"schemas": [GROUP], "displayName": "Other"})
    body = client.post("/.search", json={"schemas": [SEARCH], "filter": 'displayName eq "Shared"'}).json
    assert body["totalResults"] == 2
    assert sorted(r["meta"]["resourceType"] for r in body["Resources"]) == ["Group", "User"]
    # userName exists only on Users: Groups simply cannot match it.
    only_users = client.post("/.search", json={"schemas": [SEARCH], "filter": 'userName eq "alpha"'}).json
    assert [r["userName"] for r in only_users["Resources"]] == ["alpha"]
    paged = client.post("/.search", json={"schemas": [SEARCH], "startIndex": 2, "count": 1}).json
    assert paged["totalResults"] == 3 and len(paged["Resources"]) == 1
    assert client.post("/.search", json={"schemas": [SEARCH], "filter": 'nothing eq "x"'}).status_code == 400


def test_root_search_window_spans_the_boundary_between_types(client: ScimClient):
    for i in range(3):
        client.post("/Users", json={"schemas": [USER], "userName": f"u{i}"})
    for i in range(2):
        client.post("/Groups", json={"schemas": [GROUP], "displayName": f"g{i}"})
    # Within a type, the order is each type's own listing order.
    users = [r["id"] for r in client.get("/Users").json["Resources"]]
    groups = [r["id"] for r in client.get("/Groups").json["Resources"]]
    body = client.post("/.search", json={"schemas": [SEARCH], "startIndex": 3, "count": 2,
                                          "attributes": ["userName", "displayName"]}).json
    assert body["totalResults"] == 5 and body["startIndex"] == 3 and body["itemsPerPage"] == 2
    # Users come first (catalog order); each resource is projected with its own type's attributes.
    assert [r["id"] for r in body["Resources"]] == [users[2], groups[0]]
    assert set(body["Resources"][0]) == {"schemas", "id", "userName"}
    assert set(body["Resources"][1]) == {"schemas", "id", "displayName"}
    tail = client.post("/.search", json={"schemas": [SEARCH], "startIndex": 5, "count": 10}).json
    assert [r["id"] for r in tail["Resources"]] == [groups[1]] and tail["totalResults"] == 5
    assert client.post("/.search", json={"schemas": [SEARCH], "sortBy": "userName"}).json["scimType"] == "invalidValue"


def test_search_all_pages_across_types_without_http(app, tenant):
    ops = Operations(app.extensions["scim"])
    ctx = RequestContext(tenant=tenant)
    for i in range(3):
        ops.create(ctx, "User", {"schemas": [USER], "userName": f"u{i}", "title": "T"})
    for i in range(2):
        ops.create(ctx, "Group", {"schemas": [GROUP], "displayName": f"g{i}"})
    users = [r.id for r in ops.search(ctx, "User", SearchParams()).resources]
    groups = [r.id for r in ops.search(ctx, "Group", SearchParams()).resources]

    def searches(filter=None, start=1, count=100):
        return [(name, SearchParams(filter=filter, paging=Paging(start, count, None))) for name in ("User", "Group")]

    window = searches(start=3, count=2)
    result = ops.search_all(ctx, window)
    assert [r.id for r in result.resources] == [users[2], groups[0]]
    assert (result.total, result.start_index) == (5, 3)
    assert all(params.paging == Paging(3, 2, None) for _, params in window)  # the caller's params are kept
    assert [r.id for r in ops.search_all(ctx, searches(start=4, count=1)).resources] == [groups[0]]
    assert ops.search_all(ctx, searches(start=9)).resources == [] and ops.search_all(ctx, searches(start=9)).total == 5
    assert ops.search_all(ctx, searches(count=0)).resources == []
    # Groups have no title: they cannot match and are left out rather than failing the search.
    titled = ops.search_all(ctx, searches(filter='title eq "T"'))
    assert sorted(r.id for r in titled.resources) == sorted(users) and titled.total == 3
    with pytest.raises(InvalidFilter):
        ops.search_all(ctx, searches(filter='nothing eq "x"'))


def test_views_build_operations_and_renderers_once(app, monkeypatch):
    """Every view gets its Operations and Renderers at registration, none per request."""
    from scimflask.views import resources

    built = []
    monkeypatch.setattr(Operations, "__init__", lambda self, state: built.append("Operations"))
    monkeypatch.setattr(resources.Renderer, "__init__", lambda self, state, rt: built.append("Renderer"))
    client = ScimClient(app)
    uid = client.post("/Users", json={"schemas": [USER], "userName": "once"}).json["id"]
    assert client.get(f"/Users/{uid}").status_code == 200
    assert client.put(f"/Users/{uid}", json={"schemas": [USER], "userName": "twice"}).status_code == 200
    assert client.patch(f"/Users/{uid}", json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                               "Operations": [{"op": "replace", "path": "title", "value": "X"}]}
                        ).status_code == 200
    assert client.get("/Users").json["totalResults"] == 1
    assert client.post("/Users/.search", json={"schemas": [SEARCH]}).json["totalResults"] == 1
    assert client.post("/.search", json={"schemas": [SEARCH]}).json["totalResults"] == 1
    bulk = client.post("/Bulk", json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                                      "Operations": [{"method": "DELETE", "path": f"/Users/{uid}"}]})
    assert bulk.json["Operations"][0]["status"] == "204"
    assert built == []


def test_projection_on_reads_and_writes(client: ScimClient):
    body = {"schemas": [USER], "userName": "proj", "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "a@b.c", "type": "work"}], "title": "T"}
    created = client.post("/Users?attributes=name.givenName", json=body)
    assert created.status_code == 201
    assert set(created.json) == {"schemas", "id", "name"} and created.json["name"] == {"givenName": "A"}
    uid = created.json["id"]
    excluded = client.get(f"/Users/{uid}?excludedAttributes=emails,title,meta").json
    assert "emails" not in excluded and "title" not in excluded and excluded["userName"] == "proj"
    sub = client.get(f"/Users/{uid}?attributes=emails.value").json
    assert sub["emails"] == [{"value": "a@b.c"}]
    always = client.get(f"/Users/{uid}?excludedAttributes=id").json
    assert always["id"] == uid  # returned: always cannot be excluded
    listed = client.get("/Users?attributes=userName").json["Resources"][0]
    assert set(listed) == {"schemas", "id", "userName"}


class LoadSpy:
    """Wraps a storage to record what each call asked it to load."""

    def __init__(self, storage):
        self.storage = storage
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        target = getattr(self.storage, name)
        if name in ("get", "query"):
            def spy(*args, **kwargs):
                self.calls.append((name, args, kwargs))
                return target(*args, **kwargs)
            return spy
        return target


def test_excluded_members_are_never_loaded(client: ScimClient, app):
    uid = client.post("/Users", json={"schemas": [USER], "userName": "m"}).json["id"]
    gid = client.post("/Groups", json={"schemas": [GROUP], "displayName": "Big",
                                       "members": [{"value": uid}]}).json["id"]
    state = app.extensions["scim"]
    spy = LoadSpy(state.storage)
    state.storage = spy
    try:
        found = client.get('/Groups?excludedAttributes=members&filter=displayName eq "Big"').json
        single = client.get(f"/Groups/{gid}?excludedAttributes=members").json
        named = client.get(f"/Groups/{gid}?attributes=displayName").json
    finally:
        state.storage = spy.storage
    assert "members" not in found["Resources"][0] and "members" not in single and "members" not in named
    query_flags = [args[2].with_members for name, args, kwargs in spy.calls if name == "query"]
    get_flags = [kwargs["with_members"] for name, args, kwargs in spy.calls if name == "get"]
    assert query_flags == [False] and get_flags == [False, False], spy.calls


def test_filter_and_sort_reach_storage_parsed(client: ScimClient, app):
    state = app.extensions["scim"]
    spy = LoadSpy(state.storage)
    state.storage = spy
    try:
        client.get('/Users?filter=userName eq "x"&sortBy=title&count=7')
    finally:
        state.storage = spy.storage
    (name, args, kwargs), = spy.calls
    query = args[2]
    assert isinstance(query.filter, Compare) and query.filter.path.attribute == "userName"
    assert query.sort.path.attribute == "title" and query.count == 7
