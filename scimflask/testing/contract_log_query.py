"""Contract: every filter of `LogQuery`, alone and combined, against a full scan.

A varied log (methods, statuses, outcomes, resource types and ids, identities with mixed case,
Unicode and the LIKE wildcards `%` and `_`) is stored in shuffled batches; each query's answer
must equal filtering every stored entry of the tenant here in Python (`reference`), which
spells the rules out again instead of calling `LogQuery.matches`.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest

from ..storage.capabilities import LogEntry, LogQuery, ProvisioningLogSupport
from .contract_operations import LOG_START, _require, log_entry
from .contract_support import OTHER_TENANT, TENANT

RESOURCES = ("r-alpha", "r-beta", "r-gamma", "r-delta")
IDENTITIES = (
    (None, None, None),
    ("Zoë.Ångström@Example.com", "Zoë \"Z\" Ångström", "EXT-001"),
    ("ada@example.com", "Ada Lovelace", "ext-002"),
    ("100%_sure@example.com", "Percent_Under", None),
    (None, "Sales Team", "grp-ÄÖÜ"),
    ("aXb@example.com", None, "a_b"),
)
_SHAPES = (  # method, path, status, resource type
    ("POST", "/Users", 201, "User"), ("POST", "/Users", 409, "User"), ("PATCH", "/Users/x", 200, "User"),
    ("PATCH", "/Users/x", 400, "User"), ("PUT", "/Groups/x", 200, "Group"), ("DELETE", "/Users/x", 204, "User"),
    ("DELETE", "/Groups/x", 404, "Group"), ("POST", "/Bulk", 200, None), ("GET", "/Users", 200, "User"),
    ("PATCH", "/Groups/x", 500, "Group"), ("POST", "/Users/.search", 400, "User"),
)
_SCIM_TYPES = {409: "uniqueness", 400: "invalidValue"}


def corpus(tenant: str, count: int = 60, seed: int = 7) -> list[LogEntry]:
    """`count` entries of `tenant`, 90 seconds apart (some sharing a moment) from LOG_START."""
    chooser = random.Random(seed)
    entries = []
    for n in range(count):
        method, path, status, resource_type = chooser.choice(_SHAPES)
        user_name, display_name, external_id = chooser.choice(IDENTITIES)
        resource_id = chooser.choice(RESOURCES) if resource_type and chooser.random() < 0.8 else None
        when = LOG_START + timedelta(seconds=90 * (n - n % 7 // 6))  # every seventh shares its moment
        entries.append(log_entry(
            tenant, when, method=method, path=path, status=status,
            outcome="failure" if status >= 400 else "success", resource_type=resource_type,
            resource_id=resource_id, scim_type=_SCIM_TYPES.get(status), user_name=user_name,
            display_name=display_name, external_id=external_id,
            detail="failed" if status >= 400 else None))
    return entries


def store(storage, entries: list[LogEntry]) -> None:
    shuffled = list(entries)
    random.Random(3).shuffle(shuffled)
    storage.append_logs(shuffled[: len(shuffled) // 2])
    for entry in shuffled[len(shuffled) // 2:]:
        storage.append_log(entry)


def reference(entries: list[LogEntry], tenant: str, query: LogQuery) -> list[LogEntry]:
    """What `query_log(tenant, query)` must return, by reading every entry."""
    def keep(entry: LogEntry) -> bool:
        identity = [value.lower() for value in (entry.user_name, entry.display_name, entry.external_id) if value]
        status = str(entry.status)
        return all((
            entry.tenant == tenant,
            query.before is None or entry.id < query.before,
            query.after is None or entry.id > query.after,
            query.since is None or entry.time >= query.since,
            query.until is None or entry.time < query.until,
            not query.failures_only or entry.outcome == "failure",
            query.status is None or (status[0] == query.status[0] if query.status.endswith("xx")
                                     else status == query.status),
            query.method is None or entry.method == query.method,
            query.resource_type is None or entry.resource_type == query.resource_type,
            query.resource_id is None or entry.resource_id == query.resource_id,
            query.text is None or any(query.text in value for value in identity),
        ))

    return sorted(filter(keep, entries), key=lambda entry: entry.id, reverse=True)[:query.limit]


def _at(minutes: float):
    return LOG_START + timedelta(minutes=minutes)


# Each filter alone, then combined; `limit` small enough to cut most answers short.
QUERIES = {
    "everything": LogQuery(),
    "newest five": LogQuery(limit=5),
    "failures": LogQuery(failures_only=True),
    "status 409": LogQuery(status="409"),
    "status 4xx": LogQuery(status="4xx"),
    "status 2XX": LogQuery(status="2XX"),
    "status 5xx": LogQuery(status="5xx"),
    "status nobody answered": LogQuery(status="302"),
    "method, any case": LogQuery(method="patch"),
    "resource type": LogQuery(resource_type="Group"),
    "resource id": LogQuery(resource_id="r-beta"),
    "unknown resource id": LogQuery(resource_id="r-none"),
    "text, ignoring case": LogQuery(text="ZOË"),
    "text in display name": LogQuery(text="lovelace"),
    "text in external id": LogQuery(text="ext-00"),
    "text with Unicode": LogQuery(text="äöü"),
    "text '%' is no wildcard": LogQuery(text="%"),
    "text '_' is no wildcard": LogQuery(text="a_b"),
    "text no one has": LogQuery(text="nobody"),
    "text blank is no condition": LogQuery(text="  "),
    "since": LogQuery(since=_at(30)),
    "until": LogQuery(until=_at(30)),
    "since and until": LogQuery(since=_at(20), until=_at(60)),
    "until at a shared moment": LogQuery(until=_at(18)),
    "since at a shared moment": LogQuery(since=_at(7.5)),
    "before and after": LogQuery(limit=50),  # ids filled in by the test
    "failures of one resource": LogQuery(failures_only=True, resource_id="r-alpha"),
    "failed user writes by text": LogQuery(failures_only=True, resource_type="User", text="example.com"),
    "everything at once": LogQuery(limit=3, since=_at(5), until=_at(80), failures_only=True, status="4xx",
                                   method="POST", resource_type="User", text="@"),
    "4xx of a resource in a window": LogQuery(status="4xx", resource_id="r-gamma", since=_at(10), limit=4),
}


class LogQueryContract:
    @pytest.mark.parametrize("name", list(QUERIES))
    def test_each_filter_equals_a_full_scan(self, scim_storage, name):
        _require(scim_storage, ProvisioningLogSupport)
        ours, theirs = corpus(TENANT.tenant), corpus(OTHER_TENANT.tenant, seed=8)
        store(scim_storage, ours + theirs)
        query = QUERIES[name]
        if name == "before and after":
            ordered = sorted(entry.id for entry in ours)
            query = replace(query, after=ordered[10], before=ordered[40])
        assert scim_storage.query_log(TENANT.tenant, query) == reference(ours + theirs, TENANT.tenant, query)

    @pytest.mark.parametrize("name", ["failures", "resource id", "text in external id", "status 4xx",
                                      "failed user writes by text"])
    def test_paging_a_filtered_answer_visits_each_match_once(self, scim_storage, name):
        _require(scim_storage, ProvisioningLogSupport)
        ours = corpus(TENANT.tenant)
        store(scim_storage, ours)
        query, seen, pages = replace(QUERIES[name], limit=2), [], 0
        while True:
            page = scim_storage.query_log(TENANT.tenant, query)
            if not page:
                break
            pages += 1
            seen += page
            query = replace(query, before=page[-1].id)
        expected = reference(ours, TENANT.tenant, replace(QUERIES[name], limit=len(ours)))
        assert seen == expected and pages == (len(expected) + 1) // 2

    def test_following_with_after_sees_only_new_entries(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        ours = corpus(TENANT.tenant, count=30)
        store(scim_storage, ours[:20])
        newest = scim_storage.query_log(TENANT.tenant, LogQuery(limit=1))[0].id
        store(scim_storage, ours[20:])
        query = LogQuery(after=newest, failures_only=True, limit=100)
        assert scim_storage.query_log(TENANT.tenant, query) == reference(ours, TENANT.tenant, query)

    def test_a_query_never_crosses_tenants(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        store(scim_storage, corpus(OTHER_TENANT.tenant))
        for query in (LogQuery(), LogQuery(failures_only=True), LogQuery(resource_id="r-alpha"), LogQuery(text="a")):
            assert scim_storage.query_log(TENANT.tenant, query) == []
