"""The Redis log's word index `lg:w`: a rare word is read from its lex range (ZLEXCOUNT, one
ZRANGEBYLEX, one HMGET), a common one walks newest first; its members come and go with the
entries, and entries stored before it get their words from `rebuild_indexes`."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis.client
from scimflask_redis import log

from scimflask.storage.capabilities import LogEntry, LogQuery
from scimflask.testing.contract_operations import LOG_START, log_entry

from .redis_helpers import fake_storage

TENANT = "words"


class CommandNames:
    """The names of the commands the client sends (single or pipelined)."""

    def __init__(self, monkeypatch) -> None:
        self.names: list[str] = []
        one, queued = redis.client.Redis.execute_command, redis.client.Pipeline.pipeline_execute_command

        def execute_command(client, *args, **options):
            self.names.append(str(args[0]).upper())
            return one(client, *args, **options)

        def pipeline_execute_command(pipe, *args, **options):
            self.names.append(str(args[0]).upper())
            return queued(pipe, *args, **options)

        monkeypatch.setattr(redis.client.Redis, "execute_command", execute_command)
        monkeypatch.setattr(redis.client.Pipeline, "pipeline_execute_command", pipeline_execute_command)


def _entries(count: int) -> list[LogEntry]:
    return [log_entry(TENANT, LOG_START + timedelta(seconds=n), user_name=f"user{n:05d}@example.com",
                      display_name=f"User {n}", status=409 if n % 3 else 201,
                      outcome="failure" if n % 3 else "success") for n in range(count)]


def _reference(entries: list[LogEntry], query: LogQuery) -> list[LogEntry]:
    return sorted((e for e in entries if query.matches(e)), key=lambda e: e.id, reverse=True)[:query.limit]


@pytest.fixture
def filled():
    storage = fake_storage()
    entries = _entries(500)
    storage.append_logs(entries)
    yield storage, entries
    storage.close()


def _words_key(storage) -> str:
    return log.LogKeys.of(storage.prefix, TENANT).words


@pytest.mark.parametrize("query", [LogQuery(text="user00042"), LogQuery(text="example USER0004"),
                                   LogQuery(text="user0004", before=None, status="409", limit=3)],
                         ids=["one word", "rare and common word", "with other filters"])
def test_a_rare_word_is_read_from_its_range(filled, monkeypatch, query):
    storage, entries = filled
    names = CommandNames(monkeypatch)
    found = storage.query_log(TENANT, query)
    monkeypatch.undo()
    assert found == _reference(entries, query) and found
    assert names.names.count("ZLEXCOUNT") == len(query.text_words)
    assert names.names.count("ZRANGEBYLEX") == 1 and names.names.count("HMGET") == 1
    assert "ZREVRANGEBYLEX" not in names.names and len(names.names) == len(query.text_words) + 2


def test_cursors_bound_the_words_range(filled):
    storage, entries = filled
    ids = sorted(e.id for e in entries)
    for query in (LogQuery(text="user0004", before=ids[45]), LogQuery(text="user0004", after=ids[44], limit=2),
                  LogQuery(text="user0004", until=LOG_START + timedelta(seconds=43)),
                  LogQuery(text="user0004", since=LOG_START + timedelta(seconds=47))):
        assert storage.query_log(TENANT, query) == _reference(entries, query), query


def test_a_range_past_the_bound_walks_newest_first(filled, monkeypatch):
    storage, entries = filled
    monkeypatch.setattr(log, "WORD_BOUND", 100)
    query = LogQuery(text="example user", limit=5)
    names = CommandNames(monkeypatch)
    found = storage.query_log(TENANT, query)
    monkeypatch.undo()
    assert found == _reference(entries, query)
    assert names.names.count("ZLEXCOUNT") == 2 and "ZRANGEBYLEX" not in names.names
    assert names.names.count("ZREVRANGEBYLEX") == 1 and names.names.count("HMGET") == 1
    monkeypatch.setattr(log, "WORD_BOUND", 100)
    for query in (LogQuery(text="user000"), LogQuery(text="user00", failures_only=True, limit=50)):
        assert storage.query_log(TENANT, query) == _reference(entries, query)  # 100 members: the range


def test_a_batch_is_appended_a_chunk_per_script_and_counted_once(monkeypatch):
    storage = fake_storage()
    entries = _entries(100)
    storage.append_logs([log_entry("another", LOG_START)])  # the script is loaded now, not below
    monkeypatch.setattr(log, "APPEND_CHUNK", 32)
    names = CommandNames(monkeypatch)
    storage.append_logs(entries)
    monkeypatch.undo()
    assert names.names == ["EVALSHA"] * 4  # 32 + 32 + 32 + 4 entries, nothing else
    assert storage.query_log(TENANT, LogQuery(limit=200)) == sorted(entries, key=lambda e: e.id, reverse=True)
    assert storage.query_log(TENANT, LogQuery(text="user00099")) == [entries[99]]
    assert storage.client.zcard(_words_key(storage)) == 100 * len(entries[0].words())
    assert sum(hour.requests for hour in storage.log_hours(TENANT, LOG_START)) == 100
    storage.close()


def test_pruning_and_deleting_the_tenant_remove_the_words(filled):
    storage, entries = filled
    key = _words_key(storage)
    per_entry = len(entries[0].words())
    assert storage.client.zcard(key) == 500 * per_entry
    assert storage.prune_log(TENANT, keep=120) == 380
    assert storage.client.zcard(key) == 120 * per_entry
    assert storage.prune_log(TENANT, older_than=LOG_START + timedelta(seconds=490)) == 110
    assert storage.client.zcard(key) == 10 * per_entry
    assert storage.query_log(TENANT, LogQuery(text="user0049")) == entries[:489:-1]
    storage.delete_tenant(TENANT)
    assert not storage.client.exists(key)


def test_entries_stored_before_the_index_get_their_words_from_rebuild_indexes():
    storage = fake_storage()
    entries = _entries(30)
    storage.append_logs(entries)
    log_keys = log.LogKeys.of(storage.prefix, TENANT)
    for raw in storage.client.hvals(log_keys.entries):  # as stored before `lg:w` existed
        record = json.loads(raw)
        del record["wk"]
        storage.client.hset(log_keys.entries, record["id"], json.dumps(record))
    storage.client.delete(log_keys.words)
    hours = storage.log_hours(TENANT, LOG_START)
    assert storage.query_log(TENANT, LogQuery(text="user00007")) == []  # a rare word: read from `lg:w`
    gone = log_entry(TENANT, LOG_START, user_name="pruned meanwhile")
    written = storage._scripts.append_log(*log.append_arguments([gone], log_keys, reindex=True))
    assert written == 0 and storage.query_log(TENANT, LogQuery(text="pruned")) == []
    storage.rebuild_indexes(TENANT)
    assert storage.client.zcard(log_keys.words) == 30 * len(entries[0].words())
    assert storage.query_log(TENANT, LogQuery(text="user00007")) == [entries[7]]
    assert storage.log_hours(TENANT, LOG_START) == hours  # counted once
    assert list(log.without_words(storage.client, log_keys)) == []
    assert storage.prune_log(TENANT, keep=0) == 30 and not storage.client.exists(log_keys.words)
    storage.close()
