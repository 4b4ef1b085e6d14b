"""The key scheme: every key of a tenant starts with `<prefix>{<tenant>}:`.

The `{tenant}` hash tag puts a tenant's keys in one Redis Cluster slot, so the Lua scripts and
pipelines that touch a resource, its indexes and its memberships are single-slot. The tenant is
percent-encoded so that no tenant name can produce another tenant's keys or split the tag.

Layout below the tenant base (`T` is a resource type name, `<id>` a resource id):

- `r:T:<id>`         hash: `v` version, `c` / `m` created / lastModified (µs since the epoch),
                     `d` data (JSON), `x` / `xm` / `xc` the index entries the resource occupies,
                     `xt` its trigrams (see `indexes.TypeIndexes.data_trigrams`), `xn` the
                     number its trigram sets hold it by,
                     `ms` (groups) the member counter that keeps insertion order
- `u:T:<attr>`       hash: folded unique value -> id (uniqueness and `attr eq` lookups)
- `i:T:<path>:<v>`   set: ids whose attribute `path` holds the folded value `v`
- `o:T:<sort>`       sorted set (all scores 0, ordered by member): `<sort value>\\0\\0<id>`;
                     `O:T:<sort>` the same order descending (see `indexes.sort_entry`)
- `l:T:<path>`       sorted set like `o:`, one entry per value (`indexes.PREFIX_PATHS`);
                     `l:T` string: the prefix indexes' ready marker (see `indexes`)
- `s:T:<path>:<g>`   set: the numbers (`xn`) of the resources whose attribute `path` holds a
                     value with the (lower-cased) trigram `g`
                     (`scimflask.storage.substring.SUBSTRING_INDEXED`);
                     `s:T` string: the trigram indexes' ready marker (see `indexes`)
- `s:#`              hash: resource number -> id, for the trigram sets; field `n` the last
                     number given (numbers are never reused). A number of a few digits instead
                     of a 36-character id makes every set member 3–5 times smaller, and keeps a
                     set of up to `set-max-intset-entries` members (512 by default) an intset
- `gm:<group id>`    hash: member id -> packed `[sequence, type, display]` (group -> members)
- `mg:<member id>`   set: ids of the groups the member belongs to (member -> groups)
- `lg:i`             sorted set (all scores 0): provisioning log entry ids, so by time
- `lg:f`             sorted set (all scores 0): the ids of the entries of failed requests
- `lg:r`             sorted set (all scores 0): `<resource id, percent-encoded>\\0<entry id>`
                     for each entry naming a resource (one resource's entries: one lex range)
- `lg:t`             sorted set: entry id scored by its time (µs), for pruning by age
- `lg:k`             sorted set (all scores 0): `<identity key>\\0<entry id>` for each entry
                     whose identity has words, the key being `LogEntry.identity_hash` (one
                     identity's entries: one lex range)
- `lg:kw`            sorted set (all scores 0): `<word>\\0<identity key>` for each word of each
                     identity that entries name (`LogEntry.words`), so the identities holding a
                     word that starts with a prefix are one lex range (the log's text search)
- `lg:kd`            hash: identity key -> its words, NUL-separated: the identities whose words
                     `lg:kw` holds, and what to remove from it when their last entry goes
- `lg:w`             sorted set (all scores 0): `<word>\\0<entry id>` for each word of an entry
                     stored before `lg:k` (words were kept per entry then), until
                     `rebuild_indexes` moves the entry to `lg:k`
- `lg:e`             hash: entry id -> the entry as JSON
- `lg:hs`            sorted set: the hours (since the epoch) that have log counters, by hour
- `lg:h:<hour>`      hash: the log's counters of that hour (requests, failures, reasons, ...)

Not tenant data, so outside any tenant's tag:
- `<prefix>{tokens}:` tokens (see `RedisStorage.add_token`);
- `<prefix>{tenants}:records` hash: tenant id -> the tenant record as JSON. ONE key for every
  tenant, so in a Cluster all tenant records live in one slot (one node): fine for an admin
  list read rarely, and the reason request paths never read it;
- `<prefix>ctr:<key>:<window start>` rate-limit counters, the counter key percent-encoded.
  Each counter is its own key with no hash tag, so busy counters spread over the Cluster.
  Counter keys of a tenant start with `<tenant>:`, which `delete_tenant` finds by SCAN.

A tenant literally named "tokens" or "tenants" shares its tag with those keys; the suffixes
never overlap, and `delete_tenant` removes only keys of the tenant layout (`TENANT_KINDS`).
"""

from __future__ import annotations

from urllib.parse import quote

DEFAULT_PREFIX = "scim:"
# The first part of every key below a tenant base (what `delete_tenant` may remove).
# None may start like a `{tokens}` key (`t:`, `h`, `z`) or the `{tenants}` one (`records`).
TENANT_KINDS = ("r:", "u:", "i:", "o:", "O:", "l:", "s:", "gm:", "mg:", "lg:")
LOG_IDS, LOG_TIMES, LOG_ENTRIES = "lg:i", "lg:t", "lg:e"
LOG_FAILURES, LOG_RESOURCES, LOG_HOURS, LOG_HOUR = "lg:f", "lg:r", "lg:hs", "lg:h:"
LOG_WORDS = "lg:w"
LOG_IDENTITIES, LOG_IDENTITY_WORDS, LOG_IDENTITY_DATA = "lg:k", "lg:kw", "lg:kd"
_GLOB_SPECIAL = "\\*?[]^"


def tenant_base(prefix: str, tenant: str) -> str:
    """The key prefix every key of `tenant` starts with (hash tag included)."""
    return f"{prefix}{{{quote(tenant, safe='')}}}:"


def token_base(prefix: str) -> str:
    return f"{prefix}{{tokens}}:"


def resource(resource_type: str, id: str) -> str:
    return f"r:{resource_type}:{id}"


def resource_prefix(resource_type: str) -> str:
    return f"r:{resource_type}:"


def unique(resource_type: str, attribute: str) -> str:
    return f"u:{resource_type}:{attribute}"


def equality(resource_type: str, path: str, folded: str) -> str:
    return f"i:{resource_type}:{path}:{folded}"


def ordered(resource_type: str, sort_name: str, descending: bool = False) -> str:
    return f"{'O' if descending else 'o'}:{resource_type}:{sort_name}"


def prefix(resource_type: str, path: str) -> str:
    return f"l:{resource_type}:{path}"


def prefix_ready(resource_type: str) -> str:
    return f"l:{resource_type}"


def trigram(resource_type: str, path: str, gram: str = "") -> str:
    """The trigram set of `gram`; with no `gram`, the prefix every trigram set of `path` shares."""
    return f"s:{resource_type}:{path}:{gram}"


def trigram_ready(resource_type: str) -> str:
    return f"s:{resource_type}"


def trigram_numbers() -> str:
    """The hash from a resource's number (what the trigram sets hold) to its id."""
    return "s:#"


def group_members(group_id: str) -> str:
    return f"gm:{group_id}"


def member_groups(member_id: str) -> str:
    return f"mg:{member_id}"


def tenant_registry(prefix: str) -> str:
    return f"{prefix}{{tenants}}:records"


def counter(prefix: str, key: str, window_start: int) -> str:
    return f"{prefix}ctr:{quote(key, safe='')}:{window_start}"


def tenant_counters_pattern(prefix: str, tenant: str) -> str:
    """SCAN pattern matching every counter key of `tenant` (keys starting `<tenant>:`)."""
    return f"{glob_escape(prefix)}ctr:{quote(tenant + ':', safe='')}*"


def tenant_pattern(prefix: str, tenant: str) -> str:
    """SCAN pattern matching every key below the tenant's base."""
    return glob_escape(tenant_base(prefix, tenant)) + "*"


def glob_escape(text: str) -> str:
    """`text` matched literally by a SCAN MATCH pattern."""
    return "".join("\\" + char if char in _GLOB_SPECIAL else char for char in text)
