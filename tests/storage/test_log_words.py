"""The words of the log's text search (scimflask.storage.log_words), on their own."""

from __future__ import annotations

import sys

import pytest

from scimflask.storage.log_words import _RUN, MAX_WORD, MAX_WORDS, entry_words, match, query_words, words


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
