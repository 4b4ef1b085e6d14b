"""The memory log's indexes: a text query reads its rarest word's prefix range (or walks when
every range is past the bound), and pruning costs what it removes, not the size of the log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from scimflask_memory import MemoryStorage, log

from scimflask.schema import default_catalog
from scimflask.storage.capabilities import LogEntry, LogQuery
from scimflask.testing.contract_operations import LOG_START, log_entry

TENANT = "words"


def _entries(count: int, start: int = 0) -> list[LogEntry]:
    return [log_entry(TENANT, LOG_START + timedelta(seconds=n), user_name=f"user{n:05d}@example.com",
                      display_name=f"User {n}", resource_id=f"r{n % 7}", status=409 if n % 3 else 201,
                      outcome="failure" if n % 3 else "success") for n in range(start, start + count)]


def _reference(entries: list[LogEntry], query: LogQuery) -> list[LogEntry]:
    return sorted((e for e in entries if query.matches(e)), key=lambda e: e.id, reverse=True)[:query.limit]


@pytest.fixture
def storage():
    storage = MemoryStorage.from_uri("memory://", {}, default_catalog())
    yield storage
    storage.close()


QUERIES = [LogQuery(text="user0004"), LogQuery(text="example user001", limit=4), LogQuery(text="user", limit=5),
           LogQuery(text="user00", failures_only=True), LogQuery(text="user000", resource_id="r3"),
           LogQuery(text="1 user", status="4xx", limit=7), LogQuery(text="nobody")]


@pytest.mark.parametrize("bound", [3, 50, log.WORD_BOUND])
def test_every_bound_gives_the_reference_answer(storage, monkeypatch, bound):
    monkeypatch.setattr(log, "WORD_BOUND", bound)
    entries = _entries(300)
    storage.append_logs(entries)
    for query in QUERIES:
        assert storage.query_log(TENANT, query) == _reference(entries, query), query


def test_a_rare_word_reads_only_its_range(storage, monkeypatch):
    entries = _entries(2000)
    storage.append_logs(entries)
    expected, checked = _reference(entries, LogQuery(text="user0123")), []
    original = LogQuery.matches
    monkeypatch.setattr(LogQuery, "matches", lambda query, entry: checked.append(entry) or original(query, entry))
    assert storage.query_log(TENANT, LogQuery(text="user0123")) == expected
    assert len(checked) == 10


class Touches(list):
    """A list that counts the items read from it and refuses to be walked whole."""

    read = 0

    def __getitem__(self, index):
        found = super().__getitem__(index)
        Touches.read += len(found) if isinstance(index, slice) else 1
        return found

    def __iter__(self):
        raise AssertionError("pruning walked a whole index")


def test_pruning_costs_what_it_removes(storage):
    entries = _entries(20_000)
    storage.append_logs(entries)
    tenant_log = storage._log._tenants[TENANT]
    runs = [tenant_log.entries, tenant_log.failures, *tenant_log.by_resource.values(), *tenant_log.by_word.values()]
    for run in runs:
        run.items = Touches(run.items)
    Touches.read = 0
    assert storage.prune_log(TENANT, keep=19_990) == 10
    assert storage.prune_log(TENANT, older_than=LOG_START + timedelta(seconds=15)) == 5
    assert Touches.read < 100  # 15 entries and a bisection, not 20,000
    kept = entries[15:]
    for query in QUERIES + [LogQuery(text="user0001"), LogQuery(resource_id="r1", limit=3)]:
        assert storage.query_log(TENANT, query) == _reference(kept, query), query


def test_pruning_everything_in_steps_leaves_empty_indexes(storage):
    entries = _entries(500)
    storage.append_logs(entries)
    for keep in range(450, -1, -50):
        assert storage.prune_log(TENANT, keep=keep) == 50
        kept = entries[len(entries) - keep:] if keep else []
        for query in QUERIES:
            assert storage.query_log(TENANT, query) == _reference(kept, query), query
    tenant_log = storage._log._tenants[TENANT]
    assert not tenant_log.words and not tenant_log.by_word and not tenant_log.words_of
    assert not tenant_log.by_resource and len(tenant_log.entries) == len(tenant_log.failures) == 0
    later = _entries(40, start=1000)
    storage.append_logs(later[::-1])
    for query in QUERIES:
        assert storage.query_log(TENANT, query) == _reference(later, query), query
