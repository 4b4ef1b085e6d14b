"""The PATCH engine (RFC 7644 §3.5.2): request body -> operations -> new resource state.

Pure functions, independent of storage and HTTP:

- `parse_patch_request` checks the PatchOp message and binds every path against the catalog.
  Path-less `add`/`replace` values are split into one operation per key, and keys may
  themselves be paths (`"name.givenName"`, `"urn:...:enterprise:2.0:User:employeeNumber"`),
  which is what Entra ID sends.
- `apply_patch` applies the operations in order to a copy of a resource, all or nothing, and
  returns the new attribute document plus Group membership *deltas*, so that adding one member
  to a 100k-member group never loads or rewrites the other 99,999.

Tolerated on purpose (each is sent by a real client): `op` and message keys in any case
(Entra: `"Replace"`); `schemas` and `meta` inside a path-less value (clients echo them);
`id` inside a path-less value when it is the resource's own id (Okta's group rename); and
operations on attributes of an extension schema nobody registered, which are ignored exactly
as POST ignores them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
from ..schema.coerce import coerce_attribute_value
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

__all__ = [
    "MembersRequired", "PatchOperation", "PatchResult", "apply_patch", "parse_patch_request",
]


@dataclass(frozen=True)
class PatchOperation:
    """One operation. `path` is None only for a path-less add/replace (value is an object)."""

    op: str
    path: PatchPath | None
    value: object = None


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
                        max_operations: int = 1000) -> list[PatchOperation]:
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
    operations: list[PatchOperation] = []
    for number, raw in enumerate(raw_operations, start=1):
        operations.extend(_parse_operation(raw, number, catalog, rt))
    return operations


def _parse_operation(raw: object, number: int, catalog: Catalog,
                     rt: ResourceType) -> list[PatchOperation]:
    if not isinstance(raw, dict):
        raise InvalidSyntax(f"Operation {number} must be an object.")
    op = _member(raw, "op")
    if not isinstance(op, str) or op.lower() not in OPERATIONS:
        raise InvalidSyntax(f"Operation {number}: 'op' must be 'add', 'replace' or 'remove'.")
    op = op.lower()
    path = _member(raw, "path")
    if path is not None and not isinstance(path, str):
        raise InvalidPath(f"Operation {number}: 'path' must be a string.")
    if path is not None and not path.strip():
        path = None
    value = _member(raw, "value")
    if op == REMOVE and path is None:
        raise NoTarget(f"Operation {number}: 'remove' needs a 'path'.")
    if op != REMOVE and not any(k.lower() == "value" for k in raw):
        raise InvalidSyntax(f"Operation {number}: '{op}' needs a 'value'.")
    if path is None:
        return _split_pathless(op, value, catalog, rt)
    return _operations_for_path(op, path.strip(), value, catalog, rt)


def _member(obj: dict, name: str) -> object:
    """`obj[name]` with the key matched case-insensitively ("Operations", "operations")."""
    lowered = name.lower()
    for key, item in obj.items():
        if isinstance(key, str) and key.lower() == lowered:
            return item
    return None


def _split_pathless(op: str, value: object, catalog: Catalog,
                    rt: ResourceType) -> list[PatchOperation]:
    """RFC 7644 §3.5.2.1/3: without a path the value is a set of attributes; Entra's keys
    may be paths, and an extension URN key holds that extension's attributes."""
    if not isinstance(value, dict):
        raise InvalidValue(f"'{op}' without a 'path' needs an object of attributes as 'value'.")
    operations: list[PatchOperation] = []
    for key, item in value.items():
        if key.lower() in ("schemas", "meta"):
            continue
        urn = _schema_named(key, rt)
        if urn is None:
            operations.extend(_operations_for_path(op, key, item, catalog, rt))
            continue
        if not isinstance(item, dict):
            raise InvalidValue(f"'{key}' must be an object of that schema's attributes.")
        for name, sub_item in item.items():
            operations.extend(_operations_for_path(op, f"{urn}:{name}", sub_item, catalog, rt))
    return operations


def _operations_for_path(op: str, text: str, value: object, catalog: Catalog,
                         rt: ResourceType) -> list[PatchOperation]:
    if _names_unknown_schema(text, catalog):
        return []
    urn = _schema_named(text, rt)
    if urn is None:
        return [PatchOperation(op, _bind_path(text, catalog, rt), value)]
    if op != REMOVE:
        return _split_pathless(op, {urn: value}, catalog, rt)
    if urn == rt.schema:
        raise InvalidPath(f"'{text}': the core schema cannot be removed.")
    return [
        PatchOperation(REMOVE, PatchPath(AttrPath(urn, attr.name), None))
        for attr in catalog.attributes(rt, urn) if attr.mutability != READ_ONLY
    ]


def _bind_path(text: str, catalog: Catalog, rt: ResourceType) -> PatchPath:
    """`parse_path`, plus extension attributes named without their URN when no core
    attribute has that name and exactly one extension does (Entra's documented
    `"path": "manager"`)."""
    try:
        return parse_path_cached(text, catalog, rt)
    except InvalidPath:
        if text.lower().startswith("urn:"):
            raise
        name = re.split(r"[.\[]", text, maxsplit=1)[0]
        owners = [urn for urn in rt.schema_ids[1:] if catalog.top_level(rt, urn, name)]
        if catalog.top_level(rt, rt.schema, name) is not None or len(owners) != 1:
            raise
        return parse_path(f"{owners[0]}:{text}", catalog, rt)


def _schema_named(text: str, rt: ResourceType) -> str | None:
    """The canonical schema id of `rt` that `text` is (case-insensitively), if any."""
    lowered = text.lower()
    return next((urn for urn in rt.schema_ids if urn.lower() == lowered), None)


def _names_unknown_schema(text: str, catalog: Catalog) -> bool:
    """A `urn:` path whose schema is registered nowhere: an extension this server lacks."""
    lowered = text.lower()
    if not lowered.startswith("urn:"):
        return False
    for schema in catalog.schemas:
        urn = schema.id.lower()
        if lowered == urn or lowered.startswith(urn + ":"):
            return False
    return True


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
    `resource.members` does not hold (load them and call again).
    """
    rt = _resource_type(catalog, resource_type)
    engine = _Engine(resource, catalog, rt)
    for operation in operations:
        if operation.path is None:
            for split in _split_pathless(operation.op, operation.value, catalog, rt):
                engine.apply(split)
        else:
            engine.apply(operation)
    return engine.result()


class _Engine:
    """The working state of one `apply_patch` call."""

    def __init__(self, resource: Resource, catalog: Catalog, rt: ResourceType) -> None:
        self.resource = resource
        self.catalog = catalog
        self.rt = rt
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
        value = operation.value
        if (sub or attr).mutability == READ_ONLY or attr.mutability == READ_ONLY:
            if self._restates_id(operation.op, target, value):
                return
            raise Mutability(f"Attribute '{target.label}' is readOnly.")
        if attr.mutability == WRITE_ONLY and attr.name == "password" and operation.op != REMOVE:
            value = _hashed_password(attr, value, target.label)
        if attr.name == MEMBERS and target_path.schema == CORE_GROUP:
            self._apply_members(operation.op, target, value)
            self.touched[(None, MEMBERS)] = None
            return
        extension = target_path.schema if target_path.schema != self.rt.schema else None
        container = self.data if extension is None else self.data.setdefault(extension, {})
        apply_to_container(container, operation.op, target, value, self.matches)
        if extension is not None and not container:
            del self.data[extension]
        self.touched[(extension, attr.name)] = None

    def _restates_id(self, op: str, target: Target, value: object) -> bool:
        """Okta sends the group's own id inside a path-less replace; that changes nothing."""
        return target.attribute.name == "id" and op != REMOVE and value == self.resource.id

    def _apply_members(self, op: str, target: Target, value: object) -> None:
        """Delta forms need no member list; the rest work on the loaded one."""
        whole = target.filter is None and target.sub is None
        if whole and op == ADD:
            self.membership.add(members_from_value(target.attribute, value))
        elif whole and op == REPLACE:
            self.membership.replace(members_from_value(target.attribute, value))
        elif whole and value is None:
            self.membership.replace([])
        elif whole:
            self.membership.remove([m.value for m in members_from_value(target.attribute, value)])
        elif op == REMOVE and target.sub is None and target.filter is not None and (
                ids := member_ids_of_filter(target.filter)) is not None:
            self.membership.remove(ids)
        else:
            scratch = {MEMBERS: self.membership.elements()}
            apply_to_container(scratch, op, target, value, self.matches)
            self.membership.set_elements(scratch.get(MEMBERS, []))

    def result(self) -> PatchResult:
        self._check_required()
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
                if attr.required and self._value(self.resource.data, extension, attr.name) \
                        is not None and self._value(self.data, extension, attr.name) is None:
                    raise Mutability(f"Attribute '{attr.name}' is required and cannot be removed.")

    @staticmethod
    def _value(data: dict, extension: str | None, name: str) -> object:
        container = data if extension is None else data.get(extension) or {}
        return container.get(name)


def _hashed_password(attr: Attribute, value: object, label: str) -> str | None:
    """Check the clear text like any string, then keep only its hash (writeOnly)."""
    plain = coerce_attribute_value(attr, value, path=label)
    return None if plain is None else hash_password(str(plain))


def _label(path: PatchPath, rt: ResourceType) -> str:
    """The path as the client would recognise it in an error detail."""
    name = path.path.attribute
    if path.filter is not None:
        name += "[...]"
    if path.path.sub_attribute is not None:
        name += f".{path.path.sub_attribute}"
    return name if path.path.schema == rt.schema else f"{path.path.schema}:{name}"
