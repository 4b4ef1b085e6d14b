"""SCIM schema definitions as data (RFC 7643 §2, §7).

Every piece of scimflask that needs to know about an attribute -- `/Schemas`, request
validation, filter binding, PATCH, projection and the storage backends -- reads it from the
`Catalog` built here, so the definitions cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

# Attribute types (RFC 7643 §2.3).
STRING = "string"
BOOLEAN = "boolean"
DECIMAL = "decimal"
INTEGER = "integer"
DATETIME = "dateTime"
BINARY = "binary"
REFERENCE = "reference"
COMPLEX = "complex"
TYPES = (STRING, BOOLEAN, DECIMAL, INTEGER, DATETIME, BINARY, REFERENCE, COMPLEX)

# Mutability (RFC 7643 §7).
READ_ONLY = "readOnly"
READ_WRITE = "readWrite"
IMMUTABLE = "immutable"
WRITE_ONLY = "writeOnly"

# Returned.
ALWAYS = "always"
NEVER = "never"
DEFAULT = "default"
REQUEST = "request"

# Uniqueness.
NONE = "none"
SERVER = "server"
GLOBAL = "global"

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@dataclass(frozen=True)
class Attribute:
    """One attribute definition (RFC 7643 §7 "attributes")."""

    name: str
    type: str = STRING
    multi_valued: bool = False
    description: str = ""
    required: bool = False
    case_exact: bool = False
    mutability: str = READ_WRITE
    returned: str = DEFAULT
    uniqueness: str = NONE
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()

    def sub_attribute(self, name: str) -> Attribute | None:
        """Case-insensitive lookup of a sub-attribute (RFC 7643 §2.1)."""
        return self._subs_by_name.get(name.lower())

    @cached_property
    def _subs_by_name(self) -> dict[str, Attribute]:
        # Looked up several times per attribute of every response: a dict, built once.
        return {sub.name.lower(): sub for sub in reversed(self.sub_attributes)}

    def to_dict(self) -> dict:
        """The `/Schemas` representation of this attribute."""
        out: dict = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
        }
        if self.type in (STRING, REFERENCE, BINARY):
            out["caseExact"] = self.case_exact
        if self.canonical_values:
            out["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            out["referenceTypes"] = list(self.reference_types)
        out["mutability"] = self.mutability
        out["returned"] = self.returned
        if self.type != COMPLEX:
            out["uniqueness"] = self.uniqueness
        if self.sub_attributes:
            out["subAttributes"] = [s.to_dict() for s in self.sub_attributes]
        return out


@dataclass(frozen=True)
class Schema:
    """A schema (core or extension): an id (URN) and its attributes."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]

    def attribute(self, name: str) -> Attribute | None:
        return self._by_name.get(name.lower())

    @cached_property
    def _by_name(self) -> dict[str, Attribute]:
        return {attr.name.lower(): attr for attr in reversed(self.attributes)}

    def to_dict(self, location: str | None = None) -> dict:
        out: dict[str, Any] = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [a.to_dict() for a in self.attributes],
            "meta": {"resourceType": "Schema"},
        }
        if location:
            out["meta"]["location"] = location
        return out


@dataclass(frozen=True)
class ResourceType:
    """A resource type (RFC 7643 §6): endpoint, core schema, extensions."""

    id: str
    name: str
    endpoint: str
    description: str
    schema: str
    extensions: tuple[tuple[str, bool], ...] = ()  # (schema URN, required)

    @property
    def schema_ids(self) -> tuple[str, ...]:
        return (self.schema, *(urn for urn, _ in self.extensions))

    def location(self, base_url: str, id: str) -> str:
        """The URL of one resource of this type: the endpoint it is served at, then its id."""
        return f"{base_url}/{self.endpoint.strip('/')}/{id}"

    def to_dict(self, location: str | None = None) -> dict:
        out: dict[str, Any] = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.id,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema,
            "meta": {"resourceType": "ResourceType"},
        }
        if self.extensions:
            out["schemaExtensions"] = [
                {"schema": urn, "required": required} for urn, required in self.extensions
            ]
        if location:
            out["meta"]["location"] = location
        return out


# Common attributes (RFC 7643 §3.1): part of every resource, not of any schema's
# `/Schemas` listing, but bound in filters and paths like core attributes.
COMMON_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        "id",
        description="Unique identifier for the resource, assigned by the service provider.",
        case_exact=True,
        mutability=READ_ONLY,
        returned=ALWAYS,
        uniqueness=SERVER,
    ),
    Attribute(
        "externalId",
        description="Identifier of the resource as defined by the provisioning client.",
        case_exact=True,
    ),
    Attribute(
        "meta",
        type=COMPLEX,
        description="Resource metadata.",
        mutability=READ_ONLY,
        sub_attributes=(
            Attribute("resourceType", case_exact=True, mutability=READ_ONLY),
            Attribute("created", type=DATETIME, mutability=READ_ONLY),
            Attribute("lastModified", type=DATETIME, mutability=READ_ONLY),
            Attribute("location", type=REFERENCE, case_exact=True, mutability=READ_ONLY,
                      reference_types=("uri",)),
            Attribute("version", case_exact=True, mutability=READ_ONLY),
        ),
    ),
)


@dataclass(frozen=True)
class AttributeRef:
    """A resolved attribute: which schema, which attribute, which sub-attribute.

    `schema` is the URN the attribute is defined in (common attributes resolve to the resource
    type's core schema). Names carry their canonical (definition) spelling.
    """

    schema: str
    attribute: Attribute
    sub_attribute: Attribute | None = None

    @property
    def definition(self) -> Attribute:
        return self.sub_attribute or self.attribute


class Catalog:
    """All schemas and resource types one Scim instance serves.

    Built once in `init_app` from the built-in definitions plus whatever plugins register
    through `scimflask_register_schemas`; read-only afterwards.
    """

    def __init__(self) -> None:
        self._schemas: dict[str, Schema] = {}
        self._resource_types: dict[str, ResourceType] = {}
        # Lookup tables derived from the definitions (see `derived`); emptied by every registration.
        self._derived: dict[Any, Any] = {}

    # -- registration -------------------------------------------------------------------
    def add_schema(self, schema: Schema) -> None:
        key = schema.id.lower()
        if key in self._schemas:
            raise ValueError(f"schema {schema.id!r} is already registered")
        self._schemas[key] = schema
        self._derived.clear()

    def add_resource_type(self, resource_type: ResourceType) -> None:
        for urn in resource_type.schema_ids:
            if urn.lower() not in self._schemas:
                raise ValueError(f"resource type {resource_type.name!r} names unknown schema {urn!r}")
        key = resource_type.name.lower()
        if key in self._resource_types:
            raise ValueError(f"resource type {resource_type.name!r} is already registered")
        self._resource_types[key] = resource_type
        self._derived.clear()

    def add_extension(self, resource_type: str, schema: Schema, required: bool = False) -> None:
        """Register `schema` and attach it to an existing resource type as an extension."""
        if schema.id.lower() not in self._schemas:
            self.add_schema(schema)
        rt = self.resource_type(resource_type)
        updated = replace(rt, extensions=(*rt.extensions, (schema.id, required)))
        self._resource_types[rt.name.lower()] = updated
        self._derived.clear()

    # -- lookup -------------------------------------------------------------------------
    @property
    def schemas(self) -> Iterator[Schema]:
        return iter(self._schemas.values())

    @property
    def resource_types(self) -> Iterator[ResourceType]:
        return iter(self._resource_types.values())

    def schema(self, urn: str) -> Schema | None:
        return self._schemas.get(urn.lower())

    def schema_of(self, urn: str) -> Schema:
        """A schema that must be registered (e.g. one a resource type names)."""
        try:
            return self._schemas[urn.lower()]
        except KeyError:
            raise KeyError(f"unknown schema {urn!r}") from None

    def resource_type(self, name: str) -> ResourceType:
        try:
            return self._resource_types[name.lower()]
        except KeyError:
            raise KeyError(f"unknown resource type {name!r}") from None

    def resource_type_by_endpoint(self, endpoint: str) -> ResourceType | None:
        lowered = endpoint.lower()
        for rt in self._resource_types.values():
            if rt.endpoint.lower() == lowered:
                return rt
        return None

    def attributes(self, resource_type: ResourceType, urn: str) -> tuple[Attribute, ...]:
        """Attributes of schema `urn`; the core schema also carries the common attributes."""
        schema = self._schemas[urn.lower()]
        if urn.lower() == resource_type.schema.lower():
            return COMMON_ATTRIBUTES + schema.attributes
        return schema.attributes

    def derived(self, key: Any, build: Callable[[], Any]) -> Any:
        """`build()`, computed once per `key` until the next registration.

        Every request resolves names and projection rules against the same definitions, so
        what is derived from them (lookup dicts, compiled projections) is kept here, where a
        registration can drop it.
        """
        try:
            return self._derived[key]
        except KeyError:
            value = self._derived[key] = build()
            return value

    def has_members(self, resource_type: ResourceType | str) -> bool:
        """Whether the type's core schema defines `members` (Groups do; Users do not)."""
        rt = self.resource_type(resource_type) if isinstance(resource_type, str) else resource_type
        return self.top_level(rt, rt.schema, "members") is not None

    def has_groups(self, resource_type: ResourceType | str) -> bool:
        """Whether the type's core schema defines the derived `groups` (Users do)."""
        rt = self.resource_type(resource_type) if isinstance(resource_type, str) else resource_type
        return self.top_level(rt, rt.schema, "groups") is not None

    def locator(self, base_url: str) -> Callable[[str, str], str]:
        """`locate(resource_type_name, id)`: the URL of a resource under `base_url`."""
        def locate(resource_type: str, id: str) -> str:
            return self.resource_type(resource_type).location(base_url, id)

        return locate

    def top_level(self, resource_type: ResourceType, urn: str, name: str) -> Attribute | None:
        names = self.derived(("top_level", resource_type.name.lower(), urn.lower()), lambda: {
            attr.name.lower(): attr for attr in reversed(self.attributes(resource_type, urn))})
        return names.get(name.lower())

    def resolve(self, resource_type: ResourceType, path: str) -> AttributeRef | None:
        """Resolve `[urn:]attr[.sub]` case-insensitively, or return None if unknown.

        The URN prefix, when present, is the longest registered schema id that `path` starts
        with followed by ':' (URNs themselves contain ':' and '.').
        """
        urn = resource_type.schema
        rest = path
        lowered = path.lower()
        for candidate in sorted(resource_type.schema_ids, key=len, reverse=True):
            if lowered.startswith(candidate.lower() + ":"):
                urn, rest = candidate, path[len(candidate) + 1:]
                break
        name, _, sub = rest.partition(".")
        attr = self.top_level(resource_type, urn, name)
        if attr is None:
            return None
        if not sub:
            return AttributeRef(urn, attr)
        sub_attr = attr.sub_attribute(sub)
        if sub_attr is None or "." in sub:
            return None
        return AttributeRef(urn, attr, sub_attr)

    def is_extension(self, resource_type: ResourceType, urn: str) -> bool:
        return urn.lower() != resource_type.schema.lower()


def iter_attributes(attributes: Iterable[Attribute]) -> Iterator[tuple[Attribute, Attribute | None]]:
    """Yield (attribute, None) and (attribute, sub_attribute) pairs, depth first."""
    for attr in attributes:
        yield attr, None
        for sub in attr.sub_attributes:
            yield attr, sub

