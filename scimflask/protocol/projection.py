"""Which attributes a response carries: `attributes`, `excludedAttributes` and `returned`.

RFC 7644 §3.4.2.5 / §3.9 with RFC 7643 §2.4 and §7:
- `returned: always` (e.g. `id`) is in every response, whatever the parameters say; `schemas`
  is always there too;
- `returned: never` (e.g. `password`) is in none;
- `returned: request` only when named in `attributes`;
- `returned: default` unless `attributes` is given without naming it, or it is excluded.
The same rules apply one level down to sub-attributes (`name.givenName`, `emails.value`).
Names are parsed with the attribute notation of RFC 7644 §3.10, case-insensitively, with or
without a schema URN prefix; a bare schema URN stands for every attribute of that schema.
RFC 7644 does not say what an unknown name means; it is ignored, so a client asking for an
attribute this server lacks still gets an answer. An `attributes` list left empty that way
(or given empty) is treated as absent.
"""

from __future__ import annotations

from ..filter.ast import AttrPath
from ..schema.catalog import ALWAYS, COMPLEX, NEVER, REQUEST, Attribute, Catalog, ResourceType
from ..schema.validate import current_resource_type, schemas_for

SCHEMAS_KEY = "schemas"
_WHOLE = None  # a selection of a whole attribute, as opposed to a set of sub-attribute names

# (schema URN lower-cased, attribute name) -> None for the whole attribute, or sub-attribute names
_Selection = dict[tuple[str, str], "frozenset[str] | None"]


def parse_attribute_list(text: str | None, catalog: Catalog,
                         resource_type: ResourceType | str) -> list[AttrPath]:
    """Bound paths of a comma-separated `attributes` / `excludedAttributes` value."""
    if not text:
        return []
    rt = current_resource_type(catalog, resource_type)
    urns = {urn.lower(): urn for urn in rt.schema_ids}
    paths: list[AttrPath] = []
    for name in (part.strip() for part in text.split(",")):
        if not name:
            continue
        if name.lower() in urns:
            urn = urns[name.lower()]
            found = [AttrPath(urn, attr.name) for attr in catalog.attributes(rt, urn)]
        else:
            ref = catalog.resolve(rt, name)
            if ref is None:
                continue
            sub = ref.sub_attribute.name if ref.sub_attribute else None
            found = [AttrPath(ref.schema, ref.attribute.name, sub)]
        paths.extend(path for path in found if path not in paths)
    return paths


def _selection(paths: list[AttrPath] | None) -> _Selection:
    selection: _Selection = {}
    for path in paths or ():
        key = (path.schema.lower(), path.attribute)
        if path.sub_attribute is None or (key in selection and selection[key] is _WHOLE):
            selection[key] = _WHOLE
        else:
            selection[key] = (selection.get(key) or frozenset()) | {path.sub_attribute}
    return selection


class _Rules:
    """The parsed parameters, answering "is this (sub-)attribute shown?"."""

    def __init__(self, attributes: list[AttrPath] | None, excluded: list[AttrPath] | None) -> None:
        self.selected = _selection(attributes)
        self.excluded = _selection(excluded)

    def shows(self, urn: str, attr: Attribute) -> bool:
        if attr.returned in (ALWAYS, NEVER):
            return attr.returned == ALWAYS
        key = (urn.lower(), attr.name)
        shown = key in self.selected if self.selected else attr.returned != REQUEST
        return shown and not (key in self.excluded and self.excluded[key] is _WHOLE)

    def shows_sub(self, urn: str, attr: Attribute, sub: Attribute | None) -> bool:
        """`sub` None is a key the catalog does not define: shown unless sub-attributes are picked."""
        key = (urn.lower(), attr.name)
        chosen = self.selected.get(key)
        if sub is None:
            return chosen is _WHOLE
        if sub.returned in (ALWAYS, NEVER):
            return sub.returned == ALWAYS
        if attr.returned == ALWAYS:
            return sub.returned != REQUEST
        shown = sub.name in chosen if chosen is not _WHOLE else sub.returned != REQUEST
        dropped = self.excluded.get(key)
        return shown and not (dropped and sub.name in dropped)


def _project_complex(rules: _Rules, urn: str, attr: Attribute, value: dict) -> dict:
    return {name: sub_value for name, sub_value in value.items()
            if rules.shows_sub(urn, attr, attr.sub_attribute(name))}


def _project_value(rules: _Rules, urn: str, attr: Attribute, value: object) -> object:
    """The shown part of one attribute's value, or None when nothing of it is shown."""
    if attr.type != COMPLEX:
        return value
    if isinstance(value, list):
        elements = [_project_complex(rules, urn, attr, e) if isinstance(e, dict) else e for e in value]
        return [e for e in elements if e != {}] or None
    if isinstance(value, dict):
        return _project_complex(rules, urn, attr, value) or None
    return value


def _project_schema(rules: _Rules, catalog: Catalog, rt: ResourceType, urn: str, values: dict) -> dict:
    out = {}
    for name, value in values.items():
        attr = catalog.top_level(rt, urn, name)
        if attr is None:
            if not rules.selected:
                out[name] = value  # not in the catalog: no rule hides it by default
            continue
        if rules.shows(urn, attr):
            shown = _project_value(rules, urn, attr, value)
            if shown is not None:
                out[name] = shown
    return out


def project(document: dict, catalog: Catalog, resource_type: ResourceType | str, *,
            attributes: list[AttrPath] | None = None,
            excluded: list[AttrPath] | None = None) -> dict:
    """The response body for `document` (from `Resource.document`), `schemas` added."""
    rt = current_resource_type(catalog, resource_type)
    rules = _Rules(attributes, excluded)
    extensions = {urn.lower(): urn for urn, _ in rt.extensions}
    core: dict = {}
    shown_extensions: dict = {}
    for name, value in document.items():
        urn = extensions.get(name.lower())
        if name == SCHEMAS_KEY:
            continue  # recomputed below
        if urn is None:
            core[name] = value
        elif isinstance(value, dict):
            shown = _project_schema(rules, catalog, rt, urn, value)
            if shown:
                shown_extensions[urn] = shown
    return {SCHEMAS_KEY: schemas_for(document, rt),
            **_project_schema(rules, catalog, rt, rt.schema, core), **shown_extensions}


def _shown(catalog: Catalog, rt: ResourceType, rules: _Rules, name: str) -> bool:
    attr = catalog.top_level(rt, rt.schema, name)
    return attr is not None and rules.shows(rt.schema, attr)


def loads(catalog: Catalog, resource_type: ResourceType | str, *,
          attributes: list[AttrPath] | None, excluded: list[AttrPath] | None) -> tuple[bool, bool]:
    """(Group `members` shown, User `groups` shown): what the storage must load."""
    rt = current_resource_type(catalog, resource_type)
    rules = _Rules(attributes, excluded)
    return _shown(catalog, rt, rules, "members"), _shown(catalog, rt, rules, "groups")
