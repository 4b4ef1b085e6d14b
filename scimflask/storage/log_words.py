"""The words the provisioning log's text search (`LogQuery.text`) is answered by.

A substring search over a large log is a scan on every backend. A word-prefix index is not:
each entry holds a few short words (at most MAX_WORDS of at most MAX_WORD characters), and the
entries holding a word that starts with a given prefix are one range of a sorted structure that
every backend keeps cheaply (a sorted list, a B-tree `LIKE 'w%'`, a Redis lex range). So the
search matches whole-word prefixes: "smith" finds "alice.smith@contoso.com", "lice" does not.
Every backend and the reference (`LogQuery.matches`) split text with this module only.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Protocol

from .substring import fold

MAX_WORD = 64    # characters kept of a word (and of a query word)
MAX_WORDS = 24   # distinct words kept of an entry; later ones are not searchable
IDENTITIES = 4096  # identities whose words are kept split (`entry_words`)
# A run of characters that `str.isalnum` accepts: `\w` is those and "_" (checked over every
# code point in tests/storage/test_log_words.py).
_RUN = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The distinct words of `text` in order of first appearance: the maximal runs of letters
    and digits (`str.isalnum`) of its fold (`substring.fold`), each cut to MAX_WORD."""
    return list(dict.fromkeys(run[:MAX_WORD] for run in _RUN.findall(fold(text))))


def entry_words(values: Iterable[str | None]) -> list[str]:
    """The words an entry is found by: the distinct words of its identity fields (user_name,
    display_name, external_id, in that order), the first MAX_WORDS of them."""
    return list(_identity_words(tuple(values)))


@functools.lru_cache(maxsize=IDENTITIES)
def _identity_words(values: tuple[str | None, ...]) -> tuple[str, ...]:
    """`entry_words`, kept for the identities seen last: the log's writer splits the same few
    identities over and over (a user is written to many times), and splitting costs more than
    the rest of storing an entry's words on some backends."""
    return tuple(dict.fromkeys(word for value in values if value for word in words(value)))[:MAX_WORDS]


def identity_hash(values: Iterable[str | None]) -> str | None:
    """What tells identities apart for their words: the same for every identity with the same
    words (`entry_words`), None for one without words. 128 bits of BLAKE2b, so two different
    word lists never meet in practice."""
    return _identity_hash(tuple(values))


@functools.lru_cache(maxsize=IDENTITIES)
def _identity_hash(values: tuple[str | None, ...]) -> str | None:
    found = _identity_words(values)
    return hashlib.blake2b("\0".join(found).encode(), digest_size=16).hexdigest() if found else None


class KeyedEntry(Protocol):
    """What `IdentityKeys` reads of a log entry (`capabilities.LogEntry`)."""

    id: str
    tenant: str

    def identity_hash(self) -> str | None: ...

    def words(self) -> list[str]: ...


class IdentityKeys:
    """The keys under which a store that keeps words per identity (not per entry) files them,
    as one process assigns them; a writer stores an identity's words once under its key, and
    each entry names the key.

    A key is the id of the first entry the process stored the identity's words with. Ids grow
    with time, so the words of a new identity go at the end of each word's range of the index
    (as words kept per entry did), not at a random place, which would cost a page written per
    word. Another process, or this one after a restart, assigns its own key to the same
    identity: its words are then stored twice, which the search does not mind.

    A key is trusted stored for `seconds`, then its words are stored again with the next entry
    (a store skips the rows it holds): a store that collects the words of keys left without
    entries only collects a key whose newest entry is older than twice that
    (`collectable_before`), so it never takes words a process still trusts. At most `size`
    identities are remembered, the least recently used dropped.
    """

    def __init__(self, seconds: float = 600.0, size: int = 16_384, clock=time.monotonic) -> None:
        self.seconds, self.size, self._clock = seconds, size, clock
        # (tenant, identity hash) -> [key, when its words were last stored (clock)]
        self._known: OrderedDict[tuple[str, str], list] = OrderedDict()
        self._lock = threading.Lock()

    def assign(self, entries: Sequence[KeyedEntry]) -> tuple[list[str | None], dict[tuple[str, str], list[str]]]:
        """The key of each entry's words (None for one without words), and the words to store
        now: (tenant, key) -> the identity's words, for keys new or no longer trusted. Call
        `stored` with those once they are committed."""
        now = self._clock()
        keys: list[str | None] = []
        due: dict[tuple[str, str], list[str]] = {}
        assigned: dict[tuple[str, str], str] = {}
        with self._lock:
            for entry in entries:
                found = entry.identity_hash()
                if found is None:
                    keys.append(None)
                    continue
                known = (entry.tenant, found)
                key = assigned.get(known)
                if key is None:
                    remembered = self._known.get(known)
                    key = assigned[known] = remembered[0] if remembered else entry.id
                    if remembered is None or now - remembered[1] >= self.seconds:
                        due[entry.tenant, key] = entry.words()
                keys.append(key)
        return keys, due

    def stored(self, entries: Sequence[KeyedEntry], keys: Sequence[str | None],
               due: dict[tuple[str, str], list[str]]) -> None:
        """Note that the words of `due` (as `assign` gave them for `entries` and `keys`) are
        stored now, under their keys."""
        now = self._clock()
        with self._lock:
            for entry, key in zip(entries, keys, strict=True):
                found = entry.identity_hash()
                if key is None or found is None:
                    continue
                known = (entry.tenant, found)
                if (entry.tenant, key) in due:
                    self._known[known] = [key, now]
                if known in self._known:
                    self._known.move_to_end(known)
            while len(self._known) > self.size:
                self._known.popitem(last=False)

    def forget(self, tenant: str) -> None:
        """Trust nothing more of `tenant`: its words may be gone."""
        with self._lock:
            for known in [known for known in self._known if known[0] == tenant]:
                del self._known[known]

    def collectable_before(self, now_seconds: float) -> float:
        """The epoch second before which a key's newest entry must lie for its words to be
        collected once it has no entries left."""
        return now_seconds - 2 * self.seconds


def query_words(text: str | None) -> list[str]:
    """The words of a search text that each must start a word of a matching entry, longest
    first; a word that starts another of them is dropped (the longer one implies it). No two
    left start one word, so more than MAX_WORDS of them match no entry."""
    found = sorted(words(text or ""), key=len, reverse=True)
    return [word for n, word in enumerate(found) if not any(other.startswith(word) for other in found[:n])]


def match(wanted: Sequence[str], indexed: Sequence[str]) -> bool:
    """Whether every word of `wanted` (`query_words`) starts one of `indexed` (`entry_words`)."""
    return all(any(word.startswith(query) for word in indexed) for query in wanted)
