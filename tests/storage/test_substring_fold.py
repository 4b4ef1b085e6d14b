"""`scimflask.storage.substring.fold`: the one case fold every backend's trigram index uses.

The reference evaluator matches a caseExact `co` when the pattern is inside the value, and a
case-insensitive one when `pattern.lower()` is inside `value.lower()`. Either way the pattern's
trigrams must be among the value's, or an index would miss a match; `str.lower` of a whole text
breaks that around a capital sigma (final or medial by its neighbours), hence the fold.
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from scimflask.storage.substring import fold, pattern_trigrams, trigrams

ALPHABET = "aAΣσςİißxΑ"


@given(value=st.text(ALPHABET, max_size=10), start=st.integers(0, 10), length=st.integers(3, 10))
@example(value="XΑΑΣΑY", start=1, length=3)
def test_a_case_exact_match_holds_every_pattern_trigram(value, start, length):
    pattern = value[start:start + length]
    grams = pattern_trigrams(pattern)
    if grams is not None:
        assert grams <= trigrams(value)


@given(value=st.text(ALPHABET, max_size=10), pattern=st.text(ALPHABET, min_size=3, max_size=5))
@example(value="ΑΟΣ", pattern="αος")
@example(value="ΑΟΣΑ", pattern="αοσ")
def test_a_case_insensitive_match_holds_every_pattern_trigram(value, pattern):
    if pattern.lower() in value.lower():
        assert (pattern_trigrams(pattern) or set()) <= trigrams(value)


def test_the_fold_of_a_lower_cased_text_is_its_fold():
    for text in ("ΟΔΟΣ", "ΟΔΟΣ ΑΣ", "İstanbul", "Straße", "ας"):
        assert fold(text.lower()) == fold(text)
    assert fold("ΟΔΟΣ") == fold("οδος") == "οδοσ"
