"""The memory backend's provisioning log: per tenant, entries in id order with three indexes.

The indexes are runs of entries in id order: the failures, one resource's entries, and one run
per word (`LogEntry.words`), with the distinct words in a sorted list so the words starting with
a prefix are one bisected range. A query walks the smallest run that can hold its answer (one
resource's entries, else the failures, else all of them; with a text, the entries of its rarest
query word's prefix range when that holds at most WORD_BOUND entries) backwards from `before`,
keeping what `LogQuery.matches`, and stops at `limit` or at the first entry older than `since`
(ids sort in time order). A prefix range larger than WORD_BOUND is a common prefix: walking
newest first finds matches quickly then.

Pruning removes the oldest entries, a prefix of every run, so it costs what it removes: each
run drops its head by moving an offset and is compacted once the dropped part outweighs the
rest. Hourly counters are kept as entries are appended. Not thread-safe by itself: the
storage's lock guards every call.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from scimflask.storage.capabilities import LogEntry, LogHour, LogQuery, hour_number
from scimflask.storage.log_words import match

WORD_BOUND = 5000  # entries a prefix range may hold for a text query to be answered from it


def _key(entry: LogEntry) -> str:
    return entry.id


def _time(entry: LogEntry) -> datetime:
    return entry.time


class Run:
    """Entries in id order whose oldest are dropped first: `items[head:]` is the run."""

    __slots__ = ("items", "head")

    def __init__(self) -> None:
        self.items: list[LogEntry] = []
        self.head = 0

    def __len__(self) -> int:
        return len(self.items) - self.head

    def add(self, entry: LogEntry) -> None:
        items = self.items
        if len(items) == self.head or items[-1].id < entry.id:  # the usual case: the newest
            items.append(entry)
        else:
            bisect.insort(items, entry, lo=self.head, key=_key)

    def drop_oldest(self, count: int) -> None:
        """Forget the `count` oldest; amortised O(count)."""
        self.head += count
        if self.head * 2 >= len(self.items):
            del self.items[:self.head]
            self.head = 0

    def newest_first(self, before: str | None) -> Iterator[LogEntry]:
        items, head = self.items, self.head
        end = len(items) if before is None else bisect.bisect_left(items, before, lo=head, key=_key)
        return (items[n] for n in range(end - 1, head - 1, -1))


@dataclass
class TenantLog:
    entries: Run = field(default_factory=Run)
    failures: Run = field(default_factory=Run)
    by_resource: dict[str, Run] = field(default_factory=dict)
    by_word: dict[str, Run] = field(default_factory=dict)
    words: list[str] = field(default_factory=list)  # the keys of `by_word`, sorted
    words_of: dict[str, tuple[str, ...]] = field(default_factory=dict)  # entry id -> its words
    hours: dict[int, dict[str, int]] = field(default_factory=dict)

    def add(self, entry: LogEntry) -> None:
        self.entries.add(entry)
        if entry.outcome == "failure":
            self.failures.add(entry)
        if entry.resource_id is not None:
            self.by_resource.setdefault(entry.resource_id, Run()).add(entry)
        words = tuple(entry.words())
        self.words_of[entry.id] = words
        for word in words:
            run = self.by_word.get(word)
            if run is None:
                run = self.by_word[word] = Run()
                bisect.insort(self.words, word)
            run.add(entry)
        counts = self.hours.setdefault(hour_number(entry.time), {})
        for name, count in entry.hour_counts().items():
            counts[name] = counts.get(name, 0) + count

    def _prefix_range(self, prefix: str, bound: int) -> list[Run] | None:
        """The runs of the words starting with `prefix`; None once they hold more than `bound`
        entries (so at most that much is counted)."""
        runs, total = [], 0
        for n in range(bisect.bisect_left(self.words, prefix), len(self.words)):
            word = self.words[n]
            if not word.startswith(prefix):
                break
            run = self.by_word[word]
            total += len(run)
            if total > bound:
                return None
            runs.append(run)
        return runs

    def _by_text(self, query: LogQuery, bound: int) -> Run | None:
        """The entries of the query word whose prefix range is smallest, as one run; None when
        every range holds more than `bound` entries."""
        best: list[Run] | None = None
        for word in query.text_words:
            runs = self._prefix_range(word, bound)
            if runs is not None:
                best, bound = runs, sum(len(run) for run in runs)
        if best is None:
            return None
        merged = Run()
        merged.items = sorted({entry.id: entry for run in best for entry in run.items[run.head:]}.values(),
                              key=_key)
        return merged

    def source(self, query: LogQuery) -> Run:
        if query.resource_id is not None:
            source = self.by_resource.get(query.resource_id, Run())
        else:
            source = self.failures if query.failures_only else self.entries
        by_text = self._by_text(query, min(len(source), WORD_BOUND)) if query.text_words else None
        return source if by_text is None else by_text

    def find(self, query: LogQuery) -> list[LogEntry]:
        rest, words = replace(query, text=None), query.text_words
        found: list[LogEntry] = []
        for entry in self.source(query).newest_first(query.before):
            if len(found) >= query.limit or (query.after is not None and entry.id <= query.after):
                break
            if query.since is not None and entry.time < query.since:
                break
            if rest.matches(entry) and (not words or match(words, self.words_of[entry.id])):
                found.append(replace(entry))
        return found

    def drop_oldest(self, count: int) -> None:
        """Forget the `count` oldest entries, in every index."""
        entries = self.entries
        gone = entries.items[entries.head:entries.head + count]
        entries.drop_oldest(count)
        self.failures.drop_oldest(sum(entry.outcome == "failure" for entry in gone))
        for entry in gone:  # each is the oldest left of every run it is in
            if entry.resource_id is not None:
                _drop_first(self.by_resource, entry.resource_id)
            for word in self.words_of.pop(entry.id):
                if _drop_first(self.by_word, word):
                    del self.words[bisect.bisect_left(self.words, word)]


def _drop_first(runs: dict[str, Run], key: str) -> bool:
    """Drop the oldest entry of `runs[key]`; return whether that emptied (and removed) it."""
    run = runs[key]
    run.drop_oldest(1)
    if not len(run):
        del runs[key]
        return True
    return False


class MemoryLog:
    """Every tenant's log."""

    def __init__(self) -> None:
        self._tenants: dict[str, TenantLog] = {}

    def append(self, entry: LogEntry) -> None:
        stored = replace(entry, changed=tuple(entry.changed))
        self._tenants.setdefault(entry.tenant, TenantLog()).add(stored)

    def query(self, tenant: str, query: LogQuery) -> list[LogEntry]:
        log = self._tenants.get(tenant)
        return [] if log is None else log.find(query)

    def prune(self, tenant: str, keep: int | None, older_than: datetime | None) -> int:
        """The entries to delete are the oldest (ids sort in time order): a count, found by
        bisecting on time for `older_than`, then dropped from the head of every index."""
        log = self._tenants.get(tenant)
        if log is None:
            return 0
        entries = log.entries
        deleted = 0 if keep is None else max(len(entries) - max(keep, 0), 0)
        if older_than is not None:
            first_kept = bisect.bisect_left(entries.items, older_than, lo=entries.head, key=_time)
            deleted = max(deleted, first_kept - entries.head)
            cutoff = hour_number(older_than)
            log.hours = {hour: counts for hour, counts in log.hours.items() if hour >= cutoff}
        if deleted:
            log.drop_oldest(deleted)
        return deleted

    def hours(self, tenant: str, since: datetime) -> list[LogHour]:
        log = self._tenants.get(tenant)
        if log is None:
            return []
        first = hour_number(since)
        return [LogHour.from_counts(hour, dict(counts)) for hour, counts in sorted(log.hours.items())
                if hour >= first]

    def forget(self, tenant: str) -> None:
        self._tenants.pop(tenant, None)

    def clear(self) -> None:
        self._tenants.clear()
