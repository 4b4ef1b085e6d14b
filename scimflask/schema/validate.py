"""Validate POST / PUT bodies with marshmallow schemas generated from the catalog.

One marshmallow Schema class is built per resource type from its attribute definitions, so
validation cannot drift from `/Schemas`. marshmallow supplies the structure (required fields,
unknown keys, nested extension objects, error collection); each attribute's value goes through
`coerce.coerce_attribute_value`, the same code PATCH uses. `_ResourceSchema.handle_error` is the
one place a `ValidationError` becomes a `ScimError`.

Rules (RFC 7643/7644, plus the tolerances of `tolerances.py` while `ValueRules` allows them):
- attribute names and extension URNs match case-insensitively (RFC 7643 §2.1);
- `schemas` must be a list of strings naming the core schema (RFC 7644 §3.3), else
  invalidSyntax; a URI of a schema the resource type lacks is invalidSyntax too, except under
  `foreign-schema-uri`. An extension object need not be listed in it: its key names its
  schema unambiguously, and RFC 7643 §3 does not make the server refuse a short list;
- readOnly attributes (`id`, `meta`, `groups`, ...) are ignored (RFC 7644 §3.5.1);
- an object keyed by an unregistered URN is ignored under `unregistered-extension-object`;
- an unknown attribute, core or in a registered extension, is 400 invalidValue unless the
  validator was built with `unknown="ignore"` (SCIM_UNKNOWN_ATTRIBUTES);
- null means absent; a required attribute missing or empty is 400 invalidValue.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Literal

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, post_load, pre_load

from ..errors import InvalidSyntax, InvalidValue, ScimError
from ..model import Member
from ..passwords import hash_password
from .catalog import READ_ONLY, WRITE_ONLY, Attribute, Catalog, ResourceType
from .coerce import DEFAULT_RULES, ValueRules, coerce_attribute_value
from .tolerances import FOREIGN_SCHEMA_URI, UNREGISTERED_EXTENSION_OBJECT

MODES = ("create", "replace")
UNKNOWN_POLICIES: dict[str, Literal["exclude", "include", "raise"]] = {"raise": RAISE, "ignore": EXCLUDE}
SCHEMAS_KEY = "schemas"
MEMBERS_KEY = "members"
PASSWORD_KEY = "password"
# Placeholder in messages whose attribute path marshmallow knows only by its error key.
_PATH = "{path}"


def _attribute_error_messages(path: str) -> dict:
    return {"required": f"Attribute '{path}' is required."}


class _AttributeField(fields.Field):
    """Any catalog attribute; the value work is `coerce_attribute_value`."""

    # Group members are bounded by their own limits, not by SCIM_MAX_MULTI_VALUES.
    bounded = True

    def __init__(self, attribute: Attribute, path: str, rules: ValueRules, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scim_attribute = attribute
        self.scim_path = path
        self.scim_rules = rules

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            coerced = coerce_attribute_value(self.scim_attribute, value, path=self.scim_path,
                                             rules=self.scim_rules, bounded=self.bounded)
        except InvalidValue as error:
            raise ValidationError(error.detail) from None
        if coerced in (None, "") and self.scim_attribute.required:
            raise ValidationError(f"Attribute '{self.scim_path}' is required and must not be empty.")
        return coerced


class _PasswordField(_AttributeField):
    """The cleartext password is hashed as soon as it is read; only the hash travels on."""

    def _deserialize(self, value, attr, data, **kwargs):
        plain = super()._deserialize(value, attr, data, **kwargs)
        if plain == "":
            raise ValidationError(f"Attribute '{self.scim_path}' must not be empty.")
        return None if plain is None else hash_password(plain)


class _MembersField(_AttributeField):
    """Group `members` as `Member` objects: value required, type canonicalised, $ref ignored."""

    bounded = False

    def _deserialize(self, value, attr, data, **kwargs) -> list[Member]:
        elements = super()._deserialize(value, attr, data, **kwargs) or []
        type_attr = self.scim_attribute.sub_attribute("type")
        allowed = {name.lower(): name for name in (type_attr.canonical_values if type_attr else ())}
        members = []
        for element in elements:
            if "value" not in element:
                raise ValidationError(f"Attribute '{self.scim_path}.value' is required for every member.")
            member_type = element.get("type")
            if member_type is not None:
                if member_type.lower() not in allowed:
                    raise ValidationError(
                        f"Attribute '{self.scim_path}.type' must be one of {', '.join(allowed.values())}."
                    )
                member_type = allowed[member_type.lower()]
            members.append(Member(element["value"], member_type, element.get("display")))
        return members


class _SchemasField(fields.Field):
    """The `schemas` list: strings naming the core schema, and (strictly) only the type's schemas."""

    def __init__(self, resource_type: ResourceType, rules: ValueRules, **kwargs) -> None:
        super().__init__(**kwargs)
        self.core_urn = resource_type.schema
        self.known = {urn.lower() for urn in resource_type.schema_ids}
        self.foreign_allowed = rules.allows(FOREIGN_SCHEMA_URI)

    def _deserialize(self, value, attr, data, **kwargs) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(urn, str) for urn in value):
            raise ValidationError("'schemas' must be a list of schema URN strings.")
        listed = {urn.lower() for urn in value}
        if self.core_urn.lower() not in listed:
            raise ValidationError(f"'schemas' must include '{self.core_urn}'.")
        foreign = [urn for urn in value if urn.lower() not in self.known]
        if foreign and not self.foreign_allowed:
            raise ValidationError(f"'schemas' lists '{foreign[0]}', which is not a schema of this "
                                  "resource type.")
        return value


class _ScimSchema(Schema):
    """Base of the generated schemas: canonical names in, cleared values out."""

    # lower-cased name -> canonical wire name, for every key the schema understands
    scim_names: ClassVar[dict[str, str]] = {}
    # field name -> wire name where they differ (marshmallow reads dots in field names as nesting,
    # and extension URNs contain dots)
    scim_renames: ClassVar[dict[str, str]] = {}
    # canonical names of readOnly attributes, dropped from input
    scim_read_only: ClassVar[frozenset[str]] = frozenset()
    # when set, objects keyed by a URN that is none of these schemas (nor under one) are
    # dropped (top level only, `unregistered-extension-object`)
    scim_own_urns: ClassVar[tuple[str, ...] | None] = None

    @pre_load
    def canonicalise(self, data, **kwargs):
        if not isinstance(data, dict):
            return data  # marshmallow reports the type error
        out: dict = {}
        for key, value in data.items():
            canonical = self.scim_names.get(key.lower())
            if value is None or canonical in self.scim_read_only:
                continue
            if canonical is None:
                if not self._foreign_extension(key, value):
                    out[key] = value  # left to the `unknown` policy
                continue
            if canonical in out:
                raise ValidationError(f"Attribute '{_PATH}' is given more than once.", canonical)
            out[canonical] = value
        return out

    def _foreign_extension(self, key: str, value: object) -> bool:
        """An object keyed by the URN of a schema the resource type does not have."""
        lowered = key.lower()
        return (self.scim_own_urns is not None and lowered.startswith("urn:") and isinstance(value, dict)
                and not any(lowered.startswith(urn + ":") for urn in self.scim_own_urns))

    @post_load
    def finish(self, data, **kwargs):
        """Wire names back on, cleared values (None, empty extension objects) dropped."""
        return {self.scim_renames.get(key, key): value for key, value in data.items()
                if value is not None and value != {}}


def _iter_messages(messages, path: str = "") -> Iterator[tuple[str, str]]:
    """(attribute path, message) pairs from a marshmallow `messages` tree."""
    if isinstance(messages, dict):
        for key, nested in messages.items():
            if key == "_schema":
                key_path = path
            elif isinstance(key, int):
                key_path = f"{path}[{key}]"
            else:
                key_path = f"{path}:{key}" if path else key
            yield from _iter_messages(nested, key_path)
    elif isinstance(messages, list):
        for message in messages:
            yield from _iter_messages(message, path)
    else:
        yield path, str(messages)


def scim_error_from(error: ValidationError) -> ScimError:
    """The ScimError for a failed body: invalidSyntax for its shape, invalidValue for attributes."""
    messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    pairs = sorted(_iter_messages(messages))
    detail = " ".join(message.replace(_PATH, path) for path, message in pairs)
    if SCHEMAS_KEY in messages or "_schema" in messages:
        return InvalidSyntax(detail)
    return InvalidValue(detail)


class _ResourceSchema(_ScimSchema):
    def handle_error(self, error: ValidationError, data, **kwargs) -> None:
        raise scim_error_from(error)


def _field(attribute: Attribute, path: str, rules: ValueRules,
           field_class: type[_AttributeField] = _AttributeField):
    return field_class(
        attribute, path, rules,
        required=attribute.required,
        dump_only=attribute.mutability == READ_ONLY,
        load_only=attribute.mutability == WRITE_ONLY,
        error_messages=_attribute_error_messages(path),
    )


def _field_class(attribute: Attribute, is_core: bool) -> type[_AttributeField]:
    if is_core and attribute.name == PASSWORD_KEY:
        return _PasswordField
    if is_core and attribute.name == MEMBERS_KEY:
        return _MembersField
    return _AttributeField


def _schema_class(name: str, base: type[_ScimSchema], declared: dict, read_only: set[str],
                  error_messages: dict, *, own_urns: tuple[str, ...] | None = None) -> type[_ScimSchema]:
    wire_names = {key: field.data_key or key for key, field in declared.items()}
    return type(name, (base,), {
        **declared,
        "scim_names": {wire.lower(): wire for wire in wire_names.values()},
        "scim_renames": {key: wire for key, wire in wire_names.items() if key != wire},
        "scim_read_only": frozenset(read_only),
        "scim_own_urns": own_urns,
        "error_messages": error_messages,
    })


def build_schema(catalog: Catalog, resource_type: ResourceType, *, unknown: str = "raise",
                 rules: ValueRules = DEFAULT_RULES) -> Schema:
    """A marshmallow Schema instance loading `resource_type` bodies (see the module docstring)."""
    policy = UNKNOWN_POLICIES[unknown]
    declared: dict = {SCHEMAS_KEY: _SchemasField(
        resource_type, rules, required=True,
        error_messages={"required": f"'schemas' is required and must include '{resource_type.schema}'."},
    )}
    read_only: set[str] = set()
    for attribute in catalog.attributes(resource_type, resource_type.schema):
        declared[attribute.name] = _field(attribute, attribute.name, rules, _field_class(attribute, True))
        if attribute.mutability == READ_ONLY:
            read_only.add(attribute.name)
    for index, (urn, required) in enumerate(resource_type.extensions):
        extension = catalog.schema_of(urn)
        ext_declared = {a.name: _field(a, f"{urn}:{a.name}", rules) for a in extension.attributes}
        ext_read_only = {a.name for a in extension.attributes if a.mutability == READ_ONLY}
        ext_class = _schema_class(
            f"{extension.name}Schema", _ScimSchema, ext_declared, ext_read_only,
            {"type": f"Extension '{extension.id}' must be a JSON object.",
             "unknown": f"Attribute '{_PATH}' is not defined in schema '{extension.id}'."},
        )
        declared[f"extension_{index}"] = fields.Nested(
            ext_class, data_key=extension.id, required=required, unknown=policy,
            error_messages={"required": f"Extension '{extension.id}' is required."},
        )
    resource_class = _schema_class(
        f"{resource_type.name}Schema", _ResourceSchema, declared, read_only,
        {"type": "The request body must be a JSON object.",
         "unknown": f"Attribute '{_PATH}' is not defined for resource type {resource_type.name}."},
        own_urns=(tuple(urn.lower() for urn in resource_type.schema_ids)
                  if rules.allows(UNREGISTERED_EXTENSION_OBJECT) else None),
    )
    return resource_class(unknown=policy)


def current_resource_type(catalog: Catalog, resource_type: ResourceType | str) -> ResourceType:
    """The catalog's own, current definition: a plugin may have added extensions to the
    module-level `USER_TYPE` / `GROUP_TYPE` since they were made."""
    return catalog.resource_type(resource_type if isinstance(resource_type, str) else resource_type.name)


class ResourceValidator:
    """Turns a POST / PUT body into (data, members) for the storage, or raises a ScimError.

    `rules` (tolerances and bounds) are the app's; PATCH reads values with the same ones.
    """

    def __init__(self, catalog: Catalog, resource_type: ResourceType | str, *,
                 unknown: str = "raise", rules: ValueRules = DEFAULT_RULES) -> None:
        if unknown not in UNKNOWN_POLICIES:
            raise ValueError(f"unknown must be one of {', '.join(UNKNOWN_POLICIES)}, not {unknown!r}")
        self.resource_type = current_resource_type(catalog, resource_type)
        self.rules = rules
        self._schema = build_schema(catalog, self.resource_type, unknown=unknown, rules=rules)
        self._has_members = catalog.has_members(self.resource_type)

    def load(self, body: dict, *, mode: str) -> tuple[dict, list[Member] | None]:
        """`data` with canonical names (no id/meta/schemas/groups/members) and the members.

        `mode` is "create" (POST) or "replace" (PUT); both apply the same rules here -- comparing
        immutable attributes with the stored resource on replace is the caller's job.
        `members` is None when the body has no `members` key (or it is null).
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        data = self._schema.load(body)
        data.pop(SCHEMAS_KEY, None)
        members = data.pop(MEMBERS_KEY, None) if self._has_members else None
        return data, members


def schemas_for(data: dict, resource_type: ResourceType) -> list[str]:
    """The `schemas` value of a resource: its core URN and each extension present in `data`."""
    return [resource_type.schema, *(urn for urn, _ in resource_type.extensions if urn in data)]
