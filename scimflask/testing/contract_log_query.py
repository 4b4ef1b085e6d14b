"""Contract: every filter of `LogQuery`, alone and combined, against a full scan.

A varied log (methods, statuses, outcomes, resource types and ids, identities with mixed case,
Unicode, hashed identities and the LIKE wildcards `%` and `_`) is stored in shuffled batches;
each query's answer must equal filtering every stored entry of the tenant here in Python
(`reference`), which spells the rules out again instead of calling `LogQuery.matches` (only the
splitting into words is shared: `log_words.words`). The text search's word index is then
checked against `LogQuery.matches` on generated identities and texts, with cursors and pruning.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..ops.log_identity import HASHED, Identity, IdentityPolicy
from ..storage.capabilities import LogEntry, LogQuery, ProvisioningLogSupport
from ..storage.log_words import MAX_WORD, MAX_WORDS, words
from .contract_operations import LOG_START, _require, log_entry
from .contract_support import OTHER_TENANT, TENANT, new_id

RESOURCES = ("r-alpha", "r-beta", "r-gamma", "r-delta")
IDENTITIES = (
    (None, None, None),
    ("Zoë.Ångström@Example.com", "Zoë \"Z\" Ångström", "EXT-001"),
    ("ada@example.com", "Ada Lovelace", "ext-002"),
    ("100%_sure@example.com", "Percent_Under", None),
    (None, "Sales Team", "grp-ÄÖÜ"),
    ("aXb@example.com", None, "a_b"),
    ("σίσυφος@example.com", "ΣΊΣΥΦΟΣ Ödipus", None),
    ("h:0123456789abcdef", "h:fedcba9876543210", None),  # SCIM_LOG_IDENTITIES=hashed
)
_SHAPES = (  # method, path, status, resource type
    ("POST", "/Users", 201, "User"), ("POST", "/Users", 409, "User"), ("PATCH", "/Users/x", 200, "User"),
    ("PATCH", "/Users/x", 400, "User"), ("PUT", "/Groups/x", 200, "Group"), ("DELETE", "/Users/x", 204, "User"),
    ("DELETE", "/Groups/x", 404, "Group"), ("POST", "/Bulk", 200, None), ("GET", "/Users", 200, "User"),
    ("PATCH", "/Groups/x", 500, "Group"), ("POST", "/Users/.search", 400, "User"),
)
_SCIM_TYPES = {409: "uniqueness", 400: "invalidValue"}


def corpus(tenant: str, count: int = 60, seed: int = 7) -> list[LogEntry]:
    """`count` entries of `tenant`, 90 seconds apart (some sharing a moment) from LOG_START."""
    chooser = random.Random(seed)
    entries = []
    for n in range(count):
        method, path, status, resource_type = chooser.choice(_SHAPES)
        user_name, display_name, external_id = chooser.choice(IDENTITIES)
        resource_id = chooser.choice(RESOURCES) if resource_type and chooser.random() < 0.8 else None
        when = LOG_START + timedelta(seconds=90 * (n - n % 7 // 6))  # every seventh shares its moment
        entries.append(log_entry(
            tenant, when, method=method, path=path, status=status,
            outcome="failure" if status >= 400 else "success", resource_type=resource_type,
            resource_id=resource_id, scim_type=_SCIM_TYPES.get(status), user_name=user_name,
            display_name=display_name, external_id=external_id,
            detail="failed" if status >= 400 else None))
    return entries


def store(storage, entries: list[LogEntry]) -> None:
    shuffled = list(entries)
    random.Random(3).shuffle(shuffled)
    storage.append_logs(shuffled[: len(shuffled) // 2])
    for entry in shuffled[len(shuffled) // 2:]:
        storage.append_log(entry)


def reference(entries: list[LogEntry], tenant: str, query: LogQuery) -> list[LogEntry]:
    """What `query_log(tenant, query)` must return, by reading every entry."""
    wanted = words(query.text or "")

    def keep(entry: LogEntry) -> bool:
        identity: list[str] = []
        for value in (entry.user_name, entry.display_name, entry.external_id):
            identity += [word for word in words(value or "") if word not in identity]
        identity = identity[:MAX_WORDS]
        status = str(entry.status)
        return all((
            entry.tenant == tenant,
            query.before is None or entry.id < query.before,
            query.after is None or entry.id > query.after,
            query.since is None or entry.time >= query.since,
            query.until is None or entry.time < query.until,
            not query.failures_only or entry.outcome == "failure",
            query.status is None or (status[0] == query.status[0] if query.status.endswith("xx")
                                     else status == query.status),
            query.method is None or entry.method == query.method,
            query.resource_type is None or entry.resource_type == query.resource_type,
            query.resource_id is None or entry.resource_id == query.resource_id,
            all(any(word.startswith(prefix) for word in identity) for prefix in wanted),
        ))

    return sorted(filter(keep, entries), key=lambda entry: entry.id, reverse=True)[:query.limit]


def _at(minutes: float):
    return LOG_START + timedelta(minutes=minutes)


# Each filter alone, then combined; `limit` small enough to cut most answers short.
QUERIES = {
    "everything": LogQuery(),
    "newest five": LogQuery(limit=5),
    "failures": LogQuery(failures_only=True),
    "status 409": LogQuery(status="409"),
    "status 4xx": LogQuery(status="4xx"),
    "status 2XX": LogQuery(status="2XX"),
    "status 5xx": LogQuery(status="5xx"),
    "status nobody answered": LogQuery(status="302"),
    "method, any case": LogQuery(method="patch"),
    "resource type": LogQuery(resource_type="Group"),
    "resource id": LogQuery(resource_id="r-beta"),
    "unknown resource id": LogQuery(resource_id="r-none"),
    "text, ignoring case": LogQuery(text="ZOË"),
    "text in display name": LogQuery(text="lovelace"),
    "text in external id": LogQuery(text="ext-00"),
    "text with Unicode": LogQuery(text="äöü"),
    "text, a word's prefix": LogQuery(text="lov"),
    "text, mid-word is no match": LogQuery(text="ovelace"),
    "text, two words of one field": LogQuery(text="ada LOVE"),
    "text, words of two fields": LogQuery(text="sales grp"),
    "text, one word missing": LogQuery(text="ada smith"),
    "text, sigma folds alike": LogQuery(text="ΣΊΣΥΦΟς"),
    "text, a hashed identity": LogQuery(text="h:0123456789abcdef"),
    "text, a hash's prefix": LogQuery(text="h:fedc"),
    "text, punctuation only is no condition": LogQuery(text="%@-"),
    "text '%' is no wildcard": LogQuery(text="1%"),
    "text '_' is no wildcard": LogQuery(text="a_b"),
    "text no one has": LogQuery(text="nobody"),
    "text blank is no condition": LogQuery(text="  "),
    "since": LogQuery(since=_at(30)),
    "until": LogQuery(until=_at(30)),
    "since and until": LogQuery(since=_at(20), until=_at(60)),
    "until at a shared moment": LogQuery(until=_at(18)),
    "since at a shared moment": LogQuery(since=_at(7.5)),
    "before and after": LogQuery(limit=50),  # ids filled in by the test
    "failures of one resource": LogQuery(failures_only=True, resource_id="r-alpha"),
    "failed user writes by text": LogQuery(failures_only=True, resource_type="User", text="example.com"),
    "everything at once": LogQuery(limit=3, since=_at(5), until=_at(80), failures_only=True, status="4xx",
                                   method="POST", resource_type="User", text="@"),
    "4xx of a resource in a window": LogQuery(status="4xx", resource_id="r-gamma", since=_at(10), limit=4),
}


# Identities for the word index: pieces joined by punctuation, in any case, with a sigma and
# words longer than MAX_WORD; texts are pieces of those, whole, cut short or cut inside.
_PIECES = ("alice", "Smith", "ALI", "smithson", "Ödön", "ΣΊΣΥΦΟΣ", "σίσυφος", "h", "0123456789abcdef",
           "x" * (MAX_WORD + 3), "İstanbul", "straße", "42", "a")
_PIECE = st.sampled_from(_PIECES)
_SEPARATOR = st.sampled_from([".", " ", "@", "-", "_", "%", "+", ":", "\u00a0"])
_VALUE = st.none() | st.lists(st.tuples(_PIECE, _SEPARATOR), min_size=1, max_size=4).map(
    lambda parts: "".join(piece + separator for piece, separator in parts).strip())
_IDENTITY = st.tuples(_VALUE, _VALUE, _VALUE)


@st.composite
def _search_text(draw) -> str:
    """One to three words of the pieces, each whole, a prefix, or a cut inside (no match)."""
    found = []
    for piece in draw(st.lists(_PIECE, min_size=1, max_size=3)):
        start = draw(st.sampled_from([0, 0, 1]))
        end = draw(st.integers(start + 1, len(piece))) if len(piece) > start else len(piece)
        found.append(draw(st.sampled_from([str.upper, str.lower, str.title]))(piece[start:end]))
    return draw(_SEPARATOR).join(found)


def _word_log(tenant: str, identities: list[tuple]) -> list[LogEntry]:
    return [log_entry(tenant, LOG_START + timedelta(seconds=n), user_name=user_name, display_name=display_name,
                      external_id=external_id) for n, (user_name, display_name, external_id) in enumerate(identities)]


def _matching(entries: list[LogEntry], query: LogQuery) -> list[LogEntry]:
    """`query`'s answer by `LogQuery.matches` over every entry."""
    return sorted((entry for entry in entries if query.matches(entry)), key=lambda entry: entry.id,
                  reverse=True)[:query.limit]


class LogTextSearchContract:
    """`LogQuery.text` from each backend's word index equals `LogQuery.matches` everywhere."""

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(identities=st.lists(_IDENTITY, min_size=1, max_size=12), texts=st.lists(_search_text(), min_size=1,
                                                                                     max_size=4),
           limit=st.integers(1, 5), cut=st.integers(0, 11), keep=st.integers(0, 12))
    def test_text_queries_equal_the_reference(self, scim_storage, identities, texts, limit, cut, keep):
        _require(scim_storage, ProvisioningLogSupport)
        tenant = f"words-{new_id()[:8]}"
        entries = _word_log(tenant, identities)
        store(scim_storage, entries)
        ids = sorted(entry.id for entry in entries)
        for text in texts:
            for query in (LogQuery(text=text), LogQuery(text=text, limit=limit),
                          LogQuery(text=text, before=ids[min(cut, len(ids) - 1)]),
                          LogQuery(text=text, after=ids[min(cut, len(ids) - 1)], limit=limit)):
                assert scim_storage.query_log(tenant, query) == _matching(entries, query), query
        deleted = scim_storage.prune_log(tenant, keep=keep)
        kept = sorted(entries, key=lambda entry: entry.id)[deleted:]
        for text in texts:
            query = LogQuery(text=text)
            assert scim_storage.query_log(tenant, query) == _matching(kept, query), query
        scim_storage.prune_log(tenant, keep=0)

    def test_examples_of_word_prefixes(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        tenant = f"words-{new_id()[:8]}"
        smith, other = _word_log(tenant, [("alice.smith@contoso.com", "Alice Smith", "E-1"),
                                          ("malice@contoso.com", "Malice Smithers", None)])
        store(scim_storage, [smith, other])
        answers = {text: [entry.user_name for entry in scim_storage.query_log(tenant, LogQuery(text=text))]
                   for text in ("smith", "alice smi", "lice", "ALICE", "contoso.com", "smithers", "e-1", "e 1 x")}
        assert answers == {"smith": ["malice@contoso.com", "alice.smith@contoso.com"],
                           "alice smi": ["alice.smith@contoso.com"], "lice": [], "ALICE": ["alice.smith@contoso.com"],
                           "contoso.com": ["malice@contoso.com", "alice.smith@contoso.com"],
                           "smithers": ["malice@contoso.com"], "e-1": ["alice.smith@contoso.com"], "e 1 x": []}

    def test_an_entry_is_found_by_its_first_words_only(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        tenant = f"words-{new_id()[:8]}"
        many = " ".join(f"w{n:02d}" for n in range(MAX_WORDS + 6))
        (entry,) = _word_log(tenant, [(many, None, None)])
        store(scim_storage, [entry])
        assert scim_storage.query_log(tenant, LogQuery(text=f"w{MAX_WORDS - 1:02d}")) == [entry]
        assert scim_storage.query_log(tenant, LogQuery(text=f"w{MAX_WORDS:02d}")) == []
        assert scim_storage.query_log(tenant, LogQuery(text=many.rsplit(" ", 6)[0])) == [entry]
        assert scim_storage.query_log(tenant, LogQuery(text=many.rsplit(" ", 5)[0])) == []

    def test_a_hashed_identity_is_found_by_its_exact_value(self, scim_storage):
        """SCIM_LOG_IDENTITIES=hashed stores "h:<hex>": the words "h" and the hex digits."""
        _require(scim_storage, ProvisioningLogSupport)
        tenant, policy = f"words-{new_id()[:8]}", IdentityPolicy(HASHED, "contract key")
        identities = [policy.apply(Identity(name, f"{name} Person", None)) for name in ("ada@example.com", "grace")]
        ada, grace = _word_log(tenant, [(i.user_name, i.display_name, i.external_id) for i in identities])
        store(scim_storage, [ada, grace])
        for text, expected in (("ADA@example.com", [ada]), ("Grace Person", [grace]), (ada.user_name.upper(), [ada]),
                               ("ada", []), ("h", [grace, ada])):
            query = LogQuery(text=policy.search_term(text) if text != "h" else text)
            assert scim_storage.query_log(tenant, query) == expected, text

    def test_common_and_rare_words_page_alike(self, scim_storage):
        """Many entries share a prefix, few a rarer word: both answers page without gaps."""
        _require(scim_storage, ProvisioningLogSupport)
        tenant = f"words-{new_id()[:8]}"
        entries = _word_log(tenant, [(f"user{n}@example.com", f"User {n}", "rare" if n % 40 == 0 else None)
                                     for n in range(300)])
        store(scim_storage, entries)
        for text in ("user", "example rare", "user1", "u"):
            query, seen = LogQuery(text=text, limit=7), []
            while page := scim_storage.query_log(tenant, query):
                seen += page
                query = replace(query, before=page[-1].id)
            assert seen == _matching(entries, LogQuery(text=text, limit=len(entries))), text


class LogQueryContract(LogTextSearchContract):
    @pytest.mark.parametrize("name", list(QUERIES))
    def test_each_filter_equals_a_full_scan(self, scim_storage, name):
        _require(scim_storage, ProvisioningLogSupport)
        ours, theirs = corpus(TENANT.tenant), corpus(OTHER_TENANT.tenant, seed=8)
        store(scim_storage, ours + theirs)
        query = QUERIES[name]
        if name == "before and after":
            ordered = sorted(entry.id for entry in ours)
            query = replace(query, after=ordered[10], before=ordered[40])
        assert scim_storage.query_log(TENANT.tenant, query) == reference(ours + theirs, TENANT.tenant, query)

    @pytest.mark.parametrize("name", ["failures", "resource id", "text in external id", "status 4xx",
                                      "failed user writes by text", "text, two words of one field"])
    def test_paging_a_filtered_answer_visits_each_match_once(self, scim_storage, name):
        _require(scim_storage, ProvisioningLogSupport)
        ours = corpus(TENANT.tenant)
        store(scim_storage, ours)
        query, seen, pages = replace(QUERIES[name], limit=2), [], 0
        while True:
            page = scim_storage.query_log(TENANT.tenant, query)
            if not page:
                break
            pages += 1
            seen += page
            query = replace(query, before=page[-1].id)
        expected = reference(ours, TENANT.tenant, replace(QUERIES[name], limit=len(ours)))
        assert seen == expected and pages == (len(expected) + 1) // 2

    def test_following_with_after_sees_only_new_entries(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        ours = corpus(TENANT.tenant, count=30)
        store(scim_storage, ours[:20])
        newest = scim_storage.query_log(TENANT.tenant, LogQuery(limit=1))[0].id
        store(scim_storage, ours[20:])
        query = LogQuery(after=newest, failures_only=True, limit=100)
        assert scim_storage.query_log(TENANT.tenant, query) == reference(ours, TENANT.tenant, query)

    def test_a_query_never_crosses_tenants(self, scim_storage):
        _require(scim_storage, ProvisioningLogSupport)
        store(scim_storage, corpus(OTHER_TENANT.tenant))
        for query in (LogQuery(), LogQuery(failures_only=True), LogQuery(resource_id="r-alpha"), LogQuery(text="a")):
            assert scim_storage.query_log(TENANT.tenant, query) == []

