"""Which `co`/`sw`/`ew` leaves the substring index answers, and the SQL that narrows them.

The attributes are `scimflask.storage.substring.SUBSTRING_INDEXED`; the index itself is one of
three kinds, one per database (substring_schema.py creates it, `SubstringIndex.kind` says which
one the database has, None when it has none):

- `PG_TRGM` (PostgreSQL): a pg_trgm GIN index on `values.key`, partial over the indexed rows.
  The compiled `key LIKE` is the index's own operator; but when the pattern holds several
  words and one with digits, only that word goes in the index condition (`pg_index_part`), and
  the whole LIKE is checked on an expression the index does not cover (`checked_key`). pg_trgm
  takes trigrams only from runs of letters and digits; a pattern without a run of three ASCII
  ones may yield none, and then reads the whole index: such a pattern counts as unindexed.
- `FTS5` (SQLite): candidates are the `substrings` rows of the attribute whose FTS5 trigram
  entry holds up to `MAX_TERMS` of the literal's trigrams, the likely rarest (at least three
  characters; `fts_query`).
- `TRIGRAMS` (MySQL/MariaDB): candidates are the resources whose attribute holds up to
  `MAX_TERMS` of the pattern's trigrams, the likely rarest (`distinctiveness`); the optimizer
  joins their postings rarest first (it estimates each one's rows from the index).

Whatever the database, an `sw` is not read from the substring index but from the range of its
prefix in the `(tenant, attr, sub, key)` index of `values` (`PREFIX`): on every attribute, of
any length, in key order, and exact (the comparison forms sort by code point under the binary
collations of `values.key`).

Candidates are a superset of the matches: the LIKE on the `values` row (the attribute's case
rule, the position of `sw`/`ew`) decides, as for an unindexed attribute. Where the scan bound
has already fetched a leaf's candidates (a few, `scan.RESOLVE_AT_MOST` at most), the page and
count statements take them as a list of ids (`RESOLVED`) instead of reading the index again. Both sides of the
trigram kinds work on comparison forms (values.py), folded by `scimflask.storage.substring.fold`,
so a value holding the pattern always holds the pattern's trigrams.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, Select, and_, bindparam, column, literal_column, select, table

from scimflask.schema.catalog import CORE_GROUP, CORE_USER
from scimflask.storage.substring import MIN_PATTERN, SUBSTRING_INDEXED, fold, pattern_trigrams

from .tables import FTS_SUFFIX, SqlTables
from .values import attr_name

PG_TRGM, FTS5, TRIGRAMS = "pg_trgm", "fts5", "trigrams"
PREFIX = "prefix"  # an `sw`: the range of its prefix in the `values` key index
RESOLVED = "resolved"  # candidates already fetched, bound as the list `<name>_ids`
MAX_TERMS = 4   # trigrams of a pattern the candidates intersect (more add work, not precision)

_SCHEMAS = {"User": CORE_USER, "Group": CORE_GROUP}
_PG_WORD = re.compile(r"[A-Za-z0-9]{3}")
_PG_RUN = re.compile(r"[A-Za-z0-9]+")


def like_pattern(op: str, value: str) -> str:
    """The LIKE pattern of `sw` / `ew` / `co` for `value`, its wildcards escaped with `/`."""
    escaped = value.replace("/", "//").replace("%", "/%").replace("_", "/_")
    if op == "sw":
        return escaped + "%"
    if op == "ew":
        return "%" + escaped
    return "%" + escaped + "%"


def _indexed_rows() -> dict[tuple[str, str], str]:
    rows = {}
    for type_name, paths in SUBSTRING_INDEXED.items():
        for path in paths:
            top, _, sub = path.partition(".")
            rows[(attr_name(_SCHEMAS[type_name], top), sub)] = f"{type_name}:{path}"
    return rows


# (values.attr, values.sub) of every indexed attribute -> its name in `trigrams.field`.
INDEXED: dict[tuple[str, str], str] = _indexed_rows()


def distinctiveness(gram: str) -> int:
    """How rare a trigram is likely to be in identifiers: the separators of names, e-mail
    addresses and ids ('@', '.', '-', ' ') recur in nearly every value, and so do the
    trigrams around them (`@ex`, `.co`); digits (numbers, years) are the rarest."""
    return sum(2 if char.isdigit() else 1 if char.isalnum() else 0 for char in gram)


def pick_terms(grams: list[str]) -> list[str]:
    """Up to `MAX_TERMS` of a pattern's trigrams (`grams`, in pattern order): the most
    distinctive ones, and among equals, spread over the pattern (first, last, evenly between),
    since neighbours overlap and distant ones narrow more. Candidates cost about the rarest
    term's postings (both databases start from it), which at a million users is some thousands
    for a digit trigram and every user for `com`; a term more costs a little, not a read of
    its postings."""
    if len(grams) <= MAX_TERMS:
        return grams
    step = (len(grams) - 1) / (MAX_TERMS - 1)
    spread = [grams[round(i * step)] for i in range(MAX_TERMS)]
    order = {gram: rank for rank, gram in enumerate(spread + [g for g in grams if g not in spread])}
    picked = sorted(grams, key=lambda gram: (-distinctiveness(gram), order[gram]))[:MAX_TERMS]
    return sorted(picked, key=grams.index)


def prefix_upper(literal: str) -> str | None:
    """The least string above every string that starts with `literal`, in code point order:
    `literal` with its last character advanced by one (a final U+10FFFF, which has no
    successor, is dropped first; surrogates, never in a stored value, are skipped); None when
    nothing is above (a literal of U+10FFFF only)."""
    for cut in range(len(literal), 0, -1):
        following = ord(literal[cut - 1]) + 1
        if following <= 0x10FFFF:
            return literal[:cut - 1] + chr(0xE000 if 0xD800 <= following <= 0xDFFF else following)
    return None


def pg_index_part(literal: str) -> str | None:
    """PostgreSQL: the piece of `literal` the GIN scan should read, when that is less than the
    whole; None to read the whole pattern.

    pg_trgm answers a LIKE by intersecting the postings of every trigram of the pattern, and
    at a million users the common words of an e-mail address (`example`, `com`) each hold
    millions of indexed rows: `ew "r12345@example.com"` read them all. When the pattern holds
    several words and one of them (a run of ASCII letters and digits, at least three) holds
    digits, the piece is that word (the one with the most digits, then the longest) with the
    character either side of it (a separator there gives its edge trigrams, as in the whole
    pattern). It is a substring of the literal, so every match holds it; the whole LIKE,
    checked outside the index, decides. Words of letters only are left whole: which of them
    is rare cannot be told from the pattern."""
    spans = [match.span() for match in _PG_RUN.finditer(literal)]
    words = [(start, end) for start, end in spans
             if end - start >= 3 and any(char.isdigit() for char in literal[start:end])]
    if len(spans) < 2 or not words:
        return None
    start, end = max(words, key=lambda span: (sum(char.isdigit() for char in literal[span[0]:span[1]]),
                                              span[1] - span[0]))
    return literal[max(0, start - 1):end + 1]


def pattern_terms(literal: str) -> list[str]:
    """MySQL: the `pick_terms` of the folded trigrams every value holding `literal` holds.
    Empty when too short."""
    folded = fold(literal)
    return pick_terms(sorted(pattern_trigrams(literal) or (), key=folded.index))


def fts_query(literal: str) -> str:
    """FTS5: the AND of the `pick_terms` of `literal`'s trigrams, each taken literally. The
    table holds comparison forms, case-sensitively, so the trigrams are the literal's own
    (folded already where the attribute is not caseExact). Not the phrase of the whole
    literal: a phrase reads the whole postings of every trigram in it (a long `ew` on an
    e-mail address read `com` and `exa`, every user's), an AND skips through them."""
    grams = list(dict.fromkeys(literal[at:at + 3] for at in range(len(literal) - 2)))
    return " AND ".join(fts_phrase(gram) for gram in pick_terms(grams))


def fts_phrase(literal: str) -> str:
    """An FTS5 query matching `literal` as one phrase (its characters taken literally)."""
    return '"' + literal.replace('"', '""') + '"'


class SubstringIndex:
    """The database's substring index (`kind`, set once the schema is known) and the SQL that
    reads it. Bind parameters of a leaf bound as `name`: `<name>_q` (FTS5), `<name>_g<i>`."""

    def __init__(self, tables: SqlTables) -> None:
        self.tables = tables
        self.kind: str | None = None

    def bind(self, attr: str, sub: str, literal: str, name: str, params: dict, op: str = "co") -> tuple | None:
        """For `values.key LIKE` of `op` on (`attr`, `sub`) with comparison form `literal`,
        bound as `name`: add the index's parameters to `params` and return its part of the
        statement shape; None when no index answers it."""
        if op == "sw":
            if not literal:
                return None
            params[f"{name}_lo"] = literal
            upper = prefix_upper(literal)
            if upper is not None:
                params[f"{name}_hi"] = upper
            return (PREFIX, upper is not None)
        if self.kind is None or (attr, sub) not in INDEXED:
            return None
        if self.kind == PG_TRGM:
            if not _PG_WORD.search(literal):
                return None
            part = pg_index_part(literal)
            if part is None:
                return (PG_TRGM,)
            params[f"{name}_i"] = like_pattern("co", part)
            return (PG_TRGM, "part")
        if self.kind == FTS5:
            if len(literal) < MIN_PATTERN:
                return None
            params[f"{name}_q"] = fts_query(literal)
            return (FTS5,)
        terms = pattern_terms(literal)
        if not terms:
            return None
        params.update({f"{name}_g{i}": term for i, term in enumerate(terms)})
        return (TRIGRAMS, len(terms))

    def restriction(self, row, attr: str, sub: str, name: str, shape: tuple) -> ColumnElement | None:
        """What to add to the LIKE on `values` row `row` so that the index drives; None where
        the LIKE is the index's own operator (PostgreSQL, unless `pg_index_part` narrows it)."""
        if shape[0] == RESOLVED:
            return row.c.resource_id.in_(bindparam(f"{name}_ids", expanding=True))
        if shape[0] == PREFIX:
            return _prefix_range(row, name, shape)
        if shape[0] == PG_TRGM:
            return row.c.key.like(bindparam(f"{name}_i"), escape="/") if shape[1:] else None
        return row.c.resource_id.in_(self.candidates(attr, sub, name, shape))

    def checked_key(self, row, shape: tuple | None) -> ColumnElement:
        """The `values.key` the leaf's own LIKE compares: on PostgreSQL, with a piece of the
        pattern in the index condition (`restriction`) or its candidates resolved, an
        expression the index does not cover (`key || ''`), or the planner would put the whole
        pattern's trigrams back in."""
        if shape is not None and self.kind == PG_TRGM and (shape[0] == RESOLVED or shape[0] == PG_TRGM and shape[1:]):
            return row.c.key.concat(literal_column("''"))
        return row.c.key

    def candidates(self, attr: str, sub: str, name: str, shape: tuple) -> Select:
        """The ids (possibly repeated) of the tenant's resources the index narrows the leaf to;
        on PostgreSQL the matches themselves (GIN with recheck)."""
        tenant = bindparam("tenant")
        if shape[0] == PREFIX:
            v = self.tables.values.alias()
            return select(v.c.resource_id).where(v.c.tenant == tenant, v.c.attr == attr, v.c.sub == sub,
                                                 _prefix_range(v, name, shape), v.c.key.like(bindparam(name), escape="/"))
        if shape[0] == PG_TRGM:
            v = self.tables.values.alias()
            pattern = bindparam(f"{name}_i" if shape[1:] else name)
            return select(v.c.resource_id).where(v.c.tenant == tenant, v.c.attr == attr, v.c.sub == sub,
                                                 v.c.key.like(pattern, escape="/"))
        if shape[0] == FTS5:
            s = self.tables.substrings.alias()
            fts = table(self.tables.substrings.name + FTS_SUFFIX, column("rowid"), column("key"))
            matching = select(fts.c.rowid).where(fts.c.key.op("MATCH")(bindparam(f"{name}_q")))
            return select(s.c.resource_id).where(s.c.id.in_(matching), s.c.tenant == tenant,
                                                 s.c.attr == attr, s.c.sub == sub)
        return self._postings(INDEXED[(attr, sub)], name, shape[1])

    def _postings(self, field: str, name: str, count: int) -> Select:
        """Resources of the tenant whose `field` holds each of the `count` trigrams: one
        posting list joined to the others on the primary key."""
        t = self.tables.trigrams
        first = t.alias()
        statement = select(first.c.resource_id).select_from(first)
        for i in range(1, count):
            other = t.alias()
            statement = statement.join(other, (other.c.tenant == first.c.tenant) & (other.c.field == field)
                                       & (other.c.trigram == bindparam(f"{name}_g{i}"))
                                       & (other.c.resource_id == first.c.resource_id))
        return statement.where(first.c.tenant == bindparam("tenant"), first.c.field == field,
                               first.c.trigram == bindparam(f"{name}_g0"))


def _prefix_range(row, name: str, shape: tuple) -> ColumnElement:
    """`row.c.key` within the range of the prefix bound as `<name>_lo` (`PREFIX`)."""
    low = row.c.key >= bindparam(f"{name}_lo")
    return and_(low, row.c.key < bindparam(f"{name}_hi")) if shape[1] else low
