"""The Lua scripts that make every write one atomic step, and their Python side.

Reads of a request are one script too (read.lua: index lookup, records, memberships).
Each write (create, update, delete, and those of tokens and the log) is one script: uniqueness checks, the version
compare-and-set, member checks, index maintenance and membership changes happen inside Redis
with nothing in between, so two racing workers give one success and one `UniqueConflict`, and no
index entry ever outlives or predates its resource. Scripts are registered with
`register_script` (EVALSHA, reloaded transparently after a server restart) and work on
fakeredis when `lupa` is installed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

from scimflask.model import Member
from scimflask.storage import ResourceNotFound, UniqueConflict, UnknownMembers, VersionMismatch

from .replicas import Writer

ENCODING = "utf-8"


def pack(items: Iterable[str | bytes]) -> bytes:
    """`<byte length>:<bytes>` per item: binary-safe lists for Lua (see lua/common.lua)."""
    out = bytearray()
    for item in items:
        raw = item.encode(ENCODING) if isinstance(item, str) else item
        out += str(len(raw)).encode() + b":" + raw
    return bytes(out)


def unpack(packed: bytes) -> list[str]:
    out, i = [], 0
    while i < len(packed):
        colon = packed.index(b":", i)
        n = int(packed[i:colon])
        out.append(packed[colon + 1:colon + 1 + n].decode(ENCODING))
        i = colon + 1 + n
    return out


def pack_entries(entries: dict) -> bytes:
    """Index entries (`indexes.TypeIndexes.*_entries`) as the fours the scripts read."""
    flat: list[str] = []
    for key, field, attribute in entries["u"]:
        flat += ["u", key, field, attribute]
    for key in entries["s"]:
        flat += ["s", key, "", ""]
    for key, member in entries["z"]:
        flat += ["z", key, member, ""]
    return pack(flat)


def pack_trigrams(groups: list[tuple[str, list[str]]]) -> bytes:
    """`indexes.TypeIndexes.data_trigrams` as the scripts read it: key prefix, then the packed
    trigrams, per path (about 5 bytes a trigram instead of a four per set)."""
    flat: list[str | bytes] = []
    for prefix, grams in groups:
        flat += [prefix, pack(grams)]
    return pack(flat)


def pack_members(members: Sequence[Member]) -> bytes:
    flat: list[str] = []
    for member in members:
        flat += [member.value, member.type or "", "0" if member.display is None else "1" + member.display]
    return pack(flat)


def members_from_triples(flat: list[str]) -> list[Member]:
    return [Member(flat[i], flat[i + 1] or None, None if flat[i + 2] == "0" else flat[i + 2][1:])
            for i in range(0, len(flat), 3)]


def member_from_row(member_id: str, row: bytes) -> tuple[int, Member]:
    """A `gm:` hash row -> (insertion sequence, Member)."""
    seq, type_, display = unpack(row)
    return int(seq), Member(member_id, type_ or None, None if display == "0" else display[1:])


@dataclass(frozen=True)
class Updated:
    version: int
    created: str
    data: str


class Scripts:
    """The registered scripts of one client, with results turned into storage errors. Write
    scripts run through `writer` (`replicas.Writer`: it may wait for replicas); a token's last
    use, rate-limit hits and reads run directly."""

    def __init__(self, client, writer: Writer | None = None) -> None:
        common = _source("common.lua")
        self._write = writer or Writer(client)
        self._create = client.register_script(common + _source("create.lua"))
        self._update = client.register_script(common + _source("update.lua"))
        self._delete = client.register_script(common + _source("delete.lua"))
        self.read = client.register_script(common + _source("read.lua"))
        self._reindex = client.register_script(common + _source("reindex.lua"))
        self._touch_token = client.register_script(_source("touch_token.lua"))
        self._update_token = client.register_script(_source("update_token.lua"))
        self._add_token = client.register_script(_source("add_token.lua"))
        self._delete_token = client.register_script(_source("delete_token.lua"))
        self._append_log = client.register_script(_source("append_log.lua"))
        self._prune_log = client.register_script(_source("prune_log.lua"))
        self._hit_counter = client.register_script(_source("hit_counter.lua"))

    def touch_token(self, key: str, when: int) -> None:
        self._touch_token(keys=[key], args=[when])

    def add_token(self, token_keys: list[str], id: str, secret_hash: str, record: str, created: int,
                  last_used: int | None) -> None:
        """`token_keys`: the record, secret hash -> id and by-creation keys (one slot)."""
        self._write.script(self._add_token, token_keys,
                           [id, secret_hash, record, created, "" if last_used is None else last_used])

    def delete_token(self, token_keys: list[str], id: str) -> bool:
        return bool(self._write.script(self._delete_token, token_keys, [id]))

    def update_token(self, key: str, read: bytes, new: str, last_used: int | None) -> int:
        """1 done, 0 no such token, -1 the record changed since `read` (read it again)."""
        return int(self._write.script(self._update_token, [key],
                                      [read, new, "" if last_used is None else last_used]))

    def append_log(self, log_keys: list[str], args: list) -> int:
        """Entries of one tenant with their index members and counts, in one step (the
        arguments `log.append_arguments` builds); returns the entries written."""
        return int(self._write.script(self._append_log, log_keys, args))

    def prune_log(self, log_keys: list[str], args: list) -> int:
        """The arguments `log.prune_arguments` builds."""
        return int(self._write.script(self._prune_log, log_keys, args))

    def hit_counter(self, key: str, lifetime_seconds: int) -> int:
        return int(self._hit_counter(keys=[key], args=[lifetime_seconds]))

    def create(self, key: str, head: list, *, resource_type: str, id: str, created: int, modified: int, data: str,
               entries: bytes, modified_entries: bytes, created_entries: bytes, trigrams: bytes,
               members: Sequence[Member], check_members: bool, ready: Sequence[str] = ("",) * 5
               ) -> list[Member]:
        """Run create.lua; return the members as stored (types filled when checked).
        `ready`: (prefix marker key, its signature, created index key, trigram marker key, its
        signature): the first resource of a type marks its (then complete) indexes ready."""
        reply = self._write.script(self._create, [key], [
            *head, id, created, modified, data, entries, modified_entries, created_entries,
            pack_members(members), "1" if check_members else "0", *ready, trigrams,
        ])
        _raise_for(reply, resource_type, id)
        return members_from_triples(unpack(reply[1]))

    def update(self, key: str, head: list, *, resource_type: str, id: str, expected_version: int | None,
               modified: int, modified_entries: bytes, data: str | None, entries: bytes | None,
               trigrams: bytes | None, replace_members: bool, members: Sequence[Member],
               remove: Sequence[str], check_members: bool) -> Updated:
        reply = self._write.script(self._update, [key], [
            *head, id, "" if expected_version is None else str(expected_version), modified,
            modified_entries, "0" if data is None else "1", data or "", entries or b"",
            "1" if replace_members else "0", pack_members(members), pack(remove),
            "1" if check_members else "0", trigrams or b"",
        ])
        _raise_for(reply, resource_type, id)
        return Updated(int(reply[1]), reply[2].decode(), reply[3].decode(ENCODING))

    def reindex(self, key: str, head: list, *, id: str, version: int, entries: bytes, trigrams: bytes) -> bool:
        """Replace the data entries and trigrams of a resource still at `version`; False when
        it changed (or vanished) since it was read."""
        return bool(self._write.script(self._reindex, [key], [*head, id, str(version), entries, trigrams]))

    def delete(self, key: str, head: list, *, resource_type: str, id: str, expected_version: int | None) -> None:
        reply = self._write.script(self._delete, [key], [
            *head, id, "" if expected_version is None else str(expected_version),
        ])
        _raise_for(reply, resource_type, id)


def _raise_for(reply: list, resource_type: str, id: str) -> None:
    status = reply[0].decode()
    if status == "ok":
        return
    if status == "conflict":
        raise UniqueConflict(reply[1].decode(ENCODING))
    if status == "unknown":
        raise UnknownMembers([item.decode(ENCODING) for item in reply[1:]])
    if status == "precondition":
        raise VersionMismatch(int(reply[1]))
    if status == "notfound":
        raise ResourceNotFound(resource_type, id)
    raise RuntimeError(f"unexpected script reply {status!r}")


def _source(name: str) -> str:
    return resources.files(__package__).joinpath("lua", name).read_text(encoding="utf-8")
