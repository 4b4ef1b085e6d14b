"""The SQL data model, shaped for SCIM queries rather than for one resource type.

- `resources`: one row per resource: the canonical `data` as JSON text (what `get` returns) plus
  the columns every request needs without parsing JSON (`version`, timestamps, `display_name`
  for the `display` of a User's `groups`).
- `values`: one row per simple value found in `data` (rebuilt on every write of a resource).
  `attr` is the top-level attribute as `urn:...:User:emails`, `sub` the sub-attribute or '',
  `elem` the element index of a multi-valued attribute, so a value-path filter can demand that
  its conditions hold within ONE element. `key` holds an order-preserving text form (strings,
  lower-cased unless caseExact; dateTimes as UTC text with microseconds), `num` numbers and
  booleans (0/1); `sort_rep` marks the value the reference sort uses (primary, else first
  element). Any filter becomes `id IN (SELECT resource_id FROM values WHERE ...)`, driven by the
  `(tenant, attr, sub, key)` index.
- `uniques`: one row per value of a `uniqueness: server` attribute, keyed by a hash of its
  comparison form; its primary key is what makes two racing creates give one `Conflict`.
- `members`: one row per (group, member), indexed both ways, so membership changes cost the
  size of the change and a User's `groups` is a join.
- `tokens`, and `schema_version` (see migrations.py).
- Since schema version 2, the operating capabilities: `tenants` (one record per tenant),
  `log` (the provisioning log, keyed `(tenant, id)`; ids sort in time order, so paging newest
  first walks the primary key backwards) and `counters` (one row per rate-limit key and fixed
  window, incremented by an upsert; `window_end` lets expired windows be swept by index).
- Since schema version 3, log entries name their target (`user_name`, `display_name`,
  `external_id`, and `search_text`: those lower-cased; the text filter reads the word index) and
  carry the error's `scim_type` apart from its `detail` text, the request id, duration and
  client. The filters that matter most have indexes: failures `(tenant, outcome, id)` and one
  resource's entries `(tenant, resource_id, id)`. The log's hourly counters are rows of `counters` keyed
  `<tenant>:~log:<hour>:<name>` whose `window_end` lies beyond any sweep (see operating.py).
- Since schema version 4, the index that answers `co`/`sw`/`ew` on the substring-indexed
  attributes (substring_schema.py), one kind per database: on PostgreSQL a pg_trgm GIN index
  on `values` (no table); on SQLite `substrings`, one row per indexed `values` row, whose id is
  the rowid of a contentless FTS5 trigram table kept in step by triggers on `values`; on
  MySQL/MariaDB `trigrams`, one row per (resource, indexed attribute, trigram of its values),
  written with the `values` rows (trigram_rows.py). `DIALECT_TABLES` names the tables only one
  kind of database gets.
- Since schema version 6, the words of the log's text search (`scimflask.storage.log_words`)
  are kept per identity, not per entry: `log_identity_words` holds one row per (tenant, word,
  key), and each entry names its identity's key (`log.identity`, indexed with its id). A key
  is the id of the first entry a process stored the identity's words with (`IdentityKeys`), so
  a writer stores an identity's words once (and again after a while) and an entry costs its
  own row only. The primary key `(tenant, word, identity)` makes the keys holding a word that
  starts with a prefix one range (`word LIKE 'w%'` under a binary collation); their entries
  are one range each of `(tenant, identity, id)`. `(tenant, identity, word)` finds the words of
  one key (for a text search walking the log, and for collecting the words of keys pruning
  left without entries).

Every row carries the tenant; every statement filters by it. Table names take a prefix so
several deployments (or test runs) can share one database.

Known limits: numbers are stored as doubles (integers beyond 2**53 compare approximately);
MySQL/MariaDB sort TEXT by its first `max_sort_length` bytes (1024 by default) and index only
the first 255 characters of `key` (longer values still compare exactly, via the row).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    event,
)
from sqlalchemy.dialects import mysql, postgresql

from scimflask.storage.log_words import MAX_WORD

ID = 64          # resource ids are UUIDs; a little room for imported ids
TENANT = 128
ATTR = 255       # "urn:...:User:emails" and the like
KEY_INDEX_PREFIX = 255   # MySQL can index only a prefix of a TEXT column
STAMP = 27       # "2024-05-01T12:00:00.000000Z"
LOG_ID = 64      # "<20-digit time in ns>-<random hex>"
COUNTER_KEY = 255


def _text_binary() -> Text:
    """A TEXT column compared and sorted by code point on every dialect (like Python `str`).

    PostgreSQL's "C" collation and MariaDB's no-pad binary collation give exactly that; SQLite's
    default BINARY collation already does (UTF-8 byte order is code point order).
    """
    return Text().with_variant(Text(collation="C"), "postgresql").with_variant(
        mysql.TEXT(charset="utf8mb4", collation="utf8mb4_nopad_bin"), "mysql", "mariadb"
    )


def _string(length: int) -> String:
    return String(length).with_variant(String(length, collation="C"), "postgresql").with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_nopad_bin"), "mysql", "mariadb"
    )


def _json_text() -> Text:
    return Text().with_variant(mysql.LONGTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb")


@dataclass(frozen=True)
class SqlTables:
    metadata: MetaData
    resources: Table
    values: Table
    uniques: Table
    members: Table
    tokens: Table
    schema_version: Table
    tenants: Table
    log: Table
    counters: Table
    substrings: Table
    trigrams: Table
    identity_words: Table

    def created_on(self, dialect: str) -> list[Table]:
        """The tables a database of `dialect` holds (some exist on one kind only)."""
        family = "mysql" if dialect == "mariadb" else dialect
        return [table for table in self.metadata.sorted_tables
                if DIALECT_TABLES.get(table.name[len(self.prefix):], family) == family]

    @property
    def prefix(self) -> str:
        return self.resources.name[: -len("resources")]


# Tables (by name without the prefix) that only one kind of database holds.
DIALECT_TABLES = {"substrings": "sqlite", "trigrams": "mysql"}
FTS_SUFFIX = "_fts"   # SQLite: the FTS5 table over `substrings` is named `<prefix>substrings_fts`

# MySQL/MariaDB: InnoDB (foreign keys, row locks) and 4-byte UTF-8 for every table.
_MYSQL = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mariadb_engine": "InnoDB",
          "mariadb_charset": "utf8mb4"}


def build_tables(prefix: str = "scim_") -> SqlTables:
    """The table definitions, named with `prefix` (also used for index names)."""
    md = MetaData()
    resources = _resources(md, prefix)
    values, uniques = _data_tables(md, prefix, resources)
    members = _members(md, prefix, resources)
    tokens, schema_version = _access_tables(md, prefix)
    tenants, log, counters = _operating_tables(md, prefix)
    substrings, trigrams = _substring_tables(md, prefix, resources)
    return SqlTables(md, resources, values, uniques, members, tokens, schema_version, tenants, log, counters,
                     substrings, trigrams, _identity_words(md, prefix))


def _resources(md: MetaData, prefix: str) -> Table:
    return Table(
        f"{prefix}resources", md,
        Column("tenant", _string(TENANT), nullable=False),
        Column("id", _string(ID), nullable=False),
        Column("resource_type", _string(64), nullable=False),
        Column("version", Integer, nullable=False),
        Column("created", _string(STAMP), nullable=False),
        Column("created_key", _string(STAMP), nullable=False),   # as SCIM shows it: milliseconds
        Column("last_modified", _string(STAMP), nullable=False),
        Column("display_name", _text_binary(), nullable=True),
        Column("data", _json_text(), nullable=False),
        PrimaryKeyConstraint("tenant", "id", name=f"{prefix}pk_resources"),
        Index(f"{prefix}ix_resources_created", "tenant", "resource_type", "created_key", "id"),
        **_MYSQL,
    )


def _data_tables(md: MetaData, prefix: str, resources: Table) -> tuple[Table, Table]:
    """`values` and `uniques`: the rows built from a resource's data (values.py)."""
    values = Table(
        f"{prefix}values", md,
        Column("tenant", _string(TENANT), nullable=False),
        Column("resource_id", _string(ID), nullable=False),
        Column("attr", _string(ATTR), nullable=False),
        Column("sub", _string(64), nullable=False),
        Column("elem", Integer, nullable=False),
        Column("key", _text_binary(), nullable=True),
        Column("num", Float(precision=53).with_variant(postgresql.DOUBLE_PRECISION(), "postgresql"),
               nullable=True),
        Column("sort_rep", Boolean, nullable=False),
        ForeignKeyConstraint(["tenant", "resource_id"], [resources.c.tenant, resources.c.id],
                             ondelete="CASCADE", name=f"{prefix}fk_values_resource"),
        Index(f"{prefix}ix_values_key", "tenant", "attr", "sub", "key",
              mysql_length={"key": KEY_INDEX_PREFIX}, mariadb_length={"key": KEY_INDEX_PREFIX}),
        Index(f"{prefix}ix_values_num", "tenant", "attr", "sub", "num"),
        # Not led by tenant, so the planner never mistakes it for a (tenant, attr) scan.
        Index(f"{prefix}ix_values_owner", "resource_id", "attr", "elem"),
        # The per-row probe of sortBy (one sort representative per resource and attribute):
        # without it the planner probes by (tenant, attr) and sorting costs O(n^2).
        Index(f"{prefix}ix_values_sort", "resource_id", "attr", "sub", "sort_rep"),
        **_MYSQL,
    )
    uniques = Table(
        f"{prefix}uniques", md,
        Column("tenant", _string(TENANT), nullable=False),
        Column("resource_type", _string(64), nullable=False),
        Column("attr", _string(ATTR), nullable=False),
        Column("digest", _string(64), nullable=False),
        Column("resource_id", _string(ID), nullable=False),
        PrimaryKeyConstraint("tenant", "resource_type", "attr", "digest", name=f"{prefix}pk_uniques"),
        ForeignKeyConstraint(["tenant", "resource_id"], [resources.c.tenant, resources.c.id],
                             ondelete="CASCADE", name=f"{prefix}fk_uniques_resource"),
        Index(f"{prefix}ix_uniques_owner", "resource_id"),
        **_MYSQL,
    )
    return values, uniques


def _members(md: MetaData, prefix: str, resources: Table) -> Table:
    return Table(
        f"{prefix}members", md,
        Column("tenant", _string(TENANT), nullable=False),
        Column("group_id", _string(ID), nullable=False),
        Column("member_id", _string(ID), nullable=False),
        Column("member_type", _string(16), nullable=True),
        Column("display", _text_binary(), nullable=True),
        Column("display_key", _text_binary(), nullable=True),
        PrimaryKeyConstraint("tenant", "group_id", "member_id", name=f"{prefix}pk_members"),
        ForeignKeyConstraint(["tenant", "group_id"], [resources.c.tenant, resources.c.id],
                             ondelete="CASCADE", name=f"{prefix}fk_members_group"),
        Index(f"{prefix}ix_members_member", "tenant", "member_id", "group_id"),
        **_MYSQL,
    )


def _access_tables(md: MetaData, prefix: str) -> tuple[Table, Table]:
    """`tokens` and `schema_version` (migrations.py)."""
    tokens = Table(
        f"{prefix}tokens", md,
        Column("id", _string(ID), nullable=False),
        Column("tenant", _string(TENANT), nullable=False),
        Column("secret_hash", _string(128), nullable=False),
        Column("created", _string(STAMP), nullable=False),
        Column("description", Text, nullable=False),
        Column("last_used", _string(STAMP), nullable=True),
        Column("expires", _string(STAMP), nullable=True),
        PrimaryKeyConstraint("id", name=f"{prefix}pk_tokens"),
        Index(f"{prefix}ix_tokens_hash", "secret_hash", unique=True),
        Index(f"{prefix}ix_tokens_tenant", "tenant", "created"),
        **_MYSQL,
    )
    schema_version = Table(
        f"{prefix}schema_version", md,
        Column("version", Integer, nullable=False),
        Column("applied", _string(STAMP), nullable=False),
        PrimaryKeyConstraint("version", name=f"{prefix}pk_schema_version"),
        **_MYSQL,
    )
    return tokens, schema_version


def log_columns_v3() -> list[Column]:
    """The columns schema version 3 added to `log` (migrations.py adds them to older ones)."""
    return [
        Column("scim_type", _string(64), nullable=True),
        Column("user_name", Text, nullable=True),
        Column("display_name", Text, nullable=True),
        Column("external_id", Text, nullable=True),
        Column("search_text", _text_binary(), nullable=True),
        Column("request_id", _string(128), nullable=True),
        Column("duration_ms", Integer, nullable=True),
        Column("client", _string(16), nullable=True),
        Column("user_agent", Text, nullable=True),
    ]


def _operating_tables(md: MetaData, prefix: str) -> tuple[Table, Table, Table]:
    """`tenants`, `log` and `counters` (schema version 2)."""
    tenants = Table(
        f"{prefix}tenants", md,
        Column("id", _string(TENANT), nullable=False),
        Column("created", _string(STAMP), nullable=False),
        Column("disabled", Boolean, nullable=False),
        Column("description", Text, nullable=False),
        PrimaryKeyConstraint("id", name=f"{prefix}pk_tenants"),
        **_MYSQL,
    )
    log = Table(
        f"{prefix}log", md,
        Column("tenant", _string(TENANT), nullable=False),
        Column("id", _string(LOG_ID), nullable=False),
        Column("time", _string(STAMP), nullable=False),
        Column("method", _string(16), nullable=False),
        Column("path", Text, nullable=False),
        Column("status", Integer, nullable=False),
        Column("outcome", _string(16), nullable=False),
        Column("token_id", _string(ID), nullable=True),
        Column("resource_type", _string(64), nullable=True),
        Column("resource_id", _string(ID), nullable=True),
        Column("changed", _json_text(), nullable=False),
        Column("detail", Text, nullable=True),
        *log_columns_v3(),
        Column("identity", _string(LOG_ID), nullable=True),  # schema version 6: its words' key
        PrimaryKeyConstraint("tenant", "id", name=f"{prefix}pk_log"),
        Index(f"{prefix}ix_log_time", "tenant", "time"),
        Index(f"{prefix}ix_log_outcome", "tenant", "outcome", "id"),
        Index(f"{prefix}ix_log_resource", "tenant", "resource_id", "id"),
        Index(f"{prefix}ix_log_identity", "tenant", "identity", "id"),
        **_MYSQL,
    )
    counters = Table(
        f"{prefix}counters", md,
        Column("key", _string(COUNTER_KEY), nullable=False),
        Column("window_start", BigInteger, nullable=False),
        Column("window_end", BigInteger, nullable=False),
        Column("count", Integer, nullable=False),
        PrimaryKeyConstraint("key", "window_start", name=f"{prefix}pk_counters"),
        Index(f"{prefix}ix_counters_end", "window_end"),
        **_MYSQL,
    )
    return tenants, log, counters


def _identity_words(md: MetaData, prefix: str) -> Table:
    """`log_identity_words` (schema version 6): the word index of the log's text search."""
    return Table(
        f"{prefix}log_identity_words", md,
        Column("tenant", _string(TENANT), nullable=False),
        Column("word", _string(MAX_WORD), nullable=False),
        Column("identity", _string(LOG_ID), nullable=False),
        PrimaryKeyConstraint("tenant", "word", "identity", name=f"{prefix}pk_log_identity_words"),
        Index(f"{prefix}ix_log_identity_words", "tenant", "identity", "word"),
        **_MYSQL,
    )


def _substring_tables(md: MetaData, prefix: str, resources: Table) -> tuple[Table, Table]:
    """`substrings` (SQLite) and `trigrams` (MySQL/MariaDB): see substring_schema.py."""
    substrings = Table(
        f"{prefix}substrings", md,
        Column("id", Integer, primary_key=True),   # the FTS5 rowid: stable, unlike an implicit rowid
        Column("tenant", _string(TENANT), nullable=False),
        Column("resource_id", _string(ID), nullable=False),
        Column("attr", _string(ATTR), nullable=False),
        Column("sub", _string(64), nullable=False),
        Column("elem", Integer, nullable=False),
        # What the triggers on `values` look a row up by when its `values` row goes.
        Index(f"{prefix}ix_substrings_owner", "resource_id", "attr", "sub", "elem"),
    )
    # The FTS5 table is not a SQLAlchemy table: it goes with the table it indexes.
    event.listen(substrings, "after_drop", DDL(f"DROP TABLE IF EXISTS {prefix}substrings{FTS_SUFFIX}"))
    trigrams = Table(
        f"{prefix}trigrams", md,
        Column("tenant", _string(TENANT), nullable=False),
        Column("field", _string(64), nullable=False),      # "User:emails.value" (substring.py)
        Column("trigram", _string(3), nullable=False),
        Column("resource_id", _string(ID), nullable=False),
        # Postings: the resources of a tenant whose field holds a trigram, in id order.
        PrimaryKeyConstraint("tenant", "field", "trigram", "resource_id", name=f"{prefix}pk_trigrams"),
        ForeignKeyConstraint(["tenant", "resource_id"], [resources.c.tenant, resources.c.id],
                             ondelete="CASCADE", name=f"{prefix}fk_trigrams_resource"),
        Index(f"{prefix}ix_trigrams_owner", "tenant", "resource_id", "field"),
        **_MYSQL,
    )
    return substrings, trigrams
