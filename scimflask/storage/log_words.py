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
import re
from collections.abc import Iterable, Sequence

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


def query_words(text: str | None) -> list[str]:
    """The words of a search text that each must start a word of a matching entry, longest
    first; a word that starts another of them is dropped (the longer one implies it). No two
    left start one word, so more than MAX_WORDS of them match no entry."""
    found = sorted(words(text or ""), key=len, reverse=True)
    return [word for n, word in enumerate(found) if not any(other.startswith(word) for other in found[:n])]


def match(wanted: Sequence[str], indexed: Sequence[str]) -> bool:
    """Whether every word of `wanted` (`query_words`) starts one of `indexed` (`entry_words`)."""
    return all(any(word.startswith(query) for word in indexed) for query in wanted)
