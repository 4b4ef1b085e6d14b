"""`scimflask log` (and `flask scim log`): a tenant's provisioning log, filtered, followed or
exported (`--format csv > file` is the export)."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

import click

from ..config import ConfigKeys
from ..model import utcnow
from ..ops.admin.service import MAX_EXPORT, MAX_LOG_LIMIT
from ..ops.idp_clients import label
from ..ops.log_export import csv_lines
from ..ops.log_filters import METHODS, FilterError, build_query
from ..ops.log_identity import identity_policy
from ..state import ScimState
from ..storage.capabilities import LogQuery
from .context import run_admin, tenant_option, with_state
from .output import timestamp

FORMATS = ("table", "json", "csv")
TABLE_LIMIT = 50
POLL_SECONDS = 1.0
# How `--follow` waits between polls (replaced by tests).
pause: Callable[[float], None] = time.sleep


def table_line(entry: dict) -> str:
    """One entry on one line: when, what, the answer, the target and why it failed."""
    target = entry["userName"] or entry["displayName"] or entry["externalId"] or entry["resourceId"] or ""
    resource = f"{entry['resourceType'] or '-'} {target}".strip()
    changed = ",".join(entry["changed"])
    reason = ": ".join(part for part in (entry["scimType"], entry["detail"]) if part)
    client = f"[{label(entry['client'])}]" if entry["client"] in ("entra", "okta") else ""
    parts = (timestamp(entry["time"]), f"{entry['method']:6} {entry['path']}", f"{entry['status']} {entry['outcome']}",
             resource, changed, reason, client)
    return "  ".join(part for part in parts if part)


def _printer(output: str) -> Callable[[Iterable[dict]], None]:
    header = [output == "csv"]

    def emit(entries: Iterable[dict]) -> None:
        if output == "csv":
            for line in csv_lines(entries, header=header[0]):
                click.echo(line, nl=False)
            header[0] = False
            return
        for entry in entries:
            click.echo(json.dumps(entry, ensure_ascii=False) if output == "json" else table_line(entry))

    return emit


@click.command("log")
@tenant_option
@click.option("--failed", is_flag=True, help="Only failed requests.")
@click.option("--since", default=None, help="Only entries from this moment on: 30m, 1h, 2d, 1w back, or ISO 8601.")
@click.option("--until", default=None, help="Only entries before this moment (same forms as --since).")
@click.option("--status", default=None, help="Only this status (409) or class of statuses (4xx).")
@click.option("--method", default=None, type=click.Choice(METHODS, case_sensitive=False), help="Only this method.")
@click.option("--type", "resource_type", default=None, help="Only this resource type (User, Group).")
@click.option("--resource", default=None, help="Only entries of this resource id.")
@click.option("--search", default=None,
              help="Only entries whose target's userName, displayName or externalId has a word starting "
                   "with each word of this, in any case: 'smith' finds alice.smith@contoso.com.")
@click.option("--limit", default=None, type=click.IntRange(1, MAX_EXPORT),
              help=f"At most this many entries (default {TABLE_LIMIT} as a table, all as json or csv).")
@click.option("--before", default=None, help="Only entries older than this entry id (paging).")
@click.option("--follow", is_flag=True, help="Keep printing new entries as they come (every second) until Ctrl-C.")
@click.option("--format", "output", type=click.Choice(FORMATS), default="table", show_default=True,
              help="table, json (one object per line, as the admin API returns them) or csv (with a header).")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@with_state
def provisioning_log(state: ScimState, tenant: str | None, failed: bool, since: str | None, until: str | None,
                     status: str | None, method: str | None, resource_type: str | None, resource: str | None,
                     search: str | None, limit: int | None, before: str | None, follow: bool, output: str,
                     as_json: bool) -> None:
    """Show a tenant's provisioning log, newest first (oldest first with --follow)."""
    tenant = tenant or state.config[ConfigKeys.DEFAULT_TENANT]
    output = "json" if as_json else output
    try:
        query = build_query(
            limit=limit or (TABLE_LIMIT if output == "table" or follow else MAX_EXPORT),
            identities=identity_policy(state.config), now=utcnow(), before=before, since=since, until=until,
            failures_only=failed, status=status, method=method, resource_type=resource_type,
            resource_id=resource, text=search)
    except FilterError as error:
        raise click.UsageError(str(error)) from None
    emit = _printer(output)
    if not follow:
        emit(run_admin(lambda: list(state.admin.export_log(tenant, query))))
        return
    _follow(state, tenant, query, emit)


def _follow(state: ScimState, tenant: str, query: LogQuery, emit: Callable[[Iterable[dict]], None]) -> None:
    """The newest matching entries oldest first, then every new one, polling until Ctrl-C."""
    first = run_admin(lambda: state.admin.query_log(tenant, replace(query, limit=min(query.limit, MAX_LOG_LIMIT))))
    emit(reversed(first))
    newest = first[0]["id"] if first else None
    try:
        while True:
            pause(POLL_SECONDS)
            new = run_admin(functools.partial(_newer, state, tenant, query, newest))
            emit(reversed(new))
            newest = new[0]["id"] if new else newest
    except KeyboardInterrupt:
        return


def _newer(state: ScimState, tenant: str, query: LogQuery, newest: str | None) -> list[dict]:
    """Every matching entry after the entry id `newest`, newest first, however many came."""
    found: list[dict] = []
    page_query = replace(query, limit=MAX_LOG_LIMIT, before=None, after=newest)
    while True:
        page = state.admin.query_log(tenant, page_query)
        found += page
        if len(page) < MAX_LOG_LIMIT:
            return found
        page_query = replace(page_query, before=page[-1]["id"])
