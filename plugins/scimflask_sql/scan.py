"""`Query.max_scan`: a filter that no index narrows is refused (`ScanTooLarge`) before it runs
when the tenant holds more than `max_scan` resources of the type.

What narrows a filter (`narrowing`):
- an `eq` on a `values` row (the `(tenant, attr, sub, key | num)` indexes), on `id` or
  `meta.created` (the resources' indexes), on `members.value` / `groups.value` (the members
  indexes), or one that can match nothing: no count is needed;
- an `sw` (the range of its prefix in the `values` key index), or a `co` / `ew` the substring
  index answers (substring.py): its candidates are counted;
- an `and` with one narrowed part (within the bound when one of them is), an `or` whose parts
  all are (within the bound when their candidates together are), a value filter `a[...]` whose
  filter is.
Anything else (`pr`, ranges, `not`, `ne`, a short or unindexed `co` / `ew`) reads every resource
of the type. Each count is a probe that stops at `max_scan + 1` rows: of the tenant's resources
by the created-order index (index only), or of a substring's candidates from the index side.
A tenant of at most `max_scan` resources is never refused: candidates are its resources.

A substring probe first fetches its candidates' ids, up to `RESOLVE_AT_MOST`. When there are
no more, the leaf is resolved (`FilterCompiler.resolve`): the page and count statements take
the ids instead of reading the index a second time. That halves the index's share of a lookup,
and on MariaDB it also keeps the optimizer from reading the resource row of every posting of
the rarest trigram before the other trigrams are checked (see benchmarks/RESULTS.md, run 18).
More candidates than that are counted in the database, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Integer, bindparam, func, select

from scimflask.filter.ast import SUBSTRING_OPERATORS, And, Compare, Filter, Not, Or, Present, ValuePath
from scimflask.model import Query
from scimflask.schema.catalog import COMPLEX
from scimflask.storage import ScanTooLarge

from .compile import FilterCompiler, literal_key
from .statements import Statements
from .substring import TRIGRAMS, SubstringIndex
from .tables import SqlTables

FREE = ("free",)   # narrowed by an index without a count
# Candidates a probe hands to the page statement as bound parameters (SQLite takes 32,766 in
# one statement); a lookup has a handful.
RESOLVE_AT_MOST = 500


@dataclass(frozen=True)
class _Probe:
    """A substring leaf whose candidates the index gives (`FilterCompiler.indexed`)."""

    attr: str
    sub: str
    name: str
    shape: tuple


def narrowing(compiler: FilterCompiler, node: Filter):
    """How an index narrows `node`: FREE, a `_Probe`, ("all", parts) for a conjunction,
    ("any", parts) for a disjunction; None when nothing does."""
    if isinstance(node, And):
        parts = [narrowing(compiler, part) for part in (node.left, node.right)]
        parts = [part for part in parts if part is not None]
        if FREE in parts:
            return FREE
        return ("all", parts) if parts else None
    if isinstance(node, Or):
        parts = [narrowing(compiler, part) for part in (node.left, node.right)]
        if None in parts:
            return None
        parts = [part for part in parts if part != FREE]
        return ("any", parts) if parts else FREE
    if isinstance(node, ValuePath):
        if compiler.kept_outside_values(node.path) is None and compiler.top_attribute(node.path).type != COMPLEX:
            return FREE  # compiles to false
        return narrowing(compiler, node.filter)
    if isinstance(node, (Not, Present)) or not isinstance(node, Compare):
        return None
    return _leaf(compiler, node)


def _leaf(compiler: FilterCompiler, node: Compare):
    indexed = compiler.indexed(node)
    if indexed is not None:
        return _Probe(*indexed)
    if node.op != "eq" and node.op not in SUBSTRING_OPERATORS:
        return None
    path = node.path
    special = compiler.kept_outside_values(path)
    if special == "column":  # the primary key, the created-order index
        keyed = path.attribute == "id" or path.sub_attribute == "created"
    elif special is not None:  # members / groups: both ways indexed by member and group id
        keyed = path.sub_attribute == "value"
    elif literal_key(compiler.definition(path), node.op, node.value) is None:
        return FREE  # compiles to false
    else:
        keyed = True
    return FREE if keyed and node.op == "eq" else None


class ScanBound:
    """Runs the probes of one query and refuses it past its bound."""

    def __init__(self, tables: SqlTables, statements: Statements, substrings: SubstringIndex) -> None:
        self.tables = tables
        self.statements = statements
        self.substrings = substrings

    def check(self, connection: Connection, compiler: FilterCompiler, query: Query, params: dict) -> None:
        """Raise `ScanTooLarge` when `query.filter` would examine more than `query.max_scan`
        resources no index narrowed (`compiler` has bound the filter; `params` its parameters)."""
        bound = query.max_scan
        if bound is None or query.filter is None:
            return
        plan = narrowing(compiler, query.filter)
        if plan is None:
            found = self._resources(connection, compiler, params, bound)
        else:
            found = self._count(connection, compiler, plan, params, bound)
        if found > bound:
            raise ScanTooLarge(compiler.rt.name, bound)

    def _count(self, connection: Connection, compiler: FilterCompiler, plan, params: dict, budget: int) -> int:
        """The candidates of `plan`, counted up to `budget + 1`."""
        if plan == FREE:
            return 0
        if isinstance(plan, _Probe):
            return self._candidates(connection, compiler, plan, params, budget)
        kind, parts = plan
        if kind == "all":  # the smallest part bounds the conjunction
            counts = (self._count(connection, compiler, part, params, budget) for part in parts)
            return next((count for count in counts if count <= budget), budget + 1)
        total = 0
        for part in parts:
            total += self._count(connection, compiler, part, params, budget - total)
            if total > budget:
                return budget + 1
        return total

    def _resources(self, connection: Connection, compiler: FilterCompiler, params: dict, budget: int) -> int:
        r = self.tables.resources
        statement = self.statements.cached(("scan_bound", compiler.rt.name), lambda: select(func.count()).select_from(
            select(r.c.id).where(r.c.tenant == bindparam("tenant"), r.c.resource_type == compiler.rt.name)
            .limit(bindparam("scan_limit", type_=Integer)).subquery()))
        return connection.execute(statement, {"tenant": params["tenant"], "scan_limit": budget + 1}).scalar_one()

    def _candidates(self, connection: Connection, compiler: FilterCompiler, probe: _Probe, params: dict,
                    budget: int) -> int:
        def distinct():
            candidates = self.substrings.candidates(probe.attr, probe.sub, probe.name, probe.shape)
            if probe.shape[0] != TRIGRAMS:  # one row per value: a multi-valued attribute repeats ids
                candidates = candidates.distinct()
            return candidates.limit(bindparam("scan_limit", type_=Integer))

        fetch = self.statements.cached(("scan_fetch", probe), distinct)
        ids = connection.execute(fetch, {**params, "scan_limit": RESOLVE_AT_MOST + 1}).scalars().all()
        if len(ids) <= RESOLVE_AT_MOST:
            compiler.resolve(probe.name, list(ids), params)
            return len(ids)
        if len(ids) > budget:
            return len(ids)
        count = self.statements.cached(("scan_probe", probe), lambda: select(func.count()).select_from(
            distinct().subquery()))
        return connection.execute(count, {**params, "scan_limit": budget + 1}).scalar_one()
