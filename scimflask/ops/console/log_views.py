"""The provisioning-log pages: the filtered list, the live tail's rows, one entry, activity, and
the filtered list as a CSV or JSON download."""

from __future__ import annotations

from flask import Response, g, request, stream_with_context

from ...model import utcnow
from ...state import ScimState
from ..admin.service import MAX_EXPORT, AdminError
from ..idp_clients import label
from ..log_export import csv_lines, json_chunks, logged, started
from ..log_identity import identity_policy
from . import audit
from .activity import HOURS, hours_of
from .chart import bar_chart
from .logview import METHODS, SPANS, LogFilter, find_entry, newer_entries, read_page, valid_entry_id
from .names import resource_names
from .rendering import page
from .tenant_views import find_tenant

EXPORT_TYPES = {"csv": "text/csv", "json": "application/json"}


class LogViews:
    def __init__(self, state: ScimState) -> None:
        self.service = state.admin
        self.storage = state.storage
        self.identities = identity_policy(state.config)
        self.resource_types = tuple(sorted(rt.name for rt in state.catalog.resource_types))

    def _tenant(self, tenant: str) -> dict:
        return find_tenant(self.service, tenant)

    def _filter(self) -> LogFilter:
        return LogFilter.from_args(request.args, self.resource_types)

    def log(self, tenant: str):
        record = self._tenant(tenant)
        wanted = self._filter()
        before = request.args.get("before") or None
        if before is not None and not valid_entry_id(before):
            raise AdminError("'before' must be an entry id")
        result = read_page(self.service.query_log, tenant, wanted, identities=self.identities, now=utcnow(),
                           before=before)
        names = resource_names(self.storage, tenant, result.entries)
        return page("log.html", tenant=record, filter=wanted, result=result, names=names, before=before,
                    methods=METHODS, resource_types=self.resource_types, spans=SPANS, client_label=label,
                    max_export=MAX_EXPORT)

    def export(self, tenant: str, suffix: str):
        """Every entry the page's filters match (not only the page shown), newest first, up to
        the admin API's export maximum, as a file to save (`suffix` "csv" or "json").

        Exporting is audited, as a download can carry a tenant's whole log out; the line names
        the filters used but not their values (the text searched for may be someone's name)."""
        self._tenant(tenant)
        wanted = self._filter()
        query = wanted.query(limit=MAX_EXPORT, identities=self.identities, now=utcnow())
        entries = started(self.service.export_log(tenant, query))
        audit.record("console.export_log", actor=g.console_visitor.actor, tenant=tenant, format=suffix,
                     filters=",".join(wanted.query_args()) or None)
        chunks = csv_lines(entries) if suffix == "csv" else json_chunks(entries)
        return Response(stream_with_context(logged(chunks, f"{tenant}'s log")), mimetype=EXPORT_TYPES[suffix],
                        headers={"Content-Disposition": f'attachment; filename="scimflask-log-{tenant}.{suffix}"'})

    def rows(self, tenant: str):
        """The rows newer than `since` (for the live tail), as table rows of the log page."""
        self._tenant(tenant)
        since = request.args.get("since", "")
        if not valid_entry_id(since):
            since = ""
        entries = newer_entries(self.service.query_log, tenant, self._filter(), since, identities=self.identities,
                                now=utcnow())
        names = resource_names(self.storage, tenant, entries)
        return page("log_rows.html", tenant={"id": tenant}, entries=entries, names=names)

    def entry(self, tenant: str, entry_id: str):
        record = self._tenant(tenant)
        found = find_entry(self.service.query_log, tenant, entry_id)
        if found is None:
            raise AdminError(f"no log entry {entry_id!r} for tenant {tenant!r}", 404)
        names = resource_names(self.storage, tenant, [found])
        return page("entry.html", tenant=record, entry=found, client_label=label,
                    name=names.get((found["resourceType"], found["resourceId"])))

    def activity(self, tenant: str):
        record = self._tenant(tenant)
        health = self.service.health(tenant, utcnow(), disabled=record["disabled"])
        hours = hours_of(health)
        return page("activity.html", tenant=record, hours=hours, chart=bar_chart(hours), health=health,
                    total=sum(hour.requests for hour in hours), failures=sum(hour.failures for hour in hours),
                    span=HOURS)
