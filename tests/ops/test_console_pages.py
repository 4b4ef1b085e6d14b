"""What the console's pages show: the log with its filters, paging, entries and live tail on
every backend, the activity chart, tenant health, and the Tenant URL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from scimflask.ops.console import logview
from scimflask.ops.console.activity import Hour, hours_of
from scimflask.ops.console.chart import bar_chart, nice_ceiling
from scimflask.ops.console.logview import LogFilter, find_entry, newer_entries, read_page
from scimflask.ops.console.throttle import SignInThrottle
from scimflask.ops.log_health import assess
from scimflask.ops.log_identity import IdentityPolicy
from scimflask.storage.capabilities import LogHour

from .conftest import require_operations
from .test_console_support import (
    ADMIN_TOKEN,
    CONSOLE,
    ConsoleClient,
    console_app,
    mount_console,
    scim,
    user,
)

ENTRY = re.compile(r'data-entry-id="([0-9a-f]+)"')


def entry_ids(response) -> list[str]:
    return ENTRY.findall(response.get_data(as_text=True))


@pytest.fixture
def traffic(make_app, tenant):
    """A signed-in console on the test's backend, and a tenant with seven logged requests, two
    of them failures: (console, tenant, secret)."""
    app = mount_console(make_app(SCIM_ADMIN_TOKENS=(ADMIN_TOKEN,), SCIM_LOG_BACKGROUND=False))
    require_operations(app)
    console = ConsoleClient(app)
    assert console.sign_in().status_code == 303
    secret = console.enable_scim(tenant)
    ids = [scim(app, secret, "POST", "/Users", user(f"u{n}@example.com")).get_json()["id"] for n in range(3)]
    assert scim(app, secret, "POST", "/Users", user("u0@example.com")).status_code == 409
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "path": "displayName", "value": "Ada"}]}
    assert scim(app, secret, "PATCH", f"/Users/{ids[1]}", patch).status_code == 200
    assert scim(app, secret, "DELETE", f"/Users/{ids[2]}").status_code == 204
    assert scim(app, secret, "PUT", "/Users/no-such-user", user("x@example.com")).status_code == 404
    return console, tenant, secret


def test_log_pages_newest_first_with_an_older_link(traffic, monkeypatch):
    console, tenant, _ = traffic
    monkeypatch.setattr(logview, "PAGE_SIZE", 3)
    seen: list[str] = []
    path = f"/tenants/{tenant}/log"
    pages = 0
    while path:
        response = console.get(path)
        assert response.status_code == 200
        seen += entry_ids(response)
        pages += 1
        older = re.search(r'<a rel="next" href="([^"]+)"', response.get_data(as_text=True))
        path = older.group(1).replace("&amp;", "&")[len(CONSOLE):] if older else None
    assert pages == 3 and len(seen) == 7 and len(set(seen)) == 7
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize(("query", "expected"), [
    ("outcome=failure", [404, 409]), ("method=DELETE", [204]), ("status=4xx", [404, 409]),
    ("status=409", [409]), ("q=U0@EXAMPLE", [409, 201]), ("q=x@example.com", [404]),
    ("method=POST&outcome=failure", [409]), ("type=Group", []), ("since=1h", [404, 204, 200, 409, 201, 201, 201]),
    ("status=bogus", [404, 204, 200, 409, 201, 201, 201]), ("q=u2@&method=DELETE", [204]),
])
def test_log_filters(traffic, query, expected):
    console, tenant, _ = traffic
    html = console.get(f"/tenants/{tenant}/log?{query}").get_data(as_text=True)
    statuses = [int(s) for s in re.findall(r'<td class="num">(\d{3})</td>', html)]
    assert statuses == expected
    failing_rows = len(re.findall(r'<tr data-entry-id="[0-9a-f]+" class="failure">', html))
    assert failing_rows == sum(1 for status in expected if status >= 400)


def test_each_entry_has_a_detail_page(traffic):
    console, tenant, _ = traffic
    ids = entry_ids(console.get(f"/tenants/{tenant}/log"))
    for entry_id in ids:
        page = console.get(f"/tenants/{tenant}/log/{entry_id}")
        assert page.status_code == 200 and f"<code>{entry_id}</code>" in page.get_data(as_text=True)
    failed = console.get(f"/tenants/{tenant}/log/{ids[3]}").get_data(as_text=True)  # the 409
    assert "This request failed (uniqueness): userName is already in use by another User." in failed
    assert "→ 409" in failed and "u0@example.com" in failed
    patched = console.get(f"/tenants/{tenant}/log/{ids[2]}").get_data(as_text=True)
    assert "u1@example.com" in patched and "displayName" in patched  # its name, and what changed
    assert console.get(f"/tenants/{tenant}/log/{'0' * len(ids[0])}").status_code == 404
    assert console.get(f"/tenants/{tenant}/log/not-an-id").status_code == 404
    assert console.get(f"/tenants/{tenant}/log?before=not-an-id").status_code == 400


def test_the_live_tail_sends_only_newer_rows(traffic):
    console, tenant, secret = traffic
    newest = entry_ids(console.get(f"/tenants/{tenant}/log"))[0]
    assert entry_ids(console.get(f"/tenants/{tenant}/log/rows?since={newest}")) == []
    assert scim(console.app, secret, "POST", "/Users", user("late@example.com")).status_code == 201
    assert scim(console.app, secret, "POST", "/Users", user("late@example.com")).status_code == 409
    rows = console.get(f"/tenants/{tenant}/log/rows?since={newest}")
    assert rows.status_code == 200 and len(entry_ids(rows)) == 2 and "<html" not in rows.get_data(as_text=True)
    failures = console.get(f"/tenants/{tenant}/log/rows?since={newest}&outcome=failure")
    assert len(entry_ids(failures)) == 1


def test_activity_is_an_inline_svg_chart(traffic):
    console, tenant, _ = traffic
    html = console.get(f"/tenants/{tenant}/activity").get_data(as_text=True)
    assert "<svg" in html and 'role="img"' in html
    assert len(re.findall(r'<rect class="requests"', html)) == 24
    assert len(re.findall(r'<rect class="failures"', html)) == 1
    assert "7 requests and 2 failures in the last 24 hours" in html


def test_tenant_page_and_health(traffic, make_app):
    console, tenant, _ = traffic
    page = console.get(f"/tenants/{tenant}").get_data(as_text=True)
    assert 'id="tenant-url" type="text" value="http://localhost/scim/v2"' in page
    assert 'badge-failing">failing</span> <span class="muted">2 failures in the last hour' in page
    assert "u1@example.com" in page  # recently changed resources, by name
    tokens = console.app.extensions["scim"].admin.list_tokens(tenant)
    assert all(f"<code>{token['id']}</code>" in page for token in tokens)
    console.get(f"/tenants/{tenant}/disable")
    assert console.post(f"/tenants/{tenant}/disable").status_code == 303
    listing = console.get("/tenants").get_data(as_text=True)
    assert re.search(rf'data-health="{tenant}"><span class="badge badge-disabled">disabled', listing)


def test_a_quiet_tenant_is_ok_and_the_public_base_url_is_used():
    app = console_app(SCIM_PUBLIC_BASE_URL="https://scim.example.com")
    console = ConsoleClient(app)
    console.sign_in()
    console.enable_scim("quiet")
    page = console.get("/tenants/quiet").get_data(as_text=True)
    assert 'value="https://scim.example.com/scim/v2"' in page
    assert 'badge-ok">ok</span>' in page


def test_without_a_log_the_console_says_so():
    app = console_app()
    console = ConsoleClient(app)
    console.sign_in()
    console.enable_scim("acme")
    app.extensions["scim"].admin.log = None
    assert 'badge-unknown">unknown' in console.get("/tenants").get_data(as_text=True)
    assert console.get("/tenants/acme").status_code == 200
    answer = console.get("/tenants/acme/log")
    assert answer.status_code == 501 and "does not keep a provisioning log" in answer.get_data(as_text=True)


def test_another_admin_prefix_moves_the_console_and_its_cookie():
    app = console_app(SCIM_ADMIN_URL_PREFIX="/ops")
    client = app.test_client()
    response = client.get("/ops/console/sign-in")
    assert response.status_code == 200
    assert "Path=/ops/console/" in response.headers["Set-Cookie"]
    assert client.get("/ops/console").status_code == 308  # to the slash, not the admin API's 404


def test_unknown_console_pages_are_404_pages():
    console = ConsoleClient(console_app())
    console.sign_in()
    missing = console.get("/nothing/here")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert console.get("/tenants/nobody").status_code == 404
    assert console.get("/tenants/bad%20id").status_code == 400


# -- the parts, without HTTP ----------------------------------------------------------------
START = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
FULL = IdentityPolicy()


def _reader(count: int, *, failing_every: int = 0):
    """AdminService.query_log over `count` stored entries one minute apart from START, and
    those entries as it returns them."""
    from scimflask_memory import MemoryStorage

    from scimflask.ops.provisioning_log import entry_to_dict
    from scimflask.schema import default_catalog
    from scimflask.storage.capabilities import LogEntry

    storage = MemoryStorage(default_catalog())
    entries = []
    for n in range(count):
        failed = bool(failing_every) and n % failing_every == 0
        entries.append(LogEntry(f"{n:023x}", "t", START + timedelta(minutes=n), "POST", "/Users",
                                409 if failed else 201, "failure" if failed else "success", "t1", "User",
                                f"r{n % 3}", user_name=f"user{n}@example.com",
                                scim_type="uniqueness" if failed else None))
    storage.append_logs(entries)

    def read(tenant, query):
        return [entry_to_dict(entry) for entry in storage.query_log(tenant, query)]

    return read, [entry_to_dict(entry) for entry in entries]


def test_read_page_asks_the_storage_for_one_page_of_matches():
    read, entries = _reader(50, failing_every=25)  # failures at 0 and 25
    page = read_page(read, "t", LogFilter(failures_only=True), identities=FULL, now=START, limit=1)
    assert [e["id"] for e in page.entries] == [entries[25]["id"]] and page.older == entries[25]["id"]
    page = read_page(read, "t", LogFilter(failures_only=True), identities=FULL, now=START, limit=1,
                     before=page.older)
    assert [e["id"] for e in page.entries] == [entries[0]["id"]] and page.older is None
    page = read_page(read, "t", LogFilter(text="USER4", resource_id="r1"), identities=FULL, now=START)
    assert [e["userName"] for e in page.entries] == ["user49@example.com", "user46@example.com",
                                                      "user43@example.com", "user40@example.com",
                                                      "user4@example.com"]


def test_find_entry_and_newer_entries():
    read, entries = _reader(5)
    assert find_entry(read, "t", entries[2]["id"]) == entries[2]
    assert find_entry(read, "t", "f" * 23) is None and find_entry(read, "t", "x") is None
    assert newer_entries(read, "t", LogFilter(), entries[2]["id"], identities=FULL, now=START) == [
        entries[4], entries[3]]
    assert len(newer_entries(read, "t", LogFilter(), "", identities=FULL, now=START)) == 5


def test_a_log_filter_ignores_what_makes_no_sense():
    wanted = LogFilter.from_args({"outcome": "failure", "method": "get", "type": "Nope", "status": "42x",
                                  "q": " x" * 300, "since": "3 days", "resource": "bad\x00id"}, ("User", "Group"))
    assert wanted.failures_only and wanted.method == "GET" and wanted.resource_type == ""
    assert wanted.status == "" and len(wanted.text) == logview.MAX_TEXT
    assert wanted.since == "" and wanted.resource_id == ""
    assert LogFilter().query_args() == {} and not LogFilter().active
    kept = LogFilter.from_args({"since": "24h", "resource": "u-1"}, ())
    assert kept.query_args() == {"since": "24h", "resource": "u-1"}
    query = kept.query(limit=5, identities=FULL, now=START)
    assert (query.since, query.resource_id, query.limit) == (START - timedelta(hours=24), "u-1", 5)


def test_hours_of_health_and_the_chart():
    now = datetime(2024, 5, 2, 11, 30, tzinfo=timezone.utc)
    counted = [LogHour(datetime(2024, 5, 2, 10, tzinfo=timezone.utc), 60, 2),
               LogHour(datetime(2024, 5, 2, 11, tzinfo=timezone.utc), 30, 1),
               LogHour(datetime(2024, 4, 30, 11, tzinfo=timezone.utc), 3, 0)]
    hours = hours_of(assess(counted, now, last_seen=None, disabled=False))
    assert len(hours) == 24 and hours[-1].start == datetime(2024, 5, 2, 11, 0, tzinfo=timezone.utc)
    assert (hours[-2].requests, hours[-2].failures) == (60, 2)
    assert (hours[-1].requests, hours[-1].failures) == (30, 1)
    assert sum(h.requests for h in hours[:-2]) == 0
    chart = bar_chart(hours)
    assert [value for _, value in chart.ticks] == [0, 20, 40, 60, 80, 100]
    tallest = chart.bars[-2]
    assert tallest.requests_height == pytest.approx((chart.baseline - chart.ticks[-1][0]) * 0.6, abs=0.2)
    assert [nice_ceiling(n) for n in (0, 1, 3, 7, 11, 60, 101)] == [1, 1, 5, 10, 20, 100, 200]
    assert bar_chart([Hour(now, 0, 0)]).ticks == [(chart.baseline, 0), (chart.ticks[-1][0], 1)]


def test_the_sign_in_throttle_forgets_after_its_window():
    now = [1000.0]
    throttle = SignInThrottle(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.retry_after("a") == 0
        throttle.failed("a")
    assert throttle.retry_after("a") == 61 and throttle.retry_after("b") == 0
    now[0] += 30
    assert throttle.retry_after("a") == 31
    now[0] += 31
    assert throttle.retry_after("a") == 0
    throttle.failed("a")
    throttle.succeeded("a")
    assert throttle.retry_after("a") == 0


def test_mounted_with_the_admin_api_and_only_then():
    from scimflask import create_app

    off = create_app({"SCIM_STORAGE_URI": "memory://"})
    assert "scim_console" not in off.blueprints
    assert off.test_client().get(CONSOLE + "/sign-in").status_code == 404
    on = create_app({"SCIM_STORAGE_URI": "memory://", "SCIM_ADMIN_TOKENS": (ADMIN_TOKEN,)})
    assert on.test_client().get(CONSOLE + "/sign-in").status_code == 200
