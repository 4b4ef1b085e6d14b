"""The words of the log's text search (scimflask.storage.log_words), on their own."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import pytest

from scimflask.storage.capabilities import LogEntry
from scimflask.storage.log_words import (
    _RUN,
    MAX_WORD,
    MAX_WORDS,
    IdentityKeys,
    entry_words,
    match,
    query_words,
    words,
)


def test_a_run_is_exactly_what_isalnum_accepts():
    for code in range(sys.maxunicode + 1):
        character = chr(code)
        assert bool(_RUN.fullmatch(character)) == character.isalnum(), hex(code)


@pytest.mark.parametrize("text, expected", [
    ("alice.smith@contoso.com", ["alice", "smith", "contoso", "com"]),
    ("Alice  ALICE alice", ["alice"]),
    ("100%_sure", ["100", "sure"]),
    ("ΣΊΣΥΦΟΣ σίσυφος", ["σίσυφοσ"]),           # both sigmas fold alike
    ("İstanbul", ["i", "stanbul"]),              # İ folds to i and a combining dot (no letter)
    ("h:0123456789ABCDEF", ["h", "0123456789abcdef"]),
    ("x" * (MAX_WORD + 5) + " y", ["x" * MAX_WORD, "y"]),
    ("%@-  ", []),
])
def test_words(text, expected):
    assert words(text) == expected


def test_an_entry_keeps_its_first_distinct_words():
    many = " ".join(f"w{n}" for n in range(MAX_WORDS + 10))
    assert entry_words(["Ada Lovelace", None, "ada-1"]) == ["ada", "lovelace", "1"]
    assert entry_words([many, "late"]) == [f"w{n}" for n in range(MAX_WORDS)]


@pytest.mark.parametrize("text, expected", [
    ("alice smi", ["alice", "smi"]), ("al alice a", ["alice"]), ("smith sm SMITHS", ["smiths"]),
    (None, []), ("  ", []),
])
def test_query_words_drop_what_a_longer_one_implies(text, expected):
    assert query_words(text) == expected


@pytest.mark.parametrize("text, found", [("smith", True), ("alice smi", True), ("lice", False),
                                         ("ALICE contoso", True), ("alice bob", False), ("", True)])
def test_every_query_word_starts_an_entry_word(text, found):
    assert match(query_words(text), entry_words(["alice.smith@contoso.com", "Alice Smith"])) is found


def test_entry_words_are_a_list_of_the_callers_own():
    """The split is kept per identity (`entry_words` is called for every entry written): a
    caller changing the list it got changes nothing for the next one."""
    first = entry_words(("ann.lee@example.com", "Ann Lee", None))
    first.append("extra")
    assert entry_words(("ann.lee@example.com", "Ann Lee", None)) == ["ann", "lee", "example", "com"]


def _entry(entry_id: str, user_name: str | None, tenant: str = "t") -> LogEntry:
    return LogEntry(entry_id, tenant, datetime(2024, 5, 1, tzinfo=timezone.utc), "PATCH", "/Users/u", 200,
                    "success", user_name=user_name)


def test_an_identity_is_keyed_by_its_first_entry_until_forgotten():
    """Same words, same key, whatever field they came from; the words are due with the first
    entry, then once the key is no longer trusted, then under a new key once the identity was
    dropped (the least recently used past `size`) or its tenant forgotten."""
    clock = [0.0]
    keys = IdentityKeys(seconds=60, size=2, clock=lambda: clock[0])
    batch = [_entry("01", "Ann Lee"), _entry("02", None), _entry("03", "ann  LEE"), _entry("04", "Bob")]
    assigned, due = keys.assign(batch)
    assert assigned == ["01", None, "01", "04"] and due == {("t", "01"): ["ann", "lee"], ("t", "04"): ["bob"]}
    assert keys.assign([_entry("05", "Ann Lee")]) == (["05"], {("t", "05"): ["ann", "lee"]})  # not stored yet
    keys.stored(batch, assigned, due)
    assert keys.assign([_entry("06", "Ann Lee"), _entry("07", "Ann Lee", "u")]) == (
        ["01", "07"], {("u", "07"): ["ann", "lee"]})  # a tenant's identities are its own
    clock[0] = 60.0
    assert keys.assign([_entry("08", "Ann Lee")]) == (["01"], {("t", "01"): ["ann", "lee"]})
    keys.stored([_entry("08", "Ann Lee")], ["01"], {("t", "01"): ["ann", "lee"]})
    keys.stored([_entry("09", "Cy")], ["09"], {("t", "09"): ["cy"]})  # past size 2: Bob goes
    assert keys.assign([_entry("10", "Bob"), _entry("11", "Ann Lee")]) == (["10", "01"], {("t", "10"): ["bob"]})
    keys.forget("t")
    assert keys.assign([_entry("12", "Ann Lee")]) == (["12"], {("t", "12"): ["ann", "lee"]})
    assert keys.collectable_before(1000.0) == 880.0
