"""A resource and its `resources` row, both ways (its `values` / `uniques` rows: values.py).

The row keeps the canonical `data` as JSON text plus the columns requests read without parsing
it: `version`, the timestamps as `stamp` text (`created_key` at the milliseconds SCIM shows,
which filters and sorts compare), and `display_name` (the `display` of a User's groups).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import Table

from scimflask.model import Resource
from scimflask.schema.catalog import ResourceType

from .values import parse_stamp, stamp

# The columns a Resource is read from.
ROW_COLUMNS = ("id", "resource_type", "version", "created", "last_modified", "data")


def row_columns(table: Table) -> tuple:
    """`ROW_COLUMNS` of `table` (the resources table or an alias of it)."""
    return tuple(table.c[name] for name in ROW_COLUMNS)


def to_resource(row) -> Resource:
    """The resource a row holds (members and groups not loaded)."""
    return Resource(row.resource_type, row.id, json.loads(row.data), parse_stamp(row.created),
                    parse_stamp(row.last_modified), row.version)


def new_row(tenant: str, rt: ResourceType, resource: Resource) -> dict:
    """The row of a new resource (version 1)."""
    data = resource.data
    return {
        "tenant": tenant, "id": resource.id, "resource_type": rt.name, "version": 1,
        "created": stamp(resource.created), "created_key": millis(resource.created),
        "last_modified": stamp(resource.last_modified),
        "display_name": display_name(data), "data": json.dumps(data, ensure_ascii=False),
    }


def changed_columns(data: dict | None, now: datetime) -> dict:
    """The columns an update writes besides `version`: the time, and the data when it changes."""
    columns: dict = {"last_modified": stamp(now)}
    if data is not None:
        columns["data"] = json.dumps(data, ensure_ascii=False)
        columns["display_name"] = display_name(data)
    return columns


def millis(value: datetime) -> str:
    """`stamp` at the millisecond precision SCIM documents show (what filters and sorts see)."""
    value = value.astimezone(timezone.utc)
    return stamp(value.replace(microsecond=value.microsecond // 1000 * 1000))


def display_name(data: dict) -> str | None:
    value = data.get("displayName")
    return value if isinstance(value, str) else None
