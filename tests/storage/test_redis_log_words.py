"""The Redis log's words, kept per identity: an entry adds one `lg:k` member, its identity's
words go to `lg:kw` once and leave with the identity's last entry. A rare word is read from its
lex ranges, a common one walks newest first; entries stored with words per entry (`lg:w`), or
with none, are found and moved to identity keys by `rebuild_indexes`."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis.client
from scimflask_redis import log

from scimflask.storage.capabilities import LogEntry, LogQuery
from scimflask.testing.contract_operations import LOG_START, log_entry

from .redis_helpers import REDIS_KINDS, storage_of

TENANT = "words"


@contextlib.contextmanager
def sent_commands() -> Iterator[list[str]]:
    """The names of the commands the client sends meanwhile (single or pipelined)."""
    names: list[str] = []
    one, queued = redis.client.Redis.execute_command, redis.client.Pipeline.pipeline_execute_command

    def execute_command(client, *args, **options):
        names.append(str(args[0]).upper())
        return one(client, *args, **options)

    def pipeline_execute_command(pipe, *args, **options):
        names.append(str(args[0]).upper())
        return queued(pipe, *args, **options)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redis.client.Redis, "execute_command", execute_command)
        patch.setattr(redis.client.Pipeline, "pipeline_execute_command", pipeline_execute_command)
        yield names


def _entries(count: int) -> list[LogEntry]:
    return [log_entry(TENANT, LOG_START + timedelta(seconds=n), user_name=f"user{n:05d}@example.com",
                      display_name=f"User {n}", status=409 if n % 3 else 201,
                      outcome="failure" if n % 3 else "success") for n in range(count)]


def _reference(entries: list[LogEntry], query: LogQuery) -> list[LogEntry]:
    return sorted((e for e in entries if query.matches(e)), key=lambda e: e.id, reverse=True)[:query.limit]


@pytest.fixture(params=REDIS_KINDS)
def storage(request):
    yield from storage_of(request.param)


@pytest.fixture
def filled(storage):
    entries = _entries(500)
    storage.append_logs(entries)
    return storage, entries


def _keys(storage) -> log.LogKeys:
    return log.LogKeys.of(storage.prefix, TENANT)


def _word_members(entries: list[LogEntry]) -> int:
    """The `lg:kw` members of the identities of `entries`."""
    return sum(len(words) for words in {e.identity_hash(): e.words() for e in entries if e.words()}.values())


def _store_as_words_per_entry(storage, entries: list[LogEntry], *, words: bool = True) -> None:
    """Rewrite stored `entries` as a server without identity keys kept them: their words in
    `lg:w` (or, without `words`, nowhere) and no `ik` in their JSON."""
    log_keys = _keys(storage)
    for entry in entries:
        record = json.loads(storage.client.hget(log_keys.entries, entry.id))
        del record["ik"]
        if words:
            record["wk"] = entry.words()
            for word in entry.words():
                storage.client.zadd(log_keys.words, {f"{word}\0{entry.id}": 0})
        storage.client.hset(log_keys.entries, entry.id, json.dumps(record))
    storage.client.delete(log_keys.identities, log_keys.identity_words, log_keys.identity_data)


@pytest.mark.parametrize("query", [LogQuery(text="user00042"), LogQuery(text="example USER0004"),
                                   LogQuery(text="user0004", before=None, status="409", limit=3)],
                         ids=["one word", "rare and common word", "with other filters"])
def test_a_rare_word_is_read_from_its_ranges(filled, query):
    storage, entries = filled
    with sent_commands() as names:
        found = storage.query_log(TENANT, query)
    assert found == _reference(entries, query) and found
    identities = len({e.identity_hash() for e in entries if any(w.startswith(query.text_words[0]) for w in e.words())})
    # each word's two ranges counted; the rarest's read; its identities' entries counted and read
    assert names.count("ZLEXCOUNT") == 2 * len(query.text_words) + identities
    assert names.count("ZRANGEBYLEX") == 2 + identities and names.count("HMGET") == 1
    assert "ZREVRANGEBYLEX" not in names
    assert len(names) == 2 * len(query.text_words) + 2 + 2 * identities + 1


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
    with sent_commands() as names:
        found = storage.query_log(TENANT, query)
    assert found == _reference(entries, query)
    assert names.count("ZLEXCOUNT") == 4 and "ZRANGEBYLEX" not in names
    assert names.count("ZREVRANGEBYLEX") == 1 and names.count("HMGET") == 1
    for query in (LogQuery(text="user000"), LogQuery(text="user00", failures_only=True, limit=50)):
        assert storage.query_log(TENANT, query) == _reference(entries, query)  # 100 identities: the range


def test_few_identities_naming_many_entries_walk(storage, monkeypatch):
    entries = [log_entry(TENANT, LOG_START + timedelta(seconds=n), user_name=f"busy{n % 2}@example.com")
               for n in range(150)]
    storage.append_logs(entries)
    monkeypatch.setattr(log, "WORD_BOUND", 100)
    query = LogQuery(text="busy", limit=5)
    with sent_commands() as names:
        found = storage.query_log(TENANT, query)
    assert found == _reference(entries, query)
    assert names.count("ZRANGEBYLEX") == 2 and names.count("ZREVRANGEBYLEX") == 1
    assert storage.query_log(TENANT, LogQuery(text="busy1")) == _reference(entries, LogQuery(text="busy1"))


def test_a_batch_is_appended_a_chunk_per_script_and_counted_once(storage, monkeypatch):
    entries = _entries(100)
    storage.append_logs([log_entry("another", LOG_START)])  # the script is loaded now, not below
    monkeypatch.setattr(log, "APPEND_CHUNK", 32)
    with sent_commands() as names:
        storage.append_logs(entries)
    assert names == ["EVALSHA"] * 4  # 32 + 32 + 32 + 4 entries, nothing else
    assert storage.query_log(TENANT, LogQuery(limit=200)) == sorted(entries, key=lambda e: e.id, reverse=True)
    assert storage.query_log(TENANT, LogQuery(text="user00099")) == [entries[99]]
    log_keys = _keys(storage)
    assert storage.client.zcard(log_keys.identities) == 100 and storage.client.hlen(log_keys.identity_data) == 100
    assert storage.client.zcard(log_keys.identity_words) == _word_members(entries)
    assert not storage.client.exists(log_keys.words)
    assert sum(hour.requests for hour in storage.log_hours(TENANT, LOG_START)) == 100


def test_an_identity_written_to_again_adds_one_member_not_its_words(storage):
    log_keys = _keys(storage)
    ann = {"user_name": "ann.lee@example.com", "display_name": "Ann Lee", "external_id": "ext-ann"}
    first = [log_entry(TENANT, LOG_START + timedelta(seconds=n), **ann) for n in range(3)]
    storage.append_logs(first)  # three entries of one identity in one script
    words = storage.client.zrange(log_keys.identity_words, 0, -1)
    assert len(words) == len(first[0].words()) == 5  # ann, lee, example, com, ext
    later = [log_entry(TENANT, LOG_START + timedelta(minutes=1, seconds=n), **ann) for n in range(4)]
    later.append(log_entry(TENANT, LOG_START + timedelta(minutes=2), method="DELETE", status=204))  # no identity
    for entry in later:
        storage.append_logs([entry])
    assert storage.client.zrange(log_keys.identity_words, 0, -1) == words
    assert storage.client.zcard(log_keys.identities) == 7 and storage.client.hlen(log_keys.identity_data) == 1
    named = first + later[:-1]
    assert storage.query_log(TENANT, LogQuery(text="lee ann")) == named[::-1]
    assert json.loads(storage.client.hget(log_keys.entries, later[-1].id))["ik"] is None


def test_an_identitys_words_leave_with_its_last_entry(filled):
    storage, entries = filled
    log_keys = _keys(storage)
    again = log_entry(TENANT, LOG_START + timedelta(seconds=600), user_name=entries[100].user_name,
                      display_name=entries[100].display_name)
    storage.append_logs([again])  # entry 100's identity now has a later entry too
    assert storage.prune_log(TENANT, keep=121) == 380  # entries 0..379 go, 100 among them
    assert storage.client.zcard(log_keys.identity_words) == _word_members(entries[380:] + [again])
    assert storage.client.hlen(log_keys.identity_data) == 121 and storage.client.zcard(log_keys.identities) == 121
    assert storage.query_log(TENANT, LogQuery(text="user00100")) == [again]
    assert storage.prune_log(TENANT, older_than=LOG_START + timedelta(seconds=490)) == 110
    assert storage.client.zcard(log_keys.identity_words) == _word_members(entries[490:] + [again])
    assert storage.query_log(TENANT, LogQuery(text="user0049")) == entries[:489:-1]
    assert storage.prune_log(TENANT, keep=0) == 11
    for key in (log_keys.identities, log_keys.identity_words, log_keys.identity_data):
        assert not storage.client.exists(key)


def test_deleting_the_tenant_removes_the_words(filled):
    storage, _ = filled
    log_keys = _keys(storage)
    storage.delete_tenant(TENANT)
    for key in (log_keys.identities, log_keys.identity_words, log_keys.identity_data, log_keys.entries):
        assert not storage.client.exists(key)


def test_entries_stored_with_words_per_entry_are_found_pruned_and_moved(storage):
    log_keys = _keys(storage)
    entries = _entries(40)
    storage.append_logs(entries)
    _store_as_words_per_entry(storage, entries)
    newer = log_entry(TENANT, LOG_START + timedelta(minutes=5), user_name=entries[7].user_name,
                      display_name=entries[7].display_name)
    storage.append_logs([newer])  # the same identity as entry 7, stored with its key
    hours = storage.log_hours(TENANT, LOG_START)
    assert storage.query_log(TENANT, LogQuery(text="user00007")) == [newer, entries[7]]  # both ranges
    assert storage.prune_log(TENANT, keep=36) == 5  # entries 0..4: their `lg:w` members go
    assert storage.client.zcard(log_keys.words) == 35 * len(entries[0].words())
    storage.rebuild_indexes(TENANT)
    assert not storage.client.exists(log_keys.words)
    assert storage.client.zcard(log_keys.identities) == 36
    assert storage.client.zcard(log_keys.identity_words) == _word_members(entries[5:])
    assert storage.query_log(TENANT, LogQuery(text="user00007")) == [newer, entries[7]]
    assert storage.log_hours(TENANT, LOG_START) == hours  # counted once
    assert list(log.without_identity_key(storage.client, log_keys)) == []
    assert storage.prune_log(TENANT, keep=0) == 36
    for key in (log_keys.identities, log_keys.identity_words, log_keys.identity_data):
        assert not storage.client.exists(key)


def test_entries_stored_before_any_word_index_get_identity_keys_from_rebuild_indexes(storage):
    entries = _entries(30)
    storage.append_logs(entries)
    log_keys = _keys(storage)
    _store_as_words_per_entry(storage, entries, words=False)
    hours = storage.log_hours(TENANT, LOG_START)
    assert storage.query_log(TENANT, LogQuery(text="user00007")) == []  # a rare word: read from the ranges
    gone = log_entry(TENANT, LOG_START, user_name="pruned meanwhile")
    written = storage._scripts.append_log(*log.append_arguments([gone], log_keys, reindex=True))
    assert written == 0 and storage.query_log(TENANT, LogQuery(text="pruned")) == []
    storage.rebuild_indexes(TENANT)
    assert storage.client.zcard(log_keys.identity_words) == _word_members(entries)
    assert storage.query_log(TENANT, LogQuery(text="user00007")) == [entries[7]]
    assert storage.log_hours(TENANT, LOG_START) == hours  # counted once
    assert list(log.without_identity_key(storage.client, log_keys)) == []
    storage.rebuild_indexes(TENANT)  # again: nothing to move, nothing counted twice
    assert storage.client.zcard(log_keys.identities) == 30
    assert storage.prune_log(TENANT, keep=0) == 30 and not storage.client.exists(log_keys.identity_words)


def test_pruning_goes_a_chunk_per_script(filled, monkeypatch):
    storage, entries = filled
    storage.prune_log(TENANT, keep=500)  # the script is loaded now, not below
    monkeypatch.setattr(log, "PRUNE_CHUNK", 64)
    with sent_commands() as names:
        assert storage.prune_log(TENANT, keep=300) == 200  # 64 + 64 + 64 + 8
    assert names == ["EVALSHA"] * 4
    with sent_commands() as names:
        assert storage.prune_log(TENANT, keep=200, older_than=LOG_START + timedelta(seconds=400)) == 200
    assert names == ["EVALSHA"] * 4  # 64 + 36 by count, 28 + 64 + 8 by age
    with sent_commands() as names:
        assert storage.prune_log(TENANT, keep=100, older_than=LOG_START) == 0
    assert names == ["EVALSHA"]
    assert storage.query_log(TENANT, LogQuery(limit=500)) == entries[:399:-1]
    assert storage.client.zcard(_keys(storage).identity_words) == _word_members(entries[400:])
