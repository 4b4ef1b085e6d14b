"""The PATCH engine (RFC 7644 §3.5.2): request body -> operations -> new resource state.

Pure functions, independent of storage and HTTP:

- `parse_patch_request` checks the PatchOp message and binds every path against the catalog.
  A path-less `add`/`replace` value, or a value whose path is a schema URN, is split into one
  operation per attribute.
- `apply_patch` applies the operations in order to a copy of a resource, all or nothing, and
  returns the new attribute document plus Group membership *deltas*, so that adding one member
  to a 100k-member group never loads or rewrites the other 99,999.

Errors: a path that is malformed, or names a schema or attribute the resource type does not
have, is invalidPath; a member of a value object that is no attribute is invalidValue (the
value is at fault, not the path); `remove` without a path is noTarget (§3.5.2.2). Message keys
(`Operations`, `op`, `path`, `value`) match case-insensitively, as attribute names do (RFC 7643
§2.1). A `schemas` member inside a value object is ignored: it restates the schema the value
belongs to, and client libraries serialise extension objects with it. Every other departure
from the RFC is a tolerance of `scimflask.schema.tolerances`, honoured only while the
operation's `ValueRules` allow it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import InvalidPath, InvalidSyntax, InvalidValue, Mutability, NoTarget
from ..filter import parse_path
from ..filter.ast import AttrPath, Filter
from ..filter.cache import parse_path_cached
from ..filter.evaluate import element_matches
from ..filter.path import PatchPath
from ..model import Change, Member, Resource, copy_json
from ..passwords import hash_password
from ..schema.catalog import (
    CORE_GROUP,
    READ_ONLY,
    WRITE_ONLY,
    Attribute,
    Catalog,
    ResourceType,
)
from ..schema.coerce import DEFAULT_RULES, ValueRules, coerce_attribute_value, too_many_values
from ..schema.tolerances import (
    ABSENT_MEMBER_REMOVAL,
    EXTENSION_ATTRIBUTE_WITHOUT_URN,
    MEMBERS_REMOVE_BY_VALUE,
    PATCH_OP_CASE,
    PATHLESS_KEYS_AS_PATHS,
    RESTATED_ID,
)
from .messages import PATCH_OP
from .patch_document import ADD, REMOVE, REPLACE, Target, apply_to_container
from .patch_members import (
    MEMBERS,
    Membership,
    MembersRequired,
    member_ids_of_filter,
    members_from_value,
)

OPERATIONS = (ADD, REPLACE, REMOVE)
SCHEMAS = "schemas"

__all__ = [
    "MembersRequired", "PatchOperation", "PatchResult", "apply_patch", "parse_patch_request",
]


@dataclass(frozen=True)
class PatchOperation:
    """One operation. `path` is None only for a path-less add/replace (value is an object).

    `rules` are the tolerances and bounds its value is read with (the app's, for a request).
    """

    op: str
    path: PatchPath | None
    value: object = None
    rules: ValueRules = field(default=DEFAULT_RULES, compare=False)


@dataclass
class PatchResult:
    """What a PATCH does to a resource.

    `data`: the new attribute document (shape of `Resource.data`). Membership comes as deltas
    (`add_members`, `remove_members`) or, after a replace or remove-all, as the complete list
    (`replace_members`). `changed`: canonical top-level names whose value changed, extension
    attributes as `urn:...:name`, and `members` when membership may have changed.
    """

    data: dict
    add_members: list[Member]
    remove_members: list[str]
    replace_members: list[Member] | None
    changed: tuple[str, ...]

    def to_change(self) -> Change:
        data_changed = any(name != MEMBERS for name in self.changed)
        return Change(
            data=self.data if data_changed else None,
            add_members=list(self.add_members),
            remove_members=list(self.remove_members),
            replace_members=None if self.replace_members is None else list(self.replace_members),
        )


# -- parsing ------------------------------------------------------------------------------

def parse_patch_request(body: object, catalog: Catalog, resource_type: ResourceType | str, *,
                        max_operations: int = 1000,
                        rules: ValueRules = DEFAULT_RULES) -> list[PatchOperation]:
    """The operations of a PATCH body, validated and bound; raises a `ScimError` subclass."""
    rt = _resource_type(catalog, resource_type)
    if not isinstance(body, dict):
        raise InvalidSyntax("The PATCH body must be a JSON object.")
    schemas = _member(body, "schemas")
    if not isinstance(schemas, list) or not any(
            isinstance(s, str) and s.lower() == PATCH_OP.lower() for s in schemas):
        raise InvalidSyntax(f"The PATCH body must list '{PATCH_OP}' in 'schemas'.")
    raw_operations = _member(body, "Operations")
    if not isinstance(raw_operations, list) or not raw_operations:
        raise InvalidSyntax("'Operations' must be a non-empty array.")
    if len(raw_operations) > max_operations:
        raise InvalidValue(f"A PATCH request may carry at most {max_operations} operations.")
    binder = _Binder(catalog, rt, rules)
    operations: list[PatchOperation] = []
    for number, raw in enumerate(raw_operations, start=1):
        operations.extend(binder.operation(raw, number))
    return operations


def _member(obj: dict, name: str) -> object:
    """`obj[name]` with the key matched case-insensitively ("Operations", "operations")."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key, item in obj.items():
        if isinstance(key, str) and key.lower() == lowered:
            return item
    return None


class _Binder:
    """Turns raw operations into bound `PatchOperation`s for one resource type and rule set."""

    def __init__(self, catalog: Catalog, rt: ResourceType, rules: ValueRules) -> None:
        self.catalog = catalog
        self.rt = rt
        self.rules = rules

    def operation(self, raw: object, number: int) -> list[PatchOperation]:
        if not isinstance(raw, dict):
            raise InvalidSyntax(f"Operation {number} must be an object.")
        op = _member(raw, "op")
        if not isinstance(op, str) or op.lower() not in OPERATIONS:
            raise InvalidSyntax(f"Operation {number}: 'op' must be 'add', 'replace' or 'remove'.")
        if op not in OPERATIONS and not self.rules.allows(PATCH_OP_CASE):
            raise InvalidSyntax(f"Operation {number}: 'op' must be 'add', 'replace' or 'remove' in "
                                f"lower case (RFC 7644 §3.5.2), not {op!r}.")
        op = op.lower()
        path = _member(raw, "path")
        if path is not None and (not isinstance(path, str) or not path.strip()):
            raise InvalidPath(f"Operation {number}: 'path' must be a non-empty string.")
        value = _member(raw, "value")
        if op == REMOVE:
            if path is None:
                raise NoTarget(f"Operation {number}: 'remove' needs a 'path'.")
            return self.remove(path.strip(), value, number)
        if not any(isinstance(k, str) and k.lower() == "value" for k in raw):
            raise InvalidSyntax(f"Operation {number}: '{op}' needs a 'value'.")
        if path is None:
            return self.pathless(op, value, number)
        urn = self.schema_named(path.strip())
        if urn is not None:
            return self.schema_object(op, urn, value, number)
        return [PatchOperation(op, self.bind(path.strip()), value, self.rules)]

    def remove(self, text: str, value: object, number: int) -> list[PatchOperation]:
        urn = self.schema_named(text)
        if urn == self.rt.schema:
            raise InvalidPath(f"Operation {number}: '{text}': the core schema cannot be removed.")
        path = None if urn is not None else self.bind(text)
        if value is not None and not (path is not None and self.is_all_members(path)
                                      and self.rules.allows(MEMBERS_REMOVE_BY_VALUE)):
            raise InvalidValue(f"Operation {number}: 'remove' takes no 'value' (RFC 7644 §3.5.2.2); "
                               "select the values to remove with a filter in the path.")
        if path is not None:
            return [PatchOperation(REMOVE, path, value, self.rules)]
        return [PatchOperation(REMOVE, PatchPath(AttrPath(urn, attr.name)), None, self.rules)
                for attr in self.catalog.attributes(self.rt, urn) if attr.mutability != READ_ONLY]

    def pathless(self, op: str, value: object, number: int) -> list[PatchOperation]:
        """RFC 7644 §3.5.2.1/3: without a path the value is a set of attributes; an extension
        URN key holds that extension's attributes."""
        if not isinstance(value, dict):
            raise InvalidValue(f"Operation {number}: '{op}' without a 'path' needs an object of "
                               "attributes as 'value'.")
        operations: list[PatchOperation] = []
        for key, item in value.items():
            if key.lower() == SCHEMAS:
                continue
            urn = self.schema_named(key)
            if urn is not None:
                operations.extend(self.schema_object(op, urn, item, number))
            else:
                operations.append(PatchOperation(op, self.value_key(key, number), item, self.rules))
        return operations

    def value_key(self, key: str, number: int) -> PatchPath:
        """The attribute a key of a path-less value names; a path under `pathless-keys-as-paths`."""
        attr = self.catalog.top_level(self.rt, self.rt.schema, key)
        if attr is not None:
            return PatchPath(AttrPath(self.rt.schema, attr.name))
        if self.rules.allows(PATHLESS_KEYS_AS_PATHS):
            try:
                return self.bind(key)
            except InvalidPath:
                pass
        raise InvalidValue(f"Operation {number}: the value has a member '{key}', which is not an "
                           f"attribute of {self.rt.name}.")

    def schema_object(self, op: str, urn: str, value: object, number: int) -> list[PatchOperation]:
        """A value holding attributes of schema `urn` (its `schemas` member is ignored)."""
        if not isinstance(value, dict):
            raise InvalidValue(f"Operation {number}: the value of '{urn}' must be an object of "
                               "that schema's attributes.")
        operations = []
        for name, item in value.items():
            if name.lower() == SCHEMAS:
                continue
            attr = self.catalog.top_level(self.rt, urn, name)
            if attr is None:
                raise InvalidValue(f"Operation {number}: the value of '{urn}' has a member '{name}', "
                                   "which is not an attribute of that schema.")
            operations.append(PatchOperation(op, PatchPath(AttrPath(urn, attr.name)), item, self.rules))
        return operations

    def bind(self, text: str) -> PatchPath:
        """`parse_path`, with a clearer error for an unknown schema URN, and extension
        attributes named without their URN under `extension-attribute-without-urn`."""
        try:
            return parse_path_cached(text, self.catalog, self.rt)
        except InvalidPath:
            lowered = text.lower()
            if lowered.startswith("urn:"):
                if not any(lowered.startswith(urn.lower() + ":") for urn in self.rt.schema_ids):
                    raise InvalidPath(f"Invalid path '{text}': its URN names no schema of resource "
                                      f"type {self.rt.name}.") from None
                raise
            if not self.rules.allows(EXTENSION_ATTRIBUTE_WITHOUT_URN):
                raise
            name = re.split(r"[.\[]", text, maxsplit=1)[0]
            owners = [urn for urn in self.rt.schema_ids[1:] if self.catalog.top_level(self.rt, urn, name)]
            if self.catalog.top_level(self.rt, self.rt.schema, name) is not None or len(owners) != 1:
                raise
            return parse_path(f"{owners[0]}:{text}", self.catalog, self.rt)

    def schema_named(self, text: str) -> str | None:
        """The canonical schema id of the resource type that `text` is (case-insensitively)."""
        lowered = text.lower()
        return next((urn for urn in self.rt.schema_ids if urn.lower() == lowered), None)

    def is_all_members(self, path: PatchPath) -> bool:
        return (path.path.schema == CORE_GROUP and path.path.attribute == MEMBERS
                and path.path.sub_attribute is None and path.filter is None)


def _resource_type(catalog: Catalog, resource_type: ResourceType | str) -> ResourceType:
    if isinstance(resource_type, ResourceType):
        return resource_type
    return catalog.resource_type(resource_type)


# -- applying -----------------------------------------------------------------------------

def apply_patch(resource: Resource, operations: list[PatchOperation], catalog: Catalog,
                resource_type: ResourceType | str) -> PatchResult:
    """Apply `operations` in order to a copy of `resource` (RFC 7644 §3.5.2: all or nothing).

    `resource` is never modified. Raises a `ScimError` subclass for the first operation that
    fails, or `MembersRequired` when an operation must inspect Group members that
    `resource.members` does not hold (load them and call again). The operations of one
    request share their `rules`; the multi-value bound of the first one is checked at the end.
    """
    rt = _resource_type(catalog, resource_type)
    rules = operations[0].rules if operations else DEFAULT_RULES
    engine = _Engine(resource, catalog, rt, rules)
    for number, operation in enumerate(operations, start=1):
        if operation.path is None:
            binder = _Binder(catalog, rt, operation.rules)
            for split in binder.pathless(operation.op, operation.value, number):
                engine.apply(split)
        else:
            engine.apply(operation)
    return engine.result()


class _Engine:
    """The working state of one `apply_patch` call."""

    def __init__(self, resource: Resource, catalog: Catalog, rt: ResourceType,
                 rules: ValueRules) -> None:
        self.resource = resource
        self.catalog = catalog
        self.rt = rt
        self.rules = rules
        self.data = copy_json(resource.data)
        self.membership = Membership(resource.members)
        self.touched: dict[tuple[str | None, str], None] = {}  # (extension URN, attribute)

    def matches(self, expression: Filter, element: dict) -> bool:
        return element_matches(expression, element, self.rt, self.catalog)

    def apply(self, operation: PatchOperation) -> None:
        assert operation.path is not None
        target_path = operation.path.path
        attr = self.catalog.top_level(self.rt, target_path.schema, target_path.attribute)
        sub = None
        if attr is not None and target_path.sub_attribute is not None:
            sub = attr.sub_attribute(target_path.sub_attribute)
        if attr is None or (target_path.sub_attribute is not None and sub is None):
            raise InvalidPath(f"'{target_path}' is not an attribute of {self.rt.name}.")
        target = Target(attr, sub, operation.path.filter, _label(operation.path, self.rt))
        value, rules = operation.value, operation.rules
        if (sub or attr).mutability == READ_ONLY or attr.mutability == READ_ONLY:
            if self._restates_id(operation.op, target, value) and rules.allows(RESTATED_ID):
                return
            raise Mutability(f"Attribute '{target.label}' is readOnly.")
        if attr.mutability == WRITE_ONLY and attr.name == "password" and operation.op != REMOVE:
            value = _hashed_password(attr, value, target.label, rules)
        if attr.name == MEMBERS and target_path.schema == CORE_GROUP:
            self._apply_members(operation.op, target, value, rules)
            self.touched[(None, MEMBERS)] = None
            return
        extension = target_path.schema if target_path.schema != self.rt.schema else None
        container = self.data if extension is None else self.data.setdefault(extension, {})
        apply_to_container(container, operation.op, target, value, self.matches, rules)
        if extension is not None and not container:
            del self.data[extension]
        self.touched[(extension, attr.name)] = None

    def _restates_id(self, op: str, target: Target, value: object) -> bool:
        """Okta sends the group's own id inside a path-less replace; that changes nothing."""
        return target.attribute.name == "id" and op != REMOVE and value == self.resource.id

    def _apply_members(self, op: str, target: Target, value: object, rules: ValueRules) -> None:
        """Delta forms need no member list; the rest work on the loaded one."""
        whole = target.filter is None and target.sub is None
        if whole and op == ADD:
            self.membership.add(members_from_value(target.attribute, value, rules))
        elif whole and op == REPLACE:
            self.membership.replace(members_from_value(target.attribute, value, rules))
        elif whole and value is None:
            self.membership.replace([])
        elif whole:  # remove with a value array (`members-remove-by-value`, checked when parsed)
            self.membership.remove([m.value for m in members_from_value(target.attribute, value, rules)])
        elif op == REMOVE and target.sub is None and rules.allows(ABSENT_MEMBER_REMOVAL) and (
                ids := member_ids_of_filter(target.filter)) is not None:
            self.membership.remove(ids)
        else:
            scratch = {MEMBERS: self.membership.elements()}
            apply_to_container(scratch, op, target, value, self.matches, rules)
            self.membership.set_elements(scratch.get(MEMBERS, []))

    def result(self) -> PatchResult:
        self._check_required()
        self._check_bounds()
        add_members, remove_members, replace_members = self.membership.result()
        membership_changed = bool(add_members or remove_members) or replace_members is not None
        changed = []
        for extension, name in self.touched:
            if name == MEMBERS and extension is None:
                if membership_changed:
                    changed.append(MEMBERS)
            elif self._value(self.resource.data, extension, name) != \
                    self._value(self.data, extension, name):
                changed.append(name if extension is None else f"{extension}:{name}")
        return PatchResult(self.data, add_members, remove_members, replace_members, tuple(changed))

    def _check_required(self) -> None:
        """RFC 7644 §3.5.2.2: a required attribute may not become unassigned (mutability)."""
        for urn in self.rt.schema_ids:
            extension = None if urn == self.rt.schema else urn
            for attr in self.catalog.attributes(self.rt, urn):
                if not attr.required or self._value(self.resource.data, extension, attr.name) is None:
                    continue
                new = self._value(self.data, extension, attr.name)
                if new is None:
                    raise Mutability(f"Attribute '{attr.name}' is required and cannot be removed.")
                if new == "":
                    raise InvalidValue(f"Attribute '{attr.name}' is required and must not be empty.")

    def _check_bounds(self) -> None:
        """Appends can grow a multi-valued attribute past SCIM_MAX_MULTI_VALUES: check the result."""
        for extension, name in self.touched:
            attr = self.catalog.top_level(self.rt, extension or self.rt.schema, name)
            if attr is None or not attr.multi_valued or (extension is None and name == MEMBERS):
                continue
            values = self._value(self.data, extension, name)
            if isinstance(values, list) and len(values) > self.rules.max_multi_values:
                label = name if extension is None else f"{extension}:{name}"
                raise too_many_values(label, len(values), self.rules)

    @staticmethod
    def _value(data: dict, extension: str | None, name: str) -> object:
        container = data if extension is None else data.get(extension) or {}
        return container.get(name)


def _hashed_password(attr: Attribute, value: object, label: str, rules: ValueRules) -> str | None:
    """Check the clear text like any string, then keep only its hash (writeOnly)."""
    plain = coerce_attribute_value(attr, value, path=label, rules=rules)
    if plain == "":
        raise InvalidValue(f"Attribute '{label}' must not be empty.")
    return None if plain is None else hash_password(str(plain))


def _label(path: PatchPath, rt: ResourceType) -> str:
    """The path as the client would recognise it in an error detail."""
    name = path.path.attribute
    if path.filter is not None:
        name += "[...]"
    if path.path.sub_attribute is not None:
        name += f".{path.path.sub_attribute}"
    return name if path.path.schema == rt.schema else f"{path.path.schema}:{name}"
