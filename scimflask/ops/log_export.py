"""The provisioning log as CSV, for the admin API's `log.csv` and `scimflask log --format csv`.

One row per entry with a fixed header (the admin API's JSON names). A cell an identity provider
controls could start a spreadsheet formula; such cells are prefixed with an apostrophe (the
usual defence against CSV injection), which a reader sees and no spreadsheet runs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

COLUMNS = ("time", "id", "tenant", "method", "path", "status", "outcome", "scimType", "detail", "resourceType",
           "resourceId", "userName", "displayName", "externalId", "changed", "client", "userAgent",
           "durationMs", "requestId", "tokenId")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """One CSV cell: lists joined by spaces, None empty, a leading formula character escaped."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = " ".join(str(item) for item in value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_lines(entries: Iterable[dict], *, header: bool = True) -> Iterator[str]:
    """The CSV text of `entries` (dicts as `entry_to_dict` makes them), one line at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flushed() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    if header:
        writer.writerow(COLUMNS)
        yield flushed()
    for entry in entries:
        writer.writerow([cell(entry.get(name)) for name in COLUMNS])
        yield flushed()
