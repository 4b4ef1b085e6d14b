"""The pieces behind the provisioning log's who, what and why, without HTTP: which identity
provider a User-Agent names, what an entry may keep of its target, how operators' filters are
read, the CSV export, the masking of error details, and the tenant-health heuristic."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from scimflask.errors import ConfigurationError
from scimflask.ops.idp_clients import MAX_USER_AGENT, bounded_user_agent, recognise
from scimflask.ops.log_export import COLUMNS, csv_lines
from scimflask.ops.log_filters import FilterError, build_query, parse_moment, query_from_args
from scimflask.ops.log_health import QUARANTINE_MIN_WRITES, QUARANTINE_SHARE, assess, day_start
from scimflask.ops.log_identity import MAX_VALUE, Identity, IdentityPolicy, identity_of, identity_policy
from scimflask.ops.provisioning_log import MAX_DETAIL, safe_detail
from scimflask.storage.capabilities import LogEntry, LogHour, LogQuery

NOW = datetime(2024, 5, 2, 11, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(("agent", "client"), [
    ("Microsoft.Azure.Active.Directory.Provisioning/1.0", "entra"),
    ("Azure AD Provisioning Agent", "entra"),
    ("AzureActiveDirectory-SCIM/2.0", "entra"),
    ("Microsoft Entra provisioning", "entra"),
    ("Okta SCIM Client 1.0.0", "okta"),
    ("okta-scim/1.2", "okta"),
    ("curl/8.5.0", "other"),
    ("Tokta/1.0", "other"),  # a word containing "okta" is not Okta
    (None, "other"),
])
def test_the_identity_provider_is_recognised_from_its_user_agent(agent, client):
    assert recognise(agent) == client


def test_the_raw_user_agent_is_kept_clean_and_bounded():
    assert bounded_user_agent("Okta\x00 SCIM\n Client") == "Okta SCIM Client"
    assert len(bounded_user_agent("x" * 5000)) == MAX_USER_AGENT
    assert bounded_user_agent("") is None and bounded_user_agent("\x01\x02") is None


def test_only_the_three_identity_fields_are_read_whatever_their_case():
    body = {"USERNAME": "ada@example.com", "displayname": "Ada\nL.", "externalId": 42, "password": "secret",
            "emails": [{"value": "ada@example.com"}], "userName": "second spelling loses"}
    assert identity_of(body) == Identity("ada@example.com", "AdaL.", None)
    assert identity_of({"userName": "x" * 1000}).user_name == "x" * MAX_VALUE
    assert identity_of(["not", "an", "object"]) == Identity() and not Identity()
    assert identity_of({"userName": "   "}) == Identity()


def test_hashed_identities_are_short_keyed_and_ignore_case():
    policy = IdentityPolicy("hashed", "key-1")
    hashed = policy.apply(Identity("Ada@Example.com", None, "E-1"))
    assert hashed.user_name.startswith("h:") and len(hashed.user_name) == 18 and hashed.display_name is None
    assert hashed.user_name == policy.hashed("ada@example.com")
    assert hashed.user_name != IdentityPolicy("hashed", "key-2").hashed("ada@example.com")
    assert policy.search_term("ADA@example.com") == hashed.user_name
    assert policy.search_term(hashed.user_name.upper()) == hashed.user_name  # a pasted hash stays
    assert IdentityPolicy("full").search_term("Ada") == "Ada"
    assert IdentityPolicy("none").apply(Identity("a", "b", "c")) == Identity()
    with pytest.raises(ConfigurationError):
        IdentityPolicy("hashed")
    assert identity_policy({"SCIM_LOG_IDENTITIES": "hashed", "SCIM_SECRET_KEY": "k"}) is identity_policy(
        {"SCIM_LOG_IDENTITIES": "hashed", "SCIM_SECRET_KEY": "k"})


def test_error_details_keep_the_message_but_mask_quoted_values():
    assert safe_detail("Invalid filter at position 9: userName eq \"ada@example.com\" and") == \
        'Invalid filter at position 9: userName eq "…" and'
    assert safe_detail("User 'u-1' not found") == "User 'u-1' not found"
    assert safe_detail("line\nbreak") == "line break"
    assert len(safe_detail("x" * 5000)) == MAX_DETAIL
    assert safe_detail(None) is None and safe_detail({"no": "text"}) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("30m", NOW - timedelta(minutes=30)), ("1h", NOW - timedelta(hours=1)), ("2d", NOW - timedelta(days=2)),
    ("1W", NOW - timedelta(weeks=1)), ("2024-05-01", datetime(2024, 5, 1, tzinfo=timezone.utc)),
    ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=timezone.utc)),
    ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, tzinfo=timezone.utc)),
])
def test_moments_are_spans_back_from_now_or_iso_times(text, expected):
    assert parse_moment(text, NOW) == expected


def test_filters_as_typed_become_one_log_query():
    hashed = IdentityPolicy("hashed", "k")
    query = build_query(limit=5, identities=hashed, now=NOW, since="1h", until="2024-05-02", failures_only=True,
                        status="4XX", method="post", resource_type="User", resource_id="u-1", text=" Ada ",
                        before="0abc", after="")
    assert query == LogQuery(limit=5, before="0abc", since=NOW - timedelta(hours=1),
                             until=datetime(2024, 5, 2, tzinfo=timezone.utc), failures_only=True, status="4xx",
                             method="POST", resource_type="User", resource_id="u-1", text=hashed.hashed("Ada"))
    args = query_from_args({"outcome": "failure", "q": "x", "limit": "7"}, identities=IdentityPolicy(),
                           now=NOW, maximum=10)
    assert (args.failures_only, args.text, args.limit) == (True, "x", 7)
    for bad in ({"limit": "11"}, {"status": "4"}, {"since": "soon"}, {"method": "TRACE"}, {"after": "a b"}):
        with pytest.raises(FilterError):
            query_from_args(bad, identities=IdentityPolicy(), now=NOW, maximum=10)


def test_log_queries_normalise_and_refuse_what_cannot_match():
    assert LogQuery(status=" 4XX ").status_range == (400, 499)
    assert LogQuery(status="409").status_range == (409, 409)
    assert LogQuery(text=" \x00Ada\t").text == "ada" and LogQuery(text=" ").text is None
    with pytest.raises(ValueError):
        LogQuery(status="4x")
    with pytest.raises(ValueError):
        LogQuery(limit=-1)


def test_csv_export_has_a_header_and_defuses_formulas():
    entry = {"time": "2024-05-01T12:00:00.000Z", "userName": "=cmd|' /C calc'!A0", "displayName": "+1",
             "changed": ["active", "emails"], "status": 409, "detail": 'a, "quoted"\ntext', "externalId": None}
    text = "".join(csv_lines([entry]))
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == COLUMNS
    row = dict(zip(COLUMNS, rows[1], strict=True))
    assert row["userName"] == "'=cmd|' /C calc'!A0" and row["displayName"] == "'+1"
    assert (row["changed"], row["status"], row["externalId"]) == ("active emails", "409", "")
    assert row["detail"] == 'a, "quoted"\ntext'
    assert "".join(csv_lines([entry], header=False)) == text.split("\r\n", 1)[1]


def _hours(*counts: tuple[int, int, int, int]) -> list[LogHour]:
    """Hours ending with the current one: (requests, failures, writes, failed writes) each."""
    current = NOW.replace(minute=0)
    return [LogHour(current - timedelta(hours=len(counts) - 1 - n), *c, reasons={"409 uniqueness": c[1]} if c[1] else {})
            for n, c in enumerate(counts)]


def test_health_windows_are_whole_clock_hours():
    hours = _hours((5, 1, 5, 1), *[(0, 0, 0, 0)] * 20, (3, 0, 3, 0), (2, 2, 2, 2))
    health = assess(hours, NOW, last_seen=NOW, disabled=False)
    assert (health.last_hour.since, health.last_hour.requests, health.last_hour.failures) == (
        datetime(2024, 5, 2, 10, tzinfo=timezone.utc), 5, 2)
    assert (health.last_day.since, health.last_day.requests) == (day_start(NOW), 10)
    assert health.state == "failing" and health.reasons == [("409 uniqueness", 3)]
    assert len(health.hours) == 24 and health.hours[-1].requests == 2
    old = [LogHour(day_start(NOW) - timedelta(hours=1), 100, 100, 100, 100)]
    assert assess(old, NOW, last_seen=None, disabled=False).last_day.requests == 0


@pytest.mark.parametrize(("writes", "failed", "state"), [
    (QUARANTINE_MIN_WRITES, int(QUARANTINE_MIN_WRITES * QUARANTINE_SHARE), "at-risk"),
    (QUARANTINE_MIN_WRITES, int(QUARANTINE_MIN_WRITES * QUARANTINE_SHARE) - 1, "failing"),
    (QUARANTINE_MIN_WRITES - 1, QUARANTINE_MIN_WRITES - 1, "failing"),
    (100, 0, "ok"),
])
def test_the_quarantine_warning_needs_enough_writes_and_a_high_failure_share(writes, failed, state):
    hours = _hours((writes, failed, writes, failed))
    health = assess(hours, NOW, last_seen=None, disabled=False)
    assert health.state == state
    assert (health.warning is not None) == (state == "at-risk")
    assert assess(hours, NOW, last_seen=None, disabled=True).state == "disabled"


def test_an_entry_counts_as_a_write_and_a_failure_reason():
    entry = LogEntry("1", "t", NOW, "POST", "/Users/.search", 400, "failure", scim_type="invalidFilter")
    assert not entry.is_write and entry.hour_counts() == {"requests": 1, "failures": 1,
                                                          "reason:400 invalidFilter": 1}
    write = LogEntry("2", "t", NOW, "DELETE", "/Users/x", 404, "failure")
    assert write.hour_counts() == {"requests": 1, "failures": 1, "reason:404": 1, "writes": 1, "failed_writes": 1}
    assert LogEntry("3", "t", NOW, "GET", "/Users", 200, "success",
                    user_name="A", display_name=None, external_id="B\nc").search_text() == "a\nb\nc"
