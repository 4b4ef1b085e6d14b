"""Contract: the provisioning log (`ProvisioningLogSupport`): storing, paging, retention and the
hourly counters. The filters of `LogQuery` have their own module, `contract_log_query`.

Each test skips by itself when the backend keeps no log. Entry ids follow the convention of
`contract_operations.log_entry`: their order is time order.
"""

from __future__ import annotations

from datetime import timedelta

from ..storage.capabilities import LogHour, LogQuery, ProvisioningLogSupport, TenantSupport
from .contract_operations import LOG_START, _log_series, _minutes, _require, log_entry
from .contract_support import OTHER_TENANT, TENANT, new_id


class ProvisioningLogContract:
    def test_entries_round_trip_newest_first(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        first = log_entry(TENANT.tenant, LOG_START, token_id=new_id(), resource_type="User",
                          resource_id=new_id(), changed=("userName", "name.givenName", "emails"),
                          user_name="Zoë.Ångström@example.com", display_name="Zoë \"Z\" Ångström",
                          external_id="ext-🙂-1", request_id="req-1", duration_ms=12, client="entra",
                          user_agent="Azure AD Provisioning/1.0")
        second = log_entry(TENANT.tenant, LOG_START + timedelta(microseconds=1), method="PATCH",
                           path="/Groups/x", status=404, outcome="failure", detail="Group 'x' not found",
                           scim_type="noTarget", client="okta", user_agent="Okta SCIM Client 1.0.0")
        scim_storage.append_log(second)
        scim_storage.append_log(first)
        found = scim_storage.query_log(TENANT.tenant)
        assert found == [second, first]
        assert isinstance(found[1].changed, tuple)

    def test_line_breaks_and_tabs_in_any_text_round_trip_and_leave_the_batch_intact(self, scim_storage):
        # A backend may pack a batch into one string: no field's text may split it.
        _require(scim_storage, ProvisioningLogSupport)
        odd = "a\nb\tc\r\n"
        entries = [log_entry(TENANT.tenant, LOG_START + timedelta(seconds=n), method="PUT",
                             path=f"/Users/{odd}{n}", status=400, outcome="failure",
                             token_id=f"token{odd}", resource_type="User", resource_id=f"id{odd}{n}",
                             changed=(f"title{odd}",), detail=f"bad{odd}value", scim_type=f"invalid{odd}",
                             user_name=f"line{odd}break{n}@example.com", display_name=f"Tab\tName {n}",
                             external_id=f"ext\n{n}", request_id=f"req{odd}", client="other",
                             user_agent=f"agent{odd}") for n in range(3)]
        scim_storage.append_logs(entries)
        assert scim_storage.query_log(TENANT.tenant) == entries[::-1]
        assert scim_storage.query_log(TENANT.tenant, LogQuery(text="break1")) == [entries[1]]
        assert scim_storage.query_log(TENANT.tenant, LogQuery(resource_id=f"id{odd}2")) == [entries[2]]
    def test_a_batch_stores_every_entry_for_its_own_tenant(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        ours = [log_entry(TENANT.tenant, LOG_START + timedelta(minutes=n), changed=("title",)) for n in range(5)]
        theirs = [log_entry(OTHER_TENANT.tenant, LOG_START + timedelta(minutes=n)) for n in range(2)]
        scim_storage.append_logs([ours[0], theirs[0], *ours[1:], theirs[1]])
        scim_storage.append_logs([])
        assert scim_storage.query_log(TENANT.tenant) == ours[::-1]
        assert scim_storage.query_log(OTHER_TENANT.tenant) == theirs[::-1]

    def test_list_of_changed_attributes_is_accepted(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        entry = log_entry(TENANT.tenant, LOG_START, changed=["active", "displayName"])
        scim_storage.append_log(entry)
        entry.changed.append("changed after append")
        assert scim_storage.query_log(TENANT.tenant)[0].changed == ("active", "displayName")

    def test_paging_with_before_visits_every_entry_once(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        _log_series(scim_storage, TENANT.tenant, 7)
        pages, before = [], None
        while True:
            page = scim_storage.query_log(TENANT.tenant, LogQuery(limit=3, before=before))
            if not page:
                break
            pages.append(_minutes(page))
            before = page[-1].id
        assert pages == [[6, 5, 4], [3, 2, 1], [0]]

    def test_since_keeps_entries_at_or_after_it(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        entries = _log_series(scim_storage, TENANT.tenant, 6)
        since = LOG_START + timedelta(minutes=2)
        assert _minutes(scim_storage.query_log(TENANT.tenant, LogQuery(since=since))) == [5, 4, 3, 2]
        assert _minutes(scim_storage.query_log(TENANT.tenant, LogQuery(since=since, limit=2))) == [5, 4]
        assert _minutes(scim_storage.query_log(TENANT.tenant, LogQuery(since=since, before=entries[4].id))) == [3, 2]
        assert scim_storage.query_log(TENANT.tenant, LogQuery(limit=0)) == []

    def test_each_tenant_sees_only_its_log(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        _log_series(scim_storage, TENANT.tenant, 2)
        theirs = log_entry(OTHER_TENANT.tenant, LOG_START)
        scim_storage.append_log(theirs)
        assert [e.tenant for e in scim_storage.query_log(TENANT.tenant)] == [TENANT.tenant] * 2
        assert scim_storage.query_log(OTHER_TENANT.tenant) == [theirs]
        assert scim_storage.query_log("nobody") == []

    def test_prune_keeps_the_newest(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        _log_series(scim_storage, TENANT.tenant, 6)
        _log_series(scim_storage, OTHER_TENANT.tenant, 6)
        assert scim_storage.prune_log(TENANT.tenant, keep=4) == 2
        assert _minutes(scim_storage.query_log(TENANT.tenant)) == [5, 4, 3, 2]
        assert scim_storage.prune_log(TENANT.tenant, keep=4) == 0
        assert scim_storage.prune_log(TENANT.tenant, keep=0) == 4
        assert scim_storage.query_log(TENANT.tenant) == []
        assert len(scim_storage.query_log(OTHER_TENANT.tenant)) == 6

    def test_prune_older_than_and_both_limits(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        _log_series(scim_storage, TENANT.tenant, 8)
        assert scim_storage.prune_log(TENANT.tenant, older_than=LOG_START + timedelta(minutes=2)) == 2
        assert _minutes(scim_storage.query_log(TENANT.tenant)) == [7, 6, 5, 4, 3, 2]
        assert scim_storage.prune_log(TENANT.tenant, keep=5, older_than=LOG_START + timedelta(minutes=4)) == 2
        assert _minutes(scim_storage.query_log(TENANT.tenant)) == [7, 6, 5, 4]
        assert scim_storage.prune_log(TENANT.tenant, keep=2, older_than=LOG_START + timedelta(minutes=7)) == 3
        assert _minutes(scim_storage.query_log(TENANT.tenant)) == [7]
        assert scim_storage.prune_log("nobody", keep=0) == 0

    def test_pruned_entries_leave_no_trace_in_the_filtered_answers(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        resource = new_id()
        entries = [log_entry(TENANT.tenant, LOG_START + timedelta(minutes=n), status=409, outcome="failure",
                             resource_type="User", resource_id=resource, user_name=f"gone{n}") for n in range(4)]
        scim_storage.append_logs(entries)
        assert scim_storage.prune_log(TENANT.tenant, keep=1) == 3
        for query in (LogQuery(failures_only=True), LogQuery(resource_id=resource), LogQuery(text="gone"),
                      LogQuery(failures_only=True, resource_id=resource, text="gone")):
            assert scim_storage.query_log(TENANT.tenant, query) == [entries[3]]
        assert scim_storage.prune_log(TENANT.tenant, older_than=LOG_START + timedelta(hours=1)) == 1
        assert scim_storage.query_log(TENANT.tenant, LogQuery(resource_id=resource)) == []


def _by_offset(hours: list[LogHour]) -> dict[int, LogHour]:
    return {int((hour.start - LOG_START) / timedelta(hours=1)): hour for hour in hours if hour.requests}


class LogHoursContract:
    def _traffic(self, storage, tenant: str) -> list:
        """Writes, failed writes with two reasons, a search and a failed read over three hours."""
        at = [LOG_START + timedelta(hours=h, minutes=m) for h, m in ((0, 1), (0, 59), (1, 0), (1, 30), (2, 5))]
        entries = [
            log_entry(tenant, at[0]),
            log_entry(tenant, at[0] + timedelta(seconds=1), status=409, outcome="failure", scim_type="uniqueness"),
            log_entry(tenant, at[1], method="PATCH", path="/Users/x", status=400, outcome="failure",
                      scim_type="invalidValue"),
            log_entry(tenant, at[2], status=409, outcome="failure", scim_type="uniqueness"),
            log_entry(tenant, at[2] + timedelta(seconds=1), method="POST", path="/Users/.search", status=200),
            log_entry(tenant, at[3], method="GET", path="/Users/y", status=404, outcome="failure"),
            log_entry(tenant, at[4], method="DELETE", path="/Users/x", status=204),
        ]
        storage.append_logs(entries[:3])
        for entry in entries[3:]:
            storage.append_log(entry)
        return entries

    def test_each_hour_counts_requests_writes_failures_and_reasons(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        self._traffic(scim_storage, TENANT.tenant)
        self._traffic(scim_storage, OTHER_TENANT.tenant)
        hours = _by_offset(scim_storage.log_hours(TENANT.tenant, LOG_START))
        assert sorted(hours) == [0, 1, 2]
        first = hours[0]
        assert (first.start, first.requests, first.failures, first.writes, first.failed_writes) == (
            LOG_START, 3, 2, 3, 2)
        assert first.reasons == {"409 uniqueness": 1, "400 invalidValue": 1}
        second = hours[1]  # a search is no write; a failed GET is a failure but no failed write
        assert (second.requests, second.failures, second.writes, second.failed_writes) == (3, 2, 1, 1)
        assert second.reasons == {"409 uniqueness": 1, "404": 1}
        assert (hours[2].requests, hours[2].failures, hours[2].writes, hours[2].reasons) == (1, 0, 1, {})

    def test_hours_before_since_are_left_out_and_the_order_is_oldest_first(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        self._traffic(scim_storage, TENANT.tenant)
        later = scim_storage.log_hours(TENANT.tenant, LOG_START + timedelta(hours=1, minutes=45))
        assert [hour.start for hour in later if hour.requests] == [
            LOG_START + timedelta(hours=1), LOG_START + timedelta(hours=2)]
        assert scim_storage.log_hours(TENANT.tenant, LOG_START + timedelta(hours=3)) == []
        assert scim_storage.log_hours("nobody", LOG_START) == []

    def test_pruning_by_age_forgets_ended_hours_and_keep_forgets_none(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        self._traffic(scim_storage, TENANT.tenant)
        self._traffic(scim_storage, OTHER_TENANT.tenant)
        scim_storage.prune_log(TENANT.tenant, keep=1)
        assert sorted(_by_offset(scim_storage.log_hours(TENANT.tenant, LOG_START))) == [0, 1, 2]
        # Hour 0 ended at 01:00, which is not after `older_than`; hour 1 is still running then.
        scim_storage.prune_log(TENANT.tenant, older_than=LOG_START + timedelta(hours=1, minutes=10))
        assert sorted(_by_offset(scim_storage.log_hours(TENANT.tenant, LOG_START))) == [1, 2]
        assert sorted(_by_offset(scim_storage.log_hours(OTHER_TENANT.tenant, LOG_START))) == [0, 1, 2]

    def test_deleting_the_tenant_deletes_its_counters(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        _require(scim_storage, TenantSupport)
        self._traffic(scim_storage, TENANT.tenant)
        self._traffic(scim_storage, OTHER_TENANT.tenant)
        scim_storage.delete_tenant(TENANT.tenant)
        assert scim_storage.log_hours(TENANT.tenant, LOG_START) == []
        assert len(_by_offset(scim_storage.log_hours(OTHER_TENANT.tenant, LOG_START))) == 3
