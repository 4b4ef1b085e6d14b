"""The provisioning log as a download: CSV for the admin API's `log.csv`, the console's export
and `scimflask log --format csv`; JSON for the console's export.

One row per entry with a fixed header (the admin API's JSON names). A cell an identity provider
controls could start a spreadsheet formula; such cells are prefixed with an apostrophe (the
usual defence against CSV injection), which a reader sees and no spreadsheet runs.

A download is streamed, so it must fail before its first byte or not at all: `started` reads
the first entry up front (a bad tenant or an unreachable store is then an ordinary error
response), and `logged` turns a failure later on into a log line and a body cut short.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Iterator
from itertools import chain

log = logging.getLogger("scimflask")

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


def json_chunks(entries: Iterable[dict]) -> Iterator[str]:
    """`{"entries": [...]}` (the admin API's log page without its cursor), one entry a line."""
    yield '{"entries": ['
    for number, entry in enumerate(entries):
        yield ("\n" if number == 0 else ",\n") + json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
    yield "\n]}\n"


def started(entries: Iterator[dict]) -> Iterator[dict]:
    """`entries`, its first item already read, so that reading it fails here if it fails."""
    first = next(entries, None)
    return chain([first], entries) if first is not None else iter(())


def logged(chunks: Iterator[str], what: str) -> Iterator[str]:
    """`chunks`; a failure once the body has begun can only end it early: it is logged."""
    try:
        yield from chunks
    except Exception:
        log.exception("the export of %s ended early", what)
