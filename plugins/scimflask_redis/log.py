"""The Redis backend's provisioning log: entries, their indexes and the hourly counters.

Every key lives in the tenant's key space (one Cluster slot), see `keys`:
- `lg:i` all entry ids and `lg:f` the failures' ids: sorted sets with score 0, so in id (= time)
  order; `lg:r` one member `<resource id, percent-encoded>\\0<entry id>` per entry of a
  resource, so one resource's entries are one lex range; `lg:t` ids scored by time (µs);
- the text search's words are kept per identity, not per entry: `lg:k` one member
  `<identity key>\\0<entry id>` per entry whose identity has words (`LogEntry.identity_hash`),
  `lg:kw` one member `<word>\\0<identity key>` per word of each such identity, and `lg:kd` each
  identity's words, so an entry adds one member, and its identity's words only when no stored
  entry has them yet (a user is written to many times). Measured on a 100,000-entry log, this
  halved the server's time per appended entry (34 to 16 µs) and took a third off the log's
  memory (2.2 to 1.4 KB an entry). `lg:w` holds `<word>\\0<entry id>` for entries stored before identity
  keys, until `RedisStorage.rebuild_indexes` moves them;
- `lg:e` the entries as JSON (with their `lg:r` member and identity key, for pruning);
  `lg:hs` the hours holding counters, `lg:h:<hour>` a hash of each hour's counters
  (`LogEntry.hour_counts`).

Appending and pruning are scripts (lua/append_log.lua, lua/prune_log.lua), so an entry and its
index members and counts appear and vanish together, and an identity's words vanish with its
last entry. A batch is appended APPEND_CHUNK entries per script, and pruned PRUNE_CHUNK per
script: a script holds the server alone, and the requests' commands wait behind it. A query reads entries by id in batches (one
HMGET each), newest first, keeping what `LogQuery.matches`; it stops at `limit` or at the first
entry older than `since`. The ids come from one of two places:
- a text query whose rarest query word holds at most WORD_BOUND identities and entries
  (`_word_ids`: the prefix ranges of `lg:kw` and `lg:w` counted, one ZLEXCOUNT each, O(log n);
  then the identities' entries counted and read from `lg:k`, one lex range each): those ids,
  sorted newest first. Every match holds a word in that range, so no match is missed;
- else a walk of the smallest index that holds the answer backwards (one resource's members,
  else the failures, else all ids). A text whose every word is that common is a common prefix,
  and the walk finds its matches soon.
`until` becomes an id bound: the newest id stamped before it, found in `lg:t`. Entries stored
before these indexes existed are in `lg:i` only, and kept their scimType in `detail` (read back
as `scim_type`); those stored before `lg:w` have no words anywhere, so a text query finds them on
the walk only, until `rebuild_indexes` (`scimflask reindex`) rewrites them with their identity
key (`without_identity_key`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from scimflask.storage.capabilities import LogEntry, LogHour, LogQuery, hour_number

from . import keys
from .reader import from_micros, to_micros

_JSON = {"ensure_ascii": False, "separators": (",", ":")}
SCAN_BATCH = 200
# Entries per append script. A script holds the server alone: an entry cost it 35-50 µs while
# its words went in with it (into a large sorted set), about 16 µs with words per identity. The
# log's writer stores a quarter second of requests at once: at 800 requests/s that was one
# script of 10-12 ms, which a request's command arriving meanwhile waited out; in chunks of 32 a
# script takes 1.5-3 ms (now less).
APPEND_CHUNK = 32
# Entries per prune script, for the same reason: the log's writer prunes 2,000 entries of a full
# tenant at a time, one script of about 30 ms; in chunks of 128 a script takes about 2 ms.
PRUNE_CHUNK = 128
# Identities plus entries a text query's prefix ranges may hold to be read whole, and the
# entries those identities may name.
WORD_BOUND = 10_000
_TOP = b"\xff"  # above every byte of UTF-8: `[<prefix>` .. `[<prefix>\xff` is the prefix's range


@dataclass(frozen=True)
class LogKeys:
    ids: str
    times: str
    entries: str
    failures: str
    resources: str
    hours: str
    hour_prefix: str
    words: str
    identities: str
    identity_words: str
    identity_data: str

    @classmethod
    def of(cls, prefix: str, tenant: str) -> LogKeys:
        base = keys.tenant_base(prefix, tenant)
        return cls(base + keys.LOG_IDS, base + keys.LOG_TIMES, base + keys.LOG_ENTRIES,
                   base + keys.LOG_FAILURES, base + keys.LOG_RESOURCES, base + keys.LOG_HOURS,
                   base + keys.LOG_HOUR, base + keys.LOG_WORDS, base + keys.LOG_IDENTITIES,
                   base + keys.LOG_IDENTITY_WORDS, base + keys.LOG_IDENTITY_DATA)

    @property
    def scripted(self) -> list[str]:
        """The keys every log script is given, in the order the scripts read them."""
        return [self.ids, self.times, self.entries, self.failures, self.resources, self.hours, self.words,
                self.identities, self.identity_words, self.identity_data]


def resource_member(resource_id: str, entry_id: str = "") -> str:
    """The `lg:r` member of an entry (or, without `entry_id`, the prefix of a resource's)."""
    return f"{quote(resource_id, safe='')}\0{entry_id}"


def append_chunks(entries: list[LogEntry], log_keys: LogKeys, *,
                  reindex: bool = False) -> Iterator[tuple[list[str], list]]:
    """`append_arguments` of each APPEND_CHUNK entries in turn."""
    for start in range(0, len(entries), APPEND_CHUNK):
        yield append_arguments(entries[start:start + APPEND_CHUNK], log_keys, reindex=reindex)


def append_arguments(entries: list[LogEntry], log_keys: LogKeys, *,
                     reindex: bool = False) -> tuple[list[str], list]:
    """KEYS and ARGV of lua/append_log.lua for entries of one tenant; with `reindex`, for
    rewriting stored entries with their index members (no counters: they counted already).

    The entries travel as one argument (`_packed`): the client encodes every argument on its
    own, type checks and length header included, and seven per entry cost more than the JSON
    they carry. An identity's words go once per call, with its first entry."""
    fields: list[str] = []
    hours: dict[int, dict[str, int]] = {}
    given: set[str] = set()
    for entry in entries:
        micros = to_micros(entry.time)
        member = "" if entry.resource_id is None else resource_member(entry.resource_id, entry.id)
        key = entry.identity_hash()
        words = ""
        if key is not None and key not in given:
            given.add(key)
            words = "\0".join(entry.words())
        fields += (entry.id, str(micros), "1" if entry.outcome == "failure" else "0", member, key or "", words,
                   _encode(entry, micros, member, key))
        counts = hours.setdefault(hour_number(entry.time), {})
        for name, count in entry.hour_counts().items():
            counts[name] = counts.get(name, 0) + count
    args: list = [len(entries), "1" if reindex else "0", _packed(fields)]
    hour_keys: list[str] = []
    for hour, counts in sorted(hours.items()) if not reindex else ():
        hour_keys.append(log_keys.hour_prefix + str(hour))
        args += [hour, len(counts)]
        for name, count in sorted(counts.items()):
            args += [name, count]
    return log_keys.scripted + hour_keys, args


def _packed(fields: list[str]) -> str:
    """Each field followed by a newline, which none contains: ids, numbers and identity keys
    are hex or digits, a resource member is percent-encoded, words are letters and digits,
    and JSON escapes every control character."""
    fields.append("")
    return "\n".join(fields)


def prune_arguments(log_keys: LogKeys, keep: int | None, older_than: datetime | None,
                    most: int | None = None) -> list:
    """ARGV of lua/prune_log.lua: delete at most `most` entries (None: all it should)."""
    return ["" if keep is None else max(keep, 0), "" if older_than is None else to_micros(older_than),
            log_keys.hour_prefix, "" if older_than is None else hour_number(older_than),
            "" if most is None else most]


_ENCODER = json.JSONEncoder(**_JSON)  # one encoder: `json.dumps` with options builds one per call


def _encode(entry: LogEntry, micros: int, member: str, key: str | None) -> str:
    record = {
        "id": entry.id, "tenant": entry.tenant, "time": micros, "method": entry.method,
        "path": entry.path, "status": entry.status, "outcome": entry.outcome,
        "token_id": entry.token_id, "resource_type": entry.resource_type,
        "resource_id": entry.resource_id, "changed": list(entry.changed), "detail": entry.detail,
        "scim_type": entry.scim_type, "user_name": entry.user_name, "display_name": entry.display_name,
        "external_id": entry.external_id, "request_id": entry.request_id, "duration_ms": entry.duration_ms,
        "client": entry.client, "user_agent": entry.user_agent,
    }
    if member:
        record["rk"] = member  # what prune_log.lua removes from `lg:r`
    # and from `lg:k` (null: no words; an entry without `ik` predates identity keys)
    record["ik"] = key
    return _ENCODER.encode(record)


def decode(raw: bytes | str) -> LogEntry:
    record = json.loads(raw)
    detail, scim_type = record["detail"], record.get("scim_type")
    if "scim_type" not in record:  # written before scimType had a field of its own
        detail, scim_type = None, detail
    return LogEntry(record["id"], record["tenant"], from_micros(record["time"]), record["method"],
                    record["path"], record["status"], record["outcome"], record["token_id"],
                    record["resource_type"], record["resource_id"], tuple(record["changed"]), detail,
                    scim_type, record.get("user_name"), record.get("display_name"), record.get("external_id"),
                    record.get("request_id"), record.get("duration_ms"), record.get("client"),
                    record.get("user_agent"))


def without_identity_key(client, log_keys: LogKeys) -> Iterator[list[LogEntry]]:
    """The stored entries that predate identity keys (their JSON has no `ik`), walking `lg:i`
    a SCAN_BATCH of ids at a time (one ZRANGEBYLEX and one HMGET each): O(n)."""
    low = b"-"
    while True:
        ids = client.zrangebylex(log_keys.ids, low, b"+", start=0, num=SCAN_BATCH)
        if not ids:
            return
        old = [decode(raw) for raw in client.hmget(log_keys.entries, ids) if raw and "ik" not in json.loads(raw)]
        if old:
            yield old
        if len(ids) < SCAN_BATCH:
            return
        low = b"(" + ids[-1]


class LogReader:
    """Queries and hourly counters of one client."""

    def __init__(self, client, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def query(self, tenant: str, query: LogQuery) -> list[LogEntry]:
        if query.limit <= 0:
            return []
        log_keys = LogKeys.of(self.prefix, tenant)
        before = query.before
        if query.until is not None:
            newest = self.client.zrevrangebyscore(log_keys.times, f"({to_micros(query.until)}", "-inf",
                                                  start=0, num=1)
            if not newest:
                return []
            last = newest[0].decode() + "\0"  # the smallest text above that id
            before = last if before is None else min(before, last)
        # Filters the index does not answer are checked here: read more ids per round trip.
        rest = (query.status, query.method, query.resource_type, query.text_words,
                query.failures_only and query.resource_id is not None)
        batch = max(query.limit, SCAN_BATCH) if any(rest) else query.limit
        by_word = self._word_ids(log_keys, query, before) if query.text_words else None
        found: list[LogEntry] = []
        for ids in self._walk(log_keys, query, before, batch) if by_word is None else _chunks(by_word, batch):
            for raw in self.client.hmget(log_keys.entries, ids):
                if raw is None:
                    continue  # pruned between the two reads
                entry = decode(raw)
                if query.since is not None and entry.time < query.since:
                    return found
                if query.matches(entry):
                    found.append(entry)
                    if len(found) == query.limit:
                        return found
        return found

    def _word_ids(self, log_keys: LogKeys, query: LogQuery, before: str | None) -> list[bytes] | None:
        """The ids, newest first and within `after`..`before`, of the entries holding a word in
        the smallest prefix ranges among the query's words; None (walk instead) when every
        word's ranges of `lg:kw` and `lg:w` hold more than WORD_BOUND members, or the rarest
        word's identities name more than WORD_BOUND entries. Four round trips at most: the
        ZLEXCOUNTs of every query word's ranges (O(log n) each); the rarest word's ranges,
        O(log n + WORD_BOUND); then for each identity in it a ZLEXCOUNT of its range of
        `lg:k`, and a ZRANGEBYLEX of it."""
        ranges = [(b"[" + word.encode(), b"[" + word.encode() + _TOP) for word in query.text_words]
        pipe = self.client.pipeline(transaction=False)
        for low, high in ranges:
            pipe.zlexcount(log_keys.identity_words, low, high)
            pipe.zlexcount(log_keys.words, low, high)
        counts = [int(count) for count in pipe.execute()]
        count, low, high = min((counts[2 * n] + counts[2 * n + 1], *bounds) for n, bounds in enumerate(ranges))
        if count > WORD_BOUND:
            return None
        if count == 0:
            return []
        after, before_ = (None if bound is None else bound.encode() for bound in (query.after, before))
        pipe.zrangebylex(log_keys.identity_words, low, high)
        pipe.zrangebylex(log_keys.words, low, high)
        identity_members, entry_members = pipe.execute()
        ids = {member.partition(b"\0")[2] for member in entry_members}
        ids = {id for id in ids if (after is None or id > after) and (before_ is None or id < before_)}
        identities = sorted({member.partition(b"\0")[2] for member in identity_members})
        if identities:
            spans = [_identity_span(key, after, before_) for key in identities]
            for span in spans:
                pipe.zlexcount(log_keys.identities, *span)
            if len(ids) + sum(int(n) for n in pipe.execute()) > WORD_BOUND:
                return None
            for span in spans:
                pipe.zrangebylex(log_keys.identities, *span)
            ids.update(member.partition(b"\0")[2] for members in pipe.execute() for member in members)
        return sorted(ids, reverse=True)

    def _walk(self, log_keys: LogKeys, query: LogQuery, before: str | None, batch: int) -> Iterator[list[bytes]]:
        """The ids of the smallest index that holds the answer, newest first, `batch` at a time
        (one ZREVRANGEBYLEX each)."""
        index, low, high, skip = self._bounds(log_keys, query, before)
        while True:
            members = self.client.zrevrangebylex(index, high, low, start=0, num=batch)
            if members:
                yield [member[skip:] for member in members]
            if len(members) < batch:
                return
            high = b"(" + members[-1]

    @staticmethod
    def _bounds(log_keys: LogKeys, query: LogQuery, before: str | None) -> tuple[str, str, str, int]:
        """(index, lowest, highest member for ZREVRANGEBYLEX, length of the members' prefix)."""
        if query.resource_id is not None:
            prefix = resource_member(query.resource_id)
            low = "(" + prefix + query.after if query.after is not None else "[" + prefix
            high = "(" + prefix + before if before is not None else "(" + prefix[:-1] + "\1"
            return log_keys.resources, low, high, len(prefix.encode())
        index = log_keys.failures if query.failures_only else log_keys.ids
        low = "-" if query.after is None else "(" + query.after
        high = "+" if before is None else "(" + before
        return index, low, high, 0

    def hours(self, tenant: str, since: datetime) -> list[LogHour]:
        log_keys = LogKeys.of(self.prefix, tenant)
        numbers = [int(hour) for hour in self.client.zrangebyscore(log_keys.hours, hour_number(since), "+inf")]
        if not numbers:
            return []
        pipe = self.client.pipeline(transaction=False)
        for hour in numbers:
            pipe.hgetall(log_keys.hour_prefix + str(hour))
        counted = pipe.execute()
        return [LogHour.from_counts(hour, {name.decode(): int(count) for name, count in counts.items()})
                for hour, counts in zip(numbers, counted, strict=True) if counts]


def _identity_span(key: bytes, after: bytes | None, before: bytes | None) -> tuple[bytes, bytes]:
    """The ZRANGEBYLEX bounds of the `lg:k` members of identity `key` with ids in
    `after`..`before` (both excluded)."""
    prefix = key + b"\0"
    return (b"(" + prefix + after if after is not None else b"[" + prefix,
            b"(" + prefix + before if before is not None else b"[" + prefix + _TOP)


def _chunks(ids: list[bytes], size: int) -> Iterator[list[bytes]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]
