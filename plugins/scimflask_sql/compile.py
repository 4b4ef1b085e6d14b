"""Compile a bound filter AST and a sort into SQLAlchemy Core expressions over `resources`.

Meaning is the reference evaluator's (`scimflask.filter.evaluate`, `scimflask.filter.sort`);
literals are normalised in Python by the same functions that fill the `values` table, and
reach SQL only as bound parameters.

Shapes produced (`r` is the resources table, `v` the values table):
- `path op lit`  → `r.id IN (SELECT v.resource_id FROM v WHERE tenant, attr, sub, key op lit)`:
  "some value satisfies", driven by the `(tenant, attr, sub, key)` index;
- `path ne lit`  → `NOT (path eq lit)` (the evaluator's rule: true when no value equals);
- `sw` → the same, the driving row also within its prefix's range of the key index; `co`/`ew`
  the substring index answers (substring.py) → the same, the driving row also restricted to the
  index's candidates (on PostgreSQL the LIKE, or a piece of it, is what reads the index);
- `attr[f]`      → `r.id IN (SELECT e.resource_id FROM v e WHERE ... )` where each condition of
  `f` is an EXISTS on the same `(resource_id, elem)`, so all hold in ONE element; the most
  selective positive condition of a conjunction (`value eq` before `type eq "work"`) drives `e`
  through the index;
- `members.*` / `groups.*` read the `members` table; `id` and `meta.*` read resource columns;
- a sort → `sort_key`: what a resource sorts by, one `values` row probed per resource
  (paging.py orders pages and places keysets by it).

Statements are cached by *shape* (see `FilterCompiler.bind`): the tenant and every literal are
named bind parameters (`tenant`, `p0`, `p1`, ...), so one built statement serves every request
of the same shape, and SQLAlchemy's compiled cache hits instead of rebuilding expressions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
)

from scimflask.filter.ast import (
    NE,
    SUBSTRING_OPERATORS,
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
)
from scimflask.filter.evaluate import parse_datetime
from scimflask.schema.catalog import (
    BINARY,
    BOOLEAN,
    COMPLEX,
    DATETIME,
    DECIMAL,
    INTEGER,
    REFERENCE,
    STRING,
    Attribute,
    Catalog,
    ResourceType,
)
from scimflask.storage import UnsupportedFilter

from .substring import RESOLVED, SubstringIndex, like_pattern
from .tables import SqlTables
from .values import attr_name, stamp, string_key

_ORDERING = ("eq", "gt", "ge", "lt", "le")
_TENANT = bindparam("tenant")  # every statement's tenant (expressions are immutable: shareable)


def literal_key(definition: Attribute, op: str, value: object) -> tuple[str, object] | None:
    """(column, normalised literal) a comparison reads, or None when it can match nothing."""
    kind = definition.type
    if kind in (STRING, REFERENCE, BINARY):
        return ("key", string_key(value, definition.case_exact)) if isinstance(value, str) else None
    if kind == BOOLEAN:
        return ("num", 1.0 if value else 0.0) if op == "eq" and isinstance(value, bool) else None
    if kind in (INTEGER, DECIMAL):
        if op not in _ORDERING or not isinstance(value, (int, float)):
            return None
        return "num", float(value)
    if kind == DATETIME:
        instant = parse_datetime(value) if op in _ORDERING else None
        return None if instant is None else ("key", stamp(instant))
    return None


def apply_op(column: ColumnElement, op: str, value: object) -> ColumnElement:
    """`column op value`; a bound parameter `value` of `sw`/`ew`/`co` holds the whole
    `like_pattern` already."""
    if op in SUBSTRING_OPERATORS and isinstance(value, ColumnElement):
        return column.like(value, escape="/")
    if op == "eq":
        return column == value
    if op == "gt":
        return column > value
    if op == "ge":
        return column >= value
    if op == "lt":
        return column < value
    if op == "le":
        return column <= value
    if op == "sw":
        return column.startswith(value, autoescape=True)
    if op == "ew":
        return column.endswith(value, autoescape=True)
    if op == "co":
        return column.contains(value, autoescape=True)
    raise UnsupportedFilter(f"Unsupported comparison operator '{op}'.")


def compare(columns: dict[str, ColumnElement], definition: Attribute, op: str, value: object,
            param: str | None = None) -> ColumnElement:
    """The value in `columns` ("key" / "num" → column) satisfies `op value` (not `ne`), as
    `scimflask.filter.evaluate.compare_value` decides. With `param`, the literal is the bound
    parameter of that name (its value computed by `FilterCompiler.bind`)."""
    found = literal_key(definition, op, value)
    if found is None or found[0] not in columns or (op in SUBSTRING_OPERATORS and found[0] != "key"):
        return false()
    column, normalised = found
    return apply_op(columns[column], op, normalised if param is None else bindparam(param))


def _value_condition(row, definition: Attribute, op: str, value: object,
                     param: str | None = None, key: ColumnElement | None = None) -> ColumnElement:
    return compare({"key": row.c.key if key is None else key, "num": row.c.num}, definition, op, value, param)


def _present_condition(row) -> ColumnElement:
    return or_(row.c.key.is_(None), row.c.key != "")


@dataclass(frozen=True)
class _Scalar:
    """A single-valued attribute read from a resource column (`id`, `meta.*`)."""

    expression: ColumnElement | None   # None: the attribute is missing on every resource
    definition: Attribute


class FilterCompiler:
    """Builds the WHERE condition on `tables.resources` for one resource type and base URL.

    The tenant is the bind parameter `tenant`; literals are bind parameters named by `bind`,
    which must see a filter before `condition` compiles it (`condition` calls it if not).
    """

    def __init__(self, tables: SqlTables, catalog: Catalog, rt: ResourceType, tenant: str,
                 base_url: str, substrings: SubstringIndex | None = None) -> None:
        self.t = tables
        self.substrings = substrings
        self.catalog = catalog
        self.rt = rt
        self.tenant_value = tenant
        self.tenant = _TENANT
        self.base_url = base_url
        self.r = tables.resources
        self._slots: dict[int, str] = {}   # id(Compare node) -> its bind parameter
        self._indexed: dict[int, tuple] = {}  # id(Compare node) -> what `indexed` returns
        # Parameters of indexed leaves whose candidates the scan bound fetched (`resolve`).
        self.resolved: set[str] = set()
        self._keep: list = []              # nodes made while compiling (their ids stay unique)

    # -- shapes and parameters ----------------------------------------------------------
    def bind(self, node: Filter) -> tuple[tuple, dict]:
        """(shape, parameters) of `node`. The shape holds everything compilation decides on
        (structure, paths, operators, which column a literal compares with, or that it can
        match nothing); the parameters hold the normalised literals (`p0`, ...) and the
        tenant. Two filters of one shape compile to the same statement."""
        params: dict = {"tenant": self.tenant_value}
        return self._shape(node, params), params

    def _shape(self, node: Filter, params: dict) -> tuple:
        if isinstance(node, (And, Or)):
            return (type(node).__name__, self._shape(node.left, params), self._shape(node.right, params))
        if isinstance(node, Not):
            return ("Not", self._shape(node.expr, params))
        if isinstance(node, ValuePath):
            return ("ValuePath", node.path, self._shape(node.filter, params))
        if isinstance(node, Present):
            return ("Present", node.path)
        if isinstance(node, Compare):
            op = "eq" if node.op == NE else node.op
            try:
                found = literal_key(self.definition(node.path), op, node.value)
            except UnsupportedFilter:  # compilation raises it, if it reaches this leaf
                return ("Compare", node.path, node.op, "invalid")
            if found is None:
                return ("Compare", node.path, node.op, None)
            column, value = found
            substring = op in SUBSTRING_OPERATORS and isinstance(value, str)
            name = self._slots.get(id(node))
            if name is None:  # a node object met twice keeps its parameter: the shape says so
                name = f"p{len(self._slots)}"
                params[name] = like_pattern(op, value) if substring else value
                self._slots[id(node)] = name
                if substring:
                    self._bind_index(node, value, name, params)
            index = self._indexed.get(id(node))
            return ("Compare", node.path, node.op, column, name, index and index[3])
        return ("other", type(node).__name__)

    def _bind_index(self, node: Compare, literal: str, name: str, params: dict) -> None:
        """Note whether the substring index answers `node` (its parameters into `params`)."""
        if self.substrings is None or self.kept_outside_values(node.path) is not None:
            return
        attr = attr_name(node.path.schema, self.top_attribute(node.path).name)
        sub = node.path.sub_attribute or ""
        shape = self.substrings.bind(attr, sub, literal, name, params, node.op)
        if shape is not None:
            self._indexed[id(node)] = (attr, sub, name, shape)

    def indexed(self, node: Compare | Present) -> tuple[str, str, str, tuple] | None:
        """(attr, sub, parameter, index shape) of a leaf the substring index answers, else None
        (known once `bind` has seen the filter)."""
        return self._indexed.get(id(node))

    def resolve(self, name: str, ids: list[str], params: dict) -> None:
        """The candidates of the indexed leaf bound as `name` are `ids`: the statements compiled
        from here on take them (`<name>_ids`) instead of reading the substring index again."""
        params[f"{name}_ids"] = ids
        self.resolved.add(name)

    def _param(self, node: Compare | Present) -> str | None:
        return self._slots.get(id(node))

    def _as_eq(self, node: Compare) -> Compare:
        """`node` with `eq` for `ne`, bound to the same parameter."""
        eq = Compare(node.path, "eq", node.value)
        self._keep.append(eq)
        if id(node) in self._slots:
            self._slots[id(eq)] = self._slots[id(node)]
        return eq

    # -- attributes ---------------------------------------------------------------------
    def top_attribute(self, path: AttrPath) -> Attribute:
        """The top-level attribute `path` names (UnsupportedFilter if the type has none)."""
        attribute = self.catalog.top_level(self.rt, path.schema, path.attribute)
        if attribute is None:
            raise UnsupportedFilter(f"Unknown attribute '{path}'.")
        return attribute

    def definition(self, path: AttrPath) -> Attribute:
        """The attribute or sub-attribute `path` names (UnsupportedFilter if unknown)."""
        top = self.top_attribute(path)
        if path.sub_attribute is None:
            return top
        sub = top.sub_attribute(path.sub_attribute)
        if sub is None:
            raise UnsupportedFilter(f"Unknown attribute '{path}'.")
        return sub

    def _is_core(self, path: AttrPath) -> bool:
        return not self.catalog.is_extension(self.rt, path.schema)

    def kept_outside_values(self, path: AttrPath) -> str | None:
        """'members' / 'groups' / 'column' for attributes kept outside `values`, else None."""
        if not self._is_core(path):
            return None
        if path.attribute in ("members", "groups"):
            return path.attribute
        if path.attribute in ("id", "meta"):
            return "column"
        return None

    def scalar(self, path: AttrPath) -> _Scalar:
        """Column expression of `id` and `meta.*` (as the document shows them)."""
        definition = self.definition(path)
        r = self.r
        if path.attribute == "id":
            return _Scalar(r.c.id, definition)
        sub = path.sub_attribute
        if sub == "created":
            return _Scalar(r.c.created_key, definition)
        if sub == "lastModified":
            return _Scalar(func.substr(r.c.last_modified, 1, 23) + "000Z", definition)
        if sub == "resourceType":
            return _Scalar(literal(self.rt.name, String), definition)
        if sub == "version":
            return _Scalar(literal('W/"', String) + cast(r.c.version, String) + '"', definition)
        if sub == "location" and self.base_url:
            return _Scalar(literal(self.rt.location(self.base_url, ""), String) + r.c.id, definition)
        return _Scalar(None, definition)

    # -- filters ------------------------------------------------------------------------
    def condition(self, node: Filter) -> ColumnElement:
        if isinstance(node, And):
            return and_(self.condition(node.left), self.condition(node.right))
        if isinstance(node, Or):
            return or_(self.condition(node.left), self.condition(node.right))
        if isinstance(node, Not):
            return not_(self.condition(node.expr))
        if isinstance(node, Compare) and node.op == NE:
            return not_(self.condition(self._as_eq(node)))
        if isinstance(node, ValuePath):
            return self._value_path(node)
        if isinstance(node, (Compare, Present)):
            return self._leaf(node)
        raise UnsupportedFilter(f"Unsupported filter node {type(node).__name__}.")

    def _leaf(self, node: Compare | Present) -> ColumnElement:
        special = self.kept_outside_values(node.path)
        if special == "column":
            return self._scalar_leaf(node)
        if special == "members":
            return self._member_leaf(node)
        if special == "groups":
            return self._group_leaf(node)
        v = self.t.values.alias("v")
        top = self.top_attribute(node.path)
        wheres = [v.c.tenant == self.tenant, v.c.attr == attr_name(node.path.schema, top.name)]
        if node.path.sub_attribute is not None:
            wheres.append(v.c.sub == node.path.sub_attribute)
        elif top.type != COMPLEX:
            wheres.append(v.c.sub == "")
        wheres.append(self._row_condition(v, node, driving=True))
        return self.r.c.id.in_(select(v.c.resource_id).where(*wheres))

    def _row_condition(self, v, node: Compare | Present, *, driving: bool = False) -> ColumnElement:
        """`node` holds for the `values` row `v`. `driving`: `v` is what the subquery reads
        first, so a substring the index answers gets the index's narrowing too."""
        if isinstance(node, Present):
            return _present_condition(v)
        index = self._indexed.get(id(node)) if driving else None
        if index is not None and index[2] in self.resolved:
            index = (*index[:3], (RESOLVED,))
        key = None if index is None else self.substrings.checked_key(v, index[3])
        condition = _value_condition(v, self.definition(node.path), node.op, node.value, self._param(node), key)
        restriction = None if index is None else self.substrings.restriction(v, *index)
        return condition if restriction is None else and_(condition, restriction)

    def _scalar_leaf(self, node: Compare | Present) -> ColumnElement:
        scalar = self.scalar(node.path)
        if scalar.definition.type == COMPLEX:  # `meta pr` / `meta eq x`
            return true() if isinstance(node, Present) else false()
        if scalar.expression is None:
            return false()
        if isinstance(node, Present):
            return scalar.expression != ""
        return compare({"key": scalar.expression}, scalar.definition, node.op, node.value, self._param(node))

    # -- members / groups ---------------------------------------------------------------
    def _endpoint_of(self, type_name: ColumnElement) -> ColumnElement:
        """The URL prefix of resources of the type `type_name` names, as `$ref`s spell it."""
        return case({rt.name: literal(rt.location(self.base_url, ""), String) for rt in self.catalog.resource_types},
                    value=type_name, else_=literal(f"{self.base_url}/", String))

    def _member_columns(self, m) -> dict[str, tuple[ColumnElement, bool]]:
        """members' sub-attributes: (column holding the comparison form, may be missing)."""
        ref = (self._endpoint_of(m.c.member_type) + m.c.member_id if self.base_url else null())
        return {
            "value": m.c.member_id,
            "type": func.lower(m.c.member_type),
            "display": m.c.display_key,
            "$ref": ref,
        }

    def _element_sub_condition(self, columns: dict, path: AttrPath, node: Compare | Present) -> ColumnElement:
        sub = path.sub_attribute
        if sub is None:  # the whole element: present always; compared never (it is complex)
            return true() if isinstance(node, Present) else false()
        column = columns[sub]
        if isinstance(node, Present):
            return and_(column.is_not(None), column != "")
        definition = self.definition(path)
        return and_(column.is_not(None), compare({"key": column}, definition, node.op, node.value,
                                                 self._param(node)))

    def _member_element(self, m, node: Filter) -> ColumnElement:
        return self._element_tree(node, lambda leaf: self._element_sub_condition(
            self._member_columns(m), leaf.path, leaf))

    def _member_leaf(self, node: Compare | Present) -> ColumnElement:
        m = self.t.members.alias("m")
        return self.r.c.id.in_(select(m.c.group_id).where(
            m.c.tenant == self.tenant, self._member_element(m, node)))

    def _group_columns(self, m) -> dict:
        g = self.t.values.alias("gv")
        display = select(g.c.key).where(
            g.c.tenant == m.c.tenant, g.c.resource_id == m.c.group_id,
            g.c.attr == attr_name(_core_group(self.catalog), "displayName"), g.c.sub == "",
        ).scalar_subquery()
        return {
            "value": m.c.group_id,
            "display": display,
            "type": literal("direct", String),
            "$ref": (literal(self.catalog.resource_type("Group").location(self.base_url, ""), String) + m.c.group_id
                     if self.base_url else null()),
        }

    def _group_element(self, m, node: Filter) -> ColumnElement:
        return self._element_tree(node, lambda leaf: self._element_sub_condition(
            self._group_columns(m), leaf.path, leaf))

    def _group_leaf(self, node: Compare | Present) -> ColumnElement:
        m = self.t.members.alias("m")
        return self.r.c.id.in_(select(m.c.member_id).where(
            m.c.tenant == self.tenant, self._group_element(m, node)))

    # -- value paths --------------------------------------------------------------------
    def _element_tree(self, node: Filter, leaf: Callable[[Compare | Present], ColumnElement]) -> ColumnElement:
        if isinstance(node, And):
            return and_(self._element_tree(node.left, leaf), self._element_tree(node.right, leaf))
        if isinstance(node, Or):
            return or_(self._element_tree(node.left, leaf), self._element_tree(node.right, leaf))
        if isinstance(node, Not):
            return not_(self._element_tree(node.expr, leaf))
        if isinstance(node, Compare) and node.op == NE:
            return not_(self._element_tree(self._as_eq(node), leaf))
        if isinstance(node, (Compare, Present)):
            return leaf(node)
        raise UnsupportedFilter("A value filter cannot contain another value filter.")

    def _value_path(self, node: ValuePath) -> ColumnElement:
        top = self.top_attribute(node.path)
        special = self.kept_outside_values(node.path)
        if special == "column":  # `meta[...]`: the one element is the resource itself
            return self.condition(node.filter)
        if special == "members":
            m = self.t.members.alias("m")
            return self.r.c.id.in_(select(m.c.group_id).where(
                m.c.tenant == self.tenant, self._member_element(m, node.filter)))
        if special == "groups":
            m = self.t.members.alias("m")
            return self.r.c.id.in_(select(m.c.member_id).where(
                m.c.tenant == self.tenant, self._group_element(m, node.filter)))
        if top.type != COMPLEX:
            return false()
        attr = attr_name(node.path.schema, top.name)
        driver, rest = _split_driver(node.filter, self._selectivity)
        e = self.t.values.alias("e")
        wheres = [e.c.tenant == self.tenant, e.c.attr == attr]
        if driver is not None:
            wheres.append(e.c.sub == (driver.path.sub_attribute or ""))
            wheres.append(self._row_condition(e, driver, driving=True))
        if rest is not None:
            wheres.append(self._element_tree(rest, lambda leaf: self._in_element(e, attr, leaf)))
        return self.r.c.id.in_(select(e.c.resource_id).where(*wheres))

    def _selectivity(self, leaf: Compare | Present) -> int:
        """How few rows `leaf` is expected to match (higher: fewer), to pick the driving row.

        `eq` on a free-form sub-attribute (`value`) names one element; `eq` on one with
        canonical values (`type eq "work"`) or a boolean one matches nearly every resource; a range or
        substring comparison sits between; `pr` matches everything.
        """
        if isinstance(leaf, Present):
            return 0
        if leaf.op != "eq":
            return 2
        definition = self.definition(leaf.path)
        return 1 if definition.canonical_values or definition.type == BOOLEAN else 3

    def _in_element(self, e, attr: str, leaf: Compare | Present) -> ColumnElement:
        """Some value of the same element as row `e` satisfies `leaf`."""
        if leaf.path.sub_attribute is None:
            return true() if isinstance(leaf, Present) else false()
        v = self.t.values.alias()
        return exists().where(
            v.c.tenant == e.c.tenant, v.c.resource_id == e.c.resource_id, v.c.attr == attr,
            v.c.elem == e.c.elem, v.c.sub == leaf.path.sub_attribute, self._row_condition(v, leaf),
        )


def _conjuncts(node: Filter) -> list[Filter]:
    if isinstance(node, And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _split_driver(node: Filter, selectivity: Callable[[Compare | Present], int]
                  ) -> tuple[Compare | Present | None, Filter | None]:
    """The most selective positive leaf of the conjunction `node` (by `selectivity`, the first
    of equals) to drive the element scan, and the conjunction of the rest."""
    parts = _conjuncts(node)
    candidates = [p for p in parts if isinstance(p, (Compare, Present)) and p.path.sub_attribute
                  and not (isinstance(p, Compare) and p.op == NE)]
    if not candidates:
        return None, node
    driver = max(candidates, key=selectivity)  # max keeps the first of equal ranks
    rest = [p for p in parts if p is not driver]
    combined: Filter | None = None
    for part in rest:
        combined = part if combined is None else And(combined, part)
    return driver, combined


def _core_group(catalog: Catalog) -> str:
    return catalog.resource_type("Group").schema


# -- sorting ---------------------------------------------------------------------------------
def sort_key(compiler: FilterCompiler, path: AttrPath) -> ColumnElement:
    """The value resources of `compiler` sort by for `path` (reference `sort_value`); NULL
    where it is missing. paging.py orders pages and keysets by it."""
    r = compiler.r
    definition = compiler.definition(path)
    special = compiler.kept_outside_values(path)
    if definition.type == COMPLEX:
        return null()
    if special == "column":
        expression = compiler.scalar(path).expression
        return expression if expression is not None else null()
    if special in ("members", "groups"):
        return _first_element_key(compiler, special, path)
    top = compiler.top_attribute(path)
    s = compiler.t.values.alias("s")
    column = s.c.num if definition.type in (BOOLEAN, INTEGER, DECIMAL) else s.c.key
    # A correlated subquery, not a join: it is always an index probe per matching row, whatever
    # the planner believes about the size of a young tenant.
    return select(column).where(
        s.c.resource_id == r.c.id, s.c.tenant == r.c.tenant, s.c.attr == attr_name(path.schema, top.name),
        s.c.sub == (path.sub_attribute or ""), s.c.sort_rep == true(),
    ).limit(1).scalar_subquery()


def _first_element_key(compiler: FilterCompiler, special: str, path: AttrPath) -> ColumnElement:
    """Sort value of `members.x` / `groups.x`: the first element's (elements come in id order)."""
    m = compiler.t.members.alias("sm")
    r = compiler.r
    if special == "members":
        columns = compiler._member_columns(m)
        owner, element_id = m.c.group_id, m.c.member_id
    else:
        columns = compiler._group_columns(m)
        owner, element_id = m.c.member_id, m.c.group_id
    column = columns[path.sub_attribute]
    return (select(column).where(m.c.tenant == r.c.tenant, owner == r.c.id)
            .order_by(element_id).limit(1).scalar_subquery())
